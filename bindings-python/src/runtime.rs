//! The tokio runtime that drives `Requester` and `AsyncRequester`: one per process.
//!
//! A process made by `fork()` (gunicorn `--preload`, `multiprocessing`'s default start method
//! on Linux, Celery's prefork pool) inherits a copy of its parent's runtime without the
//! runtime's worker threads: a request spawned on it never runs, and its timeout, a timer of
//! that runtime, never fires either. So the runtime is looked up by process id: a child
//! process builds its own on first use, and leaves the inherited copy alone (it is leaked,
//! never dropped: shutting it down would wait for threads that do not exist in the child).

use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};

use tokio::runtime::{Builder, Runtime};

/// The process the runtime in [`RUNTIME`] was built in (0: none built yet).
static PID: AtomicU32 = AtomicU32::new(0);
/// The runtime of process [`PID`], leaked (lives as long as the process).
static RUNTIME: AtomicPtr<Runtime> = AtomicPtr::new(std::ptr::null_mut());
/// Held while a process builds its runtime.
static BUILDING: Mutex<()> = Mutex::new(());

/// The runtime of this process, built on first use (in a forked child: its own).
pub fn get() -> &'static Runtime {
    let pid = std::process::id();
    if let Some(rt) = of(pid) {
        return rt;
    }
    let _building = BUILDING.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(rt) = of(pid) {
        return rt;
    }
    let rt: &'static Runtime = Box::leak(Box::new(
        Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("xnonce: cannot start the tokio runtime"),
    ));
    // The runtime first, then the pid that makes it visible (read in that order by `of`).
    RUNTIME.store(std::ptr::from_ref(rt).cast_mut(), Ordering::Release);
    PID.store(pid, Ordering::Release);
    rt
}

/// The runtime built by process `pid`, if it built one.
fn of(pid: u32) -> Option<&'static Runtime> {
    if PID.load(Ordering::Acquire) != pid {
        return None;
    }
    // SAFETY: `PID` holds `pid` only once `RUNTIME` points at the runtime that process
    // built (stored before it, with `Release`), which is leaked and never freed.
    unsafe { RUNTIME.load(Ordering::Acquire).as_ref() }
}

/// True when this is still the process `pid` (not a child forked from it since).
pub fn same_process(pid: u32) -> bool {
    std::process::id() == pid
}
