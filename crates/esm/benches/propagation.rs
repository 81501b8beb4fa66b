//! How long a change committed by one gateway takes to be in force in
//! another on the same PostgreSQL database: 100 PERMITs (granting, then
//! deleting, in turns) on A, each timed from the moment A's command returns
//! until B's check decides by it. B looks when the store announces a commit
//! (`NOTIFY`, as `zgate serve` does), and, as the baseline in the same run,
//! only on a 200 ms poll (`zgate serve`'s fallback schedule).
//!
//! `cargo bench -p zgate-esm --bench propagation`; the server is
//! `ZGATE_BENCH_POSTGRES` (an admin URL without a database), default
//! `postgres://postgres@127.0.0.1:5432`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use zgate_esm::{AccessLevel, Esm, EsmConfig, HashCost, Issuer, StoreLocation};

const CHANGES: usize = 100;
const POLL: Duration = Duration::from_millis(200);

fn open(url: &str) -> Arc<Esm> {
    Arc::new(
        Esm::open_store(
            &StoreLocation::Postgres(url.to_owned()),
            EsmConfig {
                hash_cost: HashCost::TEST_ONLY,
                ..EsmConfig::default()
            },
        )
        .unwrap(),
    )
}

/// Runs the 100 changes; B looks on announcements when `announced`, and
/// on its poll either way. Returns the delays, sorted.
fn measure(url: &str, announced: bool) -> Vec<Duration> {
    let a = open(url);
    let b = open(url);
    let stop = Arc::new(AtomicBool::new(false));
    let (wake, woken) = mpsc::channel::<()>();
    if announced {
        b.watch_changes(Arc::new(move || {
            let _ = wake.send(());
        }))
        .unwrap();
    }
    let looker = {
        let (b, stop) = (b.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                // What `zgate serve`'s poll does: wait for an announcement
                // or the next tick, then look.
                let _ = woken.recv_timeout(POLL);
                let _ = b.reload_if_changed();
            }
        })
    };
    let mut delays = Vec::with_capacity(CHANGES);
    for i in 0..CHANGES {
        let grant = i % 2 == 0;
        let command = if grant {
            "PERMIT APP.** CLASS(ZOWE) ID(ALICE) ACCESS(READ)"
        } else {
            "PERMIT APP.** CLASS(ZOWE) ID(ALICE) DELETE"
        };
        a.run_command(&Issuer::Operator, command).unwrap();
        let start = Instant::now();
        while b
            .check("ALICE", "ZOWE", "APP.X", AccessLevel::Read)
            .authorized()
            != grant
        {
            assert!(start.elapsed() < Duration::from_secs(10), "never arrived");
            std::thread::sleep(Duration::from_micros(100));
        }
        delays.push(start.elapsed());
        // Changes apart, so that each is its own commit and announcement.
        std::thread::sleep(Duration::from_millis(7));
    }
    stop.store(true, Ordering::Relaxed);
    looker.join().unwrap();
    delays.sort();
    delays
}

fn main() {
    let server = std::env::var("ZGATE_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
    let name = format!("zgate_bench_{}", std::process::id());
    let mut admin = postgres::Client::connect(&format!("{server}/postgres"), postgres::NoTls)
        .expect("a PostgreSQL server (ZGATE_BENCH_POSTGRES)");
    admin
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .unwrap();
    let url = format!("{server}/{name}");
    {
        let setup = open(&url);
        for command in [
            "SETROPTS CLASSACT(ZOWE) GENERIC(ZOWE)",
            "RDEFINE ZOWE APP.** UACC(NONE)",
            "ADDUSER ALICE",
        ] {
            setup.run_command(&Issuer::Operator, command).unwrap();
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut medians = Vec::new();
    for (name, announced) in [("NOTIFY + 200 ms poll", true), ("200 ms poll only", false)] {
        let delays = measure(&url, announced);
        let median = delays[delays.len() / 2];
        let max = delays[delays.len() - 1];
        println!(
            "{name:<22} {CHANGES} changes: median {:.2} ms, p90 {:.2} ms, max {:.2} ms",
            ms(median),
            ms(delays[delays.len() * 9 / 10]),
            ms(max)
        );
        medians.push(median);
    }
    println!(
        "median with NOTIFY / median polling only: {:.3}",
        ms(medians[0]) / ms(medians[1])
    );
    let _ = admin.batch_execute(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"));
}
