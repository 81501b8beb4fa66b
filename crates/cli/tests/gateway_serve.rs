//! End to end: the real `zgate serve` binary, real certificates, the real ESM,
//! driven with curl.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gateway_support;

use std::process::Command;

use gateway_support::*;

#[test]
fn fresh_serve_is_usable_with_curl_cacert() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let server = Server::start(&home, &[], &[]);
    let stdout = server.stdout.all().join("\n");
    assert!(stdout.contains("created the configuration"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "clients should trust the CA certificate {}",
            server.ca_file().display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("created the SPECIAL administrator ADMIN"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "{} (mode 0600)",
            home.join("initial-admin-password").display()
        )),
        "{stdout}"
    );
    let password = server.admin_password();
    assert!(stdout.contains(&password), "the password is printed once");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(home.join("initial-admin-password"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // curl trusts the server through the generated CA alone.
    let (status, text) = server.curl(&[], "/gateway/api/v1/auth/keys/public");
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("-----BEGIN PUBLIC KEY-----"));

    // HTTP/2 via ALPN, HTTP/1.1, TLS 1.2 and 1.3; no client certificate needed.
    for (args, expect) in [
        (vec!["--http2"], "2"),
        (vec!["--http1.1"], "1.1"),
        (vec!["--tlsv1.2", "--tls-max", "1.2"], "2"),
        (vec!["--tlsv1.3"], "2"),
    ] {
        let out = Command::new("curl")
            .arg("--cacert")
            .arg(server.ca_file())
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_version} %{http_code}",
            ])
            .args(&args)
            .arg(server.url("/application/health"))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{expect} 200"),
            "{args:?}"
        );
    }

    // Log in as the administrator, query the token.
    let token = server.login("ADMIN", &password);
    let (status, text) = server.curl(
        &["-H", &format!("Authorization: Bearer {token}")],
        "/gateway/api/v1/auth/query",
    );
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(r#""userId":"ADMIN""#), "{text}");

    // Inbound identity headers are not trusted (stripped) and do not break anything.
    let (status, _) = server.curl(
        &[
            "-H",
            "X-Certificate-CommonName: ADMIN",
            "-H",
            "Client-Cert: x",
        ],
        "/gateway/api/v1/auth/query",
    );
    assert_eq!(status, 401);

    let status = server.stop();
    assert!(status.success(), "{status:?}");
}

#[test]
fn revoked_tokens_stay_revoked_and_valid_tokens_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let server = Server::start(&home, &[], &[]);
    let password = server.admin_password();
    let revoked = server.login("ADMIN", &password);
    let kept = server.login("ADMIN", &password);
    let (status, _) = server.curl(
        &[
            "-X",
            "POST",
            "-H",
            &format!("Authorization: Bearer {revoked}"),
        ],
        "/gateway/api/v1/auth/logout",
    );
    assert_eq!(status, 204);
    let stdout_before = server.stdout.clone();
    let exit = server.stop();
    assert!(exit.success());
    assert!(stdout_before.all().iter().any(|l| l == "zgate: stopped"));

    let server = Server::start(&home, &[], &[]);
    let stdout = server.stdout.all().join("\n");
    assert!(
        !stdout.contains("created"),
        "a restart creates nothing: {stdout}"
    );
    let query = |token: &str| {
        server.curl(
            &["-H", &format!("Authorization: Bearer {token}")],
            "/gateway/api/v1/auth/query",
        )
    };
    let (status, text) = query(&revoked);
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("ZWEAG130E"), "{text}");
    let (status, text) = query(&kept);
    assert_eq!(status, 200, "{text}");
    // The signing key is the keystore's: the published JWK has the token's kid.
    let (_, keys) = server.curl(&[], "/gateway/api/v1/auth/keys/public/current");
    let header = kept.split('.').next().unwrap();
    use base64::Engine as _;
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    assert!(keys.contains(header["kid"].as_str().unwrap()));
}

