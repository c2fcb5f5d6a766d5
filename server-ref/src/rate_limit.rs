//! Per-client rate limiting: a token bucket keyed by the **verified** client id.
//!
//! [`RateLimitLayer`] goes *inside* [`crate::XNonceLayer`] (the reference server does this
//! when the config has a `[rate_limit]` table), so it only ever sees requests that were
//! authenticated, fresh and not replayed. Unsigned, forged or replayed traffic naming a client
//! is refused before it reaches a bucket and cannot spend that client's budget; the price is
//! that a refused request (429) has already used its nonce, so a client retries with a newly
//! signed request (which every requester does anyway).
//!
//! Each client has a bucket of `burst` tokens refilled at `requests_per_second`; a request
//! takes one token, and a request finding less than one token gets
//! `429 Too Many Requests` with `Retry-After: <seconds until a token is back, rounded up>`:
//! a v2 request an `application/problem+json` document with code `rate_limited`, a v1 request
//! the text `Rate limit exceeded`. A bucket that has refilled completely is the same as no
//! bucket, so such idle buckets are dropped (when the table doubles in size, and at least
//! once a minute): memory stays proportional to the clients active in the last `burst / rate`
//! seconds.
//!
//! ```toml
//! [rate_limit]                  # absent: no rate limiting (the default)
//! requests_per_second = 50      # refill rate (a decimal is fine: 0.5 = one every 2 s)
//! burst = 100                   # bucket size (default: requests_per_second rounded up)
//! [rate_limit.clients.batch-job]
//! requests_per_second = 5       # this client's own limit
//! [rate_limit.clients.monitoring]
//! unlimited = true              # never limited
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use futures_util::future::{ready, Either, Ready};
use tower::{Layer, Service};
use xnonce_core::{Scheme, Verified};

use crate::metrics::Behind;

/// The error code of a 429 answer (the problem document's `code`).
pub const CODE: &str = xnonce_core::ErrorCode::RateLimited.as_str();
/// Idle buckets are swept at least this often.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// The table size below which no size-triggered sweep happens.
const MIN_SWEEP_LEN: usize = 1024;
/// The lowest `requests_per_second` [`Rate::new`] accepts: one request every 10,000 s
/// (about 2.8 h). Lower rates are almost certainly a typo, and would make `Retry-After`
/// absurd.
pub const MIN_PER_SECOND: f64 = 1e-4;
/// The highest `requests_per_second` [`Rate::new`] accepts.
pub const MAX_PER_SECOND: f64 = 1e9;
/// The longest wait a 429 announces (`Retry-After`), whatever the rate: a day. With a checked
/// [`Rate`] the wait is at most `1 / MIN_PER_SECOND` (10,000 s); this bounds a `Rate` built
/// by hand.
pub const MAX_WAIT: Duration = Duration::from_secs(86_400);

/// A token-bucket rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Tokens added per second (> 0).
    pub per_second: f64,
    /// Bucket size: the most requests accepted at once after an idle period (≥ 1; a 0 built
    /// by hand is taken as 1).
    pub burst: u32,
}

impl Rate {
    /// A rate, checked: `per_second` a number in [[`MIN_PER_SECOND`], [`MAX_PER_SECOND`]],
    /// `burst` ≥ 1 (`None`: `per_second` rounded up). The error names the key
    /// (`requests_per_second: …` / `burst: …`).
    pub fn new(per_second: f64, burst: Option<u32>) -> Result<Rate, String> {
        if !(per_second.is_finite() && (MIN_PER_SECOND..=MAX_PER_SECOND).contains(&per_second)) {
            return Err(format!(
                "requests_per_second: must be a number from {MIN_PER_SECOND} (one request every \
                 10000 s) to {MAX_PER_SECOND}, got {per_second:?}"
            ));
        }
        if burst == Some(0) {
            return Err("burst: must be at least 1".into());
        }
        let burst = burst.unwrap_or(per_second.ceil() as u32).max(1);
        Ok(Rate { per_second, burst })
    }
}

