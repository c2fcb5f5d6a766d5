//! Arguments shared by `sign`, `link` and `request`, and how they become a [`SignInput`].

use std::io::Read;
use std::path::PathBuf;

use clap::Args;
use xnonce_core::{Error, ErrorCode, Scheme, Secret, SignInput};
use zeroize::Zeroizing;

/// The inputs of a signature.
#[derive(Args, Debug, Clone)]
pub struct SignArgs {
    /// Signing scheme: v2 (HMAC, recommended) or v1 (em-secure-api legacy).
    #[arg(long, default_value = "v2", value_parser = ["v1", "v2"])]
    pub scheme: String,
    /// HTTP method (upper-cased when signed).
    #[arg(long, default_value = "GET")]
    pub method: String,
    /// Path without query, e.g. /controller1/action1.
    #[arg(long)]
    pub path: String,
    /// A parameter KEY=VALUE (split on the first '='); repeat it, order is kept. A
    /// parameter starting with '-' is written --param=-KEY=VALUE.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Client id.
    #[arg(long)]
    pub client: String,
    /// File holding the secret, or - for standard input (a leading UTF-8 byte-order mark and
    /// surrounding whitespace ignored). Takes precedence over XNONCE_SECRET.
    #[arg(long, value_name = "FILE", conflicts_with = "secret")]
    pub secret_file: Option<PathBuf>,
    /// The secret itself. For tests only: it shows in the process list. Takes precedence
    /// over XNONCE_SECRET. A value starting with '-' is the secret (never read as a flag,
    /// which the usage error would print).
    #[arg(long, hide = true, allow_hyphen_values = true, value_parser = parse_secret_text)]
    pub secret: Option<SecretText>,
    /// Timestamp in ms since the epoch (default: now).
    #[arg(long, value_name = "MS")]
    pub timestamp: Option<u64>,
    /// v2 nonce, 32 lower-case hex characters (default: random). v1 has none and ignores it.
    #[arg(long)]
    pub nonce: Option<String>,
    /// Host (authority) the request goes to, which v2 signs: required by `sign` in v2;
    /// `link` and `request` otherwise take it from their base URL. `request` sends it as the
    /// Host header (in v1 too, where it is not signed). Checked in both schemes: an empty or
    /// malformed one is an invalid_host error.
    #[arg(long)]
    pub host: Option<String>,
    /// v2 body file whose SHA-256 is signed (its exact bytes), or - for standard input;
    /// `request` sends it as an application/json body, so it must hold JSON. At most 64 MiB
    /// (kept in memory whole). v1 signs no body, and a `link` carries none: both refuse it.
    #[arg(long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
}

/// `link`'s extra input.
#[derive(Args, Debug, Clone)]
pub struct LinkArgs {
    /// The signature's inputs.
    #[command(flatten)]
    pub sign: SignArgs,
    /// Where the API lives, e.g. https://api.example.com (its authority is the v2 host).
    #[arg(long, value_name = "URL")]
    pub base_url: String,
}

impl LinkArgs {
    /// `--base-url` as `request` reads it (its URL parser, as browsers): surrounding spaces
    /// and control characters trimmed, the scheme in any case (RFC 3986 §3.1) written
    /// lower-case. What is left is the base URL PROTOCOL §9 reads, exactly as every other
    /// language's `link` reads what it is given.
    pub fn base_url(&self) -> String {
        let trimmed = self.base_url.trim_matches(|c: char| c <= ' ');
        match trimmed.split_once("://") {
            Some((scheme, rest))
                if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
            {
                format!("{}://{rest}", scheme.to_ascii_lowercase())
            }
            _ => trimmed.to_string(),
        }
    }
}

/// `request`'s extra inputs.
#[derive(Args, Debug, Clone)]
pub struct RequestArgs {
    /// The signature's inputs (`--host` is sent as the `Host` header; `--body-file` must
    /// hold JSON and is sent byte for byte as a v2 JSON body).
    #[command(flatten)]
    pub sign: SignArgs,
    /// Where the API lives, e.g. http://127.0.0.1:8080 (its authority is the v2 host). A
    /// path after the authority (/prefix) is sent before --path but not signed: for a proxy
    /// that strips it before the verifying server.
    #[arg(long, value_name = "URL")]
    pub base_url: String,
    /// PEM file of certificate authorities to trust besides the bundled roots (an internal
    /// CA's certificate); repeat it for several files. One that cannot be read or holds no
    /// PEM certificate fails the command before anything is sent.
    #[arg(long = "ca-file", value_name = "FILE")]
    pub ca_files: Vec<PathBuf>,
    /// Do not correct the clock from the server's time hint (no retry of stale requests).
    /// A forced --timestamp or --nonce is never retried.
    #[arg(long)]
    pub no_clock_correction: bool,
    /// Start from this clock offset in ms (server time − local time), e.g. when this
    /// machine's clock is known to be off.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub clock_offset: i64,
    /// Time limit of each HTTP exchange in seconds (at least 1); with the clock-correction
    /// retry a request may take two.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = parse_timeout)]
    pub timeout: u64,
    /// The largest answer body to accept, in bytes; a longer one fails the command (exit 1)
    /// without being read further.
    #[arg(long, value_name = "BYTES", default_value_t = crate::DEFAULT_MAX_RESPONSE_BYTES)]
    pub max_response_bytes: u64,
}

