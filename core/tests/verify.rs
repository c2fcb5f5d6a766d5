//! Verifier behaviour: every step of docs/PROTOCOL.md's verification order.

use std::collections::HashMap;

use xnonce_core::percent::cgi_escape;
use xnonce_core::{
    link_with, sign_with, ErrorCode, FixedEnvironment, Incoming, MemoryReplayStore, Scheme, Secret,
    SignInput, Verifier, WindowPolicy,
};

const S1: &str = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd";
const S2: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const NOW: u64 = 1_700_000_000_000;

fn env() -> FixedEnvironment {
    FixedEnvironment {
        now_ms: NOW,
        nonce: [3; 16],
    }
}

fn clients() -> HashMap<String, Vec<Secret>> {
    HashMap::from([
        ("svc".to_string(), vec![Secret::new(S1).unwrap()]),
        (
            "rotating".to_string(),
            vec![Secret::new(S2).unwrap(), Secret::new(S1).unwrap()],
        ),
    ])
}

/// The `X-Nonce` of a v2 `GET /c/a` for host `api.test`, in `client`'s name, signed with `secret`.
fn signed_get_c_a(client: &str, secret: &str) -> String {
    let input = SignInput {
        client: client.into(),
        ..v2("/c/a")
    };
    sign_with(&input, &Secret::new(secret).unwrap(), &env())
        .unwrap()
        .x_nonce
}

fn v2(path: &str) -> SignInput {
    SignInput::new(Scheme::V2, "GET", path, "svc")
        .host("api.test")
        .timestamp_ms(NOW)
}

fn code(r: Result<xnonce_core::Verified, xnonce_core::Error>) -> &'static str {
    r.unwrap_err().code().as_str()
}

#[test]
fn v1_ground_truth_requests_verify_as_the_ruby_server_reads_them() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../conformance/vectors/em-secure-api-v1.json"
    ))
    .unwrap();
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    for c in &cases {
        let secret = Secret::new(c["secret"].as_str().unwrap()).unwrap();
        let client = c["client"].as_str().unwrap().to_string();
        let src = HashMap::from([(client, secret)]);
        let query: Vec<String> = c["params"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                format!(
                    "{}={}",
                    p[0].as_str().unwrap(),
                    cgi_escape(p[1].as_str().unwrap())
                )
            })
            .collect();
        let target = format!("{}?{}", c["path"].as_str().unwrap(), query.join("&"));
        let ts = c["timestamp"].as_u64().unwrap();
        let req = Incoming::new(c["method"].as_str().unwrap(), &target)
            .x_nonce(c["x_nonce"].as_str().unwrap());
        let v = Verifier::new()
            .verify(&req, &src, ts + 1_000)
            .unwrap_or_else(|e| panic!("{}: {e}", c["id"]));
        assert_eq!(v.scheme, Scheme::V1);
        // The same request through its ottoken, in the query.
        let with_token = format!(
            "{target}&ottoken={}",
            c["ottoken_query_value"].as_str().unwrap()
        );
        let v = Verifier::new()
            .verify(
                &Incoming::new(c["method"].as_str().unwrap(), &with_token),
                &src,
                ts,
            )
            .unwrap();
        assert!(v.via_ottoken);
    }
}

#[test]
fn v1_form_params_merge_over_query_like_ruby_hash_merge() {
    let secret = Secret::new(S1).unwrap();
    // The server reads query a=9,b=2 then form a=9,c=3 → signed order a=9, b=2, c=3.
    let input = SignInput::new(Scheme::V1, "POST", "/c/a", "svc")
        .params([("a", "9"), ("b", "2"), ("c", "3")])
        .timestamp_ms(NOW);
    let signed = sign_with(&input, &secret, &env()).unwrap();
    let req = Incoming::new("POST", "/c/a?a=9&b=2")
        .x_nonce(&signed.x_nonce)
        .body(
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            b"a=9&c=3",
        );
    assert!(Verifier::new().verify(&req, &clients(), NOW).is_ok());
}

