//! TypeScript declarations of the values this package passes to and from JS.
//! (`.d.ts` output; checked by `tsc --noEmit` over `types-check/example.ts`.)

use wasm_bindgen::prelude::*;

/// The declarations, also read by the unit tests below.
#[allow(dead_code)] // read through TS_TYPES; rustc does not see the use on every target
const TS_TEXT: &str = r#"
/** The signing scheme: `"v2"` (HMAC-SHA256, recommended) or `"v1"` (em-secure-api legacy). */
export type Scheme = "v1" | "v2";

/** A parameter value; numbers, bigints and booleans become text by xnonce's shared rules. */
export type ParamValue = string | number | bigint | boolean;

/**
 * `[key, value]` pairs: an array, a Map, URLSearchParams or any iterable of pairs (an object
 * with a `Symbol.iterator` method is always iterated), in iteration order; or a plain object,
 * in property order. Other objects (class instances, `Date`, ...) are refused.
 */
export type Params =
  | ReadonlyArray<readonly [string, ParamValue]>
  | Readonly<Record<string, ParamValue>>
  | ReadonlyMap<string, ParamValue>
  | URLSearchParams
  | Iterable<readonly [string, ParamValue]>;

/** Optional inputs of `sign`, `signDetailed` and `link` (`null` counts as absent). */
export interface SignOptions {
  /** Milliseconds since the epoch; default `Date.now()`. */
  timestamp?: number | bigint | null;
  /** v2: 32 lower-case hex characters; default 16 bytes from `crypto.getRandomValues`. */
  nonce?: string | null;
  /** v2: the authority the request goes to (`host[:port]`); `link` takes it from the URL. */
  host?: string | null;
  /** v2: a non-form body (its SHA-256 is signed). Strings are sent as UTF-8. */
  body?: Uint8Array | ArrayBuffer | string | null;
}

/** The parts of a request `signRequest` reads besides its method and target (`null` counts as absent). */
export interface RequestParts {
  /** The `Host` you send (v2 signs it; v1 ignores it); an absolute-form target's authority wins. */
  host?: string | null;
  /** The `Content-Type` you send: a form's fields are signed as params, as the verifier reads them. */
  contentType?: string | null;
  /** The body you send: a form (by `contentType`) or, v2, a body whose SHA-256 is signed. Strings are sent as UTF-8. */
  body?: Uint8Array | ArrayBuffer | string | null;
  /** Milliseconds since the epoch; default `Date.now()`. */
  timestamp?: number | bigint | null;
  /** v2: 32 lower-case hex characters; default 16 bytes from `crypto.getRandomValues`. */
  nonce?: string | null;
}

/** What `signDetailed` returns: the same fields as the Node package `xnonce`'s. */
export interface SignedDetails {
  /** The `X-Nonce` header value. */
  xNonce: string;
  /** The header as a link parameter (escape it with `ottokenQueryValue`). */
  ottoken: string;
  /**
   * The exact signed string. For v1 it CONTAINS THE SECRET: never log or display it. A
   * non-enumerable getter, so that `JSON.stringify`, `console.log` / `util.inspect`,
   * `Object.keys` and `{ ...result }` leave it out (and do not copy it): read it by name.
   */
  readonly canonical: string;
  /** The signed timestamp (ms). */
  timestamp: number;
  /** The v2 nonce; `null` for v1. */
  nonce: string | null;
}

/** What `linkDetailed` returns: the link and its signature. */
export interface LinkDetails extends SignedDetails {
  /** The full URL: base, path, params and the escaped `ottoken` last. */
  url: string;
}

/** The former name of `SignedDetails`. */
export type Signed = SignedDetails;
/** The former name of `LinkDetails`. */
export type SignedLink = LinkDetails;

/**
 * A parsed `X-Nonce` header value, with the Node package's fields: `mac` is the v1 token or the
 * v2 signature (lower-case hex); `nonce` is `null` for v1.
 */
export type Header =
  | { scheme: "v1"; client: string; timestamp: number; nonce: null; mac: string }
  | { scheme: "v2"; client: string; timestamp: number; nonce: string; mac: string };

/** The shared error codes (the same strings in every xnonce language). */
export type ErrorCode =
  | "invalid_client_id"
  | "invalid_param_key"
  | "invalid_param_value"
  | "invalid_secret"
  | "invalid_method"
  | "invalid_path"
  | "invalid_host"
  | "invalid_nonce"
  | "invalid_timestamp"
  | "invalid_body"
  | "invalid_url"
  | "malformed_header"
  | "malformed_ottoken"
  | "malformed_params"
  | "missing_header"
  | "unsupported_scheme"
  | "unknown_client"
  | "signature_mismatch"
  | "expired"
  | "replayed"
  | "missing_param"
  | "excluded_param"
  | "unknown_route"
  | "store_unavailable"
  | "connection_failed"
  | "rate_limited";

/** The family of an error code. */
export type ErrorFamily = "input" | "format" | "auth" | "route" | "unavailable";

/** One shared error code, as listed by `errorCodes()` (the Node package's `ErrorCodeInfo`). */
export interface ErrorCodeInfo {
  /** The snake_case code (`invalid_secret`, `replayed`, ...). */
  code: ErrorCode;
  /** Its family. */
  family: ErrorFamily;
  /** The HTTP status a server answers with. */
  httpStatus: number;
}

/**
 * Base class of every error this package throws for a value it cannot sign or parse (as in the
 * Node package `xnonce`); the subclass tells the family. An argument of the wrong JavaScript
 * type is a plain `TypeError` instead.
 */
export declare class XNonceError extends Error {
  constructor(code: ErrorCode, message: string, extra?: { family?: ErrorFamily; cause?: unknown });
  /** The shared snake_case code. */
  code: ErrorCode;
  /** The code's family. */
  family: ErrorFamily;
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
"#;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = TS_TEXT;

#[cfg(test)]
mod tests {
    use xnonce_core::{ErrorCode, ErrorFamily};

    fn union(name: &str) -> Vec<String> {
        let start = super::TS_TEXT
            .find(&format!("export type {name} ="))
            .expect("type present");
        let body = &super::TS_TEXT[start..];
        let body = &body[..body.find(';').expect("type ends")];
        body.split('"')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn ts_error_codes_are_cores() {
        let core: Vec<String> = ErrorCode::ALL.iter().map(|c| c.as_str().into()).collect();
        assert_eq!(union("ErrorCode"), core);
    }

    #[test]
    fn ts_error_families_are_cores() {
        let mut fams: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.family().as_str()).collect();
        fams.dedup();
        let fams: Vec<String> = fams.into_iter().map(String::from).collect();
        assert_eq!(union("ErrorFamily"), fams);
        let _ = ErrorFamily::Input;
    }
}
