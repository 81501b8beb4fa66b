//! `zgate cert`: `init`, `import`, `client`, `doctor`.
//!
//! Glue only: configuration (`zowe.setup.certificate`, `zowe.certificate`,
//! `zowe.verifyCertificates` in `<home>/zgate.yaml`, plus `--set`) and flags
//! become the pki crate's typed parameters; its results and errors become
//! text and exit codes. The YAML handling lives in [`settings`] behind two
//! functions until the config crate takes it over.
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context;
use zgate_pki as pki;

use crate::Global;

/// `zgate cert ...`
#[derive(clap::Args, Debug)]
pub struct CertArgs {
    #[command(subcommand)]
    command: CertCommand,
}

#[derive(clap::Subcommand, Debug)]
enum CertCommand {
    /// Create a local CA and a server certificate (Zowe's PKCS12 layout under
    /// `zowe.setup.certificate.pkcs12.directory`, default <home>/keystore).
    Init(InitArgs),
    /// Bring an existing PKCS12 keystore or PEM key + chain, and CA certificates.
    Import(ImportArgs),
    /// Issue a client certificate for a user, signed by the local CA.
    Client(ClientArgs),
    /// Check the configured certificates (and optionally a live server).
    Doctor(DoctorArgs),
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum KeyTypeArg {
    /// RSA 2048 (default; JWT RS256)
    Rsa,
    /// ECDSA P-256 (JWT ES256)
    Ec,
}

impl From<KeyTypeArg> for pki::KeyType {
    fn from(value: KeyTypeArg) -> Self {
        match value {
            KeyTypeArg::Rsa => pki::KeyType::Rsa2048,
            KeyTypeArg::Ec => pki::KeyType::EcP256,
        }
    }
}

#[derive(clap::Args, Debug)]
struct InitArgs {
    /// A host name clients use (repeatable); added to the SAN.
    #[arg(long = "hostname", value_name = "H")]
    hostnames: Vec<String>,
    /// An IP address clients use (repeatable); added to the SAN.
    #[arg(long = "ip", value_name = "A")]
    ips: Vec<String>,
    /// Replace existing keystores.
    #[arg(long)]
    force: bool,
    /// Write GSKit-compatible PKCS12 (3DES/RC2-40/SHA-1).
    #[arg(long)]
    pkcs12_legacy: bool,
    /// Key algorithm.
    #[arg(long, value_enum, default_value = "rsa")]
    key_type: KeyTypeArg,
}

#[derive(clap::Args, Debug)]
struct ImportArgs {
    /// A PKCS12 keystore holding the server key (default `pkcs12.import.keystore`).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["key", "cert"])]
    keystore: Option<PathBuf>,
    /// Its password (default `pkcs12.import.password`).
    #[arg(long, value_name = "P")]
    password: Option<String>,
    /// The key's alias (default `pkcs12.import.alias`, else the only key).
    #[arg(long, value_name = "A")]
    alias: Option<String>,
    /// A PEM private key (PKCS#8 or PKCS#1), with --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// The PEM certificate chain for --key (leaf first).
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// CA certificates (PEM) to trust (repeatable; adds to `importCertificateAuthorities`).
    #[arg(long = "ca", value_name = "FILE")]
    cas: Vec<PathBuf>,
    /// Replace an existing keystore directory.
    #[arg(long)]
    force: bool,
    /// Write GSKit-compatible PKCS12.
    #[arg(long)]
    pkcs12_legacy: bool,
}

#[derive(clap::Args, Debug)]
struct ClientArgs {
    /// The user ID (the certificate's CN).
    #[arg(long, value_name = "USERID")]
    user: String,
    /// Output directory (default <home>/keystore/clients).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Password of the client PKCS12 (default `pkcs12.password`).
    #[arg(long, value_name = "P")]
    password: Option<String>,
    /// Replace existing files.
    #[arg(long)]
    force: bool,
    /// Write GSKit-compatible PKCS12.
    #[arg(long)]
    pkcs12_legacy: bool,
    /// Key algorithm.
    #[arg(long, value_enum, default_value = "rsa")]
    key_type: KeyTypeArg,
}

#[derive(clap::Args, Debug)]
struct DoctorArgs {
    /// Handshake with this server and evaluate it under every verifyCertificates mode.
    #[arg(long, value_name = "HOST:PORT")]
    connect: Option<String>,
    /// A host name clients use (repeatable); default: localhost and this machine's name.
    #[arg(long = "hostname", value_name = "H")]
    hostnames: Vec<String>,
    /// Check this keystore instead of the configured one.
    #[arg(long, value_name = "FILE")]
    keystore: Option<PathBuf>,
    /// Its password.
    #[arg(long, value_name = "P")]
    password: Option<String>,
    /// Its key alias.
    #[arg(long, value_name = "A")]
    alias: Option<String>,
    /// Check this truststore instead of the configured one.
    #[arg(long, value_name = "FILE")]
    truststore: Option<PathBuf>,
    /// Its password (default: the keystore password).
    #[arg(long, value_name = "P")]
    truststore_password: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

/// Run `zgate cert ...`.
pub fn run(global: &Global, args: CertArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        CertCommand::Init(args) => run_init(global, args),
        CertCommand::Import(args) => run_import(global, args),
        CertCommand::Client(args) => run_client(global, args),
        CertCommand::Doctor(args) => run_doctor(global, args),
    }
}

fn absolute(home: &Path, path: &str) -> PathBuf {
    let path = PathBuf::from(path);
    if path.is_absolute() {
        path
    } else {
        home.join(path)
    }
}

/// This machine's host name (Linux: the kernel's; else $HOSTNAME).
fn machine_hostname() -> Option<String> {
    for file in ["/proc/sys/kernel/hostname", "/etc/hostname"] {
        if let Ok(name) = std::fs::read_to_string(file) {
            let name = name.trim();
            if !name.is_empty() {
                return Some(name.to_string());
            }
        }
    }
    std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty())
}

