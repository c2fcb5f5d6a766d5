//! Multi-instance scale test: two `xnonce-server` instances sharing a Redis replay store
//! behind nginx round-robin, all real processes on 127.0.0.1, started by
//! `server-ref/scale-test.sh`. This program only sends traffic and checks the answers:
//!
//! 1. 200 signed tokens × 50 copies (10,000 replay attempts) sent concurrently through nginx
//!    → exactly one 200 per token, every other copy 409; both instances served traffic;
//!    unique legitimate requests sent alongside → all 200.
//! 2. Redis stopped (`XNONCE_SCALE_TEST_REDIS_STOP`) → every request 503 (v2: problem
//!    document with code `store_unavailable`), none 2xx.
//! 3. Redis started again (`XNONCE_SCALE_TEST_REDIS_START`) → requests accepted again, and a
//!    token accepted before the outage is still refused as a replay.
//! 4. A client added with `xnonce-server client add` (`XNONCE_SCALE_TEST_CLIENT_CMD`) is
//!    accepted by both instances from its first requests; deleted with `client delete`, it
//!    is refused by both from the first request sent after the command returned (the
//!    command waits until the instances of the host have re-read the registry).
//!
//! Environment: `XNONCE_SCALE_TEST_NGINX_URL` (http://127.0.0.1:PORT), `…_CLIENT`,
//! `…_SECRET_FILE`, `…_REDIS_STOP`, `…_REDIS_START`, `…_CLIENT_CMD` (shell commands; `{}` in
//! the last one stands for the `client` subcommand and its args). Without the URL the
//! program prints that it is SKIPPED and exits 0 (nothing is counted as passed).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use xnonce_conformance::server_suite::{encode_params, http};
use xnonce_core::{sign, Scheme, Secret, SignInput};

const TOKENS: usize = 200;
const COPIES: usize = 50;
const GROUP: usize = 20; // tokens signed and replayed together (keeps them fresh)
const THREADS: usize = 32;
const PATH: &str = "/controller1/action1";

struct Ctx {
    base: http::BaseUrl,
    client: String,
    secret: Secret,
    seq: AtomicUsize,
}

impl Ctx {
    /// A fresh signed GET of the demo API.
    fn request(&self, scheme: Scheme) -> http::Request {
        self.request_as(scheme, &self.client, &self.secret)
    }

    /// The same, signed by another client.
    fn request_as(&self, scheme: Scheme, client: &str, secret: &Secret) -> http::Request {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut input = SignInput::new(scheme, "GET", PATH, client);
        input.params = vec![
            ("username".into(), "phil".into()),
            ("password".into(), "hello phil".into()),
            ("opt1".into(), format!("scale-{n}-{}", std::process::id())),
        ];
        if scheme == Scheme::V2 {
            input.host = Some(self.base.authority.clone());
        }
        let signed = sign(&input, secret).expect("signing");
        let q = encode_params(scheme, &input.params);
        http::Request::new("GET", &format!("{PATH}?{q}")).header("X-Nonce", signed.x_nonce)
    }

    fn send(&self, req: &http::Request) -> Result<http::Response, String> {
        http::send(&self.base, req).map_err(|e| format!("io error: {e}"))
    }
}

fn upstream(r: &http::Response) -> String {
    r.header("x-upstream").unwrap_or("?").to_string()
}

fn code(r: &http::Response) -> String {
    serde_json::from_slice::<serde_json::Value>(&r.body)
        .ok()
        .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_string))
        .unwrap_or_default()
}

/// Runs `jobs` over `threads` threads; results in job order.
fn parallel<T: Sync, R: Send>(jobs: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<R>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= jobs.len() {
                    break;
                }
                let r = f(&jobs[i]);
                out.lock().unwrap()[i] = Some(r);
            });
        }
    });
    out.into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect()
}

struct Report {
    passed: usize,
    failed: usize,
}

impl Report {
    fn check(&mut self, name: &str, ok: bool, detail: &str) {
        if ok {
            self.passed += 1;
            println!("PASS  {name}  {detail}");
        } else {
            self.failed += 1;
            println!("FAIL  {name}  {detail}");
        }
    }
}

fn shell(cmd: &str) -> bool {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} must be set (see scale-test.sh)"))
}

