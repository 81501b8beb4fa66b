//! Routing to services end to end: zgate in this process in front of real
//! `zgate-test-backend` processes. For each scheme the backend reports
//! what it received; PassTickets are checked by the backend against the
//! same home's ESM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};

use support::{Backend, Collected, Zgate, EVENT_DEADLINE};

/// The JSON body of a `curl -i` answer.
fn body(text: &str) -> serde_json::Value {
    let start = text.find("\r\n\r\n").map(|i| i + 4).unwrap_or(0);
    serde_json::from_str(&text[start..]).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn header_of(v: &serde_json::Value, name: &str) -> Option<String> {
    v["headers"][name].as_array().map(|a| {
        a.iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join("; ")
    })
}

fn service(id: &str, urls: &[String], auth: &str) -> String {
    let urls: Vec<String> = urls.iter().map(|u| format!("        - {u}\n")).collect();
    format!(
        "    - serviceId: {id}\n      title: {id}\n      instanceBaseUrls:\n{}      healthCheckRelativeUrl: /application/health\n      routes:\n        - gatewayUrl: api/v1\n          serviceRelativeUrl: /api/v1\n{auth}",
        urls.concat()
    )
}

const FORGED: [&str; 8] = [
    "-H",
    "X-Certificate-CommonName: ADMIN",
    "-H",
    "X-Certificate-DistinguishedName: CN=ADMIN",
    "-H",
    "Client-Cert: MIIforged",
    "-H",
    "X-Certificate-Public: MIIforged",
];

#[test]
fn every_scheme_gets_exactly_its_credential() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let first = Zgate::start(&home, &[]);
    for command in [
        "ADDUSER ALICE PASSWORD(SECRET1) NOEXPIRED",
        "RDEFINE PTKTDATA TSTAPPL SSIGNON(KEYMASKED(E001193519561977))",
        "SETROPTS CLASSACT(ZOWE) GENERIC(ZOWE)",
        "RDEFINE ZOWE APIML.SERVICES UACC(NONE)",
        "PERMIT APIML.SERVICES CLASS(ZOWE) ID(ADMIN) ACCESS(UPDATE)",
    ] {
        first.esm(command);
    }
    let echo = Backend::start(&[]);
    let pt = Backend::start(&["--esm-home", home.to_str().unwrap(), "--applid", "TSTAPPL"]);
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}/", l.local_addr().unwrap().port())
    };
    let e = vec![echo.url()];
    let defs = [
        service("bypasssvc", &e, ""),
        service(
            "jwtsvc",
            &e,
            "      authentication:\n        scheme: zoweJwt\n",
        ),
        service(
            "ptsvc",
            &[pt.url()],
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
        service(
            "x509svc",
            &e,
            "      authentication:\n        scheme: x509\n",
        ),
        service("deadsvc", &[dead], ""),
    ];
    std::fs::create_dir_all(home.join("services")).unwrap();
    std::fs::write(
        home.join("services/test.yml"),
        format!("services:\n{}", defs.concat()),
    )
    .unwrap();
    drop(first);
    let server = Zgate::start(&home, &[]);
    let jwt = server.login("ALICE", "SECRET1");
    let cookie = format!("apimlAuthenticationToken={jwt}; other=kept");
    let with_cookie = |path: &str| {
        let mut args = vec!["-H".to_owned(), format!("Cookie: {cookie}")];
        args.extend(FORGED.iter().map(|s| s.to_string()));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        server.curl(&a, path)
    };
    let no_forged = |v: &serde_json::Value| {
        for h in [
            "x-certificate-commonname",
            "x-certificate-distinguishedname",
            "client-cert",
            "x-certificate-public",
        ] {
            assert!(header_of(v, h).is_none(), "{h} reached the backend: {v}");
        }
    };

    // zoweJwt: the caller's own JWT as the cookie; other cookies kept.
    let (s, t) = with_cookie("/jwtsvc/api/v1/hello?x=1");
    assert_eq!(s, 200, "{t}");
    let v = body(&t);
    assert_eq!(v["path"], "/base/api/v1/hello?x=1");
    assert_eq!(
        header_of(&v, "cookie").unwrap(),
        format!("other=kept; apimlAuthenticationToken={jwt}")
    );
    assert!(header_of(&v, "authorization").is_none());
    no_forged(&v);
    // Basic caller of zoweJwt: a fresh JWT, not the password.
    let (s, t) = server.curl(&["-u", "ALICE:SECRET1"], "/jwtsvc/api/v1/hello");
    assert_eq!(s, 200, "{t}");
    let v = body(&t);
    let c = header_of(&v, "cookie").unwrap();
    assert!(
        c.starts_with("apimlAuthenticationToken=ey") && !c.contains(&jwt),
        "{c}"
    );
    assert!(header_of(&v, "authorization").is_none());

    // httpBasicPassTicket: USER:PASSTICKET, valid once against the ESM.
    let (s, t) = with_cookie("/ptsvc/api/v1/x");
    assert_eq!(s, 200, "{t}");
    let v = body(&t);
    let auth = header_of(&v, "authorization").unwrap();
    let decoded = String::from_utf8(
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            auth.strip_prefix("Basic ").unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let (user, ticket) = decoded.split_once(':').unwrap();
    assert_eq!(user, "ALICE");
    assert_eq!(ticket.len(), 8);
    assert_ne!(ticket, "SECRET1");
    assert_eq!(v["basicValid"], true, "{v}");
    assert!(header_of(&v, "cookie")
        .unwrap_or_default()
        .find("apimlAuthenticationToken")
        .is_none());
    no_forged(&v);

    // safIdt: X-SAF-Token, verifiable through zgate.
    let (s, t) = with_cookie("/idtsvc/api/v1/x");
    assert_eq!(s, 200, "{t}");
    let v = body(&t);
    let idt = header_of(&v, "x-saf-token").unwrap();
    assert!(header_of(&v, "cookie")
        .unwrap_or_default()
        .find("apimlAuthenticationToken")
        .is_none());
    let (s, t) = server.curl(
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            &format!(r#"{{"token":"{idt}","applid":"TSTAPPL"}}"#),
        ],
        "/gateway/api/v1/auth/safidt/validate",
    );
    assert_eq!(s, 200, "{t}");
    assert_eq!(body(&t)["sub"], "ALICE");
    let (s, _) = server.curl(
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            &format!(r#"{{"token":"{jwt}"}}"#),
        ],
        "/gateway/api/v1/auth/safidt/validate",
    );
    assert_eq!(s, 401);

    // zosmf: Cookie jwtToken.
    let (s, t) = with_cookie("/zosmfsvc/api/v1/x");
    assert_eq!(s, 200, "{t}");
    let c = header_of(&body(&t), "cookie").unwrap();
    assert!(
        c.contains("jwtToken=ey") && !c.contains("apimlAuthenticationToken"),
        "{c}"
    );

    // x509 without a client certificate: forwarded, failure header both ways,
    // and the forged certificate headers never arrive.
    let (s, t) = with_cookie("/x509svc/api/v1/x");
    assert_eq!(s, 200, "{t}");
    assert!(
        t.to_ascii_lowercase()
            .contains("x-zowe-auth-failure: zweag167e"),
        "{t}"
    );
    let v = body(&t);
    assert!(header_of(&v, "x-zowe-auth-failure")
        .unwrap()
        .starts_with("ZWEAG167E"));
    no_forged(&v);

    // bypass: the caller's credentials pass through; forged ones do not.
    let (s, t) = with_cookie("/bypasssvc/api/v1/x");
    assert_eq!(s, 200, "{t}");
    let v = body(&t);
    assert!(header_of(&v, "cookie").unwrap().contains(&jwt));
    no_forged(&v);

    // No credentials on a zoweJwt service: forwarded with the failure
    // header; forged certificate headers impersonate nobody, whichever
    // server path (HTTP/1.1 loop, hyper's HTTP/2) reads them.
    for protocol in ["--http1.1", "--http2"] {
        let args: Vec<&str> = std::iter::once(protocol).chain(FORGED).collect();
        let (s, t) = server.curl(&args, "/jwtsvc/api/v1/x");
        assert_eq!(s, 200, "{t}");
        assert!(t.contains("ZWEAG160E"), "{t}");
        let v = body(&t);
        assert!(header_of(&v, "cookie").is_none());
        assert!(header_of(&v, "x-zowe-auth-failure")
            .unwrap()
            .starts_with("ZWEAG160E"));
        no_forged(&v);
    }
    // A bad password: forwarded, failure header, no credential.
    let (s, t) = server.curl(&["-u", "ALICE:WRONG1"], "/ptsvc/api/v1/x");
    assert_eq!(s, 200, "{t}");
    let v = body(&t);
    assert!(header_of(&v, "authorization").is_none(), "{v}");
    assert!(header_of(&v, "x-zowe-auth-failure").is_some());

    // No instance answers: 503 with the message.
    let (s, t) = server.curl(&[], "/deadsvc/api/v1/x");
    assert_eq!(s, 503, "{t}");
    assert!(t.contains("ZWEAO503E") && t.contains("deadsvc"), "{t}");
    let (s, _) = server.curl(&[], "/nosuch/api/v1/x");
    assert_eq!(s, 404);

    // auth/ticket.
    let ticket_req = |b: &str| {
        server.curl(
            &[
                "-X",
                "POST",
                "-H",
                &format!("Cookie: apimlAuthenticationToken={jwt}"),
                "-H",
                "Content-Type: application/json",
                "-d",
                b,
            ],
            "/gateway/api/v1/auth/ticket",
        )
    };
    let (s, t) = ticket_req(r#"{"applicationName":"TSTAPPL"}"#);
    assert_eq!(s, 200, "{t}");
    let v = body(&t);
    assert_eq!(v["userId"], "ALICE");
    assert_eq!(v["applicationName"], "TSTAPPL");
    assert_eq!(v["token"], jwt.as_str());
    assert_eq!(v["ticket"].as_str().unwrap().len(), 8);
    let (s, t) = ticket_req("{}");
    assert_eq!(s, 400, "{t}");
    assert!(t.contains("ZWEAG140E"));
    let (s, t) = ticket_req(r#"{"applicationName":"NOAPPL"}"#);
    assert_eq!(s, 400, "{t}");
    assert!(t.contains("ZWEAG141E"));

    // The services list: APIML.SERVICES READ.
    let admin = format!("ADMIN:{}", server.admin_password());
    let (s, t) = server.curl(&["-u", &admin], "/gateway/api/v1/services");
    assert_eq!(s, 200, "{t}");
    assert_eq!(body(&t)["services"].as_array().unwrap().len(), 7);
    let (s, t) = server.curl(&["-u", "ALICE:SECRET1"], "/gateway/api/v1/services");
    assert_eq!(s, 403, "{t}");
    assert!(t.contains("ZWEAT403E"));

    // A bad set on reload is refused by file:line; the old set keeps serving.
    let mut f = std::fs::File::create(home.join("services/bad.yml")).unwrap();
    f.write_all(b"services:\n  - serviceId: broken\n    instanceBaseUrls: [ftp://x/]\n    routes: []\n  - serviceId: jwtsvc\n    instanceBaseUrls: [http://localhost:1/]\n    routes: []\n").unwrap();
    drop(f);
    let (s, t) = server.curl(
        &["-X", "POST", "-u", &admin],
        "/gateway/api/v1/services/reload",
    );
    assert_eq!(s, 422, "{t}");
    assert!(
        t.contains("bad.yml:2:") && t.contains("duplicate serviceId") && t.contains("jwtsvc"),
        "{t}"
    );
    let (s, _) = with_cookie("/jwtsvc/api/v1/hello");
    assert_eq!(s, 200);
    // Fixed, then a reload (what SIGHUP asks for): the new set.
    std::fs::write(home.join("services/bad.yml"), "services:\n  - serviceId: newsvc\n    instanceBaseUrls: [http://127.0.0.1:1/]\n    routes: [{gatewayUrl: api/v1}]\n").unwrap();
    assert_eq!(server.reload().services, 8);
    let (_, t) = server.curl(&["-u", &admin], "/gateway/api/v1/services");
    assert!(
        t.contains("newsvc"),
        "the reload did not take the new set: {t}"
    );
}

#[test]
fn switched_on_service_authorization_needs_read_on_the_service_profile() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let echo = Backend::start(&[]);
    std::fs::create_dir_all(home.join("services")).unwrap();
    std::fs::write(
        home.join("services/s.yml"),
        format!("services:\n{}", service("guarded", &[echo.url()], "")),
    )
    .unwrap();
    let on = ["zgate.services.authorization=true"];
    let first = Zgate::start(&home, &on);
    for command in [
        "ADDUSER ALICE PASSWORD(SECRET1) NOEXPIRED",
        "SETROPTS CLASSACT(ZOWE)",
        "RDEFINE ZOWE APIML.SERVICES.GUARDED UACC(NONE)",
    ] {
        first.esm(command);
    }
    drop(first);
    let server = Zgate::start(&home, &on);
    let (s, t) = server.curl(&["-u", "ALICE:SECRET1"], "/guarded/api/v1/x");
    assert_eq!(s, 403, "{t}");
    assert!(
        t.contains("ZWEAT403E") && t.contains("APIML.SERVICES.GUARDED"),
        "{t}"
    );
    let (s, _) = server.curl(&[], "/guarded/api/v1/x");
    assert_eq!(s, 401);
    // Permitted from another process while it runs: picked up by itself.
    let before = server.generation();
    server
        .esm_result("PERMIT APIML.SERVICES.GUARDED CLASS(ZOWE) ID(ALICE) ACCESS(READ)")
        .unwrap();
    assert!(
        server.reloaded_past(before, EVENT_DEADLINE).is_some(),
        "the permission was not picked up"
    );
    let (status, t) = server.curl(&["-u", "ALICE:SECRET1"], "/guarded/api/v1/x");
    assert_eq!(status, 200, "{t}");
}

#[test]
fn websocket_upgrade_tunnels_both_ways_with_the_scheme_applied() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let first = Zgate::start(&home, &[]);
    first.esm("ADDUSER ALICE PASSWORD(SECRET1) NOEXPIRED");
    let echo = Backend::start(&[]);
    std::fs::create_dir_all(home.join("services")).unwrap();
    let def = format!(
        "services:\n  - serviceId: wssvc\n    instanceBaseUrls: [{}]\n    routes: [{{gatewayUrl: ws/v1, serviceRelativeUrl: /ws}}]\n    authentication: {{scheme: zoweJwt}}\n",
        echo.url()
    );
    std::fs::write(home.join("services/ws.yml"), def).unwrap();
    drop(first);
    let server = Zgate::start(&home, &[]);
    let jwt = server.login("ALICE", "SECRET1");
    // openssl s_client offers no ALPN: HTTP/1.1, where Upgrade lives.
    let mut child = Command::new("openssl")
        .args(["s_client", "-quiet", "-connect"])
        .arg(format!("localhost:{}", server.port))
        .arg("-CAfile")
        .arg(server.ca_file())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    write!(
        stdin,
        "GET /wssvc/ws/v1/chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nCookie: apimlAuthenticationToken={jwt}\r\n\r\n"
    )
    .unwrap();
    stdin.flush().unwrap();
    // The backend's first line comes through the tunnel once it is open.
    let received = Collected::of(child.stdout.take().unwrap());
    received.wait_for_text(EVENT_DEADLINE, "upgraded ");
    stdin.write_all(b"ping-through-the-tunnel\n").unwrap();
    stdin.flush().unwrap();
    received.wait_for_text(EVENT_DEADLINE, "ping-through-the-tunnel");
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    let out = received.text();
    assert!(out.starts_with("HTTP/1.1 101"), "{out}");
    assert!(
        out.contains(&format!(
            "upgraded /base/ws/chat cookie=apimlAuthenticationToken={jwt}"
        )),
        "{out}"
    );
    assert!(out.contains("ping-through-the-tunnel"), "{out}");
}

#[test]
fn https_instances_are_verified_and_see_the_gateway_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let first = Zgate::start(&home, &[]);
    first.esm("ADDUSER ALICE PASSWORD(SECRET1) NOEXPIRED");
    // The backend serves zgate's own certificate (CN/SAN localhost), signed
    // by the CA in zgate's truststore.
    let tls = Backend::start(&["--tls-home", home.to_str().unwrap()]);
    std::fs::create_dir_all(home.join("services")).unwrap();
    let by_name = format!("https://localhost:{}/base", tls.port);
    let untrusted = {
        // A plain HTTP listener spoken to as HTTPS: the handshake fails.
        let plain = Backend::start(&[]);
        let url = format!("https://localhost:{}/base", plain.port);
        (plain, url)
    };
    std::fs::write(
        home.join("services/tls.yml"),
        format!(
            "services:\n{}{}",
            service(
                "tlssvc",
                &[by_name],
                "      authentication:\n        scheme: x509\n"
            ),
            service("badtls", std::slice::from_ref(&untrusted.1), "")
        ),
    )
    .unwrap();
    drop(first);
    let server = Zgate::start(&home, &[]);
    let (s, t) = server.curl(&["-u", "ALICE:SECRET1"], "/tlssvc/api/v1/x");
    assert_eq!(s, 200, "{t}");
    let v = body(&t);
    // The gateway presented its own client certificate.
    assert!(
        v["clientCertificate"]
            .as_str()
            .is_some_and(|s| s.contains("CN=")),
        "{v}"
    );
    assert!(header_of(&v, "authorization").is_none());
    let (s, t) = server.curl(&[], "/badtls/api/v1/x");
    assert_eq!(s, 503, "{t}");
}

