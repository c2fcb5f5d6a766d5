//! xnonce's conformance material: the vector format, a checker that runs vectors through
//! `xnonce-core`, and the generator of the v2 vectors.
//!
//! The v1 vectors (`vectors/em-secure-api-v1.json`) are ground truth made by the original
//! Ruby code. The generated files (`xnonce-v2.json`, `xnonce-v1-extra.json`) are produced by
//! *this* implementation: they are a regression gate and a cross-language contract, not
//! independent truth.

#![warn(missing_docs)]

pub mod check;
pub mod generate;
pub mod server_suite;
pub mod vector;
