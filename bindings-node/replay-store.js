'use strict'
// A replay store in Redis for the middleware's `store` option: every process of an API (cluster
// workers, several hosts) records accepted requests in one place, with the reference server's
// keys and expiry (core's `SharedKeys`), so that Node processes, Python processes and
// `xnonce-server` instances can share one Redis.

const { randomBytes } = require('node:crypto')
const native = require('./xnonce.node')
const { guardClass, refuseUnknown } = require('./arguments.js')
const { DEFAULT_TIMEOUT_MS, timeoutMs: checkedTimeout, within } = require('./deadline.js')

/** The key names and expiries of a shared replay store (core's `replay::shared`). */
const SharedKeys = guardClass(native.SharedKeys)

/** The reference server's key prefix (`[replay] key_prefix`). */
const DEFAULT_PREFIX = native.SHARED_KEYS_DEFAULT_PREFIX

/**
 * How much longer than `expiresAtMs` a key is kept: 1 s, as the reference server does, so that
 * a process whose clock is up to that much behind still finds it.
 */
const CLOCK_MARGIN_MS = native.SHARED_KEYS_CLOCK_MARGIN_MS

/**
 * How long a store refuses every request once Redis is found to have lost its keys, by
 * default: twice the default 30 s window plus CLOCK_MARGIN_MS, as the reference server computes
 * it from its longest window. The middleware given the store raises it to its verifier's
 * `fenceAfterLossMs` (the store's `widenFence`) for longer windows.
 */
const DEFAULT_FENCE_MS = native.SHARED_KEYS_DEFAULT_FENCE_MS

/** The policy in node-redis's answer to `CONFIG GET maxmemory-policy` (an object in v4 and
 * later; a Map or a flat array under other reply shapes), else null. */
function policyOf(answer) {
  let policy = null
  if (Array.isArray(answer)) policy = answer[answer.indexOf('maxmemory-policy') + 1]
  else if (answer instanceof Map) policy = answer.get('maxmemory-policy')
  else if (answer !== null && typeof answer === 'object') policy = answer['maxmemory-policy']
  if (Buffer.isBuffer(policy)) policy = policy.toString()
  return typeof policy === 'string' ? policy : null
}

/** `command()`'s answer as a promise: an error the client throws instead of rejecting
 * rejects it. */
function ask(command) {
  try {
    return Promise.resolve(command())
  } catch (error) {
    return Promise.reject(error)
  }
}

/** Whether `error` is Redis's own error reply (node-redis's ErrorReply: `NOPERM` from an ACL,
 * `ERR unknown command` from a proxy), which asking again would get again; not a failure to
 * reach Redis. */
function isErrorReply(error) {
  for (let p = error; p !== null && typeof p === 'object'; p = Object.getPrototypeOf(p)) {
    if (p.constructor?.name === 'ErrorReply') return true
  }
  return false
}

/**
 * A store over a connected node-redis client (`redis` package v4 or later, `createClient()`): each accepted
 * request is one `SET <prefix>{<key>} 1 NX PX <ms>`, its expiry relative (the rest of the
 * window plus CLOCK_MARGIN_MS) so that Redis counts it on its own clock. A Redis error, or no
 * answer within `timeoutMs` (node-redis queues commands while it reconnects), rejects: the
 * middleware then answers 503 (`store_unavailable`). A Redis whose `maxmemory-policy` is not
 * `noeviction` is warned of (`process.emitWarning`, code `XNONCE_REDIS_EVICTION`), as
 * xnonce-server does: read with the first request, and again after Redis lost its keys. A
 * replica (`INFO replication` says `role:slave`, asked before the first SET and again after a
 * loss of keys; or a SET answered `READONLY`) rejects each request, saying it is a replica.
 * @param {{ set(key: string, value: string, options: object): Promise<unknown>, get?(key: string): Promise<string | null>, configGet?(name: string): Promise<unknown>, info?(section: string): Promise<unknown> }} client
 * @param {{ prefix?: string, timeoutMs?: number, fenceAfterLossMs?: number }} [options]
 * @returns {import('./index').ReplayStore & { key(replayKey: string): string }}
 */
