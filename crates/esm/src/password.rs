//! Passwords and password phrases: RACF's syntax rules and the slow salted
//! hash they are stored as.
//!
//! Hashes are argon2id, stored as
//! `$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt hex>$<hash hex>`; each
//! hash carries its own cost so that changing the configured cost never
//! invalidates stored values. Comparison is constant time (`subtle`).

use argon2::{Algorithm, Argon2, Params, Version};
use subtle::ConstantTimeEq;

/// The argon2id cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl HashCost {
    /// The product default (OWASP's argon2id minimum: 19 MiB, 2 passes).
    pub const DEFAULT: HashCost = HashCost {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };
    /// A cheap cost for tests only.
    pub const TEST_ONLY: HashCost = HashCost {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
}

impl Default for HashCost {
    fn default() -> Self {
        HashCost::DEFAULT
    }
}

/// A hashing failure (a bad cost or a corrupt stored hash).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(pub String);

const OUT_LEN: usize = 32;

fn argon(cost: HashCost) -> Result<Argon2<'static>, HashError> {
    let params = Params::new(
        cost.memory_kib,
        cost.iterations,
        cost.parallelism,
        Some(OUT_LEN),
    )
    .map_err(|e| HashError(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// A stored credential hash (PHC-like text). No `Debug`: it is secret
/// material.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SecretHash(pub String);

/// Hashes a secret with a fresh random salt.
pub fn hash_secret(secret: &str, cost: HashCost) -> Result<SecretHash, HashError> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| HashError(e.to_string()))?;
    hash_with_salt(secret, &salt, cost)
}

fn hash_with_salt(secret: &str, salt: &[u8], cost: HashCost) -> Result<SecretHash, HashError> {
    let mut out = [0u8; OUT_LEN];
    argon(cost)?
        .hash_password_into(secret.as_bytes(), salt, &mut out)
        .map_err(|e| HashError(e.to_string()))?;
    Ok(SecretHash(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        cost.memory_kib,
        cost.iterations,
        cost.parallelism,
        hex::encode(salt),
        hex::encode(out)
    )))
}

fn parse_hash(stored: &SecretHash) -> Option<(HashCost, Vec<u8>, Vec<u8>)> {
    let mut parts = stored.0.split('$');
    let (_, alg, _v, params, salt, hash) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if alg != "argon2id" {
        return None;
    }
    let mut cost = HashCost::DEFAULT;
    for kv in params.split(',') {
        let (k, v) = kv.split_once('=')?;
        let v: u32 = v.parse().ok()?;
        match k {
            "m" => cost.memory_kib = v,
            "t" => cost.iterations = v,
            "p" => cost.parallelism = v,
            _ => return None,
        }
    }
    Some((cost, hex::decode(salt).ok()?, hex::decode(hash).ok()?))
}

/// Whether `secret` matches `stored`, compared in constant time. A corrupt
/// stored hash never matches.
pub fn verify_secret(secret: &str, stored: &SecretHash) -> bool {
    let Some((cost, salt, expected)) = parse_hash(stored) else {
        return false;
    };
    let Ok(argon) = argon(cost) else { return false };
    let mut out = vec![0u8; expected.len().max(1)];
    if argon
        .hash_password_into(secret.as_bytes(), &salt, &mut out)
        .is_err()
    {
        return false;
    }
    out.ct_eq(&expected).into()
}

const DUMMY_SECRET: &str = "\u{0}zgate-dummy\u{0}";
const DUMMY_SALT: &[u8] = b"zgate-dummy-salt";

/// [`dummy_hash`] at [`HashCost::DEFAULT`], written out: computing it at
/// start would make every gateway hold the 19 MiB argon2 takes for as long
/// as the allocator keeps freed memory (mimalloc keeps it until its next
/// purge, which an idle process never reaches).
const DUMMY_AT_DEFAULT_COST: &str = "$argon2id$v=19$m=19456,t=2,p=1$7a676174652d64756d6d792d73616c74$e01bc96ceaf0cee36f6fca1c2c2c0a1a39d66e907d6c46e5493551d38c47ab97";

