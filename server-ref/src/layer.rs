//! Verification as a `tower` layer that any axum/tower app can add.
//!
//! For each request the layer, in this order:
//! 1. refuses headers larger than [`Limits::max_header_bytes`] (431) and bodies larger than
//!    [`Limits::max_body_bytes`] (413), reading the body into memory (it is signed);
//! 2. with a [`RouteTable`], finds the route (404) and checks its param rules (422) — the
//!    order em-secure-api uses;
//! 3. verifies the credential (`X-Nonce` header or `ottoken` parameter) with core's
//!    [`Verifier`] against a [`SecretSource`] (401 on failure);
//! 4. records the replay key in the [`AsyncReplayStore`] (409 on a replay, 503 if the store
//!    cannot answer);
//! 5. passes the request on with [`Verified`] (and the [`RouteMatch`], with a route table) in
//!    its extensions, and the body re-attached.
//!
//! Refusals are written by [`crate::respond`]: em-secure-api's text for v1, a problem
//! document for v2. Each outcome is logged with `tracing` (target `xnonce`: client, method,
//! path, outcome code, status) — never a secret, a token or a parameter value: refusals at
//! `info`, accepted requests at `debug` (so the default level spends nothing on them).
//!
//! ```no_run
//! use std::collections::HashMap;
//! use axum::{routing::get, Extension, Router};
//! use xnonce_core::{Secret, Verified};
//! use xnonce_server::XNonceLayer;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let clients = HashMap::from([(
//!     "svc".to_string(),
//!     Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?,
//! )]);
//! let app = Router::new()
//!     .route("/reports/daily", get(|Extension(v): Extension<Verified>| async move {
//!         format!("hello {}", v.client)
//!     }))
//!     .layer(XNonceLayer::new(clients));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{header, Request, Response};
use bytes::Bytes;
use http_body_util::BodyExt;
use tower::{Layer, Service};
use xnonce_core::verify::is_form_content_type;
use xnonce_core::{
    params, Error, ErrorCode, Incoming, ParamRule, RouteMatch, RouteTable, Scheme, SecretSource,
    Verified, Verifier,
};

use crate::respond::{refusal, Refusal};
use crate::store::{AsyncReplayStore, MemoryStore};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The `X-Nonce` header's name, made once (a `&str` name is parsed and lower-cased on every
/// lookup).
static X_NONCE: axum::http::HeaderName = axum::http::HeaderName::from_static("x-nonce");

/// Request size limits (oversized requests get a 4xx, never a 5xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest body accepted, in bytes (413 above). Default 1 MiB.
    pub max_body_bytes: usize,
    /// Largest total size of the header fields (names + values), in bytes (431 above).
    /// Default 16 KiB. hyper also refuses request heads over ~400 KiB with 431.
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1 << 20,
            max_header_bytes: 16 << 10,
        }
    }
}

#[derive(Clone)]
struct Shared {
    verifier: Verifier,
    secrets: Arc<dyn SecretSource + Send + Sync>,
    store: Arc<dyn AsyncReplayStore>,
    routes: Option<Arc<RouteTable>>,
    limits: Limits,
}

/// The verification layer. Cheap to clone; every clone shares the same replay store.
#[derive(Clone)]
pub struct XNonceLayer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for XNonceLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XNonceLayer")
            .field("verifier", &self.shared.verifier)
            .field("routes", &self.shared.routes.is_some())
            .field("limits", &self.shared.limits)
            .finish_non_exhaustive()
    }
}

