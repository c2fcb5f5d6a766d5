//! Accepting connections: HTTP/1.1 on each accepted TCP connection, with a deadline for every
//! request head, a bound on the connections open at once, and a graceful shutdown.
//!
//! `axum::serve` sets no timer, so hyper's head deadline never fires: a client that sends half
//! a request head, or opens a keep-alive connection and says nothing, holds a connection (and
//! a file descriptor) for as long as it likes, and a few thousand such clients exhaust the
//! process. Here each connection gets hyper's head deadline ([`ConnectionLimits::header_timeout`]),
//! which also bounds how long an idle keep-alive connection waits for its next request, and
//! the server stops accepting while [`ConnectionLimits::max_connections`] are open (further
//! clients wait in the kernel's listen backlog). Slow bodies are the layer's concern
//! ([`crate::Limits::body_timeout`]). Connections may switch protocols (the gateway's
//! WebSocket tunnels, axum's `WebSocketUpgrade`): see [`OpenConnection`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

use crate::live_router::LiveRouter;
use crate::log_throttle::LogThrottle;
use crate::metrics::Metrics;
use crate::write_deadline::WriteDeadline;

/// How long in-flight requests may take to finish, and switched connections (the gateway's
/// WebSocket tunnels) to close, once shutdown has begun.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// Per-connection limits of [`serve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// How long a client may take to send a request head, counted from when the server starts
    /// waiting for it: from the connection's opening, and on a keep-alive connection from the
    /// previous answer (so it is also the idle timeout). The connection is closed when it
    /// passes. Default 30 s.
    pub header_timeout: Duration,
    /// Most connections open at once; while this many are open the server accepts no more.
    /// Default 1024.
    pub max_connections: usize,
    /// Most bytes buffered while a request head (request line and header fields) arrives; a
    /// head that does not fit is answered `431` by hyper (a request target over 64 KiB, `414`)
    /// and the connection closed. At least 8192. Default 88 KiB: the layer's default 16 KiB of
    /// header fields ([`crate::Limits::max_header_bytes`], whose own `431` names the limit)
    /// plus a 64 KiB target and the request line. It bounds what a slow, never-finished head
    /// holds in memory per connection (hyper's own default is about 400 KiB).
    pub max_head_bytes: usize,
    /// How long a write of an answer (or of a WebSocket tunnel's data) may wait without the
    /// kernel taking any byte: a client that stops reading, with answers queued (pipelined
    /// requests), has its connection closed when this passes. The kernel takes more once the
    /// client has read about half of the socket's send buffer (up to a few MB), so a client
    /// reading a large answer slower than that per `write_timeout` is cut too. Default 30 s.
    pub write_timeout: Duration,
}

impl ConnectionLimits {
    /// [`max_head_bytes`](Self::max_head_bytes) for a layer that accepts `max_header_bytes`
    /// of header fields: room for those, a 64 KiB request target and the request line.
    pub fn head_bytes_for(max_header_bytes: usize) -> usize {
        max_header_bytes
            .saturating_add(72 * 1024)
            .max(MIN_HEAD_BYTES)
    }
}

/// hyper's smallest read buffer.
const MIN_HEAD_BYTES: usize = 8192;

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_head_bytes: ConnectionLimits::head_bytes_for(
                crate::Limits::default().max_header_bytes,
            ),
            write_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes; then stops accepting, lets open
/// connections finish their requests (idle keep-alive connections are closed at once) and
/// returns when all are closed or after [`DRAIN_DEADLINE`].
///
/// ```
/// use std::time::Duration;
/// use axum::{routing::get, Router};
/// use xnonce_server::{connections, ConnectionLimits};
///
/// # fn main() -> std::io::Result<()> {
/// tokio::runtime::Runtime::new()?.block_on(async {
///     let app = Router::new().route("/", get(|| async { "ok" }));
///     let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     let limits = ConnectionLimits {
///         header_timeout: Duration::from_secs(10),
///         ..ConnectionLimits::default()
///     };
///     let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
///     let server = tokio::spawn(connections::serve(listener, app, limits, async {
///         let _ = stopped.await;
///     }));
///     // A request over a real connection, then a graceful stop.
///     use tokio::io::{AsyncReadExt, AsyncWriteExt};
///     let mut conn = tokio::net::TcpStream::connect(addr).await?;
///     conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await?;
///     let mut answer = String::new();
///     conn.read_to_string(&mut answer).await?;
///     assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok"));
///     let _ = stop.send(());
///     server.await.expect("the server task ends");
///     Ok(())
/// })
/// # }
/// ```
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    serve_until(listener, router, limits, shutdown, std::future::pending()).await;
}

