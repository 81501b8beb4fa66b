//! Removing request and response headers by name: the edge drops forged
//! identity headers, routing drops hop-by-hop headers and every inbound
//! credential.

use http::{HeaderMap, HeaderName};

/// Every `x-certificate-*` header (API ML's certificate headers and any
/// variant of them a client might try).
pub(crate) fn is_certificate_header(name: &HeaderName) -> bool {
    name.as_str().starts_with("x-certificate-")
}

/// Removes the headers `doomed` names. One pass over the names present
/// (most requests have none to remove) rather than a lookup per candidate.
pub(crate) fn remove_headers(headers: &mut HeaderMap, doomed: impl Fn(&HeaderName) -> bool) {
    let found: Vec<HeaderName> = headers.keys().filter(|n| doomed(n)).cloned().collect();
    for name in found {
        headers.remove(name);
    }
}
