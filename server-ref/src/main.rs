//! `xnonce-server`: the reference server and its client registry.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use xnonce_server::registry::{self, Registry};
use xnonce_server::server::Reloader;
use xnonce_server::{metrics, Config, Server};

/// Many small, short-lived allocations per request: mimalloc serves them faster than glibc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `--log-format`'s environment variable.
const LOG_FORMAT_ENV: &str = "XNONCE_LOG_FORMAT";

#[derive(Parser)]
#[command(
    name = "xnonce-server",
    version,
    about = "xnonce reference server: verifies X-Nonce requests (em-secure-api v1 and v2)",
    after_help = "Data dir (client registry): --data DIR, else $XNONCE_DATA, else the config's data_dir (--config FILE, for serve and client commands alike), else ./xnonce-data.\nRegistry key: --key-file PATH, else $XNONCE_KEY_FILE, else the config's key_file, else $XDG_CONFIG_HOME/xnonce/registry.key (~/.config/xnonce/registry.key); it must stay outside the data dir, mode 0600.\nLogs go to stderr, one line per event (--log-format json: one JSON object per line); set RUST_LOG (default: info)."
)]
struct Cli {
    /// How log lines on stderr are written: `text` (key=value fields) or `json` (one object
    /// per line, its fields under "fields", for log collectors).
    #[arg(
        long,
        global = true,
        value_enum,
        env = LOG_FORMAT_ENV,
        default_value = "text"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP: prints `xnonce-server listening on http://ADDR` once listening.
    ///
    /// With a `[metrics]` table in the config, a second line follows:
    /// `xnonce-server metrics on http://ADDR/metrics`.
    Serve(ServeArgs),
    /// Check a config as `serve` reads it (at start, and again on SIGHUP), without serving:
    /// prints `CONFIG: OK` and exits 0, or says what is wrong and exits 1 — for a reload that
    /// should fail when the file is wrong (the systemd unit's `ExecReload`), as `nginx -t`.
    Check(ServeArgs),
    /// Manage the client registry.
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
}

/// `serve`'s arguments: what the command line sets over the config file.
#[derive(clap::Args, Clone)]
struct ServeArgs {
    /// TOML config file (routes, windows, schemes, listen address, limits, rate limits).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080; port 0 picks a free port).
    #[arg(long)]
    listen: Option<String>,
    /// Data dir holding the client registry.
    #[arg(long, env = registry::DATA_ENV)]
    data: Option<PathBuf>,
    /// Registry key file, outside the data dir (else the config's key_file, else
    /// $XDG_CONFIG_HOME/xnonce/registry.key); created 0600 if absent.
    #[arg(long, env = registry::key::KEY_ENV)]
    key_file: Option<PathBuf>,
    /// Serve em-secure-api's test implementation API, its routes and answers (replaces
    /// the config's routes).
    #[arg(long)]
    demo: bool,
    /// Benchmarks only: with --demo, also serve the demo handlers WITHOUT verification
    /// under /_bench/unverified/ (the throughput baseline). Never use in production.
    #[arg(long, requires = "demo")]
    bench_mirror: bool,
}

impl ServeArgs {
    /// The config `serve` runs with and the data dir it resolves to: the file's (else the
    /// demo's, else the default) with the command line's values over it, and the registry key
    /// file resolved (`--key-file`, `XNONCE_KEY_FILE`, the config's, the default). Made the
    /// same way at start and at each `SIGHUP`.
    fn resolve(&self) -> Result<(Config, PathBuf), String> {
        let mut cfg = match &self.config {
            Some(path) => Config::load(path)?,
            None if self.demo => Config::demo(),
            None => Config::default(),
        };
        if let Some(l) = &self.listen {
            xnonce_server::config::check_listen(l).map_err(|e| format!("--listen: {e}"))?;
            cfg.listen = l.clone();
            cfg.check_listeners()?;
        }
        if self.demo {
            cfg = cfg.with_demo();
        }
        cfg.bench_mirror = self.bench_mirror;
        let data_dir = match (&self.data, &cfg.data_dir) {
            (Some(d), _) => d.clone(),
            (None, Some(d)) => d.clone(),
            (None, None) => registry::data_dir(None),
        };
        if self.key_file.is_some() {
            cfg.key_file = self.key_file.clone();
        }
        if let Ok(path) = Registry::open_with_key_file(&data_dir, cfg.key_file.clone()).key_file() {
            cfg.key_file = Some(path.to_path_buf());
        }
        Ok((cfg, data_dir))
    }
}

