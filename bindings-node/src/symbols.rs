//! JS symbols the binding uses on every call, each made once per JS thread (the main thread
//! and each worker load the addon on their own thread) and kept for the thread's life.

use std::cell::RefCell;
use std::thread::LocalKey;

use napi::bindgen_prelude::{FromNapiValue, JsObjectValue, Object, ToNapiValue, Unknown};
use napi::{check_status, sys, Env, JsValue, UnknownRef};

type Kept = RefCell<Option<UnknownRef<false>>>;

thread_local! {
    // Looking `Symbol.iterator` up from the global object each time cost about a tenth of a
    // `verify` call: every options argument is checked with it.
    static ITERATOR: Kept = const { RefCell::new(None) };
    // The key under which a `Verifier`'s object keeps its lookup function.
    static LOOKUP_KEY: Kept = const { RefCell::new(None) };
}

/// The symbol kept in `cell`, made by `make` the first time on this thread.
fn kept<'env>(
    cell: &'static LocalKey<Kept>,
    env: &'env Env,
    make: impl FnOnce(&'env Env) -> napi::Result<Unknown<'env>>,
) -> napi::Result<Unknown<'env>> {
    cell.with(|cached| {
        if let Some(symbol) = &*cached.borrow() {
            return symbol.get_value(env);
        }
        let symbol = make(env)?;
        // SAFETY: a value of this env (a symbol can be referenced: Node 18+).
        let reference = unsafe { UnknownRef::from_napi_value(env.raw(), symbol.raw())? };
        *cached.borrow_mut() = Some(reference);
        Ok(symbol)
    })
}

/// `Symbol.iterator`.
pub(crate) fn iterator(env: &Env) -> napi::Result<Unknown<'_>> {
    kept(&ITERATOR, env, |env| {
        env.get_global()?
            // `Symbol` is a function: read as the object it also is.
            .get_named_property_unchecked::<Object>("Symbol")?
            .get_named_property("iterator")
    })
}

/// The symbol keying a verifier's lookup function on its JS object (`Symbol("xnonce.lookup")`).
pub(crate) fn lookup_key(env: &Env) -> napi::Result<Unknown<'_>> {
    kept(&LOOKUP_KEY, env, |env| {
        let raw = env.raw();
        // SAFETY: napi calls on the JS thread; the description is a value of this env, and
        // the symbol napi made one too.
        unsafe {
            let description = <&str as ToNapiValue>::to_napi_value(raw, "xnonce.lookup")?;
            let mut symbol = std::ptr::null_mut();
            check_status!(sys::napi_create_symbol(raw, description, &mut symbol))?;
            Ok(Unknown::from_raw_unchecked(raw, symbol))
        }
    })
}
