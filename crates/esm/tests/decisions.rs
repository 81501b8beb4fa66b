//! The decision procedure, table-driven: each case is RACF commands, a query
//! `USER CLASS RESOURCE LEVEL [KIND=VALUE]` and the expected SAF RC.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use zgate_esm::{AccessLevel, CheckContext, Condition, Decision};

/// Users and groups every case starts with. BOB: default group SYS1, also
/// in DEV and OPS. RES is RESTRICTED, OPR has OPERATIONS, ADM is SPECIAL.
const BASE: &str = "
ADDGROUP (DEV OPS QA)
ADDUSER BOB
CONNECT BOB GROUP(DEV)
CONNECT BOB GROUP(OPS)
ADDUSER CAROL DFLTGRP(DEV)
ADDUSER RES RESTRICTED
CONNECT RES GROUP(DEV)
ADDUSER OPR OPERATIONS
ADDUSER ADM SPECIAL
SETROPTS CLASSACT(ZOWE) GENERIC(ZOWE)
";

/// The decision, asked of three processes on one store, which must agree
/// (RACF's in-storage copies are shared by every process: see
/// `zgate_esm::raclist`): the process that ran the commands; a gateway that
/// was running before them, ran none, and reloaded; and one started after.
fn decide(setup: &str, query: &str) -> Decision {
    let (dir, esm, _clock) = common::fresh();
    common::run(&esm, BASE);
    let gateway = common::open(dir.path());
    common::run(&esm, setup);
    gateway.reload_if_changed().unwrap();
    let later = common::open(dir.path());
    let by_runner = ask(&esm, query);
    for (who, other) in [
        ("the reloaded gateway", &gateway),
        ("a later process", &later),
    ] {
        let d = ask(other, query);
        assert_eq!(
            (d.saf_rc, d.racf_rc, d.reason, &d.profile),
            (by_runner.saf_rc, by_runner.racf_rc, by_runner.reason, &by_runner.profile),
            "\n{who} decides otherwise\nsetup:\n{setup}\nquery: {query}\nrunner: {by_runner}\n{who}: {d}"
        );
    }
    by_runner
}

fn ask(esm: &zgate_esm::Esm, query: &str) -> Decision {
    let words: Vec<&str> = query.split_whitespace().collect();
    let level: AccessLevel = words[3].parse().unwrap();
    let mut ctx = CheckContext::default();
    if let Some(cond) = words.get(4) {
        let (kind, value) = cond.split_once('=').unwrap();
        ctx.conditions.push(Condition {
            kind: kind.into(),
            value: value.into(),
        });
    }
    esm.check_with(words[0], words[1], words[2], level, &ctx)
}

/// The one helper every case goes through.
fn check(setup: &str, query: &str, expected_saf_rc: u32) {
    let d = decide(setup, query);
    assert_eq!(
        d.saf_rc, expected_saf_rc,
        "\nsetup:\n{setup}\nquery: {query}\ndecision: {d}"
    );
    // The triplet is always one of RACF's.
    let triplet = (d.saf_rc, d.racf_rc, d.reason);
    assert!(
        matches!(triplet, (0, 0, 0) | (0, 0, 4) | (4, 4, 0) | (8, 8, 0)),
        "odd triplet {triplet:?}"
    );
}

