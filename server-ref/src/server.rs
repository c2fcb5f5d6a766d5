//! [`Server`]: what `xnonce-server serve` runs — the registry and replay store of a config,
//! bound to its address, served until a shutdown signal, then drained.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;

use crate::app::app_limited_by;
use crate::live_router::LiveRouter;
use crate::rate_limit::{RateLimitConfig, RateLimiter};
use crate::{
    connections, journal, layer_for, metrics, now_ms, redis_store, registry, Config,
    ConnectionLimits, JournalStore, MemoryStore, Metrics, RateLimitLayer, RedisStore, Registry,
    ReplayConfig,
};

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
    app: Arc<LiveRouter>,
    /// What a configuration reload builds the app from.
    parts: Arc<Parts>,
    connections: ConnectionLimits,
    /// With `[metrics]`: the metrics listener and its app.
    metrics: Option<(tokio::net::TcpListener, Router)>,
    /// `None` when the socket could not be bound (logged): writes from other processes then
    /// reach this server at its next periodic check.
    _reloads: Option<registry::reload::ReloadListener>,
}

/// The replay store of a running server, shared by every app it builds (a reload keeps it,
/// and with it every key recorded so far).
#[derive(Clone)]
enum ServerStore {
    Memory(MemoryStore),
    Journal(JournalStore),
    Redis(Arc<RedisStore>),
}

impl ServerStore {
    /// How many keys the in-process store holds, for the metrics.
    fn replay_keys(&self) -> Option<metrics::ReplayKeys> {
        match self {
            ServerStore::Memory(s) => {
                let s = s.clone();
                Some(Arc::new(move || s.len()))
            }
            ServerStore::Journal(s) => {
                let s = s.clone();
                Some(Arc::new(move || s.len()))
            }
            ServerStore::Redis(_) => None,
        }
    }

    fn layer(&self, config: &Config, registry: Arc<Registry>) -> crate::XNonceLayer {
        match self {
            ServerStore::Memory(s) => layer_for(config, registry, s.clone()),
            ServerStore::Journal(s) => layer_for(config, registry, s.clone()),
            ServerStore::Redis(s) => layer_for(config, registry, s.clone()),
        }
    }
}

/// What the server's app is built from, at start and at each reload: the registry, the
/// replay store, the rate limiter's buckets and the metrics' counts (all kept across
/// reloads), and the config running.
struct Parts {
    registry: Arc<Registry>,
    store: ServerStore,
    limiter: Arc<RateLimiter>,
    counts: Option<Arc<Metrics>>,
    data_dir: std::path::PathBuf,
    running: std::sync::Mutex<Config>,
}

impl Parts {
    /// The app `config` describes, over these parts.
    /// The limiter takes `config`'s rates from now on.
    fn app(&self, config: &Config) -> Router {
        let layer = self.store.layer(config, self.registry.clone());
        self.limiter
            .reconfigure(config.rate_limit.clone().unwrap_or_default());
        let rate_limit = config
            .rate_limit
            .as_ref()
            .map(|_| RateLimitLayer::with_limiter(self.limiter.clone()));
        match &self.counts {
            None => app_limited_by(config, layer, rate_limit),
            Some(counts) => metrics::count_answers(
                app_limited_by(config, layer.metrics(counts.clone()), rate_limit),
                counts.clone(),
            ),
        }
    }
}

