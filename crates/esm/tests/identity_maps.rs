//! Distributed identity mapping (`RACMAP`, R_usermap): every command form
//! and its refusals, the byte limits at their edges, DN normalization, the
//! `*` rules, each step of the search order, IDIDMAP's activation and
//! refresh, other processes, DELUSER, and the audit records.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::*;
use zgate_esm::{
    CommandErrorKind, Esm, EsmConfig, HashCost, Issuer, MemorySink, Origin, UsermapError,
};

const ACTIVE: &str = "SETROPTS CLASSACT(IDIDMAP) RACLIST(IDIDMAP)";
const REFRESH: &str = "SETROPTS RACLIST(IDIDMAP) REFRESH";

fn setup() -> (Home, Esm) {
    let (dir, esm, _clock) = fresh();
    run(&esm, "ADDUSER BOB\nADDUSER ALICE\nADDUSER CAROL");
    (dir, esm)
}

fn ok(esm: &Esm, text: &str) -> Vec<String> {
    esm.run_command(&Issuer::Operator, text)
        .unwrap_or_else(|e| panic!("`{text}` failed: {e}"))
        .lines
}

/// A refused command: its kind, and nothing changed.
fn refused(esm: &Esm, text: &str, kind: CommandErrorKind) -> String {
    let before = esm.dump_store().unwrap();
    let e = esm
        .run_command(&Issuer::Operator, text)
        .expect_err(&format!("`{text}` should be refused"));
    assert_eq!(e.kind, kind, "`{text}`: {e}");
    assert_eq!(
        esm.dump_store().unwrap(),
        before,
        "`{text}` changed the store"
    );
    e.to_string()
}

fn map(esm: &Esm, name: &str, registry: &str) -> Result<String, UsermapError> {
    esm.map_distributed_identity(&Origin::default(), name, registry)
}

fn codes(e: &UsermapError) -> (u32, u32, u32) {
    (e.saf_rc(), e.racf_rc(), e.reason())
}

fn racmap(user: &str, name: &str, registry: &str, label: &str) -> String {
    let q = |s: &str| s.replace('\'', "''");
    format!(
        "RACMAP ID({user}) MAP USERDIDFILTER(NAME('{}')) REGISTRY(NAME('{}')) WITHLABEL('{}')",
        q(name),
        q(registry),
        q(label)
    )
}

/// IBM, z/OS Security Server RACF Command Language Reference, "RACMAP (Create, delete, list, or query a distributed identity filter)": MAP, LISTMAP (the `>user<` and `>registry<` lines) and DELMAP(LABEL(...)), and IRRW204I when no filter has the label.
#[test]
fn map_listmap_and_delmap() {
    let (_d, esm) = setup();
    ok(
        &esm,
        &racmap("BOB", "bob@example.com", "https://idp", "Bob's map"),
    );
    let lines = ok(&esm, "RACMAP ID(BOB) LISTMAP");
    assert_eq!(
        lines,
        vec![
            "Mapping information for user BOB:",
            "  Label: Bob's map",
            "  Distributed Identity User Name Filter:",
            "    >bob@example.com<",
            "  Registry Name:",
            "    >https://idp<",
        ]
    );
    let lines = ok(&esm, "RACMAP ID(BOB) LISTMAP(LABEL('Bob''s map'))");
    assert_eq!(lines.len(), 6);
    let e = refused(
        &esm,
        "RACMAP ID(BOB) LISTMAP(LABEL('other'))",
        CommandErrorKind::NotFound,
    );
    assert!(e.contains("IRRW204I"), "{e}");
    ok(&esm, "RACMAP ID(BOB) DELMAP(LABEL('Bob''s map'))");
    let e = refused(
        &esm,
        "RACMAP ID(BOB) DELMAP(LABEL('Bob''s map'))",
        CommandErrorKind::NotFound,
    );
    assert!(e.contains("IRRW204I"), "{e}");
    refused(&esm, "RACMAP ID(BOB) DELMAP", CommandErrorKind::NotFound);
    refused(&esm, "RACMAP ID(BOB) LISTMAP", CommandErrorKind::NotFound);
}

