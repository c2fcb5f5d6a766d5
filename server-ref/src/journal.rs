//! The embedded default replay store, persisted in the data dir so that a restart does not
//! forget which requests were already accepted.
//!
//! Accepted keys live in memory (a 16-byte digest and an expiry each) and every acceptance is
//! appended to `<data dir>/replay.journal` (`<32 hex digest> <expiry ms>\n`). Appends are
//! **buffered**: the line goes to an in-memory buffer when the request is accepted, and the
//! buffer is written to the file with one `write(2)` every [`FLUSH_INTERVAL`] (by the task of
//! [`JournalStore::spawn_flusher`]), as soon as it holds [`FLUSH_BYTES`], on graceful
//! shutdown ([`JournalStore::flush`], which the server calls after draining) and when the
//! store is dropped. At start the journal is read back (expired lines dropped, the file
//! rewritten compactly); while running it is rewritten whenever it has grown to more than
//! twice the live entries.
//!
//! Durability, precisely:
//! * graceful stop (SIGTERM / SIGINT) and restart: every accepted request is remembered —
//!   unless its line cannot be written then either (a full disk): the stop is then an error
//!   ([`JournalStore::flush_at_shutdown`]; `serve` exits 1) saying how many accepted requests
//!   are not recorded, and until when a server started on the data dir would accept a copy;
//! * crash of the server process (`kill -9`, abort): requests accepted in the last
//!   [`FLUSH_INTERVAL`] (100 ms) before the crash may be forgotten — a replay of one of them
//!   inside its window would be accepted once more after the restart; everything accepted
//!   earlier is remembered (written, the kernel holds it);
//! * power loss or kernel crash: writes are not `fsync`ed, so what the kernel had not yet
//!   written back may be lost too.
//!
//! A write error is logged and makes the store refuse (503 `store_unavailable`) every request
//! until a write succeeds again (each refused request retries it), so a broken journal fails
//! closed.
//!
//! A journal deleted or replaced while the server runs (its lines would go on to the file the
//! store opened, which no later start reads) is written again from memory: by the evictor
//! within 5 s, and at graceful shutdown before the last lines.
//!
//! Reading it back at start:
//! * a **torn** line — the beginning of a line (`<hex digits>[ <digits>]`, or nothing at
//!   all) — is what a crash or a failed write leaves; it is skipped (a failed write is
//!   retried whole, so the torn line's key is on a later line; a crash forgets at most the
//!   last [`FLUSH_INTERVAL`], as above);
//! * a run of **NUL bytes** — after the beginning of a line, before the end of one (either
//!   possibly empty), anywhere in the file — is what a power loss or kernel crash leaves on
//!   some filesystems where written data never reached the disk (the file's size did): the
//!   lines it covers are lost, as the durability notes above allow for such a loss. They are
//!   skipped (a whole line after the run is read), the rest of the journal is read, and
//!   [`JournalStore::open`] logs a warning naming the file, the first such line, and until
//!   when a replay of a forgotten request would be accepted. Refusing to start would not
//!   bring those lines back: the operator's only ways out would be to wait, or to move the
//!   whole journal away and forget every request in it;
//! * any other line (bytes that are not the journal's ASCII, a line too long, an expiry that
//!   is not a number) was not written by this store: the journal is **damaged** and
//!   [`JournalStore::open`] fails, naming the file and the line. Skipping the line would
//!   forget the request it recorded, whose replay would then be accepted; so the server does
//!   not start until someone restores the file, or moves it away once every request it
//!   recorded has expired (twice the longest window after the last server using it stopped:
//!   a key is remembered until its request's timestamp plus the window, and a timestamp may
//!   be up to a window ahead of the clock).
//!
//! One server per journal: [`JournalStore::open`] takes an exclusive `flock(2)` on
//! `<data dir>/replay.journal.lock` ([`LOCK_FILE`]) and holds it while the store lives; a
//! second store (in another server, or in the same process) on the same data dir fails to
//! open instead of sharing the journal — two such servers would each accept the same request
//! once. It locks the data dir itself too (where the file system can: not NFS), so that a
//! lock file deleted while a server holds it lets no second one in. The lock file stays in
//! the data dir (empty); the kernel drops the locks when the process ends, even on a crash.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use xnonce_core::replay::{DigestTable, Prefetcher, EVICTION_PART};
use xnonce_core::{ReplayKey, ReplayStoreError};

use crate::log_throttle::LogThrottle;
use crate::store::{AsyncReplayStore, StoreFuture, StoreId};

/// File name of the journal inside the data dir.
pub const JOURNAL_FILE: &str = "replay.journal";

/// File name of the lock file inside the data dir (see the module docs).
pub const LOCK_FILE: &str = "replay.journal.lock";

/// How often buffered appends are written (at most this much is lost on a crash).
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// Buffered appends are written at once when they reach this size.
pub const FLUSH_BYTES: usize = 64 << 10;

/// One journal line: 32 hex digits, a space, up to 20 digits, a newline.
const MAX_LINE: usize = 32 + 1 + 20 + 1;

struct Inner {
    entries: DigestTable,
    file: File,
    lines: usize,
    /// Appended lines not yet written.
    pending: Vec<u8>,
    /// The last write failed (refuse until a write succeeds).
    failed: bool,
    /// While a compaction writes the new journal: the lines accepted since its snapshot.
    compaction: Option<Tail>,
    /// The data dir's lock file and the data dir, locked (`flock`) while the store lives.
    _locks: Vec<File>,
}

/// Lines accepted while a compaction runs: they go to the old journal as usual and here, to
/// be appended to the new journal before it replaces the old one.
#[derive(Default)]
struct Tail {
    lines: Vec<u8>,
    count: usize,
}

impl Inner {
    /// Writes the pending lines; on failure they stay pending and the store refuses.
    fn flush(&mut self) -> std::io::Result<()> {
        write_pending(&mut self.file, &mut self.pending, &mut self.failed)
    }
}

