//! Where time and randomness come from. The core never reads them itself: signing takes an
//! [`Environment`] so that tests and vectors are deterministic and so that targets without a
//! system clock (wasm32) can supply their own (`Date.now`, `crypto.getRandomValues`).

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
