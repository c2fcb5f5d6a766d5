//! Signing and links: thin wrappers over [`xnonce_core::sign`] and [`xnonce_core::link`].

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
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
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
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SignedLink {
    /// The full URL.
    pub url: String,
    /// The signature behind it.
    pub signed: Signed,
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
