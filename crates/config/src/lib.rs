//! zgate's configuration: `<home>/zgate.yaml` (zowe.yaml key names), a real
//! zowe.yaml through `--config`, and `--set key.path=value` overrides.
//!
//! Two phases, as the style guide asks: [`raw`] turns YAML into dotted keys
//! with line numbers and [`load`] merges defaults, the file and the overrides
//! into one table where every value remembers its [`Source`]; then
//! [`Config::from_effective`] checks each value and builds typed structs.
//! Nothing here prints or exits: problems come back as [`ConfigError`] and
//! [`Warning`] values that the CLI turns into text.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

#[doc(hidden)]
pub mod fuzzing;
mod keyring;
pub mod raw;
pub mod schema;
mod typed;

use std::fmt;
use std::path::{Path, PathBuf};

pub use keyring::*;
pub use typed::*;

use raw::RawValue;
use schema::{DefaultValue as SpecDefault, KeySpec};

/// The file name of zgate's own configuration inside the home.
pub const CONFIG_FILE: &str = "zgate.yaml";

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// zgate's built-in default.
    Default,
    /// A line of a configuration file.
    File {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
    },
    /// A `--set` option.
    Set,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File { path, line } => write!(f, "{}:{line}", path.display()),
            Source::Set => f.write_str("--set"),
        }
    }
}

/// One key's effective value and its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key's spec.
    pub spec: &'static KeySpec,
    /// The value (`None`: unset, no default).
    pub value: Option<RawValue>,
    /// Where it came from.
    pub source: Source,
}

impl Entry {
    /// The value for display: secrets masked, lists joined with commas.
    pub fn display_value(&self) -> String {
        match &self.value {
            None => "(unset)".to_string(),
            Some(_) if self.spec.secret => "********".to_string(),
            Some(RawValue::Scalar(text)) => text.clone(),
            Some(RawValue::List(items)) => items.join(","),
            Some(RawValue::Complex) => "(structured)".to_string(),
        }
    }
}

/// The merged key table, before typed validation.
#[derive(Debug, Clone)]
pub struct Effective {
    /// The home directory relative paths resolve against.
    pub home: PathBuf,
    /// Every known key, in schema order.
    pub entries: Vec<Entry>,
}

impl Effective {
    /// The entry for `key` (a schema key).
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|entry| entry.spec.key == key)
    }
}

/// Something the administrator should know but that does not stop start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Where.
    pub source: Source,
    /// The key concerned.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.source, self.key, self.message)
    }
}

/// One problem that stops start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where.
    pub source: Source,
    /// The key concerned.
    pub key: String,
    /// What is wrong and, where possible, what to write instead.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.source, self.key, self.message)
    }
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid YAML.
    #[error("{}:{line}:{column}: invalid YAML: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// Unknown keys or bad values.
    #[error("invalid configuration:\n{}", .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

/// What to read.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The home directory.
    pub home: PathBuf,
    /// A real zowe.yaml to read instead of `<home>/zgate.yaml`.
    pub zowe_yaml: Option<PathBuf>,
    /// `--set key.path=value` options, in order (later ones win).
    pub overrides: Vec<String>,
}

/// The result of loading: the typed configuration, the table it came from
/// (for `config show`) and warnings.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Validated, typed configuration.
    pub config: Config,
    /// Every key with its value and origin.
    pub effective: Effective,
    /// Non-fatal findings.
    pub warnings: Vec<Warning>,
    /// The file that was read, if any.
    pub file: Option<PathBuf>,
}

/// Loads and validates the configuration.
pub fn load(options: &LoadOptions) -> Result<Loaded, ConfigError> {
    let (file, lenient) = match &options.zowe_yaml {
        Some(path) => (Some(path.clone()), true),
        None => {
            let path = options.home.join(CONFIG_FILE);
            (path.exists().then_some(path), false)
        }
    };
    let text = match &file {
        Some(path) => Some(
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?,
        ),
        None => None,
    };
    let (effective, warnings) = merge(
        &options.home,
        file.as_deref().zip(text.as_deref()),
        lenient,
        &options.overrides,
    )?;
    let config = Config::from_effective(&effective)?;
    Ok(Loaded {
        config,
        effective,
        warnings,
        file,
    })
}