/// Which clients are limited, and how.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RateLimitConfig {
    /// The rate of clients without an override (`None`: they are not limited).
    pub default: Option<Rate>,
    /// Per-client overrides; `None`: never limited.
    pub clients: BTreeMap<String, Option<Rate>>,
}

impl RateLimitConfig {
    /// The rate of a client, if it is limited.
    pub fn rate_for(&self, client: &str) -> Option<Rate> {
        match self.clients.get(client) {
            Some(r) => *r,
            None => self.default,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Duration,
}

#[derive(Debug, Default)]
struct Table {
    config: RateLimitConfig,
    buckets: HashMap<String, Bucket>,
    sweep_len: usize,
    swept_at: Duration,
}

/// The buckets of every client. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct RateLimiter {
    table: Mutex<Table>,
    epoch: Instant,
}

impl RateLimiter {
    /// A limiter for a configuration.
    pub fn new(config: RateLimitConfig) -> RateLimiter {
        RateLimiter {
            table: Mutex::new(Table {
                config,
                sweep_len: MIN_SWEEP_LEN,
                ..Table::default()
            }),
            epoch: Instant::now(),
        }
    }

    /// Takes a token for `client` now: `Ok` to go on, `Err(wait)` until a token is back.
    pub fn check(&self, client: &str) -> Result<(), Duration> {
        self.check_at(client, self.epoch.elapsed())
    }

    /// As [`RateLimiter::check`], at `now` (time since the limiter was made; for tests).
    pub fn check_at(&self, client: &str, now: Duration) -> Result<(), Duration> {
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let Some(rate) = table.config.rate_for(client) else {
            return Ok(());
        };
        if table.buckets.len() >= table.sweep_len
            || now.saturating_sub(table.swept_at) >= SWEEP_EVERY
        {
            sweep(&mut table, now);
        }
        let burst = capacity(rate);
        let bucket = match table.buckets.get_mut(client) {
            Some(b) => b,
            None => table.buckets.entry(client.to_string()).or_insert(Bucket {
                tokens: burst,
                at: now,
            }),
        };
        bucket.tokens = refilled(bucket, rate, now);
        bucket.at = bucket.at.max(now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(wait_for(1.0 - bucket.tokens, rate.per_second))
        }
    }

    /// Limits by `config` from now on, keeping the buckets (what a config reload does): a
    /// client keeps the tokens it has, refilled from now on at its new rate up to its new
    /// burst; the buckets of clients no longer limited, and full ones, are dropped.
    pub fn reconfigure(&self, config: RateLimitConfig) {
        self.reconfigure_at(config, self.epoch.elapsed());
    }

    /// As [`RateLimiter::reconfigure`], at `now` (time since the limiter was made; for tests).
    pub fn reconfigure_at(&self, config: RateLimitConfig, now: Duration) {
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let Table {
            config: old,
            buckets,
            ..
        } = &mut *table;
        // Each bucket as it stands now, refilled at the old rate up to then.
        for (client, b) in buckets.iter_mut() {
            if let Some(rate) = old.rate_for(client) {
                b.tokens = refilled(b, rate, now);
                b.at = b.at.max(now);
            }
        }
        table.config = config;
        sweep(&mut table, now);
    }

    /// The number of buckets held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .buckets
            .len()
    }

