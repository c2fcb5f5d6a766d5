//! Start-up against the real `xnonce-server` binary: what it refuses, and how it says so.
//! * config values that would break every request (or panic) are refused at load, naming the
//!   key, exit status 1;
//! * a damaged replay journal, or a journal path that is a directory, is refused naming the
//!   journal (not the listen address);
//! * two servers with the memory store cannot share a data dir (the second exits non-zero);
//! * an existing data dir open to others is made private (0700);
//! * `client … --config FILE` uses the config's data dir and key file, like `serve --config`;
//! * with too few file descriptors for its connection limit it warns at start; out of them, it
//!   logs once, backs off instead of spinning, and serves again when connections close.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use xnonce_conformance::server_suite::http;
use xnonce_core::{sign, Scheme, Secret, SignInput};

mod common;

use common::{bin, command, server_env, spawn_serve, Dirs, Served};

/// Writes `text` as a config file in the base dir; its path.
fn write_config(d: &Dirs, text: &str) -> PathBuf {
    let path = d.fresh("config", "toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `command(ARGS)` run from the base dir.
fn command_in(d: &Dirs, args: &[&str]) -> Command {
    let mut c = command(args);
    c.current_dir(&d.base);
    c
}

/// `ARGS --data D --key-file K` run from the base dir.
fn command_with_data(d: &Dirs, args: &[&str]) -> Command {
    let mut c = command_in(d, args);
    c.arg("--data").arg(&d.data).arg("--key-file").arg(&d.key);
    c
}

/// `client ARGS --data D --key-file K`, which must succeed; stdout (the secret).
fn client(d: &Dirs, args: &[&str]) -> Secret {
    let out = command_with_data(d, &[&["client"], args].concat())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "client {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Secret::new(String::from_utf8(out.stdout).unwrap().trim()).unwrap()
}

/// `serve --demo --listen 127.0.0.1:0 EXTRA…`: `Ok` when it listens, else `Err((exit
/// status, stderr))` once it has exited.
fn serve(d: &Dirs, extra: &[&str]) -> Result<Served, (ExitStatus, String)> {
    let mut cmd = command_in(d, &["serve", "--demo", "--listen", "127.0.0.1:0"]);
    cmd.args(extra);
    spawn_serve(cmd, &d.fresh("server", "log")).map_err(|e| (e.status, e.stderr))
}

/// `serve` with the usual data dir and key file.
fn serve_data(d: &Dirs, extra: &[&str]) -> Result<Served, (ExitStatus, String)> {
    let (data, key) = (d.data.display().to_string(), d.key.display().to_string());
    let mut args = vec!["--data", &data, "--key-file", &key];
    args.extend_from_slice(extra);
    serve(d, &args)
}

/// The server must refuse to start: exit status 1 and its stderr, checked for no panic.
fn refused(d: &Dirs, extra: &[&str]) -> String {
    match serve_data(d, extra) {
        Ok(s) => panic!("{extra:?}: the server started: {}", s.log()),
        Err((status, err)) => {
            assert_eq!(status.code(), Some(1), "{extra:?}: {status:?}; {err}");
            assert!(!err.contains("panicked"), "{err}");
            err
        }
    }
}

/// A fresh signed GET /admin/status.
fn status(base: &http::BaseUrl, client: &str, secret: &Secret) -> http::Response {
    signed_get(base, "/admin/status", client, secret, 0)
}

/// A signed v2 GET of `path`, timestamped `age_ms` ago.
fn signed_get(
    base: &http::BaseUrl,
    path: &str,
    client: &str,
    secret: &Secret,
    age_ms: u64,
) -> http::Response {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let input = SignInput::new(Scheme::V2, "GET", path, client)
        .host(base.authority.clone())
        .timestamp_ms(now_ms - age_ms);
    let x_nonce = sign(&input, secret).unwrap().x_nonce;
    http::send(
        base,
        &http::Request::new("GET", path).header("X-Nonce", x_nonce),
    )
    .unwrap()
}

#[test]
fn config_values_that_would_break_every_request_are_refused_naming_the_key() {
    let d = Dirs::new("config");
    client(&d, &["add", "svc"]);
    for (text, key) in [
        // Accepted before: the second limited request panicked (Duration from 1e20 s).
        (
            "[rate_limit]\nrequests_per_second = 1e-20\n",
            "rate_limit.requests_per_second",
        ),
        (
            "[rate_limit.clients.svc]\nrequests_per_second = 0.00001\n",
            "rate_limit.clients.svc.requests_per_second",
        ),
        // Accepted before: every request then got 431 / 413.
        ("[limits]\nmax_header_bytes = 0\n", "limits.max_header_bytes"),
        ("[limits]\nmax_body_bytes = 0\n", "limits.max_body_bytes"),
        // Windows: 0, and more than a day (i64::MAX made every Redis request a 503).
        ("[windows]\n__default = 0\n", "windows.__default"),
        ("[windows]\n__default = 86400001\n", "windows.__default"),
        (
            "[windows.controller1]\naction1_get = 9223372036854775807\n",
            "windows.controller1.action1_get",
        ),
        ("[windows.admin]\n__default = 0\n", "windows.admin.__default"),
        // Silently 1 ms before.
        (
            "[replay]\nstore = \"redis\"\nredis_url = \"redis://127.0.0.1:1/0\"\ntimeout_ms = 0\n",
            "replay.timeout_ms",
        ),
        (
            "[replay]\nstore = \"redis\"\nredis_url = \"redis://127.0.0.1:1/0\"\ntimeout_ms = 9223372036854775807\n",
            "replay.timeout_ms",
        ),
        // Accepted before: no request can carry an empty key (PROTOCOL §3.6), so `req` made
        // the route answer every request 422 and `exc` never applied.
        (
            "[routes.c]\na_get = { \"\" = \"req\" }\n",
            "routes.c.a_get.\"\": a param name is never empty",
        ),
        (
            "[routes.c]\n__default_parameters = { u = \"req\", \"\" = \"exc\" }\na_get = {}\n",
            "routes.c.__default_parameters.\"\": a param name is never empty",
        ),
        // Accepted before: routes are matched against the path as sent, which never holds
        // these (a client escapes them: `/c/a%3Fb`), so every request got 404.
        ("[routes.c]\n\"a?b_get\" = {}\n", "routes.c.a?b_get: action \"a?b\" holds '?'"),
        ("[routes.c]\n\"a b_post\" = {}\n", "routes.c.a b_post: action \"a b\" holds ' '"),
        ("[routes.\"api#v1\"]\na_get = {}\n", "routes.api#v1: controller \"api#v1\" holds '#'"),
        ("[routes.c]\n\"a\\tb_get\" = {}\n", "action \"a\\tb\" holds '\\t'"),
        // "not a valid Redis URL" before: TLS is not supported, and the message says so.
        (
            "[replay]\nstore = \"redis\"\nredis_url = \"rediss://:pw@127.0.0.1:6379/0\"\n",
            "TLS (rediss://) is not supported",
        ),
    ] {
        let path = write_config(&d, text);
        let err = refused(&d, &["--config", path.to_str().unwrap()]);
        assert!(err.contains(key), "{text:?}: {err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(!err.contains("pw@"), "{err}");
    }
    // The bounds themselves are accepted.
    let path = write_config(
        &d,
        "[windows]\n__default = 86400000\n[windows.admin]\n__default = 1\n\
         [rate_limit]\nrequests_per_second = 0.0001\n[limits]\nmax_header_bytes = 1\n",
    );
    let s = serve_data(&d, &["--config", path.to_str().unwrap()]).unwrap();
    assert!(s.stop().success());
}

/// A config mistake on a line that holds the Redis password — the URL unquoted, a typo in
/// its key — is reported by line and column; the password never reaches stderr (the TOML
/// parser's own error quoted the line).
#[test]
fn config_errors_never_print_the_line_that_holds_the_password() {
    let d = Dirs::new("config-secret");
    for (text, at) in [
        (
            "[replay]\nstore = \"redis\"\nredis_url = redis://:hunter2@h/0\n",
            "line 3, column 13",
        ),
        (
            "[replay]\nstore = \"redis\"\nredis_ur = \"redis://:hunter2@h/0\"\n",
            "line 3, column 1: unknown field `redis_ur`",
        ),
    ] {
        let path = write_config(&d, text);
        let err = refused(&d, &["--config", path.to_str().unwrap()]);
        assert!(err.contains(at), "{text:?}: {err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}

/// A block of NUL bytes in the middle of the journal (a power loss on a filesystem that
/// wrote the file's size but not its data) no longer stops the server as damage: it starts,
/// remembers the requests journaled around the block, and says in its log what was lost.
#[test]
fn nul_bytes_left_by_a_power_loss_are_skipped_with_a_warning() {
    let d = Dirs::new("journal-nul");
    let secret = client(&d, &["add", "svc"]);
    let s = serve_data(&d, &[]).unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let requests: Vec<http::Request> = (0..3)
        .map(|i| {
            // v1: the second server listens on another port, which v2 would sign.
            let input =
                SignInput::new(Scheme::V1, "GET", "/admin/status", "svc").timestamp_ms(now_ms + i);
            let x_nonce = sign(&input, &secret).unwrap().x_nonce;
            http::Request::new("GET", "/admin/status").header("X-Nonce", x_nonce)
        })
        .collect();
    for req in &requests {
        assert_eq!(http::send(&s.base, req).unwrap().status, 200);
    }
    assert!(s.stop().success());
    let journal = d.data.join("replay.journal");
    let mut text = std::fs::read(&journal).unwrap();
    let starts: Vec<usize> = std::iter::once(0)
        .chain(
            text.iter()
                .enumerate()
                .filter(|(_, &b)| b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .collect();
    assert_eq!(starts.len(), 4, "three lines");
    // The second line lost but for its first bytes, the third whole after the NUL bytes.
    text[starts[1] + 5..starts[2]].fill(0);
    std::fs::write(&journal, &text).unwrap();

    let s = serve_data(&d, &[]).unwrap();
    let log = s.log();
    assert!(
        log.contains(&format!("the replay journal {}", journal.display()))
            && log.contains("NUL bytes on 1 line(s) from line 2"),
        "{log}"
    );
    // Remembered: the first and third; forgotten (as the warning says): the second.
    for (req, status) in requests.iter().zip([409, 200, 409]) {
        assert_eq!(http::send(&s.base, req).unwrap().status, status);
    }
    assert!(s.stop().success());
}

#[test]
fn a_damaged_or_unreadable_journal_is_refused_naming_the_journal() {
    let d = Dirs::new("journal");
    let secret = client(&d, &["add", "svc"]);
    let s = serve_data(&d, &[]).unwrap();
    assert_eq!(status(&s.base, "svc", &secret).status, 200);
    assert!(s.stop().success());
    let journal = d.data.join("replay.journal");
    let before = std::fs::read(&journal).unwrap();
    assert!(!before.is_empty(), "the accepted request was journaled");

    // Bytes this server never writes (before: "cannot start on 127.0.0.1:0: stream did not
    // contain valid UTF-8").
    let mut damaged = before.clone();
    damaged.extend_from_slice(b"\xff\xfe\n");
    std::fs::write(&journal, &damaged).unwrap();
    let err = refused(&d, &[]);
    assert!(
        err.contains(&journal.display().to_string()) && err.contains("damaged at line 2"),
        "{err}"
    );
    assert!(!err.contains("127.0.0.1:0"), "{err}");
    assert_eq!(std::fs::read(&journal).unwrap(), damaged, "left as it was");

    // A torn line (a crash mid-write) is still skipped, and the journaled request remembered.
    let mut torn = before.clone();
    torn.extend_from_slice(b"0123abc");
    std::fs::write(&journal, &torn).unwrap();
    let s = serve_data(&d, &[]).unwrap();
    assert_eq!(status(&s.base, "svc", &secret).status, 200);
    assert!(s.stop().success());

    // A directory where the journal goes (before: "cannot start on …: Is a directory").
    std::fs::remove_file(&journal).unwrap();
    std::fs::create_dir(&journal).unwrap();
    let err = refused(&d, &[]);
    assert!(
        err.contains(&format!("replay journal {}", journal.display()))
            && err.contains("Is a directory"),
        "{err}"
    );
    assert!(!err.contains("127.0.0.1:0"), "{err}");

    // A listen error still names the address.
    std::fs::remove_dir(&journal).unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = command_with_data(&d, &["serve", "--demo", "--listen", &addr])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
}

#[test]
fn two_memory_store_servers_cannot_share_a_data_dir() {
    let d = Dirs::new("lock");
    let secret = client(&d, &["add", "svc"]);
    let first = serve_data(&d, &[]).unwrap();
    let err = refused(&d, &[]);
    assert!(
        err.contains("in use by another xnonce-server")
            && err.contains(&d.data.display().to_string()),
        "{err}"
    );
    // The first one serves on, alone.
    assert_eq!(status(&first.base, "svc", &secret).status, 200);
    assert!(first.stop().success());
    // Once it has stopped (or crashed), the data dir is free again.
    let second = serve_data(&d, &[]).unwrap();
    drop(second); // kill -9: the kernel drops the lock
    let third = serve_data(&d, &[]).unwrap();
    assert!(third.stop().success());
    // Servers with persist = false keep no journal: no lock either.
    let path = write_config(&d, "[replay]\npersist = false\n");
    let a = serve_data(&d, &["--config", path.to_str().unwrap()]).unwrap();
    let b = serve_data(&d, &["--config", path.to_str().unwrap()]).unwrap();
    drop((a, b));
}

#[test]
fn an_existing_data_dir_open_to_others_is_made_private() {
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let d = Dirs::new("mode");
    std::fs::create_dir_all(&d.data).unwrap();
    std::fs::set_permissions(&d.data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = command_with_data(&d, &["client", "add", "svc"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(mode(&d.data), 0o700);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("0755") && err.contains("0700"), "{err}");

    std::fs::set_permissions(&d.data, std::fs::Permissions::from_mode(0o750)).unwrap();
    let s = serve_data(&d, &[]).unwrap();
    assert_eq!(mode(&d.data), 0o700);
    assert!(s.log().contains("0750"), "{}", s.log());
    assert!(s.stop().success());
}

#[test]
fn client_commands_take_the_servers_config() {
    let d = Dirs::new("client-config");
    let data = d.base.join("from-config");
    let config = write_config(
        &d,
        &format!(
            "data_dir = {:?}\nkey_file = {:?}\n",
            data.display().to_string(),
            d.key.display().to_string()
        ),
    );
    let config = config.to_str().unwrap();
    let out = command_in(&d, &["client", "add", "svc", "--config", config])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = Secret::new(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    assert!(data.join("clients.json").exists());
    assert!(!d.data.exists() && !d.base.join("xnonce-data").exists());
    let out = command_in(&d, &["client", "list", "--config", config])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "svc\n");
    // `serve --config` finds the same registry.
    let s = serve(&d, &["--config", config]).unwrap();
    assert_eq!(status(&s.base, "svc", &secret).status, 200);
    assert!(s.stop().success());
    // --data still wins over the config's data_dir.
    let out = command_in(&d, &["client", "list", "--config", config, "--data"])
        .arg(&d.data)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    // A bad config is an error of the command, naming the file.
    let bad = write_config(&d, "lisen = 1\n");
    let out = command_in(&d, &["client", "list", "--config", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&bad.display().to_string()));
}

/// `serve --demo` serves em-secure-api's routes with the demo's windows (5 s for
/// `admin/status`); `serve` without `--demo` or a config serves the echo app on every path
/// with the default 30 s window. Neither calls a fresh data dir's empty registry plaintext.
#[test]
fn serve_with_and_without_demo() {
    let d = Dirs::new("demo-or-not");
    let fresh = serve_data(&d, &[]).unwrap();
    assert!(!fresh.log().contains("plaintext"), "{}", fresh.log());
    assert!(fresh.stop().success());
    let out = command_with_data(&d, &["client", "list"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !err.contains("plaintext"), "{err}");

    let secret = client(&d, &["add", "svc"]);
    let demo = serve_data(&d, &[]).unwrap();
    assert_eq!(
        signed_get(&demo.base, "/admin/status", "svc", &secret, 0).status,
        200
    );
    let stale = signed_get(&demo.base, "/admin/status", "svc", &secret, 6_000);
    assert_eq!(stale.status, 401, "{}", stale.text());
    assert_eq!(
        signed_get(&demo.base, "/no/route", "svc", &secret, 0).status,
        404
    );
    assert!(demo.stop().success());

    let plain = command_with_data(&d, &["serve", "--listen", "127.0.0.1:0"]);
    let echo = spawn_serve(plain, &d.fresh("server", "log")).unwrap();
    assert_eq!(
        signed_get(&echo.base, "/admin/status", "svc", &secret, 6_000).status,
        200
    );
    assert_eq!(
        signed_get(&echo.base, "/no/route", "svc", &secret, 0).status,
        200
    );
    assert!(echo.stop().success());
}

/// `client rotate` says how to retire the old secret, and only when it rotated one.
#[test]
fn rotate_tells_how_to_retire_the_old_secret() {
    let d = Dirs::new("rotate");
    client(&d, &["add", "svc"]);
    let rotate = |name: &str| {
        command_with_data(&d, &["client", "rotate", name])
            .output()
            .unwrap()
    };
    let out = rotate("svc");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("client retire svc"), "{err}");
    let out = rotate("nobody");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("retire"), "{err}");
}

/// User + system CPU time of process `pid` so far (from `/proc/<pid>/stat`, in clock ticks of
/// 1/100 s on Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn out_of_file_descriptors_the_server_backs_off_and_recovers() {
    let d = Dirs::new("descriptors");
    let secret = client(&d, &["add", "fd_client"]);
    // A 48-descriptor limit (set by the shell, then `exec`) with the default 1024 connections.
    let mut cmd = Command::new("sh");
    server_env(&mut cmd)
        .current_dir(&d.base)
        .args(["-c", "ulimit -n 48 && exec \"$0\" \"$@\"", bin()])
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
        .arg(&d.data)
        .arg("--key-file")
        .arg(&d.key);
    let s = spawn_serve(cmd, &d.fresh("server", "log")).expect("the server starts");
    // The accept loop starts, and warns, right after the listening line.
    let warned = || {
        s.log()
            .contains("open-files limit is below max_connections")
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !warned() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(warned(), "no warning at start: {}", s.log());
    // More connections than descriptors: the kernel's backlog takes them all, `accept` fails
    // once the server's descriptors run out.
    let held: Vec<std::net::TcpStream> = (0..64)
        .map(|_| std::net::TcpStream::connect(&s.base.connect).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let before = cpu_ticks(s.child.id());
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(s.child.id()) - before;
    // A loop retrying `accept` at once would use the whole 2 s (200 ticks); backing off
    // 100 ms between tries uses next to nothing.
    assert!(
        used < 50,
        "{used} ticks of CPU in 2 s while out of descriptors"
    );
    let log = s.log();
    assert_eq!(
        log.matches("cannot accept connections").count(),
        1,
        "logged once per 10 s: {log}"
    );
    assert!(log.contains("Too many open files"), "{log}");
    drop(held);
    // Descriptors free again: the closed connections are accepted and dropped, then a new
    // request is served.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match http::send(&s.base, &http::Request::new("GET", "/_xnonce/health")) {
            Ok(r) if r.status == 200 => break,
            other => assert!(
                std::time::Instant::now() < deadline,
                "not served after the connections closed: {other:?}"
            ),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(status(&s.base, "fd_client", &secret).status, 200);
}

/// A listen address that is not `host:port` is refused before the data dir or the key file
/// is created.
#[test]
fn a_malformed_listen_address_creates_nothing() {
    let d = Dirs::new("listen");
    for addr in ["8080", "localhost", "127.0.0.1:http"] {
        let out = command_with_data(&d, &["serve", "--listen", addr])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{addr}: {err}");
        assert!(
            err.contains("--listen") && err.contains("host:port"),
            "{err}"
        );
        assert!(!d.data.exists() && !d.key.exists(), "{addr}: created files");
    }
}

/// With `[routes]`, a window whose controller or action no route has applies to no request
/// (a request without a route is answered 404 first): each is a warning at start naming its
/// key, most likely a misspelling. The demo's own windows all name routes.
#[test]
fn windows_that_name_no_route_are_warned_about() {
    let d = Dirs::new("unrouted-windows");
    let config = write_config(
        &d,
        "[routes.reports]\ndaily_get = {}\n\n\
         [windows.reports]\ndaily_get = 5000\nlive_get = 1000\n\n\
         [windows.reprots]\n__default = 60000\n",
    );
    let config = config.display().to_string();
    let cmd = command_with_data(
        &d,
        &["serve", "--listen", "127.0.0.1:0", "--config", &config],
    );
    let s = spawn_serve(cmd, &d.fresh("server", "log")).unwrap();
    let log = s.log();
    let warned = |key: &str| {
        log.lines()
            .any(|l| l.contains("names no route") && l.contains(key))
    };
    assert!(
        warned("windows.reprots") && warned("windows.reports.live"),
        "{log}"
    );
    assert!(!warned("windows.reports.daily"), "{log}");
    assert!(s.stop().success());

    let demo = serve_data(&d, &[]).unwrap();
    assert!(!demo.log().contains("names no route"), "{}", demo.log());
    assert!(demo.stop().success());
}
