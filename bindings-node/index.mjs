// ES module entry point of the `xnonce` package: the same objects as the CommonJS entry.
import { createRequire } from 'node:module'

const xnonce = createRequire(import.meta.url)('./index.js')

export const {
  sign,
  signDetailed,
  link,
  linkDetailed,
  signRequest,
  ottokenEncode,
  ottokenDecode,
  ottokenQueryValue,
  parseHeader,
  serverTimeFromAnswer,
  errorCodes,
  Verifier,
  Requester,
  xnonceFetch,
  middleware,
  checkContinue,
  redisReplayStore,
  SharedKeys,
  ERROR_CODES,
  XNonceError,
  InputError,
  FormatError,
  AuthError,
  RouteError,
  UnavailableError,
} = xnonce
export default xnonce