    /// True when no bucket is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Drops the buckets that have refilled completely (the same as having none), and those of
/// clients the table's config does not limit.
fn sweep(table: &mut Table, now: Duration) {
    let Table {
        config, buckets, ..
    } = table;
    buckets.retain(|client, b| match config.rate_for(client) {
        Some(rate) => refilled(b, rate, now) < capacity(rate),
        None => false,
    });
    table.sweep_len = (table.buckets.len() * 2).max(MIN_SWEEP_LEN);
    table.swept_at = now;
}

/// The tokens `b` holds at `now`: refilled at `rate` since it was last brought up to date, at
/// most [`capacity`].
fn refilled(b: &Bucket, rate: Rate, now: Duration) -> f64 {
    let elapsed = now.saturating_sub(b.at).as_secs_f64();
    (b.tokens + elapsed * rate.per_second).min(capacity(rate))
}

/// The size of a bucket at `rate`: its burst, at least 1. A burst of 0 (a `Rate` built by
/// hand: [`Rate::new`] refuses it) would never hold the token a request takes, so the client
/// would be refused for ever while each 429 announced a token soon.
fn capacity(rate: Rate) -> f64 {
    f64::from(rate.burst.max(1))
}

/// How long `missing` tokens take to come back at `per_second`, at most [`MAX_WAIT`]. Never
/// panics: a rate built by hand (the fields are public) may be tiny, zero or not a number.
fn wait_for(missing: f64, per_second: f64) -> Duration {
    Duration::try_from_secs_f64(missing / per_second)
        .unwrap_or(MAX_WAIT)
        .min(MAX_WAIT)
}

/// `Retry-After` seconds for a wait: rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs_f64().ceil() as u64).max(1)
}

/// The 429 answer, in the style of the request's scheme (core's
/// [`Answer::rate_limited`](xnonce_core::answer::Answer::rate_limited)), marked
/// [`Behind::Refused`] so that the verification layer, in front, counts the request it
/// accepted under `rate_limited` rather than `accepted`.
pub fn too_many_requests(scheme: Scheme, retry_after: u64) -> Response<Body> {
    let answer = xnonce_core::answer::Answer::rate_limited(scheme, retry_after);
    let mut res = Response::new(Body::from(answer.body));
    *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(answer.content_type),
    );
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    res.extensions_mut()
        .insert(Behind::Refused(xnonce_core::ErrorCode::RateLimited));
    res
}

/// The rate-limiting layer: put it inside [`crate::XNonceLayer`] (added *before* it with
/// `Router::layer`, so it runs after it). Requests without a [`Verified`] extension pass
/// through unlimited.
///
/// ```
/// use std::collections::HashMap;
/// use xnonce_server::rate_limit::{Rate, RateLimitConfig};
/// use xnonce_server::{app_with_rate_limit, RateLimitLayer, XNonceLayer};
/// let config = RateLimitConfig {
///     default: Some(Rate::new(50.0, Some(100))?), // 50 requests/s, bursts of 100
///     clients: [("batch".to_string(), None)].into(), // never limited
/// };
/// let limit = RateLimitLayer::new(config);
/// assert!(limit.limiter().check("svc").is_ok()); // a token left: the request goes on
/// let clients: HashMap<String, xnonce_core::Secret> = HashMap::new();
/// let app = app_with_rate_limit(XNonceLayer::new(clients), Some(limit)); // limit inside the layer
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    limiter: Arc<RateLimiter>,
}

impl RateLimitLayer {
    /// A layer with its own buckets.
    pub fn new(config: RateLimitConfig) -> RateLimitLayer {
        RateLimitLayer::with_limiter(Arc::new(RateLimiter::new(config)))
    }

    /// A layer over an existing limiter and its buckets (several layers, or the apps before
    /// and after a config reload, can share one).
    pub fn with_limiter(limiter: Arc<RateLimiter>) -> RateLimitLayer {
        RateLimitLayer { limiter }
    }

    /// The shared limiter.
    pub fn limiter(&self) -> &Arc<RateLimiter> {
        &self.limiter
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimitService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RateLimitService {
            inner,
            limiter: self.limiter.clone(),
        }
    }
}

/// The service made by [`RateLimitLayer`].
#[derive(Debug, Clone)]
pub struct RateLimitService<S> {
    inner: S,
    limiter: Arc<RateLimiter>,
}

