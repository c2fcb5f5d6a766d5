'use strict'
// A bounded, seeded "tamper" fuzz of the middleware over real loopback HTTP, the Node twin of
// server-ref/tests/gateway_tamper.rs: requests signed as a client signs them (`x.sign` or
// `x.signRequest`; v1 and v2; GET/DELETE with a query, POST/PUT/PATCH with a form and maybe a
// query, v2 POST/PUT with JSON; the credential in `X-Nonce` or an `ottoken` param), their raw
// bytes mutated (request line, escapes, params, header fields, framing, body), written on a
// `net` socket to a node:http server whose handler sits behind `x.middleware(verifier, { then
// })` and records what a typical Node app reads of the request. The property:
//
// * a request the handler sees is the request that was signed, as the app reads it: the
//   method; the path as `new URL(req.url, base).pathname` and Express 4's `url.parse`
//   (parseurl) give it, each segment decoded; the multiset of decoded params as
//   `URLSearchParams` and as Express's `qs` splits them (query, and a form body read as
//   `express.urlencoded()` reads one: on any method); `req.xnonce.params`; v2's body bytes
//   (`req.rawBody`, and the stream a body parser reads after the middleware) and host
//   (`req.headers.host`) — with the limits each scheme documents, written out in `check`;
// * every other request is answered 4xx (or, unparseable, closed by node:http) and the
//   handler does not run; never a 5xx, an error passed to `onError`, or a hang.
//
// Reproducible: the seed is printed; XNONCE_TAMPER_SEED=<n> reruns one, XNONCE_TAMPER_CASES=<n>
// changes how many cases run (default CASES), XNONCE_TAMPER_VERBOSE=1 prints every case.

const test = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const net = require('node:net')
const legacyUrl = require('node:url')
const querystring = require('node:querystring')
const x = require('..')
const { listen } = require('./peers.js')

/** Cases per run (a tenth of them sent as signed). */
const CASES = 1500
/** The seed when XNONCE_TAMPER_SEED is not set (a safe integer). */
const DEFAULT_SEED = 0x7a3be1d05eed
/** The host clients sign for (v2) and name in `Host` (the socket goes to 127.0.0.1). */
const HOST = 'api.example.test'
/** Cases run this many at a time, on connections of their own. */
const LANES = 8
/** How long the first answer may take before the client ends its side (a request, as
 * mutated, may announce more body than it sends). */
const QUIET_MS = 400
/** How long the server may take to close the connection once the client has ended its side. */
const HANG_MS = 8000
/** The header fields a method-override reads (core's list, removed from an accepted request). */
const OVERRIDES = ['x-http-method-override', 'x-http-method', 'x-method-override', 'x-original-method']

// ---------------------------------------------------------------------------------------------
// A small seeded generator (sfc32 over a splitmix-style mix of the seed and the case number):
// the same case whatever ran before it.

function caseRng(seed, n) {
  const mix = (h) => {
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
    return (h ^ (h >>> 16)) >>> 0
  }
  const lo = seed >>> 0
  const hi = Math.floor(seed / 2 ** 32) >>> 0
  let a = mix(lo ^ 0x9e3779b9)
  let b = mix(hi ^ Math.imul(n + 1, 0x9e3779b9))
  let c = mix(a ^ b ^ 0x632be5ab)
  let d = mix(n ^ 0x85ebca6b) | 1
  const next = () => {
    const t = (((a + b) | 0) + d) | 0
    d = (d + 1) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) | 0
    return t >>> 0
  }
  for (let i = 0; i < 12; i++) next()
  return {
    below: (k) => (k <= 1 ? 0 : next() % k),
    chance: (percent) => next() % 100 < percent,
    pick(items) {
      return items[this.below(items.length)]
    },
  }
}

// ---------------------------------------------------------------------------------------------
// Encodings, as a client writes params and as frameworks read them.

const UNRESERVED = /^[A-Za-z0-9\-._~]$/

/** RFC 3986 encoding of UTF-8 text (PROTOCOL §4.2); with `plus`, a space as `+` (CGI-escape, §4.1). */
function escapeText(text, plus) {
  let out = ''
  for (const byte of Buffer.from(text, 'utf8')) {
    const char = String.fromCharCode(byte)
    if (UNRESERVED.test(char)) out += char
    else if (plus && byte === 0x20) out += '+'
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0')
  }
  return out
}

/** A param as the client writes it: v1 CGI-escaped values (keys are unreserved), v2 RFC 3986. */
function encodePair(scheme, [k, v]) {
  return scheme === 'v1' ? `${k}=${escapeText(v, true)}` : `${escapeText(k)}=${escapeText(v)}`
}

/** `%XX` as its byte (a `%` without two hex digits as itself), `+` as a space with `plus`;
 * other characters as their UTF-8: the bytes, as a latin1 string (comparable exactly). */
function percentDecode(text, plus) {
  const out = []
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]
    if (ch === '%' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      out.push(parseInt(text.slice(i + 1, i + 3), 16))
      i += 2
    } else if (plus && ch === '+') {
      out.push(0x20)
    } else {
      out.push(...Buffer.from(ch, 'utf8'))
    }
  }
  return Buffer.from(out).toString('latin1')
}

/** A path as an app routes it: its segments, each decoded (bytes as latin1). */
function decodedSegments(path) {
  return path.split('/').map((s) => percentDecode(s, false))
}

/** The pairs of a query or form as `URLSearchParams` reads them. */
function searchPairs(raw) {
  return [...new URLSearchParams(raw)]
}

/** qs's decoder (Express's extended query parser, `express.urlencoded({ extended: true })`):
 * `+` as a space, then `decodeURIComponent`, or the text as it is where that throws. */
function qsDecode(text) {
  const spaced = text.replace(/\+/g, ' ')
  try {
    return decodeURIComponent(spaced)
  } catch {
    return spaced
  }
}

/**
 * The flat pairs `qs.parse` builds its object from (qs 6 `parseValues`): split at `&`, each
 * part at its first `]=` (after the `]`) if it has one, else at its first `=`; a pair with an
 * empty key dropped. The object it builds (`a[b]=1` as `{ a: { b: '1' } }`, `a[]=1&a[]=2` as
 * an array) is a function of these pairs in order: equal pairs, an equal `req.query`, but for
 * the order of a repeated key's values (PROTOCOL §14.3, README "What a v2 signature leaves
 * open").
 */
