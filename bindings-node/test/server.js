'use strict'
// A real `xnonce-server serve --demo` subprocess on 127.0.0.1, for the live tests.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, execFileSync } = require('node:child_process')
const readline = require('node:readline')
const { ROOT } = require('./vectors.js')

/**
 * The workspace binary `name` (built by test.sh with `cargo build -p <name>`), or the one the
 * environment variable `env` names.
 */
function binary(name, env) {
  const target = process.env.CARGO_TARGET_DIR ?? path.join(ROOT, 'target')
  const bin = process.env[env] ?? path.join(target, 'debug', name)
  if (!fs.existsSync(bin)) {
    throw new Error(`${bin} is missing: run \`cargo build -p ${name}\` first`)
  }
  return bin
}

const serverBinary = () => binary('xnonce-server', 'XNONCE_SERVER_BIN')
/** The black-box server suite's binary. */
const conformanceBinary = () => binary('xnonce-conformance', 'XNONCE_CONFORMANCE_BIN')

/**
 * Starts `xnonce-server serve --demo` on a free loopback port with one registered client;
 * `config`, when given, is the text of its config file (`--config`), such as a `[replay]` table.
 * @returns {Promise<{ url: string, host: string, client: string, secret: string, stop: () => Promise<void> }>}
 */
async function startServer(client = 'node_client', { config } = {}) {
  const bin = serverBinary()
  // The data dir and, beside it, the registry key: never the user's ~/.config/xnonce key.
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'xnonce-node-'))
  const data = path.join(base, 'data')
  const registry = ['--data', data, '--key-file', path.join(base, 'registry.key')]
  const secret = execFileSync(bin, ['client', 'add', client, ...registry], { encoding: 'utf8' }).trim()
  const args = ['serve', '--demo', '--listen', '127.0.0.1:0', ...registry]
  if (config !== undefined) {
    fs.writeFileSync(path.join(base, 'config.toml'), config)
    args.push('--config', path.join(base, 'config.toml'))
  }
  const child = spawn(bin, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 20 s: ${stderr}`)), 20000)
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)))
    readline.createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer)
      const m = /^xnonce-server listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line)
      if (m) resolve(m[1])
      else reject(new Error(`unexpected first line: ${line}`))
    })
  })
  child.stdout.resume()
  return {
    url,
    host: new URL(url).host,
    client,
    secret,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r))
        child.kill('SIGTERM')
        await exited
      }
      fs.rmSync(base, { recursive: true, force: true })
    },
  }
}

module.exports = { startServer, conformanceBinary }
