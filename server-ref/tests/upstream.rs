//! `[upstream]`: the real `xnonce-server` binary as a verifying gateway in front of an API (an
//! axum app on 127.0.0.1 that records what reaches it), over loopback. Verified requests reach
//! the API unchanged but for the hop-by-hop fields and the verified client's headers (which a
//! client cannot set itself); refused ones never do; an API that is down is a 502, a slow one
//! a 504.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use futures_util::StreamExt;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use xnonce_conformance::server_suite::http;
use xnonce_core::{sign, Scheme, Secret, SignInput};

mod common;

use common::{command, spawn_serve, Dirs, Exited, InProcess, Served};

/// What the API saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    headers: HeaderMap,
    body: Bytes,
}

/// The API: records each request and answers 201 with `api:<target>` and an `x-api` field
/// (and a hop-by-hop `Keep-Alive` that must not reach the client); `/slow` takes 3 s;
/// `…/moved?to=<location>` answers 303 to `<location>`; `…/stall` answers 200 with a body
/// that stops after `part`; a WebSocket handshake is answered 101
/// and its connection echoes what it receives (on `…/bye`: says `bye` and closes; on
/// `…/listen`: echoes to the end, then records what it read as a request `WS …/listen`).
fn api(seen: Arc<Mutex<Vec<Seen>>>) -> InProcess {
    let handler = move |req: Request| {
        let seen = seen.clone();
        async move {
            let (mut parts, body) = req.into_parts();
            let upgrade = parts.extensions.remove::<OnUpgrade>();
            let body = axum::body::to_bytes(body, 1 << 20)
                .await
                .unwrap_or_default();
            let target = parts.uri.to_string();
            let websocket = parts
                .headers
                .get("upgrade")
                .is_some_and(|u| u == "websocket");
            if target.ends_with("/slow") {
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            seen.lock().unwrap().push(Seen {
                method: parts.method.to_string(),
                target: target.clone(),
                headers: parts.headers,
                body,
            });
            if let (true, Some(upgrade)) = (websocket, upgrade) {
                if target.ends_with("/bye") {
                    tokio::spawn(bye(upgrade));
                } else if target.ends_with("/listen") {
                    tokio::spawn(listen(upgrade, target.clone(), seen));
                } else {
                    tokio::spawn(echo(upgrade));
                }
                let switch = [("connection", "upgrade"), ("upgrade", "websocket")];
                return (StatusCode::SWITCHING_PROTOCOLS, switch).into_response();
            }
            if target.ends_with("/stall") {
                let part = futures_util::stream::once(async {
                    Ok::<_, std::convert::Infallible>(Bytes::from("part"))
                });
                let stalled = part.chain(futures_util::stream::pending());
                return axum::body::Body::from_stream(stalled).into_response();
            }
            if let Some((_, to)) = target.split_once("/moved?to=") {
                return (StatusCode::SEE_OTHER, [("location", to.to_string())]).into_response();
            }
            (
                StatusCode::CREATED,
                [("x-api", "yes"), ("keep-alive", "timeout=5")],
                format!("api:{target}"),
            )
                .into_response()
        }
    };
    InProcess::serve(
        axum::Router::new().fallback(handler),
        xnonce_server::ConnectionLimits::default(),
    )
}

/// Sends back every byte of a switched connection until the other side closes.
async fn echo(upgrade: OnUpgrade) {
    if let Ok(upgraded) = upgrade.await {
        let (mut reader, mut writer) = tokio::io::split(TokioIo::new(upgraded));
        let _ = tokio::io::copy(&mut reader, &mut writer).await;
    }
}

/// Echoes a switched connection to its end (answering a Close frame as a WebSocket server
/// does), then records what it read.
async fn listen(upgrade: OnUpgrade, target: String, seen: Arc<Mutex<Vec<Seen>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if let Ok(upgraded) = upgrade.await {
        let mut io = TokioIo::new(upgraded);
        let (mut read, mut buf) = (Vec::new(), [0u8; 1024]);
        while let Ok(n @ 1..) = io.read(&mut buf).await {
            read.extend_from_slice(&buf[..n]);
            let _ = io.write_all(&echo_of(&buf[..n])).await;
        }
        seen.lock().unwrap().push(Seen {
            method: "WS".into(),
            target,
            headers: HeaderMap::new(),
            body: read.into(),
        });
    }
}

/// What a WebSocket server sends back for `bytes` (whole frames): the same bytes, but for a
/// client's Close frame (masked) its own, unmasked, with the same status (RFC 6455 §5.5.1) —
/// never a masked frame, which the gateway would pass on to the client as it is.
fn echo_of(bytes: &[u8]) -> Vec<u8> {
    match bytes {
        [0x88, len, m0, m1, m2, m3, payload @ ..]
            if len & 0x80 != 0 && payload.len() == usize::from(len & 0x7f) =>
        {
            let key = [*m0, *m1, *m2, *m3];
            let mut frame = vec![0x88, len & 0x7f];
            frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
            frame
        }
        _ => bytes.to_vec(),
    }
}

/// Says `bye` on a switched connection and closes it.
async fn bye(upgrade: OnUpgrade) {
    if let Ok(upgraded) = upgrade.await {
        let mut io = TokioIo::new(upgraded);
        let _ = tokio::io::AsyncWriteExt::write_all(&mut io, b"bye").await;
    }
}

/// `client ARGS --data D --key-file K`, which must succeed; its stdout.
fn client(d: &Dirs, args: &[&str]) -> String {
    let out = command(&[&["client"], args].concat())
        .arg("--data")
        .arg(&d.data)
        .arg("--key-file")
        .arg(&d.key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn add_client(d: &Dirs, name: &str) -> Secret {
    Secret::new(client(d, &["add", name]).trim()).unwrap()
}

/// `serve --config` with a config file holding `toml`.
fn serve_with(d: &Dirs, toml: &str) -> Result<Served, Exited> {
    let config = d.fresh("gateway", "toml");
    std::fs::write(&config, toml).unwrap();
    let mut cmd = command(&["serve", "--listen", "127.0.0.1:0", "--config"]);
    cmd.arg(&config)
        .arg("--data")
        .arg(&d.data)
        .arg("--key-file")
        .arg(&d.key);
    spawn_serve(cmd, &d.fresh("gateway", "log"))
}

/// The gateway: `[upstream] url = <url>` with this timeout.
fn gateway(d: &Dirs, url: &str, timeout_ms: u64) -> Served {
    let toml = format!("[upstream]\nurl = \"{url}\"\ntimeout_ms = {timeout_ms}\n");
    serve_with(d, &toml).unwrap_or_else(|e| panic!("{e:?}"))
}

/// Fresh dirs named `name` with the client `shop` (its secret), the recording API (what it
/// saw) and the gateway in front of it under the URL prefix `/v1`.
fn gateway_before_api(name: &str) -> (Dirs, Secret, Arc<Mutex<Vec<Seen>>>, InProcess, Served) {
    let d = Dirs::new(name);
    let secret = add_client(&d, "shop");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let api = api(seen.clone());
    // A timeout no forwarded request nears on a loaded machine; the 504 has its own gateway.
    let gw = gateway(&d, &format!("{}/v1", api.url), 10_000);
    (d, secret, seen, api, gw)
}

/// Fresh dirs named `name` with the client `shop` (its secret), the API (unrecorded) and the
/// gateway in front of it, its config `[upstream] url = <the API>` followed by `more`.
fn gateway_with(name: &str, more: &str) -> (Dirs, Secret, InProcess, Served) {
    let d = Dirs::new(name);
    let secret = add_client(&d, "shop");
    let api = api(Arc::new(Mutex::new(Vec::new())));
    let toml = format!("[upstream]\nurl = \"{}\"\n{more}", api.url);
    let gw = serve_with(&d, &toml).unwrap_or_else(|e| panic!("{e:?}"));
    (d, secret, api, gw)
}

/// A signed request of `scheme` for the gateway at `authority`.
fn signed(
    scheme: Scheme,
    method: &str,
    path: &str,
    params: &[(&str, &str)],
    body: Option<&[u8]>,
    secret: &Secret,
    authority: &str,
) -> http::Request {
    let mut input = SignInput::new(scheme, method, path, "shop").params(params.iter().copied());
    if scheme == Scheme::V2 {
        input = input.host(authority);
    }
    if let Some(body) = body {
        input = input.body(body.to_vec());
    }
    let x_nonce = sign(&input, secret).unwrap().x_nonce;
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let target = match query.is_empty() {
        true => path.to_string(),
        false => format!("{path}?{}", query.join("&")),
    };
    let req = http::Request::new(method, &target).header("X-Nonce", x_nonce);
    match body {
        Some(body) => req.header("Content-Type", "application/json").body(body),
        None => req,
    }
}

#[test]
fn verified_requests_reach_the_api_with_the_client_and_refused_ones_never_do() {
    let (_dirs, secret, seen, api, gw) = gateway_before_api("upstream");
    let a = gw.base.authority.clone();

    // A v2 GET with a query, a client that claims to be someone else, and a private field
    // its Connection line names: forwarded with the verified client instead, the field dropped.
    let get = signed(
        Scheme::V2,
        "GET",
        "/orders/list",
        &[("day", "mon")],
        None,
        &secret,
        &a,
    )
    .header("X-XNonce-Client", "admin")
    .header("Connection", "x-private")
    .header("X-Private", "1");
    let r = http::send(&gw.base, &get).unwrap();
    assert_eq!(
        (r.status, r.text()),
        (201, "api:/v1/orders/list?day=mon".into())
    );
    assert_eq!(
        r.header("x-api"),
        Some("yes"),
        "the API's own fields come back"
    );
    assert_eq!(r.header("keep-alive"), None, "hop-by-hop fields do not");
    let first = seen.lock().unwrap()[0].clone();
    assert_eq!(
        (first.method.as_str(), first.target.as_str()),
        ("GET", "/v1/orders/list?day=mon")
    );
    assert_eq!(first.headers["x-xnonce-client"], "shop");
    assert_eq!(first.headers["x-xnonce-scheme"], "v2");
    assert_eq!(first.headers.get_all("x-xnonce-client").iter().count(), 1);
    assert_eq!(first.headers.get("x-private"), None);
    assert_eq!(
        first.headers["host"],
        a.as_str(),
        "the Host the client signed"
    );
    assert!(first.headers.contains_key("x-nonce"));
    assert_eq!(
        first.headers["x-forwarded-for"], "127.0.0.1",
        "the client's address"
    );

    // Replayed, unsigned, tampered: refused by the gateway, never forwarded.
    assert_eq!(http::send(&gw.base, &get).unwrap().status, 409);
    let unsigned = http::Request::new("GET", "/orders/list?day=mon");
    assert_eq!(http::send(&gw.base, &unsigned).unwrap().status, 401);
    assert_eq!(seen.lock().unwrap().len(), 1);

    // A v2 JSON body arrives byte for byte; a v1 request too, with its scheme.
    let body = br#"{"item": "x", "n": 1.50}"#;
    let post = signed(
        Scheme::V2,
        "POST",
        "/orders/new",
        &[],
        Some(body),
        &secret,
        &a,
    );
    assert_eq!(http::send(&gw.base, &post).unwrap().status, 201);
    let v1 = signed(
        Scheme::V1,
        "GET",
        "/orders/list",
        &[("day", "tue")],
        None,
        &secret,
        &a,
    );
    assert_eq!(http::send(&gw.base, &v1).unwrap().status, 201);
    let seen_now = seen.lock().unwrap().clone();
    assert_eq!(
        (seen_now[1].method.as_str(), &seen_now[1].body[..]),
        ("POST", &body[..])
    );
    assert_eq!(seen_now[2].headers["x-xnonce-scheme"], "v1");

    // A client's own X-XNonce-* fields, even spelled with `_` (which CGI-style servers
    // merge into HTTP_X_XNONCE_CLIENT), never reach the API.
    let spoof = signed(
        Scheme::V2,
        "GET",
        "/orders/list",
        &[("day", "thu")],
        None,
        &secret,
        &a,
    )
    .header("X_XNonce_Client", "admin")
    .header("X-XNonce-Verified", "yes");
    assert_eq!(http::send(&gw.base, &spoof).unwrap().status, 201);
    let last = seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.headers["x-xnonce-client"], "shop");
    assert!(!last.headers.contains_key("x_xnonce_client"));
    assert!(!last.headers.contains_key("x-xnonce-verified"));

    // An absolute-form target: verified for its authority, which the API gets as Host (not
    // the Host line the client added).
    let mut absolute = signed(
        Scheme::V2,
        "GET",
        "/orders/list",
        &[("day", "fri")],
        None,
        &secret,
        &a,
    )
    .header("Host", "admin.internal")
    .header("Connection", "close");
    absolute.absolute = true;
    absolute.raw_headers = true;
    assert_eq!(http::send(&gw.base, &absolute).unwrap().status, 201);
    let last = seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.headers["host"], a.as_str());

    // A Host the v2 signature covers in canonical form (`h:port:80` is `h:port`, PROTOCOL
    // §6.2) reaches the API as that form, not as sent (found by a security review).
    for sent in [format!("{a}:80"), format!("{a}:443")] {
        let mut odd = signed(Scheme::V2, "GET", "/orders/list", &[], None, &secret, &a)
            .header("Host", sent.as_str())
            .header("Connection", "close");
        odd.raw_headers = true;
        let r = http::send(&gw.base, &odd).unwrap();
        assert_eq!(r.status, 201, "{sent}: {}", r.text());
        let last = seen.lock().unwrap().last().cloned().unwrap();
        assert_eq!(last.headers["host"], a.as_str(), "{sent}");
    }

    // A signed path with a `..` segment would leave the URL's /v1 prefix: not forwarded.
    let before = seen.lock().unwrap().len();
    let escape = signed(Scheme::V2, "GET", "/../admin/x", &[], None, &secret, &a);
    let r = http::send(&gw.base, &escape).unwrap();
    assert_eq!(r.status, 400);
    assert!(
        r.text()
            .ends_with(r#""detail":"a path with . or .. segments is not forwarded"}"#),
        "{}",
        r.text()
    );
    // A v1 request gets the same reason as text.
    let escape = signed(Scheme::V1, "GET", "/../admin/x", &[], None, &secret, &a);
    let r = http::send(&gw.base, &escape).unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.text(), "a path with . or .. segments is not forwarded");
    assert_eq!(seen.lock().unwrap().len(), before);

    // Slower (3 s) than a gateway's 1 s timeout: 504; the API gone: 502.
    let d = Dirs::new("upstream-timeout");
    let quick_secret = add_client(&d, "shop");
    let quick = gateway(&d, &format!("{}/v1", api.url), 1_000);
    let at = quick.base.authority.clone();
    let slow = signed(Scheme::V2, "GET", "/slow", &[], None, &quick_secret, &at);
    let r = http::send(&quick.base, &slow).unwrap();
    assert_eq!(
        (r.status, r.text()),
        (504, "the upstream did not answer in time".into())
    );
    drop(api);
    let down = signed(
        Scheme::V2,
        "GET",
        "/orders/list",
        &[("day", "wed")],
        None,
        &secret,
        &a,
    );
    let r = http::send(&gw.base, &down).unwrap();
    assert_eq!(
        (r.status, r.text()),
        (502, "the upstream could not be reached".into())
    );
    assert!(!gw.log().contains(secret.expose()), "no secret in the log");
    assert!(
        !quick.log().contains(quick_secret.expose()),
        "no secret in the log"
    );
}

/// An answer whose body stops arriving is cut short once the gateway's timeout passes without
/// a byte: the client's connection closes before the body's end (no last chunk), rather than
/// holding the client for as long as the API stays silent.
#[test]
fn an_answer_that_goes_silent_in_its_body_is_cut_short() {
    let (_dirs, secret, _api, gw) = gateway_with("upstream-silent", "timeout_ms = 1000\n");
    let input = SignInput::new(Scheme::V2, "GET", "/stall", "shop").host(&gw.base.authority);
    let x_nonce = sign(&input, &secret).unwrap().x_nonce;
    let (mut conn, head) = handshake(&gw.base, "GET /stall HTTP/1.1\r\n", Some(&x_nonce));
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    let started = Instant::now();
    let mut rest = Vec::new();
    // `handshake`'s read timeout is 5 s: the gateway's 1 s ends the read first.
    match conn.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.contains("part"), "{rest:?}");
    assert!(!rest.ends_with("0\r\n\r\n"), "no last chunk: {rest:?}");
    assert!(gw.log().contains("upstream went silent"), "{}", gw.log());
}

