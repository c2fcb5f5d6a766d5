//! Hardening against the real `xnonce-server` binary over loopback:
//! * restart: a request accepted before a restart (SIGTERM, and `kill -9`) of the default
//!   (journaled memory store) server is still refused as a replay after it;
//! * SIGTERM at any moment after the server says it listens is a graceful stop (exit 0);
//!   a second one during the drain stops at once, with the journal still written;
//! * bad-input matrix: hostile or broken requests each get a 4xx (v2: problem document with
//!   the expected code; v1: em-secure-api's text), never a 5xx, never a panic, and the server
//!   keeps serving.

use std::path::Path;
use std::time::{Duration, Instant};

use xnonce_conformance::server_suite::http;
use xnonce_core::{sign, Scheme, Secret, SignInput};

mod common;

use common::{command, spawn_serve, Dirs, Served};

fn add_client(data: &Path, name: &str) -> Secret {
    let out = command(&["client", "add", name, "--data"])
        .arg(data)
        .output()
        .unwrap();
    assert!(out.status.success());
    Secret::new(String::from_utf8(out.stdout).unwrap().trim()).unwrap()
}

/// The binary serving `--demo` on a free port; killed on drop. stderr goes to `log`.
fn start(data: &Path, log: &Path) -> Served {
    start_logging(data, log, "warn")
}

/// [`start`] at this log level.
fn start_logging(data: &Path, log: &Path, level: &str) -> Served {
    let mut cmd = command(&["serve", "--demo", "--listen", "127.0.0.1:0", "--data"]);
    cmd.arg(data).env("RUST_LOG", level);
    spawn_serve(cmd, log).unwrap_or_else(|e| panic!("did not start: {e:?}"))
}

const TARGET: &str = "/controller1/action1?username=phil&password=p&opt1=x";

/// A signed GET of TARGET for `authority` (the Host a v2 token is bound to).
fn signed(scheme: Scheme, client: &str, secret: &Secret, authority: &str) -> http::Request {
    let mut input = SignInput::new(scheme, "GET", "/controller1/action1", client);
    input.params = vec![
        ("username".into(), "phil".into()),
        ("password".into(), "p".into()),
        ("opt1".into(), "x".into()),
    ];
    if scheme == Scheme::V2 {
        input.host = Some(authority.to_string());
    }
    let s = sign(&input, secret).unwrap();
    http::Request::new("GET", TARGET).header("X-Nonce", s.x_nonce)
}

#[test]
fn a_request_accepted_before_a_restart_is_refused_after_it() {
    let d = Dirs::new("hardening-restart");
    let (root, data) = (d.base.clone(), d.data.clone());
    let secret = add_client(&data, "restart_client");
    let mut first = start(&data, &root.join("1.log"));
    // v2 tokens are bound to the Host: keep sending the first server's authority.
    let authority = first.base.authority.clone();
    let at = |s: &Served| same_host(s, &authority);
    let v1 = signed(Scheme::V1, "restart_client", &secret, &authority);
    let v2 = signed(Scheme::V2, "restart_client", &secret, &authority);
    for req in [&v1, &v2] {
        assert_eq!(http::send(&at(&first), req).unwrap().status, 200);
        assert_eq!(http::send(&at(&first), req).unwrap().status, 409);
    }
    let stopped = first.signal("-TERM");
    assert!(
        stopped.success(),
        "SIGTERM must stop the server gracefully (journal flushed): {stopped:?}; {}",
        first.log()
    );

    let mut second = start(&data, &root.join("2.log"));
    for req in [&v1, &v2] {
        let r = http::send(&at(&second), req).unwrap();
        assert_eq!(r.status, 409, "after SIGTERM restart: {}", r.text());
    }
    let journal = data.join(xnonce_server::journal::JOURNAL_FILE);
    let journal_len = || std::fs::metadata(&journal).map(|m| m.len()).unwrap_or(0);
    let before = journal_len();
    let v2b = signed(Scheme::V2, "restart_client", &secret, &authority);
    assert_eq!(http::send(&at(&second), &v2b).unwrap().status, 200);
    // A crash (no graceful shutdown) forgets nothing the journal has written: appends are
    // buffered and written every FLUSH_INTERVAL (100 ms; see src/journal.rs for the
    // trade-off). Wait for that write rather than for a fixed time, which a loaded CI machine
    // can overrun.
    let deadline = Instant::now() + Duration::from_secs(10);
    while journal_len() <= before {
        assert!(
            Instant::now() < deadline,
            "the accepted request never reached the journal (10 s)"
        );
        std::thread::sleep(xnonce_server::journal::FLUSH_INTERVAL / 4);
    }
    second.signal("-KILL");

    let third = start(&data, &root.join("3.log"));
    for req in [&v1, &v2, &v2b] {
        let r = http::send(&at(&third), req).unwrap();
        assert_eq!(r.status, 409, "after kill -9 restart: {}", r.text());
    }
    let fresh = signed(Scheme::V1, "restart_client", &secret, &authority);
    assert_eq!(http::send(&at(&third), &fresh).unwrap().status, 200);
    drop(third);
}

