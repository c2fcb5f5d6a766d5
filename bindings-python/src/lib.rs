//! `xnonce._xnonce`: the compiled part of the `xnonce` Python package (PyPI name `xnonce`).
//!
//! A thin layer over `xnonce-core`: every byte of every token comes from core. Modules:
//! [`errors`] (the exception hierarchy and the ONE error mapping), [`convert`] (Python values
//! → core inputs), [`sign`] (sign, link, headers, ottokens), [`verify`] (`Verifier`), [`answer`]
//! (the HTTP answer to a refusal), [`replay`] (a shared store's keys), [`requester`]
//! (`Requester`, `AsyncRequester`), [`bridge`] (Rust futures as asyncio awaitables), [`runtime`]
//! (the tokio runtime that drives them, one per process).

#![warn(missing_docs)]
// Not a Rust API (its users call it from Python): its docs describe its internals and may
// link private items.
#![allow(rustdoc::private_intra_doc_links)]

use pyo3::prelude::*;

/// Small, short-lived allocations dominate a `sign` call; mimalloc serves them faster than the
/// system allocator (the Python interpreter keeps its own).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod answer;
pub mod bridge;
pub mod convert;
pub mod errors;
pub mod replay;
pub mod requester;
pub mod runtime;
pub mod sign;
pub mod verify;

/// The extension module `xnonce._xnonce` (re-exported by the `xnonce` package).
#[pymodule]
fn _xnonce(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Before any runtime or requester exists: they tell processes apart by it.
    runtime::watch_forks();
    errors::register(m)?;
    bridge::register(m)?;
    m.add_class::<convert::PySecret>()?;
    m.add_class::<sign::PySigned>()?;
    m.add_class::<sign::PyLink>()?;
    m.add_class::<sign::PyHeader>()?;
    m.add_class::<verify::PyVerified>()?;
    m.add_class::<verify::PyVerifier>()?;
    m.add_class::<answer::PyAnswer>()?;
    m.add_class::<replay::PySharedKeys>()?;
    m.add_class::<requester::PyResponse>()?;
    m.add_class::<requester::PyRequester>()?;
    m.add_class::<requester::PyAsyncRequester>()?;
    m.add_function(wrap_pyfunction!(errors::error_from_code, m)?)?;
    m.add_function(wrap_pyfunction!(sign::sign, m)?)?;
    m.add_function(wrap_pyfunction!(sign::sign_detailed, m)?)?;
    m.add_function(wrap_pyfunction!(sign::link, m)?)?;
    m.add_function(wrap_pyfunction!(sign::link_detailed, m)?)?;
    m.add_function(wrap_pyfunction!(sign::sign_request, m)?)?;
    m.add_function(wrap_pyfunction!(sign::_check_signer, m)?)?;
    m.add_function(wrap_pyfunction!(sign::parse_header, m)?)?;
    m.add_function(wrap_pyfunction!(sign::server_time_from_answer, m)?)?;
    m.add_function(wrap_pyfunction!(requester::_check_clock, m)?)?;
    m.add_function(wrap_pyfunction!(sign::ottoken_encode, m)?)?;
    m.add_function(wrap_pyfunction!(sign::ottoken_decode, m)?)?;
    m.add_function(wrap_pyfunction!(sign::ottoken_query_value, m)?)?;
    m.add_function(wrap_pyfunction!(verify::content_type_for_app, m)?)?;
    m.add_function(wrap_pyfunction!(verify::form_content_type_misread, m)?)?;
    m.add_function(wrap_pyfunction!(verify::host_for_app, m)?)?;
    // A tuple: the shared vocabulary, which no caller can change by appending to it.
    m.add(
        "ERROR_CODES",
        pyo3::types::PyTuple::new(
            m.py(),
            xnonce_core::ErrorCode::ALL.iter().map(|c| c.as_str()),
        )?,
    )?;
    // Header fields frameworks read in place of the method: the middlewares remove them from
    // a request they accept (no signature covers them).
    m.add(
        "METHOD_OVERRIDE_FIELDS",
        pyo3::types::PyTuple::new(m.py(), xnonce_core::answer::METHOD_OVERRIDE_FIELDS)?,
    )?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
