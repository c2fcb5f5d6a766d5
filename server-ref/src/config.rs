//! The TOML configuration file (see `examples/xnonce-server.toml`).
//!
//! ```toml
//! listen = "127.0.0.1:8080"      # loopback only unless you say otherwise
//! data_dir = "./xnonce-data"      # client registry (flag --data and XNONCE_DATA win)
//! key_file = "/etc/xnonce/registry.key"  # registry key, outside the data dir
//!                                 # (flag --key-file and XNONCE_KEY_FILE win; default
//!                                 # $XDG_CONFIG_HOME/xnonce/registry.key)
//! schemes = ["v1", "v2"]          # accepted schemes
//! hosts = ["api.example.com"]     # v2 requests only for these hosts (absent: any)
//!
//! [limits]
//! max_body_bytes = 1048576        # 413 above
//! max_header_bytes = 16384        # 431 above
//! body_timeout_ms = 30000         # 408 when a body takes longer to arrive
//! header_timeout_ms = 30000       # a request head (or, idle, the next one) within this
//! write_timeout_ms = 30000        # an answer the client takes no byte of for this long: closed
//! max_connections = 1024          # open at once; more wait in the listen backlog
//!
//! [rate_limit]                    # optional; see crate::rate_limit
//! requests_per_second = 50
//! burst = 100
//!
//! [windows]                       # em-secure-api's request_timeout, in ms
//! __default = 30000
//! [windows.controller1]
//! __default = 10000
//! action3_get = 60000
//!
//! [routes.controller1]            # em-secure-api's routes hash: req / opt / exc
//! __default_parameters = { username = "req", password = "req" }
//! action1_get = { opt1 = "req", opt2 = "opt" }
//! ```
//!
//! Windows are per action (core's [`WindowPolicy`] does not split by method), so
//! `action3_get = 60000` sets the window of every method of `action3`.
//!
//! Values that would break every request are refused, naming the key: a window outside 1 ..=
//! [`MAX_WINDOW_MS`], a size or time limit of 0, a rate outside
//! [`crate::rate_limit::MIN_PER_SECOND`] ..= [`crate::rate_limit::MAX_PER_SECOND`], a
//! `[replay] timeout_ms` outside 1 ..= [`MAX_REDIS_TIMEOUT_MS`], a `rediss://` URL (TLS is not
//! supported).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use xnonce_core::{ParamRule, RouteTable, Scheme, Verifier, WindowPolicy};

use crate::connections::ConnectionLimits;
use crate::layer::Limits;
use crate::rate_limit::{Rate, RateLimitConfig};
use crate::upstream::{DEFAULT_IDLE_TIMEOUT, DEFAULT_TIMEOUT};

/// The default listen address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The longest window a config may set: 24 h (86,400,000 ms). A window is how far a request's
/// timestamp may be from the server clock, and how long its replay key is remembered; a longer
/// one keeps captured requests usable for longer than any clock skew calls for (and, large
/// enough, overflows the Redis store's expiry times).
pub const MAX_WINDOW_MS: u64 = xnonce_core::window::MAX_WINDOW_MS;

/// The longest `[replay] timeout_ms` (Redis command / connection timeout): 60 s.
pub const MAX_REDIS_TIMEOUT_MS: u64 = 60_000;

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `host:port` to listen on.
    pub listen: Option<String>,
    /// Data dir holding the client registry.
    pub data_dir: Option<PathBuf>,
    /// The registry key file (outside the data dir).
    pub key_file: Option<PathBuf>,
    /// Accepted schemes (`"v1"`, `"v2"`); both when absent.
    pub schemes: Option<Vec<String>>,
    /// The hosts v2 requests must be signed for ([`Verifier::hosts`]); any when absent.
    pub hosts: Option<Vec<String>>,
    /// Size limits.
    #[serde(default)]
    pub limits: LimitsFile,
    /// `__default` (ms) and per-controller tables of `__default` / `<action>_<method>` (ms).
    #[serde(default)]
    pub windows: toml::Table,
    /// Controllers: `__default_parameters` and `<action>_<method>` tables of rules.
    pub routes: Option<toml::Table>,
    /// The replay store.
    #[serde(default)]
    pub replay: ReplayFile,
    /// Per-client rate limiting (absent: off).
    pub rate_limit: Option<RateLimitFile>,
    /// The API verified requests are forwarded to (absent: the JSON echo answers them).
    pub upstream: Option<UpstreamFile>,
    /// Prometheus metrics (absent: off).
    pub metrics: Option<MetricsFile>,
}

/// The `[metrics]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsFile {
    /// `host:port` the metrics are served on (`GET /metrics`), apart from the API.
    pub listen: String,
}

/// The `[upstream]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamFile {
    /// `http://host:port[/prefix]`.
    pub url: String,
    /// How long the upstream may take to start its answer, and then go silent in the middle
    /// of its body, in ms (default 30,000).
    pub timeout_ms: Option<u64>,
    /// How long a connection to the upstream stays open for another request once idle, in ms
    /// (default 1,000; 0: a fresh connection for every request). Below the API's keep-alive
    /// timeout, so that the gateway never sends a request on a connection the API is closing.
    pub idle_timeout_ms: Option<u64>,
}

/// The `[rate_limit]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitFile {
    /// Refill rate of every client without an override (absent: only overrides are limited).
    pub requests_per_second: Option<f64>,
    /// Bucket size (default: `requests_per_second` rounded up).
    pub burst: Option<u32>,
    /// `[rate_limit.clients.<name>]` overrides.
    #[serde(default)]
    pub clients: BTreeMap<String, ClientRateFile>,
}

/// A `[rate_limit.clients.<name>]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientRateFile {
    /// This client's refill rate.
    pub requests_per_second: Option<f64>,
    /// This client's bucket size.
    pub burst: Option<u32>,
    /// Never limit this client.
    pub unlimited: Option<bool>,
}

impl UpstreamFile {
    fn resolve(self) -> Result<crate::upstream::Upstream, String> {
        let timeout = upstream_ms(self.timeout_ms, "timeout_ms", 1, DEFAULT_TIMEOUT)?;
        let idle = upstream_ms(
            self.idle_timeout_ms,
            "idle_timeout_ms",
            0,
            DEFAULT_IDLE_TIMEOUT,
        )?;
        // The error never quotes the URL back.
        let upstream = crate::upstream::Upstream::new(&self.url, timeout)
            .map_err(|e| format!("upstream.url: {e}"))?;
        Ok(upstream.idle_timeout(idle))
    }
}

