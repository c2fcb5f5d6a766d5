//! Signing and links: thin wrappers over [`xnonce_core::sign`] and [`xnonce_core::link`].

use std::fmt;

use xnonce_core::input::Pairs;
use xnonce_core::{Incoming, Input, Secret, SignInput};
use zeroize::Zeroizing;

use crate::text::{self, XNonceText};
use crate::XNonceError;

/// Which scheme signs a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum Scheme {
    /// em-secure-api's legacy SHA-256 token (legacy deployments only).
    V1,
    /// The hardened HMAC-SHA256 scheme with host, body and a random nonce.
    V2,
}

impl From<Scheme> for xnonce_core::Scheme {
    fn from(s: Scheme) -> Self {
        match s {
            Scheme::V1 => xnonce_core::Scheme::V1,
            Scheme::V2 => xnonce_core::Scheme::V2,
        }
    }
}

impl From<xnonce_core::Scheme> for Scheme {
    fn from(s: xnonce_core::Scheme) -> Self {
        match s {
            xnonce_core::Scheme::V1 => Scheme::V1,
            xnonce_core::Scheme::V2 => Scheme::V2,
        }
    }
}

/// One query/form parameter. Parameters are an ordered list: v1 signs their order.
///
/// Its text is checked where it is passed in: a key that is not valid Unicode text (a lone
/// surrogate) is `invalid_param_key`, a value `invalid_param_value`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Param {
    /// The key.
    pub key: XNonceText,
    /// The value, as text.
    pub value: XNonceText,
}

/// Params as core takes them, each key and value checked (see [`Param`]).
pub(crate) fn pairs(
    params: Vec<Param>,
    inputs: Pairs,
) -> Result<Vec<(String, String)>, XNonceError> {
    params
        .into_iter()
        .map(|p| text::pair(p.key, p.value, inputs))
        .collect()
}

/// Everything [`sign_detailed`] produced.
///
/// Printing it never shows `canonical` (for v1 it holds the secret): `Debug` and `Display`
/// write `<redacted>` in its place, and both are exported, so Kotlin's `toString()` and
/// Swift's `description` / `debugDescription` are these redacted forms, not the default
/// field-by-field ones. Read the canonical string only explicitly, as `canonical`.
///
/// Its text fields are each language's string type, crossing as `XNonceText`: printing
/// passes the record in (Kotlin's `toString()` lowers it to call `Display`), and one made or
/// copied by hand in Kotlin may hold a lone surrogate, which uniffi's own `String` would fail
/// to lower there (`MalformedInputException` thrown from `toString()`); Rust prints such text
/// lossily.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Display, Debug)]
pub struct Signed {
    /// The `X-Nonce` header value.
    pub x_nonce: XNonceText,
    /// The `ottoken` (escape it for a query with `ottoken_query_value`).
    pub ottoken: XNonceText,
    /// The exact string that was hashed. For v1 it CONTAINS THE SECRET: never log it.
    pub canonical: XNonceText,
    /// The signed timestamp (milliseconds since the epoch).
    pub timestamp: u64,
    /// The v2 nonce (`None` for v1).
    pub nonce: Option<XNonceText>,
}

/// What printing shows instead of the canonical string.
const REDACTED: &str = "<redacted>";

impl fmt::Debug for Signed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signed")
            .field("x_nonce", &self.x_nonce)
            .field("ottoken", &self.ottoken)
            .field("canonical", &format_args!("{REDACTED}"))
            .field("timestamp", &self.timestamp)
            .field("nonce", &self.nonce)
            .finish()
    }
}

/// `Signed(xNonce=…, ottoken=…, canonical=<redacted>, timestamp=…, nonce=…)`: the shape of a
/// Kotlin data class's `toString()`, field names as the Kotlin and Swift bindings spell them
/// (`nonce` only for v2, so no language's word for "nothing" is needed).
impl fmt::Display for Signed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Signed(xNonce={}, ottoken={}, canonical={REDACTED}, timestamp={}",
            self.x_nonce, self.ottoken, self.timestamp
        )?;
        if let Some(nonce) = &self.nonce {
            write!(f, ", nonce={nonce}")?;
        }
        f.write_str(")")
    }
}

