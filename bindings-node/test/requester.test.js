'use strict'
// Requester (the Rust requester on tokio) against a real xnonce-server on 127.0.0.1.

const test = require('node:test')
const assert = require('node:assert/strict')
const xnonce = require('..')
const { startServer } = require('./server.js')
const { nodeServer, recordingServer, listen, resettingPort } = require('./peers.js')

let server
test.before(async () => {
  server = await startServer()
})
test.after(async () => {
  await server?.stop()
})

const requester = (scheme, options = {}) =>
  new xnonce.Requester(server.url, server.client, server.secret, { scheme, timeoutMs: 5000, ...options })

for (const scheme of ['v1', 'v2']) {
  test(`${scheme}: GET and POST through makeRequest`, async () => {
    const api = requester(scheme)
    const get = await api.makeRequest(
      'GET',
      { username: 'phil', password: 'hello phil', opt1: 'this' },
      'action1',
      'controller1',
    )
    assert.equal(get.code, 200, get.body)
    assert.equal(typeof get.body, 'string')
    assert.ok(get.data !== null && typeof get.data === 'object', 'JSON answer parsed into data')
    // em-secure-api's controller1_action1_get: opt1 upper-cased, opt2 absent.
    assert.deepEqual(get.data, { opt1: 'THIS', opt2: null })
    assert.ok(get.headers.some(([k, v]) => k === 'content-type' && v.includes('json')))
    const post = await api.makeRequest(
      'POST',
      new Map([
        ['username', 'phil'],
        ['password', 'pw'],
        ['opt1', 1],
        ['opt3', true],
      ]),
      '/controller2/action1',
    )
    assert.equal(post.code, 200, post.body)
  })

  test(`${scheme}: a forced timestamp replayed (as a bigint) is 409; a missing param is 422; a stale one is refused`, async () => {
    const api = requester(scheme, { correctClock: false })
    const params = [
      ['username', 'phil'],
      ['password', 'pw'],
      ['opt1', 'x'],
    ]
    const timestamp = Date.now()
    const nonce = scheme === 'v2' ? '0123456789abcdef0123456789abcdef' : undefined
    const first = await api.makeRequest('GET', params, 'action1', 'controller1', { timestamp, nonce })
    assert.equal(first.code, 200, first.body)
    // The same timestamp as a bigint signs the same request: a replay.
    const again = await api.makeRequest('GET', params, 'action1', 'controller1', {
      timestamp: BigInt(timestamp),
      nonce,
    })
    assert.equal(again.code, 409, again.body)
    const missing = await api.makeRequest('GET', params.slice(0, 2), 'action1', 'controller1')
    assert.equal(missing.code, 422)
    const stale = await api.makeRequest('GET', params, 'action1', 'controller1', {
      timestamp: timestamp - 3600000,
    })
    assert.equal(stale.code, 401)
  })
}

test('v2: clock correction retries a stale request once with the authenticated server time; a forced timestamp is never retried', async () => {
  const params = { username: 'a', password: 'b', opt1: 'c' }
  const HOUR = 3600000
  // A clock an hour slow: refused without correction, corrected and retried with it.
  const strict = requester('v2', { clockOffsetMs: -HOUR, correctClock: false })
  assert.equal(strict.clockOffsetMs, -HOUR)
  const refused = await strict.makeRequest('GET', params, '/controller1/action1')
  assert.equal(refused.code, 401, refused.body)
  assert.equal(refused.data.code, 'expired')
  assert.equal(strict.clockOffsetMs, -HOUR, 'no correction when it is off')
  const fixing = requester('v2', { clockOffsetMs: -HOUR })
  const res = await fixing.makeRequest('GET', params, '/controller1/action1')
  assert.equal(res.code, 200, res.body)
  assert.ok(Math.abs(fixing.clockOffsetMs) < 60000, `learned offset ${fixing.clockOffsetMs}`)
  // em-secure-api's force_timestamp is sent as given: its stale answer stands.
  const forced = await requester('v2').makeRequest('GET', params, '/controller1/action1', null, {
    timestamp: Date.now() - HOUR,
  })
  assert.equal(forced.code, 401, forced.body)
  assert.equal(forced.data.code, 'expired')
  assert.ok(forced.headers.some(([k]) => k === 'x-nonce-server-time'))
})

