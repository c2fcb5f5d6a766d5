//! The `xnonce` command: every shared vector through `sign`/`link`, and `request`/`link`
//! round trips against a real `xnonce-server`.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use base64::Engine as _;
use common::refused_port::RefusedPort;
use common::{now_ms, xnonce_bin, Server, TempDir};
use serde_json::Value;

fn xnonce(args: &[String]) -> Output {
    Command::new(xnonce_bin())
        .args(args)
        .env_remove("XNONCE_SECRET")
        .output()
        .expect("run xnonce")
}

/// [`xnonce`] with `input` on its standard input (closed after it). The command may refuse
/// before reading it all: a closed pipe is no failure here.
fn xnonce_with_stdin(args: &[String], input: &[u8]) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(xnonce_bin())
        .args(args)
        .env_remove("XNONCE_SECRET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run xnonce");
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(input);
    drop(stdin);
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn vectors_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../conformance/vectors"
    ))
}

fn str_field<'a>(case: &'a Value, k: &str) -> Option<&'a str> {
    case.get(k).and_then(Value::as_str)
}

/// The command line of a vector case (`None` when argv cannot carry it).
fn case_args(case: &Value, tmp: &TempDir) -> Option<Vec<String>> {
    let id = str_field(case, "id").unwrap();
    let mut a = vec![
        format!("--scheme={}", str_field(case, "scheme").unwrap_or("v1")),
        format!("--method={}", str_field(case, "method").unwrap()),
        format!("--path={}", str_field(case, "path").unwrap()),
        format!("--client={}", str_field(case, "client").unwrap()),
        format!("--secret={}", str_field(case, "secret").unwrap()),
        format!("--timestamp={}", case["timestamp"].as_u64().unwrap()),
    ];
    for p in case["params"].as_array().unwrap() {
        let (k, v) = (p[0].as_str().unwrap(), p[1].as_str().unwrap());
        if k.contains('=') || k.contains('\0') || v.contains('\0') {
            return None;
        }
        a.push(format!("--param={k}={v}"));
    }
    if let Some(n) = str_field(case, "nonce") {
        a.push(format!("--nonce={n}"));
    }
    if let Some(h) = str_field(case, "host") {
        a.push(format!("--host={h}"));
    }
    if let Some(b) = str_field(case, "body") {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b)
            .expect("body is base64");
        let f = tmp.path().join(format!("{id}.body"));
        std::fs::write(&f, bytes).unwrap();
        a.push(format!("--body-file={}", f.display()));
    }
    Some(a)
}

fn run_case(case: &Value, tmp: &TempDir) -> Result<bool, String> {
    let id = str_field(case, "id").unwrap();
    let Some(args) = case_args(case, tmp) else {
        return Ok(false);
    };
    let base_url = str_field(case, "base_url");
    let mut argv = vec![if base_url.is_some() { "link" } else { "sign" }.to_string()];
    argv.extend(args);
    if let Some(u) = base_url {
        argv.push(format!("--base-url={u}"));
    }
    let out = xnonce(&argv);
    if let Some(code) = str_field(case, "error") {
        if out.status.code() != Some(2) || !stderr(&out).contains(&format!("xnonce: {code}:")) {
            return Err(format!("{id}: expected error {code}, got {out:?}"));
        }
        return Ok(true);
    }
    if !out.status.success() {
        return Err(format!("{id}: failed: {}", stderr(&out)));
    }
    let got = stdout(&out);
    let got = got.strip_suffix('\n').unwrap_or(&got);
    match base_url {
        None => {
            let want = str_field(case, "x_nonce").unwrap();
            if got != want {
                return Err(format!("{id}: x_nonce {got:?} != {want:?}"));
            }
        }
        Some(_) => {
            if let Some(want) = str_field(case, "link") {
                if got != want {
                    return Err(format!("{id}: link {got:?} != {want:?}"));
                }
            }
            let token = xnonce::core::ottoken::query_value(str_field(case, "ottoken").unwrap());
            if !got.ends_with(&format!("ottoken={token}")) {
                return Err(format!("{id}: link {got:?} does not end with the ottoken"));
            }
        }
    }
    Ok(true)
}

