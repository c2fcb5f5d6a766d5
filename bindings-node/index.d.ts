// Type declarations of the `xnonce` package's entry points (index.js and index.mjs).
// The native functions and records are declared in native.d.ts, which napi-rs generates
// from the Rust sources; this file adds the JavaScript-level parts (errors, xnonceFetch,
// middleware).

import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'

export {
  sign,
  signDetailed,
  link,
  linkDetailed,
  signRequest,
  ottokenEncode,
  ottokenDecode,
  ottokenQueryValue,
  parseHeader,
  serverTimeFromAnswer,
  errorCodes,
  Verifier,
  Requester,
  SharedKeys,
} from './native'
export type {
  ParamValue,
  Params,
  SignOptions,
  SignedDetails,
  LinkDetails,
  Header,
  RequestParts,
  VerifierOptions,
  VerifyOptions,
  Verified,
  RequesterOptions,
  RequestOptions,
  RequesterResponse,
  ErrorCodeInfo,
  Answer,
} from './native'
import type { Answer, Verified, Verifier } from './native'

/** The shared error codes (the same strings in every xnonce language). */
export type ErrorCode =
  | 'invalid_client_id'
  | 'invalid_param_key'
  | 'invalid_param_value'
  | 'invalid_secret'
  | 'invalid_method'
  | 'invalid_path'
  | 'invalid_host'
  | 'invalid_nonce'
  | 'invalid_timestamp'
  | 'invalid_body'
  | 'invalid_url'
  | 'malformed_header'
  | 'malformed_ottoken'
  | 'malformed_params'
  | 'missing_header'
  | 'unsupported_scheme'
  | 'unknown_client'
  | 'signature_mismatch'
  | 'expired'
  | 'replayed'
  | 'missing_param'
  | 'excluded_param'
  | 'unknown_route'
  | 'store_unavailable'
  | 'connection_failed'
  | 'rate_limited'

/** The family of a code; each has its own error class. */
export type ErrorFamily = 'input' | 'format' | 'auth' | 'route' | 'unavailable'

/** Every shared error code, in the Rust core's order. */
export declare const ERROR_CODES: readonly ErrorCode[]

/** Base class of every error the package throws for xnonce reasons. */
export declare class XNonceError extends Error {
  constructor(
    code: ErrorCode,
    message: string,
    extra?: {
      family?: ErrorFamily
      serverTime?: number
      serverTimeMac?: string
      answer?: Answer
      cause?: unknown
    },
  )
  /** The shared snake_case code. */
  code: ErrorCode
  /** The code's family. */
  family: ErrorFamily
  /** For `expired`: the server's clock (ms) from an authenticated time hint. */
  serverTime?: number
  /** For `expired`: the hint's MAC (hex), checkable with the client's secret. */
  serverTimeMac?: string
  /**
   * For a request `Verifier.verify` / `verifyOnce` refused: the HTTP answer to send (status,
   * lower-case header names, body), the bytes the reference server sends. Absent otherwise.
   */
  answer?: Answer
}
/** `invalid_*`: the caller passed something that cannot be signed. */
export declare class InputError extends XNonceError {}
/** A header, ottoken or parameter string could not be parsed. */
export declare class FormatError extends XNonceError {}
/** Unknown client, bad signature, stale or replayed request. */
export declare class AuthError extends XNonceError {}
/** A route's parameter rules refused the request. */
export declare class RouteError extends XNonceError {}
/** The replay store or the network is unavailable; nothing was accepted. */
export declare class UnavailableError extends XNonceError {}

/** Options of `xnonceFetch`. */
export interface XNonceFetchOptions {
  /** The client id. */
  client: string
  /** The client's secret (64 hex characters for v2). */
  secret: string
  /** The scheme (default `'v2'`; `null` counts as absent). */
  scheme?: 'v1' | 'v2' | null
  /** The fetch to wrap (default `globalThis.fetch`, read when `xnonceFetch` is called; `null` counts as absent). */
  fetch?: ((input: string | URL | Request, init?: RequestInit) => Promise<Response>) | null
  /**
   * Correct the clock from the server's authenticated time hint and send a stale request once
   * more (default true; `null` counts as absent). `false`: nothing is learned or resent.
   */
  correctClock?: boolean | null
  /**
   * The clock offset to start from (server − local, ms; default 0): an integer within
   * ±`Number.MAX_SAFE_INTEGER` (else a `RangeError`, `ERR_OUT_OF_RANGE`), as `Requester`'s.
   */
  clockOffsetMs?: number | null
}

