//! Rust futures as asyncio awaitables, without ever touching Python from a Rust thread once
//! the interpreter may be finalizing.
//!
//! `pyo3_async_runtimes::tokio::future_into_py` (0.27) completes its asyncio future from a
//! tokio blocking thread with `Python::attach`, also after the future was cancelled (only to
//! find it cancelled). When the awaiting code was cancelled and the program then exits, that
//! late attach races interpreter finalization: pyo3 panics ("The Python interpreter is not
//! initialized"), or CPython aborts in `PyGILState_Release`, or the process segfaults. This
//! module is the replacement used by `AsyncRequester`:
//!
//! * the Rust future returns plain Rust values; the Python objects (the `Response`, the
//!   exception) are built on the event loop's thread, in the callback that completes the
//!   future ([`Complete`]), never on a tokio thread;
//! * cancelling the asyncio future aborts the tokio task ([`Cancel`]): the request is dropped
//!   and nothing touches Python afterwards;
//! * the one thing a tokio thread does with Python, handing the result to the loop with
//!   `call_soon_threadsafe`, goes through a process-wide gate ([`with_python`]). An `atexit`
//!   hook ([`close_gate`], registered when the module is imported, so it runs while the
//!   interpreter is still whole) closes the gate and waits, with the GIL released, for the
//!   threads already inside it. After that no Rust thread attaches to Python again.
//!   A request started after that (by an exit hook that runs later) is run to its end on
//!   the loop's thread instead, which waits for it with the GIL released.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

/// Whether Rust threads may still attach to Python, and how many are attached right now (or
/// waiting for the GIL to attach), in process `process`.
struct GateState {
    process: crate::runtime::Process,
    closed: bool,
    inside: usize,
}

static GATE: Mutex<GateState> = Mutex::new(GateState {
    process: 0,
    closed: false,
    inside: 0,
});
static GATE_LEFT: Condvar = Condvar::new();

/// The gate of this process. A child made by `fork()` starts with no thread inside: the
/// threads its parent counted (a tokio thread waiting for the GIL while the parent's event
/// loop thread forked) do not exist in the child, whose exit hook would otherwise wait its
/// full 10 s for them.
fn gate() -> MutexGuard<'static, GateState> {
    let mut g = GATE.lock().unwrap_or_else(PoisonError::into_inner);
    let process = crate::runtime::current();
    if g.process != process {
        g.process = process;
        g.inside = 0;
    }
    g
}

/// Leaves the gate when dropped (also if `f` panicked).
struct Inside;

impl Drop for Inside {
    fn drop(&mut self) {
        gate().inside -= 1;
        GATE_LEFT.notify_all();
    }
}

/// Runs `f` attached to Python from a thread that Python did not start, unless the interpreter
/// is shutting down (then `None`, and `f`, with whatever it captured, is dropped unrun: the
/// Python references it holds go to pyo3's deferred reference pool, no Python call is made).
fn with_python<R>(f: impl FnOnce(Python<'_>) -> R) -> Option<R> {
    {
        let mut g = gate();
        if g.closed {
            return None;
        }
        g.inside += 1;
    }
    let _inside = Inside;
    Some(Python::attach(f))
}

/// The `atexit` hook: closes the gate, then waits (GIL released, at most 10 s) until no Rust
/// thread is attached through it. Threads still waiting for the GIL get it meanwhile.
#[pyfunction]
pub fn close_gate(py: Python<'_>) {
    gate().closed = true;
    py.detach(|| {
        let g = gate();
        let _ = GATE_LEFT
            .wait_timeout_while(g, Duration::from_secs(10), |g| g.inside > 0)
            .unwrap_or_else(PoisonError::into_inner);
    });
}

/// Registers [`close_gate`] with `atexit` (called once, when the module is imported).
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let hook = wrap_pyfunction!(close_gate, m)?;
    m.py().import("atexit")?.call_method1("register", (hook,))?;
    Ok(())
}

/// Turns a finished Rust result into the future's result (on the loop's thread, GIL held).
pub trait Outcome: Send + 'static {
    /// `Ok(value)` for `set_result`, `Err(exception)` for `set_exception`.
    fn into_py(self, py: Python<'_>) -> PyResult<Py<PyAny>>;
}

