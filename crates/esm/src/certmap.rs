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
//! Search order ([`map_names`]): the registered certificate
//! (issuer + serial); then subject-full + issuer-full, subject-partial +
//! issuer-full, subject-full, subject-partial, issuer-full, issuer-partial,
//! where a partial DN drops the most specific RDN one at a time. First match wins.

use x509_parser::prelude::*;

use std::collections::HashMap;

use hex::encode as hex;

use crate::records::Records;
use crate::state::Change;

/// The record kind of name filters (`RACDCERT MAP`), keyed by label.
pub(crate) const MAP_KIND: &str = "cert.map";
/// The record kind of registered certificates (`RACDCERT ADD`), keyed by
/// issuer DN and serial; the value is `user \t label \t subject`, with
/// `\t NOTRUST` after it for a certificate that logs no one on.
pub(crate) const REG_KIND: &str = "cert.reg";

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
/// Built again whenever a `cert.map` record changes, so a mapping is a few
/// hash lookups.
#[derive(Debug, Default, Clone)]
pub struct CertFilters(HashMap<(String, String), String>);

impl CertFilters {
    /// The filters of the `cert.map` records.
    pub fn build(records: &Records) -> CertFilters {
        CertFilters(
            records
                .iter(MAP_KIND)
                .filter_map(|(_, v)| decode_map(v))
                .map(|m| ((m.sdn, m.idn), m.user))
                .collect(),
        )
    }
}

/// Whether a change touches the certificate name filters.
pub fn changes_filters(change: &Change) -> bool {
    match change {
        Change::PutRecord(r) => r.kind == MAP_KIND,
        Change::DeleteRecord { kind, .. } => kind == MAP_KIND,
        _ => false,
    }
}

/// The user a certificate's names map to (the module's search order).
pub fn map_names(records: &Records, filters: &CertFilters, names: &CertNames) -> Option<String> {
    let issuer_full = names.issuer.join(".");
    if let Some(v) = records.get(REG_KIND, &format!("{issuer_full}|{}", names.serial)) {
        // `user \t label \t subject [\t NOTRUST]`: a certificate defined
        // NOTRUST maps to no one, and no filter is tried for it.
        if v.split('\t').nth(3) == Some("NOTRUST") {
            return None;
        }
        return v.split('\t').next().map(str::to_string);
    }
    let partials =
        |dn: &[String]| -> Vec<String> { (0..dn.len()).map(|i| dn[i..].join(".")).collect() };
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
        .find_map(|(s, i)| filters.0.get(&(s.clone(), i.clone())).cloned())
}

/// One `cert.map` record's value.
pub(crate) struct MapEntry {
    pub(crate) user: String,
    pub(crate) sdn: String,
    pub(crate) idn: String,
}

pub(crate) fn encode_map(user: &str, sdn: &str, idn: &str) -> String {
    format!("{user}\t{sdn}\t{idn}")
}

pub(crate) fn decode_map(value: &str) -> Option<MapEntry> {
    let mut p = value.split('\t');
    Some(MapEntry {
        user: p.next()?.to_string(),
        sdn: p.next()?.to_string(),
        idn: p.next()?.to_string(),
    })
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
