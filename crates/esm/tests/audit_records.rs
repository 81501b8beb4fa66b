//! What the ESM records, and who may change what it records: RACF's logging
//! controls (profile AUDIT, GLOBALAUDIT, UAUDIT, SETROPTS AUDIT, LOGOPTIONS,
//! SAUDIT, CMDVIOL), the AUDITOR attribute's authority, the listings that
//! show the settings, and the records of logons, checks and commands.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use serde_json::{Map, Value};
use zgate_esm::{
    AccessLevel, CheckContext, CommandErrorKind, Esm, EsmConfig, HashCost, Issuer, MemorySink,
    Origin, VerifyOutcome,
};

type Record = Map<String, Value>;

fn audited() -> (common::Home, Esm, Arc<MemorySink>) {
    let dir = common::home();
    let sink = Arc::new(MemorySink::default());
    let esm = Esm::open_store(
        &common::location(dir.path()),
        EsmConfig {
            clock: Arc::new(common::ManualClock::new(1_790_000_000_000)),
            hash_cost: HashCost::TEST_ONLY,
            audit: Some(sink.clone()),
            ..EsmConfig::default()
        },
    )
    .unwrap();
    common::run(
        &esm,
        "ADDUSER SPEC SPECIAL\nADDUSER AUD AUDITOR\nADDUSER BOTH SPECIAL AUDITOR\n\
         ADDUSER BOB PASSWORD(SECRET1) NOEXPIRED\n\
         SETROPTS CLASSACT(ZOWE) GENERIC(ZOWE)\nRDEFINE ZOWE APIML.** UACC(NONE)\n\
         PERMIT APIML.** CLASS(ZOWE) ID(BOB) ACCESS(UPDATE)",
    );
    (dir, esm, sink)
}

/// The records written since `from`, of `event`.
fn of(sink: &MemorySink, from: usize, event: u64) -> Vec<Record> {
    sink.records()
        .into_iter()
        .skip(from)
        .filter(|r| r["event"] == event)
        .collect()
}

