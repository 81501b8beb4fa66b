//! zgate-gateway: the HTTP surface. The TLS server, the API ML authentication
//! endpoints, error mapping, metrics and health.
//!
//! Thin by design: handlers translate HTTP into calls on `zgate-auth` (tokens)
//! and a [`SecurityManager`] (the ESM) and back.
//!
//! Architecture invariants:
//! - every error answer is produced by [`error::ApiError::render`], nowhere else;
//! - a handler that needs an authenticated caller takes a proof type from
//!   [`extract`] ([`AuthenticatedToken`], or [`extract::Permitted`] whose
//!   requirement type names the credentials and SAF access it needs);
//! - nothing routes on a raw request target: the edge normalizes it first
//!   ([`target`]);
//! - no header or body is ever logged (they carry passwords and tokens);
//! - a request is authenticated in ONE place, [`extract::authenticate_request`]
//!   (JWT or PAT in cookie/Bearer, PAT cookie/`PRIVATE-TOKEN`, Basic with an
//!   optional TOTP code, mapped client certificate); a PAT is usable only for
//!   the services in its scopes ([`Authenticated::allows_service`]; the
//!   gateway's own endpoints are service `gateway`).
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod audit;
pub mod auth_routes;
pub mod bootstrap;
pub mod error;
pub mod esm_adapter;
pub mod extract;
#[doc(hidden)]
pub mod fuzzing;
pub mod h1;
mod headers;
pub mod key_rings;
pub mod metrics;
pub mod oidc;
pub mod ops_routes;
pub mod pat_routes;
pub mod peer;
pub mod routes;
pub mod routing;
pub mod security;
pub mod server;
pub mod state;
pub mod target;
pub mod tls_reload;
mod wire;

pub use error::ApiError;
pub use extract::{Authenticated, AuthenticatedToken};
pub use routes::{router, Gateway};
pub use security::{
    AccessLevel, AuthOutcome, BackendError, Conditions, IdentityOutcome, Origin, Secret,
    SecurityManager,
};
pub use state::{AppState, Settings};
