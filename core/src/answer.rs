//! How a server answers a refused request, so that every server built on xnonce (the
//! reference server, and apps using a binding's verifier) answers with the same bytes:
//! em-secure-api's plain-text answers for v1 requests (and for any request whose credential is
//! not recognisably v2, [`refusal_scheme`]), an RFC 9457 problem document for v2.
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
//! `X-Nonce-Server-Time: <ms> <mac>` ([`crate::time_hint`]); v2 bodies also `server_time` and
//! `server_time_mac`.
//!
//! ```
//! use xnonce_core::{answer::Answer, Incoming, Verifier};
//! use std::collections::HashMap;
//! let clients: HashMap<String, xnonce_core::Secret> = HashMap::new();
//! let req = Incoming::new("GET", "/reports?day=mon").x_nonce("v2 svc 1700000000000 00 00");
//! let err = Verifier::default().verify(&req, &clients, 1_700_000_000_000).unwrap_err();
//! let answer = Answer::refusal(&err, req.refusal_scheme());
//! assert_eq!((answer.status, answer.content_type), (400, "application/problem+json"));
//! assert!(answer.body.contains(r#""code":"malformed_header""#));
//!
//! // The same refusal to an em-secure-api (v1) client: the original's text.
//! let header = format!("{} svc 1700000000000", "0".repeat(64));
//! let v1 = Incoming::new("GET", "/reports?day=mon").x_nonce(&header);
//! let err = Verifier::default().verify(&v1, &clients, 1_700_000_000_000).unwrap_err();
//! let answer = Answer::refusal(&err, v1.refusal_scheme());
//! assert_eq!((answer.status, answer.body.as_str()), (401, "client not known"));
//! ```

use crate::error::{Error, ErrorCode, ErrorFamily};
use crate::params;
use crate::scheme::Scheme;
use crate::time_hint;

/// The `type` URI prefix of problem documents.
pub const PROBLEM_TYPE_BASE: &str = "https://xnonce.dev/errors/";
/// The media type of v1 answers.
pub const V1_CONTENT_TYPE: &str = "text/plain";
/// The media type of v2 answers.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
/// The v1 body of a `429` answer ([`Answer::rate_limited`]).
pub const RATE_LIMITED_V1_BODY: &str = "Rate limit exceeded";

/// The HTTP answer to a refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`: [`V1_CONTENT_TYPE`] or [`PROBLEM_CONTENT_TYPE`].
    pub content_type: &'static str,
    /// The body.
    pub body: String,
    /// The `X-Nonce-Server-Time` header's value, for stale (`expired`) answers.
    pub server_time: Option<String>,
}

impl Answer {
    /// The answer to a request refused with `error`, in the style of `scheme` (the
    /// request's [`refusal_scheme`]).
    pub fn refusal(error: &Error, scheme: Scheme) -> Answer {
        Answer::refusal_with_status(error, scheme, None)
    }

    /// The same with a status that overrides the code's own: what a server that refuses
    /// a request before verifying it answers (413 for an oversized body, 431 for oversized
    /// headers); the body is then the error's message in v1.
    pub fn refusal_with_status(error: &Error, scheme: Scheme, status: Option<u16>) -> Answer {
        let code = error.code();
        let hint = error.server_time();
        let (status, content_type, body) = match scheme {
            Scheme::V1 => {
                let (status, body) = match status {
                    Some(status) => (status, error.message().to_string()),
                    None => v1_answer(code, error.message()),
                };
                (status, V1_CONTENT_TYPE, body)
            }
            Scheme::V2 => {
                let status = status.unwrap_or(code.http_status());
                // Any header field can make the head too large, not only X-Nonce.
                let title = match status {
                    431 => "Request header fields too large",
                    _ => title(code),
                };
                (status, PROBLEM_CONTENT_TYPE, problem(error, status, title))
            }
        };
        Answer {
            status,
            content_type,
            body,
            server_time: hint.map(|h| h.to_string()),
        }
    }

