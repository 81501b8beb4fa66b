//! Certificate → user mapping (spec esm.md §5), administered as RACF's
//! `RACDCERT`:
//!
//! - `RACDCERT MAP ID(user) SDNFILTER('CN=A.O=ACME.C=US') IDNFILTER('...') WITHLABEL('l')`
//!   defines a name filter (at least one of the two DN filters);
//! - `RACDCERT ID(user) ADD('/path/cert.pem') WITHLABEL('l')` registers one
//!   certificate (PEM or DER file; RACF reads a data set, zgate a file): the
//!   ESM keeps its issuer DN and serial number, never the file;
//! - `RACDCERT LISTMAP [ID(user)]`, `RACDCERT LIST [ID(user)]`;
//! - `RACDCERT DELMAP(LABEL('l')) [ID(user)]`, `RACDCERT DELETE(LABEL('l')) [ID(user)]`.
//!
//! Filters are written most specific RDN first, RDNs joined by `.`, with
//! RACF's attribute keywords (`CN T OU O L SP C EMAIL STREET PC DC SN`,
//! other attributes as dotted OIDs). A `.` inside a value is kept when the
//! text after it does not start a new `KEY=`. Values compare exactly.
//!
//! Search order ([`Esm::map_certificate`]): the registered certificate
//! (issuer + serial); then subject-full + issuer-full, subject-partial +
//! issuer-full, subject-full, subject-partial, issuer-full, issuer-partial,
//! where a partial DN drops the most specific RDN one at a time. First match wins.

use x509_parser::prelude::*;

use crate::command::parse::Operand;
use crate::command::{CommandError, CommandErrorKind, CommandOutput, Issuer};
use crate::mfa::{authorized, ExtCommandError};
use crate::model::normalize_id;
use crate::records::RecordOp;
use crate::Esm;
use hex::encode as hex;

pub(crate) const MAP_KIND: &str = "cert.map";
const REG_KIND: &str = "cert.reg";

/// Why a certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// Not an X.509 certificate (PEM or DER).
    #[error("not an X.509 certificate: {0}")]
    NotX509(String),
}

/// What the mapping needs of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertNames {
    /// Subject RDNs, most specific first (`CN=..`, `OU=..`, ...).
    pub subject: Vec<String>,
    /// Issuer RDNs, most specific first.
    pub issuer: Vec<String>,
    /// Serial number, lower-case hex without leading zero bytes.
    pub serial: String,
}

fn keyword(oid: &str) -> String {
    match oid {
        "2.5.4.3" => "CN",
        "2.5.4.12" => "T",
        "2.5.4.11" => "OU",
        "2.5.4.10" => "O",
        "2.5.4.7" => "L",
        "2.5.4.8" => "SP",
        "2.5.4.6" => "C",
        "1.2.840.113549.1.9.1" => "EMAIL",
        "2.5.4.9" => "STREET",
        "2.5.4.17" => "PC",
        "0.9.2342.19200300.100.1.25" => "DC",
        "2.5.4.5" => "SN",
        other => return other.to_string(),
    }
    .to_string()
}

fn rdns(name: &X509Name<'_>) -> Vec<String> {
    let mut out: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let value = atv
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|_| hex(atv.attr_value().data));
                    format!("{}={}", keyword(&atv.attr_type().to_id_string()), value)
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    // DER lists the least specific RDN first.
    out.reverse();
    out
}

