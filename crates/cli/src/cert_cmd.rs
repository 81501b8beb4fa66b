//! `zgate cert`: `init`, `import`, `client`, `doctor`.
//!
//! Glue only: configuration (`zowe.setup.certificate`, `zowe.certificate`,
//! `zowe.verifyCertificates` in `<home>/zgate.yaml`, plus `--set`) and flags
//! become the pki crate's typed parameters; its results and errors become
//! text and exit codes. The YAML handling lives in [`settings`] behind two
//! functions until the config crate takes it over.
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use zgate_config::{Config, VerifyCertificates};
use zgate_gateway::bootstrap;
use zgate_pki as pki;

use crate::ring_setup;
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
#[command(
    after_help = "With zowe.setup.certificate.type JCERACFKS, JCECCARACFKS or JCEHYBRIDRACFKS, \
init sets up Zowe's key ring in the embedded ESM instead: it runs the RACF commands of \
`zwe init certificate` (option 1, 2 or 3 as zowe.setup.certificate.keyring.* selects) one by one, \
printing each, and then points zowe.certificate at the ring."
)]
struct InitArgs {
    /// A host name clients use (repeatable); added to the SAN.
    #[arg(long = "hostname", value_name = "H")]
    hostnames: Vec<String>,
    /// An IP address clients use (repeatable); added to the SAN.
    #[arg(long = "ip", value_name = "A")]
    ips: Vec<String>,
    /// Replace existing keystores; for a key ring, first remove what a
    /// former set-up made (Zowe's ZWENOKRR).
    #[arg(long, alias = "allow-overwrite")]
    force: bool,
    /// Write GSKit-compatible PKCS12 (3DES/RC2-40/SHA-1).
    #[arg(long)]
    pkcs12_legacy: bool,
    /// Key algorithm.
    #[arg(long, value_enum, default_value = "rsa")]
    key_type: KeyTypeArg,
    /// Key ring: print the RACF commands (TSO batch layout, for a real
    /// RACF too) and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// With --dry-run: print the import password instead of ********.
    #[arg(long, requires = "dry_run")]
    show_secrets: bool,
    /// Key ring: run the commands with USER's authority instead of the
    /// operator's.
    #[arg(long = "as", value_name = "USER")]
    as_user: Option<String>,
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
    /// Secret of the client PKCS12 (default `pkcs12.password`).
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

/// The configuration as `serve` reads it (`<home>/zgate.yaml` or
/// `--config`, plus `--set`); a bad one is reported and ends the command.
fn load_config(global: &Global) -> Result<Config, ExitCode> {
    let loaded = crate::config_cmd::load_or_report(global, &[])?;
    for warning in &loaded.warnings {
        eprintln!("zgate: warning: {warning}");
    }
    Ok(loaded.config)
}

/// The setup values every subcommand shares (`zowe.setup.certificate.*`).
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

fn setup_from(config: &Config) -> Setup {
    let params = bootstrap::init_params(config, SystemTime::now());
    let setup = &config.setup_certificate;
    Setup {
        dir: params.dir,
        name: params.name,
        password: setup.password.expose().to_string(),
        ca_alias: params.ca_alias,
        ca_password: setup.ca_password.expose().to_string(),
        dname: params.dname,
        validity_days: params.validity_days,
        lock: params.lock,
        legacy: params.legacy_pkcs12,
        import_cas: params.import_cas,
    }
}

fn run_init(global: &Global, args: InitArgs) -> anyhow::Result<ExitCode> {
    let config = match load_config(global) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    if let Some(keyring) = config.setup_certificate.keyring.clone() {
        return run_ring_init(global, &config, &keyring, &args);
    }
    if args.dry_run || args.as_user.is_some() {
        anyhow::bail!(
            "--dry-run and --as are for a key ring set-up (zowe.setup.certificate.type {}); this one is {}",
            zgate_config::RING_STORE_TYPES.join(", "),
            config.setup_certificate.store_type
        );
    }
    // zowe.yaml's scenario 2: `pkcs12.import.keystore` brings an existing
    // keystore instead of generating one.
    if config.setup_certificate.import_keystore.is_some() {
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
    let mut params = bootstrap::init_params(&config, SystemTime::now());
    params.sans.extend(args.hostnames);
    params.sans.extend(args.ips);
    params.key_type = args.key_type.into();
    params.legacy_pkcs12 |= args.pkcs12_legacy;
    params.force = args.force;
    let password = config.setup_certificate.password.expose().to_string();
    let report = pki::init(&params)?;
    let runtime = settings::RuntimeCertificate {
        keystore_file: report.keystore.clone(),
        keystore_password: password.clone(),
        keystore_alias: report.alias.clone(),
        truststore_file: report.truststore.clone(),
        truststore_password: password,
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

/// Exit status when a RACF command of a key ring set-up fails (RACF's RC 8).
const EXIT_COMMAND_FAILED: u8 = 8;
/// Exit status for a configuration that cannot make commands (EX_USAGE).
const EXIT_USAGE: u8 = 64;

/// The key ring set-up's choices from the configuration and the flags.
fn ring_choices(
    global: &Global,
    config: &Config,
    keyring: &zgate_config::KeyringSetup,
    args: &InitArgs,
    for_real_racf: bool,
) -> Result<ring_setup::Choices, ring_setup::PlanError> {
    // Flags first, so that their first host name and first address are
    // the ones GENCERT takes; the configuration fills in a kind they lack.
    let mut names: Vec<String> = args.hostnames.clone();
    names.extend(args.ips.iter().cloned());
    let setup = &config.setup_certificate;
    names.extend(if setup.san.is_empty() {
        config.external_domains.clone()
    } else {
        setup.san.clone()
    });
    let today = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    // The "data set" is a host file for zgate: a relative one is in the
    // home. For a real RACF it is the data set name as configured.
    let import_file = match (&keyring.import, for_real_racf) {
        (Some(import), false) if !std::path::Path::new(&import.ds_name).is_absolute() => {
            Some(global.home.join(&import.ds_name).display().to_string())
        }
        _ => None,
    };
    Ok(ring_setup::Choices {
        not_after: ring_setup::date_after(i64::try_from(today).unwrap_or(0), setup.validity_days),
        alt_name: ring_setup::AltName::first_of(&names)?,
        trust_zosmf: config.verify_certificates != VerifyCertificates::Disabled,
        overwrite: args.force,
        import_file,
    })
}

/// The classes `SETROPTS LIST` says are RACLISTed.
fn raclisted_classes(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .find_map(|line| line.strip_prefix("SETR RACLIST CLASSES = "))
        .map(|list| {
            list.split_whitespace()
                .filter(|class| *class != "NONE")
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// `zgate cert init` for a key ring: the commands of `zwe init
/// certificate`, one by one through the ESM's command pipeline (each
/// audited like any command), then the configuration.
fn run_ring_init(
    global: &Global,
    config: &Config,
    keyring: &zgate_config::KeyringSetup,
    args: &InitArgs,
) -> anyhow::Result<ExitCode> {
    use zgate_esm::Issuer;
    let plan = match ring_choices(global, config, keyring, args, args.dry_run)
        .and_then(|choices| ring_setup::plan(&config.setup_certificate, keyring, &choices))
    {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("zgate: {e}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    if args.dry_run {
        print!("{}", plan.dry_run(args.show_secrets));
        eprintln!(
            "zgate cert init: dry run: nothing was run and {} was not changed",
            global.home.join("zgate.yaml").display()
        );
        eprintln!("zgate cert init: after these commands zowe.certificate would name:");
        for line in settings::ring_lines(&plan.runtime) {
            eprintln!("  {line}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let issuer = match &args.as_user {
        None => Issuer::Operator,
        Some(user) => match zgate_esm::model::normalize_id(user) {
            Ok(id) => Issuer::User(id),
            Err(e) => {
                eprintln!("zgate cert init: --as {user}: {e}");
                return Ok(ExitCode::from(EXIT_USAGE));
            }
        },
    };
    let origin = crate::esm_cmd::origin(&issuer);
    let esm = crate::esm_cmd::open(global)?;
    println!(
        "Setting up key ring {} ({}) in the ESM",
        plan.runtime.ring, plan.scenario
    );
    let mut out = std::io::stdout().lock();
    if let Err(failure) = run_ring_steps(&esm, &issuer, &origin, &plan.steps, &mut out)? {
        return Ok(ring_failure(&failure));
    }
    drop(out);
    let path = settings::write_ring_certificate(global, &plan.runtime)?;
    println!("Key ring {} is set up", plan.runtime.ring);
    for line in settings::ring_lines(&plan.runtime) {
        println!("  {line}");
    }
    println!("Updated zowe.certificate in {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// The command a set-up stopped at.
#[derive(Debug)]
struct RingFailure {
    /// 1-based.
    number: usize,
    /// Steps in the set-up.
    total: usize,
    /// The command as shown (password masked).
    shown: String,
    /// RACF's messages.
    error: zgate_esm::CommandError,
}

/// Runs `steps` one by one as `issuer`, each printed (masked) before it
/// runs and its output after; guards decide whether a step runs (see
/// [`ring_setup::Guard`]). Stops at the first command that fails; an I/O
/// error writing `out` is the outer error.
fn run_ring_steps(
    esm: &zgate_esm::Esm,
    issuer: &zgate_esm::Issuer,
    origin: &zgate_esm::Origin,
    steps: &[ring_setup::Step],
    out: &mut dyn std::io::Write,
) -> std::io::Result<Result<(), RingFailure>> {
    use zgate_esm::CommandErrorKind;
    let run = |text: &str| esm.run_command_from(issuer, origin, text);
    let total = steps.len();
    for (i, step) in steps.iter().enumerate() {
        let number = i + 1;
        let mut text = step.text();
        let mut shown = step.masked();
        let failed = |shown: &str, error| {
            Ok(Err(RingFailure {
                number,
                total,
                shown: shown.to_owned(),
                error,
            }))
        };
        match &step.guard {
            ring_setup::Guard::ProfileExists { class, profile } => {
                match run(&format!("RLIST {class} {profile}")) {
                    Ok(_) => {}
                    Err(e) if e.kind == CommandErrorKind::NotFound => {
                        writeln!(
                            out,
                            "[{number}/{total}] skipped: {shown} ({class} {profile} is not defined; the RDATALIB profile decides)"
                        )?;
                        continue;
                    }
                    Err(e) => return failed(&shown, e),
                }
            }
            ring_setup::Guard::Refresh(classes) => {
                let listed = match run("SETROPTS LIST") {
                    Ok(listing) => raclisted_classes(&listing.lines),
                    Err(e) => return failed(&shown, e),
                };
                let raclisted: Vec<&str> = classes
                    .iter()
                    .copied()
                    .filter(|class| listed.iter().any(|l| l == class))
                    .collect();
                if raclisted.is_empty() {
                    writeln!(
                        out,
                        "[{number}/{total}] skipped: {shown} (not RACLISTed: nothing to refresh)"
                    )?;
                    continue;
                }
                if raclisted.len() < classes.len() {
                    text = format!("SETROPTS RACLIST({}) REFRESH", raclisted.join(","));
                    shown = text.clone();
                }
            }
            ring_setup::Guard::Always | ring_setup::Guard::BestEffort => {}
        }
        writeln!(out, "[{number}/{total}] {shown}")?;
        match run(&text) {
            Ok(output) => {
                for line in &output.lines {
                    writeln!(out, "{line}")?;
                }
            }
            Err(e)
                if step.guard == ring_setup::Guard::BestEffort
                    && matches!(
                        e.kind,
                        CommandErrorKind::NotFound | CommandErrorKind::Invalid
                    ) =>
            {
                for line in &e.lines {
                    writeln!(out, "{line}")?;
                }
                writeln!(out, "[{number}/{total}] nothing to remove; going on")?;
            }
            Err(e) => return failed(&shown, e),
        }
    }
    Ok(Ok(()))
}

/// A failed command of the set-up: its messages, which one, and what that
/// leaves.
fn ring_failure(failure: &RingFailure) -> ExitCode {
    let RingFailure {
        number,
        total,
        shown,
        error,
    } = failure;
    eprintln!("{error}");
    eprintln!("zgate cert init: command {number} of {total} failed: {shown}");
    eprintln!(
        "zgate cert init: the {} commands before it are committed, the failing one changed nothing, \
         and zgate.yaml was not changed; fix the cause and run again (--force removes what was made)",
        number - 1
    );
    ExitCode::from(EXIT_COMMAND_FAILED)
}

fn run_import(global: &Global, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let config = match load_config(global) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let setup = setup_from(&config);
    let configured = &config.setup_certificate;
    let source = if let (Some(key), Some(cert)) = (args.key, args.cert) {
        pki::ImportSource::Pem { key, chain: cert }
    } else {
        let file = args
            .keystore
            .or_else(|| configured.import_keystore.clone())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "nothing to import: give --keystore FILE --password P [--alias A], or --key KEY --cert CHAIN \
                     (or set zowe.setup.certificate.pkcs12.import.keystore)"
                )
            })?;
        let password = args
            .password
            .or_else(|| {
                configured
                    .import_password
                    .as_ref()
                    .map(|p| p.expose().to_string())
            })
            .ok_or_else(|| {
                anyhow::anyhow!("give the password of {} with --password", file.display())
            })?;
        pki::ImportSource::Pkcs12 {
            file,
            password: pki::Secret::new(password),
            alias: args.alias.or_else(|| configured.import_alias.clone()),
        }
    };
    let mut cas = setup.import_cas.clone();
    cas.extend(args.cas);
    let params = pki::ImportParams {
        dir: setup.dir,
        name: setup.name,
        password: pki::Secret::new(setup.password.clone()),
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
    let config = match load_config(global) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let setup = setup_from(&config);
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
        ca_password: pki::Secret::new(setup.ca_password),
        ca_alias,
        user: args.user,
        out_dir: args.out.unwrap_or_else(|| setup.dir.join("clients")),
        password: pki::Secret::new(args.password.unwrap_or(setup.password)),
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
fn doctor_params(args: &DoctorArgs, config: &Config) -> anyhow::Result<pki::DoctorParams> {
    let runtime = &config.certificate;
    let mut params = pki::DoctorParams::new(SystemTime::now());
    let keystore_password = args
        .password
        .clone()
        .unwrap_or_else(|| runtime.keystore.password.expose().to_string());
    params.keystore = Some(pki::KeystoreParams::Pkcs12 {
        file: args
            .keystore
            .clone()
            .unwrap_or_else(|| runtime.keystore.file.clone()),
        password: pki::Secret::new(keystore_password.clone()),
        alias: Some(
            args.alias
                .clone()
                .unwrap_or_else(|| runtime.keystore_alias.clone()),
        ),
    });
    let truststore_password = match (&args.truststore_password, &args.truststore) {
        (Some(p), _) => p.clone(),
        // An explicit truststore without its own password: the keystore's.
        (None, Some(_)) => keystore_password,
        (None, None) => runtime.truststore.password.expose().to_string(),
    };
    params.truststore = Some(pki::TruststoreParams::Pkcs12 {
        file: args
            .truststore
            .clone()
            .unwrap_or_else(|| runtime.truststore.file.clone()),
        password: pki::Secret::new(truststore_password),
    });
    params.hostnames = if args.hostnames.is_empty() {
        let mut hosts = config.external_domains.clone();
        if !hosts.iter().any(|h| h.eq_ignore_ascii_case("localhost")) {
            hosts.push("localhost".into());
        }
        hosts
    } else {
        args.hostnames.clone()
    };
    params.connect = args.connect.clone();
    params.verify = match config.verify_certificates {
        VerifyCertificates::Strict => pki::VerifySetting::Strict,
        VerifyCertificates::NonStrict => pki::VerifySetting::NonStrict,
        VerifyCertificates::Disabled => pki::VerifySetting::Disabled,
    };
    Ok(params)
}

/// The doctor of a key ring keystore: the ring read as the gateway's user
/// under R_datalib's rules, the chain's CAs connected, then every check of
/// [`pki::doctor`] on what was read.
fn ring_doctor(
    global: &Global,
    args: &DoctorArgs,
    config: &Config,
) -> anyhow::Result<Vec<pki::Check>> {
    use zgate_gateway::key_rings::{KeyRingStoreError, KeyRingStores};
    let user = zgate_gateway::routing::setup::SERVER_USER;
    let esm = std::sync::Arc::new(crate::esm_cmd::open(global)?);
    let fail = |id: &'static str, message: String, fix: String| pki::Check {
        id,
        status: pki::Status::Fail,
        message,
        fix: Some(fix),
    };
    let stores = match KeyRingStores::of(config, esm, user) {
        Ok(Some(stores)) => stores,
        Ok(None) => return Ok(pki::doctor(&doctor_params(args, config)?)),
        Err(error) => {
            return Ok(vec![fail(
                "ring.open",
                error.to_string(),
                "correct zowe.certificate.keystore.file".into(),
            )])
        }
    };
    let ring = stores.keystore_name();
    let (material, _) = match stores.load() {
        Ok(loaded) => loaded,
        Err(error) => {
            let fix = match &error {
                KeyRingStoreError::Access {
                    source:
                        zgate_esm::RingAccessError::NotAuthorized {
                            resource,
                            class,
                            needed,
                            caller,
                        },
                    ..
                } => format!(
                    "give {caller} access: PERMIT {resource} CLASS({class}) ID({caller}) ACCESS({needed}), then SETROPTS RACLIST({class}) REFRESH"
                ),
                KeyRingStoreError::Access { .. } => "create the ring (RACDCERT ADDRING) or correct zowe.certificate.keystore.file; `zgate cert init` sets one up".to_owned(),
                _ => "do what the message says".into(),
            };
            return Ok(vec![fail("ring.open", error.to_string(), fix)]);
        }
    };
    let mut checks = vec![pki::Check {
        id: "ring.open",
        status: pki::Status::Ok,
        message: format!(
            "the key ring {ring} was read as {user}: a server certificate with its private key and {} trusted certificate(s)",
            material.trust_anchors.len()
        ),
        fix: None,
    }];
    match stores.missing_issuer() {
        Ok(None) => checks.push(pki::Check {
            id: "ring.ca",
            status: pki::Status::Ok,
            message: format!("the server certificate's chain is complete in {ring}"),
            fix: None,
        }),
        Ok(Some(missing)) => checks.push(fail(
            "ring.ca",
            format!(
                "the CA '{}' that issued '{}' is not connected to the key ring {ring}, so clients are not sent the whole chain",
                missing.issuer, missing.subject
            ),
            format!("connect it: {}", missing.connect_command()),
        )),
        Err(error) => checks.push(fail(
            "ring.ca",
            error.to_string(),
            "do what the message says".into(),
        )),
    }
    let mut params = doctor_params(args, config)?;
    params.keystore = Some(pki::KeystoreParams::Loaded {
        name: format!("the key ring {ring}"),
        entry: Box::new(pki::KeyEntry {
            alias: config.certificate.keystore_alias.clone(),
            key: material.key.clone(),
            chain: material.chain.clone(),
        }),
    });
    params.truststore = Some(pki::TruststoreParams::Loaded {
        name: format!("the trust anchors of {ring}"),
        certs: material.trust_anchors.clone(),
    });
    checks.extend(pki::doctor(&params));
    Ok(checks)
}

fn run_doctor(global: &Global, args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let config = match load_config(global) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let checks = match (
        config.certificate.keystore.location.ring_name(),
        &args.keystore,
    ) {
        (Some(_), None) => ring_doctor(global, &args, &config)?,
        _ => pki::doctor(&doctor_params(&args, &config)?),
    };
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

/// Writing the runtime certificate keys (`zowe.certificate.*`) that
/// `cert init` / `cert import` produce into `<home>/zgate.yaml`. Reading is
/// the config crate's job.
pub(crate) mod settings {
    use std::path::{Path, PathBuf};

    use anyhow::Context;
    use serde_yaml_ng::{Mapping, Value};

    use crate::ring_setup::RingRuntime;
    use crate::Global;

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
    #[cfg(test)]
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

    /// The runtime keys `cert init` writes for a key ring, as `zwe init
    /// certificate --update-config` does.
    fn ring_entries(ring: &RingRuntime) -> Vec<(&'static str, Value)> {
        let text = |s: &str| Value::String(s.to_string());
        let url = ring.ring.url();
        vec![
            ("zowe.certificate.keystore.type", text(&ring.store_type)),
            ("zowe.certificate.keystore.file", text(&url)),
            // Zowe's dummy: Java wants a password, a ring has none.
            ("zowe.certificate.keystore.password", text("password")),
            ("zowe.certificate.keystore.alias", text(&ring.alias)),
            ("zowe.certificate.truststore.type", text(&ring.store_type)),
            ("zowe.certificate.truststore.file", text(&url)),
            ("zowe.certificate.truststore.password", text("password")),
            ("zowe.certificate.pem.key", text("")),
            ("zowe.certificate.pem.certificate", text("")),
            (
                "zowe.certificate.pem.certificateAuthorities",
                Value::Sequence(
                    ring.certificate_authorities
                        .iter()
                        .map(|ca| text(&ca.url()))
                        .collect(),
                ),
            ),
        ]
    }

    /// The keys and values [`write_ring_certificate`] writes, one a line.
    pub fn ring_lines(ring: &RingRuntime) -> Vec<String> {
        ring_entries(ring)
            .into_iter()
            .map(|(key, value)| {
                let shown = match &value {
                    Value::Sequence(items) => items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","),
                    other => other.as_str().unwrap_or_default().to_owned(),
                };
                format!("{key}: {shown}")
            })
            .collect()
    }

    /// Merge the key ring's `zowe.certificate` keys into `<home>/zgate.yaml`
    /// as [`write_runtime_certificate`] does.
    pub fn write_ring_certificate(global: &Global, ring: &RingRuntime) -> anyhow::Result<PathBuf> {
        write_entries(global, ring_entries(ring))
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
        write_entries(global, entries.into())
    }

    /// Sets `entries` in `<home>/zgate.yaml`, keeping every other key;
    /// written to a temporary file and renamed, mode 0600.
    fn write_entries(
        global: &Global,
        entries: Vec<(&'static str, Value)>,
    ) -> anyhow::Result<PathBuf> {
        use std::io::Write;
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let path = global.home.join("zgate.yaml");
        let mut root = load(&path)?;
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
    use std::path::Path;

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
    fn imported_keystores_pass_doctor_and_client_needs_the_local_ca() {
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
    fn the_key_ring_configuration_written_loads_as_the_ring() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(
            home.path().join("zgate.yaml"),
            "components:\n  gateway:\n    port: 8443\nzowe:\n  setup:\n    certificate:\n      type: JCECCARACFKS\n      keyring:\n        name: ZoweKeyring\n",
        )
        .unwrap();
        let g = global(home.path(), &[]);
        let config = load_config(&g).unwrap();
        let keyring = config.setup_certificate.keyring.clone().unwrap();
        let choices = ring_setup::Choices {
            not_after: "2036-01-01".into(),
            alt_name: ring_setup::AltName::default(),
            trust_zosmf: false,
            overwrite: false,
            import_file: None,
        };
        let plan = ring_setup::plan(&config.setup_certificate, &keyring, &choices).unwrap();
        settings::write_ring_certificate(&g, &plan.runtime).unwrap();

        let loaded = load_config(&g).unwrap();
        let certificate = &loaded.certificate;
        assert_eq!(
            certificate.keystore.location,
            zgate_config::KeystoreLocation::Ring {
                owner: "ZWESVUSR".into(),
                ring: "ZoweKeyring".into(),
                label: Some("localhost".into()),
            }
        );
        assert_eq!(certificate.keystore.store_type, "JCECCARACFKS");
        assert_eq!(certificate.truststore.store_type, "JCECCARACFKS");
        assert_eq!(certificate.keystore_alias, "localhost");
        assert_eq!(
            certificate.pem_certificate_authorities_in_rings[0].url(),
            "safkeyring://ZWESVUSR/ZoweKeyring&localca"
        );
        assert!(certificate.pem_certificate_authorities.is_empty());
        let doc = yaml(home.path());
        let get = |path: &str| {
            settings::get(&doc, path)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        assert_eq!(
            get("zowe.certificate.keystore.file").as_deref(),
            Some("safkeyring://ZWESVUSR/ZoweKeyring")
        );
        assert_eq!(
            get("zowe.certificate.keystore.password").as_deref(),
            Some("password")
        );
        assert_eq!(get("zowe.certificate.pem.key").as_deref(), Some(""));
        assert_eq!(get("zowe.certificate.pem.certificate").as_deref(), Some(""));
        // Everything else is kept.
        assert_eq!(
            settings::get(&doc, "components.gateway.port").and_then(|v| v.as_u64()),
            Some(8443)
        );
        assert_eq!(
            get("zowe.setup.certificate.keyring.name").as_deref(),
            Some("ZoweKeyring")
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(home.path().join("zgate.yaml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        // The doctor reads the ring, which this home's ESM does not have:
        // its `ring.open` check fails.
        assert_ne!(cert(&g, &["doctor"]).unwrap(), ExitCode::SUCCESS);
    }

    /// The set-up's steps other than RACDCERT, run on a real ESM: guards
    /// skip what does not apply, clean-up goes past what is not there, and
    /// the first failure stops the run.
    #[test]
    fn ring_steps_run_on_the_esm_as_their_guards_say() {
        use zgate_esm::{Esm, EsmConfig, Issuer, Origin};
        let esm = Esm::in_memory(EsmConfig::default()).unwrap();
        let (issuer, origin) = (Issuer::Operator, Origin::local_shell());
        esm.run_command(&issuer, "ADDUSER ZWESVUSR NOPASSWORD")
            .unwrap();
        let home = tempfile::tempdir().unwrap();
        std::fs::write(
            home.path().join("zgate.yaml"),
            "zowe:\n  setup:\n    certificate:\n      type: JCERACFKS\n      keyring:\n        name: ZoweKeyring\n",
        )
        .unwrap();
        let config = load_config(&global(home.path(), &[])).unwrap();
        let choices = ring_setup::Choices {
            not_after: "2036-01-01".into(),
            alt_name: ring_setup::AltName::default(),
            trust_zosmf: false,
            overwrite: true,
            import_file: None,
        };
        let keyring = config.setup_certificate.keyring.clone().unwrap();
        let plan = ring_setup::plan(&config.setup_certificate, &keyring, &choices).unwrap();
        let is_racdcert = |step: &&ring_setup::Step| step.text().starts_with("RACDCERT");
        let steps: Vec<ring_setup::Step> = plan
            .steps
            .iter()
            .filter(|step| !is_racdcert(step))
            .cloned()
            .collect();
        let mut out = Vec::new();
        run_ring_steps(&esm, &issuer, &origin, &steps, &mut out)
            .unwrap()
            .unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.contains("] PERMIT IRR.DIGTCERT.GENCERT CLASS(FACILITY) DELETE ID(ZWESVUSR)\n"),
            "{out}"
        );
        assert!(out.contains("nothing to remove; going on"), "{out}");
        assert!(
            out.contains("skipped: SETROPTS RACLIST(DIGTRING) REFRESH (not RACLISTed"),
            "{out}"
        );
        assert!(
            out.contains("skipped: PERMIT IRR.DIGTCERT.LISTRING CLASS(FACILITY) ID(ZWESVUSR) ACCESS(READ) (FACILITY IRR.DIGTCERT.LISTRING is not defined"),
            "{out}"
        );
        assert!(
            out.contains("] SETROPTS RACLIST(RDATALIB) REFRESH\n"),
            "{out}"
        );
        let decision = esm.check(
            "ZWESVUSR",
            "RDATALIB",
            "ZWESVUSR.ZOWEKEYRING.LST",
            zgate_esm::AccessLevel::Control,
        );
        assert!(decision.authorized(), "{decision}");

        // Where the FACILITY profiles exist, the PERMITs and the refresh run.
        for command in [
            "RDEFINE FACILITY IRR.DIGTCERT.LISTRING UACC(NONE)",
            "RDEFINE FACILITY IRR.DIGTCERT.LIST UACC(NONE)",
            "SETROPTS CLASSACT(FACILITY) RACLIST(FACILITY)",
        ] {
            esm.run_command(&issuer, command).unwrap();
        }
        let facility: Vec<ring_setup::Step> = steps
            .iter()
            .filter(|step| step.text().contains("FACILITY") && !step.text().contains("DELETE"))
            .cloned()
            .collect();
        assert_eq!(facility.len(), 4, "{facility:?}");
        let mut out = Vec::new();
        run_ring_steps(&esm, &issuer, &origin, &facility[1..], &mut out)
            .unwrap()
            .unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(!out.contains("skipped"), "{out}");
        assert!(
            out.contains("] SETROPTS RACLIST(FACILITY) REFRESH\n"),
            "{out}"
        );
        let decision = esm.check(
            "ZWESVUSR",
            "FACILITY",
            "IRR.DIGTCERT.LISTRING",
            zgate_esm::AccessLevel::Read,
        );
        assert!(decision.authorized(), "{decision}");

        // The set-up's RDEFINE, now a duplicate: the run stops there.
        let rdefine = steps
            .iter()
            .position(|step| step.text().starts_with("RDEFINE RDATALIB"))
            .unwrap();
        let mut out = Vec::new();
        let failure = run_ring_steps(&esm, &issuer, &origin, &steps[rdefine..], &mut out)
            .unwrap()
            .unwrap_err();
        assert_eq!(failure.number, 1);
        assert_eq!(failure.total, steps.len() - rdefine);
        assert_eq!(
            failure.shown,
            "RDEFINE RDATALIB ZWESVUSR.ZoweKeyring.LST UACC(NONE)"
        );
        assert!(!String::from_utf8(out).unwrap().contains("PERMIT"));
    }

    #[test]
    fn setropts_list_names_the_raclisted_classes() {
        let lines: Vec<String> = [
            "ACTIVE CLASSES = FACILITY RDATALIB",
            "SETR RACLIST CLASSES = FACILITY RDATALIB",
        ]
        .map(String::from)
        .into();
        assert_eq!(raclisted_classes(&lines), ["FACILITY", "RDATALIB"]);
        assert!(raclisted_classes(&["SETR RACLIST CLASSES = NONE".to_owned()]).is_empty());
        assert!(raclisted_classes(&[]).is_empty());
    }

    #[test]
    fn reads_a_real_zowe_yaml() {
        let example = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/zowe/config/example-zowe.yaml"
        ));
        let home = tempfile::tempdir().unwrap();
        let g = Global {
            home: home.path().to_path_buf(),
            set: vec!["zowe.setup.certificate.san=a.example.com, 10.1.1.1".into()],
            config: Some(example),
        };
        let config = load_config(&g).unwrap();
        let configured = &config.setup_certificate;
        assert_eq!(configured.store_type, "PKCS12");
        assert_eq!(configured.directory, PathBuf::from("/var/zowe/keystore"));
        assert_eq!(config.verify_certificates, VerifyCertificates::Strict);
        assert_eq!(config.external_domains, vec!["sample-domain.com"]);
        assert_eq!(configured.san, vec!["a.example.com", "10.1.1.1"]);
        let setup = setup_from(&config);
        assert_eq!(setup.name, "localhost");
        assert_eq!(setup.validity_days, 3650);
        assert_eq!(setup.dname, zgate_pki::Dname::default());
    }
}