/// Replaces a running [`Server`]'s configuration without a restart (what `xnonce-server
/// serve` does on `SIGHUP`): from [`Server::reloader`].
///
/// ```
/// use xnonce_server::{Config, Server};
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let base = std::env::temp_dir().join(format!("xnonce-doc-reload-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&base);
/// let data_dir = base.join("data");
/// let mut config = Config::parse(r#"listen = "127.0.0.1:0""#)?;
/// config.key_file = Some(base.join("keys").join("registry.key"));
/// let server = Server::bind(&config, data_dir.clone()).await?;
/// let reloader = server.reloader();
///
/// let mut stricter = Config::parse("listen = \"127.0.0.1:0\"\n[windows]\n__default = 5000")?;
/// stricter.key_file = config.key_file.clone();
/// reloader.reload(&stricter, &data_dir)?; // from the next request on
///
/// let mut moved = stricter.clone();
/// moved.listen = "127.0.0.1:9".into();
/// let refused = reloader.reload(&moved, &data_dir).unwrap_err();
/// assert_eq!(refused, "listen changed, which only a restart applies");
/// # drop(server);
/// # std::fs::remove_dir_all(&base)?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Reloader {
    app: Arc<LiveRouter>,
    parts: Arc<Parts>,
}

impl Reloader {
    /// Serves `config` from the next request on, on every connection, with the same
    /// registry, replay store (every key recorded so far) and metrics: its routes, windows,
    /// schemes, body limits, rate limits (each client keeps the tokens it has, refilled at its
    /// new rate up to its new burst: [`RateLimiter::reconfigure`]) and upstream.
    /// Refuses, changing nothing, a config whose `data_dir` (`data_dir` here: the one the
    /// reloaded config resolves to) or other parts only a restart can change differ from the
    /// running one's ([`Config::restart_only_changes`]), naming them.
    pub fn reload(&self, config: &Config, data_dir: &std::path::Path) -> Result<(), String> {
        let mut running = self.parts.running.lock().unwrap_or_else(|p| p.into_inner());
        let mut changed = running.restart_only_changes(config);
        if data_dir != self.parts.data_dir {
            changed.insert(0, "data_dir");
        }
        if !changed.is_empty() {
            return Err(format!(
                "{} changed, which only a restart applies",
                changed.join(", ")
            ));
        }
        // The running verifier's keys stay in the store for its windows only: requests it
        // may have accepted keep its window where the new one is wider
        // (`Verifier::succeeding`), until the old window has elapsed. It may still verify
        // a request whose head it took before the swap, once the body is in: its last
        // verification is at most a body timeout (and a moment) away.
        let last_verified_ms = now_ms()
            .saturating_add(
                u64::try_from(running.limits.body_timeout.as_millis()).unwrap_or(u64::MAX),
            )
            .saturating_add(IN_FLIGHT_MARGIN_MS);
        // A Redis that loses its keys is fenced until all it may have forgotten is stale:
        // twice the longest window plus the margin, as at start, of the new windows too.
        if let ServerStore::Redis(store) = &self.parts.store {
            store.widen_fence(redis_fence(config));
        }
        let mut next = config.clone();
        next.verifier = config
            .verifier
            .clone()
            .succeeding(&running.verifier, last_verified_ms);
        self.app.replace(self.parts.app(&next));
        *running = next;
        config.warn_about_windows_naming_no_route();
        Ok(())
    }
}

/// How long after its body is in (or its body timeout) an old app's request may still be
/// verified, for a reload's [`Verifier::succeeding`].
///
/// [`Verifier::succeeding`]: xnonce_core::Verifier::succeeding
const IN_FLIGHT_MARGIN_MS: u64 = 1_000;

/// How long a Redis that lost its keys is fenced under `config`: its verifier's
/// [`fence_after_loss_ms`](xnonce_core::Verifier::fence_after_loss_ms).
fn redis_fence(config: &Config) -> Duration {
    Duration::from_millis(config.verifier.fence_after_loss_ms())
}

/// Binds `addr`, with an error that names it (`what`: which of the config's addresses it is,
/// when not the API's).
async fn listen(addr: &str, what: &str) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}{what}: {e}")))
}

