// An independent implementation of the xnonce protocol, written from docs/PROTOCOL.md only.
//
// Plain JavaScript for Node >= 18, Node built-ins only (no xnonce package, no code from core/).
// It is the cross-check of the reference implementation (`node xnonce_spec.mjs` runs every
// vector) and the "plain JS" baseline signer of the Node binding's benchmarks:
//
//   import { sign } from "./xnonce_spec.mjs";
//   const header = sign("v2", "GET", "/admin/status", [], "svc", SECRET,
//                       1700000000000, undefined, "api.example.com");
//
// Section numbers (§) refer to docs/PROTOCOL.md.

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const MAX_TIMESTAMP = 2 ** 53 - 1 // §3.4
const EMPTY_SHA256 = createHash('sha256').update('').digest('hex')

/** A refusal carrying the shared error code of §13 as `.code`. */
export class XNonceError extends Error {
  constructor(code, message) {
    super(message ? `${code}: ${message}` : code)
    this.name = 'XNonceError'
    this.code = code
  }
}

// ---------------------------------------------------------------------------------------
// §4 encodings

const UNRESERVED_RE = /^[A-Za-z0-9\-._~]*$/
const isUnreservedByte = (b) =>
  (b >= 0x41 && b <= 0x5a) ||
  (b >= 0x61 && b <= 0x7a) ||
  (b >= 0x30 && b <= 0x39) ||
  b === 0x2d ||
  b === 0x2e ||
  b === 0x5f ||
  b === 0x7e
const hex2 = (b) => '%' + b.toString(16).toUpperCase().padStart(2, '0')
const RFC3986 = Array.from({ length: 256 }, (_, b) =>
  isUnreservedByte(b) ? String.fromCharCode(b) : hex2(b),
)
const CGI = RFC3986.slice()
CGI[0x20] = '+'
const PATH_CANONICAL_RE = /^[A-Za-z0-9\-._~/]*$/

function utf8(text) {
  // Lone surrogates are not Unicode text (§3.6); Buffer would silently replace them.
  if (/[\uD800-\uDFFF]/u.test(text)) {
    throw new XNonceError('invalid_param_value', 'text is not valid Unicode')
  }
  return Buffer.from(text, 'utf8')
}

function encodeWith(table, bytes) {
  let out = ''
  for (const b of bytes) out += table[b]
  return out
}

/** §4.1 Ruby's CGI.escape: unreserved kept, space -> '+', other bytes %XX. */
export function cgiEscape(text) {
  return UNRESERVED_RE.test(text) ? text : encodeWith(CGI, utf8(text))
}

/** §4.2: unreserved bytes kept, every other byte %XX (upper-case hex). */
export function rfc3986Encode(text) {
  return UNRESERVED_RE.test(text) ? text : encodeWith(RFC3986, utf8(text))
}

const HEX_ANY_BYTE = (c) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)

/** §4.4: %XX (either case) is a byte; a bad escape is `code`. Returns a Buffer. */
function percentDecode(text, plusIsSpace, code) {
  const raw = Buffer.from(text, 'utf8')
  const out = []
  for (let i = 0; i < raw.length;) {
    const b = raw[i]
    if (b === 0x25) {
      const h = raw[i + 1]
      const l = raw[i + 2]
      if (i + 2 >= raw.length || !HEX_ANY_BYTE(h) || !HEX_ANY_BYTE(l)) {
        throw new XNonceError(code, 'bad percent-escape')
      }
      out.push(parseInt(String.fromCharCode(h, l), 16))
      i += 3
    } else if (b === 0x2b && plusIsSpace) {
      out.push(0x20)
      i += 1
    } else {
      out.push(b)
      i += 1
    }
  }
  return Buffer.from(out)
}

/** §4.4 form-decode (verifiers): '+' is a space; the result must be UTF-8. */
export function formDecode(text) {
  const bytes = percentDecode(text, true, 'malformed_params')
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new XNonceError('malformed_params', 'not UTF-8 after decoding')
  }
}

// ---------------------------------------------------------------------------------------
// §3 shared elements

const WHITESPACE = new Set([
  0x20, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005,
  0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
])
const isControl = (cp) => cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f)

/** §3.1 rules for every secret text. */
function checkSecret(secret) {
  if (typeof secret !== 'string' || secret.length === 0) {
    throw new XNonceError('invalid_secret', 'secret is empty')
  }
  if (Buffer.byteLength(secret, 'utf8') > 1024) {
    throw new XNonceError('invalid_secret', 'secret is longer than 1024 bytes')
  }
  for (const ch of secret) {
    const cp = ch.codePointAt(0)
    if (WHITESPACE.has(cp) || isControl(cp) || (cp >= 0xd800 && cp <= 0xdfff)) {
      throw new XNonceError('invalid_secret', 'secret has whitespace or control chars')
    }
  }
}

/** §3.1: the 32 bytes hex-decoded from a 64-hex secret text. */
function v2Key(secret) {
  if (!/^[0-9a-fA-F]{64}$/.test(secret)) {
    throw new XNonceError('invalid_secret', 'a v2 secret must be 64 hex characters')
  }
  return Buffer.from(secret, 'hex')
}

const CLIENT_RE = /^[A-Za-z0-9\-._~]{1,128}$/
/** §3.2 */
function checkClient(client) {
  if (typeof client !== 'string' || !CLIENT_RE.test(client)) {
    throw new XNonceError('invalid_client_id', 'client id must be 1-128 unreserved chars')
  }
}

/** §3.3 */
function canonicalMethod(method) {
  if (typeof method !== 'string' || !/^[A-Za-z]{1,16}$/.test(method)) {
    throw new XNonceError('invalid_method', 'method must be 1 to 16 ASCII letters')
  }
  return method.toUpperCase()
}

/** §3.4 range. */
function checkTimestamp(ts) {
  // §3.4: a value that is no number is an argument of the wrong type.
  if (typeof ts !== 'number' && typeof ts !== 'bigint') {
    throw new TypeError(`timestamp must be a number or a bigint, not ${ts === null ? 'null' : typeof ts}`)
  }
  if (typeof ts === 'bigint' && ts >= 0n && ts <= BigInt(MAX_TIMESTAMP)) return Number(ts)
  if (typeof ts !== 'number' || !Number.isInteger(ts) || ts < 0 || ts > MAX_TIMESTAMP) {
    throw new XNonceError('invalid_timestamp', 'timestamp must be 0 to 2^53-1 ms')
  }
  return ts
}

/** §3.4 text form; null when malformed. */
function parseTimestamp(text) {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(text)) return null
  const v = Number(text)
  return v <= MAX_TIMESTAMP ? v : null
}

const NONCE_RE = /^[0-9a-f]{32}$/
/** §3.5 */
function checkNonce(nonce) {
  if (typeof nonce !== 'string' || !NONCE_RE.test(nonce)) {
    throw new XNonceError('invalid_nonce', 'nonce must be 32 lower-case hex characters')
  }
}

/** §3.6 key rules. */
function checkKey(key, scheme) {
  if (key === '') throw new XNonceError('invalid_param_key', 'parameter key is empty')
  if (key === 'ottoken') throw new XNonceError('invalid_param_key', "'ottoken' is reserved")
  if (scheme === 'v1' && !UNRESERVED_RE.test(key)) {
    throw new XNonceError('invalid_param_key', 'a v1 key may only hold unreserved chars')
  }
}

