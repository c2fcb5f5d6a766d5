'use strict'
// The server adapter: `middleware(verifier, options)` returns `(req, res, next?)` for Express,
// Connect and plain node:http. It reads the body (bounded by `limit`), verifies the request
// with the native Verifier and, on a refusal, writes the answer the Rust core built for it
// (`XNonceError.answer`; the 413 of an oversized body from `bodyTooLargeAnswer`): this file
// never writes an answer's bytes itself, so a Node server answers as the reference server does.

const http = require('node:http')
const native = require('./xnonce.node')
const { XNonceError } = require('./errors.js')
const { DEFAULT_TIMEOUT_MS, timeoutMs, within } = require('./deadline.js')
const { refuseUnknown } = require('./arguments.js')

/** The default body limit, as the reference server's (`max_body_bytes`): 1 MiB. */
const DEFAULT_LIMIT = 1 << 20

/** Outcomes of reading a body that are not its bytes. */
const TOO_LARGE = Symbol('too large')
const GONE = Symbol('gone')
const TOO_SLOW = Symbol('too slow')

/** How long a body may take to arrive by default, as the reference server's
 * (`body_timeout_ms`): 30 s. */
const DEFAULT_BODY_TIMEOUT_MS = 30000

/**
 * Left on a request this module's middleware accepted, for a later one on the same request
 * (an app's and a router's): `{ body, records }`, the body it read and verified (the stream
 * is consumed) and a list of `{ store, key, until }`, each replay key recorded, the very
 * object that holds it (the `store` option's object, or the verifier for its own memory) and
 * until when (`rememberUntil`). A later middleware skips its record only when that same store
 * already holds its replay key until at least the time it would keep it itself (a store that
 * drops it sooner, at an outer middleware's shorter window, would then let a copy through
 * wherever that outer middleware is not).
 * Module-private (not `Symbol.for`): no other code, and nothing a client sends, can make one.
 */
const ACCEPTED = Symbol('xnonce accepted')

/** Header fields frameworks read in place of the method (core's list): removed once accepted. */
const METHOD_OVERRIDE_FIELDS = native.methodOverrideFields()

/** The TypeError Node's own APIs throw for an argument of the wrong type. */
function typeError(message) {
  const error = new TypeError(message)
  error.code = 'ERR_INVALID_ARG_TYPE'
  return error
}

/** Throws for a `limit` option that is not a whole number of bytes. */
function checkLimit(limit) {
  if (typeof limit !== 'number') throw typeError('The "limit" option must be a number')
  if (!Number.isSafeInteger(limit) || limit < 0) {
    const error = new RangeError(
      `The value of "limit" is out of range. It must be a whole number of bytes, at most ` +
        `${Number.MAX_SAFE_INTEGER}. Received ${limit}`,
    )
    error.code = 'ERR_OUT_OF_RANGE'
    throw error
  }
}

/** The options, checked once when the middleware is made (`null` counts as absent). */
function settings(options) {
  if (options === undefined || options === null) options = {}
  if (typeof options !== 'object') throw typeError('The "options" argument must be an object')
  refuseUnknown(options, 'options', [
    'once',
    'limit',
    'then',
    'onError',
    'store',
    'storeTimeoutMs',
    'bodyTimeoutMs',
  ])
  const once = options.once ?? true
  const limit = options.limit ?? DEFAULT_LIMIT
  const then = options.then ?? undefined
  const onError = options.onError ?? reportError
  const store = options.store ?? undefined
  const storeTimeoutMs = timeoutMs('storeTimeoutMs', options.storeTimeoutMs ?? DEFAULT_TIMEOUT_MS)
  const bodyTimeoutMs = timeoutMs('bodyTimeoutMs', options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS)
  if (typeof once !== 'boolean') throw typeError('The "once" option must be a boolean')
  checkLimit(limit)
  if (then !== undefined && typeof then !== 'function')
    throw typeError('The "then" option must be a function')
  if (typeof onError !== 'function') throw typeError('The "onError" option must be a function')
  if (store !== undefined && (typeof store !== 'object' || typeof store.insertIfAbsent !== 'function'))
    throw typeError('The "store" option must be an object with an insertIfAbsent method')
  if (store !== undefined && !once)
    throw typeError('The "store" option records accepted requests: it needs "once" (true)')
  return { once, limit, then, onError, store, storeTimeoutMs, bodyTimeoutMs }
}

