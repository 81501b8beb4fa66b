//! The keys zgate knows: name (zowe.yaml spelling), kind, default, and whether
//! the value is a secret (masked in `zgate config show`).

/// How a key's value is checked in phase two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text.
    Text,
    /// A file or directory; relative paths are relative to the home.
    Path,
    /// A list of paths: a YAML list or one comma-separated string.
    PathList,
    /// A TCP port, 1..=65535.
    Port,
    /// A non-negative integer.
    Count,
    /// `true` / `false`.
    Bool,
    /// One of the listed words (compared case-insensitively).
    OneOf(&'static [&'static str]),
    /// A list of words: a YAML list or one comma-separated string.
    List,
    /// Accepted from a real zowe.yaml for compatibility, but zgate does not
    /// act on it; a non-default value is reported as a warning.
    Unsupported(&'static str),
}

/// A default value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// No value.
    None,
    /// A literal.
    Lit(&'static str),
    /// A path under the home directory.
    Home(&'static str),
}

/// One configuration key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    /// Dotted name as in zowe.yaml.
    pub key: &'static str,
    /// How the value is checked.
    pub kind: Kind,
    /// The default.
    pub default: DefaultValue,
    /// Masked in output.
    pub secret: bool,
}

const fn k(key: &'static str, kind: Kind, default: DefaultValue) -> KeySpec {
    KeySpec {
        key,
        kind,
        default,
        secret: false,
    }
}

const fn secret(key: &'static str, default: DefaultValue) -> KeySpec {
    KeySpec {
        key,
        kind: Kind::Text,
        default,
        secret: true,
    }
}

/// Keystore types zowe.yaml accepts: `PKCS12` files; `JCERACFKS`,
/// `JCECCARACFKS` and `JCEHYBRIDRACFKS`, which all name a key ring of the
/// ESM; `JCEKS` and `JCECCAKS`, Java's own files, are listed only to be
/// refused with a reason (zgate has no reader for them).
pub const STORE_TYPES: &[&str] = &[
    "PKCS12",
    "JCERACFKS",
    "JCECCARACFKS",
    "JCEHYBRIDRACFKS",
    "JCEKS",
    "JCECCAKS",
];
/// `zgate.audit.onFailure`: refuse what cannot be recorded, or count it.
pub const AUDIT_ON_FAILURE: &[&str] = &["refuse", "count"];
/// TLS protocol names.
pub const TLS_VERSIONS: &[&str] = &["TLSv1.2", "TLSv1.3"];
/// `zowe.verifyCertificates`.
pub const VERIFY_MODES: &[&str] = &["STRICT", "NONSTRICT", "DISABLED"];
/// Default server/client cipher list: Zowe's (spec: certificates.md), kept
/// as it is so that `zgate config show` shows the list Zowe documents and a
/// zowe.yaml written for Zowe means the same here. zgate's TLS library
/// offers six of its nine suites, not the three TLS 1.2 CBC ones; the
/// gateway leaves those out silently when the list is this default, and
/// warns only when a configuration names them
/// ([`crate::TlsSettings::ciphers_configured`]).
pub const DEFAULT_CIPHERS: &str = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384,TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384";

use DefaultValue::{Home, Lit, None as NoDefault};
use Kind::*;

