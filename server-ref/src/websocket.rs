//! The gateway's WebSocket tunnels: once the upstream has answered a verified handshake
//! `101`, the client's and the upstream's connections are joined, byte for byte.
//!
//! When one side closes, the other is told (its write side shut down) and has
//! [`HALF_CLOSED_GRACE`] to close too. When the server shuts down, each direction stops at
//! the end of the frame in flight (RFC 6455 §5.2; the tunnel follows the frame headers, it
//! never reads or changes a payload) and sends its receiver a Close frame with status 1001
//! "going away" (§7.4.1) — unmasked to the client, masked to the upstream, as each expects
//! from its peer — so that both ends see a clean close they can reconnect after instead of a
//! dropped connection (1006); a side whose peer has already sent its own Close gets none
//! (nothing may follow a Close, §5.5.1). A frame that has not ended within
//! [`SHUTDOWN_GRACE`] (a peer that stopped sending, or one not reading) is cut without a
//! Close frame.

use std::future::Future;
use std::time::Duration;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::connections::OpenConnection;

/// How long a tunnel stays open once one side has closed its direction: time for the other
/// side to finish its close handshake, not to hold the connection (and its
/// `max_connections` slot) for as long as it likes.
pub const HALF_CLOSED_GRACE: Duration = Duration::from_secs(5);

/// How long a tunnel has, once the server begins to shut down, to end the frame in flight,
/// send its Close frames and read its peers' answers to them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// A Close frame with status 1001, as a server sends it (unmasked).
const GOING_AWAY: [u8; 4] = [0x88, 0x02, 0x03, 0xe9];

/// Carries bytes both ways between the client's and the upstream's switched connections
/// until either side closes, or the server shuts down (see the module docs). While it runs,
/// the client's connection counts toward the server's open connections.
pub(crate) async fn tunnel(
    client: OnUpgrade,
    upstream: OnUpgrade,
    connection: Option<OpenConnection>,
) {
    let (client, upstream) = match tokio::join!(client, upstream) {
        (Ok(client), Ok(upstream)) => (client, upstream),
        (Err(e), _) | (_, Err(e)) => {
            tracing::debug!(error = %e, "websocket upgrade failed");
            return;
        }
    };
    let closing = || {
        let connection = connection.clone();
        async move {
            match connection {
                Some(mut connection) => connection.closing().await,
                None => std::future::pending().await,
            }
        }
    };
    let (mut client_in, mut client_out) = tokio::io::split(TokioIo::new(client));
    let (mut upstream_in, mut upstream_out) = tokio::io::split(TokioIo::new(upstream));
    let to_upstream = pipe(&mut client_in, &mut upstream_out, closing(), To::Upstream);
    let to_client = pipe(&mut upstream_in, &mut client_out, closing(), To::Client);
    tokio::pin!(to_upstream, to_client);
    tokio::select! {
        () = &mut to_upstream => {
            let _ = tokio::time::timeout(HALF_CLOSED_GRACE, &mut to_client).await;
        }
        () = &mut to_client => {
            let _ = tokio::time::timeout(HALF_CLOSED_GRACE, &mut to_upstream).await;
        }
    }
    drop(connection);
}

/// Where a pipe writes, which says how its Close frame is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum To {
    /// Unmasked, as from a server.
    Client,
    /// Masked, as from a client.
    Upstream,
}

impl To {
    /// The Close frame "going away" for this side.
    fn going_away(self) -> Vec<u8> {
        match self {
            To::Client => GOING_AWAY.to_vec(),
            To::Upstream => masked(GOING_AWAY),
        }
    }
}

/// `frame` as a client sends it: masked with a random key (RFC 6455 §5.3).
fn masked(frame: [u8; 4]) -> Vec<u8> {
    let mut key = [0u8; 4];
    // The key only keeps intermediaries from reading the frame as something else; should
    // the OS generator fail, a zero key is still a valid frame.
    let _ = getrandom::getrandom(&mut key);
    let mut out = vec![frame[0], frame[1] | 0x80];
    out.extend_from_slice(&key);
    out.extend(frame[2..].iter().zip(key).map(|(b, k)| b ^ k));
    out
}