/// The inputs of signing, turned into core's as a binding does at PROTOCOL §10 step 0, before
/// any check of core's: each text input in argument order (refused with its own code when it
/// is not valid Unicode text), then the timestamp's range (`invalid_timestamp` past 2^53 − 1),
/// and only then the secret's rules (step 1). So an empty secret with a timestamp of 2^53, or
/// a nonce holding a lone surrogate, is refused for the timestamp or the nonce, as in the
/// Python, Node and WASM bindings.
struct Inputs {
    input: SignInput,
    secret: Secret,
    base_url: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn inputs(
    scheme: Scheme,
    method: XNonceText,
    path: XNonceText,
    params: Vec<Param>,
    client: XNonceText,
    secret: XNonceText,
    base_url: Option<XNonceText>,
    timestamp: Option<u64>,
    nonce: Option<XNonceText>,
    host: Option<XNonceText>,
    body: Option<Vec<u8>>,
) -> Result<Inputs, XNonceError> {
    let method = method.into_string(Input::Method)?;
    let path = path.into_string(Input::Path)?;
    let params = pairs(params, Pairs::PARAMS)?;
    let client = client.into_string(Input::Client)?;
    let secret = Zeroizing::new(secret.into_string(Input::Secret)?);
    let base_url = XNonceText::into_option(base_url, Input::BaseUrl)?;
    let nonce = XNonceText::into_option(nonce, Input::Nonce)?;
    let host = XNonceText::into_option(host, Input::Host)?;
    let secret = timestamp_then_secret(timestamp, secret)?;
    Ok(Inputs {
        input: SignInput {
            scheme: scheme.into(),
            method,
            path,
            params,
            client,
            timestamp_ms: timestamp,
            nonce,
            host,
            body,
        },
        secret,
        base_url,
    })
}

/// The end of PROTOCOL §10 step 0 once every text input is read: the timestamp's range
/// (`invalid_timestamp` past 2^53 − 1), then the secret's rules (step 1). The secret's text
/// waits in `Zeroizing`, so it is zeroized if an input read after it is refused (as
/// `Secret::new` zeroizes a text it refuses).
fn timestamp_then_secret(
    timestamp: Option<u64>,
    mut secret: Zeroizing<String>,
) -> Result<Secret, XNonceError> {
    if let Some(ms) = timestamp {
        xnonce_core::header::timestamp_from_i128(i128::from(ms))?;
    }
    Ok(Secret::new(std::mem::take(&mut *secret))?)
}

/// Signs a request; returns the `X-Nonce` header value. A missing `timestamp` reads the
/// system clock, a missing v2 `nonce` takes 16 bytes from the OS generator.
#[allow(clippy::too_many_arguments)]
#[uniffi::export(default(timestamp = None, nonce = None, host = None, body = None))]
pub fn sign(
    scheme: Scheme,
    method: XNonceText,
    path: XNonceText,
    params: Vec<Param>,
    client: XNonceText,
    secret: XNonceText,
    timestamp: Option<u64>,
    nonce: Option<XNonceText>,
    host: Option<XNonceText>,
    body: Option<Vec<u8>>,
) -> Result<String, XNonceError> {
    let i = inputs(
        scheme, method, path, params, client, secret, None, timestamp, nonce, host, body,
    )?;
    Ok(xnonce_core::sign_header_value(&i.input, &i.secret)?)
}

/// Signs a request and returns every intermediate (see [`Signed`]).
#[allow(clippy::too_many_arguments)]
#[uniffi::export(default(timestamp = None, nonce = None, host = None, body = None))]
pub fn sign_detailed(
    scheme: Scheme,
    method: XNonceText,
    path: XNonceText,
    params: Vec<Param>,
    client: XNonceText,
    secret: XNonceText,
    timestamp: Option<u64>,
    nonce: Option<XNonceText>,
    host: Option<XNonceText>,
    body: Option<Vec<u8>>,
) -> Result<Signed, XNonceError> {
    let i = inputs(
        scheme, method, path, params, client, secret, None, timestamp, nonce, host, body,
    )?;
    let signed = xnonce_core::sign(&i.input, &i.secret)?;
    Ok(detailed(&signed))
}

fn detailed(signed: &xnonce_core::Signed) -> Signed {
    Signed {
        x_nonce: signed.x_nonce.as_str().into(),
        ottoken: signed.ottoken.as_str().into(),
        canonical: signed.canonical().into(),
        timestamp: signed.timestamp_ms(),
        nonce: match &signed.header {
            xnonce_core::XNonce::V2 { nonce, .. } => Some(nonce.as_str().into()),
            xnonce_core::XNonce::V1 { .. } => None,
        },
    }
}

/// Signs a request as your HTTP client is about to send it; returns the `X-Nonce` header
/// value. `target` is the request target as sent (`/path?query`, percent-encoded as it goes
/// out: `url.encodedPath + "?" + url.encodedQuery`; an absolute-form target's authority is
/// the host): the params are read from its query and, for an
/// `application/x-www-form-urlencoded` `content_type`, from the form `body`, exactly as the
/// scheme's verifier reads them (PROTOCOL §10.1), so the header cannot disagree with the URL
/// you send. Any other body is signed as the body (v2) or refused (v1, `invalid_body`); a
/// target with a fragment (`#`) is `invalid_path`; an empty path is sent as `/`. `host` is
/// the `Host` you send (v2 signs it; v1 ignores it). A missing `timestamp` reads the system
/// clock, a missing v2 `nonce` takes 16 bytes from the OS generator.
#[allow(clippy::too_many_arguments)]
#[uniffi::export(default(
    host = None,
    content_type = None,
    body = None,
    timestamp = None,
    nonce = None
))]
pub fn sign_request(
    scheme: Scheme,
    method: XNonceText,
    target: XNonceText,
    client: XNonceText,
    secret: XNonceText,
    host: Option<XNonceText>,
    content_type: Option<XNonceText>,
    body: Option<Vec<u8>>,
    timestamp: Option<u64>,
    nonce: Option<XNonceText>,
) -> Result<String, XNonceError> {
    // PROTOCOL §10 step 0 first, as `inputs` does.
    let method = method.into_string(Input::Method)?;
    let target = target.into_string(Input::Target)?;
    let client = client.into_string(Input::Client)?;
    let secret = Zeroizing::new(secret.into_string(Input::Secret)?);
    let host = XNonceText::into_option(host, Input::Host)?;
    let content_type = XNonceText::into_option(content_type, Input::ContentType)?;
    let nonce = XNonceText::into_option(nonce, Input::Nonce)?;
    let secret = timestamp_then_secret(timestamp, secret)?;
    let body = body.unwrap_or_default();
    let req = Incoming::new(&method, &target)
        .host_header(host.as_deref())
        .body(content_type.as_deref(), &body);
    let mut input = SignInput::for_request(scheme.into(), &req, &client)?;
    input.timestamp_ms = timestamp;
    input.nonce = nonce;
    Ok(xnonce_core::sign_header_value(&input, &secret)?)
}

