//! Personal access tokens end to end through the router, with the real ESM
//! (revocation rules in its SQLite store) in a temporary home.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use axum::body::Body;
use support::*;
use zgate_auth::{Clock as _, KeyRing, ManualClock, PatService, TokenService, TokenSettings};
use zgate_esm::{Esm, EsmConfig, HashCost, Issuer};
use zgate_gateway::esm_adapter::EsmSecurity;
use zgate_gateway::routes::Gateway;
use zgate_gateway::{router, AppState, Settings};

const T0: i64 = 1_700_000_000_000;
const P: &str = "/gateway/api/v1/auth";

struct World {
    app: Gateway,
    clock: Arc<ManualClock>,
    esm: Arc<Esm>,
    dir: tempfile::TempDir,
}

/// The ESM reads the tokens' clock: a user's revocation time and a token's
/// issue time are compared.
fn open_esm(dir: &std::path::Path, clock: Arc<ManualClock>) -> Arc<Esm> {
    Arc::new(
        Esm::open_with(
            dir,
            EsmConfig {
                hash_cost: HashCost::TEST_ONLY,
                clock,
                ..EsmConfig::default()
            },
        )
        .unwrap(),
    )
}

fn app_on(esm: &Arc<Esm>, clock: Arc<ManualClock>, pats_enabled: bool) -> Gateway {
    let security = EsmSecurity::new(esm.clone());
    let tokens = Arc::new(
        TokenService::new(
            KeyRing::new(signing_key(RSA_A)),
            clock,
            TokenSettings {
                lifetime_seconds: 28800,
                domain: "security-domain".into(),
            },
            Arc::new(security.clone()),
        )
        .unwrap(),
    );
    let mut state = AppState::new(
        Arc::new(security.clone()),
        tokens.clone(),
        Settings::default(),
    );
    if pats_enabled {
        state = state.with_pats(Arc::new(PatService::new(tokens, Arc::new(security))));
    }
    router(state)
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let esm = open_esm(dir.path(), clock.clone());
    for c in [
        "ADDUSER ALICE PASSWORD(ALICEPW1) NOEXPIRED",
        "ADDUSER BOB PASSWORD(BOBPW1) NOEXPIRED",
        "ADDUSER AUDIT PASSWORD(AUDITPW1) NOEXPIRED",
        "ADDUSER OPS PASSWORD(OPSPW1) NOEXPIRED",
        "SETROPTS CLASSACT(ZOWE) GENERIC(ZOWE)",
        "RDEFINE ZOWE APIML.SERVICES UACC(NONE)",
        "PERMIT APIML.SERVICES CLASS(ZOWE) ID(ALICE) ACCESS(READ)",
        "PERMIT APIML.SERVICES CLASS(ZOWE) ID(AUDIT) ACCESS(READ)",
        "PERMIT APIML.SERVICES CLASS(ZOWE) ID(OPS) ACCESS(UPDATE)",
    ] {
        esm.run_command(&Issuer::Operator, c).unwrap();
    }
    World {
        app: app_on(&esm, clock.clone(), true),
        clock,
        esm,
        dir,
    }
}

