//! The black-box server suite: `xnonce-conformance server --base-url URL --client C
//! --secret-file F`.
//!
//! It runs against any server that exposes em-secure-api's README example API (DESIGN §5,
//! what `xnonce-server serve --demo` serves) over plain `http://`, with `C` registered under
//! the secret in `F`:
//!
//! * `GET /controller1/action1` — `username`, `password` required, `opt1` required;
//! * `POST /controller2/action1` — `opt1`, `opt3` required (plus any other params);
//! * `GET /controller1/action2` — `opt1`, `opt2` required, `password` optional;
//! * `GET /controller1/action3` — `password` excluded, and no `POST` route;
//! * no route at `/controller1/no_such_action` or `/no_such_controller/x`.
//!
//! `--get-path` and `--post-path` move the first two. Every check sends real HTTP/1.1 bytes
//! and compares the status (and, for v1, em-secure-api's exact body; for v2, the problem
//! document's `code`). Each signed request uses a fresh `opt1` value so checks never collide.
//!
//! With a second registered client (`--second-client C2 --second-secret-file F2`) it also
//! checks that the replay key holds the client (PROTOCOL §11.4: `v2:<client>:<nonce>`): the
//! second client's request that reuses the first's nonce is accepted (then refused as a
//! replay), and a request in the second client's name signed with the first's secret is
//! refused. Without it those rows are reported `SKIP`, never as passed.
//!
//! It also assumes the demo's 30 s window on the GET route (timestamps 120 s off must be
//! refused and, by the server's clock as its time hint tells it, 20 s off accepted and 35 s
//! off refused), a server clock that agrees with the suite's well within that window (valid
//! requests are signed with the suite's clock), and, with a path prefix in the base URL, a
//! server that sees the paths without it (the prefix is sent, not signed, as for links:
//! PROTOCOL §9).

pub mod http;

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use xnonce_core::{link, percent, sign, Scheme, Secret, ServerTimeHint, SignInput, Signed};

use http::{BaseUrl, Request, Response};

/// What the suite needs to know.
#[derive(Debug, Clone)]
pub struct Options {
    /// `http[s]://host:port[/prefix]`.
    pub base_url: String,
    /// A PEM file of certificate authorities to trust for an `https://` base URL, besides
    /// the bundled Mozilla roots (an internal CA).
    pub ca_file: Option<std::path::PathBuf>,
    /// A registered client id.
    pub client: String,
    /// Its secret.
    pub secret: Secret,
    /// Schemes to test (both by default).
    pub schemes: Vec<Scheme>,
    /// The GET route with em-secure-api's `controller1/action1` rules.
    pub get_path: String,
    /// The POST route with em-secure-api's `controller2/action1` rules.
    pub post_path: String,
    /// A second registered client (id and secret), distinct from `client`; the checks that
    /// need it are reported as skipped without it.
    pub second_client: Option<(String, Secret)>,
    /// How long at the least the early GETs' copies wait after the GETs were accepted (the
    /// rows `early GET replayed last`; default [`LATE_REPLAY_AFTER`], 2 s).
    pub late_replay_after: std::time::Duration,
}

impl Options {
    /// Options with the demo API's paths and both schemes.
    pub fn new(base_url: &str, client: &str, secret: Secret) -> Options {
        Options {
            base_url: base_url.to_string(),
            client: client.to_string(),
            secret,
            schemes: vec![Scheme::V1, Scheme::V2],
            get_path: "/controller1/action1".into(),
            post_path: "/controller2/action1".into(),
            second_client: None,
            ca_file: None,
            late_replay_after: LATE_REPLAY_AFTER,
        }
    }

    /// The same options with the early GETs' copies sent at least `wait` after them, when
    /// the other rows took less.
    pub fn with_late_replay_after(mut self, wait: std::time::Duration) -> Options {
        self.late_replay_after = wait;
        self
    }

    /// The same options, also trusting the certificate authorities of a PEM file for an
    /// `https://` base URL.
    pub fn with_ca_file(mut self, ca_pem: &std::path::Path) -> Options {
        self.ca_file = Some(ca_pem.to_path_buf());
        self
    }

    /// The same options with a second registered client.
    pub fn with_second_client(mut self, client: &str, secret: Secret) -> Options {
        self.second_client = Some((client.to_string(), secret));
        self
    }
}

/// One row of the result table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// Check name.
    pub name: String,
    /// What was expected.
    pub expected: String,
    /// What came back.
    pub got: String,
    /// Whether it matched (never for a skipped check).
    pub passed: bool,
    /// Not run (it needs an option that was not given; `got` says which).
    pub skipped: bool,
}

/// What a check that needs the second client shows when there is none.
const NEEDS_SECOND_CLIENT: &str = "SKIPPED: needs --second-client";

#[derive(Clone, Copy)]
enum Status {
    Is(u16),
    Any4xx,
}

/// What an answer's body must hold besides its status (PROTOCOL §16).
#[derive(Clone)]
enum Detail {
    /// v1 style: exactly this body, not a problem document.
    Text(String),
    /// v2 style: a problem document (`application/problem+json`) with this `code`.
    Code(String),
}

impl Detail {
    fn as_str(&self) -> &str {
        match self {
            Detail::Text(t) | Detail::Code(t) => t,
        }
    }
}

struct Expect {
    status: Status,
    /// v1: exact body; v2: problem `code`.
    detail: Option<Detail>,
    /// Also accepted: a problem document with this `code` (where the answer's style is open).
    or_code: Option<String>,
}

fn expect(scheme: Option<Scheme>, status: u16, v1_body: &str, v2_code: &str) -> Expect {
    Expect {
        status: Status::Is(status),
        detail: match scheme {
            Some(Scheme::V1) => Some(Detail::Text(v1_body.to_string())),
            Some(Scheme::V2) => Some(Detail::Code(v2_code.to_string())),
            None => None,
        },
        or_code: None,
    }
}

fn any_4xx() -> Expect {
    Expect {
        status: Status::Any4xx,
        detail: None,
        or_code: None,
    }
}

/// 404: em-secure-api's text naming what is missing (`v1_body`, PROTOCOL §16), or the
/// `unknown_route` problem.
fn unknown_route(scheme: Scheme, v1_body: &str) -> Expect {
    expect(Some(scheme), 404, v1_body, "unknown_route")
}

/// The header value with the last hex digit of its token (v1) or signature (v2) changed.
fn alter_mac(scheme: Scheme, x_nonce: &str) -> String {
    let at = match scheme {
        Scheme::V1 => 63,
        Scheme::V2 => x_nonce.len() - 1,
    };
    let mut b = x_nonce.as_bytes().to_vec();
    b[at] = if b[at] == b'0' { b'1' } else { b'0' };
    String::from_utf8_lossy(&b).into_owned()
}

/// The `expected` column.
fn describe(exp: &Expect) -> String {
    match (exp.status, &exp.detail) {
        (Status::Is(s), Some(d)) => match &exp.or_code {
            Some(c) => format!("{s} {} | {c}", d.as_str()),
            None => format!("{s} {}", d.as_str()),
        },
        (Status::Is(s), None) => s.to_string(),
        (Status::Any4xx, _) => "4xx".to_string(),
    }
}

fn problem_code(r: &Response) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
    v.get("code")?.as_str().map(str::to_string)
}

/// Whether an answer is a problem document (RFC 9457), as v2-style refusals are.
fn is_problem(r: &Response) -> bool {
    r.header("content-type")
        .is_some_and(|c| c.contains("problem+json"))
}

fn summary(r: &Response) -> String {
    if is_problem(r) {
        return format!(
            "{} {}",
            r.status,
            problem_code(r).unwrap_or_else(|| "?".into())
        );
    }
    let mut t = r.text().replace(['\r', '\n'], " ");
    if t.len() > 60 {
        let mut cut = 57;
        while !t.is_char_boundary(cut) {
            cut -= 1;
        }
        t.truncate(cut);
        t.push_str("...");
    }
    format!("{} {t}", r.status).trim_end().to_string()
}

