'use strict'
// serverTimeFromAnswer (PROTOCOL §12, *Client side*), with hints computed here, independently
// of the package, with node:crypto.

const test = require('node:test')
const assert = require('node:assert/strict')
const { createHmac } = require('node:crypto')
const xnonce = require('..')

/**
 * The hint PROTOCOL §12 defines, computed with node:crypto: HMAC-SHA256 keyed with the 32
 * bytes of a 64-hex secret, else the secret's UTF-8 text, over
 * "XNONCE-TIME\n<client>\n<request id>\n<ms>".
 */
function hintFor(secret, client, requestId, ms) {
  const key = /^[0-9a-fA-F]{64}$/.test(secret) ? Buffer.from(secret, 'hex') : Buffer.from(secret, 'utf8')
  const mac = createHmac('sha256', key).update(`XNONCE-TIME\n${client}\n${requestId}\n${ms}`).digest('hex')
  return `${ms} ${mac}`
}

test('serverTimeFromAnswer: the time of an authentic stale answer for the request sent, else null', () => {
  // PROTOCOL §12's example: the request of v2-get-basic rejected at 1700000060000.
  const key = '20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd'
  const nonce = '00112233445566778899aabbccddeeff'
  const v2 = `v2 test_client 1700000000000 ${nonce} 3011ec6c9e7ae2c23151250b27e5f741baf74e23ea58be88d8d78d6a6dd51619`
  const example = '1700000060000 47ea0cf07e4b0cd7fcdcbe4a599a23609b3846ee2ff329a97ace15c1b604acbf'
  assert.equal(
    hintFor(key, 'test_client', nonce, 1700000060000),
    example,
    'node:crypto computes the spec example',
  )
  const { serverTimeFromAnswer } = xnonce
  assert.equal(serverTimeFromAnswer(401, example, v2, key), 1700000060000)
  // A 64-hex secret keys with its bytes: upper case gives the same hint.
  assert.equal(serverTimeFromAnswer(401, example, v2, key.toUpperCase()), 1700000060000)
  // v1: the request id is the token; a legacy text secret keys with its UTF-8 text.
  const legacy = 'correct-horse-battery-é'
  const token = xnonce.signDetailed('v1', 'GET', '/a/b', [], 'svc', legacy, {
    timestamp: 1384300800123,
  }).xNonce
  const v1Hint = hintFor(legacy, 'svc', token.split(' ')[0], 1384300900000)
  assert.equal(serverTimeFromAnswer(401, v1Hint, token, legacy), 1384300900000)
  assert.equal(serverTimeFromAnswer(401, hintFor(legacy, 'svc', nonce, 1384300900000), token, legacy), null)
  const legacyHex = hintFor(key, 'svc', token.split(' ')[0], 1384300900000)
  assert.equal(serverTimeFromAnswer(401, legacyHex, token, legacy), null, 'made with another secret')
  for (const [sent, secret, own] of [
    [v2, key, example],
    [token, legacy, v1Hint],
  ]) {
    for (const status of [200, 400, 403, 409, 503, 401.5, 65937, -401, NaN])
      assert.equal(serverTimeFromAnswer(status, own, sent, secret), null, `status ${status}`)
    assert.equal(serverTimeFromAnswer(401, own, sent, secret === key ? 'ee'.repeat(32) : 'another'), null)
    const other =
      sent === v2 ? sent.replace(nonce, 'ff'.repeat(16)) : (sent[0] === 'a' ? 'b' : 'a') + sent.slice(1)
    assert.equal(serverTimeFromAnswer(401, own, other, secret), null, 'another request')
    assert.equal(serverTimeFromAnswer(401, own, sent.replace(/ (test_client|svc) /, ' other '), secret), null)
    for (const hint of [null, undefined, '', own.toUpperCase(), `${own} `, own.replace(/^\d+/, (t) => t + 1)])
      assert.equal(serverTimeFromAnswer(401, hint, sent, secret), null, String(hint))
    assert.equal(serverTimeFromAnswer(401, own, 'not a header', secret), null)
    assert.equal(serverTimeFromAnswer(401, own, '\ud800', secret), null)
  }
  // Arguments: of the wrong type a TypeError naming it; a secret no request could use is
  // invalid_secret, never shown.
  for (const [args, argument] of [
    [['401', example, v2, key], 'status'],
    [[401, 5, v2, key], 'hint'],
    [[401, example, null, key], 'sent'],
    [[401, example, v2, 7], 'secret'],
  ]) {
    assert.throws(
      () => serverTimeFromAnswer(...args),
      (e) => e instanceof TypeError && e.message.endsWith(`(argument "${argument}")`),
      argument,
    )
  }
  assert.throws(
    () => serverTimeFromAnswer(401, example, v2, ''),
    (e) => e instanceof xnonce.XNonceError && e.code === 'invalid_secret',
  )
  assert.throws(
    () => serverTimeFromAnswer(401, example, v2, 'secret\ud800text'),
    (e) => e.code === 'invalid_secret' && !e.message.includes('secret\ud800text'),
  )
})
