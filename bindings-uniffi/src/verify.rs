//! Verification: a wrapper over [`xnonce_core::Verifier`] holding the client secrets and a
//! replay store (its own in memory, or the application's: [`ReplayStore`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use xnonce_core::{Environment as _, Incoming, Input, MemoryReplayStore, Secret, WindowPolicy};

use crate::replay::ReplayStore;
use crate::text::XNonceText;
use crate::{Param, Scheme, XNonceError};

/// A per-controller window override (`/controller/...`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ControllerWindow {
    /// The first path segment.
    pub controller: XNonceText,
    /// Allowed clock difference in milliseconds, either side.
    pub window_ms: u64,
}

/// A per-action window override (`/controller/action`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ActionWindow {
    /// The first path segment.
    pub controller: XNonceText,
    /// The second path segment.
    pub action: XNonceText,
    /// Allowed clock difference in milliseconds, either side.
    pub window_ms: u64,
}

/// A route window (a [`ControllerWindow`] when `action` is `None`, else an [`ActionWindow`])
/// that selects no route of the verifier's routes: see [`Verifier::windows_naming_no_route`].
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RouteWindow {
    /// The window's controller.
    pub controller: String,
    /// The window's action, `None` for a controller's window.
    pub action: Option<String>,
}

/// A param rule of a route, as em-secure-api's routes hash writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum ParamRule {
    /// `req`: the param must be present (an empty value counts).
    Required,
    /// `opt`: the param may be present (documentation only).
    Optional,
    /// `exc`: the param must be absent.
    Excluded,
}

impl From<ParamRule> for xnonce_core::ParamRule {
    fn from(rule: ParamRule) -> Self {
        match rule {
            ParamRule::Required => xnonce_core::ParamRule::Required,
            ParamRule::Optional => xnonce_core::ParamRule::Optional,
            ParamRule::Excluded => xnonce_core::ParamRule::Excluded,
        }
    }
}

/// One rule of a route: the param it names and what it requires.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RouteRule {
    /// The param's name, as requests carry it.
    pub param: XNonceText,
    /// What the rule requires of it.
    pub rule: ParamRule,
}

/// One entry of em-secure-api's routes hash, as `xnonce-server`'s `[routes]` config writes
/// it: under `controller`, the route `key` (`<action>_<method>`, e.g. `action1_get`, or
/// `__default_parameters`, merged under each of the controller's routes) and its rules, in
/// the order they are checked.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RouteRules {
    /// Every path segment before the action, joined with `/` (`reports`, `api/v1`).
    pub controller: XNonceText,
    /// `<action>_<method>` or `__default_parameters`.
    pub key: XNonceText,
    /// The param rules.
    pub rules: Vec<RouteRule>,
}

/// The route table of `routes`, checked as `xnonce-server`'s config is
/// ([`xnonce_core::RouteTable::add_checked`]).
fn route_table(routes: Vec<RouteRules>) -> Result<xnonce_core::RouteTable, XNonceError> {
    let mut table = xnonce_core::RouteTable::new();
    for route in routes {
        let controller = route.controller.into_string(Input::RouteController)?;
        let key = route.key.into_string(Input::RouteKey)?;
        let rules = route
            .rules
            .into_iter()
            .map(|r| Ok((r.param.into_string(Input::RouteParam)?, r.rule.into())))
            .collect::<Result<Vec<_>, XNonceError>>()?;
        table.add_checked(&controller, &key, rules)?;
    }
    Ok(table)
}

/// A verified request.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Verified {
    /// The scheme it was signed with.
    pub scheme: Scheme,
    /// The authenticated client id.
    pub client: String,
    /// The signed timestamp.
    pub timestamp: u64,
    /// The signed params (decoded, `ottoken` left out).
    pub params: Vec<Param>,
    /// The replay key: `v1:<client>:<token>` or `v2:<client>:<nonce>`.
    pub replay_key: String,
    /// Until when the replay key must be remembered: timestamp + window.
    pub remember_until_ms: u64,
    /// Which of the client's secrets matched (index into its list).
    pub secret_index: u32,
    /// True when the credential came from an `ottoken` parameter.
    pub via_ottoken: bool,
}

impl From<xnonce_core::Verified> for Verified {
    fn from(v: xnonce_core::Verified) -> Self {
        Verified {
            scheme: v.scheme.into(),
            client: v.client,
            timestamp: v.timestamp_ms,
            params: v
                .params
                .into_iter()
                .map(|(key, value)| Param {
                    key: key.into(),
                    value: value.into(),
                })
                .collect(),
            replay_key: v.replay_key.into_string(),
            remember_until_ms: v.remember_until_ms,
            secret_index: u32::try_from(v.secret_index).unwrap_or(u32::MAX),
            via_ottoken: v.via_ottoken,
        }
    }
}

