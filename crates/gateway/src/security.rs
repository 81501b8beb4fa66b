//! What the gateway needs from a security manager, as a narrow trait: verify
//! a password (optionally changing it), decide a SAF resource check, and say
//! whether it is reachable. The embedded ESM implements it (see `esm_adapter`);
//! tests may implement it in-process. No method has a default: a backend
//! that forgets one does not compile, rather than allowing by omission.
//!
//! Every logon and check is made for a request and names its [`Origin`],
//! so that the record the security manager keeps of it says where it came
//! from. A decision the security manager must record and cannot is an
//! `Err` ([`BackendError`]): never an allow.

pub use zgate_audit::Origin;
pub use zgate_base::Secret;

/// The result of a password verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Verified; the canonical user id (as the ESM spells it).
    Authenticated {
        /// The user id.
        user: String,
    },
    /// Unknown user or wrong password: deliberately one variant.
    InvalidCredentials,
    /// The password is right but expired and no new one was given.
    PasswordExpired,
    /// The new password does not satisfy the rules.
    NewPasswordInvalid,
    /// The user is revoked.
    Revoked,
}

pub use zgate_base::AccessLevel;

/// What a check is told of its request: what a conditional access list
/// entry can name (RACF's `PERMIT ... WHEN(...)`), and where the request
/// came from, for the record. An HTTPS request has a client address, so a
/// network access zone (`WHEN(SERVAUTH(zone))`); it has no terminal,
/// program, console or port in RACF's sense. No `Default`: a check
/// without its request's origin would be recorded as nobody's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conditions<'a> {
    /// The zone of the client address (`zgate.network.zones`), if any.
    pub network_zone: Option<&'a str>,
    /// The request the check is made for.
    pub origin: &'a Origin,
}

/// The security manager could not answer (database down, ...). Its text goes
/// to the log, never to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("security manager unavailable: {0}")]
pub struct BackendError(pub String);

/// The security manager as the gateway sees it.
pub trait SecurityManager: Send + Sync + 'static {
    /// Verifies `user`'s password; with `new_password`, changes it first
    /// (validated against the ESM's rules). Failed attempts count toward
    /// revocation inside the ESM. A logon that must be recorded and cannot
    /// be is an `Err`.
    fn authenticate(
        &self,
        origin: &Origin,
        user: &str,
        password: &Secret,
        new_password: Option<&Secret>,
    ) -> Result<AuthOutcome, BackendError>;

    /// Whether `user` has at least `level` to `resource` in `class`, for a
    /// request with these `conditions`. A check that must be recorded and
    /// cannot be is an `Err`.
    fn check(
        &self,
        user: &str,
        class: &str,
        resource: &str,
        level: AccessLevel,
        conditions: Conditions<'_>,
    ) -> Result<bool, BackendError>;

    /// Whether the ESM and its store answer.
    fn health(&self) -> Result<(), BackendError>;

    /// How this process keeps up with other processes' commits on its
    /// store, for health and metrics; `None` for a manager that shares no
    /// store.
    fn store_sync(&self) -> Option<StoreSync> {
        None
    }

    /// [`SecurityManager::authenticate`] with a separately given second
    /// factor (`mfaToken`). A backend without MFA must refuse a code.
    fn authenticate_with_factor(
        &self,
        origin: &Origin,
        user: &str,
        password: &Secret,
        new_password: Option<&Secret>,
        code: Option<&Secret>,
    ) -> Result<AuthOutcome, BackendError>;

    /// Maps a client certificate (DER) to a user. A backend without
    /// certificate mapping must answer [`CertOutcome::NoMapping`]. A logon
    /// that must be recorded and cannot be is an `Err`.
    fn map_certificate(&self, origin: &Origin, der: &[u8]) -> Result<CertOutcome, BackendError>;

    /// Maps a distributed identity (an OIDC token's `sub`) in `registry`
    /// to a user (R_usermap over RACMAP filters). A backend without
    /// identity mapping must answer [`IdentityOutcome::NoMapping`].
    fn map_identity(
        &self,
        origin: &Origin,
        user_name: &str,
        registry: &str,
    ) -> Result<IdentityOutcome, BackendError>;
}

/// What a distributed identity maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityOutcome {
    /// A user that may log on.
    Mapped {
        /// The user id.
        user: String,
    },
    /// No filter maps it, or the name or registry is not valid.
    NoMapping,
    /// The mapped user is revoked.
    Revoked,
}

/// What a client certificate maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertOutcome {
    /// A user that may log on.
    Mapped {
        /// The user id.
        user: String,
    },
    /// No filter matches (ZWEAG161E).
    NoMapping,
    /// The mapped user is revoked.
    Revoked,
    /// Not an X.509 certificate.
    NotX509,
}

/// How a process keeps up with other processes' commits on its store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreSync {
    /// How long ago (ms) the state in memory was last known current.
    pub state_age_ms: u64,
    /// Other processes' commits applied from the store's journal.
    pub replayed: u64,
    /// Times the whole state was loaded instead.
    pub reloads: u64,
}
