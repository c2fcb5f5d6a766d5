//! `SharedKeys`: core's key names and expiries for a replay store shared by processes
//! (`redisReplayStore` writes them; the reference server and Python write the same).

use napi::Env;
use napi_derive::napi;
use xnonce_core::header::MAX_TIMESTAMP_MS;
use xnonce_core::replay::shared::{self, CLOCK_MARGIN_MS, DEFAULT_FENCE_MS, DEFAULT_PREFIX};
use xnonce_core::ErrorCode;

use crate::error::{fail, guard, invalid_arg_value};
use crate::params::{timestamp_ms, Millis, Text};

/// Why a prefix or replay key with a lone surrogate is refused (napi would read it as
/// U+FFFD, and two different keys would then name one Redis key).
const ILL_FORMED: &str = "it is not valid Unicode text (it holds a lone surrogate)";

/// The reference server's key prefix (`[replay] key_prefix`), the default of `SharedKeys`.
#[napi(js_name = "SHARED_KEYS_DEFAULT_PREFIX")]
pub const SHARED_KEYS_DEFAULT_PREFIX: &str = DEFAULT_PREFIX;

/// How much longer than its request's window a shared key is kept (ms).
#[napi(js_name = "SHARED_KEYS_CLOCK_MARGIN_MS")]
pub const SHARED_KEYS_CLOCK_MARGIN_MS: u32 = CLOCK_MARGIN_MS as u32;

/// How long a store refuses every request once Redis lost its keys, for the default 30 s
/// window (ms): twice the window plus `SHARED_KEYS_CLOCK_MARGIN_MS`.
#[napi(js_name = "SHARED_KEYS_DEFAULT_FENCE_MS")]
pub const SHARED_KEYS_DEFAULT_FENCE_MS: u32 = DEFAULT_FENCE_MS as u32;

/// The shared replay store's key names under one prefix, and their expiries (core's
/// `replay::shared`).
#[napi]
pub struct SharedKeys {
    inner: shared::SharedKeys,
}

#[napi]
impl SharedKeys {
    /// Keys under `prefix` (default `"xnonce:replay:"`); a prefix holding `{` or `}`, or a
    /// lone surrogate, throws a `TypeError` (`ERR_INVALID_ARG_VALUE`).
    #[napi(
        constructor,
        strict,
        ts_args_type = "prefix?: string | undefined | null"
    )]
    pub fn new(env: &Env, prefix: Option<Text>) -> napi::Result<Self> {
        guard(env, || {
            let prefix = match prefix {
                Some(text) => text
                    .into_well_formed()
                    .ok_or_else(|| invalid_arg_value(env, "prefix", ILL_FORMED))?,
                None => DEFAULT_PREFIX.to_string(),
            };
            let inner = shared::SharedKeys::new(&prefix)
                .map_err(|e| invalid_arg_value(env, "prefix", e))?;
            Ok(SharedKeys { inner })
        })
    }

    /// The prefix.
    #[napi(getter)]
    pub fn prefix(&self) -> String {
        self.inner.prefix().to_string()
    }

    /// The epoch marker's key, `<prefix>epoch`: a random value without expiry that every
    /// store sharing the prefix reads to notice a Redis that lost its keys.
    #[napi(getter)]
    pub fn epoch_key(&self) -> String {
        self.inner.epoch_key()
    }

    /// The shared key of a replay key: `<prefix>{<replay key>}`. A replay key holding a lone
    /// surrogate throws a `TypeError` (`ERR_INVALID_ARG_VALUE`).
    #[napi(strict, ts_args_type = "replayKey: string")]
    pub fn key(&self, env: &Env, replay_key: Text) -> napi::Result<String> {
        guard(env, || {
            let replay_key = replay_key
                .into_well_formed()
                .ok_or_else(|| invalid_arg_value(env, "replayKey", ILL_FORMED))?;
            Ok(self.inner.key(&replay_key))
        })
    }

    /// How long (ms) to keep the key of a request remembered until `expiresAtMs`, at `nowMs`:
    /// the rest of the window plus `CLOCK_MARGIN_MS`. Timestamps as the verifier gives them
    /// (`invalid_timestamp` otherwise, and when the time to keep exceeds 2^53-1 ms, which a
    /// number cannot hold exactly).
    #[napi(
        strict,
        ts_args_type = "expiresAtMs: number | bigint, nowMs: number | bigint"
    )]
    pub fn ttl_ms(&self, env: &Env, expires_at_ms: Millis, now_ms: Millis) -> napi::Result<f64> {
        guard(env, || {
            let expires_at_ms = timestamp_ms(Some(expires_at_ms))?.unwrap_or_default();
            let now_ms = timestamp_ms(Some(now_ms))?.unwrap_or_default();
            let ttl = self.inner.ttl_ms(expires_at_ms, now_ms);
            // A number holds it exactly up to 2^53-1 only: refused beyond, never rounded.
            if ttl > MAX_TIMESTAMP_MS {
                return fail(
                    ErrorCode::InvalidTimestamp,
                    "expiresAtMs is too far after nowMs: the time to keep the key is beyond 2^53-1 ms",
                );
            }
            Ok(ttl as f64)
        })
    }
}