macro_rules! cases {
    ($($name:ident: $setup:expr, $query:expr => $rc:expr;)*) => {
        $( #[test] fn $name() { check($setup, $query, $rc); } )*
    };
}

cases! {
    // --- generic characters -------------------------------------------
    percent_matches_one_char: "RDEF ZOWE A.% \n PE A.% CL(ZOWE) ID(BOB) AC(READ)", "BOB ZOWE A.B READ" => 0;
    percent_not_two_chars: "RDEF ZOWE A.% \n PE A.% CL(ZOWE) ID(BOB) AC(READ)", "BOB ZOWE A.BC READ" => 4;
    percent_not_a_dot: "RDEF ZOWE A%B UACC(READ)", "BOB ZOWE A.B READ" => 4;
    star_middle_one_qualifier: "RDEF ZOWE A.*.C UACC(READ)", "BOB ZOWE A.X.C READ" => 0;
    star_middle_not_two: "RDEF ZOWE A.*.C UACC(READ)", "BOB ZOWE A.X.Y.C READ" => 4;
    star_first_qualifier: "RDEF ZOWE *.B UACC(READ)", "BOB ZOWE X.B READ" => 0;
    star_last_many_qualifiers: "RDEF ZOWE A.* UACC(READ)", "BOB ZOWE A.B.C READ" => 0;
    star_last_needs_one: "RDEF ZOWE A.* UACC(READ)", "BOB ZOWE A READ" => 4;
    star_end_of_qualifier_zero_chars: "RDEF ZOWE A.B* UACC(READ)", "BOB ZOWE A.B READ" => 0;
    star_end_crosses_qualifiers: "RDEF ZOWE A.B* UACC(READ)", "BOB ZOWE A.BCD.E.F READ" => 0;
    star_inside_qualifier: "RDEF ZOWE A*C.D UACC(READ)", "BOB ZOWE AXYC.D READ" => 0;
    star_inside_qualifier_no_dot: "RDEF ZOWE A*C.D UACC(READ)", "BOB ZOWE AX.YC.D READ" => 4;
    double_star_everything: "RDEF ZOWE ** UACC(READ)", "BOB ZOWE X.Y.Z READ" => 0;
    double_star_zero_qualifiers: "RDEF ZOWE A.** UACC(READ)", "BOB ZOWE A READ" => 0;
    double_star_middle: "RDEF ZOWE A.**.Z UACC(READ)", "BOB ZOWE A.B.C.Z READ" => 0;
    double_star_middle_zero: "RDEF ZOWE A.**.Z UACC(READ)", "BOB ZOWE A.Z READ" => 0;
    double_star_middle_needs_end: "RDEF ZOWE A.**.Z UACC(READ)", "BOB ZOWE A.B READ" => 4;
    double_star_first: "RDEF ZOWE **.Z UACC(READ)", "BOB ZOWE Z READ" => 0;
    check_name_is_literal: "RDEF ZOWE APIML.SERVICES UACC(READ)", "BOB ZOWE APIML.* READ" => 4;
    check_name_star_matched_by_percent: "RDEF ZOWE APIML.% UACC(READ)", "BOB ZOWE APIML.* READ" => 0;
    // Profile names defined while generics are off for the class: IBM, z/OS
    // Security Server RACF Messages and Codes, ICH10321I ("A discrete profile
    // has been created ... only protects the single resource that matches the
    // specified name ... If the specified class is then enabled for generic
    // profiles, the profile becomes unusable").
    generic_name_without_generic_is_discrete: "SETROPTS NOGENERIC(ZOWE) \n RDEF ZOWE APIML.* UACC(READ)", "BOB ZOWE APIML.* READ" => 0;
    generic_name_without_generic_protects_only_itself: "SETROPTS NOGENERIC(ZOWE) \n RDEF ZOWE APIML.* UACC(READ)", "BOB ZOWE APIML.X READ" => 4;
    generic_name_without_generic_unusable_after_generic: "SETROPTS NOGENERIC(ZOWE) \n RDEF ZOWE APIML.* UACC(READ) \n SETROPTS GENERIC(ZOWE)", "BOB ZOWE APIML.* READ" => 4;
    generic_name_without_generic_never_generic: "SETROPTS NOGENERIC(ZOWE) \n RDEF ZOWE APIML.* UACC(READ) \n SETROPTS GENERIC(ZOWE)", "BOB ZOWE APIML.X READ" => 4;
    generic_name_without_generic_yields_to_generic: "SETROPTS NOGENERIC(ZOWE) \n RDEF ZOWE APIML.% UACC(READ) \n SETROPTS GENERIC(ZOWE) \n RDEF ZOWE APIML.** UACC(UPDATE)", "BOB ZOWE APIML.% UPDATE" => 0;
    generic_unused_without_setropts_generic: "SETROPTS NOGENERIC(ZOWE) \n RDEF ZOWE A.** UACC(READ)", "BOB ZOWE A.B READ" => 4;
    // --- precedence: COPY.PAPER... --------------------------------------
    copy_paper_discrete_first: "RDEF ZOWE (COPY.PAPER.% COPY.PAPER.* COPY.PAPER.** COPY.PAPER% COPY.PAPER* COPY.PAPE% COPY.PAP*) UACC(READ) \n RDEF ZOWE COPY.PAPER.TEST UACC(NONE)", "BOB ZOWE COPY.PAPER.TEST READ" => 8;
    copy_paper_percent_over_star: "RDEF ZOWE COPY.PAPER.% UACC(NONE) \n RDEF ZOWE (COPY.PAPER.* COPY.PAPER.** COPY.PAPER* COPY.PAP*) UACC(READ)", "BOB ZOWE COPY.PAPER.X READ" => 8;
    copy_paper_percent_over_star_grants: "RDEF ZOWE COPY.PAPER.% UACC(READ) \n RDEF ZOWE (COPY.PAPER.* COPY.PAPER.** COPY.PAPER* COPY.PAP*) UACC(NONE)", "BOB ZOWE COPY.PAPER.X READ" => 0;
    copy_paper_star_over_double_star: "RDEF ZOWE COPY.PAPER.* UACC(NONE) \n RDEF ZOWE (COPY.PAPER.** COPY.PAPER* COPY.PAP*) UACC(READ)", "BOB ZOWE COPY.PAPER.X READ" => 8;
    copy_paper_double_star_over_paper_star: "RDEF ZOWE COPY.PAPER.** UACC(NONE) \n RDEF ZOWE (COPY.PAPER* COPY.PAP*) UACC(READ)", "BOB ZOWE COPY.PAPER.X READ" => 8;
    copy_paper_double_star_covers_base: "RDEF ZOWE COPY.PAPER.** UACC(NONE) \n RDEF ZOWE (COPY.PAPER* COPY.PAP*) UACC(READ)", "BOB ZOWE COPY.PAPER READ" => 8;
    copy_paper_pct_over_star_in_qualifier: "RDEF ZOWE COPY.PAPER% UACC(NONE) \n RDEF ZOWE (COPY.PAPER* COPY.PAP*) UACC(READ)", "BOB ZOWE COPY.PAPERX READ" => 8;
    copy_paper_longer_literal_wins: "RDEF ZOWE COPY.PAPER* UACC(NONE) \n RDEF ZOWE (COPY.PAPE% COPY.PAP*) UACC(READ)", "BOB ZOWE COPY.PAPER READ" => 8;
    copy_paper_pape_pct_over_pap_star: "RDEF ZOWE COPY.PAPE% UACC(NONE) \n RDEF ZOWE COPY.PAP* UACC(READ)", "BOB ZOWE COPY.PAPEX READ" => 8;
    copy_paper_least_specific_alone: "RDEF ZOWE COPY.PAP* UACC(READ)", "BOB ZOWE COPY.PAPER.TEST READ" => 0;
    cics_ceda_discrete: "RDEF ZOWE (** C* CE*) UACC(NONE) \n RDEF ZOWE CEDA UACC(READ)", "BOB ZOWE CEDA READ" => 0;
    cics_ce_star_after_delete: "RDEF ZOWE (** C*) UACC(NONE) \n RDEF ZOWE CE* UACC(READ) \n RDEF ZOWE CEDA UACC(NONE) \n RDELETE ZOWE CEDA", "BOB ZOWE CEDA READ" => 0;
    only_most_specific_counts: "RDEF ZOWE A.B.* UACC(NONE) \n RDEF ZOWE A.** UACC(READ)", "BOB ZOWE A.B.C READ" => 8;
    // --- discrete beats generic --------------------------------------
    discrete_beats_generic_deny: "RDEF ZOWE X.Y UACC(NONE) \n RDEF ZOWE X.* UACC(READ)", "BOB ZOWE X.Y READ" => 8;
    discrete_beats_generic_grant: "RDEF ZOWE X.Y UACC(READ) \n RDEF ZOWE X.* UACC(NONE)", "BOB ZOWE X.Y READ" => 0;
    // --- user entry beats group --------------------------------------
    user_none_beats_group: "RDEF ZOWE R \n PE R CL(ZOWE) ID(DEV) AC(ALTER) \n PE R CL(ZOWE) ID(BOB) AC(NONE)", "BOB ZOWE R READ" => 8;
    user_read_beats_group_none: "RDEF ZOWE R \n PE R CL(ZOWE) ID(DEV) AC(NONE) \n PE R CL(ZOWE) ID(BOB) AC(READ)", "BOB ZOWE R READ" => 0;
    user_entry_decides_level: "RDEF ZOWE R \n PE R CL(ZOWE) ID(DEV) AC(UPDATE) \n PE R CL(ZOWE) ID(BOB) AC(READ)", "BOB ZOWE R UPDATE" => 8;
    group_entry_grants: "RDEF ZOWE R \n PE R CL(ZOWE) ID(DEV) AC(READ)", "BOB ZOWE R READ" => 0;
    group_entry_too_low: "RDEF ZOWE R \n PE R CL(ZOWE) ID(DEV) AC(READ)", "BOB ZOWE R UPDATE" => 8;
    // --- GRPLIST -----------------------------------------------------
    grplist_highest_group: "RDEF ZOWE R \n PE R CL(ZOWE) ID(DEV) AC(READ) \n PE R CL(ZOWE) ID(OPS) AC(UPDATE)", "BOB ZOWE R UPDATE" => 0;
    grplist_group_none_does_not_deny: "RDEF ZOWE R \n PE R CL(ZOWE) ID(DEV) AC(NONE) \n PE R CL(ZOWE) ID(OPS) AC(READ)", "BOB ZOWE R READ" => 0;
    nogrplist_default_group_only: "SETROPTS NOGRPLIST \n RDEF ZOWE R \n PE R CL(ZOWE) ID(OPS) AC(UPDATE)", "BOB ZOWE R UPDATE" => 8;
    nogrplist_default_group_counts: "SETROPTS NOGRPLIST \n RDEF ZOWE R \n PE R CL(ZOWE) ID(DEV) AC(UPDATE)", "CAROL ZOWE R UPDATE" => 0;
    grplist_again: "SETROPTS NOGRPLIST \n SETROPTS GRPLIST \n RDEF ZOWE R \n PE R CL(ZOWE) ID(OPS) AC(UPDATE)", "BOB ZOWE R UPDATE" => 0;
    removed_group_no_longer_counts: "RDEF ZOWE R \n PE R CL(ZOWE) ID(OPS) AC(READ) \n REMOVE BOB GROUP(OPS)", "BOB ZOWE R READ" => 8;
    // --- ID(*) -------------------------------------------------------
    id_star_grants_defined_user: "RDEF ZOWE R UACC(NONE) \n PE R CL(ZOWE) ID(*) AC(READ)", "CAROL ZOWE R READ" => 0;
    id_star_not_for_undefined: "RDEF ZOWE R UACC(NONE) \n PE R CL(ZOWE) ID(*) AC(READ)", "NOBODY ZOWE R READ" => 8;
    id_star_before_uacc: "RDEF ZOWE R UACC(READ) \n PE R CL(ZOWE) ID(*) AC(NONE)", "CAROL ZOWE R READ" => 8;
    id_star_after_user_entry: "RDEF ZOWE R \n PE R CL(ZOWE) ID(*) AC(READ) \n PE R CL(ZOWE) ID(CAROL) AC(NONE)", "CAROL ZOWE R READ" => 8;
    id_star_after_group_entry: "RDEF ZOWE R \n PE R CL(ZOWE) ID(*) AC(UPDATE) \n PE R CL(ZOWE) ID(DEV) AC(READ)", "CAROL ZOWE R UPDATE" => 8;
    // --- UACC --------------------------------------------------------
    uacc_read_grants_read: "RDEF ZOWE R UACC(READ)", "CAROL ZOWE R READ" => 0;
    uacc_read_not_update: "RDEF ZOWE R UACC(READ)", "CAROL ZOWE R UPDATE" => 8;
    uacc_applies_to_undefined_users: "RDEF ZOWE R UACC(READ)", "NOBODY ZOWE R READ" => 0;
    uacc_alter_grants_all: "RDEF ZOWE R UACC(ALTER)", "CAROL ZOWE R ALTER" => 0;
    uacc_default_none: "RDEF ZOWE R", "CAROL ZOWE R READ" => 8;
    ralter_uacc: "RDEF ZOWE R \n RALTER ZOWE R UACC(UPDATE)", "CAROL ZOWE R UPDATE" => 0;
    // --- levels ------------------------------------------------------
    execute_below_read: "RDEF ZOWE R \n PE R CL(ZOWE) ID(CAROL) AC(EXECUTE)", "CAROL ZOWE R READ" => 8;
    control_covers_update: "RDEF ZOWE R \n PE R CL(ZOWE) ID(CAROL) AC(CONTROL)", "CAROL ZOWE R UPDATE" => 0;
    none_request_granted_by_none: "RDEF ZOWE R", "CAROL ZOWE R NONE" => 0;
    lower_case_query: "RDEF ZOWE APIML.RES \n PE APIML.RES CL(ZOWE) ID(CAROL) AC(READ)", "carol zowe apiml.res read" => 0;
    // --- RESTRICTED --------------------------------------------------
    restricted_ignores_uacc: "RDEF ZOWE R UACC(READ)", "RES ZOWE R READ" => 8;
    restricted_ignores_id_star: "RDEF ZOWE R \n PE R CL(ZOWE) ID(*) AC(READ)", "RES ZOWE R READ" => 8;
    restricted_user_entry_counts: "RDEF ZOWE R \n PE R CL(ZOWE) ID(RES) AC(READ)", "RES ZOWE R READ" => 0;
    restricted_group_entry_counts: "RDEF ZOWE R \n PE R CL(ZOWE) ID(DEV) AC(READ)", "RES ZOWE R READ" => 0;
    restricted_ignores_global: "SETROPTS GLOBAL(ZOWE) \n RDEF GLOBAL ZOWE ADDMEM('R'/READ) \n SETROPTS GLOBAL(ZOWE) REFRESH \n RDEF ZOWE R", "RES ZOWE R READ" => 8;
    restricted_still_not_protected: "RDEF ZOWE OTHER", "RES ZOWE R READ" => 4;
    // --- WARNING -----------------------------------------------------
    warning_grants: "RDEF ZOWE R WARNING", "CAROL ZOWE R UPDATE" => 0;
    warning_even_over_user_none: "RDEF ZOWE R WARNING \n PE R CL(ZOWE) ID(CAROL) AC(NONE)", "CAROL ZOWE R READ" => 0;
    nowarning_denies: "RDEF ZOWE R WARNING \n RALTER ZOWE R NOWARNING", "CAROL ZOWE R READ" => 8;
    // --- conditional entries -----------------------------------------
    when_terminal_matches: "RDEF ZOWE R \n PE R CL(ZOWE) ID(CAROL) AC(READ) WHEN(TERMINAL(T1))", "CAROL ZOWE R READ TERMINAL=T1" => 0;
    when_without_context: "RDEF ZOWE R \n PE R CL(ZOWE) ID(CAROL) AC(READ) WHEN(TERMINAL(T1))", "CAROL ZOWE R READ" => 8;
    when_other_terminal: "RDEF ZOWE R \n PE R CL(ZOWE) ID(CAROL) AC(READ) WHEN(TERMINAL(T1))", "CAROL ZOWE R READ TERMINAL=T2" => 8;
    when_group_entry: "RDEF ZOWE R \n PE R CL(ZOWE) ID(DEV) AC(UPDATE) WHEN(SERVAUTH(NET1))", "CAROL ZOWE R UPDATE SERVAUTH=NET1" => 0;
    when_after_standard_list: "RDEF ZOWE R \n PE R CL(ZOWE) ID(CAROL) AC(READ) \n PE R CL(ZOWE) ID(CAROL) AC(UPDATE) WHEN(PROGRAM(P1))", "CAROL ZOWE R UPDATE PROGRAM=P1" => 0;
    when_level_too_low: "RDEF ZOWE R \n PE R CL(ZOWE) ID(CAROL) AC(READ) WHEN(PROGRAM(P1))", "CAROL ZOWE R UPDATE PROGRAM=P1" => 8;
    when_deleted: "RDEF ZOWE R \n PE R CL(ZOWE) ID(CAROL) AC(READ) WHEN(TERMINAL(T1)) \n PE R CL(ZOWE) ID(CAROL) DELETE WHEN(TERMINAL(T1))", "CAROL ZOWE R READ TERMINAL=T1" => 8;
    // --- inactive class, no profile ----------------------------------
    inactive_class: "RDEF FACILITY BPX.SERVER UACC(NONE)", "CAROL FACILITY BPX.SERVER READ" => 4;
    deactivated_class: "RDEF ZOWE R UACC(NONE) \n SETROPTS NOCLASSACT(ZOWE)", "CAROL ZOWE R READ" => 4;
    activated_class_decides: "RDEF FACILITY BPX.SERVER UACC(NONE) \n SETROPTS CLASSACT(FACILITY)", "CAROL FACILITY BPX.SERVER READ" => 8;
    no_profile_at_all: "", "CAROL ZOWE APIML.SERVICES READ" => 4;
    no_matching_profile: "RDEF ZOWE APIML.X.** UACC(NONE)", "CAROL ZOWE APIML.SERVICES READ" => 4;
    deleted_profile_unprotects: "RDEF ZOWE R UACC(NONE) \n RDELETE ZOWE R", "CAROL ZOWE R READ" => 4;
    // --- GLOBAL ------------------------------------------------------
    // IBM, z/OS Security Server RACF Command Language Reference, SETROPTS,
    // "GLOBAL" (the table changes at SETROPTS GLOBAL(class) REFRESH).
    global_grants_without_profile: "SETROPTS GLOBAL(ZOWE) \n RDEF GLOBAL ZOWE ADDMEM('APIML.RES'/READ) \n SETROPTS GLOBAL(ZOWE) REFRESH", "CAROL ZOWE APIML.RES READ" => 0;
    global_before_profile: "RDEF ZOWE APIML.RES UACC(NONE) \n SETROPTS GLOBAL(ZOWE) \n RDEF GLOBAL ZOWE ADDMEM('APIML.RES'/UPDATE) \n SETROPTS GLOBAL(ZOWE) REFRESH", "CAROL ZOWE APIML.RES UPDATE" => 0;
    global_level_too_low_falls_through: "RDEF ZOWE APIML.RES UACC(NONE) \n SETROPTS GLOBAL(ZOWE) \n RDEF GLOBAL ZOWE ADDMEM('APIML.RES'/READ) \n SETROPTS GLOBAL(ZOWE) REFRESH", "CAROL ZOWE APIML.RES UPDATE" => 8;
    global_never_denies: "RDEF ZOWE APIML.RES UACC(READ) \n SETROPTS GLOBAL(ZOWE) \n RDEF GLOBAL ZOWE ADDMEM('APIML.RES'/NONE) \n SETROPTS GLOBAL(ZOWE) REFRESH", "CAROL ZOWE APIML.RES READ" => 0;
    global_waits_for_refresh: "SETROPTS GLOBAL(ZOWE) \n RDEF GLOBAL ZOWE \n RALTER GLOBAL ZOWE ADDMEM('APIML.RES'/READ)", "CAROL ZOWE APIML.RES READ" => 4;
    global_generic_member: "SETROPTS GLOBAL(ZOWE) \n RDEF GLOBAL ZOWE ADDMEM('APIML.**'/UPDATE) \n SETROPTS GLOBAL(ZOWE) REFRESH", "CAROL ZOWE APIML.A.B UPDATE" => 0;
    global_needs_setropts_global: "RDEF GLOBAL ZOWE ADDMEM('APIML.RES'/READ)", "CAROL ZOWE APIML.RES READ" => 4;
    global_off_again: "SETROPTS GLOBAL(ZOWE) \n RDEF GLOBAL ZOWE ADDMEM('APIML.RES'/READ) \n SETROPTS GLOBAL(ZOWE) REFRESH \n SETROPTS NOGLOBAL(ZOWE)", "CAROL ZOWE APIML.RES READ" => 4;
    // --- OPERATIONS, SPECIAL -----------------------------------------
    // OPERATIONS counts only in the classes whose class descriptor says
    // OPER=YES (IBM, RACF Security Administrator's Guide, "OPERATIONS
    // attribute"; spec esm.md section 3 step 8): TAPEVOL yes, ZOWE and
    // FACILITY no.
    operations_when_not_listed: "SETROPTS CLASSACT(TAPEVOL) \n RDEF TAPEVOL R UACC(NONE)", "OPR TAPEVOL R ALTER" => 0;
    operations_not_in_zowe: "RDEF ZOWE R UACC(NONE)", "OPR ZOWE R READ" => 8;
    operations_not_in_facility: "SETROPTS CLASSACT(FACILITY) \n RDEF FACILITY R UACC(NONE)", "OPR FACILITY R READ" => 8;
    operations_not_in_an_added_class: "SETROPTS CLASSACT(MYCLASS) \n RDEF MYCLASS R UACC(NONE)", "OPR MYCLASS R READ" => 8;
    operations_not_over_user_entry: "SETROPTS CLASSACT(TAPEVOL) \n RDEF TAPEVOL R \n PE R CL(TAPEVOL) ID(OPR) AC(NONE)", "OPR TAPEVOL R READ" => 8;
    operations_not_over_group_entry: "SETROPTS CLASSACT(TAPEVOL) \n RDEF TAPEVOL R \n PE R CL(TAPEVOL) ID(SYS1) AC(NONE)", "OPR TAPEVOL R READ" => 8;
    special_alone_grants_nothing: "RDEF ZOWE R UACC(NONE)", "ADM ZOWE R READ" => 8;
    // --- refresh semantics -------------------------------------------
    auto_refresh_after_command: "RDEF ZOWE R \n PE R CL(ZOWE) ID(CAROL) AC(READ)", "CAROL ZOWE R READ" => 0;
    // RACLISTed classes: IBM, z/OS Security Server RACF Command Language
    // Reference, SETROPTS, "RACLIST" and "REFRESH" (changes to the profiles
    // of a RACLISTed class take effect at SETROPTS RACLIST(class) REFRESH);
    // every case is asked of three processes (see `decide`).
    raclist_waits_for_refresh: "RDEF ZOWE R \n SETROPTS RACLIST(ZOWE) \n PE R CL(ZOWE) ID(CAROL) AC(READ)", "CAROL ZOWE R READ" => 8;
    raclist_new_profile_waits: "SETROPTS RACLIST(ZOWE) \n RDEF ZOWE R UACC(NONE)", "CAROL ZOWE R READ" => 4;
    raclist_refresh_applies: "RDEF ZOWE R \n SETROPTS RACLIST(ZOWE) \n PE R CL(ZOWE) ID(CAROL) AC(READ) \n SETROPTS RACLIST(ZOWE) REFRESH", "CAROL ZOWE R READ" => 0;
    raclist_delete_waits: "RDEF ZOWE R UACC(READ) \n SETROPTS RACLIST(ZOWE) \n RDELETE ZOWE R", "CAROL ZOWE R READ" => 0;
    noraclist_back_to_auto: "RDEF ZOWE R \n SETROPTS RACLIST(ZOWE) \n SETROPTS NORACLIST(ZOWE) \n PE R CL(ZOWE) ID(CAROL) AC(READ)", "CAROL ZOWE R READ" => 0;
    // --- PERMIT variants ---------------------------------------------
    permit_delete_falls_to_uacc: "RDEF ZOWE R UACC(NONE) \n PE R CL(ZOWE) ID(CAROL) AC(READ) \n PE R CL(ZOWE) ID(CAROL) DELETE", "CAROL ZOWE R READ" => 8;
    permit_reset_clears: "RDEF ZOWE R \n PE R CL(ZOWE) ID(CAROL DEV) AC(READ) \n PE R CL(ZOWE) RESET", "CAROL ZOWE R READ" => 8;
    permit_from_copies: "RDEF ZOWE SRC \n PE SRC CL(ZOWE) ID(CAROL) AC(UPDATE) \n RDEF ZOWE DST \n PE DST CL(ZOWE) FROM(SRC)", "CAROL ZOWE DST UPDATE" => 0;
    permit_default_level_read: "RDEF ZOWE R \n PE R CL(ZOWE) ID(CAROL)", "CAROL ZOWE R READ" => 0;
    deluser_falls_to_uacc: "RDEF ZOWE R UACC(NONE) \n PE R CL(ZOWE) ID(*) AC(READ) \n DELUSER CAROL", "CAROL ZOWE R READ" => 8;
}

#[test]
fn warning_mode_grants_with_reason_4_and_says_so() {
    let d = decide("RDEF ZOWE R WARNING", "CAROL ZOWE R UPDATE");
    assert_eq!((d.saf_rc, d.racf_rc, d.reason), (0, 0, 4));
    assert_eq!(d.granted_by, Some(zgate_esm::GrantSource::Warning));
    assert!(d.to_string().contains("WARNING"), "{d}");
}

#[test]
fn explanation_names_profile_and_entry() {
    let d = decide(
        "RDEF ZOWE APIML.** \n PE APIML.** CL(ZOWE) ID(OPS) AC(UPDATE)",
        "BOB ZOWE APIML.SERVICES READ",
    );
    assert!(d.authorized());
    assert_eq!(d.profile.as_deref(), Some("APIML.**"));
    assert_eq!(
        d.granted_by,
        Some(zgate_esm::GrantSource::Group("OPS".into()))
    );
    let text = d.to_string();
    assert!(text.contains("APIML.**") && text.contains("OPS"), "{text}");
    let d = decide("", "BOB ZOWE APIML.SERVICES READ");
    assert_eq!((d.saf_rc, d.racf_rc, d.reason, d.profile), (4, 4, 0, None));
    let d = decide("RDEF ZOWE R", "BOB ZOWE R READ");
    assert_eq!((d.saf_rc, d.racf_rc, d.reason), (8, 8, 0));
    assert_eq!(d.decided_by, Some(zgate_esm::GrantSource::Uacc));
}
