//! The real `zgate serve`, its certificates replaced by `zgate cert init
//! --force` under it: SIGHUP makes new connections get the new server
//! certificate, without a restart; a broken keystore is refused on SIGHUP
//! with a log line and the certificate in use stays; a certificate expiring
//! within `zgate.tls.expiryWarningDays` is warned about at the start.
//! Looking for changed files on its own is switched off here
//! (`zgate.tls.reloadCheckSeconds=0`): only the signal can reload.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gateway_support;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use gateway_support::{zgate, Server};

/// The serial of the certificate the server on `port` presents, as
/// `openssl s_client | openssl x509 -noout -serial` reads it (hex, upper
/// case, as openssl writes it).
fn served_serial(port: u16) -> String {
    let connect = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            "localhost",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let mut x509 = Command::new("openssl")
        .args(["x509", "-noout", "-serial"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    x509.stdin
        .take()
        .unwrap()
        .write_all(&connect.stdout)
        .unwrap();
    let out = x509.wait_with_output().unwrap();
    assert!(out.status.success(), "no certificate from port {port}");
    serial_of(&String::from_utf8(out.stdout).unwrap())
}

/// The serial of the certificate in the PEM file `path`.
fn file_serial(path: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-serial", "-in"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", path.display());
    serial_of(&String::from_utf8(out.stdout).unwrap())
}

fn serial_of(line: &str) -> String {
    line.trim()
        .strip_prefix("serial=")
        .unwrap_or_else(|| panic!("{line}"))
        .to_ascii_uppercase()
}

#[test]
fn sighup_takes_a_replaced_certificate_and_refuses_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let server = Server::start(
        &home,
        &[
            "--set",
            "zgate.tls.reloadCheckSeconds=0",
            "--set",
            "zgate.tls.expiryWarningDays=3650",
        ],
        &[],
    );
    // The first start makes certificates valid for 3650 days: within the
    // window, so warned about at the start.
    server.wait_for_log(0, "certificate expires soon");
    let leaf_pem = home.join("keystore/localhost/localhost.cer");
    let first = served_serial(server.port);
    assert_eq!(first, file_serial(&leaf_pem));

    let init = zgate(&home, &["cert", "init", "--force"]);
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let second = file_serial(&leaf_pem);
    assert_ne!(first, second);
    // Not looked for on its own: still the old one until the signal.
    assert_eq!(served_serial(server.port), first);
    let from = server.stderr.len();
    server.signal("HUP");
    let reloaded = server.wait_for_log(from, "server certificate and truststore reloaded");
    assert_eq!(served_serial(server.port), second);
    let (status, text) = server.curl(&[], "/application/health");
    assert_eq!(status, 200, "{text}");

    // A broken keystore: refused, logged, the new certificate stays.
    std::fs::write(
        home.join("keystore/localhost/localhost.keystore.p12"),
        b"not a keystore",
    )
    .unwrap();
    server.signal("HUP");
    let refused = server.wait_for_log(reloaded + 1, "refused; the previous ones stay");
    assert!(
        server.stderr.all()[refused].contains("localhost.keystore.p12"),
        "{:?}",
        server.stderr.all()[refused]
    );
    assert_eq!(served_serial(server.port), second);
    let (status, metrics) = server.curl(&[], "/application/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("zgate_tls_reloads_total{result=\"ok\"} 1")
            && metrics.contains("zgate_tls_reloads_total{result=\"refused\"} 1"),
        "{metrics}"
    );
    // Still serving: the process was never restarted.
    let (status, text) = server.curl(&[], "/application/health");
    assert_eq!(status, 200, "{text}");
}
