//! Reading certificates: the facts the doctor and the loaders need (names,
//! validity, SANs, EKU, key strength, signature algorithm), host name
//! matching, and whether a private key belongs to a certificate.
use std::net::IpAddr;

use rustls::pki_types::CertificateDer;
use x509_parser::prelude::*;

use crate::error::{PkiError, Result};

/// The public key of a certificate or private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA with this modulus size in bits.
    Rsa {
        /// Modulus bits.
        bits: usize,
    },
    /// EC on a named curve (`P-256`, `P-384`, ... or the OID).
    Ec {
        /// Curve name.
        curve: String,
    },
    /// Anything else (algorithm OID).
    Other(String),
}

/// A subject alternative name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum San {
    /// dNSName
    Dns(String),
    /// iPAddress
    Ip(IpAddr),
}

impl std::fmt::Display for San {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            San::Dns(name) => write!(f, "DNS:{name}"),
            San::Ip(ip) => write!(f, "IP:{ip}"),
        }
    }
}

/// Extended key usage, when the extension is present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Eku {
    /// id-kp-serverAuth
    pub server_auth: bool,
    /// id-kp-clientAuth
    pub client_auth: bool,
    /// anyExtendedKeyUsage
    pub any: bool,
}

/// What zgate needs to know about one certificate.
#[derive(Debug, Clone)]
pub struct CertInfo {
    /// Subject DN, RFC 4514 style (`CN=..., OU=...`).
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// Raw DER of the subject name (for chain building).
    pub subject_raw: Vec<u8>,
    /// Raw DER of the issuer name.
    pub issuer_raw: Vec<u8>,
    /// Subject common name, if any.
    pub common_name: Option<String>,
    /// Start of validity, seconds since the Unix epoch.
    pub not_before: i64,
    /// End of validity, seconds since the Unix epoch.
    pub not_after: i64,
    /// Subject alternative names.
    pub sans: Vec<San>,
    /// Extended key usage (`None` = no extension = any usage).
    pub eku: Option<Eku>,
    /// BasicConstraints CA flag.
    pub is_ca: bool,
    /// The public key.
    pub key: KeyKind,
    /// Signature algorithm name (`sha256WithRSAEncryption`, ...).
    pub signature_algorithm: String,
    /// Whether the signature uses SHA-1 (or MD5).
    pub weak_signature_hash: bool,
    /// DER SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
    /// Serial number, hex.
    pub serial: String,
}

