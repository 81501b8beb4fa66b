//! Key rings named in the configuration (spec keyrings.md section 3.1):
//! `safkeyring://OWNER/RING` URLs in `keystore.file` and `truststore.file`,
//! `safkeyring://OWNER/RING&LABEL` entries in `pem.certificateAuthorities`,
//! certificate labels and RACF user ids.
//!
//! The URL is read as API ML reads it (`SecurityUtils.KEYRING_PATTERN`,
//! `^(safkeyring[^:]*):/{2,4}([^/]+)/([^/]+)$`): two to four slashes, the
//! owner upper-cased, the ring name exact. zgate is stricter where a value
//! would otherwise mean something else than it shows: only the four schemes
//! Zowe documents, in lower case; the owner a RACF user id; ring names of
//! `A-Z a-z 0-9 . _ - @ # $` only (nothing that could end a command operand,
//! start a comment or be decoded: no blank, quote, parenthesis, comma, `&`,
//! `%`, `*` or `/`); labels of printable ASCII without surrounding blanks.

use std::fmt;

/// The URL schemes of a key ring, all meaning the same ring: Zowe's
/// `safkeyring`, and the Java 11+ spellings by keystore type.
pub const RING_SCHEMES: &[&str] = &[
    "safkeyring",
    "safkeyringjce",
    "safkeyringjcecca",
    "safkeyringjcehybrid",
];

/// Keystore types that name an ESM key ring.
pub const RING_STORE_TYPES: &[&str] = &["JCERACFKS", "JCECCARACFKS", "JCEHYBRIDRACFKS"];

/// Java's own keystore file formats: zgate has no reader for them.
pub const JAVA_STORE_TYPES: &[&str] = &["JCEKS", "JCECCAKS"];

/// The longest certificate label (RACF: 32 characters).
pub const MAX_LABEL: usize = 32;

/// The longest ring name (RACF: 237 characters).
pub const MAX_RING_NAME: usize = 237;

/// The owner of every CERTAUTH certificate in a virtual ring.
pub const VIRTUAL_CERTAUTH: &str = "*AUTH*";

/// The owner of every SITE certificate in a virtual ring.
pub const VIRTUAL_SITE: &str = "*SITE*";

/// Whether a keystore type names a key ring.
pub fn is_ring_type(store_type: &str) -> bool {
    RING_STORE_TYPES
        .iter()
        .any(|t| t.eq_ignore_ascii_case(store_type))
}

/// Why a key ring reference was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    /// Not a `safkeyring` URL at all.
    #[error("`{0}` is not a key ring URL: write safkeyring://OWNER/RING")]
    NotRingUrl(String),
    /// A scheme that is not one of [`RING_SCHEMES`], or not in lower case.
    #[error("`{scheme}://` is not a key ring scheme: use {} (lower case)", RING_SCHEMES.join(", "))]
    Scheme {
        /// The scheme as written.
        scheme: String,
    },
    /// Fewer than two or more than four slashes after the scheme.
    #[error("{0} slashes after the scheme: write safkeyring://OWNER/RING (2 to 4 slashes)")]
    Slashes(usize),
    /// `safkeyring:///RING`: Liberty's form without an owner.
    #[error("the ring owner is missing (safkeyring:///RING): zgate does not guess the owner; write safkeyring://OWNER/RING")]
    OwnerOmitted,
    /// More than `OWNER/RING`.
    #[error("`{0}` is not OWNER/RING: a ring name has no `/`")]
    Shape(String),
    /// The owner is not a RACF user id.
    #[error("ring owner `{owner}`: {why}")]
    Owner {
        /// The owner as written.
        owner: String,
        /// What is wrong.
        why: &'static str,
    },
    /// The ring name is refused.
    #[error("ring name `{ring}`: {why}")]
    Ring {
        /// The name as written (control characters escaped).
        ring: String,
        /// What is wrong.
        why: &'static str,
    },
    /// A virtual ring where a real one is needed.
    #[error("`{0}` is a virtual ring: it holds no private key, so it can be a truststore only")]
    Virtual(String),
    /// A certificate label is refused.
    #[error("label `{label}`: {why}")]
    Label {
        /// The label as written (control characters escaped).
        label: String,
        /// What is wrong.
        why: &'static str,
    },
    /// Control characters, or blanks around the value.
    #[error("`{0}`: blanks around the value or control characters in it")]
    Unprintable(String),
}

/// A key ring: its owner's user id and its name (exact, case-sensitive).
/// A virtual ring has the name `*` and a user id, [`VIRTUAL_CERTAUTH`] or
/// [`VIRTUAL_SITE`] as owner.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RingName {
    /// Upper-case RACF user id (or `*AUTH*` / `*SITE*`).
    pub owner: String,
    /// The ring name, exact.
    pub ring: String,
}

