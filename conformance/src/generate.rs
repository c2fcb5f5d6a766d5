//! The generator of `xnonce-v2.json` and `xnonce-v1-extra.json`: inputs are listed here, every
//! output is computed by `xnonce-core`. CI regenerates and fails on any difference.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::check::run;
use crate::vector::Vector;

const S1: &str = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd";
const S2: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const N1: &str = "00112233445566778899aabbccddeeff";
const N2: &str = "f0e1d2c3b4a5968778695a4b3c2d1e0f";
const T0: u64 = 1_700_000_000_000;

fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn base(
    id: &str,
    scheme: Option<&str>,
    method: &str,
    path: &str,
    params: &[(&str, &str)],
) -> Vector {
    Vector {
        id: id.to_string(),
        scheme: scheme.map(str::to_string),
        method: method.to_string(),
        path: path.to_string(),
        params: p(params),
        client: "test_client".to_string(),
        secret: S1.to_string(),
        timestamp: T0,
        host: None,
        body: None,
        nonce: None,
        base_url: None,
        canonical: None,
        x_nonce: None,
        ottoken: None,
        ottoken_query_value: None,
        link: None,
        error: None,
    }
}

fn v2(id: &str, method: &str, path: &str, params: &[(&str, &str)]) -> Vector {
    let mut v = base(id, Some("v2"), method, path, params);
    v.host = Some("api.example.com".to_string());
    v.nonce = Some(N1.to_string());
    v
}

fn v1(id: &str, method: &str, path: &str, params: &[(&str, &str)]) -> Vector {
    base(id, None, method, path, params)
}

fn with(mut v: Vector, f: impl FnOnce(&mut Vector)) -> Vector {
    f(&mut v);
    v
}

fn body(v: Vector, bytes: &[u8]) -> Vector {
    with(v, |v| v.body = Some(STANDARD.encode(bytes)))
}

fn link(v: Vector, url: &str) -> Vector {
    with(v, |v| v.base_url = Some(url.to_string()))
}

fn error(v: Vector, code: &str) -> Vector {
    with(v, |v| v.error = Some(code.to_string()))
}

