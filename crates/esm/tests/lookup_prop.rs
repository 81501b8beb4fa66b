//! Property: the indexed generic lookup (trie by literal key, deepest first)
//! picks the same profile as a plain reference: scan every profile, keep
//! the ones that match by a separately written matcher, take the most
//! specific by a separately written comparison of the spec's rule.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cmp::Ordering;

use proptest::prelude::*;
use zgate_esm::generic::{GenericIndex, Pattern};

/// Reference matcher, straight from the spec's wording, over characters.
fn ref_match(pattern: &str, name: &str) -> bool {
    let pq: Vec<&str> = pattern.split('.').collect();
    let nq: Vec<&str> = name.split('.').collect();
    ref_quals(&pq, &nq)
}

fn ref_quals(p: &[&str], n: &[&str]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some(&"**") => (0..=n.len()).any(|k| ref_quals(&p[1..], &n[k..])),
        Some(&"*") if p.len() == 1 => !n.is_empty() && !n[0].is_empty(),
        Some(&"*") => !n.is_empty() && !n[0].is_empty() && ref_quals(&p[1..], &n[1..]),
        Some(q) if p.len() == 1 && q.ends_with('*') => {
            // `A.B*`: the rest of the name, joined, must start with the
            // qualifier's body (within its first qualifier).
            let rest = n.join(".");
            let body = &q[..q.len() - 1];
            !n.is_empty()
                && (0..=rest.len()).any(|cut| {
                    let head = &rest[..cut];
                    !head.contains('.') && ref_glob(body, head)
                })
        }
        Some(q) => !n.is_empty() && ref_glob(q, n[0]) && ref_quals(&p[1..], &n[1..]),
    }
}

fn ref_glob(p: &str, t: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (p.chars().collect(), t.chars().collect());
    fn go(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') => (0..=t.len()).any(|i| go(&p[1..], &t[i..])),
            Some('%') => !t.is_empty() && t[0] != '.' && go(&p[1..], &t[1..]),
            Some(c) => t.first() == Some(c) && go(&p[1..], &t[1..]),
        }
    }
    go(&p, &t)
}

/// Reference order: left to right, `**` one unit; literal > % > * > ** > end.
fn ref_more_specific(a: &str, b: &str) -> Ordering {
    fn units(s: &str) -> Vec<(u8, char)> {
        let c: Vec<char> = s.chars().collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < c.len() {
            if c[i] == '*' && c.get(i + 1) == Some(&'*') {
                out.push((1, '*'));
                i += 2;
            } else {
                out.push(match c[i] {
                    '*' => (2, '*'),
                    '%' => (3, '%'),
                    ch => (4, ch),
                });
                i += 1;
            }
        }
        out
    }
    let (ua, ub) = (units(a), units(b));
    for i in 0..ua.len().max(ub.len()) {
        let x = ua.get(i).copied().unwrap_or((0, ' '));
        let y = ub.get(i).copied().unwrap_or((0, ' '));
        if x != y {
            return x.0.cmp(&y.0).then(y.1.cmp(&x.1));
        }
    }
    Ordering::Equal
}

fn reference<'a>(profiles: &'a [String], name: &str) -> Option<&'a str> {
    profiles
        .iter()
        .filter(|p| ref_match(p, name))
        .max_by(|a, b| ref_more_specific(a, b))
        .map(String::as_str)
}

/// Generic names over a tiny alphabet so that matches are frequent.
fn qualifier() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_owned()),
        Just("**".to_owned()),
        "[AB%]{1,3}".prop_map(|s| s),
        "[AB%]{0,2}\\*".prop_map(|s| s),
        "[AB]{1,2}\\*[AB]".prop_map(|s| s),
    ]
}

fn generic_name() -> impl Strategy<Value = String> {
    prop::collection::vec(qualifier(), 1..4)
        .prop_map(|q| q.join("."))
        .prop_filter("valid generic name", |n| {
            n.contains(['*', '%']) && Pattern::parse(n).is_ok()
        })
}

fn resource_name() -> impl Strategy<Value = String> {
    prop::collection::vec("[AB*%]{1,3}", 1..5).prop_map(|q| q.join("."))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn indexed_lookup_equals_reference(
        profiles in prop::collection::btree_set(generic_name(), 1..40),
        names in prop::collection::vec(resource_name(), 1..20),
    ) {
        let profiles: Vec<String> = profiles.into_iter().collect();
        let mut index = GenericIndex::default();
        for p in &profiles {
            index.insert(p, p.clone());
        }
        for name in &names {
            let got = index.lookup(name).map(|(n, _)| n);
            let want = reference(&profiles, name);
            prop_assert_eq!(got, want, "name {} over {:?}", name, profiles);
        }
    }

    #[test]
    fn removal_keeps_lookup_right(
        profiles in prop::collection::btree_set(generic_name(), 2..30),
        names in prop::collection::vec(resource_name(), 1..10),
        drop_every in 2usize..4,
    ) {
        let profiles: Vec<String> = profiles.into_iter().collect();
        let mut index = GenericIndex::default();
        for p in &profiles {
            index.insert(p, ());
        }
        let kept: Vec<String> = profiles
            .iter()
            .enumerate()
            .filter(|(i, p)| if i % drop_every == 0 { !index.remove(p) } else { true })
            .map(|(_, p)| p.clone())
            .collect();
        prop_assert_eq!(index.len(), kept.len());
        for name in &names {
            prop_assert_eq!(index.lookup(name).map(|(n, _)| n), reference(&kept, name));
        }
    }
}

#[test]
fn reference_agrees_with_spec_examples() {
    let order = [
        "COPY.PAPER.%",
        "COPY.PAPER.*",
        "COPY.PAPER.**",
        "COPY.PAPER%",
        "COPY.PAPER*",
        "COPY.PAPE%",
        "COPY.PAP*",
    ];
    for w in order.windows(2) {
        assert_eq!(ref_more_specific(w[0], w[1]), Ordering::Greater);
        assert_eq!(
            zgate_esm::generic::specificity(w[0], w[1]),
            Ordering::Greater
        );
    }
}