test("the README's per-request options example is accepted; extraParams alone make it 401", async () => {
  const { randomBytes } = require('node:crypto')
  const api = requester('v2')
  const params = { username: 'phil', password: 'pw', opt1: '1', opt3: '3' }
  const options = () => ({
    timestamp: Date.now(),
    nonce: randomBytes(16).toString('hex'),
    json: { items: ['a', 1], when: new Date(0), skipped: undefined },
    headers: { 'x-request-id': 'abc' },
  })
  const posted = await api.makeRequest('POST', params, 'action1', 'controller2', options())
  assert.equal(posted.code, 200, posted.body)
  const tampered = await api.makeRequest('POST', params, 'action1', 'controller2', {
    ...options(),
    extraParams: [['opt2', 'x']],
  })
  assert.equal(tampered.code, 401, tampered.body)
  assert.equal(tampered.data.code, 'signature_mismatch')
  // null options are absent: the clock and a random nonce.
  const nulls = await api.makeRequest('POST', params, 'action1', 'controller2', {
    timestamp: null,
    nonce: null,
    json: null,
    extraParams: null,
    headers: null,
  })
  assert.equal(nulls.code, 200, nulls.body)
})

test('v2: a JSON body and unsigned extra params', async () => {
  const api = requester('v2')
  const params = { username: 'phil', password: 'pw', opt1: '1', opt3: '3' }
  const json = await api.makeRequest('POST', params, 'action1', 'controller2', {
    json: { hello: ['world', 1] },
  })
  assert.equal(json.code, 200, json.body)
  const tampered = await api.makeRequest('POST', params, 'action1', 'controller2', {
    extraParams: [['opt2', 'x']],
  })
  assert.equal(tampered.code, 401)
  assert.equal(tampered.data.code, 'signature_mismatch')
})

test('v2: the JSON body and extra headers are sent as given, and the X-Nonce signs that body', async () => {
  const peer = await recordingServer()
  try {
    const api = new xnonce.Requester(peer.url, 'svc', server.secret, { scheme: 'v2', timeoutMs: 5000 })
    const res = await api.makeRequest('POST', { a: '1' }, '/c/a', null, {
      json: { hello: ['world', 1] },
      headers: { 'x-request-id': 'abc' },
    })
    assert.equal(res.code, 200)
    // JSON.stringify's very bytes (1e+21), not a re-serialisation (which wrote 1e21).
    await api.makeRequest('POST', [], '/c/a', null, { json: { n: 1e21, m: 1.5, k: 'é' } })
    assert.equal(peer.requests.pop().body, JSON.stringify({ n: 1e21, m: 1.5, k: 'é' }))
    const [req] = peer.requests
    assert.equal(req.body, '{"hello":["world",1]}')
    assert.match(req.headers['content-type'], /^application\/json/)
    assert.equal(req.headers['x-request-id'], 'abc')
    const v = new xnonce.Verifier({ svc: server.secret })
    const ok = v.verify(req.method, req.url, {
      host: req.headers.host,
      xNonce: req.headers['x-nonce'],
      contentType: req.headers['content-type'],
      body: req.body,
    })
    assert.deepEqual(ok.params, [['a', '1']])
    const other = '{"hello":["world",2]}'
    assert.throws(
      () =>
        v.verify(req.method, req.url, {
          host: req.headers.host,
          xNonce: req.headers['x-nonce'],
          contentType: req.headers['content-type'],
          body: other,
        }),
      { code: 'signature_mismatch' },
    )
    // Without options, the JSON given alone is sent too.
    await api.makeRequest('POST', [], '/c/a', null, { json: [1, 2] })
    assert.equal(peer.requests[1].body, '[1,2]')
  } finally {
    await peer.close()
  }
})

