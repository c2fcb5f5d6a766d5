//! `Requester`: signs and sends requests with the Rust requester (`xnonce::Requester`, reqwest
//! on napi's tokio runtime), so `makeRequest` never blocks the JS event loop.

use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::{
    Buffer, JsObjectValue, JsValue, Object, PromiseRaw, ToNapiValue, Unknown,
};
use napi::{check_status, sys, Env};
use napi_derive::napi;
use tokio::sync::Notify;
use xnonce::RequestOptions;
use xnonce_core::input::Pairs;
use xnonce_core::{ErrorCode, Input, Scheme};

use crate::error::{fail, guard, out_of_range, to_js, Failure, Outcome, MAX_SAFE_INTEGER};
use crate::options::{refuse_unknown, Checked, OptionKeys};
use crate::params::{self, Text};

/// Settings of a `Requester` (`null` counts as absent; another key is a `TypeError`).
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct RequesterOptions {
    /// `"v1"` or `"v2"` (default `"v2"`).
    #[napi(ts_type = "'v1' | 'v2' | null")]
    pub scheme: Option<Option<Text>>,
    /// Time limit of one HTTP exchange in ms (default 30000): a positive number up to
    /// `Number.MAX_SAFE_INTEGER`; anything else (0, negative, NaN, Infinity) throws a
    /// `RangeError` with code `ERR_OUT_OF_RANGE`.
    #[napi(ts_type = "number | null")]
    pub timeout_ms: Option<Option<f64>>,
    /// Correct the clock from the server's authenticated time hint and retry a stale request
    /// once (default true). A request whose `timestamp` was forced is never retried.
    #[napi(ts_type = "boolean | null")]
    pub correct_clock: Option<Option<bool>>,
    /// The clock offset to start from (server − local, ms; default 0): an integer number of
    /// ms within ±`Number.MAX_SAFE_INTEGER` (else a `RangeError`), e.g. the `clockOffsetMs`
    /// a previous `Requester` learned.
    #[napi(ts_type = "number | null")]
    pub clock_offset_ms: Option<Option<f64>>,
    /// Certificate authorities (PEM, text or bytes) to trust besides the bundled roots: for a
    /// server whose certificate an internal CA issued. Not PEM: a `connection_failed` error;
    /// text holding a lone surrogate: `invalid_body` ("the CA PEM is not valid Unicode text").
    #[napi(ts_type = "string | Uint8Array | ArrayBuffer | null")]
    pub ca_pem: Option<Option<params::Body>>,
    /// The largest answer body to read, in bytes (default 64 MiB): a whole number from 0 to
    /// `Number.MAX_SAFE_INTEGER` (else a `RangeError`). A longer answer rejects with
    /// `connection_failed`, read no further than the limit.
    #[napi(ts_type = "number | null")]
    pub max_response_bytes: Option<Option<f64>>,
}

impl OptionKeys for RequesterOptions {
    const ARGUMENT: &'static str = "options";
    const KEYS: &'static [&'static str] = &[
        "scheme",
        "timeoutMs",
        "correctClock",
        "clockOffsetMs",
        "caPem",
        "maxResponseBytes",
    ];
}

/// The keys of `makeRequest`'s options (`RequestOptions` in native-header.d.ts).
/// `signal` is read by requester.js, which hands the native method a [`RequestAbort`].
const REQUEST_OPTION_KEYS: &[&str] = &[
    "timestamp",
    "nonce",
    "extraParams",
    "json",
    "headers",
    "signal",
];

/// `timeoutMs` as a duration: a positive number of ms up to `Number.MAX_SAFE_INTEGER` (one
/// below a nanosecond is a nanosecond: positive, as the README says, never zero).
fn timeout(env: &Env, ms: f64) -> Outcome<Duration> {
    (ms <= MAX_SAFE_INTEGER)
        .then(|| xnonce::timeout_from_f64(ms, 1000.0))
        .flatten()
        .ok_or_else(|| out_of_range(env, "timeoutMs", "a positive number of milliseconds", ms))
}

