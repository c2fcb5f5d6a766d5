//! Verification as a `tower` layer that any axum/tower app can add.
//!
//! For each request the layer, in this order:
//! 1. refuses headers larger than [`Limits::max_header_bytes`] (431) and bodies larger than
//!    [`Limits::max_body_bytes`] (413), reading the body into memory (it is signed);
//! 2. with a [`RouteTable`], finds the route (404) and checks its param rules (422) — the
//!    order em-secure-api uses; a body that is not a form holds no params, so those
//!    refusals are then sent before it is read (the same answers);
//! 3. verifies the credential (`X-Nonce` header or `ottoken` parameter) with core's
//!    [`Verifier`] against a [`SecretSource`] (401 on failure);
//! 4. records the replay key in the [`AsyncReplayStore`] (409 on a replay, 503 if the store
//!    cannot answer) — unless an outer `XNonceLayer` on the same request recorded it in this
//!    very store ([`AsyncReplayStore::id`]) until at least the time this layer would keep it;
//! 5. passes the request on with [`Verified`] (and the [`RouteMatch`], with a route table) in
//!    its extensions, and the body re-attached.
//!
//! It verifies the request target the client sent (what it signed): inside axum's
//! `Router::nest`, where the URI has lost the nesting prefix, that is axum's
//! [`OriginalUri`](axum::extract::OriginalUri), and route tables name the full path too.
//!
//! Refusals are written by [`crate::respond`]: em-secure-api's text for v1, a problem
//! document for v2. Each outcome is logged with `tracing` (target `xnonce`: client, method,
//! path, outcome code, and a refusal's status) — never a secret, a token or a parameter value:
//! refusals at `info`, accepted requests at `debug` (so the default level spends nothing on
//! them; their status is the inner service's, which answers after the line is written).
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
//! // Or axum::serve(listener, app): without a deadline for request heads (see
//! // crate::connections).
//! let limits = xnonce_server::ConnectionLimits::default();
//! xnonce_server::connections::serve(listener, app, limits, xnonce_server::shutdown_signal()).await;
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
use xnonce_core::answer::host_conflict;
use xnonce_core::{
    Error, ErrorCode, Incoming, ReplayKey, RouteMatch, RouteTable, Scheme, SecretSource, Verified,
    Verifier,
};

use crate::metrics::{Behind, Metrics};
use crate::respond::{refusal, Refusal};
use crate::store::{AsyncReplayStore, MemoryStore, StoreId};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The `X-Nonce` header's name, made once (a `&str` name is parsed and lower-cased on every
/// lookup).
static X_NONCE: axum::http::HeaderName = axum::http::HeaderName::from_static("x-nonce");

/// Request size and time limits (oversized or too slow requests get a 4xx, never a 5xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest body accepted, in bytes (413 above). Default 1 MiB.
    pub max_body_bytes: usize,
    /// Largest total size of the header fields, in bytes (431 above), each field line counted
    /// as sent: name, `: `, value and CRLF. Default 16 KiB. hyper also refuses request heads
    /// over ~400 KiB with 431.
    pub max_header_bytes: usize,
    /// How long the body may take to arrive once the head has (408, `invalid_body`, after
    /// it), so that a client trickling a body cannot hold a request open. Default 30 s.
    /// Uses Tokio's timer: the runtime must have time enabled (`#[tokio::main]`,
    /// `Runtime::new()` and `Builder::enable_all()` do).
    pub body_timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1 << 20,
            max_header_bytes: 16 << 10,
            body_timeout: std::time::Duration::from_secs(30),
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
    metrics: Option<Arc<Metrics>>,
}

/// The verification layer. Cheap to clone; every clone shares the same replay store.
///
/// ```
/// use std::collections::HashMap;
/// use axum::{body::Body, http::Request, routing::get, Router};
/// use tower::ServiceExt; // oneshot: a request through the app without a socket
/// use xnonce_core::{sign, ParamRule, RouteTable, Scheme, Secret, SignInput, Verifier, WindowPolicy};
/// use xnonce_server::{Limits, MemoryStore, XNonceLayer};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
/// let store = MemoryStore::new();
/// let layer = XNonceLayer::new(HashMap::from([("svc".to_string(), secret.clone())]))
///     .verifier(Verifier::new().windows(WindowPolicy::new(60_000))?.schemes(&[Scheme::V2])?)
///     .routes(RouteTable::new().route("reports", "daily", "GET", &[("day", ParamRule::Required)]))
///     .limits(Limits { max_body_bytes: 64 << 10, ..Limits::default() })
///     .store(store.clone());
/// let app = Router::new().route("/reports/daily", get(|| async { "ok" })).layer(layer);
///
/// let input = SignInput::new(Scheme::V2, "GET", "/reports/daily", "svc").host("api.test");
/// let x_nonce = sign(&input.param("day", "2024-01-01"), &secret)?.x_nonce;
/// let request = || {
///     Request::get("/reports/daily?day=2024-01-01")
///         .header("host", "api.test")
///         .header("x-nonce", &x_nonce)
///         .body(Body::empty())
/// };
/// assert_eq!(app.clone().oneshot(request()?).await?.status(), 200);
/// assert_eq!(app.clone().oneshot(request()?).await?.status(), 409); // replayed
/// assert_eq!(store.len(), 1);
/// # Ok(()) }
/// ```
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
                metrics: None,
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

    /// Counts each request's outcome in `metrics` (accepted, or the refusal's code; an
    /// accepted request once the inner service has answered, under the answer's
    /// [`Behind`] if it has one).
    pub fn metrics(self, metrics: Arc<Metrics>) -> Self {
        self.edit(|s| s.metrics = Some(metrics))
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
    type Future = XNonceFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if req.body().is_end_stream() {
            // A request without a body (most GETs) is decided right here when the store
            // answers at once (the in-process stores): no body to read, no state machine,
            // and the inner service that `poll_ready` readied is the one called.
            let (parts, _empty) = req.into_parts();
            let decision = match self.shared.check_head(&parts) {
                Ok(x_nonce) => self.shared.decide_now(&parts, x_nonce, &[], None),
                Err(r) => Decision::Done(head_refusal(&parts, r)),
            };
            match decision {
                Decision::Done(outcome) => {
                    let admission = self.shared.conclude(parts, outcome, Bytes::new());
                    return XNonceFuture::admit(&mut self.inner, admission);
                }
                Decision::Record(pending) => {
                    let mut inner = self.take_ready_inner();
                    let shared = self.shared.clone();
                    return XNonceFuture::boxed(async move {
                        let outcome = shared.record(pending).await;
                        let admission = shared.conclude(parts, outcome, Bytes::new());
                        XNonceFuture::admit(&mut inner, admission).await
                    });
                }
            }
        }
        let mut inner = self.take_ready_inner();
        let shared = self.shared.clone();
        XNonceFuture::boxed(async move {
            let (parts, body) = req.into_parts();
            let (outcome, bytes) = shared.decide(&parts, body).await;
            XNonceFuture::admit(&mut inner, shared.conclude(parts, outcome, bytes)).await
        })
    }
}

type BoxedAnswer<E> = Pin<Box<dyn Future<Output = Result<Response<Body>, E>> + Send>>;

