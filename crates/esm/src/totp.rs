//! TOTP: time-based one-time passwords (RFC 6238 over RFC 4226 HOTP), the
//! second factor of zgate's MFA.
//!
//! The user's authenticator app and zgate share a random [`SharedSecret`]; both turn
//! the current time into a counter and the counter into a short code, so a
//! code proves possession of the secret without sending it. Steps, and why:
//!
//! 1. Counter `C = floor(unix_time / period)` (RFC 6238 §4, `T0 = 0`): both
//!    sides agree on `C` without talking, and a code lives one period (30 s).
//! 2. `HS = HMAC-H(secret, C as 8 bytes big-endian)` with `H` = SHA-1, SHA-256
//!    or SHA-512 (RFC 4226 §5.3; RFC 6238 §1.2 for the SHA-2 variants): a
//!    pseudo-random function of the counter that only a secret holder can
//!    compute.
//! 3. Dynamic truncation: the low 4 bits of the last byte of `HS` choose an
//!    offset; the 31 bits at that offset (top bit masked so the number is the
//!    same signed or unsigned on every platform) are the value. Choosing the
//!    offset from the MAC itself spreads the value over the whole MAC.
//! 4. `code = value mod 10^digits`, zero-padded to 6 or 8 digits: something a
//!    person can type.
//!
//! Verification ([`verify`]) recomputes the codes for the current step and
//! `skew_steps` steps either side, compares each in constant time, and returns
//! the matched time step. **Replay protection is the caller's**: RFC 6238 §5.2
//! forbids accepting the same code twice, so the caller stores the last
//! accepted step per user (shared by every gateway instance) and rejects a
//! code whose matched step is not greater than it.
//!
//! Pure functions: the time is passed in (seconds since the Unix epoch) and
//! [`SharedSecret::generate`] takes the random generator, so tests are exact.

use std::fmt::Write as _;
use std::num::NonZeroU32;
use std::str::FromStr;

use data_encoding::{BASE32, BASE32_NOPAD};
use hmac::digest::Key;
use hmac::{EagerHash, Hmac, KeyInit, Mac};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};
use zgate_base::{Random, RandomError};

/// The issuer zgate writes into `otpauth://` URIs, which authenticator apps
/// show beside the account.
pub const ISSUER: &str = "zgate";

/// Errors from reading TOTP secrets and parameters. None carries the rejected
/// secret text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TotpError {
    /// The text is not RFC 4648 base32 (letters A-Z, digits 2-7; optional
    /// `=` padding that must then be complete; unused trailing bits zero).
    #[error("a TOTP secret must be RFC 4648 base32: letters A-Z and digits 2-7, spaces ignored")]
    InvalidBase32,
    /// The secret's length is outside [`SharedSecret::MIN_LEN`]..=[`SharedSecret::MAX_LEN`].
    #[error("a TOTP secret must be {min} to {max} bytes long, this one is {len}")]
    SecretLength {
        /// The rejected length in bytes.
        len: usize,
        /// [`SharedSecret::MIN_LEN`].
        min: usize,
        /// [`SharedSecret::MAX_LEN`].
        max: usize,
    },
    /// Not one of `SHA1`, `SHA256`, `SHA512`.
    #[error("unknown TOTP algorithm: expected SHA1, SHA256 or SHA512")]
    UnknownAlgorithm,
    /// Codes have 6 or 8 digits.
    #[error("a TOTP code has 6 or 8 digits, not {0}")]
    UnsupportedDigits(u32),
    /// A period of zero seconds.
    #[error("a TOTP period must be at least one second")]
    ZeroPeriod,
}

/// The HMAC hash function (the `ALGORITHM(...)` of `ALTUSER ... MFA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// HMAC-SHA-1, RFC 4226's original and what every authenticator supports.
    #[default]
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl Algorithm {
    /// The name used by `otpauth://` URIs and `oathtool --totp=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }

    /// The secret length [`SharedSecret::generate`] uses: the hash's output size, as
    /// RFC 6238's reference seeds do (RFC 4226 §4 asks for at least 160 bits
    /// for SHA-1).
    pub fn secret_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
}

impl FromStr for Algorithm {
    type Err = TotpError;

    /// `SHA1`, `SHA256` or `SHA512`, any case (RACF keywords are not case
    /// sensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Sha1, Self::Sha256, Self::Sha512]
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or(TotpError::UnknownAlgorithm)
    }
}

