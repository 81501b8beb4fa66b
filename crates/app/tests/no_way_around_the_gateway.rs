//! Adversarial end to end: zgate in this process, over real TLS sockets,
//! in front of real `zgate-test-backend` processes, attacked the ways gateways are usually
//! got around: credentials that outlive their user, tokens used outside
//! their scopes, request targets that climb out of a service, identity
//! headers in another spelling, names that a trim turns into someone else,
//! and JSON endpoints fed a form.
//!
//! Every request-level case is a table row run over HTTP/1.1 and HTTP/2;
//! a test reports every failing row (name and protocol) before it fails.
//! Rows marked "(variant)" go beyond the behaviour first written down, in
//! the same class of attack.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_support;
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use attack_support::*;

/// How soon a revocation must be honoured everywhere.
const REVOCATION_DEADLINE: Duration = Duration::from_secs(1);
/// How long a revocation may take before the test stops waiting for it.
const REVOCATION_GIVE_UP: Duration = Duration::from_secs(5);

const CHECK_SERVICES_READ: &str =
    r#"{"resourceClass":"ZOWE","resourceName":"APIML.SERVICES","accessLevel":"READ"}"#;

fn zowe_jwt() -> &'static str {
    "    authentication:\n      scheme: zoweJwt\n"
}

// ---------------------------------------------------------------------------
// 1. Revocation ends access within one second.
// ---------------------------------------------------------------------------

/// Where a credential is presented.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    /// A gateway endpoint: honoured is 200/204, refused is 401.
    Endpoint,
    /// A zoweJwt service: honoured is the backend receiving a credential;
    /// refused is a 401, or the request forwarded without any credential
    /// and with `X-Zowe-Auth-Failure`.
    Routed,
}

struct Probe {
    name: String,
    req: Req,
    place: Place,
}

fn honoured(p: &Probe, r: &Resp) -> bool {
    match p.place {
        Place::Endpoint => matches!(r.status, 200 | 204),
        Place::Routed => r.echo().is_some_and(|e| !e.credentials().is_empty()),
    }
}

fn refused(p: &Probe, r: &Resp) -> bool {
    match p.place {
        Place::Endpoint => r.status == 401,
        Place::Routed => {
            r.status == 401
                || (r.status == 200
                    && r.echo().is_some_and(|e| {
                        e.credentials().is_empty()
                            && !e.any_spelling("x-zowe-auth-failure").is_empty()
                    }))
        }
    }
}

/// ALICE's credentials, each where it is accepted.
struct Creds<'a> {
    jwt: Option<&'a str>,
    pat: Option<&'a str>,
    cert: Option<&'a ClientCert>,
    password: Option<&'a str>,
}

fn all_creds<'a>(jwt: &'a str, pat: &'a str, cert: &'a ClientCert, password: &'a str) -> Creds<'a> {
    Creds {
        jwt: Some(jwt),
        pat: Some(pat),
        cert: Some(cert),
        password: Some(password),
    }
}

fn probes(c: &Creds) -> Vec<Probe> {
    let p = |name: &str, req: Req, place| Probe {
        name: name.to_owned(),
        req,
        place,
    };
    let check = || Req::post("/gateway/auth/check").json(CHECK_SERVICES_READ);
    let services = || Req::get("/gateway/api/v1/services");
    let routed = || Req::get("/echo/api/v1/revocation");
    let login = || Req::post("/gateway/api/v1/auth/login");
    let mut v = Vec::new();
    if let Some(jwt) = c.jwt {
        let query = Req::get("/gateway/api/v1/auth/query");
        v.push(p(
            "JWT cookie on query",
            query.clone().jwt(jwt),
            Place::Endpoint,
        ));
        v.push(p("JWT Bearer on query", query.bearer(jwt), Place::Endpoint));
        v.push(p(
            "JWT cookie on auth/check",
            check().jwt(jwt),
            Place::Endpoint,
        ));
        v.push(p(
            "JWT cookie on services",
            services().jwt(jwt),
            Place::Endpoint,
        ));
        v.push(p("JWT cookie routed", routed().jwt(jwt), Place::Routed));
    }
    if let Some(pat) = c.pat {
        v.push(p(
            "PAT PRIVATE-TOKEN on auth/check",
            check().pat(pat),
            Place::Endpoint,
        ));
        v.push(p(
            "PAT Bearer on services",
            services().bearer(pat),
            Place::Endpoint,
        ));
        v.push(p(
            "PAT cookie on services",
            services().cookie(&format!("personalAccessToken={pat}")),
            Place::Endpoint,
        ));
        v.push(p(
            "PAT PRIVATE-TOKEN routed",
            routed().pat(pat),
            Place::Routed,
        ));
    }
    if let Some(cert) = c.cert {
        v.push(p(
            "certificate on auth/check",
            check().cert(cert),
            Place::Endpoint,
        ));
        v.push(p(
            "certificate on services",
            services().cert(cert),
            Place::Endpoint,
        ));
        v.push(p("certificate routed", routed().cert(cert), Place::Routed));
        v.push(p("certificate login", login().cert(cert), Place::Endpoint));
    }
    if let Some(pw) = c.password {
        v.push(p(
            "password on auth/check",
            check().basic("ALICE", pw),
            Place::Endpoint,
        ));
        v.push(p(
            "password routed",
            routed().basic("ALICE", pw),
            Place::Routed,
        ));
        v.push(p(
            "password login",
            login().basic("ALICE", pw),
            Place::Endpoint,
        ));
    }
    v
}

fn both(probes: &[Probe]) -> Vec<(Proto, Req)> {
    BOTH.iter()
        .flat_map(|&proto| probes.iter().map(move |p| (proto, p.req.clone())))
        .collect()
}

fn proto_of(i: usize, n: usize) -> Proto {
    BOTH[i / n]
}

/// One round, once the setup has reached the gateway: every probe must be
/// honoured (the "works before" cases).
fn all_honoured(server: &Server, report: &mut Report, phase: &str, probes: &[Probe]) {
    let resps = server.batch(&both(probes));
    for (i, r) in resps.iter().enumerate() {
        let p = &probes[i % probes.len()];
        let verdict = if honoured(p, r) {
            Ok(())
        } else {
            Err(format!("not honoured: {}", r.summary()))
        };
        report.check(
            &format!("{phase}: {}", p.name),
            Some(proto_of(i, probes.len())),
            verdict,
        );
    }
}

/// Runs `command` from another process and records, for every probe over
/// both protocols, whether the gateway picked the change up within
/// [`REVOCATION_DEADLINE`] of the command (its reload generation moved)
/// and refused the probe from then on (one round right after).
fn all_refused_within(
    server: &Server,
    report: &mut Report,
    phase: &str,
    probes: &[Probe],
    command: &str,
) {
    let before = server.gateway.generation();
    server.gateway.esm_result(command).unwrap();
    let since = Instant::now();
    let took = server.gateway.reloaded_past(before, REVOCATION_GIVE_UP);
    match took {
        Some(t) => eprintln!("{phase}: picked up {} ms after the command", t.as_millis()),
        None => eprintln!("{phase}: not picked up within {REVOCATION_GIVE_UP:?}"),
    }
    let resps = server.batch(&both(probes));
    let n = probes.len();
    for (i, r) in resps.iter().enumerate() {
        let verdict = match took {
            _ if !refused(&probes[i % n], r) => Err(format!(
                "not refused {} ms after the command: {}",
                since.elapsed().as_millis(),
                r.summary()
            )),
            Some(t) if t <= REVOCATION_DEADLINE => Ok(()),
            Some(t) => Err(format!(
                "refused only {} ms after the command (want within {} ms)",
                t.as_millis(),
                REVOCATION_DEADLINE.as_millis()
            )),
            None => Err(format!(
                "not picked up {} s after the command",
                REVOCATION_GIVE_UP.as_secs()
            )),
        };
        report.check(
            &format!("{phase}: {}", probes[i % n].name),
            Some(proto_of(i, n)),
            verdict,
        );
    }
}

