'use strict'
// `sign` with a fast path: when every text input is a string and the params are an array of
// [string, string] pairs (or absent), the inputs cross into the addon as ONE NUL-joined string
// (`signPacked`) instead of a dozen napi values, which is most of the cost of a call. Anything
// else — numbers, Maps, objects, NULs inside a field, text that is not well-formed (a lone
// surrogate) — takes the general native path, where params.rs converts values and says which
// field is wrong; every path ends in the same core call. The option keys are checked here
// first: with one that is not known, the native `sign` refuses it (naming it); otherwise the
// general path is `signKeysChecked`, which does not read the keys again. An option that is
// `null` is absent on every path.

const native = require('./xnonce.node')
const { asTypeError, guard, notOptions, refuseNotOptions } = require('./arguments.js')

const isText = (v) => typeof v === 'string'
/** The keys of SignOptions (src/sign.rs `OptionKeys for SignOptions`). */
const OPTION_KEYS = new Set(['timestamp', 'nonce', 'host', 'body'])

/**
 * True when `options` is absent, or an options object (not a Map, an array, a Date: see
 * arguments.js `notOptions`) whose every key (`for…in`: own and inherited enumerable ones, as
 * the native check reads them) is a SignOptions key. Otherwise `sign` refuses it: a TypeError
 * for an object that is no options object (`refuseNotOptions`), naming the key (an unknown
 * option is never ignored), or for a value that is no object at all.
 */
function knownKeys(options) {
  if (options === undefined || options === null) return true
  if (typeof options !== 'object') return false
  if (notOptions(options) !== undefined) return false
  for (const key in options) if (!OPTION_KEYS.has(key)) return false
  return true
}

/** The packed fields, or undefined when the fast path does not apply; `options` has only known keys. */
function pack(scheme, method, path, params, client, secret, options) {
  if (!isText(scheme) || !isText(method) || !isText(path) || !isText(client) || !isText(secret))
    return undefined
  let nonce = ''
  let host = ''
  if (options !== undefined && options !== null) {
    const n = options.nonce
    const h = options.host
    const t = options.timestamp
    if (n !== undefined && n !== null) {
      if (!isText(n)) return undefined
      nonce = '=' + n
    }
    if (h !== undefined && h !== null) {
      if (!isText(h)) return undefined
      host = '=' + h
    }
    if (t !== undefined && t !== null && typeof t !== 'number') return undefined
    // A body of another type: the general path's TypeError names the field (`… on
    // SignOptions.body`); signPacked's argument has no field name to give.
    const b = options.body
    if (b !== undefined && b !== null && !isText(b) && !(b instanceof Uint8Array || b instanceof ArrayBuffer))
      return undefined
  }
  let packed =
    scheme + '\0' + method + '\0' + path + '\0' + client + '\0' + secret + '\0' + nonce + '\0' + host
  if (params === undefined || params === null) return packed
  // A Proxy of an array may answer any `length` ("2"): the general path reads it as Array.from does.
  if (!Array.isArray(params) || typeof params.length !== 'number') return undefined
  for (let i = 0; i < params.length; i++) {
    const pair = params[i]
    if (!Array.isArray(pair) || pair.length !== 2) return undefined
    // Read once: a getter read twice could answer a string, then something else.
    const key = pair[0]
    const value = pair[1]
    if (!isText(key) || !isText(value)) return undefined
    packed += '\0' + key + '\0' + value
  }
  return packed
}

/** Signs a request and returns the `X-Nonce` header value (see native.d.ts `sign`). */
function sign(scheme, method, path, params, client, secret, options) {
  try {
    if (!knownKeys(options)) {
      refuseNotOptions(options, 'options')
      return native.sign(scheme, method, path, params, client, secret, options)
    }
    const packed = pack(scheme, method, path, params, client, secret, options)
    if (packed !== undefined) {
      const header = native.signPacked(
        packed,
        params === undefined || params === null ? 0 : params.length,
        options?.timestamp,
        options?.body,
      )
      if (header !== null) return header
    }
    // The keys are checked: the general path need not read them again through napi.
    return native.signKeysChecked(scheme, method, path, params, client, secret, options)
  } catch (error) {
    throw asTypeError(error, { name: 'sign', args: [scheme, method, path, params, client, secret, options] })
  }
}

/** Signs a raw request (see native.d.ts `signRequest`); index.js and fetch.js share it. */
const signRequest = guard(native.signRequest)
/**
 * `detailed` (the native signDetailed / linkDetailed) with the result's `canonical` — for
 * v1 it holds the secret — turned into a getter that is not enumerable: still read as
 * `.canonical`, but left out by console.log, util.inspect (even with `showHidden`, which
 * shows a getter as `[Getter]` without calling it), JSON.stringify and `{ ...spread }`.
 */
function hidingCanonical(detailed) {
  const guarded = guard(detailed)
  return {
    [detailed.name](...args) {
      const details = guarded(...args)
      const canonical = details.canonical
      Object.defineProperty(details, 'canonical', {
        get: () => canonical,
        enumerable: false,
        configurable: true,
      })
      return details
    },
  }[detailed.name]
}
const signDetailed = hidingCanonical(native.signDetailed)
const linkDetailed = hidingCanonical(native.linkDetailed)

/** Checks a signer's scheme, client and secret once (see native.d.ts `checkSigner`). */
const checkSigner = guard(native.checkSigner)

module.exports = { sign, signRequest, signDetailed, linkDetailed, checkSigner }
