//! Distributed identities mapped to users (R_usermap, see
//! [`crate::idmap`]): in memory on the lookup path, like certificate
//! filters; failures recorded as RACF records them.

use zgate_audit::Origin;

use super::{Esm, VerifyOutcome};
use crate::audit::{unmapped_identity_record, LogonMethod};
use crate::idmap::UsermapError;

impl Esm {
    /// The user a distributed identity (`user_name`, e.g. an OIDC token's
    /// `sub`, in `registry`) maps to, as R_usermap answers it from the
    /// in-storage IDIDMAP filters, with one addition: a revoked user is
    /// refused ([`UsermapError::Revoked`], 8/8/16). R_usermap only maps;
    /// zgate's mapping is the gateway's logon, and a mapping must not be a
    /// way around REVOKE.
    ///
    /// Reads memory only. With an audit sink, every failure is recorded:
    /// no user (event 1 qualifier 39, always, with the name and registry),
    /// a revoked user (event 1 qualifier 6). A failure is answered whether
    /// or not the trail took its record: there is nothing less to grant.
    pub fn map_distributed_identity(
        &self,
        origin: &Origin,
        user_name: &str,
        registry: &str,
    ) -> Result<String, UsermapError> {
        let found = {
            let view = self.records.read().unwrap_or_else(|e| e.into_inner());
            view.idid_filters
                .find(user_name, registry)
                .map(|f| f.user.clone())
        };
        let answer = found.and_then(|user| {
            // The index knows users as of now (users take effect at once);
            // the filters as of the last refresh.
            let index = self.index.read().unwrap_or_else(|e| e.into_inner());
            match (
                index.user_defined(&user),
                index.credentials_valid_since(&user),
            ) {
                (false, _) => Err(UsermapError::UndefinedUser { user }),
                (true, None) => Err(UsermapError::Revoked { user }),
                (true, Some(_)) => Ok(user),
            }
        });
        match &answer {
            Err(UsermapError::Revoked { user }) => {
                self.record_logon(
                    origin,
                    user,
                    LogonMethod::DistributedIdentity,
                    &VerifyOutcome::Revoked,
                    false,
                    false,
                    None,
                );
            }
            Err(_) => {
                let record = unmapped_identity_record(self.now_ms(), user_name, registry, origin);
                let _ = self.audit(Some(record));
            }
            Ok(_) => {}
        }
        answer
    }
}