/// One round: every probe must be refused now (the change that refuses
/// them is known to have reached the gateway).
fn all_refused_now(server: &Server, report: &mut Report, phase: &str, probes: &[Probe]) {
    let resps = server.batch(&both(probes));
    for (i, r) in resps.iter().enumerate() {
        let p = &probes[i % probes.len()];
        let verdict = if refused(p, r) {
            Ok(())
        } else {
            Err(format!("not refused: {}", r.summary()))
        };
        report.check(
            &format!("{phase}: {}", p.name),
            Some(proto_of(i, probes.len())),
            verdict,
        );
    }
}

/// Whether ALICE logs in with `password` (the setup that allows it has
/// reached the gateway).
fn logs_in(server: &Server, password: &str) -> bool {
    server
        .send(
            Proto::H1,
            Req::post("/gateway/api/v1/auth/login").basic("ALICE", password),
        )
        .status
        == 204
}

#[test]
fn revocation_ends_every_credential_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let backend = Backend::start(&[]);
    write_services(&home, &[service("echo", &backend, zowe_jwt())]);
    let server = Server::start(&home, &[X509_ON, PAT_ON]);
    server.esm("ADDUSER ALICE PASSWORD(ALICEPW1) NOEXPIRED");
    for c in [
        "SETROPTS CLASSACT(ZOWE) GENERIC(ZOWE)",
        // Revoked at the fourth consecutive failure (the last phase).
        "SETROPTS PASSWORD(REVOKE(3))",
        "RDEFINE ZOWE APIML.SERVICES UACC(NONE)",
        "PERMIT APIML.SERVICES CLASS(ZOWE) ID(ALICE) ACCESS(READ)",
    ] {
        server.esm(c);
    }
    let cert = server
        .gateway
        .client_cert("alice", &dir.path().join("certs"));
    server.esm(&cert.map);
    assert!(logs_in(&server, "ALICEPW1"));
    let mut report = Report::new("revocation");

    // Every credential works before.
    let jwt1 = server.login("ALICE", "ALICEPW1");
    let pat1 = server.pat("ALICE", "ALICEPW1", &["gateway", "echo"]);
    let first = probes(&all_creds(&jwt1, &pat1, &cert, "ALICEPW1"));
    all_honoured(&server, &mut report, "before REVOKE", &first);

    // REVOKE from another process: refused everywhere within a second.
    all_refused_within(
        &server,
        &mut report,
        "after REVOKE",
        &first,
        "ALTUSER ALICE REVOKE",
    );

    // RESUME: old tokens stay refused; new ones work.
    server.esm("ALTUSER ALICE RESUME");
    report.check(
        "after RESUME: a new login works",
        None,
        logs_in(&server, "ALICEPW1")
            .then_some(())
            .ok_or_else(|| "no login once RESUME reached the gateway".to_owned()),
    );
    let old_tokens = probes(&Creds {
        jwt: Some(&jwt1),
        pat: Some(&pat1),
        cert: None,
        password: None,
    });
    all_refused_now(
        &server,
        &mut report,
        "after RESUME (old tokens)",
        &old_tokens,
    );
    let jwt2 = server.login("ALICE", "ALICEPW1");
    let pat2 = server.pat("ALICE", "ALICEPW1", &["gateway", "echo"]);
    // The certificate is no token: a resumed user logs in with it again.
    let second = probes(&all_creds(&jwt2, &pat2, &cert, "ALICEPW1"));
    all_honoured(&server, &mut report, "after RESUME (new)", &second);

    // DELUSER: refused within a second; a new user of the same name does
    // not inherit the old one's tokens.
    all_refused_within(
        &server,
        &mut report,
        "after DELUSER",
        &second,
        "DELUSER ALICE",
    );
    server.esm("ADDUSER ALICE PASSWORD(ALICEPW2) NOEXPIRED");
    server.esm("PERMIT APIML.SERVICES CLASS(ZOWE) ID(ALICE) ACCESS(READ)");
    report.check(
        "after ADDUSER again: a new login works",
        None,
        logs_in(&server, "ALICEPW2")
            .then_some(())
            .ok_or_else(|| "no login once ADDUSER reached the gateway".to_owned()),
    );
    let mut before_deluser = Vec::new();
    for (jwt, pat) in [(&jwt1, &pat1), (&jwt2, &pat2)] {
        before_deluser.extend(probes(&Creds {
            jwt: Some(jwt),
            pat: Some(pat),
            cert: None,
            password: None,
        }));
    }
    all_refused_now(
        &server,
        &mut report,
        "after ADDUSER again (old tokens)",
        &before_deluser,
    );

    // Revoked by failed attempts: the fourth wrong password revokes, and
    // with it every token issued before.
    let jwt3 = server.login("ALICE", "ALICEPW2");
    let pat3 = server.pat("ALICE", "ALICEPW2", &["gateway", "echo"]);
    let third = probes(&Creds {
        jwt: Some(&jwt3),
        pat: Some(&pat3),
        cert: None,
        password: Some("ALICEPW2"),
    });
    all_honoured(&server, &mut report, "before failed attempts", &third);
    let wrong = Req::post("/gateway/api/v1/auth/login").basic("ALICE", "WRONGPW9");
    let attempts: Vec<(Proto, Req)> = [Proto::H1, Proto::H2, Proto::H1, Proto::H2]
        .into_iter()
        .map(|p| (p, wrong.clone()))
        .collect();
    // The gateway's own ESM counts them and revokes before it answers the
    // fourth: refused at once.
    server.batch(&attempts);
    all_refused_now(
        &server,
        &mut report,
        "after 4 wrong passwords with REVOKE(3)",
        &third,
    );
    same_second_revocation(&server, &mut report);
    drop(backend);
    report.finish();
}

/// The `iat` claim of a JWT (seconds).
fn iat(jwt: &str) -> i64 {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    claims["iat"].as_i64().unwrap()
}

/// A token's `iat` has whole seconds, a revocation's time milliseconds: a
/// token issued in the second its user was created, and revoked later in
/// that same second, must end with the revocation like any other. The case
/// needs creation, login and REVOKE within one second, so each attempt
/// moves the gateway's clock (shared with the ESM commands) to the start
/// of a second and uses a user of its own, until the token's `iat` second
/// is the revocation's (the case under test).
fn same_second_revocation(server: &Server, report: &mut Report) {
    for attempt in 1..=3 {
        let user = format!("SAMESEC{attempt}");
        server.clock.to_next_second();
        server.esm(&format!("ADDUSER {user} PASSWORD(SAMEPW1) NOEXPIRED"));
        let r = server.send(
            Proto::H1,
            Req::post("/gateway/api/v1/auth/login").basic(&user, "SAMEPW1"),
        );
        let jwt = token_from(&r).unwrap_or_else(|| panic!("the new user's login: {}", r.summary()));
        let pat = server.pat(&user, "SAMEPW1", &["echo"]);
        server.esm(&format!("ALTUSER {user} REVOKE"));
        let revoked_by = server.clock.now_ms();
        server.esm(&format!("ALTUSER {user} RESUME"));
        let r = server.send(
            Proto::H1,
            Req::post("/gateway/api/v1/auth/login").basic(&user, "SAMEPW1"),
        );
        assert_eq!(r.status, 204, "a login after RESUME: {}", r.summary());
        let query = Req::get("/gateway/api/v1/auth/query");
        let probes = [
            Probe {
                name: "JWT cookie on query".to_owned(),
                req: query.clone().jwt(&jwt),
                place: Place::Endpoint,
            },
            Probe {
                name: "JWT cookie routed".to_owned(),
                req: Req::get("/echo/api/v1/revocation").jwt(&jwt),
                place: Place::Routed,
            },
            // The user has no SAF access, so a PAT shows only where routed.
            Probe {
                name: "PAT PRIVATE-TOKEN routed".to_owned(),
                req: Req::get("/echo/api/v1/revocation").pat(&pat),
                place: Place::Routed,
            },
        ];
        let arranged = iat(&jwt) == revoked_by / 1000;
        let phase = if arranged {
            "after REVOKE and RESUME, a token issued before the REVOKE in the same second"
        } else {
            "after REVOKE and RESUME, a token issued before the REVOKE"
        };
        all_refused_now(server, report, phase, &probes);
        if arranged {
            return;
        }
    }
    eprintln!("note: the same-second revocation race could not be arranged in 3 attempts");
}