impl CertNames {
    /// Reads a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<CertNames, CertError> {
        let (_, cert) =
            X509Certificate::from_der(der).map_err(|e| CertError::NotX509(e.to_string()))?;
        let serial = cert.raw_serial();
        let first = serial.iter().position(|b| *b != 0).unwrap_or(serial.len());
        Ok(CertNames {
            subject: rdns(cert.subject()),
            issuer: rdns(cert.issuer()),
            serial: hex(&serial[first..]),
        })
    }

    /// Reads a PEM (first certificate) or DER file's bytes.
    pub fn from_pem_or_der(bytes: &[u8]) -> Result<CertNames, CertError> {
        if bytes.starts_with(b"-----") || bytes.iter().take(64).all(|b| b.is_ascii()) {
            let (_, pem) = x509_parser::pem::parse_x509_pem(bytes)
                .map_err(|e| CertError::NotX509(format!("no PEM certificate: {e}")))?;
            if pem.label != "CERTIFICATE" {
                return Err(CertError::NotX509(format!("PEM block is {}", pem.label)));
            }
            return CertNames::from_der(&pem.contents);
        }
        CertNames::from_der(bytes)
    }
}

const KEYWORDS: &[&str] = &[
    "CN", "T", "OU", "O", "L", "SP", "C", "EMAIL", "STREET", "PC", "DC", "SN",
];

