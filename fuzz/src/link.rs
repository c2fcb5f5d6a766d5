//! Links ([`xnonce_core::link_with`]) against a WHATWG URL parser (the `url` crate, what
//! browsers and `fetch` implement): a link core builds must reach a verifier as it was signed.

use arbitrary::{Arbitrary, Unstructured};
use xnonce_core::{
    canonical, link_with, ErrorCode, FixedEnvironment, Link, Scheme, Secret, SignInput,
};

use crate::pick::Text;

/// Realistic base URLs, and the spellings WHATWG clients rewrite.
const BASES: &[&str] = &[
    "https://api.example.com",
    "http://localhost:3000/",
    "https://example.com/api",
    "http://127.0.0.1:8080",
    "http://[::1]:18434",
    "http://[0:0::1]:18434",
    "http://127.1",
    "http://0x7f.0.0.1",
    "http://[::ffff:1.2.3.4]",
    "http://h:018434",
    "HTTPS://Example.COM:443/",
    "http://example.com/a/../b",
    "http://example.com/%2e/b",
    "http://example.com\\x",
    "http://ex ample.com",
    "http://user@example.com",
];

/// Realistic paths, and ones URL parsers would change.
const PATHS: &[&str] = &[
    "/controller1/action1",
    "/",
    "/files/my doc.txt",
    "/files/résumé",
    "/a/./b",
    "/a/../b",
    "/a/%2E%2e/b",
    "/a\\b",
    "/a{b}",
    "/a^b",
    "/a%2Fb",
    "//double",
];

const PARAMS: &[&str] = &["username", "opt1", "a b", "é", "x~y", "k=v&x", ""];

/// One link to build.
#[derive(Arbitrary, Debug)]
struct Case {
    v2: bool,
    base: Text,
    path: Text,
    params: Vec<(Text, Text)>,
}

/// The error codes an input can be refused with.
const INPUT_ERRORS: &[ErrorCode] = &[
    ErrorCode::InvalidUrl,
    ErrorCode::InvalidPath,
    ErrorCode::InvalidHost,
    ErrorCode::InvalidParamKey,
    ErrorCode::InvalidParamValue,
];

/// The case `data` decodes to (`None` when it decodes to none): its scheme, and the link
/// core built or the error it refused it with.
pub fn outcome(data: &[u8]) -> Option<(Scheme, xnonce_core::Result<Link>)> {
    let case = Case::arbitrary(&mut Unstructured::new(data)).ok()?;
    let scheme = if case.v2 { Scheme::V2 } else { Scheme::V1 };
    let base = case.base.resolve(BASES);
    let mut input = SignInput::new(scheme, "GET", case.path.resolve(PATHS), "test_client");
    for (k, v) in case.params.iter().take(4) {
        input = input.param(k.resolve(PARAMS), v.resolve(PARAMS));
    }
    let secret =
        Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd").unwrap();
    let env = FixedEnvironment {
        now_ms: 1_700_000_000_000,
        nonce: [7; 16],
    };
    Some((scheme, link_with(&input, &secret, &base, &env)))
}

/// The target: a link is refused with an input error, or every WHATWG client sends it as
/// signed — the same canonical host (v2), and the path and query byte for byte.
pub fn run(data: &[u8]) {
    let Some((scheme, built)) = outcome(data) else {
        return;
    };
    let link = match built {
        Ok(link) => link,
        Err(e) => {
            assert!(INPUT_ERRORS.contains(&e.code()), "{e}");
            return;
        }
    };
    // What core wrote: after the authority, the path up to `?`, then the query.
    let after_scheme = &link.url[link.url.find("://").unwrap() + 3..];
    let (authority, rest) = after_scheme.split_at(after_scheme.find('/').unwrap());
    let (path, query) = rest.split_once('?').unwrap();
    // v1 does not sign the host, so its base URL's host is the caller's affair (a host no
    // client can resolve makes a useless link, not a forged one): its path and query are
    // checked behind a plain host.
    let parsed = match scheme {
        Scheme::V1 => format!("http://example.com{rest}"),
        Scheme::V2 => link.url.clone(),
    };
    let sent = match url::Url::parse(&parsed) {
        Ok(sent) => sent,
        // A label `xn--…` that is not valid Punycode: no client can open such a link at all,
        // so nothing signed can reach a server changed (core does not decode Punycode).
        Err(url::ParseError::IdnaError) if authority.to_ascii_lowercase().contains("xn--") => {
            return
        }
        Err(e) => panic!("a link WHATWG cannot parse: {parsed:?}: {e}"),
    };
    assert_eq!(
        sent.path(),
        path,
        "path rewritten in transit: {:?}",
        link.url
    );
    assert_eq!(
        sent.query(),
        Some(query),
        "query rewritten in transit: {:?}",
        link.url
    );
    if scheme == Scheme::V2 {
        let host = sent.host_str().unwrap();
        let sent_authority = match sent.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        assert_eq!(
            canonical::host(&sent_authority).unwrap(),
            canonical::host(authority).unwrap(),
            "Host in transit differs from the signed one: {:?}",
            link.url
        );
    }
}