/// A signed param moved from a GET's query into a form body verified (the form's fields are
/// params, and v2 signs query and form as one list), yet many applications read no form on a
/// GET or DELETE and acted without it. Forms are read on POST, PUT and PATCH only (PROTOCOL
/// §11.1 step 1); signing a request as sent refuses the same, and an empty form carries
/// nothing.
#[test]
fn a_form_body_counts_only_on_the_methods_that_carry_forms() {
    let secret = Secret::new(S1).unwrap();
    // The X-Nonce of `method /c/a` with `limit=10`, and the request sending `target` with the
    // form `body`.
    let signed = |scheme, method| {
        let input = SignInput::new(scheme, method, "/c/a", "svc")
            .params([("limit", "10")])
            .host("api.test")
            .timestamp_ms(NOW);
        sign_with(&input, &secret, &env()).unwrap().x_nonce
    };
    fn sent<'a>(
        method: &'a str,
        target: &'a str,
        x_nonce: &'a str,
        body: &'a [u8],
    ) -> Incoming<'a> {
        Incoming::new(method, target)
            .host("api.test")
            .x_nonce(x_nonce)
            .body(Some("application/x-www-form-urlencoded"), body)
    }
    for (scheme, method) in [
        (Scheme::V1, "GET"),
        (Scheme::V2, "DELETE"),
        (Scheme::V2, "get"),
    ] {
        let x_nonce = signed(scheme, method);
        let moved = sent(method, "/c/a", &x_nonce, b"limit=10");
        let e = Verifier::new().verify(&moved, &clients(), NOW).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidBody, "{method}");
        let unsigned = SignInput::for_request(scheme, &moved, "svc").unwrap_err();
        assert_eq!(unsigned.code(), ErrorCode::InvalidBody);
        // In the query, with an empty form body: what was signed.
        let as_signed = sent(method, "/c/a?limit=10", &x_nonce, b"");
        let ok = Verifier::new().verify(&as_signed, &clients(), NOW);
        assert!(ok.is_ok(), "{method}");
    }
    for method in ["POST", "PUT", "patch"] {
        let x_nonce = signed(Scheme::V2, method);
        let req = sent(method, "/c/a", &x_nonce, b"limit=10");
        let ok = Verifier::new().verify(&req, &clients(), NOW);
        assert!(ok.is_ok(), "{method}");
    }
}

/// em-secure-api's merge took a repeated key's last value, so another value of a signed key
/// could be added unsigned while the key kept its first position: `?to=mallory&to=alice` on a
/// request signed for `to=alice`, or `?to=mallory` on a form POST signed for `to=alice`. Apps
/// read the first value, or the query apart from the form: the second value is kept apart
/// and no v1 signature covers a repeated key (PROTOCOL §11.1 step 4): `invalid_param_key`,
/// answered as em-secure-api answered a tampered request.
#[test]
fn v1_refuses_an_unsigned_second_value_for_a_signed_key() {
    let secret = Secret::new(S1).unwrap();
    let signed = |m: &str| {
        let input = SignInput::new(Scheme::V1, m, "/pay/send", "svc")
            .params([("to", "alice"), ("amount", "5")])
            .timestamp_ms(NOW);
        sign_with(&input, &secret, &env()).unwrap().x_nonce
    };
    let g = signed("GET");
    let honest = Incoming::new("GET", "/pay/send?to=alice&amount=5").x_nonce(&g);
    assert!(Verifier::new().verify(&honest, &clients(), NOW).is_ok());
    let added = Incoming::new("GET", "/pay/send?to=mallory&to=alice&amount=5").x_nonce(&g);
    let e = Verifier::new().verify(&added, &clients(), NOW).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidParamKey);
    let answer = xnonce_core::answer::v1_answer(e.code(), e.message());
    assert_eq!(answer, (401, "ottoken does not match".to_string()));
    // The same value twice is one value.
    let twice = Incoming::new("GET", "/pay/send?to=alice&to=alice&amount=5").x_nonce(&g);
    assert!(Verifier::new().verify(&twice, &clients(), NOW).is_ok());
    let p = signed("POST");
    let form = "application/x-www-form-urlencoded";
    let post = |target| {
        Incoming::new("POST", target)
            .x_nonce(&p)
            .body(Some(form), b"to=alice&amount=5")
    };
    assert!(Verifier::new()
        .verify(&post("/pay/send"), &clients(), NOW)
        .is_ok());
    let e = Verifier::new()
        .verify(&post("/pay/send?to=mallory"), &clients(), NOW)
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidParamKey);
}

