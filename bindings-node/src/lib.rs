//! Node.js binding of xnonce, the npm package `xnonce` (see `README.md` in this folder).
//!
//! Thin by design: every byte of every token comes from `xnonce-core`. This crate only
//! converts JavaScript values (in [`params`]) and maps errors (in [`error`]), each in one place.
#![deny(missing_docs)]

pub mod answer;
pub mod error;
pub mod header;
pub mod params;
pub mod request;
pub mod requester;
pub mod sign;
pub mod verify;
