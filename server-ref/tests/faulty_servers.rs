//! The black-box suite (`xnonce-conformance server`) against deliberately faulty servers.
//!
//! That the suite passes against `xnonce-server` (tests/http.rs, and CI against the binary)
//! means something only if it fails servers that get the protocol wrong. Each test here
//! serves the demo API in-process over loopback, built from the reference server's own parts
//! with one defect a real server could have — a replay store that forgets, one keyed by the
//! nonce alone, one that checks and inserts in two steps, windows too wide, no route rules,
//! the layer left off, answers changed on their way out — runs the whole suite against it
//! with two clients, and checks that exactly the rows covering that defect fail.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Response;
use axum::Router;
use xnonce_conformance::server_suite::{self, CheckResult};
use xnonce_core::{
    percent, ReplayKey, ReplayStoreError, Scheme, Secret, ServerTimeHint, SignInput, WindowPolicy,
    XNonce,
};
use xnonce_server::store::StoreFuture;
use xnonce_server::{app_for, layer_for, AsyncReplayStore, Config, MemoryStore, Registry};

mod common;

use common::{Dirs, InProcess};

/// A faulty server and the two clients registered with it.
struct Faulty {
    // Declared first: the server stops before its data dir is removed.
    server: InProcess,
    dirs: Dirs,
    first: Secret,
    second: Secret,
}

/// The demo API as `serve --demo` builds it from `config` (demo handlers, routes unless
/// `config.routes` was cleared), with `store` as its replay store and `wrap` applied to the
/// finished router.
fn serve(
    config: Config,
    store: impl AsyncReplayStore,
    wrap: impl FnOnce(Router) -> Router,
) -> Faulty {
    let dirs = Dirs::new("faulty");
    let registry = Registry::open_with_key_file(&dirs.data, Some(dirs.key.clone()));
    let first = registry.add("first").unwrap();
    let second = registry.add("second").unwrap();
    let router = app_for(&config, layer_for(&config, Arc::new(registry), store));
    Faulty {
        server: InProcess::serve(wrap(router), config.connections),
        dirs,
        first,
        second,
    }
}

/// The demo API with `store` as its replay store; nothing else changed.
fn with_store(store: impl AsyncReplayStore) -> Faulty {
    serve(Config::demo(), store, |r| r)
}

/// The demo API under `config`, with the default in-memory replay store.
fn with_config(config: Config) -> Faulty {
    serve(config, MemoryStore::new(), |r| r)
}

/// The demo API (default config and store) with `wrap` applied to its router.
fn wrapped(wrap: impl FnOnce(Router) -> Router) -> Faulty {
    serve(Config::demo(), MemoryStore::new(), wrap)
}

impl Faulty {
    /// Every row of the suite, run against the server's URL followed by `prefix`.
    fn run_suite_at(&self, prefix: &str) -> Vec<CheckResult> {
        let opts = server_suite::Options::new(
            &format!("{}{prefix}", self.server.url),
            "first",
            self.first.clone(),
        )
        .with_second_client("second", self.second.clone())
        // The early GETs' copies at once (the store that needs the wait sets its own).
        .with_late_replay_after(Duration::ZERO);
        // Not printed: these tables are meant to show failures (a mismatch names the rows).
        let results = server_suite::run(&opts).unwrap();
        assert!(
            results.len() > 40,
            "the suite ran only {} rows",
            results.len()
        );
        assert!(results.iter().all(|r| !r.skipped), "rows were skipped");
        results
    }

    /// The names of the rows that failed.
    fn failures(&self) -> BTreeSet<String> {
        failed(&self.run_suite_at(""))
    }
}

fn failed(results: &[CheckResult]) -> BTreeSet<String> {
    results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| r.name.clone())
        .collect()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|n| n.to_string()).collect()
}

/// `<scheme> <row>` for each scheme and row.
fn scheme_rows(schemes: &[&str], rows: &[&str]) -> BTreeSet<String> {
    schemes
        .iter()
        .flat_map(|s| rows.iter().map(move |r| format!("{s} {r}")))
        .collect()
}

/// The rows that send a request already accepted (or its nonce again) and expect `409`.
const REPLAY_ROWS: [&str; 21] = [
    "v1 early GET replayed last",
    "v2 early GET replayed last",
    "v1 GET replayed",
    "v1 GET sent 8 times at once",
    "v1 POST form replayed",
    "v1 GET in absolute form replayed",
    "v1 ottoken link replayed",
    "v1 replay with re-encoded query",
    "v1 header credential replayed as an ottoken",
    "v1 ottoken replayed as a header credential",
    "v2 GET replayed",
    "v2 GET sent 8 times at once",
    "v2 POST form replayed",
    "v2 GET in absolute form replayed",
    "v2 POST JSON body replayed",
    "v2 ottoken link replayed",
    "v2 replay with re-encoded query",
    "v2 header credential replayed as an ottoken",
    "v2 ottoken replayed as a header credential",
    "v2 same nonce, new timestamp",
    "v2 GET by second client with first client's nonce replayed",
];

/// The rows (one per scheme) that check the demo's param rules (422) and routes (404).
const RULE_AND_ROUTE_ROWS: [&str; 6] = [
    "missing required param",
    "missing required action param",
    "excluded param",
    "unknown action",
    "unknown controller",
    "unknown method",
];

/// Every v2 refusal row the suite checks by its problem code (with the scheme's prefix: the
/// param rule and route rows too, [`RULE_AND_ROUTE_ROWS`]).
const V2_CODE_ROWS: [&str; 39] = [
    "GET replayed",
    "early GET replayed last",
    "POST form replayed",
    "GET in absolute form replayed",
    "POST JSON body replayed",
    "tampered param value",
    "tampered form param value",
    "unsigned query param on a form POST",
    "unsigned form field, Content-Type in another case with a charset",
    "added param",
    "duplicated param",
    "unsigned value before a signed one",
    "signature last digit changed",
    "second, empty X-Nonce line",
    "GET params moved into a form body",
    "tampered path",
    "tampered method",
    "tampered host",
    "tampered body",
    "stale timestamp",
    "future timestamp",
    "stale timestamp, signature changed",
    "timestamp 35 s old",
    "timestamp 35 s ahead",
    "unknown client",
    "client id in another case",
    "GET by second client with first client's nonce replayed",
    "second client's id, first client's secret",
    "ottoken link replayed",
    "header credential replayed as an ottoken",
    "ottoken replayed as a header credential",
    "ottoken link, stale timestamp",
    "ottoken link, future timestamp",
    "ottoken with tampered param",
    "replay with re-encoded query",
    "same nonce, new timestamp",
    "ottoken param beside the header",
    "link with a second ottoken",
    "link with an ottoke%6E param",
];

