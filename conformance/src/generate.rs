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
    let mut cases = vec![
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
    ];
    cases.extend(v2_link_rule_inputs());
    cases
}

/// A v2 link whose signed host is the base URL's authority alone.
fn v2_link(id: &str, path: &str, url: &str) -> Vector {
    link(with(v2(id, "GET", path, &[]), |v| v.host = None), url)
}

/// v2 cases of PROTOCOL §9's rules on base URLs (step 1) and link paths (step 6).
fn v2_link_rule_inputs() -> Vec<Vector> {
    let mut cases = vec![
        // Accepted: authorities as WHATWG URL clients send them (ASCII case aside).
        v2_link("v2-link-ipv6-port", "/admin/status", "http://[::1]:8080"),
        v2_link(
            "v2-link-ipv6-upper-prefix",
            "/admin/status",
            "https://[2001:DB8::1]/api/",
        ),
        v2_link(
            "v2-link-ipv6-mapped",
            "/admin/status",
            "http://[::ffff:102:304]:9000",
        ),
        v2_link("v2-link-ipv4", "/admin/status", "http://127.0.0.1"),
        link(
            v2("v2-link-default-port", "GET", "/admin/status", &[]),
            "https://API.Example.com:443/",
        ),
        v2_link("v2-link-port-zero", "/admin/status", "http://0.0.0.0:0"),
        v2_link(
            "v2-link-port-max",
            "/admin/status",
            "http://localhost:65535",
        ),
        v2_link(
            "v2-link-numeric-labels",
            "/admin/status",
            "http://1.2.3.4.example",
        ),
        // Dots that are not dot segments, and what the canonical path escapes, are kept.
        v2_link(
            "v2-link-dots-kept",
            "/a/..b/c.",
            "https://example.com/v1.2/..api",
        ),
        v2_link(
            "v2-link-path-escaped",
            "/files/{id}/a\\b\"c",
            "https://api.example.com",
        ),
    ];
    // Refused: the base URL (step 1).
    let bad_urls = [
        ("v2-err-link-ipv6-zeros", "http://[0:0::1]:18434"),
        ("v2-err-link-ipv6-uncompressed", "http://[1:0:0:0:0:0:0:1]"),
        ("v2-err-link-ipv6-leading-zero", "https://[2001:0db8::1]"),
        ("v2-err-link-ipv6-later-run", "http://[1:0:0:2::3:4]"),
        ("v2-err-link-ipv6-one-zero", "http://[1::2:3:4:5:6:7]"),
        ("v2-err-link-ipv6-dotted", "http://[::ffff:1.2.3.4]"),
        ("v2-err-link-ipv6-unclosed", "http://[::1"),
        ("v2-err-link-bracket-name", "http://a[b]"),
        ("v2-err-link-ipv4-short", "http://127.1:8080"),
        ("v2-err-link-ipv4-hex", "http://0x7f.0.0.1"),
        ("v2-err-link-ipv4-octal", "http://0177.0.0.1"),
        ("v2-err-link-ipv4-trailing-dot", "http://127.0.0.1."),
        ("v2-err-link-ipv4-five-parts", "http://1.2.3.4.5"),
        ("v2-err-link-ipv4-range", "http://256.1.1.1"),
        ("v2-err-link-ends-in-number", "http://example.123"),
        ("v2-err-link-ends-in-hex", "http://example.0x1f"),
        ("v2-err-link-port-leading-zero", "http://127.0.0.1:018434"),
        ("v2-err-link-port-empty", "http://api.example.com:"),
        ("v2-err-link-port-range", "http://api.example.com:65536"),
        ("v2-err-link-port-two", "http://api.example.com:80:80"),
        ("v2-err-link-prefix-dot", "https://api.example.com/./"),
        (
            "v2-err-link-prefix-escaped-dots",
            "https://api.example.com/a/%2E%2e/",
        ),
        ("v2-err-link-prefix-char", "https://api.example.com/{v}"),
        ("v2-err-link-backslash", "https://api.example.com\\api"),
    ];
    for (id, url) in bad_urls {
        cases.push(error(v2_link(id, "/admin/status", url), "invalid_url"));
    }
    cases.extend([
        // Step 1 leaves the name to §6.2 (step 3).
        error(
            v2_link("v2-err-link-empty-name", "/admin/status", "http://:8080"),
            "invalid_host",
        ),
        // Step 6: the canonical path must have no dot segment, escaped or not.
        error(
            v2_link("v2-err-link-path-dot", "/a/./b", "https://api.example.com"),
            "invalid_path",
        ),
        error(
            v2_link(
                "v2-err-link-path-escaped-dots",
                "/a/%2E%2e/b",
                "https://api.example.com",
            ),
            "invalid_path",
        ),
        // ... checked after signing (§10 step 6): a bad key is reported first.
        error(
            link(
                with(
                    v2("v2-err-link-path-after-key", "GET", "/a/../b", &[("", "x")]),
                    |v| v.host = None,
                ),
                "https://api.example.com",
            ),
            "invalid_param_key",
        ),
    ]);
    cases
}

