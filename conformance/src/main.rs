//! `xnonce-conformance`: regenerate or check the shared vectors.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xnonce_conformance::{check, generate, vector};

#[derive(Parser)]
#[command(
    name = "xnonce-conformance",
    version,
    about = "xnonce's shared vectors and conformance checks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the generated vector files (xnonce-v2.json, xnonce-v1-extra.json) from the reference core.
    Generate {
        /// Folder to write into.
        #[arg(long, default_value_os_t = vector::vectors_dir())]
        out: PathBuf,
        /// Do not write; exit 1 if any file on disk differs from what would be generated.
        #[arg(long)]
        check: bool,
    },
    /// Check every vector file (and XNONCE_EXTRA_VECTORS) against the Rust core.
    Vectors {
        /// Folder of vector files.
        #[arg(long, default_value_os_t = vector::vectors_dir())]
        dir: PathBuf,
    },
    /// Black-box suite against a running server that exposes em-secure-api's demo API
    /// (`xnonce-server serve --demo`: its routes, rules and 30 s window), over http:// or
    /// https:// (e.g. through the TLS proxy in front of it); the server's clock must
    /// agree with this machine's well within the 30 s window.
    ///
    /// With a second registered client (--second-client, --second-secret-file) it also checks
    /// that the replay key holds the client: a request of the second client that reuses the
    /// first's nonce must be accepted, and the first's secret must not sign for the second.
    /// Without one, those checks are not run: their rows say SKIP and the last line counts
    /// them (`N passed, M failed, K SKIPPED (...)`).
    ///
    /// Prints a table and `N passed, M failed`; exits 1 on any failure (skipped checks alone
    /// do not fail).
    Server(xnonce_conformance::server_suite::ServerArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Server(args) => xnonce_conformance::server_suite::main(&args),
        Command::Generate { out, check } => {
            let mut stale = false;
            for (name, text) in generate::files() {
                let path = out.join(name);
                if check {
                    if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                        eprintln!(
                            "{} is not what the generator makes: run `xnonce-conformance generate`",
                            path.display()
                        );
                        stale = true;
                    }
                } else if let Err(e) = std::fs::write(&path, text) {
                    eprintln!("cannot write {}: {e}", path.display());
                    return ExitCode::FAILURE;
                } else {
                    println!("wrote {}", path.display());
                }
            }
            if stale {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Command::Vectors { dir } => {
            let files = match vector::vector_files(&dir) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("cannot read {}: {e}", dir.display());
                    return ExitCode::FAILURE;
                }
            };
            let (mut passed, mut failed) = (0usize, 0usize);
            for file in files {
                match vector::load(&file) {
                    Ok(cases) => {
                        for case in cases {
                            match check::check(&case) {
                                Ok(()) => passed += 1,
                                Err(why) => {
                                    failed += 1;
                                    eprintln!("FAIL {} ({}): {why}", case.id, file.display());
                                }
                            }
                        }
                    }
                    Err(e) => {
                        failed += 1;
                        eprintln!("FAIL {e}");
                    }
                }
            }
            if failed == 0 {
                println!("rust: {passed} vectors passed");
            } else {
                println!("rust: {passed} vectors passed, {failed} failed");
            }
            if failed == 0 && passed > 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
