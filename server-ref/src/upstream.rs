//! Forwarding verified requests to the API behind the server (the config's `[upstream]`):
//! `xnonce-server` as a verifying gateway in front of an API written in any language.
//!
//! A request the layer accepted is sent on to the upstream unchanged — method, target (path
//! and query as the client sent them), header fields, body — except that the hop-by-hop
//! fields (RFC 9110 §7.6.1: `Connection` and the fields it names, `Keep-Alive`,
//! `Proxy-Connection`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`), `Expect`, a second
//! `Content-Type` line and the fields that would override the verified host, method, target
//! or address ([`OVERRIDES`]) are dropped, and the verified client and scheme are added as
//! [`CLIENT_HEADER`] and [`SCHEME_HEADER`], after every `X-XNonce-*` field the client sent is
//! dropped (also spelled with `_`: a client cannot name itself). An absolute-form target's
//! authority, the host it was verified for, is sent as `Host`; a method not sent upper-case
//! (as it was signed: methods are case-sensitive), a path with `.` or `..` segments, as
//! written or once decoded (which could leave the URL's prefix), and a v2 path with a raw `;`
//! or `\` (signed alike with `%3B` / `%5C`) are refused (400), as is a query or form body
//! with a raw `;` (params are split at `&` only; some APIs split at `;` too) or a pair with a
//! raw `]=` after its `=` (which `qs` splits there); a form goes without its
//! `Content-Encoding` (verified as the bytes sent), its bytes outside ASCII as `%XX`. The
//! peer's address is appended to `X-Forwarded-For`. The upstream's answer comes back the same
//! way (a `Content-Length` beside its `Transfer-Encoding` dropped too), a `Location` that names the upstream's own address rewritten to
//! the gateway's path (see [`Upstream::forward`]). Refused requests never reach the upstream.
//!
//! A WebSocket handshake (`Connection: upgrade`, `Upgrade: websocket`), verified like any
//! `GET` (browsers put the token in the URL: an `ottoken` link), is forwarded with its
//! upgrade; once the upstream answers `101`, the gateway carries bytes both ways until either
//! side closes or the server shuts down, which each side hears as a Close frame "going away"
//! ([`crate::websocket`]); the handshake's credential is checked once, so a tunnel outlives
//! the request's window and its client's deletion (the API ends long-lived sockets). No
//! other upgrade is forwarded: a protocol such as `h2c` would carry further requests through
//! the tunnel that the gateway never verifies.
//!
//! An upstream that cannot be reached is answered `502`, one that has not answered within
//! its timeout `504`, both `text/plain` (they are not refusals of the request: it was
//! verified, and recorded as seen). Once its head has come, the answer's body may go no
//! longer than the same timeout without a byte: then it is cut short, and the client sees a
//! connection closed before the body's end, never a complete-looking answer (except an
//! HTTP/1.0 client of an answer without `Content-Length`, for which the connection's end is
//! the body's: it cannot be told). The upstream is plain HTTP (`http://host:port[/prefix]`):
//! the API on the same host or a private network; TLS is the front's job.
//!
//! Connections to the upstream are kept open between requests, each for at most its idle
//! timeout ([`DEFAULT_IDLE_TIMEOUT`], 1 s, or `[upstream] idle_timeout_ms`; see
//! [`Upstream::idle_timeout`]). An API closes an idle connection after its own keep-alive
//! timeout (gunicorn's 2 s, Node's `http` and uvicorn's 5 s), and a request the gateway sends
//! on one just as the API closes it fails without an answer (hyper: `connection closed before
//! message completed`, or a reset): with hyper's 90 s default the gateway answered such
//! requests `502`, their credential spent, the API never having seen them. The pool now
//! forgets a connection before a common API closes it; and a request that still meets a
//! connection closed before any byte of its answer came is sent again, once, on a fresh
//! connection, only when that is safe whether or not the API acted on it: a safe method
//! (`GET`, `HEAD`, `OPTIONS`, `TRACE`, RFC 9110 §9.2.1) without a body. The gateway cannot tell
//! a connection closed before the API read the request from one closed after it acted on it
//! (a crash mid-request looks the same), and a proxy must not retry a non-idempotent request
//! on its own (RFC 9112 §9.3.1): any other request is answered `502` as before; its client
//! signs a new one if it knows that is safe. (A request hyper had not begun to write when the
//! connection closed is sent again by hyper itself, whatever its method: nothing reached the
//! API.)

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Uri};
use hyper::upgrade::OnUpgrade;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use xnonce_core::answer::{split_at_bracket, Refusal};
use xnonce_core::{ErrorCode, Scheme, Verified};

use crate::connections::OpenConnection;
use crate::idle_body::IdleBody;
use crate::metrics::Behind;

/// The verified client's id, as the upstream receives it.
pub const CLIENT_HEADER: &str = "x-xnonce-client";
/// The verified request's scheme (`v1` or `v2`), as the upstream receives it.
pub const SCHEME_HEADER: &str = "x-xnonce-scheme";

/// The client's address as the API receives it, after any the client's side sent.
pub const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// How long the upstream may take to start its answer, and then go silent in the middle of
/// its body, by default: 30 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a connection to the upstream stays open for another request once idle, by
/// default: 1 s, below the shortest common API keep-alive timeout (gunicorn's 2 s; Node's
/// `http` server and uvicorn 5 s), so that the gateway, not the API, closes it. (hyper's own
/// default, 90 s, outlived those: a request sent as the API closed the connection failed.)
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(1);

/// The API behind the server, and a pool of connections to it.
#[derive(Clone, Debug)]
pub struct Upstream {
    client: Client<HttpConnector, Body>,
    /// Keeps no connection: where a safe request is sent again when the pooled connection it
    /// went on closed before answering ([`Upstream::send`]), a fresh one for sure.
    fresh: Client<HttpConnector, Body>,
    /// `http://authority` (shared with each answer's body, which names it in a warning).
    origin: Arc<str>,
    /// The same, parsed: what a `Location` is resolved against.
    origin_url: url::Url,
    /// The URL's path without its trailing `/`: put before every target.
    prefix: String,
    timeout: Duration,
}

impl Upstream {
    /// The upstream at `url` (`http://host:port` with an optional path prefix, no query),
    /// answering within `timeout` (its head; then each part of its body within `timeout` of
    /// the last).
    ///
    /// ```
    /// use std::time::Duration;
    /// use xnonce_server::upstream::Upstream;
    /// assert!(Upstream::new("http://127.0.0.1:9000/api", Duration::from_secs(5)).is_ok());
    /// assert!(Upstream::new("https://api.internal", Duration::from_secs(5)).is_err());
    /// assert!(Upstream::new("http://127.0.0.1:9000/?x=1", Duration::from_secs(5)).is_err());
    /// ```
    pub fn new(url: &str, timeout: Duration) -> Result<Upstream, String> {
        if url.contains('#') {
            return Err("must not have a fragment".into());
        }
        let uri: Uri = url
            .parse()
            .map_err(|_| "not a URL of the form http://host:port[/prefix]".to_string())?;
        if uri.scheme_str() != Some("http") {
            return Err(
                "must start with http:// (the upstream is plain HTTP on a private \
                        network; TLS is the front's job)"
                    .into(),
            );
        }
        let Some(authority) = uri.authority() else {
            return Err("has no host".into());
        };
        if authority.as_str().contains('@') {
            return Err("must not hold credentials".into());
        }
        // `Uri` reads any digits as a port; a connection needs one from 1 to 65535. What
        // follows the host (an IPv6 one with its brackets) is `:port`, or nothing.
        if let Some(port) = authority.as_str()[authority.host().len()..].strip_prefix(':') {
            if !matches!(port.parse::<u16>(), Ok(1..)) {
                return Err("has a port outside 1 to 65535".into());
            }
        }
        if uri.query().is_some() {
            return Err("must not have a query".into());
        }
        let origin = format!("http://{authority}");
        let origin_url = url::Url::parse(&origin)
            .map_err(|_| "not a URL of the form http://host:port[/prefix]".to_string())?;
        Ok(Upstream {
            client: client(Some(DEFAULT_IDLE_TIMEOUT)),
            fresh: client(None),
            origin: origin.into(),
            origin_url,
            prefix: uri.path().trim_end_matches('/').to_string(),
            timeout,
        })
    }

