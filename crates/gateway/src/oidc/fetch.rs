//! Requests to an OpenID provider: its key set, its userinfo endpoint, its
//! token endpoint. HTTPS verified against the gateway's truststore whatever
//! `zowe.verifyCertificates` says (a provider whose certificate is not
//! checked could hand zgate any keys), plain HTTP only to this host
//! ([`zgate_config::is_provider_url`]); bounded in time and size.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// The largest answer read from a provider.
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Why a provider could not be asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// Not an https URL (or http to this host).
    #[error("`{0}` is not an https URL (http only to this host)")]
    Url(String),
    /// No TLS client configuration (the truststore could not be read).
    #[error("no TLS client configuration: the truststore could not be read")]
    NoTls,
    /// The connection or the exchange failed.
    #[error("{0}")]
    Exchange(String),
    /// No answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The answer is larger than [`MAX_ANSWER_BYTES`].
    #[error("the answer is larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
}

/// A provider's answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Bytes,
    /// `Cache-Control: max-age`, in seconds, when the provider sent one.
    pub max_age_s: Option<u64>,
    /// `Location`, for redirects.
    pub location: Option<String>,
}

impl Answer {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

struct Parsed<'a> {
    https: bool,
    host: &'a str,
    port: u16,
    authority: &'a str,
    path: &'a str,
}

fn parse(url: &str) -> Result<Parsed<'_>, FetchError> {
    let bad = || FetchError::Url(url.to_owned());
    if !zgate_config::is_provider_url(url) {
        return Err(bad());
    }
    let (https, rest) = match url.strip_prefix("https://") {
        Some(rest) => (true, rest),
        None => (false, url.strip_prefix("http://").ok_or_else(bad)?),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let path = path.split('#').next().unwrap_or("");
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or_else(bad)?;
            (host, after.strip_prefix(':'))
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port = match port {
        Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(bad)?,
        None if https => 443,
        None => 80,
    };
    Ok(Parsed {
        https,
        host,
        port,
        authority,
        path: if path.is_empty() { "/" } else { path },
    })
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// What asks a provider; one per gateway, cheap to share.
#[derive(Clone)]
pub struct ProviderClient {
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Duration,
}

impl ProviderClient {
    /// A client verifying servers with `tls`; each request ends within `timeout`.
    pub fn new(tls: Option<Arc<rustls::ClientConfig>>, timeout: Duration) -> ProviderClient {
        ProviderClient { tls, timeout }
    }

    /// `GET url`, with `Authorization: Bearer <bearer>` when given.
    pub async fn get(&self, url: &str, bearer: Option<&str>) -> Result<Answer, FetchError> {
        let auth = match bearer {
            Some(token) => Some(
                HeaderValue::from_str(&format!("Bearer {token}"))
                    .map_err(|_| FetchError::Exchange("the token is not a header value".into()))?,
            ),
            None => None,
        };
        self.send(Method::GET, url, auth, None).await
    }

    /// `POST url` of an `application/x-www-form-urlencoded` body, with
    /// HTTP Basic client authentication (`client_secret_basic`).
    pub async fn post_form(
        &self,
        url: &str,
        basic: Option<HeaderValue>,
        form: &[(&str, &str)],
    ) -> Result<Answer, FetchError> {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.send(Method::POST, url, basic, Some(body)).await
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        authorization: Option<HeaderValue>,
        form: Option<String>,
    ) -> Result<Answer, FetchError> {
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, self.exchange(method, url, authorization, form)).await {
            Ok(answer) => answer,
            Err(_) => Err(FetchError::Timeout(timeout)),
        }
    }

    async fn exchange(
        &self,
        method: Method,
        url: &str,
        authorization: Option<HeaderValue>,
        form: Option<String>,
    ) -> Result<Answer, FetchError> {
        let target = parse(url)?;
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            FetchError::Exchange(format!("{what} {}: {e}", target.authority))
        };
        let tcp = TcpStream::connect((target.host, target.port))
            .await
            .map_err(|e| failed("cannot connect to", &e))?;
        let _ = tcp.set_nodelay(true);
        let io: Box<dyn Io> = if target.https {
            let tls = self.tls.clone().ok_or(FetchError::NoTls)?;
            let name = ServerName::try_from(target.host.to_owned())
                .map_err(|e| failed("bad server name", &e))?;
            let stream = tokio_rustls::TlsConnector::from(tls)
                .connect(name, tcp)
                .await
                .map_err(|e| failed("TLS with", &e))?;
            Box::new(stream)
        } else {
            Box::new(tcp)
        };
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| failed("HTTP with", &e))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut request = Request::builder()
            .method(method)
            .uri(target.path)
            .header(header::HOST, target.authority)
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, "zgate");
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        let body = match form {
            Some(form) => {
                request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Full::new(Bytes::from(form))
            }
            None => Full::new(Bytes::new()),
        };
        let request = request
            .body(body)
            .map_err(|e| failed("bad request to", &e))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| failed("no answer from", &e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    FetchError::TooLarge
                } else {
                    failed("cut answer from", &e)
                }
            })?
            .to_bytes();
        Ok(Answer {
            status,
            body,
            max_age_s: headers
                .get(header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok())
                .and_then(max_age),
            location: headers
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        })
    }
}

/// `max-age` of a `Cache-Control` value (`no-store` / `no-cache`: 0).
fn max_age(value: &str) -> Option<u64> {
    let mut age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(0);
        }
        if let Some(n) = lower.strip_prefix("max-age=") {
            age = n.trim_matches('"').parse().ok();
        }
    }
    age
}

/// `application/x-www-form-urlencoded` encoding of one name or value.
pub fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_host_port_and_path() {
        let p = parse("https://idp.example.com/realms/z/keys?x=1#frag").unwrap();
        assert!(p.https);
        assert_eq!(
            (p.host, p.port, p.path),
            ("idp.example.com", 443, "/realms/z/keys?x=1")
        );
        let p = parse("http://127.0.0.1:9000").unwrap();
        assert_eq!(
            (p.host, p.port, p.path, p.https),
            ("127.0.0.1", 9000, "/", false)
        );
        let p = parse("https://[::1]:8443/jwks").unwrap();
        assert_eq!((p.host, p.port), ("::1", 8443));
        for bad in [
            "http://idp.example.com/keys",
            "https://idp.example.com:0/",
            "https://idp.example.com:99999/",
            "https://idp.example.com:x/",
            "https://a@idp.example.com/",
            "file:///etc/passwd",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cache_control_gives_the_keys_lifetime() {
        assert_eq!(max_age("public, max-age=3600"), Some(3600));
        assert_eq!(max_age("max-age=\"60\""), Some(60));
        assert_eq!(max_age("no-store"), Some(0));
        assert_eq!(max_age("public"), None);
    }

    #[test]
    fn form_values_are_percent_encoded() {
        assert_eq!(form_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
