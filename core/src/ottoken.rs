//! The `ottoken` link parameter: a header value that travels in a URL.
//!
//! * v1 (em-secure-api): strict standard Base64 (with padding) of the compact JSON
//!   `{"X-Nonce":"<header value>"}`; in a query it is form-encoded (`+ / =` escaped).
//! * v2: unpadded URL-safe Base64 (RFC 4648 §5) of the header value itself; it needs no
//!   escaping in a URL.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;

use crate::error::{Error, ErrorCode, Result};
use crate::XNonce;

/// The query parameter's name.
pub const PARAM: &str = "ottoken";
/// The longest ottoken accepted by [`decode`].
pub const MAX_LEN: usize = 1024;

/// Encodes a header as an ottoken (see the module docs for each scheme's form).
///
/// ```
/// use xnonce_core::{ottoken, XNonce};
/// let h: XNonce = "d77ccdaedbd041324e6551a60a46b08a72e2ed128b01359b39c5d2d54b499cbe test_client 1384300802123".parse().unwrap();
/// let t = ottoken::encode(&h);
/// assert!(t.ends_with("n0="));
/// assert_eq!(ottoken::decode(&t).unwrap(), h);
/// assert!(ottoken::query_value(&t).ends_with("n0%3D"));
/// ```
pub fn encode(header: &XNonce) -> String {
    match header {
        XNonce::V1 { .. } => {
            // The header's characters (hex, unreserved client id, digits, spaces) need no JSON escaping.
            STANDARD.encode(format!("{{\"X-Nonce\":\"{header}\"}}"))
        }
        XNonce::V2 { .. } => URL_SAFE_NO_PAD.encode(header.to_string()),
    }
}

/// The ottoken as written in a URL query: form-encoded (only v1 tokens change).
pub fn query_value(token: &str) -> String {
    crate::percent::cgi_escape(token)
}

/// Decodes an ottoken of either scheme (`malformed_ottoken` on any deviation).
pub fn decode(token: &str) -> Result<XNonce> {
    let bad = |what: &str| Error::new(ErrorCode::MalformedOttoken, format!("ottoken: {what}"));
    if token.is_empty() || token.len() > MAX_LEN {
        return Err(bad("empty or too long"));
    }
    if token.starts_with("eyJ") {
        // v1: base64 of a JSON object.
        let json = STANDARD
            .decode(token)
            .map_err(|_| bad("not valid standard base64"))?;
        let value: serde_json::Value =
            serde_json::from_slice(&json).map_err(|_| bad("not JSON"))?;
        let header = value
            .as_object()
            .and_then(|o| o.get(crate::header::NAME))
            .and_then(|v| v.as_str())
            .ok_or_else(|| bad("no \"X-Nonce\" string member"))?;
        match XNonce::parse(header) {
            Ok(h @ XNonce::V1 { .. }) => Ok(h),
            _ => Err(bad("the X-Nonce member is not a v1 header")),
        }
    } else {
        let raw = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| bad("not valid URL-safe base64"))?;
        let text = std::str::from_utf8(&raw).map_err(|_| bad("not UTF-8"))?;
        match XNonce::parse(text) {
            Ok(h @ XNonce::V2 { .. }) => Ok(h),
            _ => Err(bad("does not hold a v2 header")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_refused_when_empty_or_longer_than_1024_characters() {
        for (token, because) in [
            (String::new(), "ottoken: empty or too long"),
            ("a".repeat(1025), "ottoken: empty or too long"),
            // At the limit the length passes (768 × "a", encoded); the contents are what is wrong.
            ("YWFh".repeat(256), "ottoken: does not hold a v2 header"),
        ] {
            let e = decode(&token).unwrap_err();
            assert_eq!(e.code(), ErrorCode::MalformedOttoken);
            assert_eq!(e.message(), because, "{} characters", token.len());
        }
    }

    /// PROTOCOL §8.3: an `eyJ` token MUST hold a **v1** header and any other a **v2** header;
    /// a well-formed header of the other scheme, wrapped as §8.1 wraps the right one, is
    /// `malformed_ottoken` (what every other implementation answers).
    #[test]
    fn a_token_holding_the_other_schemes_header_is_refused() {
        let v2 = format!("v2 svc 1700000000000 {} {}", "0".repeat(32), "a".repeat(64));
        let v1 = format!("{} svc 1700000000000", "a".repeat(64));
        let v1_wrap = |h: &str| STANDARD.encode(format!("{{\"X-Nonce\":\"{h}\"}}"));
        // Each wrapped as its own scheme decodes.
        assert!(matches!(decode(&v1_wrap(&v1)), Ok(XNonce::V1 { .. })));
        assert!(matches!(
            decode(&URL_SAFE_NO_PAD.encode(&v2)),
            Ok(XNonce::V2 { .. })
        ));
        for (token, because) in [
            (
                v1_wrap(&v2),
                "ottoken: the X-Nonce member is not a v1 header",
            ),
            (
                URL_SAFE_NO_PAD.encode(&v1),
                "ottoken: does not hold a v2 header",
            ),
            // `{""` encodes to `eyIi`: not `eyJ`, so v2 by step 3, though it is JSON with a v1
            // header in its `X-Nonce` member.
            (
                STANDARD.encode(format!(r#"{{"":0,"X-Nonce":"{v1}"}}"#)),
                "ottoken: not valid URL-safe base64",
            ),
        ] {
            let e = decode(&token).unwrap_err();
            assert_eq!(e.code(), ErrorCode::MalformedOttoken, "{token}");
            assert_eq!(e.message(), because, "{token}");
        }
    }
}
