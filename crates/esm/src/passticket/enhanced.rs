//! The enhanced PassTicket algorithm: HMAC-SHA-512 under the application's
//! HMAC key.
//!
//! The legacy algorithm's shape, rebuilt on a modern primitive. Steps, and
//! why each is there (numbers as in `passtickets.md`):
//!
//! 1. `UA = user8 ‖ appl8`: the identity the ticket is bound to.
//! 2. `H = HMAC-SHA512_K(UA)`: a keyed digest of that binding, independent of
//!    the time (evaluation computes it once).
//! 3. `T = time (48 bits) XOR H[0..6]`: the second, hidden under the binding;
//!    48 bits so the time field never wraps in practice.
//! 4. The time-coder: a six-round Feistel network over 3-byte halves whose
//!    round function is HMAC over the right half, the round number (so no two
//!    rounds share a function) and `UA` (so each user/application pair has its
//!    own permutation). For UPPER tickets, odd rounds keep only the lowest bit
//!    of `X`'s first byte, which makes the final 48-bit value smaller than
//!    2^41 and so always representable in 8 base-36 digits (36^8 > 2^41); the
//!    price is that UPPER tickets carry 41 bits, MIXED ones the full 48.
//! 5. Translation: the 48-bit value written as 8 digits in base 64 (MIXED) or
//!    base 36 (UPPER), most significant first, over
//!    `0-9 A-Z a-z - _`: a plain positional encoding, so distinct values give
//!    distinct tickets.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha512;

use super::name::{encode, NameRole};
use super::ticket::{
    closest_in_window, decode_hex, presented_ticket, window_closest_first, PassTicket,
    PassTicketError, TicketType,
};

type HmacSha512 = Hmac<Sha512>;

/// The enhanced alphabet; UPPER tickets use its first 36 characters.
const ALPHABET: &[u8; 64] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";

/// Largest time the 48-bit time field holds.
const MAX_TIME: u64 = (1 << 48) - 1;

/// Parses an enhanced key given as 128 hexadecimal digits (either case,
/// nothing else): the 64-byte HMAC-SHA-512 key of `SSIGNON(ENHANCEDPASSTICKET
/// (KEYMASKED(...)))`.
pub fn parse_enhanced_key_hex(hex: &str) -> Result<[u8; 64], PassTicketError> {
    decode_hex::<64>(hex).ok_or(PassTicketError::InvalidHmacKeyHex)
}

/// Generates the enhanced PassTicket for `user` signing on to `appl` at `time`
/// (seconds since the Unix epoch, below 2^48) under the HMAC `key` (any
/// non-empty length; RACF's are 64 bytes).
pub fn generate_enhanced(
    key: &[u8],
    user: &str,
    appl: &str,
    time: u64,
    ticket_type: TicketType,
) -> Result<PassTicket, PassTicketError> {
    let bound = EnhancedBinding::new(key, user, appl, ticket_type)?;
    enhanced_time(time)?;
    Ok(bound.ticket_at(time))
}

/// Evaluates a presented enhanced PassTicket of `ticket_type`: the second
/// within ±[`VALIDITY_WINDOW_SECS`](super::VALIDITY_WINDOW_SECS) of `now` it
/// was generated for (the closest one to `now` if several match, the earlier
/// at equal distance), or `None`.
///
/// MIXED tickets are worked backwards (translation and time-coder are both
/// bijections: one candidate second, six HMACs); UPPER tickets are
/// regenerated for every second of the window, because their time-coder
/// discards bits and cannot be run backwards (see the module docs of
/// [`passticket`](super)).
///
/// A presented string that is not 8 characters of the type's alphabet is
/// `Ok(None)`; in particular a lower-case string is never a valid UPPER
/// ticket. Replay protection is the caller's: remember (user, appl, ticket)
/// until the returned second plus the window has passed.
pub fn evaluate_enhanced(
    key: &[u8],
    user: &str,
    appl: &str,
    presented: &str,
    now: u64,
    ticket_type: TicketType,
) -> Result<Option<u64>, PassTicketError> {
    let bound = EnhancedBinding::new(key, user, appl, ticket_type)?;
    enhanced_time(now)?;
    let Some(presented) = presented_ticket(presented, alphabet(ticket_type)) else {
        return Ok(None);
    };
    Ok(match ticket_type {
        TicketType::Mixed => {
            closest_in_window(now, std::iter::once(bound.mixed_second_of(&presented)))
        }
        TicketType::Upper => bound.regenerate(now, &presented),
    })
}

