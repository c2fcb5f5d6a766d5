//! Client ids: `A-Z a-z 0-9 _ . - ~`, 1 to 128 characters.
//!
//! The set keeps ids free of the space that separates header fields, of anything a URL
//! would need to escape, and of the newline that separates v2 canonical fields.

use crate::error::{err, ErrorCode, Result};
use crate::percent::is_unreserved;

/// The longest client id accepted.
pub const MAX_CLIENT_ID_LEN: usize = 128;

/// Checks a client id; `invalid_client_id` otherwise.
///
/// ```
/// assert!(xnonce_core::client_id::validate("svc.billing").is_ok());
/// assert!(xnonce_core::client_id::validate("has space").is_err());
/// ```
pub fn validate(client: &str) -> Result<()> {
    if client.is_empty() || client.len() > MAX_CLIENT_ID_LEN {
        return err(
            ErrorCode::InvalidClientId,
            format!("client id must be 1 to {MAX_CLIENT_ID_LEN} characters"),
        );
    }
    if !client.bytes().all(is_unreserved) {
        return err(
            ErrorCode::InvalidClientId,
            "client id may only contain A-Z a-z 0-9 _ . - ~",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_checked_at_its_edges() {
        assert!(validate(&"c".repeat(MAX_CLIENT_ID_LEN)).is_ok());
        let too_long = "c".repeat(MAX_CLIENT_ID_LEN + 1);
        assert_eq!(
            validate(&too_long).unwrap_err().code(),
            ErrorCode::InvalidClientId
        );
        assert_eq!(validate("").unwrap_err().code(), ErrorCode::InvalidClientId);
    }
}