/// How many digits a code has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Digits {
    /// Six digits, the authenticator-app default.
    #[default]
    Six,
    /// Eight digits.
    Eight,
}

impl Digits {
    /// The number of digits.
    pub fn count(self) -> u32 {
        match self {
            Self::Six => 6,
            Self::Eight => 8,
        }
    }

    fn len(self) -> usize {
        match self {
            Self::Six => 6,
            Self::Eight => 8,
        }
    }
}

impl TryFrom<u32> for Digits {
    type Error = TotpError;

    fn try_from(n: u32) -> Result<Self, Self::Error> {
        match n {
            6 => Ok(Self::Six),
            8 => Ok(Self::Eight),
            other => Err(TotpError::UnsupportedDigits(other)),
        }
    }
}

/// A user's TOTP parameters. [`Default`] is what authenticator apps assume:
/// SHA-1, 6 digits, 30 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TotpParams {
    /// The HMAC hash function.
    pub algorithm: Algorithm,
    /// Digits per code.
    pub digits: Digits,
    /// Seconds per time step.
    pub period: NonZeroU32,
}

impl TotpParams {
    /// RFC 6238's recommended time step.
    pub const DEFAULT_PERIOD: NonZeroU32 = match NonZeroU32::new(30) {
        Some(p) => p,
        None => panic!("30 is not zero"),
    };

    /// Parameters from raw numbers, validated (`digits` 6 or 8, `period` > 0).
    pub fn new(algorithm: Algorithm, digits: u32, period: u32) -> Result<Self, TotpError> {
        Ok(Self {
            algorithm,
            digits: Digits::try_from(digits)?,
            period: NonZeroU32::new(period).ok_or(TotpError::ZeroPeriod)?,
        })
    }

    /// The time step (RFC 6238's `T`) that `unix_time` falls in.
    pub fn time_step(&self, unix_time: u64) -> u64 {
        unix_time / u64::from(self.period.get())
    }
}

impl Default for TotpParams {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::Sha1,
            digits: Digits::Six,
            period: Self::DEFAULT_PERIOD,
        }
    }
}

/// A TOTP shared secret.
///
/// No `Display`, and a `Debug` that shows nothing of the contents: the secret
/// is shown exactly once, at enrolment, through [`SharedSecret::to_base32`] /
/// [`otpauth_uri`]. Its bytes are zeroed on drop.
#[derive(Clone)]
pub struct SharedSecret(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedSecret(<redacted>)")
    }
}

impl SharedSecret {
    /// RFC 4226 §4 (R6): the shared secret MUST be at least 128 bits.
    pub const MIN_LEN: usize = 16;
    /// The longest generated secret (SHA-512's). Keys up to the hash's block
    /// size (64 bytes for SHA-1 and SHA-256) are used by HMAC as they are;
    /// longer ones would only be hashed down first, adding nothing.
    pub const MAX_LEN: usize = 64;

    /// A fresh random secret of [`Algorithm::secret_len`] bytes from `random`.
    pub fn generate(random: &dyn Random, algorithm: Algorithm) -> Result<Self, RandomError> {
        let mut bytes = Zeroizing::new(vec![0u8; algorithm.secret_len()]);
        random.fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// A secret from its raw bytes (as stored by the ESM).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TotpError> {
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&bytes.len()) {
            return Err(TotpError::SecretLength {
                len: bytes.len(),
                min: Self::MIN_LEN,
                max: Self::MAX_LEN,
            });
        }
        Ok(Self(Zeroizing::new(bytes.to_vec())))
    }

    /// The raw bytes, for storage.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// RFC 4648 base32 without `=` padding, as `otpauth://` URIs carry it.
    pub fn to_base32(&self) -> String {
        BASE32_NOPAD.encode(&self.0)
    }

    /// Reads base32 as people and apps write it: any case, spaces ignored,
    /// `=` padding optional (but complete if present). Anything else is an
    /// error: another alphabet (base32hex, base64), a length no byte string
    /// encodes to, or non-zero unused trailing bits.
    pub fn from_base32(text: &str) -> Result<Self, TotpError> {
        let normalized: Zeroizing<Vec<u8>> = Zeroizing::new(
            text.bytes()
                .filter(|&b| b != b' ')
                .map(|b| b.to_ascii_uppercase())
                .collect(),
        );
        let encoding = if normalized.contains(&b'=') {
            &BASE32
        } else {
            &BASE32_NOPAD
        };
        let bytes = Zeroizing::new(
            encoding
                .decode(&normalized)
                .map_err(|_| TotpError::InvalidBase32)?,
        );
        Self::from_bytes(&bytes)
    }
}

