//! `signRequest`: signs a request as an HTTP stack holds it (method, host, `/path?query`,
//! content type, raw body), reading its params exactly as a verifier will: the query, plus
//! the form body's fields when the body is `application/x-www-form-urlencoded`; any other
//! body is signed by its SHA-256 (v2 only). `xnonceFetch` is built on it.

use napi::Env;
use napi_derive::napi;
use xnonce_core::verify::is_form_content_type;
use xnonce_core::{ErrorCode, Scheme, SignInput};

use crate::error::{fail, guard};
use crate::params::{self, Body, Text};

/// What an HTTP stack knows about the request besides method and target (`null` counts as
/// absent).
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct RequestParts {
    /// The authority the request goes to (`host[:port]`); required by v2.
    #[napi(ts_type = "string | null")]
    pub host: Option<Option<Text>>,
    /// The `Content-Type` header.
    #[napi(ts_type = "string | null")]
    pub content_type: Option<Option<String>>,
    /// The raw body.
    #[napi(ts_type = "Uint8Array | string | null")]
    pub body: Option<Option<Body>>,
    /// Milliseconds since the epoch, a number or a bigint (default: the system clock).
    #[napi(ts_type = "number | bigint | null")]
    pub timestamp: Option<Option<crate::params::Millis>>,
    /// v2 nonce (default: random).
    #[napi(ts_type = "string | null")]
    pub nonce: Option<Option<Text>>,
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
    method: Text,
    target: Text,
    client: Text,
    secret: Text,
    parts: Option<RequestParts>,
) -> napi::Result<String> {
    guard(env, || {
        let scheme: Scheme = scheme.parse()?;
        let parts = parts.unwrap_or_default();
        let method = method.check(ErrorCode::InvalidMethod, "the method")?;
        let (path, query) = target
            .as_str()
            .split_once('?')
            .unwrap_or((target.as_str(), ""));
        if let Some(at) = target.lone_surrogate_at() {
            // napi's U+FFFD stands for the surrogate, one UTF-16 unit for one: same index.
            let (code, what) = match at < path.encode_utf16().count() {
                true => (ErrorCode::InvalidPath, "the path"),
                false => (ErrorCode::MalformedParams, "the query"),
            };
            return Err(xnonce_core::Error::ill_formed_text(code, what).into());
        }
        if path.contains('#') || query.contains('#') {
            return fail(ErrorCode::InvalidPath, "a request target has no fragment");
        }
        let body = params::body_bytes(parts.body.flatten())?.unwrap_or_default();
        let content_type = parts.content_type.flatten();
        let form = is_form_content_type(content_type.as_deref());
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
            client: client.check(ErrorCode::InvalidClientId, "the client id")?,
            timestamp_ms: params::timestamp_ms(parts.timestamp.flatten())?,
            nonce: params::optional_text(parts.nonce, ErrorCode::InvalidNonce, "the nonce")?,
            host: params::optional_text(parts.host, ErrorCode::InvalidHost, "the host")?,
            body: (!form && !body.is_empty()).then_some(body.clone()),
        };
        Ok(xnonce_core::sign(&input, &crate::sign::secret_of(secret)?)?.x_nonce)
    })
}
