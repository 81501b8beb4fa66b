//! The RACF command language: bad input leaves the database unchanged
//! (compared by a full dump), listings show the state, imports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use zgate_esm::{CommandErrorKind, Esm, Issuer};

const SETUP: &str = "
ADDGROUP DEV
ADDUSER BOB DFLTGRP(DEV) NAME('Bob')
SETROPTS CLASSACT(ZOWE) GENERIC(ZOWE)
RDEFINE ZOWE APIML.** UACC(NONE)
PERMIT APIML.** CLASS(ZOWE) ID(BOB) ACCESS(READ)
";

fn setup() -> (common::Home, Esm) {
    let (d, esm, _c) = common::fresh();
    common::run(&esm, SETUP);
    (d, esm)
}

/// Runs a bad command: it must fail with a RACF/TSO-style message of the
/// given kind, and the database must be byte-for-byte the same rows.
fn bad(esm: &Esm, cmd: &str, kind: CommandErrorKind) -> String {
    let before = esm.dump_store().unwrap();
    let err = esm
        .run_command(&Issuer::Operator, cmd)
        .expect_err(&format!("`{cmd}` should fail"));
    assert_eq!(err.kind, kind, "`{cmd}`: {err}");
    let msg = err.to_string();
    assert!(
        msg.starts_with("ICH") || msg.starts_with("IKJ") || msg.starts_with("IRR"),
        "`{cmd}`: not a RACF-style message: {msg}"
    );
    assert_eq!(
        before,
        esm.dump_store().unwrap(),
        "`{cmd}` changed the database"
    );
    msg
}

#[test]
fn malformed_commands_are_syntax_errors_and_change_nothing() {
    let (_d, esm) = setup();
    use CommandErrorKind::*;
    bad(&esm, "", Syntax);
    bad(&esm, "FROBNICATE BOB", Syntax);
    bad(&esm, "ADDUSER JOE NAME('unterminated", Syntax);
    bad(&esm, "ADDUSER JOE NAME(X", Syntax);
    bad(&esm, "ADDUSER JOE )", Syntax);
    bad(&esm, "ADDUSER", Syntax);
    bad(&esm, "PERMIT APIML.** ID(BOB) ACCESS(READ)", Syntax);
    bad(&esm, "PERMIT APIML.** CLASS(ZOWE)", Syntax);
    bad(&esm, "ALTUSER BOB SPECIAL NOSPECIAL", Syntax);
    bad(&esm, "ADDUSER JOE OWNER", Syntax);
    bad(&esm, "ADDUSER JOE SPECIAL(YES)", Syntax);
    bad(&esm, "SETROPTS", Syntax);
    bad(&esm, "SETROPTS REFRESH", Syntax);
    bad(&esm, "ADDUSER JOE NAME(A) NAME(B)", Syntax);
    bad(
        &esm,
        "PERMIT APIML.** CLASS(ZOWE) ID(BOB) ACCESS(READ) DELETE",
        Syntax,
    );
}

#[test]
fn unknown_and_ambiguous_keywords_are_refused_and_change_nothing() {
    let (_d, esm) = setup();
    let m = bad(&esm, "ADDUSER JOE COLOUR(BLUE)", CommandErrorKind::Syntax);
    assert!(m.contains("INVALID KEYWORD") && m.contains("COLOUR"), "{m}");
    let m = bad(&esm, "ALTUSER BOB NO", CommandErrorKind::Syntax);
    assert!(m.contains("AMBIGUOUS"), "{m}");
    bad(&esm, "RDEFINE ZOWE X.Y BOGUS", CommandErrorKind::Syntax);
    bad(
        &esm,
        "SETROPTS PASSWORD(ROTATE(3))",
        CommandErrorKind::Syntax,
    );
    bad(
        &esm,
        "PERMIT APIML.** CLASS(ZOWE) ID(BOB) WHEN(MOON(FULL))",
        CommandErrorKind::Invalid,
    );
}