/// [`evaluate_enhanced`] the slow, obvious way for both types: regenerate the
/// ticket for every second of the window, closest first, and compare in
/// constant time. The reference the MIXED inverse is tested against.
#[doc(hidden)]
pub fn evaluate_enhanced_by_regeneration(
    key: &[u8],
    user: &str,
    appl: &str,
    presented: &str,
    now: u64,
    ticket_type: TicketType,
) -> Result<Option<u64>, PassTicketError> {
    let bound = EnhancedBinding::new(key, user, appl, ticket_type)?;
    enhanced_time(now)?;
    let Some(presented) = presented_ticket(presented, alphabet(ticket_type)) else {
        return Ok(None);
    };
    Ok(bound.regenerate(now, &presented))
}

fn enhanced_time(time: u64) -> Result<(), PassTicketError> {
    if time > MAX_TIME {
        return Err(PassTicketError::TimeOutOfRange {
            time,
            algorithm: "enhanced",
        });
    }
    Ok(())
}

fn alphabet(ticket_type: TicketType) -> &'static [u8] {
    match ticket_type {
        TicketType::Upper => &ALPHABET[..36],
        TicketType::Mixed => ALPHABET,
    }
}

/// Everything that does not depend on the time: the keyed HMAC state, `UA`
/// and `H`.
struct EnhancedBinding {
    mac: HmacSha512,
    ua: [u8; 16],
    h_prefix: [u8; 6],
    ticket_type: TicketType,
}

impl EnhancedBinding {
    fn new(
        key: &[u8],
        user: &str,
        appl: &str,
        ticket_type: TicketType,
    ) -> Result<Self, PassTicketError> {
        let user = encode(user, NameRole::User)?;
        let appl = encode(appl, NameRole::Appl)?;
        if key.is_empty() {
            return Err(PassTicketError::EmptyHmacKey);
        }
        // HMAC takes keys of any length; the error cannot happen, but is not
        // unwrapped.
        let mac = HmacSha512::new_from_slice(key).map_err(|_| PassTicketError::EmptyHmacKey)?;
        let mut ua = [0u8; 16];
        ua[..8].copy_from_slice(&user.padded);
        ua[8..].copy_from_slice(&appl.padded);
        let h = mac.clone().chain_update(ua).finalize().into_bytes();
        let h_prefix = std::array::from_fn(|i| h[i]);
        Ok(Self {
            mac,
            ua,
            h_prefix,
            ticket_type,
        })
    }

    /// `time` must be at most [`MAX_TIME`]; higher bits are dropped.
    fn ticket_at(&self, time: u64) -> PassTicket {
        let time = time.to_be_bytes();
        let t: [u8; 6] = std::array::from_fn(|i| time[i + 2] ^ self.h_prefix[i]);
        let coded = time_coder(&self.mac, &self.ua, t, self.ticket_type);
        PassTicket::from_ascii(translate(coded, self.ticket_type))
    }
}

impl EnhancedBinding {
    /// The first second of the window, closest to `now` first, whose ticket
    /// is `presented`.
    fn regenerate(&self, now: u64, presented: &PassTicket) -> Option<u64> {
        window_closest_first(now)
            .find(|&second| second <= MAX_TIME && self.ticket_at(second) == *presented)
    }

    /// The one second a MIXED ticket can encode: translation, time-coder and
    /// step 3 undone.
    fn mixed_second_of(&self, ticket: &PassTicket) -> u64 {
        let coded = mixed_untranslate(ticket.as_bytes());
        let t = mixed_time_decoder(&self.mac, &self.ua, coded);
        let mut time = [0u8; 8];
        for (i, byte) in time[2..].iter_mut().enumerate() {
            *byte = t[i] ^ self.h_prefix[i];
        }
        u64::from_be_bytes(time)
    }
}