pin_project_lite::pin_project! {
    /// The future of [`XNonceService`]: the inner service's answer to a request decided at
    /// once (no allocation), a refusal, or — for a body to read or a store to wait for — a
    /// boxed future doing that first.
    pub struct XNonceFuture<F, E> {
        #[pin]
        state: State<F, E>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F, E> {
        Inner { #[pin] answer: F, served: Served },
        Ready { refusal: Option<Response<Body>> },
        Boxed { future: BoxedAnswer<E> },
    }
}

impl<F, E> XNonceFuture<F, E> {
    /// The inner service's answer to an admitted request, or the refusal.
    fn admit<S>(inner: &mut S, admission: Admission) -> Self
    where
        S: Service<Request<Body>, Future = F, Error = E>,
    {
        let state = match admission {
            Admission::Pass(req, served) => State::Inner {
                answer: inner.call(req),
                served,
            },
            Admission::Refuse(res) => State::Ready { refusal: Some(res) },
        };
        XNonceFuture { state }
    }

    fn boxed(future: impl Future<Output = Result<Response<Body>, E>> + Send + 'static) -> Self {
        XNonceFuture {
            state: State::Boxed {
                future: Box::pin(future),
            },
        }
    }
}

impl<F, E, ResBody> Future for XNonceFuture<F, E>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { answer, served } => {
                let res = std::task::ready!(answer.poll(cx));
                if let Ok(res) = &res {
                    served.count(res.extensions().get::<Behind>().copied());
                }
                Poll::Ready(res.map(|r| r.map(Body::new)))
            }
            StateProj::Ready { refusal } => match refusal.take() {
                Some(res) => Poll::Ready(Ok(res)),
                None => panic!("XNonceFuture polled after completion"),
            },
            StateProj::Boxed { future } => future.as_mut().poll(cx),
        }
    }
}

impl<F, E> std::fmt::Debug for XNonceFuture<F, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("XNonceFuture")
    }
}

impl<S: Clone> XNonceService<S> {
    /// The inner service `poll_ready` readied, for a future that calls it later; a clone
    /// (not yet readied) takes its place (tower's usual pattern).
    fn take_ready_inner(&mut self) -> S {
        let clone = self.inner.clone();
        std::mem::replace(&mut self.inner, clone)
    }
}

/// Which scheme a request's credential looks like, to choose the refusal style: core's
/// [`refusal_scheme`](xnonce_core::answer::refusal_scheme), under the name this crate gave it
/// first.
pub use xnonce_core::answer::refusal_scheme as scheme_hint;

struct Outcome {
    scheme: Scheme,
    client: Option<String>,
    result: Result<(Verified, Option<RouteMatch>), Refusal>,
}

/// What is known once the body is read and the request verified without waiting.
enum Decision {
    /// Accepted or refused.
    Done(Outcome),
    /// Verified; the replay store's answer must be awaited.
    Record(Pending),
}

/// A verified request whose replay key the store has not yet recorded.
struct Pending {
    scheme: Scheme,
    verified: Verified,
    route: Option<RouteMatch>,
    now_ms: u64,
}

type Parts = axum::http::request::Parts;

/// The replay records an `XNonceLayer` made for this request, left in its extensions for a
/// second layer on the same request (one on the app, one on a nested router): that layer
/// verifies the request again but does not record a key that this very store
/// ([`AsyncReplayStore::id`]) already holds for it, until at least the time it would keep it
/// itself; recording it again would refuse the request as its own replay. A layer on another
/// store records as usual, so a replay sent to another instance still meets every store; and
/// an inner layer with a longer window than the outer one on the same store records too (and
/// so refuses): the store keeps the key only until the outer one's time, after which an
/// instance without the outer layer would accept a replay. Private to this module: nothing
/// else can make one.
#[derive(Clone)]
struct RecordedIn {
    store: StoreId,
    /// The replay key's digest ([`ReplayKey::digest`]).
    key: [u8; 16],
    /// Until when the store keeps it ([`Verified::remember_until_ms`]).
    until_ms: u64,
    /// A record of an earlier layer on another store, or of another key.
    earlier: Option<Box<RecordedIn>>,
}

impl RecordedIn {
    /// Whether `store` holds `verified`'s replay key for this request until at least
    /// `verified.remember_until_ms`.
    fn holds(&self, store: StoreId, verified: &Verified) -> bool {
        let key = verified.replay_key.digest();
        std::iter::successors(Some(self), |r| r.earlier.as_deref())
            .any(|r| r.store == store && r.key == *key && r.until_ms >= verified.remember_until_ms)
    }

    /// Notes in `extensions` that `store` holds `verified`'s replay key (kept with earlier
    /// records).
    fn note(extensions: &mut axum::http::Extensions, store: StoreId, verified: &Verified) {
        if extensions
            .get::<RecordedIn>()
            .is_some_and(|r| r.holds(store, verified))
        {
            return;
        }
        let earlier = extensions.remove::<RecordedIn>().map(Box::new);
        extensions.insert(RecordedIn {
            store,
            key: *verified.replay_key.digest(),
            until_ms: verified.remember_until_ms,
            earlier,
        });
    }
}

/// The count of an accepted request, made once the inner service has answered: `accepted`,
/// or what the answer's [`Behind`] says (the gateway's own answers); `accepted` if it never
/// answers (the client went away, the inner service failed).
struct Served {
    /// `None` once counted, or without metrics.
    metrics: Option<Arc<Metrics>>,
    scheme: Scheme,
}

impl Served {
    fn count(&mut self, behind: Option<Behind>) {
        if let Some(metrics) = self.metrics.take() {
            metrics.served(self.scheme, behind);
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.count(None);
    }
}

/// What the layer does with a request.
enum Admission {
    /// Pass it on to the inner service, counting it once answered.
    Pass(Request<Body>, Served),
    /// Answer with this refusal.
    Refuse(Response<Body>),
}

impl Shared {
    /// The request to pass on (with [`Verified`] and the route in its extensions, the body
    /// re-attached), or the refusal to send; logs the outcome.
    fn conclude(&self, mut parts: Parts, outcome: Outcome, bytes: Bytes) -> Admission {
        match outcome.result {
            Ok((verified, route)) => {
                // Accepted requests are logged at debug: nothing is formatted at the default
                // level (`info`), so an accepted request costs no logging. No status: the
                // inner service has not answered yet (it may answer 204, 404, 429...).
                // Logged and counted under the scheme it was verified in: `outcome.scheme` is
                // the style a refusal would be answered in (PROTOCOL §16), which reads the
                // raw credential (a v1 ottoken written with a `%` escape answers as v2).
                tracing::debug!(
                    target: "xnonce",
                    client = verified.client.as_str(),
                    scheme = verified.scheme.as_str(),
                    method = &*logged(parts.method.as_str()),
                    path = &*logged(sent_target(&parts).path()),
                    outcome = "accepted",
                    "request"
                );
                let served = Served {
                    metrics: self.metrics.clone(),
                    scheme: verified.scheme,
                };
                if let Some(store) = self.store.id() {
                    RecordedIn::note(&mut parts.extensions, store, &verified);
                }
                parts.extensions.insert(verified);
                if let Some(route) = route {
                    parts.extensions.insert(route);
                }
                Admission::Pass(Request::from_parts(parts, Body::from(bytes)), served)
            }
            Err(r) => {
                log_refusal(&parts, outcome.client.as_deref(), outcome.scheme, &r);
                if let Some(metrics) = &self.metrics {
                    metrics.decided(outcome.scheme, Some(r.error.code()));
                }
                Admission::Refuse(refusal(outcome.scheme, &r))
            }
        }
    }