function qsPairs(raw) {
  const out = []
  for (const part of raw.split('&')) {
    const bracket = part.indexOf(']=')
    const at = bracket === -1 ? part.indexOf('=') : bracket + 1
    const key = qsDecode(at === -1 ? part : part.slice(0, at))
    if (key === '') continue
    out.push([key, at === -1 ? '' : qsDecode(part.slice(at + 1))])
  }
  return out
}

/** The pairs of a query or form as node's `querystring.parse` reads them (Express 5's default
 * query parser, `express.urlencoded({ extended: false })`'s): a repeated key's values in order. */
function querystringPairs(raw) {
  const out = []
  for (const [k, v] of Object.entries(querystring.parse(raw, '&', '=', { maxKeys: 0 })))
    for (const one of Array.isArray(v) ? v : [v]) out.push([k, one])
  return out
}

/** Express 4's `req.hostname` with `trust proxy` on (what the middleware asks about it): the
 * first `X-Forwarded-Host` value, else `Host`, without its port. */
function expressHostname(req) {
  let host = req.headers['x-forwarded-host']
  if (!host) host = req.headers.host
  else if (host.includes(',')) host = host.substring(0, host.indexOf(',')).trimEnd()
  if (!host) return undefined
  const offset = host[0] === '[' ? host.indexOf(']') + 1 : 0
  const index = host.indexOf(':', offset)
  return index !== -1 ? host.substring(0, index) : host
}

/** PROTOCOL §6.2's canonical host (what v2 signs). */
function canonicalHost(host) {
  const lower = host.replace(/[A-Z]+/g, (s) => s.toLowerCase())
  if (lower.endsWith(':80')) return lower.slice(0, -3)
  if (lower.endsWith(':443')) return lower.slice(0, -4)
  return lower
}

/** Whether an app's form parser reads this `Content-Type` as a form: the media type before any
 * `;`, trimmed of whitespace (JavaScript's `trim`, U+00A0 included, as body-parser's) and of
 * control characters, compared without case. */
function appReadsForm(contentType) {
  if (typeof contentType !== 'string') return false
  const type = contentType.split(';')[0].replace(/^[\s\x00-\x1f\x7f]+|[\s\x00-\x1f\x7f]+$/g, '')
  return type.toLowerCase() === 'application/x-www-form-urlencoded'
}

const sortedPairs = (pairs) => pairs.map((p) => JSON.stringify(p)).sort()
const samePairs = (a, b) => JSON.stringify(sortedPairs(a)) === JSON.stringify(sortedPairs(b))

// ---------------------------------------------------------------------------------------------
// What to sign.

/** v1 keys: unreserved only, as v1 signs (PROTOCOL §3.6). */
const V1_KEYS = ['a', 'b', 'to', 'x_y', 'q.r', '~k', 'Amount', 'a-b', '_method']
/** v2 keys may be any text; some that qs reads as structure (`a[b]`, `a[]`). */
const V2_KEYS = [
  'a',
  'b',
  'to',
  'x_y',
  'a[b]',
  'a[]',
  'b[c][d]',
  'x]',
  '\u00e9',
  'k y',
  'a+b',
  't%',
  'q=r',
  's;t',
]
const VALUE_CHARS = [
  'a', 'b', 'z', '0', '9', ' ', '+', '&', '=', '%', ';', '\u00e9', '~', '/', '?', '#', ']', '[', '.', '-',
  '_', '*', "'", '"', '<', '\u263a', '%41', '\t', ']=',
] // prettier-ignore
const SEGMENTS = [
  'orders', 'list', 'a%20b', 'r%C3%A9sum%C3%A9', 'a+b', 'x~y', 'a%2Fb', 'item.json', 'v1', '%7Euser',
  'a-b_c', 'A%3aB', 'a%5Bb%5D',
] // prettier-ignore

function value(rng) {
  let out = ''
  for (let i = rng.below(7); i > 0; i--) out += rng.pick(VALUE_CHARS)
  return out
}

/** A request to sign (no key twice in v1). */
function makeIntent(rng, n, client) {
  const scheme = rng.chance(50) ? 'v1' : 'v2'
  // 0: a query; 1: a form (and maybe a query); 2: v2 JSON.
  const shape = rng.below(scheme === 'v1' ? 2 : 3)
  const method =
    shape === 0 ? rng.pick(['GET', 'GET', 'GET', 'DELETE']) : rng.pick(['POST', 'POST', 'PUT', 'PATCH'])
  let path = ''
  for (let i = 1 + rng.below(3); i > 0; i--) path += '/' + rng.pick(SEGMENTS)
  const keys = scheme === 'v1' ? V1_KEYS : V2_KEYS
  const params = []
  for (let i = rng.below(4); i > 0; i--) {
    const key = rng.pick(keys)
    if (scheme === 'v1' && params.some(([k]) => k === key)) continue
    params.push([key, value(rng)])
  }
  // A param of its own per case: no two v1 requests share a token (their replay key).
  params.splice(rng.below(params.length + 1), 0, ['n', String(n)])
  if (scheme === 'v2' && rng.chance(15)) params.push([rng.pick(params)[0], value(rng)])
  const form = shape === 1
  const inQuery = form ? rng.below(params.length + 1) : params.length
  const body = shape === 2 ? Buffer.from(JSON.stringify({ item: value(rng), n })) : undefined
  return { scheme, method, path, params, inQuery, form, body, client, ottoken: undefined, signer: '' }
}

/** Signs `intent` as a client does and writes it as one sends it: a Wire of byte arrays. */
function signedWire(intent, secret, rng) {
  const { scheme, method, path, params } = intent
  const query = params.slice(0, intent.inQuery).map((p) => encodePair(scheme, p))
  const formBody = params
    .slice(intent.inQuery)
    .map((p) => encodePair(scheme, p))
    .join('&')
  const body = intent.body ?? (intent.form ? Buffer.from(formBody) : Buffer.alloc(0))
  const contentType = intent.body
    ? 'application/json'
    : intent.form
      ? 'application/x-www-form-urlencoded'
      : null
  const target = query.length === 0 ? path : `${path}?${query.join('&')}`
  let xNonce
  if (rng.chance(50)) {
    intent.signer = 'sign'
    const host = scheme === 'v2' ? HOST : undefined
    xNonce = x.sign(scheme, method, path, params, intent.client, secret, { host, body: intent.body })
  } else {
    intent.signer = 'signRequest'
    xNonce = x.signRequest(scheme, method, target, intent.client, secret, { host: HOST, contentType, body })
  }
  let sent = target
  if (rng.chance(25)) {
    intent.ottoken = x.ottokenEncode(xNonce)
    sent += `${query.length === 0 ? '?' : '&'}ottoken=${x.ottokenQueryValue(intent.ottoken)}`
  }
  const headers = [`Host: ${HOST}`]
  if (intent.ottoken === undefined) headers.push(`X-Nonce: ${xNonce}`)
  if (contentType) headers.push(`Content-Type: ${contentType}`)
  if (body.length > 0 || method !== 'GET') headers.push(`Content-Length: ${body.length}`)
  return {
    method: bytes(method),
    target: bytes(sent),
    version: bytes('HTTP/1.1'),
    headers: headers.map(bytes),
    body: [...body],
    raw: null,
  }
}

