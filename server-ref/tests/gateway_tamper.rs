//! A bounded differential "tamper" fuzz of the gateway (`[upstream]`) over real loopback HTTP:
//! requests signed with core as a client signs them (v1 and v2; `GET` with a query, `POST`
//! with a form, v2 `POST` with a JSON body; the credential in `X-Nonce` or an `ottoken`
//! param), their raw bytes mutated (request line, header fields, framing, body), sent on a
//! `tokio::net::TcpStream` to the gateway in front of an echo API that records what reaches
//! it. The property:
//!
//! * a request the gateway forwards reaches the API as the request that was signed: method,
//!   path as the API decodes it, the multiset of decoded params (query, and a form's body),
//!   v2's body bytes and host — with the limits each scheme documents, written out in
//!   [`check_forwarded`];
//! * every other request is answered `4xx` and never reaches the API (never a `5xx`, a hang
//!   or a panic).
//!
//! Deterministic: the seed is printed; `XNONCE_TAMPER_SEED=<n>` reruns one, and
//! `XNONCE_TAMPER_CASES=<n>` changes how many cases run (default [`CASES`]).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use xnonce_core::percent::{cgi_escape, encode_rfc3986};
use xnonce_core::{ottoken, sign, Scheme, Secret, SignInput};
use xnonce_server::Config;

mod common;

use common::{Dirs, InProcess};

/// Cases per run (about a tenth of them unmutated).
const CASES: usize = 1500;
/// The seed when `XNONCE_TAMPER_SEED` is not set.
const DEFAULT_SEED: u64 = 0x7a3b_e1d0_5eed_2024;
/// The URL prefix of the API behind the gateway.
const PREFIX: &str = "/up";
/// How long the gateway may take to close a connection once the client has ended its side.
const HANG: Duration = Duration::from_secs(8);
/// How long the first answer may take before the client ends its side of the stream (the
/// request, as mutated, may announce more body than it sends).
const QUIET: Duration = Duration::from_millis(700);
/// Cases run this many at a time, each lane signing as a client of its own (`lane<i>`), by
/// which the API's records are told apart.
const LANES: usize = 8;

/// xorshift64*: small, seeded, the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// What the API saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    headers: HeaderMap,
    body: Bytes,
}

/// What reached the API, by the verified client the gateway names (`x-xnonce-client`; `""`
/// for none): each lane of cases signs as a client of its own.
type Reached = Arc<Mutex<HashMap<String, Vec<Seen>>>>;

/// The echo API: records every request, answers `200` with `x-echo: 1` (so its answers are
/// told from the gateway's own).
fn echo_api(seen: Reached) -> InProcess {
    let handler = move |req: Request| {
        let seen = seen.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20)
                .await
                .unwrap_or_default();
            let client = parts
                .headers
                .get("x-xnonce-client")
                .map(|c| String::from_utf8_lossy(c.as_bytes()).into_owned())
                .unwrap_or_default();
            seen.lock().unwrap().entry(client).or_default().push(Seen {
                method: parts.method.to_string(),
                target: parts.uri.to_string(),
                headers: parts.headers,
                body,
            });
            ([("x-echo", "1")], "echo").into_response()
        }
    };
    InProcess::serve(
        axum::Router::new().fallback(handler),
        xnonce_server::ConnectionLimits::default(),
    )
}

/// The meaning of one signed request: what the API must see if the gateway forwards it.
#[derive(Debug, Clone)]
struct Intent {
    scheme: Scheme,
    method: &'static str,
    /// As signed, and sent.
    path: String,
    /// Every signed param in the order sent: the query's, then the form's.
    params: Vec<(String, String)>,
    /// How many of `params` travel in the query.
    in_query: usize,
    form: bool,
    /// A v2 JSON body (signed by its digest).
    body: Option<Vec<u8>>,
    /// v2's signed host (canonical form).
    host: String,
    /// The credential travels as the query's last param, `ottoken`, instead of `X-Nonce`.
    ottoken: Option<String>,
    client: String,
}

/// A request as bytes, in parts the mutations work on.
#[derive(Debug, Clone)]
struct Wire {
    method: Vec<u8>,
    target: Vec<u8>,
    version: Vec<u8>,
    /// Whole field lines without their CRLF.
    headers: Vec<Vec<u8>>,
    body: Vec<u8>,
    /// Bytes that replace the whole request (a mutation of the serialised bytes).
    raw: Option<Vec<u8>>,
}