/// `[upstream] <key>`, milliseconds from `min` to [`MAX_UPSTREAM_TIMEOUT_MS`]; `default`
/// when absent.
fn upstream_ms(
    ms: Option<u64>,
    key: &str,
    min: u64,
    default: std::time::Duration,
) -> Result<std::time::Duration, String> {
    match ms {
        None => Ok(default),
        Some(ms) if (min..=MAX_UPSTREAM_TIMEOUT_MS).contains(&ms) => {
            Ok(std::time::Duration::from_millis(ms))
        }
        Some(_) => Err(format!(
            "upstream.{key}: must be from {min} to {MAX_UPSTREAM_TIMEOUT_MS} (ms)"
        )),
    }
}

/// The longest `[upstream] timeout_ms` and `idle_timeout_ms`: 10 minutes.
pub const MAX_UPSTREAM_TIMEOUT_MS: u64 = 600_000;

impl RateLimitFile {
    fn resolve(self) -> Result<RateLimitConfig, String> {
        let default = match (self.requests_per_second, self.burst) {
            (Some(r), b) => Some(Rate::new(r, b).map_err(|e| format!("rate_limit.{e}"))?),
            (None, Some(_)) => return Err("rate_limit.burst needs requests_per_second".into()),
            (None, None) => None,
        };
        let mut clients = BTreeMap::new();
        for (name, c) in self.clients {
            let at = format!("rate_limit.clients.{name}");
            xnonce_core::client_id::validate(&name)
                .map_err(|e| format!("{at}: {}", e.message()))?;
            let rate = match (c.unlimited.unwrap_or(false), c.requests_per_second, c.burst) {
                (true, None, None) => None,
                (true, _, _) => {
                    return Err(format!(
                        "{at}: unlimited = true takes no requests_per_second / burst"
                    ))
                }
                (false, Some(r), b) => Some(Rate::new(r, b).map_err(|e| format!("{at}.{e}"))?),
                (false, None, _) => {
                    return Err(format!(
                        "{at}: needs requests_per_second (or unlimited = true)"
                    ))
                }
            };
            clients.insert(name, rate);
        }
        Ok(RateLimitConfig { default, clients })
    }
}

/// The `[replay]` table (its `Debug` hides the Redis URL's password).
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayFile {
    /// `"memory"` (default) or `"redis"`.
    pub store: Option<String>,
    /// Memory store: keep a journal in the data dir so restarts remember (default true).
    pub persist: Option<bool>,
    /// Redis store: `redis://host:port/db`.
    pub redis_url: Option<String>,
    /// Redis store: key prefix (default `xnonce:replay:`).
    pub key_prefix: Option<String>,
    /// Redis store: command / connect timeout in ms (default 2000).
    pub timeout_ms: Option<u64>,
}

impl std::fmt::Debug for ReplayFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayFile")
            .field("store", &self.store)
            .field("persist", &self.persist)
            .field(
                "redis_url",
                &self
                    .redis_url
                    .as_deref()
                    .map(crate::redis_store::redact_url),
            )
            .field("key_prefix", &self.key_prefix)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

/// Which replay store the server uses (its `Debug` hides the Redis URL's password).
#[derive(Clone, PartialEq, Eq)]
pub enum ReplayConfig {
    /// In-process; `persist`: journal in the data dir (`replay.journal`).
    Memory {
        /// Keep the journal.
        persist: bool,
    },
    /// Shared Redis (see [`crate::redis_store`]).
    Redis {
        /// `redis://…` URL (may hold a password: never logged).
        url: String,
        /// Key prefix.
        key_prefix: String,
        /// Command / connect timeout in ms.
        timeout_ms: u64,
    },
}

impl std::fmt::Debug for ReplayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplayConfig::Memory { persist } => {
                f.debug_struct("Memory").field("persist", persist).finish()
            }
            ReplayConfig::Redis {
                url,
                key_prefix,
                timeout_ms,
            } => f
                .debug_struct("Redis")
                .field("url", &crate::redis_store::redact_url(url))
                .field("key_prefix", key_prefix)
                .field("timeout_ms", timeout_ms)
                .finish(),
        }
    }
}

impl Default for ReplayConfig {
    fn default() -> Self {
        ReplayConfig::Memory { persist: true }
    }
}

impl ReplayFile {
    fn resolve(self) -> Result<ReplayConfig, String> {
        match self.store.as_deref().unwrap_or("memory") {
            "memory" => {
                if self.redis_url.is_some()
                    || self.key_prefix.is_some()
                    || self.timeout_ms.is_some()
                {
                    return Err(
                        "replay: redis_url / key_prefix / timeout_ms need store = \"redis\"".into(),
                    );
                }
                Ok(ReplayConfig::Memory {
                    persist: self.persist.unwrap_or(true),
                })
            }
            "redis" => {
                if self.persist.is_some() {
                    return Err("replay.persist applies to store = \"memory\" only".into());
                }
                let url = self
                    .redis_url
                    .ok_or("replay: store = \"redis\" needs redis_url = \"redis://host:port\"")?;
                let key_prefix = self
                    .key_prefix
                    .unwrap_or_else(|| crate::redis_store::DEFAULT_PREFIX.to_string());
                if key_prefix.contains(['{', '}']) {
                    return Err("replay.key_prefix must not contain '{' or '}'".into());
                }
                crate::redis_store::check_url(&url)
                    .map_err(|e| format!("replay.redis_url: {e}"))?;
                let timeout_ms = match self.timeout_ms {
                    None => 2000,
                    Some(ms @ 1..=MAX_REDIS_TIMEOUT_MS) => ms,
                    Some(ms) => {
                        return Err(format!(
                            "replay.timeout_ms: must be from 1 to {MAX_REDIS_TIMEOUT_MS} (ms), got {ms}"
                        ))
                    }
                };
                Ok(ReplayConfig::Redis {
                    url,
                    key_prefix,
                    timeout_ms,
                })
            }
            // The value is not repeated: it may be a misplaced URL with its password.
            _ => Err("replay.store: must be \"memory\" or \"redis\"".into()),
        }
    }
}