/// Phase one: defaults, then the file, then overrides. `file` is the path (for
/// messages) and its text; `lenient` is true for a real zowe.yaml, where keys
/// zgate does not know are ignored (or warned about in the sections zgate reads)
/// instead of being errors.
pub fn merge(
    home: &Path,
    file: Option<(&Path, &str)>,
    lenient: bool,
    overrides: &[String],
) -> Result<(Effective, Vec<Warning>), ConfigError> {
    let mut entries: Vec<Entry> = schema::KEYS
        .iter()
        .map(|spec| Entry {
            spec,
            value: default_value(spec),
            source: Source::Default,
        })
        .collect();
    let mut problems = Vec::new();
    let mut warnings = Vec::new();

    if let Some((path, text)) = file {
        let map = raw::parse(text).map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            line: e.line,
            column: e.column,
            message: e.message,
        })?;
        // `components.zaas.` twins come after the gateway's keys, and
        // `components.gateway.certificate.` after `zowe.certificate.`, so
        // they win.
        let mut ordered: Vec<(String, raw::RawEntry)> = Vec::with_capacity(map.len());
        let mut twins = Vec::new();
        let mut client_id: Option<(String, Source)> = None;
        for (key, raw) in map {
            let source = Source::File {
                path: path.to_path_buf(),
                line: raw.line,
            };
            if let Some(gateway_key) = zaas_twin(&key).or_else(|| certificate_twin(&key)) {
                twins.push((gateway_key, raw));
                continue;
            }
            match spring_client_key(&key) {
                Some((id, zgate_key)) => {
                    match &client_id {
                        Some((seen, _)) if *seen != id => problems.push(Problem {
                            source,
                            key: key.clone(),
                            message: format!(
                                "zgate takes one OIDC client registration; `{seen}` is already configured"
                            ),
                        }),
                        Some(_) => {}
                        None => client_id = Some((id, source)),
                    }
                    ordered.push((zgate_key.to_owned(), raw));
                }
                None => ordered.push((key, raw)),
            }
        }
        ordered.extend(twins);
        if let Some((id, source)) = client_id {
            if let Some(entry) = entries
                .iter_mut()
                .find(|entry| entry.spec.key == "zgate.oidc.client.registrationId")
            {
                entry.value = Some(RawValue::Scalar(id));
                entry.source = source;
            }
        }
        for (key, raw) in ordered {
            let source = Source::File {
                path: path.to_path_buf(),
                line: raw.line,
            };
            match entries.iter_mut().find(|entry| entry.spec.key == key) {
                // zowe.yaml's convention (its example leaves `""` all over
                // zowe.setup.certificate): an empty string means "the default".
                Some(_) if matches!(&raw.value, RawValue::Scalar(text) if text.is_empty()) => {}
                Some(entry) => {
                    entry.value = Some(raw.value);
                    entry.source = source;
                }
                None if lenient => {
                    if schema::SUPPORTED_SECTIONS
                        .iter()
                        .any(|p| key.starts_with(p))
                    {
                        warnings.push(Warning {
                            source,
                            key,
                            message: "not supported by zgate; ignored".to_string(),
                        });
                    }
                }
                None => problems.push(unknown_key(source, key)),
            }
        }
    }

    for item in overrides {
        let Some((key, value)) = item.split_once('=') else {
            problems.push(Problem {
                source: Source::Set,
                key: item.clone(),
                message: "expected --set key.path=value".to_string(),
            });
            continue;
        };
        let key = key.trim();
        match entries.iter_mut().find(|entry| entry.spec.key == key) {
            Some(entry) => {
                entry.value = Some(RawValue::Scalar(value.to_string()));
                entry.source = Source::Set;
            }
            None => problems.push(unknown_key(Source::Set, key.to_string())),
        }
    }

    for entry in &entries {
        if let schema::Kind::Unsupported(why) = entry.spec.kind {
            if entry.source != Source::Default
                && entry.value.is_some()
                && entry.value != default_value(entry.spec)
            {
                warnings.push(Warning {
                    source: entry.source.clone(),
                    key: entry.spec.key.to_string(),
                    message: format!(
                        "value `{}` is not supported: {why}; ignored",
                        entry.display_value()
                    ),
                });
            }
        }
    }

    for zos_only in schema::ZOS_ONLY_VALUES {
        let Some(entry) = entries.iter().find(|entry| entry.spec.key == zos_only.key) else {
            continue;
        };
        let named = matches!(&entry.value,
            Some(RawValue::Scalar(text)) if text.trim().eq_ignore_ascii_case(zos_only.value));
        if !named {
            continue;
        }
        let (why, instead, replacement) = (zos_only.why, zos_only.instead, zos_only.replacement);
        if lenient && matches!(entry.source, Source::File { .. }) {
            warnings.push(Warning {
                source: entry.source.clone(),
                key: entry.spec.key.to_string(),
                message: format!("{why}; {instead}, as with `{replacement}`"),
            });
        } else {
            problems.push(Problem {
                source: entry.source.clone(),
                key: entry.spec.key.to_string(),
                message: format!("{why}; {instead}: use `{replacement}`"),
            });
        }
    }

    if problems.is_empty() {
        Ok((
            Effective {
                home: home.to_path_buf(),
                entries,
            },
            warnings,
        ))
    } else {
        Err(ConfigError::Invalid(problems))
    }
}

