//! Replay stores for an async server.
//!
//! [`AsyncReplayStore`] is the server's seam: the layer's default [`MemoryStore`] answers at
//! once, as does the reference server's default [`crate::JournalStore`] (which also keeps a
//! journal); a shared store ([`crate::RedisStore`]) implements the same trait with a real
//! network round trip (`SET key 1 NX PX <ms>` is the atomic insert-if-absent). A store
//! that cannot answer must return an error: the request is then refused with
//! `store_unavailable` (503), never accepted unverified.
//!
//! ```
//! use xnonce_core::{MemoryReplayStore, ReplayKey};
//! use xnonce_server::{AsyncReplayStore, MemoryStore, SyncStore};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let store = MemoryStore::new();
//! let _sweeper = store.spawn_evictor(std::time::Duration::from_secs(5)); // bounded when idle
//! let key = ReplayKey::new("v2:svc:00112233445566778899aabbccddeeff");
//! assert_eq!(store.insert_if_absent(&key, 31_000, 1_000).await, Ok(true));
//! assert_eq!(store.insert_if_absent(&key, 31_000, 2_000).await, Ok(false)); // a replay: 409
//! assert_eq!(store.len(), 1);
//! store.evict_expired(32_001); // expired after 31_000, dropped a second later
//! assert!(store.is_empty());
//! // Any in-process core `ReplayStore` as the layer's store (`XNonceLayer::store`):
//! let sync = SyncStore(MemoryReplayStore::new());
//! assert_eq!(sync.insert_if_absent(&key, 31_000, 1_000).await, Ok(true));
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use xnonce_core::{MemoryReplayStore, ReplayKey, ReplayStore, ReplayStoreError};

/// A boxed, `Send` future (what [`AsyncReplayStore`] methods return).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An async store of accepted replay keys.
pub trait AsyncReplayStore: Send + Sync + 'static {
    /// Atomically records `key` until `expires_at_ms` unless already recorded and unexpired at
    /// `now_ms`. `Ok(true)`: first time, accept. `Ok(false)`: replay. `Err`: refuse (503).
    fn insert_if_absent<'a>(
        &'a self,
        key: &'a ReplayKey,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> StoreFuture<'a, Result<bool, ReplayStoreError>>;

    /// The same answer as [`AsyncReplayStore::insert_if_absent`] when the store can give it
    /// without waiting (an in-process map), so the caller boxes no future; `None` (the
    /// default) for a store that must wait, whose answer then comes from the future.
    fn insert_now(
        &self,
        key: &ReplayKey,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Option<Result<bool, ReplayStoreError>> {
        let _ = (key, expires_at_ms, now_ms);
        None
    }

    /// A hint that `key` will soon be inserted, given before the request's signature is
    /// checked (the key is not yet authenticated): an in-process store may start fetching
    /// the memory it will probe. Changes nothing; the default does nothing.
    fn prefetch(&self, key: &ReplayKey) {
        let _ = key;
    }

    /// Which records this handle writes to: handles with the same id share their records (a
    /// store and its clones). Two [`crate::XNonceLayer`]s on one request (one on the app, one
    /// on a nested router) use it to tell whether the outer one already recorded the
    /// request's key in this very store, so that the inner one does not refuse the request
    /// as its own replay. `None` (the default): unknown, so every layer records.
    ///
    /// A store that wraps another may return the inner store's id only if every record it
    /// makes is in that inner store (a local cache in front of Redis must have an id of its
    /// own, or a layer would take the cache's record for Redis's).
    fn id(&self) -> Option<StoreId> {
        None
    }
}

/// The identity of a replay store's records ([`AsyncReplayStore::id`]): made once per store
/// with [`StoreId::new`] and shared by its clones; never equal to another store's, even one
/// made after this one is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StoreId(u64);

impl StoreId {
    /// An id unequal to every other this process has made.
    pub fn new() -> StoreId {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        StoreId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl Default for StoreId {
    /// A new id ([`StoreId::new`]).
    fn default() -> Self {
        StoreId::new()
    }
}

/// Any synchronous, in-process core [`ReplayStore`] used as an [`AsyncReplayStore`].
/// Only for stores that never block (an in-memory map); a networked store must be async.
#[derive(Debug, Clone, Default)]
pub struct SyncStore<T>(pub T);

impl<T: ReplayStore + Send + Sync + 'static> AsyncReplayStore for SyncStore<T> {
    fn insert_if_absent<'a>(
        &'a self,
        key: &'a ReplayKey,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> StoreFuture<'a, Result<bool, ReplayStoreError>> {
        let r = self.0.insert_if_absent(key, expires_at_ms, now_ms);
        Box::pin(std::future::ready(r))
    }

    fn insert_now(
        &self,
        key: &ReplayKey,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Option<Result<bool, ReplayStoreError>> {
        Some(self.0.insert_if_absent(key, expires_at_ms, now_ms))
    }

    fn prefetch(&self, key: &ReplayKey) {
        self.0.prefetch(key)
    }
}

/// The default store: core's [`MemoryReplayStore`] (atomic insert-if-absent, entries kept
/// until request timestamp + window) plus a background task that evicts expired entries so
/// memory stays bounded even when traffic stops.
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Arc<MemoryReplayStore>,
    id: StoreId,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entries", &self.inner.len())
            .finish()
    }
}