#[test]
fn rotation_accepts_any_live_secret_and_reports_which() {
    let for_old = sign_with(
        &SignInput {
            client: "rotating".into(),
            ..v2("/c/a")
        },
        &Secret::new(S1).unwrap(),
        &env(),
    )
    .unwrap();
    let for_new = sign_with(
        &SignInput {
            client: "rotating".into(),
            ..v2("/c/a")
        },
        &Secret::new(S2).unwrap(),
        &env(),
    )
    .unwrap();
    let old = Verifier::new()
        .verify(
            &Incoming::new("GET", "/c/a")
                .host("api.test")
                .x_nonce(&for_old.x_nonce),
            &clients(),
            NOW,
        )
        .unwrap();
    let new = Verifier::new()
        .verify(
            &Incoming::new("GET", "/c/a")
                .host("api.test")
                .x_nonce(&for_new.x_nonce),
            &clients(),
            NOW,
        )
        .unwrap();
    assert_eq!((old.secret_index, new.secret_index), (1, 0));
    // Every live secret is tried, and the first that matches is the one reported (PROTOCOL
    // §11.1 step 6): a secret listed twice is reported at its first place.
    let twice = HashMap::from([(
        "rotating".to_string(),
        vec![Secret::new(S1).unwrap(), Secret::new(S1).unwrap()],
    )]);
    for input in [
        SignInput::new(Scheme::V1, "GET", "/c/a", "rotating"),
        v2("/c/a"),
    ] {
        let input = SignInput {
            client: "rotating".into(),
            ..input
        };
        let s = sign_with(&input, &Secret::new(S1).unwrap(), &env()).unwrap();
        let req = Incoming::new("GET", "/c/a")
            .host("api.test")
            .x_nonce(&s.x_nonce);
        let v = Verifier::new().verify(&req, &twice, NOW).unwrap();
        assert_eq!(v.secret_index, 0, "{:?}", input.scheme);
    }
}

#[test]
fn each_step_has_its_code() {
    let s = sign_with(&v2("/c/a"), &Secret::new(S1).unwrap(), &env()).unwrap();
    let ok = Incoming::new("GET", "/c/a")
        .host("api.test")
        .x_nonce(&s.x_nonce);
    let v = Verifier::new();
    assert_eq!(
        code(v.verify(
            &Incoming {
                x_nonce: None,
                ..ok
            },
            &clients(),
            NOW
        )),
        "missing_header"
    );
    assert_eq!(
        code(v.verify(
            &Incoming {
                x_nonce: Some("nope"),
                ..ok
            },
            &clients(),
            NOW
        )),
        "malformed_header"
    );
    assert_eq!(
        code(v.verify(
            &Incoming::new("GET", "/c/a?ottoken=%%%").host("api.test"),
            &clients(),
            NOW
        )),
        "malformed_ottoken"
    );
    assert_eq!(
        code(
            Verifier::new()
                .schemes(&[Scheme::V1])
                .unwrap()
                .verify(&ok, &clients(), NOW)
        ),
        "unsupported_scheme"
    );
    assert_eq!(
        code(v.verify(
            &Incoming {
                query: "a=%zz",
                ..ok
            },
            &clients(),
            NOW
        )),
        "malformed_params"
    );
    let stranger = sign_with(
        &SignInput {
            client: "stranger".into(),
            ..v2("/c/a")
        },
        &Secret::new(S1).unwrap(),
        &env(),
    )
    .unwrap();
    assert_eq!(
        code(v.verify(
            &Incoming {
                x_nonce: Some(&stranger.x_nonce),
                ..ok
            },
            &clients(),
            NOW
        )),
        "unknown_client"
    );
    assert_eq!(
        code(v.verify(
            &Incoming {
                method: "POST",
                ..ok
            },
            &clients(),
            NOW
        )),
        "signature_mismatch"
    );
    assert_eq!(
        code(v.verify(&Incoming { host: None, ..ok }, &clients(), NOW)),
        "invalid_host"
    );
    assert_eq!(code(v.verify(&ok, &clients(), NOW + 30_001)), "expired");
    assert_eq!(code(v.verify(&ok, &clients(), NOW - 30_001)), "expired");
    assert!(v.verify(&ok, &clients(), NOW + 30_000).is_ok());
    assert!(v.verify(&ok, &clients(), NOW - 30_000).is_ok());
}

