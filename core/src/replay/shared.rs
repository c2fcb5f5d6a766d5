//! The keys and expiries of a replay store shared by several processes (one Redis behind
//! every instance of an API): what the reference server, the Python `RedisReplayStore` and the
//! Node `redisReplayStore` must all write alike, so that processes in any of those languages
//! can share one Redis and a request accepted by one is refused by every other.
//!
//! A replay key `K` is recorded as the key `<prefix>{K}` — `{` and `}` inside `K` replaced by
//! `_`, so the braces form exactly one hash tag — with a relative expiry of
//! [`SharedKeys::ttl_ms`]: the rest of the request's window plus [`CLOCK_MARGIN_MS`]. In Redis
//! that is one `SET <key> 1 NX PX <ttl>`: inserted only if absent, atomically for every
//! process, and dropped by Redis itself once the request would be stale anyway.

use std::fmt;

/// The default key prefix (the reference server's `[replay] key_prefix`).
pub const DEFAULT_PREFIX: &str = "xnonce:replay:";

/// How much longer than its request's `timestamp + window` a shared key is kept: 1 s.
///
/// A process accepts a request until `timestamp + window` *on its own clock*. If another
/// process's clock is behind the one that recorded the key, it would accept the same request
/// again between the key's expiry and `timestamp + window` on its slower clock; the margin
/// closes that gap for processes whose clocks differ by up to this much (what NTP keeps them
/// well within). Processes whose clocks differ by more are not covered: keep every clock
/// synchronised. Costs about `margin / window` more keys (≈ 3 % with a 30 s window).
pub const CLOCK_MARGIN_MS: u64 = 1_000;

/// How long a shared store refuses every request once it finds that Redis lost its keys
/// (restarted empty, flushed, replaced: its [`SharedKeys::epoch_key`] changed), for a
/// verifier whose longest window is `longest_window_ms`: twice that window (a request
/// accepted just before the loss may be dated a window ahead, and stays fresh a window after
/// its timestamp) plus [`CLOCK_MARGIN_MS`]. By then all that Redis may have forgotten is stale.
///
/// ```
/// use xnonce_core::replay::shared::{fence_ms, DEFAULT_FENCE_MS};
/// assert_eq!(fence_ms(5_000), 11_000);
/// assert_eq!(DEFAULT_FENCE_MS, fence_ms(30_000));
/// ```
pub const fn fence_ms(longest_window_ms: u64) -> u64 {
    longest_window_ms
        .saturating_mul(2)
        .saturating_add(CLOCK_MARGIN_MS)
}

/// [`fence_ms`] of the default window ([`crate::window::DEFAULT_WINDOW_MS`]): 61 s, what a
/// store that is not told its verifier's windows uses.
pub const DEFAULT_FENCE_MS: u64 = fence_ms(crate::window::DEFAULT_WINDOW_MS);

/// A key prefix holding `{` or `}`, which would break the key's one hash tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPrefix;

impl fmt::Display for InvalidPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the key prefix must not contain '{' or '}' (the key's hash tag)")
    }
}

impl std::error::Error for InvalidPrefix {}

/// The shared store's key names under one prefix, and their expiries.
///
/// ```
/// use xnonce_core::replay::shared::{SharedKeys, CLOCK_MARGIN_MS, DEFAULT_PREFIX};
/// let keys = SharedKeys::new(DEFAULT_PREFIX)?;
/// assert_eq!(keys.key("v2:svc:0011"), "xnonce:replay:{v2:svc:0011}");
/// // Accepted at 1 000 ms, valid until 31 000 ms: kept 30 s, plus the clock margin.
/// assert_eq!(keys.ttl_ms(31_000, 1_000), 30_000 + CLOCK_MARGIN_MS);
/// assert!(SharedKeys::new("app{1}:").is_err());
/// # Ok::<(), xnonce_core::replay::shared::InvalidPrefix>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedKeys {
    prefix: String,
}

