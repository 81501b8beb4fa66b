//! The upstream HTTP/1.1 client. Plain TCP for `http://` instances and
//! rustls (ring provider, the `pki::tls` client config of
//! `zowe.verifyCertificates` and `zowe.network.client.tls`) for `https://`
//! ones. The client configuration is read at each new connection, so a
//! reload's truststore applies to the next connection while pooled ones
//! keep going; the leaf each `https` instance presents at a handshake is
//! noted for its expiry gauge.
//!
//! Two ways to an instance:
//!
//! - [`Upstream::send`], for requests whose whole body is in hand (empty or
//!   small, see `Payload`): a keep-alive connection from the calling
//!   thread's pool, the request written in one go, the response head parsed
//!   here and the body streamed to the caller as [`PooledBody`], which puts
//!   the connection back when the body has been read to its end. The pool is
//!   per thread because the server runs one single-threaded runtime per core:
//!   a connection, its request and its response never leave the core.
//! - [`Upstream::dedicated`], for streamed bodies and WebSocket upgrades: a
//!   new connection driven by hyper's HTTP/1 client, which sends and receives
//!   at the same time and hands over the upgraded stream.
//!
//! Responses are read strictly: one status line, at most [`MAX_HEADERS`]
//! headers in [`MAX_HEAD`] bytes, framing by `Transfer-Encoding: chunked`,
//! else one `Content-Length`, else the end of the connection. A backend that
//! breaks these rules gets its connection closed and the caller a 502.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use bytes::{Buf, BytesMut};
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, Uri};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::metrics::TlsStatus;
use crate::wire::{connection_tokens, content_length, poll_read_more, read_more};

/// Most headers a backend's response may carry.
pub const MAX_HEADERS: usize = 100;
/// Largest response head (status line and headers) accepted from a backend.
pub const MAX_HEAD: usize = 64 * 1024;
/// Idle keep-alive connections older than this are closed, not reused.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Idle connections kept per instance and thread.
const MAX_IDLE: usize = 64;

/// Why a request did not get a response.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The instance could not be reached (TCP or TLS): the request was not
    /// sent, another instance may take it.
    #[error("instance unreachable: {0}")]
    Connect(io::Error),
    /// The request was sent and no usable response came back.
    #[error("{0}")]
    Failed(io::Error),
}

/// An instance's base URL, parsed once when the definitions load.
pub struct Origin {
    /// The base URL as defined (no trailing `/`); it names the pool.
    base: Arc<str>,
    https: bool,
    /// Host without IPv6 brackets, for connecting and for SNI.
    host: String,
    port: u16,
    /// `Host` header value.
    authority: HeaderValue,
    /// The base URL's path (context root), empty or starting with `/`.
    prefix: String,
    /// The service the instance belongs to (empty when not known).
    service: Arc<str>,
}

impl Origin {
    /// `None` for what the definitions' validation already refuses.
    pub fn parse(base: &str) -> Option<Origin> {
        let uri: Uri = base.parse().ok()?;
        let https = match uri.scheme_str()? {
            "https" => true,
            "http" => false,
            _ => return None,
        };
        let authority = uri.authority()?;
        let host = uri.host()?;
        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        Some(Origin {
            base: Arc::from(base),
            https,
            port: uri.port_u16().unwrap_or(if https { 443 } else { 80 }),
            authority: HeaderValue::from_str(authority.as_str()).ok()?,
            host: bare,
            prefix: uri.path().trim_end_matches('/').to_owned(),
            service: Arc::from(""),
        })
    }

    /// The same origin, known as an instance of `service`.
    pub fn of_service(mut self, service: &str) -> Origin {
        self.service = Arc::from(service);
        self
    }

    /// The base URL as defined.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The absolute URL of `path` (from `/`) on this instance.
    fn uri(&self, path: &str) -> Option<Uri> {
        format!("{}{}", self.base, path).parse().ok()
    }
}

