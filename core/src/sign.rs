//! Signing: from a request description and a secret to the `X-Nonce` header and `ottoken`.
//!
//! ```
//! use xnonce_core::{sign_with, FixedEnvironment, Scheme, Secret, SignInput, Signed};
//! let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
//! let input = SignInput::new(Scheme::V2, "post", "/reports/upload", "svc")
//!     .host("api.example.com")
//!     .param("b", "2")
//!     .params([("a", "1")]) // v2 signs them sorted
//!     .body(&b"{\"n\":1}"[..])
//!     .timestamp_ms(1_700_000_000_000)
//!     .nonce("00112233445566778899aabbccddeeff");
//! let env = FixedEnvironment { now_ms: 0, nonce: [0; 16] }; // unused: both are given
//! let signed: Signed = sign_with(&input, &secret, &env)?;
//! assert!(signed.x_nonce.starts_with("v2 svc 1700000000000 00112233445566778899aabbccddeeff "));
//! assert_eq!(signed.timestamp_ms(), 1_700_000_000_000);
//! assert!(signed.canonical().starts_with("XNONCE-V2\nPOST\napi.example.com\n/reports/upload\na=1&b=2\n"));
//! # Ok::<(), xnonce_core::Error>(())
//! ```

use std::borrow::Cow;
use std::fmt;

use crate::canonical;
use crate::environment::Environment;
use crate::error::{err, ErrorCode, Result};
use crate::params;
use crate::{Incoming, Scheme, Secret, XNonce};

/// Everything that is signed, before signing. Missing `timestamp_ms` / `nonce` are filled
/// from an [`Environment`] by [`sign_with`] (or from the system by [`sign`]).
///
/// ```
/// use xnonce_core::{sign_with, FixedEnvironment, Scheme, Secret, SignInput};
/// let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
/// let input = SignInput::new(Scheme::V1, "get", "/admin/status", "test_client")
///     .timestamp_ms(1384300802123);
/// let env = FixedEnvironment { now_ms: 0, nonce: [0; 16] };
/// let signed = sign_with(&input, &secret, &env)?;
/// assert_eq!(signed.x_nonce, "d77ccdaedbd041324e6551a60a46b08a72e2ed128b01359b39c5d2d54b499cbe test_client 1384300802123");
/// # Ok::<(), xnonce_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInput {
    /// Which scheme signs.
    pub scheme: Scheme,
    /// HTTP method, any case (upper-cased when signed).
    pub method: String,
    /// Path without query: `/controller/action`.
    pub path: String,
    /// Query/form params in order (v1 signs the order; v2 sorts).
    pub params: Vec<(String, String)>,
    /// Client id.
    pub client: String,
    /// Milliseconds since the epoch; `None` takes the environment's clock.
    pub timestamp_ms: Option<u64>,
    /// v2: 32 lower-case hex characters; `None` takes 16 random bytes. Ignored by v1.
    pub nonce: Option<String>,
    /// v2: the authority the request goes to (`host[:port]`). Ignored by v1.
    pub host: Option<String>,
    /// v2: the raw non-form body (its SHA-256 is signed). v1 cannot sign bodies.
    pub body: Option<Vec<u8>>,
}

impl SignInput {
    /// Starts an input with no params, no body and time/nonce from the environment.
    pub fn new(
        scheme: Scheme,
        method: impl Into<String>,
        path: impl Into<String>,
        client: impl Into<String>,
    ) -> Self {
        SignInput {
            scheme,
            method: method.into(),
            path: path.into(),
            params: Vec::new(),
            client: client.into(),
            timestamp_ms: None,
            nonce: None,
            host: None,
            body: None,
        }
    }

