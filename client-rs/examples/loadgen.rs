//! Server throughput: validly signed, unique requests against the verified demo route
//! `GET /controller1/action1`, and the same requests against the same demo handler served
//! without verification (`/_bench/unverified/controller1/action1`, from
//! `xnonce-server serve --demo --bench-mirror`) of the same server, in one run. Both run the
//! same handler, so the difference is the `XNonceLayer` alone (body collection, route rules,
//! signature, window, replay check); the unverified mirror reads the params from the query
//! itself, as any handler without the layer would have to.
//!
//! Each round pre-signs its requests (each unique: its own `opt2`, and a v2 nonce) just before sending
//! them, so the client's signing work is not in the timed loop and both routes receive
//! byte-for-byte the same kind of request (same query, an `X-Nonce` header). Rounds
//! alternate between the routes; the median round is reported. Loopback only.
//!
//! ```sh
//! bench/server-throughput.sh          # builds in release, starts the server, runs this
//! ```

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use xnonce::core::{sign, SignInput};
use xnonce::{Scheme, Secret};

struct Args {
    base_url: String,
    client: String,
    secret: Secret,
    scheme: Scheme,
    requests: usize,
    concurrency: usize,
    rounds: usize,
    max_seconds: u64,
    server_pid: Option<u32>,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        base_url: String::new(),
        client: String::new(),
        secret: Secret::new("unset").map_err(|e| e.to_string())?,
        scheme: Scheme::V2,
        requests: 20_000,
        concurrency: 32,
        rounds: 3,
        max_seconds: 20,
        server_pid: None,
    };
    let mut secret_file = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--base-url" => a.base_url = v,
            "--client" => a.client = v,
            "--secret-file" => secret_file = Some(v),
            "--scheme" => a.scheme = v.parse().map_err(|e: xnonce::Error| e.to_string())?,
            "--requests" => a.requests = num(&v)?.clamp(1, 200_000),
            "--concurrency" => a.concurrency = num(&v)?.clamp(1, 256),
            "--rounds" => a.rounds = num(&v)?.clamp(1, 9),
            "--max-seconds" => a.max_seconds = num(&v)?.clamp(1, 120) as u64,
            "--server-pid" => a.server_pid = Some(num(&v)? as u32),
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    let host = a
        .base_url
        .strip_prefix("http://")
        .ok_or("--base-url must be http://127.0.0.1:PORT")?;
    if !host.starts_with("127.0.0.1:") {
        return Err("the load generator only talks to 127.0.0.1".into());
    }
    let f = secret_file.ok_or("--secret-file is required")?;
    let text = std::fs::read_to_string(&f).map_err(|e| format!("{f}: {e}"))?;
    a.secret = Secret::new(text.trim()).map_err(|e| e.to_string())?;
    if a.client.is_empty() {
        return Err("--client is required".into());
    }
    Ok(a)
}

const PATH: &str = "/controller1/action1";

/// `n` signed requests for GET /controller1/action1: `(query, X-Nonce)`. Each carries a
/// unique `opt2` (v1 has no nonce: that makes its token unique too); v2 also has a fresh nonce.
fn presign(a: &Args, n: usize, tag: &str) -> Result<Vec<(String, String)>, xnonce::Error> {
    let host = a.base_url.trim_start_matches("http://").to_string();
    let base = SignInput::new(a.scheme, "GET", PATH, &a.client)
        .params([
            ("username", "phil"),
            ("password", "hello phil"),
            ("opt1", "this"),
        ])
        .host(host);
    let space = if a.scheme == Scheme::V1 { "+" } else { "%20" };
    (0..n)
        .map(|i| {
            let opt2 = format!("{tag}-{i}");
            let input = base.clone().param("opt2", opt2.as_str());
            let query = format!("username=phil&password=hello{space}phil&opt1=this&opt2={opt2}");
            sign(&input, &a.secret).map(|s| (query, s.x_nonce))
        })
        .collect()
}

/// The server process's CPU time (user + system, all threads) from `/proc/<pid>/stat`, in
/// seconds (Linux; clock ticks of 1/100 s).
fn server_cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid?)).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // rest[0] is field 3 (state): utime is field 14, stime field 15.
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

struct Round {
    sent: usize,
    /// Server CPU seconds spent during the round, when its pid is known.
    server_cpu: Option<f64>,
    elapsed: Duration,
    statuses: BTreeMap<u16, usize>,
    errors: usize,
}

impl Round {
    fn rps(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64()
    }
}