/// Where the registry is.
#[derive(clap::Args)]
struct Store {
    /// The server's TOML config file: its data_dir and key_file apply (after --data /
    /// $XNONCE_DATA and --key-file / $XNONCE_KEY_FILE), as for `serve --config`.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Data dir holding the client registry.
    #[arg(long, env = registry::DATA_ENV)]
    data: Option<PathBuf>,
    /// Registry key file, outside the data dir (else the config's key_file, else
    /// $XDG_CONFIG_HOME/xnonce/registry.key, else ~/.config/xnonce/registry.key); created
    /// 0600 by the first write if absent.
    #[arg(long, env = registry::key::KEY_ENV)]
    key_file: Option<PathBuf>,
}

impl Store {
    /// The registry, found in the same order as `serve` finds it.
    fn open(self) -> Result<Registry, String> {
        let config = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        let data = match (self.data, config.data_dir) {
            (Some(d), _) | (None, Some(d)) => d,
            (None, None) => registry::data_dir(None),
        };
        Ok(Registry::open_with_key_file(
            data,
            self.key_file.or(config.key_file),
        ))
    }
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Register a client; prints only its new secret. Refuses an existing NAME.
    Add {
        /// Client id (A-Z a-z 0-9 _ . - ~).
        name: String,
        #[command(flatten)]
        store: Store,
    },
    /// Register clients with the secrets they already have (a migration, e.g. from
    /// em-secure-api's `clients` table), all or none: FILE (or - for standard input) holds one
    /// `NAME SECRET` line per client, separated by spaces or a tab (what `mysql -N -B -e
    /// "SELECT name, shared_secret FROM clients"` prints); blank lines and `#` lines are
    /// skipped. Prints the imported names; refuses the whole list when a name exists.
    Import {
        /// The list: a file, or - for standard input.
        file: PathBuf,
        #[command(flatten)]
        store: Store,
    },
    /// Give a client a new secret (old ones stop working: running servers of this host stop
    /// accepting them before the command returns); created if absent. Prints the secret.
    Replace {
        /// Client id.
        name: String,
        #[command(flatten)]
        store: Store,
    },
    /// Add a new live secret to a client, keeping the old ones (rotation); prints only the
    /// new secret. Finish with `retire` once every caller uses it.
    Rotate {
        /// Client id.
        name: String,
        #[command(flatten)]
        store: Store,
    },
    /// Drop every secret of a client but the newest (end of a rotation); prints what it
    /// retired (slots and dates, never secrets). Refuses a client with a single secret.
    Retire {
        /// Client id.
        name: String,
        #[command(flatten)]
        store: Store,
    },
    /// Remove a client (needs --confirm).
    Delete {
        /// Client id.
        name: String,
        /// Required: deleting cannot be undone.
        #[arg(long)]
        confirm: bool,
        #[command(flatten)]
        store: Store,
    },
    /// List client names, one per line (none, with a note on stderr, when the data dir holds
    /// no registry).
    List {
        /// Also each client's live secrets (slots and when they were added, never the
        /// secrets), after a tab: more than one means a rotation to finish with `retire`.
        #[arg(long, short)]
        long: bool,
        #[command(flatten)]
        store: Store,
    },
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("xnonce-server: {e}");
    ExitCode::FAILURE
}

/// Standard output as a file of its own (a copy of fd 1), for a new secret; or why it cannot
/// take one. std's `Stdout` counts a write that fails with EBADF (fd 1 open for reading
/// only) as done, and std reopens an fd 1 that was closed at start (`>&-`) on /dev/null, read
/// and write (a shell's `> /dev/null` is write-only): either way the only copy of the secret
/// would be gone and the command would exit 0.
fn secret_output() -> Result<std::fs::File, String> {
    use rustix::fs::OFlags;
    use std::os::fd::AsFd;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let fd = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| format!("stdout is closed ({e})"))?;
    let access = rustix::fs::fcntl_getfl(&fd).map_err(|e| format!("cannot check stdout: {e}"))?
        & OFlags::RWMODE;
    if access == OFlags::RDONLY {
        return Err("stdout is open for reading only".into());
    }
    let out = std::fs::File::from(fd);
    let device = |m: std::fs::Metadata| m.file_type().is_char_device().then(|| m.rdev());
    let null = std::fs::metadata("/dev/null").ok().and_then(device);
    if access == OFlags::RDWR && null.is_some() && out.metadata().ok().and_then(device) == null {
        return Err("stdout is closed (or /dev/null opened read-write)".into());
    }
    Ok(out)
}

