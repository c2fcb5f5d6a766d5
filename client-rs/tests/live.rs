//! The requester against a real `xnonce-server serve --demo` on 127.0.0.1:0.

mod common;

use std::time::Duration;

use common::refused_port::RefusedPort;
use common::{now_ms, pairs, Server};
use xnonce::{ErrorCode, RequestOptions, Requester, Scheme};

const V1: &str = "rs_v1";
const V2: &str = "rs_v2";

fn server() -> Server {
    Server::start(&[V1, V2])
}

fn requester(s: &Server, client: &str, scheme: Scheme) -> Requester {
    Requester::builder(&s.base_url, client, s.secret(client))
        .scheme(scheme)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn login() -> Vec<(String, String)> {
    pairs(&[
        ("username", "phil"),
        ("password", "hello phil"),
        ("opt1", "this"),
    ])
}

fn problem_code(res: &xnonce::Response) -> Option<String> {
    res.data
        .as_ref()
        .and_then(|d| d.get("code"))
        .and_then(|c| c.as_str())
        .map(str::to_string)
}

#[tokio::test]
async fn v2_get_is_accepted_once_then_replayed() {
    let s = server();
    let api = requester(&s, V2, Scheme::V2);
    let opts = RequestOptions {
        timestamp_ms: Some(now_ms()),
        nonce: Some("0123456789abcdef0123456789abcdef".into()),
        ..Default::default()
    };
    let ok = api
        .make_request("GET", login(), "action1", Some("controller1"), opts.clone())
        .await
        .unwrap();
    assert_eq!(ok.code, 200, "{}", ok.body);
    // em-secure-api's controller1_action1_get: opt1 upper-cased, opt2 absent → null.
    let data = ok.data.expect("JSON answer");
    assert_eq!(data, serde_json::json!({"opt1": "THIS", "opt2": null}));
    let again = api
        .make_request("GET", login(), "/controller1/action1", None, opts)
        .await
        .unwrap();
    assert_eq!(again.code, 409, "{}", again.body);
    assert_eq!(problem_code(&again).as_deref(), Some("replayed"));
    assert!(again
        .header("content-type")
        .unwrap_or("")
        .starts_with("application/problem+json"));
}

#[tokio::test]
async fn v1_get_and_post_form_are_accepted_and_replays_refused() {
    let s = server();
    let api = requester(&s, V1, Scheme::V1);
    let ts = now_ms();
    let opts = RequestOptions {
        timestamp_ms: Some(ts),
        ..Default::default()
    };
    let get = api
        .make_request("get", login(), "/controller1/action1", None, opts.clone())
        .await
        .unwrap();
    assert_eq!(get.code, 200, "{}", get.body);
    let replay = api
        .make_request("get", login(), "/controller1/action1", None, opts)
        .await
        .unwrap();
    assert_eq!(
        (replay.code, replay.body.as_str()),
        (409, "ottoken already used")
    );

    let params = pairs(&[
        ("username", "phil"),
        ("password", "hello phil"),
        ("opt1", "this & that = 100%"),
        ("opt2", "Zoë ~ 日本"),
        ("opt3", "go for it"),
    ]);
    let post = api
        .make_request(
            "POST",
            params,
            "action1",
            Some("controller2"),
            RequestOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(post.code, 200, "{}", post.body);
    // em-secure-api's controller2_action1_post, in its key order.
    assert_eq!(
        post.body,
        r#"{"posted":"POSTED!","opt1":"this & that = 100%","opt2":"Zoë ~ 日本","opt3":"go for it"}"#
    );
}

#[tokio::test]
async fn tampering_is_refused_in_both_schemes() {
    let s = server();
    let added = RequestOptions {
        extra_params: pairs(&[("opt2", "sneaked in")]),
        ..Default::default()
    };
    let v1 = requester(&s, V1, Scheme::V1)
        .make_request("GET", login(), "/controller1/action1", None, added.clone())
        .await
        .unwrap();
    assert_eq!((v1.code, v1.body.as_str()), (401, "ottoken does not match"));
    let v2 = requester(&s, V2, Scheme::V2)
        .make_request("GET", login(), "/controller1/action1", None, added)
        .await
        .unwrap();
    assert_eq!(v2.code, 401, "{}", v2.body);
    assert_eq!(problem_code(&v2).as_deref(), Some("signature_mismatch"));

    // A `Host` given in the headers is the host v2 signs and sends: verified end to end.
    let other_host = RequestOptions {
        headers: vec![("Host".into(), "API.example.test:8080".into())],
        ..Default::default()
    };
    let res = requester(&s, V2, Scheme::V2)
        .make_request("GET", login(), "/controller1/action1", None, other_host)
        .await
        .unwrap();
    assert_eq!(res.code, 200, "{}", res.body);
}

/// A requester whose clock is 100 s behind the server's.
fn slow_clock(s: &Server, client: &str, scheme: Scheme, correct: bool) -> Requester {
    Requester::builder(&s.base_url, client, s.secret(client))
        .scheme(scheme)
        .correct_clock(correct)
        .clock_offset_ms(-100_000)
        .build()
        .unwrap()
}

async fn get_login(api: &Requester, options: RequestOptions) -> xnonce::Response {
    api.make_request("GET", login(), "/controller1/action1", None, options)
        .await
        .unwrap()
}

#[tokio::test]
async fn stale_requests_are_corrected_once_from_the_authentic_hint() {
    let s = server();
    for (client, scheme) in [(V1, Scheme::V1), (V2, Scheme::V2)] {
        let strict = slow_clock(&s, client, scheme, false);
        let stale = get_login(&strict, Default::default()).await;
        assert_eq!(stale.code, 401, "{scheme}: {}", stale.body);
        match scheme {
            Scheme::V1 => assert_eq!(stale.body, "Request has timed out"),
            _ => assert_eq!(problem_code(&stale).as_deref(), Some("expired")),
        }
        assert!(
            stale.header("x-nonce-server-time").is_some(),
            "{scheme}: stale answer without a time hint"
        );
        assert_eq!(strict.clock_offset_ms(), -100_000);
        assert!(
            !strict.clock_offset_learned(),
            "{scheme}: correction is off"
        );

        let api = slow_clock(&s, client, scheme, true);
        assert!(!api.clock_offset_learned());
        let fixed = get_login(&api, Default::default()).await;
        assert!(api.clock_offset_learned(), "{scheme}");
        assert_eq!(fixed.code, 200, "{scheme}: {}", fixed.body);
        // Same machine: the learned offset is the request's round trip, not 100 s.
        assert!(
            api.clock_offset_ms().abs() < 5_000,
            "{}",
            api.clock_offset_ms()
        );
    }
}

#[tokio::test]
async fn a_forced_stale_timestamp_is_not_retried() {
    let s = server();
    for (client, scheme) in [(V1, Scheme::V1), (V2, Scheme::V2)] {
        let api = slow_clock(&s, client, scheme, true);
        let forced = RequestOptions {
            timestamp_ms: Some(now_ms() - 100_000),
            ..Default::default()
        };
        let res = get_login(&api, forced).await;
        assert_eq!(res.code, 401, "{scheme}: {}", res.body);
        // The hint was authentic, so the offset is learned even though nothing was resent.
        assert!(api.clock_offset_learned(), "{scheme}");
        assert!(
            api.clock_offset_ms().abs() < 5_000,
            "{}",
            api.clock_offset_ms()
        );
    }
}

#[tokio::test]
async fn unknown_clients_are_refused() {
    let s = server();
    let stranger = s.secret(V2); // a well-formed secret, for a name the server does not know
    let v2 = Requester::builder(&s.base_url, "nobody", stranger.clone())
        .build()
        .unwrap()
        .make_request("GET", vec![], "/admin/status", None, Default::default())
        .await
        .unwrap();
    assert_eq!(v2.code, 401, "{}", v2.body);
    assert_eq!(problem_code(&v2).as_deref(), Some("unknown_client"));
    let v1 = Requester::builder(&s.base_url, "nobody", stranger)
        .scheme(Scheme::V1)
        .build()
        .unwrap()
        .make_request("GET", vec![], "/admin/status", None, Default::default())
        .await
        .unwrap();
    assert_eq!((v1.code, v1.body.as_str()), (401, "client not known"));
}

#[tokio::test]
async fn v2_json_body_is_signed_by_digest() {
    let s = server();
    let api = requester(&s, V2, Scheme::V2);
    let params = pairs(&[
        ("username", "phil"),
        ("password", "hello phil"),
        ("opt1", "this"),
        ("opt3", "go for it"),
    ]);
    let opts = RequestOptions {
        json: Some(serde_json::json!({"items": [1, 2, 3], "note": "ünïcode"})),
        ..Default::default()
    };
    let res = api
        .make_request("POST", params, "/controller2/action1", None, opts)
        .await
        .unwrap();
    assert_eq!(res.code, 200, "{}", res.body);

    let bad = api
        .make_request(
            "POST",
            vec![],
            "/controller2/action1",
            None,
            RequestOptions {
                json: Some(serde_json::json!(1)),
                ..Default::default()
            },
        )
        .await;
    // Signed correctly, so the route rules answer (missing params), not the signature check.
    assert_eq!(bad.unwrap().code, 422);
}

#[tokio::test]
async fn signing_errors_and_transport_failures_are_errors() {
    let s = server();
    let v1 = requester(&s, V1, Scheme::V1);
    let e = v1
        .make_request(
            "POST",
            vec![],
            "/controller2/action1",
            None,
            RequestOptions {
                json: Some(serde_json::json!({})),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidBody);
    let e = v1
        .make_request(
            "GET",
            pairs(&[("bad key", "x")]),
            "/a/b",
            None,
            Default::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidParamKey);

    // A port nobody listens on (bound, not listening, for as long as `refused` lives).
    let refused = RefusedPort::new();
    let e = Requester::builder(refused.url(), V2, s.secret(V2))
        .build()
        .unwrap()
        .make_request("GET", vec![], "/admin/status", None, Default::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::ConnectionFailed);
    assert!(!e.message().contains(&s.secret_text(V2)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clones_share_one_pool() {
    let s = server();
    let api = requester(&s, V2, Scheme::V2);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let mut p = login();
            p.push(("opt2".into(), format!("task {i}")));
            api.make_request("GET", p, "action1", Some("controller1"), Default::default())
                .await
        }));
    }
    for t in tasks {
        let res = t.await.unwrap().unwrap();
        assert_eq!(res.code, 200, "{}", res.body);
    }
}

#[test]
fn blocking_requester_works_from_plain_and_async_threads() {
    let s = server();
    let api = xnonce::blocking::Requester::builder(&s.base_url, V1, s.secret(V1))
        .scheme(Scheme::V1)
        .build()
        .unwrap();
    // GET /controller1/action1 with the login params, through a blocking requester.
    let get_login = |api: &xnonce::blocking::Requester| {
        api.make_request(
            "GET",
            login(),
            "/controller1/action1",
            None,
            Default::default(),
        )
        .unwrap()
    };
    let res = get_login(&api);
    assert_eq!(res.code, 200, "{}", res.body);
    // From other plain threads, sharing the same requester. (v1 has no nonce: two identical
    // requests signed in the same millisecond have the same token, so each thread sends a
    // different param.)
    std::thread::scope(|scope| {
        for i in 0..3 {
            let api = &api;
            scope.spawn(move || {
                let p = pairs(&[("thread", &i.to_string())]);
                let r = api
                    .make_request("GET", p, "/admin/status", None, Default::default())
                    .unwrap();
                assert_eq!(r.code, 200, "{}", r.body);
            });
        }
    });
    // From inside an async runtime (runs on a helper thread instead of panicking).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let inner = api.clone();
    let code = rt.block_on(async move {
        inner
            .make_request("GET", vec![], "/admin/status", None, Default::default())
            .unwrap()
            .code
    });
    assert_eq!(code, 200);
    drop(rt);
    // v2 through the blocking wrapper too.
    let v2 = xnonce::blocking::Requester::builder(&s.base_url, V2, s.secret(V2))
        .build()
        .unwrap();
    let res = v2
        .make_request(
            "GET",
            login(),
            "action1",
            Some("controller1"),
            Default::default(),
        )
        .unwrap();
    assert_eq!(res.code, 200, "{}", res.body);
    // Its settings and what it learns are the async requester's: a clock 100 s slow is
    // corrected from the stale answer's hint, and the offset it learned is readable.
    let slow = xnonce::blocking::Requester::builder(&s.base_url, V2, s.secret(V2))
        .clock_offset_ms(-100_000)
        .build()
        .unwrap();
    assert_eq!(slow.clock_offset_ms(), -100_000);
    let res = get_login(&slow);
    assert_eq!(res.code, 200, "{}", res.body);
    assert!(
        slow.clock_offset_ms().abs() < 5_000,
        "{}",
        slow.clock_offset_ms()
    );
    let debug = format!("{slow:?}");
    assert!(debug.contains(V2) && debug.contains(&s.base_url), "{debug}");
    assert!(!debug.contains(&s.secret_text(V2)), "{debug}");
    // The last clone dropped inside async code: its runtime is shut down without the panic
    // ("Cannot drop a runtime in a context where blocking is not allowed") tokio gives.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move { drop((api, slow, v2)) });
}

/// What [`closing_server`] saw on one of its connections.
enum Seen {
    /// It answered a request on connection `conn`. Sending on `close` makes it close the
    /// connection (as servers close idle ones); dropping `close` keeps it open for more.
    Answered {
        conn: usize,
        close: std::sync::mpsc::Sender<()>,
    },
    /// It closed connection `conn` (its writing side: it still reads, to see what the client
    /// does): `Ok` once the client closed its end too (its pool saw the close and dropped
    /// the connection), or what the client did instead.
    Closed {
        conn: usize,
        client: Result<(), String>,
    },
}

/// A server that answers each request on a keep-alive connection, then waits to be told
/// whether to close it: its address, and what it sees (in order, per connection).
fn closing_server() -> (String, std::sync::mpsc::Receiver<Seen>) {
    use std::io::{ErrorKind, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen_tx, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (conn_no, mut conn) in listener.incoming().flatten().enumerate() {
            let seen = seen_tx.clone();
            std::thread::spawn(move || loop {
                if !skip_head(&mut conn) {
                    return;
                }
                if conn
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .is_err()
                {
                    return;
                }
                let (close, closing) = std::sync::mpsc::channel();
                let answered = Seen::Answered {
                    conn: conn_no,
                    close,
                };
                if seen.send(answered).is_err() {
                    return;
                }
                if closing.recv().is_err() {
                    continue; // kept open: read the next request on it
                }
                let _ = conn.shutdown(std::net::Shutdown::Write);
                // Generous: the client's runtime only has to be scheduled once to see it.
                let limit = Duration::from_secs(10);
                conn.set_read_timeout(Some(limit)).unwrap();
                let client = match conn.read(&mut [0u8; 1]) {
                    Ok(0) => Ok(()),
                    Err(e) if e.kind() == ErrorKind::ConnectionReset => Ok(()),
                    Ok(_) => Err("it sent another request on it".to_string()),
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        Err(format!("it kept its end open for {limit:?}"))
                    }
                    Err(e) => Err(format!("reading from it failed: {e}")),
                };
                let _ = seen.send(Seen::Closed {
                    conn: conn_no,
                    client,
                });
                return;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

/// Reads past one request head (to its blank line) on `conn`: false if the connection ended
/// first.
fn skip_head(conn: &mut std::net::TcpStream) -> bool {
    use std::io::Read;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte).unwrap_or(0) == 0 {
            return false;
        }
        head.push(byte[0]);
    }
    true
}

/// A server that answers every request 200 with `body`, then closes the connection: its
/// address.
fn answering_server(body: &'static [u8]) -> String {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                if !skip_head(&mut conn) {
                    return;
                }
                let answer = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
                let _ = conn
                    .write_all(answer.as_bytes())
                    .and_then(|()| conn.write_all(body));
            });
        }
    });
    format!("http://{addr}")
}