#[test]
fn stale_rejections_carry_an_authenticated_server_time() {
    let secret = Secret::new(S1).unwrap();
    let s = sign_with(&v2("/c/a"), &secret, &env()).unwrap();
    let req = Incoming::new("GET", "/c/a")
        .host("api.test")
        .x_nonce(&s.x_nonce);
    let err = Verifier::new()
        .verify(&req, &clients(), NOW + 600_000)
        .unwrap_err();
    let hint = err.server_time().expect("hint");
    assert_eq!(hint.server_time_ms, NOW + 600_000);
    assert!(hint.authenticate(&secret, "svc", s.header.request_id()));
    assert!(!hint.authenticate(&Secret::new(S2).unwrap(), "svc", s.header.request_id()));
    assert!(!hint.authenticate(&secret, "svc", "00000000000000000000000000000000"));
    let parsed = xnonce_core::ServerTimeHint::parse(&hint.to_string()).unwrap();
    assert_eq!(&parsed, hint);
    // Issued with the matched secret (§12): a client of two live secrets that signed with the
    // second ("rotating" holds S2, then S1) authenticates the hint with the one it holds.
    let x_nonce = signed_get_c_a("rotating", S1);
    let rotating = Incoming::new("GET", "/c/a")
        .host("api.test")
        .x_nonce(&x_nonce);
    let err = Verifier::new()
        .verify(&rotating, &clients(), NOW + 600_000)
        .unwrap_err();
    let request_id = xnonce_core::XNonce::parse(&x_nonce).unwrap();
    let hint = err.server_time().expect("hint");
    assert!(hint.authenticate(&secret, "rotating", request_id.request_id()));
    // Tampered requests get no hint: a signature failure comes first.
    let bad = Verifier::new()
        .verify(
            &Incoming {
                method: "PUT",
                ..req
            },
            &clients(),
            NOW + 600_000,
        )
        .unwrap_err();
    assert!(bad.server_time().is_none());
}

#[test]
fn windows_follow_controller_and_action_overrides_and_set_the_replay_lifetime() {
    let verifier = Verifier::new()
        .windows(
            WindowPolicy::new(30_000)
                .controller("slow", 120_000)
                .action("slow", "fast", 1_000),
        )
        .unwrap();
    let secret = Secret::new(S1).unwrap();
    for (path, window) in [
        ("/slow/any", 120_000u64),
        ("/slow/fast", 1_000),
        ("/other/x", 30_000),
    ] {
        let s = sign_with(&v2(path), &secret, &env()).unwrap();
        let req = Incoming::new("GET", path)
            .host("api.test")
            .x_nonce(&s.x_nonce);
        let v = verifier.verify(&req, &clients(), NOW + window).unwrap();
        assert_eq!(v.remember_until_ms, NOW + window, "{path}");
        assert_eq!(
            code(verifier.verify(&req, &clients(), NOW + window + 1)),
            "expired",
            "{path}"
        );
    }
}

#[test]
fn verify_once_accepts_once_and_links_work_once() {
    let secret = Secret::new(S1).unwrap();
    let store = MemoryReplayStore::new();
    let link = link_with(
        &v2("/files/fetch").param("name", "a b.pdf"),
        &secret,
        "http://api.test",
        &env(),
    )
    .unwrap();
    let target = link.url.strip_prefix("http://api.test").unwrap();
    let req = Incoming::new("GET", target).host("api.test");
    let v = Verifier::new()
        .verify_once(&req, &clients(), &store, NOW)
        .unwrap();
    assert!(v.via_ottoken);
    assert_eq!(v.params, vec![("name".to_string(), "a b.pdf".to_string())]);
    assert_eq!(v.replay_key, format!("v2:svc:{}", "03".repeat(16)));
    assert_eq!(
        code(Verifier::new().verify_once(&req, &clients(), &store, NOW)),
        "replayed"
    );
}

#[test]
fn store_failures_fail_closed() {
    struct Down;
    impl xnonce_core::ReplayStore for Down {
        fn insert_if_absent(
            &self,
            _: &xnonce_core::ReplayKey,
            _: u64,
            _: u64,
        ) -> Result<bool, xnonce_core::ReplayStoreError> {
            Err(xnonce_core::ReplayStoreError("connection refused".into()))
        }
    }
    let s = sign_with(&v2("/c/a"), &Secret::new(S1).unwrap(), &env()).unwrap();
    let req = Incoming::new("GET", "/c/a")
        .host("api.test")
        .x_nonce(&s.x_nonce);
    let e = Verifier::new()
        .verify_once(&req, &clients(), &Down, NOW)
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::StoreUnavailable);
    assert_eq!(e.code().http_status(), 503);
}

