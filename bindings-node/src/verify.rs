//! `Verifier`: the server side, with an in-memory replay store.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use napi::bindgen_prelude::{
    FnArgs, FromNapiValue, Function, FunctionRef, JsObjectValue, JsValue, Object, This,
    ToNapiValue, Unknown,
};
use napi::{check_status, sys, Env, ValueType};
use napi_derive::napi;
use xnonce_core::answer::Answer;
use xnonce_core::{
    ErrorCode, Incoming, Input, MemoryReplayStore, ParamRule, RouteTable, Scheme, Secret,
    SecretSource, Verified as CoreVerified, WindowPolicy,
};

use crate::error::{guard, Failure, Outcome};
use crate::options::{Checked, OptionKeys};
use crate::params::{self, Body, Text};

/// How a `Verifier` judges freshness and which schemes it accepts (`null` counts as absent;
/// another key is a `TypeError`).
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct VerifierOptions<'env> {
    /// The server-wide window either side of the server clock (ms; default 30000). Every
    /// window is an integer from 0 to 86400000 (one day), else `invalid_timestamp`.
    #[napi(ts_type = "number | null")]
    pub window_ms: Option<Option<f64>>,
    /// Per-controller windows (ms): `{ reports: 120000 }`.
    #[napi(ts_type = "Record<string, number> | null")]
    pub controller_windows: Option<Option<Object<'env>>>,
    /// Per-action windows (ms) keyed `"controller/action"`: `{ "reports/live": 5000 }`.
    #[napi(ts_type = "Record<string, number> | null")]
    pub action_windows: Option<Option<Object<'env>>>,
    /// Accepted schemes (default both): `["v2"]`.
    #[napi(ts_type = "ReadonlyArray<'v1' | 'v2'> | null")]
    pub schemes: Option<Option<params::TextList>>,
    /// The hosts this service is reached by, as its clients sign them (`["api.example.com"]`;
    /// case and `:80` / `:443` do not matter): a v2 request signed for another host is
    /// `invalid_host`. Default: any host, so a v2 request made for another service that knows
    /// the same client (staging) verifies here too, once. v1 signs no host: not checked.
    #[napi(ts_type = "ReadonlyArray<string> | null")]
    pub hosts: Option<Option<params::TextList>>,
    /// em-secure-api's routes hash, as `xnonce-server`'s `[routes]` config writes it:
    /// controller -> `"<action>_<method>"` or `"__default_parameters"` -> param -> `"req"` /
    /// `"opt"` / `"exc"`. Each request's route (404 `unknown_route`) and param rules (422
    /// `missing_param` / `excluded_param`) are then checked first, as the server checks them;
    /// a route window that selects no route is warned of (`process.emitWarning`, code
    /// `XNONCE_WINDOW_NO_ROUTE`).
    #[napi(
        ts_type = "Record<string, Record<string, Record<string, 'req' | 'opt' | 'exc'>>> | null"
    )]
    pub routes: Option<Option<Unknown<'env>>>,
}

/// What the server received besides the method and target (`null` counts as absent; another
/// key is a `TypeError`).
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct VerifyOptions {
    /// The `Host` header, or HTTP/2's `:authority` (v2 signs it). Ignored when the target is
    /// in absolute form (`http://host/path?query`): its authority is the host.
    #[napi(ts_type = "string | null")]
    pub host: Option<Option<Text>>,
    /// The `X-Nonce` header, if any (else the `ottoken` parameter is used).
    #[napi(ts_type = "string | null")]
    pub x_nonce: Option<Option<Text>>,
    /// The `Content-Type` header; a form body's fields are params.
    #[napi(ts_type = "string | null")]
    pub content_type: Option<Option<Text>>,
    /// The raw body.
    #[napi(ts_type = "Uint8Array | ArrayBuffer | string | null")]
    pub body: Option<Option<Body>>,
    /// The server clock in ms, a number or a bigint (default: the system clock).
    #[napi(ts_type = "number | bigint | null")]
    pub now: Option<Option<crate::params::Millis>>,
}

impl OptionKeys for VerifierOptions<'_> {
    const ARGUMENT: &'static str = "options";
    const KEYS: &'static [&'static str] = &[
        "windowMs",
        "controllerWindows",
        "actionWindows",
        "schemes",
        "hosts",
        "routes",
    ];
}

impl OptionKeys for VerifyOptions {
    const ARGUMENT: &'static str = "options";
    const KEYS: &'static [&'static str] = &["host", "xNonce", "contentType", "body", "now"];
}