/// The setup values every subcommand shares, with Zowe's defaults.
struct Setup {
    dir: PathBuf,
    name: String,
    password: String,
    ca_alias: String,
    ca_password: String,
    dname: pki::Dname,
    validity_days: u32,
    lock: bool,
    legacy: bool,
    import_cas: Vec<PathBuf>,
}

fn setup_from(global: &Global, s: &settings::CertSettings) -> anyhow::Result<Setup> {
    let defaults = pki::Dname::default();
    let dname_field = |key: &str, default: &str| {
        s.setup_str(&format!("dname.{key}"))
            .unwrap_or_else(|| default.to_string())
    };
    let validity_days = match s.setup_str("validity") {
        Some(v) => v.parse::<u32>().with_context(|| {
            format!("zowe.setup.certificate.validity `{v}` is not a number of days")
        })?,
        None => 3650,
    };
    Ok(Setup {
        dir: s
            .setup_str("pkcs12.directory")
            .map(|d| absolute(&global.home, &d))
            .unwrap_or_else(|| global.home.join("keystore")),
        name: s
            .setup_str("pkcs12.name")
            .unwrap_or_else(|| "localhost".into()),
        password: s
            .setup_str("pkcs12.password")
            .unwrap_or_else(|| "password".into()),
        ca_alias: s
            .setup_str("pkcs12.caAlias")
            .unwrap_or_else(|| "local_ca".into()),
        ca_password: s
            .setup_str("pkcs12.caPassword")
            .unwrap_or_else(|| "local_ca_password".into()),
        dname: pki::Dname {
            ca_common_name: dname_field("caCommonName", &defaults.ca_common_name),
            common_name: dname_field("commonName", &defaults.common_name),
            org_unit: dname_field("orgUnit", &defaults.org_unit),
            org: dname_field("org", &defaults.org),
            locality: dname_field("locality", &defaults.locality),
            state: dname_field("state", &defaults.state),
            country: dname_field("country", &defaults.country),
        },
        validity_days,
        lock: s.setup_bool("pkcs12.lock")?.unwrap_or(false),
        legacy: s.setup_bool("pkcs12.legacy")?.unwrap_or(false),
        import_cas: s
            .setup_list("importCertificateAuthorities")
            .into_iter()
            .map(|p| absolute(&global.home, &p))
            .collect(),
    })
}