impl RingName {
    /// Whether this is a virtual ring (`OWNER/*`, `*AUTH*/*`, `*SITE*/*`).
    pub fn is_virtual(&self) -> bool {
        self.ring == "*"
    }

    /// The URL zgate writes: `safkeyring://OWNER/RING`.
    pub fn url(&self) -> String {
        format!("safkeyring://{}/{}", self.owner, self.ring)
    }
}

impl fmt::Display for RingName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.ring)
    }
}

/// A certificate in a ring, by label: a `pem.certificateAuthorities` entry
/// `safkeyring://OWNER/RING&LABEL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingCertificate {
    /// The ring.
    pub ring: RingName,
    /// The certificate's label in it, exact.
    pub label: String,
}

impl RingCertificate {
    /// The entry zgate writes: `safkeyring://OWNER/RING&LABEL`.
    pub fn url(&self) -> String {
        format!("{}&{}", self.ring.url(), self.label)
    }
}

fn escaped(text: &str) -> String {
    text.escape_debug().collect()
}

/// Whether `text` is meant as a key ring URL: it starts with `safkeyring`,
/// in any case (so that a wrong spelling is refused as a ring URL, not read
/// as a file name).
pub fn is_ring_url(text: &str) -> bool {
    text.trim_start()
        .get(..10)
        .is_some_and(|head| head.eq_ignore_ascii_case("safkeyring"))
}

/// A RACF user id: 1-8 of `A-Z 0-9 @ # $`, upper-cased; nothing trimmed.
pub fn normalize_user_id(raw: &str) -> Result<String, RingError> {
    let bad = |why| RingError::Owner {
        owner: escaped(raw),
        why,
    };
    if raw.is_empty() {
        return Err(bad("empty"));
    }
    if raw.len() > 8 {
        return Err(bad("longer than 8 characters"));
    }
    let id = raw.to_ascii_uppercase();
    if !id
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"@#$".contains(&b))
    {
        return Err(bad("a RACF user id is 1-8 of A-Z 0-9 @ # $"));
    }
    Ok(id)
}

/// A ring name: 1-237 of `A-Z a-z 0-9 . _ - @ # $`, not only dots; exact.
pub fn check_ring_name(raw: &str) -> Result<(), RingError> {
    let bad = |why| RingError::Ring {
        ring: escaped(raw),
        why,
    };
    if raw.is_empty() {
        return Err(bad("empty"));
    }
    if raw.len() > MAX_RING_NAME {
        return Err(bad("longer than 237 characters"));
    }
    if raw.contains('%') {
        return Err(bad(
            "`%` is not allowed: percent-encoding is not decoded, write the name itself",
        ));
    }
    if !raw
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-@#$".contains(&b))
    {
        return Err(bad("a ring name here is made of A-Z a-z 0-9 . _ - @ # $"));
    }
    if raw.bytes().all(|b| b == b'.') {
        return Err(bad("`.` and `..` are not ring names"));
    }
    Ok(())
}

/// A certificate label: 1-32 printable ASCII characters (blanks inside
/// count), no blank at either end; exact, never trimmed.
pub fn check_label(raw: &str) -> Result<(), RingError> {
    let bad = |why| RingError::Label {
        label: escaped(raw),
        why,
    };
    if raw.is_empty() {
        return Err(bad("empty"));
    }
    if raw.chars().count() > MAX_LABEL {
        return Err(bad("longer than 32 characters"));
    }
    if !raw.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(bad(
            "a label is printable ASCII: no control or non-ASCII character",
        ));
    }
    if raw.starts_with(' ') || raw.ends_with(' ') {
        return Err(bad(
            "a blank at either end would make another label than the one shown",
        ));
    }
    Ok(())
}

