//! `zgate`: the command line. Glue only: parse arguments, call the library
//! crates, turn their typed errors into text and exit codes.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod audit_cmd;
mod cert_cmd;
mod config_cmd;
mod esm_cmd;
mod home;
mod oidc_cmd;
mod ring_setup;
mod serve_cmd;
mod store_cmd;

/// The gateway allocates and frees small buffers on every request from every
/// worker thread; glibc's allocator spent a tenth of a routed request in
/// arena bookkeeping (`crates/gateway/benches/route.sh`, perf), mimalloc's
/// thread-local free lists a fraction of that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// zgate: the Zowe security architecture as one program.
#[derive(Parser, Debug)]
#[command(name = "zgate", version, about)]
struct Cli {
    /// The home directory holding config, keystores, the ESM database and
    /// runtime state (default ~/.zgate).
    #[arg(long, env = "ZGATE_HOME", global = true, value_name = "DIR")]
    home: Option<PathBuf>,

    /// Override one configuration key for this run: `--set key.path=value`.
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    set: Vec<String>,

    /// Read a real zowe.yaml instead of <home>/zgate.yaml.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the gateway (HTTPS, default port 7554).
    Serve(serve_cmd::ServeArgs),
    /// Show the effective configuration.
    Config(config_cmd::ConfigArgs),
    /// Generate, import and check certificates and keystores.
    Cert(cert_cmd::CertArgs),
    /// Administer the embedded security manager with RACF commands.
    Esm(esm_cmd::EsmArgs),
    /// Check and read the audit trail.
    Audit(audit_cmd::AuditArgs),
    /// Check the OpenID Connect provider, a token and its mapping.
    Oidc(oidc_cmd::OidcArgs),
    /// Move the ESM's state between stores (SQLite into PostgreSQL).
    Store(store_cmd::StoreArgs),
}

/// Options every subcommand sees.
#[derive(Debug, Clone)]
pub struct Global {
    pub home: PathBuf,
    pub set: Vec<String>,
    pub config: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let global = Global {
        home: home::resolve(cli.home),
        set: cli.set,
        config: cli.config,
    };
    let result = match cli.command {
        Command::Serve(args) => serve_cmd::run(&global, args),
        Command::Config(args) => config_cmd::run(&global, args),
        Command::Cert(args) => cert_cmd::run(&global, args),
        Command::Esm(args) => esm_cmd::run(&global, args),
        Command::Audit(args) => audit_cmd::run(&global, args),
        Command::Oidc(args) => oidc_cmd::run(&global, args),
        Command::Store(args) => store_cmd::run(&global, args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("zgate: {err:#}");
            ExitCode::from(1)
        }
    }
}