/// The `[limits]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    /// Largest body in bytes.
    pub max_body_bytes: Option<usize>,
    /// Largest total header size in bytes.
    pub max_header_bytes: Option<usize>,
    /// How long a request body may take to arrive, in ms.
    pub body_timeout_ms: Option<u64>,
    /// How long a request head may take to arrive (and an idle connection may wait), in ms.
    pub header_timeout_ms: Option<u64>,
    /// How long an answer may wait for the client to read any of it, in ms.
    pub write_timeout_ms: Option<u64>,
    /// Most connections open at once.
    pub max_connections: Option<usize>,
}

/// A configuration ready to serve.
///
/// ```
/// use xnonce_core::Scheme;
/// use xnonce_server::{Config, ReplayConfig};
/// let config = Config::parse(r#"
///     listen = "0.0.0.0:8080"
///     schemes = ["v2"]
///     [windows]
///     __default = 10000
///     [routes.reports]
///     daily_get = { day = "req" }
///     [replay]
///     store = "redis"
///     redis_url = "redis://127.0.0.1:6379/0"
/// "#)?;
/// assert_eq!(config.verifier.window_policy().default_ms(), 10_000);
/// assert!(!config.verifier.accepts(Scheme::V1));
/// assert!(matches!(config.replay, ReplayConfig::Redis { ref key_prefix, .. } if key_prefix == "xnonce:replay:"));
/// assert!(Config::parse("[limits]\nmax_body_bytes = 0").unwrap_err().contains("limits.max_body_bytes"));
/// // `serve --demo`: em-secure-api's demo API, with or without a config file.
/// assert!(Config::demo().demo);
/// assert!(config.with_demo().routes.unwrap().lookup("GET", "/controller1/action1").is_ok());
/// // `serve --config FILE`:
/// let file = std::env::temp_dir().join(format!("xnonce-doc-config-{}.toml", std::process::id()));
/// std::fs::write(&file, "listen = \"127.0.0.1:0\"").map_err(|e| e.to_string())?;
/// assert_eq!(Config::load(&file)?.listen, "127.0.0.1:0");
/// # std::fs::remove_file(&file).ok();
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address.
    pub listen: String,
    /// Data dir from the file, if any.
    pub data_dir: Option<PathBuf>,
    /// Registry key file from the file, if any (`None`: `XNONCE_KEY_FILE`, else the default
    /// location, see [`crate::registry::key`]).
    pub key_file: Option<PathBuf>,
    /// Per-client rate limiting (`None`: off, the default).
    pub rate_limit: Option<RateLimitConfig>,
    /// Verifier with windows and schemes.
    pub verifier: Verifier,
    /// Routes (`None`: every path is verified and echoed, no route rules).
    pub routes: Option<RouteTable>,
    /// Size and time limits of a request.
    pub limits: Limits,
    /// Limits of the connections the server accepts.
    pub connections: ConnectionLimits,
    /// Replay store.
    pub replay: ReplayConfig,
    /// Serve em-secure-api's demo handlers ([`crate::demo`]) instead of the JSON echo.
    pub demo: bool,
    /// Also serve the demo handlers without verification under
    /// [`crate::demo::BENCH_MIRROR_PREFIX`] (the throughput benchmark's baseline; never in
    /// production).
    pub bench_mirror: bool,
    /// Forward verified requests to this API instead of answering them with the echo.
    pub upstream: Option<crate::upstream::Upstream>,
    /// Serve Prometheus metrics ([`crate::metrics`]) on this address (`None`: off).
    pub metrics_listen: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: DEFAULT_LISTEN.to_string(),
            data_dir: None,
            key_file: None,
            rate_limit: None,
            verifier: Verifier::new(),
            routes: None,
            limits: Limits::default(),
            connections: ConnectionLimits::default(),
            replay: ReplayConfig::default(),
            demo: false,
            bench_mirror: false,
            upstream: None,
            metrics_listen: None,
        }
    }
}

/// A TOML or type error as `line L, column C: <what>`, never quoting the file: any line may
/// hold a secret (the Redis URL's password), and the error's own text shows the line it
/// stopped at (`redis_url = redis://:pw@h/0`, unquoted; `redis_ur = "…"`, a typo). Its
/// message alone may still quote a value (`invalid type: string "…"`) or a key (`unknown
/// field `…``): quoted values are elided, and keys shown only when they are bare TOML keys.
fn syntax_error(text: &str, e: &toml::de::Error) -> String {
    let what = elide_quoted(e.message().trim()).replace('\n', "; ");
    let Some(span) = e.span() else {
        return what;
    };
    let before = text.get(..span.start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    format!("line {line}, column {column}: {what}")
}

/// `message` with every `"…"` string emptied to `"…"`, and every `` `…` `` that is not a bare
/// key (letters, digits, `_`, `-`) or a single punctuation mark emptied to `` `…` ``.
fn elide_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                // A Rust-escaped string (serde's `{:?}`): up to the next unescaped quote.
                let mut escaped = false;
                for c in chars.by_ref() {
                    match (escaped, c) {
                        (false, '\\') => escaped = true,
                        (false, '"') => break,
                        _ => escaped = false,
                    }
                }
                out.push_str("\"…\"");
            }
            '`' => {
                let quoted: String = chars.by_ref().take_while(|&c| c != '`').collect();
                let bare = quoted
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                let mark = quoted.chars().count() == 1;
                out.push('`');
                out.push_str(if bare || mark { &quoted } else { "…" });
                out.push('`');
            }
            c => out.push(c),
        }
    }
    out
}

/// A window in ms: an integer from 1 to [`MAX_WINDOW_MS`].
fn ms(v: &toml::Value, at: &str) -> Result<u64, String> {
    v.as_integer()
        .and_then(|i| u64::try_from(i).ok())
        .filter(|ms| (1..=MAX_WINDOW_MS).contains(ms))
        .ok_or_else(|| {
            let got = v
                .as_integer()
                .map_or_else(|| format!("a {}", v.type_str()), |i| i.to_string());
            format!(
                "{at}: a window is an integer of milliseconds from 1 to {MAX_WINDOW_MS} (24 h), \
                 got {got}"
            )
        })
}

fn rules(v: &toml::Value, at: &str) -> Result<Vec<(String, ParamRule)>, String> {
    let table = v
        .as_table()
        .ok_or_else(|| format!("{at}: expected a table of param = \"req\"|\"opt\"|\"exc\""))?;
    table
        .iter()
        .map(|(k, r)| {
            xnonce_core::routes::check_rule_name(k).map_err(|e| {
                let name = if k.is_empty() { "\"\"" } else { k.as_str() };
                format!("{at}.{name}: {}", e.message())
            })?;
            let rule = r
                .as_str()
                .and_then(|s| s.parse::<ParamRule>().ok())
                .ok_or_else(|| format!("{at}.{k}: a rule is \"req\", \"opt\" or \"exc\""))?;
            Ok((k.clone(), rule))
        })
        .collect()
}