/// Reads a key ring URL (see the module's rules). `virtual_allowed`: a
/// truststore may name `OWNER/*`, `*AUTH*/*` or `*SITE*/*`.
pub fn parse_ring_url(text: &str, virtual_allowed: bool) -> Result<RingName, RingError> {
    if text.chars().any(char::is_control) || text.trim() != text {
        return Err(RingError::Unprintable(escaped(text)));
    }
    let Some((scheme, rest)) = text.split_once(':') else {
        return Err(RingError::NotRingUrl(text.to_owned()));
    };
    if !is_ring_url(scheme) {
        return Err(RingError::NotRingUrl(text.to_owned()));
    }
    if !RING_SCHEMES.contains(&scheme) {
        return Err(RingError::Scheme {
            scheme: scheme.to_owned(),
        });
    }
    let path = rest.trim_start_matches('/');
    let slashes = rest.len() - path.len();
    if !(2..=4).contains(&slashes) {
        return Err(RingError::Slashes(slashes));
    }
    let Some((owner, ring)) = path.split_once('/') else {
        return Err(RingError::OwnerOmitted);
    };
    if ring.contains('/') {
        return Err(RingError::Shape(path.to_owned()));
    }
    let virtual_owner = [VIRTUAL_CERTAUTH, VIRTUAL_SITE]
        .into_iter()
        .find(|v| v.eq_ignore_ascii_case(owner));
    let owner = match virtual_owner {
        Some(v) if ring == "*" => v.to_owned(),
        Some(_) => {
            return Err(RingError::Owner {
                owner: owner.to_owned(),
                why: "*AUTH* and *SITE* own only the virtual ring `*`",
            })
        }
        None => normalize_user_id(owner)?,
    };
    let name = RingName {
        owner,
        ring: ring.to_owned(),
    };
    if name.is_virtual() {
        if !virtual_allowed {
            return Err(RingError::Virtual(path.to_owned()));
        }
        return Ok(name);
    }
    check_ring_name(ring)?;
    Ok(name)
}

