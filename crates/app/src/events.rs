//! What a running app tells its operators and tests: the reload generation
//! and the health, each a `watch` channel; and the reload itself, which
//! SIGHUP (in the binary) and the ESM poll trigger.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use zgate_auth::Clock;
use zgate_esm::Esm;
use zgate_gateway::audit::{self, AuditTrail, Origin, LISTENER_JOB_NAME};
use zgate_gateway::routing::{DefinitionErrors, Routing};
use zgate_gateway::tls_reload::{LiveTls, TlsReloadError, TlsReloaded};

/// The state of an app, as its [`Handle::health`] channel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Built and listening; connections queue until it runs.
    Starting,
    /// Accepting and serving.
    Serving,
    /// Serving, but the last look for ESM changes failed: changes other
    /// processes commit (revocations among them) are not being picked up.
    Degraded {
        /// The failure, in one sentence.
        reason: String,
    },
    /// No longer accepting; in-flight requests are finishing.
    Draining,
    /// Every connection is closed.
    Stopped,
}

/// What one reload applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reloaded {
    /// Whether ESM changes committed by other processes were picked up.
    pub esm_changed: bool,
    /// How many services are now defined.
    pub services: usize,
}

/// Why a reload did not apply everything it was asked to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadError {
    /// The service definitions are not valid; the previous set stays.
    #[error("service definitions refused; the previous set stays:\n{0}")]
    Services(DefinitionErrors),
    /// The ESM could not be read.
    #[error("cannot read the ESM's changes")]
    Esm(#[source] zgate_esm::EsmError),
    /// The blocking task doing the reload did not finish (runtime shutting
    /// down).
    #[error("the reload was interrupted")]
    Interrupted,
}

/// Events of one app and a way to ask it to reload. Cheap to clone.
#[derive(Clone)]
pub struct Handle(Arc<Shared>);

struct Shared {
    local_addr: SocketAddr,
    esm: Arc<Esm>,
    routing: Arc<Routing>,
    tls: Arc<LiveTls>,
    generation: watch::Sender<u64>,
    health: watch::Sender<Health>,
    /// Where reloads are recorded, stamped by the app's clock.
    audit: Option<(Arc<dyn AuditTrail>, Arc<dyn Clock>)>,
}

impl Handle {
    pub(crate) fn new(
        local_addr: SocketAddr,
        esm: Arc<Esm>,
        routing: Arc<Routing>,
        tls: Arc<LiveTls>,
        audit: Option<(Arc<dyn AuditTrail>, Arc<dyn Clock>)>,
    ) -> Handle {
        Handle(Arc::new(Shared {
            local_addr,
            esm,
            routing,
            tls,
            generation: watch::Sender::new(0),
            health: watch::Sender::new(Health::Starting),
            audit,
        }))
    }

    /// Records that the service definitions were read, by the app itself
    /// (start, SIGHUP): `Ok(services loaded)` or `Err(services kept)`. The
    /// definitions are in use either way; a record the trail refuses is
    /// logged (and counted by the trail).
    pub(crate) fn record_reload(&self, outcome: Result<usize, usize>) {
        let Some((trail, clock)) = &self.0.audit else {
            return;
        };
        let origin = Origin {
            job_name: Some(LISTENER_JOB_NAME.to_owned()),
            ..Origin::default()
        };
        let record = audit::services_reloaded(clock.now_ms(), outcome, None, &origin);
        if let Err(error) = trail.submit(record) {
            tracing::error!(%error, "audit record of a reload refused");
        }
    }

    /// Waits until every audit record submitted so far is written to the
    /// trail (blocking; for tests and tools reading the trail while the app
    /// runs). Without a trail of the app's own, returns at once.
    pub fn flush_audit(&self) {
        if let Some((trail, _)) = &self.0.audit {
            trail.flush();
        }
    }

