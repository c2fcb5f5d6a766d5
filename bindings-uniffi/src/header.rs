//! Header values and ottokens: wrappers over [`xnonce_core::XNonce`] and [`xnonce_core::ottoken`].

use std::hash::{Hash, Hasher};

use xnonce_core::mac::constant_time_eq;
use xnonce_core::{ottoken, Input, XNonce};

use crate::text::XNonceText;
use crate::{Scheme, XNonceError};

/// A parsed `X-Nonce` header value.
///
/// Equal when every field is, the `mac` compared in constant time as core compares headers
/// (Kotlin's `==` and Swift's `==` call this comparison, not a field-by-field one of their
/// own): comparing a received header with one signed here must not tell how much matched.
#[derive(Debug, Clone, uniffi::Record)]
#[uniffi::export(Eq, Hash)]
pub struct Header {
    /// The scheme (`v1` headers have no tag; `v2` ones start with `v2`).
    pub scheme: Scheme,
    /// Client id.
    pub client: String,
    /// Milliseconds since the epoch.
    pub timestamp: u64,
    /// The v2 nonce (`None` for v1).
    pub nonce: Option<String>,
    /// The v1 token or the v2 signature (lower-case hex).
    pub mac: String,
}

impl PartialEq for Header {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(&self.mac, &other.mac)
            & (self.scheme == other.scheme)
            & (self.client == other.client)
            & (self.timestamp == other.timestamp)
            & (self.nonce == other.nonce)
    }
}

impl Eq for Header {}

/// Every field, as [`PartialEq`] compares them.
impl Hash for Header {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.scheme.hash(state);
        self.client.hash(state);
        self.timestamp.hash(state);
        self.nonce.hash(state);
        self.mac.hash(state);
    }
}

impl From<&XNonce> for Header {
    fn from(h: &XNonce) -> Self {
        Header {
            scheme: h.scheme().into(),
            client: h.client().to_string(),
            timestamp: h.timestamp_ms(),
            nonce: match h {
                XNonce::V2 { nonce, .. } => Some(nonce.clone()),
                XNonce::V1 { .. } => None,
            },
            mac: h.mac().to_string(),
        }
    }
}

/// Parses an `X-Nonce` header value of either scheme (`malformed_header`).
#[uniffi::export]
pub fn parse_header(value: XNonceText) -> Result<Header, XNonceError> {
    let value = value.into_string(Input::Header)?;
    Ok(Header::from(&XNonce::parse(&value)?))
}

/// The `ottoken` form of a header value.
#[uniffi::export]
pub fn ottoken_encode(header: XNonceText) -> Result<String, XNonceError> {
    let header = header.into_string(Input::Header)?;
    Ok(ottoken::encode(&XNonce::parse(&header)?))
}

/// The header value an `ottoken` carries (`malformed_ottoken`).
#[uniffi::export]
pub fn ottoken_decode(token: XNonceText) -> Result<String, XNonceError> {
    let token = token.into_string(Input::Ottoken)?;
    Ok(ottoken::decode(&token)?.to_string())
}

/// An `ottoken` as written in a URL query (form-encoded; only v1 tokens change).
///
/// It throws nothing (Swift callers write no `try`), so text that is not valid Unicode (a
/// lone surrogate, which no ottoken holds) is escaped as read lossily, U+FFFD for each bad
/// sequence: `ottoken_decode` and every verifier refuse the result as `malformed_ottoken`.
#[uniffi::export]
pub fn ottoken_query_value(token: XNonceText) -> String {
    ottoken::query_value(&token.to_string_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "d77ccdaedbd041324e6551a60a46b08a72e2ed128b01359b39c5d2d54b499cbe test_client 1384300802123";

    #[test]
    fn round_trips() {
        let t = ottoken_encode(V1.into()).unwrap();
        assert_eq!(ottoken_decode(t.clone().into()).unwrap(), V1);
        assert!(ottoken_query_value(t.into()).ends_with("%3D"));
        let h = parse_header(V1.into()).unwrap();
        assert_eq!(
            (h.scheme, h.client.as_str(), h.timestamp),
            (Scheme::V1, "test_client", 1384300802123)
        );
        assert_eq!(
            parse_header("x".into()).unwrap_err().code(),
            "malformed_header"
        );
        assert_eq!(
            ottoken_decode("!".into()).unwrap_err().code(),
            "malformed_ottoken"
        );
    }

    #[test]
    fn equal_when_every_field_is() {
        use std::collections::hash_map::DefaultHasher;
        let hash = |h: &Header| {
            let mut s = DefaultHasher::new();
            h.hash(&mut s);
            s.finish()
        };
        let h = parse_header(V1.into()).unwrap();
        assert_eq!(h, h.clone());
        assert_eq!(hash(&h), hash(&h.clone()));
        let mut other_mac = h.clone();
        other_mac.mac.replace_range(63.., "f");
        assert_ne!(h.mac, other_mac.mac);
        assert_ne!(h, other_mac);
        let mut other_client = h.clone();
        other_client.client.push('x');
        assert_ne!(h, other_client);
        let mut other_time = h.clone();
        other_time.timestamp += 1;
        assert_ne!(h, other_time);
        let mut other_nonce = h.clone();
        other_nonce.nonce = Some("00".repeat(16));
        assert_ne!(h, other_nonce);
        let mut other_scheme = h.clone();
        other_scheme.scheme = Scheme::V2;
        assert_ne!(h, other_scheme);
    }
}