/**
 * A fetch-compatible function that signs each request (method, URL host, path and query,
 * form fields or, for v2, the body digest) and sends it with the `X-Nonce` header, signed at
 * `Date.now() + clockOffsetMs`.
 */
export declare function xnonceFetch(options: XNonceFetchOptions): ((
  input: string | URL | Request,
  init?: RequestInit,
) => Promise<Response>) & {
  /**
   * The clock offset in use (server − local, ms), shared by every call of this function: the
   * one given, or the one learned from the last authenticated server-time hint.
   */
  readonly clockOffsetMs: number
}

/**
 * The requests the middleware serves: node:http's, and node:http2's compatibility API's
 * (Express's `Request` extends `IncomingMessage`).
 */
export type ServerRequest = IncomingMessage | Http2ServerRequest
/** The responses that go with them. */
export type ServerResponseLike = ServerResponse | Http2ServerResponse

/**
 * Options of `middleware` (`null` counts as absent; another key is a `TypeError`,
 * `ERR_INVALID_ARG_VALUE`). `Req` and `Res` are the server's request and response types
 * (Express's `Request` and `Response`, node:http2's), inferred from `then`'s parameters or
 * from where the middleware is passed.
 */
export interface MiddlewareOptions<
  Req extends ServerRequest = IncomingMessage,
  Res extends ServerResponseLike = ServerResponse,
> {
  /** `true` (default): `verifyOnce`, a second copy of a request is refused; `false`: `verify`. */
  once?: boolean | null
  /**
   * The largest body accepted, in bytes (default 1048576, 1 MiB, as the reference server); a
   * larger one is answered 413 (`invalid_body`) without being read. A whole number ≥ 0, else a
   * `RangeError` with code `ERR_OUT_OF_RANGE`.
   */
  limit?: number | null
  /**
   * The handler of verified requests, instead of `next()`: what makes the middleware a complete
   * node:http handler, `http.createServer(middleware(verifier, { then }))`. Awaited; what it
   * throws or rejects with is handled like any error that is not a refusal.
   */
  then?: ((req: VerifiedRequest<Req>, res: Res) => unknown) | null
  /**
   * Called with an error that is not a refusal (a throwing `then`, a body already read) when
   * there is no `next` to pass it to, after the request is answered 500 without details.
   * Default: logged with `console.error`. (The middleware's promise then resolves: node:http
   * does not await a request listener, and a rejection nobody handles ends the process.)
   */
  onError?: ((error: unknown, req: Req) => void) | null
  /**
   * Where accepted requests are recorded (needs `once`), instead of the verifier's memory: a
   * store every process of the API shares (cluster workers, several hosts), such as Redis.
   * A request it reports recorded before is answered 409 (`replayed`); one it fails on, 503
   * (`store_unavailable`), the failure going to `onError`.
   */
  store?: ReplayStore | null
  /**
   * How long `store` may take to answer before the request is refused 503
   * (`store_unavailable`, a timeout error going to `onError`): a whole number of ms from 1 to
   * 2^31 − 1 (setTimeout's limit), default 2000, as the reference server's Redis store.
   */
  storeTimeoutMs?: number | null
  /**
   * How long the body may take to arrive once the middleware starts reading it, over HTTP/1.1
   * and HTTP/2 alike; after it, the request is answered 408 (`invalid_body`) and its
   * connection (HTTP/1.1) or stream (HTTP/2) closed. A whole number of ms from 1 to 2^31 − 1,
   * default 30000, as the reference server's `body_timeout_ms`.
   */
  bodyTimeoutMs?: number | null
}

/**
 * A replay store for the middleware: atomically records `key` until `expiresAtMs` (ms since
 * the epoch) unless it is recorded and unexpired at `nowMs`; `true` the first time, `false`
 * for a copy. With Redis: `SET <prefix>{<key>} 1 NX PX <expiresAtMs − nowMs + 1000>` (the
 * reference server's keys: `xnonce:replay:{<key>}`); a store over another client names them
 * with `new SharedKeys(prefix)` (`.key(key)`, `.ttlMs(expiresAtMs, nowMs)`).
 */
export interface ReplayStore {
  insertIfAbsent(key: string, expiresAtMs: number, nowMs: number): boolean | Promise<boolean>
  /**
   * A store that refuses every request for a while once it finds it lost its keys (as
   * `redisReplayStore`'s) may take this: the middleware calls it with its verifier's
   * `fenceAfterLossMs` when made, and again once a `reconfigure` raised it (a throw then
   * refuses the request 503), so that the while covers the verifier's windows.
   */
  widenFence?(ms: number): void
}

