//! `zgate serve`: reads like a script — first-start home, config, logs,
//! build the app, tell the operator, serve until a signal, drain. The app
//! itself (what is built, how it runs) is `zgate_app`.
use std::error::Error as _;
use std::process::ExitCode;

use anyhow::Context as _;
use tokio::signal::unix::{signal, Signal, SignalKind};
use zgate_app::{App, AppError, Options};
use zgate_config::LogFormat;

use crate::config_cmd::{load_or_report, EXIT_CONFIG};
use crate::Global;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The HTTPS port (overrides components.gateway.port; 0 picks a free one).
    #[arg(long)]
    port: Option<u16>,
    /// Log format on stderr (overrides zgate.log.format).
    #[arg(long, value_enum)]
    log_format: Option<LogFormatArg>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum LogFormatArg {
    Text,
    Json,
}

pub fn run(global: &Global, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let created_config = match zgate_app::prepare_home(&global.home, global.config.is_none()) {
        Ok(created) => created,
        Err(error) => return Ok(report(&error)),
    };
    // `--port 0` asks the OS for a port; the schema wants 1-65535, so the
    // app is told to bind 0 instead of the configuration.
    let (extra, port) = match args.port {
        Some(0) => (Vec::new(), Some(0)),
        Some(port) => (vec![format!("components.gateway.port={port}")], None),
        None => (Vec::new(), None),
    };
    let loaded = match load_or_report(global, &extra) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let config = loaded.config;
    let format = match args.log_format {
        Some(LogFormatArg::Json) => LogFormat::Json,
        Some(LogFormatArg::Text) => LogFormat::Text,
        None => config.log_format,
    };
    init_logging(format, &config.log_level);
    let started = std::time::Instant::now();
    for warning in &loaded.warnings {
        tracing::warn!(source = %warning.source, key = %warning.key, "{}", warning.message);
    }

    let options = Options {
        port,
        ..Options::default()
    };
    let app = match App::from_config(&global.home, config, options) {
        Ok(app) => app,
        Err(error) => return Ok(report(&error)),
    };
    if let Some(path) = created_config {
        println!("zgate: created the configuration {}", path.display());
    }
    let first = app.first_start();
    if let Some(directory) = &first.certificates {
        println!(
            "zgate: created a local CA and the server certificate in {}",
            directory.display()
        );
    }
    if let Some(admin) = &first.admin {
        println!(
            "zgate: created the SPECIAL administrator {}; its initial password (shown once) is: {}",
            admin.user, admin.password
        );
        println!(
            "zgate: the password is also in {} (mode 0600)",
            admin.password_file.display()
        );
    }
    if let Some(ca) = app.ca_file() {
        println!(
            "zgate: clients should trust the CA certificate {}",
            ca.display()
        );
    }
    // This runtime accepts connections and runs the housekeeping; requests
    // are served by the worker threads the app starts.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // Signals are handled from before the listening line: whoever reads it
    // may signal at once.
    let signals = {
        let _entered = runtime.enter();
        Signals::new().context("cannot handle signals")?
    };
    let local = app.local_addr();
    println!(
        "zgate: listening on https://localhost:{} (bound to {local}, ready in {} ms)",
        local.port(),
        started.elapsed().as_millis()
    );
    let handle = app.handle();
    let served = runtime.block_on(async move {
        let Signals {
            mut hangup,
            mut terminate,
            mut interrupt,
        } = signals;
        // SIGHUP asks the app to reload; the app logs what came of it.
        let reloads = tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                let _ = handle.reload().await;
            }
        });
        let shutdown = async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
        };
        let served = app.run(shutdown).await;
        reloads.abort();
        served
    });
    if let Err(error) = served {
        return Ok(report(&error));
    }
    println!("zgate: stopped");
    Ok(ExitCode::SUCCESS)
}

/// The signals `serve` answers: SIGHUP reloads, SIGTERM and SIGINT drain
/// and stop.
struct Signals {
    hangup: Signal,
    terminate: Signal,
    interrupt: Signal,
}

impl Signals {
    /// Must run inside the runtime that will receive them.
    fn new() -> std::io::Result<Signals> {
        Ok(Signals {
            hangup: signal(SignalKind::hangup())?,
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }
}

/// The one mapping of an app error to text and an exit code: the
/// configuration's faults exit 64 like configuration errors, with the
/// message alone; anything else exits 1 with its causes.
fn report(error: &AppError) -> ExitCode {
    if error.is_configuration() {
        eprintln!("zgate: {error}");
        return ExitCode::from(EXIT_CONFIG);
    }
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(source) = cause {
        text.push_str(&format!(": {source}"));
        cause = source.source();
    }
    eprintln!("zgate: {text}");
    ExitCode::from(1)
}

fn init_logging(format: LogFormat, level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("ZGATE_LOG").unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{level},hyper=warn,hyper_util=warn,h2=warn,rustls=warn,tokio_rustls=warn,tower=warn"
        ))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
