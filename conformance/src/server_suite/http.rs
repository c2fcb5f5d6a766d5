//! A minimal blocking HTTP/1.1 client over `std::net::TcpStream`, with raw control over the
//! request line, headers and body, for `http://` and `https://` (rustls, the bundled
//! Mozilla roots plus any CA given). One request per connection (`Connection: close`).

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// A parsed `http[s]://authority[/prefix]` base URL.
#[derive(Debug, Clone)]
pub struct BaseUrl {
    /// `host[:port]` as written (sent as the `Host` header).
    pub authority: String,
    /// `host:port` to connect to (port 80, or 443 for `https://`, when absent).
    pub connect: String,
    /// Path prefix without a trailing `/` (often empty).
    pub prefix: String,
    /// For `https://`: the server's name and the roots its certificate must chain to.
    pub tls: Option<Tls>,
}

/// How an `https://` base URL is reached: the name the server's certificate must carry and
/// the certificate authorities trusted.
#[derive(Debug, Clone)]
pub struct Tls {
    name: ServerName<'static>,
    roots: rustls::RootCertStore,
    config: Arc<rustls::ClientConfig>,
}

impl Tls {
    fn new(name: ServerName<'static>, roots: rustls::RootCertStore) -> Result<Tls, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS set-up: {e}"))?
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        Ok(Tls {
            name,
            roots,
            config: Arc::new(config),
        })
    }
}

impl BaseUrl {
    /// Parses `http[s]://authority[/prefix]`. An `https://` URL trusts the bundled Mozilla
    /// roots ([`BaseUrl::trusting`] adds others).
    pub fn parse(url: &str) -> Result<BaseUrl, String> {
        let (rest, secure) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
            (Some(rest), _) => (rest, false),
            (_, Some(rest)) => (rest, true),
            _ => {
                return Err(format!(
                    "base URL must start with http:// or https://: {url:?}"
                ))
            }
        };
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(format!("base URL needs a host and no user info: {url:?}"));
        }
        let (host, port) = xnonce_core::link::split_authority(authority)
            .map_err(|why| format!("base URL: {why}: {url:?}"))?;
        let port = port.unwrap_or("");
        if host.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("base URL has a bad host or port: {url:?}"));
        }
        let default_port = if secure { "443" } else { "80" };
        let connect = format!(
            "{host}:{}",
            if port.is_empty() { default_port } else { port }
        );
        let tls = match secure {
            false => None,
            true => {
                let bare = host.trim_start_matches('[').trim_end_matches(']');
                let name = ServerName::try_from(bare.to_string())
                    .map_err(|_| format!("base URL: {host:?} is not a name TLS can check"))?;
                let roots = rustls::RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                };
                Some(Tls::new(name, roots)?)
            }
        };
        Ok(BaseUrl {
            authority: authority.to_string(),
            connect,
            prefix: prefix.to_string(),
            tls,
        })
    }

    /// The same `https://` base URL, also trusting the certificate authorities of a PEM file
    /// (an internal CA). An error for an `http://` URL, a file that cannot be read, or one
    /// without a certificate.
    pub fn trusting(mut self, ca_pem: &Path) -> Result<BaseUrl, String> {
        let Some(tls) = self.tls.take() else {
            return Err("a CA file is for https:// base URLs only".into());
        };
        let why = |e: &dyn std::fmt::Display| format!("CA file {}: {e}", ca_pem.display());
        let mut roots = tls.roots;
        let mut added = 0;
        for cert in CertificateDer::pem_file_iter(ca_pem).map_err(|e| why(&e))? {
            roots.add(cert.map_err(|e| why(&e))?).map_err(|e| why(&e))?;
            added += 1;
        }
        if added == 0 {
            return Err(why(&"no PEM certificate in it"));
        }
        self.tls = Some(Tls::new(tls.name, roots)?);
        Ok(self)
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        match self.tls {
            Some(_) => "https",
            None => "http",
        }
    }
}

/// A request to send, exactly as given (the client adds `Host`, `Content-Length` and
/// `Connection: close` unless [`Request::raw_headers`] is set).
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Method, sent as is.
    pub method: String,
    /// Request target (`/path?query`), sent as is (the base URL's prefix is put in front).
    pub target: String,
    /// Header lines as `(name, value)` bytes, sent as is.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
    /// Do not add `Host`/`Content-Length`/`Connection` headers.
    pub raw_headers: bool,
    /// Send the target in absolute form, `http://authority/prefix/target` (RFC 9112 §3.2.2:
    /// what a client sends to a proxy, and what a server must accept).
    pub absolute: bool,
}

