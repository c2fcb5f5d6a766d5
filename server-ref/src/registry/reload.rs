//! Registry writes reach running servers at once: each server listens on a Unix socket in
//! the data dir, and every write of a [`Registry`] asks those servers to
//! re-read the file and waits until they have.
//!
//! * A running server (`xnonce-server serve`, or [`Server`](crate::Server) in an app) binds
//!   `<data dir>/servers/<host name>/<16 hex>.sock` (the dirs `0700`, the socket `0600`) and
//!   removes it when it stops. Unix sockets connect only on their own host, so on a data dir
//!   shared by several hosts (NFS) each host's servers and writers keep to their own folder
//!   (named after the host, see the README).
//! * After every `add`, `replace`, `rotate`, `retire` or `delete`, the writer connects to
//!   each socket there (for up to [`ANSWER_TIMEOUT`]: a stalled server's queue of pending
//!   connections may be full), sends `reload\n`, and waits up to [`ANSWER_TIMEOUT`] for `ok\n`. A
//!   server answers only once it has re-read and installed the registry. So when
//!   `xnonce-server client delete svc --confirm` returns, every server it reached refuses
//!   `svc`, and every server it reached refuses a retired or replaced secret.
//! * A server that answers `error: <message>` re-read the file and could not use it (another
//!   key, a modified or unreadable file): it keeps serving its last good copy and will not
//!   see the change. The write then fails with
//!   [`RegistryError::NotReloaded`](super::RegistryError::NotReloaded), naming the server's
//!   socket and its message (the file stays written).
//! * A socket that nobody listens on (left by a server that was killed) is removed. A server
//!   that does not answer in time is named in a warning: it still sees the change at its
//!   next periodic check, within [`CHECK_INTERVAL`](super::CHECK_INTERVAL). So does a server
//!   that could not bind its socket; it logs a warning at start. A socket path longer than
//!   a Unix socket address holds (107 bytes) is reached through the folder's descriptor
//!   (`/proc/self/fd/<n>/<16 hex>.sock`) on Linux; elsewhere such a data dir cannot bind.
//!
//! Only processes that can open the data dir (`0700`, the owner's) can connect.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use super::Registry;

/// The folder of the data dir that holds the running servers' sockets, one folder per host.
pub const SOCKETS_DIR: &str = "servers";
/// How long a writer waits for each server's answer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

const REQUEST: &str = "reload";

/// What a registry write's notification reached.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Notified {
    /// Servers that re-read the registry before answering.
    pub reloaded: usize,
    /// Sockets of servers that answered `error: <message>`: they could not re-read the
    /// registry and keep serving their last good copy (each with its message).
    pub refused: Vec<(PathBuf, String)>,
    /// Sockets of servers that did not answer in time, or answered something else (each with
    /// what went wrong).
    pub unanswered: Vec<(PathBuf, String)>,
}

/// A server's answer to `reload`.
enum Answer {
    /// `ok`: re-read and installed.
    Reloaded,
    /// `error: <message>`: could not re-read it.
    Refused(String),
}

/// The sockets this process listens on (file names): a write of this process does not ask
/// them, since every [`Registry`] of the process sees its writes on its next lookup anyway
/// (and asking would block a runtime's thread on a task of the same runtime).
static OWN: Mutex<BTreeSet<OsString>> = Mutex::new(BTreeSet::new());

fn own() -> std::sync::MutexGuard<'static, BTreeSet<OsString>> {
    OWN.lock().unwrap_or_else(|p| p.into_inner())
}

/// Asks every server listening in `dir`'s [`SOCKETS_DIR`], other than this process's own, to
/// re-read the registry, and waits for their answers. Sockets nobody listens on are removed.
pub fn notify_servers(dir: &Path) -> Notified {
    notify(dir, |name| own().contains(name))
}

/// This host's folder of sockets in `dir`: `servers/<host name>` ([`host_folder`]).
fn host_dir(dir: &Path) -> PathBuf {
    let uname = rustix::system::uname();
    dir.join(SOCKETS_DIR)
        .join(host_folder(uname.nodename().to_bytes()))
}

/// This host's name cut to 32 bytes of `A-Z a-z 0-9 - _` (anything else as `_`).
pub(crate) fn host_name() -> String {
    shown_host_name(rustix::system::uname().nodename().to_bytes())
}

