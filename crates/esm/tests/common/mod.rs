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
    let esm = open_with_clock(dir.path(), &clock);
    (dir, esm, clock)
}

/// An ESM (cheap hash cost) on `home` reading `clock`: another process of
/// the same test, or the same home reopened.
pub fn open_with_clock(home: &std::path::Path, clock: &Arc<ManualClock>) -> Esm {
    Esm::open_with(
        home,
        EsmConfig {
            clock: clock.clone(),
            hash_cost: HashCost::TEST_ONLY,
            ..EsmConfig::default()
        },
    )
    .unwrap()
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
