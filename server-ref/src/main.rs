//! `xnonce-server`: the reference server and its client registry.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xnonce_server::registry::{self, Registry};
use xnonce_server::{Config, Server};

#[derive(Parser)]
#[command(
    name = "xnonce-server",
    version,
    about = "xnonce reference server: verifies X-Nonce requests (em-secure-api v1 and v2)",
    after_help = "Data dir (client registry): --data DIR, else $XNONCE_DATA, else the config's data_dir, else ./xnonce-data.\nLogs go to stderr; set RUST_LOG (default: info)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP: prints `xnonce-server listening on http://ADDR` once listening.
    Serve {
        /// TOML config file (routes, windows, schemes, listen address, limits).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to listen on (default 127.0.0.1:8080; port 0 picks a free port).
        #[arg(long)]
        listen: Option<String>,
        /// Data dir holding the client registry.
        #[arg(long, env = registry::DATA_ENV)]
        data: Option<PathBuf>,
        /// Serve em-secure-api's test implementation API, its routes and answers (replaces
        /// the config's routes).
        #[arg(long)]
        demo: bool,
        /// Benchmarks only: with --demo, also serve the demo handlers WITHOUT verification
        /// under /_bench/unverified/ (the throughput baseline). Never use in production.
        #[arg(long, requires = "demo")]
        bench_mirror: bool,
    },
    /// Manage the client registry.
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Register a client; prints only its new secret. Refuses an existing NAME.
    Add {
        /// Client id (A-Z a-z 0-9 _ . - ~).
        name: String,
        /// Data dir holding the client registry.
        #[arg(long, env = registry::DATA_ENV)]
        data: Option<PathBuf>,
    },
    /// Give a client a new secret (old ones stop working); created if absent. Prints the secret.
    Replace {
        /// Client id.
        name: String,
        /// Data dir holding the client registry.
        #[arg(long, env = registry::DATA_ENV)]
        data: Option<PathBuf>,
    },
    /// Add a second live secret to a client (rotation); prints it. Finish with `replace`.
    Rotate {
        /// Client id.
        name: String,
        /// Data dir holding the client registry.
        #[arg(long, env = registry::DATA_ENV)]
        data: Option<PathBuf>,
    },
    /// Remove a client (needs --confirm).
    Delete {
        /// Client id.
        name: String,
        /// Required: deleting cannot be undone.
        #[arg(long)]
        confirm: bool,
        /// Data dir holding the client registry.
        #[arg(long, env = registry::DATA_ENV)]
        data: Option<PathBuf>,
    },
    /// List client names, one per line.
    List {
        /// Data dir holding the client registry.
        #[arg(long, env = registry::DATA_ENV)]
        data: Option<PathBuf>,
    },
}

fn print_secret(r: Result<xnonce_core::Secret, registry::RegistryError>) -> ExitCode {
    match r {
        Ok(secret) => {
            let mut out = std::io::stdout().lock();
            if writeln!(out, "{}", secret.expose())
                .and_then(|_| out.flush())
                .is_err()
            {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xnonce-server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn client(cmd: ClientCommand) -> ExitCode {
    match cmd {
        ClientCommand::Add { name, data } => {
            print_secret(Registry::open(registry::data_dir(data.as_deref())).add(&name))
        }
        ClientCommand::Replace { name, data } => {
            print_secret(Registry::open(registry::data_dir(data.as_deref())).replace(&name))
        }
        ClientCommand::Rotate { name, data } => {
            print_secret(Registry::open(registry::data_dir(data.as_deref())).rotate(&name))
        }
        ClientCommand::Delete {
            name,
            confirm,
            data,
        } => {
            if !confirm {
                eprintln!("xnonce-server: deleting {name:?} cannot be undone; add --confirm");
                return ExitCode::FAILURE;
            }
            match Registry::open(registry::data_dir(data.as_deref())).delete(&name) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("xnonce-server: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        ClientCommand::List { data } => {
            match Registry::open(registry::data_dir(data.as_deref())).list() {
                Ok(names) => {
                    for n in names {
                        println!("{n}");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("xnonce-server: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn serve(
    config: Option<PathBuf>,
    listen: Option<String>,
    data: Option<PathBuf>,
    demo: bool,
    bench_mirror: bool,
) -> ExitCode {
    let mut cfg = match &config {
        Some(path) => match Config::load(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("xnonce-server: {e}");
                return ExitCode::FAILURE;
            }
        },
        None if demo => Config::demo(),
        None => Config::default(),
    };
    if let Some(l) = listen {
        cfg.listen = l;
    }
    if demo {
        cfg = cfg.with_demo();
    }
    if bench_mirror {
        cfg.bench_mirror = true;
        tracing::warn!(
            prefix = xnonce_server::demo::BENCH_MIRROR_PREFIX,
            "--bench-mirror: the demo handlers are also served WITHOUT verification"
        );
    }
    let data_dir = match (data, &cfg.data_dir) {
        (Some(d), _) => d,
        (None, Some(d)) => d.clone(),
        (None, None) => registry::data_dir(None),
    };
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
        let server = match Server::bind(&cfg, data_dir.clone()).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("xnonce-server: cannot start on {}: {e}", cfg.listen);
                return ExitCode::FAILURE;
            }
        };
        let addr = match server.local_addr() {
            Ok(a) => a,
            Err(e) => {
                eprintln!("xnonce-server: {e}");
                return ExitCode::FAILURE;
            }
        };
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "xnonce-server listening on http://{addr}");
            let _ = out.flush();
        }
        tracing::info!(
            %addr,
            data_dir = %data_dir.display(),
            routes = if cfg.routes.is_some() { "configured" } else { "any (no route rules)" },
            "serving"
        );
        match server.run(xnonce_server::shutdown_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("xnonce-server: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match Cli::parse().command {
        Command::Serve {
            config,
            listen,
            data,
            demo,
            bench_mirror,
        } => serve(config, listen, data, demo, bench_mirror),
        Command::Client { command } => client(command),
    }
}
