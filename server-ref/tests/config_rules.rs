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