// ---------------------------------------------------------------------------
// 3 and 4. Request targets and header spellings.
// ---------------------------------------------------------------------------

/// The gateway's own refusal of a request target: 400 ZGATE410E, and
/// certainly not the backend's echo.
fn bad_target(r: &Resp) -> Result<(), String> {
    if r.echo().is_some() {
        return Err(format!("forwarded to the backend: {}", r.summary()));
    }
    r.expect_error(400, "ZGATE410E")
}

/// For bytes the HTTP parser may refuse before the gateway sees them: any
/// 400, or the server ending the exchange without an answer (an HTTP/2
/// stream reset: curl 92; a closed connection: 52, 56), never forwarded.
fn refused_by_parser_or_gateway(r: &Resp) -> Result<(), String> {
    if r.echo().is_some() {
        return Err(format!("forwarded to the backend: {}", r.summary()));
    }
    if r.status == 400 || (r.status == 0 && [52, 56, 92].contains(&r.curl_exit)) {
        Ok(())
    } else {
        Err(format!(
            "want 400 or a refused request, got {}",
            r.summary()
        ))
    }
}

/// Forwarded, and the backend saw exactly `/base<path>` (hex digits of
/// percent-encodings compared without case).
fn forwarded(path: &str) -> impl Fn(&Resp) -> Result<(), String> + 'static {
    let want = format!("/base{path}");
    move |r: &Resp| match r.echo() {
        Some(e) if r.status == 200 && e.path().eq_ignore_ascii_case(&want) => Ok(()),
        Some(e) => Err(format!("backend saw {:?}, want {want:?}", e.path())),
        None => Err(format!("not forwarded: {}", r.summary())),
    }
}

/// Targets that must be refused, as suffixes of `/<serviceId>`.
#[rustfmt::skip]
const LEAVING_THE_SERVICE: &[(&str, &str)] = &[
    // Dot segments climbing above /<serviceId>/<api|ui|ws>/.
    ("raw .. twice to the gateway", "/api/v1/../../gateway/api/v1/auth/query"),
    ("raw .. out of the kind", "/api/../x"),
    ("raw .. three times", "/api/v1/../../../x"),
    ("raw .. right after the service id", "/../gateway/api/v1/auth/query"),
    ("raw .. at the end", "/api/v1/../.."),
    ("raw . then ..", "/api/v1/./../../x"),
    ("%2e%2e", "/api/v1/%2e%2e/%2e%2e/gateway/api/v1/auth/query"),
    ("%2E%2e and %2e%2E", "/api/v1/%2E%2e/%2e%2E/x"),
    (".%2e", "/api/v1/.%2e/.%2e/x"),
    ("%2e.", "/api/v1/%2e./%2e./x"),
    ("%2E%2E at the end (variant)", "/api/%2E%2E"),
    ("raw .. then %2e%2e (variant)", "/api/v1/../%2e%2e/x"),
    ("%2e%2e right after the service id (variant)", "/%2e%2e/gateway/api/v1/auth/query"),
    // Path-parameter dot segments, anywhere.
    ("..;/", "/api/v1/..;/x"),
    ("..;/ three times to the gateway", "/api/v1/..;/..;/..;/gateway/api/v1/auth/query"),
    (".;x/", "/api/v1/.;x/y"),
    ("..;jsessionid=1/ (variant)", "/api/v1/..;jsessionid=1/x"),
    ("%2e%2e;/ (variant)", "/api/v1/%2e%2e;/x"),
    (".;/ (variant)", "/api/v1/.;/x"),
    ("..; at the end (variant)", "/api/v1/x/..;"),
    ("..;/ right after the service id (variant)", "/..;/gateway/api/v1/auth/query"),
    // An encoded '%', whatever follows.
    ("%252e%252e", "/api/v1/%252e%252e/%252e%252e/x"),
    ("%25 alone (variant)", "/api/v1/a%25b"),
    ("%252f (variant)", "/api/v1/a%252fb"),
    ("%25252e triple encoding (variant)", "/api/v1/%25252e%25252e/x"),
    // Encoded backslash and slash.
    ("%5c", "/api/v1/a%5cb"),
    ("%5C climbing", "/api/v1/..%5C..%5Cx"),
    ("%2f", "/api/v1/a%2fb"),
    ("%2F", "/api/v1/a%2Fb"),
    ("..%2F..%2F (variant)", "/api/v1/..%2F..%2Fgateway"),
    ("%2f between service id and kind (variant)", "%2fapi%2fv1/x"),
    // Empty segments, except a trailing slash.
    ("// inside", "/api/v1//x"),
    ("/// inside (variant)", "/api/v1///x"),
    ("// after the kind (variant)", "/api//v1/x"),
    ("// after the service id (variant)", "//api/v1/x"),
    ("// before the end (variant)", "/api/v1/x//"),
    // Encoded control characters.
    ("%00", "/api/v1/x%00"),
    ("%0a", "/api/v1/x%0a"),
    ("%0d", "/api/v1/x%0d"),
    ("%09", "/api/v1/a%09b"),
    ("%1f", "/api/v1/a%1fb"),
    ("%7f", "/api/v1/a%7fb"),
    ("%0A upper case (variant)", "/api/v1/x%0A"),
    ("%7F upper case (variant)", "/api/v1/a%7Fb"),
    ("%1F upper case (variant)", "/api/v1/a%1Fb"),
    ("%0D%0A header injection (variant)", "/api/v1/x%0D%0AX-Injected:%20yes"),
    ("%00 hiding a .. (variant)", "/api/v1/%00../../x"),
];

/// Targets that leave the service through bytes the HTTP parser itself may
/// refuse; sent raw with `--request-target` where curl refuses them in a URL.
#[rustfmt::skip]
const RAW_BYTES: &[(&str, &str, bool)] = &[
    ("raw backslash", "/api/v1/a\\b", false),
    ("raw backslashes climbing", "/api/v1/..\\..\\x", false),
    ("raw backslash before the kind (variant)", "\\api\\v1\\x", false),
    ("raw 0x01 (variant)", "/api/v1/a\u{1}b", true),
    ("raw 0x1f (variant)", "/api/v1/a\u{1f}b", true),
    ("raw 0x7f (variant)", "/api/v1/a\u{7f}b", true),
    ("raw tab (variant)", "/api/v1/a\tb", true),
];

/// Malformed percent-encodings: nothing a backend can agree on.
#[rustfmt::skip]
const MALFORMED: &[(&str, &str)] = &[
    ("%zz (variant)", "/api/v1/a%zzb"),
    ("% at the end (variant)", "/api/v1/a%"),
    ("%2 truncated (variant)", "/api/v1/a%2"),
    ("%%32%65 double-decoded dot (variant)", "/api/v1/%%32%65%%32%65/x"),
    ("%u002e IIS-style (variant)", "/api/v1/%u002e%u002e/x"),
];