/** |x| as m * 2^e with m a BigInt (x finite). */
function exactParts(x) {
  const dv = new DataView(new ArrayBuffer(8))
  dv.setFloat64(0, Math.abs(x))
  const hi = dv.getUint32(0)
  const lo = dv.getUint32(4)
  const bexp = (hi >>> 20) & 0x7ff
  let m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo)
  if (bexp === 0) return [m, -1074]
  m |= 1n << 52n
  return [m, bexp - 1075]
}

/** True when |x| lies exactly half-way between D*10^q and (D+1)*10^q. */
function isUpperTie(x, digits, q) {
  const [m, e] = exactParts(x)
  // 2*m*2^e == (2D+1)*10^q, scaled to integers by 2^a * 10^b
  const a = Math.max(0, -e)
  const b = Math.max(0, -q)
  const left = 2n * m * 2n ** BigInt(e + a) * 10n ** BigInt(b)
  const right = (2n * BigInt(digits) + 1n) * 10n ** BigInt(q + b) * 2n ** BigInt(a)
  return left === right
}

/** §3.6.1: shortest round-trip digits, positional, no fraction for integral values. */
function floatText(x) {
  if (!Number.isFinite(x)) {
    throw new XNonceError('invalid_param_value', 'NaN and infinities cannot be values')
  }
  if (x === 0) return '0'
  let r = String(x) // shortest round-trip, maybe with an exponent
  let sign = ''
  if (r[0] === '-') {
    sign = '-'
    r = r.slice(1)
  }
  const [mantissa, exp = '0'] = r.split('e')
  const [whole, frac = ''] = mantissa.split('.')
  const all = whole + frac // value = 0.<all> * 10^(whole.length + exp)
  let digits = all.replace(/^0+/, '')
  let e = whole.length + Number(exp) - (all.length - digits.length)
  digits = digits.replace(/0+$/, '')
  // String() breaks an exact tie between two shortest candidates towards the even digit;
  // the protocol takes the one of larger magnitude (§3.6.1): 1000000000000001.25 -> ...1.3
  if (isUpperTie(x, digits, e - digits.length)) {
    const up = (BigInt(digits) + 1n).toString()
    e += up.length - digits.length
    digits = up.replace(/0+$/, '')
  }
  const n = digits.length
  let body
  if (e >= n) body = digits + '0'.repeat(e - n)
  else if (e > 0) body = digits.slice(0, e) + '.' + digits.slice(e)
  else body = '0.' + '0'.repeat(-e) + digits
  return sign + body
}

/** §3.6.1: the text of a native parameter value. */
export function textFromValue(value) {
  switch (typeof value) {
    case 'string':
      return value
    case 'boolean':
      return value ? 'true' : 'false'
    case 'bigint':
      if (value < -(2n ** 127n) || value >= 2n ** 127n) {
        throw new XNonceError('invalid_param_value', 'integers are signed 128 bits at most')
      }
      return value.toString()
    case 'number':
      return floatText(value)
    default:
      throw new XNonceError('invalid_param_value', `cannot sign ${value === null ? 'null' : typeof value}`)
  }
}

const LONE_SURROGATE_RE = /[\uD800-\uDFFF]/u // with /u, a pair is one code point

/** §3.6, §10 step 0: text that is not valid Unicode (a lone surrogate) is refused. */
function checkUnicode(text, code) {
  if (typeof text === 'string' && LONE_SURROGATE_RE.test(text)) {
    throw new XNonceError(code, 'text is not valid Unicode')
  }
}

/** §10 step 0 for the text inputs other than params (v1 ignores host and nonce). */
/** §10: "v1" or "v2", either case (step 0). */
function schemeOf(scheme) {
  if (scheme === 'v1' || scheme === 'V1') return 'v1'
  if (scheme === 'v2' || scheme === 'V2') return 'v2'
  throw new XNonceError('unsupported_scheme', 'scheme must be "v1" or "v2"')
}

/** §10 step 0 for the text inputs other than params (a v1 host or nonce too, §3.6). */
function checkUnicodeInputs(method, path, client, secret, nonce, host, baseUrl) {
  checkUnicode(method, 'invalid_method')
  checkUnicode(path, 'invalid_path')
  checkUnicode(client, 'invalid_client_id')
  checkUnicode(secret, 'invalid_secret')
  checkUnicode(nonce, 'invalid_nonce')
  checkUnicode(host, 'invalid_host')
  checkUnicode(baseUrl, 'invalid_url')
}

/** Params as ordered [key, text] pairs: an array of pairs, a Map, or a plain object. */
function pairsOf(params) {
  if (params == null) return []
  const items = Array.isArray(params) || params instanceof Map ? params : Object.entries(params)
  const out = []
  for (const [k, v] of items) {
    if (typeof k !== 'string') throw new XNonceError('invalid_param_key', 'keys are text')
    checkUnicode(k, 'invalid_param_key')
    checkUnicode(v, 'invalid_param_value')
    out.push([k, textFromValue(v)])
  }
  return out
}

// ---------------------------------------------------------------------------------------
// §5 v1

function checkPathShape(path) {
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new XNonceError('invalid_path', "path must start with '/'")
  }
  if (Buffer.byteLength(path, 'utf8') > 8192) {
    throw new XNonceError('invalid_path', 'path is longer than 8192 bytes')
  }
  if (/[?#\x00-\x1f\x7f]/.test(path)) {
    throw new XNonceError('invalid_path', "path holds '?', '#' or a control char")
  }
}

/** §5.2 */
function contentV1(pairs) {
  const parts = []
  const seen = new Set()
  for (const [k, v] of pairs) {
    checkKey(k, 'v1')
    if (seen.has(k)) throw new XNonceError('invalid_param_key', 'a v1 key may not repeat')
    seen.add(k)
    parts.push(k + '=' + cgiEscape(v))
  }
  return parts.join('&')
}

/** §5.3 (checks in the order of §10 step 4). */
function canonicalV1(method, path, pairs, client, secret, ts) {
  const m = canonicalMethod(method)
  checkPathShape(path)
  if (path.includes(' ')) {
    throw new XNonceError('invalid_path', 'a v1 path must not contain spaces')
  }
  checkClient(client)
  return m + path + contentV1(pairs) + client + secret + String(ts)
}

// ---------------------------------------------------------------------------------------
// §6 v2

/** §6.2 */
export function canonicalHost(host) {
  if (typeof host !== 'string') throw new XNonceError('invalid_host', 'host must be text')
  const len = Buffer.byteLength(host, 'utf8')
  if (len < 1 || len > 255) throw new XNonceError('invalid_host', 'host must be 1-255 bytes')
  let lower = host.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32))
  if (!/^[a-z0-9.\-_:[\]]*$/.test(lower)) {
    throw new XNonceError('invalid_host', 'host may only hold a-z 0-9 . - _ : [ ]')
  }
  if (lower.endsWith(':80')) lower = lower.slice(0, -3)
  else if (lower.endsWith(':443')) lower = lower.slice(0, -4)
  if (lower === '' || lower.startsWith(':')) {
    throw new XNonceError('invalid_host', 'host has no name')
  }
  return lower
}

/** §6.3: segment by segment, path-decode then RFC 3986-encode (a decoded '/' is %2F). */
export function canonicalPathV2(path) {
  checkPathShape(path)
  if (PATH_CANONICAL_RE.test(path)) return path // already canonical
  return path
    .split('/')
    .map((seg) => encodeWith(RFC3986, percentDecode(seg, false, 'invalid_path')))
    .join('/')
}