/// Copies `from` to `to` until `from` ends, then shuts `to`'s write side down (the other end
/// reads the end of the stream). Once `closing` completes: ends the frame in flight, writes
/// a Close "going away" to `to` as `side` expects it (unless `from` has sent a Close of its
/// own: nothing may follow one), shuts `to`'s write side down, and reads what `from` still
/// sends (its answering Close) until it ends, all within [`SHUTDOWN_GRACE`].
async fn pipe<R, W>(from: &mut R, to: &mut W, closing: impl Future<Output = ()>, side: To)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut frames = Frames::default();
    let mut buf = vec![0u8; 16 << 10];
    tokio::pin!(closing);
    let deadline = loop {
        let n = tokio::select! {
            biased;
            () = &mut closing => break Instant::now() + SHUTDOWN_GRACE,
            read = from.read(&mut buf) => match read {
                Ok(0) => return end(to).await,
                Ok(n) => n,
                Err(e) => {
                    tracing::debug!(error = %e, "websocket tunnel closed with an error");
                    return end(to).await;
                }
            },
        };
        let write = to.write_all(&buf[..n]);
        tokio::pin!(write);
        let (written, shutting_down) = tokio::select! {
            biased;
            written = &mut write => (written, None),
            // Closing while the receiver is slow to read: the write may still end in time.
            () = &mut closing => {
                let deadline = Instant::now() + SHUTDOWN_GRACE;
                match tokio::time::timeout_at(deadline, write).await {
                    Ok(written) => (written, Some(deadline)),
                    Err(_) => return,
                }
            }
        };
        if written.is_err() {
            return;
        }
        frames.pass(&buf[..n], false);
        if let Some(deadline) = shutting_down {
            break deadline;
        }
    };
    let goodbye = async {
        while !frames.at_boundary() {
            let n = from.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            let n = frames.pass(&buf[..n], true);
            to.write_all(&buf[..n]).await?;
        }
        if !frames.closed {
            to.write_all(&side.going_away()).await?;
        }
        to.shutdown().await?;
        // The peer's answering Close (and anything it sent before reading ours).
        while from.read(&mut buf).await? != 0 {}
        Ok::<(), std::io::Error>(())
    };
    let _ = tokio::time::timeout_at(deadline, goodbye).await;
}

/// Shuts `to`'s write side down.
async fn end<W: AsyncWrite + Unpin>(to: &mut W) {
    let _ = to.shutdown().await;
}

/// Where a stream of WebSocket frames stands: in a frame's header, in its payload, or
/// between two frames.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Frames {
    /// The header read so far (at most 14 bytes: 2, an extended length of 8, a mask of 4).
    header: [u8; 14],
    /// How many of `header`'s bytes are read: 0 between frames and in a payload.
    got: usize,
    /// What is left of the current frame's payload.
    payload_left: u64,
    /// A Close frame (opcode 8) has begun: the sender says nothing after it.
    closed: bool,
}

impl Frames {
    /// Between two frames.
    fn at_boundary(&self) -> bool {
        self.got == 0 && self.payload_left == 0
    }

    /// Follows `bytes`, the stream's next bytes; with `stop`, only up to the end of the
    /// frame in flight. Returns how many bytes it followed.
    fn pass(&mut self, bytes: &[u8], stop: bool) -> usize {
        let mut i = 0;
        while i < bytes.len() && !(stop && self.at_boundary()) {
            if self.payload_left > 0 {
                let n = self.payload_left.min((bytes.len() - i) as u64);
                self.payload_left -= n;
                i += n as usize;
                continue;
            }
            self.header[self.got] = bytes[i];
            self.got += 1;
            i += 1;
            if self.header_len() == Some(self.got) {
                self.payload_left = self.payload_len();
                self.closed |= self.header[0] & 0x0f == 0x8;
                self.got = 0;
            }
        }
        i
    }

    /// The header's length once its second byte is read: 2, plus 2 or 8 for an extended
    /// payload length (7-bit length 126 or 127), plus 4 for a mask.
    fn header_len(&self) -> Option<usize> {
        let second = *self.header[..self.got].get(1)?;
        let extended = match second & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask = if second & 0x80 != 0 { 4 } else { 0 };
        Some(2 + extended + mask)
    }

