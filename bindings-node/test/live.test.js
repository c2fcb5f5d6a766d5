'use strict'
// xnonceFetch against a real xnonce-server (serve --demo) on 127.0.0.1.

const test = require('node:test')
const assert = require('node:assert/strict')
const xnonce = require('..')
const { startServer } = require('./server.js')
const { nodeServer, recordingServer, listen } = require('./peers.js')

let server
test.before(async () => {
  server = await startServer()
})
test.after(async () => {
  await server?.stop()
})

const creds = () => ({ client: server.client, secret: server.secret })

for (const scheme of ['v1', 'v2']) {
  test(`${scheme}: GET with query params is accepted once, the replay is refused`, async () => {
    const signedFetch = xnonceFetch(scheme)
    const url = `${server.url}/controller1/action1?username=phil&password=hello+phil&opt1=this`
    const res = await signedFetch(url)
    assert.equal(res.status, 200, await res.clone().text())
    // em-secure-api's controller1_action1_get: opt1 upper-cased, opt2 absent → null.
    assert.deepEqual(await res.json(), { opt1: 'THIS', opt2: null })
    // Replay: the same header again, sent by plain fetch.
    const again = await fetch(url, { headers: { 'X-Nonce': lastHeader } })
    assert.equal(again.status, 409)
  })

  test(`${scheme}: POST with a form body signs the form fields`, async () => {
    const signedFetch = xnonceFetch(scheme)
    const res = await signedFetch(`${server.url}/controller2/action1?username=phil`, {
      method: 'POST',
      body: new URLSearchParams({ password: 'pw', opt1: '1', opt3: 'three & more' }),
    })
    assert.equal(res.status, 200, await res.clone().text())
    assert.equal(await res.text(), '{"posted":"POSTED!","opt1":"1","opt2":null,"opt3":"three & more"}')
  })

  test(`${scheme}: route rules answer missing_param / excluded_param / unknown_route`, async () => {
    const signedFetch = xnonceFetch(scheme)
    const cases = [
      ['/controller1/action1?username=phil&password=pw', 422, 'missing_param'],
      ['/controller1/action3?username=phil&password=pw&opt1=x', 422, 'excluded_param'],
      ['/controller9/action1?username=phil', 404, 'unknown_route'],
    ]
    for (const [target, status, code] of cases) {
      const res = await signedFetch(`${server.url}${target}`)
      assert.equal(res.status, status, `${target}: ${await res.clone().text()}`)
      if (scheme === 'v2') assert.equal((await res.json()).code, code)
    }
  })
}

test('v2: a JSON body is signed by its digest; a tampered body is refused', async () => {
  const signedFetch = xnonceFetch('v2')
  const target = `${server.url}/controller2/action1?username=phil&password=pw&opt1=1&opt3=3`
  const res = await signedFetch(target, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hello: 'world' }),
  })
  assert.equal(res.status, 200, await res.clone().text())
  const tampered = await fetch(target, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'X-Nonce': lastHeader },
    body: JSON.stringify({ hello: 'mars' }),
  })
  assert.equal(tampered.status, 401)
  assert.equal((await tampered.json()).code, 'signature_mismatch')
})

test('a wrong secret is refused with signature_mismatch', async () => {
  const signedFetch = xnonce.xnonceFetch({ client: server.client, secret: 'c'.repeat(64), scheme: 'v2' })
  const res = await signedFetch(`${server.url}/controller1/action1?username=a&password=b&opt1=c`)
  assert.equal(res.status, 401)
  assert.equal((await res.json()).code, 'signature_mismatch')
})

test('Request objects and URL inputs are signed too', async () => {
  const signedFetch = xnonceFetch('v2')
  const url = new URL(`${server.url}/controller1/action1?username=phil&password=pw&opt1=x`)
  assert.equal((await signedFetch(url)).status, 200)
  assert.equal((await signedFetch(new Request(url, { method: 'GET' }))).status, 200)
})

