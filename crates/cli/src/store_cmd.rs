//! `zgate store migrate`: moves a single instance's ESM state into another
//! store (its SQLite file into the PostgreSQL database of a cluster) and
//! checks the copy.
//!
//! ```text
//! zgate store migrate --from sqlite:PATH --to postgres://user@host/db [--replace]
//! ```
//! Progress on stderr (`copying users: 10000/52311`); on stdout each
//! table's rows and checksum on both sides, `equal` or `DIFFERENT`. Exit
//! 0 when every table is equal, 1 on a failure, a refused target (not
//! empty without `--replace`) or a difference, 64 on bad usage (a location
//! that is neither `sqlite:PATH` nor a PostgreSQL URL, or one store twice).
//! A PostgreSQL URL is never printed: it may hold a password.
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use zgate_esm::store::copy::{CopyError, CopyProgress, CopyReport};
use zgate_esm::{copy_store, describe_location, StoreLocation};

use crate::Global;

/// Exit status for bad usage (EX_USAGE).
const EXIT_USAGE: u8 = 64;
/// Exit status for a failure, a refusal or a difference.
const EXIT_FAILURE: u8 = 1;

#[derive(clap::Args, Debug)]
#[command(about = "Move the ESM's state between stores")]
pub struct StoreArgs {
    #[command(subcommand)]
    command: StoreCommand,
}

#[derive(clap::Subcommand, Debug)]
enum StoreCommand {
    /// Copy every row of one store into another (in one transaction on
    /// the target), then compare each table's rows and checksum on both
    /// sides.
    #[command(
        long_about = "Copy every row of one store into another, in one transaction on the \
                      target, then compare each table's rows and SHA-256 on both sides.\n\n\
                      Both stores are opened as zgate opens its store: a schema older than \
                      this zgate's is migrated forward first, the source's too. Stop the \
                      gateways using the source before copying it: what they change \
                      afterwards is not copied (and shows as DIFFERENT).",
        after_help = "Locations: sqlite:PATH (a SQLite file, e.g. sqlite:/home/zowe/.zgate/esm.db) \
                      or postgres://user@host:5432/database (also postgresql://).\n\
                      Example:\n  zgate store migrate --from sqlite:$HOME/.zgate/esm.db \
                      --to postgres://zgate@db.example:5432/zgate"
    )]
    Migrate {
        /// The store to copy from (`sqlite:PATH` or a `postgres://` URL);
        /// opening it migrates its schema forward to this zgate's.
        #[arg(long, value_name = "LOC")]
        from: String,
        /// The store to copy into (`sqlite:PATH` or a `postgres://` URL);
        /// refused when it holds rows, unless --replace.
        #[arg(long, value_name = "LOC")]
        to: String,
        /// Delete the target's rows first, in the same transaction.
        #[arg(long)]
        replace: bool,
    },
}

pub fn run(_global: &Global, args: StoreArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        StoreCommand::Migrate { from, to, replace } => migrate(&from, &to, replace),
    }
}

/// Reads a `--from`/`--to` location: `sqlite:PATH` or a PostgreSQL URL.
/// The error never repeats the text: it may be a mistyped URL holding a
/// password.
fn parse_location(text: &str) -> Result<StoreLocation, String> {
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        return Ok(StoreLocation::Postgres(text.to_owned()));
    }
    if let Some(path) = text.strip_prefix("sqlite:") {
        if path.is_empty() {
            return Err("sqlite: needs the path of the file (sqlite:PATH)".to_owned());
        }
        return Ok(StoreLocation::Sqlite(PathBuf::from(path)));
    }
    let what = match text.split_once("://") {
        Some((scheme, _)) => format!("`{scheme}://` is not a store zgate knows"),
        None => "not a store location".to_owned(),
    };
    Err(format!(
        "{what}: give sqlite:PATH or a postgres:// (postgresql://) URL"
    ))
}

fn migrate(from: &str, to: &str, replace: bool) -> anyhow::Result<ExitCode> {
    let source = match parse_location(from) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("zgate store migrate: --from: {e}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    let target = match parse_location(to) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("zgate store migrate: --to: {e}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    eprintln!(
        "zgate store migrate: from the {} to the {}{}",
        describe_location(&source),
        describe_location(&target),
        if replace {
            ", replacing the target's rows"
        } else {
            ""
        }
    );
    let mut progress = |p: &CopyProgress<'_>| {
        eprintln!("copying {}: {}/{}", p.table, p.copied, p.rows);
    };
    let report = match copy_store(&source, &target, replace, &mut progress) {
        Ok(report) => report,
        Err(e) => return Ok(refused(&e)),
    };
    print_report(&report)?;
    if report.all_equal() {
        println!(
            "zgate store migrate: {} rows in {} tables copied, every table equal (target generation {} -> {})",
            report.rows_copied,
            report.tables.len(),
            report.generation_before,
            report.generation
        );
        Ok(ExitCode::SUCCESS)
    } else {
        let different: Vec<&str> = report
            .tables
            .iter()
            .filter(|t| !t.equal())
            .map(|t| t.table.as_str())
            .collect();
        eprintln!(
            "zgate store migrate: the copy was committed but differs from the source in: {}",
            different.join(", ")
        );
        Ok(ExitCode::from(EXIT_FAILURE))
    }
}

/// A copy that did not happen: its message and exit status.
fn refused(error: &CopyError) -> ExitCode {
    eprintln!("zgate store migrate: {error}");
    if let CopyError::Store { error: cause, .. } = error {
        let mut source = std::error::Error::source(cause);
        while let Some(s) = source {
            eprintln!("  caused by: {s}");
            source = s.source();
        }
    }
    match error {
        CopyError::TargetNotEmpty { .. } => {
            eprintln!(
                "zgate store migrate: nothing was written; give --replace to delete the target's rows"
            );
            ExitCode::from(EXIT_FAILURE)
        }
        CopyError::SameStore => ExitCode::from(EXIT_USAGE),
        _ => {
            eprintln!("zgate store migrate: nothing was written");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn print_report(report: &CopyReport) -> std::io::Result<()> {
    let width = report
        .tables
        .iter()
        .map(|t| t.table.len())
        .max()
        .unwrap_or(0)
        .max("TABLE".len());
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<width$}  {:>8}  {:<64}  RESULT",
        "TABLE", "ROWS", "SHA-256"
    )?;
    for t in &report.tables {
        if t.equal() {
            writeln!(
                out,
                "{:<width$}  {:>8}  {:<64}  equal",
                t.table, t.source.rows, t.source.sha256
            )?;
        } else {
            writeln!(
                out,
                "{:<width$}  {:>8}  {:<64}  DIFFERENT (source)",
                t.table, t.source.rows, t.source.sha256
            )?;
            writeln!(
                out,
                "{:<width$}  {:>8}  {:<64}  DIFFERENT (target)",
                "", t.target.rows, t.target.sha256
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_sqlite_paths_or_postgres_urls() {
        assert_eq!(
            parse_location("sqlite:/h/esm.db"),
            Ok(StoreLocation::Sqlite(PathBuf::from("/h/esm.db")))
        );
        assert_eq!(
            parse_location("PostgreSQL://u@h/db"),
            Ok(StoreLocation::Postgres("PostgreSQL://u@h/db".into()))
        );
        for bad in [
            "sqlite:",
            "/h/esm.db",
            "mysql://u:secretpw@h/db",
            "postgres:/x",
        ] {
            let e = parse_location(bad).unwrap_err();
            assert!(
                !e.contains("secretpw") && e.contains("sqlite:PATH"),
                "{bad}: {e}"
            );
        }
    }
}