/// What an intermediary could add to a verified request to change what the API acts on
/// (its host, method, target or the client's address, as frameworks behind a proxy read
/// them) never reaches the API; a second `Content-Type` line (which the API's stack might
/// read in place of the one verified), a method not sent upper-case (as signed), paths that
/// some upstream reads as leaving the prefix and `CONNECT` in any case are refused.
#[test]
fn what_would_override_the_verified_request_never_reaches_the_api() {
    let (_dirs, secret, seen, _api, gw) = gateway_before_api("upstream-overrides");
    let a = gw.base.authority.clone();
    let body = br#"{"n":1}"#;
    let post = signed(
        Scheme::V2,
        "DELETE",
        "/orders/7",
        &[],
        Some(body),
        &secret,
        &a,
    )
    .header("X-Forwarded-Host", "evil.example")
    .header("Forwarded", "host=evil.example;for=10.0.0.1")
    .header("X-HTTP-Method-Override", "PUT")
    .header("X-Original-URL", "/admin/delete_all")
    .header("X_Rewrite_URL", "/admin")
    .header("X-Real-IP", "10.0.0.1")
    .header("X-Original-URI", "/admin")
    .header("True-Client-IP", "10.0.0.1")
    .header("X-Forwarded-Proto", "https");
    let before = seen.lock().unwrap().len();
    let two_types = post.clone().header("Content-Type", "text/plain");
    let r = http::send(&gw.base, &two_types).unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("more than one Content-Type"),
        "{}",
        r.text()
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        before,
        "refused: never forwarded"
    );
    let r = http::send(&gw.base, &post).unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let last = seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.method, "DELETE");
    assert_eq!(&last.body[..], &body[..]);
    for name in [
        "x-forwarded-host",
        "forwarded",
        "x-http-method-override",
        "x-original-url",
        "x_rewrite_url",
        "x-real-ip",
        "x-original-uri",
        "true-client-ip",
    ] {
        assert!(!last.headers.contains_key(name), "{name} reached the API");
    }
    assert_eq!(
        last.headers["x-forwarded-proto"], "https",
        "kept: no override"
    );
    let types: Vec<_> = last.headers.get_all("content-type").iter().collect();
    assert_eq!(types, ["application/json"], "the line verified");
    assert_eq!(last.headers["host"], a.as_str());

    let before = seen.lock().unwrap().len();
    for path in ["/x/..%2fadmin", "/x/..;/admin", "/x/..%5cadmin"] {
        let escape = signed(Scheme::V2, "GET", path, &[], None, &secret, &a);
        let r = http::send(&gw.base, &escape).unwrap();
        assert_eq!(r.status, 400, "{path}");
        // In the verified request's style: a v2 problem document with the code.
        assert!(
            r.text().contains(r#""code":"invalid_path""#),
            "{path}: {}",
            r.text()
        );
    }
    for method in ["CONNECT", "connect"] {
        let mut connect = signed(Scheme::V2, method, "/a/b", &[], None, &secret, &a);
        connect.absolute = true;
        let r = http::send(&gw.base, &connect).unwrap();
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.text().contains("invalid_method"), "{}", r.text());
        // The same 400 with a v1 credential, or none (not v1's 401 for an input error).
        let v1 = signed(Scheme::V1, method, "/a/b", &[], None, &secret, &a);
        let unsigned = http::Request::new(method, "/a/b");
        for req in [v1, unsigned] {
            let r = http::send(&gw.base, &req).unwrap();
            assert_eq!(r.status, 400, "{method}: {}", r.text());
        }
    }
    // Signed upper-cased, but sent otherwise: not the method verified (nor, upper-cased,
    // the one the client's side knows it sent: `head`).
    for method in ["delete", "head"] {
        let lower = signed(Scheme::V2, method, "/orders/7", &[], None, &secret, &a);
        let r = http::send(&gw.base, &lower).unwrap();
        assert_eq!(r.status, 400, "{method}: {}", r.text());
        if method == "delete" {
            assert!(
                r.text().contains(r#""code":"invalid_method""#),
                "{}",
                r.text()
            );
        }
    }
    assert_eq!(
        seen.lock().unwrap().len(),
        before,
        "none of them was forwarded"
    );
}