test("init options xnonceFetch does not use itself reach the fetch underneath (a proxy's dispatcher)", async () => {
  let seen
  const spy = xnonce.xnonceFetch({
    ...creds(),
    fetch: (url, init) => {
      seen = init
      return fetch(url, init)
    },
  })
  const url = `${server.url}/controller1/action1?username=phil&password=pw&opt1=x`
  const agent = { keepAlive: true }
  assert.equal((await spy(url, { agent, priority: 'high' })).status, 200)
  assert.equal(seen.agent, agent)
  assert.equal(seen.priority, 'high')
  assert.equal(seen.redirect, 'manual', 'redirects are still followed by xnonceFetch itself')
  // With the global fetch (undici), a dispatcher routes the request: here one that refuses.
  const dispatcher = {
    dispatch() {
      throw new Error('the dispatcher was used')
    },
  }
  const signedFetch = xnonce.xnonceFetch(creds())
  await assert.rejects(signedFetch(url, { dispatcher }), (e) =>
    /the dispatcher was used/.test(String(e.cause ?? e)),
  )
  assert.throws(() => xnonce.xnonceFetch(), /pass options \{ client, secret/)
  // A fetch that is no function is named as such, not taken for a missing one.
  for (const fetch of [5, 'fetch', {}]) {
    assert.throws(() => xnonce.xnonceFetch({ ...creds(), fetch }), {
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_TYPE',
      message: 'xnonceFetch: the "fetch" option must be a function',
    })
  }
})

test('signing errors reject the returned promise with an XNonceError', async () => {
  const signedFetch = xnonce.xnonceFetch({ ...creds(), scheme: 'v1' })
  await assert.rejects(
    signedFetch(`${server.url}/controller2/action1`, {
      method: 'POST',
      body: 'raw',
      headers: { 'content-type': 'text/plain' },
    }),
    (e) => e instanceof xnonce.XNonceError && e.code === 'invalid_body',
  )
})

test("a Host header of the caller's is not sent: the request goes for the URL's host, which is signed", async () => {
  // A fetch over node:http sends the Host header it is given instead of the URL's (fetch
  // itself drops it): the request went for a host it was not signed for.
  const http = require('node:http')
  const httpFetch = (url, init) =>
    new Promise((resolve, reject) => {
      const headers = Object.fromEntries(new Headers(init.headers))
      const req = http.request(url, { method: init.method, headers, agent: false }, (res) => {
        const chunks = []
        res.on('data', (c) => chunks.push(c))
        res.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode })))
      })
      req.on('error', reject)
      req.end(init.body === undefined ? undefined : Buffer.from(init.body))
    })
  const recorder = await recordingServer()
  try {
    const verifier = new xnonce.Verifier({ [server.client]: server.secret })
    for (const fetchImpl of [httpFetch, fetch]) {
      const signedFetch = xnonce.xnonceFetch({ ...creds(), fetch: fetchImpl })
      const url = `${recorder.url}/a/b?x=1`
      const headers = { host: 'api.example.com', 'x-request-id': 'r1' }
      assert.equal((await signedFetch(url, { headers })).status, 200)
      assert.equal((await signedFetch(new Request(url, { method: 'POST', body: 'z', headers }))).status, 200)
      for (const sent of recorder.requests.splice(0)) {
        assert.equal(sent.headers.host, recorder.host, `${fetchImpl.name}: the Host sent`)
        assert.equal(sent.headers['x-request-id'], 'r1')
        const ok = verifier.verify(sent.method, sent.url, {
          host: sent.headers.host,
          xNonce: sent.headers['x-nonce'],
          contentType: sent.headers['content-type'],
          body: Buffer.from(sent.body),
        })
        assert.equal(ok.client, server.client)
      }
    }
  } finally {
    await recorder.close()
  }
})

/** The X-Nonce header the last xnonceFetch call sent (seen through its `fetch` option). */
let lastHeader
function xnonceFetch(scheme) {
  return xnonce.xnonceFetch({
    ...creds(),
    scheme,
    fetch: (url, init) => {
      lastHeader = new Headers(init.headers).get('x-nonce')
      return fetch(url, init)
    },
  })
}

