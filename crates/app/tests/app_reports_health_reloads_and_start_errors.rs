//! What `zgate-app` tells its caller: what a start created, why a start
//! failed (and whether the configuration is at fault), the reload
//! generation, and the health from start to the end of a drain that waits
//! for an in-flight request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::process::Command;
use std::sync::mpsc;

use support::{load_config, Zgate, EVENT_DEADLINE};
use zgate_app::{App, AppError, Health, Options, ReloadError};

fn options() -> Options {
    Options {
        port: Some(0),
        ..Options::default()
    }
}

#[test]
fn a_start_reports_what_it_created_and_why_it_could_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");

    // First start: certificates and the administrator, reported once.
    let app = App::from_config(&home, load_config(&home, &[]), options()).unwrap();
    let first = app.first_start();
    assert_eq!(
        first.certificates.as_deref(),
        Some(home.join("keystore").as_path())
    );
    let admin = first.admin.as_ref().expect("an administrator");
    assert_eq!(admin.user, "ADMIN");
    assert_eq!(
        std::fs::read_to_string(&admin.password_file)
            .unwrap()
            .trim(),
        admin.password
    );
    assert!(
        !format!("{first:?}").contains(&admin.password),
        "Debug shows the password"
    );
    assert_eq!(
        app.ca_file(),
        Some(home.join("keystore/local_ca/local_ca.cer").as_path())
    );
    assert_ne!(app.local_addr().port(), 0);
    assert_eq!(*app.handle().health().borrow(), Health::Starting);
    drop(app);
    let again = App::from_config(&home, load_config(&home, &[]), options()).unwrap();
    assert!(again.first_start().certificates.is_none() && again.first_start().admin.is_none());

    // The port is taken: not the configuration's fault.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let error = App::from_config(
        &home,
        load_config(&home, &[]),
        Options {
            port: Some(port),
            ..Options::default()
        },
    )
    .err()
    .expect("the port is taken");
    assert!(matches!(error, AppError::Listen { .. }), "{error:?}");
    assert!(!error.is_configuration());
    assert_eq!(
        error.to_string(),
        format!("cannot listen on 127.0.0.1:{port}")
    );
    drop(again);

    // A wrong keystore password: the configuration's fault, and no secret
    // in the message.
    let error = App::from_config(
        &home,
        load_config(&home, &["zowe.certificate.keystore.password=not-it"]),
        options(),
    )
    .err()
    .expect("a wrong password");
    assert!(error.is_configuration(), "{error:?}");
    assert!(
        error.to_string().contains("wrong password for keystore"),
        "{error}"
    );
    assert!(!error.to_string().contains("not-it"), "{error}");

    // Bad service definitions: the configuration's fault, by file:line.
    std::fs::create_dir_all(home.join("services")).unwrap();
    std::fs::write(
        home.join("services/bad.yml"),
        "services:\n  - serviceId: broken\n    instanceBaseUrls: [ftp://x/]\n    routes: []\n",
    )
    .unwrap();
    let error = App::from_config(&home, load_config(&home, &[]), options())
        .err()
        .expect("bad definitions");
    assert!(matches!(error, AppError::Routing(_)), "{error:?}");
    assert!(error.is_configuration());
    assert!(error.to_string().contains("bad.yml:2:"), "{error}");
}

#[test]
fn the_reload_generation_moves_when_definitions_or_esm_changes_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let zgate = Zgate::start(&home, &[]);
    let start = zgate.generation();

    // A bad set is refused with its errors and applies nothing.
    std::fs::create_dir_all(home.join("services")).unwrap();
    std::fs::write(
        home.join("services/s.yml"),
        "services:\n  - serviceId: broken\n    instanceBaseUrls: [ftp://x/]\n    routes: []\n",
    )
    .unwrap();
    match zgate.try_reload() {
        Err(ReloadError::Services(errors)) => {
            assert!(errors.to_string().contains("s.yml:2:"), "{errors}")
        }
        other => panic!("a bad set was not refused: {other:?}"),
    }
    assert_eq!(zgate.generation(), start);

    // A good one is applied: one step.
    std::fs::write(
        home.join("services/s.yml"),
        "services:\n  - serviceId: fixed\n    instanceBaseUrls: [http://127.0.0.1:1/]\n    routes: [{gatewayUrl: api/v1}]\n",
    )
    .unwrap();
    let reloaded = zgate.reload();
    assert_eq!(reloaded.services, 1);
    assert_eq!(zgate.generation(), start + 1);

    // Another process's change: applied by the app's own look, one step;
    // a reload after it finds nothing more in the ESM.
    let before = zgate.generation();
    zgate
        .esm_result("ADDUSER CAROL PASSWORD(CAROLPW1) NOEXPIRED")
        .unwrap();
    assert!(zgate.reloaded_past(before, EVENT_DEADLINE).is_some());
    assert_eq!(zgate.generation(), before + 1);
    assert!(!zgate.reload().esm_changed);
    let (status, text) = zgate.curl(
        &["-X", "POST", "-u", "CAROL:CAROLPW1"],
        "/gateway/api/v1/auth/login",
    );
    assert_eq!(status, 204, "{text}");
}

/// A backend that takes one request and answers it only when told: the
/// request is in flight in the gateway from `arrived` until `answer`.
struct HeldBackend {
    port: u16,
    arrived: mpsc::Receiver<()>,
    answer: mpsc::Sender<()>,
}

impl HeldBackend {
    fn start() -> HeldBackend {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (arrived_tx, arrived) = mpsc::channel();
        let (answer, answer_rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
                line.clear();
            }
            arrived_tx.send(()).unwrap();
            let _ = answer_rx.recv();
            let mut stream = stream;
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nheld",
            );
        });
        HeldBackend {
            port,
            arrived,
            answer,
        }
    }
}

#[test]
fn health_follows_the_app_from_start_to_a_drain_that_waits_for_a_request() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let backend = HeldBackend::start();
    std::fs::create_dir_all(home.join("services")).unwrap();
    std::fs::write(
        home.join("services/held.yml"),
        format!(
            "services:\n  - serviceId: held\n    instanceBaseUrls: [http://127.0.0.1:{}/]\n    routes: [{{gatewayUrl: api/v1}}]\n",
            backend.port
        ),
    )
    .unwrap();
    // Started means serving (the harness waits for it).
    let mut zgate = Zgate::start(&home, &[]);
    assert_eq!(*zgate.handle.health().borrow(), Health::Serving);

    let (ca, url) = (zgate.ca_file(), zgate.url("/held/api/v1/x"));
    let client = std::thread::spawn(move || {
        Command::new("curl")
            .args(["-s", "-i", "--max-time", "60", "--cacert"])
            .arg(ca)
            .arg(url)
            .output()
            .unwrap()
    });
    backend
        .arrived
        .recv_timeout(EVENT_DEADLINE)
        .expect("the request never reached the backend");

    // Shut down with the request in flight: draining, not stopped.
    zgate.request_stop();
    zgate.wait_for_health(|h| *h == Health::Draining);
    assert!(
        !zgate.has_stopped(),
        "run returned with a request in flight"
    );
    backend.answer.send(()).unwrap();
    let out = client.join().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("HTTP/2 200") || text.starts_with("HTTP/1.1 200"),
        "{text}"
    );
    assert!(text.ends_with("held"), "{text}");
    zgate.wait_for_health(|h| *h == Health::Stopped);
    zgate.stop().unwrap();
}