/// The query string (or form body) a scheme's requester writes for params.
pub fn encode_params(scheme: Scheme, params: &[(String, String)]) -> String {
    match scheme {
        // Keys raw and values CGI-escaped, as the v1 content (PROTOCOL §5.2), but written
        // without its key checks: tamper rows send what a signer would refuse (a repeated key).
        Scheme::V1 => params
            .iter()
            .map(|(k, v)| format!("{k}={}", percent::cgi_escape(v)))
            .collect::<Vec<_>>()
            .join("&"),
        Scheme::V2 => params
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    percent::encode_rfc3986(k.as_bytes()),
                    percent::encode_rfc3986(v.as_bytes())
                )
            })
            .collect::<Vec<_>>()
            .join("&"),
    }
}

fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

/// `r` with its `Content-Type` line(s) replaced by one of `content_type`.
fn with_content_type(mut r: Request, content_type: &str) -> Request {
    r.headers
        .retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
    r.header("Content-Type", content_type)
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// How many copies of one request the concurrency check sends at once.
const SIMULTANEOUS: usize = 8;

struct Runner<'a> {
    opts: &'a Options,
    base: BaseUrl,
    results: Vec<CheckResult>,
    counter: AtomicU64,
    run_id: u64,
}

/// How to sign (what a tampering check changes is applied afterwards).
#[derive(Default, Clone)]
struct How {
    timestamp_ms: Option<u64>,
    nonce: Option<String>,
    client: Option<String>,
    secret: Option<Secret>,
    host: Option<String>,
    body: Option<Vec<u8>>,
    method: Option<String>,
    path: Option<String>,
}

impl<'a> Runner<'a> {
    fn unique(&self, what: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{what}-{}-{n}", self.run_id)
    }

    fn get_params(&self) -> Vec<(String, String)> {
        let opt1 = self.unique("get");
        pairs(&[
            ("username", "phil"),
            ("password", "hello phil"),
            ("opt1", &opt1),
        ])
    }

    fn post_params(&self) -> Vec<(String, String)> {
        let opt1 = self.unique("post");
        pairs(&[
            ("username", "phil"),
            ("password", "hello phil"),
            ("opt1", &opt1),
            ("opt2", "more & more = 100% sûr"),
            ("opt3", "go for it"),
        ])
    }

    fn sign(
        &self,
        scheme: Scheme,
        method: &str,
        path: &str,
        params: &[(String, String)],
        how: &How,
    ) -> Result<Signed, String> {
        let mut input = SignInput::new(
            scheme,
            how.method.as_deref().unwrap_or(method),
            how.path.as_deref().unwrap_or(path),
            how.client.as_deref().unwrap_or(&self.opts.client),
        );
        input.params = params.to_vec();
        input.timestamp_ms = how.timestamp_ms;
        input.nonce = how.nonce.clone();
        if scheme == Scheme::V2 {
            input.host = Some(
                how.host
                    .clone()
                    .unwrap_or_else(|| self.base.authority.clone()),
            );
            input.body = how.body.clone();
        }
        let secret = how.secret.as_ref().unwrap_or(&self.opts.secret);
        sign(&input, secret).map_err(|e| format!("cannot sign: {e}"))
    }

    /// A signed request; params go in the query (GET) or a form body (POST without a body).
    #[allow(clippy::too_many_arguments)]
    fn signed_request(
        &self,
        scheme: Scheme,
        method: &str,
        path: &str,
        signed_params: &[(String, String)],
        sent_params: &[(String, String)],
        how: &How,
    ) -> Result<(Request, Signed), String> {
        let signed = self.sign(scheme, method, path, signed_params, how)?;
        let encoded = encode_params(scheme, sent_params);
        let req = if method == "POST" && how.body.is_none() {
            Request::new(method, path)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(encoded.into_bytes())
        } else {
            Request::new(method, &with_query(path, &encoded))
        };
        Ok((req.header("X-Nonce", signed.x_nonce.clone()), signed))
    }

    fn record(
        &mut self,
        name: String,
        exp: &Expect,
        got: Result<Response, String>,
        extra: impl FnOnce(&Response) -> Result<(), String>,
    ) {
        let expected = describe(exp);
        let (got, passed) = match got {
            Err(e) => (format!("error: {e}"), false),
            Ok(r) => {
                let status_ok = match exp.status {
                    Status::Is(s) => r.status == s,
                    Status::Any4xx => (400..500).contains(&r.status),
                };
                // The style is part of the answer: a v2 code only counts in a problem document
                // (a text/plain body that spells the code is not one), a v1 text only outside.
                let detail_ok = match &exp.detail {
                    None => true,
                    Some(d) => {
                        if is_problem(&r) {
                            let code = problem_code(&r);
                            matches!(d, Detail::Code(c) if code.as_deref() == Some(c.as_str()))
                                || (code.is_some() && code == exp.or_code)
                        } else {
                            matches!(d, Detail::Text(t) if r.text() == *t)
                        }
                    }
                };
                let mut got = summary(&r);
                if status_ok && !detail_ok && !is_problem(&r) {
                    // What the summary's one line hides: line ends, trailing spaces, and a
                    // problem document under another media type.
                    let body: String = r.text().chars().take(200).collect();
                    got.push_str(&format!(
                        " (body {body:?}, Content-Type {:?})",
                        r.header("content-type").unwrap_or("")
                    ));
                }
                let extra_ok = if status_ok && detail_ok {
                    match extra(&r) {
                        Ok(()) => true,
                        Err(why) => {
                            got.push_str(&format!(" ({why})"));
                            false
                        }
                    }
                } else {
                    false
                };
                (got, status_ok && detail_ok && extra_ok)
            }
        };
        self.results.push(CheckResult {
            name,
            expected,
            got,
            passed,
            skipped: false,
        });
    }

    /// A row for a check that was not run (`why` starts with `SKIPPED:`).
    fn skip(&mut self, name: String, exp: &Expect, why: &str) {
        self.results.push(CheckResult {
            name,
            expected: describe(exp),
            got: why.to_string(),
            passed: false,
            skipped: true,
        });
    }

    fn send(&self, req: &Request) -> Result<Response, String> {
        http::send(&self.base, req).map_err(|e: io::Error| e.to_string())
    }

    fn check(&mut self, name: String, exp: Expect, req: Result<Request, String>) {
        let got = req.and_then(|r| self.send(&r));
        self.record(name, &exp, got, |_| Ok(()));
    }

    fn ok() -> Expect {
        Expect {
            status: Status::Is(200),
            detail: None,
            or_code: None,
        }
    }

