//! JavaScript values to core inputs: params (pairs, any iterable of pairs, plain object), options
//! (`timestamp`, `nonce`, `host`, `body`; `null` and absent alike) and the text arguments,
//! each of which must be a string (a `TypeError` otherwise) holding well-formed text (a lone
//! surrogate is refused as core's [`Input`] table says of the field: its code and its name).
//!
//! Native values become text only through core's `params::text_from_*` functions.

use js_sys::{Array, JsString, Object, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use xnonce_core::{input, params, ErrorCode, Input, Scheme, SignInput};
use zeroize::Zeroize;

use crate::error::{coded, wrong_type, JsResult, XNonceError};

/// A required text argument `arg` (its JS name, for the `TypeError`), the field `input`:
/// anything but a JS string is a `TypeError` (a wrong JS type, as in the Node and Python
/// packages); a string that is not well-formed is `input`'s refusal (see [`well_formed`]).
pub fn text(value: &JsValue, arg: &str, input: Input) -> JsResult<String> {
    let text = value
        .as_string()
        .ok_or_else(|| wrong_type(arg, "a string", value))?;
    well_formed(value, text, || input.ill_formed())
}

/// `text`, read from the JS string `value`, when that string was well-formed UTF-16; else
/// `ill_formed()`, core's refusal of the field (PROTOCOL §3.6: text that is not valid Unicode
/// cannot be signed). wasm-bindgen reads a lone surrogate (`'\ud800'`) as U+FFFD, which would
/// sign text the caller never passed (a different secret, even); so a string holding U+FFFD —
/// only such a string: the common case costs one scan — is checked unit by unit. The message
/// never shows the text, and a refused text is zeroized (it may be the secret).
fn well_formed(
    value: &JsValue,
    mut text: String,
    ill_formed: impl FnOnce() -> xnonce_core::Error,
) -> JsResult<String> {
    if text.contains('\u{FFFD}') && !value.unchecked_ref::<JsString>().is_valid_utf16() {
        text.zeroize();
        return Err(ill_formed().into());
    }
    Ok(text)
}

/// A text argument `arg` read only to be compared, never signed: `None` when the string is
/// not well-formed (a lone surrogate, which no header value holds), where [`text`] refuses it.
/// Anything but a JS string is a `TypeError`.
pub fn text_if_well_formed(value: &JsValue, arg: &str) -> JsResult<Option<String>> {
    let text = value
        .as_string()
        .ok_or_else(|| wrong_type(arg, "a string", value))?;
    let ill_formed =
        text.contains('\u{FFFD}') && !value.unchecked_ref::<JsString>().is_valid_utf16();
    Ok((!ill_formed).then_some(text))
}

/// `"v1"` / `"v2"` (core's parser; `unsupported_scheme` otherwise).
pub fn scheme(value: &JsValue) -> JsResult<Scheme> {
    let s = text(value, "scheme", Input::Scheme)?;
    Ok(s.parse::<Scheme>()?)
}

/// A parameter key: a JS string (`invalid_param_key` otherwise, a key of another type
/// included, as in the Node and Python packages, with the Node package's message).
fn key_text(key: &JsValue) -> JsResult<String> {
    let text = key
        .as_string()
        .ok_or_else(|| XNonceError::from(Input::ParamKey.js_key_not_a_string()))?;
    well_formed(key, text, || Input::ParamKey.ill_formed())
}

/// A parameter value, of the parameter `key`: string as is; boolean, number and bigint through
/// core's text rules; anything else (null, undefined, objects, arrays, bytes, symbols) is
/// `invalid_param_value`. A string that is not well-formed is named by its key, as core does;
/// so is a value of another type, with the Node package's message.
fn value_text(key: &str, value: &JsValue) -> JsResult<String> {
    if let Some(s) = value.as_string() {
        return well_formed(value, s, || Input::ParamValue.ill_formed_value(key));
    }
    if let Some(b) = value.as_bool() {
        return Ok(params::text_from_bool(b).to_string());
    }
    if let Some(n) = value.as_f64() {
        return Ok(params::text_from_f64(n)?);
    }
    if value.is_bigint() {
        return i128::try_from(value.clone())
            .map(params::text_from_i128)
            .map_err(|_| Input::ParamValue.js_bigint_out_of_range(key).into());
    }
    Err(Input::ParamValue
        .js_value_of_wrong_type(key, value_type(value))
        .into())
}

/// How a refused param value's type is named (the Node package's words): never the value.
fn value_type(value: &JsValue) -> &'static str {
    if value.is_undefined() {
        "undefined"
    } else if value.is_null() {
        "null"
    } else if value.is_symbol() {
        "a symbol"
    } else if value.is_function() {
        "a function"
    } else if value.is_object() {
        "an object"
    } else {
        "this type"
    }
}

