//! How a refusal is written: core's [`Answer`](xnonce_core::answer::Answer) (em-secure-api's
//! plain-text answers for v1 requests, an RFC 9457 problem document for v2; the table is in
//! [`xnonce_core::answer`]) as an HTTP response.

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
pub use xnonce_core::answer::{title, v1_answer, Refusal, PROBLEM_TYPE_BASE};
use xnonce_core::Scheme;

/// Writes a refusal in the style of `scheme`.
pub fn refusal(scheme: Scheme, r: &Refusal) -> Response<Body> {
    let answer = r.answer(scheme);
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
