//! The contract rows that depend on the security manager, in-process through
//! the router, with the real ESM in a temporary home (cheap hash cost).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use axum::body::Body;
use support::*;
use zgate_esm::{Esm, EsmConfig, HashCost, Issuer};
use zgate_gateway::esm_adapter::{ensure_admin, EsmSecurity};
use zgate_gateway::Settings;

fn esm(dir: &std::path::Path) -> Arc<Esm> {
    let esm = Esm::open_with(
        dir,
        EsmConfig {
            hash_cost: HashCost::TEST_ONLY,
            // The harness's token clock starts at T0 too: users exist from
            // before the tokens issued to them.
            clock: Arc::new(zgate_auth::ManualClock::new(T0)),
            ..EsmConfig::default()
        },
    )
    .unwrap();
    Arc::new(esm)
}

fn run(esm: &Esm, command: &str) {
    esm.run_command(&Issuer::Operator, command).unwrap();
}

fn harness_on(esm: &Arc<Esm>) -> Harness {
    let security = EsmSecurity::new(esm.clone());
    harness_with(
        Arc::new(security.clone()),
        Arc::new(security),
        Settings::default(),
    )
}

#[tokio::test]
async fn login_gives_the_spec_answer_for_each_real_esm_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let esm = esm(dir.path());
    run(&esm, "ADDUSER ALICE PASSWORD(ALICEPW1) NOEXPIRED");
    run(&esm, "ADDUSER TEMP PASSWORD(TEMPPW1)"); // an initial password is expired
    run(&esm, "ADDUSER GONE PASSWORD(GONEPW1) NOEXPIRED");
    run(&esm, "ALTUSER GONE REVOKE");
    let h = harness_on(&esm);

    // Lower case user ids are folded; the token carries the ESM's spelling.
    let reply = login(&h.app, "alice", "ALICEPW1").await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_eq!(
        h.tokens.verify(&reply.cookie_token()).unwrap().claims.sub,
        "ALICE"
    );

    // Unknown user and wrong password: the same answer.
    let unknown = login(&h.app, "NOSUCH", "ALICEPW1").await;
    let wrong = login(&h.app, "ALICE", "WRONGPW1").await;
    unknown.assert_error(401, "ZWEAG120E");
    wrong.assert_error(401, "ZWEAG120E");
    assert_eq!(unknown.body, wrong.body);

    // Expired password, then the newPassword flow.
    login(&h.app, "TEMP", "TEMPPW1")
        .await
        .assert_error(401, "ZWEAT412E");
    let change = |new: &str| {
        req("POST", "/gateway/api/v1/auth/login")
            .header("content-type", "application/json")
            .body(Body::from(format!(
                r#"{{"username":"TEMP","password":"TEMPPW1","newPassword":"{new}"}}"#
            )))
            .unwrap()
    };
    send(&h.app, change("TEMP"))
        .await
        .assert_error(400, "ZWEAT413E");
    let reply = send(&h.app, change("NEWPW22")).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_eq!(login(&h.app, "TEMP", "NEWPW22").await.status, 204);
    login(&h.app, "TEMP", "TEMPPW1")
        .await
        .assert_error(401, "ZWEAG120E");

    // Revoked user (with the right password).
    login(&h.app, "GONE", "GONEPW1")
        .await
        .assert_error(401, "ZWEAT414E");
}

#[tokio::test]
async fn revocation_persists_in_the_esm_store() {
    let dir = tempfile::tempdir().unwrap();
    let token = {
        let esm = esm(dir.path());
        run(&esm, "ADDUSER ALICE PASSWORD(ALICEPW1) NOEXPIRED");
        let h = harness_on(&esm);
        let token = login(&h.app, "ALICE", "ALICEPW1").await.cookie_token();
        let reply = send(
            &h.app,
            req("POST", "/gateway/api/v1/auth/logout")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(reply.status, 204);
        // Only a hash is stored.
        let stored = esm.token_state().revoked_tokens();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].0.len(), 64);
        assert!(!stored[0].0.contains(&token[..20]));
        token
    };
    // A new ESM over the same database (a restart) still rejects the token.
    let esm = esm(dir.path());
    let h = harness_on(&esm);
    query_with(&h.app, &token)
        .await
        .assert_error(401, "ZWEAG130E");
}

#[tokio::test]
async fn first_start_administrator_can_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let esm = esm(dir.path());
    let (admin, phrase) = ensure_admin(&esm, dir.path()).unwrap().unwrap();
    assert_eq!(admin.user, "ADMIN");
    assert_eq!(
        std::fs::read_to_string(&admin.password_file)
            .unwrap()
            .trim(),
        phrase
    );
    assert!(esm.user("ADMIN").unwrap().special);
    assert!(
        ensure_admin(&esm, dir.path()).unwrap().is_none(),
        "created once"
    );
    let h = harness_on(&esm);
    assert_eq!(login(&h.app, "ADMIN", &phrase).await.status, 204);
}