/// Every key zgate reads.
pub const KEYS: &[KeySpec] = &[
    // Runtime certificates.
    k(
        "zowe.certificate.keystore.type",
        OneOf(STORE_TYPES),
        Lit("PKCS12"),
    ),
    k(
        "zowe.certificate.keystore.file",
        Path,
        Home("keystore/localhost/localhost.keystore.p12"),
    ),
    secret("zowe.certificate.keystore.password", Lit("password")),
    k("zowe.certificate.keystore.alias", Text, Lit("localhost")),
    k(
        "zowe.certificate.truststore.type",
        OneOf(STORE_TYPES),
        Lit("PKCS12"),
    ),
    k(
        "zowe.certificate.truststore.file",
        Path,
        Home("keystore/localhost/localhost.truststore.p12"),
    ),
    secret("zowe.certificate.truststore.password", Lit("password")),
    k(
        "zowe.certificate.pem.key",
        Path,
        Home("keystore/localhost/localhost.key"),
    ),
    k(
        "zowe.certificate.pem.certificate",
        Path,
        Home("keystore/localhost/localhost.cer"),
    ),
    k(
        "zowe.certificate.pem.certificateAuthorities",
        PathList,
        Home("keystore/local_ca/local_ca.cer"),
    ),
    k(
        "zowe.verifyCertificates",
        OneOf(VERIFY_MODES),
        Lit("STRICT"),
    ),
    k("zowe.externalDomains", List, Lit("localhost")),
    k("zowe.externalPort", Port, NoDefault),
    // Certificate setup (`zgate cert init`, first start).
    k(
        "zowe.setup.certificate.type",
        OneOf(STORE_TYPES),
        Lit("PKCS12"),
    ),
    k(
        "zowe.setup.certificate.dname.caCommonName",
        Text,
        Lit("Zowe Development Instances Certificate Authority"),
    ),
    k(
        "zowe.setup.certificate.dname.commonName",
        Text,
        Lit("Zowe Service"),
    ),
    k(
        "zowe.setup.certificate.dname.orgUnit",
        Text,
        Lit("API Mediation Layer"),
    ),
    k("zowe.setup.certificate.dname.org", Text, Lit("Zowe Sample")),
    k("zowe.setup.certificate.dname.locality", Text, Lit("Prague")),
    k("zowe.setup.certificate.dname.state", Text, Lit("Prague")),
    k("zowe.setup.certificate.dname.country", Text, Lit("CZ")),
    k("zowe.setup.certificate.validity", Count, Lit("3650")),
    k("zowe.setup.certificate.san", List, NoDefault),
    k(
        "zowe.setup.certificate.importCertificateAuthorities",
        PathList,
        NoDefault,
    ),
    // Key ring setup (`zgate cert init` with a key ring type; spec
    // keyrings.md section 3.2). The owner defaults to the Zowe server's
    // user, `zowe.setup.security.users.zowe`.
    k("zowe.setup.security.users.zowe", Text, Lit("ZWESVUSR")),
    k("zowe.setup.certificate.keyring.owner", Text, NoDefault),
    k("zowe.setup.certificate.keyring.name", Text, NoDefault),
    k("zowe.setup.certificate.keyring.label", Text, Lit("localhost")),
    k("zowe.setup.certificate.keyring.caLabel", Text, Lit("localca")),
    k("zowe.setup.certificate.keyring.connect.user", Text, NoDefault),
    k("zowe.setup.certificate.keyring.connect.label", Text, NoDefault),
    k("zowe.setup.certificate.keyring.import.dsName", Text, NoDefault),
    secret("zowe.setup.certificate.keyring.import.password", NoDefault),
    k("zowe.setup.certificate.keyring.zOSMF.ca", Text, NoDefault),
    k("zowe.setup.certificate.keyring.zOSMF.user", Text, Lit("IZUSVR")),
    k(
        "zowe.setup.certificate.pkcs12.directory",
        Path,
        Home("keystore"),
    ),
    k("zowe.setup.certificate.pkcs12.name", Text, Lit("localhost")),
    secret("zowe.setup.certificate.pkcs12.password", Lit("password")),
    k(
        "zowe.setup.certificate.pkcs12.caAlias",
        Text,
        Lit("local_ca"),
    ),
    secret(
        "zowe.setup.certificate.pkcs12.caPassword",
        Lit("local_ca_password"),
    ),
    k("zowe.setup.certificate.pkcs12.lock", Bool, Lit("true")),
    // zgate's own: GSKit-compatible (3DES/RC2-40/SHA-1) PKCS12 files.
    k("zowe.setup.certificate.pkcs12.legacy", Bool, Lit("false")),
    k(
        "zowe.setup.certificate.pkcs12.import.keystore",
        Path,
        NoDefault,
    ),
    secret("zowe.setup.certificate.pkcs12.import.password", NoDefault),
    k(
        "zowe.setup.certificate.pkcs12.import.alias",
        Text,
        NoDefault,
    ),
    // TLS.
    k(
        "zowe.network.server.tls.minTls",
        OneOf(TLS_VERSIONS),
        Lit("TLSv1.2"),
    ),
    k(
        "zowe.network.server.tls.maxTls",
        OneOf(TLS_VERSIONS),
        Lit("TLSv1.3"),
    ),
    k(
        "zowe.network.server.tls.ciphers",
        List,
        Lit(DEFAULT_CIPHERS),
    ),
    k("zowe.network.server.tls.curves", List, NoDefault),
    k(
        "zowe.network.server.tls.attls",
        Unsupported("AT-TLS exists only on z/OS; zgate terminates TLS itself"),
        Lit("false"),
    ),
    k(
        "zowe.network.client.tls.minTls",
        OneOf(TLS_VERSIONS),
        Lit("TLSv1.2"),
    ),
    k(
        "zowe.network.client.tls.maxTls",
        OneOf(TLS_VERSIONS),
        Lit("TLSv1.3"),
    ),
    k(
        "zowe.network.client.tls.ciphers",
        List,
        Lit(DEFAULT_CIPHERS),
    ),
    k("zowe.network.client.tls.curves", List, NoDefault),
    k(
        "zowe.network.client.tls.attls",
        Unsupported("AT-TLS exists only on z/OS; zgate terminates TLS itself"),
        Lit("false"),
    ),
    // The gateway.
    k("components.gateway.enabled", Bool, Lit("true")),
    k("components.gateway.port", Port, Lit("7554")),
    k("components.gateway.debug", Bool, Lit("false")),
    k(
        "components.gateway.apiml.security.auth.provider",
        Unsupported("zgate authenticates with its embedded ESM (the `saf` provider)"),
        Lit("saf"),
    ),
    k(
        "components.gateway.apiml.security.auth.zosmf.jwtAutoconfiguration",
        Unsupported("zgate signs its own JWTs"),
        NoDefault,
    ),
    k(
        "components.gateway.apiml.security.auth.zosmf.serviceId",
        Unsupported("zgate does not delegate to z/OSMF"),
        NoDefault,
    ),
    k(
        "components.gateway.apiml.security.auth.tokenProperties.expirationInSeconds",
        Count,
        Lit("28800"),
    ),
    k(
        "components.gateway.apiml.security.allowTokenRefresh",
        Bool,
        Lit("false"),
    ),
    k(
        "components.gateway.apiml.security.x509.enabled",
        Bool,
        Lit("false"),
    ),
    k(
        "components.gateway.apiml.security.personalAccessToken.enabled",
        Bool,
        Lit("false"),
    ),
    // `native` is read only to be refused (see `ZOS_ONLY_VALUES`).
    k(
        AUTHORIZATION_PROVIDER,
        OneOf(&["esm", "native"]),
        Lit("esm"),
    ),
    k(
        "components.gateway.apiml.security.authorization.endpoint.enabled",
        Unsupported("the remote `endpoint` SAF provider is not available in zgate"),
        Lit("false"),
    ),
    // Tokens of an OpenID Connect provider (spec oidc.md section 3); each
    // may also be set as `components.zaas.<key>`, which wins.
    k(
        "components.gateway.apiml.security.oidc.enabled",
        Bool,
        Lit("false"),
    ),
    k(
        "components.gateway.apiml.security.oidc.registry",
        Text,
        NoDefault,
    ),
    k(
        OIDC_VALIDATION_TYPE,
        OneOf(OIDC_VALIDATION_TYPES),
        Lit("JWK"),
    ),
    k("components.gateway.apiml.security.oidc.jwks.uri", Text, NoDefault),
    k(
        "components.gateway.apiml.security.oidc.jwks.refreshInternalHours",
        Count,
        Lit("1"),
    ),
    k(
        "components.gateway.apiml.security.oidc.userInfo.uri",
        Text,
        NoDefault,
    ),
    k(
        "components.gateway.apiml.security.oidc.identityMapperUrl",
        Unsupported("zgate maps distributed identities with its embedded ESM (R_usermap over RACMAP filters)"),
        NoDefault,
    ),
    k(
        "components.gateway.apiml.security.oidc.identityMapperUser",
        Unsupported("zgate maps distributed identities with its embedded ESM (R_usermap over RACMAP filters)"),
        NoDefault,
    ),
    k(
        "components.gateway.apiml.security.useInternalMapper",
        Unsupported("zgate always maps with its embedded ESM, as the internal mapper does"),
        Lit("true"),
    ),
    k(
        "components.gateway.apiml.security.oidc.cookie.sameSite",
        OneOf(&["Lax", "Strict", "None"]),
        Lit("Lax"),
    ),
    // zgate's own keys.
    // What a provider's tokens must be, beyond API ML's checks (spec
    // oidc.md section 8): issuer, audience, algorithms, skew, age.
    k("zgate.oidc.issuers", List, NoDefault),
    k("zgate.oidc.audiences", List, NoDefault),
    k("zgate.oidc.algorithms", List, Lit("RS256,PS256,ES256")),
    k("zgate.oidc.skewSeconds", Count, Lit("30")),
    k("zgate.oidc.maxTokenAgeSeconds", Count, NoDefault),
    k("zgate.oidc.refetchIntervalSeconds", Count, Lit("60")),
    k("zgate.oidc.authorizedParties", List, NoDefault),
    k("zgate.oidc.requireAccessTokenType", Bool, Lit("false")),
    // zgate as an OIDC client (spec oidc.md section 7). A real zowe.yaml's
    // `spring.security.oauth2.client.{registration,provider}.<id>.<name>`
    // keys land here (see `OIDC_CLIENT_KEYS`).
    k("zgate.oidc.client.registrationId", Text, NoDefault),
    k("zgate.oidc.client.clientId", Text, NoDefault),
    secret("zgate.oidc.client.clientSecret", NoDefault),
    k("zgate.oidc.client.redirectUri", Text, NoDefault),
    k("zgate.oidc.client.scope", List, Lit("openid,profile,email")),
    k("zgate.oidc.client.authorizationUri", Text, NoDefault),
    k("zgate.oidc.client.tokenUri", Text, NoDefault),
    k("zgate.oidc.client.userInfoUri", Text, NoDefault),
    k("zgate.oidc.client.userNameAttribute", Text, Lit("sub")),
    k("zgate.oidc.client.jwkSetUri", Text, NoDefault),
    k("zgate.oidc.client.resource", Text, NoDefault),
    k("zgate.oidc.client.returnUrls", List, NoDefault),
    k("zgate.server.address", Text, Lit("0.0.0.0")),
    k("zgate.server.shutdownGraceSeconds", Count, Lit("30")),
    k("zgate.auth.securityDomain", Text, Lit("security-domain")),
    k("zgate.auth.cookie.maxAgeSeconds", Count, NoDefault),
    // MFA (TOTP) codes in the password field, and the skew window.
    k("zgate.mfa.separator", Text, Lit(":")),
    k("zgate.mfa.skewSteps", Count, Lit("1")),
    k("zgate.services.directory", Path, Home("services")),
    // Network access zones, `NAME=address/prefix` items: the zone of a
    // client address is what `WHEN(SERVAUTH(NAME))` permits name.
    k("zgate.network.zones", List, NoDefault),
    // SAF `ZOWE APIML.SERVICES.<serviceId>` READ on routed requests.
    k("zgate.services.authorization", Bool, Lit("false")),
    // Where the ESM keeps the security state: the embedded SQLite file, or
    // a `postgres://` / `postgresql://` URL of a database several gateways
    // share. A secret: the URL may hold a password.
    secret("zgate.store", Home("esm.db")),
    // How long a gateway keeps deciding from memory while its store does
    // not answer; past it, whatever depends on other gateways' commits
    // (tokens, logons, checks) is refused until the store answers again.
    k("zgate.storeOutageGraceSeconds", Count, Lit("5")),
    // How often the keystore and truststore are looked at for a change
    // (their contents' hash); 0: only on SIGHUP.
    k("zgate.tls.reloadCheckSeconds", Count, Lit("5")),
    // A certificate expiring within this many days is warned about (at the
    // start, at each reload and daily).
    k("zgate.tls.expiryWarningDays", Count, Lit("30")),
    // The audit trail (`<home>/audit/`): what happens when it cannot keep
    // a record, the writer's queue, checkpoints, rotation, the SMF system id.
    k("zgate.audit.enabled", Bool, Lit("true")),
    k(
        "zgate.audit.onFailure",
        OneOf(AUDIT_ON_FAILURE),
        Lit("refuse"),
    ),
    k("zgate.audit.queue", Count, Lit("65536")),
    k("zgate.audit.checkpointSeconds", Count, Lit("60")),
    k("zgate.audit.maxFileMB", Count, Lit("64")),
    k("zgate.audit.systemId", Text, Lit("ZGAT")),
    k("zgate.log.format", OneOf(&["text", "json"]), Lit("text")),
    k(
        "zgate.log.level",
        OneOf(&["error", "warn", "info", "debug", "trace"]),
        Lit("info"),
    ),
];

