//! Arbitrary command text never panics, and a failing command never changes
//! the database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use proptest::prelude::*;
use zgate_esm::Issuer;

fn command_like() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        Just("ADDUSER".to_owned()),
        Just("AU".to_owned()),
        Just("PERMIT".to_owned()),
        Just("RDEF".to_owned()),
        Just("SETROPTS".to_owned()),
        Just("RALTER".to_owned()),
        Just("CONNECT".to_owned()),
        Just("DELUSER".to_owned()),
        Just("ZOWE".to_owned()),
        Just("BOB".to_owned()),
        Just("CLASS(ZOWE)".to_owned()),
        Just("ID(BOB)".to_owned()),
        Just("ACCESS(READ)".to_owned()),
        Just("WHEN(TERMINAL(X))".to_owned()),
        Just("PASSWORD(INTERVAL(3))".to_owned()),
        Just("'quoted '' string'".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("'".to_owned()),
        "[A-Z*%.()' ,]{0,12}",
        any::<String>(),
    ];
    prop::collection::vec(word, 0..8).prop_map(|w| w.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]
    #[test]
    fn commands_never_panic_and_failures_change_nothing(cmds in prop::collection::vec(command_like(), 1..6)) {
        let (_d, esm, _c) = common::fresh();
        common::run(&esm, "ADDUSER BOB\nSETROPTS CLASSACT(ZOWE) GENERIC(ZOWE)\nRDEFINE ZOWE APIML.**");
        for cmd in cmds {
            let before = esm.dump_store().unwrap();
            if esm.run_command(&Issuer::Operator, &cmd).is_err() {
                prop_assert_eq!(before, esm.dump_store().unwrap(), "`{}` failed but changed the database", cmd);
            }
            let _ = esm.check("BOB", "ZOWE", &cmd, zgate_esm::AccessLevel::Read);
        }
    }
}