impl Config {
    /// `serve --demo` without a config file: em-secure-api's test implementation
    /// ([`crate::demo::routes`], its handlers) and the demo's windows
    /// ([`crate::demo::windows`]); everything else default.
    pub fn demo() -> Config {
        let mut cfg = Config::default().with_demo();
        cfg.verifier = cfg
            .verifier
            .windows(crate::demo::windows())
            .expect("the demo's windows are within a day");
        cfg
    }

    /// Turns this config into `serve --demo`'s: em-secure-api's test implementation
    /// ([`crate::demo::routes`] and its handlers) replaces the configured routes.
    pub fn with_demo(mut self) -> Config {
        self.routes = Some(crate::demo::routes());
        self.demo = true;
        // The demo handlers answer; nothing is forwarded.
        self.upstream = None;
        self
    }

    /// The `[windows]` keys (`windows.C`, `windows.C.A`) that name no route, when the config
    /// has routes: such a window applies to no request (a request without a route is
    /// answered 404 before any window), most likely a misspelt controller or action. Empty
    /// without routes, where windows apply by path.
    ///
    /// ```
    /// use xnonce_server::Config;
    /// let cfg = Config::parse(
    ///     "[routes.reports]\ndaily_get = {}\n\
    ///      [windows.reports]\ndaily_get = 5000\nlive_get = 1000\n\
    ///      [windows.reprots]\n__default = 60000\n",
    /// ).unwrap();
    /// assert_eq!(cfg.windows_naming_no_route(), ["windows.reprots", "windows.reports.live"]);
    /// ```
    pub fn windows_naming_no_route(&self) -> Vec<String> {
        let Some(routes) = &self.routes else {
            return Vec::new();
        };
        self.verifier
            .window_policy()
            .naming_no_route(routes)
            .into_iter()
            .map(|(c, a)| match a {
                Some(a) => format!("windows.{c}.{a}"),
                None => format!("windows.{c}"),
            })
            .collect()
    }

    /// Logs a warning for each of [`Config::windows_naming_no_route`].
    pub fn warn_about_windows_naming_no_route(&self) {
        for key in self.windows_naming_no_route() {
            tracing::warn!(key = %key, "this window {}", WindowPolicy::NAMING_NO_ROUTE);
        }
    }

    /// Refuses a metrics listener on the API's own address (both could not be bound; port 0
    /// excepted, which gives each a free port of its own).
    pub fn check_listeners(&self) -> Result<(), String> {
        match &self.metrics_listen {
            Some(m) if *m == self.listen && !m.ends_with(":0") => Err(format!(
                "metrics.listen: {m} is the API's listen address too; give metrics its own port"
            )),
            _ => Ok(()),
        }
    }

