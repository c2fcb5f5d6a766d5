//! Node.js binding of xnonce, the npm package `xnonce` (see `README.md` in this folder).
//!
//! Thin by design: every byte of every token comes from `xnonce-core`. This crate only
//! converts JavaScript values (in [`params`]) and maps errors (in [`error`]), each in one place.
#![deny(missing_docs)]
// Not a Rust API (its users call it from JavaScript): its docs describe its internals and may
// link private items.
#![allow(rustdoc::private_intra_doc_links)]

pub mod answer;
pub mod error;
pub mod header;
pub mod options;
pub mod params;
mod reentry;
pub mod replay;
pub mod request;
pub mod requester;
pub mod sign;
mod symbols;
pub mod time_hint;
pub mod verify;
