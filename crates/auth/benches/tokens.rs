//! Token costs: issue (an RSA signature), verify on a cache miss (an RSA
//! verification), verify on a cache hit (a SHA-256 and two map lookups).
//! `cargo bench -p zgate-auth`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use zgate_auth::{
    thumbprint_kid, KeyRing, MemoryRevocationStore, SigningKey, SystemClock, TokenService,
    TokenSettings,
};

fn service(der: &[u8]) -> TokenService {
    let probe = SigningKey::from_pkcs8(der, "probe").unwrap();
    let key = SigningKey::from_pkcs8(der, thumbprint_kid(probe.public())).unwrap();
    TokenService::new(
        KeyRing::new(key),
        Arc::new(SystemClock),
        TokenSettings {
            lifetime_seconds: 28800,
            domain: "security-domain".into(),
        },
        Arc::new(MemoryRevocationStore::default()),
    )
    .unwrap()
}

fn bench(c: &mut Criterion) {
    for (name, der) in [
        ("rs256", &include_bytes!("../testdata/rsa-a.pk8.der")[..]),
        ("es256", &include_bytes!("../testdata/ec-p256.pk8.der")[..]),
    ] {
        let svc = service(der);
        c.bench_function(&format!("{name}/issue"), |b| {
            b.iter(|| svc.issue("USER1").unwrap())
        });
        let token = svc.issue("USER1").unwrap().token;
        svc.verify(&token).unwrap();
        c.bench_function(&format!("{name}/verify_cached"), |b| {
            b.iter(|| svc.verify(&token).unwrap())
        });
        // A fresh service per batch: every verification is a cache miss.
        c.bench_function(&format!("{name}/verify_uncached"), |b| {
            b.iter_batched(
                || service(der),
                |fresh| fresh.verify(&token).unwrap(),
                criterion::BatchSize::SmallInput,
            )
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
