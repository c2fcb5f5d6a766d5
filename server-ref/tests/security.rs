//! Secrets at rest, rotation and rate limiting, over real HTTP on loopback:
//! * the `xnonce-server` binary with its own key file: start-up refusals (unsafe, misplaced or
//!   wrong key, tampered registry), plaintext registries encrypted by `serve` at start and
//!   still served, and `client rotate` / `retire` / `delete` run from another process taking
//!   effect on the running server before the command returns;
//! * rotation end to end in-process (add → rotate → both live → retire → old refused);
//! * per-client rate limiting (burst, 429 + `Retry-After`, refill, other clients unaffected,
//!   forged and replayed requests not counted, off by default);
//! * a host list: v2 requests signed for another service's host refused.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use xnonce_conformance::server_suite::http;
use xnonce_core::{sign, Scheme, Secret, SignInput};
use xnonce_server::{Config, Registry};

mod common;

use common::{command, spawn_serve, Dirs, InProcess, Served};

/// Runs `xnonce-server client ARGS --data D --key-file K`.
fn cli(d: &Dirs, args: &[&str]) -> Output {
    command(&["client"])
        .args(args)
        .arg("--data")
        .arg(&d.data)
        .arg("--key-file")
        .arg(&d.key)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn cli_secret(d: &Dirs, args: &[&str]) -> Secret {
    let out = cli(d, args);
    assert!(
        out.status.success(),
        "client {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Secret::new(String::from_utf8(out.stdout).unwrap().trim()).unwrap()
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Starts the binary with the usual key file.
fn serve(d: &Dirs) -> Result<Served, String> {
    serve_with_key(d, &d.key)
}

/// Starts the binary; `Err(stderr)` when it exits instead of listening.
fn serve_with_key(d: &Dirs, key: &Path) -> Result<Served, String> {
    let mut cmd = command(&["serve", "--demo", "--listen", "127.0.0.1:0", "--data"]);
    cmd.arg(&d.data).arg("--key-file").arg(key);
    spawn_serve(cmd, &d.fresh("server", "log")).map_err(|e| {
        assert!(
            !e.status.success(),
            "no listening line but exit 0: {}",
            e.stderr
        );
        e.stderr
    })
}

/// A freshly signed GET /admin/status (a demo route without params).
fn status_request(
    scheme: Scheme,
    base: &http::BaseUrl,
    client: &str,
    secret: &Secret,
) -> http::Request {
    let mut input = SignInput::new(scheme, "GET", "/admin/status", client);
    if scheme == Scheme::V2 {
        input.host = Some(base.authority.clone());
    }
    let signed = sign(&input, secret).unwrap();
    http::Request::new("GET", "/admin/status").header("X-Nonce", signed.x_nonce)
}

fn get(scheme: Scheme, base: &http::BaseUrl, client: &str, secret: &Secret) -> http::Response {
    http::send(base, &status_request(scheme, base, client, secret)).unwrap()
}

/// The problem document's `code` of a v2 answer.
fn code(r: &http::Response) -> String {
    serde_json::from_slice::<serde_json::Value>(&r.body)
        .ok()
        .and_then(|v| v["code"].as_str().map(str::to_string))
        .unwrap_or_default()
}

#[test]
fn rotate_and_retire_from_another_process_reach_the_running_server() {
    let d = Dirs::new("rotate");
    let old = cli_secret(&d, &["add", "svc"]);
    let key_mode = std::fs::metadata(&d.key).unwrap().permissions().mode() & 0o777;
    assert_eq!(key_mode, 0o600);
    let s = serve(&d).unwrap();
    for scheme in [Scheme::V1, Scheme::V2] {
        let r = get(scheme, &s.base, "svc", &old);
        assert_eq!(r.status, 200, "{}", r.text());
    }

    // Rotate in another process: the new secret works from its first request (it matches no
    // secret in memory, so the server looks at the file at once), the old one keeps working.
    let new = cli_secret(&d, &["rotate", "svc"]);
    assert_ne!(old, new);
    for secret in [&new, &old] {
        for scheme in [Scheme::V1, Scheme::V2] {
            let r = get(scheme, &s.base, "svc", secret);
            assert_eq!(r.status, 200, "{}", r.text());
        }
    }

    // Retire: prints what went, never a secret; the old secret is refused, the new accepted.
    let out = cli(&d, &["retire", "svc"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(
        printed.contains("retired 1 secret of svc: slot 1"),
        "{printed}"
    );
    assert!(printed.contains("live: slot 2"), "{printed}");
    assert!(!printed.contains(old.expose()) && !printed.contains(new.expose()));
    // The command returned after the server re-read the registry: refused at once (the
    // periodic check would take up to a second).
    let r = get(Scheme::V2, &s.base, "svc", &old);
    assert_eq!((r.status, code(&r).as_str()), (401, "signature_mismatch"));
    let r = get(Scheme::V1, &s.base, "svc", &old);
    assert_eq!(
        (r.status, r.text().as_str()),
        (401, "ottoken does not match")
    );
    for scheme in [Scheme::V1, Scheme::V2] {
        let r = get(scheme, &s.base, "svc", &new);
        assert_eq!(r.status, 200, "{}", r.text());
    }

    // A second retire has nothing to do.
    let out = cli(&d, &["retire", "svc"]);
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("single secret"),
        "{}",
        stderr_of(&out)
    );

    // A client added in another process is accepted from its first request, in both
    // schemes; so is the secret that `replace` gives it (the old one then stops at once).
    let first = cli_secret(&d, &["add", "other"]);
    for scheme in [Scheme::V1, Scheme::V2] {
        let r = get(scheme, &s.base, "other", &first);
        assert_eq!(r.status, 200, "{scheme}: {}", r.text());
    }
    let other = cli_secret(&d, &["replace", "other"]);
    for scheme in [Scheme::V2, Scheme::V1] {
        let r = get(scheme, &s.base, "other", &other);
        assert_eq!(r.status, 200, "{scheme}: {}", r.text());
    }
    let r = get(Scheme::V2, &s.base, "other", &first);
    assert_eq!((r.status, code(&r).as_str()), (401, "signature_mismatch"));
    let out = cli(&d, &["delete", "svc", "--confirm"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let r = get(Scheme::V2, &s.base, "svc", &new);
    assert_eq!((r.status, code(&r).as_str()), (401, "unknown_client"));

    // No secret in clear on disk or in the logs.
    let file = std::fs::read_to_string(d.data.join("clients.json")).unwrap();
    let log = s.log();
    for secret in [&old, &new, &first, &other] {
        assert!(!file.contains(secret.expose()), "secret in clients.json");
        assert!(!log.contains(secret.expose()), "secret in the log");
    }
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn rotation_end_to_end_in_process() {
    let d = Dirs::new("inproc");
    let registry = Registry::open_with_key_file(&d.data, Some(d.key.clone()));
    let old = registry.add("svc").unwrap();
    let s = InProcess::start(
        Config {
            routes: Some(xnonce_core::RouteTable::demo()),
            key_file: Some(d.key.clone()),
            ..Config::default()
        },
        d.data.clone(),
    );
    assert_eq!(get(Scheme::V2, &s.base, "svc", &old).status, 200);
    let new = registry.rotate("svc").unwrap();
    for secret in [&old, &new] {
        assert_eq!(get(Scheme::V2, &s.base, "svc", secret).status, 200);
        assert_eq!(get(Scheme::V1, &s.base, "svc", secret).status, 200);
    }
    let retired = registry.retire("svc").unwrap();
    assert_eq!(retired.retired.len(), 1);
    // Same process: seen on the next lookup, no waiting.
    let r = get(Scheme::V2, &s.base, "svc", &old);
    assert_eq!((r.status, code(&r).as_str()), (401, "signature_mismatch"));
    assert_eq!(get(Scheme::V2, &s.base, "svc", &new).status, 200);
    assert!(matches!(
        registry.retire("svc"),
        Err(xnonce_server::registry::RegistryError::Refused(_))
    ));
}

#[test]
fn unsafe_misplaced_or_wrong_keys_and_tampered_registries_are_refused() {
    let d = Dirs::new("refuse");
    cli_secret(&d, &["add", "svc"]);
    let key = d.key.display().to_string();

    // Group/other-readable key: the server and every client command refuse, naming the fix.
    std::fs::set_permissions(&d.key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = serve(&d).err().expect("served with a 0644 key");
    assert!(err.contains(&format!("chmod 600 {key}")), "{err}");
    for args in [
        &["list"][..],
        &["add", "b"],
        &["rotate", "svc"],
        &["retire", "svc"],
        &["replace", "svc"],
        &["delete", "svc", "--confirm"],
    ] {
        let out = cli(&d, args);
        assert!(!out.status.success(), "{args:?} ran with a 0644 key");
        assert!(stderr_of(&out).contains("chmod 600"), "{}", stderr_of(&out));
    }
    std::fs::set_permissions(&d.key, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(cli(&d, &["list"]).stdout, b"svc\n");

    // A key inside the data dir.
    let inside = d.data.join("registry.key");
    std::fs::copy(&d.key, &inside).unwrap();
    let err = serve_with_key(&d, &inside)
        .err()
        .expect("served with a key inside the data dir");
    assert!(err.contains("inside the data dir"), "{err}");
    std::fs::remove_file(&inside).unwrap();

    // Another key: refused as such (not as tampering).
    let other = d.base.join("keys").join("other.key");
    std::fs::write(&other, format!("{}\n", "ab".repeat(32))).unwrap();
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o600)).unwrap();
    let err = serve_with_key(&d, &other)
        .err()
        .expect("served with the wrong key");
    assert!(err.contains("another key"), "{err}");

    // A tampered sealed secret.
    let path = d.data.join("clients.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let sealed = doc["clients"]["svc"][0]["sealed"]
        .as_str()
        .unwrap()
        .to_string();
    let flipped = format!(
        "{}{}",
        if sealed.starts_with('0') { "1" } else { "0" },
        &sealed[1..]
    );
    doc["clients"]["svc"][0]["sealed"] = flipped.into();
    std::fs::write(&path, doc.to_string()).unwrap();
    let err = serve(&d).err().expect("served a tampered registry");
    assert!(err.contains("does not authenticate"), "{err}");
    let out = cli(&d, &["list"]);
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains("does not authenticate"));
    for e in [err, stderr_of(&out)] {
        assert!(!e.contains("panicked"), "{e}");
    }
}

#[test]
fn a_plaintext_registry_is_encrypted_by_serve_and_still_served() {
    let d = Dirs::new("migrate");
    std::fs::create_dir_all(&d.data).unwrap();
    let legacy = Secret::generate().unwrap();
    let plain = format!(
        "{{\"version\": 1, \"clients\": {{\"legacy\": [\"{}\"]}}}}",
        legacy.expose()
    );
    std::fs::write(d.data.join("clients.json"), &plain).unwrap();
    std::fs::set_permissions(
        d.data.join("clients.json"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    // `client list` reads it as it is, with a note; it writes nothing, not even a key.
    let out = cli(&d, &["list"]);
    assert_eq!(out.stdout, b"legacy\n");
    assert!(stderr_of(&out).contains("plaintext"), "{}", stderr_of(&out));
    assert!(!d.key.exists());
    assert_eq!(
        std::fs::read_to_string(d.data.join("clients.json")).unwrap(),
        plain
    );

    let s = serve(&d).unwrap();
    // `serve` created the key (0600, directory 0700), encrypted the registry under it, and
    // serves its client.
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&d.key), 0o600);
    assert_eq!(mode(d.key.parent().unwrap()), 0o700);
    assert!(
        s.log()
            .contains("encrypted the plaintext registry (version 1)"),
        "{}",
        s.log()
    );
    let file = std::fs::read_to_string(d.data.join("clients.json")).unwrap();
    assert!(file.contains("\"version\": 2"), "{file}");
    assert!(!file.contains(legacy.expose()));
    assert_eq!(mode(&d.data.join("clients.json")), 0o600);
    assert_eq!(get(Scheme::V2, &s.base, "legacy", &legacy).status, 200);
    let out = cli(&d, &["list"]);
    assert_eq!(out.stdout, b"legacy\n");
    assert!(out.stderr.is_empty(), "{}", stderr_of(&out));

    let fresh = cli_secret(&d, &["add", "fresh"]);
    let file = std::fs::read_to_string(d.data.join("clients.json")).unwrap();
    assert!(!file.contains(legacy.expose()) && !file.contains(fresh.expose()));
    assert_eq!(get(Scheme::V2, &s.base, "fresh", &fresh).status, 200);
    assert_eq!(get(Scheme::V2, &s.base, "legacy", &legacy).status, 200);
    assert!(!s.log().contains(legacy.expose()) && !s.log().contains(fresh.expose()));
}

// ---------------------------------------------------------------------------------------
// Rate limiting and host lists (in-process server, real HTTP).

/// An in-process server with the demo routes and the config `toml`, over the registry of `d`.
fn server_with(d: &Dirs, toml: &str) -> (InProcess, Registry) {
    let registry = Registry::open_with_key_file(&d.data, Some(d.key.clone()));
    let mut config = Config::parse(toml).unwrap();
    config.routes = Some(xnonce_core::RouteTable::demo());
    config.key_file = Some(d.key.clone());
    (InProcess::start(config, d.data.clone()), registry)
}

#[test]
fn a_client_over_its_rate_gets_429_with_retry_after_and_others_are_unaffected() {
    let d = Dirs::new("ratelimit");
    let registry = Registry::open_with_key_file(&d.data, Some(d.key.clone()));
    let a = registry.add("a").unwrap();
    let b = registry.add("b").unwrap();
    let vip = registry.add("vip").unwrap();
    let (s, _) = server_with(
        &d,
        // One token per 4 s: each span below that must see no refill (about ten requests
        // on loopback) has seconds of slack on a loaded machine.
        "[rate_limit]\nrequests_per_second = 0.25\nburst = 3\n[rate_limit.clients.vip]\nunlimited = true\n",
    );

    // Forged and replayed requests naming `a` are refused before the limiter: they do not
    // spend a's budget.
    for _ in 0..10 {
        let r = get(Scheme::V2, &s.base, "a", &b);
        assert_eq!((r.status, code(&r).as_str()), (401, "signature_mismatch"));
    }
    let first = status_request(Scheme::V2, &s.base, "a", &a);
    let started = std::time::Instant::now();
    assert_eq!(http::send(&s.base, &first).unwrap().status, 200);
    for _ in 0..5 {
        assert_eq!(http::send(&s.base, &first).unwrap().status, 409);
    }

    // The burst (3, one already used), then 429 with Retry-After and a coded problem.
    for _ in 0..2 {
        let r = get(Scheme::V2, &s.base, "a", &a);
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let r = get(Scheme::V2, &s.base, "a", &a);
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(code(&r), "rate_limited");
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    // Whole seconds until the next token, rounded up: 4 s for a token less the time since
    // the first was taken (in practice 4).
    let elapsed = started.elapsed().as_secs_f64();
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    let earliest = (4.0 - elapsed).ceil().max(1.0) as u64;
    assert!((earliest..=4).contains(&retry), "{retry} after {elapsed} s");
    // Members in PROTOCOL §16's order, as every other problem document, then retry_after.
    let text = r.text();
    assert!(
        text.starts_with(r#"{"type":"https://xnonce.dev/errors/rate_limited","title":"Too many requests","status":429,"code":"rate_limited","detail":"#)
            && text.ends_with(&format!(r#","retry_after":{retry}}}"#)),
        "{text}"
    );
    // v1 style answer.
    let r = get(Scheme::V1, &s.base, "a", &a);
    assert_eq!((r.status, r.text().as_str()), (429, "Rate limit exceeded"));
    let v1_retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=retry).contains(&v1_retry), "{v1_retry} after {retry}");

    // Other clients are unaffected; the unlimited one is never limited.
    for _ in 0..3 {
        assert_eq!(get(Scheme::V2, &s.base, "b", &b).status, 200);
    }
    for _ in 0..20 {
        assert_eq!(get(Scheme::V2, &s.base, "vip", &vip).status, 200);
    }

    // After Retry-After, a is accepted again (one token), then limited again.
    std::thread::sleep(Duration::from_secs(retry) + Duration::from_millis(50));
    let r = get(Scheme::V2, &s.base, "a", &a);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(get(Scheme::V2, &s.base, "a", &a).status, 429);
    // The health route is never limited.
    let r = http::send(&s.base, &http::Request::new("GET", "/_xnonce/health")).unwrap();
    assert_eq!(r.status, 200);
}

#[test]
fn rate_limiting_is_off_by_default() {
    let d = Dirs::new("nolimit");
    let (s, registry) = server_with(&d, "");
    let a = registry.add("a").unwrap();
    for _ in 0..60 {
        let r = get(Scheme::V2, &s.base, "a", &a);
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

/// A v2 request signed for another service that knows the same client (staging, say) is
/// refused by a server whose config names its own hosts, before its signature is checked:
/// it would otherwise verify here once more, this server's replay store not being the
/// other's (found by a security review). v1, which does not sign the host, is not checked.
#[test]
fn a_server_with_a_host_list_refuses_v2_requests_signed_for_other_hosts() {
    let d = Dirs::new("hosts");
    let (s, registry) = server_with(&d, "hosts = [\"api.test\", \"api.test:8443\"]");
    let svc = registry.add("svc").unwrap();
    // Another server on the same registry, without a host list (and without the journal,
    // which is one server's per data dir).
    let (open, _) = server_with(&d, "[replay]\npersist = false");
    let signed_for = |scheme, host: &str| {
        let input = SignInput::new(scheme, "GET", "/admin/status", "svc").host(host);
        let x_nonce = sign(&input, &svc).unwrap().x_nonce;
        let mut req = http::Request::new("GET", "/admin/status")
            .header("Host", host)
            .header("X-Nonce", x_nonce)
            .header("Connection", "close");
        req.raw_headers = true;
        req
    };
    for host in ["api.test", "API.test:80", "api.test:8443"] {
        let r = http::send(&s.base, &signed_for(Scheme::V2, host)).unwrap();
        assert_eq!(r.status, 200, "{host}: {}", r.text());
    }
    for host in ["staging.test", "api.test:8080"] {
        let req = signed_for(Scheme::V2, host);
        let r = http::send(&s.base, &req).unwrap();
        assert_eq!(
            (r.status, code(&r).as_str()),
            (400, "invalid_host"),
            "{host}"
        );
        // Without a list, the same bytes verify: the refusal is the list's.
        assert_eq!(http::send(&open.base, &req).unwrap().status, 200, "{host}");
    }
    let r = http::send(&s.base, &signed_for(Scheme::V1, "staging.test")).unwrap();
    assert_eq!(r.status, 200, "v1: {}", r.text());
}
