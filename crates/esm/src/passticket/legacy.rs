//! The legacy PassTicket algorithm: single DES under the 64-bit
//! `SSIGNON(KEYMASKED(...))` key.
//!
//! Steps, and why each is there (numbers as in `passtickets.md`):
//!
//! 1. `R1 = DES_K(user8)`, 2. `R2 = DES_K(R1 XOR appl8)`: a CBC-style MAC over
//!    the user and application, so a ticket is bound to both and to the key;
//!    none of this depends on the time, so evaluation computes it once.
//! 3. `R3` = the first 4 bytes of `R2`: the binding, cut to the width of the
//!    32-bit time.
//! 4. `R4 = R3 XOR time`: mixes in the second. On its own this would be
//!    undone by anyone who knows the time (roughly everyone): one observed
//!    ticket would give away `R3`, and with it every later ticket for the
//!    pair. Hence:
//! 5. The time-coder: a six-round Feistel network over two 16-bit halves. Each
//!    round encrypts the right half, with half of the user's `PAD` as filler,
//!    and XORs two bytes of the result into the left half; a different fixed
//!    bit permutation per round spreads every input bit across the output.
//!    Being a Feistel network it is a bijection on 32 bits (distinct seconds
//!    give distinct `R5` values), and the key holder can run it backwards.
//! 6. Translation: eight overlapping 6-bit fields of `R5`, each taken mod 36,
//!    index `A-Z0-9`, giving a ticket that passes any password syntax check.
//!    The mod 36 makes it many-to-one, so evaluation enumerates its preimages.

use des::cipher::{Array, BlockCipherEncrypt, KeyInit};
use des::Des;

use super::name::{encode, EbcdicName, NameRole};
use super::ticket::{
    closest_in_window, decode_hex, presented_ticket, window_closest_first, PassTicket,
    PassTicketError,
};

/// The legacy ticket alphabet, indexed by a 6-bit value mod 36.
const ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// The time-coder's per-round bit permutations: output bit `i` (1-based, most
/// significant first) is input bit `PERMUTATIONS[round][i - 1]`.
const PERMUTATIONS: [[u8; 16]; 6] = [
    [10, 2, 12, 4, 14, 6, 16, 8, 9, 1, 11, 3, 13, 5, 15, 7],
    [1, 10, 3, 12, 13, 16, 7, 15, 9, 2, 11, 4, 5, 14, 8, 6],
    [3, 10, 1, 12, 13, 16, 9, 15, 7, 2, 14, 4, 5, 11, 8, 6],
    [10, 4, 12, 2, 14, 8, 16, 6, 9, 1, 13, 3, 11, 5, 15, 7],
    [4, 10, 12, 1, 8, 16, 14, 5, 9, 2, 13, 3, 11, 7, 15, 6],
    [1, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2],
];

/// The inverse permutations, for running the time-coder backwards.
const INVERSE_PERMUTATIONS: [[u8; 16]; 6] = [
    invert(&PERMUTATIONS[0]),
    invert(&PERMUTATIONS[1]),
    invert(&PERMUTATIONS[2]),
    invert(&PERMUTATIONS[3]),
    invert(&PERMUTATIONS[4]),
    invert(&PERMUTATIONS[5]),
];

/// If output bit `i` is input bit `table[i]`, input bit `table[i]` is output
/// bit `i` of the inverse. (Evaluated at compile time.)
const fn invert(table: &[u8; 16]) -> [u8; 16] {
    let mut inverse = [0u8; 16];
    let mut i = 0;
    while i < 16 {
        inverse[table[i] as usize - 1] = i as u8 + 1;
        i += 1;
    }
    inverse
}

/// Where each ticket character's 6-bit field starts in `R5` (bits 1..32, most
/// significant first, wrapping from 32 to 1).
const TRANSLATION_START_BITS: [u32; 8] = [31, 3, 7, 11, 15, 19, 23, 27];

/// The filler for the legacy pad: the user id is extended with X'55' to 12.
const PAD_FILLER: u8 = 0x55;

