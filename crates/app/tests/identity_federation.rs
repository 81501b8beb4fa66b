//! Identity federation end to end: a real OpenID provider (panva's
//! certified `oidc-provider`, driven by crates/auth/tests/support) issues
//! access tokens; zgate, in this process in front of real test backends,
//! accepts them as the user a RACMAP filter maps their subject to, and
//! refuses every other token (spec oidc.md sections 2, 5, 6 and 8).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../auth/tests/support/oidc_provider.rs"]
mod oidc_provider;
mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine as _;
use oidc_provider::{
    jwt_header, jwt_payload, OidcProvider, ProviderOptions, ES256_RESOURCE, RS256_RESOURCE,
};
use serde_json::{json, Value};
use support::{Backend, SteppedClock, Zgate};

const REGISTRY: &str = "zgate.test";

/// The JSON body of a `curl -i` answer.
fn body(text: &str) -> Value {
    let start = text.find("\r\n\r\n").map(|i| i + 4).unwrap_or(0);
    serde_json::from_str(&text[start..]).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn header_of(v: &Value, name: &str) -> Option<String> {
    v["headers"][name].as_array().map(|a| {
        a.iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// The value of response header `name` in a `curl -i` text.
fn response_header(text: &str, name: &str) -> Option<String> {
    let head = &text[..text.find("\r\n\r\n").unwrap_or(text.len())];
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

fn service(id: &str, url: &str, auth: &str) -> String {
    format!(
        "    - serviceId: {id}\n      instanceBaseUrls:\n        - {url}\n      routes:\n        - gatewayUrl: api/v1\n          serviceRelativeUrl: /api/v1\n{auth}"
    )
}

/// A home created by a first start, with ALICE mapped from the provider's
/// default subject and the services of every scheme in front of `echo`
/// and `pt` (a backend checking PassTickets against the home's ESM).
fn home_with_services(dir: &Path) -> PathBuf {
    let home = dir.join("home");
    let first = Zgate::start(&home, &[]);
    for command in [
        "ADDUSER ALICE PASSWORD(SECRET1) NOEXPIRED",
        "ADDUSER CAROL PASSWORD(SECRET1) NOEXPIRED",
        "RDEFINE PTKTDATA TSTAPPL SSIGNON(KEYMASKED(E001193519561977))",
        "SETROPTS CLASSACT(IDIDMAP) RACLIST(IDIDMAP)",
        "RACMAP ID(ALICE) MAP USERDIDFILTER(NAME('alice@example.com')) REGISTRY(NAME('zgate.test')) WITHLABEL('alice')",
        "RACMAP ID(CAROL) MAP USERDIDFILTER(NAME('carol')) REGISTRY(NAME('zgate.test')) WITHLABEL('carol')",
        "SETROPTS RACLIST(IDIDMAP) REFRESH",
    ] {
        first.esm(command);
    }
    drop(first);
    home
}

fn write_services(home: &Path, echo: &Backend, pt: &Backend) {
    let e = echo.url();
    let defs = [
        service(
            "jwtsvc",
            &e,
            "      authentication:\n        scheme: zoweJwt\n",
        ),
        service(
            "ptsvc",
            &pt.url(),
            "      authentication:\n        scheme: httpBasicPassTicket\n        applid: TSTAPPL\n",
        ),
        service(
            "idtsvc",
            &e,
            "      authentication:\n        scheme: safIdt\n        applid: TSTAPPL\n",
        ),
        service(
            "zosmfsvc",
            &e,
            "      authentication:\n        scheme: zosmf\n",
        ),
        service("bypasssvc", &e, ""),
    ];
    std::fs::create_dir_all(home.join("services")).unwrap();
    std::fs::write(
        home.join("services/test.yml"),
        format!("services:\n{}", defs.concat()),
    )
    .unwrap();
}

/// The overrides that make zgate accept `provider`'s tokens with its key set.
fn jwk_mode(provider: &OidcProvider) -> Vec<String> {
    vec![
        "components.gateway.apiml.security.oidc.enabled=true".into(),
        format!("components.gateway.apiml.security.oidc.registry={REGISTRY}"),
        format!(
            "components.gateway.apiml.security.oidc.jwks.uri={}",
            provider.jwks_uri()
        ),
        format!("zgate.oidc.issuers={}", provider.issuer),
        "zgate.oidc.audiences=zowe-gateway".into(),
    ]
}

fn start(home: &Path, overrides: &[String], clock: Option<Arc<SteppedClock>>) -> Zgate {
    let o: Vec<&str> = overrides.iter().map(String::as_str).collect();
    match clock {
        Some(clock) => Zgate::start_with_clock(home, &o, clock),
        None => Zgate::start(home, &o),
    }
}

fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}")
}

/// A GET of `path` with `token` as Bearer: (status, curl -i text).
fn get(server: &Zgate, token: &str, path: &str) -> (u16, String) {
    server.curl(&["-H", &bearer(token)], path)
}

/// `oidc-token/validate` of `token`: the status.
fn validate(server: &Zgate, token: &str) -> u16 {
    server
        .curl(
            &[
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "-d",
                &json!({"token": token, "serviceId": "jwtsvc"}).to_string(),
            ],
            "/gateway/api/v1/auth/oidc-token/validate",
        )
        .0
}

/// The SAF check endpoint (any authenticated caller) with `token`:
/// (status, curl -i text).
fn saf_check(server: &Zgate, token: &str) -> (u16, String) {
    server.curl(
        &[
            "-X",
            "POST",
            "-H",
            &bearer(token),
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"resourceClass":"ZOWE","resourceName":"APIML.NOTHING","accessLevel":"READ"}"#,
        ],
        "/gateway/auth/check",
    )
}

/// The SAF check was asked as `user` (who lacks the resource: ZWEAG711E
/// names the principal the token authenticated).
fn assert_checked_as(server: &Zgate, token: &str, user: &str) {
    let (s, t) = saf_check(server, token);
    assert_eq!(s, 401, "{t}");
    assert!(
        t.contains(&format!(
            "The principal '{user}' is missing queried authorization"
        )),
        "{t}"
    );
}

/// What a routed zoweJwt request with `token` brought the backend: its
/// echo, with the gateway's failure header if any.
fn to_jwt_service(server: &Zgate, token: &str) -> (Value, Option<String>) {
    let (s, t) = get(server, token, "/jwtsvc/api/v1/who");
    assert_eq!(s, 200, "{t}");
    let failure = response_header(&t, "x-zowe-auth-failure");
    (body(&t), failure)
}

/// A routed request the gateway refused to vouch for: the backend got no
/// credential at all, and both sides see `failure`.
fn assert_refused_on_route(server: &Zgate, token: &str, failure: &str) {
    let (echo, header) = to_jwt_service(server, token);
    assert_eq!(header.as_deref(), Some(failure), "{echo}");
    assert_eq!(
        header_of(&echo, "x-zowe-auth-failure").as_deref(),
        Some(failure)
    );
    assert!(header_of(&echo, "authorization").is_none(), "{echo}");
    assert!(header_of(&echo, "cookie").is_none(), "{echo}");
    assert!(header_of(&echo, "oidc-token").is_none(), "{echo}");
}

/// The token with its signature's last byte changed.
fn tampered(token: &str) -> String {
    let (rest, sig) = token.rsplit_once('.').unwrap();
    let mut bytes = B64URL.decode(sig).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    format!("{rest}.{}", B64URL.encode(bytes))
}

/// A token with header `header` and payload `payload`, signed by `sign`.
fn forge(header: &Value, payload: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        B64URL.encode(header.to_string()),
        B64URL.encode(payload.to_string())
    );
    let sig = sign(input.as_bytes());
    format!("{input}.{}", B64URL.encode(sig))
}

#[test]
fn a_mapped_provider_token_reaches_every_scheme_as_the_mapped_user() {
    let dir = tempfile::tempdir().unwrap();
    let home = home_with_services(dir.path());
    let echo = Backend::start(&[]);
    let pt = Backend::start(&["--esm-home", home.to_str().unwrap(), "--applid", "TSTAPPL"]);
    write_services(&home, &echo, &pt);
    // The provider over HTTPS with the home's own server certificate, which
    // the gateway's truststore (the home's local CA) verifies.
    let keystore = home.join("keystore");
    let provider = OidcProvider::start(&ProviderOptions {
        tls: Some((
            keystore.join("localhost/localhost.cer"),
            keystore.join("localhost/localhost.key"),
        )),
        ca_file: Some(keystore.join("local_ca/local_ca.cer")),
        ..ProviderOptions::default()
    });
    assert!(provider.issuer.starts_with("https://"));
    let server = start(&home, &jwk_mode(&provider), None);

    for resource in [RS256_RESOURCE, ES256_RESOURCE] {
        let token = provider.client_credentials_token(resource);
        let exp = jwt_payload(&token)["exp"].as_i64().unwrap();

        // zoweJwt: a gateway JWT of ALICE's, ending when the provider's does.
        let (echo_seen, failure) = to_jwt_service(&server, &token);
        assert_eq!(failure, None, "{echo_seen}");
        let cookie = header_of(&echo_seen, "cookie").unwrap();
        let jwt = cookie.strip_prefix("apimlAuthenticationToken=").unwrap();
        assert_ne!(jwt, token);
        let claims = jwt_payload(jwt);
        assert_eq!(claims["sub"], "ALICE");
        assert_eq!(claims["iss"], "APIML");
        assert!(claims["exp"].as_i64().unwrap() <= exp, "{claims}");
        assert!(header_of(&echo_seen, "authorization").is_none());

        // httpBasicPassTicket: ALICE's PassTicket, valid against the ESM.
        let (s, t) = get(&server, &token, "/ptsvc/api/v1/x");
        assert_eq!(s, 200, "{t}");
        let v = body(&t);
        let basic = header_of(&v, "authorization").unwrap();
        let decoded =
            String::from_utf8(B64.decode(basic.strip_prefix("Basic ").unwrap()).unwrap()).unwrap();
        assert!(decoded.starts_with("ALICE:"), "{decoded}");
        // A second ticket within the same second is the same ticket: a
        // replay RACF refuses, so only the first is evaluated.
        if resource == RS256_RESOURCE {
            assert_eq!(v["basicValid"], true, "{v}");
        }

        // safIdt: an IDT of ALICE's that ends when the provider's token does.
        let (s, t) = get(&server, &token, "/idtsvc/api/v1/x");
        assert_eq!(s, 200, "{t}");
        let idt = header_of(&body(&t), "x-saf-token").unwrap();
        let idt_claims = jwt_payload(&idt);
        assert_eq!(idt_claims["sub"], "ALICE");
        assert!(idt_claims["exp"].as_i64().unwrap() <= exp);

        // zosmf: a jwtToken cookie of ALICE's.
        let (s, t) = get(&server, &token, "/zosmfsvc/api/v1/x");
        assert_eq!(s, 200, "{t}");
        let c = header_of(&body(&t), "cookie").unwrap();
        let zosmf = c.strip_prefix("jwtToken=").unwrap();
        assert_eq!(jwt_payload(zosmf)["sub"], "ALICE");

        // bypass: untouched, as API ML leaves it.
        let (s, t) = get(&server, &token, "/bypasssvc/api/v1/x");
        assert_eq!(s, 200, "{t}");
        assert_eq!(
            header_of(&body(&t), "authorization").unwrap(),
            format!("Bearer {token}")
        );

        // The gateway's own endpoints: any caller's take it as ALICE;
        // `auth/query` answers for gateway tokens only, as API ML's does.
        assert_checked_as(&server, &token, "ALICE");
        let (s, t) = get(&server, &token, "/gateway/api/v1/auth/query");
        assert_eq!(s, 401, "{t}");
        assert_eq!(validate(&server, &token), 204);
        let cookie = format!("Cookie: apimlAuthenticationToken={token}");
        let (s, t) = server.curl(&["-H", &cookie], "/jwtsvc/api/v1/who");
        assert_eq!(s, 200);
        let cookie_seen = header_of(&body(&t), "cookie").unwrap();
        assert!(!cookie_seen.contains(&token), "{cookie_seen}");
        assert_eq!(
            jwt_payload(
                cookie_seen
                    .strip_prefix("apimlAuthenticationToken=")
                    .unwrap()
            )["sub"],
            "ALICE"
        );
    }

    let token = provider.client_credentials_token(RS256_RESOURCE);
    assert_eq!(to_jwt_service(&server, &token).1, None);
    // The mapping is asked on every request, not cached with the token:
    // a DELMAP counts at the REFRESH, a REVOKE at once.
    server.esm("RACMAP ID(ALICE) DELMAP(LABEL('alice'))");
    assert_eq!(
        to_jwt_service(&server, &token).1,
        None,
        "before the refresh"
    );
    server.esm("SETROPTS RACLIST(IDIDMAP) REFRESH");
    assert_refused_on_route(&server, &token, "No mainframe identity found.");
    let (s, t) = server.curl(
        &[
            "-X",
            "POST",
            "-H",
            &bearer(&token),
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"resourceClass":"ZOWE","resourceName":"APIML.NOTHING","accessLevel":"READ"}"#,
        ],
        "/gateway/auth/check",
    );
    assert_eq!(s, 401, "{t}");
    assert!(t.contains("ZWEAG161E"), "{t}");
    assert_eq!(
        response_header(&t, "x-zowe-auth-failure").as_deref(),
        Some("No mainframe identity found.")
    );
    // Valid, though unmapped: validate says only that.
    assert_eq!(validate(&server, &token), 204);
    server.esm("RACMAP ID(ALICE) MAP USERDIDFILTER(NAME('alice@example.com')) REGISTRY(NAME('zgate.test')) WITHLABEL('alice')");
    server.esm("SETROPTS RACLIST(IDIDMAP) REFRESH");
    assert_eq!(to_jwt_service(&server, &token).1, None);
    server.esm("ALTUSER ALICE REVOKE");
    assert_refused_on_route(&server, &token, "ZWEAT414E The user is revoked");
    server.esm("ALTUSER ALICE RESUME");
    assert_eq!(to_jwt_service(&server, &token).1, None);

    // A failed mapping is on the record, with the name and registry.
    let records = server.audit_records();
    assert!(
        records.iter().any(|r| r["event"] == 1
            && r["event_qual"] == 39
            && r.to_string().contains("alice@example.com")),
        "no unmapped-identity record"
    );
}

