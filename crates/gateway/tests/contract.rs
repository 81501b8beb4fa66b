//! The REST contract (spec apiml-api.md), endpoint by endpoint and error row by
//! error row, in-process through the real router.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use axum::body::Body;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use support::*;
use zgate_auth::MemoryRevocationStore;
use zgate_gateway::{AccessLevel, Settings};

fn table() -> TableSecurity {
    TableSecurity::default().with_user("USER1", "secret1")
}

const AUTH_PATHS: [(&str, &str); 7] = [
    ("login", "POST"),
    ("logout", "POST"),
    ("query", "GET"),
    ("refresh", "POST"),
    ("keys/public", "GET"),
    ("keys/public/all", "GET"),
    ("keys/public/current", "GET"),
];

#[tokio::test]
async fn login_with_basic_sets_the_spec_cookie_and_no_body() {
    let h = harness(table());
    let reply = login(&h.app, "user1", "secret1").await;
    assert_eq!(reply.status, 204);
    assert_eq!(reply.body, "");
    let cookie = reply.header("set-cookie").unwrap();
    let token = reply.cookie_token();
    assert_eq!(
        cookie,
        format!("apimlAuthenticationToken={token}; Path=/; SameSite=Strict; HttpOnly; Secure")
    );
    assert_eq!(h.tokens.verify(&token).unwrap().claims.sub, "USER1");
}

#[tokio::test]
async fn cookie_max_age_only_when_configured() {
    let h = harness_with(
        Arc::new(table()),
        Arc::new(MemoryRevocationStore::default()),
        Settings {
            cookie_max_age_seconds: Some(600),
            ..Settings::default()
        },
    );
    let reply = login(&h.app, "USER1", "secret1").await;
    assert!(reply
        .header("set-cookie")
        .unwrap()
        .ends_with("; Secure; Max-Age=600"));
}

#[tokio::test]
async fn login_with_json_body_and_aliases() {
    let h = harness(table());
    for path in [
        "/gateway/api/v1/auth/login",
        "/zaas/api/v1/auth/login",
        "/apicatalog/api/v1/auth/login",
    ] {
        let reply = send(
            &h.app,
            req("POST", path)
                .header("content-type", "application/json")
                .body(Body::from(
                    r#"{"username":"USER1","password":"secret1","extra":1}"#,
                ))
                .unwrap(),
        )
        .await;
        assert_eq!(reply.status, 204, "{path}: {}", reply.body);
        assert!(reply.header("set-cookie").is_some());
    }
}

#[tokio::test]
async fn invalid_credentials_body_is_byte_exact_and_indistinguishable() {
    let h = harness(table());
    let wrong_password = login(&h.app, "USER1", "nope").await;
    let unknown_user = login(&h.app, "NOBODY", "nope").await;
    let expected = r#"{"messages":[{"messageType":"ERROR","messageNumber":"ZWEAG120E","messageContent":"Invalid username or password for URL '/gateway/api/v1/auth/login'","messageAction":"Provide a valid username and password.","messageReason":"The username and/or password are invalid.","messageKey":"org.zowe.apiml.security.login.invalidCredentials"}]}"#;
    for reply in [&wrong_password, &unknown_user] {
        reply.assert_error(401, "ZWEAG120E");
        assert_eq!(reply.body, expected);
        assert!(reply.header("set-cookie").is_none());
    }
    // Each answer names its own request; nothing else tells them apart.
    let without_id = |reply: &Reply| {
        let mut headers = reply.headers.clone();
        assert!(headers.remove("x-request-id").is_some());
        headers
    };
    assert_eq!(without_id(&wrong_password), without_id(&unknown_user));
}