impl MemoryStore {
    /// An empty store (no eviction task yet: see [`MemoryStore::spawn_evictor`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of remembered keys.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Drops every entry expired at `now_ms`.
    pub fn evict_expired(&self, now_ms: u64) {
        self.inner.evict_expired(now_ms);
    }

    /// Spawns (on the current tokio runtime) a task that evicts expired entries every
    /// `every`; it stops when the store is dropped everywhere else.
    pub fn spawn_evictor(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        spawn_while_alive(Arc::downgrade(&self.inner), every, |store| {
            store.evict_expired(crate::now_ms())
        })
    }
}

impl AsyncReplayStore for MemoryStore {
    fn insert_if_absent<'a>(
        &'a self,
        key: &'a ReplayKey,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> StoreFuture<'a, Result<bool, ReplayStoreError>> {
        let r = self.inner.insert_if_absent(key, expires_at_ms, now_ms);
        Box::pin(std::future::ready(r))
    }

    fn insert_now(
        &self,
        key: &ReplayKey,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Option<Result<bool, ReplayStoreError>> {
        Some(self.inner.insert_if_absent(key, expires_at_ms, now_ms))
    }

    fn prefetch(&self, key: &ReplayKey) {
        self.inner.prefetch(key)
    }

    fn id(&self) -> Option<StoreId> {
        Some(self.id)
    }
}

impl<T: AsyncReplayStore + ?Sized> AsyncReplayStore for Arc<T> {
    fn insert_if_absent<'a>(
        &'a self,
        key: &'a ReplayKey,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> StoreFuture<'a, Result<bool, ReplayStoreError>> {
        (**self).insert_if_absent(key, expires_at_ms, now_ms)
    }

    fn insert_now(
        &self,
        key: &ReplayKey,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Option<Result<bool, ReplayStoreError>> {
        (**self).insert_now(key, expires_at_ms, now_ms)
    }

    fn prefetch(&self, key: &ReplayKey) {
        (**self).prefetch(key)
    }

    fn id(&self) -> Option<StoreId> {
        (**self).id()
    }
}

/// Spawns (on the current tokio runtime) a task that runs `work` every `every` (missed ticks
/// delayed, not bunched) for as long as anything else still holds the value behind `weak`.
///
/// `work` runs on tokio's blocking pool, never on a worker thread: it scans a whole table
/// and may write and `fsync` a file (the journal's compaction), which would hold up every
/// request waiting on that worker meanwhile.
pub(crate) fn spawn_while_alive<T: Send + Sync + 'static>(
    weak: std::sync::Weak<T>,
    every: Duration,
    work: impl Fn(Arc<T>) + Send + Sync + 'static,
) -> tokio::task::JoinHandle<()> {
    let work = Arc::new(work);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(value) = weak.upgrade() else { break };
            let work = work.clone();
            // A panic in `work` is the task's end, as it was when `work` ran in the task.
            if tokio::task::spawn_blocking(move || work(value))
                .await
                .is_err()
            {
                break;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The periodic work (a table scan, a journal's write and `fsync`) must not hold up the
    /// runtime's threads: on a one-thread runtime, the work waits for a message that only
    /// another task on that thread can send.
    #[tokio::test(flavor = "current_thread")]
    async fn periodic_work_runs_off_the_runtime_s_threads() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (got_tx, got_rx) = tokio::sync::oneshot::channel::<bool>();
        let (rx, got_tx) = (
            std::sync::Mutex::new(rx),
            std::sync::Mutex::new(Some(got_tx)),
        );
        let started = Arc::new(tokio::sync::Notify::new());
        let note = started.clone();
        let alive = Arc::new(());
        let task = spawn_while_alive(
            Arc::downgrade(&alive),
            Duration::from_millis(1),
            move |_| {
                if let Some(got) = got_tx.lock().unwrap().take() {
                    note.notify_one();
                    let received = rx.lock().unwrap().recv_timeout(Duration::from_secs(10));
                    let _ = got.send(received.is_ok());
                }
            },
        );
        started.notified().await;
        tx.send(()).unwrap();
        assert!(
            got_rx.await.unwrap(),
            "the work blocked the runtime's only thread"
        );
        drop(alive);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn evictor_empties_expired_entries() {
        let s = MemoryStore::new();
        // As if it were DROP_GRACE_MS later than the clock: entries are dropped that long
        // after they expire.
        let now = crate::now_ms() - xnonce_core::replay::DROP_GRACE_MS;
        assert_eq!(
            s.insert_if_absent(&"k".into(), now - 1, now - 2).await,
            Ok(true)
        );
        assert_eq!(
            s.insert_if_absent(&"k".into(), now - 1, now - 2).await,
            Ok(false)
        );
        assert_eq!(s.insert_now(&"k".into(), now - 1, now - 2), Some(Ok(false)));
        assert_eq!(s.insert_now(&"k2".into(), now - 1, now - 2), Some(Ok(true)));
        assert_eq!((s.len(), s.is_empty()), (2, false));
        let h = s.spawn_evictor(Duration::from_millis(10));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(s.is_empty());
        drop(s);
        tokio::time::timeout(Duration::from_secs(1), h)
            .await
            .unwrap()
            .unwrap();
    }
}
