//! End to end on zgate in this process: client-certificate login with
//! certificates from the local CA (as `zgate cert client` issues them) and
//! from `openssl` (curl --cert), PATs made from a certificate, TOTP codes
//! from the real `oathtool` against the app's own clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use support::*;
use zgate_auth::{Clock as _, ManualClock, SystemClock};

const X509_ON: &str = "components.gateway.apiml.security.x509.enabled=true";
const PAT_ON: &str = "components.gateway.apiml.security.personalAccessToken.enabled=true";

fn status_of(text: &str) -> String {
    text.split("\"messageNumber\":\"")
        .nth(1)
        .map(|r| r.split('"').next().unwrap().to_string())
        .unwrap_or_default()
}

#[test]
fn client_certificates_log_in_and_make_pats() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let server = Zgate::start(&home, &[X509_ON, PAT_ON]);
    let out = dir.path().join("clients");
    server.esm("ADDUSER ALICE PASSWORD(ALICEPW1) NOEXPIRED");
    server.esm("ADDUSER BOB PASSWORD(BOBPW1) NOEXPIRED");
    let ClientCert {
        cert: alice_cert,
        key: alice_key,
        map,
    } = server.client_cert("alice", &out);
    assert!(map.contains("ID(ALICE)"), "{map}");
    server.esm(&map);
    let listing = server.esm("RACDCERT LISTMAP ID(ALICE)");
    assert!(
        listing.contains("Mapping information for user ALICE"),
        "{listing}"
    );
    let ClientCert {
        cert: bob_cert,
        key: bob_key,
        ..
    } = server.client_cert("bob", &out);

    let cert_args = |c: &PathBuf, k: &PathBuf| -> Vec<String> {
        vec![
            "--cert".into(),
            c.display().to_string(),
            "--key".into(),
            k.display().to_string(),
        ]
    };
    let with = |extra: &[&str], c: &PathBuf, k: &PathBuf| -> Vec<String> {
        let mut v = cert_args(c, k);
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let curl = |args: Vec<String>, path: &str| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        server.curl(&refs, path)
    };

    // Login with only the certificate: a JWT for the mapped user.
    let (status, text) = curl(
        with(&["-X", "POST"], &alice_cert, &alice_key),
        "/gateway/api/v1/auth/login",
    );
    assert_eq!(status, 204, "{text}");
    let jwt = token_from_response(&text);
    let (status, text) = server.curl(
        &["-H", &format!("Authorization: Bearer {jwt}")],
        "/gateway/api/v1/auth/query",
    );
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"userId\":\"ALICE\""), "{text}");
    // The gateway's own endpoints accept the certificate as authentication.
    let check = [
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"resourceClass":"ZOWE","resourceName":"APIML.SERVICES","accessLevel":"READ"}"#,
    ];
    let (status, text) = curl(with(&check, &alice_cert, &alice_key), "/gateway/auth/check");
    assert_eq!(status, 401, "{text}");
    assert!(
        text.contains("The principal 'ALICE' is missing queried authorization"),
        "{text}"
    );
    // Basic still wins over the certificate.
    let (status, text) = curl(
        with(&["-X", "POST", "-u", "BOB:BOBPW1"], &alice_cert, &alice_key),
        "/gateway/api/v1/auth/login",
    );
    assert_eq!(status, 204, "{text}");

    // A PAT made with the certificate, used with PRIVATE-TOKEN.
    let (status, text) = curl(
        with(
            &[
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "-d",
                r#"{"validity":1,"scopes":["gateway"]}"#,
            ],
            &alice_cert,
            &alice_key,
        ),
        "/gateway/api/v1/auth/access-token/generate",
    );
    assert_eq!(status, 200, "{text}");
    let pat = text.rsplit("\r\n\r\n").next().unwrap().trim().to_string();
    let mut pat_check = vec!["-H".to_string(), format!("PRIVATE-TOKEN: {pat}")];
    pat_check.extend(check.iter().map(|s| s.to_string()));
    let (status, text) = curl(pat_check, "/gateway/auth/check");
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("The principal 'ALICE'"), "{text}");
    let (status, _) = server.curl(
        &["-H", &format!("Authorization: Bearer {pat}")],
        "/gateway/api/v1/auth/query",
    );
    assert_eq!(status, 401, "query refuses a PAT");

    // Unmapped certificate: ZWEAG161E.
    let (status, text) = curl(
        with(&["-X", "POST"], &bob_cert, &bob_key),
        "/gateway/api/v1/auth/login",
    );
    assert_eq!(
        (status, status_of(&text).as_str()),
        (401, "ZWEAG161E"),
        "{text}"
    );

    // A certificate from openssl with another DN, mapped by an issuer filter
    // of the local CA... (the CA's DN is in the MAP hint's IDNFILTER).
    let idn = map
        .split("IDNFILTER('")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap()
        .to_string();
    let ca_p12 = home.join("keystore/local_ca/local_ca.keystore.p12");
    let d = dir.path();
    let openssl = |args: &[&str]| {
        let o = Command::new("openssl")
            .current_dir(d)
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    openssl(&[
        "pkcs12",
        "-in",
        ca_p12.to_str().unwrap(),
        "-passin",
        "pass:local_ca_password",
        "-nodes",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/C=US/O=ELSEWHERE/OU=QA/CN=tester",
        "-keyout",
        "t.key",
        "-out",
        "t.csr",
    ]);
    let ext = d.join("ext.cnf");
    std::fs::write(&ext, "extendedKeyUsage=clientAuth\n").unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "t.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.pem",
        "-set_serial",
        "99",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "t.pem",
    ]);
    let (t_cert, t_key) = (d.join("t.pem"), d.join("t.key"));
    let (status, text) = curl(
        with(&["-X", "POST"], &t_cert, &t_key),
        "/gateway/api/v1/auth/login",
    );
    assert_eq!(
        (status, status_of(&text).as_str()),
        (401, "ZWEAG161E"),
        "{text}"
    );
    server.esm(&format!(
        "RACDCERT MAP ID(BOB) IDNFILTER('{idn}') WITHLABEL('any-local')"
    ));
    server.esm("RACDCERT MAP ID(ALICE) SDNFILTER('OU=QA.O=ELSEWHERE.C=US') WITHLABEL('qa')");
    // Subject partial beats issuer full.
    let (status, text) = curl(
        with(&["-X", "POST"], &t_cert, &t_key),
        "/gateway/api/v1/auth/login",
    );
    assert_eq!(status, 204, "{text}");
    let (_, q) = server.curl(
        &[
            "-H",
            &format!("Authorization: Bearer {}", token_from_response(&text)),
        ],
        "/gateway/api/v1/auth/query",
    );
    assert!(q.contains("\"userId\":\"ALICE\""), "{q}");
    // Bob's (formerly unmapped) certificate now maps by the issuer.
    let (status, text) = curl(
        with(&["-X", "POST"], &bob_cert, &bob_key),
        "/gateway/api/v1/auth/login",
    );
    assert_eq!(status, 204, "{text}");

    // Revoked user: as for revoked.
    server.esm("ALTUSER ALICE REVOKE");
    let (status, text) = curl(
        with(&["-X", "POST"], &alice_cert, &alice_key),
        "/gateway/api/v1/auth/login",
    );
    assert_eq!(
        (status, status_of(&text).as_str()),
        (401, "ZWEAT414E"),
        "{text}"
    );

    // Untrusted issuer: refused by TLS itself.
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=Evil CA",
        "-keyout",
        "evil.key",
        "-out",
        "evil.pem",
        "-days",
        "2",
    ]);
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/C=US/O=ACME/CN=BOB",
        "-keyout",
        "e.key",
        "-out",
        "e.csr",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "e.csr",
        "-CA",
        "evil.pem",
        "-CAkey",
        "evil.key",
        "-set_serial",
        "1",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "e.pem",
    ]);
    let o = Command::new("curl")
        .arg("--cacert")
        .arg(server.ca_file())
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "30",
            "-X",
            "POST",
        ])
        .arg("--cert")
        .arg(d.join("e.pem"))
        .arg("--key")
        .arg(d.join("e.key"))
        .arg(server.url("/gateway/api/v1/auth/login"))
        .output()
        .unwrap();
    assert!(
        !o.status.success(),
        "the handshake must fail: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "000");
}