#[test]
fn a_sigterm_as_soon_as_the_server_listens_is_a_graceful_stop() {
    // A supervisor may stop a server the moment it is up: the handlers must be installed by
    // then, or the default action kills the process with accepted requests' journal lines
    // still buffered (and so forgotten across the restart).
    let d = Dirs::new("hardening-early-term");
    let (root, data) = (d.base.clone(), d.data.clone());
    add_client(&data, "early");
    for i in 0..10 {
        let mut s = start(&data, &root.join(format!("{i}.log")));
        let status = s.signal("-TERM");
        assert!(
            status.success(),
            "run {i}: SIGTERM right after the listening line: {status:?}; {}",
            s.log()
        );
    }
}

/// The repro: a file size limit (`ulimit -f`, systemd's `LimitFSIZE=`) reached by a journal
/// write killed the server with SIGXFSZ, its buffered lines (accepted requests) forgotten, and
/// again soon after each restart. It now fails closed as on a full disk: 503
/// `store_unavailable`, and a graceful stop that says what the journal does not record.
#[test]
fn a_file_size_limit_on_the_journal_fails_closed_instead_of_killing_the_server() {
    use std::os::unix::process::ExitStatusExt;
    let d = Dirs::new("hardening-fsize");
    let (root, data) = (d.base.clone(), d.data.clone());
    let secret = add_client(&data, "fsize");
    // 4 blocks (at least 2 KiB): about 40 journal lines.
    let mut cmd = std::process::Command::new("sh");
    common::server_env(&mut cmd)
        .args(["-c", "ulimit -f 4 && exec \"$0\" \"$@\"", common::bin()])
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .env("RUST_LOG", "warn");
    let log = root.join("fsize.log");
    let mut s = spawn_serve(cmd, &log).unwrap_or_else(|e| panic!("did not start: {e:?}"));
    let authority = s.base.authority.clone();
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..400 {
        let r = signed(Scheme::V2, "fsize", &secret, &authority);
        let status = match http::send(&s.base, &r) {
            Ok(answer) => answer.status,
            Err(e) => panic!(
                "no answer after {accepted} accepted ({e}); exit {:?}; {}",
                s.child.try_wait(),
                s.log()
            ),
        };
        match status {
            200 => accepted += 1,
            503 => refused += 1,
            other => panic!("{other}"),
        }
        if refused >= 5 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        accepted > 0 && refused >= 5,
        "{accepted} accepted, {refused} refused"
    );
    let status = s.signal("-TERM");
    assert_eq!(status.signal(), None, "killed: {status:?}; {}", s.log());
    // The lines that could not be written are named at the stop (exit 1).
    assert_eq!(status.code(), Some(1), "{}", s.log());
    assert!(s.log().contains("not recorded in it"), "{}", s.log());
}

