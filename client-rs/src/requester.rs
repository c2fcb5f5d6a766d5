//! The async [`Requester`]: signs and sends requests, mirroring em-secure-api's
//! `ReSvcClient::Requester#make_request`.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use xnonce_core::answer::cgi_same_name;
use xnonce_core::time_hint::{self, ServerTimeHint};
use xnonce_core::{
    canonical, sign, Environment, Error, ErrorCode, Scheme, Secret, SystemEnvironment,
};

use crate::wire;

/// The default time limit of one HTTP exchange.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A time limit given as a number `amount` of units (`units_per_second` of them to the
/// second: 1 for seconds, 1000 for ms), as the bindings take one: any positive finite amount
/// (one that comes to less than a nanosecond is a nanosecond: never zero, never no limit at
/// all); `None` for zero, a negative amount, NaN, infinity or one too large for a
/// [`Duration`].
///
/// ```
/// use std::time::Duration;
/// use xnonce::timeout_from_f64;
/// assert_eq!(timeout_from_f64(0.5, 1.0), Some(Duration::from_millis(500)));
/// assert_eq!(timeout_from_f64(250.0, 1000.0), Some(Duration::from_millis(250)));
/// // Positive, though it comes to less than a nanosecond (or to 0.0 as an f64 of seconds).
/// assert_eq!(timeout_from_f64(f64::MIN_POSITIVE, 1000.0), Some(Duration::from_nanos(1)));
/// for bad in [0.0, -0.0, -1.0, f64::NAN, f64::INFINITY, 1e300] {
///     assert_eq!(timeout_from_f64(bad, 1.0), None, "{bad}");
/// }
/// ```
pub fn timeout_from_f64(amount: f64, units_per_second: f64) -> Option<Duration> {
    (amount > 0.0)
        .then(|| Duration::try_from_secs_f64(amount / units_per_second).ok())
        .flatten()
        .map(|t| t.max(Duration::from_nanos(1)))
}

/// The default size limit of an answer's body: 64 MiB. The requester keeps a whole body in
/// memory ([`Response::bytes`], [`Response::body`], [`Response::data`]), so without a limit a
/// server (or anything posing as one) could make it take all of it.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// Per-request options, as em-secure-api's `options` hash.
///
/// ```
/// let opts = xnonce::RequestOptions {
///     timestamp_ms: Some(1_700_000_000_000), // em-secure-api's :force_timestamp
///     extra_params: vec![("trace".into(), "on".into())],
///     ..Default::default()
/// };
/// assert!(opts.json.is_none());
/// ```
///
/// Its `Debug` output shows header names but not their values (an `Authorization` header is
/// a credential).
#[derive(Default, Clone)]
pub struct RequestOptions {
    /// Sign with this timestamp (ms since the epoch) instead of the clock. A forced timestamp
    /// is sent as given: a stale answer is returned, not retried with the corrected clock
    /// (the offset is still learned from its hint).
    pub timestamp_ms: Option<u64>,
    /// v2: sign with this nonce (32 lower-case hex characters) instead of a random one. A
    /// forced nonce is sent once: a stale answer is returned, not retried (a retry must carry
    /// a fresh nonce, PROTOCOL §12); the offset is still learned from its hint, so the next
    /// request uses the corrected clock.
    pub nonce: Option<String>,
    /// Params sent after the signed ones, in the same place, but not signed (a server that
    /// verifies every param refuses them: this is how a tampered request looks).
    pub extra_params: Vec<(String, String)>,
    /// v2 only: a JSON body, serialised by `serde_json` (compact; object keys in
    /// `serde_json::Map`'s order); the params then go in the query and the body's digest is
    /// signed. To send a document byte for byte, use [`json_raw`](Self::json_raw).
    pub json: Option<serde_json::Value>,
    /// v2 only: a JSON body sent exactly as these bytes (key order, spacing and number
    /// spelling kept), after checking that they are JSON (`invalid_body` otherwise); the
    /// params then go in the query and the digest of these bytes is signed. Give either this
    /// or [`json`](Self::json), not both (`invalid_body`).
    pub json_raw: Option<Vec<u8>>,
    /// Extra request headers. A `Host` header here is the host that v2 signs (and that v1
    /// sends unsigned; either scheme refuses an empty or malformed one, `invalid_host`). `X-Nonce`,
    /// `Content-Length` and `Transfer-Encoding` (the body's framing) are the requester's own
    /// and refused here (`malformed_header`; also spelt with `_`, which CGI-style servers read
    /// as `-`), and so is a second `Host` or `Content-Type` (a request has one of each); a
    /// `Content-Type` replaces the requester's, but must keep the body's kind (a form body
    /// stays a form type, a JSON body any other type), or the server would read the body
    /// otherwise than it was signed (`malformed_header`). At most 16384 of them
    /// (`malformed_header`: the HTTP stack holds no more).
    pub headers: Vec<(String, String)>,
}

impl fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("RequestOptions")
            .field("timestamp_ms", &self.timestamp_ms)
            .field("nonce", &self.nonce)
            .field("extra_params", &self.extra_params)
            .field("json", &self.json)
            .field(
                "json_raw",
                &self
                    .json_raw
                    .as_ref()
                    .map(|b| format!("<{} bytes>", b.len())),
            )
            .field("header_names", &header_names)
            .finish()
    }
}

/// A server's answer (any status: non-2xx answers are responses, not errors).
///
/// ```
/// let body = r#"{"code":"replayed"}"#;
/// let res = xnonce::Response {
///     code: 409,
///     body: body.into(),
///     bytes: body.into(),
///     data: Some(serde_json::json!({"code": "replayed"})),
///     headers: vec![("content-type".into(), "application/problem+json".into())],
/// };
/// assert!(!res.is_success());
/// assert_eq!(res.header("Content-Type"), Some("application/problem+json"));
/// assert_eq!(res.data.as_ref().and_then(|d| d["code"].as_str()), Some("replayed"));
/// ```
#[derive(Clone, Debug)]
pub struct Response {
    /// HTTP status code.
    pub code: u16,
    /// The body as text (invalid UTF-8 replaced).
    pub body: String,
    /// The body byte for byte, as received.
    pub bytes: Vec<u8>,
    /// The body parsed as JSON, when it is JSON.
    pub data: Option<serde_json::Value>,
    /// Response headers; names lower-case. In the order received, except that the lines of
    /// a repeated name come together, at the place of its first one (in their own order):
    /// `a: 1`, `b: 2`, `a: 3` is `[("a", "1"), ("a", "3"), ("b", "2")]`.
    pub headers: Vec<(String, String)>,
}

