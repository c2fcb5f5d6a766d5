//! A Redis replay store shared by several server instances.
//!
//! Each accepted request is one `SET <prefix>{<replay key>} 1 NX PX <ms>`, the key and expiry
//! of core's [`replay::shared`](xnonce_core::replay::shared): Redis inserts the key only if it
//! is absent (atomic across every instance) and drops it by itself when the request would be
//! stale anyway. `<ms>` is the rest of the request's window on the instance's
//! clock (`timestamp + window − now`) plus [`CLOCK_MARGIN_MS`]: a relative expiry, which Redis
//! counts on its own clock, so a Redis whose clock differs from the instance's still keeps the
//! key for the whole window. Instances must agree on the time (NTP) to within the margin, and
//! share the same windows.
//!
//! **One Redis, not a Cluster.** Use a single Redis, or a primary with replicas reached
//! through one address. Redis Cluster is not supported: the store sends every command to the
//! one server of its URL and does not follow `MOVED` redirections, so on a cluster most
//! requests would be refused. Each connection checks `INFO cluster` and refuses a cluster node
//! ([`CheckError::Unsupported`]), so the reference server does not start on one. The key's
//! hash tag (`{…}` around the replay key) is kept anyway: it changes nothing on a single
//! Redis, and changing the key format would let a request through once on an old and once on
//! a new instance during a rolling upgrade, as neither would see the other's key.
//!
//! Failures fail closed: when Redis cannot be reached (or does not answer within the timeout)
//! the store returns an error and the layer refuses the request with 503 `store_unavailable`.
//!
//! **Connections.** The store sends every command on one multiplexed connection. It keeps it
//! while Redis answers, errors included (`OOM`, `LOADING`…, which refuse that one request);
//! any other failure — an I/O error, a timeout, `NOAUTH`, `READONLY` — drops it, and the next
//! request connects anew, so the store recovers from anything that a new connection fixes (a
//! restarted Redis, a password changed and changed back, a failover behind the same name)
//! without a restart of the server. Each connection is one plain attempt and a `PING`, so a
//! failed one reports Redis's own error — `WRONGPASS …`, `DB index is out of range`,
//! `Connection refused` — at once, rather than a timeout. One attempt runs at a time: a
//! request that finds one in progress waits for it (at most the timeout) and gets its outcome,
//! and a failed attempt is reported to every request for the next timeout (at most 1 s)
//! before another is made. So a request waits about one timeout for a connection (two at
//! worst, when the attempt it waited for was abandoned), however many arrive together, and a
//! Redis that is down gets about one attempt per second, not one per request. A replica
//! (`INFO replication` says `role:slave`: the URL names one, or a failover moved the primary
//! away from its address) counts as a failed attempt ([`CheckError::Unreachable`], saying
//! so): it cannot keep keys for every instance, and each `SET` would drop the connection
//! (`READONLY`).
//!
//! **A Redis that lost its keys** (restarted without persistence, replaced by another) would
//! let a copy of each request of the last window through. With
//! [`RedisStore::fence_after_loss`] (the reference server sets it), each connection reads an
//! epoch marker, and a changed one refuses every request until what Redis may have forgotten
//! is stale.
//!
//! Each connection also reads Redis's `maxmemory-policy` and logs a warning for any policy
//! but `noeviction` (see [`RedisStore::maxmemory_policy`]): at start, and again whenever the
//! store connects anew, so a server started while Redis was down, or a Redis restarted with
//! another config, is warned about too.
//!
//! [`RedisStore::check`] makes that attempt at start-up: the reference server refuses to start
//! when Redis answers but refuses it ([`CheckError::Refused`]: wrong password, bad DB index,
//! not a Redis) or is a cluster node ([`CheckError::Unsupported`]), and starts with a warning
//! when Redis cannot be reached ([`CheckError::Unreachable`]). Messages never hold the URL or
//! its password.
//!
//! TLS (`rediss://`) is not supported (the crate is built without a TLS stack): reach Redis on
//! a trusted network or through a local TLS tunnel.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;
use xnonce_core::replay::shared::SharedKeys;
use xnonce_core::{ReplayKey, ReplayStoreError};

use crate::store::{AsyncReplayStore, StoreFuture, StoreId};

/// The default key prefix (core's [`replay::shared::DEFAULT_PREFIX`](xnonce_core::replay::shared::DEFAULT_PREFIX)).
pub use xnonce_core::replay::shared::DEFAULT_PREFIX;

