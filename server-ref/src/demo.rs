//! The demo API of `xnonce-server serve --demo`: em-secure-api's test implementation
//! (`lib/api_models/implementation.rb`, the API its own HTTP spec exercises), as data and
//! handlers, answering what the original server answers.
//!
//! The routes ([`routes`]) are the original's `routes` hash:
//!
//! | route | rules (`__default_parameters` merged first) |
//! | --- | --- |
//! | `GET /controller1/action1` | `username`, `password`, `opt1` req; `opt2` opt |
//! | `GET /controller1/action2` | `username`, `opt1`, `opt2` req; `password` opt |
//! | `GET /controller1/action3` | `username`, `opt1` req; `password` exc |
//! | `GET /controller1/actionmissing` | `username`, `opt1` req; `password` exc |
//! | `POST /controller2/action1`, `POST /controller2/action4` | `opt1`, `opt3` req; `opt2` opt |
//! | `GET /controller2/action2` | `opt1`, `opt2` req |
//! | `GET /controller2/action3`, `POST /controller2/action3`, `POST /controller2/action5`, `POST /controller2/action6` | none |
//! | `GET /admin/status` | none |
//!
//! What a verified request gets ([`answer`]), as the original's handlers, hooks and server
//! loop produce it. JSON bodies are `Content-Type: text/json` (the original's
//! `Response::JSON`), keys in the handler's order, an absent param is `null` (Ruby's
//! `to_json` of `nil`); text bodies are `text/plain`:
//!
//! | route | status | body |
//! | --- | --- | --- |
//! | `controller1/action1` | 200 | `{"opt1":<OPT1 upper-cased>,"opt2":<"OPT2 has been forced to upper case"> or null}` |
//! | `controller1/action2` | 200 | `{"opt1":…,"opt2":…,"pw":<password> or null}` |
//! | `controller2/action1`, `controller2/action4` | 200 | `{"posted":"POSTED!","opt1":…,"opt2":…,"opt3":…}` |
//! | `controller2/action2` | 200 | `{"opt1":…,"opt2":…,"username":…}` |
//! | `controller2/action5` | 200 | `{"url_params":{query params},"body_params":{form params}}` |
//! | `controller2/action6` | 200 | `{"ok":"it is<a_value>"}` (the route's callback replaces the handler's 400) |
//! | `admin/status` | 200 | `{}` |
//! | `controller1/action3`, `controller2/action3` (GET and POST): handlers that set nothing | 204 | empty |
//! | `controller1/actionmissing`: routed, no handler | 404 | [`MISSING_HANDLER_BODY`] |
//!
//! The last two rows differ from the original on purpose: its server loop crashes on a handler
//! that sets nothing or does not exist and answers 500 with the Ruby exception text. A
//! verified request is never answered with a crash here: "nothing" is 204 No Content, and an
//! action without a handler is as unknown as one without a route (404, the unknown-action
//! wording).
//!
//! Hooks, in the original's order (before hook, handler, after hooks):
//! * `before_controller2_get`: `username` present and empty → 404 `no such record`
//!   (the handler and the after hooks do not run);
//! * `after_controller2_all`: `password` present and empty → 400
//!   `This password is not secret.` (replaces whatever the handler set, including nothing).
//!
//! Params are what the signature covered ([`Verified::params`]): for v1 em-secure-api's own
//! merge (query params, then form params over them; a repeated key has one value, as a
//! second, different one is refused), so `params[:k]` reads the same value; for v2 the last
//! value of a repeated key. `action5`
//! re-reads the query string and the form body separately, as the original's
//! `@url_params` / `@body_params` (an `ottoken` param is left out of both).

use axum::body::Bytes;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use xnonce_core::verify::is_form_content_type;
use xnonce_core::{ParamRule, RouteMatch, RouteTable, Scheme, Verified, WindowPolicy};

/// The original's `Response::JSON` content type.
pub const JSON: &str = "text/json";
/// The original's `Response::TEXT` content type.
pub const TEXT: &str = "text/plain";

/// The body of the 404 for a routed action without a handler (`actionmissing`), in the
/// wording of em-secure-api's unknown action.
pub const MISSING_HANDLER_BODY: &str =
    "action_method (actionmissing_get) not found in controller controller1";

/// The routes of em-secure-api's `implementation.rb` (see the module docs): its README
/// example API ([`RouteTable::demo`]) plus the routes only its test implementation has.
pub fn routes() -> RouteTable {
    use ParamRule::{Excluded as Exc, Optional as Opt, Required as Req};
    RouteTable::demo()
        .route(
            "controller1",
            "actionmissing",
            "get",
            &[("opt1", Req), ("password", Exc)],
        )
        .route("controller2", "action3", "post", &[])
        .route(
            "controller2",
            "action4",
            "post",
            &[("opt1", Req), ("opt2", Opt), ("opt3", Req)],
        )
        .route("controller2", "action5", "post", &[])
        .route("controller2", "action6", "post", &[])
}

