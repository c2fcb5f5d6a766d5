//! Core's HTTP answer to a refused request (`xnonce_core::answer`), as JavaScript sees it:
//! the `Answer` record on a refused verification's `XNonceError.answer` (built in
//! [`crate::error`]), and `bodyTooLargeAnswer` (413), `bodyTimeoutAnswer` (408), `repeatedHostAnswer` and
//! `hostConflictAnswer` (400), what the server adapter (`middleware.js`) answers before any
//! verification, and `replayStoreAnswer` (409, 503), after its own store. Every byte comes from
//! core; this module only converts.

use std::collections::BTreeMap;

use napi::bindgen_prelude::Buffer;
use napi::Env;
use napi_derive::napi;
use xnonce_core::answer::{refusal_scheme, split_at_bracket, Refusal};
use xnonce_core::verify::{form_content_type_misread, is_form_content_type};
use xnonce_core::{Incoming, ReplayStoreError, Scheme};

use crate::error::{guard, out_of_range, Outcome, MAX_SAFE_INTEGER};

/// The HTTP answer to a refused request, as the reference server sends it: em-secure-api's
/// plain text for v1-style requests, an RFC 9457 problem document for v2.
#[napi(object, object_from_js = false)]
pub struct Answer {
    /// The status code (`401`, `409`, `413`, ...).
    pub status: u32,
    /// The header fields, names lower-case: `content-type`, and `x-nonce-server-time` (the
    /// server's authenticated time) for a stale request.
    #[napi(ts_type = "Record<string, string>")]
    pub headers: BTreeMap<String, String>,
    /// The body.
    pub body: String,
}

impl From<xnonce_core::answer::Answer> for Answer {
    fn from(a: xnonce_core::answer::Answer) -> Self {
        Answer {
            status: u32::from(a.status),
            headers: a
                .headers()
                .into_iter()
                .map(|(name, value)| (name.to_ascii_lowercase(), value))
                .collect(),
            body: a.body,
        }
    }
}

/// What `bodyTooLargeAnswer`, `repeatedHostAnswer` and `hostConflictAnswer` read of the request to choose the
/// answer's style (`null` counts as absent).
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct RefusedRequest {
    /// The request target (`/path?query`, as received): an `ottoken` in its query.
    #[napi(ts_type = "string | null")]
    pub target: Option<Option<String>>,
    /// The `X-Nonce` header, if any.
    #[napi(ts_type = "string | null")]
    pub x_nonce: Option<Option<String>>,
}

/// The 413 answer (`invalid_body`) to a request whose body is larger than `limit` bytes,
/// refused before its body is read, in the style of the request's credential: core's
/// `Refusal::body_too_large`, what the reference server answers. `limit`: a whole number of
/// bytes (else a `RangeError`).
#[napi(
    js_name = "bodyTooLargeAnswer",
    strict,
    ts_args_type = "limit: number, request?: RefusedRequest"
)]
pub fn body_too_large_answer(
    env: &Env,
    limit: f64,
    request: Option<RefusedRequest>,
) -> napi::Result<Answer> {
    guard(env, || {
        let limit = byte_count(env, limit)?;
        Ok(Refusal::body_too_large(limit).answer(style(request)).into())
    })
}

/// The 408 answer (`invalid_body`) to a request whose body did not arrive within the
/// middleware's `bodyTimeoutMs`, in the style of the request's credential: core's
/// `Refusal::body_timeout`, what the reference server answers when its `body_timeout_ms`
/// runs out.
#[napi(
    js_name = "bodyTimeoutAnswer",
    strict,
    ts_args_type = "request?: RefusedRequest"
)]
pub fn body_timeout_answer(request: Option<RefusedRequest>) -> Answer {
    Refusal::body_timeout().answer(style(request)).into()
}

/// The 400 answer (`invalid_host`) to a request with more than one `Host` field line (RFC
/// 9112 §3.2), in the style of the request's credential: core's `Refusal::repeated_host`,
/// what the reference server answers.
#[napi(
    js_name = "repeatedHostAnswer",
    strict,
    ts_args_type = "request?: RefusedRequest"
)]
pub fn repeated_host_answer(request: Option<RefusedRequest>) -> Answer {
    Refusal::repeated_host().answer(style(request)).into()
}

/// The 400 answer (`invalid_body`) to a request with more than one `Content-Type` field line
/// (stacks differ on which says whether the body is a form), in the style of the request's
/// credential: core's `Refusal::repeated_content_type`, what the reference server answers.
#[napi(
    js_name = "repeatedContentTypeAnswer",
    strict,
    ts_args_type = "request?: RefusedRequest"
)]
pub fn repeated_content_type_answer(request: Option<RefusedRequest>) -> Answer {
    Refusal::repeated_content_type()
        .answer(style(request))
        .into()
}

/// The 400 answer (`invalid_body`) to a request whose `Content-Type` is no form to the
/// verifier yet one to JavaScript's readers (a form media type with U+00A0 or another
/// character `String.prototype.trim` removes around it: body-parser's `content-type` trims
/// so), in the style of the request's credential; `null` for any other: core's
/// `verify::form_content_type_misread` and `Refusal::misread_content_type`.
#[napi(
    js_name = "misreadContentTypeAnswer",
    strict,
    ts_args_type = "contentType: string | null, request?: RefusedRequest"
)]
pub fn misread_content_type_answer(
    content_type: Option<String>,
    request: Option<RefusedRequest>,
) -> Option<Answer> {
    form_content_type_misread(content_type.as_deref()).then(|| {
        Refusal::misread_content_type()
            .answer(style(request))
            .into()
    })
}