/// What the API's redirects and the client's address look like through the gateway: a
/// `Location` on the API's own address (absolute, or a path under the URL's prefix) becomes
/// the gateway path a client can follow; any other is left alone. `X-Forwarded-For` gets the
/// peer appended to what the client's side sent.
#[test]
fn redirects_name_the_gateway_and_the_api_learns_the_clients_address() {
    let (_dirs, secret, seen, api, gw) = gateway_before_api("upstream-moved");
    let a = gw.base.authority.clone();
    let own = format!("{}/v1/orders/7?x=1", api.url);
    for (to, location) in [
        (own.as_str(), "/orders/7?x=1"),
        ("/v1/orders/8", "/orders/8"),
        ("/v1", "/"),
        ("/v1x/orders", "/v1x/orders"),
        ("/other/9", "/other/9"),
        ("https://elsewhere.example/x", "https://elsewhere.example/x"),
    ] {
        let moved = signed(
            Scheme::V2,
            "GET",
            "/moved",
            &[("to", to)],
            None,
            &secret,
            &a,
        )
        .header("X-Forwarded-For", "203.0.113.9");
        let r = http::send(&gw.base, &moved).unwrap();
        assert_eq!(
            (r.status, r.header("location")),
            (303, Some(location)),
            "{to}"
        );
    }
    let last = seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.headers["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
}

/// Sends `head` (a request head, `Host` and `X-Nonce` added) on a new connection to `base`;
/// returns the connection and the answer's head.
fn handshake(base: &http::BaseUrl, head: &str, x_nonce: Option<&str>) -> (TcpStream, String) {
    let mut conn = TcpStream::connect(&base.authority).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let x_nonce = x_nonce.map_or(String::new(), |x| format!("X-Nonce: {x}\r\n"));
    let request = format!("{head}Host: {}\r\n{x_nonce}\r\n", base.authority);
    conn.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") {
        assert_eq!(conn.read(&mut byte).unwrap(), 1, "the head ends");
        answer.push(byte[0]);
    }
    (
        conn,
        String::from_utf8(answer).unwrap().to_ascii_lowercase(),
    )
}