/// IBM, z/OS Security Server RACF Command Language Reference, "RACMAP (Create, delete, list, or query a distributed identity filter)": DELMAP without LABEL deletes every filter of the ID() user.
#[test]
fn delmap_without_a_label_removes_all_of_the_users_filters_only() {
    let (_d, esm) = setup();
    ok(&esm, &racmap("BOB", "a", "r", "one"));
    ok(&esm, &racmap("BOB", "b", "r", "two"));
    ok(&esm, &racmap("ALICE", "c", "r", "one"));
    ok(&esm, "RACMAP ID(BOB) DELMAP");
    refused(&esm, "RACMAP ID(BOB) LISTMAP", CommandErrorKind::NotFound);
    assert_eq!(ok(&esm, "RACMAP ID(ALICE) LISTMAP").len(), 6);
}

/// IBM, z/OS Security Server RACF Command Language Reference, "RACMAP (Create, delete, list, or query a distributed identity filter)": WITHLABEL is optional; RACF generates a label unique to the user.
#[test]
fn a_missing_label_is_generated_per_user() {
    let (_d, esm) = setup();
    let out = ok(
        &esm,
        "RACMAP ID(BOB) MAP USERDIDFILTER(NAME('a')) REGISTRY(NAME('r'))",
    );
    assert!(out[0].contains("'LABEL00000001'"), "{out:?}");
    ok(
        &esm,
        "RACMAP ID(BOB) MAP USERDIDFILTER(NAME('b')) REGISTRY(NAME('r'))",
    );
    ok(
        &esm,
        "RACMAP ID(ALICE) MAP USERDIDFILTER(NAME('c')) REGISTRY(NAME('r'))",
    );
    let bob = ok(&esm, "RACMAP ID(BOB) LISTMAP").join("\n");
    assert!(bob.contains("Label: LABEL00000001") && bob.contains("Label: LABEL00000002"));
    let alice = ok(&esm, "RACMAP ID(ALICE) LISTMAP").join("\n");
    assert!(alice.contains("Label: LABEL00000001"), "{alice}");
}

/// IBM, z/OS Security Server RACF Command Language Reference, "RACMAP (Create, delete, list, or query a distributed identity filter)": the operands each function requires, and the ID() user must exist.
#[test]
fn bad_commands_change_nothing() {
    use CommandErrorKind::*;
    let (_d, esm) = setup();
    ok(&esm, &racmap("BOB", "bob", "reg", "L1"));
    // A duplicate label for the user, an identical filter for anyone.
    let e = refused(&esm, &racmap("BOB", "other", "reg", "L1"), Duplicate);
    assert!(e.starts_with("IRRW"), "{e}");
    let e = refused(&esm, &racmap("ALICE", "bob", "reg", "L9"), Duplicate);
    assert!(e.starts_with("IRRW"), "{e}");
    refused(&esm, &racmap("NOBODY", "x", "reg", "L"), NotFound);
    refused(&esm, &racmap("BAD ID", "x", "reg", "L"), Syntax);
    refused(&esm, "RACMAP ID(BOB) MAP USERDIDFILTER(NAME('x'))", Syntax);
    refused(&esm, "RACMAP ID(BOB) MAP REGISTRY(NAME('x'))", Syntax);
    refused(
        &esm,
        "RACMAP ID(BOB) MAP USERDIDFILTER('x') REGISTRY(NAME('r'))",
        Syntax,
    );
    refused(&esm, "RACMAP ID(BOB)", Syntax);
    refused(&esm, "RACMAP ID(BOB) MAP LISTMAP", Syntax);
    refused(&esm, "RACMAP ID(BOB) FROB", Syntax);
    refused(&esm, "RACMAP ID(BOB) DELMAP WITHLABEL('L1')", Syntax);
    refused(&esm, "RACMAP LISTMAP", Syntax); // the operator has no own id
    refused(&esm, &racmap("BOB", "", "reg", "L2"), Invalid);
    refused(&esm, &racmap("BOB", "   ", "reg", "L2"), Invalid);
    refused(&esm, &racmap("BOB", " x", "reg", "L2"), Invalid);
    refused(&esm, &racmap("BOB", "x", "reg ", "L2"), Invalid);
    refused(&esm, &racmap("BOB", "x\u{1}y", "reg", "L2"), Invalid);
    refused(&esm, &racmap("BOB", "x", "", "L2"), Invalid);
    refused(&esm, &racmap("BOB", "x", "reg", " "), Invalid);
    // Only SPECIAL may map.
    run(&esm, "ALTUSER ALICE PASSWORD(ALICEPW1) NOEXPIRED");
    let before = esm.dump_store().unwrap();
    let e = esm
        .run_command(
            &Issuer::User("ALICE".into()),
            &racmap("ALICE", "y", "r", "L"),
        )
        .unwrap_err();
    assert_eq!(e.kind, NotAuthorized);
    assert_eq!(esm.dump_store().unwrap(), before);
}