#[test]
fn v2_body_binding_and_form_bodies() {
    let secret = Secret::new(S1).unwrap();
    let s = sign_with(
        &SignInput {
            method: "POST".into(),
            ..v2("/c/a")
        }
        .body(br#"{"a":1}"#.to_vec()),
        &secret,
        &env(),
    )
    .unwrap();
    let ok = Incoming::new("POST", "/c/a")
        .host("api.test")
        .x_nonce(&s.x_nonce)
        .body(Some("application/json"), br#"{"a":1}"#);
    assert!(Verifier::new().verify(&ok, &clients(), NOW).is_ok());
    assert_eq!(
        code(Verifier::new().verify(
            &Incoming {
                body: br#"{"a":2}"#,
                ..ok
            },
            &clients(),
            NOW
        )),
        "signature_mismatch"
    );
    // A form body's fields are params (its digest is that of zero bytes).
    let f = sign_with(
        &SignInput {
            method: "POST".into(),
            ..v2("/c/a")
        }
        .param("x", "1 2"),
        &secret,
        &env(),
    )
    .unwrap();
    let form = Incoming::new("POST", "/c/a")
        .host("api.test")
        .x_nonce(&f.x_nonce)
        .body(Some("application/x-www-form-urlencoded"), b"x=1+2");
    assert!(Verifier::new().verify(&form, &clients(), NOW).is_ok());
}

#[test]
fn errors_never_show_secrets() {
    let secret = Secret::new(S1).unwrap();
    let s = sign_with(&v2("/c/a"), &secret, &env()).unwrap();
    let req = Incoming::new("GET", "/c/a")
        .host("api.test")
        .x_nonce(&s.x_nonce);
    for now in [NOW, NOW + 1_000_000] {
        if let Err(e) = Verifier::new().verify(
            &Incoming {
                method: "PUT",
                ..req
            },
            &clients(),
            now,
        ) {
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains(S1) && !shown.contains(&S1[..16]));
        }
    }
    assert!(!format!("{s:?}").contains(S1));
}

#[test]
fn escaped_paths_get_the_window_of_the_route_they_name() {
    let verifier = Verifier::new()
        .windows(WindowPolicy::new(30_000).action("reports", "live", 5_000))
        .unwrap();
    let secret = Secret::new(S1).unwrap();
    let s = sign_with(&v2("/report%73/live"), &secret, &env()).unwrap();
    let req = Incoming::new("GET", "/report%73/live")
        .host("api.test")
        .x_nonce(&s.x_nonce);
    assert_eq!(
        code(verifier.verify(&req, &clients(), NOW + 10_000)),
        "expired"
    );
    // PROTOCOL §11.3: a path that does not decode (a bad `%` escape) is split as received,
    // not treated as some other path (the empty one gets the default).
    let policy = WindowPolicy::new(30_000)
        .controller("reports", 120_000)
        .action("reports", "%zz", 5_000);
    assert_eq!(policy.window_for("/reports/%zz"), 5_000);
    assert_eq!(policy.window_for("/reports/live%4"), 120_000);
}

#[test]
fn time_hints_do_not_depend_on_the_case_of_the_hex_secret() {
    let lower = Secret::new(S1).unwrap();
    let upper = Secret::new(S1.to_uppercase()).unwrap();
    let hint = xnonce_core::ServerTimeHint::issue(&upper, "svc", "n", 5);
    assert!(hint.authenticate(&lower, "svc", "n"));
}

/// A source that only implements `secrets` (so the verifier goes through the default
/// `with_secrets`) verifies exactly like the map that lends its secrets: same matched secret
/// during rotation, same refusals.
#[test]
fn sources_that_copy_and_sources_that_lend_verify_alike() {
    struct Copying(HashMap<String, Vec<Secret>>);
    impl xnonce_core::SecretSource for Copying {
        fn secrets(&self, client: &str) -> Vec<Secret> {
            self.0.get(client).cloned().unwrap_or_default()
        }
    }
    let lending = clients();
    let copying = Copying(clients());
    let v = Verifier::new();
    for (client, secret) in [
        ("svc", S1),
        ("rotating", S1),
        ("rotating", S2),
        ("nobody", S1),
    ] {
        let x_nonce = signed_get_c_a(client, secret);
        let req = Incoming::new("GET", "/c/a")
            .host("api.test")
            .x_nonce(&x_nonce);
        let (a, b) = (v.verify(&req, &lending, NOW), v.verify(&req, &copying, NOW));
        match (&a, &b) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(a), Err(b)) => assert_eq!(a.code(), b.code()),
            _ => panic!("{client}: {a:?} vs {b:?}"),
        }
        if client == "rotating" {
            assert_eq!(a.unwrap().secret_index, usize::from(secret == S1));
        }
        if client == "nobody" {
            assert_eq!(b.unwrap_err().code(), ErrorCode::UnknownClient);
        }
    }
}