/// Accepts every request: a store that was never wired up, or lost its entries.
struct NeverRefuses;

impl AsyncReplayStore for NeverRefuses {
    fn insert_if_absent<'a>(
        &'a self,
        _key: &'a ReplayKey,
        _expires_at_ms: u64,
        _now_ms: u64,
    ) -> StoreFuture<'a, Result<bool, ReplayStoreError>> {
        Box::pin(async { Ok(true) })
    }
}

#[test]
fn a_store_that_never_refuses_fails_every_replay_row_and_the_command() {
    let server = with_store(NeverRefuses);
    assert_eq!(server.failures(), names(&REPLAY_ROWS));

    // Without a second client its rows are skipped, never passed nor failed.
    let opts = server_suite::Options::new(&server.server.url, "first", server.first.clone());
    let results = server_suite::run(&opts).unwrap();
    let skipped: BTreeSet<String> = results
        .iter()
        .filter(|r| r.skipped)
        .map(|r| r.name.clone())
        .collect();
    let second_client_rows = [
        "v1 second client's id, first client's secret",
        "v2 second client's id, first client's secret",
        "v2 GET by second client with first client's nonce accepted",
        "v2 GET by second client with first client's nonce replayed",
    ];
    assert_eq!(skipped, names(&second_client_rows));
    assert!(results.iter().all(|r| !(r.skipped && r.passed)));
    let mut expected = names(&REPLAY_ROWS);
    expected.remove(second_client_rows[3]);
    let failed_and_run: BTreeSet<String> = results
        .iter()
        .filter(|r| !r.passed && !r.skipped)
        .map(|r| r.name.clone())
        .collect();
    assert_eq!(failed_and_run, expected);

    // The command a CI job runs exits non-zero.
    let secret_file = server.dirs.fresh("secret", "txt");
    std::fs::write(&secret_file, format!("{}\n", server.first.expose())).unwrap();
    let code = server_suite::main(&server_suite::ServerArgs::new(
        &server.server.url,
        "first",
        &secret_file,
    ));
    assert_eq!(code, std::process::ExitCode::FAILURE);
}

/// Keeps at most `capacity` replay keys (the oldest goes first), each for `ttl`: a store
/// bounded by count rather than by the window, or with its expiry in the wrong unit.
struct Forgetful {
    kept: Mutex<VecDeque<(String, Instant)>>,
    capacity: usize,
    ttl: Duration,
}

impl Forgetful {
    fn new(capacity: usize, ttl: Duration) -> Forgetful {
        let kept = Mutex::new(VecDeque::new());
        Forgetful {
            kept,
            capacity,
            ttl,
        }
    }
}

impl AsyncReplayStore for Forgetful {
    fn insert_if_absent<'a>(
        &'a self,
        key: &'a ReplayKey,
        _expires_at_ms: u64,
        _now_ms: u64,
    ) -> StoreFuture<'a, Result<bool, ReplayStoreError>> {
        let mut kept = self.kept.lock().unwrap();
        kept.retain(|(_, at)| at.elapsed() < self.ttl);
        let fresh = !kept.iter().any(|(k, _)| k == key.as_str());
        if fresh {
            kept.push_back((key.as_str().to_string(), Instant::now()));
            if kept.len() > self.capacity {
                kept.pop_front();
            }
        }
        Box::pin(async move { Ok(fresh) })
    }
}

/// The rows a store that forgets keys before their window ends fails (and no other).
const LATE_REPLAY_ROWS: [&str; 2] = ["v1 early GET replayed last", "v2 early GET replayed last"];

#[test]
fn a_store_that_keeps_only_the_last_keys_fails_the_late_replay_rows() {
    let server = with_store(Forgetful::new(16, Duration::MAX));
    assert_eq!(server.failures(), names(&LATE_REPLAY_ROWS));
}

#[test]
fn a_store_that_keeps_keys_for_a_second_fails_the_late_replay_rows() {
    let server = with_store(Forgetful::new(usize::MAX, Duration::from_secs(1)));
    // The suite's default wait: the copies go at least 2 s after the first copies.
    let opts = server_suite::Options::new(&server.server.url, "first", server.first.clone())
        .with_second_client("second", server.second.clone());
    assert_eq!(opts.late_replay_after, server_suite::LATE_REPLAY_AFTER);
    let results = server_suite::run(&opts).unwrap();
    assert_eq!(failed(&results), names(&LATE_REPLAY_ROWS));
}

/// What a [`SetStore`] keeps of a replay key.
#[derive(Clone, Copy, PartialEq)]
enum Keyed {
    /// The key as given: `<scheme>:<client>:<request id>`.
    Whole,
    /// The key without its client.
    WithoutClient,
    /// The key and its expiry (so, the request's timestamp).
    WithTimestamp,
}

/// Keeps replay keys in a set, as `keyed` says. With a `pause`, in two steps: whether the
/// key was seen, then, `pause` later, the key added.
struct SetStore {
    seen: Mutex<HashSet<String>>,
    keyed: Keyed,
    pause: Duration,
}

impl SetStore {
    fn new(keyed: Keyed, pause: Duration) -> SetStore {
        SetStore {
            seen: Mutex::new(HashSet::new()),
            keyed,
            pause,
        }
    }
}

impl AsyncReplayStore for SetStore {
    fn insert_if_absent<'a>(
        &'a self,
        key: &'a ReplayKey,
        expires_at_ms: u64,
        _now_ms: u64,
    ) -> StoreFuture<'a, Result<bool, ReplayStoreError>> {
        // `<scheme>:<client>:<request id>` (PROTOCOL §11.4); client ids hold no `:`.
        let text = key.as_str();
        let key = match self.keyed {
            Keyed::Whole => text.to_string(),
            Keyed::WithoutClient => match text.splitn(3, ':').collect::<Vec<_>>()[..] {
                [scheme, _client, id] => format!("{scheme}:{id}"),
                _ => text.to_string(),
            },
            Keyed::WithTimestamp => format!("{text}@{expires_at_ms}"),
        };
        Box::pin(async move {
            if self.pause.is_zero() {
                return Ok(self.seen.lock().unwrap().insert(key));
            }
            // Two steps: whoever checks while another waits to insert is accepted too.
            if self.seen.lock().unwrap().contains(&key) {
                return Ok(false);
            }
            tokio::time::sleep(self.pause).await;
            self.seen.lock().unwrap().insert(key);
            Ok(true)
        })
    }
}

