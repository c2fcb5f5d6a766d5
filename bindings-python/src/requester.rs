//! `Requester` (blocking, releases the GIL while waiting) and `AsyncRequester` (asyncio
//! awaitables driven by a shared tokio runtime, see [`crate::bridge`]) over the Rust requester
//! of `client-rs`.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use pyo3::exceptions::{
    PyOverflowError, PyRecursionError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyList, PyString, PyTuple};
use xnonce::RequestOptions;

use crate::bridge;
use crate::convert::{self, field, named, IntSetting, SecretArg, Setting, Text};
use crate::errors::{coded, IntoPyResult};
use crate::runtime;
use xnonce_core::input::Pairs;
use xnonce_core::ErrorCode;

/// A server's answer (any status: non-2xx answers are responses, not exceptions).
#[pyclass(frozen, module = "xnonce", name = "Response")]
pub struct PyResponse {
    code: u16,
    body: String,
    content: Py<PyBytes>,
    data: Py<PyAny>,
    headers: Vec<(String, String)>,
}

#[pymethods]
impl PyResponse {
    /// The HTTP status code.
    #[getter]
    fn code(&self) -> u16 {
        self.code
    }

    /// The body as text (invalid UTF-8 replaced by U+FFFD).
    #[getter]
    fn body(&self) -> &str {
        &self.body
    }

    /// The body's bytes exactly as received (as `requests`' and `httpx`'s `.content`): an
    /// image, a file, a body in another charset is read from here.
    #[getter]
    fn content(&self, py: Python<'_>) -> Py<PyBytes> {
        self.content.clone_ref(py)
    }

    /// The body parsed as JSON (`None` when it is not JSON).
    #[getter]
    fn data(&self, py: Python<'_>) -> Py<PyAny> {
        self.data.clone_ref(py)
    }

    /// The response headers as `(name, value)` pairs in the order received, except that a
    /// repeated name's lines come together at its first one's place; names lower-case.
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items: Vec<Bound<'py, PyTuple>> = self
            .headers
            .iter()
            .map(|(k, v)| PyTuple::new(py, [PyString::new(py, k), PyString::new(py, v)]))
            .collect::<PyResult<_>>()?;
        PyList::new(py, items)
    }

    /// True for a 2xx status.
    #[getter]
    fn ok(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// The first header with this name (any case), or `None`.
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn __repr__(&self) -> String {
        format!("Response(code={})", self.code)
    }
}

/// `parse_constant` of [`json_loads`]: `NaN`, `Infinity` and `-Infinity`, which `json.loads`
/// reads but are not JSON, make the body no JSON (a `ValueError`, as for any other text that
/// is not JSON).
#[pyfunction]
fn refuse_constant(name: &str) -> PyResult<()> {
    Err(PyValueError::new_err(format!("{name} is not JSON")))
}

/// The body parsed as JSON by Python's own `json.loads` (integers of any size exact, objects
/// in the order sent), `None` when it is not JSON: not UTF-8 (its lossy text would parse with
/// U+FFFD), text `json.loads` refuses (`ValueError`; an integer over Python's digit limit too),
/// `NaN`/`Infinity`, or nested too deeply for Python (`RecursionError`). Not gated on the
/// Rust requester's `serde_json::Value`, which is not what Python means by the same JSON: it
/// refuses JSON nested more than 128 levels, a number beyond a double's range (`1e400`) and a
/// lone surrogate escape, all of which `json.loads` (and the Node binding's `JSON.parse`)
/// read.
fn response_data(py: Python<'_>, bytes: &[u8]) -> PyResult<Py<PyAny>> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(py.None());
    };
    let kwargs = PyDict::new(py);
    kwargs.set_item("parse_constant", wrap_pyfunction!(refuse_constant, py)?)?;
    match py
        .import("json")?
        .call_method("loads", (text,), Some(&kwargs))
    {
        Ok(data) => Ok(data.unbind()),
        Err(e)
            if e.is_instance_of::<PyValueError>(py) || e.is_instance_of::<PyRecursionError>(py) =>
        {
            Ok(py.None())
        }
        Err(e) => Err(e),
    }
}

fn response(py: Python<'_>, r: xnonce::Response) -> PyResult<PyResponse> {
    let data = response_data(py, &r.bytes)?;
    Ok(PyResponse {
        code: r.code,
        body: r.body,
        content: PyBytes::new(py, &r.bytes).unbind(),
        data,
        headers: r.headers,
    })
}