/// [`Inner::flush`] on the fields it touches (so a caller may hold an entry of the map).
fn write_pending(file: &mut File, pending: &mut Vec<u8>, failed: &mut bool) -> std::io::Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    match file.write_all(pending) {
        Ok(()) => {
            pending.clear();
            *failed = false;
            Ok(())
        }
        Err(e) => {
            // A partial write may leave a torn line: the whole batch is written again on the
            // next attempt after a newline, so the torn part stays a line of its own (skipped
            // by open()); duplicate lines are harmless.
            if pending.first() != Some(&b'\n') {
                pending.insert(0, b'\n');
            }
            *failed = true;
            Err(e)
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Appends `<hex digest> <expiry>\n` to `out` without allocating.
fn push_line(out: &mut Vec<u8>, d: &[u8; 16], expires_at_ms: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut line = [0u8; MAX_LINE];
    for (i, b) in d.iter().enumerate() {
        line[2 * i] = HEX[(b >> 4) as usize];
        line[2 * i + 1] = HEX[(b & 15) as usize];
    }
    line[32] = b' ';
    let mut digits = [0u8; 20];
    let (mut n, mut k) = (expires_at_ms, digits.len());
    loop {
        k -= 1;
        digits[k] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let len = digits.len() - k;
    line[33..33 + len].copy_from_slice(&digits[k..]);
    line[33 + len] = b'\n';
    out.extend_from_slice(&line[..33 + len + 1]);
}

/// The persisted in-process replay store (see the module docs). Cheap to clone.
///
/// ```
/// use std::time::Duration;
/// use xnonce_core::ReplayKey;
/// use xnonce_server::{journal::FLUSH_INTERVAL, now_ms, AsyncReplayStore, JournalStore};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let data_dir = std::env::temp_dir().join(format!("xnonce-doc-journal-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&data_dir);
/// std::fs::create_dir_all(&data_dir)?;
/// let key = ReplayKey::new("v2:svc:00112233445566778899aabbccddeeff");
/// let now = now_ms();
/// {
///     let store = JournalStore::open(&data_dir, now)?; // one store per data dir (locked)
///     let _flusher = store.spawn_flusher(FLUSH_INTERVAL);
///     let _evictor = store.spawn_evictor(Duration::from_secs(5));
///     assert_eq!(store.insert_if_absent(&key, now + 30_000, now).await, Ok(true));
///     store.flush()?; // what a graceful shutdown does
/// }
/// // After a restart the key is still remembered: the replay is refused.
/// let store = JournalStore::open(&data_dir, now)?;
/// assert_eq!(store.len(), 1);
/// assert_eq!(store.insert_if_absent(&key, now + 30_000, now + 1).await, Ok(false));
/// // Expired after `now + 30_000`, dropped a second later (core's `DROP_GRACE_MS`).
/// store.evict_expired(now + 31_001)?;
/// assert!(store.is_empty());
/// # drop(store);
/// # std::fs::remove_dir_all(&data_dir)?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct JournalStore {
    path: PathBuf,
    inner: Arc<Mutex<Inner>>,
    prefetcher: Prefetcher,
    id: StoreId,
    /// Held by each run of the flusher's and the evictor's work, and by
    /// [`JournalStore::flush_at_shutdown`], which sets it: a run in progress (on tokio's
    /// blocking pool, where aborting its task does not stop it) is waited for, and no later
    /// run writes anything, so that nothing writes in the data dir once a server has stopped.
    stopped: Arc<Mutex<bool>>,
}

impl std::fmt::Debug for JournalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalStore")
            .field("path", &self.path)
            .field("entries", &self.len())
            .finish()
    }
}

/// One line of a journal as read back.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// A key digest and its expiry.
    Entry([u8; 16], u64),
    /// The beginning of a line (a crash or failed write), or an empty line: skipped.
    Torn,
    /// A run of NUL bytes, between the beginning of a line and the end of a line (each
    /// possibly empty): what a power loss leaves where written data never reached the disk.
    /// The lines it covered are lost; the end is an entry when it is a whole line.
    Zeroed(Option<([u8; 16], u64)>),
    /// Not something this store writes: why.
    Damaged(&'static str),
}

/// The longest line [`read_journal`] reads (a torn line's NUL padding included); longer is
/// damage.
const READ_LIMIT: usize = 1 << 20;

/// Reads one line (without its `\n`); see the module docs for torn, zeroed and damaged
/// lines.
fn parse_line(line: &[u8]) -> Line {
    // A power loss can leave NUL bytes where the kernel had not written the data yet: one
    // run of them, after the beginning of a line and before the end of a line (each cut by
    // it, or empty). Anything else around or within the run is damage.
    let Some(first) = line.iter().position(|&b| b == 0) else {
        return parse_whole(line);
    };
    let last = line.iter().rposition(|&b| b == 0).unwrap_or(first);
    if line[first..=last].iter().any(|&b| b != 0) {
        return Line::Damaged("NUL bytes mixed with other bytes");
    }
    let (head, tail) = (&line[..first], &line[last + 1..]);
    if let Line::Damaged(why) = parse_whole(head) {
        return Line::Damaged(why);
    }
    if tail.is_empty() {
        return Line::Zeroed(None);
    }
    // The end of a line: `[hex digits][ <digits>]`, i.e. a line whose beginning is lost. A
    // hex digest is 32 digits, so one with all 32 and an expiry is a whole line.
    match tail.iter().position(|&b| b == b' ') {
        Some(32) => match parse_whole(tail) {
            Line::Entry(d, exp) => Line::Zeroed(Some((d, exp))),
            Line::Torn | Line::Zeroed(_) => Line::Zeroed(None),
            Line::Damaged(why) => Line::Damaged(why),
        },
        at => {
            let (hex, expiry) = match at {
                Some(i) => (&tail[..i], &tail[i + 1..]),
                None => (tail, &b""[..]),
            };
            if hex.len() > 32
                || !hex.iter().all(u8::is_ascii_hexdigit)
                || expiry.len() > 20
                || !expiry.iter().all(u8::is_ascii_digit)
            {
                Line::Damaged("not the end of a journal line after NUL bytes")
            } else {
                Line::Zeroed(None)
            }
        }
    }
}

/// [`parse_line`] for a line without NUL bytes.
fn parse_whole(line: &[u8]) -> Line {
    if line.len() > MAX_LINE - 1 {
        return Line::Damaged("longer than a journal line");
    }
    let (hex, expiry) = match line.iter().position(|&b| b == b' ') {
        Some(i) => (&line[..i], Some(&line[i + 1..])),
        None => (line, None),
    };
    if hex.len() > 32 || !hex.iter().all(u8::is_ascii_hexdigit) {
        return Line::Damaged("not <32 hex digits> <expiry ms>");
    }
    let Some(expiry) = expiry else {
        return Line::Torn;
    };
    if expiry.len() > 20 || !expiry.iter().all(u8::is_ascii_digit) {
        return Line::Damaged("not <32 hex digits> <expiry ms>");
    }
    if hex.len() < 32 || expiry.is_empty() {
        return Line::Torn;
    }
    let mut d = [0u8; 16];
    for (i, o) in d.iter_mut().enumerate() {
        let pair = std::str::from_utf8(&hex[2 * i..2 * i + 2]).unwrap_or("");
        match u8::from_str_radix(pair, 16) {
            Ok(b) => *o = b,
            Err(_) => return Line::Damaged("not <32 hex digits> <expiry ms>"),
        }
    }
    match std::str::from_utf8(expiry)
        .ok()
        .and_then(|e| e.parse().ok())
    {
        Some(exp) => Line::Entry(d, exp),
        None => Line::Damaged("expiry out of range"),
    }
}

/// The lines of `pending` (appends not yet written): how many, and the latest expiry (ms).
fn unwritten(pending: &[u8]) -> (usize, u64) {
    pending
        .split(|&b| b == b'\n')
        .filter_map(|line| match parse_line(line) {
            Line::Entry(_, exp) | Line::Zeroed(Some((_, exp))) => Some(exp),
            Line::Torn | Line::Zeroed(None) | Line::Damaged(_) => None,
        })
        .fold((0, 0), |(n, latest), exp| (n + 1, latest.max(exp)))
}

/// An `io::Error` of the same kind with a message naming what failed.
fn named(e: &std::io::Error, message: String) -> std::io::Error {
    std::io::Error::new(e.kind(), message)
}

/// Where a journal read back held NUL bytes ([`Line::Zeroed`]): lines lost to a power loss.
#[derive(Debug, Default, PartialEq, Eq)]
struct Zeroed {
    /// The first line (counted from 1) holding NUL bytes.
    first_line: usize,
    /// How many lines held NUL bytes.
    lines: usize,
    /// How many NUL bytes there were.
    bytes: u64,
}

