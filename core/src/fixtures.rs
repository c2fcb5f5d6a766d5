//! Fixtures shared by core's unit tests.

use crate::{FixedEnvironment, Secret};

/// The secret of em-secure-api's README and of the shared vectors (64 hex: valid for v1 and v2).
pub(crate) const SECRET: &str = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd";

/// [`SECRET`] as a [`Secret`].
pub(crate) fn secret() -> Secret {
    Secret::new(SECRET).unwrap()
}

/// A fixed clock (2023-11-14T22:13:20Z) and nonce.
pub(crate) fn env() -> FixedEnvironment {
    FixedEnvironment {
        now_ms: 1_700_000_000_000,
        nonce: [7; 16],
    }
}
