'use strict'
// Every vector of conformance/vectors plus XNONCE_EXTRA_VECTORS, checked through the binding
// with the rule of conformance/src/check.rs.

const test = require('node:test')
const assert = require('node:assert/strict')
const xnonce = require('..')
const { loadVectors } = require('./vectors.js')

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

/** Runs one case; returns a failure description or null. */
function check(v) {
  const unknown = Object.keys(v).filter((k) => !FIELDS.has(k))
  if (unknown.length > 0) return `unknown field(s) ${JSON.stringify(unknown.sort())}`
  // Only a case with a base URL is linked: another case's `link` would go unchecked.
  if (v.link !== undefined && v.base_url === undefined) return 'case has link but no base_url'
  const scheme = v.scheme ?? 'v1'
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

test('every vector (conformance/vectors + XNONCE_EXTRA_VECTORS)', () => {
  const cases = loadVectors()
  const failures = []
  for (const { file, v } of cases) {
    const failure = check(v)
    if (failure !== null) failures.push(`${file} ${v.id}: ${failure}`)
  }
  assert.deepEqual(failures, [])
  assert.ok(cases.length > 0, 'no vector ran')
  console.log(`node: ${cases.length} vectors passed`)
})
