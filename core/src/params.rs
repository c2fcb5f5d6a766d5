//! Request parameters: ordered `(key, value)` text pairs, how native values become text, and
//! how a verifier reads them back from a query string and a form body for each scheme.

use std::collections::HashMap;

use crate::error::{err, ErrorCode, Result};
use crate::Scheme;

/// From this many keys on, v1 looks keys up through a map instead of a scan of the earlier
/// ones: the merge of a request's params, and the repeated-key check of signing
/// (`canonical::v1`).
pub(crate) const V1_INDEX_FROM: usize = 16;

/// Ordered `(key, value)` pairs. Order is signed by v1 and irrelevant to v2.
pub type Params = Vec<(String, String)>;

/// The text of a boolean parameter: `"true"` / `"false"` (the same in every language).
pub const fn text_from_bool(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// The text of an integer parameter: plain decimal.
pub fn text_from_i128(n: i128) -> String {
    n.to_string()
}

/// The text of a floating-point parameter, identical in every language: the shortest
/// decimal that reads back as the same number, never in exponent form, with no fraction
/// part for integral values (`3.0` → `"3"`, `1.5` → `"1.5"`, `1e21` →
/// `"1000000000000000000000"`, `1e-7` → `"0.0000001"`). NaN and infinities are
/// `invalid_param_value`.
///
/// ```
/// use xnonce_core::params::text_from_f64;
/// assert_eq!(text_from_f64(3.0).unwrap(), "3");
/// assert_eq!(text_from_f64(0.1).unwrap(), "0.1");
/// assert!(text_from_f64(f64::NAN).is_err());
/// ```
pub fn text_from_f64(x: f64) -> Result<String> {
    if !x.is_finite() {
        return err(
            ErrorCode::InvalidParamValue,
            "NaN and infinite numbers cannot be parameter values",
        );
    }
    if x == 0.0 {
        return Ok("0".to_string()); // -0 and 0 alike
    }
    Ok(format!("{x}"))
}

/// Splits a raw query string or form body into raw `(key, value)` pairs on `&` and the first
/// `=`; empty segments are skipped, a segment without `=` has an empty value.
pub fn split_raw(raw: &str) -> impl Iterator<Item = (&str, &str)> {
    // Byte searches: `&` and `=` are ASCII, so every cut is on a char boundary.
    let mut rest = raw;
    std::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        let end = rest.bytes().position(|b| b == b'&').unwrap_or(rest.len());
        let segment = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or("");
        if !segment.is_empty() {
            return Some(match segment.bytes().position(|b| b == b'=') {
                Some(i) => (&segment[..i], &segment[i + 1..]),
                None => (segment, ""),
            });
        }
    })
}

/// One form-encoded component as text: `+` is a space, `%XX` a byte, and the bytes must be
/// UTF-8 (`malformed_params`). Text without `%` or `+` is copied as it is (it is UTF-8).
fn form_text(raw: &str) -> Result<String> {
    if !raw.bytes().any(|b| b == b'%' || b == b'+') {
        return Ok(raw.to_string());
    }
    String::from_utf8(crate::percent::decode_form(raw)?).map_err(|_| {
        crate::Error::new(
            ErrorCode::MalformedParams,
            "parameter is not UTF-8 after decoding",
        )
    })
}

