//! `zgate oidc check`: whether the gateway would accept the configured
//! OpenID provider's tokens, and why not (spec `oidc.md` sections 2, 4
//! and 8).
//!
//! ```text
//! zgate oidc check [--token TOKEN | --token-file FILE | -]
//! ```
//!
//! Reads the effective configuration of the home, then says, one finding a
//! line (`ok`, `info`, `warn` or `problem`, an id, a sentence; a `fix:` or
//! `run:` line below a problem): what is configured; whether the provider's
//! discovery document names the configured issuer, key set and userinfo
//! endpoint; which of its keys the gateway uses; with a token, what the
//! gateway's own validation answers ([`zgate_auth::oidc::verify`] with
//! [`provider::policy`], or the userinfo endpoint through
//! [`ProviderTokens::validate`]) and every reason it would refuse it; and
//! the mainframe user the token's subject maps to in the home's security
//! manager, or the RACF commands that would map it.
//!
//! Claims are shown as verified only once the signature verified; anything
//! read from a token whose signature did not is marked unverified. The
//! token itself is never printed or logged. The mapping is asked of an ESM
//! opened without an audit sink, as `zgate esm check` asks its what-if
//! questions: the operator's question is no logon of the user.
//!
//! Exit status: 0 when nothing checked is a problem, 1 when something is,
//! 64 for bad usage or configuration.
use std::fmt;
use std::io::{Read as _, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use serde_json::{Map, Value};
use zgate_auth::oidc::{
    verify, Algorithm, KeySet, OidcError, ProviderPolicy, MAX_SUBJECT_BYTES, MAX_TOKEN_BYTES,
};
use zgate_config::{Config, OidcConfig, OidcValidation};
use zgate_esm::{Esm, Origin, SystemClock, UsermapError};
use zgate_gateway::bootstrap;
use zgate_gateway::oidc::fetch::{FetchError, ProviderClient};
use zgate_gateway::oidc::provider::{self, ProviderTokens, Refusal};
use zgate_pki as pki;

use crate::config_cmd::{load_or_report, EXIT_CONFIG};
use crate::Global;

/// Exit status when a problem was found.
const EXIT_PROBLEM: u8 = 1;

/// How long one request to the provider may take (the gateway's own).
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// The configuration keys the fixes name.
const KEY_ENABLED: &str = "components.gateway.apiml.security.oidc.enabled";
const KEY_JWKS_URI: &str = "components.gateway.apiml.security.oidc.jwks.uri";
const KEY_USERINFO_URI: &str = "components.gateway.apiml.security.oidc.userInfo.uri";
const KEY_ISSUERS: &str = "zgate.oidc.issuers";
const KEY_AUDIENCES: &str = "zgate.oidc.audiences";
const KEY_ALGORITHMS: &str = "zgate.oidc.algorithms";

/// The longest RACMAP label, in characters.
const LABEL_MAX_CHARS: usize = 32;

/// `zgate oidc ...`
#[derive(clap::Args, Debug)]
#[command(about = "Check the OpenID Connect provider, its tokens and their mapping")]
pub struct OidcArgs {
    #[command(subcommand)]
    command: OidcCommand,
}

#[derive(clap::Subcommand, Debug)]
enum OidcCommand {
    /// Check the provider configuration and, with a token, whether the
    /// gateway would accept it and which mainframe user it maps to.
    #[command(
        after_help = "Exit status: 0 nothing wrong, 1 a problem found, 64 bad usage or \
                            configuration.\nExamples:\n  zgate oidc check\n  \
                            zgate oidc check --token-file token.jwt\n  \
                            printf %s \"$TOKEN\" | zgate oidc check -"
    )]
    Check(CheckArgs),
}

/// The token never shows in `Debug`.
#[derive(clap::Args)]
struct CheckArgs {
    /// An access token to check (other users may see a command line: prefer
    /// --token-file or -).
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// Read the access token from FILE.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// `-`: read the access token from standard input.
    #[arg(value_name = "-")]
    stdin: Option<String>,
}

impl fmt::Debug for CheckArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckArgs")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_file", &self.token_file)
            .field("stdin", &self.stdin)
            .finish()
    }
}

/// Run `zgate oidc ...`.
pub fn run(global: &Global, args: OidcArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        OidcCommand::Check(args) => check(global, args),
    }
}

/// The token the arguments name, if any; `Err` is a usage error.
fn read_token(args: &CheckArgs) -> Result<Option<String>, String> {
    let given = usize::from(args.token.is_some())
        + usize::from(args.token_file.is_some())
        + usize::from(args.stdin.is_some());
    if given > 1 {
        return Err("give the token one way: --token TOKEN, --token-file FILE or -".into());
    }
    let text = if let Some(token) = &args.token {
        token.clone()
    } else if let Some(file) = &args.token_file {
        std::fs::read_to_string(file).map_err(|e| format!("reading {}: {e}", file.display()))?
    } else if let Some(dash) = &args.stdin {
        if dash != "-" {
            return Err(format!(
                "unexpected argument `{dash}`: give - to read the token from standard input"
            ));
        }
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("reading standard input: {e}"))?;
        text
    } else {
        return Ok(None);
    };
    // A file or a pipe ends with a newline; the gateway trims what follows
    // `Bearer` alike.
    let token = text.trim();
    if token.is_empty() {
        return Err("the token is empty".into());
    }
    Ok(Some(token.to_owned()))
}

