//! Certificates the tests make: leaves issued by the home's local CA or by
//! a CA of the test's own, valid, expired, or for another host name; the
//! server keystore and truststore rewritten as an operator would (written
//! aside, renamed into place); and a rustls client that reports the
//! certificate a server presented.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer, ServerName};
use zgate_pki::{KeyEntry, Keystore, KeystoreParams, Pkcs12Encoding, PrivateKey, Secret};

/// A CA that can issue.
pub struct Ca {
    pub cert: CertificateDer<'static>,
    key: KeyPair,
}

impl Ca {
    /// The home's local CA (`zgate cert init`'s), from its keystore.
    pub fn local(home: &Path) -> Ca {
        let entry = zgate_pki::load_key(&KeystoreParams::Pkcs12 {
            file: home.join("keystore/local_ca/local_ca.keystore.p12"),
            password: Secret::new("local_ca_password"),
            alias: None,
        })
        .unwrap();
        Ca {
            cert: entry.chain[0].clone(),
            key: KeyPair::try_from(entry.key.pkcs8_der()).unwrap(),
        }
    }

    /// A CA of the test's own, trusted by nobody yet.
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        Ca {
            cert: cert.der().clone(),
            key,
        }
    }

    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_ca_cert_der(&self.cert, &self.key).unwrap()
    }

    /// A leaf for `sans` (server and client use), valid from `not_before`
    /// to `not_after` (years), with `serial`.
    pub fn issue(&self, cn: &str, sans: &[&str], serial: u64, years: (i32, i32)) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let sans: Vec<String> = sans.iter().map(|s| (*s).to_owned()).collect();
        let mut params = CertificateParams::new(sans).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.serial_number = Some(SerialNumber::from(serial.to_be_bytes().to_vec()));
        params.not_before = rcgen::date_time_ymd(years.0, 1, 1);
        params.not_after = rcgen::date_time_ymd(years.1, 1, 1);
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let cert = params.signed_by(&key, &self.issuer()).unwrap();
        Leaf {
            cert: cert.der().clone(),
            key: key.serialize_der(),
            ca: self.cert.clone(),
        }
    }

    /// A leaf valid now (from last year to ten years on).
    pub fn issue_current(&self, cn: &str, sans: &[&str], serial: u64) -> Leaf {
        let year = this_year();
        self.issue(cn, sans, serial, (year - 1, year + 10))
    }
}

/// This year, by the system clock.
pub fn this_year() -> i32 {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    1970 + (seconds / 31_556_952) as i32
}

/// An issued certificate and its key.
pub struct Leaf {
    pub cert: CertificateDer<'static>,
    /// PKCS#8.
    pub key: Vec<u8>,
    /// The issuer's certificate.
    pub ca: CertificateDer<'static>,
}

impl Leaf {
    /// The serial as zgate_pki reports it.
    pub fn serial(&self) -> String {
        zgate_pki::x509::CertInfo::parse(&self.cert).unwrap().serial
    }

