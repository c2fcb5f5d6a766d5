//! Routes and their parameter rules, as em-secure-api's `routes` hash: pure lookup logic, what
//! the reference server checks, and a [`Verifier`](crate::Verifier) with a table checks first.
//!
//! A request path is split like em-secure-api does: the **action** is the last non-empty
//! segment, the **controller** is every segment before it joined with `/`
//! (`/controller1/action1` → `controller1`, `action1`). A route is keyed by
//! `<action>_<method>` (lower-case method, e.g. `action1_get`). Each controller may carry
//! `__default_parameters`; a route's own rules are merged over them (same key: the route's
//! rule wins and keeps the default's position). Rules:
//!
//! * `req` — the parameter must be present (an empty value counts as present);
//! * `opt` — documentation only;
//! * `exc` — the parameter must be absent.
//!
//! Parameters not listed at all are accepted, as in the original. Rules are checked in order
//! (defaults first) and the first failing one is reported. The error messages are exactly
//! em-secure-api's response bodies, so a v1 server can answer with [`crate::Error::message`].
//!
//! ```
//! use xnonce_core::routes::{ParamRule, RouteTable};
//! use xnonce_core::ErrorCode;
//! let table = RouteTable::demo();
//! let route = table.lookup("GET", "/controller1/action3").unwrap();
//! let params = vec![("username".to_string(), "phil".to_string()),
//!                   ("password".to_string(), "pw".to_string()),
//!                   ("opt1".to_string(), "x".to_string())];
//! let e = route.check_params(&params).unwrap_err();
//! assert_eq!(e.code(), ErrorCode::ExcludedParam);
//! assert_eq!(e.message(), "Included invalid parameter password");
//! assert_eq!(table.lookup("GET", "/nope/x").unwrap_err().message(), "controller (nope) not found");
//! assert_eq!(route.rules()[0], ("username".to_string(), ParamRule::Required));
//! ```

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::error::{err, Error, ErrorCode, Result};
use crate::Scheme;

/// The key of a controller's default parameter rules.
pub const DEFAULT_PARAMETERS: &str = "__default_parameters";

/// One parameter rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamRule {
    /// `req`: must be present.
    Required,
    /// `opt`: may be present (documentation only).
    Optional,
    /// `exc`: must not be present.
    Excluded,
}

impl ParamRule {
    /// `"req"`, `"opt"` or `"exc"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ParamRule::Required => "req",
            ParamRule::Optional => "opt",
            ParamRule::Excluded => "exc",
        }
    }
}

impl fmt::Display for ParamRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ParamRule {
    type Err = Error;
    /// Parses `req`/`opt`/`exc`, or the long forms `required`/`optional`/`excluded` (and
    /// `exclude`); anything else is `invalid_param_value`.
    fn from_str(s: &str) -> Result<ParamRule> {
        match s {
            "req" | "required" => Ok(ParamRule::Required),
            "opt" | "optional" => Ok(ParamRule::Optional),
            "exc" | "excluded" | "exclude" => Ok(ParamRule::Excluded),
            _ => err(
                ErrorCode::InvalidParamValue,
                "a parameter rule is one of req, opt, exc (or required, optional, excluded)",
            ),
        }
    }
}

/// Ordered `(param, rule)` pairs.
pub type Rules = Vec<(String, ParamRule)>;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Action {
    name: Arc<str>,
    method: Arc<str>,
    rules: Rules,
    /// The controller's defaults with `rules` merged over them, made when either changes
    /// (every match of the route shares them).
    merged: Arc<Rules>,
}

impl Action {
    fn merge_over(&mut self, defaults: &Rules) {
        let mut merged = defaults.clone();
        merge(&mut merged, &self.rules);
        self.merged = Arc::new(merged);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Controller {
    name: Arc<str>,
    defaults: Rules,
    /// Whether `__default_parameters` was given (empty or not).
    defaults_given: bool,
    actions: Vec<Action>,
}

/// A table of controllers, their `__default_parameters` and their `<action>_<method>` routes.
///
/// ```
/// use xnonce_core::{ParamRule, RouteMatch, RouteTable};
/// let mut table = RouteTable::new()
///     .defaults("reports", &[("account", ParamRule::Required)])
///     .route("reports", "daily", "GET", &[("day", ParamRule::Required), ("tz", ParamRule::Optional)]);
/// table.add_key("reports", "purge_post", vec![("day".into(), ParamRule::Excluded)])?; // config form
/// let params = vec![("account".to_string(), "7".to_string()), ("day".to_string(), "2024-01-01".to_string())];
/// let m: RouteMatch = table.check("GET", "/reports/daily", &params)?;
/// assert_eq!((&*m.controller, m.key()), ("reports", "daily_get".to_string()));
/// assert_eq!(table.check("POST", "/reports/purge", &params).unwrap_err().message(),
///            "Included invalid parameter day");
/// assert_eq!(ParamRule::Excluded.as_str(), "exc");
/// # Ok::<(), xnonce_core::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteTable {
    controllers: Vec<Controller>,
}

/// A route found by [`RouteTable::lookup`]: names and the merged rules. The names are shared
/// with the table (a match allocates nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    /// The controller (every path segment but the last, joined with `/`).
    pub controller: Arc<str>,
    /// The action (the last path segment).
    pub action: Arc<str>,
    /// The lower-case method.
    pub method: Arc<str>,
    rules: Arc<Rules>,
}

