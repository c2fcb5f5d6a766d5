//! Python values → core inputs. Every native value becomes text through core's
//! `params::text_from_*` (never re-implemented here); anything else is refused with
//! `invalid_param_value`.

use std::marker::PhantomData;

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMemoryView, PyString, PyTuple,
};
use xnonce_core::input::Pairs;
use xnonce_core::{params, ErrorCode, Input, Scheme, Secret};

use crate::errors::{coded, to_py, IntoPyResult};

extern "C" {
    // Exported by every CPython 3 and part of the stable ABI since 3.10; pyo3 only hides it
    // under `abi3-py39` because 3.9's *limited* API lacks it. Used for zero-copy `str` access.
    fn PyUnicode_AsUTF8AndSize(
        unicode: *mut pyo3::ffi::PyObject,
        size: *mut pyo3::ffi::Py_ssize_t,
    ) -> *const std::os::raw::c_char;
}

/// The UTF-8 text of a `str` object, borrowed from the object's cached UTF-8 form (no copy;
/// the `abi3-py39` `&str` extraction would allocate a `bytes` object per argument).
///
/// A `str` that UTF-8 cannot encode (a lone surrogate, e.g. a stray byte read through
/// `os.environ`'s `surrogateescape`) is refused as core's table says of `input` (its code, and
/// the message naming it): Python's own `UnicodeEncodeError` is dropped unseen, because its
/// `repr` quotes the whole string, which may be a secret. Any other type is a `TypeError`
/// naming the argument (`arg`) and the type only.
fn utf8<'a>(obj: Borrowed<'a, '_, PyAny>, input: Input, arg: &str) -> PyResult<&'a str> {
    utf8_or(obj, arg, || to_py(input.ill_formed()))
}

/// [`utf8`], with `ill_formed` as the error for a `str` that UTF-8 cannot encode.
fn utf8_or<'a>(
    obj: Borrowed<'a, '_, PyAny>,
    what: &str,
    ill_formed: impl FnOnce() -> PyErr,
) -> PyResult<&'a str> {
    if !obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be str, not {}",
            type_name(&obj)
        )));
    }
    let mut size: pyo3::ffi::Py_ssize_t = 0;
    // SAFETY: `obj` is a live `str` (checked above) for 'a; the returned buffer is owned by it.
    let data = unsafe { PyUnicode_AsUTF8AndSize(obj.as_ptr(), &mut size) };
    if data.is_null() {
        // Lone surrogates cannot be encoded. The pending UnicodeEncodeError holds the text:
        // take it and drop it, and say which input was refused, never what it held.
        drop(PyErr::take(obj.py()));
        return Err(ill_formed());
    }
    let len = usize::try_from(size).unwrap_or(0);
    // SAFETY: CPython returns `size` bytes of valid UTF-8 that live as long as the object.
    Ok(unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(data.cast(), len)) })
}

/// The name of an object's type, for messages.
pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Which input a `str` argument is: core's [`Input`] (the code a non-encodable `str` gets, and
/// its name in that message), and the argument's Python name for `TypeError`s.
pub trait Field {
    /// The input, as core's table gives its code and name.
    const INPUT: Input;
    /// How a `TypeError` names the argument.
    const ARG: &'static str;
}

/// The [`Field`]s: one marker type per kind of text argument, with core's input for it.
pub mod field {
    use super::Field;
    use xnonce_core::Input;

