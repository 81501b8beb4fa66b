//! The upstream HTTP client: hyper-util's pooled legacy client over a small
//! connector that speaks plain TCP for `http://` instances and rustls (ring
//! provider, the `pki::tls::client_config` of `zowe.verifyCertificates`) for
//! `https://` ones. Bodies stream both ways; nothing is buffered whole.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// The pooled client routed requests go through.
pub type UpstreamClient = Client<Connector, Body>;

/// Connects to instances: TCP, plus TLS for `https`.
#[derive(Clone)]
pub struct Connector {
    tls: Option<TlsConnector>,
    connect_timeout: Duration,
}

impl Connector {
    /// `tls` = None refuses `https` instances.
    pub fn new(tls: Option<Arc<rustls::ClientConfig>>, connect_timeout: Duration) -> Self {
        Self {
            tls: tls.map(TlsConnector::from),
            connect_timeout,
        }
    }
}

/// A connection to an instance.
pub enum Stream {
    /// `http://`.
    Plain(TcpStream),
    /// `https://`.
    Tls(Box<TlsStream<TcpStream>>),
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

/// The connection type the client sees.
pub struct Conn(TokioIo<Stream>);

impl Connection for Conn {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower::Service<Uri> for Connector {
    type Response = Conn;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let https = match uri.scheme_str() {
                Some("https") => true,
                Some("http") => false,
                _ => return Err("unsupported scheme".into()),
            };
            let host = uri.host().ok_or("no host")?.to_owned();
            let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
            let bare = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            let tcp = tokio::time::timeout(
                this.connect_timeout,
                TcpStream::connect((bare.as_str(), port)),
            )
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
            let _ = tcp.set_nodelay(true);
            let stream = if https {
                let tls = this
                    .tls
                    .as_ref()
                    .ok_or("TLS to services is not configured")?;
                let name = ServerName::try_from(bare)?;
                Stream::Tls(Box::new(tls.connect(name, tcp).await?))
            } else {
                Stream::Plain(tcp)
            };
            Ok(Conn(TokioIo::new(stream)))
        })
    }
}

/// A pooled client (keep-alive to instances, idle connections dropped
/// after 90 s).
fn client(connector: Connector) -> UpstreamClient {
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(64)
        .build(connector)
}

/// How many per-thread pools a [`Clients`] holds; threads beyond it share.
const CLIENT_SLOTS: usize = 64;

static NEXT_SLOT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

thread_local! {
    static SLOT: usize = NEXT_SLOT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % CLIENT_SLOTS;
}

/// One pooled client per thread. hyper's client runs each upstream
/// connection as a task on the runtime that opened it; a pool shared by the
/// server's per-core workers would hand a connection opened on one core to
/// a request on another, and every request and response would then cross
/// threads. A pool per thread keeps a request and its upstream connection
/// on the same core (the server runs one single-threaded runtime per core).
pub struct Clients {
    connector: Connector,
    slots: Box<[std::sync::OnceLock<UpstreamClient>]>,
}

impl Clients {
    /// Pools are opened lazily, on a thread's first request.
    pub fn new(connector: Connector) -> Self {
        Self {
            connector,
            slots: (0..CLIENT_SLOTS)
                .map(|_| std::sync::OnceLock::new())
                .collect(),
        }
    }

    /// The calling thread's client.
    pub fn get(&self) -> &UpstreamClient {
        let slot = SLOT.with(|slot| *slot);
        self.slots[slot % self.slots.len()].get_or_init(|| client(self.connector.clone()))
    }
}