/// `apiml.security.oidc.validationType`: check a provider's tokens with its
/// key set (`JWK`) or by asking its userinfo endpoint (`endpoint`).
pub const OIDC_VALIDATION_TYPE: &str = "components.gateway.apiml.security.oidc.validationType";
/// The words of [`OIDC_VALIDATION_TYPE`].
pub const OIDC_VALIDATION_TYPES: &[&str] = &["JWK", "endpoint"];

/// Zowe's component whose keys override the gateway's for the OIDC settings
/// (API ML's ZAAS reads `components.zaas.<key>` before
/// `components.gateway.<key>`).
pub const ZAAS_PREFIX: &str = "components.zaas.";

/// The keys a `components.zaas.` twin may override.
pub const ZAAS_OVERRIDABLE: &[&str] = &["apiml.security.oidc.", "apiml.security.useInternalMapper"];

/// The gateway's own certificate keys: `components.gateway.certificate.<k>`
/// wins over `zowe.certificate.<k>` (the gateway's start script reads the
/// component's first).
pub const GATEWAY_CERTIFICATE_PREFIX: &str = "components.gateway.certificate.";

/// The keys [`GATEWAY_CERTIFICATE_PREFIX`] overrides.
pub const CERTIFICATE_PREFIX: &str = "zowe.certificate.";

