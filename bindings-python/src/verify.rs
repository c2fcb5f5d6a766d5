//! Verification on the server side: `Verifier`, with an in-memory replay store or one the
//! caller gives (an object with `insert_if_absent`, e.g. over Redis, shared by processes).

use std::cell::RefCell;
use std::sync::{Arc, RwLock};

use pyo3::exceptions::{PyRuntimeWarning, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyIterator, PyList, PyMapping, PyString, PyTuple};
use pyo3::{PyTraverseError, PyVisit};
use xnonce_core::{
    Environment, Incoming, Input, MemoryReplayStore, ParamRule, ReplayKey, ReplayStore,
    ReplayStoreError, RouteTable, Scheme, Secret, SecretSource, Verified, Verifier, WindowPolicy,
};

use crate::answer::PyAnswer;
use crate::convert::{self, field, Received, SecretArg, Text, Window};
use crate::errors::{refusal_to_py, IntoPyResult};

/// A verified request.
#[pyclass(frozen, module = "xnonce", name = "Verified")]
pub struct PyVerified {
    inner: Verified,
}

#[pymethods]
impl PyVerified {
    /// `"v1"` or `"v2"`.
    #[getter]
    fn scheme(&self) -> &'static str {
        self.inner.scheme.as_str()
    }

    /// The authenticated client id.
    #[getter]
    fn client(&self) -> &str {
        &self.inner.client
    }

    /// The signed timestamp (ms since the epoch).
    #[getter]
    fn timestamp(&self) -> u64 {
        self.inner.timestamp_ms
    }

    /// The signed params as `(key, value)` pairs (decoded; `ottoken` left out).
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items: Vec<Bound<'py, PyTuple>> = self
            .inner
            .params
            .iter()
            .map(|(k, v)| PyTuple::new(py, [PyString::new(py, k), PyString::new(py, v)]))
            .collect::<PyResult<_>>()?;
        PyList::new(py, items)
    }

    /// The replay key: `v1:<client>:<token>` or `v2:<client>:<nonce>`.
    #[getter]
    fn replay_key(&self) -> &str {
        self.inner.replay_key.as_str()
    }

    /// Until when the replay key must be remembered (ms): the request's timestamp + window.
    #[getter]
    fn remember_until(&self) -> u64 {
        self.inner.remember_until_ms
    }

    /// Which of the client's secrets matched (index into the list given for the client).
    #[getter]
    fn secret_index(&self) -> usize {
        self.inner.secret_index
    }

    /// True when the credential came from an `ottoken` query/form parameter.
    #[getter]
    fn via_ottoken(&self) -> bool {
        self.inner.via_ottoken
    }

    fn __repr__(&self) -> String {
        format!(
            "Verified(scheme={:?}, client={:?}, timestamp={})",
            self.inner.scheme.as_str(),
            self.inner.client,
            self.inner.timestamp_ms
        )
    }
}

/// How a secret source is asked for a client's secrets, decided once when the verifier is
/// built.
#[derive(Clone, Copy, PartialEq)]
enum Lookup {
    /// Exactly a `dict`: `source[client]`, absent → none.
    Dict,
    /// Another mapping, or any object with `.get`: `source.get(client)`.
    Get,
    /// A callable: `source(client)`.
    Call,
}

impl Lookup {
    /// The lookup for `source`; a `TypeError` if it is neither a mapping nor a callable.
    fn of(source: &Bound<'_, PyAny>) -> PyResult<Lookup> {
        // Exactly `dict`: a subclass may override `get`/`__getitem__` (computed secrets).
        if source.cast_exact::<PyDict>().is_ok() {
            Ok(Lookup::Dict)
        } else if source.hasattr("get")? {
            Ok(Lookup::Get)
        } else if source.is_callable() {
            Ok(Lookup::Call)
        } else {
            Err(PyTypeError::new_err(format!(
                "secrets must be a mapping client -> secret(s) or a callable, not {}",
                source.get_type().name()?
            )))
        }
    }
}

/// Secrets looked up live in a Python mapping or callable. A lookup that raises is kept and
/// re-raised after verification (the core trait cannot carry Python errors).
struct PySecrets<'a, 'py> {
    source: &'a Bound<'py, PyAny>,
    lookup: Lookup,
    failure: RefCell<Option<PyErr>>,
}

