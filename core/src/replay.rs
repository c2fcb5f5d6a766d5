//! Replay protection: a store that remembers accepted request ids until they would be stale
//! anyway, with an atomic insert-if-absent so that N concurrent copies are accepted once.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

/// The replay store could not answer; the request must be refused (fail closed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayStoreError(pub String);

impl fmt::Display for ReplayStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "replay store unavailable: {}", self.0)
    }
}

impl std::error::Error for ReplayStoreError {}

/// A store of accepted replay keys.
pub trait ReplayStore {
    /// Atomically records `key` until `expires_at_ms` unless it is already recorded (and not
    /// yet expired at `now_ms`). `Ok(true)`: first time, accept. `Ok(false)`: replay.
    fn insert_if_absent(
        &self,
        key: &str,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Result<bool, ReplayStoreError>;
}

/// An in-process store: 16-byte key digests and their expiry under one mutex.
/// Expired entries are swept whenever the map has doubled since the last sweep, so memory
/// stays proportional to the number of live (unexpired) keys.
///
/// ```
/// use xnonce_core::{MemoryReplayStore, ReplayStore};
/// let store = MemoryReplayStore::new();
/// assert_eq!(store.insert_if_absent("v2:c:n", 2_000, 1_000), Ok(true));
/// assert_eq!(store.insert_if_absent("v2:c:n", 2_000, 1_500), Ok(false));
/// assert_eq!(store.insert_if_absent("v2:c:n", 4_000, 2_001), Ok(true)); // expired, new again
/// ```
#[derive(Default)]
pub struct MemoryReplayStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<[u8; 16], u64>,
    sweep_at: usize,
}

impl MemoryReplayStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of remembered keys (expired ones may linger until the next sweep).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry expired at `now_ms`.
    pub fn evict_expired(&self, now_ms: u64) {
        let mut inner = self.lock();
        inner.entries.retain(|_, exp| *exp >= now_ms);
        inner.sweep_at = (inner.entries.len() * 2).max(1024);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the map half-written; keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The 16-byte digest under which a key is stored (SHA-256, truncated).
pub fn key_digest(key: &str) -> [u8; 16] {
    let d = crate::sha256::digest(key.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    out
}

impl ReplayStore for MemoryReplayStore {
    fn insert_if_absent(
        &self,
        key: &str,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Result<bool, ReplayStoreError> {
        let digest = key_digest(key);
        let mut inner = self.lock();
        if inner.entries.len() >= inner.sweep_at {
            inner.entries.retain(|_, exp| *exp >= now_ms);
            inner.sweep_at = (inner.entries.len() * 2).max(1024);
        }
        match inner.entries.get(&digest) {
            Some(&exp) if exp >= now_ms => Ok(false),
            _ => {
                inner.entries.insert(digest, expires_at_ms);
                Ok(true)
            }
        }
    }
}

impl<T: ReplayStore + ?Sized> ReplayStore for std::sync::Arc<T> {
    fn insert_if_absent(
        &self,
        key: &str,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Result<bool, ReplayStoreError> {
        (**self).insert_if_absent(key, expires_at_ms, now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_keep_memory_bounded() {
        let s = MemoryReplayStore::new();
        for i in 0..10_000u64 {
            assert_eq!(s.insert_if_absent(&format!("k{i}"), i + 10, i), Ok(true));
        }
        assert!(s.len() < 3_000, "expired keys were not swept: {}", s.len());
    }

    #[test]
    fn concurrent_inserts_accept_exactly_once() {
        let s = std::sync::Arc::new(MemoryReplayStore::new());
        let accepted: usize = std::thread::scope(|scope| {
            let hs: Vec<_> = (0..8)
                .map(|_| {
                    let s = s.clone();
                    scope.spawn(move || {
                        (0..100)
                            .filter(|_| s.insert_if_absent("same", 1_000, 1).unwrap())
                            .count()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(accepted, 1);
    }
}