impl RouteMatch {
    /// The merged rules: controller defaults first, the route's own rules merged over them.
    pub fn rules(&self) -> &[(String, ParamRule)] {
        &self.rules
    }

    /// The route key, `<action>_<method>`.
    pub fn key(&self) -> String {
        format!("{}_{}", self.action, self.method)
    }

    /// Checks the request's params against the rules (`missing_param`, `excluded_param`).
    pub fn check_params(&self, params: &[(String, String)]) -> Result<()> {
        check_rules(&self.rules, params)
    }

    /// Checks the rules against the param **names** of a request as sent — its raw `query`
    /// and, for a form, its raw `form` body — before anything is decoded or verified, as
    /// em-secure-api does: v1 names are compared raw (em-secure-api does not decode them),
    /// v2 names form-decoded (`opt%31` is `opt1`); the credential's own `ottoken` pair is
    /// never a param. `scheme` is the request's as its credential looks
    /// ([`crate::answer::refusal_scheme`]). The first failing rule is reported with
    /// em-secure-api's text, as [`RouteMatch::check_params`] does. Allocates nothing (the
    /// reference server calls it on every request).
    ///
    /// ```
    /// use xnonce_core::{ParamRule, RouteTable, Scheme};
    /// let table = RouteTable::new().route("c", "a", "get", &[("opt1", ParamRule::Required)]);
    /// let route = table.lookup("GET", "/c/a")?;
    /// assert!(route.check_sent(Scheme::V2, "opt%31=x", None).is_ok());
    /// let e = route.check_sent(Scheme::V1, "opt%31=x", None).unwrap_err();
    /// assert_eq!(e.message(), "Missing required parameter opt1");
    /// # Ok::<(), xnonce_core::Error>(())
    /// ```
    pub fn check_sent(&self, scheme: Scheme, query: &str, form: Option<&str>) -> Result<()> {
        let rules = self.rules();
        let ottoken = crate::ottoken::PARAM;
        // Whether the raw name `raw` (`escaped`: holds `%` or `+`) names the rule's `name`.
        let matches = |raw: &str, escaped: bool, name: &str| match scheme {
            Scheme::V1 => same_name(raw, name) && raw != ottoken,
            _ if escaped => param_name_is(raw, name) && name != ottoken,
            _ => same_name(raw, name) && name != ottoken,
        };
        // One pass over the params marks which rules' names are present (on the stack for
        // up to 64 rules).
        let mut small = [false; 64];
        let mut large = Vec::new();
        let present: &mut [bool] = if rules.len() <= small.len() {
            &mut small[..rules.len()]
        } else {
            large.resize(rules.len(), false);
            &mut large
        };
        let sent = crate::params::split_raw(query)
            .chain(form.into_iter().flat_map(crate::params::split_raw));
        for (k, _) in sent {
            let escaped = k.bytes().any(|b| b == b'%' || b == b'+');
            for (seen, (name, _)) in present.iter_mut().zip(rules) {
                *seen |= matches(k, escaped, name);
            }
        }
        for ((name, rule), &present) in rules.iter().zip(&*present) {
            check_rule(name, *rule, present)?;
        }
        Ok(())
    }
}

/// One rule against whether its param is present, with em-secure-api's text on failure.
fn check_rule(name: &str, rule: ParamRule, present: bool) -> Result<()> {
    match rule {
        ParamRule::Required if !present => err(
            ErrorCode::MissingParam,
            format!("Missing required parameter {name}"),
        ),
        ParamRule::Excluded if present => err(
            ErrorCode::ExcludedParam,
            format!("Included invalid parameter {name}"),
        ),
        _ => Ok(()),
    }
}

/// `a == b` for the short names of params, compared in line: `==` on `str` calls `memcmp`,
/// which for names of a few bytes costs more than the comparison (a route's rules are
/// compared with every param of every request).
fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// True when the raw form-encoded `raw` decodes to `name` (`+` is a space, `%XX` a byte; a
/// malformed escape matches nothing).
fn param_name_is(raw: &str, name: &str) -> bool {
    let (raw, name) = (raw.as_bytes(), name.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < raw.len() {
        let b = match raw[i] {
            b'+' => {
                i += 1;
                b' '
            }
            b'%' => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (
                    raw.get(i + 1).and_then(|&c| hex(c)),
                    raw.get(i + 2).and_then(|&c| hex(c)),
                ) {
                    (Some(h), Some(l)) => {
                        i += 3;
                        (h * 16 + l) as u8
                    }
                    _ => return false,
                }
            }
            b => {
                i += 1;
                b
            }
        };
        if name.get(j) != Some(&b) {
            return false;
        }
        j += 1;
    }
    j == name.len()
}

