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

use subtle::{Choice, ConstantTimeEq};

pub mod enhanced;
pub mod legacy;
mod name;

pub use enhanced::{evaluate_enhanced, generate_enhanced, parse_enhanced_key_hex};
pub use legacy::{evaluate_legacy, generate_legacy, parse_des_key_hex};

/// How far, in seconds, the generation time of a valid ticket may lie from the
/// evaluator's clock, in either direction (RACF: "about 10 minutes").
pub const VALIDITY_WINDOW_SECS: u64 = 600;

/// Errors from generating or evaluating a PassTicket: always bad input, never a
/// wrong ticket (that is `Ok(None)` from the `evaluate_*` functions).
///
/// No variant carries the input it rejects, so an error message can never
/// reveal a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PassTicketError {
    /// The user id is empty, longer than 8 characters, or has a character
    /// outside `A-Z 0-9 @ # $`.
    #[error("a PassTicket user id must be 1 to 8 characters of A-Z, 0-9, @, # or $")]
    InvalidUserId,
    /// The application name is empty, longer than 8 characters, or has a
    /// character outside `A-Z 0-9 @ # $`.
    #[error("a PassTicket application name must be 1 to 8 characters of A-Z, 0-9, @, # or $")]
    InvalidApplName,
    /// A legacy key in hexadecimal is not exactly 16 hexadecimal digits.
    #[error("a legacy PassTicket key must be exactly 16 hexadecimal digits")]
    InvalidDesKey,
    /// An enhanced key in hexadecimal is not exactly 128 hexadecimal digits.
    #[error("an enhanced PassTicket key must be exactly 128 hexadecimal digits (64 bytes)")]
    InvalidHmacKeyHex,
    /// An enhanced key of zero bytes.
    #[error("an enhanced PassTicket key must not be empty")]
    EmptyHmacKey,
    /// The time does not fit the algorithm's time field (32 bits for legacy,
    /// 48 bits for enhanced).
    #[error("time {time} s since the epoch does not fit the {algorithm} PassTicket time field")]
    TimeOutOfRange {
        /// The rejected time, seconds since the Unix epoch.
        time: u64,
        /// `"legacy"` or `"enhanced"`.
        algorithm: &'static str,
    },
}

/// Which character set an enhanced PassTicket uses (the `PTKTDATA` profile's
/// `TYPE(UPPER|MIXED)`). Legacy tickets are always upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TicketType {
    /// 36 characters: `0-9 A-Z`; usable where passwords are folded to upper case.
    Upper,
    /// 64 characters: `0-9 A-Z a-z - _`; needs mixed-case passwords.
    Mixed,
}

/// An 8-character PassTicket, held as its ASCII bytes.
///
/// Equality is constant-time. `Debug` does not show the ticket (it is a
/// credential for ten minutes); `Display` does, because the generating caller
/// must send it on.
#[derive(Clone, Copy)]
pub struct PassTicket([u8; 8]);

impl PassTicket {
    /// Wraps bytes that the generator produced from one of its alphabets, so
    /// always ASCII.
    fn from_ascii(bytes: [u8; 8]) -> Self {
        Self(bytes)
    }

    /// The ticket as text.
    pub fn as_str(&self) -> &str {
        // Only constructed from the ASCII alphabets, so this never falls back.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The ticket's eight ASCII bytes.
    pub fn as_bytes(&self) -> &[u8; 8] {
        &self.0
    }
}

impl ConstantTimeEq for PassTicket {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

impl PartialEq for PassTicket {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for PassTicket {}

impl fmt::Display for PassTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PassTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PassTicket(********)")
    }
}

/// Reads a presented string as the 8 bytes of a ticket over `alphabet`, or
/// `None` when it cannot be one (so it is simply not valid).
fn presented_ticket(presented: &str, alphabet: &[u8]) -> Option<PassTicket> {
    let bytes: [u8; 8] = presented.as_bytes().try_into().ok()?;
    bytes
        .iter()
        .all(|b| alphabet.contains(b))
        .then(|| PassTicket::from_ascii(bytes))
}

/// The seconds of the evaluation window around `now`, closest first (`now`,
/// `now - 1`, `now + 1`, ...), so a (vanishingly rare) second match further out
/// never shadows the likely one. Seconds before the epoch are skipped.
#[doc(hidden)]
pub fn window_closest_first(now: u64) -> impl Iterator<Item = u64> {
    std::iter::once(Some(now))
        .chain(
            (1..=VALIDITY_WINDOW_SECS).flat_map(move |d| [now.checked_sub(d), now.checked_add(d)]),
        )
        .flatten()
}

/// Of the candidate generation seconds, the one within the window that is
/// closest to `now`, the earlier at equal distance: the same choice as
/// scanning [`window_closest_first`].
fn closest_in_window(now: u64, seconds: impl Iterator<Item = u64>) -> Option<u64> {
    seconds
        .filter(|t| t.abs_diff(now) <= VALIDITY_WINDOW_SECS)
        .min_by_key(|&t| (t.abs_diff(now), t))
}

/// Decodes hexadecimal digits (either case) into exactly `N` bytes.
fn decode_hex<const N: usize>(hex: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(hex, &mut out).ok()?;
    Some(out)
}

/// The algorithms' internal steps, exposed only so that the published
/// step-by-step test vectors can be checked from `tests/`. Not an API.
#[doc(hidden)]
pub mod internals {
    pub use super::enhanced::{
        enhanced_time_coder, enhanced_translate, evaluate_enhanced_by_regeneration,
    };
    pub use super::legacy::{
        des_encrypt_block, evaluate_legacy_by_regeneration, legacy_pad, legacy_permute,
        legacy_time_coder, legacy_time_decoder, legacy_translate, legacy_untranslate,
    };
    pub use super::name::ebcdic_name;
    pub use super::window_closest_first;
}

/// A stored PTKTDATA key that does not parse (hand-edited or corrupt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a stored PTKTDATA key does not parse")]
pub struct StoredKeyError;

/// The keys of one PTKTDATA profile. Holds secrets: `Debug` is redacted.
#[derive(Clone, PartialEq, Eq, Default)]
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