/// The v2 cases (inputs only).
pub fn v2_inputs() -> Vec<Vector> {
    let demo = [
        ("username", "phil"),
        ("password", "hello phil"),
        ("opt1", "this"),
    ];
    vec![
        v2("v2-get-basic", "GET", "/controller1/action1", &demo),
        v2(
            "v2-get-reordered",
            "GET",
            "/controller1/action1",
            &[
                ("opt1", "this"),
                ("password", "hello phil"),
                ("username", "phil"),
            ],
        ),
        v2("v2-method-lowercase", "get", "/controller1/action1", &demo),
        v2("v2-no-params", "GET", "/admin/status", &[]),
        v2(
            "v2-empty-value",
            "GET",
            "/controller1/action1",
            &[("username", ""), ("opt1", "x")],
        ),
        v2(
            "v2-empty-values-only",
            "GET",
            "/search/q",
            &[("a", ""), ("b", "")],
        ),
        v2(
            "v2-duplicate-keys",
            "GET",
            "/search/q",
            &[("tag", "b"), ("tag", "a"), ("tag", "c")],
        ),
        v2(
            "v2-duplicate-keys-reordered",
            "GET",
            "/search/q",
            &[("tag", "c"), ("tag", "a"), ("tag", "b")],
        ),
        v2(
            "v2-duplicate-key-same-value",
            "GET",
            "/search/q",
            &[("x", "1"), ("x", "1")],
        ),
        v2(
            "v2-sort-key-prefix",
            "GET",
            "/search/q",
            &[("ab", "1"), ("a", "2"), ("a.b", "3"), ("a_b", "4")],
        ),
        v2(
            "v2-unicode-latin",
            "PUT",
            "/records/update",
            &[("id", "42"), ("name", "Zoë Ångström")],
        ),
        v2(
            "v2-unicode-cjk",
            "PATCH",
            "/records/patch",
            &[("note", "日本語のテキスト")],
        ),
        v2(
            "v2-unicode-emoji",
            "GET",
            "/emoji/echo",
            &[("text", "ok 👍🏽 done")],
        ),
        v2(
            "v2-unicode-key",
            "GET",
            "/search/q",
            &[("clé", "valeur"), ("名前", "値")],
        ),
        v2(
            "v2-reserved-chars",
            "GET",
            "/some_controller/do",
            &[("rand", "this & this = a question?"), ("b", "123")],
        ),
        v2(
            "v2-plus-and-percent",
            "POST",
            "/payments/charge",
            &[("memo", "coffee + cake = 100%"), ("amount", "10.50")],
        ),
        v2(
            "v2-newline-value",
            "POST",
            "/notes/create",
            &[("body", "line one\nline two"), ("tags", "x,y;z")],
        ),
        v2(
            "v2-key-with-space",
            "GET",
            "/search/q",
            &[("full name", "Ada Lovelace")],
        ),
        v2(
            "v2-tilde-unreserved",
            "GET",
            "/files/fetch",
            &[("v", "~draft*"), ("name", "report 2013/11.pdf")],
        ),
        v2("v2-path-spaces", "GET", "/files/my doc.txt", &[]),
        v2(
            "v2-path-escaped-equivalent",
            "GET",
            "/files/my%20doc%2Etxt",
            &[],
        ),
        v2("v2-path-unicode", "GET", "/files/résumé", &[]),
        v2(
            "v2-path-deep",
            "DELETE",
            "/api/v1/users/42",
            &[("hard", "true")],
        ),
        with(v2("v2-host-port", "GET", "/admin/status", &[]), |v| {
            v.host = Some("127.0.0.1:8080".into())
        }),
        with(
            v2("v2-host-default-https-port", "GET", "/admin/status", &[]),
            |v| v.host = Some("API.Example.com:443".into()),
        ),
        with(
            v2("v2-host-default-http-port", "GET", "/admin/status", &[]),
            |v| v.host = Some("api.example.com:80".into()),
        ),
        with(v2("v2-host-ipv6", "GET", "/admin/status", &[]), |v| {
            v.host = Some("[::1]:9000".into())
        }),
        with(v2("v2-host-other", "GET", "/admin/status", &[]), |v| {
            v.host = Some("staging.example.com".into())
        }),
        body(
            v2("v2-json-body", "POST", "/controller2/action1", &[]),
            br#"{"opt1":"this","opt3":"go for it"}"#,
        ),
        body(
            v2(
                "v2-json-body-with-query",
                "POST",
                "/controller2/action1",
                &[("opt1", "this")],
            ),
            br#"{"opt3":"go for it"}"#,
        ),
        body(
            v2("v2-empty-body", "POST", "/controller2/action3", &[]),
            b"",
        ),
        body(
            v2(
                "v2-binary-body",
                "PUT",
                "/blobs/upload",
                &[("name", "x.bin")],
            ),
            &[0, 1, 2, 255, 254, 10, 13],
        ),
        body(
            v2("v2-body-unicode", "POST", "/notes/create", &[]),
            "{\"note\":\"Zoë 👍🏽\"}".as_bytes(),
        ),
        with(
            v2("v2-other-nonce", "GET", "/controller1/action1", &demo),
            |v| v.nonce = Some(N2.into()),
        ),
        with(
            v2(
                "v2-other-client",
                "GET",
                "/api/v1/users/list",
                &[("page", "2")],
            ),
            |v| {
                v.client = "svc.billing".into();
                v.secret = S2.into();
            },
        ),
        with(
            v2("v2-secret-uppercase-hex", "GET", "/admin/status", &[]),
            |v| v.secret = S1.to_uppercase(),
        ),
        with(v2("v2-timestamp-zero", "GET", "/admin/status", &[]), |v| {
            v.timestamp = 0
        }),
        with(v2("v2-timestamp-max", "GET", "/admin/status", &[]), |v| {
            v.timestamp = (1 << 53) - 1
        }),
        link(
            v2("v2-link-basic", "GET", "/controller1/action1", &demo),
            "https://api.example.com",
        ),
        link(
            v2(
                "v2-link-unicode",
                "GET",
                "/files/fetch",
                &[("name", "résumé 2013.pdf")],
            ),
            "https://api.example.com/",
        ),
        link(
            with(v2("v2-link-port", "GET", "/admin/status", &[]), |v| {
                v.host = None
            }),
            "http://127.0.0.1:8080",
        ),
        link(
            with(
                v2("v2-link-prefix", "GET", "/controller2/action3", &[]),
                |v| v.host = None,
            ),
            "https://example.com/api",
        ),
        link(
            v2(
                "v2-link-duplicates",
                "GET",
                "/search/q",
                &[("tag", "b"), ("tag", "a")],
            ),
            "https://api.example.com",
        ),
        // Errors: signing must fail with exactly this code.
        error(
            with(v2("v2-err-no-host", "GET", "/admin/status", &[]), |v| {
                v.host = None
            }),
            "invalid_host",
        ),
        error(
            with(v2("v2-err-bad-host", "GET", "/admin/status", &[]), |v| {
                v.host = Some("bad host".into())
            }),
            "invalid_host",
        ),
        error(
            with(v2("v2-err-idn-host", "GET", "/admin/status", &[]), |v| {
                v.host = Some("bücher.example".into())
            }),
            "invalid_host",
        ),
        error(
            with(v2("v2-err-short-nonce", "GET", "/admin/status", &[]), |v| {
                v.nonce = Some("abc".into())
            }),
            "invalid_nonce",
        ),
        error(
            with(
                v2("v2-err-uppercase-nonce", "GET", "/admin/status", &[]),
                |v| v.nonce = Some(N1.to_uppercase()),
            ),
            "invalid_nonce",
        ),
        error(
            with(
                v2("v2-err-secret-not-hex", "GET", "/admin/status", &[]),
                |v| v.secret = "not-a-hex-secret".into(),
            ),
            "invalid_secret",
        ),
        error(
            with(
                v2("v2-err-secret-empty", "GET", "/admin/status", &[]),
                |v| v.secret = String::new(),
            ),
            "invalid_secret",
        ),
        error(
            with(
                v2("v2-err-client-space", "GET", "/admin/status", &[]),
                |v| v.client = "bad client".into(),
            ),
            "invalid_client_id",
        ),
        error(
            with(
                v2("v2-err-client-empty", "GET", "/admin/status", &[]),
                |v| v.client = String::new(),
            ),
            "invalid_client_id",
        ),
        error(
            v2("v2-err-method-digits", "G3T", "/admin/status", &[]),
            "invalid_method",
        ),
        error(
            v2("v2-err-method-empty", "", "/admin/status", &[]),
            "invalid_method",
        ),
        error(
            v2("v2-err-path-relative", "GET", "admin/status", &[]),
            "invalid_path",
        ),
        error(
            v2("v2-err-path-query", "GET", "/admin/status?x=1", &[]),
            "invalid_path",
        ),
        error(
            v2("v2-err-path-bad-escape", "GET", "/admin/%zzstatus", &[]),
            "invalid_path",
        ),
        error(
            v2("v2-err-key-empty", "GET", "/search/q", &[("", "x")]),
            "invalid_param_key",
        ),
        error(
            v2(
                "v2-err-key-ottoken",
                "GET",
                "/search/q",
                &[("ottoken", "x")],
            ),
            "invalid_param_key",
        ),
        error(
            with(
                v2("v2-err-timestamp-too-big", "GET", "/admin/status", &[]),
                |v| v.timestamp = 1 << 53,
            ),
            "invalid_timestamp",
        ),
        error(
            link(
                body(v2("v2-err-link-body", "POST", "/notes/create", &[]), b"{}"),
                "https://api.example.com",
            ),
            "invalid_body",
        ),
        error(
            link(
                v2("v2-err-link-bad-url", "GET", "/admin/status", &[]),
                "ftp://api.example.com",
            ),
            "invalid_url",
        ),
        error(
            link(
                v2("v2-err-link-host-differs", "GET", "/admin/status", &[]),
                "https://other.example.com",
            ),
            "invalid_host",
        ),
    ]
}

