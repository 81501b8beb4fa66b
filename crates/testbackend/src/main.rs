//! `zgate-test-backend`: an HTTP echo service for zgate's end-to-end tests.
//!
//! `zgate-test-backend [--port N] [--esm-home DIR --applid APPL]` prints
//! `listening on PORT` and serves, on any path:
//! - default: JSON `{"method","path","headers":{name:[values]},"bodyLength"}`
//!   (the body is read and counted, never kept);
//! - a path ending in `/download?bytes=N`: N bytes streamed in 64 KiB chunks;
//! - a path ending in `/slow?ms=N`: the echo after N ms;
//! - `/application/health`: `{"status":"UP"}`;
//! - with `--tls-home DIR`: HTTPS with that zgate home's server keystore,
//!   asking for a client certificate (verified against its truststore);
//!   the echo then carries `"clientCertificate": "<subject DN>"|null`;
//!   `--tls-cert PEM --tls-key PEM` serve that certificate instead (a wrong
//!   host name, an unknown issuer, an expired one), still asking for a
//!   client certificate verified against the home's truststore;
//! - `Upgrade: websocket`: 101, then a line `upgraded <path> cookie=<cookie>`
//!   and every byte echoed (a raw tunnel check, not a WebSocket codec);
//! - with `--esm-home`: a Basic `Authorization` is checked against that
//!   home's ESM as a password or PassTicket for `--applid` (replay
//!   protection included) and the echo says `"basicValid": true|false`.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

struct Ctx {
    esm: Option<(zgate_esm::Esm, String)>,
}

/// The subject of the client certificate of a TLS connection.
#[derive(Clone)]
struct PeerSubject(Option<String>);

type Out = Response<BoxBody<Bytes, Infallible>>;

fn json(status: u16, v: serde_json::Value) -> Out {
    let mut r = Response::new(Full::new(Bytes::from(v.to_string())).boxed());
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn query(req: &Request<Incoming>, key: &str) -> Option<u64> {
    req.uri().query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.parse().ok()).flatten()
    })
}

async fn handle(
    ctx: Arc<Ctx>,
    peer: Option<PeerSubject>,
    mut req: Request<Incoming>,
) -> Result<Out, Infallible> {
    let path = req.uri().path().to_owned();
    if req
        .headers()
        .get(hyper::header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"))
    {
        // Not a WebSocket implementation: after the 101 it echoes raw bytes,
        // prefixed by what it saw of the request, which is what the
        // gateway's tunnel needs to carry both ways.
        let seen = format!(
            "upgraded {} cookie={}\n",
            path,
            req.headers()
                .get(hyper::header::COOKIE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
        );
        let on = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
            if let Ok(up) = on.await {
                let mut io = TokioIo::new(up);
                let _ = io.write_all(seen.as_bytes()).await;
                let mut buf = [0u8; 4096];
                while let Ok(n) = io.read(&mut buf).await {
                    if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        });
        let mut r = Response::new(Full::new(Bytes::new()).boxed());
        *r.status_mut() = hyper::StatusCode::SWITCHING_PROTOCOLS;
        r.headers_mut().insert(
            hyper::header::UPGRADE,
            hyper::header::HeaderValue::from_static("websocket"),
        );
        r.headers_mut().insert(
            hyper::header::CONNECTION,
            hyper::header::HeaderValue::from_static("Upgrade"),
        );
        return Ok(r);
    }
    if path == "/application/health" {
        return Ok(json(200, serde_json::json!({"status": "UP"})));
    }
    if path.ends_with("/download") {
        let total = query(&req, "bytes").unwrap_or(0);
        let chunk = Bytes::from(vec![b'z'; 64 * 1024]);
        let stream = futures_stream(total, chunk);
        let mut r = Response::new(BodyExt::boxed(stream));
        r.headers_mut().insert(
            hyper::header::CONTENT_LENGTH,
            hyper::header::HeaderValue::from(total),
        );
        return Ok(r);
    }
    if path.ends_with("/slow") {
        tokio::time::sleep(Duration::from_millis(query(&req, "ms").unwrap_or(1000))).await;
    }
    let method = req.method().to_string();
    let full_path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in req.headers() {
        headers
            .entry(k.as_str().to_owned())
            .or_default()
            .push(String::from_utf8_lossy(v.as_bytes()).into_owned());
    }
    let basic = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let mut body = req.into_body();
    let mut length: u64 = 0;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => {
                if let Some(d) = f.data_ref() {
                    length += d.len() as u64;
                }
            }
            Err(_) => break,
        }
    }
    let mut out = serde_json::json!({
        "method": method,
        "path": full_path,
        "headers": headers,
        "bodyLength": length,
    });
    if let Some(PeerSubject(subject)) = peer {
        out["clientCertificate"] =
            subject.map_or(serde_json::Value::Null, serde_json::Value::String);
    }
    if let (Some((esm, applid)), Some(basic)) = (&ctx.esm, basic) {
        let valid = match basic.split_once(':') {
            Some((u, p)) => {
                let _ = esm.reload_if_changed();
                matches!(
                    esm.verify_for_appl(u, p, applid),
                    zgate_esm::VerifyOutcome::Success { .. }
                )
            }
            None => false,
        };
        out["basicValid"] = serde_json::Value::Bool(valid);
    }
    Ok(json(200, out))
}

