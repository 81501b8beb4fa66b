//! zgate-app: a configured zgate, built and run.
//!
//! [`App::from_config`] does everything a start needs before the first
//! connection: certificates and the administrator on a first start, the ESM,
//! the token service, the gateway's state and routing, and the bound
//! listener (so [`App::local_addr`] is known, and connections queue, before
//! [`App::run`]). `run` serves until the shutdown future completes, picks up
//! ESM changes other processes commit and polls upstream health meanwhile,
//! then drains.
//!
//! What happens while it runs is observable through a [`Handle`]: the
//! reload generation (a counter that moves each time service definitions or
//! ESM changes were applied) and the [`Health`] of the process, both as
//! `tokio::sync::watch` channels, so that operators' tooling and tests wait
//! for the event itself, not for a time in which it usually happens.
//!
//! Architecture invariant: this crate never prints, reads no arguments and
//! installs no signal handler; the binary does those and maps [`AppError`]
//! to text and an exit code.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod audit;
mod events;
mod first_start;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use zgate_auth::{Clock, PatService, SystemClock, TokenService, TokenSettings};
use zgate_config::Config;
use zgate_esm::{Esm, EsmConfig, MfaSettings};
use zgate_gateway::audit::AuditTrail;
use zgate_gateway::bootstrap::{self, StartError};
use zgate_gateway::esm_adapter::{ensure_admin, AdminError, EsmSecurity};
use zgate_gateway::key_rings::KeyRingStores;
use zgate_gateway::metrics::TlsStatus;
use zgate_gateway::routing::setup::RoutingSetupError;
use zgate_gateway::routing::Routing;
use zgate_gateway::tls_reload::{KeystoreFiles, LiveTls, TlsSource, TlsSourceError};
use zgate_gateway::{AppState, Gateway, Settings};

pub use audit::{AUDIT_DIR, AUDIT_KEY};
pub use events::{Handle, Health, ReloadError, Reloaded};
pub use first_start::{prepare_home, FirstStart, InitialAdmin};

/// How often, by default, the ESM is asked whether another process
/// committed changes: a revoked user must lose access within a second, and
/// a look reads one generation counter.
pub const ESM_POLL_INTERVAL: Duration = Duration::from_millis(200);

/// The connections the kernel queues while the acceptor is busy (tokio's
/// own default for `TcpListener::bind`).
const LISTEN_BACKLOG: i32 = 1024;

/// How an [`App`] is built beyond its configuration.
#[derive(Clone)]
pub struct Options {
    /// Bind this port instead of the configured one; `Some(0)` lets the OS
    /// pick one (the configuration's schema wants 1-65535).
    pub port: Option<u16>,
    /// The one clock of the ESM and the tokens: a user's revocation time
    /// and a token's issue time are compared, so both must read the same.
    pub clock: Arc<dyn Clock>,
    /// How often ESM changes committed by other processes are looked for.
    pub esm_poll_interval: Duration,
    /// Records go here instead of the trail `zgate.audit` describes, even
    /// when the configuration disables auditing (tests: a trail that
    /// refuses, or one held in memory).
    pub audit: Option<Arc<dyn AuditTrail>>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            port: None,
            clock: Arc::new(SystemClock),
            esm_poll_interval: ESM_POLL_INTERVAL,
            audit: None,
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("port", &self.port)
            .field("esm_poll_interval", &self.esm_poll_interval)
            .field("audit", &self.audit.is_some())
            .finish_non_exhaustive()
    }
}