/// The folder of [`SOCKETS_DIR`] for the host named `nodename`: its [`host_name`], and when
/// that is not the whole name as it is (cut at 32 bytes, or a character replaced), `-` and 16
/// hex of the whole name's SHA-256. Hosts of a shared data dir must not share a folder: a
/// writer removes a socket of its folder that refuses its connection, as another host's
/// live server's socket does, and that server's own host would then no longer reach it.
fn host_folder(nodename: &[u8]) -> String {
    let shown = shown_host_name(nodename);
    if shown.as_bytes() == nodename {
        return shown;
    }
    let digest = <sha2::Sha256 as sha2::Digest>::digest(nodename);
    format!("{shown}-{}", xnonce_core::hex::encode(&digest[..8]))
}

/// [`host_name`] of a host named `nodename`.
fn shown_host_name(nodename: &[u8]) -> String {
    let name: String = nodename
        .iter()
        .take(32)
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => b as char,
            _ => '_',
        })
        .collect();
    if name.is_empty() {
        "_".into()
    } else {
        name
    }
}

fn notify(dir: &Path, skip: impl Fn(&OsStr) -> bool) -> Notified {
    let mut notified = Notified::default();
    let Ok(entries) = std::fs::read_dir(host_dir(dir)) else {
        return notified; // no server has run here
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension() != Some("sock".as_ref()) || skip(&entry.file_name()) {
            continue;
        }
        match ask(&path) {
            Ok(Answer::Reloaded) => notified.reloaded += 1,
            Ok(Answer::Refused(why)) => notified.refused.push((path, why)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound
                ) =>
            {
                let _ = std::fs::remove_file(&path); // its server is gone
            }
            Err(e) => notified.unanswered.push((path, e.to_string())),
        }
    }
    notified
}

/// The longest path a Unix socket address holds (`sun_path` is 108 bytes with its NUL).
const MAX_SOCKET_PATH: usize = 107;

/// Runs `f` (a bind or a connect) on `path`, or, when `path` is too long for a socket address,
/// on Linux on the same file reached through its folder's descriptor
/// (`/proc/self/fd/<n>/<name>`): the kernel resolves that link to the folder itself, so the
/// socket is the same file, and only the address is shorter.
///
/// Only `f`'s own errors keep their kind (a `NotFound` or `ConnectionRefused` from a connect
/// says the server is gone, and [`notify`] removes its socket); a folder that cannot be
/// opened is `Other`, and without `/proc` the long path is tried as it is (and refused as too
/// long), so neither removes a live server's socket.
fn at_socket_path<T>(path: &Path, f: impl FnOnce(&Path) -> io::Result<T>) -> io::Result<T> {
    let proc_fds = Path::new("/proc/self/fd");
    if path.as_os_str().len() <= MAX_SOCKET_PATH || !cfg!(target_os = "linux") || !proc_fds.is_dir()
    {
        return f(path);
    }
    let (Some(folder), Some(name)) = (path.parent(), path.file_name()) else {
        return f(path);
    };
    let folder = std::fs::File::open(folder).map_err(|e| {
        io::Error::other(format!(
            "cannot open {} to reach its socket: {e}",
            folder.display()
        ))
    })?;
    let short = proc_fds
        .join(std::os::fd::AsRawFd::as_raw_fd(&folder).to_string())
        .join(name);
    // `folder` stays open until `f` has used the link.
    f(&short).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("{e} (through /proc/self/fd: the path is over {MAX_SOCKET_PATH} bytes)"),
        )
    })
}

fn ask(path: &Path) -> io::Result<Answer> {
    let mut stream = connect(path)?;
    stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    stream.set_write_timeout(Some(ANSWER_TIMEOUT))?;
    stream.write_all(format!("{REQUEST}\n").as_bytes())?;
    let mut answer = String::new();
    // An answer is `ok` or `error: <message>`: a short line.
    BufReader::new(io::Read::take(stream, 4096)).read_line(&mut answer)?;
    match answer.trim_end() {
        "ok" => Ok(Answer::Reloaded),
        "" => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "closed without answering",
        )),
        other => match other.strip_prefix("error: ") {
            // Printable only: the message goes to a terminal.
            Some(why) => Ok(Answer::Refused(
                why.chars().filter(|c| !c.is_control()).collect(),
            )),
            None => Err(io::Error::other(format!("answered {other:?}"))),
        },
    }
}

