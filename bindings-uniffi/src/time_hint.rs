//! The server-time hint of a stale answer, read by a client that sends with its own HTTP
//! stack: a wrapper over [`xnonce_core::ServerTimeHint::server_time_from_answer`]. (The
//! `Requester` reads it itself.)

use xnonce_core::{Input, Secret, ServerTimeHint};

use crate::text::XNonceText;
use crate::XNonceError;

/// The server's clock (ms since the epoch) that the answer to a request this client sent
/// tells it (PROTOCOL §12): `status` and `hint` are the answer's status and
/// `X-Nonce-Server-Time` value, `sent` the `X-Nonce` value the request carried. A value only
/// for a stale refusal (401) whose hint authenticates, with `secret`, for the client and
/// request of `sent`; `None` for anything else (another status, no hint, a malformed or
/// forged one, one made for another request, `sent` not an `X-Nonce` value): ignore it.
///
/// With a value: adopt `offset = value − local clock now`, sign later requests with
/// `timestamp = local clock + offset`, and send the refused request once more, signed again
/// (a stale request is refused before the server acts on it). Throws only for a `secret`
/// that is no secret (`invalid_secret`); `hint` and `sent` that are not valid Unicode (a lone
/// surrogate) are read lossily, and tell nothing.
#[uniffi::export]
pub fn server_time_from_answer(
    status: u16,
    hint: Option<XNonceText>,
    sent: XNonceText,
    secret: XNonceText,
) -> Result<Option<u64>, XNonceError> {
    let secret = Secret::new(secret.into_string(Input::Secret)?)?;
    let hint = hint.as_ref().map(XNonceText::to_string_lossy);
    Ok(ServerTimeHint::server_time_from_answer(
        status,
        hint.as_deref(),
        &sent.to_string_lossy(),
        &secret,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd";
    /// `v2-get-basic`'s header and PROTOCOL §12's example hint for it.
    const SENT: &str = "v2 test_client 1700000000000 00112233445566778899aabbccddeeff 3011ec6c9e7ae2c23151250b27e5f741baf74e23ea58be88d8d78d6a6dd51619";
    const HINT: &str =
        "1700000060000 47ea0cf07e4b0cd7fcdcbe4a599a23609b3846ee2ff329a97ace15c1b604acbf";

    fn told(status: u16, hint: Option<&str>, sent: &str) -> Option<u64> {
        server_time_from_answer(status, hint.map(Into::into), sent.into(), SECRET.into()).unwrap()
    }

    #[test]
    fn the_protocols_example_hint_tells_its_time_for_its_request_only() {
        assert_eq!(told(401, Some(HINT), SENT), Some(1_700_000_060_000));
        assert_eq!(told(200, Some(HINT), SENT), None);
        assert_eq!(told(401, None, SENT), None);
        let other_request = SENT.replace("0011", "ffff");
        assert_eq!(told(401, Some(HINT), &other_request), None);
        let lone_surrogate = XNonceText::from_bytes(b"\xed\xa0\x80".to_vec());
        let lossy = server_time_from_answer(401, Some(lone_surrogate), SENT.into(), SECRET.into());
        assert_eq!(lossy.unwrap(), None);
    }

    #[test]
    fn a_secret_that_is_no_secret_throws_without_naming_it() {
        let e =
            server_time_from_answer(401, Some(HINT.into()), SENT.into(), "".into()).unwrap_err();
        assert_eq!(e.shared_code(), Some(xnonce_core::ErrorCode::InvalidSecret));
        let bad = XNonceText::from_bytes(b"secret\xed\xa0\x80".to_vec());
        let e = server_time_from_answer(401, Some(HINT.into()), SENT.into(), bad).unwrap_err();
        assert_eq!(e.shared_code(), Some(xnonce_core::ErrorCode::InvalidSecret));
        assert!(!e.to_string().contains("secret\u{FFFD}"), "{e}");
    }
}
