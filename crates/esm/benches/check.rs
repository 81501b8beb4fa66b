//! Checks per second on a large index: 100 000 profiles (half discrete,
//! half generic) over 10 classes, 10 000 users with 5 groups each.
//!
//! `cargo bench -p zgate-esm --bench check`
//!
//! The ESM runs over an in-memory [`Store`] that hands it a generated
//! state, so the benchmark measures `Esm::check` itself (lock, upper-casing,
//! index lookup, decision) and nothing of SQLite.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use zgate_esm::model::{AccessLevel, ClassSettings, Group, Profile, User};
use zgate_esm::state::{Change, State};
use zgate_esm::store::{Journal, Store, StoreError};
use zgate_esm::{Esm, EsmConfig};

struct Generated(Option<State>);

impl Store for Generated {
    fn load(&mut self) -> Result<State, StoreError> {
        Ok(self.0.take().unwrap_or_default())
    }
    fn apply(&mut self, _: &[Change], _: &str, generation: i64) -> Result<i64, StoreError> {
        Ok(generation + 1)
    }
    fn generation(&mut self) -> Result<i64, StoreError> {
        Ok(0)
    }
    fn revoke_token(&mut self, _: &str, _: i64, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
    fn journal_since(&mut self, _: i64) -> Result<Journal, StoreError> {
        Ok(Journal::Entries(Vec::new()))
    }
    fn purge_expired_tokens(&mut self, _: i64) -> Result<usize, StoreError> {
        Ok(0)
    }
    fn dump(&mut self) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }
}

/// A small deterministic generator (xorshift), so runs compare.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const CLASSES: usize = 10;
const PROFILES: usize = 100_000;
const USERS: usize = 10_000;
const GROUPS: usize = 1_000;

fn generate() -> State {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut state = State::default();
    for g in 0..GROUPS {
        let id = format!("G{g:04}");
        state.groups.insert(
            id.clone(),
            Group {
                id,
                superior: Some("SYS1".into()),
                owner: "SYS1".into(),
                created_ms: 0,
            },
        );
    }
    for u in 0..USERS {
        let id = format!("U{u:05}");
        let groups: Vec<String> = (0..5)
            .map(|_| format!("G{:04}", rng.below(GROUPS as u64)))
            .collect();
        let user = User::new(id.clone(), groups[0].clone(), "SYS1".into(), 0);
        state.users.insert(id.clone(), user);
        state.connects.insert(id, groups.into_iter().collect());
    }
    for c in 0..CLASSES {
        let name = format!("CLASS{c}");
        state.classes.insert(
            name.clone(),
            ClassSettings {
                name,
                active: true,
                generic: true,
                ..ClassSettings::default()
            },
        );
    }
    for i in 0..PROFILES {
        let class = format!("CLASS{}", i % CLASSES);
        let app = rng.below(500);
        let res = rng.below(40);
        let name = match i % 6 {
            0..=2 => format!("APP{app}.RES{res}.ITEM{}", rng.below(1000)),
            3 => format!("APP{app}.RES{res}.*"),
            4 => format!("APP{app}.R%S{res}.**"),
            _ => format!("APP{app}.RES{res}{}*", rng.below(100)),
        };
        let mut p = Profile::new(class.clone(), name.clone(), "SYS1".into(), 0);
        p.uacc = AccessLevel::None;
        for _ in 0..3 {
            p.access.insert(
                format!("G{:04}", rng.below(GROUPS as u64)),
                AccessLevel::Read,
            );
        }
        p.access.insert(
            format!("U{:05}", rng.below(USERS as u64)),
            AccessLevel::Update,
        );
        if i % 10 == 0 {
            p.access.insert("*".into(), AccessLevel::Read);
        }
        state
            .profiles
            .entry(class)
            .or_default()
            .insert(name, Arc::new(p));
    }
    state
}

fn bench(c: &mut Criterion) {
    let esm = Esm::with_store(Box::new(Generated(Some(generate()))), EsmConfig::default()).unwrap();
    // Queries drawn from the profiles themselves: a quarter name a discrete
    // profile, half fall under a generic one, a quarter are not protected;
    // half of the users asking are on the access list (directly or by group).
    let state = generate();
    let all: Vec<Arc<Profile>> = state
        .profiles
        .values()
        .flat_map(|m| m.values().cloned())
        .collect();
    let mut rng = Rng(42);
    let queries: Vec<(String, String, String)> = (0..4096)
        .map(|i| {
            let p = &all[rng.below(all.len() as u64) as usize];
            let resource = if i % 4 == 3 {
                format!("NOT.PROTECTED.{}", rng.below(1000))
            } else {
                // Instantiate the name: every generic character becomes a letter.
                p.name.replace("**", "X.Y").replace(['*', '%'], "E")
            };
            let user = if i % 2 == 0 {
                match p.access.keys().find(|k| k.starts_with('U')) {
                    Some(u) => u.clone(),
                    None => format!("U{:05}", rng.below(USERS as u64)),
                }
            } else {
                format!("U{:05}", rng.below(USERS as u64))
            };
            (user, p.class.clone(), resource)
        })
        .collect();
    let granted = queries
        .iter()
        .filter(|(u, c, r)| esm.check(u, c, r, AccessLevel::Read).authorized())
        .count();
    let protected = queries
        .iter()
        .filter(|(u, c, r)| esm.check(u, c, r, AccessLevel::Read).saf_rc != 4)
        .count();
    eprintln!(
        "index: {PROFILES} profiles / {CLASSES} classes, {USERS} users x 5 groups; \
         queries: {} ({protected} protected, {granted} granted)",
        queries.len()
    );
    let mut group = c.benchmark_group("esm");
    group.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    group.bench_function("check", |b| {
        b.iter(|| {
            let (u, cl, r) = &queries[i % queries.len()];
            i = i.wrapping_add(1);
            black_box(esm.check(u, cl, r, AccessLevel::Read))
        })
    });
    let (hu, hc, hr) = queries[0].clone();
    group.bench_function("check_same_resource", |b| {
        b.iter(|| black_box(esm.check(&hu, &hc, &hr, AccessLevel::Read)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
