//! Issuing one certificate from explicit parameters: subject attributes in
//! order, validity, a new key pair of a given algorithm and size, key
//! usage bits, alternative names, CA or not, self-signed or signed by a
//! given certificate and key. What a security manager's "generate
//! certificate" command needs, without any of its concepts.
//!
//! Every certificate gets a subjectKeyIdentifier; one signed by another
//! certificate gets an authorityKeyIdentifier equal to the signer's key
//! identifier.
use std::net::IpAddr;
use std::time::SystemTime;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};

use crate::error::{PkiError, Result};
use crate::store::PrivateKey;

/// The key pair to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewKeySpec {
    /// RSA with a modulus of this many bits (exponent 65537), signed with SHA-256.
    Rsa {
        /// Modulus bits (1024 to 4096).
        bits: usize,
    },
    /// ECDSA on NIST P-256, signed with SHA-256.
    EcP256,
    /// ECDSA on NIST P-384, signed with SHA-384.
    EcP384,
}

/// A subject attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectAttr {
    /// commonName
    CommonName,
    /// title
    Title,
    /// organizationalUnitName
    OrgUnit,
    /// organizationName
    Org,
    /// localityName
    Locality,
    /// stateOrProvinceName
    State,
    /// countryName (PrintableString)
    Country,
}

/// A keyUsage bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUsageBit {
    /// digitalSignature
    DigitalSignature,
    /// nonRepudiation (contentCommitment)
    NonRepudiation,
    /// keyEncipherment
    KeyEncipherment,
    /// dataEncipherment
    DataEncipherment,
    /// keyAgreement
    KeyAgreement,
    /// keyCertSign
    KeyCertSign,
    /// cRLSign
    CrlSign,
}

/// A subject alternative name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AltName {
    /// iPAddress
    Ip(IpAddr),
    /// dNSName
    Dns(String),
    /// rfc822Name
    Email(String),
    /// uniformResourceIdentifier
    Uri(String),
}

/// The certificate and key that sign a new certificate.
pub struct SignerRef<'a> {
    /// The signer's certificate (DER).
    pub cert_der: &'a [u8],
    /// The signer's private key.
    pub key: &'a PrivateKey,
}

/// What [`issue`] makes.
pub struct IssueParams<'a> {
    /// Subject attributes, most significant first (as they appear in DER).
    pub subject: Vec<(SubjectAttr, String)>,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
    /// The new key pair.
    pub key: NewKeySpec,
    /// keyUsage bits (none: no extension).
    pub key_usage: Vec<KeyUsageBit>,
    /// subjectAltName entries.
    pub alt_names: Vec<AltName>,
    /// basicConstraints cA=true.
    pub is_ca: bool,
    /// `None`: self-signed.
    pub signer: Option<SignerRef<'a>>,
}

/// A new certificate and its private key.
pub struct Issued {
    /// The certificate (DER).
    pub cert_der: Vec<u8>,
    /// Its private key (PKCS#8).
    pub key: PrivateKey,
}

fn new_key_pair(spec: NewKeySpec) -> Result<KeyPair> {
    match spec {
        NewKeySpec::Rsa { bits } => {
            if !(1024..=4096).contains(&bits) {
                return Err(PkiError::InvalidInput(format!(
                    "RSA key size {bits} is not between 1024 and 4096"
                )));
            }
            use rsa::pkcs8::EncodePrivateKey;
            let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, bits)
                .map_err(|e| PkiError::Generate(format!("RSA key generation: {e}")))?;
            let der = key
                .to_pkcs8_der()
                .map_err(|e| PkiError::Generate(format!("RSA key encoding: {e}")))?;
            KeyPair::from_pkcs8_der_and_sign_algo(
                &PrivatePkcs8KeyDer::from(der.as_bytes().to_vec()),
                &rcgen::PKCS_RSA_SHA256,
            )
            .map_err(|e| PkiError::Generate(format!("RSA key: {e}")))
        }
        NewKeySpec::EcP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| PkiError::Generate(format!("EC key generation: {e}"))),
        NewKeySpec::EcP384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384)
            .map_err(|e| PkiError::Generate(format!("EC key generation: {e}"))),
    }
}

