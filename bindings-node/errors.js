'use strict'
// The JavaScript error classes. The native addon builds every xnonce error through the
// factory registered in index.js, so each failure is an instance of XNonceError (and of its
// family's subclass) with `.code`, `.family`, for stale requests `.serverTime` and
// `.serverTimeMac`, and for a request a Verifier refused `.answer` (the HTTP answer to send,
// built by the Rust core). Codes and families come from the Rust core (`errorCodes()`).
// xnonce-wasm's build (bindings-wasm/scripts/build.mjs) puts this file in that package too,
// without its first line and its exports: one definition of the classes for both packages.

/**
 * The HTTP answer to a refused request: `{ status, headers, body }`, header names lower-case.
 * @typedef {{ status: number, headers: Record<string, string>, body: string }} Answer
 */

/** Base class of every xnonce error. */
class XNonceError extends Error {
  /**
   * @param {string} code shared snake_case code (`invalid_secret`, `replayed`, ...)
   * @param {string} message human-readable text (never contains a secret)
   * @param {{ family?: string, serverTime?: number, serverTimeMac?: string, answer?: Answer, cause?: unknown }} [extra]
   */
  constructor(code, message, extra = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause })
    // The name as written below, not new.target.name: a minifier (a bundled web app's esbuild,
    // terser or webpack) renames the classes, and an InputError would be named 'e'. A subclass
    // of the caller's own keeps its name.
    this.name = NAME_OF.get(new.target) ?? new.target.name
    this.code = code
    this.family = extra.family ?? FAMILY_OF.get(code) ?? 'input'
    if (extra.serverTime !== undefined && extra.serverTime !== null) {
      this.serverTime = extra.serverTime
      this.serverTimeMac = extra.serverTimeMac
    }
    if (extra.answer !== undefined && extra.answer !== null) this.answer = extra.answer
  }
}

/** The caller passed something that cannot be signed (`invalid_*`). */
class InputError extends XNonceError {}
/** A header, ottoken or parameter string could not be parsed. */
class FormatError extends XNonceError {}
/** Authentication failed: unknown client, bad signature, stale, replayed. */
class AuthError extends XNonceError {}
/** The route's parameter rules refused the request. */
class RouteError extends XNonceError {}
/** A dependency (replay store, network) is unavailable; nothing was accepted. */
class UnavailableError extends XNonceError {}

/** Each class's name, as a string a minifier leaves alone. */
const NAME_OF = new Map([
  [XNonceError, 'XNonceError'],
  [InputError, 'InputError'],
  [FormatError, 'FormatError'],
  [AuthError, 'AuthError'],
  [RouteError, 'RouteError'],
  [UnavailableError, 'UnavailableError'],
])

const CLASS_OF_FAMILY = new Map([
  ['input', InputError],
  ['format', FormatError],
  ['auth', AuthError],
  ['route', RouteError],
  ['unavailable', UnavailableError],
])

/** code -> family, filled from the native core by `register`. */
const FAMILY_OF = new Map()

/**
 * Builds the error for a code (the one factory the addon calls).
 * @returns {XNonceError}
 */
function createError(code, family, message, serverTime, serverTimeMac, answer) {
  const Class = CLASS_OF_FAMILY.get(family) ?? XNonceError
  return new Class(code, message, { family, serverTime, serverTimeMac, answer })
}

/** Wires the addon's error factory and code table (called once by index.js). */
function register(native) {
  for (const { code, family } of native.errorCodes()) FAMILY_OF.set(code, family)
  native.setErrorFactory(createError)
}

module.exports = {
  XNonceError,
  InputError,
  FormatError,
  AuthError,
  RouteError,
  UnavailableError,
  createError,
  register,
}
