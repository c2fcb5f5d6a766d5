//! Prometheus metrics of a running server: what the verification layer decided, what the
//! server answered, its open connections and the replay store's size, served in Prometheus's
//! text format at `GET /metrics` on a listener of its own.
//!
//! ```toml
//! [metrics]                      # absent: no metrics listener (the default)
//! listen = "127.0.0.1:9464"      # keep it off the API's address: it needs no signature
//! ```
//!
//! ```text
//! xnonce_requests_total{scheme="v2",outcome="accepted"} 1042
//! xnonce_requests_total{scheme="v2",outcome="replayed"} 3
//! xnonce_responses_total{status="200"} 1040
//! xnonce_http_parse_errors_total 0
//! xnonce_connections_open 12
//! xnonce_replay_keys 1045
//! ```
//!
//! No label holds anything a request chose (a client id, a path): the series are a fixed set
//! whatever the traffic, and a scrape shows no more than the server's own logs would. Counting
//! is a relaxed atomic add per request; without `[metrics]` nothing is counted.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use xnonce_core::{ErrorCode, Scheme};

/// The path the metrics are served at.
pub const PATH: &str = "/metrics";

/// The `Content-Type` of Prometheus's text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The lowest status a response can have; `responses` holds one counter per status from it.
const FIRST_STATUS: u16 = 100;

/// What a server counts. Shared (`Arc`) by the layer, the accept loop and the metrics route.
///
/// ```
/// use xnonce_core::{ErrorCode, Scheme};
/// use xnonce_server::metrics::Metrics;
/// let metrics = Metrics::default();
/// metrics.decided(Scheme::V2, None);
/// metrics.decided(Scheme::V1, Some(ErrorCode::Replayed));
/// let text = metrics.render(None);
/// assert!(text.contains("xnonce_requests_total{scheme=\"v2\",outcome=\"accepted\"} 1\n"));
/// assert!(text.contains("xnonce_requests_total{scheme=\"v1\",outcome=\"replayed\"} 1\n"));
/// ```
#[derive(Debug)]
pub struct Metrics {
    /// Per scheme (v1, v2): `[0]` accepted, `[1 + i]` refused with the `i`th of
    /// [`layer_codes`], then one per [`UPSTREAM_OUTCOMES`].
    requests: [Box<[AtomicU64]>; 2],
    /// Per status, from [`FIRST_STATUS`] to 999.
    responses: Box<[AtomicU64]>,
    http_parse_errors: AtomicU64,
    connections_open: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        let counters = |n: usize| (0..n).map(|_| AtomicU64::new(0)).collect::<Box<[_]>>();
        Metrics {
            requests: [counters(OUTCOMES), counters(OUTCOMES)],
            responses: counters(usize::from(1000 - FIRST_STATUS)),
            http_parse_errors: AtomicU64::new(0),
            connections_open: AtomicU64::new(0),
        }
    }
}

/// How many outcomes a scheme has: accepted, each of [`layer_codes`], each of
/// [`UPSTREAM_OUTCOMES`].
const OUTCOMES: usize = 1 + (ErrorCode::ALL.len() - 1) + UPSTREAM_OUTCOMES.len();

/// The outcomes of accepted requests the gateway answered itself, without a refusal's code
/// ([`Behind::UpstreamFailed`], [`Behind::UpstreamTimeout`]), in that order.
const UPSTREAM_OUTCOMES: [&str; 2] = ["upstream_failed", "upstream_timeout"];

/// How a request the layer accepted was answered by the app behind it without being served,
/// when that app says so: put in the answer's extensions (the gateway does, for its own
/// answers), it is what the layer counts the request under instead of `accepted`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behind {
    /// Refused after verification with this code (the rate limit's `429`, the gateway's
    /// refusals of a target or method it does not forward): counted under the code, as the
    /// layer's refusals are.
    Refused(ErrorCode),
    /// The upstream could not be reached, or answered what cannot be passed on (`502`):
    /// `upstream_failed`.
    UpstreamFailed,
    /// The upstream did not answer in time (`504`): `upstream_timeout`.
    UpstreamTimeout,
}

/// The codes a request is refused with, by the layer or behind it ([`Behind::Refused`]: the
/// rate limit's `rate_limited`, the gateway's): every code but the client-side
/// `connection_failed`.
fn layer_codes() -> impl Iterator<Item = ErrorCode> {
    ErrorCode::ALL
        .iter()
        .copied()
        .filter(|c| !matches!(c, ErrorCode::ConnectionFailed))
}

fn scheme_index(scheme: Scheme) -> usize {
    match scheme {
        Scheme::V1 => 0,
        Scheme::V2 => 1,
    }
}

