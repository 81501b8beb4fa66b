//! Where routing gets PassTickets from: the `auth/ticket` endpoint and the
//! `httpBasicPassTicket` scheme ask the issuer routing was built with (the
//! ESM in this process), so that neither knows the ESM.

use crate::security::Origin;

/// Issues PassTickets for the gateway (the ESM in this process).
pub trait PassTicketIssuer: Send + Sync + 'static {
    /// A PassTicket for `user` and `applid`, generated as the gateway's
    /// server user for a request from `origin` (the generation's check is
    /// recorded with it); `Err` says why (no secrets).
    fn passticket(&self, origin: &Origin, user: &str, applid: &str) -> Result<String, TicketError>;
}

/// Why a PassTicket was not produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// No PTKTDATA profile for the application.
    #[error("no PTKTDATA profile for application {0}")]
    NoProfile(String),
    /// Anything else (not authorized, bad names, store).
    #[error("{0}")]
    Failed(String),
}
