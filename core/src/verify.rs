//! Verification: from what a server received to a verified request or a coded error.
//!
//! Steps, in this order (the first failure is returned):
//! 1. credential: the `X-Nonce` header, else the `ottoken` parameter (`missing_header`,
//!    `malformed_header`, `malformed_ottoken`); the scheme must be accepted (`unsupported_scheme`);
//! 2. params read from the query and form body per scheme, the credential's `ottoken` left out
//!    (v1: every `ottoken`) (`malformed_params`);
//! 3. the client's live secrets (`unknown_client`);
//! 4. the token recomputed with each secret and compared in constant time (`signature_mismatch`;
//!    malformed request fields give their `invalid_*` code);
//! 5. freshness: `|now − timestamp| ≤ window` (`expired`, with an authenticated server-time hint);
//! 6. with [`Verifier::verify_once`], the replay key inserted if absent (`replayed`,
//!    `store_unavailable`).

use std::collections::HashMap;

use crate::canonical::v1::Tilde;
use crate::error::{Error, ErrorCode, Result};
use crate::header::HeaderRef;
use crate::replay::{ReplayKey, ReplayStore};
use crate::time_hint::ServerTimeHint;
use crate::{canonical, mac, params, RouteTable, Scheme, Secret, WindowPolicy, XNonce};

/// What the server received.
///
/// ```
/// use xnonce_core::Incoming;
/// let req = Incoming::new("POST", "/controller2/action1?opt2=x")
///     .host("api.example.com")
///     .x_nonce("v2 svc …")
///     .body(Some("application/x-www-form-urlencoded; charset=utf-8"), b"opt1=this&opt3=go");
/// assert_eq!((req.path, req.query), ("/controller2/action1", "opt2=x"));
/// assert!(req.is_form()); // the body's fields are params too
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Incoming<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// The host (authority); v2 signs it. The `Host` header, or the target's authority when
    /// the target is in absolute form (see [`Incoming::new`]).
    pub host: Option<&'a str>,
    /// The path as received (still percent-encoded), without the query.
    pub path: &'a str,
    /// The raw query string without `?` (empty when none).
    pub query: &'a str,
    /// The `Content-Type` header, if any: its first line, read whatever its bytes (Latin-1,
    /// or U+FFFD for what is not text). Not `None` for a value that is not ASCII: a form
    /// whose parameters hold other bytes is still a form to the application (PROTOCOL §6.5).
    pub content_type: Option<&'a str>,
    /// The raw body (empty when none).
    pub body: &'a [u8],
    /// The `X-Nonce` header, if any.
    pub x_nonce: Option<&'a str>,
}

impl<'a> Incoming<'a> {
    /// Starts from a method and a request target as received: origin form (`/path?query`)
    /// or absolute form (`http://host/path?query`, RFC 9112 §3.2.2, which a client sends to
    /// a proxy and a server must accept). In absolute form the target's authority is the
    /// host, and its path is the path (`/` when empty).
    ///
    /// ```
    /// use xnonce_core::Incoming;
    /// let req = Incoming::new("GET", "http://api.example.com/reports?day=mon");
    /// assert_eq!((req.host, req.path, req.query), (Some("api.example.com"), "/reports", "day=mon"));
    /// // The Host header field is then ignored (RFC 9112 §3.2.2):
    /// assert_eq!(req.host_header(Some("other.test")).host, Some("api.example.com"));
    /// ```
    pub fn new(method: &'a str, target: &'a str) -> Self {
        let (authority, rest) = match absolute_form(target) {
            Some((authority, rest)) => (Some(authority), rest),
            None => (None, target),
        };
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        Incoming {
            method,
            host: authority,
            path: if authority.is_some() && path.is_empty() {
                "/"
            } else {
                path
            },
            query,
            ..Default::default()
        }
    }

    /// Sets the host (the `Host` header's value, or whatever authority the request was for).
    pub fn host(mut self, host: &'a str) -> Self {
        self.host = Some(host);
        self
    }

    /// Takes the `Host` header field as received (`None`: the request had none) as the host,
    /// unless the host is already known: an absolute-form target's authority takes
    /// precedence over the field (RFC 9112 §3.2.2). What a server adapter calls with the
    /// header it received; [`Incoming::host`] sets the host unconditionally.
    ///
    /// ```
    /// use xnonce_core::Incoming;
    /// let req = Incoming::new("GET", "/reports").host_header(Some("api.example.com"));
    /// assert_eq!(req.host, Some("api.example.com"));
    /// ```
    pub fn host_header(mut self, value: Option<&'a str>) -> Self {
        if self.host.is_none() {
            self.host = value;
        }
        self
    }

    /// Sets the `X-Nonce` header.
    pub fn x_nonce(mut self, value: &'a str) -> Self {
        self.x_nonce = Some(value);
        self
    }

    /// Sets the body and its content type.
    pub fn body(mut self, content_type: Option<&'a str>, body: &'a [u8]) -> Self {
        self.content_type = content_type;
        self.body = body;
        self
    }

    /// True when the body is `application/x-www-form-urlencoded` (its fields are params).
    pub fn is_form(&self) -> bool {
        is_form_content_type(self.content_type)
    }

    /// The scheme whose style a refusal of this request answers in
    /// ([`crate::answer::refusal_scheme`]: its `X-Nonce` header, else its `ottoken` param).
    ///
    /// ```
    /// use xnonce_core::{Incoming, Scheme};
    /// assert_eq!(Incoming::new("GET", "/a?ottoken=djIgc3Zj").refusal_scheme(), Scheme::V2);
    /// assert_eq!(Incoming::new("GET", "/a").refusal_scheme(), Scheme::V1); // em-secure-api's text
    /// ```
    pub fn refusal_scheme(&self) -> crate::Scheme {
        // The form's text whatever the method: a refusal of a form on a method that carries
        // none still answers in the style of the credential it holds.
        let form = self.form_utf8().ok().flatten();
        crate::answer::refusal_scheme(self.x_nonce, self.query, form)
    }

    /// The form body's text when the body is a form (`None` otherwise). A non-empty form on a
    /// method that carries none ([`method_carries_forms`]) is `invalid_body`; a form body
    /// that is not UTF-8 is `malformed_params`. Signing and verifying read it alike.
    ///
    /// ```
    /// use xnonce_core::Incoming;
    /// let form = Some("application/x-www-form-urlencoded");
    /// let req = Incoming::new("POST", "/a").body(form, b"a=\xff");
    /// assert_eq!(req.form_text().unwrap_err().message(), "the form body is not UTF-8");
    /// let req = Incoming::new("GET", "/a").body(form, b"limit=10");
    /// assert_eq!(req.form_text().unwrap_err().code().as_str(), "invalid_body");
    /// assert_eq!(Incoming::new("GET", "/a").body(form, b"").form_text().unwrap(), Some(""));
    /// ```
    pub fn form_text(&self) -> Result<Option<&'a str>> {
        if self.is_form() && !self.body.is_empty() && !method_carries_forms(self.method) {
            return Err(Error::new(
                ErrorCode::InvalidBody,
                "a form body is read only on POST, PUT or PATCH; send the params of other \
                 methods in the query",
            ));
        }
        self.form_utf8()
    }

    /// [`Incoming::form_text`] whatever the method: the body's text when it is a form,
    /// `malformed_params` when that is not UTF-8.
    fn form_utf8(&self) -> Result<Option<&'a str>> {
        if !self.is_form() {
            return Ok(None);
        }
        std::str::from_utf8(self.body)
            .map(Some)
            .map_err(|_| Error::new(ErrorCode::MalformedParams, "the form body is not UTF-8"))
    }
}

/// An absolute-form target split into its authority and the rest (`/path?query`, `?query`
/// or empty): `scheme "://" authority rest`, with a scheme of RFC 3986 §3.1's characters.
/// `None` for any other form (origin form starts with `/`).
fn absolute_form(target: &str) -> Option<(&str, &str)> {
    let (scheme, after) = target.split_once("://")?;
    let mut chars = scheme.bytes();
    let scheme_ok = chars.next().is_some_and(|b| b.is_ascii_alphabetic())
        && chars.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !scheme_ok {
        return None;
    }
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    Some(after.split_at(end))
}

/// Whether a request of `method` may carry its params in a form body (PROTOCOL §11.1 step
/// 1): `POST`, `PUT` and `PATCH`, in any case. A form on any other method is refused
/// (`invalid_body`) when signed and when verified: many applications read none there
/// (Django, Java servlets, an Express handler reading `req.query`), so a signed param moved
/// from the query into such a body would verify and never reach them. No requester sends one
/// (em-secure-api's put the params of `GET` and `DELETE` in the query).
///
/// ```
/// use xnonce_core::verify::method_carries_forms;
/// assert!(method_carries_forms("POST") && method_carries_forms("patch"));
/// assert!(!method_carries_forms("GET") && !method_carries_forms("DELETE"));
/// ```
pub fn method_carries_forms(method: &str) -> bool {
    ["POST", "PUT", "PATCH"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(method))
}