async fn run_round(
    http: &reqwest::Client,
    url: &str,
    requests: Vec<(String, String)>,
    concurrency: usize,
    deadline: Duration,
    server_pid: Option<u32>,
) -> Round {
    let requests = Arc::new(requests);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, url, requests, next) = (
            http.clone(),
            url.to_string(),
            requests.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
            let mut errors = 0usize;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= requests.len() || start.elapsed() > deadline {
                    break;
                }
                let (query, x_nonce) = &requests[i];
                let target = format!("{url}?{query}");
                match http.get(&target).header("X-Nonce", x_nonce).send().await {
                    Ok(res) => {
                        let code = res.status().as_u16();
                        let _ = res.bytes().await;
                        *statuses.entry(code).or_default() += 1;
                    }
                    Err(_) => errors += 1,
                }
            }
            (statuses, errors)
        }));
    }
    let cpu_before = server_cpu_seconds(server_pid);
    let mut round = Round {
        server_cpu: None,
        sent: 0,
        elapsed: Duration::ZERO,
        statuses: BTreeMap::new(),
        errors: 0,
    };
    for t in tasks {
        if let Ok((s, e)) = t.await {
            for (k, v) in s {
                *round.statuses.entry(k).or_default() += v;
                round.sent += v;
            }
            round.errors += e;
            round.sent += e;
        }
    }
    round.elapsed = start.elapsed();
    if let (Some(b), Some(a)) = (cpu_before, server_cpu_seconds(server_pid)) {
        round.server_cpu = Some(a - b);
    }
    round
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

async fn run(a: Args) -> Result<bool, String> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(a.concurrency)
        .build()
        .map_err(|e| e.to_string())?;
    let deadline = Duration::from_secs(a.max_seconds);
    let verified_url = format!("{}{PATH}", a.base_url);
    let health_url = format!("{}/_bench/unverified{PATH}", a.base_url);
    println!(
        "loadgen: {} ({}), {} requests x {} rounds per route, concurrency {}, ≤ {} s per round",
        a.base_url, a.scheme, a.requests, a.rounds, a.concurrency, a.max_seconds
    );
    // Warm-up: connections, server caches.
    let warm = presign(&a, a.concurrency * 20, "warm").map_err(|e| e.to_string())?;
    run_round(
        &http,
        &health_url,
        warm.clone(),
        a.concurrency,
        deadline,
        None,
    )
    .await;
    run_round(&http, &verified_url, warm, a.concurrency, deadline, None).await;

    let (mut verified, mut health, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut v_cpu, mut h_cpu): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    let mut ok = true;
    for r in 0..a.rounds {
        // Alternate which route goes first, so drift in the machine's load cancels out.
        let mut order = [("unverified", &health_url), ("verified  ", &verified_url)];
        if r % 2 == 1 {
            order.reverse();
        }
        let (mut h_rps, mut v_rps) = (0.0, 0.0);
        for (name, url) in order {
            let tag = format!("r{r}{}", name.trim());
            let requests = presign(&a, a.requests, &tag).map_err(|e| e.to_string())?;
            let round =
                run_round(&http, url, requests, a.concurrency, deadline, a.server_pid).await;
            let cpu = round
                .server_cpu
                .map(|c| {
                    format!(
                        "  server CPU {:>5.1} µs/request",
                        c * 1e6 / round.sent as f64
                    )
                })
                .unwrap_or_default();
            println!(
                "  round {} {name} {:>6} requests in {:>5.2} s = {:>6.0} req/s{cpu}  statuses {:?}  errors {}",
                r + 1,
                round.sent,
                round.elapsed.as_secs_f64(),
                round.rps(),
                round.statuses,
                round.errors
            );
            if let Some(c) = round.server_cpu {
                let per = c / round.sent as f64;
                if name.trim() == "verified" {
                    v_cpu.push(per);
                } else {
                    h_cpu.push(per);
                }
            }
            if round.errors > 0 || round.statuses.keys().any(|&c| c != 200) {
                ok = false;
            }
            if name.trim() == "verified" {
                v_rps = round.rps();
            } else {
                h_rps = round.rps();
            }
        }
        verified.push(v_rps);
        health.push(h_rps);
        ratios.push(v_rps / h_rps);
    }
    let (v, h, ratio) = (median(verified), median(health), median(ratios));
    println!("unverified /_bench/unverified{PATH} : {h:>8.0} req/s (median of rounds)");
    println!("verified   {PATH}                    : {v:>8.0} req/s (median of rounds)");
    println!(
        "verified/unverified = {ratio:.3} (median of per-round ratios): verification + replay \
         check + route rules cost {:.1}% of throughput",
        (1.0 - ratio) * 100.0
    );
    if !v_cpu.is_empty() && !h_cpu.is_empty() {
        let (vc, hc) = (median(v_cpu), median(h_cpu));
        println!(
            "server CPU per request (median): unverified {:.1} µs, verified {:.1} µs → \
             verified capacity = {:.3} of unverified: verification + replay check + route \
             rules cost {:.1}% of server throughput",
            hc * 1e6,
            vc * 1e6,
            hc / vc,
            (1.0 - hc / vc) * 100.0
        );
    }
    if !ok {
        println!("NOTE: some requests were not answered 200 (see statuses above)");
    }
    Ok(ok)
}

fn main() -> ExitCode {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(a)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}