const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0)

/** §6.4 */
function paramsV2(pairs) {
  const enc = []
  for (const [k, v] of pairs) {
    checkKey(k, 'v2')
    enc.push([rfc3986Encode(k), rfc3986Encode(v)])
  }
  // ASCII strings: UTF-16 unit order == byte order; key first, then value.
  enc.sort((a, b) => cmp(a[0], b[0]) || cmp(a[1], b[1]))
  return enc.map(([k, v]) => k + '=' + v).join('&')
}

/** §6.6 (checks in the order of §10 step 5). */
function canonicalV2(method, host, path, pairs, body, client, ts, nonce) {
  const m = canonicalMethod(method)
  const h = canonicalHost(host)
  const p = canonicalPathV2(path)
  const q = paramsV2(pairs)
  checkClient(client)
  checkNonce(nonce)
  const digest = body && body.length ? createHash('sha256').update(body).digest('hex') : EMPTY_SHA256
  return ['XNONCE-V2', m, h, p, q, digest, client, String(ts), nonce].join('\n')
}

// ---------------------------------------------------------------------------------------
// §7 header, §8 ottoken

export function formatHeader(h) {
  return h.scheme === 'v1'
    ? `${h.token} ${h.client} ${h.timestamp}`
    : `v2 ${h.client} ${h.timestamp} ${h.nonce} ${h.signature}`
}

const HEX64_RE = /^[0-9a-f]{64}$/

/** §7; malformed_header on any deviation. */
export function parseHeader(value) {
  const bad = (why) => new XNonceError('malformed_header', why)
  if (typeof value !== 'string' || Buffer.byteLength(value, 'utf8') > 512) {
    throw bad('too long')
  }
  const f = value.split(' ')
  let h
  if (f.length === 5 && f[0] === 'v2') {
    h = { scheme: 'v2', client: f[1], ts: f[2], nonce: f[3], signature: f[4] }
  } else if (f.length === 3 && HEX64_RE.test(f[0])) {
    h = { scheme: 'v1', token: f[0], client: f[1], ts: f[2] }
  } else {
    throw bad('wrong shape')
  }
  if (!CLIENT_RE.test(h.client)) throw bad('bad client id')
  const t = parseTimestamp(h.ts)
  if (t === null) throw bad('bad timestamp')
  if (h.scheme === 'v1') return { scheme: 'v1', token: h.token, client: h.client, timestamp: t }
  if (!NONCE_RE.test(h.nonce)) throw bad('bad nonce')
  if (!HEX64_RE.test(h.signature)) throw bad('bad signature')
  return { scheme: 'v2', client: h.client, timestamp: t, nonce: h.nonce, signature: h.signature }
}

/** §8.1; `header` is a header value (its first field picks the scheme). */
export function ottokenEncode(header) {
  if (header.startsWith('v2 ')) return Buffer.from(header, 'utf8').toString('base64url')
  return Buffer.from('{"X-Nonce":"' + header + '"}', 'utf8').toString('base64')
}

/** §8.2 */
export function ottokenQueryValue(token) {
  // §8.2: a token that is not valid Unicode text is no ottoken.
  checkUnicode(token, 'malformed_ottoken')
  return cgiEscape(token)
}

/** §8.3: the header value inside an ottoken (malformed_ottoken on any deviation). */
export function ottokenDecode(token) {
  const bad = (why) => new XNonceError('malformed_ottoken', why)
  if (typeof token !== 'string') throw bad('not text')
  const len = Buffer.byteLength(token, 'utf8')
  if (len < 1 || len > 1024) throw bad('empty or too long')
  let header
  let want
  if (token.startsWith('eyJ')) {
    if (token.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(token)) {
      throw bad('not standard base64')
    }
    const raw = Buffer.from(token, 'base64')
    if (raw.toString('base64') !== token) throw bad('not canonical base64')
    let obj
    try {
      obj = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw))
    } catch {
      throw bad('not JSON')
    }
    header = obj !== null && typeof obj === 'object' && !Array.isArray(obj) ? obj['X-Nonce'] : undefined
    if (typeof header !== 'string') throw bad('no "X-Nonce" string member')
    want = 'v1'
  } else {
    if (token.length % 4 === 1 || !/^[A-Za-z0-9\-_]*$/.test(token)) {
      throw bad('not URL-safe base64')
    }
    const raw = Buffer.from(token, 'base64url')
    if (raw.toString('base64url') !== token) throw bad('not canonical base64')
    try {
      header = new TextDecoder('utf-8', { fatal: true }).decode(raw)
    } catch {
      throw bad('not UTF-8')
    }
    want = 'v2'
  }
  let parsed
  try {
    parsed = parseHeader(header)
  } catch {
    throw bad('does not hold a header')
  }
  if (parsed.scheme !== want) throw bad('holds a header of the other scheme')
  return header
}

// ---------------------------------------------------------------------------------------
// §10 signing

/** §10: { x_nonce, ottoken, canonical, timestamp, nonce (null for v1) }. */
export function signDetailed(scheme, method, path, params, client, secret, timestamp, nonce, host, body) {
  scheme = schemeOf(scheme)
  checkUnicodeInputs(method, path, client, secret, nonce, host)
  const pairs = pairsOf(params)
  // §10 step 0: the native timestamp is converted (type and range, §3.4) before the secret.
  const ts = checkTimestamp(timestamp == null ? Date.now() : timestamp)
  checkSecret(secret)
  let canonical
  let xNonce
  if (scheme === 'v1') {
    if (body != null && body.length) throw new XNonceError('invalid_body', 'v1 cannot sign a body')
    canonical = canonicalV1(method, path, pairs, client, secret, ts)
    xNonce = `${createHash('sha256').update(canonical).digest('hex')} ${client} ${ts}`
    nonce = null
  } else {
    // v2 (schemeOf read it)
    if (nonce == null) nonce = randomBytes(16).toString('hex')
    if (host == null) throw new XNonceError('invalid_host', 'v2 signs the host')
    canonical = canonicalV2(method, host, path, pairs, body, client, ts, nonce)
    const sig = createHmac('sha256', v2Key(secret)).update(canonical).digest('hex')
    xNonce = `v2 ${client} ${ts} ${nonce} ${sig}`
  }
  return { x_nonce: xNonce, ottoken: ottokenEncode(xNonce), canonical, timestamp: ts, nonce }
}

/** §10: the X-Nonce header value. */
export function sign(scheme, method, path, params, client, secret, timestamp, nonce, host, body) {
  return signDetailed(scheme, method, path, params, client, secret, timestamp, nonce, host, body).x_nonce
}

// ---------------------------------------------------------------------------------------
// signing a request as an HTTP client sends it: its params read as the verifier reads them
// (§11, §11.1 steps 1 and 4, §6.5). PROTOCOL has no section for this function; where it
// leaves the signer's side open, the choices are xnonce_spec.py's (SIGN_REQUEST_CHOICES):
// 1. an absolute-form target's authority is the signed host (§11 ignores Host); 2. an empty
// path is '/' (origin-form too); 3. v1 leaves out a raw `ottoken` pair unread; 4. v1 merges a
// key seen again with its first decoded value (another value: invalid_param_key); 5. §10 step
// 0 first, then '#', then reading the params (malformed_params, every pair decoded before
// any key is checked), then §10 steps 1-5; 6. §6.5's rule alone says form or not.

