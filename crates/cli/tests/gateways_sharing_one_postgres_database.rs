//! Three `zgate serve` processes on one PostgreSQL database, as a cluster
//! runs them: what one of them (or a `zgate esm` beside them) commits is
//! in force on the others within a second. A logout, a user's revocation
//! (JWT, PAT and certificate), a PERMIT, failed logons counted across the
//! three, a TOTP code used once among them; a notification connection
//! killed and a gateway killed with SIGKILL lose nothing; behind HAProxy,
//! clients keep logging in while one gateway is killed.
//!
//! The gateways are copies of one home (keystore, JWT signing keys,
//! configuration): what a cluster's nodes share besides the database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gateway_support;
#[path = "../../esm/tests/common/pg.rs"]
mod pg;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use gateway_support::{client_cert, token_from_response, zgate, Server};

/// Client certificates log on (the x509 scheme).
const X509: &str = "components.gateway.apiml.security.x509.enabled=true";

/// Personal access tokens are issued.
const PATS: &str = "components.gateway.apiml.security.personalAccessToken.enabled=true";

/// A change is in force on every gateway within this.
const PROPAGATION: Duration = Duration::from_secs(1);

struct Cluster {
    _dir: tempfile::TempDir,
    homes: Vec<PathBuf>,
    store: String,
    gateways: Vec<Server>,
}

fn copy_home(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
    // Each node keeps its own audit trail.
    let _ = std::fs::remove_dir_all(to.join("audit"));
}

impl Cluster {
    fn start(db: &pg::TestDb) -> Cluster {
        Cluster::start_on(&db.url, &[])
    }

    /// Three gateways on the database at `url`, with `extra` settings.
    fn start_on(url: &str, extra: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let store = format!("zgate.store={url}");
        let first = dir.path().join("a");
        let mut settings = vec!["--set", &store, "--set", X509, "--set", PATS];
        for setting in extra {
            settings.extend(["--set", setting]);
        }
        let a = Server::start(&first, &settings, &[]);
        let mut homes = vec![first.clone()];
        let mut gateways = vec![a];
        for name in ["b", "c"] {
            let home = dir.path().join(name);
            copy_home(&first, &home);
            gateways.push(Server::start(&home, &settings, &[]));
            homes.push(home);
        }
        Cluster {
            _dir: dir,
            homes,
            store,
            gateways,
        }
    }

    /// `zgate esm COMMAND` beside the gateways, on node `node`'s home, for
    /// each line of `commands`; what they printed.
    fn esm(&self, node: usize, commands: &str) -> String {
        let mut text = String::new();
        for command in commands.lines() {
            let out = zgate(&self.homes[node], &["--set", &self.store, "esm", command]);
            let printed = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.status.success(), "{command}: {printed}");
            text.push_str(&printed);
        }
        text
    }
}