/// The 48-bit value a MIXED ticket writes in base 64.
fn mixed_untranslate(ticket: &[u8; 8]) -> [u8; 6] {
    let value = ticket.iter().fold(0u64, |v, c| {
        // Characters outside the alphabet cannot reach here (the ticket was
        // parsed against it); they would count as 0.
        let digit = ALPHABET.iter().position(|a| a == c).unwrap_or(0) as u64;
        v << 6 | digit
    });
    let bytes = value.to_be_bytes();
    std::array::from_fn(|i| bytes[i + 2])
}

/// The MIXED time-coder run backwards: each round is undone by recomputing
/// its HMAC from the half it left unchanged. (UPPER rounds 1, 3 and 5 discard
/// 7 bits, so this is not their inverse.)
fn mixed_time_decoder(mac: &HmacSha512, ua: &[u8; 16], coded: [u8; 6]) -> [u8; 6] {
    let mut left = [coded[0], coded[1], coded[2]];
    let mut right = [coded[3], coded[4], coded[5]];
    let mut input = [0u8; 20];
    input[4..].copy_from_slice(ua);
    for round in (1..=6u8).rev() {
        // Forward: left' = right, right' = left ^ F(right).
        let previous_right = left;
        input[..3].copy_from_slice(&previous_right);
        input[3] = round;
        let f = mac.clone().chain_update(input).finalize().into_bytes();
        left = std::array::from_fn(|i| right[i] ^ f[i]);
        right = previous_right;
    }
    [left[0], left[1], left[2], right[0], right[1], right[2]]
}

/// Step 4: the six-round Feistel network over 3-byte halves.
fn time_coder(mac: &HmacSha512, ua: &[u8; 16], t: [u8; 6], ticket_type: TicketType) -> [u8; 6] {
    let mut left = [t[0], t[1], t[2]];
    let mut right = [t[3], t[4], t[5]];
    let mut input = [0u8; 20];
    input[4..].copy_from_slice(ua);
    for round in 1..=6u8 {
        input[..3].copy_from_slice(&right);
        input[3] = round;
        let f = mac.clone().chain_update(input).finalize().into_bytes();
        let mut x: [u8; 3] = std::array::from_fn(|i| left[i] ^ f[i]);
        if ticket_type == TicketType::Upper && round % 2 == 1 {
            x[0] &= 0x01;
        }
        left = right;
        right = x;
    }
    [left[0], left[1], left[2], right[0], right[1], right[2]]
}

/// Step 5: the 48-bit value as 8 digits in base 64 or 36.
fn translate(coded: [u8; 6], ticket_type: TicketType) -> [u8; 8] {
    let alphabet = alphabet(ticket_type);
    let base = alphabet.len() as u64;
    let mut value = coded.iter().fold(0u64, |v, &b| v << 8 | u64::from(b));
    let mut out = [0u8; 8];
    for slot in out.iter_mut().rev() {
        *slot = alphabet[(value % base) as usize];
        value /= base;
    }
    out
}

/// The enhanced time-coder from `T` to the final `L ‖ R`.
#[doc(hidden)]
pub fn enhanced_time_coder(
    key: &[u8],
    user: &str,
    appl: &str,
    t: [u8; 6],
    ticket_type: TicketType,
) -> Result<[u8; 6], PassTicketError> {
    let bound = EnhancedBinding::new(key, user, appl, ticket_type)?;
    Ok(time_coder(&bound.mac, &bound.ua, t, ticket_type))
}

/// The enhanced translation from the 48-bit value to the ticket's characters.
#[doc(hidden)]
pub fn enhanced_translate(coded: [u8; 6], ticket_type: TicketType) -> [u8; 8] {
    translate(coded, ticket_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_hex_rejects_non_hex_and_wrong_length() {
        assert!(decode_hex::<2>("0aFf").is_some());
        assert!(decode_hex::<2>("0aF").is_none());
        assert!(decode_hex::<2>("0aFg").is_none());
        assert!(decode_hex::<2>("+a0f").is_none());
    }
}
