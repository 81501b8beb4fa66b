//! The audit trail of zgate in this process: each security decision a
//! request causes (logons, logouts, tokens, checks, reloads) is recorded
//! with the request's id, as its `X-Request-Id` response header names it,
//! and the client's address; a trail that cannot record makes zgate refuse
//! (policy `refuse`) rather than grant unrecorded, and health says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::Value;
use support::*;
use zgate_audit::{AuditHealth, AuditRecord, AuditSink, AuditUnavailable, OnFailure};
use zgate_gateway::audit::AuditTrail;

const PAT_ON: &str = "components.gateway.apiml.security.personalAccessToken.enabled=true";
const SERVICES_AUTHORIZATION: &str = "zgate.services.authorization=true";

/// The `X-Request-Id` of a `curl -i` answer.
fn request_id(text: &str) -> String {
    let ids: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| name.eq_ignore_ascii_case("x-request-id"))
        .map(|(_, value)| value.trim())
        .collect();
    assert_eq!(ids.len(), 1, "one X-Request-Id in {text}");
    ids[0].to_owned()
}

/// The one record of `event`/`qualifier` of the request `id`.
fn the_record(records: &[Value], id: &str, event: u64, qualifier: u64) -> Value {
    let found: Vec<&Value> = records
        .iter()
        .filter(|r| r["request_id"] == id && r["event"] == event && r["event_qual"] == qualifier)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one record {event}/{qualifier} of request {id} in {records:#?}"
    );
    let record = found[0].clone();
    let term = record["term"].as_str().unwrap_or("");
    assert!(
        term.starts_with("127.0.0.1:") && term.len() > "127.0.0.1:".len(),
        "the client's address and port: {record}"
    );
    record
}

fn services_file(home: &std::path::Path) {
    std::fs::create_dir_all(home.join("services")).unwrap();
    std::fs::write(
        home.join("services/closed.yml"),
        "services:\n  - serviceId: closedsvc\n    instanceBaseUrls: [http://127.0.0.1:1/]\n    routes: [{gatewayUrl: api/v1, serviceRelativeUrl: /api/v1}]\n",
    )
    .unwrap();
}

/// ALICE, and profiles that deny her (RACF's default `AUDIT(FAILURES(READ))`
/// records the denials).
const SETUP: [&str; 5] = [
    "ADDUSER ALICE PASSWORD(ALICEPW1) NOEXPIRED",
    "SETROPTS CLASSACT(ZOWE) GENERIC(ZOWE)",
    "RDEFINE ZOWE APIML.SERVICES UACC(NONE)",
    "PERMIT APIML.SERVICES CLASS(ZOWE) ID(ADMIN) ACCESS(UPDATE)",
    "RDEFINE ZOWE APIML.SERVICES.CLOSEDSVC UACC(NONE)",
];

