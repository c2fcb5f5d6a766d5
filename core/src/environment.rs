//! Where time and randomness come from. The core never reads them itself: signing takes an
//! [`Environment`] so that tests and vectors are deterministic and so that targets without a
//! system clock (wasm32) can supply their own (`Date.now`, `crypto.getRandomValues`).
//!
//! ```
//! use xnonce_core::{sign_header_value_with, Environment, FixedEnvironment, Scheme, Secret, SignInput, SystemEnvironment};
//! // A clock of your own (here: one that lags a second behind the system's).
//! struct Lagging;
//! impl Environment for Lagging {
//!     fn now_ms(&self) -> u64 { SystemEnvironment.now_ms() - 1_000 }
//!     fn random_nonce(&self) -> [u8; 16] { SystemEnvironment.random_nonce() }
//! }
//! let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
//! let input = SignInput::new(Scheme::V2, "GET", "/admin/status", "svc").host("api.test");
//! assert!(sign_header_value_with(&input, &secret, &Lagging)?.starts_with("v2 svc "));
//! // Reproducible output: a fixed clock and nonce.
//! let fixed = FixedEnvironment { now_ms: 1_700_000_000_000, nonce: [0xab; 16] };
//! assert_eq!(
//!     sign_header_value_with(&input, &secret, &fixed)?,
//!     sign_header_value_with(&input, &secret, &fixed)?
//! );
//! # Ok::<(), xnonce_core::Error>(())
//! ```

/// A source of the current time and of nonces.
pub trait Environment {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
    /// 16 bytes from a cryptographically secure generator.
    fn random_nonce(&self) -> [u8; 16];
}

/// The system clock and the OS CSPRNG.
#[cfg(feature = "os")]
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemEnvironment;

#[cfg(feature = "os")]
impl Environment for SystemEnvironment {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }

    fn random_nonce(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        // The OS generator failing is not recoverable and must never yield a predictable nonce.
        getrandom::getrandom(&mut b).expect("the OS random generator failed");
        b
    }
}

/// A fixed clock and nonce, for tests and reproducible examples.
#[derive(Debug, Clone, Copy)]
pub struct FixedEnvironment {
    /// The time returned by `now_ms`.
    pub now_ms: u64,
    /// The bytes returned by `random_nonce`.
    pub nonce: [u8; 16],
}

impl Environment for FixedEnvironment {
    fn now_ms(&self) -> u64 {
        self.now_ms
    }
    fn random_nonce(&self) -> [u8; 16] {
        self.nonce
    }
}

#[cfg(all(test, feature = "os"))]
mod tests {
    use super::*;
    use std::time::{SystemTime, UNIX_EPOCH};

    fn system_ms() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    }

    #[test]
    fn the_system_clock_reads_milliseconds_since_the_epoch() {
        let before = system_ms();
        let now = SystemEnvironment.now_ms();
        let after = system_ms();
        assert!(before <= now && now <= after, "{before} ≤ {now} ≤ {after}");
    }

    #[test]
    fn system_nonces_come_from_a_random_generator() {
        let nonces: std::collections::HashSet<[u8; 16]> =
            (0..64).map(|_| SystemEnvironment.random_nonce()).collect();
        assert_eq!(nonces.len(), 64, "64 draws, 64 different nonces");
        // Every byte position takes more than one value across the draws.
        for i in 0..16 {
            let values: std::collections::HashSet<u8> = nonces.iter().map(|n| n[i]).collect();
            assert!(values.len() > 1, "byte {i} never changes");
        }
    }
}