/// A connection to an instance.
pub enum Stream {
    /// `http://`.
    Plain(TcpStream),
    /// `https://`.
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref().0,
        }
    }

    /// Whether an idle keep-alive connection can take another request. An
    /// idle backend connection has nothing to say: anything readable is its
    /// close (FIN, RST, TLS close_notify) or garbage. Readiness comes from
    /// the runtime's last epoll turn, so this makes no system call unless
    /// the runtime saw an event.
    fn is_reusable(&self) -> bool {
        let tcp = self.tcp();
        let mut cx = Context::from_waker(Waker::noop());
        match tcp.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            // Readiness can be stale (set by the last read of the previous
            // response); a read tells.
            Poll::Ready(Ok(())) => {
                matches!(tcp.try_read(&mut [0u8; 1]), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Names the pools of one [`Upstream`] (each has its own TLS settings).
static NEXT_UPSTREAM: AtomicU64 = AtomicU64::new(0);

struct Idle {
    stream: Stream,
    since: Instant,
}

/// The idle connections of one instance on one thread.
struct PoolEntry {
    upstream: u64,
    base: Arc<str>,
    idle: Vec<Idle>,
}

thread_local! {
    static POOL: RefCell<Vec<PoolEntry>> = const { RefCell::new(Vec::new()) };
}

/// A live, reusable idle connection to `origin`, newest first.
fn checkout(upstream: u64, origin: &Origin) -> Option<Stream> {
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        let entry = pool
            .iter_mut()
            .find(|e| e.upstream == upstream && e.base == origin.base)?;
        while let Some(idle) = entry.idle.pop() {
            if idle.since.elapsed() < IDLE_TIMEOUT && idle.stream.is_reusable() {
                return Some(idle.stream);
            }
        }
        None
    })
}

fn checkin(upstream: u64, base: &Arc<str>, stream: Stream) {
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        let now = Instant::now();
        // Instances dropped by a reload leave entries behind; their
        // connections go when they age out.
        pool.retain_mut(|e| {
            e.idle
                .retain(|i| now.duration_since(i.since) < IDLE_TIMEOUT);
            !e.idle.is_empty() || (e.upstream == upstream && e.base == *base)
        });
        let idle = Idle { stream, since: now };
        match pool
            .iter_mut()
            .find(|e| e.upstream == upstream && e.base == *base)
        {
            Some(e) if e.idle.len() < MAX_IDLE => e.idle.push(idle),
            Some(_) => {}
            None => pool.push(PoolEntry {
                upstream,
                base: base.clone(),
                idle: vec![idle],
            }),
        }
    });
}

/// The client routed requests go through.
pub struct Upstream {
    id: u64,
    tls: std::sync::RwLock<Option<TlsConnector>>,
    connect_timeout: Duration,
    /// Where the instances' certificates are noted.
    certificates: Option<Arc<TlsStatus>>,
}

impl Upstream {
    /// `tls` = None refuses `https` instances.
    pub fn new(tls: Option<Arc<rustls::ClientConfig>>, connect_timeout: Duration) -> Self {
        Self {
            id: NEXT_UPSTREAM.fetch_add(1, Ordering::Relaxed),
            tls: std::sync::RwLock::new(tls.map(TlsConnector::from)),
            connect_timeout,
            certificates: None,
        }
    }

    /// Notes the certificate each instance presents at a new handshake in
    /// `status`.
    pub fn with_certificates(mut self, status: Option<Arc<TlsStatus>>) -> Self {
        self.certificates = status;
        self
    }

    /// The client configuration of the connections made after this call
    /// (`None` refuses `https` instances); pooled connections keep theirs.
    pub fn set_tls(&self, tls: Option<Arc<rustls::ClientConfig>>) {
        let connector = tls.map(TlsConnector::from);
        match self.tls.write() {
            Ok(mut current) => *current = connector,
            Err(poisoned) => *poisoned.into_inner() = connector,
        }
    }