/// A hash of nothing anyone knows, with the configured cost: verified
/// against when the user is unknown so that the answer takes as long.
pub fn dummy_hash(cost: HashCost) -> SecretHash {
    if cost == HashCost::DEFAULT {
        return SecretHash(DUMMY_AT_DEFAULT_COST.to_owned());
    }
    hash_with_salt(DUMMY_SECRET, DUMMY_SALT, cost).unwrap_or_else(|_| SecretHash(String::new()))
}

/// Which kind of secret a text is: 1-8 characters a password, 9-100 a phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// 1-8 characters.
    Password,
    /// 9-100 characters.
    Phrase,
}

/// Classifies by length (characters).
pub fn kind_of(secret: &str) -> SecretKind {
    if secret.chars().count() <= 8 {
        SecretKind::Password
    } else {
        SecretKind::Phrase
    }
}

/// Normalises a password for hashing and comparison: upper case unless
/// `SETROPTS PASSWORD(MIXEDCASE)`.
pub fn normalize_password(pw: &str, mixed_case: bool) -> String {
    if mixed_case {
        pw.to_owned()
    } else {
        pw.to_ascii_uppercase()
    }
}

/// Checks RACF's password syntax: 1-8 of `A-Z 0-9 @ # $` (and `a-z` with
/// MIXEDCASE), not the user id.
pub fn check_password_syntax(user: &str, pw: &str, mixed_case: bool) -> Result<(), String> {
    let len = pw.chars().count();
    if len == 0 || len > 8 {
        return Err("a password is 1 to 8 characters".into());
    }
    let ok = |c: char| {
        c.is_ascii_uppercase()
            || c.is_ascii_digit()
            || matches!(c, '@' | '#' | '$')
            || (c.is_ascii_lowercase())
    };
    if !pw.chars().all(ok) {
        return Err("a password holds only A-Z, 0-9, @, # and $".into());
    }
    if normalize_password(pw, mixed_case).eq_ignore_ascii_case(user) {
        return Err("the password must not be the user id".into());
    }
    Ok(())
}