    macro_rules! fields {
        ($($(#[$doc:meta])* $name:ident => $input:ident, $arg:literal;)*) => {$(
            $(#[$doc])*
            pub struct $name;
            impl Field for $name {
                const INPUT: Input = Input::$input;
                const ARG: &'static str = $arg;
            }
        )*};
    }

    fields! {
        /// `scheme` (`"v1"` / `"v2"`).
        Scheme => Scheme, "scheme";
        /// One of a verifier's `schemes`.
        AcceptedScheme => AcceptedScheme, "scheme";
        /// One of a verifier's `hosts`.
        ServedHost => ServedHost, "host";
        /// An HTTP method.
        Method => Method, "method";
        /// A path.
        Path => Path, "path";
        /// A requester's controller.
        Controller => Controller, "controller";
        /// A request target (`/path?query`).
        Target => Target, "target";
        /// A client id.
        Client => Client, "client";
        /// A v2 nonce.
        Nonce => Nonce, "nonce";
        /// A host (authority).
        Host => Host, "host";
        /// A link's base URL.
        BaseUrl => BaseUrl, "base_url";
        /// A requester's server URL.
        ServerUrl => ServerUrl, "server";
        /// A `Requester` JSON body (`options["json"]`), as `json.dumps` wrote it.
        JsonBody => JsonBody, "options['json']";
        /// A body's `Content-Type`.
        ContentType => ContentType, "content_type";
        /// An `X-Nonce` header value.
        Header => Header, "header";
        /// The `X-Nonce` value a request carried, read back from it (`sent`).
        Sent => Header, "sent";
        /// An answer's `X-Nonce-Server-Time` value (`hint`).
        ServerTime => Header, "hint";
        /// An `ottoken`.
        Ottoken => Ottoken, "ottoken";
        /// A key of `controller_windows`: a controller.
        ControllerWindow => ControllerWindow, "a controller_windows key";
        /// A key of `action_windows` given as `"controller/action"`.
        ActionWindow => ActionWindow, "an action_windows key";
        /// The controller of an `action_windows` key given as `(controller, action)`.
        ActionWindowController => ActionWindowController, "an action_windows key's controller";
        /// The action of an `action_windows` key given as `(controller, action)`.
        ActionWindowAction => ActionWindowAction, "an action_windows key's action";
        /// A controller of a verifier's `routes`.
        RouteController => RouteController, "a routes controller";
        /// A route's `<action>_<method>` key in a verifier's `routes`.
        RouteKey => RouteKey, "a routes key";
        /// The param a route rule names.
        RouteParam => RouteParam, "a route rule's param";
        /// A route rule (`"req"`, `"opt"`, `"exc"`).
        RouteRule => RouteRule, "a route rule";
    }
}

/// A `str` argument of kind `F`, borrowed without copying (see [`utf8`]). Derefs to `&str`.
pub struct Text<'a, F: Field>(pub &'a str, PhantomData<F>);

impl<'a, 'py, F: Field> FromPyObject<'a, 'py> for Text<'a, F> {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        utf8(obj, F::INPUT, F::ARG).map(|s| Text(s, PhantomData))
    }
}

impl<F: Field> std::ops::Deref for Text<'_, F> {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

impl<F: Field> Text<'static, F> {
    /// A literal, for argument defaults.
    pub const fn lit(s: &'static str) -> Self {
        Text(s, PhantomData)
    }
}

/// A `str` argument that is part of a request a server received (its method, target and
/// header values, given to `Verifier.verify` and to the `Answer` constructors), kind `F`.
///
/// WSGI servers decode what the client sent with latin-1 or `surrogateescape`, so such text
/// may hold a lone surrogate: that is the client's doing, and the request is refused with
/// `F`'s code *and* the answer to send (400), never an exception the server cannot answer.
/// So the text is kept either way: borrowed when UTF-8 can encode it, else read lossily
/// (U+FFFD for each surrogate's bytes), which serves only to choose the refusal's style (an
/// `X-Nonce` starting `v2 `, an `ottoken` in the query) and is never verified. Any other type
/// is a `TypeError`, as for [`Text`].
pub struct Received<'a, F: Field> {
    text: std::borrow::Cow<'a, str>,
    well_formed: bool,
    kind: PhantomData<F>,
}

impl<'a, 'py, F: Field> FromPyObject<'a, 'py> for Received<'a, F> {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let mut ill_formed = false;
        let checked = utf8_or(obj, F::ARG, || {
            ill_formed = true;
            PyValueError::new_err(F::ARG)
        });
        let (text, well_formed) = match checked {
            Ok(text) => (std::borrow::Cow::Borrowed(text), true),
            Err(_) if ill_formed => {
                let lossy = obj.cast::<PyString>()?.to_string_lossy().into_owned();
                (std::borrow::Cow::Owned(lossy), false)
            }
            Err(e) => return Err(e),
        };
        Ok(Received {
            text,
            well_formed,
            kind: PhantomData,
        })
    }
}

