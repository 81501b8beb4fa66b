//! Certificates that change without a restart: the server's key and chain
//! and the truststore are read from a [`TlsSource`], and [`LiveTls`] builds
//! the server configuration (what new handshakes use, through
//! [`ServerTls`]) and the upstream client configuration (what new
//! connections to services use) from what it read, with the versions,
//! ciphers and curves of the configuration, which a reload never changes.
//!
//! A reload happens on request (SIGHUP) and when the source's fingerprint
//! changes. What it read is refused, and the configurations in use stay,
//! when it cannot be read, its key is not its certificate's, its
//! certificate is not valid now, or no TLS configuration can be built from
//! it. Each reload is logged, counted (`zgate_tls_reloads_total`) and
//! recorded (RELOAD 201), and the expiry gauges follow what is in use.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use zgate_base::clock::Clock;
use zgate_config::Config;
use zgate_pki::{self as pki, PkiError, TlsMaterial};

use crate::audit::{self, AuditTrail, Origin, LISTENER_JOB_NAME};
use crate::bootstrap::{keystore_params, truststore_params, StartError};
use crate::metrics::{CertificateFacts, TlsStatus};
use crate::routing::Routing;
use crate::server::ServerTls;

/// How often expiring certificates are warned about while nothing else
/// happens.
const EXPIRY_CHECK_INTERVAL: Duration = Duration::from_secs(86_400);

/// Why a source could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsSourceError {
    /// A keystore or truststore could not be read or used.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// Another source's reason (a key ring's).
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
    /// A file could not be read for its fingerprint.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Where the server's key and chain and the trust anchors come from.
pub trait TlsSource: Send + Sync {
    /// Everything, read now.
    fn load(&self) -> Result<TlsMaterial, TlsSourceError>;

    /// A hash of what [`TlsSource::load`] would read: equal hashes, equal
    /// material. Cheap next to a load; asked every few seconds.
    fn fingerprint(&self) -> Result<[u8; 32], TlsSourceError>;
}

/// The keystore and truststore files of the configuration
/// (`zowe.certificate.*`). The truststore is looked for at each load, so
/// one that appears later is taken up.
pub struct KeystoreFiles {
    config: Config,
}

impl KeystoreFiles {
    /// The files `config` names.
    pub fn new(config: &Config) -> KeystoreFiles {
        KeystoreFiles {
            config: config.clone(),
        }
    }

    /// Every file the material is read from, whether it exists or not.
    fn files(&self) -> Vec<PathBuf> {
        let certificate = &self.config.certificate;
        let mut files = vec![certificate.keystore.file.clone()];
        if let Ok(pki::KeystoreParams::Pem { key, certificate }) = keystore_params(&self.config) {
            files.push(key);
            files.push(certificate);
        }
        files.push(certificate.truststore.file.clone());
        files.extend(certificate.pem_certificate_authorities.iter().cloned());
        files
    }
}

impl TlsSource for KeystoreFiles {
    fn load(&self) -> Result<TlsMaterial, TlsSourceError> {
        let keystore = keystore_params(&self.config).map_err(|error| match error {
            StartError::Pki(error) => TlsSourceError::Pki(error),
            other => TlsSourceError::Pki(PkiError::InvalidInput(other.to_string())),
        })?;
        Ok(TlsMaterial::load(
            &keystore,
            truststore_params(&self.config).as_ref(),
        )?)
    }

    /// SHA-256 over each file's name and contents (a rewrite may keep a
    /// file's size and modification time); a missing file counts as one.
    fn fingerprint(&self) -> Result<[u8; 32], TlsSourceError> {
        let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
        for path in self.files() {
            let name = path.as_os_str().as_encoded_bytes();
            digest.update(&(name.len() as u64).to_be_bytes());
            digest.update(name);
            match std::fs::read(&path) {
                Ok(contents) => {
                    digest.update(b"+");
                    digest.update(&(contents.len() as u64).to_be_bytes());
                    digest.update(&contents);
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    digest.update(b"-");
                }
                Err(source) => return Err(TlsSourceError::Read { path, source }),
            }
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.finish().as_ref());
        Ok(out)
    }
}

