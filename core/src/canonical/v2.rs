//! The v2 canonical string: a version tag and one field per line.
//!
//! ```text
//! XNONCE-V2
//! <METHOD>
//! <host>
//! <canonical path>
//! <canonical params>
//! <hex SHA-256 of the body>
//! <client>
//! <timestamp ms>
//! <nonce>
//! ```
//! joined with `\n` (no trailing newline). No field can contain `\n`, so the string is
//! unambiguous. The secret is not part of it: it keys the HMAC.

use sha2::{Digest, Sha256};

use crate::error::Result;

/// The first line of every v2 canonical string.
pub const TAG: &str = "XNONCE-V2";

/// The lower-case hex SHA-256 of a body (the digest of zero bytes when there is no body or
/// the body is a form whose fields are signed as params).
pub fn body_digest(body: &[u8]) -> String {
    crate::hex::encode(&Sha256::digest(body))
}

/// Inputs of the v2 canonical string, as given by the caller (not yet normalised).
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    /// HTTP method (any case).
    pub method: &'a str,
    /// Authority the request is sent to.
    pub host: &'a str,
    /// Path without query.
    pub path: &'a str,
    /// Query and form params, in any order.
    pub params: &'a [(String, String)],
    /// The raw non-form body (empty when none).
    pub body: &'a [u8],
    /// Client id.
    pub client: &'a str,
    /// Milliseconds since the epoch.
    pub timestamp_ms: u64,
    /// 32 lower-case hex characters.
    pub nonce: &'a str,
}

/// Builds the v2 canonical string, validating every field.
pub fn canonical(f: &Fields<'_>) -> Result<String> {
    let method = super::method(f.method)?;
    let host = super::host(f.host)?;
    let path = super::path_v2(f.path)?;
    let params = super::params_v2(f.params)?;
    crate::client_id::validate(f.client)?;
    crate::nonce::validate(f.nonce)?;
    let body = body_digest(f.body);
    Ok(format!(
        "{TAG}\n{method}\n{host}\n{path}\n{params}\n{body}\n{client}\n{ts}\n{nonce}",
        client = f.client,
        ts = f.timestamp_ms,
        nonce = f.nonce
    ))
}