    /// Reads the body, then decides (awaiting the store if it must).
    async fn decide<B>(&self, parts: &Parts, body: B) -> (Outcome, Bytes)
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let x_nonce = match self.check_head(parts) {
            Ok(x_nonce) => x_nonce,
            Err(r) => return (head_refusal(parts, r), Bytes::new()),
        };
        let head_route = match self.route_from_head(parts, x_nonce) {
            Ok(route) => route,
            Err(outcome) => return (*outcome, Bytes::new()),
        };
        let collected = tokio::time::timeout(
            self.limits.body_timeout,
            read_body(body, self.limits.max_body_bytes),
        )
        .await;
        let bytes = match collected {
            Ok(Ok(bytes)) => bytes,
            Err(_elapsed) => return (head_refusal(parts, Refusal::body_timeout()), Bytes::new()),
            Ok(Err(e)) => {
                let r = if e.is::<http_body_util::LengthLimitError>() {
                    self.body_too_large()
                } else if over_an_outer_limit(&*e) {
                    // A limit of an outer layer (tower-http's RequestBodyLimitLayer), whose
                    // error axum wraps: a 413 too, without this layer's limit in it.
                    Refusal::with_status(ErrorCode::InvalidBody, 413, "request body too large")
                } else {
                    Refusal::body_unreadable()
                };
                return (head_refusal(parts, r), Bytes::new());
            }
        };
        let outcome = match self.decide_now(parts, x_nonce, &bytes, head_route) {
            Decision::Done(outcome) => outcome,
            Decision::Record(pending) => self.record(pending).await,
        };
        (outcome, bytes)
    }

    /// The route table's decision on a request whose body cannot change it, made before the
    /// body is read (a client sending to an unknown route is not waited for): when the body
    /// is not a form, the route (looked up, its param rules met by the query alone) for
    /// [`Shared::decide_now`] to use, or its refusal (404 unknown route, 422 param rules), the
    /// very answer `decide_now` gives once the body is read. Only a form's body is params
    /// (checked against the rules, holding perhaps the `ottoken` that chooses the answer's
    /// style, or bytes that are not UTF-8, refused first): for a form, or without a route
    /// table, `Ok(None)`, and `decide_now` decides.
    fn route_from_head(
        &self,
        parts: &Parts,
        x_nonce: Option<&str>,
    ) -> Result<Option<RouteMatch>, Box<Outcome>> {
        let Some(table) = &self.routes else {
            return Ok(None);
        };
        let content_type = content_type_of(parts);
        let content_type = content_type.as_deref();
        let target = sent_target(parts);
        let query = target.query().unwrap_or("");
        // The credential of a body that is not a form is in the head.
        let incoming = Incoming {
            method: parts.method.as_str(),
            host: target.authority().map(|a| a.as_str()),
            path: target.path(),
            query,
            content_type,
            body: &[],
            x_nonce,
        };
        // Core's decision, the one the middlewares make before they read a body.
        table.check_head(&incoming).map_err(|e| {
            Box::new(Outcome {
                scheme: incoming.refusal_scheme(),
                client: self.refused_client(&incoming),
                result: Err(e.into()),
            })
        })
    }

    /// The client a refused request names, for the refusal's log line (an accepted request
    /// logs the verified client).
    fn refused_client(&self, incoming: &Incoming<'_>) -> Option<String> {
        self.verifier
            .credential(incoming)
            .ok()
            .map(|(h, _)| h.client().to_string())
    }

    fn body_too_large(&self) -> Refusal {
        Refusal::body_too_large(self.limits.max_body_bytes)
    }

    /// The checks on the head alone, before any body is read: header size, at most one
    /// visible-ASCII `X-Nonce` (returned), declared body size.
    fn check_head<'p>(&self, parts: &'p Parts) -> Result<Option<&'p str>, Refusal> {
        // Any case: core signs methods upper-cased, so `connect` verifies as CONNECT.
        if parts.method.as_str().eq_ignore_ascii_case("CONNECT") {
            return Err(Refusal::tunnel());
        }
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
            return Err(Refusal::with_status(ErrorCode::MalformedHeader, 431, &msg));
        }
        let mut values = parts.headers.get_all(&X_NONCE).iter();
        let x_nonce = match (values.next(), values.next()) {
            (_, Some(_)) => Err("more than one X-Nonce header"),
            (Some(v), None) => v
                .to_str()
                .map(Some)
                .map_err(|_| "X-Nonce is not visible ASCII"),
            (None, None) => Ok(None),
        };
        let x_nonce =
            x_nonce.map_err(|msg| Refusal::from(Error::new(ErrorCode::MalformedHeader, msg)))?;
        // RFC 9112 §3.2: a request with more than one Host field line is a 400, whatever the
        // scheme (which one would a v2 signature be bound to?). Looked up only when some
        // field name repeats (values ≠ names: two field reads), so the usual request pays no
        // lookup.
        if parts.headers.len() != parts.headers.keys_len() {
            if more_than_one(&parts.headers, &header::HOST) {
                return Err(Refusal::repeated_host());
            }
            // Which line says whether the body is a form? Stacks differ (first, last, both
            // joined), so an app embedding this layer may read another line than it does
            // (the gateway forwards only the first): refused, as core says why.
            if more_than_one(&parts.headers, &header::CONTENT_TYPE) {
                return Err(Refusal::repeated_content_type());
            }
        }
        // HTTP/2 and HTTP/3: a Host field naming another host than :authority (which the
        // signature covers) is malformed (RFC 9113 §8.3.1). HTTP/1.1's absolute form, whose
        // authority overrides Host (RFC 9112 §3.2.2), is not such a conflict.
        if parts.version >= axum::http::Version::HTTP_2 {
            let authority = sent_target(parts).authority().map(|a| a.as_str());
            let host = parts.headers.get(header::HOST).map(|v| v.to_str());
            if let (Some(authority), Some(host)) = (authority, host) {
                if host.map_or(true, |host| host_conflict(authority, host)) {
                    return Err(Refusal::host_conflict());
                }
            }
        }
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.limits.max_body_bytes as u64) {
            return Err(self.body_too_large());
        }
        Ok(x_nonce)
    }

    /// Everything after the body is read that needs no waiting: route and param rules,
    /// credential, and the replay record when the store answers at once.
    /// `head_route`: the route [`Shared::route_from_head`] already looked up and checked.
    fn decide_now(
        &self,
        parts: &Parts,
        x_nonce: Option<&str>,
        body: &[u8],
        head_route: Option<RouteMatch>,
    ) -> Decision {
        let target = sent_target(parts);
        let query = target.query().unwrap_or("");
        let content_type = content_type_of(parts);
        let content_type = content_type.as_deref();
        // RFC 9112 §3.2.2: an absolute-form target's authority (`GET http://host/path`) is
        // the host, and the Host header is then ignored (core's `Incoming::host_header`).
        let incoming = Incoming {
            method: parts.method.as_str(),
            host: target.authority().map(|a| a.as_str()),
            path: target.path(),
            query,
            content_type,
            body,
            x_nonce,
        }
        .host_header(
            parts
                .headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok()),
        );
        // The form body's text, read once (a form that is not UTF-8 gives the style no ottoken).
        let form = incoming.form_text();
        let scheme = scheme_hint(x_nonce, query, form.as_ref().ok().copied().flatten());
        let refused = |r: Refusal| {
            Decision::Done(Outcome {
                scheme,
                client: self.refused_client(&incoming),
                result: Err(r),
            })
        };
        // Verification refuses a form that is not UTF-8 too (malformed_params, core's
        // words); refused here, before the route rules, so that they are not checked against
        // a body they cannot read.
        let form = match form {
            Ok(form) => form,
            Err(e) => return refused(e.into()),
        };
        let route = match (head_route, &self.routes) {
            (Some(route), _) => Some(route),
            (None, Some(table)) => match table.check_request(&incoming, form) {
                Ok(route) => Some(route),
                Err(e) => return refused(e.into()),
            },
            (None, None) => None,
        };
        let now_ms = crate::now_ms();
        // The store may fetch the replay key's slot while the signature is checked.
        let store = &self.store;
        let hint = &mut |key: &ReplayKey| store.prefetch(key);
        let verified = match self
            .verifier
            .verify_with_hint(&incoming, &*self.secrets, now_ms, hint)
        {
            Ok(verified) => verified,
            Err(e) => return refused(e.into()),
        };
        let recorded_here =
            |r: &RecordedIn| self.store.id().is_some_and(|id| r.holds(id, &verified));
        if parts.extensions.get().is_some_and(recorded_here) {
            // An outer layer recorded this very key in this very store for this request.
            return Decision::Done(recorded(scheme, verified, route, Ok(true)));
        }
        let (key, until) = (&verified.replay_key, verified.remember_until_ms);
        match self.store.insert_now(key, until, now_ms) {
            Some(answer) => Decision::Done(recorded(scheme, verified, route, answer)),
            None => Decision::Record(Pending {
                scheme,
                verified,
                route,
                now_ms,
            }),
        }
    }

    /// Awaits the store's record of a verified request's replay key.
    async fn record(&self, p: Pending) -> Outcome {
        let (key, until) = (&p.verified.replay_key, p.verified.remember_until_ms);
        let answer = self.store.insert_if_absent(key, until, p.now_ms).await;
        recorded(p.scheme, p.verified, p.route, answer)
    }
}

