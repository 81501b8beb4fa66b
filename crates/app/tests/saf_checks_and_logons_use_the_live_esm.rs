//! SAF checks and logons on zgate in this process decide with the real
//! ESM, including changes another process commits while it runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{Zgate, EVENT_DEADLINE};

#[test]
fn saf_check_goes_through_the_real_esm() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let server = Zgate::start(&home, &[]);
    for command in [
        "ADDUSER READER PASSWORD(READPW1) NOEXPIRED",
        "SETROPTS CLASSACT(ZOWE) GENERIC(ZOWE)",
        "RDEFINE ZOWE APIML.** UACC(NONE)",
        "PERMIT APIML.** CLASS(ZOWE) ID(READER) ACCESS(READ)",
    ] {
        server.esm(command);
    }
    let body = |level: &str| {
        format!(
            r#"{{"resourceClass":"ZOWE","resourceName":"APIML.SERVICES","accessLevel":"{level}"}}"#
        )
    };
    let check = |auth: &str, level: &str| {
        server.curl(
            &[
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "-H",
                auth,
                "-d",
                &body(level),
            ],
            "/gateway/auth/check",
        )
    };
    let token = server.login("READER", "READPW1");
    let bearer = format!("Authorization: Bearer {token}");
    assert_eq!(check(&bearer, "READ").0, 204);
    let (status, text) = check(&bearer, "UPDATE");
    assert_eq!(status, 401);
    assert!(text.contains("ZWEAG711E"), "{text}");
    assert!(
        text.contains("The principal 'READER' is missing queried authorization."),
        "{text}"
    );
    // Basic credentials work on the check endpoint too.
    use base64::Engine as _;
    let basic = format!(
        "Authorization: Basic {}",
        base64::engine::general_purpose::STANDARD.encode("READER:READPW1")
    );
    assert_eq!(check(&basic, "READ").0, 204);
    // A permission added while the gateway runs is picked up.
    let before = server.generation();
    server
        .esm_result("PERMIT APIML.** CLASS(ZOWE) ID(READER) ACCESS(UPDATE)")
        .unwrap();
    assert!(
        server.reloaded_past(before, EVENT_DEADLINE).is_some(),
        "the new permission was not picked up"
    );
    let (status, text) = check(&bearer, "UPDATE");
    assert_eq!(status, 204, "{text}");
}

#[test]
fn login_failures_count_toward_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let server = Zgate::start(&home, &[]);
    for command in [
        "ADDUSER CAROL PASSWORD(CAROLPW1) NOEXPIRED",
        "SETROPTS PASSWORD(REVOKE(2))",
    ] {
        server.esm(command);
    }
    for _ in 0..3 {
        let (status, text) = server.curl(
            &["-X", "POST", "-u", "CAROL:WRONG1"],
            "/gateway/api/v1/auth/login",
        );
        assert_eq!(status, 401);
        assert!(text.contains("ZWEAG120E"), "{text}");
    }
    let (status, text) = server.curl(
        &["-X", "POST", "-u", "CAROL:CAROLPW1"],
        "/gateway/api/v1/auth/login",
    );
    assert_eq!(status, 401, "{text}");
    assert!(
        text.contains("ZWEAT414E"),
        "revoked after the failures: {text}"
    );
}

/// `PERMIT ... WHEN(SERVAUTH(zone))` grants to requests from the client
/// addresses of that zone (`zgate.network.zones`), on the SAF check
/// endpoint and on the gateway's own gates alike; other kinds never match.
#[test]
fn conditional_permits_match_the_network_zone_of_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let for_zones = |name: &str, zones: &str| {
        let home = dir.path().join(name);
        let server = Zgate::start(&home, &[&format!("zgate.network.zones={zones}")]);
        for command in [
            "ADDUSER READER PASSWORD(READPW1) NOEXPIRED",
            "SETROPTS CLASSACT(ZOWE) GENERIC(ZOWE)",
            "RDEFINE ZOWE APIML.** UACC(NONE)",
            "PERMIT APIML.** CLASS(ZOWE) ID(READER) ACCESS(READ) WHEN(SERVAUTH(LOCAL))",
            "PERMIT APIML.** CLASS(ZOWE) ID(READER) ACCESS(UPDATE) WHEN(TERMINAL(LOCAL))",
        ] {
            server.esm(command);
        }
        let token = server.login("READER", "READPW1");
        let check = |level: &str| {
            server
                .curl(
                    &[
                        "-X",
                        "POST",
                        "-H",
                        "Content-Type: application/json",
                        "-H",
                        &format!("Authorization: Bearer {token}"),
                        "-d",
                        &format!(
                            r#"{{"resourceClass":"ZOWE","resourceName":"APIML.X","accessLevel":"{level}"}}"#
                        ),
                    ],
                    "/gateway/auth/check",
                )
                .0
        };
        let services = server
            .curl(
                &["-H", &format!("Authorization: Bearer {token}")],
                "/gateway/api/v1/services",
            )
            .0;
        (check("READ"), check("UPDATE"), services)
    };
    // The loopback client is in LOCAL: READ by the SERVAUTH permit, never
    // UPDATE by the TERMINAL one; the services list needs READ on
    // APIML.SERVICES.
    assert_eq!(
        for_zones("local", "LOCAL=127.0.0.0/8,LOCAL=::1"),
        (204, 401, 200)
    );
    // Loopback in another zone (the most specific network decides).
    assert_eq!(
        for_zones("other", "LOCAL=10.0.0.0/8,LOOP=127.0.0.0/8,LOOP=::1"),
        (401, 401, 403)
    );
}
