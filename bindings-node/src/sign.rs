//! `sign`, `signDetailed` and `link`: a request description and a secret in, tokens out.

use napi::bindgen_prelude::Unknown;
use napi::Env;
use napi_derive::napi;
use xnonce_core::{Scheme, Secret, SignInput, XNonce};

use crate::error::{guard, Outcome};
use crate::params::{self, Body};

/// Optional inputs of signing. Missing `timestamp` / `nonce` come from the system clock and
/// the OS random generator.
#[napi(object)]
#[derive(Default)]
pub struct SignOptions {
    /// Milliseconds since the Unix epoch (an integer number or a bigint).
    #[napi(ts_type = "number | bigint")]
    pub timestamp: Option<params::Millis>,
    /// v2: the nonce, 32 lower-case hex characters (random when absent). Ignored by v1.
    pub nonce: Option<String>,
    /// v2: the authority the request goes to (`host[:port]`); required by v2 `sign`.
    pub host: Option<String>,
    /// v2: the raw non-form body (`Buffer`, `Uint8Array` or a UTF-8 string).
    #[napi(ts_type = "Uint8Array | string")]
    pub body: Option<Body>,
}

/// What `signDetailed` returns.
#[napi(object, use_nullable = true)]
pub struct SignedDetails {
    /// The `X-Nonce` header value.
    pub x_nonce: String,
    /// The `ottoken` form of the header (not yet escaped for a query).
    pub ottoken: String,
    /// The exact string that was signed. For v1 it CONTAINS THE SECRET: never log it.
    pub canonical: String,
    /// The signed timestamp (ms).
    pub timestamp: f64,
    /// The v2 nonce; `null` for v1.
    pub nonce: Option<String>,
}

/// Builds core's input from the JS arguments (params converted in `params.rs`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn input(
    env: &Env,
    scheme: &str,
    method: String,
    path: String,
    params: Option<Unknown<'_>>,
    client: String,
    options: Option<SignOptions>,
) -> Outcome<SignInput> {
    let scheme: Scheme = scheme.parse()?;
    let options = options.unwrap_or_default();
    Ok(SignInput {
        scheme,
        method,
        path,
        params: params::collect(env, params)?,
        client,
        timestamp_ms: params::timestamp_ms(options.timestamp)?,
        nonce: options.nonce,
        host: options.host,
        body: params::body_bytes(options.body),
    })
}

/// Signs a request and returns the `X-Nonce` header value.
#[napi(
    strict,
    ts_args_type = "scheme: 'v1' | 'v2', method: string, path: string, params: Params, client: string, secret: string, options?: SignOptions"
)]
#[allow(clippy::too_many_arguments)]
pub fn sign(
    env: &Env,
    scheme: String,
    method: String,
    path: String,
    params: Option<Unknown<'_>>,
    client: String,
    secret: String,
    options: Option<SignOptions>,
) -> napi::Result<String> {
    guard(env, || {
        let input = input(env, &scheme, method, path, params, client, options)?;
        Ok(xnonce_core::sign_header_value(
            &input,
            &Secret::new(secret)?,
        )?)
    })
}

/// Signs a request and returns the header, ottoken, canonical string, timestamp and nonce.
#[napi(
    strict,
    js_name = "signDetailed",
    ts_args_type = "scheme: 'v1' | 'v2', method: string, path: string, params: Params, client: string, secret: string, options?: SignOptions"
)]
#[allow(clippy::too_many_arguments)]
pub fn sign_detailed(
    env: &Env,
    scheme: String,
    method: String,
    path: String,
    params: Option<Unknown<'_>>,
    client: String,
    secret: String,
    options: Option<SignOptions>,
) -> napi::Result<SignedDetails> {
    guard(env, || {
        let input = input(env, &scheme, method, path, params, client, options)?;
        let signed = xnonce_core::sign(&input, &Secret::new(secret)?)?;
        Ok(details(signed))
    })
}

