//! em-secure-api's own HTTP spec (`spec/api_http_spec.rb`, its newest version), replayed step
//! by step against `xnonce-server`'s demo (real server in-process on 127.0.0.1:0, real HTTP,
//! our v1 [`Requester`] in the role of the original Ruby requester): every step asserts the
//! status and the body the original server answers. Each test is named after the spec's
//! `describe` / `it`, each step after the spec's comment or expectation.
//!
//! The original's requester never corrects its clock from a server-time hint, so clock
//! correction is off here.

use std::time::Duration;

use xnonce::{RequestOptions, Requester, Scheme};
use xnonce_server::Config;

mod common;

use common::{Dirs, InProcess};

/// The demo server running in-process with its own data dir.
struct Demo {
    // Declared first: the server stops before its data dir is removed.
    server: InProcess,
    dirs: Dirs,
}

impl Demo {
    fn start(tag: &str) -> Demo {
        let dirs = Dirs::new(&format!("spec-{tag}"));
        let config = Config {
            key_file: Some(dirs.key.clone()),
            ..Config::demo()
        };
        Demo {
            server: InProcess::start(config, dirs.data.clone()),
            dirs,
        }
    }

    /// `SecureApi::ClientSecret.create(name, :replace_client=>true)` and
    /// `ReSvcClient::Requester.new $server, name, secret`.
    fn requester(&self, client: &str) -> Spec {
        let secret = self.dirs.registry().replace(client).unwrap();
        let api = Requester::builder(&self.server.url, client, secret)
            .scheme(Scheme::V1)
            .correct_clock(false)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Spec { api }
    }
}

struct Spec {
    api: Requester,
}

struct Answer {
    code: u16,
    body: String,
    content_type: Option<String>,
    data: Option<serde_json::Value>,
}