/// Reads the signed params of a request from its raw query string and raw form body, as the
/// given scheme's server does (PROTOCOL §11.1 step 4):
///
/// * v1 (em-secure-api): every pair whose raw key is `ottoken` left out; keys taken raw,
///   values form-decoded; query params first, then form params merged over them like a Ruby
///   `Hash#merge` (a repeated key keeps its first position) when a repeated key has the same
///   value. With a different value, the pair is kept as a second one, which no v1 signature
///   covers (signing or verifying the params is then `invalid_param_key`): em-secure-api took
///   the last value, so the other was never signed, yet an app reading the raw query would
///   see the first.
/// * v2: keys and values form-decoded, every pair kept (duplicates too; order is irrelevant)
///   but the credential's own: with `credential_pair` (the credential was read from the first
///   pair whose raw key is `ottoken`, query first), that pair is left out. Any other pair
///   whose key is `ottoken` stays, and no signature can cover it (a v2 key may not be
///   `ottoken`): an `ottoken` param never rides along unsigned.
///
/// ```
/// use xnonce_core::{params::from_query_and_form, Scheme};
/// let p = from_query_and_form(Scheme::V1, "a=2&b=x+y&ottoken=zz", Some("a=2&c=3"), true).unwrap();
/// assert_eq!(p, vec![("a".into(), "2".into()), ("b".into(), "x y".into()), ("c".into(), "3".into())]);
/// // A second value of a key stays, for the signature check to refuse:
/// let p = from_query_and_form(Scheme::V1, "a=1&a=2&a=1", None, true).unwrap();
/// assert_eq!(p, vec![("a".into(), "1".into()), ("a".into(), "2".into())]);
/// let p = from_query_and_form(Scheme::V2, "a=1&ottoken=zz&ottoke%6E=x", None, true).unwrap();
/// assert_eq!(p, vec![("a".into(), "1".into()), ("ottoken".into(), "x".into())]);
/// ```
pub fn from_query_and_form(
    scheme: Scheme,
    query: &str,
    form: Option<&str>,
    credential_pair: bool,
) -> Result<Params> {
    let pairs = split_raw(query).chain(form.into_iter().flat_map(split_raw));
    // At most one pair per `&`-separated segment.
    let segments = |raw: &str| raw.bytes().filter(|&b| b == b'&').count() + 1;
    let mut out: Params = Vec::with_capacity(segments(query) + form.map_or(0, segments));
    // v1's merge looks each key up among those already read: a scan while there are few (no
    // allocation for the usual handful), a map from V1_INDEX_FROM keys on, so that a request
    // with n params costs O(n), not O(n²) — params are read before the client is known.
    let mut index: Option<HashMap<String, usize>> = None;
    let mut credential_left_out = !credential_pair;
    for (k, v) in pairs {
        match scheme {
            Scheme::V1 => {
                if k == crate::ottoken::PARAM {
                    continue;
                }
                let v = form_text(v)?;
                let found = match &index {
                    Some(map) => map.get(k).copied(),
                    None => out.iter().position(|(ek, _)| ek == k),
                };
                match (found, &mut index) {
                    // Merged only when the value is the same. em-secure-api kept the last
                    // value, so another rode along unsigned, and an app reading the first of
                    // a repeated key (most frameworks) or the query apart from the form acted
                    // on it: kept as a second pair, which no v1 signature can cover
                    // (`invalid_param_key` when the params are signed or verified).
                    (Some(i), _) if out[i].1 != v => out.push((k.to_string(), v)),
                    (Some(_), _) => {}
                    (None, Some(map)) => {
                        map.insert(k.to_string(), out.len());
                        out.push((k.to_string(), v));
                    }
                    (None, None) => {
                        out.push((k.to_string(), v));
                        if out.len() >= V1_INDEX_FROM {
                            // A key's first pair: the one a repeat is compared with.
                            let mut map = HashMap::with_capacity(out.len());
                            for (i, (k, _)) in out.iter().enumerate() {
                                map.entry(k.clone()).or_insert(i);
                            }
                            index = Some(map);
                        }
                    }
                }
            }
            Scheme::V2 => {
                if !credential_left_out && k == crate::ottoken::PARAM {
                    credential_left_out = true;
                    continue;
                }
                out.push((form_text(k)?, form_text(v)?));
            }
        }
    }
    Ok(out)
}