/** Text (JavaScript characters up to U+00FF as bytes, others as UTF-8) as a byte array. */
function bytes(text) {
  return [...Buffer.from(text, /^[\x00-\xff]*$/.test(text) ? 'latin1' : 'utf8')]
}

function serialise(w) {
  if (w.raw) return Buffer.from(w.raw)
  const crlf = [13, 10]
  const out = [...w.method, 32, ...w.target, 32, ...w.version, ...crlf]
  for (const line of w.headers) out.push(...line, ...crlf)
  out.push(...crlf, ...w.body)
  return Buffer.from(out)
}

function headerIndex(w, name) {
  return w.headers.findIndex(
    (l) =>
      l.length > name.length &&
      l[name.length] === 58 &&
      latin1(l.slice(0, name.length)).toLowerCase() === name,
  )
}
function setHeader(w, name, val) {
  const line = [...bytes(`${name}: `), ...(typeof val === 'string' ? bytes(val) : val)]
  const i = headerIndex(w, name.toLowerCase())
  if (i === -1) w.headers.push(line)
  else w.headers[i] = line
}
function removeHeader(w, name) {
  for (let i; (i = headerIndex(w, name)) !== -1;) w.headers.splice(i, 1)
}
function fixLength(w) {
  if (headerIndex(w, 'content-length') !== -1) setHeader(w, 'Content-Length', String(w.body.length))
}
const latin1 = (arr) => Buffer.from(arr).toString('latin1')

// ---------------------------------------------------------------------------------------------
// Mutations (gateway_tamper.rs's, and what Express and node:http read otherwise).

/** Single bytes worth inserting. */
const BYTES = [
  ...bytes(';#?%+&=/.\\\t A a0~[]:,"'), 0, 0x80, 0xff, 0xc3, 13, 10,
] // prettier-ignore
/** Tokens worth inserting into a target or a form. */
const TOKENS = [
  ';', '#', '?', '%00', '+', '%20', '..', '//', '/./', '/../', '%2e', '%2E%2E', '%2F', '%2f', '%5C', '\\',
  '&', '&&', '=', '%', '%2', '%zz', '\t', '%3B', '%26', '%3D', ']=', '%5D=', '[]', 'a[]=1', '[', ']',
  '%5B%5D', '%C3%A9', '\u00e9', '%FF', 'ottoken=x', 'ottoke%6E=x', 'a=1', 'n=0', '%2B', '%0A', '%0D%0A',
  '/.', '%2e%2e/', ';a=b', '?&', '%7E', '*', '__proto__', 'a[__proto__]=1',
].map(bytes) // prettier-ignore

const at = (rng, len) => rng.below(len + 1)

function insertBytes(rng, buf, what) {
  buf.splice(at(rng, buf.length), 0, ...what)
}

/** Insert, delete or replace one byte. */
function byteEdit(rng, buf) {
  const b = rng.pick(BYTES)
  const how = rng.below(3)
  if (how === 0 || buf.length === 0) {
    const i = at(rng, buf.length)
    buf.splice(i, 0, b)
    return `insert ${hex(b)} at ${i}`
  }
  const i = rng.below(buf.length)
  if (how === 1) return `delete ${hex(buf.splice(i, 1)[0])} at ${i}`
  buf[i] = b
  return `replace at ${i} with ${hex(b)}`
}
const hex = (b) => '0x' + b.toString(16).padStart(2, '0')
const isHex = (b) => (b >= 48 && b <= 57) || (b >= 65 && b <= 70) || (b >= 97 && b <= 102)

/** Decodes an escape, flips its case, `+` ↔ `%20`/`%2B`, or escapes a byte. */
function escapeEdit(rng, buf) {
  const escapes = []
  for (let i = 0; i + 2 < buf.length; i++)
    if (buf[i] === 37 && isHex(buf[i + 1]) && isHex(buf[i + 2])) escapes.push(i)
  const how = rng.below(5)
  if (how === 0 && escapes.length > 0) {
    const i = rng.pick(escapes)
    buf.splice(i, 3, parseInt(latin1(buf.slice(i + 1, i + 3)), 16))
    return `decode escape at ${i}`
  }
  if (how === 1 && escapes.length > 0) {
    const i = rng.pick(escapes)
    const flipped = latin1(buf.slice(i + 1, i + 3)).replace(/[a-zA-Z]/g, (c) =>
      c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase(),
    )
    buf.splice(i + 1, 2, ...bytes(flipped))
    return `flip case of escape at ${i}`
  }
  if (how === 2) {
    const plus = buf.flatMap((b, i) => (b === 43 ? [i] : []))
    const sp = []
    for (let i = 0; i + 2 < buf.length; i++) {
      const three = latin1(buf.slice(i, i + 3))
      if (three === '%20' || three === '%2B') sp.push(i)
    }
    if (plus.length > 0 && rng.chance(50)) {
      const i = rng.pick(plus)
      const to = rng.chance(50) ? '%20' : '%2B'
      buf.splice(i, 1, ...bytes(to))
      return `+ at ${i} to ${to}`
    }
    if (sp.length > 0) {
      const i = rng.pick(sp)
      buf.splice(i, 3, 43)
      return `escape at ${i} to +`
    }
    return 'no + or %20'
  }
  if (buf.length === 0) return 'nothing to escape'
  const i = rng.below(buf.length)
  let esc = '%' + buf[i].toString(16).padStart(2, '0')
  if (rng.chance(50)) esc = esc.toUpperCase()
  buf.splice(i, 1, ...bytes(esc))
  return `encode byte at ${i} as ${esc}`
}

