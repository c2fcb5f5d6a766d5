//! Signing, links, headers and ottokens: thin wrappers over `xnonce_core`.

use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use pyo3::types::PyString;
use xnonce_core::{ottoken, Incoming, ServerTimeHint, SignInput, Signed, XNonce};

use crate::convert::{self, field, Received, SecretArg, Text};
use crate::errors::IntoPyResult;

/// The result of signing: the `X-Nonce` header value and everything behind it.
#[pyclass(frozen, module = "xnonce", name = "Signed")]
pub struct PySigned {
    inner: Signed,
}

#[pymethods]
impl PySigned {
    /// The `X-Nonce` header value.
    #[getter]
    fn x_nonce(&self) -> &str {
        &self.inner.x_nonce
    }

    /// The `ottoken` form of the header (escape it with `ottoken_query_value` for a URL).
    #[getter]
    fn ottoken(&self) -> &str {
        &self.inner.ottoken
    }

    /// The exact string that was hashed. For v1 it CONTAINS THE SECRET: never log it.
    #[getter]
    fn canonical(&self) -> &str {
        self.inner.canonical()
    }

    /// The signed timestamp (ms since the epoch).
    #[getter]
    fn timestamp(&self) -> u64 {
        self.inner.timestamp_ms()
    }

    /// The v2 nonce (`None` for v1).
    #[getter]
    fn nonce(&self) -> Option<&str> {
        match &self.inner.header {
            XNonce::V2 { nonce, .. } => Some(nonce),
            XNonce::V1 { .. } => None,
        }
    }

    /// `"v1"` or `"v2"`.
    #[getter]
    fn scheme(&self) -> &'static str {
        self.inner.header.scheme().as_str()
    }

    /// The client id.
    #[getter]
    fn client(&self) -> &str {
        self.inner.header.client()
    }

    /// The parsed header.
    #[getter]
    fn header(&self) -> PyHeader {
        PyHeader {
            inner: self.inner.header.clone(),
        }
    }

    fn __str__(&self) -> &str {
        &self.inner.x_nonce
    }

    fn __repr__(&self) -> String {
        // Never the canonical string: for v1 it holds the secret.
        format!("Signed(x_nonce={:?})", self.inner.x_nonce)
    }
}

/// A signed link: the URL and the signature behind it.
#[pyclass(frozen, module = "xnonce", name = "Link")]
pub struct PyLink {
    url: String,
    signed: Py<PySigned>,
}

#[pymethods]
impl PyLink {
    /// The full URL with the params and the `ottoken`.
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    /// The signature behind the link.
    #[getter]
    fn signed(&self, py: Python<'_>) -> Py<PySigned> {
        self.signed.clone_ref(py)
    }

    fn __str__(&self) -> &str {
        &self.url
    }

    fn __repr__(&self) -> String {
        format!("Link(url={:?})", self.url)
    }
}

/// A parsed `X-Nonce` header value of either scheme.
#[pyclass(frozen, eq, hash, module = "xnonce", name = "Header")]
#[derive(PartialEq, Eq, Hash)]
pub struct PyHeader {
    pub(crate) inner: XNonce,
}

#[pymethods]
impl PyHeader {
    /// `"v1"` or `"v2"`.
    #[getter]
    fn scheme(&self) -> &'static str {
        self.inner.scheme().as_str()
    }

    /// The client id.
    #[getter]
    fn client(&self) -> &str {
        self.inner.client()
    }

    /// The request timestamp (ms since the epoch).
    #[getter]
    fn timestamp(&self) -> u64 {
        self.inner.timestamp_ms()
    }

    /// The v2 nonce (`None` for v1).
    #[getter]
    fn nonce(&self) -> Option<&str> {
        match &self.inner {
            XNonce::V2 { nonce, .. } => Some(nonce),
            XNonce::V1 { .. } => None,
        }
    }

    /// The v1 token or the v2 signature, as presented (lower-case hex): `mac`, as in every
    /// xnonce package.
    #[getter]
    fn mac(&self) -> &str {
        self.inner.mac()
    }

    /// The same as `mac` (the v1 token or the v2 signature).
    #[getter]
    fn signature(&self) -> &str {
        self.inner.mac()
    }

    /// What identifies the request for replay protection: the v2 nonce or the v1 token.
    #[getter]
    fn request_id(&self) -> &str {
        self.inner.request_id()
    }

    /// The header as an `ottoken`.
    fn to_ottoken(&self) -> String {
        self.inner.to_ottoken()
    }

    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self) -> String {
        format!("Header({:?})", self.inner.to_string())
    }
}

