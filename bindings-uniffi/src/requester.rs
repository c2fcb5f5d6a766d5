//! The requester: a thin wrapper over client-rs's blocking [`xnonce::blocking::Requester`]
//! (DESIGN §7, em-secure-api's `make_request`).
//!
//! Blocking on purpose: uniffi's async methods would make the generated Kotlin depend on
//! kotlinx-coroutines (for every user, even one who only signs). Kotlin callers run
//! `makeRequest` on their own thread (`Dispatchers.IO`, an executor); Swift callers off the
//! main thread. The Rust side owns a small tokio runtime per requester.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use xnonce_core::input::Pairs;
use xnonce_core::{Input, Secret};

use crate::sign::pairs;
use crate::text::{self, XNonceText};
use crate::{Scheme, XNonceError};

/// One HTTP header: a name and its value.
///
/// Passed in (`RequestOptions.headers`), text that is not valid Unicode is refused with the
/// codes of params: `invalid_param_key` for the name, `invalid_param_value` for the value.
#[derive(Clone, PartialEq, Eq, Hash, uniffi::Record)]
pub struct HttpHeader {
    /// The header name (response headers: lower-case).
    pub name: XNonceText,
    /// The header value.
    pub value: XNonceText,
}

impl fmt::Debug for HttpHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {:?}", self.name, self.value)
    }
}

/// Per-request options, as em-secure-api's `options` hash (the same names as the Python and
/// Node requesters: `timestamp`, `nonce`, `extra_params`, `json`, `headers`). Every field
/// has a default, so `RequestOptions()` is "none".
///
/// Printing it shows header names but not their values (an `Authorization` header is a
/// credential): `Debug` and `Display` are exported, so Kotlin's `toString()` and Swift's
/// `description` are these forms.
#[derive(Clone, Default, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Display, Debug)]
pub struct RequestOptions {
    /// Sign with this timestamp (ms since the epoch) instead of the clock (em-secure-api's
    /// `:force_timestamp`). Sent as given: a stale answer is returned, not retried.
    #[uniffi(default = None)]
    pub timestamp: Option<u64>,
    /// v2: sign with this nonce (32 lower-case hex characters) instead of a random one. Sent
    /// once: a stale answer is returned, not retried.
    #[uniffi(default = None)]
    pub nonce: Option<XNonceText>,
    /// Params sent after the signed ones, in the same place, but not signed (a server that
    /// verifies every param refuses them: this is how a tampered request looks).
    #[uniffi(default = [])]
    pub extra_params: Vec<crate::Param>,
    /// v2 only: a JSON body, as JSON text (`"{\"a\": [1, 2]}"`). It is parsed (not JSON:
    /// `invalid_body`) and then sent exactly as given, key order, spacing and numbers kept;
    /// the params then go in the query and the digest of these bytes is signed.
    #[uniffi(default = None)]
    pub json: Option<XNonceText>,
    /// Extra request headers. A `Host` header here is the host that v2 signs.
    #[uniffi(default = [])]
    pub headers: Vec<HttpHeader>,
}

impl RequestOptions {
    fn header_names(&self) -> Vec<std::borrow::Cow<'_, str>> {
        self.headers
            .iter()
            .map(|h| h.name.to_string_lossy())
            .collect()
    }
}

impl fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestOptions")
            .field("timestamp", &self.timestamp)
            .field("nonce", &self.nonce)
            .field("extra_params", &self.extra_params)
            .field("json", &self.json)
            .field("header_names", &self.header_names())
            .finish()
    }
}

/// `RequestOptions(timestamp=…, nonce=…, extraParams=[k=v, …], json=…, headerNames=[…])`,
/// field names as the Kotlin and Swift bindings spell them; absent options are left out.
impl fmt::Display for RequestOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut fields = Vec::new();
        if let Some(ts) = self.timestamp {
            fields.push(format!("timestamp={ts}"));
        }
        if let Some(nonce) = &self.nonce {
            fields.push(format!("nonce={nonce}"));
        }
        let extra: Vec<String> = self
            .extra_params
            .iter()
            .map(|p| format!("{}={}", p.key, p.value))
            .collect();
        fields.push(format!("extraParams=[{}]", extra.join(", ")));
        if let Some(json) = &self.json {
            fields.push(format!("json={json}"));
        }
        fields.push(format!("headerNames=[{}]", self.header_names().join(", ")));
        write!(f, "RequestOptions({})", fields.join(", "))
    }
}