/// Why a reload was refused; the configurations in use stay.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsReloadError {
    /// The source could not be read.
    #[error(transparent)]
    Source(#[from] TlsSourceError),
    /// What was read cannot serve: a key that is not the certificate's, a
    /// certificate not valid now, or a configuration that cannot be built.
    #[error(transparent)]
    Unusable(PkiError),
    /// No client configuration for services can be built from it.
    #[error("TLS to services: {0}")]
    Upstream(PkiError),
}

/// What a reload applied: the new server certificate.
pub type TlsReloaded = Option<CertificateFacts>;

/// The server and upstream TLS configurations in use, and how they are
/// replaced.
pub struct LiveTls {
    source: Box<dyn TlsSource>,
    server_params: pki::ServerTlsParams,
    upstream_params: pki::ClientTlsParams,
    upstream_mode: pki::tls::VerifyMode,
    server: ServerTls,
    routing: Option<Arc<Routing>>,
    status: Arc<TlsStatus>,
    clock: Arc<dyn Clock>,
    audit: Option<Arc<dyn AuditTrail>>,
    /// Whether services could be reached over TLS at the start: if not, a
    /// reload that cannot build the upstream configuration is no worse.
    upstream_at_start: bool,
    /// The upstream configuration built from what was read at the start,
    /// given to routing (whose own has no key ring's certificates).
    upstream_start: Option<Arc<rustls::ClientConfig>>,
    /// The fingerprint of what was last read (applied or refused), and the
    /// lock that makes one reload at a time.
    last: Mutex<Option<[u8; 32]>>,
    check_every: Option<Duration>,
    attempts: watch::Sender<u64>,
}

impl LiveTls {
    /// Reads `source` and builds the server configuration `config`'s
    /// `zowe.network.server.tls` describes; the cipher suites left out are
    /// returned to be logged.
    pub fn start(
        config: &Config,
        source: Box<dyn TlsSource>,
        status: Arc<TlsStatus>,
        clock: Arc<dyn Clock>,
    ) -> Result<(LiveTls, Vec<String>), StartError> {
        let (upstream_params, upstream_mode) = crate::routing::setup::upstream_tls(config);
        let fingerprint = source.fingerprint().ok();
        let material = source.load().map_err(|error| match error {
            TlsSourceError::Pki(error) => StartError::Pki(error),
            other => StartError::Other(other.to_string()),
        })?;
        let server = crate::bootstrap::server_tls_params_for(config, &material);
        let (server_config, warnings) =
            pki::tls::server_config_from(&server, &material).map_err(server_error)?;
        status.set_stores(&material.chain, &material.trust_anchors);
        let upstream_start =
            pki::tls::client_config_from(&upstream_params, upstream_mode, &material)
                .ok()
                .map(|(upstream, _)| Arc::new(upstream));
        let upstream_at_start = upstream_start.is_some();
        let check_every = match config.tls_reload.check_seconds {
            0 => None,
            seconds => Some(Duration::from_secs(seconds)),
        };
        let live = LiveTls {
            source,
            server_params: server,
            upstream_params,
            upstream_mode,
            server: ServerTls::new(Arc::new(server_config)),
            routing: None,
            status,
            clock,
            audit: None,
            upstream_at_start,
            upstream_start,
            last: Mutex::new(fingerprint),
            check_every,
            attempts: watch::Sender::new(0),
        };
        live.status.warn_expiring(live.now());
        Ok((live, warnings))
    }

    /// Gives `routing` the upstream configuration of what was read at the
    /// start, and replaces it on each reload.
    pub fn with_routing(mut self, routing: Arc<Routing>) -> LiveTls {
        if let Some(upstream) = self.upstream_start.take() {
            routing.set_client_tls(Some(upstream));
        }
        self.routing = Some(routing);
        self
    }