    /// The answer to an authenticated request over its client's rate limit (PROTOCOL §16):
    /// `429`, in v1 [`RATE_LIMITED_V1_BODY`], in v2 the `rate_limited` problem document with
    /// a `retry_after` member (whole seconds) after `detail`. The caller also sends
    /// `Retry-After` with the same seconds.
    ///
    /// ```
    /// use xnonce_core::{answer::Answer, Scheme};
    /// let v2 = Answer::rate_limited(Scheme::V2, 2);
    /// assert_eq!(v2.status, 429);
    /// assert!(v2.body.starts_with(r#"{"type":"https://xnonce.dev/errors/rate_limited","title":"Too many requests","status":429,"code":"rate_limited""#));
    /// assert!(v2.body.ends_with(r#""retry_after":2}"#));
    /// assert_eq!(Answer::rate_limited(Scheme::V1, 2).body, "Rate limit exceeded");
    /// ```
    pub fn rate_limited(scheme: Scheme, retry_after_secs: u64) -> Answer {
        let error = Error::new(
            ErrorCode::RateLimited,
            format!("client rate limit exceeded; retry after {retry_after_secs} s"),
        );
        let mut answer = Answer::refusal(&error, scheme);
        match scheme {
            Scheme::V1 => answer.body = RATE_LIMITED_V1_BODY.to_string(),
            Scheme::V2 => {
                let mut doc = problem_members(&error, answer.status, title(error.code()));
                doc.push_str(&format!(",\"retry_after\":{retry_after_secs}}}"));
                answer.body = doc;
            }
        }
        answer
    }

    /// The answer's header fields: `Content-Type`, and `X-Nonce-Server-Time` when stale.
    ///
    /// ```
    /// use xnonce_core::{answer::Answer, Error, ErrorCode, Scheme};
    /// let answer = Answer::refusal(&Error::new(ErrorCode::Replayed, "again"), Scheme::V1);
    /// assert_eq!(answer.headers(), [("Content-Type", "text/plain".to_string())]);
    /// assert_eq!((answer.status, answer.body.as_str()), (409, "ottoken already used"));
    /// ```
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![("Content-Type", self.content_type.to_string())];
        if let Some(t) = &self.server_time {
            headers.push((time_hint::HEADER, t.clone()));
        }
        headers
    }
}

/// The problem document, its members always in this order (whatever features a build gives
/// `serde_json`): `type`, `title`, `status`, `code`, `detail`, then `server_time` and
/// `server_time_mac` when stale.
fn problem(error: &Error, status: u16, title: &str) -> String {
    let mut doc = problem_members(error, status, title);
    doc.push('}');
    doc
}

/// The problem document's members, without its closing `}`: for an answer that adds its own.
fn problem_members(error: &Error, status: u16, title: &str) -> String {
    let text = |s: &str| serde_json::Value::from(s).to_string(); // a JSON string, escaped
    let code = error.code().as_str();
    let mut doc = format!(
        "{{\"type\":\"{PROBLEM_TYPE_BASE}{code}\",\"title\":{},\"status\":{status},\"code\":\"{code}\",\"detail\":{}",
        text(title),
        text(error.message()),
    );
    if let Some(h) = error.server_time() {
        doc.push_str(&format!(
            ",\"server_time\":{},\"server_time_mac\":{}",
            h.server_time_ms,
            text(&h.mac)
        ));
    }
    doc
}