/// A request's (first) `Content-Type`, read whatever its bytes (a byte outside visible ASCII
/// as U+FFFD, borrowed when there is none): `application/x-www-form-urlencoded;
/// charset=\xe9` is a form to the app behind (the gateway forwards it as sent), so it must be
/// one here too, its fields signed params and checked against the route rules. Dropped as
/// "no Content-Type", its body would pass as opaque bytes: the rules never saw its fields.
fn content_type_of(parts: &Parts) -> Option<std::borrow::Cow<'_, str>> {
    parts
        .headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()))
}

/// The longest request text (a path, a method) a log line holds: a request target may be
/// 64 KiB, a method as long as the head allows, and a refusal costs a client nothing, so
/// whole ones would let it write that much log per request.
const LOGGED_BYTES: usize = 256;

/// Logs a refused request at `info`, the one line every refusal gets: the client (`-` when
/// unknown), the answer's scheme, method and sent path, the error code and the status sent.
pub(crate) fn log_refusal(parts: &Parts, client: Option<&str>, scheme: Scheme, r: &Refusal) {
    let status = r.status.unwrap_or_else(|| match scheme {
        Scheme::V1 => crate::respond::v1_answer(r.error.code(), "").0,
        Scheme::V2 => r.error.code().http_status(),
    });
    tracing::info!(
        target: "xnonce",
        client = client.unwrap_or("-"),
        scheme = scheme.as_str(),
        method = &*logged(parts.method.as_str()),
        path = &*logged(sent_target(parts).path()),
        outcome = r.error.code().as_str(),
        status,
        "request"
    );
}

/// `text` from a request for a log line: its first [`LOGGED_BYTES`] (at a character
/// boundary), then `…`.
pub(crate) fn logged(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= LOGGED_BYTES {
        return text.into();
    }
    let mut end = LOGGED_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end]).into()
}

/// A refusal decided from the head alone (its style from the `X-Nonce` header or the query's
/// `ottoken`). A header with bytes outside visible ASCII (refused `malformed_header`) is still
/// the credential that chooses the style (PROTOCOL §16: `v2 \xe9…` starts with `v2 `), read
/// with such bytes as U+FFFD, as the Python and Node middlewares read it; dropped as "no
/// header", the query's `ottoken` would choose instead.
fn head_refusal(parts: &Parts, r: Refusal) -> Outcome {
    let x_nonce = parts
        .headers
        .get(&X_NONCE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()));
    Outcome {
        scheme: scheme_hint(
            x_nonce.as_deref(),
            sent_target(parts).query().unwrap_or(""),
            None,
        ),
        client: None,
        result: Err(r),
    }
}

/// The outcome of a verified request once the store has answered: accepted the first time,
/// 409 on a replay, 503 when the store cannot answer.
fn recorded(
    scheme: Scheme,
    verified: Verified,
    route: Option<RouteMatch>,
    answer: Result<bool, xnonce_core::ReplayStoreError>,
) -> Outcome {
    if let Err(e) = &answer {
        // `e.0`: the store's own words, which the refusal does not repeat.
        tracing::error!(target: "xnonce", error = %e.0, "replay store unavailable; refused with 503");
    }
    match xnonce_core::replay::recorded(answer) {
        Ok(()) => Outcome {
            scheme,
            client: None,
            result: Ok((verified, route)),
        },
        Err(e) => Outcome {
            scheme,
            client: Some(verified.client),
            result: Err(e.into()),
        },
    }
}

/// The request target as the client sent it, which is what it signed: inside a router
/// nested with axum's `Router::nest` (or `nest_service`) the request's URI has lost the
/// prefix, and axum keeps the original as [`OriginalUri`](axum::extract::OriginalUri).
pub(crate) fn sent_target(parts: &Parts) -> &axum::http::Uri {
    match parts.extensions.get::<axum::extract::OriginalUri>() {
        Some(original) => &original.0,
        None => &parts.uri,
    }
}

/// Reads a body of at most `limit` bytes (else a [`http_body_util::LengthLimitError`]) into
/// one buffer, copying each frame as it arrives and dropping it. Collecting the frames
/// instead (`BodyExt::collect`) keeps a `Bytes` handle per frame, and behind each one the
/// connection's read buffer it was cut from, until the body ends: a chunked body of 1-byte
/// chunks, within a 1 MiB limit, held about 40 MiB per request that way, before anything
/// about the request was checked. A body that arrives as one frame is kept as it is.
async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, BoxError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let mut body = std::pin::pin!(http_body_util::Limited::new(body, limit));
    let mut first: Option<Bytes> = None;
    let mut joined = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        // Trailers are not part of what was signed.
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        if data.is_empty() {
            continue;
        }
        match first.take() {
            None if joined.is_empty() => first = Some(data),
            earlier => {
                if let Some(earlier) = earlier {
                    joined.extend_from_slice(&earlier);
                }
                joined.extend_from_slice(&data);
            }
        }
    }
    Ok(first.unwrap_or_else(|| joined.freeze()))
}

/// True when the body's error comes from a length limit of some outer layer (its
/// `LengthLimitError` wrapped, by axum, in another error).
fn over_an_outer_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(e), |e| e.source())
        .any(|e| e.is::<http_body_util::LengthLimitError>())
}

