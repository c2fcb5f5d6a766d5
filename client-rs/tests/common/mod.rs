//! A real `xnonce-server` on 127.0.0.1:0 for the live tests (never a mock).
//!
//! The binary is `$XNONCE_SERVER_BIN` when set; otherwise `cargo build -p xnonce-server` is
//! run once (a no-op when it is current) into this test's own target dir and profile.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use xnonce::Secret;

/// The `xnonce` command built for this test run.
pub fn xnonce_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_xnonce"))
}

/// Path of a built `xnonce-server`, building it if needed (once per test binary).
pub fn server_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("XNONCE_SERVER_BIN") {
            return PathBuf::from(p);
        }
        let profile_dir = xnonce_bin().parent().expect("bin dir").to_path_buf();
        let target_dir = profile_dir.parent().expect("target dir").to_path_buf();
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args([
            "build",
            "-q",
            "-p",
            "xnonce-server",
            "--bin",
            "xnonce-server",
        ])
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build -p xnonce-server");
        assert!(status.success(), "cargo build -p xnonce-server failed");
        let bin = profile_dir.join(format!("xnonce-server{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.exists(), "{} missing after build", bin.display());
        bin
    })
    .clone()
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let p = std::env::temp_dir().join(format!(
            "xnonce-rs-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running demo server with registered clients.
pub struct Server {
    child: Child,
    pub base_url: String,
    pub data: TempDir,
    clients: Vec<(String, String)>,
}

/// `--data <dir>/data --key-file <dir>/registry.key`: the registry and its key in the test's
/// own temporary dir, never the user's `~/.config/xnonce/registry.key`.
fn registry_args(dir: &TempDir) -> [std::ffi::OsString; 4] {
    [
        "--data".into(),
        dir.path().join("data").into(),
        "--key-file".into(),
        dir.path().join("registry.key").into(),
    ]
}

impl Server {
    /// Registers `clients`, then starts `xnonce-server serve --demo` on 127.0.0.1:0.
    pub fn start(clients: &[&str]) -> Server {
        let data = TempDir::new("server");
        let bin = server_bin();
        let mut registered = Vec::new();
        for name in clients {
            let out = Command::new(&bin)
                .args(["client", "add", name])
                .args(registry_args(&data))
                .output()
                .expect("run xnonce-server client add");
            assert!(
                out.status.success(),
                "client add {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let secret = String::from_utf8(out.stdout).unwrap().trim().to_string();
            assert_eq!(secret.len(), 64, "client add prints a 64-hex secret");
            registered.push((name.to_string(), secret));
        }
        let log = std::fs::File::create(data.path().join("server.log")).unwrap();
        let mut child = Command::new(&bin)
            .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
            .args(registry_args(&data))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn xnonce-server serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(first)) = lines.next() {
                let _ = tx.send(first);
            }
            for _ in lines {} // keep draining so the server never blocks on stdout
        });
        let first = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("xnonce-server printed no listening line");
        let base_url = first
            .strip_prefix("xnonce-server listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .trim()
            .to_string();
        let server = Server {
            child,
            base_url,
            data,
            clients: registered,
        };
        server.wait_healthy();
        server
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr = self
            .base_url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(&addr).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server at {addr} never accepted a connection");
    }

    /// The secret text of a registered client.
    pub fn secret_text(&self, client: &str) -> String {
        self.clients
            .iter()
            .find(|(c, _)| c == client)
            .map(|(_, s)| s.clone())
            .expect("registered client")
    }

    /// The secret of a registered client.
    pub fn secret(&self, client: &str) -> Secret {
        Secret::new(self.secret_text(client)).unwrap()
    }

    /// The `host:port` the server listens on.
    pub fn authority(&self) -> String {
        self.base_url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string()
    }

    /// Writes a client's secret to a file (for `--secret-file`).
    pub fn secret_file(&self, client: &str) -> PathBuf {
        let p = self.data.path().join(format!("{client}.secret"));
        std::fs::write(&p, self.secret_text(client)).unwrap();
        p
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Turns `[("k","v")]` into owned pairs.
pub fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// Also compiled into server-ref's tests (by path): one copy of it.
pub mod refused_port;
