//! The `X-Nonce` header and its `ottoken` link form.

use napi::Env;
use napi_derive::napi;
use xnonce_core::{ottoken, XNonce};

use crate::error::guard;

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

/// Parses an `X-Nonce` header value of either scheme (`malformed_header`).
#[napi(js_name = "parseHeader")]
pub fn parse_header(env: &Env, value: String) -> napi::Result<Header> {
    guard(env, || Ok(Header::from(&XNonce::parse(&value)?)))
}

/// The `ottoken` of a header value (`malformed_header` when the value does not parse).
#[napi(js_name = "ottokenEncode")]
pub fn ottoken_encode(env: &Env, header: String) -> napi::Result<String> {
    guard(env, || Ok(ottoken::encode(&XNonce::parse(&header)?)))
}

/// The header value held by an `ottoken` (`malformed_ottoken`).
#[napi(js_name = "ottokenDecode")]
pub fn ottoken_decode(env: &Env, token: String) -> napi::Result<String> {
    guard(env, || Ok(ottoken::decode(&token)?.to_string()))
}

/// The `ottoken` as written in a URL query (form-encoded; only v1 tokens change).
#[napi(js_name = "ottokenQueryValue")]
pub fn ottoken_query_value(token: String) -> String {
    ottoken::query_value(&token)
}
