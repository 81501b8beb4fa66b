//! zgate's embedded security manager (ESM): RACF's model and decisions,
//! without a mainframe.
//!
//! # Public API (what the gateway and the CLI call)
//!
//! ```no_run
//! use std::path::Path;
//! use zgate_esm::{AccessLevel, Esm, Issuer};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let esm = Esm::open(Path::new("/tmp/zgate-home"))?;          // <home>/esm.db, 0600
//! esm.run_command(&Issuer::Operator, "ADDUSER BOB")?;             // RACF commands
//! esm.run_command(&Issuer::Operator, "SETROPTS CLASSACT(ZOWE) GENERIC(ZOWE)")?;
//! esm.run_command(&Issuer::Operator, "RDEFINE ZOWE APIML.** UACC(NONE)")?;
//! esm.run_command(&Issuer::Operator, "PERMIT APIML.** CLASS(ZOWE) ID(BOB) ACCESS(READ)")?;
//! let d = esm.check("BOB", "ZOWE", "APIML.SERVICES", AccessLevel::Read); // in memory only
//! assert!(d.authorized());
//! println!("{d}");                                              // the explanation
//! let outcome = esm.verify("BOB", "secret", None);              // RACROUTE VERIFY
//! println!("{}/{}", outcome.saf_rc(), outcome.racf_rc());
//! esm.token_state().revoke_token("sha256-of-token", 1_900_000_000_000)?;
//! # Ok(()) }
//! ```
//!
//! - [`Esm::open`] / [`Esm::open_with_clock`] / [`Esm::open_with`] (injected
//!   [`Clock`], hash cost, audit sink) / [`Esm::in_memory`] /
//!   [`Esm::with_store`] (any [`store::Store`] backend).
//! - [`Esm::check`] / [`Esm::check_with`] → [`Decision`] (`saf_rc`, `racf_rc`,
//!   `reason`, `profile`, `granted_by`, [`Decision::authorized`], `Display`).
//! - [`Esm::verify`] → [`VerifyOutcome`] (`saf_rc()`, `racf_rc()`).
//! - [`Esm::run_command`] → [`CommandOutput`] or [`CommandError`];
//!   [`Esm::run_batch`] runs a batch one transaction per command with a
//!   progress callback; [`Esm::run_atomic`] runs several as one transaction
//!   (used by [`Esm::import_yaml`]).
//! - [`Esm::token_state`] → [`TokenState`]: revoked-token hashes, persisted.
//! - [`EsmConfig::audit`]: an [`AuditSink`] receiving the records RACF's
//!   controls log: logons, checks, commands ([`MemorySink`] keeps them in
//!   memory);
//!   [`EsmConfig::random`]: where new secrets come from.
//! - [`Esm::user`] → [`UserSummary`].
//! - [`Esm::read_ring`] → [`RingContents`] or [`RingAccessError`]: a key
//!   ring as an application reads it (R_datalib);
//!   [`Esm::rotate_key_encryption_key`], [`EsmConfig::key_encryption`].
//! - [`Esm::verify_with_factor`] (TOTP, see [`mfa`]),
//!   [`Esm::map_certificate`] (see [`certmap`]),
//!   [`Esm::map_distributed_identity`] (see [`idmap`]), PAT revocation state
//!   ([`Esm::pat_salt`], [`Esm::pat_rule`], [`Esm::put_pat_rule`],
//!   [`Esm::evict_pat_rules`]), [`Esm::set_mfa_settings`], PassTickets
//!   ([`Esm::generate_passticket`], [`Esm::verify_for_appl`]).
//!
//! # Layers (each file imports only from the layers below it)
//!
//! 1. Values: [`syntax`] (the command tokenizer), [`password`], [`passticket`]
//!    and [`totp`] (algorithms), [`records`], [`keywrap`] (private keys
//!    at rest), [`key`], [`model`].
//! 2. Names: [`generic`] (patterns and their index), [`profile_name`].
//! 3. [`state`]: everything as values, and the [`state::Change`]s.
//! 4. Derived: [`raclist`] (in-storage copies), [`index`] (decisions), [`certmap`],
//!    [`digtcert`] (certificates and key rings), [`idmap`], [`mfa`], [`audit`],
//!    [`import`] (YAML to commands).
//! 5. [`command`]: the command table and its executors.
//! 6. [`store`]: where changes are committed.
//! 7. [`engine`]: [`Esm`], which runs commands, logons and checks.
//! - [`Esm::reload_if_changed`]: picks up changes another process committed
//!   (the gateway should call it every second or so; commands and logons
//!   do it themselves, and a commit computed on stale data is refused by
//!   the store and redone).
//!
//! # Architecture invariants
//! - **Checks never touch the disk.** [`Esm::check`] reads only the
//!   in-memory [`index::Index`]; see [`generic`] for how generic profiles
//!   are found without scanning a class.
//! - Every command is ONE store transaction; a failed command changes
//!   nothing, on disk or in memory (commands compute [`state::Change`]s first).
//! - The ESM logic knows nothing of SQLite: it speaks [`store::Store`].
//! - Unknown user and wrong password cost the same hash and give answers the
//!   caller cannot tell apart from outside ([`VerifyOutcome::public_rc`]).
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod audit;
pub mod certmap;
pub mod command;
pub mod digtcert;
mod engine;
#[doc(hidden)]
pub mod fuzzing;
pub mod generic;
pub mod idmap;
pub mod import;
pub mod index;
pub mod key;
pub mod keywrap;
pub mod mfa;
pub mod model;
pub mod passticket;
pub mod password;
pub mod profile_name;
pub mod raclist;
pub mod records;
pub mod state;
pub mod store;
pub mod syntax;
pub mod totp;

pub use audit::{AuditSink, AuditUnavailable};
pub use command::{CommandError, CommandErrorKind, CommandOutput, Issuer};
pub use digtcert::{
    CertOwner, RingAccessError, RingContents, RingEntry, RingRef, Trust, Usage, VirtualRing,
};
pub use engine::logon::CertificateLogon;
pub use engine::passtickets::GenerateError;
pub use engine::pat_rules::PatRule;
pub use engine::store_copy::{copy_store, describe_location, open_for_copy};
pub use engine::{
    BatchProgress, BatchReport, Esm, EsmConfig, EsmError, MfaSettings, StoreLocation, SyncCounts,
    TokenState, UserSummary, VerifyOutcome,
};
pub use idmap::UsermapError;
pub use index::{CheckContext, Decision, GrantSource};
pub use keywrap::KeyEncryption;
pub use model::{AccessLevel, Condition, PTKTDATA};
pub use password::HashCost;
pub use syntax::{split_batch, BatchCommand};
pub use zgate_audit::{MemorySink, Origin};
/// The time source, shared with the token service so that the whole
/// process reads one clock (a user's revocation time and a token's issue
/// time are compared).
pub use zgate_base::{Clock, SystemClock};