    /// Records each reload in `trail`.
    pub fn with_audit(mut self, trail: Option<Arc<dyn AuditTrail>>) -> LiveTls {
        self.audit = trail;
        self
    }

    /// The server configuration handshakes read (give it to the server).
    pub fn server(&self) -> ServerTls {
        self.server.clone()
    }

    /// The certificates' state (reloads, expiry gauges).
    pub fn status(&self) -> Arc<TlsStatus> {
        self.status.clone()
    }

    /// Reloads attempted so far (applied or refused; unchanged sources not
    /// counted), as they happen.
    pub fn attempts(&self) -> watch::Receiver<u64> {
        self.attempts.subscribe()
    }

    fn now(&self) -> i64 {
        self.clock.now_ms().div_euclid(1000)
    }

    /// Reads the source again and applies what it holds (SIGHUP; blocking:
    /// it reads files). `Ok(Some(new certificate))`, or why it was refused.
    pub fn reload(&self) -> Result<TlsReloaded, TlsReloadError> {
        self.reload_when(true)
    }

    /// Like [`LiveTls::reload`], when the source's fingerprint changed since
    /// it was last read; `Ok(None)` when it did not.
    pub fn reload_if_changed(&self) -> Result<TlsReloaded, TlsReloadError> {
        self.reload_when(false)
    }

    fn reload_when(&self, forced: bool) -> Result<TlsReloaded, TlsReloadError> {
        let mut last = match self.last.lock() {
            Ok(last) => last,
            Err(poisoned) => poisoned.into_inner(),
        };
        let fingerprint = self.source.fingerprint();
        let fingerprint = match (fingerprint, forced) {
            (Ok(fingerprint), false) if *last == Some(fingerprint) => return Ok(None),
            (Ok(fingerprint), _) => Some(fingerprint),
            (Err(error), false) => {
                // Unreadable for its hash: refused once, not at every look.
                if last.is_none() {
                    return Ok(None);
                }
                *last = None;
                return Err(self.refused(error.into()));
            }
            (Err(_), true) => None,
        };
        // What was read is not read again until it changes, whatever came
        // of it: a broken file is refused once.
        *last = fingerprint;
        match self.build() {
            Ok((material, facts, server, upstream)) => {
                self.server.replace(Arc::new(server));
                if let (Some(routing), Some(upstream)) = (&self.routing, upstream) {
                    routing.set_client_tls(Some(Arc::new(upstream)));
                }
                self.status
                    .set_stores(&material.chain, &material.trust_anchors);
                self.status.reloaded(true);
                tracing::info!(
                    subject = %facts.subject,
                    serial = %facts.serial,
                    not_after = facts.not_after,
                    trust_anchors = material.trust_anchors.len(),
                    "server certificate and truststore reloaded; new connections use them"
                );
                self.record(Ok((&facts.subject, &facts.serial, facts.not_after)));
                self.status.warn_expiring(self.now());
                self.attempts.send_modify(|n| *n += 1);
                Ok(Some(facts))
            }
            Err(error) => Err(self.refused(error)),
        }
    }

    /// Everything a reload replaces, built before anything is replaced.
    #[allow(clippy::type_complexity)]
    fn build(
        &self,
    ) -> Result<
        (
            TlsMaterial,
            CertificateFacts,
            rustls::ServerConfig,
            Option<rustls::ClientConfig>,
        ),
        TlsReloadError,
    > {
        let material = self.source.load()?;
        let leaf = material
            .check_leaf(self.now())
            .map_err(TlsReloadError::Unusable)?;
        let (server, _) = pki::tls::server_config_from(&self.server_params, &material)
            .map_err(TlsReloadError::Unusable)?;
        let upstream = match pki::tls::client_config_from(
            &self.upstream_params,
            self.upstream_mode,
            &material,
        ) {
            Ok((upstream, _)) => Some(upstream),
            Err(error) if self.upstream_at_start => return Err(TlsReloadError::Upstream(error)),
            Err(_) => None,
        };
        let facts = CertificateFacts {
            subject: leaf.subject,
            serial: leaf.serial,
            not_after: leaf.not_after,
        };
        Ok((material, facts, server, upstream))
    }

