//! The README's walk-through: accepted, replayed, tampered and stale requests in both schemes,
//! made by [`xnonce::Requester`] against a running `xnonce-server serve --demo`, then a
//! one-time browser link opened twice. `scripts/demo.sh` starts the server and runs this.
//!
//! ```sh
//! cargo run -p xnonce --example demo -- --base-url http://127.0.0.1:8080 \
//!     --client demo --secret-file demo.secret
//! ```

use std::process::ExitCode;

use xnonce::core::{link, SignInput};
use xnonce::{RequestOptions, Requester, Response, Scheme, Secret};

struct Args {
    base_url: String,
    client: String,
    secret: Secret,
}

fn args() -> Result<Args, String> {
    let mut base_url = None;
    let mut client = None;
    let mut secret_file = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--base-url" => base_url = Some(value()?),
            "--client" => client = Some(value()?),
            "--secret-file" => secret_file = Some(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let secret_file = secret_file.ok_or("--secret-file is required")?;
    let text = std::fs::read_to_string(&secret_file)
        .map_err(|e| format!("cannot read {secret_file}: {e}"))?;
    Ok(Args {
        base_url: base_url.ok_or("--base-url is required")?,
        client: client.ok_or("--client is required")?,
        secret: Secret::new(text.trim()).map_err(|e| e.to_string())?,
    })
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// One line describing an answer: status, and the body (v2 problem documents by their code).
fn outcome(res: &Response) -> String {
    let verdict = if res.is_success() {
        "accepted"
    } else {
        "refused"
    };
    let what = match res.data.as_ref().and_then(|d| d.get("code")) {
        Some(code) => format!(
            "{} ({})",
            code.as_str().unwrap_or("?"),
            res.data
                .as_ref()
                .and_then(|d| d.get("title"))
                .and_then(|t| t.as_str())
                .unwrap_or("")
        ),
        None => {
            let mut b = res.body.trim().to_string();
            if b.len() > 100 {
                b.truncate(100);
                b.push('…');
            }
            b
        }
    };
    format!("{} {verdict}: {what}", res.code)
}

struct Check {
    failures: Vec<String>,
}

impl Check {
    fn expect(&mut self, step: &str, res: &Response, code: u16) {
        println!("     → {}", outcome(res));
        if res.code != code {
            self.failures
                .push(format!("{step}: expected {code}, got {}", res.code));
        }
    }
}

async fn walk(a: &Args, scheme: Scheme, check: &mut Check) -> Result<(), xnonce::Error> {
    let label = match scheme {
        Scheme::V1 => "v1 — em-secure-api's scheme (SHA-256 token), byte-compatible",
        _ => "v2 — HMAC-SHA256 over method, host, path, params, body digest, time and nonce",
    };
    println!("\n━━ {label}");
    let api = Requester::builder(&a.base_url, &a.client, a.secret.clone())
        .scheme(scheme)
        .build()?;
    let login = pairs(&[
        ("username", "phil"),
        ("password", "hello phil"),
        ("opt1", "this"),
    ]);

    // 1. accepted. The timestamp (and v2 nonce) are pinned so step 2 can resend the same bytes.
    let pinned = RequestOptions {
        timestamp_ms: Some(now_ms()),
        nonce: (scheme == Scheme::V2).then(|| "d3b07384d113edec49eaa6238ad5ff00".to_string()),
        ..Default::default()
    };
    println!("  1. a signed request: GET /controller1/action1 username=phil password='hello phil' opt1=this");
    let res = api
        .make_request(
            "GET",
            login.clone(),
            "action1",
            Some("controller1"),
            pinned.clone(),
        )
        .await?;
    check.expect("accepted", &res, 200);

    // 2. replayed.
    println!("  2. the very same signed request again (a replay)");
    let res = api
        .make_request("GET", login.clone(), "action1", Some("controller1"), pinned)
        .await?;
    check.expect("replayed", &res, 409);

    // 3. tampered: a param added on the way that the signature does not cover.
    println!("  3. tampered: someone appends opt2=sneaked to a signed request");
    let tampered = RequestOptions {
        extra_params: pairs(&[("opt2", "sneaked")]),
        ..Default::default()
    };
    let res = api
        .make_request("GET", login.clone(), "/controller1/action1", None, tampered)
        .await?;
    check.expect("tampered", &res, 401);

    // 4. stale: a clock two minutes slow. First without correction, then with it.
    let slow_clock = |correct: bool| {
        Requester::builder(&a.base_url, &a.client, a.secret.clone())
            .scheme(scheme)
            .correct_clock(correct)
            .clock_offset_ms(-120_000)
            .build()
    };
    let strict = slow_clock(false)?;
    println!("  4. stale: signed by a clock 2 minutes slow (window: 30 s), clock correction off");
    let res = strict
        .make_request(
            "GET",
            login.clone(),
            "/controller1/action1",
            None,
            Default::default(),
        )
        .await?;
    check.expect("stale", &res, 401);
    if let Some(hint) = res.header("x-nonce-server-time") {
        let ms = hint.split(' ').next().unwrap_or("?");
        println!("     the answer carries X-Nonce-Server-Time: {ms} <HMAC with our secret>");
    }
    println!("     the same slow clock with clock correction on (the default):");
    let fixing = slow_clock(true)?;
    let res = fixing
        .make_request(
            "GET",
            login,
            "/controller1/action1",
            None,
            Default::default(),
        )
        .await?;
    let learned = fixing.clock_offset_ms();
    // Asked, not inferred from the offset: an offset learned could equal the one given.
    if !fixing.clock_offset_learned() {
        // Nothing learned: no authenticated hint came back, so nothing was re-signed.
        check
            .failures
            .push("stale-corrected: no clock offset was learned".into());
    } else {
        println!(
            "     (its 401 carried the hint, which authenticated with our secret, so the \
             requester re-signed once with the server's time.\n      Offset: -120000 ms \
             before, {learned:+} ms learned: server and demo share this machine's clock.)"
        );
    }
    check.expect("stale-corrected", &res, 200);
    Ok(())
}

async fn links(a: &Args, check: &mut Check) -> Result<(), xnonce::Error> {
    println!("\n━━ one-time links (the ottoken travels in the URL, e.g. for a browser)");
    let http = reqwest::Client::new();
    for scheme in [Scheme::V1, Scheme::V2] {
        let input =
            SignInput::new(scheme, "GET", "/controller1/action1", &a.client).params(pairs(&[
                ("username", "phil"),
                ("password", "hello phil"),
                ("opt1", "from a link"),
            ]));
        let url = link(&input, &a.secret, &a.base_url)?.url;
        println!(
            "  {scheme} link (valid for 30 s, once; opened just below, so it is used up and the \
             server stops when the demo ends):\n     {url}"
        );
        for (n, want) in [("opened once ", 200), ("opened twice", 409)] {
            let res = http.get(&url).send().await.map_err(|e| {
                xnonce::Error::new(xnonce::ErrorCode::ConnectionFailed, e.to_string())
            })?;
            let code = res.status().as_u16();
            let bytes = res.bytes().await.unwrap_or_default().to_vec();
            let body = String::from_utf8_lossy(&bytes).into_owned();
            let answer = Response {
                code,
                data: serde_json::from_str(&body).ok(),
                body,
                bytes,
                headers: Vec::new(),
            };
            println!("     {n} → {}", outcome(&answer));
            if code != want {
                check
                    .failures
                    .push(format!("{scheme} link {n}: expected {want}, got {code}"));
            }
        }
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("demo: {e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "xnonce demo: client '{}' talks to {} (em-secure-api's demo API)",
        a.client, a.base_url
    );
    let mut check = Check {
        failures: Vec::new(),
    };
    for scheme in [Scheme::V2, Scheme::V1] {
        if let Err(e) = walk(&a, scheme, &mut check).await {
            eprintln!("demo: {e}");
            return ExitCode::FAILURE;
        }
    }
    if let Err(e) = links(&a, &mut check).await {
        eprintln!("demo: {e}");
        return ExitCode::FAILURE;
    }
    if check.failures.is_empty() {
        println!("\nAll steps behaved as expected.");
        ExitCode::SUCCESS
    } else {
        for f in &check.failures {
            eprintln!("demo: unexpected: {f}");
        }
        ExitCode::FAILURE
    }
}
