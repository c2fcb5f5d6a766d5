'use strict'
// xnonceFetch's clock correction (PROTOCOL §12, *Client side*) and serverTimeFromAnswer: against
// a real xnonce-server (serve --demo) on 127.0.0.1, and against loopback node:http servers that
// answer with hints computed here, independently of the package, with node:crypto.

const test = require('node:test')
const assert = require('node:assert/strict')
const { createHmac } = require('node:crypto')
const xnonce = require('..')
const { startServer } = require('./server.js')
const { nodeServer } = require('./peers.js')

let server
test.before(async () => {
  server = await startServer()
})
test.after(async () => {
  await server?.stop()
})

const creds = () => ({ client: server.client, secret: server.secret })
/** Two minutes slow: outside the reference server's window, so every request is stale. */
const SLOW = -120000
/** How far a learned offset may be from the loopback server's clock (the same machine's). */
const NEAR = 5000

/**
 * The hint PROTOCOL §12 defines, computed with node:crypto: HMAC-SHA256 keyed with the 32
 * bytes of a 64-hex secret, else the secret's UTF-8 text, over
 * "XNONCE-TIME\n<client>\n<request id>\n<ms>".
 */
function hintFor(secret, client, requestId, ms) {
  const key = /^[0-9a-fA-F]{64}$/.test(secret) ? Buffer.from(secret, 'hex') : Buffer.from(secret, 'utf8')
  const mac = createHmac('sha256', key).update(`XNONCE-TIME\n${client}\n${requestId}\n${ms}`).digest('hex')
  return `${ms} ${mac}`
}

/** The client id and request id (the v2 nonce, the v1 token) of an X-Nonce value. */
function idsOf(xNonce) {
  const fields = xNonce.split(' ')
  return fields[0] === 'v2'
    ? { client: fields[1], requestId: fields[3], timestamp: Number(fields[2]) }
    : { client: fields[1], requestId: fields[0], timestamp: Number(fields[2]) }
}

/** xnonceFetch over the global fetch, recording what each request carried. */
function spying(options) {
  const sent = []
  const signedFetch = xnonce.xnonceFetch({
    ...options,
    fetch: (url, init) => {
      const xNonce = new Headers(init.headers).get('x-nonce')
      sent.push({
        url: String(url),
        method: init.method,
        xNonce,
        body: init.body === undefined ? undefined : Buffer.from(init.body).toString(),
      })
      return fetch(url, init)
    },
  })
  return { signedFetch, sent }
}

const TARGET = '/controller1/action1?username=phil&password=pw&opt1=x'

for (const scheme of ['v1', 'v2']) {
  test(`${scheme}: a slow clock is corrected from the real server's hint: one resend, then accepted first time`, async () => {
    const { signedFetch, sent } = spying({ ...creds(), scheme, clockOffsetMs: SLOW })
    assert.equal(signedFetch.clockOffsetMs, SLOW, 'the offset given, before any request')
    const before = Date.now()
    const res = await signedFetch(`${server.url}${TARGET}`)
    assert.equal(res.status, 200, await res.clone().text())
    assert.deepEqual(await res.json(), { opt1: 'X', opt2: null })
    assert.equal(sent.length, 2, 'the stale request and one resend')
    const [first, retry] = sent.map((s) => idsOf(s.xNonce))
    assert.ok(Math.abs(first.timestamp - (before + SLOW)) < NEAR, 'the first was signed at the slow clock')
    assert.ok(Math.abs(retry.timestamp - Date.now()) < NEAR, 'the resend at the corrected clock')
    assert.notEqual(first.requestId, retry.requestId, 'a fresh nonce / token')
    assert.equal(sent[1].url, sent[0].url)
    assert.ok(Math.abs(signedFetch.clockOffsetMs) < NEAR, `learned offset ${signedFetch.clockOffsetMs}`)
    // The offset is the function's, shared by later calls: the next one is accepted at once.
    sent.length = 0
    const next = await signedFetch(`${server.url}${TARGET}`)
    assert.equal(next.status, 200, await next.clone().text())
    assert.equal(sent.length, 1)
  })

  test(`${scheme}: correctClock false returns the real server's stale 401 and keeps the offset`, async () => {
    const { signedFetch, sent } = spying({ ...creds(), scheme, clockOffsetMs: SLOW, correctClock: false })
    const res = await signedFetch(`${server.url}${TARGET}`)
    assert.equal(res.status, 401)
    assert.ok(res.headers.get('x-nonce-server-time'), 'the server did send a hint')
    if (scheme === 'v2') assert.equal((await res.json()).code, 'expired')
    assert.equal(sent.length, 1, 'nothing resent')
    assert.equal(signedFetch.clockOffsetMs, SLOW, 'nothing learned')
    assert.ok(
      Math.abs(idsOf(sent[0].xNonce).timestamp - (Date.now() + SLOW)) < NEAR,
      'signed at the offset given',
    )
  })
}

