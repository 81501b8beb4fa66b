//! Access tokens of a real, certified OpenID provider (panva's
//! `oidc-provider`, installed by scripts/test.sh into `.tools/node`, its
//! `node_modules` in `ZGATE_TEST_NODE_MODULES`), checked by zgate's strict
//! validator: its RS256 and ES256 JWT access tokens from the
//! client_credentials grant verify with the key set its `jwks_uri` serves,
//! are refused for another issuer, audience or a changed signature, and stay
//! verifiable with the cached keys once the provider is gone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use serde_json::Value;
use zgate_auth::oidc::{
    verify, Algorithm, JwksSource, KeySet, OidcError, ProviderKeys, ProviderPolicy,
};

const AUDIENCE: &str = "zowe-gateway";
const SUBJECT: &str = "alice@example.com";
/// The provider's resource indicators: its tokens are signed RS256 for the
/// first, ES256 for the second (crates/auth/tests/support/oidc_provider.mjs).
const RS256_RESOURCE: &str = "urn:zgate:gateway";
const ES256_RESOURCE: &str = "urn:zgate:gateway:es256";

fn node_modules() -> PathBuf {
    match std::env::var("ZGATE_TEST_NODE_MODULES") {
        Ok(dir) if Path::new(&dir).join("oidc-provider/package.json").exists() => dir.into(),
        _ => panic!(
            "ZGATE_TEST_NODE_MODULES must name a node_modules folder holding oidc-provider; \
             run ./scripts/test.sh, which installs it into .tools/node and exports it"
        ),
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

/// The provider as a child process, killed on drop.
struct Provider {
    child: Child,
    /// Kept open, so the provider never writes to a closed pipe.
    _stdout: BufReader<ChildStdout>,
    issuer: String,
}

impl Provider {
    fn start() -> Provider {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/oidc_provider.mjs");
        let mut child = Command::new("node")
            .arg(&script)
            .arg(node_modules())
            .arg("0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs");
        // Read until the ready line (or the end, if it fails to start).
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut said = String::new();
        let port = loop {
            let mut line = String::new();
            if stdout.read_line(&mut line).unwrap() == 0 {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the provider did not start (its stderr is above); it said {said:?}");
            }
            if let Some(port) = line.trim().strip_prefix("oidc-provider listening ") {
                break port.to_owned();
            }
            said.push_str(&line);
        };
        let issuer = format!("http://127.0.0.1:{port}");
        Provider {
            child,
            _stdout: stdout,
            issuer,
        }
    }

    /// An access token from the client_credentials grant, as a client gets it.
    fn token(&self, resource: &str) -> String {
        let out = Command::new("curl")
            .args([
                "-sS",
                "--fail-with-body",
                "-u",
                "zgate-test:zgate-test-secret",
            ])
            .args(["-d", "grant_type=client_credentials"])
            .args(["-d", &format!("resource={resource}")])
            .arg(format!("{}/token", self.issuer))
            .output()
            .expect("curl runs");
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "the token endpoint said {body}");
        let doc: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc["token_type"], "Bearer", "{body}");
        doc["access_token"].as_str().unwrap().to_owned()
    }

    /// The discovery document's `jwks_uri`, after checking its issuer.
    fn jwks_uri(&self) -> String {
        let body = http_get(&format!("{}/.well-known/openid-configuration", self.issuer)).unwrap();
        let doc: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(doc["issuer"], self.issuer.as_str());
        doc["jwks_uri"].as_str().unwrap().to_owned()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A plain HTTP/1.1 GET of an `http://host:port/path` URL: the body of a 200.
fn http_get(url: &str) -> Result<Vec<u8>, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("not an http URL: {url}"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut conn = TcpStream::connect(authority).map_err(|e| format!("{authority}: {e}"))?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    conn.read_to_end(&mut response).map_err(|e| e.to_string())?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
    let body = &response[split + 4..];
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        return Err(format!("{url}: status {status}"));
    }
    if head.contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        Ok(body.to_vec())
    }
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a cut chunk")?;
        let size = std::str::from_utf8(&body[..eol]).map_err(|e| e.to_string())?;
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16)
            .map_err(|e| e.to_string())?;
        if size == 0 {
            return Ok(out);
        }
        let data = body.get(eol + 2..eol + 2 + size).ok_or("a cut chunk")?;
        out.extend_from_slice(data);
        body = body.get(eol + 4 + size..).ok_or("a cut chunk")?;
    }
}

/// The provider's `jwks_uri`, fetched as a gateway would.
struct HttpJwks(String);

impl JwksSource for HttpJwks {
    fn fetch(&self) -> Result<Vec<u8>, String> {
        http_get(&self.0)
    }
}