/// The 400 answer (`invalid_method`) to a request whose method was replaced, before the
/// middleware saw it, from a header field no signature covers: core's
/// `Refusal::method_overridden`.
#[napi(
    js_name = "methodOverriddenAnswer",
    strict,
    ts_args_type = "request?: RefusedRequest"
)]
pub fn method_overridden_answer(request: Option<RefusedRequest>) -> Answer {
    Refusal::method_overridden().answer(style(request)).into()
}

/// The header fields (lower-case) that frameworks read in place of the request's method:
/// core's `answer::METHOD_OVERRIDE_FIELDS`, which the middleware removes from a request it
/// accepts.
#[napi(js_name = "methodOverrideFields")]
pub fn method_override_fields() -> Vec<&'static str> {
    xnonce_core::answer::METHOD_OVERRIDE_FIELDS.to_vec()
}

/// The `Content-Type` the app gets for an accepted request (core's
/// `verify::content_type_for_app`): a form's as `application/x-www-form-urlencoded;
/// charset=utf-8`, the charset its fields were verified in (nothing signs the one the client
/// named); JSON that names a charset as its media type with `charset=utf-8` (JSON is UTF-8;
/// `express.json()` would decode even UTF-7); `null` (keep it) for anything else.
#[napi(js_name = "contentTypeForApp")]
pub fn content_type_for_app(content_type: Option<String>) -> Option<String> {
    xnonce_core::verify::content_type_for_app(content_type.as_deref()).map(|ct| ct.into_owned())
}

/// The `Host` the app gets for an accepted v2 request: the host verified in the canonical form
/// its signature covers (core's `canonical::host`, PROTOCOL §6.2), so that spellings the
/// signature treats as one (`API.test:443`, `h:8080:443`) reach the app as that host
/// (`api.test`, `h:8080`), as the reference gateway hands them on; `null` for a host that has
/// none.
#[napi(js_name = "hostForApp")]
pub fn host_for_app(host: String) -> Option<String> {
    xnonce_core::canonical::host(&host)
        .ok()
        .map(|h| h.into_owned())
}

/// What `contentTypeForApp` gives for a form, and for a form only: core's `verify::FORM_UTF8`
/// (a form's fields are verified as the bytes sent, in UTF-8).
#[napi(js_name = "FORM_UTF8")]
pub const FORM_UTF8: &str = xnonce_core::verify::FORM_UTF8;

/// The 400 answer (`invalid_host`) to an HTTP/2 request whose `Host` field names another
/// host than its `:authority` (RFC 9113 §8.3.1), in the style of the request's credential,
/// or `null` when the two name the same host: core's `host_conflict` and
/// `Refusal::host_conflict`, what the reference server answers.
#[napi(
    js_name = "hostConflictAnswer",
    strict,
    ts_args_type = "authority: string, host: string, request?: RefusedRequest"
)]
pub fn host_conflict_answer(
    authority: String,
    host: String,
    request: Option<RefusedRequest>,
) -> Option<Answer> {
    xnonce_core::answer::host_conflict(&authority, &host)
        .then(|| Refusal::host_conflict().answer(style(request)).into())
}

/// The 400 answer (`malformed_params`) to a request whose query, or form body (by its
/// `Content-Type`, as the verifier reads it), has a pair holding a raw `]=` after its first
/// `=`, which Express's `qs` parser splits elsewhere than the verifier, in the style of the
/// request's credential; `null` for any other: core's `split_at_bracket` and
/// `Refusal::split_at_bracket`.
#[napi(
    js_name = "splitAtBracketAnswer",
    strict,
    ts_args_type = "target: string, contentType: string | null, body: Buffer, request?: RefusedRequest"
)]
pub fn split_at_bracket_answer(
    target: String,
    content_type: Option<String>,
    body: Buffer,
    request: Option<RefusedRequest>,
) -> Option<Answer> {
    let query = Incoming::new("", &target).query;
    let form = is_form_content_type(content_type.as_deref()).then_some(&body[..]);
    split_at_bracket(query, form).then(|| Refusal::split_at_bracket().answer(style(request)).into())
}

/// The answer to a verified request once a replay store the caller awaits has answered
/// (the middleware's `store`): `null` when `recorded` is `true` (the first copy: accept it),
/// the 409 (`replayed`) when `false`, the 503 (`store_unavailable`) when `null` (the store
/// failed). Core's `replay::recorded`, as `verifyOnce` and the reference server answer.
#[napi(
    js_name = "replayStoreAnswer",
    strict,
    ts_args_type = "recorded: boolean | null, request?: RefusedRequest"
)]
pub fn replay_store_answer(
    recorded: Option<bool>,
    request: Option<RefusedRequest>,
) -> Option<Answer> {
    let answer = recorded.ok_or_else(|| ReplayStoreError(String::new()));
    let refused = xnonce_core::replay::recorded(answer).err()?;
    Some(xnonce_core::answer::Answer::refusal(&refused, style(request)).into())
}

/// The style of a refusal made before verification (core's `refusal_scheme`; no form body
/// read yet).
fn style(request: Option<RefusedRequest>) -> Scheme {
    let request = request.unwrap_or_default();
    let target = request.target.flatten().unwrap_or_default();
    let x_nonce = request.x_nonce.flatten();
    refusal_scheme(x_nonce.as_deref(), Incoming::new("", &target).query, None)
}

/// A body limit: a whole, non-negative number of bytes.
fn byte_count(env: &Env, n: f64) -> Outcome<usize> {
    if n.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER).contains(&n) {
        if let Ok(n) = usize::try_from(n as u64) {
            return Ok(n);
        }
    }
    Err(out_of_range(env, "limit", "a whole number of bytes", n))
}