/// A server's answer (any status: non-2xx answers are responses, not errors).
///
/// Compared and hashed by value, `bytes` included: `Eq` and `Hash` are exported, because
/// Kotlin's data class compares its `ByteArray` by identity, so two identical answers were
/// unequal there. Its text crosses as `XNonceText` (each language's string type), since
/// comparing passes the record in, and one made or copied by hand in Kotlin may hold a lone
/// surrogate, which uniffi's own `String` would fail to lower (`MalformedInputException`
/// thrown from `equals`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Record)]
#[uniffi::export(Eq, Hash)]
pub struct Response {
    /// The HTTP status code.
    pub code: u16,
    /// The body as text (invalid UTF-8 replaced).
    pub body: XNonceText,
    /// The body when it is JSON, as JSON text (exactly as received: parse it with your JSON
    /// library); `None` when the body is empty or not JSON. The `data` of the other languages.
    pub data_json: Option<XNonceText>,
    /// Response headers in the order received, except that a repeated name's lines come
    /// together at its first one's place; names lower-case.
    pub headers: Vec<HttpHeader>,
    /// The body's bytes exactly as received (`body` replaces invalid UTF-8; an image or a
    /// body in another charset is read from here).
    pub bytes: Vec<u8>,
}

impl From<xnonce::Response> for Response {
    fn from(r: xnonce::Response) -> Self {
        Response {
            code: r.code,
            // `data` is set exactly when the body parses as JSON: hand over the body itself,
            // so no number or key order is changed by a round trip through serde_json.
            data_json: r.data.is_some().then(|| r.body.as_str().into()),
            body: r.body.into(),
            bytes: r.bytes,
            headers: r
                .headers
                .into_iter()
                .map(|(name, value)| HttpHeader {
                    name: name.into(),
                    value: value.into(),
                })
                .collect(),
        }
    }
}

/// Signs and sends requests, like em-secure-api's `ReSvcClient::Requester` (client-rs's
/// blocking requester inside). Thread-safe; every call blocks the calling thread until the
/// answer is in, so call it off the UI thread.
///
/// Printing it never shows the secret (it holds it only inside client-rs).
#[derive(uniffi::Object)]
pub struct Requester {
    inner: xnonce::blocking::Requester,
}

impl fmt::Debug for Requester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // client-rs's Debug: server, client, scheme, clock settings; never the secret.
        fmt::Debug::fmt(&self.inner, f)
    }
}

// The constructor's default `max_response_bytes` (uniffi defaults are literals).
const _: () = assert!(xnonce::DEFAULT_MAX_RESPONSE_BYTES == 67108864);