function pairsOf(buf) {
  const out = [[]]
  for (const b of buf) b === 38 ? out.push([]) : out[out.length - 1].push(b)
  return out
}
const joinPairs = (pairs) => pairs.flatMap((p, i) => (i === 0 ? p : [38, ...p]))

/** Duplicates, swaps or reverses `&`-separated pairs. */
function pairEdit(rng, buf) {
  const pairs = pairsOf(buf)
  let what
  const how = rng.below(3)
  if (how === 0) {
    pairs.splice(at(rng, pairs.length), 0, [...rng.pick(pairs)])
    what = 'duplicate a pair'
  } else if (how === 1 && pairs.length > 1) {
    const [i, j] = [rng.below(pairs.length), rng.below(pairs.length)]
    ;[pairs[i], pairs[j]] = [pairs[j], pairs[i]]
    what = 'swap two pairs'
  } else {
    pairs.reverse()
    what = 'reverse the pairs'
  }
  buf.splice(0, buf.length, ...joinPairs(pairs))
  return what
}

const CONTENT_TYPES = [
  bytes('application/x-www-form-urlencoded'),
  bytes('Application/X-WWW-Form-Urlencoded; charset=iso-8859-1'),
  bytes('application/json'),
  bytes('application/json; charset=utf-7'),
  bytes('text/plain'),
  bytes('text/plain; charset=utf-7'),
  bytes('multipart/form-data; boundary=x'),
  [...bytes('application/x-www-form-urlencoded'), 0xa0],
  [0xa0, ...bytes('application/x-www-form-urlencoded')],
  bytes('application/x-www-form-urlencoded ;'),
  bytes('application/x-www-form-urlencoded;charset=utf-8'),
  bytes(' application/x-www-form-urlencoded'),
  bytes('application/x-www-form-urlencoded\t'),
  bytes('application/x-www-form-urlencoded, application/json'),
  bytes('application/x-www-form-urlencoded\u000b'),
  bytes(''),
]
const EXTRA_LINES = [
  'Content-Encoding: gzip',
  'Content-Encoding: deflate',
  'X-HTTP-Method-Override: DELETE',
  'X-HTTP-Method-Override: GET',
  'X-HTTP-Method: PUT',
  'X-Method-Override: PATCH',
  'X-Original-Method: DELETE',
  'X-Forwarded-Host: evil.test',
  'X-Forwarded-Host: api.example.test',
  'X-Forwarded-Host: API.EXAMPLE.TEST:8080',
  'X-Forwarded-Host: api.example.test ,evil.test',
  'X-Forwarded-Host: , evil.test',
  'X-Forwarded-Host: evil.test\r\nX-Forwarded-Host: api.example.test',
  'X-Original-URL: /admin',
  'Forwarded: host=evil.test',
  'Expect: 100-continue',
  'Connection: close',
  'Connection: content-length',
  'Connection: x-nonce',
  'Connection: Upgrade\r\nUpgrade: h2c',
  'Connection: Upgrade\r\nUpgrade: websocket',
  'Trailer: X-Nonce',
  'TE: trailers',
].map(bytes)

