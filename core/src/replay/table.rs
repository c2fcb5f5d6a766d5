//! The in-process replay stores' table: each remembered key's 16-byte digest and its expiry in
//! one flat array, probed linearly from a slot that the digest (under a per-table random key)
//! determines.
//!
//! Why not a `HashMap`: a server remembers every request of the last window (≈ 10⁵ keys a
//! second × 30 s), far more than the caches hold, so each insert costs a miss to memory. Here
//! the slot a key will be probed at is known as soon as the key is, so a caller can
//! [`Prefetcher::prefetch`] it when it reads the request's credential and let the miss overlap
//! the signature check, before [`DigestTable::insert_if_absent`] runs under the store's lock.
//!
//! Expired entries are dropped in place (backward-shift deletion, no tombstones) when the
//! table fills up and by [`DigestTable::evict_expired`]; an insert also reuses an expired slot
//! it passes. Another key's entry is dropped or reused only [`DROP_GRACE_MS`] after it expired:
//! callers read their clocks before they take the store's lock, so one whose reading was just
//! before an entry's expiry may insert (a replay of) that key just after another, with a later
//! reading, made room — with no grace it would find the key gone and accept the replay.
//!
//! When 3/4 of the slots are used the expired entries are dropped, and the table
//! doubles if 5/8 are still used; it shrinks when less than an eighth is used. So 24-byte
//! slots hold between 3/8 and 3/4 live entries: 32–64 bytes per remembered key, 96 at most
//! while a resize holds the old and the new array.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use super::DigestHashBuilder;

/// The fewest slots a table has.
const MIN_SLOTS: usize = 1024;

/// How long after its expiry an entry may still be dropped or its slot given to another key
/// (see the module docs): far more than the time between a verifier's clock reading and its
/// insert, as the shared store's keys outlive their expiry by `shared::CLOCK_MARGIN_MS`.
pub const DROP_GRACE_MS: u64 = 1_000;

#[derive(Clone, Copy, Default)]
#[repr(C)]
struct Slot {
    digest: [u8; 16],
    /// The expiry (ms) plus one; 0 marks an empty slot.
    until: u64,
}

impl Slot {
    fn is_empty(&self) -> bool {
        self.until == 0
    }

    /// Still remembered at `now_ms` (a key recorded until `t` counts as present at `t`).
    fn is_live(&self, now_ms: u64) -> bool {
        self.until > now_ms
    }

    /// Expired for longer than [`DROP_GRACE_MS`] at `now_ms`: its slot may be emptied or
    /// given to another key.
    fn is_droppable(&self, now_ms: u64) -> bool {
        self.until.saturating_add(DROP_GRACE_MS) <= now_ms
    }
}

/// Where the table's slots are, for prefetching without the store's lock.
struct Location {
    hasher: DigestHashBuilder,
    base: AtomicUsize,
    mask: AtomicUsize,
}

impl Location {
    /// The slot a probe for `digest` starts at, in a table of `mask + 1` slots.
    fn home(&self, digest: &[u8; 16], mask: usize) -> usize {
        (self.hasher.hash_one(digest) as usize) & mask
    }
}

/// What a probe for a digest found, walking from its home to the first empty slot.
struct Probe {
    /// The slot holding the digest (live or expired), if any: the walk stops there.
    found: Option<usize>,
    /// The first slot on the way holding an entry that may be dropped (expired for more
    /// than [`DROP_GRACE_MS`]).
    first_droppable: Option<usize>,
    /// The empty slot that ended the walk (meaningless when `found`).
    empty: usize,
}

/// Replay keys' digests and their expiry (see the module docs).
///
/// ```
/// use xnonce_core::replay::{key_digest, DigestTable};
/// let mut t = DigestTable::new();
/// let d = key_digest("v2:svc:00112233445566778899aabbccddeeff");
/// t.prefetcher().prefetch(&d); // only a hint to the CPU
/// assert!(t.insert_if_absent(d, 2_000, 1_000)); // first time
/// assert!(!t.insert_if_absent(d, 2_000, 2_000)); // replay: still remembered at its expiry
/// assert!(t.insert_if_absent(d, 4_000, 2_001)); // expired: new again
/// ```
pub struct DigestTable {
    slots: Vec<Slot>,
    /// Slots not empty (live or expired).
    used: usize,
    location: Arc<Location>,
}