#[test]
fn no_secret_appears_in_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    // First start creates everything; then add a user with a known password.
    let server = Server::start(&home, &[], &["--log-format", "json"]);
    let admin_password = server.admin_password();
    drop(server);
    let out = zgate(
        &home,
        &["esm", "ADDUSER BOBBY PASSWORD(PW4BOBBY) NOEXPIRED"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let server = Server::start(
        &home,
        &["--set", "zgate.log.level=debug"],
        &["--log-format", "json"],
    );
    let token = server.login("BOBBY", "PW4BOBBY");
    let (status, _) = server.curl(
        &["-H", &format!("Authorization: Bearer {token}")],
        "/gateway/api/v1/auth/query",
    );
    assert_eq!(status, 200);
    let (status, _) = server.curl(
        &[
            "-H",
            &format!("Cookie: apimlAuthenticationToken={token}"),
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"resourceClass":"ZOWE","resourceName":"APIML.SERVICES","accessLevel":"READ"}"#,
        ],
        "/gateway/auth/check",
    );
    assert!(status == 204 || status == 401);
    let (status, _) = server.curl(
        &["-X", "POST", "-u", "BOBBY:WRONGPW9"],
        "/gateway/api/v1/auth/login",
    );
    assert_eq!(status, 401);
    let (status, _) = server.curl(
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"username":"BOBBY","password":"PW4BOBBY","newPassword":"NEWPW4BO"}"#,
        ],
        "/gateway/api/v1/auth/login",
    );
    assert_eq!(status, 204);
    let (status, _) = server.curl(
        &[
            "-X",
            "POST",
            "-H",
            &format!("Authorization: Bearer {token}"),
        ],
        "/gateway/api/v1/auth/logout",
    );
    assert_eq!(status, 204);
    let exit = server.stop();
    assert!(exit.success());

    let logs =
        std::fs::read_to_string(home.with_extension(format!("log{}", std::process::id()))).unwrap();
    assert!(logs.contains("login succeeded"), "the run did log: {logs}");
    assert!(
        logs.contains("zgate::access"),
        "request lines were logged (debug): {logs}"
    );
    let key_pem = std::fs::read_to_string(home.join("keystore/localhost/localhost.key")).unwrap();
    let key_line = key_pem.lines().nth(3).unwrap();
    let signature = token.rsplit('.').next().unwrap();
    for secret in [
        "PW4BOBBY",
        "pw4bobby",
        "WRONGPW9",
        "NEWPW4BO",
        admin_password.as_str(),
        token.as_str(),
        signature,
        &token[..40],
        key_line,
        "UFc0Qk9CQlk", // base64 of the password's start, as in a Basic header
    ] {
        assert!(
            !logs.contains(secret),
            "a secret ({secret:.8}…) is in the logs"
        );
    }
    // Structured: every line is one JSON object.
    for line in logs.lines().filter(|l| !l.is_empty()) {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(value.get("level").is_some(), "{line}");
    }
}

#[test]
fn bad_configuration_stops_start_up_with_64() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join("zgate.yaml"),
        "components:\n  gateway:\n    prot: 7554\n",
    )
    .unwrap();
    let out = zgate(&home, &["serve"]);
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:3", home.join("zgate.yaml").display())),
        "{stderr}"
    );
    assert!(
        stderr.contains("did you mean `components.gateway.port`"),
        "{stderr}"
    );

    std::fs::write(home.join("zgate.yaml"), "").unwrap();
    let out = zgate(&home, &["--set", "components.gateway.port=http", "serve"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("--set: components.gateway.port: `http` is not a port number"));
}

