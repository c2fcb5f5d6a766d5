//! `Answer`: the HTTP answer to a refused request, as core writes it (em-secure-api's text
//! for v1 requests, a problem document for v2), so a Python server answers with the same
//! bytes as the reference server. Verification errors carry one (`XNonceError.answer`).

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use xnonce_core::answer::{refusal_scheme, Answer, Refusal, PROBLEM_CONTENT_TYPE, V1_CONTENT_TYPE};
use xnonce_core::{Error, Incoming, ReplayStoreError, Scheme};

use crate::convert::{field, named, IntSetting, Received};

/// The HTTP answer to a refused request.
#[pyclass(frozen, module = "xnonce", name = "Answer")]
pub struct PyAnswer {
    inner: Answer,
}

impl PyAnswer {
    /// The answer to a request refused with `error`, styled by the request's credential.
    pub fn for_refusal(error: &Error, req: &Incoming<'_>) -> PyAnswer {
        PyAnswer {
            inner: Answer::refusal(error, req.refusal_scheme()),
        }
    }
}

#[pymethods]
impl PyAnswer {
    /// The HTTP status.
    #[getter]
    fn status(&self) -> u16 {
        self.inner.status
    }

    /// `"text/plain"` (v1) or `"application/problem+json"` (v2).
    #[getter]
    fn content_type(&self) -> &'static str {
        self.inner.content_type
    }

    /// The header fields: `Content-Type`, and `X-Nonce-Server-Time` when stale.
    #[getter]
    fn headers(&self) -> Vec<(&'static str, String)> {
        self.inner.headers()
    }

    /// The body as text.
    #[getter]
    fn body(&self) -> &str {
        &self.inner.body
    }

    /// The body as UTF-8 bytes, ready to send.
    #[getter]
    fn body_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.body.as_bytes())
    }

    /// The answer to a request whose body is larger than `limit` bytes (413), refused before
    /// the body is read, in the style of the request's credential: its `x_nonce` header, else
    /// an `ottoken` in `target`'s query (either may hold a lone surrogate: read lossily, for
    /// the style only). `limit` is an `int` (not a `bool`: `TypeError`), in
    /// `0..=2**64-1` (else `ValueError`).
    #[staticmethod]
    #[pyo3(signature = (limit, *, target=None, x_nonce=None))]
    fn body_too_large(
        limit: IntSetting<u64, named::Limit>,
        target: Option<Received<'_, field::Target>>,
        x_nonce: Option<Received<'_, field::Header>>,
    ) -> PyResult<PyAnswer> {
        let limit = usize::try_from(limit.0).map_err(|_| {
            pyo3::exceptions::PyValueError::new_err("limit is larger than this platform's memory")
        })?;
        Ok(PyAnswer {
            inner: Refusal::body_too_large(limit).answer(style(target, x_nonce)),
        })
    }

    /// The answer to a request whose body did not all arrive in time (408, `invalid_body`:
    /// the middleware's `body_timeout`, the reference server's `body_timeout_ms`), in the
    /// style of the request's credential as for `body_too_large`.
    #[staticmethod]
    #[pyo3(signature = (*, target=None, x_nonce=None))]
    fn body_timeout(
        target: Option<Received<'_, field::Target>>,
        x_nonce: Option<Received<'_, field::Header>>,
    ) -> PyAnswer {
        PyAnswer {
            inner: Refusal::body_timeout().answer(style(target, x_nonce)),
        }
    }

    /// The answer to a request whose body could not be read (400, `invalid_body`: a
    /// malformed chunked body, a stream that failed), in the style of the request's
    /// credential as for `body_too_large`.
    #[staticmethod]
    #[pyo3(signature = (*, target=None, x_nonce=None))]
    fn body_unreadable(
        target: Option<Received<'_, field::Target>>,
        x_nonce: Option<Received<'_, field::Header>>,
    ) -> PyAnswer {
        PyAnswer {
            inner: Refusal::body_unreadable().answer(style(target, x_nonce)),
        }
    }

    /// The answer to a request with more than one `Host` field line (400, `invalid_host`,
    /// RFC 9112 §3.2), in the style of the request's credential as for `body_too_large`.
    #[staticmethod]
    #[pyo3(signature = (*, target=None, x_nonce=None))]
    fn repeated_host(
        target: Option<Received<'_, field::Target>>,
        x_nonce: Option<Received<'_, field::Header>>,
    ) -> PyAnswer {
        PyAnswer {
            inner: Refusal::repeated_host().answer(style(target, x_nonce)),
        }
    }

    /// The answer to a `CONNECT` request (400, `invalid_method`): it opens a tunnel, it is
    /// not a request to verify, and an app's 2xx to it would switch the connection to one.
    /// In the style of the request's credential as for `body_too_large`.
    #[staticmethod]
    #[pyo3(signature = (*, target=None, x_nonce=None))]
    fn tunnel(
        target: Option<Received<'_, field::Target>>,
        x_nonce: Option<Received<'_, field::Header>>,
    ) -> PyAnswer {
        PyAnswer {
            inner: Refusal::tunnel().answer(style(target, x_nonce)),
        }
    }

    /// The answer to a request whose `Content-Type` is no form for the verifier yet one for an
    /// app's form reader (`form_content_type_misread`; 400, `invalid_body`), in the style of
    /// the request's credential as for `body_too_large`.
    #[staticmethod]
    #[pyo3(signature = (*, target=None, x_nonce=None))]
    fn misread_content_type(
        target: Option<Received<'_, field::Target>>,
        x_nonce: Option<Received<'_, field::Header>>,
    ) -> PyAnswer {
        PyAnswer {
            inner: Refusal::misread_content_type().answer(style(target, x_nonce)),
        }
    }

    /// The answer to a request with more than one `Content-Type` field line (400,
    /// `invalid_body`: which line says whether the body is a form differs between HTTP
    /// stacks), in the style of the request's credential as for `body_too_large`.
    #[staticmethod]
    #[pyo3(signature = (*, target=None, x_nonce=None))]
    fn repeated_content_type(
        target: Option<Received<'_, field::Target>>,
        x_nonce: Option<Received<'_, field::Header>>,
    ) -> PyAnswer {
        PyAnswer {
            inner: Refusal::repeated_content_type().answer(style(target, x_nonce)),
        }
    }

    /// The answer to a verified request once a replay store the caller awaits has answered
    /// (the ASGI middleware's `replay_store`): `None` when `recorded` is true (the first copy:
    /// accept it), the 409 (`replayed`) when false, the 503 (`store_unavailable`) when `None`
    /// (the store failed), in the style of the request's credential as for `body_too_large`.
    /// Core's `replay::recorded`, as `verify_once` answers.
    #[staticmethod]
    #[pyo3(signature = (recorded, *, target=None, x_nonce=None))]
    fn replay_store(
        recorded: Option<bool>,
        target: Option<Received<'_, field::Target>>,
        x_nonce: Option<Received<'_, field::Header>>,
    ) -> Option<PyAnswer> {
        let answer = recorded.ok_or_else(|| ReplayStoreError(String::new()));
        let refused = xnonce_core::replay::recorded(answer).err()?;
        Some(PyAnswer {
            inner: Answer::refusal(&refused, style(target, x_nonce)),
        })
    }

    /// Pickling and `copy.deepcopy`: a verifier's refusal (an `XNonceError`) carries its
    /// `Answer`, and a refusal raised in a worker process (`multiprocessing`,
    /// `concurrent.futures`, Celery) is pickled to reach the parent. Rebuilt from its parts
    /// by `_from_parts`; an answer holds no secret.
    #[allow(clippy::type_complexity)]
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(
        Bound<'py, PyAny>,
        (u16, &'static str, String, Option<String>),
    )> {
        let a = &slf.get().inner;
        Ok((
            slf.get_type().getattr("_from_parts")?,
            (
                a.status,
                a.content_type,
                a.body.clone(),
                a.server_time.clone(),
            ),
        ))
    }

    /// The answer `__reduce__` took apart (not public API): its content type is one of the
    /// two an answer has, else `ValueError`.
    #[staticmethod]
    fn _from_parts(
        status: u16,
        content_type: &str,
        body: String,
        server_time: Option<String>,
    ) -> PyResult<PyAnswer> {
        let content_type = [V1_CONTENT_TYPE, PROBLEM_CONTENT_TYPE]
            .into_iter()
            .find(|known| *known == content_type)
            .ok_or_else(|| {
                pyo3::exceptions::PyValueError::new_err("not the content type of an answer")
            })?;
        Ok(PyAnswer {
            inner: Answer {
                status,
                content_type,
                body,
                server_time,
            },
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "Answer(status={}, content_type={:?}, body={:?})",
            self.inner.status, self.inner.content_type, self.inner.body
        )
    }
}

/// The style of a refusal made before verification (core's `refusal_scheme`; no form body
/// read yet). Text that UTF-8 cannot encode is read lossily here: it only picks the style of
/// an answer that refuses the request anyway (see [`Received`]).
fn style(
    target: Option<Received<'_, field::Target>>,
    x_nonce: Option<Received<'_, field::Header>>,
) -> Scheme {
    let target = target.as_ref().map_or("", |t| t.text_or_lossy());
    let query = Incoming::new("", target).query;
    refusal_scheme(x_nonce.as_ref().map(|x| x.text_or_lossy()), query, None)
}
