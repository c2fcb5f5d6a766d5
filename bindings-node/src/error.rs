//! The ONE place where errors cross into JavaScript.
//!
//! Every `#[napi]` entry point runs its body through [`guard`] (or, for promises, calls
//! [`to_js`] on the JS thread), so every [`xnonce_core::Error`] becomes the same kind of
//! JavaScript error: an instance of the package's `XNonceError` family class (registered by
//! `index.js` through [`set_error_factory`]) with `.code`, `.family`, for stale requests
//! `.serverTime` / `.serverTimeMac`, and, for a request a `Verifier` refused
//! ([`Failure::Refused`]), `.answer`: core's HTTP answer to it ([`Answer`]). When no factory is
//! registered (the addon loaded without `index.js`), a plain `Error` with the same properties
//! is thrown instead.

use std::cell::RefCell;

use napi::bindgen_prelude::{
    FnArgs, FromNapiValue, Function, FunctionRef, JsObjectValue, JsValue, Object, Unknown,
};
use napi::{Env, JsError, JsRangeError, JsTypeError};
use napi_derive::napi;
use xnonce_core::{Error as CoreError, ErrorCode};

use crate::answer::Answer;

/// Arguments of the JS error factory:
/// `(code, family, message, serverTime?, serverTimeMac?, answer?)`.
type FactoryArgs = FnArgs<(
    String,
    String,
    String,
    Option<f64>,
    Option<String>,
    Option<Answer>,
)>;
type Factory = FunctionRef<FactoryArgs, Unknown<'static>>;

thread_local! {
    // One per JS thread (main thread and each worker load the addon on their own thread).
    static FACTORY: RefCell<Option<Factory>> = const { RefCell::new(None) };
}

/// Why a binding call failed: an xnonce error (mapped to `XNonceError`), a request a
/// verifier refused (an `XNonceError` that also carries core's answer to it), or a napi
/// failure (wrong argument type, a throwing getter, ...) passed through unchanged.
pub(crate) enum Failure {
    Core(CoreError),
    /// Verification refused the request; the answer is core's `Answer::refusal` for it.
    Refused(CoreError, Box<xnonce_core::answer::Answer>),
    Napi(napi::Error),
}

impl From<CoreError> for Failure {
    fn from(e: CoreError) -> Self {
        Failure::Core(e)
    }
}

impl From<napi::Error> for Failure {
    fn from(e: napi::Error) -> Self {
        Failure::Napi(e)
    }
}

/// Result of the binding's internal functions.
pub(crate) type Outcome<T> = std::result::Result<T, Failure>;

/// Shorthand for an xnonce error of the given code.
pub(crate) fn fail<T>(code: ErrorCode, message: impl Into<String>) -> Outcome<T> {
    Err(Failure::Core(CoreError::new(code, message)))
}

/// `Number.MAX_SAFE_INTEGER`: the bound of the numeric options (`timeoutMs`, `clockOffsetMs`,
/// a body `limit`).
pub(crate) const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// The `RangeError` (code `ERR_OUT_OF_RANGE`, as Node's own APIs say it) for an `option` whose
/// `value` is not `what` it must be. Not an `XNonceError`: no request field is wrong, only a
/// setting (Python's `Requester` refuses a timeout that is not positive with its built-in
/// `ValueError`).
pub(crate) fn out_of_range(env: &Env, option: &str, what: &str, value: f64) -> Failure {
    let message = format!(
        "The value of \"{option}\" is out of range. It must be {what}, at most \
         {MAX_SAFE_INTEGER} in size. Received {}",
        js_number(value)
    );
    range_error(env, "ERR_OUT_OF_RANGE", message)
}

/// A JavaScript `RangeError` with `.code` = `code`: not an `XNonceError`, the call itself is
/// out of bounds ([`out_of_range`], and `crate::reentry`'s nesting limit).
pub(crate) fn range_error(env: &Env, code: &str, message: String) -> Failure {
    let error = napi::Error::new(code.to_string(), message);
    Failure::Napi(napi::Error::from(
        JsRangeError::from(error).into_unknown(*env),
    ))
}

/// The `TypeError` (code `ERR_INVALID_ARG_VALUE`, as Node's own APIs say it) for an argument
/// of the right type whose value a setting cannot take (a key prefix holding `{`). Not an
/// `XNonceError`, as with [`out_of_range`].
pub(crate) fn invalid_arg_value(env: &Env, argument: &str, why: impl std::fmt::Display) -> Failure {
    Failure::Napi(invalid_arg_value_error(env, argument, why))
}

