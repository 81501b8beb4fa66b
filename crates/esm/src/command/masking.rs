//! A command's text as an audit record or a log line may hold it: every
//! value that is a secret replaced by `********` (IBM warns that RACF
//! commands echoed to ISPLOG or the system log expose passwords; zgate masks
//! before any sink). Text that does not parse is reduced to its command
//! name: what cannot be read cannot be shown to be free of secrets.

use crate::syntax::{tokenize, Operand};

const MASK: &str = "********";

/// Keywords whose values are secrets. Any leading part of one counts,
/// however short: RACF takes unambiguous leading parts, and an ambiguous
/// or refused spelling (`P(...)`, `PH(...)`) is still recorded as typed, so
/// masking more than the parser accepts is the safe side.
const SECRET_KEYWORDS: &[&str] = &[
    "PASSWORD",
    "PW",
    "PASS",
    "PHRASE",
    "SSIGNON",
    "KEYMASKED",
    "KEYENCRYPTED",
    "EPTKEYMASKED",
    "EPTKEYENCRYPTED",
];

fn is_secret(command: &str, keyword: &str) -> bool {
    // SETROPTS PASSWORD(...) holds password rules, not a password.
    if command == "SETROPTS" || command == "SETR" {
        return false;
    }
    let keyword = keyword.trim_matches('\'').to_ascii_uppercase();
    !keyword.is_empty()
        && SECRET_KEYWORDS
            .iter()
            .any(|name| name.starts_with(&keyword))
}

/// The command text with its secret values masked.
pub fn masked(text: &str) -> String {
    let Ok(ops) = tokenize(text) else {
        let name = text.split_whitespace().next().unwrap_or_default();
        return format!("{} {MASK}", name.to_ascii_uppercase())
            .trim()
            .to_owned();
    };
    let command = match ops.first() {
        Some(Operand::Word { text, .. }) => text.to_ascii_uppercase(),
        _ => String::new(),
    };
    let mut out = Vec::with_capacity(ops.len());
    let mut secret_next = false;
    for op in &ops {
        out.push(match op {
            // `PASSWORD (x)`, `PASSWORD,(x)`: a keyword word and its list
            // apart.
            Operand::List(_) if secret_next => MASK.to_owned(),
            _ => render(op, &command),
        });
        secret_next = matches!(op, Operand::Word { text, .. } if is_secret(&command, text));
    }
    out.join(" ")
}

fn render(op: &Operand, command: &str) -> String {
    match op {
        Operand::Word { text, quoted } => {
            // A quoted keyword with its value adjoining (`'PASSWORD'(x)`)
            // is one word.
            if let Some((name, _)) = text.split_once('(') {
                if is_secret(command, name) {
                    return format!("{}({MASK})", name.trim_matches('\''));
                }
            }
            if *quoted {
                format!("'{}'", text.replace('\'', "''"))
            } else {
                text.clone()
            }
        }
        Operand::Keyword { name, args } => {
            if is_secret(command, name) {
                format!("{name}({MASK})")
            } else {
                let inner: Vec<String> = args.iter().map(|a| render(a, command)).collect();
                format!("{name}({})", inner.join(" "))
            }
        }
        Operand::List(items) => {
            let inner: Vec<String> = items.iter().map(|a| render(a, command)).collect();
            format!("({})", inner.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_in_every_spelling_and_the_rest_is_kept() {
        let secret = "S3cr3tV4lue";
        for cmd in [
            "ADDUSER BOB PASSWORD(S3cr3tV4lue) NAME('Bob B')",
            "ALTUSER BOB PW(S3cr3tV4lue)",
            "ALTUSER BOB PASS(S3cr3tV4lue) NOEXPIRED",
            "ALU BOB PHRASE('S3cr3tV4lue is long enough')",
            "ALTUSER BOB PHR('S3cr3tV4lue x y z')",
            "ALTUSER BOB password(S3cr3tV4lue)",
            "RDEFINE PTKTDATA APPL1 SSIGNON(KEYMASKED(S3cr3tV4lue))",
            "RALTER PTKTDATA APPL1 SSIGNON(EPTKEYMASKED(S3cr3tV4lue) EPTTYPE(MIXED))",
            "PASSWORD PASSWORD(S3cr3tV4lue S3cr3tV4lue)",
            "ALTUSER BOB PASSWORD('S3cr3tV4lue",
            "ALTUSER BOB PASSWORD(S3cr3tV4lue",
            "ALTUSER BOB PH('S3cr3tV4lue x y z')",
            "ALTUSER BOB P(S3cr3tV4lue)",
            "ALTUSER BOB PASSWORD (S3cr3tV4lue)",
            "ALTUSER BOB PASSWORD,(S3cr3tV4lue)",
            "ALTUSER BOB 'PASSWORD'(S3cr3tV4lue)",
            "ALTUSER BOB 'password' (S3cr3tV4lue)",
            "RACDCERT ID(BOB) ADD('/tmp/b.p12') PASSWORD('S3cr3tV4lue') TRUST",
            "RACDCERT EXPORT(LABEL('localhost')) ID(ZWESVUSR) DSN('/tmp/x.p12') FORMAT(PKCS12DER) PASSWORD('S3cr3tV4lue')",
            "RACDCERT CHECKCERT('/tmp/x.p12') PASSWORD('S3cr3tV4lue')",
            "RACDCERT ADD('/tmp/b.p12') ID(ZWESVUSR) WITHLABEL('localhost') PASSWORD('S3cr3tV4lue') TRUST",
            "RACDCERT ADD('/tmp/b.p12') ID(ZWESVUSR) PASSWORD('S3cr3tV4lue',",
            "RDEFINE PTKTDATA APPL1 SS(KEYENCRYPTED(S3cr3tV4lue))",
            "RDEFINE PTKTDATA APPL1 SSIGNON(KEYM(S3cr3tV4lue))",
        ] {
            let m = masked(cmd);
            assert!(!m.contains(secret), "{cmd} → {m}");
            assert!(m.contains("********"), "{cmd} → {m}");
        }
        assert_eq!(
            masked("ADDUSER BOB PASSWORD(x) NAME('Bob B') DFLTGRP(DEV)"),
            "ADDUSER BOB PASSWORD(********) NAME('Bob B') DFLTGRP(DEV)"
        );
        assert_eq!(
            masked("RACDCERT EXPORT(LABEL('my cert')) ID(BOB) DSN('/tmp/x.p12') FORMAT(PKCS12B64) PASSWORD('pw')"),
            "RACDCERT EXPORT(LABEL('my cert')) ID(BOB) DSN('/tmp/x.p12') FORMAT(PKCS12B64) PASSWORD(********)"
        );
        assert_eq!(
            masked("SETROPTS PASSWORD(REVOKE(3) HISTORY(2))"),
            "SETROPTS PASSWORD(REVOKE(3) HISTORY(2))"
        );
        assert_eq!(
            masked("PERMIT A.** CLASS(ZOWE) ID(BOB) ACCESS(READ)"),
            "PERMIT A.** CLASS(ZOWE) ID(BOB) ACCESS(READ)"
        );
    }
}
