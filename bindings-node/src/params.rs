//! The ONE place where JavaScript values become signed text: params containers, param
//! values, timestamps and bodies.
//!
//! * containers: an array of `[key, value]` pairs, any iterable of pairs (`Map`,
//!   `URLSearchParams`, ...) in iteration order, or a plain object (its own
//!   enumerable properties, as `Object.entries` reads them) in property order;
//!   `null`/`undefined` mean no params; any other object (a class instance, a `Date`) is
//!   refused, as in xnonce-wasm;
//! * keys: strings only (`invalid_param_key` otherwise; in other tables, the code of the
//!   [`Input`] their keys are);
//! * text: every JS string the binding reads (signed, verified, parsed, a key name) must be
//!   well-formed UTF-16 (no lone surrogate, which napi would silently turn into U+FFFD):
//!   [`Text`] carries the check, so no argument or option is a plain `String`, and each field
//!   refuses ill-formed text as core's [`Input`] table says of it (its code: `invalid_param_key`,
//!   `invalid_param_value`, `invalid_path`, `invalid_secret`, `malformed_header`, ...,
//!   PROTOCOL §3.6; and its name in the message);
//! * values: strings as they are; numbers through core's `text_from_f64` (`3` → `"3"`);
//!   bigints through `text_from_i128`; booleans through `text_from_bool`; anything else
//!   (`null`, `undefined`, objects, arrays, buffers, symbols, functions) is
//!   `invalid_param_value`.

use napi::bindgen_prelude::{
    Array, ArrayBuffer, BigInt, Either, FnArgs, FromNapiValue, Function, JsObjectValue, JsValue,
    Object, TypeName, Uint8Array, Unknown, ValidateNapiValue,
};
use napi::{sys, Env, JsString, ValueType};
use xnonce_core::input::{self, Pairs};
use xnonce_core::{params, ErrorCode, Input, Params};

use crate::error::Outcome;

/// Reads a params container (see the module docs) into text pairs.
pub(crate) fn collect(env: &Env, value: Option<Unknown<'_>>) -> Outcome<Params> {
    collect_pairs(env, value, Pairs::PARAMS)
}

/// [`collect`] for a container of pairs whose keys and values are the `inputs` given
/// (`extraParams`, `headers`): the same shapes and codes, named as core names those inputs.
pub(crate) fn collect_pairs(
    env: &Env,
    value: Option<Unknown<'_>>,
    inputs: Pairs,
) -> Outcome<Params> {
    let pairs = entries(env, value, ErrorCode::InvalidParamValue, inputs.key)?;
    let mut out = Vec::with_capacity(pairs.len());
    for (key, value) in pairs {
        let text = value_text(&key, value, inputs.value)?;
        out.push((key, text));
    }
    Ok(out)
}

/// Reads any keyed container into `(key, raw value)` entries, in its iteration order: an
/// array of `[key, value]` pairs, an iterable of pairs (`Map`, `URLSearchParams`), or a plain
/// object ([`is_plain`]; another object is refused with `shape_error`); `null`/`undefined` are
/// empty. `shape_error` is the code for a bad container, `keys`
/// the input its keys are (each must be a string of well-formed text; a key that is not is
/// refused with that input's code, and named as core names it).
pub(crate) fn entries<'env>(
    env: &'env Env,
    value: Option<Unknown<'env>>,
    shape_error: ErrorCode,
    keys: Input,
) -> Outcome<Vec<(String, Unknown<'env>)>> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    match value.get_type()? {
        ValueType::Undefined | ValueType::Null => Ok(Vec::new()),
        ValueType::Object if value.is_array()? => {
            from_pairs(env, &Array::from_unknown(value)?, shape_error, keys)
        }
        ValueType::Object => {
            let object = Object::from_unknown(value)?;
            match iterable_to_array(env, &object)? {
                Some(array) => from_pairs(env, &array, shape_error, keys),
                None if is_plain(env, &object)? => from_record(&object, keys),
                // A class instance or a `Date` is not read property by property (a `Date` has
                // none: it would sign as no params at all), as in xnonce-wasm.
                None => Err(input::js_not_pairs(shape_error).into()),
            }
        }
        _ => Err(input::js_not_pairs(shape_error).into()),
    }
}