/// A personal access token reaches the services in its scopes, as a fresh
/// gateway JWT for zoweJwt services, and is no credential anywhere else.
#[test]
fn a_personal_access_token_authenticates_only_for_its_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let pats = ["components.gateway.apiml.security.personalAccessToken.enabled=true"];
    let first = Zgate::start(&home, &pats);
    first.esm("ADDUSER ALICE PASSWORD(SECRET1) NOEXPIRED");
    let echo = Backend::start(&[]);
    let e = vec![echo.url()];
    let jwt_scheme = "      authentication:\n        scheme: zoweJwt\n";
    std::fs::create_dir_all(home.join("services")).unwrap();
    std::fs::write(
        home.join("services/test.yml"),
        format!(
            "services:\n{}{}",
            service("inscope", &e, jwt_scheme),
            service("outofscope", &e, jwt_scheme)
        ),
    )
    .unwrap();
    drop(first);
    let server = Zgate::start(&home, &pats);
    let (status, text) = server.curl(
        &[
            "-X",
            "POST",
            "-u",
            "ALICE:SECRET1",
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"validity":1,"scopes":["InScope"]}"#,
        ],
        "/gateway/api/v1/auth/access-token/generate",
    );
    assert_eq!(status, 200, "{text}");
    let pat = text.rsplit("\r\n\r\n").next().unwrap().trim().to_string();
    let header = format!("PRIVATE-TOKEN: {pat}");

    let (status, text) = server.curl(&["-H", &header], "/inscope/api/v1/hello");
    assert_eq!(status, 200, "{text}");
    let seen = body(&text);
    let cookie = header_of(&seen, "cookie").expect("a JWT cookie for the service");
    let fresh = cookie
        .strip_prefix("apimlAuthenticationToken=")
        .expect("only the gateway JWT");
    assert_ne!(fresh, pat, "the service gets a gateway JWT, not the PAT");
    assert!(header_of(&seen, "private-token").is_none(), "{seen}");
    assert!(header_of(&seen, "x-zowe-auth-failure").is_none(), "{seen}");

    let (status, text) = server.curl(&["-H", &header], "/outofscope/api/v1/hello");
    assert_eq!(status, 200, "{text}");
    let seen = body(&text);
    assert!(header_of(&seen, "cookie").is_none(), "{seen}");
    assert!(header_of(&seen, "private-token").is_none(), "{seen}");
    assert_eq!(
        header_of(&seen, "x-zowe-auth-failure").as_deref(),
        Some("ZWEAG102E Token is not valid")
    );
    assert!(
        text.contains("X-Zowe-Auth-Failure: ZWEAG102E")
            || text
                .to_ascii_lowercase()
                .contains("x-zowe-auth-failure: zweag102e"),
        "{text}"
    );
}