impl PySecrets<'_, '_> {
    fn lookup(&self, client: &str) -> PyResult<Vec<Secret>> {
        let found = match self.lookup {
            Lookup::Dict => self.source.cast_exact::<PyDict>()?.get_item(client)?,
            Lookup::Get => Some(self.source.call_method1("get", (client,))?),
            Lookup::Call => Some(self.source.call1((client,))?),
        };
        match found.filter(|f| !f.is_none()) {
            Some(found) => secrets_of(&found, Secrets::Live),
            None => Ok(Vec::new()),
        }
    }

    /// The verification's outcome: a failed secrets lookup first, then a refusal (with the
    /// answer to send for `req`), else the verified request.
    fn finish(
        self,
        req: &Incoming<'_>,
        result: xnonce_core::Result<Verified>,
    ) -> PyResult<PyVerified> {
        if let Some(e) = self.failure.into_inner() {
            return Err(e);
        }
        match result {
            Ok(inner) => Ok(PyVerified { inner }),
            Err(e) => {
                let answer = PyAnswer::for_refusal(&e, req);
                Err(refusal_to_py(e, answer))
            }
        }
    }
}

/// How a client's secrets are read.
#[derive(Clone, Copy, PartialEq)]
enum Secrets {
    /// At construction, from a `dict`: a secret whose text does not pass PROTOCOL §3.1 is
    /// refused (`invalid_secret`), as every binding refuses one given to a verifier.
    Given,
    /// On a request, from the live source: such a secret is skipped, as §11.1 step 5 says —
    /// it is no live secret and never matches, and the client's other secrets still do
    /// (an entry changed after construction, or a source's data).
    Live,
}

/// The secrets a source gave for a client: one secret (a `str` or an `xnonce.Secret`) or an
/// iterable of them. A value that is no secret at all is a `TypeError` (the program's
/// mistake, not the data's), either way.
fn secrets_of(found: &Bound<'_, PyAny>, how: Secrets) -> PyResult<Vec<Secret>> {
    let one = |item: Borrowed<'_, '_, PyAny>| -> PyResult<Option<Secret>> {
        match SecretArg::of(item, Input::VerifierSecret).and_then(|s| s.secret()) {
            Ok(secret) => Ok(Some(secret)),
            Err(e) if how == Secrets::Given || e.is_instance_of::<PyTypeError>(item.py()) => Err(e),
            Err(_) => Ok(None),
        }
    };
    if found.is_instance_of::<PyString>() || found.is_instance_of::<convert::PySecret>() {
        return Ok(one(found.as_borrowed())?.into_iter().collect());
    }
    let not_secrets = || {
        PyTypeError::new_err(format!(
            "a secrets lookup must give a secret (str or xnonce.Secret), a list of them \
             or None, not {}",
            convert::type_name(found)
        ))
    };
    // Iterable, but not of secrets: `bytes` would be read as ints, a mapping as its keys.
    if found.is_instance_of::<PyBytes>()
        || found.is_instance_of::<PyByteArray>()
        || found.is_instance_of::<PyMapping>()
    {
        return Err(not_secrets());
    }
    // A dict is read on every request: a one-shot iterator in it (a generator, `map(str.strip,
    // ...)`, `iter(list)`) would be used up by this very check, and the client unknown from
    // the first request on (or from the second, had it not been checked).
    if how == Secrets::Given && found.is_instance_of::<PyIterator>() {
        return Err(PyTypeError::new_err(format!(
            "a dict of secrets must map a client to a secret or a list of them, not to a \
             one-shot iterator ({}), which the first request would use up: give a list",
            convert::type_name(found)
        )));
    }
    let items = found.try_iter().map_err(|_| not_secrets())?;
    let mut out = Vec::new();
    for s in items {
        out.extend(one(s?.as_borrowed())?);
    }
    Ok(out)
}

impl SecretSource for PySecrets<'_, '_> {
    fn secrets(&self, client: &str) -> Vec<Secret> {
        self.lookup(client).unwrap_or_else(|e| {
            self.failure.borrow_mut().get_or_insert(e);
            Vec::new()
        })
    }
}

/// A replay store written in Python: `store.insert_if_absent(key, expires_at_ms, now_ms)`,
/// true when the key was recorded (first copy), false when it already was (replay). What it
/// raises is kept, to be the cause of the `store_unavailable` refusal.
struct PyStore<'a, 'py> {
    store: &'a Bound<'py, PyAny>,
    failure: &'a RefCell<Option<PyErr>>,
}