/// A verified request.
#[napi(object)]
pub struct Verified {
    /// `"v1"` or `"v2"`.
    #[napi(ts_type = "'v1' | 'v2'")]
    pub scheme: String,
    /// The authenticated client id.
    pub client: String,
    /// The signed timestamp (ms).
    pub timestamp: f64,
    /// The signed params as `[key, value]` pairs (`ottoken` left out).
    #[napi(ts_type = "Array<[string, string]>")]
    pub params: Vec<Vec<String>>,
    /// `v1:<client>:<token>` or `v2:<client>:<nonce>`.
    pub replay_key: String,
    /// Until when the replay key must be remembered (ms).
    pub remember_until: f64,
    /// Which of the client's secrets matched.
    pub secret_index: u32,
    /// True when the credential came from an `ottoken` parameter.
    pub via_ottoken: bool,
}

impl From<CoreVerified> for Verified {
    fn from(v: CoreVerified) -> Self {
        Verified {
            scheme: v.scheme.as_str().to_string(),
            client: v.client,
            timestamp: v.timestamp_ms as f64,
            params: v.params.into_iter().map(|(k, v)| vec![k, v]).collect(),
            replay_key: v.replay_key.into_string(),
            remember_until: v.remember_until_ms as f64,
            secret_index: v.secret_index as u32,
            via_ottoken: v.via_ottoken,
        }
    }
}

/// Verifies signed requests against a table of client secrets or a lookup function;
/// `verifyOnce` also refuses replays with an in-memory store (one process; use core's
/// `ReplayStore` for a shared one).
#[napi]
pub struct Verifier {
    /// The settings, shared with each verification in progress as `secrets` is: `reconfigure`
    /// may run while one does (from a lookup function), which finishes with the settings it
    /// started with.
    verifier: RefCell<Rc<xnonce_core::Verifier>>,
    /// Shared with each verification in progress: a lookup function may call `setSecrets`
    /// (or verify again) while it runs, and the source it was called from lives on until
    /// that verification ends.
    secrets: RefCell<Rc<Secrets>>,
    store: MemoryReplayStore,
}

/// Where a verifier finds a client's secrets.
enum Secrets {
    /// A table given whole, checked when given.
    Table(HashMap<String, Vec<Secret>>),
    /// A function called with the client id on each request, on the JS thread, as Python's
    /// callable source is: its answer is read as live data (a secret that is not one is
    /// skipped, PROTOCOL §11.1), what it throws is thrown as is. The function itself is kept
    /// on the `Verifier`'s JS object ([`attach_lookup`]), not in a reference held here; only
    /// when that object takes no property (frozen, not extensible) is it held here instead
    /// (a GC root: see [`attach_lookup`]).
    Lookup(Option<FunctionRef<String, Unknown<'static>>>),
}

impl Secrets {
    /// The secrets of `value`, and the lookup function to attach to the verifier's object
    /// (`None` for a table: the one attached before is let go).
    fn of<'env>(env: &Env, value: Unknown<'env>) -> Outcome<(Secrets, Option<Unknown<'env>>)> {
        if value.get_type()? == ValueType::Function {
            return Ok((Secrets::Lookup(None), Some(value)));
        }
        Ok((Secrets::Table(secrets_of(env, value)?), None))
    }
}

/// Keeps `lookup` (or, for `None`, nothing) on the verifier's JS object `this`, under a
/// symbol, not enumerable. Not a napi reference held by the native verifier: such a reference
/// is a GC root, so a lookup whose closure reaches the verifier (`v = new Verifier((c) =>
/// … v …)`, or through the app that holds it) kept the verifier, the function and all it
/// reaches alive for ever. A property of the object is an edge the GC traces.
fn attach_lookup(env: &Env, this: &Object<'_>, lookup: Option<Unknown<'_>>) -> napi::Result<()> {
    let raw = env.raw();
    let key = crate::symbols::lookup_key(env)?;
    // SAFETY: napi calls on the JS thread, with values of this env.
    unsafe {
        let value = match lookup {
            Some(function) => function.raw(),
            None => {
                let mut undefined = std::ptr::null_mut();
                check_status!(sys::napi_get_undefined(raw, &mut undefined))?;
                undefined
            }
        };
        let descriptor = sys::napi_property_descriptor {
            utf8name: std::ptr::null(),
            name: key.raw(),
            method: None,
            getter: None,
            setter: None,
            value,
            attributes: sys::PropertyAttributes::writable | sys::PropertyAttributes::configurable,
            data: std::ptr::null_mut(),
        };
        check_status!(sys::napi_define_properties(raw, this.raw(), 1, &descriptor))
    }
}

