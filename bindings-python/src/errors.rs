//! The exception hierarchy and the ONE place where an [`xnonce_core::Error`] becomes a
//! Python exception.
//!
//! ```text
//! XNonceError(Exception)   .code .message .http_status .server_time .server_time_mac .answer
//! ├── InputError                    family "input"   (invalid_*)
//! │   └── InvalidParamValue(InputError, TypeError)   code "invalid_param_value"
//! ├── FormatError                   family "format"  (malformed_*, missing_header, ...)
//! ├── AuthError                     family "auth"    (unknown_client, expired, replayed, ...)
//! ├── RouteError                    family "route"   (missing_param, excluded_param, unknown_route)
//! └── UnavailableError              family "unavailable" (store_unavailable, connection_failed, rate_limited)
//! ```

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use xnonce_core::{Error, ErrorCode, ErrorFamily};

use crate::convert::{named, Setting};

create_exception!(
    xnonce,
    XNonceError,
    PyException,
    "Base of every xnonce error; `.code` is the shared snake_case error code."
);
create_exception!(
    xnonce,
    InputError,
    XNonceError,
    "The caller passed something that cannot be signed (`invalid_*` codes)."
);
create_exception!(
    xnonce,
    FormatError,
    XNonceError,
    "A header, ottoken or parameter string could not be parsed."
);
create_exception!(
    xnonce,
    AuthError,
    XNonceError,
    "Authentication failed: unknown client, bad signature, stale or replayed request."
);
create_exception!(
    xnonce,
    RouteError,
    XNonceError,
    "The route's parameter rules refused the request."
);
create_exception!(
    xnonce,
    UnavailableError,
    XNonceError,
    "A dependency (replay store, network) is unavailable; nothing was accepted."
);

/// `InvalidParamValue(InputError, TypeError)`: built at import time because it has two bases.
static INVALID_PARAM_VALUE: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn invalid_param_value_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    INVALID_PARAM_VALUE
        .get_or_try_init(py, || {
            let bases = PyTuple::new(
                py,
                [
                    py.get_type::<InputError>().into_any(),
                    py.get_type::<PyTypeError>().into_any(),
                ],
            )?;
            let ns = PyDict::new(py);
            ns.set_item("__module__", "xnonce")?;
            ns.set_item(
                "__doc__",
                "A parameter value cannot be turned into text (bytes, None, nested values, \
                 NaN or infinity). Also a TypeError.",
            )?;
            let ty = py
                .get_type::<PyType>()
                .call1(("InvalidParamValue", bases, ns))?
                .cast_into::<PyType>()?;
            Ok(ty.unbind())
        })
        .map(|t| t.bind(py))
}

/// Registers the exception classes on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let base = py.get_type::<XNonceError>();
    // Class-level defaults, so that `.code` & co. exist even on instances raised by user code.
    base.setattr("code", "xnonce_error")?;
    base.setattr("message", "")?;
    base.setattr("server_time", py.None())?;
    base.setattr("server_time_mac", py.None())?;
    base.setattr("http_status", 500)?;
    base.setattr("answer", py.None())?;
    m.add("XNonceError", base)?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("FormatError", py.get_type::<FormatError>())?;
    m.add("AuthError", py.get_type::<AuthError>())?;
    m.add("RouteError", py.get_type::<RouteError>())?;
    m.add("UnavailableError", py.get_type::<UnavailableError>())?;
    m.add("InvalidParamValue", invalid_param_value_type(py)?)?;
    Ok(())
}

/// THE mapping: every core error reaching Python goes through here. The class comes from the
/// code's family (`ErrorCode::family`); `.code`, `.message` and the authenticated server-time
/// hint (stale rejections) ride along as attributes. Messages never contain secrets (core's
/// guarantee), so `str(e)` is safe to log.
pub fn to_py(err: Error) -> PyErr {
    Python::attach(|py| match build(py, &err) {
        Ok(e) => e,
        // Building the exception itself failed (out of memory, interpreter shutting down):
        // surface that failure rather than panicking.
        Err(e) => e,
    })
}

fn build(py: Python<'_>, err: &Error) -> PyResult<PyErr> {
    let text = err.to_string();
    let e = match err.code() {
        ErrorCode::InvalidParamValue => {
            PyErr::from_value(invalid_param_value_type(py)?.call1((text,))?)
        }
        code => match code.family() {
            ErrorFamily::Input => InputError::new_err(text),
            ErrorFamily::Format => FormatError::new_err(text),
            ErrorFamily::Auth => AuthError::new_err(text),
            ErrorFamily::Route => RouteError::new_err(text),
            ErrorFamily::Unavailable => UnavailableError::new_err(text),
        },
    };
    let value = e.value(py);
    value.setattr("code", err.code().as_str())?;
    value.setattr("message", err.message())?;
    value.setattr("http_status", err.code().http_status())?;
    if let Some(hint) = err.server_time() {
        value.setattr("server_time", hint.server_time_ms)?;
        value.setattr("server_time_mac", hint.mac.as_str())?;
    }
    Ok(e)
}

/// A verification's refusal: the error mapped by [`to_py`], with the HTTP answer a server
/// sends for it as `.answer`.
pub fn refusal_to_py(err: Error, answer: crate::answer::PyAnswer) -> PyErr {
    Python::attach(|py| {
        let e = to_py(err);
        match Py::new(py, answer).and_then(|a| e.value(py).setattr("answer", a)) {
            Ok(()) => e,
            Err(failed) => failed,
        }
    })
}

/// Shorthand: a coded error raised by the binding itself (argument checks), mapped like any other.
pub fn coded(code: ErrorCode, message: impl Into<String>) -> PyErr {
    to_py(Error::new(code, message))
}

/// `Result<T, xnonce_core::Error>` → `PyResult<T>`.
pub trait IntoPyResult<T> {
    /// Maps the error through [`to_py`].
    fn py_err(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, Error> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

/// Builds (does not raise) the exception for a shared error code, through the same mapping as
/// every error of this module; e.g. for the `code` of a v2 server's JSON problem body.
/// Unknown codes raise `ValueError`, as does a code or message holding a lone surrogate (a
/// message from a JSON body that Python's `json` decoded, `"\ud800"`).
#[pyfunction]
#[pyo3(signature = (code, message=Setting::lit("")), text_signature = "(code, message='')")]
pub fn error_from_code(
    py: Python<'_>,
    code: Setting<'_, named::Code>,
    message: Setting<'_, named::Message>,
) -> PyResult<Py<PyAny>> {
    let code = ErrorCode::from_code(&code).ok_or_else(|| {
        pyo3::exceptions::PyValueError::new_err(format!("unknown xnonce error code {:?}", &*code))
    })?;
    Ok(to_py(Error::new(code, &*message)).into_value(py).into_any())
}