/// Waits until `holds` (asked every 20 ms); how long it took. Fails the
/// test past [`PROPAGATION`].
fn within_a_second(what: &str, mut holds: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if holds() {
            return start.elapsed();
        }
        assert!(
            start.elapsed() <= PROPAGATION,
            "{what}: not in force after {:?}",
            start.elapsed()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn query(gateway: &Server, token: &str) -> u16 {
    gateway
        .curl(
            &["-H", &format!("Authorization: Bearer {token}")],
            "/gateway/api/v1/auth/query",
        )
        .0
}

/// `access-token/validate` for service `svc`: 204 when the PAT counts.
fn pat_status(gateway: &Server, pat: &str) -> u16 {
    gateway
        .curl(
            &[
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "-d",
                &format!(r#"{{"token":"{pat}","serviceId":"svc"}}"#),
            ],
            "/gateway/api/v1/auth/access-token/validate",
        )
        .0
}

fn check(gateway: &Server, token: &str, resource: &str) -> u16 {
    gateway
        .curl(
            &[
                "-X",
                "POST",
                "-H",
                &format!("Authorization: Bearer {token}"),
                "-H",
                "Content-Type: application/json",
                "-d",
                &format!(
                    r#"{{"resourceClass":"ZOWE","resourceName":"{resource}","accessLevel":"READ"}}"#
                ),
            ],
            "/gateway/auth/check",
        )
        .0
}

fn login_status(gateway: &Server, user: &str, password: &str) -> u16 {
    gateway
        .curl(
            &["-X", "POST", "-u", &format!("{user}:{password}")],
            "/gateway/api/v1/auth/login",
        )
        .0
}

#[test]
fn what_one_gateway_commits_is_in_force_on_the_others_within_a_second() {
    let db = pg::TestDb::new();
    let cluster = Cluster::start(&db);
    let [a, b, c] = &cluster.gateways[..] else {
        unreachable!()
    };
    cluster.esm(
        0,
        "ADDUSER ALICE PASSWORD(PASSW0RD) NOEXPIRED\n\
         ADDUSER BOB PASSWORD(PASSW0RD) NOEXPIRED\n\
         ADDUSER CAROL PASSWORD(PASSW0RD) NOEXPIRED\n\
         ADDUSER DAVE PASSWORD(PASSW0RD) NOEXPIRED\n\
         SETROPTS CLASSACT(ZOWE) GENERIC(ZOWE) PASSWORD(REVOKE(9))\n\
         RDEFINE ZOWE APIML.CLUSTER UACC(NONE)",
    );
    let mut delays = Vec::new();

    // A token from A, logged out on B, is refused by C.
    let token = a.login("ALICE", "PASSW0RD");
    assert_eq!(query(c, &token), 200);
    let (status, text) = b.curl(
        &[
            "-X",
            "POST",
            "-H",
            &format!("Cookie: apimlAuthenticationToken={token}"),
        ],
        "/gateway/api/v1/auth/logout",
    );
    assert_eq!(status, 204, "{text}");
    delays.push(within_a_second("logout on B, on C", || {
        query(c, &token) == 401
    }));

    // A PERMIT through `zgate esm` changes a check on C.
    let alice = a.login("ALICE", "PASSW0RD");
    assert_ne!(check(c, &alice, "APIML.CLUSTER"), 204);
    cluster.esm(1, "PERMIT APIML.CLUSTER CLASS(ZOWE) ID(ALICE) ACCESS(READ)");
    delays.push(within_a_second("PERMIT, on C", || {
        check(c, &alice, "APIML.CLUSTER") == 204
    }));

    // ALTUSER REVOKE refuses the user's JWT, PAT and certificate on all
    // three.
    let certs = cluster.homes[0].join("bob-cert");
    let cert = client_cert(&cluster.homes[0], "BOB", &certs);
    cluster.esm(0, &cert.map);
    let (cert_path, key_path) = (
        cert.cert.to_str().unwrap().to_owned(),
        cert.key.to_str().unwrap().to_owned(),
    );
    let cert_login = |g: &Server| {
        g.curl(
            &["-X", "POST", "--cert", &cert_path, "--key", &key_path],
            "/gateway/api/v1/auth/login",
        )
        .0
    };
    within_a_second("BOB's certificate mapped", || {
        cluster.gateways.iter().all(|g| cert_login(g) == 204)
    });
    let bob = b.login("BOB", "PASSW0RD");
    let (status, text) = c.curl(
        &[
            "-X",
            "POST",
            "-u",
            "BOB:PASSW0RD",
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"validity":30,"scopes":["svc"]}"#,
        ],
        "/gateway/api/v1/auth/access-token/generate",
    );
    assert_eq!(status, 200, "{text}");
    let pat = text.rsplit("\r\n\r\n").next().unwrap().trim().to_string();
    for g in &cluster.gateways {
        assert_eq!(query(g, &bob), 200);
        assert_eq!(pat_status(g, &pat), 204);
    }
    cluster.esm(2, "ALTUSER BOB REVOKE");
    delays.push(within_a_second("REVOKE, everywhere", || {
        cluster
            .gateways
            .iter()
            .all(|g| query(g, &bob) == 401 && pat_status(g, &pat) == 401 && cert_login(g) == 401)
    }));

    // Ten bad passwords spread over the three: REVOKE(9) revokes at the
    // tenth, not before.
    for i in 0..9 {
        let g = &cluster.gateways[i % 3];
        assert_eq!(login_status(g, "CAROL", "WRONGPW1"), 401);
    }
    let listed = cluster.esm(0, "LISTUSER CAROL");
    assert!(!listed.contains("REVOKED"), "{listed}");
    assert_eq!(login_status(a, "CAROL", "WRONGPW1"), 401);
    let listed = cluster.esm(0, "LISTUSER CAROL");
    assert!(listed.contains("REVOKED"), "{listed}");
    for g in &cluster.gateways {
        assert_eq!(login_status(g, "CAROL", "PASSW0RD"), 401);
    }

    // A TOTP code used on A is refused on B.
    let out = cluster.esm(0, "ALTUSER DAVE MFA(FACTOR(TOTP) ACTIVE)");
    let uri = out
        .lines()
        .find(|l| l.starts_with("otpauth://totp/"))
        .unwrap_or_else(|| panic!("{out}"))
        .to_owned();
    let secret = uri
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("secret="))
        .unwrap();
    let code = Command::new("oathtool")
        .args(["--totp", "--base32", secret])
        .output()
        .expect("oathtool is installed");
    let code = String::from_utf8(code.stdout).unwrap().trim().to_owned();
    within_a_second("DAVE's factor, on A", || {
        login_status(a, "DAVE", "PASSW0RD") == 401
    });
    assert_eq!(login_status(a, "DAVE", &format!("PASSW0RD:{code}")), 204);
    for g in [b, c] {
        assert_eq!(login_status(g, "DAVE", &format!("PASSW0RD:{code}")), 401);
    }

    // The notification connections killed: a change made meanwhile still
    // arrives.
    let mut admin = db.client();
    admin
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = 'zgate-esm-listen' AND datname = current_database()",
        )
        .unwrap();
    cluster.esm(0, "PERMIT APIML.CLUSTER CLASS(ZOWE) ID(ALICE) DELETE");
    delays.push(within_a_second(
        "PERMIT DELETE after the kill, on B and C",
        || check(b, &alice, "APIML.CLUSTER") != 204 && check(c, &alice, "APIML.CLUSTER") != 204,
    ));
    eprintln!("propagation delays: {delays:?}");

    // Each gateway applied the others' commits from the journal, never by
    // loading everything, and says so.
    for g in &cluster.gateways {
        let (status, metrics) = g.curl(&[], "/application/metrics");
        assert_eq!(status, 200);
        let value = |name: &str| -> f64 {
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name} ")))
                .unwrap_or_else(|| panic!("{name} in {metrics}"))
                .parse()
                .unwrap()
        };
        assert!(value("zgate_esm_journal_entries_replayed_total") > 0.0);
        assert_eq!(value("zgate_esm_full_reloads_total"), 0.0);
        assert!(value("zgate_esm_state_age_seconds") < 1.0);
        let (status, health) = g.curl(&[], "/application/health");
        assert_eq!(status, 200, "{health}");
        assert!(health.contains("\"fullReloads\":0"), "{health}");
    }
}