/// Why zgate could not be set up or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The home directory could not be created.
    #[error("cannot create {path}")]
    Home {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The default configuration file could not be written.
    #[error("cannot write {path}")]
    WriteConfig {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Certificates, the TLS configuration or the key ring.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The audit trail could not be opened.
    #[error("cannot open the audit trail")]
    Audit(#[source] zgate_audit::trail::TrailError),
    /// The ESM database could not be opened.
    #[error("cannot open the ESM")]
    Esm(#[source] zgate_esm::EsmError),
    /// The first-start administrator could not be created.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// Expired token revocations could not be purged.
    #[error("cannot purge expired revocations")]
    Purge(#[source] zgate_esm::EsmError),
    /// The token service refused its key ring.
    #[error(transparent)]
    Tokens(#[from] zgate_auth::TokenError),
    /// The gateway's server user (PassTickets) could not be defined.
    #[error("cannot set up the gateway's server user")]
    ServerUser(#[source] zgate_esm::CommandError),
    /// The service definitions are not valid.
    #[error(transparent)]
    Routing(#[from] RoutingSetupError),
    /// The listening socket.
    #[error("cannot listen on {address}")]
    Listen {
        /// Where.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server's worker threads could not be started.
    #[error("cannot start the worker threads")]
    Workers(#[source] std::io::Error),
}

impl AppError {
    /// Whether the configuration is at fault (a keystore password, alias or
    /// type, service definitions): the CLI exits with `EX_USAGE` (64).
    pub fn is_configuration(&self) -> bool {
        match self {
            AppError::Start(error) => error.is_configuration(),
            AppError::Routing(_) => true,
            _ => false,
        }
    }
}

/// A configured zgate, listening, not yet serving.
pub struct App {
    listener: std::net::TcpListener,
    local_addr: SocketAddr,
    /// The server and upstream TLS configurations, reloaded as their files
    /// change.
    tls: Arc<LiveTls>,
    gateway: Gateway,
    routing: Arc<Routing>,
    grace: Duration,
    esm_poll_interval: Duration,
    ca_file: PathBuf,
    first_start: FirstStart,
    handle: Handle,
    /// The trail `zgate.audit` describes, closed when `run` ends.
    audit: Option<audit::AuditWriter>,
    /// The OpenID provider's tokens, whose keys `run` keeps fresh.
    oidc: Option<Arc<zgate_gateway::oidc::provider::ProviderTokens>>,
}

/// Where the ESM of `home` keeps its state, as `zgate.store` says: the
/// SQLite file (by default `<home>/esm.db`) or a PostgreSQL database.
pub fn esm_location(home: &Path, config: &Config) -> zgate_esm::StoreLocation {
    match &config.store {
        zgate_config::StoreLocation::Postgres(url) => {
            zgate_esm::StoreLocation::Postgres(url.expose().to_owned())
        }
        // The default names the configuration's home; the ESM is the one
        // of the home being started.
        zgate_config::StoreLocation::Sqlite(path) if *path == config.home.join("esm.db") => {
            zgate_esm::StoreLocation::Sqlite(home.join("esm.db"))
        }
        zgate_config::StoreLocation::Sqlite(path) => zgate_esm::StoreLocation::Sqlite(path.clone()),
    }
}

impl App {
    /// Builds everything `config` describes for the home `home` and binds
    /// the listener. On a first start (no ESM database yet) it creates the
    /// certificates, the SPECIAL administrator and the gateway's server
    /// user; [`App::first_start`] says what was created.
    pub fn from_config(home: &Path, config: Config, options: Options) -> Result<App, AppError> {
        let mut first_start = FirstStart::default();
        if bootstrap::ensure_certificates(&config)?.is_some() {
            tracing::info!(directory = %config.setup_certificate.directory.display(), "certificates created");
            first_start.certificates = Some(config.setup_certificate.directory.clone());
        }

        let clock = options.clock;
        let writer = match (&options.audit, config.audit.enabled) {
            (None, true) => {
                Some(audit::AuditWriter::start(home, &config.audit).map_err(AppError::Audit)?)
            }
            _ => None,
        };
        let trail: Option<Arc<dyn AuditTrail>> = match (options.audit, &writer) {
            (Some(trail), _) => Some(trail),
            (None, Some(writer)) => Some(writer.trail.clone()),
            (None, None) => None,
        };
        let esm = Arc::new(
            Esm::open_store(
                &esm_location(home, &config),
                EsmConfig {
                    clock: clock.clone(),
                    audit: trail
                        .clone()
                        .map(|trail| -> Arc<dyn zgate_audit::AuditSink> { trail }),
                    key_encryption_file: Some(zgate_esm::keywrap::kek_path(home)),
                    ..EsmConfig::default()
                },
            )
            .map_err(AppError::Esm)?,
        );
        // A first start is one that created the store: of gateways starting
        // together on a new shared database, only one.
        let esm_existed = !esm.store_was_created();
        if !esm_existed {
            if let Some((admin, password)) = ensure_admin(&esm, home)? {
                first_start.admin = Some(InitialAdmin {
                    user: admin.user,
                    password_file: admin.password_file,
                    password,
                });
            }
        }
        let purged = esm
            .token_state()
            .purge_expired_tokens(clock.now_ms())
            .map_err(AppError::Purge)?;
        tracing::debug!(purged, "expired token revocations purged");

        // The server's certificate: from the keystore files, or from a key
        // ring of the ESM read as the gateway's user.
        let source: Box<dyn TlsSource> = match KeyRingStores::of(
            &config,
            esm.clone(),
            zgate_gateway::routing::setup::SERVER_USER,
        )
        .map_err(|error| StartError::Other(error.to_string()))?
        {
            Some(rings) => Box::new(rings),
            None => Box::new(KeystoreFiles::new(&config)),
        };
        let material = source.load().map_err(|error| match error {
            TlsSourceError::Pki(error) => StartError::Pki(error),
            other => StartError::Other(other.to_string()),
        })?;
        let ring = bootstrap::key_ring(&config, &material, clock.now_ms())?;
        drop(material);
        let state_clock = clock.clone();
        let security = EsmSecurity::new(esm.clone())
            .with_store_outage_grace(Duration::from_secs(config.store_outage_grace_seconds));
        let security_config = &config.gateway.security;
        let tokens = Arc::new(TokenService::new(
            ring,
            clock,
            TokenSettings {
                lifetime_seconds: i64::try_from(security_config.token_expiration_seconds)
                    .unwrap_or(i64::MAX),
                domain: security_config.security_domain.clone(),
            },
            Arc::new(security.clone()),
        )?);
        let tls_status = Arc::new(TlsStatus::new(config.tls_reload.expiry_warning_days));
        let (tls, unsupported) =
            LiveTls::start(&config, source, tls_status.clone(), state_clock.clone())?;
        for cipher in unsupported {
            tracing::warn!("{cipher}");
        }
        esm.set_mfa_settings(MfaSettings {
            separator: security_config.mfa_separator.clone(),
            // Each step either side costs an HMAC per logon; more than 10
            // (5 minutes) defeats the point of a time-based code.
            skew_steps: security_config.mfa_skew_steps.min(10),
        });
        let pats = security_config
            .personal_access_token_enabled
            .then(|| Arc::new(PatService::new(tokens.clone(), Arc::new(security.clone()))));
        let mut state = AppState::new(
            Arc::new(security),
            tokens,
            Settings {
                allow_token_refresh: security_config.allow_token_refresh,
                cookie_max_age_seconds: security_config.cookie_max_age_seconds,
                x509_enabled: security_config.x509_enabled,
                network_zones: config.network_zones.clone(),
            },
        )
        .with_tls_status(tls_status.clone());
        if let Some(pats) = pats {
            state = state.with_pats(pats);
        }
        let oidc = zgate_gateway::bootstrap::provider_tokens(&config, state_clock.clone());
        if let Some(oidc) = &oidc {
            state = state
                .with_oidc(oidc.clone())
                .with_oidc_login_key(bootstrap::oidc_login_key(&config.home)?);
        }
        if let Some(trail) = &trail {
            state = state.with_audit(trail.clone(), state_clock.clone());
        }
        // PassTickets are generated as the server user; the definitions are
        // validated here, so bad ones refuse the start with file:line errors.
        if !esm_existed {
            zgate_gateway::routing::setup::bootstrap_server_user(&esm)
                .map_err(AppError::ServerUser)?;
        }
        let routing =
            zgate_gateway::routing::setup::routing(&config, esm.clone(), Some(tls_status))?;
        let tls = Arc::new(tls.with_routing(routing.clone()).with_audit(trail.clone()));
        let handle_audit = trail.map(|trail| (trail, state_clock));
        let gateway = zgate_gateway::routes::router_with(state, Some(routing.clone()));

        let address = SocketAddr::new(
            config.gateway.address,
            options.port.unwrap_or(config.gateway.port),
        );
        let listener = listen(address).map_err(|source| AppError::Listen { address, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| AppError::Listen { address, source })?;
        let handle = Handle::new(local_addr, esm, routing.clone(), tls.clone(), handle_audit);
        handle.record_reload(Ok(routing.services().len()));
        Ok(App {
            listener,
            local_addr,
            tls,
            gateway,
            handle,
            routing,
            grace: Duration::from_secs(config.gateway.shutdown_grace_seconds),
            esm_poll_interval: options.esm_poll_interval,
            ca_file: bootstrap::ca_file(&config),
            first_start,
            audit: writer,
            oidc,
        })
    }

    /// Where the listener is bound (the port the OS picked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// What this start created.
    pub fn first_start(&self) -> &FirstStart {
        &self.first_start
    }

    /// The local CA's certificate clients should trust, when there is one
    /// (certificates imported from elsewhere have none).
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.exists().then_some(self.ca_file.as_path())
    }

    /// Events and reloads of this app, usable before and while it runs.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Serves until `shutdown` completes, then lets in-flight requests
    /// finish within the configured grace period.
    ///
    /// The caller's runtime accepts connections and runs the housekeeping
    /// (ESM changes, upstream health); requests are served by the per-core
    /// worker threads the gateway's server starts.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), AppError> {
        let address = self.local_addr;
        let listener = tokio::net::TcpListener::from_std(self.listener)
            .map_err(|source| AppError::Listen { address, source })?;
        tracing::info!(%address, "listening");
        let handle = self.handle;
        let esm_poll = tokio::spawn(handle.clone().poll_esm(self.esm_poll_interval));
        let upstream_health = tokio::spawn(self.routing.poll_health());
        let certificates = tokio::spawn(self.tls.clone().keep_current());
        let provider_keys = self.oidc.map(|oidc| tokio::spawn(oidc.keep_keys_fresh()));
        handle.set_health(Health::Serving);
        let draining = {
            let handle = handle.clone();
            async move {
                shutdown.await;
                handle.set_health(Health::Draining);
            }
        };
        let served = zgate_gateway::server::serve_tls(
            listener,
            self.tls.server(),
            self.gateway,
            draining,
            self.grace,
        )
        .await;
        esm_poll.abort();
        upstream_health.abort();
        certificates.abort();
        if let Some(task) = provider_keys {
            task.abort();
        }
        // Every request has been answered: what they recorded is written
        // before `run` returns.
        if let Some(writer) = self.audit {
            let _ = tokio::task::spawn_blocking(move || writer.close()).await;
        }
        handle.set_health(Health::Stopped);
        served.map_err(AppError::Workers)
    }
}

/// A non-blocking listener on `address` with the backlog tokio would give.
fn listen(address: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    // A restart must not wait for the previous process's TIME_WAIT sockets.
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}
