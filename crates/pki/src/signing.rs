//! The server key as a JWT signing key: the gateway signs tokens with the
//! same key pair that identifies it in TLS, as API ML does.
use std::fmt;

use base64::Engine;
use rustls::pki_types::CertificateDer;

use crate::error::{PkiError, Result};
use crate::store::{load_key, KeystoreParams, PrivateKey};
use crate::x509::{CertInfo, KeyKind};

/// JWS algorithm of a signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RSA keys of at least 2048 bits).
    RS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
}

impl JwtAlgorithm {
    /// The JWS `alg` value.
    pub fn as_str(self) -> &'static str {
        match self {
            JwtAlgorithm::RS256 => "RS256",
            JwtAlgorithm::ES256 => "ES256",
        }
    }

    /// The algorithm a key of this kind signs with, or why it cannot.
    pub fn for_key(kind: &KeyKind) -> std::result::Result<Self, String> {
        match kind {
            KeyKind::Rsa { bits } if *bits >= 2048 => Ok(JwtAlgorithm::RS256),
            KeyKind::Rsa { bits } => Err(format!(
                "RSA {bits}-bit is too small for RS256 (needs 2048 or more)"
            )),
            KeyKind::Ec { curve } if curve == "P-256" => Ok(JwtAlgorithm::ES256),
            KeyKind::Ec { curve } => Err(format!(
                "EC {curve} has no JWT algorithm zgate uses (ES256 needs P-256)"
            )),
            KeyKind::Other(oid) => Err(format!("key algorithm {oid} cannot sign RS256 or ES256")),
        }
    }
}

/// The JWT signing key. Holds the private key: no `Debug` of the secret part.
#[derive(Clone)]
pub struct SigningKey {
    key: PrivateKey,
    algorithm: JwtAlgorithm,
    chain: Vec<CertificateDer<'static>>,
    spki_der: Vec<u8>,
    key_id: String,
}

impl SigningKey {
    /// PKCS#8 DER of the private key (for `ring`, or jsonwebtoken's `from_ec_der`).
    pub fn pkcs8_der(&self) -> &[u8] {
        self.key.pkcs8_der()
    }

    /// PKCS#1 `RSAPrivateKey` DER for RSA keys (jsonwebtoken's
    /// `EncodingKey::from_rsa_der` wants this form); `None` for EC keys.
    pub fn rsa_pkcs1_der(&self) -> Option<Vec<u8>> {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::pkcs8::DecodePrivateKey;
        if self.algorithm != JwtAlgorithm::RS256 {
            return None;
        }
        let key = rsa::RsaPrivateKey::from_pkcs8_der(self.key.pkcs8_der()).ok()?;
        key.to_pkcs1_der().ok().map(|d| d.as_bytes().to_vec())
    }

    /// Unencrypted PKCS#8 PEM of the private key.
    pub fn private_key_pem(&self) -> String {
        self.key.to_pem()
    }

    /// RS256 or ES256.
    pub fn algorithm(&self) -> JwtAlgorithm {
        self.algorithm
    }

    /// The certificate (DER) of the key.
    pub fn certificate_der(&self) -> &CertificateDer<'static> {
        &self.chain[0]
    }

    /// The certificate chain, leaf first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// DER SubjectPublicKeyInfo of the public key.
    pub fn public_key_spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// PEM (`BEGIN PUBLIC KEY`) of the public key.
    pub fn public_key_pem(&self) -> String {
        pem::encode(&pem::Pem::new("PUBLIC KEY", self.spki_der.clone()))
    }

    /// Stable key id: base64url (no padding) of SHA-256 over the SPKI DER.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Load the server key for JWT signing from the keystore (or PEM files).
pub fn signing_key(params: &KeystoreParams) -> Result<SigningKey> {
    let entry = load_key(params)?;
    let leaf = entry.chain.first().ok_or_else(|| {
        PkiError::InvalidInput(format!("key entry `{}` has no certificate", entry.alias))
    })?;
    let info = CertInfo::parse(leaf)?;
    if !crate::x509::key_matches_cert(entry.key.pkcs8_der(), leaf)? {
        return Err(PkiError::KeyMismatch {
            subject: info.subject,
        });
    }
    let algorithm = JwtAlgorithm::for_key(&info.key).map_err(PkiError::UnsupportedKey)?;
    let digest = ring::digest::digest(&ring::digest::SHA256, &info.spki_der);
    let key_id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    Ok(SigningKey {
        key: entry.key,
        algorithm,
        chain: entry.chain,
        spki_der: info.spki_der,
        key_id,
    })
}