#[uniffi::export]
impl Requester {
    /// A requester for `server` (`http(s)://host[:port][/prefix]`) signing as `client` with
    /// `secret`. `scheme`: `None` is v2. `timeout_ms`: the time limit of one HTTP exchange
    /// (0 lets every request time out). `correct_clock`: learn the clock offset from the
    /// server's authenticated time hint and retry a stale request once. `clock_offset_ms`:
    /// the offset to start from (server − local), e.g. one a previous requester learned, within
    /// ±(2⁵³ − 1).
    /// `ca_pem`: certificate authorities (PEM) to trust besides the bundled roots, for a
    /// server whose certificate an internal CA issued. `max_response_bytes`: the largest
    /// answer body to read (default 64 MiB); a longer one fails the request with
    /// `connection_failed`, read no further.
    ///
    /// Errors: `invalid_url`, `invalid_client_id`, `invalid_secret` (v2 needs 64 hex
    /// characters), `invalid_host`, `invalid_timestamp` (`clock_offset_ms` beyond ±(2⁵³ − 1)
    /// ms, the range of a timestamp), `connection_failed` (the HTTP stack could not start, or
    /// `ca_pem` is not PEM certificates).
    #[uniffi::constructor(default(
        scheme = None,
        timeout_ms = 30000,
        correct_clock = true,
        clock_offset_ms = 0,
        ca_pem = None,
        max_response_bytes = 67108864
    ))]
    #[allow(clippy::too_many_arguments)] // Kotlin/Swift arguments with defaults
    pub fn new(
        server: XNonceText,
        client: XNonceText,
        secret: XNonceText,
        scheme: Option<Scheme>,
        timeout_ms: u64,
        correct_clock: bool,
        clock_offset_ms: i64,
        ca_pem: Option<XNonceText>,
        max_response_bytes: u64,
    ) -> Result<Arc<Self>, XNonceError> {
        let server = server.into_string(Input::ServerUrl)?;
        let client = client.into_string(Input::Client)?;
        let secret = secret.into_string(Input::Secret)?;
        // As the Node binding names and codes it.
        let ca_pem = XNonceText::into_option(ca_pem, Input::CaPem)?;
        let mut builder =
            xnonce::blocking::Requester::builder(server, client, Secret::new(secret)?)
                .scheme(scheme.unwrap_or(Scheme::V2).into())
                .timeout(Duration::from_millis(timeout_ms))
                .correct_clock(correct_clock)
                .clock_offset_ms(clock_offset_ms)
                .max_response_bytes(max_response_bytes);
        if let Some(pem) = ca_pem {
            builder = builder.root_certificates_pem(pem);
        }
        Ok(Arc::new(Requester {
            inner: builder.build()?,
        }))
    }

    /// Signs and sends one request, like em-secure-api's
    /// `make_request(method, params, action, controller, options)`: with a `controller`,
    /// `path` is the action (`/controller/path`); without, the full path. Blocks until the
    /// answer is in.
    ///
    /// Non-2xx answers are responses. Errors: signing errors (their codes), `invalid_body`
    /// (`options.json` is not JSON, or given with v1), `malformed_header` (an `X-Nonce`,
    /// `Content-Length` or `Transfer-Encoding` in `options.headers`, a second `Host` or
    /// `Content-Type`, or a `Content-Type` that changes the body's kind), `invalid_method`
    /// (CONNECT), `invalid_url` (a request the HTTP stack cannot send, e.g. a URL over
    /// 64 KiB) and `connection_failed` (refused, timed out, or any other transport failure).
    #[uniffi::method(default(controller = None, options))]
    pub fn make_request(
        &self,
        method: XNonceText,
        params: Vec<crate::Param>,
        path: XNonceText,
        controller: Option<XNonceText>,
        options: RequestOptions,
    ) -> Result<Response, XNonceError> {
        // Every text checked in argument order, before anything is signed or sent.
        let method = method.into_string(Input::Method)?;
        let params = pairs(params, Pairs::PARAMS)?;
        let path = path.into_string(Input::Path)?;
        let controller = XNonceText::into_option(controller, Input::Controller)?;
        let options = xnonce::RequestOptions {
            timestamp_ms: options.timestamp,
            nonce: XNonceText::into_option(options.nonce, Input::Nonce)?,
            extra_params: pairs(options.extra_params, Pairs::EXTRA_PARAMS)?,
            // Sent byte for byte (key order, spacing and number spelling kept) once client-rs
            // has parsed it with serde_json: text that is not JSON is `invalid_body`.
            json_raw: XNonceText::into_option(options.json, Input::JsonBody)?
                .map(String::into_bytes),
            headers: options
                .headers
                .into_iter()
                .map(|h| text::pair(h.name, h.value, Pairs::HEADERS))
                .collect::<Result<_, _>>()?,
            ..Default::default()
        };
        let res =
            self.inner
                .make_request(&method, params, &path, controller.as_deref(), options)?;
        Ok(res.into())
    }

    /// The clock offset in use (server − local, ms): the constructor's `clock_offset_ms`
    /// until a stale answer carries an authentic server-time hint.
    pub fn clock_offset_ms(&self) -> i64 {
        self.inner.clock_offset_ms()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd";

    fn requester(scheme: Option<Scheme>) -> Arc<Requester> {
        Requester::new(
            "http://127.0.0.1:1".into(),
            "svc".into(),
            SECRET.into(),
            scheme,
            1000,
            true,
            -5,
            None,
            1 << 20,
        )
        .unwrap()
    }

    #[test]
    fn builds_checks_inputs_and_never_prints_the_secret() {
        let r = requester(None);
        assert_eq!(r.clock_offset_ms(), -5);
        let debug = format!("{r:?}");
        assert!(debug.contains("V2") && !debug.contains(SECRET), "{debug}");
        let e = Requester::new(
            "ftp://x".into(),
            "svc".into(),
            SECRET.into(),
            None,
            1000,
            true,
            0,
            None,
            1 << 20,
        )
        .unwrap_err();
        assert_eq!(e.code(), "invalid_url");
        let e = Requester::new(
            "http://h".into(),
            "svc".into(),
            "short".into(),
            Some(Scheme::V2),
            1000,
            true,
            0,
            None,
            1 << 20,
        )
        .unwrap_err();
        assert_eq!(e.code(), "invalid_secret");
        let e = Requester::new(
            "https://h".into(),
            "svc".into(),
            SECRET.into(),
            None,
            1000,
            true,
            0,
            Some("not PEM".into()),
            1 << 20,
        )
        .unwrap_err();
        assert_eq!(e.code(), "connection_failed");
        assert!(e.to_string().contains("root certificates"), "{e}");
    }

    #[test]
    fn invalid_json_is_refused_before_anything_is_sent() {
        let e = requester(None)
            .make_request(
                "POST".into(),
                vec![],
                "/a/b".into(),
                None,
                RequestOptions {
                    json: Some("{not json".into()),
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert_eq!(e.code(), "invalid_body");
        assert!(matches!(e, XNonceError::Input { .. }));
    }

    /// Text holding a lone surrogate (as Kotlin and Python write one) is refused with its
    /// input's code before anything is sent, named, never shown; the requester works on.
    #[test]
    fn text_that_is_not_unicode_is_refused_with_the_inputs_code() {
        let lone = || XNonceText::from_bytes(b"\xED\xA0\x80".to_vec());
        let reason =
            |what: &str| format!("{what} is not valid Unicode text (it holds a lone surrogate)");
        let check = |e: XNonceError, code: &str, what: &str| {
            assert!(matches!(e, XNonceError::Input { .. }), "{e:?}");
            assert_eq!((&*e.code(), &*e.reason()), (code, reason(what).as_str()));
        };
        let new = |server: XNonceText, client: XNonceText, secret: XNonceText, pem| {
            Requester::new(server, client, secret, None, 1000, true, 0, pem, 1 << 20).unwrap_err()
        };
        let url = || XNonceText::from("http://127.0.0.1:1");
        check(
            new(lone(), "svc".into(), SECRET.into(), None),
            "invalid_url",
            "the server URL",
        );
        check(
            new(url(), lone(), SECRET.into(), None),
            "invalid_client_id",
            "the client id",
        );
        check(
            new(url(), "svc".into(), lone(), None),
            "invalid_secret",
            "the secret",
        );
        check(
            new(url(), "svc".into(), SECRET.into(), Some(lone())),
            "invalid_body",
            "the CA PEM",
        );

        let r = requester(Some(Scheme::V2));
        let param = |key: XNonceText, value: XNonceText| vec![crate::Param { key, value }];
        let header = |name: XNonceText, value: XNonceText| vec![HttpHeader { name, value }];
        let send = |method: XNonceText,
                    params: Vec<crate::Param>,
                    controller: Option<XNonceText>,
                    options: RequestOptions| {
            r.make_request(method, params, "a/b".into(), controller, options)
                .unwrap_err()
        };
        let none = RequestOptions::default;
        for (e, code, what) in [
            (
                send(lone(), vec![], None, none()),
                "invalid_method",
                "the method",
            ),
            (
                send("GET".into(), param(lone(), "1".into()), None, none()),
                "invalid_param_key",
                "a param key",
            ),
            (
                send("GET".into(), param("q".into(), lone()), None, none()),
                "invalid_param_value",
                "param \"q\"",
            ),
            (
                send("GET".into(), vec![], Some(lone()), none()),
                "invalid_path",
                "the controller",
            ),
            (
                send(
                    "GET".into(),
                    vec![],
                    None,
                    RequestOptions {
                        nonce: Some(lone()),
                        ..none()
                    },
                ),
                "invalid_nonce",
                "the nonce",
            ),
            (
                send(
                    "POST".into(),
                    vec![],
                    None,
                    RequestOptions {
                        json: Some(lone()),
                        ..none()
                    },
                ),
                "invalid_body",
                "the JSON body",
            ),
            (
                send(
                    "GET".into(),
                    vec![],
                    None,
                    RequestOptions {
                        extra_params: param("x".into(), lone()),
                        ..none()
                    },
                ),
                "invalid_param_value",
                "extra param \"x\"",
            ),
            (
                send(
                    "GET".into(),
                    vec![],
                    None,
                    RequestOptions {
                        headers: header(lone(), "v".into()),
                        ..none()
                    },
                ),
                "invalid_param_key",
                "a header name",
            ),
            (
                send(
                    "GET".into(),
                    vec![],
                    None,
                    RequestOptions {
                        headers: header("Authorization".into(), lone()),
                        ..none()
                    },
                ),
                "invalid_param_value",
                "header \"Authorization\"",
            ),
        ] {
            check(e, code, what);
        }
        // The same requester, asked properly: signed and sent (nothing listens there).
        let e = send("GET".into(), vec![], Some("c".into()), none());
        assert_eq!(e.code(), "connection_failed");
    }

    #[test]
    fn nothing_listening_is_connection_failed() {
        let e = requester(Some(Scheme::V1))
            .make_request(
                "GET".into(),
                vec![],
                "/a/b".into(),
                None,
                RequestOptions::default(),
            )
            .unwrap_err();
        assert_eq!(e.code(), "connection_failed");
        assert!(matches!(e, XNonceError::Unavailable { .. }));
    }

    /// A loopback peer that reads one request head and answers 200; returns its URL and
    /// the request text it received.
    fn one_shot_peer() -> (String, std::thread::JoinHandle<String>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let peer = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = conn.read(&mut buf).unwrap();
                assert!(n > 0, "the peer closed before a full request head");
                seen.extend_from_slice(&buf[..n]);
            }
            conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .unwrap();
            String::from_utf8(seen).unwrap()
        });
        (url, peer)
    }

    #[test]
    fn the_options_timestamp_and_headers_are_sent() {
        let (url, peer) = one_shot_peer();
        let r = Requester::new(
            url.into(),
            "svc".into(),
            SECRET.into(),
            None,
            5000,
            false,
            0,
            None,
            1 << 20,
        )
        .unwrap();
        let res = r
            .make_request(
                "GET".into(),
                vec![],
                "/a/b".into(),
                None,
                RequestOptions {
                    timestamp: Some(1_700_000_000_000),
                    headers: vec![HttpHeader {
                        name: "X-Request-Id".into(),
                        value: "abc".into(),
                    }],
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(res.code, 200);
        let head = peer.join().unwrap().to_ascii_lowercase();
        assert!(head.contains("\r\nx-request-id: abc\r\n"), "{head}");
        assert!(
            head.contains("\r\nx-nonce: v2 svc 1700000000000 "),
            "{head}"
        );
    }

    #[test]
    fn a_header_prints_as_name_and_value() {
        let h = HttpHeader {
            name: "content-type".into(),
            value: "text/json".into(),
        };
        assert_eq!(format!("{h:?}"), "\"content-type\": \"text/json\"");
    }

    #[test]
    fn printing_options_hides_header_values() {
        let o = RequestOptions {
            timestamp: Some(1),
            headers: vec![HttpHeader {
                name: "Authorization".into(),
                value: "Bearer s3cr3t".into(),
            }],
            ..Default::default()
        };
        for text in [format!("{o:?}"), o.to_string()] {
            assert!(
                text.contains("Authorization") && !text.contains("s3cr3t"),
                "{text}"
            );
        }
        assert_eq!(
            o.to_string(),
            "RequestOptions(timestamp=1, extraParams=[], headerNames=[Authorization])"
        );
    }

    #[test]
    fn data_json_is_the_body_when_it_is_json() {
        let r = Response::from(xnonce::Response {
            code: 200,
            body: "{\"b\": 1.50, \"a\": null}".into(),
            bytes: b"{\"b\": 1.50, \"a\": null}".to_vec(),
            data: Some(serde_json::json!({"a": null, "b": 1.5})),
            headers: vec![("content-type".into(), "application/json".into())],
        });
        assert_eq!(
            r.data_json.as_ref().map(XNonceText::as_bytes),
            Some(&b"{\"b\": 1.50, \"a\": null}"[..])
        );
        assert_eq!(r.headers[0].name, "content-type");
        let r = Response::from(xnonce::Response {
            code: 500,
            body: "oops".into(),
            bytes: b"oops".to_vec(),
            data: None,
            headers: vec![],
        });
        assert_eq!(r.data_json, None);
    }
}
