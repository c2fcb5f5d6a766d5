//! The upstream's answer body, cut when the upstream goes silent: once a gateway has passed on
//! an answer's head, a body that stops arriving would hold the client (and the connection)
//! for ever. [`IdleBody`] ends it with an error when no frame has come for its limit, from
//! the head on and between frames, as a reverse proxy's read timeout does (nginx
//! `proxy_read_timeout`). The client then sees its answer cut short — a connection closed
//! before the `Content-Length` or the last chunk — never a complete-looking one (except an
//! HTTP/1.0 client of an answer without `Content-Length`: for it a closed connection is the
//! body's end, so a cut cannot be told).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// An error of the body: the upstream's own, or its silence.
pub(crate) type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// A body that fails when `inner` yields no frame for `limit`.
pub(crate) struct IdleBody<B> {
    inner: B,
    limit: Duration,
    quiet_until: Pin<Box<Sleep>>,
    /// Named in the warning when the limit passes.
    upstream: Arc<str>,
}

impl<B> IdleBody<B> {
    /// `inner`, which must yield its first frame within `limit` from now and each next one
    /// within `limit` of the last.
    pub(crate) fn new(inner: B, limit: Duration, upstream: Arc<str>) -> Self {
        IdleBody {
            inner,
            limit,
            quiet_until: Box::pin(tokio::time::sleep(limit)),
            upstream,
        }
    }
}

impl<B> Body for IdleBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BodyError>,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            if frame.is_some() {
                let next = Instant::now() + this.limit;
                this.quiet_until.as_mut().reset(next);
            }
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match this.quiet_until.as_mut().poll(cx) {
            Poll::Ready(()) => {
                tracing::warn!(target: "xnonce", upstream = %this.upstream, timeout_ms = this.limit.as_millis() as u64, "upstream went silent in the middle of its answer; cut it short");
                Poll::Ready(Some(Err("the upstream went silent".into())))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::channel::Channel;
    use http_body_util::BodyExt;

    fn idle(inner: Channel<Bytes, BodyError>) -> IdleBody<Channel<Bytes, BodyError>> {
        IdleBody::new(inner, Duration::from_secs(5), "http://api".into())
    }

    #[tokio::test(start_paused = true)]
    async fn frames_in_time_pass_and_a_silence_past_the_limit_fails() {
        let (mut tx, inner) = Channel::new(4);
        let mut body = idle(inner);
        // Each frame 4 s after the last: 12 s in all, never 5 s of silence; then 6 s of it.
        let sender = tokio::spawn(async move {
            for part in ["a", "b", "c"] {
                tokio::time::sleep(Duration::from_secs(4)).await;
                tx.send_data(Bytes::from(part)).await.unwrap();
            }
            tokio::time::sleep(Duration::from_secs(6)).await;
            tx
        });
        let mut got = Vec::new();
        for _ in 0..3 {
            let frame = body.frame().await.unwrap().unwrap();
            got.push(frame.into_data().unwrap());
        }
        assert_eq!(got, ["a", "b", "c"]);
        let at = Instant::now();
        let err = body.frame().await.unwrap().unwrap_err();
        assert_eq!(err.to_string(), "the upstream went silent");
        assert_eq!(at.elapsed(), Duration::from_secs(5));
        drop(sender.await.unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn the_end_of_the_body_ends_it_and_errors_pass_through() {
        let (mut tx, inner) = Channel::new(4);
        let mut body = idle(inner);
        tx.send_data(Bytes::from("all")).await.unwrap();
        drop(tx);
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), "all");
        assert!(body.frame().await.is_none());

        let (tx, inner) = Channel::new(4);
        let mut body = idle(inner);
        tx.abort("reset by the upstream".into());
        let err = body.frame().await.unwrap().unwrap_err();
        assert_eq!(err.to_string(), "reset by the upstream");
    }
}
