//! Starting the real `zgate serve` in a temporary home for end-to-end tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const ZGATE: &str = env!("CARGO_BIN_EXE_zgate");

/// A running `zgate serve`; killed on drop.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub home: PathBuf,
    /// Everything it printed on stdout so far.
    pub stdout: Arc<Mutex<Vec<String>>>,
    /// Where its stderr (the logs) goes.
    pub log_file: PathBuf,
    /// Requests made through [`Server::curl`] so far.
    curls: std::cell::Cell<u32>,
}

impl Server {
    /// Starts `zgate --home HOME [global...] serve --port 0 [serve_args...]`
    /// and waits for its "listening on" line.
    pub fn start(home: &Path, global: &[&str], serve_args: &[&str]) -> Server {
        let log_file = home.with_extension(format!("log{}", std::process::id()));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_file)
            .unwrap();
        let mut child = Command::new(ZGATE)
            .arg("--home")
            .arg(home)
            .args(["--set", "zgate.server.address=127.0.0.1"])
            .args(global)
            .args(["serve", "--port", "0"])
            .args(serve_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .env_remove("ZGATE_LOG")
            .spawn()
            .unwrap();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let reader = BufReader::new(child.stdout.take().unwrap());
        let lines = stdout.clone();
        std::thread::spawn(move || {
            for line in reader.lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("zgate: listening on https://localhost:") {
                    let port: u16 = rest.split(' ').next().unwrap().parse().unwrap();
                    let _ = tx.send(port);
                }
                lines.lock().unwrap().push(line);
            }
        });
        let port = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "zgate serve did not start; stdout: {:?}; log: {}",
                    stdout.lock().unwrap(),
                    std::fs::read_to_string(&log_file).unwrap_or_default()
                );
            }
        };
        Server {
            child,
            port,
            home: home.to_path_buf(),
            stdout,
            log_file,
            curls: std::cell::Cell::new(0),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }

    pub fn ca_file(&self) -> PathBuf {
        self.home.join("keystore/local_ca/local_ca.cer")
    }

    pub fn admin_password(&self) -> String {
        std::fs::read_to_string(self.home.join("initial-admin-password"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// `curl --cacert <CA> -s -i <args> <url>`: (status, headers+body text).
    ///
    /// Unless `args` name a protocol, calls alternate between HTTP/1.1 and
    /// HTTP/2, so that every test drives both of the server's request paths
    /// (its plain HTTP/1.1 loop and hyper's HTTP/2).
    pub fn curl(&self, args: &[&str], path: &str) -> (u16, String) {
        let n = self.curls.get();
        self.curls.set(n + 1);
        let protocol = if args.iter().any(|a| a.starts_with("--http")) {
            None
        } else if n.is_multiple_of(2) {
            Some("--http1.1")
        } else {
            Some("--http2")
        };
        let out = Command::new("curl")
            .arg("--cacert")
            .arg(self.ca_file())
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

    /// Logs in with Basic credentials through curl; returns the token.
    pub fn login(&self, user: &str, password: &str) -> String {
        let (status, text) = self.curl(
            &["-X", "POST", "-u", &format!("{user}:{password}")],
            "/gateway/api/v1/auth/login",
        );
        assert_eq!(status, 204, "{text}");
        token_from_response(&text)
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("zgate did not stop within 30 s of SIGTERM");
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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

/// Runs `zgate --home HOME args...` to completion.
pub fn zgate(home: &Path, args: &[&str]) -> Output {
    Command::new(ZGATE)
        .arg("--home")
        .arg(home)
        .args(args)
        .output()
        .unwrap()
}

/// A client certificate from `zgate cert client`, mapped to its user.
pub struct ClientCert {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The `RACDCERT MAP` command the tool suggests.
    pub map: String,
}

/// `zgate cert client --user USER --out OUT`.
pub fn client_cert(home: &Path, user: &str, out: &Path) -> ClientCert {
    let o = zgate(
        home,
        &[
            "cert",
            "client",
            "--user",
            user,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(|v| v.trim().split(" (").next().unwrap().to_owned())
            .unwrap_or_else(|| panic!("{name} in {text}"))
    };
    let map = text
        .lines()
        .find(|l| l.trim().starts_with("RACDCERT MAP"))
        .unwrap()
        .trim()
        .to_owned();
    ClientCert {
        cert: PathBuf::from(field("certificate:")),
        key: PathBuf::from(field("private key:")),
        map,
    }
}

/// The test backend binary, next to the test executable's directory
/// (target/debug), built or brought up to date once per test process.
pub fn backend_exe() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().unwrap();
            let path = exe
                .parent()
                .unwrap()
                .parent()
                .unwrap()
                .join("zgate-test-backend");
            let cargo = option_env!("CARGO").unwrap_or("cargo");
            let mut build = Command::new(cargo);
            build
                .args(["build", "-q", "-p", "zgate-testbackend"])
                .current_dir(env!("CARGO_MANIFEST_DIR"));
            // The variables cargo sets for a test process: build scripts that
            // watch one (ring's watches CARGO_MANIFEST_DIR) would otherwise
            // see it change, and this build and the next `cargo test` would
            // each rebuild half the dependency tree.
            for (name, _) in std::env::vars_os() {
                let name = name.to_string_lossy().into_owned();
                if name == "CARGO_MANIFEST_DIR"
                    || name == "CARGO_MANIFEST_PATH"
                    || name == "CARGO_CRATE_NAME"
                    || name == "CARGO_PRIMARY_PACKAGE"
                    || name == "CARGO_TARGET_TMPDIR"
                    || name.starts_with("CARGO_PKG_")
                    || name.starts_with("CARGO_BIN_")
                {
                    build.env_remove(name);
                }
            }
            let st = build.status().unwrap();
            assert!(
                st.success() && path.exists(),
                "cannot build zgate-test-backend"
            );
            path
        })
        .clone()
}

/// A `zgate-test-backend` that echoes what it receives; killed on drop.
pub struct Backend {
    pub child: Child,
    pub port: u16,
}

impl Backend {
    /// Starts the backend with `args` and waits for its port.
    pub fn start(args: &[&str]) -> Backend {
        let mut child = Command::new(backend_exe())
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap()
            .parse()
            .unwrap();
        Backend { child, port }
    }

    /// The instance base URL (with a context path of its own).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/base", self.port)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