/// Where `verify_once` records requests.
enum Store {
    /// This verifier's own, in this process.
    Memory(MemoryReplayStore),
    /// The application's (`replay_store`).
    Foreign(Arc<dyn ReplayStore>),
}

/// Verifies requests against a table of client secrets (replaced by `set_secrets`).
/// `verify_once` also remembers each accepted request: in an in-memory replay store owned by
/// this verifier (one process), or in the application's `replay_store` (several).
#[derive(uniffi::Object)]
pub struct Verifier {
    /// The settings (windows, schemes, hosts, routes): replaced whole by `reconfigure`; each
    /// verification works on the one it took when it started.
    inner: RwLock<Arc<xnonce_core::Verifier>>,
    secrets: RwLock<HashMap<String, Vec<Secret>>>,
    store: Store,
}

impl Verifier {
    /// The settings now in force.
    fn settings(&self) -> Arc<xnonce_core::Verifier> {
        Arc::clone(&self.inner.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The table of secrets (a poisoned lock still holds a whole table: it is only ever
    /// replaced whole).
    fn secrets(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Vec<Secret>>> {
        self.secrets.read().unwrap_or_else(|p| p.into_inner())
    }
}

/// Client id → its live secrets, each checked (`invalid_client_id` / `invalid_secret` for
/// text that is not well-formed, `invalid_secret` for one that breaks the secret rules).
fn secrets_of(
    secrets: HashMap<XNonceText, Vec<XNonceText>>,
) -> Result<HashMap<String, Vec<Secret>>, XNonceError> {
    secrets
        .into_iter()
        .map(|(client, list)| {
            let client = client.into_string(Input::VerifierClient)?;
            let list = list
                .into_iter()
                .map(|secret| {
                    let secret = secret.into_string(Input::VerifierSecret)?;
                    Ok(Secret::new(secret)?)
                })
                .collect::<Result<Vec<_>, XNonceError>>()?;
            Ok((client, list))
        })
        .collect()
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("inner", &*self.settings())
            .field("clients", &self.secrets().len())
            .finish_non_exhaustive()
    }
}

#[uniffi::export]
impl Verifier {
    /// A verifier for `secrets` (client id → its live secrets, several during rotation),
    /// a default window (30 s either side), per-controller and per-action overrides (each at
    /// most one day, 86,400,000 ms: `invalid_timestamp` past it), the accepted schemes
    /// (`None`: both; an empty list is `unsupported_scheme`), and the hosts clients reach
    /// this service by, as they sign them (`None`: any; a v2 request signed for another host
    /// is `invalid_host`; v1 signs none and is not checked), and em-secure-api's routes hash
    /// (`None`: no route table): each request's route (`unknown_route`, 404) and param rules
    /// (`missing_param` / `excluded_param`, 422) are then checked first, as `xnonce-server`
    /// checks them; a table no request could match is refused (`invalid_path`,
    /// `invalid_method`, `invalid_param_key`). `replay_store`: where `verify_once` records
    /// accepted requests, shared by every process of the API ([`ReplayStore`]); `None`: this
    /// verifier's own memory.
    #[uniffi::constructor(default(
        window_ms = 30000,
        controller_windows = [],
        action_windows = [],
        schemes = None,
        hosts = None,
        routes = None,
        replay_store = None
    ))]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        secrets: HashMap<XNonceText, Vec<XNonceText>>,
        window_ms: u64,
        controller_windows: Vec<ControllerWindow>,
        action_windows: Vec<ActionWindow>,
        schemes: Option<Vec<Scheme>>,
        hosts: Option<Vec<XNonceText>>,
        routes: Option<Vec<RouteRules>>,
        replay_store: Option<Arc<dyn ReplayStore>>,
    ) -> Result<Arc<Self>, XNonceError> {
        let inner = settings(
            window_ms,
            controller_windows,
            action_windows,
            schemes,
            hosts,
            routes,
        )?;
        Ok(Arc::new(Verifier {
            inner: RwLock::new(Arc::new(inner)),
            secrets: RwLock::new(secrets_of(secrets)?),
            store: match replay_store {
                Some(store) => Store::Foreign(store),
                None => Store::Memory(MemoryReplayStore::new()),
            },
        }))
    }

    /// Replaces the windows, accepted schemes, hosts and routes with those given: the
    /// constructor's settings, checked as it checks them and with its defaults for what is not
    /// given (the whole configuration is replaced, as a reload of a configuration file
    /// replaces it; on an error nothing changes). The secrets and the replay store stay, so a
    /// request accepted before is still refused as a replay after — which a new `Verifier`
    /// (a new, empty store) would accept again.
    ///
    /// A request the old settings may have accepted (stamped up to the old window after
    /// `now`, the clock by default, plus a second for verifications in progress) is checked
    /// under the narrower of the old and new windows: a widened window cannot accept a copy
    /// whose replay key expired under the old one (PROTOCOL §14.1, *Replay window*); a
    /// narrower one applies at once. Verifications in progress finish with the settings
    /// they started with.
    #[uniffi::method(default(
        window_ms = 30000,
        controller_windows = [],
        action_windows = [],
        schemes = None,
        hosts = None,
        routes = None,
        now = None
    ))]
    #[allow(clippy::too_many_arguments)]
    pub fn reconfigure(
        &self,
        window_ms: u64,
        controller_windows: Vec<ControllerWindow>,
        action_windows: Vec<ActionWindow>,
        schemes: Option<Vec<Scheme>>,
        hosts: Option<Vec<XNonceText>>,
        routes: Option<Vec<RouteRules>>,
        now: Option<u64>,
    ) -> Result<(), XNonceError> {
        let next = settings(
            window_ms,
            controller_windows,
            action_windows,
            schemes,
            hosts,
            routes,
        )?;
        let now = now_or_clock(now)?;
        // Under the write lock, so that two reconfigurations at once chain: each replaces
        // the settings the other left.
        let mut current = self.inner.write().unwrap_or_else(|p| p.into_inner());
        *current = Arc::new(next.replacing(&current, now));
        Ok(())
    }

    /// How long (ms) a shared `replay_store` should refuse every request once it finds that
    /// it lost its keys (Redis restarted empty, flushed): twice the longest window plus 1 s
    /// (core's `Verifier::fence_after_loss_ms`), for a store of the application's that keeps
    /// such a fence, as `xnonce-server`'s does. Read it again after `reconfigure`; never
    /// lower a store's fence (keys of longer earlier windows may still be in it).
    pub fn fence_after_loss_ms(&self) -> u64 {
        self.settings().fence_after_loss_ms()
    }

    /// The route windows that select no route of this verifier's routes, in the order
    /// controllers' windows, then actions': with routes, a request without one is refused
    /// (`unknown_route`) before any window applies, so such a window applies to no request
    /// — most likely a misspelt controller or action. `xnonce-server` logs a warning for each
    /// at start; log them likewise. Empty without routes, where windows apply by path.
    pub fn windows_naming_no_route(&self) -> Vec<RouteWindow> {
        self.settings()
            .windows_naming_no_route()
            .into_iter()
            .map(|(controller, action)| RouteWindow {
                controller: controller.to_owned(),
                action: action.map(str::to_owned),
            })
            .collect()
    }

    /// Replaces the table of client secrets (the same shape as the constructor's, checked the
    /// same way: on an error nothing changes). The windows, schemes, hosts and the replay
    /// store stay, so a request accepted before a rotation is still refused as a replay after
    /// it — which a new `Verifier` (a new, empty store) would accept again.
    pub fn set_secrets(
        &self,
        secrets: HashMap<XNonceText, Vec<XNonceText>>,
    ) -> Result<(), XNonceError> {
        let table = secrets_of(secrets)?;
        *self.secrets.write().unwrap_or_else(|p| p.into_inner()) = table;
        Ok(())
    }

    /// Checks authenticity and freshness of a request (`target` is `/path?query`; in absolute
    /// form, `http://host/path?query`, its authority is the host and `host` is ignored).
    /// `now` defaults to the system clock. Does not record the request: see `verify_once`.
    #[uniffi::method(default(
        host = None,
        x_nonce = None,
        content_type = None,
        body = None,
        now = None
    ))]
    #[allow(clippy::too_many_arguments)]
    pub fn verify(
        &self,
        method: XNonceText,
        target: XNonceText,
        host: Option<XNonceText>,
        x_nonce: Option<XNonceText>,
        content_type: Option<XNonceText>,
        body: Option<Vec<u8>>,
        now: Option<u64>,
    ) -> Result<Verified, XNonceError> {
        let texts = Received::check(method, target, host, x_nonce, content_type)?;
        let req = texts.incoming(&body);
        Ok(self
            .settings()
            .verify(&req, &*self.secrets(), now_or_clock(now)?)?
            .into())
    }

    /// [`Verifier::verify`], then records the request in this verifier's replay store (its
    /// memory, or its `replay_store`): a second copy fails with `replayed`; a `replay_store`
    /// that throws, with `store_unavailable`.
    #[uniffi::method(default(
        host = None,
        x_nonce = None,
        content_type = None,
        body = None,
        now = None
    ))]
    #[allow(clippy::too_many_arguments)]
    pub fn verify_once(
        &self,
        method: XNonceText,
        target: XNonceText,
        host: Option<XNonceText>,
        x_nonce: Option<XNonceText>,
        content_type: Option<XNonceText>,
        body: Option<Vec<u8>>,
        now: Option<u64>,
    ) -> Result<Verified, XNonceError> {
        let texts = Received::check(method, target, host, x_nonce, content_type)?;
        let req = texts.incoming(&body);
        let now = now_or_clock(now)?;
        let settings = self.settings();
        let verified = match &self.store {
            Store::Memory(store) => settings.verify_once(&req, &*self.secrets(), store, now)?,
            Store::Foreign(store) => {
                // Verified under the secrets' lock, recorded once it is released: the store is
                // the application's code, a network call that may take its time (or call
                // this verifier's `set_secrets`).
                let verified = settings.verify(&req, &*self.secrets(), now)?;
                let key = verified.replay_key.as_str().to_owned();
                let answer = store
                    .insert_if_absent(key, verified.remember_until_ms, now)
                    .map_err(|e| xnonce_core::ReplayStoreError(e.to_string()));
                xnonce_core::replay::recorded(answer)?;
                verified
            }
        };
        Ok(verified.into())
    }
}