impl Zeroed {
    /// The warning logged when a journal is opened in spite of them.
    fn warning(&self, path: &Path) -> String {
        format!(
            "the replay journal {} holds {} NUL bytes on {} line(s) from line {}: data written \
             to it never reached the disk (what a power loss or kernel crash leaves). The \
             requests it recorded there are forgotten: a replay of one of them is accepted \
             until its window ends, at most twice the longest window after the power loss. \
             The rest of the journal is read and the server starts; if that is not \
             acceptable, stop it and keep it stopped for that long",
            path.display(),
            self.bytes,
            self.lines,
            self.first_line
        )
    }
}

/// Reads a line of `reader` into `line` (its `\n` included, if any), each run of NUL bytes
/// kept as one NUL byte: how many bytes it read, and how many of them were NUL. It stops
/// early (the caller's damage) past `READ_LIMIT` bytes kept, or `max_nuls` NUL bytes read.
fn read_line(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    max_nuls: u64,
) -> std::io::Result<(usize, u64)> {
    let (mut read, mut nuls) = (0, 0);
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok((read, nuls));
        }
        let (mut used, mut done) = (0, false);
        for &b in buf {
            used += 1;
            if b == 0 {
                nuls += 1;
                if line.last() != Some(&0) {
                    line.push(0);
                }
                done = nuls > max_nuls;
            } else {
                line.push(b);
                done = b == b'\n' || line.len() > READ_LIMIT;
            }
            if done {
                break;
            }
        }
        reader.consume(used);
        read += used;
        if done {
            return Ok((read, nuls));
        }
    }
}

/// Reads the journal at `path` (absent: empty), keeping the entries live at `now_ms`; with
/// where it held NUL bytes, if it did.
fn read_journal(path: &Path, now_ms: u64) -> std::io::Result<(DigestTable, Option<Zeroed>)> {
    let mut entries = DigestTable::new();
    let mut zeroed: Option<Zeroed> = None;
    let cannot_read = |e: std::io::Error| {
        named(
            &e,
            format!("cannot read the replay journal {}: {e}", path.display()),
        )
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((entries, None)),
        Err(e) => return Err(cannot_read(e)),
    };
    // A power loss may leave any number of NUL bytes in a regular file (as many as it holds);
    // anything else (a journal replaced by /dev/zero) is allowed no more than READ_LIMIT.
    let max_nuls = match file.metadata() {
        Ok(m) if m.is_file() => m.len(),
        _ => READ_LIMIT as u64,
    };
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    for i in 0.. {
        line.clear();
        // A line is at most MAX_LINE bytes, with a run of NUL bytes at most (read_line keeps
        // one NUL byte of it). Anything longer than READ_LIMIT (a huge binary) is damage, and
        // is not read whole.
        let (read, nuls) = read_line(&mut reader, &mut line, max_nuls).map_err(cannot_read)?;
        if read == 0 {
            break;
        }
        let parsed = if line.len() > READ_LIMIT || nuls > max_nuls {
            Line::Damaged("a line longer than 1 MiB")
        } else {
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            parse_line(&line)
        };
        if let Line::Zeroed(_) = parsed {
            let z = zeroed.get_or_insert(Zeroed {
                first_line: i + 1,
                ..Zeroed::default()
            });
            z.lines += 1;
            z.bytes += nuls;
        }
        match parsed {
            Line::Entry(d, exp) | Line::Zeroed(Some((d, exp))) if exp >= now_ms => {
                entries.remember(d, exp)
            }
            Line::Entry(..) | Line::Zeroed(_) | Line::Torn => {}
            Line::Damaged(why) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "the replay journal {} is damaged at line {} ({why}); this server does \
                         not write such lines. Refusing to start: the requests it recorded could \
                         be replayed. Restore the file, or move it away once every request it \
                         recorded has expired (twice the longest window after the last server \
                         using it stopped)",
                        path.display(),
                        i + 1
                    ),
                ));
            }
        }
    }
    Ok((entries, zeroed))
}

/// Creates (if needed) and locks `<data_dir>/`[`LOCK_FILE`], and locks the data dir itself:
/// one store per data dir. The lock file alone is not enough when it is deleted while a
/// server holds it (a cleanup of "stale" lock files): a second server would create a new one,
/// lock it and share the journal. Returns the locked files, to be held while the store lives.
fn lock_data_dir(data_dir: &Path) -> std::io::Result<Vec<File>> {
    let path = data_dir.join(LOCK_FILE);
    let mut o = OpenOptions::new();
    o.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Not through a symbolic link (as the journal's own files, see `write_journal`).
        o.mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    let file = o.open(&path).map_err(|e| {
        named(
            &e,
            format!("cannot open the lock file {}: {e}", path.display()),
        )
    })?;
    #[cfg(unix)]
    crate::ownership::give_to_folder_owner(&file, &path);
    let in_use = |held: &Path| {
        std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            format!(
                "the data dir {} is in use by another xnonce-server with the memory replay \
                 store (it holds the lock on {}): two servers sharing one replay journal would \
                 each accept the same request. Give each server its own --data, or use \
                 [replay] store = \"redis\" for several instances",
                data_dir.display(),
                held.display()
            ),
        )
    };
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => return Err(in_use(&path)),
        Err(e) => {
            let e = std::io::Error::from(e);
            return Err(named(&e, format!("cannot lock {}: {e}", path.display())));
        }
    }
    let mut locks = vec![file];
    // The data dir itself, where it can be locked (not on NFS, where a lock needs a file open
    // for writing): the lock file's lock above is the one every server takes.
    if let Ok(dir) = File::open(data_dir) {
        match rustix::fs::flock(&dir, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => locks.push(dir),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => return Err(in_use(data_dir)),
            Err(_) => {}
        }
    }
    Ok(locks)
}

/// Writes `entries` as a complete journal at `path` (created 0600, truncated), synced to
/// disk; returns the file, positioned at its end for further appends.
fn write_journal(
    path: &Path,
    entries: impl IntoIterator<Item = ([u8; 16], u64)>,
) -> std::io::Result<File> {
    // A new file, never one found there: one left by a crashed compaction is removed first,
    // and `create_new` (O_EXCL) follows no symbolic link, so a link planted in a data dir
    // that others can write (the server warns about one) cannot make this write elsewhere.
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut o = OpenOptions::new();
    o.create_new(true).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut file = o.open(path)?;
    #[cfg(unix)]
    crate::ownership::give_to_folder_owner(&file, path);
    let mut buf = Vec::with_capacity(FLUSH_BYTES + MAX_LINE);
    for (d, exp) in entries {
        push_line(&mut buf, &d, exp);
        if buf.len() >= FLUSH_BYTES {
            file.write_all(&buf)?;
            buf.clear();
        }
    }
    file.write_all(&buf)?;
    file.sync_all()?;
    Ok(file)
}

/// True when `path` no longer names `file`: the journal was deleted, or replaced by another
/// file, while the store had it open.
fn journal_replaced(path: &Path, file: &File) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::symlink_metadata(path), file.metadata()) {
            (Ok(p), Ok(f)) => (p.dev(), p.ino()) != (f.dev(), f.ino()),
            (Err(e), _) => e.kind() == std::io::ErrorKind::NotFound,
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (path, file);
        false
    }
}

