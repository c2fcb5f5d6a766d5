#![doc = include_str!("../README.md")]
// `unsafe` only where allowed by name: SSE2 intrinsics in `sha256::lanes` (x86-64).
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod answer;
pub mod canonical;
pub mod client_id;
pub mod environment;
pub mod error;
#[cfg(test)]
mod fixtures;
pub mod header;
pub mod hex;
pub mod input;
pub mod link;
pub mod mac;
pub mod nonce;
pub mod ottoken;
pub mod packed;
pub mod params;
pub mod percent;
pub mod replay;
pub mod routes;
pub mod scheme;
pub mod secret;
mod sha256;
pub mod sign;
pub mod time_hint;
pub mod verify;
pub mod window;

#[cfg(feature = "os")]
pub use environment::SystemEnvironment;
pub use environment::{Environment, FixedEnvironment};
pub use error::{Error, ErrorCode, ErrorFamily, Result};
pub use header::XNonce;
pub use input::Input;
#[cfg(feature = "os")]
pub use link::link;
pub use link::{link_with, Link};
pub use params::Params;
pub use replay::{MemoryReplayStore, ReplayKey, ReplayStore, ReplayStoreError};
pub use routes::{ParamRule, RouteMatch, RouteTable};
pub use scheme::Scheme;
pub use secret::Secret;
#[cfg(feature = "os")]
pub use sign::{sign, sign_header_value};
pub use sign::{sign_header_value_with, sign_header_with, sign_with, SignInput, Signed};
pub use time_hint::ServerTimeHint;
pub use verify::{Incoming, SecretSource, Verified, Verifier};
pub use window::WindowPolicy;
