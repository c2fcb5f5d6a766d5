//! The `xnonce` command: every shared vector through `sign`/`link`, and `request`/`link`
//! round trips against a real `xnonce-server`.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use base64::Engine as _;
use common::{now_ms, xnonce_bin, Server, TempDir};
use serde_json::Value;

fn xnonce(args: &[String]) -> Output {
    Command::new(xnonce_bin())
        .args(args)
        .env_remove("XNONCE_SECRET")
        .output()
        .expect("run xnonce")
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
        let body: Value = serde_json::from_str(&stdout(&out)).expect("JSON answer on stdout");
        assert_eq!(body["opt1"], "THIS", "{body}");
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
        // A forced stale timestamp is sent as given, and its refusal stands.
        let mut forced = with_params(
            request_args(&s, scheme, client, "GET", "/controller1/action1"),
            LOGIN,
        );
        forced.push(format!("--timestamp={}", now_ms() - 120_000));
        let out = xnonce(&forced);
        assert_eq!(out.status.code(), Some(1), "{scheme}: {}", stdout(&out));
        assert!(stderr(&out).contains("401"), "{}", stderr(&out));

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
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    gone.retain(|a| !a.starts_with("--base-url="));
    gone.push(format!("--base-url=http://127.0.0.1:{port}"));
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