/// `clockOffsetMs`: an integer number of ms within ±`Number.MAX_SAFE_INTEGER`.
fn clock_offset(env: &Env, ms: f64) -> Outcome<i64> {
    match ms.fract() == 0.0 && ms.abs() <= MAX_SAFE_INTEGER {
        true => Ok(ms as i64),
        false => Err(out_of_range(
            env,
            "clockOffsetMs",
            "an integer number of milliseconds",
            ms,
        )),
    }
}

/// `xnonceFetch`'s clock options: those of [`RequesterOptions`] of the same names, converted
/// alike (a value of another type is the same `TypeError`).
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct ClockOptions {
    /// See [`RequesterOptions::correct_clock`].
    #[napi(ts_type = "boolean | null")]
    pub correct_clock: Option<Option<bool>>,
    /// See [`RequesterOptions::clock_offset_ms`].
    #[napi(ts_type = "number | null")]
    pub clock_offset_ms: Option<Option<f64>>,
}

/// For `xnonceFetch`, when one is made: its `correctClock` and `clockOffsetMs` options,
/// checked as the `Requester` constructor checks its options of the same names (a
/// `TypeError` for a value of another type, the same `RangeError` for an offset that is no
/// integer within ±`Number.MAX_SAFE_INTEGER`). Returns the clock offset to start from (0 when
/// absent). Not the package's API: index.js does not export it.
#[napi(strict, js_name = "checkClock", ts_args_type = "options: ClockOptions")]
pub fn check_clock(env: &Env, options: ClockOptions) -> napi::Result<f64> {
    guard(env, || {
        let offset = options.clock_offset_ms.flatten();
        Ok(offset
            .map(|ms| clock_offset(env, ms))
            .transpose()?
            .unwrap_or(0) as f64)
    })
}

/// `maxResponseBytes`: a whole number of bytes from 0 to `Number.MAX_SAFE_INTEGER`.
fn max_response_bytes(env: &Env, bytes: f64) -> Outcome<u64> {
    match bytes.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER).contains(&bytes) {
        true => Ok(bytes as u64),
        false => Err(out_of_range(
            env,
            "maxResponseBytes",
            "a whole number of bytes",
            bytes,
        )),
    }
}

/// A server's answer. Non-2xx answers are responses, not errors.
#[napi(
    object,
    object_from_js = false,
    use_nullable = true,
    js_name = "RequesterResponse"
)]
pub struct Response<'env> {
    /// HTTP status code.
    pub code: u32,
    /// The body as text (invalid UTF-8 replaced by U+FFFD).
    pub body: String,
    /// The body's bytes exactly as received: an image, a file, a body in another charset is
    /// read from here (`body` replaces invalid UTF-8).
    pub bytes: Buffer,
    /// The body parsed as JSON by JavaScript's own `JSON.parse`, or `null` when it is not JSON
    /// (or not UTF-8).
    #[napi(ts_type = "unknown")]
    pub data: Option<Unknown<'env>>,
    /// Response headers as `[name, value]` pairs (names lower-case), in the order received
    /// except that a repeated name's lines come together at its first one's place.
    #[napi(ts_type = "Array<[string, string]>")]
    pub headers: Vec<Vec<String>>,
}

impl<'env> Response<'env> {
    /// The JS answer, on the JS thread. `data` is what `JSON.parse(body)` gives, not the Rust
    /// requester's `serde_json::Value` converted by napi, which is not what JavaScript means by
    /// the same JSON: napi refuses a value of more than a million items (a 2 MB array of
    /// numbers rejected `makeRequest`), sets the prototype of an object from a `"__proto__"`
    /// key (a server's answer could give `data` inherited properties), sorts keys, turns
    /// integers beyond 2^53 into bigints and rounds some floats otherwise.
    fn new(env: &'env Env, r: xnonce::Response) -> napi::Result<Self> {
        // A body that is not UTF-8 is no JSON (its lossy text would parse with U+FFFD).
        let data = match std::str::from_utf8(&r.bytes) {
            Ok(_) => json_parse(env, &r.body)?,
            Err(_) => None,
        };
        Ok(Response {
            code: u32::from(r.code),
            body: r.body,
            bytes: Buffer::from(r.bytes),
            data,
            headers: r.headers.into_iter().map(|(k, v)| vec![k, v]).collect(),
        })
    }
}

