'use strict'
// CommonJS entry point of the `xnonce` package: the native addon (built from ../core by
// `npm install`), its error classes, and the JavaScript helpers built on it.

const native = require('./xnonce.node')
const errors = require('./errors.js')

errors.register(native)

const { xnonceFetch } = require('./fetch.js')

/** Every shared error code, in the Rust core's order. */
const ERROR_CODES = Object.freeze(native.errorCodes().map((c) => c.code))

module.exports = {
  sign: require('./sign.js').sign,
  signDetailed: native.signDetailed,
  link: native.link,
  linkDetailed: native.linkDetailed,
  signRequest: native.signRequest,
  ottokenEncode: native.ottokenEncode,
  ottokenDecode: native.ottokenDecode,
  ottokenQueryValue: native.ottokenQueryValue,
  parseHeader: native.parseHeader,
  errorCodes: native.errorCodes,
  Verifier: native.Verifier,
  Requester: native.Requester,
  xnonceFetch,
  ERROR_CODES,
  XNonceError: errors.XNonceError,
  InputError: errors.InputError,
  FormatError: errors.FormatError,
  AuthError: errors.AuthError,
  RouteError: errors.RouteError,
  UnavailableError: errors.UnavailableError,
}