fn run_init(global: &Global, args: InitArgs) -> anyhow::Result<ExitCode> {
    let settings = settings::read_cert_settings(global)?;
    // zowe.yaml's scenario 2: `pkcs12.import.keystore` brings an existing
    // keystore instead of generating one.
    if settings.setup_str("pkcs12.import.keystore").is_some() {
        return run_import(
            global,
            ImportArgs {
                keystore: None,
                password: None,
                alias: None,
                key: None,
                cert: None,
                cas: Vec::new(),
                force: args.force,
                pkcs12_legacy: args.pkcs12_legacy,
            },
        );
    }
    for ip in &args.ips {
        if ip
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_err()
        {
            anyhow::bail!("--ip `{ip}` is not an IP address; give host names with --hostname");
        }
    }
    let setup = setup_from(global, &settings)?;
    let mut sans = settings.setup_list("san");
    if sans.is_empty() {
        sans = settings.external_domains();
    }
    sans.extend(args.hostnames);
    sans.extend(args.ips);
    if let Some(host) = machine_hostname() {
        sans.push(host);
    }
    let params = pki::InitParams {
        dir: setup.dir,
        name: setup.name,
        password: pki::Password::new(setup.password.clone()),
        ca_alias: setup.ca_alias,
        ca_password: pki::Password::new(setup.ca_password),
        dname: setup.dname,
        validity_days: setup.validity_days,
        sans,
        key_type: args.key_type.into(),
        legacy_pkcs12: args.pkcs12_legacy || setup.legacy,
        import_cas: setup.import_cas,
        force: args.force,
        lock: setup.lock,
        now: SystemTime::now(),
    };
    let report = pki::init(&params)?;
    let runtime = settings::RuntimeCertificate {
        keystore_file: report.keystore.clone(),
        keystore_password: setup.password.clone(),
        keystore_alias: report.alias.clone(),
        truststore_file: report.truststore.clone(),
        truststore_password: setup.password,
        pem_key: report.key_pem.clone(),
        pem_certificate: report.cert_pem.clone(),
        pem_cas: vec![report.ca_pem.clone()],
    };
    let config = settings::write_runtime_certificate(global, &runtime)?;
    println!(
        "Created a local CA and a server certificate for {}",
        report.sans.join(", ")
    );
    println!("  CA keystore:   {}", report.ca_keystore.display());
    println!("  CA certificate: {}", report.ca_cert.display());
    println!(
        "  keystore:      {} (alias {})",
        report.keystore.display(),
        report.alias
    );
    println!("  truststore:    {}", report.truststore.display());
    println!("  certificate:   {}", report.cert_pem.display());
    println!("  private key:   {} (mode 0600)", report.key_pem.display());
    if !report.extra_ca_aliases.is_empty() {
        println!("  extra CAs:     {}", report.extra_ca_aliases.join(", "));
    }
    println!("Updated zowe.certificate in {}", config.display());
    Ok(ExitCode::SUCCESS)
}

fn run_import(global: &Global, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let settings = settings::read_cert_settings(global)?;
    let setup = setup_from(global, &settings)?;
    let source = if let (Some(key), Some(cert)) = (args.key, args.cert) {
        pki::ImportSource::Pem { key, chain: cert }
    } else {
        let file = args
            .keystore
            .or_else(|| settings.setup_str("pkcs12.import.keystore").map(|f| absolute(&global.home, &f)))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "nothing to import: give --keystore FILE --password P [--alias A], or --key KEY --cert CHAIN \
                     (or set zowe.setup.certificate.pkcs12.import.keystore)"
                )
            })?;
        let password = args
            .password
            .or_else(|| settings.setup_str("pkcs12.import.password"))
            .ok_or_else(|| {
                anyhow::anyhow!("give the password of {} with --password", file.display())
            })?;
        pki::ImportSource::Pkcs12 {
            file,
            password: pki::Password::new(password),
            alias: args
                .alias
                .or_else(|| settings.setup_str("pkcs12.import.alias")),
        }
    };
    let mut cas = setup.import_cas.clone();
    cas.extend(args.cas);
    let params = pki::ImportParams {
        dir: setup.dir,
        name: setup.name,
        password: pki::Password::new(setup.password.clone()),
        source,
        cas,
        legacy_pkcs12: args.pkcs12_legacy || setup.legacy,
        force: args.force,
        lock: setup.lock,
    };
    let report = pki::import(&params)?;
    let runtime = settings::RuntimeCertificate {
        keystore_file: report.keystore.clone(),
        keystore_password: setup.password.clone(),
        keystore_alias: report.alias.clone(),
        truststore_file: report.truststore.clone(),
        truststore_password: setup.password,
        pem_key: report.key_pem.clone(),
        pem_certificate: report.cert_pem.clone(),
        pem_cas: report.ca_pems.clone(),
    };
    let config = settings::write_runtime_certificate(global, &runtime)?;
    println!("Imported {} (alias {})", report.subject, report.alias);
    println!("  keystore:    {}", report.keystore.display());
    println!(
        "  truststore:  {} ({})",
        report.truststore.display(),
        report.trusted_aliases.join(", ")
    );
    println!("  certificate: {}", report.cert_pem.display());
    println!("  private key: {} (mode 0600)", report.key_pem.display());
    println!("Updated zowe.certificate in {}", config.display());
    Ok(ExitCode::SUCCESS)
}