/// Reads `[[k, v], ...]`.
fn from_pairs<'env>(
    env: &'env Env,
    array: &Array<'env>,
    shape_error: ErrorCode,
    keys: Input,
) -> Outcome<Vec<(String, Unknown<'env>)>> {
    // Not reserved by `length`: a sparse array's (`new Array(2 ** 32 - 1)`) is no measure of
    // what it holds, and reserving room for 4 billion entries aborts the process (Rust's
    // allocation failure) before its first hole is refused.
    let mut out = Vec::new();
    for i in 0..array.len() {
        let pair: Unknown = array.get_element(i)?;
        let Some(pair) = as_array(env, pair)? else {
            return Err(input::js_entry_not_a_pair(shape_error, i).into());
        };
        if pair.len() != 2 {
            return Err(input::js_entry_not_a_pair(shape_error, i).into());
        }
        out.push((key_text(pair.get_element(0)?, keys)?, pair.get_element(1)?));
    }
    Ok(out)
}

/// Whether `object` is a plain object: its prototype is `null` or has none itself, as an
/// `Object.prototype` has (this realm's or another's: an object literal of a `vm` context, or
/// of Jest's test files, is plain too). A class instance, a `Date`, an object made with
/// another prototype is not, nor a Proxy of one.
fn is_plain<'env>(env: &'env Env, object: &Object<'env>) -> Outcome<bool> {
    let proto = prototype_of(env, object)?;
    Ok(match proto.get_type()? {
        ValueType::Null => true,
        ValueType::Object => {
            prototype_of(env, &Object::from_unknown(proto)?)?.get_type()? == ValueType::Null
        }
        _ => false,
    })
}

/// The prototype of `object`, as JavaScript's `Object.getPrototypeOf` gives it. Node-API's
/// answers `null` for every Proxy (V8 reads the Proxy object, not its target), which made a
/// Proxy of a `Date` a plain object, read as no params: so a `null` is asked again of
/// JavaScript (an object made without a prototype answers `null` there too). A Proxy's
/// `getPrototypeOf` trap is the caller's code; what it throws is thrown as is.
fn prototype_of<'env>(env: &'env Env, object: &Object<'env>) -> Outcome<Unknown<'env>> {
    let proto = object.get_prototype()?;
    if proto.get_type()? != ValueType::Null {
        return Ok(proto);
    }
    // `Object` is a function: read it as an object without the type check.
    let object_constructor: Object = env.get_global()?.get_named_property_unchecked("Object")?;
    let get_prototype_of: Function<'_, FnArgs<(Unknown,)>, Unknown> =
        object_constructor.get_named_property("getPrototypeOf")?;
    crate::reentry::calling_js(env, || {
        Ok(get_prototype_of.call(FnArgs::from((object.to_unknown(),)))?)
    })
}

/// Reads a plain object's own enumerable string-keyed properties in property order, as
/// `Object.entries` does (and xnonce-wasm with it). Not `napi_get_property_names`, which
/// lists inherited ones too (`for…in`): an enumerable property added to `Object.prototype`
/// (a polyfill's, a prototype-pollution bug's) would be signed as a param of every object, or
/// read as a client and its secret by every `Verifier` made after. Each key is read (and
/// checked as text) from its JS string, and its value looked up with that string.
fn from_record<'env>(object: &Object<'env>, keys: Input) -> Outcome<Vec<(String, Unknown<'env>)>> {
    let env = object.value().env;
    let mut names = std::ptr::null_mut();
    // SAFETY: napi call on the JS thread, with the object's own env and value.
    napi::check_status!(unsafe {
        sys::napi_get_all_property_names(
            env,
            object.raw(),
            sys::KeyCollectionMode::own_only,
            sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
            sys::KeyConversion::numbers_to_strings,
            &mut names,
        )
    })?;
    // SAFETY: as above; napi returns an array.
    let names = unsafe { Array::from_napi_value(env, names)? };
    let mut out = Vec::with_capacity(names.len() as usize);
    for i in 0..names.len() {
        let key: Unknown = names.get_element(i)?;
        let value: Unknown = object.get_property(key)?;
        out.push((key_text(key, keys)?, value));
    }
    Ok(out)
}

/// Whether [`entries`] reads the object `value` (an iterable or a plain object) rather than
/// refusing it; for a caller that refuses another object in its own words.
pub(crate) fn is_container(env: &Env, value: &Object<'_>) -> Outcome<bool> {
    Ok(is_iterable(env, value)? || is_plain(env, value)?)
}

