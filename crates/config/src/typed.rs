//! Phase two: the effective key table → typed, validated structs.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::keyring::{self, RingCertificate, RingName};
use crate::raw::RawValue;
use crate::schema::{self, Kind};
use crate::{ConfigError, Effective, Entry, Problem, Source};

pub use zgate_base::Secret;

/// A network access zone, as z/OS TCP/IP's `NETACCESS` statement defines
/// them: client addresses in `network/prefix_len` belong to zone `name`.
/// Written `NAME=address/prefix` in `zgate.network.zones`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkZone {
    /// The zone name: 1-8 of `A-Z 0-9 @ # $`, upper-cased (a NETACCESS
    /// zone name is one qualifier of a SERVAUTH profile name).
    pub name: String,
    /// The network's address (host bits zero).
    pub network: IpAddr,
    /// The prefix length.
    pub prefix_len: u8,
}

impl NetworkZone {
    /// Reads `NAME=address/prefix` (`address` alone is one host).
    pub fn parse(item: &str) -> Result<NetworkZone, String> {
        let (name, net) = item
            .split_once('=')
            .ok_or("expected NAME=address/prefix, e.g. INTRANET=10.0.0.0/8")?;
        let name = name.to_ascii_uppercase();
        let valid_name = (1..=8).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"@#$".contains(&b));
        if !valid_name {
            return Err(format!("zone name `{name}` is not 1-8 of A-Z 0-9 @ # $"));
        }
        let (addr, prefix) = match net.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (net, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{addr}` is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix_len = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`/{p}` is not a prefix length 0-{max}"))?,
        };
        if mask(addr, prefix_len) != addr {
            return Err(format!(
                "`{net}` has host bits set; write the network address"
            ));
        }
        Ok(NetworkZone {
            name,
            network: addr,
            prefix_len,
        })
    }

    /// Whether `addr` is in the zone (an IPv4-mapped IPv6 address counts as
    /// its IPv4 address).
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        addr.is_ipv4() == self.network.is_ipv4() && mask(addr, self.prefix_len) == self.network
    }

    /// The zone of `addr`: the most specific network that holds it, as
    /// NETACCESS decides.
    pub fn of(zones: &[NetworkZone], addr: IpAddr) -> Option<&str> {
        zones
            .iter()
            .filter(|z| z.contains(addr))
            .max_by_key(|z| z.prefix_len)
            .map(|z| z.name.as_str())
    }
}

fn mask(addr: IpAddr, prefix_len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = u32::MAX
                .checked_shl(32 - u32::from(prefix_len))
                .unwrap_or(0);
            IpAddr::V4((u32::from(a) & m).into())
        }
        IpAddr::V6(a) => {
            let m = u128::MAX
                .checked_shl(128 - u32::from(prefix_len))
                .unwrap_or(0);
            IpAddr::V6((u128::from(a) & m).into())
        }
    }
}

/// `zowe.verifyCertificates`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyCertificates {
    /// Chain to the truststore and host name.
    Strict,
    /// Chain only.
    NonStrict,
    /// Nothing (dangerous).
    Disabled,
}

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2.
    V1_2,
    /// TLS 1.3.
    V1_3,
}

/// `zowe.network.{server,client}.tls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// Lowest version offered.
    pub min: TlsVersion,
    /// Highest version offered.
    pub max: TlsVersion,
    /// IANA cipher suite names, in preference order.
    pub ciphers: Vec<String>,
    /// Whether `ciphers` was configured (file or `--set`) rather than left
    /// at Zowe's default: only a configured suite the TLS library does not
    /// offer is worth a warning.
    pub ciphers_configured: bool,
    /// Named groups, in preference order (empty: every group the TLS
    /// library offers).
    pub curves: Vec<String>,
}

/// Where a keystore or truststore is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeystoreLocation {
    /// A PKCS12 file.
    File(PathBuf),
    /// A key ring of the ESM (`safkeyring://OWNER/RING`, any of the four
    /// schemes, 2-4 slashes). A truststore may name a virtual ring (`ring`
    /// `*`, owner a user id, `*AUTH*` or `*SITE*`).
    Ring {
        /// The ring owner's user id, upper case.
        owner: String,
        /// The ring name, exact.
        ring: String,
        /// The label of the server certificate (the keystore's `alias`,
        /// exact); `None` for a truststore.
        label: Option<String>,
    },
}

impl KeystoreLocation {
    /// The ring, for a key ring.
    pub fn ring_name(&self) -> Option<RingName> {
        match self {
            KeystoreLocation::File(_) => None,
            KeystoreLocation::Ring { owner, ring, .. } => Some(RingName {
                owner: owner.clone(),
                ring: ring.clone(),
            }),
        }
    }
}

/// A keystore or truststore reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreRef {
    /// `PKCS12` or a keyring type.
    pub store_type: String,
    /// The file (or `safkeyring://` URL as written).
    pub file: PathBuf,
    /// Its password (a key ring's is the dummy `password` or empty).
    pub password: Secret,
    /// The file or key ring, checked.
    pub location: KeystoreLocation,
}

/// `zowe.certificate.*`: what the server runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateConfig {
    /// The keystore.
    pub keystore: StoreRef,
    /// The alias of the server key in it.
    pub keystore_alias: String,
    /// The truststore.
    pub truststore: StoreRef,
    /// PEM exports.
    pub pem_key: PathBuf,
    /// PEM certificate.
    pub pem_certificate: PathBuf,
    /// PEM CA files (the `pem.certificateAuthorities` entries that are
    /// files).
    pub pem_certificate_authorities: Vec<PathBuf>,
    /// The `pem.certificateAuthorities` entries that name a certificate in
    /// a key ring (`safkeyring://OWNER/RING&LABEL`).
    pub pem_certificate_authorities_in_rings: Vec<RingCertificate>,
}

/// Whose certificate `keyring.connect` connects (`connect.user`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateOwner {
    /// A SITE certificate.
    Site,
    /// A user's certificate (upper-case user id).
    User(String),
}

/// `zowe.setup.certificate.keyring.connect`: an existing certificate to
/// connect as the server's (scenario option 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyringConnect {
    /// Its owner.
    pub owner: CertificateOwner,
    /// Its label, exact.
    pub label: String,
}

/// `zowe.setup.certificate.keyring.import`: a PKCS#12 package with the
/// server's key to add (scenario option 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyringImport {
    /// The "data set": a host file for zgate, as written (a relative path
    /// is relative to the home when zgate runs the commands).
    pub ds_name: String,
    /// The package's password.
    pub password: Secret,
}

