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

/// The checker itself: a case that differs from core's output in any expected field fails,
/// naming the field — a checker that passed everything would pass `every_vector_passes` too.
#[test]
fn a_case_that_differs_fails_naming_the_field() {
    let cases = vector::load(&vector::vectors_dir().join("xnonce-v2.json")).unwrap();
    let by_id = |id: &str| cases.iter().find(|c| c.id == id).unwrap().clone();
    let link = by_id("v2-link-basic");
    assert_eq!(check::check(&link), Ok(()));
    let flip = |s: &str| {
        let last = if s.ends_with('0') { '1' } else { '0' };
        format!("{}{last}", &s[..s.len() - 1])
    };
    type Field = fn(&mut vector::Vector) -> &mut Option<String>;
    let fields: [(&str, Field); 5] = [
        ("canonical", |v| &mut v.canonical),
        ("x_nonce", |v| &mut v.x_nonce),
        ("ottoken", |v| &mut v.ottoken),
        ("ottoken_query_value", |v| &mut v.ottoken_query_value),
        ("link", |v| &mut v.link),
    ];
    // v1 ground truth has `ottoken_query_value`; the v2 link case has `link`.
    let v1 = vector::load(&vector::vectors_dir().join("em-secure-api-v1.json")).unwrap()[0].clone();
    let mut flipped = Vec::new();
    for case in [&link, &v1] {
        for (name, field) in fields {
            let mut wrong = case.clone();
            let Some(value) = field(&mut wrong).as_deref().map(flip) else {
                continue;
            };
            *field(&mut wrong) = Some(value);
            let why = check::check(&wrong).unwrap_err();
            assert!(
                why.starts_with(&format!("{name}: expected")),
                "{name}: {why}"
            );
            flipped.push(name);
        }
    }
    for (name, _) in fields {
        assert!(flipped.contains(&name), "{name} was never changed");
    }

    // A field left out is not checked; x_nonce cannot be left out.
    let mut partial = link.clone();
    (partial.canonical, partial.ottoken, partial.link) = (None, None, None);
    assert_eq!(check::check(&partial), Ok(()));
    partial.x_nonce = None;
    assert_eq!(
        check::check(&partial),
        Err("case has neither x_nonce nor error".into())
    );

    // Error cases: the exact code, and signing must fail.
    let err = by_id("v2-err-short-nonce");
    assert_eq!(check::check(&err), Ok(()));
    let mut other_code = err.clone();
    other_code.error = Some("bad_host".into());
    assert!(check::check(&other_code)
        .unwrap_err()
        .starts_with("expected error bad_host, got "));
    let mut expects_error = link.clone();
    expects_error.error = Some("bad_nonce".into());
    // Its outputs would never be compared: the case is refused whatever they hold.
    assert_eq!(
        check::check(&expects_error),
        Err("error case also carries outputs (they would go unchecked)".into())
    );
    (
        expects_error.canonical,
        expects_error.x_nonce,
        expects_error.ottoken,
        expects_error.link,
    ) = (None, None, None, None);
    assert_eq!(
        check::check(&expects_error),
        Err("expected error bad_nonce, but signing succeeded".into())
    );
    let mut no_error = err;
    no_error.error = None;
    assert!(check::check(&no_error)
        .unwrap_err()
        .starts_with("signing failed: "));
}

/// A case the checker cannot turn into an input fails, whatever `error` it expects: core's
/// error for it (`malformed_params`) is not the signer's. And a v2 case expecting outputs
/// needs its nonce: the Rust checker must not sign with one of its own (all zeros) that no
/// other language's checker uses.
#[test]
fn a_case_that_is_no_input_or_has_no_nonce_fails() {
    let cases = vector::load(&vector::vectors_dir().join("xnonce-v2.json")).unwrap();
    let basic = cases.iter().find(|c| c.id == "v2-get-basic").unwrap();
    let as_error = |mut c: vector::Vector, code: &str| {
        (c.canonical, c.x_nonce, c.ottoken) = (None, None, None);
        c.error = Some(code.into());
        c
    };

    let mut unknown_scheme = as_error(basic.clone(), "malformed_params");
    unknown_scheme.scheme = Some("v3".into());
    let why = check::check(&unknown_scheme).unwrap_err();
    assert!(why.contains("unknown scheme"), "{why}");

    let mut bad_body = as_error(basic.clone(), "malformed_params");
    bad_body.body = Some("***".into());
    let why = check::check(&bad_body).unwrap_err();
    assert!(why.contains("body is not base64"), "{why}");

    // Outputs signed with the all-zero nonce, the case holding no nonce.
    let mut zero = basic.clone();
    zero.nonce = Some("0".repeat(32));
    let out = check::run(&zero).unwrap();
    (zero.canonical, zero.x_nonce, zero.ottoken) = (Some(out.canonical), Some(out.x_nonce), None);
    assert_eq!(check::check(&zero), Ok(()));
    zero.nonce = None;
    let why = check::check(&zero).unwrap_err();
    assert!(why.contains("no nonce"), "{why}");
    // An error case may leave the nonce out (signing fails before it matters).
    let mut no_host = cases
        .iter()
        .find(|c| c.id == "v2-err-no-host")
        .unwrap()
        .clone();
    no_host.nonce = None;
    assert_eq!(check::check(&no_host), Ok(()));
}

/// The ottoken cases the independent implementations' self-tests hold (§8.3): a v1 token is
/// JSON, so another member is allowed but `NaN` and `Infinity` (which Python's `json` reads)
/// are not. Core, the reference, must agree with them.
#[test]
fn core_agrees_with_the_independent_self_tests_on_non_json_ottokens() {
    use base64::Engine as _;
    let v1 = "440f4ddd130532f9f07bbf798b8c273546093a086f0ebcd29e8279c14fb4a49b test_client-irb 1384300800123";
    for (member, ok) in [
        ("1", true),
        ("NaN", false),
        ("Infinity", false),
        ("-Infinity", false),
    ] {
        let text = format!(r#"{{"X-Nonce":"{v1}","n":{member}}}"#);
        let token = base64::engine::general_purpose::STANDARD.encode(text);
        let got = xnonce_core::ottoken::decode(&token).map(|h| h.to_string());
        match ok {
            true => assert_eq!(got.as_deref(), Ok(v1), "{member}"),
            false => assert_eq!(
                got.unwrap_err().code().as_str(),
                "malformed_ottoken",
                "{member}"
            ),
        }
    }
}
