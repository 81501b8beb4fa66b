//! Shared helpers for the ESM's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod pg;

use std::path::Path;
use std::sync::Arc;

pub use zgate_base::ManualClock;
use zgate_esm::{Esm, EsmConfig, HashCost, Issuer, StoreLocation};

/// The file in a test home that names the PostgreSQL database of the test
/// when the suite runs on PostgreSQL (`ZGATE_TEST_STORE=postgres`).
const POSTGRES_URL_FILE: &str = "postgres-url";

/// Whether this run puts the ESM on PostgreSQL instead of SQLite:
/// `ZGATE_TEST_STORE=postgres`. Every test that goes through [`fresh`] and
/// [`open`] then runs against a database of its own.
pub fn on_postgres() -> bool {
    std::env::var("ZGATE_TEST_STORE").is_ok_and(|v| v.eq_ignore_ascii_case("postgres"))
}

/// Where the ESM of the test home `home` keeps its state.
pub fn location(home: &Path) -> StoreLocation {
    match std::fs::read_to_string(home.join(POSTGRES_URL_FILE)) {
        Ok(url) => StoreLocation::Postgres(url.trim().to_owned()),
        Err(_) => StoreLocation::Sqlite(home.join("esm.db")),
    }
}

/// A test home (a temporary directory); on PostgreSQL it names a new
/// database of its own, dropped with it.
pub struct Home {
    dir: tempfile::TempDir,
    _db: Option<pg::TestDb>,
}

impl Home {
    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// A new test home: on PostgreSQL when the run says so ([`on_postgres`]).
pub fn home() -> Home {
    let dir = tempfile::tempdir().unwrap();
    let db = on_postgres().then(pg::TestDb::new);
    if let Some(db) = &db {
        std::fs::write(dir.path().join(POSTGRES_URL_FILE), &db.url).unwrap();
    }
    Home { dir, _db: db }
}

/// Moves a test clock by whole days.
pub fn advance_days(clock: &ManualClock, days: i64) {
    clock.advance_ms(days * 86_400_000);
}

/// A fresh ESM in a temporary home (cheap hash cost), with its clock.
pub fn fresh() -> (Home, Esm, Arc<ManualClock>) {
    let dir = home();
    let clock = Arc::new(ManualClock::new(1_790_000_000_000));
    let esm = open_with_clock(dir.path(), &clock);
    (dir, esm, clock)
}

/// [`fresh`], always on SQLite: for tests that look into the database file.
pub fn fresh_sqlite() -> (Home, Esm, Arc<ManualClock>) {
    let dir = Home {
        dir: tempfile::tempdir().unwrap(),
        _db: None,
    };
    let clock = Arc::new(ManualClock::new(1_790_000_000_000));
    let esm = open_with_clock(dir.path(), &clock);
    (dir, esm, clock)
}

/// An ESM (cheap hash cost) on `home` reading `clock`: another process of
/// the same test, or the same home reopened.
pub fn open_with_clock(home: &std::path::Path, clock: &Arc<ManualClock>) -> Esm {
    Esm::open_store(
        &location(home),
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
    Esm::open_store(
        &location(home),
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