impl<F: Field> Received<'_, F> {
    /// The text, to verify: `F`'s input's refusal (core's) when UTF-8 cannot encode it.
    pub fn checked(&self) -> xnonce_core::Result<&str> {
        match self.well_formed {
            true => Ok(&self.text),
            false => Err(F::INPUT.ill_formed()),
        }
    }

    /// The text, or its lossy reading: only to choose the style of a refusal.
    pub fn text_or_lossy(&self) -> &str {
        &self.text
    }
}

/// What a [`Setting`] argument is called in messages.
pub trait Named {
    /// How messages name the argument.
    const NAME: &'static str;
    /// The input of core's table the setting is, if any: text UTF-8 cannot encode is then
    /// named as core names that input (still a `ValueError`, without its code).
    const INPUT: Option<Input> = None;
}

/// The [`Named`] arguments: text that is no request input, so that no shared error code
/// names it.
pub mod named {
    use super::Named;

    macro_rules! named {
        ($($(#[$doc:meta])* $name:ident => $what:literal;)*) => {$(
            $(#[$doc])*
            pub struct $name;
            impl Named for $name {
                const NAME: &'static str = $what;
            }
        )*};
    }

    named! {
        /// A shared replay store's key prefix (`SharedKeys(prefix)`).
        Prefix => "prefix";
        /// A replay key (`SharedKeys.key(replay_key)`).
        ReplayKey => "replay_key";
        /// An error code (`error_from_code(code)`).
        Code => "code";
        /// An error's message (`error_from_code(code, message)`).
        Message => "message";
        /// A requester's starting clock offset (ms).
        ClockOffsetMs => "clock_offset_ms";
        /// The largest answer body a requester reads (bytes).
        MaxResponseBytes => "max_response_bytes";
        /// The body size limit of an `Answer.body_too_large` (bytes).
        Limit => "limit";
    }

    /// Certificate authorities to trust, as PEM text (`Requester(ca_pem=...)`): core's
    /// `Input::CaPem` (`invalid_body` in the bindings where it is coded).
    pub struct CaPem;
    impl Named for CaPem {
        const NAME: &'static str = "ca_pem";
        const INPUT: Option<xnonce_core::Input> = Some(xnonce_core::Input::CaPem);
    }
}

/// A `str` argument that is a setting or a helper's argument, not a request input (a store's
/// key prefix, an error code given to `error_from_code`): text that UTF-8 cannot encode is a
/// `ValueError`, as its other bad values are, with core's message naming the argument (never
/// its text); any other type a `TypeError`. Borrowed without copying; derefs to `&str`.
pub struct Setting<'a, N: Named>(pub &'a str, PhantomData<N>);

impl<'a, 'py, N: Named> FromPyObject<'a, 'py> for Setting<'a, N> {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        utf8_or(obj, N::NAME, || {
            // Core's one wording for it; the code is not shown (a ValueError has none).
            let e = match N::INPUT {
                Some(input) => input.ill_formed(),
                None => xnonce_core::Error::ill_formed_text(ErrorCode::InvalidParamValue, N::NAME),
            };
            PyValueError::new_err(e.message().to_owned())
        })
        .map(|s| Setting(s, PhantomData))
    }
}

impl<N: Named> std::ops::Deref for Setting<'_, N> {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

impl<N: Named> Setting<'static, N> {
    /// A literal, for argument defaults.
    pub const fn lit(s: &'static str) -> Self {
        Setting(s, PhantomData)
    }
}

/// The text of a `str` object, if it is one that UTF-8 can encode (errors are dropped).
pub fn try_str<'a>(s: &'a Bound<'_, PyAny>) -> Option<&'a str> {
    utf8_or(s.as_borrowed(), "text", || PyValueError::new_err("text")).ok()
}

/// The text of a `str` object of kind `F` (zero-copy).
pub fn text<'a, F: Field>(s: &'a Bound<'_, PyAny>) -> PyResult<&'a str> {
    utf8(s.as_borrowed(), F::INPUT, F::ARG)
}

/// A secret as a caller passes it: a `str`, or an `xnonce.Secret` holding one already checked.
/// Turned into a core [`Secret`] by [`SecretArg::secret`], where the signer checks it.
pub enum SecretArg<'a> {
    /// A `str`, not yet checked.
    Text(&'a str),
    /// The secret inside an `xnonce.Secret`.
    Native(Secret),
}

impl<'a, 'py> FromPyObject<'a, 'py> for SecretArg<'a> {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        SecretArg::of(obj, Input::Secret)
    }
}

