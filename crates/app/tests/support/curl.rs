//! curl, the HTTP client of the end-to-end tests, trusting the home's local
//! CA. Shared by the in-process tests of zgate-app and the binary's tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Requests to one zgate on `localhost:<port>`.
pub struct Curl {
    pub port: u16,
    ca_file: PathBuf,
    /// Requests made so far.
    calls: Cell<u32>,
}

impl Curl {
    /// A client of the zgate listening on `port` for the home `home`.
    pub fn new(port: u16, home: &Path) -> Curl {
        Curl {
            port,
            ca_file: home.join("keystore/local_ca/local_ca.cer"),
            calls: Cell::new(0),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }

    pub fn ca_file(&self) -> PathBuf {
        self.ca_file.clone()
    }

    /// `curl --cacert <CA> -s -i <args> <url>`: (status, headers+body text).
    ///
    /// Unless `args` name a protocol, calls alternate between HTTP/1.1 and
    /// HTTP/2, so that every test drives both of the server's request paths
    /// (its plain HTTP/1.1 loop and hyper's HTTP/2).
    pub fn curl(&self, args: &[&str], path: &str) -> (u16, String) {
        let n = self.calls.get();
        self.calls.set(n + 1);
        let protocol = if args.iter().any(|a| a.starts_with("--http")) {
            None
        } else if n.is_multiple_of(2) {
            Some("--http1.1")
        } else {
            Some("--http2")
        };
        let out = Command::new("curl")
            .arg("--cacert")
            .arg(&self.ca_file)
            .args(["-s", "-i", "--max-time", "30"])
            .args(protocol)
            .args(args)
            .arg(self.url(path))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "curl failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, text)
    }

    /// Logs in with Basic credentials; returns the token.
    pub fn login(&self, user: &str, password: &str) -> String {
        let (status, text) = self.curl(
            &["-X", "POST", "-u", &format!("{user}:{password}")],
            "/gateway/api/v1/auth/login",
        );
        assert_eq!(status, 204, "{text}");
        token_from_response(&text)
    }
}

/// The token of a login answer's `Set-Cookie` (a `curl -i` text).
pub fn token_from_response(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no Set-Cookie in {text}"));
    let value = line.split_once(':').unwrap().1.trim();
    value
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("apimlAuthenticationToken=")
        .unwrap()
        .to_string()
}