/// IBM, z/OS Security Server RACF Security Administrator's Guide, "Distributed identity filters", "The user name portion of the filter" and "The registry name portion of the filter": a single asterisk means any name; it is no prefix or infix pattern.
#[test]
fn asterisk_is_the_whole_value_or_nothing() {
    use CommandErrorKind::*;
    let (_d, esm) = setup();
    ok(&esm, &racmap("BOB", "*", "reg", "any user"));
    ok(&esm, &racmap("BOB", "x", "*", "any registry"));
    ok(&esm, &racmap("ALICE", "*", "*", "default"));
    for (name, registry) in [
        ("bo*", "reg"),
        ("*b", "reg"),
        ("CN=*,O=A", "reg"),
        ("x", "re*"),
        ("x", "**"),
    ] {
        let e = refused(&esm, &racmap("CAROL", name, registry, "L"), Invalid);
        assert!(e.contains("'*'"), "{e}");
    }
}

/// IBM, z/OS Security Server RACF Callable Services, "R_usermap (IRRSIM00)", "Return and reason codes" (8/8/40, 8/8/44), and IBM CICS Transaction Server, "Use the RACF RACMAP command" (246 bytes of user name, 252 of registry).
#[test]
fn byte_limits_at_their_edges() {
    use CommandErrorKind::*;
    let (_d, esm) = setup();
    // 'é' is two UTF-8 bytes: limits count bytes, not characters.
    let name246 = format!("{}{}", "é".repeat(123), "");
    assert_eq!(name246.len(), 246);
    ok(&esm, &racmap("BOB", &name246, "r", "n246"));
    let name247 = format!("{name246}x");
    refused(&esm, &racmap("BOB", &name247, "r", "n247"), Invalid);
    let reg252 = "r".repeat(252);
    ok(&esm, &racmap("BOB", "x", &reg252, "r252"));
    refused(&esm, &racmap("BOB", "y", &"r".repeat(253), "r253"), Invalid);
    let label32 = "L".repeat(32);
    ok(&esm, &racmap("BOB", "z", "r", &label32));
    refused(&esm, &racmap("BOB", "w", "r", &"L".repeat(33)), Invalid);
    // The same limits on the lookup path.
    ok(&esm, ACTIVE);
    assert_eq!(map(&esm, &name246, "r").unwrap(), "BOB");
    assert_eq!(codes(&map(&esm, &name247, "r").unwrap_err()), (8, 8, 40));
    assert_eq!(map(&esm, "x", &reg252).unwrap(), "BOB");
    assert_eq!(
        codes(&map(&esm, "x", &"r".repeat(253)).unwrap_err()),
        (8, 8, 44)
    );
    assert_eq!(codes(&map(&esm, "", "r").unwrap_err()), (8, 8, 40));
    assert_eq!(codes(&map(&esm, "  ", "r").unwrap_err()), (8, 8, 40));
    assert_eq!(codes(&map(&esm, "a\0b", "r").unwrap_err()), (8, 8, 40));
    assert_eq!(codes(&map(&esm, "x", "").unwrap_err()), (8, 8, 44));
    assert_eq!(codes(&map(&esm, "x", "r\0").unwrap_err()), (8, 8, 44));
}

/// IBM, z/OS Security Server RACF Command Language Reference, "RACMAP (Create, delete, list, or query a distributed identity filter)": a quote inside a quoted value is written twice.
#[test]
fn quotes_are_doubled_inside_quoted_values() {
    let (_d, esm) = setup();
    ok(
        &esm,
        "RACMAP ID(BOB) MAP USERDIDFILTER(NAME('o''brien')) REGISTRY(NAME('it''s')) WITHLABEL('l''1')",
    );
    let lines = ok(&esm, "RACMAP ID(BOB) LISTMAP");
    assert!(lines.contains(&"  Label: l'1".to_string()), "{lines:?}");
    assert!(lines.contains(&"    >o'brien<".to_string()), "{lines:?}");
    assert!(lines.contains(&"    >it's<".to_string()), "{lines:?}");
    ok(&esm, ACTIVE);
    assert_eq!(map(&esm, "o'brien", "it's").unwrap(), "BOB");
}

