//! The server certificate, its key and the truststore change under a
//! running zgate: new connections get the new ones, open connections keep
//! going, nothing fails meanwhile, and what is broken is refused with the
//! old certificate still served. The app looks for changed files on its own
//! (`zgate.tls.reloadCheckSeconds`) or reloads when asked (SIGHUP's
//! request, `Handle::reload_certificates`); the binary's SIGHUP is tested in
//! the cli's `server_certificate_reloads_on_sighup.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use support::certs::{self, Ca, TlsClient};
use support::Zgate;

/// The gauge line of `role` with `serial` in a metrics text, if any.
fn gauge<'a>(metrics: &'a str, role: &str, serial: &str) -> Option<&'a str> {
    metrics.lines().find(|l| {
        l.starts_with("zgate_certificate_not_after_seconds{")
            && l.contains(&format!("role=\"{role}\""))
            && l.contains(&format!("serial=\"{serial}\""))
    })
}

fn not_after(cert: &rustls::pki_types::CertificateDer<'_>) -> i64 {
    zgate_pki::x509::CertInfo::parse(cert).unwrap().not_after
}

#[test]
fn a_rewritten_keystore_serves_new_connections_while_open_ones_keep_going() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let zgate = Zgate::start(&home, &["zgate.tls.reloadCheckSeconds=1"]);
    let ca = Ca::local(&home);

    let mut before = TlsClient::connect(zgate.port, &ca.cert, None).unwrap();
    assert_eq!(before.get("/application/health").unwrap(), 200);
    let old_serial = before.server_serial();

    let leaf = ca.issue_current("localhost", &["localhost", "127.0.0.1"], 0x7e57_0001);
    assert_ne!(leaf.serial(), old_serial);
    let reloads = zgate.certificate_reloads();
    certs::install_server_certificate(&home, &leaf);
    // Noticed by the app itself: nobody asked.
    zgate.wait_for_certificate_reload(reloads);

    let after = TlsClient::connect(zgate.port, &ca.cert, None).unwrap();
    assert_eq!(after.server_serial(), leaf.serial());
    // The connection made before the change goes on, with what it had.
    assert_eq!(before.get("/application/health").unwrap(), 200);
    assert_eq!(before.server_serial(), old_serial);

    let metrics = zgate.metrics();
    assert!(
        metrics.contains("zgate_tls_reloads_total{result=\"ok\"} 1"),
        "{metrics}"
    );
    let server = gauge(&metrics, "server", &leaf.serial()).unwrap_or_else(|| panic!("{metrics}"));
    assert!(
        server.ends_with(&format!(" {}", not_after(&leaf.cert))),
        "{server}"
    );
    assert!(
        gauge(&metrics, "server", &old_serial).is_none(),
        "{metrics}"
    );

    // Recorded as a reload, with the new certificate.
    let reloads: Vec<_> = zgate
        .audit_records()
        .into_iter()
        .filter(|r| r["event"] == 201 && r["event_qual"] == 0 && r.get("certificates").is_some())
        .collect();
    assert_eq!(reloads.len(), 1, "{reloads:?}");
    assert_eq!(reloads[0]["certificates"]["serial"], leaf.serial());
}