/// The settings of a verifier (the constructor's and `reconfigure`'s), checked.
fn settings(
    window_ms: u64,
    controller_windows: Vec<ControllerWindow>,
    action_windows: Vec<ActionWindow>,
    schemes: Option<Vec<Scheme>>,
    hosts: Option<Vec<XNonceText>>,
    routes: Option<Vec<RouteRules>>,
) -> Result<xnonce_core::Verifier, XNonceError> {
    let window = |ms: u64| xnonce_core::window::window_from_i128(i128::from(ms));
    let mut windows = WindowPolicy::new(window(window_ms)?);
    for w in controller_windows {
        let controller = w.controller.into_string(Input::ControllerWindow)?;
        windows = windows.controller(controller, window(w.window_ms)?);
    }
    for w in action_windows {
        let controller = w.controller.into_string(Input::ActionWindowController)?;
        let action = w.action.into_string(Input::ActionWindowAction)?;
        windows = windows.action(controller, action, window(w.window_ms)?);
    }
    let mut inner = xnonce_core::Verifier::new().windows(windows)?;
    if let Some(schemes) = schemes {
        let schemes: Vec<xnonce_core::Scheme> = schemes.into_iter().map(Into::into).collect();
        inner = inner.schemes(&schemes)?;
    }
    if let Some(hosts) = hosts {
        let hosts = hosts
            .into_iter()
            .map(|h| h.into_string(Input::ServedHost))
            .collect::<Result<Vec<_>, XNonceError>>()?;
        inner = inner.hosts(&hosts)?;
    }
    if let Some(routes) = routes {
        inner = inner.routes(route_table(routes)?);
    }
    Ok(inner)
}

