//! Signing and verification keys for gateway JWTs, on `ring` directly.
//!
//! Why not `jsonwebtoken`: its RSA backends are either aws-lc-rs (which we
//! keep out of the tree) or the RustCrypto `rsa` crate, whose private-key
//! operations carry the unfixed Marvin timing advisory (RUSTSEC-2023-0071).
//! `ring` is already in the tree through rustls, signs RSA in constant time,
//! and lets the verifier pick the algorithm from the *key*, never from the
//! token header — which closes `alg: none` and HS256-with-the-public-key by
//! construction rather than by configuration.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{
    self, EcdsaKeyPair, KeyPair as _, RsaKeyPair, RsaPublicKeyComponents, UnparsedPublicKey,
};
use serde::{Deserialize, Serialize};

/// A JWS algorithm zgate signs or verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
}

impl Algorithm {
    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::ES256 => "ES256",
        }
    }
}

/// Why a key could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// Neither an RSA (2048-8192 bit) nor a P-256 PKCS#8 private key.
    #[error(
        "the signing key is neither an RSA (2048 to 8192 bit) nor an EC P-256 PKCS#8 private key"
    )]
    UnsupportedKey,
    /// A JWK that cannot be turned into a verification key.
    #[error("invalid public key: {0}")]
    InvalidPublicKey(&'static str),
    /// Signing failed (should not happen with a valid key).
    #[error("signing failed")]
    Signing,
}

/// A public key that verifies tokens.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKey {
    /// Key id, in every token header and JWK.
    pub kid: String,
    /// The algorithm this key is used with (the only one accepted for it).
    pub alg: Algorithm,
    material: PublicMaterial,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
enum PublicMaterial {
    /// Big-endian modulus and exponent, no leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// Uncompressed SEC1 point `04 || x || y`.
    P256 { point: Vec<u8> },
}

impl PublicKey {
    /// Verifies `signature` over `message` with this key's algorithm.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.material {
            PublicMaterial::Rsa { n, e } => RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok(),
            PublicMaterial::P256 { point } => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
        }
    }

    /// The JWK (RFC 7517) with `kid`, `use: sig` and `alg`.
    pub fn jwk(&self) -> serde_json::Value {
        match &self.material {
            PublicMaterial::Rsa { n, e } => serde_json::json!({
                "kty": "RSA",
                "kid": self.kid,
                "use": "sig",
                "alg": self.alg.name(),
                "n": B64URL.encode(n),
                "e": B64URL.encode(e),
            }),
            PublicMaterial::P256 { point } => {
                let (x, y) = point
                    .get(1..)
                    .unwrap_or_default()
                    .split_at(point.len().saturating_sub(1) / 2);
                serde_json::json!({
                    "kty": "EC",
                    "kid": self.kid,
                    "use": "sig",
                    "alg": self.alg.name(),
                    "crv": "P-256",
                    "x": B64URL.encode(x),
                    "y": B64URL.encode(y),
                })
            }
        }
    }

    /// A key from a JWK as [`PublicKey::jwk`] writes it.
    pub fn from_jwk(jwk: &serde_json::Value) -> Result<PublicKey, KeyError> {
        let field = |name: &'static str| -> Result<&str, KeyError> {
            jwk.get(name)
                .and_then(|v| v.as_str())
                .ok_or(KeyError::InvalidPublicKey(name))
        };
        let bytes = |name: &'static str| -> Result<Vec<u8>, KeyError> {
            B64URL
                .decode(field(name)?)
                .map_err(|_| KeyError::InvalidPublicKey(name))
        };
        let kid = field("kid")?.to_string();
        match field("kty")? {
            "RSA" => Ok(PublicKey {
                kid,
                alg: Algorithm::RS256,
                material: PublicMaterial::Rsa {
                    n: bytes("n")?,
                    e: bytes("e")?,
                },
            }),
            "EC" if field("crv")? == "P-256" => {
                let (x, y) = (bytes("x")?, bytes("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(KeyError::InvalidPublicKey("x/y"));
                }
                let mut point = vec![4u8];
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Ok(PublicKey {
                    kid,
                    alg: Algorithm::ES256,
                    material: PublicMaterial::P256 { point },
                })
            }
            _ => Err(KeyError::InvalidPublicKey("kty")),
        }
    }

    /// SubjectPublicKeyInfo DER.
    pub fn spki_der(&self) -> Vec<u8> {
        match &self.material {
            PublicMaterial::Rsa { n, e } => {
                let rsa_public_key = der_sequence(&[der_uint(n), der_uint(e)]);
                // rsaEncryption, NULL parameters.
                let algorithm = der_sequence(&[
                    der(
                        0x06,
                        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
                    ),
                    der(0x05, &[]),
                ]);
                der_sequence(&[algorithm, der_bit_string(&rsa_public_key)])
            }
            PublicMaterial::P256 { point } => {
                // id-ecPublicKey, prime256v1.
                let algorithm = der_sequence(&[
                    der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]),
                    der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
                ]);
                der_sequence(&[algorithm, der_bit_string(point)])
            }
        }
    }

    /// `-----BEGIN PUBLIC KEY-----` PEM.
    pub fn pem(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(self.spki_der());
        let mut out = String::from("-----BEGIN PUBLIC KEY-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            out.push('\n');
        }
        out.push_str("-----END PUBLIC KEY-----\n");
        out
    }
}