/// `zowe.setup.certificate.keyring.*`, present when
/// `zowe.setup.certificate.type` is a key ring type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyringSetup {
    /// The ring: `keyring.owner` (default the server's user) and
    /// `keyring.name`.
    pub ring: RingName,
    /// The user the server runs as (`zowe.setup.security.users.zowe`),
    /// who is given access to the ring.
    pub server_user: String,
    /// The server certificate's label (`keyring.label`).
    pub label: String,
    /// The local CA's label (`keyring.caLabel`).
    pub ca_label: String,
    /// An existing certificate to connect, when `connect.label` is set.
    pub connect: Option<KeyringConnect>,
    /// A package to import, when `import.dsName` is set.
    pub import: Option<KeyringImport>,
    /// z/OSMF's CA label (`keyring.zOSMF.ca`), to connect as CERTAUTH.
    pub zosmf_ca: Option<String>,
    /// z/OSMF's user (`keyring.zOSMF.user`).
    pub zosmf_user: String,
    /// CERTAUTH labels to connect (`importCertificateAuthorities`, at
    /// most two).
    pub certificate_authorities: Vec<String>,
}

/// `zowe.setup.certificate.*`: inputs for generating certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupCertificateConfig {
    /// Store type to generate.
    pub store_type: String,
    /// CA common name.
    pub ca_common_name: String,
    /// Server common name.
    pub common_name: String,
    /// OU.
    pub org_unit: String,
    /// O.
    pub org: String,
    /// L.
    pub locality: String,
    /// ST.
    pub state: String,
    /// C.
    pub country: String,
    /// Validity in days.
    pub validity_days: u32,
    /// SAN entries (empty: the external domains).
    pub san: Vec<String>,
    /// Extra CA PEM files to trust.
    pub import_certificate_authorities: Vec<PathBuf>,
    /// Keystore directory.
    pub directory: PathBuf,
    /// Server alias / file stem.
    pub name: String,
    /// Server keystore password.
    pub password: Secret,
    /// CA alias.
    pub ca_alias: String,
    /// CA keystore password.
    pub ca_password: Secret,
    /// Restrict file permissions.
    pub lock: bool,
    /// Write GSKit-compatible (legacy) PKCS12 encryption.
    pub legacy_pkcs12: bool,
    /// An existing PKCS12 to import instead of generating.
    pub import_keystore: Option<PathBuf>,
    /// Its password.
    pub import_password: Option<Secret>,
    /// The alias to import.
    pub import_alias: Option<String>,
    /// The key ring to set up, when `store_type` is a key ring type.
    pub keyring: Option<KeyringSetup>,
}

/// `components.gateway.apiml.security.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityConfig {
    /// JWT lifetime in seconds.
    pub token_expiration_seconds: u64,
    /// Whether `/auth/refresh` is served.
    pub allow_token_refresh: bool,
    /// Whether client certificates log in.
    pub x509_enabled: bool,
    /// Whether personal access tokens are offered.
    pub personal_access_token_enabled: bool,
    /// The security domain in tokens (`dom`).
    pub security_domain: String,
    /// `Max-Age` of the token cookie (None: a session cookie).
    pub cookie_max_age_seconds: Option<u64>,
    /// What separates password and MFA code in the password field (`zgate.mfa.separator`).
    pub mfa_separator: String,
    /// TOTP steps accepted either side of now (`zgate.mfa.skewSteps`).
    pub mfa_skew_steps: u32,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `zgate.audit.onFailure`: what happens to a record the trail cannot take
/// (its queue is full, or the disk fails).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOnFailure {
    /// Refuse what must be recorded: a logon, a check or a token that
    /// cannot be recorded is not granted (RACF's fail-closed default).
    Refuse,
    /// Grant it anyway and count the dropped record.
    Count,
}

/// The most records `zgate.audit.queue` may ask for (16 Mi).
pub const MAX_AUDIT_QUEUE: u64 = 1 << 24;

/// `zgate.audit.*`: the audit trail of security decisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// Whether decisions are recorded at all.
    pub enabled: bool,
    /// What happens to a record the trail cannot take.
    pub on_failure: AuditOnFailure,
    /// Records the writer's queue holds (at least 1).
    pub queue: usize,
    /// A signed checkpoint at least this often while records arrive.
    pub checkpoint_seconds: u64,
    /// A trail file is rotated at this size, in MiB.
    pub max_file_mb: u64,
    /// The SMF system id in every record: 1-4 of `A-Z 0-9 @ # $`.
    pub system_id: String,
}

/// How a provider's tokens are validated (`apiml.security.oidc.validationType`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OidcValidation {
    /// With the provider's key set (`JWK`): fetched at start, again on
    /// schedule and on an unknown `kid`.
    Jwk {
        /// `jwks.uri`.
        uri: String,
        /// `jwks.refreshInternalHours`: the scheduled refresh when the
        /// provider's answer says nothing (`Cache-Control`), in hours.
        refresh_hours: u64,
    },
    /// By asking the provider's userinfo endpoint (`endpoint`).
    Endpoint {
        /// `userInfo.uri`.
        userinfo_uri: String,
    },
}

/// The algorithms `zgate.oidc.algorithms` may name.
pub const OIDC_ALGORITHMS: &[&str] = &["RS256", "PS256", "ES256", "ES384"];

/// The longest `zgate.storeOutageGraceSeconds`.
pub const MAX_STORE_OUTAGE_GRACE_SECONDS: u64 = 300;

/// The longest `zgate.tls.reloadCheckSeconds`: a day.
pub const MAX_TLS_RELOAD_CHECK_SECONDS: u64 = 86_400;

/// The most `zgate.tls.expiryWarningDays`: ten years.
pub const MAX_EXPIRY_WARNING_DAYS: u64 = 3_650;

/// When the certificates are looked at again (`zgate.tls.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsReloadConfig {
    /// Seconds between looks for a changed keystore or truststore; 0: only
    /// on SIGHUP.
    pub check_seconds: u64,
    /// Certificates expiring within this many days are warned about.
    pub expiry_warning_days: u32,
}

/// The most clock skew `zgate.oidc.skewSeconds` may allow.
pub const MAX_OIDC_SKEW_SECONDS: u64 = 60;

/// The least time `zgate.oidc.refetchIntervalSeconds` may put between two
/// key fetches forced by unknown `kid`s.
pub const MIN_OIDC_REFETCH_SECONDS: u64 = 60;