impl ReplayStore for PyStore<'_, '_> {
    fn insert_if_absent(
        &self,
        key: &ReplayKey,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Result<bool, ReplayStoreError> {
        let answer = self
            .store
            .call_method1("insert_if_absent", (key.as_str(), expires_at_ms, now_ms))
            .and_then(|recorded| {
                // A coroutine (an `async def` store, redis.asyncio) is truthy but has
                // recorded nothing: never read it as "first copy".
                if recorded.hasattr("__await__")? {
                    // Closed, so that Python does not also warn it was never awaited.
                    if recorded.hasattr("close")? {
                        recorded.call_method0("close")?;
                    }
                    return Err(PyTypeError::new_err(
                        "replay_store.insert_if_absent returned an awaitable: the store must \
                         answer synchronously (redis.Redis, not redis.asyncio.Redis)",
                    ));
                }
                recorded.is_truthy()
            });
        answer.map_err(|e| {
            self.failure.borrow_mut().get_or_insert(e);
            // Not the exception's text: the answer to the client says only this.
            ReplayStoreError("the replay store did not answer".into())
        })
    }
}

/// Where `verify_once` records requests.
enum Store {
    /// This verifier's own, in this process.
    Memory(MemoryReplayStore),
    /// The caller's (`replay_store=`).
    Python(Py<PyAny>),
}

/// Raises the fence of a `replay_store` that keeps one (`widen_fence(ms)`, as
/// `xnonce.redis`'s stores) to `fence_ms`, the verifier's `fence_after_loss_ms`: a store
/// without the method is left as it is.
fn widen_fence(store: &Bound<'_, PyAny>, fence_ms: u64) -> PyResult<()> {
    let py = store.py();
    let widen = match store.getattr(pyo3::intern!(py, "widen_fence")) {
        Ok(widen) => widen,
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyAttributeError>(py) => return Ok(()),
        Err(e) => return Err(e),
    };
    widen.call1((fence_ms,))?;
    Ok(())
}

/// Verifies signed requests (both schemes by default) against a client → secret(s) source.
#[pyclass(frozen, module = "xnonce", name = "Verifier")]
pub struct PyVerifier {
    /// The settings in force: each verification takes a snapshot ([`PyVerifier::current`])
    /// and keeps it to the end; `reconfigure` swaps in new ones. Never held while Python code
    /// runs (a secrets lookup, a Python replay store, a mapping's `items`).
    verifier: RwLock<Arc<Verifier>>,
    secrets: Py<PyAny>,
    lookup: Lookup,
    store: Store,
}

fn window_policy(
    window_ms: convert::Window,
    controller_windows: Option<&Bound<'_, PyAny>>,
    action_windows: Option<&Bound<'_, PyAny>>,
) -> PyResult<WindowPolicy> {
    let mut policy = WindowPolicy::new(window_ms.0);
    for (key, Window(ms)) in window_items(controller_windows, "controller_windows")? {
        policy = policy.controller(convert::text::<field::ControllerWindow>(&key)?, ms);
    }
    for (key, Window(ms)) in window_items(action_windows, "action_windows")? {
        let (controller, action) = match key.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>() {
            Ok((c, a)) => (
                convert::text::<field::ActionWindowController>(&c)?.to_owned(),
                convert::text::<field::ActionWindowAction>(&a)?.to_owned(),
            ),
            Err(_) => {
                let text = convert::text::<field::ActionWindow>(&key)?;
                let (c, a) = xnonce_core::window::action_key(text).py_err()?;
                (c.to_owned(), a.to_owned())
            }
        };
        policy = policy.action(controller, action, ms);
    }
    Ok(policy)
}

/// A `RuntimeWarning` for each route window that selects no route of the verifier's table,
/// as `xnonce-server` warns of them: it applies to no request, most likely misspelt. An
/// error when warnings are errors (`-W error`).
fn warn_of_windows_naming_no_route(py: Python<'_>, verifier: &Verifier) -> PyResult<()> {
    for (controller, action) in verifier.windows_naming_no_route() {
        let key = match action {
            Some(action) => format!("action_windows[({controller:?}, {action:?})]"),
            None => format!("controller_windows[{controller:?}]"),
        };
        let message = format!("xnonce.Verifier: {key} {}", WindowPolicy::NAMING_NO_ROUTE);
        // Never a NUL: `{:?}` writes one as `\0`.
        let message = std::ffi::CString::new(message)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
        PyErr::warn(py, &py.get_type::<PyRuntimeWarning>(), &message, 1)?;
    }
    Ok(())
}

/// The `(key, window)` items of a `controller_windows` / `action_windows` mapping (`None`:
/// none); a `TypeError` for anything that is not a mapping (a list of pairs included: the
/// README documents a mapping), each window checked by [`Window`].
fn window_items<'py>(
    windows: Option<&Bound<'py, PyAny>>,
    what: &str,
) -> PyResult<Vec<(Bound<'py, PyAny>, Window)>> {
    mapping_items(windows, what, "route -> window (ms)")?
        .into_iter()
        .map(|(key, ms)| Ok((key, ms.extract::<Window>()?)))
        .collect()
}