/// Spring's OIDC client keys in a zowe.yaml, `<prefix><id>.<name>`, and the
/// zgate key each name lands in.
pub const OIDC_CLIENT_KEYS: &[(&str, &[(&str, &str)])] = &[
    (
        "components.gateway.spring.security.oauth2.client.registration.",
        &[
            ("clientId", "zgate.oidc.client.clientId"),
            ("clientSecret", "zgate.oidc.client.clientSecret"),
            ("redirectUri", "zgate.oidc.client.redirectUri"),
            ("scope", "zgate.oidc.client.scope"),
        ],
    ),
    (
        "components.gateway.spring.security.oauth2.client.provider.",
        &[
            ("authorizationUri", "zgate.oidc.client.authorizationUri"),
            ("tokenUri", "zgate.oidc.client.tokenUri"),
            ("userInfoUri", "zgate.oidc.client.userInfoUri"),
            ("userNameAttribute", "zgate.oidc.client.userNameAttribute"),
            ("jwkSetUri", "zgate.oidc.client.jwkSetUri"),
        ],
    ),
];

/// Where SAF checks are decided: `esm`, zgate's embedded security manager.
pub const AUTHORIZATION_PROVIDER: &str = "components.gateway.apiml.security.authorization.provider";

/// A value that names a z/OS facility zgate cannot reach. zgate's own
/// configuration and `--set` refuse it; a real zowe.yaml, written for z/OS,
/// is still read (Zowe's example sets `authorization.provider: native`) and
/// the value is reported as a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZosOnlyValue {
    /// The key.
    pub key: &'static str,
    /// The value (compared case-insensitively).
    pub value: &'static str,
    /// What the value asks for, and why zgate cannot do it.
    pub why: &'static str,
    /// What zgate does instead.
    pub instead: &'static str,
    /// The value that says what zgate does.
    pub replacement: &'static str,
}

