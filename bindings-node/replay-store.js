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
  if (options !== undefined && options !== null) refuseUnknown(options, 'options', ['prefix', 'timeoutMs'])
  const keys = new SharedKeys(options?.prefix)
  const timeoutMs = checkedTimeout('timeoutMs', options?.timeoutMs ?? DEFAULT_TIMEOUT_MS)
  const key = (replayKey) => keys.key(replayKey)
  return {
    key,
    async insertIfAbsent(replayKey, expiresAtMs, nowMs) {
      const px = keys.ttlMs(expiresAtMs, nowMs)
      // Both spellings: node-redis v5 reads `expiration` / `condition` (and then ignores
      // PX / NX), v4 reads only PX / NX. With v5's alone, v4 (still what many projects have
      // installed) sent a plain `SET key 1`, which always answers OK: every copy of a request
      // was accepted, and the key kept forever.
      const options = { expiration: { type: 'PX', value: px }, condition: 'NX', PX: px, NX: true }
      const answer = within(
        client.set(key(replayKey), '1', options),
        timeoutMs,
        `Redis did not answer within ${timeoutMs} ms`,
      )
      return (await answer) !== null
    },
  }
}

module.exports = { redisReplayStore, SharedKeys, DEFAULT_PREFIX, CLOCK_MARGIN_MS, DEFAULT_TIMEOUT_MS }