/// Checks params against ordered rules; the first failing rule is reported with
/// em-secure-api's body text (`Missing required parameter <k>` /
/// `Included invalid parameter <k>`).
pub fn check_rules(rules: &[(String, ParamRule)], params: &[(String, String)]) -> Result<()> {
    for (key, rule) in rules {
        check_rule(key, *rule, params.iter().any(|(k, _)| k == key))?;
    }
    Ok(())
}

/// Splits a request path into (controller, action) as em-secure-api does: the action is the
/// last non-empty segment, the controller every earlier one joined with `/`.
///
/// ```
/// use xnonce_core::routes::split_path;
/// assert_eq!(split_path("/controller1/action1"), ("controller1".to_string(), "action1".to_string()));
/// assert_eq!(split_path("/a/b/c/"), ("a/b".to_string(), "c".to_string()));
/// assert_eq!(split_path("/"), (String::new(), String::new()));
/// ```
pub fn split_path(path: &str) -> (String, String) {
    let (controller, action) = split_path_borrowed(path);
    (controller.into_owned(), action.into_owned())
}

/// [`split_path`] borrowing from `path` unless the controller part holds empty segments
/// (`/a//b/c`), which are dropped.
pub fn split_path_borrowed(path: &str) -> (Cow<'_, str>, Cow<'_, str>) {
    // Byte searches: `/` is ASCII, so every cut is on a char boundary.
    let b = path.as_bytes();
    let (mut start, mut end) = (0, b.len());
    while start < end && b[start] == b'/' {
        start += 1;
    }
    while end > start && b[end - 1] == b'/' {
        end -= 1;
    }
    let trimmed = &path[start..end];
    let (controller, action) = match trimmed.bytes().rposition(|c| c == b'/') {
        Some(i) => (trimmed[..i].trim_end_matches('/'), &trimmed[i + 1..]),
        None => ("", trimmed),
    };
    if controller.as_bytes().windows(2).any(|w| w == b"//") {
        let segments: Vec<&str> = controller.split('/').filter(|s| !s.is_empty()).collect();
        return (Cow::Owned(segments.join("/")), Cow::Borrowed(action));
    }
    (Cow::Borrowed(controller), Cow::Borrowed(action))
}

fn merge(into: &mut Rules, rules: &[(String, ParamRule)]) {
    for (k, r) in rules {
        match into.iter_mut().find(|(ek, _)| ek == k) {
            Some(slot) => slot.1 = *r,
            None => into.push((k.clone(), *r)),
        }
    }
}

fn to_rules(rules: &[(&str, ParamRule)]) -> Rules {
    rules.iter().map(|(k, r)| (k.to_string(), *r)).collect()
}

/// Checks a route table's controller name: the path segments before the action, joined with
/// `/` ([`split_path`]), so none is empty (no leading, trailing or doubled `/`: such a route
/// could never match a request); `invalid_path` otherwise.
///
/// ```
/// use xnonce_core::routes::check_controller_name;
/// assert!(check_controller_name("api/v1").is_ok());
/// assert_eq!(check_controller_name("/api").unwrap_err().code().as_str(), "invalid_path");
/// ```
pub fn check_controller_name(name: &str) -> Result<()> {
    if name.split('/').any(str::is_empty) {
        return err(
            ErrorCode::InvalidPath,
            format!(
                "controller {name:?} has an empty path segment (no leading, trailing or double \
                 '/')"
            ),
        );
    }
    Ok(())
}

/// Checks a route table's controller name as [`RouteTable::add_checked`] does:
/// [`check_controller_name`], then [`check_sent_name`] (for a controller given without routes
/// yet, which `add_checked` never sees: a table refused whole or not at all).
pub fn check_route_controller(name: &str) -> Result<()> {
    check_controller_name(name)?;
    check_sent_name(name, "controller")
}

/// Checks that a route's controller or action name (`what`) is one a request path can hold
/// as sent: routes are matched against the path as sent (PROTOCOL §16), which never holds a
/// raw `?` (the query starts there), `#` (a fragment is never sent), whitespace or a control
/// character (HTTP refuses them in a request target); a client sends such a character
/// percent-escaped, which the route table does not decode, so a route so named would answer
/// every request 404. `invalid_path` otherwise.
///
/// ```
/// use xnonce_core::routes::check_sent_name;
/// assert!(check_sent_name("daily", "action").is_ok());
/// assert_eq!(check_sent_name("da ily", "action").unwrap_err().code().as_str(), "invalid_path");
/// ```
pub fn check_sent_name(name: &str, what: &str) -> Result<()> {
    match name
        .chars()
        .find(|&c| c == '?' || c == '#' || c.is_whitespace() || c.is_control())
    {
        Some(c) => err(
            ErrorCode::InvalidPath,
            format!(
                "{what} {name:?} holds {c:?}, which a request path never holds as sent (routes \
                 are matched against the path as sent, percent-escapes undecoded), so no \
                 request could ever match this route"
            ),
        ),
        None => Ok(()),
    }
}