fn is_plain_object(value: &JsValue) -> JsResult<bool> {
    if !value.is_object() || value.is_function() {
        return Ok(false);
    }
    let proto = prototype_of(value)?;
    Ok(proto.is_null() || proto == JsValue::from(Object::get_prototype_of(&Object::new())))
}

// Every JS call below that can run the caller's code (a getter, an iterator, a Proxy trap,
// a detached buffer's constructor) is a `catch` import or `Reflect`: a JS exception must never
// unwind this module's frames, which would run no Rust destructor and leave the shadow stack
// pointer lowered (after a thousand such throws every call traps) and the call's heap, the
// secret's copy among it, never freed nor zeroized.
#[wasm_bindgen]
extern "C" {
    /// `Array.from(value)`; a throw of the caller's iterator comes back as `Err`.
    #[wasm_bindgen(js_namespace = Array, js_name = from, catch)]
    fn array_from(value: &JsValue) -> Result<Array, JsValue>;
    /// `Array.isArray(value)`; a revoked Proxy's throw comes back as `Err`.
    #[wasm_bindgen(js_namespace = Array, js_name = isArray, catch)]
    fn array_is_array(value: &JsValue) -> Result<bool, JsValue>;
    /// `Object.entries(value)`; a throw of the caller's getter comes back as `Err`.
    #[wasm_bindgen(js_namespace = Object, js_name = entries, catch)]
    fn object_entries(value: &JsValue) -> Result<Array, JsValue>;
    /// `Object.keys(value)`; a throw of a Proxy's trap comes back as `Err`.
    #[wasm_bindgen(js_namespace = Object, js_name = keys, catch)]
    fn object_keys(value: &JsValue) -> Result<Array, JsValue>;
    /// `Object.getPrototypeOf(value)`; a throw of a Proxy's trap comes back as `Err`.
    #[wasm_bindgen(js_namespace = Object, js_name = getPrototypeOf, catch)]
    fn object_prototype_of(value: &JsValue) -> Result<JsValue, JsValue>;
    /// `new Uint8Array(buffer)`; a detached `ArrayBuffer`'s `TypeError` comes back as `Err`.
    #[wasm_bindgen(js_namespace = Reflect, js_name = construct, catch)]
    fn construct(target: &JsValue, args: &Array) -> Result<Uint8Array, JsValue>;
}

fn is_array(value: &JsValue) -> JsResult<bool> {
    array_is_array(value).map_err(XNonceError::Thrown)
}

fn prototype_of(value: &JsValue) -> JsResult<JsValue> {
    object_prototype_of(value).map_err(XNonceError::Thrown)
}

/// `target[key]`; a throw of the caller's getter (or Proxy) reaches the caller as it is.
fn get(target: &JsValue, key: &JsValue) -> JsResult<JsValue> {
    js_sys::Reflect::get(target, key).map_err(XNonceError::Thrown)
}

/// `target[index]`, as [`get`].
fn at(target: &JsValue, index: u32) -> JsResult<JsValue> {
    js_sys::Reflect::get_u32(target, index).map_err(XNonceError::Thrown)
}

/// An array (to `Array.isArray`: a Proxy of an array is one) and its `length`, read through
/// [`get`]. A real array's `length` is a number; a Proxy's trap may answer anything (`"2"`):
/// such a Proxy is read as a copy, `Array.from(array)` (its length through ToLength), as the
/// Node package reads a Proxy of an array. Taken as 0, its entries would be left out: params
/// signed as none, silently, where `sign`'s fast path and the Node package sign them.
fn array_and_length(array: &JsValue) -> JsResult<(JsValue, u32)> {
    if let Some(n) = get(array, &"length".into())?.as_f64() {
        return Ok((array.clone(), n as u32));
    }
    let copy = array_from(array).map_err(XNonceError::Thrown)?;
    let n = copy.length();
    Ok((copy.into(), n))
}

