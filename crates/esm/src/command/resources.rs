//! General-resource profiles and their access lists: RDEFINE, RALTER,
//! RDELETE, RLIST, PERMIT, SEARCH.

use super::context::*;
use super::exec::{Definition, Exec};
use super::operands::*;
use crate::model::*;
use crate::passticket::{parse_des_key_hex, parse_enhanced_key_hex, SsignonKeys, TicketType};
use crate::profile_name::{normalize_profile_name, parse_global_member};
use crate::state::Change;
use crate::syntax::{texts, CommandOperands, Operand};

impl Exec<'_> {
    /// Says so when a command changes a discrete profile named with generic
    /// characters that cannot decide anything while generics are on.
    fn note_unusable(&mut self, profile: &Profile) {
        if profile.literal_name && self.state.class(&profile.class).generic {
            self.say(format!(
                "IRRD122I {} IS A DISCRETE PROFILE WITH GENERIC CHARACTERS: IT DECIDES NOTHING WHILE GENERIC({}) IS ACTIVE. DELETE IT AND DEFINE THE GENERIC PROFILE.",
                profile.name, profile.class
            ));
        }
    }

    pub(super) fn class_and_profiles(
        &self,
        p: &CommandOperands,
    ) -> Result<(String, Vec<String>), CommandError> {
        let Some(Operand::Word { text: class, .. }) = p.positionals.first() else {
            return Err(CommandError::new(
                CommandErrorKind::Syntax,
                "IKJ56701I MISSING CLASS NAME",
            ));
        };
        let class = class_value(class)?;
        let Some(op) = p.positionals.get(1) else {
            return Err(CommandError::new(
                CommandErrorKind::Syntax,
                "IKJ56701I MISSING PROFILE NAME",
            ));
        };
        let mut names: Vec<String> = Vec::new();
        for (t, _) in texts(std::slice::from_ref(op)) {
            let n = if t == "*" {
                "*".to_owned()
            } else if class == GLOBAL_CLASS {
                class_value(&t)?
            } else {
                normalize_profile_name(&t)
                    .map_err(|e| invalid(format!("ICH10103I INVALID PROFILE NAME: {e}")))?
            };
            if !names.contains(&n) {
                names.push(n);
            }
        }
        Ok((class, names))
    }

    pub(super) fn rdefine(&mut self, p: &CommandOperands) -> Result<(), CommandError> {
        self.define_profile(p, Definition::New)
    }

    pub(super) fn ralter(&mut self, p: &CommandOperands) -> Result<(), CommandError> {
        self.define_profile(p, Definition::Alter)
    }

    fn define_profile(
        &mut self,
        p: &CommandOperands,
        definition: Definition,
    ) -> Result<(), CommandError> {
        let altering = definition == Definition::Alter;
        let (class, names) = self.class_and_profiles(p)?;
        // PassTicket keys, PTKTDATA only.
        if p.has("SSIGNON") && class != PTKTDATA {
            return Err(invalid(
                "IKJ56712I INVALID KEYWORD, SSIGNON (PTKTDATA CLASS ONLY)",
            ));
        }
        if !altering && p.has("GLOBALAUDIT") {
            return Err(CommandError::new(
                CommandErrorKind::Syntax,
                "IKJ56712I INVALID KEYWORD, GLOBALAUDIT",
            ));
        }
        let audit = p.args("AUDIT").map(parse_audit_operand).transpose()?;
        let global_audit = p.args("GLOBALAUDIT").map(parse_audit_operand).transpose()?;
        if !altering && p.has("DELMEM") {
            return Err(CommandError::new(
                CommandErrorKind::Syntax,
                "IKJ56712I INVALID KEYWORD, DELMEM",
            ));
        }
        if p.has("WARNING") && p.has("NOWARNING") {
            return Err(CommandError::new(
                CommandErrorKind::Syntax,
                "IKJ56716I KEYWORDS WARNING AND NOWARNING CONFLICT",
            ));
        }
        let uacc = level_value(p, "UACC")?;
        let members = |kw| -> Result<Vec<String>, CommandError> {
            let mut out = Vec::new();
            for (m, _) in texts(p.args(kw).unwrap_or(&[])) {
                if class == GLOBAL_CLASS {
                    let (res, level) = parse_global_member(&m)
                        .map_err(|e| invalid(format!("ICH10104I INVALID MEMBER {m}: {e}")))?;
                    out.push(format!("{res}/{level}"));
                } else {
                    out.push(m.to_ascii_uppercase());
                }
            }
            Ok(out)
        };
        let add = members("ADDMEM")?;
        let del = members("DELMEM")?;
        for name in names {
            if name == "*" {
                return Err(invalid("ICH10103I INVALID PROFILE NAME *"));
            }
            let existing = self.state.profile(&class, &name);
            let generics_on = self.state.class(&class).generic;
            let mut profile = match (existing, altering) {
                // On RACF a discrete profile named with generic characters
                // and the generic profile of that name are two profiles;
                // zgate keys profiles by name, so the generic one, defined
                // once generics are on, replaces the discrete one, which
                // could no longer decide anything (ICH10321I).
                (Some(old), false) if old.literal_name && generics_on => {
                    self.out.changes.push(Change::DeleteProfile {
                        class: class.clone(),
                        name: name.clone(),
                    });
                    self.say(format!(
                        "IRRD121I THE DISCRETE PROFILE {name}, UNUSABLE WHILE GENERIC({class}) IS ACTIVE, IS REPLACED BY THE GENERIC PROFILE."
                    ));
                    Profile::new(
                        class.clone(),
                        name.clone(),
                        self.env.owner(),
                        self.env.now_ms,
                    )
                }
                (Some(_), false) => {
                    return Err(duplicate(format!(
                        "ICH10102I {name} ALREADY DEFINED TO CLASS {class}."
                    )))
                }
                (None, true) => {
                    return Err(not_found(format!(
                        "ICH11102I {name} NOT DEFINED TO CLASS {class}."
                    )))
                }
                (Some(p), true) => {
                    self.note_unusable(p);
                    (**p).clone()
                }
                (None, false) => {
                    // IBM, RACF Messages and Codes, ICH10313I. Only new
                    // names: a stored one stays manageable.
                    if name.ends_with("%*") {
                        return Err(invalid(
                            "ICH10313I Profile cannot be defined. Profile names cannot end with '%*'.",
                        ));
                    }
                    let mut new = Profile::new(
                        class.clone(),
                        name.clone(),
                        self.env.owner(),
                        self.env.now_ms,
                    );
                    // IBM, RACF Messages and Codes, ICH10321I: without
                    // SETROPTS GENERIC(class) a name with generic
                    // characters makes a discrete profile.
                    new.literal_name = class != GLOBAL_CLASS
                        && is_generic(&name)
                        && !self.state.class(&class).generic;
                    new
                }
            };
            if let Some(u) = uacc {
                profile.uacc = u;
            }
            if p.has("OWNER") {
                profile.owner = self.owner_value(p)?;
            }
            if let Some(a) = audit {
                self.out.changes_audit_controls |= profile.audit != a;
                profile.audit = a;
            }
            if let Some(a) = global_audit {
                self.out.changes_audit_controls |= profile.global_audit != a;
                profile.global_audit = a;
            }
            if p.has("WARNING") {
                profile.warning = true;
            }
            if p.has("NOWARNING") {
                profile.warning = false;
            }
            if let Some((v, _)) = one_value(p, "APPLDATA")? {
                profile.appldata = v;
            }
            if let Some((v, _)) = one_value(p, "DATA")? {
                profile.data = v;
            }
            if let Some(args) = p.args("SSIGNON") {
                let mut keys = profile.ssignon.clone().unwrap_or_default();
                parse_ssignon(args, &mut keys)
                    .map_err(|e| CommandError::new(CommandErrorKind::Syntax, e.0))?;
                profile.ssignon = Some(keys);
            }
            self.out
                .changes
                .push(Change::PutProfile(Box::new(profile.clone())));
            for m in &add {
                self.out.changes.push(Change::PutMember {
                    class: class.clone(),
                    name: name.clone(),
                    member: m.clone(),
                });
            }
            for m in &del {
                if !profile.members.contains(m) {
                    return Err(not_found(format!(
                        "ICH11104I MEMBER {m} NOT FOUND IN {name}"
                    )));
                }
                self.out.changes.push(Change::DeleteMember {
                    class: class.clone(),
                    name: name.clone(),
                    member: m.clone(),
                });
            }
            let settings = self.state.class(&class);
            if settings.raclist {
                self.say(format!(
                    "ICH10006I RACLISTED PROFILES FOR {class} WILL NOT REFLECT THE ADDITION(S) UNTIL A SETROPTS REFRESH IS ISSUED."
                ));
            }
            if class == GLOBAL_CLASS && self.state.class(&name).global {
                self.say(format!(
                    "ICH10006I GLOBAL ACCESS TABLE FOR {name} WILL NOT REFLECT THE CHANGE UNTIL SETROPTS GLOBAL({name}) REFRESH IS ISSUED."
                ));
            }
            if profile.literal_name && !altering {
                self.say(format!(
                    "ICH10321I The profile name {name} contains generic characters, but generics are not enabled for class {class}. A discrete profile has been created."
                ));
            }
        }
        Ok(())
    }

    pub(super) fn rdelete(&mut self, p: &CommandOperands) -> Result<(), CommandError> {
        let (class, names) = self.class_and_profiles(p)?;
        for name in names {
            if self.state.profile(&class, &name).is_none() {
                return Err(not_found(format!(
                    "ICH12102I {name} NOT DEFINED TO CLASS {class}."
                )));
            }
            self.out.changes.push(Change::DeleteProfile {
                class: class.clone(),
                name,
            });
        }
        Ok(())
    }

    pub(super) fn rlist(&mut self, p: &CommandOperands) -> Result<(), CommandError> {
        let (class, names) = self.class_and_profiles(p)?;
        let names: Vec<String> = if names == ["*"] {
            self.state
                .profiles
                .get(&class)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default()
        } else {
            names
        };
        for name in names {
            let Some(prof) = self.state.profile(&class, &name) else {
                return Err(not_found(format!("ICH13003I {name} NOT FOUND")));
            };
            let prof = prof.clone();
            self.say("CLASS      NAME");
            self.say("-----      ----");
            self.say(format!(
                "{:<10} {}{}",
                class,
                name,
                if prof.is_generic() { " (G)" } else { "" }
            ));
            self.say("");
            self.say("LEVEL  OWNER      UNIVERSAL ACCESS  YOUR ACCESS  WARNING");
            self.say("-----  --------   ----------------  -----------  -------");
            let yours = match self.env.issuer {
                Issuer::Operator => "ALTER".to_owned(),
                Issuer::User(u) => prof
                    .access
                    .get(u)
                    .map_or_else(|| prof.uacc.to_string(), |l| l.to_string()),
            };
            self.say(format!(
                " 00    {:<8}      {:<8}         {:<8}     {}",
                prof.owner,
                prof.uacc,
                yours,
                if prof.warning { "YES" } else { "NO" }
            ));
            self.say("");
            if !prof.appldata.is_empty() {
                self.say(format!("APPLICATION DATA  {}", prof.appldata));
            } else {
                self.say("APPLICATION DATA  NONE");
            }
            self.say("");
            self.say("AUDITING");
            self.say("--------");
            self.say(audit_setting_text(&prof.audit));
            self.say("");
            self.say("GLOBALAUDIT");
            self.say("-----------");
            self.say(audit_setting_text(&prof.global_audit));
            if prof.ssignon.is_some() {
                // Keys are never shown, as RACF shows them.
                self.say("SSIGNON: KEYMASKED DATA");
            }
            if !prof.members.is_empty() {
                self.say("RESOURCES IN GROUP");
                self.say("--------- -- -----");
                for m in &prof.members {
                    self.say(m.clone());
                }
            }
            self.say("");
            if prof.access.is_empty() {
                self.say("NO USERS IN ACCESS LIST");
            } else {
                self.say("USER      ACCESS   ACCESS COUNT");
                self.say("----      ------   ------ -----");
                for (id, level) in &prof.access {
                    self.say(format!("{id:<8}  {:<8}  000000", level.as_str()));
                }
            }
            if !prof.conditional.is_empty() {
                self.say("");
                self.say("USER      ACCESS   ACCESS COUNT  CLASS     ENTITY NAME");
                self.say("----      ------   ------ -----  -----     ------ ----");
                for ((id, c), level) in &prof.conditional {
                    self.say(format!(
                        "{id:<8}  {:<8}  000000        {:<8}  {}",
                        level.as_str(),
                        c.kind,
                        c.value
                    ));
                }
            }
            self.say("");
        }
        Ok(())
    }

    pub(super) fn permit(&mut self, p: &CommandOperands) -> Result<(), CommandError> {
        let Some(op) = p.positionals.first() else {
            return Err(CommandError::new(
                CommandErrorKind::Syntax,
                "IKJ56701I MISSING PROFILE NAME",
            ));
        };
        let Some((class_raw, _)) = one_value(p, "CLASS")? else {
            return Err(CommandError::new(
                CommandErrorKind::Syntax,
                "IKJ56701I MISSING CLASS: PERMIT FOR GENERAL RESOURCES NEEDS CLASS(c)",
            ));
        };
        let class = class_value(&class_raw)?;
        let mut names = Vec::new();
        for (t, _) in texts(std::slice::from_ref(op)) {
            names.push(
                normalize_profile_name(&t)
                    .map_err(|e| invalid(format!("ICH06001I INVALID PROFILE NAME: {e}")))?,
            );
        }
        let id_list: Vec<String> = match p.args("ID") {
            Some(a) => texts(a)
                .into_iter()
                .map(|(t, _)| {
                    if t == "*" {
                        Ok("*".to_owned())
                    } else {
                        let id = normalize_id(&t)
                            .map_err(|e| invalid(format!("IKJ56702I INVALID ID, {e}")))?;
                        if !self.state.users.contains_key(&id)
                            && !self.state.groups.contains_key(&id)
                        {
                            return Err(not_found(format!("ICH06004I {id} NOT DEFINED TO RACF")));
                        }
                        Ok(id)
                    }
                })
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let level = level_value(p, "ACCESS")?;
        let deleting = p.has("DELETE");
        let condition = match p.args("WHEN") {
            Some(args) => Some(parse_when(args)?),
            None => None,
        };
        if let Some(c) = condition
            .as_ref()
            .filter(|c| !REQUEST_CONDITION_KINDS.contains(&c.kind.as_str()))
        {
            self.say(format!(
                "IRRD120I WHEN({}) NEVER MATCHES A ZGATE REQUEST: ONLY WHEN(SERVAUTH(zone)) DOES.",
                c.kind
            ));
        }
        let from = match one_value(p, "FROM")? {
            Some((f, _)) => {
                let fclass = match one_value(p, "FCLASS")? {
                    Some((c, _)) => class_value(&c)?,
                    None => class.clone(),
                };
                let fname = normalize_profile_name(&f)
                    .map_err(|e| invalid(format!("ICH06001I INVALID PROFILE NAME: {e}")))?;
                let Some(src) = self.state.profile(&fclass, &fname) else {
                    return Err(not_found(format!(
                        "ICH06007I FROM PROFILE {fname} NOT DEFINED TO CLASS {fclass}"
                    )));
                };
                Some(src.clone())
            }
            None => None,
        };
        if deleting && level.is_some() {
            return Err(CommandError::new(
                CommandErrorKind::Syntax,
                "IKJ56716I KEYWORDS DELETE AND ACCESS CONFLICT",
            ));
        }
        if id_list.is_empty() && !p.has("RESET") && from.is_none() {
            return Err(CommandError::new(
                CommandErrorKind::Syntax,
                "IKJ56701I MISSING ID, RESET OR FROM",
            ));
        }
        for name in names {
            let Some(prof) = self.state.profile(&class, &name) else {
                return Err(not_found(format!(
                    "ICH06002I {name} NOT DEFINED TO CLASS {class}"
                )));
            };
            self.note_unusable(prof);
            let key = |id: &String| (class.clone(), name.clone(), id.clone());
            if let Some(reset) = p.args("RESET") {
                let which: Vec<String> = texts(reset)
                    .into_iter()
                    .map(|(t, _)| t.to_ascii_uppercase())
                    .collect();
                let (std, cond) = match which.first().map(String::as_str) {
                    None | Some("ALL") => (true, true),
                    Some("STANDARD") => (true, false),
                    Some("WHEN") => (false, true),
                    Some(o) => return Err(invalid(format!("IKJ56702I INVALID RESET, {o}"))),
                };
                if std {
                    for id in prof.access.keys() {
                        let (class, name, id) = key(id);
                        self.out
                            .changes
                            .push(Change::DeleteAccess { class, name, id });
                    }
                }
                if cond {
                    for (id, c) in prof.conditional.keys() {
                        let (class, name, id) = key(id);
                        self.out.changes.push(Change::DeleteConditional {
                            class,
                            name,
                            id,
                            condition: c.clone(),
                        });
                    }
                }
            }
            if let Some(src) = &from {
                for (id, l) in &src.access {
                    let (class, name, id) = key(id);
                    self.out.changes.push(Change::PutAccess {
                        class,
                        name,
                        id,
                        level: *l,
                    });
                }
                for ((id, c), l) in &src.conditional {
                    let (class, name, id) = key(id);
                    self.out.changes.push(Change::PutConditional {
                        class,
                        name,
                        id,
                        condition: c.clone(),
                        level: *l,
                    });
                }
            }
            for id in &id_list {
                let (class, name, id) = key(id);
                match (&condition, deleting) {
                    (None, true) => {
                        if !prof.access.contains_key(&id) {
                            return Err(not_found(format!(
                                "ICH06010I {id} NOT IN ACCESS LIST OF {name}"
                            )));
                        }
                        self.out
                            .changes
                            .push(Change::DeleteAccess { class, name, id });
                    }
                    (Some(c), true) => {
                        if !prof.conditional.contains_key(&(id.clone(), c.clone())) {
                            return Err(not_found(format!(
                                "ICH06010I {id} NOT IN CONDITIONAL ACCESS LIST OF {name}"
                            )));
                        }
                        self.out.changes.push(Change::DeleteConditional {
                            class,
                            name,
                            id,
                            condition: c.clone(),
                        });
                    }
                    (None, false) => {
                        let level = level.unwrap_or(AccessLevel::Read);
                        self.out.changes.push(Change::PutAccess {
                            class,
                            name,
                            id,
                            level,
                        });
                    }
                    (Some(c), false) => {
                        let level = level.unwrap_or(AccessLevel::Read);
                        self.out.changes.push(Change::PutConditional {
                            class,
                            name,
                            id,
                            condition: c.clone(),
                            level,
                        });
                    }
                }
            }
            if self.state.class(&class).raclist {
                self.say(format!(
                    "ICH06011I RACLISTED PROFILES FOR {class} WILL NOT REFLECT THE UPDATE(S) UNTIL A SETROPTS REFRESH IS ISSUED"
                ));
            }
        }
        Ok(())
    }
}

