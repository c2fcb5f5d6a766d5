'use strict'
// xnonceFetch against a real xnonce-server (serve --demo) on 127.0.0.1.

const test = require('node:test')
const assert = require('node:assert/strict')
const xnonce = require('..')
const { startServer } = require('./helpers.js')

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