impl Response {
    /// True for a 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// The first header with this name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Configures a [`Requester`]; made by [`Requester::builder`].
///
/// ```
/// use std::time::Duration;
/// use xnonce::{Requester, Scheme, Secret};
/// let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
/// let api = Requester::builder("https://api.example.com/v1", "svc", secret)
///     .scheme(Scheme::V2)                  // the default
///     .timeout(Duration::from_secs(10))    // per HTTP exchange; default 30 s
///     .correct_clock(true)                 // learn the offset from stale answers; the default
///     .clock_offset_ms(-1_500)             // e.g. one learned by an earlier run
///     .build()?;
/// assert_eq!((api.scheme(), api.clock_offset_ms()), (Scheme::V2, -1_500));
/// // Settings that could never sign are refused when building.
/// let bad = Requester::builder("ftp://x", "svc", Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?).build();
/// assert_eq!(bad.unwrap_err().code().as_str(), "invalid_url");
/// # Ok::<(), xnonce::Error>(())
/// ```
#[must_use]
pub struct RequesterBuilder {
    server: String,
    client: String,
    secret: Secret,
    scheme: Scheme,
    timeout: Duration,
    correct_clock: bool,
    clock_offset_ms: i64,
    root_certificates: Vec<Vec<u8>>,
    max_response_bytes: u64,
}

impl fmt::Debug for RequesterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequesterBuilder")
            .field("server", &without_userinfo(&self.server))
            .field("client", &self.client)
            .field("scheme", &self.scheme)
            .field("timeout", &self.timeout)
            .field("correct_clock", &self.correct_clock)
            .field("clock_offset_ms", &self.clock_offset_ms)
            .field("root_certificates", &self.root_certificates.len())
            .field("max_response_bytes", &self.max_response_bytes)
            .finish_non_exhaustive()
    }
}

impl RequesterBuilder {
    /// The signing scheme (default [`Scheme::V2`]).
    pub fn scheme(mut self, scheme: Scheme) -> Self {
        self.scheme = scheme;
        self
    }

    /// The time limit of one HTTP exchange (default [`DEFAULT_TIMEOUT`]). It is never "no
    /// limit": `Duration::ZERO` times every request out at once.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether to correct the clock from the server's authenticated time hint and retry a
    /// stale request once (default `true`).
    pub fn correct_clock(mut self, on: bool) -> Self {
        self.correct_clock = on;
        self
    }

    /// The clock offset to start from (server − local, ms; default 0): for a machine whose
    /// clock is known to be off, or to keep an offset learned earlier
    /// ([`Requester::clock_offset_ms`]) across runs. Correction, when on, replaces it with
    /// the server's authenticated time. At most ±[`MAX_TIMESTAMP_MS`](xnonce_core::header::MAX_TIMESTAMP_MS)
    /// (2⁵³ − 1, the timestamps' range): [`build`](Self::build) refuses a larger one, with which
    /// no request could carry a valid timestamp.
    pub fn clock_offset_ms(mut self, offset_ms: i64) -> Self {
        self.clock_offset_ms = offset_ms;
        self
    }

    /// Also trusts the certificate authorities in `pem` (one or more PEM `CERTIFICATE`
    /// blocks), besides the bundled Mozilla roots: for a server whose certificate an internal
    /// CA issued, or a TLS-inspecting proxy. Read by [`build`](Self::build).
    ///
    /// ```
    /// use xnonce::{Requester, Secret};
    /// let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
    /// let not_pem = Requester::builder("https://api.internal", "svc", secret)
    ///     .root_certificates_pem(b"not a certificate".to_vec())
    ///     .build();
    /// assert!(not_pem.unwrap_err().message().contains("root certificates"));
    /// # Ok::<(), xnonce::Error>(())
    /// ```
    pub fn root_certificates_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(pem.into());
        self
    }

    /// The largest answer body to read, in bytes (default [`DEFAULT_MAX_RESPONSE_BYTES`]).
    /// A longer body fails the call with `connection_failed` ("larger than … bytes"), read no
    /// further than the limit; a `Content-Length` over it fails before reading anything.
    ///
    /// ```
    /// use xnonce::{Requester, Secret};
    /// let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
    /// let api = Requester::builder("https://files.example.com", "svc", secret)
    ///     .max_response_bytes(1 << 30) // answers of up to 1 GiB
    ///     .build()?;
    /// # Ok::<(), xnonce::Error>(())
    /// ```
    /// A body's size is a `u64`, as `Content-Length` is: any value is a limit on every
    /// platform.
    pub fn max_response_bytes(mut self, limit: u64) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// Checks the settings and builds the requester.
    ///
    /// Errors: `invalid_url` (server not `http(s)://authority[/prefix]`, a space or control
    /// character inside it, or in v2 a prefix with a bad percent-escape such as `%zz`), `invalid_client_id`,
    /// `invalid_secret` (v2 needs 64 hex characters), `invalid_host`, `invalid_timestamp` (a
    /// clock offset beyond ±2⁵³ − 1 ms), `connection_failed` (the HTTP stack could not start,
    /// or root certificates that are not PEM).
    pub fn build(self) -> Result<Requester, Error> {
        let Server {
            base,
            base_path,
            authority,
        } = split_server(&self.server)?;
        sign::check_signer(self.scheme, &self.client, &self.secret)?;
        if self.scheme == Scheme::V2 {
            canonical::host(&authority)?;
            // The path sent is read back (prefix and all) to check it against the one signed;
            // a prefix that cannot be read would fail every request.
            check_v2_prefix(&base_path)?;
        }
        check_clock_offset(self.clock_offset_ms)?;
        let mut root_certificates = Vec::new();
        for pem in &self.root_certificates {
            let certificates = reqwest::Certificate::from_pem_bundle(pem)
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| {
                    Error::new(
                        ErrorCode::ConnectionFailed,
                        "cannot read the root certificates: not PEM CERTIFICATE blocks",
                    )
                })?;
            root_certificates.extend(certificates);
        }
        Ok(Requester {
            http: http_client(self.timeout, &root_certificates)?,
            inner: Arc::new(Inner {
                timeout: self.timeout,
                root_certificates,
                base,
                base_path,
                authority,
                client: self.client,
                secret: self.secret,
                scheme: self.scheme,
                correct_clock: self.correct_clock,
                offset_ms: AtomicI64::new(self.clock_offset_ms),
                offset_learned: AtomicBool::new(false),
                max_response_bytes: self.max_response_bytes,
            }),
        })
    }
}