fn header(token: &str) -> Value {
    let h = token.split('.').next().unwrap();
    serde_json::from_slice(&B64URL.decode(h).unwrap()).unwrap()
}

/// The token with one byte of its signature changed.
fn with_flipped_signature(token: &str) -> String {
    let (signed, sig) = token.rsplit_once('.').unwrap();
    let mut sig = B64URL.decode(sig).unwrap();
    sig[7] ^= 0x01;
    format!("{signed}.{}", B64URL.encode(sig))
}

#[test]
fn its_rs256_and_es256_tokens_verify_with_its_published_keys() {
    let provider = Provider::start();
    let jwks = http_get(&provider.jwks_uri()).unwrap();
    let keys = KeySet::from_jwks(&jwks).unwrap();
    assert_eq!(keys.len(), 2, "both keys taken: {:?}", keys.skipped);
    assert!(keys.skipped.is_empty(), "{:?}", keys.skipped);
    let policy = ProviderPolicy::new(&provider.issuer, &[AUDIENCE]);

    for (resource, alg) in [(RS256_RESOURCE, "RS256"), (ES256_RESOURCE, "ES256")] {
        let token = provider.token(resource);
        let h = header(&token);
        assert_eq!(h["alg"], alg);
        assert_eq!(h["typ"], "at+jwt");
        assert!(keys.has(h["kid"].as_str().unwrap()));

        let ok = verify(&token, &policy, &keys, now()).unwrap();
        assert_eq!(ok.sub, SUBJECT);
        assert_eq!(ok.claims["iss"], provider.issuer.as_str());
        assert_eq!(ok.claims["aud"], AUDIENCE);
        assert_eq!(ok.claims["client_id"], "zgate-test");
        assert!(ok.exp > now(), "an unexpired token");
    }
}

#[test]
fn its_tokens_are_refused_for_another_issuer_audience_algorithm_or_signature() {
    let provider = Provider::start();
    let keys = KeySet::from_jwks(&http_get(&provider.jwks_uri()).unwrap()).unwrap();
    let policy = ProviderPolicy::new(&provider.issuer, &[AUDIENCE]);
    let other_issuer = ProviderPolicy::new(&format!("{}/", provider.issuer), &[AUDIENCE]);
    let other_audience = ProviderPolicy::new(&provider.issuer, &["another-api"]);
    let mut rsa_only = policy.clone();
    rsa_only.algorithms = vec![Algorithm::Rs256];

    for resource in [RS256_RESOURCE, ES256_RESOURCE] {
        let token = provider.token(resource);
        assert!(verify(&token, &policy, &keys, now()).is_ok());
        assert_eq!(
            verify(&token, &other_issuer, &keys, now()),
            Err(OidcError::WrongIssuer)
        );
        assert_eq!(
            verify(&token, &other_audience, &keys, now()),
            Err(OidcError::WrongAudience)
        );
        assert_eq!(
            verify(&with_flipped_signature(&token), &policy, &keys, now()),
            Err(OidcError::BadSignature)
        );
        // Long after its expiry (600 s, plus the skew).
        assert_eq!(
            verify(&token, &policy, &keys, now() + 3600),
            Err(OidcError::Expired)
        );
    }
    let es256 = provider.token(ES256_RESOURCE);
    assert_eq!(
        verify(&es256, &rsa_only, &keys, now()),
        Err(OidcError::Algorithm("ES256".into()))
    );
}

#[test]
fn keys_fetched_from_its_jwks_uri_verify_and_outlive_it() {
    let mut provider = Provider::start();
    let policy = ProviderPolicy::new(&provider.issuer, &[AUDIENCE]);
    let keys = ProviderKeys::new(Box::new(HttpJwks(provider.jwks_uri())));
    assert!(keys.current().is_empty());
    assert_eq!(keys.refresh(), Ok(2));

    let rs256 = provider.token(RS256_RESOURCE);
    let es256 = provider.token(ES256_RESOURCE);
    for token in [&rs256, &es256] {
        assert_eq!(keys.verify(token, &policy, now()).unwrap().sub, SUBJECT);
    }

    provider.stop();
    // The provider is down: fetching fails, the last good keys stay.
    let err = keys.refresh().expect_err("nothing answers at the jwks_uri");
    assert!(!err.is_empty());
    assert_eq!(keys.current().len(), 2);
    for token in [&rs256, &es256] {
        assert_eq!(keys.verify(token, &policy, now()).unwrap().sub, SUBJECT);
        assert_eq!(
            keys.verify(&with_flipped_signature(token), &policy, now()),
            Err(OidcError::BadSignature)
        );
    }
}
