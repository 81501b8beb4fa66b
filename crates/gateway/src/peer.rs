//! What is known of the other end of a request's connection: its address
//! and the client certificate chain it presented in the TLS handshake. The
//! server inserts both into every request of the connection, whichever
//! parser read it; authentication, the x509 scheme and the audit lines read
//! them from there.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;

/// The client's certificate chain (leaf first), when it sent one.
#[derive(Debug, Clone)]
pub struct PeerCertificates(pub Arc<Vec<CertificateDer<'static>>>);

impl PeerCertificates {
    /// The client's own certificate.
    pub fn leaf(&self) -> Option<&CertificateDer<'static>> {
        self.0.first()
    }
}

/// The client's address.
#[derive(Debug, Clone, Copy)]
pub struct RemoteAddr(pub SocketAddr);
