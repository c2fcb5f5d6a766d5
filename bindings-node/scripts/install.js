'use strict'
// `npm install ./bindings-node` runs this: it builds the native addon (xnonce.node) from the
// Rust sources with a pinned @napi-rs/cli. A user's install does not get this package's
// devDependencies, so the CLI comes from `npx --yes` unless a local copy is installed.
// XNONCE_NODE_PROFILE=debug (or --debug) builds the faster-to-compile debug profile; default:
// release. `npm run build` (debug) and `npm run build:release` call this script too.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const NAPI_CLI = '@napi-rs/cli@3.10.12'
const root = path.resolve(__dirname, '..')
const local = path.join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'napi.cmd' : 'napi')
const release = process.env.XNONCE_NODE_PROFILE !== 'debug' && !process.argv.includes('--debug')
const buildArgs = ['build', ...(release ? ['--release'] : []), '--dts', 'native.d.ts']
const useLocal = fs.existsSync(local)
const [command, args] = useLocal
  ? [local, buildArgs]
  : ['npx', ['--yes', '--package', NAPI_CLI, 'napi', ...buildArgs]]

console.error(`xnonce: building the native addon (${release ? 'release' : 'debug'}); this needs Rust (cargo)`)
const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' })
if (result.error) console.error(`xnonce: cannot run ${command}: ${result.error.message}`)
process.exit(result.status ?? 1)