#[test]
fn a_store_keyed_by_the_nonce_alone_fails_the_second_clients_row() {
    let server = with_store(SetStore::new(Keyed::WithoutClient, Duration::ZERO));
    // Its replay row too: a 409 to a copy of a request never accepted shows no replay check.
    assert_eq!(
        server.failures(),
        names(&[
            "v2 GET by second client with first client's nonce accepted",
            "v2 GET by second client with first client's nonce replayed",
        ])
    );
}

#[test]
fn a_store_that_checks_then_inserts_fails_the_simultaneous_rows() {
    // 200 ms between the check and the insert: the eight copies sent at once all pass the
    // check before the first is inserted, and all are accepted.
    let server = with_store(SetStore::new(Keyed::Whole, Duration::from_millis(200)));
    assert_eq!(
        server.failures(),
        names(&["v1 GET sent 8 times at once", "v2 GET sent 8 times at once"])
    );
}

#[test]
fn a_store_keyed_by_the_timestamp_too_fails_the_same_nonce_row() {
    let server = with_store(SetStore::new(Keyed::WithTimestamp, Duration::ZERO));
    assert_eq!(server.failures(), names(&["v2 same nonce, new timestamp"]));
}

/// Holds one insert at a time and fails the others while it does (as a store that times out
/// on a busy lock would): replays are refused, but copies sent at once get 503, not 409.
///
/// The holder keeps the lock until the copies of its key stop arriving (200 ms without one,
/// or 8 seen, at most 5 s), not for a fixed time: on a loaded machine the eighth copy of a
/// row may connect well after the first, and must still find the store busy.
struct BusyStore {
    keys: Mutex<HashSet<String>>,
    busy: tokio::sync::Mutex<()>,
    /// Per key: the attempts seen and when the last one came.
    attempts: Mutex<HashMap<String, (usize, Instant)>>,
}

impl BusyStore {
    fn attempt(&self, key: &str) -> (usize, Instant) {
        let mut attempts = self.attempts.lock().unwrap();
        let seen = attempts
            .entry(key.to_string())
            .or_insert((0, Instant::now()));
        *seen = (seen.0 + 1, Instant::now());
        *seen
    }

    fn seen(&self, key: &str) -> (usize, Instant) {
        self.attempts.lock().unwrap()[key]
    }
}

impl AsyncReplayStore for BusyStore {
    fn insert_if_absent<'a>(
        &'a self,
        key: &'a ReplayKey,
        _expires_at_ms: u64,
        _now_ms: u64,
    ) -> StoreFuture<'a, Result<bool, ReplayStoreError>> {
        Box::pin(async move {
            let key = key.as_str();
            // Counted once refused, or once holding: a copy counted before its try_lock
            // could let the holder leave just before that copy takes the lock.
            let Ok(_held) = self.busy.try_lock() else {
                self.attempt(key);
                return Err(ReplayStoreError("busy".into()));
            };
            self.attempt(key);
            let held_since = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let (count, last) = self.seen(key);
                if count >= 8
                    || last.elapsed() >= Duration::from_millis(200)
                    || held_since.elapsed() >= Duration::from_secs(5)
                {
                    break;
                }
            }
            Ok(self.keys.lock().unwrap().insert(key.to_string()))
        })
    }
}

#[test]
fn a_store_that_fails_under_contention_fails_the_simultaneous_rows() {
    let store = BusyStore {
        keys: Mutex::new(HashSet::new()),
        busy: tokio::sync::Mutex::new(()),
        attempts: Mutex::new(HashMap::new()),
    };
    let server = with_store(store);
    let results = server.run_suite_at("");
    for name in ["v1 GET sent 8 times at once", "v2 GET sent 8 times at once"] {
        let row = results.iter().find(|r| r.name == name).unwrap();
        // One accepted, so the row fails on the others' status.
        assert!(row.got.starts_with("1 × 200, 7 × 503"), "{}", row.got);
    }
    assert_eq!(
        failed(&results),
        names(&["v1 GET sent 8 times at once", "v2 GET sent 8 times at once"])
    );
}

/// Windows other than the demo's 30 s fail the rows that time them: 5 minutes the stale and
/// future rows (120 s off, by header and by link) and the 35 s ones, a minute only the 35 s
/// ones, 10 s the 20 s ones.
#[test]
fn windows_other_than_thirty_seconds_fail_the_rows_that_time_them() {
    let cases: [(u64, &[&str]); 3] = [
        (
            300_000,
            &[
                "stale timestamp",
                "future timestamp",
                "ottoken link, stale timestamp",
                "ottoken link, future timestamp",
                "timestamp 35 s old",
                "timestamp 35 s ahead",
            ],
        ),
        (60_000, &["timestamp 35 s old", "timestamp 35 s ahead"]),
        (10_000, &["timestamp 20 s old", "timestamp 20 s ahead"]),
    ];
    for (window_ms, rows) in cases {
        let mut config = Config::demo();
        config.verifier = config
            .verifier
            .windows(WindowPolicy::new(window_ms))
            .unwrap();
        let failed = with_config(config).failures();
        assert_eq!(failed, scheme_rows(&["v1", "v2"], rows), "{window_ms} ms");
    }
}

#[test]
fn no_route_table_fails_the_param_rule_and_unknown_route_rows() {
    let mut config = Config::demo();
    config.routes = None;
    let server = with_config(config);
    assert_eq!(
        server.failures(),
        scheme_rows(&["v1", "v2"], &RULE_AND_ROUTE_ROWS)
    );
}

#[test]
fn demo_handlers_without_the_layer_fail_every_row_that_expects_a_refusal() {
    let mut config = Config::demo();
    config.bench_mirror = true;
    let server = with_config(config);
    // The handlers are mounted under the prefix; the suite sends it unsigned, as for links.
    let results = server.run_suite_at(xnonce_server::demo::BENCH_MIRROR_PREFIX);
    let mut refusals: BTreeSet<String> = results
        .iter()
        .filter(|r| r.expected != "200")
        .map(|r| r.name.clone())
        .collect();
    // The HTTP server itself refuses these before any handler runs.
    for refused_by_http in ["oversized headers (1 MiB)", "header line without a colon"] {
        assert!(refusals.remove(refused_by_http), "{refused_by_http}");
    }
    assert!(refusals.len() > 40, "{refusals:?}");
    assert_eq!(failed(&results), refusals);
}