/// IBM, z/OS Security Server RACF Security Administrator's Guide, "Distributed identity filters", "Steps for defining a filter for a full X.500 DN": the DN is normalized (blanks, case of attribute types) when stored.
#[test]
fn dns_are_normalized_when_stored_and_when_looked_up() {
    let (_d, esm) = setup();
    ok(
        &esm,
        &racmap("BOB", "cn = Bob Smith , ou=Dev,o=ACME", "ldap", "dn"),
    );
    let lines = ok(&esm, "RACMAP ID(BOB) LISTMAP");
    assert!(
        lines.contains(&"    >CN=Bob Smith,OU=Dev,O=ACME<".to_string()),
        "{lines:?}"
    );
    // The same DN written otherwise is the same filter.
    refused(
        &esm,
        &racmap("ALICE", "CN=Bob Smith,OU=Dev,O=ACME", "ldap", "x"),
        CommandErrorKind::Duplicate,
    );
    ok(&esm, ACTIVE);
    assert_eq!(
        map(&esm, "Cn=Bob Smith, Ou=Dev, O=ACME", "ldap").unwrap(),
        "BOB"
    );
    // Values keep their case.
    assert_eq!(
        codes(&map(&esm, "CN=bob smith,OU=Dev,O=ACME", "ldap").unwrap_err()),
        (8, 8, 48)
    );
}

/// IBM, z/OS Security Server RACF Security Administrator's Guide, "Distributed identity filters", "Details about searching for a filter that matches a user's DN" and "Adding a default RACMAP filter": exact user and registry, then the DN shortened one RDN at a time, then `*` for the user, then the default filter (`*`, `*`).
#[test]
fn the_search_order_one_step_at_a_time() {
    let (_d, esm) = setup();
    run(&esm, "ADDUSER DAVE\nADDUSER ERIN\nADDUSER FRANK");
    let dn = "CN=Bob,OU=Dev,O=ACME";
    ok(&esm, &racmap("BOB", dn, "ldap", "exact"));
    ok(&esm, &racmap("ALICE", "OU=Dev,O=ACME", "ldap", "ou"));
    ok(&esm, &racmap("CAROL", "O=ACME", "ldap", "o"));
    ok(&esm, &racmap("DAVE", "*", "ldap", "any user"));
    ok(&esm, &racmap("ERIN", dn, "*", "any registry"));
    ok(&esm, &racmap("FRANK", "*", "*", "default"));
    ok(&esm, ACTIVE);
    // 1. user name and registry.
    assert_eq!(map(&esm, dn, "ldap").unwrap(), "BOB");
    // 2. the DN without its most specific RDN, then the next.
    assert_eq!(map(&esm, "CN=Ann,OU=Dev,O=ACME", "ldap").unwrap(), "ALICE");
    assert_eq!(map(&esm, "CN=Ann,OU=Ops,O=ACME", "ldap").unwrap(), "CAROL");
    // 3. any user in the registry.
    assert_eq!(map(&esm, "CN=Ann,O=Other", "ldap").unwrap(), "DAVE");
    assert_eq!(map(&esm, "plain-name", "ldap").unwrap(), "DAVE");
    // 3b (zgate's decision). The name in any registry.
    assert_eq!(map(&esm, dn, "other").unwrap(), "ERIN");
    // 4. the default filter.
    assert_eq!(map(&esm, "CN=Ann,O=Other", "other").unwrap(), "FRANK");
    // 5. nothing.
    ok(&esm, "RACMAP ID(FRANK) DELMAP");
    ok(&esm, REFRESH);
    let e = map(&esm, "CN=Ann,O=Other", "other").unwrap_err();
    assert_eq!(codes(&e), (8, 8, 48));
    assert_eq!(e, UsermapError::NoFilter);
}

