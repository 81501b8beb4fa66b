//! A PostgreSQL server for the store's tests, and a database per test.
//!
//! The server: `ZGATE_TEST_POSTGRES` (an admin URL) when set; else one
//! answering on 127.0.0.1:5432 as `postgres` with trust authentication (CI
//! and the development machines); else a private one this test process
//! starts (`initdb` + `pg_ctl` in a temporary directory, on a free port,
//! stopped when the process ends). `ZGATE_TEST_POSTGRES=private` forces the
//! private one. Each test gets its own database, `zgate_test_<pid>_<n>`,
//! dropped after it; databases of test processes that died are dropped
//! when the next process starts, so tests run in parallel and leave
//! nothing behind.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// How long a server may take to answer.
const STARTUP: Duration = Duration::from_secs(60);

/// The admin URL of the server, without a database name.
fn server() -> &'static str {
    static SERVER: OnceLock<String> = OnceLock::new();
    SERVER.get_or_init(|| {
        let base = match std::env::var("ZGATE_TEST_POSTGRES") {
            Ok(url) if url != "private" && !url.is_empty() => url,
            Ok(url) if url == "private" => start_private(),
            _ => {
                let local = "postgres://postgres@127.0.0.1:5432".to_owned();
                if connect(&format!("{local}/postgres")).is_ok() {
                    local
                } else {
                    start_private()
                }
            }
        };
        drop_orphans(&base);
        base
    })
}

fn connect(url: &str) -> Result<postgres::Client, postgres::Error> {
    let mut config: postgres::Config = url.parse()?;
    config.connect_timeout(Duration::from_secs(5));
    config.connect(postgres::NoTls)
}

fn admin() -> postgres::Client {
    connect(&format!("{}/postgres", server())).expect("the test PostgreSQL server")
}

/// Drops the test databases of processes that no longer run.
fn drop_orphans(base: &str) {
    let mut client = connect(&format!("{base}/postgres")).expect("the test PostgreSQL server");
    let names: Vec<String> = client
        .query(
            "SELECT datname::text FROM pg_database WHERE datname LIKE 'zgate\\_test\\_%'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for name in names {
        let pid = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let _ =
                client.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
        }
    }
}

/// The directory of `initdb` and `pg_ctl`: PATH, else Debian's place.
fn binaries() -> Option<PathBuf> {
    let in_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    // The newest version first.
    debian.sort_by_key(|p| {
        std::cmp::Reverse(
            p.parent()
                .and_then(|v| v.file_name())
                .and_then(|v| v.to_str())
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0),
        )
    });
    in_path
        .into_iter()
        .chain(debian)
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Starts a private server for this test process; stopped by a watchdog
/// when the process ends.
fn start_private() -> String {
    let server = PrivateServer::create();
    let url = server.url();
    // The process's shared server: its watchdog outlives this value.
    std::mem::forget(server);
    url
}

/// A PostgreSQL server of this test process's own (`initdb` + `pg_ctl` in
/// a temporary directory, on a free port), which a test may stop and start
/// again. A watchdog stops it and removes its files once the process ends.
pub struct PrivateServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    start: String,
    stop: String,
}

impl PrivateServer {
    /// Creates and starts one.
    pub fn create() -> PrivateServer {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let bin = binaries().expect(
            "no PostgreSQL server on 127.0.0.1:5432 and no initdb: install PostgreSQL (scripts/test.sh does)",
        );
        let dir = std::env::temp_dir().join(format!(
            "zgate-test-pg-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // initdb refuses to run as root: run the server as `postgres` then.
        let root = is_root();
        let as_server_user = |cmd: &str| -> String {
            if root {
                format!("runuser -u postgres -- {cmd}")
            } else {
                cmd.to_owned()
            }
        };
        if root {
            let status = Command::new("chown")
                .args(["postgres:postgres", dir.to_str().unwrap()])
                .status()
                .unwrap();
            assert!(status.success(), "chown of {} to postgres", dir.display());
        }
        let data = dir.join("data");
        let initdb = as_server_user(&format!(
            "{} -D {} -U postgres --auth=trust -E UTF8 --no-sync",
            bin.join("initdb").display(),
            data.display()
        ));
        let out = Command::new("sh").args(["-c", &initdb]).output().unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pg_ctl = bin.join("pg_ctl");
        // `-w`: pg_ctl returns once the server accepts connections.
        let start = as_server_user(&format!(
            "{} -D {} -l {}/log -w -t {} -o \"-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off\" start",
            pg_ctl.display(),
            data.display(),
            dir.display(),
            STARTUP.as_secs(),
            dir.display()
        ));
        let stop = as_server_user(&format!(
            "{} -D {} -m immediate stop",
            pg_ctl.display(),
            data.display()
        ));
        let server = PrivateServer { port, start, stop };
        server.start();
        // The watchdog stops the server and removes its files once this
        // test process has ended.
        let watchdog = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            stop = server.stop,
            dir = dir.display()
        );
        // `setsid -f`: in a session of its own, and setsid returns at once.
        let status = Command::new("setsid")
            .args(["-f", "sh", "-c", &watchdog])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "the private server's watchdog");
        server
    }

    /// Its admin URL, without a database name.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    /// A new database on it; its URL.
    pub fn database(&self, name: &str) -> String {
        let mut admin = connect(&format!("{}/postgres", self.url())).unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap();
        format!("{}/{name}", self.url())
    }

    /// Starts it (again); returns once it accepts connections.
    pub fn start(&self) {
        let out = Command::new("sh")
            .args(["-c", &self.start])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the private PostgreSQL server did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops it at once, as a crash would (`-m immediate`).
    pub fn stop(&self) {
        let out = Command::new("sh")
            .args(["-c", &self.stop])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the private PostgreSQL server did not stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A database of its own for one test, dropped with this value.
pub struct TestDb {
    /// Its name.
    pub name: String,
    /// Its URL.
    pub url: String,
}

impl TestDb {
    /// Creates an empty database.
    pub fn new() -> TestDb {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "zgate_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        // No wait for the disk at commit: a test needs no durability, and
        // a shared machine's busy disk would make every commit slow.
        // (CREATE DATABASE runs alone: not in a transaction.)
        let mut admin = admin();
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap();
        admin
            .batch_execute(&format!(
                "ALTER DATABASE \"{name}\" SET synchronous_commit = off"
            ))
            .unwrap();
        let url = format!("{}/{name}", server());
        TestDb { name, url }
    }

    /// A plain connection to it (to look at or change rows directly).
    pub fn client(&self) -> postgres::Client {
        connect(&self.url).unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = admin().batch_execute(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        ));
    }
}
