//! Config values that the server would take but never enforce as written: `serve` (and
//! `check`) must refuse them at start, naming the key, rather than serve a route that refuses
//! every request.

use std::process::Command;

mod common;

use common::{command, spawn_serve, Dirs};

/// `serve --config F --listen 127.0.0.1:0` on its own data dir and key file, for `text`:
/// the exit status and stderr when it refuses to start (fails when it listens).
fn serve_refuses(d: &Dirs, text: &str) -> String {
    let config = d.fresh("server", "toml");
    std::fs::write(&config, text).unwrap();
    let mut cmd: Command = command(&["serve", "--listen", "127.0.0.1:0", "--config"]);
    cmd.arg(&config)
        .arg("--data")
        .arg(&d.data)
        .arg("--key-file")
        .arg(&d.key);
    let exited = match spawn_serve(cmd, &d.fresh("serve", "log")) {
        Ok(served) => panic!("serve started with {text:?}; its log: {}", served.log()),
        Err(exited) => exited,
    };
    assert_eq!(exited.status.code(), Some(1), "{}", exited.stderr);
    let out = command(&["check", "--config"])
        .arg(&config)
        .arg("--data")
        .arg(&d.data)
        .arg("--key-file")
        .arg(&d.key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "check took {text:?}");
    exited.stderr
}

/// A rule on the empty param name: no signer signs an empty key (PROTOCOL §3.6), so with
/// `req` the route refused every request 422 `Missing required parameter ` (a signed v2 GET
/// to it, over 127.0.0.1, before this check), and `exc` never applied.
#[test]
fn a_rule_on_an_empty_param_name_is_refused_at_start() {
    let d = Dirs::new("cfg-empty-param");
    for (text, key) in [
        (
            "[routes.c]\na_get = { \"\" = \"req\" }\n",
            "routes.c.a_get.\"\"",
        ),
        (
            "[routes.c]\n__default_parameters = { u = \"req\", \"\" = \"exc\" }\na_get = {}\n",
            "routes.c.__default_parameters.\"\"",
        ),
    ] {
        let stderr = serve_refuses(&d, text);
        assert!(
            stderr.contains(&format!("{key}: a param name is never empty")),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// A route whose controller or action holds a character no request path holds as sent
/// (`?`, `#`, whitespace): routes are matched against the path as sent, so a client's
/// `/c/a%3Fb` or `/c/a%20b` was `action_method (a%3Fb_get) not found` — every request 404.
#[test]
fn a_route_no_path_can_reach_is_refused_at_start() {
    let d = Dirs::new("cfg-odd-route");
    for (text, key, c) in [
        ("[routes.c]\n\"a?b_get\" = {}\n", "routes.c.a?b_get", "'?'"),
        (
            "[routes.c]\n\"a b_post\" = {}\n",
            "routes.c.a b_post",
            "' '",
        ),
        ("[routes.\"api#v1\"]\na_get = {}\n", "routes.api#v1", "'#'"),
        (
            "[routes.c]\n\"a\\tb_get\" = {}\n",
            "routes.c.a\tb_get",
            "'\\t'",
        ),
    ] {
        let stderr = serve_refuses(&d, text);
        assert!(stderr.contains(&format!("{key}: ")), "{stderr}");
        assert!(stderr.contains(&format!("holds {c}")), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // Non-ASCII text and escapes may be sent as such: still taken.
    let config = d.fresh("ok", "toml");
    std::fs::write(
        &config,
        "[routes.\"caf\u{e9}\"]\n\"a%62_get\" = {}\n[windows.c]\n\"a b_get\" = 1000\n",
    )
    .unwrap();
    let out = command(&["check", "--config"])
        .arg(&config)
        .arg("--data")
        .arg(&d.data)
        .arg("--key-file")
        .arg(&d.key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
