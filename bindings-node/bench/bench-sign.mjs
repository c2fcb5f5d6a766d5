// Signing throughput: the native binding's `sign` against the plain-JS reference signer
// (conformance/independent/xnonce_spec.mjs, node:crypto) in the same process and run.
//
//   node bench/bench-sign.mjs            # ~1 s per case and implementation, 3 rounds
//   BENCH_MS=300 node bench/bench-sign.mjs
//
// Build the addon in release mode first (`npm run build:release`); a debug addon is slow.

import { createRequire } from 'node:module'
import { performance } from 'node:perf_hooks'
import * as spec from '../../conformance/independent/xnonce_spec.mjs'

const xnonce = createRequire(import.meta.url)('../index.js')

const SECRET = '20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd'
const T = 1700000000000
const NONCE = '00112233445566778899aabbccddeeff'
const HOST = 'api.example.com'
const PARAMS = [
  ['username', 'phil'],
  ['password', 'hello phil'],
  ['opt1', 'this'],
]
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

const BENCH_MS = Number(process.env.BENCH_MS ?? 1000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)

/** Calls per second of `fn` over about BENCH_MS. */
function rate(fn) {
  let sink = 0
  let n = 0
  const start = performance.now()
  let now = start
  while (now - start < BENCH_MS) {
    for (let i = 0; i < 256; i++) sink += fn().length
    n += 256
    now = performance.now()
  }
  if (sink === 0) throw new Error('nothing signed')
  return (n * 1000) / (now - start)
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

// Both implementations must agree before their speed means anything.
for (const c of CASES.slice(0, 4)) {
  if (c.native() !== c.js()) throw new Error(`${c.name}: binding and reference disagree`)
}

console.log(`node ${process.version}, ${ROUNDS} rounds x ${BENCH_MS} ms per case and implementation (median)`)
console.log('| case | binding (ops/s) | plain JS (ops/s) | binding / JS |')
console.log('| --- | ---: | ---: | ---: |')
const ratios = []
for (const c of CASES) {
  rate(c.native) // warm-up
  rate(c.js)
  const native = []
  const js = []
  for (let r = 0; r < ROUNDS; r++) {
    native.push(rate(c.native))
    js.push(rate(c.js))
  }
  const ratio = median(native) / median(js)
  ratios.push(ratio)
  const fmt = (x) => Math.round(x).toLocaleString('en-US')
  console.log(`| ${c.name} | ${fmt(median(native))} | ${fmt(median(js))} | ${ratio.toFixed(2)}x |`)
}
console.log(
  `geometric mean speed-up: ${Math.exp(ratios.reduce((a, r) => a + Math.log(r), 0) / ratios.length).toFixed(2)}x`,
)