    /// Appends one param.
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((key.into(), value.into()));
        self
    }

    /// Appends params in iteration order.
    pub fn params<K: Into<String>, V: Into<String>>(
        mut self,
        params: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.params
            .extend(params.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Fixes the timestamp.
    pub fn timestamp_ms(mut self, ms: u64) -> Self {
        self.timestamp_ms = Some(ms);
        self
    }

    /// Fixes the v2 nonce.
    pub fn nonce(mut self, nonce: impl Into<String>) -> Self {
        self.nonce = Some(nonce.into());
        self
    }

    /// Sets the v2 host.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Sets the v2 body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// The input that signs `req`, a request as an HTTP client is about to send it, exactly as
    /// a [`Verifier`](crate::Verifier) will read it: the params from its raw query and, when
    /// the body is `application/x-www-form-urlencoded`, from the body's fields; any other
    /// non-empty body is signed as the body (v2; v1 refuses it, `invalid_body`). An empty path
    /// is sent as `/` (RFC 9112 §3.2.1). A target holding a fragment (`#`) is `invalid_path`,
    /// a form body that is not UTF-8 `malformed_params`, a bad `%` escape in the query or the
    /// form `malformed_params`. An `ottoken` param is left out in v1 (its server reads none)
    /// and kept in v2, where it cannot be signed (`invalid_param_key`): a link is sent as it
    /// is, not signed again. Time and nonce come from the environment unless set afterwards.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use xnonce_core::{sign_with, FixedEnvironment, Incoming, Scheme, Secret, SignInput, Verifier};
    /// let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
    /// let req = Incoming::new("POST", "/reports/upload?day=mon")
    ///     .host("api.test")
    ///     .body(Some("application/x-www-form-urlencoded"), b"format=csv+gz");
    /// let input = SignInput::for_request(Scheme::V2, &req, "svc")?;
    /// assert_eq!(input.params, [("day".into(), "mon".into()), ("format".into(), "csv gz".into())]);
    /// let env = FixedEnvironment { now_ms: 1_700_000_000_000, nonce: [7; 16] };
    /// let signed = sign_with(&input, &secret, &env)?;
    /// let clients = HashMap::from([("svc".to_string(), secret)]);
    /// let ok = Verifier::new().verify(&req.x_nonce(&signed.x_nonce), &clients, env.now_ms)?;
    /// assert_eq!(ok.params, input.params);
    /// # Ok::<(), xnonce_core::Error>(())
    /// ```
    pub fn for_request(
        scheme: Scheme,
        req: &Incoming<'_>,
        client: impl Into<String>,
    ) -> Result<SignInput> {
        if req.path.contains('#') || req.query.contains('#') {
            return err(ErrorCode::InvalidPath, "a request target has no fragment");
        }
        let form = req.form_text()?;
        Ok(SignInput {
            scheme,
            method: req.method.to_owned(),
            path: if req.path.is_empty() { "/" } else { req.path }.to_owned(),
            params: params::from_query_and_form(scheme, req.query, form, false)?,
            client: client.into(),
            timestamp_ms: None,
            nonce: None,
            host: req.host.map(str::to_owned),
            body: (form.is_none() && !req.body.is_empty()).then(|| req.body.to_vec()),
        })
    }
}

/// The result of signing. Equality compares the header, the `ottoken` and the canonical
/// string (for v1, holding the secret) in constant time.
#[derive(Clone, Eq)]
pub struct Signed {
    /// The header, parsed form.
    pub header: XNonce,
    /// The `X-Nonce` header value.
    pub x_nonce: String,
    /// The `ottoken` (not yet escaped for a query; see [`crate::ottoken::query_value`]).
    pub ottoken: String,
    /// Zeroed when dropped: for v1 it holds the secret.
    canonical: zeroize::Zeroizing<String>,
}

impl PartialEq for Signed {
    fn eq(&self, other: &Self) -> bool {
        use crate::mac::constant_time_eq;
        constant_time_eq(&self.x_nonce, &other.x_nonce)
            & constant_time_eq(&self.ottoken, &other.ottoken)
            & constant_time_eq(&self.canonical, &other.canonical)
            & (self.header == other.header)
    }
}

impl Signed {
    /// The exact string that was hashed. For v1 it CONTAINS THE SECRET: never log it.
    pub fn canonical(&self) -> &str {
        &self.canonical
    }

    /// The timestamp that was signed.
    pub fn timestamp_ms(&self) -> u64 {
        self.header.timestamp_ms()
    }
}

impl fmt::Debug for Signed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signed")
            .field("x_nonce", &self.x_nonce)
            .field("ottoken", &self.ottoken)
            .finish_non_exhaustive()
    }
}

/// Signs with the system clock and OS random generator.
///
/// ```
/// use xnonce_core::{sign, Scheme, Secret, SignInput};
/// let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
/// let input = SignInput::new(Scheme::V2, "GET", "/admin/status", "svc").host("api.example.com");
/// let signed = sign(&input, &secret)?;
/// assert!(signed.x_nonce.starts_with("v2 svc ")); // send as the `X-Nonce` header
/// assert!(!signed.ottoken.is_empty()); // or as `?ottoken=` in a link
/// # Ok::<(), xnonce_core::Error>(())
/// ```
#[cfg(feature = "os")]
pub fn sign(input: &SignInput, secret: &Secret) -> Result<Signed> {
    sign_with(input, secret, &crate::environment::SystemEnvironment)
}