impl Secrets {
    /// Keeps the lookup function of `Secrets::Lookup` on the verifier's object `this`, or,
    /// when that object takes no property (frozen), in a reference held here.
    fn keep(&mut self, env: &Env, this: &Object<'_>, lookup: Unknown<'_>) -> napi::Result<()> {
        if attach_lookup(env, this, Some(lookup)).is_err() {
            clear_pending(env);
            *self = Secrets::Lookup(Some(FunctionRef::from_unknown(lookup)?));
        }
        Ok(())
    }
}

/// Clears an exception a failed property definition may have left pending.
fn clear_pending(env: &Env) {
    let raw = env.raw();
    let mut pending = false;
    // SAFETY: napi calls on the JS thread.
    unsafe {
        if sys::napi_is_exception_pending(raw, &mut pending) == sys::Status::napi_ok && pending {
            let mut thrown = std::ptr::null_mut();
            sys::napi_get_and_clear_last_exception(raw, &mut thrown);
        }
    }
}

/// The lookup function kept on the verifier's JS object `this`.
fn attached_lookup<'env>(env: &Env, this: &Object<'env>) -> napi::Result<Unknown<'env>> {
    this.get_property(crate::symbols::lookup_key(env)?)
}

/// A lookup function as core's `SecretSource`, for one verification: the first failure (a
/// throw, or an answer that is no secrets at all) is kept for the caller to throw instead of
/// the verifier's `unknown_client`.
struct JsLookup<'a> {
    env: &'a Env,
    lookup: Unknown<'a>,
    failure: RefCell<Option<LookupFailure>>,
}

/// Why a lookup gave no secrets.
enum LookupFailure {
    /// What the lookup (or a getter of its answer) threw, whatever the value: kept as the
    /// value itself, valid until the binding call returns, and thrown again then.
    /// (`napi::Error::from` would keep only an object, and not always the object itself:
    /// `throw 'down'` would become "Create Error reference failed".)
    Threw(sys::napi_value),
    Failed(Failure),
}

impl LookupFailure {
    /// The failure to return from the binding call; a value the lookup threw is made the
    /// pending exception again, which napi-rs leaves as it is for a `PendingException` error.
    fn into_failure(self, env: &Env) -> Failure {
        match self {
            LookupFailure::Failed(failure) => failure,
            LookupFailure::Threw(thrown) => {
                // SAFETY: on the JS thread, within the binding call `thrown` was got in.
                let status = unsafe { sys::napi_throw(env.raw(), thrown) };
                if status != sys::Status::napi_ok {
                    return napi::Error::new(
                        napi::Status::GenericFailure,
                        "the secrets lookup threw, and its value could not be thrown again",
                    )
                    .into();
                }
                napi::Error::new(napi::Status::PendingException, "the secrets lookup threw").into()
            }
        }
    }
}

impl JsLookup<'_> {
    /// Calls the lookup with `client`, `this` undefined. What it throws stays pending (read by
    /// [`SecretSource::secrets`]), not turned into a `napi::Error` as `Function::call` does.
    fn call(&self, client: &str) -> Outcome<Unknown<'_>> {
        let env = self.env.raw();
        let function = self.lookup;
        // SAFETY: napi calls on the JS thread, with values of this binding call.
        unsafe {
            let arg = <&str as ToNapiValue>::to_napi_value(env, client)?;
            let mut this = std::ptr::null_mut();
            check_status!(sys::napi_get_undefined(env, &mut this))?;
            let mut found = std::ptr::null_mut();
            let status = sys::napi_call_function(env, this, function.raw(), 1, &arg, &mut found);
            if status != sys::Status::napi_ok {
                return Err(napi::Error::new(
                    napi::Status::from(status),
                    "the secrets lookup failed",
                )
                .into());
            }
            Ok(Unknown::from_raw_unchecked(env, found))
        }
    }

    fn lookup(&self, client: &str) -> Outcome<Vec<Secret>> {
        let found = crate::reentry::calling_js(self.env, || self.call(client))?;
        let live = |value: Unknown<'_>, in_array: bool| -> Outcome<Option<Secret>> {
            if value.get_type()? != ValueType::String {
                return Err(not_secrets(&value, in_array)?.into());
            }
            // Live data: text that is not a secret is no live secret, and never matches.
            let text = Text::from_unknown(value)?.check(Input::VerifierSecret);
            Ok(text.ok().and_then(|t| Secret::new(t).ok()))
        };
        match found.get_type()? {
            ValueType::Undefined | ValueType::Null => Ok(Vec::new()),
            ValueType::String => Ok(live(found, false)?.into_iter().collect()),
            _ => match params::as_array(self.env, found)? {
                Some(array) => {
                    let mut out = Vec::new();
                    for i in 0..array.len() {
                        out.extend(live(array.get_element(i)?, true)?);
                    }
                    Ok(out)
                }
                None => Err(not_secrets(&found, false)?.into()),
            },
        }
    }
}