#[test]
fn every_vector_through_the_cli() {
    let tmp = TempDir::new("vectors");
    let mut files: Vec<PathBuf> = std::fs::read_dir(vectors_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let (mut passed, mut not_expressible, mut failures) = (0, Vec::new(), Vec::new());
    for f in &files {
        let cases: Vec<Value> = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        for case in &cases {
            match run_case(case, &tmp) {
                Ok(true) => passed += 1,
                Ok(false) => not_expressible.push(str_field(case, "id").unwrap().to_string()),
                Err(e) => failures.push(e),
            }
        }
    }
    println!(
        "xnonce CLI: {passed} vectors passed ({} cannot be written as --param K=V: {not_expressible:?})",
        not_expressible.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(passed > 90, "only {passed} vectors ran");
}

/// Every em-secure-api v1 vector: `sign` prints its `x_nonce`, and `link` prints
/// `base + path + ? + content & ottoken=<ottoken_query_value>` where content is the part
/// of the vector's canonical string between path and client.
#[test]
fn em_secure_api_v1_vectors_sign_and_link() {
    let tmp = TempDir::new("v1");
    let cases: Vec<Value> = serde_json::from_slice(
        &std::fs::read(vectors_dir().join("em-secure-api-v1.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(cases.len(), 20);
    let base = "https://api.example.test";
    for case in &cases {
        let id = str_field(case, "id").unwrap();
        let args = case_args(case, &tmp).unwrap_or_else(|| panic!("{id} not expressible"));
        let mut sign = vec!["sign".to_string()];
        sign.extend(args.clone());
        let out = xnonce(&sign);
        assert!(out.status.success(), "{id}: {}", stderr(&out));
        assert_eq!(
            stdout(&out),
            format!("{}\n", str_field(case, "x_nonce").unwrap()),
            "{id}"
        );

        let mut link = vec!["link".to_string()];
        link.extend(args);
        link.push(format!("--base-url={base}"));
        let out = xnonce(&link);
        assert!(out.status.success(), "{id}: {}", stderr(&out));
        let canonical = str_field(case, "canonical").unwrap();
        let head = format!(
            "{}{}",
            str_field(case, "method").unwrap().to_uppercase(),
            str_field(case, "path").unwrap()
        );
        let tail = format!(
            "{}{}{}",
            str_field(case, "client").unwrap(),
            str_field(case, "secret").unwrap(),
            case["timestamp"].as_u64().unwrap()
        );
        let content = &canonical[head.len()..canonical.len() - tail.len()];
        let sep = if content.is_empty() { "" } else { "&" };
        assert_eq!(
            stdout(&out),
            format!(
                "{base}{}?{content}{sep}ottoken={}\n",
                str_field(case, "path").unwrap(),
                str_field(case, "ottoken_query_value").unwrap()
            ),
            "{id}"
        );
    }
}

fn request_args(s: &Server, scheme: &str, client: &str, method: &str, path: &str) -> Vec<String> {
    vec![
        "request".into(),
        format!("--scheme={scheme}"),
        format!("--method={method}"),
        format!("--path={path}"),
        format!("--client={client}"),
        format!("--secret-file={}", s.secret_file(client).display()),
        format!("--base-url={}", s.base_url),
    ]
}

fn with_params(mut a: Vec<String>, params: &[(&str, &str)]) -> Vec<String> {
    a.extend(params.iter().map(|(k, v)| format!("--param={k}={v}")));
    a
}

const LOGIN: &[(&str, &str)] = &[
    ("username", "phil"),
    ("password", "hello phil"),
    ("opt1", "this"),
];

#[test]
fn request_round_trips() {
    let s = Server::start(&["cli_v1", "cli_v2"]);
    for (scheme, client) in [("v1", "cli_v1"), ("v2", "cli_v2")] {
        // GET accepted once, then the same signature is a replay.
        let mut get = with_params(
            request_args(&s, scheme, client, "GET", "/controller1/action1"),
            LOGIN,
        );
        get.push(format!("--timestamp={}", now_ms()));
        if scheme == "v2" {
            get.push("--nonce=fedcba9876543210fedcba9876543210".into());
        }
        let out = xnonce(&get);
        assert_eq!(out.status.code(), Some(0), "{scheme}: {}", stderr(&out));
        let text = stdout(&out);
        let body: Value = serde_json::from_str(&text).expect("JSON answer on stdout");
        assert_eq!(body["opt1"], "THIS", "{body}");
        assert!(
            text.ends_with("}\n"),
            "the body then one newline (as a shell prints it): {text:?}"
        );
        let out = xnonce(&get);
        assert_eq!(out.status.code(), Some(1), "{scheme}: replay must fail");
        assert!(stderr(&out).contains("409"), "{}", stderr(&out));
        if scheme == "v1" {
            assert!(stderr(&out).contains("ottoken already used"));
        }

        // POST form with escaped values.
        let post = with_params(
            request_args(&s, scheme, client, "POST", "/controller2/action1"),
            &[
                ("username", "phil"),
                ("password", "hello phil"),
                ("opt1", "a+b = c & d"),
                ("opt3", "go for it"),
            ],
        );
        let out = xnonce(&post);
        assert_eq!(out.status.code(), Some(0), "{scheme}: {}", stderr(&out));
        assert!(stdout(&out).contains("a+b = c & d"), "{}", stdout(&out));
        // The same request with a limit below its answer's size: accepted, but not printed.
        let mut small = post.clone();
        small.push("--max-response-bytes=20".into());
        let out = xnonce(&small);
        assert_eq!(out.status.code(), Some(1), "{scheme}: {}", stdout(&out));
        assert!(stdout(&out).is_empty(), "{}", stdout(&out));
        assert!(
            stderr(&out).contains("larger than the 20-byte limit"),
            "{}",
            stderr(&out)
        );

        // A clock 120 s behind: refused without correction, accepted with it.
        let mut behind = with_params(
            request_args(&s, scheme, client, "GET", "/controller1/action1"),
            LOGIN,
        );
        behind.push("--clock-offset=-120000".into());
        let mut strict = behind.clone();
        strict.push("--no-clock-correction".into());
        let out = xnonce(&strict);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("401"), "{}", stderr(&out));
        let out = xnonce(&behind);
        assert_eq!(out.status.code(), Some(0), "{scheme}: {}", stderr(&out));
        // The offset it learned is said, for the next run to start from.
        let said = stderr(&out);
        let learned: i64 = said
            .split("--clock-offset ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no learned offset in {said:?}"));
        assert!(learned.abs() < 5_000, "{said}");
        assert!(said.contains("re-signed once"), "{said}");
        // A forced stale timestamp is sent as given, and its refusal stands.
        let mut forced = with_params(
            request_args(&s, scheme, client, "GET", "/controller1/action1"),
            LOGIN,
        );
        forced.push(format!("--timestamp={}", now_ms() - 120_000));
        let out = xnonce(&forced);
        assert_eq!(out.status.code(), Some(1), "{scheme}: {}", stdout(&out));
        assert!(stderr(&out).contains("401"), "{}", stderr(&out));
        assert!(stderr(&out).contains("not re-signed"), "{}", stderr(&out));
        // v1 has no nonce: a --nonce given to it forces nothing, so the stale request is
        // re-signed, and the command says so (not that the nonce stopped it).
        let mut v1_nonce = behind.clone();
        v1_nonce.push("--nonce=00112233445566778899aabbccddeeff".into());
        let out = xnonce(&v1_nonce);
        if scheme == "v1" {
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            assert!(stderr(&out).contains("re-signed once"), "{}", stderr(&out));
        } else {
            assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
            assert!(stderr(&out).contains("not re-signed"), "{}", stderr(&out));
        }

        // Missing required params: the route rules answer 422.
        let out = xnonce(&request_args(
            &s,
            scheme,
            client,
            "GET",
            "/controller1/action1",
        ));
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("422"), "{}", stderr(&out));
    }

    // v2 JSON body from --body-file.
    let body = s.data.path().join("body.json");
    std::fs::write(&body, br#"{"order": [1, 2], "note": "x"}"#).unwrap();
    let mut json = with_params(
        request_args(&s, "v2", "cli_v2", "POST", "/controller2/action1"),
        &[
            ("username", "phil"),
            ("password", "hello phil"),
            ("opt1", "this"),
            ("opt3", "go"),
        ],
    );
    json.push(format!("--body-file={}", body.display()));
    let out = xnonce(&json);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // Unreachable server: exit 1 with connection_failed.
    let mut gone = request_args(&s, "v2", "cli_v2", "GET", "/admin/status");
    let refused = RefusedPort::new();
    gone.retain(|a| !a.starts_with("--base-url="));
    gone.push(format!("--base-url={}", refused.url()));
    let out = xnonce(&gone);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("connection_failed"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn links_open_once() {
    let s = Server::start(&["cli_link"]);
    let http = reqwest::Client::new();
    for scheme in ["v1", "v2"] {
        let mut a = vec![
            "link".to_string(),
            format!("--scheme={scheme}"),
            "--method=GET".into(),
            "--path=/controller1/action1".into(),
            "--client=cli_link".into(),
            format!("--secret-file={}", s.secret_file("cli_link").display()),
            format!("--base-url={}", s.base_url),
        ];
        a.extend(LOGIN.iter().map(|(k, v)| format!("--param={k}={v}")));
        let out = xnonce(&a);
        assert!(out.status.success(), "{}", stderr(&out));
        let url = stdout(&out).trim().to_string();
        assert!(url.contains("ottoken="), "{url}");
        let first = http.get(&url).send().await.unwrap();
        assert_eq!(first.status().as_u16(), 200, "{scheme}: {url}");
        let second = http.get(&url).send().await.unwrap();
        assert_eq!(second.status().as_u16(), 409, "{scheme}: second open");
    }
}

fn xnonce_env(args: &[String], env: &[(&str, &std::ffi::OsStr)]) -> Output {
    let mut cmd = Command::new(xnonce_bin());
    cmd.args(args).env_remove("XNONCE_SECRET");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run xnonce")
}

const SECRET: &str = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd";

fn sign_args(scheme: &str) -> Vec<String> {
    vec![
        "sign".into(),
        format!("--scheme={scheme}"),
        "--path=/controller1/action1".into(),
        "--client=test_client".into(),
        "--timestamp=1700000000000".into(),
        "--nonce=00112233445566778899aabbccddeeff".into(),
        "--host=api.example.com".into(),
        "--param=opt1=this".into(),
    ]
}

/// A key holding `~` (unreserved, so v1 may sign it) goes out raw and verifies.
#[test]
fn a_v1_tilde_key_verifies() {
    let s = Server::start(&["cli_tilde"]);
    for method in ["GET", "POST"] {
        let path = if method == "GET" {
            "/admin/status"
        } else {
            "/controller2/action5"
        };
        let a = with_params(
            request_args(&s, "v1", "cli_tilde", method, path),
            &[("a~b", "1~2")],
        );
        let out = xnonce(&a);
        assert_eq!(out.status.code(), Some(0), "{method}: {}", stderr(&out));
    }
}

#[test]
fn request_refuses_a_path_the_url_parser_would_change() {
    let s = Server::start(&["cli_path"]);
    for scheme in ["v1", "v2"] {
        let a = with_params(
            request_args(&s, scheme, "cli_path", "GET", "/controller1/./action1"),
            LOGIN,
        );
        let out = xnonce(&a);
        assert_eq!(out.status.code(), Some(1), "{scheme}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("invalid_path"), "{err}");
        assert!(err.contains("\"/controller1/action1\""), "{err}");
    }
}

/// `--body-file` is sent byte for byte and signed as `sign --body-file` signs it.
#[test]
fn body_file_is_sent_and_signed_byte_for_byte() {
    let tmp = TempDir::new("body");
    let file = tmp.path().join("body.json");
    let body = b"{\"z\": 12345678901234567890123, \"a\": [1.50]}\n";
    std::fs::write(&file, body).unwrap();
    let secret = tmp.path().join("secret");
    std::fs::write(&secret, SECRET).unwrap();

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let authority = listener.local_addr().unwrap().to_string();
    let capture = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let mut conn = accept_within(&listener, Duration::from_secs(20));
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = conn.read(&mut buf).unwrap();
            assert!(n > 0, "connection closed early");
            data.extend_from_slice(&buf[..n]);
            let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if data.len() >= end + 4 + len {
                conn.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
                )
                .unwrap();
                let head = String::from_utf8(data[..end + 4].to_vec()).unwrap();
                return (head, data[end + 4..end + 4 + len].to_vec());
            }
        }
    });
    let common = vec![
        "--scheme=v2".to_string(),
        "--method=POST".into(),
        "--path=/controller2/action5".into(),
        "--client=svc".into(),
        format!("--secret-file={}", secret.display()),
        "--timestamp=1700000000000".into(),
        "--nonce=00112233445566778899aabbccddeeff".into(),
        format!("--body-file={}", file.display()),
    ];
    let mut request = vec![
        "request".to_string(),
        format!("--base-url=http://{authority}"),
    ];
    request.extend(common.clone());
    let out = xnonce(&request);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (head, sent) = capture.join().unwrap();
    assert_eq!(sent, body, "{head}");

    let mut sign = vec!["sign".to_string(), format!("--host={authority}")];
    sign.extend(common);
    let out = xnonce(&sign);
    assert!(out.status.success(), "{}", stderr(&out));
    let header = stdout(&out);
    assert!(
        head.contains(&format!("\r\nX-Nonce: {}\r\n", header.trim_end())),
        "{head}\nsign printed {header}"
    );

    // The real server verifies it; a file that is not JSON is refused before sending.
    let s = Server::start(&["cli_body"]);
    let mut a = request_args(&s, "v2", "cli_body", "POST", "/controller2/action5");
    a.push(format!("--body-file={}", file.display()));
    let out = xnonce(&a);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::write(&file, b"{\"a\": ").unwrap();
    let out = xnonce(&a);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("invalid_body"), "{}", stderr(&out));
}

/// The first connection to `listener`, failing the test (instead of waiting forever) when
/// none arrives within `limit`; reads on it time out after `limit` too.
fn accept_within(listener: &std::net::TcpListener, limit: Duration) -> std::net::TcpStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = std::time::Instant::now() + limit;
    loop {
        match listener.accept() {
            Ok((conn, _)) => {
                conn.set_nonblocking(false).unwrap();
                conn.set_read_timeout(Some(limit)).unwrap();
                return conn;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "nothing connected within {limit:?}"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// A UTF-8 byte-order mark at the start of a secret file is not part of the secret.
#[test]
fn a_bom_in_the_secret_file_is_ignored() {
    let tmp = TempDir::new("bom");
    let file = tmp.path().join("secret");
    std::fs::write(&file, format!("\u{feff}{SECRET}\r\n")).unwrap();
    for scheme in ["v1", "v2"] {
        let mut with_flag = sign_args(scheme);
        with_flag.push(format!("--secret={SECRET}"));
        let want = xnonce(&with_flag);
        assert!(want.status.success(), "{}", stderr(&want));
        let mut with_file = sign_args(scheme);
        with_file.push(format!("--secret-file={}", file.display()));
        let got = xnonce(&with_file);
        assert!(got.status.success(), "{scheme}: {}", stderr(&got));
        assert_eq!(stdout(&got), stdout(&want), "{scheme}");
    }
}

/// Flags beat the environment; a set but unusable XNONCE_SECRET gets a precise error.
/// `--secret-file -` reads the secret from standard input (`pass show api | xnonce …`).
#[test]
fn a_secret_file_of_dash_is_standard_input() {
    let mut want_args = sign_args("v2");
    want_args.push(format!("--secret={SECRET}"));
    let want = stdout(&xnonce(&want_args));
    let mut a = sign_args("v2");
    a.push("--secret-file=-".into());
    let out = xnonce_with_stdin(&a, format!("{SECRET}\n").as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), want);
}

/// A secret given to `--secret-file` by mistake is not repeated in the error; a missing
/// file's path is.
#[test]
fn a_secret_given_as_the_secret_file_is_not_echoed() {
    let mut a = sign_args("v2");
    a.push(format!("--secret-file={SECRET}"));
    let out = xnonce(&a);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("invalid_secret") && err.contains("not the secret"),
        "{err}"
    );
    assert!(!err.contains(SECRET), "{err}");
    let mut a = sign_args("v2");
    a.push("--secret-file=/nonexistent/client.secret".into());
    let err = stderr(&xnonce(&a));
    assert!(err.contains("/nonexistent/client.secret"), "{err}");
}

/// A file named like a secret (the secret given where its file belongs, and such a file
/// there) that is too long: the refusal does not repeat the name either.
#[test]
fn a_too_long_secret_file_named_like_a_secret_is_not_echoed() {
    let tmp = TempDir::new("named-like-a-secret");
    std::fs::write(tmp.path().join(SECRET), "0".repeat(70_000)).unwrap();
    let mut a = sign_args("v2");
    a.push(format!("--secret-file={SECRET}"));
    let out = Command::new(xnonce_bin())
        .args(&a)
        .env_remove("XNONCE_SECRET")
        .current_dir(tmp.path())
        .output()
        .expect("run xnonce");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("more than 64 KiB"), "{err}");
    assert!(!err.contains(SECRET), "{err}");
}

/// A `--secret` value starting with `-` (a v1 secret may be any text) is the secret, given as
/// a separate argument too: the argument parser read `--secret --hunter2` as a flag without
/// its value and an unknown argument, which it printed whole.
#[test]
fn a_secret_starting_with_a_dash_is_taken_and_never_printed() {
    let mut joined = sign_args("v1");
    joined.push("--secret=--hunter2-v1-secret".into());
    let want = xnonce(&joined);
    assert_eq!(want.status.code(), Some(0), "{}", stderr(&want));
    let mut separate = sign_args("v1");
    separate.extend(["--secret".into(), "--hunter2-v1-secret".into()]);
    let out = xnonce(&separate);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), stdout(&want));
    // A secret after which the command line is wrong is not echoed in the usage error.
    separate.push("--no-such-flag".into());
    let err = stderr(&xnonce(&separate));
    assert!(
        err.contains("--no-such-flag") && !err.contains("hunter2"),
        "{err}"
    );
}

