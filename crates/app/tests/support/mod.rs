//! zgate in the test's own process: the app built from a temporary home's
//! configuration as `zgate serve` builds it, served on a thread and runtime
//! of its own over a real TLS socket, driven with curl. ESM commands go
//! through a second connection to the home's database, as `zgate esm` from
//! another process would; the tests then wait for the app's events (the
//! reload generation, the health), never for a time.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

mod backend;
pub mod certs;
mod collected;
mod curl;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;
use zgate_app::{App, AppError, Handle, Health, Options, ReloadError, Reloaded};
use zgate_auth::{Clock, SystemClock};
use zgate_esm::{Esm, Issuer};

pub use backend::{backend_exe, Backend};
pub use collected::{response_end, Collected};
pub use curl::{token_from_response, Curl};

/// The longest any event of these tests may take before the test fails.
pub const EVENT_DEADLINE: Duration = Duration::from_secs(30);

/// A running app in this process; stopped (drained) on drop.
pub struct Zgate {
    pub home: PathBuf,
    pub port: u16,
    pub config: zgate_config::Config,
    pub handle: Handle,
    /// Another connection to the home's ESM: commands from "another
    /// process".
    esm: Esm,
    /// Runs the waits and reloads the test thread asks for.
    waiter: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), AppError>>>,
    client: Curl,
}

impl Zgate {
    /// Builds and runs the app for `home` (created with the defaults on a
    /// first start) with `--set` style `overrides`, on the system clock.
    pub fn start(home: &Path, overrides: &[&str]) -> Zgate {
        Zgate::start_with_clock(home, overrides, Arc::new(SystemClock))
    }

    /// [`Zgate::start`] with the clock the app and the test's ESM
    /// connection share.
    pub fn start_with_clock(home: &Path, overrides: &[&str], clock: Arc<dyn Clock>) -> Zgate {
        Zgate::start_with_options(home, overrides, clock, None)
    }

    /// [`Zgate::start`] recording into `trail` instead of the home's.
    pub fn start_with_trail(
        home: &Path,
        overrides: &[&str],
        trail: Arc<dyn zgate_gateway::audit::AuditTrail>,
    ) -> Zgate {
        Zgate::start_with_options(home, overrides, Arc::new(SystemClock), Some(trail))
    }

