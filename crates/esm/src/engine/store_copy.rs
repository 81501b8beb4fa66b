//! Copying the store at one [`StoreLocation`] into another (`zgate store
//! migrate`): each opened as [`Esm::open_store`](super::Esm::open_store)
//! opens it (created if new, its schema migrated forward), then
//! `crate::store::copy`.

use super::StoreLocation;
use crate::store::copy::{CopyError, CopyProgress, CopyReport, CopyStore, Side};
use crate::store::StoreError;

/// Copies every table of the store at `source` into the one at `target`
/// and compares them (see `crate::store::copy`). Opening migrates either
/// forward to this zgate's schema; a source SQLite file must exist.
pub fn copy_store(
    source: &StoreLocation,
    target: &StoreLocation,
    replace: bool,
    progress: &mut dyn FnMut(&CopyProgress<'_>),
) -> Result<CopyReport, CopyError> {
    let mut from = open_for_copy(source, Side::Source)?;
    let mut to = open_for_copy(target, Side::Target)?;
    crate::store::copy::copy(&mut from, &mut to, replace, progress)
}

/// Opens one end of a copy.
pub fn open_for_copy(location: &StoreLocation, side: Side) -> Result<CopyStore, CopyError> {
    let opened = match location {
        StoreLocation::Sqlite(path) => {
            if side == Side::Source && !path.is_file() {
                return Err(CopyError::SourceMissing {
                    path: path.display().to_string(),
                });
            }
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|source| CopyError::Store {
                    side,
                    error: StoreError::Io {
                        path: dir.display().to_string(),
                        source,
                    },
                })?;
            }
            CopyStore::open_sqlite(path)
        }
        StoreLocation::Postgres(url) => CopyStore::connect_postgres(url),
    };
    opened.map_err(|error| match error {
        StoreError::TooNew { found, known } => CopyError::SchemaVersion {
            side,
            found,
            expected: known,
        },
        error => CopyError::Store { side, error },
    })
}

/// A store's name fit to print: the SQLite file, or the PostgreSQL
/// database, host and user, never the password of its URL.
pub fn describe_location(location: &StoreLocation) -> String {
    match location {
        StoreLocation::Sqlite(path) => format!("SQLite file {}", path.display()),
        StoreLocation::Postgres(url) => {
            let Ok(config) = url.parse::<postgres::Config>() else {
                return "a PostgreSQL database (the URL does not parse)".to_owned();
            };
            let hosts: Vec<String> = config
                .get_hosts()
                .iter()
                .enumerate()
                .map(|(i, host)| {
                    let name = match host {
                        postgres::config::Host::Tcp(name) => name.clone(),
                        #[cfg(unix)]
                        postgres::config::Host::Unix(path) => path.display().to_string(),
                    };
                    match config.get_ports().get(i).or(config.get_ports().first()) {
                        Some(port) => format!("{name}:{port}"),
                        None => name,
                    }
                })
                .collect();
            let mut text = format!(
                "PostgreSQL database {}",
                config
                    .get_dbname()
                    .or(config.get_user())
                    .unwrap_or("postgres")
            );
            if !hosts.is_empty() {
                text.push_str(&format!(" on {}", hosts.join(",")));
            }
            if let Some(user) = config.get_user() {
                text.push_str(&format!(" as {user}"));
            }
            text
        }
    }
}