/// A refusal: the coded error, and a status that overrides the code's own when the request
/// is refused before it can be verified (413 for an oversized body, 431 for oversized
/// headers, 400 for framing RFC 9112 forbids). What the reference server and the bindings'
/// server adapters answer such requests with, so that they answer with the same bytes.
///
/// ```
/// use xnonce_core::{answer::Refusal, Scheme};
/// let answer = Refusal::body_too_large(1_048_576).answer(Scheme::V1);
/// assert_eq!((answer.status, answer.body.as_str()), (413, "request body exceeds 1048576 bytes"));
/// let answer = Refusal::body_timeout().answer(Scheme::V1);
/// assert_eq!((answer.status, answer.body.as_str()), (408, "the request body did not arrive in time"));
/// let answer = Refusal::body_unreadable().answer(Scheme::V1);
/// assert_eq!((answer.status, answer.body.as_str()), (400, "the request body could not be read"));
/// let answer = Refusal::repeated_host().answer(Scheme::V2);
/// assert_eq!(answer.status, 400);
/// assert!(answer.body.contains(r#""code":"invalid_host""#));
/// ```
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

    /// A body larger than `limit` bytes, refused before it is read: 413, `invalid_body`.
    pub fn body_too_large(limit: usize) -> Self {
        Refusal {
            error: Error::new(
                ErrorCode::InvalidBody,
                format!("request body exceeds {limit} bytes"),
            ),
            status: Some(413),
        }
    }

    /// A body that did not all arrive within the server's time for it (its head did): 408,
    /// `invalid_body`.
    pub fn body_timeout() -> Self {
        Refusal::with_status(
            ErrorCode::InvalidBody,
            408,
            "the request body did not arrive in time",
        )
    }

    /// A body that could not be read (malformed chunked framing, a stream that failed): 400,
    /// `invalid_body`.
    pub fn body_unreadable() -> Self {
        Refusal::with_status(
            ErrorCode::InvalidBody,
            400,
            "the request body could not be read",
        )
    }

    /// A `CONNECT` request, in any case: it asks for a tunnel, not an API call, and a 2xx from
    /// the service behind would turn the connection into that tunnel. 400, `invalid_method`,
    /// whatever the credential (an input code alone would be v1's 401).
    pub fn tunnel() -> Self {
        Refusal::with_status(
            ErrorCode::InvalidMethod,
            400,
            "CONNECT opens a tunnel; it is not a request to verify",
        )
    }

    /// More than one `Host` field line (RFC 9112 §3.2: 400 whatever the scheme; which host
    /// would a v2 signature be bound to?): `invalid_host`.
    pub fn repeated_host() -> Self {
        Refusal::with_status(
            ErrorCode::InvalidHost,
            400,
            "more than one Host header field",
        )
    }

    /// A request whose method an HTTP stack replaced before the verifier saw it, from a field
    /// the client set ([`METHOD_OVERRIDE_FIELDS`]: Express's `method-override` keeps the sent
    /// method as `originalMethod`): 400, `invalid_method`. The signature covers the method
    /// sent; the application would act on one nobody signed (a signed `POST` run as
    /// `DELETE`).
    ///
    /// ```
    /// use xnonce_core::{answer::Refusal, Scheme};
    /// let answer = Refusal::method_overridden().answer(Scheme::V2);
    /// assert_eq!(answer.status, 400);
    /// assert!(answer.body.contains(r#""code":"invalid_method""#));
    /// ```
    pub fn method_overridden() -> Self {
        Refusal::with_status(
            ErrorCode::InvalidMethod,
            400,
            "the method was overridden by a header field that no signature covers",
        )
    }

    /// A `Content-Type` that is no form for the verifier, yet one for an application's reader
    /// ([`crate::verify::form_content_type_misread`]: a form media type with U+00A0 around it):
    /// 400, `invalid_body`. Verified as an opaque body, its fields would reach the application
    /// as a form that no signature covers as params.
    ///
    /// ```
    /// use xnonce_core::{answer::Refusal, Scheme};
    /// let answer = Refusal::misread_content_type().answer(Scheme::V2);
    /// assert_eq!(answer.status, 400);
    /// assert!(answer.body.contains(r#""code":"invalid_body""#));
    /// ```
    pub fn misread_content_type() -> Self {
        Refusal::with_status(
            ErrorCode::InvalidBody,
            400,
            "a Content-Type that applications read as a form, and verification does not",
        )
    }

    /// More than one `Content-Type` field line (a singleton field, RFC 9110 §8.3): 400,
    /// `invalid_body`. Which line says whether the body is a form differs between HTTP
    /// stacks (the first, the last, or both joined), and a verifier that reads another line
    /// than the application behind it may take a form for an opaque body: under v1, whose
    /// signature covers no such body, its fields would reach the application unsigned.
    ///
    /// ```
    /// use xnonce_core::{answer::Refusal, Scheme};
    /// let answer = Refusal::repeated_content_type().answer(Scheme::V2);
    /// assert_eq!(answer.status, 400);
    /// assert!(answer.body.contains(r#""code":"invalid_body""#));
    /// ```
    pub fn repeated_content_type() -> Self {
        Refusal::with_status(
            ErrorCode::InvalidBody,
            400,
            "more than one Content-Type header field",
        )
    }

    /// An HTTP/2 or HTTP/3 request whose `Host` field names another host than its
    /// `:authority` (RFC 9113 §8.3.1, RFC 9114 §4.3.1: malformed): 400, `invalid_host`. A v2
    /// signature is bound to `:authority`; an app reading `Host` would act on a host that was
    /// never signed. [`host_conflict`] tells when.
    ///
    /// ```
    /// use xnonce_core::{answer::{host_conflict, Refusal}, Scheme};
    /// assert!(host_conflict("api.test", "other.test"));
    /// assert!(!host_conflict("API.test:443", "api.test"));
    /// let answer = Refusal::host_conflict().answer(Scheme::V2);
    /// assert_eq!(answer.status, 400);
    /// assert!(answer.body.contains(r#""code":"invalid_host""#));
    /// ```
    pub fn host_conflict() -> Self {
        Refusal::with_status(
            ErrorCode::InvalidHost,
            400,
            "the Host header field differs from :authority",
        )
    }

    /// A query or form body with a pair that the `qs` parser (Express's `extended` query
    /// parser, `express.urlencoded({ extended: true })`) splits at another `=` than the
    /// verifier does ([`split_at_bracket`]): 400, `malformed_params`. The verifier splits a
    /// pair at its first `=` (PROTOCOL §11); `qs` at the first `]=`, so the signed pair
    /// `q` = `a]=b`, sent with its escapes undone (`q=a]=b`, which verifies the same), reaches
    /// the application as a param `q=a]` = `b`, and `q` as none at all. No signer sends a raw
    /// `]=` after an `=` (values are escaped, §4.1, §4.2).
    ///
    /// ```
    /// use xnonce_core::{answer::{split_at_bracket, Refusal}, Scheme};
    /// assert!(split_at_bracket("q=a]=b", None));
    /// assert!(!split_at_bracket("a[b]=1&q=a%5D%3Db", Some(b"c[]=2")));
    /// let answer = Refusal::split_at_bracket().answer(Scheme::V2);
    /// assert_eq!(answer.status, 400);
    /// assert!(answer.body.contains(r#""code":"malformed_params""#));
    /// ```
    pub fn split_at_bracket() -> Self {
        Refusal::with_status(
            ErrorCode::MalformedParams,
            400,
            "a parameter holds a raw ']=' after its '=': parsers split it elsewhere",
        )
    }

    /// The answer, in the style of `scheme` (the request's [`refusal_scheme`]).
    pub fn answer(&self, scheme: Scheme) -> Answer {
        Answer::refusal_with_status(&self.error, scheme, self.status)
    }
}

