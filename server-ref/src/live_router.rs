//! [`LiveRouter`]: the app the accept loop serves, replaceable while it serves — how a
//! configuration reload (`SIGHUP`, [`crate::server::Reloader`]) reaches every request after
//! it, on new connections and on keep-alive connections opened before it alike (a proxy's
//! pooled connections to the server may never close).

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};

use axum::http;
use axum::response::Response;
use axum::Router;

/// The current app and how many times it was replaced.
pub struct LiveRouter {
    /// Bumped (under the write lock) by every [`LiveRouter::replace`].
    generation: AtomicU64,
    current: RwLock<(u64, Router)>,
}

impl LiveRouter {
    /// Serves `router` until it is replaced.
    pub fn new(router: Router) -> Arc<LiveRouter> {
        Arc::new(LiveRouter {
            generation: AtomicU64::new(0),
            current: RwLock::new((0, router)),
        })
    }

    /// Serves `router` from the next request on, on every connection.
    pub fn replace(&self, router: Router) {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        let generation = current.0 + 1;
        *current = (generation, router);
        self.generation.store(generation, Ordering::Release);
    }

    /// A service for one connection: the current app, checked for a replacement before each
    /// request (an atomic load while there is none; hyper serves each request with a copy of
    /// the connection's service, so a connection opened before a replacement reads the lock
    /// for each of its requests after it, until it closes).
    pub fn service(self: &Arc<Self>) -> LiveService {
        let (generation, router) = self.snapshot();
        LiveService {
            live: self.clone(),
            generation,
            router,
        }
    }

    fn snapshot(&self) -> (u64, Router) {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        (current.0, current.1.clone())
    }
}

/// [`LiveRouter::service`].
#[derive(Clone)]
pub struct LiveService {
    live: Arc<LiveRouter>,
    generation: u64,
    router: Router,
}

impl<B> tower::Service<http::Request<B>> for LiveService
where
    Router: tower::Service<http::Request<B>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = <Router as tower::Service<http::Request<B>>>::Future;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // A router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if self.live.generation.load(Ordering::Acquire) != self.generation {
            (self.generation, self.router) = self.live.snapshot();
        }
        tower::Service::call(&mut self.router, req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::extract::Request;
    use axum::routing::get;
    use tower::{Service, ServiceExt};

    async fn body_of(service: &mut LiveService) -> String {
        let req: Request = Request::get("/").body(Body::empty()).unwrap();
        let res = ServiceExt::<Request>::ready(service)
            .await
            .unwrap()
            .call(req)
            .await
            .unwrap();
        let bytes = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// A connection's service made before a replacement serves the new app from its next
    /// request, and so does a copy of it (hyper's service clones it per request).
    #[tokio::test]
    async fn a_replacement_reaches_services_made_before_it() {
        let live = LiveRouter::new(Router::new().route("/", get(|| async { "first" })));
        let mut early = live.service();
        let mut copy = early.clone();
        assert_eq!(body_of(&mut early).await, "first");
        live.replace(Router::new().route("/", get(|| async { "second" })));
        assert_eq!(body_of(&mut early).await, "second");
        assert_eq!(body_of(&mut copy).await, "second");
        assert_eq!(body_of(&mut live.service()).await, "second");
        live.replace(Router::new().route("/", get(|| async { "third" })));
        assert_eq!(body_of(&mut early).await, "third");
    }
}