#[test]
fn no_request_fails_while_the_certificate_is_replaced_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let zgate = Zgate::start(&home, &["zgate.tls.reloadCheckSeconds=1"]);
    let ca = Arc::new(Ca::local(&home));
    let port = zgate.port;

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    // Every serial the load's handshakes were served, as they happen.
    let served_serials = Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (ca, stop, done) = (ca.clone(), stop.clone(), done.clone());
            let served_serials = served_serials.clone();
            std::thread::spawn(move || {
                let mut failures = Vec::new();
                let mut serials = std::collections::BTreeSet::new();
                while !stop.load(Ordering::SeqCst) {
                    // A new connection each time (a handshake with whatever
                    // is current), two requests on it.
                    match TlsClient::connect(port, &ca.cert, None) {
                        Ok(mut client) => {
                            let serial = client.server_serial();
                            served_serials.lock().unwrap().insert(serial.clone());
                            serials.insert(serial);
                            for _ in 0..2 {
                                match client.get("/application/health") {
                                    Ok(200) => {
                                        done.fetch_add(1, Ordering::SeqCst);
                                    }
                                    other => failures.push(format!("{other:?}")),
                                }
                            }
                        }
                        Err(error) => failures.push(error),
                    }
                }
                (failures, serials)
            })
        })
        .collect();

    let mut installed = Vec::new();
    for n in 0..3u64 {
        let leaf = ca.issue_current("localhost", &["localhost", "127.0.0.1"], 0x10ad_0000 + n);
        let reloads = zgate.certificate_reloads();
        let served = done.load(Ordering::SeqCst);
        certs::install_server_certificate(&home, &leaf);
        zgate.wait_for_certificate_reload(reloads);
        // Requests went on meanwhile and go on after it.
        while done.load(Ordering::SeqCst) < served + 20 {
            std::thread::yield_now();
        }
        installed.push(leaf.serial());
    }
    // The load goes on until one of its new connections is served the
    // last certificate (on a busy machine the requests counted above may
    // all have been on connections made before the swap).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !served_serials
        .lock()
        .unwrap()
        .contains(installed.last().unwrap())
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    stop.store(true, Ordering::SeqCst);
    let mut seen = std::collections::BTreeSet::new();
    for client in clients {
        let (failures, serials) = client.join().unwrap();
        assert!(failures.is_empty(), "{failures:?}");
        seen.extend(serials);
    }
    assert!(done.load(Ordering::SeqCst) >= 60);
    assert!(
        seen.contains(installed.last().unwrap()),
        "{seen:?} {installed:?}"
    );
    assert!(zgate
        .metrics()
        .contains("zgate_tls_reloads_total{result=\"ok\"} 3"));
}

#[test]
fn a_broken_keystore_is_refused_and_the_old_certificate_stays() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    // Reloads only when asked: each broken file is tried by the request.
    let zgate = Zgate::start(&home, &["zgate.tls.reloadCheckSeconds=0"]);
    let ca = Ca::local(&home);
    let original = TlsClient::connect(zgate.port, &ca.cert, None)
        .unwrap()
        .server_serial();
    let good = std::fs::read(certs::server_keystore(&home)).unwrap();

    let year = certs::this_year();
    let expired = ca.issue(
        "localhost",
        &["localhost"],
        0xdead_0001,
        (year - 3, year - 1),
    );
    let not_yet = ca.issue(
        "localhost",
        &["localhost"],
        0xdead_0002,
        (year + 1, year + 3),
    );
    let mismatched = {
        let mut leaf = ca.issue_current("localhost", &["localhost"], 0xdead_0003);
        leaf.key = ca.issue_current("other", &["localhost"], 0xdead_0004).key;
        leaf
    };
    let fresh = ca.issue_current("localhost", &["localhost"], 0xdead_0005);
    let broken: Vec<(&str, Vec<u8>, &str)> = vec![
        ("garbage", b"not a keystore".to_vec(), "not a valid"),
        ("empty", Vec::new(), "not a valid"),
        (
            "wrong password",
            fresh.keystore("localhost", "another password"),
            "wrong password",
        ),
        (
            "wrong alias",
            fresh.keystore("elsewhere", "password"),
            "no private key under alias",
        ),
        (
            "key of another certificate",
            mismatched.keystore("localhost", "password"),
            "does not match",
        ),
        (
            "expired",
            expired.keystore("localhost", "password"),
            "not valid now",
        ),
        (
            "not valid yet",
            not_yet.keystore("localhost", "password"),
            "not valid now",
        ),
    ];
    for (n, (what, contents, reason)) in broken.iter().enumerate() {
        certs::replace_file(&certs::server_keystore(&home), contents);
        let error = zgate.reload_certificates().unwrap_err().to_string();
        assert!(error.contains(reason), "{what}: {error}");
        let client = TlsClient::connect(zgate.port, &ca.cert, None).unwrap();
        assert_eq!(client.server_serial(), original, "{what}");
        let metrics = zgate.metrics();
        assert!(
            metrics.contains(&format!(
                "zgate_tls_reloads_total{{result=\"refused\"}} {}",
                n + 1
            )),
            "{what}: {metrics}"
        );
        assert!(
            metrics.contains("zgate_tls_reloads_total{result=\"ok\"} 0"),
            "{metrics}"
        );
    }
    let refused: Vec<_> = zgate
        .audit_records()
        .into_iter()
        .filter(|r| r["event"] == 201 && r["certificates"].get("refused").is_some())
        .collect();
    assert_eq!(refused.len(), broken.len(), "{refused:?}");
    // Nothing of a password in the records.
    assert!(!format!("{refused:?}").contains("another password"));

    // Put right, it is taken.
    certs::replace_file(&certs::server_keystore(&home), &good);
    let applied = zgate.reload_certificates().unwrap().unwrap();
    assert_eq!(applied.serial, original);
    certs::install_server_certificate(&home, &fresh);
    zgate.reload_certificates().unwrap();
    let client = TlsClient::connect(zgate.port, &ca.cert, None).unwrap();
    assert_eq!(client.server_serial(), fresh.serial());
}