#[test]
fn secret_flags_beat_the_environment() {
    use std::ffi::OsStr;
    let tmp = TempDir::new("precedence");
    let file = tmp.path().join("secret");
    std::fs::write(&file, SECRET).unwrap();
    let mut want_args = sign_args("v1");
    want_args.push(format!("--secret={SECRET}"));
    let want = stdout(&xnonce(&want_args));
    assert!(want.len() > 64, "{want}");

    let flag = format!("--secret={SECRET}");
    let file_flag = format!("--secret-file={}", file.display());
    for env in [OsStr::new("deadbeef"), OsStr::new(""), OsStr::new("  ")] {
        for extra in [&flag, &file_flag] {
            let mut a = sign_args("v1");
            a.push(extra.clone());
            let out = xnonce_env(&a, &[("XNONCE_SECRET", env)]);
            assert!(out.status.success(), "{env:?} {extra}: {}", stderr(&out));
            assert_eq!(stdout(&out), want, "{env:?} {extra}");
            assert_eq!(
                stderr(&out).contains("process list"),
                extra == &flag,
                "{}",
                stderr(&out)
            );
        }
    }
    // The environment alone.
    let out = xnonce_env(&sign_args("v1"), &[("XNONCE_SECRET", OsStr::new(SECRET))]);
    assert_eq!(stdout(&out), want);
    let out = xnonce_env(&sign_args("v1"), &[("XNONCE_SECRET", OsStr::new(" "))]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid_secret")
            && stderr(&out).contains("XNONCE_SECRET is set but empty"),
        "{}",
        stderr(&out)
    );
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let out = xnonce_env(
            &sign_args("v1"),
            &[("XNONCE_SECRET", OsStr::from_bytes(b"\xff\xfe"))],
        );
        assert_eq!(out.status.code(), Some(2));
        assert!(
            stderr(&out).contains("XNONCE_SECRET is set but is not valid UTF-8"),
            "{}",
            stderr(&out)
        );
    }
    let out = xnonce(&sign_args("v1"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no secret"), "{}", stderr(&out));
    // --secret and --secret-file together are a usage error.
    let mut both = sign_args("v1");
    both.push(flag);
    both.push(file_flag);
    let out = xnonce(&both);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot be used with"),
        "{}",
        stderr(&out)
    );
}