/// A source that changes behind the verifier's back (a file another process writes): a
/// request that matches no secret it holds makes the verifier call `refresh` and check the
/// request once more, so a client just added or given a new secret counts from its first
/// request. Accepted requests, and requests refused for anything else, never call it.
#[test]
fn a_request_that_matches_no_secret_refreshes_the_source_once() {
    use std::cell::{Cell, RefCell};
    struct Behind {
        /// What the verifier sees.
        seen: RefCell<HashMap<String, Vec<Secret>>>,
        /// What the source would find if it looked now.
        latest: RefCell<HashMap<String, Vec<Secret>>>,
        refreshes: Cell<u32>,
    }
    impl xnonce_core::SecretSource for Behind {
        fn secrets(&self, client: &str) -> Vec<Secret> {
            self.seen.borrow().get(client).cloned().unwrap_or_default()
        }
        fn refresh(&self) -> bool {
            self.refreshes.set(self.refreshes.get() + 1);
            let latest = self.latest.borrow().clone();
            let changed = *self.seen.borrow() != latest;
            *self.seen.borrow_mut() = latest;
            changed
        }
    }
    let one = |s: &str| HashMap::from([("svc".to_string(), vec![Secret::new(s).unwrap()])]);
    let source = Behind {
        seen: RefCell::new(HashMap::new()),
        latest: RefCell::new(one(S1)),
        refreshes: Cell::new(0),
    };
    let v = Verifier::new();
    let request = |secret: &str, path: &str| {
        sign_with(&v2(path), &Secret::new(secret).unwrap(), &env())
            .unwrap()
            .x_nonce
    };
    let verify = |x_nonce: &str| {
        let req = Incoming::new("GET", "/c/a")
            .host("api.test")
            .x_nonce(x_nonce);
        v.verify(&req, &source, NOW)
    };

    // Added since the source last looked: accepted on the first request, one refresh.
    let added = request(S1, "/c/a");
    assert_eq!(verify(&added).unwrap().secret_index, 0);
    assert_eq!(source.refreshes.get(), 1);
    // Accepted requests do not refresh.
    verify(&added).unwrap();
    assert_eq!(source.refreshes.get(), 1);
    // Given a new secret (`replace`): the new one is accepted at once, the old one refused
    // after a refresh that found nothing new.
    *source.latest.borrow_mut() = one(S2);
    let replaced = request(S2, "/c/a");
    assert!(verify(&replaced).is_ok());
    assert_eq!(source.refreshes.get(), 2);
    assert_eq!(code(verify(&added)), "signature_mismatch");
    assert_eq!(source.refreshes.get(), 3);
    // Removed: a secret still held keeps matching until the source's own next check (called
    // here directly); then the request is refused as unknown, one refresh per request.
    source.latest.borrow_mut().clear();
    assert!(verify(&replaced).is_ok());
    assert!(xnonce_core::SecretSource::refresh(&source));
    assert_eq!(code(verify(&replaced)), "unknown_client");
    assert_eq!(source.refreshes.get(), 5);
    assert_eq!(code(verify(&replaced)), "unknown_client");
    assert_eq!(source.refreshes.get(), 6);
    // Refusals before the secrets are looked at (a malformed header) do not refresh.
    assert_eq!(code(verify("not a header")), "malformed_header");
    assert_eq!(source.refreshes.get(), 6);
}