/// How much longer than its request's `timestamp + window` Redis keeps a replay key (core's
/// [`replay::shared::CLOCK_MARGIN_MS`](xnonce_core::replay::shared::CLOCK_MARGIN_MS), which says why).
pub use xnonce_core::replay::shared::CLOCK_MARGIN_MS;

/// Replay keys in Redis (see the module docs).
///
/// ```
/// use std::collections::HashMap;
/// use std::time::Duration;
/// use xnonce_server::{redis_store::DEFAULT_PREFIX, RedisStore, XNonceLayer};
/// let store = RedisStore::new("redis://127.0.0.1:6379/0", DEFAULT_PREFIX)? // connects on first use
///     .timeout(Duration::from_millis(500));
/// assert_eq!(store.key("v2:svc:0011"), "xnonce:replay:{v2:svc:0011}");
/// assert!(RedisStore::new("rediss://cache:6380", DEFAULT_PREFIX).is_err()); // no TLS
/// // Every instance whose layer uses the same Redis accepts a request once.
/// let clients: HashMap<String, xnonce_core::Secret> = HashMap::new();
/// let layer = XNonceLayer::new(clients).store(store);
/// // At start-up, `store.check().await` tells a refusing Redis from an unreachable one.
/// # Ok::<(), String>(())
/// ```
pub struct RedisStore {
    client: redis::Client,
    keys: SharedKeys,
    timeout: Duration,
    link: Mutex<Link>,
    /// Held by the one connection attempt in progress.
    connecting: tokio::sync::Mutex<()>,
    /// Shared by the layers given this store through an `Arc` (not by another `RedisStore`
    /// on the same Redis: see [`AsyncReplayStore::id`]).
    id: StoreId,
    /// How long (ms) to refuse requests once Redis is found to have lost its keys
    /// ([`RedisStore::fence_after_loss`], raised by [`RedisStore::widen_fence`]); `None`:
    /// not checked.
    fence: Option<AtomicU64>,
}

/// `d` in whole milliseconds (saturating).
fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The connection the store uses, and the last attempt to make one that failed.
#[derive(Default)]
struct Link {
    /// The connection in use, with its number: a request whose command failed drops the
    /// connection it used, never a newer one another request has made since.
    conn: Option<(u64, MultiplexedConnection)>,
    /// Connections made so far (the last one's number).
    made: u64,
    /// When the last connection attempt failed, and why (cleared by a success).
    failed: Option<(Instant, String)>,
    /// The epoch marker Redis held at the last connection (see [`RedisStore::fence_after_loss`]).
    epoch: Option<String>,
    /// Until when requests are refused because Redis lost its keys, and the refusal's words.
    fenced: Option<(Instant, String)>,
}

impl std::fmt::Debug for RedisStore {
    // The URL may carry a password: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.keys.prefix())
            .finish_non_exhaustive()
    }
}

fn unavailable(e: impl std::fmt::Display) -> ReplayStoreError {
    ReplayStoreError(format!("redis: {e}"))
}

/// Why [`RedisStore::check`] could not use Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckError {
    /// No connection or no answer in time (down, restarting, network): may recover by
    /// itself, and the store reconnects when it does.
    Unreachable(String),
    /// Redis answered and refused: wrong password or user, a DB index it does not have, not a
    /// Redis server… — a configuration error that waiting does not fix.
    Refused(String),
    /// Redis answered, but is of a kind the store cannot use safely: a Redis Cluster node
    /// (`cluster_enabled:1`), whose redirections the store does not follow.
    Unsupported(String),
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckError::Unreachable(e) => write!(f, "redis unreachable: {e}"),
            CheckError::Refused(e) => write!(f, "redis refused the connection: {e}"),
            CheckError::Unsupported(e) => write!(f, "redis not supported: {e}"),
        }
    }
}

impl std::error::Error for CheckError {}

/// Checks a Redis URL as [`RedisStore::new`] does (the message does not repeat the URL).
pub fn check_url(url: &str) -> Result<(), String> {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    if matches!(scheme.as_deref(), Some("rediss" | "valkeys")) {
        return Err(
            "TLS (rediss://) is not supported; use redis:// to a Redis on a trusted \
                    network, or a local TLS tunnel (e.g. stunnel) in front of Redis"
                .into(),
        );
    }
    redis::Client::open(url).map(drop).map_err(|_| {
        "not a valid Redis URL (redis://[:password@]host:port/db or redis+unix:///path)".into()
    })
}