/// Extra v1 cases: links and errors (the ground-truth file has neither).
pub fn v1_extra_inputs() -> Vec<Vector> {
    let demo = [
        ("username", "phil"),
        ("password", "hello phil"),
        ("opt1", "this"),
    ];
    let mut cases = vec![
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
                "v1x-err-key-repeated",
                "GET",
                "/search/q",
                &[("tag", "a"), ("n", "1"), ("tag", "b")],
            ),
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
    ];
    cases.extend(v1_link_rule_inputs());
    cases
}

/// v1 cases of PROTOCOL §9's rules on base URLs (step 1) and link paths (step 6).
fn v1_link_rule_inputs() -> Vec<Vector> {
    let v1_link = |id: &str, path: &str, url: &str| link(v1(id, "GET", path, &[]), url);
    let mut cases = vec![
        // v1 does not sign the authority: it is left as typed.
        v1_link(
            "v1x-link-authority-as-typed",
            "/admin/status",
            "http://127.1:08080",
        ),
        v1_link(
            "v1x-link-ipv6-as-typed",
            "/admin/status",
            "http://[0:0::1]:03000/",
        ),
        v1_link(
            "v1x-link-dots-kept",
            "/a/..b/c.",
            "https://api.example.com/v1.2/",
        ),
        v1_link(
            "v1x-link-path-escaped",
            "/files/r%C3%A9sum%C3%A9/%7Bid%7D",
            "http://localhost:3000",
        ),
    ];
    // Refused: the path as given (step 6).
    let bad_paths = [
        ("v1x-err-link-path-dot", "/controller1/./action1"),
        ("v1x-err-link-path-escaped-dots", "/a/.%2E/b"),
        ("v1x-err-link-path-quote", "/a\"b"),
        ("v1x-err-link-path-brace", "/files/{id}"),
        ("v1x-err-link-path-caret", "/a^b"),
        // Kept by the WHATWG URL standard, but Chromium sends it as `%7C`.
        ("v1x-err-link-path-pipe", "/a|b"),
        ("v1x-err-link-path-unicode", "/files/résumé"),
        ("v1x-err-link-path-backslash", "/a\\b"),
    ];
    for (id, path) in bad_paths {
        cases.push(error(
            v1_link(id, path, "http://localhost:3000"),
            "invalid_path",
        ));
    }
    // Refused: the base URL (step 1); its prefix follows the same rules.
    let bad_urls = [
        ("v1x-err-link-prefix-dot", "http://localhost:3000/api/.."),
        (
            "v1x-err-link-prefix-escaped-dot",
            "http://localhost:3000/%2e/",
        ),
        ("v1x-err-link-prefix-char", "http://localhost:3000/pré"),
        ("v1x-err-link-backslash", "http://localhost:3000\\api"),
        // The authority is left as typed, but must be one URL clients can reach.
        ("v1x-err-link-port-range", "http://localhost:99999"),
        ("v1x-err-link-port-letters", "http://localhost:30a0"),
        ("v1x-err-link-ipv6-unclosed", "http://[::1/api"),
        ("v1x-err-link-bracket-in-name", "http://a[b]:3000"),
        ("v1x-err-link-no-host", "http://:3000"),
    ];
    for (id, url) in bad_urls {
        cases.push(error(v1_link(id, "/admin/status", url), "invalid_url"));
    }
    // The path is checked after signing (§10 step 6): a bad client id is reported first.
    cases.push(error(
        with(
            v1_link(
                "v1x-err-link-path-after-client",
                "/a/./b",
                "http://localhost:3000",
            ),
            |v| v.client = "a b".into(),
        ),
        "invalid_client_id",
    ));
    cases
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
