//! `xnonce-wasm`: xnonce for browsers and Node through WebAssembly.
//!
//! A thin wasm-bindgen layer over [`xnonce_core`]: every byte of every token comes from core.
//! Time comes from `Date.now()` and v2 nonces from `crypto.getRandomValues` unless given
//! (see [`env::JsEnvironment`]); errors become JS `Error`s named `XNonceError` with the
//! shared `.code` (see [`error`]). The JS surface is documented in `bindings-wasm/README.md`.

#![warn(missing_docs)]
// Not a Rust API (its users call it from JavaScript): its docs describe its internals and may
// link private items.
#![allow(rustdoc::private_intra_doc_links)]

pub mod convert;
pub mod env;
pub mod error;
pub mod packed;
mod types;

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;
use xnonce_core::{
    link_with, ottoken, sign_header_value_with, sign_with, time_hint, ErrorCode, Incoming, Input,
    Link, Secret, ServerTimeHint, SignInput, Signed, XNonce,
};

use crate::env::JsEnvironment;
use crate::error::{JsResult, XNonceError};

fn secret(value: &JsValue) -> JsResult<Secret> {
    let text = convert::text(value, "secret", Input::Secret)?;
    Ok(Secret::new(text)?)
}

thread_local! {
    /// Field names already made into JS strings (each result object reuses them).
    static KEYS: std::cell::RefCell<Vec<(&'static str, JsValue)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The JS string of a field name, made once.
fn key(name: &'static str) -> JsValue {
    KEYS.with(|keys| {
        let mut keys = keys.borrow_mut();
        if let Some((_, v)) = keys.iter().find(|(k, _)| *k == name) {
            return v.clone();
        }
        let v = JsValue::from_str(name);
        keys.push((name, v.clone()));
        v
    })
}

/// A plain JS object from `(name, value)` fields.
fn object(fields: &[(&'static str, JsValue)]) -> JsValue {
    let obj = Object::new();
    for (k, v) in fields {
        // Defining data properties on a fresh plain object cannot fail.
        let _ = Reflect::set(&obj, &key(k), v);
    }
    obj.into()
}

fn ts(ms: u64) -> JsValue {
    // Core caps timestamps at 2^53 - 1: exact as a JS number.
    JsValue::from_f64(ms as f64)
}

#[wasm_bindgen]
extern "C" {
    /// `String.prototype.valueOf`: bound to a string, a getter that returns it.
    #[wasm_bindgen(thread_local_v2, js_namespace = ["String", "prototype"], js_name = valueOf)]
    static STRING_VALUE_OF: js_sys::Function;
}

/// Adds `canonical` to a result object as a non-enumerable getter: `.canonical` reads it, but
/// `JSON.stringify`, `Object.keys`, spreading, `console.log` and Node's `util.inspect` (even
/// with `showHidden`, which shows `[Getter]`) leave it out, and browser consoles show it only
/// when clicked. For v1 it holds the secret (the v1 token is the SHA-256 of it), so a
/// logged or serialized result must not carry it. The getter is `String.prototype.valueOf`
/// bound to the string: no closure to free and no code compiled at run time (CSP).
fn define_canonical(obj: &JsValue, canonical: &str) {
    let getter = STRING_VALUE_OF.with(|f| f.bind0(&JsValue::from_str(canonical)));
    let descriptor = Object::new();
    // Plain data properties on a fresh object: cannot fail.
    let _ = Reflect::set(&descriptor, &"get".into(), &getter);
    let _ = Reflect::set(&descriptor, &"configurable".into(), &JsValue::TRUE);
    // `enumerable` is absent: false. Defining a new property on a fresh extensible object
    // cannot fail.
    Object::define_property(
        obj.unchecked_ref::<Object>(),
        &key("canonical"),
        &descriptor,
    );
}

/// The result of `signDetailed` (and, after `url`, of `linkDetailed`): the fields of the Node
/// package's `SignedDetails`, in its order — `xNonce`, `ottoken`, `canonical` (hidden, see
/// [`define_canonical`]), `timestamp`, `nonce` (`null` for v1).
fn signed_object(s: &Signed, url: Option<&str>) -> JsValue {
    let nonce = match &s.header {
        XNonce::V2 { nonce, .. } => JsValue::from_str(nonce),
        XNonce::V1 { .. } => JsValue::NULL,
    };
    let mut head = Vec::with_capacity(3);
    if let Some(url) = url {
        head.push(("url", url.into()));
    }
    head.extend([
        ("xNonce", s.x_nonce.as_str().into()),
        ("ottoken", s.ottoken.as_str().into()),
    ]);
    let obj = object(&head);
    // `canonical` where the Node package has it (`Reflect.ownKeys` lists the same keys in the
    // same order), then the rest.
    define_canonical(&obj, s.canonical());
    for (k, v) in [("timestamp", ts(s.timestamp_ms())), ("nonce", nonce)] {
        // Plain data properties on a fresh object: cannot fail.
        let _ = Reflect::set(&obj, &key(k), &v);
    }
    obj
}

/// The positional arguments every signing call shares: scheme, method, path, params,
/// client, secret.
type SignArgs<'a> = [&'a JsValue; 6];

fn sign_core(args: SignArgs, options: Option<&JsValue>) -> JsResult<Signed> {
    let [scheme, method, path, params, client, secret_v] = args;
    let input = convert::sign_input(scheme, method, path, params, client, options)?;
    let secret = secret(secret_v)?;
    JsEnvironment::run(|env| sign_with(&input, &secret, env))
}

/// Only the header value (no ottoken or canonical string is built).
fn sign_header(args: SignArgs, options: Option<&JsValue>) -> JsResult<String> {
    let [scheme, method, path, params, client, secret_v] = args;
    let input = convert::sign_input(scheme, method, path, params, client, options)?;
    let secret = secret(secret_v)?;
    JsEnvironment::run(|env| sign_header_value_with(&input, &secret, env))
}

/// Signs a request; returns the `X-Nonce` header value.
#[wasm_bindgen(unchecked_return_type = "string")]
pub fn sign(
    #[wasm_bindgen(unchecked_param_type = "Scheme")] scheme: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] method: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] path: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Params | null | undefined")] params: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] client: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] secret: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "SignOptions | null")] options: Option<JsValue>,
) -> Result<String, XNonceError> {
    let args = [&scheme, &method, &path, &params, &client, &secret];
    sign_header(args, options.as_ref())
}

/// Signs a request; returns every part of the signature (`xNonce`, `ottoken`, `canonical`,
/// `timestamp`, `nonce`), as the Node package's `signDetailed`. For v1 `canonical` contains the
/// secret: it is a non-enumerable getter (left out of JSON and `console.log`); never log or
/// display its value.
#[wasm_bindgen(js_name = signDetailed, unchecked_return_type = "SignedDetails")]
pub fn sign_detailed(
    #[wasm_bindgen(unchecked_param_type = "Scheme")] scheme: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] method: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] path: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Params | null | undefined")] params: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] client: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] secret: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "SignOptions | null")] options: Option<JsValue>,
) -> Result<JsValue, XNonceError> {
    let args = [&scheme, &method, &path, &params, &client, &secret];
    let signed = sign_core(args, options.as_ref())?;
    Ok(signed_object(&signed, None))
}

fn link_core(args: SignArgs, base_url: &JsValue, options: Option<&JsValue>) -> JsResult<Link> {
    let [scheme, method, path, params, client, secret_v] = args;
    let input = convert::sign_input(scheme, method, path, params, client, options)?;
    let base = convert::text(base_url, "baseUrl", Input::BaseUrl)?;
    let secret = secret(secret_v)?;
    JsEnvironment::run(|env| link_with(&input, &secret, &base, env))
}

/// Signs a request and returns a link under `baseUrl` (`http(s)://authority[/prefix]`) that
/// carries the params and the one-time `ottoken`; v2 signs the base URL's authority as host.
#[wasm_bindgen(unchecked_return_type = "string")]
#[allow(clippy::too_many_arguments)]
pub fn link(
    #[wasm_bindgen(unchecked_param_type = "Scheme")] scheme: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] method: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] path: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Params | null | undefined")] params: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] client: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] secret: JsValue,
    #[wasm_bindgen(js_name = baseUrl, unchecked_param_type = "string")] base_url: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "SignOptions | null")] options: Option<JsValue>,
) -> Result<String, XNonceError> {
    let args = [&scheme, &method, &path, &params, &client, &secret];
    Ok(link_core(args, &base_url, options.as_ref())?.url)
}

/// Like [`link`], returning the URL (`url`) with every part of its signature (see
/// `signDetailed`), as the Node package's `linkDetailed`.
#[wasm_bindgen(js_name = linkDetailed, unchecked_return_type = "LinkDetails")]
#[allow(clippy::too_many_arguments)]
pub fn link_detailed(
    #[wasm_bindgen(unchecked_param_type = "Scheme")] scheme: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] method: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] path: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Params | null | undefined")] params: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] client: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] secret: JsValue,
    #[wasm_bindgen(js_name = baseUrl, unchecked_param_type = "string")] base_url: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "SignOptions | null")] options: Option<JsValue>,
) -> Result<JsValue, XNonceError> {
    let args = [&scheme, &method, &path, &params, &client, &secret];
    let l = link_core(args, &base_url, options.as_ref())?;
    Ok(signed_object(&l.signed, Some(&l.url)))
}

/// Signs a request as your HTTP client is about to send it (a `fetch` in a Worker, Deno or a
/// browser); returns the `X-Nonce` header value, as the Node package's `signRequest`.
/// `target` is the request target as sent (`/path?query`, percent-encoded as it goes out:
/// `url.pathname + url.search`; an absolute-form target's authority is the host): the params
/// are read from its query and, for an `application/x-www-form-urlencoded` `contentType`, from
/// the form `body`, exactly as the scheme's verifier reads them (PROTOCOL §10.1), so the header
/// cannot disagree with the URL. Any other body is signed as the body (v2) or refused (v1,
/// `invalid_body`); a target with a fragment (`#`) is `invalid_path`; an empty path is sent
/// as `/`.
#[wasm_bindgen(js_name = signRequest, unchecked_return_type = "string")]
pub fn sign_request(
    #[wasm_bindgen(unchecked_param_type = "Scheme")] scheme: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] method: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] target: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] client: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] secret_v: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "RequestParts | null")] parts: Option<JsValue>,
) -> Result<String, XNonceError> {
    let scheme = convert::scheme(&scheme)?;
    let method = convert::text(&method, "method", Input::Method)?;
    let target = convert::text(&target, "target", Input::Target)?;
    let client = convert::text(&client, "client", Input::Client)?;
    let parts = convert::request_parts(parts.as_ref())?;
    let secret = secret(&secret_v)?;
    let req = Incoming::new(&method, &target)
        .host_header(parts.host.as_deref())
        .body(parts.content_type.as_deref(), &parts.body);
    let mut input = SignInput::for_request(scheme, &req, &client)?;
    input.timestamp_ms = parts.timestamp_ms;
    input.nonce = parts.nonce;
    JsEnvironment::run(|env| sign_header_value_with(&input, &secret, env))
}

/// The `ottoken` form of an `X-Nonce` header value (`malformed_header` if it does not parse,
/// a `TypeError` if it is not a string).
#[wasm_bindgen(js_name = ottokenEncode)]
pub fn ottoken_encode(
    #[wasm_bindgen(unchecked_param_type = "string")] header: JsValue,
) -> Result<String, XNonceError> {
    let header = convert::text(&header, "header", Input::Header)?;
    Ok(ottoken::encode(&XNonce::parse(&header)?))
}

/// The `X-Nonce` header value an `ottoken` carries (`malformed_ottoken` otherwise; a
/// `TypeError` for a non-string).
#[wasm_bindgen(js_name = ottokenDecode)]
pub fn ottoken_decode(
    #[wasm_bindgen(unchecked_param_type = "string")] token: JsValue,
) -> Result<String, XNonceError> {
    let token = convert::text(&token, "token", Input::Ottoken)?;
    Ok(ottoken::decode(&token)?.to_string())
}

/// The `ottoken` as written in a URL query (form-encoded; only v1 tokens change; a
/// `TypeError` for a non-string).
#[wasm_bindgen(js_name = ottokenQueryValue)]
pub fn ottoken_query_value(
    #[wasm_bindgen(unchecked_param_type = "string")] token: JsValue,
) -> Result<String, XNonceError> {
    let token = convert::text(&token, "token", Input::Ottoken)?;
    Ok(ottoken::query_value(&token))
}

/// Parses an `X-Nonce` header value of either scheme into its fields (`malformed_header`
/// otherwise; a `TypeError` for a non-string): `scheme`, `client`, `timestamp`, `nonce` (`null`
/// for v1) and `mac` (the v1 token or the v2 signature), the fields and order of the Node
/// package's `parseHeader`.
#[wasm_bindgen(js_name = parseHeader, unchecked_return_type = "Header")]
pub fn parse_header(
    #[wasm_bindgen(unchecked_param_type = "string")] value: JsValue,
) -> Result<JsValue, XNonceError> {
    let value = convert::text(&value, "header", Input::Header)?;
    let header = XNonce::parse(&value)?;
    let nonce = match &header {
        XNonce::V2 { nonce, .. } => JsValue::from_str(nonce),
        XNonce::V1 { .. } => JsValue::NULL,
    };
    Ok(object(&[
        ("scheme", header.scheme().as_str().into()),
        ("client", header.client().into()),
        ("timestamp", ts(header.timestamp_ms())),
        ("nonce", nonce),
        ("mac", header.mac().into()),
    ]))
}

/// The server's time (ms since the epoch) that the answer to a request this client sent
/// tells it (PROTOCOL §12), as the Node package's `serverTimeFromAnswer`: `status` and `hint`
/// are the answer's status and `X-Nonce-Server-Time` header (`null` or `undefined` when
/// absent), `sent` the `X-Nonce` value the request carried. A number only for a stale refusal
/// (401) whose hint authenticates, with `secret`, for the client and request of `sent`;
/// `null` for anything else (another status, no hint, a forged one, one made for another
/// request), which the client ignores. A secret no request could use is `invalid_secret`;
/// an argument of another type a `TypeError`.
#[wasm_bindgen(js_name = serverTimeFromAnswer, unchecked_return_type = "number | null")]
pub fn server_time_from_answer(
    #[wasm_bindgen(unchecked_param_type = "number")] status: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] hint: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] sent: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] secret: JsValue,
) -> Result<JsValue, XNonceError> {
    let number = status
        .as_f64()
        .ok_or_else(|| error::wrong_type("status", "a number", &status))?;
    let hint = match hint.is_null_or_undefined() {
        true => None,
        false => convert::text_if_well_formed(&hint, "hint")?,
    };
    let sent = convert::text_if_well_formed(&sent, "sent")?;
    let secret = self::secret(&secret)?;
    // A number that is no status (401.5), or a string that is no header value: no time.
    let (Some(status), Some(sent)) = (time_hint::status_from_f64(number), sent) else {
        return Ok(JsValue::NULL);
    };
    let told = ServerTimeHint::server_time_from_answer(status, hint.as_deref(), &sent, &secret);
    Ok(told.map_or(JsValue::NULL, ts))
}

/// Every shared error code with its family and HTTP status, in core's order, as the Node
/// package's `errorCodes()`: `{ code, family, httpStatus }`.
#[wasm_bindgen(js_name = errorCodes, unchecked_return_type = "ErrorCodeInfo[]")]
pub fn error_codes() -> js_sys::Array {
    ErrorCode::ALL
        .iter()
        .map(|c| {
            object(&[
                ("code", c.as_str().into()),
                ("family", c.family().as_str().into()),
                ("httpStatus", JsValue::from_f64(f64::from(c.http_status()))),
            ])
        })
        .collect()
}