async fn generate(app: &Gateway, user: &str, password: &str, body: &str) -> Reply {
    send(
        app,
        req("POST", &format!("{P}/access-token/generate"))
            .header("authorization", basic(user, password))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

async fn pat(app: &Gateway, scopes: &str) -> String {
    let r = generate(
        app,
        "ALICE",
        "ALICEPW1",
        &format!(r#"{{"validity":30,"scopes":{scopes}}}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("text/plain"));
    r.body
}

async fn json(app: &Gateway, method: &str, path: &str, auth: Option<&str>, body: &str) -> Reply {
    let mut b = req(method, &format!("{P}{path}")).header("content-type", "application/json");
    if let Some(a) = auth {
        b = b.header("authorization", a);
    }
    send(app, b.body(Body::from(body.to_string())).unwrap()).await
}

async fn validate(app: &Gateway, token: &str, service: &str) -> u16 {
    json(
        app,
        "POST",
        "/access-token/validate",
        None,
        &format!(r#"{{"token":"{token}","serviceId":"{service}"}}"#),
    )
    .await
    .status
    .as_u16()
}

async fn check(app: &Gateway, header: (&str, String)) -> Reply {
    send(
        app,
        req("POST", "/gateway/auth/check")
            .header(header.0, header.1)
            .header("content-type", "application/json")
            .body(Body::from(
                r#"{"resourceClass":"ZOWE","resourceName":"APIML.SERVICES","accessLevel":"READ"}"#,
            ))
            .unwrap(),
    )
    .await
}

fn claims(token: &str) -> serde_json::Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn generated_pat_has_the_spec_claims_and_limits_and_works_in_every_credential_place() {
    let w = world();
    let token = pat(&w.app, r#"["Gateway","API1"]"#).await;
    let c = claims(&token);
    assert_eq!(c["iss"], "APIML_PAT");
    assert_eq!(c["sub"], "ALICE");
    assert_eq!(c["auth.prov"], "APIML");
    assert_eq!(c["scopes"], serde_json::json!(["gateway", "api1"]));
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        30 * 86_400
    );
    for (validity, days) in [
        ("0", 90),
        ("-5", 90),
        ("91", 90),
        ("100000000", 90),
        ("7", 7),
    ] {
        let r = generate(
            &w.app,
            "ALICE",
            "ALICEPW1",
            &format!(r#"{{"validity":{validity},"scopes":["a"]}}"#),
        )
        .await;
        assert_eq!(r.status, 200, "{validity}: {}", r.body);
        let c = claims(&r.body);
        assert_eq!(
            c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
            days * 86_400,
            "{validity}"
        );
    }
    // The /zaas prefix serves it too.
    let r = send(
        &w.app,
        req("POST", "/zaas/api/v1/auth/access-token/generate")
            .header("authorization", basic("ALICE", "ALICEPW1"))
            .header("content-type", "application/json")
            .body(Body::from(r#"{"scopes":["x"]}"#))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Every place a PAT may stand (spec section 2).
    check(&w.app, ("authorization", format!("Bearer {token}"))).await;
    for header in [
        ("authorization", format!("Bearer {token}")),
        ("cookie", format!("apimlAuthenticationToken={token}")),
        ("cookie", format!("personalAccessToken={token}")),
        ("private-token", token.clone()),
    ] {
        let r = check(&w.app, header.clone()).await;
        assert_eq!(r.status, 204, "{header:?}: {}", r.body);
    }
    // A PAT is not a gateway JWT: query refuses it.
    query_with(&w.app, &token)
        .await
        .assert_error(401, "ZWEAG130E");
    // Out of scope for the gateway's own endpoints.
    let api_only = pat(&w.app, r#"["api1"]"#).await;
    check(&w.app, ("private-token", api_only.clone()))
        .await
        .assert_error(401, "ZWEAG130E");
    // A gateway JWT cannot make a PAT (a real logon can).
    let jwt = login(&w.app, "ALICE", "ALICEPW1").await.cookie_token();
    let r = json(
        &w.app,
        "POST",
        "/access-token/generate",
        Some(&format!("Bearer {jwt}")),
        r#"{"scopes":["a"]}"#,
    )
    .await;
    r.assert_error(401, "ZWEAG105E");
    // A PAT without the gateway in scope cannot administer PATs either.
    let r = send(
        &w.app,
        req("DELETE", &format!("{P}/access-token/revoke/tokens"))
            .header("private-token", api_only.clone())
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    r.assert_error(401, "ZWEAG130E");
    assert_eq!(validate(&w.app, &api_only, "api1").await, 204);
    // Wrong password.
    generate(&w.app, "ALICE", "WRONGPW1", r#"{"scopes":["a"]}"#)
        .await
        .assert_error(401, "ZWEAG120E");
    // Wrong method.
    json(&w.app, "GET", "/access-token/generate", None, "")
        .await
        .assert_error(405, "ZWEAG101E");
}

#[tokio::test]
async fn bad_bodies_are_clear_errors_and_write_nothing() {
    let w = world();
    let ops_jwt = login(&w.app, "OPS", "OPSPW1").await.cookie_token();
    let before = w.esm.dump_store().unwrap();
    for (body, number) in [
        ("not json", "ZWEAT605E"),
        ("", "ZWEAT605E"),
        (r#"{"validity":"ten","scopes":["a"]}"#, "ZWEAT605E"),
        (r#"{"validity":1e300,"scopes":["a"]}"#, "ZWEAT605E"),
        (
            r#"{"validity":99999999999999999999999,"scopes":["a"]}"#,
            "ZWEAT605E",
        ),
        (r#"{"validity":1.5,"scopes":["a"]}"#, "ZWEAT605E"),
        (r#"{"validity":1,"scopes":"api1"}"#, "ZWEAT605E"),
        (r#"{"validity":1,"scopes":[1,2]}"#, "ZWEAT605E"),
        (r#"{"validity":1,"scopes":["a b"]}"#, "ZWEAT605E"),
        (r#"{"validity":1,"scopes":["a/../b"]}"#, "ZWEAT605E"),
        (r#"{"validity":1,"scope":["a"]}"#, "ZWEAT606E"),
        (r#"{"validity":1}"#, "ZWEAT606E"),
        (r#"{"validity":1,"scopes":[]}"#, "ZWEAT606E"),
        (r#"{"validity":1,"scopes":["", ""]}"#, "ZWEAT606E"),
        // A blank is never trimmed away into "no scope" or another scope.
        (r#"{"validity":1,"scopes":["", " "]}"#, "ZWEAT605E"),
        (r#"{"validity":1,"scopes":[" zosmf"]}"#, "ZWEAT605E"),
    ] {
        generate(&w.app, "ALICE", "ALICEPW1", body)
            .await
            .assert_error(400, number);
    }
    let ops = format!("Bearer {ops_jwt}");
    for path in [
        "/access-token/revoke/tokens/user",
        "/access-token/revoke/tokens/scope",
    ] {
        for body in ["{}", "garbage", r#"{"userId":"","serviceId":""}"#] {
            json(&w.app, "DELETE", path, Some(&ops), body)
                .await
                .assert_error(400, "ZWEAT607E");
        }
    }
    json(&w.app, "POST", "/access-token/validate", None, "{}")
        .await
        .assert_error(400, "ZWEAG121E");
    json(
        &w.app,
        "DELETE",
        "/access-token/revoke",
        None,
        r#"{"tok":1}"#,
    )
    .await
    .assert_error(400, "ZWEAG121E");
    // Nothing changed: the PAT salt is not even made.
    assert_eq!(w.esm.dump_store().unwrap(), before);
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test]
async fn revocations_and_rules_invalidate_pats_persistently_and_store_only_hashes() {
    let w = world();
    let alice = pat(&w.app, r#"["api1","api2"]"#).await;
    assert_eq!(validate(&w.app, &alice, "API1").await, 204);
    assert_eq!(
        validate(&w.app, &alice, "api3").await,
        401,
        "scope mismatch"
    );
    assert_eq!(validate(&w.app, "not.a.token", "api1").await, 401);

    // revoke: 204, then 401.
    let r = json(
        &w.app,
        "DELETE",
        "/access-token/revoke",
        None,
        &format!(r#"{{"token":"{alice}"}}"#),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    json(
        &w.app,
        "DELETE",
        "/access-token/revoke",
        None,
        &format!(r#"{{"token":"{alice}"}}"#),
    )
    .await
    .assert_error(401, "ZWEAG130E");
    assert_eq!(validate(&w.app, &alice, "api1").await, 401);

    // User rule dated before the token: no effect; a rule after: revoked.
    let ops = format!("Basic {}", base64_of("OPS:OPSPW1"));
    let audit = format!("Basic {}", base64_of("AUDIT:AUDITPW1"));
    w.clock.advance_ms(10_000);
    let t1 = pat(&w.app, r#"["api1"]"#).await;
    let before = w.clock.now_ms() - 5_000;
    let r = json(
        &w.app,
        "DELETE",
        "/access-token/revoke/tokens/user",
        Some(&audit),
        &format!(r#"{{"userId":"alice","timestamp":{before}}}"#),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        validate(&w.app, &t1, "api1").await,
        204,
        "rule before the token"
    );
    w.clock.advance_ms(10_000);
    let r = json(
        &w.app,
        "DELETE",
        "/access-token/revoke/tokens/user",
        Some(&audit),
        r#"{"userId":"ALICE"}"#,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        validate(&w.app, &t1, "api1").await,
        401,
        "rule after the token"
    );
    w.clock.advance_ms(10_000);
    let t2 = pat(&w.app, r#"["api1","api9"]"#).await;
    assert_eq!(
        validate(&w.app, &t2, "api1").await,
        204,
        "issued after the rule"
    );

    // Scope rule.
    w.clock.advance_ms(10_000);
    let r = json(
        &w.app,
        "DELETE",
        "/access-token/revoke/tokens/scope",
        Some(&ops),
        r#"{"serviceId":"API9"}"#,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(validate(&w.app, &t2, "api1").await, 401, "scope rule");

    // Own tokens.
    w.clock.advance_ms(10_000);
    let t3 = pat(&w.app, r#"["api1"]"#).await;
    w.clock.advance_ms(10_000);
    let r = json(
        &w.app,
        "DELETE",
        "/access-token/revoke/tokens",
        Some(&format!("Basic {}", base64_of("ALICE:ALICEPW1"))),
        "",
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(validate(&w.app, &t3, "api1").await, 401, "own tokens");

    // SAF: BOB has no access; AUDIT has READ but evict needs UPDATE.
    let bob = format!("Basic {}", base64_of("BOB:BOBPW1"));
    json(
        &w.app,
        "DELETE",
        "/access-token/revoke/tokens/user",
        Some(&bob),
        r#"{"userId":"ALICE"}"#,
    )
    .await
    .assert_error(403, "ZWEAT403E");
    json(
        &w.app,
        "DELETE",
        "/access-token/revoke/tokens/scope",
        Some(&bob),
        r#"{"serviceId":"x"}"#,
    )
    .await
    .assert_error(403, "ZWEAT403E");
    json(&w.app, "DELETE", "/access-token/evict", Some(&audit), "")
        .await
        .assert_error(403, "ZWEAT403E");
    json(
        &w.app,
        "DELETE",
        "/access-token/revoke/tokens/user",
        None,
        r#"{"userId":"ALICE"}"#,
    )
    .await
    .assert_error(401, "ZWEAG105E");

    // Evict keeps live rules.
    let r = json(&w.app, "DELETE", "/access-token/evict", Some(&ops), "").await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(validate(&w.app, &t1, "api1").await, 401);
    assert_eq!(validate(&w.app, &t2, "api1").await, 401);
    assert_eq!(validate(&w.app, &t3, "api1").await, 401);
    assert_eq!(validate(&w.app, &alice, "api1").await, 401);

    // Nothing in clear in the store: not the tokens, their signatures, the
    // user id or the service ids of the rules.
    let dump = w.esm.dump_store().unwrap().join("\n");
    let mut raw = std::fs::read(w.dir.path().join("esm.db")).unwrap();
    raw.extend(std::fs::read(w.dir.path().join("esm.db-wal")).unwrap_or_default());
    let raw = String::from_utf8_lossy(&raw).to_string();
    let records: Vec<&str> = dump
        .lines()
        .filter(|l| l.starts_with("security_records"))
        .collect();
    // The salt, one revoked token, one user rule (ALICE, twice), one scope rule.
    assert_eq!(records.len(), 4, "{records:?}");
    for secret in [&alice, &t1, &t2, &t3] {
        let signature = secret.rsplit('.').next().unwrap();
        let payload = secret.split('.').nth(1).unwrap();
        for text in [&dump, &raw] {
            assert!(!text.contains(signature.get(..40).unwrap()));
            assert!(!text.contains(payload.get(..40).unwrap()));
        }
    }
    for r in &records {
        assert!(
            !r.contains("ALICE") && !r.contains("api9") && !r.contains("API9"),
            "{r}"
        );
    }
    // Every hash is SHA-512 (128 hex digits).
    assert!(records
        .iter()
        .filter(|r| r.contains("pat.token") || r.contains("pat.user") || r.contains("pat.scope"))
        .all(|r| r
            .split('"')
            .any(|f| f.len() == 128 && f.bytes().all(|b| b.is_ascii_hexdigit()))));

    // After a restart (new ESM, new service on the same home): still revoked.
    let esm2 = open_esm(w.dir.path(), w.clock.clone());
    let app2 = app_on(&esm2, w.clock.clone(), true);
    for t in [&alice, &t1, &t2, &t3] {
        assert_eq!(validate(&app2, t, "api1").await, 401);
    }
    w.clock.advance_ms(2_000);
    let fresh = pat(&app2, r#"["api1"]"#).await;
    assert_eq!(validate(&app2, &fresh, "api1").await, 204);
    // Visible to the other instance at its next reload.
    let r = json(
        &app2,
        "DELETE",
        "/access-token/revoke",
        None,
        &format!(r#"{{"token":"{fresh}"}}"#),
    )
    .await;
    assert_eq!(r.status, 204);
    w.esm.reload_if_changed().unwrap();
    assert_eq!(validate(&w.app, &fresh, "api1").await, 401);
}

#[tokio::test]
async fn a_revoked_user_loses_its_pats() {
    let w = world();
    let t = pat(&w.app, r#"["gateway"]"#).await;
    assert_eq!(
        check(&w.app, ("private-token", t.clone())).await.status,
        204
    );
    w.esm
        .run_command(&Issuer::Operator, "ALTUSER ALICE REVOKE")
        .unwrap();
    check(&w.app, ("private-token", t.clone()))
        .await
        .assert_error(401, "ZWEAT414E");
    assert_eq!(validate(&w.app, &t, "gateway").await, 401);
    w.esm
        .run_command(&Issuer::Operator, "ALTUSER ALICE RESUME")
        .unwrap();
    // RESUME does not revive what the revocation ended; a new PAT works.
    check(&w.app, ("private-token", t.clone()))
        .await
        .assert_error(401, "ZWEAT414E");
    w.clock.advance_ms(1);
    let fresh = pat(&w.app, r#"["gateway"]"#).await;
    assert_eq!(check(&w.app, ("private-token", fresh)).await.status, 204);
    w.esm
        .run_command(&Issuer::Operator, "DELUSER ALICE")
        .unwrap();
    assert_eq!(validate(&w.app, &t, "gateway").await, 401);
}

#[tokio::test]
async fn expired_pats_and_pats_while_disabled_authenticate_nothing() {
    let w = world();
    let t = pat(&w.app, r#"["gateway"]"#).await;
    w.clock.advance_ms(31 * 86_400_000);
    assert_eq!(validate(&w.app, &t, "gateway").await, 401);
    check(&w.app, ("private-token", t.clone()))
        .await
        .assert_error(401, "ZWEAT100E");
    // Disabled: the endpoints are absent and a PAT authenticates nothing.
    let off = app_on(&w.esm, w.clock.clone(), false);
    generate(&off, "ALICE", "ALICEPW1", r#"{"scopes":["a"]}"#)
        .await
        .assert_error(404, "ZWEAM104E");
    w.clock.set_ms(T0);
    check(&off, ("authorization", format!("Bearer {t}")))
        .await
        .assert_error(401, "ZWEAG130E");
    check(&off, ("private-token", t))
        .await
        .assert_error(401, "ZWEAG105E");
}
