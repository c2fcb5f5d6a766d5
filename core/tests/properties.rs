//! Property tests of the core's central claims.

use proptest::prelude::*;
use xnonce_core::percent::{decode_form, decode_path};
use xnonce_core::{
    canonical, ottoken, params::from_query_and_form, sign_header_value_with, sign_header_with,
    sign_with, FixedEnvironment, Incoming, Scheme, Secret, SignInput, Verifier, XNonce,
};

const SECRET: &str = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd";

fn env() -> FixedEnvironment {
    FixedEnvironment {
        now_ms: 1_700_000_000_000,
        nonce: [9; 16],
    }
}

fn any_text() -> impl Strategy<Value = String> {
    // Mix of ASCII specials that matter to the encodings and arbitrary Unicode.
    prop_oneof![
        "[a-z0-9]{0,6}",
        "[ &=+%/?#~._\\-\\n]{0,6}",
        any::<String>().prop_map(|s| s.chars().take(8).collect()),
    ]
}

fn key() -> impl Strategy<Value = String> {
    any_text().prop_filter("non-empty, not reserved", |k| {
        !k.is_empty() && k != "ottoken"
    })
}

fn client() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.~-]{1,20}"
}

fn host() -> impl Strategy<Value = String> {
    "[a-z0-9.-]{1,20}(:[0-9]{1,5})?".prop_filter("has a name", |h| !h.starts_with(':'))
}

fn path() -> impl Strategy<Value = String> {
    proptest::collection::vec("[A-Za-z0-9 ._~!$'()*,;:@é%-]{0,8}", 1..4).prop_map(|segs| {
        // Keep `%` only as valid escapes: replace a lone % with %25.
        let raw = format!("/{}", segs.join("/"));
        raw.replace('%', "%25")
    })
}

#[derive(Debug, Clone)]
struct Req {
    method: String,
    host: String,
    path: String,
    params: Vec<(String, String)>,
    body: Vec<u8>,
    client: String,
    ts: u64,
    nonce: String,
}

fn req() -> impl Strategy<Value = Req> {
    (
        "[A-Za-z]{1,8}",
        host(),
        path(),
        proptest::collection::vec((key(), any_text()), 0..6),
        proptest::collection::vec(any::<u8>(), 0..16),
        client(),
        0u64..(1 << 53),
        "[0-9a-f]{32}",
    )
        .prop_map(
            |(method, host, path, params, body, client, ts, nonce)| Req {
                method,
                host,
                path,
                params,
                body,
                client,
                ts,
                nonce,
            },
        )
}

fn v2_canonical(r: &Req) -> String {
    canonical::v2::canonical(&canonical::v2::Fields {
        method: &r.method,
        host: &r.host,
        path: &r.path,
        params: &r.params,
        body: &r.body,
        client: &r.client,
        timestamp_ms: r.ts,
        nonce: &r.nonce,
    })
    .expect("generated requests are valid")
}

/// Reads the fields back out of a v2 canonical string: a left inverse, so the map is injective.
/// method, host, path bytes, param byte pairs, body digest, client, timestamp, nonce.
type CanonicalFields = (
    String,
    String,
    Vec<u8>,
    Vec<(Vec<u8>, Vec<u8>)>,
    String,
    String,
    u64,
    String,
);