/// Targets that stay inside the service: forwarded, normalized.
#[rustfmt::skip]
const INSIDE_THE_SERVICE: &[(&str, &str, &str)] = &[
    ("dot segments inside", "/api/v1/a/./b/../c", "/svc/a/c"),
    ("unreserved %61%62%63 decoded", "/api/v1/%61%62%63", "/svc/abc"),
    ("%7E decoded", "/api/v1/%7E", "/svc/~"),
    ("%7e decoded (variant)", "/api/v1/x%7ey", "/svc/x~y"),
    ("unreserved %41%2D%5F%2E decoded (variant)", "/api/v1/%41%2D%5F%2E1", "/svc/A-_.1"),
    ("a trailing slash is kept (variant)", "/api/v1/x/", "/svc/x/"),
    ("climbing out of the version only (variant)", "/api/v1/../v2/y", "/whole/v2/y"),
    ("dots inside names are no dot segments (variant)", "/api/v1/..a/b../.well-known", "/svc/..a/b../.well-known"),
    ("a reserved %20 stays encoded (variant)", "/api/v1/a%20b", "/svc/a%20b"),
    ("non-ASCII stays encoded (variant)", "/api/v1/%C3%A9", "/svc/%C3%A9"),
    ("the query is not a path (variant)", "/api/v1/x?a=%2F&b=..%5c", "/svc/x?a=%2F&b=..%5c"),
];

/// The gateway's own endpoints under encoded separators, dots, controls.
#[rustfmt::skip]
const GATEWAY_TARGETS: &[(&str, &str)] = &[
    (".%2e climbing to a service", "/gateway/api/v1/auth/.%2e/.%2e/.%2e/.%2e/echo/api/v1/x"),
    ("..;/ under /gateway", "/gateway/api/v1/auth/..;/auth/query"),
    ("%2f under /gateway", "/gateway/api/v1/auth%2fquery"),
    ("%2F under /gateway", "/gateway/api/v1/auth%2Fquery"),
    ("%5c under /gateway", "/gateway/api/v1/auth%5cquery"),
    ("%00 under /gateway", "/gateway/api/v1/auth/query%00"),
    ("%0a under /gateway", "/gateway/api/v1/auth/query%0a"),
    ("%0d%0a under /gateway", "/gateway/api/v1/auth/query%0d%0a"),
    ("%09 under /gateway", "/gateway/api/v1/auth/query%09"),
    ("%252e%252e under /gateway", "/gateway/api/v1/auth/%252e%252e/query"),
    ("// under /gateway", "/gateway//api/v1/auth/query"),
    ("raw .. from /gateway to a service (variant)", "/gateway/api/v1/auth/../../../echo/api/v1/x"),
    ("raw .. right after /gateway (variant)", "/gateway/../echo/api/v1/x"),
    ("%2e%2e under /application (variant)", "/application/%2e%2e/gateway/api/v1/services"),
    ("%2e%2e under /zaas (variant)", "/zaas/api/v1/auth/%2e%2e/%2e%2e/%2e%2e/%2e%2e/gateway/api/v1/services"),
    ("%00 on services (variant)", "/gateway/api/v1/services%00"),
    ("%2F at the end of login (variant)", "/gateway/api/v1/auth/login%2F"),
];

fn target_cases(jwt: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    for svc in ["echo", "bypass"] {
        for (name, suffix) in LEAVING_THE_SERVICE {
            cases.push(Case::new(
                format!("{svc}: {name}"),
                Req::get(&format!("/{svc}{suffix}")).jwt(jwt),
                bad_target,
            ));
        }
        for (name, suffix, raw) in RAW_BYTES {
            let req = Req::get(&format!("/{svc}{suffix}")).jwt(jwt);
            cases.push(Case::new(
                format!("{svc}: {name}"),
                if *raw { req.raw() } else { req },
                refused_by_parser_or_gateway,
            ));
        }
        for (name, suffix) in MALFORMED {
            cases.push(Case::new(
                format!("{svc}: {name}"),
                Req::get(&format!("/{svc}{suffix}")).jwt(jwt),
                refused_by_parser_or_gateway,
            ));
        }
        for (name, suffix, path) in INSIDE_THE_SERVICE {
            cases.push(Case::new(
                format!("{svc}: {name}"),
                Req::get(&format!("/{svc}{suffix}")).jwt(jwt),
                forwarded(path),
            ));
        }
        cases.push(Case::new(
            format!("{svc}: // before the service id"),
            Req::get(&format!("//{svc}/api/v1/x")).jwt(jwt),
            bad_target,
        ));
    }
    // A service that takes encoded separators: they pass still encoded,
    // and dot segments leaving the root are still refused.
    for (name, suffix) in [
        ("%2F passes encoded", "/api/v1/a%2Fb"),
        ("%2f passes encoded (variant)", "/api/v1/a%2fb"),
        ("%5C passes encoded", "/api/v1/a%5Cb"),
        ("%25 passes encoded", "/api/v1/a%25b"),
        ("%252e%252e passes encoded (variant)", "/api/v1/%252e%252e"),
    ] {
        cases.push(Case::new(
            format!("encoded: {name}"),
            Req::get(&format!("/encoded{suffix}")),
            forwarded(&format!("/svc{}", &suffix["/api/v1".len()..])),
        ));
    }
    for (name, suffix) in [
        ("raw .. leaving the root", "/api/v1/../../x"),
        ("%2e%2e leaving the root", "/api/v1/%2e%2e/%2e%2e/x"),
        (".%2e leaving the root (variant)", "/api/v1/.%2e/.%2e/x"),
        ("..;/ leaving the root (variant)", "/api/v1/..;/..;/..;/x"),
        ("%00 still refused (variant)", "/api/v1/x%00"),
        ("%0d%0a still refused (variant)", "/api/v1/x%0d%0a"),
    ] {
        cases.push(Case::new(
            format!("encoded: {name}"),
            Req::get(&format!("/encoded{suffix}")),
            bad_target,
        ));
    }
    for (name, target) in GATEWAY_TARGETS {
        cases.push(Case::new(*name, Req::get(target).jwt(jwt), bad_target));
    }
    // Dot segments that stay below `/gateway/api` are normalized, as RFC
    // 3986 says, and the normalized endpoint answers.
    for (name, target) in [
        (
            "%2e%2e inside /gateway/api is normalized",
            "/gateway/api/v1/auth/%2e%2e/auth/query",
        ),
        (
            "raw . and .. inside /gateway/api are normalized",
            "/gateway/api/v1/./auth/x/../query",
        ),
    ] {
        cases.push(Case::new(name, Req::get(target).jwt(jwt), served_query));
    }
    cases
}

/// The gateway's own query endpoint answered for ALICE.
fn served_query(r: &Resp) -> Result<(), String> {
    if r.status == 200 && r.body.contains("\"userId\":\"ALICE\"") {
        Ok(())
    } else {
        Err(format!("not the query answer: {}", r.summary()))
    }
}

/// Identity and credential headers in spellings a backend may read as
/// the real ones (`_` for `-`, any case).
fn forged_headers(alice_cert_b64: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = [
        ("X-Certificate-CommonName", "ADMIN"),
        ("X_Certificate_CommonName", "ADMIN"),
        ("x_certificate_commonname", "ADMIN"),
        ("X-Certificate_CommonName", "ADMIN"),
        ("X_CERTIFICATE_DISTINGUISHEDNAME", "CN=ADMIN"),
        ("X_Certificate_Public", "forged-public"),
        ("Client_Cert", "forged-cert"),
        ("CLIENT-CERT", "forged-cert"),
        ("client_cert", "forged-cert"),
        ("X_Zowe_Auth_Failure", "forged-failure"),
        ("X-Zowe-Auth-Failure", "forged-failure"),
        ("Private_Token", "forged-pat"),
        ("PRIVATE_TOKEN", "forged-pat"),
        ("X_SAF_TOKEN", "forged-idt"),
        ("x_saf_token", "forged-idt"),
        ("Proxy_Authorization", "Basic forged"),
        // Variants.
        ("X-CERTIFICATE-COMMONNAME", "ADMIN"),
        ("x-certificate_distinguishedname", "CN=ADMIN"),
        ("X_Certificate_Issuer", "forged-issuer"),
        ("Client-Cert", "forged-cert"),
        ("x-zowe_auth-failure", "forged-failure"),
        ("X-Saf_Token", "forged-idt"),
        ("PROXY_AUTHORIZATION", "Basic forged"),
        ("Proxy-Authorization", "Basic forged"),
    ]
    .iter()
    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
    .collect();
    // ALICE's real (public) certificate, as a proxy in front would put it.
    for name in ["Client-Cert", "Client_Cert", "X_Certificate_Public"] {
        v.push((name.to_owned(), alice_cert_b64.to_owned()));
    }
    v
}

