//! Three gateways' ESMs on one PostgreSQL database under load: eight
//! administrators running commands and eight logon loops guessing
//! passwords, all at once, for `ZGATE_TEST_LOAD_SECONDS` (default 30).
//! Every command is acknowledged and every logon answered (commits wait
//! for each other instead of failing); afterwards the database holds
//! exactly what was acknowledged (no lost update), every counted failure
//! is in the user's counter, one generation per commit, and every
//! gateway's memory is the database's and decides as a fresh load does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::pg::TestDb;
use common::{run, ManualClock};
use zgate_esm::{AccessLevel, Esm, EsmConfig, HashCost, Issuer, StoreLocation, VerifyOutcome};

const START_MS: i64 = 1_790_000_000_000;

fn open(db: &TestDb, clock: &Arc<ManualClock>) -> Esm {
    Esm::open_store(
        &StoreLocation::Postgres(db.url.clone()),
        EsmConfig {
            clock: clock.clone(),
            hash_cost: HashCost::TEST_ONLY,
            ..EsmConfig::default()
        },
    )
    .unwrap()
}

fn load_duration() -> Duration {
    let seconds = std::env::var("ZGATE_TEST_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    Duration::from_secs(seconds)
}

/// What one administrator's acknowledged commands left, by user.
type Acknowledged = BTreeMap<String, Expected>;

/// What acknowledged commands left of one user.
#[derive(Default, Debug)]
struct Expected {
    permitted: bool,
    revoked: bool,
}

#[test]
fn eight_administrators_and_eight_logon_loops_leave_an_exact_database() {
    let db = TestDb::new();
    let clock = Arc::new(ManualClock::new(START_MS));
    let gateways: Vec<Esm> = (0..3).map(|_| open(&db, &clock)).collect();
    run(
        &gateways[0],
        "SETROPTS CLASSACT(ZOWE) GENERIC(ZOWE)\n\
         RDEFINE ZOWE APP.** UACC(NONE)\n\
         ADDUSER L0 PASSWORD(SECRET1) NOEXPIRED\n\
         ADDUSER L1 PASSWORD(SECRET1) NOEXPIRED",
    );
    let generation = |db: &TestDb| -> i64 {
        let v: String = db
            .client()
            .query_one("SELECT value FROM meta WHERE key = 'generation'", &[])
            .unwrap()
            .get(0);
        v.parse().unwrap()
    };
    let before = generation(&db);
    let deadline = Instant::now() + load_duration();
    let commands_ok = AtomicU64::new(0);
    let commands_refused = AtomicU64::new(0);
    let logons_unanswered = AtomicU64::new(0);
    let (admins, counted): (Vec<Acknowledged>, Vec<(usize, u64)>) = std::thread::scope(|s| {
        let admins: Vec<_> = (0..8)
            .map(|i| {
                let esm = &gateways[i % 3];
                let (ok, refused) = (&commands_ok, &commands_refused);
                s.spawn(move || {
                    let mut expected: BTreeMap<String, Expected> = BTreeMap::new();
                    let mut n = 0;
                    while Instant::now() < deadline {
                        n += 1;
                        let user = format!("A{i}{n:05}");
                        let command = |text: String| {
                            let done = esm.run_command(&Issuer::Operator, &text).is_ok();
                            if done {
                                ok.fetch_add(1, Ordering::Relaxed);
                            } else {
                                refused.fetch_add(1, Ordering::Relaxed);
                            }
                            done
                        };
                        if !command(format!("ADDUSER {user}")) {
                            continue;
                        }
                        let e = expected.entry(user.clone()).or_default();
                        e.permitted =
                            command(format!("PERMIT APP.** CLASS(ZOWE) ID({user}) ACCESS(READ)"));
                        if n % 3 == 0 {
                            e.revoked = command(format!("ALTUSER {user} REVOKE"));
                        }
                    }
                    expected
                })
            })
            .collect();
        let logons: Vec<_> = (0..8)
            .map(|j| {
                let esm = &gateways[j % 3];
                let unanswered = &logons_unanswered;
                s.spawn(move || {
                    let user = j % 2;
                    let mut wrong = 0u64;
                    while Instant::now() < deadline {
                        match esm.verify(&format!("L{user}"), "WRONGPW", None) {
                            VerifyOutcome::WrongPassword => wrong += 1,
                            VerifyOutcome::StoreUnavailable => {
                                unanswered.fetch_add(1, Ordering::Relaxed);
                            }
                            other => panic!("{other:?}"),
                        }
                    }
                    (user, wrong)
                })
            })
            .collect();
        (
            admins.into_iter().map(|h| h.join().unwrap()).collect(),
            logons.into_iter().map(|h| h.join().unwrap()).collect(),
        )
    });
    let ok = commands_ok.load(Ordering::Relaxed);
    let wrong_total: u64 = counted.iter().map(|(_, n)| n).sum();
    eprintln!(
        "{ok} commands committed, {} refused; {wrong_total} failed logons counted, {} unanswered",
        commands_refused.load(Ordering::Relaxed),
        logons_unanswered.load(Ordering::Relaxed)
    );
    assert!(
        ok > 100 && wrong_total > 100,
        "too little load to mean anything"
    );

    // One generation per commit: every acknowledged command and every
    // counted failure, nothing else.
    assert_eq!(generation(&db) - before, (ok + wrong_total) as i64);

    // Failure counters are exact.
    for user in 0..2 {
        let expected: u64 = counted
            .iter()
            .filter(|(u, _)| *u == user)
            .map(|(_, n)| n)
            .sum();
        let stored: i64 = db
            .client()
            .query_one(
                "SELECT failed_attempts FROM users WHERE id = $1",
                &[&format!("L{user}")],
            )
            .unwrap()
            .get(0);
        assert_eq!(stored, expected as i64, "L{user}");
    }

    // The database holds what was acknowledged, and every gateway's memory
    // is the database's and decides as a fresh load does.
    let fresh = open(&db, &clock);
    for g in &gateways {
        g.reload_if_changed().unwrap();
        assert!(g.memory_matches_store().unwrap());
    }
    for (user, e) in admins.iter().flatten() {
        let summary = fresh.user(user).unwrap_or_else(|| panic!("{user} lost"));
        assert_eq!(summary.revoked, e.revoked, "{user}");
        let allowed = fresh
            .check(user, "ZOWE", "APP.X", AccessLevel::Read)
            .authorized();
        if !e.revoked {
            assert_eq!(allowed, e.permitted, "{user}");
        }
        for g in &gateways {
            assert_eq!(
                g.check(user, "ZOWE", "APP.X", AccessLevel::Read)
                    .authorized(),
                allowed,
                "{user}"
            );
            assert_eq!(
                g.credentials_valid_since(user),
                fresh.credentials_valid_since(user)
            );
        }
    }
}
