'use strict'
// The middleware's `store`: accepted requests recorded where every process of an API sees
// them. Two middlewares with their own Verifiers (as two cluster workers have) share
// redisReplayStore over a real redis-server on a Unix socket (test.sh installs it), and a plain
// object store shows the contract: 409 for a copy, 503 when the store fails.

const test = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { createClient } = require('redis')
const x = require('..')
const { listen } = require('./peers.js')

const SECRET = '20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd'
const secrets = { billing: SECRET }

/**
 * A redis-server of this test's own, listening on a Unix socket in a fresh folder (no TCP
 * port, so none another process could take first), and a client connected to it:
 * { client, stop }.
 */
async function startRedis() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xnonce-redis-'))
  const socket = path.join(dir, 'redis.sock')
  const args = ['--port', '0', '--unixsocket', socket, '--save', '', '--appendonly', 'no']
  const server = spawn('redis-server', args, { stdio: 'ignore', cwd: dir })
  const client = createClient({ socket: { path: socket, reconnectStrategy: false } })
  const stop = async () => {
    if (client.isOpen) await client.quit().catch(() => client.destroy())
    server.kill()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      await client.connect()
      return { client, stop, socket }
    } catch (error) {
      if (server.exitCode !== null || Date.now() > deadline) {
        await stop()
        throw error
      }
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}

/** GET `target` from `peer` with `xNonce` and `Host: api.test` (the API's name, whichever
 * worker answers): { status, body }. */