/// A WebSocket handshake, verified like any GET, switches the client's connection through to
/// the API; an unsigned one never reaches it; another upgrade (`h2c`, whose tunnel would carry
/// requests the gateway never verifies) is forwarded as a plain request.
#[test]
fn websocket_handshakes_are_verified_and_switched_through() {
    let (_dirs, secret, seen, _api, gw) = gateway_before_api("upstream-ws");
    let a = gw.base.authority.clone();
    let x_nonce = |path: &str| {
        let input = SignInput::new(Scheme::V2, "GET", path, "shop").host(&a);
        sign(&input, &secret).unwrap().x_nonce
    };
    let ws = "GET /chat HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

    let (mut conn, head) = handshake(&gw.base, ws, Some(&x_nonce("/chat")));
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    for message in [&b"ping"[..], b"\x81\x05hello"] {
        conn.write_all(message).unwrap();
        let mut back = vec![0u8; message.len()];
        conn.read_exact(&mut back).unwrap();
        assert_eq!(back, message, "the API echoes through the gateway");
    }
    let at_api = seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(at_api.target, "/v1/chat");
    assert_eq!(at_api.headers["upgrade"], "websocket");
    assert_eq!(at_api.headers["x-xnonce-client"], "shop");
    assert_eq!(
        at_api.headers["sec-websocket-key"],
        "dGhlIHNhbXBsZSBub25jZQ=="
    );
    drop(conn);

    let before = seen.lock().unwrap().len();
    let (_, head) = handshake(&gw.base, ws, None);
    assert!(head.starts_with("http/1.1 401"), "{head}");
    assert_eq!(
        seen.lock().unwrap().len(),
        before,
        "an unsigned handshake is not forwarded"
    );

    let h2c = "GET /chat HTTP/1.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\
               HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n";
    let (_, head) = handshake(&gw.base, h2c, Some(&x_nonce("/chat")));
    assert!(head.starts_with("http/1.1 201"), "{head}");
    let at_api = seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(at_api.headers.get("upgrade"), None);
    assert_eq!(at_api.headers.get("http2-settings"), None);

    // A tunnel open when the gateway stops is closed, each side hearing a Close frame with
    // status 1001 "going away" (masked to the API, as from a client), and the gateway exits.
    // (The client hears the gateway's, or the API's answer to its own, when that comes
    // first: the same frame.)
    let listen = ws.replace("/chat", "/listen");
    let (mut conn, head) = handshake(&gw.base, &listen, Some(&x_nonce("/listen")));
    assert!(head.starts_with("http/1.1 101"), "{head}");
    let text = [0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2]; // "hi", masked
    conn.write_all(&text).unwrap();
    let mut echoed = [0u8; 8];
    conn.read_exact(&mut echoed).unwrap();
    assert_eq!(echoed, text, "the tunnel is up");
    let mut gw = gw;
    assert!(gw.signal("-TERM").success());
    let mut rest = Vec::new();
    conn.read_to_end(&mut rest).unwrap();
    assert_eq!(
        rest,
        [0x88, 0x02, 0x03, 0xe9],
        "a Close frame, 1001, then the end"
    );
    let heard = (0..50)
        .find_map(|_| {
            let found = seen
                .lock()
                .unwrap()
                .iter()
                .find(|s| s.method == "WS")
                .cloned();
            found.or_else(|| {
                std::thread::sleep(Duration::from_millis(100));
                None
            })
        })
        .expect("the API read its connection to the end");
    let (sent, close) = heard.body.split_at(text.len());
    assert_eq!(sent, text, "what the client sent, then the gateway's Close");
    assert_eq!(close[..2], [0x88, 0x82], "{close:?}");
    let key = &close[2..6];
    assert_eq!([close[6] ^ key[0], close[7] ^ key[1]], [0x03, 0xe9]);
    assert_eq!(close.len(), 8);
}

