//! `SharedKeys`: core's key names and expiries for a replay store shared by processes
//! (`xnonce.redis.RedisReplayStore` writes them; other languages' stores write the same).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use xnonce_core::replay::shared::{SharedKeys, CLOCK_MARGIN_MS, DEFAULT_PREFIX};

/// The shared replay store's key names under one prefix, and their expiries: core's
/// `replay::shared`.
#[pyclass(frozen, module = "xnonce.redis", name = "SharedKeys")]
pub struct PySharedKeys {
    inner: SharedKeys,
}

#[pymethods]
impl PySharedKeys {
    /// The reference server's key prefix (`[replay] key_prefix`).
    #[classattr]
    const DEFAULT_PREFIX: &'static str = DEFAULT_PREFIX;

    /// How much longer than its request's window a key is kept (ms).
    #[classattr]
    const CLOCK_MARGIN_MS: u64 = CLOCK_MARGIN_MS;

    /// Keys under `prefix`; `ValueError` if it holds `{` or `}`.
    #[new]
    #[pyo3(signature = (prefix = DEFAULT_PREFIX))]
    fn new(prefix: &str) -> PyResult<Self> {
        let inner = SharedKeys::new(prefix).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(PySharedKeys { inner })
    }

    /// The prefix.
    #[getter]
    fn prefix(&self) -> &str {
        self.inner.prefix()
    }

    /// The shared key of a replay key: `<prefix>{<replay key>}`.
    fn key(&self, replay_key: &str) -> String {
        self.inner.key(replay_key)
    }

    /// How long (ms) to keep the key of a request remembered until `expires_at_ms`, at
    /// `now_ms`: the rest of the window plus `CLOCK_MARGIN_MS`.
    fn ttl_ms(&self, expires_at_ms: u64, now_ms: u64) -> u64 {
        self.inner.ttl_ms(expires_at_ms, now_ms)
    }

    fn __repr__(&self) -> String {
        format!("SharedKeys({:?})", self.inner.prefix())
    }
}
