//! The embedded default replay store, persisted in the data dir so that a restart does not
//! forget which requests were already accepted.
//!
//! Accepted keys live in memory (a 16-byte digest and an expiry each) and every acceptance is
//! appended to `<data dir>/replay.journal` (`<32 hex digest> <expiry ms>\n`) **before** the
//! request is answered. At start the journal is read back (expired lines dropped, the file
//! rewritten compactly); while running it is rewritten whenever it has grown to more than
//! twice the live entries. The append is a `write(2)` without `fsync`: it survives a crash or
//! `kill -9` of the server (the kernel holds the data), not a power loss of the machine.
//! If the journal cannot be written the request is refused with 503 `store_unavailable`.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use xnonce_core::replay::key_digest;
use xnonce_core::ReplayStoreError;

use crate::store::{AsyncReplayStore, StoreFuture};

/// File name of the journal inside the data dir.
pub const JOURNAL_FILE: &str = "replay.journal";

struct Inner {
    entries: HashMap<[u8; 16], u64>,
    file: File,
    lines: usize,
}

/// The persisted in-process replay store (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct JournalStore {
    path: PathBuf,
    inner: Arc<Mutex<Inner>>,
}

impl std::fmt::Debug for JournalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalStore")
            .field("path", &self.path)
            .field("entries", &self.len())
            .finish()
    }
}

fn hex(d: &[u8; 16]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

fn open_append(path: &Path) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

fn rewrite(path: &Path, entries: &HashMap<[u8; 16], u64>) -> std::io::Result<File> {
    let tmp = path.with_extension("journal.tmp");
    {
        let mut o = OpenOptions::new();
        o.create(true).write(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let mut w = std::io::BufWriter::new(o.open(&tmp)?);
        for (d, exp) in entries {
            writeln!(w, "{} {exp}", hex(d))?;
        }
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    open_append(path)
}

impl JournalStore {
    /// Opens (or creates) `<data_dir>/replay.journal`, keeping the entries still live at
    /// `now_ms`.
    pub fn open(data_dir: &Path, now_ms: u64) -> std::io::Result<JournalStore> {
        // Like the registry: the data dir is private to the server's user.
        let mut dir = std::fs::DirBuilder::new();
        dir.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o700);
        dir.create(data_dir)?;
        let path = data_dir.join(JOURNAL_FILE);
        let mut entries = HashMap::new();
        match File::open(&path) {
            Ok(f) => {
                for line in BufReader::new(f).lines() {
                    let line = line?;
                    // A torn last line (crash mid-write) is skipped.
                    let Some((d, exp)) = line.split_once(' ') else {
                        continue;
                    };
                    if let (Some(d), Ok(exp)) = (unhex(d), exp.parse::<u64>()) {
                        if exp >= now_ms {
                            let e = entries.entry(d).or_insert(exp);
                            *e = (*e).max(exp);
                        }
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let file = rewrite(&path, &entries)?;
        let lines = entries.len();
        Ok(JournalStore {
            path,
            inner: Arc::new(Mutex::new(Inner {
                entries,
                file,
                lines,
            })),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of remembered keys.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops expired entries and compacts the journal when it has grown to more than twice
    /// the live entries (plus 4096 lines).
    pub fn evict_expired(&self, now_ms: u64) -> std::io::Result<()> {
        let mut inner = self.lock();
        inner.entries.retain(|_, exp| *exp >= now_ms);
        if inner.lines > inner.entries.len() * 2 + 4096 {
            inner.file = rewrite(&self.path, &inner.entries)?;
            inner.lines = inner.entries.len();
        }
        Ok(())
    }

    /// Spawns a task evicting and compacting every `every`; it stops when the store is
    /// dropped everywhere else.
    pub fn spawn_evictor(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(&self.inner);
        let path = self.path.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                let store = JournalStore {
                    path: path.clone(),
                    inner,
                };
                if let Err(e) = store.evict_expired(crate::now_ms()) {
                    tracing::warn!(target: "xnonce", error = %e, "cannot compact the replay journal");
                }
            }
        })
    }

    fn insert(&self, key: &str, expires_at_ms: u64, now_ms: u64) -> Result<bool, ReplayStoreError> {
        let d = key_digest(key);
        let mut inner = self.lock();
        if matches!(inner.entries.get(&d), Some(&exp) if exp >= now_ms) {
            return Ok(false);
        }
        let line = format!("{} {expires_at_ms}\n", hex(&d));
        inner
            .file
            .write_all(line.as_bytes())
            .map_err(|e| ReplayStoreError(format!("replay journal: {}", e.kind())))?;
        inner.lines += 1;
        inner.entries.insert(d, expires_at_ms);
        Ok(true)
    }
}

impl AsyncReplayStore for JournalStore {
    fn insert_if_absent<'a>(
        &'a self,
        key: &'a str,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> StoreFuture<'a, Result<bool, ReplayStoreError>> {
        Box::pin(std::future::ready(self.insert(key, expires_at_ms, now_ms)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "xnonce-journal-{tag}-{}-{}",
            std::process::id(),
            crate::now_ms()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn reopened_store_remembers_live_keys_and_forgets_expired_ones() {
        let d = dir("reopen");
        let s = JournalStore::open(&d, 1_000).unwrap();
        assert_eq!(s.insert("live", 10_000, 1_000), Ok(true));
        assert_eq!(s.insert("old", 1_500, 1_000), Ok(true));
        assert_eq!(s.insert("live", 10_000, 1_001), Ok(false));
        drop(s);
        // A torn line from a crash is ignored.
        let mut f = open_append(&d.join(JOURNAL_FILE)).unwrap();
        f.write_all(b"abc").unwrap();
        let s = JournalStore::open(&d, 2_000).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s.insert("live", 10_000, 2_000), Ok(false));
        assert_eq!(s.insert("old", 3_000, 2_000), Ok(true));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn the_journal_is_compacted() {
        let d = dir("compact");
        let s = JournalStore::open(&d, 0).unwrap();
        for i in 0..5000 {
            assert_eq!(s.insert(&format!("k{i}"), 10, 0), Ok(true));
        }
        s.evict_expired(11).unwrap();
        assert!(s.is_empty());
        let text = std::fs::read_to_string(d.join(JOURNAL_FILE)).unwrap();
        assert_eq!(text, "");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