/// `data` is the body's JSON only when the body is JSON: a body that is not UTF-8 is not
/// (read from its lossy text, it parsed with U+FFFD in place of the byte).
#[test]
fn data_is_none_for_a_body_that_is_not_utf8() {
    let secret = xnonce::Secret::new("00".repeat(32)).unwrap();
    for (body, data) in [
        (&b"{\"a\":\"\xff\"}"[..], None),
        (
            &b"{\"a\":\"\xc3\xa9\"}"[..],
            Some(serde_json::json!({"a": "é"})),
        ),
        (&b" \n"[..], None),
    ] {
        let base = answering_server(body);
        let api = xnonce::blocking::Requester::builder(&base, "c", secret.clone())
            .build()
            .unwrap();
        let res = api
            .make_request("GET", vec![], "/x", None, RequestOptions::default())
            .unwrap();
        assert_eq!((res.code, &res.bytes[..]), (200, body));
        assert_eq!(res.data, data, "{body:?}");
    }
}

/// The blocking requester after the server closed an idle connection: the pool must have
/// seen the close (its runtime keeps running between calls), not send on the dead socket.
/// Then its async requester, awaited in another runtime while a blocking call's connection
/// is still open: it answers too (over a connection of its own).
///
/// Synchronised on events, not sleeps: the server closes a connection only once the call
/// that used it has returned (so it is idle in the pool), and the next call goes out only
/// once the server saw the client close its end (so the pool saw the close). A runtime that
/// stopped between calls never closes it: the server reports that after 10 s.
#[test]
fn the_blocking_requester_sees_idle_connections_closed_between_calls() {
    let (base, seen) = closing_server();
    let next = || {
        seen.recv_timeout(Duration::from_secs(30))
            .expect("the stub server reported nothing within 30 s")
    };
    let secret = xnonce::Secret::new("00".repeat(32)).unwrap();
    let api = xnonce::blocking::Requester::builder(&base, "c", secret)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let get = || api.make_request("GET", vec![], "/x", None, RequestOptions::default());
    for call in 0..4 {
        let res = get().unwrap_or_else(|e| panic!("call {call}: {e}"));
        assert_eq!(res.code, 200);
        let Seen::Answered { conn, close } = next() else {
            panic!("call {call}: the server saw no request")
        };
        close.send(()).unwrap();
        let Seen::Closed {
            conn: closed,
            client,
        } = next()
        else {
            panic!("call {call}: the server did not close connection {conn}")
        };
        assert_eq!(closed, conn);
        client.unwrap_or_else(|e| {
            panic!("call {call}: the server closed the idle connection {conn}, and the client: {e}")
        });
    }
    // Then a connection left open by a blocking call, and the async requester awaited in
    // another runtime.
    let res = get().unwrap_or_else(|e| panic!("last blocking call: {e}"));
    assert_eq!(res.code, 200);
    let Seen::Answered { close, .. } = next() else {
        panic!("last blocking call: the server saw no request")
    };
    drop(close);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let res = rt.block_on(api.as_async().make_request(
        "GET",
        vec![],
        "/y",
        None,
        RequestOptions::default(),
    ));
    assert_eq!(res.unwrap_or_else(|e| panic!("async call: {e}")).code, 200);
}