/// The demo's request windows: 30 s (em-secure-api's default `request_timeout`), and 5 s for
/// `admin/status` as in the original README's example configuration — the original HTTP
/// spec relies on it (`sleep 6` makes a status request stale). That configuration's other
/// windows (`controller1` 10 s, `controller1/action3` 60 s; see
/// `examples/xnonce-server.toml`) are left out so a demo link stays usable for 30 s.
pub fn windows() -> WindowPolicy {
    WindowPolicy::new(30_000).action("admin", "status", 5_000)
}

/// An answer: status, content type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// [`JSON`] or [`TEXT`].
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

impl Answer {
    fn json(body: String) -> Answer {
        Answer {
            status: 200,
            content_type: JSON,
            body,
        }
    }

    fn text(status: u16, body: &str) -> Answer {
        Answer {
            status,
            content_type: TEXT,
            body: body.to_string(),
        }
    }

    /// 204: the handler answered nothing.
    pub fn no_content() -> Answer {
        Answer::text(204, "")
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut res = (
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            self.body,
        )
            .into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        res
    }
}

/// `params[:key]`: the last value of `key`.
fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Appends a JSON string literal (quotes and escapes as Ruby's `to_json` writes them).
fn push_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                use std::fmt::Write;
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON object of string-or-null values, keys in the given order.
fn object<'a>(fields: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> String {
    let mut out = String::with_capacity(64);
    out.push('{');
    for (i, (k, v)) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(&mut out, k);
        out.push(':');
        match v {
            Some(v) => push_str(&mut out, v),
            None => out.push_str("null"),
        }
    }
    out.push('}');
    out
}

/// Ruby's `String#upcase` (full Unicode case mapping, Ruby ≥ 2.4).
fn upcase(s: &str) -> String {
    s.to_uppercase()
}

/// What a request that passed the layer carries, as the original's handlers see it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// Controller (`controller1`).
    pub controller: &'a str,
    /// Action (`action1`).
    pub action: &'a str,
    /// Lower-case method (`get`).
    pub method: &'a str,
    /// The verified params (`params`).
    pub params: &'a [(String, String)],
    /// The raw query string (`@url_params`, read by `action5` only).
    pub query: &'a str,
    /// The raw form body, if the request has one (`@body_params`, read by `action5` only).
    pub form: Option<&'a str>,
}

enum Handled {
    Set(Answer),
    Nothing,
    NoHandler,
}

fn handler(c: &Call<'_>) -> Handled {
    let p = |k| param(c.params, k);
    let answer = match (c.controller, c.action, c.method) {
        ("controller1", "action1", "get") => {
            let opt1 = upcase(p("opt1").unwrap_or(""));
            let opt2 = p("opt2").map(|v| format!("{} has been forced to upper case", upcase(v)));
            object([("opt1", Some(opt1.as_str())), ("opt2", opt2.as_deref())])
        }
        ("controller1", "action2", "get") => object([
            ("opt1", p("opt1")),
            ("opt2", p("opt2")),
            ("pw", p("password")),
        ]),
        ("controller2", "action1", "post") | ("controller2", "action4", "post") => object([
            ("posted", Some("POSTED!")),
            ("opt1", p("opt1")),
            ("opt2", p("opt2")),
            ("opt3", p("opt3")),
        ]),
        ("controller2", "action2", "get") => object([
            ("opt1", p("opt1")),
            ("opt2", p("opt2")),
            ("username", p("username")),
        ]),
        ("controller2", "action5", "post") => {
            let read = |raw: &str| {
                xnonce_core::params::from_query_and_form(Scheme::V1, raw, None, true)
                    .unwrap_or_default()
            };
            let url = read(c.query);
            let body = read(c.form.unwrap_or(""));
            let as_object = |p: &[(String, String)]| {
                object(p.iter().map(|(k, v)| (k.as_str(), Some(v.as_str()))))
            };
            format!(
                "{{\"url_params\":{},\"body_params\":{}}}",
                as_object(&url),
                as_object(&body)
            )
        }
        ("controller2", "action6", "post") => {
            return Handled::Set(Answer {
                status: 400,
                content_type: JSON,
                body: object([("ok", Some("it is not"))]),
            })
        }
        ("admin", "status", "get") => "{}".to_string(),
        ("controller1", "actionmissing", "get") => return Handled::NoHandler,
        _ => return Handled::Nothing,
    };
    Handled::Set(Answer::json(answer))
}

