//! Users: ADDUSER, ALTUSER (with MFA), DELUSER, LISTUSER.

use super::context::*;
use super::exec::Exec;
use super::operands::*;
use crate::mfa::{self, TotpFactor, FACTOR_KIND, STEP_KIND};
use crate::model::*;
use crate::password::{
    check_password_syntax, check_phrase_syntax, hash_secret, normalize_password,
};
use crate::state::Change;
use crate::syntax::{texts, CommandOperands, Operand};
use crate::totp::{Algorithm, SharedSecret, TotpParams};

impl Exec<'_> {
    /// Credential keywords shared by ADDUSER and ALTUSER.
    pub(super) fn set_credentials(
        &self,
        user: &mut User,
        p: &CommandOperands,
        altering: bool,
    ) -> Result<(), CommandError> {
        let opts = &self.state.options;
        // ALTUSER PASSWORD sets a temporary (expired) password unless NOEXPIRED;
        // ADDUSER does the same (RACF's initial passwords are expired).
        let expired = !p.has("NOEXPIRED");
        if let Some((pw, _)) = one_value(p, "PASSWORD")? {
            check_password_syntax(&user.id, &pw, opts.mixed_case).map_err(|why| {
                invalid(format!("ICH21009I INVALID PASSWORD FOR {}: {why}", user.id))
            })?;
            let hash = hash_secret(&normalize_password(&pw, opts.mixed_case), self.env.cost)
                .map_err(|e| invalid(format!("ICH00099I {e}")))?;
            user.password = Some(Credential {
                hash,
                set_at_ms: self.env.now_ms,
                expired,
            });
        } else if altering && p.has("EXPIRED") {
            if let Some(c) = user.password.as_mut() {
                c.expired = true;
            }
        } else if altering && p.has("NOEXPIRED") {
            if let Some(c) = user.password.as_mut() {
                c.expired = false;
            }
        }
        if let Some((ph, _)) = one_value(p, "PHRASE")? {
            check_phrase_syntax(&user.id, &ph).map_err(|why| {
                invalid(format!(
                    "ICH21044I INVALID PASSWORD PHRASE FOR {}: {why}",
                    user.id
                ))
            })?;
            let hash =
                hash_secret(&ph, self.env.cost).map_err(|e| invalid(format!("ICH00099I {e}")))?;
            user.phrase = Some(Credential {
                hash,
                set_at_ms: self.env.now_ms,
                expired,
            });
        }
        if p.has("NOPASSWORD") {
            if p.has("PASSWORD") {
                return Err(CommandError::new(
                    CommandErrorKind::Syntax,
                    "IKJ56716I KEYWORDS PASSWORD AND NOPASSWORD CONFLICT",
                ));
            }
            user.password = None;
        }
        if p.has("NOPHRASE") {
            if p.has("PHRASE") {
                return Err(CommandError::new(
                    CommandErrorKind::Syntax,
                    "IKJ56716I KEYWORDS PHRASE AND NOPHRASE CONFLICT",
                ));
            }
            user.phrase = None;
        }
        Ok(())
    }

    pub(super) fn set_attributes(
        user: &mut User,
        p: &CommandOperands,
        now_ms: i64,
    ) -> Result<(), CommandError> {
        for (on, off) in [
            ("SPECIAL", "NOSPECIAL"),
            ("AUDITOR", "NOAUDITOR"),
            ("OPERATIONS", "NOOPERATIONS"),
            ("RESTRICTED", "NORESTRICTED"),
            ("REVOKE", "RESUME"),
            ("EXPIRED", "NOEXPIRED"),
            ("UAUDIT", "NOUAUDIT"),
        ] {
            if p.has(on) && p.has(off) {
                return Err(CommandError::new(
                    CommandErrorKind::Syntax,
                    format!("IKJ56716I KEYWORDS {on} AND {off} CONFLICT"),
                ));
            }
        }
        let set = |flag: &mut bool, on, off| {
            if p.has(on) {
                *flag = true;
            }
            if p.has(off) {
                *flag = false;
            }
        };
        set(&mut user.special, "SPECIAL", "NOSPECIAL");
        set(&mut user.auditor, "AUDITOR", "NOAUDITOR");
        set(&mut user.operations, "OPERATIONS", "NOOPERATIONS");
        set(&mut user.restricted, "RESTRICTED", "NORESTRICTED");
        set(&mut user.uaudit, "UAUDIT", "NOUAUDIT");
        if p.has("REVOKE") {
            user.revoked = true;
            // Every credential issued so far ends here, also after a RESUME.
            user.revoked_at_ms = now_ms;
        }
        if p.has("RESUME") {
            user.revoked = false;
            user.failed_attempts = 0;
        }
        if let Some(args) = p.args("NAME") {
            let name: Vec<String> = texts(args).into_iter().map(|(t, _)| t).collect();
            let name = name.join(" ");
            if name.chars().count() > 20 {
                return Err(invalid("IKJ56702I INVALID NAME, LONGER THAN 20 CHARACTERS"));
            }
            user.name = name;
        }
        Ok(())
    }

    pub(super) fn adduser(&mut self, p: &CommandOperands) -> Result<(), CommandError> {
        // UAUDIT is ALTUSER's only (RACF's ADDUSER has no such operand).
        for kw in [
            "REVOKE",
            "RESUME",
            "EXPIRED",
            "MFA",
            "DELFACTOR",
            "UAUDIT",
            "NOUAUDIT",
        ] {
            if p.has(kw) {
                return Err(CommandError::new(
                    CommandErrorKind::Syntax,
                    format!("IKJ56712I INVALID KEYWORD, {kw}"),
                ));
            }
        }
        let users = ids(p.positionals.first(), "USERID")?;
        let owner = self.owner_value(p)?;
        let group = id_value(p, "DFLTGRP")?.unwrap_or_else(|| "SYS1".to_owned());
        if !self.state.groups.contains_key(&group) {
            return Err(not_found(format!(
                "ICH01008I DFLTGRP {group} IS NOT DEFINED TO RACF. COMMAND ENDED."
            )));
        }
        for id in users {
            if self.state.users.contains_key(&id) {
                return Err(duplicate(format!(
                    "ICH01004I USER {id} IS ALREADY DEFINED TO RACF"
                )));
            }
            if self.state.groups.contains_key(&id) {
                return Err(duplicate(format!(
                    "ICH01005I {id} IS ALREADY DEFINED TO RACF AS A GROUP"
                )));
            }
            let mut user = User::new(id.clone(), group.clone(), owner.clone(), self.env.now_ms);
            Self::set_attributes(&mut user, p, self.env.now_ms)?;
            self.set_credentials(&mut user, p, false)?;
            if user.protected() {
                self.say(format!("ICH01024I User {id} is defined as PROTECTED."));
            }
            self.out.changes.push(Change::PutUser(Box::new(user)));
            self.out.changes.push(Change::Connect {
                user: id,
                group: group.clone(),
            });
        }
        Ok(())
    }

    pub(super) fn altuser(&mut self, p: &CommandOperands) -> Result<(), CommandError> {
        if p.has("MFA") || p.has("DELFACTOR") {
            return self.altuser_factor(p);
        }
        let users = ids(p.positionals.first(), "USERID")?;
        for id in users {
            let Some(existing) = self.state.users.get(&id) else {
                return Err(not_found(format!(
                    "ICH21001I USER {id} NOT DEFINED TO RACF. COMMAND ENDED."
                )));
            };
            let mut user = existing.clone();
            if p.has("OWNER") {
                user.owner = self.owner_value(p)?;
            }
            if let Some(g) = id_value(p, "DFLTGRP")? {
                if !self.state.connects.get(&id).is_some_and(|s| s.contains(&g)) {
                    return Err(invalid(format!(
                        "ICH21012I USER {id} IS NOT CONNECTED TO GROUP {g}; DFLTGRP NOT CHANGED"
                    )));
                }
                user.default_group = g;
            }
            Self::set_attributes(&mut user, p, self.env.now_ms)?;
            self.set_credentials(&mut user, p, true)?;
            if user.uaudit != existing.uaudit {
                self.out.changes_audit_controls = true;
            }
            self.out.changes.push(Change::PutUser(Box::new(user)));
        }
        Ok(())
    }

    pub(super) fn deluser(&mut self, p: &CommandOperands) -> Result<(), CommandError> {
        for id in ids(p.positionals.first(), "USERID")? {
            if !self.state.users.contains_key(&id) {
                return Err(not_found(format!(
                    "ICH04005I USER {id} NOT DEFINED TO RACF. COMMAND ENDED."
                )));
            }
            // The user's distributed identity filters go with it, as RACF
            // deletes the IDIDMAP profiles linked to a user profile.
            self.out
                .changes
                .extend(crate::idmap::delete_all_of(&self.state.records, &id));
            self.out
                .changes
                .extend(crate::digtcert::delete_all_of(&self.state.records, &id));
            self.out.changes.push(Change::DeleteUser(id));
        }
        Ok(())
    }

    pub(super) fn listuser(&mut self, p: &CommandOperands) -> Result<(), CommandError> {
        let targets: Vec<String> = match p.positionals.first() {
            Some(Operand::Word { text, .. }) if text == "*" => {
                self.state.users.keys().cloned().collect()
            }
            Some(op) => ids(Some(op), "USERID")?,
            None => match self.env.issuer {
                Issuer::User(u) => vec![u.clone()],
                Issuer::Operator => self.state.users.keys().cloned().collect(),
            },
        };
        for id in targets {
            let Some(u) = self.state.users.get(&id) else {
                return Err(not_found(format!(
                    "ICH30001I UNABLE TO LOCATE USER ENTRY {id}"
                )));
            };
            let mut attrs = Vec::new();
            for (on, a) in [
                (u.special, "SPECIAL"),
                (u.auditor, "AUDITOR"),
                (u.operations, "OPERATIONS"),
                (u.restricted, "RESTRICTED"),
                (u.uaudit, "UAUDIT"),
                (u.protected(), "PROTECTED"),
                (u.revoked, "REVOKED"),
            ] {
                if on {
                    attrs.push(a);
                }
            }
            if attrs.is_empty() {
                attrs.push("NONE");
            }
            let cred_date = |c: &Option<Credential>| match c {
                Some(c) if c.expired => "00.000 (EXPIRED)".to_owned(),
                Some(c) => date(c.set_at_ms),
                None => "N/A".to_owned(),
            };
            let name = if u.name.is_empty() {
                "UNKNOWN"
            } else {
                &u.name
            };
            let interval = match self.state.options.password_interval_days {
                0 => "N/A".to_owned(),
                n => n.to_string(),
            };
            let lines = vec![
                format!(
                    "USER={}  NAME={}  OWNER={}  CREATED={}",
                    u.id,
                    name,
                    u.owner,
                    date(u.created_ms)
                ),
                format!(
                    " DEFAULT-GROUP={} PASSDATE={} PASS-INTERVAL={} PHRASEDATE={}",
                    u.default_group,
                    cred_date(&u.password),
                    interval,
                    cred_date(&u.phrase)
                ),
                format!(" ATTRIBUTES={}", attrs.join(" ")),
                format!(
                    " LAST-ACCESS={}  FAILED-ATTEMPTS={}",
                    u.last_logon_ms
                        .map(date)
                        .unwrap_or_else(|| "UNKNOWN".into()),
                    u.failed_attempts
                ),
            ];
            self.out.lines.extend(lines);
            if let Some(mfa) = mfa::listing(&self.state.records, &id) {
                self.say(format!(" {mfa}"));
            }
            for g in self.state.connects.get(&id).into_iter().flatten() {
                self.say(format!(" GROUP={g:<8}  AUTH=USE"));
            }
            self.say("");
        }
        Ok(())
    }
}

