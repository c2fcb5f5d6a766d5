'use strict'
// xnonceFetch: a fetch-compatible function that signs every request with the native
// `signRequest` (method, URL host, path and query, form fields or the body digest) and
// sends it with the `X-Nonce` header, for users who keep their own HTTP stack.

const { signRequest } = require('./sign.js')

/**
 * @param {{ client: string, secret: string, scheme?: 'v1' | 'v2', fetch?: typeof fetch }} options
 * @returns {typeof fetch}
 */
function xnonceFetch({ client, secret, scheme = 'v2', fetch: baseFetch = globalThis.fetch }) {
  if (typeof baseFetch !== 'function') {
    throw new TypeError('xnonceFetch: no fetch implementation (pass options.fetch)')
  }
  return async function signedFetch(input, init) {
    const request = new Request(input, init)
    const url = new URL(request.url)
    const body = request.body === null ? undefined : new Uint8Array(await request.arrayBuffer())
    const headers = new Headers(request.headers)
    const header = signRequest(scheme, request.method, url.pathname + url.search, client, secret, {
      host: url.host,
      contentType: headers.get('content-type') ?? undefined,
      body,
    })
    headers.set('X-Nonce', header)
    return baseFetch(url, {
      method: request.method,
      headers,
      body,
      redirect: request.redirect,
      signal: request.signal,
      credentials: request.credentials,
      cache: request.cache,
      referrerPolicy: request.referrerPolicy,
      integrity: request.integrity,
      keepalive: request.keepalive,
    })
  }
}

module.exports = { xnonceFetch }