#[test]
fn client_certificates_are_ignored_when_x509_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let server = Zgate::start(&home, &[]);
    server.esm("ADDUSER ALICE PASSWORD(ALICEPW1) NOEXPIRED");
    let ClientCert {
        cert: c,
        key: k,
        map,
    } = server.client_cert("alice", &dir.path().join("c"));
    server.esm(&map);
    let (status, text) = server.curl(
        &[
            "-X",
            "POST",
            "--cert",
            c.to_str().unwrap(),
            "--key",
            k.to_str().unwrap(),
        ],
        "/gateway/api/v1/auth/login",
    );
    assert_eq!(
        (status, status_of(&text).as_str()),
        (400, "ZWEAG121E"),
        "{text}"
    );
    // PATs are off by default too.
    let (status, _) = server.curl(
        &[
            "-X",
            "POST",
            "-u",
            "ALICE:ALICEPW1",
            "-H",
            "content-type: application/json",
            "-d",
            r#"{"scopes":["a"]}"#,
        ],
        "/gateway/api/v1/auth/access-token/generate",
    );
    assert_eq!(status, 404);
}

fn param<'a>(uri: &'a str, name: &str) -> &'a str {
    uri.split_once('?')
        .unwrap()
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap()
}

/// The code `oathtool` computes for `offset_s` seconds after `clock`'s now.
fn oathtool(uri: &str, clock: &ManualClock, offset_s: i64) -> String {
    let now = clock.now_ms() / 1000 + offset_s;
    let out = Command::new("oathtool")
        .arg(format!(
            "--totp={}",
            param(uri, "algorithm").to_ascii_lowercase()
        ))
        .arg(format!("--digits={}", param(uri, "digits")))
        .arg("--base32")
        .arg(format!("--now=@{now}"))
        .arg(param(uri, "secret"))
        .output()
        .expect("oathtool is installed");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn totp_codes_from_oathtool_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    // The app's clock stands still in the middle of a 30 s step: the codes
    // oathtool computes for "now" and the steps around it are exact, and no
    // step boundary passes during the test.
    let now = SystemClock.now_ms();
    let clock = Arc::new(ManualClock::new(now - now % 30_000 + 15_000));
    let server = Zgate::start_with_clock(&home, &[], clock.clone());
    server.esm("ADDUSER ALICE PHRASE('alpha:beta 1234') NOEXPIRED");
    let login = |password: &str| {
        server.curl(
            &["-X", "POST", "-u", &format!("ALICE:{password}")],
            "/gateway/api/v1/auth/login",
        )
    };
    for (alg, digits) in [("SHA1", 6), ("SHA256", 8), ("SHA512", 8)] {
        let out = server.esm(&format!(
            "ALTUSER ALICE MFA(FACTOR(TOTP) ACTIVE ALGORITHM({alg}) DIGITS({digits}))"
        ));
        let uri = out
            .lines()
            .find(|l| l.starts_with("otpauth://totp/zgate:ALICE?secret="))
            .unwrap_or_else(|| panic!("{out}"))
            .to_string();
        // The password alone is not enough.
        let (status, text) = login("alpha:beta 1234");
        assert_eq!(
            (status, status_of(&text).as_str()),
            (401, "ZWEAG120E"),
            "{text}"
        );
        // password:code (the phrase has ':' of its own).
        let code = oathtool(&uri, &clock, 0);
        let (status, text) = login(&format!("alpha:beta 1234:{code}"));
        assert_eq!(status, 204, "{alg}/{digits}: {text}");
        // Replayed: refused.
        let (status, _) = login(&format!("alpha:beta 1234:{code}"));
        assert_eq!(status, 401);
        // The next step's code (inside the skew window) in "mfaToken".
        let next = oathtool(&uri, &clock, 30);
        let (status, text) = server.curl(
            &[
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "-d",
                &format!(
                    r#"{{"username":"ALICE","password":"alpha:beta 1234","mfaToken":"{next}"}}"#
                ),
            ],
            "/gateway/api/v1/auth/login",
        );
        assert_eq!(status, 204, "{text}");
        // Two steps ahead: outside the window.
        let far = oathtool(&uri, &clock, 90);
        let (status, _) = login(&format!("alpha:beta 1234:{far}"));
        assert_eq!(status, 401);
    }
    // LISTUSER never shows the secret.
    server.esm("ALTUSER ALICE MFA(FACTOR(TOTP) INACTIVE)");
    let (status, text) = login("alpha:beta 1234");
    assert_eq!(status, 204, "{text}");
}
