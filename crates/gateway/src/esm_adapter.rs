//! The embedded ESM behind the gateway's narrow traits: [`SecurityManager`]
//! (verify, check, health) and `zgate_auth::RevocationStore` (revoked token
//! hashes, persisted in the ESM's store), plus the first-start administrator.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ring::rand::{SecureRandom, SystemRandom};
use zgate_auth::{PatRuleStore, RevocationStore, RuleKind, StoreError, TokenHash};
use zgate_esm::{CertificateLogon, Esm, Issuer, PatRule, VerifyOutcome};

use crate::security::{
    AccessLevel, AuthOutcome, BackendError, CertOutcome, Conditions, IdentityOutcome, Origin,
    Secret, SecurityManager, StoreSync,
};

/// How long a gateway keeps deciding from memory when its store does not
/// answer (`zgate.storeOutageGraceSeconds`'s default).
pub const DEFAULT_STORE_OUTAGE_GRACE: Duration = Duration::from_secs(5);

/// The ESM as the gateway uses it.
#[derive(Clone)]
pub struct EsmSecurity {
    esm: Arc<Esm>,
    /// Past this age of the state in memory (the store has not answered
    /// for that long), every decision that depends on what other gateways
    /// may have committed fails closed.
    grace: Duration,
}

impl EsmSecurity {
    /// The ESM with [`DEFAULT_STORE_OUTAGE_GRACE`].
    pub fn new(esm: Arc<Esm>) -> EsmSecurity {
        EsmSecurity {
            esm,
            grace: DEFAULT_STORE_OUTAGE_GRACE,
        }
    }

    /// The same ESM deciding from memory for at most `grace` without an
    /// answer from its store.
    pub fn with_store_outage_grace(self, grace: Duration) -> EsmSecurity {
        EsmSecurity { grace, ..self }
    }

    /// `Err` when the state in memory is older than the grace: the store
    /// has not answered, and a revocation, a deleted user or a changed
    /// permission committed by another gateway may be missing here.
    fn current(&self) -> Result<(), BackendError> {
        let age = self.esm.state_age();
        if age > self.grace {
            return Err(BackendError(format!(
                "the security state was last read from the store {} ms ago (grace {} ms)",
                age.as_millis(),
                self.grace.as_millis()
            )));
        }
        Ok(())
    }
}

impl SecurityManager for EsmSecurity {
    fn authenticate(
        &self,
        origin: &Origin,
        user: &str,
        password: &Secret,
        new_password: Option<&Secret>,
    ) -> Result<AuthOutcome, BackendError> {
        self.authenticate_with_factor(origin, user, password, new_password, None)
    }

    fn check(
        &self,
        user: &str,
        class: &str,
        resource: &str,
        level: AccessLevel,
        conditions: Conditions<'_>,
    ) -> Result<bool, BackendError> {
        self.current()?;
        let mut context = zgate_esm::CheckContext {
            origin: conditions.origin.clone(),
            ..zgate_esm::CheckContext::default()
        };
        if let Some(zone) = conditions.network_zone {
            context.conditions.push(zgate_esm::Condition {
                kind: "SERVAUTH".into(),
                value: zone.to_owned(),
            });
        }
        let decision = self.esm.check_with(user, class, resource, level, &context);
        // Denied only because the trail could not keep it: not the
        // caller's fault, and not an answer about the resource.
        if decision.is_unrecorded() {
            return Err(BackendError(UNRECORDED.into()));
        }
        Ok(decision.authorized())
    }

    fn authenticate_with_factor(
        &self,
        origin: &Origin,
        user: &str,
        password: &Secret,
        new_password: Option<&Secret>,
        code: Option<&Secret>,
    ) -> Result<AuthOutcome, BackendError> {
        self.current()?;
        verify_outcome(self.esm.verify_from(
            origin,
            user,
            password.expose(),
            new_password.map(Secret::expose),
            code.map(Secret::expose),
        ))
    }