impl Wire {
    fn bytes(&self) -> Vec<u8> {
        if let Some(raw) = &self.raw {
            return raw.clone();
        }
        let mut out = Vec::new();
        out.extend_from_slice(&self.method);
        out.push(b' ');
        out.extend_from_slice(&self.target);
        out.push(b' ');
        out.extend_from_slice(&self.version);
        out.extend_from_slice(b"\r\n");
        for line in &self.headers {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    fn header_index(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|l| {
            l.len() > name.len()
                && l[..name.len()].eq_ignore_ascii_case(name.as_bytes())
                && l[name.len()] == b':'
        })
    }

    fn set_header(&mut self, name: &str, value: &[u8]) {
        let line = [name.as_bytes(), b": ", value].concat();
        match self.header_index(name) {
            Some(i) => self.headers[i] = line,
            None => self.headers.push(line),
        }
    }

    fn remove_header(&mut self, name: &str) {
        while let Some(i) = self.header_index(name) {
            self.headers.remove(i);
        }
    }

    /// Rewrites `Content-Length` (if there is one) to the body's length.
    fn fix_length(&mut self) {
        if self.header_index("content-length").is_some() {
            let n = self.body.len().to_string();
            self.set_header("Content-Length", n.as_bytes());
        }
    }
}

/// v1 keys: unreserved only, as v1 signs (PROTOCOL §3.6).
const V1_KEYS: &[&str] = &["a", "b", "to", "x_y", "q.r", "~k", "Amount", "a-b"];
/// v2 keys may be any text.
const V2_KEYS: &[&str] = &[
    "a", "b", "to", "x_y", "a[b]", "\u{e9}", "k y", "a+b", "t%", "q=r", "s;t",
];
const VALUE_CHARS: &[&str] = &[
    "a", "b", "z", "0", "9", " ", "+", "&", "=", "%", ";", "\u{e9}", "~", "/", "?", "#", "]", "[",
    ".", "-", "_", "*", "'", "\"", "<", "\u{263a}", "%41", "\t",
];
const SEGMENTS: &[&str] = &[
    "orders",
    "list",
    "a%20b",
    "r%C3%A9sum%C3%A9",
    "a+b",
    "x~y",
    "a%2Fb",
    "item.json",
    "v1",
    "%7Euser",
    "a-b_c",
    "A%3aB",
];

fn value(rng: &mut Rng) -> String {
    (0..rng.below(7)).map(|_| *rng.pick(VALUE_CHARS)).collect()
}

/// A request to sign: scheme, shape, path, params (no key twice in v1).
fn intent(rng: &mut Rng, n: usize, host: &str, client: &str) -> Intent {
    let scheme = if rng.chance(50) {
        Scheme::V1
    } else {
        Scheme::V2
    };
    // 0: GET with a query; 1: POST with a form (and maybe a query); 2: v2 POST with JSON.
    let shape = match scheme {
        Scheme::V1 => rng.below(2),
        _ => rng.below(3),
    };
    let method = match shape {
        0 => *rng.pick(&["GET", "GET", "GET", "DELETE"]),
        _ => *rng.pick(&["POST", "POST", "PUT"]),
    };
    let path: String = (0..1 + rng.below(3))
        .map(|_| format!("/{}", rng.pick(SEGMENTS)))
        .collect();
    let keys = match scheme {
        Scheme::V1 => V1_KEYS,
        _ => V2_KEYS,
    };
    let mut params: Vec<(String, String)> = Vec::new();
    for _ in 0..rng.below(4) {
        let key = rng.pick(keys).to_string();
        if scheme == Scheme::V1 && params.iter().any(|(k, _)| *k == key) {
            continue;
        }
        params.push((key, value(rng)));
    }
    // A param of its own per case: no two v1 requests share a token (their replay key).
    params.insert(rng.below(params.len() + 1), ("n".into(), n.to_string()));
    if scheme == Scheme::V2 && rng.chance(15) {
        // A repeated key (v2 keeps every pair).
        let (k, _) = params[rng.below(params.len())].clone();
        params.push((k, value(rng)));
    }
    let form = shape == 1;
    let in_query = match form {
        true => rng.below(params.len() + 1),
        false => params.len(),
    };
    let body = (shape == 2).then(|| format!(r#"{{"item":{:?},"n":{n}}}"#, value(rng)).into_bytes());
    Intent {
        scheme,
        method,
        path,
        params,
        in_query,
        form,
        body,
        host: host.to_string(),
        ottoken: None,
        client: client.to_string(),
    }
}

/// A param as the client writes it: v1 CGI-escaped (keys are unreserved), v2 RFC 3986.
fn encode_pair(scheme: Scheme, (k, v): &(String, String)) -> String {
    match scheme {
        Scheme::V1 => format!("{k}={}", cgi_escape(v)),
        _ => format!(
            "{}={}",
            encode_rfc3986(k.as_bytes()),
            encode_rfc3986(v.as_bytes())
        ),
    }
}

/// Signs `intent` and writes it as a client sends it.
fn signed_wire(intent: &mut Intent, secret: &Secret, rng: &mut Rng) -> Wire {
    let mut input = SignInput::new(intent.scheme, intent.method, &intent.path, &intent.client)
        .params(intent.params.iter().cloned());
    if intent.scheme == Scheme::V2 {
        input = input.host(&intent.host);
        if let Some(body) = &intent.body {
            input = input.body(body.clone());
        }
    }
    let signed = sign(&input, secret).unwrap();
    let via_ottoken = rng.chance(25);
    let mut query: Vec<String> = intent.params[..intent.in_query]
        .iter()
        .map(|p| encode_pair(intent.scheme, p))
        .collect();
    if via_ottoken {
        intent.ottoken = Some(signed.ottoken.clone());
        query.push(format!("ottoken={}", ottoken::query_value(&signed.ottoken)));
    }
    let target = match query.is_empty() {
        true => intent.path.clone(),
        false => format!("{}?{}", intent.path, query.join("&")),
    };
    let mut headers = vec![format!("Host: {}", intent.host).into_bytes()];
    if !via_ottoken {
        headers.push(format!("X-Nonce: {}", signed.x_nonce).into_bytes());
    }
    let body = match (&intent.body, intent.form) {
        (Some(json), _) => {
            headers.push(b"Content-Type: application/json".to_vec());
            json.clone()
        }
        (None, true) => {
            headers.push(b"Content-Type: application/x-www-form-urlencoded".to_vec());
            let form: Vec<String> = intent.params[intent.in_query..]
                .iter()
                .map(|p| encode_pair(intent.scheme, p))
                .collect();
            form.join("&").into_bytes()
        }
        (None, false) => Vec::new(),
    };
    if !body.is_empty() || intent.method != "GET" {
        headers.push(format!("Content-Length: {}", body.len()).into_bytes());
    }
    Wire {
        method: intent.method.as_bytes().to_vec(),
        target: target.into_bytes(),
        version: b"HTTP/1.1".to_vec(),
        headers,
        body,
        raw: None,
    }
}

/// Single bytes worth inserting.
const BYTES: &[u8] = &[
    b';', b'#', b'?', b'%', b'+', b'&', b'=', b'/', b'.', b'\\', b'\t', b' ', 0, b'A', b'a', b'0',
    b'~', b'[', b']', 0x80, 0xff, 0xc3, b'\r', b'\n', b':', b',', b'"',
];
/// Tokens worth inserting into a target or a form.
const TOKENS: &[&str] = &[
    ";",
    "#",
    "?",
    "%00",
    "+",
    "%20",
    "..",
    "//",
    "/./",
    "/../",
    "%2e",
    "%2E%2E",
    "%2F",
    "%2f",
    "%5C",
    "\\",
    "&",
    "&&",
    "=",
    "%",
    "%2",
    "%zz",
    "\t",
    "%3B",
    "%26",
    "%3D",
    "]=",
    "%C3%A9",
    "\u{e9}",
    "%FF",
    "ottoken=x",
    "a=1",
    "n=0",
    "%2B",
    "%0A",
    "%0D%0A",
    "/.",
    "%2e%2e/",
    ";a=b",
    "?&",
    "%7E",
    "*",
];

/// A random position in `len + 1` slots.
fn at(rng: &mut Rng, len: usize) -> usize {
    rng.below(len + 1)
}

fn insert_bytes(rng: &mut Rng, buf: &mut Vec<u8>, what: &[u8]) {
    let i = at(rng, buf.len());
    buf.splice(i..i, what.iter().copied());
}

/// Insert, delete or replace one byte.
fn byte_edit(rng: &mut Rng, buf: &mut Vec<u8>) -> String {
    let b = *rng.pick(BYTES);
    match rng.below(3) {
        0 => {
            let i = at(rng, buf.len());
            buf.insert(i, b);
            format!("insert {b:#04x} at {i}")
        }
        1 if !buf.is_empty() => {
            let i = rng.below(buf.len());
            let old = buf.remove(i);
            format!("delete {old:#04x} at {i}")
        }
        _ if !buf.is_empty() => {
            let i = rng.below(buf.len());
            buf[i] = b;
            format!("replace at {i} with {b:#04x}")
        }
        _ => {
            buf.push(b);
            format!("append {b:#04x}")
        }
    }
}

/// Percent-encodes one byte (upper- or lower-case hex), decodes one escape, or flips the case
/// of one escape; `+` ↔ `%20`, `%2B` ↔ `+`.
fn escape_edit(rng: &mut Rng, buf: &mut Vec<u8>) -> String {
    let escapes: Vec<usize> = (0..buf.len().saturating_sub(2))
        .filter(|&i| {
            buf[i] == b'%' && buf[i + 1].is_ascii_hexdigit() && buf[i + 2].is_ascii_hexdigit()
        })
        .collect();
    match rng.below(5) {
        0 if !escapes.is_empty() => {
            let i = *rng.pick(&escapes);
            let hex = std::str::from_utf8(&buf[i + 1..i + 3]).unwrap();
            let byte = u8::from_str_radix(hex, 16).unwrap();
            buf.splice(i..i + 3, [byte]);
            format!("decode escape at {i}")
        }
        1 if !escapes.is_empty() => {
            let i = *rng.pick(&escapes);
            for b in &mut buf[i + 1..i + 3] {
                *b = if b.is_ascii_uppercase() {
                    b.to_ascii_lowercase()
                } else {
                    b.to_ascii_uppercase()
                };
            }
            format!("flip case of escape at {i}")
        }
        2 => {
            let plus: Vec<usize> = (0..buf.len()).filter(|&i| buf[i] == b'+').collect();
            let sp: Vec<usize> = (0..buf.len().saturating_sub(2))
                .filter(|&i| buf[i..].starts_with(b"%20") || buf[i..].starts_with(b"%2B"))
                .collect();
            if !plus.is_empty() && rng.chance(50) {
                let i = *rng.pick(&plus);
                let to: &[u8] = if rng.chance(50) { b"%20" } else { b"%2B" };
                buf.splice(i..i + 1, to.iter().copied());
                format!("+ at {i} to {}", String::from_utf8_lossy(to))
            } else if !sp.is_empty() {
                let i = *rng.pick(&sp);
                buf.splice(i..i + 3, [b'+']);
                format!("escape at {i} to +")
            } else {
                "no + or %20".into()
            }
        }
        _ if !buf.is_empty() => {
            let i = rng.below(buf.len());
            let upper = rng.chance(50);
            let esc = match upper {
                true => format!("%{:02X}", buf[i]),
                false => format!("%{:02x}", buf[i]),
            };
            buf.splice(i..i + 1, esc.bytes());
            format!("encode byte at {i} as {esc}")
        }
        _ => "nothing to escape".into(),
    }
}

/// The pairs of a query or form, as raw `&`-separated segments.
fn pairs_of(buf: &[u8]) -> Vec<Vec<u8>> {
    buf.split(|&b| b == b'&').map(<[u8]>::to_vec).collect()
}

/// Duplicates, swaps or reverses `&`-separated pairs.
fn pair_edit(rng: &mut Rng, buf: &mut Vec<u8>) -> String {
    let mut pairs = pairs_of(buf);
    let what = match rng.below(3) {
        0 => {
            let p = pairs[rng.below(pairs.len())].clone();
            let i = at(rng, pairs.len());
            pairs.insert(i, p);
            "duplicate a pair"
        }
        1 if pairs.len() > 1 => {
            let (i, j) = (rng.below(pairs.len()), rng.below(pairs.len()));
            pairs.swap(i, j);
            "swap two pairs"
        }
        _ => {
            pairs.reverse();
            "reverse the pairs"
        }
    };
    *buf = pairs.join(&b'&');
    what.into()
}

/// One mutation of `w` (for `intent`); a description of what it did.
fn mutate(rng: &mut Rng, w: &mut Wire, intent: &Intent) -> String {
    let host = intent.host.clone();
    let (path_end, query_at) = match w.target.iter().position(|&b| b == b'?') {
        Some(q) => (q, Some(q + 1)),
        None => (w.target.len(), None),
    };
    match rng.below(34) {
        0..=2 => format!("target: {}", byte_edit(rng, &mut w.target)),
        3..=5 => {
            let t = rng.pick(TOKENS).as_bytes();
            insert_bytes(rng, &mut w.target, t);
            format!("target: insert {:?}", String::from_utf8_lossy(t))
        }
        6..=7 => format!("target: {}", escape_edit(rng, &mut w.target)),
        8 => match query_at {
            Some(q) => {
                let mut query = w.target.split_off(q);
                let what = pair_edit(rng, &mut query);
                w.target.extend_from_slice(&query);
                format!("query: {what}")
            }
            None => {
                w.target.extend_from_slice(b"?");
                "target: append ?".into()
            }
        },
        9 => {
            // The path only.
            let mut path = w.target[..path_end].to_vec();
            let what = match rng.chance(50) {
                true => byte_edit(rng, &mut path),
                false => escape_edit(rng, &mut path),
            };
            w.target.splice(..path_end, path);
            format!("path: {what}")
        }
        10 => {
            let authority = rng
                .pick(&[
                    host.clone(),
                    host.to_uppercase(),
                    format!("{host}:80"),
                    "evil.test".into(),
                    format!("u@{host}"),
                    format!("{host}."),
                ])
                .clone();
            let scheme = *rng.pick(&["http://", "HTTP://", "https://", "http:/"]);
            let absolute = format!("{scheme}{authority}");
            w.target.splice(..0, absolute.bytes());
            format!("absolute form {absolute}")
        }
        11 => {
            // A param between the query and a form body.
            let query = query_at.map(|q| w.target[q..].to_vec()).unwrap_or_default();
            if rng.chance(50) && !query.is_empty() {
                let mut pairs = pairs_of(&query);
                let moved = pairs.remove(rng.below(pairs.len()));
                let rest = pairs.join(&b'&');
                w.target.truncate(path_end);
                if !rest.is_empty() {
                    w.target.push(b'?');
                    w.target.extend_from_slice(&rest);
                }
                if !w.body.is_empty() {
                    w.body.push(b'&');
                }
                w.body.extend_from_slice(&moved);
                if w.header_index("content-type").is_none() {
                    w.set_header("Content-Type", b"application/x-www-form-urlencoded");
                }
                w.set_header("Content-Length", w.body.len().to_string().as_bytes());
                "move a query pair to the body".into()
            } else if !w.body.is_empty() {
                let mut pairs = pairs_of(&w.body);
                let moved = pairs.remove(rng.below(pairs.len()));
                w.body = pairs.join(&b'&');
                w.target.push(if query_at.is_some() { b'&' } else { b'?' });
                w.target.extend_from_slice(&moved);
                w.fix_length();
                "move a body pair to the query".into()
            } else {
                w.target.extend_from_slice(b"&");
                "target: append &".into()
            }
        }
        12 => {
            let value = rng
                .pick(&[
                    host.clone(),
                    "evil.test".into(),
                    host.to_uppercase(),
                    format!("{host}:80"),
                    format!("{host}:443"),
                    format!(" {host}\t"),
                    format!("{host}."),
                    String::new(),
                ])
                .clone();
            let line = format!("Host: {value}").into_bytes();
            let i = at(rng, w.headers.len());
            w.headers.insert(i, line);
            format!("another Host: {value:?}")
        }
        13 => {
            let value = rng
                .pick(&[
                    "evil.test".to_string(),
                    host.to_uppercase(),
                    format!("{host}:80"),
                    format!("{host}:443"),
                    format!("{host}:8080"),
                    format!("{host}."),
                    format!("{host}\t"),
                ])
                .clone();
            match rng.chance(15) {
                true => {
                    w.remove_header("host");
                    "no Host".into()
                }
                false => {
                    w.set_header("Host", value.as_bytes());
                    format!("Host: {value:?}")
                }
            }
        }
        14 => {
            let n = w.body.len();
            let value = rng
                .pick(&[
                    n.to_string(),
                    (n + 1).to_string(),
                    n.saturating_sub(1).to_string(),
                    format!("+{n}"),
                    format!("0{n}"),
                    format!("{n}, {n}"),
                    format!("{n},{}", n + 1),
                    "0".into(),
                    format!(" {n} "),
                    format!("{n}\t"),
                    "-1".into(),
                    "18446744073709551616".into(),
                ])
                .clone();
            if rng.chance(50) {
                let i = at(rng, w.headers.len());
                w.headers
                    .insert(i, format!("Content-Length: {value}").into_bytes());
                format!("another Content-Length: {value:?}")
            } else {
                w.set_header("Content-Length", value.as_bytes());
                format!("Content-Length: {value:?}")
            }
        }
        15 => {
            w.remove_header("content-length");
            "no Content-Length".into()
        }
        16..=17 => chunked(rng, w),
        18 => {
            // obs-fold: a field's value continued on the next line.
            let i = rng.below(w.headers.len());
            let line = w.headers[i].clone();
            let cut = line
                .iter()
                .position(|&b| b == b':')
                .map_or(line.len(), |c| c + 1 + rng.below(line.len() - c));
            let (a, b) = line.split_at(cut);
            w.headers[i] = [a, b"\r\n ", b].concat();
            format!("obs-fold line {i} at {cut}")
        }
        19 => {
            let i = rng.below(w.headers.len());
            let line = &mut w.headers[i];
            let what = match rng.below(4) {
                0 => {
                    if let Some(c) = line.iter().position(|&b| b == b':') {
                        line.insert(c, b' ');
                    }
                    "space before ':'"
                }
                1 => {
                    if let Some(c) = line.iter().position(|&b| b == b':') {
                        line.insert(c + 1, b'\t');
                    }
                    "tab after ':'"
                }
                2 => {
                    line.push(b'\t');
                    "trailing tab"
                }
                _ => {
                    line.make_ascii_uppercase();
                    "upper-cased line"
                }
            };
            format!("header {i}: {what}")
        }
        20..=21 => {
            let value = *rng.pick::<&[u8]>(&[
                &b"application/x-www-form-urlencoded"[..],
                b"Application/X-WWW-Form-Urlencoded; charset=iso-8859-1",
                b"application/json",
                b"text/plain",
                b"multipart/form-data; boundary=x",
                b"application/x-www-form-urlencoded\xa0",
                b"application/x-www-form-urlencoded ;",
                b" application/x-www-form-urlencoded",
                b"application/x-www-form-urlencoded, application/json",
                b"application/json; charset=utf-7",
                b"",
            ]);
            match rng.below(3) {
                0 => {
                    w.remove_header("content-type");
                    "no Content-Type".into()
                }
                1 => {
                    let i = at(rng, w.headers.len());
                    w.headers
                        .insert(i, [&b"Content-Type: "[..], value].concat());
                    format!("another Content-Type: {:?}", String::from_utf8_lossy(value))
                }
                _ => {
                    w.set_header("Content-Type", value);
                    format!("Content-Type: {:?}", String::from_utf8_lossy(value))
                }
            }
        }
        22 => {
            let line = *rng.pick(&[
                "Content-Encoding: gzip",
                "Content-Encoding: deflate",
                "X-HTTP-Method-Override: DELETE",
                "X-Forwarded-Host: evil.test",
                "X_Forwarded_Host: evil.test",
                "X-Original-URL: /admin",
                "Forwarded: host=evil.test",
                "X-XNonce-Client: admin",
                "X-Forwarded-Prefix: /admin",
                "Expect: 100-continue",
                "Connection: close",
                "Connection: host",
                "Connection: content-length",
                "Connection: content-type",
                "Connection: transfer-encoding",
                "Connection: x-nonce",
                "Connection: Upgrade\r\nUpgrade: h2c",
                "Connection: Upgrade\r\nUpgrade: websocket",
                "Trailer: X-Nonce",
                "TE: trailers",
                "X-Script-Name: /up",
            ]);
            let i = at(rng, w.headers.len());
            w.headers.insert(i, line.as_bytes().to_vec());
            format!("add {line:?}")
        }
        23 => {
            let what = match (w.header_index("x-nonce"), rng.below(3)) {
                (Some(i), 0) => {
                    let line = w.headers[i].clone();
                    w.headers.push(line);
                    "X-Nonce twice"
                }
                (Some(i), 1) => {
                    w.headers[i].push(b' ');
                    "X-Nonce: trailing space"
                }
                (Some(i), _) => {
                    let line = w.headers.remove(i);
                    w.headers.insert(0, line);
                    "X-Nonce first"
                }
                (None, _) => {
                    w.headers.push(b"X-Nonce: ".to_vec());
                    "an empty X-Nonce"
                }
            };
            what.into()
        }
        24 => {
            // A bare LF or a lone CR inside the head.
            let i = rng.below(w.headers.len());
            match rng.chance(50) {
                true => {
                    let line = w.headers.remove(i);
                    let next = w.headers.get(i).cloned().unwrap_or_default();
                    let joined = [&line[..], b"\n", &next[..]].concat();
                    match w.headers.get_mut(i) {
                        Some(l) => *l = joined,
                        None => w.headers.push(joined),
                    }
                    format!("bare LF after header {i}")
                }
                false => {
                    let len = w.headers[i].len();
                    let j = rng.below(len);
                    w.headers[i].insert(j, b'\r');
                    format!("lone CR in header {i}")
                }
            }
        }
        25..=27 => {
            let what = match rng.below(4) {
                0 => byte_edit(rng, &mut w.body),
                1 => {
                    let t = rng.pick(TOKENS).as_bytes();
                    insert_bytes(rng, &mut w.body, t);
                    format!("insert {:?}", String::from_utf8_lossy(t))
                }
                2 => escape_edit(rng, &mut w.body),
                _ if !w.body.is_empty() => pair_edit(rng, &mut w.body),
                _ => {
                    let extra = *rng.pick::<&[u8]>(&[&b"&"[..], b"\r\n", b"\xef\xbb\xbf", b"a=1"]);
                    w.body.extend_from_slice(extra);
                    "append to the body".into()
                }
            };
            if rng.chance(80) {
                w.fix_length();
            }
            format!("body: {what}")
        }
        28 => {
            let m = *rng.pick(&[
                "get", "post", "Get", "HEAD", "PUT", "POST", "GET", "OPTIONS", "TRACE", "CONNECT",
                "PATCH", "DELETE", "G ET", "GET\t",
            ]);
            w.method = m.as_bytes().to_vec();
            format!("method {m:?}")
        }
        29 => {
            let v = *rng.pick(&[
                "HTTP/1.0",
                "HTTP/1.2",
                "http/1.1",
                "HTTP/2.0",
                "HTTP/1.1 ",
                "HTTP/1.10",
                "HTTP/0.9",
            ]);
            w.version = v.as_bytes().to_vec();
            format!("version {v:?}")
        }
        30..=31 => {
            // A byte of the request line, wherever it falls.
            let mut line = [&w.method[..], b" ", &w.target, b" ", &w.version].concat();
            let what = byte_edit(rng, &mut line);
            let mut all = w.bytes();
            let old = w.method.len() + 1 + w.target.len() + 1 + w.version.len();
            all.splice(..old, line);
            w.raw = Some(all);
            format!("request line: {what}")
        }
        _ => {
            let mut all = w.bytes();
            let what = byte_edit(rng, &mut all);
            w.raw = Some(all);
            format!("anywhere: {what}")
        }
    }
}

/// The body as chunks (`Transfer-Encoding`, in one of its spellings, with or without the
/// `Content-Length` left beside it).
fn chunked(rng: &mut Rng, w: &mut Wire) -> String {
    let te = *rng.pick(&[
        "chunked",
        "chunked",
        "Chunked",
        "identity, chunked",
        "chunked, identity",
        "gzip, chunked",
        " chunked",
        "chunked\t",
        "xchunked",
        "chunked, chunked",
    ]);
    let keep_length = rng.chance(30);
    if !keep_length {
        w.remove_header("content-length");
    }
    let twice = rng.chance(15);
    w.headers
        .push(format!("Transfer-Encoding: {te}").into_bytes());
    if twice {
        w.headers.push(b"Transfer-Encoding: chunked".to_vec());
    }
    let mut out = Vec::new();
    let mut rest = &w.body[..];
    while !rest.is_empty() {
        let n = 1 + rng.below(rest.len());
        let size = match rng.below(4) {
            0 => format!("{n:x}"),
            1 => format!("{n:X}"),
            2 => format!("0{n:x}"),
            _ => format!("{n:x};ext=1"),
        };
        out.extend_from_slice(size.as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&rest[..n]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    let last: &[u8] = match rng.below(5) {
        0 => b"0\r\nX-Nonce: v2 x\r\n\r\n",
        1 => b"0\r\n",
        _ => b"0\r\n\r\n",
    };
    out.extend_from_slice(last);
    w.body = out;
    format!("Transfer-Encoding: {te:?} (twice: {twice}, Content-Length kept: {keep_length})")
}

/// What came back on the connection: every byte until the gateway closed it.
enum Exchange {
    Answer(Vec<u8>),
    Hang(Vec<u8>),
}

/// Sends `request` and reads until the gateway closes the connection. Once the first final
/// answer is complete (or none has come within [`QUIET`]: the gateway waits for bytes the
/// request announced but never sent) the client ends its side of the stream, so the gateway
/// sees the end of the request; every byte until it closes is kept ([`HANG`] at most).
async fn exchange(addr: &str, request: &[u8]) -> Exchange {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = stream.write_all(request).await;
    let head_only = request.starts_with(b"HEAD ");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let first = async {
        loop {
            if answer_end(&got, head_only).is_some() {
                return;
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(QUIET, first).await;
    let _ = stream.shutdown().await;
    let rest = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    match tokio::time::timeout(HANG, rest).await {
        Ok(()) => Exchange::Answer(got),
        Err(_) => Exchange::Hang(got),
    }
}

/// Where the first final answer in `bytes` ends, once it is all there (interim `1xx`
/// answers skipped; a body framed by `Content-Length` or chunks; none for a `HEAD`).
fn answer_end(bytes: &[u8], head_only: bool) -> Option<usize> {
    let mut at = 0;
    loop {
        let head = find(&bytes[at..], b"\r\n\r\n")? + at + 4;
        let text = String::from_utf8_lossy(&bytes[at..head]).to_ascii_lowercase();
        let status: u16 = text.get(9..12)?.parse().ok()?;
        if (100..200).contains(&status) {
            at = head;
            continue;
        }
        if head_only || status == 204 || status == 304 {
            return Some(head);
        }
        let field = |name: &str| {
            text.split("\r\n")
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
        };
        if field("transfer-encoding:").is_some_and(|te| te.contains("chunked")) {
            return find(&bytes[head..], b"\r\n0\r\n\r\n")
                .map(|e| head + e + 7)
                .or_else(|| bytes[head..].starts_with(b"0\r\n\r\n").then_some(head + 5));
        }
        let length: usize = field("content-length:")?.parse().ok()?;
        return (bytes.len() >= head + length).then_some(head + length);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The final answers in `bytes` (interim `1xx` ones left out): each status, and whether the
/// API wrote it (`x-echo`).
fn final_statuses(bytes: &[u8]) -> Vec<(u16, bool)> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    // An answer starts a line `HTTP/1.x NNN`; the bodies here hold no such line ("echo",
    // text, JSON problems).
    for (i, _) in text.match_indices("HTTP/1.") {
        if i != 0 && !text[..i].ends_with('\n') {
            continue;
        }
        let Some(status) = text[i..].get(9..12).and_then(|s| s.parse::<u16>().ok()) else {
            continue;
        };
        if (100..200).contains(&status) {
            continue;
        }
        let head_end = text[i..].find("\r\n\r\n").map_or(text.len(), |e| i + e);
        let echo = text[i..head_end]
            .to_ascii_lowercase()
            .contains("\r\nx-echo: 1");
        out.push((status, echo));
    }
    out
}

/// How a framework reads a query or a form: split at `&`, empty segments skipped, each at
/// its first `=`, `+` as a space, `%XX` as its byte (a `%` without two hex digits as itself),
/// the bytes as UTF-8 (lossily).
fn framework_pairs(raw: &[u8]) -> Vec<(String, String)> {
    raw.split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = match p.iter().position(|&b| b == b'=') {
                Some(e) => (&p[..e], &p[e + 1..]),
                None => (p, &b""[..]),
            };
            (form_decode(k), form_decode(v))
        })
        .collect()
}

fn percent_decode(raw: &[u8], plus_is_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match raw[i] {
            b'%' if i + 2 < raw.len() => match (hex(raw[i + 1]), hex(raw[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn form_decode(raw: &[u8]) -> String {
    String::from_utf8_lossy(&percent_decode(raw, true)).into_owned()
}

/// A path as an API routes it: its segments, each decoded.
fn decoded_segments(path: &[u8]) -> Vec<Vec<u8>> {
    path.split(|&b| b == b'/')
        .map(|s| percent_decode(s, false))
        .collect()
}

/// Whether the API reads this `Content-Type` as a form: the media type before any `;`,
/// trimmed of any whitespace, compared without case (Latin-1 reading of the bytes).
fn api_reads_form(headers: &HeaderMap) -> bool {
    let Some(ct) = headers.get("content-type") else {
        return false;
    };
    let text: String = ct.as_bytes().iter().map(|&b| char::from(b)).collect();
    text.split(';')
        .next()
        .unwrap_or("")
        .trim_matches(|c: char| c.is_whitespace() || c.is_control())
        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
}

fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

/// How what the API saw compares with the request that was signed.
#[derive(Debug)]
enum Verdict {
    Same,
    /// v1 only: the same canonical string split elsewhere between the path and the params
    /// (PROTOCOL §14.2, "Ambiguous concatenation"); what the API saw, as text.
    V1BoundaryMoved(String),
    Differs(String),
}

/// Whether what the API saw is the request that was signed.
///
/// What each scheme binds, and so what a tampered request may change unseen:
///
/// * **v2** (PROTOCOL §6.6): method, canonical host (§6.2), the path's segments once decoded
///   (§6.3: differently escaped spellings of a segment sign alike; an escaped `/` does not),
///   the multiset of decoded params (§6.4: sorted, so the order of a repeated key's values is
///   not bound, §14.3), and a non-form body's bytes (§6.5). Query and form body are one set of
///   params (§14.3, "Query vs form body are not distinguished"): compared together. With an
///   `ottoken` credential, the one pair it came from is not a param (§11.1 step 4).
/// * **v1** (PROTOCOL §5.3, §14.2): method, the path as sent (§5.1), and the params in order,
///   query then form (§5.2). No host and no non-form body are bound (§14.2, "No host binding
///   and no body binding"): neither is compared. A key repeated with the same decoded value
///   merges into its first pair (§11.1 step 4, the `Hash#merge`), and an `ottoken` param is
///   ignored wherever it appears (§14.3, last item; §11.1 step 4 leaves every raw `ottoken`
///   pair out): the comparison merges and drops them alike. The token hashes the path and the
///   params' content concatenated, without a separator (§5.3, §14.2 "Ambiguous
///   concatenation"), so where the path ends is not bound either: a path and params that
///   concatenate to the signed ones are [`Verdict::V1BoundaryMoved`], not [`Verdict::Same`].
fn check_forwarded(intent: &Intent, seen: &Seen) -> Verdict {
    let mut why = Vec::new();
    if seen.method != intent.method {
        why.push(format!("method {} for {}", seen.method, intent.method));
    }
    let target = seen.target.as_bytes();
    let (path, query) = match target.iter().position(|&b| b == b'?') {
        Some(q) => (&target[..q], Some(&target[q + 1..])),
        None => (target, None),
    };
    let path = match path.strip_prefix(PREFIX.as_bytes()) {
        Some(path) if path.starts_with(b"/") => path,
        _ => {
            why.push(format!("target {:?} outside {PREFIX}/", seen.target));
            b""
        }
    };
    // Forms read on POST, PUT and PATCH only, the methods a form may carry params on
    // (PROTOCOL §11.1 step 1): an API that reads none on a GET (Django, Java servlets) must
    // still get every signed param. (Express and Rack read one on any method; Django and
    // servlets on POST alone, which §14.3's query/form limit leaves to the API: they lose a
    // param moved into a PUT's form.)
    let form = api_reads_form(&seen.headers) && ["POST", "PUT", "PATCH"].contains(&&*seen.method);
    let mut got = framework_pairs(query.unwrap_or_default());
    if form {
        got.extend(framework_pairs(&seen.body));
    }
    for name in [
        "x-http-method-override",
        "x-forwarded-host",
        "x_forwarded_host",
        "x-original-url",
        "forwarded",
        "x-forwarded-prefix",
        "x-script-name",
    ] {
        if seen.headers.contains_key(name) {
            why.push(format!("an override field {name} reached the API"));
        }
    }
    let clients: Vec<_> = seen.headers.get_all("x-xnonce-client").iter().collect();
    if clients != [intent.client.as_str()] {
        why.push(format!("x-xnonce-client {clients:?}"));
    }
    if seen.headers.get_all("content-type").iter().count() > 1 {
        why.push("more than one Content-Type".into());
    }
    let expected = intent.params.clone();
    let shown_path = String::from_utf8_lossy(path);
    let mut moved = None;
    match intent.scheme {
        Scheme::V2 => {
            if decoded_segments(path) != decoded_segments(intent.path.as_bytes()) {
                why.push(format!("path {shown_path:?} for {:?}", intent.path));
            }
            if let Some(token) = &intent.ottoken {
                let pair = ("ottoken".to_string(), token.clone());
                match got.iter().position(|p| *p == pair) {
                    Some(i) => {
                        got.remove(i);
                    }
                    None => why.push("the ottoken pair is gone".into()),
                }
            }
            if sorted(got.clone()) != sorted(expected.clone()) {
                why.push(format!("params {got:?} for {expected:?}"));
            }
            let hosts: Vec<_> = seen.headers.get_all("host").iter().collect();
            if hosts != [intent.host.as_str()] {
                why.push(format!("host {hosts:?} for {:?}", intent.host));
            }
            match (&intent.body, form) {
                (Some(body), _) => {
                    if seen.body[..] != body[..] {
                        why.push(format!(
                            "body {:?} for {:?}",
                            String::from_utf8_lossy(&seen.body),
                            String::from_utf8_lossy(body)
                        ));
                    }
                }
                // A form's bytes were compared as params; no form, no body signed.
                (None, true) => {}
                (None, false) => {
                    if !seen.body.is_empty() {
                        why.push(format!(
                            "a body {:?} nobody signed",
                            String::from_utf8_lossy(&seen.body)
                        ));
                    }
                }
            }
        }
        _ => {
            let mut merged: Vec<(String, String)> = Vec::new();
            for pair in got {
                if pair.0 == "ottoken" || merged.contains(&pair) {
                    continue;
                }
                merged.push(pair);
            }
            if path != intent.path.as_bytes() || merged != expected {
                // The v1 content (§5.2) of what the API read, after the path as it came.
                let content = |params: &[(String, String)]| {
                    let pairs: Vec<String> = params
                        .iter()
                        .map(|(k, v)| format!("{k}={}", cgi_escape(v)))
                        .collect();
                    pairs.join("&")
                };
                let read = format!("{shown_path}{}", content(&merged));
                let signed = format!("{}{}", intent.path, content(&expected));
                match read == signed {
                    true => moved = Some(format!("path {shown_path:?}, params {merged:?}")),
                    false => why.push(format!(
                        "path {shown_path:?} and params {merged:?} for {:?} and {expected:?}",
                        intent.path
                    )),
                }
            }
        }
    }
    match (why.is_empty(), moved) {
        (false, _) => Verdict::Differs(why.join("; ")),
        (true, Some(moved)) => Verdict::V1BoundaryMoved(moved),
        (true, None) => Verdict::Same,
    }
}

/// The request as a Rust byte string, for a report.
fn shown(bytes: &[u8]) -> String {
    let mut out = String::from("b\"");
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => write!(out, "\\x{b:02x}").unwrap(),
        }
    }
    out.push('"');
    out
}

/// The version a request line names, if it is one hyper serves (`505` is the answer to any
/// other: RFC 9110 §15.6.6, not a failure of the gateway).
fn names_a_served_version(request: &[u8]) -> bool {
    let end = request
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(request.len());
    let line = request[..end]
        .strip_suffix(b"\r")
        .unwrap_or(&request[..end]);
    line.ends_with(b" HTTP/1.1") || line.ends_with(b" HTTP/1.0")
}

/// The seed, the cases and their outcome so far, shared by the lanes.
struct Run {
    seed: u64,
    addr: String,
    secrets: Vec<Secret>,
    seen: Reached,
    failures: Mutex<Vec<String>>,
    /// Status (`0`: none) → how many answers; forwarded; untouched.
    statuses: Mutex<std::collections::BTreeMap<u16, usize>>,
    forwarded: std::sync::atomic::AtomicUsize,
    baselines: std::sync::atomic::AtomicUsize,
    /// Forwarded v1 requests whose path and params the API read split elsewhere than signed
    /// (PROTOCOL §14.2).
    boundary_moved: std::sync::atomic::AtomicUsize,
}

/// The generator of case `n`: the same case, whatever ran before it.
fn case_rng(seed: u64, n: usize) -> Rng {
    // splitmix64 of the pair, never 0 (xorshift's fixed point).
    let mut z = seed ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    Rng((z ^ (z >> 31)) | 1)
}

/// Case `n`, signed by the lane's client: generated, mutated, sent, checked.
async fn run_case(run: &Run, n: usize, lane: usize) {
    use std::sync::atomic::Ordering::Relaxed;
    let mut rng = case_rng(run.seed, n);
    let client = format!("lane{lane}");
    let mut intent = intent(&mut rng, n, &run.addr, &client);
    let mut wire = signed_wire(&mut intent, &run.secrets[lane], &mut rng);
    // Every tenth case is sent as signed: it must pass.
    let mutations = match n % 10 {
        0 => 0,
        _ => *rng.pick(&[1, 1, 1, 1, 1, 1, 2, 2, 2, 3]),
    };
    let done: Vec<String> = (0..mutations)
        .map(|_| mutate(&mut rng, &mut wire, &intent))
        .collect();
    let request = wire.bytes();
    let take = || run.seen.lock().unwrap().remove(&client).unwrap_or_default();
    let late = take();
    let answer = exchange(&run.addr, &request).await;
    let reached = take();
    let fail =
        |why: String| {
            run.failures.lock().unwrap().push(format!(
            "case {n} ({:?} {} {}, mutations {done:?}): {why}\n  request {}\n  signed {intent:?}",
            intent.scheme,
            intent.method,
            if intent.ottoken.is_some() { "ottoken" } else { "X-Nonce" },
            shown(&request)
        ))
        };
    if !late.is_empty() {
        fail(format!("before it was sent, the API saw {late:?}"));
    }
    let bytes = match answer {
        Exchange::Hang(got) => return fail(format!("no end within {HANG:?}; got {}", shown(&got))),
        Exchange::Answer(got) => got,
    };
    let answers = final_statuses(&bytes);
    let status = answers.first().map_or(0, |a| a.0);
    if std::env::var_os("XNONCE_TAMPER_VERBOSE").is_some() {
        println!("case {n}: {status} {done:?} {}", shown(&request));
    }
    *run.statuses.lock().unwrap().entry(status).or_default() += 1;
    if mutations == 0 {
        run.baselines.fetch_add(1, Relaxed);
        if !answers
            .first()
            .is_some_and(|&(s, echo)| (200..300).contains(&s) && echo)
        {
            return fail(format!("an untouched request got {}", shown(&bytes)));
        }
    }
    if answers.len() > 1 && answers[1..].iter().any(|(_, echo)| *echo) {
        fail(format!(
            "a second request reached the API: {}",
            shown(&bytes)
        ));
    }
    match answers.first() {
        Some(&(200..=299, true)) => {
            run.forwarded.fetch_add(1, Relaxed);
            match &reached[..] {
                [seen] => match check_forwarded(&intent, seen) {
                    Verdict::Same => {}
                    Verdict::V1BoundaryMoved(read) => {
                        run.boundary_moved.fetch_add(1, Relaxed);
                        println!(
                            "case {n}: v1 boundary moved (PROTOCOL §14.2): the API read {read} \
                             for the path {:?} and params {:?}; sent {}",
                            intent.path,
                            intent.params,
                            shown(&request)
                        );
                    }
                    Verdict::Differs(why) => fail(format!("forwarded as {seen:?}: {why}")),
                },
                _ => fail(format!("answered by the API, which saw {reached:?}")),
            }
        }
        // Nothing answered (the client's stream ended before the request did, and the
        // gateway closed), or a refusal: either way the API must not have seen it.
        None | Some(&(400..=499, _)) => {
            if !reached.is_empty() {
                fail(format!("answered {status}, yet the API saw {reached:?}"));
            }
        }
        // Any version but 1.0 and 1.1 is answered 505 by hyper (RFC 9110 §15.6.6): not a
        // failure of the gateway, if nothing reached the API.
        Some(&(505, _)) if !names_a_served_version(&request) && reached.is_empty() => {}
        Some(_) => fail(format!("answered {}", shown(&bytes))),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_requests_reach_the_api_as_signed_or_not_at_all() {
    use std::sync::atomic::Ordering::Relaxed;
    let seed = std::env::var("XNONCE_TAMPER_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let cases = std::env::var("XNONCE_TAMPER_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(CASES);
    println!("gateway tamper fuzz: XNONCE_TAMPER_SEED={seed}, {cases} cases in {LANES} lanes");

    let seen = Reached::default();
    let api = echo_api(seen.clone());
    let dirs = Dirs::new("gateway-tamper");
    let secrets = (0..LANES)
        .map(|lane| dirs.registry().add(&format!("lane{lane}")).unwrap())
        .collect();
    let toml = format!(
        "[upstream]\nurl = \"{}{PREFIX}\"\ntimeout_ms = 10000\n[limits]\nbody_timeout_ms = 3000\n",
        api.url
    );
    let mut config = Config::parse(&toml).unwrap();
    config.key_file = Some(dirs.key.clone());
    let gateway = InProcess::start(config, dirs.data.clone());
    let run = Arc::new(Run {
        seed,
        addr: gateway.base.authority.clone(),
        secrets,
        seen,
        failures: Mutex::default(),
        statuses: Mutex::default(),
        forwarded: Default::default(),
        baselines: Default::default(),
        boundary_moved: Default::default(),
    });

    let started = Instant::now();
    let lanes: Vec<_> = (0..LANES)
        .map(|lane| {
            let run = run.clone();
            tokio::spawn(async move {
                for n in (lane..cases).step_by(LANES) {
                    run_case(&run, n, lane).await;
                }
            })
        })
        .collect();
    for lane in lanes {
        lane.await.unwrap();
    }
    let elapsed = started.elapsed();
    let (forwarded, baselines) = (run.forwarded.load(Relaxed), run.baselines.load(Relaxed));
    println!(
        "gateway tamper fuzz: {cases} cases ({baselines} untouched) in {:.1} s: {forwarded} \
         forwarded ({} v1 with the path's end moved, PROTOCOL §14.2); first statuses (0: \
         none) {:?}",
        elapsed.as_secs_f64(),
        run.boundary_moved.load(Relaxed),
        run.statuses.lock().unwrap()
    );
    drop(gateway);
    drop(api);
    let failures = run.failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "XNONCE_TAMPER_SEED={seed}: {} of {cases} cases failed:\n{}",
        failures.len(),
        failures[..failures.len().min(40)].join("\n")
    );
    assert!(
        forwarded >= baselines,
        "the untouched requests were forwarded"
    );
}
