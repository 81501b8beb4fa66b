//! SAF identity tokens: a short-lived JWT naming a user for one
//! application id, signed with the gateway's token key, so a backend can
//! verify it offline through the JWKS or online through zgate's
//! `POST /gateway/api/v1/auth/safidt/validate`.
//!
//! Claims: `sub` (user), `aud` (applid, upper case), `iss` = [`SAF_IDT_ISSUER`],
//! `iat`, `exp` (iat + lifetime), `jti`. A SAF IDT is never accepted as a
//! gateway JWT (different issuer) and a gateway JWT is never a SAF IDT.

use serde::{Deserialize, Serialize};

use super::{TokenError, TokenService};

/// The `iss` of SAF identity tokens.
pub const SAF_IDT_ISSUER: &str = "APIML_SAFIDT";

/// Default lifetime of a SAF identity token, seconds.
pub const SAF_IDT_LIFETIME_SECONDS: i64 = 300;

/// The claims of a SAF identity token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SafIdtClaims {
    /// The user id.
    pub sub: String,
    /// The application id it was issued for.
    pub aud: String,
    /// Always [`SAF_IDT_ISSUER`].
    pub iss: String,
    /// Issued at (s).
    pub iat: i64,
    /// Expires (s).
    pub exp: i64,
    /// Random id.
    pub jti: String,
    /// Issued at, in milliseconds (see [`crate::Claims::iat_ms`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat_ms: Option<i64>,
}

impl TokenService {
    /// Issues a SAF identity token for `user` and `applid`.
    pub fn issue_saf_idt(
        &self,
        user: &str,
        applid: &str,
        lifetime_seconds: i64,
    ) -> Result<String, TokenError> {
        let now_ms = self.issue_time(user)?;
        let now_s = now_ms.div_euclid(1000);
        let claims = SafIdtClaims {
            sub: user.to_ascii_uppercase(),
            aud: applid.to_ascii_uppercase(),
            iss: SAF_IDT_ISSUER.to_owned(),
            iat: now_s,
            exp: now_s.saturating_add(lifetime_seconds),
            jti: self.uuid()?,
            iat_ms: Some(now_ms),
        };
        self.sign_claims(&claims)
    }

    /// Verifies a SAF identity token: signature by a current or retired
    /// key, issuer, expiry, and (when given) the application id.
    pub fn verify_saf_idt(
        &self,
        token: &str,
        applid: Option<&str>,
    ) -> Result<SafIdtClaims, TokenError> {
        let now_ms = self.clock.now_ms();
        // The issuer first: a gateway JWT is a wrong issuer, not malformed.
        let payload: serde_json::Value = self.verify_signature(token, now_ms)?;
        if payload.get("iss").and_then(|v| v.as_str()) != Some(SAF_IDT_ISSUER) {
            return Err(TokenError::WrongIssuer);
        }
        let claims: SafIdtClaims =
            serde_json::from_value(payload).map_err(|_| TokenError::Malformed)?;
        if claims.exp.saturating_mul(1000) <= now_ms {
            return Err(TokenError::Expired);
        }
        if let Some(a) = applid {
            if !claims.aud.eq_ignore_ascii_case(a) {
                return Err(TokenError::WrongIssuer);
            }
        }
        self.check_standing(&claims.sub, super::issued_ms(claims.iat, claims.iat_ms))?;
        Ok(claims)
    }
}