impl CertInfo {
    /// Parse a DER certificate.
    pub fn parse(cert: &CertificateDer<'_>) -> Result<Self> {
        let (_, x) = X509Certificate::from_der(cert.as_ref()).map_err(|e| PkiError::Malformed {
            path: "certificate".into(),
            expected: "X.509 certificate",
            reason: e.to_string(),
        })?;
        let mut sans = Vec::new();
        if let Ok(Some(ext)) = x.subject_alternative_name() {
            for name in &ext.value.general_names {
                match name {
                    GeneralName::DNSName(dns) => sans.push(San::Dns(dns.to_string())),
                    GeneralName::IPAddress(bytes) => {
                        if let Ok(octets) = <[u8; 4]>::try_from(*bytes) {
                            sans.push(San::Ip(IpAddr::from(octets)));
                        } else if let Ok(octets) = <[u8; 16]>::try_from(*bytes) {
                            sans.push(San::Ip(IpAddr::from(octets)));
                        }
                    }
                    _ => {}
                }
            }
        }
        let eku = match x.extended_key_usage() {
            Ok(Some(ext)) => Some(Eku {
                server_auth: ext.value.server_auth,
                client_auth: ext.value.client_auth,
                any: ext.value.any,
            }),
            _ => None,
        };
        let spki = x.public_key();
        let key = match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => KeyKind::Rsa {
                bits: rsa.key_size(),
            },
            Ok(x509_parser::public_key::PublicKey::EC(_)) => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|oid| curve_name(&oid.to_id_string()))
                    .unwrap_or_else(|| "unknown curve".into());
                KeyKind::Ec { curve }
            }
            _ => KeyKind::Other(spki.algorithm.algorithm.to_id_string()),
        };
        let common_name = x
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_string);
        let sig_oid = x.signature_algorithm.algorithm.to_id_string();
        let (signature_algorithm, weak_signature_hash) = signature_name(&sig_oid);
        Ok(CertInfo {
            subject: x.subject().to_string(),
            issuer: x.issuer().to_string(),
            subject_raw: x.subject().as_raw().to_vec(),
            issuer_raw: x.issuer().as_raw().to_vec(),
            common_name,
            not_before: x.validity().not_before.timestamp(),
            not_after: x.validity().not_after.timestamp(),
            sans,
            eku,
            is_ca: x.is_ca(),
            key,
            signature_algorithm,
            weak_signature_hash,
            spki_der: spki.raw.to_vec(),
            serial: x.raw_serial_as_string(),
        })
    }

    /// Subject equals issuer.
    pub fn is_self_issued(&self) -> bool {
        self.subject_raw == self.issuer_raw
    }

    /// Whether `host` (a DNS name or IP literal) is covered by this
    /// certificate: SANs first; the CN only when there is no SAN at all.
    pub fn covers_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        if let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            return self
                .sans
                .iter()
                .any(|s| matches!(s, San::Ip(a) if *a == ip));
        }
        let has_dns_san = self.sans.iter().any(|s| matches!(s, San::Dns(_)));
        if has_dns_san {
            return self
                .sans
                .iter()
                .any(|s| matches!(s, San::Dns(pattern) if dns_name_matches(pattern, host)));
        }
        self.sans.is_empty()
            && self
                .common_name
                .as_deref()
                .is_some_and(|cn| dns_name_matches(cn, host))
    }

    /// EKU absent, or both serverAuth and clientAuth (or anyExtendedKeyUsage).
    pub fn eku_ok_for_zowe(&self) -> bool {
        match self.eku {
            None => true,
            Some(e) => e.any || (e.server_auth && e.client_auth),
        }
    }

    /// Verify that `issuer` signed this certificate.
    pub fn signed_by(cert: &CertificateDer<'_>, issuer: &CertificateDer<'_>) -> bool {
        let (Ok((_, c)), Ok((_, i))) = (
            X509Certificate::from_der(cert.as_ref()),
            X509Certificate::from_der(issuer.as_ref()),
        ) else {
            return false;
        };
        c.issuer().as_raw() == i.subject().as_raw()
            && c.verify_signature(Some(i.public_key())).is_ok()
    }
}

/// RFC 6125 matching: case-insensitive, a `*` only as the whole left-most label.
pub fn dns_name_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    if let Some(suffix) = pattern.strip_prefix("*.") {
        match host.split_once('.') {
            Some((first, rest)) => !first.is_empty() && rest == suffix && suffix.contains('.'),
            None => false,
        }
    } else {
        pattern == host
    }
}

fn curve_name(oid: &str) -> String {
    match oid {
        "1.2.840.10045.3.1.7" => "P-256".into(),
        "1.3.132.0.34" => "P-384".into(),
        "1.3.132.0.35" => "P-521".into(),
        other => other.into(),
    }
}

fn signature_name(oid: &str) -> (String, bool) {
    let (name, weak) = match oid {
        "1.2.840.113549.1.1.4" => ("md5WithRSAEncryption", true),
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => ("sha1WithRSAEncryption", true),
        "1.2.840.113549.1.1.11" => ("sha256WithRSAEncryption", false),
        "1.2.840.113549.1.1.12" => ("sha384WithRSAEncryption", false),
        "1.2.840.113549.1.1.13" => ("sha512WithRSAEncryption", false),
        "1.2.840.113549.1.1.10" => ("rsassaPss", false),
        "1.2.840.10045.4.1" => ("ecdsa-with-SHA1", true),
        "1.2.840.10045.4.3.2" => ("ecdsa-with-SHA256", false),
        "1.2.840.10045.4.3.3" => ("ecdsa-with-SHA384", false),
        "1.2.840.10045.4.3.4" => ("ecdsa-with-SHA512", false),
        "1.3.101.112" => ("ED25519", false),
        other => return (other.to_string(), false),
    };
    (name.to_string(), weak)
}

