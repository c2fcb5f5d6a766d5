//! The fast path of `sign` (see `js/fast_sign.js`): core's packed request (`xnonce_core::packed`)
//! is written by JS straight into a buffer in this module's memory, signed in place
//! ([`xnonce_core::packed::sign_header_packed`], no owned copies of the fields), and the header
//! is left in a second buffer for JS to read. One call with three numbers crosses the
//! boundary; no value is converted by wasm-bindgen on the way in or out.
//!
//! Anything the fast path does not sign — a field count that does not match (a field held a
//! NUL), text that is not UTF-8, or any error — answers 0, and the caller then uses the
//! general `sign`, which signs the same inputs with the same core call (or throws the
//! `XNonceError`): the result never depends on the path taken.
//!
//! The input buffer holds the secret only during a call: it is zeroized before the call
//! returns. One fast path per module instance (the package's `sign`) owns the buffers: a
//! second one growing the input buffer would leave the first writing where it was. A call made
//! while one is under way (from a mocked `Date.now` or `crypto.getRandomValues`) takes the
//! general path: `js/fast_sign.js` sends it there, and the functions here answer 0 for it.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use zeroize::Zeroize;

use crate::env::JsEnvironment;

/// Room for any header value (the longest, a v2 header with a 128-byte client, is ~250).
const HEADER_CAPACITY: usize = 1024;

struct Buffers {
    /// The packed request then, right after it, the body (written by JS).
    input: Vec<u8>,
    /// The header value last signed, for JS to read (its address never changes).
    header: Box<[u8; HEADER_CAPACITY]>,
    /// Where core writes the header (reused).
    text: String,
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers {
        input: Vec::new(),
        header: Box::new([0; HEADER_CAPACITY]),
        text: String::with_capacity(HEADER_CAPACITY),
    });
}

/// The address of the input buffer, grown to at least `capacity` bytes, or 0 when the
/// module's memory has no room for it (the buffer is then empty, and the caller takes the
/// general path). The address stays valid until a call that grows it (JS keeps it with the
/// capacity it asked for).
///
/// The old buffer is freed before the new one is asked for, and a failed allocation is
/// reported rather than aborting: an abort would leave `BUFFERS` borrowed, and every later
/// call trapping.
#[wasm_bindgen(js_name = packedInput, skip_typescript)]
pub fn packed_input(capacity: u32) -> u32 {
    BUFFERS.with(|b| {
        // Taken by a call under way (re-entered from a mocked clock or generator): 0, the
        // general path (a panic here would trap, and poison the module).
        let Ok(mut buffers) = b.try_borrow_mut() else {
            return 0;
        };
        let input = &mut buffers.input;
        let capacity = capacity as usize;
        if input.len() < capacity {
            input.zeroize();
            *input = Vec::new();
            if input.try_reserve_exact(capacity).is_err() {
                return 0;
            }
            input.resize(capacity, 0);
        }
        input.as_ptr() as u32
    })
}

/// The address of the header buffer (fixed for the module's life).
#[wasm_bindgen(js_name = packedHeader, skip_typescript)]
pub fn packed_header() -> u32 {
    BUFFERS.with(|b| b.borrow().header.as_ptr() as u32)
}

/// Signs the packed request in the first `len` bytes of the input buffer (`pairs` params;
/// `body_len` bytes of body right after it, or -1 for none) and returns the length of the
/// header value left in the header buffer, or 0 when the caller must take the general path.
/// The packed text is zeroized before returning (it held the secret; the body after it is
/// the caller's data, as it is in any other buffer the caller passed).
#[wasm_bindgen(js_name = signPackedInput, skip_typescript)]
pub fn sign_packed_input(len: u32, pairs: u32, timestamp: Option<f64>, body_len: i32) -> u32 {
    BUFFERS.with(|b| {
        // Taken by a call under way: core calls `Date.now` and `crypto.getRandomValues` while
        // it holds the buffers, and a mocked one may sign again. `js/fast_sign.js` sends such
        // a call to the general path; were one to come here, it gets 0 (the general path)
        // rather than a panic (a trap: "RuntimeError: unreachable").
        let Ok(mut buffers) = b.try_borrow_mut() else {
            return 0;
        };
        let Buffers {
            input,
            header,
            text,
        } = &mut *buffers;
        let used = (len as usize)
            .saturating_add(body_len.max(0) as usize)
            .min(input.len());
        text.clear();
        let ok = sign(
            &input[..used],
            len as usize,
            pairs,
            timestamp,
            body_len,
            text,
        );
        input[..(len as usize).min(used)].zeroize();
        match header.get_mut(..text.len()) {
            Some(out) if ok => {
                out.copy_from_slice(text.as_bytes());
                text.len() as u32
            }
            _ => 0,
        }
    })
}

/// Signs into `out`; false when the general path must sign instead.
fn sign(
    input: &[u8],
    len: usize,
    pairs: u32,
    timestamp: Option<f64>,
    body_len: i32,
    out: &mut String,
) -> bool {
    let body = match usize::try_from(body_len) {
        Ok(n) => match input.get(len..len + n) {
            Some(body) => Some(body),
            None => return false,
        },
        Err(_) => None,
    };
    let Some(Ok(packed)) = input.get(..len).map(std::str::from_utf8) else {
        return false;
    };
    let Ok(timestamp) = timestamp
        .map(xnonce_core::header::timestamp_from_f64)
        .transpose()
    else {
        return false;
    };
    // A clock or generator that failed: the general path reports it (this one must not
    // throw while it holds the buffers).
    let env = JsEnvironment::new();
    let signed =
        xnonce_core::packed::sign_header_packed(packed, pairs as usize, timestamp, body, &env, out);
    matches!(signed, Ok(true)) && !env.failed()
}

/// This module's `WebAssembly.Memory`, where the buffers live.
#[wasm_bindgen(js_name = packedMemory, skip_typescript)]
pub fn packed_memory() -> JsValue {
    wasm_bindgen::memory()
}
