//! What the integration tests that run the real `xnonce-server` binary share: private
//! temporary dirs, the command with a clean environment, and a `serve` that is known to be
//! listening (or to have exited, with its status and stderr), and signed requests on a
//! keep-alive connection.
//!
//! Each test file compiles this module on its own and uses part of it.
#![allow(dead_code)]

use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use xnonce_conformance::server_suite::http;
use xnonce_core::{sign, Scheme, Secret, SignInput};
use xnonce_server::{Config, ConnectionLimits, Registry, Server};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A number unique in this test process (file names).
pub fn unique() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// `<tmp>/xnonce-<tag>-…/` with the paths `data/` and `keys/registry.key` (neither created);
/// removed on drop.
pub struct Dirs {
    pub base: PathBuf,
    pub data: PathBuf,
    pub key: PathBuf,
}

impl Dirs {
    pub fn new(tag: &str) -> Dirs {
        let base = std::env::temp_dir().join(format!(
            "xnonce-{tag}-{}-{}-{}",
            std::process::id(),
            unique(),
            xnonce_server::now_ms()
        ));
        std::fs::create_dir_all(&base).unwrap();
        Dirs {
            data: base.join("data"),
            key: base.join("keys").join("registry.key"),
            base,
        }
    }

    /// The registry of `data`, keyed with `key` (never the user's default key).
    pub fn registry(&self) -> Registry {
        Registry::open_with_key_file(&self.data, Some(self.key.clone()))
    }

    /// A new file name in the base dir: `<stem>-<n>.<ext>`.
    pub fn fresh(&self, stem: &str, ext: &str) -> PathBuf {
        self.base.join(format!("{stem}-{}.{ext}", unique()))
    }
}

impl Drop for Dirs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_xnonce-server")
}

/// `xnonce-server ARGS`, in the environment of [`server_env`].
pub fn command(args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    server_env(&mut c).args(args);
    c
}

/// No data dir, key file or log format from the environment, `RUST_LOG=info`, and a config
/// home of this test process's own: what a command that runs the server needs (also one
/// that runs it through a shell). A command without `--key-file` then keys its registry
/// with `<that home>/xnonce/registry.key`, never the user's `~/.config/xnonce/registry.key`.
pub fn server_env(c: &mut Command) -> &mut Command {
    c.env_remove("XNONCE_DATA")
        .env_remove("XNONCE_KEY_FILE")
        .env_remove("XNONCE_LOG_FORMAT")
        .env("XDG_CONFIG_HOME", config_home())
        .env("RUST_LOG", "info")
}

/// `target/tmp/xnonce-config-<pid>` (cargo's scratch dir for integration tests, which `cargo
/// clean` removes), shared by every command of this test process: a registry made by
/// `client add` is served by a later `serve` with the same default key.
pub fn config_home() -> &'static Path {
    static HOME: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    HOME.get_or_init(|| {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("xnonce-config-{}", std::process::id()))
    })
}

/// A `serve` that printed its listening line; killed on drop.
pub struct Served {
    pub child: Child,
    pub base: http::BaseUrl,
    /// Its stderr.
    pub log: PathBuf,
}

/// A `serve` that exited instead of listening.
#[derive(Debug)]
pub struct Exited {
    pub status: ExitStatus,
    pub stderr: String,
    /// From the start to the exit.
    pub after: Duration,
}

/// Starts `serve` (a `command` with its args), stderr to `log`, and waits for its first line
/// on stdout: the listening line, or the end of stdout when it exits.
pub fn spawn_serve(mut cmd: Command, log: &Path) -> Result<Served, Exited> {
    let t0 = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    match line.trim_end().strip_prefix("xnonce-server listening on ") {
        Some(url) => Ok(Served {
            base: http::BaseUrl::parse(url).unwrap(),
            child,
            log: log.to_path_buf(),
        }),
        None => {
            let status = child.wait().unwrap();
            Err(Exited {
                status,
                stderr: std::fs::read_to_string(log).unwrap_or_default(),
                after: t0.elapsed(),
            })
        }
    }
}

impl Served {
    /// Its stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, and the exit status (fails after 15 s).
    pub fn stop(mut self) -> ExitStatus {
        self.signal("-TERM")
    }

