//! `zgate config show`: the effective configuration, each key with its value
//! (secrets masked) and where it came from (default, file:line, --set).
use std::process::ExitCode;

use zgate_config::{load, LoadOptions, Loaded};

use crate::Global;

/// `EX_USAGE`: a bad configuration.
pub const EXIT_CONFIG: u8 = 64;

#[derive(clap::Args, Debug)]
pub struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(clap::Subcommand, Debug)]
enum ConfigCommand {
    /// Print every key, its effective value and its origin.
    Show {
        /// Print JSON (one object per key) instead of aligned text.
        #[arg(long)]
        json: bool,
    },
}

/// Loads the configuration the way `serve` does; on error prints it and
/// returns the exit code to use.
pub fn load_or_report(global: &Global, extra_overrides: &[String]) -> Result<Loaded, ExitCode> {
    let mut overrides = global.set.clone();
    overrides.extend_from_slice(extra_overrides);
    load(&LoadOptions {
        home: global.home.clone(),
        zowe_yaml: global.config.clone(),
        overrides,
    })
    .map_err(|error| {
        eprintln!("zgate: {error}");
        ExitCode::from(EXIT_CONFIG)
    })
}

pub fn run(global: &Global, args: ConfigArgs) -> anyhow::Result<ExitCode> {
    let ConfigCommand::Show { json } = args.command;
    let loaded = match load_or_report(global, &[]) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    for warning in &loaded.warnings {
        eprintln!("zgate: warning: {warning}");
    }
    if json {
        let entries: Vec<_> = loaded
            .effective
            .entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "key": e.spec.key,
                    "value": e.value.as_ref().map(|_| e.display_value()),
                    "source": e.source.to_string(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(ExitCode::SUCCESS);
    }
    let home = loaded.effective.home.display().to_string();
    let width = loaded
        .effective
        .entries
        .iter()
        .map(|e| e.spec.key.len())
        .max()
        .unwrap_or(0);
    match &loaded.file {
        Some(file) => println!("# configuration file: {}", file.display()),
        None => println!("# no configuration file; built-in defaults (home {home})"),
    }
    for entry in &loaded.effective.entries {
        let value = entry.display_value().replace("<home>", &home);
        println!(
            "{:width$}  {}  ({})",
            entry.spec.key,
            value,
            entry.source,
            width = width
        );
    }
    Ok(ExitCode::SUCCESS)
}