impl Request {
    /// A request with a method and target.
    pub fn new(method: &str, target: &str) -> Request {
        Request {
            method: method.to_string(),
            target: target.to_string(),
            ..Default::default()
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Request {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }
}

/// A response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header fields in order (names lower-cased).
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl Response {
    /// The first header of that (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as (lossy) UTF-8 text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends a request and reads the whole response (timeout per read/write: 10 s; the whole
/// exchange: 30 s).
pub fn send(base: &BaseUrl, req: &Request) -> io::Result<Response> {
    let mut head = Vec::new();
    head.extend_from_slice(req.method.as_bytes());
    head.push(b' ');
    if req.absolute {
        head.extend_from_slice(format!("{}://{}", base.scheme(), base.authority).as_bytes());
    }
    head.extend_from_slice(base.prefix.as_bytes());
    head.extend_from_slice(req.target.as_bytes());
    head.extend_from_slice(b" HTTP/1.1\r\n");
    if !req.raw_headers {
        head.extend_from_slice(format!("Host: {}\r\n", base.authority).as_bytes());
        head.extend_from_slice(format!("Content-Length: {}\r\n", req.body.len()).as_bytes());
        head.extend_from_slice(b"Connection: close\r\n");
    }
    for (k, v) in &req.headers {
        head.extend_from_slice(k.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(v);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head.extend_from_slice(&req.body);
    send_bytes(base, &head)
}

/// Writes raw bytes to the base URL's server (over TLS for `https://`) and parses what
/// comes back; see [`send_raw`].
pub fn send_bytes(base: &BaseUrl, bytes: &[u8]) -> io::Result<Response> {
    let tcp = connect(&base.connect)?;
    match &base.tls {
        None => exchange(tcp, bytes),
        Some(tls) => {
            let conn = rustls::ClientConnection::new(tls.config.clone(), tls.name.clone())
                .map_err(io::Error::other)?;
            exchange(rustls::StreamOwned::new(conn, tcp), bytes)
        }
    }
}

/// Writes raw bytes to `addr` over plain TCP and parses what comes back. A server may
/// answer and close before reading everything (oversized requests): a failed write still
/// reads the answer.
pub fn send_raw(addr: &str, bytes: &[u8]) -> io::Result<Response> {
    exchange(connect(addr)?, bytes)
}

fn connect(addr: &str) -> io::Result<TcpStream> {
    let addr = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))?;
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    Ok(stream)
}

/// How long one request and its whole answer may take: each read and write also has its
/// own 10 s timeout, but a server trickling a byte every few seconds would otherwise stall
/// the suite without end (the last read may still take its 10 s).
const EXCHANGE_DEADLINE: Duration = Duration::from_secs(30);

fn exchange(stream: impl Read + Write, bytes: &[u8]) -> io::Result<Response> {
    exchange_within(stream, bytes, EXCHANGE_DEADLINE)
}

/// A stream whose reads and writes fail once `until` has passed.
struct Deadline<S> {
    inner: S,
    until: std::time::Instant,
    limit: Duration,
}

impl<S> Deadline<S> {
    fn check(&self) -> io::Result<()> {
        if std::time::Instant::now() > self.until {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no complete answer within {} s", self.limit.as_secs_f64()),
            ));
        }
        Ok(())
    }
}

impl<S: Read> Read for Deadline<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.check()?;
        self.inner.read(buf)
    }
}