#[test]
fn a_gateway_killed_after_a_logout_loses_nothing_and_haproxy_takes_it_out() {
    let db = pg::TestDb::new();
    let mut cluster = Cluster::start(&db);
    cluster.esm(0, "ADDUSER ALICE PASSWORD(PASSW0RD) NOEXPIRED");
    let token = cluster.gateways[1].login("ALICE", "PASSW0RD");

    // HAProxy passes TLS through to the three (each presents the cluster's
    // certificate) and health-checks /application/health over TLS.
    let lb_port = free_port();
    let cfg = cluster.homes[0].with_extension("haproxy.cfg");
    let mut config = format!(
        "global\n  maxconn 256\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n  retries 3\n  option redispatch\n\
         frontend zgate\n  bind 127.0.0.1:{lb_port}\n  default_backend gateways\n\
         backend gateways\n  balance roundrobin\n  option httpchk GET /application/health\n  http-check expect status 200\n"
    );
    for (i, g) in cluster.gateways.iter().enumerate() {
        config.push_str(&format!(
            "  server g{i} 127.0.0.1:{} check check-ssl verify none inter 200ms fall 1 rise 1\n",
            g.port
        ));
    }
    std::fs::write(&cfg, config).unwrap();
    let mut haproxy = Command::new("haproxy")
        .args(["-db", "-f"])
        .arg(&cfg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("haproxy is installed (scripts/test.sh installs it)");
    let through_lb = gateway_support::Curl::new(lb_port, &cluster.homes[0]);
    let ca = through_lb.ca_file();
    // Not through `Curl`, which takes a refused connection for a failure.
    let lb_login = || {
        let out = Command::new("curl")
            .arg("--cacert")
            .arg(&ca)
            .args([
                "-s",
                "-i",
                "--max-time",
                "10",
                "-X",
                "POST",
                "-u",
                "ALICE:PASSW0RD",
            ])
            .arg(through_lb.url("/gateway/api/v1/auth/login"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0u16);
        (status, text)
    };
    within_a_second_or_more("HAProxy up", Duration::from_secs(30), || {
        lb_login().0 == 204
    });

    // Logged out on A (acknowledged), then A is killed: the logout holds.
    let (status, _) = cluster.gateways[0].curl(
        &[
            "-X",
            "POST",
            "-H",
            &format!("Cookie: apimlAuthenticationToken={token}"),
        ],
        "/gateway/api/v1/auth/logout",
    );
    assert_eq!(status, 204);
    cluster.gateways[0].signal("KILL");
    let _ = cluster.gateways[0].child.wait();
    within_a_second("the logout, on C after A's death", || {
        query(&cluster.gateways[2], &token) == 401
    });

    // Through the load balancer, every login still works.
    for _ in 0..30 {
        let (status, text) = lb_login();
        assert_eq!(status, 204, "{text}");
        let token = token_from_response(&text);
        assert_eq!(
            through_lb
                .curl(
                    &["-H", &format!("Authorization: Bearer {token}")],
                    "/gateway/api/v1/auth/query",
                )
                .0,
            200
        );
    }
    let _ = haproxy.kill();
    let _ = haproxy.wait();
    cluster.gateways.clear();
}

#[test]
fn while_the_database_is_down_gateways_refuse_what_they_cannot_know_and_recover() {
    let server = pg::PrivateServer::create();
    let url = server.database("zgate_outage");
    let cluster = Cluster::start_on(&url, &["zgate.storeOutageGraceSeconds=1"]);
    cluster.esm(
        0,
        "ADDUSER ALICE PASSWORD(PASSW0RD) NOEXPIRED\nADDUSER BOB PASSWORD(PASSW0RD) NOEXPIRED",
    );
    let gateways = &cluster.gateways;
    let alice = gateways[0].login("ALICE", "PASSW0RD");
    // Refused everywhere before the outage, and must stay refused through
    // it: a logged-out token and a revoked user's token and password.
    let logged_out = gateways[0].login("ALICE", "PASSW0RD");
    let (status, _) = gateways[1].curl(
        &[
            "-X",
            "POST",
            "-H",
            &format!("Cookie: apimlAuthenticationToken={logged_out}"),
        ],
        "/gateway/api/v1/auth/logout",
    );
    assert_eq!(status, 204);
    let bob = gateways[2].login("BOB", "PASSW0RD");
    cluster.esm(1, "ALTUSER BOB REVOKE");
    within_a_second("refusals before the outage", || {
        gateways
            .iter()
            .all(|g| query(g, &logged_out) == 401 && query(g, &bob) == 401)
    });

    let health = |g: &Server| g.curl(&[], "/application/health").0;
    let stop = std::sync::atomic::AtomicBool::new(false);
    let wrongly_accepted = std::thread::scope(|s| {
        // Load through the outage: what was refused before is never
        // accepted, whatever the database does.
        let targets: Vec<(u16, PathBuf)> =
            gateways.iter().map(|g| (g.port, g.home.clone())).collect();
        let (stop, logged_out, bob) = (&stop, &logged_out, &bob);
        let load = s.spawn(move || {
            // Clients of its own: `Curl` stays on one thread.
            let clients: Vec<gateway_support::Curl> = targets
                .iter()
                .map(|(port, home)| gateway_support::Curl::new(*port, home))
                .collect();
            let bearer = |c: &gateway_support::Curl, token: &str| {
                c.curl(
                    &["-H", &format!("Authorization: Bearer {token}")],
                    "/gateway/api/v1/auth/query",
                )
                .0
            };
            let mut accepted = Vec::new();
            let mut rounds = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for (i, c) in clients.iter().enumerate() {
                    let bob_login = c
                        .curl(
                            &["-X", "POST", "-u", "BOB:PASSW0RD"],
                            "/gateway/api/v1/auth/login",
                        )
                        .0;
                    let answers = [
                        ("logged-out token", bearer(c, logged_out), 200),
                        ("revoked user's token", bearer(c, bob), 200),
                        ("revoked user's password", bob_login, 204),
                    ];
                    for (what, status, accepted_status) in answers {
                        if status == accepted_status {
                            accepted.push(format!("{what} on gateway {i}"));
                        }
                    }
                }
                rounds += 1;
            }
            (accepted, rounds)
        });

        // A failure below ends the load too (the scope waits for it).
        let _stop_load = StopOnDrop(stop);
        server.stop();
        // Past the grace: every gateway says DOWN and refuses what it
        // cannot verify, with the documented 503.
        within_a_second_or_more("DOWN everywhere", Duration::from_secs(10), || {
            gateways
                .iter()
                .all(|g| health(g) == 503 && query(g, &alice) == 503)
        });
        for g in gateways {
            let (status, text) = g.curl(
                &["-H", &format!("Authorization: Bearer {alice}")],
                "/gateway/api/v1/auth/query",
            );
            assert_eq!(status, 503, "{text}");
            assert!(text.contains("ZWEAG104E"), "{text}");
            assert_eq!(login_status(g, "ALICE", "PASSW0RD"), 503);
        }

        // The database back: the same processes serve again.
        server.start();
        within_a_second_or_more("UP everywhere", Duration::from_secs(20), || {
            gateways.iter().all(|g| health(g) == 200)
        });
        for g in gateways {
            assert_eq!(query(g, &alice), 200);
            assert_eq!(login_status(g, "ALICE", "PASSW0RD"), 204);
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        load.join().unwrap()
    });
    let (accepted, rounds) = wrongly_accepted;
    assert!(rounds > 3, "the load ran {rounds} rounds");
    assert!(accepted.is_empty(), "accepted: {accepted:?}");
    // And a change after the recovery still reaches every gateway.
    cluster.esm(2, "ALTUSER ALICE REVOKE");
    within_a_second("REVOKE after the recovery", || {
        gateways.iter().all(|g| query(g, &alice) == 401)
    });
}

/// Sets its flag when dropped, panicking or not.
struct StopOnDrop<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn within_a_second_or_more(what: &str, limit: Duration, mut holds: impl FnMut() -> bool) {
    let start = Instant::now();
    while !holds() {
        assert!(start.elapsed() <= limit, "{what}: not after {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