/**
 * Verifies each request before the app sees it. See README.md ("Verifying (server side)").
 * @param {import('./index').Verifier} verifier
 * @param {import('./index').MiddlewareOptions} [options]
 * @returns {import('./index').XNonceMiddleware}
 */
function middleware(verifier, options) {
  if (!(verifier instanceof native.Verifier)) throw typeError('The "verifier" argument must be a Verifier')
  const { once, limit, then, onError, store, storeTimeoutMs, bodyTimeoutMs } = settings(options)
  // With a store of the caller's (shared by processes), the replay check is its own.
  const shared = store !== undefined
  // The verifier's methods, called on it for each request: never its settings, so that a
  // `verifier.reconfigure(...)` applies from the next request on.
  const check = once && !shared ? verifier.verifyOnce : verifier.verify
  // The object that holds what this middleware records: compared by identity with what an
  // earlier middleware on the same request recorded (none with `once: false`).
  const recordsInto = !once ? undefined : shared ? store : verifier
  // The fence after a loss of keys told to `store` (its `widenFence`, as redisReplayStore's
  // has): the verifier's fenceAfterLossMs, now and again before the first request recorded
  // after a `verifier.reconfigure(...)` that widened a window, so that the fence covers it.
  let fenceTold = 0
  const widenFence = () => {
    const fence = verifier.fenceAfterLossMs
    if (fence <= fenceTold) return
    if (typeof store.widenFence === 'function') store.widenFence(fence)
    fenceTold = fence
  }
  if (shared) widenFence()
  // onError must not undo an answer already sent: what it throws is only logged.
  const report = (error, req) => {
    try {
      onError(error, req)
    } catch (thrown) {
      reportError(thrown)
    }
  }

  return async function xnonceMiddleware(req, res, next) {
    const pass = typeof next === 'function' ? next : undefined
    // Any error that is not a refusal: Express's error handling when there is a `next`; else a
    // 500 without details, and `onError` (by default logged: a rejection nobody awaits, as
    // node:http leaves a listener's, would end the process).
    const fail = (error) => {
      if (pass) return pass(error)
      if (!res.headersSent) {
        res.statusCode = 500
        res.setHeader('content-type', 'text/plain')
        res.end(http.STATUS_CODES[500])
      } else if (!res.writableEnded) {
        res.destroy()
      }
      report(error, req)
    }

    // Express strips the mount path from req.url; the client signed the whole target (in
    // absolute form, `http://host/path?query`, core takes its authority as the host). A `#`
    // (no part of a request target, RFC 9112 §3.2, yet left in req.url by node:http) ends
    // it, as the reference server's URI parser cuts it: `/a/b#x?k=1` is `/a/b`. The app gets
    // the target so cut (below).
    const target = withoutFragment(req.originalUrl ?? req.url)
    const xNonce = req.headers['x-nonce']
    // What an earlier xnonce middleware that accepted this request left on it (only this
    // module can: not req.rawBody, nor anything else app code or a client could set).
    const earlier = req[ACCEPTED]
    let body
    // The verified request, set on req (req.xnonce) once it is accepted.
    let verified
    // This middleware's replay key is already in its store, recorded for this very request.
    let recordedBefore = false
    try {
      if (earlier === undefined && req.readableEnded) {
        throw new Error(
          'xnonce middleware: the request body was already read; mount it before any body parser ' +
            '(the verified body is then req.rawBody)',
        )
      }
      // RFC 9112 §3.2: more than one Host line is a 400, as from the reference server (Node
      // keeps the first in req.headers.host; the raw lines still show them all).
      if (req.httpVersionMajor < 2 && fieldLines(req.rawHeaders, 'host') > 1) {
        return send(res, native.repeatedHostAnswer({ target, xNonce }))
      }
      // Node keeps the first Content-Type line, but stacks differ on which says whether the
      // body is a form: refused, as from the reference server.
      if (fieldLines(req.rawHeaders, 'content-type') > 1) {
        return send(res, native.repeatedContentTypeAnswer({ target, xNonce }))
      }
      // A method replaced before the middleware (Express's method-override mounted first,
      // from a header no signature covers): the app would act on a method nobody signed.
      // (Compared in any case: an earlier xnonce middleware upper-cased the method, below.)
      if (req.originalMethod !== undefined && !sameMethod(req.originalMethod, req.method)) {
        return send(res, native.methodOverriddenAnswer({ target, xNonce }))
      }
      // HTTP/2: the signature covers :authority; a Host field naming another host is
      // malformed (RFC 9113 §8.3.1), and an app reading it would act on an unsigned host.
      const authority = req.headers[':authority']
      if (authority !== undefined && req.headers.host !== undefined) {
        const conflict = native.hostConflictAnswer(authority, req.headers.host, { target, xNonce })
        if (conflict) return send(res, conflict)
      }
      // Express with `trust proxy` reads the host (req.hostname, req.host) from the first
      // X-Forwarded-Host value, which no signature covers (a proxy that appends keeps the one
      // the client sent): refused when it names another host than the one verified.
      const forwarded = forwardedHostReadByApp(req)
      if (forwarded !== undefined) {
        const verifiedHost = authority ?? absoluteAuthority(target) ?? req.headers.host ?? ''
        const conflict = forwardedHostConflict(verifiedHost, forwarded, { target, xNonce })
        if (conflict) return send(res, conflict)
      }
      const declaredTooLarge = earlier === undefined && declaresMoreThan(req, limit)
      if (!declaredTooLarge) {
        // An unknown route (404) or param rules the query fails (422), for a body that is not
        // a form: answered from the head, as the reference server does, before the body is
        // read (a large or slow chunked body no more changes that answer).
        const contentType = req.headers['content-type']
        const routed = verifier.routeRefusal(req.method, target, { xNonce, contentType })
        if (routed)
          return earlier === undefined && bodyMayFollow(req)
            ? refuseUnread(req, res, routed)
            : send(res, routed)
        // A form's media type with U+00A0 (or another character `trim` removes) around it: no
        // form to the verifier (its body verified as opaque bytes), one to body-parser (whose
        // `content-type` trims), which would hand the app fields no param signs.
        const misread = native.misreadContentTypeAnswer(contentType ?? null, { target, xNonce })
        if (misread) return send(res, misread)
      }
      if (earlier !== undefined) body = earlier.body.length > limit ? TOO_LARGE : earlier.body
      else if (declaredTooLarge) body = TOO_LARGE
      else body = await readBody(req, limit, bodyTimeoutMs)
      if (body === GONE) {
        // The client went away mid-body: nobody to answer, nothing for the app.
        res.destroy()
        return
      }
      if (body === TOO_LARGE)
        return refuseUnread(req, res, native.bodyTooLargeAnswer(limit, { target, xNonce }))
      // Not all of it within bodyTimeoutMs (node:http's requestTimeout bounds HTTP/1.1 too, by
      // default at 5 min; node:http2 has nothing of the kind): 408, as the reference server.
      if (body === TOO_SLOW) return refuseUnread(req, res, native.bodyTimeoutAnswer({ target, xNonce }))
      // Express's `qs` (its "extended" query parser, express.urlencoded({ extended: true }))
      // splits a pair at its first `]=`, the verifier at its first `=`: the signed pair
      // `q` = `a]=b`, sent unescaped (`q=a]=b`, the same signature), would reach the app as
      // `req.query['q=a]'] = 'b'`, and `q` as none. Refused, 400, before verification.
      const split = native.splitAtBracketAnswer(target, req.headers['content-type'] ?? null, body, {
        target,
        xNonce,
      })
      if (split) return send(res, split)
      const verify = (how) =>
        how.call(verifier, req.method, target, {
          // HTTP/2 and HTTP/3 carry the host as `:authority` (RFC 9113 §8.3.1).
          host: req.headers[':authority'] ?? req.headers.host,
          xNonce,
          contentType: req.headers['content-type'],
          body,
        })
      const records = earlier?.records.filter((record) => record.store === recordsInto) ?? []
      if (records.length === 0) {
        verified = verify(check)
      } else {
        // Verified in full, without recording; then recorded as usual unless this very
        // store already holds this very key (recording it again would refuse the request
        // as its own replay).
        verified = verify(verifier.verify)
        const { replayKey, rememberUntil } = verified
        recordedBefore = records.some((r) => r.key === replayKey && r.until >= rememberUntil)
        if (!recordedBefore && !shared) verified = verify(check)
      }
    } catch (error) {
      if (error instanceof XNonceError && error.answer) return send(res, error.answer)
      return fail(error)
    }
    if (shared && !recordedBefore) {
      let recorded
      let failure
      try {
        widenFence()
        const { replayKey, rememberUntil } = verified
        const answer = store.insertIfAbsent(replayKey, rememberUntil, Date.now())
        const late = `the replay store did not answer within ${storeTimeoutMs} ms`
        recorded = Boolean(await within(answer, storeTimeoutMs, late))
      } catch (error) {
        recorded = null // refused 503; the store's own words go to onError, not to the client
        failure = error
      }
      const refusal = native.replayStoreAnswer(recorded, { target, xNonce })
      if (refusal) {
        send(res, refusal)
        if (failure !== undefined) report(failure, req)
        return
      }
    }
    // Set only now, accepted: a refusal (a replay the shared store saw, its failure) leaves
    // no verified request for a logger on the response's 'finish' to report.
    req.xnonce = verified
    req.rawBody = body
    // RFC 9112 §3.2.2: an absolute-form target's authority is the host (the one verified);
    // the Host field, which the signature does not cover, is to be ignored. Node keeps it in
    // req.headers.host, where Express's req.hostname and the app read it: a request signed
    // for one host would act on another. Replaced, as the reference server's gateway sends
    // that authority upstream as Host.
    const authority = req.httpVersionMajor < 2 ? absoluteAuthority(target) : undefined
    if (authority !== undefined) req.headers.host = authority
    // v2 signs the host in canonical form (PROTOCOL §6.2): `API.test:443` and `api.test` share
    // a signature, while an app reads the field as sent (`new URL` throws on `h:8080:443`,
    // which verifies as `h:8080`). The app gets the one host verified, as the reference
    // server's gateway sends it upstream.
    if (verified.scheme === 'v2' && req.httpVersionMajor < 2 && typeof req.headers.host === 'string') {
      req.headers.host = native.hostForApp(req.headers.host) ?? req.headers.host
    }
    // Core's authority ends at the first `/`, `?` or `#`; URL parsers end one sooner (at `:`
    // and a port that is no number, `;`, `%`, `'`) and read the rest as the path: v1 signs no
    // host, so `http://h:admin/files/x`, signed as /files/x, reached Express's router
    // (parseurl's url.parse) as /:admin/files/x, and `new URL(req.url, base)` threw for some.
    // The app gets the target verified, in origin form (the authority is the host, above), as
    // the reference server's gateway sends it upstream.
    if (authority !== undefined) {
      if (typeof req.originalUrl === 'string') req.originalUrl = originForm(req.originalUrl)
      req.url = originForm(req.url)
    }
    // v2 signs the canonical path (PROTOCOL §6.3): /users/%61dmin and /users/admin share a
    // signature, and Express routes the raw path, so a request signed for one route would run
    // another. An escaped unreserved character is the character itself (RFC 3986 §6.2.2.2):
    // the app gets it so. A raw `\` is `%5C` there too, and a WHATWG URL (`new URL(req.url,
    // base)`) reads it as `/`, removing dot segments after: /files/a\..\admin, signed as
    // /files/a%5C..%5Cadmin, read as /files/admin. The app gets it escaped. v1 signs the path
    // as written: its spelling is signed, and left.
    if (typeof req.originalUrl === 'string') req.originalUrl = withoutFragment(req.originalUrl)
    req.url = withoutFragment(req.url)
    if (verified.scheme === 'v2') {
      if (typeof req.originalUrl === 'string') req.originalUrl = pathAsVerified(req.originalUrl)
      req.url = pathAsVerified(req.url)
    }
    // The method is signed upper-cased (PROTOCOL §3.3), so `delete` verified as DELETE; HTTP/2
    // carries `:method` as sent (HTTP/1.1 takes only upper case). The app gets the method
    // verified: Express routes `delete` to app.delete, and a guard of its own that compares
    // with 'DELETE' would miss it.
    const method = asciiUpper(req.method)
    if (req.method !== method) req.method = method
    // No signature covers these: a method-override mounted after the middleware must not
    // find them (a signed POST run as DELETE). A `_method` param it reads instead is signed.
    for (const field of METHOD_OVERRIDE_FIELDS) delete req.headers[field]
    // A form as the UTF-8 its fields were verified in, JSON naming a charset as the UTF-8 it
    // is (core's rule): nothing signs the charset named, and a body parser that honours it
    // would decode a signed value otherwise (express.json() even UTF-7, where `+ACI-` is `"`).
    // A form's fields were verified as the bytes sent; body parsers (express.urlencoded())
    // decode a Content-Encoding first, and a zlib stream can be valid UTF-8 throughout (one
    // stored block): signed as one odd field, read inflated as `admin=true`. The app gets
    // the form as verified (a form that verifies compressed is none a client compressed).
    const forApp = native.contentTypeForApp(req.headers['content-type'] ?? null)
    if (forApp === native.FORM_UTF8) delete req.headers['content-encoding']
    if (forApp !== null) req.headers['content-type'] = forApp
    const records = earlier?.records ?? []
    const mine =
      once && !recordedBefore
        ? [Object.freeze({ store: recordsInto, key: req.xnonce.replayKey, until: req.xnonce.rememberUntil })]
        : []
    // Not enumerable: a copy of the request (`{ ...req }`) does not carry it.
    Object.defineProperty(req, ACCEPTED, {
      value: Object.freeze({ body, records: Object.freeze([...records, ...mine]) }),
      configurable: true,
    })
    if (then) {
      try {
        await then(req, res)
      } catch (error) {
        return fail(error)
      }
    } else if (pass) {
      pass()
    } else {
      return fail(new Error('xnonce middleware: called without `next` and without a `then` handler'))
    }
  }
}