/// Signs a request and returns a link under `base_url` (`http(s)://authority[/prefix]`)
/// carrying the params and the `ottoken`. For v2 the signed host is the URL's authority.
#[allow(clippy::too_many_arguments)]
#[uniffi::export(default(timestamp = None, nonce = None, host = None, body = None))]
pub fn link(
    scheme: Scheme,
    method: XNonceText,
    path: XNonceText,
    params: Vec<Param>,
    client: XNonceText,
    secret: XNonceText,
    base_url: XNonceText,
    timestamp: Option<u64>,
    nonce: Option<XNonceText>,
    host: Option<XNonceText>,
    body: Option<Vec<u8>>,
) -> Result<String, XNonceError> {
    let l = link_detailed(
        scheme, method, path, params, client, secret, base_url, timestamp, nonce, host, body,
    )?;
    // Made from core's `String` above: UTF-8, read unchanged.
    Ok(l.url.to_string_lossy().into_owned())
}

/// A signed link and the signature behind it.
///
/// Printed like [`Signed`] (its `Debug` and `Display` redact the canonical string), and the
/// same two traits are exported for the same reason; its `url` crosses as `XNonceText` for
/// the reason `Signed`'s text does.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Display, Debug)]
pub struct SignedLink {
    /// The full URL.
    pub url: XNonceText,
    /// The signature behind it.
    pub signed: Signed,
}