function get(peer, target, xNonce) {
  const headers = { 'x-nonce': xNonce, host: 'api.test' }
  return new Promise((resolve, reject) => {
    const req = http.request(peer.url + target, { headers, agent: false }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** A worker: its own Verifier, the shared `store`, answering its verified client. */
function worker(store, options = {}) {
  return listen(
    x.middleware(new x.Verifier(secrets), {
      store,
      then: (req, res) => res.end(req.xnonce.client),
      ...options,
    }),
  )
}

test('two workers sharing redisReplayStore accept a request once', async () => {
  const { client, stop } = await startRedis()
  const workers = []
  try {
    const store = x.redisReplayStore(client)
    workers.push(await worker(store), await worker(store))
    const [a, b] = workers
    const signedAt = Date.now()
    const header = x.signRequest('v2', 'GET', '/reports/daily', 'billing', SECRET, { host: 'api.test' })
    const first = await get(a, '/reports/daily', header)
    assert.deepEqual([first.status, first.body], [200, 'billing'])
    // The same request at the other worker: a replay, refused from the shared store.
    const copy = await get(b, '/reports/daily', header)
    assert.deepEqual([copy.status, JSON.parse(copy.body).code], [409, 'replayed'])
    // The reference server's key, kept for the rest of the (default 30 s) window plus 1 s:
    // 31 s from the signing, less the time gone since then (measured, plus 5 ms of rounding).
    const replayKey = `v2:billing:${x.parseHeader(header).nonce}`
    const key = `xnonce:replay:{${replayKey}}`
    assert.equal(store.key(replayKey), key)
    assert.equal(await client.get(key), '1')
    const ttl = await client.pTTL(key)
    const elapsed = Date.now() - signedAt
    assert.ok(ttl > 31_000 - elapsed - 5 && ttl <= 31_000, `PTTL ${ttl}, ${elapsed} ms after signing`)
    // Without the shared store, the other worker would have accepted it again.
    const alone = await listen(x.middleware(new x.Verifier(secrets), { then: (req, res) => res.end('ok') }))
    workers.push(alone)
    assert.equal((await get(alone, '/reports/daily', header)).status, 200)
  } finally {
    for (const w of workers) await w.close()
    await stop()
  }
})

test('a store answers 409 for a copy and 503 when it fails, the failure to onError', async () => {
  const seen = new Set()
  const failures = []
  let down = false
  const store = {
    async insertIfAbsent(key, expiresAtMs, nowMs) {
      assert.ok(expiresAtMs > nowMs)
      if (down) throw new Error('redis://:hunter2@10.0.0.5 refused')
      if (seen.has(key)) return false
      seen.add(key)
      return true
    },
  }
  const peer = await worker(store, { onError: (error) => failures.push(error.message) })
  try {
    const header = x.signRequest('v2', 'GET', '/r', 'billing', SECRET, { host: 'api.test' })
    assert.equal((await get(peer, '/r', header)).status, 200)
    const copy = await get(peer, '/r', header)
    assert.deepEqual([copy.status, JSON.parse(copy.body).code], [409, 'replayed'])
    // v1's answer is em-secure-api's.
    const v1 = x.signRequest('v1', 'GET', '/r', 'billing', SECRET)
    assert.equal((await get(peer, '/r', v1)).status, 200)
    assert.deepEqual(await get(peer, '/r', v1), { status: 409, body: 'ottoken already used' })
    down = true
    const fresh = x.signRequest('v2', 'GET', '/r', 'billing', SECRET, { host: 'api.test' })
    const unavailable = await get(peer, '/r', fresh)
    assert.deepEqual([unavailable.status, JSON.parse(unavailable.body).code], [503, 'store_unavailable'])
    assert.ok(!unavailable.body.includes('hunter2') && !unavailable.body.includes('10.0.0.5'))
    assert.deepEqual(failures, ['redis://:hunter2@10.0.0.5 refused'])
  } finally {
    await peer.close()
  }
  assert.throws(() => x.middleware(new x.Verifier(secrets), { store: {} }), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => x.middleware(new x.Verifier(secrets), { store, once: false }), /needs "once"/)
  assert.throws(() => x.redisReplayStore(null), { code: 'ERR_INVALID_ARG_TYPE' })
})

/** A signed request to a worker with `store`, `onError` and other `options` is answered 503. */
async function assertUnavailable(store, onError, options = {}) {
  const peer = await worker(store, { onError, ...options })
  try {
    const header = x.signRequest('v2', 'GET', '/r', 'billing', SECRET, { host: 'api.test' })
    const res = await get(peer, '/r', header)
    assert.deepEqual([res.status, JSON.parse(res.body).code], [503, 'store_unavailable'])
  } finally {
    await peer.close()
  }
}

test('a store failure is answered before onError runs, and an onError that throws changes nothing', async () => {
  const store = { insertIfAbsent: async () => Promise.reject(new Error('down')) }
  const onError = () => {
    throw new Error('onError broke')
  }
  await assertUnavailable(store, onError)
})

test('a store that does not answer within storeTimeoutMs is a 503, not a hung request', async () => {
  const silent = { insertIfAbsent: () => new Promise(() => {}) }
  const failures = []
  await assertUnavailable(silent, (error) => failures.push(error.message), { storeTimeoutMs: 50 })
  assert.deepEqual(failures, ['the replay store did not answer within 50 ms'])
  const make = (storeTimeoutMs) => x.middleware(new x.Verifier(secrets), { store: silent, storeTimeoutMs })
  assert.throws(() => make(0), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' })
  assert.throws(() => make(1.5), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' })
  // setTimeout fires at once above 2^31 - 1 ms: every request would be refused.
  assert.throws(() => make(2 ** 31), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' })
  assert.throws(() => x.redisReplayStore({ set() {} }, { timeoutMs: 2 ** 31 }), { code: 'ERR_OUT_OF_RANGE' })
  make(2 ** 31 - 1)
  assert.throws(() => make('50'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
})

test('redisReplayStore: a Redis that does not answer in time is a 503, not a hung request', async () => {
  // What node-redis does while it reconnects: the command waits in its offline queue.
  const waiting = { set: () => new Promise(() => {}), get: () => new Promise(() => {}) }
  await assertUnavailable(x.redisReplayStore(waiting, { timeoutMs: 50 }), () => {})
  assert.throws(() => x.redisReplayStore(waiting, { timeoutMs: 0 }), { code: 'ERR_OUT_OF_RANGE' })
})

test('redisReplayStore sends NX and PX in the spellings of node-redis v4 and of v5 and later', async () => {
  // How each version turns SET's options into arguments (v4's transformArguments; v5's
  // parseCommand reads `expiration` / `condition` first and then ignores PX / NX).
  const v4 = (o) => [...(o?.PX !== undefined ? ['PX', String(o.PX)] : []), ...(o?.NX ? ['NX'] : [])]
  const v5 = (o) => [
    ...(o?.expiration
      ? [o.expiration.type, String(o.expiration.value)]
      : o?.PX !== undefined
        ? ['PX', String(o.PX)]
        : []),
    ...(o?.condition ? [o.condition] : o?.NX ? ['NX'] : []),
  ]
  for (const [version, args] of [
    ['v4', v4],
    ['v5', v5],
  ]) {
    const sent = []
    const held = new Set()
    const client = {
      async set(key, value, options) {
        const rest = args(options)
        sent.push(rest)
        if (rest.includes('NX') && held.has(key)) return null
        held.add(key)
        return 'OK'
      },
      async get() {
        return 'the epoch marker'
      },
    }
    const store = x.redisReplayStore(client)
    assert.equal(await store.insertIfAbsent('v2:c:abc', 31000, 1000), true, version)
    assert.equal(await store.insertIfAbsent('v2:c:abc', 31000, 1000), false, `${version}: a copy is refused`)
    assert.deepEqual(sent[0], ['PX', '31000', 'NX'], version)
  }
})

test("SharedKeys: the reference server's key names and expiries, a prefix checked", () => {
  // The values xnonce-server's RedisStore writes (server-ref/src/redis_store.rs).
  const keys = new x.SharedKeys('app:')
  assert.equal(keys.prefix, 'app:')
  assert.equal(keys.key('v2:c:abc'), 'app:{v2:c:abc}')
  assert.equal(keys.key('v2:c:a}b{'), 'app:{v2:c:a_b_}')
  assert.equal(keys.ttlMs(31_000, 1_000), 31_000)
  assert.equal(keys.ttlMs(1_000, 5_000), 1_000)
  assert.equal(new x.SharedKeys().key('v1:c:n'), 'xnonce:replay:{v1:c:n}')
  // The epoch marker and the fence after a loss of keys, for the default 30 s window.
  assert.deepEqual([keys.epochKey, new x.SharedKeys().epochKey], ['app:epoch', 'xnonce:replay:epoch'])
  assert.equal(require('../replay-store.js').DEFAULT_FENCE_MS, 2 * 30_000 + 1_000)
  assert.equal(
    x.redisReplayStore({ set() {}, get() {} }, { prefix: 'app:' }).key('v2:c:abc'),
    'app:{v2:c:abc}',
  )
  // The fence reads the epoch marker: a client without get needs it turned off.
  assert.throws(() => x.redisReplayStore({ set() {} }), { code: 'ERR_INVALID_ARG_TYPE', message: /with get/ })
  x.redisReplayStore({ set() {} }, { fenceAfterLossMs: 0 })
  assert.throws(() => x.redisReplayStore({ set() {}, get() {} }, { fenceAfterLossMs: -1 }), {
    code: 'ERR_OUT_OF_RANGE',
  })
  for (const wrong of ['60000', 60000n, true]) {
    assert.throws(() => x.redisReplayStore({ set() {}, get() {} }, { fenceAfterLossMs: wrong }), {
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_TYPE',
    })
  }
  assert.throws(() => keys.ttlMs(-1, 0), { name: 'InputError', code: 'invalid_timestamp' })
  // Exact or refused: a number holds integers exactly up to 2^53-1 only.
  const MAX = Number.MAX_SAFE_INTEGER
  assert.equal(keys.ttlMs(MAX - 1000, 0), MAX)
  assert.equal(keys.ttlMs(MAX, 1000), MAX)
  assert.equal(keys.ttlMs(2n ** 53n - 1n, 1000n), MAX)
  for (const [expires, now] of [
    [MAX, 0],
    [MAX - 999, 0],
    [2n ** 53n - 1n, 0n],
  ]) {
    assert.throws(() => keys.ttlMs(expires, now), {
      name: 'InputError',
      code: 'invalid_timestamp',
      message: /beyond 2\^53-1/,
    })
  }
  for (const make of [
    () => new x.SharedKeys('a{b'),
    () => x.redisReplayStore({ set() {} }, { prefix: '}' }),
  ]) {
    assert.throws(make, { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /hash tag/ })
  }
  assert.throws(() => x.redisReplayStore({ set() {} }, { prefix: 7 }), { name: 'TypeError' })
})

test('a request accepted before Redis restarted empty is not accepted again (the epoch fence)', async () => {
  // Redis restarted without persistence forgets the keys of requests still in their window:
  // a copy of each would be accepted once more. As the reference server does, the store
  // notices that the epoch marker `<prefix>epoch` changed and refuses every request for the fence.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xnonce-redis-'))
  const socket = path.join(dir, 'redis.sock')
  const args = ['--port', '0', '--unixsocket', socket, '--save', '', '--appendonly', 'no']
  let server
  const start = async () => {
    server = spawn('redis-server', args, { stdio: 'ignore', cwd: dir })
    const deadline = Date.now() + 10_000
    while (!fs.existsSync(socket)) {
      if (Date.now() > deadline) throw new Error('redis-server did not start within 10 s')
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  const stop = () =>
    new Promise((resolve) => {
      server.once('exit', resolve)
      server.kill()
    })
  await start()
  const client = createClient({ socket: { path: socket, reconnectStrategy: () => 50 } })
  client.on('error', () => {})
  try {
    await client.connect()
    const store = x.redisReplayStore(client)
    assert.equal(await store.insertIfAbsent('v2:c:n', Date.now() + 30_000, Date.now()), true)
    await stop()
    await start()
    const answers = []
    const deadline = Date.now() + 10_000
    while (answers.length < 2 && Date.now() < deadline) {
      try {
        answers.push(await store.insertIfAbsent('v2:c:n', Date.now() + 30_000, Date.now()))
      } catch (error) {
        if (/lost its replay keys/.test(error.message)) answers.push('fenced')
        else await new Promise((r) => setTimeout(r, 50)) // reconnecting
      }
    }
    assert.deepEqual(answers, ['fenced', 'fenced'])
    const marker = await client.get('xnonce:replay:epoch')
    assert.ok(marker !== null && (await client.pTTL('xnonce:replay:epoch')) === -1, 'a marker without expiry')
    // A FLUSHALL loses the keys too: noticed at the next request; the fence then ends.
    const short = x.redisReplayStore(client, { fenceAfterLossMs: 1500 })
    assert.equal(await short.insertIfAbsent('v2:c:m', Date.now() + 30_000, Date.now()), true)
    await client.flushAll()
    await assert.rejects(
      short.insertIfAbsent('v2:c:o', Date.now() + 30_000, Date.now()),
      /lost its replay keys/,
    )
    await assert.rejects(
      short.insertIfAbsent('v2:c:m', Date.now() + 30_000, Date.now()),
      /lost its replay keys/,
    )
    await new Promise((r) => setTimeout(r, 1600))
    assert.equal(await short.insertIfAbsent('v2:c:m', Date.now() + 30_000, Date.now()), true)
    assert.equal(await short.insertIfAbsent('v2:c:m', Date.now() + 30_000, Date.now()), false)
  } finally {
    if (client.isOpen) await client.quit().catch(() => client.destroy())
    await stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

/** The warnings `process` emits while `run` runs (and a tick after: they are emitted later). */
async function warningsOf(run) {
  const seen = []
  const record = (w) => seen.push(w)
  process.on('warning', record)
  try {
    await run()
    await new Promise((r) => setTimeout(r, 20))
  } finally {
    process.off('warning', record)
  }
  return seen
}

test("the middleware raises its store's fence to cover its verifier's windows, after a reconfigure too", async () => {
  // A store with a 1 s fence behind a verifier whose window is 10 s: a copy of a request
  // accepted just before Redis lost its keys would be fresh, and accepted again, once the
  // 1 s fence ended. The middleware raises it to two windows plus 1 s.
  const { client, stop } = await startRedis()
  const verifier = new x.Verifier(secrets, { windowMs: 10_000 })
  const store = x.redisReplayStore(client, { fenceAfterLossMs: 1000 })
  const peer = await listen(x.middleware(verifier, { store, then: (req, res) => res.end('ok') }))
  try {
    assert.equal(verifier.fenceAfterLossMs, 21_000)
    assert.equal(store.fenceMs, 21_000)
    const header = x.signRequest('v2', 'GET', '/r', 'billing', SECRET, { host: 'api.test' })
    assert.equal((await get(peer, '/r', header)).status, 200)
    await client.flushAll() // lost: noticed at the next request, which starts the fence
    assert.equal((await get(peer, '/r', header)).status, 503)
    await new Promise((r) => setTimeout(r, 1200)) // past the store's own 1 s fence
    const copy = await get(peer, '/r', header)
    assert.deepEqual([copy.status, JSON.parse(copy.body).code], [503, 'store_unavailable'])
    // A reconfigure that widens the window: raised again before the next record; one that
    // narrows it lowers nothing (keys of the wider window may still be in Redis).
    verifier.reconfigure({ windowMs: 120_000 })
    assert.equal(store.fenceMs, 21_000, 'told with the next request, not before')
    await get(peer, '/r', x.signRequest('v2', 'GET', '/r', 'billing', SECRET, { host: 'api.test' }))
    assert.equal(store.fenceMs, 241_000)
    verifier.reconfigure({ windowMs: 5_000 })
    await get(peer, '/r', x.signRequest('v2', 'GET', '/r', 'billing', SECRET, { host: 'api.test' }))
    assert.deepEqual([verifier.fenceAfterLossMs, store.fenceMs], [11_000, 241_000])
  } finally {
    await peer.close()
    await stop()
  }
  const none = x.redisReplayStore({ set() {} }, { fenceAfterLossMs: 0 })
  none.widenFence(241_000)
  assert.equal(none.fenceMs, null, 'a store without a fence keeps none')
  assert.throws(() => store.widenFence('241000'), { code: 'ERR_INVALID_ARG_TYPE' })
  for (const wrong of [0, -1, 1.5, NaN, Infinity]) {
    assert.throws(() => store.widenFence(wrong), { code: 'ERR_OUT_OF_RANGE' })
  }
})

test('any store with widenFence is told the fence; one that throws refuses the request 503', async () => {
  const told = []
  let throws = false
  const store = {
    insertIfAbsent: () => true,
    widenFence(ms) {
      if (throws) throw new Error('redis://:hunter2@10.0.0.5 cannot widen')
      told.push(ms)
    },
  }
  const verifier = new x.Verifier(secrets, { controllerWindows: { exports: 300_000 } })
  const failures = []
  const peer = await listen(
    x.middleware(verifier, {
      store,
      then: (req, res) => res.end('ok'),
      onError: (e) => failures.push(e.message),
    }),
  )
  try {
    assert.deepEqual(told, [601_000])
    const sign = () => x.signRequest('v2', 'GET', '/r', 'billing', SECRET, { host: 'api.test' })
    assert.equal((await get(peer, '/r', sign())).status, 200)
    assert.deepEqual(told, [601_000], 'told again only when the fence grew')
    verifier.reconfigure({ windowMs: 600_000 })
    throws = true
    const refused = await get(peer, '/r', sign())
    assert.deepEqual([refused.status, JSON.parse(refused.body).code], [503, 'store_unavailable'])
    assert.ok(!refused.body.includes('hunter2'))
    assert.deepEqual(failures, ['redis://:hunter2@10.0.0.5 cannot widen'])
    throws = false
    assert.equal((await get(peer, '/r', sign())).status, 200)
    assert.deepEqual(told, [601_000, 1_201_000])
  } finally {
    await peer.close()
  }
  // A store that cannot take the fence when the middleware is made: the middleware throws.
  const failing = {
    insertIfAbsent: () => true,
    widenFence: () => {
      throw new Error('no')
    },
  }
  assert.throws(() => x.middleware(new x.Verifier(secrets), { store: failing }), /^Error: no$/)
})

test('redisReplayStore warns once of a maxmemory-policy that may evict live replay keys', async () => {
  const { client, stop } = await startRedis()
  try {
    const at = () => [Date.now() + 30_000, Date.now()]
    // noeviction (Redis's default): nothing to say.
    const quiet = x.redisReplayStore(client)
    assert.deepEqual(await warningsOf(() => quiet.insertIfAbsent('v2:c:a', ...at())), [])
    await client.configSet('maxmemory-policy', 'allkeys-lru')
    const store = x.redisReplayStore(client)
    const first = await warningsOf(async () => {
      assert.equal(await store.insertIfAbsent('v2:c:b', ...at()), true)
    })
    assert.equal(first.length, 1, first.map(String).join('; '))
    assert.equal(first[0].code, 'XNONCE_REDIS_EVICTION')
    assert.match(first[0].message, /maxmemory-policy is 'allkeys-lru'.*noeviction/)
    // Read once per store, not once per request.
    const later = await warningsOf(async () => {
      assert.equal(await store.insertIfAbsent('v2:c:b', ...at()), false)
      assert.equal(await store.insertIfAbsent('v2:c:c', ...at()), true)
    })
    assert.deepEqual(later, [])
  } finally {
    await stop()
  }
})

test('redisReplayStore takes a Redis that refuses CONFIG without a warning or an error', async () => {
  // Managed Redis services often refuse CONFIG: the policy cannot be told.
  const { client, stop, socket } = await startRedis()
  const limited = createClient({
    socket: { path: socket, reconnectStrategy: false },
    username: 'app',
    password: 'app-pw',
  })
  try {
    await client.configSet('maxmemory-policy', 'allkeys-lru')
    await client.sendCommand(['ACL', 'SETUSER', 'app', 'on', '>app-pw', '~*', '+@all', '-config'])
    await limited.connect()
    await assert.rejects(limited.configGet('maxmemory-policy'), /NOPERM/)
    const store = x.redisReplayStore(limited)
    const seen = await warningsOf(async () => {
      assert.equal(await store.insertIfAbsent('v2:c:a', Date.now() + 30_000, Date.now()), true)
      assert.equal(await store.insertIfAbsent('v2:c:a', Date.now() + 30_000, Date.now()), false)
    })
    assert.deepEqual(seen, [])
  } finally {
    if (limited.isOpen) await limited.quit().catch(() => limited.destroy())
    await stop()
  }
})

/** A loopback port free when asked (redis-server takes no port 0 for TCP). */
async function freePort() {
  const probe = require('node:net').createServer()
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address()
  await new Promise((resolve) => probe.close(resolve))
  return port
}

/**
 * A redis-server on 127.0.0.1 and a replica of it (`--replicaof`; read-only, Redis's default,
 * unless `writable`), synced, each with a connected client; `run({ primary, replica,
 * replicaPort })`, then everything is stopped.
 */
async function withReplica(writable, run) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xnonce-redis-'))
  const servers = []
  const clients = []
  async function start(port, ...extra) {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
    const cwd = fs.mkdtempSync(path.join(dir, 'r-'))
    servers.push(spawn('redis-server', [...args, ...extra], { stdio: 'ignore', cwd }))
    const deadline = Date.now() + 10_000
    for (;;) {
      const client = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false } })
      client.on('error', () => {})
      try {
        await client.connect()
        clients.push(client)
        return client
      } catch (error) {
        if (Date.now() > deadline) throw error
        await new Promise((r) => setTimeout(r, 50))
      }
    }
  }
  try {
    const primaryPort = await freePort()
    const primary = await start(primaryPort)
    const replicaPort = await freePort()
    const readOnly = writable ? ['--replica-read-only', 'no'] : []
    const replica = await start(replicaPort, '--replicaof', '127.0.0.1', String(primaryPort), ...readOnly)
    const deadline = Date.now() + 10_000
    while (!/master_link_status:up/.test(await replica.info('replication'))) {
      assert.ok(Date.now() < deadline, 'the replica did not sync within 10 s')
      await new Promise((r) => setTimeout(r, 50))
    }
    assert.match(await replica.info('replication'), /role:slave/)
    await run({ primary, replica, replicaPort })
  } finally {
    for (const client of clients) if (client.isOpen) await client.quit().catch(() => client.destroy())
    for (const server of servers) {
      if (server.exitCode === null && server.signalCode === null) {
        const exited = new Promise((r) => server.once('exit', r))
        server.kill('SIGTERM')
        await exited
      }
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

for (const writable of [false, true]) {
  const kind = writable ? 'a writable' : 'a read-only'
  test(`redisReplayStore on ${kind} replica: a 503 whose error says it is a replica`, async () => {
    // As xnonce-server does, the store asks INFO replication before its first SET and refuses
    // a replica (role:slave): a writable one (replica-read-only no) would take the SET, and a
    // copy of a request the primary's workers accepted would be accepted again here. The
    // request is refused 503, never accepted, and the error passed to onError says why.
    await withReplica(writable, async ({ primary, replica }) => {
      const workers = []
      try {
        const errors = []
        const onPrimary = await worker(x.redisReplayStore(primary))
        const onReplica = await worker(x.redisReplayStore(replica), { onError: (e) => errors.push(e) })
        workers.push(onPrimary, onReplica)
        const header = x.signRequest('v2', 'GET', '/reports/daily', 'billing', SECRET, { host: 'api.test' })
        assert.equal((await get(onPrimary, '/reports/daily', header)).status, 200)
        const fresh = x.signRequest('v2', 'GET', '/reports/daily', 'billing', SECRET, { host: 'api.test' })
        for (const xNonce of [fresh, header]) {
          // A new request, and one the primary took.
          const refused = await get(onReplica, '/reports/daily', xNonce)
          assert.deepEqual([refused.status, JSON.parse(refused.body).code], [503, 'store_unavailable'])
        }
        await new Promise((r) => setTimeout(r, 20)) // onError runs after the answer
        assert.equal(errors.length, 2)
        for (const error of errors) assert.match(error.message, /replica \(role:slave\).*primary/)
        // Only what it replicated from the primary: no key of its own.
        const own = await replica.keys('xnonce:*')
        const replicated = new Set(await primary.keys('xnonce:*'))
        assert.deepEqual(
          own.filter((k) => !replicated.has(k)),
          [],
        )
      } finally {
        for (const w of workers) await w.close()
      }
    })
  })
}

test('redisReplayStore on a primary that became a read-only replica: a 503 naming READONLY', async () => {
  // A failover after the store's first check: its address now reaches a read-only replica,
  // which answers each SET READONLY: refused, the error saying so, READONLY as its cause.
  await withReplica(false, async ({ primary, replica, replicaPort }) => {
    const store = x.redisReplayStore(primary)
    assert.equal(await store.insertIfAbsent('v2:c:a', Date.now() + 30_000, Date.now()), true)
    await replica.sendCommand(['REPLICAOF', 'NO', 'ONE'])
    await primary.sendCommand(['REPLICAOF', '127.0.0.1', String(replicaPort)])
    assert.match(await primary.info('replication'), /role:slave/)
    const refused = await store.insertIfAbsent('v2:c:b', Date.now() + 30_000, Date.now()).then(
      () => assert.fail('accepted on a read-only replica'),
      (error) => error,
    )
    assert.match(refused.message, /read-only replica \(READONLY\).*primary/)
    assert.match(refused.cause.message, /^READONLY\b/)
  })
})