impl<S: Write> Write for Deadline<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.check()?;
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn exchange_within(
    stream: impl Read + Write,
    bytes: &[u8],
    limit: Duration,
) -> io::Result<Response> {
    let until = std::time::Instant::now() + limit;
    let mut stream = Deadline {
        inner: stream,
        until,
        limit,
    };
    let write_result = stream.write_all(bytes).and_then(|_| stream.flush());
    let mut buf = Vec::new();
    // The answer to a HEAD has no body, whatever its Content-Length says (RFC 9110 §9.3.2).
    let head_only = bytes.starts_with(b"HEAD ");
    let read_result = read_response(&mut stream, &mut buf, head_only);
    match (read_result, write_result) {
        (Ok(r), _) => Ok(r),
        (Err(e), Err(we)) if buf.is_empty() => Err(io::Error::new(
            e.kind(),
            format!("write failed ({we}) and no answer ({e})"),
        )),
        (Err(e), _) => Err(e),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Whether a read error is the end of the answer: the server reset the connection, or (TLS)
/// closed it without a `close_notify`.
fn is_end(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
    )
}

fn read_response(
    stream: &mut impl Read,
    buf: &mut Vec<u8>,
    head_only: bool,
) -> io::Result<Response> {
    let mut chunk = [0u8; 8192];
    // Read until the head is complete.
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i;
        }
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if is_end(&e) && !buf.is_empty() => 0,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Err(bad("connection closed before a complete response head"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head =
        std::str::from_utf8(&buf[..head_end]).map_err(|_| bad("response head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = buf[head_end + 4..].to_vec();
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let chunked =
        get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = get("content-length").and_then(|v| v.parse::<usize>().ok());
    let mut read_more = |body: &mut Vec<u8>| -> io::Result<bool> {
        match stream.read(&mut chunk) {
            Ok(0) => Ok(false),
            Ok(n) => {
                body.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Err(e) if is_end(&e) => Ok(false),
            Err(e) => Err(e),
        }
    };
    if head_only {
        body.clear();
    } else if chunked {
        // Until the last chunk: "0\r\n\r\n" may also stand inside a chunk's data.
        body = loop {
            match dechunk(&body)? {
                Some(data) => break data,
                None if read_more(&mut body)? => {}
                None => return Err(bad("connection closed inside a chunked body")),
            }
        };
    } else if let Some(len) = length {
        while body.len() < len && read_more(&mut body)? {}
        // A body cut short is no answer: its text would be compared as if whole.
        if body.len() < len {
            return Err(bad("connection closed before the Content-Length body"));
        }
        body.truncate(len);
    } else if status != 204 && status != 304 {
        while read_more(&mut body)? {}
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// The data of a chunked body; `None` while its last chunk has not arrived.
fn dechunk(mut data: &[u8]) -> io::Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    loop {
        let Some(i) = find(data, b"\r\n") else {
            return Ok(None);
        };
        let size_text = std::str::from_utf8(&data[..i]).map_err(|_| bad("bad chunk size"))?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| bad("bad chunk size"))?;
        data = &data[i + 2..];
        if size == 0 {
            // The last chunk: trailer fields, if any, then an empty line.
            return Ok(find(data, b"\r\n\r\n")
                .or_else(|| data.starts_with(b"\r\n").then_some(0))
                .map(|_| out));
        }
        if data.len() < size + 2 {
            return Ok(None);
        }
        if &data[size..size + 2] != b"\r\n" {
            return Err(bad("chunk data not followed by CRLF"));
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let b = BaseUrl::parse("http://127.0.0.1:8080/api/").unwrap();
        assert_eq!(b.authority, "127.0.0.1:8080");
        assert_eq!(b.connect, "127.0.0.1:8080");
        assert_eq!(b.prefix, "/api");
        assert_eq!(
            BaseUrl::parse("http://example.test").unwrap().connect,
            "example.test:80"
        );
        let tls = BaseUrl::parse("https://[::1]/api").unwrap();
        assert_eq!((tls.connect.as_str(), tls.scheme()), ("[::1]:443", "https"));
        let plain = BaseUrl::parse("http://x").unwrap();
        assert!(plain.tls.is_none() && plain.scheme() == "http");
        assert!(BaseUrl::parse("ftp://x").is_err());
        assert!(BaseUrl::parse("http://user@example.test").is_err());
        assert!(BaseUrl::parse("http:///prefix").is_err());
        // A port is digits after the last ':' outside an IPv6 literal's brackets.
        let connect = |url: &str| BaseUrl::parse(url).unwrap().connect;
        assert_eq!(connect("http://[::1]:8080/x"), "[::1]:8080");
        assert_eq!(connect("http://[::1]"), "[::1]:80");
        assert_eq!(connect("http://h:"), "h:80");
        assert_eq!(connect("http://[::1]:"), "[::1]:80");
        for bad in [
            "http://h:8a",
            "http://[::1]x",
            "http://[::1",
            "http://:80",
            "http://h:-1",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ca_files() {
        let fixtures =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../client-rs/tests/fixtures/tls");
        let https = BaseUrl::parse("https://localhost:8443").unwrap();
        let roots = |b: &BaseUrl| b.tls.as_ref().unwrap().roots.len();
        let bundled = roots(&https);
        let trusting = https.clone().trusting(&fixtures.join("ca.pem")).unwrap();
        assert_eq!(roots(&trusting), bundled + 1);
        let e = https
            .clone()
            .trusting(&fixtures.join("server.key"))
            .unwrap_err();
        assert!(e.contains("no PEM certificate"), "{e}");
        let e = https.trusting(&fixtures.join("missing.pem")).unwrap_err();
        assert!(e.contains("missing.pem"), "{e}");
        let plain = BaseUrl::parse("http://localhost").unwrap();
        let e = plain.trusting(&fixtures.join("ca.pem")).unwrap_err();
        assert!(e.contains("https:// base URLs only"), "{e}");
    }

    #[test]
    fn chunks() {
        let whole = b"3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n";
        assert_eq!(dechunk(whole).unwrap().unwrap(), b"abcd");
        // Every cut short of the end needs more data.
        for cut in 0..whole.len() {
            assert_eq!(dechunk(&whole[..cut]).unwrap(), None, "{cut}");
        }
        // A trailer field after the last chunk.
        assert_eq!(
            dechunk(b"2\r\nab\r\n0\r\nX-T: 1\r\n\r\n").unwrap().unwrap(),
            b"ab"
        );
        assert!(dechunk(b"zz\r\nab\r\n").is_err());
        assert!(dechunk(b"2\r\nabc\r\n").is_err());
    }

    /// Serves `parts` (written one by one, 20 ms apart) to the first connection, then closes
    /// it — or, with `keep_open`, waits for the client to close it; the response the client
    /// reads.
    fn answer(parts: &'static [&'static [u8]], keep_open: bool) -> io::Result<Response> {
        answer_to(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", parts, keep_open)
    }

    /// [`answer`] to the request `request`.
    fn answer_to(
        request: &[u8],
        parts: &'static [&'static [u8]],
        keep_open: bool,
    ) -> io::Result<Response> {
        let (addr, server) = serving(move |mut conn| {
            for p in parts {
                conn.write_all(p).unwrap();
                std::thread::sleep(Duration::from_millis(20));
            }
            if keep_open {
                // Until the client closes: a client that waited for our close would time out.
                conn.set_read_timeout(Some(Duration::from_secs(30)))
                    .unwrap();
                let _ = conn.read(&mut [0u8; 1024]);
            }
        });
        let got = send_raw(&addr, request);
        server.join().unwrap();
        got
    }

    /// A server on 127.0.0.1 for one connection: it reads the request (its first 1 KiB),
    /// then `answer` writes to the connection. Its address, and the thread to join.
    fn serving(
        answer: impl FnOnce(std::net::TcpStream) + Send + 'static,
    ) -> (String, std::thread::JoinHandle<()>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let _ = conn.read(&mut [0u8; 1024]);
            answer(conn)
        });
        (addr, server)
    }

    #[test]
    fn responses_arriving_in_pieces() {
        // Chunked, with the last chunk's bytes inside the data and the head split.
        let r = answer(
            &[
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r",
                b"\nX-A: b\r\n\r\n7\r\nx0\r\n\r\ny\r\n",
                b"2\r\nzz\r\n0\r\n\r\n",
            ],
            true,
        )
        .unwrap();
        assert_eq!((r.status, r.header("x-a")), (200, Some("b")));
        assert_eq!(r.body, b"x0\r\n\r\nyzz");
        // Content-Length: read to the length, not to the close.
        let r = answer(
            &[
                b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 5\r\n\r\nab",
                b"cde",
            ],
            true,
        )
        .unwrap();
        assert_eq!((r.status, r.text().as_str()), (401, "abcde"));
        // Neither: read to the close.
        let r = answer(&[b"HTTP/1.1 200 OK\r\n\r\none ", b"two"], false).unwrap();
        assert_eq!(r.text(), "one two");
        // The answer to a HEAD has no body, though its Content-Length gives the GET's.
        let r = answer_to(
            b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
            &[b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"],
            false,
        )
        .unwrap();
        assert_eq!((r.status, r.body.len()), (200, 0));
        // 204 has no body: no wait for one.
        let r = answer(&[b"HTTP/1.1 204 No Content\r\n\r\n"], true).unwrap();
        assert_eq!((r.status, r.body.len()), (204, 0));
    }

    /// A server that trickles its answer a byte at a time, each within the read timeout,
    /// does not hold the client past its deadline.
    #[test]
    fn a_trickled_answer_ends_at_the_deadline() {
        let (addr, server) = serving(|mut conn| {
            // 4 s of an endless head, unless the client goes away first.
            for _ in 0..80 {
                if conn.write_all(b"X").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let e = exchange_within(
            connect(&addr).unwrap(),
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
        assert!(
            e.to_string().contains("no complete answer within 0.3 s"),
            "{e}"
        );
        server.join().unwrap();
    }

    #[test]
    fn incomplete_responses_are_errors() {
        let e = answer(&[b"HTTP/1.1 200 OK\r\nContent-"], false).unwrap_err();
        assert!(
            e.to_string().contains("before a complete response head"),
            "{e}"
        );
        let e = answer(
            &[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"],
            false,
        )
        .unwrap_err();
        assert!(e.to_string().contains("inside a chunked body"), "{e}");
        // A body shorter than its Content-Length: the text it holds is not the answer.
        let e = answer(
            &[b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 40\r\n\r\nottoken does not match"],
            false,
        )
        .unwrap_err();
        assert!(e.to_string().contains("Content-Length body"), "{e}");
        let e = answer(&[b"HTTP/1.1 abc\r\n\r\n"], false).unwrap_err();
        assert!(e.to_string().contains("bad status line"), "{e}");
    }
}
