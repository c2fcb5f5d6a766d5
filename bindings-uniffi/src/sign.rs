//! Signing and links: thin wrappers over [`xnonce_core::sign`] and [`xnonce_core::link`].

use std::fmt;

use xnonce_core::{Secret, SignInput};

use crate::XNonceError;

/// Which scheme signs a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
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
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Param {
    /// The key.
    pub key: String,
    /// The value, as text.
    pub value: String,
}

/// Everything [`sign_detailed`] produced.
///
/// Printing it never shows `canonical` (for v1 it holds the secret): `Debug` and `Display`
/// write `<redacted>` in its place, and both are exported, so Kotlin's `toString()` and
/// Swift's `description` / `debugDescription` are these redacted forms, not the default
/// field-by-field ones. Read the canonical string only explicitly, as `canonical`.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Display, Debug)]
pub struct Signed {
    /// The `X-Nonce` header value.
    pub x_nonce: String,
    /// The `ottoken` (escape it for a query with `ottoken_query_value`).
    pub ottoken: String,
    /// The exact string that was hashed. For v1 it CONTAINS THE SECRET: never log it.
    pub canonical: String,
    /// The signed timestamp (milliseconds since the epoch).
    pub timestamp: u64,
    /// The v2 nonce (`None` for v1).
    pub nonce: Option<String>,
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

#[allow(clippy::too_many_arguments)]
fn input(
    scheme: Scheme,
    method: String,
    path: String,
    params: Vec<Param>,
    client: String,
    timestamp: Option<u64>,
    nonce: Option<String>,
    host: Option<String>,
    body: Option<Vec<u8>>,
) -> SignInput {
    SignInput {
        scheme: scheme.into(),
        method,
        path,
        params: params.into_iter().map(|p| (p.key, p.value)).collect(),
        client,
        timestamp_ms: timestamp,
        nonce,
        host,
        body,
    }
}

/// Signs a request; returns the `X-Nonce` header value. A missing `timestamp` reads the
/// system clock, a missing v2 `nonce` takes 16 bytes from the OS generator.
#[allow(clippy::too_many_arguments)]
#[uniffi::export(default(timestamp = None, nonce = None, host = None, body = None))]
pub fn sign(
    scheme: Scheme,
    method: String,
    path: String,
    params: Vec<Param>,
    client: String,
    secret: String,
    timestamp: Option<u64>,
    nonce: Option<String>,
    host: Option<String>,
    body: Option<Vec<u8>>,
) -> Result<String, XNonceError> {
    let input = input(
        scheme, method, path, params, client, timestamp, nonce, host, body,
    );
    Ok(xnonce_core::sign_header_value(
        &input,
        &Secret::new(secret)?,
    )?)
}

/// Signs a request and returns every intermediate (see [`Signed`]).
#[allow(clippy::too_many_arguments)]
#[uniffi::export(default(timestamp = None, nonce = None, host = None, body = None))]
pub fn sign_detailed(
    scheme: Scheme,
    method: String,
    path: String,
    params: Vec<Param>,
    client: String,
    secret: String,
    timestamp: Option<u64>,
    nonce: Option<String>,
    host: Option<String>,
    body: Option<Vec<u8>>,
) -> Result<Signed, XNonceError> {
    let input = input(
        scheme, method, path, params, client, timestamp, nonce, host, body,
    );
    let signed = xnonce_core::sign(&input, &Secret::new(secret)?)?;
    Ok(detailed(&signed))
}

fn detailed(signed: &xnonce_core::Signed) -> Signed {
    Signed {
        x_nonce: signed.x_nonce.clone(),
        ottoken: signed.ottoken.clone(),
        canonical: signed.canonical().to_string(),
        timestamp: signed.timestamp_ms(),
        nonce: match &signed.header {
            xnonce_core::XNonce::V2 { nonce, .. } => Some(nonce.clone()),
            xnonce_core::XNonce::V1 { .. } => None,
        },
    }
}

/// Signs a request and returns a link under `base_url` (`http(s)://authority[/prefix]`)
/// carrying the params and the `ottoken`. For v2 the signed host is the URL's authority.
#[allow(clippy::too_many_arguments)]
#[uniffi::export(default(timestamp = None, nonce = None, host = None, body = None))]
pub fn link(
    scheme: Scheme,
    method: String,
    path: String,
    params: Vec<Param>,
    client: String,
    secret: String,
    base_url: String,
    timestamp: Option<u64>,
    nonce: Option<String>,
    host: Option<String>,
    body: Option<Vec<u8>>,
) -> Result<String, XNonceError> {
    let input = input(
        scheme, method, path, params, client, timestamp, nonce, host, body,
    );
    Ok(xnonce_core::link(&input, &Secret::new(secret)?, &base_url)?.url)
}

/// A signed link and the signature behind it.
///
/// Printed like [`Signed`] (its `Debug` and `Display` redact the canonical string), and the
/// same two traits are exported for the same reason.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Display, Debug)]
pub struct SignedLink {
    /// The full URL.
    pub url: String,
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
    method: String,
    path: String,
    params: Vec<Param>,
    client: String,
    secret: String,
    base_url: String,
    timestamp: Option<u64>,
    nonce: Option<String>,
    host: Option<String>,
    body: Option<Vec<u8>>,
) -> Result<SignedLink, XNonceError> {
    let input = input(
        scheme, method, path, params, client, timestamp, nonce, host, body,
    );
    let l = xnonce_core::link(&input, &Secret::new(secret)?, &base_url)?;
    Ok(SignedLink {
        signed: detailed(&l.signed),
        url: l.url,
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
        assert_eq!(s.nonce.as_ref().map(String::len), Some(32));
        assert!(s.timestamp > 1_600_000_000_000);
        assert!(s.x_nonce.starts_with("v2 svc "));
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
        assert!(s.canonical.contains(SECRET));
        assert_eq!(
            s.canonical,
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
            assert!(text.contains(&s.x_nonce), "{what} lost x_nonce: {text}");
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
        assert!(!format!("{v2:?}").contains(&v2.canonical));
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