#[test]
fn over_long_ids_and_invalid_values_are_refused_and_change_nothing() {
    let (_d, esm) = setup();
    use CommandErrorKind::Invalid;
    bad(&esm, "ADDUSER ABCDEFGHI", Invalid);
    bad(&esm, "ADDUSER BO-B", Invalid);
    bad(&esm, "ADDUSER (JOE BAD!)", Invalid);
    bad(&esm, "ADDGROUP GROUPNAME9", Invalid);
    bad(&esm, "CONNECT BOB GROUP(TOOLONGGRP)", Invalid);
    bad(&esm, "SETROPTS CLASSACT(NOTACLASSNAME)", Invalid);
    bad(&esm, "RDEFINE ZOWE A..B", Invalid);
    bad(&esm, "RDEFINE ZOWE A.**.**", Invalid);
    bad(&esm, "RDEFINE ZOWE A.B** ", Invalid);
    bad(&esm, &format!("RDEFINE ZOWE {}", "A".repeat(247)), Invalid);
    bad(&esm, "RDEFINE ZOWE X UACC(SOMETIMES)", Invalid);
    bad(&esm, "ALTUSER BOB PASSWORD(TOOLONGPW)", Invalid);
    bad(&esm, "ALTUSER BOB PASSWORD(BOB)", Invalid);
    bad(
        &esm,
        "ALTUSER BOB NAME('a name far longer than twenty')",
        Invalid,
    );
    bad(&esm, "SETROPTS PASSWORD(INTERVAL(999))", Invalid);
}

#[test]
fn duplicates_missing_entities_and_unsupported_forms_are_refused() {
    let (_d, esm) = setup();
    use CommandErrorKind::*;
    let m = bad(&esm, "ADDUSER BOB", Duplicate);
    assert!(m.contains("BOB"), "{m}");
    bad(&esm, "ADDUSER DEV", Duplicate);
    bad(&esm, "ADDGROUP DEV", Duplicate);
    bad(&esm, "ADDGROUP BOB", Duplicate);
    let m = bad(&esm, "RDEFINE ZOWE APIML.**", Duplicate);
    assert!(m.starts_with("ICH10102I"), "{m}");
    bad(&esm, "CONNECT BOB GROUP(DEV)", Duplicate);
    // A later duplicate in a list fails the whole command.
    bad(&esm, "ADDUSER (NEW1 BOB)", Duplicate);
    assert!(esm.user("NEW1").is_none());
    let m = bad(&esm, "DELUSER NOBODY", NotFound);
    assert!(m.contains("NOBODY"), "{m}");
    bad(&esm, "DELGROUP NOGRP", NotFound);
    let m = bad(&esm, "RDELETE ZOWE NO.SUCH", NotFound);
    assert!(m.starts_with("ICH12102I"), "{m}");
    bad(&esm, "RALTER ZOWE NO.SUCH UACC(READ)", NotFound);
    bad(&esm, "PERMIT NO.SUCH CLASS(ZOWE) ID(BOB)", NotFound);
    bad(&esm, "PERMIT APIML.** CLASS(ZOWE) ID(NOBODY)", NotFound);
    bad(&esm, "PERMIT APIML.** CLASS(ZOWE) ID(DEV) DELETE", NotFound);
    bad(&esm, "REMOVE BOB GROUP(SYS1)", NotFound);
    bad(&esm, "ALTUSER NOBODY SPECIAL", NotFound);
    bad(&esm, "ADDUSER JOE DFLTGRP(NOGRP)", NotFound);
    bad(&esm, "LISTUSER NOBODY", NotFound);
    bad(&esm, "LISTGRP NOGRP", NotFound);
    bad(&esm, "RLIST ZOWE NO.SUCH", NotFound);
    bad(&esm, "REMOVE BOB GROUP(DEV)", Invalid); // its default group
    bad(&esm, "DELGROUP DEV", Invalid); // BOB is connected
    bad(&esm, "DELGROUP SYS1", Invalid);
    // A group name begins with A-Z, #, $ or @ (IBM, RACF Command Language
    // Reference, ADDGROUP "group-name"); a user id may begin with a digit.
    bad(&esm, "ADDGROUP 1DEV", Invalid);
    bad(&esm, "ADDGROUP (QA 9QA)", Invalid);
    // RACDCERT MAP for an unknown user.
    bad(
        &esm,
        "RACDCERT MAP ID(NOBODY) SDNFILTER('CN=BOB')",
        NotFound,
    );
    // RACMAP MAP needs a registry (tests/identity_maps.rs has the rest).
    bad(&esm, "RACMAP ID(BOB) MAP USERDIDFILTER(NAME('x'))", Syntax);
    // PassTicket keys are given masked (KEYMASKED, EPTKEYMASKED); ICSF-held
    // keys (KEYENCRYPTED, KEYLABEL, EPTKEYLABEL) are refused.
    bad(
        &esm,
        "RDEFINE PTKTDATA APPL SSIGNON(KEYENCRYPTED(0123456789ABCDEF))",
        Syntax,
    );
}