/// `--timeout`: whole seconds, at least 1.
fn parse_timeout(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(0) => Err("the timeout must be at least 1 second".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("not a whole number of seconds: {e}")),
    }
}

/// The environment variable that may hold the secret.
pub const SECRET_ENV: &str = "XNONCE_SECRET";

/// The most a secret file may hold: a secret is at most 1024 bytes (PROTOCOL §3.1), so
/// anything much longer is the wrong file (or `/dev/zero`), not read to the end.
const SECRET_FILE_LIMIT: u64 = 64 * 1024;

/// The most a `--body-file` may hold: 64 MiB, as much as a requester reads of an answer by
/// default (the body is kept in memory whole, and signed before it is sent). A server's own
/// limit is its business (the reference server's default `max_body_bytes` is 1 MiB, and a
/// longer body is answered 413); a longer file (or `/dev/zero`) is refused here without being
/// read to the end.
pub const BODY_FILE_LIMIT: u64 = 64 << 20;

/// The text given to `--secret`, kept out of `Debug` output and zeroized when dropped.
#[derive(Clone)]
pub struct SecretText(Zeroizing<String>);

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText(<redacted>)")
    }
}

fn parse_secret_text(s: &str) -> Result<SecretText, String> {
    Ok(SecretText(Zeroizing::new(s.to_string())))
}

fn input_error(code: ErrorCode, msg: String) -> Error {
    Error::new(code, msg)
}

