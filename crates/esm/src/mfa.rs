//! Multi-factor authentication: a TOTP factor per user (RFC 6238, see
//! [`crate::totp`]), administered as IBM Z MFA is, with `ALTUSER`:
//!
//! - `ALTUSER U MFA(FACTOR(TOTP) ACTIVE [ALGORITHM(SHA1|SHA256|SHA512)] [DIGITS(6|8)])`
//!   makes a new random secret and prints it once, as an `otpauth://` URI
//!   on a line of its own (the only place it is ever shown). Enrolling again
//!   replaces the secret.
//! - `ALTUSER U MFA(FACTOR(TOTP) INACTIVE)`, `ALTUSER U MFA(DELFACTOR(TOTP))`
//!   and `ALTUSER U DELFACTOR(TOTP)` remove it.
//!
//! These operands cannot be combined with other `ALTUSER` operands in one
//! command: RACF's MFA operands administer the factor, not the profile.
//!
//! Logon (`Esm::verify_with_factor`): an MFA user gives the code either
//! separately or in the password field as `password<sep>code` (IBM Z MFA's
//! compound in-band form). Passwords and phrases may contain the separator,
//! so for an MFA user the code is the text after the LAST separator, and for
//! a user without MFA the field is never split. The password alone never
//! logs an MFA user on. A code is accepted once: its time step must be
//! greater than the last accepted one, which is stored (every process
//! sharing the store sees it). A wrong code counts as a failed logon.
//!
//! The secret is stored in the ESM database (0600), never listed:
//! `LISTUSER` shows only `MFA FACTOR=TOTP ACTIVE ...`.

use crate::records::Records;
use crate::state::Change;
use crate::totp::{self, Algorithm, SharedSecret, TotpParams};

/// The record kind of enrolled factors, keyed by user id.
pub(crate) const FACTOR_KIND: &str = "mfa.totp";
/// The record kind of the last accepted time step, keyed by user id.
pub(crate) const STEP_KIND: &str = "mfa.step";

/// A user's enrolled TOTP factor. No `Debug`: it holds the secret.
pub(crate) struct TotpFactor {
    pub(crate) params: TotpParams,
    pub(crate) secret: SharedSecret,
}

impl TotpFactor {
    pub(crate) fn encode(&self) -> String {
        format!(
            "{} {} {} {}",
            self.params.algorithm.as_str(),
            self.params.digits.count(),
            self.params.period,
            self.secret.to_base32()
        )
    }

    fn decode(value: &str) -> Option<TotpFactor> {
        let mut parts = value.split(' ');
        let algorithm: Algorithm = parts.next()?.parse().ok()?;
        let digits: u32 = parts.next()?.parse().ok()?;
        let period: u32 = parts.next()?.parse().ok()?;
        let secret = SharedSecret::from_base32(parts.next()?).ok()?;
        Some(TotpFactor {
            params: TotpParams::new(algorithm, digits, period).ok()?,
            secret,
        })
    }

    /// The `otpauth://` URI an authenticator app reads (holds the secret).
    pub(crate) fn uri(&self, user: &str) -> String {
        totp::otpauth_uri(totp::ISSUER, user, &self.secret, &self.params)
    }
}

/// The user's factor: `None` without one; `Some(None)` when the stored
/// record does not decode (hand-edited or corrupt): the logon then fails
/// closed, never falling back to the password alone.
pub(crate) fn factor(records: &Records, id: &str) -> Option<Option<TotpFactor>> {
    records.get(FACTOR_KIND, id).map(TotpFactor::decode)
}

/// `MFA FACTOR=TOTP ACTIVE ALGORITHM=.. DIGITS=.. PERIOD=..` for a user with a
/// factor (what `LISTUSER` shows; never the secret).
pub fn listing(records: &Records, id: &str) -> Option<String> {
    let f = factor(records, id)??;
    Some(format!(
        "MFA FACTOR=TOTP ACTIVE ALGORITHM={} DIGITS={} PERIOD={}",
        f.params.algorithm.as_str(),
        f.params.digits.count(),
        f.params.period
    ))
}

/// The change that records `step` as the user's last accepted one, or
/// `None` when it is not later than the last (a replayed code).
pub(crate) fn accept_step(records: &Records, id: &str, step: u64) -> Option<Change> {
    let last: Option<u64> = records.get(STEP_KIND, id).and_then(|v| v.parse().ok());
    if last.is_some_and(|last| step <= last) {
        return None;
    }
    Some(Change::put_record(STEP_KIND, id, step.to_string()))
}