/// Signs, taking any missing timestamp / nonce from `env`.
pub fn sign_with(input: &SignInput, secret: &Secret, env: &dyn Environment) -> Result<Signed> {
    let fields = SignFields::of(input);
    let mut parts = sign_parts(&fields, secret, env, true)?;
    let canonical = zeroize::Zeroizing::new(parts.canonical.take().unwrap_or_default());
    let header = parts.header(fields.client);
    Ok(Signed {
        x_nonce: header.value(),
        ottoken: header.to_ottoken(),
        header,
        canonical,
    })
}

/// Only the header: what a requester needs per request (no ottoken is built).
///
/// ```
/// use xnonce_core::{sign_header_with, FixedEnvironment, Scheme, Secret, SignInput};
/// let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
/// let env = FixedEnvironment { now_ms: 1384300802123, nonce: [0; 16] };
/// let h = sign_header_with(&SignInput::new(Scheme::V1, "GET", "/admin/status", "test_client"), &secret, &env)?;
/// assert!(h.to_string().starts_with("d77ccdaedbd041324e6551a60a46b08a72e2ed128b01359b39c5d2d54b499cbe "));
/// # Ok::<(), xnonce_core::Error>(())
/// ```
pub fn sign_header_with(
    input: &SignInput,
    secret: &Secret,
    env: &dyn Environment,
) -> Result<XNonce> {
    let fields = SignFields::of(input);
    Ok(sign_parts(&fields, secret, env, false)?.header(fields.client))
}

/// Only the `X-Nonce` header value, written straight into one string: the fastest way to
/// sign a request (the same text as `sign_header_with(..)?.value()`).
///
/// ```
/// use xnonce_core::{sign_header_value_with, FixedEnvironment, Scheme, Secret, SignInput};
/// let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
/// let env = FixedEnvironment { now_ms: 1384300802123, nonce: [0; 16] };
/// let input = SignInput::new(Scheme::V1, "GET", "/admin/status", "test_client");
/// assert_eq!(
///     sign_header_value_with(&input, &secret, &env)?,
///     "d77ccdaedbd041324e6551a60a46b08a72e2ed128b01359b39c5d2d54b499cbe test_client 1384300802123"
/// );
/// # Ok::<(), xnonce_core::Error>(())
/// ```
pub fn sign_header_value_with(
    input: &SignInput,
    secret: &Secret,
    env: &dyn Environment,
) -> Result<String> {
    let mut out = String::with_capacity(crate::header::VALUE_CAPACITY);
    push_header_value(&SignFields::of(input), secret, env, &mut out)?;
    Ok(out)
}

/// What is signed, borrowed: from a [`SignInput`], or straight from the text of a packed
/// JS request ([`crate::packed`]) without copying its fields into owned strings.
#[derive(Debug)]
pub(crate) struct SignFields<'a, K, V> {
    pub(crate) scheme: Scheme,
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) params: &'a [(K, V)],
    pub(crate) client: &'a str,
    pub(crate) timestamp_ms: Option<u64>,
    pub(crate) nonce: Option<&'a str>,
    pub(crate) host: Option<&'a str>,
    pub(crate) body: Option<&'a [u8]>,
}

impl<'a> SignFields<'a, String, String> {
    fn of(input: &'a SignInput) -> Self {
        SignFields {
            scheme: input.scheme,
            method: &input.method,
            path: &input.path,
            params: &input.params,
            client: &input.client,
            timestamp_ms: input.timestamp_ms,
            nonce: input.nonce.as_deref(),
            host: input.host.as_deref(),
            body: input.body.as_deref(),
        }
    }
}

/// Appends the `X-Nonce` header value of `fields` to `out` (what [`sign_header_value_with`]
/// returns).
pub(crate) fn push_header_value<K: AsRef<str>, V: AsRef<str>>(
    fields: &SignFields<'_, K, V>,
    secret: &Secret,
    env: &dyn Environment,
    out: &mut String,
) -> Result<()> {
    let parts = sign_parts(fields, secret, env, false)?;
    let mac = crate::hex::digest_hex(&parts.mac);
    let mac = std::str::from_utf8(&mac).unwrap_or_default();
    match &parts.nonce {
        None => crate::header::push_v1(out, mac, fields.client, parts.timestamp_ms),
        Some(nonce) => crate::header::push_v2(out, fields.client, parts.timestamp_ms, nonce, mac),
    }
    Ok(())
}