/// Whether the object `value` has a `Symbol.iterator` method (as the Node package asks:
/// a value that is not a function there does not make it iterable).
fn is_iterable(value: &JsValue) -> JsResult<bool> {
    let method =
        js_sys::Reflect::get(value, &js_sys::Symbol::iterator()).map_err(XNonceError::Thrown)?;
    Ok(method.is_function())
}

/// Params as ordered pairs: an array of `[key, value]` pairs, any other iterable of pairs
/// (`Map`, `URLSearchParams`, a generator, any object with a `Symbol.iterator` method, plain
/// or not) in iteration order, or a plain object (no `Symbol.iterator`) in property order;
/// `undefined` / `null` mean no params. Other objects (class instances, `Date`, ...) are
/// refused rather than read as records. The iterator is asked first: `Object.entries`
/// ignores symbol keys, so an iterable plain object read as a record would silently lose
/// its params. A throw of the caller's iterator or getter reaches the caller unchanged.
pub fn params(value: &JsValue) -> JsResult<Vec<(String, String)>> {
    if value.is_null_or_undefined() {
        return Ok(Vec::new());
    }
    let pairs = if is_array(value)? {
        value.clone().unchecked_into::<Array>()
    } else if value.is_object() && is_iterable(value)? {
        array_from(value).map_err(XNonceError::Thrown)?
    } else if is_plain_object(value)? {
        object_entries(value).map_err(XNonceError::Thrown)?
    } else {
        return Err(input::js_not_pairs(ErrorCode::InvalidParamValue).into());
    };
    let (pairs, count) = array_and_length(&pairs)?;
    // Not reserved by `length`: a sparse array's (`new Array(2 ** 32 - 1)`) is no measure of
    // what it holds, and reserving room for 4 billion pairs aborts the module (a trap,
    // `RuntimeError: unreachable`) before its first hole is refused.
    let mut out = Vec::new();
    for i in 0..count {
        let pair = at(&pairs, i)?;
        let (pair, len) = if is_array(&pair)? {
            array_and_length(&pair)?
        } else {
            (pair, 0)
        };
        if len != 2 {
            return Err(input::js_entry_not_a_pair(ErrorCode::InvalidParamValue, i).into());
        }
        let key = key_text(&at(&pair, 0)?)?;
        let value = value_text(&key, &at(&pair, 1)?)?;
        out.push((key, value));
    }
    Ok(out)
}

/// The option `name` of `options`, read once (a getter's throw reaching the caller as it
/// is); `null` and `undefined` are `None`.
fn option(options: &JsValue, name: &str) -> JsResult<Option<JsValue>> {
    let value = get(options, &name.into())?;
    Ok((!value.is_null_or_undefined()).then_some(value))
}

/// A timestamp: a safe non-negative integer number or a bigint (ms since the epoch), by
/// core's rules for JS timestamps (`invalid_timestamp` outside `0..=2^53-1`); any other type
/// (a string, a boolean, a `Date`) is a `TypeError`.
fn timestamp(value: &JsValue) -> JsResult<u64> {
    if let Some(n) = value.as_f64() {
        return Ok(xnonce_core::header::timestamp_from_f64(n)?);
    }
    if value.is_bigint() {
        // A bigint beyond i128 is out of range like any above 2^53 - 1.
        let ms = i128::try_from(value.clone()).unwrap_or(i128::MAX);
        return Ok(xnonce_core::header::timestamp_from_i128(ms)?);
    }
    Err(wrong_type("timestamp", "a number or a bigint", value))
}

/// The getter of `key` on `proto` (an intrinsic's: present in every engine; were it not, the
/// call of `undefined` fails, as a `catch` call, and the body is refused).
fn intrinsic_getter(proto: &Object, key: &JsValue) -> js_sys::Function {
    let descriptor = Object::get_own_property_descriptor(proto, key);
    js_sys::Reflect::get(&descriptor, &"get".into())
        .unwrap_or(JsValue::UNDEFINED)
        .unchecked_into()
}

