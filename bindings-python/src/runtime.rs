//! The tokio runtime that drives `Requester` and `AsyncRequester`: one per process.
//!
//! A process made by `fork()` (gunicorn `--preload`, `multiprocessing`'s default start method
//! on Linux, Celery's prefork pool) inherits a copy of its parent's runtime without the
//! runtime's worker threads: a request spawned on it never runs, and its timeout, a timer of
//! that runtime, never fires either. So the runtime is looked up by [`Process`]: a child
//! process builds its own on first use, and leaves the inherited copy alone (it is leaked,
//! never dropped: shutting it down would wait for threads that do not exist in the child).
//!
//! A process is its pid *and* the number of forks its memory has been through: a pid alone
//! is reused once its process has been reaped, so a descendant can have the very pid of the
//! ancestor whose runtime it inherited (P makes a request and exits, its child forks G, and G
//! gets P's pid: a daemon's double fork and a prefork pool's worker recycling, once pids
//! wrap). By pid alone G took P's runtime for its own and its requests hung for ever.

use std::future::Future;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, Once, PoisonError};
use std::time::Duration;

use pyo3::prelude::*;
use tokio::runtime::{Builder, Runtime};

/// How many forks this process's memory has been through: bumped in the child of every
/// `fork()` by [`watch_forks`]' handler.
static FORKS: AtomicU32 = AtomicU32::new(0);

/// The `pthread_atfork` child handler: runs in the child, before `fork()` returns there.
#[cfg(unix)]
extern "C" fn forked() {
    FORKS.fetch_add(1, Ordering::SeqCst);
}

/// Counts forks from now on (called when the module is imported, before any runtime or
/// requester exists; registered once per process, which its children inherit).
pub fn watch_forks() {
    static WATCHING: Once = Once::new();
    #[cfg(unix)]
    WATCHING.call_once(|| {
        extern "C" {
            // POSIX; in every Unix libc.
            fn pthread_atfork(
                prepare: Option<extern "C" fn()>,
                parent: Option<extern "C" fn()>,
                child: Option<extern "C" fn()>,
            ) -> std::os::raw::c_int;
        }
        // SAFETY: registers a handler that only increments an atomic (async-signal-safe, as a
        // handler running in a forked child must be). It fails only without memory (ENOMEM),
        // leaving the pid alone to tell processes apart, as before.
        unsafe { pthread_atfork(None, None, Some(forked)) };
    });
    #[cfg(not(unix))]
    WATCHING.call_once(|| {});
}

/// This process: its pid and the forks its memory has been through, as one number (never 0:
/// no process has pid 0).
pub type Process = u64;

/// The [`Process`] this is.
pub fn current() -> Process {
    (u64::from(FORKS.load(Ordering::SeqCst)) << 32) | u64::from(std::process::id())
}

/// The [`Process`] the runtime in [`RUNTIME`] was built in (0: none built yet).
static BUILT_IN: AtomicU64 = AtomicU64::new(0);
/// The runtime of process [`BUILT_IN`], leaked (lives as long as the process).
static RUNTIME: AtomicPtr<Runtime> = AtomicPtr::new(std::ptr::null_mut());
/// Held while a process builds its runtime.
static BUILDING: Mutex<()> = Mutex::new(());

/// The runtime of this process, built on first use (in a forked child: its own).
pub fn get() -> &'static Runtime {
    let process = current();
    if let Some(rt) = of(process) {
        return rt;
    }
    let _building = BUILDING.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(rt) = of(process) {
        return rt;
    }
    let rt: &'static Runtime = Box::leak(Box::new(
        Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("xnonce: cannot start the tokio runtime"),
    ));
    // The runtime first, then the process that makes it visible (read in that order by `of`).
    RUNTIME.store(std::ptr::from_ref(rt).cast_mut(), Ordering::Release);
    BUILT_IN.store(process, Ordering::Release);
    rt
}

/// The runtime built by `process`, if it built one.
fn of(process: Process) -> Option<&'static Runtime> {
    if BUILT_IN.load(Ordering::Acquire) != process {
        return None;
    }
    // SAFETY: `BUILT_IN` holds `process` only once `RUNTIME` points at the runtime that
    // process built (stored before it, with `Release`), which is leaked and never freed.
    unsafe { RUNTIME.load(Ordering::Acquire).as_ref() }
}

/// True when this is still `process` (not a child forked from it since, whatever its pid).
pub fn same_process(process: Process) -> bool {
    current() == process
}

/// How often [`wait`] looks for a pending signal (Ctrl-C) while it waits.
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// Runs `fut` on this process's runtime and waits for its output on this thread, the GIL
/// released meanwhile. A signal handler that raises (Ctrl-C: `KeyboardInterrupt`) ends the
/// wait within [`SIGNAL_CHECK`], aborting `fut`; `None` when `fut` panicked.
pub fn wait<F>(py: Python<'_>, fut: F) -> PyResult<Option<F::Output>>
where
    F: Future + Send + 'static,
    F::Output: Send,
{
    let (done, outcome) = std::sync::mpsc::sync_channel(1);
    let task = get().spawn(async move {
        let _ = done.send(fut.await);
    });
    let mut outcome = outcome;
    loop {
        // The receiver is Send, not Sync: moved into the GIL-free wait and back.
        let (received, back) = py.detach(move || (outcome.recv_timeout(SIGNAL_CHECK), outcome));
        outcome = back;
        match received {
            Ok(output) => return Ok(Some(output)),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if let Err(interrupted) = py.check_signals() {
                    task.abort();
                    return Err(interrupted);
                }
            }
            // The task ended without sending: it panicked (the runtime is never shut down).
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(None),
        }
    }
}