#[test]
fn a_second_sigterm_cuts_the_drain_short_and_the_journal_is_still_written() {
    let d = Dirs::new("hardening-second-term");
    let (root, data) = (d.base.clone(), d.data.clone());
    let secret = add_client(&data, "twice");
    // At info, it says when the first signal has been taken.
    let mut s = start_logging(&data, &root.join("1.log"), "info");
    let authority = s.base.authority.clone();
    let at = |s: &Served| same_host(s, &authority);
    let accepted = signed(Scheme::V2, "twice", &secret, &authority);
    assert_eq!(http::send(&at(&s), &accepted).unwrap().status, 200);
    // A request whose body never finishes: the drain would wait for it until its 10 s
    // deadline.
    use std::io::{Read, Write};
    let mut stuck = std::net::TcpStream::connect(&s.base.connect).unwrap();
    stuck
        .write_all(
            format!(
                "POST /controller1/action1 HTTP/1.1\r\nHost: {authority}\r\n\
                 X-Nonce: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                 Content-Length: 100\r\nExpect: 100-continue\r\n\r\n",
                v2_header("twice", &xnonce_server::now_ms().to_string())
            )
            .as_bytes(),
        )
        .unwrap();
    // The interim 100 says the server has read the head and waits for the body: from then
    // on the connection is a request in flight, which the drain waits for (before it, the
    // connection would be idle and closed at once).
    stuck
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut interim = [0u8; 25];
    stuck.read_exact(&mut interim).unwrap();
    assert!(
        interim.starts_with(b"HTTP/1.1 100 Continue\r\n"),
        "{:?}",
        String::from_utf8_lossy(&interim)
    );
    stuck.write_all(b"username=").unwrap();

    s.send_signal("-TERM");
    // The second signal only once the first was taken (two close together may be read as
    // one): the server says so.
    let taken = Instant::now();
    while !s
        .log()
        .contains("a second SIGINT or SIGTERM stops without waiting")
    {
        assert!(
            taken.elapsed() < Duration::from_secs(10),
            "the first SIGTERM was not taken: {}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        s.alive(),
        "one SIGTERM waits for the open request: {}",
        s.log()
    );
    let second = Instant::now();
    let status = s.signal("-TERM");
    assert!(status.success(), "{status:?}; {}", s.log());
    assert!(
        second.elapsed() < Duration::from_secs(5),
        "the second SIGTERM must not wait for the drain's 10 s deadline ({:?}); {}",
        second.elapsed(),
        s.log()
    );
    assert!(s.log().contains("stopping now"), "{}", s.log());
    drop(stuck);

    let again = start(&data, &root.join("2.log"));
    let r = http::send(&at(&again), &accepted).unwrap();
    assert_eq!(
        r.status,
        409,
        "accepted before the forced stop: {}",
        r.text()
    );
}

/// `served`'s address, with `authority` as the Host (v2 tokens are bound to it: a restarted
/// server on another port is still sent the first one's).
fn same_host(served: &Served, authority: &str) -> http::BaseUrl {
    http::BaseUrl {
        connect: served.base.connect.clone(),
        ..http::BaseUrl::parse(&format!("http://{authority}")).unwrap()
    }
}

/// A matrix row: name, request (built, or raw bytes), expected answer.
type Case = (&'static str, Result<http::Request, Vec<u8>>, Want);

/// What a case must get.
#[derive(Debug)]
enum Want {
    /// v2 problem document: status and code.
    V2(u16, &'static str),
    /// em-secure-api text/plain answer: status and a body prefix.
    V1(u16, &'static str),
    /// Accepted (the oddity is outside what is signed).
    Accepted,
    /// Refused by the HTTP parser before any handler (the request is not HTTP we can read):
    /// 4xx without a code.
    Http4xx,
}

fn v2_header(client: &str, ts: &str) -> String {
    format!(
        "v2 {client} {ts} 00112233445566778899aabbccddeeff {}",
        "ab".repeat(32)
    )
}

/// Raw request bytes for `target` (any bytes) with a `Host` line, then `headers`.
fn raw(authority: &str, request_line_target: &[u8], headers: &[(&str, &[u8])]) -> Vec<u8> {
    let mut all = vec![("Host", authority.as_bytes())];
    all.extend_from_slice(headers);
    raw_head(request_line_target, &all)
}

#[test]
fn bad_input_matrix_gets_coded_4xx_and_the_server_survives() {
    let d = Dirs::new("hardening-matrix");
    let (root, data) = (d.base.clone(), d.data.clone());
    let secret = add_client(&data, "matrix");
    let mut s = start(&data, &root.join("server.log"));
    let a = s.base.authority.clone();
    let good_v2 = signed(Scheme::V2, "matrix", &secret, &a);
    let good_v2_value = good_v2.headers[0].1.clone();
    let now = xnonce_server::now_ms().to_string();
    let stale = {
        let mut input = SignInput::new(Scheme::V2, "GET", "/controller1/action1", "matrix");
        input.params = vec![
            ("username".into(), "phil".into()),
            ("password".into(), "p".into()),
            ("opt1".into(), "x".into()),
        ];
        input.host = Some(a.clone());
        let signed = sign(&input.timestamp_ms(1), &secret).unwrap();
        http::Request::new("GET", TARGET).header("X-Nonce", signed.x_nonce)
    };
    let many_params: String = (0..5000).map(|i| format!("&p{i}=v")).collect();
    let long_path = format!("/controller1/{}", "a".repeat(60_000));
    let mid_path = format!("/controller1/{}", "a".repeat(8_000));

    use Want::*;
    let req = |target: &str| http::Request::new("GET", target);
    let v2h = |ts: &str| v2_header("matrix", ts);
    let cases: Vec<Case> = vec![
        (
            "missing X-Nonce",
            Ok(req(TARGET)),
            V1(401, "Method or nonce not provided"),
        ),
        (
            "empty X-Nonce",
            Ok(req(TARGET).header("X-Nonce", "")),
            V1(401, ""),
        ),
        (
            "duplicate X-Nonce (v2)",
            Ok(req(TARGET)
                .header("X-Nonce", good_v2_value.clone())
                .header("X-Nonce", good_v2_value.clone())),
            V2(400, "malformed_header"),
        ),
        (
            "duplicate X-Nonce (v1)",
            Ok(req(TARGET)
                .header("X-Nonce", "aa c 1")
                .header("X-Nonce", "aa c 1")),
            V1(401, "Incorrect parameters in validate_ottoken"),
        ),
        (
            "oversized X-Nonce (20 kB)",
            Ok(req(TARGET).header("X-Nonce", format!("v2 {}", "a".repeat(20_000)))),
            V2(431, "malformed_header"),
        ),
        (
            "X-Nonce just over the parser's 512 bytes",
            Ok(req(TARGET).header("X-Nonce", format!("v2 {}", "a".repeat(600)))),
            V2(400, "malformed_header"),
        ),
        (
            "non-UTF-8 X-Nonce",
            Ok(req(TARGET).header("X-Nonce", &b"v2 \xff\xfe\xc3"[..])),
            // It starts with `v2 `: v2's answer (PROTOCOL §16), as the middlewares give it.
            V2(400, "malformed_header"),
        ),
        (
            "non-UTF-8 in another header",
            Ok(req(TARGET)
                .header("X-Other", &b"\xff\xfe"[..])
                .header("X-Nonce", good_v2_value.clone())),
            Accepted,
        ),
        (
            "raw non-UTF-8 bytes in the query",
            Err(raw(
                &a,
                b"/controller1/action1?username=\xff\xfe&password=p&opt1=x",
                &[("X-Nonce", &good_v2_value)],
            )),
            Http4xx,
        ),
        (
            "raw non-UTF-8 bytes in the path",
            Err(raw(
                &a,
                b"/controller1/\xff\xfe",
                &[("X-Nonce", &good_v2_value)],
            )),
            Http4xx,
        ),
        (
            "percent-encoded non-UTF-8 in the query",
            Ok(
                req("/controller1/action1?username=%FF%FE&password=p&opt1=x")
                    .header("X-Nonce", good_v2_value.clone()),
            ),
            V2(400, "malformed_params"),
        ),
        (
            "percent-encoded non-UTF-8 in the path",
            Ok(req("/controller1/%FF%FE").header("X-Nonce", good_v2_value.clone())),
            V2(404, "unknown_route"),
        ),
        (
            "bad percent-escape %zz in the query",
            Ok(req("/controller1/action1?username=%zz&password=p&opt1=x")
                .header("X-Nonce", good_v2_value.clone())),
            V2(400, "malformed_params"),
        ),
        (
            "truncated percent-escape in the query",
            Ok(req("/controller1/action1?username=a&password=p&opt1=x%4")
                .header("X-Nonce", good_v2_value.clone())),
            V2(400, "malformed_params"),
        ),
        (
            "bad percent-escape in the ottoken",
            Ok(req(&format!("{TARGET}&ottoken=%%%"))),
            V2(400, "malformed_ottoken"),
        ),
        (
            "5,000 params",
            Ok(req(&format!("{TARGET}{many_params}")).header("X-Nonce", good_v2_value.clone())),
            V2(401, "signature_mismatch"),
        ),
        (
            "8 kB path",
            Ok(req(&mid_path).header("X-Nonce", good_v2_value.clone())),
            V2(404, "unknown_route"),
        ),
        (
            "60 kB path",
            Ok(req(&long_path).header("X-Nonce", good_v2_value.clone())),
            Http4xx,
        ),
        (
            "non-numeric timestamp",
            Ok(req(TARGET).header("X-Nonce", v2h("12ab"))),
            V2(400, "malformed_header"),
        ),
        (
            "overflowing timestamp",
            Ok(req(TARGET).header("X-Nonce", v2h("99999999999999999999999999"))),
            V2(400, "malformed_header"),
        ),
        (
            "timestamp above 2^53",
            Ok(req(TARGET).header("X-Nonce", v2h("9007199254740993"))),
            V2(400, "malformed_header"),
        ),
        (
            "negative timestamp",
            Ok(req(TARGET).header("X-Nonce", v2h("-1"))),
            V2(400, "malformed_header"),
        ),
        (
            "zero timestamp, unsigned (the MAC is checked first)",
            Ok(req(TARGET).header("X-Nonce", v2h("0"))),
            V2(401, "signature_mismatch"),
        ),
        (
            "timestamp 1 ms after the epoch, signed",
            Ok(stale),
            V2(401, "expired"),
        ),
        (
            "v1 non-numeric timestamp",
            Ok(req(TARGET).header("X-Nonce", format!("{} matrix 12x", "ab".repeat(32)))),
            V1(401, "Incorrect parameters in validate_ottoken"),
        ),
        (
            "wrong scheme tag v3",
            Ok(req(TARGET).header("X-Nonce", v2h(&now).replacen("v2", "v3", 1))),
            V1(401, "Incorrect parameters in validate_ottoken"),
        ),
        (
            "wrong scheme tag V2 (case)",
            Ok(req(TARGET).header("X-Nonce", v2h(&now).replacen("v2", "V2", 1))),
            V1(401, "Incorrect parameters in validate_ottoken"),
        ),
        (
            "v2 with an extra field",
            Ok(req(TARGET).header("X-Nonce", format!("{} extra", v2h(&now)))),
            V2(400, "malformed_header"),
        ),
        (
            "v2 with double spaces",
            Ok(req(TARGET).header("X-Nonce", v2h(&now).replace(' ', "  "))),
            V2(400, "malformed_header"),
        ),
        (
            "garbage v2 ottoken",
            Ok(req(&format!("{TARGET}&ottoken=djIg%00%01"))),
            V2(400, "malformed_ottoken"),
        ),
        (
            "garbage v1 ottoken",
            Ok(req(&format!("{TARGET}&ottoken=eyJ!!!"))),
            V1(401, "Incorrect parameters in validate_ottoken"),
        ),
    ];
    let mut failures = Vec::new();
    for (name, request, want) in &cases {
        let r = match request {
            Ok(r) => http::send(&s.base, r),
            Err(bytes) => http::send_raw(&s.base.connect, bytes),
        };
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{name}: no answer ({e})"));
                continue;
            }
        };
        let ct = r.header("content-type").unwrap_or("").to_string();
        let ok = match want {
            V2(status, code) => {
                let doc: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
                r.status == *status
                    && ct == "application/problem+json"
                    && doc["code"] == *code
                    && doc["status"] == *status
            }
            V1(status, prefix) => {
                r.status == *status
                    && ct.starts_with("text/plain")
                    && !r.body.is_empty()
                    && r.text().starts_with(prefix)
            }
            Accepted => r.status == 200,
            Http4xx => (400..500).contains(&r.status),
        };
        if !ok {
            failures.push(format!(
                "{name}: wanted {want:?}, got {} {ct} {:?}",
                r.status,
                r.text().chars().take(200).collect::<String>()
            ));
        }
    }
    // Still alive and serving, no panic logged.
    let fresh = signed(Scheme::V2, "matrix", &secret, &a);
    let r = http::send(&s.base, &fresh).unwrap();
    assert_eq!(r.status, 200, "server after the matrix: {}", r.text());
    assert!(s.alive());
    let log = s.log();
    assert!(!log.contains("panicked"), "panic in the server log:\n{log}");
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    drop(s);
}

/// Raw request bytes: `GET <target> HTTP/1.1`, then `headers` as given (no Host added).
fn raw_head(target: impl AsRef<[u8]>, headers: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = b"GET ".to_vec();
    out.extend_from_slice(target.as_ref());
    out.extend_from_slice(b" HTTP/1.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn problem_code(r: &http::Response) -> String {
    assert_eq!(
        r.header("content-type"),
        Some("application/problem+json"),
        "{} {}",
        r.status,
        r.text()
    );
    let doc: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    doc["code"].as_str().unwrap_or_default().to_string()
}

#[test]
fn the_host_is_the_absolute_targets_authority_and_two_hosts_are_refused() {
    // RFC 9112 §3.2.2: with an absolute-form target the server MUST ignore Host and use the
    // target's authority; §3.2: more than one Host field line is a 400.
    let d = Dirs::new("hardening-host");
    let (root, data) = (d.base.clone(), d.data.clone());
    let secret = add_client(&data, "host");
    let s = start(&data, &root.join("server.log"));
    let a = s.base.authority.clone();
    let absolute = format!("http://evil.example{TARGET}");
    let x_nonce = |r: &http::Request| r.headers[0].1.clone();
    let send = |bytes: Vec<u8>| http::send_raw(&s.base.connect, &bytes).unwrap();

    // Signed for the Host header's authority, sent to another one in absolute form: the
    // signature is checked against evil.example, and fails.
    let for_a = signed(Scheme::V2, "host", &secret, &a);
    let r = send(raw_head(
        &absolute,
        &[("Host", a.as_bytes()), ("X-Nonce", &x_nonce(&for_a))],
    ));
    assert_eq!(
        (r.status, problem_code(&r).as_str()),
        (401, "signature_mismatch")
    );
    // Signed for the target's authority: accepted, whatever the Host header says.
    let for_evil = signed(Scheme::V2, "host", &secret, "evil.example");
    let r = send(raw_head(
        &absolute,
        &[("Host", a.as_bytes()), ("X-Nonce", &x_nonce(&for_evil))],
    ));
    assert_eq!(r.status, 200, "{}", r.text());

    // Two Host lines (the first the signed one): 400, in either scheme, even when equal.
    for second in [a.as_str(), "evil.example"] {
        let v2 = signed(Scheme::V2, "host", &secret, &a);
        let r = send(raw_head(
            TARGET,
            &[
                ("Host", a.as_bytes()),
                ("Host", second.as_bytes()),
                ("X-Nonce", &x_nonce(&v2)),
            ],
        ));
        assert_eq!((r.status, problem_code(&r).as_str()), (400, "invalid_host"));
        // Refused before anything is recorded: the same token is accepted once, alone.
        let r = send(raw_head(
            TARGET,
            &[("Host", a.as_bytes()), ("X-Nonce", &x_nonce(&v2))],
        ));
        assert_eq!(r.status, 200, "{}", r.text());
        let v1 = signed(Scheme::V1, "host", &secret, &a);
        let r = send(raw_head(
            TARGET,
            &[
                ("Host", a.as_bytes()),
                ("Host", second.as_bytes()),
                ("X-Nonce", &x_nonce(&v1)),
            ],
        ));
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("text/plain"));
        assert!(r.text().contains("more than one Host"), "{}", r.text());
    }
    drop(s);
}

#[test]
fn oversized_heads_and_unreadable_forms_get_their_own_answers() {
    let d = Dirs::new("hardening-nits");
    let (root, data) = (d.base.clone(), d.data.clone());
    add_client(&data, "nits");
    let mut s = start(&data, &root.join("server.log"));
    let now = xnonce_server::now_ms().to_string();
    // A large header that is not X-Nonce: 431 with a title that does not blame X-Nonce.
    let r = http::send(
        &s.base,
        &http::Request::new("GET", TARGET)
            .header("X-Nonce", v2_header("nits", &now))
            .header("X-Pad", "p".repeat(20_000)),
    )
    .unwrap();
    assert_eq!(r.status, 431, "{}", r.text());
    let doc: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(doc["title"], "Request header fields too large");
    // A form body that is not UTF-8 on a route with rules (opt1, opt3 required), opt1 present:
    // malformed params, not a missing opt1.
    let form = |x_nonce: String| {
        http::Request::new("POST", "/controller2/action1")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("X-Nonce", x_nonce)
            .body(&b"opt1=\xff\xfe&opt3=x"[..])
    };
    let r = http::send(&s.base, &form(v2_header("nits", &now))).unwrap();
    assert_eq!(
        (r.status, problem_code(&r).as_str()),
        (400, "malformed_params")
    );
    let r = http::send(&s.base, &form(format!("{} nits {now}", "ab".repeat(32)))).unwrap();
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "the form body is not UTF-8")
    );
    assert!(s.alive());
    drop(s);
}

