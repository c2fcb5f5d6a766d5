//! How a refusal is written: em-secure-api's plain-text answers for v1 requests (and for any
//! request whose credential is not recognisably v2), an RFC 9457 problem document for v2.
//!
//! v1 (status, `text/plain` body), as the original server answers:
//!
//! | code | status | body |
//! | --- | --- | --- |
//! | `missing_header` | 401 | `Method or nonce not provided` |
//! | `malformed_header`, `malformed_ottoken` | 401 | `Incorrect parameters in validate_ottoken` |
//! | `unknown_client` | 401 | `client not known` |
//! | `signature_mismatch` and `invalid_*` | 401 | `ottoken does not match` |
//! | `expired` | 401 | `Request has timed out` |
//! | `replayed` | 409 | `ottoken already used` |
//! | `missing_param` / `excluded_param` | 422 | `Missing required parameter <k>` / `Included invalid parameter <k>` |
//! | `unknown_route` | 404 | `controller (<c>) not found` / `action_method (<a>_<m>) not found in controller <c>` |
//! | others | [`ErrorCode::http_status`] | the error message |
//!
//! v2: `application/problem+json` with
//! `{"type":"https://xnonce.dev/errors/<code>","title":…,"status":N,"code":"<code>","detail":…}`
//! and status [`ErrorCode::http_status`]. Stale answers of both schemes carry
//! `X-Nonce-Server-Time: <ms> <mac>`; v2 bodies also `server_time` and `server_time_mac`.

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use xnonce_core::{Error, ErrorCode, Scheme};

/// The `type` URI prefix of problem documents.
pub const PROBLEM_TYPE_BASE: &str = "https://xnonce.dev/errors/";

/// A refusal: the error and an optional status that overrides the code's own
/// (413 for an oversized body, 431 for oversized headers).
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The coded error.
    pub error: Error,
    /// Overrides [`ErrorCode::http_status`] when set.
    pub status: Option<u16>,
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Self {
        Refusal {
            error,
            status: None,
        }
    }
}

impl Refusal {
    /// A refusal with an explicit status.
    pub fn with_status(code: ErrorCode, status: u16, message: &str) -> Self {
        Refusal {
            error: Error::new(code, message),
            status: Some(status),
        }
    }
}

/// A short human title for a code (the problem document's `title`).
pub fn title(code: ErrorCode) -> &'static str {
    use ErrorCode::*;
    match code {
        MissingHeader => "No X-Nonce header or ottoken parameter",
        MalformedHeader => "Malformed X-Nonce header",
        MalformedOttoken => "Malformed ottoken",
        MalformedParams => "Malformed parameters",
        UnsupportedScheme => "Scheme not accepted",
        UnknownClient => "Unknown client",
        SignatureMismatch => "Signature does not match",
        Expired => "Request timestamp outside the window",
        Replayed => "Request already used",
        MissingParam => "Missing required parameter",
        ExcludedParam => "Excluded parameter present",
        UnknownRoute => "Unknown route",
        StoreUnavailable => "Replay store unavailable",
        InvalidBody => "Request body refused",
        RateLimited => "Too many requests",
        _ => "Invalid request",
    }
}

/// em-secure-api's (status, body) for a v1 refusal.
pub fn v1_answer(code: ErrorCode, message: &str) -> (u16, String) {
    use ErrorCode::*;
    let fixed = |s: u16, b: &str| (s, b.to_string());
    match code {
        MissingHeader => fixed(401, "Method or nonce not provided"),
        MalformedHeader | MalformedOttoken => {
            fixed(401, "Incorrect parameters in validate_ottoken")
        }
        UnknownClient => fixed(401, "client not known"),
        SignatureMismatch => fixed(401, "ottoken does not match"),
        Expired => fixed(401, "Request has timed out"),
        Replayed => fixed(409, "ottoken already used"),
        MissingParam | ExcludedParam => (422, message.to_string()),
        UnknownRoute => (404, message.to_string()),
        c if c.family() == xnonce_core::ErrorFamily::Input => fixed(401, "ottoken does not match"),
        c => (c.http_status(), message.to_string()),
    }
}

/// Writes a refusal in the style of `scheme`.
pub fn refusal(scheme: Scheme, r: &Refusal) -> Response<Body> {
    let code = r.error.code();
    let hint = r.error.server_time();
    let (status, content_type, body) = match scheme {
        Scheme::V1 => {
            let (status, body) = match r.status {
                Some(status) => (status, r.error.message().to_string()),
                None => v1_answer(code, r.error.message()),
            };
            (status, "text/plain", body)
        }
        Scheme::V2 => {
            let status = r.status.unwrap_or(code.http_status());
            // Any header field can make the head too large, not only X-Nonce.
            let title = match r.status {
                Some(431) => "Request header fields too large",
                _ => title(code),
            };
            let mut doc = serde_json::json!({
                "type": format!("{PROBLEM_TYPE_BASE}{}", code.as_str()),
                "title": title,
                "status": status,
                "code": code.as_str(),
                "detail": r.error.message(),
            });
            if let Some(h) = hint {
                doc["server_time"] = h.server_time_ms.into();
                doc["server_time_mac"] = h.mac.clone().into();
            }
            (status, "application/problem+json", doc.to_string())
        }
    };
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(h) = hint {
        if let Ok(v) = HeaderValue::from_str(&h.to_string()) {
            res.headers_mut().insert(xnonce_core::time_hint::HEADER, v);
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code the server refuses a request with has a title of its own; only the
    /// field-level `invalid_*` codes (and the client-side `connection_failed`) share the
    /// generic one.
    #[test]
    fn refusals_have_titles_of_their_own() {
        use ErrorCode::*;
        let generic = |c: ErrorCode| {
            (c.as_str().starts_with("invalid_") && c != InvalidBody) || c == ConnectionFailed
        };
        let (shared, own): (Vec<ErrorCode>, Vec<ErrorCode>) =
            ErrorCode::ALL.iter().partition(|&&c| generic(c));
        let titles: std::collections::BTreeSet<_> = own.iter().map(|&c| title(c)).collect();
        assert_eq!(titles.len(), own.len(), "{titles:?}");
        assert!(!titles.contains("Invalid request"), "{titles:?}");
        assert!(shared.iter().all(|&c| title(c) == "Invalid request"));
        assert_eq!(title(Replayed), "Request already used");
    }

    #[test]
    fn v1_bodies_are_the_originals() {
        assert_eq!(
            v1_answer(ErrorCode::Replayed, "x"),
            (409, "ottoken already used".into())
        );
        assert_eq!(
            v1_answer(ErrorCode::InvalidPath, "x"),
            (401, "ottoken does not match".into())
        );
        assert_eq!(
            v1_answer(ErrorCode::MissingParam, "Missing required parameter a"),
            (422, "Missing required parameter a".into())
        );
        assert_eq!(v1_answer(ErrorCode::StoreUnavailable, "down").0, 503);
    }

    #[test]
    fn every_code_has_a_non_5xx_status_except_unavailable() {
        for c in ErrorCode::ALL {
            let s = v1_answer(*c, "m").0;
            assert!((400..500).contains(&s) || s == 503, "{c}: {s}");
        }
    }
}
