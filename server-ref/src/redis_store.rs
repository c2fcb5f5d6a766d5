//! A Redis replay store shared by several server instances.
//!
//! Each accepted request is one `SET <prefix>{<replay key>} 1 NX PXAT <remember_until_ms>`:
//! Redis inserts the key only if it is absent (atomic across every instance) and drops it by
//! itself when the request would be stale anyway. The key carries a hash tag (`{…}` around the
//! replay key), so on Redis Cluster each key lands on a slot chosen by the request alone and the
//! prefix never concentrates all keys on one node. Needs Redis ≥ 6.2 (`PXAT`).
//!
//! Failures fail closed: when Redis cannot be reached (or does not answer within the response
//! timeout) the store returns an error and the layer refuses the request with 503
//! `store_unavailable`. The connection manager reconnects in the background, so requests are
//! accepted again as soon as Redis is back.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;
use xnonce_core::{ReplayKey, ReplayStoreError};

use crate::store::{AsyncReplayStore, StoreFuture};

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "xnonce:replay:";

/// Replay keys in Redis (see the module docs).
pub struct RedisStore {
    client: redis::Client,
    prefix: String,
    timeout: Duration,
    conn: OnceCell<ConnectionManager>,
}

impl std::fmt::Debug for RedisStore {
    // The URL may carry a password: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: impl std::fmt::Display) -> ReplayStoreError {
    ReplayStoreError(format!("redis: {e}"))
}

impl RedisStore {
    /// A store for `url` (`redis://host:port/db`, `redis+unix:///path`). Nothing is connected
    /// yet: the first request connects, and a server whose Redis is down still starts (and
    /// answers 503 until Redis is up). `prefix` must not contain `{` or `}`.
    pub fn new(url: &str, prefix: &str) -> Result<RedisStore, String> {
        if prefix.contains(['{', '}']) {
            return Err("replay.key_prefix must not contain '{' or '}' (used as hash tags)".into());
        }
        let client = redis::Client::open(url).map_err(|_| {
            "replay.redis_url is not a valid Redis URL (redis://host:port/db)".to_string()
        })?;
        Ok(RedisStore {
            client,
            prefix: prefix.to_string(),
            timeout: Duration::from_secs(2),
            conn: OnceCell::new(),
        })
    }

    /// How long one Redis command (or connection attempt) may take before the request is
    /// refused with 503. Default 2 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The Redis key of a replay key: `<prefix>{<replay key>}`.
    pub fn key(&self, replay_key: &str) -> String {
        // A `}` inside the replay key would end the hash tag early; replay keys are
        // `scheme:client:id` with URL-safe characters, but keep the tag well formed anyway.
        let tag = replay_key.replace(['{', '}'], "_");
        format!("{}{{{}}}", self.prefix, tag)
    }

    async fn connection(&self) -> Result<ConnectionManager, ReplayStoreError> {
        let conn = self
            .conn
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(self.timeout)
                    .set_response_timeout(self.timeout)
                    .set_number_of_retries(2)
                    .set_max_delay(500);
                tokio::time::timeout(
                    self.timeout * 2,
                    ConnectionManager::new_with_config(self.client.clone(), config),
                )
                .await
                .map_err(|_| unavailable("connection timed out"))?
                .map_err(unavailable)
            })
            .await?;
        Ok(conn.clone())
    }
}

impl AsyncReplayStore for RedisStore {
    fn insert_if_absent<'a>(
        &'a self,
        key: &'a ReplayKey,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> StoreFuture<'a, Result<bool, ReplayStoreError>> {
        Box::pin(async move {
            let mut conn = self.connection().await?;
            // PXAT in the past would store nothing; keep the key for at least 1 ms.
            let at = expires_at_ms.max(now_ms.saturating_add(1));
            let mut cmd = redis::cmd("SET");
            cmd.arg(self.key(key.as_str()))
                .arg(1)
                .arg("NX")
                .arg("PXAT")
                .arg(at);
            let reply: Option<String> =
                tokio::time::timeout(self.timeout, cmd.query_async(&mut conn))
                    .await
                    .map_err(|_| unavailable("command timed out"))?
                    .map_err(unavailable)?;
            Ok(reply.is_some())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_one_hash_tag_and_the_prefix() {
        let s = RedisStore::new("redis://127.0.0.1:1/", "app:").unwrap();
        assert_eq!(s.key("v2:c:abc"), "app:{v2:c:abc}");
        assert_eq!(s.key("v2:c:a}b{"), "app:{v2:c:a_b_}");
        assert!(RedisStore::new("redis://127.0.0.1:1/", "a{b}").is_err());
        assert!(RedisStore::new("not a url", "p").is_err());
    }

    #[tokio::test]
    async fn an_unreachable_redis_fails_closed_quickly() {
        // Port 1 on loopback: connection refused at once.
        let s = RedisStore::new("redis://127.0.0.1:1/", DEFAULT_PREFIX)
            .unwrap()
            .timeout(Duration::from_millis(500));
        let t0 = std::time::Instant::now();
        let r = s.insert_if_absent(&"v2:c:n".into(), 10_000, 1_000).await;
        assert!(r.is_err(), "{r:?}");
        assert!(t0.elapsed() < Duration::from_secs(5));
    }
}
