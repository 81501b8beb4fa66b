use std::path::{Path, PathBuf};

use super::*;

fn home() -> PathBuf {
    PathBuf::from("/h")
}

fn strict(text: &str, overrides: &[&str]) -> Result<(Effective, Vec<Warning>), ConfigError> {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    merge(
        &home(),
        Some((Path::new("/h/zgate.yaml"), text)),
        false,
        &overrides,
    )
}

fn config(text: &str, overrides: &[&str]) -> Config {
    let (effective, _) = strict(text, overrides).unwrap();
    Config::from_effective(&effective).unwrap()
}

fn problems(err: ConfigError) -> Vec<Problem> {
    match err {
        ConfigError::Invalid(problems) => problems,
        other => panic!("expected Invalid, got {other}"),
    }
}

#[test]
fn without_a_file_every_value_is_the_default() {
    let (effective, warnings) = merge(&home(), None, false, &[]).unwrap();
    assert!(warnings.is_empty());
    let config = Config::from_effective(&effective).unwrap();
    assert_eq!(config.gateway.port, 7554);
    assert_eq!(config.gateway.security.token_expiration_seconds, 28800);
    assert!(!config.gateway.security.allow_token_refresh);
    assert!(!config.gateway.security.x509_enabled);
    assert_eq!(
        config.certificate.keystore.file,
        PathBuf::from("/h/keystore/localhost/localhost.keystore.p12")
    );
    assert_eq!(
        config.certificate.pem_certificate_authorities,
        vec![PathBuf::from("/h/keystore/local_ca/local_ca.cer")]
    );
    assert_eq!(config.certificate.keystore.password.expose(), "password");
    assert_eq!(config.gateway.tls.min, TlsVersion::V1_2);
    assert_eq!(config.gateway.tls.max, TlsVersion::V1_3);
    assert_eq!(config.gateway.tls.ciphers.len(), 9);
    assert_eq!(config.verify_certificates, VerifyCertificates::Strict);
    assert_eq!(
        effective.get("components.gateway.port").unwrap().source,
        Source::Default
    );
}

#[test]
fn the_default_file_is_valid_and_round_trips() {
    let config = config(&default_file_contents(), &[]);
    assert_eq!(config.gateway.port, 7554);
    assert_eq!(
        config.certificate.keystore.file,
        PathBuf::from("/h/keystore/localhost/localhost.keystore.p12")
    );
}

#[test]
fn file_values_carry_their_line() {
    let (effective, _) = strict("components:\n  gateway:\n    port: 8443\n", &[]).unwrap();
    let entry = effective.get("components.gateway.port").unwrap();
    assert_eq!(
        entry.source,
        Source::File {
            path: PathBuf::from("/h/zgate.yaml"),
            line: 3
        }
    );
    assert_eq!(entry.source.to_string(), "/h/zgate.yaml:3");
}

#[test]
fn set_overrides_file_and_default() {
    let config = config(
        "components:\n  gateway:\n    port: 8443\n",
        &[
            "components.gateway.port=9443",
            "components.gateway.apiml.security.allowTokenRefresh=true",
        ],
    );
    assert_eq!(config.gateway.port, 9443);
    assert!(config.gateway.security.allow_token_refresh);
}

#[test]
fn misspelt_key_is_reported_with_file_line_and_suggestion() {
    let err = strict("components:\n  gateway:\n    prot: 8443\n", &[]).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("/h/zgate.yaml:3"), "{text}");
    assert!(text.contains("components.gateway.prot"), "{text}");
    assert!(
        text.contains("did you mean `components.gateway.port`"),
        "{text}"
    );
}

#[test]
fn unknown_set_key_is_an_error() {
    let problems = problems(strict("", &["zowe.nonsense=1"]).unwrap_err());
    assert_eq!(problems[0].source, Source::Set);
    let problems = problems_of(strict("", &["no-equals-sign"]));
    assert!(problems[0].message.contains("key.path=value"));
}

fn problems_of(result: Result<(Effective, Vec<Warning>), ConfigError>) -> Vec<Problem> {
    problems(result.unwrap_err())
}

#[test]
fn bad_values_are_reported_with_their_origin() {
    for (text, needle) in [
        ("components:\n  gateway:\n    port: 99999\n", "not a port number"),
        ("components:\n  gateway:\n    port: abc\n", "not a port number"),
        ("zowe:\n  verifyCertificates: MAYBE\n", "not one of STRICT, NONSTRICT, DISABLED"),
        ("zowe:\n  network:\n    server:\n      tls:\n        minTls: TLSv1.3\n        maxTls: TLSv1.2\n", "minTls is higher"),
        ("components:\n  gateway:\n    apiml:\n      security:\n        allowTokenRefresh: sometimes\n", "not true or false"),
        ("components:\n  gateway:\n    apiml:\n      security:\n        auth:\n          tokenProperties:\n            expirationInSeconds: -5\n", "non-negative whole number"),
        ("zgate:\n  server:\n    address: here\n", "not an IP address"),
    ] {
        let (effective, _) = strict(text, &[]).unwrap();
        let err = Config::from_effective(&effective).unwrap_err();
        let message = err.to_string();
        assert!(message.contains(needle), "{text}: {message}");
        assert!(message.contains("/h/zgate.yaml:"), "{message}");
    }
    let (effective, _) = strict("", &["components.gateway.port=0"]).unwrap();
    let message = Config::from_effective(&effective).unwrap_err().to_string();
    assert!(
        message.contains("--set: components.gateway.port"),
        "{message}"
    );
}