/**
 * Sends `answer` to a request whose body is not read (too large, too slow): the connection
 * closes after the answer (HTTP/2 has no such field: the stream is reset once the answer is
 * sent).
 */
function refuseUnread(req, res, answer) {
  if (req.httpVersionMajor < 2) res.setHeader('connection', 'close')
  send(res, answer)
  // HTTP/2 does not close the stream of a request whose body was read in part: left
  // half-open, it waits for a client held back by flow control, with no timeout, while
  // the session holds what arrived. RST_STREAM(NO_ERROR) once the answer is sent (RFC
  // 9113 §8.1: the client stops sending and keeps the answer).
  if (req.httpVersionMajor >= 2) {
    req.stream?.close(http2NoError())
    // What was read is discarded, so the readable side ends and the stream is freed.
    req.resume()
  }
}

/**
 * A 'checkContinue' listener for the server (`server.on('checkContinue', checkContinue({ limit }))`).
 * node:http answers `Expect: 100-continue` with `100 Continue` before the request reaches any
 * handler, so the client sends a body the middleware then refuses; with this listener, a
 * request whose declared `Content-Length` is over `limit` is answered 413 at once (the
 * middleware's answer, and the connection closed), the body never sent. Any other request
 * gets its `100 Continue` and is emitted as 'request', to the server's handler as usual.
 * See README.md ("Verifying (server side)").
 * @param {{ limit?: number | null }} [options]
 */