fn as_user(esm: &Esm, user: &str, command: &str) -> Result<Vec<String>, CommandErrorKind> {
    esm.run_command(&Issuer::User(user.into()), command)
        .map(|o| o.lines)
        .map_err(|e| e.kind)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn read(esm: &Esm, user: &str, resource: &str, level: AccessLevel) -> bool {
    esm.check(user, "ZOWE", resource, level).authorized()
}

#[test]
fn only_an_auditor_changes_what_is_recorded() {
    let (_d, esm, sink) = audited();
    // SPECIAL without AUDITOR: the keyword is ignored, the command runs
    // (qualifier 2, "keyword violations").
    let n = sink.records().len();
    let lines = as_user(&esm, "SPEC", "ALTUSER BOB UAUDIT").unwrap();
    assert!(
        lines.iter().any(|l| l.contains("UAUDIT IGNORED")),
        "{lines:?}"
    );
    let lu = as_user(&esm, "SPEC", "LISTUSER BOB").unwrap().join("\n");
    assert!(!lu.contains("UAUDIT"), "{lu}");
    let r = &of(&sink, n, 13)[0];
    assert_eq!(r["event_qual"], 2);
    assert_eq!(strings(&r["ignored"]), ["UAUDIT"]);
    assert_eq!(strings(&r["auth"]), ["SPECIAL"]);
    // An AUDITOR sets it; the listing shows it.
    let n = sink.records().len();
    as_user(&esm, "AUD", "ALTUSER BOB UAUDIT").unwrap();
    let lu = as_user(&esm, "AUD", "LISTUSER BOB").unwrap().join("\n");
    assert!(lu.contains("UAUDIT"), "{lu}");
    let r = &of(&sink, n, 13)[0];
    assert_eq!(r["event_qual"], 0);
    assert_eq!(strings(&r["auth"]), ["AUDITOR"]);
    assert!(strings(&r["log_reason"]).contains(&"ALWAYS".to_owned()));
    // An AUDITOR alone may not change anything else (qualifier 1, CMDVIOL).
    let n = sink.records().len();
    assert_eq!(
        as_user(&esm, "AUD", "ALTUSER BOB SPECIAL UAUDIT"),
        Err(CommandErrorKind::NotAuthorized)
    );
    let r = &of(&sink, n, 13)[0];
    assert_eq!(
        (r["event_qual"].clone(), r["violation"].clone()),
        (1.into(), true.into())
    );
    assert_eq!(strings(&r["log_reason"]), ["CMDVIOL"]);
    // Nobody else.
    assert_eq!(
        as_user(&esm, "BOB", "ALTUSER BOB NOUAUDIT"),
        Err(CommandErrorKind::NotAuthorized)
    );
    // GLOBALAUDIT: AUDITOR only; AUDIT: the owner's (SPECIAL here).
    as_user(
        &esm,
        "SPEC",
        "RALTER ZOWE APIML.** GLOBALAUDIT(ALL(READ)) AUDIT(ALL(UPDATE))",
    )
    .unwrap();
    let rl = as_user(&esm, "AUD", "RLIST ZOWE APIML.**")
        .unwrap()
        .join("\n");
    assert!(rl.contains("AUDITING\n--------\nALL(UPDATE)"), "{rl}");
    assert!(rl.contains("GLOBALAUDIT\n-----------\nNONE"), "{rl}");
    as_user(
        &esm,
        "AUD",
        "RALTER ZOWE APIML.** GLOBALAUDIT(SUCCESS(READ) FAILURES(UPDATE))",
    )
    .unwrap();
    let rl = as_user(&esm, "AUD", "RLIST ZOWE APIML.**")
        .unwrap()
        .join("\n");
    assert!(
        rl.contains("GLOBALAUDIT\n-----------\nSUCCESS(READ) FAILURES(UPDATE)"),
        "{rl}"
    );
    assert_eq!(
        as_user(&esm, "AUD", "RALTER ZOWE APIML.** AUDIT(NONE)"),
        Err(CommandErrorKind::NotAuthorized)
    );
    // SETROPTS: the audit operands are the AUDITOR's, the rest SPECIAL's.
    let lines = as_user(
        &esm,
        "SPEC",
        "SETROPTS LOGOPTIONS(ALWAYS(ZOWE)) AUDIT(USER)",
    )
    .unwrap();
    assert!(
        lines.iter().any(|l| l.contains("LOGOPTIONS IGNORED")),
        "{lines:?}"
    );
    as_user(
        &esm,
        "AUD",
        "SETROPTS LOGOPTIONS(ALWAYS(ZOWE)) AUDIT(USER) NOSAUDIT",
    )
    .unwrap();
    assert_eq!(
        as_user(&esm, "AUD", "SETROPTS CLASSACT(FACILITY)"),
        Err(CommandErrorKind::NotAuthorized)
    );
    let list = as_user(&esm, "AUD", "SETROPTS LIST").unwrap().join("\n");
    assert!(list.contains("ATTRIBUTES = CMDVIOL"), "{list}");
    assert!(list.contains("AUDIT CLASSES = USER"), "{list}");
    assert!(
        list.contains("LOGOPTIONS \"ALWAYS\" CLASSES = ZOWE"),
        "{list}"
    );
    // BOTH holds SPECIAL and AUDITOR: everything.
    as_user(&esm, "BOTH", "SETROPTS SAUDIT CLASSACT(FACILITY)").unwrap();
}

#[test]
fn profile_settings_decide_which_checks_are_recorded() {
    let (_d, esm, sink) = audited();
    // RACF's default AUDIT(FAILURES(READ)): failures only.
    let n = sink.records().len();
    assert!(read(&esm, "BOB", "APIML.A", AccessLevel::Read));
    assert!(!read(&esm, "SPEC", "APIML.A", AccessLevel::Read));
    let got = of(&sink, n, 2);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["evt_user_id"], "SPEC");
    assert_eq!(got[0]["event_qual_name"], "INSAUTH");
    assert_eq!(got[0]["profile"], "APIML.**");
    assert_eq!(got[0]["generic"], true);
    assert_eq!(
        (got[0]["intent"].clone(), got[0]["allowed"].clone()),
        ("READ".into(), "NONE".into())
    );
    assert_eq!(strings(&got[0]["log_reason"]), ["ACCESS"]);
    // AUDIT(SUCCESS(UPDATE)): UPDATE successes, no failures.
    common::run(&esm, "RALTER ZOWE APIML.** AUDIT(SUCCESS(UPDATE))");
    let n = sink.records().len();
    assert!(read(&esm, "BOB", "APIML.A", AccessLevel::Read));
    assert!(read(&esm, "BOB", "APIML.A", AccessLevel::Update));
    assert!(!read(&esm, "SPEC", "APIML.A", AccessLevel::Read));
    let got = of(&sink, n, 2);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        (got[0]["intent"].clone(), got[0]["allowed"].clone()),
        ("UPDATE".into(), "UPDATE".into())
    );
    // GLOBALAUDIT adds; it never removes.
    common::run(&esm, "RALTER ZOWE APIML.** GLOBALAUDIT(FAILURES(READ))");
    let n = sink.records().len();
    assert!(!read(&esm, "SPEC", "APIML.A", AccessLevel::Read));
    assert!(read(&esm, "BOB", "APIML.A", AccessLevel::Update));
    let got = of(&sink, n, 2);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(strings(&got[0]["log_reason"]), ["GLOBAL"]);
    assert_eq!(strings(&got[1]["log_reason"]), ["ACCESS"]);
    // LOGOPTIONS(NEVER) silences the profile and GLOBALAUDIT...
    common::run(&esm, "SETROPTS LOGOPTIONS(NEVER(ZOWE))");
    let n = sink.records().len();
    assert!(!read(&esm, "SPEC", "APIML.A", AccessLevel::Read));
    assert!(read(&esm, "BOB", "APIML.A", AccessLevel::Update));
    assert!(of(&sink, n, 2).is_empty());
    // ...but not UAUDIT, nor a WARNING grant.
    common::run(
        &esm,
        "ALTUSER SPEC UAUDIT\nRDEFINE ZOWE WARNED.* UACC(NONE) WARNING",
    );
    let n = sink.records().len();
    assert!(!read(&esm, "SPEC", "APIML.A", AccessLevel::Read));
    assert!(read(&esm, "BOB", "WARNED.X", AccessLevel::Read));
    let got = of(&sink, n, 2);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(strings(&got[0]["log_reason"]), ["USER"]);
    assert_eq!(got[1]["event_qual_name"], "WARNING");
    assert_eq!(got[1]["user_warning"], true);
    // LOGOPTIONS(ALWAYS): every check, granted or not.
    common::run(
        &esm,
        "SETROPTS LOGOPTIONS(ALWAYS(ZOWE))\nALTUSER SPEC NOUAUDIT",
    );
    let n = sink.records().len();
    assert!(read(&esm, "BOB", "APIML.A", AccessLevel::Read));
    assert!(!read(&esm, "SPEC", "APIML.A", AccessLevel::Read));
    let got = of(&sink, n, 2);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got
        .iter()
        .all(|r| strings(&r["log_reason"]).contains(&"LOGOPT".to_owned())));
}

