//! `zgate serve` with its certificate in an ESM key ring
//! (`safkeyring://ZWESVUSR/ZoweKeyring`), set up with the RACF commands of
//! Zowe's ZWEKRING option 1 run through `zgate esm -f`: curl and the Zowe
//! CLI log in over it, a ring change is served without a restart, and a
//! server user without access to the ring cannot serve with it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gateway_support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use gateway_support::*;

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn esm(home: &Path, command: &str) -> String {
    let out = zgate(home, &["esm", command]);
    assert!(out.status.success(), "{command}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn in_a_year() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    zgate_base::iso_date(now / 86_400 + 365)
}

/// ZWEKRING option 1 (Zowe's SZWESAMP sample, RACF branch), with FACILITY
/// active and the profiles its PERMITs need defined first, as a z/OS system
/// has them.
fn option_1(not_after: &str) -> String {
    format!(
        "RACDCERT ADDRING(ZoweKeyring) ID(ZWESVUSR)
SETROPTS RACLIST(DIGTRING) REFRESH
RACDCERT GENCERT CERTAUTH SUBJECTSDN(CN('Zowe Development Instances CA') +
  OU('API Mediation Layer') O('Zowe Sample') L('Prague') SP('Prague') C('CZ')) +
  SIZE(2048) NOTAFTER(DATE({not_after})) WITHLABEL('localca') KEYUSAGE(CERTSIGN)
RACDCERT CONNECT(CERTAUTH LABEL('localca') RING(ZoweKeyring)) ID(ZWESVUSR)
RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('Zowe Service') OU('API Mediation Layer') +
  O('Zowe Sample') L('Prague') SP('Prague') C('CZ')) SIZE(2048) NOTAFTER(DATE({not_after})) +
  WITHLABEL('localhost') KEYUSAGE(HANDSHAKE) ALTNAME(IP(127.0.0.1) DOMAIN('localhost')) +
  SIGNWITH(CERTAUTH LABEL('localca'))
RACDCERT CONNECT(ID(ZWESVUSR) LABEL('localhost') RING(ZoweKeyring) USAGE(PERSONAL) DEFAULT) +
  ID(ZWESVUSR)
SETROPTS RACLIST(DIGTCERT,DIGTRING) REFRESH
SETROPTS CLASSACT(RDATALIB) RACLIST(RDATALIB)
RDEFINE RDATALIB ZWESVUSR.ZoweKeyring.LST UACC(NONE)
PERMIT ZWESVUSR.ZoweKeyring.LST CLASS(RDATALIB) ID(ZWESVUSR) ACCESS(CONTROL)
SETROPTS RACLIST(RDATALIB) REFRESH
SETROPTS CLASSACT(FACILITY) RACLIST(FACILITY)
RDEFINE FACILITY IRR.DIGTCERT.LISTRING UACC(NONE)
RDEFINE FACILITY IRR.DIGTCERT.LIST UACC(NONE)
PERMIT IRR.DIGTCERT.LISTRING CLASS(FACILITY) ID(ZWESVUSR) ACCESS(READ)
PERMIT IRR.DIGTCERT.LIST CLASS(FACILITY) ID(ZWESVUSR) ACCESS(READ)
SETROPTS RACLIST(FACILITY) REFRESH
RACDCERT LISTRING(ZoweKeyring) ID(ZWESVUSR)
"
    )
}

/// The zowe.certificate of `zwe init certificate --update-config` for the
/// ring, as `--set` overrides.
const RING_CONFIG: &[&str] = &[
    "--set",
    "zowe.certificate.keystore.type=JCERACFKS",
    "--set",
    "zowe.certificate.keystore.file=safkeyring://ZWESVUSR/ZoweKeyring",
    "--set",
    "zowe.certificate.keystore.password=password",
    "--set",
    "zowe.certificate.keystore.alias=localhost",
    "--set",
    "zowe.certificate.truststore.type=JCERACFKS",
    "--set",
    "zowe.certificate.truststore.file=safkeyring:////ZWESVUSR/ZoweKeyring",
    "--set",
    "zowe.certificate.truststore.password=password",
    "--set",
    "zowe.certificate.pem.certificateAuthorities=safkeyring://ZWESVUSR/ZoweKeyring&localca",
    "--set",
    "zgate.tls.reloadCheckSeconds=1",
];

/// The serial of the certificate a new TLS client is served.
fn served_serial(port: u16) -> String {
    let mut s_client = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            "localhost",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let x509 = Command::new("openssl")
        .args(["x509", "-noout", "-serial"])
        .stdin(s_client.stdout.take().unwrap())
        .output()
        .unwrap();
    let _ = s_client.wait();
    String::from_utf8_lossy(&x509.stdout).trim().to_owned()
}