impl Default for DigestTable {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for DigestTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestTable")
            .field("entries", &self.used)
            .field("slots", &self.slots.len())
            .finish()
    }
}

impl DigestTable {
    /// An empty table.
    pub fn new() -> Self {
        let slots = vec![Slot::default(); MIN_SLOTS];
        let location = Arc::new(Location {
            hasher: DigestHashBuilder::default(),
            base: AtomicUsize::new(slots.as_ptr() as usize),
            mask: AtomicUsize::new(MIN_SLOTS - 1),
        });
        DigestTable {
            slots,
            used: 0,
            location,
        }
    }

    /// Entries held (expired ones included until they are dropped).
    pub fn len(&self) -> usize {
        self.used
    }

    /// True when no entry is held.
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// A handle that prefetches the slot a digest will be probed at, usable without access to
    /// the table (so without the lock that guards it).
    pub fn prefetcher(&self) -> Prefetcher {
        Prefetcher(self.location.clone())
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    fn home(&self, digest: &[u8; 16]) -> usize {
        self.location.home(digest, self.mask())
    }

    /// The one walk every lookup makes: from the digest's home to the digest or to the first
    /// empty slot (there is one: at most 3/4 of the slots are ever used).
    fn probe(&self, digest: &[u8; 16], now_ms: u64) -> Probe {
        let mask = self.mask();
        let mut i = self.home(digest);
        let mut first_droppable = None;
        while !self.slots[i].is_empty() {
            if self.slots[i].digest == *digest {
                return Probe {
                    found: Some(i),
                    first_droppable,
                    empty: i,
                };
            }
            if first_droppable.is_none() && self.slots[i].is_droppable(now_ms) {
                first_droppable = Some(i);
            }
            i = (i + 1) & mask;
        }
        Probe {
            found: None,
            first_droppable,
            empty: i,
        }
    }

    /// Puts `slot` into the empty slot `i`; true when the table is then 3/4 used.
    fn occupy(&mut self, i: usize, slot: Slot) -> bool {
        self.slots[i] = slot;
        self.used += 1;
        self.used * 4 >= self.slots.len() * 3
    }

    /// Records `digest` until `expires_at_ms` unless it is recorded and still live at
    /// `now_ms` (then `false`: a replay). An expiry of `u64::MAX` is kept as `u64::MAX − 1`.
    pub fn insert_if_absent(&mut self, digest: [u8; 16], expires_at_ms: u64, now_ms: u64) -> bool {
        let slot = Slot {
            digest,
            until: expires_at_ms.saturating_add(1),
        };
        let probe = self.probe(&digest, now_ms);
        match (probe.found, probe.first_droppable) {
            (Some(i), _) if self.slots[i].is_live(now_ms) => return false,
            (Some(i), _) => self.slots[i] = slot,
            // Absent from its whole probe sequence: a droppable slot on the way is as good a
            // place as the empty one ending it (every slot before it stays non-empty for
            // other probes).
            (None, Some(i)) => self.slots[i] = slot,
            (None, None) => {
                if self.occupy(probe.empty, slot) {
                    self.make_room(now_ms);
                }
            }
        }
        true
    }

    /// True when `digest` is recorded and still live at `now_ms`.
    pub fn is_live(&self, digest: &[u8; 16], now_ms: u64) -> bool {
        let probe = self.probe(digest, now_ms);
        probe.found.is_some_and(|i| self.slots[i].is_live(now_ms))
    }

    /// Records `digest` until `expires_at_ms`, or until its recorded expiry if that is later
    /// (for loading saved entries, where the same key may appear more than once).
    pub fn remember(&mut self, digest: [u8; 16], expires_at_ms: u64) {
        let until = expires_at_ms.saturating_add(1);
        let probe = self.probe(&digest, 0);
        if let Some(i) = probe.found {
            self.slots[i].until = self.slots[i].until.max(until);
        } else if self.occupy(probe.empty, Slot { digest, until }) {
            // Nothing is expired at time 0: grow at once.
            self.resize(self.slots.len() * 2);
        }
    }

    /// Drops every entry expired for more than [`DROP_GRACE_MS`] at `now_ms`, and shrinks
    /// the table when it is mostly empty.
    pub fn evict_expired(&mut self, now_ms: u64) {
        let mut from = 0;
        while let Some(next) = self.evict_expired_part(from, usize::MAX, now_ms) {
            from = next;
        }
    }

    /// [`DigestTable::evict_expired`] in parts, so that a store can release its lock between
    /// them (a big table takes tens of ms to scan): drops the expired entries among `count`
    /// slots from slot `from`, and returns where to go on, or `None` once the last slot was
    /// looked at (the table then shrinks if it is mostly empty). Inserts and resizes between
    /// the parts are safe: every entry stays reachable whatever the order of calls, and a pass
    /// from slot 0 until `None` leaves no entry that was droppable (expired for more than
    /// [`DROP_GRACE_MS`]) at `now_ms` when it began.
    pub fn evict_expired_part(&mut self, from: usize, count: usize, now_ms: u64) -> Option<usize> {
        let end = from.saturating_add(count).min(self.slots.len());
        self.drop_expired_in(from, end, now_ms);
        if end < self.slots.len() {
            return Some(end);
        }
        if self.slots.len() > MIN_SLOTS && self.used * 8 < self.slots.len() {
            self.resize(slots_for(self.used));
        }
        None
    }

    /// Every entry: its digest and expiry (ms), expired ones included until they are dropped.
    pub fn iter(&self) -> impl Iterator<Item = ([u8; 16], u64)> + '_ {
        self.slots
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| (s.digest, s.until - 1))
    }

    /// The table is 3/4 used: drop the expired entries, and grow if 5/8 is still used.
    fn make_room(&mut self, now_ms: u64) {
        self.drop_expired(now_ms);
        if self.used * 8 >= self.slots.len() * 5 {
            self.resize(self.slots.len() * 2);
        }
    }

    /// Drops the expired entries in place.
    fn drop_expired(&mut self, now_ms: u64) {
        self.drop_expired_in(0, self.slots.len(), now_ms);
    }

    /// Drops the expired entries in slots `from..end`. A removal moves entries back only into
    /// its own slot or slots after it in the same run, which this scan still looks at; the
    /// exception, a run wrapping around the end of the array, moves entries from its start
    /// (already looked at, so live) to the end: a scan of every slot misses no expired entry.
    fn drop_expired_in(&mut self, from: usize, end: usize, now_ms: u64) {
        let mut i = from;
        while i < end {
            let slot = self.slots[i];
            if !slot.is_empty() && slot.is_droppable(now_ms) {
                // An entry from further on may have moved into `i`: look at `i` again.
                self.remove_at(i);
            } else {
                i += 1;
            }
        }
    }

    /// Empties slot `hole`, moving back the entries after it in its run of used slots that may
    /// move (those whose home is not between the hole and where they are), so that every
    /// entry stays reachable from its home without crossing an empty slot.
    fn remove_at(&mut self, mut hole: usize) {
        let mask = self.mask();
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let slot = self.slots[j];
            if slot.is_empty() {
                break;
            }
            let home = self.home(&slot.digest);
            // Distances walked back from `j`: to its home, and to the hole.
            if j.wrapping_sub(home) & mask >= j.wrapping_sub(hole) & mask {
                self.slots[hole] = slot;
                hole = j;
            }
        }
        self.slots[hole] = Slot::default();
        self.used -= 1;
    }

    /// Moves every entry into a table of `n` slots (a power of two above the entries held).
    fn resize(&mut self, n: usize) {
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); n]);
        for slot in old.into_iter().filter(|s| !s.is_empty()) {
            // Digests are distinct: the probe ends at an empty slot.
            let i = self.probe(&slot.digest, 0).empty;
            self.slots[i] = slot;
        }
        self.location.mask.store(self.mask(), Relaxed);
        self.location
            .base
            .store(self.slots.as_ptr() as usize, Relaxed);
    }
}

