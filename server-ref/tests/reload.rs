//! `SIGHUP` reloads the config file of a running `xnonce-server serve --config F`:
//! * changed route rules apply from the next request on, on new connections and on a
//!   keep-alive connection opened before the reload;
//! * the replay store is kept: a request accepted before the reload is a replay after it;
//!   so are the rate limit's buckets: a client that spent its burst gets none back;
//! * a config that changes what only a restart applies (`listen`), or one that cannot be
//!   read, is refused with a log line saying why, and the running config stays;
//! * SIGTERM still stops the server with status 0;
//! * `xnonce-server check --config F` (the systemd unit's `ExecReload`, before the SIGHUP)
//!   exits 0 for a config `serve` takes and 1, saying why, for one it refuses.

use std::time::{Duration, Instant};

use xnonce_core::{sign, Scheme, SignInput};

mod common;

use common::{command, signed_get, spawn_serve, Connection, Dirs, Served};

/// The route rules before the reload: `page` required on `GET /shop/list`; client `batch`
/// limited to one request now and then (a token every 10,000 s).
const BEFORE: &str = r#"listen = "127.0.0.1:0"
[routes.shop]
list_get = { page = "req" }
[routes.admin]
status_get = {}
[rate_limit.clients.batch]
requests_per_second = 0.0001
burst = 1
"#;

/// After: `page` excluded; `batch`'s bucket twice as large.
const AFTER: &str = r#"listen = "127.0.0.1:0"
[routes.shop]
list_get = { page = "exc" }
[routes.admin]
status_get = {}
[rate_limit.clients.batch]
requests_per_second = 0.0001
burst = 2
"#;

/// Sends SIGHUP and waits (at most 20 s) for the `n`th log line holding `outcome`.
fn hang_up(s: &Served, outcome: &str, n: usize) -> String {
    s.send_signal("-HUP");
    let start = Instant::now();
    loop {
        let log = s.log();
        if log.matches(outcome).count() >= n {
            return log;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no {outcome:?} #{n} in the log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `serve --config server.toml` on `d`'s data dir and key, the file holding `text`: the
/// file's path (to rewrite before a reload) and the running server.
fn serve_config(d: &Dirs, text: &str) -> (std::path::PathBuf, Served) {
    let config = d.base.join("server.toml");
    std::fs::write(&config, text).unwrap();
    let mut cmd = command(&["serve", "--config"]);
    cmd.arg(&config)
        .arg("--data")
        .arg(&d.data)
        .arg("--key-file")
        .arg(&d.key);
    let s = spawn_serve(cmd, &d.fresh("server", "log")).unwrap_or_else(|e| panic!("{e:?}"));
    (config, s)
}

#[test]
fn sighup_reloads_the_config_keeps_the_replay_store_and_refuses_what_needs_a_restart() {
    let d = Dirs::new("reload");
    let secret = d.registry().add("svc").unwrap();
    let batch = d.registry().add("batch").unwrap();
    let (config, mut s) = serve_config(&d, BEFORE);
    let (authority, connect) = (s.base.authority.clone(), s.base.connect.clone());
    let get = |path: &str, params: &[(&str, &str)]| {
        signed_get(&authority, ("svc", &secret), path, params)
    };
    let batch_get = || signed_get(&authority, ("batch", &batch), "/admin/status", &[]);

    let mut early = Connection::open(&connect);
    assert_eq!(early.status(&get("/shop/list", &[])), 422, "page required");
    assert_eq!(early.status(&get("/shop/list", &[("page", "1")])), 200);
    let accepted_before = get("/admin/status", &[]);
    assert_eq!(early.status(&accepted_before), 200);
    assert_eq!(early.status(&batch_get()), 200);
    assert_eq!(early.status(&batch_get()), 429, "batch's one token spent");

    std::fs::write(&config, AFTER).unwrap();
    hang_up(&s, "SIGHUP: configuration reloaded", 1);
    // The connection opened before the reload, and a new one, both under the new rules.
    let mut late = Connection::open(&connect);
    for conn in [&mut early, &mut late] {
        assert_eq!(
            conn.status(&get("/shop/list", &[("page", "2")])),
            422,
            "page excluded"
        );
        assert_eq!(conn.status(&get("/shop/list", &[])), 200);
    }
    // The replay store is the same one.
    assert_eq!(late.status(&accepted_before), 409);
    // So are the rate limit's buckets: a larger burst is room to refill, not a fresh one.
    assert_eq!(late.status(&batch_get()), 429, "batch's bucket kept");

    // What only a restart applies: refused, named, the running config kept.
    std::fs::write(&config, AFTER.replace("127.0.0.1:0", "127.0.0.1:1")).unwrap();
    let log = hang_up(&s, "SIGHUP: configuration not reloaded", 1);
    // As server-ref/README.md quotes the line (a Display field: no quotes around it).
    assert!(
        log.contains("error=listen changed, which only a restart applies"),
        "{log}"
    );
    std::fs::write(&config, "listen = [").unwrap();
    let log = hang_up(&s, "SIGHUP: configuration not reloaded", 2);
    assert!(log.contains("server.toml"), "{log}");
    for conn in [&mut early, &mut late] {
        assert_eq!(
            conn.status(&get("/shop/list", &[("page", "3")])),
            422,
            "still excluded"
        );
    }
    assert!(!log.contains(secret.expose()), "a secret in the log");
    assert!(s.signal("-TERM").success());
}

/// `check` reads a config as `serve` and a reload do: OK, or exit 1 naming the file and what
/// is wrong (a TOML error, a value out of range).
#[test]
fn check_says_whether_serve_would_take_a_config() {
    let d = Dirs::new("check");
    let config = d.base.join("server.toml");
    let check = || {
        command(&["check", "--config"])
            .arg(&config)
            .arg("--data")
            .arg(&d.data)
            .arg("--key-file")
            .arg(&d.key)
            .output()
            .unwrap()
    };
    std::fs::write(&config, AFTER).unwrap();
    let out = check();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An environment variable set to nothing is unset, not a flag without its value.
    let mut empty_env = command(&["check", "--config"]);
    empty_env
        .arg(&config)
        .arg("--key-file")
        .arg(&d.key)
        .current_dir(&d.base);
    for var in ["XNONCE_DATA", "XNONCE_KEY_FILE", "XNONCE_LOG_FORMAT"] {
        empty_env.env(var, "");
    }
    let out = empty_env.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}: OK\n", config.display())
    );
    for (text, why) in [
        ("listen = [", "line 1, column 11"),
        (
            "[limits]\nmax_body_bytes = 0",
            "limits.max_body_bytes: must be at least 1",
        ),
        (
            "[routes.shop]\nlist_get = { page = \"maybe\" }",
            "routes.shop.list_get.page: a rule is",
        ),
    ] {
        std::fs::write(&config, text).unwrap();
        let out = check();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text}: {err}");
        assert!(
            out.stdout.is_empty() && err.contains("server.toml") && err.contains(why),
            "{text}: {err}"
        );
    }
    // Nothing was created: no data dir, no key.
    assert!(!d.data.exists() && !d.key.exists());
}