impl XNonceLayer {
    /// A layer accepting both schemes with a 30 s window, an in-memory replay store (swept as
    /// it grows; call [`MemoryStore::spawn_evictor`] on a store you pass to
    /// [`XNonceLayer::store`] for time-based eviction), default [`Limits`] and no route table.
    pub fn new(secrets: impl SecretSource + Send + Sync + 'static) -> Self {
        XNonceLayer {
            shared: Arc::new(Shared {
                verifier: Verifier::new(),
                secrets: Arc::new(secrets),
                store: Arc::new(MemoryStore::new()),
                routes: None,
                limits: Limits::default(),
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Shared)) -> Self {
        f(Arc::make_mut(&mut self.shared));
        self
    }

    /// Uses a configured verifier (windows, accepted schemes).
    pub fn verifier(self, verifier: Verifier) -> Self {
        self.edit(|s| s.verifier = verifier)
    }

    /// Uses another replay store (shared with whoever else holds it).
    pub fn store(self, store: impl AsyncReplayStore) -> Self {
        self.edit(|s| s.store = Arc::new(store))
    }

    /// Checks routes and param rules (404 / 422) before verifying, as em-secure-api does.
    pub fn routes(self, routes: RouteTable) -> Self {
        self.edit(|s| s.routes = Some(Arc::new(routes)))
    }

    /// Sets the request size limits.
    pub fn limits(self, limits: Limits) -> Self {
        self.edit(|s| s.limits = limits)
    }
}

impl<S> Layer<S> for XNonceLayer {
    type Service = XNonceService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        XNonceService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service made by [`XNonceLayer`].
#[derive(Clone)]
pub struct XNonceService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S, B, ResBody> Service<Request<B>> for XNonceService<S>
where
    S: Service<Request<Body>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        Box::pin(async move {
            match shared.admit(req).await {
                Ok(req) => inner.call(req).await.map(|r| r.map(Body::new)),
                Err(res) => Ok(res),
            }
        })
    }
}

/// Which scheme a request's credential looks like, to choose the refusal style: an `X-Nonce`
/// header starting with `v2 `, or an `ottoken` that is not v1's base64 JSON (`eyJ…`), is v2;
/// anything else (including no credential) is answered like em-secure-api.
pub fn scheme_hint(x_nonce: Option<&str>, query: &str, form: Option<&str>) -> Scheme {
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

/// Checks a route's param rules against the request's param **names** only (values are
/// decoded, and checked, by the verifier), without allocating: v1 names are compared raw, as
/// em-secure-api does; v2 names form-decoded. The first failing rule is reported with
/// em-secure-api's text, as [`RouteMatch::check_params`] does.
fn check_rules(
    route: &RouteMatch,
    scheme: Scheme,
    query: &str,
    form: Option<&str>,
) -> Result<(), Error> {
    let rules = route.rules();
    let ottoken = xnonce_core::ottoken::PARAM;
    // Whether the raw name `raw` (`escaped`: holds `%` or `+`) names the rule's `name`.
    let matches = |raw: &str, escaped: bool, name: &str| match scheme {
        Scheme::V1 => raw == name && raw != ottoken,
        _ if escaped => param_name_is(raw, name) && name != ottoken,
        _ => raw == name && name != ottoken,
    };
    // One pass over the params marks which rules' names are present (on the stack for up
    // to 64 rules).
    let mut small = [false; 64];
    let mut large = Vec::new();
    let present: &mut [bool] = if rules.len() <= small.len() {
        &mut small[..rules.len()]
    } else {
        large.resize(rules.len(), false);
        &mut large
    };
    for (k, _) in params::split_raw(query).chain(form.into_iter().flat_map(params::split_raw)) {
        let escaped = k.bytes().any(|b| b == b'%' || b == b'+');
        for (seen, (name, _)) in present.iter_mut().zip(rules) {
            *seen |= matches(k, escaped, name);
        }
    }
    for ((name, rule), &present) in rules.iter().zip(&*present) {
        match rule {
            ParamRule::Required if !present => {
                return Err(Error::new(
                    ErrorCode::MissingParam,
                    format!("Missing required parameter {name}"),
                ))
            }
            ParamRule::Excluded if present => {
                return Err(Error::new(
                    ErrorCode::ExcludedParam,
                    format!("Included invalid parameter {name}"),
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// True when the raw form-encoded `raw` decodes to `name` (`+` is a space, `%XX` a byte; a
/// malformed escape matches nothing).
fn param_name_is(raw: &str, name: &str) -> bool {
    let (raw, name) = (raw.as_bytes(), name.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < raw.len() {
        let b = match raw[i] {
            b'+' => {
                i += 1;
                b' '
            }
            b'%' => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (
                    raw.get(i + 1).and_then(|&c| hex(c)),
                    raw.get(i + 2).and_then(|&c| hex(c)),
                ) {
                    (Some(h), Some(l)) => {
                        i += 3;
                        (h * 16 + l) as u8
                    }
                    _ => return false,
                }
            }
            b => {
                i += 1;
                b
            }
        };
        if name.get(j) != Some(&b) {
            return false;
        }
        j += 1;
    }
    j == name.len()
}

struct Outcome {
    scheme: Scheme,
    client: Option<String>,
    result: Result<(Verified, Option<RouteMatch>), Refusal>,
}

impl Shared {
    async fn admit<B>(&self, req: Request<B>) -> Result<Request<Body>, Response<Body>>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let (mut parts, body) = req.into_parts();
        let (outcome, bytes) = self.decide(&parts, body).await;
        match outcome.result {
            Ok((verified, route)) => {
                // Accepted requests are logged at debug: nothing is formatted at the default
                // level (`info`), so an accepted request costs no logging.
                tracing::debug!(
                    target: "xnonce",
                    client = verified.client.as_str(),
                    scheme = outcome.scheme.as_str(),
                    method = parts.method.as_str(),
                    path = parts.uri.path(),
                    outcome = "accepted",
                    status = 200u16,
                    "request"
                );
                parts.extensions.insert(verified);
                if let Some(route) = route {
                    parts.extensions.insert(route);
                }
                Ok(Request::from_parts(parts, Body::from(bytes)))
            }
            Err(r) => {
                let status = r.status.unwrap_or_else(|| match outcome.scheme {
                    Scheme::V1 => crate::respond::v1_answer(r.error.code(), "").0,
                    Scheme::V2 => r.error.code().http_status(),
                });
                tracing::info!(
                    target: "xnonce",
                    client = outcome.client.as_deref().unwrap_or("-"),
                    scheme = outcome.scheme.as_str(),
                    method = parts.method.as_str(),
                    path = parts.uri.path(),
                    outcome = r.error.code().as_str(),
                    status,
                    "request"
                );
                Err(refusal(outcome.scheme, &r))
            }
        }
    }

    async fn decide<B>(&self, parts: &axum::http::request::Parts, body: B) -> (Outcome, Bytes)
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let query = parts.uri.query().unwrap_or("");
        let mut values = parts.headers.get_all(&X_NONCE).iter();
        let (first, second) = (values.next(), values.next());
        let x_nonce = first.map(|v| v.to_str());
        let raw_hint = first.and_then(|v| v.to_str().ok());
        let mut outcome = Outcome {
            scheme: scheme_hint(raw_hint, query, None),
            client: None,
            result: Err(Error::new(ErrorCode::MissingHeader, "").into()),
        };
        let fail = |mut o: Outcome, r: Refusal| {
            o.result = Err(r);
            (o, Bytes::new())
        };
        let header_bytes: usize = parts
            .headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 4)
            .sum();
        if header_bytes > self.limits.max_header_bytes {
            let msg = format!(
                "request header fields exceed {} bytes",
                self.limits.max_header_bytes
            );
            return fail(
                outcome,
                Refusal::with_status(ErrorCode::MalformedHeader, 431, &msg),
            );
        }
        let x_nonce = match (x_nonce, second) {
            (_, Some(_)) => {
                return fail(
                    outcome,
                    Error::new(ErrorCode::MalformedHeader, "more than one X-Nonce header").into(),
                )
            }
            (Some(Err(_)), _) => {
                return fail(
                    outcome,
                    Error::new(ErrorCode::MalformedHeader, "X-Nonce is not visible ASCII").into(),
                )
            }
            (Some(Ok(v)), _) => Some(v),
            (None, _) => None,
        };
        let too_large = || {
            let msg = format!("request body exceeds {} bytes", self.limits.max_body_bytes);
            Refusal::with_status(ErrorCode::InvalidBody, 413, &msg)
        };
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.limits.max_body_bytes as u64) {
            return fail(outcome, too_large());
        }
        let bytes = match http_body_util::Limited::new(body, self.limits.max_body_bytes)
            .collect()
            .await
        {
            Ok(c) => c.to_bytes(),
            Err(e) => {
                let r = if e.is::<http_body_util::LengthLimitError>() {
                    too_large()
                } else {
                    Refusal::with_status(
                        ErrorCode::InvalidBody,
                        400,
                        "the request body could not be read",
                    )
                };
                return fail(outcome, r);
            }
        };
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let form = if is_form_content_type(content_type) {
            std::str::from_utf8(&bytes).ok()
        } else {
            None
        };
        outcome.scheme = scheme_hint(x_nonce, query, form);
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()));
        let incoming = Incoming {
            method: parts.method.as_str(),
            host,
            path: parts.uri.path(),
            query,
            content_type,
            body: &bytes,
            x_nonce,
        };
        outcome.result = self.check(&incoming, outcome.scheme, form).await;
        if outcome.result.is_err() {
            // For the refusal's log line (accepted requests log the verified client).
            outcome.client = self
                .verifier
                .credential(&incoming)
                .ok()
                .map(|(h, _)| h.client().to_string());
        }
        (outcome, bytes)
    }

    async fn check(
        &self,
        incoming: &Incoming<'_>,
        scheme: Scheme,
        form: Option<&str>,
    ) -> Result<(Verified, Option<RouteMatch>), Refusal> {
        let route = match &self.routes {
            Some(table) => {
                let route = table.lookup(incoming.method, incoming.path)?;
                check_rules(&route, scheme, incoming.query, form)?;
                Some(route)
            }
            None => None,
        };
        let now = crate::now_ms();
        let verified = self.verifier.verify(incoming, &*self.secrets, now)?;
        let (key, until) = (verified.replay_key.as_str(), verified.remember_until_ms);
        let recorded = match self.store.insert_now(key, until, now) {
            Some(answer) => answer,
            None => self.store.insert_if_absent(key, until, now).await,
        };
        match recorded {
            Ok(true) => Ok((verified, route)),
            Ok(false) => Err(Error::new(ErrorCode::Replayed, "ottoken already used").into()),
            Err(e) => {
                tracing::error!(target: "xnonce", error = %e, "replay store unavailable");
                Err(Error::new(ErrorCode::StoreUnavailable, "replay store unavailable").into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_name_is_cores() {
        assert_eq!(
            X_NONCE.as_str(),
            xnonce_core::header::NAME.to_ascii_lowercase()
        );
    }

    #[test]
    fn param_names_decode_like_forms() {
        assert!(param_name_is("opt1", "opt1"));
        assert!(param_name_is("opt%31", "opt1"));
        assert!(param_name_is("a+b", "a b"));
        assert!(param_name_is("%C3%A9", "é"));
        assert!(!param_name_is("opt%3", "opt"));
        assert!(!param_name_is("opt%zz", "opt"));
        assert!(!param_name_is("opt%31", "opt"));
        assert!(!param_name_is("op", "opt"));
    }

    #[test]
    fn routes_with_more_rules_than_bits_are_checked_alike() {
        let names: Vec<String> = (0..70).map(|i| format!("p{i}")).collect();
        let rules: Vec<(&str, ParamRule)> = names
            .iter()
            .map(|n| (n.as_str(), ParamRule::Optional))
            .chain([
                ("need", ParamRule::Required),
                ("never", ParamRule::Excluded),
            ])
            .collect();
        let table = RouteTable::new().route("c", "a", "get", &rules);
        let route = table.lookup("GET", "/c/a").unwrap();
        assert_eq!(route.rules().len(), 72);
        for scheme in [Scheme::V1, Scheme::V2] {
            assert!(check_rules(&route, scheme, "p3=1&need=", None).is_ok());
            let e = check_rules(&route, scheme, "p3=1", None).unwrap_err();
            assert_eq!(e.message(), "Missing required parameter need");
            let e = check_rules(&route, scheme, "need=1", Some("never=2")).unwrap_err();
            assert_eq!(e.message(), "Included invalid parameter never");
        }
        // v2 names are decoded, v1 names are not.
        assert!(check_rules(&route, Scheme::V2, "ne%65d=1", None).is_ok());
        assert!(check_rules(&route, Scheme::V1, "ne%65d=1", None).is_err());
    }

    #[test]
    fn rules_are_checked_on_names_as_core_does() {
        let table = crate::demo::routes();
        let route = table.lookup("GET", "/controller1/action3").unwrap();
        let check = |s, q| check_rules(&route, s, q, None);
        let e = check(Scheme::V1, "username=a&password=b&opt1=c").unwrap_err();
        assert_eq!(e.message(), "Included invalid parameter password");
        assert_eq!(e.code(), ErrorCode::ExcludedParam);
        let e = check(Scheme::V1, "username=a").unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (ErrorCode::MissingParam, "Missing required parameter opt1")
        );
        assert!(check(Scheme::V1, "username=a&opt1=%zz").is_ok());
        // v1 names are raw (em-secure-api does not decode them); v2 names are decoded.
        assert!(check(Scheme::V1, "username=a&opt%31=c").is_err());
        assert!(check(Scheme::V2, "username=a&opt%31=c").is_ok());
        for (s, q) in [
            (Scheme::V1, "username=a&opt1=c&password=x"),
            (Scheme::V1, "opt1=1"),
            (Scheme::V2, "ottoken=x&opt1=1&username=u"),
        ] {
            let parsed = params::from_query_and_form(s, q, None).unwrap();
            assert_eq!(
                check(s, q).map_err(|e| e.message().to_string()),
                route
                    .check_params(&parsed)
                    .map_err(|e| e.message().to_string()),
                "{q}"
            );
        }
    }
}