thread_local! {
    /// `%TypedArray%.prototype[Symbol.toStringTag]`'s getter and `ArrayBuffer.prototype
    /// .byteLength`'s. They read a value's internal slots, so they know a Uint8Array (a
    /// `Buffer`, a subclass) and an ArrayBuffer of any realm — a `vm` context's, Jest's test
    /// code's (where Node's own `Buffer` and `TextEncoder` make another realm's), another
    /// frame's — as the Node package does, and nothing else (a Proxy, an object claiming the
    /// name). `instanceof` knows only this realm's.
    static BYTES_GETTERS: (js_sys::Function, js_sys::Function) = {
        let uint8_proto = Object::get_prototype_of(&Uint8Array::new_with_length(0));
        let typed_array_proto = Object::get_prototype_of(&uint8_proto);
        let buffer_proto = Object::get_prototype_of(&js_sys::ArrayBuffer::new(0));
        (
            intrinsic_getter(&typed_array_proto, &js_sys::Symbol::to_string_tag().into()),
            intrinsic_getter(&buffer_proto, &"byteLength".into()),
        )
    };
}

/// Whether `value` is a Uint8Array or an ArrayBuffer, of any realm (see [`BYTES_GETTERS`]).
fn is_bytes(value: &JsValue) -> bool {
    BYTES_GETTERS.with(|(tag, byte_length)| {
        tag.call0(value).ok().and_then(|t| t.as_string()).as_deref() == Some("Uint8Array")
            // It throws for anything but an ArrayBuffer (a SharedArrayBuffer included).
            || byte_length.call0(value).is_ok()
    })
}

/// A body: `Uint8Array`, `ArrayBuffer` (of any realm) or a string (sent as UTF-8); another
/// type is a `TypeError`.
pub(crate) fn body(value: &JsValue) -> JsResult<Vec<u8>> {
    if let Some(s) = value.as_string() {
        return Ok(well_formed(value, s, || Input::Body.ill_formed())?.into_bytes());
    }
    if is_bytes(value) {
        // `new Uint8Array(value)`: of a view, a copy of its true bytes (`to_vec` would ask the
        // view for its `length`, which a subclass can redefine: fewer bytes, a signature over
        // part of the body, or a RangeError from the copy); of an ArrayBuffer, a view of it.
        // Of a detached buffer or a view of one, its TypeError, as on sign's fast path; made
        // by a `catch` import, as a throw must never unwind this module's frames.
        let ctor = Uint8Array::new_with_length(0).constructor();
        let bytes = construct(&ctor, &Array::of1(value)).map_err(XNonceError::Thrown)?;
        return copy_bytes(&bytes);
    }
    Err(wrong_type(
        "body",
        "a Uint8Array, an ArrayBuffer or a string",
        value,
    ))
}

/// The bytes of the fresh `Uint8Array` `bytes`, copied into this module's memory; a body it
/// cannot hold (a `Vec` on wasm32 holds at most 2 GiB - 1 bytes, and the memory at most 4 GiB)
/// is `invalid_body`, never an abort (a trap, `RuntimeError: unreachable`). Its `length` is
/// read as a number: `length()` is a `u32`, 0 for a body of 4 GiB, which the copy then
/// overruns (a RangeError thrown through this module's frames).
fn copy_bytes(bytes: &Uint8Array) -> JsResult<Vec<u8>> {
    let len = get(bytes, &"length".into())?.as_f64().unwrap_or(0.0);
    let mut out = Vec::new();
    if len > isize::MAX as f64 || out.try_reserve_exact(len as usize).is_err() {
        return Err(coded(
            ErrorCode::InvalidBody,
            format!("the body ({len} bytes) is more than xnonce-wasm's memory can hold"),
        ));
    }
    out.resize(len as usize, 0);
    bytes.copy_to(&mut out);
    Ok(out)
}

/// The keys of `SignOptions`.
const SIGN_OPTION_KEYS: &[&str] = &["timestamp", "nonce", "host", "body"];

/// The keys of `RequestParts`.
const REQUEST_PART_KEYS: &[&str] = &["host", "contentType", "body", "timestamp", "nonce"];

