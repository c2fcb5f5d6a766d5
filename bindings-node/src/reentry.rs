//! Calls from the binding into the caller's JavaScript — a secrets lookup, an iterable's
//! `Symbol.iterator` — that may call the binding again. Legitimate nesting is shallow (a
//! lookup that verifies one more request); a callback that calls back without end would
//! otherwise nest native frames until the process dies of a stack overflow (SIGSEGV) rather
//! than throwing. Past [`MAX_NESTED`] levels the call is refused with a `RangeError`, as
//! JavaScript refuses a recursion too deep.

use std::cell::Cell;

use napi::Env;

use crate::error::{range_error, Outcome};

/// How many calls into the caller's JavaScript may be in progress at once on this thread.
pub(crate) const MAX_NESTED: u32 = 16;

thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Runs `call` (which calls the caller's JavaScript) one level deeper, or refuses it with a
/// `RangeError` (code `ERR_XNONCE_NESTED_TOO_DEEP`) past [`MAX_NESTED`] levels.
pub(crate) fn calling_js<T>(env: &Env, call: impl FnOnce() -> Outcome<T>) -> Outcome<T> {
    struct Level;
    impl Drop for Level {
        fn drop(&mut self) {
            DEPTH.with(|d| d.set(d.get() - 1));
        }
    }
    let depth = DEPTH.with(|d| {
        d.set(d.get() + 1);
        d.get()
    });
    let _level = Level;
    if depth > MAX_NESTED {
        return Err(range_error(
            env,
            "ERR_XNONCE_NESTED_TOO_DEEP",
            format!(
                "Maximum xnonce call depth exceeded: a callback (a secrets lookup, an \
                 iterable's Symbol.iterator) called back into xnonce more than {MAX_NESTED} \
                 levels deep"
            ),
        ));
    }
    call()
}