#[test]
fn each_decision_of_a_request_is_recorded_with_its_request_id_and_client() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    services_file(&home);
    let server = Zgate::start(&home, &[PAT_ON, SERVICES_AUTHORIZATION]);
    for command in SETUP {
        server.esm(command);
    }
    let records = server.audit_records();
    assert!(
        records
            .iter()
            .any(|r| r["event"] == 201 && r["event_qual"] == 0 && r["services"]["loaded"] == 1),
        "the start's reload: {records:#?}"
    );

    // A login: the JWT issued.
    let (status, text) = server.curl(
        &["-X", "POST", "-u", "ALICE:ALICEPW1"],
        "/gateway/api/v1/auth/login",
    );
    assert_eq!(status, 204, "{text}");
    let jwt = token_from_response(&text);
    let login = request_id(&text);

    // A failed login: the ESM's record of the logon, with the gateway's id.
    let (status, text) = server.curl(
        &["-X", "POST", "-u", "ALICE:WRONGPW1"],
        "/gateway/api/v1/auth/login",
    );
    assert_eq!(status, 401, "{text}");
    let failed = request_id(&text);

    // A logout.
    let (status, text) = server.curl(
        &[
            "-X",
            "POST",
            "-H",
            &format!("Cookie: apimlAuthenticationToken={jwt}"),
        ],
        "/gateway/api/v1/auth/logout",
    );
    assert_eq!(status, 204, "{text}");
    let logout = request_id(&text);

    // A PAT issued and revoked.
    let (status, text) = server.curl(
        &[
            "-X",
            "POST",
            "-u",
            "ALICE:ALICEPW1",
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"validity":30,"scopes":["closedsvc"]}"#,
        ],
        "/gateway/api/v1/auth/access-token/generate",
    );
    assert_eq!(status, 200, "{text}");
    let pat_issue = request_id(&text);
    let pat = text.rsplit("\r\n\r\n").next().unwrap().trim().to_owned();
    let (status, text) = server.curl(
        &[
            "-X",
            "DELETE",
            "-H",
            "Content-Type: application/json",
            "-d",
            &format!(r#"{{"token":"{pat}"}}"#),
        ],
        "/gateway/api/v1/auth/access-token/revoke",
    );
    assert_eq!(status, 204, "{text}");
    let pat_revoke = request_id(&text);
    // The revoked PAT presented again: a failed logon.
    let (status, text) = server.curl(
        &["-H", &format!("PRIVATE-TOKEN: {pat}")],
        "/closedsvc/api/v1/anything",
    );
    assert_eq!(status, 401, "{text}");
    let pat_refused = request_id(&text);

    // A routed request the service's profile denies.
    let (status, text) = server.curl(&["-u", "ALICE:ALICEPW1"], "/closedsvc/api/v1/anything");
    assert_eq!(status, 403, "{text}");
    let denied = request_id(&text);

    // A reload asked for over HTTP.
    let (status, text) = server.curl(
        &[
            "-X",
            "POST",
            "-u",
            &format!("ADMIN:{}", server.admin_password()),
        ],
        "/gateway/api/v1/services/reload",
    );
    assert_eq!(status, 200, "{text}");
    let reload = request_id(&text);

    let records = server.audit_records();
    let r = the_record(&records, &login, 200, 0);
    assert_eq!(r["evt_user_id"], "ALICE");
    assert_eq!(r["token"]["kind"], "jwt");
    assert_eq!(r["token"]["action"], "issue");
    assert_eq!(r["job_name"], "ZGATE");
    assert_eq!(r["system_smfid"], "ZGAT");

    let r = the_record(&records, &failed, 1, 1);
    assert_eq!(r["evt_user_id"], "ALICE");
    assert_eq!(r["violation"], true);

    let r = the_record(&records, &logout, 1, 8);
    assert_eq!(r["evt_user_id"], "ALICE");
    assert_eq!(r["token"]["kind"], "jwt");

    let r = the_record(&records, &pat_issue, 200, 0);
    assert_eq!(r["token"]["kind"], "pat");
    assert_eq!(r["scopes"], serde_json::json!(["closedsvc"]));
    let r = the_record(&records, &pat_revoke, 200, 2);
    assert_eq!(r["evt_user_id"], "ALICE");
    assert_eq!(r["token"]["kind"], "pat");
    assert_eq!(r["token"]["which"], "token");

    let r = the_record(&records, &pat_refused, 1, 1);
    assert_eq!(
        (r["logstr"].clone(), r["evt_user_id"].clone()),
        ("PAT".into(), "".into())
    );
    assert_eq!(r["violation"], true);

    let r = the_record(&records, &denied, 2, 1);
    assert_eq!(r["evt_user_id"], "ALICE");
    assert_eq!(r["job_name"], "closedsvc");

    let r = the_record(&records, &reload, 201, 0);
    assert_eq!(r["evt_user_id"], "ADMIN");
    assert_eq!(r["services"]["loaded"], 1);

    // No secret anywhere in the trail.
    let trail = serde_json::to_string(&records).unwrap();
    for secret in [
        "ALICEPW1",
        "WRONGPW1",
        jwt.as_str(),
        pat.as_str(),
        server.admin_password().as_str(),
    ] {
        assert!(!trail.contains(secret), "a secret in the trail");
    }
}

#[test]
fn a_request_id_is_zgates_never_the_clients() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let server = Zgate::start(&home, &[]);
    let mut seen = Vec::new();
    // Both protocols (the client alternates), an endpoint and an error.
    for path in [
        "/application/health",
        "/application/health",
        "/nosuchservice/api/v1/x",
        "/nosuchservice/api/v1/x",
    ] {
        let (_, text) = server.curl(&["-H", "X-Request-Id: chosen-by-client"], path);
        let id = request_id(&text);
        assert_ne!(id, "chosen-by-client");
        assert!(!seen.contains(&id), "{id} twice");
        seen.push(id);
    }
}

/// A trail whose disk is full: refuses every record under `refuse`, and
/// drops (and counts) them under `count`.
struct FullTrail {
    on_failure: OnFailure,
    dropped: AtomicU64,
}

impl FullTrail {
    fn new(on_failure: OnFailure) -> Arc<FullTrail> {
        Arc::new(FullTrail {
            on_failure,
            dropped: AtomicU64::new(0),
        })
    }
}

impl AuditSink for FullTrail {
    fn submit(&self, _: AuditRecord) -> Result<(), AuditUnavailable> {
        self.dropped.fetch_add(1, Ordering::SeqCst);
        match self.on_failure {
            OnFailure::Refuse => Err(AuditUnavailable("no space left on device".into())),
            OnFailure::Count => Ok(()),
        }
    }
}

