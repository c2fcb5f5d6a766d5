//! Corpus regression (stable, no libFuzzer): every file under `corpus/<target>/` (the committed
//! seeds and minimised finds) and, when present, `artifacts/<target>/` (crashes of a local
//! fuzz run) goes through the same target function as the fuzzer. Any panic fails the test
//! and names the file.

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = files(&root.join("corpus").join(target));
    assert!(
        !corpus.is_empty(),
        "no seed corpus for {target}: corpus/{target}/ is empty"
    );
    let artifacts = files(&root.join("artifacts").join(target));
    let mut failed = Vec::new();
    for f in corpus.iter().chain(&artifacts) {
        let data = std::fs::read(f).unwrap();
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            failed.push(f.display().to_string());
        }
    }
    println!(
        "{target}: {} corpus + {} artifact files replayed",
        corpus.len(),
        artifacts.len()
    );
    assert!(
        failed.is_empty(),
        "{target}: {} inputs fail: {failed:#?}",
        failed.len()
    );
}

#[test]
fn header() {
    replay("header", xnonce_fuzz::header::run);
}

#[test]
fn link() {
    replay("link", xnonce_fuzz::link::run);
}

#[test]
fn ottoken() {
    replay("ottoken", xnonce_fuzz::ottoken::run);
}

#[test]
fn params() {
    replay("params", xnonce_fuzz::params::run);
}

#[test]
fn verify() {
    replay("verify", xnonce_fuzz::verify::run);
}

#[test]
fn every_target_has_a_test() {
    let names: Vec<&str> = xnonce_fuzz::TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["header", "link", "ottoken", "params", "verify"]);
}

/// The link seeds reach both ends: links built in each scheme (so the WHATWG comparisons
/// run on every CI run) and links refused.
#[test]
fn link_seeds_build_and_refuse_links() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/link");
    let (mut v1, mut v2, mut refused) = (0, 0, 0);
    for f in files(&dir) {
        match xnonce_fuzz::link::outcome(&std::fs::read(&f).unwrap()) {
            Some((xnonce_core::Scheme::V1, Ok(_))) => v1 += 1,
            Some((_, Ok(_))) => v2 += 1,
            Some((_, Err(_))) => refused += 1,
            None => {}
        }
    }
    println!("link: {v1} v1 and {v2} v2 links built, {refused} refused");
    assert!(v1 >= 3 && v2 >= 3 && refused >= 3, "{v1} {v2} {refused}");
}

/// The verify seeds reach the deep end: most conformance vectors are signed, sent and accepted
/// (so the accepted-request properties run), and the refused ones are refused for a reason.
#[test]
fn verify_seeds_are_accepted() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/verify");
    let (mut accepted, mut vectors) = (0, 0);
    for f in files(&dir) {
        if !f.file_name().unwrap().to_string_lossy().starts_with("vec-") {
            continue;
        }
        vectors += 1;
        if let Some(Ok(_)) = xnonce_fuzz::verify::outcome(&std::fs::read(&f).unwrap()) {
            accepted += 1;
        }
    }
    println!("verify: {accepted} of {vectors} vector seeds accepted");
    assert!(
        vectors >= 90 && accepted >= 60,
        "{accepted} of {vectors} vector seeds accepted"
    );
}