/// A blocking requester's async twin awaited on a one-thread runtime, then a blocking call
/// from that same thread: the connection the async call left in a pool is driven by that
/// runtime, which the blocking call blocks, so the two must not share a pool (they did: the
/// blocking call reused it and waited out its whole timeout).
#[test]
fn a_blocking_call_after_awaiting_its_async_twin_on_the_same_thread() {
    let s = server();
    let api = xnonce::blocking::Requester::builder(&s.base_url, V2, s.secret(V2))
        .timeout(Duration::from_secs(20))
        // An hour slow: the first (async) call is found stale and corrects the clock.
        .clock_offset_ms(-3_600_000)
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let twin = api.as_async();
        let res = twin
            .make_request("GET", vec![], "/admin/status", None, Default::default())
            .await
            .unwrap();
        assert_eq!(res.code, 200, "{}", res.body);
        let res = api
            .make_request("GET", vec![], "/admin/status", None, Default::default())
            .unwrap_or_else(|e| panic!("the blocking call after the async one: {e}"));
        assert_eq!(res.code, 200, "{}", res.body);
    });
    // The twin shares what it learns of the clock: the blocking requester knows the offset
    // its twin learned.
    assert!(api.clock_offset_learned());
    assert!(
        api.clock_offset_ms().abs() < 60_000,
        "{}",
        api.clock_offset_ms()
    );
    assert_eq!(api.as_async().clock_offset_ms(), api.clock_offset_ms());
}