fn distinguished_name(subject: &[(SubjectAttr, String)]) -> Result<DistinguishedName> {
    let mut dn = DistinguishedName::new();
    let mut units = 0;
    for (attr, value) in subject {
        let ty = match attr {
            SubjectAttr::CommonName => DnType::CommonName,
            SubjectAttr::Title => DnType::CustomDnType(vec![2, 5, 4, 12]),
            // rcgen keeps one value per attribute type, also when it
            // reads a signer's name back: a second unit would be lost or
            // break the chain, so it is refused.
            SubjectAttr::OrgUnit => {
                units += 1;
                if units > 1 {
                    return Err(PkiError::InvalidInput(
                        "one organizational unit (OU) only".into(),
                    ));
                }
                DnType::OrganizationalUnitName
            }
            SubjectAttr::Org => DnType::OrganizationName,
            SubjectAttr::Locality => DnType::LocalityName,
            SubjectAttr::State => DnType::StateOrProvinceName,
            SubjectAttr::Country => DnType::CountryName,
        };
        if *attr == SubjectAttr::Country {
            let printable =
                rcgen::string::PrintableString::try_from(value.as_str()).map_err(|_| {
                    PkiError::InvalidInput(format!("country `{value}` is not printable"))
                })?;
            dn.push(ty, rcgen::DnValue::PrintableString(printable));
        } else {
            dn.push(ty, value.as_str());
        }
    }
    Ok(dn)
}

/// Generates a key pair and a certificate for it.
pub fn issue(params: &IssueParams<'_>) -> Result<Issued> {
    if params.not_before >= params.not_after {
        return Err(PkiError::InvalidInput(
            "the start of validity must be before its end".into(),
        ));
    }
    let mut cp = CertificateParams::default();
    cp.distinguished_name = distinguished_name(&params.subject)?;
    cp.not_before = time::OffsetDateTime::from(params.not_before);
    cp.not_after = time::OffsetDateTime::from(params.not_after);
    cp.serial_number = Some(crate::generate::random_serial()?);
    // `ExplicitNoCa` writes basicConstraints cA=false and, as `Ca`, the
    // subjectKeyIdentifier.
    cp.is_ca = if params.is_ca {
        IsCa::Ca(BasicConstraints::Unconstrained)
    } else {
        IsCa::ExplicitNoCa
    };
    cp.key_usages = params
        .key_usage
        .iter()
        .map(|bit| match bit {
            KeyUsageBit::DigitalSignature => KeyUsagePurpose::DigitalSignature,
            KeyUsageBit::NonRepudiation => KeyUsagePurpose::ContentCommitment,
            KeyUsageBit::KeyEncipherment => KeyUsagePurpose::KeyEncipherment,
            KeyUsageBit::DataEncipherment => KeyUsagePurpose::DataEncipherment,
            KeyUsageBit::KeyAgreement => KeyUsagePurpose::KeyAgreement,
            KeyUsageBit::KeyCertSign => KeyUsagePurpose::KeyCertSign,
            KeyUsageBit::CrlSign => KeyUsagePurpose::CrlSign,
        })
        .collect();
    for name in &params.alt_names {
        let san = match name {
            AltName::Ip(ip) => SanType::IpAddress(*ip),
            AltName::Dns(d) => SanType::DnsName(
                d.as_str()
                    .try_into()
                    .map_err(|_| PkiError::InvalidInput(format!("domain `{d}` is not valid")))?,
            ),
            AltName::Email(e) => SanType::Rfc822Name(
                e.as_str()
                    .try_into()
                    .map_err(|_| PkiError::InvalidInput(format!("email `{e}` is not valid")))?,
            ),
            AltName::Uri(u) => SanType::URI(
                u.as_str()
                    .try_into()
                    .map_err(|_| PkiError::InvalidInput(format!("URI `{u}` is not valid")))?,
            ),
        };
        cp.subject_alt_names.push(san);
    }
    let pair = new_key_pair(params.key)?;
    let cert = match &params.signer {
        None => cp
            .self_signed(&pair)
            .map_err(|e| PkiError::Generate(format!("certificate: {e}")))?,
        Some(signer) => {
            let signer_pair = crate::generate::key_pair_for(signer.key)?;
            let issuer = Issuer::from_ca_cert_der(
                &CertificateDer::from(signer.cert_der.to_vec()),
                &signer_pair,
            )
            .map_err(|e| PkiError::Generate(format!("signer certificate: {e}")))?;
            cp.use_authority_key_identifier_extension = true;
            cp.signed_by(&pair, &issuer)
                .map_err(|e| PkiError::Generate(format!("certificate: {e}")))?
        }
    };
    Ok(Issued {
        cert_der: cert.der().to_vec(),
        key: PrivateKey::from_pkcs8_der(pair.serialize_der()),
    })
}