/// The `TypeError` for a lookup's answer that is not a secret, an array of them or nothing
/// (`in_array`: `found` is an element of the array it returned).
fn not_secrets(found: &Unknown<'_>, in_array: bool) -> napi::Result<napi::Error> {
    let what = match found.get_type()? {
        ValueType::Object if found.is_promise()? => {
            "a Promise (the lookup is called synchronously: read from a cache you keep)"
        }
        ValueType::Object => "an object",
        ValueType::Number => "a number",
        ValueType::BigInt => "a bigint",
        ValueType::Boolean => "a boolean",
        ValueType::Symbol => "a symbol",
        ValueType::Function => "a function",
        // In an array only (a lookup may return null or undefined itself): a hole reads so.
        ValueType::Undefined => "undefined",
        ValueType::Null => "null",
        _ => "another value",
    };
    let within = if in_array { "an array holding " } else { "" };
    Ok(napi::Error::new(
        napi::Status::InvalidArg,
        format!(
            "a secrets lookup must return a secret (string), an array of them, or \
             null/undefined, not {within}{what}"
        ),
    ))
}

impl SecretSource for JsLookup<'_> {
    fn secrets(&self, client: &str) -> Vec<Secret> {
        self.lookup(client).unwrap_or_else(|e| {
            // A throw (the lookup's, or a getter's of its answer) is left pending by napi:
            // taken as the value thrown, so that nothing is pending while core goes on.
            let mut pending = false;
            let env = self.env.raw();
            // SAFETY: napi calls on the JS thread.
            let failure = unsafe {
                let mut thrown = std::ptr::null_mut();
                if sys::napi_is_exception_pending(env, &mut pending) == sys::Status::napi_ok
                    && pending
                    && sys::napi_get_and_clear_last_exception(env, &mut thrown)
                        == sys::Status::napi_ok
                {
                    LookupFailure::Threw(thrown)
                } else {
                    LookupFailure::Failed(e)
                }
            };
            self.failure.borrow_mut().get_or_insert(failure);
            Vec::new()
        })
    }
}

