//! The `ottoken` decoder ([`xnonce_core::ottoken::decode`]) and encoder.

use arbitrary::{Arbitrary, Unstructured};
use xnonce_core::{ottoken, percent, ErrorCode, XNonce};

use crate::header::Fields;

/// The target: the input as a token, as a query-escaped token, then a structured header.
pub fn run(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        check_token(s);
        // As the verifier reads a token from a query: form-decoded first.
        if let Some(decoded) = percent::decode_form(s)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
        {
            check_token(&decoded);
        }
    }
    if let Ok(f) = Fields::arbitrary(&mut Unstructured::new(data)) {
        let (h, valid) = f.header();
        if valid {
            let token = ottoken::encode(&h);
            assert_eq!(
                ottoken::decode(&token).ok().as_ref(),
                Some(&h),
                "decode(encode(h)) != h"
            );
            let in_query = ottoken::query_value(&token);
            assert!(
                in_query
                    .bytes()
                    .all(|b| b == b'%' || percent::is_unreserved(b)),
                "a query-escaped token needs further escaping: {in_query:?}"
            );
            let back = String::from_utf8(percent::decode_form(&in_query).unwrap()).unwrap();
            assert_eq!(back, token);
            if matches!(h, XNonce::V2 { .. }) {
                assert_eq!(in_query, token, "a v2 token must need no escaping");
            }
        }
    }
}

/// Decodes `s`; an accepted token must hold a valid header of the matching scheme and
/// re-encode to a token that decodes to the same header (for v2: to exactly `s`).
pub fn check_token(s: &str) {
    match ottoken::decode(s) {
        Ok(h) => {
            assert!(!s.is_empty() && s.len() <= ottoken::MAX_LEN);
            assert_eq!(XNonce::parse(&h.value()).ok().as_ref(), Some(&h));
            let again = ottoken::encode(&h);
            assert_eq!(ottoken::decode(&again).ok().as_ref(), Some(&h));
            match h {
                XNonce::V1 { .. } => assert!(s.starts_with("eyJ")),
                XNonce::V2 { .. } => assert_eq!(again, s, "a v2 token is not canonical"),
            }
        }
        Err(e) => assert_eq!(e.code(), ErrorCode::MalformedOttoken, "{s:?}: {e}"),
    }
}