/// Parses the 16 hexadecimal digits of `SSIGNON(KEYMASKED(...))` (either case,
/// nothing else) into the DES key. DES ignores the parity bits, as RACF does.
pub fn parse_des_key_hex(hex: &str) -> Result<[u8; 8], PassTicketError> {
    decode_hex::<8>(hex).ok_or(PassTicketError::InvalidDesKey)
}

/// Generates the legacy PassTicket for `user` signing on to `appl` at `time`
/// (seconds since the Unix epoch; it must fit 32 bits, i.e. before 2106).
pub fn generate_legacy(
    key: &[u8; 8],
    user: &str,
    appl: &str,
    time: u64,
) -> Result<PassTicket, PassTicketError> {
    let bound = LegacyBinding::new(key, user, appl)?;
    let time = legacy_time(time)?;
    Ok(bound.ticket_at(time))
}

/// Evaluates a presented legacy PassTicket: the second within
/// ±[`VALIDITY_WINDOW_SECS`](super::VALIDITY_WINDOW_SECS) of `now` it was
/// generated for (the closest one to `now` if several match, the earlier at
/// equal distance), or `None`.
///
/// Works backwards from the ticket (see the module docs of
/// [`passticket`](super)): every `R5` that translates to it, through the
/// inverse time-coder, to the second it encodes. The answer is the same as
/// regenerating the ticket for every second of the window, which the tests
/// check.
///
/// A presented string that is not 8 characters of `A-Z0-9` is `Ok(None)`.
/// Replay protection is the caller's: remember (user, appl, ticket) until the
/// returned second plus the window has passed.
pub fn evaluate_legacy(
    key: &[u8; 8],
    user: &str,
    appl: &str,
    presented: &str,
    now: u64,
) -> Result<Option<u64>, PassTicketError> {
    let bound = LegacyBinding::new(key, user, appl)?;
    legacy_time(now)?;
    let Some(presented) = presented_ticket(presented, ALPHABET) else {
        return Ok(None);
    };
    let seconds = untranslate(presented.as_bytes()).into_iter().map(|r5| {
        let r4 = u32::from_be_bytes(time_decoder(&bound.cipher, &bound.pad, r5));
        u64::from(r4 ^ u32::from_be_bytes(bound.r3))
    });
    Ok(closest_in_window(now, seconds))
}

/// [`evaluate_legacy`] the slow, obvious way: regenerate the ticket for every
/// second of the window, closest first, and compare in constant time. The
/// reference the inverse is tested against.
#[doc(hidden)]
pub fn evaluate_legacy_by_regeneration(
    key: &[u8; 8],
    user: &str,
    appl: &str,
    presented: &str,
    now: u64,
) -> Result<Option<u64>, PassTicketError> {
    let bound = LegacyBinding::new(key, user, appl)?;
    legacy_time(now)?;
    let Some(presented) = presented_ticket(presented, ALPHABET) else {
        return Ok(None);
    };
    Ok(window_closest_first(now).find(|&second| {
        // Seconds past the 32-bit field cannot have been generated.
        u32::try_from(second).is_ok_and(|t| bound.ticket_at(t) == presented)
    }))
}

fn legacy_time(time: u64) -> Result<u32, PassTicketError> {
    u32::try_from(time).map_err(|_| PassTicketError::TimeOutOfRange {
        time,
        algorithm: "legacy",
    })
}

/// Everything that does not depend on the time: the key schedule, the user's
/// pad and `R3`.
struct LegacyBinding {
    cipher: Des,
    pad: [u8; 12],
    r3: [u8; 4],
}

impl LegacyBinding {
    fn new(key: &[u8; 8], user: &str, appl: &str) -> Result<Self, PassTicketError> {
        let user = encode(user, NameRole::User)?;
        let appl = encode(appl, NameRole::Appl)?;
        let cipher = Des::new(&Array::from(*key));
        let r1 = encrypt(&cipher, user.padded);
        let r2 = encrypt(&cipher, xor8(r1, appl.padded));
        let r3 = [r2[0], r2[1], r2[2], r2[3]];
        Ok(Self {
            cipher,
            pad: pad(&user),
            r3,
        })
    }