/// `options['extra_params']`, as its errors name it.
const EXTRA_PARAMS: convert::PairsName = convert::PairsName {
    whole: "options['extra_params']",
    item: "options['extra_params']",
    inputs: Pairs::EXTRA_PARAMS,
};

/// `options['headers']`, as its errors name it.
const HEADERS: convert::PairsName = convert::PairsName {
    whole: "options['headers']",
    item: "options['headers']",
    inputs: Pairs::HEADERS,
};

/// em-secure-api's `options` hash: `timestamp` (forced ms), `nonce` (v2), `extra_params`
/// (sent, not signed), `json` (v2 JSON body), `headers`.
fn options(o: Option<&Bound<'_, PyAny>>) -> PyResult<RequestOptions> {
    let mut out = RequestOptions::default();
    let Some(o) = o.filter(|o| !o.is_none()) else {
        return Ok(out);
    };
    let d = o.cast::<PyDict>().map_err(|_| {
        PyTypeError::new_err(format!(
            "options must be a dict, not {}",
            convert::type_name(o)
        ))
    })?;
    // A snapshot of the items, not `d.iter()`: reading an option may run the caller's code
    // (an `__index__`, a mapping's `items()`, `json.dumps` calling a dict subclass's
    // `items()`), and pyo3's dict iterator panics when that code resizes `options`.
    for item in d.items().iter() {
        let (k, v) = item.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>()?;
        let key = convert::try_str(&k)
            .ok_or_else(|| unknown_option(&k))?
            .to_owned();
        let v = Some(v).filter(|v| !v.is_none());
        match key.as_str() {
            "timestamp" => {
                out.timestamp_ms = match v {
                    None => None,
                    Some(v) => Some(
                        v.extract::<convert::Millis>()
                            .map_err(|e| {
                                if e.get_type(v.py()).is(v.py().get_type::<PyTypeError>()) {
                                    PyTypeError::new_err(format!(
                                        "options['timestamp']: {}",
                                        e.value(v.py())
                                    ))
                                } else {
                                    e
                                }
                            })?
                            .0,
                    ),
                }
            }
            "nonce" => {
                out.nonce = match v {
                    None => None,
                    Some(v) => Some(convert::text::<field::Nonce>(&v)?.to_owned()),
                }
            }
            "extra_params" => out.extra_params = convert::pairs_named(v.as_ref(), EXTRA_PARAMS)?,
            "headers" => out.headers = convert::pairs_named(v.as_ref(), HEADERS)?,
            "json" => {
                out.json_raw = match v {
                    None => None,
                    Some(v) => Some(json_bytes(&v)?),
                }
            }
            _ => return Err(unknown_option(&k)),
        }
    }
    Ok(out)
}

/// `options["json"]` as the bytes sent: `json.dumps(value, separators=(",", ":"),
/// ensure_ascii=False, allow_nan=False)` in UTF-8, sent as they are (the requester's
/// `json_raw`, which checks that they are JSON: `invalid_body` otherwise, e.g. 128 levels of
/// nesting or more, serde_json's limit). Never parsed into a value and written again, which
/// would turn an integer beyond 64 bits into a float and sign a body the caller never wrote.
/// `json.dumps`' own `TypeError` (not serialisable) and `ValueError` (NaN, infinity, a
/// circular reference) propagate; its `RecursionError` (nested too deep for Python itself)
/// is `invalid_body`, as any too deep JSON is.
fn json_bytes(v: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let py = v.py();
    let kwargs = PyDict::new(py);
    kwargs.set_item("separators", (",", ":"))?;
    kwargs.set_item("ensure_ascii", false)?;
    kwargs.set_item("allow_nan", false)?;
    let text = match py.import("json")?.call_method("dumps", (v,), Some(&kwargs)) {
        Ok(text) => text,
        Err(e) if e.is_instance_of::<PyRecursionError>(py) => {
            return Err(coded(
                ErrorCode::InvalidBody,
                "options['json'] is nested too deeply to be sent",
            ))
        }
        Err(e) => return Err(e),
    };
    // A lone surrogate in a string of the value: `invalid_body`, like a `str` body.
    Ok(convert::text::<field::JsonBody>(&text)?.as_bytes().to_vec())
}