/// The client's own credentials, correctly spelled: a bypass service gets
/// exactly these.
const LEGIT: [(&str, &str); 3] = [
    ("authorization", "Bearer legit-client-authorization"),
    ("private-token", "legit-client-pat"),
    ("x-saf-token", "legit-client-idt"),
];

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// zoweJwt with ALICE's JWT: the service gets that JWT, nothing forged.
    JwtCaller,
    /// zoweJwt without credentials: no credential, the gateway's failure.
    Anonymous,
    /// bypass with the client's own credentials: those, nothing forged.
    Bypass,
}

/// What the backend may have received, in any spelling.
fn no_forged_header(r: &Resp, mode: Mode, jwt: &str) -> Result<(), String> {
    let Some(echo) = r.echo().filter(|_| r.status == 200) else {
        return Err(format!("not forwarded: {}", r.summary()));
    };
    let mut leaks = Vec::new();
    for (name, values) in echo.headers() {
        let n = normalize_name(&name);
        if values.iter().any(|v| v.contains("forged")) {
            leaks.push(format!("{name}: {values:?}"));
            continue;
        }
        let allowed = match n.as_str() {
            "x-zowe-auth-failure" => {
                mode != Mode::Bypass
                    && name == "x-zowe-auth-failure"
                    && values.len() == 1
                    && values[0].starts_with("ZWE")
            }
            "authorization" | "private-token" | "x-saf-token" => {
                mode == Mode::Bypass
                    && name == n
                    && LEGIT
                        .iter()
                        .any(|(l, v)| *l == n && values == [v.to_string()])
            }
            "client-cert" | "proxy-authorization" => false,
            other => !other.starts_with("x-certificate-"),
        };
        if !allowed {
            leaks.push(format!("{name}: {values:?}"));
        }
    }
    let cookie = echo.any_spelling("cookie");
    match mode {
        Mode::JwtCaller => {
            let want = format!("apimlAuthenticationToken={jwt}");
            if !cookie
                .iter()
                .any(|(_, v)| v.iter().any(|c| c.contains(&want)))
            {
                leaks.push(format!("the caller's JWT is not the cookie: {cookie:?}"));
            }
        }
        Mode::Anonymous => {
            if !echo.credentials().is_empty() {
                leaks.push(format!("credentials for nobody: {:?}", echo.credentials()));
            }
            if echo.any_spelling("x-zowe-auth-failure").is_empty() {
                leaks.push("no X-Zowe-Auth-Failure from the gateway".to_owned());
            }
        }
        Mode::Bypass => {
            for (l, v) in LEGIT {
                if echo
                    .any_spelling(l)
                    .iter()
                    .all(|(_, got)| got != &[v.to_owned()])
                {
                    leaks.push(format!("the client's own {l} did not pass"));
                }
            }
        }
    }
    if leaks.is_empty() {
        Ok(())
    } else {
        Err(format!("the backend received {}", leaks.join(", ")))
    }
}

fn header_cases(jwt: &str, alice_cert_b64: &str) -> Vec<Case> {
    let forged = forged_headers(alice_cert_b64);
    let mut cases = Vec::new();
    for (mode, label, path) in [
        (
            Mode::JwtCaller,
            "zoweJwt with a JWT",
            "/echo/api/v1/headers",
        ),
        (
            Mode::Anonymous,
            "zoweJwt without credentials",
            "/echo/api/v1/headers",
        ),
        (Mode::Bypass, "bypass", "/bypass/api/v1/headers"),
    ] {
        let base = || {
            let mut r = Req::get(path);
            match mode {
                Mode::JwtCaller => r = r.jwt(jwt),
                Mode::Anonymous => {}
                Mode::Bypass => {
                    for (n, v) in LEGIT {
                        r = r.header(n, v);
                    }
                }
            }
            r
        };
        let jwt = jwt.to_owned();
        for (name, value) in &forged {
            let shown: String = value.chars().take(16).collect();
            let jwt = jwt.clone();
            cases.push(Case::new(
                format!("{label}: {name}: {shown}"),
                base().header(name, value),
                move |r| no_forged_header(r, mode, &jwt),
            ));
        }
        let mut all = base();
        for (name, value) in &forged {
            all = all.header(name, value);
        }
        cases.push(Case::new(
            format!("{label}: every forged header at once"),
            all,
            move |r| no_forged_header(r, mode, &jwt),
        ));
    }
    // The gateway's own endpoints: a forged identity logs nobody in.
    let never_in = |r: &Resp| {
        if matches!(r.status, 400 | 401) {
            Ok(())
        } else {
            Err(format!("want 400 or 401, got {}", r.summary()))
        }
    };
    for (name, value) in [
        ("X_Certificate_CommonName", "ALICE".to_owned()),
        ("X-Certificate-CommonName", "ALICE".to_owned()),
        ("X_CERTIFICATE_DISTINGUISHEDNAME", "CN=ALICE".to_owned()),
        ("Client-Cert", alice_cert_b64.to_owned()),
        ("Client_Cert", alice_cert_b64.to_owned()),
        ("X_Certificate_Public", alice_cert_b64.to_owned()),
    ] {
        let shown: String = value.chars().take(16).collect();
        cases.push(Case::new(
            format!("login with only {name}: {shown}"),
            Req::post("/gateway/api/v1/auth/login").header(name, &value),
            never_in,
        ));
        cases.push(Case::new(
            format!("auth/check with only {name}: {shown} (variant)"),
            Req::post("/gateway/auth/check")
                .header(name, &value)
                .json(CHECK_SERVICES_READ),
            |r| r.expect_status(&[401]),
        ));
        cases.push(Case::new(
            format!("PAT generate with only {name}: {shown} (variant)"),
            Req::post("/gateway/api/v1/auth/access-token/generate")
                .header(name, &value)
                .json(r#"{"validity":1,"scopes":["gateway"]}"#),
            |r| r.expect_status(&[401]),
        ));
    }
    cases
}

/// The base64 DER of a PEM certificate file, as `Client-Cert` carries it.
fn pem_body(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect()
}

#[test]
fn paths_and_header_spellings_do_not_get_around_the_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let backend = Backend::start(&[]);
    write_services(
        &home,
        &[
            service("echo", &backend, zowe_jwt()),
            service("bypass", &backend, ""),
            service(
                "encoded",
                &backend,
                "    customMetadata:\n      apiml:\n        enableUrlEncodedCharacters: true\n",
            ),
        ],
    );
    let server = Server::start(&home, &[X509_ON, PAT_ON]);
    server.esm("ADDUSER ALICE PASSWORD(ALICEPW1) NOEXPIRED");
    let cert = server
        .gateway
        .client_cert("alice", &dir.path().join("certs"));
    server.esm(&cert.map);
    assert!(logs_in(&server, "ALICEPW1"));
    // The mapping is live: ALICE's certificate on the TLS connection would
    // log her in, so a header carrying it is a real impersonation attempt.
    let mapped = server.send(
        Proto::H1,
        Req::post("/gateway/api/v1/auth/login").cert(&cert),
    );
    assert_eq!(mapped.status, 204, "the certificate: {}", mapped.summary());
    let jwt = server.login("ALICE", "ALICEPW1");
    let mut report = Report::new("paths and headers");
    run_table(&server, &mut report, &target_cases(&jwt));
    run_table(
        &server,
        &mut report,
        &header_cases(&jwt, &pem_body(&cert.cert)),
    );
    drop(backend);
    report.finish();
}

