'use strict'
// Every shared error code the binding can raise locally, as an XNonceError with the right
// `.code`, `.family` and subclass. The route codes come from the live server (live.test.js).

const test = require('node:test')
const assert = require('node:assert/strict')
const xnonce = require('..')

const SECRET = '20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd'
const OTHER = 'a'.repeat(64)
const T = 1700000000000
const V2 = { host: 'api.test', timestamp: T, nonce: '00112233445566778899aabbccddeeff' }

const sign = (scheme, method, path, params, client, secret, options) =>
  xnonce.sign(scheme, method, path, params, client, secret, options)
const verifier = (options) => new xnonce.Verifier({ svc: SECRET }, options)
const signedGet = (options = {}) => sign('v2', 'GET', '/a/b', [], 'svc', SECRET, { ...V2, ...options })

/** code -> a call that must throw it. */
const TRIGGERS = {
  invalid_client_id: () => sign('v1', 'GET', '/a/b', [], 'bad client', SECRET, { timestamp: T }),
  invalid_param_key: () => sign('v1', 'GET', '/a/b', [['a b', '1']], 'svc', SECRET, { timestamp: T }),
  invalid_param_value: () => sign('v1', 'GET', '/a/b', { x: null }, 'svc', SECRET, { timestamp: T }),
  invalid_secret: () => sign('v2', 'GET', '/a/b', [], 'svc', 'not-hex', V2),
  invalid_method: () => sign('v1', 'G T', '/a/b', [], 'svc', SECRET, { timestamp: T }),
  invalid_path: () => sign('v1', 'GET', 'a/b', [], 'svc', SECRET, { timestamp: T }),
  invalid_host: () => sign('v2', 'GET', '/a/b', [], 'svc', SECRET, { timestamp: T }),
  invalid_nonce: () => sign('v2', 'GET', '/a/b', [], 'svc', SECRET, { ...V2, nonce: 'xyz' }),
  invalid_timestamp: () => sign('v1', 'GET', '/a/b', [], 'svc', SECRET, { timestamp: 1.5 }),
  invalid_body: () => sign('v1', 'POST', '/a/b', [], 'svc', SECRET, { timestamp: T, body: Buffer.from('x') }),
  invalid_url: () => xnonce.link('v2', 'GET', '/a/b', [], 'svc', SECRET, 'ftp://api.test', V2),
  malformed_header: () => xnonce.parseHeader('v2 nope'),
  malformed_ottoken: () => xnonce.ottokenDecode('!!!'),
  malformed_params: () =>
    verifier().verify('GET', '/a/b?x=%ff', { host: 'api.test', xNonce: signedGet(), now: T }),
  missing_header: () => verifier().verify('GET', '/a/b', { host: 'api.test', now: T }),
  unsupported_scheme: () => sign('v3', 'GET', '/a/b', [], 'svc', SECRET, V2),
  unknown_client: () =>
    new xnonce.Verifier({ other: SECRET }).verify('GET', '/a/b', {
      host: 'api.test',
      xNonce: signedGet(),
      now: T,
    }),
  signature_mismatch: () =>
    new xnonce.Verifier({ svc: OTHER }).verify('GET', '/a/b', {
      host: 'api.test',
      xNonce: signedGet(),
      now: T,
    }),
  expired: () => verifier().verify('GET', '/a/b', { host: 'api.test', xNonce: signedGet(), now: T + 60000 }),
  replayed: () => {
    const v = verifier()
    const req = { host: 'api.test', xNonce: signedGet(), now: T }
    v.verifyOnce('GET', '/a/b', req)
    v.verifyOnce('GET', '/a/b', req)
  },
}

/** Codes only a server's route table raises (checked against the live server). */
const ROUTE_CODES = ['missing_param', 'excluded_param', 'unknown_route']
/** Codes of the client's transport and of a failing replay store. */
const UNAVAILABLE_CODES = ['store_unavailable', 'connection_failed', 'rate_limited']

const FAMILY_CLASS = {
  input: xnonce.InputError,
  format: xnonce.FormatError,
  auth: xnonce.AuthError,
  route: xnonce.RouteError,
  unavailable: xnonce.UnavailableError,
}

for (const [code, trigger] of Object.entries(TRIGGERS)) {
  test(`error code ${code}`, () => {
    const info = xnonce.errorCodes().find((c) => c.code === code)
    assert.ok(info, `${code} is a core code`)
    assert.throws(trigger, (e) => {
      assert.ok(e instanceof xnonce.XNonceError, `${e} is an XNonceError`)
      assert.ok(e instanceof Error)
      assert.ok(e instanceof FAMILY_CLASS[info.family], `${code} is a ${info.family} error`)
      assert.equal(e.code, code)
      assert.equal(e.family, info.family)
      assert.equal(e.name, FAMILY_CLASS[info.family].name)
      assert.ok(!e.message.includes(SECRET) && !e.message.includes(OTHER), 'no secret in the message')
      return true
    })
  })
}

test('every core code is covered here, by the live server tests, or is an unavailable code', () => {
  const covered = new Set([...Object.keys(TRIGGERS), ...ROUTE_CODES, ...UNAVAILABLE_CODES])
  assert.deepEqual(
    xnonce.ERROR_CODES.filter((c) => !covered.has(c)),
    [],
  )
  for (const code of UNAVAILABLE_CODES) {
    assert.equal(xnonce.errorCodes().find((c) => c.code === code).family, 'unavailable')
  }
})

test('an expired rejection carries the authenticated server time', () => {
  const xNonce = signedGet()
  assert.throws(
    () => verifier().verify('GET', '/a/b', { host: 'api.test', xNonce, now: T + 60000 }),
    (e) => {
      assert.equal(e.code, 'expired')
      assert.equal(e.serverTime, T + 60000)
      assert.match(e.serverTimeMac, /^[0-9a-f]{64}$/)
      return true
    },
  )
})

test('param values: numbers, bigints and booleans become core text; other values are refused', () => {
  const opts = { timestamp: T }
  const detailed = (params) => xnonce.signDetailed('v1', 'GET', '/a/b', params, 'svc', SECRET, opts).canonical
  assert.match(
    detailed([
      ['n', 3],
      ['f', 1.5],
      ['b', true],
      ['i', 10n ** 30n],
      ['z', -0],
    ]),
    /n=3&f=1\.5&b=true&i=1000000000000000000000000000000&z=0svc/,
  )
  assert.match(detailed({ big: 1e21, small: 1e-7 }), /big=1000000000000000000000&small=0\.0000001svc/)
  // The whole signed 128-bit range, both ends included (PROTOCOL §3.6.1), and no further.
  assert.match(
    detailed([
      ['lo', -(2n ** 127n)],
      ['hi', 2n ** 127n - 1n],
    ]),
    /lo=-170141183460469231731687303715884105728&hi=170141183460469231731687303715884105727svc/,
  )
  for (const bad of [
    2n ** 127n,
    -(2n ** 127n) - 1n,
    NaN,
    Infinity,
    -Infinity,
    null,
    undefined,
    {},
    [],
    Buffer.from('x'),
    new Uint8Array(1),
    Symbol('s'),
    () => 1,
    2n ** 200n,
  ]) {
    assert.throws(
      () => detailed([['k', bad]]),
      (e) => e instanceof xnonce.InputError && e.code === 'invalid_param_value',
    )
  }
  // The refusal names the key and the type, never the value.
  for (const [bad, kind] of [
    [null, 'null'],
    [undefined, 'undefined'],
    [{}, 'an object'],
    [Symbol('s'), 'a symbol'],
    [() => 1, 'a function'],
  ]) {
    assert.throws(
      () => detailed([['k', bad]]),
      (e) =>
        e.message.endsWith(`param "k": a value must be a string, number, bigint or boolean, not ${kind}`),
      kind,
    )
  }
  assert.throws(
    () => detailed([['k']]),
    (e) => e.code === 'invalid_param_value',
  )
  assert.throws(
    () => detailed(['k=v']),
    (e) => e.code === 'invalid_param_value',
  )
  assert.throws(
    () => detailed('k=v'),
    (e) => e.code === 'invalid_param_value',
  )
  assert.throws(
    () => detailed([[1, 'v']]),
    (e) => e.code === 'invalid_param_key',
  )
  // Entries that are objects but not arrays, array-likes included, are not pairs.
  for (const entry of ['k=v', {}, { 0: 'k', 1: 'v', length: 2 }, new Map([['k', 'v']])]) {
    assert.throws(
      () => detailed([['a', 'b'], entry]),
      (e) =>
        e instanceof xnonce.InputError &&
        e.code === 'invalid_param_value' &&
        e.message.includes('entry 1 is not a [key, value] pair'),
      String(entry),
    )
  }
})

test('params: pairs, plain objects, Map and URLSearchParams sign alike in their iteration order', () => {
  const opts = { timestamp: T }
  const x = (params) => xnonce.sign('v1', 'GET', '/a/b', params, 'svc', SECRET, opts)
  const expected = x([
    ['b', '2'],
    ['a', '1 2'],
  ])
  assert.equal(x({ b: 2, a: '1 2' }), expected)
  assert.equal(
    x(
      new Map([
        ['b', 2],
        ['a', '1 2'],
      ]),
    ),
    expected,
  )
  assert.equal(x(new URLSearchParams('b=2&a=1+2')), expected)
  // A Proxy of an array is an array, as Array.isArray says (Node-API says it is not), on the
  // general path too (a Map param value would take it: signDetailed is always on it).
  const proxied = new Proxy([new Proxy(['b', 2], {}), ['a', '1 2']], {})
  // One whose `length` trap answers a string, read as Array.from reads it (sign's fast path
  // passed it on as the pair count: a TypeError).
  const stringLength = (target) =>
    new Proxy(target, { get: (t, k) => (k === 'length' ? String(t.length) : t[k]) })
  for (const params of [
    stringLength([
      ['b', '2'],
      ['a', '1 2'],
    ]),
    stringLength([['b', 2], stringLength(['a', '1 2'])]),
  ]) {
    assert.equal(x(params), expected)
    assert.equal(xnonce.signDetailed('v1', 'GET', '/a/b', params, 'svc', SECRET, opts).xNonce, expected)
  }
  assert.equal(x(proxied), expected)
  assert.equal(xnonce.signDetailed('v1', 'GET', '/a/b', proxied, 'svc', SECRET, opts).xNonce, expected)
  assert.equal(
    xnonce.signDetailed('v1', 'GET', '/a/b', [new Proxy(['b', 2], {}), ['a', '1 2']], 'svc', SECRET, opts)
      .xNonce,
    expected,
  )
  assert.notEqual(
    x([
      ['a', '1 2'],
      ['b', '2'],
    ]),
    expected,
    'v1 signs the order',
  )
  assert.equal(x(null), x([]))
  assert.equal(x(undefined), x({}))
})