/** One mutation of `w`; a description of what it did. */
function mutate(rng, w) {
  const q = w.target.indexOf(63)
  const pathEnd = q === -1 ? w.target.length : q
  const queryAt = q === -1 ? undefined : q + 1
  const kind = rng.below(36)
  if (kind <= 2) return `target: ${byteEdit(rng, w.target)}`
  if (kind <= 5) {
    const t = rng.pick(TOKENS)
    insertBytes(rng, w.target, t)
    return `target: insert ${JSON.stringify(latin1(t))}`
  }
  if (kind <= 7) return `target: ${escapeEdit(rng, w.target)}`
  if (kind === 8) {
    if (queryAt === undefined) {
      w.target.push(63)
      return 'target: append ?'
    }
    const query = w.target.splice(queryAt)
    const what = pairEdit(rng, query)
    w.target.push(...query)
    return `query: ${what}`
  }
  if (kind === 9) {
    const path = w.target.slice(0, pathEnd)
    const what = rng.chance(50) ? byteEdit(rng, path) : escapeEdit(rng, path)
    w.target.splice(0, pathEnd, ...path)
    return `path: ${what}`
  }
  if (kind === 10) {
    const authority = rng.pick([HOST, HOST.toUpperCase(), `${HOST}:80`, 'evil.test', `u@${HOST}`, `${HOST}.`])
    const scheme = rng.pick(['http://', 'HTTP://', 'https://', 'http:/', 'ftp://'])
    w.target.unshift(...bytes(scheme + authority))
    return `absolute form ${scheme}${authority}`
  }
  if (kind === 11) {
    // A param between the query and a form body.
    const query = queryAt === undefined ? [] : w.target.slice(queryAt)
    if (rng.chance(50) && query.length > 0) {
      const pairs = pairsOf(query)
      const [moved] = pairs.splice(rng.below(pairs.length), 1)
      const rest = joinPairs(pairs)
      w.target.splice(pathEnd)
      if (rest.length > 0) w.target.push(63, ...rest)
      if (w.body.length > 0) w.body.push(38)
      w.body.push(...moved)
      if (headerIndex(w, 'content-type') === -1)
        setHeader(w, 'Content-Type', 'application/x-www-form-urlencoded')
      setHeader(w, 'Content-Length', String(w.body.length))
      return 'move a query pair to the body'
    }
    if (w.body.length > 0) {
      const pairs = pairsOf(w.body)
      const [moved] = pairs.splice(rng.below(pairs.length), 1)
      w.body = joinPairs(pairs)
      w.target.push(queryAt === undefined ? 63 : 38, ...moved)
      fixLength(w)
      return 'move a body pair to the query'
    }
    w.target.push(38)
    return 'target: append &'
  }
  if (kind === 12) {
    const val = rng.pick([
      HOST,
      'evil.test',
      HOST.toUpperCase(),
      `${HOST}:80`,
      `${HOST}:443`,
      ` ${HOST}\t`,
      `${HOST}.`,
      '',
    ])
    w.headers.splice(at(rng, w.headers.length), 0, bytes(`Host: ${val}`))
    return `another Host: ${JSON.stringify(val)}`
  }
  if (kind === 13) {
    if (rng.chance(15)) {
      removeHeader(w, 'host')
      return 'no Host'
    }
    const val = rng.pick([
      'evil.test',
      HOST.toUpperCase(),
      `${HOST}:80`,
      `${HOST}:443`,
      `${HOST}:8080`,
      `${HOST}.`,
      `${HOST}\t`,
    ])
    setHeader(w, 'Host', val)
    return `Host: ${JSON.stringify(val)}`
  }
  if (kind === 14) {
    const n = w.body.length
    const val = rng.pick([
      `${n}`, `${n + 1}`, `${Math.max(n - 1, 0)}`, `+${n}`, `0${n}`, `${n}, ${n}`, `${n},${n + 1}`, '0',
      ` ${n} `, `${n}\t`, '-1', '18446744073709551616', `${n}.0`, `0x${n.toString(16)}`,
    ]) // prettier-ignore
    if (rng.chance(50)) {
      w.headers.splice(at(rng, w.headers.length), 0, bytes(`Content-Length: ${val}`))
      return `another Content-Length: ${JSON.stringify(val)}`
    }
    setHeader(w, 'Content-Length', val)
    return `Content-Length: ${JSON.stringify(val)}`
  }
  if (kind === 15) {
    removeHeader(w, 'content-length')
    return 'no Content-Length'
  }
  if (kind <= 17) return chunked(rng, w)
  if (kind === 18) {
    // obs-fold: a field's value continued on the next line.
    const i = rng.below(w.headers.length)
    const line = w.headers[i]
    const colon = line.indexOf(58)
    const cut = colon === -1 ? line.length : colon + 1 + rng.below(line.length - colon)
    w.headers[i] = [...line.slice(0, cut), 13, 10, 32, ...line.slice(cut)]
    return `obs-fold line ${i} at ${cut}`
  }
  if (kind === 19) {
    const i = rng.below(w.headers.length)
    const line = w.headers[i]
    const colon = line.indexOf(58)
    switch (rng.below(4)) {
      case 0:
        if (colon !== -1) line.splice(colon, 0, 32)
        return `header ${i}: space before ':'`
      case 1:
        if (colon !== -1) line.splice(colon + 1, 0, 9)
        return `header ${i}: tab after ':'`
      case 2:
        line.push(9)
        return `header ${i}: trailing tab`
      default:
        w.headers[i] = bytes(latin1(line).toUpperCase())
        return `header ${i}: upper-cased line`
    }
  }
  if (kind <= 21) {
    const val = rng.pick(CONTENT_TYPES)
    switch (rng.below(3)) {
      case 0:
        removeHeader(w, 'content-type')
        return 'no Content-Type'
      case 1:
        w.headers.splice(at(rng, w.headers.length), 0, [...bytes('Content-Type: '), ...val])
        return `another Content-Type: ${JSON.stringify(latin1(val))}`
      default:
        setHeader(w, 'Content-Type', val)
        return `Content-Type: ${JSON.stringify(latin1(val))}`
    }
  }
  if (kind === 22) {
    const line = rng.pick(EXTRA_LINES)
    w.headers.splice(at(rng, w.headers.length), 0, [...line])
    return `add ${JSON.stringify(latin1(line))}`
  }
  if (kind === 23) {
    const i = headerIndex(w, 'x-nonce')
    if (i === -1) {
      w.headers.push(bytes('X-Nonce: '))
      return 'an empty X-Nonce'
    }
    switch (rng.below(4)) {
      case 0:
        w.headers.push([...w.headers[i]])
        return 'X-Nonce twice'
      case 1:
        w.headers[i].push(32)
        return 'X-Nonce: trailing space'
      case 2:
        w.headers.splice(at(rng, w.headers.length), 0, bytes('X-Nonce: v2 other 1 2 3'))
        return 'another X-Nonce'
      default:
        w.headers.unshift(...w.headers.splice(i, 1))
        return 'X-Nonce first'
    }
  }
  if (kind === 24) {
    // A bare LF or a lone CR inside the head.
    const i = rng.below(w.headers.length)
    if (rng.chance(50)) {
      const [line] = w.headers.splice(i, 1)
      const next = w.headers[i] ?? []
      const joined = [...line, 10, ...next]
      if (i < w.headers.length) w.headers[i] = joined
      else w.headers.push(joined)
      return `bare LF after header ${i}`
    }
    const j = rng.below(w.headers[i].length)
    w.headers[i].splice(j, 0, 13)
    return `lone CR in header ${i}`
  }
  if (kind <= 27) {
    let what
    const how = rng.below(4)
    if (how === 0) what = byteEdit(rng, w.body)
    else if (how === 1) {
      const t = rng.pick(TOKENS)
      insertBytes(rng, w.body, t)
      what = `insert ${JSON.stringify(latin1(t))}`
    } else if (how === 2) what = escapeEdit(rng, w.body)
    else if (w.body.length > 0) what = pairEdit(rng, w.body)
    else {
      const extra = rng.pick([bytes('&'), bytes('\r\n'), [0xef, 0xbb, 0xbf], bytes('a=1'), bytes('a]=1')])
      w.body.push(...extra)
      what = 'append to the body'
    }
    if (rng.chance(80)) fixLength(w)
    return `body: ${what}`
  }
  if (kind === 28) {
    const m = rng.pick([
      'get',
      'post',
      'Get',
      'HEAD',
      'PUT',
      'POST',
      'GET',
      'OPTIONS',
      'TRACE',
      'CONNECT',
      'PATCH',
      'DELETE',
      'G ET',
      'GET\t',
      'QUERY',
      'PROPFIND',
    ])
    w.method = bytes(m)
    return `method ${JSON.stringify(m)}`
  }
  if (kind === 29) {
    const v = rng.pick(['HTTP/1.0', 'HTTP/1.2', 'http/1.1', 'HTTP/2.0', 'HTTP/1.1 ', 'HTTP/1.10', 'HTTP/0.9'])
    w.version = bytes(v)
    return `version ${JSON.stringify(v)}`
  }
  if (kind <= 31) {
    // A byte of the request line, wherever it falls.
    const line = [...w.method, 32, ...w.target, 32, ...w.version]
    const what = byteEdit(rng, line)
    const all = [...serialise(w)]
    all.splice(0, w.method.length + 1 + w.target.length + 1 + w.version.length, ...line)
    w.raw = all
    return `request line: ${what}`
  }
  if (kind === 32) {
    // A key turned into one qs reads as structure, or as another key (`a` as `a[]`, `a]`).
    const inBody = rng.chance(50) && w.body.length > 0
    const buf = inBody ? w.body : queryAt === undefined ? undefined : w.target.slice(queryAt)
    if (buf === undefined) return 'no params to bracket'
    const pairs = pairsOf(buf)
    const i = rng.below(pairs.length)
    const eq = pairs[i].indexOf(61)
    const end = eq === -1 ? pairs[i].length : eq
    const suffix = rng.pick([bytes('[]'), bytes('%5B%5D'), bytes(']'), bytes('[x]'), bytes('%5D')])
    pairs[i].splice(end, 0, ...suffix)
    const joined = joinPairs(pairs)
    if (inBody) {
      w.body = joined
      fixLength(w)
    } else w.target.splice(queryAt, w.target.length - queryAt, ...joined)
    return `${inBody ? 'body' : 'query'}: key of pair ${i} + ${JSON.stringify(latin1(suffix))}`
  }
  const all = [...serialise(w)]
  const what = byteEdit(rng, all)
  w.raw = all
  return `anywhere: ${what}`
}

