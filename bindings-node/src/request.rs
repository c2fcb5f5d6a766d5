//! `signRequest`: signs a request as an HTTP stack holds it (method, host, `/path?query`,
//! content type, raw body), reading its params exactly as a verifier will: the query, plus
//! the form body's fields when the body is `application/x-www-form-urlencoded`; any other
//! body is signed by its SHA-256 (v2 only). `xnonceFetch` is built on it.

use napi::Env;
use napi_derive::napi;
use xnonce_core::verify::is_form_content_type;
use xnonce_core::{ErrorCode, Scheme, Secret, SignInput};

use crate::error::{fail, guard};
use crate::params::{self, Body};

/// What an HTTP stack knows about the request besides method and target.
#[napi(object)]
#[derive(Default)]
pub struct RequestParts {
    /// The authority the request goes to (`host[:port]`); required by v2.
    pub host: Option<String>,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The raw body.
    #[napi(ts_type = "Uint8Array | string")]
    pub body: Option<Body>,
    /// Milliseconds since the epoch, a number or a bigint (default: the system clock).
    #[napi(ts_type = "number | bigint")]
    pub timestamp: Option<crate::params::Millis>,
    /// v2 nonce (default: random).
    pub nonce: Option<String>,
}

/// Signs a raw request (`target` = `/path?query`, as sent) and returns the `X-Nonce` value.
#[napi(
    strict,
    js_name = "signRequest",
    ts_args_type = "scheme: 'v1' | 'v2', method: string, target: string, client: string, secret: string, parts?: RequestParts"
)]
pub fn sign_request(
    env: &Env,
    scheme: String,
    method: String,
    target: String,
    client: String,
    secret: String,
    parts: Option<RequestParts>,
) -> napi::Result<String> {
    guard(env, || {
        let scheme: Scheme = scheme.parse()?;
        let parts = parts.unwrap_or_default();
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        if path.contains('#') || query.contains('#') {
            return fail(ErrorCode::InvalidPath, "a request target has no fragment");
        }
        let body = params::body_bytes(parts.body).unwrap_or_default();
        let form = is_form_content_type(parts.content_type.as_deref());
        let form_text = match form {
            true => Some(std::str::from_utf8(&body).map_err(|_| {
                xnonce_core::Error::new(ErrorCode::MalformedParams, "form body is not UTF-8")
            })?),
            false => None,
        };
        let input = SignInput {
            scheme,
            method,
            path: path.to_string(),
            params: xnonce_core::params::from_query_and_form(scheme, query, form_text)?,
            client,
            timestamp_ms: params::timestamp_ms(parts.timestamp)?,
            nonce: parts.nonce,
            host: parts.host,
            body: (!form && !body.is_empty()).then_some(body.clone()),
        };
        Ok(xnonce_core::sign(&input, &Secret::new(secret)?)?.x_nonce)
    })
}
