'use strict'
// Wrong-typed arguments. napi-rs reports a JS value it cannot convert to the declared type (a
// number passed as the secret, a string as `timestamp`) as a plain Error whose `.code` is a
// napi status such as `StringExpected`. JavaScript's own functions throw a TypeError for that,
// so the package's entry points go through `guard` / `guardClass`, which turn exactly those
// errors into a TypeError (same `.code`, the original as `.cause`), naming the positional
// argument that napi refused: napi's own message names the types, not which argument
// (`Expect value to be String, but received Number (argument "secret")`). Errors about the
// values themselves stay XNonceErrors with the shared codes (errors.js).

const { types } = require('node:util')

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

const text = (v) => typeof v === 'string'
const optionalText = (v) => v === undefined || v === null || typeof v === 'string'
const anything = () => true
const number = (v) => typeof v === 'number'
/** A time in ms, optional: a number or a bigint, `undefined` or `null`. */
const millis = (v) => v === undefined || v === null || typeof v === 'number' || typeof v === 'bigint'
/** An options object: napi takes `undefined`, `null` or an object (not a function). */
const options = (v) => v === undefined || v === null || typeof v === 'object'

/**
 * The positional arguments of each entry point, as native.d.ts declares them: a name and
 * whether a value is of a JavaScript type napi takes for it (`anything`: checked by the
 * binding itself, in its own words). `Class` is a constructor, `Class#method` a method.
 */
const sign7 = [
  ['scheme', text],
  ['method', text],
  ['path', text],
  ['params', anything],
  ['client', text],
  ['secret', text],
]
const SIGNATURES = {
  sign: [...sign7, ['options', options]],
  signDetailed: [...sign7, ['options', options]],
  signKeysChecked: [...sign7, ['options', options]],
  link: [...sign7, ['baseUrl', text], ['options', options]],
  linkDetailed: [...sign7, ['baseUrl', text], ['options', options]],
  signRequest: [
    ['scheme', text],
    ['method', text],
    ['target', text],
    ['client', text],
    ['secret', text],
    ['parts', options],
  ],
  checkSigner: [
    ['scheme', text],
    ['client', text],
    ['secret', text],
  ],
  checkClock: [['options', options]],
  serverTimeFromAnswer: [
    ['status', number],
    ['hint', optionalText],
    ['sent', text],
    ['secret', text],
  ],
  ottokenEncode: [['header', text]],
  ottokenDecode: [['token', text]],
  ottokenQueryValue: [['token', text]],
  parseHeader: [['value', text]],
  Verifier: [
    ['secrets', anything],
    ['options', options],
  ],
  'Verifier#setSecrets': [['secrets', anything]],
  'Verifier#reconfigure': [
    ['options', options],
    ['now', millis],
  ],
  'Verifier#verify': [
    ['method', text],
    ['target', text],
    ['options', options],
  ],
  'Verifier#verifyOnce': [
    ['method', text],
    ['target', text],
    ['options', options],
  ],
  Requester: [
    ['server', text],
    ['client', text],
    ['secret', text],
    ['options', options],
  ],
  'Requester#makeRequest': [
    ['method', text],
    ['params', anything],
    ['path', text],
    ['controller', optionalText],
    ['options', options],
  ],
  SharedKeys: [['prefix', optionalText]],
  'SharedKeys#key': [['replayKey', text]],
}

/**
 * The TypeError for a napi conversion failure; any other value unchanged. `call`: the entry
 * point's name (a key of SIGNATURES) and its arguments, to name the positional argument napi
 * refused — the first that is not of a type its parameter takes (napi checks them in order).
 * A message that names an option's field already (`… on VerifyOptions.xNonce`) is kept.
 */
function asTypeError(error, call) {
  if (!(error instanceof Error) || error instanceof TypeError || !TYPE_STATUSES.has(error.code)) return error
  let message = error.message
  const signature = call && SIGNATURES[call.name]
  if (signature && !/ on [A-Za-z]+\.[A-Za-z]+$/.test(message)) {
    const refused = signature.find(([, takes], i) => !takes(call.args[i]))
    if (refused) message += ` (argument "${refused[0]}")`
  }
  const typeError = new TypeError(message, { cause: error })
  typeError.code = error.code
  return typeError
}

/**
 * `fn` (a function or a method: `this` is passed on) with napi conversion failures thrown as
 * TypeError, or, with `rejects`, returned as a rejected Promise, as a Promise-returning
 * function should.
 */