/// The v1 token is checked like the v2 signature: a request whose method, path, params or
/// timestamp differ from what was signed, or that another secret signed, is refused; during
/// rotation the secret that signed it is the one reported.
#[test]
fn v1_requests_signed_otherwise_are_refused() {
    let input = SignInput::new(Scheme::V1, "GET", "/c/a", "svc")
        .param("a", "1")
        .timestamp_ms(NOW);
    let signed = sign_with(&input, &Secret::new(S1).unwrap(), &env()).unwrap();
    let ok = Incoming::new("GET", "/c/a?a=1").x_nonce(&signed.x_nonce);
    let v = Verifier::new().verify(&ok, &clients(), NOW).unwrap();
    assert_eq!((v.scheme, v.secret_index), (Scheme::V1, 0));

    let by_s2 = sign_with(&input, &Secret::new(S2).unwrap(), &env()).unwrap();
    let later = format!("{} svc {}", signed.header.mac(), NOW + 1);
    for (what, req) in [
        (
            "method",
            Incoming {
                method: "POST",
                ..ok
            },
        ),
        ("path", Incoming { path: "/c/b", ..ok }),
        ("param", Incoming { query: "a=2", ..ok }),
        (
            "timestamp",
            Incoming {
                x_nonce: Some(&later),
                ..ok
            },
        ),
        (
            "secret",
            Incoming {
                x_nonce: Some(&by_s2.x_nonce),
                ..ok
            },
        ),
    ] {
        assert_eq!(
            code(Verifier::new().verify(&req, &clients(), NOW)),
            "signature_mismatch",
            "{what}"
        );
    }

    // "rotating" holds [S2, S1]: signed with S1, it matches the second.
    let rotating = sign_with(
        &SignInput {
            client: "rotating".into(),
            ..input
        },
        &Secret::new(S1).unwrap(),
        &env(),
    )
    .unwrap();
    let req = Incoming::new("GET", "/c/a?a=1").x_nonce(&rotating.x_nonce);
    let v = Verifier::new().verify(&req, &clients(), NOW).unwrap();
    assert_eq!(v.secret_index, 1);
}