test('a stale POST is resent with the same method, URL and body (re-signed), and accepted', async () => {
  const { signedFetch, sent } = spying({ ...creds(), scheme: 'v2', clockOffsetMs: SLOW })
  const res = await signedFetch(`${server.url}/controller2/action1?username=phil`, {
    method: 'POST',
    body: new URLSearchParams({ password: 'pw', opt1: '1', opt3: 'three & more' }),
  })
  assert.equal(res.status, 200, await res.clone().text())
  assert.equal(await res.text(), '{"posted":"POSTED!","opt1":"1","opt2":null,"opt3":"three & more"}')
  assert.equal(sent.length, 2)
  assert.equal(sent[1].method, 'POST')
  assert.equal(sent[1].url, sent[0].url)
  assert.equal(sent[0].body, 'password=pw&opt1=1&opt3=three+%26+more')
  assert.equal(sent[1].body, sent[0].body)
  assert.notEqual(sent[1].xNonce, sent[0].xNonce)
  // A JSON body (signed by its digest) likewise.
  sent.length = 0
  const slow = spying({ ...creds(), scheme: 'v2', clockOffsetMs: SLOW })
  const json = await slow.signedFetch(
    `${server.url}/controller2/action1?username=phil&password=pw&opt1=1&opt3=3`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ hello: 'world' }),
    },
  )
  assert.equal(json.status, 200, await json.clone().text())
  assert.deepEqual(
    slow.sent.map((s) => [s.method, s.body]),
    [
      ['POST', '{"hello":"world"}'],
      ['POST', '{"hello":"world"}'],
    ],
  )
})

/**
 * A server that verifies nothing and answers every request 401 `expired` with the hint
 * `hint(xNonce, count)` gives (count: 1 for the first request), recording each X-Nonce and body.
 */
async function staleServer(hint) {
  const seen = []
  const srv = await nodeServer((req, body) => {
    const xNonce = req.headers['x-nonce']
    seen.push({ method: req.method, url: req.url, xNonce, body: body.toString() })
    const value = xNonce === undefined ? undefined : hint(xNonce, seen.length)
    return {
      status: 401,
      headers: {
        'content-type': 'application/json',
        ...(value === undefined ? {} : { 'X-Nonce-Server-Time': value }),
      },
      body: JSON.stringify({ code: 'expired' }),
    }
  })
  return { ...srv, seen }
}

for (const [scheme, secret] of [
  ['v2', '20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd'],
  ['v1', 'a-legacy-text-secret'],
]) {
  test(`${scheme}: a server always stale with an authentic hint gets exactly two requests a call, never a second resend`, async () => {
    const AHEAD = 500000
    // Each answer's server time is further ahead (a server clock that moves), so which hint
    // the offset came from shows.
    const srv = await staleServer((xNonce, count) => {
      const { client, requestId } = idsOf(xNonce)
      return hintFor(secret, client, requestId, Date.now() + AHEAD + count * 10000)
    })
    try {
      const signedFetch = xnonce.xnonceFetch({ client: 'svc', secret, scheme })
      // A form body: v1 signs its fields (it cannot sign any other body).
      const res = await signedFetch(`${srv.url}/a/b?x=1`, {
        method: 'PUT',
        body: new URLSearchParams({ k: 'payload' }),
      })
      assert.equal(res.status, 401)
      assert.equal((await res.json()).code, 'expired')
      assert.equal(srv.seen.length, 2, 'the stale request and ONE resend')
      assert.notEqual(srv.seen[0].xNonce, srv.seen[1].xNonce)
      assert.deepEqual(
        srv.seen.map((s) => [s.method, s.url, s.body]),
        [
          ['PUT', '/a/b?x=1', 'k=payload'],
          ['PUT', '/a/b?x=1', 'k=payload'],
        ],
      )
      // The resend was signed at the offset the first hint gave; the offset kept is the
      // resend's (the later hint).
      const resentAt = idsOf(srv.seen[1].xNonce).timestamp
      assert.ok(Math.abs(resentAt - (Date.now() + AHEAD + 10000)) < NEAR, `resend signed at ${resentAt}`)
      assert.ok(
        Math.abs(signedFetch.clockOffsetMs - (AHEAD + 20000)) < NEAR,
        `offset ${signedFetch.clockOffsetMs}`,
      )
      // Each call gets its one resend, no more.
      const again = await signedFetch(`${srv.url}/a/b?x=2`)
      assert.equal(again.status, 401)
      assert.equal(srv.seen.length, 4)
    } finally {
      await srv.close()
    }
  })
}