fn main() {
    let Ok(url) = std::env::var("XNONCE_SCALE_TEST_NGINX_URL") else {
        println!(
            "SKIPPED (not counted as passed): the multi-instance scale test needs \
             XNONCE_SCALE_TEST_NGINX_URL (Redis + nginx + two servers); run server-ref/scale-test.sh"
        );
        return;
    };
    let secret_text = std::fs::read_to_string(env("XNONCE_SCALE_TEST_SECRET_FILE")).unwrap();
    let ctx = Ctx {
        base: http::BaseUrl::parse(&url).unwrap(),
        client: env("XNONCE_SCALE_TEST_CLIENT"),
        secret: Secret::new(secret_text.trim()).unwrap(),
        seq: AtomicUsize::new(0),
    };
    let stop_cmd = env("XNONCE_SCALE_TEST_REDIS_STOP");
    let start_cmd = env("XNONCE_SCALE_TEST_REDIS_START");
    let mut report = Report {
        passed: 0,
        failed: 0,
    };
    let t0 = Instant::now();

    // ---- 1. replays, concurrent, over both instances, with legitimate traffic alongside.
    let done = AtomicBool::new(false);
    let legit: Mutex<(usize, Vec<String>)> = Mutex::new((0, Vec::new()));
    let mut per_upstream: BTreeMap<String, usize> = BTreeMap::new();
    let mut token_failures = Vec::new();
    let mut attempts = 0;
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let mut i = 0usize;
                while !done.load(Ordering::Relaxed) {
                    let scheme = if i.is_multiple_of(2) {
                        Scheme::V2
                    } else {
                        Scheme::V1
                    };
                    i += 1;
                    let r = ctx.send(&ctx.request(scheme));
                    let mut l = legit.lock().unwrap();
                    l.0 += 1;
                    match r {
                        Ok(r) if r.status == 200 => {}
                        Ok(r) => l.1.push(format!("{} {}", r.status, r.text())),
                        Err(e) => l.1.push(e),
                    }
                }
            });
        }
        for group in 0..TOKENS / GROUP {
            // A quarter of the tokens are v1 (em-secure-api), the rest v2.
            let reqs: Vec<http::Request> = (0..GROUP)
                .map(|t| {
                    ctx.request(if (group * GROUP + t).is_multiple_of(4) {
                        Scheme::V1
                    } else {
                        Scheme::V2
                    })
                })
                .collect();
            // Copy-major order: the copies of one token are spread over time and instances.
            let jobs: Vec<usize> = (0..COPIES * GROUP).map(|i| i % GROUP).collect();
            attempts += jobs.len();
            let results = parallel(&jobs, THREADS, |&t| ctx.send(&reqs[t]));
            let mut by_token: Vec<BTreeMap<String, usize>> = vec![BTreeMap::new(); GROUP];
            for (t, r) in jobs.iter().zip(results) {
                let key = match r {
                    Ok(r) => {
                        *per_upstream.entry(upstream(&r)).or_default() += 1;
                        r.status.to_string()
                    }
                    Err(e) => e,
                };
                *by_token[*t].entry(key).or_default() += 1;
            }
            for (t, counts) in by_token.iter().enumerate() {
                let ok = counts.get("200") == Some(&1) && counts.get("409") == Some(&(COPIES - 1));
                if !ok {
                    token_failures.push(format!("token {}: {counts:?}", group * GROUP + t));
                }
            }
        }
        done.store(true, Ordering::Relaxed);
    });
    let replay_secs = t0.elapsed().as_secs_f64();
    report.check(
        "replays: exactly one 200 per token, every other copy 409",
        token_failures.is_empty(),
        &format!(
            "{attempts} attempts, {TOKENS} tokens x {COPIES} copies, {THREADS} concurrent, {replay_secs:.1} s; bad tokens: {}{}",
            token_failures.len(),
            token_failures.first().map(|f| format!(" (first: {f})")).unwrap_or_default()
        ),
    );
    let both = per_upstream.len() >= 2
        && !per_upstream.contains_key("?")
        && per_upstream.values().all(|&n| n >= attempts / 4);
    report.check(
        "replays were spread over both instances",
        both,
        &format!("{per_upstream:?}"),
    );
    let (legit_n, legit_bad) = legit.into_inner().unwrap();
    report.check(
        "legitimate unique requests alongside: all 200",
        legit_n > 0 && legit_bad.is_empty(),
        &format!(
            "{legit_n} sent, {} refused{}",
            legit_bad.len(),
            legit_bad
                .first()
                .map(|f| format!(" (first: {f})"))
                .unwrap_or_default()
        ),
    );

    // ---- 2. Redis stops: fail closed.
    let before = ctx.request(Scheme::V2);
    let r = ctx.send(&before);
    report.check(
        "token accepted just before the outage",
        matches!(&r, Ok(r) if r.status == 200),
        &format!("{:?}", r.as_ref().map(|r| r.status)),
    );
    let signed_before = Instant::now();
    report.check("redis stopped", shell(&stop_cmd), &stop_cmd);
    let outage: Vec<http::Request> = (0..60)
        .map(|i| match i % 6 {
            0 => before.clone(),
            1 => ctx.request(Scheme::V1),
            _ => ctx.request(Scheme::V2),
        })
        .collect();
    let t_out = Instant::now();
    let results = parallel(&outage, 8, |r| ctx.send(r));
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    let mut bad = 0;
    for (req, r) in outage.iter().zip(&results) {
        let v2 = req
            .headers
            .iter()
            .any(|(k, v)| k == "X-Nonce" && v.starts_with(b"v2 "));
        let (key, ok) = match r {
            Ok(r) => {
                let c = code(r);
                let ok = r.status == 503 && (!v2 || c == "store_unavailable");
                (format!("{} {c}", r.status), ok)
            }
            Err(e) => (e.clone(), false),
        };
        bad += usize::from(!ok);
        *statuses.entry(key).or_default() += 1;
    }
    report.check(
        "redis down: every request 503 store_unavailable, none 2xx",
        bad == 0,
        &format!(
            "{} requests in {:.1} s: {statuses:?}",
            outage.len(),
            t_out.elapsed().as_secs_f64()
        ),
    );

    // ---- 3. Redis returns: requests accepted again.
    report.check("redis started again", shell(&start_cmd), &start_cmd);
    let t_rec = Instant::now();
    let mut recovered = false;
    let mut polls = 0;
    let mut streak = 0;
    while t_rec.elapsed() < Duration::from_secs(30) {
        polls += 1;
        match ctx.send(&ctx.request(Scheme::V2)) {
            Ok(r) if r.status == 200 => streak += 1,
            Ok(r) if r.status == 503 => streak = 0,
            Ok(r) => {
                report.check(
                    "recovery polls answer 200 or 503",
                    false,
                    &format!("{} {}", r.status, r.text()),
                );
                streak = 0;
            }
            Err(_) => streak = 0,
        }
        if streak >= 4 {
            recovered = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    report.check(
        "requests accepted again after redis returns",
        recovered,
        &format!("{polls} polls, {:.1} s", t_rec.elapsed().as_secs_f64()),
    );
    let after: Vec<http::Request> = (0..100)
        .map(|i| ctx.request(if i % 4 == 0 { Scheme::V1 } else { Scheme::V2 }))
        .collect();
    let results = parallel(&after, 8, |r| ctx.send(r));
    let ok = results
        .iter()
        .filter(|r| matches!(r, Ok(r) if r.status == 200))
        .count();
    report.check(
        "after recovery: 100 unique requests over both instances all 200",
        ok == after.len(),
        &format!("{ok} of {} accepted", after.len()),
    );
    let r = ctx.send(&before);
    let fresh = signed_before.elapsed() < Duration::from_secs(25);
    let status = r.as_ref().map(|r| r.status).unwrap_or(0);
    report.check(
        "token accepted before the outage is still refused after it",
        if fresh {
            status == 409
        } else {
            status == 409 || status == 401
        },
        &format!(
            "{status} ({:.1} s after signing)",
            signed_before.elapsed().as_secs_f64()
        ),
    );

    // 4. Registry changes made by another process reach both instances before it returns.
    let client_cmd = env("XNONCE_SCALE_TEST_CLIENT_CMD");
    let added = std::process::Command::new("sh")
        .arg("-c")
        .arg(client_cmd.replace("{}", "add scale_late"))
        .output()
        .unwrap();
    let late = Secret::new(String::from_utf8_lossy(&added.stdout).trim());
    report.check(
        "client add from another process",
        added.status.success() && late.is_ok(),
        &String::from_utf8_lossy(&added.stderr),
    );
    let late = late.unwrap_or_else(|_| Secret::generate().unwrap());
    // Sent one after another, so nginx's round robin gives each instance half of them.
    let answers = |n: usize| -> Vec<(u16, String, String)> {
        (0..n)
            .map(|i| {
                let scheme = if i % 2 == 0 { Scheme::V2 } else { Scheme::V1 };
                match ctx.send(&ctx.request_as(scheme, "scale_late", &late)) {
                    // v2: the problem's code; v1: em-secure-api's text body.
                    Ok(r) if r.status == 200 => (200, upstream(&r), String::new()),
                    Ok(r) if scheme == Scheme::V2 => (r.status, upstream(&r), code(&r)),
                    Ok(r) => (r.status, upstream(&r), r.text()),
                    Err(e) => (0, String::new(), e),
                }
            })
            .collect()
    };
    let summary = |rs: &[(u16, String, String)]| {
        let mut by: BTreeMap<String, usize> = BTreeMap::new();
        for (status, up, code) in rs {
            *by.entry(format!("{status} {code} from {up}")).or_default() += 1;
        }
        format!("{by:?}")
    };
    let both = |rs: &[(u16, String, String)]| {
        rs.iter()
            .map(|r| r.1.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            == 2
    };
    let first = answers(8);
    report.check(
        "added client accepted by both instances from its first requests",
        first.iter().all(|r| r.0 == 200) && both(&first),
        &summary(&first),
    );
    let deleted = shell(&client_cmd.replace("{}", "delete scale_late --confirm"));
    let after = answers(8);
    report.check(
        "deleted client refused by both instances as soon as `client delete` returned",
        deleted
            && after.iter().all(|r| {
                r.0 == 401 && matches!(r.2.as_str(), "unknown_client" | "client not known")
            })
            && both(&after),
        &summary(&after),
    );

    println!(
        "scale test: {attempts} replay attempts + {legit_n} legitimate requests, {:.1} s in all",
        t0.elapsed().as_secs_f64()
    );
    println!("{} passed, {} failed", report.passed, report.failed);
    if report.failed > 0 {
        std::process::exit(1);
    }
}
