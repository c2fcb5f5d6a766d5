'use strict'
// A mixed deployment: one API served at once by xnonce-server (`[replay] store = "redis"`), a
// Python WSGI app (RedisReplayStore), a Python ASGI app (AsyncRedisReplayStore) and a Node app
// (redisReplayStore), with one client registry and one Redis, a real redis-server on
// 127.0.0.1. A request accepted by any one of them must be a replay (409) at every other: they
// only see each other's requests if every language writes the same key for it (core's
// SharedKeys). The Python apps run from bindings-python's venv (bindings-python/test.sh makes
// it; scripts/test.sh runs that part before this one), or XNONCE_PYTHON; without either the
// test is skipped, saying why.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const http = require('node:http')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')
const { spawn } = require('node:child_process')
const { createClient } = require('redis')
const x = require('..')
const { listen } = require('./peers.js')
const { startServer } = require('./server.js')
const { ROOT } = require('./vectors.js')

const TARGET = '/admin/status' // a demo route without params, which every app here serves
const HOST = 'api.test' // the API's name, whichever app answers

/** The Python with the `xnonce` package installed, or null when there is none. */
function pythonBinary() {
  if (process.env.XNONCE_PYTHON) return process.env.XNONCE_PYTHON
  const venv = path.join(ROOT, 'bindings-python', '.venv', 'bin', 'python')
  return fs.existsSync(venv) ? venv : null
}

/** A loopback port free when asked (redis-server takes no port 0 for TCP). */
async function freePort() {
  const probe = net.createServer()
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address()
  await new Promise((resolve) => probe.close(resolve))
  return port
}

/** A redis-server of this test's own on 127.0.0.1 (a fresh port, never 6379), without
 * persistence, and a node-redis client of it: { port, client, stop }. */
async function startRedis() {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xnonce-redis-'))
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
    const server = spawn('redis-server', args, { stdio: 'ignore', cwd: dir })
    const stop = async () => {
      if (server.exitCode === null && server.signalCode === null) {
        const exited = new Promise((r) => server.once('exit', r))
        server.kill('SIGTERM')
        await exited
      }
      fs.rmSync(dir, { recursive: true, force: true })
    }
    const deadline = Date.now() + 10_000
    while (server.exitCode === null && Date.now() < deadline) {
      const client = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false } })
      client.on('error', () => {})
      try {
        await client.connect()
        return { port, client, stop }
      } catch {
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    await stop()
    // Another process took the port between the probe and redis-server: another one.
    if (attempt === 2) throw new Error('redis-server did not start on 127.0.0.1 within 10 s')
  }
}

/** One of the Python apps (`wsgi` or `asgi`) of test/mixed-python-app.py: { url, stop }. */
async function startPythonApp(python, kind, redisPort, client, secret) {
  const script = path.join(__dirname, 'mixed-python-app.py')
  const env = { ...process.env, XNONCE_MIXED_CLIENT: client, XNONCE_MIXED_SECRET: secret }
  const child = spawn(python, [script, kind, String(redisPort)], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await exited
    }
  }
  try {
    const url = await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`python ${kind} app: no start in 20 s: ${stderr}`)),
        20_000,
      )
      child.once('exit', (code) => reject(new Error(`python ${kind} app exited with ${code}: ${stderr}`)))
      readline.createInterface({ input: child.stdout }).once('line', (line) => {
        clearTimeout(timer)
        const m = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line)
        if (m) resolve(m[1])
        else reject(new Error(`python ${kind} app: unexpected first line: ${line}`))
      })
    })
    return { url, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

/** GET `target` from `url` with `Host: api.test` (and `xNonce` when given): { status, body }. */
function get(url, target, xNonce) {
  const headers = { host: HOST }
  if (xNonce !== undefined) headers['x-nonce'] = xNonce
  return new Promise((resolve, reject) => {
    const req = http.request(url + target, { headers, agent: false, timeout: 10_000 }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }))
    })
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 10 s`)))
    req.on('error', reject)
    req.end()
  })
}

/** A fresh signed GET of TARGET for HOST, as `form` (`v1 header`, `v2 ottoken`, ...): the
 * target to send, the X-Nonce header (none for an ottoken), and a v2 request's replay key. */
function credential(form, client, secret) {
  const [scheme, carrier] = form.split(' ')
  const d = x.linkDetailed(scheme, 'GET', TARGET, [], client, secret, `http://${HOST}`)
  // v2's replay key; v1's (`v1:<client>:<mac>`) is not checked by name.
  const replayKey = scheme === 'v2' ? `v2:${client}:${x.parseHeader(d.xNonce).nonce}` : null
  if (carrier === 'header') return { target: TARGET, xNonce: d.xNonce, replayKey, scheme }
  const sent = new URL(d.url)
  assert.ok(sent.searchParams.has('ottoken'), d.url)
  return { target: sent.pathname + sent.search, xNonce: undefined, replayKey, scheme }
}

