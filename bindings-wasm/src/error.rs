//! The one place where xnonce errors become JavaScript errors.
//!
//! Every failure of this package reaches JS as an instance of the package's `XNonceError`
//! class (the Node package's `bindings-node/errors.js`, which the build puts in this package
//! too), of its family's subclass (`InputError`, `FormatError`, ...), whose `code` is the
//! shared snake_case code of [`xnonce_core::ErrorCode`], whose `family` is the code's
//! [`xnonce_core::ErrorFamily`] (`"input"`, `"format"`, ...) and whose `message` is
//! core's message without the code (it is in `code`), as in the Node package — except
//! an argument of the wrong JavaScript type (a number where text is expected, a timestamp
//! that is neither a number nor a bigint, options that are not an object, ...), which is a
//! plain JS `TypeError` as in the Node and Python packages (no value of the request is wrong;
//! the call is), and an exception the caller's own code throws while an argument is read (a
//! params iterator or getter), which is thrown on as it is. Params keep their codes for every
//! kind of wrong entry (`invalid_param_key`, `invalid_param_value`), as in Node and Python.
//! Messages come from core (or from this crate's argument checks) and never hold a secret:
//! a `TypeError` names the argument and the type it got, never the value.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsValue;
use xnonce_core::{Error, ErrorCode};

/// The JS `name` of an error built while no factory is registered (see [`set_error_factory`]).
pub const ERROR_NAME: &str = "XNonceError";

thread_local! {
    /// `(code, family, message) => Error`: `createError` of `bindings-node/errors.js` (in the
    /// package as `errors.js`), registered by the entry module (`xnonce_wasm.js`) before any
    /// other call.
    static FACTORY: RefCell<Option<js_sys::Function>> = const { RefCell::new(None) };
}

/// Registers the function that builds the JS error of an xnonce failure (`createError` of
/// `bindings-node/errors.js`, which makes an instance of the family's class). Called once by
/// the package's entry module; not exported by it.
#[wasm_bindgen(js_name = setErrorFactory, skip_typescript)]
pub fn set_error_factory(factory: js_sys::Function) {
    FACTORY.with(|f| *f.borrow_mut() = Some(factory));
}

/// An error on its way to JS; `?` converts core errors into it.
#[derive(Debug)]
pub enum XNonceError {
    /// A core error (or one of this crate's argument checks): a coded `XNonceError` in JS.
    Coded(Error),
    /// An argument of the wrong JavaScript type: a JS `TypeError` with this message.
    Type(String),
    /// An options argument the package refuses (an iterable, an unknown key): a JS `TypeError`
    /// with `code` `ERR_INVALID_ARG_VALUE` and the message `The argument "<argument>" is
    /// invalid: <why>`, as the Node package throws it.
    InvalidArgValue {
        /// The argument's JS name (`options`).
        argument: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// An exception thrown by the caller's own code while this package read an argument (a
    /// params iterator or getter): thrown on to the caller unchanged.
    Thrown(JsValue),
}

impl From<Error> for XNonceError {
    fn from(e: Error) -> Self {
        XNonceError::Coded(e)
    }
}

impl From<XNonceError> for JsValue {
    fn from(e: XNonceError) -> JsValue {
        match e {
            XNonceError::Coded(e) => to_js(&e),
            XNonceError::Type(message) => js_sys::TypeError::new(&message).into(),
            XNonceError::InvalidArgValue { argument, why } => {
                let err = js_sys::TypeError::new(&format!(
                    "The argument \"{argument}\" is invalid: {why}"
                ));
                // A plain data property on a fresh TypeError: cannot fail.
                let _ = js_sys::Reflect::set(&err, &"code".into(), &"ERR_INVALID_ARG_VALUE".into());
                err.into()
            }
            XNonceError::Thrown(value) => value,
        }
    }
}

/// Shorthand for the results of exported functions.
pub type JsResult<T> = Result<T, XNonceError>;

/// The `TypeError` for an argument `what` of the wrong JavaScript type: `"<what> must be
/// <expected>, not <typeof value>"`, never showing the value itself.
pub fn wrong_type(what: &str, expected: &str, value: &JsValue) -> XNonceError {
    XNonceError::Type(format!("{what} must be {expected}, not {}", type_of(value)))
}

/// `typeof value`, with `null` said as such.
fn type_of(value: &JsValue) -> String {
    if value.is_null() {
        "null".to_string()
    } else {
        value.js_typeof().as_string().unwrap_or_default()
    }
}

/// An error with a shared code raised by this crate's own argument checks.
pub fn coded(code: ErrorCode, message: impl Into<String>) -> XNonceError {
    XNonceError::Coded(Error::new(code, message))
}

/// Builds the JS error: the registered factory's, or (glue used without the entry module) an
/// `Error` named `XNonceError` with the same `message`, `code` and `family`.
fn to_js(e: &Error) -> JsValue {
    let code = JsValue::from_str(e.code().as_str());
    let family = JsValue::from_str(e.code().family().as_str());
    let message = JsValue::from_str(e.message());
    let factory = FACTORY.with(|f| f.borrow().clone());
    if let Some(factory) = factory {
        // The factory only constructs an error; should it throw, what it threw is thrown.
        return match factory.call3(&JsValue::UNDEFINED, &code, &family, &message) {
            Ok(err) | Err(err) => err,
        };
    }
    let err = js_sys::Error::new(e.message());
    err.set_name(ERROR_NAME);
    // Setting plain data properties on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&err, &"code".into(), &code);
    let _ = js_sys::Reflect::set(&err, &"family".into(), &family);
    err.into()
}