#[test]
fn health_is_unverified() {
    let s = server();
    let api = xnonce::blocking::Requester::builder(&s.base_url, V2, s.secret(V2))
        .build()
        .unwrap();
    // Signed or not, the health route answers 200; here it goes signed through the requester.
    let res = api
        .make_request("GET", vec![], "/_xnonce/health", None, Default::default())
        .unwrap();
    assert_eq!(res.code, 200, "{}", res.body);
}

/// On the wire the header is named `X-Nonce` exactly, as em-secure-api's requester sends it:
/// the original server looks it up by that exact name (EventMachine's HTTP server keeps
/// header names as sent), so `x-nonce` would get `401 Method or nonce not provided` there.
#[tokio::test]
async fn the_header_goes_out_as_x_nonce_in_both_schemes() {
    use tokio::io::AsyncWriteExt;
    for scheme in [Scheme::V1, Scheme::V2] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let raw = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            read_head(&mut conn, &mut head).await;
            conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
                .await
                .unwrap();
            String::from_utf8(head).unwrap()
        });
        let secret = xnonce::Secret::generate().unwrap();
        let api = Requester::builder(&base, "svc", secret)
            .scheme(scheme)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let res = api
            .make_request(
                "GET",
                login(),
                "/controller1/action1",
                None,
                Default::default(),
            )
            .await
            .unwrap();
        assert_eq!(res.code, 200);
        let head = raw.await.unwrap();
        assert!(head.contains("\r\nX-Nonce: "), "{scheme}: {head}");
        assert!(!head.contains("\r\nx-nonce: "), "{scheme}: {head}");
    }
}