/// Makes a new secret for `name` with `make` and prints it on stdout, its only copy. A stdout
/// that cannot take it ([`secret_output`]) is refused before the registry is touched; one
/// that fails the write (a full disk, a closed pipe) leaves a secret in the registry that
/// nobody has, so the error says so and what to do (`again`). The secret goes nowhere else.
fn new_secret(
    name: &str,
    store: Store,
    again: &str,
    make: impl FnOnce(&Registry) -> Result<xnonce_core::Secret, registry::RegistryError>,
) -> ExitCode {
    let mut out = match secret_output() {
        Ok(out) => out,
        Err(why) => {
            return fail(format!(
                "{why}: the new secret of client {name:?} would be lost, so nothing was \
                 changed; run the command again with stdout to a terminal, a file or a pipe"
            ))
        }
    };
    let registry = match store.open() {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let secret = match make(&registry) {
        Ok(s) => s,
        Err(e) => return write_failed(&registry, e),
    };
    // One write, as std's line-buffered stdout made; sized up front, so no reallocation
    // leaves a copy of the secret behind.
    let mut line = zeroize::Zeroizing::new(String::with_capacity(secret.expose().len() + 1));
    line.push_str(secret.expose());
    line.push('\n');
    match out.write_all(line.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!(
            "client {name:?} was written to the registry, but its new secret could not be \
             shown (cannot write to stdout: {e}), so nobody has it: {again}"
        )),
    }
}

/// The most an import list may hold: ample for a million clients, and a bound on what the
/// wrong file (`/dev/zero`) makes the command read.
const IMPORT_LIMIT: u64 = 256 * 1024 * 1024;