/// True when `headers` holds more than one `name` field line.
fn more_than_one(headers: &axum::http::HeaderMap, name: &axum::http::HeaderName) -> bool {
    let mut lines = headers.get_all(name).iter();
    lines.next().is_some() && lines.next().is_some()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use http_body::Body as _;
    use std::collections::HashMap;
    use std::convert::Infallible;
    use tower::{service_fn, ServiceExt};
    use xnonce_core::{
        params, sign, MemoryReplayStore, ParamRule, ReplayStore, ReplayStoreError, Secret,
        SignInput,
    };

    /// The secret of "svc", the client every test here signs for.
    pub(crate) fn svc_secret() -> Secret {
        Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd").unwrap()
    }

    /// "svc" and its secret, as the layer's secret source.
    pub(crate) fn svc_clients(secret: &Secret) -> HashMap<String, Secret> {
        HashMap::from([("svc".to_string(), secret.clone())])
    }

    /// A store that answers only through its future, after yielding to the runtime (as a
    /// networked store does), or not at all (`down`).
    #[derive(Default)]
    struct WaitingStore {
        keys: MemoryReplayStore,
        down: bool,
        /// The keys the layer announced through `prefetch`.
        hinted: std::sync::Mutex<Vec<String>>,
        /// What `id` answers (`None`: an unknown store).
        id: Option<StoreId>,
    }

    impl AsyncReplayStore for WaitingStore {
        fn insert_if_absent<'a>(
            &'a self,
            key: &'a ReplayKey,
            expires_at_ms: u64,
            now_ms: u64,
        ) -> crate::store::StoreFuture<'a, Result<bool, ReplayStoreError>> {
            Box::pin(async move {
                tokio::task::yield_now().await;
                if self.down {
                    return Err(ReplayStoreError("down".into()));
                }
                self.keys.insert_if_absent(key, expires_at_ms, now_ms)
            })
        }

        fn prefetch(&self, key: &ReplayKey) {
            self.hinted.lock().unwrap().push(key.to_string());
        }

        fn id(&self) -> Option<StoreId> {
            self.id
        }
    }

    #[test]
    fn long_request_text_is_cut_in_log_lines() {
        assert_eq!(logged("/a/b"), "/a/b");
        let long = format!("/{}", "c".repeat(10_000));
        assert_eq!(logged(&long), format!("{}…", &long[..LOGGED_BYTES]));
        let wide = format!("/{}", "é".repeat(1_000)); // 2 bytes each: 256 is mid-character
        let cut = logged(&wide);
        assert!(cut.ends_with('…') && cut.len() <= LOGGED_BYTES + '…'.len_utf8());
    }

    /// A signed CONNECT (absolute form, so it has a path to sign) is refused before it is
    /// verified: a 2xx to it would open a tunnel.
    #[tokio::test]
    async fn connect_is_refused() {
        let secret = svc_secret();
        let layer = XNonceLayer::new(svc_clients(&secret));
        let input = SignInput::new(Scheme::V2, "CONNECT", "/a/b", "svc").host("h.test");
        let x_nonce = sign(&input, &secret).unwrap().x_nonce;
        let connect = Request::connect("http://h.test/a/b")
            .header("x-nonce", x_nonce)
            .body(Body::empty())
            .unwrap();
        let (status, body) = send(&layer, connect).await;
        assert_eq!(status, 400, "{body}");
        assert!(body.contains(r#""code":"invalid_method""#), "{body}");
        let lower = Request::builder()
            .method(axum::http::Method::from_bytes(b"connect").unwrap())
            .uri("http://h.test/a/b")
            .header("x-nonce", sign(&input, &secret).unwrap().x_nonce)
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&layer, lower).await.0, 400, "connect in lower case");
    }

    #[tokio::test]
    async fn the_store_is_told_the_replay_key_before_it_records_it() {
        let secret = svc_secret();
        let store = Arc::new(WaitingStore::default());
        let layer = XNonceLayer::new(svc_clients(&secret)).store(store.clone());
        let get = signed_get(&secret);
        let nonce = get().headers()["x-nonce"]
            .to_str()
            .unwrap()
            .split(' ')
            .nth(3)
            .unwrap()
            .to_string();
        assert_eq!(send(&layer, get()).await.0, 200);
        assert_eq!(send(&layer, get()).await.0, 409);
        let key = format!("v2:svc:{nonce}");
        assert_eq!(*store.hinted.lock().unwrap(), [key.clone(), key]);
        // A request refused at its credential announces nothing.
        let unsigned = Request::get("/a/b?x=1")
            .header("host", "h.test")
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&layer, unsigned).await.0, 401);
        assert_eq!(store.hinted.lock().unwrap().len(), 2);
    }

    /// A refusal the route table decides from the head alone (an unknown route; param rules
    /// met by the query alone, the body not being a form) is sent without waiting for the
    /// body, and is the very answer (status, fields, body) an empty body gets. A form's
    /// body is still read: its fields meet the rules, and an `ottoken` in it chooses the
    /// answer's style.
    #[tokio::test]
    async fn route_refusals_that_need_no_body_do_not_wait_for_it() {
        use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
        /// A body that never comes, noting whether it was asked for.
        struct Never(Arc<AtomicBool>);
        impl http_body::Body for Never {
            type Data = Bytes;
            type Error = Infallible;
            fn poll_frame(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
            ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
                self.0.store(true, SeqCst);
                Poll::Pending
            }
        }
        let secret = svc_secret();
        let routes = RouteTable::new().route("a", "b", "POST", &[("x", ParamRule::Required)]);
        let layer = XNonceLayer::new(svc_clients(&secret))
            .routes(routes)
            .limits(Limits {
                body_timeout: std::time::Duration::from_millis(200),
                ..Limits::default()
            });
        let x_nonce = |path: &str| {
            let input = SignInput::new(Scheme::V2, "POST", path, "svc")
                .host("h.test")
                .body(b"{}".to_vec());
            sign(&input, &secret).unwrap().x_nonce
        };
        let request = |target: &str, content_type: &str, body: Body| {
            let path = target.split('?').next().unwrap();
            Request::post(target)
                .header("host", "h.test")
                .header("content-type", content_type)
                .header("x-nonce", x_nonce(path))
                .body(body)
                .unwrap()
        };
        let answer = |req: Request<Body>| async {
            let res = layer
                .layer(service_fn(client_and_body))
                .oneshot(req)
                .await
                .unwrap();
            let (parts, body) = res.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            (parts.status, format!("{:?}", parts.headers), body)
        };
        for (target, status) in [("/a/c", 404), ("/a/b?y=1", 422)] {
            let polled = Arc::new(AtomicBool::new(false));
            let never = Body::new(Never(polled.clone()));
            let early = answer(request(target, "application/json", never)).await;
            assert_eq!(early.0, status, "{target}: {early:?}");
            assert!(!polled.load(SeqCst), "{target}: the body was read");
            let empty = answer(request(target, "application/json", Body::empty())).await;
            assert_eq!(early, empty, "{target}");
        }
        // A form's fields are params: its body is waited for (here until the body timeout).
        let polled = Arc::new(AtomicBool::new(false));
        let never = Body::new(Never(polled.clone()));
        let form = "application/x-www-form-urlencoded";
        let (status, _, _) = answer(request("/a/c", form, never)).await;
        assert_eq!(status, 408);
        assert!(polled.load(SeqCst));
    }

    /// An inner service that is never ready (a full queue, a concurrency limit): the layers
    /// in front of it must not be ready either (tower's back-pressure).
    #[derive(Clone)]
    pub(crate) struct Busy;

    impl tower::Service<Request<Body>> for Busy {
        type Response = Response<Body>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response<Body>, Infallible>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Pending
        }
        fn call(&mut self, _: Request<Body>) -> Self::Future {
            unreachable!("called before it was ready")
        }
    }

    #[test]
    fn the_layer_is_ready_when_its_inner_service_is_and_prints_no_secret() {
        let secret = svc_secret();
        let layer = XNonceLayer::new(svc_clients(&secret));
        let debug = format!("{layer:?}");
        assert!(debug.starts_with("XNonceLayer {"), "{debug}");
        assert!(debug.contains("max_body_bytes"), "{debug}");
        assert!(!debug.contains(secret.expose()), "{debug}");

        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut busy = layer.layer(Busy);
        assert!(tower::Service::<Request<Body>>::poll_ready(&mut busy, &mut cx).is_pending());
        let mut ready = layer.layer(tower::service_fn(|_: Request<Body>| async {
            Ok::<_, Infallible>(Response::new(Body::empty()))
        }));
        assert!(tower::Service::<Request<Body>>::poll_ready(&mut ready, &mut cx).is_ready());
    }

    /// Status and body of `req` through `layer` in front of `client_and_body`.
    async fn send(layer: &XNonceLayer, req: Request<Body>) -> (u16, String) {
        let res = layer
            .layer(service_fn(client_and_body))
            .oneshot(req)
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    fn signed_get(secret: &Secret) -> impl Fn() -> Request<Body> {
        let input = SignInput::new(Scheme::V2, "GET", "/a/b", "svc")
            .param("x", "1")
            .host("h.test");
        let x_nonce = sign(&input, secret).unwrap().x_nonce;
        move || {
            Request::get("/a/b?x=1")
                .header("host", "h.test")
                .header("x-nonce", x_nonce.as_str())
                .body(Body::empty())
                .unwrap()
        }
    }

    fn signed_post(secret: &Secret) -> impl Fn() -> Request<Body> {
        let body = br#"{"k":1}"#;
        let input = SignInput::new(Scheme::V2, "POST", "/a/b", "svc")
            .host("h.test")
            .body(body.to_vec());
        let x_nonce = sign(&input, secret).unwrap().x_nonce;
        move || {
            Request::post("/a/b")
                .header("host", "h.test")
                .header("content-type", "application/json")
                .header("x-nonce", x_nonce.as_str())
                .body(Body::from(&body[..]))
                .unwrap()
        }
    }

    #[tokio::test]
    async fn bodiless_and_bodied_requests_are_admitted_once_by_either_kind_of_store() {
        let secret = svc_secret();
        let clients = svc_clients(&secret);
        type WithStore = fn(XNonceLayer) -> XNonceLayer;
        let stores: [(&str, WithStore); 3] = [
            ("the default memory store", |layer| layer),
            ("a core store in a SyncStore", |layer| {
                layer.store(crate::SyncStore(MemoryReplayStore::new()))
            }),
            ("a store that answers later", |layer| {
                layer.store(WaitingStore::default())
            }),
        ];
        for (store, with_store) in stores {
            let layer = with_store(XNonceLayer::new(clients.clone()));
            let (get, post) = (signed_get(&secret), signed_post(&secret));
            assert!(get().body().is_end_stream() && !post().body().is_end_stream());
            assert_eq!(send(&layer, get()).await, (200, "svc:0".into()), "{store}");
            assert_eq!(send(&layer, get()).await.0, 409, "{store}");
            assert_eq!(send(&layer, post()).await, (200, "svc:7".into()), "{store}");
            assert_eq!(send(&layer, post()).await.0, 409, "{store}");
            // Refused before the store is asked: a tampered query, an unsigned request.
            let mut tampered = get();
            *tampered.uri_mut() = "/a/b?x=2".parse().unwrap();
            assert_eq!(send(&layer, tampered).await.0, 401, "{store}");
            let unsigned = Request::get("/a/b").body(Body::empty()).unwrap();
            assert_eq!(send(&layer, unsigned).await.0, 401, "{store}");
        }
        let down = XNonceLayer::new(clients).store(WaitingStore {
            down: true,
            ..WaitingStore::default()
        });
        for req in [signed_get(&secret)(), signed_post(&secret)()] {
            let (status, body) = send(&down, req).await;
            assert_eq!(status, 503);
            assert!(body.contains("store_unavailable"), "{body}");
        }
    }

    /// Two layers on one request (one on the app, one on a nested router). The inner one
    /// verifies the request again, but does not record a key the outer one recorded in the
    /// same store (its `id`), which would refuse the request as its own replay; a replay is
    /// refused. Layers on different stores each record.
    #[tokio::test]
    async fn a_second_layer_on_the_same_store_does_not_refuse_the_request_as_its_replay() {
        let secret = svc_secret();
        let layer = || XNonceLayer::new(svc_clients(&secret));
        let memory = MemoryStore::new();
        let waiting = Arc::new(WaitingStore {
            id: Some(StoreId::new()),
            ..WaitingStore::default()
        });
        let pairs = [
            (
                "one memory store",
                layer().store(memory.clone()),
                layer().store(memory),
            ),
            ("a store each", layer(), layer()),
            (
                "one store that answers later",
                layer().store(waiting.clone()),
                layer().store(waiting),
            ),
        ];
        for (stores, outer, inner) in pairs {
            let app = outer.layer(inner.layer(service_fn(client_and_body)));
            let (get, post) = (signed_get(&secret), signed_post(&secret));
            for req in [&get as &dyn Fn() -> Request<Body>, &post] {
                let res = app.clone().oneshot(req()).await.unwrap();
                assert_eq!(res.status(), 200, "{stores}: first");
                let res = app.clone().oneshot(req()).await.unwrap();
                assert_eq!(res.status(), 409, "{stores}: replay");
            }
        }
    }

    /// Every layer records a request in its own store unless that very store holds it for
    /// this request. Two instances, each with its own store on the app and one shared store
    /// on a nested router: a request accepted by the first and replayed to the second is
    /// new to the second's own store but not to the shared one, so it is refused.
    #[tokio::test]
    async fn a_replay_to_another_instance_meets_the_store_they_share() {
        let secret = svc_secret();
        let shared = MemoryStore::new();
        let instance = || {
            let inner = XNonceLayer::new(svc_clients(&secret)).store(shared.clone());
            XNonceLayer::new(svc_clients(&secret)).layer(inner.layer(service_fn(client_and_body)))
        };
        let (first, second) = (instance(), instance());
        let get = signed_get(&secret);
        assert_eq!(first.oneshot(get()).await.unwrap().status(), 200);
        assert_eq!(shared.len(), 1);
        assert_eq!(second.oneshot(get()).await.unwrap().status(), 409);
    }

    /// A store whose records cannot be told apart from another's (`id` is `None`: a core
    /// store in a `SyncStore`) is recorded in by every layer, so two layers on it refuse
    /// the request as its own replay rather than guess.
    #[tokio::test]
    async fn layers_on_a_store_without_an_id_each_record() {
        let secret = svc_secret();
        let shared = Arc::new(crate::SyncStore(MemoryReplayStore::new()));
        let outer = XNonceLayer::new(svc_clients(&secret)).store(shared.clone());
        let inner = XNonceLayer::new(svc_clients(&secret)).store(shared);
        let app = outer.layer(inner.layer(service_fn(client_and_body)));
        let res = app.oneshot(signed_get(&secret)()).await.unwrap();
        assert_eq!(res.status(), 409);
    }

    /// The records of three layers: each (store, key) pair is held until its time, no other
    /// pair is, and a pair already noted is not noted twice.
    #[test]
    fn recorded_in_holds_each_layers_store_and_key_until_its_time() {
        let (a, b, c) = (StoreId::new(), StoreId::new(), StoreId::new());
        let verified = |key: &str, until_ms| Verified {
            scheme: Scheme::V2,
            client: "svc".into(),
            timestamp_ms: 1_000,
            params: vec![],
            replay_key: ReplayKey::new(key),
            remember_until_ms: until_ms,
            secret_index: 0,
            via_ottoken: false,
        };
        let (k1, k2) = (verified("v2:svc:1", 31_000), verified("v2:svc:2", 31_000));
        let mut ext = axum::http::Extensions::new();
        RecordedIn::note(&mut ext, a, &k1);
        RecordedIn::note(&mut ext, b, &k1);
        RecordedIn::note(&mut ext, a, &k1);
        RecordedIn::note(&mut ext, c, &k2);
        let r = ext.get::<RecordedIn>().unwrap();
        assert!(r.holds(a, &k1) && r.holds(b, &k1) && r.holds(c, &k2));
        assert!(!r.holds(a, &k2) && !r.holds(b, &k2) && !r.holds(c, &k1));
        // Kept by `a` until 31 s: enough for a layer keeping it until then or sooner, not
        // for one that would keep it longer.
        assert!(r.holds(a, &verified("v2:svc:1", 11_000)));
        assert!(!r.holds(a, &verified("v2:svc:1", 31_001)));
        let depth = std::iter::successors(Some(r), |r| r.earlier.as_deref()).count();
        assert_eq!(depth, 3);
    }

    /// An inner layer with a longer window than the outer one on the same store records the
    /// key itself (and so refuses the request as its replay): the store keeps the key only
    /// until the outer one's time, after which an instance without the outer layer would
    /// accept a copy. With the longer window outside, the inner one skips.
    #[tokio::test]
    async fn an_inner_layer_keeping_a_key_longer_on_the_same_store_records_it() {
        let secret = svc_secret();
        let windowed = |ms| {
            let verifier = Verifier::new()
                .windows(xnonce_core::WindowPolicy::new(ms))
                .unwrap();
            XNonceLayer::new(svc_clients(&secret)).verifier(verifier)
        };
        for (outer_ms, inner_ms, want) in [(1_000, 60_000, 409), (60_000, 1_000, 200)] {
            let shared = MemoryStore::new();
            let outer = windowed(outer_ms).store(shared.clone());
            let inner = windowed(inner_ms).store(shared);
            let app = outer.layer(inner.layer(service_fn(client_and_body)));
            let res = app.oneshot(signed_get(&secret)()).await.unwrap();
            assert_eq!(
                res.status(),
                want,
                "outer {outer_ms} ms, inner {inner_ms} ms"
            );
        }
    }

    /// A handler answering `<verified client>:<body length>`.
    async fn client_and_body(req: Request<Body>) -> Result<Response<Body>, Infallible> {
        let client = req.extensions().get::<Verified>().map(|v| v.client.clone());
        let body = req.into_body().collect().await.unwrap().to_bytes();
        let text = format!("{}:{}", client.unwrap_or_default(), body.len());
        Ok(Response::new(Body::from(text)))
    }

    /// Inside `Router::nest("/a", …)` the inner router sees `/b`; the client signed `/a/b`,
    /// and that is what the layer verifies (and matches its routes against).
    #[tokio::test]
    async fn inside_a_nested_router_the_sent_path_is_verified() {
        let secret = svc_secret();
        let layer = XNonceLayer::new(svc_clients(&secret)).routes(RouteTable::new().route(
            "a",
            "b",
            "GET",
            &[("x", ParamRule::Required)],
        ));
        let inner = axum::Router::new()
            .route("/b", axum::routing::get(|| async { "ok" }))
            .layer(layer);
        let app = axum::Router::new().nest("/a", inner);
        let request = signed_get(&secret);
        let answer = |req: Request<Body>| async {
            let res = app.clone().oneshot(req).await.unwrap();
            let status = res.status().as_u16();
            let body = res.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8(body.to_vec()).unwrap())
        };
        assert_eq!(answer(request()).await, (200, "ok".to_string()));
        assert_eq!(answer(request()).await.0, 409, "replayed");
        // Signed for the path the nested router sees: not what was sent.
        let input = SignInput::new(Scheme::V2, "GET", "/b", "svc")
            .param("x", "1")
            .host("h.test");
        let x_nonce = sign(&input, &secret).unwrap().x_nonce;
        let inner_path = Request::get("/a/b?x=1")
            .header("host", "h.test")
            .header("x-nonce", x_nonce)
            .body(Body::empty())
            .unwrap();
        let (status, body) = answer(inner_path).await;
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("signature_mismatch"), "{body}");
    }

    /// HTTP/2: the signature covers `:authority` (the URI's authority); a `Host` field
    /// naming another host is a 400, one naming the same host (any case, default port) is
    /// not. HTTP/1.1's absolute form, whose authority overrides `Host`, is no conflict.
    #[tokio::test]
    async fn over_http2_a_host_field_other_than_the_authority_is_refused() {
        let secret = svc_secret();
        let layer = XNonceLayer::new(svc_clients(&secret));
        let input = SignInput::new(Scheme::V2, "GET", "/a/b", "svc")
            .param("x", "1")
            .host("h.test");
        let request = |version, host: &str| {
            let x_nonce = sign(&input, &secret).unwrap().x_nonce;
            Request::get("http://h.test/a/b?x=1")
                .version(version)
                .header("host", host)
                .header("x-nonce", x_nonce)
                .body(Body::empty())
                .unwrap()
        };
        use axum::http::Version;
        let (status, body) = send(&layer, request(Version::HTTP_2, "other.test")).await;
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("invalid_host"), "{body}");
        assert_eq!(
            send(&layer, request(Version::HTTP_2, "H.test:443")).await.0,
            200
        );
        assert_eq!(
            send(&layer, request(Version::HTTP_11, "other.test"))
                .await
                .0,
            200
        );
    }

    /// A form whose Content-Type holds a byte outside visible ASCII (in a parameter) is a
    /// form all the same, as the app behind reads it: its fields meet the route rules and
    /// the signature as params, not as an opaque body.
    #[tokio::test]
    async fn a_form_content_type_with_other_bytes_is_still_a_form() {
        let secret = svc_secret();
        let routes =
            RouteTable::new().route("a", "b", "POST", &[("password", ParamRule::Excluded)]);
        let layer = XNonceLayer::new(svc_clients(&secret)).routes(routes);
        let form_type =
            axum::http::HeaderValue::from_bytes(b"application/x-www-form-urlencoded; charset=\xe9")
                .unwrap();
        let post = |input: SignInput, body: &'static str| {
            let x_nonce = sign(&input.host("h.test"), &secret).unwrap().x_nonce;
            Request::post("/a/b")
                .header("host", "h.test")
                .header("content-type", form_type.clone())
                .header("x-nonce", x_nonce)
                .body(Body::from(body))
                .unwrap()
        };
        let base = || SignInput::new(Scheme::V2, "POST", "/a/b", "svc");
        // Signed as an opaque body: its field is the excluded param all the same.
        let opaque = post(base().body(b"password=x".to_vec()), "password=x");
        let (status, body) = send(&layer, opaque).await;
        assert_eq!(status, 422, "{body}");
        assert!(body.contains("excluded_param"), "{body}");
        // Signed as a form: accepted, its field a verified param.
        let form = post(base().param("opt", "y"), "opt=y");
        assert_eq!(send(&layer, form).await, (200, "svc:5".to_string()));
    }

    /// A body of many small frames (a chunked body of 1-byte chunks, each frame a slice of
    /// the connection's read buffer) is read holding no frame beyond the one being copied:
    /// memory bounded by the body's length, not by its number of chunks times the buffers
    /// behind them.
    #[tokio::test]
    async fn a_body_of_many_small_frames_holds_no_frame_while_it_is_read() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        /// A frame's storage, counted while alive (as hyper's read buffer behind a chunk).
        struct Counted(Arc<AtomicUsize>, [u8; 1]);
        impl AsRef<[u8]> for Counted {
            fn as_ref(&self) -> &[u8] {
                &self.1
            }
        }
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.fetch_sub(1, SeqCst);
            }
        }
        /// `left` 1-byte frames of `b'a'`, noting the most frames alive at once.
        struct Trickle {
            left: usize,
            alive: Arc<AtomicUsize>,
            most: Arc<AtomicUsize>,
        }
        impl http_body::Body for Trickle {
            type Data = Bytes;
            type Error = Infallible;
            fn poll_frame(
                mut self: Pin<&mut Self>,
                _: &mut Context<'_>,
            ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
                if self.left == 0 {
                    return Poll::Ready(None);
                }
                self.left -= 1;
                let alive = self.alive.fetch_add(1, SeqCst) + 1;
                self.most.fetch_max(alive, SeqCst);
                let frame = Bytes::from_owner(Counted(self.alive.clone(), [b'a']));
                Poll::Ready(Some(Ok(http_body::Frame::data(frame))))
            }
        }
        let secret = svc_secret();
        let n = 10_000;
        let input = SignInput::new(Scheme::V2, "POST", "/a/b", "svc")
            .host("h.test")
            .body(vec![b'a'; n]);
        let x_nonce = sign(&input, &secret).unwrap().x_nonce;
        let (alive, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let body = Trickle {
            left: n,
            alive: alive.clone(),
            most: most.clone(),
        };
        let req = Request::post("/a/b")
            .header("host", "h.test")
            .header("content-type", "application/octet-stream")
            .header("x-nonce", x_nonce)
            .body(Body::new(body))
            .unwrap();
        let (status, body) = send(&XNonceLayer::new(svc_clients(&secret)), req).await;
        assert_eq!((status, body), (200, format!("svc:{n}")));
        assert!(
            most.load(SeqCst) <= 2,
            "{} frames alive at once",
            most.load(SeqCst)
        );
        assert_eq!(alive.load(SeqCst), 0);
    }

    /// A body cut short by an outer length limit (tower-http's `RequestBodyLimitLayer`: its
    /// error reaches the layer wrapped by axum) is a 413, not an unreadable body's 400.
    #[tokio::test]
    async fn an_outer_body_limit_is_a_413() {
        let limited = http_body_util::Limited::new(Body::from("0123456789"), 4);
        let req = Request::post("/a/b")
            .header("host", "h.test")
            .header("content-type", "text/plain")
            .body(Body::new(limited))
            .unwrap();
        let (status, body) = send(&XNonceLayer::new(svc_clients(&svc_secret())), req).await;
        assert_eq!(status, 413, "{body}");
        assert!(body.contains("request body too large"), "{body}");
    }

    #[tokio::test]
    async fn size_limits_admit_exactly_the_limit() {
        let secret = svc_secret();
        let clients = svc_clients(&secret);
        let post = signed_post(&secret);
        // The head as sent: `name: value\r\n` per field line.
        let mut head = Vec::new();
        for (name, value) in post().headers() {
            head.extend_from_slice(format!("{name}: ").as_bytes());
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        let body_len = br#"{"k":1}"#.len();
        let with_limits = |max_header_bytes, max_body_bytes| {
            XNonceLayer::new(clients.clone()).limits(Limits {
                max_header_bytes,
                max_body_bytes,
                ..Limits::default()
            })
        };
        let exact = with_limits(head.len(), body_len);
        assert_eq!(send(&exact, post()).await.0, 200);
        let (status, body) = send(&with_limits(head.len() - 1, body_len), post()).await;
        assert_eq!(status, 431, "{body}");
        assert_eq!(
            send(&with_limits(head.len(), body_len - 1), post()).await.0,
            413
        );
        // A declared length (checked before the body is read) of exactly the limit is admitted.
        let mut declared = post();
        declared
            .headers_mut()
            .insert(header::CONTENT_LENGTH, body_len.into());
        let layer = with_limits(head.len() + "content-length: 7\r\n".len(), body_len);
        assert_eq!(send(&layer, declared).await.0, 200);
        let mut declared = post();
        declared
            .headers_mut()
            .insert(header::CONTENT_LENGTH, (body_len + 1).into());
        let layer = with_limits(head.len() + "content-length: 8\r\n".len(), body_len);
        assert_eq!(
            send(&layer, declared).await.0,
            413,
            "refused before reading"
        );
    }

    /// An `X-Nonce` with a byte outside visible ASCII is refused `malformed_header` in the
    /// style its text chooses (PROTOCOL §16), not the query's `ottoken`: `v2 …\xe9` is a v2
    /// problem document (400), `eyJ…\xe9` em-secure-api's text (401) even next to a v2
    /// ottoken.
    #[tokio::test]
    async fn an_x_nonce_with_other_bytes_is_refused_in_the_style_it_names() {
        let layer = XNonceLayer::new(svc_clients(&svc_secret()));
        let request = |target: &str, x_nonce: &[u8]| {
            Request::get(target)
                .header("host", "h.test")
                .header(
                    "x-nonce",
                    axum::http::HeaderValue::from_bytes(x_nonce).unwrap(),
                )
                .body(Body::empty())
                .unwrap()
        };
        let (status, body) = send(&layer, request("/a/b", b"v2 svc \xe9")).await;
        assert_eq!(status, 400, "{body}");
        assert!(body.contains(r#""code":"malformed_header""#), "{body}");
        let v2_ottoken = "/a/b?ottoken=djIgc3Zj";
        let (status, body) = send(&layer, request(v2_ottoken, b"eyJ\xe9")).await;
        assert_eq!(
            (status, body.as_str()),
            (401, "Incorrect parameters in validate_ottoken")
        );
    }

    #[tokio::test]
    async fn repeated_field_names_other_than_host_and_content_type_are_admitted() {
        let secret = svc_secret();
        let layer = XNonceLayer::new(svc_clients(&secret));
        let get = signed_get(&secret);
        let mut req = get();
        for value in ["text/plain", "application/json"] {
            req.headers_mut()
                .append(header::ACCEPT, value.parse().unwrap());
        }
        assert_eq!(send(&layer, req).await.0, 200, "two Accept lines");
        let mut req = get();
        req.headers_mut()
            .append(header::HOST, "h.test".parse().unwrap());
        let (status, body) = send(&layer, req).await;
        assert_eq!(status, 400, "two Host lines: {body}");
        // Two Content-Type lines: which one the app behind reads is its stack's choice.
        for second in ["text/plain", "application/x-www-form-urlencoded"] {
            let mut req = get();
            for value in ["application/x-www-form-urlencoded", second] {
                req.headers_mut()
                    .append(header::CONTENT_TYPE, value.parse().unwrap());
            }
            let (status, body) = send(&layer, req).await;
            assert_eq!(status, 400, "two Content-Type lines: {body}");
            assert!(body.contains("more than one Content-Type"), "{body}");
        }
    }

    #[test]
    fn the_header_name_is_cores() {
        assert_eq!(
            X_NONCE.as_str(),
            xnonce_core::header::NAME.to_ascii_lowercase()
        );
    }

    #[test]
    fn rules_are_checked_on_names_as_core_does() {
        let table = crate::demo::routes();
        let route = table.lookup("GET", "/controller1/action3").unwrap();
        let check = |s, q| route.check_sent(s, q, None);
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
            let parsed = params::from_query_and_form(s, q, None, true).unwrap();
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