#[test]
fn a_server_that_refuses_absolute_form_targets_fails_those_rows() {
    // RFC 9112 §3.2.2: a server must accept `GET http://host/path` (what proxies are sent).
    let server = wrapped(|r| {
        r.layer(axum::middleware::from_fn(
            |req: axum::extract::Request, next: axum::middleware::Next| async move {
                if req.uri().authority().is_some() {
                    return axum::response::IntoResponse::into_response(
                        axum::http::StatusCode::BAD_REQUEST,
                    );
                }
                next.run(req).await
            },
        ))
    });
    let rows = [
        "GET in absolute form accepted",
        "GET in absolute form replayed",
    ];
    assert_eq!(server.failures(), scheme_rows(&["v1", "v2"], &rows));
}

#[test]
fn a_server_that_ignores_unsigned_ottoken_params_fails_those_rows() {
    // What v2 verifiers did before PROTOCOL §11.1 step 4 kept every pair but the
    // credential's: every `ottoken`-named pair but a link's first one was left out unsigned.
    let server = wrapped(|r| {
        rewriting_query(r, |header, query| {
            let mut credential_seen = header;
            let kept: Vec<&str> = query
                .split('&')
                .filter(|pair| {
                    let key = pair.split('=').next().unwrap_or("");
                    let named = key == "ottoken" || key.eq_ignore_ascii_case("ottoke%6E");
                    if key == "ottoken" && !credential_seen {
                        credential_seen = true;
                        return true;
                    }
                    !named
                })
                .collect();
            kept.join("&")
        })
    });
    let rows = [
        "ottoken param beside the header",
        "link with a second ottoken",
        "link with an ottoke%6E param",
    ];
    assert_eq!(server.failures(), scheme_rows(&["v2"], &rows));
}

#[test]
fn a_server_that_merges_repeated_keys_like_em_secure_api_fails_those_rows() {
    // em-secure-api's params were a Ruby Hash: a repeated key kept its first position and took
    // its last value, so a value put before a signed one was never signed yet verified (and
    // an app reading the first value acted on it). A verifier that merges so, then checks the
    // merged query, fails the rows that add such a value (PROTOCOL §11.1 step 4).
    let server = wrapped(|r| {
        rewriting_query(r, |_, query| {
            let mut merged: Vec<(&str, &str)> = Vec::new();
            for pair in query.split('&') {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                match merged.iter_mut().find(|(ek, _)| *ek == k) {
                    Some(slot) => slot.1 = v,
                    None => merged.push((k, v)),
                }
            }
            let pairs: Vec<String> = merged.iter().map(|(k, v)| format!("{k}={v}")).collect();
            pairs.join("&")
        })
    });
    // And a v2 link with a second `ottoken`, which the merge folds into the first (v2 keeps
    // every pair, so the second is refused).
    let mut rows = scheme_rows(&["v1", "v2"], &["unsigned value before a signed one"]);
    rows.insert("v2 link with a second ottoken".to_string());
    assert_eq!(server.failures(), rows);
}

#[test]
fn a_server_that_reads_the_first_x_nonce_line_only_fails_those_rows() {
    // PROTOCOL §7: more than one `X-Nonce` line is malformed, whatever the first holds.
    let server = wrapped(|r| {
        r.layer(axum::middleware::from_fn(
            |mut req: axum::extract::Request, next: axum::middleware::Next| async move {
                let headers = req.headers_mut();
                if let Some(first) = headers.get("x-nonce").cloned() {
                    headers.insert("x-nonce", first);
                }
                next.run(req).await
            },
        ))
    });
    let rows = ["second, empty X-Nonce line"];
    assert_eq!(server.failures(), scheme_rows(&["v1", "v2"], &rows));
}