/// `client import FILE`: reads the list ([`registry::import`]), warns about a list others
/// can read and about secrets that sign v1 only, writes every client or none, and prints
/// their names.
fn import_clients(file: &std::path::Path, store: Store) -> ExitCode {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let stdin = file.as_os_str() == "-";
    let shown = if stdin {
        "standard input".to_string()
    } else {
        file.display().to_string()
    };
    let cannot = |e: std::io::Error| fail(format!("cannot read {shown}: {e}"));
    // Sized from the file's length when known, so that growing it leaves no copies of the
    // secrets behind in freed memory.
    let mut size = 0;
    let source: Box<dyn Read> = if stdin {
        Box::new(std::io::stdin())
    } else {
        match std::fs::File::open(file) {
            Ok(f) => {
                if let Ok(meta) = f.metadata() {
                    let mode = meta.permissions().mode() & 0o777;
                    if meta.is_file() && mode & 0o077 != 0 {
                        eprintln!(
                            "xnonce-server: warning: {shown} holds secrets and other users can \
                             read it (mode {mode:04o}): delete it once imported"
                        );
                    }
                    size = meta.len().min(IMPORT_LIMIT) as usize + 1;
                }
                Box::new(f)
            }
            Err(e) => return cannot(e),
        }
    };
    let mut text = zeroize::Zeroizing::new(String::with_capacity(size));
    if let Err(e) = source.take(IMPORT_LIMIT + 1).read_to_string(&mut text) {
        return cannot(e);
    }
    if text.len() as u64 > IMPORT_LIMIT {
        return fail(format!(
            "{shown} holds more than {} MiB: not an import list",
            IMPORT_LIMIT / (1024 * 1024)
        ));
    }
    let clients = match registry::import::parse(&text) {
        Ok(c) => c,
        Err(e) => return fail(format!("{shown}, {e}; nothing was imported")),
    };
    let registry = match store.open() {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if let Err(e) = registry.import(&clients) {
        return fail(e);
    }
    for c in &clients {
        if !c.signs_v2() {
            eprintln!(
                "xnonce-server: warning: the secret of {:?} (line {}) is not 64 hex \
                 characters, so it verifies v1 requests only: `xnonce-server client rotate {}` \
                 gives it one for v2 too",
                c.name, c.line, c.name
            );
        }
        println!("{}", c.name);
    }
    ExitCode::SUCCESS
}

/// The way to a usable secret after `add` or `replace` wrote one that was not shown.
fn replace_again(name: &str) -> String {
    format!("run `xnonce-server client replace {name}` with stdout working for a usable secret")
}

/// `no registry at …` when the registry file does not exist (a mistyped `--data`, or a
/// `--config` left out), saying whether the data dir does.
fn no_registry(registry: &Registry) -> Option<String> {
    match (registry.file().try_exists(), registry.dir().try_exists()) {
        (Ok(true) | Err(_), _) => None,
        (Ok(false), Ok(false)) => Some(format!(
            "no registry at {}: the data dir does not exist",
            registry.dir().display()
        )),
        (Ok(false), _) => Some(format!("no registry at {}", registry.file().display())),
    }
}

/// A write's error; for an unknown client where there is no registry at all, with where it
/// was looked for: "not registered" alone reads as "already gone", while the registry the
/// server reads may still hold it.
fn write_failed(registry: &Registry, e: registry::RegistryError) -> ExitCode {
    match (&e, no_registry(registry)) {
        (registry::RegistryError::NotFound(_), Some(none)) => fail(format!("{e}: {none}")),
        _ => fail(e),
    }
}

fn client(cmd: ClientCommand) -> ExitCode {
    /// The registry of a command's `Store` args, or the exit on a bad `--config`.
    macro_rules! open {
        ($store:expr) => {
            match $store.open() {
                Ok(r) => r,
                Err(e) => return fail(e),
            }
        };
    }
    match cmd {
        ClientCommand::Add { name, store } => {
            new_secret(&name, store, &replace_again(&name), |r| r.add(&name))
        }
        ClientCommand::Import { file, store } => import_clients(&file, store),
        ClientCommand::Replace { name, store } => {
            new_secret(&name, store, &replace_again(&name), |r| r.replace(&name))
        }
        ClientCommand::Rotate { name, store } => {
            let again = format!(
                "run `xnonce-server client rotate {name}` again with stdout working (the lost \
                 secret goes with the other old ones at `client retire {name}`)"
            );
            let code = new_secret(&name, store, &again, |r| r.rotate(&name));
            if code == ExitCode::SUCCESS {
                eprintln!(
                    "xnonce-server: {name} now has several live secrets; once every caller \
                     uses the new one, run `xnonce-server client retire {name}`"
                );
            }
            code
        }
        ClientCommand::Retire { name, store } => {
            let registry = open!(store);
            match registry.retire(&name) {
                Ok(r) => {
                    let list: Vec<String> = r.retired.iter().map(|i| i.to_string()).collect();
                    println!(
                        "retired {} secret{} of {name}: {}",
                        r.retired.len(),
                        if r.retired.len() == 1 { "" } else { "s" },
                        list.join(", ")
                    );
                    println!("live: {}", r.kept);
                    ExitCode::SUCCESS
                }
                Err(e) => write_failed(&registry, e),
            }
        }
        ClientCommand::Delete {
            name,
            confirm,
            store,
        } => {
            if !confirm {
                return fail(format!("deleting {name:?} cannot be undone; add --confirm"));
            }
            let registry = open!(store);
            match registry.delete(&name) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => write_failed(&registry, e),
            }
        }
        ClientCommand::List { long, store } => {
            let registry = open!(store);
            let status = match registry.check(false) {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            if !status.encrypted && status.clients > 0 {
                eprintln!(
                    "xnonce-server: {} is plaintext (version 1); the next add, replace, \
                     rotate, retire or delete encrypts it",
                    registry.file().display()
                );
            }
            // A mistyped data dir lists nothing, as an empty registry does: say that there is
            // no registry there. On stderr, so that scripts still read an empty list; nothing
            // is created to list it.
            if let Some(none) = no_registry(&registry) {
                eprintln!("xnonce-server: {none} (no clients yet)");
            }
            match registry.list_described() {
                Ok(clients) => {
                    for (name, secrets) in clients {
                        if long {
                            let list: Vec<String> = secrets.iter().map(|i| i.to_string()).collect();
                            let n = secrets.len();
                            let s = if n == 1 { "" } else { "s" };
                            println!("{name}\t{n} live secret{s}: {}", list.join(", "));
                        } else {
                            println!("{name}");
                        }
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let (cfg, data_dir) = match args.resolve() {
        Ok(resolved) => resolved,
        Err(e) => return fail(e),
    };
    if cfg.bench_mirror {
        tracing::warn!(
            prefix = xnonce_server::demo::BENCH_MIRROR_PREFIX,
            "--bench-mirror: the demo handlers are also served WITHOUT verification"
        );
    }
    // Start-up checks: the key file (created if absent, refused if others can read it or it
    // sits in the data dir) and a registry that decrypts under it.
    let registry = Registry::open_with_key_file(&data_dir, cfg.key_file.clone());
    match registry.check(true) {
        Ok(status) if !status.encrypted && status.clients > 0 => tracing::warn!(
            file = %registry.file().display(),
            "the client registry is plaintext (version 1); the next `client` write encrypts it"
        ),
        Ok(_) => {}
        Err(e) => return fail(e),
    }
    drop(registry);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("xnonce-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        // A file size limit (`ulimit -f`, systemd's `LimitFSIZE=`) reached by a journal write
        // would kill the process (SIGXFSZ), forgetting the buffered lines of accepted
        // requests, and again soon after each restart. Caught, the write fails (EFBIG) and the
        // journal fails closed as on a full disk (503, and a stop that says what is lost).
        let _file_size_limit = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(
            rustix::process::Signal::XFSZ.as_raw(),
        ));
        let server = match Server::bind(&cfg, data_dir.clone()).await {
            Ok(s) => s,
            Err(e) => {
                // The error says what failed (the listen address, the journal, Redis…).
                eprintln!("xnonce-server: cannot start: {e}");
                return ExitCode::FAILURE;
            }
        };
        let (addr, metrics_addr) = match (server.local_addr(), server.metrics_addr().transpose()) {
            (Ok(a), Ok(m)) => (a, m),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("xnonce-server: {e}");
                return ExitCode::FAILURE;
            }
        };
        // Signal handlers first: from the line below on, SIGTERM is a graceful stop and
        // SIGHUP a reload of the config.
        let (shutdown, stop_draining) = xnonce_server::shutdown_signals();
        reload_on_hangup(args, server.reloader());
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "xnonce-server listening on http://{addr}");
            if let Some(m) = metrics_addr {
                let _ = writeln!(out, "xnonce-server metrics on http://{m}{}", metrics::PATH);
            }
            let _ = out.flush();
        }
        tracing::info!(
            %addr,
            data_dir = %data_dir.display(),
            key_file = %cfg.key_file.as_deref().map(|p| p.display().to_string()).unwrap_or_default(),
            routes = if cfg.routes.is_some() { "configured" } else { "any (no route rules)" },
            answered_by = match (&cfg.upstream, cfg.demo) {
                (_, true) => "the demo handlers",
                (Some(_), false) => "the upstream",
                (None, false) => "the JSON echo",
            },
            "serving"
        );
        match server.run_until(shutdown, stop_draining).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("xnonce-server: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// On each SIGHUP, reads the config again as at start ([`ServeArgs::resolve`]) and serves it
/// from the next request on ([`Reloader::reload`]); a config that cannot be read, or that
/// changes what only a restart applies, is refused and the running one kept. Logged either
/// way. The handler is installed before this returns.
fn reload_on_hangup(args: ServeArgs, reloader: Reloader) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot handle SIGHUP: the config is read at start only");
            return;
        }
    };
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let file = args
                .config
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "none (the built-in one)".into());
            match args
                .resolve()
                .and_then(|(cfg, data_dir)| reloader.reload(&cfg, &data_dir))
            {
                Ok(()) => tracing::info!(config = %file, "SIGHUP: configuration reloaded"),
                Err(e) => tracing::warn!(
                    config = %file,
                    error = %e,
                    "SIGHUP: configuration not reloaded; still serving the previous one"
                ),
            }
        }
    });
}

/// The environment variables the command line reads, which count as unset when empty
/// (`XNONCE_DATA= xnonce-server …`, `Environment=XNONCE_DATA=` in a unit), as in most tools:
/// clap would take one for its flag given without a value.
fn unset_empty_env() {
    for var in [registry::DATA_ENV, registry::key::KEY_ENV, LOG_FORMAT_ENV] {
        if std::env::var_os(var).is_some_and(|v| v.is_empty()) {
            // Before any other thread exists: the first thing main does.
            std::env::remove_var(var);
        }
    }
}

fn main() -> ExitCode {
    unset_empty_env();
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match cli.log_format {
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => logs.json().with_ansi(false).init(),
    }
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Check(args) => match args.resolve() {
            Ok(_) => {
                let config = args.config.as_deref().map_or_else(
                    || "the built-in config".to_string(),
                    |p| p.display().to_string(),
                );
                println!("{config}: OK");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        Command::Client { command } => client(command),
    }
}
