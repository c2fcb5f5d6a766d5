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
  // An ArrayBuffer (as fetch's arrayBuffer() gives) signs and verifies as its bytes, as in
  // xnonce-wasm; a detached one is a TypeError, never an empty body.
  const buffer = new Uint8Array(body).buffer
  const opts = { host: 'api.test', timestamp: T, nonce: '0'.repeat(32) }
  assert.equal(
    xnonce.sign('v2', 'POST', '/a/b', [], 'svc', SECRET, { ...opts, body: buffer }),
    xnonce.sign('v2', 'POST', '/a/b', [], 'svc', SECRET, { ...opts, body }),
  )
  assert.equal(v.verify('POST', '/a/b', { ...req, body: buffer }).client, 'svc')
  const detached = new ArrayBuffer(7)
  structuredClone(detached, { transfer: [detached] })
  assert.throws(() => v.verify('POST', '/a/b', { ...req, body: detached }), {
    name: 'TypeError',
    message:
      /^Expect value to be a Uint8Array, an ArrayBuffer or a string, but received a detached ArrayBuffer/,
  })
  assert.throws(
    () => xnonce.sign('v2', 'POST', '/a/b', [], 'svc', SECRET, { ...opts, body: detached }),
    TypeError,
  )
  // A view of a detached buffer too (it says 0 bytes: it was signed as an empty body).
  const view = new Uint8Array(7)
  structuredClone(view.buffer, { transfer: [view.buffer] })
  for (const f of [
    () => v.verify('POST', '/a/b', { ...req, body: view }),
    () => xnonce.sign('v2', 'POST', '/a/b', [], 'svc', SECRET, { ...opts, body: view }),
    () => xnonce.signDetailed('v2', 'POST', '/a/b', [], 'svc', SECRET, { ...opts, body: view }),
  ]) {
    assert.throws(f, { name: 'TypeError', message: /but received a view of a detached ArrayBuffer/ })
  }
  // And a view that its resizable buffer no longer holds (it says 0 bytes too), as in
  // xnonce-wasm (whose `new Uint8Array(view)` throws for it).
  const resizable = new ArrayBuffer(8, { maxByteLength: 8 })
  const outside = new Uint8Array(resizable, 4, 4)
  resizable.resize(2)
  for (const f of [
    () => v.verify('POST', '/a/b', { ...req, body: outside }),
    () => xnonce.sign('v2', 'POST', '/a/b', [], 'svc', SECRET, { ...opts, body: outside }),
    () => xnonce.sign('v2', 'POST', '/a/b', {}, 'svc', SECRET, { ...opts, body: outside }),
    () => xnonce.signRequest('v2', 'POST', '/a/b', 'svc', SECRET, { ...opts, body: outside }),
  ]) {
    assert.throws(f, {
      name: 'TypeError',
      message: /but received a view out of its resized ArrayBuffer's bounds/,
    })
  }
  // A view of it that is empty but within its bounds is an empty body.
  assert.equal(
    xnonce.sign('v2', 'POST', '/a/b', [], 'svc', SECRET, { ...opts, body: new Uint8Array(resizable, 2) }),
    xnonce.sign('v2', 'POST', '/a/b', [], 'svc', SECRET, { ...opts, body: '' }),
  )

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

test("a body's bytes are read with it: code that shrinks or detaches its buffer later is no crash", () => {
  // The caller's code that runs after the body is read — a params iterator, a later option's
  // getter — may shrink the body's resizable buffer (or detach it). The bytes it had when
  // read are signed and verified, never the memory a pointer into the buffer would read
  // after (a shrunk buffer's pages are made inaccessible: a SIGSEGV). In a child process.
  const { spawnSync } = require('node:child_process')
  const script = `
    const xnonce = require(${JSON.stringify(require.resolve('..'))})
    const SECRET = ${JSON.stringify(SECRET)}
    const opts = { host: 'api.test', timestamp: ${T}, nonce: '0'.repeat(32) }
    const bytes = () => new Uint8Array(new ArrayBuffer(1 << 20, { maxByteLength: 1 << 20 })).fill(7)
    const shrink = (view) => view.buffer.resize(0)
    const expected = xnonce.sign('v2', 'POST', '/a/b', [], 'svc', SECRET, { ...opts, body: bytes() })
    const body = bytes()
    const params = { *[Symbol.iterator]() { shrink(body) } }
    console.log(xnonce.sign('v2', 'POST', '/a/b', params, 'svc', SECRET, { ...opts, body }) === expected)
    const request = bytes()
    const parts = { host: 'api.test', body: request, nonce: opts.nonce, get timestamp() { shrink(request); return opts.timestamp } }
    console.log(xnonce.signRequest('v2', 'POST', '/a/b', 'svc', SECRET, parts) === expected)
    const received = bytes()
    const req = { host: 'api.test', xNonce: expected, body: received, get now() { shrink(received); return opts.timestamp } }
    console.log(new xnonce.Verifier({ svc: SECRET }).verify('POST', '/a/b', req).client)
  `
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' })
  assert.deepEqual([child.signal, child.status, child.stderr], [null, 0, ''])
  assert.equal(child.stdout, 'true\ntrue\nsvc\n')
})

