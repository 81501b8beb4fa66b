//! Starting the real `zgate serve` in a temporary home for end-to-end tests
//! of the binary. The tests wait for what the process says (its stdout
//! lines, its log lines on stderr) or for its exit, never for a time.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

#[path = "../../../app/tests/support/backend.rs"]
mod backend;
#[path = "../../../app/tests/support/collected.rs"]
mod collected;
#[path = "../../../app/tests/support/curl.rs"]
mod curl;

pub use backend::{backend_exe, Backend};
pub use collected::{response_end, Collected};
pub use curl::{token_from_response, Curl};

pub const ZGATE: &str = env!("CARGO_BIN_EXE_zgate");

/// The longest any event of these tests may take before the test fails.
pub const EVENT_DEADLINE: Duration = Duration::from_secs(120);

/// Lines a process wrote, and a way to wait for one.
#[derive(Default)]
pub struct Lines {
    /// The lines, and whether the stream has ended.
    lines: Mutex<(Vec<String>, bool)>,
    added: Condvar,
}

impl Lines {
    /// Collects the lines of `stream` on a thread of its own, copying each
    /// to `copy` when given.
    pub fn collect(
        stream: impl std::io::Read + Send + 'static,
        copy: Option<std::fs::File>,
    ) -> Arc<Lines> {
        let lines = Arc::new(Lines::default());
        let collected = lines.clone();
        std::thread::spawn(move || {
            let mut copy = copy;
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if let Some(file) = &mut copy {
                    let _ = writeln!(file, "{line}");
                }
                collected.lines.lock().unwrap().0.push(line);
                collected.added.notify_all();
            }
            collected.lines.lock().unwrap().1 = true;
            collected.added.notify_all();
        });
        lines
    }

    /// Every line so far.
    pub fn all(&self) -> Vec<String> {
        self.lines.lock().unwrap().0.clone()
    }

    /// Waits until the stream has ended (the process closed it), at most
    /// `within`.
    pub fn wait_for_end(&self, within: Duration) -> bool {
        let lines = self.lines.lock().unwrap();
        let (lines, _) = self
            .added
            .wait_timeout_while(lines, within, |(_, ended)| !*ended)
            .unwrap();
        lines.1
    }

    /// Waits for the first line from index `from` on that `f` maps to
    /// something; its index and that something, or `None` after `within`.
    pub fn wait_for<T>(
        &self,
        from: usize,
        within: Duration,
        mut f: impl FnMut(&str) -> Option<T>,
    ) -> Option<(usize, T)> {
        let deadline = Instant::now() + within;
        let mut lines = self.lines.lock().unwrap();
        let mut next = from;
        loop {
            while next < lines.0.len() {
                if let Some(found) = f(&lines.0[next]) {
                    return Some((next, found));
                }
                next += 1;
            }
            if lines.1 {
                return None;
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            lines = self.added.wait_timeout(lines, left).unwrap().0;
        }
    }

    /// How many lines there are so far.
    pub fn len(&self) -> usize {
        self.lines.lock().unwrap().0.len()
    }
}

/// A running `zgate serve`; killed on drop.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub home: PathBuf,
    /// Its stdout lines.
    pub stdout: Arc<Lines>,
    /// Its log lines (stderr).
    pub stderr: Arc<Lines>,
    /// Where its logs are copied.
    pub log_file: PathBuf,
    client: Curl,
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
            .stderr(Stdio::piped())
            .env_remove("ZGATE_LOG")
            .spawn()
            .unwrap();
        let stdout = Lines::collect(child.stdout.take().unwrap(), None);
        let stderr = Lines::collect(child.stderr.take().unwrap(), Some(log));
        let listening = stdout.wait_for(0, EVENT_DEADLINE, |line| {
            let rest = line.strip_prefix("zgate: listening on https://localhost:")?;
            rest.split(' ').next()?.parse::<u16>().ok()
        });
        let Some((_, port)) = listening else {
            let _ = child.kill();
            panic!(
                "zgate serve did not start; stdout: {:?}; log: {:?}",
                stdout.all(),
                stderr.all()
            );
        };
        Server {
            child,
            port,
            home: home.to_path_buf(),
            client: Curl::new(port, home),
            stdout,
            stderr,
            log_file,
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.client.url(path)
    }

    pub fn ca_file(&self) -> PathBuf {
        self.client.ca_file()
    }

    pub fn admin_password(&self) -> String {
        std::fs::read_to_string(self.home.join("initial-admin-password"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// See [`Curl::curl`].
    pub fn curl(&self, args: &[&str], path: &str) -> (u16, String) {
        self.client.curl(args, path)
    }

    /// See [`Curl::login`].
    pub fn login(&self, user: &str, password: &str) -> String {
        self.client.login(user, password)
    }

    /// Sends `signal` (a `kill` name: TERM, HUP).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the first log line from index `from` that contains
    /// `needle`; its index.
    pub fn wait_for_log(&self, from: usize, needle: &str) -> usize {
        match self.stderr.wait_for(from, EVENT_DEADLINE, |line| {
            line.contains(needle).then_some(())
        }) {
            Some((index, ())) => index,
            None => panic!("no log line with {needle:?}: {:?}", self.stderr.all()),
        }
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn stop(mut self) -> ExitStatus {
        self.signal("TERM");
        self.wait_for_exit()
    }

    /// Waits for the process to exit, at most [`EVENT_DEADLINE`].
    pub fn wait_for_exit(&mut self) -> ExitStatus {
        let pid = self.child.id();
        let (exited, exit) = std::sync::mpsc::channel::<()>();
        // A watchdog instead of a polling loop: `wait` blocks until the
        // exit, and the watchdog kills a process that never gets there.
        let watchdog = std::thread::spawn(move || {
            if exit.recv_timeout(EVENT_DEADLINE).is_err() {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        });
        let status = self.child.wait().unwrap();
        let _ = exited.send(());
        let _ = watchdog.join();
        assert!(
            status.code().is_some(),
            "zgate did not exit within {EVENT_DEADLINE:?}: {status:?}"
        );
        // Everything it wrote is read (and its logs copied) once it ends.
        assert!(
            self.stdout.wait_for_end(EVENT_DEADLINE) && self.stderr.wait_for_end(EVENT_DEADLINE)
        );
        status
    }

    /// Everything it logged so far.
    pub fn logs(&self) -> String {
        self.stderr.all().join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