/// `JSON.parse(text)`, `None` when it throws (text that is not JSON).
fn json_parse<'env>(env: &'env Env, text: &str) -> napi::Result<Option<Unknown<'env>>> {
    let json: Object = env.get_global()?.get_named_property("JSON")?;
    let parse: Unknown = json.get_named_property("parse")?;
    let raw = env.raw();
    // SAFETY: napi calls on the JS thread, with values of this env.
    unsafe {
        let arg = <&str as ToNapiValue>::to_napi_value(raw, text)?;
        let mut parsed = std::ptr::null_mut();
        let status = sys::napi_call_function(raw, json.raw(), parse.raw(), 1, &arg, &mut parsed);
        if status == sys::Status::napi_pending_exception {
            // Not JSON: the SyntaxError is cleared, the answer has no data.
            let mut thrown = std::ptr::null_mut();
            check_status!(sys::napi_get_and_clear_last_exception(raw, &mut thrown))?;
            return Ok(None);
        }
        check_status!(status)?;
        Ok(Some(Unknown::from_raw_unchecked(raw, parsed)))
    }
}

/// Signs and sends requests to one server as one client, like em-secure-api's
/// `ReSvcClient::Requester`.
#[napi]
pub struct Requester {
    inner: xnonce::Requester,
}

#[napi]
impl Requester {
    /// `server` is `http(s)://host[:port][/prefix]`.
    #[napi(
        constructor,
        strict,
        ts_args_type = "server: string, client: string, secret: string, options?: RequesterOptions | undefined | null"
    )]
    pub fn new(
        env: &Env,
        server: Text,
        client: Text,
        secret: Text,
        options: Option<Checked<RequesterOptions>>,
    ) -> napi::Result<Self> {
        guard(env, || {
            let o = options.map(Checked::into_inner).unwrap_or_default();
            let server = server.check(Input::ServerUrl)?;
            let client = client.check(Input::Client)?;
            let secret = crate::sign::secret_of(secret)?;
            let mut builder = xnonce::Requester::builder(server, client, secret);
            if let Some(scheme) = params::optional_text(o.scheme, Input::Scheme)? {
                builder = builder.scheme(scheme.parse::<Scheme>()?);
            }
            if let Some(ms) = o.timeout_ms.flatten() {
                builder = builder.timeout(timeout(env, ms)?);
            }
            if let Some(on) = o.correct_clock.flatten() {
                builder = builder.correct_clock(on);
            }
            if let Some(ms) = o.clock_offset_ms.flatten() {
                builder = builder.clock_offset_ms(clock_offset(env, ms)?);
            }
            // Text that is not well-formed: invalid_body, as any text given for bytes (core's
            // Input::CaPem).
            if let Some(pem) = params::bytes_of(o.ca_pem.flatten(), Input::CaPem)? {
                builder = builder.root_certificates_pem(pem);
            }
            if let Some(bytes) = o.max_response_bytes.flatten() {
                builder = builder.max_response_bytes(max_response_bytes(env, bytes)?);
            }
            Ok(Requester {
                inner: builder.build()?,
            })
        })
    }

    /// The clock offset in use (server − local, ms): the one given, or the one learned from
    /// the server's last authenticated time hint.
    #[napi(getter, js_name = "clockOffsetMs")]
    pub fn clock_offset_ms(&self) -> f64 {
        self.inner.clock_offset_ms() as f64
    }

    /// Signs and sends one request; resolves with the response (any status), rejects with an
    /// `XNonceError` for signing errors and `connection_failed`. With `controller`, `path` is
    /// the action (`/controller/action`); without, it is the full path.
    // `options.json` is serialised by requester.js (JSON.stringify, which refuses cycles) and
    // arrives as the extra argument `json_text`: no JS value is ever read recursively here.
    #[napi(
        strict,
        js_name = "makeRequest",
        ts_args_type = "method: string, params: Params, path: string, controller?: string | null, options?: RequestOptions | null",
        ts_return_type = "Promise<RequesterResponse>"
    )]
    #[allow(clippy::too_many_arguments)]
    pub fn make_request<'env>(
        &self,
        env: &'env Env,
        method: Text,
        params: Option<Unknown<'_>>,
        path: Text,
        controller: Option<Text>,
        options: Option<Object<'_>>,
        json_text: Option<String>,
        abort: Option<&RequestAbort>,
    ) -> napi::Result<PromiseRaw<'env, Response<'env>>> {
        let prepared = (|| {
            let method = method.check(Input::Method)?;
            let path = path.check(Input::Path)?;
            let controller = controller.map(|c| c.check(Input::Controller)).transpose()?;
            let params = params::collect(env, params)?;
            let options = request_options(env, options, json_text)?;
            Ok::<_, Failure>((method, path, controller, params, options))
        })();
        let requester = self.inner.clone();
        let aborted = abort.map(|a| a.aborted.clone());
        let future = async move {
            let (method, path, controller, params, options) = prepared?;
            let sent =
                requester.make_request(&method, params, &path, controller.as_deref(), options);
            let res = match aborted {
                None => sent.await?,
                // The request is dropped (its connection closed) once aborted; requester.js
                // has already rejected with the signal's reason, so this error is never seen.
                Some(aborted) => tokio::select! {
                    res = sent => res?,
                    () = aborted.notified() => return fail(ErrorCode::ConnectionFailed, "aborted"),
                },
            };
            Ok::<_, Failure>(res)
        };
        // The future's outcome comes back to the JS thread, where errors become XNonceErrors.
        env.spawn_future_with_callback(async move { Ok(future.await) }, |env, outcome| {
            Response::new(env, outcome.map_err(|f| to_js(env, f))?)
        })
    }
}