    fn ticket_at(&self, time: u32) -> PassTicket {
        let t = time.to_be_bytes();
        let r4 = std::array::from_fn(|i| self.r3[i] ^ t[i]);
        let r5 = time_coder(&self.cipher, &self.pad, r4);
        PassTicket::from_ascii(translate(r5))
    }
}

/// One DES-ECB block.
fn encrypt(cipher: &Des, block: [u8; 8]) -> [u8; 8] {
    let mut block = Array::from(block);
    cipher.encrypt_block(&mut block);
    block.into()
}

fn xor8(a: [u8; 8], b: [u8; 8]) -> [u8; 8] {
    std::array::from_fn(|i| a[i] ^ b[i])
}

/// `PAD`: the user id (unpadded) extended with X'55' to 12 bytes. It is the
/// time-coder's per-user filler, so two users' time-coders differ even under
/// the same key.
fn pad(user: &EbcdicName) -> [u8; 12] {
    let mut pad = [PAD_FILLER; 12];
    pad[..user.len].copy_from_slice(user.unpadded());
    pad
}

/// Output bit `i` (most significant first) is input bit `table[i]`.
fn permute(table: &[u8; 16], input: u16) -> u16 {
    table.iter().fold(0u16, |out, &source_bit| {
        let bit = (input >> (16 - u32::from(source_bit))) & 1;
        out << 1 | bit
    })
}

/// The six-round Feistel network from `R4` to `R5` (step 5).
fn time_coder(cipher: &Des, pad: &[u8; 12], r4: [u8; 4]) -> [u8; 4] {
    let (pad1, pad2) = pad.split_at(6);
    let mut left = u16::from_be_bytes([r4[0], r4[1]]);
    let mut right = u16::from_be_bytes([r4[2], r4[3]]);
    for (round, table) in PERMUTATIONS.iter().enumerate() {
        // Rounds are numbered from 1 in the spec: odd rounds (index 0, 2, 4)
        // use PAD1.
        let filler = if round % 2 == 0 { pad1 } else { pad2 };
        let mut block = [0u8; 8];
        block[..2].copy_from_slice(&right.to_be_bytes());
        block[2..].copy_from_slice(filler);
        let d = encrypt(cipher, block);
        let e = u16::from_be_bytes([d[0], d[1]]) ^ left;
        left = right;
        right = permute(table, e);
    }
    let [l0, l1] = left.to_be_bytes();
    let [r0, r1] = right.to_be_bytes();
    [l0, l1, r0, r1]
}

/// The time-coder run backwards, from `R5` to `R4`: each Feistel round is
/// undone by recomputing its DES output from the half it left unchanged.
fn time_decoder(cipher: &Des, pad: &[u8; 12], r5: u32) -> [u8; 4] {
    let (pad1, pad2) = pad.split_at(6);
    let [l0, l1, r0, r1] = r5.to_be_bytes();
    let mut left = u16::from_be_bytes([l0, l1]);
    let mut right = u16::from_be_bytes([r0, r1]);
    for (round, inverse) in INVERSE_PERMUTATIONS.iter().enumerate().rev() {
        let filler = if round % 2 == 0 { pad1 } else { pad2 };
        // Forward: left' = right, right' = permute(D(right) ^ left).
        let previous_right = left;
        let mut block = [0u8; 8];
        block[..2].copy_from_slice(&previous_right.to_be_bytes());
        block[2..].copy_from_slice(filler);
        let d = encrypt(cipher, block);
        left = permute(inverse, right) ^ u16::from_be_bytes([d[0], d[1]]);
        right = previous_right;
    }
    let [a, b] = left.to_be_bytes();
    let [c, d] = right.to_be_bytes();
    [a, b, c, d]
}