fn params(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn millisec_timestamp() -> u64 {
    xnonce_server::now_ms()
}

impl Spec {
    /// `@requester.make_request method, params, path, nil, options`.
    async fn make_request(
        &self,
        method: &str,
        p: &[(&str, &str)],
        path: &str,
        options: RequestOptions,
    ) -> Answer {
        // Two requests with the same v1 params in the same millisecond carry the same token;
        // the original spec's steps are never that close (its callback alone sleeps 1 s).
        tokio::time::sleep(Duration::from_millis(2)).await;
        let r = self
            .api
            .make_request(method, params(p), path, None, options)
            .await
            .unwrap();
        Answer {
            code: r.code,
            content_type: r.header("content-type").map(str::to_string),
            body: r.body,
            data: r.data,
        }
    }
}

#[track_caller]
fn step(what: &str, got: &Answer, code: u16, body: &str) {
    assert_eq!(
        (got.code, got.body.as_str()),
        (code, body),
        "step {what:?}: got {} {:?}",
        got.code,
        got.body
    );
    let ct = if got.body.starts_with('{') {
        "text/json"
    } else {
        "text/plain"
    };
    assert_eq!(got.content_type.as_deref(), Some(ct), "step {what:?}");
}

const OK: u16 = 200;
const NOT_AUTHORIZED: u16 = 401;
const TOKEN_TIMEOUT: u16 = 401;
const NOT_FOUND: u16 = 404;
const BAD_REQUEST: u16 = 400;
const CONFLICT: u16 = 409;

fn none() -> RequestOptions {
    RequestOptions::default()
}

fn at(ts: u64) -> RequestOptions {
    RequestOptions {
        timestamp_ms: Some(ts),
        ..Default::default()
    }
}

/// `describe '/admin#status'` then `describe '/controller1'` and `describe '/controller2'`,
/// in the spec's order on one server (the spec runs against one running server).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_http_spec() {
    let server = Demo::start("spec");

    // describe '/admin#status'
    let admin = server.requester("test_admin");
    let r = admin
        .make_request("GET", &[], "/admin/status", none())
        .await;
    step(
        "/admin#status: should check status of server - if it fails, ensure the server is running",
        &r,
        OK,
        "{}",
    );

    // describe '/controller1'
    let rq = server.requester("test_client");
    let r = rq.make_request("GET", &[], "/admin/status", none()).await;
    step(
        "/controller1: should check status of server - if it fails, ensure the server is running",
        &r,
        OK,
        "{}",
    );

    // "should check for a tampered request": a param added to the URL, not signed.
    let tampered = RequestOptions {
        extra_params: params(&[("invalid_to_include", "123")]),
        ..Default::default()
    };
    let r = rq.make_request("GET", &[], "/admin/status", tampered).await;
    step(
        "should check for a tampered request",
        &r,
        NOT_AUTHORIZED,
        "ottoken does not match",
    );

    // "should exercise controller1 successfully"
    let login = [
        ("username", "phil"),
        ("password", "hello phil"),
        ("opt1", "this"),
    ];
    let ts = millisec_timestamp();
    let r = rq
        .make_request("GET", &login, "/controller1/action1", at(ts))
        .await;
    step(
        "should exercise controller1 successfully: controller1/action1",
        &r,
        OK,
        r#"{"opt1":"THIS","opt2":null}"#,
    );
    assert_eq!(r.data.as_ref().unwrap()["opt1"], "THIS");
    let r = rq
        .make_request("GET", &login, "/controller1/action1", at(ts))
        .await;
    step(
        "Check for reused ottoken",
        &r,
        CONFLICT,
        "ottoken already used",
    );
    let r = rq
        .make_request(
            "GET",
            &login,
            "/controller1/action1",
            at(millisec_timestamp() - 100_000),
        )
        .await;
    step(
        "Check for old ottoken",
        &r,
        NOT_AUTHORIZED,
        "Request has timed out",
    );
    let r = rq
        .make_request(
            "GET",
            &[("username", "phil"), ("opt1", "this"), ("opt2", "that")],
            "/controller1/action2",
            none(),
        )
        .await;
    step(
        "Check for reused overridden password in the route definition (no password)",
        &r,
        OK,
        r#"{"opt1":"this","opt2":"that","pw":null}"#,
    );
    let with_pw = [
        ("username", "phil"),
        ("opt1", "this"),
        ("opt2", "that"),
        ("password", "hey there"),
    ];
    let r = rq
        .make_request("GET", &with_pw, "/controller1/action2", none())
        .await;
    step(
        "Check for reused overridden password in the route definition (password)",
        &r,
        OK,
        r#"{"opt1":"this","opt2":"that","pw":"hey there"}"#,
    );
    let r = rq
        .make_request("GET", &with_pw, "/controller1/action2a", none())
        .await;
    step(
        "Check action not found",
        &r,
        NOT_FOUND,
        "action_method (action2a_get) not found in controller controller1",
    );

    // describe '/controller2'
    let rq = server.requester("test_client");
    let r = rq
        .make_request(
            "GET",
            &[("username", ""), ("opt1", "this"), ("opt2", "more")],
            "/controller2/action2",
            none(),
        )
        .await;
    step(
        "action 2 before filter should fail without persons username controller2",
        &r,
        NOT_FOUND,
        "no such record",
    );
    let r = rq
        .make_request(
            "GET",
            &[
                ("username", "phil"),
                ("password", ""),
                ("opt1", "this"),
                ("opt2", "more"),
            ],
            "/controller2/action2",
            none(),
        )
        .await;
    step(
        "action 2 after filter should fail without  persons password controller2",
        &r,
        BAD_REQUEST,
        "This password is not secret.",
    );
    let posted = [
        ("username", "phil"),
        ("password", "hello phil"),
        ("opt1", "this"),
        ("opt2", "more"),
        ("opt3", "go for it"),
    ];
    let r = rq
        .make_request("POST", &posted, "/controller2/action1", none())
        .await;
    step(
        "action 1 should post upon a successful login",
        &r,
        OK,
        r#"{"posted":"POSTED!","opt1":"this","opt2":"more","opt3":"go for it"}"#,
    );
    let r = rq
        .make_request("POST", &posted, "/controller2/action4", none())
        .await;
    step(
        "action 4 should post upon a successful login",
        &r,
        OK,
        r#"{"posted":"POSTED!","opt1":"this","opt2":"more","opt3":"go for it"}"#,
    );
    let r = rq
        .make_request(
            "POST",
            &[
                ("username", "any"),
                ("password", "anything"),
                ("abc_params", "blah"),
                ("def_params", "like"),
            ],
            "/controller2/action5",
            none(),
        )
        .await;
    step(
        "action 5 should take a required param and not fail without the optional params",
        &r,
        OK,
        r#"{"url_params":{},"body_params":{"username":"any","password":"anything","abc_params":"blah","def_params":"like"}}"#,
    );
    let any = [("username", "any"), ("password", "anything")];
    let r = rq
        .make_request("POST", &any, "/controller2/action6", none())
        .await;
    step(
        "action 6 should test an alternative callback",
        &r,
        OK,
        r#"{"ok":"it is"}"#,
    );
    let r = rq
        .make_request(
            "POST",
            &[
                ("username", "any"),
                ("password", "anything"),
                ("a_value", " a good callback"),
            ],
            "/controller2/action6",
            none(),
        )
        .await;
    step(
        "action 6 should test an alternative callback again",
        &r,
        OK,
        r#"{"ok":"it is a good callback"}"#,
    );
    let r = rq
        .make_request("POST", &any, "/controller2/action6", none())
        .await;
    step(
        "action 6 should test an alternative callback is reset cleanly",
        &r,
        OK,
        r#"{"ok":"it is"}"#,
    );

    // "should test timeouts " (admin/status has a 5 s window in the original's config).
    let ts = millisec_timestamp();
    let r = rq.make_request("GET", &[], "/admin/status", at(ts)).await;
    step("should test timeouts: status", &r, OK, "{}");
    tokio::time::sleep(Duration::from_secs(6)).await;
    let r = rq.make_request("GET", &[], "/admin/status", at(ts)).await;
    step(
        "Test status with sleep in it",
        &r,
        TOKEN_TIMEOUT,
        "Request has timed out",
    );
    let r = rq.make_request("GET", &[], "/admin/status", none()).await;
    step("should test timeouts: fresh status", &r, OK, "{}");
}