/// Whether header field `name` starts with `prefix` as CGI-style servers (Rack, WSGI, PHP)
/// read field names: in any case, and with a `_` standing for a `-`, since they merge both
/// `X-Nonce` and `X_Nonce` into `HTTP_X_NONCE`. A field a client may not set must be refused
/// in either spelling.
///
/// ```
/// use xnonce_core::answer::cgi_name_starts_with;
/// assert!(cgi_name_starts_with(b"X_XNonce_Client", "x-xnonce-"));
/// assert!(!cgi_name_starts_with(b"x-xnonc", "x-xnonce-"));
/// ```
pub fn cgi_name_starts_with(name: &[u8], prefix: &str) -> bool {
    name.len() >= prefix.len()
        && name
            .iter()
            .zip(prefix.as_bytes())
            .all(|(&n, &p)| n.eq_ignore_ascii_case(&p) || (n == b'_' && p == b'-'))
}

/// Whether header field `name` is `field` as CGI-style servers read field names
/// ([`cgi_name_starts_with`]: any case, `_` for `-`).
///
/// ```
/// use xnonce_core::answer::cgi_same_name;
/// assert!(cgi_same_name(b"x_nonce", "X-Nonce"));
/// assert!(!cgi_same_name(b"X-Nonces", "X-Nonce"));
/// ```
pub fn cgi_same_name(name: &[u8], field: &str) -> bool {
    name.len() == field.len() && cgi_name_starts_with(name, field)
}

