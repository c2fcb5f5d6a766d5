//! Time and randomness where JavaScript runs: core's [`Environment`] on `Date.now()` and
//! `crypto.getRandomValues` (browsers, workers, Deno, Node ≥ 19).

use wasm_bindgen::prelude::*;
use xnonce_core::Environment;

#[wasm_bindgen]
extern "C" {
    /// `crypto.getRandomValues(buf)` on the global `crypto` object.
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues, catch)]
    fn get_random_values(buf: &js_sys::Uint8Array) -> Result<JsValue, JsValue>;
}

/// The JS clock and the Web Crypto CSPRNG.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsEnvironment;

impl Environment for JsEnvironment {
    fn now_ms(&self) -> u64 {
        // Date.now() is a non-negative integer number of milliseconds.
        js_sys::Date::now() as u64
    }

    fn random_nonce(&self) -> [u8; 16] {
        let buf = js_sys::Uint8Array::new_with_length(16);
        if get_random_values(&buf).is_err() {
            // Never sign with a predictable nonce: stop here with a clear JS error (no shared code
            // fits a missing platform API, so this one is a plain `Error`).
            let err = js_sys::Error::new(
                "crypto.getRandomValues is not available: xnonce-wasm needs a browser, a worker \
                 or Node >= 19 (globalThis.crypto)",
            );
            wasm_bindgen::throw_val(err.into());
        }
        let mut out = [0u8; 16];
        buf.copy_to(&mut out);
        out
    }
}