    /// A GET of `s`, row `<s> early GET accepted`; the request, to copy at the end, or why
    /// a copy would prove nothing.
    fn accepted_early(&mut self, s: Scheme) -> Result<Request, String> {
        let p = self.get_params();
        let get = self.opts.get_path.clone();
        let req = self.signed_request(s, "GET", &get, &p, &p, &How::default());
        let got = req
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|(r, _)| self.send(r));
        let accepted = got.as_ref().is_ok_and(|r| r.status == 200);
        let name = format!("{} early GET accepted", s.as_str());
        self.record(name, &Self::ok(), got, |_| Ok(()));
        match (req, accepted) {
            (Ok((req, _)), true) => Ok(req),
            _ => Err("the first copy was not accepted, so a 409 would show no replay check".into()),
        }
    }

    /// A copy of the early GET ([`Runner::accepted_early`]) after every other row (at least
    /// [`Options::late_replay_after`] after it, by then with every other row's keys recorded): still
    /// `409`. A store that keeps keys for seconds where the window needs them (a TTL in ms
    /// read as s), or only the last few, lets this copy in while the immediate copies of the
    /// other rows are refused. Skipped if the rows took so long that the copy may be stale.
    fn replayed_last(
        &mut self,
        s: Scheme,
        first: Result<Request, String>,
        accepted_at: std::time::Instant,
    ) {
        let name = format!("{} early GET replayed last", s.as_str());
        let exp = expect(Some(s), 409, "ottoken already used", "replayed");
        let elapsed = accepted_at.elapsed();
        if elapsed > LATE_REPLAY_BEFORE {
            let why = format!(
                "SKIPPED: the other rows took {} s, so the copy may be stale",
                elapsed.as_secs()
            );
            return self.skip(name, &exp, &why);
        }
        std::thread::sleep(self.opts.late_replay_after.saturating_sub(elapsed));
        let got = first.and_then(|req| self.send(&req));
        self.record(name, &exp, got, |_| Ok(()));
    }

    fn accepted_once(&mut self, name: &str, req: Result<Request, String>, s: Scheme) {
        match req {
            Ok(req) => {
                let first = self.send(&req);
                let first_accepted = first.as_ref().is_ok_and(|r| r.status == 200);
                self.record(format!("{name} accepted"), &Self::ok(), first, |_| Ok(()));
                let again = self.send(&req);
                let exp = expect(Some(s), 409, "ottoken already used", "replayed");
                // A 409 to a copy of a request that was never accepted proves nothing (a
                // server answering 409 to everything would pass it).
                let again = match first_accepted {
                    true => again,
                    false => Err(format!(
                        "the first copy was not accepted, so this answer ({}) shows no replay \
                         check",
                        again.map_or_else(|e| e, |r| r.status.to_string())
                    )),
                };
                self.record(format!("{name} replayed"), &exp, again, |_| Ok(()));
            }
            Err(e) => {
                self.check(format!("{name} accepted"), Self::ok(), Err(e.clone()));
                let exp = expect(Some(s), 409, "ottoken already used", "replayed");
                self.check(format!("{name} replayed"), exp, Err(e));
            }
        }
    }

    /// A signed GET of `p` (signed as `first` says), sent and required to be accepted, then a
    /// second GET of the same params that reuses its nonce, signed as `again` says given the
    /// first's timestamp. The second is returned, not sent.
    fn reusing_accepted_nonce(
        &self,
        s: Scheme,
        p: &[(String, String)],
        first: &How,
        again: impl FnOnce(u64) -> How,
    ) -> Result<Request, String> {
        let get = &self.opts.get_path;
        let (req, signed) = self.signed_request(s, "GET", get, p, p, first)?;
        let answer = self.send(&req)?;
        if answer.status != 200 {
            return Err(format!("the first request got {}", summary(&answer)));
        }
        let how = How {
            nonce: Some(signed.header.request_id().to_string()),
            ..again(signed.timestamp_ms())
        };
        self.signed_request(s, "GET", get, p, p, &how).map(|r| r.0)
    }

    /// The same signed request sent by [`SIMULTANEOUS`] threads at once: exactly one may be
    /// accepted and every other answered 409 (the replay check must be atomic). A race can
    /// slip past a black-box check now and then; a server that never serializes it fails.
    fn accepted_once_concurrently(&mut self, name: String, req: Result<Request, String>) {
        let expected = format!("1 × 200, {} × 409", SIMULTANEOUS - 1);
        let (got, passed) = match req {
            Err(e) => (format!("error: {e}"), false),
            Ok(req) => {
                let start = std::sync::Barrier::new(SIMULTANEOUS);
                let answers: Vec<Result<Response, String>> = std::thread::scope(|scope| {
                    let sent: Vec<_> = (0..SIMULTANEOUS)
                        .map(|_| {
                            scope.spawn(|| {
                                start.wait();
                                self.send(&req)
                            })
                        })
                        .collect();
                    sent.into_iter()
                        .map(|t| t.join().unwrap_or_else(|_| Err("thread panicked".into())))
                        .collect()
                });
                let mut tally: BTreeMap<String, usize> = BTreeMap::new();
                for a in &answers {
                    let key = match a {
                        Ok(r) => r.status.to_string(),
                        Err(e) => format!("error ({e})"),
                    };
                    *tally.entry(key).or_default() += 1;
                }
                let accepted = tally.get("200").copied().unwrap_or(0);
                let replayed = tally.get("409").copied().unwrap_or(0);
                let got = tally
                    .iter()
                    .map(|(k, n)| format!("{n} × {k}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                (got, accepted == 1 && replayed == SIMULTANEOUS - 1)
            }
        };
        self.results.push(CheckResult {
            name,
            expected,
            got,
            passed,
            skipped: false,
        });
    }

    fn scheme_checks(&mut self, s: Scheme) {
        let sn = s.as_str();
        let get = self.opts.get_path.clone();
        let post = self.opts.post_path.clone();
        let mismatch = || expect(Some(s), 401, "ottoken does not match", "signature_mismatch");

        // Valid requests, accepted once.
        let p = self.get_params();
        let req = self
            .signed_request(s, "GET", &get, &p, &p, &How::default())
            .map(|r| r.0);
        self.accepted_once(&format!("{sn} GET"), req, s);
        let p = self.get_params();
        let req = self
            .signed_request(s, "GET", &get, &p, &p, &How::default())
            .map(|r| r.0);
        self.accepted_once_concurrently(format!("{sn} GET sent {SIMULTANEOUS} times at once"), req);
        let p = self.post_params();
        let req = self
            .signed_request(s, "POST", &post, &p, &p, &How::default())
            .map(|r| r.0);
        self.accepted_once(&format!("{sn} POST form"), req, s);
        // A body is a form by its media type, compared ASCII-case-insensitively, whatever
        // parameters follow it (PROTOCOL §6.5): a server that compares the whole value
        // exactly reads these as opaque bodies, refuses them (their fields are neither
        // signed params nor route params), and passed every row sending the exact type.
        for (what, content_type) in [
            ("in another case", "Application/X-WWW-Form-Urlencoded"),
            (
                "with a charset",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
        ] {
            let p = self.post_params();
            let req = self
                .signed_request(s, "POST", &post, &p, &p, &How::default())
                .map(|(r, _)| with_content_type(r, content_type));
            self.check(
                format!("{sn} POST form, Content-Type {what}"),
                Self::ok(),
                req,
            );
        }
        if s == Scheme::V1 {
            self.v1_tilde_checks(&get);
        }
        let p = self.get_params();
        let req = self
            .signed_request(s, "GET", &get, &p, &p, &How::default())
            .map(|(r, _)| Request {
                absolute: true,
                ..r
            });
        self.accepted_once(&format!("{sn} GET in absolute form"), req, s);
        if s == Scheme::V2 {
            let p = self.post_params();
            let how = How {
                body: Some(br#"{"note":"signed body"}"#.to_vec()),
                ..How::default()
            };
            let req = self
                .signed_request(s, "POST", &post, &p, &p, &how)
                .map(|(r, _)| {
                    r.header("Content-Type", "application/json")
                        .body(how.body.clone().unwrap_or_default())
                });
            self.accepted_once("v2 POST JSON body", req, s);
        }

        // Tampering: the params sent differ from the params signed.
        type Tamper = fn(&mut Vec<(String, String)>);
        let tamperings: [(&str, Tamper); 4] = [
            ("tampered param value", |sent| sent[0].1 = "mallory".into()),
            ("added param", |sent| {
                sent.push(("nope".into(), "bad".into()))
            }),
            // A second value for a signed key (v1 reads the last one, v2 signs both).
            ("duplicated param", |sent| {
                sent.push(("opt1".into(), "mallory".into()))
            }),
            // The same, before the signed value: em-secure-api's merge (first position, last
            // value) re-signs exactly what was signed, so it accepted this, while an app that
            // reads the first value of a key acts on the unsigned one (PROTOCOL §11.1 step 4).
            ("unsigned value before a signed one", |sent| {
                let at = sent.iter().position(|(k, _)| k == "opt1").unwrap_or(0);
                sent.insert(at, ("opt1".into(), "mallory".into()))
            }),
        ];
        for (what, tamper) in tamperings {
            let p = self.get_params();
            let mut sent = p.clone();
            tamper(&mut sent);
            let req = self
                .signed_request(s, "GET", &get, &p, &sent, &How::default())
                .map(|r| r.0);
            self.check(format!("{sn} {what}"), mismatch(), req);
        }
        // The same in a form body: the rows above send their params in the query only, so a
        // server that verifies what a query holds but not what a form body holds (or no POST
        // at all) passed every row.
        let p = self.post_params();
        let mut sent = p.clone();
        sent[0].1 = "mallory".into();
        let req = self
            .signed_request(s, "POST", &post, &p, &sent, &How::default())
            .map(|r| r.0);
        self.check(format!("{sn} tampered form param value"), mismatch(), req);
        // A form POST's query is read too (PROTOCOL §11.1 step 4: the query pairs, then the
        // form body's): a server that reads only the form body of a form POST passed every
        // row above, and let anyone add unsigned params to the query of a signed form POST.
        let p = self.post_params();
        let req = self
            .signed_request(s, "POST", &post, &p, &p, &How::default())
            .map(|(mut r, _)| {
                r.target = with_query(&r.target, "nope=bad");
                r
            });
        self.check(
            format!("{sn} unsigned query param on a form POST"),
            mismatch(),
            req,
        );
        // The signed params in the query and an unsigned field in a form body whose
        // Content-Type is in another case, with a charset: still a form, its field a param
        // (PROTOCOL §6.5), so the signature fails. A v1 server that reads it as an opaque
        // body, which v1 does not sign, accepts it, and its application may read the field.
        let p = self.post_params();
        let req = self
            .sign(s, "POST", &post, &p, &How::default())
            .map(|signed| {
                Request::new("POST", &with_query(&post, &encode_params(s, &p)))
                    .header(
                        "Content-Type",
                        "Application/X-WWW-Form-Urlencoded; charset=utf-8",
                    )
                    .header("X-Nonce", signed.x_nonce)
                    .body(&b"nope=bad"[..])
            });
        self.check(
            format!("{sn} unsigned form field, Content-Type in another case with a charset"),
            mismatch(),
            req,
        );

        // The signed GET's params moved from the query into a form body: a form's fields are
        // params, so the signature holds, yet many applications read no form on a GET and act
        // without them. A form counts only on POST, PUT and PATCH (PROTOCOL §11.1 step 1):
        // `invalid_body`, answered to v1 clients as em-secure-api answers bad input.
        let p = self.get_params();
        let req = self
            .sign(s, "GET", &get, &p, &How::default())
            .map(|signed| {
                Request::new("GET", &get)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .header("X-Nonce", signed.x_nonce)
                    .body(encode_params(s, &p).into_bytes())
            });
        let status = if s == Scheme::V1 { 401 } else { 400 };
        let moved = expect(Some(s), status, "ottoken does not match", "invalid_body");
        self.check(
            format!("{sn} GET params moved into a form body"),
            moved,
            req,
        );

        // The last hex digit of the token / signature changed (catches prefix comparisons).
        let p = self.get_params();
        let req = self
            .signed_request(s, "GET", &get, &p, &p, &How::default())
            .map(|(mut r, signed)| {
                r.headers.retain(|(k, _)| k != "X-Nonce");
                r.header("X-Nonce", alter_mac(s, &signed.x_nonce))
            });
        self.check(
            format!("{sn} signature last digit changed"),
            mismatch(),
            req,
        );

        // A valid credential and then a second, empty `X-Nonce` line: more than one line is
        // `malformed_header` (PROTOCOL §7), whatever the first holds; a server that reads
        // only the first line accepts it.
        let p = self.get_params();
        let req = self
            .signed_request(s, "GET", &get, &p, &p, &How::default())
            .map(|(r, _)| r.header("X-Nonce", ""));
        let status = if s == Scheme::V1 { 401 } else { 400 };
        let malformed = expect(
            Some(s),
            status,
            "Incorrect parameters in validate_ottoken",
            "malformed_header",
        );
        self.check(format!("{sn} second, empty X-Nonce line"), malformed, req);

        // Signed for the GET route, sent to controller1/action2 (whose rules the params meet).
        let mut p = self.get_params();
        p.push(("opt2".into(), "that".into()));
        let how = How {
            path: Some(get.clone()),
            ..How::default()
        };
        let req = self
            .signed_request(s, "GET", "/controller1/action2", &p, &p, &how)
            .map(|r| r.0);
        self.check(format!("{sn} tampered path"), mismatch(), req);

        let p = self.get_params();
        let how = How {
            method: Some("POST".into()),
            ..How::default()
        };
        let req = self
            .signed_request(s, "GET", &get, &p, &p, &how)
            .map(|r| r.0);
        self.check(format!("{sn} tampered method"), mismatch(), req);

        // Two Host lines are refused before verification in either scheme (PROTOCOL §11,
        // RFC 9112 §3.2), with 400 in either answer style (§16: not the v1 table's 401). v1
        // signs no host, so a server that refuses them only where a signature binds the host
        // accepts this one, whose application may read the second line.
        if s == Scheme::V1 {
            let p = self.get_params();
            let req = self
                .signed_request(s, "GET", &get, &p, &p, &How::default())
                .map(|(r, _)| r.header("Host", "second.example"));
            let bad_request = Expect {
                status: Status::Is(400),
                detail: None,
                or_code: None,
            };
            self.check("v1 second Host line".into(), bad_request, req);
        }

        if s == Scheme::V2 {
            let p = self.get_params();
            let how = How {
                host: Some("tampered.example".into()),
                ..How::default()
            };
            let req = self
                .signed_request(s, "GET", &get, &p, &p, &how)
                .map(|r| r.0);
            self.check("v2 tampered host".into(), mismatch(), req);

            // Signed for the first of two Host lines: RFC 9112 §3.2 makes it a 400; a server
            // that keeps the first line (Node's http does) and verifies it accepts it.
            let p = self.get_params();
            let req = self
                .signed_request(s, "GET", &get, &p, &p, &How::default())
                .map(|(r, _)| r.header("Host", "second.example"));
            self.check("v2 second Host line".into(), any_4xx(), req);
            // The same, signed for the second line: a server that keeps the last line and
            // verifies it passed the row above (it refused it as a signature mismatch), while
            // its application may read the first (PROTOCOL §11: verified against neither).
            let p = self.get_params();
            let how = How {
                host: Some("second.example".into()),
                ..How::default()
            };
            let req = self
                .signed_request(s, "GET", &get, &p, &p, &how)
                .map(|(r, _)| r.header("Host", "second.example"));
            self.check("v2 second Host line, signed for it".into(), any_4xx(), req);

            let p = self.post_params();
            let how = How {
                body: Some(br#"{"amount":1}"#.to_vec()),
                ..How::default()
            };
            let req = self
                .signed_request(s, "POST", &post, &p, &p, &how)
                .map(|(r, _)| {
                    r.header("Content-Type", "application/json")
                        .body(&br#"{"amount":9}"#[..])
                });
            self.check("v2 tampered body".into(), mismatch(), req);
        }

        // Freshness: 120 s out, so that a window above 2 min fails, while a 30 s window
        // refuses it under any clock offset the valid checks above can bear (< 30 s).
        let now = now_ms();
        // The server's clock less the suite's, from the authenticated hints of those rows
        // (whether or not the rest of their answer is right).
        let mut server_ahead_ms = None;
        for (label, ts) in [("stale", now - 120_000), ("future", now + 120_000)] {
            let p = self.get_params();
            let how = How {
                timestamp_ms: Some(ts),
                ..How::default()
            };
            let req = self.signed_request(s, "GET", &get, &p, &p, &how);
            if let Some(ahead) = self.refused_as_stale(format!("{sn} {label} timestamp"), s, req) {
                server_ahead_ms = Some(ahead);
            }
        }

        // Stale and forged: the signature is checked before freshness (PROTOCOL §11.1 steps
        // 6, 7), so this is a mismatch, and its answer carries no time hint (§12: no secret
        // authenticated it). A server that checks the cheap timestamp first answers
        // `expired`, and one that hints every stale refusal hands out authenticated times
        // for requests nobody signed.
        let p = self.get_params();
        let how = How {
            timestamp_ms: Some(now - 120_000),
            ..How::default()
        };
        let req = self
            .signed_request(s, "GET", &get, &p, &p, &how)
            .map(|(mut r, signed)| {
                r.headers.retain(|(k, _)| k != "X-Nonce");
                r.header("X-Nonce", alter_mac(s, &signed.x_nonce))
            });
        let got = req.and_then(|r| self.send(&r));
        self.record(
            format!("{sn} stale timestamp, signature changed"),
            &mismatch(),
            got,
            |r| match r.header(xnonce_core::time_hint::HEADER) {
                Some(_) => Err("a server time hint on a refusal that is not expired".into()),
                None => Ok(()),
            },
        );

        // The window's edges, by the server's clock (as the hints above tell it; the suite's
        // own without one): a 30 s window accepts a request 20 s old or ahead and refuses one
        // 35 s old or ahead, so a window of 10 s or of a minute fails here (the rows above
        // catch only one over 2 min).
        for (label, offset_ms, accepted) in [
            ("timestamp 20 s old", -20_000, true),
            ("timestamp 20 s ahead", 20_000, true),
            ("timestamp 35 s old", -35_000, false),
            ("timestamp 35 s ahead", 35_000, false),
        ] {
            let exp = match accepted {
                true => Self::ok(),
                false => expect(Some(s), 401, "Request has timed out", "expired"),
            };
            let ahead = server_ahead_ms.unwrap_or(0);
            let how = How {
                timestamp_ms: Some(now_ms().saturating_add_signed(ahead + offset_ms)),
                ..How::default()
            };
            let p = self.get_params();
            let req = self.signed_request(s, "GET", &get, &p, &p, &how);
            self.check(format!("{sn} {label}"), exp, req.map(|(req, _)| req));
        }

        // Unknown client.
        let p = self.get_params();
        let how = How {
            client: Some(self.unique("xnonce-conformance-unknown")),
            ..How::default()
        };
        let req = self
            .signed_request(s, "GET", &get, &p, &p, &how)
            .map(|r| r.0);
        self.check(
            format!("{sn} unknown client"),
            expect(Some(s), 401, "client not known", "unknown_client"),
            req,
        );
        // The suite's client id with its letters' case swapped, signed with its own secret:
        // client ids compare exactly (PROTOCOL §3.2, §11.1 step 5). A server that looks
        // them up case-insensitively (a database column's default collation) accepts it,
        // and counts it as another client in its replay keys and rate limits.
        let other_case: String = (self.opts.client.chars())
            .map(|c| match c.is_ascii_lowercase() {
                true => c.to_ascii_uppercase(),
                false => c.to_ascii_lowercase(),
            })
            .collect();
        let name = format!("{sn} client id in another case");
        let exp = expect(Some(s), 401, "client not known", "unknown_client");
        if other_case == self.opts.client {
            self.skip(name, &exp, "SKIPPED: the client id has no letter");
        } else {
            let p = self.get_params();
            let how = How {
                client: Some(other_case),
                ..How::default()
            };
            let req = self
                .signed_request(s, "GET", &get, &p, &p, &how)
                .map(|r| r.0);
            self.check(name, exp, req);
        }
        self.second_client_checks(s);

        // ottoken link, accepted once.
        let req = self.link_request(s, &get, "");
        self.accepted_once(&format!("{sn} ottoken link"), req, s);
        // The same credential moved from the header to an `ottoken` and back: one replay
        // key whichever way it came (PROTOCOL §11.4: scheme, client, request id). A server
        // that records used links apart from used headers accepts each a second time.
        self.replayed_by_the_other_way(s, &get);
        // A link's timestamp is as bounded as a header's (PROTOCOL §11.1 step 7, whichever
        // way the credential came), its stale answer as hinted (§12): a server that checks
        // the freshness of headers only lets a link be used forever.
        for (label, offset_ms) in [("stale", -120_000), ("future", 120_000)] {
            let ts = now_ms().saturating_add_signed(offset_ms);
            let req = self.link_signed(s, &get, "", Some(ts));
            let name = format!("{sn} ottoken link, {label} timestamp");
            self.refused_as_stale(name, s, req);
        }

        // An ottoken whose request had a param changed.
        let p = self.get_params();
        let mut sent = p.clone();
        sent[0].1 = "mallory".into();
        let req = self
            .sign(s, "GET", &get, &p, &How::default())
            .map(|signed| {
                let query = format!(
                    "{}&{}={}",
                    encode_params(s, &sent),
                    xnonce_core::ottoken::PARAM,
                    xnonce_core::ottoken::query_value(&signed.ottoken)
                );
                Request::new("GET", &with_query(&get, &query))
            });
        self.check(format!("{sn} ottoken with tampered param"), mismatch(), req);

        if s == Scheme::V2 {
            self.unsigned_ottoken_params(&get);
        }

        // A replay whose query spells a value differently (`+` / `%20`, the same params).
        let p = self.get_params();
        let got = self
            .signed_request(s, "GET", &get, &p, &p, &How::default())
            .and_then(|(req, _)| {
                let first = self.send(&req)?;
                if first.status != 200 {
                    return Err(format!("the original got {}", summary(&first)));
                }
                let mut again = req;
                let (path, query) = again.target.split_once('?').unwrap_or_default();
                let query = if query.contains('+') {
                    query.replace('+', "%20")
                } else {
                    query.replace("%20", "+")
                };
                again.target = format!("{path}?{query}");
                self.send(&again)
            });
        let exp = expect(Some(s), 409, "ottoken already used", "replayed");
        self.record(
            format!("{sn} replay with re-encoded query"),
            &exp,
            got,
            |_| Ok(()),
        );

        // The nonce of an accepted request signed again with a newer timestamp, inside the
        // window: the replay key is (client, nonce), not (client, nonce, timestamp) nor the
        // signature (PROTOCOL §11.4). v1 has no nonce: its request id is the token.
        if s == Scheme::V2 {
            let p = self.get_params();
            let earlier = How {
                timestamp_ms: Some(now_ms() - 5_000),
                ..How::default()
            };
            let got = self
                .reusing_accepted_nonce(s, &p, &earlier, |t| How {
                    timestamp_ms: Some(t + 5_000),
                    ..How::default()
                })
                .and_then(|again| self.send(&again));
            let exp = expect(Some(s), 409, "ottoken already used", "replayed");
            self.record("v2 same nonce, new timestamp".into(), &exp, got, |_| Ok(()));
        }

        // Route param rules.
        let u = self.unique("rules");
        let p = pairs(&[("username", "phil"), ("opt1", &u)]);
        let req = self
            .signed_request(s, "GET", &get, &p, &p, &How::default())
            .map(|r| r.0);
        self.check(
            format!("{sn} missing required param"),
            expect(
                Some(s),
                422,
                "Missing required parameter password",
                "missing_param",
            ),
            req,
        );
        let u = self.unique("rules");
        let p = pairs(&[("username", "phil"), ("password", "x"), ("opt2", &u)]);
        let req = self
            .signed_request(s, "GET", &get, &p, &p, &How::default())
            .map(|r| r.0);
        self.check(
            format!("{sn} missing required action param"),
            expect(
                Some(s),
                422,
                "Missing required parameter opt1",
                "missing_param",
            ),
            req,
        );
        let u = self.unique("rules");
        let p = pairs(&[("username", "phil"), ("password", "x"), ("opt1", &u)]);
        let req = self
            .signed_request(s, "GET", "/controller1/action3", &p, &p, &How::default())
            .map(|r| r.0);
        self.check(
            format!("{sn} excluded param"),
            expect(
                Some(s),
                422,
                "Included invalid parameter password",
                "excluded_param",
            ),
            req,
        );

        // Unknown routes.
        let p = self.get_params();
        let req = self
            .signed_request(
                s,
                "GET",
                "/controller1/no_such_action",
                &p,
                &p,
                &How::default(),
            )
            .map(|r| r.0);
        self.check(
            format!("{sn} unknown action"),
            unknown_route(
                s,
                "action_method (no_such_action_get) not found in controller controller1",
            ),
            req,
        );
        let p = self.get_params();
        let req = self
            .signed_request(s, "GET", "/no_such_controller/x", &p, &p, &How::default())
            .map(|r| r.0);
        self.check(
            format!("{sn} unknown controller"),
            unknown_route(s, "controller (no_such_controller) not found"),
            req,
        );
        // controller1/action3 has a GET route only.
        let u = self.unique("rules");
        let p = pairs(&[("username", "phil"), ("opt1", &u)]);
        let req = self
            .signed_request(s, "POST", "/controller1/action3", &p, &p, &How::default())
            .map(|r| r.0);
        self.check(
            format!("{sn} unknown method"),
            unknown_route(
                s,
                "action_method (action3_post) not found in controller controller1",
            ),
            req,
        );
    }

    /// A request accepted with its credential in the header, then sent again with it as an
    /// `ottoken` instead; and a link accepted, then sent again with its `ottoken` as the
    /// header. Both copies must be `409`.
    fn replayed_by_the_other_way(&mut self, s: Scheme, get: &str) {
        let sn = s.as_str();
        let exp = expect(Some(s), 409, "ottoken already used", "replayed");
        let p = self.get_params();
        let got = (self.signed_request(s, "GET", get, &p, &p, &How::default())).and_then(
            |(req, signed)| {
                let first = self.send(&req)?;
                if first.status != 200 {
                    return Err(format!("the original got {}", summary(&first)));
                }
                let mut again = req;
                again.headers.retain(|(k, _)| k != "X-Nonce");
                again.target = format!(
                    "{}&{}={}",
                    again.target,
                    xnonce_core::ottoken::PARAM,
                    xnonce_core::ottoken::query_value(&signed.ottoken)
                );
                self.send(&again)
            },
        );
        let name = format!("{sn} header credential replayed as an ottoken");
        self.record(name, &exp, got, |_| Ok(()));

        let got = self
            .link_signed(s, get, "", None)
            .and_then(|(req, signed)| {
                let first = self.send(&req)?;
                if first.status != 200 {
                    return Err(format!("the link got {}", summary(&first)));
                }
                let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
                let kept: Vec<&str> = (query.split('&'))
                    .filter(|pair| !pair.starts_with("ottoken="))
                    .collect();
                let again = Request::new("GET", &with_query(path, &kept.join("&")));
                self.send(&again.header("X-Nonce", signed.x_nonce))
            });
        let name = format!("{sn} ottoken replayed as a header credential");
        self.record(name, &exp, got, |_| Ok(()));
    }

    /// A value holding `~` (twice), signed as xnonce and Ruby ≥ 2.5 sign it (`~` kept) and as
    /// em-secure-api's requesters on Ruby 1.9–2.4 did (`%7E`, CGI.escape's spelling then, in
    /// the token and in the query sent): a verifier accepts both (PROTOCOL §4.1, §11.1 step
    /// 6), so neither a verifier of today's spelling alone nor em-secure-api on Ruby ≤ 2.4
    /// passes.
    fn v1_tilde_checks(&mut self, get: &str) {
        let s = Scheme::V1;
        let with_tilde = |mut p: Vec<(String, String)>| {
            if let Some((_, v)) = p.iter_mut().find(|(k, _)| k == "opt1") {
                v.push_str("~old~ruby");
            }
            p
        };
        let p = with_tilde(self.get_params());
        let req = self
            .signed_request(s, "GET", get, &p, &p, &How::default())
            .map(|r| r.0);
        self.check("v1 value with ~".into(), Self::ok(), req);
        let p = with_tilde(self.get_params());
        let req = self.v1_signed_before_ruby_2_5(get, &p);
        self.check(
            "v1 value with ~ signed as %7E (Ruby ≤ 2.4)".into(),
            Self::ok(),
            req,
        );
    }

    /// A v1 GET of `p` signed as Ruby's CGI.escape wrote values before Ruby 2.5, every `~`
    /// as `%7E`, and sent so (xnonce never signs this way: core verifies it only).
    fn v1_signed_before_ruby_2_5(
        &self,
        get: &str,
        p: &[(String, String)],
    ) -> Result<Request, String> {
        use xnonce_core::canonical::v1::{prefix_with, token, Tilde};
        let client = &self.opts.client;
        let ts = now_ms();
        let prefix = prefix_with("GET", get, p, client, Tilde::Escaped)
            .map_err(|e| format!("cannot sign: {e}"))?;
        let token = token(&prefix, self.opts.secret.expose(), ts);
        let x_nonce = format!("{} {client} {ts}", xnonce_core::hex::encode(&token));
        let query: Vec<String> = (p.iter())
            .map(|(k, v)| {
                let mut pair = format!("{k}=");
                percent::push_cgi_escaped_before_ruby_2_5(&mut pair, v);
                pair
            })
            .collect();
        let target = with_query(get, &query.join("&"));
        Ok(Request::new("GET", &target).header("X-Nonce", x_nonce))
    }

    /// A row for `req`, signed with a timestamp far outside the window: refused `expired`
    /// with an authenticated `X-Nonce-Server-Time` close to the suite's clock (PROTOCOL
    /// §12). Returns the server's clock less the suite's, when the hint authenticates
    /// (whether or not the rest of the answer is right).
    fn refused_as_stale(
        &mut self,
        name: String,
        s: Scheme,
        req: Result<(Request, Signed), String>,
    ) -> Option<i64> {
        let exp = expect(Some(s), 401, "Request has timed out", "expired");
        let (req, signed) = match req {
            Ok(r) => r,
            Err(e) => {
                self.check(name, exp, Err(e));
                return None;
            }
        };
        let got = self.send(&req);
        let received = now_ms();
        let server_time = got
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|r| authenticated_server_time(r, self.opts, signed.header.request_id()));
        let ahead = server_time
            .as_ref()
            .ok()
            .map(|&t| t as i64 - received as i64);
        self.record(name, &exp, got, |_| {
            match server_time?.abs_diff(received) > 60_000 {
                true => Err("server time hint is far from our clock".into()),
                false => Ok(()),
            }
        });
        ahead
    }

    /// v2 leaves out of the params only the pair its credential came from (PROTOCOL §11.1
    /// step 4): an `ottoken` param added to a signed request (beside the header, a second one
    /// in a link, or spelled `ottoke%6E`) is kept, and refused as `invalid_param_key`.
    fn unsigned_ottoken_params(&mut self, get: &str) {
        let s = Scheme::V2;
        let refused = || expect(Some(s), 400, "", "invalid_param_key");
        let p = self.get_params();
        let with_header = self
            .signed_request(s, "GET", get, &p, &p, &How::default())
            .map(|(mut r, _)| {
                r.target.push_str("&ottoken=eyJ4Ijoi");
                r
            });
        self.check(
            "v2 ottoken param beside the header".into(),
            refused(),
            with_header,
        );
        for (what, extra) in [
            ("v2 link with a second ottoken", "&ottoken=djIg"),
            ("v2 link with an ottoke%6E param", "&ottoke%6E=x"),
        ] {
            let req = self.link_request(s, get, extra);
            self.check(what.into(), refused(), req);
        }
    }

    /// A GET of a fresh link to `get` with the suite's params, `extra` appended to its query.
    fn link_request(&mut self, s: Scheme, get: &str, extra: &str) -> Result<Request, String> {
        self.link_signed(s, get, extra, None).map(|r| r.0)
    }

    /// [`Runner::link_request`] signed at `timestamp_ms` (the suite's clock when `None`), and
    /// the signature behind it.
    fn link_signed(
        &mut self,
        s: Scheme,
        get: &str,
        extra: &str,
        timestamp_ms: Option<u64>,
    ) -> Result<(Request, Signed), String> {
        let mut input = SignInput::new(s, "GET", get, &self.opts.client);
        input.params = self.get_params();
        input.timestamp_ms = timestamp_ms;
        let base = format!("http://{}{}", self.base.authority, self.base.prefix);
        let link =
            link(&input, &self.opts.secret, &base).map_err(|e| format!("cannot link: {e}"))?;
        let req = (link.url.strip_prefix(&base))
            .map(|t| Request::new("GET", &format!("{t}{extra}")))
            .ok_or_else(|| "link outside the base URL".to_string())?;
        Ok((req, link.signed))
    }

    /// The checks a second registered client makes possible; each is a `SKIP` row without one.
    fn second_client_checks(&mut self, s: Scheme) {
        let sn = s.as_str();
        let get = self.opts.get_path.clone();
        let mismatch = || expect(Some(s), 401, "ottoken does not match", "signature_mismatch");
        // Only v2: a v1 request id is the token, which hashes the client, so two clients' v1
        // replay keys never meet; a v2 nonce is the client's choice and travels in clear.
        let reuse = "v2 GET by second client with first client's nonce";
        let other_secret = format!("{sn} second client's id, first client's secret");
        let Some((second, second_secret)) = self.opts.second_client.clone() else {
            if s == Scheme::V2 {
                self.skip(
                    format!("{reuse} accepted"),
                    &Self::ok(),
                    NEEDS_SECOND_CLIENT,
                );
                let exp = expect(Some(s), 409, "ottoken already used", "replayed");
                self.skip(format!("{reuse} replayed"), &exp, NEEDS_SECOND_CLIENT);
            }
            self.skip(other_secret, &mismatch(), NEEDS_SECOND_CLIENT);
            return;
        };

        // The replay key holds the client (PROTOCOL §11.4): the second client's request with
        // the first's nonce (same route, params and timestamp) is its own, accepted once.
        // A store keyed by the nonce alone refuses it: anyone who sees a nonce could then
        // burn it for every other client.
        if s == Scheme::V2 {
            let p = self.get_params();
            let req = self.reusing_accepted_nonce(s, &p, &How::default(), |t| How {
                timestamp_ms: Some(t),
                client: Some(second.clone()),
                secret: Some(second_secret),
                ..How::default()
            });
            self.accepted_once(reuse, req, s);
        }

        // The secret is the named client's (PROTOCOL §11.1 step 6): another registered
        // client's secret does not sign for it.
        let p = self.get_params();
        let how = How {
            client: Some(second),
            ..How::default()
        };
        let req = self
            .signed_request(s, "GET", &get, &p, &p, &how)
            .map(|r| r.0);
        self.check(other_secret, mismatch(), req);
    }

    fn header_checks(&mut self) {
        let get = self.opts.get_path.clone();
        let p = self.get_params();
        let target = with_query(&get, &encode_params(Scheme::V1, &p));
        let cases: Vec<(&str, Request)> = vec![
            ("no credential", Request::new("GET", &target)),
            (
                "malformed X-Nonce (garbage)",
                Request::new("GET", &target).header("X-Nonce", "garbage"),
            ),
            (
                "malformed X-Nonce (v2 fields)",
                Request::new("GET", &target).header("X-Nonce", "v2 a b c d"),
            ),
            (
                "X-Nonce over 512 bytes",
                Request::new("GET", &target)
                    .header("X-Nonce", "v2 ".to_string() + &"a".repeat(600)),
            ),
            (
                "X-Nonce with non-ASCII bytes",
                Request::new("GET", &target).header("X-Nonce", &b"v2 \xff\xfe \x80"[..]),
            ),
            (
                "two X-Nonce headers",
                Request::new("GET", &target)
                    .header("X-Nonce", "garbage one")
                    .header("X-Nonce", "garbage two"),
            ),
            (
                "malformed ottoken (bad escape)",
                Request::new("GET", &format!("{target}&ottoken=%%%not-base64")),
            ),
            (
                // base64url of "v2 garbage": decodes, then fails the v2 header grammar.
                "malformed ottoken (v2 garbage)",
                Request::new("GET", &format!("{target}&ottoken=djIgZ2FyYmFnZQ")),
            ),
            (
                "oversized header (64 KiB)",
                Request::new("GET", &target).header("X-Padding", "p".repeat(64 << 10)),
            ),
            (
                "oversized headers (1 MiB)",
                (0..64).fold(Request::new("GET", &target), |r, i| {
                    r.header(&format!("X-Padding-{i}"), "p".repeat(16 << 10))
                }),
            ),
        ];
        for (name, req) in cases {
            let exp = if name == "no credential" {
                // No credential, no scheme: em-secure-api's text, or a `missing_header` problem.
                Expect {
                    or_code: Some("missing_header".into()),
                    ..expect(Some(Scheme::V1), 401, "Method or nonce not provided", "")
                }
            } else {
                any_4xx()
            };
            self.check(name.to_string(), exp, Ok(req));
        }
        let raw = format!(
            "GET {}{target} HTTP/1.1\r\nHost: {}\r\nA header line without a colon\r\nConnection: close\r\n\r\n",
            self.base.prefix, self.base.authority
        );
        let got = http::send_bytes(&self.base, raw.as_bytes()).map_err(|e| e.to_string());
        self.record(
            "header line without a colon".into(),
            &any_4xx(),
            got,
            |_| Ok(()),
        );
    }
}

/// The server's time from an answer's `X-Nonce-Server-Time`, if it authenticates for the
/// request `request_id` of the suite's client.
fn authenticated_server_time(
    r: &Response,
    opts: &Options,
    request_id: &str,
) -> Result<u64, String> {
    let v = r
        .header(xnonce_core::time_hint::HEADER)
        .ok_or("no X-Nonce-Server-Time")?;
    let hint = ServerTimeHint::parse(v).map_err(|e| e.to_string())?;
    match hint.authenticate(&opts.secret, &opts.client, request_id) {
        true => Ok(hint.server_time_ms),
        false => Err("server time hint does not authenticate".into()),
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Runs every check and returns one row per check.
pub fn run(opts: &Options) -> Result<Vec<CheckResult>, String> {
    let mut base = BaseUrl::parse(&opts.base_url)?;
    if let Some(ca) = &opts.ca_file {
        base = base.trusting(ca)?;
    }
    if let Some((second, _)) = &opts.second_client {
        if *second == opts.client {
            return Err(format!(
                "the second client must differ from the first (both are {second})"
            ));
        }
    }
    let mut runner = Runner {
        opts,
        base,
        results: Vec::new(),
        counter: AtomicU64::new(0),
        run_id: now_ms(),
    };
    // One GET per scheme accepted before every other row and replayed after them all.
    let early: Vec<_> = (opts.schemes.iter())
        .map(|&s| (s, runner.accepted_early(s)))
        .collect();
    let early_at = std::time::Instant::now();
    for s in opts.schemes.clone() {
        runner.scheme_checks(s);
    }
    runner.header_checks();
    for (s, first) in early {
        runner.replayed_last(s, first, early_at);
    }
    Ok(runner.results)
}

/// The least time between an early GET's acceptance and its copy (the rows `early GET
/// replayed last`), by default: [`Options::late_replay_after`].
pub const LATE_REPLAY_AFTER: std::time::Duration = std::time::Duration::from_secs(2);
/// The most: later, the copy may be stale (401) by the 30 s window.
const LATE_REPLAY_BEFORE: std::time::Duration = std::time::Duration::from_secs(25);

/// Writes the table and the last line `N passed, M failed`, followed by `, K SKIPPED (not
/// run: why)` when some checks were not run.
pub fn print_table(results: &[CheckResult], out: &mut dyn io::Write) -> io::Result<()> {
    let w = |f: fn(&CheckResult) -> usize, h: &str| {
        results.iter().map(f).max().unwrap_or(0).max(h.len())
    };
    let (wn, we, wg) = (
        w(|r| r.name.chars().count(), "check"),
        w(|r| r.expected.chars().count(), "expected"),
        w(|r| r.got.chars().count(), "got"),
    );
    writeln!(
        out,
        "{:<wn$}  {:<we$}  {:<wg$}  result",
        "check", "expected", "got"
    )?;
    writeln!(out, "{}", "-".repeat(wn + we + wg + 12))?;
    for r in results {
        writeln!(
            out,
            "{:<wn$}  {:<we$}  {:<wg$}  {}",
            r.name,
            r.expected,
            r.got,
            if r.skipped {
                "SKIP"
            } else if r.passed {
                "PASS"
            } else {
                "FAIL"
            }
        )?;
    }
    let passed = results.iter().filter(|r| r.passed).count();
    let skipped: Vec<&CheckResult> = results.iter().filter(|r| r.skipped).collect();
    let failed = results.len() - passed - skipped.len();
    if skipped.is_empty() {
        return writeln!(out, "{passed} passed, {failed} failed");
    }
    let mut why: Vec<&str> = skipped
        .iter()
        .map(|r| r.got.trim_start_matches("SKIPPED: "))
        .collect();
    why.sort_unstable();
    why.dedup();
    writeln!(
        out,
        "{passed} passed, {failed} failed, {} SKIPPED (not run: {})",
        skipped.len(),
        why.join("; ")
    )
}

/// The exit status's rule: no check failed (skipped ones are not failures) and at least one
/// passed.
pub fn all_passed(results: &[CheckResult]) -> bool {
    results.iter().any(|r| r.passed) && results.iter().all(|r| r.passed || r.skipped)
}

/// The arguments of the `xnonce-conformance server` command.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Base URL of the server, `http[s]://host[:port][/prefix]`. A prefix is sent but not
    /// signed: the server must see the paths without it.
    #[arg(long)]
    pub base_url: String,
    /// PEM file of certificate authorities to trust for an https:// base URL besides the
    /// bundled Mozilla roots (an internal CA's certificate).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<std::path::PathBuf>,
    /// A client registered on the server.
    #[arg(long)]
    pub client: String,
    /// File holding the client's secret (surrounding whitespace ignored).
    #[arg(long)]
    pub secret_file: std::path::PathBuf,
    /// Schemes to test, comma-separated.
    #[arg(long, default_value = "v1,v2", value_delimiter = ',')]
    pub schemes: Vec<String>,
    /// GET route with the rules of the demo's /controller1/action1.
    #[arg(long, default_value = "/controller1/action1")]
    pub get_path: String,
    /// POST route with the rules of the demo's /controller2/action1.
    #[arg(long, default_value = "/controller2/action1")]
    pub post_path: String,
    /// A second client registered on the server, other than --client (enables the
    /// cross-client checks; without it they are reported as SKIP).
    #[arg(long, requires = "second_secret_file")]
    pub second_client: Option<String>,
    /// File holding the second client's secret (surrounding whitespace ignored).
    #[arg(long, requires = "second_client")]
    pub second_secret_file: Option<std::path::PathBuf>,
}

impl ServerArgs {
    /// The arguments for `base_url`, `client` and its secret file, every other one at its
    /// default.
    pub fn new(base_url: &str, client: &str, secret_file: &std::path::Path) -> ServerArgs {
        ServerArgs {
            base_url: base_url.to_string(),
            ca_file: None,
            client: client.to_string(),
            secret_file: secret_file.to_path_buf(),
            schemes: vec!["v1".into(), "v2".into()],
            get_path: "/controller1/action1".into(),
            post_path: "/controller2/action1".into(),
            second_client: None,
            second_secret_file: None,
        }
    }
}

/// The `xnonce-conformance server` command: reads the secret file(s), runs, prints, and
/// returns the exit code (failure on any failed check or on bad arguments; skipped checks
/// alone do not fail).
pub fn main(args: &ServerArgs) -> std::process::ExitCode {
    use std::process::ExitCode;
    let read_secret = |file: &std::path::Path| {
        std::fs::read_to_string(file)
            .map_err(|e| {
                let name = file.to_string_lossy();
                let name = xnonce_core::secret::file_name_for_message(&name);
                format!("cannot read {name}: {e}")
            })
            .and_then(|t| Secret::from_file_text(&t).map_err(|e| e.to_string()))
    };
    let secret = match read_secret(&args.secret_file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("xnonce-conformance: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut opts = Options::new(&args.base_url, &args.client, secret);
    let second_client = args.second_client.as_deref();
    if let Some((second, file)) = second_client.zip(args.second_secret_file.as_deref()) {
        match read_secret(file) {
            Ok(s) => opts = opts.with_second_client(second, s),
            Err(e) => {
                eprintln!("xnonce-conformance: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if let Some(ca) = &args.ca_file {
        opts = opts.with_ca_file(ca);
    }
    opts.get_path = args.get_path.clone();
    opts.post_path = args.post_path.clone();
    opts.schemes.clear();
    for s in &args.schemes {
        match s.trim().parse::<Scheme>() {
            Ok(s) => opts.schemes.push(s),
            Err(e) => {
                eprintln!("xnonce-conformance: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    match run(&opts) {
        Ok(results) => {
            let _ = print_table(&results, &mut io::stdout().lock());
            if all_passed(&results) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("xnonce-conformance: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, passed: bool, skipped: bool) -> CheckResult {
        CheckResult {
            name: name.into(),
            expected: "200".into(),
            got: if skipped {
                NEEDS_SECOND_CLIENT.into()
            } else {
                "200".into()
            },
            passed,
            skipped,
        }
    }

    fn table(results: &[CheckResult]) -> String {
        let mut out = Vec::new();
        print_table(results, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn response(status: u16, content_type: &str, body: &str) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn the_got_column_summarises_answers() {
        let problem = response(409, "application/problem+json", r#"{"code":"replayed"}"#);
        assert_eq!(summary(&problem), "409 replayed");
        let no_code = response(401, "application/problem+json", "{}");
        assert_eq!(summary(&no_code), "401 ?");
        let text = response(401, "text/plain", "ottoken does not match\r\n");
        assert_eq!(summary(&text), "401 ottoken does not match");
        // Long texts are cut to 57 bytes (on a char boundary) and marked.
        let long = "é".repeat(40);
        let cut = summary(&response(200, "text/plain", &long));
        assert_eq!(cut, format!("200 {}...", "é".repeat(28)));
        let exactly_60 = "a".repeat(60);
        assert_eq!(
            summary(&response(200, "text/plain", &exactly_60)),
            format!("200 {exactly_60}")
        );
    }

    fn runner(opts: &Options) -> Runner<'_> {
        Runner {
            opts,
            base: BaseUrl::parse(&opts.base_url).unwrap(),
            results: Vec::new(),
            counter: AtomicU64::new(0),
            run_id: 42,
        }
    }

    #[test]
    fn each_signed_request_gets_its_own_value() {
        let opts = Options::new("http://127.0.0.1:9", "c", Secret::new("s").unwrap());
        let runner = runner(&opts);
        let (a, b) = (runner.unique("get"), runner.unique("get"));
        assert_eq!((a.as_str(), b.as_str()), ("get-42-0", "get-42-1"));
    }

    /// A refusal whose one-line summary reads like the expected one (a v1 text with a line
    /// end, a v2 problem under another media type) says what differs.
    #[test]
    fn a_failure_the_summary_would_hide_shows_the_body_and_its_type() {
        let opts = Options::new("http://127.0.0.1:9", "c", Secret::new("s").unwrap());
        let mut runner = runner(&opts);
        let v1 = expect(Some(Scheme::V1), 409, "ottoken already used", "replayed");
        let v2 = expect(Some(Scheme::V2), 409, "ottoken already used", "replayed");
        let answers = [
            (&v1, response(409, "text/plain", "ottoken already used\n")),
            (
                &v2,
                response(409, "application/json", r#"{"code":"replayed"}"#),
            ),
            (&v1, response(409, "text/plain", "ottoken already used")),
            (
                &v2,
                response(409, "application/problem+json", r#"{"code":"replayed"}"#),
            ),
            // A v2 refusal in plain text that spells the code is not a problem document.
            (&v2, response(409, "text/plain", "replayed")),
            // Nor is a v1 text one when a problem document holds it as its code.
            (
                &v1,
                response(
                    409,
                    "application/problem+json",
                    r#"{"code":"ottoken already used"}"#,
                ),
            ),
        ];
        for (exp, answer) in answers {
            runner.record("row".into(), exp, Ok(answer), |_| Ok(()));
        }
        let got: Vec<(&str, bool)> = runner
            .results
            .iter()
            .map(|r| (r.got.as_str(), r.passed))
            .collect();
        assert_eq!(
            got,
            [
                (
                    r#"409 ottoken already used (body "ottoken already used\n", Content-Type "text/plain")"#,
                    false
                ),
                (
                    r#"409 {"code":"replayed"} (body "{\"code\":\"replayed\"}", Content-Type "application/json")"#,
                    false
                ),
                ("409 ottoken already used", true),
                ("409 replayed", true),
                (
                    r#"409 replayed (body "replayed", Content-Type "text/plain")"#,
                    false
                ),
                ("409 ottoken already used", false),
            ]
        );
    }

    #[test]
    fn skipped_checks_are_shown_and_counted_but_never_passed() {
        let results = [row("a", true, false), row("b", false, true)];
        let t = table(&results);
        assert!(t.contains("SKIPPED: needs --second-client  SKIP\n"), "{t}");
        assert!(
            t.ends_with("1 passed, 0 failed, 1 SKIPPED (not run: needs --second-client)\n"),
            "{t}"
        );
        // Skips alone do not fail the run; a failure does; skips alone are no pass.
        assert!(all_passed(&results));
        assert!(!all_passed(&[
            row("a", true, false),
            row("c", false, false)
        ]));
        assert!(!all_passed(&[row("b", false, true)]));
        assert!(!all_passed(&[]));
    }

    #[test]
    fn without_skips_the_last_line_is_unchanged() {
        let t = table(&[row("a", true, false), row("c", false, false)]);
        assert!(t.ends_with("\n1 passed, 1 failed\n"), "{t}");
    }

    #[test]
    fn the_second_client_must_differ_from_the_first() {
        let secret = Secret::generate().unwrap();
        let opts =
            Options::new("http://127.0.0.1:1", "c", secret.clone()).with_second_client("c", secret);
        assert!(run(&opts).unwrap_err().contains("must differ"));
    }
}