/// `--secret` is warned about even when another input is wrong: the secret is in the process
/// list all the same. The other input's error is still the one reported.
#[test]
fn the_secret_flag_is_warned_about_when_another_input_is_refused() {
    let refused = RefusedPort::new();
    let bad_param = [
        format!("--secret={SECRET}"),
        "--param=no-equals-sign".into(),
    ];
    let bad_body = [
        format!("--secret={SECRET}"),
        "--body-file=/nonexistent/body.json".into(),
    ];
    for (command, code) in [("sign", 2), ("request", 1)] {
        for (extra, error) in [
            (&bad_param, "invalid_param_key"),
            (&bad_body, "invalid_body"),
        ] {
            let mut a = match command {
                "sign" => sign_args("v2"),
                _ => vec![
                    "request".to_string(),
                    "--path=/admin/status".into(),
                    "--client=c".into(),
                    format!("--base-url={}", refused.url()),
                ],
            };
            a.extend(extra.iter().cloned());
            let out = xnonce(&a);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(code), "{command} {extra:?}: {err}");
            assert!(err.contains(error), "{command} {extra:?}: {err}");
            assert!(
                err.contains("--secret shows in the process list"),
                "{command} {extra:?}: {err}"
            );
        }
    }
}

#[test]
fn a_zero_timeout_is_refused() {
    let refused = RefusedPort::new();
    let mut a = vec![
        "request".to_string(),
        "--path=/admin/status".into(),
        "--client=c".into(),
        format!("--secret={SECRET}"),
        format!("--base-url={}", refused.url()),
        "--timeout=0".into(),
    ];
    let out = xnonce(&a);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("at least 1"), "{}", stderr(&out));
    a.pop();
    a.push("--timeout=1".into());
    // A valid timeout gets as far as the network (where nothing listens).
    let out = xnonce(&a);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("connection_failed"),
        "{}",
        stderr(&out)
    );
}