/// `url` fit to show (`Debug` of the config): its password — the `:password@` of the
/// authority, or the `pass=` of a `redis+unix://` URL — replaced by `***`. A URL that does
/// not parse as a Redis URL is not shown at all (where its password is cannot be told).
pub(crate) fn redact_url(url: &str) -> String {
    const HIDDEN: &str = "<not a valid Redis URL: not shown>";
    let Some(mut parsed) = redis::parse_redis_url(url) else {
        return HIDDEN.into();
    };
    if parsed.password().is_some() && parsed.set_password(Some("***")).is_err() {
        return HIDDEN.into();
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let secret = matches!(&*k, "pass" | "password");
                let v = if secret { "***".into() } else { v.into_owned() };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// True when `e` is Redis's own answer to a command, given on a connection that works (an
/// `ERR`, `OOM`, `LOADING`, `NOPERM`… reply): the connection stays in use. Anything else — an
/// I/O error, a timeout, a reply that cannot be read, `NOAUTH` (the connection lost its
/// login), `READONLY` (the host became a replica after a failover) — drops it, and the next
/// request connects anew.
fn answered(e: &redis::RedisError) -> bool {
    use redis::ErrorKind::*;
    match e.kind() {
        ResponseError | ExecAbortError | BusyLoadingError | NoScriptError | Moved | Ask
        | TryAgain | ClusterDown | CrossSlot | MasterDown | NotBusy | NoSub => true,
        ExtensionError => !matches!(e.code(), Some("NOAUTH" | "WRONGPASS")),
        _ => false,
    }
}

/// Redis's `maxmemory-policy` (`CONFIG GET`); `Ok(None)` for an answer of another shape.
async fn query_policy(
    conn: &mut MultiplexedConnection,
) -> Result<Option<String>, redis::RedisError> {
    let pair = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory-policy")
        .query_async::<Vec<String>>(conn)
        .await?;
    Ok(match pair.as_slice() {
        [name, policy] if name == "maxmemory-policy" => Some(policy.clone()),
        _ => None,
    })
}

/// True for errors that waiting may fix (Redis down or busy), false for refusals.
fn transient(e: &redis::RedisError) -> bool {
    use redis::ErrorKind::*;
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || matches!(
            e.kind(),
            BusyLoadingError | TryAgain | ClusterDown | MasterDown
        )
}

impl RedisStore {
    /// A store for `url` (`redis://host:port/db`, `redis+unix:///path`). Nothing is connected
    /// yet: the first request connects, and a server whose Redis is down still starts (and
    /// answers 503 until Redis is up). `prefix` must not contain `{` or `}`.
    pub fn new(url: &str, prefix: &str) -> Result<RedisStore, String> {
        let keys = SharedKeys::new(prefix).map_err(|e| format!("replay.key_prefix: {e}"))?;
        check_url(url).map_err(|e| format!("replay.redis_url: {e}"))?;
        let client = redis::Client::open(url)
            .map_err(|_| "replay.redis_url: not a valid Redis URL".to_string())?;
        Ok(RedisStore {
            client,
            keys,
            timeout: Duration::from_secs(2),
            link: Mutex::new(Link::default()),
            connecting: tokio::sync::Mutex::new(()),
            id: StoreId::new(),
            fence: None,
        })
    }

    /// Notices a Redis that lost its keys, and then refuses every request for `fence`.
    ///
    /// A Redis restarted without persistence, or replaced by another, has forgotten the keys
    /// of requests still within their window: a copy of each would be accepted once more.
    /// With this set, each connection reads (and, when absent, makes) an epoch marker,
    /// `<prefix>epoch`, a random value without expiry; a marker other than the one the
    /// previous connection saw means the keys are gone, and every request is refused (503)
    /// for `fence` from then on. The reference server passes
    /// twice its longest window plus [`CLOCK_MARGIN_MS`]: by then every request accepted
    /// before the loss (dated up to a window ahead) is stale. Not noticed: a loss while this
    /// process was not running, and keys lost while the marker survives (the last second of
    /// an `appendfsync everysec` AOF, a failover's last writes: a replica holds the marker
    /// too); a `FLUSHALL` is noticed only at the next connection (made after a failure).
    pub fn fence_after_loss(mut self, fence: Duration) -> Self {
        self.fence = Some(AtomicU64::new(duration_ms(fence)));
        self
    }

    /// Raises the fence of [`RedisStore::fence_after_loss`] to `fence` if it is shorter (a
    /// store without one keeps none): what a configuration reload that widens a window
    /// calls, since keys are then kept longer than the fence set at start covers. Never
    /// lowered: keys recorded under the wider windows of an earlier config may still be in
    /// Redis.
    pub fn widen_fence(&self, fence: Duration) {
        if let Some(ms) = &self.fence {
            ms.fetch_max(duration_ms(fence), Ordering::Relaxed);
        }
    }

    /// The fence in force ([`RedisStore::fence_after_loss`]), if any.
    pub fn fence(&self) -> Option<Duration> {
        let ms = self.fence.as_ref()?.load(Ordering::Relaxed);
        Some(Duration::from_millis(ms))
    }

    /// How long one Redis command (or connection attempt) may take before the request is
    /// refused with 503. Default 2 s. A request also waits at most this long for another
    /// request's connection attempt (see the module docs).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The Redis key of a replay key: core's [`SharedKeys::key`], `<prefix>{<replay key>}`.
    pub fn key(&self, replay_key: &str) -> String {
        self.keys.key(replay_key)
    }

    /// A Redis error as text, without the URL's password (should a message ever quote it).
    fn describe(&self, e: &redis::RedisError) -> String {
        let text = e.to_string();
        match self.client.get_connection_info().redis.password.as_deref() {
            Some(pw) if !pw.is_empty() => text.replace(pw, "***"),
            _ => text,
        }
    }

    /// One connection attempt and a `PING`, within the timeout: `Ok` when Redis answers,
    /// else why not ([`CheckError::Refused`] when it answered with an error,
    /// [`CheckError::Unsupported`] for a Redis Cluster node). The server runs
    /// this at start-up; the store makes each of its connections the same way, so a failed
    /// one reports Redis's own error (`WRONGPASS …`, `Connection refused`) at once, not a
    /// timeout. A connection that answers becomes the store's: the first request uses it.
    pub async fn check(&self) -> Result<(), CheckError> {
        let (conn, epoch) = self.connect().await?;
        self.adopt(conn, epoch);
        Ok(())
    }

    /// Redis's `maxmemory-policy` (`CONFIG GET`), or `None` when it cannot be read (Redis
    /// unreachable, or `CONFIG` forbidden, as managed services often do). Any policy but
    /// `noeviction` lets Redis evict replay keys that are still live when its memory is full
    /// — each one a request whose copies are then accepted — where `noeviction` refuses the
    /// new key instead (503, fail closed). The store logs a warning about any other policy
    /// each time it connects (at start, and whenever it connects anew).
    pub async fn maxmemory_policy(&self) -> Option<String> {
        let (_, mut conn) = self.connection().await.ok()?;
        let query = query_policy(&mut conn);
        tokio::time::timeout(self.timeout, query).await.ok()?.ok()?
    }

    /// A new connection that has answered `PING` and is not to a Redis Cluster node nor to a
    /// replica, within the timeout; a `maxmemory-policy` other than `noeviction` is logged as
    /// a warning.
    async fn connect(&self) -> Result<(MultiplexedConnection, Option<String>), CheckError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout);
        let attempt = async {
            let mut conn = self
                .client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            redis::cmd("PING").query_async::<String>(&mut conn).await?;
            // A Redis that does not let us read INFO (an ACL without it, a proxy) answers
            // with an error: taken as not a cluster.
            let cluster = match redis::cmd("INFO")
                .arg("cluster")
                .query_async::<String>(&mut conn)
                .await
            {
                Ok(info) => info.lines().any(|l| l.trim() == "cluster_enabled:1"),
                Err(e) if answered(&e) => false,
                Err(e) => return Err(e),
            };
            // A replica takes no replay key: a read-only one answers `READONLY` to each `SET`
            // (and each request would then connect anew), a writable one keeps keys that the
            // primary, and every instance using it, never see. Told apart here, so that it is
            // reported as such and retried like a Redis that is down (about once a second).
            let replica = match redis::cmd("INFO")
                .arg("replication")
                .query_async::<String>(&mut conn)
                .await
            {
                Ok(info) => info.lines().any(|l| l.trim() == "role:slave"),
                Err(e) if answered(&e) => false,
                Err(e) => return Err(e),
            };
            // Read on every connection, not only at start: a server started while Redis was
            // down, or a Redis restarted with another config, is checked too. `None` when
            // `CONFIG` is not allowed (managed services): nothing can be told.
            let policy = match query_policy(&mut conn).await {
                Ok(policy) => policy,
                Err(e) if answered(&e) => None,
                Err(e) => return Err(e),
            };
            let epoch = match &self.fence {
                Some(_) => self.epoch(&mut conn).await?,
                None => None,
            };
            Ok::<_, redis::RedisError>((conn, cluster, replica, (policy, epoch)))
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok((_, true, _, _))) => Err(CheckError::Unsupported(
                "this is a Redis Cluster node (cluster_enabled:1); Redis Cluster is not \
                 supported: use a single Redis, or a primary with replicas"
                    .into(),
            )),
            Ok(Ok((_, false, true, _))) => Err(CheckError::Unreachable(
                "this is a replica (role:slave), which cannot keep replay keys for every \
                 instance: replay.redis_url must reach the primary (after a failover, once its \
                 address follows the new primary, the store connects to it by itself)"
                    .into(),
            )),
            Ok(Ok((conn, false, false, (policy, epoch)))) => {
                if let Some(policy) = policy.filter(|p| p != "noeviction") {
                    tracing::warn!(
                        target: "xnonce",
                        maxmemory_policy = %policy,
                        "Redis may evict live replay keys when its memory is full, and \
                         each evicted key lets a copy of its request through: set \
                         maxmemory-policy noeviction (a full Redis then refuses requests \
                         with 503)"
                    );
                }
                Ok((conn, epoch))
            }
            Ok(Err(e)) if transient(&e) => Err(CheckError::Unreachable(self.describe(&e))),
            Ok(Err(e)) => Err(CheckError::Refused(self.describe(&e))),
            Err(_elapsed) => Err(CheckError::Unreachable(format!(
                "no answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }

    /// The epoch marker's value, made first if Redis has none (`SET NX`, so that instances
    /// connecting together agree on one); `None` when Redis refuses the commands (an ACL).
    async fn epoch(
        &self,
        conn: &mut MultiplexedConnection,
    ) -> Result<Option<String>, redis::RedisError> {
        let key = self.keys.epoch_key();
        let mut fresh = [0u8; 16];
        if getrandom::getrandom(&mut fresh).is_err() {
            return Ok(None);
        }
        let fresh = xnonce_core::hex::encode(&fresh);
        let read = async {
            redis::cmd("SET")
                .arg(&key)
                .arg(&fresh)
                .arg("NX")
                .query_async::<Option<String>>(&mut *conn)
                .await?;
            redis::cmd("GET")
                .arg(&key)
                .query_async::<Option<String>>(&mut *conn)
                .await
        };
        match read.await {
            Ok(epoch) => Ok(epoch),
            Err(e) if answered(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn link(&self) -> MutexGuard<'_, Link> {
        // Nothing panics while holding it; a poisoned lock still holds a consistent Link.
        self.link
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How long a failed connection attempt is reported to every request instead of making
    /// another: the timeout, at most 1 s (Redis back up is noticed within a second).
    fn retry_after(&self) -> Duration {
        self.timeout.min(Duration::from_secs(1))
    }

    /// The connection in use; else the failure of an attempt that ended after `asked` (the
    /// one this request waited for) or within [`RedisStore::retry_after`]; else `None`: time
    /// for a new attempt.
    fn cached(
        &self,
        asked: Instant,
    ) -> Option<Result<(u64, MultiplexedConnection), ReplayStoreError>> {
        let link = self.link();
        if let Some((n, conn)) = &link.conn {
            return Some(Ok((*n, conn.clone())));
        }
        match &link.failed {
            Some((at, why)) if *at >= asked || at.elapsed() < self.retry_after() => {
                Some(Err(ReplayStoreError(why.clone())))
            }
            _ => None,
        }
    }

    /// The connection to send a command on, with its number (for
    /// [`RedisStore::drop_connection`]). One attempt to connect at a time: a request that
    /// finds one in progress waits for it (at most the timeout) and shares its outcome, so a
    /// Redis that takes connections but never answers costs each request about one timeout,
    /// not one per request queued ahead of it.
    async fn connection(&self) -> Result<(u64, MultiplexedConnection), ReplayStoreError> {
        let asked = Instant::now();
        if let Some(found) = self.cached(asked) {
            return found;
        }
        let Ok(_attempt) = tokio::time::timeout(self.timeout, self.connecting.lock()).await else {
            return Err(unavailable(format!(
                "no connection within {} ms (a connection attempt is in progress)",
                self.timeout.as_millis()
            )));
        };
        if let Some(found) = self.cached(asked) {
            return found;
        }
        match self.connect().await {
            Ok((conn, epoch)) => Ok(self.adopt(conn, epoch)),
            Err(e) => {
                let why = e.to_string();
                self.link().failed = Some((Instant::now(), why.clone()));
                Err(ReplayStoreError(why))
            }
        }
    }

    /// Makes `conn` the connection in use (and forgets any failed attempt); its number. An
    /// epoch marker other than the last connection's starts the fence.
    fn adopt(
        &self,
        conn: MultiplexedConnection,
        epoch: Option<String>,
    ) -> (u64, MultiplexedConnection) {
        let mut link = self.link();
        if let (Some(fence), Some(new)) = (self.fence(), &epoch) {
            if link.epoch.as_ref().is_some_and(|old| old != new) {
                let why = format!(
                    "redis lost its replay keys (restarted empty, flushed, or replaced): every \
                     request is refused for {} s, until all it may \
                     have forgotten is stale",
                    fence.as_secs()
                );
                tracing::error!(target: "xnonce", "{why}");
                link.fenced = Some((Instant::now() + fence, why));
            }
        }
        if epoch.is_some() {
            link.epoch = epoch;
        }
        link.made += 1;
        link.conn = Some((link.made, conn.clone()));
        link.failed = None;
        (link.made, conn)
    }

    /// Stops using connection `n` (if still in use): the next request connects anew.
    fn drop_connection(&self, n: u64) {
        let mut link = self.link();
        if matches!(link.conn, Some((current, _)) if current == n) {
            link.conn = None;
        }
    }
}

impl AsyncReplayStore for RedisStore {
    fn insert_if_absent<'a>(
        &'a self,
        key: &'a ReplayKey,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> StoreFuture<'a, Result<bool, ReplayStoreError>> {
        Box::pin(async move {
            let (n, mut conn) = self.connection().await?;
            if let Some((until, why)) = &self.link().fenced {
                if Instant::now() < *until {
                    return Err(ReplayStoreError(why.clone()));
                }
            }
            let mut cmd = redis::cmd("SET");
            cmd.arg(self.key(key.as_str()))
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(self.keys.ttl_ms(expires_at_ms, now_ms));
            let answer =
                tokio::time::timeout(self.timeout, cmd.query_async::<Option<String>>(&mut conn))
                    .await;
            match answer {
                Ok(Ok(reply)) => Ok(reply.is_some()),
                Ok(Err(e)) => {
                    if !answered(&e) {
                        self.drop_connection(n);
                    }
                    Err(unavailable(self.describe(&e)))
                }
                Err(_elapsed) => {
                    self.drop_connection(n);
                    Err(unavailable(format!(
                        "no answer within {} ms",
                        self.timeout.as_millis()
                    )))
                }
            }
        })
    }

    fn id(&self) -> Option<StoreId> {
        Some(self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_one_hash_tag_and_the_prefix() {
        let s = RedisStore::new("redis://127.0.0.1:1/", "app:").unwrap();
        assert_eq!(s.key("v2:c:abc"), "app:{v2:c:abc}");
        assert_eq!(s.key("v2:c:a}b{"), "app:{v2:c:a_b_}");
        assert!(RedisStore::new("redis://127.0.0.1:1/", "a{b}").is_err());
        assert!(RedisStore::new("not a url", "p").is_err());
    }

    #[test]
    fn redacted_urls_keep_everything_but_the_password() {
        for (url, shown) in [
            ("redis://:hunter2@h:6379/0", "redis://:***@h:6379/0"),
            ("redis://app:hunter2@h/3", "redis://app:***@h/3"),
            ("redis://h:6379/0", "redis://h:6379/0"),
            ("redis://app@h/0", "redis://app@h/0"),
            (
                "redis+unix:///run/redis.sock?db=2&pass=hunter2",
                "redis+unix:///run/redis.sock?db=2&pass=***",
            ),
            ("redis://:hun%40ter2@h/0", "redis://:***@h/0"),
            (
                "redis://:hunter2@[bad/0",
                "<not a valid Redis URL: not shown>",
            ),
            ("hunter2", "<not a valid Redis URL: not shown>"),
        ] {
            let r = redact_url(url);
            assert_eq!(r, shown, "{url}");
            assert!(!r.contains("hunter2") && !r.contains("hun%40ter2"), "{r}");
        }
    }

    #[test]
    fn tls_urls_are_refused_as_such_and_messages_hold_no_url() {
        for url in ["rediss://:pw@127.0.0.1:6379/0", "REDISS://h:1/"] {
            let e = RedisStore::new(url, "p").unwrap_err();
            assert!(e.contains("TLS") && e.contains("not supported"), "{e}");
            assert!(!e.contains("pw@"), "{e}");
        }
        let e = check_url("redis://:hunter2@[bad/0").unwrap_err();
        assert!(
            e.contains("not a valid Redis URL") && !e.contains("hunter2"),
            "{e}"
        );
        assert!(check_url("redis://:pw@127.0.0.1:6379/3").is_ok());
    }

    /// Neither `Debug` nor an error's description shows the URL's password; a URL without
    /// one leaves descriptions as Redis wrote them.
    #[test]
    fn the_password_stays_out_of_debug_and_descriptions() {
        let s = RedisStore::new("redis://:hunter2@127.0.0.1:1/0", "app:").unwrap();
        assert_eq!(format!("{s:?}"), r#"RedisStore { prefix: "app:", .. }"#);
        let e = redis::RedisError::from((
            redis::ErrorKind::AuthenticationFailed,
            "auth",
            "password hunter2 refused".to_string(),
        ));
        let described = s.describe(&e);
        assert!(described.contains("password *** refused"), "{described}");
        assert!(!described.contains("hunter2"), "{described}");
        for url in ["redis://127.0.0.1:1/0", "redis://:@127.0.0.1:1/0"] {
            let s = RedisStore::new(url, "app:").unwrap();
            assert_eq!(s.describe(&e), e.to_string(), "{url}");
        }
    }

    /// A "Redis" that takes connections and never answers (a listener nobody reads from, as
    /// a stopped or wedged Redis looks): 60 requests at once each get their 503 within about
    /// one timeout — they share one connection attempt — not one timeout per request queued
    /// ahead of them (60 × 500 ms if queued). The next ones, right after, fail at once.
    #[tokio::test]
    async fn requests_do_not_queue_behind_a_silent_redis() {
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("redis://{}/0", silent.local_addr().unwrap());
        let timeout = Duration::from_millis(500);
        let s = RedisStore::new(&url, DEFAULT_PREFIX)
            .unwrap()
            .timeout(timeout);
        // Slack for a loaded machine, yet a fifth of the 30 s that queueing (60 × 500 ms)
        // would take: even two at a time (15 s) fails.
        let bound = timeout * 3 + Duration::from_secs(4);
        let keys: Vec<ReplayKey> = (0..60).map(|i| format!("v2:c:{i}").into()).collect();
        let t0 = Instant::now();
        let answers = futures_util::future::join_all(keys.iter().map(|k| async {
            let r = s.insert_if_absent(k, 10_000, 1_000).await;
            (r, t0.elapsed())
        }))
        .await;
        for (r, took) in &answers {
            let e = r.as_ref().expect_err("a silent Redis accepted a request");
            assert!(e.0.contains("unreachable") || e.0.contains("within"), "{e}");
            assert!(*took < bound, "took {took:?}: {e}");
        }
        let t1 = Instant::now();
        let again = s
            .insert_if_absent(&"v2:c:again".into(), 10_000, 1_000)
            .await;
        assert!(again.is_err(), "{again:?}");
        assert!(t1.elapsed() < bound, "{:?}", t1.elapsed());
        drop(silent);
    }

    #[tokio::test]
    async fn an_unreachable_redis_fails_closed_quickly() {
        // Port 1 on loopback: connection refused at once.
        let s = RedisStore::new("redis://127.0.0.1:1/", DEFAULT_PREFIX)
            .unwrap()
            .timeout(Duration::from_millis(500));
        let t0 = std::time::Instant::now();
        let r = s.insert_if_absent(&"v2:c:n".into(), 10_000, 1_000).await;
        assert!(r.is_err(), "{r:?}");
        assert!(t0.elapsed() < Duration::from_secs(5));
    }
}