/// A reload that widens a window must not reopen requests the old window's keys no longer
/// cover (found by a security review). Accepted under a 300 ms window, a request's key was
/// kept 300 ms; reloaded to 60 s, the same request sent again 1 s later was fresh under the
/// new window, found no key, and was accepted a second time. Requests the old config may
/// have accepted now keep its window; later ones get the new one.
#[test]
fn a_reload_that_widens_a_window_does_not_accept_a_request_twice() {
    let narrow =
        "listen = \"127.0.0.1:0\"\n[limits]\nbody_timeout_ms = 200\n[windows]\n__default = 300\n";
    let wide = narrow.replace("__default = 300", "__default = 60000");
    let d = Dirs::new("reload-widen");
    let secret = d.registry().add("svc").unwrap();
    let (config, mut s) = serve_config(&d, narrow);
    let (authority, connect) = (s.base.authority.clone(), s.base.connect.clone());
    let at = |timestamp_ms: u64| {
        let input = SignInput::new(Scheme::V2, "GET", "/admin/status", "svc")
            .host(authority.as_str())
            .timestamp_ms(timestamp_ms);
        let x_nonce = sign(&input, &secret).unwrap().x_nonce;
        format!(
            "GET /admin/status HTTP/1.1\r\nHost: {authority}\r\nX-Nonce: {x_nonce}\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let mut conn = Connection::open(&connect);
    let now = xnonce_server::now_ms;
    let accepted = at(now());
    let signed_at = Instant::now();
    assert_eq!(conn.status(&accepted), 200);
    // Stamped 5 s ahead: too far for 300 ms, within 60 s.
    let ahead = at(now() + 5_000);
    assert_eq!(conn.status(&ahead), 401, "stale under the old window");

    std::fs::write(&config, wide).unwrap();
    hang_up(&s, "SIGHUP: configuration reloaded", 1);
    // Past the old window and the store's grace: the old key is gone.
    std::thread::sleep(Duration::from_millis(1_500).saturating_sub(signed_at.elapsed()));
    assert_eq!(
        conn.status(&accepted),
        401,
        "the request the old config accepted, again"
    );
    // A request the old config cannot have seen gets the new window.
    assert_eq!(conn.status(&ahead), 200, "within the new window");
    assert_eq!(conn.status(&ahead), 409);
    assert!(s.signal("-TERM").success());
}