impl<S, B> Service<Request<B>> for RateLimitService<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Either<S::Future, Ready<Result<Response<Body>, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if let Some(v) = req.extensions().get::<Verified>() {
            if let Err(wait) = self.limiter.check(&v.client) {
                let secs = retry_after_secs(wait);
                tracing::info!(
                    target: "xnonce",
                    client = %v.client,
                    scheme = v.scheme.as_str(),
                    method = &*crate::layer::logged(req.method().as_str()),
                    path = &*crate::layer::logged(req.uri().path()),
                    outcome = CODE,
                    status = 429,
                    retry_after = secs,
                    "request"
                );
                return Either::Right(ready(Ok(too_many_requests(v.scheme, secs))));
            }
        }
        Either::Left(self.inner.call(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_second: f64, burst: u32) -> RateLimiter {
        RateLimiter::new(RateLimitConfig {
            default: Some(Rate::new(per_second, Some(burst)).unwrap()),
            clients: BTreeMap::from([
                ("vip".to_string(), None),
                ("slow".to_string(), Some(Rate::new(0.5, Some(1)).unwrap())),
            ]),
        })
    }

    #[test]
    fn burst_then_refill() {
        let l = limiter(2.0, 3);
        let t = Duration::from_secs(10);
        for _ in 0..3 {
            assert!(l.check_at("a", t).is_ok());
        }
        let wait = l.check_at("a", t).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-9, "{wait:?}");
        assert_eq!(retry_after_secs(wait), 1);
        // Others are unaffected.
        assert!(l.check_at("b", t).is_ok());
        // Half a second later one token is back, not two.
        let t = t + Duration::from_millis(500);
        assert!(l.check_at("a", t).is_ok());
        assert!(l.check_at("a", t).is_err());
    }

    #[test]
    fn overrides() {
        let l = limiter(1.0, 1);
        for _ in 0..100 {
            assert!(l.check_at("vip", Duration::ZERO).is_ok());
        }
        assert!(l.check_at("slow", Duration::ZERO).is_ok());
        let wait = l.check_at("slow", Duration::ZERO).unwrap_err();
        assert_eq!(retry_after_secs(wait), 2);
        // "vip" is unlimited (no bucket kept), "slow" holds one.
        assert_eq!((l.len(), l.is_empty()), (1, false));
        let off = RateLimiter::new(RateLimitConfig::default());
        for _ in 0..100 {
            assert!(off.check_at("any", Duration::ZERO).is_ok());
        }
        assert!(off.is_empty());
    }

    #[test]
    fn idle_buckets_are_dropped() {
        let l = limiter(10.0, 10);
        for i in 0..5000 {
            let _ = l.check_at(&format!("c{i}"), Duration::from_millis(i));
        }
        // Buckets full again after 1 s are swept as the table grows.
        assert!(l.len() < 2 * MIN_SWEEP_LEN + 100, "{}", l.len());
        // A minute later, any access sweeps everything idle.
        let _ = l.check_at("late", Duration::from_secs(120));
        assert_eq!(l.len(), 1);

        // Between the timed sweeps, the table is swept when it has doubled since the last
        // sweep: 2000 buckets in use at 1000 s (the sweep at 1024 finds none idle)...
        let l = limiter(10.0, 10);
        let t = Duration::from_secs(1000);
        for i in 0..2000 {
            assert!(l.check_at(&format!("c{i}"), t).is_ok());
        }
        assert_eq!(l.len(), 2000);
        // ...all full again a second later, kept until the table reaches 2 × 1024 buckets...
        let t = t + Duration::from_secs(1);
        for i in 0..40 {
            assert!(l.check_at(&format!("d{i}"), t).is_ok());
        }
        assert_eq!(l.len(), 2040, "swept before the table doubled");
        // ...then swept, leaving the buckets still refilling.
        for i in 40..100 {
            assert!(l.check_at(&format!("d{i}"), t).is_ok());
        }
        assert_eq!(l.len(), 100);
    }

    #[test]
    fn a_reconfigured_limiter_keeps_its_buckets_under_the_new_rates() {
        let l = limiter(1.0, 2);
        let t = Duration::from_secs(10);
        for client in ["a", "b", "c"] {
            assert!(l.check_at(client, t).is_ok());
            assert!(l.check_at(client, t).is_ok());
            assert!(l.check_at(client, t).is_err(), "{client}: burst of 2");
        }
        // Half a second later: half a token each, refilled at the old rate (1/s). "b" is no
        // longer limited and "c" gets a burst of 10 at 1 token every 4 s.
        let t = t + Duration::from_millis(500);
        l.reconfigure_at(
            RateLimitConfig {
                default: Some(Rate::new(4.0, Some(2)).unwrap()),
                clients: BTreeMap::from([
                    ("b".to_string(), None),
                    ("c".to_string(), Some(Rate::new(0.25, Some(10)).unwrap())),
                ]),
            },
            t,
        );
        assert_eq!(l.len(), 2, "b's bucket dropped");
        for _ in 0..50 {
            assert!(l.check_at("b", t).is_ok());
        }
        // "a": half a token now, and the other half an eighth of a second later (4/s).
        let wait = l.check_at("a", t).unwrap_err();
        assert!((wait.as_secs_f64() - 0.125).abs() < 1e-9, "{wait:?}");
        assert!(l.check_at("a", t + Duration::from_millis(125)).is_ok());
        // "c": no fresh burst of 10; half a token, the other half 2 s later (0.25/s).
        let wait = l.check_at("c", t).unwrap_err();
        assert!((wait.as_secs_f64() - 2.0).abs() < 1e-9, "{wait:?}");

        // Back to no limit at all: every bucket goes.
        l.reconfigure_at(RateLimitConfig::default(), t);
        assert!(l.is_empty());
    }

    #[test]
    fn the_layer_is_ready_when_its_inner_service_is() {
        use axum::body::Body;
        use axum::http::Request;
        let layer = RateLimitLayer::new(RateLimitConfig::default());
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut busy = layer.layer(crate::layer::tests::Busy);
        assert!(Service::<Request<Body>>::poll_ready(&mut busy, &mut cx).is_pending());
    }

    /// A 429 answers a request the verification layer accepted: it is counted under
    /// `rate_limited` in `xnonce_requests_total`, not as an `accepted` request served.
    #[tokio::test]
    async fn a_429_is_counted_rate_limited_not_accepted() {
        use axum::body::Body;
        use axum::http::Request;
        use tower::ServiceExt;
        use xnonce_core::{sign, SignInput};
        let secret = crate::layer::tests::svc_secret();
        let clients = crate::layer::tests::svc_clients(&secret);
        let metrics = Arc::new(crate::Metrics::default());
        let limit = RateLimitLayer::new(RateLimitConfig {
            default: Some(Rate::new(MIN_PER_SECOND, Some(1)).unwrap()),
            clients: BTreeMap::new(),
        });
        let app = crate::app_with_rate_limit(
            crate::XNonceLayer::new(clients).metrics(metrics.clone()),
            Some(limit),
        );
        for (n, status) in [("1", 200), ("2", 429)] {
            let input = SignInput::new(Scheme::V2, "GET", "/a/b", "svc")
                .param("n", n)
                .host("api.test");
            let req = Request::builder()
                .uri(format!("/a/b?n={n}"))
                .header("host", "api.test")
                .header("x-nonce", sign(&input, &secret).unwrap().x_nonce)
                .body(Body::empty())
                .unwrap();
            let res = app.clone().oneshot(req).await.unwrap();
            assert_eq!(res.status().as_u16(), status);
        }
        let text = metrics.render(None);
        let count = |outcome: &str| crate::metrics::requests_total(&text, "v2", outcome);
        assert_eq!(count("accepted"), Some(1), "{text}");
        assert_eq!(count("rate_limited"), Some(1), "{text}");
    }

    #[test]
    fn a_sweep_drops_exactly_the_buckets_that_are_full_again() {
        // One token every 64 s (exact in binary), two at most.
        let l = limiter(1.0 / 64.0, 2);
        let t = Duration::from_secs(100);
        assert!(l.check_at("one left", t).is_ok());
        assert!(l.check_at("none left", t).is_ok());
        assert!(l.check_at("none left", t).is_ok());
        assert!(l.check_at("none left", t).is_err());
        // 64 s later (a timed sweep is due): "one left" is full again (1 + 1 = 2 tokens) and
        // dropped; "none left" has one token, and keeps its bucket.
        let t = t + Duration::from_secs(64);
        assert!(l.check_at("new", t).is_ok());
        assert_eq!(l.len(), 2, "\"none left\" and \"new\"");
        assert!(l.check_at("none left", t).is_ok());
        assert!(
            l.check_at("none left", t).is_err(),
            "one token, not a fresh bucket"
        );
    }

    #[test]
    fn absurd_rates_built_by_hand_give_a_bounded_wait_not_a_panic() {
        // Rate::new refuses these; the fields are public, so check_at must survive them.
        for per_second in [1e-20, 1e-300, 0.0, -1.0, f64::MIN_POSITIVE] {
            let l = RateLimiter::new(RateLimitConfig {
                default: Some(Rate {
                    per_second,
                    burst: 1,
                }),
                clients: BTreeMap::new(),
            });
            let t = Duration::from_secs(1);
            let _ = l.check_at("a", t);
            let wait = l.check_at("a", t).unwrap_err();
            assert!(wait <= MAX_WAIT, "{per_second}: {wait:?}");
            assert_eq!(retry_after_secs(wait), MAX_WAIT.as_secs(), "{per_second}");
        }
        // The slowest rate Rate::new accepts: one token every 10,000 s.
        let l = limiter(MIN_PER_SECOND, 1);
        assert!(l.check_at("a", Duration::ZERO).is_ok());
        let wait = l.check_at("a", Duration::ZERO).unwrap_err();
        assert_eq!(retry_after_secs(wait), 10_000);
    }

    /// A burst of 0 built by hand (the fields are public; `Rate::new` refuses it) is a bucket
    /// of one, as `Rate::new` makes of a rate below 1 without a burst. It used to refuse every
    /// request of the client for ever while each 429 announced a token back in 1 s.
    #[test]
    fn a_burst_of_zero_built_by_hand_is_a_burst_of_one_not_a_lockout() {
        let l = RateLimiter::new(RateLimitConfig {
            default: Some(Rate {
                per_second: 1.0,
                burst: 0,
            }),
            clients: BTreeMap::new(),
        });
        let t = Duration::from_secs(10);
        assert!(l.check_at("a", t).is_ok());
        let wait = l.check_at("a", t).unwrap_err();
        assert_eq!(retry_after_secs(wait), 1);
        assert!(
            l.check_at("a", t + wait).is_ok(),
            "the token announced is there"
        );
        // Full again a while later: dropped by a sweep, as any full bucket.
        let _ = l.check_at("b", t + Duration::from_secs(120));
        assert_eq!(l.len(), 1, "only \"b\"");
    }

    #[test]
    fn bad_rates_are_refused() {
        for bad in [1e-20, 5e-5, 2e9, f64::INFINITY] {
            let e = Rate::new(bad, None).unwrap_err();
            assert!(e.starts_with("requests_per_second: "), "{e}");
        }
        assert!(Rate::new(MIN_PER_SECOND, None).is_ok());
        assert!(Rate::new(MAX_PER_SECOND, None).is_ok());
        assert!(Rate::new(0.0, None).is_err());
        assert!(Rate::new(-1.0, None).is_err());
        assert!(Rate::new(f64::NAN, None).is_err());
        assert_eq!(Rate::new(2.5, None).unwrap().burst, 3);
        assert_eq!(Rate::new(0.1, None).unwrap().burst, 1);
        assert!(Rate::new(1.0, Some(0)).is_err());
    }
}