#[tokio::test]
async fn login_input_errors_are_400_zweag121e() {
    let h = harness(table());
    let cases: Vec<(Option<String>, &str)> = vec![
        (None, ""),                                   // nothing at all
        (None, "{}"),                                 // no fields
        (None, r#"{"username":"USER1"}"#),            // no password
        (None, r#"{"username":"","password":"x"}"#),  // empty user
        (None, "not json"),                           // malformed
        (None, r#"{"username":1,"password":"x"}"#),   // wrong type
        (Some(basic("USER1", "secret1")), "{broken"), // header wins, but body must parse
        (Some("Basic !!!notbase64".to_string()), ""), // bad Basic
        (Some(basic("USER1", "")), ""),               // empty password
        (Some("Basic VVNFUjE=".to_string()), ""),     // no ':' at all
    ];
    for (auth, body) in cases {
        let mut builder =
            req("POST", "/gateway/api/v1/auth/login").header("content-type", "application/json");
        if let Some(auth) = &auth {
            builder = builder.header("authorization", auth);
        }
        let reply = send(&h.app, builder.body(Body::from(body.to_string())).unwrap()).await;
        reply.assert_error(400, "ZWEAG121E");
        assert!(reply.json()["messages"][0]["messageContent"]
            .as_str()
            .unwrap()
            .contains("/gateway/api/v1/auth/login"));
    }
}

#[tokio::test]
async fn basic_header_wins_over_body() {
    let h = harness(table());
    let reply = send(
        &h.app,
        req("POST", "/gateway/api/v1/auth/login")
            .header("authorization", basic("USER1", "secret1"))
            .header("content-type", "application/json")
            .body(Body::from(r#"{"username":"OTHER","password":"bad"}"#))
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 204);
    assert_eq!(
        h.tokens.verify(&reply.cookie_token()).unwrap().claims.sub,
        "USER1"
    );
    // A password containing ':' is split at the first colon only.
    let h = harness(TableSecurity::default().with_user("U2", "a:b:c"));
    assert_eq!(login(&h.app, "U2", "a:b:c").await.status, 204);
}

#[tokio::test]
async fn expired_password_is_changed_at_login_and_revoked_user_is_refused() {
    let security = table();
    security.users.lock().unwrap().get_mut("USER1").unwrap().1 = true;
    security
        .users
        .lock()
        .unwrap()
        .insert("GONE".into(), ("pw".into(), false, true));
    let h = harness(security);
    let reply = login(&h.app, "USER1", "secret1").await;
    reply.assert_error(401, "ZWEAT412E");
    assert_eq!(
        reply.json()["messages"][0]["messageContent"],
        "The platform returned error: EMVSEXPIRE: The password for the specified identity has expired"
    );
    let change = |new: &str| {
        req("POST", "/gateway/api/v1/auth/login")
            .header("content-type", "application/json")
            .body(Body::from(format!(
                r#"{{"username":"USER1","password":"secret1","newPassword":"{new}"}}"#
            )))
    };
    send(&h.app, change("x").unwrap())
        .await
        .assert_error(400, "ZWEAT413E");
    let reply = send(&h.app, change("newsecret").unwrap()).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_eq!(login(&h.app, "USER1", "newsecret").await.status, 204);
    login(&h.app, "GONE", "pw")
        .await
        .assert_error(401, "ZWEAT414E");
}

#[tokio::test]
async fn backend_down_is_503_zweag104e() {
    let security = table();
    *security.down.lock().unwrap() = true;
    let h = harness(security);
    login(&h.app, "USER1", "secret1")
        .await
        .assert_error(503, "ZWEAG104E");
    let health = send(
        &h.app,
        req("GET", "/application/health")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(health.status, 503);
    assert_eq!(health.json()["status"], "DOWN");
}

#[tokio::test]
async fn wrong_methods_are_405_zweag101e_on_every_path_and_alias() {
    let h = harness(table());
    for prefix in ["/gateway/api/v1/auth", "/zaas/api/v1/auth"] {
        for (path, method) in AUTH_PATHS {
            for wrong in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
                if wrong == method {
                    continue;
                }
                let uri = format!("{prefix}/{path}");
                let reply = send(&h.app, req(wrong, &uri).body(Body::empty()).unwrap()).await;
                reply.assert_error(405, "ZWEAG101E");
                assert_eq!(
                    reply.json()["messages"][0]["messageContent"],
                    format!("Authentication method '{wrong}' is not supported for URL '{uri}'")
                );
            }
        }
    }
    send(
        &h.app,
        req("GET", "/apicatalog/api/v1/auth/login")
            .body(Body::empty())
            .unwrap(),
    )
    .await
    .assert_error(405, "ZWEAG101E");
    send(
        &h.app,
        req("GET", "/gateway/auth/check")
            .body(Body::empty())
            .unwrap(),
    )
    .await
    .assert_error(405, "ZWEAG101E");
}

#[tokio::test]
async fn query_returns_claims_in_milliseconds() {
    let h = harness(table());
    let token = login(&h.app, "USER1", "secret1").await.cookie_token();
    for request in [
        req("GET", "/gateway/api/v1/auth/query")
            .header(
                "cookie",
                format!("other=1; apimlAuthenticationToken={token}"),
            )
            .body(Body::empty())
            .unwrap(),
        req("GET", "/zaas/api/v1/auth/query")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap(),
    ] {
        let reply = send(&h.app, request).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(
            reply.body,
            format!(
                r#"{{"domain":"security-domain","userId":"USER1","creation":{},"expiration":{}}}"#,
                T0,
                T0 + 28_800_000
            )
        );
    }
}

#[tokio::test]
async fn query_rejects_missing_forged_foreign_and_expired_tokens() {
    let h = harness(table());
    let token = login(&h.app, "USER1", "secret1").await.cookie_token();

    let missing = send(
        &h.app,
        req("GET", "/gateway/api/v1/auth/query")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    missing.assert_error(401, "ZWEAG131E");

    let garbage = query_with(&h.app, "garbage").await;
    garbage.assert_error(401, "ZWEAG130E");
    assert_eq!(
        garbage.header("x-zowe-auth-failure"),
        Some("ZWEAG102E Token is not valid")
    );

    // Cookie wins over Bearer: a bad cookie with a good Bearer is rejected.
    let reply = send(
        &h.app,
        req("GET", "/gateway/api/v1/auth/query")
            .header("cookie", "apimlAuthenticationToken=bad")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    reply.assert_error(401, "ZWEAG130E");

    // Tampered payload.
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&B64URL.decode(&parts[1]).unwrap()).unwrap();
    claims["sub"] = "ADMIN".into();
    parts[1] = B64URL.encode(claims.to_string());
    query_with(&h.app, &parts.join("."))
        .await
        .assert_error(401, "ZWEAG130E");

    // alg none.
    let none = format!(
        "{}.{}.",
        B64URL.encode(r#"{"alg":"none","typ":"JWT"}"#),
        B64URL.encode(claims.to_string())
    );
    query_with(&h.app, &none)
        .await
        .assert_error(401, "ZWEAG130E");

    // HS256 with the public key (PEM) as the HMAC secret.
    let pem = send(
        &h.app,
        req("GET", "/gateway/api/v1/auth/keys/public")
            .body(Body::empty())
            .unwrap(),
    )
    .await
    .body;
    let kid = h.tokens.current_key().kid.clone();
    let input = format!(
        "{}.{}",
        B64URL.encode(format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{kid}"}}"#)),
        B64URL.encode(claims.to_string())
    );
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, pem.as_bytes());
    let hs = format!(
        "{input}.{}",
        B64URL.encode(ring::hmac::sign(&key, input.as_bytes()))
    );
    query_with(&h.app, &hs).await.assert_error(401, "ZWEAG130E");

    // A token from another gateway (foreign key).
    let other_key = signing_key(RSA_B);
    let input = format!(
        "{}.{}",
        B64URL.encode(format!(
            r#"{{"alg":"RS256","kid":"{}"}}"#,
            other_key.public().kid
        )),
        B64URL.encode(claims.to_string())
    );
    let sig = other_key.sign(input.as_bytes()).unwrap();
    query_with(&h.app, &format!("{input}.{}", B64URL.encode(sig)))
        .await
        .assert_error(401, "ZWEAG130E");

    // Our own key, but another issuer (a PAT is not accepted by query either).
    for issuer in ["SOMEONE", "APIML_PAT"] {
        let mut foreign_claims = claims.clone();
        foreign_claims["sub"] = "USER1".into();
        foreign_claims["iss"] = issuer.into();
        let ours = signing_key(RSA_A);
        let input = format!(
            "{}.{}",
            B64URL.encode(format!(
                r#"{{"alg":"RS256","kid":"{}"}}"#,
                ours.public().kid
            )),
            B64URL.encode(foreign_claims.to_string())
        );
        let sig = ours.sign(input.as_bytes()).unwrap();
        let reply = query_with(&h.app, &format!("{input}.{}", B64URL.encode(sig))).await;
        reply.assert_error(401, "ZWEAG130E");
        assert_eq!(
            reply.header("x-zowe-auth-failure"),
            Some("ZWEAG102E Token is not valid")
        );
    }

    // Expired.
    h.clock.advance_ms(28_800_000);
    let expired = query_with(&h.app, &token).await;
    expired.assert_error(401, "ZWEAT100E");
}

#[tokio::test]
async fn logout_revokes_and_repeats_are_rejected() {
    let h = harness(table());
    let token = login(&h.app, "USER1", "secret1").await.cookie_token();
    assert_eq!(query_with(&h.app, &token).await.status, 200);
    let logout = |t: &str| {
        req("POST", "/gateway/api/v1/auth/logout")
            .header("cookie", format!("apimlAuthenticationToken={t}"))
            .body(Body::empty())
            .unwrap()
    };
    let reply = send(&h.app, logout(&token)).await;
    assert_eq!(reply.status, 204);
    assert_eq!(reply.body, "");
    query_with(&h.app, &token)
        .await
        .assert_error(401, "ZWEAG130E");
    send(&h.app, logout(&token))
        .await
        .assert_error(401, "ZWEAG130E");
    send(&h.app, logout("not-a-jwt"))
        .await
        .assert_error(400, "ZWEAG130E");
    send(
        &h.app,
        req("POST", "/gateway/api/v1/auth/logout")
            .body(Body::empty())
            .unwrap(),
    )
    .await
    .assert_error(401, "ZWEAG131E");
    // The store holds a hash of the token, not the token.
    let revoked = h.memory.as_ref().unwrap().revoked();
    assert_eq!(revoked.len(), 1);
    assert_ne!(revoked[0].to_hex(), token);
    // Bearer logout through the catalog alias.
    let token2 = login(&h.app, "USER1", "secret1").await.cookie_token();
    let reply = send(
        &h.app,
        req("POST", "/apicatalog/api/v1/auth/logout")
            .header("authorization", format!("Bearer {token2}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 204);
    query_with(&h.app, &token2)
        .await
        .assert_error(401, "ZWEAG130E");
}

#[tokio::test]
async fn refresh_is_off_by_default_and_rotates_when_on() {
    let h = harness(table());
    let token = login(&h.app, "USER1", "secret1").await.cookie_token();
    let refresh = |t: &str| {
        req("POST", "/gateway/api/v1/auth/refresh")
            .header("authorization", format!("Bearer {t}"))
            .body(Body::empty())
            .unwrap()
    };
    send(&h.app, refresh(&token))
        .await
        .assert_error(404, "ZWEAM104E");
    send(&h.app, refresh("garbage"))
        .await
        .assert_error(404, "ZWEAM104E");

    let h = harness_with(
        Arc::new(table()),
        Arc::new(MemoryRevocationStore::default()),
        Settings {
            allow_token_refresh: true,
            ..Settings::default()
        },
    );
    let token = login(&h.app, "USER1", "secret1").await.cookie_token();
    h.clock.advance_ms(1000);
    let reply = send(&h.app, refresh(&token)).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let new = reply.cookie_token();
    assert_ne!(new, token);
    assert_eq!(query_with(&h.app, &new).await.status, 200);
    query_with(&h.app, &token)
        .await
        .assert_error(401, "ZWEAG130E");
    send(
        &h.app,
        req("POST", "/gateway/api/v1/auth/refresh")
            .body(Body::empty())
            .unwrap(),
    )
    .await
    .assert_error(401, "ZWEAG131E");
}

#[tokio::test]
async fn public_key_endpoints_serve_the_signing_key_as_pem_and_jwk() {
    let h = harness(table());
    let pem = send(
        &h.app,
        req("GET", "/gateway/api/v1/auth/keys/public")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(pem.status, 200);
    assert!(pem.body.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert_eq!(pem.body, h.tokens.current_key().pem());
    for path in [
        "/gateway/api/v1/auth/keys/public/all",
        "/zaas/api/v1/auth/keys/public/current",
    ] {
        let reply = send(&h.app, req("GET", path).body(Body::empty()).unwrap()).await;
        assert_eq!(reply.status, 200);
        let keys = reply.json()["keys"].as_array().unwrap().clone();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0]["kid"], h.tokens.current_key().kid.as_str());
        assert_eq!(keys[0]["alg"], "RS256");
        assert_eq!(keys[0]["use"], "sig");
        assert_eq!(keys[0]["kty"], "RSA");
    }
    // The JWK's kid is the one in every token header.
    let token = login(&h.app, "USER1", "secret1").await.cookie_token();
    let header: serde_json::Value =
        serde_json::from_slice(&B64URL.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["kid"], h.tokens.current_key().kid.as_str());
}

fn check_body(level: &str) -> Body {
    Body::from(format!(
        r#"{{"resourceClass":"ZOWE","resourceName":"APIML.SERVICES","accessLevel":"{level}"}}"#
    ))
}

#[tokio::test]
async fn saf_check_is_204_when_permitted_and_a_spec_error_otherwise() {
    let security = table();
    security.access.lock().unwrap().insert(
        ("USER1".into(), "ZOWE".into(), "APIML.SERVICES".into()),
        AccessLevel::Read,
    );
    let h = harness(security);
    let token = login(&h.app, "USER1", "secret1").await.cookie_token();
    let check = |auth: Option<String>, body: Body| {
        let mut b = req("POST", "/gateway/auth/check").header("content-type", "application/json");
        if let Some(auth) = auth {
            b = b.header("authorization", auth);
        }
        b.body(body).unwrap()
    };
    let bearer = Some(format!("Bearer {token}"));
    assert_eq!(
        send(&h.app, check(bearer.clone(), check_body("READ")))
            .await
            .status,
        204
    );
    let denied = send(&h.app, check(bearer.clone(), check_body("UPDATE"))).await;
    denied.assert_error(401, "ZWEAG711E");
    assert_eq!(
        denied.json()["messages"][0]["messageContent"],
        "The principal 'USER1' is missing queried authorization."
    );
    // Basic works too.
    assert_eq!(
        send(
            &h.app,
            check(Some(basic("USER1", "secret1")), check_body("read"))
        )
        .await
        .status,
        204
    );
    send(
        &h.app,
        check(Some(basic("USER1", "bad")), check_body("READ")),
    )
    .await
    .assert_error(401, "ZWEAG120E");
    // No credentials.
    let none = send(&h.app, check(None, check_body("READ"))).await;
    none.assert_error(401, "ZWEAG105E");
    assert_eq!(
        none.header("x-zowe-auth-failure"),
        Some("ZWEAG160E No authentication provided in the request")
    );
    // Bad token.
    let bad = send(
        &h.app,
        check(Some("Bearer x.y.z".into()), check_body("READ")),
    )
    .await;
    bad.assert_error(401, "ZWEAG130E");
    assert_eq!(
        bad.header("x-zowe-auth-failure"),
        Some("ZWEAG102E Token is not valid")
    );
    // Unparsable bodies.
    for body in [
        "",
        "{",
        r#"{"resourceClass":"ZOWE"}"#,
        r#"{"resourceClass":"ZOWE","resourceName":"X","accessLevel":"MAYBE"}"#,
    ] {
        let reply = send(&h.app, check(bearer.clone(), Body::from(body))).await;
        reply.assert_error(400, "ZGATE400E");
    }
}

#[tokio::test]
async fn unknown_paths_are_404_zweam104e() {
    let h = harness(table());
    let reply = send(
        &h.app,
        req("GET", "/nothing/here").body(Body::empty()).unwrap(),
    )
    .await;
    reply.assert_error(404, "ZWEAM104E");
    assert_eq!(
        reply.json()["messages"][0]["messageContent"],
        "The endpoint you are looking for '/nothing/here' could not be located"
    );
}

#[tokio::test]
async fn health_metrics_and_api_docs_are_served() {
    let h = harness(table());
    let health = send(
        &h.app,
        req("GET", "/application/health")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "UP");
    assert_eq!(health.json()["components"]["esm"]["status"], "UP");

    let token = login(&h.app, "USER1", "secret1").await.cookie_token();
    login(&h.app, "USER1", "wrong").await;
    for _ in 0..3 {
        query_with(&h.app, &token).await;
    }
    let metrics = send(
        &h.app,
        req("GET", "/application/metrics")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(metrics.status, 200);
    let text = &metrics.body;
    assert!(text.contains(r#"zgate_http_requests_total{route="/gateway/api/v1/auth/query",method="GET",status="200"} 3"#), "{text}");
    assert!(text.contains(r#"zgate_http_requests_total{route="/gateway/api/v1/auth/login",method="POST",status="401"} 1"#), "{text}");
    assert!(
        text.contains(r#"zgate_login_total{outcome="success"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"zgate_login_total{outcome="invalid_credentials"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("zgate_http_request_duration_seconds_bucket{le=\"+Inf\"}"),
        "{text}"
    );
    // One signature check for three queries: the cache works.
    assert!(
        text.contains("zgate_token_signature_checks_total 1\n"),
        "{text}"
    );

    let docs = send(
        &h.app,
        req("GET", "/gateway/api-docs").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(docs.status, 200);
    assert!(docs.body.starts_with("openapi: 3."));
    for (path, method) in AUTH_PATHS {
        let key = format!(
            "  /gateway/api/v1/auth/{path}:\n    {}:",
            method.to_lowercase()
        );
        assert!(docs.body.contains(&key), "api-docs lacks {key}");
    }
    for path in [
        "/gateway/auth/check",
        "/application/health",
        "/application/metrics",
        "/gateway/api-docs",
    ] {
        assert!(
            docs.body.contains(&format!("  {path}:\n")),
            "api-docs lacks {path}"
        );
    }
}
