//! What both PassTicket algorithms share: the ticket, its errors, its
//! type, and the validity window.

use std::fmt;

use subtle::{Choice, ConstantTimeEq};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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
    pub(super) fn from_ascii(bytes: [u8; 8]) -> Self {
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
pub(super) fn presented_ticket(presented: &str, alphabet: &[u8]) -> Option<PassTicket> {
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
pub(super) fn closest_in_window(now: u64, seconds: impl Iterator<Item = u64>) -> Option<u64> {
    seconds
        .filter(|t| t.abs_diff(now) <= VALIDITY_WINDOW_SECS)
        .min_by_key(|&t| (t.abs_diff(now), t))
}

/// Decodes hexadecimal digits (either case) into exactly `N` bytes.
pub(super) fn decode_hex<const N: usize>(hex: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(hex, &mut out).ok()?;
    Some(out)
}
