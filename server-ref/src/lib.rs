#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod connections;
pub mod demo;
pub mod journal;
pub mod layer;
pub mod rate_limit;
pub mod redis_store;
pub mod registry;
pub mod respond;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use xnonce_core::{RouteMatch, Verified};

pub use config::{Config, ReplayConfig};
pub use connections::ConnectionLimits;
pub use journal::JournalStore;
pub use layer::{scheme_hint, Limits, XNonceLayer, XNonceService};
pub use rate_limit::RateLimitLayer;
pub use redis_store::RedisStore;
pub use registry::Registry;
pub use store::{AsyncReplayStore, MemoryStore, SyncStore};

/// The unverified health route (the throughput benchmark's baseline).
pub const HEALTH_PATH: &str = "/_xnonce/health";

/// Milliseconds since the Unix epoch from the system clock.
///
/// ```
/// assert!(xnonce_server::now_ms() > 1_700_000_000_000);
/// ```
pub fn now_ms() -> u64 {
    use xnonce_core::Environment;
    xnonce_core::SystemEnvironment.now_ms()
}

/// The reference handler behind the layer: a JSON echo of what was verified,
/// `{"client", "scheme", "controller", "action", "method", "params": {k: v}}`
/// (a repeated v2 param keeps its last value).
pub async fn echo(
    Extension(verified): Extension<Verified>,
    route: Option<Extension<RouteMatch>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> Response {
    let (controller, action) = match route {
        Some(Extension(r)) => (r.controller.to_string(), r.action.to_string()),
        None => xnonce_core::routes::split_path(uri.path()),
    };
    let mut params = serde_json::Map::new();
    for (k, v) in &verified.params {
        params.insert(k.clone(), v.clone().into());
    }
    let doc = serde_json::json!({
        "client": verified.client,
        "scheme": verified.scheme.as_str(),
        "controller": controller,
        "action": action,
        "method": method.as_str().to_ascii_lowercase(),
        "params": params,
    });
    let mut res = (StatusCode::OK, doc.to_string()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// The reference app: [`HEALTH_PATH`] unverified, everything else through `layer` to
/// [`echo`] (with a route table in the layer, only configured routes get that far).
///
/// ```
/// use std::collections::HashMap;
/// use axum::{body::Body, http::Request};
/// use tower::ServiceExt; // oneshot: a request through the app without a socket
/// use xnonce_core::{sign, Scheme, Secret, SignInput};
/// use xnonce_server::{app, XNonceLayer, HEALTH_PATH};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
/// let router = app(XNonceLayer::new(HashMap::from([("svc".to_string(), secret.clone())])));
/// let health = Request::get(HEALTH_PATH).body(Body::empty())?;
/// assert_eq!(router.clone().oneshot(health).await?.status(), 200);
///
/// let input = SignInput::new(Scheme::V2, "GET", "/reports/daily", "svc").host("api.test");
/// let x_nonce = sign(&input.param("day", "mon"), &secret)?.x_nonce;
/// let req = Request::get("/reports/daily?day=mon")
///     .header("host", "api.test")
///     .header("x-nonce", x_nonce)
///     .body(Body::empty())?;
/// let res = router.oneshot(req).await?;
/// assert_eq!(res.status(), 200);
/// let echo: serde_json::Value = serde_json::from_slice(&axum::body::to_bytes(res.into_body(), 1 << 16).await?)?;
/// assert_eq!(echo["client"], "svc");
/// assert_eq!((&echo["controller"], &echo["action"], &echo["params"]["day"]), (&"reports".into(), &"daily".into(), &"mon".into()));
/// # Ok(()) }
/// ```
pub fn app(layer: XNonceLayer) -> Router {
    app_with_rate_limit(layer, None)
}

/// [`app`] with an optional per-client [`RateLimitLayer`] inside the verification layer (so
/// only verified requests reach a bucket).
pub fn app_with_rate_limit(layer: XNonceLayer, rate_limit: Option<RateLimitLayer>) -> Router {
    verified_app(Router::new().fallback(echo), layer, rate_limit)
}

/// The `--demo` app: [`HEALTH_PATH`] unverified, everything else through `layer` (built with
/// [`demo::routes`]) and the optional rate limit to [`demo::handle`], em-secure-api's test
/// implementation.
pub fn demo_app(layer: XNonceLayer, rate_limit: Option<RateLimitLayer>) -> Router {
    verified_app(Router::new().fallback(demo::handle), layer, rate_limit)
}

/// [`HEALTH_PATH`] unverified; everything else through `layer`, then the rate limit (so only
/// verified requests reach a bucket), to `handler`.
fn verified_app(handler: Router, layer: XNonceLayer, rate_limit: Option<RateLimitLayer>) -> Router {
    let handler = match rate_limit {
        Some(limit) => handler.layer(limit),
        None => handler,
    };
    Router::new()
        .route(HEALTH_PATH, get(|| async { "ok" }))
        .fallback_service(handler.layer(layer))
}

/// The app a config asks for: [`demo_app`] when `config.demo`, else [`app`]; with
/// `config.bench_mirror`, also [`demo::BENCH_MIRROR_PREFIX`] serving the demo handlers
/// without the layer (benchmarks only).
///
/// What [`Server::bind`] serves, for an app of your own to listen with:
///
/// ```
/// use std::sync::Arc;
/// use xnonce_server::{app_for, layer_for, Config, MemoryStore, Registry};
/// let base = std::env::temp_dir().join(format!("xnonce-doc-app-for-{}", std::process::id()));
/// let registry = Registry::open_with_key_file(base.join("data"), Some(base.join("keys").join("registry.key")));
/// let config = Config::demo(); // em-secure-api's demo routes and handlers
/// let router: axum::Router = app_for(&config, layer_for(&config, Arc::new(registry), MemoryStore::new()));
/// // serve it: xnonce_server::connections::serve(listener, router, config.connections, shutdown)
/// ```
pub fn app_for(config: &Config, layer: XNonceLayer) -> Router {
    let rate_limit = config.rate_limit.clone().map(RateLimitLayer::new);
    let router = if config.demo {
        demo_app(layer, rate_limit)
    } else {
        app_with_rate_limit(layer, rate_limit)
    };
    if config.bench_mirror {
        router.nest(demo::BENCH_MIRROR_PREFIX, demo::mirror_router())
    } else {
        router
    }
}

/// Builds the reference server's layer from a config, a registry and a replay store (example:
/// [`app_for`]).
pub fn layer_for(
    config: &Config,
    registry: Arc<Registry>,
    store: impl AsyncReplayStore,
) -> XNonceLayer {
    let mut layer = XNonceLayer::new(SharedRegistry(registry))
        .verifier(config.verifier.clone())
        .limits(config.limits)
        .store(store);
    if let Some(routes) = &config.routes {
        layer = layer.routes(routes.clone());
    }
    layer
}

/// An `Arc<Registry>` as a secret source.
#[derive(Debug, Clone)]
pub struct SharedRegistry(pub Arc<Registry>);

impl xnonce_core::SecretSource for SharedRegistry {
    fn secrets(&self, client: &str) -> Vec<xnonce_core::Secret> {
        self.0.secrets(client)
    }

    fn with_secrets(&self, client: &str, f: &mut dyn FnMut(&[xnonce_core::Secret])) {
        self.0.with_secrets(client, f)
    }

    fn refresh(&self) -> bool {
        self.0.refresh()
    }
}

/// A server bound to its address, ready to run: what `xnonce-server serve` does.
///
/// ```
/// use xnonce::{RequestOptions, Requester};
/// use xnonce_server::{Config, Registry, Server};
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let base = std::env::temp_dir().join(format!("xnonce-doc-server-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&base);
/// let (data_dir, key_file) = (base.join("data"), base.join("keys").join("registry.key"));
/// let mut config = Config::parse(r#"listen = "127.0.0.1:0""#)?; // any free port
/// config.key_file = Some(key_file.clone());
/// let secret = Registry::open_with_key_file(&data_dir, Some(key_file)).add("svc")?;
///
/// let server = Server::bind(&config, data_dir).await?;
/// let url = format!("http://{}", server.local_addr()?);
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let running = tokio::spawn(server.run(async { stopped.await.ok(); })); // or shutdown_signal()
///
/// let api = Requester::builder(url, "svc", secret).build()?;
/// let params = vec![("day".to_string(), "mon".to_string())];
/// let res = api.make_request("GET", params, "/reports/daily", None, RequestOptions::default()).await?;
/// assert_eq!((res.code, res.data.unwrap()["client"].as_str()), (200, Some("svc"))); // the echo
///
/// stop.send(()).ok();
/// running.await??; // in-flight requests answered, the replay journal written
/// # std::fs::remove_dir_all(&base)?;
/// # Ok(()) }
/// ```
pub struct Server {
    listener: tokio::net::TcpListener,
    router: Router,
    evictor: Evictor,
    connections: ConnectionLimits,
}

enum Evictor {
    Memory(MemoryStore),
    Journal(JournalStore),
    None,
}

impl Server {
    /// Binds `config.listen` and prepares the app over the registry in `data_dir` (with the
    /// key file of `config.key_file`, created if needed; refused if unsafe or wrong) and the
    /// replay store of `config.replay` (the memory store's journal also lives in `data_dir`,
    /// locked: one such server per data dir). An existing data dir open to group or others is
    /// made `0700` when it is ours ([`registry::secure_dir`]; logged).
    ///
    /// Errors say what failed and name it (the registry, the journal and its path, Redis's
    /// refusal, `cannot listen on ADDR: …`). A Redis store is tried once: a Redis that answers
    /// and refuses (wrong password, bad DB index) is an error; an unreachable one is logged
    /// and the server starts (its requests get 503 until Redis answers).
    pub async fn bind(config: &Config, data_dir: std::path::PathBuf) -> std::io::Result<Server> {
        let registry = Arc::new(Registry::open_with_key_file(
            &data_dir,
            config.key_file.clone(),
        ));
        registry
            .check(true)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
        registry::log_secure_dir(&data_dir, &registry::secure_dir(&data_dir));
        let (router, evictor) = match &config.replay {
            ReplayConfig::Memory { persist: false } => {
                let store = MemoryStore::new();
                let router = app_for(config, layer_for(config, registry, store.clone()));
                (router, Evictor::Memory(store))
            }
            ReplayConfig::Memory { persist: true } => {
                let store = JournalStore::open(&data_dir, now_ms())?;
                let router = app_for(config, layer_for(config, registry, store.clone()));
                (router, Evictor::Journal(store))
            }
            ReplayConfig::Redis {
                url,
                key_prefix,
                timeout_ms,
            } => {
                let store = RedisStore::new(url, key_prefix)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?
                    .timeout(Duration::from_millis(*timeout_ms));
                match store.check().await {
                    Ok(()) => {}
                    Err(e @ redis_store::CheckError::Refused(_)) => {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::PermissionDenied,
                            format!(
                                "replay store: {e}; check replay.redis_url (password, user, DB \
                                 index)"
                            ),
                        ))
                    }
                    Err(e) => tracing::warn!(
                        target: "xnonce",
                        error = %e,
                        "replay store unreachable at start; requests get 503 \
                         store_unavailable until it answers"
                    ),
                }
                (
                    app_for(config, layer_for(config, registry, store)),
                    Evictor::None,
                )
            }
        };
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot listen on {}: {e}", config.listen))
            })?;
        Ok(Server {
            listener,
            router,
            evictor,
            connections: config.connections,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests (at most 10 s),
    /// with the config's [`ConnectionLimits`].
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let tasks = match &self.evictor {
            Evictor::Memory(s) => vec![s.spawn_evictor(Duration::from_secs(5))],
            Evictor::Journal(s) => vec![
                s.spawn_evictor(Duration::from_secs(5)),
                s.spawn_flusher(journal::FLUSH_INTERVAL),
            ],
            Evictor::None => Vec::new(),
        };
        connections::serve(self.listener, self.router, self.connections, shutdown).await;
        for t in tasks {
            t.abort();
        }
        if let Evictor::Journal(s) = &self.evictor {
            // Every request has been answered: write the last buffered journal lines.
            if let Err(e) = s.flush() {
                tracing::error!(target: "xnonce", error = %e, "cannot write the replay journal at shutdown");
            }
        }
        Ok(())
    }
}

/// Completes on SIGINT or SIGTERM.
///
/// The handlers are installed when this is called, not when the future is first polled: a
/// server that calls it before announcing that it listens stops gracefully (in-flight
/// requests answered, the replay journal written) on a signal sent at any moment after the
/// announcement. Until then a signal has its default action. Call it inside the runtime.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{signal, Signal, SignalKind};
    let term = signal(SignalKind::terminate()).ok();
    let interrupt = signal(SignalKind::interrupt()).ok();
    async fn received(s: Option<Signal>) {
        match s {
            Some(mut s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    }
    async move {
        tokio::select! {
            _ = received(term) => {},
            _ = received(interrupt) => {},
        }
        tracing::info!("shutting down");
    }
}
