//! The one error type of the crate. Every variant's message is a sentence a
//! user can act on; the CLI prints it as is.
use std::path::PathBuf;

/// What went wrong in a certificate or keystore operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A file or directory could not be written.
    #[error("cannot write {path}: {source}; check that the directory exists and is writable")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The PKCS12 MAC did not verify: the password is wrong (or the file was altered).
    #[error("wrong password for keystore {path} (its integrity check failed with the password given); check the configured password, and quote it in shell commands if it contains `$`")]
    WrongPassword {
        /// The keystore.
        path: PathBuf,
    },
    /// The file is not something we can parse as the expected format.
    #[error("{path} is not a valid {expected}: {reason}")]
    Malformed {
        /// The file (or a description of the input).
        path: PathBuf,
        /// What it should have been, e.g. "PKCS12 keystore".
        expected: &'static str,
        /// What the parser said.
        reason: String,
    },
    /// The keystore has no private-key entry under that alias.
    #[error(
        "keystore {path} has no private key under alias `{alias}`; aliases with keys: {available}"
    )]
    AliasNotFound {
        /// The keystore.
        path: PathBuf,
        /// The alias asked for.
        alias: String,
        /// The aliases that do hold keys, comma-separated (or "none").
        available: String,
    },
    /// The private key does not belong to the certificate.
    #[error("the private key does not match the certificate `{subject}`; use the key that was generated with this certificate's request")]
    KeyMismatch {
        /// Subject of the certificate.
        subject: String,
    },
    /// The certificate is outside its validity period at the time given.
    #[error("the certificate `{subject}` is not valid now (valid from {not_before} to {not_after}, seconds since the epoch); use a current certificate")]
    NotValidNow {
        /// Subject of the certificate.
        subject: String,
        /// notBefore, seconds since the epoch.
        not_before: i64,
        /// notAfter, seconds since the epoch.
        not_after: i64,
    },
    /// A key type or size we cannot use.
    #[error("unsupported key: {0}")]
    UnsupportedKey(String),
    /// Cipher suite names that the TLS library does not offer.
    #[error("cipher suites not supported by zgate's TLS library: {}; remove them from the cipher list (TLS 1.2 CBC suites are not offered)", names.join(", "))]
    UnsupportedCipherSuites {
        /// The IANA names that are unknown or not offered.
        names: Vec<String>,
    },
    /// No configured cipher suite works with the configured TLS versions.
    #[error("no usable cipher suite for the configured TLS versions; add a TLS 1.3 suite such as TLS_AES_128_GCM_SHA256 or a TLS 1.2 GCM suite")]
    NoUsableCipherSuite,
    /// Key exchange group (`curves`) names that the TLS library does not offer.
    #[error("curves not offered by zgate's TLS library: {}; remove them from the curve list (zgate offers x25519, secp256r1 (prime256v1, P-256) and secp384r1 (P-384))", names.join(", "))]
    UnsupportedCurves {
        /// The names as configured.
        names: Vec<String>,
    },
    /// A TLS configuration that cannot be built.
    #[error("TLS configuration error: {0}")]
    Tls(String),
    /// A z/OS keyring URL, which only exists on z/OS.
    #[error("{url} names a z/OS keyring, which can only be opened on z/OS; export the key and certificates to PKCS12 (RACDCERT EXPORT) and configure keystore.type PKCS12")]
    Keyring {
        /// The `safkeyring://` URL.
        url: String,
    },
    /// Output exists and --force was not given.
    #[error("{path} already exists; use --force to replace it")]
    AlreadyExists {
        /// The existing file or directory.
        path: PathBuf,
    },
    /// Inputs that contradict each other or are missing.
    #[error("{0}")]
    InvalidInput(String),
    /// Certificate generation failed.
    #[error("certificate generation failed: {0}")]
    Generate(String),
    /// A network operation (the doctor's live handshake) failed.
    #[error("cannot connect to {target}: {reason}")]
    Connect {
        /// host:port
        target: String,
        /// Why.
        reason: String,
    },
}

/// Short for `Result<T, PkiError>`.
pub type Result<T> = std::result::Result<T, PkiError>;