/// True for `application/x-www-form-urlencoded` (any case, parameters ignored, spaces and
/// tabs around the media type ignored: HTTP's whitespace, not Unicode's).
///
/// ```
/// use xnonce_core::verify::is_form_content_type;
/// assert!(is_form_content_type(Some(" Application/X-WWW-Form-Urlencoded\t; charset=utf-8")));
/// // A server that reads header bytes as Latin-1 hands over U+00A0 for a 0xA0 byte.
/// assert!(!is_form_content_type(Some("application/x-www-form-urlencoded\u{a0}")));
/// ```
pub fn is_form_content_type(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|mt| {
            mt.trim_matches([' ', '\t'])
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// A character an application's header reader may trim from around a media type: Python's
/// `str.strip` and JavaScript's `trim` remove Unicode whitespace (U+00A0, U+0085...), other
/// controls (Python: U+001C..U+001F) and, in JavaScript, U+FEFF.
fn trimmed_by_app_readers(c: char) -> bool {
    c.is_whitespace() || c.is_control() || c == '\u{feff}'
}

/// True when `content_type` is no form ([`is_form_content_type`]) yet an application's reader
/// would take it for one: its media type, once every character such a reader trims is
/// removed from around it, is `application/x-www-form-urlencoded` (any case). Python's
/// `str.strip` (python-multipart's, so Starlette's and FastAPI's, and Django's header
/// parsers) and JavaScript's `trim` remove more than SP and HTAB: U+00A0 and U+0085 (bytes
/// 0xA0 and 0x85 of a header read as Latin-1, which HTTP servers pass on), other C0 controls,
/// any Unicode whitespace. Verified as an opaque body (v2: by digest, no params), such a body
/// would reach the application as a form whose fields no signature covers as params, so a
/// verifier's middleware refuses the request ([`crate::answer::Refusal::misread_content_type`]).
///
/// ```
/// use xnonce_core::verify::form_content_type_misread;
/// assert!(form_content_type_misread(Some("application/x-www-form-urlencoded\u{a0}")));
/// assert!(form_content_type_misread(Some("\u{85}Application/X-WWW-Form-Urlencoded; a=b")));
/// assert!(!form_content_type_misread(Some(" application/x-www-form-urlencoded\t")));
/// assert!(!form_content_type_misread(Some("text/plain\u{a0}")));
/// assert!(!form_content_type_misread(None));
/// ```
pub fn form_content_type_misread(content_type: Option<&str>) -> bool {
    !is_form_content_type(content_type)
        && content_type
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|mt| {
                mt.trim_matches(trimmed_by_app_readers)
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
}

/// The `Content-Type` a form reaches the application with once verified: UTF-8, the
/// charset its fields were verified in (PROTOCOL §6.5). Nothing signs the `charset` a client
/// names (§14.3), and an application that honours it (Servlet's, ASP.NET's and Django's form
/// readers do) would decode a signed non-ASCII value otherwise.
pub const FORM_UTF8: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// What an application behind a verifier should get as the `Content-Type` of an accepted
/// request: [`FORM_UTF8`] for a form ([`is_form_content_type`]), whatever charset it named;
/// for JSON (`application/json` or a `+json` type, RFC 6839 §3.1) whose parameters name a
/// charset, its media type (lower-case) with `charset=utf-8`; `None` (keep what was sent) for
/// anything else.
///
/// JSON is UTF-8 and defines no charset (RFC 8259 §8.1, §11), yet some readers decode in the
/// one named — Express's `express.json()` even in UTF-7, where a signed `+ACI-` is a `"` — and
/// nothing signs it (PROTOCOL §14.3): the body's bytes stay as signed, read as UTF-8.
///
/// ```
/// use xnonce_core::verify::{content_type_for_app, FORM_UTF8};
/// let latin1 = Some("application/x-www-form-urlencoded; charset=iso-8859-1");
/// assert_eq!(content_type_for_app(latin1).as_deref(), Some(FORM_UTF8));
/// let utf7 = Some("Application/Problem+JSON; charset=utf-7");
/// assert_eq!(content_type_for_app(utf7).as_deref(), Some("application/problem+json; charset=utf-8"));
/// // As Python's and JavaScript's readers trim the media type.
/// let nbsp = Some("application/json\u{a0}; charset=utf-7");
/// assert_eq!(content_type_for_app(nbsp).as_deref(), Some("application/json; charset=utf-8"));
/// assert_eq!(content_type_for_app(Some("application/json")), None);
/// assert_eq!(content_type_for_app(Some("text/plain; charset=utf-16")), None);
/// assert_eq!(content_type_for_app(None), None);
/// ```
pub fn content_type_for_app(content_type: Option<&str>) -> Option<std::borrow::Cow<'static, str>> {
    if is_form_content_type(content_type) {
        return Some(FORM_UTF8.into());
    }
    let (media, parameters) = content_type?.split_once(';')?;
    // Trimmed as the application's reader trims it: `application/json\u{a0}; charset=utf-7`
    // is JSON in UTF-7 to Django's parser (and Django REST framework's JSON reader).
    let media = media
        .trim_matches(trimmed_by_app_readers)
        .to_ascii_lowercase();
    let names_charset = parameters.to_ascii_lowercase().contains("charset");
    (is_json_media_type(&media) && names_charset).then(|| format!("{media}; charset=utf-8").into())
}

/// `application/json` or a structured-syntax `+json` type (`type/name+json`), lower-case, of
/// token characters only (RFC 9110 §5.6.2).
fn is_json_media_type(media: &str) -> bool {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+.^_`|~-".contains(&b))
    };
    match media.split_once('/') {
        Some((kind, sub)) => {
            token(kind)
                && token(sub)
                && (media == "application/json"
                    || sub
                        .strip_suffix("+json")
                        .is_some_and(|name| !name.is_empty()))
        }
        None => false,
    }
}

/// Where a verifier finds a client's live secrets (several during rotation; none = unknown).
///
/// Implement [`SecretSource::secrets`]; a source that holds its secrets in memory can also
/// implement [`SecretSource::with_secrets`] to lend them for the length of one verification
/// instead of copying them (the verifier only calls `with_secrets`).
///
/// ```
/// use xnonce_core::{Secret, SecretSource};
/// struct One(Secret);
/// impl SecretSource for One {
///     fn secrets(&self, client: &str) -> Vec<Secret> {
///         if client == "svc" { vec![self.0.clone()] } else { Vec::new() }
///     }
///     fn with_secrets(&self, client: &str, f: &mut dyn FnMut(&[Secret])) {
///         f(if client == "svc" { std::slice::from_ref(&self.0) } else { &[] })
///     }
/// }
/// let source = One(Secret::generate()?);
/// let mut n = 0;
/// source.with_secrets("svc", &mut |live| n = live.len());
/// assert_eq!(n, 1);
/// # Ok::<(), xnonce_core::Error>(())
/// ```
pub trait SecretSource {
    /// The client's live secrets; empty when the client is unknown.
    fn secrets(&self, client: &str) -> Vec<Secret>;

    /// Calls `f` once with the client's live secrets (empty when the client is unknown).
    /// The default lends the result of [`SecretSource::secrets`].
    fn with_secrets(&self, client: &str, f: &mut dyn FnMut(&[Secret])) {
        f(&self.secrets(client))
    }

    /// Brings the source up to date now, for a source that can change behind the verifier's
    /// back (a file that another process writes) and otherwise checks for changes only from
    /// time to time. Returns `true` when the live secrets may have changed.
    ///
    /// The verifier calls it after a request whose client is unknown or whose signature
    /// matches none of the client's live secrets, and checks that request once more when it
    /// returns `true`: a client just added, or just given a new secret, by another process
    /// is accepted from its first request. Accepted requests never call it. The default
    /// returns `false` (nothing to bring up to date).
    fn refresh(&self) -> bool {
        false
    }
}

impl<F: Fn(&str) -> Vec<Secret>> SecretSource for F {
    fn secrets(&self, client: &str) -> Vec<Secret> {
        self(client)
    }
}

impl SecretSource for HashMap<String, Vec<Secret>> {
    fn secrets(&self, client: &str) -> Vec<Secret> {
        self.get(client).cloned().unwrap_or_default()
    }

    fn with_secrets(&self, client: &str, f: &mut dyn FnMut(&[Secret])) {
        f(self.get(client).map_or(&[], Vec::as_slice))
    }
}

impl SecretSource for HashMap<String, Secret> {
    fn secrets(&self, client: &str) -> Vec<Secret> {
        self.get(client).cloned().into_iter().collect()
    }

    fn with_secrets(&self, client: &str, f: &mut dyn FnMut(&[Secret])) {
        f(self.get(client).map_or(&[], std::slice::from_ref))
    }
}

/// A verified request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The scheme it was signed with.
    pub scheme: Scheme,
    /// The authenticated client id.
    pub client: String,
    /// The signed timestamp.
    pub timestamp_ms: u64,
    /// The signed params (decoded; the `ottoken` the credential came from left out).
    pub params: Vec<(String, String)>,
    /// The replay key: `v1:<client>:<token>` or `v2:<client>:<nonce>` (with its digest,
    /// computed once for the stores that record digests).
    pub replay_key: ReplayKey,
    /// Until when the replay key must be remembered: timestamp + window (v1: + the policy's
    /// longest window, PROTOCOL §11.4).
    pub remember_until_ms: u64,
    /// Which of the client's secrets matched (index into the source's list).
    pub secret_index: usize,
    /// True when the credential came from an `ottoken` parameter.
    pub via_ottoken: bool,
}

/// How far after a binding's in-place reconfiguration ([`Verifier::replacing`]) the replaced
/// settings may still have verified a request: a verification that took them just before the
/// swap reads its clock a moment later.
pub const REPLACE_MARGIN_MS: u64 = 1_000;

/// Verifies requests under a window policy and a set of accepted schemes.
///
/// ```
/// use std::collections::HashMap;
/// use xnonce_core::{sign_with, FixedEnvironment, Incoming, Scheme, Secret, SignInput, Verifier, MemoryReplayStore};
/// let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
/// let env = FixedEnvironment { now_ms: 1_700_000_000_000, nonce: [1; 16] };
/// let signed = sign_with(&SignInput::new(Scheme::V2, "GET", "/admin/status", "svc").host("api.test"), &secret, &env)?;
/// let clients = HashMap::from([("svc".to_string(), secret)]);
/// let verifier = Verifier::default();
/// let store = MemoryReplayStore::new();
/// let req = Incoming::new("GET", "/admin/status").host("api.test").x_nonce(&signed.x_nonce);
/// let ok = verifier.verify_once(&req, &clients, &store, env.now_ms)?;
/// assert_eq!(ok.client, "svc");
/// let again = verifier.verify_once(&req, &clients, &store, env.now_ms).unwrap_err();
/// assert_eq!(again.code().as_str(), "replayed");
/// # Ok::<(), xnonce_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Verifier {
    windows: WindowPolicy,
    accept_v1: bool,
    accept_v2: bool,
    /// The canonical hosts v2 requests must be for; `None`: any.
    hosts: Option<Vec<String>>,
    /// The verifier this one took over from ([`Verifier::succeeding`]), whose replay keys
    /// may still be in the store.
    previous: Option<std::sync::Arc<Predecessor>>,
    /// The routes and param rules requests are checked against first ([`Verifier::routes`]).
    routes: Option<std::sync::Arc<RouteTable>>,
}

/// A verifier that another one replaced, and the last instant it may have verified a
/// request at.
#[derive(Debug)]
struct Predecessor {
    verifier: Verifier,
    last_verified_ms: u64,
}

impl Predecessor {
    /// `chain` without the links replaced before `since_ms`, however deep: a link is copied
    /// only when a link behind it goes.
    fn recent(
        chain: &Option<std::sync::Arc<Predecessor>>,
        since_ms: u64,
    ) -> Option<std::sync::Arc<Predecessor>> {
        let p = chain.as_ref().filter(|p| p.last_verified_ms >= since_ms)?;
        let earlier = Predecessor::recent(&p.verifier.previous, since_ms);
        let kept = match (&earlier, &p.verifier.previous) {
            (Some(a), Some(b)) => std::sync::Arc::ptr_eq(a, b),
            (a, b) => a.is_none() && b.is_none(),
        };
        if kept {
            return Some(p.clone());
        }
        Some(std::sync::Arc::new(Predecessor {
            verifier: Verifier {
                previous: earlier,
                ..p.verifier.clone()
            },
            last_verified_ms: p.last_verified_ms,
        }))
    }
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            windows: WindowPolicy::default(),
            accept_v1: true,
            accept_v2: true,
            hosts: None,
            previous: None,
            routes: None,
        }
    }
}