test('rotation: any live secret verifies and secretIndex says which', () => {
  const v = new xnonce.Verifier({ svc: [SECRET, NEW_SECRET] })
  const xNonce = xnonce.sign('v2', 'GET', '/a/b', [], 'svc', NEW_SECRET, { host: 'h.test', timestamp: T })
  assert.equal(v.verify('GET', '/a/b', { host: 'h.test', xNonce, now: T }).secretIndex, 1)
})

test('setSecrets rotates the secrets and keeps the replay store', () => {
  const v = new xnonce.Verifier({ svc: SECRET })
  const signed = (secret) =>
    xnonce.sign('v2', 'GET', '/a/b', [], 'svc', secret, { host: 'h.test', timestamp: T })
  const old = signed(SECRET)
  const req = (xNonce) => ({ host: 'h.test', xNonce, now: T })
  assert.equal(v.verifyOnce('GET', '/a/b', req(old)).client, 'svc')
  v.setSecrets(new Map([['svc', [SECRET, NEW_SECRET]]]))
  // The request accepted before the rotation is still a replay after it.
  assert.throws(() => v.verifyOnce('GET', '/a/b', req(old)), { code: 'replayed' })
  assert.equal(v.verifyOnce('GET', '/a/b', req(signed(NEW_SECRET))).secretIndex, 1)
  v.setSecrets({ svc: NEW_SECRET })
  assert.throws(() => v.verify('GET', '/a/b', req(signed(SECRET))), { code: 'signature_mismatch' })
  // A table that cannot be used changes nothing.
  assert.throws(() => v.setSecrets({ svc: 'has space' }), { code: 'invalid_secret' })
  assert.throws(() => v.setSecrets([['svc', SECRET]]), TypeError)
  assert.equal(v.verify('GET', '/a/b', req(signed(NEW_SECRET))).client, 'svc')
  assert.throws(() => new xnonce.Verifier([['svc', SECRET]]), TypeError)
})

test('a lookup function gives the secrets, on each request', () => {
  const table = new Map([['svc', SECRET]])
  const asked = []
  const v = new xnonce.Verifier((client) => {
    asked.push(client)
    return table.get(client)
  })
  const signed = (client, secret) =>
    xnonce.sign('v2', 'GET', '/a/b', [], client, secret, { host: 'h.test', timestamp: T })
  const req = (xNonce) => ({ host: 'h.test', xNonce, now: T })
  const first = signed('svc', SECRET)
  assert.equal(v.verifyOnce('GET', '/a/b', req(first)).client, 'svc')
  assert.throws(() => v.verifyOnce('GET', '/a/b', req(first)), { code: 'replayed' })
  assert.throws(() => v.verify('GET', '/a/b', req(signed('other', SECRET))), { code: 'unknown_client' })
  assert.deepEqual(asked, ['svc', 'svc', 'other'])
  // Looked up each time: a client added to the caller's table verifies from its next request.
  table.set('other', [NEW_SECRET, SECRET])
  assert.equal(v.verify('GET', '/a/b', req(signed('other', SECRET))).secretIndex, 1)
  // Live data: a stored secret that is not one is skipped (never matches), the others count.
  table.set('svc', ['has space', SECRET, ''])
  assert.equal(v.verify('GET', '/a/b', req(signed('svc', SECRET))).secretIndex, 0)
  table.set('svc', 'has space')
  assert.throws(() => v.verify('GET', '/a/b', req(signed('svc', SECRET))), { code: 'unknown_client' })
  table.set('svc', null)
  assert.throws(() => v.verify('GET', '/a/b', req(signed('svc', SECRET))), { code: 'unknown_client' })
})