/// The `(key, value)` items of a mapping argument `what` of `shape` (`None`: none); a
/// `TypeError` for anything that is not a mapping (a list of pairs included).
fn mapping_items<'py>(
    mapping: Option<&Bound<'py, PyAny>>,
    what: &str,
    shape: &str,
) -> PyResult<Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
    let Some(mapping) = mapping.filter(|m| !m.is_none()) else {
        return Ok(Vec::new());
    };
    if !mapping.is_instance_of::<PyMapping>() && !mapping.hasattr("items")? {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a mapping {shape}, not {}",
            convert::type_name(mapping)
        )));
    }
    mapping
        .call_method0("items")?
        .try_iter()?
        .map(|item| item?.extract())
        .collect()
}

/// The items of a mapping inside `routes`: [`mapping_items`], except that `None` is no
/// mapping there (a `TypeError`, as the Node verifier refuses `null`), never an empty one.
fn nested_items<'py>(
    mapping: &Bound<'py, PyAny>,
    what: &str,
    shape: &str,
) -> PyResult<Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
    if mapping.is_none() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a mapping {shape}, not None"
        )));
    }
    mapping_items(Some(mapping), what, shape)
}

/// A verifier's `routes`: em-secure-api's routes hash as `xnonce-server`'s config writes it,
/// controller -> `<action>_<method>` (or `__default_parameters`) -> param -> `"req"` /
/// `"opt"` / `"exc"`, checked as the server checks it ([`RouteTable::add_checked`]).
fn route_table(routes: &Bound<'_, PyAny>) -> PyResult<RouteTable> {
    let mut table = RouteTable::new();
    for (controller, keys) in mapping_items(Some(routes), "routes", "controller -> routes")? {
        let controller = convert::text::<field::RouteController>(&controller)?;
        xnonce_core::routes::check_route_controller(controller).py_err()?;
        let what = format!("routes[{controller:?}]");
        for (key, rules) in nested_items(&keys, &what, "route key -> rules")? {
            let key = convert::text::<field::RouteKey>(&key)?;
            let what = format!("routes[{controller:?}][{key:?}]");
            let mut parsed = Vec::new();
            for (param, rule) in nested_items(&rules, &what, "param -> rule")? {
                let param = convert::text::<field::RouteParam>(&param)?;
                let rule = convert::text::<field::RouteRule>(&rule)?;
                parsed.push((param.to_owned(), rule.parse::<ParamRule>().py_err()?));
            }
            table.add_checked(controller, key, parsed).py_err()?;
        }
    }
    Ok(table)
}