/// Connects to the socket at `path`, giving up after [`ANSWER_TIMEOUT`] (`TimedOut`): a
/// connect to a server whose accept loop is stalled (a stopped process, one out of
/// descriptors) blocks once its queue of pending connections is full, and a `client` command
/// would wait for it forever. The connect runs on a thread of its own, left to end when the
/// server takes the connection (or the process exits).
fn connect(path: &Path) -> io::Result<UnixStream> {
    let (sender, receiver) = std::sync::mpsc::channel();
    let owned = path.to_path_buf();
    std::thread::Builder::new()
        .name("xnonce-reload-connect".into())
        .spawn(move || {
            let _ = sender.send(at_socket_path(&owned, |path| UnixStream::connect(path)));
        })?;
    receiver.recv_timeout(ANSWER_TIMEOUT).unwrap_or_else(|_| {
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "no connection within {} s (its server takes no connections)",
                ANSWER_TIMEOUT.as_secs()
            ),
        ))
    })
}

/// A running server's socket: answers reload requests until dropped, then removes the
/// socket file.
#[derive(Debug)]
pub struct ReloadListener {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl ReloadListener {
    /// Binds a new socket in `registry`'s data dir (creating its host's folder in
    /// [`SOCKETS_DIR`], `0700`) and
    /// serves reload requests on the current tokio runtime: each re-reads the registry (on a
    /// blocking thread) and answers `ok`, or `error: <message>` when the file cannot be read
    /// or decrypted (the last good copy is kept then).
    pub fn bind(registry: Arc<Registry>) -> io::Result<ReloadListener> {
        let dir = host_dir(registry.dir());
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        // Root's folders in a data dir that is not root's would keep its user's server from
        // its socket (and its `client` commands from finding root's): given to that user.
        if let Some(sockets) = dir.parent() {
            crate::ownership::give_path_to_folder_owner(sockets);
        }
        crate::ownership::give_path_to_folder_owner(&dir);
        let name = super::random_hex(8).map_err(|e| io::Error::other(e.to_string()))?;
        let path = dir.join(format!("{name}.sock"));
        let listener =
            at_socket_path(&path, |at| tokio::net::UnixListener::bind(at)).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot listen on {}: {e}", path.display()),
                )
            })?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        crate::ownership::give_path_to_folder_owner(&path);
        own().insert(format!("{name}.sock").into());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                tokio::spawn(answer(stream, registry.clone()));
            }
        });
        Ok(ReloadListener { path, task })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

async fn answer(stream: tokio::net::UnixStream, registry: Arc<Registry>) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut read = tokio::io::BufReader::new(tokio::io::AsyncReadExt::take(read, 64));
    let asked = tokio::time::timeout(ANSWER_TIMEOUT, read.read_line(&mut line)).await;
    if !matches!(asked, Ok(Ok(_))) || line.trim_end() != REQUEST {
        return;
    }
    let reloaded = tokio::task::spawn_blocking(move || registry.reload()).await;
    let reply = match reloaded {
        Ok(Ok(())) => "ok\n".to_string(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "client registry not reloaded; keeping the last good copy");
            format!("error: {e}\n")
        }
        Err(e) => format!("error: {e}\n"),
    };
    let _ = write.write_all(reply.as_bytes()).await;
}