impl Verifier {
    /// A verifier accepting both schemes with a 30 s window.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the window policy. A policy with a window over [`MAX_WINDOW_MS`] (one day, the
    /// default or any override) is refused (`invalid_timestamp`, PROTOCOL §11.3): freshness
    /// would mean nothing, and replay keys would be kept that long. An override no request
    /// path can select (an empty action under a named controller, a `/` in an action, an
    /// empty segment in a controller) is refused (`invalid_path`): see
    /// [`WindowPolicy::check_reachable`].
    ///
    /// ```
    /// use xnonce_core::{window::MAX_WINDOW_MS, Verifier, WindowPolicy};
    /// let v = Verifier::new().windows(WindowPolicy::new(60_000).controller("reports", MAX_WINDOW_MS))?;
    /// assert_eq!(v.window_policy().window_for("/reports/daily"), MAX_WINDOW_MS);
    /// let e = Verifier::new().windows(WindowPolicy::new(30_000).action("a", "b", MAX_WINDOW_MS + 1));
    /// assert_eq!(e.unwrap_err().code().as_str(), "invalid_timestamp");
    /// # Ok::<(), xnonce_core::Error>(())
    /// ```
    ///
    /// [`MAX_WINDOW_MS`]: crate::window::MAX_WINDOW_MS
    pub fn windows(mut self, windows: WindowPolicy) -> Result<Self> {
        crate::window::window_from_i128(i128::from(windows.longest_ms()))?;
        windows.check_reachable()?;
        self.windows = windows;
        Ok(self)
    }

    /// Sets which schemes are accepted; a request in another scheme is `unsupported_scheme`.
    ///
    /// An empty list is refused (`unsupported_scheme`): a verifier that accepts no scheme
    /// would reject every request, which is never what a configuration means.
    ///
    /// ```
    /// use xnonce_core::{Scheme, Verifier};
    /// let v2_only = Verifier::new().schemes(&[Scheme::V2])?;
    /// assert!(v2_only.accepts(Scheme::V2) && !v2_only.accepts(Scheme::V1));
    /// assert_eq!(Verifier::new().schemes(&[]).unwrap_err().code().as_str(), "unsupported_scheme");
    /// # Ok::<(), xnonce_core::Error>(())
    /// ```
    pub fn schemes(mut self, schemes: &[Scheme]) -> Result<Self> {
        if schemes.is_empty() {
            return Err(Error::new(
                ErrorCode::UnsupportedScheme,
                "a verifier must accept at least one scheme",
            ));
        }
        self.accept_v1 = schemes.contains(&Scheme::V1);
        self.accept_v2 = schemes.contains(&Scheme::V2);
        Ok(self)
    }

    /// Accepts v2 requests only for these hosts: the names this service is reached by, as its
    /// clients sign them (`api.example.com`, `api.example.com:8443`), compared in canonical
    /// form (PROTOCOL §6.2: lower case, without `:80` / `:443`). A v2 request for any other
    /// host is `invalid_host`, before its signature is checked. Without a list any host
    /// verifies, so a v2 request made for another service that knows the same client (staging
    /// and production) verifies here too, once, as that service's replay store is not this
    /// one's (PROTOCOL §14.1). v1 does not sign the host, so its requests are not checked.
    ///
    /// A host that is not one (`invalid_host`) or an empty list (`invalid_host`: it would
    /// refuse every v2 request) is refused.
    ///
    /// ```
    /// use xnonce_core::{sign, Incoming, Scheme, Secret, SignInput, Verifier};
    /// let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
    /// let clients = std::collections::HashMap::from([("svc".to_string(), secret.clone())]);
    /// let production = Verifier::new().hosts(&["api.example.com", "API.example.com:8443"])?;
    /// let for_staging = SignInput::new(Scheme::V2, "GET", "/a/b", "svc")
    ///     .host("staging.example.com")
    ///     .timestamp_ms(1_700_000_000_000);
    /// let x_nonce = sign(&for_staging, &secret)?.x_nonce;
    /// let req = Incoming::new("GET", "/a/b").host("staging.example.com").x_nonce(&x_nonce);
    /// let e = production.verify(&req, &clients, 1_700_000_000_000).unwrap_err();
    /// assert_eq!(e.code().as_str(), "invalid_host");
    /// # Ok::<(), xnonce_core::Error>(())
    /// ```
    pub fn hosts<S: AsRef<str>>(mut self, hosts: &[S]) -> Result<Self> {
        if hosts.is_empty() {
            return Err(Error::new(
                ErrorCode::InvalidHost,
                "a verifier's host list must name at least one host",
            ));
        }
        let mut names = Vec::with_capacity(hosts.len());
        for h in hosts {
            names.push(canonical::host(h.as_ref())?.into_owned());
        }
        self.hosts = Some(names);
        Ok(self)
    }

    /// Refuses a v2 request for a host not in [`Verifier::hosts`]'s list, if there is one.
    fn check_host(&self, host: Option<&str>) -> Result<()> {
        let Some(hosts) = &self.hosts else {
            return Ok(());
        };
        let host =
            host.ok_or_else(|| Error::new(ErrorCode::InvalidHost, "v2 request without a Host"))?;
        let host = canonical::host(host)?;
        match hosts.iter().any(|h| *h == *host) {
            true => Ok(()),
            false => Err(Error::new(
                ErrorCode::InvalidHost,
                "the request is for a host this service does not serve",
            )),
        }
    }