    fn start_with_options(
        home: &Path,
        overrides: &[&str],
        clock: Arc<dyn Clock>,
        audit: Option<Arc<dyn zgate_gateway::audit::AuditTrail>>,
    ) -> Zgate {
        let config = load_config(home, overrides);
        let options = Options {
            port: Some(0),
            clock: clock.clone(),
            audit,
            ..Options::default()
        };
        let app = App::from_config(home, config.clone(), options).unwrap();
        let handle = app.handle();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(app.run(async {
                let _ = stopped.await;
            }))
        });
        let waiter = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let port = handle.local_addr().port();
        let zgate = Zgate {
            home: home.to_path_buf(),
            port,
            config,
            esm: Esm::open_with_clock(home, clock).unwrap(),
            waiter,
            stop: Some(stop),
            thread: Some(thread),
            client: Curl::new(port, home),
            handle,
        };
        zgate.wait_for_health(|h| *h == Health::Serving);
        zgate
    }

    pub fn url(&self, path: &str) -> String {
        self.client.url(path)
    }

    pub fn ca_file(&self) -> PathBuf {
        self.client.ca_file()
    }

    /// See [`Curl::curl`].
    pub fn curl(&self, args: &[&str], path: &str) -> (u16, String) {
        self.client.curl(args, path)
    }

    /// See [`Curl::login`].
    pub fn login(&self, user: &str, password: &str) -> String {
        self.client.login(user, password)
    }

    pub fn admin_password(&self) -> String {
        std::fs::read_to_string(self.home.join("initial-admin-password"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// Runs a RACF command from "another process", which must succeed, and
    /// returns once the app has applied it; the command's output.
    pub fn esm(&self, command: &str) -> String {
        let out = self
            .esm_result(command)
            .unwrap_or_else(|e| panic!("{command}: {e}"));
        self.reload();
        out
    }

    /// Runs a RACF command from "another process" and does not wait for the
    /// app: its output, or RACF's message.
    ///
    /// The app's ESM takes in other processes' changes on its own writes
    /// too (a logon counts its failures), and such a take is no reload: a
    /// test waiting for the reload generation after this must not send
    /// requests meanwhile.
    pub fn esm_result(&self, command: &str) -> Result<String, String> {
        self.esm
            .run_command(&Issuer::Operator, command)
            .map(|out| out.lines.join("\n"))
            .map_err(|e| e.to_string())
    }

    /// The records of the home's audit trail, oldest first, once everything
    /// submitted so far is written (the trail's own FILEHDR, ROTATE and
    /// CHECKPOINT lines left out).
    pub fn audit_records(&self) -> Vec<serde_json::Value> {
        self.handle.flush_audit();
        let dir = self.home.join(zgate_app::AUDIT_DIR);
        let mut records = Vec::new();
        for file in zgate_audit::trail::trail_files(&dir).unwrap() {
            for line in std::fs::read_to_string(&file).unwrap().lines() {
                let record: serde_json::Value = serde_json::from_str(line).unwrap();
                if record.get("event").is_some() {
                    records.push(record);
                }
            }
        }
        records
    }

    /// A canonical dump of the ESM's database.
    pub fn esm_dump(&self) -> Vec<String> {
        self.esm.dump_store().unwrap()
    }

    /// Asks the app to reload (SIGHUP's request) and returns what it
    /// applied.
    pub fn reload(&self) -> Reloaded {
        self.try_reload().unwrap()
    }

    /// [`Zgate::reload`], which may be refused.
    pub fn try_reload(&self) -> Result<Reloaded, ReloadError> {
        self.waiter.block_on(self.handle.reload())
    }

    /// The current reload generation.
    pub fn generation(&self) -> u64 {
        self.handle.generation()
    }

    /// Waits until the reload generation passes `before` (read before the
    /// change): how long that took, or `None` after `within`.
    pub fn reloaded_past(&self, before: u64, within: Duration) -> Option<Duration> {
        let started = Instant::now();
        let mut reloads = self.handle.reloads();
        // The timer is made inside the waiter's runtime, which drives it.
        let reloaded = self.waiter.block_on(async {
            tokio::time::timeout(within, reloads.wait_for(|generation| *generation > before)).await
        });
        matches!(reloaded, Ok(Ok(_))).then(|| started.elapsed())
    }

    /// Reloads of the certificates attempted so far (applied or refused).
    pub fn certificate_reloads(&self) -> u64 {
        *self.handle.certificate_reloads().borrow()
    }

    /// Waits until more than `before` certificate reloads were attempted
    /// (the app noticed a changed file on its own).
    pub fn wait_for_certificate_reload(&self, before: u64) {
        let mut reloads = self.handle.certificate_reloads();
        wait(&self.waiter, &mut reloads, |n| *n > before);
    }

    /// Reads the certificates again now (SIGHUP's part for them).
    pub fn reload_certificates(
        &self,
    ) -> Result<zgate_gateway::tls_reload::TlsReloaded, zgate_gateway::tls_reload::TlsReloadError>
    {
        self.waiter.block_on(self.handle.reload_certificates())
    }

    /// The Prometheus text of `/application/metrics`.
    pub fn metrics(&self) -> String {
        let (status, text) = self.curl(&[], "/application/metrics");
        assert_eq!(status, 200, "{text}");
        text
    }

    /// Waits until the app's health satisfies `want`.
    pub fn wait_for_health(&self, want: impl FnMut(&Health) -> bool) {
        let mut health = self.handle.health();
        wait(&self.waiter, &mut health, want);
    }

    /// A client certificate for `user`, issued by the home's local CA as
    /// `zgate cert client --user USER --out OUT` issues it.
    pub fn client_cert(&self, user: &str, out: &Path) -> ClientCert {
        let params = zgate_gateway::bootstrap::init_params(&self.config, SystemTime::now());
        let setup = &self.config.setup_certificate;
        let ca_alias = params.ca_alias.to_ascii_lowercase();
        let report = zgate_pki::client_cert(&zgate_pki::ClientCertParams {
            ca_keystore: params
                .dir
                .join(&ca_alias)
                .join(format!("{ca_alias}.keystore.p12")),
            ca_password: zgate_pki::Secret::new(setup.ca_password.expose().to_string()),
            ca_alias,
            user: user.to_owned(),
            out_dir: out.to_path_buf(),
            password: zgate_pki::Secret::new(setup.password.expose().to_string()),
            dname: params.dname,
            validity_days: params.validity_days,
            key_type: zgate_pki::KeyType::Rsa2048,
            legacy_pkcs12: params.legacy_pkcs12,
            force: false,
            now: SystemTime::now(),
        })
        .unwrap();
        ClientCert {
            cert: report.cert_pem,
            key: report.key_pem,
            map: report.racdcert_map,
        }
    }

    /// Stops the app as SIGTERM stops `zgate serve` and waits until it has
    /// drained.
    pub fn stop(mut self) -> Result<(), AppError> {
        self.shut_down()
    }

    /// Completes the app's shutdown future (SIGTERM's part) and returns at
    /// once.
    pub fn request_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Whether `run` has returned.
    pub fn has_stopped(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    fn shut_down(&mut self) -> Result<(), AppError> {
        self.request_stop();
        match self.thread.take() {
            Some(thread) => thread.join().unwrap(),
            None => Ok(()),
        }
    }
}

impl Drop for Zgate {
    fn drop(&mut self) {
        let _ = self.shut_down();
    }
}

/// The configuration of `home` (created with the defaults on a first
/// start) as `zgate serve` loads it, with `--set` style `overrides`, bound
/// to the loopback address.
pub fn load_config(home: &Path, overrides: &[&str]) -> zgate_config::Config {
    zgate_app::prepare_home(home, true).unwrap();
    let mut sets = vec!["zgate.server.address=127.0.0.1".to_owned()];
    sets.extend(overrides.iter().map(|s| (*s).to_owned()));
    zgate_config::load(&zgate_config::LoadOptions {
        home: home.to_path_buf(),
        zowe_yaml: None,
        overrides: sets,
    })
    .unwrap()
    .config
}

/// Waits on `channel` until its value satisfies `want`, at most
/// [`EVENT_DEADLINE`].
pub fn wait<T>(
    waiter: &tokio::runtime::Runtime,
    channel: &mut watch::Receiver<T>,
    want: impl FnMut(&T) -> bool,
) {
    // The timer is made inside the waiter's runtime, which drives it.
    let outcome = waiter.block_on(async {
        tokio::time::timeout(EVENT_DEADLINE, channel.wait_for(want))
            .await
            .map(|found| found.is_ok())
    });
    assert!(
        matches!(outcome, Ok(true)),
        "the event did not come within {EVENT_DEADLINE:?}"
    );
}

/// A client certificate and its key (PEM files), and the `RACDCERT MAP`
/// command that maps it to its user.
pub struct ClientCert {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub map: String,
}

/// The system clock moved forward on demand: tests that need several steps
/// within one second of the clock put it at the start of a second instead
/// of sleeping until one.
#[derive(Debug, Default)]
pub struct SteppedClock {
    offset_ms: AtomicI64,
}

impl SteppedClock {
    /// Moves the clock forward to 1 ms past its next whole second; the new
    /// time.
    pub fn to_next_second(&self) -> i64 {
        let now = self.now_ms();
        self.offset_ms
            .fetch_add(1001 - now.rem_euclid(1000), Ordering::SeqCst);
        self.now_ms()
    }

    /// Moves the clock forward by `s` seconds.
    pub fn advance_s(&self, s: i64) {
        self.offset_ms.fetch_add(s * 1000, Ordering::SeqCst);
    }
}

impl Clock for SteppedClock {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms() + self.offset_ms.load(Ordering::SeqCst)
    }
}