impl Exec<'_> {
    pub(super) fn search(&mut self, p: &CommandOperands) -> Result<(), CommandError> {
        let class = match one_value(p, "CLASS")? {
            Some((c, _)) => class_value(&c)?,
            None => {
                return Err(CommandError::new(
                    CommandErrorKind::Syntax,
                    "IKJ56701I MISSING CLASS: ONLY GENERAL RESOURCE CLASSES ARE SEARCHED",
                ))
            }
        };
        let mask = one_value(p, "MASK")?
            .map(|(m, _)| m.to_ascii_uppercase())
            .unwrap_or_default();
        let names: Vec<String> = if class == "USER" {
            self.state.users.keys().cloned().collect()
        } else if class == "GROUP" {
            self.state.groups.keys().cloned().collect()
        } else {
            self.state
                .profiles
                .get(&class)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default()
        };
        let hits: Vec<String> = names.into_iter().filter(|n| n.starts_with(&mask)).collect();
        if hits.is_empty() {
            self.say("ICH31005I NO ENTRIES MEET SEARCH CRITERIA");
        }
        for h in hits {
            self.say(h);
        }
        Ok(())
    }
}

/// Why `SSIGNON(...)` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SsignonSyntaxError(pub String);

/// Parses the operands inside `SSIGNON(...)` onto `keys` (RALTER keeps
/// what is not given).
pub fn parse_ssignon(args: &[Operand], keys: &mut SsignonKeys) -> Result<(), SsignonSyntaxError> {
    let err = |m: &str| SsignonSyntaxError(format!("IKJ56702I INVALID SSIGNON, {m}"));
    let one = |name: &str, a: &[Operand]| -> Result<String, SsignonSyntaxError> {
        let t = texts(a);
        match t.as_slice() {
            [(v, _)] => Ok(v.clone()),
            _ => Err(err(&format!("{name} NEEDS EXACTLY ONE VALUE"))),
        }
    };
    let mut enhanced_key: Option<Vec<u8>> = None;
    let mut ticket_type: Option<TicketType> = None;
    for op in args {
        let Operand::Keyword { name, args } = op else {
            return Err(err("KEYMASKED(...) OR EPTKEYMASKED(...) EXPECTED"));
        };
        match name.as_str() {
            "KEYMASKED" => {
                let v = one(name, args)?;
                keys.legacy =
                    Some(parse_des_key_hex(&v).map_err(|_| err("KEYMASKED NEEDS 16 HEX DIGITS"))?);
            }
            "EPTKEYMASKED" => {
                let v = one(name, args)?;
                enhanced_key = Some(
                    parse_enhanced_key_hex(&v)
                        .map_err(|_| err("EPTKEYMASKED NEEDS 128 HEX DIGITS"))?
                        .to_vec(),
                );
            }
            "EPTTYPE" => {
                ticket_type = Some(match one(name, args)?.to_ascii_uppercase().as_str() {
                    "UPPER" => TicketType::Upper,
                    "MIXED" => TicketType::Mixed,
                    _ => return Err(err("EPTTYPE IS UPPER OR MIXED")),
                });
            }
            "KEYENCRYPTED" | "EPTKEYLABEL" | "KEYLABEL" => {
                return Err(err(&format!("{name} (ICSF KEYS) IS NOT SUPPORTED")));
            }
            other => return Err(err(&format!("UNKNOWN KEYWORD {other}"))),
        }
    }
    match (enhanced_key, ticket_type, &mut keys.enhanced) {
        (Some(k), t, slot) => *slot = Some((k, t.unwrap_or(TicketType::Upper))),
        (None, Some(t), Some((_, old))) => *old = t,
        (None, Some(_), None) => return Err(err("EPTTYPE NEEDS AN EPTKEYMASKED KEY")),
        (None, None, _) => {}
    }
    if keys.is_empty() {
        return Err(err("NO KEY GIVEN"));
    }
    Ok(())
}