    /// The same upstream, its connections kept open for at most `idle` once idle (default
    /// [`DEFAULT_IDLE_TIMEOUT`]); zero: a fresh connection for every request. Keep it below
    /// the API's keep-alive timeout, with a margin: a request sent on a connection as the API
    /// closes it fails (a safe one without a body is sent again on a fresh connection; any
    /// other is answered `502`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use xnonce_server::upstream::Upstream;
    /// let up = Upstream::new("http://127.0.0.1:9000", Duration::from_secs(5)).unwrap();
    /// let up = up.idle_timeout(Duration::from_millis(500));
    /// ```
    pub fn idle_timeout(mut self, idle: Duration) -> Upstream {
        self.client = client((!idle.is_zero()).then_some(idle));
        self
    }

    /// Sends `req` on a pooled connection; a safe request without a body ([`resendable`])
    /// that meets a connection closed before any byte of its answer came
    /// ([`closed_before_answer`]: the API's keep-alive timeout fired as it came) is sent again,
    /// once, on a fresh connection. Nothing else is sent twice: see the module's doc.
    async fn send(
        &self,
        req: Request<Body>,
    ) -> Result<Response<hyper::body::Incoming>, hyper_util::client::legacy::Error> {
        let again = resendable(&req).then(|| {
            let mut copy = Request::new(Body::empty());
            *copy.method_mut() = req.method().clone();
            *copy.uri_mut() = req.uri().clone();
            *copy.version_mut() = req.version();
            *copy.headers_mut() = req.headers().clone();
            copy
        });
        match (self.client.request(req).await, again) {
            (Err(e), Some(again)) if closed_before_answer(&e) => {
                tracing::info!(target: "xnonce", upstream = %self.origin, error = %Chain(&e), "upstream closed the connection before answering; sending the request again on a fresh connection");
                self.fresh.request(again).await
            }
            (result, _) => result,
        }
    }