/// Header fields (lower-case) that frameworks read in place of the request's own method
/// (Express's `method-override`, Werkzeug's `HTTPMethodOverrideMiddleware`, Symfony, IIS
/// rewrites). No signature covers them, so a verifier's middleware removes them from a request
/// it accepts (and the reference server's gateway does not forward them): an application
/// behind it must act on the method that was signed.
pub const METHOD_OVERRIDE_FIELDS: [&str; 4] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-method",
];

/// True when an HTTP/2 or HTTP/3 request's `Host` field names another host than its
/// `:authority` ([`Refusal::host_conflict`]): their canonical forms (PROTOCOL §6.2: case and
/// default port aside) differ, or, when either is not a valid host, their texts differ.
pub fn host_conflict(authority: &str, host_header: &str) -> bool {
    match (
        crate::canonical::host(authority),
        crate::canonical::host(host_header),
    ) {
        (Ok(a), Ok(h)) => a != h,
        _ => !authority.eq_ignore_ascii_case(host_header),
    }
}

/// True when a raw pair of `query` or of `form` (a form body's bytes; `None` when the body is
/// not a form) holds `]=` after its first `=` ([`Refusal::split_at_bracket`]): the `qs` parser
/// splits a pair at its first `]=` when it has one, the verifier at its first `=`, so the two
/// read other keys and values from it (`a[b=c]=d`: `a[b` = `c]=d` verified, `a[b=c]` = `d`
/// read). A `]=` that is the first `=` (`a[b]=1`) is read alike by both.
pub fn split_at_bracket(query: &str, form: Option<&[u8]>) -> bool {
    let ambiguous = |pair: &[u8]| match pair.windows(2).position(|w| w == b"]=") {
        Some(bracket) => pair.iter().position(|&b| b == b'=') != Some(bracket + 1),
        None => false,
    };
    let any = |pairs: &[u8]| pairs.split(|&b| b == b'&').any(ambiguous);
    any(query.as_bytes()) || form.is_some_and(any)
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

/// em-secure-api's (status, body) for a v1 refusal with `code` (`message`: the error's
/// message, the body of route refusals and of codes the original did not have).
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
        c if c.family() == ErrorFamily::Input => fixed(401, "ottoken does not match"),
        c => (c.http_status(), message.to_string()),
    }
}

