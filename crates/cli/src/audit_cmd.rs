//! `zgate audit`: checking and reading the audit trail.
//!
//! ```text
//! zgate audit verify [--dir DIR] [--key FILE]      exit 0 intact, 1 tampered, 2 cannot read
//! zgate audit query [--dir DIR] [filters] [--json]
//! ```
//!
//! The trail is `<home>/audit/`; the signing key `<home>/state/audit.key`
//! (its public half `audit.key.pub`, the last checkpoint `audit.key.head`),
//! outside the trail so that whoever can rewrite one cannot the other.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Map, Value};
use zgate_audit::query::Query;
use zgate_audit::trail::{head_path, public_key_path, trail_files};
use zgate_audit::verify::{parse_head, read_public_key, verify, Expectations};

use crate::Global;

/// The trail directory under a home.
pub fn trail_dir(home: &Path) -> PathBuf {
    home.join("audit")
}

/// The signing key under a home.
pub fn key_path(home: &Path) -> PathBuf {
    home.join("state").join("audit.key")
}

/// The trail a short-lived command (`zgate esm`) records to, written at
/// once under the trail's lock, beside a running `zgate serve`; `None`
/// with `zgate.audit.enabled: false`. A configuration that does not load
/// (`zgate esm` needs none) records with the defaults: no command goes
/// unrecorded because of a typo elsewhere in the file.
pub fn direct_trail(
    global: &Global,
) -> anyhow::Result<Option<std::sync::Arc<dyn zgate_audit::AuditSink>>> {
    use anyhow::Context;
    let loaded = zgate_config::load(&zgate_config::LoadOptions {
        home: global.home.clone(),
        zowe_yaml: global.config.clone(),
        overrides: global.set.clone(),
    });
    let mut policy = zgate_audit::trail::TrailPolicy::default();
    let mut system_id = "ZGAT".to_owned();
    if let Ok(l) = loaded {
        if !l.config.audit.enabled {
            return Ok(None);
        }
        policy.max_file_bytes = l.config.audit.max_file_mb.saturating_mul(1024 * 1024);
        system_id = l.config.audit.system_id;
    }
    let trail = zgate_audit::DirectTrail::open(
        &trail_dir(&global.home),
        &key_path(&global.home),
        policy,
        &system_id,
    )
    .with_context(|| {
        format!(
            "opening the audit trail in {}: no command runs unrecorded",
            trail_dir(&global.home).display()
        )
    })?;
    Ok(Some(std::sync::Arc::new(trail)))
}

#[derive(clap::Args, Debug)]
#[command(about = "Check and read the audit trail")]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(clap::Subcommand, Debug)]
enum AuditCommand {
    /// Check every record's chain, sequence and signatures; name the first break.
    Verify {
        /// The trail directory (default <home>/audit).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The signing key whose `.pub` and `.head` files are read
        /// (default <home>/state/audit.key).
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Print the records an auditor asks for.
    Query {
        /// The trail directory (default <home>/audit).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The user (evt_user_id).
        #[arg(long)]
        user: Option<String>,
        /// RACF's event code (1 logon, 2 resource access, 8-25 commands).
        #[arg(long)]
        event: Option<u64>,
        /// The event code qualifier.
        #[arg(long)]
        qualifier: Option<u64>,
        /// The resource class.
        #[arg(long)]
        class: Option<String>,
        /// The resource name.
        #[arg(long)]
        resource: Option<String>,
        /// Records written at or after (RFC 3339, UTC).
        #[arg(long)]
        since: Option<String>,
        /// Records written before (RFC 3339, UTC).
        #[arg(long)]
        until: Option<String>,
        /// Only violations.
        #[arg(long)]
        violation: bool,
        /// Only accesses granted because of WARNING.
        #[arg(long)]
        warning: bool,
        /// Only records whose authority includes this (SPECIAL, AUDITOR, ...).
        #[arg(long)]
        authority: Option<String>,
        /// One JSON record per line instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(global: &Global, args: AuditArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        AuditCommand::Verify { dir, key } => {
            let dir = dir.unwrap_or_else(|| trail_dir(&global.home));
            let key = key.unwrap_or_else(|| key_path(&global.home));
            Ok(verify_cmd(&dir, &key))
        }
        AuditCommand::Query {
            dir,
            user,
            event,
            qualifier,
            class,
            resource,
            since,
            until,
            violation,
            warning,
            authority,
            json,
        } => {
            let dir = dir.unwrap_or_else(|| trail_dir(&global.home));
            let query = Query {
                user,
                event,
                qualifier,
                class,
                resource,
                since,
                until,
                violation: violation.then_some(true),
                warning: warning.then_some(true),
                authority,
            };
            query_cmd(&dir, &query, json)
        }
    }
}

fn verify_cmd(dir: &Path, key: &Path) -> ExitCode {
    let files = match trail_files(dir) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("zgate audit: {e}");
            return ExitCode::from(2);
        }
    };
    if files.is_empty() {
        eprintln!("zgate audit: {}: no trail files", dir.display());
        return ExitCode::from(2);
    }
    let public_key = match read_public_key(&public_key_path(key)) {
        Ok(k) => Some(k),
        Err(e) => {
            eprintln!("zgate audit: {e}: checkpoint signatures are not checked");
            None
        }
    };
    let head = std::fs::read_to_string(head_path(key))
        .ok()
        .and_then(|t| parse_head(&t));
    match verify(&files, &Expectations { public_key, head }) {
        Ok(v) => {
            println!(
                "intact: {} records in {} files, {} checkpoint signatures verified, last seq {}",
                v.records, v.files, v.checkpoints, v.last_seq
            );
            ExitCode::SUCCESS
        }
        Err(b) => {
            println!("tampered: {b}");
            ExitCode::from(1)
        }
    }
}

fn query_cmd(dir: &Path, query: &Query, json: bool) -> anyhow::Result<ExitCode> {
    let files = trail_files(dir)?;
    if !json {
        println!(
            "{:>8}  {:<24}  {:>5}  {:<8}  {:<8}  {:<46}  RESULT",
            "SEQ", "TIME", "EVENT", "USER", "CLASS", "RESOURCE / COMMAND"
        );
    }
    for file in files {
        let text = std::fs::read_to_string(&file)?;
        for line in text.lines() {
            let Ok(Value::Object(record)) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if !query.matches(&record) {
                continue;
            }
            if json {
                println!("{line}");
            } else {
                println!("{}", table_row(&record));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn table_row(r: &Map<String, Value>) -> String {
    let text = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
    let number = |k: &str| {
        r.get(k)
            .and_then(Value::as_u64)
            .map(|n| n.to_string())
            .unwrap_or_default()
    };
    let what = r
        .get("cmd")
        .and_then(|c| c.get("text_masked"))
        .and_then(Value::as_str)
        .unwrap_or_else(|| text("res_name"));
    let result = if r.get("violation").and_then(Value::as_bool) == Some(true) {
        "VIOLATION"
    } else if r.get("user_warning").and_then(Value::as_bool) == Some(true) {
        "WARNING"
    } else {
        "ok"
    };
    format!(
        "{:>8}  {:<24}  {:>5}  {:<8}  {:<8}  {:<46}  {}",
        number("seq"),
        text("time_written"),
        format!("{}/{}", number("event"), number("event_qual")),
        text("evt_user_id"),
        text("class"),
        what,
        result
    )
}
