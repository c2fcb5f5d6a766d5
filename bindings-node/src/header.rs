//! The `X-Nonce` header and its `ottoken` link form.

use napi::Env;
use napi_derive::napi;
use xnonce_core::{ottoken, Input, XNonce};

use crate::error::{guard, Outcome};
use crate::params::Text;

/// A parsed `X-Nonce` header value.
#[napi(object, use_nullable = true)]
pub struct Header {
    /// `"v1"` or `"v2"`.
    #[napi(ts_type = "'v1' | 'v2'")]
    pub scheme: String,
    /// The client id.
    pub client: String,
    /// The request timestamp (ms since the epoch).
    pub timestamp: f64,
    /// The v2 nonce; `null` for v1.
    pub nonce: Option<String>,
    /// The v1 token or the v2 signature (lower-case hex).
    pub mac: String,
}

impl From<&XNonce> for Header {
    fn from(h: &XNonce) -> Self {
        Header {
            scheme: h.scheme().as_str().to_string(),
            client: h.client().to_string(),
            timestamp: h.timestamp_ms() as f64,
            nonce: match h {
                XNonce::V2 { nonce, .. } => Some(nonce.clone()),
                XNonce::V1 { .. } => None,
            },
            mac: h.mac().to_string(),
        }
    }
}

/// An `X-Nonce` header value as text (`malformed_header` when it is not well-formed).
pub(crate) fn header_text(value: Text) -> Outcome<String> {
    value.check(Input::Header)
}

/// An `ottoken` as text (`malformed_ottoken` when it is not well-formed).
fn ottoken_text(token: Text) -> Outcome<String> {
    token.check(Input::Ottoken)
}

/// Parses an `X-Nonce` header value of either scheme (`malformed_header`).
#[napi(js_name = "parseHeader", strict, ts_args_type = "value: string")]
pub fn parse_header(env: &Env, value: Text) -> napi::Result<Header> {
    guard(env, || {
        Ok(Header::from(&XNonce::parse(&header_text(value)?)?))
    })
}

/// The `ottoken` of a header value (`malformed_header` when the value does not parse).
#[napi(js_name = "ottokenEncode", strict, ts_args_type = "header: string")]
pub fn ottoken_encode(env: &Env, header: Text) -> napi::Result<String> {
    guard(env, || {
        Ok(ottoken::encode(&XNonce::parse(&header_text(header)?)?))
    })
}

/// The header value held by an `ottoken` (`malformed_ottoken`).
#[napi(js_name = "ottokenDecode", strict, ts_args_type = "token: string")]
pub fn ottoken_decode(env: &Env, token: Text) -> napi::Result<String> {
    guard(env, || {
        Ok(ottoken::decode(&ottoken_text(token)?)?.to_string())
    })
}

/// The `ottoken` as written in a URL query (form-encoded; only v1 tokens change);
/// `malformed_ottoken` when it is not well-formed text.
#[napi(js_name = "ottokenQueryValue", strict, ts_args_type = "token: string")]
pub fn ottoken_query_value(env: &Env, token: Text) -> napi::Result<String> {
    guard(env, || Ok(ottoken::query_value(&ottoken_text(token)?)))
}