/// The gateway key a `components.zaas.` key overrides, for the keys ZAAS
/// reads ([`schema::ZAAS_OVERRIDABLE`]).
fn zaas_twin(key: &str) -> Option<String> {
    let rest = key.strip_prefix(schema::ZAAS_PREFIX)?;
    schema::ZAAS_OVERRIDABLE
        .iter()
        .any(|prefix| rest.starts_with(prefix))
        .then(|| format!("components.gateway.{rest}"))
}

/// The `zowe.certificate.` key a `components.gateway.certificate.` key
/// overrides, when zgate knows it.
fn certificate_twin(key: &str) -> Option<String> {
    let rest = key.strip_prefix(schema::GATEWAY_CERTIFICATE_PREFIX)?;
    let twin = format!("{}{rest}", schema::CERTIFICATE_PREFIX);
    schema::find(&twin).is_some().then_some(twin)
}

/// A Spring OIDC client key (`...registration.<id>.<name>` or
/// `...provider.<id>.<name>`): the registration id and the zgate key.
fn spring_client_key(key: &str) -> Option<(String, &'static str)> {
    schema::OIDC_CLIENT_KEYS.iter().find_map(|(prefix, names)| {
        let (id, name) = key.strip_prefix(prefix)?.split_once('.')?;
        let zgate_key = names.iter().find(|(n, _)| *n == name)?.1;
        (!id.is_empty()).then(|| (id.to_owned(), zgate_key))
    })
}

fn unknown_key(source: Source, key: String) -> Problem {
    let message = match schema::suggest(&key) {
        Some(known) => format!("unknown key; did you mean `{known}`?"),
        None => "unknown key".to_string(),
    };
    Problem {
        source,
        key,
        message,
    }
}

fn default_value(spec: &KeySpec) -> Option<RawValue> {
    match spec.default {
        SpecDefault::None => None,
        SpecDefault::Lit(text) => Some(RawValue::Scalar(text.to_string())),
        // Kept relative; `typed` resolves against the home so `config show`
        // prints the real path.
        SpecDefault::Home(rel) => Some(RawValue::Scalar(format!("<home>/{rel}"))),
    }
}

/// The text written to `<home>/zgate.yaml` on a first start: the common keys
/// with their defaults, in zowe.yaml's shape, so an administrator sees where
/// things go.
pub fn default_file_contents() -> String {
    "# zgate configuration: a subset of Zowe's zowe.yaml (same key names).\n\
# `zgate config show` prints every key, its value and where it came from.\n\
# Relative paths are relative to this directory.\n\
zowe:\n\
\x20 certificate:\n\
\x20   keystore:\n\
\x20     type: PKCS12\n\
\x20     file: keystore/localhost/localhost.keystore.p12\n\
\x20     alias: localhost\n\
\x20   truststore:\n\
\x20     type: PKCS12\n\
\x20     file: keystore/localhost/localhost.truststore.p12\n\
\x20 verifyCertificates: STRICT\n\
\x20 network:\n\
\x20   server:\n\
\x20     tls:\n\
\x20       minTls: TLSv1.2\n\
\x20       maxTls: TLSv1.3\n\
components:\n\
\x20 gateway:\n\
\x20   port: 7554\n\
\x20   apiml:\n\
\x20     security:\n\
\x20       auth:\n\
\x20         tokenProperties:\n\
\x20           expirationInSeconds: 28800\n\
\x20       allowTokenRefresh: false\n\
\x20       x509:\n\
\x20         enabled: false\n"
        .to_string()
}

#[cfg(test)]
mod tests;