    fn connector(&self) -> Option<TlsConnector> {
        match self.tls.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// A new connection (TCP, and TLS for `https`).
    async fn connect(&self, origin: &Origin) -> io::Result<Stream> {
        let tcp = tokio::time::timeout(
            self.connect_timeout,
            TcpStream::connect((origin.host.as_str(), origin.port)),
        )
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        let _ = tcp.set_nodelay(true);
        if !origin.https {
            return Ok(Stream::Plain(tcp));
        }
        let tls = self.connector().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::Unsupported,
                "TLS to services is not configured",
            )
        })?;
        let name = ServerName::try_from(origin.host.clone())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let stream = tls.connect(name, tcp).await?;
        if let (Some(status), Some(leaf)) = (
            &self.certificates,
            stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first()),
        ) {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            status.note_service(&origin.service, &origin.base, leaf, now);
        }
        Ok(Stream::Tls(Box::new(stream)))
    }

    /// Sends a request whose body is all here (`body` empty for none) on a
    /// pooled connection. `path` is the path and query on the instance,
    /// from `/`; `headers` must hold no hop-by-hop header and no `Host`.
    pub async fn send(
        &self,
        origin: &Origin,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Result<Response<PooledBody>, SendError> {
        let request = encode_request(origin, method, path, headers, body);
        let head_only = method == Method::HEAD;
        if let Some(mut stream) = checkout(self.id, origin) {
            match exchange(&mut stream, &request, head_only).await {
                Ok((response, buf)) => return Ok(self.finish(origin, stream, response, buf)),
                // The backend closed the idle connection as the request went
                // out; it never saw the request, which goes on a new one.
                Err(Exchange::Closed) => {}
                Err(Exchange::Failed(e)) => return Err(SendError::Failed(e)),
            }
        }
        let mut stream = self.connect(origin).await.map_err(SendError::Connect)?;
        match exchange(&mut stream, &request, head_only).await {
            Ok((response, buf)) => Ok(self.finish(origin, stream, response, buf)),
            Err(Exchange::Closed) => Err(SendError::Failed(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the instance closed the connection without a response",
            ))),
            Err(Exchange::Failed(e)) => Err(SendError::Failed(e)),
        }
    }

    fn finish(
        &self,
        origin: &Origin,
        stream: Stream,
        head: ResponseHead,
        buf: BytesMut,
    ) -> Response<PooledBody> {
        let ResponseHead {
            response,
            framing,
            keep_alive,
        } = head;
        let mut body = PooledBody {
            conn: Some(stream),
            buf,
            framing,
            keep_alive,
            upstream: self.id,
            base: origin.base.clone(),
        };
        body.release_if_done();
        response.map(|()| body)
    }

    /// Sends a request on a connection of its own, driven by hyper: for
    /// bodies streamed while the response may already be coming, and for
    /// upgrades (the response's upgrade hands over the connection). The body
    /// is taken from `body` once the instance is connected, so an
    /// unreachable instance leaves it for the next.
    pub async fn dedicated(
        &self,
        origin: &Origin,
        path: &str,
        method: &Method,
        headers: &HeaderMap,
        body: &mut Option<Body>,
    ) -> Result<Response<Incoming>, SendError> {
        let stream = self.connect(origin).await.map_err(SendError::Connect)?;
        let failed = |e: hyper::Error| SendError::Failed(io::Error::other(e));
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(failed)?;
        tokio::spawn(async move {
            let _ = connection.with_upgrades().await;
        });
        let uri = origin
            .uri(path)
            .ok_or_else(|| SendError::Failed(invalid("bad path")))?;
        let body = body
            .take()
            .ok_or_else(|| SendError::Failed(invalid("the body went to another instance")))?;
        let mut request = http::Request::new(body);
        *request.method_mut() = method.clone();
        *request.uri_mut() = uri;
        *request.headers_mut() = headers.clone();
        request
            .headers_mut()
            .insert(header::HOST, origin.authority.clone());
        sender.send_request(request).await.map_err(failed)
    }
}