fn check(global: &Global, args: CheckArgs) -> anyhow::Result<ExitCode> {
    let token = match read_token(&args) {
        Ok(token) => token,
        Err(why) => {
            eprintln!("zgate oidc check: {why}");
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    let loaded = match load_or_report(global, &[]) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    for warning in &loaded.warnings {
        eprintln!("zgate: warning: {warning}");
    }
    let config = loaded.config;
    // Written, not println!: a closed pipe (`| head`) is an error, not a panic.
    let mut report = Report::new(std::io::stdout().lock());
    let Some(oidc) = &config.oidc else {
        report.line(
            Status::Problem,
            "oidc",
            format!(
                "OIDC is disabled ({KEY_ENABLED} is false): the gateway takes a provider's token for no credentials"
            ),
        )?;
        report.more(
            "fix",
            &format!(
                "set {KEY_ENABLED}: true, with the registry, {KEY_JWKS_URI}, {KEY_ISSUERS} and {KEY_AUDIENCES}"
            ),
        )?;
        return report.finish();
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let mut checker = Checker {
        report,
        runtime,
        client: None,
        policy: provider::policy(oidc),
        oidc,
        global,
    };
    checker.describe()?;
    checker.client = Some(checker.provider_client(&config)?);
    checker.discovery()?;
    let keys = match &oidc.validation {
        OidcValidation::Jwk { uri, .. } => Some(checker.key_set(uri)?),
        OidcValidation::Endpoint { .. } => None,
    };
    let subject = match &token {
        Some(token) => match keys {
            Some(keys) => checker.token_with_keys(token, keys.as_ref())?,
            None => checker.token_with_userinfo(token)?,
        },
        None => {
            checker.report.line(
                Status::Info,
                "token",
                "none given: give --token-file FILE (or -) to check a token and its mapping",
            )?;
            None
        }
    };
    if let Some(sub) = subject {
        checker.mapping(&sub)?;
    }
    checker.report.finish()
}

/// A finding's weight: only `Problem` changes the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Info,
    Warn,
    Problem,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Info => "info",
            Status::Warn => "warn",
            Status::Problem => "problem",
        }
    }
}

/// The findings, written as they are made.
struct Report<W: Write> {
    out: W,
    problems: usize,
    warnings: usize,
}

impl<W: Write> Report<W> {
    fn new(out: W) -> Self {
        Report {
            out,
            problems: 0,
            warnings: 0,
        }
    }

    /// `status id: message`.
    fn line(&mut self, status: Status, id: &str, message: impl AsRef<str>) -> anyhow::Result<()> {
        match status {
            Status::Problem => self.problems += 1,
            Status::Warn => self.warnings += 1,
            Status::Ok | Status::Info => {}
        }
        writeln!(self.out, "{:<7} {id}: {}", status.word(), message.as_ref())?;
        Ok(())
    }

    /// A `fix:` or `run:` line under the finding before.
    fn more(&mut self, label: &str, text: &str) -> anyhow::Result<()> {
        writeln!(self.out, "{:<7} {label}: {text}", "")?;
        Ok(())
    }

    fn finish(mut self) -> anyhow::Result<ExitCode> {
        writeln!(
            self.out,
            "{} {}, {} {}",
            self.problems,
            if self.problems == 1 {
                "problem"
            } else {
                "problems"
            },
            self.warnings,
            if self.warnings == 1 {
                "warning"
            } else {
                "warnings"
            }
        )?;
        self.out.flush()?;
        Ok(if self.problems > 0 {
            ExitCode::from(EXIT_PROBLEM)
        } else {
            ExitCode::SUCCESS
        })
    }
}

/// Why a provider's document could not be had, as a sentence's end.
fn fetch_failure(url: &str, error: &FetchError) -> String {
    match error {
        FetchError::Exchange(_) | FetchError::Timeout(_) => {
            format!("the provider is unreachable: GET {url}: {error}")
        }
        FetchError::NoTls => format!(
            "GET {url}: https needs the truststore, which could not be read, so the gateway cannot reach the provider either"
        ),
        FetchError::Url(_) | FetchError::TooLarge => format!("GET {url}: {error}"),
    }
}

/// A provider's key, as its JWKS describes it.
#[derive(Debug, Clone)]
struct KeyInfo {
    kid: String,
    /// `RSA 2048 bits`, `EC P-256`.
    kind: String,
    /// The JWK's own `alg`, if any.
    alg: Option<String>,
    /// The algorithms the gateway verifies with it.
    usable: Vec<Algorithm>,
}

impl fmt::Display for KeyInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}", self.kid, self.kind)?;
        if let Some(alg) = &self.alg {
            write!(f, ", alg {alg}")?;
        }
        write!(f, ")")
    }
}

/// The provider's key set as fetched, and what the report says of its keys.
struct Keys {
    set: KeySet,
    used: Vec<KeyInfo>,
}

/// The algorithms of `allowed` a key verifies: by its type and curve, and
/// its own `alg` when it has one (zgate's rules, [`zgate_auth::oidc`]).
fn usable_algorithms(
    kty: &str,
    crv: Option<&str>,
    alg: Option<&str>,
    allowed: &[Algorithm],
) -> Vec<Algorithm> {
    let fits: &[Algorithm] = match (kty, crv) {
        ("RSA", _) => &[Algorithm::Rs256, Algorithm::Ps256],
        ("EC", Some("P-256")) => &[Algorithm::Es256],
        ("EC", Some("P-384")) => &[Algorithm::Es384],
        _ => &[],
    };
    fits.iter()
        .copied()
        .filter(|a| allowed.contains(a))
        .filter(|a| alg.is_none_or(|own| own == a.name()))
        .collect()
}