impl<'a> SecretArg<'a> {
    /// The secret `obj`, a `str` refused as `input` when UTF-8 cannot encode it (the secret
    /// to sign with, or one of a verifier's secrets).
    pub fn of(obj: Borrowed<'a, '_, PyAny>, input: Input) -> PyResult<Self> {
        if let Ok(s) = obj.cast::<PySecret>() {
            return Ok(SecretArg::Native(s.get().inner.clone()));
        }
        if !obj.is_instance_of::<PyString>() {
            return Err(PyTypeError::new_err(format!(
                "secret must be str or xnonce.Secret, not {}",
                type_name(&obj)
            )));
        }
        utf8(obj, input, "secret").map(SecretArg::Text)
    }
}

impl SecretArg<'_> {
    /// The core secret (`invalid_secret` on empty/whitespace/too long).
    pub fn secret(&self) -> PyResult<Secret> {
        match self {
            SecretArg::Text(s) => secret(s),
            SecretArg::Native(s) => Ok(s.clone()),
        }
    }
}

/// A client secret held by the extension, so that Python objects (auth adapters, config)
/// never keep it as a plain `str`: `repr`, `str`, `vars()` of its holder show no secret.
/// Accepted wherever a secret is.
#[pyclass(frozen, module = "xnonce", name = "Secret")]
pub struct PySecret {
    inner: Secret,
}

impl From<Secret> for PySecret {
    fn from(inner: Secret) -> PySecret {
        PySecret { inner }
    }
}

#[pymethods]
impl PySecret {
    /// Checks the text (`invalid_secret` when empty, whitespace or too long) and keeps it.
    #[new]
    fn new(secret: SecretArg<'_>) -> PyResult<Self> {
        Ok(PySecret {
            inner: secret.secret()?,
        })
    }

    fn __repr__(&self) -> &'static str {
        "Secret(<redacted>)"
    }

    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err("an xnonce.Secret cannot be pickled"))
    }
}

/// `"v1"` / `"v2"` → [`Scheme`] (`unsupported_scheme` otherwise).
pub fn scheme(s: &str) -> PyResult<Scheme> {
    s.parse().py_err()
}

/// A secret's text → [`Secret`] (`invalid_secret` on empty/whitespace/too long).
pub fn secret(s: &str) -> PyResult<Secret> {
    Secret::new(s).py_err()
}

/// How errors name an argument read as pairs: the argument (`params`), one of its keys or
/// values (`parameter key`), and core's inputs for its keys and values (which name a key or
/// value that UTF-8 cannot encode, as every binding does: `a param key`, `param "user"`).
#[derive(Clone, Copy)]
pub struct PairsName {
    /// The argument as a whole.
    pub whole: &'static str,
    /// What its entries hold, before `key` / `value`.
    pub item: &'static str,
    /// Its keys and values, as core's table has them ([`Pairs::PARAMS`]).
    pub inputs: Pairs,
}

/// Params, as every signing and request function takes them.
pub const PARAMS: PairsName = PairsName {
    whole: "params",
    item: "parameter",
    inputs: Pairs::PARAMS,
};

/// One parameter value → text: `bool` first (it is an `int` subclass), then `int`, `float`,
/// `str`. Bytes, `None`, containers and every other type are `invalid_param_value`. A `str`
/// that UTF-8 cannot encode is named by its `key`.
fn value_text(key: &str, v: &Bound<'_, PyAny>, name: PairsName) -> PyResult<String> {
    let item = name.item;
    if v.is_instance_of::<PyString>() {
        let text = utf8_or(v.as_borrowed(), "value", || {
            to_py(name.inputs.value.ill_formed_value(key))
        })?;
        return Ok(text.to_owned());
    }
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(params::text_from_bool(b.is_true()).to_owned());
    }
    if v.is_instance_of::<PyInt>() {
        let n = int_i128(v)?.ok_or_else(|| {
            coded(
                ErrorCode::InvalidParamValue,
                format!("integer {item} value does not fit in 128 bits"),
            )
        })?;
        return Ok(params::text_from_i128(n));
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        return params::text_from_f64(f.value()).py_err();
    }
    let kind = type_name(v);
    Err(coded(
        ErrorCode::InvalidParamValue,
        format!("{item} values must be str, int, float or bool, not {kind}"),
    ))
}

