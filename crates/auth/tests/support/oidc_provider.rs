//! The test side of a real OpenID provider: panva's certified `oidc-provider`
//! (installed by scripts/test.sh into `.tools/node`, its `node_modules` in
//! `ZGATE_TEST_NODE_MODULES`), started by `oidc_provider.mjs` beside this
//! file and driven with the `curl` binary, which does HTTPS and cookies.
//!
//! Shared by several crates' tests, each including it with
//! `#[path = "../../auth/tests/support/oidc_provider.rs"] mod oidc_provider;`:
//! it uses only std, serde_json and base64 0.22.
//!
//! What the provider offers (clients, resources, keys) is described at the
//! top of `oidc_provider.mjs`; the constants below name it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use serde_json::Value;

/// The audience of the provider's JWT access tokens.
pub const AUDIENCE: &str = "zowe-gateway";
/// The `sub` of client_credentials tokens unless `ProviderOptions::subject`.
pub const DEFAULT_SUBJECT: &str = "alice@example.com";
/// A resource indicator whose access tokens are JWTs signed RS256 (the
/// default resource of the client_credentials client).
pub const RS256_RESOURCE: &str = "urn:zgate:gateway";
/// A resource indicator whose access tokens are JWTs signed ES256.
pub const ES256_RESOURCE: &str = "urn:zgate:gateway:es256";
/// The client of the client_credentials grant (client_secret_basic).
pub const TEST_CLIENT_ID: &str = "zgate-test";
pub const TEST_CLIENT_SECRET: &str = "zgate-test-secret";
/// The client of the authorization-code flow (client_secret_basic, PKCE
/// S256 required, any https://localhost:<port>/... or
/// https://127.0.0.1:<port>/... redirect URI).
pub const WEB_CLIENT_ID: &str = "zgate-web";
pub const WEB_CLIENT_SECRET: &str = "zgate-web-secret";
/// The scopes the code-flow client may ask for.
pub const WEB_SCOPE: &str = "openid profile email";

const READY: &str = "oidc-provider listening ";

/// How long a start may take before it is given up and tried again (a
/// start takes well under a second; a loaded machine may take seconds).
const START_DEADLINE: std::time::Duration = std::time::Duration::from_secs(15);
/// Starts tried at most.
const START_ATTEMPTS: u32 = 4;

/// The `node_modules` folder holding oidc-provider, from
/// `ZGATE_TEST_NODE_MODULES`.
pub fn node_modules() -> PathBuf {
    match std::env::var("ZGATE_TEST_NODE_MODULES") {
        Ok(dir) if Path::new(&dir).join("oidc-provider/package.json").exists() => dir.into(),
        _ => panic!(
            "ZGATE_TEST_NODE_MODULES must name a node_modules folder holding oidc-provider; \
             run ./scripts/test.sh, which installs it into .tools/node and exports it"
        ),
    }
}

/// The provider script, found from the including crate (every crate is
/// `crates/<name>`).
fn script() -> PathBuf {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../auth/tests/support/oidc_provider.mjs");
    assert!(path.exists(), "no provider script at {}", path.display());
    path
}

/// The repository's `testdata/zowe/keystore` folder.
fn zowe_keystore() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/zowe/keystore")
}

/// How to start the provider.
#[derive(Debug, Clone, Default)]
pub struct ProviderOptions {
    /// The port on 127.0.0.1; 0 (the default) for any free one.
    pub port: u16,
    /// Serve HTTPS with this certificate and key (PEM files); the issuer is
    /// then `https://localhost:<port>`, else `http://127.0.0.1:<port>`.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The CA file (PEM) the driver's curl trusts, for `tls`.
    pub ca_file: Option<PathBuf>,
    /// The provider's private signing keys (a JWKS file): generation 1 is
    /// written there if it does not exist; [`OidcProvider::restart`] needs it.
    pub keys_file: Option<PathBuf>,
    /// Add a key generation that signs from now on (needs `keys_file`).
    pub rotate: bool,
    /// With `rotate`: drop every older generation.
    pub retire: bool,
    /// The `sub` of client_credentials tokens ([`DEFAULT_SUBJECT`] if none).
    pub subject: Option<String>,
}

