//! Every endpoint of the gateway against every kind of caller, as one table:
//! which credentials each endpoint takes, which SAF access it needs, and that
//! a revoked user's token, a PAT out of its scopes and an unmapped
//! certificate are refused everywhere. In-process through `Gateway`, with the
//! real ESM in a temporary home and certificates made by the real `openssl`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use axum::body::Body;
use rustls::pki_types::CertificateDer;
use support::*;
use zgate_auth::{ManualClock, PatService, TokenService};
use zgate_esm::{Esm, EsmConfig, HashCost, Issuer};
use zgate_gateway::esm_adapter::EsmSecurity;
use zgate_gateway::routes::{router_with, Gateway};
use zgate_gateway::routing::{Routing, RoutingSettings};
use zgate_gateway::server::PeerCertificates;
use zgate_gateway::{AppState, Settings};

/// The kinds of caller, in the columns' order.
#[derive(Debug, Clone, Copy)]
enum Caller {
    Nobody,
    Jwt,
    RevokedUsersJwt,
    PatInScope,
    PatOutOfScope,
    Basic,
    MappedCertificate,
    UnmappedCertificate,
    /// A JWT of a user without SAF access to `APIML.SERVICES`.
    JwtWithoutAccess,
}

const CALLERS: [Caller; 9] = [
    Caller::Nobody,
    Caller::Jwt,
    Caller::RevokedUsersJwt,
    Caller::PatInScope,
    Caller::PatOutOfScope,
    Caller::Basic,
    Caller::MappedCertificate,
    Caller::UnmappedCertificate,
    Caller::JwtWithoutAccess,
];

struct World {
    app: Gateway,
    clock: Arc<ManualClock>,
    tokens: Arc<TokenService>,
    pats: Arc<PatService>,
    revoked_jwt: String,
    mapped: CertificateDer<'static>,
    unmapped: CertificateDer<'static>,
    _dir: tempfile::TempDir,
}