/// Links that browsers and `fetch` would change before sending (dot segments in the path,
/// a v2 authority not in the form they send) are refused, naming the problem; the normal
/// form opens once.
#[tokio::test]
async fn links_that_url_clients_would_change_are_refused() {
    let s = Server::start(&["cli_link2"]);
    let port = s.authority().rsplit_once(':').unwrap().1.to_string();
    let link = |scheme: &str, path: &str, base: &str| {
        let mut a = vec![
            "link".to_string(),
            format!("--scheme={scheme}"),
            format!("--path={path}"),
            "--client=cli_link2".into(),
            format!("--secret-file={}", s.secret_file("cli_link2").display()),
            format!("--base-url={base}"),
        ];
        a.extend(LOGIN.iter().map(|(k, v)| format!("--param={k}={v}")));
        xnonce(&a)
    };
    for scheme in ["v1", "v2"] {
        let out = link(scheme, "/controller1/./action1", &s.base_url);
        assert_eq!(out.status.code(), Some(2), "{scheme}: {}", stdout(&out));
        assert!(stderr(&out).contains("invalid_path"), "{}", stderr(&out));
    }
    for base in [
        format!("http://127.1:{port}"),
        format!("http://127.0.0.1:0{port}"),
    ] {
        let out = link("v2", "/controller1/action1", &base);
        assert_eq!(out.status.code(), Some(2), "{base}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(err.contains("invalid_url"), "{err}");
        assert!(err.contains(&format!("\"127.0.0.1:{port}\"")), "{err}");
    }
    let out = link(
        "v2",
        "/controller1/action1",
        &format!("http://127.0.0.1:{port}"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let url = stdout(&out).trim().to_string();
    let res = reqwest::get(&url).await.unwrap();
    assert_eq!(res.status().as_u16(), 200, "{url}");
}

/// `request` refuses what `sign` refuses before anything is sent: a path without its
/// leading '/', a repeated v1 key (its server would merge it away), CONNECT (whose target
/// is an authority). Nothing listens on the port used: reaching the network would say
/// `connection_failed`. Every failure exits 1 (DESIGN §4: "1 otherwise").
#[test]
fn request_refuses_unsendable_inputs_before_the_network() {
    let refused = RefusedPort::new();
    let base = |scheme: &str, method: &str, path: &str| {
        vec![
            "request".to_string(),
            format!("--scheme={scheme}"),
            format!("--method={method}"),
            format!("--path={path}"),
            "--client=c".into(),
            format!("--secret={SECRET}"),
            format!("--base-url={}", refused.url()),
        ]
    };
    for scheme in ["v1", "v2"] {
        for path in ["y", ""] {
            let out = xnonce(&base(scheme, "GET", path));
            assert_eq!(
                out.status.code(),
                Some(1),
                "{scheme} {path:?}: {}",
                stderr(&out)
            );
            assert!(stderr(&out).contains("invalid_path"), "{}", stderr(&out));
        }
        let out = xnonce(&base(scheme, "CONNECT", "/x/y"));
        assert_eq!(out.status.code(), Some(1), "{scheme}: {}", stderr(&out));
        assert!(stderr(&out).contains("invalid_method"), "{}", stderr(&out));
    }
    let mut a = base("v1", "GET", "/x/y");
    a.extend(["--param=tag=1".into(), "--param=tag=2".into()]);
    let out = xnonce(&a);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("'tag' is given twice"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("connection_failed"),
        "{}",
        stderr(&out)
    );
    // v2 signs both values.
    a[1] = "--scheme=v2".into();
    let out = xnonce(&a);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("connection_failed"),
        "reaches the network: {}",
        stderr(&out)
    );
    // v1 signs no body at all: a body file is refused for that, whatever it holds, rather
    // than for not being JSON (which, once fixed, would only meet the v1 refusal).
    let tmp = TempDir::new("v1-body");
    let body = tmp.path().join("body.txt");
    std::fs::write(&body, "not json").unwrap();
    let mut a = base("v1", "POST", "/x/y");
    a.push(format!("--body-file={}", body.display()));
    let out = xnonce(&a);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("invalid_body") && err.contains("v1 cannot sign") && !err.contains("JSON:"),
        "{err}"
    );
}

/// A URL the HTTP stack cannot send is an input error, reported without the query (which
/// holds the params: here a password).
#[test]
fn an_unsendable_url_is_an_input_error_without_the_query() {
    let long = "a".repeat(70_000);
    let refused = RefusedPort::new();
    let a = vec![
        "request".to_string(),
        "--path=/x/y".into(),
        "--client=c".into(),
        format!("--secret={SECRET}"),
        format!("--base-url={}", refused.url()),
        "--param=password=hunter2".into(),
        format!("--param=k={long}"),
    ];
    let out = xnonce(&a);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("invalid_url") && err.contains(&format!("{}/x/y", refused.url())),
        "{err}"
    );
    assert!(!err.contains("hunter2") && err.len() < 1000, "{err}");
}

/// Output that cannot be written is a failure, not a panic nor a success.
#[cfg(target_os = "linux")]
#[test]
fn a_full_stdout_fails_cleanly() {
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let mut a = sign_args("v2");
    a.push(format!("--secret={SECRET}"));
    let out = Command::new(xnonce_bin())
        .args(&a)
        .stdout(full())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot write the output") && !err.contains("panicked"),
        "{err}"
    );

    let s = Server::start(&["cli_full"]);
    let a = request_args(&s, "v2", "cli_full", "GET", "/admin/status");
    let out = Command::new(xnonce_bin())
        .args(&a)
        .stdout(full())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot write the output"),
        "{}",
        stderr(&out)
    );
}

/// The secret stays out of the parsed command line's `Debug` output.
#[test]
fn debug_output_of_the_command_line_hides_the_secret() {
    use clap::Parser;
    let mut a = vec!["xnonce".to_string()];
    a.extend(sign_args("v2"));
    a.push(format!("--secret={SECRET}"));
    let cli = xnonce::cli::Cli::parse_from(&a);
    let shown = format!("{cli:?}");
    assert!(
        !shown.contains(SECRET) && shown.contains("<redacted>"),
        "{shown}"
    );
}

/// A secret file that is far too long is refused without reading it all; the environment
/// variable drops a byte-order mark as the file does.
#[test]
fn secret_sources_are_read_alike_and_bounded() {
    use std::ffi::OsStr;
    let tmp = TempDir::new("bounded");
    let file = tmp.path().join("secret");
    let mut a = sign_args("v1");
    a.push(format!("--secret-file={}", file.display()));
    // Text that is not ASCII, cut by the limit within a character, is still too long, not
    // "not valid UTF-8".
    for text in ["0".repeat(70_000), "é".repeat(40_000)] {
        std::fs::write(&file, text).unwrap();
        let out = xnonce(&a);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("more than 64 KiB"),
            "{}",
            stderr(&out)
        );
    }

    let mut want_args = sign_args("v1");
    want_args.push(format!("--secret={SECRET}"));
    let want = stdout(&xnonce(&want_args));
    let bom = format!("\u{feff}{SECRET}\n");
    let out = xnonce_env(&sign_args("v1"), &[("XNONCE_SECRET", OsStr::new(&bom))]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), want);
}