test('a lookup may replace the secrets or verify again while it runs', () => {
  const signed = (client) =>
    xnonce.sign('v2', 'GET', '/a/b', [], client, SECRET, { host: 'h.test', timestamp: T })
  const req = (xNonce) => ({ host: 'h.test', xNonce, now: T })
  const inner = signed('inner')
  let calls = 0
  const v = new xnonce.Verifier((client) => {
    calls += 1
    if (client === 'outer') {
      // Re-entered: a verification inside the lookup, then the source replaced mid-call.
      assert.equal(v.verifyOnce('GET', '/a/b', req(inner)).client, 'inner')
      v.setSecrets({ outer: NEW_SECRET, inner: SECRET })
    }
    return SECRET
  })
  // The outer request is checked against what this lookup returned, the table comes after.
  assert.equal(v.verifyOnce('GET', '/a/b', req(signed('outer'))).client, 'outer')
  assert.equal(calls, 2)
  assert.throws(() => v.verifyOnce('GET', '/a/b', req(inner)), { code: 'replayed' })
  assert.throws(() => v.verify('GET', '/a/b', req(signed('outer'))), { code: 'signature_mismatch' })
  assert.equal(calls, 2, 'the lookup is gone')
})

test('a lookup that calls back without end is a RangeError, not a crash', () => {
  const xNonce = xnonce.sign('v2', 'GET', '/a/b', [], 'svc', SECRET, { host: 'h.test', timestamp: T })
  const req = { host: 'h.test', xNonce, now: T }
  let depth = 0
  const v = new xnonce.Verifier(() => {
    depth += 1
    v.verify('GET', '/a/b', req) // a bug: the lookup verifies again, and again
    return SECRET
  })
  assert.throws(
    () => v.verify('GET', '/a/b', req),
    (e) => e instanceof RangeError && e.code === 'ERR_XNONCE_NESTED_TOO_DEEP',
  )
  // Refused at the 17th call into the lookup, long before the native stack runs out (a
  // debug build's stack overflowed, SIGSEGV, at about 50).
  assert.equal(depth, 16)
  // Nothing is left counted: the next lookup runs at depth 1 again.
  v.setSecrets(() => SECRET)
  assert.equal(v.verify('GET', '/a/b', req).client, 'svc')
})

