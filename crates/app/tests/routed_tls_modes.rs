//! `zowe.verifyCertificates` end to end: zgate in this process routes to
//! real `zgate-test-backend` processes serving HTTPS with a certificate for
//! another host name, one of an issuer nobody trusts, and an expired one
//! (and, as the control, a good one). The table:
//!
//! | backend            | STRICT  | NONSTRICT | DISABLED |
//! |--------------------|---------|-----------|----------|
//! | good               | routed  | routed    | routed   |
//! | wrong host name    | refused | routed    | routed   |
//! | untrusted issuer   | refused | refused   | routed   |
//! | expired            | refused | refused   | routed   |
//!
//! NONSTRICT forgives the host name only: like API ML's NONSTRICT, the chain
//! is still verified, and an expired certificate fails that verification.
//! A refused instance answers as an unreachable one does (503, ZWEAO503E).
//! Every backend asks for a client certificate, and in every mode the
//! gateway presents its own (the x509 scheme depends on it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::certs::{Ca, Leaf};
use support::{Backend, Zgate};

struct Case {
    id: &'static str,
    leaf: Leaf,
    /// Routed under STRICT, NONSTRICT, DISABLED.
    routed: [bool; 3],
}

fn body(text: &str) -> serde_json::Value {
    let start = text.find("\r\n\r\n").map(|i| i + 4).unwrap_or(0);
    serde_json::from_str(&text[start..]).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn check_mode(mode: &str, column: usize) {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    // The first start makes the certificates the cases are issued from.
    drop(Zgate::start(&home, &[]));
    let local = Ca::local(&home);
    let partner = Ca::new("Untrusted CA");
    let year = support::certs::this_year();
    let cases = [
        Case {
            id: "good",
            leaf: local.issue_current("localhost", &["localhost", "127.0.0.1"], 0x600d),
            routed: [true, true, true],
        },
        Case {
            id: "wronghost",
            leaf: local.issue_current("wrong.example.com", &["wrong.example.com"], 0xbad1),
            routed: [false, true, true],
        },
        Case {
            id: "untrusted",
            leaf: partner.issue_current("localhost", &["localhost", "127.0.0.1"], 0xbad2),
            routed: [false, false, true],
        },
        Case {
            id: "expired",
            leaf: local.issue(
                "localhost",
                &["localhost", "127.0.0.1"],
                0xbad3,
                (year - 3, year - 1),
            ),
            routed: [false, false, true],
        },
    ];
    let certs = dir.path().join("backend-certs");
    let mut backends = Vec::new();
    let mut definitions = String::from("services:\n");
    for case in &cases {
        let (cert, key) = case.leaf.write_pem(&certs, case.id);
        let backend = Backend::start(&[
            "--tls-home",
            home.to_str().unwrap(),
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ]);
        definitions.push_str(&format!(
            "  - serviceId: {id}\n    instanceBaseUrls: [https://localhost:{port}/base]\n    routes: [{{gatewayUrl: api/v1, serviceRelativeUrl: /api/v1}}]\n    authentication: {{scheme: bypass}}\n",
            id = case.id,
            port = backend.port
        ));
        backends.push(backend);
    }
    std::fs::create_dir_all(home.join("services")).unwrap();
    std::fs::write(home.join("services/tls.yml"), definitions).unwrap();

    let zgate = Zgate::start(&home, &[&format!("zowe.verifyCertificates={mode}")]);
    let gateway_subject = zgate_pki::x509::CertInfo::parse(
        &zgate_pki::load_key(&zgate_gateway::bootstrap::keystore_params(&zgate.config).unwrap())
            .unwrap()
            .chain[0],
    )
    .unwrap()
    .subject;
    for case in &cases {
        let (status, text) = zgate.curl(&[], &format!("/{}/api/v1/hello", case.id));
        if case.routed[column] {
            assert_eq!(status, 200, "{mode} {}: {text}", case.id);
            let echo = body(&text);
            assert_eq!(echo["path"], "/base/api/v1/hello", "{echo}");
            // The backend saw the gateway's own certificate.
            assert_eq!(
                echo["clientCertificate"].as_str(),
                Some(gateway_subject.as_str()),
                "{mode} {}: {echo}",
                case.id
            );
        } else {
            assert_eq!(status, 503, "{mode} {}: {text}", case.id);
            let error = body(&text);
            assert_eq!(
                error["messages"][0]["messageNumber"], "ZWEAO503E",
                "{mode} {}: {error}",
                case.id
            );
        }
    }

    // What each routed instance presented is watched for its expiry.
    let (status, metrics) = zgate.curl(&[], "/application/metrics");
    assert_eq!(status, 200);
    for case in &cases {
        let info = zgate_pki::x509::CertInfo::parse(&case.leaf.cert).unwrap();
        let line = metrics.lines().find(|l| {
            l.contains("role=\"service\"")
                && l.contains(&format!("service=\"{}\"", case.id))
                && l.contains(&format!("serial=\"{}\"", info.serial))
        });
        if case.routed[column] {
            let line = line.unwrap_or_else(|| panic!("{mode} {}: {metrics}", case.id));
            assert!(line.ends_with(&format!(" {}", info.not_after)), "{line}");
        } else {
            assert!(line.is_none(), "{mode} {}: {metrics}", case.id);
        }
    }
}

#[test]
fn strict_refuses_a_wrong_host_name_an_untrusted_issuer_and_an_expired_certificate() {
    check_mode("STRICT", 0);
}

#[test]
fn nonstrict_forgives_only_the_host_name() {
    check_mode("NONSTRICT", 1);
}

#[test]
fn disabled_routes_to_every_certificate_and_still_presents_the_gateways() {
    check_mode("DISABLED", 2);
}
