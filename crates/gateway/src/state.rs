//! Shared state of the HTTP surface.

use std::sync::Arc;

use zgate_auth::{PatService, TokenService};
use zgate_base::clock::Clock;

use crate::audit::{AuditRecord, AuditTrail};
use crate::error::ApiError;
use crate::metrics::{LoginOutcome, Metrics};
use crate::oidc::provider::ProviderTokens;
use zgate_config::NetworkZone;

use crate::peer::RemoteAddr;
use crate::security::{
    AccessLevel, AuthOutcome, CertOutcome, Conditions, Origin, Secret, SecurityManager,
};

/// The class of the gateway's own SAF resources (API ML's
/// `serviceResourceClass`, default `ZOWE`).
pub const SERVICE_RESOURCE_CLASS: &str = "ZOWE";

/// Behaviour switches of the endpoints (from `components.gateway.apiml.security`).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Serve `/auth/refresh`.
    pub allow_token_refresh: bool,
    /// `Max-Age` on the token cookie; `None` = a session cookie.
    pub cookie_max_age_seconds: Option<u64>,
    /// Client certificates authenticate (`x509.enabled`).
    pub x509_enabled: bool,
    /// Network access zones: a client address's zone is the condition
    /// `WHEN(SERVAUTH(zone))` permits name.
    pub network_zones: Vec<NetworkZone>,
}

struct Inner {
    security: Arc<dyn SecurityManager>,
    tokens: Arc<TokenService>,
    settings: Settings,
    metrics: Metrics,
    /// Secret hashing is slow and memory-hungry on purpose (argon2id,
    /// 19 MiB each): bound how many run at once so a login flood queues
    /// instead of exhausting memory with blocking threads.
    hashing: Arc<tokio::sync::Semaphore>,
    /// Personal access tokens, when enabled.
    pats: Option<Arc<PatService>>,
    /// The audit trail and the clock its records are stamped by; `None`
    /// when auditing is disabled.
    audit: Option<(Arc<dyn AuditTrail>, Arc<dyn Clock>)>,
    /// An OpenID provider's tokens, when OIDC is enabled.
    oidc: Option<Arc<ProviderTokens>>,
    /// The key pending OIDC logins are sealed with (shared by a cluster's
    /// nodes through the home's `state/`).
    oidc_login_key: Option<[u8; 32]>,
    /// The certificates' reloads and expiry, when the server watches them.
    tls: Option<Arc<crate::metrics::TlsStatus>>,
}

