//! Replay protection: a store that remembers accepted request ids until they would be stale
//! anyway, with an atomic insert-if-absent so that N concurrent copies are accepted once.

use std::fmt;
use std::sync::Mutex;

mod key;
pub mod shared;
mod table;

pub use key::{key_digest, ReplayKey};
pub use table::{DigestTable, Prefetcher, DROP_GRACE_MS};

/// How many slots of a [`DigestTable`] a store's periodic eviction scans per hold of its lock
/// (1.5 MiB of slots: a fraction of a millisecond).
pub const EVICTION_PART: usize = 1 << 16;

/// The replay store could not answer; the request must be refused (fail closed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayStoreError(pub String);

impl fmt::Display for ReplayStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "replay store unavailable: {}", self.0)
    }
}

impl std::error::Error for ReplayStoreError {}

/// What a replay store's answer about a verified request means: `Ok(true)` (recorded: the
/// first copy) accepts it; `Ok(false)` (recorded before) refuses it `replayed`; a store that
/// could not answer refuses it `store_unavailable`, whose message does not repeat the store's
/// own words (they may name hosts, or hold credentials): log those where the store is known.
/// [`Verifier::verify_once`](crate::Verifier::verify_once) and servers that await a store
/// (the reference server's Redis, the Node middleware's `store`) answer alike.
///
/// ```
/// use xnonce_core::{replay::recorded, ErrorCode, ReplayStoreError};
/// assert!(recorded(Ok(true)).is_ok());
/// assert_eq!(recorded(Ok(false)).unwrap_err().code(), ErrorCode::Replayed);
/// let down = recorded(Err(ReplayStoreError("redis://:pw@10.0.0.5 refused".into()))).unwrap_err();
/// assert_eq!(down.code(), ErrorCode::StoreUnavailable);
/// assert!(!down.message().contains("10.0.0.5"));
/// ```
pub fn recorded(answer: Result<bool, ReplayStoreError>) -> crate::Result<()> {
    match answer {
        Ok(true) => Ok(()),
        Ok(false) => Err(crate::Error::new(
            crate::ErrorCode::Replayed,
            "ottoken already used",
        )),
        Err(_) => Err(crate::Error::new(
            crate::ErrorCode::StoreUnavailable,
            "replay store unavailable",
        )),
    }
}