function checkContinue(options) {
  if (options === undefined || options === null) options = {}
  if (typeof options !== 'object') throw typeError('The "options" argument must be an object')
  refuseUnknown(options, 'options', ['limit'])
  const limit = options.limit ?? DEFAULT_LIMIT
  checkLimit(limit)
  return function xnonceCheckContinue(req, res) {
    if (declaresMoreThan(req, limit)) {
      const target = req.originalUrl ?? req.url
      return refuseUnread(
        req,
        res,
        native.bodyTooLargeAnswer(limit, { target, xNonce: req.headers['x-nonce'] }),
      )
    }
    res.writeContinue()
    // node:http and node:http2 call the listener on the server (`this`); emitted as
    // 'request', the request goes where it would have gone without the listener.
    this.emit('request', req, res)
  }
}

/** Whether the request's `Content-Length` declares more than `limit` bytes. */
function declaresMoreThan(req, limit) {
  const declared = req.headers['content-length']
  return declared !== undefined && Number(declared) > limit
}

/** Whether a body may still arrive for the request: over HTTP/1, a `Content-Length` other
 * than 0 or a `Transfer-Encoding` (chunked); over HTTP/2, taken that it may (its stream is
 * reset once answered, which ends a bodiless one all the same). */
function bodyMayFollow(req) {
  if (req.httpVersionMajor >= 2) return true
  const declared = req.headers['content-length']
  return req.headers['transfer-encoding'] !== undefined || (declared !== undefined && Number(declared) !== 0)
}