const ID_SIGNED_DATA: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_DATA: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");

/// The certificates of a "certs-only" PKCS#7 SignedData (DER or PEM
/// `PKCS7`), leaf first, then its issuers.
pub fn pkcs7_certificates(data: &[u8]) -> Result<Vec<Vec<u8>>> {
    use der::{Decode, Encode};
    let malformed = |reason: String| PkiError::Malformed {
        path: "input".into(),
        expected: "PKCS#7 certificate package",
        reason,
    };
    let der_bytes = match pem::parse(data) {
        Ok(block) if block.tag() == "PKCS7" || block.tag() == "CMS" => block.into_contents(),
        _ => data.to_vec(),
    };
    let info = cms::content_info::ContentInfo::from_der(&der_bytes)
        .map_err(|e| malformed(e.to_string()))?;
    if info.content_type != ID_SIGNED_DATA {
        return Err(malformed("not SignedData".into()));
    }
    let signed: cms::signed_data::SignedData = info
        .content
        .decode_as()
        .map_err(|e: der::Error| malformed(e.to_string()))?;
    let mut out = Vec::new();
    for choice in signed.certificates.iter().flat_map(|set| set.0.iter()) {
        if let cms::cert::CertificateChoices::Certificate(cert) = choice {
            out.push(cert.to_der().map_err(|e| malformed(e.to_string()))?);
        }
    }
    if out.is_empty() {
        return Err(malformed("no certificate in it".into()));
    }
    Ok(chain_order(out))
}

/// Certificates of a package leaf first, each followed by its issuer when
/// the package holds it (a SET OF in DER is sorted, not in chain order).
fn chain_order(certs: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let names: Vec<Option<(Vec<u8>, Vec<u8>)>> = certs
        .iter()
        .map(|c| {
            crate::x509::CertInfo::parse(&CertificateDer::from(c.as_slice()))
                .ok()
                .map(|i| (i.subject_raw, i.issuer_raw))
        })
        .collect();
    // The leaf: no other certificate names it as its issuer.
    let issued_by = |i: usize, j: usize| match (&names[i], &names[j]) {
        (Some((_, issuer)), Some((subject, _))) => i != j && issuer == subject,
        _ => false,
    };
    let leaf = (0..certs.len())
        .find(|&j| !(0..certs.len()).any(|i| issued_by(i, j)))
        .unwrap_or(0);
    let mut order = vec![leaf];
    while let Some(&last) = order.last() {
        match (0..certs.len()).find(|&j| !order.contains(&j) && issued_by(last, j)) {
            Some(next) => order.push(next),
            None => break,
        }
    }
    order.extend(
        (0..certs.len())
            .filter(|i| !order.contains(i))
            .collect::<Vec<_>>(),
    );
    order.into_iter().map(|i| certs[i].clone()).collect()
}