const FORM_TYPE = 'application/x-www-form-urlencoded'
// §11: "the scheme being a letter followed by letters, digits, +, - or .", then "://".
const ABSOLUTE_FORM_RE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//

/** §6.5: cut at the first ';', strip SP and HTAB, compare ASCII-case-insensitively. */
export function isForm(contentType) {
  if (contentType == null) return false
  const media = contentType.split(';', 1)[0].replace(/^[ \t]+|[ \t]+$/g, '')
  return media.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32)) === FORM_TYPE
}

/** §11: split on '&', skip empty segments, split each at its first '=' (none: empty value). */
function rawPairs(text) {
  const out = []
  for (const seg of text.split('&')) {
    if (seg === '') continue
    const i = seg.indexOf('=')
    out.push(i < 0 ? [seg, ''] : [seg.slice(0, i), seg.slice(i + 1)])
  }
  return out
}

/**
 * §11.1 step 4 for a request whose credential is its X-Nonce header: the params of the raw
 * query followed by those of the form body (malformed_params on a bad escape or non-UTF-8).
 */
export function requestParams(scheme, query, form) {
  const raw = [...rawPairs(query), ...rawPairs(form)]
  // v2: every pair kept, both form-decoded; an `ottoken` key stays, which §3.6 refuses
  if (scheme === 'v2') return raw.map(([k, v]) => [formDecode(k), formDecode(v)])
  const out = []
  const first = new Map()
  for (const [k, rawValue] of raw) {
    // v1: the key raw, `ottoken` left out, the value form-decoded
    if (k === 'ottoken') continue
    const v = formDecode(rawValue)
    if (first.has(k)) {
      if (first.get(k) === v) continue // Hash#merge: the key keeps its first position
    } else first.set(k, v)
    out.push([k, v])
  }
  return out
}

function bytesOf(body) {
  if (body == null) return null
  if (typeof body === 'string') return Buffer.from(body, 'utf8')
  if (body instanceof ArrayBuffer) return Buffer.from(new Uint8Array(body))
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
}

/**
 * The X-Nonce value of a request as sent: `target` is `/path?query` (or absolute-form, §11),
 * its params read from the raw query and, for a form `contentType` (§6.5), from the form
 * `body`, exactly as the scheme's verifier reads them (§11.1 step 4); any other body is signed
 * as the body (v2) or refused (v1, invalid_body).
 */
export function signRequest(scheme, method, target, client, secret, parts) {
  const { host, contentType, body, timestamp, nonce } = parts ?? {}
  // §10 step 0: the scheme, text that is not Unicode text (the target's code invalid_path,
  // a content type's or text body's invalid_body), the native timestamp
  scheme = schemeOf(scheme)
  checkUnicodeInputs(method, target, client, secret, nonce, host)
  checkUnicode(contentType, 'invalid_body')
  checkUnicode(body, 'invalid_body')
  if (timestamp != null) checkTimestamp(timestamp)
  let signedHost = host
  if (target.includes('#')) throw new XNonceError('invalid_path', 'a request target has no fragment')
  const absolute = ABSOLUTE_FORM_RE.exec(target)
  if (absolute) {
    // §11: the authority (up to the first '/', '?' or '#') is the host
    const rest = target.slice(absolute[0].length)
    const end = rest.search(/[/?]/)
    signedHost = end < 0 ? rest : rest.slice(0, end)
    target = end < 0 ? '' : rest.slice(end)
  }
  const q = target.indexOf('?') // split at the first '?'
  const path = (q < 0 ? target : target.slice(0, q)) || '/'
  const query = q < 0 ? '' : target.slice(q + 1)
  const form = isForm(contentType)
  const bytes = bytesOf(body)
  let formText = ''
  if (form && bytes && bytes.length) {
    // §11.1 step 1: a form only on POST, PUT or PATCH (ASCII-case-insensitively)
    if (!['post', 'put', 'patch'].includes(method.replace(/[A-Z]/g, (c) => c.toLowerCase()))) {
      throw new XNonceError('invalid_body', 'a form body is read only on POST, PUT or PATCH')
    }
    try {
      // §11.1 step 1
      formText = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
    } catch {
      throw new XNonceError('malformed_params', 'the form body is not UTF-8')
    }
  }
  const pairs = requestParams(scheme, query, formText)
  // §6.5: a form's fields are params, not the body
  return sign(scheme, method, path, pairs, client, secret, timestamp, nonce, signedHost, form ? null : bytes)
}