/// [`sign_header_value_with`] on the system clock and OS random generator.
///
/// ```
/// use xnonce_core::{sign_header_value, Scheme, Secret, SignInput};
/// let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
/// let input = SignInput::new(Scheme::V1, "GET", "/admin/status", "test_client");
/// let value = sign_header_value(&input, &secret)?; // `<64 hex token> test_client <now ms>`
/// assert_eq!(value.split(' ').nth(1), Some("test_client"));
/// # Ok::<(), xnonce_core::Error>(())
/// ```
#[cfg(feature = "os")]
pub fn sign_header_value(input: &SignInput, secret: &Secret) -> Result<String> {
    sign_header_value_with(input, secret, &crate::environment::SystemEnvironment)
}

/// Checks, once, what every request `client` signs with `secret` in `scheme` needs: a
/// valid client id, and for v2 a secret of 64 hex digits (PROTOCOL §3.1, §3.2, §10). A
/// requester or an HTTP-library adapter calls it when it is made, so that a wrong
/// credential is refused there rather than on each request. (The secret's text rules were
/// checked when the [`Secret`] was made.)
///
/// ```
/// use xnonce_core::{sign::check_signer, Scheme, Secret};
/// let legacy = Secret::new("legacy-secret")?;
/// assert!(check_signer(Scheme::V1, "svc", &legacy).is_ok());
/// let e = check_signer(Scheme::V2, "svc", &legacy).unwrap_err();
/// assert_eq!(e.code().as_str(), "invalid_secret"); // v2 keys are 64 hex digits
/// let e = check_signer(Scheme::V1, "has space", &legacy).unwrap_err();
/// assert_eq!(e.code().as_str(), "invalid_client_id");
/// # Ok::<(), xnonce_core::Error>(())
/// ```
pub fn check_signer(scheme: Scheme, client: &str, secret: &Secret) -> Result<()> {
    crate::client_id::validate(client)?;
    match scheme {
        Scheme::V1 => Ok(()),
        Scheme::V2 => secret.v2_key().map(|_| ()),
    }
}

/// What signing computed, before it is written out as a header.
struct Parts<'a> {
    timestamp_ms: u64,
    /// v1 token or v2 signature.
    mac: [u8; 32],
    /// v2 only: the caller's nonce, or a fresh one.
    nonce: Option<Cow<'a, str>>,
    /// Only when asked for (for v1 it holds the secret).
    canonical: Option<String>,
}

impl Parts<'_> {
    fn header(self, client: &str) -> XNonce {
        let mac = crate::hex::encode(&self.mac);
        let client = client.to_string();
        let timestamp_ms = self.timestamp_ms;
        match self.nonce {
            None => XNonce::V1 {
                token: mac,
                client,
                timestamp_ms,
            },
            Some(nonce) => XNonce::V2 {
                client,
                timestamp_ms,
                nonce: nonce.into_owned(),
                signature: mac,
            },
        }
    }
}