/// The rest of `implementation.rb` that the spec does not reach: excluded params, handlers
/// that set nothing, the routed action without a handler, the after hook on POST, escaped
/// values, an unknown client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implementation_rb_routes_the_spec_does_not_reach() {
    let server = Demo::start("routes");
    let rq = server.requester("test_client");

    let r = rq
        .make_request(
            "GET",
            &[("username", "phil"), ("password", "x"), ("opt1", "a")],
            "/controller1/action3",
            none(),
        )
        .await;
    step(
        "controller1/action3 excludes password",
        &r,
        422,
        "Included invalid parameter password",
    );
    let r = rq
        .make_request(
            "GET",
            &[("username", "phil"), ("opt1", "a")],
            "/controller1/action3",
            none(),
        )
        .await;
    step(
        "controller1/action3 sets nothing: 204, not the original's crash",
        &r,
        204,
        "",
    );
    let r = rq
        .make_request(
            "GET",
            &[("username", "phil"), ("opt1", "a")],
            "/controller1/actionmissing",
            none(),
        )
        .await;
    step(
        "controller1/actionmissing has no handler: 404, not the original's crash",
        &r,
        404,
        xnonce_server::demo::MISSING_HANDLER_BODY,
    );
    let r = rq
        .make_request("GET", &[("opt1", "a")], "/controller1/action1", none())
        .await;
    step(
        "controller1 requires username",
        &r,
        422,
        "Missing required parameter username",
    );
    let r = rq
        .make_request("GET", &[], "/controller2/action3", none())
        .await;
    step("controller2/action3 GET sets nothing", &r, 204, "");
    let r = rq
        .make_request("POST", &[], "/controller2/action3", none())
        .await;
    step("controller2/action3 POST sets nothing", &r, 204, "");
    let r = rq
        .make_request("POST", &[("password", "")], "/controller2/action3", none())
        .await;
    step(
        "after_controller2_all replaces an empty answer",
        &r,
        BAD_REQUEST,
        "This password is not secret.",
    );
    let r = rq
        .make_request(
            "POST",
            &[
                ("opt1", "a & b = 100% \"sûr\""),
                ("opt2", "x+y/z"),
                ("opt3", "é\n"),
            ],
            "/controller2/action1",
            none(),
        )
        .await;
    step(
        "POST with escaped values",
        &r,
        OK,
        "{\"posted\":\"POSTED!\",\"opt1\":\"a & b = 100% \\\"sûr\\\"\",\"opt2\":\"x+y/z\",\"opt3\":\"é\\n\"}",
    );
    let r = rq
        .make_request(
            "GET",
            &[
                ("username", "phil"),
                ("password", "pw"),
                ("opt1", "ünï"),
                ("opt2", "more"),
            ],
            "/controller1/action1",
            none(),
        )
        .await;
    step(
        "controller1/action1 upper-cases opt1 and opt2",
        &r,
        OK,
        r#"{"opt1":"ÜNÏ","opt2":"MORE has been forced to upper case"}"#,
    );
    let r = rq
        .make_request("GET", &[], "/controller3/action1", none())
        .await;
    step(
        "unknown controller",
        &r,
        NOT_FOUND,
        "controller (controller3) not found",
    );

    let stranger = Requester::builder(
        &server.server.url,
        "nobody",
        xnonce::Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")
            .unwrap(),
    )
    .scheme(Scheme::V1)
    .correct_clock(false)
    .build()
    .unwrap();
    let r = stranger
        .make_request("GET", vec![], "/admin/status", None, none())
        .await
        .unwrap();
    assert_eq!((r.code, r.body.as_str()), (401, "client not known"));
}
