//! `signRequest`: signs a request as an HTTP stack holds it (method, host, `/path?query`,
//! content type, raw body), reading its params exactly as a verifier will: the query, plus
//! the form body's fields when the body is `application/x-www-form-urlencoded`; any other
//! body is signed by its SHA-256 (v2 only). `xnonceFetch` is built on it.

use napi::Env;
use napi_derive::napi;
use xnonce_core::{Incoming, Input, Scheme, SignInput};

use crate::error::guard;
use crate::options::{Checked, OptionKeys};
use crate::params::{self, Body, Text};

/// What an HTTP stack knows about the request besides method and target (`null` counts as
/// absent; another key is a `TypeError`).
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct RequestParts {
    /// The authority the request goes to (`host[:port]`); required by v2.
    #[napi(ts_type = "string | null")]
    pub host: Option<Option<Text>>,
    /// The `Content-Type` header.
    #[napi(ts_type = "string | null")]
    pub content_type: Option<Option<Text>>,
    /// The raw body.
    #[napi(ts_type = "Uint8Array | ArrayBuffer | string | null")]
    pub body: Option<Option<Body>>,
    /// Milliseconds since the epoch, a number or a bigint (default: the system clock).
    #[napi(ts_type = "number | bigint | null")]
    pub timestamp: Option<Option<crate::params::Millis>>,
    /// v2 nonce (default: random).
    #[napi(ts_type = "string | null")]
    pub nonce: Option<Option<Text>>,
}

impl OptionKeys for RequestParts {
    const ARGUMENT: &'static str = "parts";
    const KEYS: &'static [&'static str] = &["host", "contentType", "body", "timestamp", "nonce"];
}

/// Signs a raw request (`target` = `/path?query`, as sent) and returns the `X-Nonce` value.
/// A target with a fragment (`#`) is `invalid_path`; an empty path is sent as `/`.
#[napi(
    strict,
    js_name = "signRequest",
    ts_args_type = "scheme: 'v1' | 'v2', method: string, target: string, client: string, secret: string, parts?: RequestParts | null"
)]
pub fn sign_request(
    env: &Env,
    scheme: Text,
    method: Text,
    target: Text,
    client: Text,
    secret: Text,
    parts: Option<Checked<RequestParts>>,
) -> napi::Result<String> {
    guard(env, || {
        let scheme: Scheme = scheme.check(Input::Scheme)?.parse()?;
        let parts = parts.map(Checked::into_inner).unwrap_or_default();
        let method = method.check(Input::Method)?;
        // A lone surrogate anywhere in the target is `invalid_path`, as in Python (and as the
        // verifier says of the same target).
        let target = target.check(Input::Target)?;
        let body = params::body_bytes(parts.body.flatten())?.unwrap_or_default();
        let content_type = params::optional_text(parts.content_type, Input::ContentType)?;
        let host = params::optional_text(parts.host, Input::Host)?;
        let req = Incoming::new(&method, &target)
            .host_header(host.as_deref())
            .body(content_type.as_deref(), &body);
        let client = client.check(Input::Client)?;
        let mut input = SignInput::for_request(scheme, &req, client)?;
        input.timestamp_ms = params::timestamp_ms(parts.timestamp.flatten())?;
        input.nonce = params::optional_text(parts.nonce, Input::Nonce)?;
        Ok(xnonce_core::sign(&input, &crate::sign::secret_of(secret)?)?.x_nonce)
    })
}

/// For `xnonceFetch`, when one is made: the scheme, the client id and the secret, checked as
/// every request it signs will need them (core's `check_signer`: text rules, client id, v2's
/// 64 hex digits), so that a wrong credential throws there rather than on each request.
#[napi(
    strict,
    js_name = "checkSigner",
    ts_args_type = "scheme: 'v1' | 'v2', client: string, secret: string"
)]
pub fn check_signer(env: &Env, scheme: Text, client: Text, secret: Text) -> napi::Result<()> {
    guard(env, || {
        let scheme: Scheme = scheme.check(Input::Scheme)?.parse()?;
        let secret = crate::sign::secret_of(secret)?;
        Ok(xnonce_core::sign::check_signer(
            scheme,
            &client.check(Input::Client)?,
            &secret,
        )?)
    })
}