#[test]
fn forged_foreign_and_expired_tokens_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let home = home_with_services(dir.path());
    let echo = Backend::start(&[]);
    let pt = Backend::start(&["--esm-home", home.to_str().unwrap(), "--applid", "TSTAPPL"]);
    write_services(&home, &echo, &pt);
    let provider = OidcProvider::start(&ProviderOptions::default());
    // A second provider whose keys have the same kids as the first's.
    let other = OidcProvider::start(&ProviderOptions::default());
    let clock = Arc::new(SteppedClock::default());
    let server = start(&home, &jwk_mode(&provider), Some(clock.clone()));

    let good = provider.client_credentials_token(RS256_RESOURCE);
    assert_eq!(to_jwt_service(&server, &good).1, None);
    let header = jwt_header(&good);
    let payload = jwt_payload(&good);
    let kid = header["kid"].as_str().unwrap().to_owned();

    let foreign = other.client_credentials_token(RS256_RESOURCE);
    assert_eq!(jwt_header(&foreign)["kid"], kid.as_str(), "colliding kids");
    // Its claims, but the first provider's issuer: the signature is the
    // second's, and the first's key of that kid does not verify it.
    let mut claimed = jwt_payload(&foreign);
    claimed["iss"] = json!(provider.issuer);
    let (foreign_input, foreign_sig) = foreign.rsplit_once('.').unwrap();
    let (foreign_header, _) = foreign_input.split_once('.').unwrap();
    let reissued = format!(
        "{foreign_header}.{}.{foreign_sig}",
        B64URL.encode(claimed.to_string())
    );

    // HS256 keyed with the provider's public key, as published.
    let jwks = provider.http_get(&provider.jwks_uri()).unwrap();
    let hs256 = |key: &[u8]| {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
        move |input: &[u8]| ring::hmac::sign(&key, input).as_ref().to_vec()
    };
    let jwk: Value = serde_json::from_slice::<Value>(&jwks).unwrap()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap()
        .clone();
    let n = B64URL.decode(jwk["n"].as_str().unwrap()).unwrap();

    let attacks: Vec<(&str, String)> = vec![
        ("tampered signature", tampered(&good)),
        (
            "alg none",
            format!(
                "{}.{}.",
                B64URL.encode(json!({"alg": "none", "kid": kid}).to_string()),
                B64URL.encode(payload.to_string())
            ),
        ),
        (
            "HS256 with the public key's JWK",
            forge(&json!({"alg": "HS256", "kid": kid}), &payload, hs256(&jwks)),
        ),
        (
            "HS256 with the public modulus",
            forge(&json!({"alg": "HS256", "kid": kid}), &payload, hs256(&n)),
        ),
        (
            "HS256 with the JWK text",
            forge(
                &json!({"alg": "HS256", "kid": kid}),
                &payload,
                hs256(jwk.to_string().as_bytes()),
            ),
        ),
        ("another provider, colliding kid", foreign.clone()),
        ("another provider's signature, this issuer", reissued),
        ("claims changed under a good signature", {
            let mut p = payload.clone();
            p["sub"] = json!("carol");
            let (input, sig) = good.rsplit_once('.').unwrap();
            let (h, _) = input.split_once('.').unwrap();
            format!("{h}.{}.{sig}", B64URL.encode(p.to_string()))
        }),
        ("not a JWT", "not-a-token".into()),
        (
            "an empty signature",
            format!("{}.", good.rsplit_once('.').unwrap().0),
        ),
        ("four parts", format!("{good}.x")),
        ("oversized", format!("{}{}", good, "A".repeat(9000))),
    ];
    for (what, token) in &attacks {
        let (echo_seen, failure) = to_jwt_service(&server, token);
        assert!(
            failure
                .as_deref()
                .is_some_and(|f| f.starts_with("ZWEAG102E")),
            "{what}: {failure:?} {echo_seen}"
        );
        assert!(header_of(&echo_seen, "cookie").is_none(), "{what}");
        assert!(header_of(&echo_seen, "authorization").is_none(), "{what}");
        if token.len() < 8000 {
            assert_eq!(validate(&server, token), 401, "{what}");
        }
        let (s, t) = saf_check(&server, token);
        assert_eq!(s, 401, "{what}: {t}");
        assert!(!t.contains("ZWEAG711E"), "{what}: {t}");
    }

    // Expired: ten minutes and a half later (the provider's tokens live
    // ten minutes; 30 s of skew).
    clock.advance_s(600 + 31);
    let (s, t) = server.curl(
        &[
            "-X",
            "POST",
            "-H",
            &bearer(&good),
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"resourceClass":"ZOWE","resourceName":"APIML.NOTHING","accessLevel":"READ"}"#,
        ],
        "/gateway/auth/check",
    );
    assert_eq!(s, 401, "{t}");
    assert!(t.contains("ZWEAT100E"), "{t}");
    let (echo_seen, failure) = to_jwt_service(&server, &good);
    assert_eq!(failure.as_deref(), Some("ZWEAT100E Token is expired"));
    assert!(header_of(&echo_seen, "cookie").is_none());
    assert_eq!(validate(&server, &good), 401);
    drop(server);

    // A configuration pinning another issuer spelling or audience refuses
    // the provider's good tokens.
    for (key, value) in [
        ("zgate.oidc.issuers", format!("{}/", provider.issuer)),
        ("zgate.oidc.audiences", "another-api".to_owned()),
        ("zgate.oidc.algorithms", "ES256".to_owned()),
    ] {
        let mut overrides = jwk_mode(&provider);
        overrides.retain(|o| !o.starts_with(key));
        overrides.push(format!("{key}={value}"));
        let server = start(&home, &overrides, None);
        let good = provider.client_credentials_token(RS256_RESOURCE);
        assert_refused_on_route(&server, &good, "ZWEAG102E Token is not valid");
        assert_eq!(validate(&server, &good), 401, "{key}");
    }
}