/// Signs a form POST again over the body it carries, with the named client's secret from
/// `secrets`, before the layer verifies it: what a server that does not verify form bodies
/// accepts. Other requests pass unchanged.
async fn signed_again_over_its_form(
    secrets: Secrets,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response<Body> {
    let form = req.method() == "POST"
        && req.headers().get("content-type").is_some_and(|c| {
            c.as_bytes()
                .starts_with(b"application/x-www-form-urlencoded")
        });
    let header = req
        .headers()
        .get("x-nonce")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| XNonce::parse(v).ok());
    let secret = header
        .as_ref()
        .and_then(|h| secrets.lock().unwrap().get(h.client()).cloned());
    let (Some(header), Some(secret), true) = (header, secret, form) else {
        return next.run(req).await;
    };
    let (mut parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let text = |s: &str| String::from_utf8(percent::decode_form(s).unwrap()).unwrap();
    let mut input = SignInput::new(header.scheme(), "POST", parts.uri.path(), header.client());
    input.params = std::str::from_utf8(&bytes)
        .unwrap()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (text(k), text(v))
        })
        .collect();
    input.timestamp_ms = Some(header.timestamp_ms());
    if header.scheme() == Scheme::V2 {
        input.nonce = Some(header.request_id().to_string());
        input.host = parts
            .headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .map(str::to_string);
    }
    let again = xnonce_core::sign(&input, &secret).unwrap();
    parts
        .headers
        .insert("x-nonce", again.x_nonce.parse().unwrap());
    next.run(axum::extract::Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[test]
fn a_server_that_does_not_verify_form_bodies_fails_those_rows() {
    let server = wrapped_with_secrets(signed_again_over_its_form);
    let rows = ["tampered form param value"];
    assert_eq!(server.failures(), scheme_rows(&["v1", "v2"], &rows));
}

/// The router with `f` applied to every answer it gives.
/// `router` behind a verifier that reads the query `f` makes of the one sent (`f` is told
/// whether the request has an `X-Nonce` header).
fn rewriting_query(router: Router, f: fn(bool, &str) -> String) -> Router {
    router.layer(axum::middleware::from_fn(
        move |mut req: axum::extract::Request, next: axum::middleware::Next| async move {
            if let Some(query) = req.uri().query() {
                let header = req.headers().contains_key("x-nonce");
                let target = format!("{}?{}", req.uri().path(), f(header, query));
                *req.uri_mut() = target.parse().unwrap();
                // The layer verifies the target as sent (axum's OriginalUri): rewrite that
                // too, as such a verifier would read it.
                let sent = axum::extract::OriginalUri(req.uri().clone());
                req.extensions_mut().insert(sent);
            }
            next.run(req).await
        },
    ))
}

fn rewriting(router: Router, f: fn(Response<Body>) -> Response<Body>) -> Router {
    router.layer(axum::middleware::map_response(
        move |r: Response<Body>| async move { f(r) },
    ))
}

#[test]
fn stale_answers_without_the_server_time_hint_fail_those_rows() {
    let server = wrapped(|r| {
        rewriting(r, |mut r| {
            r.headers_mut().remove(xnonce_core::time_hint::HEADER);
            r
        })
    });
    let rows = [
        "stale timestamp",
        "future timestamp",
        "ottoken link, stale timestamp",
        "ottoken link, future timestamp",
    ];
    assert_eq!(server.failures(), scheme_rows(&["v1", "v2"], &rows));
}

#[test]
fn server_errors_for_malformed_requests_fail_those_rows() {
    let server = wrapped(|r| {
        rewriting(r, |mut r| {
            if r.status() == 400 || r.status() == 431 {
                *r.status_mut() = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
            }
            r
        })
    });
    assert_eq!(
        server.failures(),
        names(&[
            "X-Nonce over 512 bytes",
            // `v2 \xff…`: v2's 400, not v1's 401 (PROTOCOL §16, the header names the style).
            "X-Nonce with non-ASCII bytes",
            "malformed X-Nonce (v2 fields)",
            "malformed ottoken (bad escape)",
            "malformed ottoken (v2 garbage)",
            "oversized header (64 KiB)",
            "v1 second Host line",
            "v2 second Host line",
            "v2 second Host line, signed for it",
            "v2 second, empty X-Nonce line",
            "v2 GET params moved into a form body",
            "v2 ottoken param beside the header",
            "v2 link with a second ottoken",
            "v2 link with an ottoke%6E param",
        ])
    );
}

/// Whether `r`'s content type starts with `prefix`.
fn has_content_type(r: &Response<Body>, prefix: &str) -> bool {
    r.headers()
        .get("content-type")
        .is_some_and(|c| c.as_bytes().starts_with(prefix.as_bytes()))
}

/// `r` with its body replaced by `body` (and `content_type`).
fn with_body(r: Response<Body>, content_type: &'static str, body: String) -> Response<Body> {
    let (mut parts, _) = r.into_parts();
    parts.headers.remove("content-length");
    parts
        .headers
        .insert("content-type", content_type.parse().unwrap());
    Response::from_parts(parts, Body::from(body))
}

/// Every v2 row the suite checks by its problem code: [`V2_CODE_ROWS`] and the param rule and
/// route rows, with the scheme's prefix.
fn v2_rows_checked_by_code() -> BTreeSet<String> {
    let rows = [&V2_CODE_ROWS[..], &RULE_AND_ROUTE_ROWS[..]].concat();
    scheme_rows(&["v2"], &rows)
}

#[test]
fn v2_refusals_with_a_generic_code_fail_those_rows() {
    let server = wrapped(|r| {
        rewriting(r, |r| {
            if has_content_type(&r, "application/problem+json") {
                with_body(
                    r,
                    "application/problem+json",
                    r#"{"code":"refused"}"#.into(),
                )
            } else {
                r
            }
        })
    });
    assert_eq!(server.failures(), v2_rows_checked_by_code());
}

#[test]
fn v2_refusals_as_plain_text_fail_those_rows() {
    // The right status and the code spelled as a text/plain body: PROTOCOL §16 makes a v2
    // refusal a problem document, which a client reads the code from.
    let server = wrapped(|r| {
        r.layer(axum::middleware::map_response(
            |r: Response<Body>| async move {
                if !has_content_type(&r, "application/problem+json") {
                    return r;
                }
                let (parts, body) = r.into_parts();
                let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
                let problem: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                let code = problem["code"].as_str().unwrap().to_string();
                with_body(
                    Response::from_parts(parts, Body::empty()),
                    "text/plain",
                    code,
                )
            },
        ))
    });
    assert_eq!(server.failures(), v2_rows_checked_by_code());
}

#[test]
fn no_credential_answered_as_a_missing_header_problem_passes() {
    // The suite allows either answer to a request with no credential at all: the server
    // answers those with a v2 problem instead of em-secure-api's text, and every row passes.
    let server = wrapped(|r| {
        r.layer(axum::middleware::from_fn(
            |req: axum::extract::Request, next: axum::middleware::Next| async move {
                let no_credential = !req.headers().contains_key("x-nonce")
                    && !req.uri().query().unwrap_or("").contains("ottoken=");
                let answer = next.run(req).await;
                if no_credential && answer.status() == 401 {
                    let problem = r#"{"code":"missing_header"}"#.to_string();
                    with_body(answer, "application/problem+json", problem)
                } else {
                    answer
                }
            },
        ))
    });
    let results = server.run_suite_at("");
    let row = results.iter().find(|r| r.name == "no credential").unwrap();
    assert_eq!(row.got, "401 missing_header");
    assert_eq!(failed(&results), BTreeSet::new());
}

#[test]
fn v1_refusals_without_em_secure_apis_texts_fail_those_rows() {
    let server = wrapped(|r| {
        rewriting(r, |r| {
            if r.status().is_client_error() && has_content_type(&r, "text/plain") {
                with_body(r, "text/plain", "Unauthorized".into())
            } else {
                r
            }
        })
    });
    // Every v1 refusal the suite checks by its text, and the answer to no credential at all.
    let v1_texts = [
        "GET replayed",
        "early GET replayed last",
        "POST form replayed",
        "GET in absolute form replayed",
        "tampered param value",
        "tampered form param value",
        "unsigned query param on a form POST",
        "unsigned form field, Content-Type in another case with a charset",
        "added param",
        "duplicated param",
        "unsigned value before a signed one",
        "signature last digit changed",
        "second, empty X-Nonce line",
        "GET params moved into a form body",
        "tampered path",
        "tampered method",
        "stale timestamp",
        "future timestamp",
        "stale timestamp, signature changed",
        "timestamp 35 s old",
        "timestamp 35 s ahead",
        "unknown client",
        "client id in another case",
        "second client's id, first client's secret",
        "ottoken link replayed",
        "header credential replayed as an ottoken",
        "ottoken replayed as a header credential",
        "ottoken link, stale timestamp",
        "ottoken link, future timestamp",
        "ottoken with tampered param",
        "replay with re-encoded query",
        "missing required param",
        "missing required action param",
        "excluded param",
        "unknown action",
        "unknown controller",
        "unknown method",
    ];
    let mut expected = scheme_rows(&["v1"], &v1_texts);
    expected.insert("no credential".into());
    assert_eq!(server.failures(), expected);
}

#[test]
fn a_server_that_verifies_the_last_host_line_fails_that_row() {
    // RFC 9112 §3.2 makes two Host lines a 400; a server that keeps the last one (and
    // verifies it) accepts a request signed for it, whose application may read the first,
    // and any v1 request (v1 signs no host).
    let server = wrapped(|r| {
        r.layer(axum::middleware::from_fn(
            |mut req: axum::extract::Request, next: axum::middleware::Next| async move {
                let headers = req.headers_mut();
                if let Some(last) = headers.get_all("host").iter().next_back().cloned() {
                    headers.insert("host", last);
                }
                next.run(req).await
            },
        ))
    });
    assert_eq!(
        server.failures(),
        names(&["v1 second Host line", "v2 second Host line, signed for it"])
    );
}

#[test]
fn a_server_that_ignores_the_query_of_a_form_post_fails_those_rows() {
    // PROTOCOL §11.1 step 4: the params are the query pairs followed by the form body's. A
    // verifier that reads a form POST's body alone lets unsigned query params through.
    let server = wrapped(|r| {
        r.layer(axum::middleware::from_fn(
            |mut req: axum::extract::Request, next: axum::middleware::Next| async move {
                let form = req.method() == "POST"
                    && req.headers().get("content-type").is_some_and(|c| {
                        c.as_bytes()
                            .starts_with(b"application/x-www-form-urlencoded")
                    });
                if form && req.uri().query().is_some() {
                    // The query left out of what the layer verifies (axum's OriginalUri).
                    *req.uri_mut() = req.uri().path().parse().unwrap();
                    let sent = axum::extract::OriginalUri(req.uri().clone());
                    req.extensions_mut().insert(sent);
                }
                next.run(req).await
            },
        ))
    });
    let rows = ["unsigned query param on a form POST"];
    assert_eq!(server.failures(), scheme_rows(&["v1", "v2"], &rows));
}

/// Whether the request's `X-Nonce` is a v2 one (else v1, or none).
fn has_v2_header(req: &axum::extract::Request) -> bool {
    req.headers()
        .get("x-nonce")
        .is_some_and(|v| v.as_bytes().starts_with(b"v2 "))
}

/// em-secure-api's answer to a v1 request whose token does not match (PROTOCOL §16).
fn v1_mismatch() -> Response<Body> {
    let mut r = Response::new(Body::from("ottoken does not match"));
    *r.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
    r.headers_mut()
        .insert("content-type", "text/plain".parse().unwrap());
    r
}

#[test]
fn a_server_that_refuses_two_host_lines_in_v2_only_fails_that_row() {
    // v1 signs no host, so a server may think a second Host line cannot hurt a v1 request
    // and verify it against the first; PROTOCOL §11 refuses it in either scheme (400, RFC
    // 9112 §3.2): the application behind may read the other line.
    let server = wrapped(|r| {
        r.layer(axum::middleware::from_fn(
            |mut req: axum::extract::Request, next: axum::middleware::Next| async move {
                let hosts = req.headers().get_all("host").iter().count();
                if hosts > 1 && !has_v2_header(&req) {
                    let first = req.headers()["host"].clone();
                    req.headers_mut().insert("host", first);
                }
                next.run(req).await
            },
        ))
    });
    assert_eq!(server.failures(), names(&["v1 second Host line"]));
}

#[test]
fn a_server_that_answers_two_host_lines_with_the_v1_table_fails_that_row() {
    // Refused, but as a v1 `invalid_host` goes through em-secure-api's table (401 `ottoken
    // does not match`): a request refused before it can be verified keeps its own status,
    // 400, in either style (PROTOCOL §16).
    let server = wrapped(|r| {
        r.layer(axum::middleware::from_fn(
            |req: axum::extract::Request, next: axum::middleware::Next| async move {
                let hosts = req.headers().get_all("host").iter().count();
                if hosts > 1 && !has_v2_header(&req) {
                    return v1_mismatch();
                }
                next.run(req).await
            },
        ))
    });
    assert_eq!(server.failures(), names(&["v1 second Host line"]));
}

/// `router` behind a verifier that tells a form by `is_form` instead of PROTOCOL §6.5's rule:
/// a body that is a form by that rule but not by `is_form` is verified as an opaque one.
fn reading_forms_by(router: Router, is_form: fn(&str) -> bool) -> Router {
    router.layer(axum::middleware::from_fn(
        move |mut req: axum::extract::Request, next: axum::middleware::Next| async move {
            let content_type = req
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok());
            let opaque = content_type.is_some_and(|ct| {
                xnonce_core::verify::is_form_content_type(Some(ct)) && !is_form(ct)
            });
            if opaque {
                let other = "application/octet-stream".parse().unwrap();
                req.headers_mut().insert("content-type", other);
            }
            next.run(req).await
        },
    ))
}

