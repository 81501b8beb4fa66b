//! SAF identity tokens (iss6): a short-lived JWT naming a user for one
//! application id, signed with the gateway's token key, so a backend can
//! verify it offline through the JWKS or online through zgate's
//! `POST /gateway/api/v1/auth/safidt/validate`.
//!
//! Claims: `sub` (user), `aud` (applid, upper case), `iss` = [`SAF_IDT_ISSUER`],
//! `iat`, `exp` (iat + lifetime), `jti`. A SAF IDT is never accepted as a
//! gateway JWT (different issuer) and a gateway JWT is never a SAF IDT.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::{decode_json, Header, TokenError, TokenService};

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
}

impl TokenService {
    /// Issues a SAF identity token for `user` and `applid`.
    pub fn issue_saf_idt(
        &self,
        user: &str,
        applid: &str,
        lifetime_seconds: i64,
    ) -> Result<String, TokenError> {
        let now_s = self.clock.now_ms().div_euclid(1000);
        let claims = SafIdtClaims {
            sub: user.to_ascii_uppercase(),
            aud: applid.to_ascii_uppercase(),
            iss: SAF_IDT_ISSUER.to_owned(),
            iat: now_s,
            exp: now_s.saturating_add(lifetime_seconds),
            jti: self.uuid()?,
        };
        let signer = self.ring.current();
        let header = serde_json::json!({
            "alg": signer.public().alg.name(),
            "typ": "JWT",
            "kid": signer.public().kid,
        });
        let header = B64URL.encode(header.to_string());
        let payload = B64URL.encode(serde_json::to_vec(&claims).map_err(|_| TokenError::Signing)?);
        let input = format!("{header}.{payload}");
        let signature = signer
            .sign(input.as_bytes())
            .map_err(|_| TokenError::Signing)?;
        Ok(format!("{input}.{}", B64URL.encode(signature)))
    }

    /// Verifies a SAF identity token: signature by a current or retired
    /// key, issuer, expiry, and (when given) the application id.
    pub fn verify_saf_idt(
        &self,
        token: &str,
        applid: Option<&str>,
    ) -> Result<SafIdtClaims, TokenError> {
        if token.len() > 8192 {
            return Err(TokenError::Malformed);
        }
        let now_ms = self.clock.now_ms();
        let mut parts = token.split('.');
        let (Some(h64), Some(p64), Some(s64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: Header = decode_json(h64)?;
        if header.crit.is_some() {
            return Err(TokenError::UnsupportedAlgorithm);
        }
        let kid = header.kid.as_deref().ok_or(TokenError::UnknownKey)?;
        let key = self
            .ring
            .verifier(kid, now_ms)
            .ok_or(TokenError::UnknownKey)?;
        if header.alg != key.alg.name() {
            return Err(TokenError::UnsupportedAlgorithm);
        }
        let signature = B64URL.decode(s64).map_err(|_| TokenError::Malformed)?;
        let input = token
            .get(..h64.len() + 1 + p64.len())
            .ok_or(TokenError::Malformed)?;
        if !key.verify(input.as_bytes(), &signature) {
            return Err(TokenError::BadSignature);
        }
        let claims: SafIdtClaims = decode_json(p64)?;
        if claims.iss != SAF_IDT_ISSUER {
            return Err(TokenError::WrongIssuer);
        }
        if claims.exp.saturating_mul(1000) <= now_ms {
            return Err(TokenError::Expired);
        }
        if let Some(a) = applid {
            if !claims.aud.eq_ignore_ascii_case(a) {
                return Err(TokenError::WrongIssuer);
            }
        }
        Ok(claims)
    }
}
