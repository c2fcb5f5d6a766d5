//! The authenticated server-time hint sent with stale (`expired`) rejections, so that a client
//! whose clock is off can correct its offset instead of failing until someone fixes the clock.
//!
//! `X-Nonce-Server-Time: <server ms> <mac>` where
//! `mac = hex HMAC-SHA256(key = the secret's 32 decoded bytes when it is 64 hex characters,
//!        else the UTF-8 bytes of its text (v1 legacy secrets),
//!        "XNONCE-TIME\n<client>\n<request id>\n<server ms>")` and the request id is the v2
//! nonce or the v1 token of the rejected request. Binding the request id means a hint cannot
//! be replayed to another request; only a holder of the secret can produce it.

use std::fmt;

use crate::error::{err, ErrorCode, Result};
use crate::Secret;

/// The response header carrying the hint.
pub const HEADER: &str = "X-Nonce-Server-Time";

/// A server time with its MAC.
///
/// ```
/// use xnonce_core::{Secret, ServerTimeHint};
/// let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
/// let (client, nonce) = ("svc", "00112233445566778899aabbccddeeff");
/// // Server: answers a stale request with `X-Nonce-Server-Time: <this>`.
/// let sent = ServerTimeHint::issue(&secret, client, nonce, 1_700_000_000_000).to_string();
/// // Client: trusts the time only if the hint was made for its own request.
/// let hint = ServerTimeHint::parse(&sent)?;
/// assert!(hint.authenticate(&secret, client, nonce));
/// assert!(!hint.authenticate(&secret, client, "ffeeddccbbaa99887766554433221100"));
/// assert_eq!(hint.server_time_ms, 1_700_000_000_000);
/// # Ok::<(), xnonce_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerTimeHint {
    /// The server's clock when it rejected the request (ms since epoch).
    pub server_time_ms: u64,
    /// Lower-case hex HMAC (see the module docs).
    pub mac: String,
}

fn message(client: &str, request_id: &str, server_time_ms: u64) -> String {
    format!("XNONCE-TIME\n{client}\n{request_id}\n{server_time_ms}")
}

impl ServerTimeHint {
    /// Issues a hint for the request `(client, request_id)` (server side).
    pub fn issue(
        secret: &Secret,
        client: &str,
        request_id: &str,
        server_time_ms: u64,
    ) -> ServerTimeHint {
        let message = message(client, request_id, server_time_ms);
        let mac = match secret.v2_hmac() {
            Ok(key) => crate::hex::encode(&key.sign(message.as_bytes())),
            Err(_) => crate::mac::hmac_sha256_hex(secret.expose().as_bytes(), message.as_bytes()),
        };
        ServerTimeHint {
            server_time_ms,
            mac,
        }
    }

    /// Checks the hint against the client's own request (client side), in constant time.
    pub fn authenticate(&self, secret: &Secret, client: &str, request_id: &str) -> bool {
        let expected = ServerTimeHint::issue(secret, client, request_id, self.server_time_ms);
        crate::mac::constant_time_eq(&expected.mac, &self.mac)
    }

    /// The server's clock (ms since epoch) that the answer to a request this client sent
    /// tells it (PROTOCOL §12, *Client side*, steps 1–2): `status` and `hint` are the
    /// answer's status and `X-Nonce-Server-Time` value, `sent` the `X-Nonce` value the
    /// request carried. `Some` only for a stale refusal (401) whose hint parses and
    /// authenticates, with `secret`, for the client id and request id of `sent`; anything
    /// else (another status, no hint, a malformed one, one made for another request or with
    /// another secret, `sent` not an `X-Nonce` value) is `None`, and the client ignores it.
    ///
    /// The offset to adopt is this time minus the local clock at receipt (step 3).
    ///
    /// ```
    /// use xnonce_core::{sign_with, FixedEnvironment, Scheme, Secret, ServerTimeHint, SignInput, XNonce};
    /// let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
    /// let input = SignInput::new(Scheme::V2, "GET", "/reports/daily", "svc").host("api.example.com");
    /// let env = FixedEnvironment { now_ms: 1_700_000_000_000, nonce: [7; 16] };
    /// let sent = sign_with(&input, &secret, &env)?.x_nonce;
    /// // The server found the request stale and told its time, bound to that request:
    /// let nonce = XNonce::parse(&sent)?.request_id().to_string();
    /// let hint = ServerTimeHint::issue(&secret, "svc", &nonce, 1_700_000_090_000).to_string();
    /// let told = ServerTimeHint::server_time_from_answer(401, Some(&hint), &sent, &secret);
    /// assert_eq!(told, Some(1_700_000_090_000));
    /// // The same hint on another status, or checked with another secret, tells nothing.
    /// assert_eq!(ServerTimeHint::server_time_from_answer(200, Some(&hint), &sent, &secret), None);
    /// let other = Secret::new("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")?;
    /// assert_eq!(ServerTimeHint::server_time_from_answer(401, Some(&hint), &sent, &other), None);
    /// # Ok::<(), xnonce_core::Error>(())
    /// ```
    pub fn server_time_from_answer(
        status: u16,
        hint: Option<&str>,
        sent: &str,
        secret: &Secret,
    ) -> Option<u64> {
        if status != 401 {
            return None;
        }
        let hint = ServerTimeHint::parse(hint?).ok()?;
        let sent = crate::XNonce::parse(sent).ok()?;
        hint.authenticate(secret, sent.client(), sent.request_id())
            .then_some(hint.server_time_ms)
    }