/// Checks RACF's phrase syntax: 9-100 characters, not containing the user
/// id, at least 2 letters and 2 non-letters, no character more than twice
/// in a row.
pub fn check_phrase_syntax(user: &str, phrase: &str) -> Result<(), String> {
    let len = phrase.chars().count();
    if !(9..=100).contains(&len) {
        return Err("a password phrase is 9 to 100 characters".into());
    }
    if phrase
        .to_ascii_uppercase()
        .contains(&user.to_ascii_uppercase())
    {
        return Err("the password phrase must not contain the user id".into());
    }
    let letters = phrase.chars().filter(|c| c.is_alphabetic()).count();
    if letters < 2 || len - letters < 2 {
        return Err("a password phrase needs at least 2 letters and 2 non-letters".into());
    }
    let chars: Vec<char> = phrase.chars().collect();
    if chars.windows(3).any(|w| w[0] == w[1] && w[1] == w[2]) {
        return Err(
            "a password phrase must not repeat a character more than twice in a row".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_out_dummy_is_the_dummy_at_the_default_cost() {
        let computed = hash_with_salt(DUMMY_SECRET, DUMMY_SALT, HashCost::DEFAULT).unwrap();
        assert_eq!(computed.0, DUMMY_AT_DEFAULT_COST);
        assert!(dummy_hash(HashCost::DEFAULT) == computed);
        assert!(verify_secret(DUMMY_SECRET, &dummy_hash(HashCost::DEFAULT)));
        assert!(verify_secret(
            DUMMY_SECRET,
            &dummy_hash(HashCost::TEST_ONLY)
        ));
    }

    #[test]
    fn hash_round_trip_and_salt() {
        let a = hash_secret("SECRET", HashCost::TEST_ONLY).unwrap();
        let b = hash_secret("SECRET", HashCost::TEST_ONLY).unwrap();
        assert_ne!(a.0, b.0, "salted");
        assert!(verify_secret("SECRET", &a));
        assert!(!verify_secret("SECRET2", &a));
        assert!(!verify_secret("SECRET", &SecretHash("garbage".into())));
    }

    #[test]
    fn phrase_rules() {
        assert!(check_phrase_syntax("BOB", "correct horse 42").is_ok());
        assert!(check_phrase_syntax("BOB", "short1!").is_err());
        assert!(check_phrase_syntax("BOB", "bob is here 12").is_err());
        assert!(check_phrase_syntax("BOB", "onlyletters").is_err());
        assert!(check_phrase_syntax("BOB", "aaab 12345 x").is_err());
    }
}

/// What a position of a password may hold under a syntax rule.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Content {
    /// A-Z and the national characters @ # $.
    Alpha,
    /// Letters, digits, national characters.
    Alphanum,
    /// 0-9.
    Numeric,
    /// A E I O U.
    Vowel,
    /// Anything but a vowel.
    Novowel,
    /// A letter that is not a vowel.
    Consonant,
    /// @ # $.
    National,
    /// An upper-case letter (with MIXEDCASE).
    Uppercase,
    /// A lower-case letter (with MIXEDCASE).
    Lowercase,
    /// Any allowed character.
    Mixedall,
}

impl Content {
    const ALL: [(&'static str, Content); 10] = [
        ("ALPHA", Content::Alpha),
        ("ALPHANUM", Content::Alphanum),
        ("NUMERIC", Content::Numeric),
        ("VOWEL", Content::Vowel),
        ("NOVOWEL", Content::Novowel),
        ("CONSONANT", Content::Consonant),
        ("NATIONAL", Content::National),
        ("UPPERCASE", Content::Uppercase),
        ("LOWERCASE", Content::Lowercase),
        ("MIXEDALL", Content::Mixedall),
    ];

    /// The RACF keyword.
    pub fn keyword(self) -> &'static str {
        Content::ALL
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("MIXEDALL", |(k, _)| k)
    }

    /// By RACF keyword.
    pub fn from_keyword(k: &str) -> Option<Content> {
        Content::ALL
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(k))
            .map(|(_, c)| *c)
    }

    fn allows(self, c: char) -> bool {
        let u = c.to_ascii_uppercase();
        let vowel = matches!(u, 'A' | 'E' | 'I' | 'O' | 'U');
        let national = matches!(c, '@' | '#' | '$');
        match self {
            Content::Alpha => c.is_ascii_alphabetic() || national,
            Content::Alphanum => c.is_ascii_alphanumeric() || national,
            Content::Numeric => c.is_ascii_digit(),
            Content::Vowel => vowel,
            Content::Novowel => !vowel,
            Content::Consonant => c.is_ascii_alphabetic() && !vowel,
            Content::National => national,
            Content::Uppercase => c.is_ascii_uppercase(),
            Content::Lowercase => c.is_ascii_lowercase(),
            Content::Mixedall => true,
        }
    }
}

/// `SETROPTS PASSWORD(RULEn(LENGTH(m:n) ALPHA(1) NUMERIC(2:3) ...))`: a new
/// password a user chooses must satisfy at least one rule, when any exist.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PasswordRule {
    /// Shortest length.
    pub min_len: usize,
    /// Longest length.
    pub max_len: usize,
    /// Content required at 1-based positions.
    pub positions: Vec<(Content, Vec<usize>)>,
}