test('params that are neither pairs nor a plain object (a Date, a class instance) are refused, as in xnonce-wasm', async () => {
  const opts = { timestamp: T }
  const x = (params) => xnonce.sign('v1', 'GET', '/a/b', params, 'svc', SECRET, opts)
  class Query {
    constructor() {
      this.b = 2
      this.a = '1 2'
    }
  }
  const notPairs = (e) =>
    e instanceof xnonce.InputError &&
    e.code === 'invalid_param_value' &&
    e.message === 'expected an array of [key, value] pairs, a plain object, a Map or URLSearchParams'
  // A Date has no enumerable property: read as a record, it signed as no params at all.
  const withProto = Object.assign(Object.create({ inherited: 'x' }), { b: 2, a: '1 2' })
  const refused = [
    ['a Date', new Date(T)],
    ['a class instance', new Query()],
    ['an object with a prototype of its own', withProto],
    ['a RegExp', /b=2/],
  ]
  // A Proxy of one is the same object to JavaScript (Object.getPrototypeOf sees through it),
  // though Node-API gives every Proxy a null prototype: not a plain object either.
  for (const [name, bad] of [...refused]) refused.push([`a Proxy of ${name}`, new Proxy(bad, {})])
  for (const [name, bad] of refused) {
    assert.throws(() => x(bad), notPairs, name)
    assert.throws(
      () => xnonce.link('v1', 'GET', '/a/b', bad, 'svc', SECRET, 'http://h', opts),
      notPairs,
      name,
    )
    const api = new xnonce.Requester('http://127.0.0.1:9', 'svc', SECRET)
    await assert.rejects(api.makeRequest('GET', bad, '/a/b'), notPairs, name)
    await assert.rejects(api.makeRequest('GET', [], '/a/b', null, { extraParams: bad }), notPairs, name)
    // A Verifier's secrets likewise: a plain object or a Map (a TypeError, as for an array).
    assert.throws(
      () => new xnonce.Verifier(bad),
      (e) => e instanceof TypeError && e.code === 'ObjectExpected' && /secrets must be/.test(e.message),
      name,
    )
  }
  // Still read: plain objects (of any realm, or without a prototype), pairs, Maps,
  // URLSearchParams and any iterable of pairs, a class instance's too.
  const expected = x([
    ['b', '2'],
    ['a', '1 2'],
  ])
  assert.equal(x(Object.assign(Object.create(null), { b: 2, a: '1 2' })), expected)
  assert.equal(x(new Proxy({ b: 2, a: '1 2' }, {})), expected) // a Vue reactive object, say
  assert.equal(x(new Proxy(Object.assign(Object.create(null), { b: 2, a: '1 2' }), {})), expected)
  // The Proxy's getPrototypeOf trap is the caller's code: what it throws is thrown as is.
  const trap = new Error('trap')
  const throwing = new Proxy(
    { b: 2 },
    {
      getPrototypeOf: () => {
        throw trap
      },
    },
  )
  assert.throws(
    () => x(throwing),
    (e) => e === trap,
  )
  assert.equal(x(require('node:vm').runInNewContext("({ b: 2, a: '1 2' })")), expected)
  assert.equal(x(Object.entries(new Query())), expected)
  class Pairs {
    *[Symbol.iterator]() {
      yield ['b', 2]
      yield ['a', '1 2']
    }
  }
  assert.equal(x(new Pairs()), expected)
  const plainSecrets = require('node:vm').runInNewContext('({ svc: secret })', { secret: SECRET })
  assert.equal(
    new xnonce.Verifier(plainSecrets).verify('GET', '/a/b', { host: 'api.test', xNonce: signedGet(), now: T })
      .client,
    'svc',
  )
})

test("a plain object's own properties are read, not inherited ones, as Object.entries reads them", () => {
  // An enumerable property on Object.prototype (a polyfill's, a prototype-pollution bug's)
  // is inherited by every object literal: it must not be signed as a param, nor read as a
  // client of a Verifier (with its value as the secret), nor as a window, as in xnonce-wasm.
  // (Options objects are read with their inherited keys, as for…in reads them: those here
  // have no prototype.)
  const bare = (options) => Object.assign(Object.create(null), options)
  const pollutedBy = (value, run) => {
    Object.prototype.polluted = value
    try {
      return run()
    } finally {
      delete Object.prototype.polluted
    }
  }
  const v1 = (params) => sign('v1', 'GET', '/a/b', params, 'svc', SECRET, bare({ timestamp: T }))
  assert.equal(
    pollutedBy('x', () => v1({ a: '1' })),
    v1([['a', '1']]),
  )
  const link = (params) =>
    xnonce.link('v1', 'GET', '/a/b', params, 'svc', SECRET, 'http://h', bare({ timestamp: T }))
  assert.equal(
    pollutedBy('x', () => link({ a: '1' })),
    link([['a', '1']]),
  )
  const verifier = pollutedBy(OTHER, () => new xnonce.Verifier({ svc: SECRET }))
  const byPolluted = sign('v2', 'GET', '/a/b', [], 'polluted', OTHER, V2)
  assert.throws(() => verifier.verify('GET', '/a/b', { host: 'api.test', xNonce: byPolluted, now: T }), {
    code: 'unknown_client',
  })
  // As a window, 'polluted' would be a controller of 0 ms: every request to it stale. (The
  // secrets in a Map, which has no such property to inherit.)
  const secrets = new Map([['svc', SECRET]])
  const windowed = pollutedBy(0, () => new xnonce.Verifier(secrets, bare({ controllerWindows: {} })))
  const xNonce = sign('v2', 'GET', '/polluted/x', [], 'svc', SECRET, V2)
  assert.equal(
    windowed.verify('GET', '/polluted/x', { host: 'api.test', xNonce, now: T + 1000 }).client,
    'svc',
  )
})

test("a sparse array's length is no measure of its entries: its first hole is refused, no abort", async () => {
  // new Array(2 ** 32 - 1) holds nothing: read as pairs (or as a Verifier's hosts or
  // schemes), room was reserved for 4 billion entries first (some 200 GB), and the failed
  // allocation aborted the process. In a child
  // process, so that an abort is reported rather than ending this one.
  const { spawnSync } = require('node:child_process')
  const script = `
    const xnonce = require(${JSON.stringify(require.resolve('..'))})
    const SECRET = ${JSON.stringify(SECRET)}
    const sparse = () => new Array(2 ** 32 - 1)
    const code = (f) => { try { f() } catch (e) { return e.code + ': ' + e.message } }
    console.log(code(() => xnonce.sign('v2', 'GET', '/a/b', sparse(), 'svc', SECRET, { host: 'h' })))
    console.log(code(() => new xnonce.Verifier({ svc: SECRET }, { controllerWindows: sparse() })))
    console.log(code(() => new xnonce.Verifier({ svc: SECRET }, { hosts: sparse() })))
    console.log(code(() => new xnonce.Verifier({ svc: SECRET }, { schemes: sparse() })))
    new xnonce.Requester('http://127.0.0.1:9', 'svc', SECRET)
      .makeRequest('GET', [], '/a/b', null, { extraParams: sparse() })
      .catch((e) => console.log(e.code + ': ' + e.message))
  `
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' })
  assert.deepEqual([child.signal, child.status], [null, 0], child.stderr)
  assert.equal(
    child.stdout,
    'invalid_param_value: entry 0 is not a [key, value] pair\n' +
      'invalid_path: entry 0 is not a [key, value] pair\n' +
      'StringExpected: Expect value to be String, but received Undefined on VerifierOptions.hosts\n' +
      'StringExpected: Expect value to be String, but received Undefined on VerifierOptions.schemes\n' +
      'invalid_param_value: entry 0 is not a [key, value] pair\n',
  )
})

test('a Verifier needs its secrets as an object or Map of strings: other types are a TypeError', () => {
  for (const bad of [undefined, null, 5, 'svc', true]) {
    assert.throws(
      () => new xnonce.Verifier(bad),
      (e) => e instanceof TypeError && e.code === 'ObjectExpected' && /secrets must be/.test(e.message),
      String(bad),
    )
  }
  for (const bad of [5, undefined, null, {}, [5], ['ok', {}]]) {
    assert.throws(
      () => new xnonce.Verifier({ svc: bad }),
      (e) =>
        e instanceof TypeError && e.code === 'StringExpected' && /a secret must be a string/.test(e.message),
      String(bad),
    )
  }
  // A string that is not a valid secret is a value error, with the shared code.
  assert.throws(() => new xnonce.Verifier({ svc: 'not hex' }), { code: 'invalid_secret' })
  // A client id that is not a string (a Map's key) or not well-formed text: invalid_client_id,
  // said of the secrets table (not of params).
  for (const [secrets, what] of [
    [new Map([[5, SECRET]]), 'must be a string'],
    [new Map([[Symbol('svc'), SECRET]]), 'must be a string'],
    [{ ['svc\ud800']: SECRET }, 'is not valid Unicode text'],
    [new Map([['\udc00svc', SECRET]]), 'is not valid Unicode text'],
  ]) {
    assert.throws(
      () => new xnonce.Verifier(secrets),
      (e) =>
        e instanceof xnonce.InputError &&
        e.code === 'invalid_client_id' &&
        e.message.startsWith(`a client id in the secrets table ${what}`),
      what,
    )
  }
})