#[napi]
impl Verifier {
    /// `secrets` maps each client id to its secret or to a list of live secrets (rotation):
    /// a plain object or a `Map`; or it is a function `(client) => secret | secrets | null |
    /// undefined`, called on each request (synchronously: read from a cache you keep).
    #[napi(
        constructor,
        strict,
        ts_args_type = "secrets: Readonly<Record<string, string | ReadonlyArray<string>>> | ReadonlyMap<string, string | ReadonlyArray<string>> | ((client: string) => string | ReadonlyArray<string> | null | undefined), options?: VerifierOptions | null"
    )]
    pub fn new(
        env: &Env,
        this: This<'_>,
        secrets: Unknown<'_>,
        options: Option<Checked<VerifierOptions<'_>>>,
    ) -> napi::Result<Self> {
        guard(env, || {
            let verifier = verifier_of(env, options.map(Checked::into_inner).unwrap_or_default())?;
            let (mut secrets, lookup) = Secrets::of(env, secrets)?;
            if let Some(lookup) = lookup {
                secrets.keep(env, &this.object, lookup)?;
            }
            Ok(Verifier {
                verifier: RefCell::new(Rc::new(verifier)),
                secrets: RefCell::new(Rc::new(secrets)),
                store: MemoryReplayStore::new(),
            })
        })
    }

    /// Replaces the table of client secrets (the same shapes as the constructor's, checked
    /// the same way: on an error nothing changes). The windows, schemes, hosts and the
    /// replay store stay, so a request accepted before a rotation is still refused as a
    /// replay after it — which a new `Verifier` (a new, empty store) would accept again.
    #[napi(
        js_name = "setSecrets",
        strict,
        ts_args_type = "secrets: Readonly<Record<string, string | ReadonlyArray<string>>> | ReadonlyMap<string, string | ReadonlyArray<string>> | ((client: string) => string | ReadonlyArray<string> | null | undefined)"
    )]
    pub fn set_secrets(&self, env: &Env, this: This<'_>, secrets: Unknown<'_>) -> napi::Result<()> {
        guard(env, || {
            let (mut secrets, lookup) = Secrets::of(env, secrets)?;
            match lookup {
                Some(lookup) => secrets.keep(env, &this.object, lookup)?,
                // A table: the function kept before is let go where it can be (a frozen
                // verifier keeps it, unused).
                None => {
                    if attach_lookup(env, &this.object, None).is_err() {
                        clear_pending(env);
                    }
                }
            }
            *self.secrets.borrow_mut() = Rc::new(secrets);
            Ok(())
        })
    }

    /// How long (ms) a shared replay store should refuse every request once it finds that
    /// it lost its keys (Redis restarted empty, flushed): twice this verifier's longest
    /// window plus 1 s (core's `Verifier::fence_after_loss_ms`). The middleware gives it to
    /// its `store`'s `widenFence` (as `redisReplayStore`'s) when made and once a
    /// `reconfigure` raised it.
    #[napi(getter, js_name = "fenceAfterLossMs")]
    pub fn fence_after_loss_ms(&self) -> f64 {
        self.verifier.borrow().fence_after_loss_ms() as f64
    }

    /// Replaces the windows, accepted schemes, hosts and routes with those of `options` (a
    /// configuration reload): the constructor's options, checked as the constructor checks
    /// them (the same errors, a `TypeError` for an unknown key, the same warning for a route
    /// window that selects no route), with the same defaults for what they do not give — the
    /// whole configuration is replaced, as reloading a configuration file replaces it. On
    /// any error nothing changes. The secrets and the replay store stay: a request accepted
    /// before is still refused as `replayed` after, which a new `Verifier` (a new, empty
    /// store) would accept again.
    ///
    /// A request the old settings may have accepted (stamped up to an old window after
    /// `now` + 1 s) is checked under the narrower of the old and new windows; later
    /// ones under the new: a widened window cannot accept a copy of a request whose replay
    /// key the old, narrower one let expire (PROTOCOL §14.1), and a narrowed one applies at
    /// once. `now` is the time of the change in ms, a number or a bigint (default: the system
    /// clock), checked as `verify`'s `now` option is. A verification in progress (this called
    /// from a secrets lookup) finishes with the settings it started with.
    #[napi(
        strict,
        ts_args_type = "options?: VerifierOptions | null, now?: number | bigint | null"
    )]
    pub fn reconfigure(
        &self,
        env: &Env,
        options: Option<Checked<VerifierOptions<'_>>>,
        now: Option<params::Millis>,
    ) -> napi::Result<()> {
        guard(env, || {
            let now = now_or_clock(now)?;
            let fresh = verifier_of(env, options.map(Checked::into_inner).unwrap_or_default())?;
            // The settings in force now, read after `verifier_of` (which may run the caller's
            // code: a `Map`'s iterator, a getter): no borrow is held across it.
            let previous = Rc::clone(&self.verifier.borrow());
            *self.verifier.borrow_mut() = Rc::new(fresh.replacing(&previous, now));
            Ok(())
        })
    }

    /// Checks authenticity and freshness; does not record the request. A refusal throws an
    /// `XNonceError` whose `.answer` is the HTTP answer to send.
    #[napi(
        strict,
        ts_args_type = "method: string, target: string, options?: VerifyOptions | null"
    )]
    pub fn verify(
        &self,
        env: &Env,
        this: This<'_>,
        method: Text,
        target: Text,
        options: Option<Checked<VerifyOptions>>,
    ) -> napi::Result<Verified> {
        guard(env, || {
            let options = options.map(Checked::into_inner);
            self.check(env, &this.object, method, target, options, false)
        })
    }

    /// The refusal a request's head alone decides, before its body is read: with `routes`, an
    /// unknown route (404) or param rules the query alone fails (422), for a body that is not
    /// a form (a form's fields are params: `verify` decides once it is read); `null`
    /// otherwise. The answer `verify` would give the same request, given without waiting for
    /// its body, as the reference server does (core's `Verifier::check_route_before_body`).
    /// `options.host`, `body` and `now` play no part; text that is not well-formed is left
    /// to `verify`.
    #[napi(
        strict,
        js_name = "routeRefusal",
        ts_args_type = "method: string, target: string, options?: VerifyOptions | null"
    )]
    pub fn route_refusal(
        &self,
        method: Text,
        target: Text,
        options: Option<Checked<VerifyOptions>>,
    ) -> Option<crate::answer::Answer> {
        let o = options.map(Checked::into_inner).unwrap_or_default();
        let x_nonce = o.x_nonce.flatten();
        let content_type = o.content_type.flatten();
        let ill_formed = method.ill_formed(Input::Method).is_some()
            || target.ill_formed(Input::Target).is_some()
            || x_nonce
                .as_ref()
                .is_some_and(|x| x.ill_formed(Input::Header).is_some())
            || content_type
                .as_ref()
                .is_some_and(|c| c.ill_formed(Input::ContentType).is_some());
        if ill_formed {
            return None;
        }
        let mut req = Incoming::new(method.lossy(), target.lossy())
            .body(content_type.as_ref().map(Text::lossy), &[]);
        req.x_nonce = x_nonce.as_ref().map(Text::lossy);
        let verifier = Rc::clone(&self.verifier.borrow());
        let refused = verifier.check_route_before_body(&req).err()?;
        Some(Answer::refusal(&refused, req.refusal_scheme()).into())
    }

    /// Like `verify`, then remembers the request: a second copy fails with `replayed` (its
    /// `.answer`: 409).
    #[napi(
        strict,
        js_name = "verifyOnce",
        ts_args_type = "method: string, target: string, options?: VerifyOptions | null"
    )]
    pub fn verify_once(
        &self,
        env: &Env,
        this: This<'_>,
        method: Text,
        target: Text,
        options: Option<Checked<VerifyOptions>>,
    ) -> napi::Result<Verified> {
        guard(env, || {
            let options = options.map(Checked::into_inner);
            self.check(env, &this.object, method, target, options, true)
        })
    }
}

