#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use xnonce_core as core;
pub use xnonce_core::{Error, ErrorCode, Scheme, Secret};

pub mod blocking;
pub mod cli;
mod requester;
mod wire;

pub use requester::{
    check_clock_offset, timeout_from_f64, RequestOptions, Requester, RequesterBuilder, Response,
    DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT,
};