/// Checks the param name of a rule: never empty (no signer signs an empty key, PROTOCOL §3.6:
/// `req` would refuse every request, `exc` never apply), never `ottoken` (the credential's own
/// param is never one of the request's params); `invalid_param_key` otherwise.
///
/// ```
/// use xnonce_core::routes::check_rule_name;
/// assert!(check_rule_name("day").is_ok());
/// assert_eq!(check_rule_name("ottoken").unwrap_err().code().as_str(), "invalid_param_key");
/// ```
pub fn check_rule_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return err(
            ErrorCode::InvalidParamKey,
            "a param name is never empty (no request can carry an empty key), so no rule can \
             name it",
        );
    }
    if name == crate::ottoken::PARAM {
        return err(
            ErrorCode::InvalidParamKey,
            "ottoken is the credential's parameter (a one-time link's), not a param of the \
             request, so no rule can name it",
        );
    }
    Ok(())
}

/// em-secure-api's route key `<action>_<method>`, split on the last `_`: the action and the
/// method (1 to 16 ASCII letters, any case, as [`crate::canonical::method`] takes it, else
/// `invalid_method`). A key without `_`, or with nothing before or after it, is
/// `unknown_route`.
///
/// ```
/// use xnonce_core::routes::split_key;
/// assert_eq!(split_key("action3_get").unwrap(), ("action3", "get"));
/// assert_eq!(split_key("my_action_POST").unwrap(), ("my_action", "POST"));
/// assert_eq!(split_key("status").unwrap_err().code().as_str(), "unknown_route");
/// assert_eq!(split_key("status_g3t").unwrap_err().code().as_str(), "invalid_method");
/// ```
pub fn split_key(key: &str) -> Result<(&str, &str)> {
    match key.rsplit_once('_') {
        Some((action, method)) if !action.is_empty() && !method.is_empty() => {
            crate::canonical::method(method)?;
            Ok((action, method))
        }
        _ => err(
            ErrorCode::UnknownRoute,
            format!("key {key:?} is not <action>_<method>"),
        ),
    }
}

impl RouteTable {
    /// An empty table (every request is an unknown route).
    pub fn new() -> Self {
        Self::default()
    }

    /// em-secure-api's README example API (DESIGN §5), served by `xnonce-server --demo`.
    pub fn demo() -> Self {
        use ParamRule::{Excluded as Exc, Optional as Opt, Required as Req};
        RouteTable::new()
            .defaults("controller1", &[("username", Req), ("password", Req)])
            .route(
                "controller1",
                "action1",
                "get",
                &[("opt1", Req), ("opt2", Opt)],
            )
            .route(
                "controller1",
                "action2",
                "get",
                &[("opt1", Req), ("opt2", Req), ("password", Opt)],
            )
            .route(
                "controller1",
                "action3",
                "get",
                &[("opt1", Req), ("password", Exc)],
            )
            .route(
                "controller2",
                "action1",
                "post",
                &[("opt1", Req), ("opt2", Opt), ("opt3", Req)],
            )
            .route(
                "controller2",
                "action2",
                "get",
                &[("opt1", Req), ("opt2", Req)],
            )
            .route("controller2", "action3", "get", &[])
            .route("admin", "status", "get", &[])
    }

    fn controller_mut(&mut self, name: &str) -> &mut Controller {
        let i = match self.controllers.iter().position(|c| &*c.name == name) {
            Some(i) => i,
            None => {
                self.controllers.push(Controller {
                    name: name.into(),
                    defaults: Vec::new(),
                    defaults_given: false,
                    actions: Vec::new(),
                });
                self.controllers.len() - 1
            }
        };
        &mut self.controllers[i]
    }

    /// Sets (merges into) a controller's `__default_parameters`.
    pub fn defaults(mut self, controller: &str, rules: &[(&str, ParamRule)]) -> Self {
        self.add_defaults(controller, to_rules(rules));
        self
    }

    /// Adds a route `<action>_<method>` under a controller (replacing an existing one).
    pub fn route(
        mut self,
        controller: &str,
        action: &str,
        method: &str,
        rules: &[(&str, ParamRule)],
    ) -> Self {
        self.add_route(controller, action, method, to_rules(rules));
        self
    }

    /// In-place form of [`RouteTable::defaults`].
    pub fn add_defaults(&mut self, controller: &str, rules: Rules) {
        let c = self.controller_mut(controller);
        c.defaults_given = true;
        merge(&mut c.defaults, &rules);
        for a in &mut c.actions {
            a.merge_over(&c.defaults);
        }
    }