/// `value` as an array when JavaScript's `Array.isArray` says it is one, else `None`. A
/// `Proxy` of an array (a Vue `reactive([...])`, say) is one to JavaScript but not to Node-API,
/// which neither says so nor reads its length: it is read as a copy, `Array.from(value)`, as
/// xnonce-wasm reads it.
pub(crate) fn as_array<'env>(env: &'env Env, value: Unknown<'env>) -> Outcome<Option<Array<'env>>> {
    if value.get_type()? != ValueType::Object {
        return Ok(None);
    }
    if value.is_array()? {
        return Ok(Some(Array::from_unknown(value)?));
    }
    if !is_array_to_js(env, value)? {
        return Ok(None);
    }
    // A Proxy's traps are the caller's code (see `array_from`).
    Ok(Some(array_from(env, value)?))
}

/// Whether JavaScript's `Array.isArray` says `value` is an array (a Proxy of one is), as
/// [`as_array`] reads it, without the copy.
pub(crate) fn is_js_array(env: &Env, value: Unknown<'_>) -> Outcome<bool> {
    Ok(
        value.get_type()? == ValueType::Object
            && (value.is_array()? || is_array_to_js(env, value)?),
    )
}

/// `Array.isArray(value)`, asked of JavaScript (Node-API's `is_array` says no to a Proxy).
/// Of a revoked Proxy it throws a TypeError: thrown as is.
fn is_array_to_js(env: &Env, value: Unknown<'_>) -> Outcome<bool> {
    let is_array: Function<'_, FnArgs<(Unknown,)>, bool> =
        array_constructor(env)?.get_named_property("isArray")?;
    Ok(is_array.call(FnArgs::from((value,)))?)
}

/// `Array.from(value)`: an iterable's items, or a Proxy of an array's elements, as an array.
/// The iterator or the Proxy's traps are the caller's code, which may call the binding again.
fn array_from<'env>(env: &'env Env, value: Unknown<'env>) -> Outcome<Array<'env>> {
    let from: Function<'_, FnArgs<(Unknown,)>, Array> =
        array_constructor(env)?.get_named_property("from")?;
    crate::reentry::calling_js(env, || Ok(from.call(FnArgs::from((value,)))?))
}

/// The global `Array` (a function: read as an object without the type check).
fn array_constructor(env: &Env) -> Outcome<Object<'_>> {
    Ok(env.get_global()?.get_named_property_unchecked("Array")?)
}

/// Whether `object` has a `Symbol.iterator` method.
fn is_iterable(env: &Env, object: &Object<'_>) -> Outcome<bool> {
    // `Symbol` is a function: read it as an object without the type check.
    let symbol: Object = env.get_global()?.get_named_property_unchecked("Symbol")?;
    let iterator: Unknown = symbol.get_named_property("iterator")?;
    let method: Unknown = object.get_property(iterator)?;
    Ok(method.get_type()? == ValueType::Function)
}

/// `Array.from(value)` when `value` is iterable (has `Symbol.iterator`), else `None`.
fn iterable_to_array<'env>(env: &'env Env, object: &Object<'env>) -> Outcome<Option<Array<'env>>> {
    if !is_iterable(env, object)? {
        return Ok(None);
    }
    Ok(Some(array_from(env, object.to_unknown())?))
}

fn key_text(key: Unknown<'_>, keys: Input) -> Outcome<String> {
    if key.get_type()? != ValueType::String {
        return Err(keys.js_key_not_a_string().into());
    }
    Text::from_unknown(key)?.check(keys)
}

/// The text of one param value (see the module docs), a value of `input` (a param value, an
/// extra param's, a header's). The value itself never appears in the error message; the key
/// does.
pub(crate) fn value_text(key: &str, value: Unknown<'_>, input: Input) -> Outcome<String> {
    match value.get_type()? {
        ValueType::String => {
            let text = Text::from_unknown(value)?;
            if !text.well_formed {
                return Err(input.ill_formed_value(key).into());
            }
            Ok(text.text)
        }
        ValueType::Number => Ok(params::text_from_f64(f64::from_unknown(value)?)?),
        ValueType::Boolean => Ok(params::text_from_bool(bool::from_unknown(value)?).to_string()),
        ValueType::BigInt => match bigint_i128(&BigInt::from_unknown(value)?) {
            Some(n) => Ok(params::text_from_i128(n)),
            None => Err(input.js_bigint_out_of_range(key).into()),
        },
        other => Err(input.js_value_of_wrong_type(key, type_name(other)).into()),
    }
}

