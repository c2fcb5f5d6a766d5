'use strict'
// CommonJS entry point of the `xnonce` package: the native addon (built from ../core by
// `npm install`), its error classes, and the JavaScript helpers built on it. Entry points
// throw TypeError for arguments of the wrong JavaScript type (arguments.js).

const native = require('./xnonce.node')
const errors = require('./errors.js')
const { guard, guardClass } = require('./arguments.js')

errors.register(native)

const { xnonceFetch } = require('./fetch.js')
const { Requester } = require('./requester.js')
const { middleware, checkContinue } = require('./middleware.js')
const { redisReplayStore, SharedKeys } = require('./replay-store.js')

/** Every shared error code, in the Rust core's order. */
const ERROR_CODES = Object.freeze(native.errorCodes().map((c) => c.code))

module.exports = {
  sign: require('./sign.js').sign,
  signRequest: require('./sign.js').signRequest,
  signDetailed: require('./sign.js').signDetailed,
  link: guard(native.link),
  linkDetailed: require('./sign.js').linkDetailed,
  ottokenEncode: guard(native.ottokenEncode),
  ottokenDecode: guard(native.ottokenDecode),
  ottokenQueryValue: guard(native.ottokenQueryValue),
  parseHeader: guard(native.parseHeader),
  serverTimeFromAnswer: guard(native.serverTimeFromAnswer),
  errorCodes: native.errorCodes,
  Verifier: guardClass(native.Verifier),
  Requester,
  xnonceFetch,
  middleware,
  checkContinue,
  redisReplayStore,
  SharedKeys,
  ERROR_CODES,
  XNonceError: errors.XNonceError,
  InputError: errors.InputError,
  FormatError: errors.FormatError,
  AuthError: errors.AuthError,
  RouteError: errors.RouteError,
  UnavailableError: errors.UnavailableError,
}