#[test]
fn syntax_errors_have_file_and_line() {
    let err = strict("zowe:\n  certificate: [\n", &[]).unwrap_err();
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err}");
    assert!(err.to_string().starts_with("/h/zgate.yaml:"), "{err}");
}

#[test]
fn lists_are_read_from_yaml_sequences_or_comma_separated_text() {
    let config = config(
        "zowe:\n  externalDomains:\n    - a.example\n    - b.example\n",
        &["zowe.network.server.tls.ciphers=TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384"],
    );
    assert_eq!(config.external_domains, vec!["a.example", "b.example"]);
    assert_eq!(
        config.gateway.tls.ciphers,
        vec!["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"]
    );
}

#[test]
fn real_zowe_yaml_is_read_leniently() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/zowe/config/example-zowe.yaml"
    ));
    let loaded = load(&LoadOptions {
        home: home(),
        zowe_yaml: Some(path.clone()),
        overrides: vec![],
    })
    .unwrap();
    assert_eq!(loaded.config.gateway.port, 7554);
    assert_eq!(
        loaded.config.certificate.keystore.file,
        PathBuf::from("/global/zowe/keystore/localhost/localhost.keystore.p12")
    );
    assert_eq!(loaded.config.external_domains, vec!["sample-domain.com"]);
    // zosmf auth provider: read, not supported, warned about with its line.
    let provider = loaded
        .warnings
        .iter()
        .find(|w| w.key == "components.gateway.apiml.security.auth.provider")
        .expect("a warning about auth.provider");
    assert!(matches!(provider.source, Source::File { line, .. } if line > 1));
    // Keys of other components (zss, app-server, ...) are ignored silently.
    assert!(loaded
        .warnings
        .iter()
        .all(|w| !w.key.starts_with("components.zss")));
}

#[test]
fn secrets_are_masked_for_display_and_debug() {
    let (effective, _) = strict(
        "zowe:\n  certificate:\n    keystore:\n      password: hunter2\n",
        &[],
    )
    .unwrap();
    let entry = effective.get("zowe.certificate.keystore.password").unwrap();
    assert_eq!(entry.display_value(), "********");
    let config = Config::from_effective(&effective).unwrap();
    assert!(!format!("{config:?}").contains("hunter2"));
    assert_eq!(config.certificate.keystore.password.expose(), "hunter2");
}

#[test]
fn load_reads_zgate_yaml_from_home() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(CONFIG_FILE),
        "components:\n  gateway:\n    port: 8123\n",
    )
    .unwrap();
    let loaded = load(&LoadOptions {
        home: dir.path().to_path_buf(),
        zowe_yaml: None,
        overrides: vec![],
    })
    .unwrap();
    assert_eq!(loaded.config.gateway.port, 8123);
    assert_eq!(loaded.file, Some(dir.path().join(CONFIG_FILE)));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any text as zgate.yaml gives a config or an error, never a panic.
        #[test]
        fn arbitrary_yaml_never_panics(text in "(?s).{0,300}") {
            if let Ok((effective, _)) = strict(&text, &[]) {
                let _ = Config::from_effective(&effective);
            }
        }

        /// Any --set value gives a config or an error naming --set.
        #[test]
        fn arbitrary_overrides_never_panic(key in "[a-zA-Z.]{0,40}", value in ".{0,40}") {
            let item = format!("{key}={value}");
            match strict("", &[item.as_str()]) {
                Ok((effective, _)) => { let _ = Config::from_effective(&effective); }
                Err(err) => prop_assert!(err.to_string().contains("--set")),
            }
        }
    }
}

#[test]
fn tls_ciphers_are_configured_only_when_a_file_or_set_names_them() {
    let defaults = config("", &[]);
    assert!(!defaults.gateway.tls.ciphers_configured);
    assert!(!defaults.client_tls.ciphers_configured);
    assert_eq!(
        defaults.client_tls.ciphers.join(","),
        schema::DEFAULT_CIPHERS
    );
    let file = config(
        "zowe:\n  network:\n    client:\n      tls:\n        ciphers: [TLS_AES_128_GCM_SHA256]\n",
        &[],
    );
    assert!(file.client_tls.ciphers_configured);
    assert!(!file.gateway.tls.ciphers_configured);
    let set = config(
        "",
        &["zowe.network.server.tls.ciphers=TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"],
    );
    assert!(set.gateway.tls.ciphers_configured);
}

#[test]
fn client_tls_settings_and_curves_are_read() {
    let configured = config(
        "zowe:\n  network:\n    client:\n      tls:\n        minTls: TLSv1.3\n        maxTls: TLSv1.3\n        curves: [secp384r1, x25519]\n    server:\n      tls:\n        curves: secp256r1\n",
        &[],
    );
    assert_eq!(configured.client_tls.min, TlsVersion::V1_3);
    assert_eq!(configured.client_tls.max, TlsVersion::V1_3);
    assert_eq!(configured.client_tls.curves, ["secp384r1", "x25519"]);
    assert_eq!(configured.gateway.tls.curves, ["secp256r1"]);
    // Not configured: no curve named, which means every one offered.
    let defaults = config("", &[]);
    assert!(defaults.client_tls.curves.is_empty());
    assert_eq!(defaults.client_tls.min, TlsVersion::V1_2);
    assert_eq!(defaults.client_tls.max, TlsVersion::V1_3);
}