/// Printable ASCII, one character at a time.
fn printable_ascii() -> impl Iterator<Item = char> {
    (0x20u8..=0x7e).map(char::from)
}

/// Every printable ASCII character in a key and in a value, v1 and v2, GET (query) and POST
/// (form), against the real server: what is sent verifies. v1 keys outside the unreserved
/// set are refused before sending (`invalid_param_key`): the v1 server reads keys raw.
#[tokio::test]
async fn every_printable_ascii_key_and_value_verifies() {
    let s = server();
    for (client, scheme) in [(V1, Scheme::V1), (V2, Scheme::V2)] {
        let api = requester(&s, client, scheme);
        for (method, path) in [("GET", "/admin/status"), ("POST", "/controller2/action5")] {
            for c in printable_ascii() {
                let (key, value) = (format!("k{c}k"), format!("v{c}v"));
                let res = api
                    .make_request(
                        method,
                        vec![(key.clone(), value.clone()), ("a~b".into(), format!("{c}"))],
                        path,
                        None,
                        Default::default(),
                    )
                    .await;
                let unreserved = c.is_ascii_alphanumeric() || "-._~".contains(c);
                if scheme == Scheme::V1 && !unreserved {
                    let e = res.expect_err("a v1 key that needs escaping is refused");
                    assert_eq!(e.code(), ErrorCode::InvalidParamKey, "{key:?}");
                    continue;
                }
                let res = res.unwrap();
                assert!(
                    res.is_success(),
                    "{scheme} {method} {key:?}={value:?}: {} {}",
                    res.code,
                    res.body
                );
                if method == "POST" {
                    // action5 echoes the form params as em-secure-api's server read them:
                    // values decoded, keys raw (as sent: a v2 key RFC 3986-encoded).
                    let data = res.data.expect("JSON answer");
                    let sent_key = match scheme {
                        Scheme::V1 => key.clone(),
                        _ => xnonce::core::percent::encode_rfc3986(key.as_bytes()),
                    };
                    assert_eq!(data["body_params"][&sent_key], value, "{scheme}: {data}");
                    assert_eq!(
                        data["body_params"]["a~b"],
                        c.to_string(),
                        "{scheme}: {data}"
                    );
                }
            }
        }
        // All of them at once, values only (every key unreserved).
        let all: String = printable_ascii().collect();
        let res = api
            .make_request(
                "GET",
                vec![("a~b".into(), all.clone()), ("x".into(), all)],
                "/admin/status",
                None,
                Default::default(),
            )
            .await
            .unwrap();
        assert!(res.is_success(), "{scheme}: {} {}", res.code, res.body);
    }
}

/// Paths that URL normalisation (dot segments, backslashes, v1 percent-encoding) would
/// change are refused with `invalid_path` before anything is sent, naming what they would
/// become; equivalent spellings that survive the URL parser are still sent and verify.
#[tokio::test]
async fn paths_changed_by_url_normalisation_are_refused() {
    let s = server();
    let refused: &[(Scheme, &str, &str)] = &[
        (Scheme::V1, "/controller1/./action1", "/controller1/action1"),
        (Scheme::V2, "/controller1/./action1", "/controller1/action1"),
        (
            Scheme::V1,
            "/a/../controller1/action1",
            "/controller1/action1",
        ),
        (
            Scheme::V2,
            "/a/../controller1/action1",
            "/controller1/action1",
        ),
        (
            Scheme::V1,
            "/x/%2e%2E/controller1/action1",
            "/controller1/action1",
        ),
        (
            Scheme::V2,
            "/x/%2e%2E/controller1/action1",
            "/controller1/action1",
        ),
        (
            Scheme::V2,
            "/controller1/.%2e/controller1/action1",
            "/controller1/action1",
        ),
        (Scheme::V1, "/controller1\\action1", "/controller1/action1"),
        (
            Scheme::V1,
            "/controller1/actioné",
            "/controller1/action%C3%A9",
        ),
        (Scheme::V1, "/c/\"<>`{}", "/c/%22%3C%3E%60%7B%7D"),
    ];
    for &(scheme, path, becomes) in refused {
        let client = if scheme == Scheme::V1 { V1 } else { V2 };
        let e = requester(&s, client, scheme)
            .make_request("GET", login(), path, None, Default::default())
            .await
            .expect_err(path);
        assert_eq!(e.code(), ErrorCode::InvalidPath, "{scheme} {path}: {e}");
        assert!(e.message().contains(becomes), "{scheme} {path}: {e}");
    }
    // An escape that v2's canonical form removes is fine: sent canonical, it verifies.
    let res = requester(&s, V2, Scheme::V2)
        .make_request(
            "GET",
            login(),
            "/controller1/action%31",
            None,
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(res.code, 200, "{}", res.body);
    // v2 sends its canonical path: a backslash travels as %5C and a non-ASCII character
    // escaped, so neither is changed by the URL parser (the signature holds; no such route).
    for path in ["/controller1\\action1", "/controller1/actioné"] {
        let res = requester(&s, V2, Scheme::V2)
            .make_request("GET", login(), path, None, Default::default())
            .await
            .unwrap();
        assert_eq!(res.code, 404, "{path}: {}", res.body);
    }
}

#[tokio::test]
async fn a_forced_nonce_is_not_retried() {
    let s = server();
    let api = slow_clock(&s, V2, Scheme::V2, true);
    let forced = RequestOptions {
        nonce: Some("00112233445566778899aabbccddeeff".into()),
        ..Default::default()
    };
    let res = get_login(&api, forced.clone()).await;
    assert_eq!(res.code, 401, "{}", res.body);
    assert_eq!(problem_code(&res).as_deref(), Some("expired"));
    // The hint was authentic: the offset is learned, so the same forced nonce now goes
    // through once, on the corrected clock.
    assert!(
        api.clock_offset_ms().abs() < 5_000,
        "{}",
        api.clock_offset_ms()
    );
    assert_eq!(get_login(&api, forced.clone()).await.code, 200);
    assert_eq!(get_login(&api, forced).await.code, 409);
}

/// Reads from `conn` into `data` until a request head has arrived; the head's length, blank
/// line included (anything read after it stays in `data`).
async fn read_head(conn: &mut tokio::net::TcpStream, data: &mut Vec<u8>) -> usize {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 4096];
    loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            return i + 4;
        }
        let n = conn.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed before the end of the head");
        data.extend_from_slice(&buf[..n]);
    }
}

