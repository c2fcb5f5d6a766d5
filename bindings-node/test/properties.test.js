'use strict'
// Property-based tests (fast-check) of the public surface.
//
// Robustness: every public function, constructor and method, given values of any type in any
// argument (strings with lone surrogates, NUL or a megabyte of text; bigints; NaN; symbols;
// null/undefined; nested arrays and objects; Proxies whose traps throw; objects whose getters,
// toString or iterator throw), returns or throws what the README and index.d.ts document: an
// XNonceError with a known code, a TypeError or a RangeError (never a plain Error, a crash or
// an abort), and no message holds the secret. For `sign` the oracle is exact: each argument is
// accepted if and only if PROTOCOL says it is valid, else refused with that argument's code
// (or a TypeError for a value of another type).
//
// Semantics: sign → verify round trips in v1 and v2 (accepted once by verifyOnce), any one
// change of the request is `signature_mismatch`, header and ottoken encode → parse are
// identities, and `reconfigure` never forgets a request.
//
// XNONCE_PROPERTY_RUNS=5000 searches harder (locally; the suite's default stays quick).

const test = require('node:test')
const assert = require('node:assert/strict')
const fc = require('fast-check')
const xnonce = require('..')

const SECRET = '20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd'
const T = 1700000000000
const NONCE = '0123456789abcdef0123456789abcdef'
const HEADER = xnonce.sign('v2', 'GET', '/c/a', [['k', 'v']], 'svc', SECRET, { host: 'h', timestamp: T })
// Generated text has the secret's shape, never its value: a message may name text the caller
// gave in another role (an unknown option key), and the check below is that none holds SECRET.
const SECRET_SHAPED = '0f'.repeat(32)
const RUNS = Number(process.env.XNONCE_PROPERTY_RUNS || 200)
const UNRESERVED = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~'
const HEX = '0123456789abcdef'

// A failure prints its seed and path: XNONCE_PROPERTY_SEED and XNONCE_PROPERTY_PATH replay it.
// Under CI (test.sh sets CI=true) the seed is fixed, so a run is green or red for the code, not
// for the draw; elsewhere (or with XNONCE_PROPERTY_RANDOM=1) each run draws a new one.
const FIXED = process.env.CI && !process.env.XNONCE_PROPERTY_RANDOM ? { seed: 20261207 } : {}
const REPLAY = process.env.XNONCE_PROPERTY_SEED
  ? { seed: Number(process.env.XNONCE_PROPERTY_SEED), path: process.env.XNONCE_PROPERTY_PATH }
  : FIXED
const check = (property, examples = []) => fc.assert(property, { numRuns: RUNS, examples, ...REPLAY })

// ---- values of every kind ----

/** What the hostile values below throw: the package may let it through, as is. */
class Boom extends Error {}
const boom = () => {
  throw new Boom('hostile')
}
// (Symbol keys answer: fast-check itself looks its clone method up on generated values.)
const stringKeysBoom = (target, key) => (typeof key === 'symbol' ? undefined : boom())
const hostile = () =>
  fc.constantFrom(
    new Proxy(
      {},
      { get: stringKeysBoom, has: stringKeysBoom, ownKeys: boom, getOwnPropertyDescriptor: boom },
    ),
    new Proxy([], { get: stringKeysBoom, has: stringKeysBoom, ownKeys: boom }),
    new Proxy(() => {}, { apply: boom, get: stringKeysBoom, has: stringKeysBoom }),
    {
      get host() {
        return boom()
      },
    },
    { toString: boom, valueOf: boom, [Symbol.toPrimitive]: boom },
    { [Symbol.iterator]: boom },
    {
      *[Symbol.iterator]() {
        yield ['a', '1']
        boom()
      },
    },
    Object.create(null),
    new Map([['k', boom]]),
    new URLSearchParams('a=1&a=2'),
    new Date(0),
    new String('v2'),
    Symbol('s'),
    Symbol.iterator,
    () => SECRET,
    new Uint8Array([1, 2]),
    new Uint16Array(2),
    new ArrayBuffer(3),
    new DataView(new ArrayBuffer(1)),
    Buffer.from('x'),
    Promise.resolve(1),
    new Error('e'),
    /re/,
  )

const surrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c))
const wildText = fc.oneof(
  fc.string({ unit: fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), surrogate) }),
  fc.string({ unit: fc.constantFrom(...'\0\n\r\t %/?#=&+;:[]{}\x7f\u00a0\u2028é名'.split('')) }),
  fc.constantFrom('', 'v1', 'v2', 'V2', 'GET', '/', '/c/a', 'h', SECRET_SHAPED, NONCE, HEADER),
  fc.integer({ min: 3, max: 6 }).map((n) => 'a'.repeat(10 ** n)),
  fc.integer({ min: 3, max: 6 }).map((n) => '\ud800'.repeat(10 ** n)),
)
const relevantText = fc.oneof(
  wildText,
  fc.string({ unit: fc.constantFrom(...(UNRESERVED + '%/: []é\0').split('')), maxLength: 20 }),
  fc.string({ unit: fc.constantFrom(...(HEX + 'ABCDEF').split('')), minLength: 30, maxLength: 66 }),
  fc.constantFrom('/', '/a b', '/a%zz', '/a%2F', 'h:80', ':80', '[::1]:9000', 'A'.repeat(16)),
  fc.constantFrom('A'.repeat(17), 'c'.repeat(128), 'c'.repeat(129), 'x'.repeat(1024), 'x'.repeat(1025)),
)
const numbers = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(-1, 0, -0, 0.5, 2 ** 53, 2 ** 53 - 1, 2 ** 64, NaN, Infinity, -Infinity, T),
  fc.bigInt(),
  fc.constantFrom(-(2n ** 200n), 2n ** 53n, 2n ** 53n - 1n, 2n ** 127n, -(2n ** 127n), 2n ** 1000n),
)
const scalars = fc.oneof(
  fc.constantFrom(null, undefined, true, false),
  numbers,
  wildText,
  relevantText,
  hostile(),
)
const anything = fc.oneof(
  { weight: 4, arbitrary: scalars },
  fc.anything({ maxDepth: 3, withBigInt: true, withMap: true, withSet: true, withTypedArray: true }),
  fc.array(scalars, { maxLength: 3 }),
  fc.array(fc.tuple(wildText, scalars), { maxLength: 3 }),
  fc.dictionary(wildText, scalars, { maxKeys: 3 }),
)

/** What `call` returns, or the documented error it threw (returned, not thrown). */
function outcome(call) {
  try {
    return call()
  } catch (e) {
    if (e instanceof Boom) return e
    if (e instanceof xnonce.XNonceError) {
      assert.ok(xnonce.ERROR_CODES.includes(e.code), `unknown code ${e.code}`)
    } else {
      assert.ok(e instanceof TypeError || e instanceof RangeError, `undocumented error: ${e && e.stack}`)
    }
    assert.ok(!String(e.message).includes(SECRET), 'a message holds the secret')
    return e
  }
}

// ---- sign: exactly the documented arguments are accepted ----

const isWellFormed = (s) => typeof s === 'string' && !/\p{Surrogate}/u.test(s)
const utf8Length = (s) => Buffer.byteLength(s, 'utf8')

function validHost(h) {
  if (utf8Length(h) < 1 || utf8Length(h) > 255) return false
  let low = h.replace(/[A-Z]/g, (c) => c.toLowerCase())
  if (!/^[a-z0-9.\-_:[\]]*$/.test(low)) return false
  if (low.endsWith(':80')) low = low.slice(0, -3)
  else if (low.endsWith(':443')) low = low.slice(0, -4)
  return low !== '' && !low.startsWith(':')
}