/// Reads `AUDIT(...)`/`GLOBALAUDIT(...)`'s operands: `NONE`, or
/// `ALL|SUCCESS|FAILURES` each with an optional `(level)` (READ when left
/// out). A later access type overrides an earlier one for its outcomes.
fn parse_audit_operand(args: &[Operand]) -> Result<AuditSetting, CommandError> {
    let bad = |what: &str| invalid(format!("IKJ56702I INVALID AUDIT VALUE, {what}"));
    if args.is_empty() {
        return Err(bad("MISSING"));
    }
    let mut a = AuditSetting::default();
    for op in args {
        let (kind, level) = match op {
            Operand::Word {
                text,
                quoted: false,
            } => (text.to_ascii_uppercase(), AuditLevel::Read),
            Operand::Keyword { name, args } => {
                let [Operand::Word {
                    text,
                    quoted: false,
                }] = args.as_slice()
                else {
                    return Err(bad(name));
                };
                let level = parse_audit_level(text).ok_or_else(|| bad(text))?;
                (name.to_ascii_uppercase(), level)
            }
            _ => return Err(bad("OPERAND")),
        };
        match kind.as_str() {
            "NONE" if args.len() == 1 => a = AuditSetting::default(),
            "ALL" => {
                a.successes = Some(level);
                a.failures = Some(level);
            }
            "SUCCESS" | "SUCCESSES" => a.successes = Some(level),
            "FAILURES" | "FAILURE" => a.failures = Some(level),
            other => return Err(bad(other)),
        }
    }
    Ok(a)
}