/// A tunnel whose API has closed is closed once the grace period has passed, even if the
/// client keeps its end open: it does not hold the gateway's connection slot.
#[test]
fn a_tunnel_half_closed_by_the_api_frees_its_connection() {
    let (_d, secret, _api, gw) = gateway_with("upstream-ws-bye", "[limits]\nmax_connections = 1\n");
    let a = gw.base.authority.clone();
    let input = SignInput::new(Scheme::V2, "GET", "/bye", "shop").host(&a);
    let x_nonce = sign(&input, &secret).unwrap().x_nonce;
    let ws = "GET /bye HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n";
    let (mut held, head) = handshake(&gw.base, ws, Some(&x_nonce));
    assert!(head.starts_with("http/1.1 101"), "{head}");
    let mut said = Vec::new();
    held.read_to_end(&mut said).unwrap();
    assert_eq!(said, b"bye", "the API's words, then the end of its stream");
    // `held` stays open; the one connection slot frees within the grace period, so a
    // request waiting for it is answered (before the 10 s read timeout of `send`).
    let next = signed(Scheme::V2, "GET", "/after", &[], None, &secret, &a);
    assert_eq!(http::send(&gw.base, &next).unwrap().status, 201);
    drop(held);
}

#[test]
fn an_upstream_url_that_cannot_be_served_is_refused_at_start() {
    let d = Dirs::new("upstream-bad");
    for (url, says) in [
        ("https://api.internal", "must start with http://"),
        (
            "http://user:token@api.internal",
            "must not hold credentials",
        ),
        ("http://127.0.0.1:9/?q=1", "must not have a query"),
    ] {
        let exited = serve_with(&d, &format!("[upstream]\nurl = \"{url}\"\n"))
            .err()
            .expect("refused");
        assert!(!exited.status.success());
        assert!(exited.stderr.contains(says), "{url}: {}", exited.stderr);
        assert!(!exited.stderr.contains("token"), "{}", exited.stderr);
    }
}

