//! Entry points for the fuzz targets in `fuzz/` and the corpus replay test:
//! each takes arbitrary bytes, must never panic, and returns nothing.

use std::path::Path;

use rustls::pki_types::CertificateDer;

use crate::store::{parse_certs, parse_private_key, Keystore, Secret};
use crate::x509::{key_algorithm, key_matches_cert, CertInfo};

/// The passwords of the Zowe sample keystores the corpus starts from; a
/// wrong one stops at the MAC, so both are tried to get past it.
const PASSWORDS: [&str; 2] = ["password", "local_ca_password"];

/// What zgate reads of a certificate: every field `CertInfo` inspects and
/// the checks the doctor and the TLS set-up make with it.
fn inspect(cert: &CertificateDer<'_>) {
    if let Ok(info) = CertInfo::parse(cert) {
        let _ = info.is_self_issued();
        let _ = info.covers_host("localhost");
        let _ = info.covers_host("zowe.example.com");
        let _ = info.eku_ok_for_zowe();
    }
}

fn inspect_chain(chain: &[CertificateDer<'_>]) {
    for cert in chain {
        inspect(cert);
    }
    for pair in chain.windows(2) {
        let _ = CertInfo::signed_by(&pair[0], &pair[1]);
    }
}

/// A PKCS#12 keystore or truststore, read as `zgate` reads one, then every
/// key and certificate in it inspected.
pub fn pkcs12(data: &[u8]) {
    let origin = Path::new("fuzz.p12");
    for password in PASSWORDS {
        let Ok(store) = Keystore::from_pkcs12(data, &Secret::new(password), origin) else {
            continue;
        };
        let _ = store.key_aliases();
        let _ = store.key_for(origin, None);
        for entry in &store.keys {
            let key = entry.key.pkcs8_der();
            let _ = key_algorithm(key);
            let _ = entry.key.to_pem();
            if let Some(leaf) = entry.chain.first() {
                let _ = key_matches_cert(key, leaf);
            }
            inspect_chain(&entry.chain);
        }
        for cert in store.trusted_certs() {
            inspect(cert);
        }
    }
}

/// A PEM (or DER) file given as a certificate chain or as a private key:
/// the certificates, the key, and whether the key belongs to the leaf.
pub fn pem(data: &[u8]) {
    let origin = Path::new("fuzz.pem");
    let certs = parse_certs(data, origin).unwrap_or_default();
    inspect_chain(&certs);
    if let Ok(key) = parse_private_key(data, origin) {
        let _ = key_algorithm(key.pkcs8_der());
        if let Some(leaf) = certs.first() {
            let _ = key_matches_cert(key.pkcs8_der(), leaf);
        }
    }
}