    /// Sends a verified request on (with [`Verified`] in its extensions, as the layer leaves
    /// it, and the peer's [`ConnectInfo`] if known) and returns the upstream's answer, or a
    /// `502` / `504`.
    ///
    /// An answer's `Location` on the upstream's origin (`http://127.0.0.1:9000/api/items/7`
    /// for the URL `http://127.0.0.1:9000/api`) or, under a prefix, a path below it
    /// (`/api/items/7`) is rewritten to the path the client asks the gateway for
    /// (`/items/7`), as a reverse proxy's default redirect rewriting does.
    pub async fn forward(&self, req: Request<Body>) -> Response<Body> {
        let (mut parts, body) = req.into_parts();
        // Refused in the style of the verified request (a v2 client gets a problem document).
        let refused_by = |r: Refusal| {
            let verified = parts.extensions.get::<Verified>();
            let scheme = verified.map_or(Scheme::V1, |v| v.scheme);
            crate::layer::log_refusal(&parts, verified.map(|v| v.client.as_str()), scheme, &r);
            let mut res = crate::respond::refusal(scheme, &r);
            res.extensions_mut().insert(Behind::Refused(r.error.code()));
            res
        };
        let refused_with =
            |status, code, message| refused_by(Refusal::with_status(code, status, message));
        let refused = |code, message| refused_with(400, code, message);
        if parts
            .method
            .as_str()
            .bytes()
            .any(|b| b.is_ascii_lowercase())
        {
            // Signed upper-cased, but methods are case-sensitive (RFC 9110 §9.1): forwarded
            // as sent, `delete` is not the DELETE verified; upper-cased, `head` would be a
            // HEAD the client's side does not know it asked for (and `connect` a CONNECT).
            return refused(
                ErrorCode::InvalidMethod,
                "a method is forwarded only as it was signed: upper-case",
            );
        }
        let sent = crate::layer::sent_target(&parts);
        if may_leave_prefix(sent.path()) {
            // Under the URL's prefix, `/../admin` would reach outside it on any upstream
            // that normalises paths.
            return refused(
                ErrorCode::InvalidPath,
                "a path with . or .. segments is not forwarded",
            );
        }
        let v2 = parts
            .extensions
            .get::<Verified>()
            .is_some_and(|v| v.scheme == Scheme::V2);
        if v2 && sent.path().bytes().any(|b| b == b';' || b == b'\\') {
            // A v2 signature covers a path's canonical form, where a raw `;` or `\` and its
            // escape (`%3B`, `%5C`) are one (PROTOCOL §6.3, §14.3): signed for the file
            // `/files/a%3Bb`, the request verifies as `/files/a;b` too, which Tomcat and Jetty
            // route to `/files/a` (a path parameter cut off) and Windows servers read `\` in
            // as `/`. Forwarded, the API would act on a path no signature tells apart from
            // another; escaped, either character reaches it as the data it was signed as.
            return refused(
                ErrorCode::InvalidPath,
                "a v2 path with a raw ; or \\ is not forwarded: its signature does not tell it \
                 from %3B or %5C; send them escaped",
            );
        }
        if sent.authority().is_some_and(|a| a.as_str().contains('@')) {
            // `GET http://u:p@evil.test/…`: user info in a target is an error (RFC 9110
            // §4.2.4), and no sender may write it in a field: as `Host` it would hand the API
            // a host its links could take a browser elsewhere with. A v2 signature never
            // covers such a host (core refuses it, `invalid_host`); v1 signs none.
            return refused(
                ErrorCode::InvalidHost,
                "a request target with user info is not forwarded",
            );
        }
        // The upstream gets as Host the host the request was verified for: an absolute-form
        // target's authority (RFC 9112 §3.2.2), not the unverified field; and for v2, whose
        // signature covers the host in canonical form (PROTOCOL §6.2), that form, so that
        // spellings the signature treats as one (`API.test:443`, `h:8080:80`) reach the API
        // as the one host it covers (`api.test`, `h:8080`).
        let host = match sent.authority() {
            Some(a) => Some(a.as_str()),
            None if v2 => parts
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok()),
            None => None,
        }
        .and_then(|h| match v2 {
            true => xnonce_core::canonical::host(h).ok().map(|c| c.into_owned()),
            false => Some(h.to_string()),
        })
        .and_then(|h| HeaderValue::from_str(&h).ok());
        // The path verified: an absolute-form target's empty path is `/` (PROTOCOL §11), so
        // `GET http://host?q` reaches the API as `<prefix>/?q`, like `GET /?q`, not as
        // `<prefix>?q`.
        let uri = match sent.query() {
            Some(query) => format!("{}{}{}?{query}", self.origin, self.prefix, sent.path()),
            None => format!("{}{}{}", self.origin, self.prefix, sent.path()),
        };
        let Ok(uri) = uri.parse::<Uri>() else {
            // The HTTP parser took the target, so it is a URI's; only the origin and prefix
            // in front can have made it longer than a URI may be (65,534 bytes). The client's
            // input, not an upstream failure: not a 5xx.
            return refused_with(
                414,
                ErrorCode::InvalidPath,
                "the request target is too long to forward",
            );
        };
        // The layer splits a query and a form body into params at `&` only, so `?a=1;b=2`
        // verifies as one param `a` = `1;b=2` (what a request signed for that value holds,
        // escaped: `a=1%3Bb%3D2`). Rack 2, Django before 3.2, Python's `parse_qs` before
        // 3.9.2, Go before 1.17 and Perl's CGI also split at `;`: forwarded raw, a param
        // `b` no signature covers as such would reach such an API.
        if sent.query().is_some_and(|q| q.contains(';')) {
            return refused(ErrorCode::MalformedParams, RAW_SEMICOLON);
        }
        // The `qs` parser (Express, and APIs that copy it) splits a pair at its first `]=`,
        // the layer at its first `=`: `q=a]=b` (signed as `q=a%5D%3Db`) would reach such an
        // API as a param `q=a]` nobody signed, and no `q`.
        let refuse_split_at_bracket = |form: Option<&[u8]>| {
            split_at_bracket(sent.query().unwrap_or(""), form)
                .then(|| refused_by(Refusal::split_at_bracket()))
        };
        if misread_as_form(&parts.headers) {
            // No form to the layer (the body verified as opaque bytes), one to an API whose
            // reader trims more than SP and HTAB around the media type: fields no param signs.
            return refused_by(Refusal::misread_content_type());
        }
        let form = is_form(&parts.headers);
        // A form rewritten for the API ([`form_for_api`]): its new length.
        let mut form_length = None;
        let body = match form {
            // The layer has read the whole body (it is one buffer): checked, not streamed.
            true => match http_body_util::BodyExt::collect(body).await {
                Ok(all) => {
                    let bytes = all.to_bytes();
                    if bytes.contains(&b';') {
                        return refused(ErrorCode::MalformedParams, RAW_SEMICOLON);
                    }
                    if let Some(refusal) = refuse_split_at_bracket(Some(&bytes)) {
                        return refusal;
                    }
                    let for_api = form_for_api(bytes);
                    form_length = Some(for_api.len());
                    Body::from(for_api)
                }
                Err(_) => return refused(ErrorCode::InvalidBody, "the body could not be read"),
            },
            false => match refuse_split_at_bracket(None) {
                Some(refusal) => return refusal,
                None => body,
            },
        };
        let verified = parts.extensions.remove::<Verified>();
        let mut headers = std::mem::take(&mut parts.headers);
        // A WebSocket handshake (verified like any GET) keeps its upgrade, and the client's
        // connection once the upstream has switched.
        let websocket = match is_websocket_upgrade(&headers) {
            true => parts.extensions.remove::<OnUpgrade>(),
            false => None,
        }
        .map(|client| (client, parts.extensions.remove::<OpenConnection>()));
        strip_hop_by_hop(&mut headers);
        strip_gateway_fields(&mut headers);
        // The gateway has answered any `100-continue` and holds the whole body.
        headers.remove(header::EXPECT);
        keep_first(&mut headers, header::CONTENT_TYPE);
        content_type_as_verified(&mut headers);
        if let Some(length) = form_length {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        if form {
            // A form's params were verified as the bytes sent; an API's body parser would
            // decode a `Content-Encoding` first, and a zlib stream can be valid UTF-8 (one
            // stored block): signed as one odd param, read inflated as others. A form that
            // verifies compressed is none a client compressed: forwarded as verified.
            headers.remove(header::CONTENT_ENCODING);
        }
        if websocket.is_some() {
            switch_to_websocket(&mut headers);
        }
        if let Some(host) = host {
            headers.insert(header::HOST, host);
        }
        if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            add_forwarded_for(&mut headers, peer.ip());
        }
        if let Some(v) = &verified {
            // Client ids and schemes are visible ASCII (core validates them).
            if let Ok(client) = HeaderValue::from_str(&v.client) {
                headers.insert(CLIENT_HEADER, client);
            }
            headers.insert(SCHEME_HEADER, HeaderValue::from_static(v.scheme.as_str()));
        }
        let mut forwarded = Request::new(body);
        *forwarded.method_mut() = parts.method;
        *forwarded.uri_mut() = uri;
        *forwarded.headers_mut() = headers;
        // The timeout bounds both tries together.
        match tokio::time::timeout(self.timeout, self.send(forwarded)).await {
            Ok(Ok(mut answer))
                if answer.status() == StatusCode::SWITCHING_PROTOCOLS
                    && is_websocket_upgrade(answer.headers()) =>
            {
                let Some((client, connection)) = websocket else {
                    tracing::warn!(target: "xnonce", upstream = %self.origin, "upstream switched protocols unasked; answered 502");
                    return failure(StatusCode::BAD_GATEWAY, "the upstream could not be reached");
                };
                let upstream = hyper::upgrade::on(&mut answer);
                tokio::spawn(crate::websocket::tunnel(client, upstream, connection));
                let (mut parts, _) = answer.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                switch_to_websocket(&mut parts.headers);
                Response::from_parts(parts, Body::empty())
            }
            // Any other final 1xx (a 101 to another protocol, which could carry requests
            // the gateway never verifies) would leave the client's connection in it.
            Ok(Ok(answer)) if answer.status().is_informational() => {
                tracing::warn!(target: "xnonce", upstream = %self.origin, status = answer.status().as_u16(), "upstream answered 1xx; answered 502");
                failure(StatusCode::BAD_GATEWAY, "the upstream could not be reached")
            }
            Ok(Ok(answer)) => {
                let (mut parts, body) = answer.into_parts();
                if parts.headers.contains_key(header::TRANSFER_ENCODING) {
                    // The body was read by its Transfer-Encoding, which overrides a
                    // Content-Length beside it; a proxy removes that before forwarding (RFC
                    // 9112 §6.3). Kept, it would frame the body for the client: one longer than
                    // it says was cut to a complete-looking answer.
                    parts.headers.remove(header::CONTENT_LENGTH);
                }
                strip_hop_by_hop(&mut parts.headers);
                let relocated = parts
                    .headers
                    .get(header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| self.relocated(l))
                    .and_then(|l| HeaderValue::from_str(&l).ok());
                if let Some(location) = relocated {
                    parts.headers.insert(header::LOCATION, location);
                }
                let body = IdleBody::new(body, self.timeout, Arc::clone(&self.origin));
                Response::from_parts(parts, Body::new(body))
            }
            Ok(Err(e)) if closed_before_answer(&e) => {
                // Not sent again (see `send`): the API may have acted on it.
                tracing::warn!(target: "xnonce", upstream = %self.origin, error = %Chain(&e), "upstream closed the connection before answering (is its keep-alive timeout below [upstream] idle_timeout_ms?); answered 502");
                failure(StatusCode::BAD_GATEWAY, "the upstream could not be reached")
            }
            Ok(Err(e)) => {
                tracing::warn!(target: "xnonce", upstream = %self.origin, error = %Chain(&e), "upstream unreachable; answered 502");
                failure(StatusCode::BAD_GATEWAY, "the upstream could not be reached")
            }
            Err(_elapsed) => {
                tracing::warn!(target: "xnonce", upstream = %self.origin, timeout_ms = self.timeout.as_millis() as u64, "upstream too slow; answered 504");
                failure(
                    StatusCode::GATEWAY_TIMEOUT,
                    "the upstream did not answer in time",
                )
            }
        }
    }

    /// The `Location` a client can follow for one the upstream sent, when it names a place
    /// behind the gateway by the upstream's own address: a URL on the upstream's origin
    /// (`http://127.0.0.1:9000/api/items/7`, in any spelling a browser reads alike: upper
    /// case, the default port written out, `//authority/…`, user info, another spelling of
    /// an IPv6 address) or, under a URL prefix, a path below it (`/api/items/7`) becomes the
    /// path the client asks the gateway for (`/items/7`). Any other `Location` (another
    /// host, a path outside the prefix, a relative one, a scheme without `//`) is left as it
    /// is (`None`): the gateway never writes a redirect the API did not.
    fn relocated(&self, location: &str) -> Option<String> {
        let candidate = match Reference::of(location) {
            Reference::WithAuthority => true,
            // A path needs a prefix to change.
            Reference::PathAbsolute => !self.prefix.is_empty(),
            Reference::Other => false,
        };
        if !candidate {
            return None;
        }
        // Resolved as a browser resolves it (tabs and newlines dropped, `\` read as `/`, dot
        // segments removed), then compared by origin (scheme, host, port).
        let url = self.origin_url.join(location).ok()?;
        if url.origin() != self.origin_url.origin() {
            return None;
        }
        let rest = url[url::Position::BeforePath..].strip_prefix(self.prefix.as_str())?;
        match rest.as_bytes().first() {
            None => Some("/".into()),
            // `//host/…` would name another host: left as the API wrote it.
            Some(b'/') if rest.as_bytes().get(1) == Some(&b'/') => None,
            Some(b'/') => Some(rest.into()),
            Some(b'?' | b'#') => Some(format!("/{rest}")),
            // `/apix` is not under `/api`.
            Some(_) => None,
        }
    }
}

/// A client for the upstream whose connections stay open for at most `idle` once idle
/// (closed by the pool's timer), or are never reused (`None`).
fn client(idle: Option<Duration>) -> Client<HttpConnector, Body> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let mut builder = Client::builder(TokioExecutor::new());
    builder.pool_timer(TokioTimer::new());
    match idle {
        Some(idle) => builder.pool_idle_timeout(idle),
        None => builder.pool_max_idle_per_host(0),
    };
    builder.build(connector)
}

/// Whether a request may be sent to the upstream twice, whether or not it acted on the first:
/// a safe method (RFC 9110 §9.2.1: `GET`, `HEAD`, `OPTIONS`, `TRACE`; not merely idempotent
/// ones, as a `DELETE` that took effect is answered `404` the second time) without a body
/// (which went with the first try). A WebSocket handshake is a `GET`.
fn resendable(req: &Request<Body>) -> bool {
    use axum::http::Method;
    use http_body::Body as _;
    [Method::GET, Method::HEAD, Method::OPTIONS, Method::TRACE].contains(req.method())
        && req.body().size_hint().exact() == Some(0)
}