impl Verifier {
    /// Verifies. Text that was not well-formed (a lone surrogate: a server's decoding of bytes
    /// the client sent) refuses the request with that input's code and the answer to send,
    /// styled by the request as read lossily; the first such input, in argument order (as the
    /// Python binding does).
    fn check(
        &self,
        env: &Env,
        this: &Object<'_>,
        method: Text,
        target: Text,
        options: Option<VerifyOptions>,
        once: bool,
    ) -> Outcome<Verified> {
        let o = options.unwrap_or_default();
        let host = o.host.flatten();
        let x_nonce = o.x_nonce.flatten();
        let content_type = o.content_type.flatten();
        let body = params::body_bytes(o.body.flatten())?.unwrap_or_default();
        let now = now_or_clock(o.now.flatten())?;
        let mut req = Incoming::new(method.lossy(), target.lossy())
            .host_header(host.as_ref().map(Text::lossy))
            .body(content_type.as_ref().map(Text::lossy), &body);
        req.x_nonce = x_nonce.as_ref().map(Text::lossy);
        let refuse = |e: xnonce_core::Error, req: &Incoming<'_>| {
            let answer = Answer::refusal(&e, req.refusal_scheme());
            Failure::Refused(e, Box::new(answer))
        };
        let ill_formed = [
            method.ill_formed(Input::Method),
            target.ill_formed(Input::Target),
            host.as_ref().and_then(|h| h.ill_formed(Input::Host)),
            x_nonce.as_ref().and_then(|x| x.ill_formed(Input::Header)),
            content_type
                .as_ref()
                .and_then(|c| c.ill_formed(Input::ContentType)),
        ]
        .into_iter()
        .flatten()
        .next();
        if let Some(e) = ill_formed {
            return Err(refuse(e, &req));
        }
        // A snapshot of the settings, as of the secrets below: a `reconfigure` the lookup
        // makes applies from the next verification on.
        let verifier = Rc::clone(&self.verifier.borrow());
        let verify = |secrets: &dyn SecretSource| {
            if once {
                verifier.verify_once(&req, secrets, &self.store, now)
            } else {
                verifier.verify(&req, secrets, now)
            }
        };
        // A snapshot, not a borrow: no `RefCell` borrow is held while the lookup runs.
        let secrets = Rc::clone(&self.secrets.borrow());
        let verified = match &*secrets {
            Secrets::Table(table) => verify(table),
            Secrets::Lookup(held) => {
                let lookup = match held {
                    Some(held) => held.borrow_back(env)?.to_unknown(),
                    None => attached_lookup(env, this)?,
                };
                let source = JsLookup {
                    env,
                    lookup,
                    failure: RefCell::new(None),
                };
                let verified = verify(&source);
                // The lookup's throw (or wrong answer), not the `unknown_client` it led to.
                if let Some(failure) = source.failure.into_inner() {
                    return Err(failure.into_failure(env));
                }
                verified
            }
        };
        // A refusal carries core's answer to it, in the style the request calls for.
        verified.map(Verified::from).map_err(|e| refuse(e, &req))
    }
}

