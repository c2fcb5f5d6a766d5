//! v2 nonces: 128 random bits written as 32 lower-case hex characters.

use crate::error::{err, ErrorCode, Result};

/// Checks a nonce: exactly 32 lower-case hex characters (`invalid_nonce` otherwise).
pub fn validate(nonce: &str) -> Result<()> {
    if crate::hex::is_lower_hex(nonce, 32) {
        Ok(())
    } else {
        err(
            ErrorCode::InvalidNonce,
            "nonce must be 32 lower-case hex characters (128 bits)",
        )
    }
}

/// The text form of 16 random bytes.
pub fn from_bytes(bytes: [u8; 16]) -> String {
    crate::hex::encode(&bytes)
}