#[test]
fn config_show_tells_where_each_value_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join("zgate.yaml"),
        "components:\n  gateway:\n    port: 8443\nzowe:\n  certificate:\n    keystore:\n      password: topsecret\n",
    )
    .unwrap();
    let out = zgate(
        &home,
        &[
            "--set",
            "components.gateway.apiml.security.allowTokenRefresh=true",
            "config",
            "show",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap()
            .to_string()
    };
    assert!(line("components.gateway.port").contains("8443"));
    assert!(line("components.gateway.port")
        .ends_with(&format!("({}:3)", home.join("zgate.yaml").display())));
    assert!(line("components.gateway.apiml.security.allowTokenRefresh").ends_with("true  (--set)"));
    assert!(
        line("components.gateway.apiml.security.auth.tokenProperties.expirationInSeconds")
            .ends_with("28800  (default)")
    );
    assert!(line("zowe.certificate.keystore.password").contains("********"));
    assert!(!text.contains("topsecret"));
    let out = zgate(&home, &["config", "show", "--json"]);
    assert!(out.status.success());
    let entries: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let port = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "components.gateway.port")
        .unwrap();
    assert_eq!(port["value"], "8443");
    assert_eq!(
        port["source"],
        format!("{}:3", home.join("zgate.yaml").display())
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("topsecret"));

    // A real zowe.yaml: read, unsupported values warned about, not fatal.
    let zowe_yaml = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/zowe/config/example-zowe.yaml"
    );
    let out = zgate(&home, &["--config", zowe_yaml, "config", "show"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning") && stderr.contains("auth.provider"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("/global/zowe/keystore/localhost/localhost.keystore.p12"));
}

#[test]
fn sigterm_lets_an_in_flight_request_finish() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let mut server = Server::start(&home, &[], &[]);
    let mut client = Command::new("openssl")
        .args([
            "s_client",
            "-quiet",
            "-connect",
            &format!("127.0.0.1:{}", server.port),
        ])
        .arg("-CAfile")
        .arg(server.ca_file())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // A whole request and, in the same write (one TLS record), the head of
    // a second whose body has not arrived: once the first is answered, the
    // server has read the second's head, so the second is in flight.
    let body = r#"{"username":"NOBODY","password":"NOPE1"}"#;
    let mut stdin = client.stdin.take().unwrap();
    write!(
        stdin,
        "GET /application/health HTTP/1.1\r\nHost: localhost\r\n\r\n\
         POST /gateway/api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    stdin.flush().unwrap();
    let received = Collected::of(client.stdout.take().unwrap());
    let first = received
        .wait_until(EVENT_DEADLINE, |bytes| response_end(bytes, 0))
        .unwrap_or_else(|| panic!("no first answer: {}", received.text()));
    assert!(
        received.text().starts_with("HTTP/1.1 200"),
        "{}",
        received.text()
    );

    let from = server.stderr.len();
    server.signal("TERM");
    server.wait_for_log(from, "shutting down");
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "zgate exited with a request in flight"
    );
    stdin.write_all(body.as_bytes()).unwrap();
    stdin.flush().unwrap();
    let end = received
        .wait_until(EVENT_DEADLINE, |bytes| response_end(bytes, first))
        .unwrap_or_else(|| panic!("no second answer: {}", received.text()));
    let response = String::from_utf8_lossy(&received.bytes()[first..end]).into_owned();
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    assert!(response.contains("ZWEAG120E"), "{response}");
    drop(stdin);
    let _ = client.wait();
    let status = server.wait_for_exit();
    assert!(status.success(), "{status:?}");
}

#[test]
fn tls_versions_come_from_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let server = Server::start(
        &home,
        &["--set", "zowe.network.server.tls.minTls=TLSv1.3"],
        &[],
    );
    let version = |args: &[&str]| {
        let out = Command::new("curl")
            .arg("--cacert")
            .arg(server.ca_file())
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .args(args)
            .arg(server.url("/application/health"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert_eq!(version(&["--tlsv1.3"]), "200");
    assert_eq!(
        version(&["--tlsv1.2", "--tls-max", "1.2"]),
        "000",
        "TLS 1.2 must be refused"
    );
}

#[test]
fn tokens_survive_a_new_server_key_until_they_expire() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let server = Server::start(&home, &[], &[]);
    let password = server.admin_password();
    let old_token = server.login("ADMIN", &password);
    assert!(server.stop().success());

    // New certificates with a new key (an EC key this time: ES256).
    let out = zgate(&home, &["cert", "init", "--force", "--key-type", "ec"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let server = Server::start(&home, &[], &[]);
    let (status, text) = server.curl(
        &["-H", &format!("Authorization: Bearer {old_token}")],
        "/gateway/api/v1/auth/query",
    );
    assert_eq!(
        status, 200,
        "a token of the previous key still verifies: {text}"
    );
    let (_, all) = server.curl(&[], "/gateway/api/v1/auth/keys/public/all");
    assert!(
        all.contains(r#""alg":"RS256""#) && all.contains(r#""alg":"ES256""#),
        "{all}"
    );
    let (_, current) = server.curl(&[], "/gateway/api/v1/auth/keys/public/current");
    assert!(
        current.contains(r#""alg":"ES256""#) && !current.contains("RS256"),
        "{current}"
    );
    let new_token = server.login("ADMIN", &password);
    use base64::Engine as _;
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(new_token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "ES256");
}

#[test]
fn a_wrong_keystore_password_stops_start_up_with_64() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    drop(Server::start(&home, &[], &[]));
    let out = zgate(
        &home,
        &[
            "--set",
            "zowe.certificate.keystore.password=not-it",
            "serve",
            "--port",
            "0",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(64),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("wrong password for keystore"), "{stderr}");
    assert!(!stderr.contains("not-it"), "{stderr}");
}
