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
//! `--fill N` first sends N more verified requests, outside the measured rounds, so the
//! server's replay store already holds as many keys as a server under steady load does (a
//! key is kept for the 30 s window: ≈ 3.6 M keys at 120,000 verified requests a second)
//! and the rounds measure a store of that size instead of one still growing from empty.
//!
//! `--http spin` (the default) sends each request as HTTP/1.1 text over keep-alive
//! connections and reads the answer by its `Content-Length`, from one thread that polls
//! non-blocking sockets and never sleeps: a few µs per request, so one core of load saturates
//! a server on the other (what `bench/server-throughput.sh` arranges with `taskset`) and
//! req/s measures the server. Because the generator is never asleep, the server's sends never
//! pay for waking it: on loopback the receiver's wake-up runs on the sender's CPU, and the
//! slower of two routes would find a sleeping generator more often, a cost a server with
//! remote clients does not have. It needs a CPU of its own. `--http raw` is the same client
//! on tokio (it sleeps in `epoll_wait` when nothing has arrived); `--http reqwest` uses the
//! Rust requester's HTTP client (≈ 15–20 µs per request: the client then bounds req/s).
//!
//! `--emit FILE` only signs: it writes `--requests` unique requests, one `query<TAB>X-Nonce`
//! line each, for another load generator (`bench/server-throughput.sh --wrk` feeds them to
//! wrk through `bench/wrk-presigned.lua`).
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

/// Which HTTP client sends the requests.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Http {
    Raw,
    /// Raw HTTP/1.1 from one thread that never sleeps: non-blocking sockets polled in a loop.
    Spin,
    Reqwest,
}

struct Args {
    http: Http,
    /// Only this route (`verified` or `unverified`), for profiling one at a time.
    only: Option<String>,
    base_url: String,
    client: String,
    secret: Secret,
    scheme: Scheme,
    requests: usize,
    /// Verified requests sent before the rounds to fill the replay store (`--fill`).
    fill: usize,
    concurrency: usize,
    rounds: usize,
    max_seconds: u64,
    server_pid: Option<u32>,
    /// Write `requests` pre-signed requests to this file and exit (`--emit`).
    emit: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        http: Http::Spin,
        only: None,
        base_url: String::new(),
        client: String::new(),
        secret: Secret::new("unset").map_err(|e| e.to_string())?,
        scheme: Scheme::V2,
        requests: 20_000,
        fill: 0,
        concurrency: 32,
        rounds: 3,
        max_seconds: 20,
        server_pid: None,
        emit: None,
    };
    let mut secret_file = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--http" => {
                a.http = match v.as_str() {
                    "raw" => Http::Raw,
                    "spin" => Http::Spin,
                    "reqwest" => Http::Reqwest,
                    _ => return Err("--http is raw, spin or reqwest".into()),
                }
            }
            "--only" if v == "verified" || v == "unverified" => a.only = Some(v),
            "--only" => return Err("--only is verified or unverified".into()),
            "--base-url" => a.base_url = v,
            "--client" => a.client = v,
            "--secret-file" => secret_file = Some(v),
            "--scheme" => a.scheme = v.parse().map_err(|e: xnonce::Error| e.to_string())?,
            "--requests" => a.requests = num(&v)?.clamp(1, 1_000_000),
            "--fill" => a.fill = num(&v)?.min(10_000_000),
            "--concurrency" => a.concurrency = num(&v)?.clamp(1, 256),
            "--rounds" => a.rounds = num(&v)?.clamp(1, 41),
            "--max-seconds" => a.max_seconds = num(&v)?.clamp(1, 120) as u64,
            "--server-pid" => a.server_pid = Some(num(&v)? as u32),
            "--emit" => a.emit = Some(v),
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

/// The server process's CPU time so far (user + system of every thread it has had, those that
/// exited included), in seconds (Linux), read once the server is idle.
///
/// The kernel brings a thread's CPU time up to date only when the thread stops running or at
/// the scheduler's tick (every 4 ms at HZ=250): read while a server thread is still running,
/// it is up to a tick behind — at the end of a 2,000-request round, 0.3–1.5 µs per request of
/// the round's CPU was not visible yet. So this first waits until none of the server's threads
/// is runnable ([`wait_until_idle`]: the last answers written, the connections closed), then
/// reads the process's CPU clock (`clock_getcpuclockid`, ns), which unlike the sum of
/// `/proc/<pid>/task/*/sched` keeps the time of threads that exited.
fn server_cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let pid = pid?;
    wait_until_idle(pid);
    process_cpu_clock_seconds(pid)
}