    /// Writes `<name>.cer` (leaf then issuer) and `<name>.key` (PEM) in
    /// `dir`; their paths.
    pub fn write_pem(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        std::fs::create_dir_all(dir).unwrap();
        let cert = dir.join(format!("{name}.cer"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(
            &cert,
            zgate_pki::store::certs_to_pem(&[self.cert.clone(), self.ca.clone()]),
        )
        .unwrap();
        std::fs::write(&key, PrivateKey::from_pkcs8_der(self.key.clone()).to_pem()).unwrap();
        (cert, key)
    }

    /// The PKCS12 keystore holding it under `alias`.
    pub fn keystore(&self, alias: &str, password: &str) -> Vec<u8> {
        Keystore {
            keys: vec![KeyEntry {
                alias: alias.to_owned(),
                key: PrivateKey::from_pkcs8_der(self.key.clone()),
                chain: vec![self.cert.clone(), self.ca.clone()],
            }],
            trusted: Vec::new(),
        }
        .to_pkcs12(&Secret::new(password), Pkcs12Encoding::Modern)
        .unwrap()
    }
}

/// Replaces `path` with `contents` as an operator's tool does: written
/// aside, then renamed into place.
pub fn replace_file(path: &Path, contents: &[u8]) {
    let aside = path.with_extension("new");
    std::fs::write(&aside, contents).unwrap();
    std::fs::rename(&aside, path).unwrap();
}

/// The home's server keystore.
pub fn server_keystore(home: &Path) -> PathBuf {
    home.join("keystore/localhost/localhost.keystore.p12")
}

/// The home's truststore.
pub fn truststore(home: &Path) -> PathBuf {
    home.join("keystore/localhost/localhost.truststore.p12")
}

/// Puts `leaf` in the home's server keystore (alias `localhost`).
pub fn install_server_certificate(home: &Path, leaf: &Leaf) {
    replace_file(
        &server_keystore(home),
        &leaf.keystore("localhost", "password"),
    );
}

/// Adds `cert` to the home's truststore as `alias`.
pub fn trust(home: &Path, alias: &str, cert: &CertificateDer<'static>) {
    let path = truststore(home);
    let mut store = Keystore::read_pkcs12(&path, &Secret::new("password")).unwrap();
    store.trusted.push(zgate_pki::TrustedEntry {
        alias: alias.to_owned(),
        cert: cert.clone(),
    });
    replace_file(
        &path,
        &store
            .to_pkcs12(&Secret::new("password"), Pkcs12Encoding::Modern)
            .unwrap(),
    );
}

/// A TLS connection to zgate on `localhost:port`, trusting `ca`,
/// optionally presenting `client`; HTTP/1.1 keep-alive requests on it.
pub struct TlsClient {
    stream: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
}

impl TlsClient {
    /// Connects and completes the handshake; `Err` with the TLS error.
    pub fn connect(
        port: u16,
        ca: &CertificateDer<'static>,
        client: Option<&Leaf>,
    ) -> Result<TlsClient, String> {
        TlsClient::connect_with(port, ca, client, rustls::DEFAULT_VERSIONS)
    }

    /// [`TlsClient::connect`] offering only `versions`.
    pub fn connect_with(
        port: u16,
        ca: &CertificateDer<'static>,
        client: Option<&Leaf>,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Result<TlsClient, String> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.clone()).unwrap();
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
        let mut config = match client {
            Some(leaf) => builder
                .with_client_auth_cert(
                    vec![leaf.cert.clone(), leaf.ca.clone()],
                    PrivatePkcs8KeyDer::from(leaf.key.clone()).into(),
                )
                .unwrap(),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let connection = rustls::ClientConnection::new(
            Arc::new(config),
            ServerName::try_from("localhost").unwrap(),
        )
        .unwrap();
        let tcp = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let mut stream = rustls::StreamOwned::new(connection, tcp);
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .map_err(|e| e.to_string())?;
        }
        Ok(TlsClient { stream })
    }

    /// The leaf the server presented.
    pub fn server_certificate(&self) -> CertificateDer<'static> {
        self.stream.conn.peer_certificates().unwrap()[0]
            .clone()
            .into_owned()
    }

    /// The serial of the leaf the server presented.
    pub fn server_serial(&self) -> String {
        zgate_pki::x509::CertInfo::parse(&self.server_certificate())
            .unwrap()
            .serial
    }

    /// `GET path` on this connection (kept alive): the status, or the
    /// error (a refused client certificate shows here under TLS 1.3).
    pub fn get(&mut self, path: &str) -> Result<u16, String> {
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        self.stream
            .write_all(request.as_bytes())
            .map_err(|e| e.to_string())?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match self.stream.read(&mut byte) {
                Ok(0) => return Err("connection closed".into()),
                Ok(_) => head.push(byte[0]),
                Err(e) => return Err(e.to_string()),
            }
        }
        let head = String::from_utf8_lossy(&head).to_string();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("no status in {head}"))?;
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())
                    .flatten()
            })
            .ok_or_else(|| format!("no content-length in {head}"))?;
        let mut body = vec![0u8; length];
        self.stream
            .read_exact(&mut body)
            .map_err(|e| e.to_string())?;
        Ok(status)
    }
}