test(
  'xnonce-server, Python (WSGI, ASGI) and Node apps sharing one Redis accept each request once',
  { timeout: 90_000 },
  async (t) => {
    const python = pythonBinary()
    if (python === null) {
      t.skip('no Python with xnonce: run bindings-python/test.sh first, or set XNONCE_PYTHON')
      return
    }
    const cleanups = []
    try {
      const redis = await startRedis()
      cleanups.push(
        () => redis.stop(),
        () => redis.client.close(),
      )
      const config = `[replay]\nstore = "redis"\nredis_url = "redis://127.0.0.1:${redis.port}/0"\n`
      const server = await startServer('mixed_client', { config })
      cleanups.push(() => server.stop())
      const { client, secret } = server
      const apps = [{ name: 'xnonce-server', url: server.url }]
      for (const kind of ['wsgi', 'asgi']) {
        const app = await startPythonApp(python, kind, redis.port, client, secret)
        cleanups.push(() => app.stop())
        apps.push({ name: `python ${kind}`, url: app.url })
      }
      const store = x.redisReplayStore(redis.client)
      const node = await listen(
        x.middleware(new x.Verifier({ [client]: secret }), {
          store,
          then: (req, res) => res.end(req.xnonce.client),
        }),
      )
      cleanups.push(() => node.close())
      apps.push({ name: 'node', url: node.url })

      const forms = ['v2 header', 'v1 header', 'v2 ottoken', 'v1 ottoken']
      const keys = []
      for (const first of apps) {
        for (const form of forms) {
          const c = credential(form, client, secret)
          if (c.replayKey !== null) keys.push(store.key(c.replayKey))
          const accepted = await get(first.url, c.target, c.xNonce)
          assert.equal(accepted.status, 200, `${form} at ${first.name}: ${accepted.body}`)
          for (const other of apps) {
            const copy = await get(other.url, c.target, c.xNonce)
            const what = `${form} accepted by ${first.name}, then at ${other.name}: ${copy.body}`
            assert.equal(copy.status, 409, what)
            if (c.scheme === 'v2') assert.equal(JSON.parse(copy.body).code, 'replayed', what)
            else assert.equal(copy.body, 'ottoken already used', what)
          }
        }
      }
      // One key per request (v2's each the one SharedKeys names), and one epoch marker: every
      // app wrote (and read) the same names.
      const written = await redis.client.keys('xnonce:replay:*')
      assert.equal(written.length, apps.length * forms.length + 1, written.join(' '))
      assert.ok(written.includes('xnonce:replay:epoch'))
      for (const key of keys) {
        assert.ok(written.includes(key), `${key} missing from ${written.join(' ')}`)
      }

      // The control: an app with another key prefix does not see those keys, so it accepts a
      // request the others took (what every app above would do had its keys differed).
      const elsewhere = await listen(
        x.middleware(new x.Verifier({ [client]: secret }), {
          store: x.redisReplayStore(redis.client, { prefix: 'elsewhere:' }),
          then: (req, res) => res.end('elsewhere'),
        }),
      )
      cleanups.push(() => elsewhere.close())
      const c = credential('v2 header', client, secret)
      assert.equal((await get(server.url, c.target, c.xNonce)).status, 200)
      assert.equal((await get(elsewhere.url, c.target, c.xNonce)).status, 200)
    } finally {
      for (const cleanup of cleanups.reverse()) await cleanup()
    }
  },
)