/// Whether a request failed as its connection closed or was reset before any byte of its
/// answer came (hyper: `connection closed before message completed`, a reset, a broken pipe;
/// or never written, `canceled`), rather than not reaching the upstream at all (a connect
/// error) or getting an answer hyper could not read.
fn closed_before_answer(e: &hyper_util::client::legacy::Error) -> bool {
    use std::error::Error as _;
    use std::io::ErrorKind;
    if e.is_connect() {
        return false;
    }
    let closed = [
        ErrorKind::ConnectionReset,
        ErrorKind::ConnectionAborted,
        ErrorKind::BrokenPipe,
        ErrorKind::UnexpectedEof,
    ];
    // The first cause that tells: a hyper error that says so, or the I/O error beneath.
    std::iter::successors(e.source(), |&cause| cause.source())
        .find_map(|cause| {
            let hyper_closed = (cause.downcast_ref::<hyper::Error>())
                .filter(|h| h.is_incomplete_message() || h.is_canceled())
                .map(|_| true);
            let io = cause.downcast_ref::<std::io::Error>();
            hyper_closed.or_else(|| io.map(|io| closed.contains(&io.kind())))
        })
        .unwrap_or(false)
}

/// An error with its causes, for the log (hyper-util's own text is only `client error
/// (SendRequest)`).
struct Chain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        for cause in std::iter::successors(self.0.source(), |&cause| cause.source()) {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

/// What kind of URL reference a `Location` is, read as a browser reads it (WHATWG URL:
/// leading spaces and controls ignored, tabs and newlines dropped anywhere, `\` as `/`).
#[derive(Debug, PartialEq, Eq)]
enum Reference {
    /// `scheme://…` or `//…`: names its own authority.
    WithAuthority,
    /// `/path…`: on the origin of the page it came from.
    PathAbsolute,
    /// Relative (`items/7`), or a scheme without `//` (`http:7`, `mailto:…`), whose
    /// meaning depends on a base URL the gateway does not know.
    Other,
}

impl Reference {
    fn of(location: &str) -> Reference {
        let read: Vec<u8> = location
            .trim_start_matches(|c: char| c <= ' ')
            .bytes()
            .filter(|b| !matches!(b, b'\t' | b'\n' | b'\r'))
            .collect();
        let slash = |b: &u8| matches!(b, b'/' | b'\\');
        let two_slashes = |s: &[u8]| s.len() >= 2 && slash(&s[0]) && slash(&s[1]);
        if two_slashes(&read) {
            return Reference::WithAuthority;
        }
        if read.first().is_some_and(slash) {
            return Reference::PathAbsolute;
        }
        let is_scheme = |s: &[u8]| {
            s.first().is_some_and(u8::is_ascii_alphabetic)
                && s.iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        };
        match read.iter().position(|&b| b == b':') {
            Some(end) if is_scheme(&read[..end]) && two_slashes(&read[end + 1..]) => {
                Reference::WithAuthority
            }
            _ => Reference::Other,
        }
    }
}

/// Whether `headers` ask to switch to, or switch to, WebSocket (`Connection: upgrade` and
/// `Upgrade: websocket`): the one upgrade the gateway forwards. Another protocol, such as
/// `h2c`, could carry further requests through the tunnel, unverified.
fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    let Some(Ok(upgrade)) = headers.get(header::UPGRADE).map(|v| v.to_str()) else {
        return false;
    };
    let asked = connection_options(headers).any(|token| token.eq_ignore_ascii_case("upgrade"));
    asked && upgrade.trim().eq_ignore_ascii_case("websocket")
}

/// The options of every `Connection` line (`keep-alive, Upgrade`), trimmed.
fn connection_options(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
}

/// Puts back the two hop-by-hop fields of a WebSocket handshake.
fn switch_to_websocket(headers: &mut HeaderMap) {
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
}

/// Appends the peer's address to `X-Forwarded-For`, after what the client (or a proxy in
/// front) sent, as a proxy does: the API can trust the last entry, and earlier ones only as
/// far as it trusts what stands in front of the gateway.
fn add_forwarded_for(headers: &mut HeaderMap, peer: IpAddr) {
    let mut chain: Vec<String> = headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    chain.push(peer.to_canonical().to_string());
    // Removed and appended: the field comes last, whatever position the client's had.
    headers.remove(X_FORWARDED_FOR);
    if let Ok(value) = HeaderValue::from_str(&chain.join(", ")) {
        headers.append(X_FORWARDED_FOR, value);
    }
}

/// Removes the fields that belong to one connection (RFC 9110 §7.6.1): `Connection`, those
/// it names, and the others defined as such.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = connection_options(headers)
        .filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok())
        // What the request was verified with, and what its body means, stays: `Connection:
        // Host` would otherwise hand the API the upstream's own host instead of the signed one.
        .filter(|name| {
            ![header::HOST, header::CONTENT_TYPE, header::CONTENT_ENCODING].contains(name)
        })
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        headers.remove(name);
    }
}

/// Fields that frameworks behind a proxy read in place of the request's own host, method,
/// target or address (axum's `Host` extractor, Django's `USE_X_FORWARDED_HOST`, Rails and
/// Express with a trusted proxy, IIS and Symfony's `X-Original-URL`): sent by a client
/// through the gateway, they would change what the API acts on without touching what was
/// verified. The gateway is the proxy that would set them, and it vouches only for
/// `X-Forwarded-For` (the peer's address appended) and `Host` (the verified authority).
pub const OVERRIDES: [&str; 23] = [
    // The host (and port) absolute URLs are built from.
    "forwarded",
    "x-forwarded-host",
    "x-forwarded-server",
    "x-forwarded-port",
    "x-original-host",
    // The target.
    "x-forwarded-prefix",
    "x-forwarded-uri",
    "x-forwarded-path",
    "x-original-url",
    "x-original-uri",
    "x-rewrite-url",
    "x-envoy-original-path",
    // Flask's `ReverseProxied` recipe, copied into many WSGI apps, moves it from the path's
    // start to SCRIPT_NAME: `/x/admin` signed, `X-Script-Name: /x` added, routes as `/admin`.
    "x-script-name",
    // The method (core's `answer::METHOD_OVERRIDE_FIELDS`, which a test here pins).
    "x-original-method",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    // With X-Forwarded-Uri, what Traefik's and nginx's forward-auth set for the request an
    // auth service (Authelia, oauth2-proxy) decides on.
    "x-forwarded-method",
    // The client's address (X-Forwarded-For is kept, with the peer appended).
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "cf-connecting-ip",
    "x-cluster-client-ip",
];

/// Removes every field a client could pass off as the gateway's: any name that, with `_`
/// read as `-` (as CGI-style servers merge them into `HTTP_X_XNONCE_…`), starts with
/// `x-xnonce-`, is one of the [`OVERRIDES`] of the verified host, method, target or address
/// (in either spelling), or is `X-Forwarded-For` spelled with a `_` (`X_Forwarded_For`, which
/// such a server would merge after the gateway's entry).
fn strip_gateway_fields(headers: &mut HeaderMap) {
    use xnonce_core::answer::{cgi_name_starts_with, cgi_same_name};
    let forwarded_for = X_FORWARDED_FOR.as_bytes();
    let theirs: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            let name = name.as_str().as_bytes();
            cgi_name_starts_with(name, "x-xnonce-")
                || OVERRIDES.iter().any(|field| cgi_same_name(name, field))
                || (cgi_same_name(name, X_FORWARDED_FOR) && name != forwarded_for)
        })
        .cloned()
        .collect();
    for name in theirs {
        headers.remove(name);
    }
}

/// True when a path has a segment some upstream reads as `.` or `..`, and so could step out
/// of the URL's prefix: once decoded, which covers core's dot segments
/// ([`xnonce_core::link::has_dot_segment`]: `.`, `..`, any dot written `%2e`) and an encoded
/// `/` or `\` as a separator (`/x/..%2fadmin`), split at `\` too (Windows servers) and cut
/// at `;` (Tomcat and Jetty read `/..;/` as `/../`). A path that cannot be decoded counts.
fn may_leave_prefix(path: &str) -> bool {
    let decoded = match xnonce_core::percent::decode_path(path) {
        Ok(bytes) => bytes,
        // Not forwardable as a path either way; the layer verified it as given.
        Err(_) => return true,
    };
    decoded
        .split(|&b| b == b'/' || b == b'\\')
        .map(|segment| segment.split(|&b| b == b';').next().unwrap_or(segment))
        .any(|segment| segment == b"." || segment == b"..")
}

/// Why a query or form body with a raw `;` is not forwarded.
const RAW_SEMICOLON: &str = "a raw ; in a query or form is not forwarded: some servers split \
     params at it, apart from what was signed; send it escaped (%3B)";

/// Whether the layer read the body as a form (its first `Content-Type` line, as the layer
/// read it: lossily).
fn is_form(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).is_some_and(|v| {
        xnonce_core::verify::is_form_content_type(Some(&String::from_utf8_lossy(v.as_bytes())))
    })
}

