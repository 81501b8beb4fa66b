//! `zgate cert import`: bring an existing server key (PKCS12 entry, or PEM
//! key + chain) and CA certificates into zgate's layout
//! (`<dir>/<name>/<name>.keystore.p12`, `.truststore.p12`, `.cer`, `.key`,
//! and one `<alias>.cer` per CA). The key is checked against the
//! certificate before anything is written; the output directory appears
//! whole or not at all.
use std::path::PathBuf;

use rustls::pki_types::CertificateDer;

use crate::error::{PkiError, Result};
use crate::fsutil::{self, Staging, PUBLIC_FILE_MODE, SECRET_FILE_MODE};
use crate::store::{
    certs_to_pem, read_certs, read_private_key, KeyEntry, Keystore, Pkcs12Encoding, Secret,
    TrustedEntry,
};
use crate::x509::{key_matches_cert, CertInfo};

/// Where the key comes from.
#[derive(Debug, Clone)]
pub enum ImportSource {
    /// A PKCS12 keystore entry (`pkcs12.import.{keystore,password,alias}`).
    Pkcs12 {
        /// The keystore.
        file: PathBuf,
        /// Its password.
        password: Secret,
        /// The key alias; `None` takes the only key entry.
        alias: Option<String>,
    },
    /// PEM files.
    Pem {
        /// The private key (PKCS#8 or PKCS#1).
        key: PathBuf,
        /// The certificate chain, leaf first.
        chain: PathBuf,
    },
}

/// Inputs of [`import`].
#[derive(Debug, Clone)]
pub struct ImportParams {
    /// `pkcs12.directory`.
    pub dir: PathBuf,
    /// `pkcs12.name`: output directory and file prefix (default `localhost`).
    pub name: String,
    /// Secret of the written keystore and truststore (`pkcs12.password`).
    pub password: Secret,
    /// The key to import.
    pub source: ImportSource,
    /// More CA certificates (PEM/DER files) to trust.
    pub cas: Vec<PathBuf>,
    /// Legacy PKCS12 encryption.
    pub legacy_pkcs12: bool,
    /// Replace an existing `<dir>/<name>`.
    pub force: bool,
    /// Directories 0700 and every file 0600.
    pub lock: bool,
}

/// What [`import`] wrote.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// The new keystore (`keystore.file`).
    pub keystore: PathBuf,
    /// The new truststore (`truststore.file`).
    pub truststore: PathBuf,
    /// The leaf certificate, PEM (`pem.certificate`).
    pub cert_pem: PathBuf,
    /// The key, PKCS#8 PEM, 0600 (`pem.key`).
    pub key_pem: PathBuf,
    /// One PEM per trusted CA (`pem.certificateAuthorities`).
    pub ca_pems: Vec<PathBuf>,
    /// The key alias in the new keystore (`keystore.alias`).
    pub alias: String,
    /// Subject of the imported certificate.
    pub subject: String,
    /// Aliases of the trusted CAs, in order (`extca1`, ...).
    pub trusted_aliases: Vec<String>,
}