// ---------------------------------------------------------------------------
// 5. Names: nothing is trimmed into another identity.
// ---------------------------------------------------------------------------

/// User ids that are ALICE only after a trim or a strip: refused as input.
const NOT_ALICE: &[&str] = &[
    " ALICE",
    "ALICE ",
    "ALICE\t",
    "\tALICE",
    "AL ICE",
    "ALICE\n",
    "ALICE\u{0}",
    "ALICE\r",
    // Variants: other whitespace Rust's `trim` (or another language's)
    // removes.
    "ALICE\u{b}",
    "ALICE\u{c}",
    "ALICE\u{a0}",
    "\u{3000}ALICE",
    "\u{85}ALICE",
    "ALICE\r\n",
    "  ALICE  ",
];

/// User ids that are ALICE only after Unicode case mapping or stripping of
/// invisible characters (variants): never ALICE.
const LOOKALIKES: &[&str] = &[
    "al\u{131}ce",
    "\u{ff21}\u{ff2c}\u{ff29}\u{ff23}\u{ff25}",
    "ALICE\u{200b}",
    "ALI\u{0307}CE",
];

fn login_cases(password: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let json =
        |user: &str| serde_json::json!({ "username": user, "password": password }).to_string();
    for user in NOT_ALICE {
        cases.push(Case::new(
            format!("Basic login as {user:?}"),
            Req::post("/gateway/api/v1/auth/login").basic(user, password),
            |r| r.expect_error(400, "ZWEAG121E"),
        ));
        cases.push(Case::new(
            format!("JSON login as {user:?}"),
            Req::post("/gateway/api/v1/auth/login").json(&json(user)),
            |r| r.expect_error(400, "ZWEAG121E"),
        ));
    }
    for user in LOOKALIKES {
        let never_alice = |r: &Resp| {
            if r.status == 204 || token_from(r).is_some() {
                Err(format!("logged in: {}", r.summary()))
            } else {
                r.expect_status(&[400, 401])
            }
        };
        cases.push(Case::new(
            format!("Basic login as {user:?} (variant)"),
            Req::post("/gateway/api/v1/auth/login").basic(user, password),
            never_alice,
        ));
        cases.push(Case::new(
            format!("JSON login as {user:?} (variant)"),
            Req::post("/gateway/api/v1/auth/login").json(&json(user)),
            never_alice,
        ));
    }
    cases
}

fn check_body(class: &str, name: &str, level: &str) -> String {
    serde_json::json!({ "resourceClass": class, "resourceName": name, "accessLevel": level })
        .to_string()
}

fn saf_cases(jwt: &str) -> Vec<Case> {
    let check = |body: String| Req::post("/gateway/auth/check").jwt(jwt).json(&body);
    let bad = |r: &Resp| r.expect_error(400, "ZGATE400E");
    let mut cases = vec![
        Case::new(
            "SAF check APIML.DENY.ME (the discrete profile denies)",
            check(check_body("ZOWE", "APIML.DENY.ME", "READ")),
            |r| r.expect_error(401, "ZWEAG711E"),
        ),
        Case::new(
            "SAF check APIML.DENY.OTHER (the generic profile allows)",
            check(check_body("ZOWE", "APIML.DENY.OTHER", "READ")),
            |r| r.expect_status(&[204]),
        ),
    ];
    for name in [
        "APIML.DENY.ME ",
        " APIML.DENY.ME",
        "APIML.DENY. ME",
        "APIML.DENY.ME\t",
        "APIML.DENY.ME\u{0}",
        "APIML.DENY.ME\n",
        // Variants.
        "APIML.DENY.ME\r",
        "APIML.DENY.ME\u{a0}",
        "\u{3000}APIML.DENY.ME",
        "APIML.DENY.ME\u{b}",
        "APIML.DENY.ME\u{200b}",
    ] {
        cases.push(Case::new(
            format!("SAF check resourceName {name:?}"),
            check(check_body("ZOWE", name, "READ")),
            bad,
        ));
    }
    cases.push(Case::new(
        "SAF check resourceName \"apiml.deny.me\" is never allowed (variant)",
        check(check_body("ZOWE", "apiml.deny.me", "READ")),
        |r| r.expect_status(&[400, 401]),
    ));
    for class in ["ZOWE ", " ZOWE", "ZO WE", "ZOWE\t", "ZOWE\u{0}"] {
        cases.push(Case::new(
            format!("SAF check resourceClass {class:?}"),
            check(check_body(class, "APIML.DENY.ME", "READ")),
            bad,
        ));
    }
    for level in ["READ ", " READ", "RE AD", "READ\n", "READ\u{0}"] {
        cases.push(Case::new(
            format!("SAF check accessLevel {level:?}"),
            check(check_body("ZOWE", "APIML.DENY.ME", level)),
            bad,
        ));
    }
    let ticket = |appl: &str| {
        Req::post("/gateway/api/v1/auth/ticket")
            .jwt(jwt)
            .json(&serde_json::json!({ "applicationName": appl }).to_string())
    };
    cases.push(Case::new("ticket for ZOWEAPPL", ticket("ZOWEAPPL"), |r| {
        r.expect_status(&[200])
    }));
    for appl in [
        " ZOWEAPPL",
        "ZOWEAPPL ",
        "ZOWEAPPL\t",
        "\u{a0}ZOWEAPPL",
        "ZOWE APPL",
    ] {
        cases.push(Case::new(
            format!("ticket for {appl:?}"),
            ticket(appl),
            |r| r.expect_error(400, "ZWEAG140E"),
        ));
    }
    let rule = |what: &str, body: serde_json::Value| {
        Req::delete(&format!(
            "/gateway/api/v1/auth/access-token/revoke/tokens/{what}"
        ))
        .jwt(jwt)
        .json(&body.to_string())
    };
    cases.push(Case::new(
        "PAT rule for user BOB",
        rule("user", serde_json::json!({ "userId": "BOB" })),
        |r| r.expect_status(&[204]),
    ));
    for user in [" ALICE", "ALICE ", "ALICE\t", "\u{a0}ALICE"] {
        cases.push(Case::new(
            format!("PAT rule for user {user:?}"),
            rule("user", serde_json::json!({ "userId": user })),
            |r| r.expect_error(400, "ZWEAT607E"),
        ));
    }
    for svc in [" gateway", "gateway "] {
        cases.push(Case::new(
            format!("PAT rule for scope {svc:?} (variant)"),
            rule("scope", serde_json::json!({ "serviceId": svc })),
            |r| r.expect_error(400, "ZWEAT607E"),
        ));
    }
    cases
}