/// Reads a `pem.certificateAuthorities` ring entry,
/// `safkeyring://OWNER/RING&LABEL`: the ring (virtual rings allowed) and
/// the label after the first `&` (a ring name has none).
pub fn parse_ring_certificate(text: &str) -> Result<RingCertificate, RingError> {
    let Some((url, label)) = text.split_once('&') else {
        return Err(RingError::Label {
            label: String::new(),
            why: "a certificate authority in a ring is written safkeyring://OWNER/RING&LABEL",
        });
    };
    if text.chars().any(char::is_control) {
        return Err(RingError::Unprintable(escaped(text)));
    }
    let ring = parse_ring_url(url, true)?;
    check_label(label)?;
    Ok(RingCertificate {
        ring,
        label: label.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ring(owner: &str, ring: &str) -> RingName {
        RingName {
            owner: owner.into(),
            ring: ring.into(),
        }
    }

    #[test]
    fn every_scheme_and_two_to_four_slashes_name_the_same_ring() {
        for scheme in RING_SCHEMES {
            for slashes in ["//", "///", "////"] {
                let url = format!("{scheme}:{slashes}zwesvusr/ZoweKeyring");
                assert_eq!(
                    parse_ring_url(&url, false),
                    Ok(ring("ZWESVUSR", "ZoweKeyring")),
                    "{url}"
                );
            }
        }
        assert_eq!(
            ring("ZWESVUSR", "ZoweKeyring").url(),
            "safkeyring://ZWESVUSR/ZoweKeyring"
        );
    }

    #[test]
    fn ring_names_keep_their_case() {
        assert_ne!(
            parse_ring_url("safkeyring://ZWESVUSR/zowekeyring", false),
            parse_ring_url("safkeyring://ZWESVUSR/ZoweKeyring", false)
        );
    }

    #[test]
    fn hostile_urls_are_refused() {
        let refused = [
            ("safkeyring:///ZoweKeyring", "owner is missing"),
            ("safkeyring://ZoweKeyring", "owner is missing"),
            ("safkeyring:/ZWESVUSR/Ring", "1 slashes"),
            ("safkeyring:ZWESVUSR/Ring", "0 slashes"),
            ("safkeyring://///ZWESVUSR/Ring", "5 slashes"),
            ("SAFKEYRING://ZWESVUSR/Ring", "lower case"),
            ("SafKeyRing://ZWESVUSR/Ring", "lower case"),
            ("safkeyringfoo://ZWESVUSR/Ring", "not a key ring scheme"),
            ("safkeyring://ZWESVUSR/Ring/extra", "not OWNER/RING"),
            ("safkeyring://ZWESVUSR//Ring", "not OWNER/RING"),
            ("safkeyring://ZWESVUSR/", "empty"),
            ("safkeyring:////Ring", "owner is missing"),
            ("safkeyring://ZWESVUSR/..", "not ring names"),
            ("safkeyring://ZWESVUSR/.", "not ring names"),
            ("safkeyring://ZWESVUSR%2FRing", "owner is missing"),
            ("safkeyring://ZWESVUSR/Ring%2F..", "percent-encoding"),
            ("safkeyring://ZW%53/Ring", "A-Z 0-9"),
            ("safkeyring://TOOLONGUSER/Ring", "longer than 8"),
            ("safkeyring://ZW SV/Ring", "A-Z 0-9"),
            ("safkeyring://ZWESVUSR/Zowe Ring", "made of"),
            ("safkeyring://ZWESVUSR/Ring) ID(IBMUSER", "made of"),
            ("safkeyring://ZWESVUSR/Ring'", "made of"),
            ("safkeyring://ZWESVUSR/Ring&localca", "made of"),
            ("safkeyring://ZWESVUSR/Ring\n", "control"),
            ("safkeyring://ZWESVUSR/Ri\u{0}ng", "control"),
            (" safkeyring://ZWESVUSR/Ring", "blanks around"),
            ("safkeyring://ZWESVUSR/Ring ", "blanks around"),
            ("safkeyring://ZWESVUSR/*", "virtual ring"),
            ("safkeyring://*AUTH*/Ring", "only the virtual ring"),
            ("/etc/zowe/keystore.p12", "not a key ring URL"),
        ];
        for (url, why) in refused {
            let err = parse_ring_url(url, false).expect_err(url).to_string();
            assert!(err.contains(why), "{url}: {err}");
        }
        let long = format!("safkeyring://ZWESVUSR/{}", "R".repeat(238));
        assert!(parse_ring_url(&long, false)
            .unwrap_err()
            .to_string()
            .contains("longer than 237"));
        let longest = format!("safkeyring://ZWESVUSR/{}", "R".repeat(237));
        assert!(parse_ring_url(&longest, false).is_ok());
    }

    #[test]
    fn a_truststore_may_name_a_virtual_ring() {
        assert_eq!(
            parse_ring_url("safkeyring://*auth*/*", true),
            Ok(ring("*AUTH*", "*"))
        );
        assert_eq!(
            parse_ring_url("safkeyring:////*SITE*/*", true),
            Ok(ring("*SITE*", "*"))
        );
        assert_eq!(
            parse_ring_url("safkeyring://zwesvusr/*", true),
            Ok(ring("ZWESVUSR", "*"))
        );
        assert!(parse_ring_url("safkeyring://*AUTH*/*", true)
            .unwrap()
            .is_virtual());
    }

    #[test]
    fn certificate_authorities_in_rings_name_a_label_after_the_first_ampersand() {
        let ca = parse_ring_certificate("safkeyring://ZWESVUSR/ZoweKeyring&localca").unwrap();
        assert_eq!(ca.ring, ring("ZWESVUSR", "ZoweKeyring"));
        assert_eq!(ca.label, "localca");
        assert_eq!(ca.url(), "safkeyring://ZWESVUSR/ZoweKeyring&localca");
        let odd = parse_ring_certificate("safkeyring:////*AUTH*/*&My CA & Co").unwrap();
        assert_eq!(odd.label, "My CA & Co");
        for bad in [
            "safkeyring://ZWESVUSR/ZoweKeyring",
            "safkeyring://ZWESVUSR/ZoweKeyring&",
            "safkeyring://ZWESVUSR/ZoweKeyring& localca",
            "safkeyring://ZWESVUSR/ZoweKeyring&localca\t",
            "safkeyring://ZWESVUSR/ZoweKeyring&a label longer than thirty-two chars",
            "safkeyring://ZWESVUSR&localca/ZoweKeyring",
            "safkeyring://&localca",
        ] {
            assert!(parse_ring_certificate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn labels_are_exact() {
        assert!(check_label("localhost").is_ok());
        assert!(check_label("Zowe Server Cert").is_ok());
        assert!(check_label(&"x".repeat(32)).is_ok());
        for bad in [
            "",
            " localhost",
            "localhost ",
            "local\u{7}host",
            "lócalhost",
            &"x".repeat(33),
        ] {
            assert!(check_label(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_what_it_accepts_is_clean(text in "\\PC{0,80}") {
            if let Ok(name) = parse_ring_url(&text, true) {
                prop_assert!(!name.owner.is_empty() && !name.ring.is_empty());
                prop_assert!(!name.ring.contains('/'));
                prop_assert!(name.owner.bytes().all(|b| b.is_ascii_graphic()));
                prop_assert_eq!(parse_ring_url(&name.url(), true), Ok(name));
            }
            let _ = parse_ring_certificate(&text);
        }

        #[test]
        fn valid_rings_round_trip(owner in "[A-Za-z@#$][A-Za-z0-9@#$]{0,7}", name in "[A-Za-z0-9_@#$-][A-Za-z0-9._@#$-]{0,40}", slashes in 2usize..=4) {
            let url = format!("safkeyring:{}{owner}/{name}", "/".repeat(slashes));
            let parsed = parse_ring_url(&url, false).unwrap();
            prop_assert_eq!(parsed.owner, owner.to_ascii_uppercase());
            prop_assert_eq!(parsed.ring, name);
        }
    }
}