fn starts_rdn(text: &str) -> bool {
    let Some((key, _)) = text.split_once('=') else {
        return false;
    };
    let key = key.trim().to_ascii_uppercase();
    KEYWORDS.contains(&key.as_str())
        || (!key.is_empty() && key.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// Parses a filter (`CN=A.OU=B.O=C`) into RDNs, most specific first.
pub fn parse_filter(text: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for piece in text.split('.') {
        if starts_rdn(piece) {
            let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
            let key = key.trim().to_ascii_uppercase();
            out.push(format!("{key}={value}"));
        } else if let Some(last) = out.last_mut() {
            last.push('.');
            last.push_str(piece);
        } else {
            return Err(format!(
                "`{text}` does not start with KEY= (CN=, OU=, O=, C=, ...)"
            ));
        }
    }
    if out.iter().any(|r| r.ends_with('=')) {
        return Err(format!("`{text}` has an RDN without a value"));
    }
    Ok(out)
}

/// (subject filter, issuer filter) → user, from the `cert.map` records.
pub(crate) fn filter_index(
    records: &crate::records::Records,
) -> std::collections::HashMap<(String, String), String> {
    records
        .iter(MAP_KIND)
        .filter_map(|(_, v)| decode_map(v))
        .map(|m| ((m.sdn, m.idn), m.user))
        .collect()
}

struct MapEntry {
    user: String,
    sdn: String,
    idn: String,
}

fn encode_map(user: &str, sdn: &str, idn: &str) -> String {
    format!("{user}\t{sdn}\t{idn}")
}

fn decode_map(value: &str) -> Option<MapEntry> {
    let mut p = value.split('\t');
    Some(MapEntry {
        user: p.next()?.to_string(),
        sdn: p.next()?.to_string(),
        idn: p.next()?.to_string(),
    })
}

fn err(kind: CommandErrorKind, msg: impl Into<String>) -> ExtCommandError {
    ExtCommandError::from(CommandError {
        kind,
        lines: vec![msg.into()],
    })
}

fn text_of(args: &[Operand]) -> Option<String> {
    match args {
        [Operand::Word { text, .. }] => Some(text.clone()),
        _ => None,
    }
}

fn label_of(args: &[Operand]) -> Option<String> {
    match args {
        [Operand::Keyword { name, args }] if name == "LABEL" => text_of(args),
        _ => None,
    }
}

impl Esm {
    /// Maps a client certificate (DER) to a user id (spec search order), or
    /// `None` when nothing matches.
    pub fn map_certificate(&self, der: &[u8]) -> Result<Option<String>, CertError> {
        let names = CertNames::from_der(der)?;
        Ok(self.map_names(&names))
    }

    /// The search of [`Esm::map_certificate`] on already read names.
    pub fn map_names(&self, names: &CertNames) -> Option<String> {
        self.with_records(|r| {
            let issuer_full = names.issuer.join(".");
            if let Some(v) = r.get(REG_KIND, &format!("{issuer_full}|{}", names.serial)) {
                return v.split('\t').next().map(str::to_string);
            }
            let maps = &r.cert_filters;
            let partials = |dn: &[String]| -> Vec<String> {
                (0..dn.len()).map(|i| dn[i..].join(".")).collect()
            };
            let subjects = partials(&names.subject);
            let issuers = partials(&names.issuer);
            let none = String::new();
            let mut order: Vec<(&String, &String)> = Vec::new();
            if let Some(ifull) = issuers.first() {
                order.extend(subjects.iter().map(|s| (s, ifull)));
            }
            order.extend(subjects.iter().map(|s| (s, &none)));
            order.extend(issuers.iter().map(|i| (&none, i)));
            order
                .into_iter()
                .find_map(|(s, i)| maps.get(&(s.clone(), i.clone())).cloned())
        })
    }

    pub(crate) fn racdcert(
        &self,
        issuer: &Issuer,
        ops: &[Operand],
    ) -> Result<CommandOutput, CommandError> {
        let mut id = None;
        let mut action = None::<&str>;
        let (mut sdn, mut idn, mut label, mut add, mut del) = (None, None, None, None, None);
        for op in ops {
            match op {
                Operand::Word { text, .. } => match text.to_ascii_uppercase().as_str() {
                    "MAP" => action = Some("MAP"),
                    "LISTMAP" => action = Some("LISTMAP"),
                    "LIST" => action = Some("LIST"),
                    "TRUST" => {}
                    other => {
                        return Err(err(
                            CommandErrorKind::Syntax,
                            format!("IKJ56712I INVALID KEYWORD, {other}"),
                        )
                        .0)
                    }
                },
                Operand::Keyword { name, args } => match name.as_str() {
                    "ID" => id = text_of(args),
                    "SDNFILTER" => sdn = text_of(args),
                    "IDNFILTER" => idn = text_of(args),
                    "WITHLABEL" => label = text_of(args),
                    "ADD" => {
                        action = Some("ADD");
                        add = text_of(args);
                    }
                    "DELMAP" => {
                        action = Some("DELMAP");
                        del = label_of(args);
                    }
                    "DELETE" => {
                        action = Some("DELETE");
                        del = label_of(args);
                    }
                    "LISTMAP" => action = Some("LISTMAP"),
                    other => {
                        return Err(err(
                            CommandErrorKind::Syntax,
                            format!("IKJ56712I INVALID KEYWORD, {other}"),
                        )
                        .0)
                    }
                },
                Operand::List(_) => {
                    return Err(err(CommandErrorKind::Syntax, "IKJ56712I INVALID OPERAND").0)
                }
            }
        }
        let id = match id {
            Some(u) => Some(
                normalize_id(&u)
                    .map_err(|e| err(CommandErrorKind::Invalid, format!("IRRD102I {e}")).0)?,
            ),
            None => match issuer {
                Issuer::User(u) => Some(u.to_ascii_uppercase()),
                Issuer::Operator => None,
            },
        };
        let action = action.ok_or_else(|| {
            err(
                CommandErrorKind::Syntax,
                "IKJ56701I MISSING FUNCTION: MAP, ADD, LISTMAP, LIST, DELMAP OR DELETE",
            )
            .0
        })?;
        // Parse inputs before the transaction: bad input writes nothing.
        let filters = if action == "MAP" {
            let s = sdn.as_deref().map(parse_filter).transpose();
            let i = idn.as_deref().map(parse_filter).transpose();
            let (s, i) = match (s, i) {
                (Ok(s), Ok(i)) => (s, i),
                (Err(e), _) | (_, Err(e)) => {
                    return Err(err(CommandErrorKind::Invalid, format!("IRRD112I {e}")).0)
                }
            };
            if s.is_none() && i.is_none() {
                return Err(err(
                    CommandErrorKind::Syntax,
                    "IRRD113I MAP NEEDS SDNFILTER OR IDNFILTER",
                )
                .0);
            }
            Some((
                s.unwrap_or_default().join("."),
                i.unwrap_or_default().join("."),
            ))
        } else {
            None
        };
        let cert =
            if action == "ADD" {
                let path = add.ok_or_else(|| {
                    err(CommandErrorKind::Syntax, "IKJ56701I MISSING ADD FILE NAME").0
                })?;
                let bytes = std::fs::read(&path).map_err(|e| {
                    err(
                        CommandErrorKind::NotFound,
                        format!("IRRD109I CANNOT READ {path}: {e}"),
                    )
                    .0
                })?;
                Some(CertNames::from_pem_or_der(&bytes).map_err(|e| {
                    err(CommandErrorKind::Invalid, format!("IRRD110I {path}: {e}")).0
                })?)
            } else {
                None
            };
        self.commit_records(|records, state| {
            let mut lines = Vec::new();
            let read_only = matches!(action, "LISTMAP" | "LIST");
            let own =
                matches!((issuer, &id), (Issuer::User(u), Some(i)) if u.eq_ignore_ascii_case(i));
            if !(authorized(state, issuer) || (read_only && own)) {
                return Err(err(
                    CommandErrorKind::NotAuthorized,
                    "ICH00007I NOT AUTHORIZED TO ISSUE RACDCERT: SPECIAL IS REQUIRED",
                ));
            }
            if let Some(u) = &id {
                if !state.users.contains_key(u) {
                    return Err(err(
                        CommandErrorKind::NotFound,
                        format!("IRRD103I USER({u}) NOT DEFINED TO RACF"),
                    ));
                }
            }
            let need_id = || {
                id.clone()
                    .ok_or_else(|| err(CommandErrorKind::Syntax, "IKJ56701I MISSING ID(userid)"))
            };
            let need_label = |l: &Option<String>| {
                l.clone()
                    .filter(|l| !l.trim().is_empty() && l.len() <= 32)
                    .ok_or_else(|| {
                        err(
                            CommandErrorKind::Syntax,
                            "IKJ56701I MISSING OR INVALID LABEL (1-32 CHARACTERS)",
                        )
                    })
            };
            let mut ops = Vec::new();
            match action {
                "MAP" => {
                    let user = need_id()?;
                    // Without WITHLABEL, RACF names the map LABELnnnnnnnn.
                    let label = match &label {
                        Some(_) => need_label(&label)?,
                        None => (1..)
                            .map(|n| format!("LABEL{n:08}"))
                            .find(|l| records.get(MAP_KIND, l).is_none())
                            .unwrap_or_default(),
                    };
                    let (s, i) = filters.clone().unwrap_or_default();
                    if records.get(MAP_KIND, &label).is_some() {
                        return Err(err(
                            CommandErrorKind::Duplicate,
                            format!("IRRD107I LABEL '{label}' IS ALREADY IN USE"),
                        ));
                    }
                    if records
                        .iter(MAP_KIND)
                        .filter_map(|(_, v)| decode_map(v))
                        .any(|m| m.sdn == s && m.idn == i)
                    {
                        return Err(err(
                            CommandErrorKind::Duplicate,
                            "IRRD108I A MAPPING WITH THESE FILTERS ALREADY EXISTS",
                        ));
                    }
                    ops.push(RecordOp::put(MAP_KIND, &label, encode_map(&user, &s, &i)));
                }
                "ADD" => {
                    let user = need_id()?;
                    let label = need_label(&label)?;
                    let Some(c) = &cert else {
                        return Err(err(CommandErrorKind::Syntax, "IKJ56701I MISSING ADD"));
                    };
                    let key = format!("{}|{}", c.issuer.join("."), c.serial);
                    if records.get(REG_KIND, &key).is_some() {
                        return Err(err(
                            CommandErrorKind::Duplicate,
                            "IRRD111I THE CERTIFICATE IS ALREADY DEFINED",
                        ));
                    }
                    if records
                        .iter(REG_KIND)
                        .any(|(_, v)| v.split('\t').nth(1) == Some(label.as_str()))
                    {
                        return Err(err(
                            CommandErrorKind::Duplicate,
                            format!("IRRD107I LABEL '{label}' IS ALREADY IN USE"),
                        ));
                    }
                    ops.push(RecordOp::put(
                        REG_KIND,
                        &key,
                        format!("{user}\t{label}\t{}", c.subject.join(".")),
                    ));
                    lines.push(format!("Certificate '{label}' registered to {user}"));
                }
                "DELMAP" => {
                    let label = need_label(&del)?;
                    match records.get(MAP_KIND, &label).and_then(decode_map) {
                        Some(m) if id.as_ref().is_none_or(|u| *u == m.user) => {
                            ops.push(RecordOp::delete(MAP_KIND, &label))
                        }
                        _ => {
                            return Err(err(
                                CommandErrorKind::NotFound,
                                format!("IRRD104I MAPPING '{label}' NOT FOUND"),
                            ))
                        }
                    }
                }
                "DELETE" => {
                    let label = need_label(&del)?;
                    let found = records.iter(REG_KIND).find(|(_, v)| {
                        let mut p = v.split('\t');
                        let user = p.next();
                        p.next() == Some(label.as_str())
                            && id.as_deref().is_none_or(|u| Some(u) == user)
                    });
                    match found {
                        Some((key, _)) => ops.push(RecordOp::delete(REG_KIND, key)),
                        None => {
                            return Err(err(
                                CommandErrorKind::NotFound,
                                format!("IRRD104I CERTIFICATE '{label}' NOT FOUND"),
                            ))
                        }
                    }
                }
                "LISTMAP" => {
                    let mut maps: Vec<(&str, MapEntry)> = records
                        .iter(MAP_KIND)
                        .filter_map(|(l, v)| Some((l, decode_map(v)?)))
                        .filter(|(_, m)| id.as_ref().is_none_or(|u| *u == m.user))
                        .collect();
                    maps.sort_by(|a, b| (&a.1.user, a.0).cmp(&(&b.1.user, b.0)));
                    for (l, m) in maps {
                        lines.push(format!("Mapping information for user {}:", m.user));
                        lines.push(format!("  Label: {l}"));
                        lines.push("  Status: TRUST".into());
                        lines.push(format!("  Subject's DN filter: {}", m.sdn));
                        lines.push(format!("  Issuer's DN filter: {}", m.idn));
                    }
                    if lines.is_empty() {
                        lines.push("No mapping information was found.".into());
                    }
                }
                _ => {
                    let mut certs: Vec<(String, String, String, String)> = records
                        .iter(REG_KIND)
                        .filter_map(|(k, v)| {
                            let mut p = v.split('\t');
                            let (user, label, subject) = (p.next()?, p.next()?, p.next()?);
                            let (issuer, serial) = k.rsplit_once('|')?;
                            Some((
                                user.into(),
                                label.into(),
                                subject.to_string(),
                                format!("{issuer} serial {serial}"),
                            ))
                        })
                        .filter(|c| id.as_ref().is_none_or(|u| *u == c.0))
                        .collect();
                    certs.sort();
                    for (user, label, subject, iss) in certs {
                        lines.push(format!("Digital certificate information for user {user}:"));
                        lines.push(format!("  Label: {label}"));
                        lines.push(format!("  Subject's Name: {subject}"));
                        lines.push(format!("  Issuer's Name: {iss}"));
                    }
                    if lines.is_empty() {
                        lines.push("No certificate information was found.".into());
                    }
                }
            }
            Ok((ops, CommandOutput { lines }))
        })
        .map_err(|e: ExtCommandError| e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // Untrusted input: filters typed by administrators, certificates
        // sent by any TLS peer. Never a panic.
        #[test]
        fn filters_never_panic_and_round_trip(text in "[A-Za-z=. ,+0-9]{0,60}") {
            if let Ok(rdns) = parse_filter(&text) {
                let joined = rdns.join(".");
                prop_assert_eq!(parse_filter(&joined).unwrap(), rdns);
            }
        }

        #[test]
        fn certificates_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = CertNames::from_der(&bytes);
            let _ = CertNames::from_pem_or_der(&bytes);
        }
    }
}