impl SignArgs {
    /// Reads the secret: `--secret-file`, else `--secret` (with a warning), else
    /// `XNONCE_SECRET` — an explicit flag beats the environment.
    pub fn secret(&self) -> Result<Secret, Error> {
        if let Some(path) = &self.secret_file {
            let cannot = |e: std::io::Error| {
                // A v2 secret passed here by mistake (`--secret-file 20a6…`): not echoed.
                let name = path.to_string_lossy();
                let name = xnonce_core::secret::file_name_for_message(&name);
                input_error(
                    ErrorCode::InvalidSecret,
                    format!("cannot read secret file {name}: {e}"),
                )
            };
            // Sized up front and zeroized when dropped: no reallocation leaves a copy of the
            // secret behind in freed memory, nor does the buffer itself (a refused secret too).
            let mut bytes = Zeroizing::new(Vec::with_capacity(SECRET_FILE_LIMIT as usize + 1));
            let source: Box<dyn Read> = match is_stdin(path) {
                true => Box::new(std::io::stdin()),
                false => Box::new(std::fs::File::open(path).map_err(cannot)?),
            };
            source
                .take(SECRET_FILE_LIMIT + 1)
                .read_to_end(&mut bytes)
                .map_err(cannot)?;
            // The length first: the limit may cut a character of a longer UTF-8 file.
            if bytes.len() as u64 > SECRET_FILE_LIMIT {
                return Err(input_error(
                    ErrorCode::InvalidSecret,
                    format!(
                        "{} holds more than {} KiB: a secret is at most 1024 bytes",
                        self.secret_source(),
                        SECRET_FILE_LIMIT / 1024
                    ),
                ));
            }
            let text = std::str::from_utf8(&bytes).map_err(|_| {
                cannot(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "stream did not contain valid UTF-8",
                ))
            })?;
            return Secret::from_file_text(text).map_err(|e| self.name_secret_source(e));
        }
        if let Some(SecretText(text)) = &self.secret {
            say!("xnonce: warning: --secret shows in the process list; use --secret-file or {SECRET_ENV}");
            return Secret::new(text.as_str()).map_err(|e| self.name_secret_source(e));
        }
        match std::env::var(SECRET_ENV).map(Zeroizing::new) {
            Ok(text) if text.trim().is_empty() => Err(input_error(
                ErrorCode::InvalidSecret,
                format!("{SECRET_ENV} is set but empty; put the secret in it or pass --secret-file FILE"),
            )),
            Ok(text) => Secret::from_file_text(&text).map_err(|e| self.name_secret_source(e)),
            Err(std::env::VarError::NotUnicode(_)) => Err(input_error(
                ErrorCode::InvalidSecret,
                format!("{SECRET_ENV} is set but is not valid UTF-8; a secret is text (64 hex characters)"),
            )),
            Err(std::env::VarError::NotPresent) => Err(input_error(
                ErrorCode::InvalidSecret,
                format!("no secret: pass --secret-file FILE or set {SECRET_ENV}"),
            )),
        }
    }

    /// Where the secret is read from, for messages: `--secret-file`, else `--secret`, else
    /// `XNONCE_SECRET` (the order of [`secret`](Self::secret)).
    fn secret_source(&self) -> String {
        match (&self.secret_file, &self.secret) {
            (Some(path), _) if is_stdin(path) => "secret file - (standard input)".into(),
            (Some(path), _) => {
                let name = path.to_string_lossy();
                format!(
                    "secret file {}",
                    xnonce_core::secret::file_name_for_message(&name)
                )
            }
            (None, Some(_)) => "--secret".into(),
            (None, None) => SECRET_ENV.into(),
        }
    }

    /// An `invalid_secret` error about the secret read (not a v2 secret, whitespace, ...),
    /// naming where it was read from: a flag beats `XNONCE_SECRET`, so the secret refused
    /// may not be the one the user had in mind. Other errors are returned as they are.
    pub fn name_secret_source(&self, e: Error) -> Error {
        match e.code() {
            ErrorCode::InvalidSecret => input_error(
                ErrorCode::InvalidSecret,
                format!("{}: {}", self.secret_source(), e.message()),
            ),
            _ => e,
        }
    }

    /// The core input and the secret.
    pub fn input(&self) -> Result<(SignInput, Secret), Error> {
        let stdin = |p: &Option<PathBuf>| p.as_deref().is_some_and(is_stdin);
        if stdin(&self.secret_file) && stdin(&self.body_file) {
            // Checked before either is read: the secret would take the whole input.
            return Err(input_error(
                ErrorCode::InvalidBody,
                "--secret-file - and --body-file - cannot both read standard input; \
                 give one of them a file"
                    .into(),
            ));
        }
        // Read first, so that a `--secret` is warned about whatever else is wrong (it is in
        // the process list already); its own error still comes after the other inputs'.
        let secret = self.secret();
        let scheme: Scheme = self.scheme.parse()?;
        let mut input = SignInput::new(scheme, &self.method, &self.path, &self.client);
        for p in &self.params {
            let (k, v) = p.split_once('=').ok_or_else(|| {
                input_error(
                    ErrorCode::InvalidParamKey,
                    format!("--param {p:?} is not KEY=VALUE"),
                )
            })?;
            input = input.param(k, v);
        }
        input.timestamp_ms = self.timestamp;
        input.nonce = self.nonce.clone();
        if let Some(host) = &self.host {
            // Refused alike in both schemes: v2 signs it, and `request` sends it as `Host` in
            // v1 too (an empty one is no host at all); v1's `sign` and `link` do not use it,
            // but the same command line fails the same way whichever the scheme.
            xnonce_core::canonical::host(host)?;
        }
        input.host = self.host.clone();
        if let Some(path) = &self.body_file {
            let cannot = |e: std::io::Error| {
                input_error(
                    ErrorCode::InvalidBody,
                    format!("cannot read body file {}: {e}", path.display()),
                )
            };
            let source: Box<dyn Read> = match is_stdin(path) {
                true => Box::new(std::io::stdin()),
                false => Box::new(std::fs::File::open(path).map_err(cannot)?),
            };
            // Never more than the limit and one byte: a huge or endless file (`/dev/zero`)
            // is refused, not read into memory to the end.
            let mut body = Vec::new();
            source
                .take(BODY_FILE_LIMIT + 1)
                .read_to_end(&mut body)
                .map_err(cannot)?;
            if body.len() as u64 > BODY_FILE_LIMIT {
                return Err(input_error(
                    ErrorCode::InvalidBody,
                    format!(
                        "body file {} holds more than {} MiB ({BODY_FILE_LIMIT} bytes), the most \
                         the command reads: not read further",
                        match is_stdin(path) {
                            true => "- (standard input)".into(),
                            false => path.display().to_string(),
                        },
                        BODY_FILE_LIMIT >> 20
                    ),
                ));
            }
            input.body = Some(body);
        }
        Ok((input, secret?))
    }
}

/// `-`, the file name that means standard input (`--secret-file -`, `--body-file -`).
fn is_stdin(path: &std::path::Path) -> bool {
    path.as_os_str() == "-"
}
