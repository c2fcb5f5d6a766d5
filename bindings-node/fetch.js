'use strict'
// xnonceFetch: a fetch-compatible function that signs every request with the native
// `signRequest` (method, URL host, path and query, form fields or the body digest) and
// sends it with the `X-Nonce` header, for users who keep their own HTTP stack.
//
// Redirects are followed here, not by the underlying fetch (it is always called with
// `redirect: 'manual'`): its own following would resend the X-Nonce header to the new URL —
// to another origin that is a leak of a still-unused credential (replayable against the
// original server within the window), and on the same origin it fails anyway, since the
// header was signed for the old path. So each hop on the request's own origin is signed again
// (fresh nonce and timestamp, the new path), and a hop to another origin is sent without
// X-Nonce (nor Authorization, Proxy-Authorization, Cookie, as fetch itself drops them); after
// such a hop nothing is signed again. Methods and bodies change as the Fetch standard says.
//
// Clock correction (PROTOCOL §12, as the native Requester does it): each signed hop is signed
// at `Date.now() + offset`. When the answer to a signed hop is a stale refusal whose
// `X-Nonce-Server-Time` hint authenticates for the X-Nonce that hop carried
// (`serverTimeFromAnswer`), the offset becomes the server's time minus the local clock, and the
// hop is signed again (fresh nonce and timestamp) and sent once more: a stale request is
// refused before anything acts on it, so the resend is safe. A resend found stale too is
// returned, only its hint is learned. With `correctClock: false` nothing is learned or resent.

const native = require('./xnonce.node')
const { signRequest, checkSigner } = require('./sign.js')
const { guard, refuseUnknown } = require('./arguments.js')

/** See native.d.ts `serverTimeFromAnswer`. */
const serverTimeFromAnswer = guard(native.serverTimeFromAnswer)
/** `correctClock` and `clockOffsetMs` checked as Requester checks them; the starting offset. */
const checkClock = guard(native.checkClock)

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])
/** The Fetch standard's redirect limit. */
const MAX_REDIRECTS = 20
/** Headers that describe the body: dropped when a redirect drops the body. */
const BODY_HEADERS = [
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-location',
]
/** Credentials never sent to another origin. */
const CREDENTIAL_HEADERS = ['x-nonce', 'authorization', 'proxy-authorization', 'cookie']

/** On a Request input's signal: that Request (see `callerSignal`). */
const HOLDS_REQUEST = Symbol('xnonceFetch: the Request whose signal this is')

/** Frees a redirect response's connection (its body is never read). */
async function discard(response) {
  try {
    await response.body?.cancel()
  } catch {
    // Nothing to free.
  }
}

/**
 * The caller's own AbortSignal, as `new Request(input, init)` picks it (`init.signal` when
 * given, `null` included, else a Request input's). Not `request.signal`: that is a dependent
 * signal whose controller undici holds only through the Request (by a WeakRef from the
 * caller's signal), so once `signedFetch` has returned and its Request has been collected, an
 * abort no longer reached the fetch underneath — a timeout signal stopped bounding the body read.
 */
function callerSignal(input, init, request) {
  if (init !== undefined && init !== null && init.signal !== undefined) return init.signal
  if (!(input instanceof Request)) return request.signal
  // A Request input's signal is itself a dependent one, followed only while that Request
  // lives; the caller often drops it at once (`signedFetch(new Request(url, { signal }))`).
  // Held from its own signal (a cycle, freed with it): the fetch underneath holds that signal
  // while it runs, and so the Request and the controller the caller's abort reaches.
  const signal = input.signal
  if (Object.isExtensible(signal) && !Object.hasOwn(signal, HOLDS_REQUEST))
    Object.defineProperty(signal, HOLDS_REQUEST, { value: input })
  return signal
}

/**
 * The bytes of `request`'s body (undefined when it has none), read under `signal` as fetch
 * reads a body it sends: an abort rejects with the signal's reason and cancels the body's
 * stream (a stream that never ends would otherwise hang the call whatever the signal).
 */
async function bodyBytes(request, signal) {
  if (request.body === null) return undefined
  signal?.throwIfAborted()
  const reader = request.body.getReader()
  const abort = () => reader.cancel(signal.reason).catch(() => {})
  signal?.addEventListener('abort', abort, { once: true })
  try {
    const chunks = []
    let length = 0
    for (;;) {
      const { done, value } = await reader.read()
      signal?.throwIfAborted()
      if (done) break
      if (!(value instanceof Uint8Array)) {
        throw new TypeError('xnonceFetch: the body stream gave a chunk that is not a Uint8Array')
      }
      chunks.push(value)
      length += value.byteLength
    }
    const bytes = new Uint8Array(length)
    let at = 0
    for (const chunk of chunks) {
      bytes.set(chunk, at)
      at += chunk.byteLength
    }
    return bytes
  } finally {
    signal?.removeEventListener('abort', abort)
  }
}

/**
 * @param {{ client: string, secret: string, scheme?: 'v1' | 'v2' | null, fetch?: typeof fetch | null,
 *   correctClock?: boolean | null, clockOffsetMs?: number | null }} options
 * @returns {typeof fetch & { readonly clockOffsetMs: number }}
 */