/// `now` (checked as any JS timestamp), else the system clock.
fn now_or_clock(now: Option<params::Millis>) -> Outcome<u64> {
    use xnonce_core::Environment as _;
    Ok(params::timestamp_ms(now)?.unwrap_or_else(|| xnonce_core::SystemEnvironment.now_ms()))
}

/// A window in ms: core's bound for every binding, an integer in `0..=86400000` (one day),
/// else `invalid_timestamp`.
fn window(ms: f64) -> Outcome<u64> {
    Ok(xnonce_core::window::window_from_f64(ms)?)
}

/// The core verifier of a `VerifierOptions`, for the constructor and `reconfigure` alike:
/// every option checked, the defaults for those not given, and the warnings of route windows
/// that select no route given once all is checked.
fn verifier_of(env: &Env, o: VerifierOptions<'_>) -> Outcome<xnonce_core::Verifier> {
    let mut windows = WindowPolicy::new(match o.window_ms.flatten() {
        Some(ms) => window(ms)?,
        None => xnonce_core::window::DEFAULT_WINDOW_MS,
    });
    for (controller, ms) in windows_of(
        env,
        o.controller_windows,
        "controllerWindows",
        Input::ControllerWindow,
    )? {
        windows = windows.controller(controller, ms);
    }
    for (route, ms) in windows_of(env, o.action_windows, "actionWindows", Input::ActionWindow)? {
        let (controller, action) = xnonce_core::window::action_key(&route)?;
        windows = windows.action(controller, action, ms);
    }
    let mut verifier = xnonce_core::Verifier::new().windows(windows)?;
    if let Some(params::TextList(names)) = o.schemes.flatten() {
        let schemes = names
            .into_iter()
            .map(|s| Ok(s.check(Input::AcceptedScheme)?.parse()?))
            .collect::<Outcome<Vec<Scheme>>>()?;
        verifier = verifier.schemes(&schemes)?;
    }
    if let Some(params::TextList(names)) = o.hosts.flatten() {
        let hosts = names
            .into_iter()
            .map(|h| h.check(Input::ServedHost))
            .collect::<Outcome<Vec<String>>>()?;
        verifier = verifier.hosts(&hosts)?;
    }
    if let Some(routes) = o.routes.flatten() {
        verifier = verifier.routes(routes_of(env, routes)?);
        warn_of_windows_naming_no_route(env, &verifier)?;
    }
    Ok(verifier)
}

/// A process warning (`process.emitWarning`, code `XNONCE_WINDOW_NO_ROUTE`) for each route
/// window that selects no route of the verifier's table, as `xnonce-server` warns of them: it
/// applies to no request, most likely misspelt.
fn warn_of_windows_naming_no_route(env: &Env, verifier: &xnonce_core::Verifier) -> Outcome<()> {
    let unrouted = verifier.windows_naming_no_route();
    if unrouted.is_empty() {
        return Ok(());
    }
    let process: Object = env.get_global()?.get_named_property_unchecked("process")?;
    let emit: Function<'_, FnArgs<(String, String, String)>, Unknown> =
        process.get_named_property("emitWarning")?;
    for (controller, action) in unrouted {
        let key = match action {
            Some(action) => format!("actionWindows[{:?}]", format!("{controller}/{action}")),
            None => format!("controllerWindows[{controller:?}]"),
        };
        let message = format!("Verifier: {key} {}", WindowPolicy::NAMING_NO_ROUTE);
        let args = (
            message,
            "Warning".to_owned(),
            "XNONCE_WINDOW_NO_ROUTE".to_owned(),
        );
        crate::reentry::calling_js(env, || Ok(emit.call(FnArgs::from(args))?))?;
    }
    Ok(())
}

/// The `routes` option: controller -> route key -> param -> rule, each level a plain object
/// or a `Map` (another value is a `TypeError`), checked as `xnonce-server`'s config is
/// ([`RouteTable::add_checked`]).
fn routes_of(env: &Env, routes: Unknown<'_>) -> Outcome<RouteTable> {
    let mut table = RouteTable::new();
    for (controller, keys) in route_level(env, routes, "routes", Input::RouteController)? {
        xnonce_core::routes::check_route_controller(&controller)?;
        let what = format!("routes[{controller:?}]");
        for (key, rules) in route_level(env, keys, &what, Input::RouteKey)? {
            let what = format!("routes[{controller:?}][{key:?}]");
            let mut parsed = Vec::new();
            for (param, rule) in route_level(env, rules, &what, Input::RouteParam)? {
                if rule.get_type()? != ValueType::String {
                    return Err(napi::Error::new(
                        napi::Status::StringExpected,
                        format!("{what}[{param:?}] must be 'req', 'opt' or 'exc'"),
                    )
                    .into());
                }
                let rule = Text::from_unknown(rule)?.check(Input::RouteRule)?;
                parsed.push((param, rule.parse::<ParamRule>()?));
            }
            table.add_checked(&controller, &key, parsed)?;
        }
    }
    Ok(table)
}