/// `xnonce request` of `/x/y` to a one-shot server on 127.0.0.1 that reads the request and
/// answers `answer` (bytes, as sent).
fn request_to_stub(answer: Vec<u8>) -> std::process::Output {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let stub = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let mut conn = accept_within(&listener, Duration::from_secs(20));
        // The whole head (a GET has no body), however it is split: a close with unread
        // bytes could reset the connection before the client reads the answer.
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        conn.write_all(&answer).unwrap();
    });
    let a = vec![
        "request".to_string(),
        "--path=/x/y".into(),
        "--client=c".into(),
        format!("--secret={SECRET}"),
        format!("--base-url=http://127.0.0.1:{port}"),
    ];
    let out = xnonce(&a);
    stub.join().unwrap();
    out
}

/// A redirect is not followed (a signature is for one URL); where it points is said.
#[test]
fn a_redirect_names_its_location() {
    let out = request_to_stub(
        b"HTTP/1.1 302 Found\r\nLocation: https://elsewhere.test/x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("HTTP 302 (Location: https://elsewhere.test/x)"),
        "{}",
        stderr(&out)
    );
}

/// A 2xx body goes to stdout byte for byte: a binary one unchanged (no replacement
/// characters, no added line end), a text one with the line end a terminal needs, and an
/// empty one (a 204, an answer to HEAD) as nothing at all.
#[test]
fn a_body_is_printed_byte_for_byte() {
    let binary: &[u8] = b"\x89PNG\r\n\x1a\n\x00\xff\xfe";
    for (body, want) in [
        (binary, binary.to_vec()),
        (b"ok", b"ok\n".to_vec()),
        (b"", Vec::new()),
    ] {
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let out = request_to_stub([head.as_bytes(), body].concat());
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(out.stdout, want);
    }
}

/// A non-2xx body goes to stderr as a 2xx one goes to stdout: not trimmed, bytes that are
/// not UTF-8 kept (not replaced), a text one with a final line end, an empty one as nothing.
#[test]
fn a_failed_answer_body_is_on_stderr_byte_for_byte() {
    for (body, want) in [
        (
            &b"bad \xff\xfe bytes\n\n"[..],
            &b"bad \xff\xfe bytes\n\n"[..],
        ),
        (b"ottoken already used", b"ottoken already used\n"),
        (b"two lines\n\n", b"two lines\n\n"),
        (b"", b""),
    ] {
        let head = format!(
            "HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let out = request_to_stub([head.as_bytes(), body].concat());
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(out.stdout.is_empty());
        let want = [&b"xnonce: HTTP 500\n"[..], want].concat();
        assert!(out.stderr.ends_with(&want), "{:?}", stderr(&out));
    }
}

/// A proxy from the environment that cannot be reached is named by its variable (never its
/// value, which may hold a password) in the failure, which would otherwise blame the target.
#[test]
fn a_failing_proxy_from_the_environment_is_named() {
    use std::ffi::OsStr;
    // Bound, not listening, for the whole test: connecting to it is refused.
    let dead = RefusedPort::new();
    let proxy = format!("http://user:pr0xy-pw@127.0.0.1:{}", dead.port);
    let a = vec![
        "request".to_string(),
        "--path=/admin/status".into(),
        "--client=c".into(),
        format!("--secret={SECRET}"),
        "--base-url=http://api.example.invalid".into(),
        "--timeout=5".into(),
    ];
    let proxy_env = [
        "http_proxy",
        "HTTP_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "no_proxy",
        "NO_PROXY",
        "REQUEST_METHOD",
    ];
    let run = |env: &[(&str, &str)]| {
        let mut cmd = Command::new(xnonce_bin());
        cmd.args(&a).env_remove("XNONCE_SECRET");
        for v in proxy_env {
            cmd.env_remove(v);
        }
        for (k, v) in env {
            cmd.env(k, OsStr::new(v));
        }
        let out = cmd.output().expect("run xnonce");
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(!err.contains("pr0xy-pw"), "{err}");
        err
    };
    let p = proxy.as_str();
    for (env, named) in [
        (vec![("HTTP_PROXY", p)], "HTTP_PROXY"),
        (vec![("all_proxy", p)], "all_proxy"),
        // Upper case first, as reqwest reads them.
        (vec![("HTTP_PROXY", p), ("http_proxy", p)], "HTTP_PROXY"),
        // An empty one means none: ALL_PROXY is used.
        (vec![("HTTP_PROXY", ""), ("ALL_PROXY", p)], "ALL_PROXY"),
    ] {
        let err = run(&env);
        // Named, and really used: the dead proxy refused the connection.
        assert!(
            err.contains(&format!("through the proxy in {named}"))
                && err.contains("Connection refused"),
            "{env:?}: {err}"
        );
    }
    // Without one, or under CGI (where reqwest ignores them), the target's name alone (its
    // lookup fails: `.invalid` never resolves).
    for env in [vec![], vec![("HTTP_PROXY", p), ("REQUEST_METHOD", "GET")]] {
        let err = run(&env);
        assert!(
            err.contains("api.example.invalid") && !err.contains("proxy"),
            "{env:?}: {err}"
        );
    }
}

/// Messages that cannot be written to stderr (a reader that went away, as in `2>&1 | head
/// -n 1`, or a full disk) do not turn the documented exit status into a panic's 101.
#[cfg(target_os = "linux")]
#[test]
fn an_unwritable_stderr_keeps_the_exit_status() {
    let closed_pipe = || {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        std::process::Stdio::from(writer)
    };
    let full = || {
        std::process::Stdio::from(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
    };
    let run = |args: &[String], stderr: std::process::Stdio| {
        Command::new(xnonce_bin())
            .args(args)
            .env_remove("XNONCE_SECRET")
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .status()
            .unwrap()
            .code()
    };
    // `sign` without a secret: exit 2, with the --secret warning written first.
    let mut unsignable = sign_args("v2");
    unsignable.push("--secret=not a secret".into());
    // `request` to a closed port: exit 1.
    let refused = RefusedPort::new();
    let unreachable: Vec<String> = [
        "request",
        "--path=/admin/status",
        "--client=c",
        &format!("--secret={SECRET}"),
        &format!("--base-url={}", refused.url()),
    ]
    .map(String::from)
    .to_vec();
    for stderr in [closed_pipe, full] {
        assert_eq!(run(&unsignable, stderr()), Some(2));
        assert_eq!(run(&unreachable, stderr()), Some(1));
    }
}

/// `--body-file -` reads the body from standard input, as `--secret-file -` reads the
/// secret: the signature is the one of the same bytes in a file. Both cannot read it.
#[test]
fn a_body_file_of_dash_is_standard_input() {
    let tmp = TempDir::new("body-stdin");
    let body = b"{\"b\": [1, 2], \"a\": 1.50}\n";
    let file = tmp.path().join("body.json");
    std::fs::write(&file, body).unwrap();
    let with_body = |body_file: &str, secret: &str, stdin: &[u8]| {
        let mut a = sign_args("v2");
        a.extend([
            "--method=POST".to_string(),
            format!("--body-file={body_file}"),
            secret.to_string(),
        ]);
        xnonce_with_stdin(&a, stdin)
    };
    let flag = format!("--secret={SECRET}");
    let want = with_body(&file.display().to_string(), &flag, b"");
    assert!(want.status.success(), "{}", stderr(&want));
    let got = with_body("-", &flag, body);
    assert!(got.status.success(), "{}", stderr(&got));
    assert_eq!(stdout(&got), stdout(&want));
    // The secret and the body cannot both come from standard input.
    let both = with_body("-", "--secret-file=-", &[SECRET.as_bytes(), b"\n"].concat());
    assert_eq!(both.status.code(), Some(2), "{}", stderr(&both));
    assert!(
        stderr(&both).contains("standard input") && stdout(&both).is_empty(),
        "{}",
        stderr(&both)
    );
}

/// A refused secret says where it was read from (the file, XNONCE_SECRET or --secret),
/// since a flag beats the variable and a forgotten `export` is easy to miss.
#[test]
fn a_refused_secret_names_where_it_came_from() {
    use std::ffi::OsStr;
    let tmp = TempDir::new("secret-source");
    let empty = tmp.path().join("empty.secret");
    std::fs::write(&empty, "\n").unwrap();
    let legacy = tmp.path().join("legacy.secret");
    std::fs::write(&legacy, "an-old-v1-secret\n").unwrap();
    let refused = RefusedPort::new();
    let request = vec![
        "request".to_string(),
        "--path=/admin/status".into(),
        "--client=c".into(),
        format!("--base-url={}", refused.url()),
    ];
    for (command, code) in [(sign_args("v2"), 2), (request, 1)] {
        for (extra, env, source) in [
            (
                Some(format!("--secret-file={}", empty.display())),
                None,
                empty.display().to_string(),
            ),
            (
                Some(format!("--secret-file={}", legacy.display())),
                Some("20a6"),
                legacy.display().to_string(),
            ),
            (None, Some("an-old-v1-secret"), "XNONCE_SECRET".to_string()),
            (None, Some("two words"), "XNONCE_SECRET".to_string()),
            (
                Some("--secret=an-old-v1-secret".into()),
                None,
                "--secret".into(),
            ),
        ] {
            let mut a = command.clone();
            a.extend(extra.clone());
            let env: Vec<(&str, &OsStr)> = env
                .iter()
                .map(|v| ("XNONCE_SECRET", OsStr::new(*v)))
                .collect();
            let out = xnonce_env(&a, &env);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(code), "{extra:?} {env:?}: {err}");
            assert!(
                err.contains("invalid_secret") && err.contains(&format!("{source}: ")),
                "{:?} {extra:?} {env:?}: {err}",
                a[0]
            );
        }
    }
}

/// `xnonce request` POSTing `body_file` (v2, client `c`) to `/controller2/action5` of
/// `base_url`.
fn post_body_file(base_url: &str, body_file: &std::path::Path) -> std::process::Output {
    xnonce(&[
        "request".to_string(),
        "--method=POST".into(),
        "--path=/controller2/action5".into(),
        "--client=c".into(),
        format!("--secret={SECRET}"),
        format!("--base-url={base_url}"),
        format!("--body-file={}", body_file.display()),
    ])
}

/// `--body-file` holds at most 64 MiB (what the command keeps in memory): a longer
/// file, standard input or an endless `/dev/zero` is refused as bad input (`invalid_body`,
/// exit 2 for `sign`, 1 for `request`) without being read into memory to the end.
#[test]
fn a_body_file_over_64_mib_is_refused_unread() {
    let tmp = TempDir::new("body-limit");
    let limit = 64usize << 20;
    let at_limit = tmp.path().join("at-limit.json");
    std::fs::write(&at_limit, vec![b' '; limit]).unwrap();
    let over = tmp.path().join("over.json");
    std::fs::write(&over, vec![b' '; limit + 1]).unwrap();
    let sign = |body_file: &str, stdin: &[u8]| {
        let mut a = sign_args("v2");
        a.extend([
            "--method=POST".to_string(),
            format!("--body-file={body_file}"),
            format!("--secret={SECRET}"),
        ]);
        xnonce_with_stdin(&a, stdin)
    };
    let out = sign(&at_limit.display().to_string(), b"");
    assert!(out.status.success(), "{}", stderr(&out));
    for (file, stdin) in [
        (over.display().to_string(), vec![]),
        ("-".into(), vec![b' '; limit + 1]),
    ] {
        let out = sign(&file, &stdin);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{file}: {err}");
        assert!(
            err.contains("invalid_body") && err.contains("more than 64 MiB"),
            "{file}: {err}"
        );
        assert!(stdout(&out).is_empty(), "{file}: {err}");
    }
    // An endless file: refused after the limit, not read on (a memory cap makes a command
    // that reads it all fail rather than take the machine's memory).
    if std::path::Path::new("/dev/zero").exists() {
        let mut a = sign_args("v2");
        a.extend([
            "--method=POST".to_string(),
            "--body-file=/dev/zero".into(),
            format!("--secret={SECRET}"),
        ]);
        let out = Command::new("sh")
            .arg("-c")
            .arg("ulimit -v 1000000 && exec \"$0\" \"$@\"")
            .arg(xnonce_bin())
            .args(&a)
            .env_remove("XNONCE_SECRET")
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("more than 64 MiB"), "{err}");
    }
    // `request`: the same refusal, before anything is sent (nothing listens there).
    let refused = RefusedPort::new();
    let out = post_body_file(&refused.url(), &over);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("invalid_body") && err.contains("more than 64 MiB"),
        "{err}"
    );
    assert!(!err.contains("connection_failed"), "{err}");
}