/// The error of [`invalid_arg_value`], for code that returns napi's errors (a conversion).
pub(crate) fn invalid_arg_value_error(
    env: &Env,
    argument: &str,
    why: impl std::fmt::Display,
) -> napi::Error {
    let message = format!("The argument \"{argument}\" is invalid: {why}");
    let error = napi::Error::new("ERR_INVALID_ARG_VALUE".to_string(), message);
    napi::Error::from(JsTypeError::from(error).into_unknown(*env))
}

/// A number as JavaScript writes the common cases (`-1`, `0.5`, `NaN`, `Infinity`), for the
/// `Received …` of a `RangeError`.
fn js_number(n: f64) -> String {
    match n {
        _ if n.is_nan() => "NaN".to_string(),
        f64::INFINITY => "Infinity".to_string(),
        f64::NEG_INFINITY => "-Infinity".to_string(),
        _ => format!("{n}"),
    }
}

/// Runs a binding body and maps its failure to a JS error.
pub(crate) fn guard<T>(env: &Env, body: impl FnOnce() -> Outcome<T>) -> napi::Result<T> {
    body().map_err(|f| to_js(env, f))
}

/// Maps a failure to the error thrown in JS (must run on the JS thread).
pub(crate) fn to_js(env: &Env, failure: Failure) -> napi::Error {
    match failure {
        Failure::Napi(e) => e,
        Failure::Core(e) => xnonce_error(env, &e, None).unwrap_or_else(|napi_err| napi_err),
        Failure::Refused(e, answer) => {
            xnonce_error(env, &e, Some(Answer::from(*answer))).unwrap_or_else(|napi_err| napi_err)
        }
    }
}

fn xnonce_error(env: &Env, e: &CoreError, answer: Option<Answer>) -> napi::Result<napi::Error> {
    let code = e.code();
    let family = code.family().as_str();
    let hint = e.server_time();
    let time = hint.map(|h| h.server_time_ms as f64);
    let mac = hint.map(|h| h.mac.clone());
    let factory = FACTORY.with(|f| f.borrow().as_ref().map(|r| r.borrow_back(env)));
    if let Some(factory) = factory {
        let args = (
            code.as_str().to_string(),
            family.to_string(),
            e.message().to_string(),
            time,
            mac,
            answer,
        );
        let value = factory?.call(FnArgs::from(args))?;
        return Ok(napi::Error::from(value));
    }
    // Fallback without index.js: a plain Error carrying the same properties.
    let plain = napi::Error::new(code.as_str().to_string(), e.message().to_string());
    let value = JsError::from(plain).into_unknown(*env);
    let mut object = Object::from_unknown(value)?;
    object.set_named_property("family", family)?;
    if let (Some(time), Some(mac)) = (time, mac) {
        object.set_named_property("serverTime", time)?;
        object.set_named_property("serverTimeMac", mac)?;
    }
    if let Some(answer) = answer {
        object.set_named_property("answer", answer)?;
    }
    Ok(napi::Error::from(object.to_unknown()))
}

/// Registers the function that builds the JS error for an xnonce failure:
/// `(code, family, message, serverTime?, serverTimeMac?, answer?) => Error`. Called once by
/// `index.js`.
#[napi(
    js_name = "setErrorFactory",
    ts_args_type = "factory: (code: string, family: string, message: string, serverTime?: number, serverTimeMac?: string, answer?: Answer) => Error"
)]
pub fn set_error_factory(factory: Function<'_, FactoryArgs, Unknown<'static>>) -> napi::Result<()> {
    let reference = factory.create_ref()?;
    FACTORY.with(|f| *f.borrow_mut() = Some(reference));
    Ok(())
}

/// One shared error code, as listed by `errorCodes()`.
#[napi(object)]
pub struct ErrorCodeInfo {
    /// The snake_case code (`invalid_secret`, `replayed`, ...).
    pub code: String,
    /// Its family: `input`, `format`, `auth`, `route` or `unavailable`.
    pub family: String,
    /// The HTTP status a server answers with.
    pub http_status: u32,
}

/// Every shared error code with its family and HTTP status, in core's order.
#[napi(js_name = "errorCodes")]
pub fn error_codes() -> Vec<ErrorCodeInfo> {
    ErrorCode::ALL
        .iter()
        .map(|c| ErrorCodeInfo {
            code: c.as_str().to_string(),
            family: c.family().as_str().to_string(),
            http_status: u32::from(c.http_status()),
        })
        .collect()
}