impl SharedKeys {
    /// Keys under `prefix` (any text without `{` or `}`; use one prefix per deployment that
    /// shares a Redis, the same in every process of one API).
    pub fn new(prefix: &str) -> Result<SharedKeys, InvalidPrefix> {
        if prefix.contains(['{', '}']) {
            return Err(InvalidPrefix);
        }
        Ok(SharedKeys {
            prefix: prefix.to_string(),
        })
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The shared key of a replay key: `<prefix>{<replay key>}`, with `{` and `}` in the
    /// replay key replaced by `_` (replay keys are `scheme:client:id` in URL-safe characters,
    /// but the hash tag stays well formed whatever they hold).
    ///
    /// The hash tag puts every key on one Redis Cluster slot of its own; it is kept on a
    /// single Redis too, because changing the key format would let a request through once on
    /// an old and once on a new process during a rolling upgrade.
    pub fn key(&self, replay_key: &str) -> String {
        let mut key = String::with_capacity(self.prefix.len() + replay_key.len() + 2);
        key.push_str(&self.prefix);
        key.push('{');
        key.extend(replay_key.chars().map(|c| match c {
            '{' | '}' => '_',
            c => c,
        }));
        key.push('}');
        key
    }

    /// The epoch marker's key: `<prefix>epoch`. Every store sharing the prefix reads it,
    /// and makes it (a random value without expiry, `SET NX`) when Redis has none; a value
    /// other than the one it last read means Redis lost its keys, and the store refuses every
    /// request for [`fence_ms`]. No replay key is named so: theirs hold `{`.
    ///
    /// ```
    /// use xnonce_core::replay::shared::{SharedKeys, DEFAULT_PREFIX};
    /// assert_eq!(SharedKeys::new(DEFAULT_PREFIX)?.epoch_key(), "xnonce:replay:epoch");
    /// # Ok::<(), xnonce_core::replay::shared::InvalidPrefix>(())
    /// ```
    pub fn epoch_key(&self) -> String {
        format!("{}epoch", self.prefix)
    }

    /// How long (ms) to keep the key of a request to be remembered until `expires_at_ms`,
    /// read at `now_ms` on this process's clock: the rest of the window plus
    /// [`CLOCK_MARGIN_MS`] (so at least the margin, never 0).
    ///
    /// Relative, so the store counts it on its own clock: an absolute expiry (`PXAT`) taken
    /// from this process's clock would already be past for a Redis whose clock is ahead,
    /// which then stores nothing and lets every copy of the request through.
    pub fn ttl_ms(&self, expires_at_ms: u64, now_ms: u64) -> u64 {
        expires_at_ms
            .saturating_sub(now_ms)
            .saturating_add(CLOCK_MARGIN_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_the_prefix_and_one_hash_tag() {
        let keys = SharedKeys::new("app:").unwrap();
        assert_eq!(keys.prefix(), "app:");
        assert_eq!(keys.key("v2:c:abc"), "app:{v2:c:abc}");
        assert_eq!(keys.key("v2:c:a}b{"), "app:{v2:c:a_b_}");
        assert_eq!(SharedKeys::new("").unwrap().key("v1:c:é"), "{v1:c:é}");
        for bad in ["a{b", "a}", "{}"] {
            assert_eq!(SharedKeys::new(bad), Err(InvalidPrefix));
        }
    }

    /// The expiry is relative: the rest of the window plus the margin, whatever the clock
    /// reads; a key whose window already ended is still kept for the margin.
    #[test]
    fn the_ttl_is_the_rest_of_the_window_plus_the_margin() {
        let keys = SharedKeys::new(DEFAULT_PREFIX).unwrap();
        assert_eq!(keys.ttl_ms(31_000, 1_000), 30_000 + CLOCK_MARGIN_MS);
        assert_eq!(keys.ttl_ms(1_000, 1_000), CLOCK_MARGIN_MS);
        assert_eq!(keys.ttl_ms(1_000, 5_000), CLOCK_MARGIN_MS);
        assert_eq!(keys.ttl_ms(u64::MAX, 0), u64::MAX);
        assert_eq!(keys.ttl_ms(0, u64::MAX), CLOCK_MARGIN_MS);
    }

    #[test]
    fn the_message_names_the_rule() {
        assert!(InvalidPrefix.to_string().contains("'{' or '}'"));
    }
}