    /// In-place form of [`RouteTable::route`].
    pub fn add_route(&mut self, controller: &str, action: &str, method: &str, rules: Rules) {
        let method = method.to_ascii_lowercase();
        let c = self.controller_mut(controller);
        c.actions
            .retain(|a| !(&*a.name == action && *a.method == *method));
        let mut a = Action {
            name: action.into(),
            method: method.into(),
            rules,
            merged: Arc::default(),
        };
        a.merge_over(&c.defaults);
        c.actions.push(a);
    }

    /// Adds a route from em-secure-api's key form `<action>_<method>` ([`split_key`]).
    /// `__default_parameters` sets the controller's defaults instead.
    pub fn add_key(&mut self, controller: &str, key: &str, rules: Rules) -> Result<()> {
        if key == DEFAULT_PARAMETERS {
            self.add_defaults(controller, rules);
            return Ok(());
        }
        let (action, method) = split_key(key)?;
        self.add_route(controller, action, method, rules);
        Ok(())
    }

    /// [`RouteTable::add_key`], checked as `xnonce-server`'s config is: a controller name
    /// some path can hold ([`check_controller_name`], [`check_sent_name`]), a key that is
    /// `__default_parameters` or `<action>_<method>` ([`split_key`]) with an action some path
    /// can hold (no `/`: an action is the path's last segment), a route not given twice
    /// (methods compared without case: the second would silently replace the first's rules),
    /// nor a controller's `__default_parameters`, and rules whose names a request can carry
    /// ([`check_rule_name`]), each param once. What no request could ever match is refused
    /// (`invalid_path`, `invalid_param_key`, `invalid_method`: input errors, never a request's
    /// `unknown_route`) rather than answering every request 404 or 422.
    ///
    /// ```
    /// use xnonce_core::{ParamRule, RouteTable};
    /// let mut table = RouteTable::new();
    /// table.add_checked("reports", "daily_get", vec![("day".into(), ParamRule::Required)])?;
    /// let twice = table.add_checked("reports", "daily_GET", vec![]).unwrap_err();
    /// assert_eq!(twice.code().as_str(), "invalid_path");
    /// let e = table.add_checked("reports", "purge_post", vec![("ottoken".into(), ParamRule::Excluded)]);
    /// assert_eq!(e.unwrap_err().code().as_str(), "invalid_param_key");
    /// # Ok::<(), xnonce_core::Error>(())
    /// ```
    pub fn add_checked(&mut self, controller: &str, key: &str, rules: Rules) -> Result<()> {
        check_route_controller(controller)?;
        for (i, (name, _)) in rules.iter().enumerate() {
            check_rule_name(name)?;
            // The server's TOML refuses a key given twice; merged, the last rule would win.
            if rules[..i].iter().any(|(earlier, _)| earlier == name) {
                return err(
                    ErrorCode::InvalidParamKey,
                    format!("the param {name:?} is given two rules in {controller}.{key}"),
                );
            }
        }
        if key == DEFAULT_PARAMETERS {
            let given = self
                .controllers
                .iter()
                .any(|c| &*c.name == controller && c.defaults_given);
            if given {
                return err(
                    ErrorCode::InvalidPath,
                    format!(
                        "the {DEFAULT_PARAMETERS} of controller {controller:?} are given twice"
                    ),
                );
            }
            self.add_defaults(controller, rules);
            return Ok(());
        }
        if key.starts_with("__") {
            return err(
                ErrorCode::InvalidPath,
                format!(
                    "keys starting with __ are reserved, and the one here is {DEFAULT_PARAMETERS}"
                ),
            );
        }
        // A key no route can be made of is the table's input error, not a request's 404.
        let (action, method) = split_key(key).map_err(|e| match e.code() {
            ErrorCode::UnknownRoute => Error::new(ErrorCode::InvalidPath, e.message()),
            _ => e,
        })?;
        if action.contains('/') {
            return err(
                ErrorCode::InvalidPath,
                format!("action {action:?} holds a '/', but an action is the path's last segment"),
            );
        }
        check_sent_name(action, "action")?;
        let given = self
            .routes()
            .any(|(c, a, m)| c == controller && a == action && m.eq_ignore_ascii_case(method));
        if given {
            return err(
                ErrorCode::InvalidPath,
                format!(
                    "the route {action}_{} of controller {controller:?} is given twice (methods \
                     are case-insensitive)",
                    method.to_ascii_lowercase()
                ),
            );
        }
        self.add_route(controller, action, method, rules);
        Ok(())
    }

    /// Every route as `(controller, action, method)`, in insertion order.
    pub fn routes(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.controllers.iter().flat_map(|c| {
            c.actions
                .iter()
                .map(move |a| (&*c.name, &*a.name, &*a.method))
        })
    }