/** Whether two methods are one, ASCII case aside (the middleware upper-cases an accepted one). */
function sameMethod(a, b) {
  return typeof a === 'string' && typeof b === 'string' ? asciiUpper(a) === asciiUpper(b) : a === b
}

/** `text` with its ASCII letters upper-cased (not `toUpperCase`: `ſ` is not an `S` here). */
function asciiUpper(text) {
  return text.replace(/[a-z]+/g, (letters) => letters.toUpperCase())
}

/** The default `onError`: the error on stderr, as Express's default error handler does. */
function reportError(error) {
  console.error('xnonce middleware:', error)
}

/**
 * The authority of an absolute-form target (`scheme://authority[/path][?query]`, a scheme of
 * RFC 3986 §3.1's characters; the authority up to the first `/`, `?` or `#`), as core reads
 * it (`Incoming::new`); undefined for any other form.
 */
function absoluteAuthority(target) {
  const match = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(target)
  return match === null ? undefined : match[1]
}

/**
 * An absolute-form target as the origin-form one core verifies (`scheme://authority` cut, an
 * empty path as `/`: `http://h?a=1` is `/?a=1`); any other target as it is.
 */
function originForm(target) {
  const match = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(target)
  if (match === null) return target
  const rest = target.slice(match[0].length)
  return rest.startsWith('/') ? rest : '/' + rest
}