#[test]
fn names_are_never_trimmed_into_another_identity() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let server = Server::start(&home, &[PAT_ON]);
    for c in [
        "ADDUSER ALICE PASSWORD(ALICEPW1) NOEXPIRED",
        // Revoked at the third consecutive failure: any name that counts
        // against ALICE shows at once.
        "SETROPTS PASSWORD(REVOKE(2))",
        "SETROPTS CLASSACT(ZOWE) GENERIC(ZOWE)",
        "RDEFINE ZOWE APIML.DENY.ME UACC(NONE)",
        "RDEFINE ZOWE APIML.DENY.* UACC(READ)",
        "RDEFINE ZOWE APIML.SERVICES UACC(NONE)",
        "PERMIT APIML.SERVICES CLASS(ZOWE) ID(ALICE) ACCESS(READ)",
        "RDEFINE PTKTDATA ZOWEAPPL SSIGNON(KEYMASKED(E001193519561977))",
    ] {
        server.esm(c);
    }
    assert!(logs_in(&server, "ALICEPW1"));
    let jwt = server.login("ALICE", "ALICEPW1");
    let deny_profiles_live = server.send(
        Proto::H1,
        Req::post("/gateway/auth/check").jwt(&jwt).json(&check_body(
            "ZOWE",
            "APIML.DENY.OTHER",
            "READ",
        )),
    );
    assert_eq!(
        deny_profiles_live.status,
        204,
        "{}",
        deny_profiles_live.summary()
    );
    let mut report = Report::new("names");

    // Logins: each protocol's whole table (well over the 3 attempts that
    // revoke) runs before ALICE logs in again.
    let cases = login_cases("ALICEPW1");
    for proto in BOTH {
        let reqs: Vec<(Proto, Req)> = cases.iter().map(|c| (proto, c.req.clone())).collect();
        let resps = server.batch(&reqs);
        for (case, resp) in cases.iter().zip(&resps) {
            report.check(&case.name, Some(proto), (case.expect)(resp));
        }
        let good = server.send(
            proto,
            Req::post("/gateway/api/v1/auth/login").basic("ALICE", "ALICEPW1"),
        );
        report.check(
            &format!(
                "ALICE still logs in after {} odd-name attempts",
                cases.len()
            ),
            Some(proto),
            good.expect_status(&[204]),
        );
        if good.status != 204 {
            // Counted against her: give the other protocol a fair start.
            server.esm("ALTUSER ALICE RESUME");
        }
    }
    run_table(
        &server,
        &mut report,
        &[Case::new(
            "lower-case alice logs in as ALICE",
            Req::post("/gateway/api/v1/auth/login").basic("alice", "ALICEPW1"),
            |r| r.expect_status(&[204]),
        )],
    );
    run_table(&server, &mut report, &saf_cases(&jwt));

    // RACF commands: a quoted name with blanks is an error, never a trim.
    for command in [
        "ADDUSER ' BOB'",
        "ADDUSER 'BOB '",
        "PERMIT 'APIML.DENY.ME ' CLASS(ZOWE) ID(ALICE) ACCESS(READ)",
        "RDEFINE ZOWE 'APIML. X'",
        // Variants: trims that would change ALICE or the deny profile.
        "ADDUSER 'BOB\t'",
        "ALTUSER ' ALICE' SPECIAL",
        "ALTUSER 'ALICE ' PASSWORD(NEWPW1)",
        "DELUSER 'ALICE '",
        "CONNECT ' ALICE' GROUP(SYS1)",
        "PERMIT APIML.DENY.ME CLASS(ZOWE) ID(' ALICE') ACCESS(READ)",
        "RALTER ZOWE 'APIML.DENY.ME ' UACC(READ)",
        "RDELETE ZOWE ' APIML.DENY.ME'",
    ] {
        let before = server.gateway.esm_dump();
        let verdict = match server.gateway.esm_result(command) {
            Ok(text) => Err(format!("succeeded: {text}")),
            Err(text) if !(text.contains("ICH") || text.contains("IKJ")) => {
                Err(format!("no ICH/IKJ message: {text}"))
            }
            Err(text) if server.gateway.esm_dump() != before => {
                Err(format!("failed but changed the ESM: {text}"))
            }
            Err(_) => Ok(()),
        };
        report.check(&format!("RACF command {command:?}"), None, verdict);
    }
    report.check(
        "LISTUSER BOB afterwards",
        None,
        match server.gateway.esm_result("LISTUSER BOB") {
            Err(text) if text.contains("ICH30001I") => Ok(()),
            Err(text) | Ok(text) => Err(format!("BOB exists: {text}")),
        },
    );
    report.finish();
}

// ---------------------------------------------------------------------------
// 2 and 6. PAT scopes; JSON endpoints refuse other bodies.
// ---------------------------------------------------------------------------

/// Where a PAT can be presented.
fn pat_places(pat: &str) -> Vec<(&'static str, Req)> {
    let mut out = Vec::new();
    for (label, req) in [
        ("GET services", Req::get("/gateway/api/v1/services")),
        (
            "POST services/reload",
            Req::post("/gateway/api/v1/services/reload"),
        ),
        (
            "POST auth/check",
            Req::post("/gateway/auth/check").json(CHECK_SERVICES_READ),
        ),
        ("GET auth/query", Req::get("/gateway/api/v1/auth/query")),
        (
            "POST auth/ticket (variant)",
            Req::post("/gateway/api/v1/auth/ticket").json(r#"{"applicationName":"ZOWEAPPL"}"#),
        ),
    ] {
        out.push((label, req.clone().pat(pat)));
        out.push((label, req.clone().bearer(pat)));
        out.push((label, req.clone().jwt(pat)));
        out.push((label, req.cookie(&format!("personalAccessToken={pat}"))));
    }
    out
}

fn presented(req: &Req) -> &'static str {
    let h = req.headers.join("\n");
    if h.contains("PRIVATE-TOKEN") {
        "PRIVATE-TOKEN"
    } else if h.contains("Bearer") {
        "Bearer"
    } else if h.contains("personalAccessToken=") {
        "personalAccessToken cookie"
    } else {
        "apimlAuthenticationToken cookie"
    }
}

fn scope_cases(other: &str, gateway: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    for (label, req) in pat_places(other) {
        let how = presented(&req);
        cases.push(Case::new(
            format!("PAT for otherservice, {how}, {label}"),
            req,
            |r| r.expect_status(&[401]),
        ));
    }
    // In scope, the same PAT works where a PAT may.
    for (label, req) in pat_places(gateway) {
        let want: &'static [u16] = match label {
            "GET services" | "POST services/reload" => &[200],
            "POST auth/check" => &[204],
            _ => continue,
        };
        let how = presented(&req);
        cases.push(Case::new(
            format!("PAT for gateway, {how}, {label}"),
            req,
            move |r| r.expect_status(want),
        ));
    }
    cases
}

const REFUSED_TYPES: &[Option<&str>] = &[
    None,
    Some(""),
    Some("text/plain"),
    Some("application/x-www-form-urlencoded"),
    Some("multipart/form-data; boundary=x"),
    Some("application/jsonx"),
    Some("text/json"),
    // Variants: prefixes, suffixes and parameters a sloppy match accepts.
    Some("application/x-json"),
    Some("application/jsonp"),
    Some("text/plain; charset=application/json"),
    Some("json"),
];

const ACCEPTED_TYPES: &[&str] = &[
    "application/json",
    "application/json; charset=utf-8",
    "Application/JSON",
    // Variants.
    "application/json;charset=UTF-8",
    "APPLICATION/JSON; CHARSET=UTF-8",
];

fn type_name(t: Option<&str>) -> String {
    match t {
        None => "no Content-Type".to_owned(),
        Some("") => "an empty Content-Type".to_owned(),
        Some(t) => format!("Content-Type {t:?}"),
    }
}

/// `(endpoint, request with a body of type t, the normal answer)`.
type Endpoint<'a> = (&'a str, WithBody<'a>, &'static [u16]);

/// An endpoint's request with its body sent as the given type.
type WithBody<'a> = Box<dyn Fn(Option<&str>) -> Req + 'a>;