/// An absolute-form target with an empty path (`GET http://host?day=mon`) is verified as the
/// path `/` (PROTOCOL §11, "an empty path read as `/`"), so it reaches the API as `/`, under
/// the URL's prefix as `/v1/?day=mon`, exactly like its origin-form twin — not as
/// `/v1?day=mon`, another resource to an API that routes `/v1` apart from `/v1/`.
#[test]
fn an_absolute_form_target_without_a_path_reaches_the_api_as_the_path_verified() {
    let (_dirs, secret, seen, _api, gw) = gateway_before_api("upstream-empty-path");
    let a = gw.base.authority.clone();
    for (absolute, target) in [(false, "/?day=mon"), (true, "?day=mon"), (true, "")] {
        let params: &[(&str, &str)] = match target.contains("day") {
            true => &[("day", "mon")],
            false => &[],
        };
        let mut req = signed(Scheme::V2, "GET", "/", params, None, &secret, &a);
        req.target = target.to_string();
        req.absolute = absolute;
        let r = http::send(&gw.base, &req).unwrap();
        assert_eq!(r.status, 201, "{target}: {}", r.text());
        let last = seen.lock().unwrap().last().cloned().unwrap();
        let expected = match target.contains("day") {
            true => "/v1/?day=mon",
            false => "/v1/",
        };
        assert_eq!(last.target, expected, "absolute {absolute}: {target:?}");
    }
}

/// A verified request whose target the HTTP parser took but which, put under the URL's
/// prefix, is longer than a URI may be, is not answered as an upstream failure (a 5xx for
/// the client's own input): it is refused `414` in the request's style.
#[test]
fn a_target_too_long_to_forward_is_a_414_not_a_bad_gateway() {
    let (_dirs, secret, seen, _api, gw) = gateway_before_api("upstream-long-target");
    let a = gw.base.authority.clone();
    // http's URI limit is 65,534 bytes: "/long?v=" and the value just within it.
    let value = "x".repeat(65_534 - "/long?v=".len());
    let mut req = signed(
        Scheme::V2,
        "GET",
        "/long",
        &[("v", &value)],
        None,
        &secret,
        &a,
    );
    req.target = format!("/long?v={value}");
    let before = seen.lock().unwrap().len();
    let r = http::send(&gw.base, &req).unwrap();
    assert_eq!(r.status, 414, "{}", r.text());
    assert!(
        r.text().contains(r#""code":"invalid_path""#),
        "{}",
        r.text()
    );
    assert_eq!(seen.lock().unwrap().len(), before, "not forwarded");
}

/// A tunnel is bound to the handshake that opened it, not to the credential's life: it
/// stays open past the request's window and after the client is deleted (what the README's
/// WebSocket section says, so that an API relying on the gateway alone knows to end
/// long-lived sockets itself), while a new handshake of the deleted client is refused.
#[test]
fn a_tunnel_outlives_its_credentials_window_and_its_client() {
    let (d, secret, _api, gw) =
        gateway_with("upstream-ws-lifetime", "[windows]\n__default = 1000\n");
    let a = gw.base.authority.clone();
    let x_nonce = || {
        let input = SignInput::new(Scheme::V2, "GET", "/chat", "shop").host(&a);
        sign(&input, &secret).unwrap().x_nonce
    };
    let ws = "GET /chat HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n";
    let (mut conn, head) = handshake(&gw.base, ws, Some(&x_nonce()));
    assert!(head.starts_with("http/1.1 101"), "{head}");
    client(&d, &["delete", "shop", "--confirm"]);
    // Past the 1 s window (and its replay key's life), the client deleted: still open.
    std::thread::sleep(Duration::from_millis(1_500));
    conn.write_all(b"still here").unwrap();
    let mut back = [0u8; 10];
    conn.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"still here");
    // A new handshake of the deleted client is refused.
    let (_, head) = handshake(&gw.base, ws, Some(&x_nonce()));
    assert!(head.starts_with("http/1.1 401"), "{head}");
}

/// A form's `charset` is not signed (PROTOCOL §14.3) and the layer reads the form as UTF-8
/// whatever it says: the API gets the form as `charset=utf-8`, so an API that honours the
/// parameter decodes the fields as they were verified, not as someone in the middle chose.
#[test]
fn a_form_reaches_the_api_as_the_utf8_it_was_verified_as() {
    let (_dirs, secret, seen, _api, gw) = gateway_before_api("upstream-form-charset");
    let a = gw.base.authority.clone();
    let input = SignInput::new(Scheme::V2, "POST", "/orders", "shop")
        .host(&a)
        .param("name", "é");
    let x_nonce = sign(&input, &secret).unwrap().x_nonce;
    let req = http::Request::new("POST", "/orders")
        .header("X-Nonce", x_nonce)
        .header(
            "Content-Type",
            "application/x-www-form-urlencoded; charset=iso-8859-1",
        )
        .body(&b"name=%C3%A9"[..]);
    let r = http::send(&gw.base, &req).unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let last = seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        last.headers["content-type"],
        "application/x-www-form-urlencoded; charset=utf-8"
    );
    assert_eq!(&last.body[..], b"name=%C3%A9");
}

/// Many APIs (Django, Java servlets) read no form body on a GET or a DELETE: a signed param
/// moved from the query into such a body would not reach them. The layer refuses a form on
/// those methods (core's `method_carries_forms`), so none is forwarded. Found by
/// `gateway_tamper`.
#[test]
fn a_form_body_is_forwarded_only_on_the_methods_apis_read_one_on() {
    let (_dirs, secret, seen, _api, gw) = gateway_before_api("upstream-form-method");
    let a = gw.base.authority.clone();
    let form = |method: &str, body: &'static [u8]| {
        let input = SignInput::new(Scheme::V2, method, "/orders", "shop")
            .host(&a)
            .param("limit", "10");
        let x_nonce = sign(&input, &secret).unwrap().x_nonce;
        let req = http::Request::new(method, "/orders")
            .header("X-Nonce", x_nonce)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        http::send(&gw.base, &req).unwrap()
    };
    let before = seen.lock().unwrap().len();
    for method in ["GET", "DELETE", "OPTIONS"] {
        let r = form(method, b"limit=10");
        assert_eq!(r.status, 400, "{method}: {}", r.text());
        assert!(r
            .text()
            .contains("a form body is read only on POST, PUT or PATCH"));
    }
    assert_eq!(seen.lock().unwrap().len(), before, "none reached the API");
    for method in ["POST", "PUT", "PATCH"] {
        let r = form(method, b"limit=10");
        assert!(r.status < 300, "{method}: {} {}", r.status, r.text());
        assert_eq!(&seen.lock().unwrap().last().unwrap().body[..], b"limit=10");
    }
    // An empty form carries nothing to lose: a GET signed with its param in the query, sent
    // with `Content-Type: application/x-www-form-urlencoded` and no body, goes through.
    let input = SignInput::new(Scheme::V2, "GET", "/orders", "shop")
        .host(&a)
        .param("limit", "10");
    let x_nonce = sign(&input, &secret).unwrap().x_nonce;
    let req = http::Request::new("GET", "/orders?limit=10")
        .header("X-Nonce", x_nonce)
        .header("Content-Type", "application/x-www-form-urlencoded");
    let r = http::send(&gw.base, &req).unwrap();
    assert!(r.status < 300, "{} {}", r.status, r.text());
}