pub(crate) fn details(signed: xnonce_core::Signed) -> SignedDetails {
    let nonce = match &signed.header {
        XNonce::V2 { nonce, .. } => Some(nonce.clone()),
        XNonce::V1 { .. } => None,
    };
    SignedDetails {
        canonical: signed.canonical().to_string(),
        timestamp: signed.timestamp_ms() as f64,
        x_nonce: signed.x_nonce,
        ottoken: signed.ottoken,
        nonce,
    }
}

/// Signs a request and returns a link (`baseUrl + path + ?params&ottoken=...`) that carries
/// its params and the `ottoken`. For v2 the signed host is the base URL's authority.
#[napi(
    strict,
    ts_args_type = "scheme: 'v1' | 'v2', method: string, path: string, params: Params, client: string, secret: string, baseUrl: string, options?: SignOptions"
)]
#[allow(clippy::too_many_arguments)]
pub fn link(
    env: &Env,
    scheme: String,
    method: String,
    path: String,
    params: Option<Unknown<'_>>,
    client: String,
    secret: String,
    base_url: String,
    options: Option<SignOptions>,
) -> napi::Result<String> {
    guard(env, || {
        let input = input(env, &scheme, method, path, params, client, options)?;
        Ok(xnonce_core::link(&input, &Secret::new(secret)?, &base_url)?.url)
    })
}

/// What `linkDetailed` returns: the link and the signature behind it.
#[napi(object, use_nullable = true)]
pub struct LinkDetails {
    /// The full URL with params and `ottoken`.
    pub url: String,
    /// The `X-Nonce` header value the link carries.
    pub x_nonce: String,
    /// The `ottoken` (not yet escaped for a query).
    pub ottoken: String,
    /// The exact string that was signed. For v1 it CONTAINS THE SECRET: never log it.
    pub canonical: String,
    /// The signed timestamp (ms).
    pub timestamp: f64,
    /// The v2 nonce; `null` for v1.
    pub nonce: Option<String>,
}

/// Like `link`, and also returns the header, ottoken, canonical string, timestamp and nonce.
#[napi(
    strict,
    js_name = "linkDetailed",
    ts_args_type = "scheme: 'v1' | 'v2', method: string, path: string, params: Params, client: string, secret: string, baseUrl: string, options?: SignOptions"
)]
#[allow(clippy::too_many_arguments)]
pub fn link_detailed(
    env: &Env,
    scheme: String,
    method: String,
    path: String,
    params: Option<Unknown<'_>>,
    client: String,
    secret: String,
    base_url: String,
    options: Option<SignOptions>,
) -> napi::Result<LinkDetails> {
    guard(env, || {
        let input = input(env, &scheme, method, path, params, client, options)?;
        let link = xnonce_core::link(&input, &Secret::new(secret)?, &base_url)?;
        let d = details(link.signed);
        Ok(LinkDetails {
            url: link.url,
            x_nonce: d.x_nonce,
            ottoken: d.ottoken,
            canonical: d.canonical,
            timestamp: d.timestamp,
            nonce: d.nonce,
        })
    })
}

/// The fast path of `sign` used by `sign.js` (one string crossing instead of a dozen napi
/// values): `packed` is core's packed request (`xnonce_core::js`) holding `pairs` string
/// params. Returns `null` when the field count does not match (a field held a NUL): the caller
/// then uses the general `sign`, so the result never depends on the path taken.
#[napi(
    js_name = "signPacked",
    ts_args_type = "packed: string, pairs: number, timestamp?: number | bigint, body?: Uint8Array | string"
)]
pub fn sign_packed(
    env: &Env,
    packed: String,
    pairs: u32,
    timestamp: Option<params::Millis>,
    body: Option<Body>,
) -> napi::Result<Option<String>> {
    guard(env, || {
        let Some((mut input, secret)) = xnonce_core::js::unpack(&packed, pairs as usize)? else {
            return Ok(None);
        };
        input.timestamp_ms = params::timestamp_ms(timestamp)?;
        input.body = params::body_bytes(body);
        Ok(Some(xnonce_core::sign_header_value(
            &input,
            &Secret::new(secret)?,
        )?))
    })
}