#[test]
fn the_native_authorization_provider_is_refused_with_what_to_use() {
    let native = "components:\n  gateway:\n    apiml:\n      security:\n        authorization:\n          provider: native\n";
    let err = strict(native, &[]).unwrap_err();
    let problems = problems(err);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(
        problems[0].key,
        "components.gateway.apiml.security.authorization.provider"
    );
    assert!(
        matches!(problems[0].source, Source::File { line: 6, .. }),
        "{:?}",
        problems[0].source
    );
    assert!(problems[0].message.contains("use `esm`"), "{}", problems[0]);
    assert!(
        problems[0].message.contains("only on z/OS"),
        "{}",
        problems[0]
    );
    // The same from --set, in any case.
    let problems = problems_of(strict(
        "",
        &["components.gateway.apiml.security.authorization.provider=NATIVE"],
    ));
    assert!(matches!(problems[0].source, Source::Set), "{problems:?}");
    // `esm` is the default and fine.
    let config = config(&native.replace("native", "esm"), &[]);
    assert_eq!(config.gateway.port, 7554);
}

#[test]
fn a_real_zowe_yaml_with_the_native_provider_is_read_with_a_warning() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/zowe/config/example-zowe.yaml"
    ));
    let loaded = load(&LoadOptions {
        home: home(),
        zowe_yaml: Some(path),
        overrides: vec![],
    })
    .unwrap();
    let warning = loaded
        .warnings
        .iter()
        .find(|w| w.key == "components.gateway.apiml.security.authorization.provider")
        .expect("a warning about authorization.provider");
    assert!(warning.message.contains("embedded ESM"), "{warning}");
    assert!(matches!(warning.source, Source::File { line, .. } if line > 1));
    // Overriding it in the real file's place is the user's choice: refused.
    let err = load(&LoadOptions {
        home: home(),
        zowe_yaml: Some(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/zowe/config/example-zowe.yaml"
        ))),
        overrides: vec!["components.gateway.apiml.security.authorization.provider=native".into()],
    })
    .unwrap_err();
    assert!(err.to_string().contains("use `esm`"), "{err}");
}

#[test]
fn network_zones_are_read_and_an_address_gets_the_most_specific() {
    let c = config(
        "zgate:\n  network:\n    zones:\n      - intranet=10.0.0.0/8\n      - LAB=10.1.0.0/16\n      - LOCAL=127.0.0.1\n      - V6NET=fd00::/8\n",
        &[],
    );
    let zone = |a: &str| NetworkZone::of(&c.network_zones, a.parse().unwrap()).map(str::to_owned);
    assert_eq!(zone("10.2.3.4").as_deref(), Some("INTRANET"));
    assert_eq!(zone("10.1.3.4").as_deref(), Some("LAB"));
    assert_eq!(zone("127.0.0.1").as_deref(), Some("LOCAL"));
    assert_eq!(zone("::ffff:127.0.0.1").as_deref(), Some("LOCAL"));
    assert_eq!(zone("fd12::1").as_deref(), Some("V6NET"));
    assert_eq!(zone("127.0.0.2"), None);
    assert_eq!(zone("192.168.1.1"), None);
    assert!(config("", &[]).network_zones.is_empty());
}

#[test]
fn a_bad_network_zone_is_an_error_naming_the_item() {
    for (item, why) in [
        ("10.0.0.0/8", "NAME=address/prefix"),
        ("TOOLONGNAME=10.0.0.0/8", "1-8"),
        ("A B=10.0.0.0/8", "1-8"),
        ("NET=10.0.0.1/8", "host bits"),
        ("NET=10.0.0.0/33", "prefix length"),
        ("NET=ten/8", "not an IP address"),
    ] {
        let (effective, _) = strict("", &[&format!("zgate.network.zones={item}")]).unwrap();
        let err = Config::from_effective(&effective)
            .err()
            .unwrap_or_else(|| panic!("{item} was accepted"));
        let text = problems(err)
            .iter()
            .map(|p| p.message.clone())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(text.contains(item) && text.contains(why), "{item}: {text}");
    }
}

#[test]
fn audit_defaults_refuse_what_cannot_be_recorded() {
    let audit = config("", &[]).audit;
    assert_eq!(
        audit,
        AuditConfig {
            enabled: true,
            on_failure: AuditOnFailure::Refuse,
            queue: 65536,
            checkpoint_seconds: 60,
            max_file_mb: 64,
            system_id: "ZGAT".into(),
        }
    );
}

#[test]
fn audit_keys_are_read_from_the_file_and_set() {
    let audit = config(
        "zgate:\n  audit:\n    enabled: false\n    onFailure: COUNT\n    queue: 10\n    checkpointSeconds: 5\n",
        &["zgate.audit.maxFileMB=1", "zgate.audit.systemId=sy#1"],
    )
    .audit;
    assert!(!audit.enabled);
    assert_eq!(audit.on_failure, AuditOnFailure::Count);
    assert_eq!(
        (audit.queue, audit.checkpoint_seconds, audit.max_file_mb),
        (10, 5, 1)
    );
    assert_eq!(audit.system_id, "SY#1");
}

