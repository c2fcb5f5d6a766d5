//! The error vocabulary against the normative table of docs/PROTOCOL.md §13: every code, its
//! family and its HTTP status as the spec states them, and how errors print.

use xnonce_core::{Error, ErrorCode};

/// The rows of PROTOCOL §13's table: (code, family, status).
fn protocol_table() -> Vec<(String, String, u16)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/PROTOCOL.md"))
        .unwrap();
    let section = text
        .split("## 13. Error codes")
        .nth(1)
        .expect("PROTOCOL.md has §13")
        .split("\n## ")
        .next()
        .unwrap();
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            let (code, family, status) = (cells[0], cells[cells.len() - 2], cells[cells.len() - 1]);
            (
                code.trim_matches('`').to_string(),
                family.to_string(),
                status.parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_code_has_the_family_and_status_protocol_13_gives_it() {
    let table = protocol_table();
    assert_eq!(table.len(), ErrorCode::ALL.len(), "one row per code");
    for (code, family, status) in &table {
        let c = ErrorCode::from_code(code).unwrap_or_else(|| panic!("{code} is not a code"));
        assert_eq!(c.as_str(), code);
        assert_eq!(c.to_string(), *code, "Display is the code");
        assert_eq!(c.family().as_str(), family, "{code}'s family");
        assert_eq!(c.http_status(), *status, "{code}'s status");
    }
    for c in ErrorCode::ALL {
        assert!(
            table.iter().any(|(code, ..)| code == c.as_str()),
            "{c} missing from §13"
        );
    }
}

#[test]
fn strings_that_are_not_codes_are_not_read_as_one() {
    for s in ["", "Replayed", "replayed ", "auth", "invalid"] {
        assert_eq!(ErrorCode::from_code(s), None, "{s:?}");
    }
}

#[test]
fn an_error_prints_its_code_and_message() {
    let e = Error::new(ErrorCode::Replayed, "ottoken already used");
    assert_eq!(e.to_string(), "replayed: ottoken already used");
    let debug = format!("{e:?}");
    assert!(debug.contains("\"replayed\""), "{debug}");
    assert!(debug.contains("\"ottoken already used\""), "{debug}");
    assert!(debug.contains("server_time: None"), "{debug}");
}
