//! The HTTP/1.1 server loop for plain requests.
//!
//! Most requests a gateway sees are plain: HTTP/1.1, a head, and either no
//! body or a small one of stated length. This loop reads those, hands each to
//! the same service hyper would call, and writes the response, without
//! hyper's general machinery (per-connection dispatcher, body channels,
//! upgrade plumbing). Everything else (a chunked or large body, `Expect`, an
//! upgrade, HTTP/1.0, an absolute-form target, any head it cannot parse) is
//! handed, with the bytes already read, to hyper for the rest of the
//! connection; hyper then answers it exactly as it would have from the
//! start. HTTP/2 never comes here.
//!
//! Invariants:
//! - A request is handed over whole or not at all: nothing of it is
//!   consumed before it is known to be plain.
//! - The framing of what is passed on is this loop's own: a request body
//!   is exactly its `Content-Length` bytes, a response is framed by the body
//!   it carries (`Content-Length` when its size is known, chunked otherwise),
//!   never by a header some handler or backend set.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use axum::body::{Body, Bytes};
use bytes::{Buf, BytesMut};
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::wire::{connection_tokens, content_length, read_more};

/// Most headers a plain request may carry (more: hyper's turn).
const MAX_HEADERS: usize = 64;
/// Largest plain request head; larger ones go to hyper (which refuses them).
const MAX_HEAD: usize = 16 * 1024;
/// Largest body read whole here; larger ones stream through hyper.
const MAX_BODY: u64 = 64 * 1024;

/// How a connection left the loop.
pub enum LoopExit {
    /// Closed (by the client, by an error, or for shutdown).
    Closed,
    /// The next request is not plain: hyper serves the connection from
    /// here, starting with these bytes.
    HandOver(Bytes),
}

/// Serves plain requests on `io` with `service` until the connection ends,
/// `stopping` turns true, or a request needs hyper. `header_timeout` bounds
/// the wait for each request's head and body (slow clients, idle
/// keep-alive).
pub async fn serve<IO, S, F>(
    io: &mut IO,
    service: S,
    header_timeout: Duration,
    stopping: &mut tokio::sync::watch::Receiver<bool>,
) -> LoopExit
where
    IO: AsyncRead + AsyncWrite + Unpin,
    S: Fn(Request<Body>) -> F,
    F: std::future::Future<Output = Response<Body>>,
{
    let mut buf = BytesMut::with_capacity(crate::wire::READ_CHUNK);
    loop {
        // Shutdown closes a connection only between requests: once a
        // request's first bytes are in, it is read and answered.
        if buf.is_empty() {
            let first = tokio::select! {
                first = tokio::time::timeout(header_timeout, read_more(io, &mut buf)) => first,
                _ = stopping.wait_for(|stop| *stop) => return LoopExit::Closed,
            };
            if !matches!(first, Ok(Ok(n)) if n > 0) {
                return LoopExit::Closed;
            }
        }
        let next = tokio::time::timeout(header_timeout, read_request(io, &mut buf)).await;
        let plain = match next {
            Ok(Ok(Some(NextRequest::Plain(plain)))) => plain,
            Ok(Ok(Some(NextRequest::NotPlain))) => return LoopExit::HandOver(buf.freeze()),
            Ok(Ok(None)) | Ok(Err(_)) | Err(_) => return LoopExit::Closed,
        };
        let head_only = plain.request.method() == Method::HEAD;
        let keep_alive = plain.keep_alive && !*stopping.borrow();
        let response = service(plain.request).await;
        if write_response(io, response, head_only, keep_alive)
            .await
            .is_err()
            || !keep_alive
        {
            let _ = io.shutdown().await;
            return LoopExit::Closed;
        }
    }
}

/// A plain request, read whole.
struct PlainRequest {
    request: Request<Body>,
    keep_alive: bool,
}

// Built once per request and moved once; boxing would allocate per request.
#[allow(clippy::large_enum_variant)]
enum NextRequest {
    Plain(PlainRequest),
    /// Not for this loop; `buf` holds all of it read so far.
    NotPlain,
}

