//! The `X-Nonce` header parser ([`xnonce_core::XNonce::parse`]) and formatter.

use arbitrary::{Arbitrary, Unstructured};
use xnonce_core::{client_id, header, ottoken, ErrorCode, XNonce};

use crate::pick::{hex, Text, CLIENTS};

/// Header fields from which a header value is formatted (valid or not).
#[derive(Arbitrary, Debug)]
pub struct Fields {
    v2: bool,
    client: Text,
    timestamp: u64,
    small_timestamp: bool,
    nonce: [u8; 16],
    mac: [u8; 32],
}

impl Fields {
    /// The header these fields describe, and whether [`XNonce::parse`] must accept its text.
    pub fn header(&self) -> (XNonce, bool) {
        let client = self.client.resolve(CLIENTS);
        let timestamp_ms = if self.small_timestamp {
            self.timestamp % (header::MAX_TIMESTAMP_MS + 2)
        } else {
            self.timestamp
        };
        let valid =
            client_id::validate(&client).is_ok() && timestamp_ms <= header::MAX_TIMESTAMP_MS;
        let h = if self.v2 {
            XNonce::V2 {
                client,
                timestamp_ms,
                nonce: hex(&self.nonce),
                signature: hex(&self.mac),
            }
        } else {
            XNonce::V1 {
                token: hex(&self.mac),
                client,
                timestamp_ms,
            }
        };
        (h, valid)
    }
}

/// The target: the input as header text, then as structured fields.
pub fn run(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        check_text(s);
    }
    if let Ok(f) = Fields::arbitrary(&mut Unstructured::new(data)) {
        let (h, valid) = f.header();
        let text = h.value();
        assert_eq!(text, h.to_string());
        match XNonce::parse(&text) {
            Ok(parsed) => {
                assert!(valid, "accepted a header with invalid fields: {text:?}");
                assert_eq!(parsed, h, "parse(format(h)) != h");
            }
            Err(e) => {
                assert!(!valid, "refused a valid header {text:?}: {e}");
                assert_eq!(e.code(), ErrorCode::MalformedHeader);
            }
        }
    }
}

/// Parses `s`; an accepted value must format back to exactly `s` and be internally valid.
pub fn check_text(s: &str) {
    match XNonce::parse(s) {
        Ok(h) => {
            assert!(s.len() <= header::MAX_LEN);
            assert_eq!(
                h.value(),
                s,
                "a parsed header does not format back to its text"
            );
            assert_eq!(XNonce::parse(&h.value()).ok().as_ref(), Some(&h));
            assert_eq!(ottoken::decode(&h.to_ottoken()).ok().as_ref(), Some(&h));
            assert!(client_id::validate(h.client()).is_ok());
            assert!(h.timestamp_ms() <= header::MAX_TIMESTAMP_MS);
            let (id_len, mac_len) = match h {
                XNonce::V1 { .. } => (64, 64),
                XNonce::V2 { .. } => (32, 64),
            };
            assert!(crate::pick::is_lower_hex(h.request_id(), id_len));
            assert!(crate::pick::is_lower_hex(h.mac(), mac_len));
        }
        Err(e) => assert_eq!(e.code(), ErrorCode::MalformedHeader, "{s:?}: {e}"),
    }
}