    /// Where the app listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.0.local_addr
    }

    /// The reload generation: starts at 0 and moves by one each time a
    /// reload applied service definitions or ESM changes. Wait for it with
    /// `wait_for(|g| *g > before)`, `before` read before the change.
    pub fn reloads(&self) -> watch::Receiver<u64> {
        self.0.generation.subscribe()
    }

    /// The current reload generation.
    pub fn generation(&self) -> u64 {
        *self.0.generation.borrow()
    }

    /// The app's health, as it changes.
    pub fn health(&self) -> watch::Receiver<Health> {
        self.0.health.subscribe()
    }

    /// Reloads attempted of the server certificate, key and truststore
    /// (applied or refused), as they happen.
    pub fn certificate_reloads(&self) -> watch::Receiver<u64> {
        self.0.tls.attempts()
    }

    /// Reads the server certificate, key and truststore again, changed or
    /// not, and applies them to new connections; what is broken is refused
    /// and the previous ones stay.
    pub async fn reload_certificates(&self) -> Result<TlsReloaded, TlsReloadError> {
        let tls = self.0.tls.clone();
        tokio::task::spawn_blocking(move || tls.reload())
            .await
            .unwrap_or(Ok(None))
    }

    /// Re-reads the service definitions, and the server certificate, key
    /// and truststore when their files changed, and picks up ESM changes
    /// now (what SIGHUP asks for). A bad set of definitions is refused and
    /// the previous one kept, as are broken certificates; ESM changes are
    /// applied either way.
    pub async fn reload(&self) -> Result<Reloaded, ReloadError> {
        let shared = self.0.clone();
        let (esm, services) = tokio::task::spawn_blocking(move || {
            // Outcomes are logged, counted and recorded where they happen.
            let _ = shared.tls.reload_if_changed();
            (shared.esm.reload_if_changed(), shared.routing.reload())
        })
        .await
        .map_err(|_| ReloadError::Interrupted)?;
        let esm = self.esm_outcome(esm);
        let services = match services {
            Ok(n) => {
                tracing::info!(services = n, "service definitions reloaded");
                self.record_reload(Ok(n));
                Ok(n)
            }
            Err(errors) => {
                tracing::warn!(%errors, "service definitions refused; the previous set stays");
                self.record_reload(Err(self.0.routing.services().len()));
                Err(ReloadError::Services(errors))
            }
        };
        if services.is_ok() || matches!(esm, Ok(true)) {
            self.advance();
        }
        Ok(Reloaded {
            services: services?,
            esm_changed: esm?,
        })
    }

    /// Looks for ESM changes every `interval`, and at once when the store
    /// announces a commit of another process, until aborted.
    pub(crate) async fn poll_esm(self, interval: Duration) {
        let announced = Arc::new(tokio::sync::Notify::new());
        let wake = {
            let announced = announced.clone();
            Arc::new(move || announced.notify_one())
        };
        if let Err(error) = self.0.esm.watch_changes(wake) {
            tracing::warn!(%error, "the store's announcements are not available; looking for ESM changes every {interval:?}");
        }
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = announced.notified() => {}
            }
            let esm = self.0.esm.clone();
            let Ok(outcome) = tokio::task::spawn_blocking(move || esm.reload_if_changed()).await
            else {
                continue;
            };
            if let Ok(true) = self.esm_outcome(outcome) {
                self.advance();
            }
        }
    }

    /// Logs an ESM look and keeps the health in step with it.
    fn esm_outcome(&self, outcome: Result<bool, zgate_esm::EsmError>) -> Result<bool, ReloadError> {
        match outcome {
            Ok(changed) => {
                if changed {
                    tracing::info!("ESM changes picked up");
                }
                self.0.health.send_if_modified(|health| {
                    let degraded = matches!(health, Health::Degraded { .. });
                    if degraded {
                        *health = Health::Serving;
                    }
                    degraded
                });
                Ok(changed)
            }
            Err(error) => {
                tracing::warn!(%error, "ESM reload failed");
                let reason = error.to_string();
                self.0.health.send_if_modified(|health| {
                    let serving = matches!(health, Health::Serving | Health::Degraded { .. });
                    if serving {
                        *health = Health::Degraded { reason };
                    }
                    serving
                });
                Err(ReloadError::Esm(error))
            }
        }
    }

    fn advance(&self) {
        self.0.generation.send_modify(|generation| *generation += 1);
    }

    pub(crate) fn set_health(&self, health: Health) {
        self.0.health.send_replace(health);
    }
}