#[test]
fn failed_command_leaves_in_memory_decisions_unchanged() {
    let (_d, esm) = setup();
    bad(
        &esm,
        "PERMIT APIML.** CLASS(ZOWE) ID(BOB NOBODY) ACCESS(ALTER)",
        CommandErrorKind::NotFound,
    );
    let d = esm.check("BOB", "ZOWE", "APIML.X", zgate_esm::AccessLevel::Alter);
    assert_eq!(d.saf_rc, 8, "{d}");
}

#[test]
fn free_keyword_order_abbreviations_commas_case_and_quotes_are_accepted() {
    let (_d, esm) = setup();
    let ok = |c: &str| {
        esm.run_command(&Issuer::Operator, c)
            .unwrap_or_else(|e| panic!("`{c}`: {e}"))
    };
    // Keyword order free, abbreviations, commas, lower case, quotes with ''.
    ok("au (ann, joe) name('O''Brien') dfltgrp(dev) spec");
    ok("pe apiml.** access(update) id(ann) class(zowe)");
    ok("PERMIT 'APIML.**' CL(ZOWE) ID(JOE) ACC(R)");
    ok("ALU JOE NOSPEC OPER");
    let out = ok("LU ANN");
    let text = out.lines.join("\n");
    assert!(
        text.contains("NAME=O'Brien") && text.contains("ATTRIBUTES=SPECIAL PROTECTED"),
        "{text}"
    );
    assert!(text.contains("GROUP=DEV"), "{text}");
    let d = esm.check("ANN", "ZOWE", "APIML.A", zgate_esm::AccessLevel::Update);
    assert!(d.authorized(), "{d}");
    let d = esm.check("JOE", "ZOWE", "APIML.A", zgate_esm::AccessLevel::Read);
    assert!(d.authorized(), "{d}");
}

#[test]
fn listings_and_searches_show_the_current_state() {
    let (_d, esm) = setup();
    let run = |c: &str| {
        esm.run_command(&Issuer::Operator, c)
            .unwrap()
            .lines
            .join("\n")
    };
    run("PERMIT APIML.** CLASS(ZOWE) ID(DEV) ACCESS(UPDATE) WHEN(TERMINAL(T1))");
    let rl = run("RLIST ZOWE APIML.** AUTHUSER");
    assert!(rl.contains("APIML.** (G)"), "{rl}");
    assert!(rl.contains("BOB       READ"), "{rl}");
    assert!(rl.contains("TERMINAL") && rl.contains("T1"), "{rl}");
    let lg = run("LISTGRP DEV");
    assert!(
        lg.contains("INFORMATION FOR GROUP DEV") && lg.contains("BOB"),
        "{lg}"
    );
    let sr = run("SEARCH CLASS(ZOWE) MASK(APIML)");
    assert_eq!(sr, "APIML.**");
    let sr = run("SEARCH CLASS(ZOWE) MASK(NOPE)");
    assert!(sr.starts_with("ICH31005I"), "{sr}");
    let sl = run("SETROPTS LIST");
    assert!(sl.contains("ACTIVE CLASSES = ZOWE"), "{sl}");
    assert!(sl.contains("GENERIC PROFILE CLASSES = ZOWE"), "{sl}");
    let lu = run("LISTUSER BOB");
    assert!(
        lu.contains("USER=BOB") && lu.contains("DEFAULT-GROUP=DEV"),
        "{lu}"
    );
    let au = run("ADDUSER SVC");
    assert_eq!(au, "ICH01024I User SVC is defined as PROTECTED.");
}