/// The original's answer to a request that passed verification, route and param checks.
pub fn answer(c: &Call<'_>) -> Answer {
    let p = |k| param(c.params, k);
    // before_controller2_get
    if c.controller == "controller2" && c.method == "get" && p("username") == Some("") {
        return Answer::text(404, "no such record");
    }
    let handled = match handler(c) {
        // The exception skips the after hooks.
        Handled::NoHandler => return Answer::text(404, MISSING_HANDLER_BODY),
        h => h,
    };
    // after_controller2_all (throw :request_exit replaces the response).
    if c.controller == "controller2" && p("password") == Some("") {
        return Answer::text(400, "This password is not secret.");
    }
    match handled {
        // callback_controller2_action6_post: replaces the handler's answer.
        Handled::Set(a)
            if (c.controller, c.action, c.method) == ("controller2", "action6", "post") =>
        {
            let ok = format!("it is{}", p("a_value").unwrap_or(""));
            Answer {
                status: 200,
                content_type: a.content_type,
                body: object([("ok", Some(ok.as_str()))]),
            }
        }
        Handled::Set(a) => a,
        _ => Answer::no_content(),
    }
}

/// The axum handler behind the layer for `--demo` (needs the layer's route table, e.g.
/// [`routes`]: without a [`RouteMatch`] the path is split as em-secure-api does). It moves
/// the [`Verified`] and [`RouteMatch`] out of the request instead of cloning them.
pub async fn handle(req: axum::extract::Request) -> Answer {
    let (mut parts, body) = req.into_parts();
    let Some(verified) = parts.extensions.remove::<Verified>() else {
        return Answer::text(500, "the demo handler runs behind XNonceLayer");
    };
    let route = parts.extensions.remove::<RouteMatch>();
    let split;
    let (controller, action) = match &route {
        Some(r) => (&*r.controller, &*r.action),
        None => {
            split = xnonce_core::routes::split_path(parts.uri.path());
            (split.0.as_str(), split.1.as_str())
        }
    };
    let lower;
    let method = match &route {
        Some(r) => &*r.method,
        None => {
            lower = parts.method.as_str().to_ascii_lowercase();
            lower.as_str()
        }
    };
    // Read as the layer reads it, whatever its bytes (a byte outside ASCII as U+FFFD):
    // `…urlencoded; charset=\xe9` is a form there, its fields the verified params.
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()));
    // The layer re-attached the body it read: collecting it again copies nothing.
    let body = if is_form_content_type(content_type.as_deref()) {
        http_body_util::BodyExt::collect(body)
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default()
    } else {
        Bytes::new()
    };
    let form = std::str::from_utf8(&body).ok().filter(|_| !body.is_empty());
    answer(&Call {
        controller,
        action,
        method,
        params: &verified.params,
        query: parts.uri.query().unwrap_or(""),
        form,
    })
}

/// Where `serve --demo --bench-mirror` also serves the demo handlers **without** the layer:
/// `/_bench/unverified/controller1/action1` answers what a verified
/// `/controller1/action1` would, with the params read from the query and form as v1 reads
/// them and no credential, route or replay check. Only for the throughput benchmark, which
/// compares the two to measure what the layer costs.
pub const BENCH_MIRROR_PREFIX: &str = "/_bench/unverified";

