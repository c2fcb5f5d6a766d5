//! `SharedKeys`: core's key names and expiries for a replay store shared by processes
//! (`redisReplayStore` writes them; the reference server and Python write the same).

use napi::Env;
use napi_derive::napi;
use xnonce_core::replay::shared::{self, CLOCK_MARGIN_MS, DEFAULT_PREFIX};

use crate::error::{guard, invalid_arg_value};
use crate::params::{timestamp_ms, Millis};

/// The reference server's key prefix (`[replay] key_prefix`), the default of `SharedKeys`.
#[napi(js_name = "SHARED_KEYS_DEFAULT_PREFIX")]
pub const SHARED_KEYS_DEFAULT_PREFIX: &str = DEFAULT_PREFIX;

/// How much longer than its request's window a shared key is kept (ms).
#[napi(js_name = "SHARED_KEYS_CLOCK_MARGIN_MS")]
pub const SHARED_KEYS_CLOCK_MARGIN_MS: u32 = CLOCK_MARGIN_MS as u32;

/// The shared replay store's key names under one prefix, and their expiries (core's
/// `replay::shared`).
#[napi]
pub struct SharedKeys {
    inner: shared::SharedKeys,
}

#[napi]
impl SharedKeys {
    /// Keys under `prefix` (default `"xnonce:replay:"`); a prefix holding `{` or `}` throws a
    /// `TypeError` (`ERR_INVALID_ARG_VALUE`).
    #[napi(constructor, strict)]
    pub fn new(env: &Env, prefix: Option<String>) -> napi::Result<Self> {
        let prefix = prefix.as_deref().unwrap_or(DEFAULT_PREFIX);
        guard(env, || {
            let inner =
                shared::SharedKeys::new(prefix).map_err(|e| invalid_arg_value(env, "prefix", e))?;
            Ok(SharedKeys { inner })
        })
    }

    /// The prefix.
    #[napi(getter)]
    pub fn prefix(&self) -> String {
        self.inner.prefix().to_string()
    }

    /// The shared key of a replay key: `<prefix>{<replay key>}`.
    #[napi(strict)]
    pub fn key(&self, replay_key: String) -> String {
        self.inner.key(&replay_key)
    }

    /// How long (ms) to keep the key of a request remembered until `expiresAtMs`, at `nowMs`:
    /// the rest of the window plus `CLOCK_MARGIN_MS`. Timestamps as the verifier gives them
    /// (`invalid_timestamp` otherwise).
    #[napi(
        strict,
        ts_args_type = "expiresAtMs: number | bigint, nowMs: number | bigint"
    )]
    pub fn ttl_ms(&self, env: &Env, expires_at_ms: Millis, now_ms: Millis) -> napi::Result<f64> {
        guard(env, || {
            let expires_at_ms = timestamp_ms(Some(expires_at_ms))?.unwrap_or_default();
            let now_ms = timestamp_ms(Some(now_ms))?.unwrap_or_default();
            Ok(self.inner.ttl_ms(expires_at_ms, now_ms) as f64)
        })
    }
}