    /// The payload length of the header read in full.
    fn payload_len(&self) -> u64 {
        let h = &self.header;
        match h[1] & 0x7f {
            126 => u64::from(u16::from_be_bytes([h[2], h[3]])),
            127 => u64::from_be_bytes([h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9]]),
            n => u64::from(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked text frame of `payload` (mask `1 2 3 4`), as a client sends it.
    fn client_text(payload: &[u8]) -> Vec<u8> {
        let key = [1u8, 2, 3, 4];
        let mut frame = vec![0x81];
        match payload.len() {
            n @ 0..=125 => frame.push(0x80 | n as u8),
            n @ 126..=0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&key);
        frame.extend(payload.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
        frame
    }

    /// Frame boundaries are found through every header form (7-bit, 16-bit and 64-bit
    /// lengths, masked or not), however the stream is split; `stop` follows the frame in
    /// flight to its end and no further.
    #[test]
    fn frames_are_followed_through_every_header_form_and_any_split() {
        let frames = [
            client_text(b"hi"),
            client_text(&[7; 300]),
            client_text(&[9; 70_000]),
            vec![0x82, 0x00], // an empty unmasked binary frame
        ];
        let stream = frames.concat();
        let ends: Vec<usize> = frames
            .iter()
            .scan(0, |at, f| {
                *at += f.len();
                Some(*at)
            })
            .collect();
        // Byte by byte: between two frames exactly at each frame's end.
        let mut cursor = Frames::default();
        let mut boundaries = vec![];
        for (i, byte) in stream.iter().enumerate() {
            assert_eq!(cursor.pass(&[*byte], false), 1);
            if cursor.at_boundary() {
                boundaries.push(i + 1);
            }
        }
        assert_eq!(boundaries, ends);
        // In chunks: the same state at each chunk's end as byte by byte.
        for chunk in [2, 3, 5, 13, 4096] {
            let (mut whole, mut bytewise) = (Frames::default(), Frames::default());
            for piece in stream.chunks(chunk) {
                whole.pass(piece, false);
                piece.iter().for_each(|b| {
                    bytewise.pass(&[*b], false);
                });
                assert_eq!(whole, bytewise, "chunks of {chunk}");
            }
        }
        // From inside each frame, `stop` takes the stream to that frame's end.
        for (start, end) in [
            (1, ends[0]),
            (ends[0] + 3, ends[1]),
            (ends[1] + 20, ends[2]),
        ] {
            let mut cursor = Frames::default();
            cursor.pass(&stream[..start], false);
            assert_eq!(cursor.pass(&stream[start..], true), end - start);
            assert!(cursor.at_boundary());
            assert_eq!(cursor.pass(&stream[end..], true), 0, "nothing in flight");
        }
    }

    /// Extended lengths are read whole: 16 bits, and 64 bits past 2^32.
    #[test]
    fn extended_lengths_are_read_in_full() {
        for (header, len) in [
            (vec![0x82, 126, 0xff, 0xfe], 0xfffe),
            (vec![0x82, 127, 0, 0, 0, 1, 0, 0, 0, 5], (1 << 32) + 5),
            (
                vec![0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 5, 9, 9, 9, 9],
                (1 << 32) + 5,
            ),
        ] {
            let mut frames = Frames::default();
            assert_eq!(frames.pass(&header, false), header.len());
            assert_eq!(frames.payload_left, len, "{header:?}");
        }
    }

    #[test]
    fn the_close_to_the_upstream_is_masked() {
        assert_eq!(To::Client.going_away(), GOING_AWAY);
        let frame = To::Upstream.going_away();
        assert_eq!(frame[..2], [0x88, 0x82]);
        let key = &frame[2..6];
        assert_eq!([frame[6] ^ key[0], frame[7] ^ key[1]], [0x03, 0xe9]);
    }

    /// A `pipe` between two in-memory streams, with `capacity` bytes of buffer on its way
    /// out: what its sender writes, what its receiver reads, and its shutdown's trigger.
    struct Piped {
        /// `None` once hung up (the end of the pipe's input).
        sender: Option<tokio::io::DuplexStream>,
        receiver: tokio::io::DuplexStream,
        shut_down: Option<tokio::sync::oneshot::Sender<()>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Piped {
        fn new(capacity: usize) -> Piped {
            let (sender, mut from) = tokio::io::duplex(1 << 16);
            let (mut to, receiver) = tokio::io::duplex(capacity);
            let (shut_down, closing) = tokio::sync::oneshot::channel::<()>();
            let closing = async move {
                let _ = closing.await;
            };
            let task = tokio::spawn(async move {
                pipe(&mut from, &mut to, closing, To::Client).await;
            });
            Piped {
                sender: Some(sender),
                receiver,
                shut_down: Some(shut_down),
                task,
            }
        }

        /// Begins the shutdown, once what was sent so far has been taken in.
        async fn shut_down(&mut self) {
            tokio::task::yield_now().await;
            self.shut_down.take().unwrap().send(()).unwrap();
            tokio::task::yield_now().await;
        }

        /// Writes `bytes` to the pipe's input.
        async fn send(&mut self, bytes: &[u8]) {
            self.sender
                .as_mut()
                .unwrap()
                .write_all(bytes)
                .await
                .unwrap();
        }

        /// Ends the pipe's input.
        fn hang_up(&mut self) {
            self.sender = None;
        }

        /// Waits for the pipe to end, within `within`.
        async fn ended(&mut self, within: Duration) {
            tokio::time::timeout(within, &mut self.task)
                .await
                .expect("the pipe ends")
                .unwrap();
        }
    }

    /// Everything the receiver reads until the end of its stream (which must come soon).
    async fn read_all(receiver: &mut tokio::io::DuplexStream) -> Vec<u8> {
        let mut got = vec![];
        tokio::time::timeout(Duration::from_millis(500), receiver.read_to_end(&mut got))
            .await
            .expect("the end of the stream")
            .unwrap();
        got
    }

    /// At shutdown a pipe ends the frame in flight (and no more), then says goodbye.
    #[tokio::test(start_paused = true)]
    async fn at_shutdown_the_frame_in_flight_ends_then_a_close_frame_follows() {
        let (first, second) = (client_text(b"hello, world"), client_text(b"not sent"));
        let mut p = Piped::new(1 << 16);
        p.send(&first[..5]).await;
        p.shut_down().await;
        // The rest of the frame, and the start of another, in one write.
        let rest = [&first[5..], &second[..]].concat();
        p.send(&rest).await;
        p.hang_up();
        p.ended(Duration::from_millis(500)).await;
        let got = read_all(&mut p.receiver).await;
        assert_eq!(got, [&first[..], &GOING_AWAY].concat());
    }

    /// The Close is followed by the end of the stream at once (not at the end of the grace),
    /// and the pipe reads its sender's answer until the sender ends.
    #[tokio::test(start_paused = true)]
    async fn after_its_close_a_pipe_ends_its_output_and_reads_the_answer() {
        let mut p = Piped::new(1 << 16);
        p.shut_down().await;
        assert_eq!(read_all(&mut p.receiver).await, GOING_AWAY);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!p.task.is_finished(), "still reading the answer");
        p.send(&client_text(b"late")).await;
        p.hang_up();
        p.ended(Duration::from_millis(500)).await;
    }

    /// After a sender's own Close its receiver gets no second one (nothing may follow one).
    #[tokio::test(start_paused = true)]
    async fn after_a_senders_close_its_receiver_gets_no_second_one() {
        let peer_close = [0x88, 0x02, 0x03, 0xe8];
        let mut p = Piped::new(1 << 16);
        p.send(&peer_close).await;
        p.shut_down().await;
        p.hang_up();
        p.ended(Duration::from_millis(500)).await;
        assert_eq!(read_all(&mut p.receiver).await, peer_close);
    }

    /// A receiver slow to read when the shutdown begins still gets the whole frame, then the
    /// Close.
    #[tokio::test(start_paused = true)]
    async fn a_slow_receiver_gets_the_frame_in_flight_then_the_close() {
        let frame = client_text(&[7; 96]);
        let mut p = Piped::new(16);
        p.send(&frame).await;
        p.shut_down().await;
        p.hang_up();
        let got = read_all(&mut p.receiver).await;
        assert_eq!(got, [&frame[..], &GOING_AWAY].concat());
    }

    /// A frame that does not end within the grace is cut without a Close frame.
    #[tokio::test(start_paused = true)]
    async fn a_frame_that_never_ends_is_cut_without_a_close_frame() {
        let first = client_text(b"hello, world");
        let mut p = Piped::new(1 << 16);
        p.send(&first[..5]).await;
        p.shut_down().await;
        p.ended(SHUTDOWN_GRACE * 3).await;
        assert_eq!(read_all(&mut p.receiver).await, first[..5]);
    }
}
