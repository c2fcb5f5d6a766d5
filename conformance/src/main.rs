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
    /// (`xnonce-server serve --demo`: its routes, rules and 30 s window). Plain http:// only
    /// (https is not supported); the server's clock must agree with this machine's well
    /// within the 30 s window.
    ///
    /// With a second registered client (--second-client, --second-secret-file) it also checks
    /// that the replay key holds the client: a request of the second client that reuses the
    /// first's nonce must be accepted, and the first's secret must not sign for the second.
    /// Without one, those checks are not run: their rows say SKIP and the last line counts
    /// them (`N passed, M failed, K SKIPPED (...)`).
    ///
    /// Prints a table and `N passed, M failed`; exits 1 on any failure (skipped checks alone
    /// do not fail).
    Server {
        /// Base URL of the server, `http://host:port[/prefix]` (https is not supported). A
        /// prefix is sent but not signed: the server must see the paths without it.
        #[arg(long)]
        base_url: String,
        /// A client registered on the server.
        #[arg(long)]
        client: String,
        /// File holding the client's secret (surrounding whitespace ignored).
        #[arg(long)]
        secret_file: PathBuf,
        /// Schemes to test, comma-separated.
        #[arg(long, default_value = "v1,v2", value_delimiter = ',')]
        schemes: Vec<String>,
        /// GET route with the rules of the demo's /controller1/action1.
        #[arg(long, default_value = "/controller1/action1")]
        get_path: String,
        /// POST route with the rules of the demo's /controller2/action1.
        #[arg(long, default_value = "/controller2/action1")]
        post_path: String,
        /// A second client registered on the server, other than --client (enables the
        /// cross-client checks; without it they are reported as SKIP).
        #[arg(long, requires = "second_secret_file")]
        second_client: Option<String>,
        /// File holding the second client's secret (surrounding whitespace ignored).
        #[arg(long, requires = "second_client")]
        second_secret_file: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Server {
            base_url,
            client,
            secret_file,
            schemes,
            get_path,
            post_path,
            second_client,
            second_secret_file,
        } => xnonce_conformance::server_suite::main(
            &base_url,
            &client,
            &secret_file,
            &schemes,
            &get_path,
            &post_path,
            second_client.as_deref().zip(second_secret_file.as_deref()),
        ),
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
