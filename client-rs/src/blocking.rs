//! A blocking [`Requester`] for code that is not async (scripts, the `xnonce` command, the
//! Python binding's `Requester`, the uniffi binding behind Kotlin and Swift). It owns a tokio
//! runtime with one worker thread, which keeps the connection pool's connections driven
//! between calls: a connection the server closed while idle is seen closed and dropped,
//! not used for the next request (a runtime that only ran inside `make_request` sent the
//! next request on the dead socket, failing it).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use xnonce_core::{Error, ErrorCode, Scheme, Secret};

use crate::{RequestOptions, Response};

/// Owns the runtime; shuts it down without blocking when the last clone goes, so dropping
/// a blocking requester inside async code does not panic.
struct Runtime(Option<tokio::runtime::Runtime>);

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Configures a blocking [`Requester`]; made by [`Requester::builder`].
#[must_use]
#[derive(Debug)]
pub struct RequesterBuilder(crate::RequesterBuilder);

/// The same settings, for a blocking requester (bindings that make both kinds configure one
/// builder).
impl From<crate::RequesterBuilder> for RequesterBuilder {
    fn from(builder: crate::RequesterBuilder) -> Self {
        RequesterBuilder(builder)
    }
}

impl RequesterBuilder {
    /// The signing scheme (default [`Scheme::V2`]).
    pub fn scheme(self, scheme: Scheme) -> Self {
        RequesterBuilder(self.0.scheme(scheme))
    }

    /// The time limit of one HTTP exchange (default [`crate::DEFAULT_TIMEOUT`]).
    pub fn timeout(self, timeout: Duration) -> Self {
        RequesterBuilder(self.0.timeout(timeout))
    }

    /// Whether to correct the clock from the server's authenticated time hint (default `true`).
    pub fn correct_clock(self, on: bool) -> Self {
        RequesterBuilder(self.0.correct_clock(on))
    }

    /// The clock offset to start from (server − local, ms; default 0); see
    /// [`crate::RequesterBuilder::clock_offset_ms`].
    pub fn clock_offset_ms(self, offset_ms: i64) -> Self {
        RequesterBuilder(self.0.clock_offset_ms(offset_ms))
    }

    /// Also trusts the certificate authorities in `pem`; see
    /// [`crate::RequesterBuilder::root_certificates_pem`].
    pub fn root_certificates_pem(self, pem: impl Into<Vec<u8>>) -> Self {
        RequesterBuilder(self.0.root_certificates_pem(pem))
    }

    /// The largest answer body to read (default [`crate::DEFAULT_MAX_RESPONSE_BYTES`]); see
    /// [`crate::RequesterBuilder::max_response_bytes`].
    pub fn max_response_bytes(self, limit: u64) -> Self {
        RequesterBuilder(self.0.max_response_bytes(limit))
    }

    /// Checks the settings, starts the runtime and builds the requester.
    pub fn build(self) -> Result<Requester, Error> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("xnonce-requester")
            .enable_all()
            .build()
            .map_err(|e| {
                Error::new(
                    ErrorCode::ConnectionFailed,
                    format!("cannot start a runtime: {e}"),
                )
            })?;
        // Owned by `Runtime` from here on: when the settings are refused, it is shut down
        // without blocking too (dropped as it is, it would panic inside async code).
        let rt = Runtime(Some(rt));
        let inner = {
            let _guard = rt.0.as_ref().map(tokio::runtime::Runtime::enter);
            self.0.build()?
        };
        let for_async = inner.with_own_connections()?;
        Ok(Requester {
            inner,
            for_async,
            rt: Arc::new(rt),
        })
    }
}

