//! The logon factors kept in the security records: TOTP codes (see
//! [`crate::mfa`]) and client certificates mapped to users (see
//! [`crate::certmap`]). Reads come from the in-memory copy; a TOTP step is
//! claimed in one transaction so that no two processes accept one code.

use sha2::Digest;
use zgate_audit::Origin;

use super::{Esm, EsmError, MfaSettings, Transaction, VerifyOutcome};
use crate::audit::LogonMethod;
use crate::certmap::{self, CertError, CertNames};
use crate::command::Effect;
use crate::mfa::{self, TotpFactor};
use crate::model::normalize_id;
use crate::records::Records;
use crate::state::Change;
use crate::totp;

/// What a logon by client certificate comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateLogon {
    /// Mapped to a user who may log on.
    Mapped {
        /// The user id.
        user: String,
    },
    /// No filter maps it.
    NoMapping,
    /// Mapped to a revoked user.
    Revoked,
    /// Not an X.509 certificate.
    NotX509,
    /// The audit trail could not record a logon it must record.
    Unrecorded,
}

impl Esm {
    /// Reads the records (in memory).
    pub(super) fn with_records<T>(&self, f: impl FnOnce(&Records) -> T) -> T {
        f(&self
            .records
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .records)
    }

    /// Computes record changes on current data and commits them as one
    /// transaction (redone when another process committed first).
    pub(super) fn transact_records<T>(
        &self,
        mut plan: impl FnMut(&Records) -> Result<(Vec<Change>, T), EsmError>,
    ) -> Result<T, EsmError> {
        self.transact(|state| {
            let (changes, value) = plan(&state.records)?;
            let effect = Effect {
                changes,
                ..Effect::default()
            };
            Ok((effect, value))
        })
        .map(|(_, value)| value)
        .map_err(|e| match e {
            Transaction::Refused(e) => e,
            Transaction::Store(e) => EsmError::Store(e),
        })
    }

    /// Sets how TOTP codes are read and checked.
    pub fn set_mfa_settings(&self, settings: MfaSettings) {
        *self.mfa.write().unwrap_or_else(|e| e.into_inner()) = settings;
    }

    /// The TOTP settings in force.
    pub fn mfa_settings(&self) -> MfaSettings {
        self.mfa.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// `MFA FACTOR=TOTP ACTIVE ...` for a user with a factor (never the
    /// secret).
    pub fn mfa_listing(&self, user: &str) -> Option<String> {
        let id = normalize_id(user).ok()?;
        self.with_records(|r| mfa::listing(r, &id))
    }

    /// Whether a user has an active TOTP factor.
    pub fn mfa_active(&self, user: &str) -> bool {
        self.mfa_listing(user).is_some()
    }

    pub(super) fn totp_factor(&self, id: &str) -> Option<Option<TotpFactor>> {
        self.with_records(|r| mfa::factor(r, id))
    }

    /// Checks a code for `id` at `now_ms` and, when it matches a step later
    /// than the last accepted one, records that step.
    pub(super) fn accept_totp(
        &self,
        id: &str,
        factor: &TotpFactor,
        code: &str,
        now_ms: i64,
    ) -> bool {
        let skew = self.mfa_settings().skew_steps;
        let now_s = u64::try_from(now_ms.div_euclid(1000)).unwrap_or(0);
        let Some(step) = totp::verify(&factor.secret, &factor.params, code, now_s, skew) else {
            return false;
        };
        self.transact_records(|records| {
            Ok(match mfa::accept_step(records, id, step) {
                Some(change) => (vec![change], true),
                None => (Vec::new(), false),
            })
        })
        .unwrap_or(false)
    }

    /// Maps a client certificate (DER) to a user id (the search order of
    /// [`crate::certmap`]), or `None` when nothing matches.
    pub fn map_certificate(&self, der: &[u8]) -> Result<Option<String>, CertError> {
        let names = CertNames::from_der(der)?;
        Ok(self.map_names(&names))
    }

    /// A logon by client certificate (DER) from `origin`: the mapped user,
    /// recorded as RACF records it: a certificate that maps to nobody
    /// always (event 67 qualifier 4), a revoked user always (event 1
    /// qualifier 6), a success when the user has UAUDIT. A logon that must
    /// be recorded and cannot be is [`CertificateLogon::Unrecorded`].
    pub fn logon_by_certificate(&self, origin: &Origin, der: &[u8]) -> CertificateLogon {
        let Ok(names) = CertNames::from_der(der) else {
            return CertificateLogon::NotX509;
        };
        let unmapped = || {
            let fingerprint = hex::encode(sha2::Sha256::digest(der));
            let record = crate::audit::unmapped_certificate_record(
                self.config.clock.now_ms(),
                &fingerprint,
                &names.subject.join(","),
                &names.issuer.join(","),
                origin,
            );
            match self.audit(Some(record)) {
                Ok(()) => CertificateLogon::NoMapping,
                Err(_) => CertificateLogon::Unrecorded,
            }
        };
        let Some(user) = self.map_names(&names) else {
            return unmapped();
        };
        let summary = self.user(&user);
        let outcome = match &summary {
            Some(s) if s.revoked => VerifyOutcome::Revoked,
            Some(_) => VerifyOutcome::Success { user: user.clone() },
            // A filter for a user deleted since: nobody.
            None => return unmapped(),
        };
        match self.record_logon(
            origin,
            &user,
            LogonMethod::Certificate,
            &outcome,
            false,
            false,
            None,
        ) {
            VerifyOutcome::Success { user } => CertificateLogon::Mapped { user },
            VerifyOutcome::Revoked => CertificateLogon::Revoked,
            _ => CertificateLogon::Unrecorded,
        }
    }

    /// The search of [`Esm::map_certificate`] on already read names.
    pub fn map_names(&self, names: &CertNames) -> Option<String> {
        let view = self.records.read().unwrap_or_else(|e| e.into_inner());
        certmap::map_names(&view.records, &view.cert_filters, names)
    }
}
