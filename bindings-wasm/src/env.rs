//! Time and randomness where JavaScript runs: core's [`Environment`] on `Date.now()` and
//! `crypto.getRandomValues` (browsers, workers, Deno, Node ≥ 19).
//!
//! Neither call may throw through this module's frames: a JS exception that unwinds WebAssembly
//! runs no Rust destructor, so it would leave the shadow stack pointer lowered (about 1 KiB a
//! call: after a thousand such calls every call traps), the call's heap (the secret's copy
//! among it) never freed nor zeroized, and, on `sign`'s fast path, the buffers' `RefCell`
//! borrowed for good (every later `sign` a `RuntimeError: unreachable`). So a failure is kept
//! here, core finishes with a stand-in value, and the caller drops that result for the
//! failure ([`JsEnvironment::run`]).

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use xnonce_core::Environment;

use crate::error::{JsResult, XNonceError};

#[wasm_bindgen]
extern "C" {
    /// `crypto.getRandomValues(buf)` on the global `crypto` object.
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues, catch)]
    fn get_random_values(buf: &js_sys::Uint8Array) -> Result<JsValue, JsValue>;
    /// `Date.now()`; a throw (of a mocked clock) comes back as `Err`.
    #[wasm_bindgen(js_namespace = Date, js_name = now, catch)]
    fn date_now() -> Result<JsValue, JsValue>;
}

/// The JS clock and the Web Crypto CSPRNG, for one call: a failure of either is kept, to be
/// reported by [`JsEnvironment::run`] instead of the result it would have spoilt.
#[derive(Debug, Default)]
pub struct JsEnvironment {
    failure: RefCell<Option<JsValue>>,
}

impl JsEnvironment {
    /// An environment for one call.
    pub fn new() -> Self {
        Self::default()
    }

    fn fail(&self, error: JsValue) {
        self.failure.borrow_mut().get_or_insert(error);
    }

    /// Whether a JS call failed: what core made since is not to be used.
    pub fn failed(&self) -> bool {
        self.failure.borrow().is_some()
    }

    /// What core's `f` makes with a fresh environment, unless the clock or the generator
    /// failed meanwhile: then that failure (the `Error` saying `crypto.getRandomValues` is
    /// missing, or what a mocked `Date.now` threw, as it is).
    pub fn run<T>(f: impl FnOnce(&JsEnvironment) -> xnonce_core::Result<T>) -> JsResult<T> {
        let env = JsEnvironment::new();
        let result = f(&env);
        match env.failure.into_inner() {
            Some(error) => Err(XNonceError::Thrown(error)),
            None => Ok(result?),
        }
    }
}

impl Environment for JsEnvironment {
    fn now_ms(&self) -> u64 {
        match date_now() {
            // Date.now() is a non-negative integer number of milliseconds; a fraction (a
            // mocked clock's) is cut off.
            Ok(ms) => match ms.as_f64() {
                Some(ms) if ms.is_finite() && ms >= 0.0 => ms as u64,
                // A mocked clock that answers something else (NaN, a negative number, a
                // string) is not signed as time 0: the call fails saying so.
                _ => {
                    self.fail(
                        js_sys::TypeError::new(
                            "Date.now() did not return a non-negative number of milliseconds: \
                             xnonce-wasm takes the time from it (pass `timestamp` to sign \
                             another)",
                        )
                        .into(),
                    );
                    0
                }
            },
            Err(e) => {
                self.fail(e);
                0
            }
        }
    }

    fn random_nonce(&self) -> [u8; 16] {
        let buf = js_sys::Uint8Array::new_with_length(16);
        if get_random_values(&buf).is_err() {
            // Never sign with a predictable nonce: the call fails with a clear JS error (no
            // shared code fits a missing platform API, so this one is a plain `Error`), and
            // the zero nonce below is never used.
            self.fail(
                js_sys::Error::new(
                    "crypto.getRandomValues is not available: xnonce-wasm needs a browser, a \
                     worker or Node >= 19 (globalThis.crypto)",
                )
                .into(),
            );
            return [0; 16];
        }
        let mut out = [0u8; 16];
        buf.copy_to(&mut out);
        out
    }
}