/// Whether `path` is served by [`mirror`] under `--bench-mirror`: [`BENCH_MIRROR_PREFIX`]
/// followed by `/`.
pub fn is_mirrored(path: &str) -> bool {
    path.strip_prefix(BENCH_MIRROR_PREFIX)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// The demo handlers without the layer, at [`BENCH_MIRROR_PREFIX`]: what [`handle`] does
/// behind the layer, plus what the layer did for it and a handler without one must do itself
/// — split the path (after the prefix) into controller and action, read the form body, and
/// read the params from the query and the form. It reads the request in place, as [`handle`]
/// does (no copy of its headers, nor of its URI to strip the prefix), so that the two routes
/// differ by the layer alone.
pub async fn mirror(req: axum::extract::Request) -> Answer {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    let (controller, action) =
        xnonce_core::routes::split_path(path.strip_prefix(BENCH_MIRROR_PREFIX).unwrap_or(path));
    let method = parts.method.as_str().to_ascii_lowercase();
    let query = parts.uri.query().unwrap_or("");
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()));
    // A form's body only, as the layer collects it for `handle`.
    let form_body = match is_form_content_type(content_type.as_deref()) {
        true => match http_body_util::BodyExt::collect(body).await {
            Ok(c) => Some(c.to_bytes()),
            Err(_) => return Answer::text(400, "cannot read the body"),
        },
        false => None,
    };
    let form = form_body
        .as_deref()
        .and_then(|b| std::str::from_utf8(b).ok());
    let params = match xnonce_core::params::from_query_and_form(Scheme::V1, query, form, true) {
        Ok(p) => p,
        Err(e) => return Answer::text(400, e.message()),
    };
    answer(&Call {
        controller: &controller,
        action: &action,
        method: &method,
        params: &params,
        query,
        form,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Strings are written as Ruby's `to_json` writes them: the short escapes where JSON has
    /// one, `\u00XX` (lower-case hex) for the other control characters, everything else as is.
    #[test]
    fn json_strings_escape_as_ruby_does() {
        let mut out = String::new();
        push_str(&mut out, "a\u{1}b\u{1f}\"\\\n\r\t\u{8}\u{c} é\u{7f}");
        assert_eq!(
            out,
            concat!(r#""a\u0001b\u001f\"\\\n\r\t\b\f é"#, "\u{7f}\"")
        );
    }

    fn call<'a>(
        controller: &'a str,
        action: &'a str,
        method: &'a str,
        params: &'a [(String, String)],
    ) -> Answer {
        answer(&Call {
            controller,
            action,
            method,
            params,
            query: "",
            form: None,
        })
    }

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn handlers_write_json_like_ruby() {
        let a = call(
            "controller1",
            "action1",
            "get",
            &p(&[("username", "phil"), ("opt1", "this")]),
        );
        assert_eq!((a.status, a.content_type), (200, JSON));
        assert_eq!(a.body, r#"{"opt1":"THIS","opt2":null}"#);
        let a = call(
            "controller1",
            "action1",
            "get",
            &p(&[("opt1", "a"), ("opt2", "é\"\n")]),
        );
        assert_eq!(
            a.body,
            "{\"opt1\":\"A\",\"opt2\":\"É\\\"\\n has been forced to upper case\"}"
        );
        let a = call("admin", "status", "get", &[]);
        assert_eq!((a.status, a.body.as_str()), (200, "{}"));
    }

    #[test]
    fn hooks_and_empty_handlers() {
        let a = call("controller2", "action2", "get", &p(&[("username", "")]));
        assert_eq!(a, Answer::text(404, "no such record"));
        let a = call("controller2", "action2", "get", &p(&[("username", "phil")]));
        assert_eq!(
            a,
            Answer::json(r#"{"opt1":null,"opt2":null,"username":"phil"}"#.into())
        );
        let a = call("controller2", "action3", "post", &p(&[("password", "")]));
        assert_eq!(a, Answer::text(400, "This password is not secret."));
        let a = call("controller2", "action3", "post", &[]);
        assert_eq!(a, Answer::no_content());
        let a = call(
            "controller1",
            "actionmissing",
            "get",
            &p(&[("password", "")]),
        );
        assert_eq!(a, Answer::text(404, MISSING_HANDLER_BODY));
        let a = call(
            "controller2",
            "action6",
            "post",
            &p(&[("a_value", " a good callback")]),
        );
        assert_eq!(a, Answer::json(r#"{"ok":"it is a good callback"}"#.into()));
    }

    #[test]
    fn action5_splits_url_and_body_params() {
        let a = answer(&Call {
            controller: "controller2",
            action: "action5",
            method: "post",
            params: &[],
            query: "",
            form: Some("username=any&abc_params=bl%26ah+x"),
        });
        assert_eq!(
            a.body,
            r#"{"url_params":{},"body_params":{"username":"any","abc_params":"bl&ah x"}}"#
        );
    }

    /// A form whose `Content-Type` holds a byte outside ASCII after its `;` is a form to the
    /// layer (PROTOCOL §6.5: its fields are the signed params), so `action5` answers its
    /// fields as `body_params` too; it used to read that `Content-Type` as absent and answer
    /// `{}`, the verified fields missing.
    #[tokio::test]
    async fn a_form_whose_content_type_is_not_ascii_is_read_as_the_layer_read_it() {
        use axum::body::Body;
        use axum::http::{HeaderValue, Request};
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        use xnonce_core::{sign, Secret, SignInput};
        let secret =
            Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")
                .unwrap();
        let clients = std::collections::HashMap::from([("svc".to_string(), secret.clone())]);
        let app = crate::demo_app(crate::XNonceLayer::new(clients).routes(routes()), None);
        let input = SignInput::new(Scheme::V2, "POST", "/controller2/action5", "svc")
            .host("api.test")
            .param("a", "1");
        let req = Request::post("/controller2/action5")
            .header("host", "api.test")
            .header("x-nonce", sign(&input, &secret).unwrap().x_nonce)
            .header(
                header::CONTENT_TYPE,
                HeaderValue::from_bytes(b"application/x-www-form-urlencoded; charset=\xe9")
                    .unwrap(),
            )
            .body(Body::from("a=1"))
            .unwrap();
        let res = app.oneshot(req).await.unwrap();
        assert_eq!(res.status(), 200);
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], br#"{"url_params":{},"body_params":{"a":"1"}}"#);
    }
}