impl PasswordRule {
    /// Parses the inside of `RULEn(...)`, e.g. `LENGTH(4:8) ALPHA(1) NUMERIC(2:3,5)`.
    pub fn parse(text: &str) -> Result<PasswordRule, String> {
        let ops = crate::syntax::tokenize(text).map_err(|e| e.0)?;
        let mut rule = PasswordRule {
            min_len: 1,
            max_len: 8,
            positions: Vec::new(),
        };
        let mut had_length = false;
        for op in &ops {
            let crate::syntax::Operand::Keyword { name, args } = op else {
                return Err(format!("unexpected `{op:?}` in a password rule"));
            };
            let values: Vec<String> = crate::syntax::texts(args)
                .into_iter()
                .map(|(t, _)| t)
                .collect();
            let ranges = values
                .iter()
                .map(|v| parse_range(v))
                .collect::<Result<Vec<_>, _>>()?;
            if name == "LENGTH" {
                let [(a, b)] = ranges.as_slice() else {
                    return Err("LENGTH takes one value, m or m:n".into());
                };
                if *a == 0 || *b > 8 || a > b {
                    return Err("LENGTH is within 1:8".into());
                }
                (rule.min_len, rule.max_len, had_length) = (*a, *b, true);
            } else {
                let content = Content::from_keyword(name)
                    .ok_or_else(|| format!("unknown content keyword {name}"))?;
                let mut pos = Vec::new();
                for (a, b) in ranges {
                    if a == 0 || b > 8 || a > b {
                        return Err(format!("{name}: positions are within 1:8"));
                    }
                    pos.extend(a..=b);
                }
                rule.positions.push((content, pos));
            }
        }
        if !had_length {
            return Err("a rule needs LENGTH(m:n)".into());
        }
        Ok(rule)
    }

    /// The canonical text (what [`PasswordRule::parse`] reads).
    pub fn to_text(&self) -> String {
        let mut out = format!("LENGTH({}:{})", self.min_len, self.max_len);
        for (c, pos) in &self.positions {
            let p: Vec<String> = pos.iter().map(|p| p.to_string()).collect();
            out.push_str(&format!(" {}({})", c.keyword(), p.join(",")));
        }
        out
    }

    /// Whether a password satisfies the rule.
    pub fn allows(&self, pw: &str) -> bool {
        let chars: Vec<char> = pw.chars().collect();
        if chars.len() < self.min_len || chars.len() > self.max_len {
            return false;
        }
        self.positions.iter().all(|(content, pos)| {
            pos.iter()
                .all(|&p| chars.get(p - 1).is_none_or(|&c| content.allows(c)))
        })
    }
}

fn parse_range(v: &str) -> Result<(usize, usize), String> {
    let num = |s: &str| {
        s.trim()
            .parse::<usize>()
            .map_err(|_| format!("`{v}` is not a position or a range m:n"))
    };
    match v.split_once(':') {
        Some((a, b)) => Ok((num(a)?, num(b)?)),
        None => {
            let n = num(v)?;
            Ok((n, n))
        }
    }
}

/// Checks a password a user chooses against the SETROPTS rules: at least
/// one must allow it (no rules: any syntactically valid password).
pub fn check_rules(
    pw: &str,
    rules: &std::collections::BTreeMap<u8, PasswordRule>,
) -> Result<(), String> {
    if rules.is_empty() || rules.values().any(|r| r.allows(pw)) {
        return Ok(());
    }
    let list: Vec<String> = rules
        .iter()
        .map(|(n, r)| format!("RULE{n}({})", r.to_text()))
        .collect();
    Err(format!(
        "the password does not meet the installation's rules: {}",
        list.join(" ")
    ))
}

#[cfg(test)]
mod rule_tests {
    use super::*;

    #[test]
    fn rules_parse_and_apply() {
        let r = PasswordRule::parse("LENGTH(5:8) ALPHA(1) NUMERIC(2:3,5)").unwrap();
        assert_eq!(r.to_text(), "LENGTH(5:8) ALPHA(1) NUMERIC(2,3,5)");
        assert_eq!(PasswordRule::parse(&r.to_text()).unwrap(), r);
        assert!(r.allows("A12B3"));
        assert!(!r.allows("A12BC"));
        assert!(!r.allows("112B3"));
        assert!(!r.allows("A12"));
        assert!(PasswordRule::parse("ALPHA(1)").is_err());
        assert!(PasswordRule::parse("LENGTH(9)").is_err());
        assert!(PasswordRule::parse("LENGTH(4) PURPLE(1)").is_err());
    }
}