// §9 step 6: a dot segment is ".", ".." with any dot possibly written %2e (any case).
const DOT_SEGMENT_RE = /^(\.|%2e){1,2}$/i
// v1 paths (and base-URL prefixes) are written as given: no '\', non-ASCII or "<>^`{|}.
const V1_REFUSED_RE = /[\\"<>^`{|}]|[^\x00-\x7f]/u

/** §9 step 6: why URL clients would not send `path` unchanged, or null. */
function urlClientsChange(path, v1Rules) {
  const dots = path.split('/').find((seg) => DOT_SEGMENT_RE.test(seg))
  if (dots !== undefined) return `dot segment ${JSON.stringify(dots)}`
  const m = v1Rules ? V1_REFUSED_RE.exec(path) : null
  return m ? `character ${JSON.stringify(m[0])}` : null
}

/** An IPv6 literal (lower-case, no brackets) as 8 numbers, or null (RFC 4291 text, hex only). */
function ipv6Numbers(text) {
  const sides = text.split('::')
  if (sides.length > 2) return null
  const groupsOf = (side) => (side === '' ? [] : side.split(':'))
  const [head, tail = null] = sides.map(groupsOf)
  const all = tail === null ? head : head.concat(tail)
  if (!all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null
  if (tail === null ? all.length !== 8 : all.length > 7) return null
  const nums = all.map((g) => parseInt(g, 16))
  if (tail === null) return nums
  const zeros = new Array(8 - all.length).fill(0)
  return head
    .map((g) => parseInt(g, 16))
    .concat(
      zeros,
      tail.map((g) => parseInt(g, 16)),
    )
}

/** The normal form of §9 step 1: no leading zeros, first longest run (>= 2) of zeros as "::". */
function ipv6Normal(nums) {
  let best = -1
  let bestLen = 1
  for (let i = 0; i < 8;) {
    let j = i
    while (j < 8 && nums[j] === 0) j += 1
    if (j - i > bestLen) [best, bestLen] = [i, j - i]
    i = j === i ? i + 1 : j
  }
  const hex = (ns) => ns.map((n) => n.toString(16)).join(':')
  if (best < 0) return hex(nums)
  return `${hex(nums.slice(0, best))}::${hex(nums.slice(best + bestLen))}`
}

// Four decimal parts 0-255 without leading zeros: the only IPv4 form URL clients send as given.
const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
const DOTTED_DECIMAL_RE = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`)

/** §9 step 1, v2: the authority as WHATWG URL clients send it (ASCII case aside). */
function checkV2Authority(authority) {
  const bad = (why) =>
    new XNonceError('invalid_url', `base URL authority ${JSON.stringify(authority)}: ${why}`)
  const a = authority.replace(/[A-Z]/g, (c) => c.toLowerCase())
  let rest
  if (a.startsWith('[')) {
    const m = /^\[([^\]]*)\](.*)$/s.exec(a)
    const nums = m && ipv6Numbers(m[1])
    if (!nums || ipv6Normal(nums) !== m[1]) throw bad('not an IPv6 address in normal form')
    rest = m[2]
  } else {
    const colon = a.indexOf(':')
    const host = colon < 0 ? a : a.slice(0, colon)
    rest = colon < 0 ? '' : a.slice(colon)
    if (/[[\]]/.test(host)) throw bad("'[' and ']' may only enclose an IPv6 literal")
    // The last label, one empty trailing label dropped: a number makes it an IPv4 host.
    const last = host
      .replace(/(.)\.$/s, '$1')
      .split('.')
      .pop()
    if (/^(?:[0-9]+|0x[0-9a-f]*)$/.test(last) && !DOTTED_DECIMAL_RE.test(host)) {
      throw bad('ends in a number but is not a dotted-decimal IPv4 address')
    }
  }
  if (rest !== '') {
    const port = /^:(0|[1-9][0-9]{0,4})$/.exec(rest)
    if (!port || Number(port[1]) > 65535) {
      throw bad("only ':port' may follow the host, 0 to 65535 without leading zeros")
    }
  }
}

/** §9 step 1, v1: left as typed, but a host, brackets only around it, a port <= 65535. */
function checkV1Authority(authority) {
  const bad = (why) => new XNonceError('invalid_url', `base URL authority: ${why}`)
  const m = authority.startsWith('[')
    ? /^(\[[^\]]*\])(.*)$/s.exec(authority)
    : /^([^:]*)(.*)$/s.exec(authority)
  if (!m) throw bad("'[' without ']'")
  const [, host, rest] = m
  if (!host.startsWith('[') && /[[\]]/.test(host)) throw bad("'[' and ']' only around an IPv6 literal")
  if (rest !== '' && !rest.startsWith(':')) throw bad("only ':port' may follow an IPv6 literal")
  if (host === '') throw bad('no host before the port')
  const port = rest.slice(1)
  if (port !== '' && !(/^[0-9]+$/.test(port) && Number(port) <= 65535)) throw bad('port not 0 to 65535')
}

/** §9 step 1: [authority, base without trailing '/']. */
function splitBaseUrl(baseUrl, scheme) {
  let rest
  if (baseUrl.startsWith('https://')) rest = baseUrl.slice(8)
  else if (baseUrl.startsWith('http://')) rest = baseUrl.slice(7)
  else throw new XNonceError('invalid_url', 'base URL must start with http:// or https://')
  if (/[?#\\ \x00-\x1f\x7f]/.test(baseUrl)) {
    throw new XNonceError('invalid_url', 'no query, fragment, backslash, space or control char')
  }
  const slash = rest.indexOf('/')
  const authority = slash < 0 ? rest : rest.slice(0, slash)
  if (authority === '' || authority.includes('@')) {
    throw new XNonceError('invalid_url', 'base URL needs a host and no user info')
  }
  const why = urlClientsChange(slash < 0 ? '' : rest.slice(slash), true)
  if (why) throw new XNonceError('invalid_url', `the base URL's path prefix holds a ${why}`)
  if (scheme === 'v2') checkV2Authority(authority)
  else checkV1Authority(authority)
  return [authority, baseUrl.replace(/\/+$/, '')]
}

/** §9: signDetailed's fields plus `link`. */
export function linkDetailed(
  scheme,
  method,
  path,
  params,
  client,
  secret,
  baseUrl,
  timestamp,
  nonce,
  host,
  body,
) {
  scheme = schemeOf(scheme)
  checkUnicodeInputs(method, path, client, secret, nonce, host, baseUrl)
  // §10 step 0: native values (params, timestamp) are converted before any other check.
  const pairs = pairsOf(params)
  if (timestamp != null) checkTimestamp(timestamp)
  checkSecret(secret)
  const [authority, base] = splitBaseUrl(baseUrl, scheme)
  if (body != null && body.length) throw new XNonceError('invalid_body', 'a link cannot carry a body')
  if (scheme === 'v2') {
    const fromUrl = canonicalHost(authority)
    if (host != null && canonicalHost(host) !== fromUrl) {
      throw new XNonceError('invalid_host', "host differs from the base URL's authority")
    }
    if (host == null) host = authority
  }
  const out = signDetailed(scheme, method, path, pairs, client, secret, timestamp, nonce, host)
  let shownPath
  let query
  if (scheme === 'v1') {
    shownPath = path
    query = contentV1(pairs)
  } else {
    shownPath = canonicalPathV2(path)
    query = pairs.map(([k, v]) => rfc3986Encode(k) + '=' + rfc3986Encode(v)).join('&')
  }
  const why = urlClientsChange(shownPath, scheme === 'v1')
  if (why) throw new XNonceError('invalid_path', `URL clients would change the path's ${why}`)
  if (query) query += '&'
  out.link = `${base}${shownPath}?${query}ottoken=${ottokenQueryValue(out.ottoken)}`
  return out
}

/** §9: the full URL. */
export function link(scheme, method, path, params, client, secret, baseUrl, timestamp, nonce, host) {
  return linkDetailed(scheme, method, path, params, client, secret, baseUrl, timestamp, nonce, host).link
}

// ---------------------------------------------------------------------------------------
// §12 server-time hint

/**
 * §12: the MAC of an X-Nonce-Server-Time value. Key: the 32 hex-decoded bytes of a 64-hex
 * secret (either case), else the UTF-8 bytes of the secret text (v1 legacy secrets).
 */
export function serverTimeMac(secret, client, requestId, serverMs) {
  const key = /^[0-9A-Fa-f]{64}$/.test(secret) ? Buffer.from(secret, 'hex') : Buffer.from(secret, 'utf8')
  const msg = `XNONCE-TIME\n${client}\n${requestId}\n${serverMs}`
  return createHmac('sha256', key).update(msg).digest('hex')
}

/** §12 client side: the server's ms when the hint authenticates, else null. */
export function authenticateServerTime(value, secret, client, requestId) {
  const f = value.split(' ')
  if (f.length !== 2 || !HEX64_RE.test(f[1])) {
    throw new XNonceError('malformed_header', "X-Nonce-Server-Time: '<ms> <mac>'")
  }
  const ms = parseTimestamp(f[0])
  if (ms === null) throw new XNonceError('malformed_header', 'X-Nonce-Server-Time: bad time')
  const want = Buffer.from(serverTimeMac(secret, client, requestId, ms))
  return timingSafeEqual(want, Buffer.from(f[1])) ? ms : null
}

// ---------------------------------------------------------------------------------------
// §15 vectors

function assert(cond, what) {
  if (!cond) throw new Error(`self-test failed: ${what}`)
}

/** The worked examples of PROTOCOL.md that are not vector cases. */
export function selfTest() {
  const s1 = '20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd'
  const floats = [
    [3.0, '3'],
    [1.5, '1.5'],
    [-2.5, '-2.5'],
    [0.1, '0.1'],
    [0.1 + 0.2, '0.30000000000000004'],
    [1e16, '10000000000000000'],
    [1e21, '1000000000000000000000'],
    [1e-7, '0.0000001'],
    [-1e-7, '-0.0000001'],
    [-0, '0'],
    [123456789.125, '123456789.125'],
    [1000000000000001.25, '1000000000000001.3'],
    [1000000000000001.75, '1000000000000001.8'],
    [5e-324, '0.' + '0'.repeat(323) + '5'],
  ]
  for (const [x, want] of floats) assert(textFromValue(x) === want, `${x} -> ${want}`)
  assert([true, false, 42n, -7, 0].map(textFromValue).join() === 'true,false,42,-7,0', 'natives')
  for (const bad of [NaN, Infinity, null, undefined, [1], { a: 1 }, Buffer.from('x')]) {
    try {
      textFromValue(bad)
      assert(false, `${String(bad)} accepted`)
    } catch (e) {
      assert(e.code === 'invalid_param_value', `${String(bad)}: ${e.message}`)
    }
  }
  assert(cgiEscape('a+b c/é') === 'a%2Bb+c%2F%C3%A9', 'cgi')
  assert(rfc3986Encode('a+b c/é') === 'a%2Bb%20c%2F%C3%A9', 'rfc3986')
  for (const [h, want] of [
    ['API.Example.com:443', 'api.example.com'],
    ['api.example.com:80', 'api.example.com'],
    ['127.0.0.1:8080', '127.0.0.1:8080'],
    ['[::1]:9000', '[::1]:9000'],
  ]) {
    assert(canonicalHost(h) === want, h)
  }
  for (const [p, want] of [
    ['/files/my doc.txt', '/files/my%20doc.txt'],
    ['/files/my%20doc%2Etxt', '/files/my%20doc.txt'],
    ['/files/résumé', '/files/r%C3%A9sum%C3%A9'],
    ['/a%7eb', '/a~b'],
    ['/a+b', '/a%2Bb'],
    ['/a%2Fb', '/a%2Fb'],
    ['/a%2fb/c%20d', '/a%2Fb/c%20d'],
    ['/a//b/', '/a//b/'],
  ]) {
    assert(canonicalPathV2(p) === want, p)
  }
  // §6.3: an escaped slash is not a separator
  assert(canonicalPathV2('/a%2Fb') !== canonicalPathV2('/a/b'), 'escaped slash')
  for (const bad of ['/a%2', '/a%zz/b', '/%']) {
    try {
      canonicalPathV2(bad)
      assert(false, `${bad} accepted`)
    } catch (e) {
      assert(e.code === 'invalid_path', `${bad}: ${e.message}`)
    }
  }
  const t = 1700000000000
  const a = sign('v1', 'GET', '/reports/daily', [['page', '2']], 'test_client', s1, t)
  const b = sign('v1', 'GET', '/reports/dailypage=2', [], 'test_client', s1, t)
  assert(a === b && a.startsWith('4eda283700863d35e4321a6a869a9ace5912d56c'), 'v1 collision')
  const hint = '1700000060000 47ea0cf07e4b0cd7fcdcbe4a599a23609b3846ee2ff329a97ace15c1b604acbf'
  const nonce = '00112233445566778899aabbccddeeff'
  assert(authenticateServerTime(hint, s1, 'test_client', nonce) === 1700000060000, 'hint')
  // the key is the decoded bytes, so the case the hex secret is stored in does not matter
  assert(
    authenticateServerTime(hint, s1.toUpperCase(), 'test_client', nonce) === 1700000060000,
    'hint key case',
  )
  assert(authenticateServerTime(hint, s1, 'other_client', nonce) === null, 'hint client')
  // a non-hex (v1 legacy) secret keys with its text
  const legacy = createHmac('sha256', Buffer.from('legacy-secret', 'utf8'))
    .update(`XNONCE-TIME\ntest_client\n${nonce}\n1700000060000`)
    .digest('hex')
  assert(serverTimeMac('legacy-secret', 'test_client', nonce, 1700000060000) === legacy, 'legacy hint key')
  // §3.6, §10 step 0: text that is not valid Unicode is refused with its input's code
  const lone = '\ud800'
  const illFormed = [
    ['invalid_param_key', { params: [[lone, 'v']] }],
    ['invalid_param_value', { params: [['k', lone]] }],
    ['invalid_path', { path: '/a' + lone }],
    ['invalid_method', { method: 'G' + lone }],
    ['invalid_client_id', { client: 'c' + lone }],
    ['invalid_host', { host: 'h' + lone }],
    ['invalid_nonce', { nonce: lone.repeat(32) }],
  ]
  for (const scheme of ['v1', 'v2']) {
    for (const [code, change] of illFormed) {
      if (scheme === 'v1' && (code === 'invalid_host' || code === 'invalid_nonce')) continue
      const a = {
        method: 'GET',
        path: '/a',
        params: [],
        client: 'c',
        nonce: '0'.repeat(32),
        host: 'h',
        ...change,
      }
      let got = 'accepted'
      try {
        sign(scheme, a.method, a.path, a.params, a.client, s1, 1700000000000, a.nonce, a.host)
      } catch (e) {
        got = e.code
      }
      assert(got === code, `${scheme} ${code}: ${got}`)
    }
  }
  // §8.3: a v1 ottoken is JSON; other members are allowed, NaN and Infinity are not JSON
  const v1 = '440f4ddd130532f9f07bbf798b8c273546093a086f0ebcd29e8279c14fb4a49b test_client-irb 1384300800123'
  for (const [member, ok] of [
    ['1', true],
    ['NaN', false],
    ['Infinity', false],
    ['-Infinity', false],
  ]) {
    const token = Buffer.from(`{"X-Nonce":"${v1}","n":${member}}`).toString('base64')
    let got
    try {
      got = ottokenDecode(token)
    } catch (e) {
      got = e.code
    }
    assert(got === (ok ? v1 : 'malformed_ottoken'), `ottoken with member ${member}: ${got}`)
  }
  // §10 step 0: native values are converted first, so a bad timestamp (not an integer in
  // range, §3.4) or param value is reported before the secret and a link's base URL.
  for (const [ts, params, code] of [
    [2 ** 53, [], 'invalid_timestamp'],
    [-1, [], 'invalid_timestamp'],
    [1.5, [], 'invalid_timestamp'],
    [1700000000000, [['k', null]], 'invalid_param_value'],
  ]) {
    for (const call of [
      () => sign('v1', 'GET', '/a', params, 'c', '', ts),
      () => link('v1', 'GET', '/a', params, 'c', '', 'ftp://h', ts),
    ]) {
      let got
      try {
        call()
      } catch (e) {
        got = e.code
      }
      assert(got === code, `timestamp ${ts}, params ${JSON.stringify(params)}: ${got}`)
    }
  }
  selfTestSignRequest(s1)
}

/** signRequest: §5.4 and §6.7 sent as raw requests, §11.1 step 4 and §6.5 worked by hand. */
function selfTestSignRequest(s1) {
  const t = 1700000000000
  const n = '00112233445566778899aabbccddeeff'
  const v2 = (sig) => `v2 test_client ${t} ${n} ${sig}`
  const req = (scheme, method, target, parts = {}) =>
    signRequest(scheme, method, target, parts.client ?? 'test_client', s1, {
      host: 'api.example.com',
      timestamp: t,
      nonce: n,
      ...parts,
    })
  // §5.4 em1-public-001: "hello phil" sent as hello+phil or hello%20phil
  const em1 = '440f4ddd130532f9f07bbf798b8c273546093a086f0ebcd29e8279c14fb4a49b test_client-irb 1384300800123'
  for (const q of ['password=hello+phil', 'password=hello%20phil']) {
    const got = req('v1', 'GET', `/controller1/action1?username=phil&${q}&opt1=this`, {
      client: 'test_client-irb',
      timestamp: 1384300800123,
    })
    assert(got === em1, `em1-public-001 as ${q}: ${got}`)
  }
  // §5.4 em1-public-005, a value holding & = ? escaped; then part of it as a form body
  const em5 = '943815dc5638a7fcc49cda4e612afb75b8e3a38af41704f4d80834c9f246c3b2 test_client 1384300804123'
  const q5 = 'b=123&c=abc&adg=hello+phil&rand=this+%26+this+%3D+a+question%3F'
  assert(
    req('v1', 'GET', `/some_controller/do?${q5}`, { timestamp: 1384300804123 }) === em5,
    'em1-public-005',
  )
  // (POST: §11.1 step 1 reads a form only on POST, PUT or PATCH)
  const got5 = req('v1', 'POST', '/some_controller/do?b=123&c=abc', {
    contentType: 'Application/X-WWW-Form-Urlencoded; charset=utf-8',
    body: Buffer.from('adg=hello+phil&rand=this+%26+this+%3D+a+question%3F'),
    timestamp: 1384300804123,
  })
  const em5Pairs = [
    ['b', '123'],
    ['c', 'abc'],
    ['adg', 'hello phil'],
    ['rand', 'this & this = a question?'],
  ]
  const want5 = sign('v1', 'POST', '/some_controller/do', em5Pairs, 'test_client', s1, 1384300804123)
  assert(got5 === want5, `em1-public-005 as a form: ${got5}`)
  // §6.7 v2-get-basic: any order, '+' or %20, empty segments, escaped unreserved, `get`
  const basic = v2('3011ec6c9e7ae2c23151250b27e5f741baf74e23ea58be88d8d78d6a6dd51619')
  for (const target of [
    '/controller1/action1?username=phil&password=hello%20phil&opt1=this',
    '/controller1/action1?opt1=this&&password=hello+phil&username=phil&',
    '/controller1/action1?%75sername=phil&password=hello+phil&opt1=th%69s',
  ]) {
    assert(req('v2', 'get', target) === basic, `v2-get-basic as ${target}`)
  }
  // §11: an absolute-form target's authority is the host (the Host header is ignored)
  const abs = 'https://api.example.com/controller1/action1?opt1=this&password=hello+phil&username=phil'
  assert(req('v2', 'GET', abs, { host: 'staging.example.com' }) === basic, 'absolute-form')
  const hp = v2('b303768328452e75511616e09b243c2c402aa05352803361fe9dae43d38f1591')
  assert(req('v2', 'GET', 'http://API.Example.com:443/admin/status', { host: 'x' }) === hp, 'host :443')
  // §6.7 v2-path-escaped-equivalent: an empty query adds no param
  const pe = v2('f54efe97851172e1778a89c46fc1eb2be8605a4b0c6d4778b94ca5c4a4f3164c')
  assert(req('v2', 'GET', '/files/my%20doc%2Etxt?') === pe, 'v2-path-escaped-equivalent')
  // §6.7 v2-json-body-with-query: a body that is no form is signed as the body
  const jb = v2('d1d306e036dd1d55b4e91008da2107be09b555b6228c3d11a9bba155a06367b1')
  for (const contentType of ['application/json', null, 'multipart/form-data', '\u00a0' + FORM_TYPE]) {
    const got = req('v2', 'POST', '/controller2/action1?opt1=this', {
      contentType,
      body: '{"opt3":"go for it"}',
    })
    assert(got === jb, `v2-json-body-with-query, ${contentType}: ${got}`)
  }
  // §11.1 step 4's example: v1 `?a=2&b=x+y` with form body `a=2&c=3` is a=2, b=x y, c=3; a
  // raw `ottoken` pair is left out
  const merged = req('v1', 'POST', '/f?a=2&b=x+y&ottoken=x', {
    contentType: ' application/x-www-form-urlencoded ',
    body: 'a=2&c=3',
  })
  const mergedWant = sign(
    'v1',
    'POST',
    '/f',
    [
      ['a', '2'],
      ['b', 'x y'],
      ['c', '3'],
    ],
    'test_client',
    s1,
    t,
  )
  assert(merged === mergedWant, `v1 query and form merged: ${merged}`)
  // v2 keeps every pair (a repeated one too); a key without '=' has the empty value
  const all = req('v2', 'POST', '/f?a=2&b=x+y&c', {
    contentType: FORM_TYPE,
    body: new TextEncoder().encode('a=2&c=3'),
  })
  const allPairs = [
    ['a', '2'],
    ['a', '2'],
    ['b', 'x y'],
    ['c', ''],
    ['c', '3'],
  ]
  assert(all === sign('v2', 'POST', '/f', allPairs, 'test_client', s1, t, n, 'api.example.com'), 'v2 pairs')
  // ';' separates nothing; a '?' after the first is query text; an empty path is '/'
  const semi = sign(
    'v2',
    'GET',
    '/',
    [
      ['a', '1;b=2'],
      ['c?d', 'e'],
    ],
    'test_client',
    s1,
    t,
    n,
    'h',
  )
  assert(req('v2', 'GET', '?a=1;b=2&c?d=e', { host: 'h' }) === semi, "';' and '?'")
  const refused = [
    ['v2', '/a?x=1#f', {}, 'invalid_path'],
    ['v1', '/a#f', {}, 'invalid_path'],
    ['v2', '/a?x=\udc00', {}, 'invalid_path'],
    ['v2', 'a/b?x=1', {}, 'invalid_path'],
    ['v2', '/a?ottoken=x', {}, 'invalid_param_key'],
    ['v2', '/a?ottoke%6E=x', {}, 'invalid_param_key'],
    ['v2', '/a?=x', {}, 'invalid_param_key'],
    ['v1', '/a?=x', {}, 'invalid_param_key'],
    ['v1', '/a?a=1&a=2', {}, 'invalid_param_key'],
    ['v1', '/a?a+b=1', {}, 'invalid_param_key'],
    ['v1', '/a?a%zz=1', {}, 'invalid_param_key'], // a v1 key is read raw
    ['v2', '/a?a%zz=1', {}, 'malformed_params'],
    ['v1', '/a?a=%zz', {}, 'malformed_params'],
    ['v2', '/a?a=%FF', {}, 'malformed_params'],
    ['v2', '/a', { contentType: FORM_TYPE, body: Buffer.from([0x61, 0x3d, 0xff]) }, 'malformed_params'],
    ['v1', '/a', { contentType: 'application/json', body: '{}' }, 'invalid_body'],
    ['v1', '/a', { contentType: 'multipart/form-data', body: 'a=1' }, 'invalid_body'],
    ['v2', '/a', { contentType: 'text/plain\ud800' }, 'invalid_body'],
  ]
  // §11.1 step 1: a non-empty form only on POST, PUT or PATCH; an empty one carries nothing
  for (const method of ['GET', 'delete', 'OPTIONS']) {
    let got = 'accepted'
    try {
      req('v2', method, '/a', { contentType: FORM_TYPE, body: 'a=1' })
    } catch (e) {
      got = e.code
    }
    assert(got === 'invalid_body', `a form on ${method}: ${got}`)
    req('v2', method, '/a', { contentType: FORM_TYPE, body: '' })
  }
  for (const [scheme, target, parts, code] of refused) {
    let got = 'accepted'
    try {
      req(scheme, 'POST', target, parts)
    } catch (e) {
      got = e.code
    }
    assert(got === code, `${scheme} ${JSON.stringify(target)}: ${got}, not ${code}`)
  }
  // v1: a key seen again with the same decoded value is one pair (§11.1 step 4)
  const once = sign(
    'v1',
    'GET',
    '/a',
    [
      ['a', 'x y'],
      ['b', ''],
    ],
    'test_client',
    s1,
    t,
  )
  assert(req('v1', 'GET', '/a?a=x+y&b&a=x%20y') === once, 'v1 key seen again')
}

function vectorFiles() {
  const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'vectors')
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => join(dir, f))
  const extra = (process.env.XNONCE_EXTRA_VECTORS || '').split(':').filter((p) => p)
  return files.concat(extra)
}

