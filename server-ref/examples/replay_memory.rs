//! Memory per remembered replay key of the in-process replay stores.
//!
//! ```text
//! cargo run --release -p xnonce-server --example replay_memory [-- N]
//! ```
//!
//! Inserts N (default 1,000,000) distinct, realistic v2 replay keys (`v2:<client>:<32 hex
//! nonce>`, 200 clients, random 128-bit nonces, expiry = request timestamp + 30 s with
//! timestamps spread over the last 30 s) into each store and reports the heap bytes it holds
//! per key, counted by a `#[global_allocator]` that tracks live bytes (after − before, the
//! keys' own text freed), its peak during the inserts, and the process RSS delta from
//! `/proc/self/status` as a cross-check. The baseline, measured in the same run, is the raw
//! payload of one entry in a flat `Vec<([u8; 16], u64)>`: a 16-byte digest and an 8-byte
//! expiry. Every store is dropped before the next one is measured.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use xnonce_core::{MemoryReplayStore, ReplayKey, ReplayStore};
use xnonce_server::{AsyncReplayStore, JournalStore, MemoryStore};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = LIVE.fetch_add(n, Relaxed) + n;
    PEAK.fetch_max(now, Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Resident set size of this process in bytes.
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// splitmix64: deterministic stand-in for the clients' random nonces.
struct Nonces(u64);

impl Nonces {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

const NOW_MS: u64 = 1_700_000_000_000;
const WINDOW_MS: u64 = 30_000;

/// Calls `insert(key, expires_at_ms)` for N distinct realistic keys.
fn insert_keys(n: usize, mut insert: impl FnMut(&str, u64)) {
    let mut rng = Nonces(42);
    let mut key = String::with_capacity(64);
    for i in 0..n {
        let (a, b) = (rng.next(), rng.next());
        let timestamp = NOW_MS - rng.next() % WINDOW_MS;
        key.clear();
        key.push_str(&format!("v2:svc-{:03}:{a:016x}{b:016x}", i % 200));
        insert(&key, timestamp + WINDOW_MS);
    }
}

struct Row {
    name: &'static str,
    bytes: usize,
    peak: usize,
    rss: isize,
}

fn measure(name: &'static str, run: impl FnOnce() -> Box<dyn std::any::Any>) -> Row {
    let (live0, rss0) = (LIVE.load(Relaxed), rss());
    PEAK.store(live0, Relaxed);
    let kept = run();
    let row = Row {
        name,
        bytes: LIVE.load(Relaxed) - live0,
        peak: PEAK.load(Relaxed) - live0,
        rss: rss() as isize - rss0 as isize,
    };
    drop(kept);
    row
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("xnonce-replay-memory-{}", std::process::id()));
    let mut rows = Vec::new();

    rows.push(measure("baseline: Vec<([u8; 16], u64)>", || {
        let mut v: Vec<([u8; 16], u64)> = Vec::with_capacity(n);
        insert_keys(n, |k, exp| {
            v.push((xnonce_core::replay::key_digest(k), exp))
        });
        Box::new(v)
    }));
    rows.push(measure("core MemoryReplayStore", || {
        let s = MemoryReplayStore::new();
        insert_keys(n, |k, exp| {
            assert_eq!(
                s.insert_if_absent(&ReplayKey::from(k), exp, NOW_MS),
                Ok(true)
            )
        });
        assert_eq!(s.len(), n);
        Box::new(s)
    }));
    rows.push(measure("server MemoryStore (persist = false)", || {
        let s = MemoryStore::new();
        insert_keys(n, |k, exp| {
            let r = futures_util::FutureExt::now_or_never(s.insert_if_absent(
                &ReplayKey::from(k),
                exp,
                NOW_MS,
            ));
            assert_eq!(r, Some(Ok(true)));
        });
        assert_eq!(s.len(), n);
        Box::new(s)
    }));
    rows.push(measure(
        "server JournalStore (persist = true, default)",
        || {
            let s = JournalStore::open(&dir, NOW_MS).expect("journal in the temp dir");
            insert_keys(n, |k, exp| {
                let r = futures_util::FutureExt::now_or_never(s.insert_if_absent(
                    &ReplayKey::from(k),
                    exp,
                    NOW_MS,
                ));
                assert_eq!(r, Some(Ok(true)));
            });
            assert_eq!(s.len(), n);
            Box::new(s)
        },
    ));
    let _ = std::fs::remove_dir_all(&dir);

    let base = rows[0].bytes as f64 / n as f64;
    println!("{n} distinct v2 replay keys per store (200 clients, 128-bit nonces, 30 s window)");
    println!("| store | heap B/key | ratio to baseline | peak heap B/key during inserts | RSS delta B/key | ≤ 100 B/key |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for r in &rows {
        let per = r.bytes as f64 / n as f64;
        println!(
            "| {} | {:.1} | {:.2}× | {:.1} | {:.1} | {} |",
            r.name,
            per,
            per / base,
            r.peak as f64 / n as f64,
            r.rss as f64 / n as f64,
            if per <= 100.0 { "met" } else { "NOT met" }
        );
    }
}