/// Cheap to clone; one per router.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    /// Builds the state.
    pub fn new(
        security: Arc<dyn SecurityManager>,
        tokens: Arc<TokenService>,
        settings: Settings,
    ) -> Self {
        Self(Arc::new(Inner {
            security,
            tokens,
            settings,
            metrics: Metrics::default(),
            hashing: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get() * 2),
            )),
            pats: None,
            audit: None,
            oidc: None,
            oidc_login_key: None,
            tls: None,
        }))
    }

    /// Records the gateway's own decisions in `trail`, stamped by `clock`
    /// (call right after [`AppState::new`]; the ESM is given the same trail
    /// for its logons and checks).
    pub fn with_audit(mut self, trail: Arc<dyn AuditTrail>, clock: Arc<dyn Clock>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.audit = Some((trail, clock));
        }
        self
    }

    /// The audit trail, when auditing is enabled.
    pub fn audit_trail(&self) -> Option<&Arc<dyn AuditTrail>> {
        self.0.audit.as_ref().map(|(trail, _)| trail)
    }

    /// Hands the record `make` builds (given the time now, ms) to the trail.
    /// `Err` when the trail refuses it (policy `refuse`): the caller must
    /// then not grant what the record is about. Without a trail, nothing is
    /// built.
    pub fn audit(&self, make: impl FnOnce(i64) -> AuditRecord) -> Result<(), ApiError> {
        let Some((trail, clock)) = &self.0.audit else {
            return Ok(());
        };
        trail.submit(make(clock.now_ms())).map_err(|error| {
            tracing::error!(%error, "audit record refused");
            ApiError::BackendUnavailable
        })
    }

    /// [`AppState::audit`] for what is done already and cannot be undone
    /// (a revocation, a logout, a reload): a refused record is logged and
    /// counted by the trail, and the caller answers as it would have.
    pub fn audit_done(&self, make: impl FnOnce(i64) -> AuditRecord) {
        let _ = self.audit(make);
    }

    /// Enables personal access tokens (call right after [`AppState::new`]).
    pub fn with_pats(mut self, pats: Arc<PatService>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.pats = Some(pats);
        }
        self
    }

    /// Accepts the tokens of an OpenID provider (call right after
    /// [`AppState::new`]).
    pub fn with_oidc(mut self, oidc: Arc<ProviderTokens>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.oidc = Some(oidc);
        }
        self
    }

    /// Seals pending OIDC logins with `key` (call right after
    /// [`AppState::new`]); without one, a key drawn when the routes are
    /// built, so a login must end in the process that started it.
    pub fn with_oidc_login_key(mut self, key: [u8; 32]) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.oidc_login_key = Some(key);
        }
        self
    }

    /// Reports the certificates' reloads and expiry from `status` in the
    /// metrics (call right after [`AppState::new`]).
    pub fn with_tls_status(mut self, status: Arc<crate::metrics::TlsStatus>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.tls = Some(status);
        }
        self
    }

    /// The certificates' reloads and expiry, when watched.
    pub fn tls_status(&self) -> Option<&Arc<crate::metrics::TlsStatus>> {
        self.0.tls.as_ref()
    }

    /// The key pending OIDC logins are sealed with, when one was given.
    pub fn oidc_login_key(&self) -> Option<&[u8; 32]> {
        self.0.oidc_login_key.as_ref()
    }

    /// The OpenID provider's tokens, when OIDC is enabled.
    pub fn oidc(&self) -> Option<&Arc<ProviderTokens>> {
        self.0.oidc.as_ref()
    }

    /// The PAT service, when PATs are enabled.
    pub fn pats(&self) -> Option<&Arc<PatService>> {
        self.0.pats.as_ref()
    }

    /// Maps a client certificate (DER) to a user that may log on
    /// (in memory, no hashing: runs inline).
    pub fn authenticate_certificate(
        &self,
        origin: &Origin,
        der: &[u8],
    ) -> Result<String, ApiError> {
        match self.0.security.map_certificate(origin, der) {
            Ok(CertOutcome::Mapped { user }) => Ok(user),
            Ok(CertOutcome::Revoked) => Err(ApiError::UserRevoked),
            Ok(CertOutcome::NoMapping) | Ok(CertOutcome::NotX509) => {
                Err(ApiError::CertificateNotMapped)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The token service.
    pub fn tokens(&self) -> &TokenService {
        &self.0.tokens
    }

    /// The security manager.
    pub fn security(&self) -> &Arc<dyn SecurityManager> {
        &self.0.security
    }

    /// Settings.
    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    /// Metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// Requires `level` on `resource` in the `ZOWE` class (API ML's
    /// `serviceResourceClass`) for `user`: the one SAF gate of the gateway's
    /// own administrative endpoints and of per-service authorization. The
    /// check runs on the in-memory index, so it needs no blocking thread.
    pub fn require_access(
        &self,
        user: &str,
        resource: &str,
        level: AccessLevel,
        conditions: Conditions<'_>,
    ) -> Result<(), ApiError> {
        let allowed =
            self.security()
                .check(user, SERVICE_RESOURCE_CLASS, resource, level, conditions)?;
        if allowed {
            Ok(())
        } else {
            tracing::info!(target: "zgate::audit", %user, %resource, level = level.as_str(), "access denied");
            Err(ApiError::Forbidden {
                resource: format!("{SERVICE_RESOURCE_CLASS} {resource} {}", level.as_str()),
            })
        }
    }

    /// The conditions of a request from `client` with `origin` (see
    /// [`Conditions`]).
    pub fn conditions<'a>(
        &'a self,
        client: Option<&RemoteAddr>,
        origin: &'a Origin,
    ) -> Conditions<'a> {
        Conditions {
            network_zone: client.and_then(|RemoteAddr(addr)| {
                NetworkZone::of(&self.0.settings.network_zones, addr.ip())
            }),
            origin,
        }
    }

    /// Verifies a password on a blocking thread (the hash is slow on purpose)
    /// and counts the outcome.
    pub async fn authenticate(
        &self,
        origin: Origin,
        user: String,
        password: Secret,
        new_password: Option<Secret>,
    ) -> Result<AuthOutcome, ApiError> {
        self.authenticate_with_factor(origin, user, password, new_password, None)
            .await
    }

    /// [`AppState::authenticate`] with a separately given MFA code
    /// (`mfaToken`); without one, an MFA user's code is read from the
    /// password field by the security manager.
    pub async fn authenticate_with_factor(
        &self,
        origin: Origin,
        user: String,
        password: Secret,
        new_password: Option<Secret>,
        code: Option<Secret>,
    ) -> Result<AuthOutcome, ApiError> {
        let Ok(permit) = self.0.hashing.clone().acquire_owned().await else {
            return Err(ApiError::BackendUnavailable);
        };
        let security = self.0.security.clone();
        // The permit lives as long as the hash, even if the client goes away.
        let result = tokio::task::spawn_blocking(move || {
            let outcome = security.authenticate_with_factor(
                &origin,
                &user,
                &password,
                new_password.as_ref(),
                code.as_ref(),
            );
            drop(permit);
            outcome
        })
        .await;
        let outcome = match result {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(error)) => {
                tracing::error!(%error, "security manager failed during authentication");
                self.0.metrics.login(LoginOutcome::BackendError);
                return Err(ApiError::BackendUnavailable);
            }
            Err(error) => {
                tracing::error!(%error, "authentication task failed");
                self.0.metrics.login(LoginOutcome::BackendError);
                return Err(ApiError::BackendUnavailable);
            }
        };
        self.0.metrics.login(match &outcome {
            AuthOutcome::Authenticated { .. } => LoginOutcome::Success,
            AuthOutcome::InvalidCredentials => LoginOutcome::InvalidCredentials,
            AuthOutcome::PasswordExpired => LoginOutcome::PasswordExpired,
            AuthOutcome::NewPasswordInvalid => LoginOutcome::NewPasswordInvalid,
            AuthOutcome::Revoked => LoginOutcome::Revoked,
        });
        Ok(outcome)
    }
}

/// Runs `work` that writes to the security store (a revocation, a PAT
/// rule) on a blocking thread: the database may take a round trip, or a
/// timeout while it is away, and the request path never waits on it.
pub async fn off_the_request_path<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| ApiError::BackendUnavailable)
}