/// `options` when given (`null` and `undefined` are `None`), checked to be a plain object of
/// options whose every enumerable key (own or inherited, as the options are read) is one of
/// `keys`: an iterable or an unknown key is a `TypeError` with `code`
/// `ERR_INVALID_ARG_VALUE`, as in the Node package.
fn checked_options<'a>(
    options: Option<&'a JsValue>,
    argument: &'static str,
    keys: &[&str],
) -> JsResult<Option<&'a JsValue>> {
    let Some(options) = options.filter(|o| !o.is_undefined() && !o.is_null()) else {
        return Ok(None);
    };
    if !options.is_object() {
        return Err(XNonceError::Type(format!("{argument} must be an object")));
    }
    // A Map, a Set or an array holds no option keys of its own: read as options, it would
    // be signed without them, silently (the Node package refuses it alike).
    if is_iterable(options)? {
        return Err(XNonceError::InvalidArgValue {
            argument,
            why: "an object of options, not an iterable (a Map, a Set, an array)".into(),
        });
    }
    // A misspelt key (`timeStamp`, `Host`) would be signed without, silently. The keys are
    // the enumerable ones, own or inherited (`for…in`), as the options are read.
    let mut level: JsValue = options.clone();
    while level.is_object() {
        let object = &level;
        for key in object_keys(object).map_err(XNonceError::Thrown)?.iter() {
            let key = key.as_string().unwrap_or_default();
            if !keys.contains(&key.as_str()) {
                return Err(XNonceError::InvalidArgValue {
                    argument,
                    why: format!("unknown option {key:?} (known: {})", keys.join(", ")),
                });
            }
        }
        level = prototype_of(&level)?;
    }
    Ok(Some(options))
}

/// The optional parts of a request `signRequest` reads (`RequestParts`).
#[derive(Default)]
pub struct RequestParts {
    /// `host`: the `Host` sent.
    pub host: Option<String>,
    /// `contentType`: the `Content-Type` sent.
    pub content_type: Option<String>,
    /// `body`: the body sent (empty when none).
    pub body: Vec<u8>,
    /// `timestamp` (ms; `None`: the clock).
    pub timestamp_ms: Option<u64>,
    /// `nonce` (v2; `None`: a random one).
    pub nonce: Option<String>,
}

/// The `parts` argument of `signRequest`, read in the order of [`REQUEST_PART_KEYS`].
pub fn request_parts(parts: Option<&JsValue>) -> JsResult<RequestParts> {
    let mut out = RequestParts::default();
    let Some(parts) = checked_options(parts, "parts", REQUEST_PART_KEYS)? else {
        return Ok(out);
    };
    if let Some(host) = option(parts, "host")? {
        out.host = Some(text(&host, "host", Input::Host)?);
    }
    if let Some(ct) = option(parts, "contentType")? {
        out.content_type = Some(text(&ct, "contentType", Input::ContentType)?);
    }
    if let Some(b) = option(parts, "body")? {
        out.body = body(&b)?;
    }
    if let Some(ts) = option(parts, "timestamp")? {
        out.timestamp_ms = Some(timestamp(&ts)?);
    }
    if let Some(nonce) = option(parts, "nonce")? {
        out.nonce = Some(text(&nonce, "nonce", Input::Nonce)?);
    }
    Ok(out)
}

/// The core input from the positional arguments and the options object (an iterable or an
/// unknown key is a `TypeError` with `code` `ERR_INVALID_ARG_VALUE`, as in the Node package).
pub fn sign_input(
    scheme_v: &JsValue,
    method: &JsValue,
    path: &JsValue,
    params_v: &JsValue,
    client: &JsValue,
    options: Option<&JsValue>,
) -> JsResult<SignInput> {
    let mut input = SignInput::new(
        scheme(scheme_v)?,
        text(method, "method", Input::Method)?,
        text(path, "path", Input::Path)?,
        text(client, "client", Input::Client)?,
    );
    input.params = params(params_v)?;
    let Some(options) = checked_options(options, "options", SIGN_OPTION_KEYS)? else {
        return Ok(input);
    };
    if let Some(ts) = option(options, "timestamp")? {
        input.timestamp_ms = Some(timestamp(&ts)?);
    }
    if let Some(nonce) = option(options, "nonce")? {
        input.nonce = Some(text(&nonce, "nonce", Input::Nonce)?);
    }
    if let Some(host) = option(options, "host")? {
        input.host = Some(text(&host, "host", Input::Host)?);
    }
    if let Some(b) = option(options, "body")? {
        input.body = Some(body(&b)?);
    }
    Ok(input)
}