/// Tokens of an OpenID Connect provider (`apiml.security.oidc.*` and
/// `zgate.oidc.*`), present when `apiml.security.oidc.enabled`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// The registry name of the distributed identities (RACMAP `REGISTRY`).
    pub registry: String,
    /// JWK or userinfo endpoint.
    pub validation: OidcValidation,
    /// The `iss` values accepted, compared exactly.
    pub issuers: Vec<String>,
    /// `aud` must hold one of these.
    pub audiences: Vec<String>,
    /// The signature algorithms accepted (of [`OIDC_ALGORITHMS`]).
    pub algorithms: Vec<String>,
    /// Clock skew on `exp`, `nbf` and `iat`, in seconds.
    pub skew_seconds: u64,
    /// Tokens older than this (by `iat`) are refused, when set.
    pub max_token_age_seconds: Option<u64>,
    /// Key fetches forced by an unknown `kid` at most this often, seconds.
    pub refetch_interval_seconds: u64,
    /// When set, `azp` (or `client_id`) must be one of these.
    pub authorized_parties: Vec<String>,
    /// Whether the token's `typ` must be `at+jwt` (RFC 9068).
    pub require_access_token_type: bool,
    /// `SameSite` of the login flow's cookies.
    pub cookie_same_site: String,
    /// zgate as the provider's client (the authorization-code login), when
    /// a registration is configured.
    pub client: Option<OidcClientConfig>,
}

/// zgate as an OIDC client (`zgate.oidc.client.*`, or Spring's
/// `registration.<id>` / `provider.<id>` keys of a zowe.yaml).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcClientConfig {
    /// The registration id (`{id}` in `/gateway/oauth2/authorization/{id}`).
    pub registration_id: String,
    /// The client id at the provider.
    pub client_id: String,
    /// The client secret (`client_secret_basic`).
    pub client_secret: Secret,
    /// The redirect URI registered at the provider; `None`: the gateway's
    /// callback on the host the browser used.
    pub redirect_uri: Option<String>,
    /// Scopes asked for.
    pub scope: Vec<String>,
    /// The provider's authorization endpoint.
    pub authorization_uri: String,
    /// The provider's token endpoint.
    pub token_uri: String,
    /// A resource indicator (RFC 8707) asked for, if any.
    pub resource: Option<String>,
    /// Where a login may return to besides the gateway's own paths:
    /// origins (`https://host:port`) or URL prefixes.
    pub return_urls: Vec<String>,
}

/// Whether `text` is a URL zgate will fetch from a provider: `https`, or
/// `http` to this host (a test or a local provider); no blanks or controls.
pub fn is_provider_url(text: &str) -> bool {
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let (rest, https) = match (text.strip_prefix("https://"), text.strip_prefix("http://")) {
        (Some(rest), _) => (rest, true),
        (None, Some(rest)) => (rest, false),
        (None, None) => return false,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map_or("", |(h, _)| h),
        None => authority.split(':').next().unwrap_or(""),
    };
    !host.is_empty()
        && !authority.contains('@')
        && (https || matches!(host, "127.0.0.1" | "localhost" | "::1"))
}

/// The gateway listener and runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    /// `components.gateway.port`.
    pub port: u16,
    /// Address to bind.
    pub address: IpAddr,
    /// Seconds in-flight requests get to finish on shutdown.
    pub shutdown_grace_seconds: u64,
    /// Server-side TLS.
    pub tls: TlsSettings,
    /// Security options.
    pub security: SecurityConfig,
}

/// Where the ESM keeps the security state (`zgate.store`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// The embedded SQLite database file (the default, `<home>/esm.db`).
    Sqlite(PathBuf),
    /// A PostgreSQL database that several gateways share: its
    /// `postgres://` or `postgresql://` URL, a secret since it may hold a
    /// password.
    Postgres(Secret),
}

impl StoreLocation {
    /// Reads a `zgate.store` value; relative paths resolve against `home`.
    pub fn parse(home: &Path, text: &str) -> Result<StoreLocation, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(StoreLocation::Sqlite(home.join("esm.db")));
        }
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return Ok(StoreLocation::Postgres(Secret::new(text)));
        }
        if let Some((scheme, _)) = text.split_once("://") {
            // Never the value: it may hold a password.
            return Err(format!(
                "`{scheme}://` is not a store zgate knows: a path to the SQLite file, or a postgres:// or postgresql:// URL"
            ));
        }
        Ok(StoreLocation::Sqlite(resolve(home, text)))
    }
}

/// The whole validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The home directory.
    pub home: PathBuf,
    /// Runtime certificates.
    pub certificate: CertificateConfig,
    /// Certificate generation inputs.
    pub setup_certificate: SetupCertificateConfig,
    /// Peer verification mode.
    pub verify_certificates: VerifyCertificates,
    /// Host names clients use.
    pub external_domains: Vec<String>,
    /// Outbound TLS.
    pub client_tls: TlsSettings,
    /// The gateway.
    pub gateway: GatewayConfig,
    /// Routed service definitions.
    pub services_directory: PathBuf,
    /// Per-service SAF authorization of routed requests.
    pub services_authorization: bool,
    /// Network access zones (`zgate.network.zones`).
    pub network_zones: Vec<NetworkZone>,
    /// Where the ESM keeps the security state (`zgate.store`).
    pub store: StoreLocation,
    /// How long decisions go on from memory while the store does not
    /// answer (`zgate.storeOutageGraceSeconds`, 1-300).
    pub store_outage_grace_seconds: u64,
    /// The audit trail (`zgate.audit.*`).
    pub audit: AuditConfig,
    /// Certificate reloads and expiry warnings (`zgate.tls.*`).
    pub tls_reload: TlsReloadConfig,
    /// An OpenID Connect provider's tokens, when enabled.
    pub oidc: Option<OidcConfig>,
    /// Log format.
    pub log_format: LogFormat,
    /// Log level name.
    pub log_level: String,
}

/// Reads typed values out of the table, collecting every problem.
struct Reader<'a> {
    effective: &'a Effective,
    problems: Vec<Problem>,
}