/** The body as chunks (`Transfer-Encoding` in one of its spellings, with or without the
 * `Content-Length` left beside it). */
function chunked(rng, w) {
  const te = rng.pick(['chunked', 'chunked', 'Chunked', 'identity, chunked', 'chunked, identity', 'gzip, chunked', ' chunked', 'chunked\t', 'xchunked', 'chunked, chunked']) // prettier-ignore
  const keepLength = rng.chance(30)
  if (!keepLength) removeHeader(w, 'content-length')
  const twice = rng.chance(15)
  w.headers.push(bytes(`Transfer-Encoding: ${te}`))
  if (twice) w.headers.push(bytes('Transfer-Encoding: chunked'))
  const out = []
  let rest = w.body
  while (rest.length > 0) {
    const n = 1 + rng.below(rest.length)
    const size = [
      n.toString(16),
      n.toString(16).toUpperCase(),
      '0' + n.toString(16),
      `${n.toString(16)};ext=1`,
    ][rng.below(4)]
    out.push(...bytes(`${size}\r\n`), ...rest.slice(0, n), 13, 10)
    rest = rest.slice(n)
  }
  out.push(...bytes(rng.pick(['0\r\nX-Nonce: v2 x\r\n\r\n', '0\r\n', '0\r\n\r\n', '0\r\n\r\n', '0\r\n\r\n'])))
  w.body = out
  return `Transfer-Encoding: ${JSON.stringify(te)} (twice: ${twice}, Content-Length kept: ${keepLength})`
}

// ---------------------------------------------------------------------------------------------
// The exchange.

/**
 * Sends `request` on a fresh connection and reads until the server closes it. Once the first
 * final answer is complete (or none has come within QUIET_MS) the client ends its side, so the
 * server sees the end of the request; every byte until it closes is kept (HANG_MS at most).
 * Resolves { bytes, hung, port } (`port`: the client's, by which the handler's record is found).
 */
function exchange(port, request) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    const chunks = []
    const headOnly = request.subarray(0, 5).toString('latin1') === 'HEAD '
    let ended = false
    let hang
    let localPort
    const done = (hung) => {
      clearTimeout(quiet)
      clearTimeout(hang)
      socket.destroy()
      resolve({ bytes: Buffer.concat(chunks), hung, port: localPort })
    }
    const endOurSide = () => {
      if (ended) return
      ended = true
      clearTimeout(quiet)
      socket.end()
      hang = setTimeout(() => done(true), HANG_MS)
    }
    const quiet = setTimeout(endOurSide, QUIET_MS)
    socket.on('connect', () => {
      localPort = socket.localPort
      socket.write(request)
    })
    socket.on('data', (chunk) => {
      chunks.push(chunk)
      if (answerEnd(Buffer.concat(chunks), headOnly) !== undefined) endOurSide()
    })
    socket.on('error', () => {})
    socket.on('close', () => done(false))
  })
}

/** Where the first final answer in `buf` ends, once it is all there. */
function answerEnd(buf, headOnly) {
  let start = 0
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', start, 'latin1')
    if (end === -1) return undefined
    const head = buf.subarray(start, end).toString('latin1').toLowerCase()
    const bodyAt = end + 4
    const status = Number(head.slice(9, 12))
    if (status >= 100 && status < 200) {
      start = bodyAt
      continue
    }
    if (headOnly || status === 204 || status === 304) return bodyAt
    const field = (name) =>
      head
        .split('\r\n')
        .find((l) => l.startsWith(name + ':'))
        ?.slice(name.length + 1)
        .trim()
    if (field('transfer-encoding')?.includes('chunked')) {
      const last = buf.indexOf('0\r\n\r\n', bodyAt, 'latin1')
      return last === -1 ? undefined : last + 5
    }
    const length = Number(field('content-length') ?? NaN)
    if (!Number.isSafeInteger(length)) return undefined
    return buf.length >= bodyAt + length ? bodyAt + length : undefined
  }
}

/** The final answers in `buf` (1xx left out): each status, and whether the app wrote it. */
function finalStatuses(buf) {
  const text = buf.toString('latin1')
  const out = []
  for (const match of text.matchAll(/(?:^|\n)HTTP\/1\.\d (\d{3})/g)) {
    const status = Number(match[1])
    if (status < 200) continue
    const from = match.index
    const headEnd = text.indexOf('\r\n\r\n', from)
    const head = text.slice(from, headEnd === -1 ? text.length : headEnd).toLowerCase()
    out.push({ status, app: head.includes('\r\nx-app: 1') })
  }
  return out
}

/** A request as a JavaScript string literal, for a report. */
function shown(buf) {
  return JSON.stringify(Buffer.from(buf).toString('latin1')).replace(
    /[\u0080-\u00ff]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  )
}

// ---------------------------------------------------------------------------------------------
// The app and the oracle.