/// The core verifier of a `Verifier`'s settings, for `Verifier(...)` and `reconfigure(...)`
/// alike: the same checks, the same errors and the same `RuntimeWarning` for a route window
/// that selects no route; an argument not given (`None`) is the default (both schemes, any
/// host, no routes). Runs the caller's code (a mapping's `items`, a warning filter): never
/// called under the verifier's lock.
fn build_verifier(
    py: Python<'_>,
    window_ms: Window,
    controller_windows: Option<&Bound<'_, PyAny>>,
    action_windows: Option<&Bound<'_, PyAny>>,
    schemes: Option<Vec<Bound<'_, PyAny>>>,
    hosts: Option<Vec<Bound<'_, PyAny>>>,
    routes: Option<&Bound<'_, PyAny>>,
) -> PyResult<Verifier> {
    let mut verifier = Verifier::new()
        .windows(window_policy(
            window_ms,
            controller_windows,
            action_windows,
        )?)
        .py_err()?;
    if let Some(schemes) = schemes {
        let parsed: Vec<Scheme> = schemes
            .iter()
            .map(|s| convert::scheme(convert::text::<field::AcceptedScheme>(s)?))
            .collect::<PyResult<_>>()?;
        verifier = verifier.schemes(&parsed).py_err()?;
    }
    if let Some(hosts) = hosts {
        let names: Vec<String> = hosts
            .iter()
            .map(|h| convert::text::<field::ServedHost>(h).map(str::to_string))
            .collect::<PyResult<_>>()?;
        verifier = verifier.hosts(&names).py_err()?;
    }
    if let Some(routes) = routes.filter(|r| !r.is_none()) {
        verifier = verifier.routes(route_table(routes)?);
        warn_of_windows_naming_no_route(py, &verifier)?;
    }
    Ok(verifier)
}

/// `now` (ms), else the system clock: the time `verify` and `reconfigure` work at.
fn now_or_clock(now: Option<convert::Millis>) -> u64 {
    convert::millis(now).unwrap_or_else(|| xnonce_core::SystemEnvironment.now_ms())
}

impl PyVerifier {
    /// The settings in force now, for one verification to use from start to end.
    fn current(&self) -> Arc<Verifier> {
        Arc::clone(&self.verifier.read().unwrap_or_else(|p| p.into_inner()))
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        py: Python<'_>,
        once: bool,
        method: Received<'_, field::Method>,
        target: Received<'_, field::Target>,
        host: Option<Received<'_, field::Host>>,
        x_nonce: Option<Received<'_, field::Header>>,
        content_type: Option<Received<'_, field::ContentType>>,
        body: Option<&Bound<'_, PyAny>>,
        now: Option<convert::Millis>,
    ) -> PyResult<PyVerified> {
        let body = convert::body(body)?.unwrap_or_default();
        let now = now_or_clock(now);
        // `text_or_lossy` is the text itself when UTF-8 can encode it, which `checked` tells.
        let req = Incoming {
            x_nonce: x_nonce.as_ref().map(|x| x.text_or_lossy()),
            ..Incoming::new(method.text_or_lossy(), target.text_or_lossy())
                .host_header(host.as_ref().map(|h| h.text_or_lossy()))
                .body(content_type.as_ref().map(|c| c.text_or_lossy()), &body)
        };
        // Text UTF-8 cannot encode (a lone surrogate: a WSGI server's decoding of bytes the
        // client sent) refuses the request with that input's code and the answer to send,
        // styled by the request as read lossily; the first such input, in argument order.
        let ill_formed = [
            method.checked().err(),
            target.checked().err(),
            host.as_ref().and_then(|h| h.checked().err()),
            x_nonce.as_ref().and_then(|x| x.checked().err()),
            content_type.as_ref().and_then(|c| c.checked().err()),
        ]
        .into_iter()
        .flatten()
        .next();
        if let Some(err) = ill_formed {
            let answer = PyAnswer::for_refusal(&err, &req);
            return Err(refusal_to_py(err, answer));
        }
        let source = self.secrets.bind(py);
        let secrets = PySecrets {
            source,
            lookup: self.lookup,
            failure: RefCell::new(None),
        };
        let store_failure = RefCell::new(None);
        let verifier = self.current();
        let result = match (&self.store, once) {
            (_, false) => verifier.verify(&req, &secrets, now),
            (Store::Memory(store), true) => verifier.verify_once(&req, &secrets, store, now),
            (Store::Python(store), true) => {
                let store = PyStore {
                    store: store.bind(py),
                    failure: &store_failure,
                };
                verifier.verify_once(&req, &secrets, &store, now)
            }
        };
        match (secrets.finish(&req, result), store_failure.into_inner()) {
            // KeyboardInterrupt, SystemExit: not the store's failure, the process's.
            (Err(_), Some(cause)) if !cause.is_instance_of::<pyo3::exceptions::PyException>(py) => {
                Err(cause)
            }
            (Err(refusal), Some(cause)) => {
                refusal.set_cause(py, Some(cause));
                Err(refusal)
            }
            (outcome, _) => outcome,
        }
    }
}

