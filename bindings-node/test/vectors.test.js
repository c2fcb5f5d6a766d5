'use strict'
// Every vector of conformance/vectors plus XNONCE_EXTRA_VECTORS, checked through the binding
// with the rule of conformance/src/check.rs.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const xnonce = require('..')
const { loadFile, loadVectors } = require('./vectors.js')

// Every field of the vector format (conformance/README.md): any other fails the case, as a
// misspelt expected field (`ottokn`) would otherwise go unchecked.
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

const OUTPUTS = ['canonical', 'x_nonce', 'ottoken', 'ottoken_query_value', 'link']
const REQUIRED_TEXT = ['id', 'method', 'path', 'client', 'secret']
const OPTIONAL_TEXT = ['scheme', 'host', 'body', 'nonce', 'base_url', 'error', ...OUTPUTS]

/**
 * Why a case is not well formed, as the Rust checker (conformance/src/vector.rs) refuses it:
 * another JSON type than the format's (a number param value, a float timestamp), a `null` or
 * missing field, or an `error` case that also carries expected outputs (never compared).
 * JSON.parse reads `1.0` as the integer 1: that spelling of a float timestamp is not seen.
 */
function shapeProblem(v) {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'a case must be a JSON object'
  const has = (k) => Object.prototype.hasOwnProperty.call(v, k)
  const unknown = Object.keys(v).filter((k) => !FIELDS.has(k))
  if (unknown.length > 0) return `unknown field(s) ${JSON.stringify(unknown.sort())}`
  const nulls = Object.keys(v).filter((k) => v[k] === null)
  if (nulls.length > 0) return `field(s) ${JSON.stringify(nulls.sort())} are null (leave a field out instead)`
  const missing = [...REQUIRED_TEXT, 'params', 'timestamp'].filter((k) => !has(k))
  if (missing.length > 0) return `missing field(s) ${JSON.stringify(missing)}`
  for (const k of [...REQUIRED_TEXT, ...OPTIONAL_TEXT]) {
    if (has(k) && typeof v[k] !== 'string')
      return `field \`${k}\` must be a string, got ${JSON.stringify(v[k])}`
  }
  const ts = v.timestamp
  if (!Number.isInteger(ts) || ts < 0 || ts > 2 ** 64 - 1) {
    return `field \`timestamp\` must be a non-negative integer (ms), got ${JSON.stringify(ts)}`
  }
  const pairs = v.params
  const isPair = (p) => Array.isArray(p) && p.length === 2 && p.every((x) => typeof x === 'string')
  if (!Array.isArray(pairs) || !pairs.every(isPair)) {
    return `field \`params\` must be a list of [key, value] string pairs, got ${JSON.stringify(pairs)}`
  }
  const outputs = OUTPUTS.filter(has)
  if (has('error') && outputs.length > 0) {
    return `error case also carries outputs ${JSON.stringify(outputs)} (they would go unchecked)`
  }
  return null
}

/** Runs one case; returns a failure description or null. */
function check(v) {
  const problem = shapeProblem(v)
  if (problem !== null) return problem
  // Only a case with a base URL is linked: another case's `link` would go unchecked.
  if (v.link !== undefined && v.base_url === undefined) return 'case has link but no base_url'
  const scheme = v.scheme ?? 'v1'
  // A case that describes no input fails whatever `error` it names; a checker never draws a
  // nonce (conformance/README.md, the checking rule).
  if (scheme !== 'v1' && scheme !== 'v2') return `case does not describe an input: unknown scheme ${scheme}`
  if (scheme === 'v2' && v.nonce === undefined && v.error === undefined) return 'v2 case has no nonce'
  if (v.body !== undefined && (!/^[A-Za-z0-9+/]*={0,2}$/.test(v.body) || v.body.length % 4 !== 0)) {
    return 'case does not describe an input: body is not base64'
  }
  const options = { timestamp: v.timestamp }
  if (v.nonce !== undefined) options.nonce = v.nonce
  if (v.host !== undefined) options.host = v.host
  if (v.body !== undefined) options.body = Buffer.from(v.body, 'base64')
  let out
  try {
    out =
      v.base_url !== undefined
        ? xnonce.linkDetailed(scheme, v.method, v.path, v.params, v.client, v.secret, v.base_url, options)
        : xnonce.signDetailed(scheme, v.method, v.path, v.params, v.client, v.secret, options)
  } catch (e) {
    if (!(e instanceof xnonce.XNonceError)) return `threw a non-XNonceError: ${e}`
    if (v.base_url === undefined) {
      // `sign` (with its packed fast path) must fail the same way.
      try {
        xnonce.sign(scheme, v.method, v.path, v.params, v.client, v.secret, options)
        return `signDetailed failed with ${e.code} but sign succeeded`
      } catch (e2) {
        if (e2.code !== e.code) return `signDetailed failed with ${e.code}, sign with ${e2.code}`
      }
    }
    if (v.error === undefined) return `signing failed: ${e.code}: ${e.message}`
    return e.code === v.error ? null : `expected error ${v.error}, got ${e.code}`
  }
  if (v.error !== undefined) return `expected error ${v.error}, but signing succeeded`
  if (v.base_url === undefined) {
    // `sign` (with its packed fast path) must give exactly signDetailed's header.
    const header = xnonce.sign(scheme, v.method, v.path, v.params, v.client, v.secret, options)
    if (header !== out.xNonce) return `sign gave ${header}, signDetailed ${out.xNonce}`
  }
  if (v.x_nonce === undefined) return 'case has neither x_nonce nor error'
  const fields = [
    ['canonical', v.canonical, out.canonical],
    ['x_nonce', v.x_nonce, out.xNonce],
    ['ottoken', v.ottoken, out.ottoken],
    ['ottoken_query_value', v.ottoken_query_value, xnonce.ottokenQueryValue(out.ottoken)],
    ['link', v.link, out.url],
  ]
  for (const [name, expected, got] of fields) {
    if (expected !== undefined && expected !== got) {
      return `${name}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}`
    }
  }
  const header = xnonce.parseHeader(out.xNonce)
  if (header.scheme !== scheme || header.client !== v.client || header.timestamp !== v.timestamp) {
    return 'parseHeader does not give back scheme, client and timestamp'
  }
  if (xnonce.ottokenDecode(out.ottoken) !== out.xNonce || xnonce.ottokenEncode(out.xNonce) !== out.ottoken) {
    return 'header/ottoken do not round-trip'
  }
  return null
}

test('a vector file that is not a JSON array of cases is refused by name', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xnonce-vectors-'))
  try {
    for (const [name, text, why] of [
      ['object.json', '{"id": "x"}', /not a JSON array of cases/],
      ['number.json', '5', /not a JSON array of cases/],
      ['broken.json', '[{"id": ', /JSON/],
    ]) {
      const file = path.join(dir, name)
      fs.writeFileSync(file, text)
      assert.throws(
        () => loadFile(file),
        (e) => e.message.includes(file) && why.test(e.message),
      )
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('every vector (conformance/vectors + XNONCE_EXTRA_VECTORS)', () => {
  const cases = loadVectors()
  const failures = []
  for (const { file, v } of cases) {
    const failure = check(v)
    if (failure !== null) failures.push(`${file} ${v?.id}: ${failure}`)
  }
  assert.deepEqual(failures, [])
  assert.ok(cases.length > 0, 'no vector ran')
  console.log(`node: ${cases.length} vectors passed`)
})