/** A host's name without its port (`[::1]:9000` is `[::1]`), as Express's req.hostname. */
function hostnameOf(host) {
  const offset = host[0] === '[' ? host.indexOf(']') + 1 : 0
  const index = host.indexOf(':', offset)
  return index !== -1 ? host.substring(0, index) : host
}

/**
 * The X-Forwarded-Host value the app reads as its host: Express's (4 and 5) req.hostname,
 * under `trust proxy` (for this peer), is the first value's name. Undefined when there is no
 * such field, no Express request (no req.hostname getter) or when Express does not trust it
 * (req.hostname is then the Host field's name): asked by showing Express a value of our own.
 */
function forwardedHostReadByApp(req) {
  const field = req.headers['x-forwarded-host']
  if (typeof field !== 'string') return undefined
  let trusted
  try {
    req.headers['x-forwarded-host'] = 'xnonce-probe.invalid'
    trusted = req.hostname === 'xnonce-probe.invalid'
  } finally {
    req.headers['x-forwarded-host'] = field
  }
  // An empty one Express skips (for Host) or reads as no host at all: none to compare.
  const first = field.split(',')[0].trim()
  return trusted && first !== '' ? first : undefined
}

/**
 * The 400 to send when `forwarded` names another host than `verified`, else null: another
 * name (any case), or, when it has a port (Express 5's req.host keeps it), another port
 * (`:80` and `:443` aside). The same name without a port is the verified host to an app
 * (Express 4's req.hostname drops the port).
 */
function forwardedHostConflict(verified, forwarded, request) {
  const sameName = hostnameOf(forwarded).toLowerCase() === hostnameOf(verified).toLowerCase()
  if (sameName && hostnameOf(forwarded) === forwarded) return null
  return native.hostConflictAnswer(verified, forwarded, request)
}

/**
 * `target` with each escaped unreserved character of its path (`%61` for `a`; RFC 3986 §2.3:
 * letters, digits, `-`, `.`, `_`, `~`) written as itself and each raw `\` escaped (`%5C`), as
 * v2's canonical path has them; the query and every other character as they are.
 */
function pathAsVerified(target) {
  const query = target.indexOf('?')
  const path = query === -1 ? target : target.slice(0, query)
  const unescaped = path.replace(/%[0-9A-Fa-f]{2}|\\/g, (escape) => {
    if (escape === '\\') return '%5C'
    const char = String.fromCharCode(parseInt(escape.slice(1), 16))
    return /^[A-Za-z0-9._~-]$/.test(char) ? char : escape
  })
  return query === -1 ? unescaped : unescaped + target.slice(query)
}

/** `target` up to its first `#` (a request target has no fragment, RFC 9112 §3.2). */
function withoutFragment(target) {
  const hash = target.indexOf('#')
  return hash === -1 ? target : target.slice(0, hash)
}

/** How many `name` (lower-case) field lines a request has (`rawHeaders`: name, value, ...). */
function fieldLines(rawHeaders, name) {
  let n = 0
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i].toLowerCase() === name) n++
  return n
}