test('arguments of the wrong JavaScript type throw TypeError, keeping the napi status as .code', async () => {
  const v = verifier()
  const calls = {
    'sign (packed path)': () => sign('v2', 'GET', '/a/b', [], 'svc', 5, V2),
    'sign (general path)': () =>
      sign('v2', 'GET', '/a/b', [['k', 'v']], 'svc', SECRET, { ...V2, timestamp: 'x' }),
    signDetailed: () => xnonce.signDetailed('v2', 7, '/a/b', [], 'svc', SECRET, V2),
    link: () => xnonce.link('v2', 'GET', '/a/b', [], 'svc', SECRET, 42, V2),
    linkDetailed: () => xnonce.linkDetailed('v2', 'GET', '/a/b', [], 'svc', SECRET, null, V2),
    signRequest: () => xnonce.signRequest('v2', 'GET', '/a/b', 'svc', SECRET, { host: 5 }),
    ottokenEncode: () => xnonce.ottokenEncode(1),
    ottokenDecode: () => xnonce.ottokenDecode(null),
    ottokenQueryValue: () => xnonce.ottokenQueryValue({}),
    parseHeader: () => xnonce.parseHeader(5),
    'new Verifier': () => new xnonce.Verifier({ svc: SECRET }, { windowMs: '30000' }),
    'Verifier#verify': () => v.verify(5, '/a/b'),
    'Verifier#verifyOnce': () => v.verifyOnce('GET', '/a/b', { host: 5 }),
    'new Requester': () => new xnonce.Requester(7, 'svc', SECRET),
    'sign, options not an object': () => sign('v2', 'GET', '/a/b', [], 'svc', SECRET, 5),
    'signDetailed, options not an object': () =>
      xnonce.signDetailed('v2', 'GET', '/a/b', [], 'svc', SECRET, 'host'),
    'link, options not an object': () => xnonce.link('v2', 'GET', '/a/b', [], 'svc', SECRET, 'http://h', 1),
    'signRequest, parts not an object': () => xnonce.signRequest('v2', 'GET', '/a/b', 'svc', SECRET, 5),
    'Verifier#verify, options not an object': () => v.verify('GET', '/a/b', 'x-nonce'),
    'new Verifier, options not an object': () => new xnonce.Verifier({ svc: SECRET }, 30000),
    'new Requester, options not an object': () =>
      new xnonce.Requester('http://127.0.0.1:9', 'svc', SECRET, true),
  }
  for (const [name, call] of Object.entries(calls)) {
    assert.throws(call, (e) => {
      assert.ok(e instanceof TypeError, `${name}: ${e} is a TypeError`)
      assert.ok(!(e instanceof xnonce.XNonceError), `${name}: not an XNonceError`)
      assert.match(e.code, /Expected$|^InvalidArg$/, name)
      assert.equal(e.cause.code, e.code)
      return true
    })
  }
  // The message says which type a text argument must have, and which argument it is.
  assert.throws(() => xnonce.signDetailed('v2', 7, '/a/b', [], 'svc', SECRET, V2), {
    message: /to be String, but received Number \(argument "method"\)$/,
  })
  const named = {
    secret: calls['sign (packed path)'],
    baseUrl: calls.link,
    header: calls.ottokenEncode,
    token: calls.ottokenDecode,
    value: calls.parseHeader,
    method: calls['Verifier#verify'],
    server: calls['new Requester'],
    options: calls['sign, options not an object'],
    parts: calls['signRequest, parts not an object'],
  }
  for (const [argument, call] of Object.entries(named)) {
    assert.throws(call, (e) => e.message.endsWith(` (argument "${argument}")`), argument)
  }
  // A wrong option's field is named by napi itself, and not named twice.
  assert.throws(calls['Verifier#verifyOnce'], (e) => /on VerifyOptions\.host$/.test(e.message))
  // A class's constructor names its argument too.
  assert.throws(
    () => new xnonce.SharedKeys(5),
    (e) => e instanceof TypeError && e.message.endsWith('(argument "prefix")'),
  )
  const requester = new xnonce.Requester('http://127.0.0.1:9', 'svc', SECRET)
  assert.ok(requester instanceof xnonce.Requester)
  let promise
  assert.doesNotThrow(() => {
    promise = requester.makeRequest(5, [], '/a/b')
  }, 'a Promise-returning method rejects instead of throwing')
  await assert.rejects(
    promise,
    (e) =>
      e instanceof TypeError &&
      /Expected$|^InvalidArg$/.test(e.code) &&
      e.message.endsWith('(argument "method")'),
  )
  await assert.rejects(requester.makeRequest('GET', [], '/a/b', 5), (e) =>
    e.message.endsWith('(argument "controller")'),
  )
  // xnonceFetch checks its credential when it is made: a synchronous factory, so it throws.
  assert.throws(
    () => xnonce.xnonceFetch({ client: 5, secret: SECRET, fetch: async () => new Response('') }),
    (e) => e instanceof TypeError && /Expected$|^InvalidArg$/.test(e.code),
  )
  assert.ok(v instanceof xnonce.Verifier)
  assert.equal(xnonce.Verifier.name, 'Verifier')
})

test("the argument names of wrong-type errors are native.d.ts's parameters", () => {
  const { SIGNATURES } = require('../arguments.js')
  const dts = require('node:fs').readFileSync(
    require('node:path').join(__dirname, '..', 'native.d.ts'),
    'utf8',
  )
  // `export declare function name(a: …, b?: …)`, `constructor(a: …)` in `class Name`, `method(a: …)`.
  const declared = (name) => {
    const [cls, method] = name.includes('#') ? name.split('#') : [undefined, name]
    let text = dts
    if (cls !== undefined || /^[A-Z]/.test(method)) {
      const start = dts.indexOf(`export declare class ${cls ?? method} {`)
      assert.ok(start >= 0, `class ${cls ?? method} in native.d.ts`)
      text = dts.slice(start, dts.indexOf('\n}', start))
    }
    const head =
      cls === undefined && /^[A-Z]/.test(method)
        ? 'constructor('
        : cls === undefined
          ? `function ${method}(`
          : `  ${method}(`
    const at = text.indexOf(head)
    assert.ok(at >= 0, `${name} in native.d.ts`)
    // Parameter names: an identifier before `:` or `?:` at the top level of the list.
    const list = text.slice(at + head.length)
    const names = []
    let depth = 0
    let token = ''
    let previous = ''
    for (const ch of list) {
      if (depth === 0 && ch === ')') break
      if ('(<[{'.includes(ch)) depth += 1
      // The `>` of an arrow (`=>`) closes nothing.
      if (')]}'.includes(ch) || (ch === '>' && previous !== '=')) depth -= 1
      previous = ch
      if (depth === 0 && ch === ',') token = ''
      else if (depth === 0 && (ch === ':' || ch === '?')) {
        if (token.trim()) names.push(token.trim())
        token = ' '.repeat(1e3) // not an identifier until the next comma
      } else if (depth === 0) token += ch
    }
    return names
  }
  for (const [name, signature] of Object.entries(SIGNATURES)) {
    const expected = declared(name)
    assert.deepEqual(
      signature.map(([parameter]) => parameter),
      expected,
      name,
    )
  }
})

test('params whose iterator calls back into the binding without end are a RangeError, not a crash', () => {
  let calls = 0
  const params = {
    [Symbol.iterator]() {
      calls += 1
      xnonce.sign('v2', 'GET', '/a/b', params, 'svc', SECRET, V2) // a bug: signs itself
      return [][Symbol.iterator]()
    },
  }
  // The process used to die here of a native stack overflow (SIGSEGV).
  assert.throws(
    () => xnonce.sign('v2', 'GET', '/a/b', params, 'svc', SECRET, V2),
    (e) => e instanceof RangeError && e.code === 'ERR_XNONCE_NESTED_TOO_DEEP',
  )
  assert.equal(calls, 16)
  // And shallow nesting is fine: an iterator that signs something else once.
  const once = {
    [Symbol.iterator]() {
      xnonce.sign('v2', 'GET', '/x', [], 'svc', SECRET, V2)
      return [['k', 'v']][Symbol.iterator]()
    },
  }
  assert.match(xnonce.sign('v2', 'GET', '/a/b', once, 'svc', SECRET, V2), /^v2 svc /)
})

test('the ErrorCode type of index.d.ts lists exactly the core codes', () => {
  const dts = require('node:fs').readFileSync(
    require('node:path').join(__dirname, '..', 'index.d.ts'),
    'utf8',
  )
  const union = /export type ErrorCode =([^]*?)\n\n/.exec(dts)[1]
  const declared = [...union.matchAll(/'([a-z_]+)'/g)].map((m) => m[1])
  assert.deepEqual(declared, [...xnonce.ERROR_CODES])
})

test('sign: the packed fast path and the general path agree, NULs included', () => {
  const opts = { host: 'api.test', timestamp: T, nonce: V2.nonce }
  const general = (params, o = opts) =>
    xnonce.signDetailed('v2', 'GET', '/a/b', params, 'svc', SECRET, o).xNonce
  for (const params of [
    [['a', 'x\0y']],
    [['a\0', 'b']],
    [
      ['a', '1'],
      ['b', ''],
    ],
    [],
    null,
  ]) {
    assert.equal(xnonce.sign('v2', 'GET', '/a/b', params, 'svc', SECRET, opts), general(params))
  }
  // The fast path itself answers for well-formed text (sign.js would otherwise fall back to
  // the general path unnoticed), and declines a lone surrogate or a field count that a NUL
  // inside a field has changed.
  const native = require('../xnonce.node')
  const packed = (path) =>
    ['v2', 'GET', path, 'svc', SECRET, '=' + V2.nonce, '=api.test', 'a', '1'].join('\0')
  assert.equal(native.signPacked(packed('/a/b'), 1, T), general([['a', '1']]))
  assert.equal(native.signPacked(packed('/a/\ud800'), 1, T), null)
  assert.equal(native.signPacked(packed('/a\0b'), 1, T), null)
  assert.throws(() => xnonce.sign('v1', 'GET', '/a\0b', [], 'svc', SECRET, { timestamp: T }), {
    code: 'invalid_path',
  })
  assert.throws(() => xnonce.sign('v2', 'GET', '/a/b', [], 'svc', SECRET, { ...opts, host: '' }), {
    code: 'invalid_host',
  })
  assert.throws(() => xnonce.sign('v2', 'GET', '/a/b', [], 'svc', SECRET, { ...opts, nonce: '' }), {
    code: 'invalid_nonce',
  })
  assert.throws(() => xnonce.sign('v2', 'GET', '/a/b', [], 'svc', SECRET, { ...opts, timestamp: -1 }), {
    code: 'invalid_timestamp',
  })
  // A body of the wrong type is the same TypeError on both paths, naming the field (README:
  // an option's field is named), whatever the params' shape.
  for (const body of [5, [1, 2], new Float64Array(2), new DataView(new ArrayBuffer(2)), {}]) {
    const general = (() => {
      try {
        xnonce.sign('v2', 'GET', '/a/b', new Map(), 'svc', SECRET, { ...opts, body })
      } catch (e) {
        return e
      }
    })()
    assert.ok(
      general instanceof TypeError && general.message.endsWith(' on SignOptions.body'),
      general?.message,
    )
    for (const params of [[], null, [['a', 'b']]]) {
      assert.throws(() => xnonce.sign('v2', 'GET', '/a/b', params, 'svc', SECRET, { ...opts, body }), {
        name: 'TypeError',
        code: general.code,
        message: general.message,
      })
    }
  }
})

