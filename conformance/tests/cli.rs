//! The `xnonce-conformance` command's `vectors` and `generate` modes, run as a user runs them:
//! what they print and how they exit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(args: &[&str], extra_vectors: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xnonce-conformance"));
    cmd.args(args).env_remove("XNONCE_EXTRA_VECTORS");
    if let Some(extra) = extra_vectors {
        cmd.env("XNONCE_EXTRA_VECTORS", extra);
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// A fresh empty folder under the target dir.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The cases of the committed files, counted from the JSON itself.
fn committed_cases() -> Vec<serde_json::Value> {
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(vectors_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let list: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
            cases.extend(list);
        }
    }
    cases
}

#[test]
fn vectors_counts_every_committed_case_and_exits_0() {
    let out = run(&["vectors"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let n = committed_cases().len();
    assert_eq!(text(&out.stdout), format!("rust: {n} vectors passed\n"));
}

#[test]
fn vectors_names_a_wrong_case_and_exits_1() {
    let dir = scratch("cli-wrong-case");
    let good = committed_cases()
        .into_iter()
        .find(|c| c["x_nonce"].is_string())
        .unwrap();
    let mut bad = good.clone();
    bad["id"] = "tampered-case".into();
    let x = bad["x_nonce"].as_str().unwrap().to_string();
    bad["x_nonce"] = format!("{x}0").into();
    let file = dir.join("mixed.json");
    std::fs::write(&file, serde_json::to_string(&[good, bad]).unwrap()).unwrap();
    let out = run(&["vectors", "--dir", dir.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "rust: 1 vectors passed, 1 failed\n");
    assert!(
        text(&out.stderr).contains("FAIL tampered-case"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn vectors_without_any_case_fails() {
    let dir = scratch("cli-empty");
    let out = run(&["vectors", "--dir", dir.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "rust: 0 vectors passed\n");
}

#[test]
fn extra_vector_files_are_counted_and_empty_entries_skipped() {
    let dir = scratch("cli-extra");
    let one = committed_cases().into_iter().next().unwrap();
    let file = dir.join("one.json");
    std::fs::write(&file, serde_json::to_string(&[one]).unwrap()).unwrap();
    let extra = format!(":{}:", file.display());
    let out = run(&["vectors"], Some(&extra));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let n = committed_cases().len() + 1;
    assert_eq!(text(&out.stdout), format!("rust: {n} vectors passed\n"));
}

#[test]
fn generate_writes_the_committed_files_and_check_finds_a_stale_one() {
    // The committed generated files are current.
    let out = run(&["generate", "--check"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Written afresh, they are byte for byte the committed ones.
    let dir = scratch("cli-generate");
    let out = run(&["generate", "--out", dir.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for name in ["xnonce-v2.json", "xnonce-v1-extra.json"] {
        let fresh = std::fs::read_to_string(dir.join(name)).unwrap();
        let committed = std::fs::read_to_string(vectors_dir().join(name)).unwrap();
        assert!(fresh == committed, "{name} differs from the committed file");
    }
    // A changed file is reported by name, and nothing is written.
    let stale = dir.join("xnonce-v2.json");
    std::fs::write(&stale, "[]\n").unwrap();
    let out = run(
        &["generate", "--check", "--out", dir.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("xnonce-v2.json is not what the generator makes"));
    assert_eq!(std::fs::read_to_string(&stale).unwrap(), "[]\n");
}

/// An expected field the checker would not read (misspelt, or `link` on a case that is not
/// linked) fails instead of leaving that output unchecked: each file here holds a valid case
/// plus one whose ignored field is wrong.
#[test]
fn a_field_the_checker_would_not_read_fails() {
    let link_case = committed_cases()
        .into_iter()
        .find(|c| c["base_url"].is_string() && c["ottoken"].is_string())
        .unwrap();
    let sign_case = committed_cases()
        .into_iter()
        .find(|c| c["base_url"].is_null() && c["x_nonce"].is_string())
        .unwrap();
    let mut misspelt = link_case.clone();
    misspelt["id"] = "misspelt-ottoken".into();
    let wrong = format!("{}0", misspelt["ottoken"].as_str().unwrap());
    misspelt.as_object_mut().unwrap().remove("ottoken");
    misspelt["ottokn"] = wrong.into();
    let mut stray_link = sign_case.clone();
    stray_link["id"] = "link-without-base-url".into();
    stray_link["link"] = "https://not.what.link.gives/".into();
    for (name, bad, why) in [
        ("misspelt", misspelt, "unknown field `ottokn`"),
        ("stray-link", stray_link, "FAIL link-without-base-url"),
    ] {
        let dir = scratch(&format!("cli-{name}"));
        let file = dir.join("cases.json");
        std::fs::write(
            &file,
            serde_json::to_string(&[sign_case.clone(), bad]).unwrap(),
        )
        .unwrap();
        let out = run(&["vectors", "--dir", dir.to_str().unwrap()], None);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out.stdout));
        assert!(
            text(&out.stderr).contains(why),
            "{name}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn a_file_that_is_not_a_vector_list_counts_as_a_failure() {
    let dir = scratch("cli-broken");
    std::fs::write(dir.join("broken.json"), "{").unwrap();
    let out = run(&["vectors", "--dir", dir.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "rust: 0 vectors passed, 1 failed\n");
    assert!(text(&out.stderr).contains("FAIL ") && text(&out.stderr).contains("broken.json"));
}

/// `server` with a secret given where the secret file's path belongs: refused before any
/// request, without printing it (a CI log would keep it).
#[test]
fn server_does_not_print_a_secret_given_as_the_secret_file() {
    let secret = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd";
    let out = run(
        &[
            "server",
            "--base-url",
            "http://127.0.0.1:9",
            "--client",
            "svc",
            "--secret-file",
            secret,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(stderr.contains("not the secret"), "{stderr}");
    assert!(
        !stderr.contains(secret) && !stdout.contains(secret),
        "{stdout}{stderr}"
    );
}

/// A case that is not well formed fails its file, naming the case, whatever else the file
/// holds: an `error` case that also carries expected outputs (they would never be compared),
/// and any field of the wrong JSON type — a number where a string belongs, a float or a
/// negative timestamp, `null`, params as an object or as pairs that are not two strings.
/// The same cases are `conformance/hook/wrong-*.json`, which every language's checker refuses.
#[test]
fn a_malformed_case_fails_the_file_naming_it() {
    let sign_case = committed_cases()
        .into_iter()
        .find(|c| c["base_url"].is_null() && c["x_nonce"].is_string())
        .unwrap();
    let error_case = committed_cases()
        .into_iter()
        .find(|c| c["error"].is_string())
        .unwrap();
    let with = |base: &serde_json::Value, field: &str, value: serde_json::Value| {
        let mut c = base.clone();
        c["id"] = format!("malformed-{field}").into();
        c[field] = value;
        c
    };
    let mut outputs = error_case.clone();
    outputs["id"] = "error-with-outputs".into();
    outputs["x_nonce"] = sign_case["x_nonce"].clone();
    let bad = [
        (outputs, "error case also carries outputs"),
        (
            with(&sign_case, "params", serde_json::json!([["a", 1]])),
            "invalid type: integer `1`, expected a string",
        ),
        (
            with(&sign_case, "params", serde_json::json!({"a": "1"})),
            "invalid type: map",
        ),
        (
            with(&sign_case, "params", serde_json::json!([["a", "1", "2"]])),
            "invalid length",
        ),
        (
            with(&sign_case, "timestamp", serde_json::json!(1384300800123.5)),
            "invalid type: floating point",
        ),
        (
            with(&sign_case, "timestamp", serde_json::json!(1384300800123.0)),
            "invalid type: floating point",
        ),
        (
            with(&sign_case, "timestamp", serde_json::json!("1384300800123")),
            "invalid type: string",
        ),
        (
            with(&sign_case, "timestamp", serde_json::json!(-1)),
            "invalid value: integer `-1`",
        ),
        (
            with(&sign_case, "client", serde_json::json!(7)),
            "invalid type: integer `7`, expected a string",
        ),
        (
            with(&sign_case, "canonical", serde_json::Value::Null),
            "field `canonical` is null",
        ),
        (
            with(&sign_case, "nonce", serde_json::Value::Null),
            "field `nonce` is null",
        ),
    ];
    for (i, (case, why)) in bad.into_iter().enumerate() {
        let id = case["id"].as_str().unwrap().to_owned();
        let dir = scratch(&format!("cli-malformed-{i}"));
        std::fs::write(
            dir.join("cases.json"),
            serde_json::to_string(&[sign_case.clone(), case]).unwrap(),
        )
        .unwrap();
        let out = run(&["vectors", "--dir", dir.to_str().unwrap()], None);
        assert_eq!(out.status.code(), Some(1), "{id}: {}", text(&out.stdout));
        // The whole file fails: not even its valid case counts.
        assert_eq!(
            text(&out.stdout),
            "rust: 0 vectors passed, 1 failed\n",
            "{id}"
        );
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("case {id}: ")) && stderr.contains(why),
            "{id}: {stderr}"
        );
    }
}