/** What the app behind the middleware reads of an accepted request. */
async function appReads(req) {
  // A body parser after the middleware reads the stream (the middleware leaves it there).
  const streamed = []
  for await (const chunk of req) streamed.push(chunk)
  const target = req.url
  const q = target.indexOf('?')
  const rawQuery = q === -1 ? '' : target.slice(q + 1)
  const whatwg = new URL(target, 'http://app.invalid')
  // Express 4's parseurl (and its router, which matches the path before decoding a param).
  const legacy = legacyUrl.parse(target)
  const contentType = req.headers['content-type']
  const form = appReadsForm(contentType)
  const body = Buffer.concat(streamed)
  const formText = form ? body.toString('utf8') : ''
  return {
    method: req.method,
    url: target,
    whatwgPath: decodedSegments(whatwg.pathname),
    legacyPath: decodedSegments(legacy.pathname ?? ''),
    rawPath: absolutePathOf(q === -1 ? target : target.slice(0, q)),
    searchPairs: [...searchPairs(rawQuery), ...searchPairs(formText)],
    qsPairs: [...qsPairs(rawQuery), ...qsPairs(formText)],
    querystringPairs: [...querystringPairs(rawQuery), ...querystringPairs(formText)],
    form,
    contentType,
    host: req.headers.host,
    hostname: req.hostname,
    rawBody: req.rawBody,
    streamed: body,
    overrides: OVERRIDES.filter((name) => req.headers[name] !== undefined),
    xnonce: req.xnonce,
  }
}

/** The path of an origin- or absolute-form target (what core verifies as the path). */
function absolutePathOf(target) {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(target)
  if (m === null) return target
  return target.slice(m[0].length) || '/'
}

/** v1's content (PROTOCOL §5.2) of decoded params. */
const v1Content = (params) => params.map(([k, v]) => `${k}=${escapeText(v, true)}`).join('&')

/**
 * How what the app read compares with the request that was signed: 'same', 'boundary' (v1: the
 * path's end moved, PROTOCOL §14.2) or a string saying how it differs.
 *
 * What each scheme binds, and so what a tampered request may change unseen:
 *
 * * v2 (PROTOCOL §6.6): method, canonical host (§6.2), the path's segments once decoded (§6.3:
 *   differently escaped spellings of a segment sign alike; an escaped `/` does not; §14.3
 *   "Escaped delimiters"), the multiset of decoded params (§6.4: sorted, so the order of a
 *   repeated key's values is not bound, §14.3) and a non-form body's bytes (§6.5). Query and
 *   form body are one set of params (§14.3, "Query vs form body are not distinguished"):
 *   compared together. With an `ottoken` credential, the one pair it came from is no param
 *   (§11.1 step 4).
 * * v1 (PROTOCOL §5.3, §14.2): method, the path as sent (§5.1), and the params in order, query
 *   then form (§5.2). No host and no non-form body are bound (§14.2, "No host binding and no
 *   body binding"): neither is compared. A key repeated with the same decoded value merges
 *   into its first pair (§11.1 step 4), and an `ottoken` param is ignored wherever it appears
 *   (§14.3, last item): the comparison merges and drops them alike. The token hashes the path
 *   and the params' content without a separator (§5.3, §14.2 "Ambiguous concatenation"), so
 *   where the path ends is not bound either: a path and params that concatenate to the signed
 *   ones are 'boundary', counted and printed, not a failure.
 */
function check(intent, seen) {
  const why = []
  if (seen.method !== intent.method) why.push(`method ${seen.method} for ${intent.method}`)
  if (seen.overrides.length > 0) why.push(`method-override fields reached the app: ${seen.overrides}`)
  const v = seen.xnonce
  if (v?.client !== intent.client || v?.scheme !== intent.scheme)
    why.push(`req.xnonce names ${v?.scheme} ${v?.client}`)
  if (!Buffer.isBuffer(seen.rawBody) || !seen.rawBody.equals(seen.streamed))
    why.push(`req.rawBody ${shown(seen.rawBody ?? [])} but the stream held ${shown(seen.streamed)}`)
  const expected = intent.params
  const signedSegments = decodedSegments(intent.path)
  const sameSegments = (a, b) => JSON.stringify(a) === JSON.stringify(b)
  let boundary = false
  if (intent.scheme === 'v2') {
    for (const [name, path] of [
      ['new URL', seen.whatwgPath],
      ['url.parse', seen.legacyPath],
    ])
      if (!sameSegments(path, signedSegments))
        why.push(`${name} path ${JSON.stringify(path)} for ${intent.path}`)
    const withoutToken = (pairs) => {
      if (intent.ottoken === undefined) return pairs
      const i = pairs.findIndex(([k, val]) => k === 'ottoken' && val === intent.ottoken)
      if (i === -1) return [...pairs, ['(the ottoken pair is gone)', '']]
      return pairs.filter((_, j) => j !== i)
    }
    for (const [name, pairs] of [
      ['URLSearchParams', withoutToken(seen.searchPairs)],
      ['qs', withoutToken(seen.qsPairs)],
      ['querystring', withoutToken(seen.querystringPairs)],
      ['req.xnonce.params', v?.params ?? []],
    ])
      if (!samePairs(pairs, expected))
        why.push(`${name} params ${JSON.stringify(pairs)} for ${JSON.stringify(expected)}`)
    if (typeof seen.host !== 'string' || canonicalHost(seen.host) !== HOST)
      why.push(`host ${JSON.stringify(seen.host)} for ${HOST}`)
    // Express's req.hostname: the name signed (a port, which it drops, aside), or none.
    if (seen.hostname !== undefined && seen.hostname.toLowerCase() !== HOST)
      why.push(`req.hostname ${JSON.stringify(seen.hostname)} for ${HOST}`)
    if (intent.body !== undefined) {
      if (!seen.streamed.equals(intent.body))
        why.push(`body ${shown(seen.streamed)} for ${shown(intent.body)}`)
    } else if (!seen.form && seen.streamed.length > 0) {
      why.push(`a body ${shown(seen.streamed)} nobody signed`)
    }
  } else {
    // v1 as em-secure-api reads params: `ottoken` left out, a pair seen again merged.
    const merged = (pairs) => {
      const out = []
      for (const pair of pairs) {
        if (pair[0] === 'ottoken' || out.some((p) => p[0] === pair[0] && p[1] === pair[1])) continue
        out.push(pair)
      }
      return out
    }
    const same = (a, b) => JSON.stringify(a) === JSON.stringify(b)
    const verified = v?.params ?? []
    for (const [name, pairs] of [
      ['URLSearchParams', merged(seen.searchPairs)],
      ['qs', merged(seen.qsPairs)],
      ['querystring', merged(seen.querystringPairs)],
    ])
      if (!same(pairs, verified))
        why.push(`${name} params ${JSON.stringify(pairs)}, verified ${JSON.stringify(verified)}`)
    // The app routes the path verified.
    const rawSegments = decodedSegments(seen.rawPath)
    for (const [name, path] of [
      ['new URL', seen.whatwgPath],
      ['url.parse', seen.legacyPath],
    ])
      if (!sameSegments(path, rawSegments))
        why.push(`${name} path ${JSON.stringify(path)} for ${seen.rawPath}`)
    if (seen.rawPath !== intent.path || !same(verified, expected)) {
      if (seen.rawPath + v1Content(verified) === intent.path + v1Content(expected)) boundary = true
      else
        why.push(
          `path ${seen.rawPath} and params ${JSON.stringify(verified)} for ${intent.path} and ${JSON.stringify(expected)}`,
        )
    }
  }
  if (why.length > 0) return why.join('; ')
  return boundary ? 'boundary' : 'same'
}

