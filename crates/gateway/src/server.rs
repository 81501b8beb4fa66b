//! The TLS listener: rustls handshakes (ALPN h2 / http/1.1), plain
//! HTTP/1.1 requests in [`crate::h1`]'s loop, everything else in hyper's
//! auto HTTP/1.1 + HTTP/2 connections, graceful shutdown (stop accepting,
//! let in-flight requests finish within a grace period). The server
//! configuration is read per connection from a [`ServerTls`], so a
//! replaced certificate or truststore serves the next handshake while open
//! connections keep the one they were made with.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

// Other crates name the connection facts at this path.
pub use crate::peer::{PeerCertificates, RemoteAddr};
use crate::routes::Gateway;

/// How long a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client has to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The server configuration new connections are accepted with; replaced
/// whole (certificate, key and client verifier together) by a reload.
/// Cheap to clone: every clone sees the replacement.
#[derive(Clone)]
pub struct ServerTls(Arc<std::sync::RwLock<Arc<rustls::ServerConfig>>>);

impl ServerTls {
    /// Starts with `config`.
    pub fn new(config: Arc<rustls::ServerConfig>) -> ServerTls {
        ServerTls(Arc::new(std::sync::RwLock::new(config)))
    }

    /// The configuration for the next handshake.
    pub fn current(&self) -> Arc<rustls::ServerConfig> {
        match self.0.read() {
            Ok(config) => config.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the configuration for the handshakes after this call.
    pub fn replace(&self, config: Arc<rustls::ServerConfig>) {
        match self.0.write() {
            Ok(mut current) => *current = config,
            Err(poisoned) => *poisoned.into_inner() = config,
        }
    }
}

impl From<Arc<rustls::ServerConfig>> for ServerTls {
    fn from(config: Arc<rustls::ServerConfig>) -> ServerTls {
        ServerTls::new(config)
    }
}

/// What a worker receives for each accepted connection.
struct Accepted {
    tcp: std::net::TcpStream,
    remote: SocketAddr,
    watcher: Watcher,
}

/// Serves `app` over TLS on `listener` until `shutdown` completes, then waits
/// up to `grace` for open connections to finish their requests.
///
/// Thread per core: the caller's runtime only accepts; each accepted
/// connection goes, round-robin, to one of `available_parallelism` worker
/// threads, each running its own single-threaded runtime. A connection and
/// the upstream requests it makes (the routing client is per thread too)
/// then live on one thread: no task migrates between cores and no wake-up
/// crosses threads, which on a loaded machine is most of a proxy's cost.
pub async fn serve_tls(
    listener: TcpListener,
    tls: impl Into<ServerTls>,
    app: Gateway,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()> {
    let tls = tls.into();
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    // Slow-loris: a client gets HEADER_READ_TIMEOUT to send its request
    // headers (HTTP/1.1); HTTP/2 connections are pinged and bounded in streams.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .max_concurrent_streams(256);

    let count = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    // Workers run until told the drain is over (dropping their runtime
    // earlier would cancel the requests the drain waits for).
    let (drained_tx, drained_rx) = tokio::sync::watch::channel(false);
    // Tells the plain-request loops to close their idle connections (hyper's
    // connections hear it from the graceful shutdown).
    let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
    let mut workers = Vec::with_capacity(count);
    let mut threads = Vec::with_capacity(count);
    for index in 0..count {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<Accepted>();
        workers.push(sender);
        let worker = Worker {
            tls: tls.clone(),
            app: app.clone(),
            builder: builder.clone(),
            stopping: stopping_rx.clone(),
        };
        let mut drained = drained_rx.clone();
        threads.push(
            std::thread::Builder::new()
                .name(format!("zgate-worker-{index}"))
                .spawn(move || {
                    runtime.block_on(async move {
                        worker.run(receiver).await;
                        let _ = drained.wait_for(|done| *done).await;
                    });
                })?,
        );
    }

    tokio::pin!(shutdown);
    let mut next = 0usize;
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let Ok(tcp) = tcp.into_std() else { continue };
        let accepted = Accepted {
            tcp,
            remote,
            watcher: graceful.watcher(),
        };
        if let Some(worker) = workers.get(next % workers.len()) {
            // A send fails only when that worker has died; the connection
            // is then closed, not served.
            let _ = worker.send(accepted);
        }
        next = next.wrapping_add(1);
    }
    drop(listener);
    drop(workers);
    tracing::info!("shutting down: waiting for in-flight requests");
    let _ = stopping_tx.send(true);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("grace period over; closing remaining connections");
    }
    let _ = drained_tx.send(true);
    let _ = tokio::task::spawn_blocking(move || {
        for thread in threads {
            let _ = thread.join();
        }
    })
    .await;
    Ok(())
}

/// One worker thread's share of the server.
struct Worker {
    tls: ServerTls,
    app: Gateway,
    builder: Builder<TokioExecutor>,
    stopping: tokio::sync::watch::Receiver<bool>,
}

impl Worker {
    /// Serves the connections it is handed until the acceptor goes away.
    async fn run(self, mut receiver: tokio::sync::mpsc::UnboundedReceiver<Accepted>) {
        while let Some(accepted) = receiver.recv().await {
            // `from_std` registers the socket with this thread's reactor.
            let tcp = match TcpStream::from_std(accepted.tcp) {
                Ok(tcp) => tcp,
                Err(error) => {
                    tracing::debug!(remote = %accepted.remote, %error, "cannot adopt connection");
                    continue;
                }
            };
            // The configuration current at the accept: a reload applies to
            // the handshakes after it.
            tokio::spawn(serve_connection(
                TlsAcceptor::from(self.tls.current()),
                self.app.clone(),
                self.builder.clone(),
                tcp,
                accepted.remote,
                accepted.watcher,
                self.stopping.clone(),
            ));
        }
    }
}

/// One connection: the TLS handshake, then plain HTTP/1.1 requests in
/// [`crate::h1`]'s loop and anything else (HTTP/2, or the first request
/// that is not plain, and all after it) in hyper.
async fn serve_connection(
    acceptor: TlsAcceptor,
    app: Gateway,
    builder: Builder<TokioExecutor>,
    tcp: TcpStream,
    remote: SocketAddr,
    watcher: Watcher,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let mut tls_stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            tracing::debug!(%remote, %error, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%remote, "TLS handshake timed out");
            return;
        }
    };
    let peer = tls_stream.get_ref().1.peer_certificates().map(|certs| {
        PeerCertificates(Arc::new(
            certs.iter().map(|c| c.clone().into_owned()).collect(),
        ))
    });
    // Every request of the connection, whoever parsed it, carries the same
    // connection facts.
    let with_connection = move |extensions: &mut http::Extensions| {
        extensions.insert(RemoteAddr(remote));
        if let Some(peer) = &peer {
            extensions.insert(peer.clone());
        }
    };
    let replayed = if tls_stream.get_ref().1.alpn_protocol() == Some(b"h2") {
        Bytes::new()
    } else {
        let plain = |mut request: http::Request<Body>| {
            with_connection(request.extensions_mut());
            app.serve(request)
        };
        match crate::h1::serve(&mut tls_stream, plain, HEADER_READ_TIMEOUT, &mut stopping).await {
            crate::h1::LoopExit::Closed => return,
            crate::h1::LoopExit::HandOver(replayed) => replayed,
        }
    };
    let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
        with_connection(request.extensions_mut());
        let app = app.clone();
        async move { Ok::<_, std::convert::Infallible>(app.serve(request.map(Body::new)).await) }
    });
    let io = TokioIo::new(crate::h1::Replayed::new(replayed, tls_stream));
    let connection = builder
        .serve_connection_with_upgrades(io, service)
        .into_owned();
    if let Err(error) = watcher.watch(connection).await {
        tracing::debug!(%remote, error = %error, "connection closed with an error");
    }
}
