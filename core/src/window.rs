//! How old (or how far in the future) a request may be: a server default with per-controller
//! and per-action overrides, as em-secure-api's `request_timeout` configuration.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::{Error, ErrorCode, Result};

/// em-secure-api's default window: 30 seconds either side of the server clock.
pub const DEFAULT_WINDOW_MS: u64 = 30_000;

/// The longest window a binding or a config accepts: one day. A longer one would barely check
/// freshness, and every accepted request's replay key would be kept for that long.
pub const MAX_WINDOW_MS: u64 = 86_400_000;

/// A window a binding was given as an integer (a Python int, a Kotlin `ULong`, a JS bigint),
/// checked to `0..=`[`MAX_WINDOW_MS`], else `invalid_timestamp`, the one error every binding
/// gives for it. Pass `i128::MAX` for an integer beyond the `i128` range.
///
/// ```
/// use xnonce_core::window::{window_from_i128, MAX_WINDOW_MS};
/// assert_eq!(window_from_i128(30_000).unwrap(), 30_000);
/// assert!(window_from_i128(-1).is_err());
/// assert!(window_from_i128(i128::from(MAX_WINDOW_MS) + 1).is_err());
/// ```
pub fn window_from_i128(ms: i128) -> Result<u64> {
    crate::header::ms_from_i128(ms, MAX_WINDOW_MS).ok_or_else(invalid_window)
}

/// A window given as a floating-point number (JavaScript's numbers): an integer in
/// `0..=`[`MAX_WINDOW_MS`], else `invalid_timestamp`.
///
/// ```
/// use xnonce_core::window::window_from_f64;
/// assert_eq!(window_from_f64(5_000.0).unwrap(), 5_000);
/// assert!(window_from_f64(1.5).is_err());
/// assert!(window_from_f64(f64::NAN).is_err());
/// assert!(window_from_f64(1e300).is_err());
/// ```
pub fn window_from_f64(ms: f64) -> Result<u64> {
    crate::header::ms_from_f64(ms, MAX_WINDOW_MS).ok_or_else(invalid_window)
}

/// An action window's key as the bindings take it, `"controller/action"`, split as a request
/// path is (PROTOCOL §11.3): the action is after the **last** `/`, the controller everything
/// before it — so `api/v1/users/list` is controller `api/v1/users`, action `list`, the window
/// of `/api/v1/users/list`, and `/reports` is the empty controller's action `reports`. A key
/// without `/`, or with an empty action, is `invalid_path`.
///
/// ```
/// use xnonce_core::window::action_key;
/// assert_eq!(action_key("reports/live").unwrap(), ("reports", "live"));
/// assert_eq!(action_key("api/v1/users/list").unwrap(), ("api/v1/users", "list"));
/// assert_eq!(action_key("reports").unwrap_err().code().as_str(), "invalid_path");
/// ```
pub fn action_key(key: &str) -> Result<(&str, &str)> {
    match key.rsplit_once('/') {
        Some((controller, action)) if !action.is_empty() => Ok((controller, action)),
        _ => Err(Error::new(
            ErrorCode::InvalidPath,
            format!("an action window's key {key:?} must be \"controller/action\""),
        )),
    }
}

fn invalid_window() -> Error {
    Error::new(
        ErrorCode::InvalidTimestamp,
        "a window must be an integer number of milliseconds in 0..=86400000 (one day)",
    )
}

/// Windows by route. The path is percent-decoded first (so `/report%73/live` is `/reports/live`)
/// and split like the route table ([`crate::routes::split_path`]): the action is the last
/// segment, the controller everything before it. The most specific override wins.
///
/// ```
/// use xnonce_core::WindowPolicy;
/// let w = WindowPolicy::default().controller("reports", 120_000).action("reports", "live", 5_000);
/// assert_eq!(w.window_for("/reports/live"), 5_000);
/// assert_eq!(w.window_for("/reports/daily"), 120_000);
/// assert_eq!(w.window_for("/admin/status"), 30_000);
/// assert_eq!(w.window_for("/report%73/live"), 5_000);
/// assert_eq!(WindowPolicy::new(10_000).default_ms(), 10_000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowPolicy {
    default_ms: u64,
    // Ordered maps: a lookup is a few string comparisons, where a `HashMap` would run SipHash
    // over the controller and the action of every request.
    controllers: BTreeMap<String, u64>,
    /// controller → action → window.
    actions: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Default for WindowPolicy {
    fn default() -> Self {
        WindowPolicy::new(DEFAULT_WINDOW_MS)
    }
}

