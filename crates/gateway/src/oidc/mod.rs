//! OpenID Connect: the provider's access tokens as credentials
//! ([`provider`]), and the requests to the provider that takes ([`fetch`]).
//! The files form layers: `fetch` imports nothing of the gateway;
//! `provider` imports `fetch`.

pub mod fetch;
pub mod provider;