fn run_client(global: &Global, args: ClientArgs) -> anyhow::Result<ExitCode> {
    let settings = settings::read_cert_settings(global)?;
    let setup = setup_from(global, &settings)?;
    let ca_alias = setup.ca_alias.to_ascii_lowercase();
    let ca_keystore = setup
        .dir
        .join(&ca_alias)
        .join(format!("{ca_alias}.keystore.p12"));
    if !ca_keystore.exists() {
        anyhow::bail!(
            "there is no local CA at {}; run `zgate cert init` first",
            ca_keystore.display()
        );
    }
    let params = pki::ClientCertParams {
        ca_keystore,
        ca_password: pki::Password::new(setup.ca_password),
        ca_alias,
        user: args.user,
        out_dir: args.out.unwrap_or_else(|| setup.dir.join("clients")),
        password: pki::Password::new(args.password.unwrap_or(setup.password)),
        dname: setup.dname,
        validity_days: setup.validity_days,
        key_type: args.key_type.into(),
        legacy_pkcs12: args.pkcs12_legacy || setup.legacy,
        force: args.force,
        now: SystemTime::now(),
    };
    let report = pki::client_cert(&params)?;
    println!("Issued a client certificate for {}", report.subject);
    println!(
        "  PKCS12:      {} (alias {})",
        report.keystore.display(),
        report.alias
    );
    println!("  certificate: {}", report.cert_pem.display());
    println!("  private key: {} (mode 0600)", report.key_pem.display());
    println!("Map it to the user in the ESM with:");
    println!("  {}", report.racdcert_map);
    Ok(ExitCode::SUCCESS)
}

/// The keystore/truststore the doctor examines: flags first, then
/// `zowe.certificate`.
fn doctor_params(
    global: &Global,
    args: &DoctorArgs,
    s: &settings::CertSettings,
) -> anyhow::Result<pki::DoctorParams> {
    let mut params = pki::DoctorParams::new(SystemTime::now());
    let keystore_password = args
        .password
        .clone()
        .or_else(|| s.runtime_str("keystore.password"));
    let keystore_file = args.keystore.clone().or_else(|| {
        s.runtime_str("keystore.file").map(|f| {
            if pki::is_keyring_url(&f) {
                PathBuf::from(f)
            } else {
                absolute(&global.home, &f)
            }
        })
    });
    params.keystore = match keystore_file {
        Some(file) => Some(pki::KeystoreParams::Pkcs12 {
            file,
            password: pki::Password::new(keystore_password.clone().unwrap_or_default()),
            alias: args
                .alias
                .clone()
                .or_else(|| s.runtime_str("keystore.alias")),
        }),
        None => match (s.runtime_str("pem.key"), s.runtime_str("pem.certificate")) {
            (Some(key), Some(cert)) => Some(pki::KeystoreParams::Pem {
                key: absolute(&global.home, &key),
                certificate: absolute(&global.home, &cert),
            }),
            _ => None,
        },
    };
    let truststore_file = args.truststore.clone().or_else(|| {
        s.runtime_str("truststore.file").map(|f| {
            if pki::is_keyring_url(&f) {
                PathBuf::from(f)
            } else {
                absolute(&global.home, &f)
            }
        })
    });
    params.truststore = match truststore_file {
        Some(file) => Some(pki::TruststoreParams::Pkcs12 {
            file,
            password: pki::Password::new(
                args.truststore_password
                    .clone()
                    .or_else(|| s.runtime_str("truststore.password"))
                    .or(keystore_password)
                    .unwrap_or_default(),
            ),
        }),
        None => {
            let files: Vec<PathBuf> = s
                .runtime_list("pem.certificateAuthorities")
                .iter()
                .map(|f| absolute(&global.home, f))
                .collect();
            (!files.is_empty()).then_some(pki::TruststoreParams::Pem { files })
        }
    };
    params.hostnames = if args.hostnames.is_empty() {
        let mut hosts = s.external_domains();
        if !hosts.iter().any(|h| h.eq_ignore_ascii_case("localhost")) {
            hosts.push("localhost".into());
        }
        hosts
    } else {
        args.hostnames.clone()
    };
    params.connect = args.connect.clone();
    params.verify = match &s.verify {
        Some(v) => v.parse()?,
        None => pki::VerifySetting::Strict,
    };
    Ok(params)
}