impl ProviderOptions {
    /// HTTPS with the gateway's own development certificate
    /// (`testdata/zowe/keystore/localhost`, CN localhost), its curl trusting
    /// the CA in that certificate's chain file.
    pub fn zowe_localhost_tls(mut self) -> ProviderOptions {
        let dir = zowe_keystore().join("localhost");
        let chain = dir.join("localhost.keystore.cer");
        self.tls = Some((chain.clone(), dir.join("localhost.keystore.key")));
        self.ca_file = Some(chain);
        self
    }
}

/// A file under the temporary folder, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(label: &str) -> TempFile {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let name = format!("zgate-oidc-{}-{n}-{label}", std::process::id());
        let path = std::env::temp_dir().join(name);
        let _ = fs::remove_file(&path);
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// The provider as a child process, killed on drop.
pub struct OidcProvider {
    /// `http://127.0.0.1:<port>`, or `https://localhost:<port>` with TLS.
    pub issuer: String,
    pub port: u16,
    options: ProviderOptions,
    child: Option<Child>,
    /// Kept open, so the provider never writes to a closed pipe.
    stdout: Option<BufReader<ChildStdout>>,
    /// The provider's stderr, across restarts.
    log: TempFile,
}

impl OidcProvider {
    /// Starts the provider and waits for its ready line; panics with its
    /// output if it exits first.
    pub fn start(options: &ProviderOptions) -> OidcProvider {
        assert!(
            !options.rotate || options.keys_file.is_some(),
            "rotating keys needs a keys file"
        );
        let mut provider = OidcProvider {
            issuer: String::new(),
            port: 0,
            options: options.clone(),
            child: None,
            stdout: None,
            log: TempFile::new("provider.log"),
        };
        provider.spawn();
        provider
    }

    /// Starts the provider, retrying a start that hangs: on a loaded
    /// machine the script has been seen to stall for good before it listens
    /// (every thread of node idle, no socket), where another start goes
    /// through. A start that fails outright is not retried.
    fn spawn(&mut self) {
        // A hung start may already have rotated the keys file: each try
        // starts from the file as it was.
        let keys_before = self
            .options
            .keys_file
            .as_ref()
            .and_then(|f| fs::read(f).ok());
        for attempt in 1..=START_ATTEMPTS {
            if attempt > 1 {
                if let (Some(file), Some(bytes)) = (&self.options.keys_file, &keys_before) {
                    fs::write(file, bytes).expect("the keys file is restored");
                }
            }
            match self.try_spawn() {
                Some(()) => return,
                None => eprintln!(
                    "the provider gave no ready line within {START_DEADLINE:?} (try {attempt} of {START_ATTEMPTS}); its stderr:\n{}",
                    self.log()
                ),
            }
        }
        panic!("the provider did not start in {START_ATTEMPTS} tries");
    }

