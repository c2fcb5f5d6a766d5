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

use crate::error::Result;

/// The first line of every v2 canonical string.
pub const TAG: &str = "XNONCE-V2";

/// The lower-case hex SHA-256 of a body (the digest of zero bytes when there is no body or
/// the body is a form whose fields are signed as params).
pub fn body_digest(body: &[u8]) -> String {
    let mut out = String::with_capacity(64);
    push_body_digest(&mut out, body);
    out
}

/// [`body_digest`] appending to `out`.
fn push_body_digest(out: &mut String, body: &[u8]) {
    if body.is_empty() {
        out.push_str(EMPTY_BODY_DIGEST);
    } else {
        crate::hex::push_encoded(out, &crate::sha256::digest(body));
    }
}

/// SHA-256 of zero bytes, the body digest of requests without a (non-form) body.
pub const EMPTY_BODY_DIGEST: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Inputs of the v2 canonical string, as given by the caller (not yet normalised). The params
/// are any `(key, value)` pairs of strings: owned (`(String, String)`, the default) or borrowed.
#[derive(Debug)]
pub struct Fields<'a, K = String, V = String> {
    /// HTTP method (any case).
    pub method: &'a str,
    /// Authority the request is sent to.
    pub host: &'a str,
    /// Path without query.
    pub path: &'a str,
    /// Query and form params, in any order.
    pub params: &'a [(K, V)],
    /// The raw non-form body (empty when none).
    pub body: &'a [u8],
    /// Client id.
    pub client: &'a str,
    /// Milliseconds since the epoch.
    pub timestamp_ms: u64,
    /// 32 lower-case hex characters.
    pub nonce: &'a str,
}

impl<K, V> Clone for Fields<'_, K, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K, V> Copy for Fields<'_, K, V> {}

/// Builds the v2 canonical string, validating every field (method, host, path, param keys,
/// client id, nonce, in that order).
pub fn canonical<K: AsRef<str>, V: AsRef<str>>(f: &Fields<'_, K, V>) -> Result<String> {
    // Room for the longest this can be, so it is never reallocated: every param byte may be
    // escaped (3 bytes), a path byte too.
    let params_len: usize = f
        .params
        .iter()
        .map(|(k, v)| 3 * (k.as_ref().len() + v.as_ref().len()) + 2)
        .sum();
    let mut out = String::with_capacity(
        TAG.len()
            + f.method.len()
            + f.host.len()
            + 3 * f.path.len()
            + params_len
            + 64 // body digest
            + f.client.len()
            + 20 // timestamp
            + f.nonce.len()
            + 8, // newlines
    );
    out.push_str(TAG);
    out.push('\n');
    super::push_method(&mut out, f.method)?;
    out.push('\n');
    out.push_str(&super::host(f.host)?);
    out.push('\n');
    out.push_str(&super::path_v2(f.path)?);
    out.push('\n');
    super::push_params_v2(&mut out, f.params)?;
    crate::client_id::validate(f.client)?;
    crate::nonce::validate(f.nonce)?;
    out.push('\n');
    push_body_digest(&mut out, f.body);
    out.push('\n');
    out.push_str(f.client);
    out.push('\n');
    super::v1::push_u64(&mut out, f.timestamp_ms);
    out.push('\n');
    out.push_str(f.nonce);
    Ok(out)
}