fn run_doctor(global: &Global, args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let settings = settings::read_cert_settings(global)?;
    let params = doctor_params(global, &args, &settings)?;
    let checks = pki::doctor(&params);
    let failed = pki::doctor::any_failed(&checks);
    // Written, not println!: a closed pipe (`| head`) is an error, not a panic.
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if args.json {
        let items: Vec<serde_json::Value> = checks
            .iter()
            .map(|c| {
                serde_json::json!({
                    "id": c.id,
                    "status": c.status.as_str(),
                    "message": c.message,
                    "fix": c.fix,
                })
            })
            .collect();
        let doc = serde_json::json!({ "ok": !failed, "checks": items });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        for check in &checks {
            writeln!(
                out,
                "[{:>4}] {}: {}",
                check.status.as_str(),
                check.id,
                check.message
            )?;
            if let Some(fix) = &check.fix {
                writeln!(out, "       fix: {fix}")?;
            }
        }
        let count = |s: pki::Status| checks.iter().filter(|c| c.status == s).count();
        writeln!(
            out,
            "{} ok, {} warn, {} fail",
            count(pki::Status::Ok),
            count(pki::Status::Warn),
            count(pki::Status::Fail)
        )?;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Reading and writing the certificate keys of `zgate.yaml`. Kept small on
/// purpose: the config crate replaces it.
pub(crate) mod settings {
    use std::path::{Path, PathBuf};

    use anyhow::Context;
    use serde_yaml_ng::{Mapping, Value};

    use crate::Global;

    /// Keys `--set` may override here.
    const PREFIXES: &[&str] = &[
        "zowe.setup.certificate",
        "zowe.certificate",
        "zowe.verifyCertificates",
        "zowe.externalDomains",
    ];

    /// The certificate-related part of the configuration.
    pub struct CertSettings {
        /// `zowe.setup.certificate`
        pub setup: Value,
        /// `zowe.certificate`
        pub runtime: Value,
        /// `zowe.verifyCertificates`
        pub verify: Option<String>,
        external_domains: Vec<String>,
    }

    fn config_path(global: &Global) -> PathBuf {
        global
            .config
            .clone()
            .unwrap_or_else(|| global.home.join("zgate.yaml"))
    }

    fn load(path: &Path) -> anyhow::Result<Value> {
        match std::fs::read_to_string(path) {
            Ok(text) if text.trim().is_empty() => Ok(Value::Mapping(Mapping::new())),
            Ok(text) => {
                let value: Value = serde_yaml_ng::from_str(&text)
                    .with_context(|| format!("{} is not valid YAML", path.display()))?;
                if value.is_null() {
                    Ok(Value::Mapping(Mapping::new()))
                } else {
                    Ok(value)
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Value::Mapping(Mapping::new()))
            }
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// The value at a dotted path.
    pub fn get<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
        let mut node = root;
        for part in path.split('.').filter(|p| !p.is_empty()) {
            node = node.as_mapping()?.get(part)?;
        }
        Some(node)
    }

    fn set(root: &mut Value, path: &str, value: Value) -> anyhow::Result<()> {
        let parts: Vec<&str> = path.split('.').filter(|p| !p.is_empty()).collect();
        let Some((last, parents)) = parts.split_last() else {
            anyhow::bail!("empty configuration key");
        };
        let mut node = root;
        for part in parents {
            if !node.is_mapping() {
                *node = Value::Mapping(Mapping::new());
            }
            let map = node
                .as_mapping_mut()
                .ok_or_else(|| anyhow::anyhow!("`{path}` is not a mapping"))?;
            node = map
                .entry(Value::String((*part).to_string()))
                .or_insert_with(|| Value::Mapping(Mapping::new()));
        }
        if !node.is_mapping() {
            *node = Value::Mapping(Mapping::new());
        }
        node.as_mapping_mut()
            .ok_or_else(|| anyhow::anyhow!("`{path}` is not a mapping"))?
            .insert(Value::String((*last).to_string()), value);
        Ok(())
    }

    fn scalar_string(value: &Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    impl CertSettings {
        /// A setup key as text; empty strings count as unset (zowe.yaml's
        /// template leaves `""` for "use the default").
        pub fn setup_str(&self, path: &str) -> Option<String> {
            get(&self.setup, path)
                .and_then(scalar_string)
                .filter(|s| !s.is_empty())
        }

        /// A runtime key (`zowe.certificate.*`) as text.
        pub fn runtime_str(&self, path: &str) -> Option<String> {
            get(&self.runtime, path)
                .and_then(scalar_string)
                .filter(|s| !s.is_empty())
        }

        /// A setup key as a boolean.
        pub fn setup_bool(&self, path: &str) -> anyhow::Result<Option<bool>> {
            match get(&self.setup, path) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Bool(b)) => Ok(Some(*b)),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                    "true" | "yes" => Ok(Some(true)),
                    "false" | "no" => Ok(Some(false)),
                    _ => anyhow::bail!("zowe.setup.certificate.{path} `{s}` is not true or false"),
                },
                Some(other) => {
                    anyhow::bail!("zowe.setup.certificate.{path} `{other:?}` is not true or false")
                }
            }
        }

        /// A setup key holding a list, one string, or comma-separated strings.
        pub fn setup_list(&self, path: &str) -> Vec<String> {
            list(get(&self.setup, path))
        }

        /// A runtime key holding a list, one string, or comma-separated strings.
        pub fn runtime_list(&self, path: &str) -> Vec<String> {
            list(get(&self.runtime, path))
        }

        /// `zowe.externalDomains`.
        pub fn external_domains(&self) -> Vec<String> {
            self.external_domains.clone()
        }
    }

    fn list(value: Option<&Value>) -> Vec<String> {
        match value {
            Some(Value::Sequence(items)) => items
                .iter()
                .filter_map(scalar_string)
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            Some(other) => scalar_string(other)
                .map(|s| {
                    s.split(',')
                        .map(|p| p.trim().to_string())
                        .filter(|p| !p.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            None => Vec::new(),
        }
    }

    /// Read `zowe.setup.certificate`, `zowe.certificate`,
    /// `zowe.verifyCertificates` and `zowe.externalDomains` from the config
    /// (`--config`, else `<home>/zgate.yaml`), with `--set` overrides applied.
    pub fn read_cert_settings(global: &Global) -> anyhow::Result<CertSettings> {
        let mut root = load(&config_path(global))?;
        for assignment in &global.set {
            let (key, raw) = assignment
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--set `{assignment}` is not KEY=VALUE"))?;
            let key = key.trim();
            if !PREFIXES
                .iter()
                .any(|p| key == *p || key.starts_with(&format!("{p}.")))
            {
                continue;
            }
            // Typed like YAML would type it, except that a value YAML cannot
            // parse (or that parses to null) stays the literal string.
            let value = match serde_yaml_ng::from_str::<Value>(raw) {
                Ok(Value::Null) | Err(_) => Value::String(raw.to_string()),
                Ok(Value::Mapping(_)) => Value::String(raw.to_string()),
                Ok(v) => v,
            };
            set(&mut root, key, value)?;
        }
        Ok(CertSettings {
            setup: get(&root, "zowe.setup.certificate")
                .cloned()
                .unwrap_or(Value::Null),
            runtime: get(&root, "zowe.certificate")
                .cloned()
                .unwrap_or(Value::Null),
            verify: get(&root, "zowe.verifyCertificates").and_then(scalar_string),
            external_domains: list(get(&root, "zowe.externalDomains")),
        })
    }

    /// The runtime keys `cert init` / `cert import` write.
    pub struct RuntimeCertificate {
        pub keystore_file: PathBuf,
        pub keystore_password: String,
        pub keystore_alias: String,
        pub truststore_file: PathBuf,
        pub truststore_password: String,
        pub pem_key: PathBuf,
        pub pem_certificate: PathBuf,
        pub pem_cas: Vec<PathBuf>,
    }

    /// Merge `zowe.certificate.{keystore,truststore,pem}` into
    /// `<home>/zgate.yaml`, keeping every other key; written to a temporary
    /// file and renamed, mode 0600 (it holds passwords).
    pub fn write_runtime_certificate(
        global: &Global,
        runtime: &RuntimeCertificate,
    ) -> anyhow::Result<PathBuf> {
        use std::io::Write;
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let path = global.home.join("zgate.yaml");
        let mut root = load(&path)?;
        let text = |s: &str| Value::String(s.to_string());
        let file = |p: &Path| Value::String(p.display().to_string());
        let entries = [
            ("zowe.certificate.keystore.type", text("PKCS12")),
            (
                "zowe.certificate.keystore.file",
                file(&runtime.keystore_file),
            ),
            (
                "zowe.certificate.keystore.password",
                text(&runtime.keystore_password),
            ),
            (
                "zowe.certificate.keystore.alias",
                text(&runtime.keystore_alias),
            ),
            ("zowe.certificate.truststore.type", text("PKCS12")),
            (
                "zowe.certificate.truststore.file",
                file(&runtime.truststore_file),
            ),
            (
                "zowe.certificate.truststore.password",
                text(&runtime.truststore_password),
            ),
            ("zowe.certificate.pem.key", file(&runtime.pem_key)),
            (
                "zowe.certificate.pem.certificate",
                file(&runtime.pem_certificate),
            ),
            (
                "zowe.certificate.pem.certificateAuthorities",
                Value::Sequence(runtime.pem_cas.iter().map(|p| file(p)).collect()),
            ),
        ];
        for (key, value) in entries {
            set(&mut root, key, value)?;
        }
        let yaml = serde_yaml_ng::to_string(&root).context("cannot encode the configuration")?;
        std::fs::create_dir_all(&global.home)
            .with_context(|| format!("cannot create {}", global.home.display()))?;
        let tmp = global.home.join(".zgate.yaml.tmp");
        let _ = std::fs::remove_file(&tmp);
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(yaml.as_bytes())?;
            f.sync_all()?;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
            std::fs::rename(&tmp, &path)
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&tmp);
            return Err(e).with_context(|| format!("cannot write {}", path.display()));
        }
        Ok(path)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct TestCli {
        #[command(flatten)]
        cert: CertArgs,
    }

    fn global(home: &Path, set: &[&str]) -> Global {
        Global {
            home: home.to_path_buf(),
            set: set.iter().map(|s| s.to_string()).collect(),
            config: None,
        }
    }

    fn cert(global: &Global, args: &[&str]) -> anyhow::Result<ExitCode> {
        let mut argv = vec!["zgate"];
        argv.extend_from_slice(args);
        run(global, TestCli::try_parse_from(argv)?.cert)
    }

    fn yaml(home: &Path) -> serde_yaml_ng::Value {
        serde_yaml_ng::from_str(&std::fs::read_to_string(home.join("zgate.yaml")).unwrap()).unwrap()
    }

    fn keytool_list(file: &str, password: &str) -> String {
        let out = std::process::Command::new("keytool")
            .args([
                "-list",
                "-keystore",
                file,
                "-storetype",
                "PKCS12",
                "-storepass",
                password,
            ])
            .output()
            .expect("keytool is required by this test");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn init_then_doctor_with_config_written_and_overrides_applied() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(
            home.path().join("zgate.yaml"),
            "components:\n  gateway:\n    port: 8443\nzowe:\n  setup:\n    certificate:\n      dname:\n        org: \"\"\n      pkcs12:\n        name: gateway\n",
        )
        .unwrap();
        let g = global(
            home.path(),
            &[
                "zowe.setup.certificate.pkcs12.password=pa$$word",
                "components.gateway.port=1",
            ],
        );
        assert_eq!(
            cert(
                &g,
                &["init", "--hostname", "zowe.example.com", "--ip", "10.0.0.1"]
            )
            .unwrap(),
            ExitCode::SUCCESS
        );

        let doc = yaml(home.path());
        let get = |path: &str| {
            settings::get(&doc, path)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        // Other keys kept (and --set is not persisted).
        assert_eq!(
            settings::get(&doc, "components.gateway.port").and_then(|v| v.as_u64()),
            Some(8443)
        );
        assert_eq!(
            get("zowe.setup.certificate.pkcs12.name").as_deref(),
            Some("gateway")
        );
        let keystore = get("zowe.certificate.keystore.file").unwrap();
        assert!(
            keystore.ends_with("keystore/gateway/gateway.keystore.p12"),
            "{keystore}"
        );
        assert_eq!(
            get("zowe.certificate.keystore.password").as_deref(),
            Some("pa$$word")
        );
        assert_eq!(
            get("zowe.certificate.keystore.alias").as_deref(),
            Some("gateway")
        );
        assert_eq!(
            get("zowe.certificate.keystore.type").as_deref(),
            Some("PKCS12")
        );
        assert!(get("zowe.certificate.truststore.file")
            .unwrap()
            .ends_with("gateway.truststore.p12"));
        assert!(get("zowe.certificate.pem.key")
            .unwrap()
            .ends_with("gateway/gateway.key"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(home.path().join("zgate.yaml"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "the config holds passwords");
        assert!(keytool_list(&keystore, "pa$$word").contains("gateway, "));
        // dname.org "" means the default.
        let cert_pem = get("zowe.certificate.pem.certificate").unwrap();
        let info = zgate_pki::x509::CertInfo::parse(
            &zgate_pki::store::read_certs(Path::new(&cert_pem)).unwrap()[0],
        )
        .unwrap();
        assert!(info.subject.contains("O=Zowe Sample"), "{}", info.subject);

        // The doctor reads what init wrote.
        let plain = global(home.path(), &[]);
        assert_eq!(cert(&plain, &["doctor"]).unwrap(), ExitCode::SUCCESS);
        assert_eq!(
            cert(
                &plain,
                &[
                    "doctor",
                    "--hostname",
                    "zowe.example.com",
                    "--hostname",
                    "10.0.0.1",
                    "--json"
                ]
            )
            .unwrap(),
            ExitCode::SUCCESS
        );
        assert_eq!(
            cert(&plain, &["doctor", "--hostname", "other.example.com"]).unwrap(),
            ExitCode::from(1)
        );
        assert_eq!(
            cert(&plain, &["doctor", "--password", "wrong"]).unwrap(),
            ExitCode::from(1)
        );

        // A second init is refused without --force.
        let err = cert(&g, &["init"]).unwrap_err();
        assert!(format!("{err:#}").contains("--force"), "{err:#}");
        assert_eq!(
            cert(&g, &["init", "--force", "--key-type", "ec"]).unwrap(),
            ExitCode::SUCCESS
        );
        assert_eq!(cert(&plain, &["doctor"]).unwrap(), ExitCode::SUCCESS);
    }

    #[test]
    fn import_and_client_commands() {
        let src = tempfile::tempdir().unwrap();
        let report = zgate_pki::init(&zgate_pki::InitParams::with_defaults(
            src.path().to_path_buf(),
            SystemTime::now(),
        ))
        .unwrap();
        let home = tempfile::tempdir().unwrap();
        let g = global(home.path(), &[]);
        let err = cert(&g, &["init", "--ip", "not-an-ip"]).unwrap_err();
        assert!(
            format!("{err:#}").contains("is not an IP address"),
            "{err:#}"
        );
        // Scenario 2 of zowe.yaml: `cert init` imports what pkcs12.import names.
        let scenario2 = tempfile::tempdir().unwrap();
        let keystore_set = format!(
            "zowe.setup.certificate.pkcs12.import.keystore={}",
            report.keystore.display()
        );
        let g3 = global(
            scenario2.path(),
            &[
                &keystore_set,
                "zowe.setup.certificate.pkcs12.import.password=password",
                "zowe.setup.certificate.pkcs12.import.alias=localhost",
            ],
        );
        assert_eq!(cert(&g3, &["init"]).unwrap(), ExitCode::SUCCESS);
        assert!(
            !scenario2.path().join("keystore/local_ca").exists(),
            "imported, not generated"
        );
        assert_eq!(
            cert(&global(scenario2.path(), &[]), &["doctor"]).unwrap(),
            ExitCode::SUCCESS
        );

        let err = cert(&g, &["import"]).unwrap_err();
        assert!(format!("{err:#}").contains("nothing to import"), "{err:#}");
        let err = cert(
            &g,
            &[
                "import",
                "--keystore",
                report.keystore.to_str().unwrap(),
                "--password",
                "nope1234",
            ],
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("wrong password"), "{err:#}");
        assert!(
            !home.path().join("keystore/localhost").exists(),
            "nothing written"
        );
        assert_eq!(
            cert(
                &g,
                &[
                    "import",
                    "--keystore",
                    report.keystore.to_str().unwrap(),
                    "--password",
                    "password",
                    "--alias",
                    "localhost"
                ]
            )
            .unwrap(),
            ExitCode::SUCCESS
        );
        assert_eq!(cert(&g, &["doctor"]).unwrap(), ExitCode::SUCCESS);

        // Client certificates need the local CA of this home.
        let err = cert(&g, &["client", "--user", "ibmuser"]).unwrap_err();
        assert!(
            format!("{err:#}").contains("run `zgate cert init` first"),
            "{err:#}"
        );
        let home2 = tempfile::tempdir().unwrap();
        let g2 = global(home2.path(), &[]);
        cert(&g2, &["init"]).unwrap();
        let out = home2.path().join("out");
        assert_eq!(
            cert(
                &g2,
                &[
                    "client",
                    "--user",
                    "ibmuser",
                    "--out",
                    out.to_str().unwrap()
                ]
            )
            .unwrap(),
            ExitCode::SUCCESS
        );
        assert!(
            keytool_list(out.join("ibmuser.p12").to_str().unwrap(), "password")
                .contains("ibmuser, ")
        );
    }

    #[test]
    fn reads_a_real_zowe_yaml() {
        let example = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/zowe/config/example-zowe.yaml"
        ));
        let home = tempfile::tempdir().unwrap();
        let g = Global {
            home: home.path().to_path_buf(),
            set: vec!["zowe.setup.certificate.san=a.example.com, 10.1.1.1".into()],
            config: Some(example),
        };
        let s = settings::read_cert_settings(&g).unwrap();
        assert_eq!(s.setup_str("type").as_deref(), Some("PKCS12"));
        assert_eq!(
            s.setup_str("pkcs12.directory").as_deref(),
            Some("/var/zowe/keystore")
        );
        assert_eq!(s.verify.as_deref(), Some("STRICT"));
        assert_eq!(s.external_domains(), vec!["sample-domain.com"]);
        assert_eq!(s.setup_list("san"), vec!["a.example.com", "10.1.1.1"]);
        let setup = setup_from(&g, &s).unwrap();
        assert_eq!(setup.name, "localhost");
        assert_eq!(setup.validity_days, 3650);
        assert_eq!(setup.dname, zgate_pki::Dname::default());
    }
}