/// [`serve`], with a way to cut the drain short: once `shutdown` has completed, open
/// connections are closed as soon as `stop_draining` completes too (or the
/// [`DRAIN_DEADLINE`] passes), their requests unanswered. `xnonce-server` passes a second
/// SIGINT/SIGTERM ([`crate::shutdown_signals`]). Either way every connection's task has ended
/// when this returns, so nothing is answered after the caller's clean-up (the replay
/// journal's last write).
pub async fn serve_until(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    stop_draining: impl Future<Output = ()> + Send + 'static,
) {
    let app = LiveRouter::new(router);
    serve_counted(listener, app, limits, None, shutdown, stop_draining).await;
}

/// [`serve_until`] of an app that may be replaced while it serves, counting open connections
/// and the HTTP parser's refusals in `metrics`.
pub(crate) async fn serve_counted(
    listener: TcpListener,
    app: Arc<LiveRouter>,
    limits: ConnectionLimits,
    metrics: Option<Arc<Metrics>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    stop_draining: impl Future<Output = ()> + Send + 'static,
) {
    warn_if_descriptors_run_out(limits.max_connections);
    // Set when shutdown begins: connections finish their request and close, upgraded ones
    // (tunnels) close.
    let (closing, _) = watch::channel(false);
    let mut accept_errors = AcceptErrors::default();
    // At most u32::MAX, so that the drain below can wait for every slot at once.
    let slots = limits.max_connections.clamp(1, u32::MAX as usize);
    let open = Arc::new(Semaphore::new(slots));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_head_bytes.max(MIN_HEAD_BYTES));
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // Reap the tasks of closed connections (the set holds only open ones).
        while tasks.try_join_next().is_some() {}
        let permit = tokio::select! {
            permit = open.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // the semaphore is never closed
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_errors.failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Answers are small and written whole: send them without waiting for an ACK.
        let _ = stream.set_nodelay(true);
        // What a request knows of its connection: the peer's address (`ConnectInfo`, as
        // `axum::serve` gives it: the gateway's `X-Forwarded-For`), and a hold on its slot
        // for a protocol upgrade that outlives the connection's HTTP part.
        let permit = Arc::new(Slot::taken(permit, metrics.clone()));
        let open_connection = OpenConnection {
            _slot: permit.clone(),
            closing: closing.subscribe(),
        };
        let service = TowerToHyperService::new(app.service().map_request(
            move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req.extensions_mut().insert(open_connection.clone());
                req
            },
        ));
        let connection = http
            .serve_connection(
                TokioIo::new(WriteDeadline::new(stream, limits.write_timeout)),
                service,
            )
            .with_upgrades();
        let mut shut_down = closing.subscribe();
        let metrics = metrics.clone();
        tasks.spawn(async move {
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = async { let _ = shut_down.wait_for(|&closing| closing).await; } => {
                    // Finish the request in progress, if any, then close.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            match ended {
                // hyper refused the request before the layer saw it, and answered it itself
                // (400, 414 or 431): logged like the layer's refusals, with what is known.
                Err(e) if e.is_parse() || e.is_parse_too_large() => {
                    tracing::info!(
                        target: "xnonce",
                        peer = %peer,
                        outcome = "http_parse_error",
                        error = %e,
                        "request refused by the HTTP parser"
                    );
                    if let Some(metrics) = &metrics {
                        metrics.http_parse_error();
                    }
                }
                Err(e) => tracing::debug!(error = %e, "connection closed with an error"),
                Ok(()) => {}
            }
            drop(permit);
        });
    }
    drop(listener);
    let _ = closing.send(true);
    // Every slot back: each connection's task holds its slot to its end, and an upgraded
    // connection (a gateway's WebSocket tunnel) past its task, until it has said goodbye.
    let all_closed = open.acquire_many(slots as u32);
    tokio::select! {
        _ = all_closed => {}
        () = tokio::time::sleep(DRAIN_DEADLINE) => {
            tracing::warn!("connections still open 10 s after shutdown; closing them");
        }
        () = stop_draining => {
            tracing::warn!("stopping now: closing the open connections without waiting for their requests");
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

/// The connection a request came on, in the request's extensions: a handler that takes the
/// connection over after a protocol upgrade (the gateway's WebSocket tunnels) keeps a clone
/// while it uses it, so that the connection still counts toward
/// [`ConnectionLimits::max_connections`], and ends it at [`OpenConnection::closing`].
#[derive(Clone, Debug)]
pub struct OpenConnection {
    _slot: Arc<Slot>,
    closing: watch::Receiver<bool>,
}

/// A connection's hold on one of [`ConnectionLimits::max_connections`], counted open in the
/// metrics while held.
#[derive(Debug)]
struct Slot {
    _permit: OwnedSemaphorePermit,
    metrics: Option<Arc<Metrics>>,
}

impl Slot {
    fn taken(permit: OwnedSemaphorePermit, metrics: Option<Arc<Metrics>>) -> Slot {
        if let Some(metrics) = &metrics {
            metrics.connection_opened();
        }
        Slot {
            _permit: permit,
            metrics,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(metrics) = &self.metrics {
            metrics.connection_closed();
        }
    }
}

impl OpenConnection {
    /// Completes once the server has begun to shut down.
    pub async fn closing(&mut self) {
        // An error means the server is gone: closing too.
        let _ = self.closing.wait_for(|&closing| closing).await;
    }
}

/// Failed `accept`s: a connection that failed before it was accepted is nothing to wait for;
/// anything else (out of file descriptors, of memory) is logged — once per 10 s while it
/// lasts, not on every retry — and the loop backs off for a moment instead of spinning.
struct AcceptErrors {
    log: LogThrottle,
}

impl Default for AcceptErrors {
    fn default() -> Self {
        AcceptErrors {
            log: LogThrottle::new(ACCEPT_ERROR_LOG_INTERVAL),
        }
    }
}

impl AcceptErrors {
    async fn failed(&mut self, e: &std::io::Error) {
        match self.decide(e.kind(), std::time::Instant::now()) {
            AcceptFailure::Ignore => {}
            AcceptFailure::BackOff { log_repeated } => {
                if let Some(repeated) = log_repeated {
                    tracing::error!(
                        error = %e,
                        repeated,
                        "cannot accept connections; retrying every 100 ms"
                    );
                }
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }

    /// What a failed `accept` of this kind at `now` calls for.
    fn decide(&mut self, kind: std::io::ErrorKind, now: std::time::Instant) -> AcceptFailure {
        use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
        if matches!(
            kind,
            ConnectionAborted | ConnectionRefused | ConnectionReset
        ) {
            return AcceptFailure::Ignore;
        }
        AcceptFailure::BackOff {
            log_repeated: self.log.failed(now),
        }
    }
}

/// How long the accept loop waits after a failed `accept` that is not the peer's doing.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// At most one log line per this long while `accept` keeps failing.
const ACCEPT_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// [`AcceptErrors::decide`]'s answer.
#[derive(Debug, PartialEq, Eq)]
enum AcceptFailure {
    /// The connection failed before it was accepted: nothing to wait for.
    Ignore,
    /// Wait [`ACCEPT_BACKOFF`]; log first when `log_repeated` is `Some` (how many failures
    /// went unlogged since the last line).
    BackOff { log_repeated: Option<u64> },
}

/// Warns at start when the process's file-descriptor limit (`ulimit -n`, read from
/// `/proc/self/limits` where there is one) cannot hold `max_connections` connections plus the
/// files the server itself keeps open: the connections beyond it would wait in the backlog
/// while `accept` fails.
fn warn_if_descriptors_run_out(max_connections: usize) {
    let Some(limit) = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| open_files_limit(&text))
    else {
        return;
    };
    let needed = max_connections as u64 + 32;
    if limit < needed {
        tracing::warn!(
            max_connections,
            open_files_limit = limit,
            "the open-files limit is below max_connections + 32: raise it (ulimit -n, \
             LimitNOFILE=) or lower limits.max_connections"
        );
    }
}

/// The soft "Max open files" limit of a `/proc/<pid>/limits` text (`None`: unlimited or
/// not found).
fn open_files_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_soft_open_files_limit() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max processes             63458                63458                processes \n\
                    Max open files            1024                 524288               files     \n";
        assert_eq!(open_files_limit(text), Some(1024));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(open_files_limit(unlimited), None);
        assert_eq!(open_files_limit(""), None);
    }

    #[test]
    fn failed_accepts_back_off_and_are_logged_once_per_interval() {
        use std::io::ErrorKind;
        let mut errors = AcceptErrors::default();
        let t0 = std::time::Instant::now();
        for kind in [
            ErrorKind::ConnectionAborted,
            ErrorKind::ConnectionRefused,
            ErrorKind::ConnectionReset,
        ] {
            assert_eq!(errors.decide(kind, t0), AcceptFailure::Ignore);
        }
        // Out of file descriptors (EMFILE's kind has no stable name; any kind but the three
        // above is treated alike).
        let emfile = ErrorKind::Other;
        let backoff = |log_repeated| AcceptFailure::BackOff { log_repeated };
        assert_eq!(errors.decide(emfile, t0), backoff(Some(0)));
        let soon = t0 + Duration::from_secs(1);
        assert_eq!(errors.decide(emfile, soon), backoff(None));
        assert_eq!(errors.decide(ErrorKind::OutOfMemory, soon), backoff(None));
        // The peer's failures in between are neither counted nor logged.
        assert_eq!(
            errors.decide(ErrorKind::ConnectionReset, soon),
            AcceptFailure::Ignore
        );
        let before = t0 + ACCEPT_ERROR_LOG_INTERVAL - Duration::from_millis(1);
        assert_eq!(errors.decide(emfile, before), backoff(None));
        let later = t0 + ACCEPT_ERROR_LOG_INTERVAL;
        assert_eq!(errors.decide(emfile, later), backoff(Some(3)));
        assert_eq!(errors.decide(emfile, later), backoff(None));
        assert_eq!(
            errors.decide(emfile, later + ACCEPT_ERROR_LOG_INTERVAL),
            backoff(Some(1))
        );
    }
}