fn type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::Undefined => "undefined",
        ValueType::Null => "null",
        ValueType::Object => "an object",
        ValueType::Symbol => "a symbol",
        ValueType::Function => "a function",
        _ => "this type",
    }
}

/// A bigint as an `i128`, `None` outside `-2^127..=2^127-1`. (napi's `BigInt::get_i128`
/// reports `-2^127`, which fits, as lossy.)
fn bigint_i128(b: &BigInt) -> Option<i128> {
    let magnitude = match b.words.as_slice() {
        [] => 0,
        [low] => u128::from(*low),
        [low, high, rest @ ..] if rest.iter().all(|&w| w == 0) => {
            u128::from(*low) | (u128::from(*high) << 64)
        }
        _ => return None,
    };
    if b.sign_bit {
        0i128.checked_sub_unsigned(magnitude)
    } else {
        i128::try_from(magnitude).ok()
    }
}

/// A timestamp as JS gives it: a number or a bigint (`number | bigint` in TypeScript). Read
/// by type, so that another type is a `TypeError` in JavaScript's words ("a number or a
/// bigint"), not napi's `Either` message naming Rust types.
pub struct Millis(Either<f64, BigInt>);

/// JavaScript's name for the type of `value` (`typeof`, with `null` as `null`), for messages.
fn js_type(env: sys::napi_env, value: sys::napi_value) -> napi::Result<ValueType> {
    // SAFETY: forwarded from the caller (a valid env and value).
    unsafe { Unknown::from_raw_unchecked(env, value) }.get_type()
}

/// The `TypeError` napi gives for a value of the wrong type, worded for JavaScript.
fn expected(what: &str, received: impl std::fmt::Display) -> napi::Error {
    napi::Error::new(
        napi::Status::InvalidArg,
        format!("Expect value to be {what}, but received {received}"),
    )
}

impl TypeName for Millis {
    fn type_name() -> &'static str {
        "number | bigint"
    }

    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

impl ValidateNapiValue for Millis {
    unsafe fn validate(
        env: sys::napi_env,
        value: sys::napi_value,
    ) -> napi::Result<sys::napi_value> {
        match js_type(env, value)? {
            ValueType::Number | ValueType::BigInt => Ok(std::ptr::null_mut()),
            other => Err(expected("a number or a bigint", other)),
        }
    }
}

impl FromNapiValue for Millis {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        // SAFETY (both arms): forwarded from the caller, the value's type checked.
        match js_type(env, value)? {
            ValueType::Number => Ok(Millis(Either::A(unsafe {
                f64::from_napi_value(env, value)?
            }))),
            ValueType::BigInt => Ok(Millis(Either::B(unsafe {
                BigInt::from_napi_value(env, value)?
            }))),
            other => Err(expected("a number or a bigint", other)),
        }
    }
}

/// The property `name` of `object` as a `T`, `None` when `null` or `undefined`; another type
/// is `T`'s own `TypeError` naming the property (napi's `Option<T>` would say
/// `Option<Unknown>` instead of what `T` expects).
pub(crate) fn optional_property<T: FromNapiValue>(
    object: &Object<'_>,
    name: &str,
) -> napi::Result<Option<T>> {
    let value: Unknown = object.get_named_property(name)?;
    match value.get_type()? {
        ValueType::Null | ValueType::Undefined => Ok(None),
        // SAFETY: the value napi just read from the object, in its env.
        _ => unsafe { T::from_napi_value(value.value().env, value.raw()) }
            .map(Some)
            .map_err(|mut e| {
                e.reason = format!("{} on options.{name}", e.reason);
                e
            }),
    }
}

/// A timestamp in milliseconds: an integer number or a bigint in `0..=2^53-1`
/// (`invalid_timestamp`), by core's rules for JS timestamps.
pub(crate) fn timestamp_ms(ms: Option<Millis>) -> Outcome<Option<u64>> {
    let ms = ms.map(|Millis(ms)| match ms {
        Either::A(number) => xnonce_core::header::timestamp_from_f64(number),
        Either::B(bigint) => {
            xnonce_core::header::timestamp_from_i128(bigint_i128(&bigint).unwrap_or(i128::MAX))
        }
    });
    Ok(ms.transpose()?)
}

