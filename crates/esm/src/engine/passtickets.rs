//! PassTickets in the ESM (spec `esm.md` §6): PTKTDATA keys on profiles,
//! generation on a user's behalf, evaluation as a password with replay
//! protection persisted in the store.
//!
//! # Command syntax
//!
//! - legacy (DES): `RDEFINE PTKTDATA appl SSIGNON(KEYMASKED(16 hex digits))`
//! - enhanced (HMAC-SHA-512), zgate's spelling modelled on RACF's
//!   `EPTKEYMASKED`: `SSIGNON(EPTKEYMASKED(128 hex digits) EPTTYPE(UPPER|MIXED))`
//!   (`EPTTYPE` defaults to `UPPER`). Both kinds may be given on one
//!   profile; generation then uses the enhanced key, evaluation accepts either.
//! - `APPLDATA('NO REPLAY PROTECTION')` turns replay protection off.
//!
//! Keys are never listed: `RLIST` shows `SSIGNON: KEYMASKED DATA` only.
//!
//! # Decisions
//! - Profiles are discrete; the key is looked up as `appl.group.user`,
//!   `appl.user`, `appl.group` (the user's default group), then `appl`.
//! - Generating for a user needs UPDATE on `IRRPTAUTH.<appl>.<user>` in
//!   PTKTDATA for the generating identity.
//! - A ticket is valid ±600 s around now; without `NO REPLAY PROTECTION`
//!   it is usable once: the store records (user, appl, ticket) until its
//!   window closed, shared by every process on the store.

use sha2::{Digest, Sha256};

use zgate_audit::Origin;

use super::{Esm, VerifyOutcome};
use crate::audit::{LogonMethod, LogonResult};
use crate::index::CheckContext;
use crate::model::{normalize_id, AccessLevel, Profile, PTKTDATA};
use crate::passticket::{
    evaluate_enhanced, evaluate_legacy, generate_enhanced, generate_legacy, PassTicket,
    PassTicketError, TicketType, VALIDITY_WINDOW_SECS,
};
use crate::state::State;

/// Whether the profile asks for no replay protection.
fn no_replay(p: &Profile) -> bool {
    p.appldata
        .to_ascii_uppercase()
        .starts_with("NO REPLAY PROTECTION")
}

/// The discrete profile holding the key for (user, appl), in RACF's order.
fn key_profile<'a>(state: &'a State, user: &str, appl: &str) -> Option<&'a Profile> {
    let group = state.users.get(user).map(|u| u.default_group.clone());
    let mut names = Vec::new();
    if let Some(g) = &group {
        names.push(format!("{appl}.{g}.{user}"));
    }
    names.push(format!("{appl}.{user}"));
    if let Some(g) = &group {
        names.push(format!("{appl}.{g}"));
    }
    names.push(appl.to_owned());
    names
        .iter()
        .filter_map(|n| state.profile(PTKTDATA, n))
        .find(|p| p.ssignon.as_ref().is_some_and(|k| !k.is_empty()))
        .map(|p| &**p)
}

/// Why a PassTicket could not be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GenerateError {
    /// No PTKTDATA profile with a key for the application.
    #[error("no PTKTDATA profile with a key protects application {0}")]
    NoProfile(String),
    /// The generating identity lacks UPDATE on `IRRPTAUTH.<appl>.<user>`.
    #[error("{generator} is not authorized to IRRPTAUTH.{appl}.{user} (UPDATE) in PTKTDATA")]
    NotAuthorized {
        /// Who asked.
        generator: String,
        /// Application.
        appl: String,
        /// Target user.
        user: String,
    },
    /// Bad user or application name.
    #[error(transparent)]
    Name(#[from] PassTicketError),
    /// The user is revoked or not defined: no PassTicket stands in for a
    /// logon the user could not make.
    #[error("user {0} is revoked or not defined")]
    UserNotActive(String),
    /// The security database could not be read.
    #[error("the security database is unavailable: {0}")]
    Store(String),
}

fn norm_appl(appl: &str) -> Result<String, PassTicketError> {
    // Upper-cased as RACF does; never trimmed into another application.
    let a = appl.to_ascii_uppercase();
    if a.is_empty()
        || a.len() > 8
        || !a
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"@#$".contains(&b))
    {
        return Err(PassTicketError::InvalidApplName);
    }
    Ok(a)
}

impl Esm {
    fn now_secs(&self) -> u64 {
        (self.config.clock.now_ms().max(0) / 1000) as u64
    }

    /// Generates a PassTicket for `user` and `appl` on behalf of `generator`
    /// (which needs UPDATE on `IRRPTAUTH.<appl>.<user>` in PTKTDATA).
    pub fn generate_passticket(
        &self,
        generator: &str,
        user: &str,
        appl: &str,
    ) -> Result<PassTicket, GenerateError> {
        self.generate_passticket_from(&Origin::default(), generator, user, appl)
    }