fn openssl_certificate(dir: &Path, name: &str, subject: &str) -> CertificateDer<'static> {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            subject,
            "-keyout",
        ])
        .arg(format!("{name}.key"))
        .args(["-outform", "DER", "-out"])
        .arg(format!("{name}.der"))
        .args(["-days", "2"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    CertificateDer::from(std::fs::read(dir.join(format!("{name}.der"))).unwrap())
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    // One clock for the ESM and the tokens: revocation times and issue
    // times are compared.
    let clock = Arc::new(ManualClock::new(T0));
    let esm = Arc::new(
        Esm::open_with(
            dir.path(),
            EsmConfig {
                hash_cost: HashCost::TEST_ONLY,
                clock: clock.clone(),
                ..EsmConfig::default()
            },
        )
        .unwrap(),
    );
    for command in [
        "ADDUSER ALICE PASSWORD(ALICEPW1) NOEXPIRED",
        "ADDUSER RUTH PASSWORD(RUTHPW1) NOEXPIRED",
        "ADDUSER BOB PASSWORD(BOBPW1) NOEXPIRED",
        "SETROPTS CLASSACT(ZOWE) GENERIC(ZOWE)",
        "RDEFINE ZOWE APIML.SERVICES UACC(NONE)",
        "PERMIT APIML.SERVICES CLASS(ZOWE) ID(ALICE) ACCESS(UPDATE)",
        "PERMIT APIML.SERVICES CLASS(ZOWE) ID(RUTH) ACCESS(UPDATE)",
        "RACDCERT MAP ID(ALICE) SDNFILTER('CN=ALICE.O=ZGATE TESTS') WITHLABEL('alice')",
    ] {
        esm.run_command(&Issuer::Operator, command).unwrap();
    }
    let security = EsmSecurity::new(esm.clone());
    let tokens = token_service(clock.clone(), Arc::new(security.clone()));
    let pats = Arc::new(PatService::new(tokens.clone(), Arc::new(security.clone())));
    let state = AppState::new(
        Arc::new(security),
        tokens.clone(),
        Settings {
            allow_token_refresh: true,
            cookie_max_age_seconds: None,
            x509_enabled: true,
            network_zones: Vec::new(),
        },
    )
    .with_pats(pats.clone());
    let services = dir.path().join("services");
    std::fs::create_dir_all(&services).unwrap();
    let routing = Routing::new(
        RoutingSettings {
            services_directory: services,
            ..RoutingSettings::default()
        },
        None,
    )
    .unwrap();
    let revoked_jwt = tokens.issue("RUTH").unwrap().token;
    clock.advance_ms(1_500);
    esm.run_command(&Issuer::Operator, "ALTUSER RUTH REVOKE")
        .unwrap();
    World {
        app: router_with(state, Some(routing)),
        clock,
        tokens,
        pats,
        revoked_jwt,
        mapped: openssl_certificate(dir.path(), "alice", "/O=ZGATE TESTS/CN=ALICE"),
        unmapped: openssl_certificate(dir.path(), "nobody", "/O=ZGATE TESTS/CN=NOBODY"),
        _dir: dir,
    }
}

/// A request as `caller` makes it; credentials are fresh for every
/// request, since some endpoints consume them (logout, refresh).
fn as_caller(
    w: &World,
    caller: Caller,
    mut request: http::request::Builder,
) -> http::request::Builder {
    // A second between requests: a revocation rule made by one request
    // (revoke/tokens) ends the tokens issued up to its time, not later ones.
    w.clock.advance_ms(1_000);
    let pat = |scope: &str| {
        w.pats
            .generate("ALICE", 30, &[scope.to_string()])
            .unwrap()
            .0
    };
    let bearer = |token: String| format!("Bearer {token}");
    let certificate = |der: &CertificateDer<'static>| PeerCertificates(Arc::new(vec![der.clone()]));
    match caller {
        Caller::Nobody => request,
        Caller::Jwt => request.header(
            "authorization",
            bearer(w.tokens.issue("ALICE").unwrap().token),
        ),
        Caller::RevokedUsersJwt => request.header("authorization", bearer(w.revoked_jwt.clone())),
        Caller::PatInScope => request.header("authorization", bearer(pat("gateway"))),
        Caller::PatOutOfScope => request.header("authorization", bearer(pat("otherservice"))),
        Caller::Basic => request.header("authorization", basic("ALICE", "ALICEPW1")),
        Caller::MappedCertificate => {
            request = request.extension(certificate(&w.mapped));
            request
        }
        Caller::UnmappedCertificate => request.extension(certificate(&w.unmapped)),
        Caller::JwtWithoutAccess => request.header(
            "authorization",
            bearer(w.tokens.issue("BOB").unwrap().token),
        ),
    }
}

/// One endpoint and the status each caller gets, in [`CALLERS`]' order.
struct Row {
    method: &'static str,
    path: &'static str,
    body: &'static str,
    expect: [u16; 9],
}

const P: &str = "/gateway/api/v1/auth";

fn rows() -> Vec<Row> {
    // Columns: nobody, JWT, revoked user's JWT, PAT in scope, PAT out of
    // scope, Basic, mapped certificate, unmapped certificate, JWT of a user
    // without SAF access.
    let any_caller = |ok: u16| [401, ok, 401, ok, 401, ok, ok, 401, ok];
    let services = |ok: u16| [401, ok, 401, ok, 401, ok, ok, 401, 403];
    let jwt_only = |ok: u16| [401, ok, 401, 401, 401, 401, 401, 401, ok];
    let public = |ok: u16| [ok; 9];
    let check = r#"{"resourceClass":"ZOWE","resourceName":"APIML.SERVICES","accessLevel":"READ"}"#;
    let row = |method, path, body, expect| Row {
        method,
        path,
        body,
        expect,
    };
    let mut rows = Vec::new();
    for prefix in [P, "/zaas/api/v1/auth"] {
        let p =
            |rest: &str| -> &'static str { Box::leak(format!("{prefix}{rest}").into_boxed_str()) };
        rows.extend([
            // Login takes Basic or a certificate; a token is no login (400:
            // no credentials it reads).
            row(
                "POST",
                p("/login"),
                "",
                [400, 400, 400, 400, 400, 204, 204, 401, 400],
            ),
            row(
                "POST",
                p("/logout"),
                "",
                [401, 204, 401, 401, 401, 401, 401, 401, 204],
            ),
            row("GET", p("/query"), "", jwt_only(200)),
            row("POST", p("/refresh"), "", jwt_only(204)),
            // The ticket endpoint takes a JWT; this gateway has no PassTicket
            // issuer, so an accepted caller gets the generation failure.
            row(
                "POST",
                p("/ticket"),
                r#"{"applicationName":"ZOWEAPPL"}"#,
                jwt_only(500),
            ),
            row("GET", p("/keys/public/all"), "", public(200)),
            row("GET", p("/keys/public/current"), "", public(200)),
            row("GET", p("/keys/public"), "", public(200)),
            // A PAT is made from a real logon only.
            row(
                "POST",
                p("/access-token/generate"),
                r#"{"validity":1,"scopes":["zosmf"]}"#,
                [401, 401, 401, 401, 401, 200, 200, 401, 401],
            ),
            // The token in the body proves the request, whoever calls.
            row(
                "POST",
                p("/access-token/validate"),
                r#"{"token":"x.y.z","serviceId":"zosmf"}"#,
                public(401),
            ),
            row(
                "DELETE",
                p("/access-token/revoke"),
                r#"{"token":"x.y.z"}"#,
                public(401),
            ),
            row(
                "DELETE",
                p("/access-token/revoke/tokens"),
                "",
                any_caller(204),
            ),
            row(
                "DELETE",
                p("/access-token/revoke/tokens/user"),
                r#"{"userId":"BOB"}"#,
                services(204),
            ),
            row(
                "DELETE",
                p("/access-token/revoke/tokens/scope"),
                r#"{"serviceId":"zosmf"}"#,
                services(204),
            ),
            row("DELETE", p("/access-token/evict"), "", services(204)),
            row(
                "POST",
                p("/safidt/validate"),
                r#"{"token":"x.y.z"}"#,
                public(401),
            ),
        ]);
    }
    rows.extend([
        row(
            "POST",
            "/apicatalog/api/v1/auth/login",
            "",
            [400, 400, 400, 400, 400, 204, 204, 401, 400],
        ),
        row(
            "POST",
            "/apicatalog/api/v1/auth/logout",
            "",
            [401, 204, 401, 401, 401, 401, 401, 401, 204],
        ),
        // A denied check is 401 (ZWEAG711E), as the contract says.
        row(
            "POST",
            "/gateway/auth/check",
            check,
            [401, 204, 401, 204, 401, 204, 204, 401, 401],
        ),
        row("GET", "/gateway/api/v1/services", "", services(200)),
        row("POST", "/gateway/api/v1/services/reload", "", services(200)),
        row("GET", "/application/health", "", public(200)),
        row("GET", "/application/metrics", "", public(200)),
        row("GET", "/gateway/api-docs", "", public(200)),
    ]);
    rows
}

#[tokio::test]
async fn every_endpoint_takes_exactly_the_callers_it_documents() {
    let w = world();
    let mut failures = Vec::new();
    let rows = rows();
    for row in &rows {
        for (caller, want) in CALLERS.iter().zip(row.expect) {
            let mut request = as_caller(&w, *caller, req(row.method, row.path));
            if !row.body.is_empty() {
                request = request.header("content-type", "application/json");
            }
            let reply = send(&w.app, request.body(Body::from(row.body)).unwrap()).await;
            if reply.status.as_u16() != want {
                failures.push(format!(
                    "{} {} as {caller:?}: want {want}, got {} {}",
                    row.method, row.path, reply.status, reply.body
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cells differ:\n{}",
        failures.len(),
        rows.len() * CALLERS.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_in_api_mls_shape_everywhere() {
    let w = world();
    let large = format!("{{\"x\":\"{}\"}}", "a".repeat(64 * 1024));
    let mut failures = Vec::new();
    for row in rows() {
        let request = as_caller(&w, Caller::Jwt, req(row.method, row.path))
            .header("content-type", "application/json")
            .body(Body::from(large.clone()))
            .unwrap();
        let reply = send(&w.app, request).await;
        // Endpoints that never read a body answer as usual.
        if reply.status.is_success() {
            continue;
        }
        let shaped = reply.header("content-type") == Some("application/json")
            && serde_json::from_str::<serde_json::Value>(&reply.body)
                .is_ok_and(|json| json["messages"][0]["messageNumber"].is_string());
        if !shaped {
            failures.push(format!(
                "{} {}: {} {}",
                row.method, row.path, reply.status, reply.body
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