/// The value of an `int` (a subclass included) as an `i128`, `None` beyond 128 bits; read
/// from the `int` itself, as for 64 bits: an `int` subclass's operators (`__rshift__`, which
/// pyo3's 128-bit extraction calls under the stable ABI) are never asked, so that a subclass
/// cannot make a value read as another number (or run code while params are read).
fn int_i128(v: &Bound<'_, PyAny>) -> PyResult<Option<i128>> {
    // i64 first: the common case, and a single C call under the stable ABI.
    if let Ok(n) = v.extract::<i64>() {
        return Ok(Some(n.into()));
    }
    let exact = if v.is_exact_instance_of::<PyInt>() {
        v.clone()
    } else {
        // `int.__index__` (CPython's C slot, not the subclass's): an exact `int` copy.
        v.py()
            .get_type::<PyInt>()
            .getattr(pyo3::intern!(v.py(), "__index__"))?
            .call1((v,))?
    };
    Ok(exact.extract::<i128>().ok())
}

fn key_text(k: &Bound<'_, PyAny>, name: PairsName) -> PyResult<String> {
    let item = name.item;
    if !k.is_instance_of::<PyString>() {
        return Err(coded(
            ErrorCode::InvalidParamKey,
            format!("{item} keys must be str"),
        ));
    }
    Ok(utf8(k.as_borrowed(), name.inputs.key, "key")?.to_owned())
}

/// Params: `None`, a mapping (its iteration order is kept) or an iterable of `(key, value)`
/// pairs. Order is kept exactly (v1 signs it; v2 sorts inside core).
pub fn params(p: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(String, String)>> {
    pairs_named(p, PARAMS)
}

/// [`params()`] for an argument that errors name as `name` (`options['headers']`): the same
/// shapes, keys and values.
pub fn pairs_named(
    p: Option<&Bound<'_, PyAny>>,
    name: PairsName,
) -> PyResult<Vec<(String, String)>> {
    let what = name.whole;
    let Some(p) = p.filter(|p| !p.is_none()) else {
        return Ok(Vec::new());
    };
    // Exactly `dict`, `list`, `tuple`: read from their storage. A subclass may iterate in
    // another order (`OrderedDict.move_to_end`, an overridden `__iter__`/`items`), which is
    // the order an HTTP library sends (PROTOCOL §3.6), so it goes through `.items()`/iter.
    if let Ok(d) = p.cast_exact::<PyDict>() {
        // The items first, then their text: reading one allocates Python objects (an int
        // beyond 64 bits), an allocation may run the caller's code (a `gc` callback, a
        // finalizer), and pyo3's dict iterator panics when that code resizes the dict. The
        // params are read as they were when the call was made.
        let items: Vec<_> = d.iter().collect();
        let mut out = Vec::with_capacity(items.len());
        for (k, v) in items {
            let key = key_text(&k, name)?;
            let value = value_text(&key, &v, name)?;
            out.push((key, value));
        }
        return Ok(out);
    }
    // Lists and tuples of pairs: the common shapes, iterated without attribute probes.
    if let Ok(l) = p.cast_exact::<PyList>() {
        return pairs(l.iter(), name);
    }
    if let Ok(t) = p.cast_exact::<PyTuple>() {
        return pairs(t.iter(), name);
    }
    if is_text(p) {
        return Err(coded(
            ErrorCode::InvalidParamValue,
            format!("{what} must be a mapping or a sequence of (key, value) pairs, not text"),
        ));
    }
    // Any other mapping (`Mapping.items()`), else any iterable of pairs.
    let items = if p.hasattr("items")? && p.hasattr("keys")? {
        p.call_method0("items")?
    } else {
        p.clone()
    };
    let items = items.try_iter().map_err(|_| not_pairs(what))?;
    pairs(items.collect::<PyResult<Vec<_>>>()?.into_iter(), name)
}

/// `str`, `bytes` or `bytearray`: sequences, but never of (key, value) pairs — a two-character
/// string must not read as one pair.
fn is_text(obj: &Bound<'_, PyAny>) -> bool {
    obj.is_instance_of::<PyString>()
        || obj.is_instance_of::<PyBytes>()
        || obj.is_instance_of::<PyByteArray>()
}

fn not_pairs(what: &str) -> PyErr {
    coded(
        ErrorCode::InvalidParamValue,
        format!("{what} must be a mapping or a sequence of (key, value) pairs"),
    )
}

/// The items of a sequence of pairs: each a `tuple` or `list` of exactly two items (key,
/// value), as the README documents. Anything else — a dict, a set, a string, a sequence of
/// another length — is `invalid_param_value` naming the entry, as in Node and WASM: a
/// `{0: k, 1: v}` must not read as the pair (k, v), nor a set in its arbitrary order.
fn pairs<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    name: PairsName,
) -> PyResult<Vec<(String, String)>> {
    let what = name.whole;
    let mut out = Vec::with_capacity(items.size_hint().0);
    for (i, item) in items.enumerate() {
        let (key, value) = if let Ok(t) = item.cast::<PyTuple>() {
            match t.len() {
                2 => (t.get_item(0)?, t.get_item(1)?),
                _ => return Err(not_a_pair(what, i)),
            }
        } else if let Ok(l) = item.cast::<PyList>() {
            match l.len() {
                2 => (l.get_item(0)?, l.get_item(1)?),
                _ => return Err(not_a_pair(what, i)),
            }
        } else {
            return Err(not_a_pair(what, i));
        };
        let key = key_text(&key, name)?;
        let value = value_text(&key, &value, name)?;
        out.push((key, value));
    }
    Ok(out)
}