/// The blocking twin of [`crate::Requester`]: same builder, same `make_request`, but the
/// call blocks the calling thread. Clone + Send + Sync; clones share the runtime, the
/// connection pool and the learned clock offset ([`as_async`](Requester::as_async) shares
/// the offset, not the pool).
///
/// ```no_run
/// use xnonce::{blocking::Requester, RequestOptions, Scheme, Secret};
/// let secret = Secret::new(std::fs::read_to_string("client.secret").unwrap().trim())?;
/// let api = Requester::builder("http://127.0.0.1:8080", "my_client", secret)
///     .scheme(Scheme::V1)
///     .build()?;
/// let res = api.make_request("GET", vec![], "/admin/status", None, RequestOptions::default())?;
/// assert_eq!(res.code, 200);
/// # Ok::<(), xnonce::Error>(())
/// ```
///
/// Calling it from inside an async runtime works too (the request then runs on a helper
/// thread), but async code should use [`crate::Requester`] directly.
#[derive(Clone)]
pub struct Requester {
    /// Runs on `rt`: its pooled connections are driven by `rt`.
    inner: crate::Requester,
    /// [`Requester::as_async`]'s: connections of its own, driven by the caller's runtime.
    for_async: crate::Requester,
    rt: Arc<Runtime>,
}

impl fmt::Debug for Requester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("blocking::Requester")
            .field(&self.inner)
            .finish()
    }
}

impl Requester {
    /// Starts configuring a blocking requester (see [`crate::Requester::builder`]).
    pub fn builder(
        server: impl Into<String>,
        client: impl Into<String>,
        secret: Secret,
    ) -> RequesterBuilder {
        RequesterBuilder(crate::Requester::builder(server, client, secret))
    }

    /// The scheme this requester signs with.
    pub fn scheme(&self) -> Scheme {
        self.inner.scheme()
    }

    /// The clock offset learned from the server (server − local, ms).
    pub fn clock_offset_ms(&self) -> i64 {
        self.inner.clock_offset_ms()
    }

    /// True once a stale answer's authentic hint has set the clock offset; see
    /// [`crate::Requester::clock_offset_learned`].
    pub fn clock_offset_learned(&self) -> bool {
        self.inner.clock_offset_learned()
    }

    /// The async twin of this requester, to await in any tokio runtime: same settings, and
    /// the learned clock offset shared both ways, but a connection pool of its own. A pooled
    /// connection is driven by the runtime that opened it, so connections opened by awaiting
    /// in the caller's runtime must not be reused by this requester's blocking calls, which
    /// may be made from that very runtime's thread (it would wait for a runtime it blocks).
    pub fn as_async(&self) -> &crate::Requester {
        &self.for_async
    }

    /// Signs and sends one request, blocking; see [`crate::Requester::make_request`].
    pub fn make_request(
        &self,
        method: &str,
        params: Vec<(String, String)>,
        path: &str,
        controller: Option<&str>,
        options: RequestOptions,
    ) -> Result<Response, Error> {
        let rt =
            self.rt.0.as_ref().ok_or_else(|| {
                Error::new(ErrorCode::ConnectionFailed, "the runtime has shut down")
            })?;
        let fut = self
            .inner
            .make_request(method, params, path, controller, options);
        if tokio::runtime::Handle::try_current().is_ok() {
            // block_on would panic inside a runtime: run it on a plain thread instead.
            std::thread::scope(|s| {
                s.spawn(|| rt.block_on(fut)).join().unwrap_or_else(|_| {
                    Err(Error::new(
                        ErrorCode::ConnectionFailed,
                        "the request thread panicked",
                    ))
                })
            })
        } else {
            rt.block_on(fut)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Building inside async code fails with the settings' error, as it does outside: the
    /// runtime started for it is shut down without blocking, not dropped (tokio panics on
    /// dropping a runtime in a context where blocking is not allowed).
    #[test]
    fn a_build_that_fails_inside_async_code_is_an_error_not_a_panic() {
        let secret =
            Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")
                .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let e = rt.block_on(async move {
            Requester::builder("ftp://x", "svc", secret)
                .build()
                .unwrap_err()
        });
        assert_eq!(e.code(), ErrorCode::InvalidUrl, "{e}");
    }
}