/// Every [`ZosOnlyValue`].
pub const ZOS_ONLY_VALUES: &[ZosOnlyValue] = &[ZosOnlyValue {
    key: AUTHORIZATION_PROVIDER,
    value: "native",
    why: "`native` asks for z/OS SAF (RACF, ACF2 or Top Secret through the system), which exists only on z/OS",
    instead: "zgate decides SAF checks with its embedded ESM",
    replacement: "esm",
}];

/// Prefixes of the zowe.yaml sections zgate reads. An unknown key under one of
/// these in a real zowe.yaml is warned about (zgate does not support it); keys
/// elsewhere belong to other Zowe components and are ignored silently.
pub const SUPPORTED_SECTIONS: &[&str] = &[
    "zowe.certificate.",
    "zowe.setup.certificate.",
    "zowe.network.server.tls.",
    "zowe.network.client.tls.",
    "components.gateway.",
    "zgate.",
];

/// Looks a key up.
pub fn find(key: &str) -> Option<&'static KeySpec> {
    KEYS.iter().find(|spec| spec.key == key)
}

/// The known key closest to `key` (for "did you mean"), if reasonably close.
pub fn suggest(key: &str) -> Option<&'static str> {
    let lower = key.to_ascii_lowercase();
    KEYS.iter()
        .map(|spec| {
            (
                edit_distance(&lower, &spec.key.to_ascii_lowercase()),
                spec.key,
            )
        })
        .filter(|(distance, _)| *distance <= 3.max(key.len() / 8))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, key)| key)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique() {
        let mut names: Vec<_> = KEYS.iter().map(|spec| spec.key).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }

    #[test]
    fn suggests_misspelt_keys() {
        assert_eq!(
            suggest("components.gateway.prot"),
            Some("components.gateway.port")
        );
        assert_eq!(
            suggest("zowe.certificate.keystore.alais"),
            Some("zowe.certificate.keystore.alias")
        );
        assert_eq!(suggest("something.else.entirely"), None);
    }
}