impl Reader<'_> {
    fn entry(&self, key: &str) -> Option<&Entry> {
        self.effective.get(key)
    }

    fn bad(&mut self, entry: &Entry, message: String) {
        self.problems.push(Problem {
            source: entry.source.clone(),
            key: entry.spec.key.to_string(),
            message,
        });
    }

    fn scalar(&mut self, key: &str) -> Option<String> {
        let entry = self.entry(key)?.clone();
        match &entry.value {
            None => None,
            Some(RawValue::Scalar(text)) => Some(text.trim().to_string()),
            Some(_) => {
                self.bad(&entry, "expected a single value, not a list".to_string());
                None
            }
        }
    }

    /// The value as written, blanks kept: a name must not be trimmed into
    /// another one.
    fn untrimmed(&mut self, key: &str) -> Option<String> {
        let entry = self.entry(key)?.clone();
        match &entry.value {
            None => None,
            Some(RawValue::Scalar(text)) => Some(text.clone()),
            Some(_) => {
                self.bad(&entry, "expected a single value, not a list".to_string());
                None
            }
        }
    }

    /// A certificate label, exact (`None` when unset).
    fn label(&mut self, key: &str) -> Option<String> {
        let label = self.untrimmed(key).filter(|text| !text.is_empty())?;
        match keyring::check_label(&label) {
            Ok(()) => Some(label),
            Err(why) => {
                self.bad_key(key, why.to_string());
                None
            }
        }
    }

    /// A RACF user id, upper-cased (`None` when unset).
    fn user_id(&mut self, key: &str) -> Option<String> {
        let text = self.untrimmed(key).filter(|text| !text.is_empty())?;
        match keyring::normalize_user_id(&text) {
            Ok(id) => Some(id),
            Err(why) => {
                self.bad_key(key, why.to_string());
                None
            }
        }
    }

    /// `type`, `file`, `password` of a keystore (`alias` given) or a
    /// truststore under `prefix`.
    fn store_ref(&mut self, prefix: &str, alias: Option<&str>) -> StoreRef {
        let type_key = format!("{prefix}.type");
        let file_key = format!("{prefix}.file");
        let password_key = format!("{prefix}.password");
        let store_type = self.word(&type_key);
        if keyring::JAVA_STORE_TYPES.contains(&store_type.as_str()) {
            self.bad_key(
                &type_key,
                format!(
                    "{store_type} is a Java keystore file, which zgate cannot read: convert it to PKCS12 \
                     (keytool -importkeystore -deststoretype PKCS12) or use a key ring type ({})",
                    keyring::RING_STORE_TYPES.join(", ")
                ),
            );
        }
        let password = self.secret(&password_key);
        if !keyring::is_ring_type(&store_type) {
            let file = self.required_path(&file_key);
            if keyring::is_ring_url(&file.to_string_lossy()) {
                self.bad_key(
                    &file_key,
                    format!(
                        "a key ring URL needs a key ring type ({}), not {store_type}",
                        keyring::RING_STORE_TYPES.join(", ")
                    ),
                );
            }
            return StoreRef {
                store_type,
                location: KeystoreLocation::File(file.clone()),
                file,
                password,
            };
        }
        let text = self.untrimmed(&file_key).unwrap_or_default();
        let ring = if keyring::is_ring_url(&text) {
            match keyring::parse_ring_url(&text, alias.is_none()) {
                Ok(ring) => Some(ring),
                Err(why) => {
                    self.bad_key(&file_key, why.to_string());
                    None
                }
            }
        } else {
            self.bad_key(
                &file_key,
                format!(
                    "with type {store_type} the file is a key ring: safkeyring://OWNER/RING, not `{}`",
                    text.escape_debug()
                ),
            );
            None
        };
        // Java needs some password for a ring; Zowe's schema allows only
        // these two, and zgate as well: any other value is a mistake.
        if !matches!(password.expose(), "" | "password") {
            self.bad_key(
                &password_key,
                "a key ring has no password: write `password` (Zowe's dummy value) or leave it empty"
                    .into(),
            );
        }
        let label = match alias {
            Some(label) => match keyring::check_label(label) {
                Ok(()) => Some(label.to_owned()),
                Err(why) => {
                    self.bad_key(
                        &format!("{prefix}.alias"),
                        format!("the alias is the certificate's label in the ring: {why}"),
                    );
                    None
                }
            },
            None => None,
        };
        let ring = ring.unwrap_or_else(|| RingName {
            owner: String::new(),
            ring: String::new(),
        });
        StoreRef {
            store_type,
            file: PathBuf::from(&text),
            password,
            location: KeystoreLocation::Ring {
                owner: ring.owner,
                ring: ring.ring,
                label,
            },
        }
    }

    /// `pem.certificateAuthorities`: files, and certificates in rings.
    fn certificate_authorities(
        &mut self,
        key: &str,
        in_ring_setup: bool,
    ) -> (Vec<PathBuf>, Vec<RingCertificate>) {
        let at_default = self
            .entry(key)
            .is_some_and(|entry| entry.source == Source::Default);
        // The default names the local CA file of the PKCS12 setup, which a
        // key ring setup does not have.
        if at_default && in_ring_setup {
            return (Vec::new(), Vec::new());
        }
        let home = self.effective.home.clone();
        let (mut files, mut rings) = (Vec::new(), Vec::new());
        for item in self.list(key) {
            if keyring::is_ring_url(&item) {
                match keyring::parse_ring_certificate(&item) {
                    Ok(ca) => rings.push(ca),
                    Err(why) => self.bad_key(key, why.to_string()),
                }
            } else {
                files.push(resolve(&home, &item));
            }
        }
        (files, rings)
    }

    /// `zowe.setup.certificate.keyring.*` for a key ring setup.
    fn keyring_setup(&mut self) -> Option<KeyringSetup> {
        const KEYRING: &str = "zowe.setup.certificate.keyring.";
        let key = |name: &str| format!("{KEYRING}{name}");
        let server_user = self
            .user_id("zowe.setup.security.users.zowe")
            .unwrap_or_else(|| "ZWESVUSR".to_owned());
        let owner = self
            .user_id(&key("owner"))
            .unwrap_or_else(|| server_user.clone());
        let name = self.untrimmed(&key("name")).unwrap_or_default();
        let ring = if name.is_empty() {
            self.bad_key(
                &key("name"),
                "required for a key ring setup: the ring's name, e.g. ZoweKeyring".into(),
            );
            None
        } else {
            match keyring::check_ring_name(&name) {
                Ok(()) => Some(name),
                Err(why) => {
                    self.bad_key(&key("name"), why.to_string());
                    None
                }
            }
        };
        let label = self
            .label(&key("label"))
            .unwrap_or_else(|| "localhost".into());
        let ca_label = self
            .label(&key("caLabel"))
            .unwrap_or_else(|| "localca".into());
        let connect = match self.label(&key("connect.label")) {
            None => None,
            Some(label) => {
                let user = self
                    .untrimmed(&key("connect.user"))
                    .filter(|text| !text.is_empty());
                let owner = match user {
                    None => {
                        self.bad_key(
                            &key("connect.user"),
                            "required with connect.label: SITE, or the user id owning the certificate"
                                .into(),
                        );
                        None
                    }
                    Some(user) if user.eq_ignore_ascii_case("SITE") => Some(CertificateOwner::Site),
                    Some(_) => self
                        .user_id(&key("connect.user"))
                        .map(CertificateOwner::User),
                };
                owner.map(|owner| KeyringConnect { owner, label })
            }
        };
        let import = match self
            .untrimmed(&key("import.dsName"))
            .filter(|text| !text.is_empty())
        {
            None => None,
            Some(ds_name) => {
                if ds_name.chars().any(char::is_control) || ds_name.trim() != ds_name {
                    self.bad_key(
                        &key("import.dsName"),
                        "blanks around the name or control characters in it".into(),
                    );
                }
                let password = self.secret(&key("import.password"));
                if password.expose().is_empty() {
                    self.bad_key(
                        &key("import.password"),
                        "required with import.dsName: the password of the PKCS#12 package".into(),
                    );
                }
                Some(KeyringImport { ds_name, password })
            }
        };
        let zosmf_ca = self.label(&key("zOSMF.ca"));
        let zosmf_user = self
            .user_id(&key("zOSMF.user"))
            .unwrap_or_else(|| "IZUSVR".into());
        const CAS: &str = "zowe.setup.certificate.importCertificateAuthorities";
        let mut certificate_authorities = Vec::new();
        for label in self.list(CAS) {
            match keyring::check_label(&label) {
                Ok(()) => certificate_authorities.push(label),
                Err(why) => self.bad_key(CAS, format!("a CERTAUTH label: {why}")),
            }
        }
        if certificate_authorities.len() > 2 {
            self.bad_key(
                CAS,
                "at most two certificate authorities are connected to a key ring (Zowe's intermediate and root)"
                    .into(),
            );
        }
        Some(KeyringSetup {
            ring: RingName { owner, ring: ring? },
            server_user,
            label,
            ca_label,
            connect,
            import,
            zosmf_ca,
            zosmf_user,
            certificate_authorities,
        })
    }

    fn text(&mut self, key: &str) -> String {
        self.scalar(key).unwrap_or_default()
    }

    fn opt_text(&mut self, key: &str) -> Option<String> {
        self.scalar(key).filter(|text| !text.is_empty())
    }

    fn secret(&mut self, key: &str) -> Secret {
        Secret::new(self.text(key))
    }

    fn list(&mut self, key: &str) -> Vec<String> {
        let Some(entry) = self.entry(key).cloned() else {
            return Vec::new();
        };
        match entry.value {
            None => Vec::new(),
            Some(RawValue::Scalar(text)) => split_list(&text),
            Some(RawValue::List(items)) => items
                .into_iter()
                .map(|item| item.trim().to_string())
                .filter(|item| !item.is_empty())
                .collect(),
            Some(RawValue::Complex) => {
                self.bad(&entry, "expected a list of values".to_string());
                Vec::new()
            }
        }
    }

    fn network_zones(&mut self, key: &str) -> Vec<NetworkZone> {
        let items = self.list(key);
        let mut zones = Vec::new();
        for item in items {
            match NetworkZone::parse(&item) {
                Ok(zone) => zones.push(zone),
                Err(why) => {
                    if let Some(entry) = self.entry(key).cloned() {
                        self.bad(&entry, format!("`{item}`: {why}"));
                    }
                }
            }
        }
        zones
    }

    fn store(&mut self, key: &str) -> StoreLocation {
        let text = self.text(key);
        let home = self.effective.home.clone();
        match StoreLocation::parse(&home, &text) {
            Ok(location) => location,
            Err(why) => {
                if let Some(entry) = self.entry(key).cloned() {
                    self.bad(&entry, why);
                }
                StoreLocation::Sqlite(home.join("esm.db"))
            }
        }
    }

    fn path(&mut self, key: &str) -> Option<PathBuf> {
        self.opt_text(key)
            .map(|text| resolve(&self.effective.home, &text))
    }

    fn required_path(&mut self, key: &str) -> PathBuf {
        match self.path(key) {
            Some(path) => path,
            None => {
                if let Some(entry) = self.entry(key).cloned() {
                    self.bad(&entry, "a path is required".to_string());
                }
                PathBuf::new()
            }
        }
    }

    fn paths(&mut self, key: &str) -> Vec<PathBuf> {
        let home = self.effective.home.clone();
        self.list(key)
            .iter()
            .map(|item| resolve(&home, item))
            .collect()
    }

    fn number(&mut self, key: &str) -> Option<u64> {
        let text = self.scalar(key)?;
        if text.is_empty() {
            return None;
        }
        match text.parse::<u64>() {
            Ok(value) => Some(value),
            Err(_) => {
                if let Some(entry) = self.entry(key).cloned() {
                    self.bad(
                        &entry,
                        format!("`{text}` is not a non-negative whole number"),
                    );
                }
                None
            }
        }
    }

    fn port(&mut self, key: &str) -> Option<u16> {
        let text = self.scalar(key)?;
        if text.is_empty() {
            return None;
        }
        match text.parse::<u16>() {
            Ok(port) if port > 0 => Some(port),
            _ => {
                if let Some(entry) = self.entry(key).cloned() {
                    self.bad(&entry, format!("`{text}` is not a port number (1-65535)"));
                }
                None
            }
        }
    }

    fn boolean(&mut self, key: &str) -> bool {
        let Some(text) = self.scalar(key) else {
            return false;
        };
        match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => true,
            "false" | "no" | "off" | "" => false,
            _ => {
                if let Some(entry) = self.entry(key).cloned() {
                    self.bad(&entry, format!("`{text}` is not true or false"));
                }
                false
            }
        }
    }

    /// One of the words listed in the key's schema kind; returns the canonical
    /// spelling.
    fn word(&mut self, key: &str) -> String {
        let Some(entry) = self.entry(key).cloned() else {
            return String::new();
        };
        let text = self.text(key);
        let Kind::OneOf(words) = entry.spec.kind else {
            return text;
        };
        match words.iter().find(|word| word.eq_ignore_ascii_case(&text)) {
            Some(word) => (*word).to_string(),
            None => {
                self.bad(
                    &entry,
                    format!("`{text}` is not one of {}", words.join(", ")),
                );
                words.first().map(|w| (*w).to_string()).unwrap_or_default()
            }
        }
    }

    /// A count of at least 1 (`default` when absent or unreadable).
    fn positive(&mut self, key: &str, default: u64) -> u64 {
        match self.number(key) {
            Some(0) => {
                if let Some(entry) = self.entry(key).cloned() {
                    self.bad(
                        &entry,
                        format!("must be at least 1; the default is {default}"),
                    );
                }
                default
            }
            Some(n) => n,
            None => default,
        }
    }

    fn audit(&mut self) -> AuditConfig {
        let on_failure = match self.word("zgate.audit.onFailure").as_str() {
            "count" => AuditOnFailure::Count,
            _ => AuditOnFailure::Refuse,
        };
        // The queue's slots are allocated when the writer starts.
        let queue = match self.positive("zgate.audit.queue", 65536) {
            n if n > MAX_AUDIT_QUEUE => {
                if let Some(entry) = self.entry("zgate.audit.queue").cloned() {
                    self.bad(
                        &entry,
                        format!(
                            "`{n}` records is more than the {MAX_AUDIT_QUEUE} a queue may hold"
                        ),
                    );
                }
                65536
            }
            n => usize::try_from(n).unwrap_or(65536),
        };
        let system_id = self.text("zgate.audit.systemId").to_ascii_uppercase();
        // SMF80SID is four EBCDIC characters of a z/OS system name.
        let valid = (1..=4).contains(&system_id.len())
            && system_id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"@#$".contains(&b));
        if !valid {
            if let Some(entry) = self.entry("zgate.audit.systemId").cloned() {
                self.bad(
                    &entry,
                    format!("`{system_id}` is not 1-4 of A-Z 0-9 @ # $ (an SMF system id)"),
                );
            }
        }
        AuditConfig {
            enabled: self.boolean("zgate.audit.enabled"),
            on_failure,
            queue,
            checkpoint_seconds: self.positive("zgate.audit.checkpointSeconds", 60),
            max_file_mb: self.positive("zgate.audit.maxFileMB", 64),
            system_id,
        }
    }

    /// Reports `message` against `key` (which must be in the table).
    fn bad_key(&mut self, key: &str, message: String) {
        if let Some(entry) = self.entry(key).cloned() {
            self.bad(&entry, message);
        }
    }

    /// A provider URL (see [`is_provider_url`]), required.
    fn provider_url(&mut self, key: &str, why: &str) -> String {
        let text = self.text(key);
        if text.is_empty() {
            self.bad_key(key, format!("required {why}"));
        } else if !is_provider_url(&text) {
            self.bad_key(
                key,
                format!(
                    "`{text}` is not an https URL (http only to 127.0.0.1, localhost or [::1])"
                ),
            );
        }
        text
    }

    fn oidc(&mut self) -> Option<OidcConfig> {
        const OIDC: &str = "components.gateway.apiml.security.oidc.";
        let key = |name: &str| format!("{OIDC}{name}");
        let enabled = self.boolean(&key("enabled"));
        let client = self.oidc_client();
        if !enabled {
            return None;
        }
        let registry = self.text(&key("registry"));
        if registry.is_empty() {
            self.bad_key(
                &key("registry"),
                "required when OIDC is enabled: the registry name of RACMAP's REGISTRY(NAME(...)) (API ML: ZWEAT610E Missing registry name configuration)".into(),
            );
        } else if registry.len() > 252 {
            self.bad_key(&key("registry"), "longer than RACF's 252 bytes".into());
        }
        let validation = match self.word(schema::OIDC_VALIDATION_TYPE).as_str() {
            "endpoint" => OidcValidation::Endpoint {
                userinfo_uri: self
                    .provider_url(&key("userInfo.uri"), "when validationType is endpoint"),
            },
            _ => {
                let hours = self.positive(&key("jwks.refreshInternalHours"), 1);
                OidcValidation::Jwk {
                    uri: self.provider_url(&key("jwks.uri"), "when validationType is JWK"),
                    refresh_hours: hours.min(24),
                }
            }
        };
        let issuers = self.list("zgate.oidc.issuers");
        if issuers.is_empty() {
            self.bad_key(
                "zgate.oidc.issuers",
                "required when OIDC is enabled: the provider's issuer (its `iss`, exactly)".into(),
            );
        }
        for issuer in issuers.clone() {
            if !is_provider_url(&issuer) {
                self.bad_key(
                    "zgate.oidc.issuers",
                    format!("`{issuer}` is not an https URL (http only to 127.0.0.1, localhost or [::1])"),
                );
            }
        }
        let audiences = self.list("zgate.oidc.audiences");
        if audiences.is_empty() {
            self.bad_key(
                "zgate.oidc.audiences",
                "required when OIDC is enabled: an `aud` the provider puts in tokens for zgate"
                    .into(),
            );
        }
        let mut algorithms = Vec::new();
        for name in self.list("zgate.oidc.algorithms") {
            match OIDC_ALGORITHMS
                .iter()
                .find(|a| a.eq_ignore_ascii_case(&name))
            {
                Some(a) => algorithms.push((*a).to_owned()),
                None => self.bad_key(
                    "zgate.oidc.algorithms",
                    format!("`{name}` is not one of {}", OIDC_ALGORITHMS.join(", ")),
                ),
            }
        }
        if algorithms.is_empty() {
            self.bad_key("zgate.oidc.algorithms", "names no algorithm".into());
        }
        let skew_seconds = self.number("zgate.oidc.skewSeconds").unwrap_or(30);
        if skew_seconds > MAX_OIDC_SKEW_SECONDS {
            self.bad_key(
                "zgate.oidc.skewSeconds",
                format!("{skew_seconds} s is more than the {MAX_OIDC_SKEW_SECONDS} s allowed"),
            );
        }
        let refetch_interval_seconds = self
            .number("zgate.oidc.refetchIntervalSeconds")
            .unwrap_or(MIN_OIDC_REFETCH_SECONDS);
        if refetch_interval_seconds < MIN_OIDC_REFETCH_SECONDS {
            self.bad_key(
                "zgate.oidc.refetchIntervalSeconds",
                format!("less than {MIN_OIDC_REFETCH_SECONDS} s: an unknown kid must not make zgate hammer the provider"),
            );
        }
        Some(OidcConfig {
            registry,
            validation,
            issuers,
            audiences,
            algorithms,
            skew_seconds: skew_seconds.min(MAX_OIDC_SKEW_SECONDS),
            max_token_age_seconds: self.number("zgate.oidc.maxTokenAgeSeconds"),
            refetch_interval_seconds: refetch_interval_seconds.max(MIN_OIDC_REFETCH_SECONDS),
            authorized_parties: self.list("zgate.oidc.authorizedParties"),
            require_access_token_type: self.boolean("zgate.oidc.requireAccessTokenType"),
            cookie_same_site: self.word("components.gateway.apiml.security.oidc.cookie.sameSite"),
            client,
        })
    }

    fn oidc_client(&mut self) -> Option<OidcClientConfig> {
        let registration_id = self.opt_text("zgate.oidc.client.registrationId")?;
        let valid_id = registration_id.len() <= 64
            && registration_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid_id {
            self.bad_key(
                "zgate.oidc.client.registrationId",
                format!("`{registration_id}` is not 1-64 of A-Z a-z 0-9 - _"),
            );
        }
        let client_id = self.text("zgate.oidc.client.clientId");
        if client_id.is_empty() {
            self.bad_key(
                "zgate.oidc.client.clientId",
                "required for an OIDC client registration".into(),
            );
        }
        let redirect_uri = self.opt_text("zgate.oidc.client.redirectUri");
        if let Some(uri) = &redirect_uri {
            if !uri.starts_with("https://") {
                self.bad_key(
                    "zgate.oidc.client.redirectUri",
                    format!("`{uri}` is not an https URL"),
                );
            }
        }
        let _ = self.opt_text("zgate.oidc.client.userInfoUri");
        let _ = self.opt_text("zgate.oidc.client.jwkSetUri");
        let _ = self.opt_text("zgate.oidc.client.userNameAttribute");
        Some(OidcClientConfig {
            registration_id,
            client_id,
            client_secret: self.secret("zgate.oidc.client.clientSecret"),
            redirect_uri,
            scope: self.list("zgate.oidc.client.scope"),
            authorization_uri: self.provider_url(
                "zgate.oidc.client.authorizationUri",
                "for an OIDC client registration",
            ),
            token_uri: self.provider_url(
                "zgate.oidc.client.tokenUri",
                "for an OIDC client registration",
            ),
            resource: self.opt_text("zgate.oidc.client.resource"),
            return_urls: self.list("zgate.oidc.client.returnUrls"),
        })
    }

    fn tls_version(&mut self, key: &str) -> TlsVersion {
        match self.word(key).as_str() {
            "TLSv1.2" => TlsVersion::V1_2,
            _ => TlsVersion::V1_3,
        }
    }

    fn tls(&mut self, side: &str) -> TlsSettings {
        let min = self.tls_version(&format!("zowe.network.{side}.tls.minTls"));
        let max = self.tls_version(&format!("zowe.network.{side}.tls.maxTls"));
        if min > max {
            if let Some(entry) = self
                .entry(&format!("zowe.network.{side}.tls.minTls"))
                .cloned()
            {
                self.bad(&entry, "minTls is higher than maxTls".to_string());
            }
        }
        let ciphers = format!("zowe.network.{side}.tls.ciphers");
        TlsSettings {
            min,
            max,
            ciphers: self.list(&ciphers),
            ciphers_configured: self
                .entry(&ciphers)
                .is_some_and(|entry| entry.source != Source::Default),
            curves: self.list(&format!("zowe.network.{side}.tls.curves")),
        }
    }
}

