//! Shared helpers for the ESM's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

pub use zgate_base::ManualClock;
use zgate_esm::{Esm, EsmConfig, HashCost, Issuer};

/// Moves a test clock by whole days.
pub fn advance_days(clock: &ManualClock, days: i64) {
    clock.advance_ms(days * 86_400_000);
}

/// A fresh ESM in a temporary home (cheap hash cost), with its clock.
pub fn fresh() -> (tempfile::TempDir, Esm, Arc<ManualClock>) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_790_000_000_000));
    let esm = Esm::open_with(
        dir.path(),
        EsmConfig {
            clock: clock.clone(),
            hash_cost: HashCost::TEST_ONLY,
            ..EsmConfig::default()
        },
    )
    .unwrap();
    (dir, esm, clock)
}

/// Another process's ESM on the same home.
pub fn open(home: &std::path::Path) -> Esm {
    Esm::open_with(
        home,
        EsmConfig {
            hash_cost: HashCost::TEST_ONLY,
            ..EsmConfig::default()
        },
    )
    .unwrap()
}

/// Runs commands (one per line, `#` comments allowed), panicking with the
/// RACF message on failure.
pub fn run(esm: &Esm, commands: &str) {
    for cmd in zgate_esm::split_batch(commands).unwrap() {
        if let Err(e) = esm.run_command(&Issuer::Operator, &cmd.text) {
            panic!("setup command `{}` failed: {e}", cmd.text);
        }
    }
}