    /// One start: `None` when no ready line came within [`START_DEADLINE`]
    /// (the child is then killed).
    fn try_spawn(&mut self) -> Option<()> {
        let o = &self.options;
        let mut cmd = Command::new("node");
        cmd.arg(script()).arg(node_modules());
        cmd.arg("--port").arg(o.port.to_string());
        if let Some((cert, key)) = &o.tls {
            cmd.arg("--tls").arg(cert).arg(key);
        }
        if let Some(keys) = &o.keys_file {
            cmd.arg("--keys").arg(keys);
        }
        if o.rotate {
            cmd.arg("--rotate");
        }
        if o.retire {
            cmd.arg("--retire");
        }
        if let Some(subject) = &o.subject {
            cmd.arg("--subject").arg(subject);
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log.0)
            .expect("the provider's log file opens");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("node runs (scripts/test.sh installs it)");
        // Read until the ready line, or the end if it fails to start, on a
        // thread of its own so that a start that hangs can be given up.
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let (sent, ready) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut stdout = stdout;
            let mut said = String::new();
            loop {
                let mut line = String::new();
                if stdout.read_line(&mut line).unwrap_or(0) == 0 {
                    let _ = sent.send(Err(said));
                    return;
                }
                if let Some(port) = line.trim().strip_prefix(READY) {
                    let port = port.parse::<u16>().expect("a port in the ready line");
                    let _ = sent.send(Ok((port, stdout)));
                    return;
                }
                said.push_str(&line);
            }
        });
        let (port, stdout) = match ready.recv_timeout(START_DEADLINE) {
            Ok(Ok(ready)) => ready,
            Ok(Err(said)) => {
                let _ = child.kill();
                let status = child.wait();
                panic!(
                    "the provider did not start ({status:?}); it said {said:?}; its stderr:\n{}",
                    self.log()
                );
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        };
        let issuer = if self.options.tls.is_some() {
            format!("https://localhost:{port}")
        } else {
            format!("http://127.0.0.1:{port}")
        };
        self.port = port;
        self.issuer = issuer;
        self.child = Some(child);
        self.stdout = Some(stdout);
        Some(())
    }

    /// Kills the provider (its state, in memory, is gone) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.stdout = None;
    }

    /// Stops the provider and starts it again on the same port and keys file
    /// (which it needs), with `--rotate` and `--retire` as asked. Its issuer
    /// stays; sessions, codes and opaque tokens do not.
    pub fn restart(&mut self, rotate: bool, retire: bool) {
        assert!(
            self.options.keys_file.is_some(),
            "a restart keeps the keys only with a keys file"
        );
        self.stop();
        let (port, issuer) = (self.port, self.issuer.clone());
        self.options.port = port;
        self.options.rotate = rotate;
        self.options.retire = retire;
        self.spawn();
        assert_eq!((self.port, &self.issuer), (port, &issuer));
    }

    /// What the provider wrote to stderr so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log.0).unwrap_or_default()
    }

    /// The CA file the driver's curl trusts, if any.
    pub fn ca_file(&self) -> Option<&Path> {
        self.options.ca_file.as_deref()
    }

    /// curl, trusting `ca_file` if given.
    fn curl(&self) -> Command {
        curl_command(self.options.ca_file.as_deref())
    }

    /// The body of a GET answered 2xx, else why not.
    pub fn http_get(&self, url: &str) -> Result<Vec<u8>, String> {
        curl_get(url, self.options.ca_file.as_deref())
    }

    /// The JSON document at `url` (panics unless 2xx and JSON).
    pub fn http_get_json(&self, url: &str) -> Value {
        let body = self
            .http_get(url)
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        serde_json::from_slice(&body).unwrap_or_else(|e| {
            panic!(
                "GET {url}: not JSON ({e}): {}",
                String::from_utf8_lossy(&body)
            )
        })
    }

    /// The discovery document, after checking that it names this issuer.
    pub fn discovery(&self) -> Value {
        let doc = self.http_get_json(&format!("{}/.well-known/openid-configuration", self.issuer));
        assert_eq!(doc["issuer"], self.issuer.as_str(), "{doc}");
        doc
    }

    fn endpoint(&self, name: &str) -> String {
        let doc = self.discovery();
        doc[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} in {doc}"))
            .to_owned()
    }

    pub fn jwks_uri(&self) -> String {
        self.endpoint("jwks_uri")
    }

    pub fn userinfo_endpoint(&self) -> String {
        self.endpoint("userinfo_endpoint")
    }

    pub fn token_endpoint(&self) -> String {
        self.endpoint("token_endpoint")
    }

    pub fn authorization_endpoint(&self) -> String {
        self.endpoint("authorization_endpoint")
    }

    /// The `kid`s the provider's JWKS publishes, in its order.
    pub fn published_kids(&self) -> Vec<String> {
        let jwks = self.http_get_json(&self.jwks_uri());
        jwks["keys"]
            .as_array()
            .unwrap_or_else(|| panic!("no keys in {jwks}"))
            .iter()
            .map(|k| k["kid"].as_str().expect("a kid").to_owned())
            .collect()
    }

    /// POSTs a form to the token endpoint as `client`: the JSON answer.
    fn token_request(&self, client: (&str, &str), form: &[(&str, &str)]) -> Value {
        let mut cmd = self.curl();
        cmd.arg("--fail-with-body")
            .arg("-u")
            .arg(format!("{}:{}", client.0, client.1));
        for (name, value) in form {
            cmd.arg("--data-urlencode").arg(format!("{name}={value}"));
        }
        let out = run(cmd.arg(self.token_endpoint()));
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "the token endpoint said {body} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
        assert_eq!(doc["token_type"], "Bearer", "{body}");
        doc
    }

    /// An access token of the client_credentials grant for `resource` (a
    /// JWT, `sub` the options' subject).
    pub fn client_credentials_token(&self, resource: &str) -> String {
        let doc = self.token_request(
            (TEST_CLIENT_ID, TEST_CLIENT_SECRET),
            &[("grant_type", "client_credentials"), ("resource", resource)],
        );
        doc["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    /// The authorization endpoint with these query parameters.
    pub fn authorization_request(&self, params: &[(&str, &str)]) -> String {
        format!("{}?{}", self.authorization_endpoint(), form_encode(params))
    }

    /// Plays the browser from `authorization_url` (for instance the
    /// `Location` a gateway's `/gateway/oauth2/authorization/{id}`
    /// answered): follows the provider's redirects with a fresh cookie jar,
    /// fills its login form with `user` and `password`, and returns the URL
    /// the provider finally sends the browser to, away from the provider
    /// (the client's redirect_uri with `code` and `state`, or `error`),
    /// without following it.
    pub fn login(&self, authorization_url: &str, user: &str, password: &str) -> String {
        let jar = TempFile::new("cookies");
        let mut url = authorization_url.to_owned();
        let mut form: Option<Vec<(&str, &str)>> = None;
        let mut logged_in = false;
        for _ in 0..10 {
            let mut cmd = self.curl();
            cmd.arg("-c").arg(&jar.0).arg("-b").arg(&jar.0);
            cmd.args(["-w", "\n%{http_code} %{redirect_url}"]);
            for (name, value) in form.take().unwrap_or_default() {
                cmd.arg("--data-urlencode").arg(format!("{name}={value}"));
            }
            let out = run(cmd.arg(&url));
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{url}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let (body, last) = text.rsplit_once('\n').unwrap_or(("", &text));
            let (status, location) = last.split_once(' ').unwrap_or((last, ""));
            match (status, location) {
                (s, location) if s.starts_with('3') && !location.is_empty() => {
                    if !location.starts_with(&format!("{}/", self.issuer)) {
                        return location.to_owned();
                    }
                    url = location.to_owned();
                }
                ("200", _) if body.contains(r#"name="login""#) && !logged_in => {
                    url = form_action(body).unwrap_or_else(|| panic!("no form action: {body}"));
                    form = Some(vec![
                        ("prompt", "login"),
                        ("login", user),
                        ("password", password),
                    ]);
                    logged_in = true;
                }
                _ => panic!(
                    "the provider answered {status} at {url}, neither a redirect nor a login \
                     form to fill: {}",
                    text_of_html(body)
                ),
            }
        }
        panic!("more than 10 steps from {authorization_url}")
    }

    /// The whole authorization-code flow, done by the test as the client
    /// [`WEB_CLIENT_ID`] (PKCE S256, state, nonce): logs `user` in and
    /// exchanges the code for tokens. The token response, after checking the
    /// state, the `iss` of the authorization response, and the ID token's
    /// `nonce` and `sub`. `redirect_uri` need not be served.
    pub fn authorization_code_tokens(
        &self,
        user: &str,
        resource: Option<&str>,
        redirect_uri: &str,
    ) -> Value {
        let verifier = random_b64url(32);
        let challenge = B64URL.encode(sha256(verifier.as_bytes()));
        let state = random_b64url(16);
        let nonce = random_b64url(16);
        let mut params = vec![
            ("client_id", WEB_CLIENT_ID),
            ("response_type", "code"),
            ("scope", WEB_SCOPE),
            ("redirect_uri", redirect_uri),
            ("state", state.as_str()),
            ("nonce", nonce.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        if let Some(resource) = resource {
            params.push(("resource", resource));
        }
        let location = self.login(&self.authorization_request(&params), user, "any-password");
        assert!(location.starts_with(redirect_uri), "sent to {location}");
        let answer = query_params(&location);
        let get = |name: &str| {
            answer
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        if let Some(error) = get("error") {
            panic!(
                "the provider refused: {error}: {:?}",
                get("error_description")
            );
        }
        assert_eq!(get("state"), Some(state.as_str()), "{location}");
        assert_eq!(get("iss"), Some(self.issuer.as_str()), "{location}");
        let code = get("code").unwrap_or_else(|| panic!("no code in {location}"));

        let doc = self.token_request(
            (WEB_CLIENT_ID, WEB_CLIENT_SECRET),
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier.as_str()),
            ],
        );
        let id_token = doc["id_token"].as_str().expect("an ID token");
        let claims = jwt_payload(id_token);
        assert_eq!(claims["nonce"], nonce.as_str(), "{claims}");
        assert_eq!(claims["sub"], user, "{claims}");
        doc
    }

    /// [`OidcProvider::authorization_code_tokens`]' access token: a JWT
    /// for `resource` if given, else opaque (for the userinfo endpoint).
    pub fn authorization_code_token(
        &self,
        user: &str,
        resource: Option<&str>,
        redirect_uri: &str,
    ) -> String {
        let doc = self.authorization_code_tokens(user, resource, redirect_uri);
        doc["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    /// The userinfo endpoint's answer to `access_token`, or why it refused.
    pub fn userinfo(&self, access_token: &str) -> Result<Value, String> {
        let mut cmd = self.curl();
        cmd.arg("--fail-with-body")
            .arg("-H")
            .arg(format!("Authorization: Bearer {access_token}"));
        let out = run(cmd.arg(self.userinfo_endpoint()));
        let body = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!("{} {body}", String::from_utf8_lossy(&out.stderr)));
        }
        serde_json::from_str(&body).map_err(|e| format!("not JSON ({e}): {body}"))
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        // A provider that failed to start has its output in the panic already.
        let was_running = self.child.is_some();
        self.stop();
        if was_running && std::thread::panicking() {
            eprintln!("the OpenID provider's stderr:\n{}", self.log());
        }
    }
}

fn curl_command(ca_file: Option<&Path>) -> Command {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "30"]);
    if let Some(ca) = ca_file {
        cmd.arg("--cacert").arg(ca);
    }
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .expect("curl runs (scripts/test.sh installs it)")
}