fn unknown_option(key: &Bound<'_, PyAny>) -> PyErr {
    let shown = convert::try_str(key)
        .map(|k| format!("{k:?}"))
        .unwrap_or_else(|| format!("(a {} that is not valid text)", convert::type_name(key)));
    PyTypeError::new_err(format!(
        "unknown option {shown} (known: timestamp, nonce, extra_params, json, headers)"
    ))
}

/// `timeout`: seconds, an `int` or a `float` (anything `float()` takes) but not a `bool`
/// (`TypeError`); not a positive number of seconds (zero, negative, NaN, too large for a
/// duration, an `int` too large for a `float`) is a `ValueError`.
struct Seconds(Duration);

impl<'a, 'py> FromPyObject<'a, 'py> for Seconds {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let invalid = || PyValueError::new_err("timeout must be a positive number of seconds");
        if obj.is_instance_of::<PyBool>() {
            return Err(PyTypeError::new_err(
                "timeout must be a number of seconds, not bool",
            ));
        }
        let secs = match obj.extract::<f64>() {
            Ok(secs) => secs,
            Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => return Err(invalid()),
            Err(e) => {
                return Err(convert::read_failure(e, obj.py(), || {
                    format!(
                        "timeout must be a number of seconds, not {}",
                        convert::type_name(&obj)
                    )
                }))
            }
        };
        xnonce::timeout_from_f64(secs, 1.0)
            .map(Seconds)
            .ok_or_else(invalid)
    }
}

/// `ca_pem`: PEM certificate authorities, `str` or `bytes`. A `str` that UTF-8 cannot encode
/// (a lone surrogate) is a `ValueError` saying so; any other type a `TypeError`.
fn ca_pem_bytes(pem: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(bytes) = pem.cast::<PyBytes>() {
        return Ok(bytes.as_bytes().to_vec());
    }
    if pem.is_instance_of::<PyString>() {
        let text: Setting<'_, named::CaPem> = pem.extract()?;
        return Ok(text.as_bytes().to_vec());
    }
    Err(PyTypeError::new_err(format!(
        "ca_pem must be str or bytes (PEM certificates), not {}",
        convert::type_name(pem)
    )))
}

/// `clock_offset_ms`: an `int` in the `i64` range.
type OffsetMs = IntSetting<i64, named::ClockOffsetMs>;
/// `max_response_bytes`: an `int` in the `u64` range.
type MaxResponseBytes = IntSetting<u64, named::MaxResponseBytes>;

/// [`xnonce::DEFAULT_MAX_RESPONSE_BYTES`], as the constructors' default.
const DEFAULT_MAX_RESPONSE_BYTES: MaxResponseBytes =
    IntSetting::lit(xnonce::DEFAULT_MAX_RESPONSE_BYTES);

/// For the HTTP-library adapters, when one is made: `correct_clock` and `clock_offset_ms`
/// checked as the requesters' constructors check them (a `bool`; an `int` in the `i64` range,
/// within the timestamps' range by client-rs's `check_clock_offset`: `TypeError`,
/// `ValueError`, `InputError` `invalid_timestamp`), returned as read.
#[pyfunction]
pub fn _check_clock(correct_clock: bool, clock_offset_ms: OffsetMs) -> PyResult<(bool, i64)> {
    xnonce::check_clock_offset(clock_offset_ms.0).py_err()?;
    Ok((correct_clock, clock_offset_ms.0))
}

/// The builder both requesters start from: their constructor arguments, checked once (in
/// this order: `ca_pem`, secret, scheme; `timeout`, `clock_offset_ms` and
/// `max_response_bytes` were checked as they were read).
#[allow(clippy::too_many_arguments)] // the Python constructor's arguments
fn builder(
    server: &str,
    client: &str,
    secret: &SecretArg<'_>,
    scheme: &str,
    timeout: Seconds,
    correct_clock: bool,
    clock_offset_ms: OffsetMs,
    ca_pem: Option<&Bound<'_, PyAny>>,
    max_response_bytes: MaxResponseBytes,
) -> PyResult<xnonce::RequesterBuilder> {
    // PEM certificate authorities to trust besides the bundled roots.
    let ca_pem = ca_pem
        .filter(|pem| !pem.is_none())
        .map(ca_pem_bytes)
        .transpose()?;
    let secret = secret.secret()?;
    let scheme = convert::scheme(scheme)?;
    let builder = xnonce::Requester::builder(server, client, secret)
        .scheme(scheme)
        .timeout(timeout.0)
        .correct_clock(correct_clock)
        .clock_offset_ms(clock_offset_ms.0)
        .max_response_bytes(max_response_bytes.0);
    Ok(match ca_pem {
        Some(pem) => builder.root_certificates_pem(pem),
        None => builder,
    })
}

