//! Logon cost with the product's argon2id parameters, and the evidence that
//! an unknown user costs the same as a wrong password (no timing oracle).
//!
//! `cargo bench -p zgate-esm --bench verify`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use zgate_esm::{Esm, Issuer};

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let esm = Esm::open(dir.path()).unwrap();
    esm.run_command(&Issuer::Operator, "ADDUSER BOB PASSWORD(RIGHT1) NOEXPIRED")
        .unwrap();
    let mut group = c.benchmark_group("verify");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("right_password", |b| {
        b.iter(|| black_box(esm.verify("BOB", "RIGHT1", None)))
    });
    group.bench_function("wrong_password", |b| {
        b.iter(|| black_box(esm.verify("BOB", "WRONG1", None)))
    });
    group.bench_function("unknown_user", |b| {
        b.iter(|| black_box(esm.verify("NOBODY", "WRONG1", None)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