/// The body of a GET of `url` answered 2xx (curl trusting `ca_file`), or
/// why not: for a `JwksSource` in a test.
pub fn curl_get(url: &str, ca_file: Option<&Path>) -> Result<Vec<u8>, String> {
    let out = run(curl_command(ca_file).arg("--fail-with-body").arg(url));
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(format!(
            "GET {url}: {} {}",
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout)
        ))
    }
}

/// A JWT's header, not verified.
pub fn jwt_header(token: &str) -> Value {
    jwt_part(token, 0)
}

/// A JWT's claims, not verified.
pub fn jwt_payload(token: &str) -> Value {
    jwt_part(token, 1)
}

fn jwt_part(token: &str, index: usize) -> Value {
    let part = token
        .split('.')
        .nth(index)
        .unwrap_or_else(|| panic!("not a JWT: {token}"));
    let bytes = B64URL
        .decode(part)
        .unwrap_or_else(|e| panic!("not base64url ({e}): {token}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("not JSON ({e}): {token}"))
}

/// `name=value&...`, percent-encoded.
pub fn form_encode(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(n, v)| format!("{}={}", percent_encode(n), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A URL's query parameters, decoded.
pub fn query_params(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let query = query.split('#').next().unwrap_or("");
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(n), percent_decode(v))
        })
        .collect()
}

/// The `action` of the first form of an HTML page, unescaped.
fn form_action(html: &str) -> Option<String> {
    let form = &html[html.find("<form")?..];
    let start = form.find("action=\"")? + "action=\"".len();
    let end = start + form[start..].find('"')?;
    Some(
        form[start..end]
            .replace("&#39;", "'")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// An HTML page's text, without its styles and scripts, for a failure
/// message.
fn text_of_html(html: &str) -> String {
    let mut html = html.to_owned();
    for (open, close) in [("<style", "</style>"), ("<script", "</script>")] {
        while let Some(start) = html.find(open) {
            let end = html[start..]
                .find(close)
                .map_or(html.len(), |e| start + e + close.len());
            html.replace_range(start..end, " ");
        }
    }
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `n` random bytes from the system, base64url.
fn random_b64url(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("/dev/urandom reads");
    B64URL.encode(bytes)
}

/// SHA-256 (FIPS 180-4), for the PKCE challenge: only std may be used here.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&(data.len() as u64 * 8).to_be_bytes());
    for block in message.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for (k, wi) in K.iter().zip(w) {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(*k)
                .wrapping_add(wi);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}
