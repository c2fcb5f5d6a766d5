'use strict'
// Requester: the native class (errors of argument types as TypeError, arguments.js) whose
// `makeRequest` serialises `options.json` here, with JSON.stringify, and hands the native
// method the text. JSON.stringify is what JavaScript means by "a JSON body" (toJSON, Dates,
// undefined properties left out) and it refuses what cannot be JSON — a cycle or a bigint is a
// TypeError, as in any other JSON.stringify call — so no JS value is ever walked recursively
// in native code (where a cycle or very deep nesting would overflow the stack and kill the
// process). JSON nested too deeply to send (more than 127 levels) is an `invalid_body` error.

const native = require('./xnonce.node')
const { asTypeError, guardClass } = require('./arguments.js')
const { InputError } = require('./errors.js')

const TOO_DEEP = 'options.json nests too deeply to be sent (at most 127 levels)'

/** The text of `options.json`, or undefined when there is none (`undefined` or `null`). */
function jsonText(options) {
  // Options that are not an object: the native method throws the TypeError.
  if (options === null || typeof options !== 'object') return undefined
  const json = options.json
  if (json === undefined || json === null) return undefined
  let text
  try {
    text = JSON.stringify(json)
  } catch (error) {
    // JSON.stringify runs out of stack on very deep (or endlessly nested toJSON) values.
    if (error instanceof RangeError && /call stack/i.test(error.message)) {
      throw new InputError('invalid_body', TOO_DEEP, { cause: error })
    }
    throw error
  }
  if (text === undefined) {
    throw new TypeError(`options.json is not serialisable as JSON (JSON.stringify of a ${typeof json})`)
  }
  return text
}

/** `options.signal`: an AbortSignal, or undefined when there is none (`undefined` or `null`). */
function abortSignal(options) {
  if (options === null || typeof options !== 'object') return undefined
  const signal = options.signal
  if (signal === undefined || signal === null) return undefined
  if (!(signal instanceof AbortSignal)) {
    const error = new TypeError(`The "options.signal" property must be an AbortSignal, not ${typeof signal}`)
    error.code = 'ERR_INVALID_ARG_TYPE'
    throw error
  }
  return signal
}

const GuardedRequester = guardClass(native.Requester, ['makeRequest'])

/** See native.d.ts `Requester`. */
class Requester extends GuardedRequester {
  makeRequest(method, params, path, controller, options) {
    let text, signal
    try {
      text = jsonText(options)
      signal = abortSignal(options)
    } catch (error) {
      return Promise.reject(error)
    }
    // As fetch: an aborted signal rejects with its reason, and nothing is sent.
    if (signal?.aborted) return Promise.reject(signal.reason)
    const abort = signal === undefined ? undefined : new native.RequestAbort()
    // The native method rejects its promise for every error, napi's for an option of the
    // wrong type (`{ timestamp: true }`) too: made the TypeError `sign` throws for that value.
    const answer = super.makeRequest(method, params, path, controller, options, text, abort).catch((error) =>
      Promise.reject(
        asTypeError(error, {
          name: 'Requester#makeRequest',
          args: [method, params, path, controller, options],
        }),
      ),
    )
    if (signal === undefined) return answer
    return new Promise((resolve, reject) => {
      // Aborted: the request is dropped (its connection closed) and the promise rejects with
      // the signal's reason at once; the native promise's later outcome is ignored.
      const onAbort = () => {
        abort.abort()
        reject(signal.reason)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      answer.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
    })
  }
}

module.exports = { Requester }