/// `server` with any user info (`user:password@`) before its host cut out: the builder
/// keeps the URL as given until [`RequesterBuilder::build`] refuses user info, and its
/// `Debug` must not show a password meanwhile. Done on the text, not by parsing, so that a URL
/// that does not parse is cut too.
fn without_userinfo(server: &str) -> std::borrow::Cow<'_, str> {
    let start = server.find("://").map_or(0, |i| i + 3);
    let rest = &server[start..];
    let authority = rest
        .find(['/', '?', '#', '\\'])
        .map_or(rest, |end| &rest[..end]);
    match authority.rfind('@') {
        Some(at) => format!("{}***@{}", &server[..start], &server[start + at + 1..]).into(),
        None => server.into(),
    }
}

/// A v2 server URL's path prefix must percent-decode: `invalid_url` naming the first escape
/// that is not `%` and two hex digits (the same check and wording as `link`'s base URL).
fn check_v2_prefix(base_path: &str) -> Result<(), Error> {
    match xnonce_core::percent::bad_escape(base_path) {
        None => Ok(()),
        Some(bad) => Err(Error::new(
            ErrorCode::InvalidUrl,
            format!(
                "server URL's path {base_path:?} has the bad percent-escape {bad:?}: a '%' must \
                 begin two hex digits (write a literal '%' as %25)"
            ),
        )),
    }
}

/// A starting clock offset must keep "now" inside the timestamps' range: beyond
/// ±[`MAX_TIMESTAMP_MS`](xnonce_core::header::MAX_TIMESTAMP_MS) every request would be
/// signed with a timestamp clamped to 0 or refused as `invalid_timestamp`, so the builder
/// says so once instead (`invalid_timestamp`, naming the offset). Public so that a binding's
/// other signers with a clock offset (the Python HTTP-library adapters) refuse the same
/// offsets with the same error.
///
/// ```
/// use xnonce::{check_clock_offset, ErrorCode};
/// assert!(check_clock_offset(-120_000).is_ok());
/// let e = check_clock_offset(1 << 53).unwrap_err();
/// assert_eq!(e.code(), ErrorCode::InvalidTimestamp);
/// ```
pub fn check_clock_offset(offset_ms: i64) -> Result<(), Error> {
    match offset_ms.unsigned_abs() <= xnonce_core::header::MAX_TIMESTAMP_MS {
        true => Ok(()),
        false => Err(Error::new(
            ErrorCode::InvalidTimestamp,
            format!(
                "the clock offset must be within ±{} ms (the timestamps' range), not {offset_ms}",
                xnonce_core::header::MAX_TIMESTAMP_MS
            ),
        )),
    }
}

/// The HTTP client of a requester: its own connection pool.
fn http_client(
    timeout: Duration,
    root_certificates: &[reqwest::Certificate],
) -> Result<reqwest::Client, Error> {
    let mut http = reqwest::Client::builder();
    for certificate in root_certificates {
        http = http.add_root_certificate(certificate.clone());
    }
    http.timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("xnonce-rs/", env!("CARGO_PKG_VERSION")))
        // `X-Nonce`, not `x-nonce`, on HTTP/1: em-secure-api's server looks the header
        // up by its exact name (EventMachine's HTTP server keeps names as sent).
        .http1_title_case_headers()
        .build()
        .map_err(|e| {
            Error::new(
                ErrorCode::ConnectionFailed,
                format!("cannot start the HTTP client: {e}"),
            )
        })
}

/// A server URL taken apart.
#[derive(Debug, PartialEq, Eq)]
struct Server {
    /// The URL as the URL parser writes it, without trailing `/`.
    base: String,
    /// Its path prefix (`/api`), without trailing `/`; empty for none.
    base_path: String,
    /// The authority, as sent in `Host`.
    authority: String,
}

/// `http(s)://authority[/prefix]` → its [`Server`] parts.
fn split_server(server: &str) -> Result<Server, Error> {
    let bad = |why: &str| Error::new(ErrorCode::InvalidUrl, format!("server URL: {why}"));
    // The URL parser trims surrounding C0 controls and spaces (as `link` does) but drops a
    // tab or line break inside and escapes a space: refused, as `link` refuses them.
    if server
        .trim_matches(|c: char| c <= ' ')
        .contains(|c: char| c == ' ' || c.is_ascii_control())
    {
        return Err(bad("must not contain a space or control character"));
    }
    let url = reqwest::Url::parse(server).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("must start with http:// or https://"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not carry user info"));
    }
    let host = url.host_str().ok_or_else(|| bad("needs a host"))?;
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    Ok(Server {
        base: url.as_str().trim_end_matches('/').to_string(),
        base_path: url.path().trim_end_matches('/').to_string(),
        authority,
    })
}

/// Parses the URL a request goes to and checks that the URL parser kept the path as it was
/// signed: it removes dot segments (`.`, `..`, `%2e`), turns `\` into `/` and (v1 paths,
/// sent as given) percent-encodes non-ASCII characters and `"` `<` `>` `` ` `` `{` `}`. A
/// request whose path it changes could never verify: `invalid_path`, naming what it would
/// become. v2 compares canonical forms (§6.3), so an escape the parser adds is no change.
fn wire_url(
    base: &str,
    base_path: &str,
    scheme: Scheme,
    signed_path: &str,
    target: &str,
) -> Result<reqwest::Url, Error> {
    let url = reqwest::Url::parse(&format!("{base}{target}")).map_err(|e| {
        Error::new(
            ErrorCode::InvalidPath,
            format!("path {signed_path:?} does not make a valid URL: {e}"),
        )
    })?;
    let wire_path = target.split_once('?').map_or(target, |(p, _)| p);
    let expected = format!("{base_path}{wire_path}");
    let sent = url.path();
    let same = match scheme {
        Scheme::V1 => sent == expected,
        Scheme::V2 => {
            // The wire path is canonical, so the expected side cannot fail.
            let canon = |p: &str| canonical::path_v2(p).map(|c| c.into_owned()).ok();
            matches!((canon(sent), canon(&expected)), (Some(a), Some(b)) if a == b)
        }
    };
    if same {
        return Ok(url);
    }
    let becomes = sent
        .strip_prefix(base_path)
        .filter(|rest| rest.starts_with('/'))
        .unwrap_or(sent);
    Err(Error::new(
        ErrorCode::InvalidPath,
        format!(
            "path {signed_path:?} would be sent as {becomes:?} (URLs remove dot segments, turn \\ \
             into / and escape some characters), so its signature could not verify; sign the \
             path as it is sent"
        ),
    ))
}