test('timeoutMs bounds a request to a server that never answers', { timeout: 20000 }, async () => {
  let arrived = 0
  let reached
  const reachedServer = new Promise((resolve) => (reached = resolve))
  // Counts each request and never answers it.
  const silent = await nodeServer(() => {
    arrived++
    reached()
    return new Promise(() => {})
  })
  try {
    // The silent server shares this event loop: its 'request' event may be handled after
    // the timeout's rejection, so the test waits for it rather than counting at once.
    const api = new xnonce.Requester(silent.url, 'svc', server.secret, { timeoutMs: 2000 })
    await assert.rejects(api.makeRequest('GET', [], '/c/a'), (e) => {
      return e instanceof xnonce.UnavailableError && e.code === 'connection_failed'
    })
    await reachedServer
    assert.equal(arrived, 1, 'the request arrived and was not answered')
  } finally {
    await silent.close()
  }
})

test(
  'options.signal aborts a request as fetch does: rejects with its reason, the connection closed',
  { timeout: 20000 },
  async () => {
    let arrived = 0
    let reached
    let closed
    const reachedServer = new Promise((resolve) => (reached = resolve))
    const connectionClosed = new Promise((resolve) => (closed = resolve))
    // Counts each request, never answers it, and notes when its connection closes.
    const silent = await listen((req) => {
      arrived++
      req.socket.on('close', closed)
      reached()
    })
    try {
      const api = new xnonce.Requester(silent.url, 'svc', server.secret, { timeoutMs: 60000 })
      // In flight: the abort rejects at once with the signal's reason, and the request is dropped.
      const controller = new AbortController()
      const pending = api.makeRequest('GET', [], '/c/a', null, { signal: controller.signal })
      await reachedServer
      const reason = new Error('no longer needed')
      controller.abort(reason)
      await assert.rejects(pending, (e) => e === reason)
      await connectionClosed
      // Already aborted: rejects with the default AbortError and sends nothing.
      await assert.rejects(
        api.makeRequest('GET', [], '/c/a', null, { signal: AbortSignal.abort() }),
        (e) => e.name === 'AbortError',
      )
      // Not an AbortSignal: a TypeError, nothing sent.
      await assert.rejects(
        api.makeRequest('GET', [], '/c/a', null, { signal: { aborted: false } }),
        (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE',
      )
      assert.equal(arrived, 1)
    } finally {
      await silent.close()
    }
    // A signal that never fires changes nothing; null is no signal.
    const res = await requester('v2').makeRequest(
      'GET',
      { username: 'u', password: 'p', opt1: 'x' },
      '/controller1/action1',
      null,
      {
        signal: new AbortController().signal,
      },
    )
    assert.equal(res.code, 200)
    const again = await requester('v2').makeRequest(
      'GET',
      { username: 'u', password: 'p', opt1: 'x' },
      '/controller1/action1',
      null,
      { signal: null },
    )
    assert.equal(again.code, 200)
  },
)

test('more headers than the HTTP stack holds reject with malformed_header, not a panic', async () => {
  // The HTTP stack's header map panicked past its size: "Panic in async function", a plain Error.
  const headers = Array.from({ length: 40000 }, (_, i) => [`x-h${i}`, '1'])
  await assert.rejects(
    requester('v2').makeRequest('GET', [], '/c/many', null, { headers }),
    (e) => e instanceof xnonce.FormatError && e.code === 'malformed_header',
  )
})

test('maxResponseBytes: a longer answer rejects with connection_failed; out-of-range limits throw', async () => {
  const params = { username: 'phil', password: 'pw', opt1: 'this' }
  // The demo's answer ({"opt1":"THIS","opt2":null}) is 27 bytes.
  await assert.rejects(
    requester('v2', { maxResponseBytes: 20 }).makeRequest('GET', params, '/controller1/action1'),
    (e) => {
      return (
        e instanceof xnonce.UnavailableError &&
        e.code === 'connection_failed' &&
        e.message.includes('larger than the 20-byte limit')
      )
    },
  )
  for (const maxResponseBytes of [27, null, undefined]) {
    const res = await requester('v2', { maxResponseBytes }).makeRequest('GET', params, '/controller1/action1')
    assert.equal(res.code, 200, res.body)
  }
  for (const maxResponseBytes of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
    assert.throws(
      () => requester('v2', { maxResponseBytes }),
      (e) => {
        return (
          e instanceof RangeError && e.code === 'ERR_OUT_OF_RANGE' && e.message.includes('maxResponseBytes')
        )
      },
    )
  }
})

test("res.data is what JSON.parse makes of the body: a large array, '__proto__', big integers, key order", async () => {
  const bodies = {
    // 1.1 million numbers (2.2 MB, well under maxResponseBytes): napi's JSON conversion
    // refused it, rejecting makeRequest.
    many: `[${Array(1_100_000).fill(0).join(',')}]`,
    // A key "__proto__" is an own property to JSON.parse, never the object's prototype.
    proto: '{"__proto__": {"admin": true}, "user": "phil"}',
    big: '{"id": 9007199254740993}',
    order: '{"b": 1, "a": 2, "2": 3, "1": 4}',
    tiny: '[2.2250738585072011e-308, 1e400]',
    deep: `${'['.repeat(300)}${']'.repeat(300)}`,
    text: 'not json',
  }
  const srv = await nodeServer((req) => ({
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: bodies[req.url.split('?')[0].slice(1)],
  }))
  try {
    const api = new xnonce.Requester(srv.url, 'c', 'a'.repeat(64), { timeoutMs: 10000 })
    for (const [name, body] of Object.entries(bodies)) {
      const res = await api.makeRequest('GET', [], `/${name}`)
      assert.equal(res.body, body)
      let parsed = null
      try {
        parsed = JSON.parse(body)
      } catch {}
      assert.deepStrictEqual(res.data, parsed, name)
      if (parsed !== null && typeof parsed === 'object') {
        assert.deepStrictEqual(Object.keys(res.data), Object.keys(parsed), name)
      }
    }
    const res = await api.makeRequest('GET', [], '/proto')
    assert.equal(Object.getPrototypeOf(res.data), Object.prototype)
    assert.equal(res.data.admin, undefined)
  } finally {
    await srv.close()
  }
})

test('res.bytes is the body byte for byte: binary and other charsets, where res.body replaces', async () => {
  const bodies = {
    // A PNG's signature (not UTF-8), Latin-1 text, an empty body, UTF-8 text.
    png: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff]),
    latin1: Buffer.from('café', 'latin1'),
    empty: Buffer.alloc(0),
    utf8: Buffer.from('{"a": "é"}'),
  }
  const srv = await nodeServer((req) => ({ status: 200, body: bodies[req.url.split('?')[0].slice(1)] }))
  try {
    const api = new xnonce.Requester(srv.url, 'c', 'a'.repeat(64), { timeoutMs: 10000 })
    for (const [name, body] of Object.entries(bodies)) {
      const res = await api.makeRequest('GET', [], `/${name}`)
      assert.ok(Buffer.isBuffer(res.bytes), name)
      assert.deepStrictEqual(res.bytes, body, name)
      assert.equal(res.body, body.toString('utf8'), name)
    }
  } finally {
    await srv.close()
  }
})