#[test]
fn a_check_carries_its_origin() {
    let (_d, esm, sink) = audited();
    let origin = Origin {
        term: Some("192.0.2.7:50123".into()),
        request_id: Some("req-42".into()),
        job_name: Some("SVC1".into()),
    };
    let ctx = CheckContext {
        origin,
        ..CheckContext::default()
    };
    let n = sink.records().len();
    assert!(!esm
        .check_with("SPEC", "ZOWE", "APIML.X", AccessLevel::Read, &ctx)
        .authorized());
    let r = &of(&sink, n, 2)[0];
    assert_eq!(r["term"], "192.0.2.7:50123");
    assert_eq!(r["request_id"], "req-42");
    assert_eq!(r["job_name"], "SVC1");
}

#[test]
fn commands_are_recorded_as_setropts_audit_saudit_and_cmdviol_say() {
    let (_d, esm, sink) = audited();
    // SAUDIT (initially on): a SPECIAL user's commands; secrets masked.
    let n = sink.records().len();
    as_user(&esm, "SPEC", "ALTUSER BOB PASSWORD(NEWPW1) NOEXPIRED").unwrap();
    let r = &of(&sink, n, 13)[0];
    assert_eq!(r["cmd"]["name"], "ALTUSER");
    let text = r["cmd"]["text_masked"].as_str().unwrap();
    assert!(
        !text.contains("NEWPW1") && text.contains("PASSWORD("),
        "{text}"
    );
    assert_eq!(strings(&r["log_reason"]), ["SPECIAL"]);
    // NOSAUDIT: not any more; SETROPTS AUDIT(USER): user commands again.
    common::run(&esm, "SETROPTS NOSAUDIT");
    let n = sink.records().len();
    as_user(&esm, "SPEC", "RDEFINE ZOWE OTHER.*").unwrap();
    as_user(&esm, "SPEC", "ALTUSER BOB NAME(ROBERT)").unwrap();
    assert!(of(&sink, n, 21).is_empty());
    assert!(of(&sink, n, 13).is_empty());
    common::run(&esm, "SETROPTS AUDIT(USER ZOWE)");
    let n = sink.records().len();
    as_user(&esm, "SPEC", "ALTUSER BOB NAME(BOBBY)").unwrap();
    as_user(
        &esm,
        "SPEC",
        "PERMIT OTHER.* CLASS(ZOWE) ID(BOB) ACCESS(READ)",
    )
    .unwrap();
    assert_eq!(strings(&of(&sink, n, 13)[0]["log_reason"]), ["CLASS"]);
    assert_eq!(of(&sink, n, 19)[0]["class"], "ZOWE");
    // CMDVIOL: a refused command; NOCMDVIOL: not.
    let n = sink.records().len();
    let _ = as_user(&esm, "BOB", "ADDUSER EVE");
    assert_eq!(of(&sink, n, 10)[0]["event_qual"], 1);
    // (AUDIT(USER) logs user commands, refused ones too: off first.)
    common::run(&esm, "SETROPTS NOCMDVIOL NOAUDIT(USER)");
    let n = sink.records().len();
    let _ = as_user(&esm, "BOB", "ADDUSER EVE");
    assert!(of(&sink, n, 10).is_empty());
    // SETROPTS is always recorded; listings never.
    let n = sink.records().len();
    as_user(&esm, "SPEC", "SETROPTS LIST").unwrap();
    as_user(&esm, "SPEC", "LISTUSER BOB").unwrap();
    let got: Vec<_> = sink.records().into_iter().skip(n).collect();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["event_type"], "SETROPTS");
    // The local operator's commands: TRUSTED, no user.
    let n = sink.records().len();
    common::run(&esm, "SETROPTS SAUDIT\nADDUSER EVE");
    let r = &of(&sink, n, 10)[0];
    assert_eq!(strings(&r["auth"]), ["TRUSTED"]);
    assert_eq!(r["evt_user_id"], "");
}

