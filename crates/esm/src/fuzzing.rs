//! Entry points for the fuzz targets in `fuzz/` and the corpus replay test:
//! each takes arbitrary bytes, must never panic, and returns nothing.

use std::sync::{Arc, OnceLock};

use zgate_base::SeededRandom;

use crate::certmap::{parse_filter, CertNames};
use crate::command::{execute, Env, Issuer};
use crate::generic::{is_generic, literal_key, specificity, GenericIndex, Pattern};
use crate::index::{CheckContext, Index};
use crate::model::{AccessLevel, Group};
use crate::password::HashCost;
use crate::state::{Change, State};
use crate::syntax::{split_batch, tokenize};
use crate::{Esm, EsmConfig};

/// The fixed time commands run at (ms).
const NOW_MS: i64 = 1_790_000_000_000;

/// What the command target starts from: SYS1 as every ESM has it, plus a
/// few users, groups, classes and profiles so that commands find something
/// to alter, permit and list.
const SETUP: &str = "\
ADDGROUP DEV OWNER(SYS1)
ADDUSER BOB DFLTGRP(DEV) NAME('BOB THE BUILDER')
ADDUSER ALICE SPECIAL
CONNECT BOB GROUP(SYS1)
SETROPTS CLASSACT(ZOWE) GENERIC(ZOWE) RACLIST(ZOWE)
SETROPTS CLASSACT(FACILITY) GENERIC(FACILITY)
RDEFINE ZOWE APIML.SERVICES.** UACC(NONE)
RDEFINE ZOWE APIML.SERVICES.ZOSMF UACC(READ)
RDEFINE FACILITY BPX.SERVER UACC(NONE)
PERMIT APIML.SERVICES.** CLASS(ZOWE) ID(BOB) ACCESS(READ)
PERMIT BPX.SERVER CLASS(FACILITY) ID(DEV) ACCESS(UPDATE)
";

fn env(issuer: &Issuer) -> Env<'_> {
    Env {
        issuer,
        now_ms: NOW_MS,
        cost: HashCost::TEST_ONLY,
        random: &SEEDED,
        key_encryption: None,
    }
}

static SEEDED: SeededRandom = SeededRandom::new(1);

fn setup_state() -> &'static State {
    static STATE: OnceLock<State> = OnceLock::new();
    STATE.get_or_init(|| {
        let mut state = State::default();
        state.apply(&Change::PutGroup(Group {
            id: "SYS1".into(),
            superior: None,
            owner: "SYS1".into(),
            created_ms: NOW_MS,
        }));
        let operator = Issuer::Operator;
        for cmd in split_batch(SETUP).unwrap_or_default() {
            if let Ok(out) = execute(&state, &env(&operator), &cmd.text) {
                for change in &out.changes {
                    state.apply(change);
                }
            }
        }
        state
    })
}

/// A batch of RACF commands: the batch splitter, the tokenizer, and every
/// command executed against a small fixed state, once as a user without
/// authority and once as the operator, whose changes carry on to the next
/// command; then the decision index is built from the result and asked.
pub fn racf_command(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = tokenize(&text);
    let Ok(batch) = split_batch(&text) else {
        return;
    };
    let base = setup_state();
    let mut state = base.clone();
    let operator = Issuer::Operator;
    let bob = Issuer::User("BOB".into());
    for cmd in &batch {
        if let Err(e) = execute(base, &env(&bob), &cmd.text) {
            let _ = e.to_string();
        }
        match execute(&state, &env(&operator), &cmd.text) {
            Ok(out) => {
                for change in &out.changes {
                    state.apply(change);
                }
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
    let index = Index::build(&state);
    let ctx = CheckContext::default();
    for (user, class, resource) in [
        ("BOB", "ZOWE", "APIML.SERVICES.ZOSMF"),
        ("BOB", "FACILITY", "BPX.SERVER"),
        ("ALICE", "ZOWE", "APIML.SERVICES.CATALOG"),
    ] {
        let _ = index.decide(user, class, resource, AccessLevel::Read, &ctx);
    }
}

/// A generic profile name and a resource, separated by the first newline:
/// parsing, matching, RACF's specificity order, and the trie, which must
/// agree with the pattern on whether a literal resource is covered.
pub fn generic_name(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (name, resource) = text.split_once('\n').unwrap_or((&text, ""));
    let _ = is_generic(name);
    let _ = literal_key(name);
    let _ = specificity(name, resource);
    let _ = specificity(resource, name);
    let Ok(pattern) = Pattern::parse(name) else {
        return;
    };
    let matched = pattern.matches(resource);
    let mut index = GenericIndex::default();
    index.insert(name, ());
    let found = index.lookup(resource);
    if !is_generic(resource) {
        assert_eq!(
            found.is_some(),
            matched,
            "the generic index and the pattern disagree on {name:?} for {resource:?}"
        );
    }
    let _ = index.remove(name);
}

/// The ESM the certificate target maps against: a few filters, defined
/// once through the same commands an administrator would use.
fn certmap_esm() -> Option<&'static Esm> {
    static ESM: OnceLock<Option<Esm>> = OnceLock::new();
    ESM.get_or_init(|| {
        let esm = Esm::in_memory(EsmConfig {
            hash_cost: HashCost::TEST_ONLY,
            clock: Arc::new(FixedClock),
            audit: None,
            random: Arc::new(SeededRandom::new(1)),
            key_encryption: None,
            key_encryption_file: None,
        })
        .ok()?;
        for cmd in [
            "ADDUSER BOB",
            "ADDUSER ALICE",
            "RACDCERT MAP ID(BOB) SDNFILTER('CN=USER.OU=Zowe.O=OMF.L=Prague.SP=Czechia.C=CZ') WITHLABEL('user')",
            "RACDCERT MAP ID(ALICE) IDNFILTER('CN=APIML CA.OU=Zowe.O=OMF.L=Prague.SP=Czechia.C=CZ') WITHLABEL('ca')",
            "RACDCERT MAP ID(BOB) SDNFILTER('OU=Zowe.O=OMF.L=Prague.SP=Czechia.C=CZ') IDNFILTER('CN=APIML CA.OU=Zowe.O=OMF.L=Prague.SP=Czechia.C=CZ') WITHLABEL('both')",
        ] {
            let _ = esm.run_command(&Issuer::Operator, cmd);
        }
        Some(esm)
    })
    .as_ref()
}

struct FixedClock;

impl crate::Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        NOW_MS
    }
}

/// `SDNFILTER`, newline, `IDNFILTER`, newline, then a certificate (PEM or
/// DER): filter parsing, certificate name extraction, and the mapping
/// search both for the certificate and for a certificate whose names are
/// the two filters.
pub fn cert_filter(data: &[u8]) {
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let sdn = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let idn = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let cert = parts.next().unwrap_or_default();
    let subject = parse_filter(&sdn);
    let issuer = parse_filter(&idn);
    let esm = certmap_esm();
    if let Ok(names) = CertNames::from_pem_or_der(cert) {
        if let Some(esm) = esm {
            let _ = esm.map_names(&names);
        }
    }
    if let (Some(esm), Ok(subject), Ok(issuer)) = (esm, subject, issuer) {
        let _ = esm.map_names(&CertNames {
            subject,
            issuer,
            serial: String::new(),
        });
    }
}
