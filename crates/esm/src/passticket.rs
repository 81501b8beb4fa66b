//! PassTickets: RACF's one-time passwords for a (user, application) pair.
//!
//! A PassTicket lets a trusted program (the gateway) sign a user on to a
//! mainframe application without knowing the user's password: both sides share
//! a per-application key (the `PTKTDATA` profile) and the clock, so the ticket
//! can be recomputed rather than stored. This module is the pure arithmetic of
//! `shared/spec/passtickets.md`: no clock, no profiles, no replay cache. Time is
//! passed in as whole seconds since the Unix epoch, so tests are exact; the ESM
//! chooses the key (profile search order), enforces `IRRPTAUTH` authority and
//! replay protection, and counts failures toward revocation.
//!
//! Two algorithms, both deterministic in (key, user, application, second):
//!
//! - [`generate_legacy`]: single DES under the 64-bit `KEYMASKED` key. The user
//!   and application are folded into 32 bits (`R3`), the time is mixed in by
//!   XOR, a six-round Feistel "time-coder" keyed by the user id scatters those
//!   32 bits, and a translation picks eight A-Z/0-9 characters out of them.
//!   See [`legacy`] for the why of each step.
//! - [`generate_enhanced`]: the same shape rebuilt on HMAC-SHA-512 with a
//!   48-bit time and a Feistel over 3-byte halves; [`TicketType::Mixed`]
//!   tickets use 64 characters, [`TicketType::Upper`] ones 36. See [`enhanced`].
//!
//! Both algorithms take the user id and application name as 1-8 characters of
//! `A-Z 0-9 @ # $`, which this module requires to be upper case already (RACF
//! upper-cases them at sign-on; folding is the caller's decision, not a silent
//! one here), encoded in EBCDIC (code pages 1047 and 037 agree on all of these)
//! and blank-padded (X'40') to eight bytes.
//!
//! # Evaluation
//!
//! [`evaluate_legacy`] and [`evaluate_enhanced`] accept a ticket generated in
//! any second within [`VALIDITY_WINDOW_SECS`] (600 s) either side of `now`, and
//! return the second it was generated for, so the caller can key its replay
//! cache on (user, application, ticket) for the rest of the window.
//!
//! Validity is defined by regeneration: some second of the window gives the
//! same 8 characters. Doing literally that costs 1,201 generations (about
//! 7,200 DES blocks or HMAC-SHA-512s: milliseconds) for every failed attempt, and a
//! PassTicket attempt is cheap to send. So evaluation works backwards from the
//! ticket wherever the algorithm allows it, and regenerates only where it
//! does not:
//! - Legacy: inverted. The translation is undone by enumeration (each
//!   character is a 6-bit field worth `i` or `i + 36`, and neighbouring fields
//!   share two bits, so at most 2^8 choices, few of them consistent); each
//!   candidate `R5` goes back through the time-coder (a Feistel network runs
//!   backwards by recomputing each round's DES output from the half it left
//!   unchanged, with the inverse permutation); `R4 XOR R3` is then the second.
//!   Microseconds instead of milliseconds.
//! - Enhanced MIXED: inverted. The base-64 translation and the Feistel
//!   network are bijections, so there is exactly one candidate second, six
//!   HMACs away.
//! - Enhanced UPPER: regenerated. Rounds 1, 3 and 5 keep 1 bit of `X`'s first
//!   byte and discard 7, so running them backwards branches 2^7 ways each,
//!   2^21 candidates: more work than the 1,201 regenerations. What does not
//!   depend on the time (the HMAC key state, `UA`, `H`) is computed once, and
//!   candidates are compared with [`subtle`] in constant time.
//!
//! Both paths pick the same second: of the matching seconds in the window,
//! the closest to `now`, the earlier at equal distance. The tests check the
//! inverses against regeneration (`internals::evaluate_*_by_regeneration`)
//! over random keys, names, times and offsets inside and outside the window.
//!
//! [`PassTicket`]s compare in constant time. A presented string
//! that is not a well-formed ticket of the algorithm (wrong length or
//! characters) is simply not valid: `Ok(None)`, the same answer as a wrong one.

use std::fmt;

pub mod enhanced;
pub mod legacy;
mod name;
mod ticket;

pub use enhanced::{evaluate_enhanced, generate_enhanced, parse_enhanced_key_hex};
pub use legacy::{evaluate_legacy, generate_legacy, parse_des_key_hex};

pub use ticket::{
    window_closest_first, PassTicket, PassTicketError, TicketType, VALIDITY_WINDOW_SECS,
};

/// The algorithms' internal steps, exposed only so that the published
/// step-by-step test vectors can be checked from `tests/`. Not an API.
#[doc(hidden)]
pub mod internals {
    pub use crate::passticket::enhanced::{
        enhanced_time_coder, enhanced_translate, evaluate_enhanced_by_regeneration,
    };
    pub use crate::passticket::legacy::{
        des_encrypt_block, evaluate_legacy_by_regeneration, legacy_pad, legacy_permute,
        legacy_time_coder, legacy_time_decoder, legacy_translate, legacy_untranslate,
    };
    pub use crate::passticket::name::ebcdic_name;
    pub use crate::passticket::window_closest_first;
}

/// A stored PTKTDATA key that does not parse (hand-edited or corrupt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a stored PTKTDATA key does not parse")]
pub struct StoredKeyError;

/// The keys of one PTKTDATA profile. Holds secrets: `Debug` is redacted.
#[derive(Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct SsignonKeys {
    /// The legacy DES key.
    pub legacy: Option<[u8; 8]>,
    /// The enhanced HMAC key and ticket type.
    pub enhanced: Option<(Vec<u8>, TicketType)>,
}

impl fmt::Debug for SsignonKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SsignonKeys(KEYMASKED DATA)")
    }
}

impl SsignonKeys {
    /// The stored form: `L:<hex>;E:<UPPER|MIXED>:<hex>` (fields optional).
    pub fn to_stored(&self) -> String {
        let mut parts = Vec::new();
        if let Some(k) = &self.legacy {
            parts.push(format!("L:{}", hex::encode_upper(k)));
        }
        if let Some((k, t)) = &self.enhanced {
            let t = match t {
                TicketType::Upper => "UPPER",
                TicketType::Mixed => "MIXED",
            };
            parts.push(format!("E:{t}:{}", hex::encode_upper(k)));
        }
        parts.join(";")
    }

    /// Parses [`SsignonKeys::to_stored`]'s form.
    pub fn from_stored(s: &str) -> Result<SsignonKeys, StoredKeyError> {
        let bad = || StoredKeyError;
        let mut keys = SsignonKeys::default();
        for part in s.split(';').filter(|p| !p.is_empty()) {
            if let Some(k) = part.strip_prefix("L:") {
                keys.legacy = Some(parse_des_key_hex(k).map_err(|_| bad())?);
            } else if let Some(rest) = part.strip_prefix("E:") {
                let (t, k) = rest.split_once(':').ok_or_else(bad)?;
                let t = match t {
                    "UPPER" => TicketType::Upper,
                    "MIXED" => TicketType::Mixed,
                    _ => return Err(bad()),
                };
                keys.enhanced = Some((parse_enhanced_key_hex(k).map_err(|_| bad())?.to_vec(), t));
            } else {
                return Err(bad());
            }
        }
        Ok(keys)
    }

    /// Whether any key is present.
    pub fn is_empty(&self) -> bool {
        self.legacy.is_none() && self.enhanced.is_none()
    }
}
