//! Copying one store into another (`zgate store migrate`): a single
//! instance's SQLite file into the PostgreSQL database of a cluster, or any
//! other pair of stores of this zgate's schema.
//!
//! Every table but the bookkeeping (`super::is_copied_table`) is copied
//! row for row with its raw values (integers, text, blobs, NULLs), read in
//! one snapshot of the source and written in ONE transaction on the
//! target: all or nothing. The target keeps its own `meta` (schema version,
//! statistics), but its generation becomes greater than before and than the
//! source's, so that every process on it reloads. A target holding rows is
//! refused unless replacing was asked, and then its rows are deleted in the
//! same transaction. Afterwards each table's rows and the SHA-256 of its
//! canonical dump lines ([`Store::dump`]) are compared on both sides.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::postgres::PostgresStore;
use super::sqlite::{SqliteStore, SCHEMA_VERSION};
use super::{Store, StoreError, TablesSnapshot, WriteOutcome};

/// A store opened for a copy: one of the backends.
pub enum CopyStore {
    /// A SQLite file.
    Sqlite(SqliteStore),
    /// A PostgreSQL database.
    Postgres(Box<PostgresStore>),
}

impl std::fmt::Debug for CopyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CopyStore::Sqlite(_) => f.write_str("CopyStore::Sqlite"),
            // Never the URL: it may hold a password.
            CopyStore::Postgres(_) => f.write_str("CopyStore::Postgres"),
        }
    }
}

/// Which end of a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The store copied from.
    Source,
    /// The store copied into.
    Target,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Source => "source",
            Side::Target => "target",
        })
    }
}

/// Why a copy was refused or failed. Nothing is written on the target
/// unless the copy returns a [`CopyReport`].
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// A store failed (connection, SQL, data that does not fit).
    #[error("the {side} store: {error}")]
    Store {
        /// Which one.
        side: Side,
        /// The failure.
        #[source]
        error: StoreError,
    },
    /// The source SQLite file does not exist (opening would create an
    /// empty one).
    #[error("the source SQLite file {path} does not exist")]
    SourceMissing {
        /// The file.
        path: String,
    },
    /// Source and target are one store.
    #[error("the source and the target are the same store")]
    SameStore,
    /// A store's schema is not this zgate's version.
    #[error("the {side} store's schema version is {found}, this zgate's is {expected}")]
    SchemaVersion {
        /// Which one.
        side: Side,
        /// Its version.
        found: i64,
        /// This zgate's.
        expected: i64,
    },
    /// The stores' tables or columns differ.
    #[error("the stores' tables differ: {0}")]
    SchemaMismatch(String),
    /// The target holds rows and replacing them was not asked.
    #[error("the target store is not empty (table {table} has {rows} row(s))")]
    TargetNotEmpty {
        /// The first table (by name) holding rows.
        table: String,
        /// How many.
        rows: u64,
    },
}

/// Where a copy is: `copied` of a table's `rows`, reported every 10,000
/// rows and at the table's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyProgress<'a> {
    /// The table being copied.
    pub table: &'a str,
    /// Rows written so far.
    pub copied: u64,
    /// The table's rows.
    pub rows: u64,
}

/// A table's rows on one side, and the SHA-256 (hex) of its canonical dump
/// lines, each followed by a newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDigest {
    /// How many rows.
    pub rows: u64,
    /// The checksum.
    pub sha256: String,
}

/// One table compared after a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCheck {
    /// The table.
    pub table: String,
    /// In the source.
    pub source: TableDigest,
    /// In the target.
    pub target: TableDigest,
}

impl TableCheck {
    /// Whether both sides hold the same rows.
    pub fn equal(&self) -> bool {
        self.source == self.target
    }
}

/// What a committed copy did, and the comparison of every table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// Rows written into the target.
    pub rows_copied: u64,
    /// The target's generation before the copy.
    pub generation_before: i64,
    /// Its generation after.
    pub generation: i64,
    /// Every copied table, in byte order of the names.
    pub tables: Vec<TableCheck>,
}

