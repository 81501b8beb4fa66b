//! Building the routing from the configuration, and the first-start setup
//! of the gateway's server user for PassTickets.
//!
//! The gateway generates PassTickets as its server user [`SERVER_USER`]
//! (`ZWESVUSR`, Zowe's default started-task user). On a new ESM,
//! [`bootstrap_server_user`] defines it (PROTECTED: no password), activates
//! `PTKTDATA` with generic profiles and permits it UPDATE on
//! `IRRPTAUTH.**`; an administrator then only defines each application's
//! `RDEFINE PTKTDATA <applid> SSIGNON(KEYMASKED(...))`.

use std::sync::Arc;
use std::time::Duration;

use zgate_config::{Config, VerifyCertificates};
use zgate_esm::GenerateError;
use zgate_esm::{Esm, Issuer};
use zgate_pki as pki;

use super::{DefinitionErrors, PassTicketIssuer, Routing, RoutingSettings, TicketError};
use crate::bootstrap::{client_tls_params, keystore_params};

/// The identity PassTickets are generated as.
pub const SERVER_USER: &str = "ZWESVUSR";

/// The first-start commands for the server user.
pub const SERVER_USER_SETUP: [&str; 4] = [
    "ADDUSER ZWESVUSR DFLTGRP(SYS1) NOPASSWORD NAME('ZGATE SERVER')",
    "SETROPTS CLASSACT(PTKTDATA) GENERIC(PTKTDATA)",
    "RDEFINE PTKTDATA IRRPTAUTH.** UACC(NONE)",
    "PERMIT IRRPTAUTH.** CLASS(PTKTDATA) ID(ZWESVUSR) ACCESS(UPDATE)",
];

/// Runs [`SERVER_USER_SETUP`] as one transaction (first start only).
pub fn bootstrap_server_user(esm: &Esm) -> Result<(), zgate_esm::CommandError> {
    let commands: Vec<String> = SERVER_USER_SETUP.iter().map(|c| (*c).to_owned()).collect();
    esm.run_atomic(&Issuer::Operator, &commands)
        .map(|_| ())
        .map_err(|(_, e)| e)
}

/// PassTickets from the ESM in this process, as [`SERVER_USER`].
pub struct EsmTickets(pub Arc<Esm>);

impl PassTicketIssuer for EsmTickets {
    fn passticket(
        &self,
        origin: &zgate_audit::Origin,
        user: &str,
        applid: &str,
    ) -> Result<String, TicketError> {
        match self
            .0
            .generate_passticket_from(origin, SERVER_USER, user, applid)
        {
            Ok(t) => Ok(t.as_str().to_owned()),
            Err(GenerateError::NoProfile(a)) => Err(TicketError::NoProfile(a)),
            Err(e) => Err(TicketError::Failed(e.to_string())),
        }
    }
}

/// Why routing could not be built.
#[derive(Debug, thiserror::Error)]
pub enum RoutingSetupError {
    /// Bad service definitions.
    #[error("service definitions:\n{0}")]
    Definitions(#[from] DefinitionErrors),
    /// `zowe.network.client.tls` names what the TLS library cannot do.
    #[error("zowe.network.client.tls: {0}")]
    ClientTls(pki::PkiError),
}

/// How the gateway reaches `https` services: `zowe.network.client.tls`
/// with the truststore and, to present when asked, the gateway's own
/// certificate (the x509 scheme), verified as `zowe.verifyCertificates`
/// says.
pub fn upstream_tls(config: &Config) -> (pki::ClientTlsParams, pki::tls::VerifyMode) {
    let mode = match config.verify_certificates {
        VerifyCertificates::Strict => pki::tls::VerifyMode::Strict,
        VerifyCertificates::NonStrict => pki::tls::VerifyMode::NonStrict,
        VerifyCertificates::Disabled => pki::tls::VerifyMode::dangerous_disabled(),
    };
    let mut params = client_tls_params(config);
    params.client_cert = keystore_params(config).ok();
    (params, mode)
}

/// The routing for `config`: TLS to services per `zowe.verifyCertificates`
/// and `zowe.network.client.tls`; the certificates services present are
/// noted in `certificates`.
pub fn routing(
    config: &Config,
    esm: Arc<Esm>,
    certificates: Option<Arc<crate::metrics::TlsStatus>>,
) -> Result<Arc<Routing>, RoutingSetupError> {
    let (params, mode) = upstream_tls(config);
    let client_tls = match pki::tls::client_config_with_warnings(&params, mode) {
        Ok((c, warnings)) => {
            for warning in warnings {
                tracing::warn!("zowe.network.client.tls: {warning}");
            }
            Some(Arc::new(c))
        }
        // Settings no connection could be made with refuse the start, as
        // the server's do.
        Err(
            error @ (pki::PkiError::UnsupportedCurves { .. } | pki::PkiError::NoUsableCipherSuite),
        ) => return Err(RoutingSetupError::ClientTls(error)),
        // The stores may be missing or unreadable: plain `http` services
        // are still served.
        Err(error) => {
            tracing::warn!(%error, "no TLS to https services");
            None
        }
    };
    let settings = RoutingSettings {
        services_directory: config.services_directory.clone(),
        per_service_authorization: config.services_authorization,
        client_tls,
        health_interval: Duration::from_secs(5),
        certificates,
        ..RoutingSettings::default()
    };
    Ok(Routing::new(settings, Some(Arc::new(EsmTickets(esm))))?)
}