/// `now` (checked as any timestamp: `invalid_timestamp` past 2^53 − 1), else the clock.
fn now_or_clock(now: Option<u64>) -> Result<u64, xnonce_core::Error> {
    match now {
        Some(ms) => xnonce_core::header::timestamp_from_i128(i128::from(ms)),
        None => Ok(xnonce_core::SystemEnvironment.now_ms()),
    }
}

/// The text of a received request, each part checked: text that is not valid Unicode (a lone
/// surrogate) is refused with its part's code before anything is verified, and
/// `refusal_answer` answers such a refusal like any other.
struct Received {
    method: String,
    target: String,
    host: Option<String>,
    x_nonce: Option<String>,
    content_type: Option<String>,
}

impl Received {
    fn check(
        method: XNonceText,
        target: XNonceText,
        host: Option<XNonceText>,
        x_nonce: Option<XNonceText>,
        content_type: Option<XNonceText>,
    ) -> Result<Self, XNonceError> {
        Ok(Received {
            method: method.into_string(Input::Method)?,
            target: target.into_string(Input::Target)?,
            host: XNonceText::into_option(host, Input::Host)?,
            x_nonce: XNonceText::into_option(x_nonce, Input::Header)?,
            content_type: XNonceText::into_option(content_type, Input::ContentType)?,
        })
    }