fn parse_v2(c: &str) -> CanonicalFields {
    let lines: Vec<&str> = c.split('\n').collect();
    assert_eq!(lines.len(), 9, "exactly nine lines");
    assert_eq!(lines[0], "XNONCE-V2");
    let params = if lines[4].is_empty() {
        vec![]
    } else {
        lines[4]
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').expect("k=v");
                (decode_path(k).unwrap(), decode_path(v).unwrap())
            })
            .collect()
    };
    (
        lines[1].to_string(),
        lines[2].to_string(),
        decode_path(lines[3]).unwrap(),
        params,
        lines[5].to_string(),
        lines[6].to_string(),
        lines[7].parse().unwrap(),
        lines[8].to_string(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every field of a request can be read back from its v2 canonical string (so two
    /// requests that differ after normalisation never share one).
    #[test]
    fn v2_canonical_is_injective(r in req()) {
        let c = v2_canonical(&r);
        let (method, host, path, mut params, body, client, ts, nonce) = parse_v2(&c);
        prop_assert_eq!(method, r.method.to_ascii_uppercase());
        prop_assert_eq!(host, canonical::host(&r.host).unwrap());
        prop_assert_eq!(path, decode_path(&r.path).unwrap());
        let mut expected: Vec<(Vec<u8>, Vec<u8>)> =
            r.params.iter().map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec())).collect();
        expected.sort();
        params.sort();
        prop_assert_eq!(params, expected);
        prop_assert_eq!(body, canonical::v2::body_digest(&r.body));
        prop_assert_eq!(client, r.client.clone());
        prop_assert_eq!(ts, r.ts);
        prop_assert_eq!(nonce, r.nonce.clone());
    }

    /// Two different requests (after normalisation) never share a canonical string.
    #[test]
    fn v2_distinct_requests_distinct_canonicals(a in req(), b in req()) {
        let (ca, cb) = (v2_canonical(&a), v2_canonical(&b));
        if ca == cb {
            prop_assert_eq!(parse_v2(&ca), parse_v2(&cb));
        }
    }

    /// v2 signatures do not depend on parameter order; v1 signatures do.
    #[test]
    fn v2_ignores_param_order_v1_does_not(
        params in proptest::collection::vec(("[a-z]{1,4}", any_text()), 2..6),
        rotate in 1usize..5,
    ) {
        let secret = Secret::new(SECRET).unwrap();
        let mut shuffled = params.clone();
        shuffled.rotate_left(rotate % params.len());
        let mk = |scheme, p: &Vec<(String, String)>| {
            let input = SignInput::new(scheme, "GET", "/c/a", "client").params(p.clone()).host("h").timestamp_ms(1);
            sign_with(&input, &secret, &env()).unwrap().x_nonce
        };
        prop_assert_eq!(mk(Scheme::V2, &params), mk(Scheme::V2, &shuffled));
        // v1 refuses a repeated key (PROTOCOL §3.6): number the keys apart.
        let distinct = |p: &Vec<(String, String)>| -> Vec<(String, String)> {
            p.iter().enumerate().map(|(i, (k, v))| (format!("{k}{i}"), v.clone())).collect()
        };
        let (params, mut shuffled) = (distinct(&params), distinct(&params));
        shuffled.rotate_left(rotate % params.len());
        if shuffled != params {
            prop_assert_ne!(mk(Scheme::V1, &params), mk(Scheme::V1, &shuffled));
        }
    }

    /// parse(format(h)) == h, for headers and for ottokens, in both schemes.
    #[test]
    fn headers_and_ottokens_round_trip(
        client in client(), ts in 0u64..(1 << 53), token in "[0-9a-f]{64}", nonce in "[0-9a-f]{32}", v2 in any::<bool>(),
    ) {
        let h = if v2 {
            XNonce::V2 { client, timestamp_ms: ts, nonce, signature: token }
        } else {
            XNonce::V1 { token, client, timestamp_ms: ts }
        };
        prop_assert_eq!(XNonce::parse(&h.to_string()).unwrap(), h.clone());
        let t = ottoken::encode(&h);
        prop_assert_eq!(ottoken::decode(&t).unwrap(), h.clone());
        // The query form decodes back to the same token.
        let q = ottoken::query_value(&t);
        prop_assert_eq!(String::from_utf8(decode_form(&q).unwrap()).unwrap(), t.clone());
        if v2 {
            prop_assert_eq!(q, t, "v2 ottokens need no escaping");
        }
    }

    /// The parsers and the verifier never panic on arbitrary input.
    #[test]
    fn parsers_never_panic(s in any::<String>(), bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = XNonce::parse(&s);
        let _ = ottoken::decode(&s);
        let _ = from_query_and_form(Scheme::V1, &s, Some(&s), true);
        let _ = from_query_and_form(Scheme::V2, &s, Some(&s), true);
        let _ = canonical::host(&s);
        let _ = canonical::path_v2(&s);
        let lossy = String::from_utf8_lossy(&bytes).into_owned();
        let secrets = |_: &str| vec![Secret::new(SECRET).unwrap()];
        let incoming = Incoming {
            method: &s,
            host: Some(&s),
            path: &s,
            query: &lossy,
            content_type: Some("application/x-www-form-urlencoded"),
            body: &bytes,
            x_nonce: Some(&s),
        };
        let _ = Verifier::new().verify(&incoming, &secrets, 0);
        let _ = Verifier::new().verify(&Incoming { x_nonce: None, ..incoming }, &secrets, 0);
    }

    /// A correctly signed request verifies, and any change to a signed field is refused.
    #[test]
    fn signed_requests_verify_and_tampering_fails(r in req(), flip in 0usize..4) {
        let secret = Secret::new(SECRET).unwrap();
        let input = SignInput::new(Scheme::V2, r.method.clone(), r.path.clone(), r.client.clone())
            .params(r.params.clone()).host(r.host.clone()).timestamp_ms(r.ts).nonce(r.nonce.clone());
        let signed = sign_with(&input, &secret, &env()).unwrap();
        let query: Vec<String> = r.params.iter().map(|(k, v)| format!("{}={}",
            xnonce_core::percent::encode_rfc3986(k.as_bytes()), xnonce_core::percent::encode_rfc3986(v.as_bytes()))).collect();
        let query = query.join("&");
        let secrets = |_: &str| vec![Secret::new(SECRET).unwrap()];
        let ok = Incoming { method: &r.method, host: Some(&r.host), path: &r.path, query: &query,
            content_type: None, body: &[], x_nonce: Some(&signed.x_nonce) };
        let v = Verifier::new().verify(&ok, &secrets, r.ts).unwrap();
        prop_assert_eq!(v.client, r.client.clone());
        let other_path = format!("{}x", r.path);
        let other_query = format!("{query}&zz=1");
        let tampered = match flip {
            0 => Incoming { method: if r.method.eq_ignore_ascii_case("PUT") { "GET" } else { "PUT" }, ..ok },
            1 => Incoming { path: &other_path, ..ok },
            2 => Incoming { query: &other_query, ..ok },
            _ => Incoming { host: Some("other.invalid"), ..ok },
        };
        let e = Verifier::new().verify(&tampered, &secrets, r.ts).unwrap_err();
        prop_assert_eq!(e.code().as_str(), "signature_mismatch");
    }

    /// A target in absolute form reads as the same request in origin form sent to its
    /// authority, whatever the Host field says (RFC 9112 §3.2.2).
    #[test]
    fn absolute_form_reads_as_origin_form_to_its_authority(
        r in req(), query in "[a-z=&:/?%.]{0,16}", https in any::<bool>(),
    ) {
        let origin = if query.is_empty() { r.path.clone() } else { format!("{}?{query}", r.path) };
        let absolute = format!("{}://{}{origin}", if https { "https" } else { "http" }, r.host);
        let a = Incoming::new(&r.method, &absolute).host_header(Some("field.invalid"));
        let o = Incoming::new(&r.method, &origin).host_header(Some(&r.host));
        prop_assert_eq!((a.host, a.path, a.query), (o.host, o.path, o.query));
    }

    /// The three signing entry points write the same header for every request, both schemes
    /// (the header-only paths hash v1's secret in place instead of building the canonical
    /// string, so they are separate code).
    #[test]
    fn header_only_signing_agrees_with_full_signing(r in req(), v1 in any::<bool>()) {
        let secret = Secret::new(SECRET).unwrap();
        let scheme = if v1 { Scheme::V1 } else { Scheme::V2 };
        let input = SignInput::new(scheme, r.method.clone(), r.path.clone(), r.client.clone())
            .params(r.params.clone()).host(r.host.clone()).timestamp_ms(r.ts).nonce(r.nonce.clone());
        match sign_with(&input, &secret, &env()) {
            Ok(full) => {
                prop_assert_eq!(&sign_header_with(&input, &secret, &env()).unwrap(), &full.header);
                prop_assert_eq!(sign_header_value_with(&input, &secret, &env()).unwrap(), full.x_nonce);
            }
            Err(e) => {
                prop_assert_eq!(sign_header_with(&input, &secret, &env()).unwrap_err().code(), e.code());
                prop_assert_eq!(sign_header_value_with(&input, &secret, &env()).unwrap_err().code(), e.code());
            }
        }
    }

    /// The v2 parameter line sorts by the ENCODED pairs (it compares encodings without
    /// building them): the same as encoding every pair, sorting, and joining.
    #[test]
    fn v2_params_sort_by_their_encodings(
        params in proptest::collection::vec((key(), any_text()), 0..24),
    ) {
        let enc = |s: &str| xnonce_core::percent::encode_rfc3986(s.as_bytes());
        let mut reference: Vec<(String, String)> =
            params.iter().map(|(k, v)| (enc(k), enc(v))).collect();
        reference.sort();
        let reference: Vec<String> = reference.iter().map(|(k, v)| format!("{k}={v}")).collect();
        prop_assert_eq!(canonical::params_v2(&params).unwrap(), reference.join("&"));
    }

    /// The borrowing path splitter agrees with em-secure-api's definition (non-empty segments;
    /// the last is the action, the rest joined with `/` the controller).
    #[test]
    fn path_split_matches_the_segment_definition(path in "[/ab.]{0,12}") {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let expected = match segments.split_last() {
            Some((action, controller)) => (controller.join("/"), action.to_string()),
            None => (String::new(), String::new()),
        };
        let (c, a) = xnonce_core::routes::split_path_borrowed(&path);
        prop_assert_eq!((c.into_owned(), a.into_owned()), expected);
    }
}