    /// Finds the route of a request (`unknown_route`, with em-secure-api's 404 body text:
    /// `controller (<c>) not found` or `action_method (<a>_<m>) not found in controller <c>`).
    /// A `HEAD` without a route of its own takes its action's `GET` route (RFC 9110 §9.3.2:
    /// a `HEAD` is the `GET` without the body).
    ///
    /// ```
    /// use xnonce_core::{ParamRule, RouteTable};
    /// let table = RouteTable::new().route("reports", "daily", "GET", &[("day", ParamRule::Required)]);
    /// assert_eq!(&*table.lookup("HEAD", "/reports/daily").unwrap().method, "get");
    /// assert!(table.lookup("POST", "/reports/daily").is_err());
    /// ```
    pub fn lookup(&self, method: &str, path: &str) -> Result<RouteMatch> {
        let (controller, action) = split_path_borrowed(path);
        let Some(c) = self.controllers.iter().find(|c| *c.name == *controller) else {
            return err(
                ErrorCode::UnknownRoute,
                format!("controller ({controller}) not found"),
            );
        };
        let route = |method: &str| {
            c.actions
                .iter()
                .find(|a| *a.name == *action && a.method.eq_ignore_ascii_case(method))
        };
        let found = match route(method) {
            None if method.eq_ignore_ascii_case("HEAD") => route("GET"),
            found => found,
        };
        let Some(a) = found else {
            let method = method.to_ascii_lowercase();
            return err(
                ErrorCode::UnknownRoute,
                format!("action_method ({action}_{method}) not found in controller {controller}"),
            );
        };
        Ok(RouteMatch {
            controller: c.name.clone(),
            action: a.name.clone(),
            method: a.method.clone(),
            rules: a.merged.clone(),
        })
    }

    /// The table's decision on a request from its head alone, before its body is read: a
    /// client sending a body to an unknown route is not waited for, and gets the 404 (or the
    /// 422 of param rules the query alone fails) it would get once the body is read. For a
    /// body that is not a form (`req.body` is not read), the route found and its rules
    /// checked against the query ([`RouteMatch::check_sent`], in the scheme
    /// [`crate::Incoming::refusal_scheme`] gives the head); `Ok(None)` for a form, whose
    /// fields are params (and may hold the `ottoken` that chooses the answer's style): the
    /// full check must wait for its body. The reference server and the middlewares decide
    /// so, in that order (PROTOCOL §16).
    ///
    /// ```
    /// use xnonce_core::{Incoming, ParamRule, RouteTable};
    /// let table = RouteTable::new().route("c", "a", "POST", &[("x", ParamRule::Required)]);
    /// let head = Incoming::new("POST", "/c/b").body(Some("application/json"), b"");
    /// assert_eq!(table.check_head(&head).unwrap_err().code().as_str(), "unknown_route");
    /// let form = Incoming::new("POST", "/c/b").body(Some("application/x-www-form-urlencoded"), b"");
    /// assert!(table.check_head(&form)?.is_none()); // decided once its body is read
    /// # Ok::<(), xnonce_core::Error>(())
    /// ```
    pub fn check_head(&self, req: &crate::Incoming<'_>) -> Result<Option<RouteMatch>> {
        if req.is_form() {
            return Ok(None);
        }
        self.check_request(req, None).map(Some)
    }

    /// The route of `req`, its rules checked against its params as sent
    /// ([`RouteMatch::check_sent`]: the query's, and `form`'s, the form body's text as
    /// [`crate::Incoming::form_text`] reads it), in the scheme whose style a refusal answers
    /// in ([`crate::answer::refusal_scheme`]): what a [`Verifier`](crate::Verifier) with a
    /// table, and the reference server, check before the credential.
    ///
    /// ```
    /// use xnonce_core::{Incoming, ParamRule, RouteTable};
    /// let table = RouteTable::new().route("c", "a", "GET", &[("x", ParamRule::Required)]);
    /// assert!(table.check_request(&Incoming::new("GET", "/c/a?x=1"), None).is_ok());
    /// let e = table.check_request(&Incoming::new("GET", "/c/a"), None).unwrap_err();
    /// assert_eq!(e.message(), "Missing required parameter x");
    /// ```
    pub fn check_request(
        &self,
        req: &crate::Incoming<'_>,
        form: Option<&str>,
    ) -> Result<RouteMatch> {
        let scheme = crate::answer::refusal_scheme(req.x_nonce, req.query, form);
        let route = self.lookup(req.method, req.path)?;
        route.check_sent(scheme, req.query, form)?;
        Ok(route)
    }

