'use strict'
// A replay store in Redis for the middleware's `store` option: every process of an API (cluster
// workers, several hosts) records accepted requests in one place, with the reference server's
// keys and expiry (core's `SharedKeys`), so that Node processes, Python processes and
// `xnonce-server` instances can share one Redis.

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
 * it from its longest window (give `fenceAfterLossMs` that for longer windows).
 */
const DEFAULT_FENCE_MS = 2 * 30_000 + CLOCK_MARGIN_MS

const { randomBytes } = require('node:crypto')

/**
 * A store over a connected node-redis client (`redis` package v4 or later, `createClient()`): each accepted
 * request is one `SET <prefix>{<key>} 1 NX PX <ms>`, its expiry relative (the rest of the
 * window plus CLOCK_MARGIN_MS) so that Redis counts it on its own clock. A Redis error, or no
 * answer within `timeoutMs` (node-redis queues commands while it reconnects), rejects: the
 * middleware then answers 503 (`store_unavailable`).
 * @param {{ set(key: string, value: string, options: { expiration: { type: 'PX', value: number }, condition: 'NX', PX: number, NX: true }): Promise<unknown> }} client
 * @param {{ prefix?: string, timeoutMs?: number }} [options]
 * @returns {import('./index').ReplayStore & { key(replayKey: string): string }}
 */
function redisReplayStore(client, options) {
  if (client === null || typeof client !== 'object' || typeof client.set !== 'function') {
    const error = new TypeError('The "client" argument must be a node-redis client')
    error.code = 'ERR_INVALID_ARG_TYPE'
    throw error
  }
  if (options !== undefined && options !== null) {
    refuseUnknown(options, 'options', ['prefix', 'timeoutMs', 'fenceAfterLossMs'])
  }
  const keys = new SharedKeys(options?.prefix)
  const timeoutMs = checkedTimeout('timeoutMs', options?.timeoutMs ?? DEFAULT_TIMEOUT_MS)
  let fenceMs = options?.fenceAfterLossMs ?? DEFAULT_FENCE_MS
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
  const epochKey = `${keys.prefix}epoch`
  let epoch = null
  let fencedUntil = 0
  const why = () =>
    `redis lost its replay keys (restarted empty, flushed, or replaced): every request is ` +
    `refused for ${fenceMs / 1000} s, until all it may have forgotten is stale`
  const nx = { condition: 'NX', NX: true }
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
      const [recorded, seen] = await answer
      if (fenceMs !== null && typeof seen === 'string') {
        const lost = epoch !== null && epoch !== seen
        epoch = seen
        if (lost) {
          fencedUntil = performance.now() + fenceMs
          throw new Error(why())
        }
      }
      return recorded !== null
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