/// IBM, z/OS Security Server RACF Callable Services, "R_usermap (IRRSIM00)", "Function" and "Return and reason codes": class IDIDMAP not active or not RACLISTed answers 8/8/48.
#[test]
fn mapping_needs_ididmap_active_and_raclisted() {
    let (_d, esm) = setup();
    ok(&esm, &racmap("BOB", "bob", "r", "l"));
    assert_eq!(
        map(&esm, "bob", "r").unwrap_err(),
        UsermapError::ClassInactive
    );
    ok(&esm, "SETROPTS CLASSACT(IDIDMAP)");
    assert_eq!(codes(&map(&esm, "bob", "r").unwrap_err()), (8, 8, 48));
    ok(&esm, "SETROPTS RACLIST(IDIDMAP)");
    assert_eq!(map(&esm, "bob", "r").unwrap(), "BOB");
    ok(&esm, "SETROPTS NOCLASSACT(IDIDMAP)");
    assert_eq!(
        map(&esm, "bob", "r").unwrap_err(),
        UsermapError::ClassInactive
    );
    ok(&esm, "SETROPTS CLASSACT(IDIDMAP)");
    assert_eq!(map(&esm, "bob", "r").unwrap(), "BOB");
    ok(&esm, "SETROPTS NORACLIST(IDIDMAP)");
    assert_eq!(
        map(&esm, "bob", "r").unwrap_err(),
        UsermapError::ClassInactive
    );
}

/// IBM, z/OS Security Server RACF Command Language Reference, "RACMAP (Create, delete, list, or query a distributed identity filter)", usage notes: after MAP or DELMAP, `SETROPTS RACLIST(IDIDMAP) REFRESH` makes the change count.
#[test]
fn map_and_delmap_reach_lookups_at_refresh() {
    let (_d, esm) = setup();
    ok(&esm, ACTIVE);
    ok(&esm, &racmap("BOB", "bob", "r", "l"));
    assert_eq!(map(&esm, "bob", "r").unwrap_err(), UsermapError::NoFilter);
    ok(&esm, REFRESH);
    assert_eq!(map(&esm, "bob", "r").unwrap(), "BOB");
    ok(&esm, "RACMAP ID(BOB) DELMAP(LABEL('l'))");
    assert_eq!(map(&esm, "bob", "r").unwrap(), "BOB");
    ok(&esm, REFRESH);
    assert_eq!(map(&esm, "bob", "r").unwrap_err(), UsermapError::NoFilter);
}

/// IBM, z/OS Security Server RACF Command Language Reference, "RACMAP (Create, delete, list, or query a distributed identity filter)", usage notes: the in-storage IDIDMAP profiles are what lookups read, in every address space, once refreshed.
#[test]
fn another_process_sees_what_was_refreshed() {
    let (dir, esm) = setup();
    ok(&esm, ACTIVE);
    ok(&esm, &racmap("BOB", "bob", "r", "l"));
    let other = open(dir.path());
    assert_eq!(map(&other, "bob", "r").unwrap_err(), UsermapError::NoFilter);
    ok(&esm, REFRESH);
    other.reload_if_changed().unwrap();
    assert_eq!(map(&other, "bob", "r").unwrap(), "BOB");
    // Changed in the other process, refreshed there: seen here.
    other
        .run_command(&Issuer::Operator, "RACMAP ID(BOB) DELMAP")
        .unwrap();
    other.run_command(&Issuer::Operator, REFRESH).unwrap();
    esm.reload_if_changed().unwrap();
    assert_eq!(map(&esm, "bob", "r").unwrap_err(), UsermapError::NoFilter);
    // A process started later builds the same copy.
    assert_eq!(
        map(&open(dir.path()), "bob", "r").unwrap_err(),
        UsermapError::NoFilter
    );
}

/// IBM, z/OS Security Server RACF Security Administrator's Guide, "Distributed identity filters": each filter is an IDIDMAP profile linked to the user profile, deleted with it.
#[test]
fn deluser_removes_the_users_filters() {
    let (_d, esm) = setup();
    ok(&esm, ACTIVE);
    ok(&esm, &racmap("BOB", "bob", "r", "one"));
    ok(&esm, &racmap("BOB", "bob2", "r", "two"));
    ok(&esm, &racmap("ALICE", "alice", "r", "one"));
    ok(&esm, REFRESH);
    ok(&esm, "DELUSER BOB");
    // Until the refresh the copy still names BOB, who is gone: no mapping.
    assert_eq!(
        map(&esm, "bob", "r").unwrap_err(),
        UsermapError::UndefinedUser { user: "BOB".into() }
    );
    ok(&esm, REFRESH);
    assert_eq!(map(&esm, "bob", "r").unwrap_err(), UsermapError::NoFilter);
    assert_eq!(map(&esm, "alice", "r").unwrap(), "ALICE");
    // Defining BOB again brings none of them back.
    run(&esm, "ADDUSER BOB");
    refused(&esm, "RACMAP ID(BOB) LISTMAP", CommandErrorKind::NotFound);
}