/// What a requester's clones, and its [`Requester::with_own_connections`] twin, share.
struct Inner {
    /// What a requester's HTTP client is built with.
    timeout: Duration,
    root_certificates: Vec<reqwest::Certificate>,
    base: String,
    base_path: String,
    authority: String,
    client: String,
    secret: Secret,
    scheme: Scheme,
    correct_clock: bool,
    offset_ms: AtomicI64,
    offset_learned: AtomicBool,
    max_response_bytes: u64,
}

/// Signs and sends requests to one server as one client. Cheap to clone: clones share the
/// connection pool and the learned clock offset.
///
/// ```no_run
/// use xnonce::{RequestOptions, Requester, Scheme, Secret};
/// # async fn run() -> Result<(), xnonce::Error> {
/// let secret = Secret::new(std::env::var("XNONCE_SECRET").unwrap_or_default())?;
/// let api = Requester::builder("http://127.0.0.1:8080", "my_client", secret)
///     .scheme(Scheme::V2)
///     .build()?;
/// let params = vec![
///     ("username".to_string(), "phil".to_string()),
///     ("password".to_string(), "hello phil".to_string()),
///     ("opt1".to_string(), "this".to_string()),
/// ];
/// let res = api
///     .make_request("GET", params, "action1", Some("controller1"), RequestOptions::default())
///     .await?;
/// println!("{} {}", res.code, res.body);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Requester {
    /// The connection pool.
    http: reqwest::Client,
    inner: Arc<Inner>,
}

impl fmt::Debug for Requester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Requester")
            .field("server", &self.inner.base)
            .field("client", &self.inner.client)
            .field("scheme", &self.inner.scheme)
            .field("correct_clock", &self.inner.correct_clock)
            .field("clock_offset_ms", &self.clock_offset_ms())
            .finish_non_exhaustive()
    }
}

