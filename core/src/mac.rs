//! HMAC-SHA256, SHA-256 and constant-time comparison: the only cryptography xnonce uses.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Lower-case hex HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(message);
    crate::hex::encode(&m.finalize().into_bytes())
}

/// Lower-case hex SHA-256 of `message`.
pub fn sha256_hex(message: &[u8]) -> String {
    crate::hex::encode(&Sha256::digest(message))
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}