/// em-secure-api's requesters of 2013 ran on Ruby 1.9–2.4, whose `CGI.escape` wrote `~` as
/// `%7E`: their v1 requests with `~` in a value are accepted too (PROTOCOL §11.1 step 6), as
/// the same decoded params, and nothing else is.
#[test]
fn v1_values_with_tilde_verify_as_ruby_before_2_5_signed_them() {
    use sha2::{Digest, Sha256};
    // The token as such a requester computes it: values CGI-escaped with `~` as `%7E`.
    let old_ruby = |content: &str, client: &str, secret: &str| {
        let canonical = format!("GET/c/a{content}{client}{secret}{NOW}");
        let token: String = Sha256::digest(canonical.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{token} {client} {NOW}")
    };
    let header = old_ruby("a=x%7Ey&b=p+q", "svc", S1);
    for query in ["a=x~y&b=p+q", "a=x%7Ey&b=p%20q", "a=x%7ey&b=p+q"] {
        let target = format!("/c/a?{query}");
        let req = Incoming::new("GET", &target).x_nonce(&header);
        let v = Verifier::new().verify(&req, &clients(), NOW).unwrap();
        assert_eq!((v.scheme, v.secret_index), (Scheme::V1, 0), "{query}");
        assert_eq!(v.replay_key.as_str(), format!("v1:svc:{}", &header[..64]));
    }
    // What xnonce signs for the same request (`~` kept) verifies as before.
    let input = SignInput::new(Scheme::V1, "GET", "/c/a", "svc")
        .param("a", "x~y")
        .param("b", "p q")
        .timestamp_ms(NOW);
    let signed = sign_with(&input, &Secret::new(S1).unwrap(), &env()).unwrap();
    assert_ne!(signed.x_nonce, header);
    let req = Incoming::new("GET", "/c/a?a=x~y&b=p+q").x_nonce(&signed.x_nonce);
    assert!(Verifier::new().verify(&req, &clients(), NOW).is_ok());

    // Either spelling with each live secret: "rotating" holds [S2, S1].
    let rotating = old_ruby("a=x%7Ey&b=p+q", "rotating", S1);
    let req = Incoming::new("GET", "/c/a?a=x~y&b=p+q").x_nonce(&rotating);
    let v = Verifier::new().verify(&req, &clients(), NOW).unwrap();
    assert_eq!(v.secret_index, 1);

    // Other params than signed are refused, whatever the spelling; and a key's `~` was
    // never escaped (Ruby escaped values only), so `%7E` in a key's place does not verify.
    for (query, header) in [
        ("a=x~z&b=p+q", header.clone()),
        ("a=x~y&b=p+q&c=1", header.clone()),
        ("a~b=1", old_ruby("a%7Eb=1", "svc", S1)),
    ] {
        let target = format!("/c/a?{query}");
        let req = Incoming::new("GET", &target).x_nonce(&header);
        assert_eq!(
            code(Verifier::new().verify(&req, &clients(), NOW)),
            "signature_mismatch",
            "{query}"
        );
    }
}

/// The maps' `secrets` (what a caller of the trait gets; the verifier itself borrows through
/// `with_secrets`) return the client's live secrets in order, and nothing for a stranger.
#[test]
fn map_sources_return_the_clients_secrets() {
    use xnonce_core::SecretSource;
    let exposed = |v: Vec<Secret>| v.iter().map(|s| s.expose().to_string()).collect::<Vec<_>>();
    let many = clients();
    assert_eq!(exposed(many.secrets("rotating")), [S2, S1]);
    assert!(many.secrets("nobody").is_empty());
    let one = HashMap::from([("svc".to_string(), Secret::new(S1).unwrap())]);
    assert_eq!(exposed(one.secrets("svc")), [S1]);
    assert!(one.secrets("nobody").is_empty());
}

/// A source that keeps the default `refresh` ("nothing to bring up to date") is looked up
/// once per request, also when the client is unknown or the signature matches nothing.
#[test]
fn a_source_without_refresh_is_looked_up_once_per_request() {
    use std::cell::Cell;
    struct Counting(HashMap<String, Vec<Secret>>, Cell<u32>);
    impl xnonce_core::SecretSource for Counting {
        fn secrets(&self, client: &str) -> Vec<Secret> {
            self.1.set(self.1.get() + 1);
            self.0.get(client).cloned().unwrap_or_default()
        }
    }
    let source = Counting(clients(), Cell::new(0));
    let v = Verifier::new();
    for (client, secret, expected) in [
        ("svc", S1, None),
        ("svc", S2, Some("signature_mismatch")),
        ("nobody", S1, Some("unknown_client")),
    ] {
        let x_nonce = signed_get_c_a(client, secret);
        let req = Incoming::new("GET", "/c/a")
            .host("api.test")
            .x_nonce(&x_nonce);
        source.1.set(0);
        let r = v.verify(&req, &source, NOW);
        assert_eq!(r.err().map(|e| e.code().as_str()), expected, "{client}");
        assert_eq!(source.1.get(), 1, "{client} with {secret}");
    }
}

/// Fields a request can hold empty are refused with their code, when signed and when read
/// from the network alike: a v2 path that is empty (the target `?a=1`) is `invalid_path`
/// (§6.3: it must start with `/`), and a v2 pair with an empty key is `invalid_param_key`
/// (§3.6) also when its value is empty too (a query of `=`).
#[test]
fn empty_v2_paths_and_keys_are_refused_with_their_codes() {
    let secret = Secret::new(S1).unwrap();
    let e = sign_with(&v2(""), &secret, &env()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidPath);
    let e = sign_with(&v2("/c/a").param("", ""), &secret, &env()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidParamKey);

    let x_nonce = signed_get_c_a("svc", S1);
    let verify = |target: &str| {
        let req = Incoming::new("GET", target)
            .host("api.test")
            .x_nonce(&x_nonce);
        Verifier::new().verify(&req, &clients(), NOW)
    };
    assert!(verify("/c/a").is_ok());
    assert_eq!(code(verify("?a=1")), "invalid_path");
    for target in ["/c/a?=", "/c/a?=&a=1", "/c/a?=1"] {
        assert_eq!(code(verify(target)), "invalid_param_key", "{target}");
    }
}

/// PROTOCOL §7: removing the optional whitespace around a field value is the HTTP layer's
/// job, not the verifier's. A value handed over untrimmed is `malformed_header`, and one of
/// spaces only is not taken for an absent header (which would fall back to an `ottoken`).
#[test]
fn the_verifier_does_not_trim_the_header_value() {
    let s = sign_with(&v2("/c/a"), &Secret::new(S1).unwrap(), &env()).unwrap();
    let v = Verifier::new();
    let ok = Incoming::new("GET", "/c/a").host("api.test");
    assert!(v.verify(&ok.x_nonce(&s.x_nonce), &clients(), NOW).is_ok());
    for padded in [
        format!(" {}", s.x_nonce),
        format!("{} ", s.x_nonce),
        format!("\t{}", s.x_nonce),
    ] {
        assert_eq!(
            code(v.verify(&ok.x_nonce(&padded), &clients(), NOW)),
            "malformed_header",
            "{padded:?}"
        );
    }
    let link = link_with(
        &v2("/c/a"),
        &Secret::new(S1).unwrap(),
        "https://api.test",
        &env(),
    )
    .unwrap();
    let target = &link.url["https://api.test".len()..];
    let by_link = Incoming::new("GET", target).host("api.test");
    assert!(v.verify(&by_link.x_nonce(""), &clients(), NOW).is_ok());
    assert_eq!(
        code(v.verify(&by_link.x_nonce(" "), &clients(), NOW)),
        "malformed_header"
    );
}