fn json_cases<'a>(jwt: &'a str, pat: &'a str) -> Vec<Endpoint<'a>> {
    let login = |prefix: &'a str| -> WithBody<'a> {
        Box::new(move |t: Option<&str>| {
            Req::post(&format!("{prefix}/login"))
                .body_typed(t, r#"{"username":"ALICE","password":"ALICEPW1"}"#)
        })
    };
    vec![
        (
            "auth/check",
            Box::new(move |t: Option<&str>| {
                Req::post("/gateway/auth/check")
                    .jwt(jwt)
                    .body_typed(t, CHECK_SERVICES_READ)
            }),
            &[204],
        ),
        ("auth/login", login("/gateway/api/v1/auth"), &[204]),
        (
            "zaas auth/login (variant)",
            login("/zaas/api/v1/auth"),
            &[204],
        ),
        (
            "apicatalog auth/login (variant)",
            login("/apicatalog/api/v1/auth"),
            &[204],
        ),
        (
            "access-token/generate",
            Box::new(|t: Option<&str>| {
                Req::post("/gateway/api/v1/auth/access-token/generate")
                    .basic("ALICE", "ALICEPW1")
                    .body_typed(t, r#"{"validity":1,"scopes":["gateway"]}"#)
            }),
            &[200],
        ),
        (
            "access-token/validate",
            Box::new(move |t: Option<&str>| {
                Req::post("/gateway/api/v1/auth/access-token/validate").body_typed(
                    t,
                    &serde_json::json!({ "token": pat, "serviceId": "gateway" }).to_string(),
                )
            }),
            &[204],
        ),
        (
            "auth/ticket",
            Box::new(move |t: Option<&str>| {
                Req::post("/gateway/api/v1/auth/ticket")
                    .jwt(jwt)
                    .body_typed(t, r#"{"applicationName":"ZOWEAPPL"}"#)
            }),
            &[200],
        ),
    ]
}

fn unsupported(r: &Resp) -> Result<(), String> {
    if token_from(r).is_some() {
        return Err(format!("logged in anyway: {}", r.summary()));
    }
    r.expect_error(415, "ZGATE415E")
}

#[test]
fn pats_stay_in_their_scopes_and_json_endpoints_refuse_other_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let server = Server::start(&home, &[PAT_ON]);
    for c in [
        "ADDUSER ALICE PASSWORD(ALICEPW1) NOEXPIRED",
        "SETROPTS CLASSACT(ZOWE) GENERIC(ZOWE)",
        "RDEFINE ZOWE APIML.SERVICES UACC(NONE)",
        // Enough for the services list and reload: only the scope refuses.
        "PERMIT APIML.SERVICES CLASS(ZOWE) ID(ALICE) ACCESS(UPDATE)",
        "RDEFINE PTKTDATA ZOWEAPPL SSIGNON(KEYMASKED(E001193519561977))",
    ] {
        server.esm(c);
    }
    assert!(logs_in(&server, "ALICEPW1"));
    let jwt = server.login("ALICE", "ALICEPW1");
    let permitted = server.send(Proto::H1, Req::get("/gateway/api/v1/services").jwt(&jwt));
    assert_eq!(permitted.status, 200, "{}", permitted.summary());
    let mut report = Report::new("scopes and bodies");

    // PAT scopes.
    let other = server.pat("ALICE", "ALICEPW1", &["otherservice"]);
    let gateway = server.pat("ALICE", "ALICEPW1", &["gateway"]);
    run_table(&server, &mut report, &scope_cases(&other, &gateway));

    // JSON bodies only.
    let mut cases = Vec::new();
    for (endpoint, req, normal) in json_cases(&jwt, &gateway) {
        for t in REFUSED_TYPES {
            cases.push(Case::new(
                format!("{endpoint} with {}", type_name(*t)),
                req(*t),
                unsupported,
            ));
        }
        for t in ACCEPTED_TYPES {
            cases.push(Case::new(
                format!("{endpoint} with {}", type_name(Some(*t))),
                req(Some(*t)),
                move |r| r.expect_status(normal),
            ));
        }
    }
    // Zowe CLI logs in with Basic and no body at all: still fine.
    cases.push(Case::new(
        "auth/login with Basic, no body, no Content-Type",
        Req::post("/gateway/api/v1/auth/login").basic("ALICE", "ALICEPW1"),
        |r| r.expect_status(&[204]),
    ));
    // The cookie is never sent cross-site, nor readable by scripts.
    cases.push(Case::new(
        "the login cookie is SameSite=Strict; HttpOnly; Secure",
        Req::post("/gateway/api/v1/auth/login").basic("ALICE", "ALICEPW1"),
        |r| {
            let cookie = r
                .headers("set-cookie")
                .into_iter()
                .find(|c| c.starts_with("apimlAuthenticationToken="))
                .ok_or_else(|| format!("no token cookie: {}", r.summary()))?;
            let attrs: Vec<String> = cookie
                .split(';')
                .skip(1)
                .map(|a| a.trim().to_ascii_lowercase())
                .collect();
            for want in ["samesite=strict", "httponly", "secure"] {
                if !attrs.iter().any(|a| a == want) {
                    return Err(format!("{want} missing: {cookie}"));
                }
            }
            Ok(())
        },
    ));
    run_table(&server, &mut report, &cases);

    // Revoking a PAT: refused types leave it alive; each accepted type
    // revokes a PAT of its own.
    let keep = server.pat("ALICE", "ALICEPW1", &["gateway"]);
    let revoke = |t: Option<&str>, pat: &str| {
        Req::delete("/gateway/api/v1/auth/access-token/revoke")
            .body_typed(t, &serde_json::json!({ "token": pat }).to_string())
    };
    for proto in BOTH {
        let mut reqs = Vec::new();
        let mut names = Vec::new();
        for t in REFUSED_TYPES {
            reqs.push((proto, revoke(*t, &keep)));
            names.push((format!("access-token/revoke with {}", type_name(*t)), 415));
        }
        for t in ACCEPTED_TYPES {
            let fresh = server.pat("ALICE", "ALICEPW1", &["gateway"]);
            reqs.push((proto, revoke(Some(*t), &fresh)));
            names.push((
                format!("access-token/revoke with {}", type_name(Some(*t))),
                204,
            ));
        }
        for ((name, want), r) in names.iter().zip(server.batch(&reqs)) {
            let verdict = if *want == 415 {
                unsupported(&r)
            } else {
                r.expect_status(&[204])
            };
            report.check(name, Some(proto), verdict);
        }
    }
    let alive = server.send(Proto::H2, Req::get("/gateway/api/v1/services").pat(&keep));
    report.check(
        "the PAT sent with refused types still works",
        None,
        alive.expect_status(&[200]),
    );

    // Logout by a cross-site form: refused, and the token still works; a
    // plain logout (no body) still logs out.
    for proto in BOTH {
        let token = server.login("ALICE", "ALICEPW1");
        let logout = |t: Option<&str>, body: &str| {
            Req::post("/gateway/api/v1/auth/logout")
                .jwt(&token)
                .body_typed(t, body)
        };
        let query = Req::get("/gateway/api/v1/auth/query").jwt(&token);
        let resps = server.batch(&[
            (
                proto,
                logout(Some("application/x-www-form-urlencoded"), "a=b"),
            ),
            (proto, logout(Some("text/plain"), "a=b")),
            (
                proto,
                logout(Some("multipart/form-data; boundary=x"), "--x--\r\n"),
            ),
            (proto, query.clone()),
            (proto, Req::post("/gateway/api/v1/auth/logout").jwt(&token)),
            (proto, query),
        ]);
        let names = [
            "logout with a form body",
            "logout with a text/plain body (variant)",
            "logout with a multipart body (variant)",
            "the token still works after the refused logouts",
            "logout without a body",
            "the token is refused after logout",
        ];
        for (i, r) in resps.iter().enumerate() {
            let verdict = match i {
                0..=2 => unsupported(r),
                3 => r.expect_status(&[200]),
                4 => r.expect_status(&[204]),
                _ => r.expect_status(&[401]),
            };
            report.check(names[i], Some(proto), verdict);
        }
    }

    // Last, as it would revoke ALICE's own PATs if a foreign-scoped PAT
    // were accepted.
    run_table(
        &server,
        &mut report,
        &[Case::new(
            "PAT for otherservice revoking its user's tokens (variant)",
            Req::delete("/gateway/api/v1/auth/access-token/revoke/tokens").pat(&other),
            |r| r.expect_status(&[401]),
        )],
    );
    report.finish();
}