fn not_a_pair(what: &str, i: usize) -> PyErr {
    coded(
        ErrorCode::InvalidParamValue,
        format!("{what} entry {i} is not a (key, value) pair (a tuple or list of two)"),
    )
}

/// A body: `str` as its UTF-8 bytes; `bytes`, `bytearray` and every other bytes-like object
/// (one with the buffer protocol: `memoryview`, `array.array`, `mmap`, ...) as its bytes, as
/// `hashlib` reads them (a buffer of items wider than a byte gives their bytes in the
/// machine's order). `None` is no body; any other type is a `TypeError`.
pub fn body(b: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<u8>>> {
    let Some(b) = b.filter(|b| !b.is_none()) else {
        return Ok(None);
    };
    if let Ok(bytes) = b.cast::<PyBytes>() {
        return Ok(Some(bytes.as_bytes().to_vec()));
    }
    if let Ok(ba) = b.cast::<PyByteArray>() {
        return Ok(Some(ba.to_vec()));
    }
    if b.is_instance_of::<PyString>() {
        return Ok(Some(
            utf8(b.as_borrowed(), Input::Body, "body")?
                .as_bytes()
                .to_vec(),
        ));
    }
    // Any other buffer through a memoryview (the limited API has no direct buffer access):
    // `tobytes()` copies it in C order, contiguous or not.
    match PyMemoryView::from(b) {
        Ok(view) => {
            let copy = view.call_method0("tobytes")?;
            Ok(Some(copy.cast_into::<PyBytes>()?.as_bytes().to_vec()))
        }
        // No buffer at all: a wrong type, as for every other argument (README "Python's own
        // exceptions").
        Err(e) if e.is_instance_of::<PyTypeError>(b.py()) => Err(PyTypeError::new_err(format!(
            "body must be bytes, str or another bytes-like object, not {}",
            type_name(b)
        ))),
        // A buffer that cannot be read (a released memoryview): Python's own error.
        Err(e) => Err(e),
    }
}

/// A millisecond timestamp argument (`timestamp`, `now`, `options["timestamp"]`): a Python
/// `int` in `0..=2^53-1` by core's rule for integer timestamps. Every other number is the same
/// `invalid_timestamp` `InputError`: ints out of range (beyond 64 bits included), every
/// `float` (even an integral one: in Python a timestamp is an `int`; NaN too) and `bool`
/// (an `int` subclass, but `True` is no timestamp). A value that is not a number at all stays
/// a `TypeError`.
#[derive(Clone, Copy)]
pub struct Millis(pub u64);

impl<'a, 'py> FromPyObject<'a, 'py> for Millis {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if obj.is_instance_of::<PyBool>() || obj.is_instance_of::<PyFloat>() {
            return Err(to_py(xnonce_core::header::invalid_timestamp()));
        }
        let ms = match obj.extract::<i64>() {
            Ok(t) => i128::from(t),
            Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => i128::MAX,
            Err(e) => return Err(e),
        };
        xnonce_core::header::timestamp_from_i128(ms)
            .map(Millis)
            .py_err()
    }
}