/// Import a server key and CAs.
pub fn import(params: &ImportParams) -> Result<ImportReport> {
    if params.name.is_empty() || params.name.contains(['/', '\\']) || params.name.starts_with('.') {
        return Err(PkiError::InvalidInput(format!(
            "pkcs12.name `{}` cannot be used as a directory name",
            params.name
        )));
    }
    if params.password.expose().chars().count() < 6 {
        return Err(PkiError::InvalidInput(
            "pkcs12.password must have at least 6 characters (keytool refuses shorter PKCS12 passwords)".into(),
        ));
    }
    let name = params.name.to_ascii_lowercase();
    let target = params.dir.join(&name);
    if target.exists() && !params.force {
        return Err(PkiError::AlreadyExists { path: target });
    }

    let (alias, key, chain, mut cas) = match &params.source {
        ImportSource::Pkcs12 {
            file,
            password,
            alias,
        } => {
            let store = Keystore::read_pkcs12(file, password)?;
            let entry = store.key_for(file, alias.as_deref())?;
            let cas: Vec<CertificateDer<'static>> = store.trusted_certs().cloned().collect();
            (
                entry.alias.to_ascii_lowercase(),
                entry.key.clone(),
                entry.chain.clone(),
                cas,
            )
        }
        ImportSource::Pem { key, chain } => {
            let key = read_private_key(key)?;
            let chain = read_certs(chain)?;
            (name.clone(), key, chain, Vec::new())
        }
    };
    let leaf = chain
        .first()
        .ok_or_else(|| PkiError::InvalidInput("the key has no certificate".into()))?
        .clone();
    let leaf_info = CertInfo::parse(&leaf)?;
    if !key_matches_cert(key.pkcs8_der(), &leaf)? {
        return Err(PkiError::KeyMismatch {
            subject: leaf_info.subject,
        });
    }
    // CAs: the chain above the leaf, the source's trusted entries, then the
    // files given; a self-signed leaf with no CA trusts itself.
    let mut all_cas: Vec<CertificateDer<'static>> = chain.iter().skip(1).cloned().collect();
    all_cas.append(&mut cas);
    for file in &params.cas {
        all_cas.extend(read_certs(file)?);
    }
    if all_cas.is_empty() && leaf_info.is_self_issued() {
        all_cas.push(leaf.clone());
    }
    let mut unique: Vec<CertificateDer<'static>> = Vec::new();
    for cert in all_cas {
        if !unique.contains(&cert) {
            unique.push(cert);
        }
    }
    let trusted: Vec<TrustedEntry> = unique
        .iter()
        .enumerate()
        .map(|(i, cert)| TrustedEntry {
            alias: format!("extca{}", i + 1),
            cert: cert.clone(),
        })
        .collect();

    let encoding = if params.legacy_pkcs12 {
        Pkcs12Encoding::Legacy
    } else {
        Pkcs12Encoding::Modern
    };
    let keystore = Keystore {
        keys: vec![KeyEntry {
            alias: alias.clone(),
            key: key.clone(),
            chain: chain.clone(),
        }],
        trusted: trusted.clone(),
    };
    let truststore = Keystore {
        keys: Vec::new(),
        trusted: trusted.clone(),
    };
    let (dir_mode, public_mode) = if params.lock {
        (0o700, SECRET_FILE_MODE)
    } else {
        (0o755, PUBLIC_FILE_MODE)
    };
    let staging = Staging::new(&params.dir)?;
    let out = staging.dir(&name, dir_mode)?;
    fsutil::write_file(
        &out.join(format!("{name}.keystore.p12")),
        &keystore.to_pkcs12(&params.password, encoding)?,
        SECRET_FILE_MODE,
    )?;
    fsutil::write_file(
        &out.join(format!("{name}.truststore.p12")),
        &truststore.to_pkcs12(&params.password, encoding)?,
        public_mode,
    )?;
    fsutil::write_file(
        &out.join(format!("{name}.cer")),
        certs_to_pem(std::slice::from_ref(&leaf)).as_bytes(),
        public_mode,
    )?;
    fsutil::write_file(
        &out.join(format!("{name}.key")),
        key.to_pem().as_bytes(),
        SECRET_FILE_MODE,
    )?;
    let mut ca_pems = Vec::new();
    for entry in &trusted {
        let file = format!("{}.cer", entry.alias);
        fsutil::write_file(
            &out.join(&file),
            certs_to_pem(std::slice::from_ref(&entry.cert)).as_bytes(),
            public_mode,
        )?;
        ca_pems.push(target.join(file));
    }
    staging.commit(&[&name], params.force)?;

    Ok(ImportReport {
        keystore: target.join(format!("{name}.keystore.p12")),
        truststore: target.join(format!("{name}.truststore.p12")),
        cert_pem: target.join(format!("{name}.cer")),
        key_pem: target.join(format!("{name}.key")),
        ca_pems,
        alias,
        subject: leaf_info.subject,
        trusted_aliases: trusted.into_iter().map(|t| t.alias).collect(),
    })
}
