//! Replay stores given to a [`crate::Verifier`]: the application's, shared by several
//! processes ([`ReplayStore`], implemented in Kotlin or Swift), or one in this process's
//! memory shared by several verifiers ([`memory_replay_store`]); and what a store throws
//! ([`ReplayStoreError`]).

use std::sync::Arc;

use xnonce_core::{MemoryReplayStore, ReplayKey};

/// Where `verify_once` records accepted requests: one of the application's, shared by every
/// process that verifies for one API (over Redis, a database), so that a copy sent to another
/// process is refused too — Kotlin and Swift implement it (an interface, a protocol) and give
/// it to the `Verifier`'s constructor as `replayStore` — or [`memory_replay_store`], shared
/// by several verifiers of one process.
///
/// To share a Redis with `xnonce-server` and the Python and Node stores, name and expire the
/// keys as they do (PROTOCOL §11.4, *Shared keys*): `SET xnonce:replay:{K'} 1 NX PX d`, where
/// `K'` is `key` with each `{` and `}` replaced by `_`, and `d` is `max(expires_at_ms −
/// now_ms, 0) + 1000` (a relative expiry, counted on Redis's clock).
#[uniffi::export(rust, foreign)]
pub trait ReplayStore: Send + Sync {
    /// Records `key` until `expires_at_ms` (ms since the epoch) unless it is recorded and
    /// unexpired at `now_ms`, atomically: `true` the first time (the request is accepted),
    /// `false` for a copy (refused `replayed`). Throw `ReplayStoreError` (or any error) when
    /// the store cannot answer: the request is refused `store_unavailable` (503), and the
    /// error's words, which may name hosts or hold credentials, are the application's to log,
    /// never part of the refusal. Called from the thread that called `verify_once`, after the
    /// request was verified, with no lock of the verifier held.
    fn insert_if_absent(
        &self,
        key: String,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Result<bool, ReplayStoreError>;
}

/// What a [`ReplayStore`] throws when it cannot answer; the request is then refused
/// `store_unavailable`. Any other error the application's store throws counts the same.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Error)]
pub enum ReplayStoreError {
    /// The store could not answer (unreachable, timed out, refused the command).
    Unavailable {
        /// Why, for the application's own log: never sent to the client.
        reason: String,
    },
}

impl std::fmt::Display for ReplayStoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplayStoreError::Unavailable { reason } => {
                write!(f, "replay store unavailable: {reason}")
            }
        }
    }
}

impl std::error::Error for ReplayStoreError {}

impl From<uniffi::UnexpectedUniFFICallbackError> for ReplayStoreError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        ReplayStoreError::Unavailable { reason: e.reason }
    }
}

/// A replay store in this process's memory (core's in-memory store: atomic, expired keys
/// dropped as it fills) for several verifiers of one process to share — each verifier given
/// it as `replayStore` refuses a copy of a request another one accepted, which their own
/// memories (the default) would accept once each.
#[uniffi::export]
pub fn memory_replay_store() -> Arc<dyn ReplayStore> {
    Arc::new(InMemory(MemoryReplayStore::new()))
}

/// [`memory_replay_store`]'s store.
struct InMemory(MemoryReplayStore);

impl ReplayStore for InMemory {
    fn insert_if_absent(
        &self,
        key: String,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Result<bool, ReplayStoreError> {
        xnonce_core::ReplayStore::insert_if_absent(
            &self.0,
            &ReplayKey::new(key),
            expires_at_ms,
            now_ms,
        )
        .map_err(|e| ReplayStoreError::Unavailable { reason: e.0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_store_records_each_key_until_its_expiry() {
        let store = memory_replay_store();
        assert_eq!(
            store.insert_if_absent("v2:c:n".into(), 2_000, 1_000),
            Ok(true)
        );
        assert_eq!(
            store.insert_if_absent("v2:c:n".into(), 2_000, 2_000),
            Ok(false)
        );
        assert_eq!(
            store.insert_if_absent("v2:c:n".into(), 3_001, 2_001),
            Ok(true)
        );
        assert_eq!(
            store.insert_if_absent("v2:c:m".into(), 3_001, 2_001),
            Ok(true)
        );
    }
}