/// Requests hyper refuses before the layer sees them (a head over the read buffer, more than
/// 100 header lines, a control byte in a header value) get hyper's 4xx and an info log line
/// with the peer and the reason. The read buffer follows the layer's header limit (88 KiB by
/// default), not hyper's ~400 KiB, so an unfinished 200 KB head is refused at once.
#[test]
fn refusals_by_the_http_parser_are_answered_and_logged() {
    let d = Dirs::new("hardening-parser");
    let (root, data) = (d.base.clone(), d.data.clone());
    add_client(&data, "parser");
    let mut cmd = command(&["serve", "--demo", "--listen", "127.0.0.1:0", "--data"]);
    cmd.arg(&data).env("RUST_LOG", "info");
    let log = root.join("server.log");
    let mut s = spawn_serve(cmd, &log).unwrap_or_else(|e| panic!("did not start: {e:?}"));
    let a = s.base.authority.clone();
    let big = "p".repeat(200_000);
    let many: Vec<(String, Vec<u8>)> = (0..120)
        .map(|i| (format!("X-H{i}"), b"v".to_vec()))
        .collect();
    let many: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect();
    for (what, bytes, status) in [
        (
            "a 200 KB header",
            raw(&a, TARGET.as_bytes(), &[("X-Pad", big.as_bytes())]),
            431,
        ),
        ("120 header lines", raw(&a, TARGET.as_bytes(), &many), 431),
        (
            "a control byte",
            raw(&a, TARGET.as_bytes(), &[("X-C", b"a\x1bb")]),
            400,
        ),
    ] {
        let r = http::send_raw(&s.base.connect, &bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(r.status, status, "{what}");
    }
    // An unfinished head of 200 KB: answered 431 without waiting for the rest.
    let mut head = format!("GET {TARGET} HTTP/1.1\r\nHost: {a}\r\nX-Pad: ").into_bytes();
    head.extend_from_slice(big.as_bytes());
    let mut conn = std::net::TcpStream::connect(&s.base.connect).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    use std::io::{Read, Write};
    let _ = conn.write_all(&head);
    let mut answer = [0u8; 12];
    conn.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 431");
    drop(conn);
    assert!(s.alive());
    // Logged when hyper gives the connection up, just after its answer.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut log = s.log();
    while log.matches("http_parse_error").count() < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        log = s.log();
    }
    assert!(
        log.matches("http_parse_error").count() == 4 && log.contains("peer=127.0.0.1:"),
        "{log}"
    );
    // The test's own config home keys the registry, not the user's ~/.config.
    let key = common::config_home().join("xnonce").join("registry.key");
    assert!(
        log.contains(&format!("key_file={}", key.display())),
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
    drop(s);
}
