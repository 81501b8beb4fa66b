//! OpenID Connect: the provider's access tokens as credentials
//! ([`provider`]), the requests to the provider that takes ([`fetch`]), and
//! zgate as the provider's client, the browser's authorization-code login
//! ([`login`]).
//! The files form layers: `fetch` imports nothing of the gateway;
//! `provider` imports `fetch`; `login` is an endpoint module (beside
//! `auth_routes`, whose session cookie it sets) and nothing imports it but
//! the edge's map of URLs.

pub mod fetch;
pub mod login;
pub mod provider;
