//! `zgate esm`: RACF commands, batches, checks and imports against the
//! embedded security manager in `<home>/esm.db`.
//!
//! ```text
//! zgate esm "<RACF command>"            one command (the words may also be given unquoted)
//! zgate esm -f FILE | zgate esm -       a batch: one command per line, /* */ and # comments,
//!                                       trailing - or + continues; progress on stderr
//! zgate esm check USER CLASS RESOURCE LEVEL [--when KIND(VALUE)]... [--json]
//!                                                      exit status = SAF RC (0, 4, 8)
//! zgate esm import FILE                 mock-saf.yml or zgate's own YAML
//! ```
//! A failing command prints RACF's message on stderr and exits 8; nothing
//! of that command is written. The CLI runs as the local operator
//! ([`Issuer::Operator`]): whoever can write the home directory administers it.
//! `--as USER` runs commands with that user's authority instead (SPECIAL,
//! AUDITOR, or their own profiles), to rehearse split duties.
//!
//! Commands are recorded in the audit trail (`<home>/audit`), each before
//! it commits: a command the trail cannot record is not run. `check` is a
//! what-if question of the operator, not an access by the user it names,
//! so it is not recorded.
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use zgate_esm::{split_batch, AccessLevel, Esm, EsmConfig, Issuer, Origin, StoreLocation};

use crate::Global;

/// Exit status when a RACF command fails (RACF's RC 8).
const EXIT_COMMAND_FAILED: u8 = 8;
/// Exit status for bad usage (EX_USAGE).
const EXIT_USAGE: u8 = 64;

#[derive(clap::Args, Debug)]
#[command(
    about = "Administer the embedded security manager with RACF commands",
    after_help = "Examples:\n  zgate esm \"ADDUSER BOB NAME('Bob B')\"\n  zgate esm -f setup.racf\n  \
                  zgate esm check BOB ZOWE APIML.SERVICES READ --json\n  zgate esm import mock-saf.yml\n  \
                  zgate esm rotate-key-encryption-key"
)]
pub struct EsmArgs {
    /// Run the commands of FILE (one per line); `-` reads standard input.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,

    /// Run the commands with USER's authority instead of the operator's.
    #[arg(long = "as", value_name = "USER")]
    as_user: Option<String>,

    /// A RACF command; or `-` (batch from stdin); or
    /// `check USER CLASS RESOURCE LEVEL [--when KIND(VALUE)]... [--json]`; or `import FILE`.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    words: Vec<String>,
}

/// Where the CLI's commands come from, for their records: the operator's
/// own (`ZGATECLI`), or run `--as` a user (`ZGATEAS`), so that the trail
/// tells a user's own command from one the operator issued in its name.
pub(crate) fn origin(issuer: &Issuer) -> Origin {
    let mut origin = Origin::local_shell();
    if matches!(issuer, Issuer::User(_)) {
        origin.job_name = Some("ZGATEAS".into());
    }
    origin
}