/// Reads the next request. `None`: the client closed between requests.
async fn read_request<IO: AsyncRead + Unpin>(
    io: &mut IO,
    buf: &mut BytesMut,
) -> io::Result<Option<NextRequest>> {
    loop {
        if !buf.is_empty() {
            match parse(buf)? {
                BufferedHead::Incomplete if buf.len() >= MAX_HEAD => {
                    return Ok(Some(NextRequest::NotPlain))
                }
                BufferedHead::Incomplete => {}
                BufferedHead::NotPlain => return Ok(Some(NextRequest::NotPlain)),
                BufferedHead::Plain {
                    head_len,
                    body_len,
                    mut request,
                    keep_alive,
                } => {
                    let total = head_len + body_len;
                    buf.reserve(total.saturating_sub(buf.len()));
                    while buf.len() < total {
                        if read_more(io, buf).await? == 0 {
                            return Err(io::ErrorKind::UnexpectedEof.into());
                        }
                    }
                    buf.advance(head_len);
                    *request.body_mut() = if body_len == 0 {
                        Body::empty()
                    } else {
                        Body::from(buf.split_to(body_len).freeze())
                    };
                    return Ok(Some(NextRequest::Plain(PlainRequest {
                        request,
                        keep_alive,
                    })));
                }
            }
        }
        if read_more(io, buf).await? == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
    }
}

/// What the front of the read buffer holds.
#[allow(clippy::large_enum_variant)]
enum BufferedHead {
    /// Not a whole head yet.
    Incomplete,
    /// A request for hyper.
    NotPlain,
    /// A plain request's head; its body (`body_len` bytes) follows it.
    Plain {
        head_len: usize,
        body_len: usize,
        request: Request<Body>,
        keep_alive: bool,
    },
}

/// Parses the request head at the front of `buf` without consuming it.
fn parse(buf: &[u8]) -> io::Result<BufferedHead> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut slots);
    let head_len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(BufferedHead::Incomplete),
        // Too many headers, bad bytes: hyper gives the answer.
        Err(_) => return Ok(BufferedHead::NotPlain),
    };
    let (Some(method), Some(path), Some(1)) = (parsed.method, parsed.path, parsed.version) else {
        return Ok(BufferedHead::NotPlain);
    };
    // Origin-form only (`/path?query`).
    if !path.starts_with('/') {
        return Ok(BufferedHead::NotPlain);
    }
    let (Ok(method), Ok(uri)) = (
        Method::from_bytes(method.as_bytes()),
        path.parse::<http::Uri>(),
    ) else {
        return Ok(BufferedHead::NotPlain);
    };
    if method == Method::CONNECT {
        return Ok(BufferedHead::NotPlain);
    }
    let mut headers = HeaderMap::with_capacity(parsed.headers.len());
    let mut body_len: Option<u64> = None;
    let mut keep_alive = true;
    for h in parsed.headers.iter() {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_bytes(h.value),
        ) else {
            return Ok(BufferedHead::NotPlain);
        };
        if name == header::TRANSFER_ENCODING || name == header::EXPECT || name == header::UPGRADE {
            return Ok(BufferedHead::NotPlain);
        }
        if name == header::CONTENT_LENGTH {
            match (content_length(h.value), body_len) {
                (Some(n), None) if n <= MAX_BODY => body_len = Some(n),
                // Repeated, unparsable or large: hyper's rules apply.
                _ => return Ok(BufferedHead::NotPlain),
            }
        }
        if name == header::CONNECTION {
            for token in connection_tokens(h.value) {
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"upgrade") {
                    return Ok(BufferedHead::NotPlain);
                }
            }
        }
        headers.append(name, value);
    }
    let body_len = usize::try_from(body_len.unwrap_or(0)).map_err(io::Error::other)?;
    let mut request = Request::new(Body::empty());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    Ok(BufferedHead::Plain {
        head_len,
        body_len,
        request,
        keep_alive,
    })
}

