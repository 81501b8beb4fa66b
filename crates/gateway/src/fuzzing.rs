//! Entry points for the fuzz targets in `fuzz/` and the corpus replay test:
//! each takes arbitrary bytes, must never panic, and returns nothing.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use bytes::BytesMut;
use http::{Method, Request, Response};
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt as _;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::routing::proxy::{self, Origin, PooledBody, UpstreamHead};
use crate::routing::services::parse_file;

/// A size to cut the input into reads of, taken from the input itself so
/// that the fuzzer steers the split points along with the bytes (1 to 64).
fn step_for(data: &[u8]) -> usize {
    1 + data.iter().fold(0u8, |acc, b| acc.rotate_left(1) ^ b) as usize % 64
}

/// A peer that sends `input` in reads of at most `step` bytes, then closes,
/// and swallows whatever is written to it.
struct Wire<'a> {
    input: &'a [u8],
    step: usize,
}

impl AsyncRead for Wire<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let n = this.step.min(this.input.len()).min(buf.remaining());
        let (now, rest) = this.input.split_at(n);
        buf.put_slice(now);
        this.input = rest;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Wire<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A response body of unknown size, so that the loop writes it chunked.
struct Unsized(Option<Bytes>);

impl http_body::Body for Unsized {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Poll::Ready(self.get_mut().0.take().map(|b| Ok(Frame::data(b))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// What the fuzzed server answers: the request body read whole, then a
/// body of known length for GET and HEAD and one of unknown length (chunked
/// on the wire) for anything else.
async fn answer(request: Request<Body>) -> Response<Body> {
    let method = request.method().clone();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    if method == Method::GET || method == Method::HEAD {
        Response::new(Body::from("plain"))
    } else {
        Response::new(Body::new(Unsized(Some(body))))
    }
}

thread_local! {
    static RUNTIME: Option<tokio::runtime::Runtime> = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .ok();
}

fn block_on<F: std::future::Future>(future: F) -> Option<F::Output> {
    RUNTIME.with(|rt| rt.as_ref().map(|rt| rt.block_on(future)))
}

/// The bytes a client sends on an HTTP/1.1 connection: the server loop's
/// plain-request path (head parsing, body framing, pipelining, hand-over to
/// hyper), read whole and again in reads cut at input-chosen points.
pub fn h1_request_head(data: &[u8]) {
    for step in [usize::MAX, step_for(data)] {
        block_on(async {
            let (_stop, mut stopping) = tokio::sync::watch::channel(false);
            let mut wire = Wire { input: data, step };
            let _ =
                crate::h1::serve(&mut wire, answer, Duration::from_secs(60), &mut stopping).await;
        });
    }
}

/// What a response read from an upstream amounts to, for comparing two
/// readings of the same bytes.
#[derive(Debug, PartialEq, Eq)]
struct Reading {
    status: u16,
    headers: usize,
    keep_alive: bool,
    body: Vec<u8>,
    complete: bool,
}

/// Reads `data` as the proxy reads a backend's answer: heads (interim ones
/// skipped) until the final one, then the body by its framing, the bytes
/// arriving `step` at a time.
fn read_upstream(data: &[u8], step: usize, head_only: bool) -> io::Result<Reading> {
    let mut pieces = data.chunks(step.max(1));
    let mut buf = BytesMut::new();
    let head = loop {
        match proxy::parse_head(&mut buf, head_only)? {
            Some(UpstreamHead::Interim) => continue,
            Some(UpstreamHead::Final(head)) => break head,
            None if buf.len() >= proxy::MAX_HEAD => {
                return Err(io::Error::other("the response head is too large"))
            }
            None => match pieces.next() {
                Some(piece) => buf.extend_from_slice(piece),
                None => return Err(io::ErrorKind::UnexpectedEof.into()),
            },
        }
    };
    let mut body = PooledBody {
        conn: None,
        buf,
        framing: head.framing,
        keep_alive: head.keep_alive,
        upstream: u64::MAX,
        base: Arc::from(""),
    };
    let mut out = Vec::new();
    loop {
        while let Some(data) = body.decode()? {
            out.extend_from_slice(&data);
        }
        match pieces.next() {
            Some(piece) => body.buf.extend_from_slice(piece),
            None => break,
        }
    }
    Ok(Reading {
        status: head.response.status().as_u16(),
        headers: head.response.headers().len(),
        keep_alive: head.keep_alive,
        body: out,
        complete: http_body::Body::is_end_stream(&body),
    })
}

/// A backend's response bytes: the response-head parser and the body
/// decoders (chunked, length, to the close), read whole and in pieces of an
/// input-chosen size. Where both readings succeed they must agree: framing
/// may not depend on how the bytes arrived.
pub fn upstream_response(data: &[u8]) {
    let whole = read_upstream(data, usize::MAX, false);
    let split = read_upstream(data, step_for(data), false);
    if let (Ok(whole), Ok(split)) = (&whole, &split) {
        assert_eq!(whole, split, "the same response read two ways differs");
    }
    let _ = read_upstream(data, usize::MAX, true);
}

/// A static service definition file (API ML's format): parsing and
/// validation with file:line errors, then every instance base URL parsed as
/// the proxy parses it.
pub fn static_definitions(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut seen = BTreeMap::new();
    match parse_file(Path::new("fuzz.yml"), &text, &mut seen) {
        Ok(services) => {
            for service in &services {
                for url in &service.instance_base_urls {
                    let _ = Origin::parse(url);
                }
            }
        }
        Err(errors) => {
            for e in &errors {
                let _ = e.to_string();
            }
        }
    }
}

/// A request path as a client sends it: normalized or refused, and what is
/// accepted is normal (normalizing it again changes nothing) and has no dot
/// segment, empty inner segment or control character left.
pub fn request_target(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(target) = crate::target::accept(text) else {
        return;
    };
    let again = crate::target::normalize(&target.path).map(|t| t.path);
    assert_eq!(again.as_deref(), Ok(target.path.as_str()), "{text:?}");
    let segments: Vec<&str> = target.path[1..].split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        assert!(*segment != "." && *segment != "..", "{text:?}");
        assert!(!segment.is_empty() || i + 1 == segments.len(), "{text:?}");
    }
    assert!(
        !target.path.bytes().any(|b| b.is_ascii_control()),
        "{text:?}"
    );
}