impl Server {
    /// Binds `config.listen` (and `config.metrics_listen`, if set) and prepares the app over
    /// the registry in `data_dir` (with the key file of `config.key_file`, created if needed;
    /// refused if unsafe or wrong) and the replay store of `config.replay` (the memory store's
    /// journal also lives in `data_dir`, locked: one such server per data dir). An existing
    /// data dir open to group or others is made `0700` when it is ours
    /// ([`registry::secure_dir`]; logged).
    ///
    /// Errors say what failed and name it (the registry, the journal and its path, Redis's
    /// refusal, `cannot listen on ADDR: …`, `cannot listen on ADDR (metrics.listen): …`). A
    /// Redis store is tried once: a Redis that answers and refuses (wrong password, bad DB
    /// index) or is a Redis Cluster node is an error; an unreachable one is logged and the
    /// server starts (its requests get 503 until Redis answers).
    pub async fn bind(config: &Config, data_dir: std::path::PathBuf) -> std::io::Result<Server> {
        let registry = Arc::new(Registry::open_with_key_file(
            &data_dir,
            config.key_file.clone(),
        ));
        registry
            .check(true)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
        registry::log_secure_dir(&data_dir, &registry::secure_dir(&data_dir));
        config.warn_about_windows_naming_no_route();
        let reloads = match registry::reload::ReloadListener::bind(registry.clone()) {
            Ok(listener) => Some(listener),
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "`client` commands of other processes cannot tell this server to re-read \
                     the registry; it sees their changes within {} s",
                    registry::CHECK_INTERVAL.as_secs()
                );
                None
            }
        };
        let store = match &config.replay {
            ReplayConfig::Memory { persist: false } => ServerStore::Memory(MemoryStore::new()),
            ReplayConfig::Memory { persist: true } => {
                ServerStore::Journal(JournalStore::open(&data_dir, now_ms())?)
            }
            ReplayConfig::Redis {
                url,
                key_prefix,
                timeout_ms,
            } => {
                let store = RedisStore::new(url, key_prefix)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?
                    .timeout(Duration::from_millis(*timeout_ms))
                    .fence_after_loss(redis_fence(config));
                // A connection (this one, and each later one) warns about a Redis that may
                // evict live keys (`maxmemory-policy`).
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
                    Err(e @ redis_store::CheckError::Unsupported(_)) => {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::Unsupported,
                            format!("replay store: {e}"),
                        ))
                    }
                    Err(e) => tracing::warn!(
                        target: "xnonce",
                        error = %e,
                        "replay store unreachable at start; requests get 503 \
                         store_unavailable until it answers"
                    ),
                }
                ServerStore::Redis(Arc::new(store))
            }
        };
        // The API's address first: a metrics address that clashes with it is then the one
        // named in the error.
        let listener = listen(&config.listen, "").await?;
        let (counts, metrics) = match &config.metrics_listen {
            None => (None, None),
            Some(addr) => {
                let counts = Arc::new(Metrics::default());
                let listener = listen(addr, " (metrics.listen)").await?;
                let scrape = metrics::router(counts.clone(), store.replay_keys());
                (Some(counts), Some((listener, scrape)))
            }
        };
        let parts = Arc::new(Parts {
            registry,
            store,
            limiter: Arc::new(RateLimiter::new(RateLimitConfig::default())),
            counts,
            data_dir,
            running: std::sync::Mutex::new(config.clone()),
        });
        let app = LiveRouter::new(parts.app(config));
        Ok(Server {
            listener,
            app,
            parts,
            connections: config.connections,
            metrics,
            _reloads: reloads,
        })
    }

    /// A handle that replaces this server's configuration while it runs
    /// ([`Reloader::reload`]).
    pub fn reloader(&self) -> Reloader {
        Reloader {
            app: self.app.clone(),
            parts: self.parts.clone(),
        }
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The metrics listener's bound address, with `[metrics]` ([`crate::metrics`]).
    pub fn metrics_addr(&self) -> Option<std::io::Result<SocketAddr>> {
        self.metrics
            .as_ref()
            .map(|(listener, _)| listener.local_addr())
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests (at most 10 s),
    /// with the config's [`ConnectionLimits`]. An error when the replay journal's last lines
    /// cannot be written ([`JournalStore::flush_at_shutdown`]: the requests it does not
    /// record, and until when a server started on the data dir would accept their copies).
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.run_until(shutdown, std::future::pending()).await
    }

    /// [`Server::run`], whose drain after `shutdown` also ends as soon as `stop_draining`
    /// completes: open connections are closed, their requests unanswered, and the replay
    /// journal is written as after any drain. `xnonce-server serve` passes the second of
    /// [`shutdown_signals`].
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
        stop_draining: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let mut tasks = match &self.parts.store {
            ServerStore::Memory(s) => vec![s.spawn_evictor(Duration::from_secs(5))],
            ServerStore::Journal(s) => vec![
                s.spawn_evictor(Duration::from_secs(5)),
                s.spawn_flusher(journal::FLUSH_INTERVAL),
            ],
            ServerStore::Redis(_) => Vec::new(),
        };
        if let Some((listener, scrape)) = self.metrics {
            // Scraped until the API's connections are drained; by a few scrapers at
            // most (and so no second warning about the open-files limit). A scraper sends
            // its request as soon as it connects: a connection idle for 5 s is closed, so
            // connections held open without a request delay a scrape by 5 s at most, not
            // the API's 30 s (Prometheus's default scrape timeout is 10 s).
            let limits = ConnectionLimits {
                max_connections: 16,
                header_timeout: Duration::from_secs(5),
                max_head_bytes: 8192,
                ..ConnectionLimits::default()
            };
            let stop = std::future::pending();
            tasks.push(tokio::spawn(connections::serve(
                listener, scrape, limits, stop,
            )));
        }
        connections::serve_counted(
            self.listener,
            self.app,
            self.connections,
            self.parts.counts.clone(),
            shutdown,
            stop_draining,
        )
        .await;
        for t in tasks {
            t.abort();
        }
        if let ServerStore::Journal(s) = &self.parts.store {
            // Every request has been answered: write the last buffered journal lines. Lines
            // that cannot be written are requests a restarted server would accept again:
            // the error says how many, and until when (`serve` exits 1 with it).
            s.flush_at_shutdown()?;
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
    let mut signals = StopSignals::install();
    async move {
        signals.recv().await;
        tracing::info!("shutting down");
    }
}

/// Two futures over SIGINT and SIGTERM, for [`Server::run_until`]: the first completes on
/// the first signal (a graceful stop, as [`shutdown_signal`]), the second on the signal after
/// it (stop without waiting for open requests: what an operator who presses Ctrl-C twice
/// means). Installed when called, as [`shutdown_signal`]'s; call it inside the runtime.
pub fn shutdown_signals() -> (
    impl std::future::Future<Output = ()> + Send + 'static,
    impl std::future::Future<Output = ()> + Send + 'static,
) {
    // Each handle sees every signal delivered after it was made.
    let (mut first, mut second) = (StopSignals::install(), StopSignals::install());
    let graceful = async move {
        first.recv().await;
        tracing::info!("shutting down (a second SIGINT or SIGTERM stops without waiting)");
    };
    let now = async move {
        second.recv().await;
        second.recv().await;
    };
    (graceful, now)
}

/// Handlers for SIGINT and SIGTERM (either one stops a server). A handler that cannot be
/// installed never fires.
struct StopSignals {
    term: Option<tokio::signal::unix::Signal>,
    interrupt: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn install() -> Self {
        use tokio::signal::unix::{signal, SignalKind};
        StopSignals {
            term: signal(SignalKind::terminate()).ok(),
            interrupt: signal(SignalKind::interrupt()).ok(),
        }
    }

    /// The next SIGINT or SIGTERM.
    async fn recv(&mut self) {
        async fn received(s: Option<&mut tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            () = received(self.term.as_mut()) => {},
            () = received(self.interrupt.as_mut()) => {},
        }
    }
}
