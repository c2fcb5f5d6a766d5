// The error classes, as the Node package `xnonce` has them (bindings-node/errors.js): every
// xnonce failure is an instance of XNonceError and of its family's subclass, with the shared
// snake_case `.code`, its `.family`, and core's message without the code. The module's
// `setErrorFactory` receives `createError` (build.mjs's entry modules register it before any
// other call), so src/error.rs builds each error through it. build.mjs appends the module
// export (ESM for web/, CommonJS for node/).

/** code -> family, filled from the module's `errorCodes()` by `registerErrors`. */
const FAMILY_OF = new Map();

/** Base class of every xnonce error. */
class XNonceError extends Error {
  /**
   * @param {string} code shared snake_case code (`invalid_secret`, `malformed_header`, ...)
   * @param {string} message human-readable text (never contains a secret)
   * @param {{ family?: string, cause?: unknown }} [extra]
   */
  constructor(code, message, extra = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = new.target.name;
    this.code = code;
    this.family = extra.family ?? FAMILY_OF.get(code) ?? "input";
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

const CLASS_OF_FAMILY = new Map([
  ["input", InputError],
  ["format", FormatError],
  ["auth", AuthError],
  ["route", RouteError],
  ["unavailable", UnavailableError],
]);

/** Builds the error for a code (the one factory the module calls). */
function createError(code, family, message) {
  const Class = CLASS_OF_FAMILY.get(family) ?? XNonceError;
  return new Class(code, message, { family });
}

/** Registers `createError` with the module (its glue, once instantiated) and fills FAMILY_OF. */
function registerErrors(glue) {
  for (const { code, family } of glue.errorCodes()) FAMILY_OF.set(code, family);
  glue.setErrorFactory(createError);
}