#[test]
fn validation_requests_are_limited_per_client_address() {
    let dir = tempfile::tempdir().unwrap();
    let home = home_with_services(dir.path());
    let provider = OidcProvider::start(&ProviderOptions::default());
    let clock = Arc::new(SteppedClock::default());
    clock.to_next_second();
    let server = start(&home, &jwk_mode(&provider), Some(clock.clone()));
    let token = provider.client_credentials_token(RS256_RESOURCE);
    // A minute's allowance, from its start.
    let now = clock.to_next_second();
    clock.advance_s(60 - now.div_euclid(1000).rem_euclid(60));
    for n in 0..60 {
        assert_eq!(validate(&server, &token), 204, "request {n}");
    }
    assert_eq!(validate(&server, "garbage"), 429);
    assert_eq!(validate(&server, &token), 429);
    // The limit is the endpoint's: the token still works as a credential.
    assert_checked_as(&server, &token, "ALICE");
    clock.advance_s(60);
    assert_eq!(validate(&server, &token), 204);
    // Without OIDC the endpoint says invalid, whatever the token.
    drop(server);
    let server = Zgate::start(&home, &[]);
    assert_eq!(validate(&server, &token), 401);
}

#[test]
fn rotated_keys_work_at_once_and_cached_keys_outlive_the_provider() {
    let dir = tempfile::tempdir().unwrap();
    let home = home_with_services(dir.path());
    let echo = Backend::start(&[]);
    let pt = Backend::start(&["--esm-home", home.to_str().unwrap(), "--applid", "TSTAPPL"]);
    write_services(&home, &echo, &pt);
    let keys = dir.path().join("provider-keys.json");
    let mut provider = OidcProvider::start(&ProviderOptions {
        keys_file: Some(keys.clone()),
        ..ProviderOptions::default()
    });
    let clock = Arc::new(SteppedClock::default());
    let server = start(&home, &jwk_mode(&provider), Some(clock.clone()));
    let first = provider.client_credentials_token(RS256_RESOURCE);
    assert_eq!(jwt_header(&first)["kid"], "rsa-1");
    assert_eq!(to_jwt_service(&server, &first).1, None);

    // The provider rotates, the old key still published: the new token
    // works on its first request (one fetch on the unknown kid).
    provider.restart(true, false);
    let second = provider.client_credentials_token(RS256_RESOURCE);
    assert_eq!(jwt_header(&second)["kid"], "rsa-2");
    assert_eq!(to_jwt_service(&server, &second).1, None);
    clock.advance_s(21);
    assert_eq!(
        to_jwt_service(&server, &first).1,
        None,
        "old key still published"
    );

    // Another rotation retiring the old keys, sooner than a forced fetch
    // may follow the last: the new kid waits for the interval.
    provider.restart(true, true);
    let third = provider.client_credentials_token(RS256_RESOURCE);
    assert_eq!(jwt_header(&third)["kid"], "rsa-3");
    assert_refused_on_route(&server, &third, "ZWEAG102E Token is not valid");
    clock.advance_s(61);
    assert_eq!(to_jwt_service(&server, &third).1, None);
    // The retired keys are gone with the provider's set.
    assert_refused_on_route(&server, &first, "ZWEAG102E Token is not valid");
    assert_refused_on_route(&server, &second, "ZWEAG102E Token is not valid");

    // The provider goes away: the keys it published keep verifying (past
    // the result cache's 20 s), a kid it never published verifies nothing.
    let fourth = provider.client_credentials_token(ES256_RESOURCE);
    provider.stop();
    clock.advance_s(61);
    assert_eq!(to_jwt_service(&server, &third).1, None);
    assert_eq!(to_jwt_service(&server, &fourth).1, None);
    let mut header = jwt_header(&third);
    header["kid"] = json!("rsa-9");
    let (input, sig) = third.rsplit_once('.').unwrap();
    let (_, payload) = input.split_once('.').unwrap();
    let unknown = format!("{}.{payload}.{sig}", B64URL.encode(header.to_string()));
    assert_refused_on_route(&server, &unknown, "ZWEAG102E Token is not valid");
}