/// A verifier that misreads `Application/X-WWW-Form-Urlencoded` (or one with a `charset`)
/// as an opaque body refuses such a valid form (its fields are neither signed params nor
/// route params), and, in v1, which signs no body, lets an unsigned field in it through:
/// this row. v2 signs an opaque body's digest, so there the field is refused all the same.
const FORM_TYPE_UNSIGNED_ROW: &str =
    "v1 unsigned form field, Content-Type in another case with a charset";

#[test]
fn a_server_that_compares_the_form_media_type_case_sensitively_fails_those_rows() {
    let server = wrapped(|r| {
        reading_forms_by(r, |ct| {
            ct.split(';').next().unwrap_or("").trim_matches([' ', '\t'])
                == "application/x-www-form-urlencoded"
        })
    });
    let mut rows = scheme_rows(&["v1", "v2"], &["POST form, Content-Type in another case"]);
    rows.insert(FORM_TYPE_UNSIGNED_ROW.to_string());
    assert_eq!(server.failures(), rows);
}

#[test]
fn a_server_that_compares_the_whole_content_type_fails_those_rows() {
    // Parameters and all: `application/x-www-form-urlencoded; charset=utf-8` is no form to it.
    let server = wrapped(|r| {
        reading_forms_by(r, |ct| {
            ct.trim_matches([' ', '\t'])
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    });
    let mut rows = scheme_rows(&["v1", "v2"], &["POST form, Content-Type with a charset"]);
    rows.insert(FORM_TYPE_UNSIGNED_ROW.to_string());
    assert_eq!(server.failures(), rows);
}

/// The clients' secrets, for a faulty server that verifies something itself.
type Secrets = Arc<Mutex<HashMap<String, Secret>>>;

/// The demo API (default config and store) behind `middleware`, which is given the secrets
/// of the two clients (filled in once they are registered) with each request.
fn wrapped_with_secrets<F, Fut>(middleware: F) -> Faulty
where
    F: Fn(Secrets, axum::extract::Request, axum::middleware::Next) -> Fut,
    F: Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Body>> + Send + 'static,
{
    let secrets = Secrets::default();
    let shared = secrets.clone();
    let server = wrapped(|r| {
        r.layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                middleware(shared.clone(), req, next)
            },
        ))
    });
    let mut known = secrets.lock().unwrap();
    known.insert("first".to_string(), server.first.clone());
    known.insert("second".to_string(), server.second.clone());
    drop(known);
    server
}