test("a lookup's throw is thrown as is; an answer that is no secrets is a TypeError", () => {
  const down = new Error('secrets database unreachable')
  const xNonce = xnonce.sign('v2', 'GET', '/a/b', [], 'svc', SECRET, { host: 'h.test', timestamp: T })
  const req = { host: 'h.test', xNonce, now: T }
  const v = new xnonce.Verifier(() => {
    throw down
  })
  for (const check of ['verify', 'verifyOnce']) {
    assert.throws(
      () => v[check]('GET', '/a/b', req),
      (thrown) => thrown === down,
    )
  }
  // Any value, not only an Error: what a getter of its answer throws too.
  const getterThrows = [SECRET]
  Object.defineProperty(getterThrows, 1, {
    get() {
      throw down
    },
  })
  for (const thrown of [
    'down',
    undefined,
    null,
    42,
    Symbol('down'),
    Object.create(null),
    { code: 'E_DOWN' },
  ]) {
    v.setSecrets(() => {
      throw thrown
    })
    for (const check of ['verify', 'verifyOnce']) {
      assert.throws(
        () => v[check]('GET', '/a/b', req),
        (caught) => caught === thrown,
      )
    }
  }
  v.setSecrets(() => getterThrows)
  assert.throws(
    () => v.verifyOnce('GET', '/a/b', req),
    (thrown) => thrown === down,
  )
  for (const [answer, says] of [
    [Promise.resolve(SECRET), /not a Promise \(the lookup is called synchronously/],
    [{ secret: SECRET }, /not an object/],
    [42, /not a number/],
    [[SECRET, 42], /not an array holding a number/],
    // A hole, or a null in the list: named, not "another value".
    [[SECRET, , SECRET], /not an array holding undefined$/],
    [[null], /not an array holding null$/],
  ]) {
    v.setSecrets(() => answer)
    assert.throws(
      () => v.verifyOnce('GET', '/a/b', req),
      (thrown) =>
        thrown instanceof TypeError && !(thrown instanceof xnonce.XNonceError) && says.test(thrown.message),
    )
  }
  // Nothing was recorded by the refused calls: the request is still a first copy.
  v.setSecrets((client) => (client === 'svc' ? SECRET : undefined))
  assert.equal(v.verifyOnce('GET', '/a/b', req).client, 'svc')
})

test('a Proxy of an array is an array, as Array.isArray says (a Vue reactive list, say)', () => {
  const signed = (secret) =>
    xnonce.sign('v2', 'GET', '/a/b', [], 'svc', secret, { host: 'h.test', timestamp: T })
  const req = (xNonce) => ({ host: 'h.test', xNonce, now: T })
  const list = new Proxy([SECRET, NEW_SECRET], {})
  // Node-API alone reads none of these as an array: the table's list was "a secret must be a
  // string", the lookup's answer "not an object".
  for (const v of [new xnonce.Verifier({ svc: list }), new xnonce.Verifier(() => list)]) {
    assert.equal(v.verify('GET', '/a/b', req(signed(NEW_SECRET))).secretIndex, 1)
  }
  // Read through its traps, once per use: a revoked one throws JavaScript's own TypeError.
  const { proxy, revoke } = Proxy.revocable([SECRET], {})
  const v = new xnonce.Verifier(() => proxy)
  assert.equal(v.verify('GET', '/a/b', req(signed(SECRET))).client, 'svc')
  revoke()
  assert.throws(
    () => v.verify('GET', '/a/b', req(signed(SECRET))),
    (e) => e instanceof TypeError && /revoked/.test(e.message),
  )
  // And an array of pairs is refused as the table, Proxy or not: `new Map(pairs)`.
  assert.throws(() => new xnonce.Verifier(new Proxy([['svc', SECRET]], {})), TypeError)
})

test('a Verifier whose lookup reaches the verifier itself is collected (no native GC root)', async () => {
  require('node:v8').setFlagsFromString('--expose-gc')
  const gc = require('node:vm').runInNewContext('gc')
  const collected = { self: 0, replaced: 0 }
  const registry = new FinalizationRegistry((kind) => collected[kind]++)
  const make = (kind) => {
    // The lookup's closure holds the verifier, as an app's does when it holds both.
    const verifier = new xnonce.Verifier((client) => (verifier && client === 'svc' ? SECRET : null))
    if (kind === 'replaced')
      verifier.setSecrets((client) => (verifier && client === 'svc' ? NEW_SECRET : null))
    registry.register(verifier, kind)
    return verifier
  }
  // In use, the lookup (the one set last) is called as before.
  const header = (secret) =>
    xnonce.sign('v2', 'GET', '/a/b', [], 'svc', secret, { host: 'h.test', timestamp: T })
  assert.equal(
    make('self').verify('GET', '/a/b', { host: 'h.test', xNonce: header(SECRET), now: T }).client,
    'svc',
  )
  const replaced = make('replaced')
  assert.equal(
    replaced.verify('GET', '/a/b', { host: 'h.test', xNonce: header(NEW_SECRET), now: T }).client,
    'svc',
  )
  replaced.setSecrets({ svc: SECRET })
  assert.equal(
    replaced.verify('GET', '/a/b', { host: 'h.test', xNonce: header(SECRET), now: T }).client,
    'svc',
  )
  for (let i = 0; i < 20; i++) {
    make('self')
    make('replaced')
  }
  for (let i = 0; i < 20 && (collected.self < 20 || collected.replaced < 20); i++) {
    gc()
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  // A napi reference to the lookup held by the native verifier was a GC root: none was.
  assert.ok(collected.self >= 20 && collected.replaced >= 20, JSON.stringify(collected))
  // A frozen verifier (which takes no property) still takes a lookup and a table.
  const frozen = Object.freeze(new xnonce.Verifier((client) => (client === 'svc' ? SECRET : null)))
  const req = (secret) => ({ host: 'h.test', xNonce: header(secret), now: T })
  assert.equal(frozen.verify('GET', '/a/b', req(SECRET)).client, 'svc')
  frozen.setSecrets((client) => (client === 'svc' ? NEW_SECRET : null))
  assert.equal(frozen.verify('GET', '/a/b', req(NEW_SECRET)).client, 'svc')
  frozen.setSecrets({ svc: SECRET })
  assert.equal(frozen.verify('GET', '/a/b', req(SECRET)).client, 'svc')
  frozen.setSecrets(() => NEW_SECRET)
  assert.equal(frozen.verify('GET', '/a/b', req(NEW_SECRET)).client, 'svc')
})

test('controllerWindows / actionWindows of the wrong JavaScript type are a TypeError, not invalid_path', () => {
  for (const option of ['controllerWindows', 'actionWindows']) {
    for (const [value, received] of [
      ['reports', 'String'],
      [5000, 'Number'],
      [true, 'Boolean'],
      [() => 5000, 'Function'],
    ]) {
      assert.throws(() => new xnonce.Verifier({ svc: SECRET }, { [option]: value }), {
        name: 'TypeError',
        code: 'ObjectExpected',
        message: `Expect value to be Object, but received ${received} on VerifierOptions.${option}`,
      })
    }
  }
  // An object is read as before: a table of windows.
  assert.ok(new xnonce.Verifier({ svc: SECRET }, { controllerWindows: { reports: 5000 } }))
})

test('routes: the route and param rules are checked before the credential, as the server does', () => {
  const routes = new Map([
    ['c', { __default_parameters: { k: 'req' }, a_get: { x: 'exc' } }],
    ['d', new Map([['b_post', {}]])],
  ])
  const routed = new xnonce.Verifier({ svc: SECRET }, { routes })
  const header = xnonce.signRequest('v2', 'GET', '/c/a?k=1', 'svc', SECRET, { host: 'h', timestamp: T })
  assert.deepEqual(routed.verify('GET', '/c/a?k=1', { host: 'h', xNonce: header, now: T }).params, [
    ['k', '1'],
  ])
  for (const [target, code, message] of [
    ['/c/a', 'missing_param', 'Missing required parameter k'],
    ['/c/a?k=1&x=2', 'excluded_param', 'Included invalid parameter x'],
    ['/d/b', 'unknown_route', 'action_method (b_get) not found in controller d'],
    ['/e/a?k=1', 'unknown_route', 'controller (e) not found'],
  ]) {
    for (const xNonce of [header, null]) {
      assert.throws(() => routed.verifyOnce('GET', target, { host: 'h', xNonce, now: T }), {
        name: 'RouteError',
        code,
        message,
      })
    }
  }
  // None of those was recorded: the request that meets the rules is accepted once.
  routed.verifyOnce('GET', '/c/a?k=1', { host: 'h', xNonce: header, now: T })
  assert.throws(() => routed.verifyOnce('GET', '/c/a?k=1', { host: 'h', xNonce: header, now: T }), {
    code: 'replayed',
  })
})

test('a window that names no route is warned of, as the server warns of it', async () => {
  // With routes, a request without one is refused before any window applies: a window on a
  // misspelt controller or action applies to no request. Warned of, not refused.
  const seen = []
  const record = (w) => seen.push(w)
  process.on('warning', record)
  try {
    const routes = { reports: { daily_get: {}, 'a%62_get': {} } }
    assert.ok(
      new xnonce.Verifier(
        { svc: SECRET },
        {
          controllerWindows: { reprots: 60000, reports: 10000 },
          actionWindows: { 'reports/live': 1000, 'reports/daily': 5000 },
          routes,
        },
      ),
    )
    // A route takes its window by its decoded name (a%62 is ab); windows apply by path
    // without routes: nothing to say in either case.
    new xnonce.Verifier({ svc: SECRET }, { actionWindows: { 'reports/ab': 1000 }, routes })
    new xnonce.Verifier({ svc: SECRET }, { controllerWindows: { reprots: 60000 } })
    await new Promise((r) => setImmediate(r)) // warnings are emitted on the next tick
  } finally {
    process.off('warning', record)
  }
  assert.deepEqual(
    seen.map((w) => [w.name, w.code, w.message]),
    [
      [
        'Warning',
        'XNONCE_WINDOW_NO_ROUTE',
        'Verifier: controllerWindows["reprots"] names no route, so it applies to no request (a misspelt controller or action?)',
      ],
      [
        'Warning',
        'XNONCE_WINDOW_NO_ROUTE',
        'Verifier: actionWindows["reports/live"] names no route, so it applies to no request (a misspelt controller or action?)',
      ],
    ],
  )
})

test('routes no request could match are refused when the verifier is made; other shapes are a TypeError', () => {
  for (const [routes, code] of [
    [{ '/c': {} }, 'invalid_path'],
    [{ 'c d': { a_get: {} } }, 'invalid_path'],
    [{ c: { 'a?_get': {} } }, 'invalid_path'],
    [{ c: { 'x/a_get': {} } }, 'invalid_path'],
    [{ c: { a_get: {}, a_GET: {} } }, 'invalid_path'],
    [{ c: { a: {} } }, 'invalid_path'],
    [{ c: { __defaults: {} } }, 'invalid_path'],
    [{ c: { a_g3t: {} } }, 'invalid_method'],
    [{ c: { a_get: { '': 'req' } } }, 'invalid_param_key'],
    [{ c: { __default_parameters: { ottoken: 'exc' } } }, 'invalid_param_key'],
    [{ c: { a_get: { x: 'maybe' } } }, 'invalid_param_value'],
  ]) {
    assert.throws(
      () => new xnonce.Verifier({ svc: SECRET }, { routes }),
      { name: 'InputError', code },
      JSON.stringify(routes),
    )
  }
  for (const routes of [
    'c',
    5,
    [['c', {}]],
    { c: [['a_get', {}]] },
    { c: { a_get: 'req' } },
    { c: { a_get: { x: 1 } } },
  ]) {
    assert.throws(
      () => new xnonce.Verifier({ svc: SECRET }, { routes }),
      { name: 'TypeError' },
      JSON.stringify(routes),
    )
  }
})

test("a Proxy of an array is read as the Verifier's schemes and hosts too", () => {
  const req = (scheme) => ({
    host: 'h.test',
    xNonce: xnonce.sign(scheme, 'GET', '/a/b', [], 'svc', SECRET, { host: 'h.test', timestamp: T }),
    now: T,
  })
  // Node-API's array conversion threw "Failed to get Array length" for both.
  const v = new xnonce.Verifier(
    { svc: SECRET },
    { schemes: new Proxy(['v2'], {}), hosts: new Proxy(['other.test', 'H.test'], {}) },
  )
  assert.equal(v.verify('GET', '/a/b', req('v2')).client, 'svc')
  assert.throws(() => v.verify('GET', '/a/b', req('v1')), { code: 'unsupported_scheme' })
  const elsewhere = new xnonce.Verifier({ svc: SECRET }, { hosts: new Proxy(['other.test'], {}) })
  assert.throws(() => elsewhere.verify('GET', '/a/b', req('v2')), { code: 'invalid_host' })
  // Not an array at all is a TypeError naming the types and the field (napi's was "Failed to
  // get Array length"); a revoked Proxy, JavaScript's own.
  for (const [schemes, received] of [
    ['v2', 'String'],
    [{ 0: 'v2', length: 1 }, 'Object'],
  ]) {
    assert.throws(() => new xnonce.Verifier({ svc: SECRET }, { schemes }), {
      name: 'TypeError',
      code: 'ArrayExpected',
      message: `Expect value to be Array, but received ${received} on VerifierOptions.schemes`,
    })
  }
  const { proxy, revoke } = Proxy.revocable(['v2'], {})
  revoke()
  assert.throws(
    () => new xnonce.Verifier({ svc: SECRET }, { schemes: proxy }),
    (e) => e instanceof TypeError && /revoked/.test(e.message),
  )
})

test('hosts: a v2 request signed for a host the service does not serve is invalid_host', () => {
  const v = new xnonce.Verifier({ svc: SECRET }, { hosts: ['API.test', 'api.test:8443'] })
  const signedFor = (scheme, host) =>
    xnonce.sign(
      scheme,
      'GET',
      '/a/b',
      [],
      'svc',
      SECRET,
      scheme === 'v2' ? { host, timestamp: T } : { timestamp: T },
    )
  for (const host of ['api.test', 'api.test:443', 'Api.Test:8443']) {
    assert.equal(v.verify('GET', '/a/b', { host, xNonce: signedFor('v2', host), now: T }).client, 'svc', host)
  }
  for (const host of ['staging.test', 'api.test:8080']) {
    const req = { host, xNonce: signedFor('v2', host), now: T }
    assert.equal(
      new xnonce.Verifier({ svc: SECRET }).verify('GET', '/a/b', req).client,
      'svc',
      `${host}: any host`,
    )
    assert.throws(() => v.verify('GET', '/a/b', req), {
      code: 'invalid_host',
      message: 'the request is for a host this service does not serve',
    })
  }
  // v1 signs no host: not checked.
  assert.equal(
    v.verify('GET', '/a/b', { host: 'staging.test', xNonce: signedFor('v1'), now: T }).scheme,
    'v1',
  )
  assert.throws(() => new xnonce.Verifier({ svc: SECRET }, { hosts: [] }), { code: 'invalid_host' })
  assert.throws(() => new xnonce.Verifier({ svc: SECRET }, { hosts: ['a b'] }), { code: 'invalid_host' })
  assert.throws(() => new xnonce.Verifier({ svc: SECRET }, { hosts: ['x\ud800'] }), {
    code: 'invalid_host',
    message: 'a host the verifier serves is not valid Unicode text (it holds a lone surrogate)',
  })
})

test('an action window key splits at its last slash, as a path does', () => {
  // /api/v1/users/list: controller api/v1/users, action list (PROTOCOL §11.3).
  const v = new xnonce.Verifier(
    { svc: SECRET },
    { windowMs: 1000, actionWindows: { 'api/v1/users/list': 10000 } },
  )
  const xNonce = xnonce.sign('v2', 'GET', '/api/v1/users/list', [], 'svc', SECRET, {
    host: 'h',
    timestamp: T,
  })
  assert.equal(v.verify('GET', '/api/v1/users/list', { host: 'h', xNonce, now: T + 9000 }).client, 'svc')
  for (const bad of ['reports', 'reports/']) {
    assert.throws(() => new xnonce.Verifier({ svc: SECRET }, { actionWindows: { [bad]: 10000 } }), {
      code: 'invalid_path',
    })
  }
  // Keys no request path can select (core's WindowPolicy::check_reachable): such a window
  // never applied, the default did.
  for (const options of [
    { actionWindows: { 'api//v1/list': 10000 } },
    { actionWindows: { '/reports/live': 10000 } },
    { controllerWindows: { 'reports/': 10000 } },
  ]) {
    assert.throws(() => new xnonce.Verifier({ svc: SECRET }, options), {
      code: 'invalid_path',
      message: /can never apply/,
    })
  }
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

test("a refusal carries core's answer: v1 text for v1 requests, a problem document for v2", () => {
  const v = new xnonce.Verifier({ svc: SECRET })
  const refusal = (call) => {
    try {
      call()
    } catch (e) {
      assert.ok(e instanceof xnonce.XNonceError, String(e))
      return e
    }
    assert.fail('no refusal')
  }
  const v2 = {
    host: 'h.test',
    xNonce: xnonce.sign('v2', 'GET', '/a/b', [], 'svc', SECRET, { host: 'h.test', timestamp: T }),
    now: T,
  }
  v.verifyOnce('GET', '/a/b', v2)
  const replayed = refusal(() => v.verifyOnce('GET', '/a/b', v2))
  assert.equal(replayed.code, 'replayed')
  assert.deepEqual(replayed.answer, {
    status: 409,
    headers: { 'content-type': 'application/problem+json' },
    body: JSON.stringify({
      type: 'https://xnonce.dev/errors/replayed',
      title: 'Request already used',
      status: 409,
      code: 'replayed',
      detail: 'ottoken already used',
    }),
  })

  const v1 = { xNonce: xnonce.sign('v1', 'GET', '/a/b', [], 'svc', SECRET, { timestamp: T }), now: T }
  v.verifyOnce('GET', '/a/b', v1)
  assert.deepEqual(refusal(() => v.verifyOnce('GET', '/a/b', v1)).answer, {
    status: 409,
    headers: { 'content-type': 'text/plain' },
    body: 'ottoken already used',
  })
  // No credential at all: em-secure-api's answer; a v2 ottoken in the query: a problem document.
  assert.deepEqual(refusal(() => v.verify('GET', '/a/b', { now: T })).answer, {
    status: 401,
    headers: { 'content-type': 'text/plain' },
    body: 'Method or nonce not provided',
  })
  const link = new URL(
    xnonce.link('v2', 'GET', '/a/b', [], 'svc', NEW_SECRET, 'https://h.test', { timestamp: T }),
  )
  const mismatch = refusal(() => v.verify('GET', link.pathname + link.search, { host: link.host, now: T }))
  assert.equal(mismatch.answer.status, 401)
  assert.equal(JSON.parse(mismatch.answer.body).code, 'signature_mismatch')

  // Stale: the server's time rides in the header (and, for v2, in the document).
  const stale = refusal(() => v.verify('GET', '/a/b', { ...v2, now: T + 60000 }))
  assert.equal(stale.answer.status, 401)
  assert.deepEqual(Object.keys(stale.answer.headers), ['content-type', 'x-nonce-server-time'])
  assert.equal(stale.answer.headers['x-nonce-server-time'], `${T + 60000} ${stale.serverTimeMac}`)
  const doc = JSON.parse(stale.answer.body)
  assert.deepEqual(
    [doc.code, doc.server_time, doc.server_time_mac],
    ['expired', T + 60000, stale.serverTimeMac],
  )
  const staleV1 = refusal(() => v.verify('GET', '/a/b', { ...v1, now: T + 60000 }))
  assert.equal(staleV1.answer.body, 'Request has timed out')
  assert.equal(staleV1.answer.headers['x-nonce-server-time'], `${T + 60000} ${staleV1.serverTimeMac}`)
})

test('errors that are not a refused request have no answer', () => {
  const v = new xnonce.Verifier({ svc: SECRET })
  const errors = [
    () => xnonce.sign('v2', 'GET', '/a/b', [], 'svc', 'not-hex', { host: 'h.test' }),
    () => xnonce.parseHeader('v2 nope'),
    () => new xnonce.Verifier({ svc: 'not hex' }),
    // The caller's own arguments, refused before any verification.
    () => v.verify('GET', '/a/b', { xNonce: 'v2 nope', now: -1 }),
    () => v.verifyOnce('POST', '/a/b', { xNonce: 'v2 nope', body: '\ud800' }),
  ]
  for (const call of errors) {
    assert.throws(call, (e) => e instanceof xnonce.XNonceError && e.answer === undefined && !('answer' in e))
  }
})

test('without index.js the addon throws plain errors that carry the answer too', () => {
  const { execFileSync } = require('node:child_process')
  const out = execFileSync(
    process.execPath,
    [
      '-e',
      `const n = require(${JSON.stringify(require.resolve('../xnonce.node'))})
       try { new n.Verifier({}).verify('GET', '/a/b') } catch (e) {
         console.log(JSON.stringify([e instanceof Error, e.code, e.family, e.answer]))
       }`,
    ],
    { encoding: 'utf8' },
  )
  assert.deepEqual(JSON.parse(out), [
    true,
    'missing_header',
    'format',
    { status: 401, headers: { 'content-type': 'text/plain' }, body: 'Method or nonce not provided' },
  ])
})

test("windows: core's bound for every binding, 0 to one day (86400000 ms), else invalid_timestamp", () => {
  const DAY = 86400000
  const make = (options) => new xnonce.Verifier({ svc: SECRET }, options)
  const each = (ms) => [
    { windowMs: ms },
    { controllerWindows: { reports: ms } },
    { actionWindows: { 'reports/live': ms } },
  ]
  for (const ms of [0, 1, 30000, DAY]) for (const options of each(ms)) make(options)
  for (const ms of [DAY + 1, 2 ** 53 - 1, -1, 1.5, NaN, Infinity]) {
    for (const options of each(ms)) {
      assert.throws(
        () => make(options),
        (e) =>
          e instanceof xnonce.InputError &&
          e.code === 'invalid_timestamp' &&
          /0\.\.=86400000 \(one day\)/.test(e.message),
        `${JSON.stringify(options)} (${ms})`,
      )
    }
  }
  // A value that is not a number is a TypeError that names the option and key.
  assert.throws(() => make({ controllerWindows: { reports: '5000' } }), {
    name: 'TypeError',
    message: /controllerWindows\["reports"\] must be a number/,
  })
  // The longest window keeps a key for a time SharedKeys accepts, exactly.
  const v = make({ windowMs: DAY })
  const xNonce = xnonce.sign('v2', 'GET', '/a/b', [], 'svc', SECRET, { host: 'h.test', timestamp: T })
  const ok = v.verify('GET', '/a/b', { host: 'h.test', xNonce, now: T - DAY })
  assert.equal(ok.rememberUntil, T + DAY)
  assert.equal(new xnonce.SharedKeys().ttlMs(ok.rememberUntil, T - DAY), 2 * DAY + 1000)
})