    fn incoming<'a>(&'a self, body: &'a Option<Vec<u8>>) -> Incoming<'a> {
        let mut req = Incoming::new(&self.method, &self.target)
            .host_header(self.host.as_deref())
            .body(
                self.content_type.as_deref(),
                body.as_deref().unwrap_or_default(),
            );
        req.x_nonce = self.x_nonce.as_deref();
        req
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::ReplayStoreError;
    use xnonce_core::verify::REPLACE_MARGIN_MS;

    const SECRET: &str = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd";

    /// A verifier for the one client `svc`, default window, no overrides.
    fn one_client() -> Arc<Verifier> {
        recording_in(None)
    }

    /// [`one_client`] recording in `store` (`None`: its own memory).
    fn recording_in(store: Option<Arc<dyn ReplayStore>>) -> Arc<Verifier> {
        let secrets = HashMap::from([("svc".into(), vec![SECRET.into()])]);
        Verifier::new(secrets, 30_000, vec![], vec![], None, None, None, store).unwrap()
    }

    /// Routes in the uniffi shape reach core's table: checked first, in the order given, and
    /// a table no request could match is refused.
    #[test]
    fn routes_are_checked_first_and_refused_when_no_request_could_match() {
        let rule = |param: &str, rule| RouteRule {
            param: param.into(),
            rule,
        };
        let route = |controller: &str, key: &str, rules| RouteRules {
            controller: controller.into(),
            key: key.into(),
            rules,
        };
        let secrets = || HashMap::from([("svc".into(), vec![SECRET.into()])]);
        let routed = Verifier::new(
            secrets(),
            30_000,
            vec![],
            vec![],
            None,
            None,
            Some(vec![
                route(
                    "c",
                    "__default_parameters",
                    vec![rule("k", ParamRule::Required)],
                ),
                route("c", "a_get", vec![rule("x", ParamRule::Excluded)]),
            ]),
            None,
        )
        .unwrap();
        for (target, code) in [
            ("/c/a", "missing_param"),
            ("/c/a?k=1&x=2", "excluded_param"),
            ("/d/a?k=1", "unknown_route"),
        ] {
            let e = routed
                .verify("GET".into(), target.into(), None, None, None, None, None)
                .unwrap_err();
            assert_eq!(e.code(), code, "{target}");
        }
        for (routes, code) in [
            (vec![route("/c", "a_get", vec![])], "invalid_path"),
            (vec![route("c", "a", vec![])], "invalid_path"),
            (
                vec![route(
                    "c",
                    "a_get",
                    vec![rule("ottoken", ParamRule::Excluded)],
                )],
                "invalid_param_key",
            ),
        ] {
            let e = Verifier::new(
                secrets(),
                30_000,
                vec![],
                vec![],
                None,
                None,
                Some(routes),
                None,
            );
            assert_eq!(e.unwrap_err().code(), code);
        }
    }

    /// Windows on a controller or action no route names are listed, by the decoded name a
    /// route takes its window by; none without routes.
    #[test]
    fn windows_naming_no_route_are_listed() {
        let secrets = || HashMap::from([("svc".into(), vec![SECRET.into()])]);
        let controller = |c: &str| ControllerWindow {
            controller: c.into(),
            window_ms: 60_000,
        };
        let action = |c: &str, a: &str| ActionWindow {
            controller: c.into(),
            action: a.into(),
            window_ms: 1_000,
        };
        let routes = || {
            Some(
                ["daily_get", "a%62_get"]
                    .map(|key| RouteRules {
                        controller: "reports".into(),
                        key: key.into(),
                        rules: vec![],
                    })
                    .to_vec(),
            )
        };
        let windows = || {
            (
                vec![controller("reprots"), controller("reports")],
                vec![
                    action("reports", "live"),
                    action("reports", "daily"),
                    action("reports", "ab"),
                ],
            )
        };
        let (c, a) = windows();
        let routed = Verifier::new(secrets(), 30_000, c, a, None, None, routes(), None).unwrap();
        assert_eq!(
            routed.windows_naming_no_route(),
            [
                RouteWindow {
                    controller: "reprots".into(),
                    action: None
                },
                RouteWindow {
                    controller: "reports".into(),
                    action: Some("live".into())
                },
            ]
        );
        let (c, a) = windows();
        let unrouted = Verifier::new(secrets(), 30_000, c, a, None, None, None, None).unwrap();
        assert_eq!(unrouted.windows_naming_no_route(), []);
    }

    #[test]
    fn printing_a_verifier_counts_its_clients_and_never_shows_a_secret() {
        let v = one_client();
        let debug = format!("{v:?}");
        assert!(debug.starts_with("Verifier { inner: Verifier {"), "{debug}");
        assert!(
            debug.contains("clients: 1") && !debug.contains(SECRET),
            "{debug}"
        );
    }

    /// Windows past a day, and a `now` past 2^53 − 1, are refused as in every binding
    /// (a `ULong.MAX_VALUE` window would switch freshness off).
    #[test]
    fn windows_and_now_out_of_range_are_refused() {
        let secrets = || HashMap::from([("svc".into(), vec![SECRET.into()])]);
        let too_long = xnonce_core::window::MAX_WINDOW_MS + 1;
        let controller = ControllerWindow {
            controller: "admin".into(),
            window_ms: u64::MAX,
        };
        let action = ActionWindow {
            controller: "admin".into(),
            action: "status".into(),
            window_ms: too_long,
        };
        for (window, controllers, actions) in [
            (u64::MAX, vec![], vec![]),
            (30_000, vec![controller], vec![]),
            (30_000, vec![], vec![action]),
        ] {
            let e = Verifier::new(
                secrets(),
                window,
                controllers,
                actions,
                None,
                None,
                None,
                None,
            )
            .unwrap_err();
            assert_eq!(e.code(), "invalid_timestamp");
        }
        let v = one_client();
        for now in [1 << 53, u64::MAX] {
            let e = v
                .verify(
                    "GET".into(),
                    "/a/b".into(),
                    None,
                    None,
                    None,
                    None,
                    Some(now),
                )
                .unwrap_err();
            assert_eq!(e.code(), "invalid_timestamp");
        }
    }

    /// Text holding a lone surrogate (as Kotlin and Python write one) is refused with its
    /// input's code, named, never shown; the verifier works on afterwards.
    #[test]
    fn text_that_is_not_unicode_is_refused_with_the_inputs_code() {
        let lone = || XNonceText::from_bytes(b"\xED\xB0\x80x".to_vec());
        let reason =
            |what: &str| format!("{what} is not valid Unicode text (it holds a lone surrogate)");
        let check = |r: Result<Verified, XNonceError>, code: &str, what: &str| {
            let e = r.unwrap_err();
            assert_eq!(
                (&*e.code(), &*e.reason()),
                (code, reason(what).as_str()),
                "{e:?}"
            );
        };
        let v = one_client();
        let now = Some(1_700_000_000_000);
        check(
            v.verify(lone(), "/a".into(), None, None, None, None, now),
            "invalid_method",
            "the method",
        );
        check(
            v.verify_once("GET".into(), lone(), None, None, None, None, now),
            "invalid_path",
            "the target",
        );
        check(
            v.verify(
                "GET".into(),
                "/a".into(),
                Some(lone()),
                None,
                None,
                None,
                now,
            ),
            "invalid_host",
            "the host",
        );
        check(
            v.verify_once(
                "GET".into(),
                "/a".into(),
                None,
                Some(lone()),
                None,
                None,
                now,
            ),
            "malformed_header",
            "the X-Nonce header",
        );
        check(
            v.verify(
                "GET".into(),
                "/a".into(),
                None,
                None,
                Some(lone()),
                None,
                now,
            ),
            "invalid_body",
            "the content type",
        );
        // The same verifier, asked properly.
        let header = crate::sign(
            Scheme::V1,
            "GET".into(),
            "/a".into(),
            vec![],
            "svc".into(),
            SECRET.into(),
            now,
            None,
            None,
            None,
        )
        .unwrap();
        let ok = v.verify_once(
            "GET".into(),
            "/a".into(),
            None,
            Some(header.as_str().into()),
            None,
            None,
            now,
        );
        assert_eq!(ok.unwrap().client, "svc");

        let new = |secrets: HashMap<XNonceText, Vec<XNonceText>>,
                   controllers: Vec<ControllerWindow>,
                   actions: Vec<ActionWindow>| {
            Verifier::new(
                secrets,
                30_000,
                controllers,
                actions,
                None,
                None,
                None,
                None,
            )
            .unwrap_err()
        };
        let svc = || HashMap::from([("svc".into(), vec![SECRET.into()])]);
        for (e, code, what) in [
            (
                new(
                    HashMap::from([(lone(), vec![SECRET.into()])]),
                    vec![],
                    vec![],
                ),
                "invalid_client_id",
                "a client id in the secrets table",
            ),
            (
                new(
                    HashMap::from([("svc".into(), vec![SECRET.into(), lone()])]),
                    vec![],
                    vec![],
                ),
                "invalid_secret",
                "a secret",
            ),
            (
                new(
                    svc(),
                    vec![ControllerWindow {
                        controller: lone(),
                        window_ms: 5,
                    }],
                    vec![],
                ),
                "invalid_path",
                "a controller window's controller",
            ),
            (
                new(
                    svc(),
                    vec![],
                    vec![ActionWindow {
                        controller: lone(),
                        action: "b".into(),
                        window_ms: 5,
                    }],
                ),
                "invalid_path",
                "an action window's controller",
            ),
            (
                new(
                    svc(),
                    vec![],
                    vec![ActionWindow {
                        controller: "a".into(),
                        action: lone(),
                        window_ms: 5,
                    }],
                ),
                "invalid_path",
                "an action window's action",
            ),
        ] {
            assert!(matches!(e, XNonceError::Input { .. }), "{e:?}");
            assert_eq!((&*e.code(), &*e.reason()), (code, reason(what).as_str()));
        }
    }

    #[test]
    fn set_secrets_rotates_and_keeps_the_replay_store() {
        const NEW: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
        let signed = |secret: &str| {
            crate::sign(
                Scheme::V2,
                "GET".into(),
                "/a/b".into(),
                vec![],
                "svc".into(),
                secret.into(),
                Some(1_700_000_000_000),
                None,
                Some("api.test".into()),
                None,
            )
            .unwrap()
        };
        let v = one_client();
        let once = |header: &str| {
            v.verify_once(
                "GET".into(),
                "/a/b".into(),
                Some("api.test".into()),
                Some(header.into()),
                None,
                None,
                Some(1_700_000_000_000),
            )
        };
        let old = signed(SECRET);
        assert_eq!(once(&old).unwrap().client, "svc");
        v.set_secrets(HashMap::from([(
            "svc".into(),
            vec![SECRET.into(), NEW.into()],
        )]))
        .unwrap();
        // Accepted before the rotation: still a replay after it.
        assert_eq!(once(&old).unwrap_err().code(), "replayed");
        assert_eq!(once(&signed(NEW)).unwrap().secret_index, 1);
        // A table that cannot be used changes nothing.
        let bad = HashMap::from([("svc".into(), vec!["has space".into()])]);
        assert_eq!(v.set_secrets(bad).unwrap_err().code(), "invalid_secret");
        assert!(format!("{v:?}").contains("clients: 1"));
        // (Each `signed` draws a new nonce.)
        assert_eq!(once(&signed(NEW)).unwrap().secret_index, 1);
    }

    /// `reconfigure` keeps the secrets and the replay store, and checks a request the old
    /// settings may have accepted under the narrower window (core's `replacing`).
    #[test]
    fn reconfigure_keeps_the_store_and_the_old_window_for_what_it_may_have_accepted() {
        const T: u64 = 1_700_000_000_000;
        let signed = |ts: u64| {
            crate::sign(
                Scheme::V2,
                "GET".into(),
                "/a/b".into(),
                vec![],
                "svc".into(),
                SECRET.into(),
                Some(ts),
                None,
                Some("api.test".into()),
                None,
            )
            .unwrap()
        };
        let v = one_client();
        v.reconfigure(5_000, vec![], vec![], None, None, None, Some(T))
            .unwrap();
        let once = |header: &str, now: u64| {
            v.verify_once(
                "GET".into(),
                "/a/b".into(),
                Some("api.test".into()),
                Some(header.into()),
                None,
                None,
                Some(now),
            )
            .map(|_| ())
            .map_err(|e| e.code().into_owned())
        };
        let early = signed(T);
        assert_eq!(once(&early, T), Ok(()));
        v.reconfigure(60_000, vec![], vec![], None, None, None, Some(T))
            .unwrap();
        // Still remembered: a replay.
        assert_eq!(once(&early, T + 4_000), Err("replayed".into()));
        // Its key expired at T + 5 s; under 60 s it would be fresh, and accepted twice. It
        // keeps the 5 s window it was accepted under.
        assert_eq!(once(&early, T + 5_500), Err("expired".into()));
        // Stamped after anything the old settings can have accepted: the new window.
        let late = T + REPLACE_MARGIN_MS + 5_001;
        assert_eq!(once(&signed(late), late + 30_000), Ok(()));
        // A narrower window applies at once.
        v.reconfigure(1_000, vec![], vec![], None, None, None, Some(late))
            .unwrap();
        assert_eq!(once(&signed(late), late + 2_000), Err("expired".into()));
        // Settings that cannot be used change nothing (1 s still holds).
        let refused = v
            .reconfigure(30_000, vec![], vec![], Some(vec![]), None, None, Some(late))
            .unwrap_err();
        assert_eq!(refused.code(), "unsupported_scheme");
        let huge = v.reconfigure(86_400_001, vec![], vec![], None, None, None, None);
        assert_eq!(huge.unwrap_err().code(), "invalid_timestamp");
        assert_eq!(once(&signed(late), late + 2_000), Err("expired".into()));
        assert_eq!(once(&signed(late), late + 500), Ok(()));
        // Routes given by a reconfiguration are checked first.
        let routes = vec![RouteRules {
            controller: "a".into(),
            key: "c_GET".into(),
            rules: vec![],
        }];
        v.reconfigure(30_000, vec![], vec![], None, None, Some(routes), Some(late))
            .unwrap();
        assert_eq!(once(&signed(late), late), Err("unknown_route".into()));
    }

    #[test]
    fn verifies_once_then_refuses_replay() {
        let header = crate::sign(
            Scheme::V2,
            "GET".into(),
            "/admin/status".into(),
            vec![],
            "svc".into(),
            SECRET.into(),
            Some(1_700_000_000_000),
            None,
            Some("api.test".into()),
            None,
        )
        .unwrap();
        let v = one_client();
        let call = || {
            v.verify_once(
                "GET".into(),
                "/admin/status".into(),
                Some("api.test".into()),
                Some(header.as_str().into()),
                None,
                None,
                Some(1_700_000_000_500),
            )
        };
        assert_eq!(call().unwrap().client, "svc");
        assert_eq!(call().unwrap_err().code(), "replayed");
        let stale = v
            .verify(
                "GET".into(),
                "/admin/status".into(),
                Some("api.test".into()),
                Some(header.as_str().into()),
                None,
                None,
                Some(1_800_000_000_000),
            )
            .unwrap_err();
        assert!(
            matches!(stale, XNonceError::Auth { ref code, server_time: Some(_), .. } if code == "expired")
        );
    }

    /// The application's store of [`ReplayStore`]: a map under a mutex, optionally down, and
    /// optionally calling back into a verifier while it answers.
    #[derive(Default)]
    struct SharedMap {
        keys: std::sync::Mutex<HashMap<String, u64>>,
        down: std::sync::atomic::AtomicBool,
        calls_back: std::sync::Mutex<Option<Arc<Verifier>>>,
    }

    impl ReplayStore for SharedMap {
        fn insert_if_absent(
            &self,
            key: String,
            expires_at_ms: u64,
            now_ms: u64,
        ) -> Result<bool, ReplayStoreError> {
            if let Some(verifier) = self.calls_back.lock().unwrap().take() {
                // No verifier lock is held while the store runs: this would deadlock.
                let secrets = HashMap::from([("svc".into(), vec![SECRET.into()])]);
                verifier.set_secrets(secrets).unwrap();
            }
            if self.down.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(ReplayStoreError::Unavailable {
                    reason: "redis://:hunter2@10.0.0.5 refused".into(),
                });
            }
            let mut keys = self.keys.lock().unwrap();
            if keys.get(&key).is_some_and(|&until| until >= now_ms) {
                return Ok(false);
            }
            keys.insert(key, expires_at_ms);
            Ok(true)
        }
    }