/// A `--ca-file` that cannot be read, or holds no PEM certificate, is bad input on the
/// command line, not a `connection_failed`: it is reported (exit 1, as every failed
/// `request`) before any connection is made, naming the file and never echoing its content.
#[test]
fn an_unusable_ca_file_is_bad_input_named_before_connecting() {
    let tmp = TempDir::new("ca-file");
    let missing = tmp.path().join("missing.pem");
    let not_pem = tmp.path().join("not-a-ca.pem");
    // Say, a secret given as --ca-file by mistake: its content must not be shown.
    std::fs::write(&not_pem, format!("{SECRET}\n")).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let not_der = tmp.path().join("not-der.pem");
    std::fs::write(
        &not_der,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    // A block there is, but broken: saying the file holds none would send the user looking
    // for the wrong file.
    let not_base64 = tmp.path().join("not-base64.pem");
    std::fs::write(
        &not_base64,
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let no_end = tmp.path().join("no-end.pem");
    std::fs::write(&no_end, "-----BEGIN CERTIFICATE-----\nAAAA\n").unwrap();
    for (file, why) in [
        (missing.clone(), "No such file"),
        (not_pem.clone(), "no PEM CERTIFICATE"),
        (not_der.clone(), "not a certificate"),
        (not_base64.clone(), "cannot be read as PEM"),
        (no_end.clone(), "cannot be read as PEM"),
        (tmp.path().to_path_buf(), "cannot use"),
    ] {
        let out = xnonce(&[
            "request".to_string(),
            "--path=/admin/status".into(),
            "--client=c".into(),
            format!("--secret={SECRET}"),
            format!("--base-url={base_url}"),
            format!("--ca-file={}", file.display()),
        ]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!("--ca-file {}: ", file.display())) && err.contains(why),
            "{err}"
        );
        assert!(!err.contains("connection_failed"), "{err}");
        assert!(!err.contains(&SECRET[8..]), "{err}");
        assert!(
            matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "{file:?}: a connection was made"
        );
    }
    // An endless file is refused after a few MiB, not read on (the memory cap makes a
    // command that reads it all fail rather than take the machine's memory).
    if std::path::Path::new("/dev/zero").exists() {
        let out = Command::new("sh")
            .arg("-c")
            .arg("ulimit -v 1000000 && exec \"$0\" \"$@\"")
            .arg(xnonce_bin())
            .args([
                "request",
                "--path=/admin/status",
                "--client=c",
                &format!("--secret={SECRET}"),
                &format!("--base-url={base_url}"),
                "--ca-file=/dev/zero",
            ])
            .env_remove("XNONCE_SECRET")
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("--ca-file /dev/zero: it holds more than"),
            "{err}"
        );
    }
}