#[test]
fn bad_audit_values_are_errors_naming_the_key() {
    for (set, needle) in [
        ("zgate.audit.onFailure=ignore", "not one of refuse, count"),
        ("zgate.audit.enabled=maybe", "not true or false"),
        ("zgate.audit.queue=0", "at least 1"),
        ("zgate.audit.queue=99999999999", "more than the 16777216"),
        ("zgate.audit.checkpointSeconds=0", "at least 1"),
        ("zgate.audit.maxFileMB=0", "at least 1"),
        ("zgate.audit.maxFileMB=-1", "non-negative whole number"),
        ("zgate.audit.systemId=", "1-4 of A-Z"),
        ("zgate.audit.systemId=ZGATE", "1-4 of A-Z"),
        ("zgate.audit.systemId=Z-1", "1-4 of A-Z"),
    ] {
        let (effective, _) = strict("", &[set]).unwrap();
        let message = Config::from_effective(&effective)
            .err()
            .unwrap_or_else(|| panic!("{set} was accepted"))
            .to_string();
        let key = set.split('=').next().unwrap();
        assert!(message.contains(needle), "{set}: {message}");
        assert!(
            message.contains(&format!("--set: {key}")),
            "{set}: {message}"
        );
    }
    let (effective, _) = strict("zgate:\n  audit:\n    onFailure: log\n", &[]).unwrap();
    let message = Config::from_effective(&effective).unwrap_err().to_string();
    assert!(message.contains("/h/zgate.yaml:3"), "{message}");
}

const OIDC_ON: &str = "components:
  gateway:
    apiml:
      security:
        oidc:
          enabled: true
          registry: zowe.okta
          jwks:
            uri: https://idp.example.com/keys