test('a forged hint, or one made for another request, client or secret, is ignored: no resend, no offset', async () => {
  const secret = '20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd'
  const ms = () => Date.now() + 500000
  const forgeries = {
    'a made-up MAC': () => `${ms()} ${'ab'.repeat(32)}`,
    'another request': (xNonce) =>
      hintFor(secret, idsOf(xNonce).client, 'ffeeddccbbaa99887766554433221100', ms()),
    'another client': (xNonce) => hintFor(secret, 'someone_else', idsOf(xNonce).requestId, ms()),
    'another secret': (xNonce) =>
      hintFor('ff'.repeat(32), idsOf(xNonce).client, idsOf(xNonce).requestId, ms()),
    'the time moved': (xNonce) => {
      const [time, mac] = hintFor(secret, idsOf(xNonce).client, idsOf(xNonce).requestId, ms()).split(' ')
      return `${Number(time) + 1} ${mac}`
    },
    'upper-case MAC': (xNonce) =>
      hintFor(secret, idsOf(xNonce).client, idsOf(xNonce).requestId, ms()).toUpperCase(),
    'not a hint': () => 'soon',
  }
  for (const [name, forge] of Object.entries(forgeries)) {
    const srv = await staleServer((xNonce) => forge(xNonce))
    try {
      const signedFetch = xnonce.xnonceFetch({ client: 'svc', secret, clockOffsetMs: -7 })
      const res = await signedFetch(`${srv.url}/a/b`)
      assert.equal(res.status, 401, name)
      assert.equal(srv.seen.length, 1, `${name}: not resent`)
      assert.equal(signedFetch.clockOffsetMs, -7, `${name}: nothing learned`)
    } finally {
      await srv.close()
    }
  }
  // The same server with the authentic hint: resent (so the refusals above are the hints').
  const srv = await staleServer((xNonce) =>
    hintFor(secret, idsOf(xNonce).client, idsOf(xNonce).requestId, ms()),
  )
  try {
    const signedFetch = xnonce.xnonceFetch({ client: 'svc', secret, clockOffsetMs: -7 })
    await signedFetch(`${srv.url}/a/b`)
    assert.equal(srv.seen.length, 2)
  } finally {
    await srv.close()
  }
})