pub fn run(global: &Global, args: EsmArgs) -> anyhow::Result<ExitCode> {
    let issuer = match &args.as_user {
        None => Issuer::Operator,
        Some(u) => match zgate_esm::model::normalize_id(u) {
            Ok(id) => Issuer::User(id),
            Err(e) => {
                eprintln!("zgate esm: --as {u}: {e}");
                return Ok(ExitCode::from(EXIT_USAGE));
            }
        },
    };
    if let Some(file) = &args.file {
        if !args.words.is_empty() {
            eprintln!("zgate esm: -f FILE takes no other arguments");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
        let text = if file.as_os_str() == "-" {
            read_stdin()?
        } else {
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
        };
        return batch(global, &issuer, &text);
    }
    let words = &args.words;
    match words.first().map(String::as_str) {
        None => {
            eprintln!("zgate esm: give a RACF command, -f FILE, -, check ..., import FILE or rotate-key-encryption-key");
            Ok(ExitCode::from(EXIT_USAGE))
        }
        Some("-") if words.len() == 1 => batch(global, &issuer, &read_stdin()?),
        Some("check") => check(global, &words[1..]),
        Some("import") => {
            let [file] = &words[1..] else {
                eprintln!("zgate esm: usage: zgate esm import FILE");
                return Ok(ExitCode::from(EXIT_USAGE));
            };
            import(global, &issuer, file)
        }
        Some("rotate-key-encryption-key") if words.len() == 1 => {
            if !matches!(issuer, Issuer::Operator) {
                eprintln!(
                    "zgate esm: rotate-key-encryption-key is the operator's, not --as a user"
                );
                return Ok(ExitCode::from(EXIT_USAGE));
            }
            rotate_key_encryption_key(global)
        }
        Some(_) => single(global, &issuer, &words.join(" ")),
    }
}

/// A new key-encryption key: every private key of the ESM re-sealed under
/// it in one transaction, the old one then dropped from the file.
fn rotate_key_encryption_key(global: &Global) -> anyhow::Result<ExitCode> {
    let esm = open(global)?;
    let resealed = esm
        .rotate_key_encryption_key()
        .context("rotating the key-encryption key")?;
    let path = zgate_esm::keywrap::kek_path(&global.home);
    println!(
        "{resealed} private key(s) re-sealed under key-encryption key {}",
        esm.key_encryption_ids()
            .first()
            .map(String::as_str)
            .unwrap_or("?")
    );
    println!(
        "Gateways sharing this database need the new {} before they open a key.",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn read_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("reading standard input")?;
    Ok(text)
}

/// Where the ESM of the home is (`zgate.store`): the configuration must
/// load, or commands could go to another store than the gateway's.
fn location(global: &Global) -> anyhow::Result<(StoreLocation, String)> {
    let loaded = zgate_config::load(&zgate_config::LoadOptions {
        home: global.home.clone(),
        zowe_yaml: global.config.clone(),
        overrides: global.set.clone(),
    })
    .context("reading the configuration (zgate.store says where the ESM is)")?;
    let location = zgate_app::esm_location(&global.home, &loaded.config);
    let name = match &location {
        StoreLocation::Sqlite(path) => path.display().to_string(),
        // Never the URL: it may hold a password.
        StoreLocation::Postgres(_) => "the PostgreSQL database of zgate.store".to_owned(),
    };
    Ok((location, name))
}

/// The ESM of the home, recording to its audit trail.
pub(crate) fn open(global: &Global) -> anyhow::Result<Esm> {
    let (location, name) = location(global)?;
    let trail = crate::audit_cmd::direct_trail(global)?;
    Esm::open_store(
        &location,
        EsmConfig {
            audit: trail,
            key_encryption_file: Some(zgate_esm::keywrap::kek_path(&global.home)),
            ..EsmConfig::default()
        },
    )
    .with_context(|| format!("opening the ESM in {name}"))
}

/// The ESM of the home, recording nothing (what-if checks).
fn open_unaudited(global: &Global) -> anyhow::Result<Esm> {
    let (location, name) = location(global)?;
    let config = EsmConfig {
        key_encryption_file: Some(zgate_esm::keywrap::kek_path(&global.home)),
        ..EsmConfig::default()
    };
    Esm::open_store(&location, config).with_context(|| format!("opening the ESM in {name}"))
}

fn single(global: &Global, issuer: &Issuer, text: &str) -> anyhow::Result<ExitCode> {
    let esm = open(global)?;
    match esm.run_command_from(issuer, &origin(issuer), text) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            for line in &out.lines {
                writeln!(stdout, "{line}")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::from(EXIT_COMMAND_FAILED))
        }
    }
}