function validPath(p, scheme) {
  if (!p.startsWith('/') || utf8Length(p) > 8192 || /[?#\0-\x1f\x7f]/.test(p)) return false
  return scheme === 'v1' ? !p.includes(' ') : !/%(?![0-9A-Fa-f]{2})/.test(p)
}

function validSecret(s, scheme) {
  if (scheme === 'v2') return /^[0-9a-fA-F]{64}$/.test(s)
  return (
    utf8Length(s) >= 1 &&
    utf8Length(s) <= 1024 &&
    !/[\0-\x1f\x7f-\x9f\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/.test(s)
  )
}

/** A text argument: a TypeError for a non-string, else null when valid, else `code`. */
const textRule = (code, ok) => (v) =>
  typeof v !== 'string' ? 'TypeError' : isWellFormed(v) && ok(v) ? null : code
const absent = (v) => v === null || v === undefined

/** null when PROTOCOL accepts `v` as `arg` (the other arguments valid), else the code or 'TypeError'. */
function expectedRefusal(arg, v, scheme) {
  switch (arg) {
    case 'scheme':
      return typeof v !== 'string'
        ? 'TypeError'
        : ['v1', 'v2', 'V1', 'V2'].includes(v)
          ? null
          : 'unsupported_scheme'
    case 'method':
      return textRule('invalid_method', (m) => /^[A-Za-z]{1,16}$/.test(m))(v)
    case 'path':
      return textRule('invalid_path', (p) => validPath(p, scheme))(v)
    case 'client':
      return textRule('invalid_client_id', (c) => /^[A-Za-z0-9\-._~]{1,128}$/.test(c))(v)
    case 'secret':
      return textRule('invalid_secret', (s) => validSecret(s, scheme))(v)
    case 'host':
      if (absent(v)) return scheme === 'v2' ? 'invalid_host' : null
      return textRule('invalid_host', (h) => scheme === 'v1' || validHost(h))(v)
    case 'nonce':
      if (absent(v)) return null
      return textRule('invalid_nonce', (n) => scheme === 'v1' || /^[0-9a-f]{32}$/.test(n))(v)
    case 'timestamp':
      if (absent(v)) return null
      if (typeof v === 'bigint') return v >= 0n && v <= 2n ** 53n - 1n ? null : 'invalid_timestamp'
      if (typeof v === 'number')
        return Number.isInteger(v) && v >= 0 && v <= 2 ** 53 - 1 ? null : 'invalid_timestamp'
      return 'TypeError'
    case 'body': {
      if (absent(v)) return null
      let length
      if (typeof v === 'string') {
        if (!isWellFormed(v)) return 'invalid_body'
        length = v.length
      } else if (v instanceof Uint8Array || v instanceof ArrayBuffer) length = v.byteLength
      else return 'TypeError'
      return scheme === 'v1' && length > 0 ? 'invalid_body' : null
    }
  }
  throw new Error(arg)
}

const SIGN_ARGS = ['scheme', 'method', 'path', 'client', 'secret', 'timestamp', 'nonce', 'host', 'body']
const OPTION_ARGS = new Set(['timestamp', 'nonce', 'host', 'body'])

test('sign accepts exactly the documented arguments, and refuses the rest with their code', () => {
  check(
    fc.property(
      fc.constantFrom('v1', 'v2'),
      fc.constantFrom(...SIGN_ARGS),
      fc.oneof(anything, relevantText),
      (scheme, arg, value) => {
        const a = { scheme, method: 'GET', path: '/c/a', client: 'svc', secret: SECRET }
        const options = { timestamp: T, nonce: NONCE, host: 'h', body: null }
        if (OPTION_ARGS.has(arg)) options[arg] = value
        else a[arg] = value
        const want = expectedRefusal(arg, value, scheme)
        const got = outcome(() =>
          xnonce.sign(a.scheme, a.method, a.path, [['k', 'v']], a.client, a.secret, options),
        )
        if (want === null) {
          assert.equal(typeof got, 'string', `${arg} refused: ${got && got.stack}`)
          assert.equal(xnonce.parseHeader(got).client, a.client)
        } else if (want === 'TypeError') {
          assert.ok(got instanceof TypeError && !(got instanceof xnonce.XNonceError), `${arg}: ${got}`)
        } else {
          assert.ok(
            got instanceof xnonce.XNonceError && got.code === want,
            `${arg}: want ${want}, got ${got}`,
          )
        }
      },
    ),
    [
      ['v2', 'path', '/a\udcff'],
      ['v1', 'host', '\ud800'],
      ['v2', 'timestamp', 2 ** 53],
      ['v2', 'timestamp', 2n ** 53n - 1n],
      ['v2', 'body', new Uint16Array(1)],
    ],
  )
})

// ---- params: native values become the documented text ----

/** PROTOCOL §3.6.1: a finite number as core writes it. */
function formatNumber(x) {
  if (x === 0) return '0'
  const sign = x < 0 ? '-' : ''
  const [coef, exp] = Math.abs(x).toExponential().split('e')
  let digits = BigInt(coef.replace('.', ''))
  const q = Number(exp) - (coef.replace('.', '').length - 1) // weight of the last digit
  // An exact tie (|x| = (D + ½)·10^q) goes to the larger magnitude; String() goes to even.
  const dv = new DataView(new ArrayBuffer(8))
  dv.setFloat64(0, Math.abs(x))
  const hi = dv.getUint32(0)
  const bits = (hi >>> 20) & 0x7ff
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(dv.getUint32(4))
  let e = -1074
  if (bits !== 0) {
    mant |= 1n << 52n
    e = bits - 1075
  }
  const p10 = (n) => 10n ** BigInt(Math.max(n, 0))
  const p2 = (n) => 2n ** BigInt(Math.max(n, 0))
  if ((2n * digits + 1n) * p10(q) * p2(-e) === 2n * mant * p2(e) * p10(-q)) digits += 1n
  let ds = digits.toString()
  let text
  if (q >= 0) text = ds + '0'.repeat(q)
  else {
    const k = -q
    text = ds.length > k ? `${ds.slice(0, -k)}.${ds.slice(-k)}` : `0.${'0'.repeat(k - ds.length)}${ds}`
    text = text.replace(/\.?0+$/, '')
  }
  return sign + text
}

/** The text a param value is signed as, or null when it is refused. */
function valueText(v) {
  if (typeof v === 'string') return isWellFormed(v) ? v : null
  if (typeof v === 'boolean') return String(v)
  if (typeof v === 'bigint') return v >= -(2n ** 127n) && v < 2n ** 127n ? v.toString() : null
  if (typeof v === 'number') return Number.isFinite(v) ? formatNumber(v) : null
  return null
}

const rfc3986 = (s) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
const cgiEscape = (s) => rfc3986(s).replace(/%20/g, '+')
const query = (scheme, pairs) =>
  pairs.map(([k, v]) => (scheme === 'v1' ? `${k}=${cgiEscape(v)}` : `${rfc3986(k)}=${rfc3986(v)}`)).join('&')

test('param values are signed as their documented text', () => {
  check(
    fc.property(fc.constantFrom('v1', 'v2'), fc.oneof(anything, relevantText), (scheme, value) => {
      const want = valueText(value)
      const got = outcome(() =>
        xnonce.sign(scheme, 'GET', '/c/a', [['k', value]], 'svc', SECRET, { host: 'h', timestamp: T }),
      )
      if (want === null) {
        assert.ok(got instanceof xnonce.InputError && got.code === 'invalid_param_value', `${String(got)}`)
        return
      }
      assert.equal(typeof got, 'string', String(got && got.stack))
      // It verifies with the value sent as that text: the text is the one core signed.
      const v = new xnonce.Verifier({ svc: SECRET }).verify('GET', `/c/a?${query(scheme, [['k', want]])}`, {
        host: 'h',
        xNonce: got,
        now: T,
      })
      assert.deepEqual(v.params, [['k', want]])
    }),
    [
      ['v2', 1000000000000001.25],
      ['v2', 1000000000000001.75],
      ['v1', 5e-324],
      ['v2', 1e21],
      ['v2', -(2n ** 127n)],
      ['v2', 2n ** 127n],
    ],
  )
})

const signV2 = (params, body, scheme = 'v2') =>
  xnonce.sign(scheme, 'POST', '/c/a', params, 'svc', SECRET, { timestamp: T, nonce: NONCE, host: 'h', body })

test('every kind of body signs its bytes (views at an offset, ArrayBuffers, strings as UTF-8)', () => {
  check(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(8), fc.nat(8), (bytes, before, after) => {
      const want = signV2([], Buffer.from(bytes))
      const backing = new Uint8Array(before + bytes.length + after).fill(0xa5)
      backing.set(bytes, before)
      const view = backing.subarray(before, before + bytes.length)
      assert.equal(signV2([], view), want)
      assert.equal(signV2([], Buffer.from(view.buffer, view.byteOffset, view.length)), want)
      assert.equal(signV2([], view.slice().buffer), want)
      const text = Buffer.from(bytes).toString('latin1')
      assert.equal(signV2([], text), signV2([], Buffer.from(text, 'utf8')))
    }),
  )
})

test('every shape of params signs its pairs in order', () => {
  check(
    fc.property(
      fc.constantFrom('v1', 'v2'),
      fc.uniqueArray(
        fc.tuple(
          unreservedKey.filter((k) => k !== 'ottoken'),
          fc.string({ maxLength: 5 }),
        ),
        {
          selector: ([k]) => k,
          maxLength: 5,
        },
      ),
      (scheme, pairs) => {
        const want = signV2(pairs, null, scheme)
        assert.equal(signV2(new Map(pairs), null, scheme), want)
        assert.equal(signV2(new URLSearchParams(pairs), null, scheme), want)
        assert.equal(
          signV2(
            (function* () {
              yield* pairs
            })(),
            null,
            scheme,
          ),
          want,
        )
        // A plain object iterates integer-like keys first: the same pairs only without them.
        if (!pairs.some(([k]) => /^\d+$/.test(k)))
          assert.equal(signV2(Object.fromEntries(pairs), null, scheme), want)
        if (scheme === 'v2') assert.equal(signV2([...pairs].reverse()), want)
      },
    ),
  )
})

// ---- round trips ----

/** A v2 path as a client sends it: each segment's bytes, percent-encoded. */
function targetPath(path) {
  return path
    .split('/')
    .map((seg) => {
      const bytes = []
      for (let i = 0; i < seg.length;) {
        if (seg[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(seg.slice(i + 1, i + 3))) {
          bytes.push(parseInt(seg.slice(i + 1, i + 3), 16))
          i += 3
        } else {
          const c = String.fromCodePoint(seg.codePointAt(i))
          bytes.push(...Buffer.from(c))
          i += c.length
        }
      }
      return bytes
        .map((b) =>
          UNRESERVED.includes(String.fromCharCode(b))
            ? String.fromCharCode(b)
            : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
        )
        .join('')
    })
    .join('/')
}

const wellFormedText = fc.string({
  unit: fc.oneof(
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
    fc.constantFrom(...' %+&=;/?#~é名\u2028'.split('')),
  ),
  maxLength: 12,
})
const paramValue = fc.oneof(
  wellFormedText,
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.bigInt({ min: -(2n ** 127n), max: 2n ** 127n - 1n }),
  fc.boolean(),
)
const segment = fc.string({
  unit: fc.oneof(
    fc.constantFrom(...(UNRESERVED + "!$'()*,;=:@ +é名").split('')),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }).filter((c) => !/[/?#%\0-\x1f\x7f]/.test(c)),
    fc.integer({ min: 0, max: 255 }).map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`),
  ),
  maxLength: 8,
})
const unreservedKey = fc.string({
  unit: fc.constantFrom(...UNRESERVED.split('')),
  minLength: 1,
  maxLength: 6,
})

const request = fc.constantFrom('v1', 'v2').chain((scheme) =>
  fc.record({
    scheme: fc.constant(scheme),
    method: fc.constantFrom('GET', 'POST', 'get', 'Put', 'DELETE', 'patch'),
    path: fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => {
      const p = '/' + s.join('/')
      return scheme === 'v1' ? p.replace(/ /g, '_') : p
    }),
    params:
      scheme === 'v1'
        ? fc
            .uniqueArray(
              unreservedKey.filter((k) => k !== 'ottoken'),
              { maxLength: 5 },
            )
            .chain((keys) => fc.tuple(...keys.map((k) => fc.tuple(fc.constant(k), paramValue))))
        : fc.array(
            fc.tuple(
              fc.oneof(wellFormedText, fc.constantFrom('a', 'a', 'b')).filter((k) => k && k !== 'ottoken'),
              paramValue,
            ),
            {
              maxLength: 6,
            },
          ),
    client: fc.string({ unit: fc.constantFrom(...UNRESERVED.split('')), minLength: 1, maxLength: 12 }),
    host: fc.constantFrom('api.example.com', 'API.example.com:443', '127.0.0.1:8080', '[::1]:9000', 'h:80'),
    body:
      scheme === 'v2'
        ? fc.option(fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)))
        : fc.constant(null),
    nonce:
      scheme === 'v2'
        ? fc.string({ unit: fc.constantFrom(...HEX.split('')), minLength: 32, maxLength: 32 })
        : fc.constant(null),
  }),
)

const texts = (params) => params.map(([k, v]) => [k, valueText(v)])

function signed(r) {
  const xNonce = xnonce.sign(r.scheme, r.method, r.path, r.params, r.client, SECRET, {
    timestamp: T,
    nonce: r.nonce,
    host: r.host,
    body: r.body,
  })
  const q = query(r.scheme, texts(r.params))
  return { xNonce, target: (r.scheme === 'v1' ? r.path : targetPath(r.path)) + (q ? `?${q}` : '') }
}

const sorted = (pairs) => [...pairs].sort((a, b) => (a.join('\0') < b.join('\0') ? -1 : 1))
function assertParams(scheme, got, params) {
  if (scheme === 'v1') assert.deepEqual(got, texts(params))
  else assert.deepEqual(sorted(got), sorted(texts(params)))
}

test('a signed request verifies, exactly once', () => {
  check(
    fc.property(request, (r) => {
      const { xNonce, target } = signed(r)
      const verifier = new xnonce.Verifier({ [r.client]: SECRET })
      const options = { host: r.host, xNonce, body: r.body, now: T + 1 }
      const v = verifier.verifyOnce(r.method, target, options)
      assert.deepEqual([v.scheme, v.client, v.timestamp, v.viaOttoken], [r.scheme, r.client, T, false])
      assertParams(r.scheme, v.params, r.params)
      assert.throws(() => verifier.verifyOnce(r.method, target, options), { code: 'replayed' })
    }),
  )
})

/** PROTOCOL §9 step 6: a path a WHATWG URL client would not send unchanged. */
function linkRefusesPath(scheme, path) {
  const sent = scheme === 'v1' ? path : targetPath(path)
  const dots = sent.split('/').some((seg) => ['.', '..'].includes(seg.replace(/%2e/gi, '.')))
  return dots || (scheme === 'v1' && /[\\"<>^`{|}\u0080-\uffff]/.test(path))
}

test('a link verifies, exactly once', () => {
  check(
    fc.property(request, (r) => {
      const base = `http://${r.host}`
      const got = outcome(() =>
        xnonce.link(r.scheme, r.method, r.path, r.params, r.client, SECRET, base, {
          timestamp: T,
          nonce: r.nonce,
        }),
      )
      if (linkRefusesPath(r.scheme, r.path)) {
        assert.ok(got instanceof xnonce.InputError && got.code === 'invalid_path', String(got))
        return
      }
      assert.equal(typeof got, 'string', String(got && got.stack))
      const verifier = new xnonce.Verifier({ [r.client]: SECRET })
      const target = got.slice(base.length)
      const v = verifier.verifyOnce(r.method, target, { host: r.host, now: T })
      assert.ok(v.viaOttoken)
      assertParams(r.scheme, v.params, r.params)
      assert.throws(() => verifier.verifyOnce(r.method, target, { host: r.host, now: T }), {
        code: 'replayed',
      })
    }),
  )
})

test('any single change to a signed request is a signature_mismatch', () => {
  const change = fc.oneof(
    fc.record({ what: fc.constant('method'), to: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD') }),
    fc.record({ what: fc.constant('path'), to: fc.constantFrom('x', '/', '/x', '~', '%41') }),
    fc.record({ what: fc.constant('value'), i: fc.nat(), to: fc.constantFrom('x', ' ', 'é', '0') }),
    fc.record({ what: fc.constant('added'), to: unreservedKey }),
    fc.record({
      what: fc.constant('host'),
      to: fc.constantFrom('other.example.com', 'api.example.com:8443', '127.0.0.2'),
    }),
    fc.record({ what: fc.constant('body'), to: fc.uint8Array({ minLength: 1, maxLength: 3 }) }),
  )
  check(
    fc.property(request, change, (r, c) => {
      const { xNonce } = signed(r)
      const changed = { ...r }
      switch (c.what) {
        case 'method':
          fc.pre(c.to !== r.method.toUpperCase())
          changed.method = c.to
          break
        case 'path':
          changed.path = r.path + c.to
          break
        case 'value': {
          fc.pre(r.params.length > 0)
          const i = c.i % r.params.length
          changed.params = r.params.map(([k, v], j) => [k, j === i ? valueText(v) + c.to : v])
          break
        }
        case 'added':
          fc.pre(!(r.scheme === 'v1' && r.params.some(([k]) => k === 'zz' + c.to)))
          changed.params = [...r.params, ['zz' + c.to, '1']]
          break
        case 'host':
          fc.pre(r.scheme === 'v2')
          changed.host = c.to
          break
        case 'body':
          fc.pre(r.scheme === 'v2')
          changed.body = Buffer.concat([r.body ?? Buffer.alloc(0), c.to])
          break
      }
      const { target } = signed(changed)
      assert.throws(
        () =>
          new xnonce.Verifier({ [r.client]: SECRET }).verifyOnce(changed.method, target, {
            host: changed.host,
            xNonce,
            body: changed.body,
            now: T,
          }),
        { code: 'signature_mismatch' },
      )
    }),
  )
})

// ---- headers and ottokens ----

const lhex = (n) => fc.string({ unit: fc.constantFrom(...HEX.split('')), minLength: n, maxLength: n })
const clientId = fc.string({ unit: fc.constantFrom(...UNRESERVED.split('')), minLength: 1, maxLength: 128 })
const timestamp = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })
const headers = fc.oneof(
  fc.tuple(lhex(64), clientId, timestamp).map(([t, c, ts]) => `${t} ${c} ${ts}`),
  fc.tuple(clientId, timestamp, lhex(32), lhex(64)).map(([c, ts, n, s]) => `v2 ${c} ${ts} ${n} ${s}`),
)

test('header and ottoken encode → parse are identities', () => {
  check(
    fc.property(headers, (value) => {
      const f = value.split(' ')
      const h = xnonce.parseHeader(value)
      if (f[0] === 'v2')
        assert.deepEqual(h, { scheme: 'v2', client: f[1], timestamp: Number(f[2]), nonce: f[3], mac: f[4] })
      else
        assert.deepEqual(h, { scheme: 'v1', client: f[1], timestamp: Number(f[2]), nonce: null, mac: f[0] })
      const token = xnonce.ottokenEncode(value)
      assert.ok(token.startsWith(f[0] === 'v2' ? 'djIg' : 'eyJ'))
      assert.equal(xnonce.ottokenDecode(token), value)
      assert.equal(xnonce.ottokenQueryValue(token), f[0] === 'v2' ? token : cgiEscape(token))
    }),
  )
})

test('parseHeader accepts only what it writes back (format(parse(s)) == s)', () => {
  const near = headers.chain((h) =>
    fc.oneof(
      fc.constant(h.replace(' ', '  ')),
      fc.constant(h + ' '),
      fc.constant(h.toUpperCase()),
      fc.nat(h.length).map((i) => h.slice(0, i) + h.slice(i + 1)),
    ),
  )
  check(
    fc.property(fc.oneof(wildText, near), (value) => {
      const got = outcome(() => xnonce.parseHeader(value))
      if (got instanceof Error) {
        assert.ok(got instanceof xnonce.FormatError && got.code === 'malformed_header', String(got))
        assert.throws(() => xnonce.ottokenEncode(value), xnonce.XNonceError)
        return
      }
      assert.equal(xnonce.ottokenDecode(xnonce.ottokenEncode(value)), value)
      const again = xnonce.parseHeader(xnonce.ottokenDecode(xnonce.ottokenEncode(value)))
      assert.deepEqual(again, got)
    }),
    [['v2 c 01 ' + '0'.repeat(32) + ' ' + '0'.repeat(64)]],
  )
})

test('ottokenDecode accepts only canonical tokens; ottokenQueryValue is CGI-escape', () => {
  const near = headers
    .map(xnonce.ottokenEncode)
    .chain((t) => fc.constantFrom(t, t + 'A', t.slice(0, -1), t + '=', t.replace(/-/g, '+')))
  check(
    fc.property(fc.oneof(wildText, near), (token) => {
      const got = outcome(() => xnonce.ottokenDecode(token))
      if (got instanceof Error)
        assert.ok(got instanceof xnonce.FormatError && got.code === 'malformed_ottoken', String(got))
      else if (xnonce.parseHeader(got).scheme === 'v2') assert.equal(xnonce.ottokenEncode(got), token)
      const q = outcome(() => xnonce.ottokenQueryValue(token))
      if (isWellFormed(token)) assert.equal(q, cgiEscape(token))
      else assert.ok(q instanceof xnonce.FormatError && q.code === 'malformed_ottoken', String(q))
    }),
    [[''], ['\ud800']],
  )
})

test('a stale refusal tells its client the server time, and nobody else', () => {
  check(
    fc.property(
      fc.constantFrom('v1', 'v2'),
      fc.integer({ min: 30001, max: 1e12 }),
      fc.oneof(fc.integer(), fc.double()),
      (scheme, late, status) => {
        const sent = xnonce.sign(scheme, 'GET', '/c/a', [], 'svc', SECRET, { timestamp: T, host: 'h' })
        let refusal
        try {
          new xnonce.Verifier({ svc: SECRET }).verify('GET', '/c/a', {
            host: 'h',
            xNonce: sent,
            now: T + late,
          })
        } catch (e) {
          refusal = e
        }
        assert.ok(refusal instanceof xnonce.AuthError && refusal.code === 'expired', String(refusal))
        assert.equal(refusal.serverTime, T + late)
        const hint = `${refusal.serverTime} ${refusal.serverTimeMac}`
        assert.equal(refusal.answer.headers['x-nonce-server-time'], hint)
        assert.equal(xnonce.serverTimeFromAnswer(401, hint, sent, SECRET), T + late)
        assert.equal(xnonce.serverTimeFromAnswer(401, hint, sent, 'b'.repeat(64)), null)
        const other = xnonce.sign(scheme, 'GET', '/c/a', [], 'svc', SECRET, { timestamp: T + 1, host: 'h' })
        assert.equal(xnonce.serverTimeFromAnswer(401, hint, other, SECRET), null)
        if (status !== 401) assert.equal(xnonce.serverTimeFromAnswer(status, hint, sent, SECRET), null)
      },
    ),
    [
      ['v2', 30001, 401.5],
      ['v1', 30001, 401 + 2 ** 16],
    ],
  )
})

// ---- the Verifier ----

const windowMs = fc.integer({ min: 0, max: 86400000 })
const verifierOptions = fc.record(
  {
    windowMs,
    controllerWindows: fc.dictionary(fc.constantFrom('c', 'd', 'reports'), windowMs, { maxKeys: 2 }),
    actionWindows: fc.dictionary(fc.constantFrom('c/a', 'd/b'), windowMs, { maxKeys: 2 }),
    schemes: fc.constantFrom(['v1'], ['v2'], ['v1', 'v2']),
    hosts: fc.array(fc.constantFrom('h', 'api.example.com', 'other'), { minLength: 1, maxLength: 2 }),
  },
  { requiredKeys: [] },
)
const windowOfCA = (o) => o.actionWindows?.['c/a'] ?? o.controllerWindows?.c ?? o.windowMs ?? 30000

test('reconfigure never forgets a request', () => {
  process.on('warning', () => {}) // route windows that select no route are warned of
  check(
    fc.property(
      fc.constantFrom('v1', 'v2'),
      verifierOptions,
      verifierOptions,
      fc.nat(100000),
      (scheme, old, next, delay) => {
        const xNonce = xnonce.sign(scheme, 'GET', '/c/a', [['k', 'v']], 'svc', SECRET, {
          timestamp: T,
          host: 'h',
        })
        const req = (at) => ({ host: 'h', xNonce, now: at })
        const verifier = new xnonce.Verifier({ svc: SECRET }, old)
        const first = outcome(() => verifier.verifyOnce('GET', '/c/a?k=v', req(T)))
        verifier.reconfigure(next, T + Math.floor(delay / 2))
        const again = outcome(() => verifier.verifyOnce('GET', '/c/a?k=v', req(T + delay)))
        if (first instanceof Error) return
        assert.ok(again instanceof xnonce.XNonceError, 'a copy was accepted after reconfigure')
        const fresh = outcome(() =>
          new xnonce.Verifier({ svc: SECRET }, next).verify('GET', '/c/a?k=v', req(T + delay)),
        )
        if (!(fresh instanceof Error) && delay <= windowOfCA(old)) assert.equal(again.code, 'replayed')
      },
    ),
  )
})

// ---- every public callable, any value in any argument ----

const verifier = () => new xnonce.Verifier({ svc: SECRET })
const routed = () => new xnonce.Verifier({ svc: SECRET }, { routes: { c: { a_get: { k: 'req' } } } })
const CALLS = {
  sign: [xnonce.sign, ['v2', 'GET', '/c/a', { k: 'v' }, 'svc', SECRET, { host: 'h', timestamp: T }]],
  signDetailed: [xnonce.signDetailed, ['v1', 'GET', '/c/a', [['k', 1]], 'svc', SECRET, { timestamp: T }]],
  link: [
    xnonce.link,
    ['v2', 'GET', '/c/a', [], 'svc', SECRET, 'https://h/p', { timestamp: T, nonce: NONCE }],
  ],
  linkDetailed: [xnonce.linkDetailed, ['v1', 'GET', '/c/a', new Map(), 'svc', SECRET, 'http://h', null]],
  signRequest: [
    xnonce.signRequest,
    [
      'v2',
      'POST',
      '/c/a?x=1',
      'svc',
      SECRET,
      { host: 'h', contentType: 'application/x-www-form-urlencoded', body: 'a=1', timestamp: T },
    ],
  ],
  parseHeader: [xnonce.parseHeader, [HEADER]],
  ottokenEncode: [xnonce.ottokenEncode, [HEADER]],
  ottokenDecode: [xnonce.ottokenDecode, [xnonce.ottokenEncode(HEADER)]],
  ottokenQueryValue: [xnonce.ottokenQueryValue, [xnonce.ottokenEncode(HEADER)]],
  serverTimeFromAnswer: [xnonce.serverTimeFromAnswer, [401, '1 ab', HEADER, SECRET]],
  Verifier: [
    (...a) => new xnonce.Verifier(...a),
    [{ svc: SECRET }, { windowMs: 30000, schemes: ['v2'], hosts: ['h'] }],
  ],
  'Verifier#verify': [
    (...a) => verifier().verify(...a),
    ['GET', '/c/a?k=v', { host: 'h', xNonce: HEADER, now: T }],
  ],
  'Verifier#verifyOnce': [
    (...a) => verifier().verifyOnce(...a),
    ['GET', '/c/a?k=v', { host: 'h', xNonce: HEADER, now: T }],
  ],
  'Verifier#routeRefusal': [
    (...a) => routed().routeRefusal(...a),
    ['GET', '/c/a', { xNonce: null, contentType: null }],
  ],
  'Verifier#reconfigure': [(...a) => verifier().reconfigure(...a), [{ windowMs: 1000 }, T]],
  'Verifier#setSecrets': [(...a) => verifier().setSecrets(...a), [new Map([['svc', [SECRET]]])]],
  SharedKeys: [(...a) => new xnonce.SharedKeys(...a), ['p:']],
  'SharedKeys#key': [(...a) => new xnonce.SharedKeys().key(...a), ['v2:svc:' + NONCE]],
  'SharedKeys#ttlMs': [(...a) => new xnonce.SharedKeys().ttlMs(...a), [T + 30000, T]],
  redisReplayStore: [
    xnonce.redisReplayStore,
    [
      { set: async () => 'OK', get: async () => null },
      { prefix: 'p:', timeoutMs: 100 },
    ],
  ],
  Requester: [
    (...a) => new xnonce.Requester(...a),
    ['http://127.0.0.1:9', 'svc', SECRET, { scheme: 'v2', timeoutMs: 1000 }],
  ],
  xnonceFetch: [
    xnonce.xnonceFetch,
    [{ client: 'svc', secret: SECRET, scheme: 'v2', fetch: async () => new Response('') }],
  ],
  middleware: [xnonce.middleware, [verifier(), { once: true, limit: 10 }]],
  checkContinue: [xnonce.checkContinue, [{ limit: 10 }]],
}

const call = fc.constantFrom(...Object.keys(CALLS)).chain((name) => {
  const [fn, args] = CALLS[name]
  const slots = Array.from({ length: args.length + 1 }, (_, i) => i) // one past the end: an extra argument
  return fc
    .uniqueArray(fc.tuple(fc.constantFrom(...slots), fc.oneof(anything, relevantText)), {
      minLength: 1,
      maxLength: 2,
      selector: ([s]) => s,
    })
    .map((changes) => {
      const a = [...args]
      for (const [slot, value] of changes) a[slot] = value
      return { name, run: () => fn(...a), toString: () => `${name}(${fc.stringify(a)})` }
    })
})

test('every public callable returns or throws a documented error', () => {
  check(
    fc.property(call, ({ name, run }) => {
      const got = outcome(run)
      if (got instanceof Error) return
      if (['sign', 'signRequest'].includes(name)) assert.ok(xnonce.parseHeader(got))
      else if (['parseHeader'].includes(name)) assert.ok(['v1', 'v2'].includes(got.scheme))
      else if (['ottokenEncode', 'ottokenDecode'].includes(name))
        assert.ok(typeof got === 'string' && got.length > 0)
      else if (name === 'serverTimeFromAnswer')
        assert.ok(got === null || (Number.isSafeInteger(got) && got >= 0))
      else if (name === 'SharedKeys#ttlMs') assert.ok(Number.isSafeInteger(got) && got >= 0)
      else if (name === 'Verifier#routeRefusal')
        assert.ok(got === null || (got.status >= 400 && got.status < 600))
    }),
  )
})

// Promise-returning methods: they reject (never throw synchronously), never with a plain Error.
const requester = () => new xnonce.Requester('http://127.0.0.1:9', 'svc', SECRET, { timeoutMs: 2000 })
const ASYNC_CALLS = {
  'Requester#makeRequest': [
    (...a) => requester().makeRequest(...a),
    ['GET', { k: 'v' }, '/c/a', null, { timestamp: T, headers: { Host: 'h' } }],
  ],
  'redisReplayStore#insertIfAbsent': [
    (...a) =>
      xnonce.redisReplayStore({ set: async () => 'OK' }, { fenceAfterLossMs: 0 }).insertIfAbsent(...a),
    ['v2:svc:' + NONCE, T + 30000, T],
  ],
}

test('every promise-returning method resolves or rejects with a documented error', async () => {
  const call = fc.constantFrom(...Object.keys(ASYNC_CALLS)).chain((name) => {
    const [fn, args] = ASYNC_CALLS[name]
    return fc
      .tuple(fc.nat(args.length), fc.oneof(anything, relevantText))
      .map(([slot, value]) => ({ name, run: () => fn(...args.map((a, i) => (i === slot ? value : a))) }))
  })
  await fc.assert(
    fc.asyncProperty(call, async ({ run }) => {
      const promise = run() // a synchronous throw fails: these methods reject
      assert.ok(promise instanceof Promise, 'not a promise')
      await promise.then(
        () => {},
        (e) =>
          outcome(() => {
            throw e
          }),
      )
    }),
    { numRuns: Math.min(RUNS, 100), ...REPLAY },
  )
})
