#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod config;
pub mod connections;
pub mod demo;
mod idle_body;
pub mod journal;
pub mod layer;
pub mod live_router;
mod log_throttle;
pub mod metrics;
mod ownership;
pub mod rate_limit;
pub mod redis_store;
pub mod registry;
pub mod respond;
pub mod server;
pub mod store;
pub mod upstream;
pub mod websocket;
mod write_deadline;

pub use app::{
    app, app_for, app_with_rate_limit, demo_app, echo, layer_for, SharedRegistry, HEALTH_PATH,
};
pub use config::{Config, ReplayConfig};
pub use connections::ConnectionLimits;
pub use journal::JournalStore;
pub use layer::{scheme_hint, Limits, XNonceLayer, XNonceService};
pub use metrics::Metrics;
pub use rate_limit::RateLimitLayer;
pub use redis_store::RedisStore;
pub use registry::Registry;
pub use server::{shutdown_signal, shutdown_signals, Server};
pub use store::{AsyncReplayStore, MemoryStore, StoreId, SyncStore};

/// Milliseconds since the Unix epoch from the system clock.
///
/// ```
/// assert!(xnonce_server::now_ms() > 1_700_000_000_000);
/// ```
pub fn now_ms() -> u64 {
    use xnonce_core::Environment;
    xnonce_core::SystemEnvironment.now_ms()
}
