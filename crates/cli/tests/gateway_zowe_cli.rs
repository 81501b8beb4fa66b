//! The real Zowe CLI (`@zowe/cli`, installed by scripts/test.sh into
//! `.tools/node`, path in `ZGATE_TEST_ZOWE_CLI`) against the real gateway.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gateway_support;

use std::path::Path;
use std::process::{Command, Output};

use gateway_support::*;

fn zowe_cli() -> String {
    match std::env::var("ZGATE_TEST_ZOWE_CLI") {
        Ok(path) if Path::new(&path).exists() => path,
        _ => panic!(
            "ZGATE_TEST_ZOWE_CLI must name the Zowe CLI executable; run ./scripts/test.sh, \
             which installs @zowe/cli into .tools/node and exports it"
        ),
    }
}

/// Runs the Zowe CLI non-interactively in an isolated ZOWE_CLI_HOME with no
/// secure credential manager (nothing touches a keyring or the user's home).
fn zowe(cli_home: &Path, extra_env: &[(&str, &Path)], args: &[&str]) -> Output {
    std::fs::create_dir_all(cli_home).unwrap();
    let settings = cli_home.join("settings");
    std::fs::create_dir_all(&settings).unwrap();
    std::fs::write(
        settings.join("imperative.json"),
        r#"{"overrides":{"CredentialManager":false}}"#,
    )
    .unwrap();
    let mut command = Command::new(zowe_cli());
    command
        .args(args)
        .env("ZOWE_CLI_HOME", cli_home)
        .env("ZOWE_APP_LOG_LEVEL", "OFF")
        .env("ZOWE_IMPERATIVE_LOG_LEVEL", "OFF")
        .env("FORCE_COLOR", "0")
        .env_remove("NODE_EXTRA_CA_CERTS")
        .stdin(std::process::Stdio::null());
    for (name, value) in extra_env {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn token_in(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("eyJ") && l.matches('.').count() == 2)
        .unwrap_or_else(|| panic!("no token in the output: {}", text(out)))
        .to_string()
}

#[test]
fn zowe_cli_logs_in_queries_and_logs_out() {
    let cli = zowe_cli();
    assert!(!cli.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let cli_home = dir.path().join("zowe-cli-home");
    let server = Server::start(&home, &[], &[]);
    let port = server.port.to_string();
    let password = server.admin_password();
    let base = ["--host", "localhost", "--port", port.as_str()];

    // 1. --reject-unauthorized false.
    let mut args = vec!["auth", "login", "apiml"];
    args.extend_from_slice(&base);
    args.extend_from_slice(&[
        "--user",
        "ADMIN",
        "--password",
        &password,
        "--reject-unauthorized",
        "false",
        "--show-token",
    ]);
    let out = zowe(&cli_home, &[], &args);
    assert!(out.status.success(), "{}", text(&out));
    let token = token_in(&out);
    let query = |token: &str| {
        server.curl(
            &["-H", &format!("Authorization: Bearer {token}")],
            "/gateway/api/v1/auth/query",
        )
    };
    let (status, body) = query(&token);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""userId":"ADMIN""#));

    // 2. Verifying the server with the generated CA (Node's extra CA file).
    let ca = server.ca_file();
    let mut args = vec!["auth", "login", "apiml"];
    args.extend_from_slice(&base);
    args.extend_from_slice(&[
        "--user",
        "ADMIN",
        "--password",
        &password,
        "--reject-unauthorized",
        "true",
        "--show-token",
    ]);
    let out = zowe(&cli_home, &[("NODE_EXTRA_CA_CERTS", ca.as_path())], &args);
    assert!(out.status.success(), "{}", text(&out));
    let verified_token = token_in(&out);
    assert_eq!(query(&verified_token).0, 200);
    // Without the CA, verification fails (the CA file is what made it work).
    let out = zowe(&cli_home, &[], &args);
    assert!(!out.status.success(), "{}", text(&out));

    // 3. Logout revokes the token.
    let mut args = vec!["auth", "logout", "apiml"];
    args.extend_from_slice(&base);
    args.extend_from_slice(&[
        "--token-type",
        "apimlAuthenticationToken",
        "--token-value",
        &token,
        "--reject-unauthorized",
        "false",
    ]);
    let out = zowe(&cli_home, &[], &args);
    assert!(out.status.success(), "{}", text(&out));
    let (status, body) = query(&token);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("ZWEAG130E"));
    assert_eq!(
        query(&verified_token).0,
        200,
        "only the logged-out token is revoked"
    );

    // 4. A wrong password fails with the API's message.
    let mut args = vec!["auth", "login", "apiml"];
    args.extend_from_slice(&base);
    args.extend_from_slice(&[
        "--user",
        "ADMIN",
        "--password",
        "wrong-password-1",
        "--reject-unauthorized",
        "false",
        "--show-token",
    ]);
    let out = zowe(&cli_home, &[], &args);
    assert!(!out.status.success());
    let output = text(&out);
    assert!(
        output.contains("Invalid username or password for URL '/gateway/api/v1/auth/login'"),
        "{output}"
    );
    assert!(output.contains("ZWEAG120E"), "{output}");
}