impl CopyReport {
    /// Whether every table is the same on both sides.
    pub fn all_equal(&self) -> bool {
        self.tables.iter().all(TableCheck::equal)
    }
}

impl CopyStore {
    /// Opens (creates, migrates forward) a SQLite file.
    pub fn open_sqlite(path: &std::path::Path) -> Result<CopyStore, StoreError> {
        SqliteStore::open(path).map(CopyStore::Sqlite)
    }

    /// Connects to a PostgreSQL database (creates, migrates forward its
    /// schema).
    pub fn connect_postgres(url: &str) -> Result<CopyStore, StoreError> {
        PostgresStore::connect(url).map(|s| CopyStore::Postgres(Box::new(s)))
    }

    fn schema_version(&mut self) -> Result<i64, StoreError> {
        match self {
            CopyStore::Sqlite(s) => s.schema_version(),
            CopyStore::Postgres(s) => s.schema_version(),
        }
    }

    fn copied_tables(&mut self) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        match self {
            CopyStore::Sqlite(s) => s.copied_tables(),
            CopyStore::Postgres(s) => s.copied_tables(),
        }
    }

    fn read_tables(&mut self) -> Result<TablesSnapshot, StoreError> {
        match self {
            CopyStore::Sqlite(s) => s.read_tables(),
            CopyStore::Postgres(s) => s.read_tables(),
        }
    }

    fn write_tables(
        &mut self,
        snapshot: Arc<TablesSnapshot>,
        replace: bool,
        progress: &mut dyn FnMut(&str, u64, u64),
    ) -> Result<WriteOutcome, StoreError> {
        match self {
            CopyStore::Sqlite(s) => s.write_tables(&snapshot, replace, progress),
            CopyStore::Postgres(s) => s.write_tables(snapshot, replace, progress),
        }
    }

    fn dump(&mut self) -> Result<Vec<String>, StoreError> {
        match self {
            CopyStore::Sqlite(s) => s.dump(),
            CopyStore::Postgres(s) => s.dump(),
        }
    }
}