impl Exec<'_> {
    /// `ALTUSER id MFA(...)` / `ALTUSER id DELFACTOR(TOTP)`: enrols or
    /// removes the user's TOTP factor (see [`crate::mfa`]).
    fn altuser_factor(&mut self, p: &CommandOperands) -> Result<(), CommandError> {
        if p.keywords.len() != 1 {
            return Err(CommandError::new(
                CommandErrorKind::Syntax,
                "IKJ56712I MFA AND DELFACTOR CANNOT BE COMBINED WITH OTHER ALTUSER OPERANDS",
            ));
        }
        let action = match (p.args("MFA"), p.args("DELFACTOR")) {
            (Some(args), _) => parse_mfa(args)?,
            (None, Some(args)) => {
                check_factor_name(&single_arg(args, "DELFACTOR")?)?;
                MfaAction::Remove
            }
            (None, None) => {
                return Err(CommandError::new(
                    CommandErrorKind::Syntax,
                    "IKJ56701I MISSING MFA",
                ))
            }
        };
        for id in ids(p.positionals.first(), "USERID")? {
            if !self.state.users.contains_key(&id) {
                return Err(not_found(format!(
                    "ICH21001I USER({id}) NOT DEFINED TO RACF"
                )));
            }
            match action {
                MfaAction::Enrol { algorithm, digits } => {
                    let mut bytes = zeroize::Zeroizing::new(vec![0u8; algorithm.secret_len()]);
                    self.env.random.fill(&mut bytes).map_err(|e| {
                        CommandError::new(CommandErrorKind::Store, format!("ICH00099I {e}"))
                    })?;
                    let secret = SharedSecret::from_bytes(&bytes).map_err(|_| {
                        CommandError::new(CommandErrorKind::Store, "ICH00099I SECRET REJECTED")
                    })?;
                    let params = TotpParams::new(algorithm, digits, 30).map_err(|_| {
                        CommandError::new(
                            CommandErrorKind::Invalid,
                            "ICH21052I DIGITS MUST BE 6 OR 8",
                        )
                    })?;
                    let factor = TotpFactor { params, secret };
                    self.out
                        .changes
                        .push(Change::put_record(FACTOR_KIND, &id, factor.encode()));
                    self.out.changes.push(Change::delete_record(STEP_KIND, &id));
                    self.say(factor.uri(&id));
                }
                MfaAction::Remove => {
                    if self.state.records.get(FACTOR_KIND, &id).is_none() {
                        return Err(not_found(format!(
                            "ICH21053I USER({id}) HAS NO TOTP FACTOR"
                        )));
                    }
                    self.out
                        .changes
                        .push(Change::delete_record(FACTOR_KIND, &id));
                    self.out.changes.push(Change::delete_record(STEP_KIND, &id));
                }
            }
        }
        Ok(())
    }
}