/// The Rust requester behind a Python one, given a connection pool of its own in a process
/// forked since it was made: the child would otherwise share its parent's pooled connections
/// (sockets both processes write to), driven by a runtime whose threads the child does not
/// have.
struct PerProcess {
    /// The process the requester was made in, and the requester.
    current: Mutex<(runtime::Process, xnonce::Requester)>,
}

impl PerProcess {
    /// The requester of `builder`, its HTTP client made inside this process's runtime, which
    /// will drive it.
    fn new(builder: xnonce::RequesterBuilder) -> PyResult<PerProcess> {
        let _guard = runtime::get().enter();
        let requester = builder.build().py_err()?;
        Ok(PerProcess {
            current: Mutex::new((runtime::current(), requester)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, (runtime::Process, xnonce::Requester)> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// This process's requester: in a child forked since, the same one (settings and the
    /// clock offset learned so far) with a connection pool of its own, made inside the
    /// child's runtime.
    fn requester(&self) -> PyResult<xnonce::Requester> {
        let mut current = self.lock();
        if !runtime::same_process(current.0) {
            let _guard = runtime::get().enter();
            let own = current.1.with_own_connections().py_err()?;
            *current = (runtime::current(), own);
        }
        Ok(current.1.clone())
    }

    /// The clock offset in use (ms).
    fn clock_offset_ms(&self) -> i64 {
        self.lock().1.clock_offset_ms()
    }
}

/// Signs and sends requests, like em-secure-api's `ReSvcClient::Requester`. Blocking; the GIL
/// is released while waiting, so other Python threads keep running, and Ctrl-C (any signal
/// handler that raises) interrupts the wait within 100 ms ([`runtime::wait`]), abandoning the
/// request.
/// The request runs on the shared tokio runtime of `AsyncRequester`, which also keeps the
/// pooled connections driven between calls.
#[pyclass(frozen, module = "xnonce", name = "Requester")]
pub struct PyRequester {
    inner: PerProcess,
}

#[pymethods]
impl PyRequester {
    #[new]
    #[pyo3(
        signature = (server, client, secret, scheme=Text::lit("v2"), timeout=Seconds(Duration::from_secs(30)), correct_clock=true, clock_offset_ms=IntSetting::lit(0), ca_pem=None, max_response_bytes=DEFAULT_MAX_RESPONSE_BYTES),
        text_signature = "(server, client, secret, scheme='v2', timeout=30.0, correct_clock=True, clock_offset_ms=0, ca_pem=None, max_response_bytes=67108864)"
    )]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn new(
        server: Text<'_, field::ServerUrl>,
        client: Text<'_, field::Client>,
        secret: SecretArg<'_>,
        scheme: Text<'_, field::Scheme>,
        timeout: Seconds,
        correct_clock: bool,
        clock_offset_ms: OffsetMs,
        ca_pem: Option<Bound<'_, PyAny>>,
        max_response_bytes: MaxResponseBytes,
    ) -> PyResult<Self> {
        let inner = PerProcess::new(builder(
            &server,
            &client,
            &secret,
            &scheme,
            timeout,
            correct_clock,
            clock_offset_ms,
            ca_pem.as_ref(),
            max_response_bytes,
        )?)?;
        Ok(PyRequester { inner })
    }

    /// The clock offset learned from the server's authenticated time hint (ms).
    #[getter]
    fn clock_offset_ms(&self) -> i64 {
        self.inner.clock_offset_ms()
    }

    /// Signs and sends one request. With `controller`, `path` is the action (`/controller/path`).
    #[pyo3(signature = (method, params, path, controller=None, options=None))]
    fn make_request(
        &self,
        py: Python<'_>,
        method: Text<'_, field::Method>,
        params: Option<&Bound<'_, PyAny>>,
        path: Text<'_, field::Path>,
        controller: Option<Text<'_, field::Controller>>,
        options: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyResponse> {
        let params = convert::params(params)?;
        let options = self::options(options)?;
        let requester = self.inner.requester()?;
        let (method, path) = (method.to_owned(), path.to_owned());
        let controller = controller.map(|c| c.to_owned());
        let answer = runtime::wait(py, async move {
            requester
                .make_request(&method, params, &path, controller.as_deref(), options)
                .await
        })?;
        match answer {
            Some(answer) => response(py, answer.py_err()?),
            None => Err(PyRuntimeError::new_err(bridge::PANICKED)),
        }
    }
}

/// `xnonce._coroutine.started_when_awaited`, which makes `AsyncRequester.make_request` a
/// coroutine.
static STARTED_WHEN_AWAITED: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The asyncio twin of `Requester`: `await requester.make_request(...)`. Requests run on a
/// shared tokio runtime and complete the awaitable on its event loop; the loop never blocks.
/// Cancelling the awaitable aborts the request.
#[pyclass(frozen, module = "xnonce", name = "AsyncRequester")]
pub struct PyAsyncRequester {
    inner: PerProcess,
}

/// The outcome of one async request, turned into Python objects on the event loop's thread.
struct Answer(xnonce_core::Result<xnonce::Response>);

impl bridge::Outcome for Answer {
    fn into_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let r = self.0.py_err()?;
        Ok(Py::new(py, response(py, r)?)?.into_any())
    }
}

#[pymethods]
impl PyAsyncRequester {
    #[new]
    #[pyo3(
        signature = (server, client, secret, scheme=Text::lit("v2"), timeout=Seconds(Duration::from_secs(30)), correct_clock=true, clock_offset_ms=IntSetting::lit(0), ca_pem=None, max_response_bytes=DEFAULT_MAX_RESPONSE_BYTES),
        text_signature = "(server, client, secret, scheme='v2', timeout=30.0, correct_clock=True, clock_offset_ms=0, ca_pem=None, max_response_bytes=67108864)"
    )]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn new(
        server: Text<'_, field::ServerUrl>,
        client: Text<'_, field::Client>,
        secret: SecretArg<'_>,
        scheme: Text<'_, field::Scheme>,
        timeout: Seconds,
        correct_clock: bool,
        clock_offset_ms: OffsetMs,
        ca_pem: Option<Bound<'_, PyAny>>,
        max_response_bytes: MaxResponseBytes,
    ) -> PyResult<Self> {
        let inner = PerProcess::new(builder(
            &server,
            &client,
            &secret,
            &scheme,
            timeout,
            correct_clock,
            clock_offset_ms,
            ca_pem.as_ref(),
            max_response_bytes,
        )?)?;
        Ok(PyAsyncRequester { inner })
    }

