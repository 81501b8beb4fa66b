//! Library-level timings: what the gateway pays at start-up (open the
//! keystore, build the TLS config, load the signing key) and what `cert init`
//! is made of (PKCS12 encoding, key generation).
//! Run with `cargo bench -p zgate-pki`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::SystemTime;

use criterion::{criterion_group, criterion_main, Criterion};
use zgate_pki as pki;

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let report = pki::init(&pki::InitParams::with_defaults(
        dir.path().join("ks"),
        SystemTime::now(),
    ))
    .unwrap();
    let password = pki::Secret::new("password");
    let keystore = pki::KeystoreParams::Pkcs12 {
        file: report.keystore.clone(),
        password: password.clone(),
        alias: Some("localhost".into()),
    };
    let truststore = pki::TruststoreParams::Pkcs12 {
        file: report.truststore.clone(),
        password: password.clone(),
    };
    let store = pki::Keystore::read_pkcs12(&report.keystore, &password).unwrap();

    c.bench_function("read_pkcs12_modern", |b| {
        b.iter(|| pki::Keystore::read_pkcs12(&report.keystore, &password).unwrap())
    });
    c.bench_function("write_pkcs12_modern", |b| {
        b.iter(|| {
            store
                .to_pkcs12(&password, pki::Pkcs12Encoding::Modern)
                .unwrap()
        })
    });
    c.bench_function("write_pkcs12_legacy", |b| {
        b.iter(|| {
            store
                .to_pkcs12(&password, pki::Pkcs12Encoding::Legacy)
                .unwrap()
        })
    });
    c.bench_function("server_config", |b| {
        let params = pki::ServerTlsParams::new(keystore.clone(), Some(truststore.clone()));
        b.iter(|| pki::tls::server_config(&params).unwrap())
    });
    c.bench_function("signing_key", |b| {
        b.iter(|| pki::signing_key(&keystore).unwrap())
    });

    let mut slow = c.benchmark_group("init");
    slow.sample_size(10);
    let mut n = 0u32;
    slow.bench_function("init_rsa2048", |b| {
        b.iter(|| {
            n += 1;
            pki::init(&pki::InitParams::with_defaults(
                dir.path().join(format!("rsa{n}")),
                SystemTime::now(),
            ))
            .unwrap()
        })
    });
    slow.bench_function("init_ec_p256", |b| {
        b.iter(|| {
            n += 1;
            let mut params = pki::InitParams::with_defaults(
                dir.path().join(format!("ec{n}")),
                SystemTime::now(),
            );
            params.key_type = pki::KeyType::EcP256;
            pki::init(&params).unwrap()
        })
    });
    slow.finish();
}

criterion_group!(pki_benches, benches);
criterion_main!(pki_benches);
