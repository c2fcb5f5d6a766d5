//! `sign`, `signDetailed` and `link`: a request description and a secret in, tokens out.

use napi::bindgen_prelude::Unknown;
use napi::Env;
use napi_derive::napi;
use xnonce_core::{Scheme, Secret, SignInput, XNonce};

use xnonce_core::Input;

use crate::error::{guard, Outcome};
use crate::options::{Checked, OptionKeys};
use crate::params::{self, Body, Text};

/// Optional inputs of signing. Missing `timestamp` / `nonce` come from the system clock and
/// the OS random generator. `null` counts as absent, as in every options object of the package
/// (and of xnonce-wasm); a key not listed here is a `TypeError` (`ERR_INVALID_ARG_VALUE`).
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct SignOptions {
    /// Milliseconds since the Unix epoch (an integer number or a bigint).
    #[napi(ts_type = "number | bigint | null")]
    pub timestamp: Option<Option<params::Millis>>,
    /// v2: the nonce, 32 lower-case hex characters (random when absent). Ignored by v1.
    #[napi(ts_type = "string | null")]
    pub nonce: Option<Option<Text>>,
    /// v2: the authority the request goes to (`host[:port]`); required by v2 `sign`.
    #[napi(ts_type = "string | null")]
    pub host: Option<Option<Text>>,
    /// v2: the raw non-form body (`Buffer`, `Uint8Array`, `ArrayBuffer` or a UTF-8 string).
    #[napi(ts_type = "Uint8Array | ArrayBuffer | string | null")]
    pub body: Option<Option<Body>>,
}

impl OptionKeys for SignOptions {
    const ARGUMENT: &'static str = "options";
    const KEYS: &'static [&'static str] = &["timestamp", "nonce", "host", "body"];
}

/// What `signDetailed` returns.
#[napi(object, use_nullable = true)]
pub struct SignedDetails {
    /// The `X-Nonce` header value.
    pub x_nonce: String,
    /// The `ottoken` form of the header (not yet escaped for a query).
    pub ottoken: String,
    /// The exact string that was signed. For v1 it CONTAINS THE SECRET: never log it. A
    /// getter that is not enumerable (sign.js), so `console.log`, `util.inspect` (even with
    /// `showHidden`), `JSON.stringify` and `{ ...spread }` leave it out; read it as
    /// `.canonical`.
    pub canonical: String,
    /// The signed timestamp (ms).
    pub timestamp: f64,
    /// The v2 nonce; `null` for v1.
    pub nonce: Option<String>,
}

/// Builds core's input from the JS arguments (params converted in `params.rs`). Every text
/// field must be well-formed, each refused with its own code.
#[allow(clippy::too_many_arguments)]
pub(crate) fn input(
    env: &Env,
    scheme: Text,
    method: Text,
    path: Text,
    params: Option<Unknown<'_>>,
    client: Text,
    options: Option<Checked<SignOptions>>,
) -> Outcome<SignInput> {
    let scheme: Scheme = scheme.check(Input::Scheme)?.parse()?;
    let options = options.map(Checked::into_inner).unwrap_or_default();
    Ok(SignInput {
        scheme,
        method: method.check(Input::Method)?,
        path: path.check(Input::Path)?,
        params: params::collect(env, params)?,
        client: client.check(Input::Client)?,
        timestamp_ms: params::timestamp_ms(options.timestamp.flatten())?,
        nonce: params::optional_text(options.nonce, Input::Nonce)?,
        host: params::optional_text(options.host, Input::Host)?,
        body: params::body_bytes(options.body.flatten())?,
    })
}

/// The secret (`invalid_secret`, never showing it).
pub(crate) fn secret_of(text: Text) -> Outcome<Secret> {
    Ok(Secret::new(text.check(Input::Secret)?)?)
}

/// `sign` for sign.js once it has checked the option keys itself (with `for…in`, as
/// [`Checked`] does): the same signing, without reading the keys again through napi (about
/// 0.8 µs a call). Not the package's API: index.js exports sign.js's `sign`, which calls this
/// only after that check.
#[napi(
    strict,
    js_name = "signKeysChecked",
    ts_args_type = "scheme: 'v1' | 'v2', method: string, path: string, params: Params, client: string, secret: string, options?: SignOptions | null"
)]
#[allow(clippy::too_many_arguments)]
pub fn sign_keys_checked(
    env: &Env,
    scheme: Text,
    method: Text,
    path: Text,
    params: Option<Unknown<'_>>,
    client: Text,
    secret: Text,
    options: Option<SignOptions>,
) -> napi::Result<String> {
    let options = options.map(Checked);
    sign(env, scheme, method, path, params, client, secret, options)
}