function guard(fn, { rejects = false, name = fn.name } = {}) {
  return {
    [fn.name](...args) {
      try {
        refuseNotOptionsArgs(name, args)
        return fn.apply(this, args)
      } catch (error) {
        const thrown = asTypeError(error, { name, args })
        if (rejects) return Promise.reject(thrown)
        throw thrown
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
          refuseNotOptionsArgs(NativeClass.name, args)
          super(...args)
        } catch (error) {
          throw asTypeError(error, { name: NativeClass.name, args })
        }
      }
    },
  }[NativeClass.name]
  for (const name of Object.getOwnPropertyNames(NativeClass.prototype)) {
    // Read the descriptor: a getter (`clockOffsetMs`) must not run on the prototype itself.
    const method = Object.getOwnPropertyDescriptor(NativeClass.prototype, name).value
    if (name === 'constructor' || typeof method !== 'function') continue
    const guarded = guard(method, {
      rejects: asyncMethods.includes(name),
      name: `${NativeClass.name}#${name}`,
    })
    Object.defineProperty(Guarded.prototype, name, { value: guarded, writable: true, configurable: true })
  }
  return Guarded
}

/**
 * Built-in objects whose content lives in internal slots, not in keys: read as options, each
 * would be read as no options at all, silently. Known by those slots (`util.types`), so of any
 * realm and whatever their prototype or `Symbol.toStringTag` says; a class instance, or an
 * object made by `Object.create`, is an options object like an object literal.
 */
const BUILT_INS = [
  [types.isDate, 'a Date'],
  [types.isRegExp, 'a RegExp'],
  [types.isBoxedPrimitive, 'a boxed primitive'],
  [types.isPromise, 'a Promise'],
  [types.isNativeError, 'an Error'],
  [types.isAnyArrayBuffer, 'an ArrayBuffer'],
  [types.isDataView, 'a DataView'],
  [types.isWeakMap, 'a WeakMap'],
  [types.isWeakSet, 'a WeakSet'],
]

/**
 * Why the object `options` cannot be an options object, or undefined when it can: an iterable
 * (a Map, a Set, an array, a typed array) or one of the BUILT_INS holds no option keys of its
 * own (the same words as src/options.rs for an iterable).
 */
function notOptions(options) {
  if (options === null || typeof options !== 'object') return undefined
  if (typeof options[Symbol.iterator] === 'function')
    return 'an object of options, not an iterable (a Map, a Set, an array)'
  // An object literal (this realm's), the common case: no built-in, without asking each test.
  const prototype = Object.getPrototypeOf(options)
  if (prototype === Object.prototype || prototype === null) return undefined
  const builtIn = BUILT_INS.find(([is]) => is(options))
  return builtIn && `an object of options, not ${builtIn[1]}`
}

/**
 * Throws the TypeError (`ERR_INVALID_ARG_VALUE`) for an options object that is not one (see
 * `notOptions`); any other value is left to the caller (`undefined`, `null`, a wrong type).
 * Every options argument of the package goes through it: the native entry points' (in
 * `guard` / `guardClass`, before napi reads the object) and the JavaScript ones'
 * (`refuseUnknown`).
 */
function refuseNotOptions(options, argument) {
  const why = notOptions(options)
  if (why === undefined) return
  const error = new TypeError(`The argument "${argument}" is invalid: ${why}`)
  error.code = 'ERR_INVALID_ARG_VALUE'
  throw error
}

/** `args`' options arguments (those SIGNATURES[name] declares as `options`), checked. */
function refuseNotOptionsArgs(name, args) {
  const signature = SIGNATURES[name]
  if (signature === undefined) return
  signature.forEach(([argument, takes], i) => {
    if (takes === options) refuseNotOptions(args[i], argument)
  })
}

/**
 * Throws for the first key of an options object (its enumerable string keys, own or inherited,
 * as `for…in` sees them) that is not in `known`: a misspelt option is refused, never ignored.
 * The TypeError (`ERR_INVALID_ARG_VALUE`) is the native options' (src/options.rs).
 */
function refuseUnknown(options, argument, known) {
  // A Map, a Set, an array or a Date holds no option keys of its own: read as options, it
  // would be used without them, silently.
  refuseNotOptions(options, argument)
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

module.exports = { asTypeError, guard, guardClass, notOptions, refuseNotOptions, refuseUnknown, SIGNATURES }