impl AuditTrail for FullTrail {
    fn health(&self) -> AuditHealth {
        AuditHealth {
            on_failure: self.on_failure,
            queued: 0,
            written: 0,
            dropped: self.dropped.load(Ordering::SeqCst),
            error: Some("no space left on device".into()),
        }
    }

    fn flush(&self) {}
}

/// A home made by a first start on its own trail, so that the first
/// start's commands are kept.
fn prepared_home(dir: &std::path::Path) -> std::path::PathBuf {
    let home = dir.join("home");
    services_file(&home);
    let server = Zgate::start(&home, &[]);
    for command in SETUP {
        server.esm(command);
    }
    server.stop().unwrap();
    home
}

fn health(server: &Zgate) -> (u16, Value) {
    let (status, text) = server.curl(&[], "/application/health");
    let body = text.rsplit("\r\n\r\n").next().unwrap();
    (status, serde_json::from_str(body).unwrap())
}

#[test]
fn a_trail_that_refuses_refuses_tokens_and_recorded_checks() {
    let dir = tempfile::tempdir().unwrap();
    let home = prepared_home(dir.path());
    let server = Zgate::start_with_trail(
        &home,
        &[SERVICES_AUTHORIZATION],
        FullTrail::new(OnFailure::Refuse),
    );

    // The logon needs no record, the token does: no token.
    let (status, text) = server.curl(
        &["-X", "POST", "-u", "ALICE:ALICEPW1"],
        "/gateway/api/v1/auth/login",
    );
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("ZWEAG104E"), "{text}");
    assert!(!text.to_ascii_lowercase().contains("set-cookie"), "{text}");

    // A denial must be recorded; unrecorded it is no answer at all.
    let (status, text) = server.curl(&["-u", "ALICE:ALICEPW1"], "/closedsvc/api/v1/anything");
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("ZWEAG104E"), "{text}");
    let (status, text) = server.curl(
        &[
            "-X",
            "POST",
            "-u",
            "ALICE:ALICEPW1",
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"resourceClass":"ZOWE","resourceName":"APIML.SERVICES","accessLevel":"READ"}"#,
        ],
        "/gateway/auth/check",
    );
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("ZWEAG104E"), "{text}");

    let (status, body) = health(&server);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "DOWN", "{body}");
    assert_eq!(body["components"]["audit"]["status"], "DOWN", "{body}");
    assert_eq!(
        body["components"]["audit"]["details"]["policy"], "refuse",
        "{body}"
    );
}

#[test]
fn a_trail_that_counts_grants_and_health_shows_the_drops() {
    let dir = tempfile::tempdir().unwrap();
    let home = prepared_home(dir.path());
    let trail = FullTrail::new(OnFailure::Count);
    let server = Zgate::start_with_trail(&home, &[], trail.clone());
    let before = trail.dropped.load(Ordering::SeqCst);
    server.login("ALICE", "ALICEPW1");
    assert!(trail.dropped.load(Ordering::SeqCst) > before);

    let (status, body) = health(&server);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "UP", "{body}");
    let audit = &body["components"]["audit"];
    assert_eq!(audit["status"], "DOWN", "{body}");
    assert_eq!(audit["details"]["policy"], "count", "{body}");
    assert!(
        audit["details"]["dropped"].as_u64().unwrap() > before,
        "{body}"
    );

    let (_, metrics) = server.curl(&[], "/application/metrics");
    assert!(
        metrics.contains(&format!(
            "zgate_audit_records_dropped_total {}",
            trail.dropped.load(Ordering::SeqCst)
        )),
        "{metrics}"
    );
}

#[test]
fn health_and_metrics_report_the_homes_trail() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let server = Zgate::start(&home, &[]);
    server.login("ADMIN", &server.admin_password());
    let written = server.audit_records().len();
    let (status, body) = health(&server);
    assert_eq!(status, 200, "{body}");
    let audit = &body["components"]["audit"];
    assert_eq!(audit["status"], "UP", "{body}");
    assert_eq!(audit["details"]["policy"], "refuse", "{body}");
    assert_eq!(audit["details"]["dropped"], 0, "{body}");
    assert!(
        audit["details"]["written"].as_u64().unwrap() >= written as u64,
        "{body}"
    );
    let (_, metrics) = server.curl(&[], "/application/metrics");
    assert!(
        metrics.contains("zgate_audit_records_written_total "),
        "{metrics}"
    );
    assert!(
        metrics.contains("zgate_audit_records_dropped_total 0"),
        "{metrics}"
    );
    // Without auditing there is no component.
    drop(server);
    let server = Zgate::start(&home, &["zgate.audit.enabled=false"]);
    let (_, body) = health(&server);
    assert!(body["components"].get("audit").is_none(), "{body}");
}
