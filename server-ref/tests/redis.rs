//! The Redis replay store against a real `redis-server` (started here on a free 127.0.0.1
//! port with a password, in a temporary dir; stopped on exit) and the real binary:
//!
//! 1. a wrong password, no password, or a DB index Redis does not have: `serve` refuses to
//!    start at once (exit 1) with Redis's own error — never the password, never a timeout;
//! 2. the right password: requests accepted once, then 409;
//! 3. the store itself, before its first connection: a refusal is reported as such, at once
//!    (it used to be `connection timed out` after twice `timeout_ms`, for every request);
//! 4. the key's expiry is relative (`PX`): an instance whose clock is an hour off still has
//!    its key kept for the rest of the window;
//! 5. a reconnect Redis refused (password changed, clients killed) does not stick once the
//!    password is back;
//! 6. a stopped Redis (SIGSTOP) fails 60 concurrent requests within a few timeouts, not one
//!    timeout per request queued ahead;
//! 7. a Redis Cluster node: refused by `check` and at start;
//! 8. a Redis whose `maxmemory-policy` may evict keys: `serve` warns at start (and a user
//!    without `CONFIG` or `INFO` is served without a warning);
//! 9. a Redis that cannot be reached at start: `serve` starts, warns, and answers 503
//!    `store_unavailable` without waiting twice the timeout;
//! 10. what the server stores for what it checks: each key kept for its request's own window
//!     from its timestamp (a v2 one dated ahead longer, a v1 one for the longest window),
//!     plus the clock margin;
//! 11. a Redis down at start that comes up evicting: warned about once the server connects;
//! 12. a read-only replica: `check` says so, and requests fail closed without a connection
//!     each;
//! 13. a Redis restarted empty: every request refused until what it forgot is stale (the
//!     store, and through `serve`);
//! 14. two stores (two instances) racing on the same keys: each accepted exactly once.
//!
//! A plain program (`harness = false`), like `tests/scale.rs`: one row per check, then
//! `N passed, M failed`; exit status 1 on any failure. Without `redis-server` on `PATH` it prints
//! SKIPPED (nothing counted as passed) and exits 0: `apt-get install redis-server`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use xnonce_conformance::server_suite::http;
use xnonce_core::{sign, ReplayKey, Scheme, Secret, SignInput};
use xnonce_server::redis_store::{CheckError, RedisStore, CLOCK_MARGIN_MS};
use xnonce_server::AsyncReplayStore;

mod common;

use common::refused_port::RefusedPort;
use common::{command, spawn_serve, Dirs, Exited, Served};