    /// [`RouteTable::lookup`] then [`RouteMatch::check_params`].
    pub fn check(
        &self,
        method: &str,
        path: &str,
        params: &[(String, String)],
    ) -> Result<RouteMatch> {
        let m = self.lookup(method, path)?;
        m.check_params(params)?;
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn param_names_decode_like_forms() {
        assert!(param_name_is("opt1", "opt1"));
        assert!(param_name_is("opt%31", "opt1"));
        assert!(param_name_is("a+b", "a b"));
        assert!(param_name_is("%C3%A9", "é"));
        assert!(!param_name_is("opt%3", "opt"));
        assert!(!param_name_is("opt%zz", "opt"));
        assert!(!param_name_is("opt%31", "opt"));
        assert!(!param_name_is("op", "opt"));
    }

    #[test]
    fn routes_with_more_rules_than_bits_are_checked_alike() {
        let names: Vec<String> = (0..70).map(|i| format!("p{i}")).collect();
        let rules: Vec<(&str, ParamRule)> = names
            .iter()
            .map(|n| (n.as_str(), ParamRule::Optional))
            .chain([
                ("need", ParamRule::Required),
                ("never", ParamRule::Excluded),
            ])
            .collect();
        let table = RouteTable::new().route("c", "a", "get", &rules);
        let route = table.lookup("GET", "/c/a").unwrap();
        assert_eq!(route.rules().len(), 72);
        for scheme in [Scheme::V1, Scheme::V2] {
            assert!(route.check_sent(scheme, "p3=1&need=", None).is_ok());
            let e = route.check_sent(scheme, "p3=1", None).unwrap_err();
            assert_eq!(e.message(), "Missing required parameter need");
            let e = route
                .check_sent(scheme, "need=1", Some("never=2"))
                .unwrap_err();
            assert_eq!(e.message(), "Included invalid parameter never");
        }
        // v2 names are decoded, v1 names are not.
        assert!(route.check_sent(Scheme::V2, "ne%65d=1", None).is_ok());
        assert!(route.check_sent(Scheme::V1, "ne%65d=1", None).is_err());
    }

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// What no request could ever match is refused by `add_checked`, each with its code, and
    /// nothing is added; what one can is added as `add_key` adds it.
    #[test]
    fn checked_routes_refuse_what_no_request_could_match() {
        let req = |k: &str| vec![(k.to_string(), ParamRule::Required)];
        let mut table = RouteTable::new();
        table.add_checked("c", "a_get", req("x")).unwrap();
        table
            .add_checked("c", DEFAULT_PARAMETERS, req("u"))
            .unwrap();
        let mut expected = RouteTable::new();
        expected.add_key("c", "a_get", req("x")).unwrap();
        expected.add_key("c", DEFAULT_PARAMETERS, req("u")).unwrap();
        assert_eq!(table, expected);
        for (controller, key, rules, code) in [
            ("/c", "a_get", vec![], ErrorCode::InvalidPath),
            ("c//d", "a_get", vec![], ErrorCode::InvalidPath),
            ("", "a_get", vec![], ErrorCode::InvalidPath),
            ("c?x", "a_get", vec![], ErrorCode::InvalidPath),
            ("c", "a b_get", vec![], ErrorCode::InvalidPath),
            ("c", "a#_get", vec![], ErrorCode::InvalidPath),
            ("c", "x/a_get", vec![], ErrorCode::InvalidPath),
            ("c", "a_GET", vec![], ErrorCode::InvalidPath),
            ("c", "a", vec![], ErrorCode::InvalidPath),
            ("c", "__defaults", vec![], ErrorCode::InvalidPath),
            ("c", "a_g3t", vec![], ErrorCode::InvalidMethod),
            ("c", "b_get", req(""), ErrorCode::InvalidParamKey),
            ("c", "b_get", req("ottoken"), ErrorCode::InvalidParamKey),
            (
                "c",
                DEFAULT_PARAMETERS,
                req("ottoken"),
                ErrorCode::InvalidParamKey,
            ),
            // The controller's defaults given twice (a list of records can hold them, a
            // TOML table cannot): the second would be merged over the first.
            ("c", DEFAULT_PARAMETERS, vec![], ErrorCode::InvalidPath),
            // One param given two rules (a list of records can hold it, a TOML table or a
            // dict cannot: the server refuses the key given twice); the last would win.
            (
                "c",
                "b_get",
                [req("x"), vec![("x".to_string(), ParamRule::Excluded)]].concat(),
                ErrorCode::InvalidParamKey,
            ),
        ] {
            let e = table.add_checked(controller, key, rules).unwrap_err();
            assert_eq!(e.code(), code, "{controller:?} {key:?}: {}", e.message());
        }
        assert_eq!(table, expected);
    }

    #[test]
    fn demo_rules_follow_em_secure_api() {
        let t = RouteTable::demo();
        let ok = p(&[
            ("username", "phil"),
            ("password", "hello phil"),
            ("opt1", "this"),
        ]);
        assert!(t.check("GET", "/controller1/action1", &ok).is_ok());
        assert!(t.check("get", "/controller1/action1/", &ok).is_ok());
        let e = t
            .check(
                "GET",
                "/controller1/action1",
                &p(&[("username", "phil"), ("opt1", "x")]),
            )
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::MissingParam);
        assert_eq!(e.message(), "Missing required parameter password");
        // action2 overrides the default: password becomes optional.
        assert!(t
            .check(
                "GET",
                "/controller1/action2",
                &p(&[("username", "a"), ("opt1", "x"), ("opt2", "y")])
            )
            .is_ok());
        // empty values count as present
        assert!(t
            .check(
                "GET",
                "/controller1/action2",
                &p(&[("username", ""), ("opt1", ""), ("opt2", "")])
            )
            .is_ok());
        // unlisted params are accepted
        assert!(t
            .check("GET", "/controller2/action3", &p(&[("anything", "1")]))
            .is_ok());
        let m = t.lookup("GET", "/controller1/action3").unwrap();
        assert_eq!(
            m.rules(),
            &[
                ("username".to_string(), ParamRule::Required),
                ("password".to_string(), ParamRule::Excluded),
                ("opt1".to_string(), ParamRule::Required)
            ]
        );
        assert_eq!(m.key(), "action3_get");
    }