#[pymethods]
impl PyVerifier {
    /// `secrets`: a mapping client → secret or list of secrets (several during rotation), or a
    /// callable `client -> secret | list | None`; looked up on every request. `replay_store`:
    /// where `verify_once` records requests, an object with `insert_if_absent(key,
    /// expires_at_ms, now_ms) -> bool` (shared by several processes, e.g.
    /// `xnonce.redis.RedisReplayStore`, whose fence after a loss of keys is raised to
    /// `fence_after_loss_ms` through its `widen_fence`); by default this verifier's own memory. Windows
    /// (`window_ms`, and per route `controller_windows` / `action_windows`, mappings) are
    /// ints in `0..=86_400_000` ms, else `invalid_timestamp`; a `bool` or `float` is a
    /// `TypeError`. `hosts`: the hosts clients reach this service by, as they sign them (case
    /// and `:80` / `:443` aside); a v2 request signed for another host is `invalid_host`
    /// (default: any host; v1 signs none and is not checked). `routes`: em-secure-api's routes
    /// hash, controller -> `<action>_<method>` or `__default_parameters` -> param -> `"req"`
    /// / `"opt"` / `"exc"`: a request's route (404 `unknown_route`) and param rules (422
    /// `missing_param` / `excluded_param`) are checked first, as `xnonce-server` checks them,
    /// and a route window that selects no route is warned of (`RuntimeWarning`).
    #[new]
    #[pyo3(
        signature = (secrets, window_ms=Window(xnonce_core::window::DEFAULT_WINDOW_MS), controller_windows=None, action_windows=None, schemes=None, replay_store=None, hosts=None, routes=None),
        text_signature = "(secrets, window_ms=30000, controller_windows=None, action_windows=None, schemes=None, replay_store=None, hosts=None, routes=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn new(
        secrets: Bound<'_, PyAny>,
        window_ms: Window,
        controller_windows: Option<&Bound<'_, PyAny>>,
        action_windows: Option<&Bound<'_, PyAny>>,
        schemes: Option<Vec<Bound<'_, PyAny>>>,
        replay_store: Option<Bound<'_, PyAny>>,
        hosts: Option<Vec<Bound<'_, PyAny>>>,
        routes: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let store =
            match replay_store.filter(|s| !s.is_none()) {
                Some(s) if s.hasattr("insert_if_absent")? => Store::Python(s.unbind()),
                Some(_) => return Err(PyTypeError::new_err(
                    "replay_store must have an insert_if_absent(key, expires_at_ms, now_ms) method",
                )),
                None => Store::Memory(MemoryReplayStore::new()),
            };
        let lookup = Lookup::of(&secrets)?;
        if lookup == Lookup::Dict {
            // A dict is the verifier's configuration: a secret it cannot use is refused now.
            // A snapshot of the values (a new list), not `.iter()` over the dict: reading one
            // may run the caller's code (an iterable's `__iter__`), and pyo3's dict iterator
            // panics when that code resizes the dict.
            for found in secrets.cast_exact::<PyDict>()?.values().iter() {
                if !found.is_none() {
                    secrets_of(&found, Secrets::Given)?;
                }
            }
        }
        let verifier = build_verifier(
            secrets.py(),
            window_ms,
            controller_windows,
            action_windows,
            schemes,
            hosts,
            routes,
        )?;
        if let Store::Python(store) = &store {
            widen_fence(store.bind(secrets.py()), verifier.fence_after_loss_ms())?;
        }
        Ok(PyVerifier {
            verifier: RwLock::new(Arc::new(verifier)),
            secrets: secrets.unbind(),
            lookup,
            store,
        })
    }

    /// Tells Python's garbage collector what the verifier holds: its secrets source and its
    /// replay store, which often refer back to it (a bound method `self.lookup` of the app
    /// object that keeps the verifier, a store that keeps it). Without this such a cycle is
    /// never collected: the app, its secrets and its connections would live until exit.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.secrets)?;
        if let Store::Python(store) = &self.store {
            visit.call(store)?;
        }
        Ok(())
    }

    /// The `replay_store` this verifier was built with, `None` for its own memory: what the
    /// middlewares compare (by identity) to skip a record an earlier one made in this very
    /// store for the same request. Not public API.
    #[getter(_replay_store)]
    fn replay_store_object(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        match &self.store {
            Store::Memory(_) => None,
            Store::Python(store) => Some(store.clone_ref(py)),
        }
    }

    /// How long (ms) a shared `replay_store` should refuse every request once it finds that
    /// it lost its keys (Redis restarted empty, flushed): twice this verifier's longest
    /// window plus 1 s (core's `Verifier::fence_after_loss_ms`). The constructor and
    /// `reconfigure` raise the fence of a `replay_store` with a `widen_fence(ms)` method to
    /// it, and the ASGI middleware its own `replay_store`'s.
    #[getter]
    fn fence_after_loss_ms(&self) -> u64 {
        self.current().fence_after_loss_ms()
    }

    /// Replaces this verifier's windows, accepted schemes, hosts and routes with those given,
    /// as a configuration reload does: the constructor's settings, checked as it checks them
    /// (the same errors, the same `RuntimeWarning` for a route window that selects no route)
    /// and with its defaults for what is not given; on any error nothing changes. The
    /// secrets source and the replay store stay (this verifier's memory, or its
    /// `replay_store`, whose `widen_fence` is given the new `fence_after_loss_ms` before the
    /// swap): a request accepted before is still `replayed` after. A request the
    /// old settings may have accepted is checked under the narrower of the old and new
    /// windows, later ones under the new (core's `Verifier::replacing`, with `now`, ms,
    /// default the system clock, as the time of the swap): a widened window accepts no copy
    /// whose replay key expired under the old one; a narrower one applies at once.
    /// Verifications running in other threads finish with the settings they started with.
    #[pyo3(
        signature = (window_ms=Window(xnonce_core::window::DEFAULT_WINDOW_MS), controller_windows=None, action_windows=None, schemes=None, hosts=None, routes=None, *, now=None),
        text_signature = "($self, window_ms=30000, controller_windows=None, action_windows=None, schemes=None, hosts=None, routes=None, *, now=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn reconfigure(
        &self,
        py: Python<'_>,
        window_ms: Window,
        controller_windows: Option<&Bound<'_, PyAny>>,
        action_windows: Option<&Bound<'_, PyAny>>,
        schemes: Option<Vec<Bound<'_, PyAny>>>,
        hosts: Option<Vec<Bound<'_, PyAny>>>,
        routes: Option<&Bound<'_, PyAny>>,
        now: Option<convert::Millis>,
    ) -> PyResult<()> {
        // Built (the caller's mappings read, warnings given) before the lock is taken.
        let built = build_verifier(
            py,
            window_ms,
            controller_windows,
            action_windows,
            schemes,
            hosts,
            routes,
        )?;
        // Before the swap: no request is verified under the new windows while the store's
        // fence covers only the old ones.
        if let Store::Python(store) = &self.store {
            widen_fence(store.bind(py), built.fence_after_loss_ms())?;
        }
        // Computed under the write lock from the settings it replaces: two reconfigures at
        // once chain, the second replacing what the first put in place.
        let mut current = self.verifier.write().unwrap_or_else(|p| p.into_inner());
        let now = now_or_clock(now);
        *current = Arc::new(built.replacing(&current, now));
        Ok(())
    }

    /// Verifies authenticity and freshness; raises an `XNonceError` subclass otherwise.
    /// `target` is the request target as received (`/path?query`, still percent-encoded; in
    /// absolute form, `http://host/path?query`, its authority is the host and `host` is
    /// ignored); `now` (ms) defaults to the system clock.
    #[pyo3(signature = (method, target, *, host=None, x_nonce=None, content_type=None, body=None, now=None))]
    #[allow(clippy::too_many_arguments)]
    fn verify(
        &self,
        py: Python<'_>,
        method: Received<'_, field::Method>,
        target: Received<'_, field::Target>,
        host: Option<Received<'_, field::Host>>,
        x_nonce: Option<Received<'_, field::Header>>,
        content_type: Option<Received<'_, field::ContentType>>,
        body: Option<&Bound<'_, PyAny>>,
        now: Option<convert::Millis>,
    ) -> PyResult<PyVerified> {
        self.run(
            py,
            false,
            method,
            target,
            host,
            x_nonce,
            content_type,
            body,
            now,
        )
    }

    /// The refusal of a request that its head alone decides, before its body is read: with
    /// `routes`, an unknown route (404) or param rules the query alone fails (422), for a
    /// body that is not a form (a form's fields are params: `verify` decides once it is
    /// read); `None` otherwise. The answer `verify` would give the same request, given
    /// without waiting for its body, as the reference server does (core's
    /// `Verifier::check_route_before_body`). Text UTF-8 cannot encode is left to `verify`.
    #[pyo3(signature = (method, target, *, x_nonce=None, content_type=None))]
    fn route_refusal(
        &self,
        method: Received<'_, field::Method>,
        target: Received<'_, field::Target>,
        x_nonce: Option<Received<'_, field::Header>>,
        content_type: Option<Received<'_, field::ContentType>>,
    ) -> Option<PyAnswer> {
        let well_formed = method.checked().is_ok()
            && target.checked().is_ok()
            && x_nonce.as_ref().is_none_or(|x| x.checked().is_ok())
            && content_type.as_ref().is_none_or(|c| c.checked().is_ok());
        if !well_formed {
            return None;
        }
        let req = Incoming {
            x_nonce: x_nonce.as_ref().map(|x| x.text_or_lossy()),
            ..Incoming::new(method.text_or_lossy(), target.text_or_lossy())
                .body(content_type.as_ref().map(|c| c.text_or_lossy()), &[])
        };
        let refused = self.current().check_route_before_body(&req).err()?;
        Some(PyAnswer::for_refusal(&refused, &req))
    }

    /// [`verify`], then records the request in the replay store (this verifier's memory, or
    /// its `replay_store`): a second copy raises `AuthError` with code `replayed`; a store
    /// that raises gives an `XNonceError` with code `store_unavailable` (answer 503) whose
    /// `__cause__` is what it raised.
    #[pyo3(signature = (method, target, *, host=None, x_nonce=None, content_type=None, body=None, now=None))]
    #[allow(clippy::too_many_arguments)]
    fn verify_once(
        &self,
        py: Python<'_>,
        method: Received<'_, field::Method>,
        target: Received<'_, field::Target>,
        host: Option<Received<'_, field::Host>>,
        x_nonce: Option<Received<'_, field::Header>>,
        content_type: Option<Received<'_, field::ContentType>>,
        body: Option<&Bound<'_, PyAny>>,
        now: Option<convert::Millis>,
    ) -> PyResult<PyVerified> {
        self.run(
            py,
            true,
            method,
            target,
            host,
            x_nonce,
            content_type,
            body,
            now,
        )
    }
}