fn futures_stream(
    total: u64,
    chunk: Bytes,
) -> impl hyper::body::Body<Data = Bytes, Error = Infallible> + Send + 'static {
    // A body that yields `total` bytes in `chunk`-sized frames on demand.
    struct Gen {
        left: u64,
        chunk: Bytes,
    }
    impl hyper::body::Body for Gen {
        type Data = Bytes;
        type Error = Infallible;
        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            if self.left == 0 {
                return std::task::Poll::Ready(None);
            }
            let n = self.left.min(self.chunk.len() as u64) as usize;
            self.left -= n as u64;
            std::task::Poll::Ready(Some(Ok(Frame::data(self.chunk.slice(..n)))))
        }
    }
    Gen { left: total, chunk }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = arg(&args, "--port")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let esm = match (arg(&args, "--esm-home"), arg(&args, "--applid")) {
        (Some(home), Some(applid)) => Some((
            zgate_esm::Esm::open(std::path::Path::new(&home))
                .map_err(|e| std::io::Error::other(e.to_string()))?,
            applid,
        )),
        _ => None,
    };
    let tls = match arg(&args, "--tls-home") {
        Some(home) => {
            let home = std::path::PathBuf::from(home);
            let pw = || zgate_pki::Secret::new("password");
            let keystore = match (arg(&args, "--tls-cert"), arg(&args, "--tls-key")) {
                (Some(certificate), Some(key)) => zgate_pki::KeystoreParams::Pem {
                    key: key.into(),
                    certificate: certificate.into(),
                },
                _ => zgate_pki::KeystoreParams::Pkcs12 {
                    file: home.join("keystore/localhost/localhost.keystore.p12"),
                    password: pw(),
                    alias: None,
                },
            };
            let params = zgate_pki::ServerTlsParams::new(
                keystore,
                Some(zgate_pki::TruststoreParams::Pkcs12 {
                    file: home.join("keystore/localhost/localhost.truststore.p12"),
                    password: pw(),
                }),
            );
            let mut config = zgate_pki::tls::server_config(&params)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
        }
        None => None,
    };
    let ctx = Arc::new(Ctx { esm });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?.port());
    loop {
        let (tcp, _) = listener.accept().await?;
        let ctx = ctx.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let builder = hyper::server::conn::http1::Builder::new();
            match tls {
                None => {
                    let service =
                        hyper::service::service_fn(move |req| handle(ctx.clone(), None, req));
                    let _ = builder
                        .serve_connection(TokioIo::new(tcp), service)
                        .with_upgrades()
                        .await;
                }
                Some(acceptor) => {
                    let Ok(stream) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let subject = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .and_then(|c| zgate_pki::x509::CertInfo::parse(c).ok())
                        .map(|i| i.subject);
                    let peer = PeerSubject(subject);
                    let service = hyper::service::service_fn(move |req| {
                        handle(ctx.clone(), Some(peer.clone()), req)
                    });
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                }
            }
        });
    }
}
