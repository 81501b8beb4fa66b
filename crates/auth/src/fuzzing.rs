//! Entry points for the fuzz targets in `fuzz/` and the corpus replay test:
//! each takes arbitrary bytes, must never panic, and returns nothing.

use std::sync::Arc;

use crate::keys::SigningKey;
use crate::pat::{MemoryPatStore, PatService};
use crate::ring_file::KeyRing;
use crate::tokens::{MemoryRevocationStore, TokenService, TokenSettings};
use zgate_base::ManualClock;

/// A fixed ES256 key (PKCS#8, hex): the corpus holds tokens it signed, so a
/// run reaches the claims checks behind the signature, not only the shape
/// checks in front of it.
const FUZZ_KEY_PKCS8: &str = "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b02010104202ad08a0eabda6b9dcd9f1266946fd34182fd4cdc62d779dc40ce9226996f76bea14403420004df9f276e3755ea2fcd466fcb57ebab791d0fc46a964a922ce66132cb488df761e068273a6b5c9868b2b2872408946dd541406a7f21a0eb7181158e380caeda3e";

/// The key id the corpus tokens name.
pub const FUZZ_KID: &str = "fuzz";

/// The fixed time the services see (ms): the corpus tokens were issued at
/// it, so they are neither expired nor from the future.
pub const FUZZ_NOW_MS: i64 = 1_790_000_000_000;

/// A token service and a PAT service over the fixed key and clock, built
/// fresh for each input so that no verification cache carries one input's
/// result into the next (runs stay reproducible).
pub fn services() -> Option<(Arc<TokenService>, PatService)> {
    let der = hex::decode(FUZZ_KEY_PKCS8).ok()?;
    let key = SigningKey::from_pkcs8(&der, FUZZ_KID).ok()?;
    let tokens = Arc::new(
        TokenService::new(
            KeyRing::new(key),
            Arc::new(ManualClock::new(FUZZ_NOW_MS)),
            TokenSettings {
                lifetime_seconds: 8 * 3600,
                domain: "security-domain".into(),
            },
            Arc::new(MemoryRevocationStore::default()),
        )
        .ok()?,
    );
    let pats = PatService::new(tokens.clone(), Arc::new(MemoryPatStore::default()));
    Some((tokens, pats))
}

/// A bearer token as a client sends it: gateway JWT, PAT or SAF IDT.
pub fn jwt(data: &[u8]) {
    let token = String::from_utf8_lossy(data);
    let Some((tokens, pats)) = services() else {
        return;
    };
    // Twice: the second verification is served from the cache.
    let _ = tokens.verify(&token);
    let _ = tokens.verify(&token);
    if tokens.revoke(&token).is_ok() {
        let _ = tokens.verify(&token);
    }
    let _ = pats.verify(&token);
    let _ = pats.validate(&token, "zosmf");
    if pats.revoke(&token).is_ok() {
        let _ = pats.verify(&token);
    }
    let _ = tokens.verify_saf_idt(&token, None);
    let _ = tokens.verify_saf_idt(&token, Some("ZOWEAPPL"));
}