// ---- Redirects: xnonceFetch follows them itself (redirect: 'manual' underneath).

/**
 * A server that verifies every request with a real Verifier (once: a reused nonce is refused)
 * and redirects `/r/<status>/<target...>` to `/<target...>` after verifying.
 */
async function verifyingServer() {
  const verifier = new xnonce.Verifier({ [server.client]: server.secret })
  const seen = []
  const srv = await nodeServer((req, body) => {
    let verified
    try {
      verified = verifier.verifyOnce(req.method, req.url, {
        host: req.headers.host,
        xNonce: req.headers['x-nonce'],
        contentType: req.headers['content-type'],
        body,
      })
    } catch (e) {
      seen.push({ url: req.url, code: e.code })
      return {
        status: 401,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ code: e.code }),
      }
    }
    const nonce = req.headers['x-nonce']
    seen.push({ url: req.url, method: req.method, nonce, body: body.toString() })
    const m = /^\/r\/(\d+)(\/.*)$/.exec(req.url)
    if (m) return { status: Number(m[1]), headers: { location: m[2] } }
    const answer = { url: req.url, method: req.method, body: body.toString(), params: verified.params }
    return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(answer) }
  })
  return { ...srv, seen }
}

/** A server on another origin that answers every request with `status` and `location`. */
const redirector = (status, location) => nodeServer(() => ({ status, headers: { location } }))

test('same-origin redirects are signed again for the new URL (fresh nonce), and verify', async () => {
  const target = await verifyingServer()
  try {
    for (const scheme of ['v1', 'v2']) {
      const signedFetch = xnonce.xnonceFetch({ ...creds(), scheme })
      target.seen.length = 0
      const res = await signedFetch(`${target.url}/r/302/r/301/new/path?k=v`)
      assert.equal(res.status, 200, await res.clone().text())
      assert.deepEqual(await res.json(), {
        url: '/new/path?k=v',
        method: 'GET',
        body: '',
        params: [['k', 'v']],
      })
      assert.equal(target.seen.length, 3)
      const nonces = new Set(target.seen.map((s) => s.nonce))
      assert.equal(nonces.size, 3, 'each hop has its own X-Nonce')
    }
  } finally {
    await target.close()
  }
})

test('redirect methods and bodies follow the Fetch standard, re-signed', async () => {
  const target = await verifyingServer()
  const signedFetch = xnonce.xnonceFetch({ ...creds(), scheme: 'v2' })
  const post = (path, body, type = 'application/json') =>
    signedFetch(`${target.url}${path}`, { method: 'POST', body, headers: { 'content-type': type } })
  try {
    for (const status of [307, 308]) {
      const res = await post(`/r/${status}/kept`, '{"a":1}')
      assert.equal(res.status, 200, await res.clone().text())
      assert.deepEqual(await res.json(), { url: '/kept', method: 'POST', body: '{"a":1}', params: [] })
    }
    // A form body keeps its fields (signed as params) through a 307.
    const form = await post('/r/307/form', 'opt1=a+b', 'application/x-www-form-urlencoded')
    assert.deepEqual((await form.json()).params, [['opt1', 'a b']])
    for (const status of [301, 302, 303]) {
      const res = await post(`/r/${status}/got`, '{"a":1}')
      assert.equal(res.status, 200, await res.clone().text())
      assert.deepEqual(await res.json(), { url: '/got', method: 'GET', body: '', params: [] })
    }
    // 303 turns a PUT into a GET too; 301/302 keep a PUT and its body.
    const put303 = await signedFetch(`${target.url}/r/303/x`, { method: 'PUT', body: 'b' })
    assert.equal((await put303.json()).method, 'GET')
    const put302 = await signedFetch(`${target.url}/r/302/x`, { method: 'PUT', body: 'b' })
    assert.deepEqual(await put302.json(), { url: '/x', method: 'PUT', body: 'b', params: [] })
  } finally {
    await target.close()
  }
})