/// Waits (at most 200 ms) until no thread of `pid` is running or runnable (state `R` in
/// `/proc/<pid>/task/*/stat`).
fn wait_until_idle(pid: u32) {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(200) {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return;
        };
        let running = tasks.flatten().any(|task| {
            std::fs::read_to_string(task.path().join("stat")).is_ok_and(|stat| {
                // The state follows the command name, which is in parentheses.
                stat.rfind(')').and_then(|i| stat.get(i + 2..i + 3)) == Some("R")
            })
        });
        if !running {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The CPU clock of process `pid` (all its threads, live and exited), in seconds.
fn process_cpu_clock_seconds(pid: u32) -> Option<f64> {
    let mut clock: libc::clockid_t = 0;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: both calls only write to the local variables passed by pointer.
    let ok = unsafe {
        libc::clock_getcpuclockid(pid as libc::pid_t, &mut clock) == 0
            && libc::clock_gettime(clock, &mut ts) == 0
    };
    ok.then(|| ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9)
}

#[derive(Default)]
struct Round {
    sent: usize,
    /// Server CPU seconds spent during the round, when its pid is known.
    server_cpu: Option<f64>,
    elapsed: Duration,
    statuses: BTreeMap<u16, usize>,
    errors: usize,
    /// `--max-seconds` ended the round with requests unsent or unanswered.
    cut: bool,
}

impl Round {
    /// Records the round's time since `start` and the server CPU spent since `cpu_before`.
    fn finish(mut self, start: Instant, cpu_before: Option<f64>, server_pid: Option<u32>) -> Round {
        self.elapsed = start.elapsed();
        if let (Some(b), Some(a)) = (cpu_before, server_cpu_seconds(server_pid)) {
            self.server_cpu = Some(a - b);
        }
        self
    }

    fn rps(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64()
    }

    /// Every request sent was answered, and answered 200.
    fn all_accepted(&self) -> bool {
        self.errors == 0 && self.statuses.keys().all(|&c| c == 200)
    }
}

/// Sends requests over one keep-alive connection as raw HTTP/1.1 and reads each answer by
/// its `Content-Length` (the demo's answers all have one); `None` on any I/O or framing
/// error (the connection is then dropped and the error counted).
struct RawConnection {
    stream: tokio::net::TcpStream,
    buf: Vec<u8>,
}

impl RawConnection {
    async fn connect(authority: &str) -> std::io::Result<RawConnection> {
        let stream = tokio::net::TcpStream::connect(authority).await?;
        stream.set_nodelay(true)?;
        Ok(RawConnection {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }

    async fn get(&mut self, request: &[u8]) -> Option<u16> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        self.stream.write_all(request).await.ok()?;
        self.buf.clear();
        loop {
            if let Some(status) = complete_answer(&self.buf)? {
                return Some(status);
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// One connection of the busy-polling client: the request being answered and what has
/// arrived of its answer.
struct SpinConnection {
    stream: std::net::TcpStream,
    /// Index of the request in flight, and how many of its bytes are written.
    in_flight: Option<(usize, usize)>,
    buf: Vec<u8>,
}

/// The status of a complete HTTP/1.1 answer at the start of `buf` (framed by its
/// `Content-Length`), `Some(None)` when more bytes are needed, `None` when it cannot be read.
fn complete_answer(buf: &[u8]) -> Option<Option<u16>> {
    let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Some(None);
    };
    let head = std::str::from_utf8(&buf[..i + 4]).ok()?;
    let status = head.get(9..12)?.parse::<u16>().ok()?;
    let length = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    })?;
    Some((buf.len() >= i + 4 + length).then_some(status))
}

/// The `--http spin` round: `concurrency` keep-alive connections served by this thread, which
/// polls non-blocking sockets in a loop and never sleeps. With the generator never asleep,
/// the server's sends never have to wake it (on loopback the receiver's wake-up is paid on
/// the sender's CPU, and the slower route would find the generator asleep more often).
fn spin_round(
    authority: &str,
    raw: &[Vec<u8>],
    concurrency: usize,
    deadline: Duration,
    server_pid: Option<u32>,
) -> Round {
    use std::io::{ErrorKind, Read, Write};
    let mut round = Round::default();
    let mut conns: Vec<SpinConnection> = Vec::new();
    for _ in 0..concurrency {
        let Ok(stream) = std::net::TcpStream::connect(authority) else {
            round.errors += 1;
            continue;
        };
        if stream
            .set_nodelay(true)
            .and(stream.set_nonblocking(true))
            .is_err()
        {
            round.errors += 1;
            continue;
        }
        conns.push(SpinConnection {
            stream,
            in_flight: None,
            buf: Vec::with_capacity(4096),
        });
    }
    // The connections are made before the clock starts (as the signatures and request
    // texts are): a round measures requests, not the TCP handshakes.
    let cpu_before = server_cpu_seconds(server_pid);
    let start = Instant::now();
    let mut next = 0usize;
    let mut chunk = [0u8; 4096];
    while !conns.is_empty() && start.elapsed() <= deadline {
        let mut i = 0;
        while i < conns.len() {
            let c = &mut conns[i];
            let mut failed = false;
            if c.in_flight.is_none() && next < raw.len() {
                c.in_flight = Some((next, 0));
                c.buf.clear();
                next += 1;
            }
            if let Some((r, written)) = c.in_flight {
                if written < raw[r].len() {
                    match c.stream.write(&raw[r][written..]) {
                        Ok(n) => c.in_flight = Some((r, written + n)),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                        Err(_) => failed = true,
                    }
                } else {
                    match c.stream.read(&mut chunk) {
                        Ok(0) => failed = true,
                        Ok(n) => {
                            c.buf.extend_from_slice(&chunk[..n]);
                            match complete_answer(&c.buf) {
                                Some(Some(status)) => {
                                    *round.statuses.entry(status).or_default() += 1;
                                    round.sent += 1;
                                    c.in_flight = None;
                                }
                                Some(None) => {}
                                None => failed = true,
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                        Err(_) => failed = true,
                    }
                }
            }
            if failed {
                round.errors += 1;
                round.sent += 1;
                conns.swap_remove(i);
            } else if c.in_flight.is_none() && next >= raw.len() {
                conns.swap_remove(i);
            } else {
                i += 1;
            }
        }
    }
    round.cut = !conns.is_empty();
    round.finish(start, cpu_before, server_pid)
}

/// The HTTP/1.1 text of a GET for the raw client.
fn raw_request(url: &str, query: &str, x_nonce: &str) -> Vec<u8> {
    let rest = url.trim_start_matches("http://");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    format!("GET {path}?{query} HTTP/1.1\r\nHost: {authority}\r\nX-Nonce: {x_nonce}\r\n\r\n")
        .into_bytes()
}

async fn run_round(
    http: &reqwest::Client,
    kind: Http,
    url: &str,
    requests: Vec<(String, String)>,
    concurrency: usize,
    deadline: Duration,
    server_pid: Option<u32>,
) -> Round {
    // The raw client's request texts are made before the clock starts, like the signatures.
    let raw: Vec<Vec<u8>> = match kind {
        Http::Raw | Http::Spin => requests
            .iter()
            .map(|(q, h)| raw_request(url, q, h))
            .collect(),
        Http::Reqwest => Vec::new(),
    };
    let authority = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    if kind == Http::Spin {
        return spin_round(&authority, &raw, concurrency, deadline, server_pid);
    }
    let (requests, raw) = (Arc::new(requests), Arc::new(raw));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let cut = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Before the clock starts: it may wait for the server to be idle.
    let cpu_before = server_cpu_seconds(server_pid);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, url, requests, raw, next, authority, cut) = (
            http.clone(),
            url.to_string(),
            requests.clone(),
            raw.clone(),
            next.clone(),
            authority.clone(),
            cut.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
            let mut errors = 0usize;
            let mut conn: Option<RawConnection> = None;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= requests.len() {
                    break;
                }
                if start.elapsed() > deadline {
                    cut.store(true, std::sync::atomic::Ordering::Relaxed);
                    break;
                }
                let status = match kind {
                    Http::Raw | Http::Spin => {
                        if conn.is_none() {
                            conn = RawConnection::connect(&authority).await.ok();
                        }
                        match &mut conn {
                            Some(c) => c.get(&raw[i]).await,
                            None => None,
                        }
                    }
                    Http::Reqwest => {
                        let (query, x_nonce) = &requests[i];
                        let target = format!("{url}?{query}");
                        match http.get(&target).header("X-Nonce", x_nonce).send().await {
                            // An answer whose body cannot be read whole (cut short, reset) is
                            // an error, as the raw clients count it, not its status.
                            Ok(res) => {
                                let code = res.status().as_u16();
                                res.bytes().await.ok().map(|_| code)
                            }
                            Err(_) => None,
                        }
                    }
                };
                match status {
                    Some(code) => *statuses.entry(code).or_default() += 1,
                    None => {
                        errors += 1;
                        conn = None;
                    }
                }
            }
            (statuses, errors)
        }));
    }
    let mut round = Round::default();
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
    round.cut = cut.load(std::sync::atomic::Ordering::Relaxed);
    round.finish(start, cpu_before, server_pid)
}

/// The median: the middle value, or the mean of the two middle values of an even count.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
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
        "loadgen: {} ({}), {} requests x {} rounds per route, concurrency {}, ≤ {} s per round, {} client",
        a.base_url,
        a.scheme,
        a.requests,
        a.rounds,
        a.concurrency,
        a.max_seconds,
        match a.http {
            Http::Raw => "raw HTTP/1.1",
            Http::Spin => "raw HTTP/1.1, busy-polling",
            Http::Reqwest => "reqwest",
        }
    );
    // Warm-up: connections, server caches.
    let warm = presign(&a, a.concurrency * 20, "warm").map_err(|e| e.to_string())?;
    run_round(
        &http,
        a.http,
        &health_url,
        warm.clone(),
        a.concurrency,
        deadline,
        None,
    )
    .await;
    run_round(
        &http,
        a.http,
        &verified_url,
        warm,
        a.concurrency,
        deadline,
        None,
    )
    .await;
    if a.fill > 0 {
        fill(&a, &http, &verified_url, deadline).await?;
    }

    let (mut verified, mut health, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut cpu_ratios = Vec::new();
    let mut cpu_costs = Vec::new();
    let (mut v_cpu, mut h_cpu): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    let mut ok = true;
    let mut cut_rounds = 0;
    for r in 0..a.rounds {
        // Alternate which route goes first, so drift in the machine's load cancels out.
        let mut order = [("unverified", &health_url), ("verified  ", &verified_url)];
        if r % 2 == 1 {
            order.reverse();
        }
        let (mut h_rps, mut v_rps) = (0.0, 0.0);
        // This round's server CPU per request of each route, when both were read.
        let (mut h_per, mut v_per) = (None, None);
        // A route whose round `--max-seconds` cut short: its requests still in flight were
        // abandoned (their server CPU counted, their answers not), so the round is left out.
        let mut cut = false;
        for (name, url) in order {
            if a.only.as_deref().is_some_and(|only| only != name.trim()) {
                continue;
            }
            // `r<round>u` / `r<round>v`: tags of one length, so that both routes get queries
            // (and give answers, which repeat `opt2`) of the same length.
            let tag = format!("r{r}{}", &name[..1]);
            let requests = presign(&a, a.requests, &tag).map_err(|e| e.to_string())?;
            let round = run_round(
                &http,
                a.http,
                url,
                requests,
                a.concurrency,
                deadline,
                a.server_pid,
            )
            .await;
            let cpu = round
                .server_cpu
                .map(|c| {
                    format!(
                        "  server CPU {:>6.2} µs/request",
                        c * 1e6 / round.sent as f64
                    )
                })
                .unwrap_or_default();
            let cut_here = round.cut;
            println!(
                "  round {} {name} {:>6} requests in {:>5.2} s = {:>6.0} req/s{cpu}  statuses {:?}  errors {}{}",
                r + 1,
                round.sent,
                round.elapsed.as_secs_f64(),
                round.rps(),
                round.statuses,
                round.errors,
                if cut_here {
                    "  CUT SHORT by --max-seconds: round left out of the medians"
                } else {
                    ""
                }
            );
            cut |= cut_here;
            if let Some(c) = round.server_cpu {
                let per = c / round.sent.max(1) as f64;
                if name.trim() == "verified" {
                    v_per = Some(per);
                } else {
                    h_per = Some(per);
                }
            }
            if !round.all_accepted() {
                ok = false;
            }
            if name.trim() == "verified" {
                v_rps = round.rps();
            } else {
                h_rps = round.rps();
            }
        }
        if cut {
            cut_rounds += 1;
            continue;
        }
        v_cpu.extend(v_per);
        h_cpu.extend(h_per);
        if a.only.is_some() {
            continue;
        }
        verified.push(v_rps);
        health.push(h_rps);
        ratios.push(v_rps / h_rps);
        if let (Some(v), Some(h)) = (v_per, h_per) {
            cpu_ratios.push(h / v);
            cpu_costs.push(v - h);
        }
    }
    if cut_rounds > 0 {
        println!(
            "NOTE: {cut_rounds} of {} rounds were cut short by --max-seconds ({} s) and left out",
            a.rounds, a.max_seconds
        );
    }
    if cut_rounds == a.rounds {
        println!("no round finished within --max-seconds: nothing to report");
        return Ok(false);
    }
    if let Some(only) = &a.only {
        let cpu = if only == "verified" { &v_cpu } else { &h_cpu };
        if !cpu.is_empty() {
            println!(
                "{only}: server CPU {:.2} µs/request (median of rounds)",
                median(cpu.clone()) * 1e6
            );
        }
        return Ok(ok);
    }
    let (v, h, ratio) = (median(verified), median(health), median(ratios));
    println!("unverified /_bench/unverified{PATH} : {h:>8.0} req/s (median of rounds)");
    println!("verified   {PATH}                    : {v:>8.0} req/s (median of rounds)");
    println!(
        "verified/unverified = {ratio:.3} (median of per-round ratios): verification + replay \
         check + route rules cost {:.1}% of throughput",
        (1.0 - ratio) * 100.0
    );
    if !cpu_ratios.is_empty() {
        let (vc, hc, cr) = (median(v_cpu), median(h_cpu), median(cpu_ratios));
        println!(
            "server CPU per request (medians): unverified {:.2} µs, verified {:.2} µs; \
             unverified/verified = {cr:.3} (median of per-round ratios): verification + replay \
             check + route rules cost {:.1}% of server capacity",
            hc * 1e6,
            vc * 1e6,
            (1.0 - cr) * 100.0
        );
        // The same difference in absolute terms, and what a 10 % share would allow, so runs
        // on machines of different speeds can be compared by what the layer itself costs.
        println!(
            "layer cost: {:.2} µs of server CPU per request (median of per-round differences); \
             10 % of an unverified request is {:.2} µs",
            median(cpu_costs) * 1e6,
            0.10 * hc * 1e6
        );
    }
    if !ok {
        println!("NOTE: some requests were not answered 200 (see statuses above)");
    }
    Ok(ok)
}