/// A body: bytes (`Buffer`, `Uint8Array`, or an `ArrayBuffer`, as `fetch`'s `arrayBuffer()`
/// gives) or a string (its UTF-8 bytes). Fields of this type are declared
/// `Uint8Array | ArrayBuffer | string` in TypeScript; another type (a detached `ArrayBuffer`
/// too) is a `TypeError` in JavaScript's words ("a Uint8Array, an ArrayBuffer or a string").
pub struct Body(BodyValue);

enum BodyValue {
    /// The bytes of a `Uint8Array` or an `ArrayBuffer`, copied when read. Not a napi
    /// `Uint8Array`: that holds a raw pointer into the buffer, and the caller's code that runs
    /// before the bytes are used (a params iterator, a later option's getter) may detach the
    /// buffer (`structuredClone(b, { transfer })`) or shrink a resizable one, freeing the
    /// memory the pointer reads (a crash, or a signature over freed memory).
    Bytes(Vec<u8>),
    Text(Text),
}

impl Body {
    /// Whether it is a string that is not well-formed (a lone surrogate).
    pub(crate) fn is_ill_formed_text(&self) -> bool {
        matches!(&self.0, BodyValue::Text(text) if !text.is_well_formed())
    }
}

impl TypeName for Body {
    fn type_name() -> &'static str {
        "Uint8Array | ArrayBuffer | string"
    }

    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

/// What a body value is.
enum BodyKind {
    Text,
    View,
    Buffer,
}

/// The kind of `value` as a body; another type (or a detached `ArrayBuffer`, a view of one, or a
/// view out of its resized buffer's bounds) is the
/// `TypeError` [`Body`] gives. Reads the type only, not the value.
///
/// # Safety
/// A valid env and value.
unsafe fn body_kind(env: sys::napi_env, value: sys::napi_value) -> napi::Result<BodyKind> {
    const WHAT: &str = "a Uint8Array, an ArrayBuffer or a string";
    match js_type(env, value)? {
        ValueType::String => return Ok(BodyKind::Text),
        // SAFETY: forwarded from the caller.
        ValueType::Object if unsafe { Uint8Array::validate(env, value) }.is_ok() => {
            // A view of a detached buffer says it has no bytes: refused as its buffer is,
            // not signed as an empty body (as xnonce-wasm refuses it).
            let (mut kind, mut length, mut buffer) = (0, 0, std::ptr::null_mut());
            // SAFETY: forwarded from the caller, a typed array; the other outputs may be null.
            napi::check_status!(unsafe {
                sys::napi_get_typedarray_info(
                    env,
                    value,
                    &mut kind,
                    &mut length,
                    std::ptr::null_mut(),
                    &mut buffer,
                    std::ptr::null_mut(),
                )
            })?;
            let mut detached = false;
            // SAFETY: as above; `buffer` is the view's ArrayBuffer.
            napi::check_status!(unsafe {
                sys::napi_is_detached_arraybuffer(env, buffer, &mut detached)
            })?;
            if detached {
                return Err(expected(WHAT, "a view of a detached ArrayBuffer"));
            }
            // So does a view that a resizable buffer no longer holds (shrunk below the view's
            // end): refused too, as xnonce-wasm refuses it.
            // SAFETY: forwarded from the caller, a typed array.
            if length == 0
                && kind == sys::TypedarrayType::uint8_array
                && unsafe { out_of_bounds(env, value) }?
            {
                return Err(expected(
                    WHAT,
                    "a view out of its resized ArrayBuffer's bounds",
                ));
            }
            return Ok(BodyKind::View);
        }
        ValueType::Object => {}
        other => return Err(expected(WHAT, other)),
    }
    let (mut buffer, mut detached) = (false, false);
    // SAFETY: forwarded from the caller; the out-pointers are live locals.
    napi::check_status!(unsafe { sys::napi_is_arraybuffer(env, value, &mut buffer) })?;
    if buffer {
        // SAFETY: as above.
        napi::check_status!(unsafe {
            sys::napi_is_detached_arraybuffer(env, value, &mut detached)
        })?;
    }
    match (buffer, detached) {
        (true, false) => Ok(BodyKind::Buffer),
        (true, true) => Err(expected(WHAT, "a detached ArrayBuffer")),
        _ => Err(expected(WHAT, ValueType::Object)),
    }
}