/// `SignedLink(url=…, signed=Signed(…))`, the canonical string redacted.
impl fmt::Display for SignedLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignedLink(url={}, signed={})", self.url, self.signed)
    }
}

/// Like [`link`], returning the URL and every intermediate of the signature.
#[allow(clippy::too_many_arguments)]
#[uniffi::export(default(timestamp = None, nonce = None, host = None, body = None))]
pub fn link_detailed(
    scheme: Scheme,
    method: XNonceText,
    path: XNonceText,
    params: Vec<Param>,
    client: XNonceText,
    secret: XNonceText,
    base_url: XNonceText,
    timestamp: Option<u64>,
    nonce: Option<XNonceText>,
    host: Option<XNonceText>,
    body: Option<Vec<u8>>,
) -> Result<SignedLink, XNonceError> {
    let i = inputs(
        scheme,
        method,
        path,
        params,
        client,
        secret,
        Some(base_url),
        timestamp,
        nonce,
        host,
        body,
    )?;
    let base_url = i.base_url.unwrap_or_default(); // given above: `Some`
    let l = xnonce_core::link(&i.input, &i.secret, &base_url)?;
    Ok(SignedLink {
        signed: detailed(&l.signed),
        url: l.url.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd";

    #[test]
    fn signs_like_core() {
        let h = sign(
            Scheme::V1,
            "get".into(),
            "/admin/status".into(),
            vec![],
            "test_client".into(),
            SECRET.into(),
            Some(1384300802123),
            None,
            None,
            None,
        )
        .unwrap();
        assert_eq!(h, "d77ccdaedbd041324e6551a60a46b08a72e2ed128b01359b39c5d2d54b499cbe test_client 1384300802123");
    }

    #[test]
    fn v2_defaults_come_from_the_system() {
        let s = sign_detailed(
            Scheme::V2,
            "GET".into(),
            "/a/b".into(),
            vec![Param {
                key: "k".into(),
                value: "v".into(),
            }],
            "svc".into(),
            SECRET.into(),
            None,
            None,
            Some("api.test".into()),
            None,
        )
        .unwrap();
        assert_eq!(s.nonce.as_ref().map(|n| n.as_bytes().len()), Some(32));
        assert!(s.timestamp > 1_600_000_000_000);
        assert!(s.x_nonce.to_string_lossy().starts_with("v2 svc "));
    }

    /// Printing never shows the v1 canonical string, which holds the secret.
    #[test]
    fn debug_and_display_redact_the_canonical() {
        let l = link_detailed(
            Scheme::V1,
            "GET".into(),
            "/admin/status".into(),
            vec![Param {
                key: "user".into(),
                value: "phil".into(),
            }],
            "svc".into(),
            SECRET.into(),
            "https://api.test".into(),
            Some(1_700_000_000_000),
            None,
            None,
            None,
        )
        .unwrap();
        let s = &l.signed;
        // Meaningful only because the secret is in there, and still readable explicitly.
        assert!(s.canonical.to_string_lossy().contains(SECRET));
        assert_eq!(
            s.canonical.to_string_lossy(),
            format!("GET/admin/statususer=philsvc{SECRET}1700000000000")
        );
        for (what, text) in [
            ("Signed {:?}", format!("{s:?}")),
            ("Signed {:#?}", format!("{s:#?}")),
            ("Signed {}", s.to_string()),
            ("SignedLink {:?}", format!("{l:?}")),
            ("SignedLink {:#?}", format!("{l:#?}")),
            ("SignedLink {}", l.to_string()),
        ] {
            assert!(!text.contains(SECRET), "{what} shows the secret: {text}");
            assert!(
                text.contains(&*s.x_nonce.to_string_lossy()),
                "{what} lost x_nonce: {text}"
            );
            assert!(text.contains("<redacted>"), "{what}: {text}");
        }
        assert_eq!(
            format!("{s:?}"),
            format!(
                "Signed {{ x_nonce: {:?}, ottoken: {:?}, canonical: <redacted>, \
                 timestamp: 1700000000000, nonce: None }}",
                s.x_nonce, s.ottoken
            )
        );
        assert_eq!(
            l.to_string(),
            format!(
                "SignedLink(url={}, signed=Signed(xNonce={}, ottoken={}, \
                 canonical=<redacted>, timestamp=1700000000000))",
                l.url, s.x_nonce, s.ottoken
            )
        );
        // v2: the nonce is shown, the canonical (no secret in it, same rule) is not.
        let v2 = sign_detailed(
            Scheme::V2,
            "GET".into(),
            "/a/b".into(),
            vec![],
            "svc".into(),
            SECRET.into(),
            Some(1_700_000_000_000),
            Some("00112233445566778899aabbccddeeff".into()),
            Some("api.test".into()),
            None,
        )
        .unwrap();
        assert!(v2
            .to_string()
            .ends_with(", canonical=<redacted>, timestamp=1700000000000, nonce=00112233445566778899aabbccddeeff)"));
        assert!(!format!("{v2:?}").contains(&*v2.canonical.to_string_lossy()));
    }

    /// Each text input holding a lone surrogate (as Kotlin and Python write one) is refused
    /// with its own code and core's message naming it, never showing its content.
    #[test]
    fn text_that_is_not_unicode_is_refused_with_the_inputs_code() {
        let lone = || XNonceText::from_bytes(b"ab\xED\xA0\x80".to_vec());
        let ok = |s: &str| XNonceText::from(s);
        let param = |k: XNonceText, v: XNonceText| vec![Param { key: k, value: v }];
        type Case = (
            XNonceText,
            XNonceText,
            Vec<Param>,
            XNonceText,
            XNonceText,
            XNonceText,
            Option<XNonceText>,
            Option<XNonceText>,
        );
        let good = || -> Case {
            (
                ok("GET"),
                ok("/a/b"),
                param(ok("user"), ok("phil")),
                ok("svc"),
                ok(SECRET),
                ok("https://api.test"),
                Some(ok("00112233445566778899aabbccddeeff")),
                Some(ok("api.test")),
            )
        };
        let mut cases: Vec<(Case, &str, &str)> = Vec::new();
        let mut c = good();
        c.0 = lone();
        cases.push((c, "invalid_method", "the method"));
        let mut c = good();
        c.1 = lone();
        cases.push((c, "invalid_path", "the path"));
        let mut c = good();
        c.2 = param(lone(), ok("phil"));
        cases.push((c, "invalid_param_key", "a param key"));
        let mut c = good();
        c.2 = param(ok("user"), lone());
        cases.push((c, "invalid_param_value", "param \"user\""));
        let mut c = good();
        c.3 = lone();
        cases.push((c, "invalid_client_id", "the client id"));
        let mut c = good();
        c.4 = lone();
        cases.push((c, "invalid_secret", "the secret"));
        let mut c = good();
        c.5 = lone();
        cases.push((c, "invalid_url", "the base URL"));
        let mut c = good();
        c.6 = Some(lone());
        cases.push((c, "invalid_nonce", "the nonce"));
        let mut c = good();
        c.7 = Some(lone());
        cases.push((c, "invalid_host", "the host"));
        for ((method, path, params, client, secret, base_url, nonce, host), code, what) in cases {
            let signed = sign(
                Scheme::V2,
                method.clone(),
                path.clone(),
                params.clone(),
                client.clone(),
                secret.clone(),
                Some(1_700_000_000_000),
                nonce.clone(),
                host.clone(),
                None,
            );
            let linked = link(
                Scheme::V2,
                method,
                path,
                params,
                client,
                secret,
                base_url,
                Some(1_700_000_000_000),
                nonce,
                host,
                None,
            );
            let errors = [signed.err(), linked.err()];
            // `sign` has no base URL: it signs.
            let expected = if what == "the base URL" { 1 } else { 2 };
            assert_eq!(errors.iter().flatten().count(), expected, "{what}");
            for e in errors.into_iter().flatten() {
                assert!(matches!(e, XNonceError::Input { .. }), "{what}: {e:?}");
                assert_eq!(e.code(), code, "{what}");
                assert_eq!(
                    e.reason(),
                    format!("{what} is not valid Unicode text (it holds a lone surrogate)")
                );
            }
        }
        // Every input well-formed: both sign.
        let (method, path, params, client, secret, base_url, nonce, host) = good();
        let l = link_detailed(
            Scheme::V2,
            method,
            path,
            params,
            client,
            secret,
            base_url,
            Some(1_700_000_000_000),
            nonce,
            host,
            None,
        )
        .unwrap();
        assert!(
            l.url
                .to_string_lossy()
                .starts_with("https://api.test/a/b?user=phil&ottoken="),
            "{}",
            l.url
        );
    }

    /// A `Signed` / `SignedLink` made by hand in Kotlin may hold a lone surrogate (its
    /// `toString()` passes it in): printed lossily and redacted, never refused.
    #[test]
    fn printing_text_that_is_not_unicode_is_lossy() {
        let lone = || XNonceText::from_bytes(b"a\xED\xA0\xBD".to_vec());
        let s = Signed {
            x_nonce: lone(),
            ottoken: lone(),
            canonical: lone(),
            timestamp: 1,
            nonce: Some(lone()),
        };
        let shown = "a\u{FFFD}\u{FFFD}\u{FFFD}";
        assert_eq!(
            s.to_string(),
            format!(
                "Signed(xNonce={shown}, ottoken={shown}, canonical=<redacted>, timestamp=1, \
                 nonce={shown})"
            )
        );
        let l = SignedLink {
            url: lone(),
            signed: s,
        };
        assert!(l
            .to_string()
            .starts_with(&format!("SignedLink(url={shown}, signed=Signed(")));
        assert!(format!("{l:?}").contains("canonical: <redacted>"));
    }

    /// A request as sent signs what `sign` signs for the params it carries (PROTOCOL §10.1):
    /// the query's and a form body's pairs, decoded as the verifier decodes them.
    #[test]
    fn sign_request_reads_the_params_as_the_verifier_does() {
        const TS: u64 = 1_700_000_000_000;
        const NONCE: &str = "00112233445566778899aabbccddeeff";
        let p = |k: &str, v: &str| Param {
            key: k.into(),
            value: v.into(),
        };
        let by_params = |scheme, method: &str, params| {
            sign(
                scheme,
                method.into(),
                "/a/b".into(),
                params,
                "svc".into(),
                SECRET.into(),
                Some(TS),
                Some(NONCE.into()),
                Some("api.test".into()),
                None,
            )
            .unwrap()
        };
        let by_request = |scheme, method: &str, target: &str, ct: Option<&str>, body: &[u8]| {
            sign_request(
                scheme,
                method.into(),
                target.into(),
                "svc".into(),
                SECRET.into(),
                Some("api.test".into()),
                ct.map(Into::into),
                Some(body.to_vec()),
                Some(TS),
                Some(NONCE.into()),
            )
            .map_err(|e| e.code().into_owned())
        };
        let form = Some("Application/X-WWW-Form-Urlencoded; charset=utf-8");
        for scheme in [Scheme::V1, Scheme::V2] {
            assert_eq!(
                by_request(scheme, "POST", "/a/b?x=1", form, b"y=a+b%21"),
                Ok(by_params(scheme, "POST", vec![p("x", "1"), p("y", "a b!")]))
            );
            assert_eq!(
                by_request(scheme, "GET", "/a/b?q=hello%20phil&e=", None, b""),
                Ok(by_params(
                    scheme,
                    "GET",
                    vec![p("q", "hello phil"), p("e", "")]
                ))
            );
            assert_eq!(
                by_request(scheme, "GET", "/a/b#top", None, b""),
                Err("invalid_path".into())
            );
            assert_eq!(
                by_request(scheme, "GET", "/a/b?x=%zz", None, b""),
                Err("malformed_params".into())
            );
        }
        // An absolute-form target's authority is the (v2) host; a JSON body is v2's body.
        assert_eq!(
            by_request(Scheme::V2, "GET", "http://API.test/a/b?q=1", None, b""),
            Ok(by_params(Scheme::V2, "GET", vec![p("q", "1")]))
        );
        let json = by_request(Scheme::V2, "POST", "/a/b", Some("application/json"), b"{}");
        assert_ne!(json, Ok(by_params(Scheme::V2, "POST", vec![])));
        assert_eq!(
            by_request(Scheme::V1, "POST", "/a/b", Some("application/json"), b"{}"),
            Err("invalid_body".into())
        );
    }

    /// PROTOCOL §10 step 0 comes before the secret's rules (step 1) and a link's body check
    /// (step 2): text that is not valid Unicode and a timestamp out of range are refused first.
    #[test]
    fn step_0_refusals_come_before_the_secret_and_the_body() {
        let lone = || XNonceText::from_bytes(b"a\xED\xA0\x80".to_vec());
        let sign_with = |secret: &str, timestamp: u64, nonce: Option<XNonceText>| {
            sign(
                Scheme::V1,
                "GET".into(),
                "/a".into(),
                vec![],
                "c".into(),
                secret.into(),
                Some(timestamp),
                nonce,
                None,
                None,
            )
            .unwrap_err()
            .code()
            .into_owned()
        };
        // PROTOCOL §10's own example: an empty secret and the timestamp 2^53.
        assert_eq!(sign_with("", 1 << 53, None), "invalid_timestamp");
        assert_eq!(sign_with("", u64::MAX, None), "invalid_timestamp");
        // v1 ignores the nonce, but not text that is not Unicode in it.
        assert_eq!(sign_with("a\t", 1, Some(lone())), "invalid_nonce");
        assert_eq!(sign_with("", 1, None), "invalid_secret");
        let link_with = |timestamp: u64, host: Option<XNonceText>| {
            link(
                Scheme::V1,
                "GET".into(),
                "/a".into(),
                vec![],
                "c".into(),
                "".into(),
                "ftp://h".into(),
                Some(timestamp),
                None,
                host,
                Some(vec![0]),
            )
            .unwrap_err()
            .code()
            .into_owned()
        };
        assert_eq!(link_with(1 << 53, None), "invalid_timestamp");
        assert_eq!(link_with(1, Some(lone())), "invalid_host");
        assert_eq!(link_with(1, None), "invalid_secret");
    }

    #[test]
    fn bad_secret_is_an_input_error() {
        let e = sign(
            Scheme::V1,
            "GET".into(),
            "/a/b".into(),
            vec![],
            "c".into(),
            "".into(),
            None,
            None,
            None,
            None,
        )
        .unwrap_err();
        assert_eq!(e.code(), "invalid_secret");
        assert!(matches!(e, XNonceError::Input { .. }));
    }
}