fn split_list(text: &str) -> Vec<String> {
    let text = text.trim();
    let text = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    text.split(',')
        .map(|item| item.trim().trim_matches('"').trim_matches('\'').to_string())
        .filter(|item| !item.is_empty())
        .collect()
}

/// Relative paths (and the `<home>/` placeholder of defaults) resolve against
/// the home directory.
fn resolve(home: &Path, text: &str) -> PathBuf {
    if let Some(rest) = text.strip_prefix("<home>/") {
        return home.join(rest);
    }
    let path = PathBuf::from(text);
    if path.is_absolute() || text.contains("://") {
        path
    } else {
        home.join(path)
    }
}

impl Config {
    /// Phase two: checks every value and builds the typed configuration.
    pub fn from_effective(effective: &Effective) -> Result<Config, ConfigError> {
        let mut r = Reader {
            effective,
            problems: Vec::new(),
        };

        let keystore_alias = r.text("zowe.certificate.keystore.alias");
        let alias_as_written = r
            .untrimmed("zowe.certificate.keystore.alias")
            .unwrap_or_default();
        let keystore = r.store_ref("zowe.certificate.keystore", Some(&alias_as_written));
        let truststore = r.store_ref("zowe.certificate.truststore", None);
        let in_rings = matches!(keystore.location, KeystoreLocation::Ring { .. });
        let (pem_certificate_authorities, pem_certificate_authorities_in_rings) =
            r.certificate_authorities("zowe.certificate.pem.certificateAuthorities", in_rings);
        let certificate = CertificateConfig {
            keystore_alias: if in_rings {
                alias_as_written
            } else {
                keystore_alias
            },
            keystore,
            truststore,
            pem_key: r.required_path("zowe.certificate.pem.key"),
            pem_certificate: r.required_path("zowe.certificate.pem.certificate"),
            pem_certificate_authorities,
            pem_certificate_authorities_in_rings,
        };

        let validity = r.number("zowe.setup.certificate.validity").unwrap_or(3650);
        let validity_days = match u32::try_from(validity) {
            Ok(days) if (1..=36500).contains(&days) => days,
            _ => {
                if let Some(entry) = r.entry("zowe.setup.certificate.validity").cloned() {
                    r.bad(
                        &entry,
                        format!("`{validity}` days is out of range (1-36500)"),
                    );
                }
                3650
            }
        };
        let setup_type = r.word("zowe.setup.certificate.type");
        if keyring::JAVA_STORE_TYPES.contains(&setup_type.as_str()) {
            r.bad_key(
                "zowe.setup.certificate.type",
                format!(
                    "zgate cannot write {setup_type} (a Java keystore file): use PKCS12 or a key ring type ({})",
                    keyring::RING_STORE_TYPES.join(", ")
                ),
            );
        }
        let setup_keyring = if keyring::is_ring_type(&setup_type) {
            r.keyring_setup()
        } else {
            None
        };
        let setup_certificate = SetupCertificateConfig {
            store_type: setup_type,
            ca_common_name: r.text("zowe.setup.certificate.dname.caCommonName"),
            common_name: r.text("zowe.setup.certificate.dname.commonName"),
            org_unit: r.text("zowe.setup.certificate.dname.orgUnit"),
            org: r.text("zowe.setup.certificate.dname.org"),
            locality: r.text("zowe.setup.certificate.dname.locality"),
            state: r.text("zowe.setup.certificate.dname.state"),
            country: r.text("zowe.setup.certificate.dname.country"),
            validity_days,
            san: r.list("zowe.setup.certificate.san"),
            // For a key ring these are CERTAUTH labels (`keyring`), not files.
            import_certificate_authorities: if setup_keyring.is_some() {
                Vec::new()
            } else {
                r.paths("zowe.setup.certificate.importCertificateAuthorities")
            },
            directory: r.required_path("zowe.setup.certificate.pkcs12.directory"),
            name: r.text("zowe.setup.certificate.pkcs12.name"),
            password: r.secret("zowe.setup.certificate.pkcs12.password"),
            ca_alias: r.text("zowe.setup.certificate.pkcs12.caAlias"),
            ca_password: r.secret("zowe.setup.certificate.pkcs12.caPassword"),
            lock: r.boolean("zowe.setup.certificate.pkcs12.lock"),
            legacy_pkcs12: r.boolean("zowe.setup.certificate.pkcs12.legacy"),
            import_keystore: r.path("zowe.setup.certificate.pkcs12.import.keystore"),
            import_password: r
                .opt_text("zowe.setup.certificate.pkcs12.import.password")
                .map(Secret::new),
            import_alias: r.opt_text("zowe.setup.certificate.pkcs12.import.alias"),
            keyring: setup_keyring,
        };

        let verify_certificates = match r.word("zowe.verifyCertificates").as_str() {
            "NONSTRICT" => VerifyCertificates::NonStrict,
            "DISABLED" => VerifyCertificates::Disabled,
            _ => VerifyCertificates::Strict,
        };
        let external_domains = r.list("zowe.externalDomains");
        let _ = r.port("zowe.externalPort");
        let client_tls = r.tls("client");
        let server_tls = r.tls("server");

        let address_text = r.text("zgate.server.address");
        let address = match address_text.parse::<IpAddr>() {
            Ok(address) => address,
            Err(_) => {
                if let Some(entry) = r.entry("zgate.server.address").cloned() {
                    r.bad(&entry, format!("`{address_text}` is not an IP address"));
                }
                IpAddr::from([0, 0, 0, 0])
            }
        };
        let token_expiration_seconds = r
            .number("components.gateway.apiml.security.auth.tokenProperties.expirationInSeconds")
            .unwrap_or(28800);
        if token_expiration_seconds == 0 {
            if let Some(entry) = r
                .entry("components.gateway.apiml.security.auth.tokenProperties.expirationInSeconds")
                .cloned()
            {
                r.bad(
                    &entry,
                    "a token lifetime of 0 seconds is useless; the default is 28800".to_string(),
                );
            }
        }
        // `esm` is all there is (phase one refused `native`, or warned of it
        // in a real zowe.yaml): the value has nothing to choose.
        let _ = r.word(schema::AUTHORIZATION_PROVIDER);
        let _ = r.boolean("components.gateway.enabled");
        let _ = r.boolean("components.gateway.debug");
        let gateway = GatewayConfig {
            port: r.port("components.gateway.port").unwrap_or(7554),
            address,
            shutdown_grace_seconds: r.number("zgate.server.shutdownGraceSeconds").unwrap_or(30),
            tls: server_tls,
            security: SecurityConfig {
                token_expiration_seconds,
                allow_token_refresh: r
                    .boolean("components.gateway.apiml.security.allowTokenRefresh"),
                x509_enabled: r.boolean("components.gateway.apiml.security.x509.enabled"),
                personal_access_token_enabled: r
                    .boolean("components.gateway.apiml.security.personalAccessToken.enabled"),
                security_domain: r.text("zgate.auth.securityDomain"),
                cookie_max_age_seconds: r.number("zgate.auth.cookie.maxAgeSeconds"),
                mfa_separator: r.text("zgate.mfa.separator"),
                mfa_skew_steps: r
                    .number("zgate.mfa.skewSteps")
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(1),
            },
        };
        let services_directory = r.required_path("zgate.services.directory");
        let services_authorization = r.boolean("zgate.services.authorization");
        let network_zones = r.network_zones("zgate.network.zones");
        let audit = r.audit();
        let oidc = r.oidc();
        let log_format = match r.word("zgate.log.format").as_str() {
            "json" => LogFormat::Json,
            _ => LogFormat::Text,
        };
        let log_level = r.word("zgate.log.level");

        // Kinds the reader does not consume above still get their shape checked.
        for spec in schema::KEYS {
            if let (Kind::List | Kind::PathList, Some(entry)) = (spec.kind, effective.get(spec.key))
            {
                if entry.value == Some(RawValue::Complex) {
                    let entry = entry.clone();
                    r.bad(&entry, "expected a list of values".to_string());
                }
            }
        }

        let store = r.store("zgate.store");
        let store_outage_grace_seconds = r.positive("zgate.storeOutageGraceSeconds", 5);
        if store_outage_grace_seconds > MAX_STORE_OUTAGE_GRACE_SECONDS {
            r.bad_key(
                "zgate.storeOutageGraceSeconds",
                format!(
                    "{store_outage_grace_seconds} s is more than the {MAX_STORE_OUTAGE_GRACE_SECONDS} s allowed: a revocation on another gateway would go unseen that long"
                ),
            );
        }

        let check_seconds = r.number("zgate.tls.reloadCheckSeconds").unwrap_or(5);
        if check_seconds > MAX_TLS_RELOAD_CHECK_SECONDS {
            r.bad_key(
                "zgate.tls.reloadCheckSeconds",
                format!("{check_seconds} s is more than the {MAX_TLS_RELOAD_CHECK_SECONDS} s allowed; use 0 to reload only on SIGHUP"),
            );
        }
        let warning_days = r.number("zgate.tls.expiryWarningDays").unwrap_or(30);
        if warning_days > MAX_EXPIRY_WARNING_DAYS {
            r.bad_key(
                "zgate.tls.expiryWarningDays",
                format!("{warning_days} days is more than the {MAX_EXPIRY_WARNING_DAYS} allowed"),
            );
        }
        let tls_reload = TlsReloadConfig {
            check_seconds: check_seconds.min(MAX_TLS_RELOAD_CHECK_SECONDS),
            expiry_warning_days: u32::try_from(warning_days.min(MAX_EXPIRY_WARNING_DAYS))
                .unwrap_or(30),
        };

        if !r.problems.is_empty() {
            let mut problems = r.problems;
            problems.dedup();
            return Err(ConfigError::Invalid(problems));
        }
        Ok(Config {
            home: effective.home.clone(),
            certificate,
            setup_certificate,
            verify_certificates,
            external_domains,
            client_tls,
            gateway,
            services_directory,
            services_authorization,
            network_zones,
            store,
            store_outage_grace_seconds,
            audit,
            tls_reload,
            oidc,
            log_format,
            log_level,
        })
    }
}