/// A table size for `used` entries: a quarter full, at least [`MIN_SLOTS`].
fn slots_for(used: usize) -> usize {
    (used * 4).next_power_of_two().max(MIN_SLOTS)
}

/// Prefetches, for a [`DigestTable`], the slot a digest will be probed at (see
/// [`DigestTable::prefetcher`]). Cheap to clone; a hint only: it changes no state and is
/// harmless when the table has been rebuilt or dropped since.
#[derive(Clone)]
pub struct Prefetcher(Arc<Location>);

impl std::fmt::Debug for Prefetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prefetcher")
    }
}

impl Prefetcher {
    /// Asks the CPU to bring the first slot `digest` will be probed at into its caches.
    pub fn prefetch(&self, digest: &[u8; 16]) {
        let loc = &*self.0;
        let (base, mask) = (loc.base.load(Relaxed), loc.mask.load(Relaxed));
        let i = loc.home(digest, mask);
        let at = base.wrapping_add(i.wrapping_mul(std::mem::size_of::<Slot>()));
        // A slot may straddle two cache lines.
        prefetch_line(at);
        prefetch_line(at.wrapping_add(std::mem::size_of::<Slot>() - 1));
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn prefetch_line(addr: usize) {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
    // SAFETY: `prefetcht0` reads nothing into the program and never faults, whatever the
    // address: here a slot of the table as it was when `base` and `mask` were read, which may
    // have been reallocated or freed since. The pointer is never dereferenced.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(addr as *const i8) }
}

#[cfg(not(target_arch = "x86_64"))]
fn prefetch_line(_addr: usize) {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn d(i: u64) -> [u8; 16] {
        crate::replay::key_digest(&format!("k{i}"))
    }

    /// Every entry is reachable from its home without crossing an empty slot, `used` counts
    /// the used slots, and no digest is held twice.
    fn check_invariants(t: &DigestTable) {
        let mask = t.mask();
        let mut seen = std::collections::HashSet::new();
        let mut used = 0;
        for (j, s) in t.slots.iter().enumerate() {
            if s.is_empty() {
                continue;
            }
            used += 1;
            assert!(seen.insert(s.digest), "digest held twice");
            let mut i = t.home(&s.digest);
            while i != j {
                assert!(!t.slots[i].is_empty(), "entry at {j} cut off from its home");
                i = (i + 1) & mask;
            }
        }
        assert_eq!(used, t.used);
        assert!(t.used * 4 < t.slots.len() * 3, "table too full");
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// Insert key `key` with a life of `ttl` ms, `dt` ms after the previous step.
        Insert { key: u64, ttl: u64, dt: u64 },
        /// Evict, `dt` ms after the previous step.
        Evict { dt: u64 },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            // Short and long lives: the table both reuses and drops expired slots, and grows
            // past its smallest size (and shrinks back after long evictions).
            12 => (0u64..3000, prop_oneof![0u64..400, 0u64..20_000], 0u64..3)
                .prop_map(|(key, ttl, dt)| Op::Insert { key, ttl, dt }),
            1 => prop_oneof![0u64..50, 0u64..20_000].prop_map(|dt| Op::Evict { dt }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The table answers every insert as a plain map of digest → expiry under the rule of
        /// PROTOCOL §11.4 does, through growth, in-place drops, reuse of expired slots and
        /// shrinking, with time moving forward.
        #[test]
        fn answers_like_a_map(ops in proptest::collection::vec(op(), 1..4000)) {
            let mut t = DigestTable::new();
            let mut model: HashMap<[u8; 16], u64> = HashMap::new();
            let mut now = 0;
            for op in ops {
                match op {
                    Op::Insert { key, ttl, dt } => {
                        now += dt;
                        let k = d(key);
                        let expect = match model.get(&k) {
                            Some(&e) if e >= now => false,
                            _ => {
                                model.insert(k, now + ttl);
                                true
                            }
                        };
                        prop_assert_eq!(t.is_live(&k, now), !expect);
                        prop_assert_eq!(t.insert_if_absent(k, now + ttl, now), expect);
                    }
                    Op::Evict { dt } => {
                        now += dt;
                        // Kept until DROP_GRACE_MS after their expiry.
                        model.retain(|_, e| *e + DROP_GRACE_MS >= now);
                        if dt % 2 == 0 {
                            t.evict_expired(now);
                        } else {
                            // In parts of a few hundred slots.
                            let mut from = 0;
                            while let Some(next) = t.evict_expired_part(from, 300, now) {
                                check_invariants(&t);
                                from = next;
                            }
                        }
                        prop_assert_eq!(t.len(), model.len());
                        let held: HashMap<_, _> = t.iter().collect();
                        prop_assert_eq!(&held, &model);
                        check_invariants(&t);
                    }
                }
            }
            check_invariants(&t);
        }
    }

    /// A verifier reads its clock before it takes the store's lock: one that read it while a
    /// key was still remembered must find the key even when another, with a later reading,
    /// made room in between (else a replay at the end of a window is accepted).
    #[test]
    fn an_entry_outlives_its_expiry_by_the_grace_for_a_caller_whose_clock_read_earlier() {
        let mut t = DigestTable::new();
        let a = d(1);
        assert!(t.insert_if_absent(a, 1_000, 0));
        t.evict_expired(1_005); // a caller whose clock read 1,005
        assert!(!t.insert_if_absent(a, 1_030, 1_000), "replay accepted");
        // Gone once the grace has passed.
        t.evict_expired(1_001 + DROP_GRACE_MS);
        assert!(t.is_empty());
    }

    #[test]
    fn grows_keeps_every_live_entry_and_shrinks_when_they_expire() {
        let mut t = DigestTable::new();
        assert!(t.is_empty());
        assert_eq!(format!("{t:?}"), "DigestTable { entries: 0, slots: 1024 }");
        // The first 20,000 live longer.
        for i in 0..100_000 {
            assert!(t.insert_if_absent(d(i), if i < 20_000 { 2_000 } else { 1_000 }, 0));
        }
        check_invariants(&t);
        assert_eq!(t.len(), 100_000);
        assert!(!t.is_empty());
        assert!(t.slots.len() * 3 > 100_000 * 4);
        for i in 0..100_000 {
            assert!(!t.insert_if_absent(d(i), 1_000, 999), "key {i} forgotten");
        }
        // Less than an eighth used: shrinks to a quarter full (80,000 → 2^17 slots). (An
        // entry is dropped DROP_GRACE_MS after it expires.)
        t.evict_expired(1_001 + DROP_GRACE_MS);
        check_invariants(&t);
        assert_eq!((t.len(), t.slots.len()), (20_000, 1 << 17));
        for i in 0..20_000 {
            assert!(t.is_live(&d(i), 1_001), "key {i} forgotten");
        }
        t.evict_expired(2_001 + DROP_GRACE_MS);
        assert!(t.is_empty());
        assert_eq!(t.slots.len(), MIN_SLOTS);
        check_invariants(&t);
    }

    #[test]
    fn expired_entries_make_room_instead_of_growth() {
        // A steady stream with a short life, one every 10 ms (each kept for its life and
        // DROP_GRACE_MS: ≈ 100 at a time): the table stays at its smallest size.
        let mut t = DigestTable::new();
        for i in 0..50_000u64 {
            assert!(t.insert_if_absent(d(i), i * 10 + 10, i * 10));
        }
        assert_eq!(t.slots.len(), MIN_SLOTS);
        assert!(t.len() < MIN_SLOTS * 3 / 4, "{}", t.len());
        check_invariants(&t);
    }

    #[test]
    fn grows_only_while_5_8_stays_used_and_shrinks_below_an_eighth() {
        let mut t = DigestTable::new();
        for i in 0..400 {
            assert!(t.insert_if_absent(d(i), 1_000, 0));
        }
        for i in 400..767 {
            assert!(t.insert_if_absent(d(i), 10, 0));
        }
        // The 768th entry (3/4 of 1024), at 20 (+ the grace) on a probe past no expired slot:
        // the 367 expired entries are dropped and 401 stay, less than 5/8: no growth.
        let g = DROP_GRACE_MS;
        let k = (767..)
            .map(d)
            .find(|k| {
                let p = t.probe(k, 20 + g);
                p.found.is_none() && p.first_droppable.is_none()
            })
            .unwrap();
        assert!(t.insert_if_absent(k, 2_000, 20 + g));
        assert_eq!((t.len(), t.slots.len()), (401, 1024));
        // 367 more live ones: 3/4 used, nothing expired: it doubles.
        for i in 0..367 {
            let until = if i < 255 { 2_000 } else { 1_000 };
            assert!(t.insert_if_absent(d(1_000_000 + i), until, 20 + g));
        }
        assert_eq!((t.len(), t.slots.len()), (768, 2048));
        // More than an eighth used: evicting keeps the size.
        t.evict_expired(20 + g);
        assert_eq!((t.len(), t.slots.len()), (768, 2048));
        // Exactly an eighth (256 of 2048) is not less than an eighth.
        t.evict_expired(1_500 + g);
        assert_eq!((t.len(), t.slots.len()), (256, 2048));
        t.evict_expired(2_500 + g);
        assert_eq!((t.len(), t.slots.len()), (0, 1024));
        check_invariants(&t);
    }

    #[test]
    fn remember_grows_to_hold_every_saved_entry() {
        let mut t = DigestTable::new();
        for i in 0..5_000 {
            t.remember(d(i), 1_000);
        }
        check_invariants(&t);
        assert_eq!(t.len(), 5_000);
        for i in 0..5_000 {
            assert!(t.is_live(&d(i), 1_000), "key {i} forgotten");
        }
    }

    #[test]
    fn drops_across_the_end_of_the_array_keep_runs_reachable() {
        // Entries whose home is one of the last slots wrap to the start; dropping expired ones
        // there must shift the live ones back across the wrap.
        let mut t = DigestTable::new();
        let mask = t.mask();
        let near_end: Vec<[u8; 16]> = (0..)
            .map(d)
            .filter(|k| t.home(k) >= mask - 2)
            .take(12)
            .collect();
        for (n, k) in near_end.iter().enumerate() {
            // Every other one expires at 10, the rest at 100.
            let expires = if n % 2 == 0 { 10 } else { 100 };
            assert!(t.insert_if_absent(*k, expires, 0));
        }
        assert!(t.slots[0].until != 0, "the run did not wrap");
        t.evict_expired(50 + DROP_GRACE_MS);
        check_invariants(&t);
        assert_eq!(t.len(), 6);
        for (n, k) in near_end.iter().enumerate() {
            assert_eq!(t.insert_if_absent(*k, 200, 50), n % 2 == 0);
        }
    }

    #[test]
    fn remember_keeps_the_later_expiry() {
        let mut t = DigestTable::new();
        t.remember(d(1), 500);
        t.remember(d(1), 300);
        t.remember(d(2), 100);
        t.remember(d(2), 400);
        let held: HashMap<_, _> = t.iter().collect();
        assert_eq!(held, HashMap::from([(d(1), 500), (d(2), 400)]));
        assert!(!t.insert_if_absent(d(2), 900, 400));
    }

    #[test]
    fn the_latest_expiry_is_kept_as_the_one_before() {
        let mut t = DigestTable::new();
        assert!(t.insert_if_absent(d(1), u64::MAX, 0));
        assert!(!t.insert_if_absent(d(1), u64::MAX, u64::MAX - 1));
        assert_eq!(t.iter().next(), Some((d(1), u64::MAX - 1)));
    }

    #[test]
    fn prefetching_any_table_state_is_harmless() {
        let mut t = DigestTable::new();
        let p = t.prefetcher();
        assert_eq!(format!("{p:?}"), "Prefetcher");
        for i in 0..10_000 {
            p.prefetch(&d(i));
            t.insert_if_absent(d(i), 10, 0);
        }
        drop(t);
        // The table is gone: the hint points at freed memory, which a prefetch never reads.
        p.prefetch(&d(1));
    }
}