/// A "certs-only" PKCS#7 SignedData (DER) holding `certs`, as
/// `openssl crl2pkcs7 -nocrl` writes it.
pub fn pkcs7_of(certs: &[Vec<u8>]) -> Result<Vec<u8>> {
    use der::{Decode, Encode};
    let fail = |e: der::Error| PkiError::Generate(format!("PKCS#7: {e}"));
    let mut choices = Vec::new();
    for c in certs {
        let cert = cms::cert::x509::Certificate::from_der(c).map_err(fail)?;
        choices.push(cms::cert::CertificateChoices::Certificate(cert));
    }
    let signed = cms::signed_data::SignedData {
        version: cms::content_info::CmsVersion::V1,
        digest_algorithms: Default::default(),
        encap_content_info: cms::signed_data::EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: None,
        },
        certificates: Some(cms::signed_data::CertificateSet(
            der::asn1::SetOfVec::try_from(choices).map_err(fail)?,
        )),
        crls: None,
        signer_infos: cms::signed_data::SignerInfos(Default::default()),
    };
    let info = cms::content_info::ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: der::Any::encode_from(&signed).map_err(fail)?,
    };
    info.to_der().map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use x509_parser::prelude::*;

    fn key_ids(der: &[u8]) -> (Option<Vec<u8>>, Option<Vec<u8>>, bool) {
        let (_, x) = X509Certificate::from_der(der).unwrap();
        let mut ski = None;
        let mut aki = None;
        for ext in x.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(k) => ski = Some(k.0.to_vec()),
                ParsedExtension::AuthorityKeyIdentifier(a) => {
                    aki = a.key_identifier.as_ref().map(|k| k.0.to_vec())
                }
                _ => {}
            }
        }
        (ski, aki, x.is_ca())
    }

    fn params(signer: Option<SignerRef<'_>>, is_ca: bool) -> IssueParams<'_> {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        IssueParams {
            subject: vec![
                (SubjectAttr::Country, "CZ".into()),
                (SubjectAttr::OrgUnit, "A".into()),
                (SubjectAttr::CommonName, "x".into()),
            ],
            not_before: now,
            not_after: now + Duration::from_secs(86_400),
            key: NewKeySpec::EcP256,
            key_usage: vec![KeyUsageBit::DigitalSignature],
            alt_names: vec![
                AltName::Ip("10.0.0.1".parse().unwrap()),
                AltName::Dns("host.example".into()),
            ],
            is_ca,
            signer,
        }
    }

    #[test]
    fn a_signed_certificate_names_its_signer_by_key_identifier() {
        let ca = issue(&params(None, true)).unwrap();
        let (ca_ski, ca_aki, ca_is_ca) = key_ids(&ca.cert_der);
        assert!(ca_ski.is_some() && ca_aki.is_none() && ca_is_ca);
        let mut leaf_params = params(
            Some(SignerRef {
                cert_der: &ca.cert_der,
                key: &ca.key,
            }),
            false,
        );
        leaf_params.subject[2] = (SubjectAttr::CommonName, "leaf".into());
        let leaf = issue(&leaf_params).unwrap();
        let (ski, aki, is_ca) = key_ids(&leaf.cert_der);
        assert!(ski.is_some() && !is_ca);
        assert_eq!(aki, ca_ski);
        assert!(crate::x509::CertInfo::signed_by(
            &CertificateDer::from(leaf.cert_der.clone()),
            &CertificateDer::from(ca.cert_der.clone())
        ));
        let p7 = pkcs7_of(&[leaf.cert_der.clone(), ca.cert_der.clone()]).unwrap();
        assert_eq!(
            pkcs7_certificates(&p7).unwrap(),
            vec![leaf.cert_der, ca.cert_der]
        );
    }

    #[test]
    fn an_empty_validity_and_odd_sizes_are_refused() {
        let mut p = params(None, false);
        p.not_after = p.not_before;
        assert!(issue(&p).is_err());
        let mut p = params(None, false);
        p.key = NewKeySpec::Rsa { bits: 512 };
        assert!(issue(&p).is_err());
        assert!(pkcs7_certificates(b"not pkcs7").is_err());
        let mut p = params(None, false);
        p.subject.push((SubjectAttr::OrgUnit, "B".into()));
        assert!(issue(&p).is_err(), "a second OU is refused, not dropped");
    }
}
