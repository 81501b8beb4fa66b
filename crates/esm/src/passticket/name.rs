//! User ids and application names as the algorithms see them: validated, in
//! EBCDIC, blank-padded to eight bytes.
//!
//! Both sides of a PassTicket exchange must feed the algorithm identical
//! bytes, and the mainframe side works in EBCDIC; so the names are encoded with
//! code page 1047 (037 agrees on every allowed character) before any
//! cryptography. Only RACF's user-id characters are allowed, which keeps the
//! encoding a small exact table with no code-page ambiguity.

use super::ticket::PassTicketError;

/// The EBCDIC blank, RACF's padding byte.
pub(crate) const EBCDIC_BLANK: u8 = 0x40;

/// A validated name: its EBCDIC bytes blank-padded to 8, and how many of them
/// are the name itself (the legacy time-coder's pad uses the unpadded name).
#[derive(Clone, Copy)]
pub(crate) struct EbcdicName {
    pub(crate) padded: [u8; 8],
    pub(crate) len: usize,
}

impl EbcdicName {
    /// The name without its blank padding.
    pub(crate) fn unpadded(&self) -> &[u8] {
        &self.padded[..self.len]
    }
}

/// Which input a name is, so the error says which one was wrong.
#[derive(Clone, Copy)]
pub(crate) enum NameRole {
    User,
    Appl,
}

/// The EBCDIC (code page 1047) byte of an allowed character, or `None`.
fn ebcdic_1047(c: u8) -> Option<u8> {
    // EBCDIC letters come in three runs with gaps: A-I, J-R, S-Z.
    Some(match c {
        b'A'..=b'I' => 0xC1 + (c - b'A'),
        b'J'..=b'R' => 0xD1 + (c - b'J'),
        b'S'..=b'Z' => 0xE2 + (c - b'S'),
        b'0'..=b'9' => 0xF0 + (c - b'0'),
        b'@' => 0x7C,
        b'#' => 0x7B,
        b'$' => 0x5B,
        _ => return None,
    })
}

/// Validates a user id or application name (1-8 of `A-Z 0-9 @ # $`, upper case
/// already) and encodes it.
pub(crate) fn encode(name: &str, role: NameRole) -> Result<EbcdicName, PassTicketError> {
    let error = match role {
        NameRole::User => PassTicketError::InvalidUserId,
        NameRole::Appl => PassTicketError::InvalidApplName,
    };
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > 8 {
        return Err(error);
    }
    let mut padded = [EBCDIC_BLANK; 8];
    for (slot, &c) in padded.iter_mut().zip(bytes) {
        *slot = ebcdic_1047(c).ok_or_else(|| error.clone())?;
    }
    Ok(EbcdicName {
        padded,
        len: bytes.len(),
    })
}

/// A user id or application name in EBCDIC, blank-padded to 8 bytes (the
/// algorithms' `user8` and `appl8`). Validation as for user ids.
#[doc(hidden)]
pub fn ebcdic_name(name: &str) -> Result<[u8; 8], PassTicketError> {
    encode(name, NameRole::User).map(|n| n.padded)
}