/// Signs a request and returns the `X-Nonce` header value.
#[napi(
    strict,
    ts_args_type = "scheme: 'v1' | 'v2', method: string, path: string, params: Params, client: string, secret: string, options?: SignOptions | null"
)]
#[allow(clippy::too_many_arguments)]
pub fn sign(
    env: &Env,
    scheme: Text,
    method: Text,
    path: Text,
    params: Option<Unknown<'_>>,
    client: Text,
    secret: Text,
    options: Option<Checked<SignOptions>>,
) -> napi::Result<String> {
    guard(env, || {
        let input = input(env, scheme, method, path, params, client, options)?;
        Ok(xnonce_core::sign_header_value(&input, &secret_of(secret)?)?)
    })
}

/// Signs a request and returns the header, ottoken, canonical string, timestamp and nonce.
#[napi(
    strict,
    js_name = "signDetailed",
    ts_args_type = "scheme: 'v1' | 'v2', method: string, path: string, params: Params, client: string, secret: string, options?: SignOptions | null",
    ts_return_type = "SignedDetails"
)]
#[allow(clippy::too_many_arguments)]
pub fn sign_detailed(
    env: &Env,
    scheme: Text,
    method: Text,
    path: Text,
    params: Option<Unknown<'_>>,
    client: Text,
    secret: Text,
    options: Option<Checked<SignOptions>>,
) -> napi::Result<SignedDetails> {
    guard(env, || {
        let input = input(env, scheme, method, path, params, client, options)?;
        let signed = xnonce_core::sign(&input, &secret_of(secret)?)?;
        Ok(details(signed))
    })
}

/// A link's base URL (`invalid_url`).
fn url(base_url: Text) -> Outcome<String> {
    base_url.check(Input::BaseUrl)
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
    ts_args_type = "scheme: 'v1' | 'v2', method: string, path: string, params: Params, client: string, secret: string, baseUrl: string, options?: SignOptions | null"
)]
#[allow(clippy::too_many_arguments)]
pub fn link(
    env: &Env,
    scheme: Text,
    method: Text,
    path: Text,
    params: Option<Unknown<'_>>,
    client: Text,
    secret: Text,
    base_url: Text,
    options: Option<Checked<SignOptions>>,
) -> napi::Result<String> {
    guard(env, || {
        let input = input(env, scheme, method, path, params, client, options)?;
        Ok(xnonce_core::link(&input, &secret_of(secret)?, &url(base_url)?)?.url)
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
    /// The exact string that was signed. For v1 it CONTAINS THE SECRET: never log it. A
    /// getter that is not enumerable (sign.js), so `console.log`, `util.inspect` (even with
    /// `showHidden`), `JSON.stringify` and `{ ...spread }` leave it out; read it as
    /// `.canonical`.
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
    ts_args_type = "scheme: 'v1' | 'v2', method: string, path: string, params: Params, client: string, secret: string, baseUrl: string, options?: SignOptions | null",
    ts_return_type = "LinkDetails"
)]
#[allow(clippy::too_many_arguments)]
pub fn link_detailed(
    env: &Env,
    scheme: Text,
    method: Text,
    path: Text,
    params: Option<Unknown<'_>>,
    client: Text,
    secret: Text,
    base_url: Text,
    options: Option<Checked<SignOptions>>,
) -> napi::Result<LinkDetails> {
    guard(env, || {
        let input = input(env, scheme, method, path, params, client, options)?;
        let link = xnonce_core::link(&input, &secret_of(secret)?, &url(base_url)?)?;
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
/// values): `packed` is core's packed request (`xnonce_core::packed`) holding `pairs` string
/// params. Returns `null` when the field count does not match (a field held a NUL) or a field
/// is not well-formed text: the caller then uses the general `sign` (which reports the field),
/// so the result never depends on the path taken.
#[napi(
    js_name = "signPacked",
    ts_args_type = "packed: string, pairs: number, timestamp?: number | bigint | null, body?: Uint8Array | ArrayBuffer | string | null"
)]
pub fn sign_packed(
    env: &Env,
    packed: Text,
    pairs: u32,
    timestamp: Option<params::Millis>,
    body: Option<Body>,
) -> napi::Result<Option<String>> {
    guard(env, || {
        // Text that is not well-formed: the general path says which field and code.
        let ill_formed_body = body.as_ref().is_some_and(Body::is_ill_formed_text);
        let Some(packed) = packed.into_well_formed().filter(|_| !ill_formed_body) else {
            return Ok(None);
        };
        let Some((mut input, secret)) = xnonce_core::packed::unpack(&packed, pairs as usize)?
        else {
            return Ok(None);
        };
        input.timestamp_ms = params::timestamp_ms(timestamp)?;
        input.body = params::body_bytes(body)?;
        Ok(Some(xnonce_core::sign_header_value(
            &input,
            &Secret::new(secret)?,
        )?))
    })
}
