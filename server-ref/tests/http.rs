//! Real HTTP over loopback against the real server: started in-process on 127.0.0.1:0 (or as
//! the `xnonce-server` binary for the CLI tests), requests signed with core and sent with a
//! plain HTTP/1.1 client.

use std::path::Path;
use std::time::Duration;

use xnonce_conformance::server_suite::{self, encode_params, http};
use xnonce_core::{link, sign, Scheme, Secret, ServerTimeHint, SignInput};
use xnonce_server::Config;

mod common;

use common::{command, spawn_serve, Dirs, InProcess, Served};

fn unique(what: &str) -> String {
    format!("{what}-{}-{}", common::unique(), xnonce_server::now_ms())
}

/// A server running in-process with its own data dir and one client, `test_client`.
struct Running {
    // Declared first: the server stops before its data dir is removed.
    server: InProcess,
    dirs: Dirs,
    client: String,
    secret: Secret,
}

fn start(mut config: Config) -> Running {
    let dirs = Dirs::new("server-test");
    let secret = dirs.registry().add("test_client").unwrap();
    config.key_file = Some(dirs.key.clone());
    let server = InProcess::start(config, dirs.data.clone());
    Running {
        server,
        dirs,
        client: "test_client".into(),
        secret,
    }
}

fn demo() -> Running {
    start(Config {
        routes: Some(xnonce_core::RouteTable::demo()),
        ..Config::default()
    })
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Running {
    fn input(&self, s: Scheme, method: &str, path: &str, params: &[(String, String)]) -> SignInput {
        let mut i = SignInput::new(s, method, path, &self.client);
        i.params = params.to_vec();
        if s == Scheme::V2 {
            i.host = Some(self.server.base.authority.clone());
        }
        i
    }

    /// Signs and builds a GET (query) or POST (form) request.
    fn request(&self, input: &SignInput) -> (http::Request, xnonce_core::Signed) {
        let signed = sign(input, &self.secret).unwrap();
        let q = encode_params(input.scheme, &input.params);
        let req = if input.method == "POST" {
            http::Request::new("POST", &input.path)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(q.into_bytes())
        } else if q.is_empty() {
            http::Request::new(&input.method, &input.path)
        } else {
            http::Request::new(&input.method, &format!("{}?{q}", input.path))
        };
        (req.header("X-Nonce", signed.x_nonce.clone()), signed)
    }

    fn send(&self, req: &http::Request) -> http::Response {
        http::send(&self.server.base, req).unwrap()
    }

    fn get_params(&self) -> Vec<(String, String)> {
        pairs(&[
            ("username", "phil"),
            ("password", "hello phil"),
            ("opt1", &unique("this")),
        ])
    }
}

fn problem(r: &http::Response) -> serde_json::Value {
    assert_eq!(
        r.header("content-type"),
        Some("application/problem+json"),
        "{r:?}"
    );
    serde_json::from_slice(&r.body).unwrap()
}

fn assert_v1(r: &http::Response, status: u16, body: &str) {
    assert_eq!((r.status, r.text().as_str()), (status, body));
    assert_eq!(r.header("content-type"), Some("text/plain"));
}

fn assert_v2(r: &http::Response, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    let p = problem(r);
    assert_eq!(p["code"], code);
    assert_eq!(p["status"], status);
    assert_eq!(p["type"], format!("https://xnonce.dev/errors/{code}"));
    assert!(p["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(p["detail"].is_string());
}

#[test]
fn accepted_once_then_replayed_in_both_schemes() {
    let s = demo();
    for scheme in [Scheme::V1, Scheme::V2] {
        let (req, _) = s.request(&s.input(scheme, "GET", "/controller1/action1", &s.get_params()));
        let r = s.send(&req);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"));
        let echo: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(echo["client"], "test_client");
        assert_eq!(echo["scheme"], scheme.as_str());
        assert_eq!(echo["controller"], "controller1");
        assert_eq!(echo["action"], "action1");
        assert_eq!(echo["params"]["password"], "hello phil");
        let again = s.send(&req);
        match scheme {
            Scheme::V1 => assert_v1(&again, 409, "ottoken already used"),
            Scheme::V2 => assert_v2(&again, 409, "replayed"),
        }
        // POST with escaped values in a form body.
        let p = pairs(&[
            ("username", "phil"),
            ("password", "hello phil"),
            ("opt1", &unique("this")),
            ("opt2", "a&b=c+d%e é"),
            ("opt3", "go for it"),
        ]);
        let (req, _) = s.request(&s.input(scheme, "POST", "/controller2/action1", &p));
        let r = s.send(&req);
        assert_eq!(r.status, 200, "{}", r.text());
        let echo: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(echo["params"]["opt2"], "a&b=c+d%e é");
    }
}

#[test]
fn tampering_is_refused() {
    let s = demo();
    for scheme in [Scheme::V1, Scheme::V2] {
        let p = s.get_params();
        let signed = sign(
            &s.input(scheme, "GET", "/controller1/action1", &p),
            &s.secret,
        )
        .unwrap();
        let mut changed = p.clone();
        changed[2].1.push('x');
        let q = encode_params(scheme, &changed);
        let r = s.send(
            &http::Request::new("GET", &format!("/controller1/action1?{q}"))
                .header("X-Nonce", signed.x_nonce.clone()),
        );
        match scheme {
            Scheme::V1 => assert_v1(&r, 401, "ottoken does not match"),
            Scheme::V2 => assert_v2(&r, 401, "signature_mismatch"),
        }
    }
    // v2 signs the host.
    let p = s.get_params();
    let mut input = s.input(Scheme::V2, "GET", "/controller1/action1", &p);
    input.host = Some("other.example".into());
    let signed = sign(&input, &s.secret).unwrap();
    let q = encode_params(Scheme::V2, &p);
    let r = s.send(
        &http::Request::new("GET", &format!("/controller1/action1?{q}"))
            .header("X-Nonce", signed.x_nonce.clone()),
    );
    assert_v2(&r, 401, "signature_mismatch");
}

#[test]
fn stale_answers_carry_a_verifiable_server_time() {
    let s = demo();
    for scheme in [Scheme::V1, Scheme::V2] {
        let mut input = s.input(scheme, "GET", "/controller1/action1", &s.get_params());
        input.timestamp_ms = Some(xnonce_server::now_ms() - 120_000);
        let (req, signed) = s.request(&input);
        let r = s.send(&req);
        let hint = ServerTimeHint::parse(r.header("x-nonce-server-time").unwrap()).unwrap();
        assert!(hint.authenticate(&s.secret, &s.client, signed.header.request_id()));
        assert!(!hint.authenticate(&s.secret, "someone_else", signed.header.request_id()));
        assert!(hint.server_time_ms.abs_diff(xnonce_server::now_ms()) < 10_000);
        match scheme {
            Scheme::V1 => assert_v1(&r, 401, "Request has timed out"),
            Scheme::V2 => {
                assert_v2(&r, 401, "expired");
                let p = problem(&r);
                assert_eq!(p["server_time"], hint.server_time_ms);
                assert_eq!(p["server_time_mac"], hint.mac);
            }
        }
    }
}

#[test]
fn unknown_client_and_missing_credential() {
    let s = demo();
    for scheme in [Scheme::V1, Scheme::V2] {
        let mut input = s.input(scheme, "GET", "/controller1/action1", &s.get_params());
        input.client = "nobody".into();
        let (req, _) = s.request(&input);
        let r = s.send(&req);
        match scheme {
            Scheme::V1 => assert_v1(&r, 401, "client not known"),
            Scheme::V2 => assert_v2(&r, 401, "unknown_client"),
        }
    }
    let r = s.send(&http::Request::new("GET", "/admin/status"));
    assert_v1(&r, 401, "Method or nonce not provided");
}

#[test]
fn ottoken_links_work_once() {
    let s = demo();
    for scheme in [Scheme::V1, Scheme::V2] {
        let mut input = SignInput::new(scheme, "GET", "/controller1/action1", &s.client);
        input.params = s.get_params();
        let l = link(&input, &s.secret, &s.server.url).unwrap();
        let target = l.url.strip_prefix(&s.server.url).unwrap();
        let req = http::Request::new("GET", target);
        assert_eq!(s.send(&req).status, 200);
        let again = s.send(&req);
        assert_eq!(again.status, 409);
    }
}

#[test]
fn route_rules_and_unknown_routes_answer_like_em_secure_api() {
    let s = demo();
    // (method, path, params, status, v1 body, v2 code)
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a [(&'a str, &'a str)],
        u16,
        &'a str,
        &'a str,
    );
    let cases: &[Case] = &[
        (
            "GET",
            "/controller1/action1",
            &[("username", "p"), ("opt1", "x")],
            422,
            "Missing required parameter password",
            "missing_param",
        ),
        (
            "GET",
            "/controller1/action3",
            &[("username", "p"), ("password", "x"), ("opt1", "x")],
            422,
            "Included invalid parameter password",
            "excluded_param",
        ),
        (
            "GET",
            "/controller1/action2a",
            &[("username", "p")],
            404,
            "action_method (action2a_get) not found in controller controller1",
            "unknown_route",
        ),
        (
            "POST",
            "/controller1/action1",
            &[("username", "p")],
            404,
            "action_method (action1_post) not found in controller controller1",
            "unknown_route",
        ),
        (
            "GET",
            "/nothing/here",
            &[],
            404,
            "controller (nothing) not found",
            "unknown_route",
        ),
    ];
    for scheme in [Scheme::V1, Scheme::V2] {
        for (method, path, params, status, body, code) in cases {
            let mut p = pairs(params);
            p.push(("n".into(), unique("n")));
            let (req, _) = s.request(&s.input(scheme, method, path, &p));
            let r = s.send(&req);
            match scheme {
                Scheme::V1 => assert_v1(&r, *status, body),
                Scheme::V2 => {
                    assert_v2(&r, *status, code);
                    assert_eq!(problem(&r)["detail"], *body);
                }
            }
        }
    }
    // Optional, unlisted and empty params are fine; action2 makes password optional.
    let p = pairs(&[
        ("username", ""),
        ("opt1", ""),
        ("opt2", &unique("x")),
        ("other", "1"),
    ]);
    let (req, _) = s.request(&s.input(Scheme::V1, "GET", "/controller1/action2", &p));
    assert_eq!(s.send(&req).status, 200);
}

#[test]
fn concurrent_identical_requests_are_accepted_exactly_once() {
    let s = demo();
    for scheme in [Scheme::V1, Scheme::V2] {
        let (req, _) = s.request(&s.input(scheme, "GET", "/controller1/action1", &s.get_params()));
        let statuses: Vec<u16> = std::thread::scope(|scope| {
            let hs: Vec<_> = (0..24)
                .map(|_| scope.spawn(|| http::send(&s.server.base, &req).unwrap().status))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(
            statuses.iter().filter(|&&c| c == 200).count(),
            1,
            "{statuses:?}"
        );
        assert!(
            statuses.iter().all(|&c| c == 200 || c == 409),
            "{statuses:?}"
        );
    }
}

#[test]
fn malformed_and_oversized_requests_get_4xx() {
    let mut cfg =
        Config::parse("[limits]\nmax_body_bytes = 1024\nmax_header_bytes = 4096\n").unwrap();
    cfg.routes = Some(xnonce_core::RouteTable::demo());
    let s = start(cfg);
    let target = "/controller1/action1?username=a&password=b&opt1=c";
    let big = "v2 ".to_string() + &"a".repeat(5000);
    let cases: Vec<(http::Request, u16)> = vec![
        (
            http::Request::new("GET", target).header("X-Nonce", "garbage"),
            401,
        ),
        (
            http::Request::new("GET", target).header("X-Nonce", "v2 a b c d"),
            400,
        ),
        (
            http::Request::new("GET", target).header("X-Nonce", &b"\xff\xfe"[..]),
            401,
        ),
        (
            http::Request::new("GET", target).header("X-Nonce", big.as_str()),
            431,
        ),
        (
            http::Request::new("GET", target).header("X-Pad", "p".repeat(8000)),
            431,
        ),
        (
            http::Request::new("POST", "/controller2/action1")
                .header("Content-Type", "application/json")
                .body(vec![b'x'; 4096]),
            413,
        ),
        (
            http::Request::new("GET", &format!("{target}&ottoken=%%%")),
            400,
        ),
        (
            http::Request::new(
                "GET",
                "/controller1/action1?username=a&password=b&opt1=c&ottoken=djIgYmFk",
            ),
            400,
        ),
    ];
    for (req, status) in cases {
        let r = s.send(&req);
        assert_eq!(r.status, status, "{req:?} -> {}", r.text());
    }
    // hyper's own head limit, far above ours: still a 4xx.
    let huge = (0..40).fold(http::Request::new("GET", target), |r, i| {
        r.header(&format!("X-Pad-{i}"), "p".repeat(16 << 10))
    });
    let r = s.send(&huge);
    assert!((400..500).contains(&r.status), "{}", r.status);
    // A body sent in chunks without a length is limited too (on a route whose rules the
    // query meets: a route refusal decided from the head is sent without reading the body).
    let raw = format!(
        "POST /controller2/action1?opt1=x&opt3=y HTTP/1.1\r\nHost: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n800\r\n{}\r\n0\r\n\r\n",
        s.server.base.authority,
        "y".repeat(0x800)
    );
    let r = http::send_raw(&s.server.base.connect, raw.as_bytes()).unwrap();
    assert_eq!(r.status, 413);
}

/// What arrives on `stream` before it closes or `wait` passes: `Ok(bytes)` when the server
/// closed the connection (after sending `bytes`), `Err(bytes)` when it was still open.
fn read_until_closed(stream: &mut std::net::TcpStream, wait: Duration) -> Result<Vec<u8>, Vec<u8>> {
    use std::io::Read;
    let deadline = std::time::Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(got);
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return Ok(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(got),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(got)
            }
            Err(e) => panic!("read: {e}"),
        }
    }
}

#[test]
fn slow_and_idle_clients_do_not_hold_connections() {
    use std::io::Write;
    let cfg = Config::parse("[limits]\nheader_timeout_ms = 300\nbody_timeout_ms = 300\n").unwrap();
    let s = start(Config {
        routes: Some(xnonce_core::RouteTable::demo()),
        ..cfg
    });
    let connect = || std::net::TcpStream::connect(&s.server.base.connect).unwrap();
    // Closed well after the deadline's 300 ms: the server must have closed them itself.
    let wait = Duration::from_secs(10);

    // Half a request head, never finished.
    let mut half = connect();
    half.write_all(b"GET /controller1/action1?username=a HTTP/1.1\r\nHost: x\r\nX-Non")
        .unwrap();
    // A connection that never says anything.
    let mut silent = connect();
    // A keep-alive connection, idle after its first answer.
    let mut idle = connect();
    idle.write_all(
        format!(
            "GET /_xnonce/health HTTP/1.1\r\nHost: {}\r\n\r\n",
            s.server.base.authority
        )
        .as_bytes(),
    )
    .unwrap();
    // A body announced and never sent whole: the layer answers 408 (in v2's problem form,
    // as the credential says v2). On a route whose rules the query meets: a route refusal
    // decided from the head would be sent without waiting for the body.
    let mut trickle = connect();
    trickle
        .write_all(
            format!(
                "POST /controller2/action1?opt1=x&opt3=y HTTP/1.1\r\nHost: {}\r\nX-Nonce: v2 test_client\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"a\":",
                s.server.base.authority
            )
            .as_bytes(),
        )
        .unwrap();

    let half = read_until_closed(&mut half, wait).expect("half a head held the connection");
    let text = String::from_utf8_lossy(&half);
    assert!(
        half.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
    let silent = read_until_closed(&mut silent, wait).expect("a silent client held the connection");
    assert!(silent.is_empty() || silent.starts_with(b"HTTP/1.1 408"));
    let idle = read_until_closed(&mut idle, wait).expect("an idle keep-alive connection was held");
    let text = String::from_utf8_lossy(&idle);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let trickle = match read_until_closed(&mut trickle, wait) {
        Ok(b) | Err(b) => String::from_utf8_lossy(&b).into_owned(),
    };
    assert!(trickle.starts_with("HTTP/1.1 408"), "{trickle}");
    assert!(trickle.contains("invalid_body"), "{trickle}");

    // The server still answers.
    let r = s.send(&http::Request::new("GET", "/_xnonce/health"));
    assert_eq!(r.status, 200);
}

/// A client that pipelines requests and never reads their answers fills the socket's buffers,
/// and the server then waits to write, with no head deadline running: without the write
/// deadline it held its connection (here the only one) for as long as it liked.
#[test]
fn a_client_that_stops_reading_does_not_hold_its_connection() {
    use std::io::Write;
    let limits = "[limits]\nmax_connections = 1\nwrite_timeout_ms = 500\n";
    let s = start(Config {
        routes: Some(xnonce_core::RouteTable::demo()),
        ..Config::parse(limits).unwrap()
    });
    // Each answer (a 404 naming the unknown controller) is ~60 KB.
    let request = format!(
        "GET /{}/x HTTP/1.1\r\nHost: {}\r\n\r\n",
        "c".repeat(60_000),
        s.server.base.authority
    );
    let mut stalled = std::net::TcpStream::connect(&s.server.base.connect).unwrap();
    stalled
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut sent = 0;
    while sent < 2_000 && stalled.write_all(request.as_bytes()).is_ok() {
        sent += 1;
    }
    assert!(sent < 2_000, "the server kept reading: nothing stalled");
    // The only slot is held; a second client is served once the server gives up writing.
    let mut next = std::net::TcpStream::connect(&s.server.base.connect).unwrap();
    next.write_all(
        format!(
            "GET /_xnonce/health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            s.server.base.authority
        )
        .as_bytes(),
    )
    .unwrap();
    let answer = read_until_closed(&mut next, Duration::from_secs(10))
        .expect("a client that stopped reading held the only connection");
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    drop(stalled);
}

#[test]
fn connections_beyond_the_limit_wait_for_a_free_one() {
    use std::io::Write;
    let s = start(Config::parse("[limits]\nmax_connections = 2\n").unwrap());
    let connect = || std::net::TcpStream::connect(&s.server.base.connect).unwrap();
    let held = [connect(), connect()];
    // Give the server time to accept both before the third arrives.
    std::thread::sleep(Duration::from_millis(200));
    let mut third = connect();
    third
        .write_all(
            format!(
                "GET /_xnonce/health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                s.server.base.authority
            )
            .as_bytes(),
        )
        .unwrap();
    // Not accepted while two are open: no answer (the kernel's backlog holds it).
    let before = read_until_closed(&mut third, Duration::from_millis(700));
    assert_eq!(before, Err(Vec::new()), "answered beyond max_connections");
    drop(held);
    let after = read_until_closed(&mut third, Duration::from_secs(10))
        .expect("the waiting connection was served once one closed");
    assert!(
        after.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&after)
    );
}

#[test]
fn limits_of_zero_are_refused() {
    for (line, name) in [
        ("header_timeout_ms = 0", "limits.header_timeout_ms"),
        ("body_timeout_ms = 0", "limits.body_timeout_ms"),
        ("max_connections = 0", "limits.max_connections"),
        ("write_timeout_ms = 0", "limits.write_timeout_ms"),
    ] {
        let e = Config::parse(&format!("[limits]\n{line}\n")).unwrap_err();
        assert!(e.contains(name), "{e}");
    }
    let e = Config::parse("[limits]\nheader_timeout = 5\n").unwrap_err();
    assert!(e.contains("header_timeout"), "{e}");
}

#[test]
fn health_route_is_unverified() {
    let s = demo();
    let r = s.send(&http::Request::new("GET", "/_xnonce/health"));
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
}

#[test]
fn clients_added_or_rotated_while_running_are_seen() {
    let s = demo();
    let late = s.dirs.registry().add("late_client").unwrap();
    let mut input = s.input(Scheme::V2, "GET", "/admin/status", &[]);
    input.client = "late_client".into();
    let signed = sign(&input, &late).unwrap();
    let r = s.send(&http::Request::new("GET", "/admin/status").header("X-Nonce", signed.x_nonce));
    assert_eq!(r.status, 200, "{}", r.text());
    // Rotation: both secrets are live until `replace`.
    let new = s.dirs.registry().rotate("late_client").unwrap();
    for secret in [&late, &new] {
        let signed = sign(&input, secret).unwrap();
        let r =
            s.send(&http::Request::new("GET", "/admin/status").header("X-Nonce", signed.x_nonce));
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

#[test]
fn windows_follow_the_config() {
    let s = start(Config::parse(include_str!("../examples/xnonce-server.toml")).unwrap());
    // admin/status has a 5 s window in the example config; controller2 keeps 30 s.
    let mut input = s.input(Scheme::V2, "GET", "/admin/status", &[]);
    input.timestamp_ms = Some(xnonce_server::now_ms() - 10_000);
    let (req, _) = s.request(&input);
    assert_eq!(s.send(&req).status, 401);
    let mut input = s.input(Scheme::V2, "GET", "/controller2/action3", &[]);
    input.timestamp_ms = Some(xnonce_server::now_ms() - 10_000);
    let (req, _) = s.request(&input);
    assert_eq!(s.send(&req).status, 200);
}

#[test]
fn the_black_box_suite_passes() {
    let s = demo();
    // A second client, so the cross-client rows (a nonce reused by another client) run.
    let second = s.dirs.registry().add("second_client").unwrap();
    let opts = server_suite::Options::new(&s.server.url, &s.client, s.secret.clone())
        .with_second_client("second_client", second);
    let results = server_suite::run(&opts).unwrap();
    let mut out = Vec::new();
    server_suite::print_table(&results, &mut out).unwrap();
    let table = String::from_utf8(out).unwrap();
    println!("{table}");
    assert!(results.len() > 40);
    assert!(results.iter().all(|r| r.passed && !r.skipped), "{table}");
    assert!(
        results.iter().any(|r| r.name.contains("second client")),
        "{table}"
    );
}

#[test]
fn the_layer_guards_any_axum_app() {
    use axum::{routing::get, Extension, Router};
    use xnonce_core::Verified;
    let secret = Secret::generate().unwrap();
    let clients = std::collections::HashMap::from([("svc".to_string(), secret.clone())]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route(
            "/hello",
            get(|Extension(v): Extension<Verified>| async move { format!("hello {}", v.client) }),
        )
        .layer(xnonce_server::XNonceLayer::new(clients));
    rt.spawn(async move { axum::serve(listener, app).await });
    let base = http::BaseUrl::parse(&format!("http://{addr}")).unwrap();
    let signed = sign(
        &SignInput::new(Scheme::V2, "GET", "/hello", "svc").host(base.authority.clone()),
        &secret,
    )
    .unwrap();
    let req = http::Request::new("GET", "/hello").header("X-Nonce", signed.x_nonce);
    let r = http::send(&base, &req).unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "hello svc"));
    assert_eq!(http::send(&base, &req).unwrap().status, 409);
    assert_eq!(
        http::send(&base, &http::Request::new("GET", "/hello"))
            .unwrap()
            .status,
        401
    );
}

// ---- the binary ----

fn cli(data: &Path, args: &[&str]) -> std::process::Output {
    command(args).arg("--data").arg(data).output().unwrap()
}

#[test]
fn registry_commands() {
    use std::os::unix::fs::PermissionsExt;
    let d = Dirs::new("cli");
    let data = &d.data;
    let out = cli(data, &["client", "add", "alice"]);
    assert!(out.status.success());
    let secret = String::from_utf8(out.stdout).unwrap();
    assert_eq!(secret.len(), 65, "{secret:?}");
    assert!(secret
        .trim_end()
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert!(!cli(data, &["client", "add", "alice"]).status.success());
    assert!(!cli(data, &["client", "add", "bad name"]).status.success());
    let replaced = String::from_utf8(cli(data, &["client", "replace", "alice"]).stdout).unwrap();
    assert_eq!(replaced.len(), 65);
    assert_ne!(replaced, secret);
    assert!(cli(data, &["client", "replace", "bob"]).status.success());
    let list = String::from_utf8(cli(data, &["client", "list"]).stdout).unwrap();
    assert_eq!(list, "alice\nbob\n");
    assert!(!cli(data, &["client", "delete", "bob"]).status.success());
    assert!(cli(data, &["client", "delete", "bob", "--confirm"])
        .status
        .success());
    assert!(!cli(data, &["client", "delete", "bob", "--confirm"])
        .status
        .success());
    assert_eq!(
        String::from_utf8(cli(data, &["client", "list"]).stdout).unwrap(),
        "alice\n"
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data.join("clients.json")), 0o600);
    assert_eq!(mode(data), 0o700);
    // XNONCE_DATA overrides the default dir.
    let out = command(&["client", "list"])
        .env("XNONCE_DATA", data)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "alice\n");
}

/// `xnonce-server serve --demo --listen 127.0.0.1:0 --data DATA EXTRA...`, listening, with its
/// stderr to `log`.
fn serve(data: &Path, extra: &[&str], log: &Path) -> Served {
    let mut cmd = command(&["serve", "--demo", "--listen", "127.0.0.1:0", "--data"]);
    cmd.arg(data).args(extra);
    spawn_serve(cmd, log).unwrap_or_else(|e| panic!("did not start: {e:?}"))
}

#[test]
fn json_logs_are_one_object_per_line_without_secrets() {
    let d = Dirs::new("json-logs");
    let (root, data) = (&d.base, &d.data);
    let secret = String::from_utf8(cli(data, &["client", "add", "svc"]).stdout).unwrap();
    let secret = Secret::new(secret.trim()).unwrap();
    let log = root.join("stderr.log");
    let served = serve(data, &["--log-format", "json"], &log);
    let base = served.base.clone();
    // A tampered request: refused, so logged at the default level.
    let mut input = SignInput::new(Scheme::V2, "GET", "/controller1/action1", "svc")
        .host(base.authority.clone());
    input.params = pairs(&[("username", "u"), ("password", "p"), ("opt1", "o")]);
    let signed = sign(&input, &secret).unwrap();
    let r = http::send(
        &base,
        &http::Request::new(
            "GET",
            "/controller1/action1?username=u&password=p&opt1=TAMPERED",
        )
        .header("X-Nonce", signed.x_nonce.clone()),
    )
    .unwrap();
    assert_eq!(r.status, 401);
    assert!(served.stop().success());
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let refused = lines
        .iter()
        .find(|l| l["fields"]["outcome"] == "signature_mismatch")
        .unwrap_or_else(|| panic!("no refusal logged:\n{text}"));
    assert_eq!(refused["fields"]["client"], "svc");
    assert_eq!(refused["fields"]["status"], 401);
    assert_eq!(refused["level"], "INFO");
    let mac = signed.x_nonce.rsplit(' ').next().unwrap();
    assert!(
        !text.contains(secret.expose()) && !text.contains(mac),
        "{text}"
    );
}

#[test]
fn serve_prints_its_address_sees_new_clients_and_stops_on_sigterm() {
    let d = Dirs::new("serve");
    let (root, data) = (&d.base, &d.data);
    let served = serve(data, &[], &root.join("stderr.log"));
    let base = served.base.clone();
    assert!(
        base.authority.starts_with("127.0.0.1:"),
        "{}",
        base.authority
    );
    let secret = String::from_utf8(cli(data, &["client", "add", "later"]).stdout).unwrap();
    let secret = Secret::new(secret.trim()).unwrap();
    let signed = sign(
        &SignInput::new(Scheme::V1, "GET", "/admin/status", "later"),
        &secret,
    )
    .unwrap();
    let r = http::send(
        &base,
        &http::Request::new("GET", "/admin/status").header("X-Nonce", signed.x_nonce),
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let status = served.stop();
    assert!(status.success(), "{status:?}");
}

/// With `[metrics]`, the metrics listener (never the API's address) counts what the layer
/// decided, by scheme and outcome, what the server answered, the HTTP parser's refusals and
/// the connections open.
#[test]
fn metrics_count_outcomes_answers_and_connections() {
    let s = start(Config {
        routes: Some(xnonce_core::RouteTable::demo()),
        metrics_listen: Some("127.0.0.1:0".into()),
        ..Config::default()
    });
    let metrics = s.server.metrics.clone().expect("a metrics listener");
    let scrape = || {
        let r = http::send(&metrics, &http::Request::new("GET", "/metrics")).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        r.text()
    };
    let value = |text: &str, series: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    };
    let requests = |scheme: &str, outcome: &str| {
        format!("xnonce_requests_total{{scheme=\"{scheme}\",outcome=\"{outcome}\"}}")
    };
    let before = scrape();
    assert_eq!(value(&before, &requests("v2", "accepted")), Some(0));
    assert_eq!(value(&before, "xnonce_replay_keys"), Some(0));

    for scheme in [Scheme::V1, Scheme::V2] {
        let (req, _) = s.request(&s.input(scheme, "GET", "/controller1/action1", &s.get_params()));
        assert_eq!(s.send(&req).status, 200);
        assert_eq!(s.send(&req).status, 409);
    }
    // A v1 link whose ottoken's first byte is written `%65` ('e'): verified as v1 and
    // counted so, while its replay is answered (and counted) in v2's style, which PROTOCOL
    // §16 picks from the raw value.
    let mut input = SignInput::new(Scheme::V1, "GET", "/controller1/action1", &s.client);
    input.params = s.get_params();
    let l = link(&input, &s.secret, &s.server.url).unwrap();
    let target = l.url.strip_prefix(&s.server.url).unwrap();
    let escaped = target.replacen("ottoken=e", "ottoken=%65", 1);
    assert_ne!(escaped, target, "a v1 ottoken starts with 'e' ({target})");
    let req = http::Request::new("GET", &escaped);
    assert_eq!(s.send(&req).status, 200);
    let again = s.send(&req);
    assert_eq!(again.status, 409);
    assert_eq!(
        again.header("content-type"),
        Some("application/problem+json")
    );
    let (req, _) = s.request(&s.input(Scheme::V2, "GET", "/controller1/nowhere", &[]));
    assert_eq!(s.send(&req).status, 404);
    // The API's address does not serve the metrics: an unknown route there.
    assert_eq!(s.send(&http::Request::new("GET", "/metrics")).status, 404);
    let bad = http::send_raw(
        &s.server.base.connect,
        b"GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n",
    );
    assert_eq!(bad.unwrap().status, 400);

    let after = scrape();
    for (series, n) in [
        (requests("v1", "accepted"), 2),
        (requests("v1", "replayed"), 1),
        (requests("v2", "accepted"), 1),
        (requests("v2", "replayed"), 2),
        (requests("v2", "unknown_route"), 1),
        // Unsigned: answered in em-secure-api's style, so counted under v1.
        (requests("v1", "unknown_route"), 1),
        (requests("v2", "signature_mismatch"), 0),
        ("xnonce_responses_total{status=\"200\"}".into(), 3),
        ("xnonce_responses_total{status=\"409\"}".into(), 3),
        ("xnonce_responses_total{status=\"404\"}".into(), 2),
        ("xnonce_replay_keys".into(), 3),
    ] {
        assert_eq!(value(&after, &series), Some(n), "{series} in\n{after}");
    }
    // hyper's own 400 never reached the app: not among the answers the app sent.
    let hypers = "xnonce_responses_total{status=\"400\"}";
    assert_eq!(value(&after, hypers), None);

    // Counted when its connection ends, which may be just after the answer was read; and a
    // connection counts while it is open.
    let wait_for = |series: &str, want: u64| {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while value(&scrape(), series) != Some(want) {
            assert!(
                std::time::Instant::now() < deadline,
                "{series} never {want}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for("xnonce_http_parse_errors_total", 1);
    wait_for("xnonce_connections_open", 0);
    let idle = std::net::TcpStream::connect(&s.server.base.connect).unwrap();
    wait_for("xnonce_connections_open", 1);
    drop(idle);
    wait_for("xnonce_connections_open", 0);
}

/// The metrics listener keeps 16 connections at most and closes one that sends no request
/// for 5 s: connections held open idle (by anyone who reaches the address) delay a scrape
/// by those 5 s, not by the API's 30 s head timeout (a scrape would time out first).
#[test]
fn metrics_listener_closes_idle_connections_after_5_s() {
    let s = start(Config {
        metrics_listen: Some("127.0.0.1:0".into()),
        ..Config::default()
    });
    let metrics = s.server.metrics.clone().expect("a metrics listener");
    let held: Vec<_> = (0..16)
        .map(|_| std::net::TcpStream::connect(&metrics.connect).unwrap())
        .collect();
    let started = std::time::Instant::now();
    // Accepted once an idle one is closed; `send` waits 10 s at most per read.
    let r = http::send(&metrics, &http::Request::new("GET", "/metrics")).unwrap();
    assert_eq!(r.status, 200);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(4), "{waited:?}: not held?");
    for mut c in held {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 1];
        let n = std::io::Read::read(&mut c, &mut buf).expect("closed, not timed out");
        assert_eq!(n, 0, "closed without an answer");
    }
}