/**
 * A `ReplayStore` over a connected node-redis client (`createClient()` of the `redis`
 * package, v4 or later; the options carry NX and PX in both versions' spellings): each accepted request is one `SET <prefix>{<key>} 1 NX PX <ms>`, with the
 * reference server's keys (`prefix` default `xnonce:replay:`) and expiry (the rest of the
 * window plus 1 s), so Node processes and `xnonce-server` instances can share one Redis. A
 * command that has not answered within `timeoutMs` (default 2000; node-redis queues commands
 * while it reconnects) rejects, and the middleware answers 503; on a replica (`INFO
 * replication` says `role:slave`, asked before the first SET and after Redis lost its keys;
 * or a SET answered `READONLY`, then Redis's error as its `cause`) with an error saying it is one. A Redis whose
 * `maxmemory-policy` is not `noeviction` (a full one evicts live replay keys) is warned of
 * with `process.emitWarning` (code `XNONCE_REDIS_EVICTION`), as xnonce-server warns: read
 * with the first request and again after Redis lost its keys; not when CONFIG is refused.
 */
export declare function redisReplayStore(
  client: {
    set(
      key: string,
      value: string,
      options:
        | { expiration: { type: 'PX'; value: number }; condition: 'NX'; PX: number; NX: true }
        | { condition: 'NX'; NX: true },
    ): Promise<unknown>
    /** Reads the epoch marker (needed unless `fenceAfterLossMs` is 0). */
    get?(key: string): Promise<string | null>
    /** Reads `maxmemory-policy`, warned of unless `noeviction` (not checked without it). */
    configGet?(parameter: string): Promise<unknown>
    /** Reads `INFO replication`: a replica is refused (not checked without it). */
    info?(section: string): Promise<unknown>
  },
  options?: { prefix?: string | null; timeoutMs?: number | null; fenceAfterLossMs?: number | null } | null,
): ReplayStore & {
  key(replayKey: string): string
  /** Raises the fence to `ms` if it is shorter (never lowers it; none stays none). */
  widenFence(ms: number): void
  /** The fence in force (ms), or null for none. */
  readonly fenceMs: number | null
}

/** A request the middleware verified. */
export type VerifiedRequest<Req extends ServerRequest = IncomingMessage> = Req & {
  /** What `verify` / `verifyOnce` returned. */
  xnonce: Verified
  /** The verified body as received (also left in the request stream for a body parser). */
  rawBody: Buffer
}

/**
 * The middleware: verifies the request, then calls `then(req, res)` if given, else `next()`.
 * A refusal is answered with core's answer (`next` is not called). Any other error goes to
 * `next(error)`; without `next`, it is answered 500 without details and given to `onError`.
 */
export type XNonceMiddleware<
  Req extends ServerRequest = IncomingMessage,
  Res extends ServerResponseLike = ServerResponse,
> = (req: Req, res: Res, next?: (error?: unknown) => void) => Promise<void>

/** Options of `checkContinue` (`null` counts as absent; another key is a `TypeError`). */
export interface CheckContinueOptions {
  /** The largest `Content-Length` given its `100 Continue`, in bytes (default 1 MiB, as the middleware's). */
  limit?: number | null
}

/**
 * A `'checkContinue'` listener for a node:http (or node:http2) server,
 * `server.on('checkContinue', checkContinue({ limit }))`: a request whose declared
 * `Content-Length` is over `limit` is answered 413 before `100 Continue` (its body is never
 * sent; HTTP/1.1 closes the connection); any other gets `100 Continue` and is emitted as
 * `'request'`. Call it as a listener of the server (it emits on `this`: called on its own, it
 * throws a `TypeError`, `this` being undefined; from a listener of yours, `listener.call(server,
 * req, res)`).
 */
export declare function checkContinue(
  options?: CheckContinueOptions | null,
): (this: CheckContinueServer, req: ServerRequest, res: ServerResponseLike) => void

/** What `checkContinue`'s listener runs on: the server, which it emits `'request'` on. */
export interface CheckContinueServer {
  emit(event: 'request', req: ServerRequest, res: ServerResponseLike): boolean
}

/**
 * A server adapter for Express, Connect, node:http and node:http2: reads the body (at most
 * `limit` bytes), verifies the request (method, `req.originalUrl ?? req.url`, the host,
 * `X-Nonce`, `Content-Type`, body) and sets `req.xnonce` and `req.rawBody`; answers refusals
 * as the reference server does. Mount it before any body parser.
 */
export declare function middleware<
  Req extends ServerRequest = IncomingMessage,
  Res extends ServerResponseLike = ServerResponse,
>(verifier: Verifier, options?: MiddlewareOptions<Req, Res> | null): XNonceMiddleware<Req, Res>