/// Whether the typed array `view` is out of its buffer's bounds (a resizable `ArrayBuffer`
/// shrunk below the view's end), which Node-API does not say: it gives such a view's length
/// as 0, as JavaScript's `length` does. `new Uint8Array(view)` throws a `TypeError` for it
/// (of a typed array, the constructor reads its internal slots only: no getter runs).
///
/// # Safety
/// A valid env; `view` a typed array of it.
unsafe fn out_of_bounds(env: sys::napi_env, view: sys::napi_value) -> napi::Result<bool> {
    let js_env = Env::from_raw(env);
    let global = js_env.get_global()?;
    // `Uint8Array` is a function: read it as an object without the type check.
    let constructor: Object = global.get_named_property_unchecked("Uint8Array")?;
    let mut copy = std::ptr::null_mut();
    // SAFETY: forwarded from the caller; `constructor` is a value of this env.
    let status = unsafe { sys::napi_new_instance(env, constructor.raw(), 1, &view, &mut copy) };
    if status == sys::Status::napi_pending_exception {
        let mut thrown = std::ptr::null_mut();
        // SAFETY: as above; the TypeError is cleared, this function's error replaces it.
        napi::check_status!(unsafe { sys::napi_get_and_clear_last_exception(env, &mut thrown) })?;
        return Ok(true);
    }
    napi::check_status!(status)?;
    Ok(false)
}

impl ValidateNapiValue for Body {
    unsafe fn validate(
        env: sys::napi_env,
        value: sys::napi_value,
    ) -> napi::Result<sys::napi_value> {
        // SAFETY: forwarded from the caller (a valid env and value).
        unsafe { body_kind(env, value) }.map(|_| std::ptr::null_mut())
    }
}

impl FromNapiValue for Body {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        // SAFETY (every call): forwarded from the caller, the value's kind checked first.
        Ok(Body(match unsafe { body_kind(env, value)? } {
            BodyKind::Text => BodyValue::Text(unsafe { Text::from_napi_value(env, value)? }),
            BodyKind::View => {
                BodyValue::Bytes(unsafe { Uint8Array::from_napi_value(env, value)? }.to_vec())
            }
            BodyKind::Buffer => {
                let buffer = unsafe { ArrayBuffer::from_napi_value(env, value)? };
                BodyValue::Bytes(buffer.to_vec())
            }
        }))
    }
}

/// The bytes of a body (`invalid_body` for a string that is not well-formed).
pub(crate) fn body_bytes(body: Option<Body>) -> Outcome<Option<Vec<u8>>> {
    bytes_of(body, Input::Body)
}

/// The bytes of bytes or text (its UTF-8), refused as `input` when a string is not
/// well-formed.
pub(crate) fn bytes_of(value: Option<Body>, input: Input) -> Outcome<Option<Vec<u8>>> {
    value
        .map(|Body(b)| match b {
            BodyValue::Bytes(bytes) => Ok(bytes),
            BodyValue::Text(text) => Ok(text.check(input)?.into_bytes()),
        })
        .transpose()
}

/// An optional text field (`null` and absent alike), refused as `input` when not well-formed.
pub(crate) fn optional_text(value: Option<Option<Text>>, input: Input) -> Outcome<Option<String>> {
    value.flatten().map(|t| t.check(input)).transpose()
}

/// An array of strings (`Array<string>` in TypeScript), read element by element as napi's
/// `Vec<Text>` reads it, with the same errors, but without first reserving room for `length`
/// elements: a sparse array's (`new Array(2 ** 32 - 1)`) is no measure of what it holds, and
/// reserving room for 4 billion aborts the process (Rust's allocation failure) before its
/// first hole is refused.
pub struct TextList(pub Vec<Text>);

impl TypeName for TextList {
    fn type_name() -> &'static str {
        Vec::<Text>::type_name()
    }

    fn value_type() -> ValueType {
        Vec::<Text>::value_type()
    }
}

impl ValidateNapiValue for TextList {
    unsafe fn validate(
        env: sys::napi_env,
        value: sys::napi_value,
    ) -> napi::Result<sys::napi_value> {
        // SAFETY: forwarded from the caller (a valid env and value).
        unsafe { Vec::<Text>::validate(env, value) }
    }
}