    /// Sends `sig` (`-TERM`, `-KILL`…) and waits for the exit (fails after 15 s); how the
    /// process ended.
    pub fn signal(&mut self, sig: &str) -> ExitStatus {
        self.send_signal(sig);
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "no exit after {sig}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `sig` (`-TERM`, `-KILL`…) without waiting for anything.
    pub fn send_signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// True while the process runs.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server running in-process on its own two-thread runtime, listening on 127.0.0.1:0;
/// stopped, and its thread joined, on drop.
pub struct InProcess {
    pub base: http::BaseUrl,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The metrics listener's, with `Config::metrics_listen`.
    pub metrics: Option<http::BaseUrl>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl InProcess {
    /// Serves `config` (its `listen` replaced) with the data dir `data`.
    pub fn start(mut config: Config, data: PathBuf) -> InProcess {
        config.listen = "127.0.0.1:0".into();
        if config.metrics_listen.is_some() {
            config.metrics_listen = Some("127.0.0.1:0".into());
        }
        InProcess::launch(move |addr, stop| async move {
            let server = Server::bind(&config, data).await?;
            let metrics = server.metrics_addr().transpose()?;
            addr.send((server.local_addr()?, metrics)).unwrap();
            server.run(stop).await
        })
    }

    /// Serves `router` as the server does (its accept loop, with `limits`).
    pub fn serve(router: axum::Router, limits: ConnectionLimits) -> InProcess {
        InProcess::launch(move |addr, stop| async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            addr.send((listener.local_addr()?, None)).unwrap();
            xnonce_server::connections::serve(listener, router, limits, stop).await;
            Ok(())
        })
    }

    /// Runs `run` on a new runtime in a new thread: it sends the addresses it listens on (the
    /// API's, the metrics'), then serves until the future it is given (the stop signal)
    /// completes.
    fn launch<F, Fut>(run: F) -> InProcess
    where
        F: FnOnce(std::sync::mpsc::Sender<(SocketAddr, Option<SocketAddr>)>, StopSignal) -> Fut
            + Send
            + 'static,
        Fut: Future<Output = std::io::Result<()>>,
    {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(run(
                addr_tx,
                Box::pin(async {
                    let _ = stop_rx.await;
                }),
            ))
        });
        let (addr, metrics) = addr_rx.recv_timeout(Duration::from_secs(20)).unwrap();
        let url = format!("http://{addr}");
        InProcess {
            base: http::BaseUrl::parse(&url).unwrap(),
            metrics: metrics.map(|m| http::BaseUrl::parse(&format!("http://{m}")).unwrap()),
            url,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

/// What stops an [`InProcess`] server: completes when it is dropped.
type StopSignal = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// The client's tests hold the same helper: one copy, compiled into both.
#[path = "../../../client-rs/tests/common/refused_port.rs"]
pub mod refused_port;

/// A signed `GET` of `path` with `params` as its query, as HTTP/1.1 text on a keep-alive
/// connection to `authority`.
pub fn signed_get(
    authority: &str,
    (client, secret): (&str, &Secret),
    path: &str,
    params: &[(&str, &str)],
) -> String {
    let input = SignInput::new(Scheme::V2, "GET", path, client)
        .params(params.iter().copied())
        .host(authority);
    let signed = sign(&input, secret).unwrap();
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let target = match query.is_empty() {
        true => path.to_string(),
        false => format!("{path}?{}", query.join("&")),
    };
    format!(
        "GET {target} HTTP/1.1\r\nHost: {authority}\r\nX-Nonce: {}\r\nContent-Length: 0\r\n\r\n",
        signed.x_nonce
    )
}

/// A keep-alive connection: sends a request, reads its answer's status (and skips its body).
pub struct Connection(BufReader<TcpStream>);

impl Connection {
    pub fn open(connect: &str) -> Connection {
        let stream = TcpStream::connect(connect).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Connection(BufReader::new(stream))
    }

    pub fn status(&mut self, request: &str) -> u16 {
        self.0.get_mut().write_all(request.as_bytes()).unwrap();
        let mut line = String::new();
        self.0.read_line(&mut line).unwrap();
        let status = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut length = 0;
        loop {
            line.clear();
            self.0.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        self.0.read_exact(&mut body).unwrap();
        status
    }
}
