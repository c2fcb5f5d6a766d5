//! The verifier ([`xnonce_core::Verifier::verify`] / `verify_once`) on requests signed by core
//! and then mutated.

use std::collections::HashMap;

use arbitrary::{Arbitrary, Unstructured};
use base64::Engine as _;
use xnonce_core::{
    canonical, ottoken, percent, sign_with, ErrorCode, FixedEnvironment, Incoming,
    MemoryReplayStore, Scheme, Secret, SignInput, Signed, Verified, Verifier, WindowPolicy, XNonce,
};

use crate::pick::{hex, Text, CLIENTS};

/// The server clock of every case.
pub const NOW_MS: u64 = 1_700_000_000_000;

const METHODS: &[&str] = &["GET", "POST", "get", "PUT", "DELETE", "PATCH"];
const PATHS: &[&str] = &[
    "/controller1/action1",
    "/admin/status",
    "/reports/live",
    "/reports/daily",
    "/files/my doc%2etxt",
    "/a%2Fb/c~d",
    "/",
    "/report%73/live",
];
const HOSTS: &[&str] = &[
    "api.example.com",
    "API.Example.com:443",
    "127.0.0.1:8080",
    "[::1]:80",
];
const KEYS: &[&str] = &[
    "username", "password", "opt1", "a b", "ottoken", "", "é", "k=v&x",
];

/// The live secrets of the known clients (`beta` is mid-rotation; `legacy` is v1-only text).
const LIVE: &[(&str, &[&str])] = &[
    (
        "test_client",
        &["20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd"],
    ),
    (
        "beta",
        &[
            "1111111111111111111111111111111111111111111111111111111111111111",
            "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0",
        ],
    ),
    ("legacy", &["legacy-text-secret!"]),
];
/// A secret no client has.
const ATTACKER: &str = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";

/// What the fuzzer chooses: a request to sign, who signs it, how it travels, what changes.
#[derive(Arbitrary, Debug)]
struct Case {
    v2: bool,
    method: Text,
    path: Text,
    params: Vec<(Text, String)>,
    client: Text,
    /// Which secret signs: one of the client's live ones, or (odd values ≥ 128) the attacker's.
    signer: u8,
    host: Text,
    body: Vec<u8>,
    params_in_form: bool,
    timestamp_offset_ms: i32,
    nonce: [u8; 16],
    via_ottoken: bool,
    mutations: Vec<Mutation>,
}

/// A change to the request after signing.
#[derive(Arbitrary, Debug)]
enum Mutation {
    HeaderChar { at: u16, with: char },
    HeaderReplace(String),
    HeaderDrop,
    Method(String),
    Path(String),
    PathAppend(String),
    Host(Option<String>),
    QueryAppend(String),
    QueryReplace(String),
    Body(Vec<u8>),
    ContentType(Option<String>),
    Clock(i32),
    SwapTransport,
}

/// A request as owned parts, turned into an [`Incoming`] on demand.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    host: Option<String>,
    path: String,
    query: String,
    content_type: Option<String>,
    body: Vec<u8>,
    x_nonce: Option<String>,
}

impl Request {
    fn incoming(&self) -> Incoming<'_> {
        Incoming {
            method: &self.method,
            host: self.host.as_deref(),
            path: &self.path,
            query: &self.query,
            content_type: self.content_type.as_deref(),
            body: &self.body,
            x_nonce: self.x_nonce.as_deref(),
        }
    }
}

fn secrets() -> HashMap<String, Vec<Secret>> {
    LIVE.iter()
        .map(|(c, ss)| {
            (
                c.to_string(),
                ss.iter().map(|s| Secret::new(*s).unwrap()).collect(),
            )
        })
        .collect()
}

fn verifier() -> Verifier {
    Verifier::new().windows(
        WindowPolicy::new(30_000)
            .controller("reports", 120_000)
            .action("reports", "live", 5_000),
    )
    .expect("windows within a day")
}

/// The target.
///
/// An input that is a JSON object is read as a conformance vector (the seed corpus holds the
/// vectors); anything else is decoded with `arbitrary` as a [`Case`].
pub fn run(data: &[u8]) {
    let _ = outcome(data);
}

/// [`run`], returning what `verify` answered (`None` when the input describes no case), so
/// that tests can see how deep the corpus reaches.
pub fn outcome(data: &[u8]) -> Option<Result<Verified, xnonce_core::Error>> {
    let mut live = secrets();
    if data.first() == Some(&b'{') {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
            let plan = Plan::from_vector(&v, &mut live)?;
            return Some(check(&plan, &live));
        }
    }
    let case = Case::arbitrary(&mut Unstructured::new(data)).ok()?;
    let plan = Plan::from_case(case, &live);
    Some(check(&plan, &live))
}