impl WindowPolicy {
    /// A policy with a server-wide default window.
    pub fn new(default_ms: u64) -> Self {
        WindowPolicy {
            default_ms,
            controllers: BTreeMap::new(),
            actions: BTreeMap::new(),
        }
    }

    /// Overrides the window of every action of a controller.
    pub fn controller(mut self, controller: impl Into<String>, ms: u64) -> Self {
        self.controllers.insert(controller.into(), ms);
        self
    }

    /// Overrides the window of one action.
    pub fn action(
        mut self,
        controller: impl Into<String>,
        action: impl Into<String>,
        ms: u64,
    ) -> Self {
        self.actions
            .entry(controller.into())
            .or_default()
            .insert(action.into(), ms);
        self
    }

    /// The server-wide default.
    pub fn default_ms(&self) -> u64 {
        self.default_ms
    }

    /// Every override as `(controller, action, ms)`: a controller's with no action, then each
    /// action's, in key order.
    ///
    /// ```
    /// use xnonce_core::WindowPolicy;
    /// let w = WindowPolicy::new(30_000).controller("reports", 120_000).action("admin", "status", 5_000);
    /// let all: Vec<_> = w.overrides().collect();
    /// assert_eq!(all, [("reports", None, 120_000), ("admin", Some("status"), 5_000)]);
    /// ```
    pub fn overrides(&self) -> impl Iterator<Item = (&str, Option<&str>, u64)> {
        let controllers = self
            .controllers
            .iter()
            .map(|(c, ms)| (c.as_str(), None, *ms));
        let actions = self.actions.iter().flat_map(|(c, actions)| {
            actions
                .iter()
                .map(move |(a, ms)| (c.as_str(), Some(a.as_str()), *ms))
        });
        controllers.chain(actions)
    }

    /// Refuses (`invalid_path`) an override that no request path can select, so it would
    /// silently never apply and the default window would: paths are split as
    /// [`crate::routes::split_path`] splits them, so a controller has no empty segment (no
    /// leading, trailing or doubled `/`; the empty controller is the root's), an action holds
    /// no `/`, and only the root path `/` has an empty action (controller `""`).
    /// [`crate::Verifier::windows`] runs this check.
    ///
    /// ```
    /// use xnonce_core::WindowPolicy;
    /// assert!(WindowPolicy::new(30_000).action("", "status", 5_000).check_reachable().is_ok());
    /// for w in [
    ///     WindowPolicy::new(30_000).action("admin", "", 5_000),
    ///     WindowPolicy::new(30_000).action("admin", "a/b", 5_000),
    ///     WindowPolicy::new(30_000).controller("/admin", 5_000),
    ///     WindowPolicy::new(30_000).controller("api//v1", 5_000),
    /// ] {
    ///     assert_eq!(w.check_reachable().unwrap_err().code().as_str(), "invalid_path");
    /// }
    /// ```
    pub fn check_reachable(&self) -> Result<()> {
        for (controller, action, _) in self.overrides() {
            let why = if !controller.is_empty() && controller.split('/').any(str::is_empty) {
                "a controller has no empty path segment (no leading, trailing or double '/')"
            } else if action.is_some_and(|a| a.contains('/')) {
                "an action is a path's last segment, without '/'"
            } else if action == Some("") && !controller.is_empty() {
                "only the root path / has an empty action"
            } else {
                continue;
            };
            let key = match action {
                Some(action) => format!("action window {controller:?}/{action:?}"),
                None => format!("controller window {controller:?}"),
            };
            return Err(Error::new(
                ErrorCode::InvalidPath,
                format!("the {key} can never apply: {why}"),
            ));
        }
        Ok(())
    }

    /// What servers and middlewares say of each of [`WindowPolicy::naming_no_route`], after
    /// the window's name in their own configuration's words.
    pub const NAMING_NO_ROUTE: &'static str =
        "names no route, so it applies to no request (a misspelt controller or action?)";