test('errors reject with XNonceError: signing errors and connection_failed', async () => {
  assert.throws(() => new xnonce.Requester(server.url, server.client, 'short', { scheme: 'v2' }), {
    code: 'invalid_secret',
  })
  assert.throws(() => new xnonce.Requester('ftp://x', server.client, server.secret), { code: 'invalid_url' })
  await assert.rejects(requester('v2').makeRequest('GET', { bad: null }, '/controller1/action1'), (e) => {
    return e instanceof xnonce.InputError && e.code === 'invalid_param_value'
  })
  // A loopback port whose connections are reset as soon as accepted (held, so that nobody
  // else takes it): the request fails in transport, as against a port nobody listens on.
  const { port, release } = await resettingPort()
  try {
    const dead = new xnonce.Requester(`http://127.0.0.1:${port}`, server.client, server.secret, {
      timeoutMs: 2000,
    })
    await assert.rejects(dead.makeRequest('GET', [], '/admin/status'), (e) => {
      return (
        e instanceof xnonce.UnavailableError &&
        e.code === 'connection_failed' &&
        !e.message.includes(server.secret)
      )
    })
  } finally {
    release()
  }
})

test('makeRequest does not block the event loop', async () => {
  const params = { username: 'a', password: 'b', opt1: 'c' }
  // A server on this event loop that holds each answer until the test releases it: however
  // fast a loopback round trip is, the request cannot settle before the check below. A
  // blocking makeRequest would stall this loop (and so the server) until its timeout.
  const arrived = []
  const waiting = []
  const holding = await listen((req, res) => {
    req.resume()
    const take = waiting.shift()
    if (take) take(res)
    else arrived.push(res)
  })
  const nextRequest = () =>
    arrived.length > 0 ? Promise.resolve(arrived.shift()) : new Promise((resolve) => waiting.push(resolve))
  try {
    const held = new xnonce.Requester(holding.url, 'svc', server.secret, { scheme: 'v2', timeoutMs: 5000 })
    for (let i = 0; i < 5; i++) {
      let settled = false
      const pending = held.makeRequest('GET', params, '/controller1/action1').finally(() => (settled = true))
      // One full turn of the event loop: a blocking call would have settled by now.
      await new Promise((resolve) => setImmediate(resolve))
      assert.equal(settled, false, 'the request is still in flight after one event-loop turn')
      ;(await nextRequest()).end('released')
      const res = await pending
      assert.deepEqual([res.code, res.body], [200, 'released'])
    }
  } finally {
    await holding.close()
  }
  const api = requester('v2')
  const all = await Promise.all(
    Array.from({ length: 20 }, () => api.makeRequest('GET', params, '/controller1/action1')),
  )
  assert.ok(all.every((r) => r.code === 200))
})