/// A case with every choice made: what is signed, by which secret, how it travels.
#[derive(Debug)]
struct Plan {
    scheme: Scheme,
    method: String,
    path: String,
    params: Vec<(String, String)>,
    client: String,
    /// `None`: the attacker's secret; else an index into the client's live secrets.
    signer: Option<usize>,
    host: String,
    body: Vec<u8>,
    params_in_form: bool,
    timestamp_ms: u64,
    now_ms: u64,
    nonce: String,
    via_ottoken: bool,
    mutations: Vec<Mutation>,
}

impl Plan {
    fn from_case(case: Case, live: &HashMap<String, Vec<Secret>>) -> Plan {
        let client = case.client.resolve(CLIENTS);
        let n = live.get(&client).map_or(0, Vec::len);
        let attacker = n == 0 || (case.signer >= 128 && case.signer % 2 == 1);
        Plan {
            scheme: if case.v2 { Scheme::V2 } else { Scheme::V1 },
            method: case.method.resolve(METHODS),
            path: case.path.resolve(PATHS),
            params: case
                .params
                .iter()
                .take(12)
                .map(|(k, v)| (k.resolve(KEYS), v.clone()))
                .collect(),
            signer: (!attacker).then(|| case.signer as usize % n.max(1)),
            client,
            host: case.host.resolve(HOSTS),
            body: if case.params_in_form {
                Vec::new()
            } else {
                case.body
            },
            params_in_form: case.params_in_form,
            timestamp_ms: NOW_MS.saturating_add_signed(case.timestamp_offset_ms as i64),
            now_ms: NOW_MS,
            nonce: hex(&case.nonce),
            via_ottoken: case.via_ottoken,
            mutations: case.mutations.into_iter().take(4).collect(),
        }
    }