/// How requester.js aborts a request it started for `options.signal`: made before the call,
/// handed to the native `makeRequest`, and `abort()`ed when the signal fires. Not part of the
/// package's API (index.js does not export it).
#[napi]
pub struct RequestAbort {
    aborted: Arc<Notify>,
}

#[napi]
impl RequestAbort {
    /// A handle for one request, not aborted yet.
    #[napi(constructor)]
    #[allow(clippy::new_without_default)] // a JS class
    pub fn new() -> Self {
        RequestAbort {
            aborted: Arc::new(Notify::new()),
        }
    }

    /// Drops the request (its connection is closed), also if it has not started yet.
    #[napi]
    pub fn abort(&self) {
        // A permit: a request that starts waiting after this is aborted at once.
        self.aborted.notify_one();
    }
}

/// Reads `{ timestamp, nonce, extraParams, headers }` (`null` and absent alike) and the JSON
/// body's text (`options.json` serialised by `index.js`).
fn request_options(
    env: &Env,
    options: Option<Object<'_>>,
    json_text: Option<String>,
) -> Outcome<RequestOptions> {
    // Sent as the very bytes JSON.stringify wrote (checked to be JSON, and at most 127
    // levels deep, by the requester), not re-serialised.
    let json_raw = json_text.map(String::into_bytes);
    let Some(o) = options else {
        return Ok(RequestOptions {
            json_raw,
            ..RequestOptions::default()
        });
    };
    refuse_unknown(env, &o, "options", REQUEST_OPTION_KEYS)?;
    let timestamp: Option<params::Millis> = params::optional_property(&o, "timestamp")?;
    let nonce: Option<Text> = params::optional_property(&o, "nonce")?;
    let extra: Unknown = o.get_named_property("extraParams")?;
    let headers: Unknown = o.get_named_property("headers")?;
    Ok(RequestOptions {
        timestamp_ms: params::timestamp_ms(timestamp)?,
        nonce: params::optional_text(Some(nonce), Input::Nonce)?,
        extra_params: params::collect_pairs(env, Some(extra), Pairs::EXTRA_PARAMS)?,
        json_raw,
        headers: params::collect_pairs(env, Some(headers), Pairs::HEADERS)?,
        ..RequestOptions::default()
    })
}