/// `--fill`: sends `a.fill` verified requests (pre-signed a round's worth at a time) so the
/// replay store holds that many keys before the measured rounds; each must be accepted.
async fn fill(
    a: &Args,
    http: &reqwest::Client,
    url: &str,
    deadline: Duration,
) -> Result<(), String> {
    let t0 = Instant::now();
    let (mut sent, mut chunk) = (0, 0);
    while sent < a.fill {
        let n = a.requests.min(a.fill - sent);
        let requests = presign(a, n, &format!("fill{chunk}")).map_err(|e| e.to_string())?;
        let round = run_round(http, a.http, url, requests, a.concurrency, deadline, None).await;
        if round.sent == 0 || !round.all_accepted() {
            return Err(format!(
                "--fill: not every request was accepted: {:?}, {} errors",
                round.statuses, round.errors
            ));
        }
        sent += round.sent;
        chunk += 1;
    }
    println!(
        "filled the replay store with {sent} keys in {:.1} s (signing included)",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `--emit FILE`: `requests` pre-signed requests, one `query<TAB>X-Nonce` line each, for
/// another load generator (`bench/wrk-presigned.lua`); each file's `opt2` values carry the
/// time they were made, so requests of two files never repeat each other.
fn emit(a: &Args, file: &str) -> Result<(), String> {
    use std::io::Write;
    let tag = format!(
        "e{}",
        xnonce::core::Environment::now_ms(&xnonce::core::SystemEnvironment)
    );
    let requests = presign(a, a.requests, &tag).map_err(|e| e.to_string())?;
    let out = std::fs::File::create(file).map_err(|e| format!("{file}: {e}"))?;
    let mut out = std::io::BufWriter::new(out);
    for (query, x_nonce) in requests {
        writeln!(out, "{query}\t{x_nonce}").map_err(|e| format!("{file}: {e}"))?;
    }
    out.flush().map_err(|e| format!("{file}: {e}"))
}

fn main() -> ExitCode {
    // `--server-cpu-ns PID`: the server's CPU time so far in ns, read as the rounds read it
    // (once the server is idle), for `bench/server-throughput.sh --wrk`.
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, pid] = argv.as_slice() {
        if flag == "--server-cpu-ns" {
            let cpu = pid.parse().ok().and_then(|p| server_cpu_seconds(Some(p)));
            return match cpu {
                Some(s) => {
                    println!("{:.0}", s * 1e9);
                    ExitCode::SUCCESS
                }
                None => {
                    eprintln!("loadgen: cannot read the CPU time of process {pid}");
                    ExitCode::FAILURE
                }
            };
        }
    }
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
    if let Some(file) = a.emit.clone() {
        return match emit(&a, &file) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("loadgen: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match rt.block_on(run(a)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}