/// What reading a number setting failed with: a `TypeError` saying `not_a_number()` when the
/// value is no number (pyo3's own `TypeError`), anything else reading it raised
/// (KeyboardInterrupt, an `__index__`'s own error) as is.
pub fn read_failure(e: PyErr, py: Python<'_>, not_a_number: impl FnOnce() -> String) -> PyErr {
    if e.is_instance_of::<PyTypeError>(py) {
        PyTypeError::new_err(not_a_number())
    } else {
        e
    }
}

/// A verifier's window (`window_ms`, the values of `controller_windows` and `action_windows`):
/// a Python `int` in `0..=86_400_000` (one day) by core's `window::window_from_i128`, else
/// `invalid_timestamp` (ints beyond 64 bits included), as every binding refuses it. A `bool`
/// (an `int` subclass, but `True` is no window), a `float` or any other type is a `TypeError`.
#[derive(Clone, Copy)]
pub struct Window(pub u64);

impl<'a, 'py> FromPyObject<'a, 'py> for Window {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let not_int = || {
            format!(
                "a window must be an int (milliseconds), not {}",
                type_name(&obj)
            )
        };
        if obj.is_instance_of::<PyBool>() || obj.is_instance_of::<PyFloat>() {
            return Err(PyTypeError::new_err(not_int()));
        }
        let ms = match obj.extract::<i64>() {
            Ok(ms) => i128::from(ms),
            // Beyond 64 bits either way: out of range.
            Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => i128::MAX,
            Err(e) => return Err(read_failure(e, obj.py(), not_int)),
        };
        xnonce_core::window::window_from_i128(ms)
            .map(Window)
            .py_err()
    }
}

/// An integer setting (`clock_offset_ms`, `max_response_bytes`, an `Answer`'s byte limit):
/// a Python `int` (or an object with `__index__`) within `T`'s range. A `bool` is refused
/// with a `TypeError` (an `int` subclass, but `True` is no number of bytes), as is any other
/// type; an `int` out of range is a `ValueError` (never an `OverflowError`), as for every bad
/// setting.
pub struct IntSetting<T, N: Named>(pub T, PhantomData<N>);

impl<T, N: Named> IntSetting<T, N> {
    /// A literal, for argument defaults.
    pub const fn lit(value: T) -> Self {
        IntSetting(value, PhantomData)
    }
}

/// The range of an [`IntSetting`], for its messages.
pub trait IntRange: TryFrom<i128> + Copy {
    /// How messages give the range.
    const RANGE: &'static str;
}

impl IntRange for i64 {
    const RANGE: &'static str = "-2**63..=2**63-1";
}

impl IntRange for u64 {
    const RANGE: &'static str = "0..=2**64-1";
}

impl<'a, 'py, T: IntRange, N: Named> FromPyObject<'a, 'py> for IntSetting<T, N> {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let out_of_range =
            || PyValueError::new_err(format!("{} must be an int in {}", N::NAME, T::RANGE));
        if obj.is_instance_of::<PyBool>() {
            return Err(PyTypeError::new_err(format!(
                "{} must be an int, not bool",
                N::NAME
            )));
        }
        // i64 first: it takes `__index__` objects under the stable ABI, where i128 does not.
        let n: i128 = match obj.extract::<i64>() {
            Ok(n) => n.into(),
            Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => {
                let n = match obj.is_instance_of::<PyInt>() {
                    true => int_i128(&obj.to_owned())?,
                    false => obj.extract::<i128>().ok(),
                };
                n.ok_or_else(out_of_range)?
            }
            Err(e) => {
                return Err(read_failure(e, obj.py(), || {
                    format!("{} must be an int, not {}", N::NAME, type_name(&obj))
                }))
            }
        };
        T::try_from(n)
            .map(|v| IntSetting(v, PhantomData))
            .map_err(|_| out_of_range())
    }
}

/// The milliseconds of an optional [`Millis`] argument.
pub fn millis(t: Option<Millis>) -> Option<u64> {
    t.map(|Millis(ms)| ms)
}