impl Requester {
    /// Starts configuring a requester for `server` (`http(s)://host[:port]`, optionally with a
    /// path prefix that is sent before each path but not signed, for a proxy that strips it),
    /// signing as `client` with `secret`.
    ///
    /// ```
    /// use xnonce::{Requester, Scheme, Secret};
    /// let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
    /// let api = Requester::builder("http://127.0.0.1:8080", "test_client", secret)
    ///     .scheme(Scheme::V1)
    ///     .timeout(std::time::Duration::from_secs(5))
    ///     .build()?;
    /// assert_eq!(api.clock_offset_ms(), 0);
    /// # Ok::<(), xnonce::Error>(())
    /// ```
    pub fn builder(
        server: impl Into<String>,
        client: impl Into<String>,
        secret: Secret,
    ) -> RequesterBuilder {
        RequesterBuilder {
            server: server.into(),
            client: client.into(),
            secret,
            scheme: Scheme::V2,
            timeout: DEFAULT_TIMEOUT,
            root_certificates: Vec::new(),
            correct_clock: true,
            clock_offset_ms: 0,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// The scheme this requester signs with.
    pub fn scheme(&self) -> Scheme {
        self.inner.scheme
    }

    /// The clock offset in use (server − local, ms): the builder's
    /// [`clock_offset_ms`](RequesterBuilder::clock_offset_ms) (default 0) until a stale answer
    /// carries an authentic hint.
    pub fn clock_offset_ms(&self) -> i64 {
        self.inner.offset_ms.load(Ordering::Relaxed)
    }

    /// True once a stale answer's authentic hint has set the clock offset, even when the
    /// offset learned equals the one given (a server on the same host differs by 0 ms).
    /// With clock correction on, the request that drew it was re-signed once, unless its
    /// timestamp or nonce was forced.
    ///
    /// ```
    /// use xnonce::{Requester, Secret};
    /// let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
    /// let api = Requester::builder("http://127.0.0.1:8080", "test_client", secret).build()?;
    /// assert!(!api.clock_offset_learned()); // nothing sent yet
    /// # Ok::<(), xnonce::Error>(())
    /// ```
    pub fn clock_offset_learned(&self) -> bool {
        self.inner.offset_learned.load(Ordering::Relaxed)
    }

    /// The same requester (server, client, secret, settings, and the learned clock offset,
    /// shared) with a connection pool of its own. A pooled connection is driven by the
    /// runtime that opened it, so requesters used from different runtimes must not share a
    /// pool: a request reusing a connection whose runtime is blocked (or gone) waits out its
    /// timeout. The blocking requester keeps one for
    /// [`as_async`](crate::blocking::Requester::as_async); a process made by `fork()` needs
    /// one too (it has its parent's pooled sockets, but not the threads that drove them).
    /// Call it inside the runtime that will drive the new pool.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), xnonce::Error> {
    /// let api = xnonce::Requester::builder("http://127.0.0.1:8080", "svc", xnonce::Secret::generate()?)
    ///     .clock_offset_ms(-250)
    ///     .build()?;
    /// let own = api.with_own_connections()?;
    /// assert_eq!(own.clock_offset_ms(), -250); // the same offset, shared from now on
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_own_connections(&self) -> Result<Requester, Error> {
        Ok(Requester {
            http: http_client(self.inner.timeout, &self.inner.root_certificates)?,
            inner: self.inner.clone(),
        })
    }

    /// Signs and sends one request, like em-secure-api's
    /// `make_request(method, params, action, controller, options)`.
    ///
    /// * With `controller: Some(c)`, `path` is the action and the URL path is `/c/action`;
    ///   with `None`, `path` is the full path (`/controller/action`).
    /// * `params` are signed in order. v1 sends them as the query string for GET/DELETE and
    ///   as a form body for POST/PUT/PATCH, encoded as em-secure-api's requester did; v2 does
    ///   the same unless `options.json` is given (params in the query, JSON body signed).
    /// * On a stale answer (401) with an `X-Nonce-Server-Time` hint that authenticates with
    ///   this client's secret, the offset is stored and the request re-signed and sent once
    ///   more (when clock correction is on), unless `options.timestamp_ms` or `options.nonce`
    ///   forced the timestamp or nonce: that answer is returned as it is (the offset is
    ///   still learned). A hint that does not authenticate is ignored. A retry found stale
    ///   too is returned as it is, never retried again, but its hint (newer, and bound to the
    ///   retry) is learned: the next request starts from it.
    /// * The path must reach the server as it was signed. One that the URL parser would
    ///   change (dot segments `.` `..` `%2e`, a `\` turned into `/`, and for v1, whose path
    ///   is sent as given, non-ASCII characters and `"` `<` `>` `` ` `` `{` `}` escaped) is
    ///   refused with `invalid_path`, naming what it would become.
    ///
    /// Non-2xx answers are `Ok(Response)`. `Err` only for signing errors (their codes), a
    /// request the HTTP stack cannot send (`invalid_url`, e.g. a URL over 64 KiB), refused
    /// options (`malformed_header`, `invalid_body`, `invalid_method` for CONNECT) and transport
    /// failures (`connection_failed`). Messages name the server and path, never the query.
    pub async fn make_request(
        &self,
        method: &str,
        params: Vec<(String, String)>,
        path: &str,
        controller: Option<&str>,
        options: RequestOptions,
    ) -> Result<Response, Error> {
        let inner = &*self.inner;
        let path = wire::resolve_path(path, controller);
        let host_override = options
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("host"))
            .map(|(_, v)| v.as_str());
        if let Some(host) = host_override.filter(|_| inner.scheme == Scheme::V1) {
            // Not signed in v1, but sent: checked as v2 checks the host it signs, so that an
            // empty (no host at all) or malformed one is the same error in both schemes.
            canonical::host(host)?;
        }
        let layout = wire::layout(&wire::Parts {
            scheme: inner.scheme,
            method,
            path: &path,
            client: &inner.client,
            params: &params,
            extra_params: &options.extra_params,
            json: options.json.as_ref(),
            json_raw: options.json_raw.as_deref(),
            host: host_override.unwrap_or(&inner.authority),
        })?;
        check_caller_headers(&options.headers, layout.body.as_ref().map(|(t, _)| *t))?;
        let url = wire_url(
            &inner.base,
            &inner.base_path,
            inner.scheme,
            &path,
            &layout.target,
        )?;
        let first_ts = options.timestamp_ms.unwrap_or_else(|| self.now_ms());
        let (res, sent) = self
            .send_signed(
                &layout,
                &url,
                first_ts,
                options.nonce.clone(),
                &options.headers,
            )
            .await?;
        if !inner.correct_clock || !self.learn_offset(&res, &sent) {
            return Ok(res);
        }
        let forced_nonce = options.nonce.is_some() && inner.scheme == Scheme::V2;
        if options.timestamp_ms.is_some() || forced_nonce {
            // A forced timestamp is what the caller asked to send (em-secure-api's
            // :force_timestamp, used to test timeouts): its answer stands. So does a forced
            // nonce's: a retry must carry a fresh nonce (PROTOCOL §12), which the caller has
            // ruled out.
            return Ok(res);
        }
        let (retry, retry_sent) = self
            .send_signed(&layout, &url, self.now_ms(), None, &options.headers)
            .await?;
        // Stale again (the server's clock moved, or the exchange outlasted its window): its
        // hint is as authentic as the first and newer, so the next request starts from it
        // rather than going stale again. The request itself is not retried a second time.
        self.learn_offset(&retry, &retry_sent);
        Ok(retry)
    }

    /// Stores the offset to the server's clock from a stale answer's hint, if the answer
    /// carries one that authenticates for this request (`sent`, its `X-Nonce` value); true
    /// when it did.
    fn learn_offset(&self, res: &Response, sent: &str) -> bool {
        let inner = &*self.inner;
        let hint = res.header(time_hint::HEADER);
        let Some(server_time_ms) =
            ServerTimeHint::server_time_from_answer(res.code, hint, sent, &inner.secret)
        else {
            return false;
        };
        let local = SystemEnvironment.now_ms();
        let offset = server_time_ms as i64 - local as i64;
        inner.offset_ms.store(offset, Ordering::Relaxed);
        inner.offset_learned.store(true, Ordering::Relaxed);
        true
    }

    /// The local clock plus the learned offset.
    fn now_ms(&self) -> u64 {
        let local = SystemEnvironment.now_ms() as i64;
        local.saturating_add(self.clock_offset_ms()).max(0) as u64
    }

    /// Signs the laid-out request with this timestamp/nonce and sends it; also returns the
    /// `X-Nonce` value sent, which a server-time hint must be bound to.
    async fn send_signed(
        &self,
        layout: &wire::Layout,
        url: &reqwest::Url,
        timestamp_ms: u64,
        nonce: Option<String>,
        headers: &[(String, String)],
    ) -> Result<(Response, String), Error> {
        let inner = &*self.inner;
        let mut input = layout.input.clone();
        input.timestamp_ms = Some(timestamp_ms);
        input.nonce = nonce;
        let signed = sign(&input, &inner.secret)?;
        let method = reqwest::Method::from_bytes(layout.method.as_bytes())
            .map_err(|_| Error::new(ErrorCode::InvalidMethod, "not an HTTP method"))?;
        let mut req = self
            .http
            .request(method, url.clone())
            .header(xnonce_core::header::NAME, &signed.x_nonce);
        let caller_type = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        if let Some((content_type, bytes)) = &layout.body {
            if caller_type.is_none() {
                req = req.header(reqwest::header::CONTENT_TYPE, *content_type);
            }
            req = req.body(bytes.clone());
        }
        for (k, v) in headers {
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes());
            let value = reqwest::header::HeaderValue::from_str(v);
            match (name, value) {
                (Ok(n), Ok(v)) => req = req.header(n, v),
                _ => {
                    return Err(Error::new(
                        ErrorCode::MalformedHeader,
                        format!("request header {} is not a valid HTTP header", quoted(k)),
                    ))
                }
            }
        }
        let mut res = req.send().await.map_err(transport)?;
        let code = res.status().as_u16();
        let headers: Vec<(String, String)> = res
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let bytes = read_body(&mut res, inner.max_response_bytes).await?;
        let body = String::from_utf8_lossy(&bytes).into_owned();
        // From the bytes: a body that is not UTF-8 is not JSON (read from the lossy text, it
        // would parse with U+FFFD in its strings). Empty or blank: no data.
        let data = serde_json::from_slice(&bytes).ok();
        Ok((
            Response {
                code,
                body,
                bytes,
                data,
                headers,
            },
            signed.x_nonce,
        ))
    }
}