/// Writes `response`, framed by its body. The head and a body that is
/// complete at once go out in one write.
async fn write_response<IO: AsyncWrite + Unpin>(
    io: &mut IO,
    response: Response<Body>,
    head_only: bool,
    keep_alive: bool,
) -> io::Result<()> {
    let (parts, mut body) = response.into_parts();
    let status = parts.status;
    let no_body = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let size = http_body::Body::size_hint(&body).exact();
    let chunked = !no_body && !head_only && size.is_none();

    let mut out = Vec::with_capacity(512 + size.map_or(0, |s| s.min(64 * 1024) as usize));
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    let mut has_date = false;
    for (name, value) in &parts.headers {
        if name == header::TRANSFER_ENCODING
            || name == header::CONNECTION
            // A HEAD response states the length a GET would have had.
            || (name == header::CONTENT_LENGTH && !head_only)
        {
            continue;
        }
        has_date |= name == header::DATE;
        put_header(&mut out, name.as_str().as_bytes(), value.as_bytes());
    }
    if !has_date {
        put_header(&mut out, b"date", http_date().as_bytes());
    }
    if !keep_alive {
        put_header(&mut out, b"connection", b"close");
    }
    if !no_body && !head_only {
        match size {
            Some(n) => put_header(&mut out, b"content-length", n.to_string().as_bytes()),
            None => put_header(&mut out, b"transfer-encoding", b"chunked"),
        }
    }
    out.extend_from_slice(b"\r\n");

    if !no_body && !head_only {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(io::Error::other)?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if data.is_empty() {
                continue;
            }
            if chunked {
                out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
                out.extend_from_slice(&data);
                out.extend_from_slice(b"\r\n");
            } else {
                out.extend_from_slice(&data);
            }
            // More to come, maybe not at once: what is here goes now.
            if !http_body::Body::is_end_stream(&body) {
                io.write_all(&out).await?;
                out.clear();
            }
        }
        if chunked {
            out.extend_from_slice(b"0\r\n\r\n");
        }
    }
    io.write_all(&out).await?;
    io.flush().await
}

fn put_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The `Date` value, formatted once a second per thread.
fn http_date() -> String {
    use std::cell::RefCell;
    thread_local! {
        static CACHE: RefCell<(u64, String)> = const { RefCell::new((0, String::new())) };
    }
    let now = SystemTime::now();
    let second = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.0 != second || cache.1.is_empty() {
            *cache = (second, httpdate::fmt_http_date(now));
        }
        cache.1.clone()
    })
}

/// A connection whose first bytes were already read: they are read again
/// first (hyper's view of a handed-over connection).
pub struct Replayed<IO> {
    prefix: Bytes,
    io: IO,
}

