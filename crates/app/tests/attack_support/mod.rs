//! Support for the adversarial end-to-end suite: zgate in this process, the
//! echo backend, and requests sent in batches, one curl process per batch.
//!
//! A batch is one curl process with `--next` between requests, so that
//! hundreds of cases cost a few process starts and TLS handshakes rather
//! than one of each per case; every request still carries its own protocol
//! option, so one batch can mix HTTP/1.1 and HTTP/2.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use base64::Engine as _;

pub use crate::support::{Backend, ClientCert, SteppedClock, Zgate};
pub use zgate_auth::Clock as _;

pub const X509_ON: &str = "components.gateway.apiml.security.x509.enabled=true";
pub const PAT_ON: &str = "components.gateway.apiml.security.personalAccessToken.enabled=true";

/// Every request-level case runs over both of the server's request paths:
/// its own HTTP/1.1 loop and hyper's HTTP/2 (TLS ALPN).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    H1,
    H2,
}

pub const BOTH: [Proto; 2] = [Proto::H1, Proto::H2];

impl Proto {
    fn curl_arg(self) -> &'static str {
        match self {
            Proto::H1 => "--http1.1",
            Proto::H2 => "--http2",
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Proto::H1 => "HTTP/1.1",
            Proto::H2 => "HTTP/2",
        }
    }
}

/// One request, as curl is to send it.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: String,
    /// The request target, sent as it is (`--path-as-is`).
    pub target: String,
    /// Send `target` with `--request-target`: for bytes curl refuses in a
    /// URL (raw control characters).
    pub raw_target: bool,
    pub headers: Vec<String>,
    pub body: Option<String>,
    /// Anything else for curl (client certificate options).
    pub args: Vec<String>,
}

impl Req {
    pub fn new(method: &str, target: &str) -> Req {
        Req {
            method: method.to_owned(),
            target: target.to_owned(),
            raw_target: false,
            headers: Vec::new(),
            body: None,
            args: Vec::new(),
        }
    }
    pub fn get(target: &str) -> Req {
        Req::new("GET", target)
    }
    pub fn post(target: &str) -> Req {
        Req::new("POST", target)
    }
    pub fn delete(target: &str) -> Req {
        Req::new("DELETE", target)
    }
    pub fn raw(mut self) -> Req {
        self.raw_target = true;
        self
    }
    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.push(format!("{name}: {value}"));
        self
    }
    pub fn cookie(self, cookie: &str) -> Req {
        self.header("Cookie", cookie)
    }
    pub fn jwt(self, jwt: &str) -> Req {
        self.cookie(&format!("apimlAuthenticationToken={jwt}"))
    }
    pub fn bearer(self, token: &str) -> Req {
        self.header("Authorization", &format!("Bearer {token}"))
    }
    pub fn pat(self, pat: &str) -> Req {
        self.header("PRIVATE-TOKEN", pat)
    }
    /// `Authorization: Basic` built here, so that user ids curl's `-u`
    /// cannot carry (NUL, newlines) can be sent too.
    pub fn basic(self, user: &str, password: &str) -> Req {
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.header("Authorization", &format!("Basic {b64}"))
    }
    pub fn cert(mut self, cert: &ClientCert) -> Req {
        self.args.extend([
            "--cert".to_owned(),
            cert.cert.display().to_string(),
            "--key".to_owned(),
            cert.key.display().to_string(),
        ]);
        self
    }
    /// A body with `Content-Type: application/json`.
    pub fn json(self, body: &str) -> Req {
        self.body_typed(Some("application/json"), body)
    }
    /// A body with the given `Content-Type`: `None` sends none at all (curl
    /// would add its form type otherwise), `Some("")` an empty one.
    pub fn body_typed(mut self, content_type: Option<&str>, body: &str) -> Req {
        self.headers.push(match content_type {
            None => "Content-Type:".to_owned(),
            Some("") => "Content-Type;".to_owned(),
            Some(t) => format!("Content-Type: {t}"),
        });
        self.body = Some(body.to_owned());
        self
    }
}

/// What came back for one request.
#[derive(Clone, Debug, Default)]
pub struct Resp {
    /// 0 when no response arrived.
    pub status: u16,
    /// The status line and headers of the final response.
    pub head: String,
    pub body: String,
    /// curl's exit code for this transfer (0: a response was read).
    pub curl_exit: i32,
}