test('timestamps: a bigint signs and verifies like the same number; out of range is invalid_timestamp', () => {
  const TB = BigInt(T)
  const v2 = { ...V2, timestamp: TB }
  assert.equal(sign('v2', 'GET', '/a/b', [], 'svc', SECRET, v2), signedGet())
  assert.equal(
    sign('v2', 'GET', '/a/b', [['k', 'v']], 'svc', SECRET, v2),
    sign('v2', 'GET', '/a/b', [['k', 'v']], 'svc', SECRET, V2),
  )
  assert.equal(xnonce.signDetailed('v1', 'GET', '/a/b', [], 'svc', SECRET, { timestamp: TB }).timestamp, T)
  assert.equal(
    xnonce.link('v2', 'GET', '/a/b', [], 'svc', SECRET, 'https://api.test', v2),
    xnonce.link('v2', 'GET', '/a/b', [], 'svc', SECRET, 'https://api.test', V2),
  )
  assert.equal(
    xnonce.signRequest('v2', 'GET', '/a/b?k=v', 'svc', SECRET, {
      host: 'api.test',
      timestamp: TB,
      nonce: V2.nonce,
    }),
    xnonce.signRequest('v2', 'GET', '/a/b?k=v', 'svc', SECRET, {
      host: 'api.test',
      timestamp: T,
      nonce: V2.nonce,
    }),
  )
  // A fragment is never part of a request target; an empty path is sent as "/".
  for (const target of ['/a/b#f', '/a/b?k=v#f']) {
    assert.throws(() => xnonce.signRequest('v2', 'GET', target, 'svc', SECRET, { host: 'api.test' }), {
      code: 'invalid_path',
      message: /no fragment/,
    })
  }
  const parts = { host: 'api.test', timestamp: T, nonce: V2.nonce }
  assert.equal(
    xnonce.signRequest('v2', 'GET', '?k=v', 'svc', SECRET, parts),
    xnonce.signRequest('v2', 'GET', '/?k=v', 'svc', SECRET, parts),
  )
  const ok = verifier().verify('GET', '/a/b', { host: 'api.test', xNonce: signedGet(), now: TB + 1000n })
  assert.equal(ok.timestamp, T)
  for (const bad of [-1n, 2n ** 53n, 2n ** 64n, -(2n ** 64n), 2n ** 200n]) {
    assert.throws(() => sign('v2', 'GET', '/a/b', [], 'svc', SECRET, { ...V2, timestamp: bad }), {
      code: 'invalid_timestamp',
    })
    assert.throws(
      () => verifier().verify('GET', '/a/b', { host: 'api.test', xNonce: signedGet(), now: bad }),
      {
        code: 'invalid_timestamp',
      },
    )
  }
  assert.equal(
    sign('v1', 'GET', '/a/b', [], 'svc', SECRET, { timestamp: 2n ** 53n - 1n }).split(' ')[2],
    '9007199254740991',
  )
  // Neither a number nor a bigint: a TypeError, as for any wrongly typed argument.
  assert.throws(
    () => sign('v2', 'GET', '/a/b', [], 'svc', SECRET, { ...V2, timestamp: String(T) }),
    TypeError,
  )
})

test('text that is not well-formed Unicode (a lone surrogate) is refused with the field its code, never signed as U+FFFD', async () => {
  const LONE = ['\ud800', '\udfff', 'a\udc00b', 'x\ud83d']
  const opts = { ...V2 }
  const args = (over = {}) => {
    const a = { method: 'GET', path: '/a/b', params: [['k', 'v']], client: 'svc', secret: SECRET, ...over }
    return ['v2', a.method, a.path, a.params, a.client, a.secret, { ...opts, ...over.options }]
  }
  const refuses = (call, code, name) =>
    assert.throws(call, (e) => {
      assert.ok(e instanceof xnonce.InputError || e instanceof xnonce.FormatError, `${name}: ${e}`)
      assert.equal(e.code, code, `${name}: ${e.message}`)
      assert.ok(!e.message.includes(SECRET.slice(8)), `${name}: no secret in the message`)
      return true
    })
  for (const lone of LONE) {
    const fields = {
      method: [{ method: 'GE' + lone }, 'invalid_method'],
      path: [{ path: '/a/' + lone }, 'invalid_path'],
      client: [{ client: 'svc' + lone }, 'invalid_client_id'],
      secret: [{ secret: SECRET.slice(0, 63) + lone }, 'invalid_secret'],
      'param key': [{ params: [['k' + lone, 'v']] }, 'invalid_param_key'],
      'param value': [{ params: [['k', 'v' + lone]] }, 'invalid_param_value'],
      host: [{ options: { host: 'api.test' + lone } }, 'invalid_host'],
      nonce: [{ options: { nonce: lone + V2.nonce.slice(1) } }, 'invalid_nonce'],
      'body string': [{ method: 'POST', options: { body: '{"a":"' + lone + '"}' } }, 'invalid_body'],
    }
    for (const [name, [over, code]] of Object.entries(fields)) {
      const a = args(over)
      // sign: the packed fast path (pairs of strings) and the general path (a Map).
      refuses(() => xnonce.sign(...a), code, `sign ${name}`)
      refuses(() => xnonce.sign(...a.slice(0, 3), new Map(a[3]), ...a.slice(4)), code, `sign(Map) ${name}`)
      refuses(() => xnonce.signDetailed(...a), code, `signDetailed ${name}`)
      if (name !== 'body string' && name !== 'host') {
        const linkArgs = [...a.slice(0, 6), 'https://api.test', a[6]]
        refuses(() => xnonce.link(...linkArgs), code, `link ${name}`)
        refuses(() => xnonce.linkDetailed(...linkArgs), code, `linkDetailed ${name}`)
      }
    }
    // A secret that differs from the one passed must never sign (v1 takes any text as a secret).
    refuses(
      () => sign('v1', 'GET', '/a/b', [], 'svc', 'pass' + lone, { timestamp: T }),
      'invalid_secret',
      'v1',
    )
    refuses(
      () => xnonce.link('v2', 'GET', '/a/b', [], 'svc', SECRET, 'https://api.test/' + lone, V2),
      'invalid_url',
      'link base URL',
    )
    const request = (target, parts = {}, over = {}) =>
      xnonce.signRequest('v2', over.method ?? 'GET', target, over.client ?? 'svc', over.secret ?? SECRET, {
        ...V2,
        ...parts,
      })
    refuses(() => request('/a/' + lone + '?k=v'), 'invalid_path', 'signRequest path')
    // Anywhere in the target, the path or the query: invalid_path, as Python's sign_request and
    // the verifier say it.
    refuses(() => request('/a/b?k=' + lone), 'invalid_path', 'signRequest query')
    refuses(() => request('/a/b?k=v&' + lone + '=1'), 'invalid_path', 'signRequest query key')
    refuses(
      () => verifier().verify('GET', '/a/b?k=' + lone, { host: 'api.test' }),
      'invalid_path',
      'verify query',
    )
    refuses(() => request('/a/b', { host: lone }), 'invalid_host', 'signRequest host')
    refuses(() => request('/a/b', { nonce: lone }), 'invalid_nonce', 'signRequest nonce')
    refuses(() => request('/a/b', { body: lone }), 'invalid_body', 'signRequest body')
    refuses(() => request('/a/b', {}, { method: lone }), 'invalid_method', 'signRequest method')
    refuses(() => request('/a/b', {}, { client: lone }), 'invalid_client_id', 'signRequest client')
    refuses(() => request('/a/b', {}, { secret: SECRET + lone }), 'invalid_secret', 'signRequest secret')
    refuses(() => new xnonce.Verifier({ svc: SECRET.slice(1) + lone }), 'invalid_secret', 'Verifier secret')
    refuses(
      () => new xnonce.Requester('http://127.0.0.1:9', 'svc' + lone, SECRET),
      'invalid_client_id',
      'Requester',
    )
    refuses(
      () => new xnonce.Requester('http://127.0.0.1:9', 'svc', lone + SECRET),
      'invalid_secret',
      'Requester',
    )
    refuses(
      () => new xnonce.Requester('http://127.0.0.1:9/' + lone, 'svc', SECRET),
      'invalid_url',
      'Requester',
    )
    assert.throws(
      () => new xnonce.Requester('http://127.0.0.1:9', 'svc', SECRET, { caPem: '-----BEGIN' + lone }),
      (e) =>
        e instanceof xnonce.InputError &&
        e.code === 'invalid_body' &&
        e.message === 'the CA PEM is not valid Unicode text (it holds a lone surrogate)',
      'Requester caPem',
    )
    const api = new xnonce.Requester('http://127.0.0.1:9', 'svc', SECRET, { timeoutMs: 1000 })
    for (const [call, code] of [
      [() => api.makeRequest('GET', [['k', lone]], '/a/b'), 'invalid_param_value'],
      [() => api.makeRequest('GET', { [lone]: 'v' }, '/a/b'), 'invalid_param_key'],
      [() => api.makeRequest('GET', [], '/a/' + lone), 'invalid_path'],
      [() => api.makeRequest('GET', [], 'b', lone), 'invalid_path'],
      [() => api.makeRequest(lone, [], '/a/b'), 'invalid_method'],
      [() => api.makeRequest('GET', [], '/a/b', null, { nonce: lone }), 'invalid_nonce'],
    ]) {
      await assert.rejects(call(), (e) => e instanceof xnonce.InputError && e.code === code)
    }
  }
  // Well-formed text is unchanged: a real U+FFFD and a surrogate pair sign, differently.
  const header = (value) => xnonce.sign(...args({ params: [['k', value]] }))
  assert.notEqual(header('\ufffd'), header('\ud83d\ude00'))
  assert.equal(header('\ud83d\ude00'), xnonce.sign(...args({ params: new Map([['k', '😀']]) })))
  assert.equal(
    xnonce.signDetailed('v1', 'GET', '/a/b', [['k', '\ufffd😀']], 'svc', SECRET, { timestamp: T }).canonical,
    `GET/a/bk=%EF%BF%BD%F0%9F%98%80svc${SECRET}${T}`,
  )
})