/// Signs; the canonical string is kept only when `keep_canonical` (for v1 it holds the
/// secret, so the header-only paths never build it: the secret is hashed in place).
fn sign_parts<'a, K: AsRef<str>, V: AsRef<str>>(
    input: &SignFields<'a, K, V>,
    secret: &Secret,
    env: &dyn Environment,
    keep_canonical: bool,
) -> Result<Parts<'a>> {
    let timestamp_ms = input.timestamp_ms.unwrap_or_else(|| env.now_ms());
    if timestamp_ms > crate::header::MAX_TIMESTAMP_MS {
        return err(
            ErrorCode::InvalidTimestamp,
            "timestamp is larger than 2^53 - 1 ms",
        );
    }
    match input.scheme {
        Scheme::V1 => {
            if input.body.as_ref().is_some_and(|b| !b.is_empty()) {
                return err(
                    ErrorCode::InvalidBody,
                    "scheme v1 cannot sign a body; send params or use v2",
                );
            }
            let prefix =
                canonical::v1::prefix(input.method, input.path, input.params, input.client)?;
            let mac = canonical::v1::token(&prefix, secret.expose(), timestamp_ms);
            let canonical = keep_canonical
                .then(|| canonical::v1::complete(prefix, secret.expose(), timestamp_ms));
            Ok(Parts {
                timestamp_ms,
                mac,
                nonce: None,
                canonical,
            })
        }
        Scheme::V2 => {
            let nonce = match input.nonce {
                Some(n) => Cow::Borrowed(n),
                None => Cow::Owned(crate::nonce::from_bytes(env.random_nonce())),
            };
            let host = input.host.ok_or_else(|| {
                crate::Error::new(
                    ErrorCode::InvalidHost,
                    "v2 signs the host: give the authority the request goes to",
                )
            })?;
            let canonical = canonical::v2::canonical(&canonical::v2::Fields {
                method: input.method,
                host,
                path: input.path,
                params: input.params,
                body: input.body.unwrap_or(&[]),
                client: input.client,
                timestamp_ms,
                nonce: &nonce,
            })?;
            let mac = secret.v2_hmac()?.sign(canonical.as_bytes());
            Ok(Parts {
                timestamp_ms,
                mac,
                nonce: Some(nonce),
                canonical: keep_canonical.then_some(canonical),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{env, secret, SECRET};

    fn from_target(
        scheme: Scheme,
        target: &str,
        ct: Option<&str>,
        body: &[u8],
    ) -> Result<SignInput> {
        let req = Incoming::new("POST", target)
            .host("api.test")
            .body(ct, body);
        SignInput::for_request(scheme, &req, "svc")
    }

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded; charset=utf-8");

    #[test]
    fn a_request_target_signs_its_query_and_form_fields_or_its_body() {
        let form = from_target(Scheme::V1, "/c/a?b=2&a=1%201", FORM, b"z=+").unwrap();
        assert_eq!((form.method.as_str(), form.path.as_str()), ("POST", "/c/a"));
        assert_eq!(
            form.params,
            [("b", "2"), ("a", "1 1"), ("z", " ")].map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert_eq!((form.body, form.host.as_deref()), (None, Some("api.test")));
        let json = from_target(Scheme::V2, "/c/a", Some("application/json"), b"{}").unwrap();
        assert_eq!(
            (json.params.len(), json.body.as_deref()),
            (0, Some(&b"{}"[..]))
        );
        // No body, or an empty one, is no body; an empty path is sent as "/".
        let empty = from_target(Scheme::V2, "?x=1", Some("application/json"), b"").unwrap();
        assert_eq!((empty.path.as_str(), empty.body), ("/", None));
    }

    #[test]
    fn a_request_target_with_a_fragment_or_a_bad_form_is_refused() {
        for target in ["/c/a#f", "/c/a?x=1#f", "/c/a?x=#"] {
            let e = from_target(Scheme::V2, target, None, b"").unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidPath, "{target}");
        }
        let e = from_target(Scheme::V2, "/c/a", FORM, b"x=\xff").unwrap_err();
        assert_eq!(e.code(), ErrorCode::MalformedParams);
        let e = from_target(Scheme::V2, "/c/a?x=%zz", None, b"").unwrap_err();
        assert_eq!(e.code(), ErrorCode::MalformedParams);
        // v1 cannot sign a body: refused when signed, not when read.
        let v1 = from_target(Scheme::V1, "/c/a", Some("text/plain"), b"x").unwrap();
        let e = sign_with(&v1, &secret(), &env()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidBody);
    }

    /// `Signed` reports the signed timestamp, and its `Debug` shows the header and the
    /// ottoken but never the canonical string (for v1 it holds the secret).
    #[test]
    fn signed_reports_its_timestamp_and_hides_its_canonical_string() {
        let (secret, env) = (secret(), env());
        for scheme in [Scheme::V1, Scheme::V2] {
            let input = SignInput::new(scheme, "GET", "/a/b", "svc").host("api.test");
            let signed = sign_with(&input, &secret, &env).unwrap();
            assert_eq!(signed.timestamp_ms(), 1_700_000_000_000);
            let forced = sign_with(
                &input.clone().timestamp_ms(1_600_000_000_001),
                &secret,
                &env,
            );
            assert_eq!(forced.unwrap().timestamp_ms(), 1_600_000_000_001);

            let debug = format!("{signed:?}");
            assert!(debug.contains(&signed.x_nonce), "{debug}");
            assert!(debug.contains(&signed.ottoken), "{debug}");
            assert!(!debug.contains(SECRET), "{debug}");
            assert!(!debug.contains(signed.canonical()), "{debug}");
        }
    }
}