/// Where a new journal is written before it replaces the old one.
fn tmp_path(path: &Path) -> PathBuf {
    path.with_extension("journal.tmp")
}

impl JournalStore {
    /// Opens (or creates) `<data_dir>/replay.journal`, keeping the entries still live at
    /// `now_ms`.
    ///
    /// Fails — with a message naming the file and what to do — when another store holds the
    /// data dir's lock ([`LOCK_FILE`]), when the journal cannot be read or written, and when
    /// it is damaged (see the module docs).
    pub fn open(data_dir: &Path, now_ms: u64) -> std::io::Result<JournalStore> {
        // Like the registry: the data dir is private to the server's user.
        let mut dir = std::fs::DirBuilder::new();
        dir.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o700);
        dir.create(data_dir).map_err(|e| {
            named(
                &e,
                format!("cannot create the data dir {}: {e}", data_dir.display()),
            )
        })?;
        let lock = lock_data_dir(data_dir)?;
        let path = data_dir.join(JOURNAL_FILE);
        let (entries, zeroed) = read_journal(&path, now_ms)?;
        if let Some(zeroed) = &zeroed {
            tracing::warn!(target: "xnonce", "{}", zeroed.warning(&path));
        }
        let tmp = tmp_path(&path);
        let file = write_journal(&tmp, entries.iter()).map_err(|e| {
            named(
                &e,
                format!("cannot write the replay journal {}: {e}", tmp.display()),
            )
        })?;
        std::fs::rename(&tmp, &path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            named(
                &e,
                format!("cannot replace the replay journal {}: {e}", path.display()),
            )
        })?;
        let lines = entries.len();
        Ok(JournalStore {
            path,
            id: StoreId::new(),
            stopped: Arc::new(Mutex::new(false)),
            prefetcher: entries.prefetcher(),
            inner: Arc::new(Mutex::new(Inner {
                entries,
                file,
                lines,
                pending: Vec::with_capacity(FLUSH_BYTES + MAX_LINE),
                failed: false,
                compaction: None,
                _locks: lock,
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

    /// Drops the entries expired for more than core's `DROP_GRACE_MS` and compacts the
    /// journal when it has grown to more than twice the live entries (plus 4096 lines).
    ///
    /// The lock is held only to drop expired entries and copy the live ones, and again at the
    /// end for the swap; the new journal is written and synced without it, so requests go on
    /// being accepted meanwhile (their lines reach the old journal as usual and are appended
    /// to the new one before it replaces the old). Until the rename the old journal is
    /// complete; after it the new one is.
    pub fn evict_expired(&self, now_ms: u64) -> std::io::Result<()> {
        match self.begin_compaction(now_ms) {
            Some(snapshot) => self.finish_compaction(snapshot),
            None => Ok(()),
        }
    }

    /// Drops expired entries; when the journal needs compacting, starts collecting new lines
    /// and returns the live entries to write.
    fn begin_compaction(&self, now_ms: u64) -> Option<Vec<([u8; 16], u64)>> {
        // In parts, releasing the lock between them: requests wait at most for one part.
        let mut from = 0;
        while let Some(next) = self
            .lock()
            .entries
            .evict_expired_part(from, EVICTION_PART, now_ms)
        {
            from = next;
        }
        self.start_compaction()
    }

    /// When the journal needs compacting (grown past twice its live entries, or deleted or
    /// replaced), starts collecting new lines and returns the live entries to write.
    fn start_compaction(&self) -> Option<Vec<([u8; 16], u64)>> {
        let mut inner = self.lock();
        if inner.compaction.is_some() {
            return None;
        }
        // A journal deleted or replaced while the store runs gets no more of its lines (they
        // go to the file it opened): the next start would forget them all. Write it again.
        let replaced = journal_replaced(&self.path, &inner.file);
        if !replaced && inner.lines <= inner.entries.len() * 2 + 4096 {
            return None;
        }
        if replaced {
            tracing::warn!(target: "xnonce", path = %self.path.display(), "the replay journal was deleted or replaced while the server ran; writing it again from memory");
        }
        inner.compaction = Some(Tail::default());
        Some(inner.entries.iter().collect())
    }

    /// Writes the snapshot as the new journal, then swaps it in with the lines accepted since.
    fn finish_compaction(&self, snapshot: Vec<([u8; 16], u64)>) -> std::io::Result<()> {
        let tmp = tmp_path(&self.path);
        let live = snapshot.len();
        let swapped = write_journal(&tmp, snapshot).and_then(|mut file| {
            let mut inner = self.lock();
            let tail = inner.compaction.take().unwrap_or_default();
            // The old journal gets every pending line first, so it stays complete if the swap
            // fails; if it cannot be written, the swap goes on (the new journal holds every
            // pending line: in the snapshot or in the tail) and repairs the store.
            let _ = inner.flush();
            file.write_all(&tail.lines)?;
            std::fs::rename(&tmp, &self.path)?;
            inner.file = file;
            inner.lines = live + tail.count;
            inner.pending.clear();
            inner.failed = false;
            Ok(())
        });
        if swapped.is_err() {
            self.lock().compaction = None;
            let _ = std::fs::remove_file(&tmp);
        }
        swapped
    }

    /// Writes the buffered appends now (graceful shutdown calls
    /// [`JournalStore::flush_at_shutdown`] after the last request).
    pub fn flush(&self) -> std::io::Result<()> {
        self.lock().flush()
    }

    /// [`JournalStore::flush`] at a graceful stop: an error says how many accepted requests
    /// the journal does not record (their lines could not be written: a full disk, an I/O
    /// error) and until when a server started on this data dir would accept a copy of them —
    /// what an operator must know before restarting, since nothing else will remember them.
    ///
    /// It ends the flusher's and the evictor's work ([`JournalStore::spawn_flusher`],
    /// [`JournalStore::spawn_evictor`]): a run in progress is waited for, later ones do
    /// nothing. So once it returns nothing writes in the data dir (a journal deleted then is
    /// not written again from memory), whether or not their tasks were aborted.
    pub fn flush_at_shutdown(&self) -> std::io::Result<()> {
        let mut stopped = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        *stopped = true;
        // A journal deleted or replaced since the evictor last looked (it does every 5 s) is
        // written again first: else the lines below would go to a file no server reads. (Only
        // then: a stop neither walks the table nor compacts a journal that is merely long.)
        let replaced = journal_replaced(&self.path, &self.lock().file);
        if let Some(snapshot) = replaced.then(|| self.start_compaction()).flatten() {
            if let Err(e) = self.finish_compaction(snapshot) {
                if journal_replaced(&self.path, &self.lock().file) {
                    return Err(named(
                        &e,
                        format!(
                            "cannot write the replay journal {} again at shutdown ({e}): it was \
                             deleted or replaced while the server ran, so a server started on \
                             this data dir would accept a copy of the requests accepted in the \
                             last window. Start it after twice the longest window (and fix the \
                             error first)",
                            self.path.display()
                        ),
                    ));
                }
            }
        }
        let mut inner = self.lock();
        let Err(e) = inner.flush() else {
            return Ok(());
        };
        let (count, latest) = unwritten(&inner.pending);
        if count == 0 {
            return Err(named(
                &e,
                format!(
                    "cannot write the replay journal {}: {e}",
                    self.path.display()
                ),
            ));
        }
        // A copy is refused as stale once its request's window has passed (`latest`, in ms):
        // the first whole second after it.
        let after = crate::registry::utc(latest / 1000 + 1);
        Err(named(
            &e,
            format!(
                "cannot write the replay journal {} at shutdown ({e}): {count} accepted \
                 request{} not recorded in it, so a server started on this data dir before \
                 {after} would accept a copy of {}. Start it after that time (and free the \
                 space, or fix the error, first)",
                self.path.display(),
                if count == 1 { " is" } else { "s are" },
                if count == 1 { "it" } else { "them" },
            ),
        ))
    }

    /// [`crate::store::spawn_while_alive`] over this store's table: `work` every `every`, each
    /// run holding `stopped` and skipped once [`JournalStore::flush_at_shutdown`] has set it.
    fn spawn_until_stopped(
        &self,
        every: Duration,
        work: impl Fn(Arc<Mutex<Inner>>) + Send + Sync + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let stopped = self.stopped.clone();
        crate::store::spawn_while_alive(Arc::downgrade(&self.inner), every, move |inner| {
            let stopped = stopped.lock().unwrap_or_else(|p| p.into_inner());
            if !*stopped {
                work(inner);
            }
        })
    }

    /// Spawns a task writing the buffered appends every `every` (see [`FLUSH_INTERVAL`]); it
    /// stops when the store is dropped everywhere else.
    pub fn spawn_flusher(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        // A full disk fails every flush: one line when it starts, then one per 10 s.
        let log = std::sync::Mutex::new(LogThrottle::new(Duration::from_secs(10)));
        self.spawn_until_stopped(every, move |inner| {
            let r = inner.lock().unwrap_or_else(|p| p.into_inner()).flush();
            let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
            match r {
                Err(e) => {
                    if let Some(repeated) = log.failed(std::time::Instant::now()) {
                        tracing::error!(target: "xnonce", error = %e, repeated, "cannot write the replay journal; refusing requests until it can");
                    }
                }
                Ok(()) => {
                    if let Some(repeated) = log.succeeded() {
                        tracing::info!(target: "xnonce", repeated, "the replay journal is written again; accepting requests");
                    }
                }
            }
        })
    }

    /// Spawns a task evicting and compacting every `every`; it stops when the store is
    /// dropped everywhere else.
    pub fn spawn_evictor(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let (path, prefetcher, id) = (self.path.clone(), self.prefetcher.clone(), self.id);
        let stopped = self.stopped.clone();
        self.spawn_until_stopped(every, move |inner| {
            let store = JournalStore {
                path: path.clone(),
                inner,
                prefetcher: prefetcher.clone(),
                id,
                stopped: stopped.clone(),
            };
            if let Err(e) = store.evict_expired(crate::now_ms()) {
                tracing::warn!(target: "xnonce", error = %e, "cannot compact the replay journal");
            }
        })
    }

    fn insert(
        &self,
        key: &ReplayKey,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Result<bool, ReplayStoreError> {
        let d = *key.digest();
        let mut guard = self.lock();
        let inner = &mut *guard;
        let unwritable =
            |e: std::io::Error| ReplayStoreError(format!("replay journal: {}", e.kind()));
        if inner.failed {
            if inner.entries.is_live(&d, now_ms) {
                return Ok(false);
            }
            // Fail closed until the journal can be written again.
            write_pending(&mut inner.file, &mut inner.pending, &mut inner.failed)
                .map_err(unwritable)?;
        }
        if !inner.entries.insert_if_absent(d, expires_at_ms, now_ms) {
            return Ok(false);
        }
        push_line(&mut inner.pending, &d, expires_at_ms);
        if let Some(tail) = &mut inner.compaction {
            push_line(&mut tail.lines, &d, expires_at_ms);
            tail.count += 1;
        }
        inner.lines += 1;
        if inner.pending.len() >= FLUSH_BYTES {
            // The request is accepted (its line is buffered); a failure here refuses the
            // following ones until a write succeeds.
            if let Err(e) = inner.flush() {
                tracing::error!(target: "xnonce", error = %e, "cannot write the replay journal; refusing requests until it can");
            }
        }
        Ok(true)
    }
}

impl AsyncReplayStore for JournalStore {
    fn prefetch(&self, key: &ReplayKey) {
        self.prefetcher.prefetch(key.digest());
    }

    fn insert_if_absent<'a>(
        &'a self,
        key: &'a ReplayKey,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> StoreFuture<'a, Result<bool, ReplayStoreError>> {
        Box::pin(std::future::ready(self.insert(key, expires_at_ms, now_ms)))
    }

    fn insert_now(
        &self,
        key: &ReplayKey,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Option<Result<bool, ReplayStoreError>> {
        Some(self.insert(key, expires_at_ms, now_ms))
    }

    fn id(&self) -> Option<StoreId> {
        Some(self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // Entries are dropped DROP_GRACE_MS after they expire.
    use xnonce_core::replay::DROP_GRACE_MS;

    fn hex(d: &[u8; 16]) -> String {
        d.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn open_append(path: &Path) -> std::io::Result<File> {
        let mut o = OpenOptions::new();
        o.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        o.open(path)
    }

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
        assert_eq!(s.insert(&"live".into(), 10_000, 1_000), Ok(true));
        assert_eq!(s.insert(&"old".into(), 1_500, 1_000), Ok(true));
        assert_eq!(s.insert(&"live".into(), 10_000, 1_001), Ok(false));
        drop(s);
        // A torn line from a crash is ignored.
        let mut f = open_append(&d.join(JOURNAL_FILE)).unwrap();
        f.write_all(b"abc").unwrap();
        let s = JournalStore::open(&d, 2_000).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s.insert(&"live".into(), 10_000, 2_000), Ok(false));
        assert_eq!(s.insert(&"old".into(), 3_000, 2_000), Ok(true));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn torn_lines_are_skipped_and_damaged_ones_are_named() {
        let hex32 = "ab".repeat(16);
        for torn in [
            String::new(),
            "abc".into(),
            hex32.clone(),
            format!("{hex32} "),
            format!("{} 12", &hex32[..10]),
        ] {
            assert_eq!(parse_line(torn.as_bytes()), Line::Torn, "{torn:?}");
        }
        // NUL bytes where a write never reached the disk: lost lines, the beginning of one
        // before them, the end of one after them; a whole line after them is read.
        for zeroed in [
            format!("{hex32} 17\0\0\0"),
            "\0\0\0\0".into(),
            "abc\0\0de 17".into(),
            "\0\0 17".into(),
            "\0\x00123".into(),
            format!("{} 12\0\0{} 12", &hex32[..10], &hex32[3..]),
        ] {
            assert_eq!(
                parse_line(zeroed.as_bytes()),
                Line::Zeroed(None),
                "{zeroed:?}"
            );
        }
        assert_eq!(
            parse_line(format!("ab\0\0{hex32} 42").as_bytes()),
            Line::Zeroed(Some(([0xab; 16], 42)))
        );
        assert_eq!(
            parse_line(format!("{hex32} 42").as_bytes()),
            Line::Entry([0xab; 16], 42)
        );
        // The longest line the store writes (a 20-digit expiry) is read back...
        let longest = format!("{hex32} {}", u64::MAX);
        assert_eq!(longest.len(), MAX_LINE - 1);
        assert_eq!(
            parse_line(longest.as_bytes()),
            Line::Entry([0xab; 16], u64::MAX)
        );
        // ...and one byte more is not a journal line.
        assert_eq!(
            parse_line(format!("{longest}0").as_bytes()),
            Line::Damaged("longer than a journal line")
        );
        for damaged in [
            &b"\xff\xfe"[..],
            b"hello world",
            b"abcd 12x",
            format!("{hex32} 99999999999999999999").as_bytes(),
            format!("{hex32}00 1").as_bytes(),
            format!("{hex32} 1 2").as_bytes(),
            b"ab\0\0hello",
            b"ab\0\0ab 12x",
            b"\0a\0 12",
            b"\xff\0\0",
            format!("\0{hex32}00 1").as_bytes(),
            format!("\0{hex32} 99999999999999999999").as_bytes(),
        ] {
            assert!(
                matches!(parse_line(damaged), Line::Damaged(_)),
                "{:?}",
                String::from_utf8_lossy(damaged)
            );
        }
    }

    #[test]
    fn a_damaged_journal_refuses_to_open_naming_the_file_and_the_line() {
        let d = dir("damaged");
        let s = JournalStore::open(&d, 0).unwrap();
        assert_eq!(s.insert(&"k".into(), 10_000, 0), Ok(true));
        drop(s);
        let path = d.join(JOURNAL_FILE);
        open_append(&path)
            .unwrap()
            .write_all(b"\xff\xfe\n")
            .unwrap();
        let e = JournalStore::open(&d, 0).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        let msg = e.to_string();
        assert!(
            msg.contains(&path.display().to_string()) && msg.contains("line 2"),
            "{msg}"
        );
        // Refused, not rewritten: the file is as it was.
        assert!(std::fs::read(&path).unwrap().ends_with(b"\xff\xfe\n"));
        // An endless line (a journal linked to /dev/zero) is damage, found without reading
        // it all; a few KiB of NUL bytes after a torn line (a power loss) are not.
        std::fs::remove_file(&path).unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
            let msg = JournalStore::open(&d, 0).unwrap_err().to_string();
            assert!(msg.contains("line 1 (a line longer than 1 MiB)"), "{msg}");
            std::fs::remove_file(&path).unwrap();
        }
        let mut torn = b"0123".to_vec();
        torn.resize(8192, 0);
        std::fs::write(&path, [&torn[..], b"\n"].concat()).unwrap();
        drop(JournalStore::open(&d, 0).unwrap());
        // A journal that is a directory: named too.
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        let msg = JournalStore::open(&d, 0).unwrap_err().to_string();
        assert!(
            msg.contains("replay journal") && msg.contains(&path.display().to_string()),
            "{msg}"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// What a power loss can leave on some filesystems: the file's size was written but a
    /// block of its data was not, and reads back as NUL bytes, here in the middle of the
    /// journal, cutting lines at both ends. The lines around it are read back; the server
    /// starts, saying loudly what was lost rather than refusing as if the file were damaged.
    #[test]
    fn a_block_of_nul_bytes_left_by_a_power_loss_is_skipped_and_reported() {
        let d = dir("zeroed");
        let s = JournalStore::open(&d, 0).unwrap();
        for k in ["before", "lost 1", "lost 2", "after"] {
            assert_eq!(s.insert(&k.into(), 10_000, 0), Ok(true));
        }
        drop(s);
        let path = d.join(JOURNAL_FILE);
        let mut text = std::fs::read(&path).unwrap();
        let first = text.iter().position(|&b| b == b'\n').unwrap() + 1;
        let last = text[..text.len() - 1]
            .iter()
            .rposition(|&b| b == b'\n')
            .unwrap()
            + 1;
        // From the middle of the second line to the middle of the third: its end and the
        // third's beginning are lost, the third's end remains after the NUL bytes.
        let (from, to) = (first + 10, last - 20);
        text[from..to].fill(0);
        std::fs::write(&path, &text).unwrap();
        let s = JournalStore::open(&d, 0).unwrap();
        assert_eq!(s.len(), 2, "\"before\" and \"after\"");
        assert!(
            !std::fs::read(&path).unwrap().contains(&0),
            "rewritten without the NUL bytes"
        );
        for (k, remembered) in [("before", true), ("lost 1", false), ("after", true)] {
            assert_eq!(s.insert(&k.into(), 10_000, 1), Ok(!remembered), "{k}");
        }
        drop(s);
        // What is logged: where, how much, what it means and what to do.
        std::fs::write(&path, &text).unwrap();
        let (entries, zeroed) = read_journal(&path, 0).unwrap();
        assert_eq!(entries.len(), 2);
        let zeroed = zeroed.expect("the NUL bytes are reported");
        assert_eq!(
            zeroed,
            Zeroed {
                first_line: 2,
                lines: 1,
                bytes: (to - from) as u64
            }
        );
        let warning = zeroed.warning(&path);
        for part in [
            &path.display().to_string()[..],
            "from line 2",
            "power loss",
            "forgotten",
            "keep it stopped",
        ] {
            assert!(warning.contains(part), "{part}: {warning}");
        }
        // A journal without NUL bytes reports none.
        std::fs::write(&path, &text[..first]).unwrap();
        assert_eq!(read_journal(&path, 0).unwrap().1, None);
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// A power loss under load can lose more than 1 MiB of appends (≈ 20,000 lines): their
    /// NUL bytes are a power loss's too, not a line too long to be the journal's.
    #[test]
    fn more_than_a_mib_of_nul_bytes_in_a_regular_file_is_a_power_loss_too() {
        let d = dir("zeroed-mib");
        let s = JournalStore::open(&d, 0).unwrap();
        for k in ["before", "after"] {
            assert_eq!(s.insert(&k.into(), 10_000, 0), Ok(true));
        }
        drop(s);
        let path = d.join(JOURNAL_FILE);
        let text = std::fs::read(&path).unwrap();
        let second = text.iter().position(|&b| b == b'\n').unwrap() + 1;
        let nuls = 2 * READ_LIMIT + 7;
        let zeroed = [&text[..second], &vec![0; nuls][..], &text[second..]].concat();
        std::fs::write(&path, &zeroed).unwrap();
        let (entries, report) = read_journal(&path, 0).unwrap();
        assert_eq!(
            entries.len(),
            2,
            "the whole line after the NUL bytes is read"
        );
        assert_eq!(
            report,
            Some(Zeroed {
                first_line: 2,
                lines: 1,
                bytes: nuls as u64
            })
        );
        let s = JournalStore::open(&d, 0).unwrap();
        assert_eq!(s.insert(&"after".into(), 10_000, 1), Ok(false));
        drop(s);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn one_store_per_data_dir() {
        let d = dir("lock");
        let s = JournalStore::open(&d, 0).unwrap();
        let e = JournalStore::open(&d, 0).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
        assert!(
            e.to_string().contains("in use by another xnonce-server"),
            "{e}"
        );
        // A clone shares the lock; the lock goes with the last one.
        let clone = s.clone();
        drop(s);
        assert!(JournalStore::open(&d, 0).is_err());
        drop(clone);
        JournalStore::open(&d, 0).unwrap();
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// The repro: the lock file deleted while a server held it (a cleanup of "stale" lock
    /// files); a second server on the data dir created a new one, locked it and started, and
    /// each server accepted a copy of a request the other had accepted.
    #[cfg(unix)]
    #[test]
    fn a_deleted_lock_file_does_not_let_a_second_store_in() {
        let d = dir("lock-deleted");
        let s = JournalStore::open(&d, 0).unwrap();
        std::fs::remove_file(d.join(LOCK_FILE)).unwrap();
        let e = JournalStore::open(&d, 0).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
        assert!(
            e.to_string().contains("in use by another xnonce-server"),
            "{e}"
        );
        drop(s);
        JournalStore::open(&d, 0).unwrap();
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn lines_are_buffered_until_flushed() {
        let d = dir("buffer");
        let s = JournalStore::open(&d, 0).unwrap();
        assert_eq!(
            s.insert(&"k".into(), 18_446_744_073_709_551_615, 0),
            Ok(true)
        );
        assert_eq!(std::fs::read_to_string(d.join(JOURNAL_FILE)).unwrap(), "");
        // It answers at once (the layer then decides a bodiless request without a future).
        let store: &dyn AsyncReplayStore = &s;
        assert_eq!(
            store.insert_now(&"k".into(), u64::MAX, 0),
            Some(Ok(false)),
            "already remembered"
        );
        s.flush().unwrap();
        let text = std::fs::read_to_string(d.join(JOURNAL_FILE)).unwrap();
        assert_eq!(
            text,
            format!(
                "{} 18446744073709551615\n",
                hex(ReplayKey::from("k").digest())
            )
        );
        let mut v = Vec::new();
        push_line(&mut v, &[0xab; 16], 0);
        assert_eq!(v, format!("{} 0\n", "ab".repeat(16)).into_bytes());
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// Accepts 6000 keys (`old0`…) that expire at 10 ms: enough lines that, once they have
    /// expired, the journal is due for compaction.
    fn insert_expiring_at_10(s: &JournalStore) {
        for i in 0..6000 {
            assert_eq!(
                s.insert(&ReplayKey::new(format!("old{i}")), 10, 0),
                Ok(true)
            );
        }
    }

    #[test]
    fn lines_accepted_during_a_compaction_reach_the_new_journal() {
        let d = dir("compact-live");
        let s = JournalStore::open(&d, 0).unwrap();
        insert_expiring_at_10(&s);
        for i in 0..10 {
            assert_eq!(
                s.insert(&ReplayKey::new(format!("live{i}")), 1_000, 0),
                Ok(true)
            );
        }
        // Everything but live0..9 expires: the journal (6010 lines) needs compacting.
        let snapshot = s
            .begin_compaction(11 + DROP_GRACE_MS)
            .expect("compaction is due");
        assert_eq!(snapshot.len(), 10);
        assert!(
            s.begin_compaction(11 + DROP_GRACE_MS).is_none(),
            "one compaction at a time"
        );
        // Accepted while the new journal is being written (without the lock).
        assert_eq!(s.insert(&"during".into(), 1_000, 11), Ok(true));
        s.flush().unwrap();
        s.finish_compaction(snapshot).unwrap();
        assert_eq!(
            s.lock().lines,
            11,
            "the new journal's lines: 10 live + during"
        );
        assert_eq!(s.insert(&"after".into(), 1_000, 11), Ok(true));
        assert!(!d.join("replay.journal.tmp").exists());
        drop(s);
        let text = std::fs::read_to_string(d.join(JOURNAL_FILE)).unwrap();
        assert_eq!(
            text.lines().count(),
            12,
            "10 live + during + after, compacted"
        );
        let s = JournalStore::open(&d, 11).unwrap();
        assert_eq!(s.len(), 12);
        for key in ["live0", "live9", "during", "after"] {
            assert_eq!(
                s.insert(&ReplayKey::from(key), 1_000, 12),
                Ok(false),
                "{key} is remembered"
            );
        }
        assert_eq!(s.insert(&"old0".into(), 1_000, 12), Ok(true));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_batch_that_failed_is_written_again_on_a_line_of_its_own() {
        let d = dir("retry");
        let path = d.join(JOURNAL_FILE);
        let key = ReplayKey::new("v2:c:retried");
        let mut line = Vec::new();
        push_line(&mut line, key.digest(), 1_000);
        // A torn write: part of the line reached the file, then writing failed.
        std::fs::write(&path, &line[..10]).unwrap();
        let (mut pending, mut failed) = (line.clone(), false);
        let mut read_only = File::open(&path).unwrap();
        for _ in 0..2 {
            assert!(write_pending(&mut read_only, &mut pending, &mut failed).is_err());
            assert!(failed);
        }
        let mut expected = vec![b'\n'];
        expected.extend_from_slice(&line);
        assert_eq!(
            pending, expected,
            "one newline first, however many failures"
        );
        write_pending(&mut open_append(&path).unwrap(), &mut pending, &mut failed).unwrap();
        assert!(pending.is_empty() && !failed);
        // The torn part is a line of its own (skipped), and the key is remembered.
        let s = JournalStore::open(&d, 0).unwrap();
        assert_eq!(s.insert(&key, 1_000, 0), Ok(false));
        drop(s);
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// The repro: disk full when a request was accepted; its line could not be written by
    /// the flusher nor at the graceful stop, and the server exited 0 — after a restart, a
    /// copy of the request was accepted (200). The stop is now an error saying how many
    /// requests are not recorded and until when a new server would accept their copies.
    #[test]
    fn a_shutdown_that_cannot_write_the_journal_says_what_is_not_recorded_and_until_when() {
        let d = dir("shutdown-unwritable");
        let s = JournalStore::open(&d, 0).unwrap();
        assert!(s.flush_at_shutdown().is_ok(), "nothing pending");
        // Writes fail from now on (a read-only handle, as a full disk would).
        s.lock().file = File::open(d.join(JOURNAL_FILE)).unwrap();
        assert!(
            s.flush_at_shutdown().is_ok(),
            "nothing pending: nothing lost"
        );
        let late = 1_700_000_030_500;
        assert_eq!(s.insert(&"a".into(), 1_700_000_000_000, 0), Ok(true));
        assert_eq!(s.insert(&"b".into(), late, 0), Ok(true));
        // A failed flush keeps the lines pending (with a newline in front); asked twice.
        for _ in 0..2 {
            let e = s.flush_at_shutdown().unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.contains(&d.join(JOURNAL_FILE).display().to_string())
                    && msg.contains("2 accepted requests are not recorded")
                    && msg.contains("before 2023-11-14 22:13:51 UTC would accept a copy of them"),
                "{msg}"
            );
        }
        assert_eq!(unwritten(b""), (0, 0));
        let mut one = b"\n".to_vec();
        push_line(&mut one, &[7; 16], 42);
        assert_eq!(unwritten(&one), (1, 42));
        drop(s);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_compaction_repairs_a_journal_that_cannot_be_written() {
        let d = dir("compact-repair");
        let s = JournalStore::open(&d, 0).unwrap();
        insert_expiring_at_10(&s);
        s.flush().unwrap();
        // Writes to the journal fail from now on (a read-only handle).
        s.lock().file = File::open(d.join(JOURNAL_FILE)).unwrap();
        assert_eq!(s.insert(&"live".into(), 1_000, 0), Ok(true)); // buffered
        assert!(s.flush().is_err());
        assert!(
            s.insert(&"refused".into(), 1_000, 0).is_err(),
            "fails closed"
        );
        s.evict_expired(11 + DROP_GRACE_MS).unwrap();
        assert_eq!(s.insert(&"after".into(), 1_000, 11), Ok(true), "repaired");
        drop(s);
        let s = JournalStore::open(&d, 11).unwrap();
        assert_eq!(
            s.insert(&"live".into(), 1_000, 12),
            Ok(false),
            "the pending line survived"
        );
        assert_eq!(s.insert(&"after".into(), 1_000, 12), Ok(false));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn compaction_is_due_past_twice_the_live_entries_plus_4096_lines() {
        let d = dir("compact-due");
        let s = JournalStore::open(&d, 0).unwrap();
        let lines_on_disk = || {
            s.flush().unwrap();
            let text = std::fs::read_to_string(d.join(JOURNAL_FILE)).unwrap();
            text.lines().count()
        };
        for i in 0..1000 {
            assert_eq!(
                s.insert(&ReplayKey::new(format!("live{i}")), 1_000, 0),
                Ok(true)
            );
        }
        // 1000 live entries: due beyond 2 × 1000 + 4096 = 6096 lines.
        for i in 0..5096 {
            assert_eq!(
                s.insert(&ReplayKey::new(format!("old{i}")), 10, 0),
                Ok(true)
            );
        }
        s.evict_expired(11 + DROP_GRACE_MS).unwrap();
        assert_eq!(
            (s.len(), lines_on_disk()),
            (1000, 6096),
            "not due at 6096 lines"
        );
        assert_eq!(s.insert(&"one more".into(), 20, 11), Ok(true));
        s.evict_expired(21 + DROP_GRACE_MS).unwrap();
        assert_eq!(
            (s.len(), lines_on_disk()),
            (1000, 1000),
            "compacted at 6097"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_journal_that_cannot_be_opened_is_refused_not_taken_as_empty() {
        let d = dir("loop");
        // A symlink to itself: opening it fails (ELOOP), and not because it is missing.
        std::os::unix::fs::symlink(JOURNAL_FILE, d.join(JOURNAL_FILE)).unwrap();
        let e = JournalStore::open(&d, 0).unwrap_err().to_string();
        assert!(e.contains("cannot read the replay journal"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn links_planted_in_the_data_dir_are_not_followed() {
        let d = dir("planted");
        let victim = d.join("victim");
        std::fs::write(&victim, b"keep me").unwrap();
        // A compaction's temporary file, planted as a link: removed, never written through.
        std::os::unix::fs::symlink(&victim, d.join("replay.journal.tmp")).unwrap();
        let s = JournalStore::open(&d, 0).unwrap();
        assert_eq!(s.insert(&ReplayKey::new("k"), 10, 0), Ok(true));
        s.flush().unwrap();
        drop(s);
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
        let journal = d.join(JOURNAL_FILE);
        assert!(!std::fs::symlink_metadata(&journal).unwrap().is_symlink());
        // One line: 32 hex digits, a space, "10", a newline.
        assert_eq!(std::fs::read(&journal).unwrap().len(), 32 + 1 + 2 + 1);
        // The lock file, planted as a link: refused, the link's target untouched.
        std::fs::remove_file(d.join(LOCK_FILE)).unwrap();
        std::os::unix::fs::symlink(&victim, d.join(LOCK_FILE)).unwrap();
        let e = JournalStore::open(&d, 0).unwrap_err().to_string();
        assert!(e.contains("cannot open the lock file"), "{e}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// The repro: the journal deleted while the server ran (a cleanup, an operator's `rm`);
    /// its lines went on to the deleted file, the server stopped with exit 0, and the next
    /// one started with an empty journal: a copy of every request accepted before was
    /// accepted again. A journal deleted or replaced is now written again from memory, by
    /// the evictor and at shutdown.
    #[test]
    fn a_journal_deleted_or_replaced_while_running_is_written_again() {
        let d = dir("replaced");
        let path = d.join(JOURNAL_FILE);
        let s = JournalStore::open(&d, 0).unwrap();
        assert_eq!(s.insert(&"before".into(), 10_000, 0), Ok(true));
        s.flush().unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(s.insert(&"after".into(), 10_000, 0), Ok(true));
        s.flush_at_shutdown().unwrap();
        drop(s);
        let s = JournalStore::open(&d, 1).unwrap();
        for k in ["before", "after"] {
            assert_eq!(
                s.insert(&k.into(), 10_000, 1),
                Ok(false),
                "{k} is remembered"
            );
        }
        // Replaced by another file (an old copy): the evictor writes it again.
        std::fs::write(d.join("old"), b"").unwrap();
        std::fs::rename(d.join("old"), &path).unwrap();
        assert_eq!(s.insert(&"later".into(), 10_000, 1), Ok(true));
        s.evict_expired(2).unwrap();
        s.flush().unwrap();
        let (entries, _) = read_journal(&path, 2).unwrap();
        assert_eq!(entries.len(), 3, "before, after and later");
        drop(s);
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// The repro (a doc test's cleanup failing with "Directory not empty" on a loaded
    /// machine): aborting the evictor's task does not stop a run of its work already handed
    /// to tokio's blocking pool, which then found the journal deleted by the caller's cleanup
    /// and wrote it again. Once `flush_at_shutdown` returns, the flusher's and the evictor's
    /// runs do nothing.
    #[test]
    fn nothing_writes_in_the_data_dir_after_flush_at_shutdown() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let d = dir("stopped");
        let path = d.join(JOURNAL_FILE);
        let s = JournalStore::open(&d, crate::now_ms()).unwrap();
        let far = crate::now_ms() + 600_000;
        assert_eq!(s.insert(&"k".into(), far, crate::now_ms()), Ok(true));
        let tasks = runtime.block_on(async {
            let every = Duration::from_millis(5);
            (s.spawn_flusher(every), s.spawn_evictor(every))
        });
        // Still running: a deleted journal is written again from memory.
        std::fs::remove_file(&path).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !path.exists() {
            assert!(std::time::Instant::now() < deadline, "not written again");
            std::thread::sleep(Duration::from_millis(5));
        }
        s.flush_at_shutdown().unwrap();
        // The tasks go on (not even aborted here); their runs now write nothing.
        std::fs::remove_file(&path).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert!(!path.exists(), "written after flush_at_shutdown");
        tasks.0.abort();
        tasks.1.abort();
        drop(runtime);
        drop(s);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn the_journal_is_compacted() {
        let d = dir("compact");
        let s = JournalStore::open(&d, 0).unwrap();
        for i in 0..5000 {
            assert_eq!(s.insert(&ReplayKey::new(format!("k{i}")), 10, 0), Ok(true));
        }
        assert!(!s.is_empty());
        let debug = format!("{s:?}");
        assert!(debug.contains("entries: 5000"), "{debug}");
        assert!(
            !debug.contains(&hex(ReplayKey::from("k0").digest())),
            "{debug}"
        );
        s.evict_expired(11 + DROP_GRACE_MS).unwrap();
        assert!(s.is_empty());
        let text = std::fs::read_to_string(d.join(JOURNAL_FILE)).unwrap();
        assert_eq!(text, "");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