/// Finds the raw (still form-encoded) `ottoken` value in a query string or form body.
pub fn find_ottoken<'a>(query: &'a str, form: Option<&'a str>) -> Option<&'a str> {
    split_raw(query)
        .chain(form.into_iter().flat_map(split_raw))
        .find(|(k, _)| *k == crate::ottoken::PARAM)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical;

    /// A value made only of `+` or `%` is decoded like any other.
    #[test]
    fn lone_escape_characters_are_decoded() {
        for scheme in [Scheme::V1, Scheme::V2] {
            let p = from_query_and_form(scheme, "k=+&j=%2B", None, false).unwrap();
            assert_eq!(p, [("k".into(), " ".into()), ("j".into(), "+".into())]);
            let e = from_query_and_form(scheme, "k=%", None, false).unwrap_err();
            assert_eq!(e.code(), ErrorCode::MalformedParams, "{scheme}");
        }
        let p = from_query_and_form(Scheme::V2, "+=1", None, false).unwrap();
        assert_eq!(p, [(" ".into(), "1".into())]);
    }

    #[test]
    fn bool_and_integer_text_is_fixed() {
        assert_eq!(text_from_bool(true), "true");
        assert_eq!(text_from_bool(false), "false");
        assert_eq!(text_from_i128(0), "0");
        assert_eq!(text_from_i128(-42), "-42");
        assert_eq!(
            text_from_i128(i128::MIN),
            "-170141183460469231731687303715884105728"
        );
    }

    #[test]
    fn float_text_is_fixed() {
        assert_eq!(text_from_f64(1e21).unwrap(), "1000000000000000000000");
        assert_eq!(text_from_f64(1e-7).unwrap(), "0.0000001");
        assert_eq!(text_from_f64(-0.0).unwrap(), "0");
        assert_eq!(text_from_f64(-2.5).unwrap(), "-2.5");
        assert_eq!(
            text_from_f64(f64::INFINITY).unwrap_err().code(),
            ErrorCode::InvalidParamValue
        );
    }

    /// v1's merge, written the obvious way: the reference for the indexed one (a repeat with
    /// the first occurrence's value merged, any other kept).
    fn v1_merge_by_scan(pairs: &[(String, String)]) -> Params {
        let mut out: Params = Vec::new();
        for (k, v) in pairs {
            match out.iter().find(|(ek, _)| ek == k) {
                Some((_, ev)) if ev == v => {}
                _ => out.push((k.clone(), v.clone())),
            }
        }
        out
    }

    #[test]
    fn v1_merge_keeps_first_positions_and_a_second_value_apart_with_many_keys() {
        // Around and far beyond the switch to the map: repeats before and after it, in the
        // query and in the form, with the ottoken left out; then the same with one repeat
        // carrying another value, early or late.
        for n in [
            1,
            V1_INDEX_FROM - 1,
            V1_INDEX_FROM,
            V1_INDEX_FROM + 1,
            5_000,
        ] {
            let key = |i: usize| format!("k{}", (i * 7) % (n / 2 + 1));
            let query: Vec<String> = (0..n).map(|i| format!("{0}=v{0}", key(i))).collect();
            let form: Vec<String> = (0..n).map(|i| format!("{0}=v{0}", key(i * 3))).collect();
            let split = |query: &str, form: &str| -> Vec<(String, String)> {
                split_raw(query)
                    .chain(split_raw(form))
                    .filter(|(k, _)| *k != crate::ottoken::PARAM)
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            };
            let (q, f) = (query.join("&") + "&ottoken=x", form.join("&"));
            let got = from_query_and_form(Scheme::V1, &q, Some(&f), false).unwrap();
            let merged = v1_merge_by_scan(&split(&q, &f));
            assert_eq!(got, merged, "n = {n}");
            for at in [0, n - 1] {
                let mut form = form.clone();
                form[at] = format!("{}=other", key(at * 3));
                let f = form.join("&");
                let got = from_query_and_form(Scheme::V1, &q, Some(&f), false).unwrap();
                assert_eq!(got, v1_merge_by_scan(&split(&q, &f)), "n = {n}, at {at}");
                assert_eq!(got.len(), merged.len() + 1, "n = {n}, at {at}");
                let e = canonical::v1::prefix("GET", "/", &got, "c").unwrap_err();
                assert_eq!(e.code(), ErrorCode::InvalidParamKey, "n = {n}, at {at}");
            }
        }
        // A repeat is compared with the key's first pair, also once the map is in use.
        let many: Vec<String> = (0..V1_INDEX_FROM).map(|i| format!("n{i}=v")).collect();
        let q = format!("x=1&x=2&{}&x=1&x=3", many.join("&"));
        let got = from_query_and_form(Scheme::V1, &q, None, false).unwrap();
        let xs: Vec<&str> = got
            .iter()
            .filter(|(k, _)| k == "x")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(xs, ["1", "2", "3"]);
        // The same value spelled two ways is the same value.
        let p = from_query_and_form(Scheme::V1, "a=x+y", Some("a=x%20y"), false).unwrap();
        assert_eq!(p, vec![("a".to_string(), "x y".to_string())]);
    }

    /// v2 leaves out the credential's own pair only (the first raw `ottoken`, query before
    /// form); v1 leaves out every raw `ottoken`, as em-secure-api did.
    #[test]
    fn only_the_credential_pair_is_left_out_of_v2_params() {
        let (query, form) = ("a=1&ottoken=t1&ottoke%6E=x", Some("ottoken=t2&b=2"));
        let v2 = |credential_pair| from_query_and_form(Scheme::V2, query, form, credential_pair);
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            v2(true).unwrap(),
            [
                pair("a", "1"),
                pair("ottoken", "x"),
                pair("ottoken", "t2"),
                pair("b", "2")
            ]
        );
        assert_eq!(
            v2(false).unwrap(),
            [
                pair("a", "1"),
                pair("ottoken", "t1"),
                pair("ottoken", "x"),
                pair("ottoken", "t2"),
                pair("b", "2")
            ]
        );
        // The credential in the form body: the query's ottoken-named pairs stay.
        let p = from_query_and_form(Scheme::V2, "ottoke%6E=x", Some("ottoken=t2"), true).unwrap();
        assert_eq!(p, [pair("ottoken", "x")]);
        for credential_pair in [true, false] {
            let p = from_query_and_form(Scheme::V1, query, form, credential_pair).unwrap();
            assert_eq!(p, [pair("a", "1"), pair("ottoke%6E", "x"), pair("b", "2")]);
        }
    }

    #[test]
    fn v2_keeps_duplicates_and_decodes_keys() {
        let p = from_query_and_form(Scheme::V2, "a%20b=1&a%20b=2&&x", None, false).unwrap();
        assert_eq!(
            p,
            vec![
                ("a b".into(), "1".into()),
                ("a b".into(), "2".into()),
                ("x".into(), "".into())
            ]
        );
        assert_eq!(
            from_query_and_form(Scheme::V2, "a=%ff", None, false)
                .unwrap_err()
                .code(),
            ErrorCode::MalformedParams
        );
        assert_eq!(
            from_query_and_form(Scheme::V2, "a=%f", None, false)
                .unwrap_err()
                .code(),
            ErrorCode::MalformedParams
        );
    }
}