    fn map_identity(
        &self,
        origin: &Origin,
        user_name: &str,
        registry: &str,
    ) -> Result<IdentityOutcome, BackendError> {
        self.current()?;
        Ok(
            match self
                .esm
                .map_distributed_identity(origin, user_name, registry)
            {
                Ok(user) => IdentityOutcome::Mapped { user },
                Err(zgate_esm::UsermapError::Revoked { .. }) => IdentityOutcome::Revoked,
                Err(error) => {
                    // R_usermap's codes for the log; never the name itself.
                    tracing::info!(%error, "distributed identity not mapped");
                    IdentityOutcome::NoMapping
                }
            },
        )
    }

    fn map_certificate(&self, origin: &Origin, der: &[u8]) -> Result<CertOutcome, BackendError> {
        self.current()?;
        Ok(match self.esm.logon_by_certificate(origin, der) {
            CertificateLogon::Mapped { user } => CertOutcome::Mapped { user },
            CertificateLogon::NoMapping => CertOutcome::NoMapping,
            CertificateLogon::Revoked => CertOutcome::Revoked,
            CertificateLogon::NotX509 => CertOutcome::NotX509,
            CertificateLogon::Unrecorded => return Err(BackendError(UNRECORDED.into())),
        })
    }

    fn health(&self) -> Result<(), BackendError> {
        // Reading the store's journal proves the database answers.
        self.esm
            .reload_if_changed()
            .map(|_| ())
            .map_err(|e| BackendError(e.to_string()))?;
        self.current()
    }

    fn store_sync(&self) -> Option<StoreSync> {
        let counts = self.esm.sync_counts();
        Some(StoreSync {
            state_age_ms: u64::try_from(self.esm.state_age().as_millis()).unwrap_or(u64::MAX),
            replayed: counts.replayed,
            reloads: counts.reloads,
        })
    }
}

/// Why a decision the ESM had to record was refused.
const UNRECORDED: &str = "the audit trail cannot record the decision";

impl RevocationStore for EsmSecurity {
    fn revoke(&self, hash: &TokenHash, expires_at_ms: i64) -> Result<(), StoreError> {
        self.esm
            .token_state()
            .revoke_token(&hash.to_hex(), expires_at_ms)
            .map_err(|e| StoreError(e.to_string()))
    }

    fn is_revoked(&self, hash: &TokenHash) -> bool {
        self.esm.token_state().is_token_revoked(&hash.to_hex())
    }

    fn credentials_valid_since(&self, user: &str) -> Option<i64> {
        self.esm.credentials_valid_since(user)
    }

    fn current(&self) -> Result<(), StoreError> {
        EsmSecurity::current(self).map_err(|e| StoreError(e.0))
    }
}

fn verify_outcome(outcome: VerifyOutcome) -> Result<AuthOutcome, BackendError> {
    Ok(match outcome {
        VerifyOutcome::Success { user } => AuthOutcome::Authenticated { user },
        // Deliberately one answer: no user enumeration.
        VerifyOutcome::UnknownUser | VerifyOutcome::WrongPassword => {
            AuthOutcome::InvalidCredentials
        }
        VerifyOutcome::Expired => AuthOutcome::PasswordExpired,
        VerifyOutcome::NewPasswordInvalid { .. } => AuthOutcome::NewPasswordInvalid,
        VerifyOutcome::Revoked => AuthOutcome::Revoked,
        // The store failed, or the audit trail cannot record the logon.
        VerifyOutcome::StoreUnavailable => {
            return Err(BackendError(
                "the security database or the audit trail is unavailable".into(),
            ))
        }
    })
}

// PAT revocation rules live in the ESM's store.
fn esm_rule(kind: RuleKind) -> PatRule {
    match kind {
        RuleKind::Token => PatRule::Token,
        RuleKind::User => PatRule::User,
        RuleKind::Scope => PatRule::Scope,
    }
}

