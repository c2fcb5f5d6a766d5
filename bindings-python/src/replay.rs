//! `SharedKeys`: core's key names and expiries for a replay store shared by processes
//! (`xnonce.redis.RedisReplayStore` writes them; other languages' stores write the same).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use xnonce_core::replay::shared::{SharedKeys, CLOCK_MARGIN_MS, DEFAULT_FENCE_MS, DEFAULT_PREFIX};

use crate::convert::{named, Millis, Setting};

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

    /// How long a store refuses every request once Redis lost its keys, for the default
    /// 30 s window (ms): twice the window plus `CLOCK_MARGIN_MS`.
    #[classattr]
    const DEFAULT_FENCE_MS: u64 = DEFAULT_FENCE_MS;

    /// Keys under `prefix`; `ValueError` if it holds `{` or `}`, or a lone surrogate.
    #[new]
    #[pyo3(signature = (prefix = Setting::lit(DEFAULT_PREFIX)))]
    fn new(prefix: Setting<'_, named::Prefix>) -> PyResult<Self> {
        let inner = SharedKeys::new(&prefix).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(PySharedKeys { inner })
    }

    /// The prefix.
    #[getter]
    fn prefix(&self) -> &str {
        self.inner.prefix()
    }

    /// The epoch marker's key, `<prefix>epoch`: a random value without expiry that every
    /// store sharing the prefix reads to notice a Redis that lost its keys.
    #[getter]
    fn epoch_key(&self) -> String {
        self.inner.epoch_key()
    }

    /// The shared key of a replay key: `<prefix>{<replay key>}`. `ValueError` for a
    /// replay key holding a lone surrogate (a verifier's never does).
    fn key(&self, replay_key: Setting<'_, named::ReplayKey>) -> String {
        self.inner.key(&replay_key)
    }

    /// How long (ms) to keep the key of a request remembered until `expires_at_ms`, at
    /// `now_ms`: the rest of the window plus `CLOCK_MARGIN_MS`. Timestamps as the verifier
    /// gives them: an `int` in `0..=2**53-1`, else `InputError` `invalid_timestamp` (as a
    /// `float` or `bool`); a value that is not a number is a `TypeError`.
    fn ttl_ms(&self, expires_at_ms: Millis, now_ms: Millis) -> u64 {
        self.inner.ttl_ms(expires_at_ms.0, now_ms.0)
    }

    fn __repr__(&self) -> String {
        format!("SharedKeys({:?})", self.inner.prefix())
    }
}