impl Metrics {
    /// The verification layer decided a request: accepted (`None`), or refused with `code`.
    pub fn decided(&self, scheme: Scheme, refused: Option<ErrorCode>) {
        let outcome = match refused {
            None => 0,
            // A code the layer never refuses with is counted nowhere rather than under
            // another code.
            Some(code) => match layer_codes().position(|c| c == code) {
                Some(i) => 1 + i,
                None => return,
            },
        };
        self.requests[scheme_index(scheme)][outcome].fetch_add(1, Ordering::Relaxed);
    }

    /// The app behind the layer answered a request the layer accepted: counted `accepted`,
    /// or under what the answer's [`Behind`] says happened.
    pub fn served(&self, scheme: Scheme, behind: Option<Behind>) {
        let outcome = match behind {
            None => return self.decided(scheme, None),
            Some(Behind::Refused(code)) => return self.decided(scheme, Some(code)),
            Some(Behind::UpstreamFailed) => OUTCOMES - 2,
            Some(Behind::UpstreamTimeout) => OUTCOMES - 1,
        };
        self.requests[scheme_index(scheme)][outcome].fetch_add(1, Ordering::Relaxed);
    }

    /// The server answered a request with `status`.
    pub fn answered(&self, status: StatusCode) {
        let i = usize::from(status.as_u16().saturating_sub(FIRST_STATUS));
        if let Some(counter) = self.responses.get(i) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The HTTP parser refused a request before the app saw it (hyper answered it 400, 414
    /// or 431 itself).
    pub fn http_parse_error(&self) {
        self.http_parse_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection was accepted.
    pub fn connection_opened(&self) {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection (or the tunnel it became) ended.
    pub fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
    }

    /// The metrics in Prometheus's text format, with the replay store's key count when the
    /// store can tell it (`replay_keys`).
    pub fn render(&self, replay_keys: Option<usize>) -> String {
        let mut out = String::with_capacity(8 * 1024);
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        out.push_str(
            "# HELP xnonce_requests_total Requests the verification layer decided, by \
             scheme (an accepted request's own, a refusal's answer's) and outcome (accepted, \
             the refusal's error code, the rate limit's rate_limited included, or the \
             gateway's upstream_failed or upstream_timeout).\n\
             # TYPE xnonce_requests_total counter\n",
        );
        for scheme in [Scheme::V1, Scheme::V2] {
            let counters = &self.requests[scheme_index(scheme)];
            let outcomes = std::iter::once("accepted")
                .chain(layer_codes().map(|c| c.as_str()))
                .chain(UPSTREAM_OUTCOMES);
            for (outcome, counter) in outcomes.zip(counters.iter()) {
                let _ = writeln!(
                    out,
                    "xnonce_requests_total{{scheme=\"{}\",outcome=\"{outcome}\"}} {}",
                    scheme.as_str(),
                    load(counter)
                );
            }
        }
        out.push_str(
            "# HELP xnonce_responses_total Answers the app sent, by status (the layer's \
             refusals, and what the app behind it, the rate limit or the upstream answered; \
             not the HTTP parser's own, counted in xnonce_http_parse_errors_total).\n\
             # TYPE xnonce_responses_total counter\n",
        );
        for (i, counter) in self.responses.iter().enumerate() {
            let n = load(counter);
            if n > 0 {
                let status = usize::from(FIRST_STATUS) + i;
                let _ = writeln!(out, "xnonce_responses_total{{status=\"{status}\"}} {n}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP xnonce_http_parse_errors_total Requests the HTTP parser refused before the \
             app saw them (answered 400, 414 or 431 by the parser, not counted in \
             xnonce_responses_total).\n\
             # TYPE xnonce_http_parse_errors_total counter\n\
             xnonce_http_parse_errors_total {}",
            load(&self.http_parse_errors)
        );
        let _ = writeln!(
            out,
            "# HELP xnonce_connections_open Connections open, WebSocket tunnels included.\n\
             # TYPE xnonce_connections_open gauge\n\
             xnonce_connections_open {}",
            load(&self.connections_open)
        );
        if let Some(keys) = replay_keys {
            let _ = writeln!(
                out,
                "# HELP xnonce_replay_keys Replay keys the in-process store holds (expired \
                 ones until its next sweep).\n\
                 # TYPE xnonce_replay_keys gauge\n\
                 xnonce_replay_keys {keys}"
            );
        }
        out
    }
}

/// How many keys a replay store holds, for [`router`].
pub type ReplayKeys = Arc<dyn Fn() -> usize + Send + Sync>;

/// The metrics listener's app: [`PATH`] and nothing else (404).
pub fn router(metrics: Arc<Metrics>, replay_keys: Option<ReplayKeys>) -> Router {
    let scrape = move || {
        let text = metrics.render(replay_keys.as_ref().map(|keys| keys()));
        async move {
            let mut res = text.into_response();
            res.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
            res
        }
    };
    Router::new().route(PATH, get(scrape))
}

/// Counts every answer of `router` in `metrics` (by status).
pub fn count_answers(router: Router, metrics: Arc<Metrics>) -> Router {
    router.layer(tower::util::MapResponseLayer::new(move |res: Response| {
        metrics.answered(res.status());
        res
    }))
}

/// The value of `xnonce_requests_total{scheme, outcome}` in rendered metrics: for tests that
/// count what the layer decided.
#[cfg(test)]
pub(crate) fn requests_total(text: &str, scheme: &str, outcome: &str) -> Option<u64> {
    let series = format!("xnonce_requests_total{{scheme=\"{scheme}\",outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series)?.parse::<u64>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, series: &str) -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    /// Every outcome of both schemes is a series from the start (at 0), each counted apart.
    #[test]
    fn every_outcome_is_a_series_of_its_own() {
        let m = Metrics::default();
        m.decided(Scheme::V2, None);
        m.decided(Scheme::V2, None);
        m.decided(Scheme::V2, Some(ErrorCode::SignatureMismatch));
        m.decided(Scheme::V1, Some(ErrorCode::ConnectionFailed)); // the client's: not counted
        m.served(Scheme::V2, Some(Behind::Refused(ErrorCode::RateLimited)));
        let text = m.render(None);
        let series =
            |s: &str, o: &str| format!("xnonce_requests_total{{scheme=\"{s}\",outcome=\"{o}\"}}");
        assert_eq!(value(&text, &series("v2", "accepted")), Some(2));
        assert_eq!(value(&text, &series("v2", "signature_mismatch")), Some(1));
        assert_eq!(value(&text, &series("v1", "connection_failed")), None);
        assert_eq!(value(&text, &series("v2", "rate_limited")), Some(1));
        assert_eq!(value(&text, &series("v1", "rate_limited")), Some(0));
        assert_eq!(value(&text, &series("v1", "accepted")), Some(0));
        let request_lines = text
            .lines()
            .filter(|l| l.starts_with("xnonce_requests_total{"))
            .count();
        assert_eq!(request_lines, 2 * (1 + ErrorCode::ALL.len() - 1 + 2));
        assert!(!text.contains("xnonce_replay_keys"));
    }

    /// Statuses appear once seen; gauges go up and down.
    #[test]
    fn answers_connections_and_keys() {
        let m = Metrics::default();
        m.answered(StatusCode::OK);
        m.answered(StatusCode::CONFLICT);
        m.answered(StatusCode::OK);
        m.answered(StatusCode::from_u16(999).unwrap());
        m.http_parse_error();
        m.connection_opened();
        m.connection_opened();
        m.connection_closed();
        let text = m.render(Some(7));
        assert_eq!(
            value(&text, "xnonce_responses_total{status=\"200\"}"),
            Some(2)
        );
        assert_eq!(
            value(&text, "xnonce_responses_total{status=\"409\"}"),
            Some(1)
        );
        assert_eq!(
            value(&text, "xnonce_responses_total{status=\"999\"}"),
            Some(1)
        );
        assert_eq!(value(&text, "xnonce_responses_total{status=\"401\"}"), None);
        assert_eq!(value(&text, "xnonce_http_parse_errors_total"), Some(1));
        assert_eq!(value(&text, "xnonce_connections_open"), Some(1));
        assert_eq!(value(&text, "xnonce_replay_keys"), Some(7));
    }

    /// The text format's rules a scraper checks: every sample's metric has a TYPE line
    /// before it, each metric one HELP and one TYPE, and the text ends with a newline.
    #[test]
    fn the_text_format_is_well_formed() {
        let m = Metrics::default();
        m.answered(StatusCode::OK);
        let text = m.render(Some(0));
        assert!(text.ends_with('\n'));
        let mut typed = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap();
                assert!(
                    !typed.contains(&name.to_string()),
                    "two TYPE lines for {name}"
                );
                typed.push(name.to_string());
            } else if !line.starts_with("# HELP ") {
                let name = line.split(['{', ' ']).next().unwrap();
                assert_eq!(typed.last().map(String::as_str), Some(name), "{line}");
            }
        }
        assert_eq!(typed.len(), 5);
    }
}