#[test]
fn a_client_certificate_of_a_newly_trusted_ca_is_accepted_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let zgate = Zgate::start(&home, &["zgate.tls.reloadCheckSeconds=1"]);
    let local = Ca::local(&home);
    let partner = Ca::new("Partner CA");
    let client = partner.issue_current("PARTNER CLIENT", &["client.partner.example"], 0xc11e_0001);

    // Not trusted yet: the certificate is refused (at the handshake, or
    // under TLS 1.3 at the first read).
    let refused = TlsClient::connect(zgate.port, &local.cert, Some(&client))
        .and_then(|mut c| c.get("/application/health"));
    assert!(refused.is_err(), "{refused:?}");
    let metrics = zgate.metrics();
    assert!(!metrics.contains("subject=\"CN=Partner CA\""), "{metrics}");

    let reloads = zgate.certificate_reloads();
    certs::trust(&home, "partner", &partner.cert);
    zgate.wait_for_certificate_reload(reloads);

    let mut accepted = TlsClient::connect(zgate.port, &local.cert, Some(&client)).unwrap();
    assert_eq!(accepted.get("/application/health").unwrap(), 200);
    // The new CA is watched for its expiry too.
    let metrics = zgate.metrics();
    let line = metrics
        .lines()
        .find(|l| l.contains("role=\"ca\"") && l.contains("CN=Partner CA"))
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(
        line.ends_with(&format!(" {}", not_after(&partner.cert))),
        "{line}"
    );
}

#[test]
fn a_reload_keeps_the_configured_tls_versions() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let zgate = Zgate::start(
        &home,
        &[
            "zgate.tls.reloadCheckSeconds=0",
            "zowe.network.server.tls.maxTls=TLSv1.2",
        ],
    );
    let ca = Ca::local(&home);
    let tls13 = [&rustls::version::TLS13];
    assert!(TlsClient::connect_with(zgate.port, &ca.cert, None, &tls13).is_err());
    let leaf = ca.issue_current("localhost", &["localhost"], 0x7e57_0002);
    certs::install_server_certificate(&home, &leaf);
    zgate.reload_certificates().unwrap();
    // The new certificate, under the same settings.
    let client = TlsClient::connect(zgate.port, &ca.cert, None).unwrap();
    assert_eq!(client.server_serial(), leaf.serial());
    let refused = TlsClient::connect_with(zgate.port, &ca.cert, None, &tls13);
    assert!(refused.is_err());
}