fn batch(global: &Global, issuer: &Issuer, text: &str) -> anyhow::Result<ExitCode> {
    let commands = match split_batch(text) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("zgate esm: {e}");
            return Ok(ExitCode::from(EXIT_COMMAND_FAILED));
        }
    };
    let esm = open(global)?;
    let started = Instant::now();
    let tty = std::io::stderr().is_terminal();
    if commands.len() > 1 {
        eprintln!("zgate esm: {} commands to run", commands.len());
    }
    let mut last_report = Instant::now();
    let mut stdout = std::io::stdout().lock();
    let mut write_error = None;
    let report = esm.run_batch_from(issuer, &origin(issuer), &commands, &mut |p| {
        if let Ok(out) = p.result {
            for line in &out.lines {
                if let Err(e) = writeln!(stdout, "{line}") {
                    write_error.get_or_insert(e);
                }
            }
        }
        // Progress on stderr: a live counter on a terminal, a line a second
        // otherwise (logs stay short).
        let interval = Duration::from_millis(if tty { 100 } else { 1000 });
        if last_report.elapsed() >= interval || p.done == p.total {
            if tty {
                eprint!("\rzgate esm: {}/{} commands", p.done, p.total);
            } else if p.done != p.total {
                eprintln!("zgate esm: {}/{} commands", p.done, p.total);
            }
            last_report = Instant::now();
        }
    });
    if tty {
        eprintln!();
    }
    if let Some(e) = write_error {
        return Err(e).context("writing command output");
    }
    let elapsed = started.elapsed();
    match report.failed {
        None => {
            eprintln!(
                "zgate esm: {} commands done in {:.2} s",
                report.succeeded,
                elapsed.as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Some((cmd, err)) => {
            eprintln!(
                "zgate esm: line {}: {}",
                cmd.line,
                zgate_esm::command::masking::masked(&cmd.text)
            );
            eprintln!("{err}");
            eprintln!(
                "zgate esm: stopped at command {} of {}: {} committed, the failing one changed nothing",
                report.succeeded + 1,
                commands.len(),
                report.succeeded
            );
            Ok(ExitCode::from(EXIT_COMMAND_FAILED))
        }
    }
}

fn check(global: &Global, words: &[String]) -> anyhow::Result<ExitCode> {
    const USAGE: &str =
        "zgate esm: usage: zgate esm check USER CLASS RESOURCE LEVEL [--when KIND(VALUE)]... [--json]";
    let mut json = false;
    let mut context = zgate_esm::CheckContext::default();
    let mut rest: Vec<&String> = Vec::new();
    let mut words = words.iter();
    while let Some(w) = words.next() {
        match w.as_str() {
            "--json" => json = true,
            "--when" => {
                let Some(text) = words.next() else {
                    eprintln!("{USAGE}");
                    return Ok(ExitCode::from(EXIT_USAGE));
                };
                match zgate_esm::command::parse_condition(text) {
                    Ok(c) => context.conditions.push(c),
                    Err(e) => {
                        eprintln!("zgate esm: --when {text}: {e}");
                        return Ok(ExitCode::from(EXIT_USAGE));
                    }
                }
            }
            _ => rest.push(w),
        }
    }
    let [user, class, resource, level] = rest.as_slice() else {
        eprintln!("{USAGE}");
        return Ok(ExitCode::from(EXIT_USAGE));
    };
    let level: AccessLevel = match level.parse() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("zgate esm: {e}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    // Names by RACF's rules, never trimmed: a blank is an error, not a
    // check of another resource.
    let names = zgate_esm::model::normalize_id(user)
        .map_err(|e| e.to_string())
        .and_then(|_| zgate_esm::model::normalize_class(class).map_err(|e| e.to_string()))
        .and_then(|_| {
            zgate_esm::model::normalize_resource_name(resource).map_err(|e| e.to_string())
        });
    if let Err(why) = names {
        eprintln!("zgate esm: {why}");
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    let esm = open_unaudited(global)?;
    let d = esm.check_with(user, class, resource, level, &context);
    if json {
        let body = serde_json::json!({
            "safRc": d.saf_rc,
            "racfRc": d.racf_rc,
            "reason": d.reason,
            "profile": d.profile,
            "grantedBy": d.granted_by.as_ref().map(|g| g.to_string()),
            "authorized": d.authorized(),
            "explanation": d.to_string(),
        });
        println!("{body}");
    } else {
        println!(
            "{} {} {}: {d}",
            user.to_ascii_uppercase(),
            class.to_ascii_uppercase(),
            resource.to_ascii_uppercase()
        );
    }
    Ok(ExitCode::from(d.saf_rc as u8))
}

fn import(global: &Global, issuer: &Issuer, file: &str) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
    let esm = open(global)?;
    match esm.import_yaml(issuer, &text) {
        Ok(report) => {
            for note in &report.notes {
                eprintln!("zgate esm: note: {note}");
            }
            for line in &report.lines {
                println!("{line}");
            }
            eprintln!(
                "zgate esm: imported {file}: {} commands in one transaction",
                report.commands.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("zgate esm: {e}");
            eprintln!("zgate esm: nothing was imported");
            Ok(ExitCode::from(EXIT_COMMAND_FAILED))
        }
    }
}