/// Builds a core [`SignInput`] from Python arguments (the one place arguments are parsed).
#[allow(clippy::too_many_arguments)]
fn input(
    scheme: &str,
    method: &str,
    path: &str,
    params: Option<&Bound<'_, PyAny>>,
    client: &str,
    timestamp: Option<convert::Millis>,
    nonce: Option<&str>,
    host: Option<&str>,
    body: Option<&Bound<'_, PyAny>>,
) -> PyResult<SignInput> {
    Ok(SignInput {
        scheme: convert::scheme(scheme)?,
        method: method.to_owned(),
        path: path.to_owned(),
        params: convert::params(params)?,
        client: client.to_owned(),
        timestamp_ms: convert::millis(timestamp),
        nonce: nonce.map(str::to_owned),
        host: host.map(str::to_owned),
        body: convert::body(body)?,
    })
}

/// Signs a request and returns the `X-Nonce` header value.
#[pyfunction]
#[pyo3(signature = (scheme, method, path, params, client, secret, *, timestamp=None, nonce=None, host=None, body=None))]
#[allow(clippy::too_many_arguments)]
pub fn sign(
    scheme: Text<'_, field::Scheme>,
    method: Text<'_, field::Method>,
    path: Text<'_, field::Path>,
    params: Option<&Bound<'_, PyAny>>,
    client: Text<'_, field::Client>,
    secret: SecretArg<'_>,
    timestamp: Option<convert::Millis>,
    nonce: Option<Text<'_, field::Nonce>>,
    host: Option<Text<'_, field::Host>>,
    body: Option<&Bound<'_, PyAny>>,
) -> PyResult<String> {
    let input = input(
        &scheme,
        &method,
        &path,
        params,
        &client,
        timestamp,
        nonce.as_deref(),
        host.as_deref(),
        body,
    )?;
    let secret = secret.secret()?;
    header(&input, &secret)
}

/// Only the header (no ottoken is built): what `sign` and `sign_request` return.
fn header(input: &SignInput, secret: &xnonce_core::Secret) -> PyResult<String> {
    xnonce_core::sign_header_value(input, secret).py_err()
}

/// Signs a request and returns everything: header, ottoken, canonical string, timestamp, nonce.
#[pyfunction]
#[pyo3(signature = (scheme, method, path, params, client, secret, *, timestamp=None, nonce=None, host=None, body=None))]
#[allow(clippy::too_many_arguments)]
pub fn sign_detailed(
    scheme: Text<'_, field::Scheme>,
    method: Text<'_, field::Method>,
    path: Text<'_, field::Path>,
    params: Option<&Bound<'_, PyAny>>,
    client: Text<'_, field::Client>,
    secret: SecretArg<'_>,
    timestamp: Option<convert::Millis>,
    nonce: Option<Text<'_, field::Nonce>>,
    host: Option<Text<'_, field::Host>>,
    body: Option<&Bound<'_, PyAny>>,
) -> PyResult<PySigned> {
    let input = input(
        &scheme,
        &method,
        &path,
        params,
        &client,
        timestamp,
        nonce.as_deref(),
        host.as_deref(),
        body,
    )?;
    let secret = secret.secret()?;
    Ok(PySigned {
        inner: xnonce_core::sign(&input, &secret).py_err()?,
    })
}