/// Which scheme a request's credential looks like, to choose the style of its refusal: an
/// `X-Nonce` header starting with `v2 `, or an `ottoken` param (in the query, else in the
/// form body `form`) that is not v1's base64 JSON (`eyJ…`), is v2; anything else (including
/// no credential) is answered like em-secure-api.
///
/// ```
/// use xnonce_core::{answer::refusal_scheme, Scheme};
/// assert_eq!(refusal_scheme(Some("v2 svc 1700000000000 …"), "", None), Scheme::V2);
/// assert_eq!(refusal_scheme(None, "a=1&ottoken=djIgc3Zj", None), Scheme::V2);
/// assert_eq!(refusal_scheme(None, "a=1", Some("b=2")), Scheme::V1); // no credential: v1's 401 text
/// ```
pub fn refusal_scheme(x_nonce: Option<&str>, query: &str, form: Option<&str>) -> Scheme {
    if let Some(h) = x_nonce.filter(|h| !h.is_empty()) {
        return if h.starts_with("v2 ") {
            Scheme::V2
        } else {
            Scheme::V1
        };
    }
    match params::find_ottoken(query, form) {
        Some(t) if !t.is_empty() && !t.starts_with("eyJ") => Scheme::V2,
        _ => Scheme::V1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServerTimeHint;

    /// Where qs (its first `]=`) and the verifier (its first `=`) split a pair apart, and only
    /// there; in the query and in a form alike.
    #[test]
    fn split_at_bracket_is_where_qs_splits_elsewhere() {
        for split in ["q=a]=b", "a[b=c]=d", "x=1&k=v]=w", "a=1]=", "=]="] {
            assert!(split_at_bracket(split, None), "{split}");
            assert!(split_at_bracket("", Some(split.as_bytes())), "form {split}");
        }
        for alike in [
            "",
            "a[b]=1",
            "a[]=1&a[]=2",
            "a[b]]=c",
            "q=a%5D%3Db",
            "a]b",
            "q=a]",
            "q==",
            "a]=b=c",
            "]=x",
        ] {
            assert!(!split_at_bracket(alike, None), "{alike}");
            assert!(
                !split_at_bracket("", Some(alike.as_bytes())),
                "form {alike}"
            );
        }
        assert!(!split_at_bracket("a=1", Some(b"\xff]=")));
        assert!(split_at_bracket("a=1", Some(b"\xff=]=")));
    }

    /// The v2 429 is the `rate_limited` problem document, whole, with `retry_after` last.
    #[test]
    fn rate_limited_v2_is_one_problem_document() {
        let answer = Answer::rate_limited(Scheme::V2, 7);
        let doc: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(doc["status"], 429);
        assert_eq!(doc["code"], "rate_limited");
        assert_eq!(doc["title"], title(ErrorCode::RateLimited));
        assert_eq!(doc["detail"], "client rate limit exceeded; retry after 7 s");
        assert_eq!(doc["retry_after"], 7);
        assert_eq!(doc.as_object().unwrap().len(), 6);
        assert!(answer.body.ends_with(",\"retry_after\":7}"));
    }

    /// Every code a server refuses a request with has a title of its own; only the
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

    #[test]
    fn a_v2_answer_is_a_problem_document_and_a_stale_one_carries_the_time() {
        let hint = ServerTimeHint {
            server_time_ms: 1_700_000_000_000,
            mac: "ab".repeat(32),
        };
        let stale = Error::new(ErrorCode::Expired, "too old").with_server_time(hint.clone());
        let answer = Answer::refusal(&stale, Scheme::V2);
        assert!(answer.body.starts_with(
            r#"{"type":"https://xnonce.dev/errors/expired","title":"Request timestamp outside the window","status":401,"code":"expired","detail":"too old","server_time":1700000000000,"#
        ), "{}", answer.body);
        let doc: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(
            doc,
            serde_json::json!({
                "type": "https://xnonce.dev/errors/expired",
                "title": "Request timestamp outside the window",
                "status": 401,
                "code": "expired",
                "detail": "too old",
                "server_time": 1_700_000_000_000u64,
                "server_time_mac": "ab".repeat(32),
            })
        );
        assert_eq!(
            answer.headers(),
            [
                ("Content-Type", PROBLEM_CONTENT_TYPE.to_string()),
                ("X-Nonce-Server-Time", hint.to_string()),
            ]
        );
        let v1 = Answer::refusal(&stale, Scheme::V1);
        assert_eq!(
            (v1.status, v1.body.as_str(), v1.server_time),
            (401, "Request has timed out", Some(hint.to_string()))
        );
    }

    #[test]
    fn messages_are_escaped_as_json_strings() {
        let odd = Error::new(
            ErrorCode::MissingParam,
            "Missing required parameter \"a\\b\"\n",
        );
        let answer = Answer::refusal(&odd, Scheme::V2);
        let doc: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(doc["detail"], "Missing required parameter \"a\\b\"\n");
        assert_eq!((doc["status"].as_u64(), answer.status), (Some(422), 422));
    }

    #[test]
    fn an_overriding_status_keeps_the_code_and_names_oversized_heads() {
        let big = Error::new(ErrorCode::MalformedHeader, "X-Nonce too long");
        let v2 = Answer::refusal_with_status(&big, Scheme::V2, Some(431));
        assert_eq!(v2.status, 431);
        assert!(v2
            .body
            .contains(r#""title":"Request header fields too large""#));
        assert!(v2.body.contains(r#""code":"malformed_header""#));
        let v1 = Answer::refusal_with_status(&big, Scheme::V1, Some(413));
        assert_eq!((v1.status, v1.body.as_str()), (413, "X-Nonce too long"));
        assert_eq!(v1.server_time, None);
    }

    #[test]
    fn the_refusal_scheme_follows_the_credential() {
        assert_eq!(refusal_scheme(Some("v1 x"), "", None), Scheme::V1);
        assert_eq!(refusal_scheme(Some(""), "ottoken=djI", None), Scheme::V2);
        assert_eq!(refusal_scheme(None, "ottoken=eyJhIjoxfQ", None), Scheme::V1);
        assert_eq!(refusal_scheme(None, "ottoken=", None), Scheme::V1);
        assert_eq!(refusal_scheme(None, "", Some("ottoken=djI")), Scheme::V2);
    }
}
