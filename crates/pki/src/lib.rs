//! zgate-pki: certificates and keystores for zgate.
//!
//! Generates the PKCS12 scenario of `zwe init certificate` (a local CA and a
//! server certificate in Zowe's directory layout), imports existing PKCS12
//! and PEM material, reads and writes PKCS12 that keytool 17 and OpenSSL 3
//! read (modern PBES2/AES-256/HMAC-SHA256, or legacy 3DES/RC2-40/SHA-1 for
//! GSKit), builds rustls configurations, exposes the server key for JWT
//! signing, and diagnoses certificate setups (the doctor).
//!
//! Architecture invariant: this crate knows nothing about HTTP or YAML, never
//! prints and never exits. It takes typed parameters and returns typed
//! results and [`PkiError`]s. Time is passed in (`now` fields), so expiry
//! logic is exact in tests.
//!
//! # API used by the other crates
//!
//! ```text
//! // TLS (the gateway)
//! pki::tls::server_config(&ServerTlsParams) -> Result<rustls::ServerConfig, PkiError>
//! pki::tls::server_config_with_warnings(&ServerTlsParams)
//!     -> Result<(rustls::ServerConfig, Vec<String>), PkiError>   // configured ciphers not offered, as warnings
//! pki::tls::client_config(&ClientTlsParams, VerifyMode) -> Result<rustls::ClientConfig, PkiError>
//! pki::tls::client_config_with_warnings(&ClientTlsParams, VerifyMode)
//!     -> Result<(rustls::ClientConfig, Vec<String>), PkiError>
//!     params: min_tls, max_tls, ciphers (empty = DEFAULT_CIPHERS), curves (names in CURVES; empty = all)
//!     VerifyMode::Strict | VerifyMode::NonStrict | VerifyMode::dangerous_disabled()
//!     VerifyMode::dangerous_from_setting("NONSTRICT".parse::<VerifySetting>()?)
//!
//! // JWT signing key (auth)
//! pki::signing_key(&KeystoreParams) -> Result<SigningKey, PkiError>
//!     .algorithm() -> JwtAlgorithm::{RS256, ES256}   .pkcs8_der()   .rsa_pkcs1_der()
//!     .certificate_der()   .public_key_spki_der()   .key_id()  // base64url(SHA-256(SPKI))
//!
//! // Setup (the CLI)
//! pki::init(&InitParams) -> Result<InitReport, PkiError>
//! pki::client_cert(&ClientCertParams) -> Result<ClientCertReport, PkiError>
//! pki::import(&ImportParams) -> Result<ImportReport, PkiError>
//! pki::doctor(&DoctorParams) -> Vec<Check>
//! ```
//!
//! Where keys come from: [`KeystoreParams::Pkcs12`] `{ file, password, alias }`
//! (`zowe.certificate.keystore.*`) or [`KeystoreParams::Pem`] `{ key, certificate }`
//! (`zowe.certificate.pem.*`); trust from [`TruststoreParams::Pkcs12`] or
//! [`TruststoreParams::Pem`]. Passwords are [`Secret`], which never prints.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod doctor;
pub mod error;
mod fsutil;
#[doc(hidden)]
pub mod fuzzing;
pub mod generate;
pub mod import;
pub mod issue;
pub mod signing;
pub mod store;
pub mod tls;
pub mod x509;

pub use doctor::{doctor, Check, DoctorParams, Status};
pub use error::{PkiError, Result};
pub use generate::{
    client_cert, init, ClientCertParams, ClientCertReport, Dname, InitParams, InitReport, KeyType,
};
pub use import::{import, ImportParams, ImportReport, ImportSource};
pub use signing::{signing_key, JwtAlgorithm, SigningKey};
pub use store::{
    is_keyring_url, load_key, load_trusted, KeyEntry, Keystore, KeystoreParams, Pkcs12Encoding,
    PrivateKey, Secret, TrustedEntry, TruststoreParams,
};
pub use tls::{
    ClientAuth, ClientTlsParams, ServerTlsParams, TlsMaterial, TlsVersion, VerifyMode,
    VerifySetting,
};