#[allow(clippy::too_many_arguments)]
fn make_link(
    scheme: &str,
    method: &str,
    path: &str,
    params: Option<&Bound<'_, PyAny>>,
    client: &str,
    secret: &SecretArg<'_>,
    base_url: &str,
    timestamp: Option<convert::Millis>,
    nonce: Option<&str>,
    host: Option<&str>,
    body: Option<&Bound<'_, PyAny>>,
) -> PyResult<xnonce_core::Link> {
    let input = input(
        scheme, method, path, params, client, timestamp, nonce, host, body,
    )?;
    let secret = secret.secret()?;
    xnonce_core::link(&input, &secret, base_url).py_err()
}

/// Signs a request and returns a URL under `base_url` carrying the params and the `ottoken`
/// (v2 signs the base URL's authority as the host). A link cannot carry a body.
#[pyfunction]
#[pyo3(signature = (scheme, method, path, params, client, secret, base_url, *, timestamp=None, nonce=None, host=None, body=None))]
#[allow(clippy::too_many_arguments)]
pub fn link(
    scheme: Text<'_, field::Scheme>,
    method: Text<'_, field::Method>,
    path: Text<'_, field::Path>,
    params: Option<&Bound<'_, PyAny>>,
    client: Text<'_, field::Client>,
    secret: SecretArg<'_>,
    base_url: Text<'_, field::BaseUrl>,
    timestamp: Option<convert::Millis>,
    nonce: Option<Text<'_, field::Nonce>>,
    host: Option<Text<'_, field::Host>>,
    body: Option<&Bound<'_, PyAny>>,
) -> PyResult<String> {
    Ok(make_link(
        &scheme,
        &method,
        &path,
        params,
        &client,
        &secret,
        &base_url,
        timestamp,
        nonce.as_deref(),
        host.as_deref(),
        body,
    )?
    .url)
}