    /// [`Esm::generate_passticket`] from `origin`: its PTKTDATA check is
    /// audited as event 2.
    pub fn generate_passticket_from(
        &self,
        origin: &Origin,
        generator: &str,
        user: &str,
        appl: &str,
    ) -> Result<PassTicket, GenerateError> {
        let user = normalize_id(user).map_err(|_| PassTicketError::InvalidUserId)?;
        let appl = norm_appl(appl)?;
        let resource = format!("IRRPTAUTH.{appl}.{user}");
        let context = CheckContext {
            origin: origin.clone(),
            ..CheckContext::default()
        };
        if !self
            .check_with(
                generator,
                PTKTDATA,
                &resource,
                AccessLevel::Update,
                &context,
            )
            .authorized()
        {
            return Err(GenerateError::NotAuthorized {
                generator: generator.to_ascii_uppercase(),
                appl,
                user,
            });
        }
        let keys = {
            let mut inner = self.lock();
            self.sync_locked(&mut inner)
                .map_err(|e| GenerateError::Store(e.to_string()))?;
            if inner.state.users.get(&user).is_none_or(|u| u.revoked) {
                return Err(GenerateError::UserNotActive(user));
            }
            key_profile(&inner.state, &user, &appl).and_then(|p| p.ssignon.clone())
        };
        let keys = keys.ok_or_else(|| GenerateError::NoProfile(appl.clone()))?;
        let now = self.now_secs();
        Ok(match (&keys.enhanced, &keys.legacy) {
            (Some((k, t)), _) => generate_enhanced(k, &user, &appl, now, *t)?,
            (None, Some(k)) => generate_legacy(k, &user, &appl, now)?,
            (None, None) => return Err(GenerateError::NoProfile(appl)),
        })
    }

    /// RACROUTE VERIFY with `APPL=`: `secret` is accepted as the user's
    /// password or phrase, or as a valid PassTicket for `appl` (usable once
    /// unless the profile says `NO REPLAY PROTECTION`). A secret that is
    /// neither counts as a failed logon, toward revocation.
    pub fn verify_for_appl(&self, user: &str, secret: &str, appl: &str) -> VerifyOutcome {
        self.verify_for_appl_from(&Origin::default(), user, secret, appl)
    }

    /// [`Esm::verify_for_appl`] from `origin`: a PassTicket logon is always
    /// recorded (event 1 qualifier 32), a replayed ticket too (33).
    pub fn verify_for_appl_from(
        &self,
        origin: &Origin,
        user: &str,
        secret: &str,
        appl: &str,
    ) -> VerifyOutcome {
        let mut replayed = false;
        if let Some(outcome) = self.try_passticket(user, secret, appl, &mut replayed) {
            return self.record_logon(
                origin,
                user,
                LogonMethod::PassTicket,
                &outcome,
                false,
                false,
                Some(appl),
            );
        }
        if replayed {
            // Recorded (qualifier 33) before the password path decides and
            // counts it as a failed logon.
            let id = normalize_id(user).unwrap_or_default();
            let uaudit = self
                .index
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .uaudit(&id);
            let _ = self.audit(crate::audit::logon_record(
                self.now_ms(),
                &id,
                LogonMethod::PassTicket,
                LogonResult::PassTicketReplay,
                uaudit,
                Some(appl),
                origin,
            ));
        }
        // Not a valid ticket: the ordinary password path decides and counts.
        self.verify_from(origin, user, secret, None, None)
    }

    /// `Some(outcome)` when `secret` is a valid, unreplayed PassTicket;
    /// `replayed` says a valid ticket was refused as used before.
    fn try_passticket(
        &self,
        user: &str,
        secret: &str,
        appl: &str,
        replayed: &mut bool,
    ) -> Option<VerifyOutcome> {
        if secret.len() != 8 {
            return None;
        }
        let user = normalize_id(user).ok()?;
        let appl = norm_appl(appl).ok()?;
        let (keys, replay, revoked) = {
            let mut inner = self.lock();
            // A database that cannot be read accepts no ticket.
            self.sync_locked(&mut inner).ok()?;
            let u = inner.state.users.get(&user)?;
            let revoked = u.revoked;
            let p = key_profile(&inner.state, &user, &appl)?;
            (p.ssignon.clone()?, !no_replay(p), revoked)
        };
        let now = self.now_secs();
        let upper = secret.to_ascii_uppercase();
        let mut when = None;
        if let Some((k, t)) = &keys.enhanced {
            let presented = if *t == TicketType::Upper {
                upper.as_str()
            } else {
                secret
            };
            when = evaluate_enhanced(k, &user, &appl, presented, now, *t).ok()?;
        }
        if when.is_none() {
            if let Some(k) = &keys.legacy {
                when = evaluate_legacy(k, &user, &appl, &upper, now).ok()?;
            }
        }
        let generated_at = when?;
        if revoked {
            return Some(VerifyOutcome::Revoked);
        }
        if replay {
            let mut h = Sha256::new();
            h.update(format!("{user}\0{appl}\0{secret}").as_bytes());
            let digest = hex::encode_upper(h.finalize());
            let expires_ms = ((generated_at + VALIDITY_WINDOW_SECS + 1) * 1000) as i64;
            let now_ms = self.config.clock.now_ms();
            let mut inner = self.lock();
            match inner.store.claim_passticket(&digest, expires_ms, now_ms) {
                Ok(true) => {}
                Ok(false) => {
                    *replayed = true;
                    return None;
                }
                // The store cannot say: not accepted.
                Err(_) => return None,
            }
        }
        Some(VerifyOutcome::Success { user })
    }
}