impl Drop for ReloadListener {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
        if let Some(name) = self.path.file_name() {
            own().remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::tests::{open, tmp};
    use xnonce_core::SecretSource;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_listening_server_rereads_the_registry_before_it_answers() {
        let (dir, key) = tmp();
        let writer = open(&dir, &key);
        let secret = writer.add("svc").unwrap();
        let rt = runtime();
        let server = Arc::new(open(&dir, &key));
        assert_eq!(server.secrets("svc"), [secret]);
        let listener = rt
            .block_on(async { ReloadListener::bind(server.clone()) })
            .unwrap();
        let path = listener.path().to_path_buf();
        let host = path.parent().unwrap();
        assert_eq!(host.parent().unwrap(), dir.join(SOCKETS_DIR));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            (mode(&path), mode(host), mode(host.parent().unwrap())),
            (0o600, 0o700, 0o700)
        );

        // Another handle deletes the client. Its write does not ask this process's own
        // server (a lookup notices the write anyway); asked over the socket as another
        // process would, the server re-reads the file before it answers. (Its snapshot is
        // read directly: a lookup would see the write without the socket.)
        open(&dir, &key).delete("svc").unwrap();
        assert!(server.snapshot.read().unwrap().clients.contains_key("svc"));
        let every = |_: &OsStr| false;
        let reloaded = notify(&dir, every);
        assert_eq!(
            reloaded,
            Notified {
                reloaded: 1,
                ..Notified::default()
            }
        );
        assert!(!server.snapshot.read().unwrap().clients.contains_key("svc"));
        assert_eq!(
            notify_servers(&dir),
            Notified::default(),
            "its own server asked"
        );

        // A file that no longer decrypts: the server keeps its copy and says why.
        std::fs::write(writer.file(), b"{\"version\": 7}").unwrap();
        let refused = notify(&dir, every);
        assert_eq!((refused.reloaded, refused.unanswered.len()), (0, 0));
        let [(socket, why)] = &refused.refused[..] else {
            panic!("{refused:?}")
        };
        assert_eq!(socket, &path);
        assert!(
            why.starts_with(&format!("{} has version 7", writer.file().display())),
            "{why}"
        );

        // Stopped: the socket is gone, and nothing is left to notify.
        drop(listener);
        assert!(!path.exists());
        assert_eq!(notify(&dir, every), Notified::default());
        assert!(!own().contains(path.file_name().unwrap()));
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    /// Hosts sharing a data dir (NFS) must not share a folder of sockets: a writer removes a
    /// socket of its folder that refuses its connection, which another host's live server's
    /// socket does, and that server's own host then no longer reaches it before a `delete`
    /// returns. Names were cut at 32 bytes, so Kubernetes pods of one Deployment
    /// (`<deployment>-<template hash>-<5 random>`) shared one folder.
    #[test]
    fn hosts_whose_names_differ_past_32_bytes_or_in_a_replaced_character_get_folders_of_their_own()
    {
        let folder = |name: &str| host_folder(name.as_bytes());
        let pods = [
            "billing-gateway-deployment-7d4b9c8f5-x2k9p",
            "billing-gateway-deployment-7d4b9c8f5-q8zzt",
        ];
        assert_ne!(folder(pods[0]), folder(pods[1]));
        assert_ne!(folder("web.1"), folder("web_1"));
        assert_ne!(folder(".."), folder("__"));
        // A short name of those characters is its own folder, as in earlier releases.
        assert_eq!(folder("db1-eu_west"), "db1-eu_west");
        for name in [pods[0], "..", ".", "", "a/b"] {
            let f = folder(name);
            assert!(
                !f.is_empty()
                    && f.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{name:?}: {f:?}"
            );
        }
    }

    #[test]
    fn sockets_nobody_listens_on_are_removed_and_other_files_and_hosts_left() {
        let (dir, _) = tmp();
        let sockets = host_dir(&dir);
        std::fs::create_dir_all(&sockets).unwrap();
        let elsewhere = dir.join(SOCKETS_DIR).join("another-host");
        std::fs::create_dir_all(&elsewhere).unwrap();
        let theirs = elsewhere.join("0123456789abcdef.sock");
        drop(std::os::unix::net::UnixListener::bind(&theirs).unwrap()); // not connectable here
        let stale = sockets.join("0123456789abcdef.sock");
        drop(std::os::unix::net::UnixListener::bind(&stale).unwrap()); // a killed server's
        let note = sockets.join("README");
        std::fs::write(&note, "not a socket").unwrap();
        assert!(stale.exists());
        assert_eq!(notify_servers(&dir), Notified::default());
        assert!(!stale.exists());
        assert!(note.exists() && theirs.exists());
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    /// A server that takes no connections (stopped, or out of descriptors) with its queue
    /// of pending ones full: a connect blocked on it until it took one, and `client delete`
    /// with it. It is named as not answering after [`ANSWER_TIMEOUT`], and its socket kept.
    #[test]
    fn a_server_that_takes_no_connections_is_unanswered_after_the_timeout() {
        use socket2::{Domain, SockAddr, Socket, Type};
        let (dir, _) = tmp();
        let sockets = host_dir(&dir);
        std::fs::create_dir_all(&sockets).unwrap();
        let path = sockets.join("0123456789abcdef.sock");
        let listener = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
        listener.bind(&SockAddr::unix(&path).unwrap()).unwrap();
        listener.listen(0).unwrap(); // one pending connection fills its queue
        let _pending = UnixStream::connect(&path).unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        let notifying = dir.clone();
        std::thread::spawn(move || sender.send(notify_servers(&notifying)));
        let notified = receiver
            .recv_timeout(ANSWER_TIMEOUT * 3)
            .expect("notify_servers returns though the server takes no connections");
        assert_eq!(notified.unanswered.len(), 1, "{notified:?}");
        assert!(
            notified.unanswered[0].1.contains("no connection within"),
            "{notified:?}"
        );
        assert!(path.exists());
        drop(listener);
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_peer_that_closes_or_answers_otherwise_is_unanswered_and_an_error_is_a_refusal() {
        let (dir, _) = tmp();
        let sockets = host_dir(&dir);
        std::fs::create_dir_all(&sockets).unwrap();
        let peer = std::os::unix::net::UnixListener::bind(sockets.join("a.sock")).unwrap();
        let answers = std::thread::spawn(move || {
            for reply in [&b""[..], b"later\n", b"error: cannot\x1b[2J read\n"] {
                let (mut s, _) = peer.accept().unwrap();
                let mut line = String::new();
                BufReader::new(&mut s).read_line(&mut line).unwrap();
                assert_eq!(line, "reload\n");
                s.write_all(reply).unwrap();
            }
        });
        let closed = notify_servers(&dir);
        assert!(
            closed.unanswered[0].1.contains("closed without answering"),
            "{closed:?}"
        );
        let other = notify_servers(&dir);
        assert!(
            other.unanswered[0].1.contains("answered \"later\""),
            "{other:?}"
        );
        let refused = notify_servers(&dir);
        assert_eq!(
            refused.refused,
            [(sockets.join("a.sock"), "cannot[2J read".to_string())]
        );
        assert!(refused.unanswered.is_empty(), "{refused:?}");
        answers.join().unwrap();
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_write_that_a_server_cannot_reread_is_an_error_naming_it_and_stays_written() {
        let (dir, key) = tmp();
        let writer = open(&dir, &key);
        writer.add("svc").unwrap();
        let sockets = host_dir(&dir);
        std::fs::create_dir_all(&sockets).unwrap();
        let socket = sockets.join("b.sock");
        let peer = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let answers = std::thread::spawn(move || {
            for _ in 0..2 {
                let (mut s, _) = peer.accept().unwrap();
                let mut line = String::new();
                BufReader::new(&mut s).read_line(&mut line).unwrap();
                s.write_all(b"error: cannot read the registry\n").unwrap();
            }
        });
        let e = writer.add("new").unwrap_err();
        assert!(
            matches!(e, super::super::RegistryError::NotReloaded(_)),
            "{e}"
        );
        let msg = e.to_string();
        assert!(
            msg.contains(&format!(
                "could not re-read it and keeps serving its previous copy (the server \
                 listening on {}: cannot read the registry)",
                socket.display()
            )) && msg.contains("`xnonce-server client replace new` for a secret"),
            "{msg}"
        );
        assert!(!msg.contains("within"), "{msg}");
        // The write stands.
        assert_eq!(writer.list().unwrap(), ["new", "svc"]);
        let e = writer.delete("svc").unwrap_err().to_string();
        assert!(
            e.contains("Client \"svc\" was deleted, but is still accepted there"),
            "{e}"
        );
        answers.join().unwrap();
        assert_eq!(writer.list().unwrap(), ["new"]);
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    /// A data dir whose socket path is too long for a socket address (a deep CI workspace, a
    /// long host name) is reached through the folder's descriptor: writes still reach the
    /// server at once.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_data_dir_too_long_for_a_socket_address_still_reaches_its_server() {
        let (dir, key) = tmp();
        let deep = dir.join("d".repeat(120));
        let rt = runtime();
        let server = Arc::new(open(&deep, &key));
        let listener = rt
            .block_on(async { ReloadListener::bind(server.clone()) })
            .unwrap();
        let path = listener.path().to_path_buf();
        assert!(path.as_os_str().len() > MAX_SOCKET_PATH);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the socket is in the data dir, the owner's");
        // As another process would ask it (this process's own writes skip its server).
        open(&deep, &key).add("far").unwrap();
        assert!(!server.snapshot.read().unwrap().clients.contains_key("far"));
        let notified = notify(&deep, |_| false);
        assert_eq!(notified.reloaded, 1, "{notified:?}");
        assert!(server.snapshot.read().unwrap().clients.contains_key("far"));
        drop(listener);
        assert!(!path.exists(), "removed when the server stops");
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    /// Without `/proc/self/fd`, such a data dir cannot bind: an error naming the socket.
    #[cfg(not(target_os = "linux"))]
    #[test]
    fn a_data_dir_too_long_for_a_socket_address_is_an_error_naming_the_socket() {
        let (dir, key) = tmp();
        let deep = dir.join("d".repeat(120));
        let rt = runtime();
        let e = rt
            .block_on(async { ReloadListener::bind(Arc::new(open(&deep, &key))) })
            .unwrap_err();
        assert!(e.to_string().starts_with("cannot listen on "), "{e}");
        assert!(e.to_string().contains(SOCKETS_DIR), "{e}");
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }
}
