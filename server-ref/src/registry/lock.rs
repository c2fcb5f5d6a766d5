//! The registry's write lock: an exclusive `flock(2)` on `<data dir>/.clients.lock`, so
//! concurrent `client` commands (and a starting server that records its key) do not lose
//! each other's updates.
//!
//! * The lock file is created `0600` on first use and **never deleted**: the lock is the
//!   kernel's, not the file's existence, so it is released when its holder ends however it
//!   ends (`kill -9`, a crash), and a holder that is merely slow (a long `fsync` on NFS, a
//!   command stopped with Ctrl-Z) keeps it: nobody judges it stale and writes over it.
//! * A writer that finds the lock held waits: after [`NOTICE_AFTER`] it logs once that it is
//!   waiting for another registry write (naming the holder's pid and host, which the holder
//!   writes into the lock file), and after [`LOCK_WAIT`] it gives up with an error; it never
//!   takes the lock from its holder.
//! * `flock`, not `fcntl` locks: on a local file system both are the kernel's; on NFS, Linux
//!   clients (since 2.6.12) send a `flock` to the server as a lock on the whole file, so on
//!   an NFSv4 mount writers on different hosts wait for each other too — the same lock an
//!   `fcntl` open-file-description lock would take there. Unlike classic `fcntl` locks it
//!   belongs to the open file, not the process (two threads of one process exclude each
//!   other, and closing another descriptor of the file does not drop it), it needs no
//!   unsafe code (`rustix::fs::flock`), and it is what the replay journal's lock uses. On an
//!   NFSv3 mount with `local_lock=flock` or `local_lock=all` it only excludes writers of the
//!   same host.
//! * [`LOCK_WAIT`] is longer than an NFSv4 lease (90 s on Linux's server): a lock held by a
//!   host that died is released by the NFS server before a waiter gives up.
//! * Earlier releases took the lock file's existence as the lock and deleted one older than
//!   10 s: do not run their `client` commands on the same data dir. (A lock file deleted or
//!   replaced under a waiter is noticed: the waiter locks the file now at the path.)

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use super::RegistryError;

/// The lock file's name inside the data dir.
pub const LOCK_FILE: &str = ".clients.lock";
/// How long a registry write waits for another to release the lock before it gives up.
pub const LOCK_WAIT: Duration = Duration::from_secs(120);
/// After how long a waiting write logs that it waits.
pub const NOTICE_AFTER: Duration = Duration::from_secs(1);
/// The longest pause between two tries.
const MAX_PAUSE: Duration = Duration::from_millis(100);

/// The registry's lock, held until dropped (the kernel releases it with the file).
#[derive(Debug)]
pub(crate) struct FileLock {
    file: fs::File,
}

fn lock_err(path: &Path, e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Io(format!("cannot lock {}: {e}", path.display()))
}

/// Not through a symbolic link: the holder truncates the file and writes into it, so a link
/// planted in a data dir others can write (the server warns about one, and leaves it so)
/// would have it overwrite whatever file the link names (as the replay journal's lock,
/// `journal::LOCK_FILE`, is opened).
const NOFOLLOW: i32 = rustix::fs::OFlags::NOFOLLOW.bits() as i32;

fn open(path: &Path) -> Result<fs::File, RegistryError> {
    let file = fs::OpenOptions::new()
        .read(true)
        // Written: the holder's pid and host; and an exclusive lock on NFS needs a file open
        // for writing.
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(NOFOLLOW)
        .open(path)
        .map_err(|e| lock_err(path, e))?;
    crate::ownership::give_to_folder_owner(&file, path);
    Ok(file)
}