test('caPem: an internal CA is trusted only when given', async () => {
  const https = require('node:https')
  const fs = require('node:fs')
  const path = require('node:path')
  const tls = path.join(__dirname, '..', '..', 'client-rs', 'tests', 'fixtures', 'tls')
  const server = https.createServer(
    {
      key: fs.readFileSync(path.join(tls, 'server.key')),
      cert: fs.readFileSync(path.join(tls, 'server.pem')),
    },
    (req, res) => res.end('ok'),
  )
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `https://localhost:${server.address().port}`
  const secret = '20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd'
  try {
    await assert.rejects(new xnonce.Requester(base, 'svc', secret).makeRequest('GET', null, '/status'), {
      code: 'connection_failed',
      message: /certificate/,
    })
    const ca = fs.readFileSync(path.join(tls, 'ca.pem'))
    for (const caPem of [ca, ca.toString()]) {
      const res = await new xnonce.Requester(base, 'svc', secret, { caPem }).makeRequest(
        'GET',
        null,
        '/status',
      )
      assert.deepEqual([res.code, res.body], [200, 'ok'])
    }
    assert.throws(() => new xnonce.Requester(base, 'svc', secret, { caPem: 'not PEM' }), {
      code: 'connection_failed',
      message: /root certificates/,
    })
  } finally {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
})