/// The HOTP value (RFC 4226 §5.3) of `counter`: HMAC, dynamic truncation,
/// reduction to `digits`, zero-padded.
pub fn hotp(secret: &SharedSecret, algorithm: Algorithm, digits: Digits, counter: u64) -> String {
    let value = match algorithm {
        Algorithm::Sha1 => truncated_hmac::<sha1::Sha1>(secret, counter),
        Algorithm::Sha256 => truncated_hmac::<sha2::Sha256>(secret, counter),
        Algorithm::Sha512 => truncated_hmac::<sha2::Sha512>(secret, counter),
    };
    let modulus = 10u32.pow(digits.count());
    format!("{:0width$}", value % modulus, width = digits.len())
}

/// Steps 2 and 3: HMAC of the counter, then dynamic truncation to 31 bits.
fn truncated_hmac<D: EagerHash>(secret: &SharedSecret, counter: u64) -> u32
where
    Hmac<D>: KeyInit + Mac,
{
    // RFC 2104: a key no longer than the hash block is used zero-padded to
    // the block size, so padding it here is the same HMAC, and needs no
    // fallible length check (secrets are at most 64 bytes, and every block
    // size here is at least 64).
    let mut key = Key::<Hmac<D>>::default();
    for (k, s) in key.iter_mut().zip(secret.as_bytes()) {
        *k = *s;
    }
    let mac = <Hmac<D> as KeyInit>::new(&key);
    key.as_mut_slice().zeroize();
    let hs = mac
        .chain_update(counter.to_be_bytes())
        .finalize()
        .into_bytes();
    // Every digest here is at least 20 bytes, and offset + 4 <= 19.
    let offset = usize::from(hs[hs.len() - 1] & 0x0F);
    u32::from_be_bytes([hs[offset], hs[offset + 1], hs[offset + 2], hs[offset + 3]]) & 0x7FFF_FFFF
}

/// The code for `unix_time` (seconds since the epoch).
pub fn code_at(secret: &SharedSecret, params: &TotpParams, unix_time: u64) -> String {
    hotp(
        secret,
        params.algorithm,
        params.digits,
        params.time_step(unix_time),
    )
}

/// Checks a presented `code` at `now`: the time step it belongs to, within
/// `skew_steps` steps either side of `now`'s (closest first, the past before
/// the future at equal distance), or `None`.
///
/// A code of the wrong length or with anything but ASCII digits is `None`.
/// Every candidate step is computed and compared in constant time whether or
/// not an earlier one matched. The caller must still reject replays: accept
/// only if the returned step is greater than the last step it accepted for
/// this user (RFC 6238 §5.2). The work is `2 * skew_steps + 1` HMACs.
pub fn verify(
    secret: &SharedSecret,
    params: &TotpParams,
    code: &str,
    now: u64,
    skew_steps: u32,
) -> Option<u64> {
    if code.len() != params.digits.len() || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = params.time_step(now);
    let candidates = std::iter::once(Some(current)).chain(
        (1..=u64::from(skew_steps)).flat_map(|d| [current.checked_sub(d), current.checked_add(d)]),
    );
    let mut matched = None;
    for step in candidates.flatten() {
        let expected = hotp(secret, params.algorithm, params.digits, step);
        let equal: bool = expected.as_bytes().ct_eq(code.as_bytes()).into();
        if equal && matched.is_none() {
            matched = Some(step);
        }
    }
    matched
}

/// The enrolment URI authenticator apps import (Google's Key URI format):
/// `otpauth://totp/ISSUER:ACCOUNT?secret=BASE32&issuer=ISSUER&algorithm=SHA1&digits=6&period=30`.
///
/// Issuer and account are percent-encoded (RFC 3986: everything but
/// unreserved characters), so a `:`, `@`, space or `&` in them cannot change
/// the URI's structure. The result contains the secret: show it once, never
/// log it.
pub fn otpauth_uri(
    issuer: &str,
    account: &str,
    secret: &SharedSecret,
    params: &TotpParams,
) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm={algorithm}&digits={digits}&period={period}",
        account = percent_encode(account),
        secret = secret.to_base32(),
        algorithm = params.algorithm.as_str(),
        digits = params.digits.count(),
        period = params.period,
    )
}

/// RFC 3986 percent-encoding of everything outside `A-Z a-z 0-9 - . _ ~`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