#[test]
fn logons_are_recorded_with_racf_qualifiers() {
    let (_d, esm, sink) = audited();
    common::run(
        &esm,
        "ADDUSER PAT PHRASE('a long pass phrase 1') NOEXPIRED\nADDUSER OLD PASSWORD(OLDPW1)\n\
         ADDUSER GONE PASSWORD(GONEPW1) NOEXPIRED\nALTUSER GONE REVOKE\n\
         SETROPTS PASSWORD(REVOKE(1))\nADDUSER TRY PASSWORD(TRYPW1) NOEXPIRED",
    );
    let origin = Origin {
        term: Some("198.51.100.1:4000".into()),
        request_id: Some("r9".into()),
        job_name: None,
    };
    let logon = |user: &str, secret: &str, new: Option<&str>| {
        let n = sink.records().len();
        let outcome = esm.verify_from(&origin, user, secret, new, None);
        (outcome, of(&sink, n, 1))
    };
    // A success is not recorded (VERIFY's LOG=ASIS)...
    let (o, got) = logon("BOB", "SECRET1", None);
    assert!(matches!(o, VerifyOutcome::Success { .. }));
    assert!(got.is_empty(), "{got:?}");
    let q = |got: &[Record]| {
        (
            got[0]["event_qual"].as_u64().unwrap(),
            got[0]["violation"].as_bool().unwrap(),
        )
    };
    // ...every failure is.
    assert_eq!(q(&logon("BOB", "WRONG1", None).1), (1, true));
    let (_, got) = logon("NOSUCH", "WRONG1", None);
    assert_eq!(q(&got), (9, true));
    assert_eq!(got[0]["user_ndfnd"], true);
    assert_eq!(got[0]["term"], "198.51.100.1:4000");
    assert_eq!(q(&logon("PAT", "a wrong pass phrase", None).1), (36, true));
    assert_eq!(q(&logon("GONE", "GONEPW1", None).1), (6, true));
    assert_eq!(q(&logon("OLD", "OLDPW1", None).1), (25, true));
    assert_eq!(q(&logon("TRY", "WRONG1", None).1), (1, true));
    assert_eq!(q(&logon("TRY", "WRONG1", None).1), (7, true));
    // A changed password is recorded as a success.
    let (o, got) = logon("OLD", "OLDPW1", Some("NEWPW2"));
    assert!(matches!(o, VerifyOutcome::Success { .. }), "{o:?}");
    assert_eq!(q(&got), (0, false));
    assert_eq!(strings(&got[0]["log_reason"]), ["ALWAYS"]);
    // UAUDIT: every logon of the user.
    common::run(&esm, "ALTUSER BOB UAUDIT");
    let (_, got) = logon("BOB", "SECRET1", None);
    assert_eq!(q(&got), (0, false));
    assert_eq!(strings(&got[0]["log_reason"]), ["USER"]);
}