test('a redirect to another origin never carries the X-Nonce (nor other credentials)', async () => {
  const recorder = await recordingServer()
  const signedFetch = xnonce.xnonceFetch({ ...creds(), scheme: 'v2' })
  try {
    for (const status of [301, 302, 303, 307, 308]) {
      const hop = await redirector(status, `${recorder.url}/landed?s=${status}`)
      try {
        recorder.requests.length = 0
        const res = await signedFetch(`${hop.url}/start?x=1`, {
          method: 'POST',
          body: 'payload',
          headers: { 'content-type': 'text/plain', authorization: 'Bearer t', 'x-other': 'kept' },
        })
        assert.equal(res.status, 200)
        assert.equal(await res.text(), 'recorded')
        assert.equal(recorder.requests.length, 1)
        const [seen] = recorder.requests
        assert.equal(seen.url, `/landed?s=${status}`)
        assert.equal(seen.headers['x-nonce'], undefined, `${status}: no X-Nonce sent to another origin`)
        assert.equal(seen.headers.authorization, undefined, `${status}: no Authorization either`)
        assert.equal(seen.headers['x-other'], 'kept')
        const keeps = status === 307 || status === 308
        assert.equal(seen.method, keeps ? 'POST' : 'GET', String(status))
        assert.equal(seen.body, keeps ? 'payload' : '', String(status))
      } finally {
        await hop.close()
      }
    }
    // Once the chain has left the origin, coming back to it is not signed either.
    let backUrl
    const home = await nodeServer((req) =>
      req.url === '/start'
        ? { status: 302, headers: { location: `${backUrl}/away` } }
        : { status: 200, body: String(req.headers['x-nonce']) },
    )
    const back = await redirector(302, `${home.url}/end`)
    backUrl = back.url
    try {
      const res = await signedFetch(`${home.url}/start`)
      assert.equal(res.status, 200)
      assert.equal(await res.text(), 'undefined', 'no X-Nonce after the chain left the origin')
    } finally {
      await back.close()
      await home.close()
    }
  } finally {
    await recorder.close()
  }
})

test('the real xnonce-server behind a cross-origin redirect sees no credential (missing_header)', async () => {
  const target = `${server.url}/controller1/action1?username=phil&password=pw&opt1=x`
  const hop = await redirector(302, target)
  try {
    for (const scheme of ['v1', 'v2']) {
      const res = await xnonce.xnonceFetch({ ...creds(), scheme })(`${hop.url}/controller1/action1`)
      assert.equal(res.status, 401)
      assert.equal(await res.text(), 'Method or nonce not provided')
    }
  } finally {
    await hop.close()
  }
})

test("redirect: 'manual' returns the 3xx, 'error' rejects, more than 20 redirects reject", async () => {
  const target = await verifyingServer()
  const loop = await nodeServer((req) => ({ status: 302, headers: { location: req.url } }))
  let hits = 0
  const counted = xnonce.xnonceFetch({
    ...creds(),
    fetch: (url, init) => {
      hits++
      return fetch(url, init)
    },
  })
  const signedFetch = xnonce.xnonceFetch({ ...creds(), scheme: 'v2' })
  try {
    const manual = await signedFetch(`${target.url}/r/302/next`, { redirect: 'manual' })
    assert.equal(manual.status, 302)
    assert.equal(manual.headers.get('location'), '/next')
    await assert.rejects(signedFetch(`${target.url}/r/307/next`, { redirect: 'error' }), TypeError)
    await assert.rejects(
      counted(`${loop.url}/again`),
      (e) => e instanceof TypeError && /20 redirects/.test(e.message),
    )
    assert.equal(hits, 21, 'the first request and 20 redirects')
  } finally {
    await target.close()
    await loop.close()
  }
})

// ---- The caller's AbortSignal: it bounds every step of the call, as fetch's own does.

/** `promise`, or a rejection naming `what` once `ms` have passed first (a hang fails the test). */
function settlesWithin(promise, ms, what) {
  let timer
  const late = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms)
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