impl PatRuleStore for EsmSecurity {
    fn salt(&self) -> Result<Vec<u8>, StoreError> {
        self.esm.pat_salt().map_err(|e| StoreError(e.to_string()))
    }
    fn rule(&self, kind: RuleKind, hash: &str) -> Option<i64> {
        self.esm.pat_rule(esm_rule(kind), hash)
    }
    fn put_rule(&self, kind: RuleKind, hash: &str, value_ms: i64) -> Result<bool, StoreError> {
        self.esm
            .put_pat_rule(esm_rule(kind), hash, value_ms)
            .map_err(|e| StoreError(e.to_string()))
    }
    fn evict(&self, now_ms: i64, max_age_ms: i64) -> Result<usize, StoreError> {
        self.esm
            .evict_pat_rules(now_ms, max_age_ms)
            .map_err(|e| StoreError(e.to_string()))
    }
}

/// The administrator created on a first start.
pub struct InitialAdmin {
    /// Its user id.
    pub user: String,
    /// The 0600 file holding its initial password phrase.
    pub password_file: PathBuf,
}

/// The user id of the first-start administrator.
pub const ADMIN_USER: &str = "ADMIN";
/// The file (in the home) holding its initial password.
pub const ADMIN_PASSWORD_FILE: &str = "initial-admin-password";

/// Why the administrator could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The random generator failed.
    #[error("no randomness available for the administrator's password")]
    Random,
    /// The ESM refused the command.
    #[error("the ESM could not create the administrator: {0}")]
    Esm(String),
    /// The password file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Creates the SPECIAL administrator `ADMIN` with a random password phrase
/// (not expired, so clients can log in with it at once), written to
/// `<home>/initial-admin-password` (0600). Returns `None` when the user
/// exists already.
pub fn ensure_admin(esm: &Esm, home: &Path) -> Result<Option<(InitialAdmin, String)>, AdminError> {
    if esm.user(ADMIN_USER).is_some() {
        return Ok(None);
    }
    let phrase = random_phrase(ADMIN_USER)?;
    let path = home.join(ADMIN_PASSWORD_FILE);
    write_private(&path, format!("{phrase}\n").as_bytes()).map_err(|source| AdminError::Write {
        path: path.clone(),
        source,
    })?;
    // The command text carries the phrase: it goes to the ESM only, never to
    // a log or an error message.
    let command = format!(
        "ADDUSER {ADMIN_USER} SPECIAL DFLTGRP(SYS1) NAME('ZGATE ADMINISTRATOR') PHRASE('{phrase}') NOEXPIRED"
    );
    if let Err(error) = esm.run_command(&Issuer::Operator, &command) {
        let _ = std::fs::remove_file(&path);
        return Err(AdminError::Esm(
            error.to_string().replace(&phrase, "********"),
        ));
    }
    Ok(Some((
        InitialAdmin {
            user: ADMIN_USER.to_string(),
            password_file: path,
        },
        phrase,
    )))
}

/// A password phrase of four groups of five characters from `[a-z0-9]`
/// (~103 bits), meeting the ESM's phrase rules.
fn random_phrase(user: &str) -> Result<String, AdminError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyz23456789";
    let rng = SystemRandom::new();
    loop {
        let mut bytes = [0u8; 20];
        rng.fill(&mut bytes).map_err(|_| AdminError::Random)?;
        let chars: Vec<char> = bytes
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
            .collect();
        let phrase = chars
            .chunks(5)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join("-");
        let letters = phrase.chars().filter(|c| c.is_alphabetic()).count();
        let triple = phrase
            .as_bytes()
            .windows(3)
            .any(|w| w[0] == w[1] && w[1] == w[2]);
        if letters >= 2 && !triple && !phrase.to_ascii_uppercase().contains(user) {
            return Ok(phrase);
        }
    }
}

pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_meet_the_rules() {
        for _ in 0..200 {
            let phrase = random_phrase("ADMIN").unwrap();
            assert_eq!(phrase.len(), 23);
            assert!(
                zgate_esm::password::check_phrase_syntax("ADMIN", &phrase).is_ok(),
                "{phrase}"
            );
        }
    }
}