/**
 * The body as one Buffer, TOO_LARGE past `limit` bytes, TOO_SLOW when not all of it has
 * arrived within `ms`, or GONE when the client went away.
 *
 * The body stays readable for what runs after the middleware (express.json(), multer,
 * Fastify's parsers): it is read in paused mode and, once the stream has all of it, put back
 * with `unshift` before the stream emits 'end' (which `unshift` allows: Node checks for "one
 * last unshift" before it emits 'end'). The next reader gets the same Buffer, uncopied.
 *
 * Each piece is copied into one buffer as it arrives, as the reference server's `read_body`
 * does: a chunked body of 1-byte chunks arrives as about a million Buffers, each an object of
 * its own over the socket's read buffer, and kept in a list until the end they held some 200
 * times the body's size (a 1 MiB body, about 230 MB) before anything about the request was
 * checked. A body that arrives as one piece is kept as it is.
 */
function readBody(req, limit, ms) {
  return new Promise((resolve) => {
    let first = null
    let joined = null
    let size = 0
    const finish = (outcome) => {
      clearTimeout(timer)
      req.off('readable', onReadable).off('end', onEnd).off('error', onGone).off('close', onGone)
      resolve(outcome)
    }
    const timer = setTimeout(() => finish(TOO_SLOW), ms)
    const add = (chunk) => {
      if (first === null && joined === null) {
        first = chunk
      } else {
        const held = first === null ? size - chunk.length : first.length
        if (joined === null || joined.length < size) {
          // Grown by doubling (at most to `limit`): each byte is copied a bounded number of
          // times. Zeroed, as the bytes past the body are reachable through `.buffer`.
          const grown = Buffer.alloc(Math.min(limit, Math.max(size, 2 * (joined?.length ?? 0), 4096)))
          if (joined !== null) joined.copy(grown, 0, 0, held)
          if (first !== null) first.copy(grown, 0)
          first = null
          joined = grown
        }
        chunk.copy(joined, held)
      }
    }
    function onReadable() {
      if (req.destroyed) return finish(GONE)
      // Only what is buffered: a read() of an ended stream with nothing left makes it emit
      // 'end', after which it is not readable (raw-body, under express.json() and
      // express.urlencoded(), answers 500 "stream is not readable"). A body's last piece is
      // put back before that 'end' (below); an empty body has nothing to put back.
      while (req.readableLength > 0) {
        const chunk = req.read()
        if (chunk === null) break
        if (chunk.length === 0) continue
        size += chunk.length
        if (size > limit) return finish(TOO_LARGE)
        add(chunk)
      }
      // The stream has been told the body is complete (the 'end' it will emit next is
      // what `unshift` must come before). `complete` is node:http's public flag; HTTP/2's
      // compatibility request has no early one, so its readable state is asked.
      if (req.complete === true || req._readableState?.ended === true) {
        const body = joined !== null ? joined.subarray(0, size) : (first ?? Buffer.alloc(0))
        if (size > 0) req.unshift(body)
        finish(body)
      }
    }
    const onGone = () => finish(GONE)
    // Should the stream emit 'end' without 'readable' all the same, the body is what was read.
    const onEnd = () => finish(joined !== null ? joined.subarray(0, size) : (first ?? Buffer.alloc(0)))
    // From the next tick: node:http ends the stream of a request whose body has all arrived
    // with its head (none, Content-Length: 0, an empty chunked one) just after it emits the
    // request. Ended with nothing in it (then, or before the middleware ran, when something
    // awaited before it: a session lookup, a rate limiter), the stream is left untouched: a
    // 'readable' listener would have it read(0) and so emit 'end' and 'close', after which
    // it is no longer readable for a parser mounted after the middleware (raw-body, under
    // express.json(), answers such a request 500 "stream is not readable").
    process.nextTick(() => {
      // Destroyed already (the client went away while something before the middleware was
      // awaited): its 'close' has been emitted, and no 'readable' will come. Waiting for them
      // held the request until the timer, then answered 408 to nobody.
      if (req.destroyed) return finish(GONE)
      if (req.readableLength === 0 && req._readableState?.ended === true) {
        return finish(Buffer.alloc(0))
      }
      req.on('readable', onReadable).on('end', onEnd).on('error', onGone).on('close', onGone)
    })
  })
}

/** HTTP/2's NO_ERROR code (node:http2 is loaded only for an HTTP/2 request). */
function http2NoError() {
  return require('node:http2').constants.NGHTTP2_NO_ERROR
}

/** Writes an answer the core built: status, header fields, body. */
function send(res, answer) {
  res.statusCode = answer.status
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value)
  res.end(answer.body)
}

module.exports = { middleware, checkContinue, DEFAULT_LIMIT, DEFAULT_BODY_TIMEOUT_MS }