function xnonceFetch(options) {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('xnonceFetch: pass options { client, secret, scheme?, fetch? }')
  }
  refuseUnknown(options, 'options', ['client', 'secret', 'scheme', 'fetch', 'correctClock', 'clockOffsetMs'])
  // `null` is absent, as in every options object of the package.
  const { client, secret } = options
  const scheme = options.scheme ?? 'v2'
  if (options.fetch !== undefined && options.fetch !== null && typeof options.fetch !== 'function') {
    const error = new TypeError('xnonceFetch: the "fetch" option must be a function')
    error.code = 'ERR_INVALID_ARG_TYPE'
    throw error
  }
  const baseFetch = options.fetch ?? globalThis.fetch
  if (typeof baseFetch !== 'function') {
    throw new TypeError('xnonceFetch: no fetch implementation (pass options.fetch)')
  }
  // Here, not on each call: every request would fail alike.
  checkSigner(scheme, client, secret)
  // `null` is absent (true, 0).
  const correctClock = options.correctClock ?? true
  /** The clock offset in use (server − local, ms), shared by every call. */
  let offset = checkClock({ correctClock: options.correctClock, clockOffsetMs: options.clockOffsetMs })
  async function signedFetch(input, init) {
    const request = new Request(input, init)
    const signal = callerSignal(input, init, request)
    const mode = request.redirect
    const origin = new URL(request.url).origin
    let url = new URL(request.url)
    let method = request.method
    let body = await bodyBytes(request, signal)
    const headers = new Headers(request.headers)
    // The host is signed from the URL. A `Host` header of the caller's (headers copied from an
    // incoming request, a Request made with one) is dropped, as fetch itself drops it (a
    // forbidden header name): a fetch underneath that sends it instead of the URL's (one over
    // node:http or undici's dispatcher API) sent the request for a host it was not signed for.
    headers.delete('host')
    // True while every hop so far stayed on the request's origin: only then is a hop signed.
    let signing = true
    /** The X-Nonce value the hop just sent carried (a stale answer's hint is bound to it). */
    let sent
    /** Sends the hop `url`, signed (at the corrected clock, a fresh nonce) while `signing`. */
    const send = () => {
      headers.delete('x-nonce')
      if (signing) {
        const header = signRequest(scheme, method, url.pathname + url.search, client, secret, {
          host: url.host,
          contentType: headers.get('content-type') ?? undefined,
          body,
          // As the Requester: a clock set before the epoch signs the epoch (then corrected).
          timestamp: Math.max(0, Date.now() + offset),
        })
        headers.set('X-Nonce', header)
        sent = header
      }
      return baseFetch(url, {
        // What the fetch implementation alone understands (undici's `dispatcher` for a proxy
        // or custom TLS, node-fetch's `agent`, `priority`...) goes through untouched.
        ...init,
        method,
        headers,
        body,
        redirect: 'manual',
        signal,
        credentials: request.credentials,
        cache: request.cache,
        referrerPolicy: request.referrerPolicy,
        integrity: request.integrity,
        keepalive: request.keepalive,
      })
    }
    /**
     * True when `response`, the answer to the signed hop just sent, is stale with a hint
     * made for it: the offset is then the server's time minus the local clock at receipt.
     */
    const learned = (response) => {
      if (!signing || !correctClock) return false
      const time = serverTimeFromAnswer(
        response.status,
        response.headers.get('x-nonce-server-time'),
        sent,
        secret,
      )
      if (time === null) return false
      offset = time - Date.now()
      return true
    }
    for (let redirects = 0; ; redirects++) {
      let response = await send()
      if (learned(response)) {
        // Refused before anything acted on it: sent once more at the corrected clock (not a
        // redirect). Stale again, that answer is returned; only its newer hint is learned.
        await discard(response)
        response = await send()
        learned(response)
      }
      // A browser-style fetch answers 'manual' with an opaque redirect (status 0): returned as is.
      const location = response.headers.get('location')
      if (mode === 'manual' || !REDIRECT_STATUSES.has(response.status) || location === null) {
        return response
      }
      await discard(response)
      if (mode === 'error') {
        throw new TypeError(`xnonceFetch: ${response.status} redirect with redirect: 'error'`)
      }
      if (redirects === MAX_REDIRECTS) {
        throw new TypeError(`xnonceFetch: more than ${MAX_REDIRECTS} redirects`)
      }
      let next
      try {
        next = new URL(location, url)
      } catch (cause) {
        throw new TypeError('xnonceFetch: a redirect with an invalid Location', { cause })
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new TypeError(`xnonceFetch: a redirect to a ${next.protocol} URL`)
      }
      const status = response.status
      if (
        (status === 303 && method !== 'GET' && method !== 'HEAD') ||
        ((status === 301 || status === 302) && method === 'POST')
      ) {
        method = 'GET'
        body = undefined
        for (const name of BODY_HEADERS) headers.delete(name)
      }
      if (next.origin !== origin) {
        signing = false
        for (const name of CREDENTIAL_HEADERS) headers.delete(name)
      }
      url = next
    }
  }
  Object.defineProperty(signedFetch, 'clockOffsetMs', { get: () => offset, enumerable: true })
  return signedFetch
}

module.exports = { xnonceFetch }