/// IBM, z/OS Security Server RACF Callable Services, "R_usermap (IRRSIM00)", "Return and reason codes" 8/8/16 (no mapping): zgate's lookup is the gateway's logon, so a revoked mapped user is no mapping.
#[test]
fn a_revoked_user_is_refused() {
    let (_d, esm) = setup();
    ok(&esm, ACTIVE);
    ok(&esm, &racmap("BOB", "bob", "r", "l"));
    ok(&esm, REFRESH);
    run(&esm, "ALTUSER BOB REVOKE");
    let e = map(&esm, "bob", "r").unwrap_err();
    assert_eq!(e, UsermapError::Revoked { user: "BOB".into() });
    assert_eq!(codes(&e), (8, 8, 16));
    run(&esm, "ALTUSER BOB RESUME");
    assert_eq!(map(&esm, "bob", "r").unwrap(), "BOB");
}

/// IBM, z/OS Security Server RACF Command Language Reference, "RACMAP (Create, delete, list, or query a distributed identity filter)": QUERY USERDIDFILTER(NAME(...)) REGISTRY(NAME(...)) names the filter and user a lookup would find (its syntax is not confirmed by IBM's examples; zgate follows the operand table).
#[test]
fn query_answers_what_a_lookup_answers() {
    let (_d, esm) = setup();
    ok(&esm, &racmap("BOB", "CN=Bob,O=ACME", "ldap", "l"));
    let q = "RACMAP QUERY USERDIDFILTER(NAME('cn=Bob, o=ACME')) REGISTRY(NAME('ldap'))";
    let lines = ok(&esm, q);
    assert!(
        lines[0].starts_with("IRRW206I") && lines[0].contains("8/8/48"),
        "{lines:?}"
    );
    ok(&esm, ACTIVE);
    let lines = ok(&esm, q);
    assert_eq!(lines[0], "Mapping information for user BOB:");
    assert!(
        lines.contains(&"    >CN=Bob,O=ACME<".to_string()),
        "{lines:?}"
    );
    let lines = ok(
        &esm,
        "RACMAP QUERY USERDIDFILTER(NAME('nobody')) REGISTRY(NAME('ldap'))",
    );
    assert!(lines[0].contains("8/8/48"), "{lines:?}");
    refused(
        &esm,
        "RACMAP QUERY USERDIDFILTER(NAME('x'))",
        CommandErrorKind::Syntax,
    );
    refused(
        &esm,
        "RACMAP ID(BOB) QUERY USERDIDFILTER(NAME('x')) REGISTRY(NAME('r'))",
        CommandErrorKind::Syntax,
    );
}

fn audited() -> (Home, Esm, Arc<MemorySink>) {
    let dir = home();
    let sink = Arc::new(MemorySink::default());
    let esm = Esm::open_store(
        &location(dir.path()),
        EsmConfig {
            clock: Arc::new(ManualClock::new(1_790_000_000_000)),
            hash_cost: HashCost::TEST_ONLY,
            audit: Some(sink.clone()),
            ..EsmConfig::default()
        },
    )
    .unwrap();
    (dir, esm, sink)
}