/// The algorithm of a PKCS#8 private key, with the curve for EC keys.
pub fn key_algorithm(pkcs8: &[u8]) -> Result<KeyKind> {
    use rsa::pkcs8::der::Decode as _;
    let info = rsa::pkcs8::PrivateKeyInfo::from_der(pkcs8).map_err(|e| PkiError::Malformed {
        path: "private key".into(),
        expected: "PKCS#8 private key",
        reason: e.to_string(),
    })?;
    let oid = info.algorithm.oid.to_string();
    Ok(match oid.as_str() {
        "1.2.840.113549.1.1.1" => {
            use rsa::traits::PublicKeyParts;
            let key = rsa::RsaPrivateKey::try_from(info)
                .map_err(|e| PkiError::UnsupportedKey(e.to_string()))?;
            KeyKind::Rsa {
                bits: key.n().bits(),
            }
        }
        "1.2.840.10045.2.1" => {
            let curve = info
                .algorithm
                .parameters_oid()
                .map(|o| curve_name(&o.to_string()))
                .unwrap_or_else(|_| "unknown curve".into());
            KeyKind::Ec { curve }
        }
        other => KeyKind::Other(other.to_string()),
    })
}

/// Whether the PKCS#8 key `pkcs8` is the private half of `cert`'s public key.
pub fn key_matches_cert(pkcs8: &[u8], cert: &CertificateDer<'_>) -> Result<bool> {
    let (_, x) = X509Certificate::from_der(cert.as_ref()).map_err(|e| PkiError::Malformed {
        path: "certificate".into(),
        expected: "X.509 certificate",
        reason: e.to_string(),
    })?;
    let cert_key = &x.public_key().subject_public_key.data;
    match key_algorithm(pkcs8)? {
        KeyKind::Rsa { .. } => {
            use rsa::pkcs1::EncodeRsaPublicKey;
            use rsa::pkcs8::DecodePrivateKey;
            let key = rsa::RsaPrivateKey::from_pkcs8_der(pkcs8)
                .map_err(|e| PkiError::UnsupportedKey(e.to_string()))?;
            let public = key
                .to_public_key()
                .to_pkcs1_der()
                .map_err(|e| PkiError::UnsupportedKey(e.to_string()))?;
            // Compare as integers: encoders differ in leading zeros only if broken,
            // but a byte compare of canonical DER is exact for well-formed input.
            Ok(public.as_bytes() == cert_key.as_ref())
        }
        KeyKind::Ec { curve } => {
            let alg = match curve.as_str() {
                "P-256" => &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                "P-384" => &ring::signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                other => return Err(PkiError::UnsupportedKey(format!("EC curve {other}"))),
            };
            let rng = ring::rand::SystemRandom::new();
            let pair = ring::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8, &rng)
                .map_err(|e| PkiError::UnsupportedKey(format!("EC key: {e}")))?;
            use ring::signature::KeyPair;
            Ok(pair.public_key().as_ref() == cert_key.as_ref())
        }
        KeyKind::Other(oid) => Err(PkiError::UnsupportedKey(format!("key algorithm {oid}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_matching_follows_rfc6125() {
        for (pattern, host, expected) in [
            ("localhost", "LOCALHOST", true),
            ("zowe.example.com.", "zowe.example.com", true),
            ("*.example.com", "gw.example.com", true),
            ("*.example.com", "a.gw.example.com", false),
            ("*.example.com", "example.com", false),
            ("*.com", "example.com", false),
            ("gw*.example.com", "gw1.example.com", false),
            ("example.com", "example.org", false),
        ] {
            assert_eq!(
                dns_name_matches(pattern, host),
                expected,
                "{pattern} vs {host}"
            );
        }
    }

    #[test]
    fn signature_names_flag_weak_hashes() {
        assert_eq!(
            signature_name("1.2.840.113549.1.1.5"),
            ("sha1WithRSAEncryption".into(), true)
        );
        assert_eq!(
            signature_name("1.2.840.113549.1.1.11"),
            ("sha256WithRSAEncryption".into(), false)
        );
        assert!(signature_name("1.2.840.10045.4.1").1);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(CertInfo::parse(&CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01])).is_err());
        assert!(key_algorithm(b"not a key").is_err());
        assert!(key_matches_cert(b"not a key", &CertificateDer::from(vec![0x30])).is_err());
    }
}
