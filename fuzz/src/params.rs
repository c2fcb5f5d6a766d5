//! Query/form parsing ([`xnonce_core::params::from_query_and_form`], `find_ottoken`) and the
//! text form of float params.

use arbitrary::{Arbitrary, Unstructured};
use xnonce_core::params::{find_ottoken, from_query_and_form, split_raw, text_from_f64};
use xnonce_core::{ottoken, percent, ErrorCode, Scheme};

use crate::pick::Text;

const KEYS: &[&str] = &[
    "a", "username", "opt1", "ottoken", "", "a b", "é", "k=v&x", "x+y",
];

/// One parse case: raw text, and pairs to encode and parse back.
#[derive(Arbitrary, Debug)]
struct Case {
    v2: bool,
    query: String,
    form: Option<String>,
    pairs: Vec<(Text, String)>,
    split: u8,
    bare_empty: bool,
    float: f64,
}

/// The target: UTF-8 input as `<query>[\n<form body>]` for both schemes, then the input
/// decoded with `arbitrary` as raw text, pairs to round-trip and a float.
pub fn run(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let (query, form) = match text.split_once('\n') {
            Some((q, f)) => (q, Some(f)),
            None => (text, None),
        };
        check_raw(Scheme::V1, query, form);
        check_raw(Scheme::V2, query, form);
    }
    let Ok(case) = Case::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let scheme = if case.v2 { Scheme::V2 } else { Scheme::V1 };
    check_raw(scheme, &case.query, case.form.as_deref());
    check_round_trip(scheme, &case);
    check_float(case.float);
}

fn check_raw(scheme: Scheme, query: &str, form: Option<&str>) {
    let segments: Vec<(&str, &str)> = split_raw(query)
        .chain(form.into_iter().flat_map(split_raw))
        .collect();
    let raw_ottoken = segments
        .iter()
        .find(|(k, _)| *k == ottoken::PARAM)
        .map(|p| p.1);
    assert_eq!(find_ottoken(query, form), raw_ottoken);
    // As a verifier reads them after a credential from the ottoken pair.
    match from_query_and_form(scheme, query, form, true) {
        Ok(params) => {
            match scheme {
                Scheme::V2 => {
                    // Every pair but the credential's own (the first raw `ottoken`).
                    let expected = segments.len() - usize::from(raw_ottoken.is_some());
                    assert_eq!(params.len(), expected, "v2 must keep every other pair");
                    let others = segments
                        .iter()
                        .filter(|(k, _)| decoded(k).as_deref() == Some(ottoken::PARAM))
                        .count()
                        - usize::from(raw_ottoken.is_some());
                    let kept = params.iter().filter(|(k, _)| k == ottoken::PARAM).count();
                    assert_eq!(kept, others, "other ottoken-named pairs are kept");
                    // For signing nothing is left out; only the credential pair's value,
                    // decoded then as a param, can make the text fail.
                    match from_query_and_form(scheme, query, form, false) {
                        Ok(all) => assert_eq!(all.len(), segments.len(), "nothing left out"),
                        Err(e) => assert!(
                            raw_ottoken.is_some() && e.code() == ErrorCode::MalformedParams,
                            "{e}"
                        ),
                    }
                }
                Scheme::V1 => {
                    assert!(
                        params.iter().all(|(k, _)| k != ottoken::PARAM),
                        "ottoken reached the v1 params"
                    );
                    for (i, (k, v)) in params.iter().enumerate() {
                        // A key repeats only with a value its first pair does not have.
                        let first = params[..i].iter().find(|(e, _)| e == k);
                        assert!(first.is_none_or(|(_, f)| f != v), "v1 merge kept a repeat");
                        assert!(segments.iter().any(|(r, _)| r == k), "v1 keys are raw");
                    }
                }
            }
        }
        Err(e) => assert_eq!(e.code(), ErrorCode::MalformedParams, "{e}"),
    }
}

fn decoded(s: &str) -> Option<String> {
    String::from_utf8(percent::decode_form(s).ok()?).ok()
}

/// Encodes pairs as a client would, splits them between query and form, parses them back and
/// compares with an independent model of each scheme.
fn check_round_trip(scheme: Scheme, case: &Case) {
    let mut pairs: Vec<(String, String)> = case
        .pairs
        .iter()
        .take(16)
        .map(|(k, v)| (k.resolve(KEYS), v.clone()))
        .collect();
    if scheme == Scheme::V1 {
        // The v1 server reads keys raw: only unreserved keys can travel.
        pairs.retain(|(k, _)| k.bytes().all(percent::is_unreserved));
    }
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            let k = match scheme {
                Scheme::V1 => k.clone(),
                Scheme::V2 => percent::encode_rfc3986(k.as_bytes()),
            };
            let v = match scheme {
                Scheme::V1 => percent::cgi_escape(v),
                Scheme::V2 => percent::encode_rfc3986(v.as_bytes()),
            };
            if v.is_empty() && case.bare_empty && !k.is_empty() {
                k
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    let cut = case.split as usize % (encoded.len() + 1);
    let query = encoded[..cut].join("&");
    let form = encoded[cut..].join("&");
    // As a signer reads them (no credential pair): v1 still drops any `ottoken`, v2 keeps it.
    let got = from_query_and_form(scheme, &query, Some(&form), false)
        .unwrap_or_else(|e| panic!("client-encoded params refused: {e} ({query:?} / {form:?})"));
    let mut expected: Vec<(String, String)> = Vec::new();
    let dropped = |k: &String| scheme == Scheme::V1 && k == ottoken::PARAM;
    for (k, v) in pairs.into_iter().filter(|(k, _)| !dropped(k)) {
        // v1: a repeat with the key's first pair's value is merged into it; another value is
        // kept apart, for the signature check to refuse.
        let first = expected.iter().find(|(e, _)| *e == k);
        let merged = scheme == Scheme::V1 && first.is_some_and(|(_, fv)| *fv == v);
        if !merged {
            expected.push((k, v));
        }
    }
    assert_eq!(
        got, expected,
        "params did not survive encoding ({query:?} / {form:?})"
    );
}

fn check_float(x: f64) {
    match text_from_f64(x) {
        Ok(t) => {
            assert!(x.is_finite());
            assert!(!t.contains(['e', 'E']), "exponent form: {t}");
            let back: f64 = t.parse().unwrap();
            assert!(back == x, "{x:?} -> {t:?} -> {back:?}");
        }
        Err(e) => {
            assert!(!x.is_finite());
            assert_eq!(e.code(), ErrorCode::InvalidParamValue);
        }
    }
}