/// IBM, z/OS Security Server RACF Macros and Interfaces, "SMF record type 80", event code 1 (logon), qualifier 39 (no distributed identity mapping), and IBM, z/OS Security Server RACF Callable Services, "R_usermap (IRRSIM00)".
#[test]
fn a_failed_mapping_is_always_recorded() {
    let (_d, esm, sink) = audited();
    run(&esm, "ADDUSER BOB");
    ok(&esm, ACTIVE);
    let origin = Origin {
        term: Some("10.0.0.1:5000".into()),
        request_id: Some("req-1".into()),
        job_name: Some("ZGATE".into()),
    };
    let from = sink.records().len();
    let e = esm
        .map_distributed_identity(&origin, "CN=Ann,O=X", "ldap")
        .unwrap_err();
    assert_eq!(e, UsermapError::NoFilter);
    let records: Vec<_> = sink.records().into_iter().skip(from).collect();
    assert_eq!(records.len(), 1, "{records:?}");
    let r = &records[0];
    assert_eq!(r["event"], 1);
    assert_eq!(
        r["event_qual"],
        zgate_audit::record::jobinit::NO_USER_FOR_IDENTITY
    );
    assert_eq!(r["log_reason"], serde_json::json!(["ALWAYS"]));
    assert_eq!(
        r["idid"],
        serde_json::json!({"user_dn": "CN=Ann,O=X", "registry": "ldap"})
    );
    assert_eq!(r["request_id"], "req-1");
    assert_eq!(r["term"], "10.0.0.1:5000");
    // A mapping found is not recorded here: the logon it leads to is.
    ok(&esm, &racmap("BOB", "*", "*", "default"));
    ok(&esm, REFRESH);
    let from = sink.records().len();
    assert_eq!(
        esm.map_distributed_identity(&origin, "x", "y").unwrap(),
        "BOB"
    );
    assert!(sink
        .records()
        .into_iter()
        .skip(from)
        .all(|r| r["event"] != 1));
    // A name too long to map is recorded, cut to a bounded length.
    let long = "n".repeat(5000);
    let from = sink.records().len();
    assert_eq!(
        codes(
            &esm.map_distributed_identity(&origin, &long, "y")
                .unwrap_err()
        ),
        (8, 8, 40)
    );
    let r = &sink.records()[from];
    assert_eq!(r["event_qual"], 39);
    assert!(r["idid"]["user_dn"].as_str().unwrap().len() <= 256);
    // A revoked user: a logon refused as revoked (event 1 qualifier 6).
    run(&esm, "ALTUSER BOB REVOKE");
    let from = sink.records().len();
    esm.map_distributed_identity(&origin, "x", "y").unwrap_err();
    let r = &sink.records()[from];
    assert_eq!(
        (r["event"].clone(), r["event_qual"].clone()),
        (1.into(), 6.into())
    );
    assert_eq!(r["evt_user_id"], "BOB");
}

/// IBM, z/OS Security Server RACF Macros and Interfaces, "SMF record type 80", event code 85 (RACMAP); LISTMAP and QUERY change nothing and make no record.
#[test]
fn racmap_changes_are_recorded_and_listings_are_not() {
    let (_d, esm, sink) = audited();
    run(&esm, "ADDUSER BOB");
    let from = sink.records().len();
    let text = racmap("BOB", "LISTMAP", "QUERY", "LISTMAP");
    ok(&esm, &text);
    ok(&esm, "RACMAP ID(BOB) LISTMAP");
    ok(&esm, "RACMAP ID(BOB) LISTMAP(LABEL('LISTMAP'))");
    ok(
        &esm,
        "RACMAP QUERY USERDIDFILTER(NAME('LISTMAP')) REGISTRY(NAME('QUERY'))",
    );
    ok(&esm, "RACMAP ID(BOB) DELMAP(LABEL('LISTMAP'))");
    let records: Vec<_> = sink
        .records()
        .into_iter()
        .skip(from)
        .filter(|r| r["event"] == 85)
        .collect();
    assert_eq!(records.len(), 2, "{records:?}");
    // The text is recorded as typed: RACMAP has no secret to mask.
    assert_eq!(records[0]["cmd"]["text_masked"], text.as_str());
    assert_eq!(records[0]["cmd"]["name"], "RACMAP");
    assert_eq!(
        records[1]["cmd"]["text_masked"],
        "RACMAP ID(BOB) DELMAP(LABEL('LISTMAP'))"
    );
}

/// IBM, z/OS Security Server RACF Command Language Reference, "RACMAP (Create, delete, list, or query a distributed identity filter)": LISTMAP prints the stored (normalized) filter, not the operand as typed.
#[test]
fn command_output_holds_only_what_was_stored() {
    let (_d, esm) = setup();
    // Control characters never reach a listing or the store.
    for bad in ["a\nb", "a\tb", "a\u{1b}[2Jb", "a\u{7f}b"] {
        refused(
            &esm,
            &racmap("BOB", bad, "r", "l"),
            CommandErrorKind::Invalid,
        );
        refused(
            &esm,
            &racmap("BOB", "x", bad, "l"),
            CommandErrorKind::Invalid,
        );
        refused(
            &esm,
            &racmap("BOB", "x", "r", bad),
            CommandErrorKind::Invalid,
        );
    }
    let out = ok(&esm, &racmap("BOB", "ünïcödé ✓", "r", "l"));
    assert_eq!(out.len(), 1);
    let lines = ok(&esm, "RACMAP ID(BOB) LISTMAP");
    assert!(lines.iter().all(|l| !l.chars().any(char::is_control)));
    assert!(lines.contains(&"    >ünïcödé ✓<".to_string()));
}