/// What `ALTUSER ... MFA(...)` asks.
#[derive(Clone, Copy)]
enum MfaAction {
    Enrol { algorithm: Algorithm, digits: u32 },
    Remove,
}

fn word(op: &Operand) -> Option<String> {
    match op {
        Operand::Word { text, .. } => Some(text.to_ascii_uppercase()),
        _ => None,
    }
}

fn single_arg(args: &[Operand], what: &str) -> Result<String, CommandError> {
    match args {
        [one] => word(one).ok_or_else(|| {
            CommandError::new(
                CommandErrorKind::Syntax,
                format!("IKJ56702I INVALID {what}"),
            )
        }),
        _ => Err(CommandError::new(
            CommandErrorKind::Syntax,
            format!("IKJ56702I INVALID {what}: ONE VALUE EXPECTED"),
        )),
    }
}

fn check_factor_name(name: &str) -> Result<(), CommandError> {
    // IBM Z MFA names its TOTP factor AZFTOTP1; both spellings are accepted.
    if name == "TOTP" || name == "AZFTOTP1" {
        Ok(())
    } else {
        Err(CommandError::new(
            CommandErrorKind::Invalid,
            format!("ICH21050I FACTOR {name} IS NOT SUPPORTED; ONLY TOTP"),
        ))
    }
}

