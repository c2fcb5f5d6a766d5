'use strict'
// Wrong-typed arguments. napi-rs reports a JS value it cannot convert to the declared type (a
// number passed as the secret, a string as `timestamp`) as a plain Error whose `.code` is a
// napi status such as `StringExpected`. JavaScript's own functions throw a TypeError for that,
// so the package's entry points go through `guard` / `guardClass`, which turn exactly those
// errors into a TypeError (same message and `.code`, the original as `.cause`). Errors about
// the values themselves stay XNonceErrors with the shared codes (errors.js).

/** napi statuses that mean "this argument has the wrong JavaScript type". */
const TYPE_STATUSES = new Set([
  'InvalidArg',
  'ObjectExpected',
  'StringExpected',
  'NameExpected',
  'FunctionExpected',
  'NumberExpected',
  'BooleanExpected',
  'ArrayExpected',
  'BigintExpected',
  'DateExpected',
  'ArrayBufferExpected',
  'DetachableArraybufferExpected',
])

/** The TypeError for a napi conversion failure; any other value unchanged. */
function asTypeError(error) {
  if (!(error instanceof Error) || error instanceof TypeError || !TYPE_STATUSES.has(error.code)) return error
  const typeError = new TypeError(error.message, { cause: error })
  typeError.code = error.code
  return typeError
}

/**
 * `fn` (a function or a method: `this` is passed on) with napi conversion failures thrown as
 * TypeError, or, with `rejects`, returned as a rejected Promise, as a Promise-returning
 * function should.
 */
function guard(fn, { rejects = false } = {}) {
  return {
    [fn.name](...args) {
      try {
        return fn.apply(this, args)
      } catch (error) {
        if (rejects) return Promise.reject(asTypeError(error))
        throw asTypeError(error)
      }
    },
  }[fn.name]
}

/**
 * A subclass of the native class whose constructor and methods throw TypeError for napi
 * conversion failures; methods named in `asyncMethods` reject instead (see `guard`).
 */
function guardClass(NativeClass, asyncMethods = []) {
  const Guarded = {
    [NativeClass.name]: class extends NativeClass {
      constructor(...args) {
        try {
          super(...args)
        } catch (error) {
          throw asTypeError(error)
        }
      }
    },
  }[NativeClass.name]
  for (const name of Object.getOwnPropertyNames(NativeClass.prototype)) {
    // Read the descriptor: a getter (`clockOffsetMs`) must not run on the prototype itself.
    const method = Object.getOwnPropertyDescriptor(NativeClass.prototype, name).value
    if (name === 'constructor' || typeof method !== 'function') continue
    const guarded = guard(method, { rejects: asyncMethods.includes(name) })
    Object.defineProperty(Guarded.prototype, name, { value: guarded, writable: true, configurable: true })
  }
  return Guarded
}

/**
 * Throws for the first key of an options object (its enumerable string keys, own or inherited,
 * as `for…in` sees them) that is not in `known`: a misspelt option is refused, never ignored.
 * The TypeError (`ERR_INVALID_ARG_VALUE`) is the native options' (src/options.rs).
 */
function refuseUnknown(options, argument, known) {
  // A Map, a Set or an array holds no option keys of its own: read as options, it would be
  // used without them, silently.
  if (typeof options?.[Symbol.iterator] === 'function') {
    const error = new TypeError(
      `The argument "${argument}" is invalid: an object of options, not an iterable (a Map, a Set, an array)`,
    )
    error.code = 'ERR_INVALID_ARG_VALUE'
    throw error
  }
  for (const key in options) {
    if (!known.includes(key)) {
      const error = new TypeError(
        `The argument "${argument}" is invalid: unknown option ${JSON.stringify(key)} (known: ${known.join(', ')})`,
      )
      error.code = 'ERR_INVALID_ARG_VALUE'
      throw error
    }
  }
}

module.exports = { asTypeError, guard, guardClass, refuseUnknown }