test('a lone surrogate in any other text argument is refused with its field code, never read as U+FFFD', () => {
  const LONE = ['\ud800', 'a\udc00b', 'x\ud83d']
  // A request's text (verify, verifyOnce) is refused with the answer to send, as in Python;
  // any other argument is the caller's, and its error has no answer.
  const refuses = (call, code, name, answered = /^verify/.test(name)) =>
    assert.throws(call, (e) => {
      assert.ok(e instanceof xnonce.XNonceError, `${name}: ${e}`)
      assert.equal(e.code, code, `${name}: ${e.message}`)
      assert.match(e.message, /not valid Unicode text/, name)
      assert.equal(e.answer !== undefined, answered, `${name}: answered ${answered}`)
      return true
    })
  // The audit's case: a request signed over a real U+FFFD must not verify a lone surrogate.
  const h = sign('v2', 'GET', '/a/b', [['x', '\ufffd']], 'svc', SECRET, V2)
  const v = verifier()
  const req = { host: 'api.test', xNonce: h, now: T }
  assert.deepEqual(v.verify('GET', '/a/b?x=\ufffd', req).params, [['x', '\ufffd']])
  for (const lone of LONE) {
    for (const how of ['verify', 'verifyOnce']) {
      const check = (method, target, options) => () => v[how](method, target, { ...req, ...options })
      refuses(check('GET', '/a/b?x=' + lone), 'invalid_path', `${how} target (query)`)
      refuses(check('GET', '/a/' + lone), 'invalid_path', `${how} target (path)`)
      refuses(check('GE' + lone, '/a/b'), 'invalid_method', `${how} method`)
      refuses(check('GET', '/a/b', { host: 'api.test' + lone }), 'invalid_host', `${how} host`)
      refuses(check('GET', '/a/b', { xNonce: h + lone }), 'malformed_header', `${how} xNonce`)
      refuses(
        check('POST', '/a/b', { contentType: 'text/plain' + lone, body: 'x' }),
        'invalid_body',
        `${how} contentType`,
      )
    }
    refuses(() => xnonce.parseHeader(h + lone), 'malformed_header', 'parseHeader')
    refuses(() => xnonce.ottokenEncode(h + lone), 'malformed_header', 'ottokenEncode')
    refuses(() => xnonce.ottokenDecode(xnonce.ottokenEncode(h) + lone), 'malformed_ottoken', 'ottokenDecode')
    refuses(() => xnonce.ottokenQueryValue('abc' + lone), 'malformed_ottoken', 'ottokenQueryValue')
    refuses(
      () =>
        xnonce.signRequest('v2', 'POST', '/a/b', 'svc', SECRET, {
          ...V2,
          contentType: 'application/json' + lone,
          body: '{}',
        }),
      'invalid_body',
      'signRequest contentType',
    )
    refuses(
      () => new xnonce.Verifier({ svc: SECRET }, { controllerWindows: { ['reports' + lone]: 1000 } }),
      'invalid_path',
      'controllerWindows key',
    )
    refuses(
      () => new xnonce.Verifier({ svc: SECRET }, { actionWindows: { ['reports/live' + lone]: 1000 } }),
      'invalid_path',
      'actionWindows key',
    )
    refuses(
      () => new xnonce.Verifier({ svc: SECRET }, { schemes: ['v2' + lone] }),
      'unsupported_scheme',
      'schemes',
    )
    refuses(
      () => new xnonce.Requester('http://127.0.0.1:9', 'svc', SECRET, { scheme: 'v2' + lone }),
      'unsupported_scheme',
      'Requester scheme',
    )
    // SharedKeys: settings, not request fields: a TypeError, as for a prefix holding `{`.
    for (const [call, argument] of [
      [() => new xnonce.SharedKeys('app' + lone), 'prefix'],
      [() => new xnonce.SharedKeys().key('v2:svc:' + lone), 'replayKey'],
    ]) {
      assert.throws(call, (e) => {
        assert.ok(e instanceof TypeError, `${argument}: ${e}`)
        assert.equal(e.code, 'ERR_INVALID_ARG_VALUE')
        assert.match(e.message, new RegExp(`"${argument}" is invalid: .*lone surrogate`))
        return true
      })
    }
  }
  // Well-formed text is unchanged: distinct replay keys keep distinct shared keys.
  const keys = new xnonce.SharedKeys('app:')
  assert.equal(keys.key('v2:svc:\ufffd'), 'app:{v2:svc:\ufffd}')
  assert.equal(keys.key('v2:svc:😀'), 'app:{v2:svc:😀}')
  assert.equal(xnonce.parseHeader(h).client, 'svc')
})

test('a lone surrogate is named as core names the input: the same message in every language', async () => {
  const lone = 'x\ud83d'
  const reason = ' is not valid Unicode text (it holds a lone surrogate)'
  const named = (code, what) => (e) => {
    assert.ok(e instanceof xnonce.XNonceError, `${what}: ${e}`)
    assert.equal(e.code, code, what)
    assert.equal(e.message, what + reason)
    return true
  }
  const a = (over) => {
    const x = { method: 'GET', path: '/a/b', params: [['user', 'v']], client: 'svc', secret: SECRET, ...over }
    return ['v2', x.method, x.path, x.params, x.client, x.secret, { ...V2, ...over.options }]
  }
  for (const [over, code, what] of [
    [{ method: lone }, 'invalid_method', 'the method'],
    [{ path: '/a/' + lone }, 'invalid_path', 'the path'],
    [{ params: [[lone, 'v']] }, 'invalid_param_key', 'a param key'],
    [{ params: [['user', lone]] }, 'invalid_param_value', 'param "user"'],
    [{ client: lone }, 'invalid_client_id', 'the client id'],
    [{ secret: SECRET + lone }, 'invalid_secret', 'the secret'],
    [{ options: { nonce: lone } }, 'invalid_nonce', 'the nonce'],
    [{ options: { host: lone } }, 'invalid_host', 'the host'],
    [{ method: 'POST', options: { body: lone } }, 'invalid_body', 'the body'],
  ]) {
    assert.throws(() => xnonce.sign(...a(over)), named(code, what))
    assert.throws(
      () => xnonce.sign(...a(over).slice(0, 3), new Map(a(over)[3]), ...a(over).slice(4)),
      named(code, what),
    )
  }
  assert.throws(
    () => xnonce.sign(lone, 'GET', '/a/b', [], 'svc', SECRET, V2),
    named('unsupported_scheme', 'the scheme'),
  )
  assert.throws(
    () => xnonce.signRequest(lone, 'GET', '/a/b', 'svc', SECRET),
    named('unsupported_scheme', 'the scheme'),
  )
  assert.throws(
    () => new xnonce.Requester('http://127.0.0.1:9', 'svc', SECRET, { scheme: lone }),
    named('unsupported_scheme', 'the scheme'),
  )
  assert.throws(
    () => xnonce.link('v2', 'GET', '/a/b', [], 'svc', SECRET, 'https://h/' + lone, V2),
    named('invalid_url', 'the base URL'),
  )
  const h = signedGet()
  assert.throws(() => xnonce.parseHeader(lone), named('malformed_header', 'the X-Nonce header'))
  assert.throws(() => xnonce.ottokenDecode(lone), named('malformed_ottoken', 'the ottoken'))
  const v = verifier()
  const req = { host: 'api.test', xNonce: h, now: T }
  assert.throws(() => v.verify('GET', '/a/b?' + lone, req), named('invalid_path', 'the target'))
  assert.throws(
    () => v.verify('POST', '/a/b', { ...req, contentType: lone, body: 'x' }),
    named('invalid_body', 'the content type'),
  )
  assert.throws(
    () => new xnonce.Verifier({ [lone]: SECRET }),
    named('invalid_client_id', 'a client id in the secrets table'),
  )
  assert.throws(() => new xnonce.Verifier({ svc: [SECRET, lone] }), named('invalid_secret', 'a secret'))
  assert.throws(
    () => new xnonce.Verifier({ svc: SECRET }, { controllerWindows: { [lone]: 1000 } }),
    named('invalid_path', "a controller window's controller"),
  )
  assert.throws(
    () => new xnonce.Verifier({ svc: SECRET }, { actionWindows: { ['a/' + lone]: 1000 } }),
    named('invalid_path', "an action window's controller/action"),
  )
  assert.throws(
    () => new xnonce.Verifier({ svc: SECRET }, { schemes: [lone] }),
    named('unsupported_scheme', 'a scheme'),
  )
  for (const [routes, code, name] of [
    [{ [lone]: { a_get: {} } }, 'invalid_path', "a route's controller"],
    [{ c: { [lone]: {} } }, 'invalid_path', "a route's action_method key"],
    [{ c: { a_get: { [lone]: 'req' } } }, 'invalid_param_key', 'the param of a route rule'],
    [{ c: { a_get: { x: lone } } }, 'invalid_param_value', 'a route rule'],
  ]) {
    assert.throws(() => new xnonce.Verifier({ svc: SECRET }, { routes }), named(code, name))
  }
  assert.throws(
    () => new xnonce.Requester('http://127.0.0.1:9/' + lone, 'svc', SECRET),
    named('invalid_url', 'the server URL'),
  )
  const api = new xnonce.Requester('http://127.0.0.1:9', 'svc', SECRET, { timeoutMs: 1000 })
  for (const [call, code, what] of [
    [() => api.makeRequest('GET', [], 'b', lone), 'invalid_path', 'the controller'],
    [
      () => api.makeRequest('GET', [], '/a/b', null, { extraParams: [[lone, '1']] }),
      'invalid_param_key',
      'an extra param key',
    ],
    [
      () => api.makeRequest('GET', [], '/a/b', null, { extraParams: [['e', lone]] }),
      'invalid_param_value',
      'extra param "e"',
    ],
    [
      () => api.makeRequest('GET', [], '/a/b', null, { headers: [[lone, 'v']] }),
      'invalid_param_key',
      'a header name',
    ],
    [
      () => api.makeRequest('GET', [], '/a/b', null, { headers: { 'X-Note': lone } }),
      'invalid_param_value',
      'header "X-Note"',
    ],
  ]) {
    await assert.rejects(call(), named(code, what))
  }
})