fn login_with_curl(port: u16, ca: &Path, password: &str) -> (String, String) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "--cacert",
            ca.to_str().unwrap(),
            "-o",
            "/dev/null",
            "-D",
            "-",
            "-w",
            "%{http_code}",
            "-u",
            &format!("ADMIN:{password}"),
            "-X",
            "POST",
            &format!("https://localhost:{port}/gateway/api/v1/auth/login"),
        ])
        .output()
        .unwrap();
    let all = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = all.chars().rev().take(3).collect::<String>();
    (
        status.chars().rev().collect(),
        all + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn option_1_ring_serves_curl_and_zowe_cli_and_changes_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    // A first start makes the administrator and the server's user.
    let first = Server::start(&home, &[], &[]);
    let password = first.admin_password();
    assert!(first.stop().success());

    let batch = dir.path().join("option1.racf");
    std::fs::write(&batch, option_1(&in_a_year())).unwrap();
    let out = zgate(&home, &["esm", "-f", batch.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    // LISTRING in RACF's layout (Zowe's scripts parse it).
    let listing = esm(&home, "RACDCERT LISTRING(ZoweKeyring) ID(ZWESVUSR)");
    assert!(
        listing.contains(
            "Digital ring information for user ZWESVUSR:\n\n  Ring:\n       >ZoweKeyring<\n  \
             Certificate Label Name             Cert Owner     USAGE      DEFAULT\n  \
             --------------------------------   ------------   --------   -------\n  \
             localca                            CERTAUTH       CERTAUTH     NO\n  \
             localhost                          ID(ZWESVUSR)   PERSONAL     YES\n"
        ),
        "{listing}"
    );
    // The CA for clients, and the server's key for other tools.
    let ca = dir.path().join("localca.pem");
    let p12 = dir.path().join("localhost.p12");
    esm(
        &home,
        &format!(
            "RACDCERT EXPORT(LABEL('localca')) CERTAUTH DSN('{}') FORMAT(CERTB64)",
            ca.display()
        ),
    );
    esm(
        &home,
        &format!(
            "RACDCERT EXPORT(LABEL('localhost')) ID(ZWESVUSR) DSN('{}') FORMAT(PKCS12DER) PASSWORD('Exp0rt!pw')",
            p12.display()
        ),
    );
    let keytool = Command::new("keytool")
        .args([
            "-list",
            "-storetype",
            "PKCS12",
            "-storepass",
            "Exp0rt!pw",
            "-keystore",
        ])
        .arg(&p12)
        .output()
        .unwrap();
    assert!(keytool.status.success(), "{}", text(&keytool));
    assert!(
        text(&keytool).contains("PrivateKeyEntry"),
        "{}",
        text(&keytool)
    );
    let openssl = Command::new("openssl")
        .args(["pkcs12", "-nokeys", "-passin", "pass:Exp0rt!pw", "-in"])
        .arg(&p12)
        .output()
        .unwrap();
    assert!(openssl.status.success(), "{}", text(&openssl));
    assert!(
        text(&openssl).contains("CN=Zowe Service") || text(&openssl).contains("CN = Zowe Service")
    );

    let server = Server::start(&home, RING_CONFIG, &[]);
    let (status, headers) = login_with_curl(server.port, &ca, &password);
    assert_eq!(status, "204", "{headers}");
    assert!(headers.contains("apimlAuthenticationToken="), "{headers}");
    let first_serial = served_serial(server.port);
    assert!(first_serial.starts_with("serial="), "{first_serial}");

    // The Zowe CLI verifies the server with the ring's CA.
    if let Ok(cli) = std::env::var("ZGATE_TEST_ZOWE_CLI") {
        let cli_home = dir.path().join("zowe-cli-home");
        std::fs::create_dir_all(cli_home.join("settings")).unwrap();
        std::fs::write(
            cli_home.join("settings/imperative.json"),
            r#"{"overrides":{"CredentialManager":false}}"#,
        )
        .unwrap();
        let port = server.port.to_string();
        let out = Command::new(cli)
            .args([
                "auth",
                "login",
                "apiml",
                "--host",
                "localhost",
                "--port",
                &port,
                "--user",
                "ADMIN",
                "--password",
                &password,
                "--reject-unauthorized",
                "true",
                "--show-token",
            ])
            .env("ZOWE_CLI_HOME", &cli_home)
            .env("NODE_EXTRA_CA_CERTS", &ca)
            .env("FORCE_COLOR", "0")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
    } else {
        panic!("ZGATE_TEST_ZOWE_CLI must name the Zowe CLI executable; run ./scripts/test.sh");
    }

    // A new server certificate in the ring: new clients get it, no restart.
    esm(&home, "RACDCERT DELETE(LABEL('localhost')) ID(ZWESVUSR)");
    esm(
        &home,
        &format!(
            "RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('Zowe Service Renewed')) SIZE(2048) \
             NOTAFTER(DATE({})) WITHLABEL('localhost') KEYUSAGE(HANDSHAKE) \
             ALTNAME(IP(127.0.0.1) DOMAIN('localhost')) SIGNWITH(CERTAUTH LABEL('localca'))",
            in_a_year()
        ),
    );
    esm(
        &home,
        "RACDCERT CONNECT(ID(ZWESVUSR) LABEL('localhost') RING(ZoweKeyring) USAGE(PERSONAL) DEFAULT) ID(ZWESVUSR)",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut serial = served_serial(server.port);
    while serial == first_serial && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        serial = served_serial(server.port);
    }
    assert_ne!(serial, first_serial, "the renewed certificate is served");
    let (status, headers) = login_with_curl(server.port, &ca, &password);
    assert_eq!(status, "204", "{headers}");
    assert!(server.stop().success());

    // Without access to the ring's .LST profile, the server user cannot
    // serve with it: the start is refused and says what to PERMIT.
    esm(
        &home,
        "PERMIT ZWESVUSR.ZoweKeyring.LST CLASS(RDATALIB) ID(ZWESVUSR) DELETE",
    );
    esm(&home, "SETROPTS RACLIST(RDATALIB) REFRESH");
    let mut args = vec!["--home", home.to_str().unwrap()];
    args.extend_from_slice(RING_CONFIG);
    args.extend_from_slice(&["serve", "--port", "0"]);
    let out = Command::new(env!("CARGO_BIN_EXE_zgate"))
        .args(&args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    assert!(
        text(&out).contains("ZWESVUSR.ZOWEKEYRING.LST"),
        "{}",
        text(&out)
    );
}

fn doctor(home: &Path, config: &[&str]) -> serde_json::Value {
    let mut args: Vec<&str> = config.to_vec();
    args.extend_from_slice(&["cert", "doctor", "--json"]);
    let out = zgate(home, &args);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)))
}