    /// The overrides, as `(controller, action)`, that select no route of `routes`: with a
    /// route table a request without a route is refused (`unknown_route`) before any window
    /// applies, so such an override applies to no request — most likely a misspelt
    /// controller or action. A route takes its window by its decoded name
    /// ([`WindowPolicy::names_for`]): a route `a%62` of controller `c` takes the window of
    /// `c`/`ab`, and a window on `c`/`a%62` selects no route. Servers and middlewares warn of
    /// these when they start.
    ///
    /// ```
    /// use xnonce_core::{RouteTable, WindowPolicy};
    /// let routes = RouteTable::new().route("reports", "daily", "GET", &[]);
    /// let w = WindowPolicy::new(30_000)
    ///     .controller("reprots", 60_000)
    ///     .action("reports", "daily", 5_000)
    ///     .action("reports", "live", 1_000);
    /// assert_eq!(w.naming_no_route(&routes), [("reprots", None), ("reports", Some("live"))]);
    /// ```
    pub fn naming_no_route(&self, routes: &crate::RouteTable) -> Vec<(&str, Option<&str>)> {
        let routed: Vec<(String, String)> = routes
            .routes()
            .map(|(c, a, _)| WindowPolicy::names_for(&format!("/{c}/{a}")))
            .collect();
        self.overrides()
            .filter(|&(c, a, _)| {
                !routed
                    .iter()
                    .any(|(rc, ra)| rc == c && a.is_none_or(|a| a == ra))
            })
            .map(|(c, a, _)| (c, a))
            .collect()
    }

    /// The longest window of the policy: the default or any override.
    ///
    /// ```
    /// use xnonce_core::WindowPolicy;
    /// let w = WindowPolicy::new(30_000).controller("reports", 120_000).action("admin", "status", 5_000);
    /// assert_eq!(w.longest_ms(), 120_000);
    /// assert_eq!(WindowPolicy::new(10_000).action("a", "b", 5_000).longest_ms(), 10_000);
    /// ```
    pub fn longest_ms(&self) -> u64 {
        self.overrides()
            .map(|(_, _, ms)| ms)
            .fold(self.default_ms, u64::max)
    }

    /// The `(controller, action)` by which [`WindowPolicy::window_for`] picks the window of a
    /// request to `path`: the path percent-decoded (lossily), then split as
    /// [`crate::routes::split_path`] splits it. So a route matched against the path as sent
    /// takes its window by its decoded name.
    ///
    /// ```
    /// use xnonce_core::WindowPolicy;
    /// assert_eq!(WindowPolicy::names_for("/reports/daily"), ("reports".into(), "daily".into()));
    /// // A route `a%62_get` (the path as sent) takes the window of `ab_get`.
    /// assert_eq!(WindowPolicy::names_for("/c/a%62"), ("c".into(), "ab".into()));
    /// ```
    pub fn names_for(path: &str) -> (String, String) {
        let decoded = decoded_path(path);
        let (controller, action) = crate::routes::split_path_borrowed(&decoded);
        (controller.into_owned(), action.into_owned())
    }

    /// The window that applies to a request path.
    pub fn window_for(&self, path: &str) -> u64 {
        if self.actions.is_empty() && self.controllers.is_empty() {
            return self.default_ms;
        }
        let decoded = decoded_path(path);
        let (controller, action) = crate::routes::split_path_borrowed(&decoded);
        let controller: &str = &controller;
        if let Some(ms) = self
            .actions
            .get(controller)
            .and_then(|actions| actions.get(action.as_ref()))
        {
            return *ms;
        }
        self.controllers
            .get(controller)
            .copied()
            .unwrap_or(self.default_ms)
    }
}

/// `path` with its `%XX` escapes decoded (lossily: invalid UTF-8 as U+FFFD), or as it is when
/// it has none or a bad one: the path windows are looked up by.
fn decoded_path(path: &str) -> Cow<'_, str> {
    if !path.contains('%') {
        return Cow::Borrowed(path);
    }
    match crate::percent::decode_path(path) {
        Ok(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
        Err(_) => Cow::Borrowed(path),
    }
}