    /// Checks every request's route and param rules first, as em-secure-api and
    /// `xnonce-server` do (PROTOCOL §16): a path and method no route names is `unknown_route`
    /// (404), a missing `req` or present `exc` param `missing_param` / `excluded_param`
    /// (422), each with em-secure-api's text, before the credential is read — so an unsigned
    /// request learns them too, as from the original. The rules are checked against the
    /// param names as sent ([`RouteMatch::check_sent`](crate::RouteMatch::check_sent)); a
    /// form body that is not UTF-8 is `malformed_params` first. Build the table with
    /// [`RouteTable::add_checked`] to refuse routes no request could match.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use xnonce_core::{Incoming, ParamRule, RouteTable, Secret, Verifier};
    /// let table = RouteTable::new().route("reports", "daily", "GET", &[("day", ParamRule::Required)]);
    /// let verifier = Verifier::new().routes(table);
    /// let clients: HashMap<String, Secret> = HashMap::new();
    /// let e = verifier.verify(&Incoming::new("GET", "/reports/daily?tz=UTC"), &clients, 0).unwrap_err();
    /// assert_eq!((e.code().as_str(), e.message()), ("missing_param", "Missing required parameter day"));
    /// let e = verifier.verify(&Incoming::new("GET", "/reports/weekly"), &clients, 0).unwrap_err();
    /// assert_eq!(e.code().as_str(), "unknown_route");
    /// ```
    pub fn routes(mut self, routes: RouteTable) -> Self {
        self.routes = Some(std::sync::Arc::new(routes));
        self
    }

    /// Whether requests in `scheme` are accepted.
    pub fn accepts(&self, scheme: Scheme) -> bool {
        match scheme {
            Scheme::V1 => self.accept_v1,
            Scheme::V2 => self.accept_v2,
        }
    }

    /// The window policy.
    pub fn window_policy(&self) -> &WindowPolicy {
        &self.windows
    }

    /// How long a shared replay store should refuse every request once it finds that it lost
    /// its keys (Redis restarted empty, flushed, replaced): [`fence_ms`] of this verifier's
    /// longest window ([`WindowPolicy::longest_ms`]), after which every request it may have
    /// accepted before the loss is stale here. A store shared by verifiers of different
    /// settings needs the longest of theirs, and after a reload (which keeps keys recorded
    /// under the old windows) the longer of the old and the new: raise a store's fence, never
    /// lower it.
    ///
    /// [`fence_ms`]: crate::replay::shared::fence_ms
    ///
    /// ```
    /// use xnonce_core::replay::shared::DEFAULT_FENCE_MS;
    /// use xnonce_core::{Verifier, WindowPolicy};
    /// assert_eq!(Verifier::new().fence_after_loss_ms(), DEFAULT_FENCE_MS);
    /// let verifier = Verifier::new().windows(WindowPolicy::new(30_000).controller("exports", 300_000))?;
    /// assert_eq!(verifier.fence_after_loss_ms(), 601_000);
    /// # Ok::<(), xnonce_core::Error>(())
    /// ```
    pub fn fence_after_loss_ms(&self) -> u64 {
        crate::replay::shared::fence_ms(self.windows.longest_ms())
    }

    /// The window overrides, as `(controller, action)`, that select no route of this
    /// verifier's route table ([`WindowPolicy::naming_no_route`]): they apply to no request,
    /// most likely misspelt. Empty without [`Verifier::routes`], where windows apply by path.
    ///
    /// ```
    /// use xnonce_core::{RouteTable, Verifier, WindowPolicy};
    /// let verifier = Verifier::new()
    ///     .windows(WindowPolicy::new(30_000).controller("reprots", 60_000))?
    ///     .routes(RouteTable::new().route("reports", "daily", "GET", &[]));
    /// assert_eq!(verifier.windows_naming_no_route(), [("reprots", None)]);
    /// # Ok::<(), xnonce_core::Error>(())
    /// ```
    pub fn windows_naming_no_route(&self) -> Vec<(&str, Option<&str>)> {
        match &self.routes {
            Some(routes) => self.windows.naming_no_route(routes),
            None => Vec::new(),
        }
    }

    /// This verifier, taking over from `previous` (a configuration reload), which verifies
    /// no request after `last_verified_ms` and whose replay keys stay in the same store.
    ///
    /// `previous` remembered each request it accepted only for its own window (PROTOCOL
    /// §11.4). Where this verifier's window is wider, a copy of such a request would be fresh
    /// here after its key expired, and accepted a second time. So a request stamped early
    /// enough for `previous` to have accepted it (at most `previous`'s replay-key lifetime
    /// after `last_verified_ms`) is checked under the narrower of the two windows; later
    /// ones under this verifier's own. A narrower window applies at once; a wider one once
    /// the old window has elapsed (PROTOCOL §14.1, *Replay window*). Chains of reloads are
    /// followed; a predecessor that can no longer matter (replaced more than two longest
    /// windows before) is dropped.
    ///
    /// ```
    /// use xnonce_core::{Verifier, WindowPolicy};
    /// let old = Verifier::new().windows(WindowPolicy::new(5_000))?;
    /// let reloaded_at = 1_700_000_000_000;
    /// let new = Verifier::new().windows(WindowPolicy::new(60_000))?.succeeding(&old, reloaded_at);
    /// // A request `old` may have accepted keeps its 5 s window; a later one gets 60 s.
    /// assert_eq!(new.window_at("/a/b", reloaded_at), 5_000);
    /// assert_eq!(new.window_at("/a/b", reloaded_at + 5_001), 60_000);
    /// # Ok::<(), xnonce_core::Error>(())
    /// ```
    pub fn succeeding(mut self, previous: &Verifier, last_verified_ms: u64) -> Self {
        // Its own predecessor's requests are stale everywhere two longest windows after it
        // was replaced (a timestamp may be a window ahead of the clock).
        let horizon = 2 * crate::window::MAX_WINDOW_MS;
        let earlier =
            Predecessor::recent(&previous.previous, last_verified_ms.saturating_sub(horizon));
        // The same windows (a reload that changed something else, or nothing): every key
        // `previous` recorded lasts as long as this verifier's window, so it needs no link of
        // its own; its predecessors still bound what they accepted. A server reloaded often
        // keeps no chain to walk on each request.
        if self.windows == previous.windows {
            self.previous = earlier;
            return self;
        }
        self.previous = Some(std::sync::Arc::new(Predecessor {
            verifier: Verifier {
                previous: earlier,
                ..previous.clone()
            },
            last_verified_ms,
        }));
        self
    }

    /// This verifier, replacing `previous` in place at `now_ms` (a binding's `reconfigure`:
    /// the same object, secrets and replay store, new windows, schemes, hosts or routes):
    /// [`succeeding`](Verifier::succeeding) with `previous`'s last verification put at
    /// `now_ms` + [`REPLACE_MARGIN_MS`].
    ///
    /// The margin covers a verification that took the old settings just before the swap and
    /// read its clock just after (a thread, a callback): its `now` is after `now_ms` by far
    /// less than a second, and a request it accepted keeps the narrower window all the same.
    ///
    /// ```
    /// use xnonce_core::verify::REPLACE_MARGIN_MS;
    /// use xnonce_core::{Verifier, WindowPolicy};
    /// let old = Verifier::new().windows(WindowPolicy::new(5_000))?;
    /// let at = 1_700_000_000_000;
    /// let new = Verifier::new().windows(WindowPolicy::new(60_000))?.replacing(&old, at);
    /// assert_eq!(new.window_at("/a/b", at + REPLACE_MARGIN_MS + 5_000), 5_000);
    /// assert_eq!(new.window_at("/a/b", at + REPLACE_MARGIN_MS + 5_001), 60_000);
    /// # Ok::<(), xnonce_core::Error>(())
    /// ```
    pub fn replacing(self, previous: &Verifier, now_ms: u64) -> Self {
        self.succeeding(previous, now_ms.saturating_add(REPLACE_MARGIN_MS))
    }

    /// The window a request for `path` stamped `timestamp_ms` is checked under: the policy's
    /// window for the path, narrowed while a verifier this one succeeded may have accepted
    /// the request ([`Verifier::succeeding`]).
    pub fn window_at(&self, path: &str, timestamp_ms: u64) -> u64 {
        self.windows_at(Scheme::V2, path, timestamp_ms).0
    }

    /// `(window checked, replay-key lifetime, inherited)` for a request in `scheme` for `path`
    /// stamped `ts`. The lifetime is the policy's window (v2) or its longest (v1, PROTOCOL
    /// §11.4); `inherited` the shortest lifetime any predecessor that may have accepted the
    /// request kept its key for (`u64::MAX`: none), which bounds the window checked.
    fn windows_at(&self, scheme: Scheme, path: &str, ts: u64) -> (u64, u64, u64) {
        let window = self.windows.window_for(path);
        let lifetime = match scheme {
            Scheme::V2 => window,
            // One v1 token can verify on paths with different windows (§11.4): kept for
            // the longest, so no spelling with a longer window finds it forgotten.
            Scheme::V1 => self.windows.longest_ms(),
        };
        let mut inherited = u64::MAX;
        if let Some(p) = &self.previous {
            let (_, p_lifetime, p_inherited) = p.verifier.windows_at(scheme, path, ts);
            inherited = p_inherited;
            // `p` accepted a request only within its window of the request's timestamp, at
            // the latest at its last verification; its window on any path — a v1 token
            // verifies on other spellings of its path too (§14.2) — is at most the key's
            // lifetime it gave.
            if ts <= p.last_verified_ms.saturating_add(p_lifetime) {
                inherited = inherited.min(p_lifetime);
            }
        }
        (window.min(inherited), lifetime, inherited)
    }