    /// A conformance vector (`conformance/vectors/*.json`, one object): its client gets the
    /// vector's secret, the server clock is the vector's timestamp. (Its expected outputs are
    /// not checked here: the fuzzer mutates them; the conformance suite checks them.)
    fn from_vector(v: &serde_json::Value, live: &mut HashMap<String, Vec<Secret>>) -> Option<Plan> {
        let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let client = text("client")?;
        if let Some(secret) = text("secret").and_then(|s| Secret::new(s).ok()) {
            live.insert(client.clone(), vec![secret]);
        }
        let timestamp_ms = v.get("timestamp")?.as_u64()?;
        let params = v
            .get("params")
            .and_then(|p| p.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|p| {
                        Some((
                            p.get(0)?.as_str()?.to_string(),
                            p.get(1)?.as_str()?.to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let body = text("body")
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .unwrap_or_default();
        Some(Plan {
            scheme: if text("scheme").as_deref() == Some("v2") {
                Scheme::V2
            } else {
                Scheme::V1
            },
            method: text("method")?,
            path: text("path")?,
            params,
            signer: live.contains_key(&client).then_some(0),
            client,
            host: text("host").unwrap_or_default(),
            params_in_form: false,
            body,
            timestamp_ms,
            now_ms: timestamp_ms,
            nonce: text("nonce").unwrap_or_default(),
            via_ottoken: v
                .get("via_ottoken")
                .and_then(|b| b.as_bool())
                .unwrap_or(false),
            mutations: Vec::new(),
        })
    }
}

fn check(plan: &Plan, live: &HashMap<String, Vec<Secret>>) -> Result<Verified, xnonce_core::Error> {
    let Plan {
        scheme,
        ref method,
        ref path,
        ref params,
        ref client,
        ref host,
        ref body,
        timestamp_ms,
        ..
    } = *plan;
    let attacker = plan.signer.is_none();
    let secret = match plan.signer {
        Some(i) => live[client][i].clone(),
        None => Secret::new(ATTACKER).unwrap(),
    };
    let mut input = SignInput::new(scheme, method, path, client)
        .params(params.clone())
        .timestamp_ms(timestamp_ms)
        .nonce(plan.nonce.clone())
        .host(host);
    if !body.is_empty() {
        input = input.body(body.clone());
    }
    let env = FixedEnvironment {
        now_ms: plan.now_ms,
        nonce: [0; 16],
    };
    let signed = sign_with(&input, &secret, &env).ok();

    // The header that travels: the signed one, or (unsignable input) a well-formed forgery.
    let header = match &signed {
        Some(s) => s.header.clone(),
        None => match scheme {
            Scheme::V1 => XNonce::V1 {
                token: hex(&[7; 32]),
                client: client.clone(),
                timestamp_ms,
            },
            Scheme::V2 => XNonce::V2 {
                client: client.clone(),
                timestamp_ms,
                nonce: plan.nonce.clone(),
                signature: hex(&[7; 32]),
            },
        },
    };
    let req = build_request(plan, &header, plan.via_ottoken);
    let mut mutated = req.clone();
    let mut now_ms = plan.now_ms;
    let mut changed = false;
    for m in &plan.mutations {
        changed = true;
        apply(&mut mutated, &mut now_ms, m, &header);
    }

    let v = verifier();
    let first = v.verify(&mutated.incoming(), live, now_ms);
    let second = v.verify(&mutated.incoming(), live, now_ms);
    assert_eq!(
        summary(&first),
        summary(&second),
        "verify is not deterministic"
    );

    if let Err(e) = &first {
        assert_no_secret(e);
        assert_ne!(e.code(), ErrorCode::StoreUnavailable);
        assert_ne!(e.code(), ErrorCode::Replayed);
        if e.code() == ErrorCode::Expired {
            let cred = v
                .credential(&mutated.incoming())
                .expect("expired implies a credential");
            let hint = e.server_time().expect("expired carries a server-time hint");
            assert_eq!(hint.server_time_ms, now_ms);
            assert!(
                live[cred.0.client()].iter().any(|s| hint.authenticate(
                    s,
                    cred.0.client(),
                    cred.0.request_id()
                )),
                "the server-time hint does not authenticate"
            );
        }
    }

    if let Ok(ok) = &first {
        check_accepted(
            ok,
            &mutated,
            now_ms,
            live,
            signed.as_ref(),
            attacker,
            &secret,
        );
    }

    // Every unmodified, fresh, genuinely signed request verifies (except v1 with a repeated
    // key: em-secure-api's server merges repeated keys, so such a v1 request cannot verify).
    let window = v.window_policy().window_for(&req.path);
    let v1_repeats = scheme == Scheme::V1
        && params
            .iter()
            .enumerate()
            .any(|(i, (k, _))| params[..i].iter().any(|(e, _)| e == k));
    if signed.is_some()
        && !attacker
        && !changed
        && timestamp_ms.abs_diff(plan.now_ms) <= window
        && !v1_repeats
    {
        assert!(
            first.is_ok(),
            "a genuine fresh request was refused: {first:?}\n{req:?}"
        );
    }

    // verify_once agrees with verify, and a second copy is a replay in either transport.
    let store = MemoryReplayStore::new();
    let once = v.verify_once(&mutated.incoming(), live, &store, now_ms);
    assert_eq!(
        summary(&once),
        summary(&first),
        "verify_once differs from verify"
    );
    if once.is_ok() {
        assert_eq!(store.len(), 1);
        let again = v.verify_once(&mutated.incoming(), live, &store, now_ms);
        assert_eq!(again.map_err(|e| e.code()), Err(ErrorCode::Replayed));
        if !changed {
            let other = build_request(plan, &header, !plan.via_ottoken);
            let r = v.verify_once(&other.incoming(), live, &store, now_ms);
            assert_eq!(
                r.map_err(|e| e.code()),
                Err(ErrorCode::Replayed),
                "the other transport of an accepted request was not a replay"
            );
        }
    } else {
        assert!(store.is_empty(), "a refused request was remembered");
    }
    first
}

/// Properties of an accepted request.
fn check_accepted(
    ok: &Verified,
    req: &Request,
    now_ms: u64,
    live: &HashMap<String, Vec<Secret>>,
    signed: Option<&Signed>,
    attacker: bool,
    signer: &Secret,
) {
    let (cred, via_ottoken) = verifier()
        .credential(&req.incoming())
        .expect("accepted without a credential");
    let signed = signed.expect("accepted a request that core never signed");
    assert!(
        !attacker,
        "accepted a request signed with a secret the client does not have"
    );
    assert_eq!(
        cred.mac(),
        signed.header.mac(),
        "accepted a signature core did not produce"
    );
    assert_eq!(ok.client, cred.client());
    assert_eq!(ok.scheme, cred.scheme());
    assert_eq!(ok.timestamp_ms, cred.timestamp_ms());
    assert_eq!(ok.via_ottoken, via_ottoken);
    assert!(
        live[&ok.client][ok.secret_index] == *signer,
        "wrong secret_index"
    );
    let window = verifier().window_policy().window_for(req.path.as_str());
    assert!(
        now_ms.abs_diff(ok.timestamp_ms) <= window,
        "accepted a stale request"
    );
    // v1 keys live for the policy's longest window (PROTOCOL §11.4: one v1 token verifies
    // on other spellings, whose window may be longer).
    let remembered = match ok.scheme {
        Scheme::V1 => verifier().window_policy().longest_ms(),
        Scheme::V2 => window,
    };
    assert_eq!(ok.remember_until_ms, ok.timestamp_ms + remembered);
    assert_eq!(
        ok.replay_key,
        format!("{}:{}:{}", ok.scheme, ok.client, cred.request_id())
    );
    assert!(ok.params.iter().all(|(k, _)| k != ottoken::PARAM));

    // Signing what the verifier saw, with the matched secret, gives the presented MAC.
    let mut input = SignInput::new(ok.scheme, &req.method, &req.path, &ok.client)
        .params(ok.params.clone())
        .timestamp_ms(ok.timestamp_ms);
    if let XNonce::V2 { nonce, .. } = &cred {
        input = input
            .nonce(nonce.clone())
            .host(req.host.clone().unwrap_or_default());
        if !req.incoming().is_form() && !req.body.is_empty() {
            input = input.body(req.body.clone());
        }
    }
    let env = FixedEnvironment {
        now_ms,
        nonce: [0; 16],
    };
    let resigned = sign_with(&input, &live[&ok.client][ok.secret_index], &env)
        .unwrap_or_else(|e| panic!("verify accepted what sign refuses: {e}"));
    assert_eq!(
        resigned.header.mac(),
        cred.mac(),
        "re-signing the verified view differs"
    );
}

fn build_request(plan: &Plan, header: &XNonce, via_ottoken: bool) -> Request {
    let Plan {
        scheme,
        ref method,
        ref path,
        ref params,
        ref host,
        ref body,
        ..
    } = *plan;
    let pairs: Vec<String> = params
        .iter()
        .map(|(k, v)| match scheme {
            Scheme::V1 => format!("{k}={}", percent::cgi_escape(v)),
            Scheme::V2 => format!(
                "{}={}",
                percent::encode_rfc3986(k.as_bytes()),
                percent::encode_rfc3986(v.as_bytes())
            ),
        })
        .collect();
    // A form only where one carries params (PROTOCOL §11.1 step 1): elsewhere in the query.
    let in_form = plan.params_in_form && xnonce_core::verify::method_carries_forms(method);
    let (mut query, content_type, body) = if in_form {
        (
            String::new(),
            Some("application/x-www-form-urlencoded; charset=utf-8".to_string()),
            pairs.join("&").into_bytes(),
        )
    } else {
        let ct = (!body.is_empty()).then(|| "application/octet-stream".to_string());
        (pairs.join("&"), ct, body.to_vec())
    };
    let mut x_nonce = Some(header.value());
    if via_ottoken {
        x_nonce = None;
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(ottoken::PARAM);
        query.push('=');
        query.push_str(&ottoken::query_value(&ottoken::encode(header)));
    }
    // A v2 path travels in its canonical form (as a link writes it); v1 is signed as sent.
    let path = match scheme {
        Scheme::V2 => canonical::path_v2(path)
            .map(|p| p.into_owned())
            .unwrap_or_else(|_| path.to_string()),
        Scheme::V1 => path.to_string(),
    };
    Request {
        method: method.to_string(),
        host: Some(host.to_string()),
        path,
        query,
        content_type,
        body,
        x_nonce,
    }
}

fn apply(req: &mut Request, now_ms: &mut u64, m: &Mutation, header: &XNonce) {
    match m {
        Mutation::HeaderChar { at, with } => {
            if let Some(h) = &mut req.x_nonce {
                let mut chars: Vec<char> = h.chars().collect();
                if !chars.is_empty() {
                    let i = *at as usize % chars.len();
                    chars[i] = *with;
                    *h = chars.into_iter().collect();
                }
            } else {
                req.query = req.query.replacen('A', &with.to_string(), 1);
            }
        }
        Mutation::HeaderReplace(s) => req.x_nonce = Some(s.clone()),
        Mutation::HeaderDrop => req.x_nonce = None,
        Mutation::Method(s) => req.method = s.clone(),
        Mutation::Path(s) => req.path = s.clone(),
        Mutation::PathAppend(s) => req.path.push_str(s),
        Mutation::Host(h) => req.host = h.clone(),
        Mutation::QueryAppend(s) => req.query.push_str(s),
        Mutation::QueryReplace(s) => req.query = s.clone(),
        Mutation::Body(b) => req.body = b.clone(),
        Mutation::ContentType(ct) => req.content_type = ct.clone(),
        Mutation::Clock(d) => *now_ms = now_ms.saturating_add_signed(*d as i64),
        Mutation::SwapTransport => match req.x_nonce.take() {
            Some(_) => {
                let t = ottoken::query_value(&ottoken::encode(header));
                req.query = format!("{}&ottoken={t}", req.query);
            }
            None => req.x_nonce = Some(header.value()),
        },
    }
}

/// A comparable view of a verification result.
fn summary(r: &Result<Verified, xnonce_core::Error>) -> Result<Verified, (ErrorCode, String)> {
    r.clone().map_err(|e| (e.code(), e.message().to_string()))
}

fn assert_no_secret(e: &xnonce_core::Error) {
    let text = format!("{e} {e:?}");
    for s in LIVE.iter().flat_map(|(_, ss)| ss.iter()).chain([&ATTACKER]) {
        assert!(
            !text.contains(s),
            "an error message holds secret text: {text}"
        );
    }
}