/// Every `R5` whose translation is `ticket` (8 characters of [`ALPHABET`]).
///
/// Each character's index `i` came from a 6-bit field worth `i` or `i + 36`
/// (when that is below 64); the fields overlap their neighbours by two bits,
/// so of the at most 2^8 choices only those that agree on the shared bits are
/// values of `R5`. Distinct choices give distinct values.
fn untranslate(ticket: &[u8; 8]) -> Vec<u32> {
    let mut indices = [0u32; 8];
    for (index, c) in indices.iter_mut().zip(ticket) {
        // Not in the alphabet cannot happen for a parsed ticket; such a
        // character matches nothing.
        let Some(position) = ALPHABET.iter().position(|a| a == c) else {
            return Vec::new();
        };
        *index = position as u32;
    }
    let alphabet_len = ALPHABET.len() as u32;
    let mut values = Vec::new();
    'choice: for choice in 0u32..(1 << 8) {
        let mut r5 = 0u32;
        let mut known = 0u32;
        for (k, (&index, &start)) in indices.iter().zip(&TRANSLATION_START_BITS).enumerate() {
            let field = index
                + if choice >> k & 1 == 1 {
                    alphabet_len
                } else {
                    0
                };
            if field > 0x3F {
                continue 'choice;
            }
            // The inverse of translate's rotation: the field's 6 bits back
            // to where they start at bit `start`.
            let bits = (field << 26).rotate_right(start - 1);
            let mask = (0x3F_u32 << 26).rotate_right(start - 1);
            if (r5 ^ bits) & mask & known != 0 {
                continue 'choice;
            }
            r5 |= bits;
            known |= mask;
        }
        values.push(r5);
    }
    values
}

/// Step 6: eight characters from overlapping 6-bit fields of `R5`.
fn translate(r5: [u8; 4]) -> [u8; 8] {
    let bits = u32::from_be_bytes(r5);
    TRANSLATION_START_BITS.map(|start| {
        // Rotating left by start - 1 brings bit `start` to the top, with the
        // wrap from bit 32 to bit 1 for free.
        let field = bits.rotate_left(start - 1) >> 26;
        ALPHABET[field as usize % ALPHABET.len()]
    })
}

/// Single DES-ECB encryption of one block (step functions' primitive).
#[doc(hidden)]
pub fn des_encrypt_block(key: &[u8; 8], block: [u8; 8]) -> [u8; 8] {
    encrypt(&Des::new(&Array::from(*key)), block)
}

/// The legacy `PAD` for a user id.
#[doc(hidden)]
pub fn legacy_pad(user: &str) -> Result<[u8; 12], PassTicketError> {
    encode(user, NameRole::User).map(|user| pad(&user))
}

/// `permute_round` for round 1..=6; `None` for any other round.
#[doc(hidden)]
pub fn legacy_permute(round: usize, input: u16) -> Option<u16> {
    let table = PERMUTATIONS.get(round.checked_sub(1)?)?;
    Some(permute(table, input))
}

/// The time-coder from `R4` to `R5` for `user` under `key`.
#[doc(hidden)]
pub fn legacy_time_coder(
    key: &[u8; 8],
    user: &str,
    r4: [u8; 4],
) -> Result<[u8; 4], PassTicketError> {
    let pad = legacy_pad(user)?;
    Ok(time_coder(&Des::new(&Array::from(*key)), &pad, r4))
}

/// The translation from `R5` to the ticket's ASCII characters.
#[doc(hidden)]
pub fn legacy_translate(r5: [u8; 4]) -> [u8; 8] {
    translate(r5)
}

/// The inverse time-coder from `R5` back to `R4`.
#[doc(hidden)]
pub fn legacy_time_decoder(
    key: &[u8; 8],
    user: &str,
    r5: [u8; 4],
) -> Result<[u8; 4], PassTicketError> {
    let pad = legacy_pad(user)?;
    Ok(time_decoder(
        &Des::new(&Array::from(*key)),
        &pad,
        u32::from_be_bytes(r5),
    ))
}

/// Every `R5` that translates to `ticket`.
#[doc(hidden)]
pub fn legacy_untranslate(ticket: &[u8; 8]) -> Vec<[u8; 4]> {
    untranslate(ticket)
        .into_iter()
        .map(u32::to_be_bytes)
        .collect()
}