/// The private key the gateway signs tokens with. No `Debug`, no `Clone`.
pub struct SigningKey {
    inner: SigningInner,
    public: PublicKey,
    rng: SystemRandom,
}

enum SigningInner {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

impl SigningKey {
    /// A signing key from a PKCS#8 DER private key: RSA → RS256, P-256 → ES256.
    pub fn from_pkcs8(pkcs8_der: &[u8], kid: impl Into<String>) -> Result<SigningKey, KeyError> {
        let kid = kid.into();
        let rng = SystemRandom::new();
        if let Ok(pair) = RsaKeyPair::from_pkcs8(pkcs8_der) {
            let components: RsaPublicKeyComponents<Vec<u8>> = pair.public().into();
            let (n, e) = (components.n, components.e);
            if pair.public().modulus_len() < 256 {
                return Err(KeyError::UnsupportedKey);
            }
            return Ok(SigningKey {
                inner: SigningInner::Rsa(pair),
                public: PublicKey {
                    kid,
                    alg: Algorithm::RS256,
                    material: PublicMaterial::Rsa { n, e },
                },
                rng,
            });
        }
        if let Ok(pair) =
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8_der, &rng)
        {
            let point = pair.public_key().as_ref().to_vec();
            return Ok(SigningKey {
                inner: SigningInner::Ec(pair),
                public: PublicKey {
                    kid,
                    alg: Algorithm::ES256,
                    material: PublicMaterial::P256 { point },
                },
                rng,
            });
        }
        Err(KeyError::UnsupportedKey)
    }

    /// The matching public key.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// Signs `message` with the key's algorithm.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.inner {
            SigningInner::Rsa(pair) => {
                let mut out = vec![0u8; pair.public().modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &self.rng, message, &mut out)
                    .map_err(|_| KeyError::Signing)?;
                Ok(out)
            }
            SigningInner::Ec(pair) => pair
                .sign(&self.rng, message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| KeyError::Signing),
        }
    }
}

/// A key id derived from the public key: the RFC 7638 JWK thumbprint
/// (SHA-256, base64url). Stable for a key, different for different keys.
pub fn thumbprint_kid(key: &PublicKey) -> String {
    let jwk = key.jwk();
    let canonical = match key.alg {
        Algorithm::RS256 => format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            jwk["e"].as_str().unwrap_or_default(),
            jwk["n"].as_str().unwrap_or_default()
        ),
        Algorithm::ES256 => format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap_or_default(),
            jwk["y"].as_str().unwrap_or_default()
        ),
    };
    B64URL.encode(ring::digest::digest(
        &ring::digest::SHA256,
        canonical.as_bytes(),
    ))
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

fn der_sequence(parts: &[Vec<u8>]) -> Vec<u8> {
    der(0x30, &parts.concat())
}

fn der_uint(be: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(be.len() + 1);
    if be.first().is_some_and(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(be);
    der(0x02, &content)
}

fn der_bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut content = vec![0u8];
    content.extend_from_slice(bytes);
    der(0x03, &content)
}