/// A v1 verifier that, for a query whose values hold `~`, computes the one token that writes
/// them as `tilde` says (the reference computes both, PROTOCOL §11.1 step 6), and refuses
/// the request when the presented token is not that one.
async fn one_tilde_spelling(
    secrets: Secrets,
    tilde: xnonce_core::canonical::v1::Tilde,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response<Body> {
    use xnonce_core::canonical::v1::{prefix_with, token};
    let header = (req.headers().get("x-nonce"))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| XNonce::parse(v).ok())
        .filter(|h| h.scheme() == Scheme::V1);
    // v1 reading (PROTOCOL §11.1 step 4): keys raw, values form-decoded; what does not
    // decode is left to the verifier.
    let params: Option<Vec<(String, String)>> = (req.uri().query().unwrap_or("").split('&'))
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .filter(|(k, _)| *k != "ottoken")
        .map(|(k, v)| {
            let v = String::from_utf8(percent::decode_form(v).ok()?).ok()?;
            Some((k.to_string(), v))
        })
        .collect();
    let with_tilde = params.filter(|p| p.iter().any(|(_, v)| v.contains('~')));
    let (Some(header), Some(params)) = (header, with_tilde) else {
        return next.run(req).await;
    };
    let secret = secrets.lock().unwrap().get(header.client()).cloned();
    let (method, path) = (req.method().as_str(), req.uri().path());
    let expected = secret.zip(prefix_with(method, path, &params, header.client(), tilde).ok());
    let matches = expected.is_some_and(|(secret, prefix)| {
        let token = token(&prefix, secret.expose(), header.timestamp_ms());
        xnonce_core::hex::encode(&token) == header.request_id()
    });
    match matches {
        true => next.run(req).await,
        false => v1_mismatch(),
    }
}

#[test]
fn a_v1_verifier_without_the_ruby_2_4_token_fails_that_row() {
    // Ruby's CGI.escape wrote `~` as `%7E` before 2.5: em-secure-api's requesters on Ruby
    // 1.9–2.4 signed such values so, and a verifier must accept them too.
    use xnonce_core::canonical::v1::Tilde;
    let server = wrapped_with_secrets(|secrets, req, next| {
        one_tilde_spelling(secrets, Tilde::Kept, req, next)
    });
    assert_eq!(
        server.failures(),
        names(&["v1 value with ~ signed as %7E (Ruby ≤ 2.4)"])
    );
}

#[test]
fn a_v1_verifier_with_the_ruby_2_4_token_only_fails_that_row() {
    // em-secure-api itself on Ruby ≤ 2.4: only the `%7E` spelling, so every signer of today
    // (Ruby ≥ 2.5, xnonce) is refused for a value holding `~`.
    use xnonce_core::canonical::v1::Tilde;
    let server = wrapped_with_secrets(|secrets, req, next| {
        one_tilde_spelling(secrets, Tilde::Escaped, req, next)
    });
    assert_eq!(server.failures(), names(&["v1 value with ~"]));
}

/// The query of a link whose credential is authentic but outside the demo's 30 s window,
/// with that credential signed again at the server's time: what a verifier that checks the
/// freshness of `X-Nonce` headers only accepts. `None` for any other request.
fn link_signed_again_if_stale(
    secrets: &Secrets,
    req: &axum::extract::Request,
    query: &str,
) -> Option<String> {
    if req.headers().contains_key("x-nonce") {
        return None;
    }
    let text = |s: &str| String::from_utf8(percent::decode_form(s).ok()?).ok();
    let pairs: Vec<(&str, &str)> = (query.split('&'))
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .collect();
    let at = pairs.iter().position(|(k, _)| *k == "ottoken")?;
    let header = xnonce_core::ottoken::decode(&text(pairs[at].1)?).ok()?;
    if header.timestamp_ms().abs_diff(xnonce_server::now_ms()) <= 30_000 {
        return None;
    }
    let secret = secrets.lock().unwrap().get(header.client()).cloned()?;
    let (method, path) = (req.method().as_str(), req.uri().path());
    let mut input = SignInput::new(header.scheme(), method, path, header.client());
    input.params = (pairs.iter().enumerate())
        .filter(|(i, _)| *i != at)
        .map(|(_, (k, v))| Some((text(k)?, text(v)?)))
        .collect::<Option<_>>()?;
    input.timestamp_ms = Some(header.timestamp_ms());
    if header.scheme() == Scheme::V2 {
        input.nonce = Some(header.request_id().to_string());
        let host = req.headers().get("host")?.to_str().ok()?;
        input.host = Some(host.to_string());
    }
    // Only an authentic link: a forged one is left to the verifier.
    if xnonce_core::sign(&input, &secret).ok()?.x_nonce != header.value() {
        return None;
    }
    input.timestamp_ms = Some(xnonce_server::now_ms());
    let again = xnonce_core::sign(&input, &secret).ok()?;
    let mut kept: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    kept[at] = format!(
        "ottoken={}",
        xnonce_core::ottoken::query_value(&again.ottoken)
    );
    Some(kept.join("&"))
}

#[test]
fn a_server_that_checks_the_freshness_of_headers_only_fails_the_stale_link_rows() {
    // PROTOCOL §11.1 step 7 holds whichever way the credential came: a link's timestamp is
    // as bounded as a header's.
    let server = wrapped_with_secrets(|secrets, mut req, next| async move {
        let query = req.uri().query().unwrap_or("").to_string();
        if let Some(again) = link_signed_again_if_stale(&secrets, &req, &query) {
            let target = format!("{}?{again}", req.uri().path());
            *req.uri_mut() = target.parse().unwrap();
            // The layer verifies the target as sent (axum's OriginalUri).
            let sent = axum::extract::OriginalUri(req.uri().clone());
            req.extensions_mut().insert(sent);
        }
        next.run(req).await
    });
    let rows = [
        "ottoken link, stale timestamp",
        "ottoken link, future timestamp",
    ];
    assert_eq!(server.failures(), scheme_rows(&["v1", "v2"], &rows));
}

tokio::task_local! {
    /// Whether the request the layer is verifying came without an `X-Nonce` header.
    static VIA_OTTOKEN: bool;
}

/// Keeps the replay keys of header credentials apart from those of `ottoken` credentials
/// (as [`VIA_OTTOKEN`] tells): a server that records used links in a table of their own.
#[derive(Default)]
struct StorePerWay {
    seen: Mutex<HashSet<(bool, String)>>,
}

