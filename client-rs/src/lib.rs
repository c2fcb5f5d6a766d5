//! xnonce for Rust: re-exports the signing core and adds the command-line surface.
//!
//! ```
//! use xnonce::core::{sign, Scheme, Secret, SignInput};
//! let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
//! let signed = sign(&SignInput::new(Scheme::V2, "GET", "/admin/status", "svc").host("127.0.0.1:8080"), &secret)?;
//! assert!(signed.x_nonce.starts_with("v2 svc "));
//! # Ok::<(), xnonce::core::Error>(())
//! ```

pub use xnonce_core as core;

pub mod cli;