// Every field of the vector format (conformance/README.md): any other fails the case, as a
// misspelt expected field would otherwise go unchecked.
const FIELDS = new Set([
  'id',
  'scheme',
  'method',
  'path',
  'params',
  'client',
  'secret',
  'timestamp',
  'host',
  'body',
  'nonce',
  'base_url',
  'canonical',
  'x_nonce',
  'ottoken',
  'ottoken_query_value',
  'link',
  'error',
])

const REQUIRED_TEXT = ['id', 'method', 'path', 'client', 'secret']
const OPTIONAL_TEXT = [
  'scheme',
  'host',
  'body',
  'nonce',
  'base_url',
  'canonical',
  'x_nonce',
  'ottoken',
  'ottoken_query_value',
  'link',
  'error',
]
const OUTPUTS = ['canonical', 'x_nonce', 'ottoken', 'ottoken_query_value', 'link']

/**
 * Why a case is not well formed (conformance/README.md, Format), as the Rust checker refuses
 * it: a field of another JSON type (a number where a string belongs, a timestamp that is not
 * a non-negative integer, params that are not [key, value] string pairs), a `null` field, a
 * missing one, or an `error` case that also carries expected outputs. (JSON.parse reads
 * `1.0` as the integer 1: that one spelling of a float timestamp is not seen here.)
 */