#[test]
fn passtickets_are_recorded_when_used_and_replayed() {
    let (_d, esm, sink) = audited();
    common::run(
        &esm,
        "ADDUSER ZWESVUSR\nSETROPTS CLASSACT(PTKTDATA) GENERIC(PTKTDATA)\n\
         RDEFINE PTKTDATA TSTAPPL SSIGNON(KEYMASKED(E001193519561977)) UACC(NONE)\n\
         RDEFINE PTKTDATA IRRPTAUTH.TSTAPPL.* UACC(NONE)\n\
         PERMIT IRRPTAUTH.TSTAPPL.* CLASS(PTKTDATA) ID(ZWESVUSR) ACCESS(UPDATE)",
    );
    let origin = Origin::default();
    // Generation is a PTKTDATA check; refused generations are recorded.
    let n = sink.records().len();
    assert!(esm
        .generate_passticket_from(&origin, "BOB", "BOB", "TSTAPPL")
        .is_err());
    let r = &of(&sink, n, 2)[0];
    assert_eq!(
        (
            r["class"].clone(),
            r["res_name"].clone(),
            r["intent"].clone()
        ),
        (
            "PTKTDATA".into(),
            "IRRPTAUTH.TSTAPPL.BOB".into(),
            "UPDATE".into()
        )
    );
    let t = esm
        .generate_passticket_from(&origin, "ZWESVUSR", "BOB", "TSTAPPL")
        .unwrap();
    let n = sink.records().len();
    assert!(matches!(
        esm.verify_for_appl_from(&origin, "BOB", t.as_str(), "TSTAPPL"),
        VerifyOutcome::Success { .. }
    ));
    let got = of(&sink, n, 1);
    assert_eq!(got[0]["event_qual_name"], "SUCCPTKT");
    assert_eq!(got[0]["appl"], "TSTAPPL");
    let n = sink.records().len();
    assert!(!matches!(
        esm.verify_for_appl_from(&origin, "BOB", t.as_str(), "TSTAPPL"),
        VerifyOutcome::Success { .. }
    ));
    let got = of(&sink, n, 1);
    let quals: Vec<u64> = got
        .iter()
        .map(|r| r["event_qual"].as_u64().unwrap())
        .collect();
    assert_eq!(quals, [33, 1], "{got:?}");
    // No record holds the ticket.
    let all = serde_json::to_string(&sink.records()).unwrap();
    assert!(!all.contains(t.as_str()));
}

#[test]
fn audit_settings_persist_and_reach_another_process() {
    let (dir, esm, _sink) = audited();
    common::run(
        &esm,
        "ALTUSER BOB UAUDIT\nRALTER ZOWE APIML.** AUDIT(ALL(CONTROL)) GLOBALAUDIT(SUCCESS(ALTER))\n\
         SETROPTS AUDIT(ZOWE) LOGOPTIONS(SUCCESSES(ZOWE)) NOCMDVIOL OPERAUDIT",
    );
    drop(esm);
    let other = common::open(dir.path());
    let lu = other
        .run_command(&Issuer::Operator, "LISTUSER BOB")
        .unwrap()
        .lines
        .join("\n");
    assert!(lu.contains("UAUDIT"), "{lu}");
    let rl = other
        .run_command(&Issuer::Operator, "RLIST ZOWE APIML.**")
        .unwrap()
        .lines
        .join("\n");
    assert!(
        rl.contains("ALL(CONTROL)") && rl.contains("SUCCESS(ALTER)"),
        "{rl}"
    );
    let list = other
        .run_command(&Issuer::Operator, "SETROPTS LIST")
        .unwrap()
        .lines
        .join("\n");
    assert!(list.contains("ATTRIBUTES = SAUDIT OPERAUDIT"), "{list}");
    assert!(list.contains("AUDIT CLASSES = ZOWE"), "{list}");
    assert!(
        list.contains("LOGOPTIONS \"SUCCESSES\" CLASSES = ZOWE"),
        "{list}"
    );
}