fn check<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {report}"))
}

#[test]
fn the_doctor_names_a_missing_ca_connection_and_a_missing_permission() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let first = Server::start(&home, &[], &[]);
    assert!(first.stop().success());
    // Option 1 without connecting the local CA to the ring.
    let batch: String = option_1(&in_a_year())
        .replace(
            "RACDCERT CONNECT(CERTAUTH LABEL('localca') RING(ZoweKeyring)) ID(ZWESVUSR)\n",
            "",
        )
        .replace("RACDCERT LISTRING(ZoweKeyring) ID(ZWESVUSR)\n", "");
    let file = dir.path().join("batch.racf");
    std::fs::write(&file, batch).unwrap();
    let out = zgate(&home, &["esm", "-f", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    // The ring alone, without the CA entry of pem.certificateAuthorities.
    let config: Vec<&str> = RING_CONFIG[..RING_CONFIG.len() - 4].to_vec();

    let report = doctor(&home, &config);
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(check(&report, "ring.open")["status"], "ok", "{report}");
    let ca = check(&report, "ring.ca");
    assert_eq!(ca["status"], "fail", "{report}");
    assert!(
        ca["message"]
            .as_str()
            .unwrap()
            .contains("Zowe Development Instances CA"),
        "{ca}"
    );
    assert_eq!(
        ca["fix"],
        "connect it: RACDCERT CONNECT(CERTAUTH LABEL('localca') RING(ZoweKeyring) USAGE(CERTAUTH)) ID(ZWESVUSR)"
    );

    esm(
        &home,
        "RACDCERT CONNECT(CERTAUTH LABEL('localca') RING(ZoweKeyring)) ID(ZWESVUSR)",
    );
    let report = doctor(&home, &config);
    assert_eq!(check(&report, "ring.ca")["status"], "ok", "{report}");
    assert_eq!(
        check(&report, "truststore.open")["status"],
        "ok",
        "{report}"
    );

    esm(
        &home,
        "PERMIT ZWESVUSR.ZoweKeyring.LST CLASS(RDATALIB) ID(ZWESVUSR) DELETE",
    );
    esm(&home, "SETROPTS RACLIST(RDATALIB) REFRESH");
    let report = doctor(&home, &config);
    let open = check(&report, "ring.open");
    assert_eq!(open["status"], "fail", "{report}");
    assert!(
        open["fix"]
            .as_str()
            .unwrap()
            .contains("PERMIT ZWESVUSR.ZOWEKEYRING.LST CLASS(RDATALIB) ID(ZWESVUSR) ACCESS(READ)"),
        "{open}"
    );
}

#[test]
fn a_rotated_key_encryption_key_still_opens_the_rings_keys() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let first = Server::start(&home, &[], &[]);
    assert!(first.stop().success());
    let file = dir.path().join("batch.racf");
    std::fs::write(&file, option_1(&in_a_year())).unwrap();
    let out = zgate(&home, &["esm", "-f", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let kek = home.join("state/esm-key-encryption.key");
    let before = std::fs::read(&kek).unwrap();

    let out = zgate(&home, &["esm", "rotate-key-encryption-key"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("2 private key(s) re-sealed"),
        "{}",
        text(&out)
    );
    let after = std::fs::read(&kek).unwrap();
    assert_ne!(after, before);
    assert_eq!(String::from_utf8_lossy(&after).lines().count(), 1);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&kek).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let config: Vec<&str> = RING_CONFIG[..RING_CONFIG.len() - 4].to_vec();
    let report = doctor(&home, &config);
    assert_eq!(check(&report, "ring.open")["status"], "ok", "{report}");
    // Only the operator rotates.
    let out = zgate(
        &home,
        &["esm", "--as", "ADMIN", "rotate-key-encryption-key"],
    );
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
}