// ---------------------------------------------------------------------------------------------

test('tampered requests reach the app as signed, or not at all', { timeout: 120_000 }, async (t) => {
  const seed = Number(process.env.XNONCE_TAMPER_SEED || DEFAULT_SEED)
  const cases = Number(process.env.XNONCE_TAMPER_CASES || CASES)
  assert.ok(Number.isSafeInteger(seed) && seed >= 0, 'XNONCE_TAMPER_SEED: a whole number')
  assert.ok(Number.isSafeInteger(cases) && cases >= 0, 'XNONCE_TAMPER_CASES: a whole number')
  t.diagnostic(`middleware tamper fuzz: XNONCE_TAMPER_SEED=${seed}, ${cases} cases in ${LANES} lanes`)

  const secrets = {}
  for (let lane = 0; lane < LANES; lane++) secrets[`lane${lane}`] = crypto.randomBytes(32).toString('hex')
  /** What the app read, by the client port of the connection it came on. */
  const reached = new Map()
  const errors = []
  const guard = x.middleware(new x.Verifier(secrets), {
    bodyTimeoutMs: 3000,
    onError: (error) => errors.push(error),
    async then(req, res) {
      const port = req.socket.remotePort
      const seen = await appReads(req)
      if (!reached.has(port)) reached.set(port, [])
      reached.get(port).push(seen)
      res.setHeader('x-app', '1')
      res.end('app')
    },
  })
  const app = await listen((req, res) => {
    // As Express 4 and 5 define it on their request (trust proxy: true), which the middleware
    // asks about an X-Forwarded-Host.
    Object.defineProperty(req, 'hostname', { get: () => expressHostname(req) })
    return guard(req, res)
  })
  const port = Number(new URL(app.url).port)
  const failures = []
  const statuses = new Map()
  let accepted = 0
  let baselines = 0
  let boundaryMoved = 0
  const verbose = process.env.XNONCE_TAMPER_VERBOSE !== undefined

  async function runCase(n, lane) {
    const rng = caseRng(seed, n)
    const intent = makeIntent(rng, n, `lane${lane}`)
    const wire = signedWire(intent, secrets[intent.client], rng)
    const mutations = n % 10 === 0 ? 0 : rng.pick([1, 1, 1, 1, 1, 1, 2, 2, 2, 3])
    const done = []
    for (let i = 0; i < mutations; i++) done.push(mutate(rng, wire))
    const request = serialise(wire)
    const answer = await exchange(port, request)
    const seen = reached.get(answer.port) ?? []
    reached.delete(answer.port)
    const fail = (why) =>
      failures.push(
        `case ${n} (${intent.scheme} ${intent.method} ${intent.ottoken ? 'ottoken' : 'X-Nonce'}, ${intent.signer}, ` +
          `mutations ${JSON.stringify(done)}): ${why}\n  request ${shown(request)}\n  signed ${JSON.stringify(intent)}`,
      )
    if (answer.hung) return fail(`no end within ${HANG_MS} ms; got ${shown(answer.bytes)}`)
    const answers = finalStatuses(answer.bytes)
    const status = answers[0]?.status ?? 0
    if (verbose) console.log(`case ${n}: ${status} ${JSON.stringify(done)} ${shown(request)}`)
    statuses.set(status, (statuses.get(status) ?? 0) + 1)
    if (mutations === 0) {
      baselines++
      if (!(answers[0]?.app && status === 200)) return fail(`an untouched request got ${shown(answer.bytes)}`)
    }
    if (answers.slice(1).some((a) => a.app)) fail(`a second request reached the app: ${shown(answer.bytes)}`)
    if (answers[0]?.app) {
      accepted++
      if (status !== 200 || seen.length !== 1)
        return fail(`answered ${status} by the app, which saw ${seen.length}`)
      const verdict = check(intent, seen[0])
      if (verdict === 'boundary') {
        boundaryMoved++
        t.diagnostic(
          `case ${n}: v1 boundary moved (PROTOCOL §14.2): the app read ${seen[0].rawPath} and ` +
            `${JSON.stringify(seen[0].xnonce.params)} for ${intent.path} and ${JSON.stringify(intent.params)}`,
        )
      } else if (verdict !== 'same') {
        fail(
          `reached the app as ${JSON.stringify({ ...seen[0], xnonce: undefined, rawBody: undefined })}: ${verdict}`,
        )
      }
    } else if (answers.length === 0 || (status >= 400 && status < 500)) {
      // Refused (or closed by node:http, which cannot parse it): the app must not have seen it.
      if (seen.length > 0) fail(`answered ${status}, yet the app saw ${JSON.stringify(seen)}`)
    } else {
      fail(`answered ${shown(answer.bytes)}`)
    }
  }

  const started = Date.now()
  try {
    await Promise.all(
      Array.from({ length: LANES }, async (_, lane) => {
        for (let n = lane; n < cases; n += LANES) await runCase(n, lane)
      }),
    )
  } finally {
    await app.close()
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  t.diagnostic(
    `middleware tamper fuzz: ${cases} cases (${baselines} untouched) in ${seconds} s: ${accepted} accepted ` +
      `(${boundaryMoved} v1 with the path's end moved, PROTOCOL §14.2); first statuses (0: none) ` +
      JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0]))),
  )
  for (const error of errors) failures.push(`onError: ${error?.stack ?? error}`)
  assert.ok(
    failures.length === 0,
    `XNONCE_TAMPER_SEED=${seed}: ${failures.length} of ${cases} cases failed:\n` +
      failures.slice(0, 40).join('\n'),
  )
  assert.ok(accepted >= baselines, 'the untouched requests were accepted')
})
