//! `xnonce request`: sign, send, print the body.

use std::process::ExitCode;
use std::time::Duration;

use xnonce_core::{canonical, Error, ErrorCode, Scheme};

use super::args::RequestArgs;
use crate::blocking::Requester;
use crate::RequestOptions;

/// Runs `xnonce request`: exit 0 on 2xx (body on stdout), 1 otherwise (DESIGN §4): another
/// status (status and body on stderr), a server that cannot be reached, or inputs that
/// cannot be signed or sent (the error on stderr). Only a command line that cannot be parsed
/// exits 2, as for every command.
pub(super) fn run(a: &RequestArgs) -> ExitCode {
    match send(a) {
        Ok(res) if res.is_success() => super::write_stdout(&printable(res.bytes)),
        Ok(res) => {
            match res.header("location") {
                // Redirects are not followed (a signature is for one URL): say where to.
                Some(to) if (300..400).contains(&res.code) => {
                    say!("xnonce: HTTP {} (Location: {to})", res.code)
                }
                _ => say!("xnonce: HTTP {}", res.code),
            }
            // The body as stdout would have had it: not trimmed, and bytes that are not UTF-8
            // kept, not replaced (DESIGN §4: the status and body on stderr). Dropped, as
            // `say!` drops, when stderr cannot take it.
            use std::io::Write as _;
            let _ = std::io::stderr().lock().write_all(&printable(res.bytes));
            ExitCode::from(1)
        }
        Err(e) => {
            say!("xnonce: {e}");
            ExitCode::from(1)
        }
    }
}

/// An answer's body as printed: byte for byte; a text body gets the line end a terminal
/// needs, a binary one (not UTF-8) nothing, so that `> file` keeps it whole; an empty one (a
/// 204, an answer to HEAD) stays empty rather than becoming a blank line.
fn printable(mut body: Vec<u8>) -> Vec<u8> {
    if !body.is_empty() && std::str::from_utf8(&body).is_ok() && !body.ends_with(b"\n") {
        body.push(b'\n');
    }
    body
}

/// Why `request` did not get an answer: an error with its code, or a `--ca-file` that cannot
/// be used — bad input on the command line, not a connection failure, so it has no code of
/// the shared vocabulary (none fits) and says which file.
enum Failure {
    Coded(Error),
    CaFile(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Coded(e)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Coded(e) => e.fmt(f),
            Failure::CaFile(message) => f.write_str(message),
        }
    }
}

/// The most a `--ca-file` may hold: a CA bundle as big as Mozilla's whole set is ≈ 0.2 MiB,
/// so a longer file (or `/dev/zero`) is the wrong one, not read to the end.
const CA_FILE_LIMIT: u64 = 4 << 20;

/// Reads a `--ca-file`: PEM `CERTIFICATE` blocks, checked here so that a file that cannot
/// be read or holds none is named (never its content) before anything is sent.
fn read_ca_file(path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    use std::io::Read;
    let cannot =
        |why: String| Failure::CaFile(format!("cannot use --ca-file {}: {why}", path.display()));
    let mut pem = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(CA_FILE_LIMIT + 1).read_to_end(&mut pem))
        .map_err(|e| cannot(e.to_string()))?;
    if pem.len() as u64 > CA_FILE_LIMIT {
        return Err(cannot(format!(
            "it holds more than {} MiB, more than any CA bundle",
            CA_FILE_LIMIT >> 20
        )));
    }
    let certificates = match reqwest::Certificate::from_pem_bundle(&pem) {
        Ok(certificates) if !certificates.is_empty() => certificates,
        Ok(_) => {
            return Err(cannot(
                "it holds no PEM CERTIFICATE block (-----BEGIN CERTIFICATE-----)".into(),
            ))
        }
        // A block that begins but is broken: the file is the right kind, its content is not.
        Err(_) => {
            return Err(cannot(
                "a PEM block in it cannot be read as PEM (bad base64, or no -----END line)".into(),
            ))
        }
    };
    // A block that is not a certificate (bad DER) is only found when the HTTP client is
    // made, which would say "builder error" about no file in particular: tried here alone.
    let mut http = reqwest::Client::builder().tls_built_in_root_certs(false);
    for certificate in certificates {
        http = http.add_root_certificate(certificate);
    }
    match http.build() {
        Ok(_) => Ok(pem),
        Err(_) => Err(cannot(
            "a CERTIFICATE block in it is not a certificate the TLS stack can use".into(),
        )),
    }
}

fn send(a: &RequestArgs) -> Result<crate::Response, Failure> {
    let (input, secret) = a.sign.input()?;
    // The path as `xnonce sign` takes it: the requester alone would read one without its
    // leading '/' as em-secure-api's action name and send `/<path>`.
    match input.scheme {
        Scheme::V1 => canonical::path_v1(&input.path).map(drop)?,
        Scheme::V2 => canonical::path_v2(&input.path).map(drop)?,
    }
    // A forced timestamp or nonce is sent as it is, never re-signed; v1 has no nonce, so a
    // --nonce forces nothing there (the requester re-signs, as it should say).
    let forced =
        input.timestamp_ms.is_some() || (input.nonce.is_some() && input.scheme == Scheme::V2);
    let mut options = RequestOptions {
        timestamp_ms: input.timestamp_ms,
        nonce: input.nonce.clone(),
        ..Default::default()
    };
    if let Some(host) = &input.host {
        options.headers.push(("Host".into(), host.clone()));
    }
    if let Some(body) = input.body {
        // Sent byte for byte, so that it is what `xnonce sign --body-file` signs: parsing
        // and re-serialising would reorder keys and round big numbers. v1 signs no body:
        // the requester refuses one for that, whatever it holds.
        let problem = match input.scheme {
            Scheme::V1 => None,
            Scheme::V2 => crate::wire::raw_json_problem(&body),
        };
        if let Some(problem) = problem {
            return Err(Error::new(
                ErrorCode::InvalidBody,
                format!("--body-file (sent as a v2 JSON body) {problem}"),
            )
            .into());
        }
        options.json_raw = Some(body);
    }
    let mut builder = Requester::builder(&a.base_url, &input.client, secret)
        .scheme(input.scheme)
        .correct_clock(!a.no_clock_correction)
        .clock_offset_ms(a.clock_offset)
        .timeout(Duration::from_secs(a.timeout))
        .max_response_bytes(a.max_response_bytes);
    for path in &a.ca_files {
        builder = builder.root_certificates_pem(read_ca_file(path)?);
    }
    // An `invalid_secret` here is about the secret read (v2 needs 64 hex characters).
    let requester = builder.build().map_err(|e| a.sign.name_secret_source(e))?;
    let answer = requester.make_request(&input.method, input.params, &input.path, None, options);
    // A run learns the offset anew each time: say it, so that a script can start from it.
    // Whether it was learned is asked, not inferred from a change: against a server on this
    // host the offset learned is often the 0 ms given.
    let learned = requester.clock_offset_ms();
    if requester.clock_offset_learned() {
        let done = match forced {
            true => "not re-signed: its timestamp or nonce was forced",
            false => "re-signed once with the server's time",
        };
        say!(
            "xnonce: the server found the request stale ({done}); its clock is {learned:+} ms \
             from this one: pass --clock-offset {learned} to start from it"
        );
    }
    Ok(answer?)
}