#[test]
fn userinfo_mode_asks_the_provider_and_maps_the_subject_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let home = home_with_services(dir.path());
    let echo = Backend::start(&[]);
    let pt = Backend::start(&["--esm-home", home.to_str().unwrap(), "--applid", "TSTAPPL"]);
    write_services(&home, &echo, &pt);
    let mut provider = OidcProvider::start(&ProviderOptions::default());
    let clock = Arc::new(SteppedClock::default());
    let overrides = vec![
        "components.gateway.apiml.security.oidc.enabled=true".to_owned(),
        format!("components.gateway.apiml.security.oidc.registry={REGISTRY}"),
        "components.gateway.apiml.security.oidc.validationType=endpoint".to_owned(),
        format!(
            "components.gateway.apiml.security.oidc.userInfo.uri={}",
            provider.userinfo_endpoint()
        ),
        format!("zgate.oidc.issuers={}", provider.issuer),
        "zgate.oidc.audiences=zowe-gateway".to_owned(),
    ];
    let server = start(&home, &overrides, Some(clock.clone()));
    // An opaque token of carol's, from the code flow.
    let opaque = provider.authorization_code_token("carol", None, "https://localhost:1/cb");
    assert_eq!(opaque.split('.').count(), 1, "opaque");
    let (echo_seen, failure) = to_jwt_service(&server, &opaque);
    assert_eq!(failure, None, "{echo_seen}");
    let cookie = header_of(&echo_seen, "cookie").unwrap();
    assert_eq!(
        jwt_payload(cookie.strip_prefix("apimlAuthenticationToken=").unwrap())["sub"],
        "CAROL"
    );
    assert_eq!(validate(&server, &opaque), 204);

    for (what, token) in [
        (
            "an opaque token the provider never issued",
            "Zm9vYmFyYmF6cXV4".to_owned(),
        ),
        ("a changed opaque token", format!("{opaque}x")),
        ("a token with a blank", "abc def".to_owned()),
    ] {
        assert_refused_on_route(&server, &token, "ZWEAG102E Token is not valid");
        assert_eq!(validate(&server, &token), 401, "{what}");
    }
    // A JWT access token the provider issued for the resource server: its
    // userinfo endpoint does not take it, so neither does zgate.
    let jwt = provider.client_credentials_token(RS256_RESOURCE);
    assert_refused_on_route(&server, &jwt, "ZWEAG102E Token is not valid");

    // The provider down: nothing it would have to vouch for is accepted.
    provider.stop();
    clock.advance_s(21);
    let (s, t) = get(&server, &opaque, "/gateway/api/v1/auth/query");
    assert_eq!(s, 401, "{t}");
    let (echo_seen, failure) = to_jwt_service(&server, &opaque);
    assert!(
        failure
            .as_deref()
            .is_some_and(|f| f.starts_with("ZWEAG104E")),
        "{failure:?}"
    );
    assert!(header_of(&echo_seen, "cookie").is_none());
}