/// Reads a request's head from `conn`: its `X-Nonce` header's fields (v2: `v2`, client,
/// timestamp, nonce, signature).
async fn x_nonce_fields(conn: &mut tokio::net::TcpStream) -> Vec<String> {
    let mut data = Vec::new();
    read_head(conn, &mut data).await;
    let head = String::from_utf8(data).unwrap();
    let x_nonce = (head.lines())
        .find_map(|l| l.strip_prefix("X-Nonce: "))
        .expect("an X-Nonce header");
    x_nonce.split(' ').map(str::to_string).collect()
}

/// A stale answer (`401`, closing its connection) to client `svc`'s request `nonce`, with a
/// time hint at `server_time_ms` that authenticates under `secret`.
fn stale_answer(secret: &xnonce::Secret, nonce: &str, server_time_ms: u64) -> String {
    use xnonce::core::time_hint::{ServerTimeHint, HEADER};
    let hint = ServerTimeHint::issue(secret, "svc", nonce, server_time_ms);
    format!(
        "HTTP/1.1 401 Unauthorized\r\n{HEADER}: {} {}\r\ncontent-length: 0\r\n\
         connection: close\r\n\r\n",
        hint.server_time_ms, hint.mac
    )
}

/// Accepts one HTTP/1.1 request on `listener`, answers 200 `{}`, returns (head, body).
async fn capture_one(listener: tokio::net::TcpListener) -> (String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut conn, _) = listener.accept().await.unwrap();
    let mut data = Vec::new();
    let head_end = read_head(&mut conn, &mut data).await;
    let mut buf = [0u8; 4096];
    let head = String::from_utf8(data[..head_end].to_vec()).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    while data.len() < head_end + len {
        let n = conn.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed before the end of the body");
        data.extend_from_slice(&buf[..n]);
    }
    conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
        .await
        .unwrap();
    (head, data[head_end..head_end + len].to_vec())
}

/// A raw JSON body goes out byte for byte (key order, spacing and big numbers kept), its
/// digest is what is signed, and the server verifies it.
#[tokio::test]
async fn a_raw_json_body_is_sent_byte_for_byte() {
    let body = b"{ \"z\": 12345678901234567890123,\n  \"a\": [1.50, \"\\u00e9\"] }\n".to_vec();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let capture = tokio::spawn(capture_one(listener));
    let secret = xnonce::Secret::generate().unwrap();
    let opts = RequestOptions {
        json_raw: Some(body.clone()),
        timestamp_ms: Some(1_700_000_000_000),
        nonce: Some("00112233445566778899aabbccddeeff".into()),
        ..Default::default()
    };
    Requester::builder(&base, "svc", secret.clone())
        .build()
        .unwrap()
        .make_request("POST", vec![], "/controller2/action5", None, opts)
        .await
        .unwrap();
    let (head, sent) = capture.await.unwrap();
    assert_eq!(sent, body, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("\r\ncontent-type: application/json\r\n"),
        "{head}"
    );
    let want = xnonce::core::sign(
        &xnonce::core::SignInput::new(Scheme::V2, "POST", "/controller2/action5", "svc")
            .host(base.trim_start_matches("http://"))
            .timestamp_ms(1_700_000_000_000)
            .nonce("00112233445566778899aabbccddeeff")
            .body(body.clone()),
        &secret,
    )
    .unwrap();
    assert!(
        head.contains(&format!("\r\nX-Nonce: {}\r\n", want.x_nonce)),
        "{head}"
    );

    // Against the real server: verified (action5 answers 200).
    let s = server();
    let api = requester(&s, V2, Scheme::V2);
    let raw = RequestOptions {
        json_raw: Some(body.clone()),
        ..Default::default()
    };
    let res = api
        .make_request("POST", vec![], "/controller2/action5", None, raw)
        .await
        .unwrap();
    assert_eq!(res.code, 200, "{}", res.body);
    // Not JSON, both kinds of body, or v1: refused before sending.
    for (scheme, client, opts) in [
        (
            Scheme::V2,
            V2,
            RequestOptions {
                json_raw: Some(b"{\"a\":".to_vec()),
                ..Default::default()
            },
        ),
        (
            Scheme::V2,
            V2,
            RequestOptions {
                json_raw: Some(body.clone()),
                json: Some(serde_json::json!({})),
                ..Default::default()
            },
        ),
        (
            Scheme::V1,
            V1,
            RequestOptions {
                json_raw: Some(body.clone()),
                ..Default::default()
            },
        ),
    ] {
        let e = requester(&s, client, scheme)
            .make_request("POST", vec![], "/controller2/action5", None, opts)
            .await
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidBody, "{e}");
    }
}