    /// Two verifiers sharing the application's store (two processes): a request accepted by
    /// one is a replay for the other, recorded under the key and expiry every store uses; a
    /// store that fails refuses `store_unavailable` without its words.
    #[test]
    fn a_replay_store_of_the_applications_is_shared_and_fails_closed() {
        let store = Arc::new(SharedMap::default());
        let verifier = || recording_in(Some(Arc::clone(&store) as Arc<dyn ReplayStore>));
        let (a, b) = (verifier(), verifier());
        let header = |nonce: &str| {
            crate::sign(
                Scheme::V2,
                "GET".into(),
                "/a/b".into(),
                vec![],
                "svc".into(),
                SECRET.into(),
                Some(1_700_000_000_000),
                Some(nonce.into()),
                Some("api.test".into()),
                None,
            )
            .unwrap()
        };
        let once = |v: &Verifier, header: &str| {
            v.verify_once(
                "GET".into(),
                "/a/b".into(),
                Some("api.test".into()),
                Some(header.into()),
                None,
                None,
                Some(1_700_000_000_500),
            )
        };
        let first = header(&"a".repeat(32));
        let accepted = once(&a, &first).unwrap();
        assert_eq!(accepted.remember_until_ms, 1_700_000_030_000);
        let e = once(&b, &first).unwrap_err();
        assert_eq!(e.code(), "replayed");
        let recorded = store.keys.lock().unwrap().clone();
        let key = format!("v2:svc:{}", "a".repeat(32));
        assert_eq!(recorded, HashMap::from([(key, 1_700_000_030_000)]));
        // Each verifier's memory is not used: a verifier without the store accepts it.
        assert!(once(&one_client(), &first).is_ok());
        // Two verifiers of one process sharing memory_replay_store: one record between them.
        let memory = crate::memory_replay_store();
        let on_memory = || recording_in(Some(Arc::clone(&memory)));
        assert!(once(&on_memory(), &first).is_ok());
        assert_eq!(once(&on_memory(), &first).unwrap_err().code(), "replayed");

        store.down.store(true, std::sync::atomic::Ordering::Relaxed);
        let e = once(&a, &header(&"b".repeat(32))).unwrap_err();
        assert_eq!(e.code(), "store_unavailable");
        let text = format!("{e:?} {e}");
        assert!(
            !text.contains("hunter2") && !text.contains("10.0.0.5"),
            "{text}"
        );
        assert_eq!(crate::http_status_of(e.code().as_ref().into()), Some(503));

        // The store may call the verifier (here `set_secrets`) while it answers.
        store
            .down
            .store(false, std::sync::atomic::Ordering::Relaxed);
        *store.calls_back.lock().unwrap() = Some(Arc::clone(&a));
        assert!(once(&a, &header(&"c".repeat(32))).is_ok());
        assert!(store.calls_back.lock().unwrap().is_none());
    }

    /// What the foreign side's unexpected errors become: the store's failure, its words kept
    /// for the application's log only.
    #[test]
    fn an_unexpected_foreign_error_is_the_stores_failure() {
        let e = ReplayStoreError::from(uniffi::UnexpectedUniFFICallbackError::new("boom"));
        assert_eq!(
            e,
            ReplayStoreError::Unavailable {
                reason: "boom".into()
            }
        );
        assert_eq!(e.to_string(), "replay store unavailable: boom");
    }

    #[test]
    fn fence_after_loss_ms_follows_the_longest_window() {
        let v = one_client();
        assert_eq!(v.fence_after_loss_ms(), 61_000);
        let longer = ActionWindow {
            controller: "exports".into(),
            action: "all".into(),
            window_ms: 300_000,
        };
        v.reconfigure(30_000, vec![], vec![longer], None, None, None, None)
            .unwrap();
        assert_eq!(v.fence_after_loss_ms(), 601_000);
    }
}
