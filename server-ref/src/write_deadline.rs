//! A deadline for writes that make no progress: a connection whose peer stops reading.
//!
//! hyper's head deadline ([`crate::ConnectionLimits::header_timeout`]) runs only while it
//! waits for a request. A client that pipelines requests and never reads their answers fills
//! the socket's buffers; hyper then waits to write and stops reading, and no timer runs: the
//! connection, and its slot of [`crate::ConnectionLimits::max_connections`], is held for as
//! long as the client likes. [`WriteDeadline`] fails a write (or flush) that has waited longer
//! than its deadline for the kernel to take any byte, which ends the connection. (The kernel
//! takes more once the peer has read about half of what the send buffer holds: a peer that
//! reads, but slower than that per deadline, is cut too.)

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

pin_project! {
    /// `io` whose writes fail with [`io::ErrorKind::TimedOut`] once one has been pending for
    /// `timeout` without the peer taking a byte. Reads are untouched. The timer is armed only
    /// when a write has to wait.
    pub(crate) struct WriteDeadline<T> {
        #[pin]
        io: T,
        timeout: Duration,
        // Armed (`waiting`) at the first write that has to wait, disarmed by any progress.
        stalled: Option<Pin<Box<Sleep>>>,
        waiting: bool,
    }
}

impl<T> WriteDeadline<T> {
    pub(crate) fn new(io: T, timeout: Duration) -> Self {
        WriteDeadline {
            io,
            timeout,
            stalled: None,
            waiting: false,
        }
    }
}

/// What a write that had to wait becomes: still waiting, or failed once the deadline passed.
fn waited<R>(
    cx: &mut Context<'_>,
    stalled: &mut Option<Pin<Box<Sleep>>>,
    waiting: &mut bool,
    timeout: Duration,
) -> Poll<io::Result<R>> {
    let deadline = Instant::now() + timeout;
    let sleep = stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
    if !*waiting {
        sleep.as_mut().reset(deadline);
        *waiting = true;
    }
    match sleep.as_mut().poll(cx) {
        Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the peer took no byte for {} s", timeout.as_secs_f64()),
        ))),
        Poll::Pending => Poll::Pending,
    }
}

impl<T: AsyncWrite> WriteDeadline<T> {
    /// `poll` on the inner writer, under the deadline.
    fn watched<R>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        poll: impl FnOnce(Pin<&mut T>, &mut Context<'_>) -> Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        let this = self.project();
        match poll(this.io, cx) {
            Poll::Pending => waited(cx, this.stalled, this.waiting, *this.timeout),
            done => {
                *this.waiting = false;
                done
            }
        }
    }
}

impl<T: AsyncRead> AsyncRead for WriteDeadline<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.project().io.poll_read(cx, buf)
    }
}

impl<T: AsyncWrite> AsyncWrite for WriteDeadline<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.watched(cx, |io, cx| io.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.watched(cx, |io, cx| io.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.watched(cx, |io, cx| io.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.watched(cx, |io, cx| io.poll_shutdown(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A peer that reads nothing: the write that waits fails after the deadline, not before.
    #[tokio::test(start_paused = true)]
    async fn a_write_the_peer_never_takes_fails_after_the_deadline() {
        let (near, _far) = tokio::io::duplex(16);
        let mut io = WriteDeadline::new(near, Duration::from_secs(5));
        io.write_all(&[0; 16]).await.unwrap(); // fits the buffer
        let start = Instant::now();
        let e = io.write_all(b"more").await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(start.elapsed(), Duration::from_secs(5));
    }

    /// A slow reader that keeps the writes moving is never cut, however long the whole write
    /// takes; the deadline counts from the last progress.
    #[tokio::test(start_paused = true)]
    async fn a_slow_reader_that_keeps_reading_is_served() {
        let (near, mut far) = tokio::io::duplex(4);
        let mut io = WriteDeadline::new(near, Duration::from_secs(5));
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = [0; 4];
            loop {
                tokio::time::sleep(Duration::from_secs(4)).await;
                match far.read(&mut buf).await.unwrap() {
                    0 => return got,
                    n => got.extend_from_slice(&buf[..n]),
                }
            }
        });
        let data: Vec<u8> = (0..40).collect();
        io.write_all(&data).await.unwrap(); // ~40 s in all, 4 s between reads
        io.shutdown().await.unwrap();
        drop(io);
        assert_eq!(reader.await.unwrap(), data);
    }

    /// Reads pass through untouched, however long they wait.
    #[tokio::test(start_paused = true)]
    async fn reads_have_no_deadline() {
        let (near, mut far) = tokio::io::duplex(16);
        let mut io = WriteDeadline::new(near, Duration::from_secs(1));
        let writer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(60)).await;
            far.write_all(b"late").await.unwrap();
        });
        let mut buf = [0; 4];
        io.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"late");
        writer.await.unwrap();
    }
}