    /// Reads the credential of a request: header first, else the `ottoken` parameter.
    pub fn credential(&self, req: &Incoming<'_>) -> Result<(XNonce, bool)> {
        let mut from_ottoken = None;
        let form = req.form_text()?;
        let (header, via_ottoken) = self.credential_fields(req, form, &mut from_ottoken)?;
        Ok((header.to_owned(), via_ottoken))
    }

    /// The route table's refusal of a request from its head alone, before its body is read
    /// ([`RouteTable::check_head`]): `Ok(())` without a table, for a form (decided once its
    /// body is read, by [`Verifier::verify`]) and for a head that meets the rules. A
    /// middleware calls it before it reads a body, as the reference server does, so that a
    /// request to an unknown route is answered 404 without waiting for (or refusing the
    /// size of) a body that cannot change that answer.
    pub fn check_route_before_body(&self, req: &Incoming<'_>) -> Result<()> {
        match &self.routes {
            Some(table) => table.check_head(req).map(|_| ()),
            None => Ok(()),
        }
    }

    /// [`Verifier::credential`] borrowing the header's fields: from the `X-Nonce` text, or
    /// from the header decoded out of an `ottoken` into `holder`. `form` is the request's
    /// [`Incoming::form_text`], read by the caller first (§11.1 step 1: a form body that is not UTF-8
    /// is `malformed_params`, whatever the credential).
    fn credential_fields<'r>(
        &self,
        req: &Incoming<'r>,
        form: Option<&'r str>,
        holder: &'r mut Option<XNonce>,
    ) -> Result<(HeaderRef<'r>, bool)> {
        let (header, via_ottoken) = match req.x_nonce.filter(|h| !h.is_empty()) {
            Some(h) => (HeaderRef::parse(h)?, false),
            None => match params::find_ottoken(req.query, form) {
                Some(raw) => {
                    let decoded = crate::percent::decode_form(raw)
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                        .ok_or_else(|| {
                            Error::new(ErrorCode::MalformedOttoken, "ottoken: bad escaping")
                        })?;
                    (
                        holder.insert(crate::ottoken::decode(&decoded)?).fields(),
                        true,
                    )
                }
                None => {
                    return Err(Error::new(
                        ErrorCode::MissingHeader,
                        "no X-Nonce header and no ottoken parameter",
                    ))
                }
            },
        };
        if !self.accepts(header.scheme) {
            return Err(Error::new(
                ErrorCode::UnsupportedScheme,
                format!("scheme {} is not accepted here", header.scheme),
            ));
        }
        Ok((header, via_ottoken))
    }

    /// Verifies authenticity and freshness (steps 1–5); does not touch a replay store.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use xnonce_core::{sign_with, FixedEnvironment, Incoming, Scheme, Secret, SignInput, Verifier, WindowPolicy};
    /// let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
    /// let env = FixedEnvironment { now_ms: 1_700_000_000_000, nonce: [1; 16] };
    /// let input = SignInput::new(Scheme::V1, "POST", "/controller2/action1", "svc")
    ///     .param("opt1", "this").param("opt3", "go");
    /// let signed = sign_with(&input, &secret, &env)?;
    /// let req = Incoming::new("POST", "/controller2/action1")
    ///     .x_nonce(&signed.x_nonce)
    ///     .body(Some("application/x-www-form-urlencoded"), b"opt1=this&opt3=go");
    /// let clients = HashMap::from([("svc".to_string(), vec![secret])]);
    /// let verifier = Verifier::new().windows(WindowPolicy::new(60_000))?;
    /// assert_eq!(verifier.credential(&req)?.0.client(), "svc"); // read, not yet checked
    /// let v = verifier.verify(&req, &clients, env.now_ms)?;
    /// assert_eq!((v.scheme, v.client.as_str(), v.secret_index), (Scheme::V1, "svc", 0));
    /// assert_eq!(v.params, vec![("opt1".into(), "this".into()), ("opt3".into(), "go".into())]);
    /// assert_eq!(v.remember_until_ms, env.now_ms + verifier.window_policy().default_ms());
    /// // Two minutes later (more than the 60 s window) the same request is stale.
    /// let late = verifier.verify(&req, &clients, env.now_ms + 120_000).unwrap_err();
    /// assert_eq!(late.code().as_str(), "expired");
    /// assert!(late.server_time().is_some());
    /// # Ok::<(), xnonce_core::Error>(())
    /// ```
    pub fn verify(
        &self,
        req: &Incoming<'_>,
        secrets: &dyn SecretSource,
        now_ms: u64,
    ) -> Result<Verified> {
        self.verify_with_hint(req, secrets, now_ms, &mut |_| {})
    }

    /// [`Verifier::verify`], calling `hint` with the request's replay key as soon as the
    /// credential is read: before the params are parsed and the signature is checked, so the
    /// key is **not yet authenticated** — use it only to prepare, e.g. to let a replay store
    /// fetch the memory it will probe ([`ReplayStore::prefetch`]) while the HMAC is computed.
    /// Not called when the credential itself is refused. The key is the one the result
    /// carries: a digest the hint computes is not computed again for the insert.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use xnonce_core::{sign_with, FixedEnvironment, Incoming, Scheme, Secret, SignInput, Verifier};
    /// let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
    /// let env = FixedEnvironment { now_ms: 1_700_000_000_000, nonce: [1; 16] };
    /// let signed = sign_with(&SignInput::new(Scheme::V2, "GET", "/admin/status", "svc").host("api.test"), &secret, &env)?;
    /// let req = Incoming { method: "GET", host: Some("api.test"), path: "/admin/status", x_nonce: Some(&signed.x_nonce), ..Default::default() };
    /// let clients = HashMap::from([("svc".to_string(), secret)]);
    /// let mut hinted = String::new();
    /// let v = Verifier::new().verify_with_hint(&req, &clients, env.now_ms, &mut |key| hinted = key.to_string())?;
    /// assert_eq!(v.replay_key, hinted);
    /// # Ok::<(), xnonce_core::Error>(())
    /// ```
    pub fn verify_with_hint(
        &self,
        req: &Incoming<'_>,
        secrets: &dyn SecretSource,
        now_ms: u64,
        hint: &mut dyn FnMut(&ReplayKey),
    ) -> Result<Verified> {
        let mut from_ottoken = None;
        let form = req.form_text()?;
        if let Some(table) = &self.routes {
            table.check_request(req, form)?;
        }
        let (header, via_ottoken) = self.credential_fields(req, form, &mut from_ottoken)?;
        let scheme = header.scheme;
        if scheme == Scheme::V2 {
            self.check_host(req.host)?;
        }
        let replay_key = replay_key(scheme, header.client, header.request_id);
        hint(&replay_key);
        let params = params::from_query_and_form(scheme, req.query, form, via_ottoken)?;
        let client = header.client;
        let ts = header.timestamp_ms;
        let (window, lifetime, _) = self.windows_at(scheme, req.path, ts);
        let lookup = || {
            // `None` while no secret was lent: the client is unknown.
            let mut outcome = None;
            secrets.with_secrets(client, &mut |live| {
                if !live.is_empty() {
                    outcome = Some(authenticate(req, &header, &params, live, now_ms, window));
                }
            });
            outcome.unwrap_or_else(|| Err(Error::new(ErrorCode::UnknownClient, "client not known")))
        };
        let mut secret_index = lookup();
        // A client added or given a new secret since the source last looked counts at once.
        if let Err(e) = &secret_index {
            let unknown_secret = matches!(
                e.code(),
                ErrorCode::UnknownClient | ErrorCode::SignatureMismatch
            );
            if unknown_secret && secrets.refresh() {
                secret_index = lookup();
            }
        }
        let secret_index = secret_index?;
        Ok(Verified {
            scheme,
            client: client.to_string(),
            timestamp_ms: ts,
            params,
            replay_key,
            remember_until_ms: ts.saturating_add(lifetime),
            secret_index,
            via_ottoken,
        })
    }

    /// [`Verifier::verify`], then records the replay key: a second copy is `replayed`; a store
    /// failure is `store_unavailable` (the request is refused, never accepted unverified).
    pub fn verify_once(
        &self,
        req: &Incoming<'_>,
        secrets: &dyn SecretSource,
        store: &dyn ReplayStore,
        now_ms: u64,
    ) -> Result<Verified> {
        let verified =
            self.verify_with_hint(req, secrets, now_ms, &mut |key| store.prefetch(key))?;
        let answer =
            store.insert_if_absent(&verified.replay_key, verified.remember_until_ms, now_ms);
        crate::replay::recorded(answer).map(|()| verified)
    }
}