impl<IO> Replayed<IO> {
    /// `prefix` is read before anything from `io`.
    pub fn new(prefix: Bytes, io: IO) -> Self {
        Self { prefix, io }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Replayed<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix.split_to(n));
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Replayed<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn kind(raw: &str) -> &'static str {
        match parse(raw.as_bytes()).unwrap() {
            BufferedHead::Incomplete => "incomplete",
            BufferedHead::NotPlain => "hyper",
            BufferedHead::Plain { .. } => "plain",
        }
    }

    #[test]
    fn only_plain_requests_stay_here() {
        assert_eq!(kind("GET /a HTTP/1.1\r\nhost: x\r\n\r\n"), "plain");
        assert_eq!(
            kind("POST /a HTTP/1.1\r\ncontent-length: 3\r\n\r\nabc"),
            "plain"
        );
        assert_eq!(kind("GET /a HTTP/1.1\r\nhost: x\r\n"), "incomplete");
        for raw in [
            "GET /a HTTP/1.0\r\n\r\n",
            "GET http://x/a HTTP/1.1\r\n\r\n",
            "CONNECT x:443 HTTP/1.1\r\n\r\n",
            "POST /a HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n",
            "POST /a HTTP/1.1\r\ncontent-length: 3\r\ncontent-length: 3\r\n\r\n",
            "POST /a HTTP/1.1\r\ncontent-length: +3\r\n\r\n",
            "POST /a HTTP/1.1\r\ncontent-length: 99999999\r\n\r\n",
            "POST /a HTTP/1.1\r\nexpect: 100-continue\r\ncontent-length: 3\r\n\r\n",
            "GET /ws HTTP/1.1\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n",
            "GET /a HTTP/1.1\r\nbad header\r\n\r\n",
            "GET /a b HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(kind(raw), "hyper", "{raw:?}");
        }
    }

    /// Serves `wire` through the loop with an echoing service; returns what
    /// was written back and how the loop ended.
    async fn run(wire: &[u8]) -> (String, LoopExit) {
        let (mut client, mut server) = tokio::io::duplex(1 << 20);
        client.write_all(wire).await.unwrap();
        client.shutdown().await.unwrap();
        let (_tx, mut stopping) = tokio::sync::watch::channel(false);
        let outcome = serve(
            &mut server,
            |request: Request<Body>| async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
                let text = format!("{} {} {}", parts.method, parts.uri, body.len());
                let mut response = Response::new(Body::from(text));
                response
                    .headers_mut()
                    .insert("content-length", HeaderValue::from_static("999"));
                response
            },
            Duration::from_secs(5),
            &mut stopping,
        )
        .await;
        drop(server);
        let mut out = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut client, &mut out)
            .await
            .unwrap();
        (out, outcome)
    }

    #[tokio::test]
    async fn pipelined_requests_are_answered_in_order_and_framed_by_their_bodies() {
        let (out, outcome) =
            run(b"POST /a HTTP/1.1\r\ncontent-length: 3\r\n\r\nabcGET /b?q=1 HTTP/1.1\r\n\r\n")
                .await;
        assert!(matches!(outcome, LoopExit::Closed));
        let bodies: Vec<&str> = out
            .split("\r\n\r\n")
            .skip(1)
            .map(|s| s.split("HTTP/1.1").next().unwrap())
            .collect();
        assert_eq!(bodies, ["POST /a 3", "GET /b?q=1 0"]);
        // The handler's own Content-Length is not what frames the response.
        assert!(!out.contains("999"), "{out}");
        assert_eq!(out.matches("content-length: 9\r\n").count(), 1, "{out}");
    }

    #[tokio::test]
    async fn a_request_that_is_not_plain_is_handed_over_whole() {
        let wire = b"GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n";
        let (out, outcome) = run(wire).await;
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
        let LoopExit::HandOver(rest) = outcome else {
            panic!("not handed over")
        };
        assert_eq!(&rest[..], &wire[19..]);
    }

    #[tokio::test]
    async fn connection_close_is_honoured() {
        let (out, _) =
            run(b"GET /a HTTP/1.1\r\nconnection: close\r\n\r\nGET /b HTTP/1.1\r\n\r\n").await;
        assert_eq!(out.matches("HTTP/1.1 200").count(), 1, "{out}");
        assert!(out.contains("connection: close\r\n"));
    }

    async fn written(response: Response<Body>, head_only: bool) -> String {
        let mut out = Vec::new();
        write_response(&mut out, response, head_only, true)
            .await
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[tokio::test]
    async fn responses_are_framed_by_their_bodies() {
        // Size unknown: chunked.
        let stream = http_body_util::StreamBody::new(tokio_stream_of(&["ab", "cde"]));
        let out = written(Response::new(Body::new(stream)), false).await;
        assert!(out.contains("transfer-encoding: chunked\r\n"), "{out}");
        assert!(
            out.ends_with("\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"),
            "{out}"
        );
        // HEAD: the length a GET would have, and no body.
        let mut head = Response::new(Body::empty());
        head.headers_mut()
            .insert("content-length", HeaderValue::from_static("42"));
        let out = written(head, true).await;
        assert!(
            out.contains("content-length: 42\r\n") && out.ends_with("\r\n\r\n"),
            "{out}"
        );
        // 204: neither length nor body.
        let mut empty = Response::new(Body::from("ignored"));
        *empty.status_mut() = StatusCode::NO_CONTENT;
        let out = written(empty, false).await;
        assert!(
            !out.contains("content-length") && out.ends_with("\r\n\r\n"),
            "{out}"
        );
        assert!(
            out.starts_with("HTTP/1.1 204 No Content\r\n") && out.contains("date: "),
            "{out}"
        );
    }

    fn tokio_stream_of(
        parts: &[&'static str],
    ) -> impl futures_util::Stream<Item = Result<http_body::Frame<Bytes>, io::Error>> {
        futures_util::stream::iter(
            parts
                .iter()
                .map(|p| Ok(http_body::Frame::data(Bytes::from_static(p.as_bytes()))))
                .collect::<Vec<_>>(),
        )
    }
}