impl Resp {
    fn parse(raw: &str, curl_exit: i32) -> Resp {
        // `-i` writes interim (1xx) responses too; the last block is ours.
        let mut rest = raw;
        loop {
            let (head, body) = rest.split_once("\r\n\r\n").unwrap_or((rest, ""));
            let status: u16 = head
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            if (100..200).contains(&status) && body.starts_with("HTTP/") {
                rest = body;
                continue;
            }
            return Resp {
                status,
                head: head.to_owned(),
                body: body.to_owned(),
                curl_exit,
            };
        }
    }

    /// Every value of a response header (name case-insensitive).
    pub fn headers(&self, name: &str) -> Vec<String> {
        self.head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers(name).into_iter().next()
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// The test backend's report of what it received, if this is one.
    pub fn echo(&self) -> Option<Echo> {
        let v = self.json()?;
        (v.get("method").is_some() && v.get("headers").is_some()).then_some(Echo(v))
    }

    /// The answer in one line, for failure messages.
    pub fn summary(&self) -> String {
        if self.status == 0 {
            return format!("no response (curl exit {})", self.curl_exit);
        }
        let mut body: String = self.body.chars().take(400).collect();
        if body.len() < self.body.len() {
            body.push_str("...");
        }
        let ct = self.header("content-type").unwrap_or_default();
        format!("{} [{ct}] {body}", self.status)
    }

    /// The gateway's own error: the status, API ML's compact JSON error body
    /// with `number`, and `Content-Type: application/json`.
    pub fn expect_error(&self, status: u16, number: &str) -> Result<(), String> {
        let ct = self.header("content-type").unwrap_or_default();
        let ok = self.status == status
            && ct.starts_with("application/json")
            && self.json().is_some_and(|v| {
                v["messages"][0]["messageType"] == "ERROR"
                    && v["messages"][0]["messageNumber"] == number
                    && v["messages"][0]["messageKey"].is_string()
            });
        if ok {
            Ok(())
        } else {
            Err(format!("want {status} {number}, got {}", self.summary()))
        }
    }

    pub fn expect_status(&self, statuses: &[u16]) -> Result<(), String> {
        if statuses.contains(&self.status) {
            Ok(())
        } else {
            Err(format!("want {statuses:?}, got {}", self.summary()))
        }
    }
}

/// The backend's JSON report: method, path, headers, body length.
pub struct Echo(pub serde_json::Value);

impl Echo {
    pub fn path(&self) -> &str {
        self.0["path"].as_str().unwrap_or_default()
    }
    /// Header names as the backend received them, with their values.
    pub fn headers(&self) -> Vec<(String, Vec<String>)> {
        self.0["headers"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let values = v
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(|s| s.as_str().map(str::to_owned))
                                    .collect()
                            })
                            .unwrap_or_default();
                        (k.clone(), values)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
    /// The values of every header whose name, lower-cased with `_` as `-`,
    /// is `normalized` (what a backend that treats `_` as `-` would see).
    pub fn any_spelling(&self, normalized: &str) -> Vec<(String, Vec<String>)> {
        self.headers()
            .into_iter()
            .filter(|(k, _)| normalize_name(k) == normalized)
            .collect()
    }
    /// Whether the backend got any credential: a credential cookie, or a
    /// credential header in any spelling.
    pub fn credentials(&self) -> Vec<String> {
        let mut found = Vec::new();
        for (name, values) in self.headers() {
            let n = normalize_name(&name);
            if n == "cookie" {
                for v in &values {
                    for c in v.split(';') {
                        let cname = c.split('=').next().unwrap_or_default().trim();
                        if cname.starts_with("apimlAuthenticationToken")
                            || ["personalAccessToken", "jwtToken", "LtpaToken2"].contains(&cname)
                        {
                            found.push(format!("cookie {cname}"));
                        }
                    }
                }
            } else if [
                "authorization",
                "private-token",
                "x-saf-token",
                "proxy-authorization",
                "client-cert",
            ]
            .contains(&n.as_str())
                || n.starts_with("x-certificate-")
            {
                found.push(format!("{name}: {values:?}"));
            }
        }
        found
    }
}

/// A header name as a backend that does not tell `_` from `-` sees it.
pub fn normalize_name(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

/// A running zgate (the shared in-process harness's), with curl batches;
/// stopped on drop.
pub struct Server {
    pub gateway: Zgate,
    pub port: u16,
    pub home: PathBuf,
    /// The clock of the app and of the ESM commands.
    pub clock: Arc<SteppedClock>,
    batches: AtomicU32,
}

impl Server {
    /// Builds and runs zgate for `home` with `overrides` (`key=value`).
    pub fn start(home: &Path, overrides: &[&str]) -> Server {
        std::fs::create_dir_all(home.parent().unwrap()).unwrap();
        let clock = Arc::new(SteppedClock::default());
        let gateway = Zgate::start_with_clock(home, overrides, clock.clone());
        Server {
            port: gateway.port,
            home: home.to_path_buf(),
            gateway,
            clock,
            batches: AtomicU32::new(0),
        }
    }

    pub fn ca_file(&self) -> PathBuf {
        self.home.join("keystore/local_ca/local_ca.cer")
    }

    /// Runs a RACF command from another process, which must succeed, and
    /// returns once the gateway has applied it; its output.
    pub fn esm(&self, command: &str) -> String {
        self.gateway.esm(command)
    }

    /// Sends every `(protocol, request)` in one curl process, in order.
    pub fn batch(&self, reqs: &[(Proto, Req)]) -> Vec<Resp> {
        if reqs.is_empty() {
            return Vec::new();
        }
        let n = self.batches.fetch_add(1, Ordering::Relaxed);
        let dir = self.home.with_extension(format!("curl{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut cmd = Command::new("curl");
        for (i, (proto, req)) in reqs.iter().enumerate() {
            if i > 0 {
                cmd.arg("--next");
            }
            cmd.arg(proto.curl_arg())
                .args(["-s", "-i", "--path-as-is", "--max-time", "10"])
                .arg("--cacert")
                .arg(self.ca_file())
                .arg("-o")
                .arg(dir.join(i.to_string()))
                .args(["-w", "%{exitcode} %{time_total}\\n", "-X", &req.method]);
            for h in &req.headers {
                cmd.arg("-H").arg(h);
            }
            if let Some(body) = &req.body {
                cmd.arg("--data-binary").arg(body);
            }
            cmd.args(&req.args);
            if req.raw_target {
                cmd.arg("--request-target").arg(&req.target);
                cmd.arg(format!("https://localhost:{}/", self.port));
            } else {
                cmd.arg(format!("https://localhost:{}{}", self.port, req.target));
            }
        }
        let out = cmd.output().unwrap();
        let stats: Vec<(i32, f64)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let mut w = l.split_whitespace();
                let exit = w.next().and_then(|e| e.parse().ok()).unwrap_or(-1);
                let secs = w.next().and_then(|t| t.parse().ok()).unwrap_or(0.0);
                (exit, secs)
            })
            .collect();
        // A transfer that waits for its timeout is a finding of its own
        // (the gateway held a request it should have answered).
        for ((proto, req), (exit, secs)) in reqs.iter().zip(&stats) {
            if *secs > 2.0 {
                eprintln!(
                    "slow: {} {} {:?} took {secs:.1} s (curl exit {exit})",
                    proto.name(),
                    req.method,
                    req.target
                );
            }
        }
        let resps: Vec<Resp> = (0..reqs.len())
            .map(|i| {
                let raw = std::fs::read(dir.join(i.to_string())).unwrap_or_default();
                Resp::parse(
                    &String::from_utf8_lossy(&raw),
                    stats.get(i).map_or(-1, |s| s.0),
                )
            })
            .collect();
        let _ = std::fs::remove_dir_all(&dir);
        // ZGATE_ATTACK_TRACE=1 shows every exchange, passing ones included.
        if std::env::var_os("ZGATE_ATTACK_TRACE").is_some() {
            for ((proto, req), resp) in reqs.iter().zip(&resps) {
                eprintln!(
                    "{} {} {:?}: {}",
                    proto.name(),
                    req.method,
                    req.target,
                    resp.summary()
                );
            }
        }
        resps
    }

    /// One request over one protocol.
    pub fn send(&self, proto: Proto, req: Req) -> Resp {
        self.batch(&[(proto, req)]).pop().unwrap()
    }

    /// Logs in with Basic; the JWT.
    pub fn login(&self, user: &str, password: &str) -> String {
        let r = self.send(
            Proto::H1,
            Req::post("/gateway/api/v1/auth/login").basic(user, password),
        );
        assert_eq!(r.status, 204, "login {user}: {}", r.summary());
        token_from(&r).unwrap()
    }

    /// A personal access token made with Basic for `scopes`.
    pub fn pat(&self, user: &str, password: &str, scopes: &[&str]) -> String {
        let body = serde_json::json!({ "validity": 30, "scopes": scopes }).to_string();
        let r = self.send(
            Proto::H1,
            Req::post("/gateway/api/v1/auth/access-token/generate")
                .basic(user, password)
                .json(&body),
        );
        assert_eq!(r.status, 200, "PAT for {user}: {}", r.summary());
        r.body.trim().to_owned()
    }
}

/// The JWT of a login answer's `Set-Cookie`.
pub fn token_from(r: &Resp) -> Option<String> {
    r.headers("set-cookie").into_iter().find_map(|c| {
        c.split(';')
            .next()?
            .trim()
            .strip_prefix("apimlAuthenticationToken=")
            .map(str::to_owned)
    })
}

/// A static service definition: routes `api/v1` → `/svc` and `api` →
/// `/whole`, and `extra` YAML (indented 4) appended to the service.
pub fn service(id: &str, backend: &Backend, extra: &str) -> String {
    let url = backend.url();
    [
        format!("  - serviceId: {id}"),
        format!("    title: {id}"),
        format!("    instanceBaseUrls: [{url}]"),
        "    healthCheckRelativeUrl: /application/health".to_owned(),
        "    routes:".to_owned(),
        "      - gatewayUrl: api/v1".to_owned(),
        "        serviceRelativeUrl: /svc".to_owned(),
        "      - gatewayUrl: api".to_owned(),
        "        serviceRelativeUrl: /whole".to_owned(),
        extra.to_owned(),
    ]
    .join("\n")
}

/// Writes `<home>/services/test.yml`.
pub fn write_services(home: &Path, services: &[String]) {
    std::fs::create_dir_all(home.join("services")).unwrap();
    std::fs::write(
        home.join("services/test.yml"),
        format!("services:\n{}", services.concat()),
    )
    .unwrap();
}

/// Collects the verdict of every case so that one run reports all the
/// failing ones (case name and protocol), not just the first.
pub struct Report {
    test: &'static str,
    passed: usize,
    failures: Vec<String>,
}

impl Report {
    pub fn new(test: &'static str) -> Report {
        Report {
            test,
            passed: 0,
            failures: Vec::new(),
        }
    }
    /// Records one case's verdict.
    pub fn check(&mut self, case: &str, proto: Option<Proto>, verdict: Result<(), String>) {
        match verdict {
            Ok(()) => self.passed += 1,
            Err(why) => {
                let proto = proto
                    .map(|p| format!(" [{}]", p.name()))
                    .unwrap_or_default();
                self.failures.push(format!("{case}{proto}: {why}"));
            }
        }
    }
    /// Panics with every failure, if any.
    pub fn finish(self) {
        let mut text = String::new();
        for f in &self.failures {
            let _ = writeln!(text, "  - {f}");
        }
        eprintln!(
            "{}: {} case(s) passed, {} failed",
            self.test,
            self.passed,
            self.failures.len()
        );
        assert!(
            self.failures.is_empty(),
            "{}: {} of {} case(s) failed:\n{text}",
            self.test,
            self.failures.len(),
            self.failures.len() + self.passed
        );
    }
}

/// What an answer must satisfy: `Err` says why it does not.
pub type Expect = Box<dyn Fn(&Resp) -> Result<(), String>>;

/// A table row: a request and what its answer must satisfy.
pub struct Case {
    pub name: String,
    pub req: Req,
    pub expect: Expect,
}

impl Case {
    pub fn new(
        name: impl Into<String>,
        req: Req,
        expect: impl Fn(&Resp) -> Result<(), String> + 'static,
    ) -> Case {
        Case {
            name: name.into(),
            req,
            expect: Box::new(expect),
        }
    }
}

/// Runs every case over both protocols (one batch each) into `report`.
pub fn run_table(server: &Server, report: &mut Report, cases: &[Case]) {
    for proto in BOTH {
        let reqs: Vec<(Proto, Req)> = cases.iter().map(|c| (proto, c.req.clone())).collect();
        let resps = server.batch(&reqs);
        for (case, resp) in cases.iter().zip(&resps) {
            report.check(&case.name, Some(proto), (case.expect)(resp));
        }
    }
}