/// A verified form body as forwarded: each byte outside ASCII written `%XX`. The layer
/// decodes a field's bytes as UTF-8 whether they came raw or escaped, so `to=Zo%C3%AB` and
/// the same bytes sent raw verify alike; Starlette's form parser (FastAPI's) decodes a raw
/// byte as Latin-1 (`ZoÃ«`, a value nobody signed), while every form parser decodes `%XX` as
/// the UTF-8 verified. (A raw `;` is refused before this.)
fn form_for_api(body: bytes::Bytes) -> bytes::Bytes {
    if body.is_ascii() {
        return body;
    }
    let mut out = Vec::with_capacity(body.len() + 16);
    for &b in body.iter() {
        match b {
            0x80.. => out.extend_from_slice(format!("%{b:02X}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.into()
}

/// Whether an API could take the `Content-Type` for a form's while the layer did not (core's
/// [`form_content_type_misread`](xnonce_core::verify::form_content_type_misread): U+00A0 or
/// another character such readers trim around the media type), its bytes read as Latin-1
/// (as WSGI, ASGI and Node servers read a field's bytes) or as UTF-8 (as Go's readers do).
fn misread_as_form(headers: &HeaderMap) -> bool {
    use xnonce_core::verify::form_content_type_misread;
    headers.get(header::CONTENT_TYPE).is_some_and(|v| {
        let bytes = v.as_bytes();
        let latin1: String = bytes.iter().map(|&b| char::from(b)).collect();
        form_content_type_misread(Some(&latin1))
            || form_content_type_misread(Some(&String::from_utf8_lossy(bytes)))
    })
}

/// Replaces the `Content-Type` (the one line left) with core's
/// [`content_type_for_app`](xnonce_core::verify::content_type_for_app): a form's with
/// [`FORM_UTF8`](xnonce_core::verify::FORM_UTF8), as the layer read its fields as UTF-8
/// whatever `charset` it named, and JSON naming a charset as the UTF-8 it is (an API on
/// Express would decode it even as UTF-7); nothing signs the charset (PROTOCOL §14.3).
fn content_type_as_verified(headers: &mut HeaderMap) {
    // Read as the layer read it (lossily: bytes outside ASCII do not make it no form).
    let for_app = headers.get(header::CONTENT_TYPE).and_then(|v| {
        xnonce_core::verify::content_type_for_app(Some(&String::from_utf8_lossy(v.as_bytes())))
    });
    if let Some(value) = for_app.and_then(|ct| HeaderValue::try_from(ct.into_owned()).ok()) {
        headers.insert(header::CONTENT_TYPE, value);
    }
}

/// Keeps only the first line of a field that has one value (RFC 9110 §5.3): what the layer
/// read (its `Content-Type` decided whether the body was a form), not another line the
/// upstream might read instead.
fn keep_first(headers: &mut HeaderMap, name: HeaderName) {
    if let header::Entry::Occupied(mut lines) = headers.entry(name) {
        if lines.iter().nth(1).is_some() {
            let first = lines.get().clone();
            lines.insert(first);
        }
    }
}

/// The gateway's own `502` / `504`, marked for the metrics ([`Behind`]).
fn failure(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut res = Response::new(Body::from(text));
    *res.status_mut() = status;
    res.extensions_mut().insert(match status {
        StatusCode::GATEWAY_TIMEOUT => Behind::UpstreamTimeout,
        _ => Behind::UpstreamFailed,
    });
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_method_overrides_are_cores() {
        for field in xnonce_core::answer::METHOD_OVERRIDE_FIELDS {
            assert!(OVERRIDES.contains(&field), "{field}");
        }
    }

    #[test]
    fn hop_by_hop_fields_and_those_connection_names_are_dropped() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("connection", "keep-alive, x-private"),
            ("keep-alive", "timeout=5"),
            ("x-private", "1"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("content-type", "application/json"),
            ("x-nonce", "v2 ..."),
            ("connection", "host, content-type, Content-Encoding"),
            ("host", "api.test"),
            ("content-encoding", "gzip"),
        ] {
            h.append(k, HeaderValue::from_static(v));
        }
        strip_hop_by_hop(&mut h);
        let mut left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        left.sort_unstable();
        let kept = ["content-encoding", "content-type", "host", "x-nonce"];
        assert_eq!(left, kept, "what the request was verified with stays");
    }

    #[test]
    fn every_field_passing_for_the_gateways_is_dropped() {
        let mut h = HeaderMap::new();
        for k in [
            "x-xnonce-client",
            "x_xnonce_client",
            "x-xnonce_scheme",
            "x-xnonce-verified",
            "x-xnonce",
            "x-nonce",
            "x_forwarded_for",
            "x-forwarded_for",
            "x-forwarded-for",
            "forwarded",
            "x-forwarded-host",
            "x_forwarded_host",
            "x-forwarded-server",
            "x-forwarded-prefix",
            "x-original-url",
            "x_original_url",
            "x-rewrite-url",
            "x-original-method",
            "x-http-method-override",
            "x-http-method",
            "x-method-override",
            "x-real-ip",
            "x-forwarded-proto",
            "x-forwarded-hostname",
            "x-original-uri",
            "x_forwarded_port",
            "true-client-ip",
            "x-envoy-original-path",
            "x-forwarded-method",
            "x_forwarded_method",
        ] {
            h.append(k, HeaderValue::from_static("admin"));
        }
        strip_gateway_fields(&mut h);
        let mut left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        left.sort_unstable();
        let kept = [
            "x-forwarded-for",
            "x-forwarded-hostname",
            "x-forwarded-proto",
            "x-nonce",
            "x-xnonce",
        ];
        assert_eq!(left, kept);
    }

    #[test]
    fn paths_that_may_step_out_of_the_prefix_are_caught() {
        for path in [
            "/../admin",
            "/x/%2e%2E/admin",
            "/x/..%2fadmin",
            "/x/..%2Fadmin",
            "/x/..%5cadmin",
            "/x/..\\admin",
            "/x/..;/admin",
            "/x/..;jsessionid=1/admin",
            "/x/.;/admin",
            "/x/%2e%2e%3b/admin",
            "/x/%zz",
        ] {
            assert!(may_leave_prefix(path), "{path}");
        }
        for path in [
            "/",
            "/a/b",
            "/a/..b/.c/x.y",
            "/a/b;v=1",
            "/a%2fb",
            "/.well-known/x",
            "/a/...",
            "/a/%2e%2e%2e",
        ] {
            assert!(!may_leave_prefix(path), "{path}");
        }
    }

    #[test]
    fn a_form_or_json_reaches_the_upstream_as_utf8_whatever_charset_it_named() {
        let form = xnonce_core::verify::FORM_UTF8;
        for (sent, upstream) in [
            ("application/x-www-form-urlencoded", form),
            (
                "Application/X-WWW-Form-Urlencoded; charset=iso-8859-1",
                form,
            ),
            ("application/x-www-form-urlencoded;charset=IBM037", form),
            // JSON naming a charset: as the UTF-8 it is (an API on Express would decode UTF-7).
            (
                "application/json; charset=utf-7",
                "application/json; charset=utf-8",
            ),
            (
                "Application/Problem+JSON;charset=UTF-16",
                "application/problem+json; charset=utf-8",
            ),
            // Anything else: its media type and parameters are the API's business, as sent.
            ("application/json", "application/json"),
            ("text/plain; charset=utf-16", "text/plain; charset=utf-16"),
            (
                "multipart/form-data; boundary=x",
                "multipart/form-data; boundary=x",
            ),
        ] {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(sent));
            content_type_as_verified(&mut h);
            assert_eq!(h[header::CONTENT_TYPE], upstream, "{sent}");
        }
        let mut none = HeaderMap::new();
        content_type_as_verified(&mut none);
        assert!(none.is_empty());
    }

    #[test]
    fn the_upstream_gets_one_content_type() {
        let mut h = HeaderMap::new();
        h.append(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        h.append(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        keep_first(&mut h, header::CONTENT_TYPE);
        let left: Vec<_> = h.get_all(header::CONTENT_TYPE).iter().collect();
        assert_eq!(left, ["application/x-www-form-urlencoded"]);
        keep_first(&mut h, header::EXPECT); // absent: nothing happens
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn locations_on_the_upstreams_address_become_gateway_paths() {
        let t = DEFAULT_TIMEOUT;
        let prefixed = Upstream::new("http://127.0.0.1:9000/api", t).unwrap();
        for (location, client) in [
            ("http://127.0.0.1:9000/api/items/7", Some("/items/7")),
            ("HTTP://127.0.0.1:9000/api?page=2", Some("/?page=2")),
            ("http://127.0.0.1:9000/api", Some("/")),
            ("http://127.0.0.1:9000/api#top", Some("/#top")),
            ("/api/items/7", Some("/items/7")),
            ("http://127.0.0.1:9000/other", None),
            ("http://127.0.0.1:90001/api/x", None),
            ("/apix", None),
            ("//127.0.0.1:9000/api/x", Some("/x")),
            ("/\\127.0.0.1:9000/api/x", Some("/x")),
            ("http://127.0.0.1:9000/api/a/../b?q#f", Some("/b?q#f")),
            ("http://127.0.0.1:9000/api/../admin", None),
            ("http://user:pw@127.0.0.1:9000/api/x", Some("/x")),
            (" http://127.0.0.1:9000/api/x", Some("/x")),
            ("https://127.0.0.1:9000/api/x", None),
            ("http://localhost:9000/api/x", None),
            ("//evil.example/api/x", None),
            ("/\\evil.example/api/x", None),
            ("mailto:a@127.0.0.1", None),
            ("items/7", None),
            ("https://example.com/api/x", None),
            ("/api//evil.example/x", None),
            ("/api/\\evil.example/", None),
            ("http://127.0.0.1:9000/api//evil.example/", None),
        ] {
            assert_eq!(
                prefixed.relocated(location).as_deref(),
                client,
                "{location}"
            );
        }
        let bare = Upstream::new("http://[::1]:9000", t).unwrap();
        assert_eq!(bare.relocated("http://[::1]:9000/x").as_deref(), Some("/x"));
        assert_eq!(
            bare.relocated("http://[0:0::1]:9000/x").as_deref(),
            Some("/x")
        );
        let default_port = Upstream::new("http://127.0.0.1/api", t).unwrap();
        for location in ["http://127.0.0.1:80/api/x", "http://127.0.0.1/api/x"] {
            assert_eq!(default_port.relocated(location).as_deref(), Some("/x"));
        }
        assert_eq!(bare.relocated("/x"), None, "nothing to change");
        assert_eq!(bare.relocated("http://[::1]:9000//evil.example/x"), None);
        // A scheme without `//` is relative to a base the gateway does not know.
        assert_eq!(bare.relocated("http:7"), None);
    }

    /// Whatever the upstream's `Location`, what the gateway writes in its place takes a
    /// browser (WHATWG URL, which drops tabs and newlines anywhere and reads `\` as `/`) to
    /// the gateway, never elsewhere.
    #[test]
    fn relocations_never_leave_the_gateway() {
        let up = Upstream::new("http://127.0.0.1:9000/api", DEFAULT_TIMEOUT).unwrap();
        let gateway = url::Url::parse("https://gateway.example/items/").unwrap();
        let mut rewritten = Vec::new();
        for location in [
            "/api/\t/evil.example/x",
            "/api/\t\\evil.example/x",
            "/api/\t\t/evil.example/x",
            "/api/\n/evil.example/x",
            "\t/api//evil.example/x",
            "\\api\\x",
            "http://127.0.0.1:9000/api/\t/evil.example/x",
            "//127.0.0.1:9000/api/\t/evil.example/x",
            "http:/api/x",
            "http:api/x",
            "http:\\\\127.0.0.1:9000/api/x",
            "HTTP://127.0.0.1:9000/api/x",
            "http://127.0.0.%31:9000/api/x",
            "http://127.0.0.1:09000/api/x",
            "http://[::1%25eth0]:9000/api/x",
            "http://127.0.0.1:9000@evil.example/api/x",
            "http://evil.example@127.0.0.1:9000/api/x",
            "http://127.0.0.1:9000\\@evil.example/api/x",
            "/api/../admin",
            "/api/%2e%2e/admin",
        ] {
            // What `forward` does with the upstream's header.
            let Some(out) = HeaderValue::from_str(location)
                .ok()
                .and_then(|l| up.relocated(l.to_str().ok()?))
            else {
                continue;
            };
            let followed = gateway.join(&out).unwrap();
            assert_eq!(
                followed.origin(),
                gateway.origin(),
                "{location:?} -> {out:?} -> {followed}"
            );
            rewritten.push((location, out));
        }
        // Those on the upstream's origin under /api were rewritten, not merely dropped; the
        // rest (another host once tabs are dropped, a scheme without `//`, outside the
        // prefix) are left as the API wrote them.
        let x = |l| (l, "/x".to_string());
        assert_eq!(
            rewritten,
            [
                x("\\api\\x"),
                x("http:\\\\127.0.0.1:9000/api/x"),
                x("HTTP://127.0.0.1:9000/api/x"),
                x("http://127.0.0.%31:9000/api/x"),
                x("http://127.0.0.1:09000/api/x"),
                x("http://evil.example@127.0.0.1:9000/api/x"),
            ]
        );
    }

    #[test]
    fn the_peer_is_appended_to_x_forwarded_for() {
        let mut h = HeaderMap::new();
        add_forwarded_for(&mut h, "192.0.2.1".parse().unwrap());
        assert_eq!(h[X_FORWARDED_FOR], "192.0.2.1");
        h.append(X_FORWARDED_FOR, HeaderValue::from_static("198.51.100.2 "));
        h.append("x-after", HeaderValue::from_static("1"));
        add_forwarded_for(&mut h, "::ffff:192.0.2.3".parse().unwrap());
        assert_eq!(h[X_FORWARDED_FOR], "192.0.2.1, 198.51.100.2, 192.0.2.3");
        assert_eq!(h.get_all(X_FORWARDED_FOR).iter().count(), 1);
        let last = h.keys().last().map(|k| k.as_str());
        assert_eq!(last, Some(X_FORWARDED_FOR), "after every other field");
    }

    /// An API that records the head of each request it gets and answers `200 up`.
    async fn recording_api() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let heads = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                heads
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head).into_owned());
                let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nup";
                let _ = conn.write_all(answer).await;
            }
        });
        (url, seen)
    }

    /// `app`'s answer to `GET <target>?n=<n>` with `Host: api.test`, signed by "svc" in
    /// `scheme` for the path `signed` with the param `n` (each request its own: v1 tokens of
    /// one millisecond are alike), and for the host api.test in v2.
    async fn signed_get(
        app: &axum::Router,
        secret: &xnonce_core::Secret,
        scheme: Scheme,
        signed: &str,
        target: &str,
        n: usize,
    ) -> (u16, String) {
        use xnonce_core::{sign, SignInput};
        let n = n.to_string();
        let mut input = SignInput::new(scheme, "GET", signed, "svc").param("n", &n);
        if scheme == Scheme::V2 {
            input = input.host("api.test");
        }
        let x_nonce = sign(&input, secret).unwrap().x_nonce;
        let req = Request::get(format!("{target}?n={n}"))
            .header("host", "api.test")
            .header("x-nonce", x_nonce)
            .body(axum::body::Body::empty())
            .unwrap();
        answer(app.clone(), req).await
    }

    /// A gateway behind the layer that knows "svc" in front of a [`recording_api`]: the
    /// gateway, the heads the API received, and svc's secret.
    async fn recorded_svc_gateway() -> (
        axum::Router,
        Arc<std::sync::Mutex<Vec<String>>>,
        xnonce_core::Secret,
    ) {
        let (url, seen) = recording_api().await;
        let app = svc_gateway(&url, svc_layer());
        (app, seen, crate::layer::tests::svc_secret())
    }

    /// A gateway to `url` behind `layer` (one that knows "svc": `layer::tests::svc_secret`).
    fn svc_gateway(url: &str, layer: crate::XNonceLayer) -> axum::Router {
        crate::app::gateway_app(Upstream::new(url, DEFAULT_TIMEOUT).unwrap(), layer, None)
    }

    /// The layer the gateway tests put in front: "svc" with `layer::tests::svc_secret`.
    fn svc_layer() -> crate::XNonceLayer {
        let secret = crate::layer::tests::svc_secret();
        crate::XNonceLayer::new(crate::layer::tests::svc_clients(&secret))
    }

    /// The status and body (as text) of `app`'s answer to `req`.
    async fn answer(app: axum::Router, req: Request<axum::body::Body>) -> (u16, String) {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let res = app.oneshot(req).await.unwrap();
        let status = res.status().as_u16();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// `GET http://user:password@host/path` (RFC 9110 §4.2.4: user info in a target is an
    /// error, and no sender may write it in a field): never forwarded with a `Host` field
    /// holding it. A v1 signature does not cover the host, so the layer accepts the request;
    /// the gateway used to pass `Host: u:p@evil.test` on to the API, a field no client or
    /// proxy may send, which an API building links from it would turn into
    /// `http://u:p@evil.test/…` (a link to evil.test).
    #[tokio::test]
    async fn a_target_with_user_info_is_not_forwarded() {
        let (app, seen, secret) = recorded_svc_gateway().await;
        let send = |target, n| signed_get(&app, &secret, Scheme::V1, "/a/b", target, n);
        // Without user info the target's authority is the API's Host.
        assert_eq!(send("http://api.test/a/b", 0).await, (200, "up".into()));
        assert!(seen.lock().unwrap()[0].contains("host: api.test\r\n"));
        for (n, target) in ["http://u:p@evil.test/a/b", "http://api.test@evil.test/a/b"]
            .into_iter()
            .enumerate()
        {
            let (status, body) = send(target, n + 1).await;
            assert_eq!(status, 400, "{target}: {body}");
            let heads = seen.lock().unwrap();
            assert_eq!(
                heads.len(),
                1,
                "{target} reached the API: {}",
                heads[heads.len() - 1]
            );
        }
    }

    /// A v2 signature covers the canonical path, where a raw `;` or `\` and its escape are
    /// one (PROTOCOL §6.3): a request signed for the file `/files/a%3Bb` verifies sent as
    /// `/files/a;b`, which the gateway used to forward raw, for Tomcat or Jetty to route to
    /// `/files/a` (and `\` for a Windows server to read as `/`). Refused, so the API only
    /// ever gets them escaped, as the data they were signed as; v1, which signs the path as
    /// sent, forwards them as signed.
    #[tokio::test]
    async fn a_v2_path_with_a_raw_semicolon_or_backslash_is_not_forwarded() {
        let (app, seen, secret) = recorded_svc_gateway().await;
        let cases = [
            (Scheme::V2, "/files/a%3Bb", "/files/a;b", 400),
            (Scheme::V2, "/files/a%5Cb", "/files/a\\b", 400),
            (Scheme::V2, "/files/a;b", "/files/a;b", 400),
            (Scheme::V2, "/files/a;b", "/files/a%3Bb", 200),
            (Scheme::V2, "/files/a%5Cb", "/files/a%5cb", 200),
            (Scheme::V1, "/files/a;b", "/files/a;b", 200),
            (Scheme::V1, "/files/a\\b", "/files/a\\b", 200),
        ];
        for (n, (scheme, signed, target, expected)) in cases.into_iter().enumerate() {
            let before = seen.lock().unwrap().len();
            let (status, body) = signed_get(&app, &secret, scheme, signed, target, n).await;
            assert_eq!(status, expected, "{target}: {body}");
            let heads = seen.lock().unwrap();
            if expected == 400 {
                assert!(
                    body.contains(r#""code":"invalid_path""#),
                    "{target}: {body}"
                );
                assert_eq!(heads.len(), before, "{target} reached the API");
            } else {
                let line = format!("GET {target}?n={n} HTTP/1.1\r\n");
                assert!(heads[before].starts_with(&line), "{}", heads[before]);
            }
        }
    }

    /// The layer splits params at `&` only, so `?a=1;b=2` verifies as the one param
    /// `a` = `1;b=2`, signed for `?a=1%3Bb%3D2`; the gateway used to forward it raw, for an
    /// API that also splits at `;` (Rack 2, Django before 3.2, Python's `parse_qs` before
    /// 3.9.2, Go before 1.17) to read a param `b` no signature covers as such. The same in a
    /// form body, and in v1 (whose values are form-decoded alike). Escaped, it is forwarded;
    /// a `;` in a body that is no form is not params.
    #[tokio::test]
    async fn a_raw_semicolon_in_a_query_or_form_is_not_forwarded() {
        use axum::body::Body;
        use xnonce_core::{sign, SignInput};
        let (app, seen, secret) = recorded_svc_gateway().await;
        let form = "application/x-www-form-urlencoded";
        let cases = [
            (Scheme::V2, "?a=1;b=2", None, 400),
            (Scheme::V1, "?a=1;b=2", None, 400),
            (Scheme::V2, "?a=1%3Bb%3D2", None, 200),
            (Scheme::V1, "?a=1%3Bb%3D2", None, 200),
            (Scheme::V2, "", Some((form, "a=1;b=2")), 400),
            (Scheme::V1, "", Some((form, "a=1;b=2")), 400),
            (Scheme::V2, "", Some((form, "a=1%3Bb%3D2")), 200),
            (
                Scheme::V2,
                "",
                Some(("application/json", r#"{"a":"1;b=2"}"#)),
                200,
            ),
        ];
        for (n, (scheme, query, body, expected)) in cases.into_iter().enumerate() {
            let n = n.to_string();
            let signed_body = body.filter(|(t, _)| *t != form).map(|(_, b)| b.as_bytes());
            // In the order sent (v1 signs it): the query's params, then the form's.
            let mut input = SignInput::new(scheme, "POST", "/a/b", "svc");
            if !query.is_empty() {
                input = input.param("a", "1;b=2");
            }
            input = input.param("n", &n);
            if body.is_some_and(|(t, _)| t == form) {
                input = input.param("a", "1;b=2");
            }
            if scheme == Scheme::V2 {
                input = input.host("api.test");
                if let Some(b) = signed_body {
                    input = input.body(b.to_vec());
                }
            }
            let x_nonce = sign(&input, &secret).unwrap().x_nonce;
            let sep = if query.is_empty() { "?" } else { "&" };
            let mut req = Request::post(format!("/a/b{query}{sep}n={n}"))
                .header("host", "api.test")
                .header("x-nonce", x_nonce);
            if let Some((content_type, _)) = body {
                req = req.header("content-type", content_type);
            }
            let req = req.body(Body::from(body.map_or("", |(_, b)| b))).unwrap();
            let before = seen.lock().unwrap().len();
            let (status, text) = answer(app.clone(), req).await;
            assert_eq!(status, expected, "{scheme:?} {query} {body:?}: {text}");
            let reached = seen.lock().unwrap().len() > before;
            assert_eq!(reached, expected == 200, "{scheme:?} {query} {body:?}");
            if scheme == Scheme::V2 && expected == 400 {
                assert!(text.contains(r#""code":"malformed_params""#), "{text}");
            }
        }
    }

    /// The `qs` parser (Express's, and APIs that copy it) splits a pair at its first `]=`,
    /// the layer at its first `=`: `q=a]=b`, signed for `q` = `a]=b` (sent escaped as
    /// `q=a%5D%3Db`, verified alike unescaped), was forwarded for such an API to read a param
    /// `q=a]` nobody signed. In the query and in a form; escaped, it is forwarded. A form's
    /// `Content-Encoding` is not forwarded (its params were verified as the bytes sent; an
    /// API would inflate them first); another body's is.
    #[tokio::test]
    async fn a_pair_qs_splits_elsewhere_is_not_forwarded_nor_a_forms_content_encoding() {
        use axum::body::Body;
        use xnonce_core::{sign, SignInput};
        let (app, seen, secret) = recorded_svc_gateway().await;
        let form = "application/x-www-form-urlencoded";
        let cases = [
            ("?q=a]=b", None, 400),
            ("?q=a%5D%3Db", None, 200),
            ("", Some((form, "q=a]=b", None)), 400),
            ("", Some((form, "q=a%5D%3Db", Some("deflate"))), 200),
            (
                "",
                Some(("application/json", r#"{"q":"a]=b"}"#, Some("gzip"))),
                200,
            ),
        ];
        for (n, (query, body, expected)) in cases.into_iter().enumerate() {
            let n = n.to_string();
            let mut input = SignInput::new(Scheme::V2, "POST", "/a/b", "svc").host("api.test");
            if !query.is_empty() {
                input = input.param("q", "a]=b");
            }
            input = input.param("n", &n);
            match body {
                Some((t, _, _)) if t == form => input = input.param("q", "a]=b"),
                Some((_, b, _)) => input = input.body(b.as_bytes().to_vec()),
                None => {}
            }
            let x_nonce = sign(&input, &secret).unwrap().x_nonce;
            let sep = if query.is_empty() { "?" } else { "&" };
            let mut req = Request::post(format!("/a/b{query}{sep}n={n}"))
                .header("host", "api.test")
                .header("x-nonce", x_nonce);
            if let Some((content_type, _, encoding)) = body {
                req = req.header("content-type", content_type);
                if let Some(encoding) = encoding {
                    req = req.header("content-encoding", encoding);
                }
            }
            let req = req
                .body(Body::from(body.map_or("", |(_, b, _)| b)))
                .unwrap();
            let before = seen.lock().unwrap().len();
            let (status, text) = answer(app.clone(), req).await;
            assert_eq!(status, expected, "{query} {body:?}: {text}");
            let heads = seen.lock().unwrap();
            assert_eq!(heads.len() > before, expected == 200, "{query} {body:?}");
            if expected == 400 {
                assert!(text.contains(r#""code":"malformed_params""#), "{text}");
            } else if let Some((t, _, Some(encoding))) = body {
                let head = heads.last().unwrap().to_ascii_lowercase();
                let forwarded = head.contains(&format!("content-encoding: {encoding}"));
                assert_eq!(forwarded, t != form, "{t}: {head}");
            }
        }
    }

    /// The layer decodes a form field's bytes as UTF-8 whether sent raw or escaped, so
    /// `to=Zo%C3%AB` and the same bytes raw verify alike; Starlette's form parser decodes a
    /// raw byte as Latin-1 (`ZoÃ«`). The API gets the form with each byte outside ASCII as
    /// `%XX`, which every form parser decodes as the UTF-8 verified, its `Content-Length` the
    /// new one.
    #[tokio::test]
    async fn a_forms_raw_non_ascii_bytes_are_forwarded_escaped() {
        use axum::body::Body;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use xnonce_core::{sign, SignInput};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut all = Vec::new();
            let mut buf = [0u8; 4096];
            // The head, then as many body bytes as it declares.
            let body_at = loop {
                let n = conn.read(&mut buf).await.unwrap();
                all.extend_from_slice(&buf[..n]);
                if let Some(i) = all.windows(4).position(|w| w == b"\r\n\r\n") {
                    break i + 4;
                }
            };
            let head = String::from_utf8_lossy(&all[..body_at]).to_ascii_lowercase();
            let length: usize = head
                .split("\r\ncontent-length: ")
                .nth(1)
                .and_then(|rest| rest.split("\r\n").next()?.parse().ok())
                .unwrap();
            while all.len() < body_at + length {
                let n = conn.read(&mut buf).await.unwrap();
                all.extend_from_slice(&buf[..n]);
            }
            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nup";
            let _ = conn.write_all(answer).await;
            let _ = tx.send((head, all[body_at..].to_vec()));
        });
        let secret = crate::layer::tests::svc_secret();
        let app = svc_gateway(&url, svc_layer());
        let x_nonce = sign(
            &SignInput::new(Scheme::V2, "POST", "/a/b", "svc")
                .host("api.test")
                .param("to", "Zo\u{eb}"),
            &secret,
        )
        .unwrap()
        .x_nonce;
        let raw = "to=Zo\u{eb}".as_bytes();
        let req = Request::post("/a/b")
            .header("host", "api.test")
            .header("x-nonce", x_nonce)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(raw))
            .unwrap();
        let (status, text) = answer(app, req).await;
        assert_eq!(status, 200, "{text}");
        let (head, body) = rx.await.unwrap();
        assert_eq!(body, b"to=Zo%C3%AB");
        assert!(head.contains("\r\ncontent-length: 11\r\n"), "{head}");
    }

    /// A body signed as `text/plain` and sent with a form's media type and U+00A0 after it
    /// (byte 0xA0 as WSGI, ASGI and Node servers read it; C2 A0 as Go's does) verified as
    /// opaque bytes (the layer trims SP and HTAB only), and was forwarded to an API whose
    /// reader trims it and reads a form with a field no param signs.
    #[tokio::test]
    async fn a_form_type_only_the_api_reads_as_a_form_is_not_forwarded() {
        use axum::body::Body;
        use xnonce_core::{sign, SignInput};
        let (app, seen, secret) = recorded_svc_gateway().await;
        let body = "memo=hi&to=mallory";
        let form = b"application/x-www-form-urlencoded";
        for (n, (content_type, expected)) in [
            ([&form[..], b"\xa0"].concat(), 400),
            ([&b"\xa0"[..], &form[..], b"; a=b"].concat(), 400),
            ([&form[..], b"\xc2\xa0"].concat(), 400),
            (b"text/plain".to_vec(), 200),
        ]
        .into_iter()
        .enumerate()
        {
            let input = SignInput::new(Scheme::V2, "POST", "/a/b", "svc")
                .host("api.test")
                .param("n", n.to_string())
                .body(body.as_bytes().to_vec());
            let x_nonce = sign(&input, &secret).unwrap().x_nonce;
            let req = Request::post(format!("/a/b?n={n}"))
                .header("host", "api.test")
                .header("x-nonce", x_nonce)
                .header(
                    "content-type",
                    HeaderValue::from_bytes(&content_type).unwrap(),
                )
                .body(Body::from(body))
                .unwrap();
            let before = seen.lock().unwrap().len();
            let (status, text) = answer(app.clone(), req).await;
            assert_eq!(status, expected, "{content_type:?}: {text}");
            assert_eq!(seen.lock().unwrap().len() > before, expected == 200);
            if expected == 400 {
                assert!(text.contains(r#""code":"invalid_body""#), "{text}");
            }
        }
    }

    /// The gateway's own answers to a request the layer accepted (a target it does not
    /// forward, an upstream it cannot reach) are counted under what happened, not as
    /// `accepted`: a dashboard of accepted requests used to show a dead upstream as traffic
    /// served.
    #[tokio::test]
    async fn the_gateways_own_answers_are_not_counted_accepted() {
        use axum::body::Body;
        use xnonce_core::{sign, SignInput};
        let (url, _seen) = recording_api().await;
        // A port nothing listens on.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dead = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let secret = crate::layer::tests::svc_secret();
        let metrics = Arc::new(crate::Metrics::default());
        let gateway = |url: &str| svc_gateway(url, svc_layer().metrics(metrics.clone()));
        let send = |app: axum::Router, method: &str, n: &str| {
            let input = SignInput::new(Scheme::V2, method, "/a/b", "svc")
                .param("n", n)
                .host("api.test");
            let x_nonce = sign(&input, &secret).unwrap().x_nonce;
            let req = Request::builder()
                .method(method)
                .uri(format!("/a/b?n={n}"))
                .header("host", "api.test")
                .header("x-nonce", x_nonce)
                .body(Body::empty())
                .unwrap();
            async move { answer(app, req).await.0 }
        };
        assert_eq!(send(gateway(&url), "GET", "1").await, 200);
        assert_eq!(send(gateway(&url), "get", "2").await, 400);
        assert_eq!(send(gateway(&dead), "GET", "3").await, 502);
        let text = metrics.render(None);
        let count = |outcome: &str| crate::metrics::requests_total(&text, "v2", outcome);
        assert_eq!(count("accepted"), Some(1), "{text}");
        assert_eq!(count("invalid_method"), Some(1), "{text}");
        assert_eq!(count("upstream_failed"), Some(1), "{text}");
        assert_eq!(count("upstream_timeout"), Some(0), "{text}");
    }

    /// Sent twice only when that is harmless whether or not the API acted on the first: a
    /// safe method, no body (which went with the first try).
    #[test]
    fn only_a_safe_request_without_a_body_may_be_sent_again() {
        let req = |method: &str, body: &'static str| {
            Request::builder()
                .method(method)
                .uri("http://127.0.0.1:9/x")
                .body(Body::from(body))
                .unwrap()
        };
        for method in ["GET", "HEAD", "OPTIONS", "TRACE"] {
            assert!(resendable(&req(method, "")), "{method}");
        }
        assert!(!resendable(&req("GET", "x")));
        for method in ["POST", "PUT", "DELETE", "PATCH"] {
            assert!(!resendable(&req(method, "")), "{method}");
        }
    }

    #[test]
    fn urls_that_are_not_a_plain_http_origin_are_refused() {
        let t = DEFAULT_TIMEOUT;
        for bad in [
            "ftp://h",
            "https://h",
            "http://",
            "http://u:p@h:1",
            "h:80",
            "http://h/?q",
            "http://h:1#frag",
            "http://127.0.0.1:99999",
            "http://127.0.0.1:0",
            "http://h:",
        ] {
            assert!(Upstream::new(bad, t).is_err(), "{bad}");
        }
        assert!(Upstream::new("http://[::1]:8080", t).is_ok());
        assert!(Upstream::new("http://[::1]", t).is_ok());
        let u = Upstream::new("http://127.0.0.1:9000/api/", t).unwrap();
        assert_eq!(
            (&*u.origin, u.prefix.as_str()),
            ("http://127.0.0.1:9000", "/api")
        );
    }
}