impl FromNapiValue for TextList {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        let js_env = Env::from_raw(env);
        // SAFETY: forwarded from the caller (a valid env and value).
        let unknown = unsafe { Unknown::from_raw_unchecked(env, value) };
        // A Proxy of an array (a Vue `reactive` list) is an array, as `Array.isArray` says and
        // as every other list of the package reads it ([`as_array`]); napi's `Array` says it
        // is not one ("Failed to get Array length"). Anything else is a TypeError naming the
        // types, as the README says of every argument (napi's said "Failed to get Array length").
        let array = match as_array(&js_env, unknown) {
            Ok(Some(array)) => array,
            Ok(None) => {
                let received = js_type(env, value)?;
                return Err(napi::Error::new(
                    napi::Status::ArrayExpected,
                    format!("Expect value to be Array, but received {received}"),
                ));
            }
            Err(crate::error::Failure::Napi(e)) => return Err(e),
            Err(_) => return Err(expected("an array of strings", ValueType::Object)),
        };
        let mut out = Vec::new();
        for i in 0..array.len() {
            // A hole is `undefined`: Text's TypeError, as napi's `Vec<Text>` gives. (`get` is
            // `None` only past the length read when the array was.)
            out.extend(array.get::<Text>(i)?);
        }
        Ok(TextList(out))
    }
}

/// A JS string as text: its UTF-8 and whether the JS string was well-formed UTF-16. napi
/// reads a lone surrogate (`'\ud800'`) as U+FFFD, which would sign or accept text the caller
/// never passed (a different secret, even), so every text field checks `well_formed` through
/// [`Text::check`]; a value that is not a string is a `TypeError` naming its type only. Reading costs one scan for U+FFFD; only a string holding one is read
/// again as UTF-16 to tell a real U+FFFD from a replaced surrogate. Declared `string` in
/// TypeScript.
pub struct Text {
    text: String,
    well_formed: bool,
}

impl Text {
    /// The text, or `input`'s refusal when it was not well-formed (core's code and message
    /// for that input; the text is never in the message).
    pub(crate) fn check(self, input: Input) -> Outcome<String> {
        if self.well_formed {
            Ok(self.text)
        } else {
            Err(input.ill_formed().into())
        }
    }

    /// The text as read, a lone surrogate replaced by U+FFFD (what a refusal of it is styled
    /// by, never what is verified or signed).
    pub(crate) fn lossy(&self) -> &str {
        &self.text
    }

    /// `input`'s refusal when the JS string was not well-formed, else `None`.
    pub(crate) fn ill_formed(&self, input: Input) -> Option<xnonce_core::Error> {
        (!self.well_formed).then(|| input.ill_formed())
    }

    /// Whether the JS string was well-formed UTF-16 (no lone surrogate).
    pub(crate) fn is_well_formed(&self) -> bool {
        self.well_formed
    }

    /// The text when well-formed, else `None` (the fast path then takes the general one).
    pub(crate) fn into_well_formed(self) -> Option<String> {
        self.well_formed.then_some(self.text)
    }
}

impl TypeName for Text {
    fn type_name() -> &'static str {
        "String"
    }

    fn value_type() -> ValueType {
        ValueType::String
    }
}

impl ValidateNapiValue for Text {}

impl FromNapiValue for Text {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        // SAFETY: forwarded from the caller (a valid env and value).
        let received = unsafe { Unknown::from_raw_unchecked(env, value) }.get_type()?;
        if received != ValueType::String {
            // napi's own String conversion error quotes the value (an object as JSON), which
            // may hold a secret: name the types only. napi adds the field (`on SignOptions.host`).
            return Err(napi::Error::new(
                napi::Status::StringExpected,
                format!("Expect value to be String, but received {received}"),
            ));
        }
        // SAFETY: forwarded from the caller (a valid env and value).
        let text = unsafe { String::from_napi_value(env, value)? };
        let well_formed = !text.contains('\u{FFFD}') || {
            // SAFETY: as above; `String::from_napi_value` has checked that it is a string.
            let js = unsafe { JsString::from_napi_value(env, value)? };
            !has_lone_surrogate(js.into_utf16()?.as_slice())
        };
        Ok(Text { text, well_formed })
    }
}

/// Whether UTF-16 `units` hold an unpaired surrogate.
fn has_lone_surrogate(units: &[u16]) -> bool {
    let mut i = 0;
    while i < units.len() {
        match units[i] {
            0xD800..=0xDBFF if matches!(units.get(i + 1), Some(0xDC00..=0xDFFF)) => i += 2,
            0xD800..=0xDFFF => return true,
            _ => i += 1,
        }
    }
    false
}
