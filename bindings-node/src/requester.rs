//! `Requester`: signs and sends requests with the Rust requester (`xnonce::Requester`, reqwest
//! on napi's tokio runtime), so `makeRequest` never blocks the JS event loop.

use std::time::Duration;

use napi::bindgen_prelude::{JsObjectValue, Object, PromiseRaw, Unknown};
use napi::{Env, ValueType};
use napi_derive::napi;
use xnonce::RequestOptions;
use xnonce_core::{Scheme, Secret};

use crate::error::{guard, to_js, Failure, Outcome};
use crate::params;

/// Settings of a `Requester`.
#[napi(object)]
#[derive(Default)]
pub struct RequesterOptions {
    /// `"v1"` or `"v2"` (default `"v2"`).
    #[napi(ts_type = "'v1' | 'v2'")]
    pub scheme: Option<String>,
    /// Time limit of one HTTP exchange in ms (default 30000).
    pub timeout_ms: Option<f64>,
    /// Correct the clock from the server's authenticated time hint and retry a stale request
    /// once (default true).
    pub correct_clock: Option<bool>,
}

/// A server's answer. Non-2xx answers are responses, not errors.
#[napi(object, use_nullable = true, js_name = "RequesterResponse")]
pub struct Response {
    /// HTTP status code.
    pub code: u32,
    /// The body as text.
    pub body: String,
    /// The body parsed as JSON, or `null` when it is not JSON.
    #[napi(ts_type = "unknown")]
    pub data: Option<serde_json::Value>,
    /// Response headers as `[name, value]` pairs (names lower-case), in order received.
    #[napi(ts_type = "Array<[string, string]>")]
    pub headers: Vec<Vec<String>>,
}

impl From<xnonce::Response> for Response {
    fn from(r: xnonce::Response) -> Self {
        Response {
            code: u32::from(r.code),
            body: r.body,
            data: r.data,
            headers: r.headers.into_iter().map(|(k, v)| vec![k, v]).collect(),
        }
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
    #[napi(constructor, strict)]
    pub fn new(
        env: &Env,
        server: String,
        client: String,
        secret: String,
        options: Option<RequesterOptions>,
    ) -> napi::Result<Self> {
        guard(env, || {
            let o = options.unwrap_or_default();
            let mut builder = xnonce::Requester::builder(server, client, Secret::new(secret)?);
            if let Some(scheme) = o.scheme {
                builder = builder.scheme(scheme.parse::<Scheme>()?);
            }
            if let Some(ms) = o.timeout_ms {
                let ms = xnonce_core::js::timestamp_from_f64(ms)?;
                builder = builder.timeout(Duration::from_millis(ms));
            }
            if let Some(on) = o.correct_clock {
                builder = builder.correct_clock(on);
            }
            Ok(Requester {
                inner: builder.build()?,
            })
        })
    }

    /// Signs and sends one request; resolves with the response (any status), rejects with an
    /// `XNonceError` for signing errors and `connection_failed`. With `controller`, `path` is
    /// the action (`/controller/action`); without, it is the full path.
    #[napi(
        strict,
        js_name = "makeRequest",
        ts_args_type = "method: string, params: Params, path: string, controller?: string | null, options?: RequestOptions",
        ts_return_type = "Promise<RequesterResponse>"
    )]
    pub fn make_request<'env>(
        &self,
        env: &'env Env,
        method: String,
        params: Option<Unknown<'_>>,
        path: String,
        controller: Option<String>,
        options: Option<Object<'_>>,
    ) -> napi::Result<PromiseRaw<'env, Response>> {
        let prepared =
            params::collect(env, params).and_then(|p| Ok((p, request_options(env, options)?)));
        let requester = self.inner.clone();
        let future = async move {
            let (params, options) = prepared?;
            let res = requester
                .make_request(&method, params, &path, controller.as_deref(), options)
                .await?;
            Ok::<_, Failure>(res)
        };
        // The future's outcome comes back to the JS thread, where errors become XNonceErrors.
        env.spawn_future_with_callback(async move { Ok(future.await) }, |env, outcome| {
            outcome.map(Response::from).map_err(|f| to_js(env, f))
        })
    }
}

/// Reads `{ timestamp, nonce, extraParams, json, headers }`.
fn request_options(env: &Env, options: Option<Object<'_>>) -> Outcome<RequestOptions> {
    let Some(o) = options else {
        return Ok(RequestOptions::default());
    };
    let timestamp: Option<params::Millis> = o.get_named_property("timestamp")?;
    let nonce: Option<String> = o.get_named_property("nonce")?;
    let extra: Unknown = o.get_named_property("extraParams")?;
    let headers: Unknown = o.get_named_property("headers")?;
    let json: Unknown = o.get_named_property("json")?;
    let json = match json.get_type()? {
        ValueType::Undefined | ValueType::Null => None,
        _ => Some(env.from_js_value::<serde_json::Value, _>(json)?),
    };
    Ok(RequestOptions {
        timestamp_ms: params::timestamp_ms(timestamp)?,
        nonce,
        extra_params: params::collect(env, Some(extra))?,
        json,
        headers: params::collect(env, Some(headers))?,
    })
}