/// Steps 4 and 5 with the client's live secrets (not empty): which secret signed the
/// request, and whether it is fresh.
fn authenticate(
    req: &Incoming<'_>,
    header: &HeaderRef<'_>,
    params: &[(String, String)],
    live: &[Secret],
    now_ms: u64,
    window: u64,
) -> Result<usize> {
    let (client, ts) = (header.client, header.timestamp_ms);
    let mut matched = None;
    match header.scheme {
        Scheme::V1 => {
            // Values holding `~` may also have been signed the way Ruby's CGI.escape wrote
            // it before Ruby 2.5, as `%7E` (PROTOCOL §11.1 step 6): the same decoded params.
            let tildes: &[Tilde] = if params.iter().any(|(_, v)| v.contains('~')) {
                &[Tilde::Kept, Tilde::Escaped]
            } else {
                &[Tilde::Kept]
            };
            for &tilde in tildes {
                let prefix =
                    canonical::v1::prefix_with(req.method, req.path, params, client, tilde)?;
                for (i, s) in live.iter().enumerate() {
                    let expected = canonical::v1::token(&prefix, s.expose(), ts);
                    if mac::constant_time_eq_bytes(
                        &crate::hex::digest_hex(&expected),
                        header.mac.as_bytes(),
                    ) && matched.is_none()
                    {
                        matched = Some(i);
                    }
                }
            }
        }
        Scheme::V2 => {
            let host = req
                .host
                .ok_or_else(|| Error::new(ErrorCode::InvalidHost, "v2 request without a Host"))?;
            let body: &[u8] = if req.is_form() { &[] } else { req.body };
            let c = canonical::v2::canonical(&canonical::v2::Fields {
                method: req.method,
                host,
                path: req.path,
                params,
                body,
                client,
                timestamp_ms: ts,
                nonce: header.request_id,
            })?;
            for (i, s) in live.iter().enumerate() {
                let Ok(key) = s.v2_hmac() else { continue };
                if mac::constant_time_eq_bytes(
                    &crate::hex::digest_hex(&key.sign(c.as_bytes())),
                    header.mac.as_bytes(),
                ) && matched.is_none()
                {
                    matched = Some(i);
                }
            }
        }
    }
    let secret_index = matched.ok_or_else(|| {
        Error::new(
            ErrorCode::SignatureMismatch,
            "the signature does not match the request",
        )
    })?;
    if now_ms.abs_diff(ts) > window {
        let hint = ServerTimeHint::issue(&live[secret_index], client, header.request_id, now_ms);
        return Err(Error::new(ErrorCode::Expired, "Request has timed out").with_server_time(hint));
    }
    Ok(secret_index)
}

