//! zgate-auth: tokens and sessions. Gateway JWT issue and verification with a
//! rotating key ring (JWKS), revocation persisted through a
//! [`RevocationStore`], and a verification cache.
//!
//! Architecture invariant: this crate knows nothing of HTTP; it never prints,
//! never exits, never reads the clock except through [`Clock`].
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

#[doc(hidden)]
pub mod fuzzing;
pub mod keys;
pub mod oidc;
pub mod pat;
pub mod ring_file;
pub mod tokens;

pub use keys::{thumbprint_kid, Algorithm, KeyError, PublicKey, SigningKey};
pub use pat::{PatClaims, PatError, PatRuleStore, PatService, RuleKind, VerifiedPat, PAT_ISSUER};
pub use ring_file::{KeyRing, KeyRingError, RetiredKey};
pub use tokens::safidt::{SafIdtClaims, SAF_IDT_ISSUER, SAF_IDT_LIFETIME_SECONDS};
pub use tokens::{
    Claims, IssuedToken, MemoryRevocationStore, RevocationStore, StoreError, TokenError, TokenHash,
    TokenService, TokenSettings, VerifiedToken, ISSUER,
};
pub use zgate_base::{Clock, ManualClock, SystemClock};

#[cfg(test)]
mod tests;