/// An API on a raw socket: reads each request's head (it sends none with a body) and answers
/// it `answer`, then closes.
fn raw_api(answer: &'static [u8]) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let (mut head, mut buf) = (Vec::new(), [0u8; 4096]);
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(n @ 1..) => head.extend_from_slice(&buf[..n]),
                    _ => break,
                }
            }
            let _ = conn.write_all(answer);
        }
    });
    url
}

/// An answer framed by `Transfer-Encoding` with a `Content-Length` beside it (which a sender
/// must not write, as a compressing middleware that keeps the length it found does) was
/// passed on with that length: its body, read chunked, reached the client cut to it, as a
/// complete-looking `200`. Transfer-Encoding overrides the length (RFC 9112 §6.3), which the
/// gateway drops.
#[test]
fn an_answers_content_length_beside_its_transfer_encoding_does_not_cut_its_body() {
    let d = Dirs::new("upstream-te-cl");
    let secret = add_client(&d, "shop");
    let url = raw_api(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\
          Connection: close\r\n\r\nb\r\nhello world\r\n0\r\n\r\n",
    );
    let gw = gateway(&d, &url, 10_000);
    let get = signed(
        Scheme::V2,
        "GET",
        "/x",
        &[],
        None,
        &secret,
        &gw.base.authority,
    );
    let r = http::send(&gw.base, &get).unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "hello world"));
    assert_ne!(r.header("content-length"), Some("2"));
}

/// `X-Script-Name`, which Flask's `ReverseProxied` recipe (copied into many WSGI apps) cuts
/// from the start of the path into SCRIPT_NAME, reached the API: a request signed for
/// `/shop/admin/purge` with `X-Script-Name: /shop` added on the way routed there as
/// `/admin/purge`, a path nobody signed. Dropped like the other target overrides, in either
/// spelling.
#[test]
fn a_script_name_that_would_move_the_path_never_reaches_the_api() {
    let (_dirs, secret, seen, _api, gw) = gateway_before_api("upstream-script-name");
    let a = gw.base.authority.clone();
    for name in ["X-Script-Name", "X_Script_Name"] {
        let get = signed(
            Scheme::V2,
            "GET",
            "/shop/admin/purge",
            &[],
            None,
            &secret,
            &a,
        )
        .header(name, "/shop");
        let r = http::send(&gw.base, &get).unwrap();
        assert_eq!(r.status, 201, "{}", r.text());
        let last = seen.lock().unwrap().last().cloned().unwrap();
        assert_eq!(last.target, "/v1/shop/admin/purge");
        let names: Vec<&str> = last.headers.keys().map(|k| k.as_str()).collect();
        assert!(
            !names.iter().any(|k| k.replace('_', "-") == "x-script-name"),
            "{name} reached the API: {names:?}"
        );
    }
}

/// What [`closing_api`] does with a request that has arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OnArrival {
    /// Answers it `201`, keeping the connection open.
    Answer,
    /// Reads it, then closes the connection without a byte of answer (a keep-alive timer
    /// that fired as the request came: FIN).
    ReadAndClose,
    /// Closes the connection with the request unread (the same, the request not yet read by
    /// the server: RST).
    CloseUnread,
}

/// What [`closing_api`] saw: each request's connection (numbered from 0), its request line
/// (empty if it closed the connection with the request unread) and what it did.
type Arrivals = Arc<Mutex<Vec<(usize, String, OnArrival)>>>;

/// An HTTP/1.1 keep-alive API on a raw socket that decides, from a request's number on its
/// connection (1 for the first) and how long the connection had been idle before it came,
/// whether to answer it or to close the connection as it arrives: the moment a keep-alive
/// timeout (Node's and uvicorn's 5 s, gunicorn's 2 s) fires just as a request comes, made
/// deterministic.
fn closing_api(
    decide: impl Fn(usize, Duration) -> OnArrival + Send + Sync + 'static,
) -> (String, Arrivals) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (decide, log) = (Arc::new(decide), seen.clone());
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(mut conn) = conn else { return };
            let (decide, log) = (decide.clone(), log.clone());
            std::thread::spawn(move || {
                // Bounded: a test's connection never waits longer than this for a request.
                let _ = conn.set_read_timeout(Some(Duration::from_secs(20)));
                let mut idle_since = Instant::now();
                for nth in 1.. {
                    // Waits for the request's first bytes, without reading them.
                    let mut byte = [0u8; 1];
                    if !matches!(conn.peek(&mut byte), Ok(1..)) {
                        return;
                    }
                    let what = decide(nth, idle_since.elapsed());
                    if what == OnArrival::CloseUnread {
                        log.lock().unwrap().push((n, String::new(), what));
                        return;
                    }
                    let (mut all, mut buf) = (Vec::new(), [0u8; 4096]);
                    let body_at = loop {
                        match conn.read(&mut buf) {
                            Ok(k @ 1..) => all.extend_from_slice(&buf[..k]),
                            _ => return,
                        }
                        if let Some(i) = all.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&all[..body_at]).to_ascii_lowercase();
                    let length: usize = head
                        .split("\r\ncontent-length: ")
                        .nth(1)
                        .and_then(|rest| rest.split("\r\n").next()?.parse().ok())
                        .unwrap_or(0);
                    while all.len() < body_at + length {
                        match conn.read(&mut buf) {
                            Ok(k @ 1..) => all.extend_from_slice(&buf[..k]),
                            _ => return,
                        }
                    }
                    let line = head.lines().next().unwrap_or_default().to_string();
                    log.lock().unwrap().push((n, line, what));
                    if what == OnArrival::ReadAndClose {
                        return;
                    }
                    let answer = b"HTTP/1.1 201 Created\r\ncontent-length: 3\r\n\r\napi";
                    if conn.write_all(answer).is_err() {
                        return;
                    }
                    idle_since = Instant::now();
                }
            });
        }
    });
    (url, seen)
}