impl AsyncReplayStore for StorePerWay {
    fn insert_if_absent<'a>(
        &'a self,
        key: &'a ReplayKey,
        _expires_at_ms: u64,
        _now_ms: u64,
    ) -> StoreFuture<'a, Result<bool, ReplayStoreError>> {
        let via_ottoken = VIA_OTTOKEN.try_with(|v| *v).unwrap_or(false);
        let fresh = (self.seen.lock().unwrap()).insert((via_ottoken, key.as_str().to_string()));
        Box::pin(async move { Ok(fresh) })
    }
}

#[test]
fn a_store_per_credential_way_fails_the_rows_that_move_the_credential() {
    // PROTOCOL §11.4: the replay key is the scheme, client and request id, whichever way the
    // credential came; the same credential moved from the header to an `ottoken` is a replay.
    let server = serve(Config::demo(), StorePerWay::default(), |r| {
        r.layer(axum::middleware::from_fn(
            |req: axum::extract::Request, next: axum::middleware::Next| async move {
                let via_ottoken = !req.headers().contains_key("x-nonce");
                VIA_OTTOKEN.scope(via_ottoken, next.run(req)).await
            },
        ))
    });
    let rows = [
        "header credential replayed as an ottoken",
        "ottoken replayed as a header credential",
    ];
    assert_eq!(server.failures(), scheme_rows(&["v1", "v2"], &rows));
}

/// The `X-Nonce` header of `req` signed again for the registered client whose id matches
/// the header's ASCII-case-insensitively but not exactly, when the header is authentic for
/// that client's secret: what a server that looks client ids up case-insensitively accepts.
/// `None` for any other request. (GET requests, params in the query.)
fn signed_again_for_the_client_in_its_case(
    secrets: &Secrets,
    req: &axum::extract::Request,
) -> Option<String> {
    let header = XNonce::parse(req.headers().get("x-nonce")?.to_str().ok()?).ok()?;
    let known = secrets.lock().unwrap().clone();
    if known.contains_key(header.client()) {
        return None;
    }
    let (client, secret) = (known.iter()).find(|(c, _)| c.eq_ignore_ascii_case(header.client()))?;
    let text = |s: &str| String::from_utf8(percent::decode_form(s).ok()?).ok();
    let (method, path) = (req.method().as_str(), req.uri().path());
    let mut input = SignInput::new(header.scheme(), method, path, header.client());
    input.params = (req.uri().query().unwrap_or("").split('&'))
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .map(|(k, v)| Some((text(k)?, text(v)?)))
        .collect::<Option<_>>()?;
    input.timestamp_ms = Some(header.timestamp_ms());
    if header.scheme() == Scheme::V2 {
        input.nonce = Some(header.request_id().to_string());
        let host = req.headers().get("host")?.to_str().ok()?;
        input.host = Some(host.to_string());
    }
    // Only an authentic header: a forged one is left to the verifier.
    if xnonce_core::sign(&input, secret).ok()?.x_nonce != header.value() {
        return None;
    }
    input.client = client.clone();
    Some(xnonce_core::sign(&input, secret).ok()?.x_nonce)
}

#[test]
fn a_server_that_compares_client_ids_case_insensitively_fails_those_rows() {
    // PROTOCOL §3.2, §11.1 step 5: a client id is looked up exactly.
    let server = wrapped_with_secrets(|secrets, mut req, next| async move {
        if let Some(again) = signed_again_for_the_client_in_its_case(&secrets, &req) {
            req.headers_mut().insert("x-nonce", again.parse().unwrap());
        }
        next.run(req).await
    });
    let rows = ["client id in another case"];
    assert_eq!(server.failures(), scheme_rows(&["v1", "v2"], &rows));
}

/// The `X-Nonce` header of `req`, parsed, when its timestamp is outside the demo's 30 s
/// window.
fn stale_header(req: &axum::extract::Request) -> Option<XNonce> {
    let header = XNonce::parse(req.headers().get("x-nonce")?.to_str().ok()?).ok()?;
    let off = header.timestamp_ms().abs_diff(xnonce_server::now_ms());
    (off > 30_000).then_some(header)
}

#[test]
fn a_server_that_checks_freshness_before_the_signature_fails_that_row() {
    // PROTOCOL §11.1: the signature (step 6) before freshness (step 7). A server that refuses
    // a stale header as expired before any HMAC (and hints it only when it authenticates)
    // answers a forged one `expired` too.
    let server = wrapped(|r| {
        r.layer(axum::middleware::from_fn(
            |req: axum::extract::Request, next: axum::middleware::Next| async move {
                let stale = stale_header(&req);
                let answer = next.run(req).await;
                let Some(header) = stale.filter(|_| answer.status() == 401) else {
                    return answer;
                };
                match header.scheme() {
                    Scheme::V1 => with_body(answer, "text/plain", "Request has timed out".into()),
                    Scheme::V2 => {
                        let problem = r#"{"status":401,"code":"expired"}"#.to_string();
                        with_body(answer, "application/problem+json", problem)
                    }
                }
            },
        ))
    });
    let rows = ["stale timestamp, signature changed"];
    assert_eq!(server.failures(), scheme_rows(&["v1", "v2"], &rows));
}

#[test]
fn a_server_that_hints_every_stale_refusal_fails_that_row() {
    // PROTOCOL §12: only an `expired` answer (an authentic, stale request) carries the time
    // hint. A server that adds one, with the named client's secret, to any refusal of a
    // stale request authenticates a time for a request nobody signed.
    let server = wrapped_with_secrets(|secrets, req, next| async move {
        let stale = stale_header(&req);
        let mut answer = next.run(req).await;
        let secret =
            (stale.as_ref()).and_then(|h| secrets.lock().unwrap().get(h.client()).cloned());
        let hinted = answer
            .headers()
            .contains_key(xnonce_core::time_hint::HEADER);
        if let (Some(h), Some(secret), 401, false) =
            (stale, secret, answer.status().as_u16(), hinted)
        {
            let now = xnonce_server::now_ms();
            let hint = ServerTimeHint::issue(&secret, h.client(), h.request_id(), now);
            let value = format!("{} {}", hint.server_time_ms, hint.mac);
            (answer.headers_mut()).insert(xnonce_core::time_hint::HEADER, value.parse().unwrap());
        }
        answer
    });
    let rows = ["stale timestamp, signature changed"];
    assert_eq!(server.failures(), scheme_rows(&["v1", "v2"], &rows));
}