/// `<scheme>:<client>:<request id>`.
fn replay_key(scheme: Scheme, client: &str, request_id: &str) -> ReplayKey {
    ReplayKey::new([scheme.as_str(), ":", client, ":", request_id].concat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{sign_with, SignInput};

    /// JSON naming a charset reaches the app as UTF-8 with its media type; JSON naming none,
    /// and types that are not JSON, are kept as sent.
    #[test]
    fn json_naming_a_charset_reaches_the_app_as_utf8() {
        for (sent, app) in [
            (
                "application/json; charset=utf-7",
                Some("application/json; charset=utf-8"),
            ),
            (
                "Application/JSON \t;Charset=\"UTF-7\"",
                Some("application/json; charset=utf-8"),
            ),
            (
                "application/problem+json; charset=utf-16le",
                Some("application/problem+json; charset=utf-8"),
            ),
            (
                "application/json; x=\"a;charset=utf-8\"; charset=utf-7",
                Some("application/json; charset=utf-8"),
            ),
            (
                "application/json; charset=utf-8",
                Some("application/json; charset=utf-8"),
            ),
            ("application/json", None),
            ("application/json; x=y", None),
            ("application/+json; charset=utf-7", None),
            ("application/jsonx; charset=utf-7", None),
            ("text/plain; charset=utf-7", None),
            ("application/js on; charset=utf-7", None),
        ] {
            assert_eq!(content_type_for_app(Some(sent)).as_deref(), app, "{sent}");
        }
    }

    #[test]
    fn a_form_body_that_is_not_utf8_is_refused_before_the_credential() {
        // PROTOCOL §11.1: step 1 (form body) before step 2 (credential) and 3 (scheme).
        let verifier = Verifier::new().schemes(&[Scheme::V1]).unwrap();
        let secrets: HashMap<String, Secret> = HashMap::new();
        for x_nonce in [Some("v2 garbage"), Some("v2 c 1 00 11"), None] {
            let req = Incoming {
                method: "POST",
                path: "/a/b",
                x_nonce,
                content_type: Some("application/x-www-form-urlencoded"),
                body: b"a=\xff",
                ..Default::default()
            };
            let e = verifier.verify(&req, &secrets, 1).unwrap_err();
            assert_eq!(e.code(), ErrorCode::MalformedParams, "{x_nonce:?}: {e}");
        }
    }

    #[test]
    fn an_absolute_form_target_gives_the_host_path_and_query() {
        // (target, host, path, query): RFC 9112 §3.2.2 for the absolute form; anything else
        // is origin form (or garbage that verification refuses as a path).
        let cases = [
            ("http://api.test/c/a?x=1", Some("api.test"), "/c/a", "x=1"),
            (
                "HTTPS://api.test:8443/c/a",
                Some("api.test:8443"),
                "/c/a",
                "",
            ),
            ("http://api.test", Some("api.test"), "/", ""),
            ("http://api.test?x=1", Some("api.test"), "/", "x=1"),
            ("svn+ssh.x-y://h/p", Some("h"), "/p", ""),
            // A fragment ends the authority too (and is then refused as a path).
            ("http://api.test#f", Some("api.test"), "#f", ""),
            ("/c/a?next=http://x/y", None, "/c/a", "next=http://x/y"),
            ("/p://x", None, "/p://x", ""),
            ("1http://h/p", None, "1http://h/p", ""),
            ("://h/p", None, "://h/p", ""),
            ("ht tp://h/p", None, "ht tp://h/p", ""),
            ("urn:x", None, "urn:x", ""),
        ];
        for (target, host, path, query) in cases {
            let req = Incoming::new("GET", target);
            assert_eq!(
                (req.host, req.path, req.query),
                (host, path, query),
                "{target}"
            );
            let with_field = req.host_header(Some("field.test")).host;
            assert_eq!(with_field, host.or(Some("field.test")), "{target}");
        }
        assert_eq!(Incoming::new("GET", "/").host_header(None).host, None);
    }

    /// A v1 token does not bind where the path ends: `GET /admin/status?x=1` and
    /// `GET /admin/statu?sx=1` share one (found by a security review). Remembered only for
    /// the first path's 5 s window, the token verified again 6 s later on the second path,
    /// whose window is 30 s.
    #[test]
    fn a_v1_token_is_remembered_for_the_longest_window_of_any_path_it_verifies_on() {
        let (secret, env) = (crate::fixtures::secret(), crate::fixtures::env());
        let clients = HashMap::from([("svc".to_string(), secret.clone())]);
        let verifier = Verifier::new()
            .windows(WindowPolicy::new(30_000).action("admin", "status", 5_000))
            .unwrap();
        let store = crate::MemoryReplayStore::new();
        let input = SignInput::new(Scheme::V1, "GET", "/admin/status", "svc").param("x", "1");
        let x_nonce = sign_with(&input, &secret, &env).unwrap().x_nonce;
        let first = Incoming::new("GET", "/admin/status?x=1").x_nonce(&x_nonce);
        let ts = env.now_ms;
        let v = verifier.verify_once(&first, &clients, &store, ts).unwrap();
        assert_eq!(v.remember_until_ms, ts + 30_000);
        let other_spelling = Incoming::new("GET", "/admin/statu?sx=1").x_nonce(&x_nonce);
        for now in [ts + 1, ts + 6_000, ts + 30_000] {
            let e = verifier
                .verify_once(&other_spelling, &clients, &store, now)
                .unwrap_err();
            assert_eq!(e.code(), ErrorCode::Replayed, "at +{} ms", now - ts);
        }
        // v2 binds the path: its key lives for the request's own window.
        let input = SignInput::new(Scheme::V2, "GET", "/admin/status", "svc").host("h");
        let x_nonce = sign_with(&input, &secret, &env).unwrap().x_nonce;
        let req = Incoming::new("GET", "/admin/status")
            .host("h")
            .x_nonce(&x_nonce);
        let v = verifier.verify_once(&req, &clients, &store, ts).unwrap();
        assert_eq!(v.remember_until_ms, ts + 5_000);
    }

    /// A reload that widens a window: the old verifier remembered its requests for its own
    /// window only, so the new one, with the same store, must not find a copy fresh once
    /// that key has expired (found by a security review: a request accepted under a 5 s
    /// window, replayed 6 s later after a reload to 60 s, was accepted again).
    #[test]
    fn a_successor_with_a_wider_window_does_not_accept_what_its_predecessor_forgot() {
        let (secret, env) = (crate::fixtures::secret(), crate::fixtures::env());
        let clients = HashMap::from([("svc".to_string(), secret.clone())]);
        let old = Verifier::new().windows(WindowPolicy::new(5_000)).unwrap();
        let wide = || Verifier::new().windows(WindowPolicy::new(60_000)).unwrap();
        let ts = env.now_ms;
        for scheme in [Scheme::V1, Scheme::V2] {
            let store = crate::MemoryReplayStore::new();
            let input = SignInput::new(scheme, "GET", "/c/a", "svc").host("h");
            let x_nonce = sign_with(&input, &secret, &env).unwrap().x_nonce;
            let req = Incoming::new("GET", "/c/a").host("h").x_nonce(&x_nonce);
            let first = old.verify_once(&req, &clients, &store, ts).unwrap();
            assert_eq!(first.remember_until_ms, ts + 5_000, "{scheme}");
            // Reloaded 1 s later; the copy comes 6 s after the request (1 s past the key's
            // expiry and the store's grace).
            let reloaded_at = ts + 1_000;
            let new = wide().succeeding(&old, reloaded_at);
            let later = ts + 6_001 + crate::replay::DROP_GRACE_MS;
            let e = new.verify_once(&req, &clients, &store, later).unwrap_err();
            assert_eq!(e.code(), ErrorCode::Expired, "{scheme}");
            // Within the old window the key is there: a replay.
            let e = new
                .verify_once(&req, &clients, &store, ts + 4_000)
                .unwrap_err();
            assert_eq!(e.code(), ErrorCode::Replayed, "{scheme}");
            // What the swap without a predecessor did.
            let swapped = wide().verify_once(&req, &clients, &store, later);
            assert!(swapped.is_ok(), "{scheme}: the replay gap this closes");
        }
        // Requests the old verifier cannot have seen get the new window, and its lifetime.
        let reloaded_at = ts;
        let new = wide().succeeding(&old, reloaded_at);
        assert_eq!(new.window_at("/c/a", reloaded_at + 5_000), 5_000);
        assert_eq!(new.window_at("/c/a", reloaded_at + 5_001), 60_000);
        let late = SignInput::new(Scheme::V2, "GET", "/c/a", "svc")
            .host("h")
            .timestamp_ms(reloaded_at + 5_001);
        let x_nonce = sign_with(&late, &secret, &env).unwrap().x_nonce;
        let req = Incoming::new("GET", "/c/a").host("h").x_nonce(&x_nonce);
        let v = new.verify(&req, &clients, reloaded_at + 60_000).unwrap();
        assert_eq!(v.remember_until_ms, reloaded_at + 5_001 + 60_000);
        // A narrower window applies at once; chains of reloads keep every narrowing.
        let narrow = Verifier::new().windows(WindowPolicy::new(1_000)).unwrap();
        assert_eq!(
            narrow.clone().succeeding(&old, ts).window_at("/c/a", ts),
            1_000
        );
        let chain = wide().succeeding(&narrow.succeeding(&old, ts), ts + 500);
        assert_eq!(chain.window_at("/c/a", ts), 1_000);
        // `narrow`, last used at +500 ms, may have accepted (for 1 s) a request stamped up
        // to +1500 ms; `old` (for 5 s) one stamped up to +5000 ms.
        assert_eq!(chain.window_at("/c/a", ts + 1_500), 1_000);
        assert_eq!(chain.window_at("/c/a", ts + 1_501), 5_000);
        assert_eq!(chain.window_at("/c/a", ts + 5_001), 60_000);
        // v1: `old` kept a token for its longest window (30 s), as the token verifies on
        // other spellings of the path, whose window may be longer than this path's (5 s).
        let old = Verifier::new()
            .windows(WindowPolicy::new(30_000).action("admin", "status", 5_000))
            .unwrap();
        let new = wide().succeeding(&old, ts);
        for (stamped, window) in [(ts + 20_000, 30_000), (ts + 30_001, 60_000)] {
            let (got, lifetime, _) = new.windows_at(Scheme::V1, "/admin/status", stamped);
            assert_eq!((got, lifetime), (window, 60_000), "{}", stamped - ts);
        }
        let old = Verifier::new().windows(WindowPolicy::new(5_000)).unwrap();
        // A second reload right after a widening one still bounds what the first verifier
        // may have accepted.
        let twice = wide().succeeding(&wide().succeeding(&old, ts), ts + 1);
        assert_eq!(twice.window_at("/c/a", ts), 5_000);
        assert_eq!(twice.window_at("/c/a", ts + 5_001), 60_000);
        // Reloads that keep the windows add no link: no chain grows with each one.
        let mut kept = wide().succeeding(&old, ts);
        for i in 1..100 {
            kept = wide().succeeding(&kept, ts + i);
        }
        assert_eq!(kept.window_at("/c/a", ts), 5_000);
        assert!(kept.previous.as_ref().unwrap().verifier.previous.is_none());
        assert!(wide().succeeding(&wide(), ts).previous.is_none());
    }

    /// A predecessor replaced more than two longest windows (two days, PROTOCOL §11.3) before
    /// a reload can have accepted nothing a verifier still finds fresh: a request it let
    /// through was stamped at most a window after its last verification, and is stale a window
    /// after its stamp. So a server whose windows change at each reload keeps no chain of
    /// every verifier it ran, walked on each request ([`Verifier::succeeding`]).
    #[test]
    fn predecessors_that_can_no_longer_matter_are_dropped() {
        let day = crate::window::MAX_WINDOW_MS;
        let policy = |i: u64| {
            let window = if i.is_multiple_of(2) { 5_000 } else { 60_000 };
            Verifier::new().windows(WindowPolicy::new(window)).unwrap()
        };
        let depth = |v: &Verifier| {
            std::iter::successors(v.previous.as_deref(), |p| p.verifier.previous.as_deref()).count()
        };
        let t0 = 1_700_000_000_000;
        let mut v = policy(0);
        for i in 1..=10 {
            v = policy(i).succeeding(&v, t0 + i * (2 * day + 1));
            assert_eq!(depth(&v), 1, "reload {i}");
        }
        // Reloaded daily: the links of the last two days stay (the one replaced exactly two
        // days before still counts), older ones go, however deep in the chain they are.
        let mut v = policy(0);
        for i in 1..=10 {
            v = policy(i).succeeding(&v, t0 + i * day);
            assert_eq!(depth(&v), i.min(3) as usize, "reload {i}");
        }
    }

    /// An override no request path can select is refused where the verifier takes the
    /// policy (PROTOCOL §11.3, `invalid_path`): it would silently never apply.
    #[test]
    fn a_policy_with_an_unreachable_override_is_refused() {
        for policy in [
            WindowPolicy::new(30_000).action("admin", "", 5_000),
            WindowPolicy::new(30_000).action("admin", "a/b", 5_000),
            WindowPolicy::new(30_000).controller("/admin", 5_000),
        ] {
            let e = Verifier::new().windows(policy).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidPath);
        }
    }

    /// A refusal answers in the style of the credential, found where verification finds it:
    /// an `ottoken` in a form body too (PROTOCOL §11.1 step 2), `djIg` being a v2 token.
    #[test]
    fn the_refusal_scheme_reads_an_ottoken_in_a_form_body() {
        let form = Some("application/x-www-form-urlencoded");
        let req = Incoming::new("POST", "/a/b").body(form, b"x=1&ottoken=djIgc3Zj");
        assert_eq!(req.refusal_scheme(), Scheme::V2);
        let req = Incoming::new("POST", "/a/b").body(Some("text/plain"), b"ottoken=djIgc3Zj");
        assert_eq!(req.refusal_scheme(), Scheme::V1);
    }

    /// With a route table (em-secure-api's demo routes), a request's route and param rules
    /// are checked before its credential, with em-secure-api's answers (PROTOCOL §16); a
    /// request that meets them verifies as without a table, and a replay key is recorded
    /// only for such a request.
    #[test]
    fn a_route_table_checks_routes_and_param_rules_first() {
        let (secret, env) = (crate::fixtures::secret(), crate::fixtures::env());
        let clients = HashMap::from([("svc".to_string(), secret.clone())]);
        let routed = Verifier::new().routes(RouteTable::demo());
        let signed = |scheme, method: &str, target: &str| {
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            let params: Vec<(String, String)> = crate::params::split_raw(query)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let input = SignInput::new(scheme, method, path, "svc")
                .host("api.test")
                .params(params);
            sign_with(&input, &secret, &env).unwrap().x_nonce
        };
        for scheme in [Scheme::V1, Scheme::V2] {
            let ok = "/controller1/action1?username=u&password=p&opt1=x";
            let x_nonce = signed(scheme, "GET", ok);
            let req = Incoming::new("GET", ok).host("api.test").x_nonce(&x_nonce);
            let plain = Verifier::new().verify(&req, &clients, env.now_ms).unwrap();
            let v = routed.verify(&req, &clients, env.now_ms).unwrap();
            assert_eq!(v.params, plain.params);
            for (method, target, code, message) in [
                (
                    "GET",
                    "/controller1/action1?username=u&password=p",
                    ErrorCode::MissingParam,
                    "Missing required parameter opt1",
                ),
                (
                    "GET",
                    "/controller1/action3?username=u&password=p&opt1=x",
                    ErrorCode::ExcludedParam,
                    "Included invalid parameter password",
                ),
                (
                    "POST",
                    "/controller1/action1?username=u&password=p&opt1=x",
                    ErrorCode::UnknownRoute,
                    "action_method (action1_post) not found in controller controller1",
                ),
                (
                    "GET",
                    "/nowhere/action1",
                    ErrorCode::UnknownRoute,
                    "controller (nowhere) not found",
                ),
            ] {
                // Signed or not, the same answer: the route comes first.
                let x_nonce = signed(scheme, method, target);
                let store = crate::MemoryReplayStore::new();
                for req in [
                    Incoming::new(method, target)
                        .host("api.test")
                        .x_nonce(&x_nonce),
                    Incoming::new(method, target).host("api.test"),
                ] {
                    let e = routed.verify_once(&req, &clients, &store, env.now_ms);
                    let e = e.unwrap_err();
                    assert_eq!((e.code(), e.message()), (code, message), "{target}");
                }
                // Without the table the signed request verifies: no key was recorded for it.
                let req = Incoming::new(method, target)
                    .host("api.test")
                    .x_nonce(&x_nonce);
                let plain = Verifier::new().verify_once(&req, &clients, &store, env.now_ms);
                assert!(plain.is_ok(), "{scheme:?} {target}: {plain:?}");
            }
        }
        // A form body that is not UTF-8: malformed_params before any rule.
        let req = Incoming::new("POST", "/controller2/action1")
            .body(Some("application/x-www-form-urlencoded"), b"opt1=\xff");
        let e = routed.verify(&req, &clients, env.now_ms).unwrap_err();
        assert_eq!(e.code(), ErrorCode::MalformedParams);
    }

    #[test]
    fn a_host_list_refuses_v2_requests_signed_for_other_hosts_and_leaves_v1_alone() {
        let (secret, env) = (crate::fixtures::secret(), crate::fixtures::env());
        let clients = HashMap::from([("svc".to_string(), secret.clone())]);
        let listed = Verifier::new()
            .hosts(&["API.test", "api.test:8443"])
            .unwrap();
        let signed_for = |scheme, host: &str| {
            let input = SignInput::new(scheme, "GET", "/c/a", "svc").host(host);
            sign_with(&input, &secret, &env).unwrap().x_nonce
        };
        // Listed, in any case and with or without the default port; the other port too.
        for host in ["api.test", "Api.Test:443", "api.test:8443"] {
            let x_nonce = signed_for(Scheme::V2, host);
            let req = Incoming::new("GET", "/c/a").host(host).x_nonce(&x_nonce);
            assert!(listed.verify(&req, &clients, env.now_ms).is_ok(), "{host}");
        }
        // Another host: refused as such, though the signature is good (any list accepts it).
        for host in ["staging.test", "api.test:8080", "api.test."] {
            let x_nonce = signed_for(Scheme::V2, host);
            let req = Incoming::new("GET", "/c/a").host(host).x_nonce(&x_nonce);
            assert!(
                Verifier::new().verify(&req, &clients, env.now_ms).is_ok(),
                "{host}"
            );
            let e = listed.verify(&req, &clients, env.now_ms).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidHost, "{host}");
            assert_eq!(
                e.message(),
                "the request is for a host this service does not serve"
            );
        }
        // v1 does not sign the host: any Host, or none.
        let x_nonce = signed_for(Scheme::V1, "api.test");
        for host in [Some("staging.test"), None] {
            let mut req = Incoming::new("GET", "/c/a").x_nonce(&x_nonce);
            req.host = host;
            assert!(
                listed.verify(&req, &clients, env.now_ms).is_ok(),
                "{host:?}"
            );
        }
        // A list that names no host, or something that is not one.
        let none: [&str; 0] = [];
        for bad in [&none[..], &["api test"]] {
            let e = Verifier::new().hosts(bad).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidHost, "{bad:?}");
        }
    }

    #[test]
    fn a_request_signed_for_a_host_verifies_in_absolute_form_whatever_the_host_field() {
        let (secret, env) = (crate::fixtures::secret(), crate::fixtures::env());
        let input = SignInput::new(Scheme::V2, "GET", "/c/a", "svc")
            .host("api.test")
            .param("x", "1");
        let signed = sign_with(&input, &secret, &env).unwrap();
        let clients = HashMap::from([("svc".to_string(), secret)]);
        let verify = |target: &str, field: Option<&str>| {
            let req = Incoming::new("GET", target)
                .host_header(field)
                .x_nonce(&signed.x_nonce);
            Verifier::new().verify(&req, &clients, env.now_ms)
        };
        assert!(verify("http://api.test/c/a?x=1", Some("proxy.test")).is_ok());
        assert!(verify("/c/a?x=1", Some("api.test")).is_ok());
        for (target, field) in [
            ("http://other.test/c/a?x=1", Some("api.test")),
            ("/c/a?x=1", Some("proxy.test")),
            ("http://api.test/c/b?x=1", Some("api.test")),
        ] {
            let e = verify(target, field).unwrap_err();
            assert_eq!(e.code(), ErrorCode::SignatureMismatch, "{target}");
        }
    }

    #[test]
    fn the_digest_a_hint_computes_travels_with_the_verified_key() {
        let (secret, env) = (crate::fixtures::secret(), crate::fixtures::env());
        let input = SignInput::new(Scheme::V2, "GET", "/c/a", "svc").host("api.test");
        let signed = sign_with(&input, &secret, &env).unwrap();
        let req = Incoming::new("GET", "/c/a")
            .host("api.test")
            .x_nonce(&signed.x_nonce);
        let clients = HashMap::from([("svc".to_string(), secret)]);
        let verifier = Verifier::new();

        // A store's prefetch asks for the digest: the key the result carries already has it,
        // so the insert that follows does not hash the key again.
        let mut hinted = 0;
        let v = verifier
            .verify_with_hint(&req, &clients, env.now_ms, &mut |key| {
                key.digest();
                hinted += 1;
            })
            .unwrap();
        assert_eq!(hinted, 1);
        assert!(v.replay_key.has_digest());
        assert_eq!(
            v.replay_key.digest(),
            &crate::replay::key_digest(v.replay_key.as_str())
        );

        // Without a store nothing asks for it, and nothing computes it.
        let v = verifier.verify(&req, &clients, env.now_ms).unwrap();
        assert!(!v.replay_key.has_digest());
    }

    /// v2: only the credential's own `ottoken` pair is left out of the params, so an
    /// `ottoken` param added to a signed request is refused (`invalid_param_key`); v1 ignores
    /// such params, as em-secure-api did.
    #[test]
    fn an_added_ottoken_param_is_refused_in_v2_and_ignored_in_v1() {
        let (secret, env) = (crate::fixtures::secret(), crate::fixtures::env());
        let clients = HashMap::from([("svc".to_string(), secret.clone())]);
        let verifier = Verifier::new();
        let input = |scheme| {
            SignInput::new(scheme, "GET", "/c/a", "svc")
                .param("q", "1")
                .host("api.test")
        };
        let verify = |target: &str, x_nonce: Option<&str>| {
            let req = Incoming::new("GET", target).host("api.test");
            let req = match x_nonce {
                Some(h) => req.x_nonce(h),
                None => req,
            };
            verifier.verify(&req, &clients, env.now_ms)
        };
        for scheme in [Scheme::V1, Scheme::V2] {
            let header = sign_with(&input(scheme), &secret, &env).unwrap().x_nonce;
            let link = crate::link_with(&input(scheme), &secret, "http://api.test", &env)
                .unwrap()
                .url;
            let link = link.strip_prefix("http://api.test").unwrap();
            assert_eq!(verify("/c/a?q=1", Some(&header)).unwrap().params.len(), 1);
            assert!(verify(link, None).unwrap().via_ottoken);
            for (target, x_nonce) in [
                ("/c/a?q=1&ottoken=eyJ4", Some(header.as_str())),
                (&*format!("{link}&ottoken=djIg"), None),
                (&*format!("{link}&ottoke%6E=x"), None),
                ("/c/a?ottoke%6E=x&q=1", Some(header.as_str())),
            ] {
                let got = verify(target, x_nonce);
                match scheme {
                    Scheme::V2 => assert_eq!(
                        got.unwrap_err().code(),
                        ErrorCode::InvalidParamKey,
                        "{target}"
                    ),
                    // v1 keys are raw: `ottoke%6E` is a key of its own, which the token does
                    // not cover; a raw `ottoken` is ignored.
                    Scheme::V1 if target.contains("ottoke%6E") => assert_eq!(
                        got.unwrap_err().code(),
                        ErrorCode::InvalidParamKey,
                        "{target}"
                    ),
                    Scheme::V1 => assert_eq!(got.unwrap().params.len(), 1, "{target}"),
                }
            }
        }
    }
}