/// A `--body-file` nested deeper than the 127 levels serde_json checks is refused saying so,
/// not that it "must hold JSON" (it is JSON); 127 levels go through to the network.
#[test]
fn a_body_file_nested_too_deep_says_so() {
    let tmp = TempDir::new("body-depth");
    let refused = RefusedPort::new();
    let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let run = |levels: usize| {
        let file = tmp.path().join(format!("{levels}.json"));
        std::fs::write(&file, nested(levels)).unwrap();
        post_body_file(&refused.url(), &file)
    };
    let out = run(128);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("invalid_body") && err.contains("nests deeper than the 127 levels"),
        "{err}"
    );
    assert!(
        !err.contains("must hold JSON") && !err.contains("not JSON"),
        "{err}"
    );
    let out = run(127);
    assert!(
        stderr(&out).contains("connection_failed"),
        "{}",
        stderr(&out)
    );
}

/// `link` and `request` read a base URL alike, as the requester's URL parser (WHATWG, as
/// browsers) reads it: the scheme in any case (RFC 3986 §3.1) and surrounding whitespace
/// trimmed. Each link opens once, each request is accepted.
#[tokio::test]
async fn link_and_request_read_a_base_url_alike() {
    let s = Server::start(&["cli_case"]);
    let authority = s.authority();
    for scheme in ["v1", "v2"] {
        for base in [
            format!("HTTP://{authority}"),
            format!("Http://{authority}/"),
            format!(" http://{authority}"),
            format!("http://{authority}\n"),
            format!("\t HTTP://{authority} "),
        ] {
            let common = |command: &str| {
                let mut a = vec![
                    command.to_string(),
                    format!("--scheme={scheme}"),
                    "--path=/controller1/action1".into(),
                    "--client=cli_case".into(),
                    format!("--secret-file={}", s.secret_file("cli_case").display()),
                    format!("--base-url={base}"),
                ];
                a.extend(LOGIN.iter().map(|(k, v)| format!("--param={k}={v}")));
                a
            };
            let out = xnonce(&common("link"));
            assert!(
                out.status.success(),
                "{scheme} link {base:?}: {}",
                stderr(&out)
            );
            let url = stdout(&out).trim().to_string();
            assert!(
                url.starts_with(&format!("http://{authority}/controller1/action1?")),
                "{scheme} {base:?}: {url}"
            );
            let res = reqwest::get(&url).await.unwrap();
            assert_eq!(res.status().as_u16(), 200, "{scheme} {base:?}: {url}");
            let out = xnonce(&common("request"));
            assert!(
                out.status.success(),
                "{scheme} request {base:?}: {}",
                stderr(&out)
            );
        }
    }
}

/// A v2 server URL whose path prefix holds a bad `%` escape (`/a%zz`): `request` refuses it
/// as an `invalid_url` naming the escape, before anything is sent (nothing listens on the
/// port), rather than failing as if the path could not be sent. `link` writes the prefix as
/// given (PROTOCOL §9: it is not signed; the proxy in front strips it).
#[test]
fn a_v2_base_url_with_a_bad_escape_is_refused_by_request_and_kept_by_link() {
    let refused = RefusedPort::new();
    let base = format!("{}/a%zz", refused.url());
    let run = |command: &str| {
        xnonce(&[
            command.to_string(),
            "--path=/x/y".into(),
            "--client=c".into(),
            format!("--secret={SECRET}"),
            format!("--base-url={base}"),
        ])
    };
    let out = run("request");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("invalid_url") && err.contains("\"%zz\""),
        "{err}"
    );
    let out = run("link");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with(&format!("{base}/x/y?ottoken=")),
        "{}",
        stdout(&out)
    );
}

/// `--host` is checked alike in both schemes, in every command: v1 does not sign it, but
/// `request` sends it as `Host` (an empty one is no host at all), so an empty or malformed
/// one is the `invalid_host` usage error v2 gives, before anything is sent (nothing listens
/// on the port). A valid one in v1 is fine.
#[test]
fn an_empty_host_is_refused_in_both_schemes() {
    let refused = RefusedPort::new();
    for scheme in ["v1", "v2"] {
        for host in ["", " ", "bad host"] {
            for (command, status) in [("sign", 2), ("link", 2), ("request", 1)] {
                let mut a = vec![
                    command.to_string(),
                    format!("--scheme={scheme}"),
                    "--path=/x/y".into(),
                    "--client=c".into(),
                    format!("--secret={SECRET}"),
                    format!("--host={host}"),
                ];
                if command != "sign" {
                    a.push(format!("--base-url={}", refused.url()));
                }
                let out = xnonce(&a);
                let err = stderr(&out);
                assert_eq!(
                    out.status.code(),
                    Some(status),
                    "{scheme} {command} {host:?}: {err}"
                );
                assert!(
                    err.contains("invalid_host"),
                    "{scheme} {command} {host:?}: {err}"
                );
            }
        }
    }
    let out = xnonce(&[
        "sign".into(),
        "--scheme=v1".into(),
        "--path=/x/y".into(),
        "--client=c".into(),
        format!("--secret={SECRET}"),
        "--host=api.example.com".into(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}