/// One level of `routes` (`what` names it in messages, `key` is the input its keys are): a
/// plain object or a `Map`, in iteration order; anything else (an array of pairs included)
/// is a `TypeError`.
fn route_level<'env>(
    env: &'env Env,
    value: Unknown<'env>,
    what: &str,
    key: Input,
) -> Outcome<Vec<(String, Unknown<'env>)>> {
    if !is_table(env, value)? {
        return Err(napi::Error::new(
            napi::Status::ObjectExpected,
            format!("{what} must be an object or a Map"),
        )
        .into());
    }
    params::entries(env, Some(value), ErrorCode::InvalidPath, key)
}

/// Whether `value` is a table of keys (secrets, routes): a plain object or an iterable such as
/// a `Map`. An array (of pairs) is not, as in Python and as the types say (`new Map(pairs)`),
/// nor an object that is neither plain nor iterable (a class instance, a `Date`).
fn is_table(env: &Env, value: Unknown<'_>) -> Outcome<bool> {
    Ok(value.get_type()? == ValueType::Object
        && !params::is_js_array(env, value)?
        && params::is_container(env, &Object::from_unknown(value)?)?)
}

/// The windows of `controllerWindows` / `actionWindows` (`option` names it in messages,
/// `key` is the input its keys are): `{ key: ms }`, in property order. A key is a path
/// (`invalid_path` when it is not well-formed text); a value that is not a number is a
/// `TypeError`.
fn windows_of(
    env: &Env,
    windows: Option<Option<Object<'_>>>,
    option: &str,
    key: Input,
) -> Outcome<Vec<(String, u64)>> {
    let Some(object) = windows.flatten() else {
        return Ok(Vec::new());
    };
    // napi's `Object` field takes any value: a string, a number, a function was read as a
    // table and refused as `invalid_path`, an XNonceError, where a value of the wrong
    // JavaScript type is a TypeError naming the types and the field (README, Errors).
    let received = object.to_unknown().get_type()?;
    if received != ValueType::Object {
        return Err(napi::Error::new(
            napi::Status::ObjectExpected,
            format!(
                "Expect value to be Object, but received {received} on VerifierOptions.{option}"
            ),
        )
        .into());
    }
    let entries = params::entries(env, Some(object.to_unknown()), ErrorCode::InvalidPath, key)?;
    let mut out = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        if value.get_type()? != ValueType::Number {
            return Err(napi::Error::new(
                napi::Status::NumberExpected,
                format!("{option}[{key:?}] must be a number of milliseconds"),
            )
            .into());
        }
        out.push((key, window(f64::from_unknown(value)?)?));
    }
    Ok(out)
}

/// Reads `{ client: secret | [secrets] }` or a `Map` of the same.
fn secrets_of(env: &Env, value: Unknown<'_>) -> Outcome<HashMap<String, Vec<Secret>>> {
    if !is_table(env, value)? {
        // A wrong JavaScript type: a TypeError (arguments.js), as for any other argument.
        return Err(napi::Error::new(
            napi::Status::ObjectExpected,
            "secrets must be an object or a Map of client id -> secret (or array of secrets)",
        )
        .into());
    }
    let mut out = HashMap::new();
    for (client, secrets) in params::entries(
        env,
        Some(value),
        ErrorCode::InvalidSecret,
        Input::VerifierClient,
    )? {
        let list = if let Some(array) = params::as_array(env, secrets)? {
            (0..array.len())
                .map(|i| secret_of(array.get_element(i)?))
                .collect::<Outcome<Vec<_>>>()?
        } else {
            vec![secret_of(secrets)?]
        };
        out.insert(client, list);
    }
    Ok(out)
}

fn secret_of(value: Unknown<'_>) -> Outcome<Secret> {
    if value.get_type()? != ValueType::String {
        return Err(
            napi::Error::new(napi::Status::StringExpected, "a secret must be a string").into(),
        );
    }
    let text = Text::from_unknown(value)?.check(Input::VerifierSecret)?;
    Ok(Secret::new(text)?)
}