/// The race of an API that closes an idle keep-alive connection sooner than the gateway's
/// pool forgets it: a request the gateway sends on it as it closes fails with no answer, and
/// the gateway answered `502` for a request whose credential was spent, which the API never
/// saw. A safe method (`GET`, `HEAD`, `OPTIONS`, `TRACE`) without a body is now sent again,
/// once, on a fresh connection; any other request is never sent twice (the API may have acted
/// on it): still a `502`, which the pool's idle timeout makes rare (next test). Both ways the
/// API closes: after reading the request (FIN), and with it unread (RST).
#[test]
fn a_safe_request_on_a_connection_the_api_closes_as_it_comes_is_sent_again_once() {
    for cut in [OnArrival::ReadAndClose, OnArrival::CloseUnread] {
        let d = Dirs::new("upstream-closed-as-it-came");
        let secret = add_client(&d, "shop");
        // The second request on a connection comes just as the API closes it.
        let (url, seen) = closing_api(move |nth, _| match nth {
            1 => OnArrival::Answer,
            _ => cut,
        });
        let gw = gateway(&d, &url, 10_000);
        let a = gw.base.authority.clone();
        let send = |method: &str, n: &str| {
            let body = (method == "POST").then_some(&b"{}"[..]);
            let req = signed(Scheme::V2, method, "/x", &[("n", n)], body, &secret, &a);
            http::send(&gw.base, &req).unwrap()
        };
        // A connection opened, then reused as the API closes it.
        assert_eq!(send("GET", "1").status, 201, "{cut:?}");
        let r = send("GET", "2");
        assert_eq!((r.status, r.text().as_str()), (201, "api"), "{cut:?}");
        let seen_now = seen.lock().unwrap().clone();
        let answered = seen_now.iter().filter(|(_, _, w)| *w == OnArrival::Answer);
        assert_eq!(answered.count(), 2, "{cut:?}: {seen_now:?}");
        // A POST is never sent twice: the API may have acted on it.
        assert_eq!(send("POST", "3").status, 201, "{cut:?}");
        let before = seen.lock().unwrap().len();
        let r = send("POST", "4");
        assert_eq!(r.status, 502, "{cut:?}: {}", r.text());
        let after = seen.lock().unwrap()[before..].to_vec();
        assert_eq!(
            after.len(),
            1,
            "{cut:?}: the POST reached the API again: {after:?}"
        );
    }
}

/// The other half of the fix: the pool forgets a connection idle for `[upstream]
/// idle_timeout_ms` (default 1 s, below gunicorn's 2 s and Node's and uvicorn's 5 s), so the
/// gateway no longer sends on one the API is about to close, a `POST` included (which is
/// never sent twice). An API that closes a connection idle for 2 s as a request comes on it
/// (gunicorn's keep-alive, hit at the worst moment) answered a `POST` after 2.2 s of quiet
/// with the gateway's `502` (its pool kept connections for 90 s); `idle_timeout_ms = 0` opens
/// a connection for every request.
#[test]
fn the_pool_forgets_an_idle_connection_before_the_api_closes_it() {
    let d = Dirs::new("upstream-idle-timeout");
    let secret = add_client(&d, "shop");
    let (url, seen) = closing_api(|_, idle| match idle >= Duration::from_secs(2) {
        true => OnArrival::ReadAndClose,
        false => OnArrival::Answer,
    });
    let gw = gateway(&d, &url, 10_000);
    let post = |gw: &Served, n: &str| {
        let (a, body) = (&gw.base.authority, Some(&b"{}"[..]));
        let req = signed(Scheme::V2, "POST", "/x", &[("n", n)], body, &secret, a);
        http::send(&gw.base, &req).unwrap()
    };
    assert_eq!(post(&gw, "1").status, 201);
    std::thread::sleep(Duration::from_millis(2200));
    let r = post(&gw, "2");
    assert_eq!(r.status, 201, "{}", r.text());
    let seen_now = seen.lock().unwrap().clone();
    assert_eq!(seen_now.len(), 2, "{seen_now:?}");
    assert_ne!(seen_now[0].0, seen_now[1].0, "{seen_now:?}");

    // No reuse at all: every request on its own connection, which the API never cuts.
    drop(gw);
    let (url, seen) = closing_api(|nth, _| match nth {
        1 => OnArrival::Answer,
        _ => OnArrival::ReadAndClose,
    });
    let toml = format!("[upstream]\nurl = \"{url}\"\nidle_timeout_ms = 0\n");
    let gw = serve_with(&d, &toml).unwrap_or_else(|e| panic!("{e:?}"));
    for n in ["3", "4", "5"] {
        let r = post(&gw, n);
        assert_eq!(r.status, 201, "{n}: {}", r.text());
    }
    let seen_now = seen.lock().unwrap().clone();
    assert!(
        seen_now.iter().all(|(_, _, w)| *w == OnArrival::Answer),
        "{seen_now:?}"
    );
}