/// Like [`link`], returning the URL and the signature behind it.
#[pyfunction]
#[pyo3(signature = (scheme, method, path, params, client, secret, base_url, *, timestamp=None, nonce=None, host=None, body=None))]
#[allow(clippy::too_many_arguments)]
pub fn link_detailed(
    py: Python<'_>,
    scheme: Text<'_, field::Scheme>,
    method: Text<'_, field::Method>,
    path: Text<'_, field::Path>,
    params: Option<&Bound<'_, PyAny>>,
    client: Text<'_, field::Client>,
    secret: SecretArg<'_>,
    base_url: Text<'_, field::BaseUrl>,
    timestamp: Option<convert::Millis>,
    nonce: Option<Text<'_, field::Nonce>>,
    host: Option<Text<'_, field::Host>>,
    body: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyLink> {
    let l = make_link(
        &scheme,
        &method,
        &path,
        params,
        &client,
        &secret,
        &base_url,
        timestamp,
        nonce.as_deref(),
        host.as_deref(),
        body,
    )?;
    Ok(PyLink {
        url: l.url,
        signed: Py::new(py, PySigned { inner: l.signed })?,
    })
}

/// Signs a request as an HTTP client is about to send it: the params are read from the raw
/// query of `target` (`/path?query`) and, for an `application/x-www-form-urlencoded`
/// `content_type`, from the form body, exactly as the scheme's verifier reads them; any other
/// body is signed as a body (v2) or refused (v1, `invalid_body`); a target with a fragment
/// (`#`) is `invalid_path`, an empty path is sent as `/` (core's `SignInput::for_request`).
/// Returns the header value.
#[pyfunction]
#[pyo3(signature = (scheme, method, host, target, client, secret, *, content_type=None, body=None, timestamp=None, nonce=None))]
#[allow(clippy::too_many_arguments)]
pub fn sign_request(
    scheme: Text<'_, field::Scheme>,
    method: Text<'_, field::Method>,
    host: Text<'_, field::Host>,
    target: Text<'_, field::Target>,
    client: Text<'_, field::Client>,
    secret: SecretArg<'_>,
    content_type: Option<Text<'_, field::ContentType>>,
    body: Option<&Bound<'_, PyAny>>,
    timestamp: Option<convert::Millis>,
    nonce: Option<Text<'_, field::Nonce>>,
) -> PyResult<String> {
    let scheme = convert::scheme(&scheme)?;
    let body = convert::body(body)?.unwrap_or_default();
    let req = Incoming::new(&method, &target)
        .host_header(Some(&host))
        .body(content_type.as_deref(), &body);
    let mut input = SignInput::for_request(scheme, &req, &*client).py_err()?;
    input.timestamp_ms = convert::millis(timestamp);
    input.nonce = nonce.map(|n| n.to_owned());
    let secret = secret.secret()?;
    header(&input, &secret)
}

/// For the HTTP-library adapters, when one is made: the scheme, the client id and (v2) the
/// secret's 64 hex digits, checked as every request they sign will need them
/// (core's `check_signer`); the scheme as core reads it (`"V2"` is `"v2"`, core's spelling)
/// and the secret as an `xnonce.Secret`.
#[pyfunction]
pub fn _check_signer(
    scheme: Text<'_, field::Scheme>,
    client: Text<'_, field::Client>,
    secret: SecretArg<'_>,
) -> PyResult<(&'static str, convert::PySecret)> {
    let scheme = convert::scheme(&scheme)?;
    let secret = secret.secret()?;
    xnonce_core::sign::check_signer(scheme, &client, &secret).py_err()?;
    Ok((scheme.as_str(), convert::PySecret::from(secret)))
}

/// Parses an `X-Nonce` header value (`FormatError` `malformed_header` on any deviation).
#[pyfunction]
pub fn parse_header(value: Text<'_, field::Header>) -> PyResult<PyHeader> {
    Ok(PyHeader {
        inner: XNonce::parse(&value).py_err()?,
    })
}

/// The server's clock (ms since the epoch) that the answer to a request this client sent tells
/// it (PROTOCOL §12, *Client side*): core's `ServerTimeHint::server_time_from_answer`. `status`
/// and `hint` are the answer's status and `X-Nonce-Server-Time` value, `sent` the `X-Nonce`
/// value the request carried; `Some` only for a stale refusal (401) whose hint authenticates,
/// with `secret`, for the client and request id of `sent`, else `None`. A status that is no
/// HTTP status (outside `0..=65535`) and text UTF-8 cannot encode (a lone surrogate) are no
/// such answer: `None`. A secret is checked as everywhere (`InputError` `invalid_secret`),
/// whatever the answer; a `status` that is not an `int`, or text that is not a `str`, is a
/// `TypeError`.
#[pyfunction]
pub fn server_time_from_answer(
    status: &Bound<'_, PyAny>,
    hint: Option<Received<'_, field::ServerTime>>,
    sent: Received<'_, field::Sent>,
    secret: SecretArg<'_>,
) -> PyResult<Option<u64>> {
    let status = match status.extract::<u16>() {
        Ok(status) => Some(status),
        Err(e) if e.is_instance_of::<PyOverflowError>(status.py()) => None,
        Err(e) => {
            return Err(convert::read_failure(e, status.py(), || {
                format!("status must be an int, not {}", convert::type_name(status))
            }))
        }
    };
    let secret = secret.secret()?;
    let (Some(status), Ok(sent)) = (status, sent.checked()) else {
        return Ok(None);
    };
    let Ok(hint) = hint.as_ref().map(Received::checked).transpose() else {
        return Ok(None);
    };
    Ok(ServerTimeHint::server_time_from_answer(
        status, hint, sent, &secret,
    ))
}

/// The `ottoken` form of a header value.
#[pyfunction]
pub fn ottoken_encode(header: Text<'_, field::Header>) -> PyResult<String> {
    Ok(XNonce::parse(&header).py_err()?.to_ottoken())
}

/// The header value inside an `ottoken` (`FormatError` `malformed_ottoken` on any deviation).
#[pyfunction]
pub fn ottoken_decode(token: Text<'_, field::Ottoken>) -> PyResult<String> {
    Ok(ottoken::decode(&token).py_err()?.to_string())
}

/// The `ottoken` as written in a URL query (form-encoded; only v1 tokens change).
#[pyfunction]
pub fn ottoken_query_value<'py>(
    py: Python<'py>,
    token: Text<'_, field::Ottoken>,
) -> Bound<'py, PyString> {
    PyString::new(py, &ottoken::query_value(&token))
}