/// Writes the request head and body into one buffer (one write, usually
/// one segment).
fn encode_request(
    origin: &Origin,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + body.len() + headers.len() * 48);
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(origin.prefix.as_bytes());
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(origin.authority.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        // The framing is this client's to state.
        if name == header::CONTENT_LENGTH || name == header::HOST || name == header::EXPECT {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() || (method != Method::GET && method != Method::HEAD) {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

enum Exchange {
    /// Nothing came back before the connection closed.
    Closed,
    Failed(io::Error),
}

/// Writes the request and reads the response head; the bytes read past the
/// head are returned with it.
async fn exchange(
    stream: &mut Stream,
    request: &[u8],
    head_only: bool,
) -> Result<(ResponseHead, BytesMut), Exchange> {
    if let Err(e) = stream.write_all(request).await {
        return Err(match e.kind() {
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => Exchange::Closed,
            _ => Exchange::Failed(e),
        });
    }
    if let Err(e) = stream.flush().await {
        return Err(Exchange::Failed(e));
    }
    let mut buf = BytesMut::with_capacity(crate::wire::READ_CHUNK);
    loop {
        let n = match read_more(stream, &mut buf).await {
            Ok(n) => n,
            Err(e) if buf.is_empty() && e.kind() == io::ErrorKind::ConnectionReset => {
                return Err(Exchange::Closed)
            }
            Err(e) => return Err(Exchange::Failed(e)),
        };
        if n == 0 {
            return Err(if buf.is_empty() {
                Exchange::Closed
            } else {
                Exchange::Failed(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the response head was cut short",
                ))
            });
        }
        while let Some(head) = parse_head(&mut buf, head_only).map_err(Exchange::Failed)? {
            match head {
                // Interim responses (100 Continue, 103 Early Hints) are not
                // passed on: the request has gone whole already.
                UpstreamHead::Interim => continue,
                UpstreamHead::Final(head) => return Ok((head, buf)),
            }
        }
        if buf.len() >= MAX_HEAD {
            return Err(Exchange::Failed(invalid("the response head is too large")));
        }
    }
}

fn invalid(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

/// How a response body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// This many bytes are left.
    Length(u64),
    /// Chunked transfer coding, in this state.
    Chunked(Chunk),
    /// The body runs to the end of the connection.
    UntilClose,
    /// Read whole.
    Done,
}

/// Where the chunked decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk's data: this many bytes left.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer lines until an empty one.
    Trailers,
}

pub(crate) struct ResponseHead {
    pub(crate) response: Response<()>,
    pub(crate) framing: Framing,
    pub(crate) keep_alive: bool,
}

/// A response head read off an upstream connection.
pub(crate) enum UpstreamHead {
    /// A 1xx answer other than 101: another head follows.
    Interim,
    /// The response.
    Final(ResponseHead),
}

/// Parses one response head off the front of `buf`; `None` = incomplete.
pub(crate) fn parse_head(buf: &mut BytesMut, head_only: bool) -> io::Result<Option<UpstreamHead>> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut slots);
    let len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(invalid("malformed response head")),
    };
    let code = parsed.code.unwrap_or(0);
    let status = StatusCode::from_u16(code).map_err(|_| invalid("bad status code"))?;
    if status.is_informational() {
        if status == StatusCode::SWITCHING_PROTOCOLS {
            return Err(invalid("an upgrade that was not asked for"));
        }
        buf.advance(len);
        return Ok(Some(UpstreamHead::Interim));
    }
    let http11 = parsed.version == Some(1);
    let mut headers = HeaderMap::with_capacity(parsed.headers.len());
    let mut chunked = false;
    let mut transfer_encoded = false;
    let mut length: Option<u64> = None;
    let mut close = !http11;
    for h in parsed.headers.iter() {
        let name =
            HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| invalid("bad header name"))?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| invalid("bad header value"))?;
        if name == header::TRANSFER_ENCODING {
            transfer_encoded = true;
            // Only the last coding says how the message ends.
            chunked = h
                .value
                .rsplit(|b| *b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name == header::CONTENT_LENGTH {
            let n = content_length(h.value).ok_or_else(|| invalid("bad Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(invalid("conflicting Content-Length"));
            }
            length = Some(n);
        } else if name == header::CONNECTION {
            for token in connection_tokens(h.value) {
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && !http11 {
                    close = false;
                }
            }
        }
        headers.append(name, value);
    }
    let no_body =
        head_only || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    let framing = if no_body {
        Framing::Done
    } else if transfer_encoded {
        if chunked {
            Framing::Chunked(Chunk::Size)
        } else {
            Framing::UntilClose
        }
    } else {
        match length {
            Some(0) => Framing::Done,
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        }
    };
    // A message framed both ways (RFC 9112 §6.3): the connection is not
    // trusted with another request.
    if transfer_encoded && length.is_some() {
        close = true;
        headers.remove(header::CONTENT_LENGTH);
    }
    buf.advance(len);
    let mut response = Response::new(());
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(Some(UpstreamHead::Final(ResponseHead {
        response,
        keep_alive: !close && framing != Framing::UntilClose,
        framing,
    })))
}

/// A response body read from a pooled connection; at its end the connection
/// goes back to the pool (when the backend keeps it alive and sent nothing
/// more). Dropped early, it closes the connection.
pub struct PooledBody {
    pub(crate) conn: Option<Stream>,
    pub(crate) buf: BytesMut,
    pub(crate) framing: Framing,
    pub(crate) keep_alive: bool,
    pub(crate) upstream: u64,
    pub(crate) base: Arc<str>,
}

impl PooledBody {
    fn release_if_done(&mut self) {
        if self.framing != Framing::Done {
            return;
        }
        if let Some(conn) = self.conn.take() {
            if self.keep_alive && self.buf.is_empty() {
                checkin(self.upstream, &self.base, conn);
            }
        }
    }

    /// The next data from what is buffered, advancing the framing; `None`
    /// = more must be read first.
    pub(crate) fn decode(&mut self) -> io::Result<Option<Bytes>> {
        loop {
            match self.framing {
                Framing::Done => return Ok(None),
                Framing::UntilClose => {
                    if self.buf.is_empty() {
                        return Ok(None);
                    }
                    return Ok(Some(self.buf.split().freeze()));
                }
                Framing::Length(left) => {
                    if self.buf.is_empty() {
                        return Ok(None);
                    }
                    let n = take_len(left, self.buf.len());
                    let left = left - n as u64;
                    self.framing = if left == 0 {
                        Framing::Done
                    } else {
                        Framing::Length(left)
                    };
                    return Ok(Some(self.buf.split_to(n).freeze()));
                }
                Framing::Chunked(Chunk::Data(left)) => {
                    if self.buf.is_empty() {
                        return Ok(None);
                    }
                    let n = take_len(left, self.buf.len());
                    let left = left - n as u64;
                    self.framing = Framing::Chunked(if left == 0 {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left)
                    });
                    return Ok(Some(self.buf.split_to(n).freeze()));
                }
                Framing::Chunked(state) => {
                    let Some(line_end) = self.buf.windows(2).position(|w| w == b"\r\n") else {
                        if self.buf.len() > 4096 {
                            return Err(invalid("chunk framing line too long"));
                        }
                        return Ok(None);
                    };
                    let line = self.buf.split_to(line_end + 2);
                    let line = &line[..line_end];
                    self.framing = match state {
                        Chunk::Size => match chunk_size(line)? {
                            0 => Framing::Chunked(Chunk::Trailers),
                            n => Framing::Chunked(Chunk::Data(n)),
                        },
                        Chunk::DataEnd if line.is_empty() => Framing::Chunked(Chunk::Size),
                        Chunk::DataEnd => return Err(invalid("chunk data overruns its size")),
                        // Trailer fields are dropped; the empty line ends the body.
                        Chunk::Trailers if line.is_empty() => Framing::Done,
                        Chunk::Trailers => Framing::Chunked(Chunk::Trailers),
                        Chunk::Data(_) => return Err(invalid("chunk decoder state")),
                    };
                }
            }
        }
    }
}