/// Builds the future's result on the loop's thread: `Ok` for `set_result`, `Err` for
/// `set_exception`.
type Build = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// What a task hands to the loop: its outcome, or the panic that ended it.
enum Finished<T> {
    Done(T),
    Panicked,
}

/// The callback that completes the asyncio future, scheduled on its loop with
/// `call_soon_threadsafe`; builds every Python object there.
#[pyclass(frozen)]
struct Complete {
    finished: Mutex<Option<Build>>,
}

#[pymethods]
impl Complete {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = future.py();
        let Some(build) = self
            .finished
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return Ok(());
        };
        if future.call_method0("done")?.is_truthy()? {
            return Ok(()); // cancelled meanwhile
        }
        match build(py) {
            Ok(value) => future.call_method1("set_result", (value,))?,
            Err(e) => future.call_method1("set_exception", (e.into_value(py),))?,
        };
        Ok(())
    }
}

/// The future's done callback: a cancelled future aborts its tokio task.
#[pyclass(frozen)]
struct Cancel {
    cancelled: Arc<AtomicBool>,
    abort: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

#[pymethods]
impl Cancel {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0("cancelled")?.is_truthy()? {
            self.cancelled.store(true, Ordering::SeqCst);
            if let Some(abort) = self
                .abort
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
            {
                abort();
            }
        }
        Ok(())
    }
}

static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The error of a request whose task panicked.
pub const PANICKED: &str = "xnonce: the request task panicked (a bug: please report it)";

/// Runs `fut` on the shared tokio runtime and returns an `asyncio.Future` of its outcome,
/// bound to the running event loop (a `RuntimeError` when there is none).
pub fn future_into_py<'py, F>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future + Send + 'static,
    F::Output: Outcome,
{
    let event_loop = GET_RUNNING_LOOP
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(py.import("asyncio")?.getattr("get_running_loop")?.unbind())
        })?
        .bind(py)
        .call0()?;
    let future = event_loop.call_method0("create_future")?;

    // The gate is closed once xnonce's exit hook has run; an exit hook that runs after it
    // still has a whole interpreter and may await a request, but no tokio thread may hand it
    // the answer any more (it would never come): the request runs to its end here, on the
    // loop's thread, and the future is done when returned.
    if gate().closed {
        let build: Build = match crate::runtime::wait(py, fut)? {
            Some(outcome) => Box::new(move |py| outcome.into_py(py)),
            None => Box::new(|_| Err(PyRuntimeError::new_err(PANICKED))),
        };
        Complete {
            finished: Mutex::new(Some(build)),
        }
        .__call__(&future)?;
        return Ok(future);
    }

    let runtime = crate::runtime::get();
    let cancelled = Arc::new(AtomicBool::new(false));
    // The request runs in its own task, so that a panic in it is reported (below) instead of
    // leaving the awaitable pending forever, and so that cancelling aborts just the request.
    let work = runtime.spawn(fut);
    let abort = work.abort_handle();
    future.call_method1(
        "add_done_callback",
        (Cancel {
            cancelled: cancelled.clone(),
            abort: Mutex::new(Some(Box::new(move || abort.abort()))),
        },),
    )?;

    let loop_ref = event_loop.unbind();
    let future_ref = future.clone().unbind();
    runtime.spawn(async move {
        let finished = match work.await {
            Ok(outcome) => Finished::Done(outcome),
            Err(e) if e.is_panic() => Finished::Panicked,
            // Aborted: the asyncio future was cancelled; nothing to hand over.
            Err(_) => return,
        };
        if cancelled.load(Ordering::SeqCst) {
            return;
        }
        let build: Build = match finished {
            Finished::Done(outcome) => Box::new(move |py| outcome.into_py(py)),
            Finished::Panicked => Box::new(|_| Err(PyRuntimeError::new_err(PANICKED))),
        };
        with_python(move |py| {
            let complete = Complete {
                finished: Mutex::new(Some(build)),
            };
            // A closed loop (the program moved on) refuses the callback: nobody awaits the
            // result any more, so the error is dropped rather than reported.
            let _ = loop_ref
                .bind(py)
                .call_method1("call_soon_threadsafe", (complete, future_ref.bind(py)));
            drop(future_ref);
            drop(loop_ref);
        });
    });
    Ok(future)
}
