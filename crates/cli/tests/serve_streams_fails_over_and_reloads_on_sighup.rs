//! The binary end to end with real `zgate-test-backend` processes:
//! gigabyte bodies stream through `zgate serve` in little memory, a slow
//! backend holds up no other request, a dead instance fails over, and
//! SIGHUP re-reads the service definitions. (Routing itself, scheme by
//! scheme, is proved in process: crates/app/tests/routing_to_services.rs.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gateway_support;

use std::process::{Command, Stdio};

use gateway_support::{Backend, Lines, Server, EVENT_DEADLINE};

fn service(id: &str, urls: &[String], auth: &str) -> String {
    let urls: Vec<String> = urls.iter().map(|u| format!("        - {u}\n")).collect();
    format!(
        "    - serviceId: {id}\n      title: {id}\n      instanceBaseUrls:\n{}      healthCheckRelativeUrl: /application/health\n      routes:\n        - gatewayUrl: api/v1\n          serviceRelativeUrl: /api/v1\n{auth}",
        urls.concat()
    )
}

/// VmHWM (peak resident set) of a process, KiB.
fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn bodies_stream_slow_backends_block_nothing_and_dead_instances_fail_over() {
    const SIZE: u64 = 1024 * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let a = Backend::start(&[]);
    let mut b = Backend::start(&[]);
    std::fs::create_dir_all(home.join("services")).unwrap();
    std::fs::write(
        home.join("services/s.yml"),
        format!("services:\n{}", service("stream", &[a.url(), b.url()], "")),
    )
    .unwrap();
    let server = Server::start(&home, &[], &[]);
    let pid = server.child.id();

    // Upload: curl streams stdin as a chunked PUT (HTTP/1.1: the server's
    // plain-request loop hands it to hyper); the backend counts.
    let up = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "head -c {SIZE} /dev/zero | curl -s --http1.1 --cacert {} -T - {}",
            server.ca_file().display(),
            server.url("/stream/api/v1/upload")
        ))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&up.stdout).unwrap();
    assert_eq!(v["bodyLength"], SIZE, "{v}");
    // Download, through each server path (HTTP/1.1 loop, hyper's HTTP/2).
    for protocol in ["--http1.1", "--http2"] {
        let down = Command::new("curl")
            .args([
                protocol,
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{size_download}",
                "--cacert",
            ])
            .arg(server.ca_file())
            .arg(server.url(&format!("/stream/api/v1/download?bytes={SIZE}")))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&down.stdout), SIZE.to_string());
    }
    let hwm = vm_hwm_kib(pid);
    eprintln!(
        "gateway VmHWM after {} MiB up + 2 x down: {} KiB",
        SIZE >> 20,
        hwm
    );
    assert!(hwm < 200 * 1024, "gateway peak RSS {hwm} KiB");

    // A slow request does not hold up others: the fast one, sent once the
    // slow one is on its way (curl -v says so), finishes first.
    let slow_url = server.url("/stream/api/v1/slow?ms=3000");
    let ca = server.ca_file();
    let (tx, rx) = std::sync::mpsc::channel();
    let tx2 = tx.clone();
    let mut slow = Command::new("curl")
        .args(["-s", "-v", "--cacert"])
        .arg(&ca)
        .arg(&slow_url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let trace = Lines::collect(slow.stderr.take().unwrap(), None);
    let slow_out = slow.stdout.take().unwrap();
    let slow = std::thread::spawn(move || {
        let status = slow.wait().unwrap();
        tx2.send("slow").unwrap();
        (status, slow_out)
    });
    assert!(
        trace
            .wait_for(0, EVENT_DEADLINE, |l| l.starts_with("> GET").then_some(()))
            .is_some(),
        "the slow request was never sent: {:?}",
        trace.all()
    );
    let (s, _) = server.curl(&[], "/stream/api/v1/fast");
    assert_eq!(s, 200);
    tx.send("fast").unwrap();
    assert_eq!(rx.recv().unwrap(), "fast");
    assert!(slow.join().unwrap().0.success());

    // Failover: kill one instance mid-test; every request still succeeds,
    // those with a (small) body included: the first requests after the kill
    // alternate between the instances, so both kinds meet the dead one.
    for i in 0..20 {
        if i == 5 {
            let _ = b.child.kill();
            let _ = b.child.wait();
        }
        let body = format!("{{\"request\":{i}}}");
        let (s, t) = if i % 2 == 0 {
            server.curl(&[], "/stream/api/v1/ping")
        } else {
            server.curl(
                &["-H", "Content-Type: application/json", "-d", &body],
                "/stream/api/v1/ping",
            )
        };
        assert_eq!(s, 200, "request {i}: {t}");
        if i % 2 == 1 {
            let json = t.split("\r\n\r\n").last().unwrap();
            let v: serde_json::Value = serde_json::from_str(json).unwrap();
            assert_eq!(v["method"], "POST", "{v}");
            assert_eq!(v["bodyLength"], body.len(), "{v}");
        }
    }
    // Routed requests are counted under their service, not as "unmatched".
    let (_, metrics) = server.curl(&[], "/application/metrics");
    assert!(
        metrics.contains(
            r#"zgate_http_requests_total{route="/stream/**",method="POST",status="200"} 10"#
        ),
        "{metrics}"
    );
    assert!(!metrics.contains(r#"route="unmatched""#), "{metrics}");
    drop(a);
}

#[test]
fn sighup_rereads_the_service_definitions_and_keeps_the_old_set_when_bad() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let echo = Backend::start(&[]);
    std::fs::create_dir_all(home.join("services")).unwrap();
    std::fs::write(
        home.join("services/s.yml"),
        format!("services:\n{}", service("oldsvc", &[echo.url()], "")),
    )
    .unwrap();
    let server = Server::start(&home, &[], &[]);
    // A service that is defined answers 503 when its one instance is dead;
    // one that is not, 404.
    let (s, t) = server.curl(&[], "/newsvc/api/v1/x");
    assert_eq!(s, 404, "{t}");

    // A bad set: refused, the old one keeps serving.
    std::fs::write(
        home.join("services/bad.yml"),
        "services:\n  - serviceId: broken\n    instanceBaseUrls: [ftp://x/]\n    routes: []\n",
    )
    .unwrap();
    let from = server.stderr.len();
    server.signal("HUP");
    let refused = server.wait_for_log(from, "service definitions refused");
    assert!(server.logs().contains("bad.yml:2:"), "{}", server.logs());
    let (s, t) = server.curl(&[], "/oldsvc/api/v1/x");
    assert_eq!(s, 200, "{t}");

    // Fixed: the new set.
    std::fs::write(home.join("services/bad.yml"), "services:\n  - serviceId: newsvc\n    instanceBaseUrls: [http://127.0.0.1:1/]\n    routes: [{gatewayUrl: api/v1}]\n").unwrap();
    server.signal("HUP");
    server.wait_for_log(refused + 1, "service definitions reloaded");
    let (s, t) = server.curl(&[], "/newsvc/api/v1/x");
    assert_eq!(s, 503, "{t}");
    assert!(t.contains("ZWEAO503E") && t.contains("newsvc"), "{t}");
    let (s, t) = server.curl(&[], "/oldsvc/api/v1/x");
    assert_eq!(s, 200, "{t}");
}
