//! The `xnonce` command (DESIGN §4): argument parsing and the `sign`, `link` and `request`
//! commands.

/// `eprintln!` that cannot panic: a message that stderr cannot take (a reader that went away,
/// as in `2>&1 | head -n 1`, or a full disk) is dropped, so that the command still exits with
/// its documented status rather than a panic's 101.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

// The args' doc comments are also their `--help` texts, where a URL reads best bare.
#[allow(rustdoc::bare_urls)]
pub mod args;
mod request;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xnonce_core::{link, sign};

use args::{LinkArgs, RequestArgs, SignArgs};

/// `xnonce`: sign API requests and links for servers that check `X-Nonce`.
#[derive(Parser, Debug)]
#[command(
    name = "xnonce",
    version,
    about = "Sign API requests and one-time links with xnonce (v1: em-secure-api compatible, v2: HMAC)",
    long_about = "Sign API requests and one-time links with xnonce.\n\n\
        The secret comes from --secret-file FILE or the XNONCE_SECRET environment variable \
        (never from the command line in production: --secret shows in the process list); \
        a flag, when given, wins over the variable.\n\n\
        Examples:\n  \
        XNONCE_SECRET=... xnonce sign --scheme v2 --method GET --path /admin/status --client svc --host api.example.com\n  \
        xnonce link --scheme v1 --secret-file key.txt --client svc --method GET --path /reports/get \\\n      \
        --param id=42 --base-url https://api.example.com\n  \
        xnonce request --scheme v2 --secret-file key.txt --client svc --method GET --path /admin/status \\\n      \
        --base-url http://127.0.0.1:8080"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the X-Nonce header value for a request.
    Sign(SignArgs),
    /// Print a full URL with the params and a one-time ottoken.
    Link(LinkArgs),
    /// Sign and send the request; print the body (exit 0 on 2xx; 1 otherwise: another
    /// status, with the status and body on stderr, a server that cannot be reached, or
    /// inputs that cannot be signed or sent).
    Request(RequestArgs),
}

/// Runs a parsed command line; errors go to stderr with their code.
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        // Once the secret is read, an `invalid_secret` is about it (v2 needs 64 hex
        // characters): it names where the secret came from.
        Command::Sign(a) => a
            .input()
            .and_then(|(input, secret)| sign(&input, &secret).map_err(|e| a.name_secret_source(e)))
            .map(|s| s.x_nonce),
        Command::Link(a) => a
            .sign
            .input()
            .and_then(|(input, secret)| {
                link(&input, &secret, &a.base_url()).map_err(|e| a.sign.name_secret_source(e))
            })
            .map(|l| l.url),
        Command::Request(a) => return request::run(&a),
    };
    match result {
        Ok(mut out) => {
            out.push('\n');
            write_stdout(out.as_bytes())
        }
        Err(e) => {
            say!("xnonce: {e}");
            ExitCode::from(2)
        }
    }
}

/// Writes the command's output: success, or exit 1 when stdout cannot take it (a full disk,
/// a closed pipe), since what was asked for was not delivered. A closed pipe (`xnonce sign |
/// head -c 10`) is said nowhere: the reader chose to stop.
fn write_stdout(bytes: &[u8]) -> ExitCode {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                say!("xnonce: cannot write the output: {e}");
            }
            ExitCode::from(1)
        }
    }
}
