//! The app `xnonce-server` serves: the health route, the verification layer built from a
//! config and a registry, and behind it the JSON echo or em-secure-api's demo handlers.

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use xnonce_core::{RouteMatch, Verified};

use crate::upstream::Upstream;
use crate::{demo, AsyncReplayStore, Config, RateLimitLayer, Registry, XNonceLayer};

/// The unverified health route (the throughput benchmark's baseline).
pub const HEALTH_PATH: &str = "/_xnonce/health";

/// The reference handler behind the layer: a JSON echo of what was verified,
/// `{"client", "scheme", "controller", "action", "method", "params": {k: v}}`
/// (a repeated v2 param keeps its last value).
pub async fn echo(
    Extension(verified): Extension<Verified>,
    route: Option<Extension<RouteMatch>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> Response {
    let (controller, action) = match route {
        Some(Extension(r)) => (r.controller.to_string(), r.action.to_string()),
        None => xnonce_core::routes::split_path(uri.path()),
    };
    let mut params = serde_json::Map::new();
    for (k, v) in &verified.params {
        params.insert(k.clone(), v.clone().into());
    }
    let doc = serde_json::json!({
        "client": verified.client,
        "scheme": verified.scheme.as_str(),
        "controller": controller,
        "action": action,
        "method": method.as_str().to_ascii_lowercase(),
        "params": params,
    });
    let mut res = (StatusCode::OK, doc.to_string()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// The reference app: [`HEALTH_PATH`] unverified, everything else through `layer` to
/// [`echo`] (with a route table in the layer, only configured routes get that far).
///
/// ```
/// use std::collections::HashMap;
/// use axum::{body::Body, http::Request};
/// use tower::ServiceExt; // oneshot: a request through the app without a socket
/// use xnonce_core::{sign, Scheme, Secret, SignInput};
/// use xnonce_server::{app, XNonceLayer, HEALTH_PATH};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
/// let router = app(XNonceLayer::new(HashMap::from([("svc".to_string(), secret.clone())])));
/// let health = Request::get(HEALTH_PATH).body(Body::empty())?;
/// assert_eq!(router.clone().oneshot(health).await?.status(), 200);
///
/// let input = SignInput::new(Scheme::V2, "GET", "/reports/daily", "svc").host("api.test");
/// let x_nonce = sign(&input.param("day", "mon"), &secret)?.x_nonce;
/// let req = Request::get("/reports/daily?day=mon")
///     .header("host", "api.test")
///     .header("x-nonce", x_nonce)
///     .body(Body::empty())?;
/// let res = router.oneshot(req).await?;
/// assert_eq!(res.status(), 200);
/// let echo: serde_json::Value = serde_json::from_slice(&axum::body::to_bytes(res.into_body(), 1 << 16).await?)?;
/// assert_eq!(echo["client"], "svc");
/// assert_eq!((&echo["controller"], &echo["action"], &echo["params"]["day"]), (&"reports".into(), &"daily".into(), &"mon".into()));
/// # Ok(()) }
/// ```
pub fn app(layer: XNonceLayer) -> Router {
    app_with_rate_limit(layer, None)
}

/// [`app`] with an optional per-client [`RateLimitLayer`] inside the verification layer (so
/// only verified requests reach a bucket).
pub fn app_with_rate_limit(layer: XNonceLayer, rate_limit: Option<RateLimitLayer>) -> Router {
    verified_app(Router::new().fallback(echo), layer, rate_limit, false)
}

/// The `--demo` app: [`HEALTH_PATH`] unverified, everything else through `layer` (built with
/// [`demo::routes`]) and the optional rate limit to [`demo::handle`], em-secure-api's test
/// implementation.
pub fn demo_app(layer: XNonceLayer, rate_limit: Option<RateLimitLayer>) -> Router {
    verified_app(
        Router::new().fallback(demo::handle),
        layer,
        rate_limit,
        false,
    )
}

/// The gateway app (`[upstream]`): [`HEALTH_PATH`] unverified, everything else through
/// `layer` and the optional rate limit, then forwarded to `upstream` ([`crate::upstream`]).
pub fn gateway_app(
    upstream: Upstream,
    layer: XNonceLayer,
    rate_limit: Option<RateLimitLayer>,
) -> Router {
    verified_app(gateway_handler(upstream), layer, rate_limit, false)
}

/// The gateway's handler: forward to `upstream`.
fn gateway_handler(upstream: Upstream) -> Router {
    let forward = move |req: axum::extract::Request| {
        let upstream = upstream.clone();
        async move { upstream.forward(req).await }
    };
    Router::new().fallback(forward)
}

/// [`HEALTH_PATH`] unverified; everything else through `layer`, then the rate limit (so only
/// verified requests reach a bucket), to `handler`. With `bench_mirror`, paths under
/// [`demo::BENCH_MIRROR_PREFIX`] go to [`demo::mirror`] instead, without the layer.
fn verified_app(
    handler: Router,
    layer: XNonceLayer,
    rate_limit: Option<RateLimitLayer>,
    bench_mirror: bool,
) -> Router {
    let handler = match rate_limit {
        Some(limit) => handler.layer(limit),
        None => handler,
    };
    if bench_mirror {
        with_health(BenchMirror {
            mirror: Router::new().fallback(demo::mirror),
            verified: handler.layer(layer),
        })
    } else {
        with_health(handler.layer(layer))
    }
}

/// `GET` (and `HEAD`) [`HEALTH_PATH`] unverified, every other request to `rest`: another
/// method on the health path too, which is verified as any request (a route of axum's
/// answered it `405` unverified, refusing even a signed request).
fn with_health<S>(rest: S) -> Router
where
    S: tower::Service<
            axum::extract::Request,
            Response = Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let health = get(|| async { "ok" }).fallback_service(rest.clone());
    Router::new()
        .route(HEALTH_PATH, health)
        .fallback_service(rest)
}

/// `--bench-mirror`'s fallback: paths under [`demo::BENCH_MIRROR_PREFIX`] to `mirror` (a router
/// whose fallback is [`demo::mirror`]), the rest to `verified` (the router of the handler
/// behind the layer). A mirrored and a verified request thus take the same way through the
/// routers and differ by the layer alone; a `nest` at the prefix, as before, made the mirrored
/// request pay for work the verified one does not do (the URI rebuilt to strip the prefix,
/// the path captured for the nested route, and the mirror's extractors copying the headers).
#[derive(Clone)]
struct BenchMirror {
    mirror: Router,
    verified: Router,
}

impl tower::Service<axum::extract::Request> for BenchMirror {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = <Router as tower::Service<axum::extract::Request>>::Future;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        // Both are routers, which are always ready.
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: axum::extract::Request) -> Self::Future {
        if demo::is_mirrored(req.uri().path()) {
            self.mirror.call(req)
        } else {
            self.verified.call(req)
        }
    }
}

/// The app a config asks for: [`demo_app`] when `config.demo`, [`gateway_app`] with an
/// `[upstream]`, else [`app`]; with
/// `config.bench_mirror`, also [`demo::BENCH_MIRROR_PREFIX`] serving the demo handlers
/// without the layer (benchmarks only).
///
/// What [`Server::bind`](crate::Server::bind) serves, for an app of your own to listen with:
///
/// ```
/// use std::sync::Arc;
/// use xnonce_server::{app_for, layer_for, Config, MemoryStore, Registry};
/// let base = std::env::temp_dir().join(format!("xnonce-doc-app-for-{}", std::process::id()));
/// let registry = Registry::open_with_key_file(base.join("data"), Some(base.join("keys").join("registry.key")));
/// let config = Config::demo(); // em-secure-api's demo routes and handlers
/// let router: axum::Router = app_for(&config, layer_for(&config, Arc::new(registry), MemoryStore::new()));
/// // serve it: xnonce_server::connections::serve(listener, router, config.connections, shutdown)
/// ```
pub fn app_for(config: &Config, layer: XNonceLayer) -> Router {
    let rate_limit = config.rate_limit.clone().map(RateLimitLayer::new);
    app_limited_by(config, layer, rate_limit)
}

/// [`app_for`] with the rate limit given (the server's, whose buckets outlive a reload)
/// rather than made from `config.rate_limit`.
pub(crate) fn app_limited_by(
    config: &Config,
    layer: XNonceLayer,
    rate_limit: Option<RateLimitLayer>,
) -> Router {
    let handler = if config.demo {
        Router::new().fallback(demo::handle)
    } else if let Some(upstream) = &config.upstream {
        gateway_handler(upstream.clone())
    } else {
        Router::new().fallback(echo)
    };
    verified_app(handler, layer, rate_limit, config.bench_mirror)
}

/// Builds the reference server's layer from a config, a registry and a replay store (example:
/// [`app_for`]).
pub fn layer_for(
    config: &Config,
    registry: Arc<Registry>,
    store: impl AsyncReplayStore,
) -> XNonceLayer {
    let mut layer = XNonceLayer::new(SharedRegistry(registry))
        .verifier(config.verifier.clone())
        .limits(config.limits)
        .store(store);
    if let Some(routes) = &config.routes {
        layer = layer.routes(routes.clone());
    }
    layer
}

/// An `Arc<Registry>` as a secret source.
#[derive(Debug, Clone)]
pub struct SharedRegistry(pub Arc<Registry>);

impl xnonce_core::SecretSource for SharedRegistry {
    fn secrets(&self, client: &str) -> Vec<xnonce_core::Secret> {
        self.0.secrets(client)
    }

    fn with_secrets(&self, client: &str, f: &mut dyn FnMut(&[xnonce_core::Secret])) {
        self.0.with_secrets(client, f)
    }

    fn refresh(&self) -> bool {
        self.0.refresh()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xnonce_core::SecretSource;

    /// Only `GET` (and `HEAD`) of the health path is unverified: another method there is
    /// verified as any request (401 without a credential, the echo once signed), not
    /// answered `405` unverified.
    #[tokio::test]
    async fn other_methods_on_the_health_path_are_verified() {
        use axum::body::Body;
        use axum::http::Request;
        use tower::ServiceExt;
        use xnonce_core::{sign, Scheme, SignInput};
        let secret = crate::layer::tests::svc_secret();
        let router = app(XNonceLayer::new(crate::layer::tests::svc_clients(&secret)));
        let send = |req: Request<Body>| {
            let router = router.clone();
            async move {
                let res = router.oneshot(req).await.unwrap();
                let status = res.status().as_u16();
                let body = axum::body::to_bytes(res.into_body(), 1 << 16)
                    .await
                    .unwrap();
                (status, String::from_utf8(body.to_vec()).unwrap())
            }
        };
        for method in ["GET", "HEAD"] {
            let req = Request::builder().method(method).uri(HEALTH_PATH);
            assert_eq!(
                send(req.body(Body::empty()).unwrap()).await.0,
                200,
                "{method}"
            );
        }
        let unsigned = Request::post(HEALTH_PATH).body(Body::empty()).unwrap();
        assert_eq!(
            send(unsigned).await,
            (401, "Method or nonce not provided".to_string())
        );
        let input = SignInput::new(Scheme::V2, "POST", HEALTH_PATH, "svc").host("h.test");
        let signed = Request::post(HEALTH_PATH)
            .header("host", "h.test")
            .header("x-nonce", sign(&input, &secret).unwrap().x_nonce)
            .body(Body::empty())
            .unwrap();
        let (status, body) = send(signed).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains(r#""method":"post""#), "{body}");
    }

    /// The registry as the verifier sees it: a client's live secrets, by both of the
    /// source's methods.
    #[test]
    fn shared_registry_lends_the_registrys_secrets() {
        let base = std::env::temp_dir().join(format!("xnonce-app-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let key_file = Some(base.join("registry.key"));
        let registry = Arc::new(Registry::open_with_key_file(base.join("data"), key_file));
        let secret = registry.add("svc").unwrap();
        let source = SharedRegistry(registry);
        assert_eq!(source.secrets("svc"), std::slice::from_ref(&secret));
        assert!(source.secrets("other").is_empty());
        let mut lent = Vec::new();
        source.with_secrets("svc", &mut |s| lent = s.to_vec());
        assert_eq!(lent, [secret]);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