zgate:
  oidc:
    issuers: [https://idp.example.com]
    audiences: zowe-gateway
";

#[test]
fn oidc_is_off_by_default_and_takes_zgate_defaults_when_on() {
    assert_eq!(config("", &[]).oidc, None);
    let oidc = config(OIDC_ON, &[]).oidc.unwrap();
    assert_eq!(oidc.registry, "zowe.okta");
    assert_eq!(
        oidc.validation,
        OidcValidation::Jwk {
            uri: "https://idp.example.com/keys".into(),
            refresh_hours: 1
        }
    );
    assert_eq!(oidc.issuers, ["https://idp.example.com"]);
    assert_eq!(oidc.audiences, ["zowe-gateway"]);
    assert_eq!(oidc.algorithms, ["RS256", "PS256", "ES256"]);
    assert_eq!(oidc.skew_seconds, 30);
    assert_eq!(oidc.refetch_interval_seconds, 60);
    assert_eq!(oidc.cookie_same_site, "Lax");
    assert_eq!(oidc.client, None);
}

#[test]
fn an_enabled_provider_without_issuer_audience_registry_or_keys_is_refused() {
    let text = "components:\n  gateway:\n    apiml:\n      security:\n        oidc:\n          enabled: true\n";
    let (effective, _) = strict(text, &[]).unwrap();
    let keys: Vec<String> = problems(Config::from_effective(&effective).unwrap_err())
        .into_iter()
        .map(|p| p.key)
        .collect();
    for wanted in [
        "components.gateway.apiml.security.oidc.registry",
        "components.gateway.apiml.security.oidc.jwks.uri",
        "zgate.oidc.issuers",
        "zgate.oidc.audiences",
    ] {
        assert!(keys.iter().any(|k| k == wanted), "{wanted} in {keys:?}");
    }
}

#[test]
fn weak_oidc_settings_are_refused_with_their_origin() {
    for (set, key) in [
        ("zgate.oidc.algorithms=RS256,HS256", "zgate.oidc.algorithms"),
        ("zgate.oidc.algorithms=none", "zgate.oidc.algorithms"),
        ("zgate.oidc.skewSeconds=61", "zgate.oidc.skewSeconds"),
        (
            "zgate.oidc.refetchIntervalSeconds=5",
            "zgate.oidc.refetchIntervalSeconds",
        ),
        (
            "components.gateway.apiml.security.oidc.jwks.uri=http://idp.example.com/keys",
            "components.gateway.apiml.security.oidc.jwks.uri",
        ),
        ("zgate.oidc.issuers=idp.example.com", "zgate.oidc.issuers"),
        (
            "components.gateway.apiml.security.oidc.validationType=opaque",
            "components.gateway.apiml.security.oidc.validationType",
        ),
    ] {
        let (effective, _) = strict(OIDC_ON, &[set]).unwrap();
        let problems = problems(Config::from_effective(&effective).unwrap_err());
        assert!(
            problems
                .iter()
                .any(|p| p.key == key && p.source == Source::Set),
            "{set}: {problems:?}"
        );
    }
}

#[test]
fn provider_urls_are_https_or_plain_http_to_this_host() {
    for good in [
        "https://idp.example.com/keys",
        "https://idp.example.com:8443",
        "http://127.0.0.1:9000/jwks",
        "http://localhost/jwks",
        "http://[::1]:80/x",
    ] {
        assert!(is_provider_url(good), "{good}");
    }
    for bad in [
        "",
        "http://idp.example.com/keys",
        "http://127.0.0.1.evil.example/keys",
        "http://localhost@evil.example/",
        "https://user@idp.example.com/",
        "https:///keys",
        "ftp://idp.example.com",
        "https://idp.example.com/ keys",
        "https://idp.example.com/\nkeys",
        "HTTPS://idp.example.com",
    ] {
        assert!(!is_provider_url(bad), "{bad}");
    }
}

#[test]
fn zaas_keys_override_the_gateways_and_spring_client_keys_land_in_zgates() {
    let yaml = "components:
  zaas:
    apiml:
      security:
        oidc:
          registry: zowe.entra
  gateway:
    apiml:
      security:
        oidc:
          enabled: true
          registry: zowe.okta
          jwks:
            uri: https://idp.example.com/keys
    spring:
      security:
        oauth2:
          client:
            registration:
              okta:
                clientId: zowe-client
                clientSecret: s3cret
                scope: openid, profile
            provider:
              okta:
                authorizationUri: https://idp.example.com/authorize
                tokenUri: https://idp.example.com/token
zgate:
  oidc:
    issuers: [https://idp.example.com]
    audiences: zowe-gateway
";
    let (effective, _) = strict(yaml, &[]).unwrap();
    let config = Config::from_effective(&effective).unwrap();
    let oidc = config.oidc.unwrap();
    assert_eq!(oidc.registry, "zowe.entra");
    let client = oidc.client.unwrap();
    assert_eq!(client.registration_id, "okta");
    assert_eq!(client.client_id, "zowe-client");
    assert_eq!(client.client_secret.expose(), "s3cret");
    assert_eq!(client.scope, ["openid", "profile"]);
    assert_eq!(client.token_uri, "https://idp.example.com/token");
    let secret = effective.get("zgate.oidc.client.clientSecret").unwrap();
    assert_eq!(secret.display_value(), "********");
    assert!(
        matches!(secret.source, Source::File { line: 22, .. }),
        "{:?}",
        secret.source
    );

    let two = yaml.replace(
        "            provider:\n              okta:",
        "              entra:\n                clientId: other\n            provider:\n              okta:",
    );
    let problems = problems_of(strict(&two, &[]));
    assert!(
        problems
            .iter()
            .any(|p| p.message.contains("one OIDC client registration")),
        "{problems:?}"
    );
}

#[test]
fn the_store_is_the_sqlite_file_in_the_home_unless_a_postgres_url_is_given() {
    assert_eq!(
        config("", &[]).store,
        StoreLocation::Sqlite(PathBuf::from("/h/esm.db"))
    );
    assert_eq!(
        config("zgate:\n  store: state/esm.db\n", &[]).store,
        StoreLocation::Sqlite(PathBuf::from("/h/state/esm.db"))
    );
    assert_eq!(
        config("zgate:\n  store: /var/zgate/esm.db\n", &[]).store,
        StoreLocation::Sqlite(PathBuf::from("/var/zgate/esm.db"))
    );
    for url in [
        "postgres://zgate:hunter2@db.example:5432/zgate",
        "postgresql://zgate:hunter2@db.example/zgate",
        "POSTGRES://zgate:hunter2@db.example/zgate",
    ] {
        let (effective, _) = strict(&format!("zgate:\n  store: '{url}'\n"), &[]).unwrap();
        assert_eq!(
            effective.get("zgate.store").unwrap().display_value(),
            "********"
        );
        let config = Config::from_effective(&effective).unwrap();
        assert_eq!(config.store, StoreLocation::Postgres(Secret::new(url)));
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}

#[test]
fn a_store_url_of_another_scheme_is_refused_without_showing_it() {
    let (effective, _) = strict("zgate:\n  store: 'mysql://u:hunter2@db/zgate'\n", &[]).unwrap();
    let problems = problems(Config::from_effective(&effective).unwrap_err());
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].key, "zgate.store");
    assert!(problems[0].message.contains("postgres://"), "{problems:?}");
    assert!(!problems[0].message.contains("hunter2"), "{problems:?}");
}

#[test]
fn the_store_outage_grace_is_five_seconds_and_bounded() {
    assert_eq!(config("", &[]).store_outage_grace_seconds, 5);
    assert_eq!(
        config("zgate:\n  storeOutageGraceSeconds: 30\n", &[]).store_outage_grace_seconds,
        30
    );
    for (value, says) in [
        ("0", "at least 1"),
        ("301", "300 s allowed"),
        ("-1", ""),
        ("5s", ""),
    ] {
        let (effective, _) = strict(
            &format!("zgate:\n  storeOutageGraceSeconds: {value}\n"),
            &[],
        )
        .unwrap();
        let problems = problems(Config::from_effective(&effective).unwrap_err());
        assert_eq!(problems.len(), 1, "{value}: {problems:?}");
        assert_eq!(problems[0].key, "zgate.storeOutageGraceSeconds");
        assert!(problems[0].message.contains(says), "{value}: {problems:?}");
    }
}

const RING_KEYSTORE: &str = "zowe:
  certificate:
    keystore:
      type: JCERACFKS
      file: safkeyring:////zwesvusr/ZoweKeyring
      password: password
      alias: localhost
    truststore:
      type: JCERACFKS
      file: safkeyringjce://ZWESVUSR/ZoweKeyring
      password: \"\"
    pem:
      certificateAuthorities: safkeyring://ZWESVUSR/ZoweKeyring&localca,safkeyring://*AUTH*/*&Root CA
";

#[test]
fn a_key_ring_keystore_is_read_with_owner_upper_cased_and_ring_exact() {
    let config = config(RING_KEYSTORE, &[]);
    let certificate = &config.certificate;
    assert_eq!(
        certificate.keystore.location,
        KeystoreLocation::Ring {
            owner: "ZWESVUSR".into(),
            ring: "ZoweKeyring".into(),
            label: Some("localhost".into()),
        }
    );
    assert_eq!(
        certificate.truststore.location,
        KeystoreLocation::Ring {
            owner: "ZWESVUSR".into(),
            ring: "ZoweKeyring".into(),
            label: None,
        }
    );
    assert!(certificate.pem_certificate_authorities.is_empty());
    let labels: Vec<String> = certificate
        .pem_certificate_authorities_in_rings
        .iter()
        .map(RingCertificate::url)
        .collect();
    assert_eq!(
        labels,
        [
            "safkeyring://ZWESVUSR/ZoweKeyring&localca",
            "safkeyring://*AUTH*/*&Root CA"
        ]
    );
    for ring_type in ["JCECCARACFKS", "JCEHYBRIDRACFKS", "jceracfks"] {
        let set = format!("zowe.certificate.keystore.type={ring_type}");
        assert!(matches!(
            config_result(RING_KEYSTORE, &[&set])
                .unwrap()
                .certificate
                .keystore
                .location,
            KeystoreLocation::Ring { .. }
        ));
    }
}

fn config_result(text: &str, overrides: &[&str]) -> Result<Config, ConfigError> {
    let (effective, _) = strict(text, overrides)?;
    Config::from_effective(&effective)
}

fn ring_problem(overrides: &[&str], key: &str) -> String {
    let err = config_result(RING_KEYSTORE, overrides).expect_err("refused");
    let problems = problems(err);
    problems
        .iter()
        .find(|p| p.key == key)
        .unwrap_or_else(|| panic!("no problem for {key}: {problems:?}"))
        .to_string()
}

#[test]
fn hostile_key_ring_values_are_refused_with_their_origin() {
    const FILE: &str = "zowe.certificate.keystore.file";
    for (value, why) in [
        ("safkeyring:///ZoweKeyring", "owner is missing"),
        ("/h/keystore/localhost.p12", "the file is a key ring"),
        ("safkeyring://ZWESVUSR/Zowe%2FRing", "percent-encoding"),
        ("safkeyring://ZWESVUSR/ZoweKeyring/..", "not OWNER/RING"),
        ("safkeyring://ZWESVUSR/..", "not ring names"),
        ("safkeyring:/ZWESVUSR/ZoweKeyring", "1 slashes"),
        ("safkeyring://///ZWESVUSR/ZoweKeyring", "5 slashes"),
        ("safkeyring://ZWESVUSR/", "empty"),
        ("safkeyring:///ZoweKeyring&localca", "owner is missing"),
        ("safkeyring://ZWESVUSR/Zowe&Keyring", "made of"),
        ("Safkeyring://ZWESVUSR/ZoweKeyring", "lower case"),
        ("safkeyring://ZWESVUSR/*", "virtual ring"),
        ("safkeyring://ZWE\u{1b}SVUSR/ZoweKeyring", "control"),
    ] {
        let set = format!("{FILE}={value}");
        let problem = ring_problem(&[&set], FILE);
        assert!(problem.contains(why), "{value:?}: {problem}");
        assert!(problem.starts_with("--set: "), "{problem}");
    }
    let long = format!("{FILE}=safkeyring://ZWESVUSR/{}", "R".repeat(238));
    assert!(ring_problem(&[&long], FILE).contains("longer than 237"));

    // The origin of a file value is its line.
    let text = RING_KEYSTORE.replace(
        "ZoweKeyring\n      password: password",
        "Zowe Keyring\n      password: password",
    );
    let problems = problems(config_result(&text, &[]).unwrap_err());
    assert!(
        problems.iter().any(|p| p
            .to_string()
            .starts_with("/h/zgate.yaml:5: zowe.certificate.keystore.file")),
        "{problems:?}"
    );

    for (alias, why) in [
        (" localhost", "blank at either end"),
        ("a-label-of-more-than-thirty-two-chars", "longer than 32"),
        ("local\u{7}host", "printable ASCII"),
    ] {
        let set = format!("zowe.certificate.keystore.alias={alias}");
        let problem = ring_problem(&[&set], "zowe.certificate.keystore.alias");
        assert!(problem.contains(why), "{alias:?}: {problem}");
    }
    let problem = ring_problem(
        &["zowe.certificate.keystore.password=secret"],
        "zowe.certificate.keystore.password",
    );
    assert!(problem.contains("no password"), "{problem}");
    assert!(!problem.contains("secret"), "{problem}");
    let problem = ring_problem(
        &["zowe.certificate.pem.certificateAuthorities=safkeyring://ZWESVUSR/ZoweKeyring"],
        "zowe.certificate.pem.certificateAuthorities",
    );
    assert!(problem.contains("&LABEL"), "{problem}");
    // A ring URL with a file type is a mistake, not a file name.
    let problem = ring_problem(
        &["zowe.certificate.keystore.type=PKCS12"],
        "zowe.certificate.keystore.file",
    );
    assert!(problem.contains("needs a key ring type"), "{problem}");
}

#[test]
fn a_virtual_ring_is_a_truststore_only() {
    let config = config(
        RING_KEYSTORE,
        &["zowe.certificate.truststore.file=safkeyring://*SITE*/*"],
    );
    assert_eq!(
        config.certificate.truststore.location,
        KeystoreLocation::Ring {
            owner: "*SITE*".into(),
            ring: "*".into(),
            label: None
        }
    );
    let problem = ring_problem(
        &["zowe.certificate.keystore.file=safkeyring://*AUTH*/*"],
        "zowe.certificate.keystore.file",
    );
    assert!(problem.contains("virtual ring"), "{problem}");
}

#[test]
fn java_keystore_files_are_refused_with_what_to_do() {
    for key in [
        "zowe.certificate.keystore.type",
        "zowe.certificate.truststore.type",
        "zowe.setup.certificate.type",
    ] {
        for java in ["JCEKS", "JCECCAKS"] {
            let set = format!("{key}={java}");
            let err = config_result("", &[&set]).unwrap_err();
            let problems = problems(err);
            let problem = problems.iter().find(|p| p.key == key).unwrap().to_string();
            assert!(problem.contains("PKCS12"), "{problem}");
        }
    }
}

#[test]
fn the_gateway_certificate_keys_win_over_zowe_certificate() {
    let text = format!(
        "{RING_KEYSTORE}components:\n  gateway:\n    certificate:\n      keystore:\n        file: safkeyring://GWUSER/GatewayRing\n        alias: gateway\n"
    );
    let (effective, _) = strict(&text, &[]).unwrap();
    assert_eq!(
        effective
            .get("zowe.certificate.keystore.file")
            .unwrap()
            .source,
        Source::File {
            path: PathBuf::from("/h/zgate.yaml"),
            line: 18
        }
    );
    let config = Config::from_effective(&effective).unwrap();
    assert_eq!(
        config.certificate.keystore.location,
        KeystoreLocation::Ring {
            owner: "GWUSER".into(),
            ring: "GatewayRing".into(),
            label: Some("gateway".into())
        }
    );
    assert_eq!(
        config
            .certificate
            .truststore
            .location
            .ring_name()
            .unwrap()
            .ring,
        "ZoweKeyring"
    );
    // An unknown gateway certificate key is still an unknown key.
    let err = strict(
        "components:\n  gateway:\n    certificate:\n      keystore:\n        colour: red\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(
        problems(err)[0].key,
        "components.gateway.certificate.keystore.colour"
    );
}

const RING_SETUP: &str = "zowe:
  setup:
    security:
      users:
        zowe: zwesvusr
    certificate:
      type: JCERACFKS
      keyring:
        name: ZoweKeyring
";

#[test]
fn a_key_ring_setup_takes_zowe_defaults() {
    let config = config(RING_SETUP, &[]);
    let setup = &config.setup_certificate;
    assert_eq!(setup.store_type, "JCERACFKS");
    let keyring = setup.keyring.as_ref().unwrap();
    assert_eq!(keyring.ring.to_string(), "ZWESVUSR/ZoweKeyring");
    assert_eq!(keyring.server_user, "ZWESVUSR");
    assert_eq!(keyring.label, "localhost");
    assert_eq!(keyring.ca_label, "localca");
    assert_eq!(keyring.zosmf_user, "IZUSVR");
    assert_eq!(keyring.zosmf_ca, None);
    assert_eq!(keyring.connect, None);
    assert_eq!(keyring.import, None);
    assert!(keyring.certificate_authorities.is_empty());
    assert_eq!(setup.validity_days, 3650);
    // PKCS12 has no key ring.
    assert_eq!(
        config_result("", &[]).unwrap().setup_certificate.keyring,
        None
    );
}

#[test]
fn key_ring_setup_keys_are_read_and_checked() {
    let config = config(
        RING_SETUP,
        &[
            "zowe.setup.certificate.keyring.owner=ringown",
            "zowe.setup.certificate.keyring.label=Zowe Server",
            "zowe.setup.certificate.keyring.caLabel=Zowe CA",
            "zowe.setup.certificate.keyring.connect.user=site",
            "zowe.setup.certificate.keyring.connect.label=Site Cert",
            "zowe.setup.certificate.keyring.import.dsName=certs/zowe.p12",
            "zowe.setup.certificate.keyring.import.password=p12pass",
            "zowe.setup.certificate.keyring.zOSMF.ca=zOSMFCA",
            "zowe.setup.certificate.keyring.zOSMF.user=izuuser",
            "zowe.setup.certificate.importCertificateAuthorities=Intermediate CA, Root CA",
        ],
    );
    let keyring = config.setup_certificate.keyring.unwrap();
    assert_eq!(keyring.ring.owner, "RINGOWN");
    assert_eq!(keyring.server_user, "ZWESVUSR");
    assert_eq!(keyring.label, "Zowe Server");
    assert_eq!(keyring.ca_label, "Zowe CA");
    assert_eq!(
        keyring.connect,
        Some(KeyringConnect {
            owner: CertificateOwner::Site,
            label: "Site Cert".into()
        })
    );
    let import = keyring.import.unwrap();
    assert_eq!(import.ds_name, "certs/zowe.p12");
    assert_eq!(import.password.expose(), "p12pass");
    assert_eq!(keyring.zosmf_ca.as_deref(), Some("zOSMFCA"));
    assert_eq!(keyring.zosmf_user, "IZUUSER");
    assert_eq!(
        keyring.certificate_authorities,
        ["Intermediate CA", "Root CA"]
    );
    assert!(config
        .setup_certificate
        .import_certificate_authorities
        .is_empty());

    let refused = |set: &[&str], key: &str| -> String {
        let err = config_result(RING_SETUP, set).expect_err("refused");
        let problems = problems(err);
        problems
            .iter()
            .find(|p| p.key == key)
            .unwrap_or_else(|| panic!("no problem for {key}: {problems:?}"))
            .to_string()
    };
    const K: &str = "zowe.setup.certificate.keyring.";
    for (set, key, why) in [
        (format!("{K}name="), format!("{K}name"), "required"),
        (format!("{K}name=Zowe Ring"), format!("{K}name"), "made of"),
        (
            format!("{K}name=Ring) ID(IBMUSER"),
            format!("{K}name"),
            "made of",
        ),
        (
            format!("{K}owner=TOOLONGID"),
            format!("{K}owner"),
            "longer than 8",
        ),
        (format!("{K}owner=ZWE'USR"), format!("{K}owner"), "A-Z 0-9"),
        (
            format!("{K}label= localhost"),
            format!("{K}label"),
            "blank at either end",
        ),
        (
            format!("{K}caLabel=ca\u{0}"),
            format!("{K}caLabel"),
            "printable",
        ),
        (
            format!("{K}connect.label=Cert"),
            format!("{K}connect.user"),
            "required with connect.label",
        ),
        (
            format!("{K}import.dsName=zowe.p12"),
            format!("{K}import.password"),
            "required with import.dsName",
        ),
        (
            format!("{K}zOSMF.user=*"),
            format!("{K}zOSMF.user"),
            "A-Z 0-9",
        ),
        (
            "zowe.setup.certificate.importCertificateAuthorities=A,B,C".to_owned(),
            "zowe.setup.certificate.importCertificateAuthorities".to_owned(),
            "at most two",
        ),
    ] {
        let problem = refused(&[&set], &key);
        assert!(problem.contains(why), "{set:?}: {problem}");
    }
    let problem = refused(
        &[
            &format!("{K}connect.label=Cert"),
            &format!("{K}connect.user=IBM USER"),
        ],
        &format!("{K}connect.user"),
    );
    assert!(problem.contains("A-Z 0-9"), "{problem}");
}

#[test]
fn zowe_yaml_keyring_examples_are_read_leniently() {
    let text = "zowe:
  setup:
    certificate:
      type: JCERACFKS
      keyring:
        owner: \"\"
        name: ZoweKeyring
        label: localhost
        caLabel: localca
        connect:
          user: \"\"
          label: \"\"
        import:
          dsName: \"\"
          password: \"\"
        zOSMF:
          ca: \"\"
          user: IZUSVR
  certificate:
    keystore:
      type: JCERACFKS
      file: safkeyring:////ZWESVUSR/ZoweKeyring
      password: password
      alias: localhost
    truststore:
      type: JCERACFKS
      file: safkeyring:////ZWESVUSR/ZoweKeyring
      password: password
    pem:
      key: \"\"
      certificate: \"\"
      certificateAuthorities: safkeyring:////ZWESVUSR/ZoweKeyring&localca
";
    let (effective, warnings) =
        merge(&home(), Some((Path::new("/z/zowe.yaml"), text)), true, &[]).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let config = Config::from_effective(&effective).unwrap();
    let keyring = config.setup_certificate.keyring.unwrap();
    assert_eq!(keyring.ring.to_string(), "ZWESVUSR/ZoweKeyring");
    assert_eq!(keyring.connect, None);
    assert_eq!(keyring.import, None);
    assert_eq!(
        config.certificate.pem_certificate_authorities_in_rings[0].label,
        "localca"
    );
}

#[test]
fn certificate_reload_checks_and_expiry_warnings_have_defaults_and_bounds() {
    let defaults = config("", &[]).tls_reload;
    assert_eq!(defaults.check_seconds, 5);
    assert_eq!(defaults.expiry_warning_days, 30);
    let set = config(
        "zgate:\n  tls:\n    reloadCheckSeconds: 0\n    expiryWarningDays: 90\n",
        &[],
    )
    .tls_reload;
    assert_eq!(set.check_seconds, 0, "0: only on SIGHUP");
    assert_eq!(set.expiry_warning_days, 90);
    for (key, value, says) in [
        ("reloadCheckSeconds", "86401", "86400 s allowed"),
        ("reloadCheckSeconds", "-1", "non-negative"),
        ("reloadCheckSeconds", "5s", "non-negative"),
        ("expiryWarningDays", "3651", "3650"),
        ("expiryWarningDays", "thirty", "non-negative"),
    ] {
        let (effective, _) = strict(&format!("zgate:\n  tls:\n    {key}: {value}\n"), &[]).unwrap();
        let problems = problems(Config::from_effective(&effective).unwrap_err());
        assert_eq!(problems.len(), 1, "{key} {value}: {problems:?}");
        assert_eq!(problems[0].key, format!("zgate.tls.{key}"));
        assert!(problems[0].message.contains(says), "{value}: {problems:?}");
    }
}
