//! How a refusal is written: core's [`Answer`] (em-secure-api's plain-text answers for v1
//! requests, an RFC 9457 problem document for v2; the table is in [`xnonce_core::answer`])
//! as an HTTP response.

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use xnonce_core::answer::Answer;
pub use xnonce_core::answer::{title, v1_answer, PROBLEM_TYPE_BASE};
use xnonce_core::{Error, ErrorCode, Scheme};

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

/// Writes a refusal in the style of `scheme`.
pub fn refusal(scheme: Scheme, r: &Refusal) -> Response<Body> {
    let answer = Answer::refusal_with_status(&r.error, scheme, r.status);
    let mut res = Response::new(Body::from(answer.body));
    *res.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_REQUEST);
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(answer.content_type),
    );
    if let Some(Ok(v)) = answer.server_time.as_deref().map(HeaderValue::from_str) {
        res.headers_mut().insert(xnonce_core::time_hint::HEADER, v);
    }
    res
}
