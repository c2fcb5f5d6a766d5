'use strict'
// Time bounds on the replay store's answer: a store that never answers (node-redis holds
// commands while it reconnects) must cost a request a 503, not hang it.

/** How long a replay store may take by default before the request is refused 503: 2 s, as the
 * reference server's Redis store (`[replay] timeout_ms`). */
const DEFAULT_TIMEOUT_MS = 2000

/** The longest delay setTimeout keeps (2^31 − 1 ms, about 24.8 days): above it, it fires at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1

/** `value` of the option `name` as a timeout: a whole number of ms, 1 to MAX_TIMEOUT_MS; else a
 * TypeError (not a number) or a RangeError (code `ERR_OUT_OF_RANGE`), as Node's own APIs say. */
function timeoutMs(name, value) {
  if (typeof value !== 'number') {
    const error = new TypeError(`The "${name}" option must be a number`)
    error.code = 'ERR_INVALID_ARG_TYPE'
    throw error
  }
  if (Number.isSafeInteger(value) && value >= 1 && value <= MAX_TIMEOUT_MS) return value
  const error = new RangeError(
    `The "${name}" option must be a whole number of ms from 1 to ${MAX_TIMEOUT_MS}. Received ${value}`,
  )
  error.code = 'ERR_OUT_OF_RANGE'
  throw error
}

/** What `promise` settles to, or a rejection with `message` once `ms` have passed first. */
async function within(promise, ms, message) {
  let timer
  const late = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms)
  })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

module.exports = { DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS, timeoutMs, within }