test('a stale hop after a same-origin redirect is resent once; a hop sent unsigned after a cross-origin one never is', async () => {
  const secret = '20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd'
  const AHEAD = 500000
  const authentic = (xNonce) =>
    hintFor(secret, idsOf(xNonce).client, idsOf(xNonce).requestId, Date.now() + AHEAD)
  // Same origin: /start redirects to /stale, which is always stale.
  const seen = []
  const srv = await nodeServer((req) => {
    const xNonce = req.headers['x-nonce']
    seen.push({ url: req.url, xNonce })
    if (req.url === '/start') return { status: 307, headers: { location: '/stale' } }
    return { status: 401, headers: { 'X-Nonce-Server-Time': authentic(xNonce) } }
  })
  try {
    const signedFetch = xnonce.xnonceFetch({ client: 'svc', secret })
    const res = await signedFetch(`${srv.url}/start`)
    assert.equal(res.status, 401)
    assert.deepEqual(
      seen.map((s) => s.url),
      ['/start', '/stale', '/stale'],
    )
    assert.equal(new Set(seen.map((s) => s.xNonce)).size, 3, 'each signed with its own nonce')
    assert.ok(Math.abs(signedFetch.clockOffsetMs - AHEAD) < NEAR)
  } finally {
    await srv.close()
  }
  // Another origin: its stale answer, even with a hint authentic for the first hop's X-Nonce,
  // is to a request sent unsigned: returned as it is, nothing learned.
  let firstSent
  const landed = []
  const other = await nodeServer((req) => {
    landed.push(req.headers['x-nonce'])
    return { status: 401, headers: { 'X-Nonce-Server-Time': authentic(firstSent) } }
  })
  const hop = await nodeServer((req) => {
    firstSent = req.headers['x-nonce']
    return { status: 307, headers: { location: `${other.url}/landed` } }
  })
  let otherRequests = 0
  try {
    const signedFetch = xnonce.xnonceFetch({
      client: 'svc',
      secret,
      fetch: (url, init) => {
        if (String(url).startsWith(other.url)) otherRequests += 1
        return fetch(url, init)
      },
    })
    const res = await signedFetch(`${hop.url}/start`)
    assert.equal(res.status, 401)
    assert.equal(otherRequests, 1, 'not resent')
    assert.deepEqual(landed, [undefined], 'sent unsigned')
    assert.equal(signedFetch.clockOffsetMs, 0)
  } finally {
    await hop.close()
    await other.close()
  }
})

test('clockOffsetMs is read-only; correctClock and clockOffsetMs set to null are the defaults', async () => {
  const signedFetch = xnonce.xnonceFetch({ ...creds(), correctClock: null, clockOffsetMs: null })
  assert.equal(signedFetch.clockOffsetMs, 0)
  assert.throws(() => {
    signedFetch.clockOffsetMs = 5
  }, TypeError)
  assert.equal(signedFetch.clockOffsetMs, 0)
  assert.equal(typeof signedFetch, 'function')
  assert.equal((await signedFetch(`${server.url}${TARGET}`)).status, 200)
})

test("xnonceFetch's correctClock and clockOffsetMs are refused with the Requester's errors", () => {
  const fetch = async () => new Response('')
  /** The error `make` throws, or a failure when it throws none. */
  const thrown = (make) => {
    try {
      make()
    } catch (error) {
      return error
    }
    assert.fail('no error')
  }
  const cases = [
    ['correctClock', 'yes'],
    ['correctClock', 1],
    ['correctClock', {}],
    ['clockOffsetMs', '5'],
    ['clockOffsetMs', true],
    ['clockOffsetMs', 5n],
    ['clockOffsetMs', 0.5],
    ['clockOffsetMs', NaN],
    ['clockOffsetMs', Infinity],
    ['clockOffsetMs', -Infinity],
    ['clockOffsetMs', 2 ** 53],
    ['clockOffsetMs', -1e20],
  ]
  for (const [option, value] of cases) {
    const name = `${option}: ${typeof value === 'bigint' ? `${value}n` : String(value)}`
    const requester = thrown(
      () => new xnonce.Requester('http://127.0.0.1:9', 'svc', server.secret, { [option]: value }),
    )
    const fetching = thrown(() => xnonce.xnonceFetch({ ...creds(), fetch, [option]: value }))
    assert.equal(fetching.constructor, requester.constructor, `${name}: ${fetching} / ${requester}`)
    assert.equal(fetching.code, requester.code, name)
    assert.ok(fetching instanceof TypeError || fetching instanceof RangeError, name)
    assert.ok(!(fetching instanceof xnonce.XNonceError), name)
    if (fetching instanceof RangeError) assert.equal(fetching.message, requester.message, name)
    else assert.match(fetching.message, new RegExp(option), `${name}: the option is named`)
    assert.ok(!fetching.message.includes(server.secret), `${name}: the secret is not shown`)
  }
  // The values the Requester takes, xnonceFetch takes too.
  for (const clockOffsetMs of [0, -5, 3600000, -(2 ** 53 - 1), 2 ** 53 - 1]) {
    const signedFetch = xnonce.xnonceFetch({ ...creds(), fetch, clockOffsetMs })
    assert.equal(signedFetch.clockOffsetMs, clockOffsetMs)
  }
  for (const correctClock of [true, false]) xnonce.xnonceFetch({ ...creds(), fetch, correctClock })
})