function redisReplayStore(client, options) {
  if (client === null || typeof client !== 'object' || typeof client.set !== 'function') {
    const error = new TypeError('The "client" argument must be a node-redis client')
    error.code = 'ERR_INVALID_ARG_TYPE'
    throw error
  }
  if (options !== undefined && options !== null) {
    // Not an object (a timeout given in its place): refused, never read as no options.
    if (typeof options !== 'object') {
      const error = new TypeError('The "options" argument must be an object')
      error.code = 'ERR_INVALID_ARG_TYPE'
      throw error
    }
    refuseUnknown(options, 'options', ['prefix', 'timeoutMs', 'fenceAfterLossMs'])
  }
  const keys = new SharedKeys(options?.prefix)
  const timeoutMs = checkedTimeout('timeoutMs', options?.timeoutMs ?? DEFAULT_TIMEOUT_MS)
  let fenceMs = options?.fenceAfterLossMs ?? DEFAULT_FENCE_MS
  if (typeof fenceMs !== 'number') {
    // Not a number ('60000'): a TypeError, as Node's own functions answer, never a range.
    const error = new TypeError('The "fenceAfterLossMs" option must be of type number')
    error.code = 'ERR_INVALID_ARG_TYPE'
    throw error
  }
  if (!Number.isSafeInteger(fenceMs) || fenceMs < 0) {
    const error = new RangeError('The "fenceAfterLossMs" option must be an integer of ms (0: no fence)')
    error.code = 'ERR_OUT_OF_RANGE'
    throw error
  }
  if (fenceMs === 0) fenceMs = null
  if (fenceMs !== null && typeof client.get !== 'function') {
    const error = new TypeError('The "client" argument must be a node-redis client (with get)')
    error.code = 'ERR_INVALID_ARG_TYPE'
    throw error
  }
  const key = (replayKey) => keys.key(replayKey)
  // The fence after a loss of keys (the reference server's, same marker): the epoch marker
  // `<prefix>epoch` read after each SET; one other than the last one seen means Redis lost
  // its keys (restarted empty, flushed, replaced), and every request is refused for fenceMs.
  const epochKey = keys.epochKey
  let epoch = null
  let fencedUntil = 0
  const why = () =>
    `redis lost its replay keys (restarted empty, flushed, or replaced): every request is ` +
    `refused for ${fenceMs / 1000} s, until all it may have forgotten is stale`
  const nx = { condition: 'NX', NX: true }
  // Redis's maxmemory-policy, read as xnonce-server reads it: any policy but noeviction lets a
  // full Redis evict live replay keys, each one a request whose copy is then accepted. Asked
  // with the first request (and the first after Redis lost its keys: it may have come back
  // with another config), beside its SET, and never part of its answer. 'unchecked' until
  // Redis answers: a policy, or an error reply (CONFIG refused by an ACL: cannot tell, no
  // warning); a failure to reach Redis is asked again by the next request.
  let policy = typeof client.configGet === 'function' ? 'unchecked' : 'checked'
  function checkPolicy() {
    if (policy !== 'unchecked') return
    policy = 'checking'
    const asked = ask(() => client.configGet('maxmemory-policy'))
    within(asked, timeoutMs, 'no answer').then(
      (answer) => {
        policy = 'checked'
        const named = policyOf(answer)
        if (named !== null && named !== 'noeviction') {
          process.emitWarning(
            `redisReplayStore: Redis's maxmemory-policy is '${named}': when its memory is full, ` +
              'Redis may evict live replay keys, and each evicted key lets a copy of its request ' +
              'through; set maxmemory-policy noeviction (a full Redis then refuses requests with 503)',
            { code: 'XNONCE_REDIS_EVICTION' },
          )
        }
      },
      (error) => {
        policy = isErrorReply(error) ? 'checked' : 'unchecked'
      },
    )
  }
  // Whether Redis said it is no replica (INFO replication), or cannot say (an error reply:
  // INFO refused by an ACL, a proxy; or a client without `info`). Until then each request
  // asks before its SET, as xnonce-server asks on each connection: a replica cannot keep keys
  // for every process (a writable one, replica-read-only no, takes the SET where the primary
  // and every other process never look). Asked again after Redis lost its keys.
  const asksRole = typeof client.info === 'function'
  let roleChecked = !asksRole
  async function checkRole() {
    const asked = ask(() => client.info('replication'))
    let info = null
    try {
      info = await within(asked, timeoutMs, `Redis did not answer within ${timeoutMs} ms`)
    } catch (error) {
      if (!isErrorReply(error)) throw error
    }
    if (Buffer.isBuffer(info)) info = info.toString()
    if (typeof info === 'string' && /^role:slave\r?$/m.test(info)) {
      throw new Error(
        'redis is a replica (role:slave), which cannot keep replay keys for every process: ' +
          'the client must reach the primary (after a failover, once its address follows the ' +
          'new primary, requests are accepted again)',
      )
    }
    roleChecked = true
  }
  async function readEpoch() {
    let seen = await client.get(epochKey)
    if (seen === null || seen === undefined) {
      await client.set(epochKey, randomBytes(16).toString('hex'), nx)
      seen = await client.get(epochKey)
    }
    return seen
  }
  return {
    key,
    async insertIfAbsent(replayKey, expiresAtMs, nowMs) {
      if (fenceMs !== null && performance.now() < fencedUntil) throw new Error(why())
      const px = keys.ttlMs(expiresAtMs, nowMs)
      if (!roleChecked) await checkRole()
      checkPolicy()
      // Both spellings: node-redis v5 reads `expiration` / `condition` (and then ignores
      // PX / NX), v4 reads only PX / NX. With v5's alone, v4 (still what many projects have
      // installed) sent a plain `SET key 1`, which always answers OK: every copy of a request
      // was accepted, and the key kept forever.
      const options = { expiration: { type: 'PX', value: px }, condition: 'NX', PX: px, NX: true }
      // The SET, then the marker: node-redis sends both on its one connection, in order, so a
      // Redis that took the SET empty has no marker, or another one, when it answers the GET.
      const set = client.set(key(replayKey), '1', options)
      const marker = fenceMs === null ? null : readEpoch()
      const answer = within(
        Promise.all([set, marker]),
        timeoutMs,
        `Redis did not answer within ${timeoutMs} ms`,
      )
      let recorded, seen
      try {
        ;[recorded, seen] = await answer
      } catch (error) {
        // A read-only replica (the client reaches one, or a failover moved the primary away
        // from its address) answers each SET READONLY: said as such, as xnonce-server does.
        if (isErrorReply(error) && /^READONLY\b/.test(error.message)) {
          throw new Error(
            'redis is a read-only replica (READONLY), which cannot keep replay keys for every ' +
              'process: the client must reach the primary (after a failover, once its address ' +
              `follows the new primary, requests are accepted again): ${error.message}`,
            { cause: error },
          )
        }
        throw error
      }
      if (fenceMs !== null && typeof seen === 'string') {
        const lost = epoch !== null && epoch !== seen
        epoch = seen
        if (lost) {
          if (policy === 'checked' && typeof client.configGet === 'function') policy = 'unchecked'
          roleChecked = !asksRole
          fencedUntil = performance.now() + fenceMs
          throw new Error(why())
        }
      }
      return recorded !== null
    },
    /**
     * Raises the fence to `ms` if it is shorter (a store made without one keeps none); never
     * lowers it: keys recorded under the longer windows of earlier settings may still be in
     * Redis. The middleware calls it with its verifier's `fenceAfterLossMs` when made and
     * after a `reconfigure` that raised it. A fence already running keeps its end.
     */
    widenFence(ms) {
      if (typeof ms !== 'number') {
        const error = new TypeError('The "ms" argument must be of type number')
        error.code = 'ERR_INVALID_ARG_TYPE'
        throw error
      }
      if (!Number.isSafeInteger(ms) || ms <= 0) {
        const error = new RangeError('The "ms" argument must be a positive integer of ms')
        error.code = 'ERR_OUT_OF_RANGE'
        throw error
      }
      if (fenceMs !== null && ms > fenceMs) fenceMs = ms
    },
    /** The fence in force (ms), or null for none. */
    get fenceMs() {
      return fenceMs
    },
  }
}

module.exports = {
  redisReplayStore,
  SharedKeys,
  DEFAULT_PREFIX,
  CLOCK_MARGIN_MS,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_FENCE_MS,
}