#[test]
fn bad_audit_operands_are_refused_and_change_nothing() {
    let (_d, esm, _sink) = audited();
    for bad in [
        "RALTER ZOWE APIML.** AUDIT(SOMETIMES)",
        "RALTER ZOWE APIML.** AUDIT(ALL(WRITE))",
        "RALTER ZOWE APIML.** AUDIT()",
        "RALTER ZOWE APIML.** AUDIT(NONE ALL)",
        "RDEFINE ZOWE NEW.* GLOBALAUDIT(ALL)",
        "SETROPTS LOGOPTIONS(OFTEN(ZOWE))",
        "SETROPTS LOGOPTIONS(ALWAYS)",
        "SETROPTS LOGOPTIONS(ZOWE)",
        "ADDUSER NEWU UAUDIT",
    ] {
        let before = esm.dump_store().unwrap();
        assert!(
            esm.run_command(&Issuer::Operator, bad).is_err(),
            "{bad} was accepted"
        );
        assert_eq!(esm.dump_store().unwrap(), before, "{bad} changed the store");
    }
}

/// A sink that refuses every record (policy `refuse`, trail down).
struct Refusing;

impl zgate_esm::AuditSink for Refusing {
    fn submit(&self, _: zgate_audit::AuditRecord) -> Result<(), zgate_esm::AuditUnavailable> {
        Err(zgate_esm::AuditUnavailable("down".into()))
    }
}

#[test]
fn nothing_is_recorded_as_done_that_was_not_and_nothing_done_unrecorded() {
    let (dir, esm, sink) = audited();
    // A batch that fails at its second command: the first is not recorded.
    let n = sink.records().len();
    assert!(esm
        .run_atomic(
            &Issuer::Operator,
            &["ALTUSER BOB NAME(X)", "ALTUSER NOSUCH NAME(Y)"]
        )
        .is_err());
    assert!(sink.records().len() == n, "{:?}", &sink.records()[n..]);
    // A trail that refuses: no command runs, no password changes, no
    // check is granted.
    drop(esm);
    let esm = Esm::open_store(
        &common::location(dir.path()),
        EsmConfig {
            hash_cost: HashCost::TEST_ONLY,
            audit: Some(Arc::new(Refusing)),
            ..EsmConfig::default()
        },
    )
    .unwrap();
    let before = esm.dump_store().unwrap();
    assert!(esm.run_command(&Issuer::Operator, "ADDUSER EVE").is_err());
    assert!(matches!(
        esm.verify("BOB", "SECRET1", Some("NEWPW9")),
        VerifyOutcome::StoreUnavailable
    ));
    assert_eq!(esm.dump_store().unwrap().len(), before.len());
    let common = Esm::open_store(
        &common::location(dir.path()),
        EsmConfig {
            hash_cost: HashCost::TEST_ONLY,
            ..EsmConfig::default()
        },
    )
    .unwrap();
    assert!(matches!(
        common.verify("BOB", "SECRET1", None),
        VerifyOutcome::Success { .. }
    ));
    assert!(common.user("EVE").is_none());
    // WARNING grants are always recorded: refused.
    common::run(&common, "RDEFINE ZOWE WARNED.* UACC(NONE) WARNING");
    esm.reload_if_changed().unwrap();
    let d = esm.check("BOB", "ZOWE", "WARNED.X", AccessLevel::Read);
    assert!(!d.authorized() && d.is_unrecorded(), "{d}");
}

#[test]
fn a_name_that_is_no_user_id_is_not_recorded_and_an_auditor_keyword_always_is() {
    let (_d, esm, sink) = audited();
    let n = sink.records().len();
    let _ = esm.verify_from(&Origin::default(), "My P@ssw0rd is long", "x", None, None);
    let r = &of(&sink, n, 1)[0];
    assert_eq!(r["evt_user_id"], "");
    assert_eq!(r["logstr"], "INVALID USERID");
    // NOUAUDIT on a user without UAUDIT still says an AUDITOR acted.
    let n = sink.records().len();
    as_user(&esm, "AUD", "ALTUSER BOB NOUAUDIT").unwrap();
    assert_eq!(of(&sink, n, 13).len(), 1);
}

#[test]
fn racdcert_listings_are_not_recorded_and_a_value_named_list_is_no_listing() {
    let (_d, esm, sink) = audited();
    let n = sink.records().len();
    common::run(
        &esm,
        "RACDCERT MAP ID(BOB) SDNFILTER('CN=BOB.O=ACME') WITHLABEL('LIST')\nRACDCERT LISTMAP ID(BOB)",
    );
    let got = of(&sink, n, 66);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0]["cmd"]["text_masked"]
        .as_str()
        .unwrap()
        .contains("WITHLABEL('LIST')"));
}