/// Copies every table of `source` into `target` (see the module), then
/// compares them. `replace`: delete the target's rows (in the same
/// transaction) instead of refusing a target that holds any.
pub fn copy(
    source: &mut CopyStore,
    target: &mut CopyStore,
    replace: bool,
    progress: &mut dyn FnMut(&CopyProgress<'_>),
) -> Result<CopyReport, CopyError> {
    let on = |side: Side| move |error: StoreError| CopyError::Store { side, error };
    refuse_same_store(source, target)?;
    for (side, store) in [(Side::Source, &mut *source), (Side::Target, &mut *target)] {
        let found = store.schema_version().map_err(on(side))?;
        if found != SCHEMA_VERSION {
            return Err(CopyError::SchemaVersion {
                side,
                found,
                expected: SCHEMA_VERSION,
            });
        }
    }
    let source_tables = source.copied_tables().map_err(on(Side::Source))?;
    let target_tables = target.copied_tables().map_err(on(Side::Target))?;
    compare_schemas(&source_tables, &target_tables)?;
    let snapshot = Arc::new(source.read_tables().map_err(on(Side::Source))?);
    if snapshot
        .tables
        .iter()
        .map(|t| (&t.name, &t.columns))
        .ne(source_tables.iter().map(|(n, c)| (n, c)))
    {
        // The source's schema changed between the two reads.
        return Err(CopyError::SchemaMismatch(
            "the source's tables changed during the copy".to_owned(),
        ));
    }
    let rows_copied = snapshot.tables.iter().map(|t| t.rows.len() as u64).sum();
    let mut report = |table: &str, copied: u64, rows: u64| {
        progress(&CopyProgress {
            table,
            copied,
            rows,
        });
    };
    let (generation_before, generation) = match target
        .write_tables(Arc::clone(&snapshot), replace, &mut report)
        .map_err(on(Side::Target))?
    {
        WriteOutcome::Written {
            generation_before,
            generation,
        } => (generation_before, generation),
        WriteOutcome::NotEmpty { table, rows } => {
            return Err(CopyError::TargetNotEmpty { table, rows })
        }
    };
    drop(snapshot);
    let names: Vec<String> = source_tables.into_iter().map(|(n, _)| n).collect();
    let tables = compare(source, target, &names)?;
    Ok(CopyReport {
        rows_copied,
        generation_before,
        generation,
        tables,
    })
}

/// Each of `tables` on both sides: rows and the SHA-256 of its canonical
/// dump lines.
pub fn compare(
    source: &mut CopyStore,
    target: &mut CopyStore,
    tables: &[String],
) -> Result<Vec<TableCheck>, CopyError> {
    let source_dump = source.dump().map_err(|error| CopyError::Store {
        side: Side::Source,
        error,
    })?;
    let target_dump = target.dump().map_err(|error| CopyError::Store {
        side: Side::Target,
        error,
    })?;
    Ok(tables
        .iter()
        .map(|table| TableCheck {
            table: table.clone(),
            source: digest(&source_dump, table),
            target: digest(&target_dump, table),
        })
        .collect())
}

/// The rows and checksum of `table`'s lines (`table: ...`) in a dump.
fn digest(dump: &[String], table: &str) -> TableDigest {
    let mut hash = Sha256::new();
    let mut rows = 0;
    for line in dump
        .iter()
        .filter(|l| l.split_once(':').is_some_and(|(t, _)| t == table))
    {
        hash.update(line.as_bytes());
        hash.update(b"\n");
        rows += 1;
    }
    TableDigest {
        rows,
        sha256: hex::encode(hash.finalize()),
    }
}

/// The same tables with the same columns in the same order on both sides.
fn compare_schemas(
    source: &[(String, Vec<String>)],
    target: &[(String, Vec<String>)],
) -> Result<(), CopyError> {
    for (name, columns) in source {
        match target.iter().find(|(t, _)| t == name) {
            None => {
                return Err(CopyError::SchemaMismatch(format!(
                    "table {name} is missing in the target"
                )))
            }
            Some((_, theirs)) if theirs != columns => {
                return Err(CopyError::SchemaMismatch(format!(
                    "table {name} has columns ({}) in the source and ({}) in the target",
                    columns.join(", "),
                    theirs.join(", ")
                )))
            }
            Some(_) => {}
        }
    }
    if let Some((name, _)) = target
        .iter()
        .find(|(t, _)| !source.iter().any(|(s, _)| s == t))
    {
        return Err(CopyError::SchemaMismatch(format!(
            "table {name} is missing in the source"
        )));
    }
    Ok(())
}

/// Refuses a copy of a store into itself: the same SQLite file (by its
/// canonical path), or the same PostgreSQL database (whatever the URLs
/// say: the target's connection looks for the source's session among the
/// sessions on its database).
fn refuse_same_store(source: &mut CopyStore, target: &mut CopyStore) -> Result<(), CopyError> {
    match (source, target) {
        (CopyStore::Sqlite(a), CopyStore::Sqlite(b)) => {
            if let (Some(a), Some(b)) = (a.file(), b.file()) {
                let same = match (std::fs::canonicalize(&a), std::fs::canonicalize(&b)) {
                    (Ok(a), Ok(b)) => a == b,
                    _ => a == b,
                };
                if same {
                    return Err(CopyError::SameStore);
                }
            }
            Ok(())
        }
        (CopyStore::Postgres(a), CopyStore::Postgres(b)) => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            let marker = format!("zgate-store-copy-{}-{nanos}", std::process::id());
            a.mark_session(&marker).map_err(|error| CopyError::Store {
                side: Side::Source,
                error,
            })?;
            let same = b.sees_session(&marker).map_err(|error| CopyError::Store {
                side: Side::Target,
                error,
            })?;
            // The source's session keeps no name of the copy's.
            let _ = a.mark_session("");
            if same {
                return Err(CopyError::SameStore);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