test('serverTimeFromAnswer: the time of an authentic stale answer for the request sent, else null', () => {
  // PROTOCOL §12's example: the request of v2-get-basic rejected at 1700000060000.
  const key = '20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd'
  const nonce = '00112233445566778899aabbccddeeff'
  const v2 = `v2 test_client 1700000000000 ${nonce} 3011ec6c9e7ae2c23151250b27e5f741baf74e23ea58be88d8d78d6a6dd51619`
  const example = '1700000060000 47ea0cf07e4b0cd7fcdcbe4a599a23609b3846ee2ff329a97ace15c1b604acbf'
  assert.equal(
    hintFor(key, 'test_client', nonce, 1700000060000),
    example,
    'node:crypto computes the spec example',
  )
  const { serverTimeFromAnswer } = xnonce
  assert.equal(serverTimeFromAnswer(401, example, v2, key), 1700000060000)
  // A 64-hex secret keys with its bytes: upper case gives the same hint.
  assert.equal(serverTimeFromAnswer(401, example, v2, key.toUpperCase()), 1700000060000)
  // v1: the request id is the token; a legacy text secret keys with its UTF-8 text.
  const legacy = 'correct-horse-battery-é'
  const token = xnonce.signDetailed('v1', 'GET', '/a/b', [], 'svc', legacy, {
    timestamp: 1384300800123,
  }).xNonce
  const v1Hint = hintFor(legacy, 'svc', token.split(' ')[0], 1384300900000)
  assert.equal(serverTimeFromAnswer(401, v1Hint, token, legacy), 1384300900000)
  assert.equal(serverTimeFromAnswer(401, hintFor(legacy, 'svc', nonce, 1384300900000), token, legacy), null)
  const legacyHex = hintFor(key, 'svc', token.split(' ')[0], 1384300900000)
  assert.equal(serverTimeFromAnswer(401, legacyHex, token, legacy), null, 'made with another secret')
  for (const [sent, secret, own] of [
    [v2, key, example],
    [token, legacy, v1Hint],
  ]) {
    for (const status of [200, 400, 403, 409, 503, 401.5, 65937, -401, NaN])
      assert.equal(serverTimeFromAnswer(status, own, sent, secret), null, `status ${status}`)
    assert.equal(serverTimeFromAnswer(401, own, sent, secret === key ? 'ee'.repeat(32) : 'another'), null)
    const other =
      sent === v2 ? sent.replace(nonce, 'ff'.repeat(16)) : (sent[0] === 'a' ? 'b' : 'a') + sent.slice(1)
    assert.equal(serverTimeFromAnswer(401, own, other, secret), null, 'another request')
    assert.equal(serverTimeFromAnswer(401, own, sent.replace(/ (test_client|svc) /, ' other '), secret), null)
    for (const hint of [null, undefined, '', own.toUpperCase(), `${own} `, own.replace(/^\d+/, (t) => t + 1)])
      assert.equal(serverTimeFromAnswer(401, hint, sent, secret), null, String(hint))
    assert.equal(serverTimeFromAnswer(401, own, 'not a header', secret), null)
    assert.equal(serverTimeFromAnswer(401, own, '\ud800', secret), null)
  }
  // Arguments: of the wrong type a TypeError naming it; a secret no request could use is
  // invalid_secret, never shown.
  for (const [args, argument] of [
    [['401', example, v2, key], 'status'],
    [[401, 5, v2, key], 'hint'],
    [[401, example, null, key], 'sent'],
    [[401, example, v2, 7], 'secret'],
  ]) {
    assert.throws(
      () => serverTimeFromAnswer(...args),
      (e) => e instanceof TypeError && e.message.endsWith(`(argument "${argument}")`),
      argument,
    )
  }
  assert.throws(
    () => serverTimeFromAnswer(401, example, v2, ''),
    (e) => e instanceof xnonce.XNonceError && e.code === 'invalid_secret',
  )
  assert.throws(
    () => serverTimeFromAnswer(401, example, v2, 'secret\ud800text'),
    (e) => e.code === 'invalid_secret' && !e.message.includes('secret\ud800text'),
  )
})