/// The `Content-Type` an app behind a middleware should see for an accepted request: a form's
/// as `application/x-www-form-urlencoded; charset=utf-8` (the charset its fields were verified
/// in; nothing signs the one the client named), JSON that names a charset as its media type
/// with `charset=utf-8` (JSON is UTF-8), `None` (keep it) for anything else. Text that UTF-8
/// cannot encode is refused as `verify` refuses it (`invalid_body`), never with the
/// `UnicodeEncodeError` that would carry it.
#[pyfunction]
#[pyo3(signature = (content_type))]
pub fn content_type_for_app(content_type: Option<Text<'_, field::ContentType>>) -> Option<String> {
    xnonce_core::verify::content_type_for_app(content_type.as_deref()).map(|ct| ct.into_owned())
}

/// The `Host` an app behind a middleware should see for an accepted v2 request: the verified
/// host in its canonical form (PROTOCOL §6.2, core's `canonical::host`), the one host the
/// signature covers, so that spellings it treats as one (`API.test:443`, `h:8080:443`) reach
/// the app as that host (`api.test`, `h:8080`), as the reference gateway hands them on;
/// `None` for a host that has none (not one a v2 request verifies with).
#[pyfunction]
#[pyo3(signature = (host))]
pub fn host_for_app(host: Text<'_, field::Host>) -> Option<String> {
    xnonce_core::canonical::host(&host)
        .ok()
        .map(|h| h.into_owned())
}

/// Whether `content_type` is no form for the verifier yet one for an app's form reader (a form
/// media type with U+00A0, U+0085 or another character Python's `str.strip` removes around
/// it): core's `form_content_type_misread`. A middleware refuses such a request
/// (`Answer.misread_content_type`): its body, verified as opaque bytes, would reach the app as
/// a form whose fields no signature covers as params.
#[pyfunction]
#[pyo3(signature = (content_type))]
pub fn form_content_type_misread(content_type: Option<Text<'_, field::ContentType>>) -> bool {
    xnonce_core::verify::form_content_type_misread(content_type.as_deref())
}