    /// Parses the text of a config file.
    pub fn parse(text: &str) -> Result<Config, String> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| syntax_error(text, &e))?;
        for (name, path) in [("data_dir", &file.data_dir), ("key_file", &file.key_file)] {
            if path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
                return Err(format!(
                    "{name}: must not be empty (leave it out for the default)"
                ));
            }
        }
        let mut cfg = Config {
            data_dir: file.data_dir,
            key_file: file.key_file,
            rate_limit: file.rate_limit.map(RateLimitFile::resolve).transpose()?,
            replay: file.replay.resolve()?,
            upstream: file.upstream.map(UpstreamFile::resolve).transpose()?,
            ..Config::default()
        };
        if let Some(l) = file.listen {
            check_listen(&l).map_err(|e| format!("listen: {e}"))?;
            cfg.listen = l;
        }
        if let Some(m) = file.metrics {
            check_listen(&m.listen).map_err(|e| format!("metrics.listen: {e}"))?;
            cfg.metrics_listen = Some(m.listen);
        }
        cfg.check_listeners()?;
        let mut schemes = Vec::new();
        for s in file
            .schemes
            .unwrap_or_else(|| vec!["v1".into(), "v2".into()])
        {
            schemes.push(
                s.parse::<Scheme>()
                    .map_err(|e| format!("schemes: {}", e.message()))?,
            );
        }
        let mut windows = WindowPolicy::default();
        let mut per_controller: BTreeMap<String, toml::Table> = BTreeMap::new();
        for (k, v) in &file.windows {
            if k == "__default" {
                windows = WindowPolicy::new(ms(v, "windows.__default")?);
            } else {
                unreserved(k, "__default", &format!("windows.{k}"))?;
                let t = v
                    .as_table()
                    .ok_or_else(|| format!("windows.{k}: expected a table"))?;
                per_controller.insert(k.clone(), t.clone());
            }
        }
        for (c, t) in per_controller {
            check_controller(&c).map_err(|e| format!("windows.{c}: {e}"))?;
            // A window is per action, whatever the method in its key: the first key for an
            // action, to tell a conflicting second one where the first is.
            let mut actions: BTreeMap<&str, (&str, u64)> = BTreeMap::new();
            for (k, v) in &t {
                let at = format!("windows.{c}.{k}");
                unreserved(k, "__default", &at)?;
                if v.is_table() && k != "__default" && route_key(k).is_err() {
                    return Err(nested_controller(&at, &c, k, "windows"));
                }
                let window = ms(v, &at)?;
                if k == "__default" {
                    windows = windows.controller(&c, window);
                    continue;
                }
                let (action, _method) = route_key(k).map_err(|e| format!("{at}: {e}"))?;
                check_action(&c, action, "windows").map_err(|e| format!("{at}: {e}"))?;
                match actions.insert(action, (k, window)) {
                    Some((first, w)) if w != window => {
                        return Err(format!(
                            "{at}: action {action} already has a window of {w} ms from \
                             windows.{c}.{first}; a window is per action, for every method"
                        ))
                    }
                    _ => windows = windows.action(&c, action, window),
                }
            }
        }
        cfg.verifier = Verifier::new()
            .windows(windows)
            .map_err(|e| format!("windows: {}", e.message()))?
            .schemes(&schemes)
            .map_err(|e| format!("schemes: {}", e.message()))?;
        if let Some(hosts) = &file.hosts {
            cfg.verifier = cfg
                .verifier
                .hosts(hosts)
                .map_err(|e| format!("hosts: {}", e.message()))?;
        }
        if let Some(routes) = file.routes {
            let mut table = RouteTable::new();
            for (c, actions) in &routes {
                check_controller(c)
                    .and_then(|()| check_route_chars(c, "controller"))
                    .map_err(|e| format!("routes.{c}: {e}"))?;
                let actions = actions
                    .as_table()
                    .ok_or_else(|| format!("routes.{c}: expected a table"))?;
                // Methods are case-insensitive: `a_get` and `a_GET` are one route, and the
                // second would silently replace the first's rules.
                let mut seen: BTreeMap<(String, String), &str> = BTreeMap::new();
                for (key, v) in actions {
                    let at = format!("routes.{c}.{key}");
                    unreserved(key, "__default_parameters", &at)?;
                    let holds_tables = |v: &toml::Value| {
                        v.as_table()
                            .is_some_and(|t| t.values().any(toml::Value::is_table))
                    };
                    if key != "__default_parameters" && route_key(key).is_err() && holds_tables(v) {
                        return Err(nested_controller(&at, c, key, "routes"));
                    }
                    if let Ok((action, method)) = route_key(key) {
                        check_action(c, action, "routes")
                            .and_then(|()| check_route_chars(action, "action"))
                            .map_err(|e| format!("{at}: {e}"))?;
                        let route = (action.to_string(), method.to_ascii_lowercase());
                        if let Some(first) = seen.insert(route, key) {
                            return Err(format!(
                                "{at}: the same route as routes.{c}.{first} (methods are \
                                 case-insensitive)"
                            ));
                        }
                    }
                    table
                        .add_key(c, key, rules(v, &at)?)
                        .map_err(|e| format!("{at}: {}", e.message()))?;
                }
            }
            cfg.routes = Some(table);
        }
        let limits = &file.limits;
        let (default, default_connections) = (Limits::default(), ConnectionLimits::default());
        let positive = |v: Option<u64>, name: &str, default: std::time::Duration| match v {
            None => Ok(default),
            Some(0) => Err(format!("limits.{name}: must be at least 1 (ms)")),
            Some(ms) => Ok(std::time::Duration::from_millis(ms)),
        };
        let bytes = |v: Option<usize>, name: &str, default: usize| match v {
            None => Ok(default),
            Some(0) => Err(format!("limits.{name}: must be at least 1 (bytes)")),
            Some(n) => Ok(n),
        };
        cfg.limits = Limits {
            max_body_bytes: bytes(
                limits.max_body_bytes,
                "max_body_bytes",
                default.max_body_bytes,
            )?,
            max_header_bytes: bytes(
                limits.max_header_bytes,
                "max_header_bytes",
                default.max_header_bytes,
            )?,
            body_timeout: positive(
                limits.body_timeout_ms,
                "body_timeout_ms",
                default.body_timeout,
            )?,
        };
        cfg.connections = ConnectionLimits {
            header_timeout: positive(
                limits.header_timeout_ms,
                "header_timeout_ms",
                default_connections.header_timeout,
            )?,
            max_connections: match limits.max_connections {
                None => default_connections.max_connections,
                Some(n) if (1..=MAX_CONNECTIONS).contains(&n) => n,
                Some(_) => {
                    return Err(format!(
                        "limits.max_connections: must be from 1 to {MAX_CONNECTIONS}"
                    ))
                }
            },
            max_head_bytes: ConnectionLimits::head_bytes_for(cfg.limits.max_header_bytes),
            write_timeout: positive(
                limits.write_timeout_ms,
                "write_timeout_ms",
                default_connections.write_timeout,
            )?,
        };
        Ok(cfg)
    }

    /// The keys whose values differ between `self` (the running config) and `new` that a
    /// running server cannot apply — its addresses, registry key, replay store and
    /// connection limits — in the config file's names; empty when `new` can be reloaded
    /// ([`crate::server::Reloader`]).
    ///
    /// ```
    /// use xnonce_server::Config;
    /// let running = Config::parse("listen = \"127.0.0.1:8080\"")?;
    /// let windows = Config::parse("listen = \"127.0.0.1:8080\"\n[windows]\n__default = 5000")?;
    /// assert!(running.restart_only_changes(&windows).is_empty());
    /// let moved = Config::parse("listen = \"127.0.0.1:9090\"\n[limits]\nmax_connections = 10")?;
    /// assert_eq!(running.restart_only_changes(&moved), ["listen", "limits.max_connections"]);
    /// # Ok::<(), String>(())
    /// ```
    pub fn restart_only_changes(&self, new: &Config) -> Vec<&'static str> {
        let (old_c, new_c) = (&self.connections, &new.connections);
        [
            ("listen", self.listen != new.listen),
            ("key_file", self.key_file != new.key_file),
            ("replay", self.replay != new.replay),
            ("metrics.listen", self.metrics_listen != new.metrics_listen),
            (
                "limits.max_header_bytes",
                self.limits.max_header_bytes != new.limits.max_header_bytes,
            ),
            (
                "limits.header_timeout_ms",
                old_c.header_timeout != new_c.header_timeout,
            ),
            (
                "limits.write_timeout_ms",
                old_c.write_timeout != new_c.write_timeout,
            ),
            (
                "limits.max_connections",
                old_c.max_connections != new_c.max_connections,
            ),
        ]
        .into_iter()
        .filter_map(|(key, changed)| changed.then_some(key))
        .collect()
    }

    /// Reads and parses a config file.
    pub fn load(path: &std::path::Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Config::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// The most connections `limits.max_connections` may allow (each holds a file descriptor;
/// far beyond any process's descriptor limit).
pub const MAX_CONNECTIONS: usize = 1_000_000;

/// Refuses a key starting with `__` other than `reserved`, the one such key its table has
/// (`__default` in `[windows]`, `__default_parameters` in `[routes.<controller>]`): read as
/// `<action>_<method>`, a misplaced one would be an action `_…` that no request names.
fn unreserved(key: &str, reserved: &str, at: &str) -> Result<(), String> {
    match key.starts_with("__") && key != reserved {
        true => Err(format!(
            "{at}: keys starting with __ are reserved, and the one here is {reserved}"
        )),
        false => Ok(()),
    }
}

/// A route or window key `<action>_<method>`, as core's route table reads it.
fn route_key(key: &str) -> Result<(&str, &str), String> {
    xnonce_core::routes::split_key(key).map_err(|e| format!("{} (or __default)", e.message()))
}

/// What a table at `[<table>.<controller>.<key>]` is: TOML's dotted table name nests `key`
/// inside `controller`, so `[routes.api.reports]` is no controller `api/reports` but a key
/// `reports` of the controller `api`, read as `<action>_<method>`.
fn nested_controller(at: &str, controller: &str, key: &str, table: &str) -> String {
    format!(
        "{at}: a table here is read as {key:?} inside the controller {controller:?}, and \
         {key:?} is not <action>_<method>; for paths /{controller}/{key}/<action>, name the \
         controller with its '/' in quotes: [{table}.\"{controller}/{key}\"]"
    )
}

/// The action of a route or window key: a path's last segment, so no `/` (`"a/b_get"` under
/// `[routes.c]` would name `/c/a/b`, whose controller is `c/a`: no request could ever match it,
/// and a window so named would never apply).
fn check_action(controller: &str, action: &str, table: &str) -> Result<(), String> {
    match action.rsplit_once('/') {
        Some((inner, last)) => Err(format!(
            "action {action:?} holds a '/', but an action is the path's last segment: for \
             /{controller}/{action}, write {last}_<method> under [{table}.\"{controller}/{inner}\"]"
        )),
        None => Ok(()),
    }
}

/// A `[routes]` controller or action name that some request path can hold as sent (core's
/// [`check_sent_name`](xnonce_core::routes::check_sent_name)).
fn check_route_chars(name: &str, what: &str) -> Result<(), String> {
    xnonce_core::routes::check_sent_name(name, what).map_err(|e| e.message().to_string())
}

/// A controller name as paths hold it (core's
/// [`check_controller_name`](xnonce_core::routes::check_controller_name)).
fn check_controller(name: &str) -> Result<(), String> {
    xnonce_core::routes::check_controller_name(name).map_err(|e| e.message().to_string())
}

/// A listen address `host:port` (an IPv6 host in brackets), checked before anything is
/// created on disk; whether it can be bound is known only when it is.
pub fn check_listen(addr: &str) -> Result<(), String> {
    let bad = || format!("{addr:?} is not host:port (e.g. 127.0.0.1:8080 or [::1]:8080)");
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    let bracketed = host.starts_with('[') && host.ends_with(']');
    // A space or control character (`" 127.0.0.1:8080"`) or brackets around anything but an
    // IPv6 address (`[127.0.0.1]`) names no address: passed here, such a value failed only
    // when `serve` came to bind it, after the registry and journal were set up.
    let unbindable = host.chars().any(|c| c.is_whitespace() || c.is_control())
        || (bracketed && !host.contains(':'));
    if host.is_empty()
        || (host.contains(':') && !bracketed)
        || unbindable
        || port.parse::<u16>().is_err()
    {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_parses_to_the_demo_routes() {
        let text = include_str!("../examples/xnonce-server.toml");
        let cfg = Config::parse(text).unwrap();
        assert_eq!(cfg.routes.unwrap(), RouteTable::demo());
        let w = cfg.verifier.window_policy();
        assert_eq!(w.window_for("/controller1/action3"), 60_000);
        assert_eq!(w.window_for("/controller1/action1"), 10_000);
        assert_eq!(w.window_for("/admin/status"), 5_000);
        assert_eq!(w.window_for("/controller2/action1"), 30_000);
        assert_eq!(cfg.listen, "127.0.0.1:8080");
    }

    #[test]
    fn mistakes_are_reported_with_their_place() {
        let e = Config::parse("[routes.c]\nx_get = { a = \"maybe\" }").unwrap_err();
        assert!(e.contains("routes.c.x_get.a"), "{e}");
        assert!(Config::parse("lisen = \"x\"").is_err());
        assert!(Config::parse("schemes = [\"v3\"]").is_err());
        let e = Config::parse("schemes = []").unwrap_err();
        assert!(
            e.contains("schemes") && e.contains("at least one scheme"),
            "{e}"
        );
        assert!(Config::parse("[windows]\n__default = -1").is_err());
        for (text, key) in [
            ("[windows]\n__default = 0", "windows.__default"),
            ("[windows]\n__default = 86400001", "windows.__default"),
            ("[windows.c]\n__default = 0", "windows.c.__default"),
            (
                "[windows.c]\na_get = 9223372036854775807",
                "windows.c.a_get",
            ),
            ("[windows.c]\na_get = \"1s\"", "windows.c.a_get"),
            ("[limits]\nmax_body_bytes = 0", "limits.max_body_bytes"),
            ("[limits]\nmax_header_bytes = 0", "limits.max_header_bytes"),
            ("[limits]\nwrite_timeout_ms = 0", "limits.write_timeout_ms"),
            (
                "[replay]\nstore = \"redis\"\nredis_url = \"redis://h\"\ntimeout_ms = 0",
                "replay.timeout_ms",
            ),
            (
                "[replay]\nstore = \"redis\"\nredis_url = \"redis://h\"\ntimeout_ms = 60001",
                "replay.timeout_ms",
            ),
            (
                "[replay]\ntimeout_ms = 5",
                "replay: redis_url / key_prefix / timeout_ms",
            ),
            (
                "[replay]\nstore = \"redis\"\nredis_url = \"rediss://h\"",
                "replay.redis_url: TLS",
            ),
            (
                "[upstream]\nurl = \"http://127.0.0.1:9\"\nidle_timeout_ms = 600001",
                "upstream.idle_timeout_ms",
            ),
            ("[metrics]\nlisten = \"9464\"", "metrics.listen"),
            (
                "listen = \"127.0.0.1:9464\"\n[metrics]\nlisten = \"127.0.0.1:9464\"",
                "metrics.listen: 127.0.0.1:9464 is the API's listen address too",
            ),
            ("data_dir = \"\"", "data_dir: must not be empty"),
            (
                "hosts = []",
                "hosts: a verifier's host list must name at least one host",
            ),
            ("hosts = [\"a b\"]", "hosts: host may only contain"),
            ("key_file = \"\"", "key_file: must not be empty"),
        ] {
            let e = Config::parse(text).unwrap_err();
            assert!(e.starts_with(key), "{text}: {e}");
        }
        // Port 0 twice is two free ports.
        let c = Config::parse("listen = \"127.0.0.1:0\"\n[metrics]\nlisten = \"127.0.0.1:0\"");
        assert_eq!(c.unwrap().metrics_listen.as_deref(), Some("127.0.0.1:0"));
        let c =
            Config::parse("[windows]\n__default = 86400000\n[windows.c]\n__default = 1").unwrap();
        assert_eq!(c.verifier.window_policy().window_for("/x/y"), MAX_WINDOW_MS);
        assert!(Config::parse("[replay]\nstore = \"redis\"").is_err());
        assert!(Config::parse("[replay]\nstore = \"disk\"").is_err());
        assert!(Config::parse("[replay]\nredis_url = \"redis://x\"").is_err());
        assert!(Config::parse("[metrics]\nport = 9464").is_err());
        let c = Config::parse("[metrics]\nlisten = \"127.0.0.1:9464\"").unwrap();
        assert_eq!(c.metrics_listen.as_deref(), Some("127.0.0.1:9464"));
        assert_eq!(Config::parse("").unwrap().metrics_listen, None);
    }

    /// Keys that would silently lose a rule or a window, or never match, are refused with
    /// their place (found by an audit: each of these was accepted).
    #[test]
    fn ambiguous_routes_and_windows_are_refused() {
        for (text, want) in [
            (
                "[windows.c]\na_get = 1000\na_post = 50000",
                "windows.c.a_post: action a already has a window of 1000 ms",
            ),
            (
                "[windows.c]\nfoo = 1000",
                "windows.c.foo: key \"foo\" is not <action>_<method>",
            ),
            (
                "[routes.f]\na_get = { x = \"req\" }\na_GET = {}",
                "routes.f.a_GET: the same route as routes.f.a_get",
            ),
            (
                "[routes.\"/e\"]\na_get = {}",
                "routes./e: controller \"/e\" has an empty",
            ),
            ("[windows.\"c//d\"]\na_get = 1", "windows.c//d: controller"),
            (
                "[limits]\nmax_connections = 9223372036854775807",
                "limits.max_connections",
            ),
            (
                "[limits]\nmax_connections = 1000001",
                "limits.max_connections: must be from 1",
            ),
            ("listen = \"8080\"", "listen: \"8080\" is not host:port"),
            ("listen = \"::1:8080\"", "listen:"),
            ("listen = \"127.0.0.1:99999\"", "listen:"),
            // Refused by `serve` only once it came to bind them (`check` said OK).
            (
                "listen = \" 127.0.0.1:8080\"",
                "listen: \" 127.0.0.1:8080\" is not host:port",
            ),
            ("listen = \"127.0.0.1\\t:8080\"", "listen:"),
            ("listen = \"[127.0.0.1]:8080\"", "listen:"),
            (
                "[metrics]\nlisten = \"localhost :9464\"",
                "metrics.listen: \"localhost :9464\" is not host:port",
            ),
            // A reserved key in the other table: read as action `_default`, method
            // `parameters`, or action `_`, method `default`.
            (
                "[windows.c]\n__default_parameters = 5",
                "windows.c.__default_parameters: keys starting with __ are reserved, and the \
                 one here is __default",
            ),
            (
                "[routes.c]\n__default = {}",
                "routes.c.__default: keys starting with __ are reserved, and the one here is \
                 __default_parameters",
            ),
            (
                "[windows]\n__defualt = 5",
                "windows.__defualt: keys starting with __",
            ),
            // An action with a `/`: `/c/a/b` is controller `c/a`, action `b`, so the route
            // never matched and the window never applied (the default one did).
            (
                "[routes.c]\n\"a/b_get\" = { x = \"req\" }",
                "routes.c.a/b_get: action \"a/b\" holds a '/', but an action is the path's last \
                 segment: for /c/a/b, write b_<method> under [routes.\"c/a\"]",
            ),
            (
                "[windows.c]\n\"a/b_get\" = 1000",
                "windows.c.a/b_get: action \"a/b\" holds a '/'",
            ),
            // A dotted table name nests: `[routes.api.reports]` is key `reports` of the
            // controller `api`, not the controller `api/reports` (the message spoke of a rule
            // or of a window that is a table).
            (
                "[routes.api.reports]\ndaily_get = { day = \"req\" }",
                "routes.api.reports: a table here is read as \"reports\" inside the controller \
                 \"api\", and \"reports\" is not <action>_<method>; for paths \
                 /api/reports/<action>, name the controller with its '/' in quotes: \
                 [routes.\"api/reports\"]",
            ),
            (
                "[windows.api.reports]\n__default = 5000",
                "windows.api.reports: a table here is read as \"reports\" inside the controller \
                 \"api\"",
            ),
            // The credential's param: `exc` never applied (links passed), `req` never met
            // (every request refused 422, the link's ottoken included).
            (
                "[routes.c]\na_get = { ottoken = \"exc\" }",
                "routes.c.a_get.ottoken: ottoken is the credential's parameter",
            ),
            (
                "[routes.c]\n__default_parameters = { ottoken = \"req\" }",
                "routes.c.__default_parameters.ottoken: ottoken is the credential's",
            ),
            // No request carries an empty key: `req` refused every request 422.
            (
                "[routes.c]\na_get = { \"\" = \"req\" }",
                "routes.c.a_get.\"\": a param name is never empty",
            ),
            (
                "[routes.c]\n__default_parameters = { \"\" = \"exc\" }",
                "routes.c.__default_parameters.\"\": a param name is never empty",
            ),
            // Names no path holds as sent: the route answered every request 404.
            (
                "[routes.c]\n\"a?b_get\" = {}",
                "routes.c.a?b_get: action \"a?b\" holds '?', which a request path never holds",
            ),
            (
                "[routes.c]\n\"a b_get\" = {}",
                "routes.c.a b_get: action \"a b\" holds ' '",
            ),
            (
                "[routes.\"api#v1\"]\na_get = {}",
                "routes.api#v1: controller \"api#v1\" holds '#'",
            ),
        ] {
            let e = Config::parse(text).unwrap_err();
            assert!(e.starts_with(want), "{text}: {e}");
        }
        // The same window under two methods is one window; nested controllers are fine.
        let c = Config::parse(
            "listen = \"[::1]:0\"\n[windows.c]\na_get = 1000\na_post = 1000\n\
             [routes.\"c/d\"]\na_get = {}\na_post = {}\n[limits]\nmax_connections = 1000000",
        )
        .unwrap();
        assert_eq!(c.verifier.window_policy().window_for("/c/a"), 1000);
        assert!(c.routes.unwrap().lookup("POST", "/c/d/a").is_ok());
        // A path may hold non-ASCII text and escapes as sent; a window, matched against the
        // decoded path, may name what only an escape sends.
        let c = Config::parse(
            "[routes.\"caf\u{e9}\"]\n\"a%62_get\" = {}\n[windows.c]\n\"a b_get\" = 1000",
        )
        .unwrap();
        assert!(c.routes.unwrap().lookup("GET", "/caf\u{e9}/a%62").is_ok());
        assert_eq!(c.verifier.window_policy().window_for("/c/a%20b"), 1000);
    }

    /// Windows are picked by the decoded path and routes matched by the path as sent: a
    /// window on `ab` applies to the route `a%62` (no warning), one on `a%62` to no route
    /// (a request to it decodes to `ab`).
    #[test]
    fn a_window_names_a_route_by_its_decoded_name() {
        let c = Config::parse(
            "[routes.c]\n\"a%62_get\" = {}\n[windows.c]\nab_get = 1000\n\"a%62_get\" = 2000\n",
        )
        .unwrap();
        assert_eq!(c.windows_naming_no_route(), ["windows.c.a%62"]);
        assert_eq!(c.verifier.window_policy().window_for("/c/a%62"), 1000);
    }

    /// No config error repeats the file's text: a password on any line (here `hunter2`)
    /// stays out of them, whatever the mistake; each names its line and column.
    #[test]
    fn errors_never_quote_the_file() {
        for (text, want) in [
            // Unquoted URL: the parser's own error showed the line.
            (
                "[replay]\nstore = \"redis\"\nredis_url = redis://:hunter2@h/0\n",
                "line 3, column 13: invalid string",
            ),
            // A typo in the key: the unknown one is named (bare), the line is not shown.
            (
                "[replay]\nredis_ur = \"redis://:hunter2@h/0\"\n",
                "line 2, column 1: unknown field `redis_ur`, expected one of `store`",
            ),
            // A value of the wrong type: serde quotes it.
            (
                "[replay]\ntimeout_ms = \"redis://:hunter2@h/0\"\n",
                "line 2, column 14: invalid type: string \"…\", expected u64",
            ),
            (
                "[replay]\npersist = \"hun\\\"ter2\"\n",
                "line 2, column 11: invalid type: string \"…\", expected a boolean",
            ),
            // A quoted key holding the secret.
            (
                "[replay]\n\"redis://:hunter2@h\" = 1\n",
                "line 2, column 1: unknown field `…`, expected one of",
            ),
            (
                "[replay]\nredis_url = \"redis://:hunter2@h/0\n",
                "line 2, column 34",
            ),
            (
                "listen = \"x\"\nhunter2 hunter2\n",
                "line 2, column 9: expected `.`, `=`",
            ),
            (
                "[replay]\nredis_url = \"a\"\nredis_url = \"redis://:hunter2@h/0\"\n",
                "line 3, column 1: duplicate key `redis_url`",
            ),
            (
                "[replay]\nstore = \"redis://:hunter2@h/0\"\n",
                "replay.store: must be \"memory\" or \"redis\"",
            ),
            ("schemes = [\"hunter2\"]\n", "schemes: "),
        ] {
            let e = Config::parse(text).unwrap_err();
            assert!(e.starts_with(want), "{text:?}: {e}");
            assert!(!e.contains("hunter2") && !e.contains("hun\\\"ter2"), "{e}");
            assert!(!e.contains('\n'), "one line: {e:?}");
        }
        assert_eq!(
            elide_quoted("a `b c` `\"` \"d\\\"e\" f"),
            "a `…` `\"` \"…\" f"
        );
    }

    /// `Debug` of the config (and of the file as parsed) shows the Redis URL without its
    /// password.
    #[test]
    fn debug_hides_the_redis_password() {
        let text = "[replay]\nstore = \"redis\"\nredis_url = \"redis://app:hunter2@h:6379/0\"\n";
        let config = Config::parse(text).unwrap();
        let file: ConfigFile = toml::from_str(text).unwrap();
        for shown in [
            format!("{config:?}"),
            format!("{:?}", config.replay),
            format!("{file:?}"),
        ] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("redis://app:***@h:6379/0"), "{shown}");
        }
        let unparsed: ConfigFile =
            toml::from_str("[replay]\nredis_url = \"hunter2://:x@[\"\n").unwrap();
        assert!(!format!("{unparsed:?}").contains("hunter2"));
        assert_eq!(
            format!("{:?}", ReplayConfig::default()),
            "Memory { persist: true }"
        );
    }

    #[test]
    fn rate_limit_is_off_by_default_and_parsed_with_overrides() {
        assert_eq!(Config::parse("").unwrap().rate_limit, None);
        let c = Config::parse(
            "[rate_limit]\nrequests_per_second = 2\nburst = 5\n\
             [rate_limit.clients.vip]\nunlimited = true\n\
             [rate_limit.clients.slow]\nrequests_per_second = 0.5\n",
        )
        .unwrap();
        let rl = c.rate_limit.unwrap();
        assert_eq!(rl.default, Some(Rate::new(2.0, Some(5)).unwrap()));
        assert_eq!(rl.rate_for("vip"), None);
        assert_eq!(rl.rate_for("slow"), Some(Rate::new(0.5, Some(1)).unwrap()));
        for bad in [
            "[rate_limit]\nrequests_per_second = 0",
            "[rate_limit]\nburst = 3",
            "[rate_limit]\nrequests_per_second = 1\nburst = 0",
            "[rate_limit]\nrps = 1",
            "[rate_limit.clients.x]\nburst = 1",
            "[rate_limit.clients.x]\nunlimited = true\nrequests_per_second = 1",
            "[rate_limit.clients.\"bad name\"]\nunlimited = true",
        ] {
            assert!(Config::parse(bad).is_err(), "{bad}");
        }
        let c = Config::parse("key_file = \"/etc/xnonce/registry.key\"").unwrap();
        assert_eq!(
            c.key_file.unwrap(),
            PathBuf::from("/etc/xnonce/registry.key")
        );
    }

    #[test]
    fn replay_store_choice() {
        assert_eq!(
            Config::parse("").unwrap().replay,
            ReplayConfig::Memory { persist: true }
        );
        let c = Config::parse("[replay]\nstore = \"redis\"\nredis_url = \"redis://127.0.0.1:6379\"\nkey_prefix = \"app1:\"").unwrap();
        assert_eq!(
            c.replay,
            ReplayConfig::Redis {
                url: "redis://127.0.0.1:6379".into(),
                key_prefix: "app1:".into(),
                timeout_ms: 2000
            }
        );
    }
}
