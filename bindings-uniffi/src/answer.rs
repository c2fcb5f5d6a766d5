//! The HTTP answer to a refused request, as core writes it (em-secure-api's text for v1
//! requests, an RFC 9457 problem document for v2), so a Kotlin or Swift server answers with
//! the same bytes as the reference server.

use xnonce_core::answer::Answer as CoreAnswer;
use xnonce_core::{Error, ErrorCode, Incoming, ServerTimeHint};

use crate::text::XNonceText;
use crate::{HttpHeader, XNonceError};

/// What to send back for a refused request.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// `Content-Type`, and `X-Nonce-Server-Time` when stale.
    pub headers: Vec<HttpHeader>,
    /// The body (`text/plain` for v1, `application/problem+json` for v2).
    pub body: String,
}

/// The answer to the request that `Verifier.verify` / `verify_once` refused with `error`,
/// given the same `target`, `x_nonce`, `content_type` and `body`: its credential decides the
/// style (em-secure-api's v1 text, or a v2 problem document). An error whose code is not one
/// of the shared codes (made by hand) is answered as `malformed_header`.
///
/// Text that is not valid Unicode (a lone surrogate, which `verify` refuses with that input's
/// code) is read lossily here, U+FFFD for each bad sequence: it only chooses the style of the
/// answer to such a refusal, and this throws nothing. So is the text of an error made by hand
/// (a code that is not valid Unicode is none of the shared codes: `malformed_header`).
#[uniffi::export(default(x_nonce = None, content_type = None, body = None))]
pub fn refusal_answer(
    error: &XNonceError,
    target: XNonceText,
    x_nonce: Option<XNonceText>,
    content_type: Option<XNonceText>,
    body: Option<Vec<u8>>,
) -> Answer {
    let target = target.to_string_lossy();
    let x_nonce = x_nonce.as_ref().map(XNonceText::to_string_lossy);
    let content_type = content_type.as_ref().map(XNonceText::to_string_lossy);
    let code = error.shared_code().unwrap_or(ErrorCode::MalformedHeader);
    let mut core = Error::new(code, error.reason());
    if let XNonceError::Auth {
        server_time: Some(hint),
        ..
    } = error
    {
        if let Ok(hint) = ServerTimeHint::parse(&hint.to_string_lossy()) {
            core = core.with_server_time(hint);
        }
    }
    let mut req = Incoming::new("", &target)
        .body(content_type.as_deref(), body.as_deref().unwrap_or_default());
    req.x_nonce = x_nonce.as_deref();
    let answer = CoreAnswer::refusal(&core, req.refusal_scheme());
    Answer {
        status: answer.status,
        headers: answer
            .headers()
            .into_iter()
            .map(|(name, value)| HttpHeader {
                name: name.into(),
                value: value.into(),
            })
            .collect(),
        body: answer.body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(answer: &Answer, name: &str) -> Option<String> {
        answer
            .headers
            .iter()
            .find(|h| h.name == name)
            .map(|h| h.value.to_string())
    }

    #[test]
    fn the_answer_follows_the_credential_and_keeps_the_server_time() {
        let stale = XNonceError::Auth {
            code: "expired".into(),
            reason: "too old".into(),
            server_time: Some(format!("1700000000000 {}", "ab".repeat(32)).into()),
        };
        let v2 = refusal_answer(&stale, "/a?ottoken=djIgc3Zj".into(), None, None, None);
        assert_eq!(v2.status, 401);
        assert_eq!(
            header(&v2, "X-Nonce-Server-Time").as_deref(),
            Some(format!("1700000000000 {}", "ab".repeat(32)).as_str())
        );
        assert!(v2
            .body
            .contains(r#""server_time":1700000000000,"server_time_mac":"abab"#));
        let v1 = refusal_answer(&stale, "/a".into(), None, None, None);
        assert_eq!(
            (v1.status, v1.body.as_str()),
            (401, "Request has timed out")
        );
        assert_eq!(header(&v1, "Content-Type").as_deref(), Some("text/plain"));
        // An ottoken in a form body counts as the credential too.
        let form = refusal_answer(
            &stale,
            "/a".into(),
            None,
            Some("application/x-www-form-urlencoded".into()),
            Some(b"x=1&ottoken=djIgc3Zj".to_vec()),
        );
        assert_eq!(
            header(&form, "Content-Type").as_deref(),
            Some("application/problem+json")
        );
    }

    #[test]
    fn hand_made_errors_are_answered_without_a_panic() {
        let made = XNonceError::Route {
            code: "no_such_code".into(),
            reason: "made by hand".into(),
        };
        let answer = refusal_answer(&made, "/a".into(), Some("v2 x".into()), None, None);
        assert_eq!(answer.status, 400);
        assert!(answer.body.contains(r#""code":"malformed_header""#));
        let odd_time = XNonceError::Auth {
            code: "expired".into(),
            reason: "r".into(),
            server_time: Some("not a time".into()),
        };
        let answer = refusal_answer(&odd_time, "/a".into(), None, None, None);
        assert_eq!(header(&answer, "X-Nonce-Server-Time"), None);
    }

    /// An error made by hand in Kotlin may hold a lone surrogate (a reason cut in the middle of
    /// an emoji): it crosses as bytes, and is answered with that text read lossily.
    #[test]
    fn hand_made_errors_that_are_not_unicode_are_answered() {
        let lone = |s: &str| XNonceText::from_bytes([s.as_bytes(), b"\xED\xA0\xBD"].concat());
        let cut = XNonceError::Route {
            code: "missing_param".into(),
            reason: lone("param "),
        };
        assert_eq!(cut.reason(), "param \u{FFFD}\u{FFFD}\u{FFFD}");
        let answer = refusal_answer(&cut, "/a".into(), Some("v2 x".into()), None, None);
        assert_eq!(answer.status, 422);
        assert!(
            answer
                .body
                .contains("\"detail\":\"param \u{FFFD}\u{FFFD}\u{FFFD}\""),
            "{}",
            answer.body
        );
        // A code that is not Unicode is none of the shared codes.
        let odd_code = XNonceError::Auth {
            code: lone("expired"),
            reason: "r".into(),
            server_time: Some(lone("1700000000000 ")),
        };
        assert_eq!(odd_code.shared_code(), None);
        let answer = refusal_answer(&odd_code, "/a".into(), Some("v2 x".into()), None, None);
        assert_eq!(answer.status, 400);
        assert!(answer.body.contains(r#""code":"malformed_header""#));
        assert_eq!(header(&answer, "X-Nonce-Server-Time"), None);
    }
}