const PASSWORD: &str = "right-pass-4c1d";
const WRONG: &str = "NotThePassword-7f3a";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `redis-server` on a free port with [`PASSWORD`]; killed on drop.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start(dir: &Path) -> Option<Redis> {
        Redis::start_with(dir, &[])
    }

    /// With `extra` arguments after the usual ones (`{port}` in them: the port). A port found
    /// free may be taken before redis-server binds it: then another port, up to five times.
    fn start_with(dir: &Path, extra: &[&str]) -> Option<Redis> {
        for _ in 0..5 {
            if let Some(redis) = Redis::start_on(dir, free_port(), extra)? {
                return Some(redis);
            }
        }
        panic!("redis-server found its port taken five times");
    }

    /// On `port`: `None` when redis-server cannot be run, `Some(None)` when it does not serve
    /// that port (taken by another process).
    fn start_on(dir: &Path, port: u16, extra: &[&str]) -> Option<Option<Redis>> {
        let extra = extra.iter().map(|a| a.replace("{port}", &port.to_string()));
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--requirepass",
                PASSWORD,
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut redis = Redis { child, port };
        Some(redis.serves_its_port().then_some(redis))
    }

    /// Waits until this redis-server answers on its port: true once the server there says it
    /// is this child (`INFO server`'s `process_id`), false if the child exited (its port was
    /// taken) or another server answers there.
    fn serves_its_port(&mut self) -> bool {
        let start = Instant::now();
        let pid = format!("process_id:{}\r\n", self.child.id());
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            let info = redis::Client::open(self.url(Some(PASSWORD), 0))
                .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(1)))
                .and_then(|mut c| redis::cmd("INFO").arg("server").query::<String>(&mut c));
            if let Ok(info) = info {
                return info.contains(&pid);
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "redis-server did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn url(&self, password: Option<&str>, db: u32) -> String {
        match password {
            Some(pw) => format!("redis://:{pw}@127.0.0.1:{}/{db}", self.port),
            None => format!("redis://127.0.0.1:{}/{db}", self.port),
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Ctx {
    dir: PathBuf,
    data: PathBuf,
    key: PathBuf,
    secret: Secret,
    n: std::cell::Cell<u32>,
}

impl Ctx {
    /// `serve --demo` over Redis at `redis_url`: listening, or exited.
    fn serve(&self, redis_url: &str, timeout_ms: u64) -> Result<Served, Exited> {
        self.serve_config(&format!(
            "[replay]\nstore = \"redis\"\nredis_url = \"{redis_url}\"\ntimeout_ms = {timeout_ms}\n"
        ))
    }

    /// `serve --demo` with this configuration file's text.
    fn serve_config(&self, toml: &str) -> Result<Served, Exited> {
        let n = self.n.get();
        self.n.set(n + 1);
        let config = self.dir.join(format!("config-{n}.toml"));
        std::fs::write(&config, toml).unwrap();
        let mut cmd = command(&["serve", "--demo", "--listen", "127.0.0.1:0", "--config"]);
        cmd.arg(&config)
            .arg("--data")
            .arg(&self.data)
            .arg("--key-file")
            .arg(&self.key);
        spawn_serve(cmd, &self.dir.join(format!("server-{n}.log")))
    }

    fn request(&self, base: &http::BaseUrl) -> http::Request {
        let input =
            SignInput::new(Scheme::V2, "GET", "/admin/status", "svc").host(base.authority.clone());
        let x_nonce = sign(&input, &self.secret).unwrap().x_nonce;
        http::Request::new("GET", "/admin/status").header("X-Nonce", x_nonce)
    }
}

type Check = Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// `serve` must exit 1 within 5 s, its stderr holding `want` and neither password.
fn refused_at_start(ctx: &Ctx, url: &str, want: &str) -> Check {
    match &ctx.serve(url, 2000) {
        Ok(_) => Err("the server started".into()),
        Err(Exited {
            status,
            stderr: err,
            after: took,
        }) => {
            let code = status.code();
            ensure!(code == Some(1), "exit {code:?}: {err}");
            ensure!(*took < Duration::from_secs(5), "took {took:?}: {err}");
            ensure!(err.contains(want), "no {want:?} in: {err}");
            ensure!(
                !err.contains(WRONG) && !err.contains(PASSWORD),
                "a password in: {err}"
            );
            ensure!(!err.contains("timed out"), "{err}");
            Ok(())
        }
    }
}

fn wrong_password(ctx: &Ctx, redis: &Redis) -> Check {
    refused_at_start(
        ctx,
        &redis.url(Some(WRONG), 0),
        "redis refused the connection",
    )?;
    refused_at_start(ctx, &redis.url(Some(WRONG), 0), "uthentication")
}

fn no_password(ctx: &Ctx, redis: &Redis) -> Check {
    refused_at_start(ctx, &redis.url(None, 0), "NOAUTH")
}

fn bad_db_index(ctx: &Ctx, redis: &Redis) -> Check {
    refused_at_start(
        ctx,
        &redis.url(Some(PASSWORD), 99),
        "DB index is out of range",
    )
}

fn right_password_accepts_once(ctx: &Ctx, redis: &Redis) -> Check {
    let Ok(Served { base, log, .. }) = &ctx.serve(&redis.url(Some(PASSWORD), 0), 2000) else {
        return Err("did not start".into());
    };
    let req = ctx.request(base);
    let first = http::send(base, &req).map_err(|e| e.to_string())?;
    ensure!(first.status == 200, "{} {}", first.status, first.text());
    let again = http::send(base, &req).map_err(|e| e.to_string())?;
    ensure!(again.status == 409, "{} {}", again.status, again.text());
    let log = std::fs::read_to_string(log).unwrap_or_default();
    ensure!(!log.contains(PASSWORD), "the password in the log: {log}");
    ensure!(
        !log.contains("maxmemory-policy"),
        "a warning about Redis's default noeviction: {log}"
    );
    Ok(())
}

/// A runtime to drive the store from a plain test function.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn the_store_reports_a_refusal_at_once(redis: &Redis) -> Check {
    let rt = runtime();
    rt.block_on(async {
        let store =
            RedisStore::new(&redis.url(Some(WRONG), 0), "t:")?.timeout(Duration::from_secs(10));
        ensure!(
            matches!(store.check().await, Err(CheckError::Refused(_))),
            "check: {:?}",
            store.check().await
        );
        let t0 = Instant::now();
        let e = store
            .insert_if_absent(&"v2:svc:n".into(), u64::MAX / 2, 1)
            .await
            .err()
            .ok_or("accepted with a wrong password")?;
        let (took, msg) = (t0.elapsed(), e.0);
        // Well under the 10 s timeout: the refusal is not waited out (with slack for a
        // loaded machine).
        ensure!(took < Duration::from_secs(5), "took {took:?}: {msg}");
        ensure!(msg.contains("refused the connection"), "{msg}");
        ensure!(!msg.contains(WRONG), "{msg}");
        let refused = RefusedPort::new();
        let down = RedisStore::new(&format!("redis://127.0.0.1:{}/0", refused.port), "t:")?;
        ensure!(
            matches!(down.check().await, Err(CheckError::Unreachable(_))),
            "unreachable: {:?}",
            down.check().await
        );
        let good = RedisStore::new(&redis.url(Some(PASSWORD), 0), "t:")?;
        ensure!(good.check().await.is_ok(), "{:?}", good.check().await);
        Ok(())
    })
}

/// A plain connection to `redis` as its admin (for checks and `CONFIG SET`).
fn admin(redis: &Redis) -> Result<redis::Connection, String> {
    redis::Client::open(redis.url(Some(PASSWORD), 0))
        .and_then(|c| c.get_connection())
        .map_err(|e| format!("admin connection: {e}"))
}

/// An instance whose clock is an hour behind Redis's (`now` an hour before the real time):
/// the key is still kept for the rest of the window on Redis's clock (`PX`, not an absolute
/// `PXAT` that Redis would find already past and store nothing), so the copy is refused.
fn the_expiry_does_not_depend_on_the_instance_clock(redis: &Redis) -> Check {
    let rt = runtime();
    let mut admin = admin(redis)?;
    let real_now = xnonce_server::now_ms();
    for (name, now) in [
        ("behind", real_now - 3_600_000),
        ("ahead", real_now + 3_600_000),
    ] {
        let store = RedisStore::new(&redis.url(Some(PASSWORD), 0), "skew:")?;
        let replay_key = format!("v2:svc:clock-{name}");
        let key = ReplayKey::new(replay_key.clone());
        let (first, again) = rt.block_on(async {
            let first = store.insert_if_absent(&key, now + 30_000, now).await;
            let again = store.insert_if_absent(&key, now + 30_000, now + 500).await;
            (first, again)
        });
        ensure!(first == Ok(true), "{name}: first insert {first:?}");
        ensure!(
            again == Ok(false),
            "{name}: the copy was accepted: {again:?}"
        );
        let pttl: i64 = redis::cmd("PTTL")
            .arg(store.key(&replay_key))
            .query(&mut admin)
            .map_err(|e| e.to_string())?;
        let most = (30_000 + CLOCK_MARGIN_MS) as i64;
        ensure!(
            (20_000..=most).contains(&pttl),
            "{name}: PTTL {pttl} ms, want the rest of the window (≤ {most})"
        );
    }
    Ok(())
}

/// A reconnect that Redis refuses (its password changed, then changed back; the audit's
/// repro) must not stick: once the password is back, requests are accepted again without a
/// restart (they stayed 503 for good while the store kept one connection manager, which
/// retries only after I/O errors). Uses a Redis of its own, since it changes the password.
fn a_refused_reconnect_does_not_stick(dir: &Path) -> Check {
    const TEMP: &str = "tempPW-91b2";
    let redis = Redis::start(dir).ok_or("redis-server did not start")?;
    let mut admin = admin(&redis)?;
    let mut sh = |args: &[&str]| -> Check {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query::<redis::Value>(&mut admin)
            .map(drop)
            .map_err(|e| format!("{args:?}: {e}"))
    };
    let rt = runtime();
    let store = RedisStore::new(&redis.url(Some(PASSWORD), 0), "reauth:")?
        .timeout(Duration::from_millis(500));
    let insert = |n: u32| {
        let key = ReplayKey::new(format!("v2:svc:reauth-{n}"));
        let now = xnonce_server::now_ms();
        rt.block_on(store.insert_if_absent(&key, now + 30_000, now))
    };
    let first = insert(0);
    ensure!(first == Ok(true), "before: {first:?}");
    sh(&["CONFIG", "SET", "requirepass", TEMP])?;
    sh(&["CLIENT", "KILL", "TYPE", "normal"])?;
    // The killed connection fails; the reconnects are refused (WRONGPASS) for as long as the
    // password differs: 1.5 s of requests, all 503.
    let mut errors = Vec::new();
    for n in 1..=15 {
        match insert(n) {
            Ok(v) => return Err(format!("accepted ({v}) while the password is wrong")),
            Err(e) => errors.push(e.0),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    sh(&["CONFIG", "SET", "requirepass", PASSWORD])?;
    let t0 = Instant::now();
    let mut n = 100;
    loop {
        n += 1;
        match insert(n) {
            Ok(true) => break,
            other if t0.elapsed() > Duration::from_secs(5) => {
                return Err(format!(
                    "still {other:?} 5 s after the password was restored"
                ))
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    let again = insert(n);
    ensure!(again == Ok(false), "the copy after recovery: {again:?}");
    ensure!(
        errors.iter().any(|e| e.contains("refused the connection")),
        "no reconnect reported as refused: {errors:?}"
    );
    ensure!(
        !errors
            .iter()
            .any(|e| e.contains(PASSWORD) || e.contains(TEMP)),
        "a password in: {errors:?}"
    );
    Ok(())
}

/// Redis stopped (SIGSTOP: connections stay open, nothing answers) under 60 concurrent
/// requests, twice (the first round on the open connection, the second connecting anew):
/// every request gets its error within a few timeouts, not one timeout per request queued
/// ahead of it (20 s with `timeout_ms = 1000` before); once Redis runs again (SIGCONT),
/// requests are accepted again.
fn a_stopped_redis_does_not_queue_requests(dir: &Path) -> Check {
    let redis = Redis::start(dir).ok_or("redis-server did not start")?;
    let signal = |sig: &str| -> Check {
        let ok = Command::new("kill")
            .args([sig, &redis.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        ensure!(ok, "kill {sig} failed");
        Ok(())
    };
    let rt = runtime();
    let timeout = Duration::from_millis(500);
    // Slack for a loaded machine, yet a fifth of the 30 s that queueing (60 × 500 ms) would
    // take: even two at a time (15 s) fails.
    let bound = timeout * 3 + Duration::from_secs(4);
    let store = RedisStore::new(&redis.url(Some(PASSWORD), 0), "stop:")?.timeout(timeout);
    let now = xnonce_server::now_ms();
    let first = rt.block_on(store.insert_if_absent(&"v2:svc:stop-0".into(), now + 30_000, now));
    ensure!(first == Ok(true), "before: {first:?}");
    signal("-STOP")?;
    let outcome = (|| {
        for round in 0..2 {
            let keys: Vec<ReplayKey> = (0..60)
                .map(|i| format!("v2:svc:stop-{round}-{i}").into())
                .collect();
            let t0 = Instant::now();
            let answers = rt.block_on(futures_util::future::join_all(keys.iter().map(|k| {
                let store = &store;
                async move {
                    let r = store.insert_if_absent(k, now + 30_000, now).await;
                    (r, t0.elapsed())
                }
            })));
            for (r, took) in answers {
                ensure!(r.is_err(), "round {round}: accepted while Redis is stopped");
                ensure!(took < bound, "round {round}: took {took:?}: {r:?}");
            }
        }
        Ok(())
    })();
    signal("-CONT")?;
    outcome?;
    let t0 = Instant::now();
    let mut n = 0;
    loop {
        n += 1;
        let key = ReplayKey::new(format!("v2:svc:stop-after-{n}"));
        match rt.block_on(store.insert_if_absent(&key, now + 30_000, now)) {
            Ok(true) => return Ok(()),
            other if t0.elapsed() > Duration::from_secs(5) => {
                return Err(format!("still {other:?} 5 s after SIGCONT"))
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// A Redis Cluster node (the store does not follow MOVED): `check` says so, `serve` refuses to
/// start with that message, and the store refuses requests rather than send them there.
fn a_cluster_node_is_refused(ctx: &Ctx) -> Check {
    let redis = Redis::start_with(
        &ctx.dir,
        &[
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes-{port}.conf",
        ],
    )
    .ok_or("redis-server did not start")?;
    let url = redis.url(Some(PASSWORD), 0);
    let rt = runtime();
    let store = RedisStore::new(&url, "cluster:")?;
    let checked = rt.block_on(store.check());
    ensure!(
        matches!(&checked, Err(CheckError::Unsupported(e)) if e.contains("Redis Cluster is not supported")),
        "check: {checked:?}"
    );
    let now = xnonce_server::now_ms();
    let r = rt.block_on(store.insert_if_absent(&"v2:svc:cluster".into(), now + 30_000, now));
    ensure!(
        matches!(&r, Err(e) if e.0.contains("Redis Cluster")),
        "insert: {r:?}"
    );
    refused_at_start(
        ctx,
        &url,
        "redis not supported: this is a Redis Cluster node",
    )
}

/// A Redis that may evict keys (`allkeys-lru`): `maxmemory_policy` reads it and `serve` warns
/// at start. A user who may not run `CONFIG` or `INFO` (as on managed Redis) gets no answer
/// and no warning, and the store works for it all the same.
fn an_evicting_redis_is_warned_about(ctx: &Ctx) -> Check {
    const LIMITED: &str = "limited-pw-5e0c";
    let redis = Redis::start_with(&ctx.dir, &["--maxmemory-policy", "allkeys-lru"])
        .ok_or("redis-server did not start")?;
    let url = redis.url(Some(PASSWORD), 0);
    let rt = runtime();
    let policy = rt.block_on(RedisStore::new(&url, "evict:")?.maxmemory_policy());
    ensure!(
        policy.as_deref() == Some("allkeys-lru"),
        "policy: {policy:?}"
    );
    let Ok(Served { log, .. }) = &ctx.serve(&url, 2000) else {
        return Err("did not start".into());
    };
    let log = std::fs::read_to_string(log).unwrap_or_default();
    ensure!(
        log.contains("allkeys-lru") && log.contains("set maxmemory-policy noeviction"),
        "no warning: {log}"
    );
    ensure!(!log.contains(PASSWORD), "the password in the log: {log}");

    let password = format!(">{LIMITED}");
    let acl = [
        "SETUSER", "limited", "on", &password, "~*", "+@all", "-config", "-info",
    ];
    redis::cmd("ACL")
        .arg(&acl[..])
        .query::<()>(&mut admin(&redis)?)
        .map_err(|e| format!("ACL SETUSER: {e}"))?;
    let limited_url = format!("redis://limited:{LIMITED}@127.0.0.1:{}/0", redis.port);
    let limited = RedisStore::new(&limited_url, "evict:")?;
    let (checked, policy, inserted) = rt.block_on(async {
        let now = xnonce_server::now_ms();
        (
            limited.check().await,
            limited.maxmemory_policy().await,
            limited
                .insert_if_absent(&"v2:svc:limited".into(), now + 30_000, now)
                .await,
        )
    });
    ensure!(checked.is_ok(), "check without CONFIG/INFO: {checked:?}");
    ensure!(policy.is_none(), "policy without CONFIG: {policy:?}");
    ensure!(
        inserted == Ok(true),
        "insert without CONFIG/INFO: {inserted:?}"
    );
    Ok(())
}

/// What the real server stores for what it checks: with windows of 30 s, 5 s for
/// `admin/status` and 60 s for `controller1/action3`, a v2 request to `/admin/status` is kept
/// for the rest of its own 5 s window — from its timestamp, so one dated 4 s ahead (accepted:
/// within the window) is kept 4 s longer — and a v1 one for the longest window, 60 s (a v1
/// token verifies on other spellings, §11.4), each plus the clock margin, under
/// `<prefix>{<scheme>:<client>:<request id>}`; its copy is refused.
fn the_server_keeps_each_key_for_its_window(ctx: &Ctx, redis: &Redis) -> Check {
    let Ok(Served { base, .. }) = &ctx.serve_config(&format!(
        "[replay]\nstore = \"redis\"\nredis_url = \"{}\"\nkey_prefix = \"win:\"\n\
         [windows]\n__default = 30000\n[windows.admin]\nstatus_get = 5000\n\
         [windows.controller1]\naction3_get = 60000\n",
        redis.url(Some(PASSWORD), 0)
    )) else {
        return Err("did not start".into());
    };
    let mut admin = admin(redis)?;
    for (scheme, ahead, window) in [
        (Scheme::V2, 0u64, 5_000u64),
        (Scheme::V2, 4_000, 5_000),
        (Scheme::V1, 0, 60_000),
    ] {
        let mut input = SignInput::new(scheme, "GET", "/admin/status", "svc");
        if scheme == Scheme::V2 {
            input = input.host(base.authority.clone());
        }
        let env = xnonce_core::FixedEnvironment {
            now_ms: xnonce_server::now_ms() + ahead,
            nonce: rand_nonce(),
        };
        let signed = xnonce_core::sign_with(&input, &ctx.secret, &env).unwrap();
        let req =
            http::Request::new("GET", "/admin/status").header("X-Nonce", signed.x_nonce.as_str());
        let r = http::send(base, &req).map_err(|e| e.to_string())?;
        ensure!(r.status == 200, "{scheme:?}: {} {}", r.status, r.text());
        let id = xnonce_core::XNonce::parse(&signed.x_nonce).unwrap();
        let key = format!("win:{{{}:svc:{}}}", scheme.as_str(), id.request_id());
        let pttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query(&mut admin)
            .map_err(|e| e.to_string())?;
        let most = (ahead + window + CLOCK_MARGIN_MS) as i64;
        ensure!(
            (most - 2_000..=most).contains(&pttl),
            "{scheme:?} {ahead} ms ahead: {key} PTTL {pttl} ms, want about {most}"
        );
        let again = http::send(base, &req).map_err(|e| e.to_string())?;
        ensure!(again.status == 409, "{scheme:?} copy: {}", again.status);
    }
    Ok(())
}

fn rand_nonce() -> [u8; 16] {
    let mut n = [0u8; 16];
    n[..8].copy_from_slice(&common::unique().to_le_bytes());
    n[8..].copy_from_slice(&xnonce_server::now_ms().to_le_bytes());
    n
}

/// Sends newly signed requests to `base` until one is accepted (200), while the answers are
/// 503 and at most `within`; any other answer, or 503 for longer, fails (`when` says when).
fn accepted_within(ctx: &Ctx, base: &http::BaseUrl, within: Duration, when: &str) -> Check {
    let t0 = Instant::now();
    loop {
        let r = http::send(base, &ctx.request(base)).map_err(|e| e.to_string())?;
        match r.status {
            200 => return Ok(()),
            503 if t0.elapsed() < within => std::thread::sleep(Duration::from_millis(100)),
            s => return Err(format!("{s} {} {when}", r.text())),
        }
    }
}

/// A server started while Redis was down learns Redis's `maxmemory-policy` once it connects:
/// a Redis that comes up evicting (`allkeys-lru`) is warned about as at start (it was never
/// checked: the policy was read only when Redis answered at start, so such a server evicted
/// live keys, each a request whose copy is accepted, without a word).
fn an_evicting_redis_up_after_start_is_warned_about(ctx: &Ctx) -> Check {
    let port = free_port();
    let url = format!("redis://:{PASSWORD}@127.0.0.1:{port}/0");
    let Ok(Served { base, log, .. }) = &ctx.serve(&url, 1000) else {
        return Err("a server whose Redis is down must still start".into());
    };
    let r = http::send(base, &ctx.request(base)).map_err(|e| e.to_string())?;
    ensure!(r.status == 503, "Redis down: {} {}", r.status, r.text());
    let _redis = Redis::start_on(&ctx.dir, port, &["--maxmemory-policy", "allkeys-lru"])
        .ok_or("redis-server did not start")?
        .ok_or_else(|| format!("port {port} was taken before redis-server bound it"))?;
    accepted_within(ctx, base, Duration::from_secs(5), "once Redis is up")?;
    let log = std::fs::read_to_string(log).unwrap_or_default();
    ensure!(
        log.contains("allkeys-lru") && log.contains("set maxmemory-policy noeviction"),
        "no warning: {log}"
    );
    ensure!(!log.contains(PASSWORD), "the password in the log: {log}");
    Ok(())
}

/// Connections Redis has taken so far (`INFO stats`).
fn connections_received(admin: &mut redis::Connection) -> Result<u64, String> {
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query(admin)
        .map_err(|e| format!("INFO stats: {e}"))?;
    info.lines()
        .find_map(|l| l.strip_prefix("total_connections_received:"))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| format!("no total_connections_received in {info}"))
}

/// A read-only replica (`role:slave`: the URL names a replica, or a failover moved the
/// primary away from its address) takes no replay key: `check` says so (it answered Ok, and
/// the server started as if all was well), and requests fail closed without a connection
/// each — a replica answered `PING`, so every request connected anew, sent its `SET`, got
/// `READONLY` and dropped the connection: one connection per request instead of the one
/// attempt a second a Redis that is down gets.
fn a_replica_is_not_taken_for_a_primary(ctx: &Ctx) -> Check {
    let refused = RefusedPort::new();
    let primary = refused.port.to_string();
    let redis = Redis::start_with(&ctx.dir, &["--replicaof", "127.0.0.1", &primary])
        .ok_or("redis-server did not start")?;
    let mut admin = admin(&redis)?;
    let rt = runtime();
    let store = RedisStore::new(&redis.url(Some(PASSWORD), 0), "replica:")?
        .timeout(Duration::from_millis(500));
    let checked = rt.block_on(store.check());
    ensure!(
        matches!(&checked, Err(CheckError::Unreachable(e)) if e.contains("replica")),
        "check: {checked:?}"
    );
    let before = connections_received(&mut admin)?;
    let now = xnonce_server::now_ms();
    for n in 0..20 {
        let key = ReplayKey::new(format!("v2:svc:replica-{n}"));
        let r = rt.block_on(store.insert_if_absent(&key, now + 30_000, now));
        ensure!(
            matches!(&r, Err(e) if e.0.contains("replica")),
            "insert {n}: {r:?}"
        );
    }
    let made = connections_received(&mut admin)? - before;
    // 20 requests within well under the 500 ms before another attempt: at most a couple of
    // connections (slack for a slow machine), not 20.
    ensure!(made <= 3, "{made} connections for 20 requests");
    Ok(())
}

/// A Redis restarted empty (no persistence; the same with `FLUSHALL`, or a failover to a
/// replica that had not caught up) has forgotten the keys of requests still within their
/// window. The store notices (its epoch marker is gone) and refuses every request until all
/// it may have forgotten is stale — it reconnected and accepted the copy of a request
/// recorded just before the restart. Then it accepts again. The fence is the widest it was
/// given: a config reload that widens a window widens it (a fence of 1 s set at start, 3 s
/// after such a reload, then 1 s again: 3 s), as keys are then kept longer.
fn a_redis_restarted_empty_is_fenced(dir: &Path) -> Check {
    let mut redis = Redis::start(dir).ok_or("redis-server did not start")?;
    let port = redis.port;
    let rt = runtime();
    let fence = Duration::from_secs(3);
    let store = RedisStore::new(&redis.url(Some(PASSWORD), 0), "fence:")?
        .timeout(Duration::from_millis(500))
        .fence_after_loss(Duration::from_secs(1));
    store.widen_fence(fence);
    store.widen_fence(Duration::from_secs(1));
    ensure!(store.fence() == Some(fence), "fence: {:?}", store.fence());
    let now = xnonce_server::now_ms();
    let first: ReplayKey = "v2:svc:fence-first".into();
    let r = rt.block_on(store.insert_if_absent(&first, now + 30_000, now));
    ensure!(r == Ok(true), "before: {r:?}");
    drop(redis);
    redis = Redis::start_on(dir, port, &[])
        .ok_or("redis-server did not start")?
        .ok_or_else(|| format!("port {port} was taken before redis-server restarted on it"))?;
    let restarted = Instant::now();
    // The copy, sent over and over while the fence lasts: never accepted.
    let mut lost = false;
    while restarted.elapsed() < fence - Duration::from_millis(500) {
        match rt.block_on(store.insert_if_absent(&first, now + 30_000, now)) {
            Ok(v) => return Err(format!("the copy got {v} after Redis restarted empty")),
            Err(e) => lost |= e.0.contains("lost"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    ensure!(lost, "no refusal said Redis lost its keys");
    let t0 = Instant::now();
    let mut n = 0;
    loop {
        n += 1;
        let now = xnonce_server::now_ms();
        let key = ReplayKey::new(format!("v2:svc:fence-after-{n}"));
        match rt.block_on(store.insert_if_absent(&key, now + 30_000, now)) {
            Ok(true) => break,
            other if t0.elapsed() > Duration::from_secs(5) => {
                return Err(format!("still {other:?} after the fence"))
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    drop(redis);
    Ok(())
}

/// The same through `serve` (windows of 2 s: a fence of 5 s): a request accepted just before
/// Redis restarts empty is refused (503) when resent while still fresh, and requests are
/// accepted again once the fence is over.
fn serve_fences_a_redis_restarted_empty(ctx: &Ctx) -> Check {
    let mut redis = Redis::start(&ctx.dir).ok_or("redis-server did not start")?;
    let port = redis.port;
    let Ok(Served { base, log, .. }) = &ctx.serve_config(&format!(
        "[replay]\nstore = \"redis\"\nredis_url = \"{}\"\ntimeout_ms = 500\n\
         [windows]\n__default = 2000\n",
        redis.url(Some(PASSWORD), 0)
    )) else {
        return Err("did not start".into());
    };
    let req = ctx.request(base);
    let signed = Instant::now();
    let r = http::send(base, &req).map_err(|e| e.to_string())?;
    ensure!(r.status == 200, "first: {} {}", r.status, r.text());
    drop(redis);
    redis = Redis::start_on(&ctx.dir, port, &[])
        .ok_or("redis-server did not start")?
        .ok_or_else(|| format!("port {port} was taken before redis-server restarted on it"))?;
    // Resent while fresh (2 s window, 1.5 s to be safe on a slow machine).
    while signed.elapsed() < Duration::from_millis(1_500) {
        let r = http::send(base, &req).map_err(|e| e.to_string())?;
        ensure!(r.status == 503, "the copy: {} {}", r.status, r.text());
        std::thread::sleep(Duration::from_millis(50));
    }
    accepted_within(ctx, base, Duration::from_secs(10), "after the fence")?;
    let log = std::fs::read_to_string(log).unwrap_or_default();
    ensure!(
        log.contains("redis lost its replay keys"),
        "not logged: {log}"
    );
    drop(redis);
    Ok(())
}

/// Two instances (two stores, each its own connection) racing on the same keys: for each of
/// 200 keys sent 10 times by each store at once, exactly one `Ok(true)` in all (`SET NX` is
/// atomic in Redis, whichever connection it comes from), every other answer `Ok(false)`.
fn two_stores_racing_accept_each_key_once(redis: &Redis) -> Check {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let url = redis.url(Some(PASSWORD), 0);
    let a = RedisStore::new(&url, "race:")?;
    let b = RedisStore::new(&url, "race:")?;
    let now = xnonce_server::now_ms();
    let keys: Vec<ReplayKey> = (0..200)
        .map(|i| format!("v2:svc:race-{i}").into())
        .collect();
    let answers = rt.block_on(futures_util::future::join_all(
        keys.iter()
            .enumerate()
            .flat_map(|(i, k)| (0..20).map(move |copy| (i, k, copy)))
            .map(|(i, k, copy)| {
                let store = if copy % 2 == 0 { &a } else { &b };
                async move { (i, store.insert_if_absent(k, now + 30_000, now).await) }
            }),
    ));
    let mut accepted = vec![0; keys.len()];
    for (i, r) in answers {
        match r {
            Ok(true) => accepted[i] += 1,
            Ok(false) => {}
            Err(e) => return Err(format!("key {i}: {e}")),
        }
    }
    let wrong: Vec<_> = accepted
        .iter()
        .enumerate()
        .filter(|(_, &n)| n != 1)
        .collect();
    ensure!(
        wrong.is_empty(),
        "keys not accepted exactly once (key, times): {wrong:?}"
    );
    Ok(())
}

fn unreachable_at_start_serves_503(ctx: &Ctx) -> Check {
    let refused = RefusedPort::new();
    let url = format!("redis://127.0.0.1:{}/0", refused.port);
    let Ok(Served { base, log, .. }) = &ctx.serve(&url, 10_000) else {
        return Err("a server whose Redis is down must still start".into());
    };
    let t0 = Instant::now();
    let r = http::send(base, &ctx.request(base)).map_err(|e| e.to_string())?;
    let took = t0.elapsed();
    ensure!(r.status == 503, "{} {}", r.status, r.text());
    ensure!(r.text().contains("store_unavailable"), "{}", r.text());
    // A refused connection answers at once, not after the 10 s timeout.
    ensure!(took < Duration::from_secs(5), "took {took:?}");
    let log = std::fs::read_to_string(log).unwrap_or_default();
    ensure!(log.contains("unreachable"), "no warning: {log}");
    let refusal = log
        .lines()
        .find(|l| l.contains("refused with 503"))
        .ok_or_else(|| format!("the 503 is not logged: {log}"))?;
    ensure!(
        refusal.matches("replay store unavailable").count() == 1,
        "said twice: {refusal}"
    );
    Ok(())
}

fn main() {
    let found = Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        println!(
            "SKIPPED (not counted as passed): tests/redis.rs needs redis-server on PATH \
             (apt-get install redis-server)"
        );
        return;
    }
    let dirs = Dirs::new("redis-test");
    let redis = Redis::start(&dirs.base).expect("redis-server");
    let (data, key) = (dirs.data.clone(), dirs.key.clone());
    let out = Command::new(env!("CARGO_BIN_EXE_xnonce-server"))
        .args(["client", "add", "svc", "--data"])
        .arg(&data)
        .arg("--key-file")
        .arg(&key)
        .env_remove("XNONCE_DATA")
        .env_remove("XNONCE_KEY_FILE")
        .output()
        .unwrap();
    assert!(out.status.success());
    let ctx = Ctx {
        secret: Secret::new(String::from_utf8(out.stdout).unwrap().trim()).unwrap(),
        dir: dirs.base.clone(),
        data,
        key,
        n: std::cell::Cell::new(0),
    };
    let checks: Vec<(&str, Check)> = vec![
        (
            "wrong password: refused at start, Redis's error",
            wrong_password(&ctx, &redis),
        ),
        (
            "no password: refused at start (NOAUTH)",
            no_password(&ctx, &redis),
        ),
        ("DB index 99: refused at start", bad_db_index(&ctx, &redis)),
        (
            "right password: accepted once, then 409",
            right_password_accepts_once(&ctx, &redis),
        ),
        (
            "store: a refusal reported at once, as such",
            the_store_reports_a_refusal_at_once(&redis),
        ),
        (
            "store: two stores racing accept each key once",
            two_stores_racing_accept_each_key_once(&redis),
        ),
        (
            "store: the key's expiry is relative to Redis's clock",
            the_expiry_does_not_depend_on_the_instance_clock(&redis),
        ),
        (
            "store: recovers once a refused reconnect would succeed",
            a_refused_reconnect_does_not_stick(&dirs.base),
        ),
        (
            "store: a stopped Redis fails requests without queueing",
            a_stopped_redis_does_not_queue_requests(&dirs.base),
        ),
        (
            "a Redis Cluster node: refused at start, as such",
            a_cluster_node_is_refused(&ctx),
        ),
        (
            "an evicting Redis: warned about at start",
            an_evicting_redis_is_warned_about(&ctx),
        ),
        (
            "server: each key kept for its request's window",
            the_server_keeps_each_key_for_its_window(&ctx, &redis),
        ),
        (
            "an evicting Redis up after start: warned about",
            an_evicting_redis_up_after_start_is_warned_about(&ctx),
        ),
        (
            "a read-only replica: not taken for a primary",
            a_replica_is_not_taken_for_a_primary(&ctx),
        ),
        (
            "store: a Redis restarted empty is fenced",
            a_redis_restarted_empty_is_fenced(&dirs.base),
        ),
        (
            "serve: a Redis restarted empty is fenced",
            serve_fences_a_redis_restarted_empty(&ctx),
        ),
        (
            "Redis unreachable at start: starts, warns, 503 at once",
            unreachable_at_start_serves_503(&ctx),
        ),
    ];
    let mut failed = 0;
    for (name, result) in &checks {
        match result {
            Ok(()) => println!("{name:<58} PASS"),
            Err(e) => {
                failed += 1;
                println!("{name:<58} FAIL: {e}");
            }
        }
    }
    println!("{} passed, {failed} failed", checks.len() - failed);
    drop(redis);
    drop(dirs);
    if failed > 0 {
        std::process::exit(1);
    }
}
