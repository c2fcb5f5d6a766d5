'use strict'
// Verifier.verify / verifyOnce over requests signed by the binding: header and ottoken,
// both schemes, form and non-form bodies, secret rotation, windows and schemes.

const test = require('node:test')
const assert = require('node:assert/strict')
const xnonce = require('..')

const SECRET = '20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd'
const NEW_SECRET = 'b'.repeat(64)
const T = 1700000000000

test('v2 header with query params verifies once, then is replayed', () => {
  const params = [
    ['q', 'a b'],
    ['n', 2],
  ]
  const xNonce = xnonce.sign('v2', 'GET', '/reports/daily', params, 'svc', SECRET, {
    host: 'api.test:8080',
    timestamp: T,
  })
  const v = new xnonce.Verifier({ svc: SECRET })
  const req = { host: 'api.test:8080', xNonce, now: T + 1000 }
  const ok = v.verifyOnce('GET', '/reports/daily?q=a%20b&n=2', req)
  assert.equal(ok.scheme, 'v2')
  assert.equal(ok.client, 'svc')
  assert.equal(ok.timestamp, T)
  assert.deepEqual(ok.params, [
    ['q', 'a b'],
    ['n', '2'],
  ])
  assert.equal(ok.replayKey, `v2:svc:${xnonce.parseHeader(xNonce).nonce}`)
  assert.equal(ok.rememberUntil, T + 30000)
  assert.equal(ok.secretIndex, 0)
  assert.equal(ok.viaOttoken, false)
  assert.deepEqual(v.verify('GET', '/reports/daily?q=a%20b&n=2', req).client, 'svc', 'verify does not record')
  assert.throws(() => v.verifyOnce('GET', '/reports/daily?q=a%20b&n=2', req), { code: 'replayed' })
})

test('v1 header verifies with params in the signed order', () => {
  const xNonce = xnonce.sign(
    'v1',
    'get',
    '/controller1/action1',
    { username: 'phil', opt1: 'x y' },
    'svc',
    SECRET,
    { timestamp: T },
  )
  const v = new xnonce.Verifier(new Map([['svc', SECRET]]))
  const ok = v.verify('GET', '/controller1/action1?username=phil&opt1=x+y', { xNonce, now: T })
  assert.equal(ok.scheme, 'v1')
  assert.deepEqual(ok.params, [
    ['username', 'phil'],
    ['opt1', 'x y'],
  ])
  assert.throws(() => v.verify('GET', '/controller1/action1?opt1=x+y&username=phil', { xNonce, now: T }), {
    code: 'signature_mismatch',
  })
})

test('a link verifies through its ottoken, for both schemes', () => {
  const v = new xnonce.Verifier({ svc: SECRET })
  for (const scheme of ['v1', 'v2']) {
    const url = new URL(
      xnonce.link(scheme, 'GET', '/files/fetch', [['name', 'r 1.pdf']], 'svc', SECRET, 'https://api.test', {
        timestamp: T,
      }),
    )
    const ok = v.verifyOnce('GET', url.pathname + url.search, { host: url.host, now: T })
    assert.equal(ok.viaOttoken, true)
    assert.equal(ok.scheme, scheme)
    assert.deepEqual(ok.params, [['name', 'r 1.pdf']])
  }
})

test('v2 bodies: JSON by digest, forms by fields; a changed body fails', () => {
  const v = new xnonce.Verifier({ svc: SECRET })
  const body = Buffer.from('{"a":1}')
  const xNonce = xnonce.sign('v2', 'POST', '/a/b', [], 'svc', SECRET, {
    host: 'api.test',
    timestamp: T,
    body,
  })
  const req = { host: 'api.test', xNonce, now: T, contentType: 'application/json' }
  assert.equal(v.verify('POST', '/a/b', { ...req, body }).client, 'svc')
  assert.equal(v.verify('POST', '/a/b', { ...req, body: new Uint8Array(body) }).client, 'svc')
  assert.equal(v.verify('POST', '/a/b', { ...req, body: '{"a":1}' }).client, 'svc')
  assert.throws(() => v.verify('POST', '/a/b', { ...req, body: '{"a":2}' }), { code: 'signature_mismatch' })

  const form = xnonce.signRequest('v2', 'POST', '/a/b?x=1', 'svc', SECRET, {
    host: 'api.test',
    contentType: 'application/x-www-form-urlencoded',
    body: 'y=2&z=a+b',
    timestamp: T,
  })
  const ok = v.verify('POST', '/a/b?x=1', {
    host: 'api.test',
    xNonce: form,
    now: T,
    contentType: 'application/x-www-form-urlencoded; charset=utf-8',
    body: Buffer.from('y=2&z=a+b'),
  })
  assert.deepEqual(ok.params, [
    ['x', '1'],
    ['y', '2'],
    ['z', 'a b'],
  ])
})

test('rotation: any live secret verifies and secretIndex says which', () => {
  const v = new xnonce.Verifier({ svc: [SECRET, NEW_SECRET] })
  const xNonce = xnonce.sign('v2', 'GET', '/a/b', [], 'svc', NEW_SECRET, { host: 'h.test', timestamp: T })
  assert.equal(v.verify('GET', '/a/b', { host: 'h.test', xNonce, now: T }).secretIndex, 1)
})

test('windows per controller and action; accepted schemes', () => {
  const v = new xnonce.Verifier(
    { svc: SECRET },
    {
      windowMs: 1000,
      controllerWindows: { reports: 120000 },
      actionWindows: { 'reports/live': 10 },
      schemes: ['v2'],
    },
  )
  const at = (path) => xnonce.sign('v2', 'GET', path, [], 'svc', SECRET, { host: 'h.test', timestamp: T })
  assert.equal(
    v.verify('GET', '/reports/daily', { host: 'h.test', xNonce: at('/reports/daily'), now: T + 100000 })
      .client,
    'svc',
  )
  assert.throws(
    () => v.verify('GET', '/reports/live', { host: 'h.test', xNonce: at('/reports/live'), now: T + 100 }),
    { code: 'expired' },
  )
  assert.throws(
    () => v.verify('GET', '/other/x', { host: 'h.test', xNonce: at('/other/x'), now: T + 2000 }),
    { code: 'expired' },
  )
  const v1 = xnonce.sign('v1', 'GET', '/a/b', [], 'svc', SECRET, { timestamp: T })
  assert.throws(() => v.verify('GET', '/a/b', { xNonce: v1, now: T }), { code: 'unsupported_scheme' })
  assert.throws(() => new xnonce.Verifier({ svc: '' }), { code: 'invalid_secret' })
  assert.throws(() => new xnonce.Verifier({ svc: SECRET }, { schemes: ['v9'] }), {
    code: 'unsupported_scheme',
  })
  assert.throws(() => new xnonce.Verifier({ svc: SECRET }, { schemes: [] }), {
    code: 'unsupported_scheme',
    message: /at least one scheme/,
  })
})

test('verify defaults to the system clock', () => {
  const xNonce = xnonce.sign('v2', 'GET', '/a/b', [], 'svc', SECRET, { host: 'h.test' })
  assert.equal(
    new xnonce.Verifier({ svc: SECRET }).verify('GET', '/a/b', { host: 'h.test', xNonce }).client,
    'svc',
  )
})
