//! What the JavaScript bindings (Node's napi addon and WASM) hand to core, defined once:
//! a timestamp that arrives as a JS number, and the *packed* request — every text input of
//! `sign` joined into one string, so a call crosses the JS/native boundary once instead of a
//! dozen times (each crossing costs more than the signature itself).
//!
//! The packed form is `scheme, method, path, client, secret, nonce, host, k1, v1, k2, v2, ...`
//! joined with NUL (`\0`), where `nonce` and `host` are `""` when absent and `"=" + value` when
//! given. The JS side packs only when every input is a string; anything else takes the
//! binding's general path, and both paths end in the same core call.

use crate::error::{err, ErrorCode, Result};
use crate::{Scheme, SignInput};

/// Fields before the params in the packed form.
pub const PACKED_FIELDS: usize = 7;

/// The packed form's index of the secret (kept out of [`SignInput`]).
const SECRET: usize = 4;

/// A timestamp given as a JS number: an integer in `0..=2^53-1` (`invalid_timestamp`).
///
/// ```
/// use xnonce_core::js::timestamp_from_f64;
/// assert_eq!(timestamp_from_f64(1_700_000_000_000.0).unwrap(), 1_700_000_000_000);
/// assert!(timestamp_from_f64(1.5).is_err());
/// assert!(timestamp_from_f64(-1.0).is_err());
/// ```
pub fn timestamp_from_f64(ms: f64) -> Result<u64> {
    if ms.is_finite()
        && ms >= 0.0
        && ms.fract() == 0.0
        && ms <= crate::header::MAX_TIMESTAMP_MS as f64
    {
        Ok(ms as u64)
    } else {
        err(
            ErrorCode::InvalidTimestamp,
            "timestamp must be an integer number of milliseconds in 0..=2^53-1",
        )
    }
}

/// Unpacks a packed request holding `pairs` params into the input to sign and the secret
/// text. `Ok(None)` when the field count does not match (a field held a NUL): the caller then
/// takes its general path, so the result never depends on the path taken. An unknown scheme
/// is `unsupported_scheme`; every other field is validated when signed.
///
/// ```
/// use xnonce_core::js::unpack;
/// let (input, secret) = unpack("v2\0GET\0/a\0svc\0s3cret\0\0=api.example.com\0k\0v", 1)
///     .unwrap()
///     .unwrap();
/// assert_eq!(input.host.as_deref(), Some("api.example.com"));
/// assert_eq!(input.nonce, None);
/// assert_eq!(input.params, vec![("k".to_string(), "v".to_string())]);
/// assert_eq!(secret, "s3cret");
/// assert!(unpack("v2\0GET\0/a\0svc\0s3cret\0\0\0k\0v\0extra", 1).unwrap().is_none());
/// ```
pub fn unpack(packed: &str, pairs: usize) -> Result<Option<(SignInput, &str)>> {
    let fields: Vec<&str> = packed.split('\0').collect();
    if Some(fields.len())
        != pairs
            .checked_mul(2)
            .and_then(|n| n.checked_add(PACKED_FIELDS))
    {
        return Ok(None);
    }
    let optional = |f: &str| f.strip_prefix('=').map(str::to_string);
    let mut input = SignInput::new(
        fields[0].parse::<Scheme>()?,
        fields[1],
        fields[2],
        fields[3],
    );
    input.nonce = optional(fields[5]);
    input.host = optional(fields[6]);
    input.params = fields[PACKED_FIELDS..]
        .chunks_exact(2)
        .map(|kv| (kv[0].to_string(), kv[1].to_string()))
        .collect();
    Ok(Some((input, fields[SECRET])))
}