/// Extra v1 cases: links and errors (the ground-truth file has neither).
pub fn v1_extra_inputs() -> Vec<Vector> {
    let demo = [
        ("username", "phil"),
        ("password", "hello phil"),
        ("opt1", "this"),
    ];
    vec![
        link(
            v1("v1x-link-basic", "GET", "/controller1/action1", &demo),
            "http://127.0.0.1:8080",
        ),
        link(
            v1("v1x-link-no-params", "GET", "/admin/status", &[]),
            "https://api.example.com/",
        ),
        link(
            v1(
                "v1x-link-escaped",
                "GET",
                "/some_controller/do",
                &[("rand", "this & this = a question?")],
            ),
            "http://localhost:3000",
        ),
        error(
            v1(
                "v1x-err-key-space",
                "GET",
                "/search/q",
                &[("full name", "x")],
            ),
            "invalid_param_key",
        ),
        error(
            v1("v1x-err-key-bracket", "GET", "/search/q", &[("a[]", "x")]),
            "invalid_param_key",
        ),
        error(
            v1("v1x-err-key-unicode", "GET", "/search/q", &[("clé", "x")]),
            "invalid_param_key",
        ),
        error(
            v1(
                "v1x-err-key-ottoken",
                "GET",
                "/search/q",
                &[("ottoken", "x")],
            ),
            "invalid_param_key",
        ),
        error(
            with(
                v1("v1x-err-client-space", "GET", "/admin/status", &[]),
                |v| v.client = "a b".into(),
            ),
            "invalid_client_id",
        ),
        error(
            with(
                v1("v1x-err-secret-empty", "GET", "/admin/status", &[]),
                |v| v.secret = String::new(),
            ),
            "invalid_secret",
        ),
        error(
            v1("v1x-err-method", "GET!", "/admin/status", &[]),
            "invalid_method",
        ),
        error(
            v1("v1x-err-path-space", "GET", "/files/my doc", &[]),
            "invalid_path",
        ),
        error(
            v1("v1x-err-path-relative", "GET", "files", &[]),
            "invalid_path",
        ),
        error(
            body(v1("v1x-err-body", "POST", "/notes/create", &[]), b"{}"),
            "invalid_body",
        ),
        error(
            link(
                v1("v1x-err-link-url", "GET", "/admin/status", &[]),
                "api.example.com",
            ),
            "invalid_url",
        ),
    ]
}

/// Fills a case's outputs from core (error cases keep only their code).
pub fn complete(mut v: Vector) -> Vector {
    if v.error.is_some() {
        return v;
    }
    let out = run(&v).unwrap_or_else(|e| panic!("generator case {} failed to sign: {e}", v.id));
    v.canonical = Some(out.canonical);
    v.x_nonce = Some(out.x_nonce);
    if v.scheme.is_none() {
        v.ottoken_query_value = Some(xnonce_core::ottoken::query_value(&out.ottoken));
    }
    v.ottoken = Some(out.ottoken);
    v.link = out.link;
    v
}

/// The generated files: (file name, pretty JSON).
pub fn files() -> Vec<(&'static str, String)> {
    let render = |cases: Vec<Vector>| {
        let done: Vec<Vector> = cases.into_iter().map(complete).collect();
        serde_json::to_string_pretty(&done).expect("vectors serialise") + "\n"
    };
    vec![
        ("xnonce-v2.json", render(v2_inputs())),
        ("xnonce-v1-extra.json", render(v1_extra_inputs())),
    ]
}
