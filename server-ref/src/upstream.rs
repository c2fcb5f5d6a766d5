//! Forwarding verified requests to the API behind the server (the config's `[upstream]`):
//! `xnonce-server` as a verifying gateway in front of an API written in any language.
//!
//! A request the layer accepted is sent on to the upstream unchanged — method, target (path
//! and query as the client sent them), header fields, body — except that the hop-by-hop
//! fields (RFC 9110 §7.6.1: `Connection` and the fields it names, `Keep-Alive`,
//! `Proxy-Connection`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`) are dropped, and the
//! verified client and scheme are added as [`CLIENT_HEADER`] and [`SCHEME_HEADER`], replacing
//! any the client sent (a client cannot name itself). The upstream's answer comes back the
//! same way. Refused requests never reach the upstream.
//!
//! An upstream that cannot be reached is answered `502`, one that has not answered within
//! its timeout `504`, both `text/plain` (they are not refusals of the request: it was
//! verified, and recorded as seen). The upstream is plain HTTP (`http://host:port[/prefix]`):
//! the API on the same host or a private network; TLS is the front's job.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use xnonce_core::Verified;

/// The verified client's id, as the upstream receives it.
pub const CLIENT_HEADER: &str = "x-xnonce-client";
/// The verified request's scheme (`v1` or `v2`), as the upstream receives it.
pub const SCHEME_HEADER: &str = "x-xnonce-scheme";

/// How long the upstream may take to start its answer, by default: 30 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The API behind the server, and a pool of connections to it.
#[derive(Clone, Debug)]
pub struct Upstream {
    client: Client<HttpConnector, Body>,
    /// `http://authority`.
    origin: String,
    /// The URL's path without its trailing `/`: put before every target.
    prefix: String,
    timeout: Duration,
}

impl Upstream {
    /// The upstream at `url` (`http://host:port` with an optional path prefix, no query),
    /// answering within `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use xnonce_server::upstream::Upstream;
    /// assert!(Upstream::new("http://127.0.0.1:9000/api", Duration::from_secs(5)).is_ok());
    /// assert!(Upstream::new("https://api.internal", Duration::from_secs(5)).is_err());
    /// assert!(Upstream::new("http://127.0.0.1:9000/?x=1", Duration::from_secs(5)).is_err());
    /// ```
    pub fn new(url: &str, timeout: Duration) -> Result<Upstream, String> {
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
        if uri.query().is_some() {
            return Err("must not have a query".into());
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Ok(Upstream {
            client: Client::builder(TokioExecutor::new()).build(connector),
            origin: format!("http://{authority}"),
            prefix: uri.path().trim_end_matches('/').to_string(),
            timeout,
        })
    }

    /// Sends a verified request on (with [`Verified`] in its extensions, as the layer leaves
    /// it) and returns the upstream's answer, or a `502` / `504`.
    pub async fn forward(&self, req: Request<Body>) -> Response<Body> {
        let (mut parts, body) = req.into_parts();
        let target = crate::layer::sent_target(&parts)
            .path_and_query()
            .map_or("/", |p| p.as_str());
        let uri = format!("{}{}{}", self.origin, self.prefix, target);
        let Ok(uri) = uri.parse::<Uri>() else {
            return failure(
                StatusCode::BAD_GATEWAY,
                "the request target cannot be forwarded",
            );
        };
        let verified = parts.extensions.remove::<Verified>();
        let mut headers = std::mem::take(&mut parts.headers);
        strip_hop_by_hop(&mut headers);
        headers.remove(CLIENT_HEADER);
        headers.remove(SCHEME_HEADER);
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
        match tokio::time::timeout(self.timeout, self.client.request(forwarded)).await {
            Ok(Ok(answer)) => {
                let (mut parts, body) = answer.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                Response::from_parts(parts, Body::new(body))
            }
            Ok(Err(e)) => {
                tracing::warn!(target: "xnonce", upstream = %self.origin, error = %e, "upstream unreachable; answered 502");
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
}

/// Removes the fields that belong to one connection (RFC 9110 §7.6.1): `Connection`, those
/// it names, and the others defined as such.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
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

fn failure(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut res = Response::new(Body::from(text));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

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
        ] {
            h.append(k, HeaderValue::from_static(v));
        }
        strip_hop_by_hop(&mut h);
        let mut left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        left.sort_unstable();
        assert_eq!(left, ["content-type", "x-nonce"]);
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
        ] {
            assert!(Upstream::new(bad, t).is_err(), "{bad}");
        }
        let u = Upstream::new("http://127.0.0.1:9000/api/", t).unwrap();
        assert_eq!(
            (u.origin.as_str(), u.prefix.as_str()),
            ("http://127.0.0.1:9000", "/api")
        );
    }
}