    /// The clock offset learned from the server's authenticated time hint (ms).
    #[getter]
    fn clock_offset_ms(&self) -> i64 {
        self.inner.clock_offset_ms()
    }

    /// Signs and sends one request: a coroutine of `Response`, as an `async` method's call is
    /// (`asyncio.create_task` and `TaskGroup.create_task` take it; nothing is read or sent
    /// until it is awaited).
    #[pyo3(signature = (method, params, path, controller=None, options=None))]
    fn make_request<'py>(
        slf: &Bound<'py, Self>,
        method: Bound<'py, PyAny>,
        params: Option<Bound<'py, PyAny>>,
        path: Bound<'py, PyAny>,
        controller: Option<Bound<'py, PyAny>>,
        options: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let start = slf.getattr("_start_request")?;
        STARTED_WHEN_AWAITED
            .get_or_try_init(py, || {
                let module = py.import("xnonce._coroutine")?;
                Ok::<_, PyErr>(module.getattr("started_when_awaited")?.unbind())
            })?
            .bind(py)
            .call1((start, method, params, path, controller, options))
    }

    /// `make_request`'s work, started: an `asyncio.Future` of the running loop (a
    /// `RuntimeError` when there is none).
    #[pyo3(signature = (method, params, path, controller=None, options=None))]
    fn _start_request<'py>(
        &self,
        py: Python<'py>,
        method: Text<'_, field::Method>,
        params: Option<&Bound<'py, PyAny>>,
        path: Text<'_, field::Path>,
        controller: Option<Text<'_, field::Controller>>,
        options: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let params = convert::params(params)?;
        let options = self::options(options)?;
        let requester = self.inner.requester()?;
        let (method, path) = (method.to_owned(), path.to_owned());
        let controller = controller.map(|c| c.to_owned());
        bridge::future_into_py(py, async move {
            Answer(
                requester
                    .make_request(&method, params, &path, controller.as_deref(), options)
                    .await,
            )
        })
    }
}