/// A caller's `Transfer-Encoding` would reframe the signed body: the HTTP stack drops the
/// requester's `Content-Length` for it and sends `Transfer-Encoding: gzip, chunked` over
/// bytes that are not gzip (or drops the header from a body-less GET). Refused before
/// anything is sent; the same request without it goes out with its `Content-Length`.
#[tokio::test]
async fn a_callers_transfer_encoding_is_refused_before_sending() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let capture = tokio::spawn(capture_one(listener));
    let api = Requester::builder(&base, "svc", xnonce::Secret::generate().unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let send = |method: &'static str, headers: Vec<(String, String)>| {
        let api = api.clone();
        async move {
            let opts = RequestOptions {
                headers,
                ..Default::default()
            };
            api.make_request(method, login(), "/controller2/action5", None, opts)
                .await
        }
    };
    for (method, coding) in [("POST", "gzip"), ("POST", "chunked"), ("GET", "chunked")] {
        let e = send(method, pairs(&[("Transfer-Encoding", coding)]))
            .await
            .expect_err("refused");
        assert_eq!(
            e.code(),
            ErrorCode::MalformedHeader,
            "{method} {coding}: {e}"
        );
    }
    assert_eq!(send("POST", vec![]).await.unwrap().code, 200);
    let (head, body) = capture.await.unwrap();
    let head = head.to_ascii_lowercase();
    assert!(!head.contains("transfer-encoding"), "{head}");
    assert!(
        head.contains(&format!("\r\ncontent-length: {}\r\n", body.len())),
        "{head}"
    );
}

/// A server whose clock is an hour ahead of this machine's: the requester learns the offset
/// (server − local) from the stale answer's authentic hint and resends at the server's time.
#[tokio::test]
async fn the_offset_learned_is_the_servers_clock_minus_the_local_one() {
    use tokio::io::AsyncWriteExt;
    const AHEAD_MS: u64 = 3_600_000;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let secret = xnonce::Secret::generate().unwrap();
    let server_secret = secret.clone();
    // Answers the first request 401 with a hint at its own (later) time, the second 200;
    // returns the two requests' signed timestamps.
    let server = tokio::spawn(async move {
        let mut timestamps = Vec::new();
        for _ in 0..2 {
            let (mut conn, _) = listener.accept().await.unwrap();
            let fields = x_nonce_fields(&mut conn).await;
            timestamps.push(fields[2].parse::<i64>().unwrap());
            let answer = if timestamps.len() == 1 {
                stale_answer(&server_secret, &fields[3], now_ms() + AHEAD_MS)
            } else {
                "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}".to_string()
            };
            conn.write_all(answer.as_bytes()).await.unwrap();
        }
        timestamps
    });
    let api = Requester::builder(&base, "svc", secret).build().unwrap();
    let res = api
        .make_request("GET", vec![], "/a/b", None, Default::default())
        .await
        .unwrap();
    assert_eq!(res.code, 200, "{}", res.body);
    let offset = api.clock_offset_ms();
    assert!(
        (offset - AHEAD_MS as i64).abs() < 5_000,
        "learned {offset} ms"
    );
    let sent = tokio::time::timeout(Duration::from_secs(20), server)
        .await
        .expect("both requests arrived")
        .unwrap();
    let resent_ahead_by = sent[1] - sent[0];
    assert!(
        (resent_ahead_by - AHEAD_MS as i64).abs() < 5_000,
        "timestamps sent: {sent:?}"
    );
}

/// A server that answers every request by its path: `/declared` a `Content-Length` over
/// 4 KiB, `/chunked` 4 KiB + 1 in chunks, `/exact` exactly 4 KiB in chunks, `/endless`
/// chunks until the client goes away, `/close` 8 KiB delimited by the connection's close,
/// `/lying` a `Content-Length` of 2^62 before 3 bytes and the close.
async fn oversized_answers() -> String {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut data = Vec::new();
                let head_end = read_head(&mut conn, &mut data).await;
                let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
                let path = head.split(' ').nth(1).unwrap_or("").to_string();
                let chunk = |n: usize| format!("{n:x}\r\n{}\r\n", "a".repeat(n)).into_bytes();
                let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
                let answer: Vec<u8> = match path.as_str() {
                    "/declared" => b"HTTP/1.1 200 OK\r\ncontent-length: 4097\r\n\r\n".to_vec(),
                    "/lying" => {
                        b"HTTP/1.1 200 OK\r\ncontent-length: 4611686018427387904\r\n\r\nabc"
                            .to_vec()
                    }
                    "/chunked" => [chunked, chunk(4000), chunk(97), b"0\r\n\r\n".to_vec()].concat(),
                    "/exact" => [chunked, chunk(4000), chunk(96), b"0\r\n\r\n".to_vec()].concat(),
                    "/close" => [
                        b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n".to_vec(),
                        vec![b'a'; 8192],
                    ]
                    .concat(),
                    _ => {
                        // Endless: 1 KiB chunks until the write fails (the client hung up).
                        if conn.write_all(&chunked).await.is_err() {
                            return;
                        }
                        while conn.write_all(&chunk(1024)).await.is_ok() {}
                        return;
                    }
                };
                let _ = conn.write_all(&answer).await;
            });
        }
    });
    base
}