    /// Parses the header value `<ms> <mac>`.
    pub fn parse(value: &str) -> Result<ServerTimeHint> {
        let mut it = value.split(' ');
        match (it.next(), it.next(), it.next()) {
            (Some(ms), Some(mac), None) if crate::hex::is_lower_hex(mac, 64) => {
                match crate::header::parse_timestamp(ms) {
                    Some(server_time_ms) => Ok(ServerTimeHint {
                        server_time_ms,
                        mac: mac.to_string(),
                    }),
                    None => err(ErrorCode::MalformedHeader, "X-Nonce-Server-Time: bad time"),
                }
            }
            _ => err(
                ErrorCode::MalformedHeader,
                "X-Nonce-Server-Time: expected '<ms> <64 hex mac>'",
            ),
        }
    }
}

/// An answer's status given as a JavaScript number, as the Node and WASM bindings read it for
/// [`ServerTimeHint::server_time_from_answer`]: an integer in `0..=65535`; any other number
/// (`401.5`, `-401`, `NaN`, `65937`) is no HTTP status, so `None`, and such an answer tells
/// no time.
///
/// ```
/// use xnonce_core::time_hint::status_from_f64;
/// assert_eq!(status_from_f64(401.0), Some(401));
/// assert_eq!(status_from_f64(401.5), None);
/// assert_eq!(status_from_f64(65_937.0), None); // 401 + 65536: never read as 401
/// ```
pub fn status_from_f64(status: f64) -> Option<u16> {
    (status.fract() == 0.0 && (0.0..=f64::from(u16::MAX)).contains(&status))
        .then_some(status as u16)
}

impl fmt::Display for ServerTimeHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.server_time_ms, self.mac)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    /// The module docs' MAC, computed with the `hmac` crate.
    fn reference(key: &[u8], client: &str, request_id: &str, ms: u64) -> String {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
        m.update(format!("XNONCE-TIME\n{client}\n{request_id}\n{ms}").as_bytes());
        crate::hex::encode(&m.finalize().into_bytes())
    }

    #[test]
    fn legacy_secrets_key_the_mac_with_their_text() {
        let legacy = Secret::new("correct-horse-battery").unwrap();
        let hint = ServerTimeHint::issue(&legacy, "svc", "n1", 5);
        assert_eq!(
            hint.mac,
            reference(b"correct-horse-battery", "svc", "n1", 5)
        );
        assert!(hint.authenticate(&legacy, "svc", "n1"));
        assert!(!hint.authenticate(&legacy, "svc", "n2"));
        assert!(!hint.authenticate(&legacy, "other", "n1"));
    }

    #[test]
    fn hex_secrets_key_the_mac_with_their_bytes() {
        let hex = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd";
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let hint = ServerTimeHint::issue(&Secret::new(hex).unwrap(), "svc", "n1", 5);
        assert_eq!(hint.mac, reference(&bytes, "svc", "n1", 5));
    }

    #[test]
    fn parse_wants_a_time_and_64_lower_case_hex_characters() {
        let mac = "0123456789abcdef".repeat(4);
        assert_eq!(
            ServerTimeHint::parse(&format!("5 {mac}")).unwrap(),
            ServerTimeHint {
                server_time_ms: 5,
                mac: mac.clone()
            }
        );
        for bad in [
            format!("5 {}", &mac[1..]),
            format!("5 {}", mac.to_uppercase()),
            format!("5 {mac}0"),
            format!("5 {mac} x"),
            format!("05 {mac}"),
            format!("x {mac}"),
            "5".to_string(),
        ] {
            let e = ServerTimeHint::parse(&bad).unwrap_err();
            assert_eq!(e.code(), ErrorCode::MalformedHeader, "{bad:?}");
        }
    }

    /// A 401 whose hint the `hmac` crate made for the sent header's client and request id
    /// (the v2 nonce, the v1 token) tells its time; every other answer tells nothing.
    #[test]
    fn an_answer_tells_the_time_only_when_its_hint_is_made_for_the_sent_request() {
        let text = "correct-horse-battery";
        let secret = Secret::new(text).unwrap();
        let nonce = "00112233445566778899aabbccddeeff";
        let token = "ab".repeat(32);
        let v2 = format!("v2 svc 1700000000000 {nonce} {}", "cd".repeat(32));
        let v1 = format!("{token} svc 1700000000000");
        for (sent, request_id) in [(&v2, nonce), (&v1, token.as_str())] {
            let hint = |client: &str, id: &str| {
                let ms = 1_700_000_090_000;
                format!("{ms} {}", reference(text.as_bytes(), client, id, ms))
            };
            let told = |status, hint: Option<&str>, sent: &str, secret: &Secret| {
                ServerTimeHint::server_time_from_answer(status, hint, sent, secret)
            };
            let own = hint("svc", request_id);
            assert_eq!(
                told(401, Some(&own), sent, &secret),
                Some(1_700_000_090_000)
            );
            for status in [200, 400, 403, 409, 503] {
                assert_eq!(told(status, Some(&own), sent, &secret), None, "{status}");
            }
            let other_secret = Secret::new("correct-horse-staple").unwrap();
            assert_eq!(told(401, Some(&own), sent, &other_secret), None);
            assert_eq!(
                told(401, Some(&hint("other", request_id)), sent, &secret),
                None
            );
            assert_eq!(
                told(401, Some(&hint("svc", "another")), sent, &secret),
                None
            );
            assert_eq!(told(401, None, sent, &secret), None);
            let (ms, mac) = own.split_once(' ').unwrap();
            let moved = format!("{} {mac}", ms.parse::<u64>().unwrap() + 1);
            assert_eq!(told(401, Some(&moved), sent, &secret), None);
            assert_eq!(told(401, Some(&own.to_uppercase()), sent, &secret), None);
            assert_eq!(told(401, Some(&own), "not a header", &secret), None);
        }
    }
}