    /// Counts, logs and records a refusal; the error, for the caller.
    fn refused(&self, error: TlsReloadError) -> TlsReloadError {
        self.status.reloaded(false);
        tracing::warn!(%error, "new server certificate or truststore refused; the previous ones stay");
        self.record(Err(&error.to_string()));
        self.attempts.send_modify(|n| *n += 1);
        error
    }

    fn record(&self, outcome: Result<(&str, &str, i64), &str>) {
        let Some(trail) = &self.audit else {
            return;
        };
        let origin = Origin {
            job_name: Some(LISTENER_JOB_NAME.to_owned()),
            ..Origin::default()
        };
        let record = audit::certificates_reloaded(self.clock.now_ms(), outcome, None, &origin);
        if let Err(error) = trail.submit(record) {
            tracing::error!(%error, "audit record of a certificate reload refused");
        }
    }

    /// Looks for a changed source every `zgate.tls.reloadCheckSeconds`
    /// (never when 0) and warns about expiring certificates daily, until
    /// aborted.
    pub async fn keep_current(self: Arc<Self>) {
        let tick = self.check_every.unwrap_or(EXPIRY_CHECK_INTERVAL);
        let mut expiry_checked = Instant::now();
        loop {
            tokio::time::sleep(tick).await;
            if self.check_every.is_some() {
                let live = self.clone();
                // Refusals are logged and counted where they happen.
                let _ = tokio::task::spawn_blocking(move || live.reload_if_changed()).await;
            }
            if expiry_checked.elapsed() >= EXPIRY_CHECK_INTERVAL {
                self.status.warn_expiring(self.now());
                expiry_checked = Instant::now();
            }
        }
    }
}

fn server_error(error: PkiError) -> StartError {
    match error {
        PkiError::UnsupportedCurves { .. } | PkiError::NoUsableCipherSuite => {
            StartError::ServerTls(error)
        }
        other => StartError::Pki(other),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn files_of(home: &std::path::Path) -> KeystoreFiles {
        let loaded = zgate_config::load(&zgate_config::LoadOptions {
            home: home.to_path_buf(),
            zowe_yaml: None,
            overrides: Vec::new(),
        })
        .unwrap();
        KeystoreFiles::new(&loaded.config)
    }

    #[test]
    fn the_fingerprint_follows_contents_not_size_or_modification_time() {
        let home = tempfile::tempdir().unwrap();
        let files = files_of(home.path());
        let keystore = files.config.certificate.keystore.file.clone();
        let truststore = files.config.certificate.truststore.file.clone();
        std::fs::create_dir_all(keystore.parent().unwrap()).unwrap();
        std::fs::write(&keystore, b"first contents").unwrap();
        let modified = std::fs::metadata(&keystore).unwrap().modified().unwrap();
        let first = files.fingerprint().unwrap();
        assert_eq!(files.fingerprint().unwrap(), first);

        // Rewritten with as many bytes and its old modification time.
        std::fs::write(&keystore, b"other contents").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&keystore)
            .unwrap()
            .set_modified(modified)
            .unwrap();
        let rewritten = files.fingerprint().unwrap();
        assert_ne!(rewritten, first);

        // A truststore that appears counts, as does its going away.
        std::fs::write(&truststore, b"").unwrap();
        let with_truststore = files.fingerprint().unwrap();
        assert_ne!(with_truststore, rewritten);
        std::fs::remove_file(&truststore).unwrap();
        assert_eq!(files.fingerprint().unwrap(), rewritten);
    }
}
