//! `zgate serve`: reads like a script — config, logs, first-start setup,
//! build, listen, wait for a signal, drain.
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use zgate_auth::{Clock as _, SystemClock, TokenService, TokenSettings};
use zgate_config::{LogFormat, CONFIG_FILE};
use zgate_esm::Esm;
use zgate_gateway::bootstrap;
use zgate_gateway::esm_adapter::{ensure_admin, EsmSecurity};
use zgate_gateway::server::{serve_tls, shutdown_signal};
use zgate_gateway::{AppState, Settings};

use crate::config_cmd::load_or_report;
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
    let home = &global.home;
    create_home(home)?;
    let mut first_start_notes = Vec::new();
    if global.config.is_none() {
        let path = home.join(CONFIG_FILE);
        if !path.exists() {
            write_private(&path, zgate_config::default_file_contents().as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            first_start_notes.push(format!("created the configuration {}", path.display()));
        }
    }
    let extra: Vec<String> = args
        .port
        .map(|port| vec![format!("components.gateway.port={port}")])
        .unwrap_or_default();
    // `--port 0` asks the OS for a port; the schema wants 1-65535, so bind
    // to 0 ourselves below.
    let (extra, port_zero) = if args.port == Some(0) {
        (Vec::new(), true)
    } else {
        (extra, false)
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
    for warning in &loaded.warnings {
        tracing::warn!(source = %warning.source, key = %warning.key, "{}", warning.message);
    }

    let started = std::time::Instant::now();
    // Start-up failures the configuration causes exit 64, like config errors.
    match start(global, port_zero, config, first_start_notes, started) {
        Ok(code) => Ok(code),
        Err(error) => match error.downcast_ref::<bootstrap::StartError>() {
            Some(start) if start.is_configuration() => {
                eprintln!("zgate: {start}");
                Ok(ExitCode::from(crate::config_cmd::EXIT_CONFIG))
            }
            _ => Err(error),
        },
    }
}

fn start(
    global: &Global,
    port_zero: bool,
    config: zgate_config::Config,
    mut first_start_notes: Vec<String>,
    started: std::time::Instant,
) -> anyhow::Result<ExitCode> {
    let home = &global.home;
    if let Some(report) = bootstrap::ensure_certificates(&config)? {
        first_start_notes.push(format!(
            "created a local CA and the server certificate in {}",
            config.setup_certificate.directory.display()
        ));
        tracing::info!(keystore = %report.keystore.display(), "certificates created");
    }

    // One clock for the ESM and the tokens: a user's revocation time and a
    // token's issue time are compared.
    let clock = Arc::new(SystemClock);
    let esm_existed = home.join("esm.db").exists();
    let esm = Arc::new(Esm::open_with_clock(home, clock.clone()).context("cannot open the ESM")?);
    let mut admin_lines = Vec::new();
    if !esm_existed {
        if let Some((admin, phrase)) = ensure_admin(&esm, home)? {
            admin_lines.push(format!(
                "created the SPECIAL administrator {}; its initial password (shown once) is: {phrase}",
                admin.user
            ));
            admin_lines.push(format!(
                "the password is also in {} (mode 0600)",
                admin.password_file.display()
            ));
        }
    }
    let purged = esm
        .token_state()
        .purge_expired_tokens(clock.now_ms())
        .context("cannot purge expired revocations")?;
    tracing::debug!(purged, "expired token revocations purged");

    let ring = bootstrap::key_ring(&config, clock.now_ms())?;
    let security = EsmSecurity(esm.clone());
    let tokens = TokenService::new(
        ring,
        clock,
        TokenSettings {
            lifetime_seconds: i64::try_from(config.gateway.security.token_expiration_seconds)
                .unwrap_or(i64::MAX),
            domain: config.gateway.security.security_domain.clone(),
        },
        Arc::new(security.clone()),
    )?;
    let (tls, unsupported) = bootstrap::server_tls(&config)?;
    for cipher in unsupported {
        tracing::warn!("{cipher}");
    }
    // MFA settings, PATs, client certificates.
    esm.set_mfa_settings(zgate_esm::MfaSettings {
        separator: config.gateway.security.mfa_separator.clone(),
        // Each step either side costs an HMAC per logon; more than 10
        // (5 minutes) defeats the point of a time-based code.
        skew_steps: config.gateway.security.mfa_skew_steps.min(10),
    });
    let tokens = Arc::new(tokens);
    let pats = config
        .gateway
        .security
        .personal_access_token_enabled
        .then(|| {
            Arc::new(zgate_auth::PatService::new(
                tokens.clone(),
                Arc::new(security.clone()),
            ))
        });
    let mut state = AppState::new(
        Arc::new(security),
        tokens,
        Settings {
            allow_token_refresh: config.gateway.security.allow_token_refresh,
            cookie_max_age_seconds: config.gateway.security.cookie_max_age_seconds,
            x509_enabled: config.gateway.security.x509_enabled,
        },
    );
    if let Some(pats) = pats {
        state = state.with_pats(pats);
    }
    // Routing to services (definitions validated here: bad ones
    // refuse the start with file:line errors), PassTickets as ZWESVUSR.
    if !esm_existed {
        zgate_gateway::routing::setup::bootstrap_server_user(&esm)
            .context("cannot set up the gateway's server user")?;
    }
    let routing = match zgate_gateway::routing::setup::routing(&config, esm.clone()) {
        Ok(routing) => routing,
        Err(error) => {
            eprintln!("zgate: {error}");
            return Ok(ExitCode::from(crate::config_cmd::EXIT_CONFIG));
        }
    };
    let app = zgate_gateway::routes::router_with(state, Some(routing.clone()));

    // This runtime accepts connections and runs the housekeeping (ESM
    // reload, health polls, SIGHUP); requests are served by the per-core
    // worker threads `serve_tls` starts.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let port = if port_zero { 0 } else { config.gateway.port };
    let ca_file = bootstrap::ca_file(&config);
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((config.gateway.address, port))
            .await
            .with_context(|| format!("cannot listen on {}:{port}", config.gateway.address))?;
        let local = listener.local_addr()?;
        for note in &first_start_notes {
            println!("zgate: {note}");
        }
        for line in &admin_lines {
            println!("zgate: {line}");
        }
        if ca_file.exists() {
            println!(
                "zgate: clients should trust the CA certificate {}",
                ca_file.display()
            );
        }
        println!(
            "zgate: listening on https://localhost:{} (bound to {local}, ready in {} ms)",
            local.port(),
            started.elapsed().as_millis()
        );
        tracing::info!(address = %local, "listening");
        // Pick up changes other processes commit (`zgate esm ...`): profiles,
        // revoked users, revoked tokens. A revoked user must lose access
        // within a second; a tick reads one generation counter.
        let reload = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            loop {
                tick.tick().await;
                let esm = esm.clone();
                match tokio::task::spawn_blocking(move || esm.reload_if_changed()).await {
                    Ok(Err(error)) => tracing::warn!(%error, "ESM reload failed"),
                    Ok(Ok(true)) => tracing::info!("ESM changes picked up"),
                    _ => {}
                }
            }
        });
        // Instance health, and SIGHUP re-reads the service definitions.
        let health = tokio::spawn(routing.clone().poll_health());
        let hup = tokio::spawn(async move {
            let Ok(mut hup) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            else {
                return;
            };
            while hup.recv().await.is_some() {
                let r = routing.clone();
                match tokio::task::spawn_blocking(move || r.reload()).await {
                    Ok(Ok(n)) => tracing::info!(services = n, "service definitions reloaded"),
                    Ok(Err(errors)) => tracing::warn!(%errors, "service definitions refused; the previous set stays"),
                    Err(_) => {}
                }
            }
        });
        serve_tls(
            listener,
            tls,
            app,
            shutdown_signal(),
            Duration::from_secs(config.gateway.shutdown_grace_seconds),
        )
        .await
        .context("cannot start the worker threads")?;
        reload.abort();
        health.abort();
        hup.abort();
        anyhow::Ok(())
    })?;
    println!("zgate: stopped");
    Ok(ExitCode::SUCCESS)
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

fn create_home(home: &Path) -> anyhow::Result<()> {
    if home.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(home).with_context(|| format!("cannot create {}", home.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}