function shapeProblem(c) {
  if (c === null || typeof c !== 'object' || Array.isArray(c)) return 'a case must be a JSON object'
  const has = (k) => Object.prototype.hasOwnProperty.call(c, k)
  const unknown = Object.keys(c)
    .filter((k) => !FIELDS.has(k))
    .sort()
  if (unknown.length) return `unknown field(s) ${JSON.stringify(unknown)}`
  const nulls = Object.keys(c)
    .filter((k) => c[k] === null)
    .sort()
  if (nulls.length) {
    return `field(s) ${JSON.stringify(nulls)} are null (no field may be null: leave it out)`
  }
  const missing = REQUIRED_TEXT.concat(['params', 'timestamp']).filter((k) => !has(k))
  if (missing.length) return `missing field(s) ${JSON.stringify(missing)}`
  for (const k of REQUIRED_TEXT.concat(OPTIONAL_TEXT)) {
    if (has(k) && typeof c[k] !== 'string') {
      return `field \`${k}\` must be a string, got ${JSON.stringify(c[k])}`
    }
  }
  const ts = c.timestamp
  if (!Number.isInteger(ts) || ts < 0 || ts > 2 ** 64 - 1) {
    return `field \`timestamp\` must be a non-negative integer (ms), got ${JSON.stringify(ts)}`
  }
  const pairs = c.params
  if (
    !Array.isArray(pairs) ||
    !pairs.every((p) => Array.isArray(p) && p.length === 2 && p.every((x) => typeof x === 'string'))
  ) {
    return `field \`params\` must be a list of [key, value] string pairs, got ${JSON.stringify(pairs)}`
  }
  const outputs = OUTPUTS.filter(has)
  if (has('error') && outputs.length) {
    return (
      `error case also carries outputs ${JSON.stringify(outputs)}` +
      ' (an error case has none: they would go unchecked)'
    )
  }
  return null
}