/// A Zowe sample SAF file from the repository's `testdata/zowe/saf/`.
fn zowe_saf(path: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../testdata/zowe/saf/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn import_mock_saf_files_unchanged() {
    let (_d, esm, _c) = common::fresh();
    // Zowe's shipped file has an empty safAccess: imports as nothing.
    let r = esm
        .import_yaml(&Issuer::Operator, &zowe_saf("mock-saf.yml"))
        .unwrap();
    assert!(r.commands.is_empty());
    let r = esm
        .import_yaml(&Issuer::Operator, &zowe_saf("mock-saf-test.yml"))
        .unwrap();
    assert!(!r.commands.is_empty());
    use zgate_esm::AccessLevel::*;
    assert_eq!(esm.check("ZOWE", "ZOWE", "APIML.RES", Read).saf_rc, 0);
    assert_eq!(esm.check("ZOWE", "ZOWE", "APIML.RES", Update).saf_rc, 8);
    assert_eq!(esm.check("USER", "ZOWE", "APIML.RESOURCE", Read).saf_rc, 0);
    assert_eq!(esm.check("user", "CLASS", "RESOURCE", Read).saf_rc, 0);
    assert_eq!(esm.check("ZOWE", "ZOWE", "APIML.RESOURCE", Read).saf_rc, 8);
    assert_eq!(esm.check("ZOWE", "ZOWE", "APIML.OTHER", Read).saf_rc, 4);
    assert!(esm.user("USER").unwrap().protected);
    // Importing again is idempotent.
    esm.import_yaml(&Issuer::Operator, &zowe_saf("mock-saf-test.yml"))
        .unwrap();
}

#[test]
fn import_grants_the_highest_level_and_notes_skipped_failure_entries() {
    let (_d, esm, _c) = common::fresh();
    let yaml = "safAccess:\n  ZOWE:\n    APIML.X:\n      READ: [ann]\n      UPDATE: [ann, joe]\n      FAILURE: [zed]\n";
    let r = esm.import_yaml(&Issuer::Operator, yaml).unwrap();
    assert_eq!(r.notes.len(), 1);
    assert_eq!(
        esm.check("ANN", "ZOWE", "APIML.X", zgate_esm::AccessLevel::Update)
            .saf_rc,
        0
    );
}

#[test]
fn import_of_zgate_format_is_all_or_nothing() {
    let (_d, esm, _c) = common::fresh();
    let yaml = "
groups: [{name: DEV}]
users:
  - {id: alice, name: Alice, defaultGroup: DEV, special: true}
classes: [{name: ZOWE, active: true, generic: true}]
profiles:
  - {class: ZOWE, name: APIML.**, uacc: NONE, access: {ALICE: UPDATE, '*': READ}}
";
    esm.import_yaml(&Issuer::Operator, yaml).unwrap();
    assert_eq!(
        esm.check("ALICE", "ZOWE", "APIML.A", zgate_esm::AccessLevel::Update)
            .saf_rc,
        0
    );
    assert!(esm.user("ALICE").unwrap().special);
    // A bad entry anywhere: nothing of the file is imported.
    let before = esm.dump_store().unwrap();
    let bad_yaml = "users: [{id: OK1}, {id: NOT-VALID}]";
    assert!(esm.import_yaml(&Issuer::Operator, bad_yaml).is_err());
    let bad_yaml = "users: [{id: OK1}]\nprofiles: [{class: ZOWE, name: X, access: {NOBODY: READ}}]";
    assert!(esm.import_yaml(&Issuer::Operator, bad_yaml).is_err());
    assert!(esm.import_yaml(&Issuer::Operator, "unknownKey: 1").is_err());
    assert_eq!(before, esm.dump_store().unwrap());
}

/// Profile names RDEFINE refuses or changes the meaning of, with IBM's
/// messages (z/OS Security Server RACF Messages and Codes: ICH10313I,
/// ICH10321I; RACF Command Language Reference, "Profile names for general
/// resources").
#[test]
fn profile_names_with_generic_characters_follow_the_class_settings() {
    let (_d, esm) = setup();
    let msg = bad(&esm, "RDEFINE ZOWE APIML.AB%*", CommandErrorKind::Invalid);
    assert!(msg.contains("ICH10313I"), "{msg}");
    bad(
        &esm,
        "RDEFINE ZOWE APIML.**.X.**",
        CommandErrorKind::Invalid,
    );
    // Generics off for the class: a discrete profile, said so.
    common::run(&esm, "SETROPTS CLASSACT(FACILITY) NOGENERIC(FACILITY)");
    let out = esm
        .run_command(&Issuer::Operator, "RDEFINE FACILITY BPX.* UACC(READ)")
        .unwrap()
        .lines
        .join("\n");
    assert!(
        out.contains("ICH10321I The profile name BPX.* contains generic characters, but generics are not enabled for class FACILITY. A discrete profile has been created."),
        "{out}"
    );
    let listed = esm
        .run_command(&Issuer::Operator, "RLIST FACILITY BPX.*")
        .unwrap()
        .lines
        .join("\n");
    assert!(
        listed.contains("BPX.*") && !listed.contains("(G)"),
        "{listed}"
    );
    // Generics on: a generic profile, no message, listed with (G).
    let out = esm
        .run_command(&Issuer::Operator, "RDEFINE ZOWE APIML.% UACC(READ)")
        .unwrap()
        .lines
        .join("\n");
    assert!(!out.contains("ICH10321I"), "{out}");
    let listed = esm
        .run_command(&Issuer::Operator, "RLIST ZOWE APIML.%")
        .unwrap()
        .lines
        .join("\n");
    assert!(listed.contains("APIML.% (G)"), "{listed}");
}