test('a header or extra param value of the wrong type is named as what it is, not as a param', async () => {
  const api = new xnonce.Requester('http://127.0.0.1:9', 'svc', SECRET, { timeoutMs: 1000 })
  for (const [options, what] of [
    [
      { headers: { 'X-Note': {} } },
      'header "X-Note": a value must be a string, number, bigint or boolean, not an object',
    ],
    [
      { headers: [['X-Note', null]] },
      'header "X-Note": a value must be a string, number, bigint or boolean, not null',
    ],
    [{ headers: { 'X-Big': 2n ** 200n } }, 'header "X-Big": bigint does not fit in 128 bits'],
    [
      { extraParams: [['e', Symbol('s')]] },
      'extra param "e": a value must be a string, number, bigint or boolean, not a symbol',
    ],
  ]) {
    await assert.rejects(
      api.makeRequest('GET', [], '/a/b', null, options),
      (e) => e instanceof xnonce.InputError && e.code === 'invalid_param_value' && e.message.endsWith(what),
      what,
    )
  }
})

test('a value of the wrong type is never quoted in the TypeError (it may hold a secret)', async () => {
  const leaky = { p: SECRET }
  const v = verifier()
  const api = new xnonce.Requester('http://127.0.0.1:9', 'svc', SECRET, { timeoutMs: 1000 })
  const calls = {
    parseHeader: [() => xnonce.parseHeader(leaky)],
    ottokenEncode: [() => xnonce.ottokenEncode(leaky)],
    ottokenDecode: [() => xnonce.ottokenDecode(leaky)],
    ottokenQueryValue: [() => xnonce.ottokenQueryValue(leaky)],
    'verify xNonce': [() => v.verify('GET', '/a/b', { xNonce: leaky }), 'VerifyOptions.xNonce'],
    'verifyOnce host': [() => v.verifyOnce('GET', '/a/b', { host: leaky }), 'VerifyOptions.host'],
    'verify contentType': [
      () => v.verify('GET', '/a/b', { contentType: leaky }),
      'VerifyOptions.contentType',
    ],
    'sign host': [
      () => sign('v2', 'GET', '/a/b', [], 'svc', SECRET, { ...V2, host: leaky }),
      'SignOptions.host',
    ],
    'sign nonce (Map params)': [
      () => sign('v2', 'GET', '/a/b', new Map(), 'svc', SECRET, { ...V2, nonce: leaky }),
      'SignOptions.nonce',
    ],
    'signDetailed nonce': [
      () => xnonce.signDetailed('v2', 'GET', '/a/b', [], 'svc', SECRET, { ...V2, nonce: leaky }),
      'SignOptions.nonce',
    ],
    'signRequest host': [
      () => xnonce.signRequest('v2', 'GET', '/a/b', 'svc', SECRET, { host: leaky }),
      'RequestParts.host',
    ],
    'signRequest contentType': [
      () => xnonce.signRequest('v2', 'GET', '/a/b', 'svc', SECRET, { ...V2, contentType: leaky }),
      'RequestParts.contentType',
    ],
    'signRequest nonce': [
      () => xnonce.signRequest('v2', 'GET', '/a/b', 'svc', SECRET, { ...V2, nonce: leaky }),
      'RequestParts.nonce',
    ],
    'Verifier schemes': [() => verifier({ schemes: [leaky] }), 'VerifierOptions.schemes'],
    'Requester scheme': [
      () => new xnonce.Requester('http://127.0.0.1:9', 'svc', SECRET, { scheme: leaky }),
      'RequesterOptions.scheme',
    ],
    'sign secret': [() => sign('v2', 'GET', '/a/b', [], 'svc', leaky, V2)],
  }
  const check = (name, field) => (e) => {
    assert.ok(e instanceof TypeError, `${name}: ${e}`)
    assert.ok(!e.message.includes(SECRET.slice(0, 8)), `${name}: the value is not quoted: ${e.message}`)
    assert.match(e.message, /Expect value to be (Option<)?String>?, but received Object/, name)
    if (field) assert.ok(e.message.endsWith(` on ${field}`), `${name} names the field: ${e.message}`)
    return true
  }
  for (const [name, [call, field]] of Object.entries(calls)) assert.throws(call, check(name, field), name)
  await assert.rejects(api.makeRequest('GET', [], '/a/b', null, { nonce: leaky }), (e) => {
    assert.ok(e instanceof Error && !e.message.includes(SECRET.slice(0, 8)), e.message)
    return true
  })
})

test('signDetailed / linkDetailed: canonical (the v1 secret inside) is readable but never inspected or serialised', () => {
  const { inspect } = require('node:util')
  const opts = { timestamp: T }
  for (const [name, details] of [
    ['signDetailed', xnonce.signDetailed('v1', 'GET', '/a/b', [], 'svc', SECRET, opts)],
    ['linkDetailed', xnonce.linkDetailed('v1', 'GET', '/a/b', [], 'svc', SECRET, 'https://api.test', opts)],
  ]) {
    assert.equal(details.canonical, `GET/a/bsvc${SECRET}${T}`, name)
    for (const shown of [inspect(details), inspect(details, { depth: 5 }), JSON.stringify(details)]) {
      assert.ok(!shown.includes(SECRET), `${name}: ${shown}`)
      assert.ok(!shown.includes('canonical'), `${name}: ${shown}`)
    }
    // showHidden shows non-enumerable properties: a getter is shown as [Getter], not called.
    const hidden = inspect(details, { showHidden: true })
    assert.ok(!hidden.includes(SECRET) && hidden.includes('[canonical]: [Getter]'), `${name}: ${hidden}`)
    const descriptor = Object.getOwnPropertyDescriptor(details, 'canonical')
    assert.ok(!('value' in descriptor) && !descriptor.enumerable, name)
    assert.ok(!('canonical' in { ...details }), `${name}: a spread copy has no canonical`)
    assert.ok(!Object.keys(details).includes('canonical'), name)
    assert.ok(details.xNonce && JSON.parse(JSON.stringify(details)).xNonce === details.xNonce, name)
  }
})