fn parse_mfa(args: &[Operand]) -> Result<MfaAction, CommandError> {
    let mut factor = None;
    let mut active = None;
    let mut algorithm = Algorithm::Sha1;
    let mut digits = 6;
    for op in args {
        match op {
            Operand::Keyword { name, args } => match name.as_str() {
                "FACTOR" => factor = Some(single_arg(args, "FACTOR")?),
                "DELFACTOR" => {
                    check_factor_name(&single_arg(args, "DELFACTOR")?)?;
                    return Ok(MfaAction::Remove);
                }
                "ALGORITHM" | "ALG" => {
                    algorithm = single_arg(args, "ALGORITHM")?.parse().map_err(|_| {
                        CommandError::new(
                            CommandErrorKind::Invalid,
                            "ICH21051I ALGORITHM MUST BE SHA1, SHA256 OR SHA512",
                        )
                    })?;
                }
                "DIGITS" => {
                    digits = match single_arg(args, "DIGITS")?.as_str() {
                        "6" => 6,
                        "8" => 8,
                        _ => {
                            return Err(CommandError::new(
                                CommandErrorKind::Invalid,
                                "ICH21052I DIGITS MUST BE 6 OR 8",
                            ))
                        }
                    };
                }
                other => {
                    return Err(CommandError::new(
                        CommandErrorKind::Syntax,
                        format!("IKJ56712I INVALID KEYWORD, {other} IN MFA"),
                    ))
                }
            },
            Operand::Word { text, .. } => match text.to_ascii_uppercase().as_str() {
                "ACTIVE" => active = Some(true),
                "INACTIVE" => active = Some(false),
                other => {
                    return Err(CommandError::new(
                        CommandErrorKind::Syntax,
                        format!("IKJ56712I INVALID KEYWORD, {other} IN MFA"),
                    ))
                }
            },
            Operand::List(_) => {
                return Err(CommandError::new(
                    CommandErrorKind::Syntax,
                    "IKJ56712I INVALID KEYWORD IN MFA",
                ))
            }
        }
    }
    let Some(factor) = factor else {
        return Err(CommandError::new(
            CommandErrorKind::Syntax,
            "IKJ56701I MISSING FACTOR IN MFA",
        ));
    };
    check_factor_name(&factor)?;
    match active {
        Some(true) => Ok(MfaAction::Enrol { algorithm, digits }),
        Some(false) => Ok(MfaAction::Remove),
        None => Err(CommandError::new(
            CommandErrorKind::Syntax,
            "IKJ56701I MISSING ACTIVE OR INACTIVE IN MFA",
        )),
    }
}