/// The most characters of a caller's header name or value quoted in an error message.
const QUOTED_CHARS: usize = 64;

/// A caller's header name or value as an error message quotes it: Debug-quoted, and cut to
/// its first [`QUOTED_CHARS`] characters followed by `…` when longer, so that a 70 KB name
/// does not fill the message (and every log line and terminal it reaches).
fn quoted(text: &str) -> String {
    let (kept, cut) = shortened(text, QUOTED_CHARS);
    format!("{kept:?}{cut}")
}

/// `text`'s first `chars` characters, and `…` when that is not all of it (else `""`): for a
/// message that names a text of any length.
fn shortened(text: &str, chars: usize) -> (&str, &'static str) {
    match text.char_indices().nth(chars) {
        None => (text, ""),
        Some((end, _)) => (&text[..end], "…"),
    }
}

/// The most request headers a caller may give ([`RequestOptions::headers`]).
const MAX_CALLER_HEADERS: usize = 1 << 14;

/// Refuses caller headers that would undo the signature: `X-Nonce` and the body's framing
/// (`Content-Length`, `Transfer-Encoding`) are the requester's own, and a `Content-Type`
/// (which replaces the requester's) must keep the body's kind, since a server reads a form
/// body as params and any other body as bytes.
fn check_caller_headers(
    headers: &[(String, String)],
    body_type: Option<&str>,
) -> Result<(), Error> {
    // The HTTP stack's header map holds fewer than 2¹⁵ names and panics past that (a panic
    // in the request's task: an untyped error in every binding); no server reads anywhere near
    // this many lines either.
    if headers.len() > MAX_CALLER_HEADERS {
        return Err(Error::new(
            ErrorCode::MalformedHeader,
            format!(
                "{} request headers given; a request carries at most {MAX_CALLER_HEADERS}",
                headers.len()
            ),
        ));
    }
    // Fields with one value (RFC 9110 §5.3): a server refuses two Host lines (RFC 9112
    // §3.2), and v2 would sign only one of them; two Content-Type lines leave the body's kind
    // to whichever the server reads.
    for single in ["host", "content-type"] {
        let lines = headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(single));
        if lines.count() > 1 {
            return Err(Error::new(
                ErrorCode::MalformedHeader,
                format!("request header {single} is given more than once; a request has one"),
            ));
        }
    }
    for (name, value) in headers {
        // Also spelt with `_`: CGI-style servers read `X_Nonce` as `X-Nonce`.
        if cgi_same_name(name.as_bytes(), xnonce_core::header::NAME)
            || cgi_same_name(name.as_bytes(), "content-length")
            // The HTTP stack drops the requester's Content-Length for it (a body-less
            // request drops it instead), and a coding such as gzip would have the server
            // decode the signed bytes as something they are not.
            || cgi_same_name(name.as_bytes(), "transfer-encoding")
        {
            return Err(Error::new(
                ErrorCode::MalformedHeader,
                // Short: the name is one of these three (as long as it), never quoted whole.
                format!("request header {name} is set by the requester, not by the caller"),
            ));
        }
        if let Some(ours) = body_type.filter(|_| name.eq_ignore_ascii_case("content-type")) {
            let form = |t: &str| xnonce_core::verify::is_form_content_type(Some(t));
            if form(value) != form(ours) {
                return Err(Error::new(
                    ErrorCode::MalformedHeader,
                    format!(
                        "request header Content-Type {} would change how the server reads the \
                         body ({ours} was signed)",
                        quoted(value)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Reads an answer's body, refusing one over `limit` bytes: by its `Content-Length` before
/// reading, or as soon as the chunks read pass the limit (a chunked or close-delimited body).
async fn read_body(res: &mut reqwest::Response, limit: u64) -> Result<Vec<u8>, Error> {
    let too_large = |res: &reqwest::Response| {
        Error::new(
            ErrorCode::ConnectionFailed,
            format!(
                "the answer{} is larger than the {limit}-byte limit set for answers",
                target(res.url())
            ),
        )
    };
    let declared = res.content_length().unwrap_or(0);
    if declared > limit {
        return Err(too_large(res));
    }
    // The declared length sizes at most a first 1 MiB: a server can declare far more than
    // it sends, and an allocation that fails aborts the process.
    let mut bytes = Vec::with_capacity(declared.min(1 << 20) as usize);
    // reqwest's body errors (a close mid-answer, a timeout) carry no URL: give them the
    // answer's, so that the message names the server and path as the others do.
    let url = res.url().clone();
    let failed = |e: reqwest::Error| match e.url() {
        Some(_) => transport(e),
        None => transport(e.with_url(url.clone())),
    };
    while let Some(chunk) = res.chunk().await.map_err(failed)? {
        if chunk.len() as u64 > limit - bytes.len() as u64 {
            return Err(too_large(res));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// ` (origin/path)` of a URL for a message: reqwest's own would name the whole URL, whose
/// query holds the params (a password, a megabyte of data), so only the scheme, authority and
/// (shortened) path are kept.
fn target(u: &reqwest::Url) -> String {
    let (path, cut) = shortened(u.path(), 200);
    format!(" ({}{path}{cut})", u.origin().ascii_serialization())
}

/// The environment variable naming the proxy that requests to `scheme` URLs go through, read
/// as reqwest's HTTP stack (hyper-util 0.1's proxy matcher) reads them: upper case before
/// lower case, the first one set decides (an empty one means none, and `ALL_PROXY` is then
/// used), and none at all under CGI (`REQUEST_METHOD` set).
fn proxy_variable(scheme: &str) -> Option<&'static str> {
    if std::env::var_os("REQUEST_METHOD").is_some() {
        return None;
    }
    let first_set = |names: [&'static str; 2]| {
        let (name, value) = names
            .into_iter()
            .find_map(|name| Some((name, std::env::var(name).ok()?)))?;
        (!value.trim().is_empty()).then_some(name)
    };
    let own = match scheme {
        "https" => first_set(["HTTPS_PROXY", "https_proxy"]),
        _ => first_set(["HTTP_PROXY", "http_proxy"]),
    };
    own.or_else(|| first_set(["ALL_PROXY", "all_proxy"]))
}

fn transport(e: reqwest::Error) -> Error {
    let target = e.url().map(target);
    let (code, what) = if e.is_builder() {
        (ErrorCode::InvalidUrl, "cannot build the request")
    } else if e.is_timeout() {
        (ErrorCode::ConnectionFailed, "timed out")
    } else if e.is_connect() {
        (ErrorCode::ConnectionFailed, "cannot connect")
    } else {
        (ErrorCode::ConnectionFailed, "request failed")
    };
    // A proxy from the environment fails under the target's name: say it was in the way
    // (by the variable's name only: its value may hold the proxy's password).
    let proxy = match e.url().map(reqwest::Url::scheme) {
        Some(scheme) if e.is_connect() || e.is_timeout() => proxy_variable(scheme),
        _ => None,
    };
    let proxy = proxy
        .map(|var| format!(" (through the proxy in {var}, unless NO_PROXY excludes this host)"))
        .unwrap_or_default();
    let e = e.without_url();
    let mut msg = format!("{what}{}{proxy}: {e}", target.unwrap_or_default());
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    Error::new(code, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd").unwrap()
    }

    /// A starting clock offset beyond the timestamps' range is refused at build, naming the
    /// offset; one at the bound builds.
    #[test]
    fn a_clock_offset_beyond_the_timestamp_range_is_refused_at_build() {
        let max = xnonce_core::header::MAX_TIMESTAMP_MS as i64;
        for offset in [max + 1, -max - 1, i64::MAX, i64::MIN] {
            let e = Requester::builder("http://127.0.0.1:1", "c", secret())
                .clock_offset_ms(offset)
                .build()
                .unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidTimestamp, "{offset}");
            assert!(e.to_string().contains(&offset.to_string()), "{e}");
        }
        for offset in [max, -max, 0] {
            let api = Requester::builder("http://127.0.0.1:1", "c", secret())
                .clock_offset_ms(offset)
                .build()
                .unwrap();
            assert_eq!(api.clock_offset_ms(), offset);
        }
    }

    /// Caller headers may not replace the credential or the length, nor turn a form body
    /// into bytes or bytes into a form; another JSON type is fine.
    #[test]
    fn caller_headers_that_would_undo_the_signature_are_refused() {
        let h = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        for (headers, body) in [
            (h("x-nonce", "forged"), None),
            (h("Content-Length", "3"), Some(wire::JSON)),
            (h("Transfer-Encoding", "gzip"), Some(wire::FORM)),
            (h("transfer-encoding", "chunked"), None),
            // A CGI-style server reads these as HTTP_X_NONCE and CONTENT_LENGTH too.
            (h("X_Nonce", "forged"), None),
            (h("content_length", "3"), Some(wire::JSON)),
            (h("content-type", "text/plain"), Some(wire::FORM)),
            (
                h("Content-Type", "application/x-www-form-urlencoded"),
                Some(wire::JSON),
            ),
            ([h("Host", "a.test"), h("host", "b.test")].concat(), None),
            (
                [
                    h("Content-Type", "text/plain"),
                    h("content-type", "text/csv"),
                ]
                .concat(),
                None,
            ),
        ] {
            let e = check_caller_headers(&headers, body).unwrap_err();
            assert_eq!(e.code(), ErrorCode::MalformedHeader, "{headers:?}");
        }
        // More than the HTTP stack's header map holds: refused, not a panic when sending.
        let many: Vec<(String, String)> = (0..=MAX_CALLER_HEADERS)
            .map(|i| (format!("x-h{i}"), "1".to_string()))
            .collect();
        let e = check_caller_headers(&many, None).unwrap_err();
        assert_eq!(e.code(), ErrorCode::MalformedHeader);
        assert!(check_caller_headers(&many[1..], None).is_ok());
        for (headers, body) in [
            (
                h("Content-Type", "application/merge-patch+json"),
                Some(wire::JSON),
            ),
            (
                h(
                    "content-type",
                    "application/x-www-form-urlencoded; charset=utf-8",
                ),
                Some(wire::FORM),
            ),
            (h("Content-Type", "text/plain"), None),
            (h("Authorization", "Bearer t"), Some(wire::FORM)),
            (h("X_Request_Id", "1"), None),
            (h("X-Nonces", "1"), None),
            (
                [h("Host", "a.test"), h("Accept", "a/b"), h("Accept", "c/d")].concat(),
                None,
            ),
        ] {
            assert!(check_caller_headers(&headers, body).is_ok(), "{headers:?}");
        }
    }

    #[test]
    fn server_urls() {
        assert_eq!(
            split_server("http://127.0.0.1:8080/").unwrap(),
            Server {
                base: "http://127.0.0.1:8080".into(),
                base_path: String::new(),
                authority: "127.0.0.1:8080".into()
            }
        );
        assert_eq!(
            split_server("https://API.example.com:443")
                .unwrap()
                .authority,
            "api.example.com"
        );
        let prefixed = split_server("http://[0:0::1]:018434/api/").unwrap();
        assert_eq!(prefixed.base, "http://[::1]:18434/api");
        assert_eq!(prefixed.base_path, "/api");
        assert_eq!(prefixed.authority, "[::1]:18434");
        for bad in [
            "ftp://x",
            "http://u:p@x",
            "http://u@x",
            "http://:p@x",
            "http://x/?q",
            "http://x/#f",
            "nonsense",
            // The URL parser would drop a tab or line break inside, and escape a space: refused
            // as `link` refuses them (surrounding ones are trimmed by both).
            "http://127.0.0.1:80\t80",
            "http://x/a\nb",
            "http://x/a b",
            "http://x/a\u{7f}",
        ] {
            assert_eq!(
                split_server(bad).unwrap_err().code(),
                ErrorCode::InvalidUrl,
                "{bad}"
            );
        }
    }

    /// A v2 server URL whose path prefix holds a `%` not followed by two hex digits could
    /// never send a request (the path sent cannot be read back to compare it with the one
    /// signed): refused when building, naming the escape; v1 sends its path as given.
    #[test]
    fn a_v2_prefix_with_a_bad_percent_escape_is_refused_at_build() {
        for (server, bad) in [
            ("http://127.0.0.1:8080/a%zz", "%zz"),
            ("http://127.0.0.1:8080/a%2", "%2"),
            ("http://127.0.0.1:8080/a%/b", "%/b"),
            ("http://127.0.0.1:8080/%g1/x/", "%g1"),
        ] {
            let e = Requester::builder(server, "c", secret())
                .build()
                .unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidUrl, "{server}");
            assert!(
                e.message().contains(&format!("{bad:?}")) && e.message().contains("percent"),
                "{server}: {e}"
            );
            Requester::builder(server, "c", Secret::new("legacy").unwrap())
                .scheme(Scheme::V1)
                .build()
                .unwrap();
        }
        for server in [
            "http://127.0.0.1:8080/a%2f",
            "http://127.0.0.1:8080/%C3%A9%20",
        ] {
            Requester::builder(server, "c", secret()).build().unwrap();
        }
    }

    #[test]
    fn the_url_must_keep_the_signed_path() {
        let url = |scheme, path: &str, target: &str| {
            wire_url("http://h:1/api", "/api", scheme, path, target).map(|u| u.to_string())
        };
        assert_eq!(
            url(Scheme::V1, "/a/b%31", "/a/b%31?x=1").unwrap(),
            "http://h:1/api/a/b%31?x=1"
        );
        assert_eq!(
            url(Scheme::V2, "/a/é", "/a/%C3%A9").unwrap(),
            "http://h:1/api/a/%C3%A9"
        );
        for (scheme, path, becomes) in [
            (Scheme::V1, "/a/./b", "/a/b"),
            (Scheme::V2, "/a/./b", "/a/b"),
            (Scheme::V1, "/a/%2E%2e/b", "/b"),
            (Scheme::V1, "/a\\b", "/a/b"),
            (Scheme::V1, "/é", "/%C3%A9"),
            (Scheme::V1, "/{x}", "/%7Bx%7D"),
        ] {
            let e = url(scheme, path, path).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidPath, "{path}");
            assert!(e.message().contains(&format!("{becomes:?}")), "{e}");
        }
        // Climbing out of the prefix: what is shown is the whole path.
        let e = url(Scheme::V2, "/../b", "/../b").unwrap_err();
        assert!(e.message().contains("\"/b\""), "{e}");
    }

    #[test]
    fn request_options_debug_hides_header_values() {
        let opts = RequestOptions {
            headers: vec![("Authorization".into(), "Bearer s3cr3t-t0ken".into())],
            json_raw: Some(b"{}".to_vec()),
            ..Default::default()
        };
        let debug = format!("{opts:?}");
        assert!(debug.contains("Authorization"), "{debug}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(debug.contains("<2 bytes>"), "{debug}");
    }

    /// A server URL with user info is refused at build, but the builder holds it until then:
    /// its `Debug` (and the blocking builder's) must not show the password.
    #[test]
    fn builder_debug_hides_a_urls_password() {
        for server in [
            "https://alice:hunter2@api.example.com/v1",
            "http://alice:hunter2@[::1/x",
            "alice:hunter2@api.example.com",
        ] {
            let builder = Requester::builder(server, "c", secret());
            let debug = format!("{builder:?}");
            assert!(!debug.contains("hunter2"), "{debug}");
            assert!(debug.contains("***@"), "{debug}");
            let blocking = format!("{:?}", crate::blocking::RequesterBuilder::from(builder));
            assert!(!blocking.contains("hunter2"), "{blocking}");
        }
        let debug = format!("{:?}", Requester::builder("http://h:1/a@b", "c", secret()));
        assert!(debug.contains("\"http://h:1/a@b\""), "{debug}");
    }

    #[test]
    fn build_checks_inputs_and_is_send_sync() {
        fn assert_traits<T: Clone + Send + Sync>() {}
        assert_traits::<Requester>();
        let e = Requester::builder("http://127.0.0.1:1", "bad id", secret())
            .build()
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidClientId);
        let e = Requester::builder("http://127.0.0.1:1", "c", Secret::new("legacy").unwrap())
            .build()
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidSecret);
        let builder = Requester::builder("http://127.0.0.1:1", "c", Secret::new("legacy").unwrap())
            .scheme(Scheme::V1);
        let debug = format!("{builder:?}");
        assert!(
            debug.contains("http://127.0.0.1:1") && debug.contains("V1"),
            "{debug}"
        );
        assert!(!debug.contains("legacy"), "{debug}");
        let ok = builder.build().unwrap();
        assert!(!format!("{ok:?}").contains("legacy"));
    }

    /// A caller's `Host` is sent in either scheme: v1 (which does not sign it) refuses an
    /// empty or malformed one as v2 does (`invalid_host`), before anything is sent.
    #[tokio::test]
    async fn a_v1_host_header_is_checked_as_v2_checks_it() {
        for scheme in [Scheme::V1, Scheme::V2] {
            let api = Requester::builder("http://127.0.0.1:1", "c", secret())
                .scheme(scheme)
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            for host in ["", " ", "bad host"] {
                let options = RequestOptions {
                    headers: vec![("Host".into(), host.into())],
                    ..Default::default()
                };
                let e = api
                    .make_request("GET", vec![], "/x/y", None, options)
                    .await
                    .unwrap_err();
                assert_eq!(e.code(), ErrorCode::InvalidHost, "{scheme} {host:?}: {e}");
            }
        }
    }

    /// A caller's header name (or Content-Type value) is quoted in an error only in part: a
    /// 70 KB one would otherwise fill the message, the log line and the terminal.
    #[tokio::test]
    async fn long_header_names_are_cut_in_errors() {
        let api = Requester::builder("http://127.0.0.1:1", "c", secret())
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let long = "a".repeat(70_000);
        for (name, value) in [
            (long.clone(), "1".to_string()),
            (format!("bad name {long}"), "1".to_string()),
            ("Content-Type".to_string(), format!("text/{long}")),
        ] {
            let options = RequestOptions {
                headers: vec![(name.clone(), value)],
                ..Default::default()
            };
            let e = api
                .make_request("POST", vec![], "/x/y", None, options)
                .await
                .unwrap_err();
            assert_eq!(e.code(), ErrorCode::MalformedHeader, "{}", &name[..20]);
            assert!(
                e.message().len() < 400 && e.message().contains('…'),
                "{} bytes: {}",
                e.message().len(),
                e.message().chars().take(200).collect::<String>()
            );
        }
    }

    #[test]
    fn future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let r = Requester::builder("http://127.0.0.1:1", "c", secret())
            .build()
            .unwrap();
        let fut = r.make_request("GET", vec![], "/x", None, RequestOptions::default());
        assert_send(&fut);
    }
}
