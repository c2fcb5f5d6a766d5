//! Every vector file plus `XNONCE_EXTRA_VECTORS`, through the Rust core (DESIGN §3).

use xnonce_conformance::{check, vector};

#[test]
fn every_vector_passes() {
    let files = vector::vector_files(&vector::vectors_dir()).expect("vectors folder");
    let mut passed = 0;
    let mut failures = Vec::new();
    for file in &files {
        for case in vector::load(file).unwrap_or_else(|e| panic!("{e}")) {
            match check::check(&case) {
                Ok(()) => passed += 1,
                Err(why) => failures.push(format!("{} ({}): {why}", case.id, file.display())),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} vectors failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(passed > 0, "no vector ran");
    println!("rust: {passed} vectors passed");
}

#[test]
fn generated_files_are_current() {
    for (name, text) in xnonce_conformance::generate::files() {
        let on_disk = std::fs::read_to_string(vector::vectors_dir().join(name)).unwrap_or_default();
        assert!(
            on_disk == text,
            "{name} is stale: run `cargo run -p xnonce-conformance -- generate`"
        );
    }
}

#[test]
fn v1_ground_truth_is_present_and_complete() {
    let cases = vector::load(&vector::vectors_dir().join("em-secure-api-v1.json")).unwrap();
    assert_eq!(cases.len(), 20);
    assert!(cases
        .iter()
        .all(|c| c.x_nonce.is_some() && c.ottoken.is_some() && c.canonical.is_some()));
}