    #[test]
    fn unknown_routes_carry_the_original_bodies() {
        let t = RouteTable::demo();
        let e = t.lookup("GET", "/controller1/action2a").unwrap_err();
        assert_eq!(e.code(), ErrorCode::UnknownRoute);
        assert_eq!(
            e.message(),
            "action_method (action2a_get) not found in controller controller1"
        );
        assert_eq!(
            t.lookup("POST", "/controller1/action1")
                .unwrap_err()
                .message(),
            "action_method (action1_post) not found in controller controller1"
        );
        assert_eq!(
            t.lookup("GET", "/").unwrap_err().message(),
            "controller () not found"
        );
        assert_eq!(
            t.lookup("GET", "/admin/status/x").unwrap_err().message(),
            "controller (admin/status) not found"
        );
    }

    #[test]
    fn keys_parse_like_the_routes_hash() {
        let mut t = RouteTable::new();
        t.add_key(
            "c",
            "__default_parameters",
            vec![("u".into(), ParamRule::Required)],
        )
        .unwrap();
        t.add_key("c", "do_it_post", vec![]).unwrap();
        assert!(t.add_key("c", "nomethod", vec![]).is_err());
        assert!(t.add_key("c", "x_g3t", vec![]).is_err());
        let m = t.lookup("POST", "/c/do_it").unwrap();
        assert_eq!(&*m.method, "post");
        assert_eq!(
            m.check_params(&[]).unwrap_err().message(),
            "Missing required parameter u"
        );
        assert_eq!(t.routes().collect::<Vec<_>>(), vec![("c", "do_it", "post")]);
        assert_eq!("exc".parse::<ParamRule>().unwrap(), ParamRule::Excluded);
        assert!("maybe".parse::<ParamRule>().is_err());
        // A key needs both an action and a method around its last `_`.
        for key in ["_get", "do_", "_"] {
            assert_eq!(
                t.add_key("c", key, vec![]).unwrap_err().code(),
                ErrorCode::UnknownRoute,
                "{key}"
            );
        }
        assert_eq!(t.routes().count(), 1);
    }

    #[test]
    fn rules_read_and_print_in_both_spellings() {
        for (rule, short, long) in [
            (ParamRule::Required, "req", "required"),
            (ParamRule::Optional, "opt", "optional"),
            (ParamRule::Excluded, "exc", "excluded"),
            (ParamRule::Excluded, "exc", "exclude"),
        ] {
            assert_eq!(short.parse::<ParamRule>().unwrap(), rule);
            assert_eq!(long.parse::<ParamRule>().unwrap(), rule);
            assert_eq!(rule.as_str(), short);
            assert_eq!(rule.to_string(), short);
        }
    }

    #[test]
    fn excluded_params_are_refused_only_when_present() {
        let t = RouteTable::demo();
        let base = [("username", "phil"), ("opt1", "x")];
        assert!(t.check("GET", "/controller1/action3", &p(&base)).is_ok());
        let with_password = p(&[base[0], base[1], ("password", "")]);
        let e = t
            .check("GET", "/controller1/action3", &with_password)
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::ExcludedParam);
    }

    #[test]
    fn a_route_added_again_replaces_only_the_one_of_its_method() {
        let t = RouteTable::new()
            .route("c", "a", "GET", &[("x", ParamRule::Required)])
            .route("c", "a", "POST", &[])
            .route("c", "a", "get", &[("y", ParamRule::Required)]);
        assert_eq!(
            t.lookup("GET", "/c/a").unwrap().rules(),
            &[("y".to_string(), ParamRule::Required)]
        );
        assert!(t.lookup("POST", "/c/a").unwrap().rules().is_empty());
        assert_eq!(t.routes().count(), 2);
    }
}