fn names(algorithms: &[Algorithm]) -> String {
    algorithms
        .iter()
        .map(|a| a.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `2026-12-05T22:19:29Z`.
fn when(s: i64) -> String {
    let text = zgate_audit::record::rfc3339_ms(s.saturating_mul(1000));
    if let Some(whole) = text.strip_suffix(".000Z") {
        return format!("{whole}Z");
    }
    text
}

/// `'text'` with RACF's quoting (a `'` doubled).
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// One part of a compact JWS as a JSON object, not verified.
fn jws_part(token: &str, index: usize) -> Option<Map<String, Value>> {
    let part = token.split('.').nth(index)?;
    match serde_json::from_slice(&B64URL.decode(part).ok()?).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// A claim for the report: strings as they are, others as JSON.
fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(show).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// `sub ...; iss ...; aud ...; azp ...; exp <time>; iat <time>; nbf <time>`.
fn claims_line(claims: &Map<String, Value>) -> String {
    let mut parts = Vec::new();
    for name in ["sub", "iss", "aud", "azp", "client_id"] {
        if let Some(value) = claims.get(name) {
            parts.push(format!("{name} {}", show(value)));
        }
    }
    for name in ["exp", "iat", "nbf"] {
        match claims.get(name) {
            Some(Value::Number(n)) if n.as_i64().is_some() => {
                parts.push(format!("{name} {}", when(n.as_i64().unwrap_or_default())));
            }
            Some(other) => parts.push(format!("{name} {other}")),
            None => {}
        }
    }
    if parts.is_empty() {
        "no claims the gateway reads".into()
    } else {
        parts.join("; ")
    }
}

/// `a`, `a` or `b`.
fn one_of(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// A reason the gateway refuses a token: the finding's id, its sentence,
/// and what to do, if anything can be done in zgate's configuration.
struct Why {
    id: &'static str,
    sentence: String,
    fix: Option<String>,
}

impl Why {
    fn new(id: &'static str, sentence: String) -> Why {
        Why {
            id,
            sentence,
            fix: None,
        }
    }

    fn fix(mut self, fix: String) -> Why {
        self.fix = Some(fix);
        self
    }
}

/// Every reason the claims give the gateway to refuse the token, as
/// `zgate_auth::oidc::claim_problems` (the gateway's own rules) finds them,
/// each said with the claims at hand; with `only_issuer_and_expiry`, only
/// what the gateway checks of a token the userinfo endpoint judges.
fn claim_problems(
    header: Option<&Map<String, Value>>,
    claims: &Map<String, Value>,
    policy: &ProviderPolicy,
    now: i64,
    only_issuer_and_expiry: bool,
) -> Vec<Why> {
    let empty = Map::new();
    let number = |name: &str| claims.get(name).and_then(Value::as_i64);
    zgate_auth::oidc::claim_problems(header.unwrap_or(&empty), claims, policy, now)
        .into_iter()
        .filter(|e| {
            !only_issuer_and_expiry
                || matches!(
                    e,
                    OidcError::WrongIssuer | OidcError::NoExpiry | OidcError::Expired
                )
        })
        .map(|error| match error {
            OidcError::WrongType => {
                let typ = header
                    .and_then(|h| h.get("typ"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                Why::new(
                    "token.type",
                    format!(
                        "the token's typ is `{typ}`, not at+jwt: zgate.oidc.requireAccessTokenType asks for an access token (RFC 9068)"
                    ),
                )
            }
            OidcError::WrongIssuer => match claims.get("iss").and_then(Value::as_str) {
                None => Why::new("token.issuer", "the token names no issuer (iss)".into()),
                Some(iss) => {
                    let slash = policy
                        .issuers
                        .iter()
                        .any(|w| w.trim_end_matches('/') == iss.trim_end_matches('/'));
                    let mut sentence = format!(
                        "issuer `{iss}` is not the configured {}",
                        one_of(&policy.issuers)
                    );
                    if slash {
                        sentence.push_str(
                            ": they differ by a trailing `/`, and issuers are compared exactly",
                        );
                    }
                    Why::new("token.issuer", sentence).fix(format!(
                        "if this provider issued it, set {KEY_ISSUERS} to `{iss}` exactly"
                    ))
                }
            },
            OidcError::WrongAudience => {
                let held = match claims.get("aud") {
                    None => "the token has no aud".to_owned(),
                    Some(value) => format!("the token is for `{}`", show(value)),
                };
                Why::new(
                    "token.audience",
                    format!(
                        "audience lacks {}: {held} ({KEY_AUDIENCES})",
                        one_of(&policy.audiences)
                    ),
                )
                .fix(format!(
                    "ask the provider for a token for the gateway's audience, or add the token's audience to {KEY_AUDIENCES} if it names the gateway"
                ))
            }
            OidcError::WrongParty => {
                let party = claims
                    .get("azp")
                    .or_else(|| claims.get("client_id"))
                    .and_then(Value::as_str);
                Why::new(
                    "token.party",
                    format!(
                        "the client the token was issued to ({}) is not {} (zgate.oidc.authorizedParties)",
                        party.map_or("no azp or client_id".to_owned(), |p| format!("`{p}`")),
                        one_of(&policy.authorized_parties)
                    ),
                )
            }
            OidcError::NoExpiry => Why::new(
                "token.expiry",
                "the token has no expiry (exp), and the gateway requires one".into(),
            ),
            OidcError::Expired => {
                let exp = number("exp").unwrap_or_default();
                Why::new(
                    "token.expiry",
                    format!(
                        "expired at {} ({} s ago; {} s of clock skew allowed)",
                        when(exp),
                        now.saturating_sub(exp),
                        policy.skew_s
                    ),
                )
            }
            OidcError::NotYetValid => Why::new(
                "token.not-before",
                format!(
                    "not valid before {} (nbf; {} s of clock skew allowed)",
                    when(number("nbf").unwrap_or_default()),
                    policy.skew_s
                ),
            ),
            OidcError::IssueTime => {
                let iat = number("iat").unwrap_or_default();
                if iat > now.saturating_add(policy.skew_s) {
                    Why::new(
                        "token.issued",
                        format!(
                            "issued in the future, at {} (iat; {} s of clock skew allowed): is a clock wrong?",
                            when(iat),
                            policy.skew_s
                        ),
                    )
                } else {
                    Why::new(
                        "token.issued",
                        format!(
                            "issued at {}, more than zgate.oidc.maxTokenAgeSeconds ({} s) ago",
                            when(iat),
                            policy.max_age_s.unwrap_or_default()
                        ),
                    )
                }
            }
            OidcError::BadSubject => match claims.get("sub").and_then(Value::as_str) {
                None => Why::new(
                    "token.subject",
                    "the token has no subject (sub) to map to a mainframe user".into(),
                ),
                Some(sub) if sub.trim().is_empty() => {
                    Why::new("token.subject", "the token's subject (sub) is blank".into())
                }
                Some(sub) => Why::new(
                    "token.subject",
                    format!(
                        "the token's subject is {} bytes, more than RACF's {MAX_SUBJECT_BYTES} for a distributed user name",
                        sub.len()
                    ),
                ),
            },
            other => Why::new("token", other.to_string()),
        })
        .collect()
}

/// Whether `verify` refused after the signature verified.
fn refused_after_signature(error: &OidcError) -> bool {
    matches!(
        error,
        OidcError::WrongType
            | OidcError::WrongIssuer
            | OidcError::WrongAudience
            | OidcError::WrongParty
            | OidcError::NoExpiry
            | OidcError::Expired
            | OidcError::NotYetValid
            | OidcError::IssueTime
            | OidcError::BadSubject
    )
}

/// The usable subject of verified claims, for the mapping.
fn usable_subject(claims: &Map<String, Value>) -> Option<String> {
    claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty() && s.len() <= MAX_SUBJECT_BYTES)
        .map(str::to_owned)
}

struct Checker<'a, W: Write> {
    report: Report<W>,
    runtime: tokio::runtime::Runtime,
    client: Option<ProviderClient>,
    policy: ProviderPolicy,
    oidc: &'a OidcConfig,
    global: &'a Global,
}

impl<W: Write> Checker<'_, W> {
    /// Step 1: what is configured.
    fn describe(&mut self) -> anyhow::Result<()> {
        let oidc = self.oidc;
        self.report.line(Status::Ok, "oidc", "OIDC is enabled")?;
        self.report
            .line(Status::Info, "oidc.issuers", oidc.issuers.join(", "))?;
        self.report
            .line(Status::Info, "oidc.audiences", oidc.audiences.join(", "))?;
        self.report.line(
            Status::Info,
            "oidc.algorithms",
            names(&self.policy.algorithms),
        )?;
        self.report
            .line(Status::Info, "oidc.registry", &oidc.registry)?;
        let validation = match &oidc.validation {
            OidcValidation::Jwk { uri, refresh_hours } => format!(
                "JWK: tokens verified with the keys at {uri} (fetched every {refresh_hours} h unless the provider's Cache-Control says otherwise, and on an unknown kid)"
            ),
            OidcValidation::Endpoint { userinfo_uri } => format!(
                "endpoint: each token is sent to the provider's userinfo endpoint {userinfo_uri}, which names its subject"
            ),
        };
        self.report
            .line(Status::Info, "oidc.validation", validation)?;
        let mut rules = vec![format!("{} s of clock skew", self.policy.skew_s)];
        match self.policy.max_age_s {
            Some(max) => rules.push(format!("tokens at most {max} s old")),
            None => rules.push("no maximum age".into()),
        }
        if self.policy.authorized_parties.is_empty() {
            rules.push("any client (azp)".into());
        } else {
            rules.push(format!(
                "clients {}",
                self.policy.authorized_parties.join(", ")
            ));
        }
        if self.policy.require_access_token_type {
            rules.push("typ at+jwt required".into());
        }
        self.report
            .line(Status::Info, "oidc.rules", rules.join("; "))?;
        Ok(())
    }

    /// The gateway's client to the provider: TLS verified against the
    /// truststore whatever `zowe.verifyCertificates` says
    /// ([`bootstrap::provider_tokens`]).
    fn provider_client(&mut self, config: &Config) -> anyhow::Result<ProviderClient> {
        let oidc = self.oidc;
        let mut urls: Vec<&str> = oidc.issuers.iter().map(String::as_str).collect();
        match &oidc.validation {
            OidcValidation::Jwk { uri, .. } => urls.push(uri),
            OidcValidation::Endpoint { userinfo_uri } => urls.push(userinfo_uri),
        }
        let tls = match pki::tls::client_config(
            &bootstrap::client_tls_params(config),
            pki::tls::VerifyMode::Strict,
        ) {
            Ok(tls) => Some(Arc::new(tls)),
            Err(error) => {
                if urls.iter().any(|u| u.starts_with("https://")) {
                    self.report.line(
                        Status::Problem,
                        "tls",
                        format!("no TLS to the provider: {error}: the gateway can reach only an http provider on this host"),
                    )?;
                    self.report.more(
                        "fix",
                        "configure the truststore (zowe.certificate.truststore) and add the provider's CA to it: zgate cert import --ca FILE",
                    )?;
                }
                None
            }
        };
        Ok(ProviderClient::new(tls, PROVIDER_TIMEOUT))
    }

    /// `GET url`: the body of a 200, or why not (a sentence).
    fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let Some(client) = &self.client else {
            return Err("no client to the provider".into());
        };
        match self.runtime.block_on(client.get(url, None)) {
            Ok(answer) if answer.status == 200 => Ok(answer.body.to_vec()),
            Ok(answer) => Err(format!("GET {url} answered HTTP {}", answer.status)),
            Err(error) => {
                let mut why = fetch_failure(url, &error);
                if why.contains("certificate") {
                    why.push_str(
                        " (is the provider's CA in the truststore? zgate cert import --ca FILE)",
                    );
                }
                Err(why)
            }
        }
    }

    /// Step 2: each issuer's discovery document.
    fn discovery(&mut self) -> anyhow::Result<()> {
        let issuers = self.oidc.issuers.clone();
        for (i, issuer) in issuers.iter().enumerate() {
            // A second spelling of one provider's issuer (Entra's v1 and
            // v2) need not serve a document of its own.
            let failed = if i == 0 {
                Status::Problem
            } else {
                Status::Warn
            };
            let url = format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            );
            let doc: Value = match self.get(&url) {
                Ok(body) => match serde_json::from_slice(&body) {
                    Ok(doc @ Value::Object(_)) => doc,
                    _ => {
                        self.report.line(
                            failed,
                            "discovery",
                            format!("{url} answered something that is not a JSON object"),
                        )?;
                        continue;
                    }
                },
                Err(why) => {
                    self.report.line(failed, "discovery", why)?;
                    continue;
                }
            };
            self.report
                .line(Status::Ok, "discovery", format!("{url} answered"))?;
            self.discovered_issuer(issuer, &doc)?;
            match &self.oidc.validation {
                OidcValidation::Jwk { uri, .. } => {
                    self.discovered_endpoint(&doc, "jwks_uri", uri, KEY_JWKS_URI)?
                }
                OidcValidation::Endpoint { userinfo_uri } => self.discovered_endpoint(
                    &doc,
                    "userinfo_endpoint",
                    userinfo_uri,
                    KEY_USERINFO_URI,
                )?,
            }
        }
        Ok(())
    }

    fn discovered_issuer(&mut self, configured: &str, doc: &Value) -> anyhow::Result<()> {
        let Some(named) = doc.get("issuer").and_then(Value::as_str) else {
            self.report.line(
                Status::Problem,
                "discovery.issuer",
                "the discovery document names no issuer",
            )?;
            return Ok(());
        };
        if named == configured {
            return self.report.line(
                Status::Ok,
                "discovery.issuer",
                format!("the provider's issuer is {named}, as configured"),
            );
        }
        if self.oidc.issuers.iter().any(|w| w == named) {
            return self.report.line(
                Status::Info,
                "discovery.issuer",
                format!(
                    "the provider's issuer is {named} (configured too), not `{configured}`: tokens carry `{named}`"
                ),
            );
        }
        let sentence = if named.trim_end_matches('/') == configured.trim_end_matches('/') {
            format!(
                "the provider's issuer is `{named}`, but {KEY_ISSUERS} has `{configured}`: they differ by a trailing `/` (the classic Entra ID / Keycloak mistake); issuers are compared exactly, so the gateway would refuse every token of this provider"
            )
        } else {
            format!(
                "the provider's issuer is `{named}`, not the configured `{configured}`: the gateway would refuse every token of this provider"
            )
        };
        self.report
            .line(Status::Problem, "discovery.issuer", sentence)?;
        self.report
            .more("fix", &format!("set {KEY_ISSUERS} to `{named}` exactly"))
    }

    fn discovered_endpoint(
        &mut self,
        doc: &Value,
        field: &str,
        configured: &str,
        key: &str,
    ) -> anyhow::Result<()> {
        let id = format!("discovery.{field}");
        match doc.get(field).and_then(Value::as_str) {
            None => self.report.line(
                Status::Problem,
                &id,
                format!(
                    "the discovery document names no {field}; the configured one is {configured}"
                ),
            ),
            Some(named) if named == configured => self.report.line(
                Status::Ok,
                &id,
                format!("the provider's {field} is {named}, as configured"),
            ),
            Some(named) => {
                self.report.line(
                    Status::Problem,
                    &id,
                    format!("the provider's {field} is {named}, but {key} is {configured}"),
                )?;
                self.report.more("fix", &format!("set {key} to {named}"))
            }
        }
    }

    /// Step 3: the key set (JWK mode). `None` when it cannot be had.
    fn key_set(&mut self, uri: &str) -> anyhow::Result<Option<Keys>> {
        let body = match self.get(uri) {
            Ok(body) => body,
            Err(why) => {
                self.report.line(
                    Status::Problem,
                    "jwks",
                    format!("the provider's keys cannot be fetched: {why}"),
                )?;
                return Ok(None);
            }
        };
        let set = match KeySet::from_jwks(&body) {
            Ok(set) => set,
            Err(error) => {
                self.report
                    .line(Status::Problem, "jwks", format!("{uri}: {error}"))?;
                return Ok(None);
            }
        };
        let doc: Value = serde_json::from_slice(&body).unwrap_or_default();
        let mut used: Vec<KeyInfo> = Vec::new();
        for key in doc
            .get("keys")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let text = |name: &str| key.get(name).and_then(Value::as_str);
            let Some(kid) = text("kid").filter(|kid| set.has(kid)) else {
                continue;
            };
            if used.iter().any(|k| k.kid == kid) {
                continue;
            }
            let kty = text("kty").unwrap_or("?");
            let kind = match kty {
                "RSA" => {
                    let n = text("n")
                        .and_then(|n| B64URL.decode(n).ok())
                        .unwrap_or_default();
                    let n: Vec<u8> = n.into_iter().skip_while(|b| *b == 0).collect();
                    let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
                    format!("RSA {bits} bits")
                }
                other => format!("{other} {}", text("crv").unwrap_or("")),
            };
            used.push(KeyInfo {
                kid: kid.to_owned(),
                kind,
                alg: text("alg").map(str::to_owned),
                usable: usable_algorithms(kty, text("crv"), text("alg"), &self.policy.algorithms),
            });
        }
        if set.is_empty() {
            self.report.line(
                Status::Problem,
                "jwks",
                format!("{uri} has no key the gateway can use"),
            )?;
        } else {
            let kids: Vec<&str> = used.iter().map(|k| k.kid.as_str()).collect();
            self.report.line(
                Status::Ok,
                "jwks",
                format!(
                    "{uri}: {} {} the gateway uses: {}",
                    set.len(),
                    if set.len() == 1 { "key" } else { "keys" },
                    kids.join(", ")
                ),
            )?;
        }
        for key in &used {
            if key.usable.is_empty() {
                self.report.line(
                    Status::Warn,
                    "jwks.key",
                    format!(
                        "{key}: verifies none of the algorithms {KEY_ALGORITHMS} allows ({})",
                        names(&self.policy.algorithms)
                    ),
                )?;
            } else {
                self.report.line(
                    Status::Info,
                    "jwks.key",
                    format!("{key}: the gateway verifies {} with it", names(&key.usable)),
                )?;
            }
        }
        for skipped in &set.skipped {
            self.report
                .line(Status::Info, "jwks.skipped", format!("{skipped}: not used"))?;
        }
        Ok(Some(Keys { set, used }))
    }

    /// Step 4, JWK mode: the gateway's verification and every reason it
    /// refuses. The subject to map when the signature verified.
    fn token_with_keys(
        &mut self,
        token: &str,
        keys: Option<&Keys>,
    ) -> anyhow::Result<Option<String>> {
        let now = now_s();
        let header = jws_part(token, 0);
        let claims = jws_part(token, 1);
        let header_text = |name: &str| {
            header
                .as_ref()
                .and_then(|h| h.get(name))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let (alg, kid) = (header_text("alg"), header_text("kid"));
        self.report.line(
            Status::Info,
            "token",
            format!(
                "{} bytes; header alg {}, kid {}",
                token.len(),
                alg.as_deref().unwrap_or("(none)"),
                kid.as_deref().unwrap_or("(none)")
            ),
        )?;
        let verdict = keys.map(|k| verify(token, &self.policy, &k.set, now));
        let signed = match &verdict {
            Some(Ok(_)) => true,
            Some(Err(e)) => refused_after_signature(e),
            None => false,
        };
        let mut problems: Vec<Why> = Vec::new();
        if token.len() > MAX_TOKEN_BYTES {
            problems.push(Why::new(
                "token.size",
                format!(
                    "the token is {} bytes, more than the {MAX_TOKEN_BYTES} the gateway reads",
                    token.len()
                ),
            ));
        }
        if header.is_none() || claims.is_none() || token.split('.').count() != 3 {
            problems.push(Why::new(
                "token.format",
                "the token is not a signed JWT (three base64url parts, the first two JSON objects): an opaque token can be checked only in validationType endpoint".into(),
            ));
        } else {
            match alg.as_deref() {
                None => problems.push(Why::new(
                    "token.algorithm",
                    "the token's header names no algorithm (alg)".into(),
                )),
                Some(a) if a.eq_ignore_ascii_case("none") => problems.push(Why::new(
                    "token.algorithm",
                    format!("alg {a} is not allowed: the token is unsigned, and the gateway never accepts an unsigned token"),
                )),
                Some(a) if a.to_ascii_uppercase().starts_with("HS") => problems.push(Why::new(
                    "token.algorithm",
                    format!(
                        "alg {a} is not allowed: a shared-secret MAC proves nothing about the provider; the gateway accepts {} ({KEY_ALGORITHMS})",
                        names(&self.policy.algorithms)
                    ),
                )),
                Some(a) if !Algorithm::from_name(a).is_some_and(|x| self.policy.algorithms.contains(&x)) => {
                    problems.push(
                        Why::new(
                            "token.algorithm",
                            format!(
                                "alg {a} is not allowed: the gateway accepts {} ({KEY_ALGORITHMS})",
                                names(&self.policy.algorithms)
                            ),
                        )
                        .fix(format!("if the provider signs with {a} on purpose and zgate supports it, add it to {KEY_ALGORITHMS}")),
                    )
                }
                Some(_) => {}
            }
            match (&kid, keys) {
                (None, _) => problems.push(Why::new(
                    "token.key",
                    "the token names no key (kid): the gateway cannot tell which of the provider's keys signed it".into(),
                )),
                (Some(kid), Some(keys)) if !keys.set.has(kid) => {
                    let skipped = keys
                        .set
                        .skipped
                        .iter()
                        .find(|s| s.strip_prefix(kid.as_str()).is_some_and(|r| r.starts_with(": ")));
                    let sentence = match skipped {
                        Some(why) => format!(
                            "kid {kid} is not in the provider's keys the gateway uses: it is published, but left out ({why})"
                        ),
                        None => format!(
                            "kid {kid} is not in the provider's keys (they are: {}): not this provider's token, or a key the provider no longer publishes",
                            keys.used.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                    };
                    problems.push(Why::new("token.key", sentence));
                }
                _ => {}
            }
            if let (Some(Err(OidcError::KeyMismatch { alg, kid })), Some(keys)) = (&verdict, keys) {
                let key = keys
                    .used
                    .iter()
                    .find(|k| &k.kid == kid)
                    .map_or_else(|| kid.clone(), ToString::to_string);
                problems.push(Why::new(
                    "token.key",
                    format!(
                        "alg {alg} does not fit key {key}: its type, curve or own alg is another"
                    ),
                ));
            }
            if let (Some(Err(OidcError::BadSignature)), Some(kid)) = (&verdict, &kid) {
                problems.push(Why::new(
                    "token.signature",
                    format!(
                        "the signature does not verify with the provider's key {kid}: the token was altered, or not signed by this provider"
                    ),
                ));
            }
        }
        // The signature's finding, then the claims.
        if signed {
            self.report.line(
                Status::Ok,
                "token.signature",
                format!(
                    "verifies with the provider's key {} ({})",
                    kid.as_deref().unwrap_or_default(),
                    alg.as_deref().unwrap_or_default()
                ),
            )?;
        }
        let mut claim_whys = Vec::new();
        if let Some(claims) = &claims {
            if signed {
                self.report
                    .line(Status::Info, "token.claims", claims_line(claims))?;
            } else {
                let reason = match &verdict {
                    None => "the provider's keys could not be fetched",
                    Some(Err(OidcError::BadSignature)) => "the signature did not verify",
                    Some(_) => "the signature was not checked",
                };
                self.report.line(
                    Status::Info,
                    "token.claims",
                    format!("unverified ({reason}): {}", claims_line(claims)),
                )?;
            }
            claim_whys = claim_problems(header.as_ref(), claims, &self.policy, now, false);
        }
        for mut why in claim_whys {
            if !signed {
                why.sentence.push_str(" (unverified claim)");
            }
            problems.push(why);
        }
        for why in &problems {
            self.report.line(Status::Problem, why.id, &why.sentence)?;
            if let Some(fix) = &why.fix {
                self.report.more("fix", fix)?;
            }
        }
        match verdict {
            Some(Ok(verified)) => {
                self.report
                    .line(Status::Ok, "token", "the gateway would accept this token")?;
                Ok(Some(verified.sub))
            }
            Some(Err(error)) => {
                self.report.line(
                    Status::Problem,
                    "token",
                    format!("the gateway would refuse this token: {error}"),
                )?;
                // The claims are the provider's: their subject's mapping
                // is worth knowing even while the token is refused.
                Ok(claims.as_ref().filter(|_| signed).and_then(usable_subject))
            }
            None => {
                self.report.line(
                    Status::Problem,
                    "token",
                    "cannot be checked: the provider's keys could not be fetched (a running gateway keeps its last good keys up to 24 hours)",
                )?;
                Ok(None)
            }
        }
    }

    /// Step 4, endpoint mode: the gateway's own validation, which asks the
    /// provider's userinfo endpoint. The subject it names when accepted.
    fn token_with_userinfo(&mut self, token: &str) -> anyhow::Result<Option<String>> {
        let Some(client) = self.client.clone() else {
            return Ok(None);
        };
        let now = now_s();
        let header = jws_part(token, 0);
        let claims = jws_part(token, 1).filter(|_| token.split('.').count() == 3);
        match &claims {
            Some(claims) => self.report.line(
                Status::Info,
                "token.claims",
                format!(
                    "unverified (the userinfo endpoint judges this token, no signature is checked): {}",
                    claims_line(claims)
                ),
            )?,
            None => self.report.line(
                Status::Info,
                "token",
                format!(
                    "{} bytes, not a JWT: only the userinfo endpoint can judge it",
                    token.len()
                ),
            )?,
        }
        let tokens = ProviderTokens::new(self.oidc, client, Arc::new(SystemClock));
        let verdict = self.runtime.block_on(tokens.validate(token));
        match verdict {
            Ok(identity) => {
                self.report.line(
                    Status::Ok,
                    "token",
                    format!(
                        "the gateway would accept this token: the provider's userinfo endpoint names sub {}",
                        identity.sub
                    ),
                )?;
                Ok(Some(identity.sub))
            }
            Err(refusal) => {
                if let (Refusal::Token(_), Some(claims)) = (&refusal, &claims) {
                    for why in claim_problems(header.as_ref(), claims, &self.policy, now, true) {
                        self.report.line(
                            Status::Problem,
                            why.id,
                            format!("{} (unverified claim)", why.sentence),
                        )?;
                        if let Some(fix) = &why.fix {
                            self.report.more("fix", fix)?;
                        }
                    }
                }
                let sentence = match &refusal {
                    Refusal::Unavailable(why) => {
                        format!("cannot be checked: the provider is unreachable or failing: {why}")
                    }
                    other => format!("the gateway would refuse this token: {other}"),
                };
                self.report.line(Status::Problem, "token", sentence)?;
                Ok(None)
            }
        }
    }

    /// Step 5: the subject mapped by the home's security manager, as the
    /// gateway maps it on every request.
    fn mapping(&mut self, sub: &str) -> anyhow::Result<()> {
        let registry = self.oidc.registry.clone();
        let home = &self.global.home;
        if !home.join("esm.db").exists() {
            self.report.line(
                Status::Problem,
                "mapping",
                format!(
                    "no security manager in {} (esm.db): nothing maps a distributed identity",
                    home.display()
                ),
            )?;
            return self.report.more(
                "fix",
                "start zgate once (zgate serve), or define users with zgate esm, then define a filter as below",
            );
        }
        // Unaudited, as `zgate esm check`: a what-if question of the
        // operator, not a logon.
        let esm =
            Esm::open(home).with_context(|| format!("opening the ESM in {}", home.display()))?;
        let racmap = format!(
            "RACMAP ID(userid) MAP USERDIDFILTER(NAME({})) REGISTRY(NAME({})) WITHLABEL({})",
            quoted(sub),
            quoted(&registry),
            quoted(&sub.chars().take(LABEL_MAX_CHARS).collect::<String>())
        );
        let refresh = "SETROPTS RACLIST(IDIDMAP) REFRESH";
        let unmapped = "the gateway would answer \"No mainframe identity found.\"";
        match esm.map_distributed_identity(&Origin::local_shell(), sub, &registry) {
            Ok(user) => self.report.line(
                Status::Ok,
                "mapping",
                format!("{sub} in registry {registry} maps to mainframe user {user}"),
            ),
            Err(UsermapError::NoFilter) => {
                self.report.line(
                    Status::Problem,
                    "mapping",
                    format!(
                        "no distributed identity filter maps {sub} in registry {registry} (R_usermap 8/8/48): {unmapped}"
                    ),
                )?;
                self.report.more(
                    "fix",
                    "define a filter for the mainframe user (in place of userid), then refresh the in-storage copy (with zgate: zgate esm \"...\"):",
                )?;
                self.report.more("run", &racmap)?;
                self.report.more("run", refresh)
            }
            Err(UsermapError::ClassInactive) => {
                self.report.line(
                    Status::Problem,
                    "mapping",
                    format!(
                        "class IDIDMAP is not active and RACLISTed, so nothing maps {sub} in registry {registry} (R_usermap 8/8/48): {unmapped}"
                    ),
                )?;
                self.report.more(
                    "fix",
                    "activate and RACLIST the class, define a filter for the mainframe user (in place of userid) unless there is one, then refresh (with zgate: zgate esm \"...\"):",
                )?;
                self.report
                    .more("run", "SETROPTS CLASSACT(IDIDMAP) RACLIST(IDIDMAP)")?;
                self.report.more("run", &racmap)?;
                self.report.more("run", refresh)
            }
            Err(UsermapError::Revoked { user }) => {
                self.report.line(
                    Status::Problem,
                    "mapping",
                    format!(
                        "{sub} in registry {registry} maps to mainframe user {user}, who is revoked (8/8/16): the gateway refuses the token"
                    ),
                )?;
                self.report.more(
                    "fix",
                    &format!("if {user} may log on again: ALTUSER {user} RESUME"),
                )
            }
            Err(UsermapError::UndefinedUser { user }) => {
                self.report.line(
                    Status::Problem,
                    "mapping",
                    format!(
                        "{sub} in registry {registry} maps to user {user}, who is no longer defined (8/8/16): the in-storage filters predate a DELUSER"
                    ),
                )?;
                self.report.more(
                    "fix",
                    "refresh the filters, and define one for the user who should take over (in place of userid):",
                )?;
                self.report.more("run", &racmap)?;
                self.report.more("run", refresh)
            }
            Err(error @ UsermapError::InvalidUserName) => self.report.line(
                Status::Problem,
                "mapping",
                format!(
                    "the token's subject cannot be a distributed user name: {error}; no filter can map it"
                ),
            ),
            Err(error) => self.report.line(
                Status::Problem,
                "mapping",
                format!("{sub} in registry {registry} does not map: {error}"),
            ),
        }
    }
}

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_doubled_and_times_read_as_utc() {
        assert_eq!(quoted("o'neil"), "'o''neil'");
        assert_eq!(when(1_000_000_000), "2001-09-09T01:46:40Z");
    }

    #[test]
    fn a_key_verifies_the_allowed_algorithms_its_type_and_alg_fit() {
        let all = [
            Algorithm::Rs256,
            Algorithm::Ps256,
            Algorithm::Es256,
            Algorithm::Es384,
        ];
        assert_eq!(
            usable_algorithms("RSA", None, None, &all),
            [Algorithm::Rs256, Algorithm::Ps256]
        );
        assert_eq!(
            usable_algorithms("RSA", None, Some("PS256"), &all),
            [Algorithm::Ps256]
        );
        assert_eq!(usable_algorithms("EC", Some("P-384"), None, &all[..3]), []);
    }

    #[test]
    fn every_claim_problem_is_named_at_once() {
        let policy = ProviderPolicy::new("https://idp.example.com", &["zowe-gateway"]);
        let claims = match serde_json::json!({
            "iss": "https://idp.example.com/",
            "aud": ["other"],
            "exp": 1_000_000_000,
            "sub": " ",
        }) {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let whys = claim_problems(None, &claims, &policy, 2_000_000_000, false);
        let ids: Vec<&str> = whys.iter().map(|w| w.id).collect();
        assert_eq!(
            ids,
            [
                "token.issuer",
                "token.audience",
                "token.expiry",
                "token.subject"
            ]
        );
        assert!(
            whys[0].sentence.contains("trailing `/`"),
            "{}",
            whys[0].sentence
        );
        assert!(whys[1].sentence.contains("audience lacks `zowe-gateway`"));
        assert!(whys[2].sentence.contains("expired at 2001-09-09T01:46:40Z"));
        let whys = claim_problems(None, &claims, &policy, 2_000_000_000, true);
        let ids: Vec<&str> = whys.iter().map(|w| w.id).collect();
        assert_eq!(ids, ["token.issuer", "token.expiry"]);
    }
}