/// A store of accepted replay keys.
///
/// Keys come as [`ReplayKey`]s: a store shared between servers records the text, an
/// in-process one its [`ReplayKey::digest`] (computed once per key, however often asked).
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use xnonce_core::{ReplayKey, ReplayStore, ReplayStoreError};
/// // A store of your own: key text → expiry (a shared store does this in one atomic call).
/// struct MyStore(Mutex<HashMap<String, u64>>);
/// impl ReplayStore for MyStore {
///     fn insert_if_absent(&self, key: &ReplayKey, expires_at_ms: u64, now_ms: u64) -> Result<bool, ReplayStoreError> {
///         let mut map = self.0.lock().map_err(|_| ReplayStoreError("poisoned".into()))?;
///         match map.get(key.as_str()) {
///             // Recorded until `until`: still present at `now_ms == until` (PROTOCOL §11.4).
///             Some(&until) if until >= now_ms => Ok(false),
///             _ => {
///                 map.insert(key.to_string(), expires_at_ms);
///                 Ok(true)
///             }
///         }
///     }
/// }
/// let store = MyStore(Mutex::default());
/// let key = ReplayKey::new("v2:svc:00112233445566778899aabbccddeeff");
/// assert_eq!(store.insert_if_absent(&key, 31_000, 1_000), Ok(true));
/// assert_eq!(store.insert_if_absent(&key, 31_000, 2_000), Ok(false)); // `replayed`
/// // Still present at its expiry: a copy stamped `window` ago is fresh at that instant.
/// assert_eq!(store.insert_if_absent(&key, 61_000, 31_000), Ok(false));
/// assert_eq!(store.insert_if_absent(&key, 61_001, 31_001), Ok(true)); // expired: new again
/// ```
pub trait ReplayStore {
    /// Atomically records `key` until `expires_at_ms` unless it is already recorded and not
    /// expired at `now_ms` (a key recorded until `t` is still present at `now_ms == t`, when a
    /// copy of its request is still fresh). `Ok(true)`: first time, accept. `Ok(false)`: replay.
    fn insert_if_absent(
        &self,
        key: &ReplayKey,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Result<bool, ReplayStoreError>;

    /// A hint that `key` will soon be inserted: an in-process store may start fetching the
    /// memory it will probe (the verifier calls this as soon as it has read the credential,
    /// before checking the signature, so the key is not yet authenticated). Changes nothing;
    /// the default does nothing.
    fn prefetch(&self, key: &ReplayKey) {
        let _ = key;
    }
}

/// An in-process store: 16-byte key digests and their expiry in a [`DigestTable`] under one
/// mutex. Expired entries are dropped as the table fills up, so memory stays proportional to
/// the number of live (unexpired) keys; [`ReplayStore::prefetch`] fetches a key's slot
/// without taking the lock.
///
/// ```
/// use xnonce_core::{MemoryReplayStore, ReplayKey, ReplayStore};
/// let store = MemoryReplayStore::new();
/// let key = ReplayKey::new("v2:c:n");
/// assert_eq!(store.insert_if_absent(&key, 2_000, 1_000), Ok(true));
/// assert_eq!(store.insert_if_absent(&key, 2_000, 1_500), Ok(false));
/// assert_eq!(store.insert_if_absent(&key, 4_000, 2_001), Ok(true)); // expired, new again
/// assert_eq!(store.len(), 1);
/// store.evict_expired(4_001); // what a server's periodic sweep calls
/// assert_eq!(store.len(), 1); // kept DROP_GRACE_MS (1 s) past its expiry
/// store.evict_expired(5_001);
/// assert!(store.is_empty());
/// ```
pub struct MemoryReplayStore {
    entries: Mutex<DigestTable>,
    prefetcher: Prefetcher,
}

impl Default for MemoryReplayStore {
    fn default() -> Self {
        let entries = DigestTable::new();
        MemoryReplayStore {
            prefetcher: entries.prefetcher(),
            entries: Mutex::new(entries),
        }
    }
}

impl MemoryReplayStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of remembered keys (expired ones may linger until the next sweep).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry expired for more than [`DROP_GRACE_MS`] at `now_ms` (a caller whose
    /// clock read earlier may still insert a copy of its request: see [`DigestTable`]).
    ///
    /// The table is scanned in parts of [`EVICTION_PART`] slots, the lock released between
    /// them, so inserts wait at most for one part.
    pub fn evict_expired(&self, now_ms: u64) {
        let mut from = 0;
        while let Some(next) = self.lock().evict_expired_part(from, EVICTION_PART, now_ms) {
            from = next;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DigestTable> {
        // The table's operations do not panic midway; keep serving after a poisoned lock.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Builds the hasher of the stores' maps, whose keys are [`key_digest`]s: already uniform
/// SHA-256 output, so SipHash (the std default) spends its rounds for nothing. Each 8 bytes
/// are mixed by one folded 64×64→128-bit multiply under a key drawn from std's random
/// `RandomState` per builder (foldhash's construction), so which digests share a bucket
/// cannot be worked out from outside.
///
/// ```
/// use std::collections::HashMap;
/// use xnonce_core::replay::{key_digest, DigestHashBuilder};
/// let mut m: HashMap<[u8; 16], u64, DigestHashBuilder> = HashMap::default();
/// m.insert(key_digest("v2:svc:00112233445566778899aabbccddeeff"), 1_700_000_030_000);
/// assert_eq!(m.len(), 1);
/// ```
#[derive(Clone, Copy)]
pub struct DigestHashBuilder {
    seed: u64,
    multiplier: u64,
}

impl Default for DigestHashBuilder {
    fn default() -> Self {
        use std::hash::BuildHasher;
        let random = std::collections::hash_map::RandomState::new();
        DigestHashBuilder {
            seed: random.hash_one(0x5eed_u64),
            // Odd, so the multiply loses no bits.
            multiplier: random.hash_one(0x6d75_u64) | 1,
        }
    }
}

impl fmt::Debug for DigestHashBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DigestHashBuilder")
    }
}

impl std::hash::BuildHasher for DigestHashBuilder {
    type Hasher = DigestHasher;
    fn build_hasher(&self) -> DigestHasher {
        DigestHasher {
            state: self.seed,
            multiplier: self.multiplier,
        }
    }
}

/// The hasher made by [`DigestHashBuilder`].
#[derive(Debug, Clone)]
pub struct DigestHasher {
    state: u64,
    multiplier: u64,
}

impl DigestHasher {
    fn mix(&mut self, word: u64) {
        let p = u128::from(self.state ^ word) * u128::from(self.multiplier);
        self.state = (p as u64) ^ ((p >> 64) as u64);
    }
}

impl std::hash::Hasher for DigestHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            self.mix(u64::from_le_bytes(b));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            // The length tells `ab` from `ab\0`.
            self.mix(u64::from_le_bytes(b) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn finish(&self) -> u64 {
        self.state
    }
}

impl ReplayStore for MemoryReplayStore {
    fn insert_if_absent(
        &self,
        key: &ReplayKey,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Result<bool, ReplayStoreError> {
        let digest = *key.digest();
        Ok(self.lock().insert_if_absent(digest, expires_at_ms, now_ms))
    }

    fn prefetch(&self, key: &ReplayKey) {
        self.prefetcher.prefetch(key.digest());
    }
}

impl<T: ReplayStore + ?Sized> ReplayStore for std::sync::Arc<T> {
    fn insert_if_absent(
        &self,
        key: &ReplayKey,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Result<bool, ReplayStoreError> {
        (**self).insert_if_absent(key, expires_at_ms, now_ms)
    }

    fn prefetch(&self, key: &ReplayKey) {
        (**self).prefetch(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_hasher_spreads_digests_and_depends_on_every_byte() {
        use std::hash::BuildHasher;
        let b = DigestHashBuilder::default();
        let d = key_digest("v2:svc:00112233445566778899aabbccddeeff");
        let h = b.hash_one(d);
        for i in 0..16 {
            let mut e = d;
            e[i] ^= 1;
            assert_ne!(b.hash_one(e), h, "byte {i}");
        }
        // Two builders are keyed differently.
        assert_ne!(DigestHashBuilder::default().hash_one(d), h);
        // 4096 digests over 64 slots (the low bits a `DigestTable` uses): none near empty or full.
        let mut buckets = [0u32; 64];
        for i in 0..4096 {
            buckets[(b.hash_one(key_digest(&format!("k{i}"))) & 63) as usize] += 1;
        }
        assert!(
            buckets.iter().all(|&n| (20..=120).contains(&n)),
            "{buckets:?}"
        );
        // Lengths are part of the hash.
        assert_ne!(b.hash_one(b"ab".as_slice()), b.hash_one(b"ab\0".as_slice()));
        // Also within one `write`, whose tail is zero-padded to a word: `hash_one` of a slice
        // writes its length first, so only a bare `write` shows the tail's length is mixed.
        let written = |bytes: &[u8]| {
            let mut h = b.build_hasher();
            std::hash::Hasher::write(&mut h, bytes);
            std::hash::Hasher::finish(&h)
        };
        for (short, padded) in [
            (&b"ab"[..], &b"ab\0"[..]),
            (&b""[..], &b"\0"[..]),
            (&b"12345678a"[..], &b"12345678a\0\0"[..]),
        ] {
            assert_ne!(written(short), written(padded), "{short:?} {padded:?}");
        }
    }

    #[test]
    fn sweeps_keep_memory_bounded() {
        let s = MemoryReplayStore::new();
        for i in 0..10_000u64 {
            assert_eq!(
                s.insert_if_absent(&ReplayKey::new(format!("k{i}")), i + 10, i),
                Ok(true)
            );
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
                            .filter(|_| s.insert_if_absent(&"same".into(), 1_000, 1).unwrap())
                            .count()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(accepted, 1);
    }

    /// Many threads insert the same keys while the table grows under them (every thread
    /// walks the keys in its own order, so each key is raced by all of them) and an evictor
    /// sweeps in parts: each key is accepted exactly once.
    #[test]
    fn racing_threads_accept_each_key_once_through_growth_and_sweeps() {
        const THREADS: usize = 8;
        const KEYS: u64 = 40_000;
        let s = std::sync::Arc::new(MemoryReplayStore::new());
        let keys: Vec<ReplayKey> = (0..KEYS)
            .map(|i| ReplayKey::new(format!("v2:c:{i}")))
            .collect();
        let done = std::sync::atomic::AtomicBool::new(false);
        let accepted: Vec<u32> = std::thread::scope(|scope| {
            // Sweeps at a time when nothing has expired: they drop nothing, but shrink and
            // move entries between inserts.
            scope.spawn(|| {
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    s.evict_expired(5_000);
                }
            });
            let hs: Vec<_> = (0..THREADS)
                .map(|t| {
                    let (s, keys) = (&s, &keys);
                    scope.spawn(move || {
                        let mut won = vec![0u32; KEYS as usize];
                        for n in 0..KEYS {
                            // A different order per thread (an odd stride visits every key).
                            let i = ((n * (2 * t as u64 + 1)) + t as u64 * 977) % KEYS;
                            if s.insert_if_absent(&keys[i as usize], 10_000, 1_000)
                                .unwrap()
                            {
                                won[i as usize] += 1;
                            }
                        }
                        won
                    })
                })
                .collect();
            let per_thread: Vec<Vec<u32>> = hs.into_iter().map(|h| h.join().unwrap()).collect();
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            (0..KEYS as usize)
                .map(|i| per_thread.iter().map(|w| w[i]).sum())
                .collect()
        });
        for (i, n) in accepted.iter().enumerate() {
            assert_eq!(*n, 1, "key {i} accepted {n} times");
        }
        assert_eq!(s.len(), KEYS as usize);
    }

    /// At the end of a key's life: callers whose clocks read up to its expiry race to insert
    /// a copy while others, whose clocks read up to DROP_GRACE_MS later, flood the table with
    /// new keys (forcing in-place drops and growth) and sweep it. No copy is accepted.
    #[test]
    fn copies_at_the_expiry_boundary_are_refused_while_later_callers_make_room() {
        const EXPIRY: u64 = 100_000;
        for round in 0..20u64 {
            let s = std::sync::Arc::new(MemoryReplayStore::new());
            let victims: Vec<ReplayKey> = (0..200)
                .map(|i| ReplayKey::new(format!("v2:victim:{round}:{i}")))
                .collect();
            for k in &victims {
                assert_eq!(s.insert_if_absent(k, EXPIRY, EXPIRY - 30_000), Ok(true));
            }
            // Plenty of short-lived filler that has expired for longer than the grace, so
            // that room is made by dropping and reusing slots.
            for i in 0..700 {
                let k = ReplayKey::new(format!("filler:{round}:{i}"));
                assert_eq!(s.insert_if_absent(&k, 10, 0), Ok(true));
            }
            let replays: usize = std::thread::scope(|scope| {
                let mut hs = Vec::new();
                for t in 0..4u64 {
                    let (s, victims) = (&s, &victims);
                    // Clocks read 0–3 ms before the expiry, or at it.
                    hs.push(scope.spawn(move || {
                        let mut n = 0;
                        for _ in 0..20 {
                            for k in victims {
                                if s.insert_if_absent(k, EXPIRY + 30_000, EXPIRY - t).unwrap() {
                                    n += 1;
                                }
                            }
                        }
                        n
                    }));
                }
                for t in 0..3u64 {
                    let s = &s;
                    // Clocks read as late as a key may still be needed: up to the grace.
                    let now = EXPIRY + DROP_GRACE_MS - t;
                    hs.push(scope.spawn(move || {
                        for i in 0..20_000 {
                            let k = ReplayKey::new(format!("late:{round}:{t}:{i}"));
                            assert_eq!(s.insert_if_absent(&k, now + 5, now), Ok(true));
                            if i % 2_000 == 0 {
                                s.evict_expired(now);
                            }
                        }
                        0
                    }));
                }
                hs.into_iter().map(|h| h.join().unwrap()).sum()
            });
            assert_eq!(replays, 0, "round {round}: a copy was accepted");
            // Past the grace the keys may go, and a copy is new again (it would be refused
            // `expired` before reaching the store).
            s.evict_expired(EXPIRY + 1 + DROP_GRACE_MS);
            for k in &victims {
                assert_eq!(s.insert_if_absent(k, EXPIRY + 40_000, EXPIRY + 1), Ok(true));
            }
        }
    }

    /// One key raced by many threads per round, round after round, at the boundary itself:
    /// each round's copies (clocks at its expiry) refused, the next round's (clock a
    /// millisecond later) accepted exactly once.
    #[test]
    fn each_life_of_a_key_is_accepted_once() {
        let s = std::sync::Arc::new(MemoryReplayStore::new());
        let key = ReplayKey::new("v2:c:same");
        for round in 0..500u64 {
            let now = round * 10;
            let accepted: usize = std::thread::scope(|scope| {
                let hs: Vec<_> = (0..6)
                    .map(|_| {
                        let (s, key) = (&s, &key);
                        scope.spawn(move || {
                            (0..20)
                                .filter(|_| s.insert_if_absent(key, now + 9, now).unwrap())
                                .count()
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).sum()
            });
            assert_eq!(accepted, 1, "round {round}");
            assert_eq!(s.insert_if_absent(&key, now + 9, now + 9), Ok(false));
        }
    }
}