/// Whether `file` is still the file at `path` (not deleted or replaced since it was opened).
fn still_there(file: &fs::File, path: &Path) -> bool {
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// `pid N on HOST`, as the holder wrote it into the lock file (printable ASCII only, cut
/// short); `None` when unreadable or empty.
fn holder(path: &Path) -> Option<String> {
    let mut text = String::new();
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(NOFOLLOW)
        .open(path)
        .ok()?
        .take(200)
        .read_to_string(&mut text)
        .ok()?;
    let text: String = text
        .trim()
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(100)
        .collect();
    (!text.is_empty()).then_some(text)
}

impl FileLock {
    /// Takes the lock of `dir` (an existing directory), waiting for its holder at most
    /// `bound` (see the module's documentation).
    pub(crate) fn acquire(dir: &Path, bound: Duration) -> Result<FileLock, RegistryError> {
        let path = dir.join(LOCK_FILE);
        let start = Instant::now();
        let mut told = false;
        let mut pause = Duration::from_millis(2);
        let mut file = open(&path)?;
        loop {
            match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
                Ok(()) if still_there(&file, &path) => {
                    let mut lock = FileLock { file };
                    lock.write_holder();
                    return Ok(lock);
                }
                // Deleted or replaced meanwhile (by hand, or by an older release): a lock on
                // a file nobody else opens excludes nobody. Lock the file now there.
                Ok(()) => {
                    file = open(&path)?;
                    continue;
                }
                Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::INTR => {}
                Err(e) => return Err(lock_err(&path, io::Error::from(e))),
            }
            let waited = start.elapsed();
            let by = |format: fn(String) -> String| holder(&path).map(format).unwrap_or_default();
            if waited >= bound {
                return Err(RegistryError::Io(format!(
                    "gave up after {} s waiting for another registry write to finish: {} is \
                     locked{}. A command stopped with Ctrl-Z holds it until it is resumed \
                     (`fg`) or ended; nothing was changed",
                    bound.as_secs(),
                    path.display(),
                    by(|h| format!(" by {h}"))
                )));
            }
            if !told && waited >= NOTICE_AFTER {
                told = true;
                tracing::warn!(
                    lock = %path.display(),
                    "waiting for another client command to finish{}; giving up after {} s",
                    by(|h| format!(" ({h} holds the registry lock)")),
                    bound.as_secs()
                );
            }
            std::thread::sleep(pause.min(bound.saturating_sub(waited)));
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }

    /// Writes `pid N on HOST` into the lock file, for the message of a writer that waits.
    fn write_holder(&mut self) {
        let text = format!(
            "pid {} on {}\n",
            std::process::id(),
            super::reload::host_name()
        );
        let file = &mut self.file;
        let _ = file
            .set_len(0)
            .and_then(|_| io::Seek::rewind(file))
            .and_then(|_| file.write_all(text.as_bytes()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn tmp() -> PathBuf {
        let (dir, _) = crate::registry::tests::tmp();
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_held_lock_is_waited_for_then_given_up_on_and_never_taken() {
        let dir = tmp();
        let held = FileLock::acquire(&dir, LOCK_WAIT).unwrap();
        let text = fs::read_to_string(dir.join(LOCK_FILE)).unwrap();
        assert_eq!(
            text,
            format!(
                "pid {} on {}\n",
                std::process::id(),
                crate::registry::reload::host_name()
            )
        );
        // Another open file of the same process conflicts, as another process would.
        let e = FileLock::acquire(&dir, Duration::from_millis(50)).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, RegistryError::Io(_)), "{msg}");
        assert!(
            msg.contains("waiting for another registry write to finish")
                && msg.contains(&format!("locked by pid {} on ", std::process::id()))
                && msg.contains("nothing was changed"),
            "{msg}"
        );
        // Still held by its holder: the lock file was neither deleted nor replaced.
        assert!(still_there(&held.file, &dir.join(LOCK_FILE)));
        drop(held);
        // Released with the file; the file stays.
        let again = FileLock::acquire(&dir, Duration::ZERO).unwrap();
        assert!(dir.join(LOCK_FILE).exists());
        drop(again);
        assert!(dir.join(LOCK_FILE).exists());
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    /// The repro: in a data dir others can write, `.clients.lock` planted as a symbolic link
    /// to another file of the user's made `client add` truncate that file and write `pid N on
    /// HOST` into it. The link is refused now, naming the lock file; its target is untouched.
    #[test]
    fn a_lock_file_planted_as_a_link_is_refused_and_its_target_untouched() {
        let dir = tmp();
        let victim = dir.parent().unwrap().join("victim");
        fs::write(&victim, "keep me").unwrap();
        std::os::unix::fs::symlink(&victim, dir.join(LOCK_FILE)).unwrap();
        let e = FileLock::acquire(&dir, Duration::ZERO)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("cannot lock {}: ", dir.join(LOCK_FILE).display())),
            "{e}"
        );
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me");
        assert_eq!(
            holder(&dir.join(LOCK_FILE)),
            None,
            "not read through the link"
        );
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn an_old_unheld_lock_file_is_no_lock_and_a_replaced_one_is_locked_anew() {
        let dir = tmp();
        // What an older release left: an old file nobody holds.
        let old = fs::File::create(dir.join(LOCK_FILE)).unwrap();
        old.set_modified(std::time::SystemTime::now() - Duration::from_secs(3600))
            .unwrap();
        drop(FileLock::acquire(&dir, Duration::ZERO).unwrap());
        // A lock file deleted under a waiter: the file now at the path is what gets locked.
        let held = FileLock::acquire(&dir, Duration::ZERO).unwrap();
        fs::remove_file(dir.join(LOCK_FILE)).unwrap();
        let second = FileLock::acquire(&dir, Duration::ZERO).unwrap();
        assert!(still_there(&second.file, &dir.join(LOCK_FILE)));
        assert!(!still_there(&held.file, &dir.join(LOCK_FILE)));
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }
}