/** The checking rule of conformance/README.md; throws an Error naming the field. */
function checkCase(c) {
  const problem = shapeProblem(c)
  if (problem) throw new Error(problem)
  if (c.link !== undefined && c.base_url === undefined) {
    throw new Error('case has link but no base_url (only a link case makes one)')
  }
  const scheme = c.scheme ?? 'v1'
  // A case that describes no input fails whatever `error` it names (the checking rule).
  if (scheme !== 'v1' && scheme !== 'v2') {
    throw new Error(`case does not describe an input: unknown scheme ${JSON.stringify(scheme)}`)
  }
  if (scheme === 'v2' && c.nonce === undefined && c.error === undefined) {
    throw new Error('v2 case has no nonce (a checker never draws one)')
  }
  let body
  if (c.body != null) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(c.body) || c.body.length % 4) {
      throw new Error('body is not base64')
    }
    body = Buffer.from(c.body, 'base64')
  }
  let out
  try {
    out =
      c.base_url != null
        ? linkDetailed(
            scheme,
            c.method,
            c.path,
            c.params,
            c.client,
            c.secret,
            c.base_url,
            c.timestamp,
            c.nonce,
            c.host,
            body,
          )
        : signDetailed(
            scheme,
            c.method,
            c.path,
            c.params,
            c.client,
            c.secret,
            c.timestamp,
            c.nonce,
            c.host,
            body,
          )
  } catch (e) {
    if (!(e instanceof XNonceError)) throw e
    if (c.error === e.code) return
    throw new Error(`expected ${c.error ?? 'success'}, got error ${e.code}`)
  }
  if (c.error != null) throw new Error(`expected error ${c.error}, but signing succeeded`)
  if (c.x_nonce == null) throw new Error('case has neither x_nonce nor error')
  const got = { ...out, ottoken_query_value: ottokenQueryValue(out.ottoken) }
  const fields = ['canonical', 'x_nonce', 'ottoken', 'ottoken_query_value']
  if (c.base_url != null) fields.push('link')
  for (const f of fields) {
    if (c[f] != null && c[f] !== got[f]) {
      throw new Error(`${f}: expected ${JSON.stringify(c[f])}, got ${JSON.stringify(got[f])}`)
    }
  }
  if (formatHeader(parseHeader(out.x_nonce)) !== out.x_nonce || ottokenDecode(out.ottoken) !== out.x_nonce) {
    throw new Error('header/ottoken do not round-trip')
  }
}

/** Checks every vector file; prints one summary line; returns the exit status. */
export function runVectors(label = 'spec-js') {
  let passed = 0
  let failed = 0
  for (const file of vectorFiles()) {
    let cases
    try {
      cases = JSON.parse(readFileSync(file, 'utf8'))
    } catch (e) {
      failed += 1
      console.error(`FAIL ${file}: ${e.message}`)
      continue
    }
    if (!Array.isArray(cases)) {
      failed += 1
      console.error(`FAIL ${file}: not a JSON array of cases`)
      continue
    }
    for (const c of cases) {
      try {
        checkCase(c)
        passed += 1
      } catch (e) {
        failed += 1
        console.error(`FAIL ${c?.id} (${file}): ${e.message}`)
      }
    }
  }
  if (failed || !passed) {
    console.log(`${label}: ${passed} vectors passed, ${failed} failed`)
    return 1
  }
  console.log(`${label}: ${passed} vectors passed`)
  return 0
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  selfTest()
  process.exitCode = runVectors()
}