/// A body over `max_response_bytes` fails the call (`connection_failed`, saying so), whether
/// its length is declared, chunked or delimited by the close; an endless one is cut at the
/// limit, not read until the timeout; a body of exactly the limit is read whole.
#[tokio::test]
async fn answers_over_the_size_limit_are_refused() {
    let base = oversized_answers().await;
    let secret = xnonce::Secret::new("00".repeat(32)).unwrap();
    let api = Requester::builder(&base, "c", secret)
        .timeout(Duration::from_secs(20))
        .max_response_bytes(4096)
        .build()
        .unwrap();
    for path in ["/declared", "/chunked", "/close", "/endless"] {
        let started = std::time::Instant::now();
        let err = api
            .make_request("GET", vec![], path, None, RequestOptions::default())
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::ConnectionFailed, "{path}: {err}");
        assert!(
            err.message().contains("larger than the 4096-byte limit"),
            "{path}: {err}"
        );
        assert!(err.message().contains(&format!("{base}{path}")), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10), "{path}");
    }
    let res = api
        .make_request("GET", vec![], "/exact", None, RequestOptions::default())
        .await
        .unwrap();
    assert_eq!((res.code, res.bytes.len()), (200, 4096));
    // The default limit reads the 8 KiB that 4 KiB refused.
    let secret = xnonce::Secret::new("00".repeat(32)).unwrap();
    let api = Requester::builder(&base, "c", secret).build().unwrap();
    let res = api
        .make_request("GET", vec![], "/close", None, RequestOptions::default())
        .await
        .unwrap();
    assert_eq!(res.bytes, vec![b'a'; 8192]);
    assert_eq!(xnonce::DEFAULT_MAX_RESPONSE_BYTES, 64 << 20);
    // Under a limit above what it declares, a lying length is a failed read, not an
    // allocation of 2^62 bytes (which would abort the process).
    let secret = xnonce::Secret::new("00".repeat(32)).unwrap();
    let api = Requester::builder(&base, "c", secret)
        .max_response_bytes(u64::MAX)
        .build()
        .unwrap();
    let err = api
        .make_request("GET", vec![], "/lying", None, RequestOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ConnectionFailed, "{err}");
}

/// A server on 127.0.0.1 that reads one request's head, writes `answer` and closes the
/// connection: its base URL, and the task to await once the request is made.
async fn answer_once(answer: &'static [u8]) -> (String, tokio::task::JoinHandle<()>) {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        read_head(&mut conn, &mut Vec::new()).await;
        conn.write_all(answer).await.unwrap();
    });
    (base, server)
}

/// A server that closes the connection in the middle of its answer's body fails the call
/// with a message that names the server and path, as every transport failure's does (the
/// body is read after the head, and reqwest's body errors carry no URL), never the query.
#[tokio::test]
async fn a_close_mid_body_names_the_server_and_path_but_not_the_query() {
    // 7 of the 100 bytes declared, then the close.
    let (base, server) =
        answer_once(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial").await;
    let secret = xnonce::Secret::new("00".repeat(32)).unwrap();
    let api = Requester::builder(&base, "c", secret).build().unwrap();
    let params = pairs(&[("password", "hunter2-in-the-query")]);
    let err = api
        .make_request("GET", params, "/x/y", None, RequestOptions::default())
        .await
        .unwrap_err();
    server.await.unwrap();
    assert_eq!(err.code(), ErrorCode::ConnectionFailed, "{err}");
    assert!(err.message().contains(&format!("({base}/x/y)")), "{err}");
    assert!(!err.message().contains("hunter2"), "{err}");
}

/// `Response::headers` is as documented: the order received, but a repeated name's lines
/// together at the place of its first (the HTTP stack keeps headers by name).
#[tokio::test]
async fn response_headers_group_a_repeated_name_at_its_first_line() {
    let (base, server) =
        answer_once(b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nA: 3\r\ncontent-length: 0\r\n\r\n").await;
    let secret = xnonce::Secret::new("00".repeat(32)).unwrap();
    let api = Requester::builder(&base, "c", secret).build().unwrap();
    let res = api
        .make_request("GET", vec![], "/x", None, RequestOptions::default())
        .await
        .unwrap();
    server.await.unwrap();
    assert_eq!(
        res.headers,
        pairs(&[("a", "1"), ("a", "3"), ("b", "2"), ("content-length", "0")])
    );
}

/// The retry's own stale answer teaches the offset too: its hint is authentic (bound to the
/// retry's request id) and newer than the first one, so the next request starts from it
/// rather than going stale (and being retried) again. Still one retry, no more.
#[tokio::test]
async fn the_retrys_stale_answer_is_learned_from_too() {
    use tokio::io::AsyncWriteExt;
    const FIRST_AHEAD_MS: u64 = 3_600_000;
    const THEN_AHEAD_MS: u64 = 7_200_000;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let secret = xnonce::Secret::generate().unwrap();
    let server_secret = secret.clone();
    // Answers both requests 401, each with a hint for its own nonce: the first an hour ahead,
    // the retry's two hours ahead (a server whose clock jumped in between).
    let server = tokio::spawn(async move {
        for ahead in [FIRST_AHEAD_MS, THEN_AHEAD_MS] {
            let (mut conn, _) = listener.accept().await.unwrap();
            let fields = x_nonce_fields(&mut conn).await;
            let answer = stale_answer(&server_secret, &fields[3], now_ms() + ahead);
            conn.write_all(answer.as_bytes()).await.unwrap();
        }
        listener
    });
    let api = Requester::builder(&base, "svc", secret).build().unwrap();
    let res = api
        .make_request("GET", vec![], "/a/b", None, Default::default())
        .await
        .unwrap();
    assert_eq!(res.code, 401, "the retry's answer is returned");
    let listener = tokio::time::timeout(Duration::from_secs(20), server)
        .await
        .expect("both requests arrived")
        .unwrap();
    let offset = api.clock_offset_ms();
    assert!(
        (offset - THEN_AHEAD_MS as i64).abs() < 5_000,
        "learned {offset} ms"
    );
    // One retry only: no third request was sent.
    let third = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
    assert!(third.is_err(), "a third request arrived");
}