test("the caller's signal aborts the answer's body read after the garbage collector ran", async () => {
  // A dependent signal (`new Request(...).signal`) follows the caller's only while that
  // Request lives: undici holds its controller through a WeakRef. Handed to the fetch
  // underneath, it went dead once xnonceFetch had returned and the Request was collected.
  require('node:v8').setFlagsFromString('--expose-gc')
  const gc = require('node:vm').runInNewContext('gc')
  // Headers, then one byte of the 100 declared, then nothing.
  const stalled = await listen((req, res) => {
    res.writeHead(200, { 'content-length': '100' })
    res.write('a')
  })
  try {
    const signedFetch = xnonce.xnonceFetch(creds())
    for (const request of [false, true]) {
      const controller = new AbortController()
      const url = `${stalled.url}/a/b`
      // A Request input without init keeps its own signal (as fetch does; xnonceFetch holds
      // the Request from that signal, so it is followed even once the caller drops it).
      const input = request ? new Request(url, { signal: controller.signal }) : url
      const res = await signedFetch(input, request ? undefined : { signal: controller.signal })
      for (let i = 0; i < 3; i++) {
        await new Promise((resolve) => setImmediate(resolve))
        gc()
      }
      const reading = res.text()
      await new Promise((resolve) => setImmediate(resolve))
      controller.abort(new Error('the caller gave up'))
      await assert.rejects(
        settlesWithin(reading, 5000, 'res.text()'),
        /the caller gave up/,
        `Request input: ${request}`,
      )
      assert.ok(input)
    }
  } finally {
    await stalled.close()
  }
})

test("a Request input's signal aborts the answer's body read after the caller dropped the Request", async () => {
  // `signedFetch(new Request(url, { signal: AbortSignal.timeout(ms) }))`: input.signal follows
  // the caller's signal only while the Request lives (undici holds its controller through a
  // WeakRef). Nothing kept it once xnonceFetch had returned: after a collection the timeout no
  // longer bounded the body read, which hung.
  require('node:v8').setFlagsFromString('--expose-gc')
  const gc = require('node:vm').runInNewContext('gc')
  const stalled = await listen((req, res) => {
    res.writeHead(200, { 'content-length': '100' })
    res.write('a')
  })
  try {
    const signedFetch = xnonce.xnonceFetch(creds())
    const controller = new AbortController()
    // The Request is made and dropped inside the call, as `signedFetch(new Request(...))` does.
    const res = await signedFetch(new Request(`${stalled.url}/a/b`, { signal: controller.signal }))
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setImmediate(resolve))
      gc()
    }
    const reading = res.text()
    await new Promise((resolve) => setImmediate(resolve))
    controller.abort(new Error('the caller gave up'))
    await assert.rejects(settlesWithin(reading, 5000, 'res.text()'), /the caller gave up/)
  } finally {
    await stalled.close()
  }
})

test("the caller's signal aborts the reading of a request body stream that never ends", async () => {
  const recorder = await recordingServer()
  try {
    const signedFetch = xnonce.xnonceFetch(creds())
    let cancelled
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('the first bytes, then nothing'))
      },
      cancel(reason) {
        cancelled = reason
      },
    })
    const call = signedFetch(`${recorder.url}/a/b`, {
      method: 'POST',
      body,
      duplex: 'half',
      signal: AbortSignal.timeout(200),
    })
    await assert.rejects(settlesWithin(call, 5000, 'xnonceFetch'), { name: 'TimeoutError' })
    assert.equal(cancelled?.name, 'TimeoutError', 'the body stream is cancelled')
    assert.equal(recorder.requests.length, 0, 'nothing was sent')
    // Already aborted: rejects at once, as fetch does.
    const aborted = AbortSignal.abort(new Error('before the call'))
    await assert.rejects(
      signedFetch(`${recorder.url}/a/b`, { method: 'POST', body: 'x', signal: aborted }),
      /before the call/,
    )
  } finally {
    await recorder.close()
  }
})
