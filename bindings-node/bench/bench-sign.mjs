// Signing throughput: the native binding's `sign` against the plain-JS reference signer
// (conformance/independent/xnonce_spec.mjs, node:crypto) in the same process and run.
//
//   node bench/bench-sign.mjs                  # ~3 s per case
//   BENCH_ROUNDS=5 BENCH_SLICE_MS=50 node bench/bench-sign.mjs   # quicker, noisier
//
// Build the addon in release mode first (`npm run build:release`); a debug addon is slow.

import { createRequire } from 'node:module'
import { performance } from 'node:perf_hooks'
import * as spec from '../../conformance/independent/xnonce_spec.mjs'

const require = createRequire(import.meta.url)
const xnonce = require('../index.js')
// The addon's general `sign` (every input a napi value), without index.js's packed fast path.
const general = require('../xnonce.node')

const SECRET = '20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd'
const T = 1700000000000
const NONCE = '00112233445566778899aabbccddeeff'
const HOST = 'api.example.com'
const PARAMS = [
  ['username', 'phil'],
  ['password', 'hello phil'],
  ['opt1', 'this'],
]
// The same params as an object: not packable, so sign.js takes the general path.
const PARAMS_OBJECT = Object.fromEntries(PARAMS)
const MANY = Array.from({ length: 20 }, (_, i) => [`key${i}`, `value ${i} with spaces & symbols/${i}`])
const BODY = Buffer.from(
  JSON.stringify({ items: Array.from({ length: 40 }, (_, i) => ({ id: i, name: `item ${i}` })) }),
)

const CASES = [
  {
    name: 'v1 GET, 3 params',
    native: () =>
      xnonce.sign('v1', 'GET', '/controller1/action1', PARAMS, 'test_client', SECRET, { timestamp: T }),
    js: () => spec.sign('v1', 'GET', '/controller1/action1', PARAMS, 'test_client', SECRET, T),
  },
  {
    name: 'v2 GET, 3 params',
    native: () =>
      xnonce.sign('v2', 'GET', '/controller1/action1', PARAMS, 'test_client', SECRET, {
        timestamp: T,
        nonce: NONCE,
        host: HOST,
      }),
    js: () => spec.sign('v2', 'GET', '/controller1/action1', PARAMS, 'test_client', SECRET, T, NONCE, HOST),
  },
  {
    name: 'v2 GET, 3 params, general path (no packing)',
    native: () =>
      general.sign('v2', 'GET', '/controller1/action1', PARAMS, 'test_client', SECRET, {
        timestamp: T,
        nonce: NONCE,
        host: HOST,
      }),
    js: () => spec.sign('v2', 'GET', '/controller1/action1', PARAMS, 'test_client', SECRET, T, NONCE, HOST),
  },
  {
    // sign.js: option keys checked in JS, then the addon's `signKeysChecked`.
    name: 'v2 GET, 3 params as an object (general path, keys checked in JS)',
    native: () =>
      xnonce.sign('v2', 'GET', '/controller1/action1', PARAMS_OBJECT, 'test_client', SECRET, {
        timestamp: T,
        nonce: NONCE,
        host: HOST,
      }),
    js: () => spec.sign('v2', 'GET', '/controller1/action1', PARAMS, 'test_client', SECRET, T, NONCE, HOST),
  },
  {
    // The same call as the addon's own `sign` takes it: the option keys read through napi.
    name: 'v2 GET, 3 params as an object (addon sign, keys read through napi)',
    native: () =>
      general.sign('v2', 'GET', '/controller1/action1', PARAMS_OBJECT, 'test_client', SECRET, {
        timestamp: T,
        nonce: NONCE,
        host: HOST,
      }),
    js: () => spec.sign('v2', 'GET', '/controller1/action1', PARAMS, 'test_client', SECRET, T, NONCE, HOST),
  },
  {
    name: 'v2 GET, 20 params',
    native: () =>
      xnonce.sign('v2', 'GET', '/controller1/action1', MANY, 'test_client', SECRET, {
        timestamp: T,
        nonce: NONCE,
        host: HOST,
      }),
    js: () => spec.sign('v2', 'GET', '/controller1/action1', MANY, 'test_client', SECRET, T, NONCE, HOST),
  },
  {
    name: `v2 POST, ${BODY.length} B JSON body`,
    native: () =>
      xnonce.sign('v2', 'POST', '/controller2/action1', PARAMS, 'test_client', SECRET, {
        timestamp: T,
        nonce: NONCE,
        host: HOST,
        body: BODY,
      }),
    js: () =>
      spec.sign('v2', 'POST', '/controller2/action1', PARAMS, 'test_client', SECRET, T, NONCE, HOST, BODY),
  },
  {
    name: 'v2 GET, 3 params, clock + random nonce',
    // The one case whose two headers differ (own clock and nonce): not compared below.
    random: true,
    native: () =>
      xnonce.sign('v2', 'GET', '/controller1/action1', PARAMS, 'test_client', SECRET, { host: HOST }),
    js: () =>
      spec.sign(
        'v2',
        'GET',
        '/controller1/action1',
        PARAMS,
        'test_client',
        SECRET,
        Date.now(),
        undefined,
        HOST,
      ),
  },
]

// The machine may be shared: each case alternates short slices of both implementations and
// counts calls per CPU-second of this process (process.cpuUsage), so that time spent
// descheduled does not count against whichever implementation happened to be running.
const SLICE_MS = Number(process.env.BENCH_SLICE_MS ?? 100)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15)

/** Calls per CPU-second of `fn` over one slice of about SLICE_MS wall time. */
function rate(fn) {
  let sink = 0
  let n = 0
  const cpu0 = process.cpuUsage()
  const start = performance.now()
  while (performance.now() - start < SLICE_MS) {
    for (let i = 0; i < 64; i++) sink += fn().length
    n += 64
  }
  const cpu = process.cpuUsage(cpu0)
  if (sink === 0) throw new Error('nothing signed')
  return (n * 1e6) / (cpu.user + cpu.system)
}

// The middle value, or the mean of the two middle values of an even count.
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

// Both implementations must agree before their speed means anything.
for (const c of CASES.filter((c) => !c.random)) {
  if (c.native() !== c.js()) throw new Error(`${c.name}: binding and reference disagree`)
}

console.log(
  `node ${process.version}; ${ROUNDS} alternating ${SLICE_MS} ms slices per implementation and case; ` +
    'calls per CPU-second (median), speed-up = median of per-round ratios',
)
console.log('| case | binding (calls/s) | plain JS (calls/s) | binding / JS |')
console.log('| --- | ---: | ---: | ---: |')
const ratios = []
const fmt = (x) => Math.round(x).toLocaleString('en-US')
for (const c of CASES) {
  rate(c.native) // warm-up
  rate(c.js)
  const native = []
  const js = []
  const perRound = []
  for (let r = 0; r < ROUNDS; r++) {
    const a = rate(c.native)
    const b = rate(c.js)
    native.push(a)
    js.push(b)
    perRound.push(a / b)
  }
  const ratio = median(perRound)
  ratios.push(ratio)
  console.log(`| ${c.name} | ${fmt(median(native))} | ${fmt(median(js))} | ${ratio.toFixed(2)}x |`)
}
const geo = Math.exp(ratios.reduce((a, r) => a + Math.log(r), 0) / ratios.length)
console.log(`geometric mean speed-up: ${geo.toFixed(2)}x`)