test('makeRequest: an option of the wrong type rejects with the TypeError sign throws for it', async () => {
  // { body: 1 } too: sign's TypeError names JavaScript types.
  assert.throws(() => sign('v2', 'GET', '/a/b', [], 'svc', SECRET, { ...V2, body: 1 }), {
    message: /^Expect value to be a Uint8Array, an ArrayBuffer or a string, but received Number/,
  })
  const api = new xnonce.Requester('http://127.0.0.1:9', 'svc', SECRET, { timeoutMs: 1000 })
  for (const options of [{ timestamp: true }, { timestamp: '1' }, { timestamp: {} }, { nonce: 5 }]) {
    const name = JSON.stringify(options)
    const signed = () => sign('v2', 'GET', '/a/b', [], 'svc', SECRET, { ...V2, ...options })
    let signError
    assert.throws(signed, (e) => (signError = e) instanceof TypeError, `sign ${name}`)
    // In JavaScript's words (a number or a bigint, a string), not napi's Rust type names.
    assert.doesNotMatch(signError.message, /f64|BigInt`|Option<|TypedArray/, name)
    const [key] = Object.keys(options)
    const what = (m) => m.replace(/ on \S+$/, '')
    await assert.rejects(
      api.makeRequest('GET', [], '/a/b', null, options),
      (e) => {
        assert.ok(e instanceof TypeError, `${name}: ${e}`)
        assert.ok(!(e instanceof xnonce.XNonceError), name)
        assert.match(e.code, /Expected$|^InvalidArg$/, name)
        assert.ok(e.message.endsWith(` on options.${key}`), `${name} names the option: ${e.message}`)
        assert.equal(what(e.message), what(signError.message), `${name}: the TypeError sign throws`)
        return true
      },
      name,
    )
  }
})

test('options given as a Map, a Set or an array are refused, never read as no options', async () => {
  const v = verifier()
  const api = new xnonce.Requester('http://127.0.0.1:9', 'svc', SECRET, { timeoutMs: 1000 })
  const refused = (argument) => (e) => {
    assert.ok(e instanceof TypeError && e.code === 'ERR_INVALID_ARG_VALUE', `${e}`)
    assert.equal(
      e.message,
      `The argument "${argument}" is invalid: an object of options, not an iterable (a Map, a Set, an array)`,
    )
    return true
  }
  for (const o of [new Map([['timestamp', 5]]), new Set(), [['host', 'api.test']]]) {
    // sign's fast path (string pairs) and its general path (Map params) alike.
    assert.throws(() => sign('v2', 'GET', '/a/b', [], 'svc', SECRET, o), refused('options'))
    assert.throws(() => sign('v2', 'GET', '/a/b', new Map(), 'svc', SECRET, o), refused('options'))
    assert.throws(() => xnonce.signDetailed('v1', 'GET', '/a/b', [], 'svc', SECRET, o), refused('options'))
    assert.throws(() => xnonce.signRequest('v2', 'GET', '/a/b', 'svc', SECRET, o), refused('parts'))
    assert.throws(() => v.verify('GET', '/a/b', o), refused('options'))
    assert.throws(() => verifier(o), refused('options'))
    await assert.rejects(api.makeRequest('GET', [], '/a/b', null, o), refused('options'))
    assert.throws(() => xnonce.middleware(v, o), refused('options'))
  }
})

test('options given as a Date or another built-in object are refused; a class instance is read like a plain object', async () => {
  const v = verifier()
  const api = new xnonce.Requester('http://127.0.0.1:9', 'svc', SECRET, { timeoutMs: 1000 })
  const fetch = async () => new Response('')
  const refused = (argument, what) => (e) => {
    assert.ok(e instanceof TypeError && e.code === 'ERR_INVALID_ARG_VALUE', `${what}: ${e}`)
    assert.equal(e.message, `The argument "${argument}" is invalid: an object of options, not ${what}`)
    return true
  }
  // None has an enumerable key: each was read as no options at all, silently.
  const builtIns = [
    [new Date(), 'a Date'],
    [/host/, 'a RegExp'],
    [Object(5), 'a boxed primitive'],
    [Promise.resolve(), 'a Promise'],
    [new Error('x'), 'an Error'],
    [new ArrayBuffer(1), 'an ArrayBuffer'],
    [new WeakMap(), 'a WeakMap'],
  ]
  for (const [o, what] of builtIns) {
    assert.throws(() => sign('v2', 'GET', '/a/b', [], 'svc', SECRET, o), refused('options', what))
    assert.throws(() => sign('v2', 'GET', '/a/b', new Map(), 'svc', SECRET, o), refused('options', what))
    assert.throws(
      () => xnonce.signDetailed('v1', 'GET', '/a/b', [], 'svc', SECRET, o),
      refused('options', what),
    )
    assert.throws(
      () => xnonce.link('v1', 'GET', '/a/b', [], 'svc', SECRET, 'https://h', o),
      refused('options', what),
    )
    assert.throws(
      () => xnonce.linkDetailed('v1', 'GET', '/a/b', [], 'svc', SECRET, 'https://h', o),
      refused('options', what),
    )
    assert.throws(() => xnonce.signRequest('v1', 'GET', '/a/b', 'svc', SECRET, o), refused('parts', what))
    assert.throws(() => v.verify('GET', '/a/b', o), refused('options', what))
    assert.throws(() => v.verifyOnce('GET', '/a/b', o), refused('options', what))
    assert.throws(() => verifier(o), refused('options', what))
    assert.throws(
      () => new xnonce.Requester('http://127.0.0.1:9', 'svc', SECRET, o),
      refused('options', what),
    )
    await assert.rejects(api.makeRequest('GET', [], '/a/b', null, o), refused('options', what))
    assert.throws(() => xnonce.middleware(v, o), refused('options', what))
    assert.throws(() => xnonce.checkContinue(o), refused('options', what))
    assert.throws(() => xnonce.redisReplayStore({ set() {}, get() {} }, o), refused('options', what))
    assert.throws(
      () => xnonce.xnonceFetch(Object.assign(o, { client: 'svc', secret: SECRET, fetch })),
      refused('options', what),
    )
  }
  // A class instance: its enumerable keys (own, and inherited as for…in reads them) are its
  // options, as a plain object's are: read, checked and refused alike.
  const instance = (fields) => Object.assign(new (class Opts {})(), fields)
  assert.equal(
    sign('v2', 'GET', '/a/b', [], 'svc', SECRET, instance(V2)),
    sign('v2', 'GET', '/a/b', [], 'svc', SECRET, { ...V2 }),
  )
  assert.equal(
    sign('v2', 'GET', '/a/b', new Map(), 'svc', SECRET, instance(V2)),
    sign('v2', 'GET', '/a/b', [], 'svc', SECRET, { ...V2 }),
  )
  assert.equal(
    xnonce.signRequest('v2', 'GET', '/a/b', 'svc', SECRET, instance(V2)),
    sign('v2', 'GET', '/a/b', [], 'svc', SECRET, { ...V2 }),
  )
  assert.equal(
    v.verify('GET', '/a/b', instance({ host: 'api.test', xNonce: signedGet(), now: T })).client,
    'svc',
  )
  assert.throws(() => sign('v2', 'GET', '/a/b', [], 'svc', SECRET, instance({ ...V2, hots: 'x' })), {
    code: 'ERR_INVALID_ARG_VALUE',
  })
  const Opts = class {
    constructor() {
      this.timeoutMs = 0
    }
  }
  assert.throws(() => new xnonce.Requester('http://127.0.0.1:9', 'svc', SECRET, new Opts()), RangeError)
  assert.throws(() => xnonce.redisReplayStore({ set() {}, get() {} }, new Opts()), RangeError)
  assert.throws(() => xnonce.checkContinue(instance({ limit: -1 })), RangeError)
  assert.throws(() => xnonce.middleware(v, instance({ limt: 1 })), { code: 'ERR_INVALID_ARG_VALUE' })
})

test('an unknown option key is a TypeError naming it, never ignored; every declared key is known', async () => {
  const v = verifier()
  const api = new xnonce.Requester('http://127.0.0.1:9', 'svc', SECRET, { timeoutMs: 1000 })
  const refused = (argument, key) => (e) => {
    assert.ok(e instanceof TypeError, `${key}: ${e}`)
    assert.ok(!(e instanceof xnonce.XNonceError), key)
    assert.equal(e.code, 'ERR_INVALID_ARG_VALUE', key)
    assert.ok(
      e.message.startsWith(`The argument "${argument}" is invalid: unknown option "${key}" (known: `),
      e.message,
    )
    return true
  }
  const calls = [
    ['options', 'hots', (o) => sign('v2', 'GET', '/a/b', [], 'svc', SECRET, { ...V2, ...o })],
    ['options', 'hots', (o) => sign('v2', 'GET', '/a/b', new Map(), 'svc', SECRET, { ...V2, ...o })],
    ['options', 'timeStamp', (o) => xnonce.signDetailed('v1', 'GET', '/a/b', [], 'svc', SECRET, o)],
    ['options', 'Host', (o) => xnonce.link('v2', 'GET', '/a/b', [], 'svc', SECRET, 'https://h', o)],
    ['options', 'x', (o) => xnonce.linkDetailed('v2', 'GET', '/a/b', [], 'svc', SECRET, 'https://h', o)],
    ['parts', 'content_type', (o) => xnonce.signRequest('v2', 'GET', '/a/b', 'svc', SECRET, { ...V2, ...o })],
    ['options', 'window_ms', (o) => verifier(o)],
    ['options', 'xnonce', (o) => v.verify('GET', '/a/b', { host: 'api.test', ...o })],
    ['options', 'x_nonce', (o) => v.verifyOnce('GET', '/a/b', { host: 'api.test', ...o })],
    ['options', 'timeout', (o) => new xnonce.Requester('http://127.0.0.1:9', 'svc', SECRET, o)],
  ]
  for (const [argument, key, call] of calls) {
    // Even when undefined: a misspelt key is a mistake whatever it holds.
    for (const value of ['x', undefined]) assert.throws(() => call({ [key]: value }), refused(argument, key))
  }
  // makeRequest: Python's spelling of extraParams would otherwise send nothing.
  for (const key of ['extra_params', 'body', 'host']) {
    await assert.rejects(
      api.makeRequest('GET', [], '/a/b', null, { [key]: { a: 1 } }),
      refused('options', key),
    )
  }

  // Every key native.d.ts declares is accepted (null is absent), so the lists stay complete.
  const dts = ['native.d.ts', 'native-header.d.ts']
    .map((f) => require('node:fs').readFileSync(require('node:path').join(__dirname, '..', f), 'utf8'))
    .join('\n')
  const keysOf = (name) => {
    const body = new RegExp(`export interface ${name} \\{([^]*?)\\n\\}`).exec(dts)[1]
    return [...body.matchAll(/^ {2}(\w+)\?:/gm)].map((m) => m[1])
  }
  const nulls = (name) => Object.fromEntries(keysOf(name).map((k) => [k, null]))
  assert.deepEqual(keysOf('SignOptions'), ['timestamp', 'nonce', 'host', 'body'])
  sign('v1', 'GET', '/a/b', [], 'svc', SECRET, nulls('SignOptions'))
  sign('v1', 'GET', '/a/b', new Map(), 'svc', SECRET, nulls('SignOptions'))
  xnonce.signRequest('v1', 'GET', '/a/b', 'svc', SECRET, nulls('RequestParts'))
  verifier(nulls('VerifierOptions'))
  assert.throws(() => v.verify('GET', '/a/b', nulls('VerifyOptions')), { code: 'missing_header' })
  new xnonce.Requester('http://127.0.0.1:9', 'svc', SECRET, nulls('RequesterOptions'))
  assert.deepEqual(keysOf('RequestOptions'), [
    'timestamp',
    'nonce',
    'extraParams',
    'json',
    'headers',
    'signal',
  ])
  await assert.rejects(api.makeRequest('GET', [], '/a/b', null, nulls('RequestOptions')), {
    code: 'connection_failed',
  })
})

test('xnonceFetch refuses a credential no request could use when it is made, not on each call', () => {
  const fetch = async () => new Response('')
  for (const [options, code] of [
    [{ client: 'svc', secret: SECRET, scheme: 'v3' }, 'unsupported_scheme'],
    [{ client: 'has space', secret: SECRET }, 'invalid_client_id'],
    [{ client: 'svc', secret: 'legacy-secret' }, 'invalid_secret'], // v2 keys are 64 hex digits
    [{ client: 'svc', secret: '' }, 'invalid_secret'],
  ]) {
    assert.throws(
      () => xnonce.xnonceFetch({ ...options, fetch }),
      (e) => e instanceof xnonce.XNonceError && e.code === code,
      code,
    )
  }
  assert.throws(() => xnonce.xnonceFetch({ client: 'svc', fetch }), TypeError)
  assert.equal(
    typeof xnonce.xnonceFetch({ client: 'svc', secret: 'legacy-secret', scheme: 'v1', fetch }),
    'function',
  )
})

test('a request whose text is not well-formed (a lone surrogate) is refused with the answer to send', () => {
  // The client's bytes as a server decoded them: a refusal of the request, never a 500.
  const header = signedGet({ host: 'api.test' })
  for (const [name, call, code, status] of [
    [
      'method',
      (v) => v.verify('G\ud800T', '/a/b', { host: 'api.test', xNonce: header }),
      'invalid_method',
      400,
    ],
    [
      'target',
      (v) => v.verifyOnce('GET', '/a/b?k=\udcff', { host: 'api.test', xNonce: header }),
      'invalid_path',
      400,
    ],
    ['host', (v) => v.verify('GET', '/a/b', { host: 'api\ud800', xNonce: header }), 'invalid_host', 400],
    [
      'content type',
      (v) => v.verify('GET', '/a/b', { host: 'api.test', xNonce: header, contentType: '\ud800' }),
      'invalid_body',
      400,
    ],
    // No v2 header can be read from it: em-secure-api's style.
    [
      'x-nonce',
      (v) => v.verify('GET', '/a/b', { host: 'api.test', xNonce: 'a\udcffb' }),
      'malformed_header',
      401,
    ],
  ]) {
    assert.throws(
      () => call(verifier()),
      (e) => {
        assert.equal(e.code, code, name)
        assert.ok(e.answer, `${name}: an answer to send`)
        assert.equal(e.answer.status, status, name)
        assert.ok(!e.answer.body.includes('\ud800') && !e.answer.body.includes('\udcff'), name)
        if (status === 400) assert.ok(e.answer.body.includes(`"code":"${code}"`), `${name}: ${e.answer.body}`)
        return true
      },
      name,
    )
  }
})

test('xnonceFetch: scheme and fetch set to null are absent (v2, the global fetch), as in every options object', async () => {
  const sent = []
  const spy = async (url, init) => {
    sent.push(new Headers(init.headers).get('x-nonce'))
    return new Response('')
  }
  const saved = globalThis.fetch
  let signedFetch
  globalThis.fetch = spy
  try {
    signedFetch = xnonce.xnonceFetch({ client: 'svc', secret: SECRET, scheme: null, fetch: null })
  } finally {
    globalThis.fetch = saved
  }
  await signedFetch('https://api.test/a/b')
  assert.equal(sent.length, 1, 'the global fetch of when it was made')
  assert.equal(xnonce.parseHeader(sent[0]).scheme, 'v2')
})

test('the JavaScript helpers refuse an unknown option key too: middleware, redisReplayStore, xnonceFetch', () => {
  const refused = (key) => ({
    name: 'TypeError',
    code: 'ERR_INVALID_ARG_VALUE',
    message: new RegExp(`^The argument "options" is invalid: unknown option "${key}" \\(known: `),
  })
  const v = verifier()
  assert.throws(() => xnonce.middleware(v, { onerror: () => {} }), refused('onerror'))
  assert.throws(() => xnonce.middleware(v, { storeTimeout: 5000 }), refused('storeTimeout'))
  assert.throws(() => xnonce.redisReplayStore({ set() {} }, { key_prefix: 'app:' }), refused('key_prefix'))
  assert.throws(() => xnonce.xnonceFetch({ client: 'svc', secret: SECRET, schema: 'v1' }), refused('schema'))
  // Options that are no object at all (a timeout given in their place) are refused, never
  // read as no options, as the middleware's are.
  for (const options of [2000, true, 'app:', () => {}]) {
    const notAnObject = { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }
    assert.throws(
      () => xnonce.redisReplayStore({ set() {}, get() {} }, options),
      notAnObject,
      String(options),
    )
    assert.throws(() => xnonce.middleware(v, options), notAnObject, String(options))
  }
  // The known keys, null or given, are accepted.
  const options = { once: null, limit: null, then: null, onError: null, store: null, storeTimeoutMs: null }
  assert.equal(typeof xnonce.middleware(v, options), 'function')
  assert.equal(
    typeof xnonce.redisReplayStore(
      { set() {}, get() {} },
      { prefix: null, timeoutMs: null, fenceAfterLossMs: null },
    ).key,
    'function',
  )
  assert.equal(typeof xnonce.xnonceFetch({ client: 'svc', secret: SECRET, scheme: 'v1', fetch }), 'function')
})

test('an option that is null is absent, on every path and in every options object', () => {
  const base = { host: 'api.test', timestamp: T, nonce: V2.nonce }
  const nulls = { body: null }
  const pairs = [['k', 'v']]
  const want = xnonce.sign('v2', 'GET', '/a/b', pairs, 'svc', SECRET, base)
  for (const params of [pairs, new Map(pairs), { k: 'v' }]) {
    assert.equal(xnonce.sign('v2', 'GET', '/a/b', params, 'svc', SECRET, { ...base, ...nulls }), want)
    assert.equal(
      xnonce.signDetailed('v2', 'GET', '/a/b', params, 'svc', SECRET, { ...base, ...nulls }).xNonce,
      want,
    )
  }
  // timestamp: null and nonce: null are the defaults (the clock, a random nonce) on both paths.
  for (const params of [pairs, new Map(pairs)]) {
    const d = xnonce.parseHeader(
      xnonce.sign('v2', 'GET', '/a/b', params, 'svc', SECRET, { host: 'h', timestamp: null, nonce: null }),
    )
    assert.ok(Math.abs(d.timestamp - Date.now()) < 60000, 'timestamp from the clock')
    assert.match(d.nonce, /^[0-9a-f]{32}$/)
    assert.notEqual(d.nonce, V2.nonce)
  }
  assert.throws(() => xnonce.sign('v2', 'GET', '/a/b', pairs, 'svc', SECRET, { ...V2, host: null }), {
    code: 'invalid_host',
  })
  assert.equal(
    xnonce.link('v2', 'GET', '/a/b', pairs, 'svc', SECRET, 'https://api.test', {
      ...base,
      host: null,
      body: null,
    }),
    xnonce.link('v2', 'GET', '/a/b', pairs, 'svc', SECRET, 'https://api.test', base),
  )
  const parts = { host: 'api.test', timestamp: T, nonce: V2.nonce }
  assert.equal(
    xnonce.signRequest('v2', 'GET', '/a/b?k=v', 'svc', SECRET, { ...parts, contentType: null, body: null }),
    want,
  )
  const v = new xnonce.Verifier(
    { svc: SECRET },
    { windowMs: null, controllerWindows: null, actionWindows: null, schemes: null },
  )
  const ok = v.verify('GET', '/a/b?k=v', {
    host: 'api.test',
    xNonce: want,
    contentType: null,
    body: null,
    now: T,
  })
  assert.equal(ok.client, 'svc')
  assert.throws(() => v.verify('GET', '/a/b?k=v', { host: 'api.test', xNonce: want, now: null }), {
    code: 'expired',
  })
  assert.ok(
    new xnonce.Requester('http://h', 'svc', SECRET, { scheme: null, timeoutMs: null, correctClock: null }),
  )
})

test('Requester timeoutMs (a positive number of ms) and clockOffsetMs (an integer): else a RangeError, not a timestamp error', () => {
  const make = (timeoutMs) => new xnonce.Requester('http://127.0.0.1:9', 'svc', SECRET, { timeoutMs })
  for (const bad of [0, -0, -1, -0.5, NaN, Infinity, -Infinity, 1e20, 2 ** 53]) {
    assert.throws(
      () => make(bad),
      (e) => {
        assert.ok(e instanceof RangeError, `${bad}: ${e}`)
        assert.ok(!(e instanceof xnonce.XNonceError), `${bad}: not an XNonceError`)
        assert.equal(e.code, 'ERR_OUT_OF_RANGE')
        assert.match(e.message, /"timeoutMs" is out of range/)
        assert.doesNotMatch(e.message, /timestamp/)
        return true
      },
    )
  }
  // The value received, written as Node's own range errors write it.
  for (const [bad, text] of [
    [-0, '-0'],
    [-0.5, '-0.5'],
    [NaN, 'NaN'],
    [Infinity, 'Infinity'],
    [-Infinity, '-Infinity'],
    [2 ** 53, '9007199254740992'],
  ]) {
    assert.throws(
      () => make(bad),
      (e) => e.message.endsWith(`Received ${text}`),
      text,
    )
  }
  // Any positive number: one below a nanosecond is a nanosecond, never no timeout at all.
  for (const good of [1, 0.5, 5000, 2 ** 53 - 1, 1e-10, Number.MIN_VALUE])
    assert.ok(make(good) instanceof xnonce.Requester, String(good))
  assert.throws(() => make('5000'), TypeError)
  const offset = (clockOffsetMs) =>
    new xnonce.Requester('http://127.0.0.1:9', 'svc', SECRET, { clockOffsetMs }).clockOffsetMs
  for (const good of [0, -5, 3600000, -(2 ** 53 - 1)]) assert.equal(offset(good), good)
  for (const bad of [0.5, NaN, Infinity, 2 ** 53, -1e20]) {
    assert.throws(
      () => offset(bad),
      (e) => e instanceof RangeError && e.code === 'ERR_OUT_OF_RANGE' && /"clockOffsetMs"/.test(e.message),
    )
  }
})

test('makeRequest json: a cycle or a bigint rejects with TypeError, too deep with invalid_body; never a crash', () => {
  // In a child process: before the fix these calls overflowed the native stack (exit 139).
  const script = `
    const x = require(${JSON.stringify(require('node:path').join(__dirname, '..'))})
    const api = new x.Requester('http://127.0.0.1:9', 'c', '00'.repeat(32), { timeoutMs: 1000 })
    const cyc = {}; cyc.self = cyc
    const list = [1]; list.push(list)
    let deep = {}; for (let i = 0; i < 100000; i++) deep = { a: deep }
    let nested = []; for (let i = 0; i < 200; i++) nested = [nested]
    const cases = { cyc, list, deep, nested, big: { n: 1n }, fn: () => 1 }
    ;(async () => {
      const out = {}
      for (const [name, json] of Object.entries(cases)) {
        try {
          const p = api.makeRequest('POST', [], '/a/b', null, { json })
          out[name] = p instanceof Promise ? 'promise' : 'not a promise'
          await p
          out[name] += ' resolved'
        } catch (e) {
          out[name] += ' ' + e.constructor.name + ' ' + (e.code ?? '')
        }
      }
      console.log(JSON.stringify(out))
    })()`
  const child = require('node:child_process').spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    timeout: 60000,
  })
  assert.equal(child.signal, null, `killed by ${child.signal}: ${child.stderr}`)
  assert.equal(child.status, 0, child.stderr)
  assert.deepEqual(JSON.parse(child.stdout), {
    cyc: 'promise TypeError ',
    list: 'promise TypeError ',
    deep: 'promise InputError invalid_body',
    nested: 'promise InputError invalid_body',
    big: 'promise TypeError ',
    fn: 'promise TypeError ',
  })
})