fn take_len(left: u64, buffered: usize) -> usize {
    usize::try_from(left).map_or(buffered, |l| l.min(buffered))
}

/// A chunk-size line: hex digits, then optional extensions (ignored).
fn chunk_size(line: &[u8]) -> io::Result<u64> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let rest = line[digits..].trim_ascii_start();
    if digits == 0 || digits > 15 || !(rest.is_empty() || rest[0] == b';') {
        return Err(invalid("bad chunk size"));
    }
    let hex = std::str::from_utf8(&line[..digits]).map_err(|_| invalid("bad chunk size"))?;
    u64::from_str_radix(hex, 16).map_err(|_| invalid("bad chunk size"))
}

impl http_body::Body for PooledBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        loop {
            match this.decode() {
                Ok(Some(data)) => {
                    this.release_if_done();
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Ok(None) if this.framing == Framing::Done => {
                    this.release_if_done();
                    return Poll::Ready(None);
                }
                Ok(None) => {}
                Err(e) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(e)));
                }
            }
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match poll_read_more(Pin::new(conn), cx, &mut this.buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(0)) => {
                    this.conn = None;
                    if this.framing == Framing::UntilClose {
                        this.framing = Framing::Done;
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the response body was cut short",
                    ))));
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.framing == Framing::Done && self.buf.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        match self.framing {
            Framing::Length(n) => SizeHint::with_exact(n),
            Framing::Done => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn head(raw: &str) -> io::Result<Option<UpstreamHead>> {
        parse_head(&mut BytesMut::from(raw), false)
    }

    fn framing(raw: &str) -> (Framing, bool) {
        match head(raw).unwrap().unwrap() {
            UpstreamHead::Final(h) => (h.framing, h.keep_alive),
            UpstreamHead::Interim => panic!("interim"),
        }
    }

    #[test]
    fn response_framing_follows_rfc_9112() {
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"),
            (Framing::Length(5), true)
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n"),
            (Framing::Chunked(Chunk::Size), true)
        );
        // Both: chunked wins and the connection is not reused.
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n"),
            (Framing::Chunked(Chunk::Size), false)
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\n\r\n"),
            (Framing::UntilClose, false)
        );
        assert_eq!(
            framing("HTTP/1.1 204 No Content\r\n\r\n"),
            (Framing::Done, true)
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"),
            (Framing::Done, false)
        );
        assert_eq!(
            framing("HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\n"),
            (Framing::Length(1), false)
        );
        assert!(matches!(
            head("HTTP/1.1 100 Continue\r\n\r\n").unwrap(),
            Some(UpstreamHead::Interim)
        ));
        assert!(head("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n")
            .unwrap()
            .is_none());
    }

    #[test]
    fn ambiguous_or_malformed_heads_are_refused() {
        for raw in [
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: +5\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 5, 5x\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\n\r\n",
            "HTTP/1.1 2000 OK\r\n\r\n",
            "HTTP/1.1 200 OK\r\nbad header\r\n\r\n",
        ] {
            assert!(head(raw).is_err(), "{raw:?}");
        }
    }

    fn decode_all(framing: Framing, wire: &[u8], step: usize) -> io::Result<(Vec<u8>, Framing)> {
        let mut body = PooledBody {
            conn: None,
            buf: BytesMut::new(),
            framing,
            keep_alive: false,
            upstream: u64::MAX,
            base: Arc::from(""),
        };
        let mut out = Vec::new();
        for piece in wire.chunks(step) {
            body.buf.extend_from_slice(piece);
            while let Some(data) = body.decode()? {
                out.extend_from_slice(&data);
            }
        }
        Ok((out, body.framing))
    }

    #[test]
    fn chunked_bodies_decode_in_any_split() {
        let wire = b"5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nx-trailer: 1\r\n\r\n";
        for step in 1..wire.len() {
            let (out, end) = decode_all(Framing::Chunked(Chunk::Size), wire, step).unwrap();
            assert_eq!(out, b"hello 0123456789", "step {step}");
            assert_eq!(end, Framing::Done);
        }
        for bad in [&b"x\r\n"[..], b"5\r\nhelloXX\r\n", b"fffffffffffffffff\r\n"] {
            assert!(decode_all(Framing::Chunked(Chunk::Size), bad, 64).is_err());
        }
    }

    #[test]
    fn length_bodies_stop_at_their_length() {
        let (out, end) = decode_all(Framing::Length(3), b"abc", 1).unwrap();
        assert_eq!((out.as_slice(), end), (&b"abc"[..], Framing::Done));
    }

    #[test]
    fn requests_carry_the_instance_context_and_own_framing() {
        let origin = Origin::parse("http://h:8080/ctx").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("accept", HeaderValue::from_static("*/*"));
        headers.insert("content-length", HeaderValue::from_static("999"));
        headers.insert("expect", HeaderValue::from_static("100-continue"));
        let wire = encode_request(
            &origin,
            &Method::POST,
            "/api/v1/x?q=1",
            &headers,
            &Bytes::from_static(b"{}"),
        );
        assert_eq!(
            String::from_utf8(wire).unwrap(),
            "POST /ctx/api/v1/x?q=1 HTTP/1.1\r\nhost: h:8080\r\naccept: */*\r\ncontent-length: 2\r\n\r\n{}"
        );
        let get = encode_request(&origin, &Method::GET, "/", &HeaderMap::new(), &Bytes::new());
        assert_eq!(
            String::from_utf8(get).unwrap(),
            "GET /ctx/ HTTP/1.1\r\nhost: h:8080\r\n\r\n"
        );
    }

    /// A backend speaking raw HTTP/1.1: each connection answers one request
    /// with the next canned response, then stays open or closes.
    async fn raw_backend(
        responses: Vec<(&'static str, bool)>,
    ) -> (u16, tokio::task::JoinHandle<usize>) {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let mut connections = 0;
            for (response, keep_open) in responses {
                let (mut s, _) = listener.accept().await.unwrap();
                connections += 1;
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = s.read(&mut buf).await.unwrap();
                    got.extend_from_slice(&buf[..n]);
                }
                s.write_all(response.as_bytes()).await.unwrap();
                if keep_open {
                    // Held open while the test runs; closed by the next accept's turn.
                    tokio::spawn(async move {
                        let _ = s.read(&mut buf).await;
                    });
                }
            }
            connections
        });
        (port, task)
    }

    async fn get(upstream: &Upstream, origin: &Origin) -> Result<(StatusCode, Vec<u8>), SendError> {
        let response = upstream
            .send(origin, &Method::GET, "/x", &HeaderMap::new(), &Bytes::new())
            .await?;
        let status = response.status();
        let body = axum::body::to_bytes(Body::new(response.into_body()), 1 << 20)
            .await
            .map_err(|e| SendError::Failed(io::Error::other(e)))?;
        Ok((status, body.to_vec()))
    }

    #[tokio::test]
    async fn pooled_connections_are_reused_and_stale_ones_replaced() {
        // 1: chunked, kept alive, then closed by the backend while idle;
        // 2: close-delimited; 3: plain length.
        let (port, backend) = raw_backend(vec![
            (
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                false,
            ),
            ("HTTP/1.1 200 OK\r\n\r\nuntil close", false),
            ("HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok", true),
        ])
        .await;
        let origin = Origin::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let upstream = Upstream::new(None, Duration::from_secs(5));
        assert_eq!(
            get(&upstream, &origin).await.unwrap(),
            (StatusCode::OK, b"abc".to_vec())
        );
        // The first connection went back to the pool, and the backend has
        // closed it: the request goes on a new connection, unseen by the
        // caller.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            get(&upstream, &origin).await.unwrap(),
            (StatusCode::OK, b"until close".to_vec())
        );
        assert_eq!(
            get(&upstream, &origin).await.unwrap(),
            (StatusCode::CREATED, b"ok".to_vec())
        );
        assert_eq!(backend.await.unwrap(), 3);
    }

    #[tokio::test]
    async fn broken_responses_are_failures_and_refused_connections_unreachable() {
        let (port, _backend) = raw_backend(vec![(
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok",
            false,
        )])
        .await;
        let origin = Origin::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let upstream = Upstream::new(None, Duration::from_secs(5));
        assert!(matches!(
            get(&upstream, &origin).await,
            Err(SendError::Failed(_))
        ));
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dead = Origin::parse(&format!("http://{}", closed.local_addr().unwrap())).unwrap();
        drop(closed);
        assert!(matches!(
            get(&upstream, &dead).await,
            Err(SendError::Connect(_))
        ));
    }
}
