//! Certificates and their mappings to users: RACDCERT (see
//! [`crate::certmap`] for the functions and the search order).

use super::context::{CommandError, CommandErrorKind, Issuer};
use super::exec::Exec;
use crate::certmap::{
    decode_map, encode_map, parse_filter, CertNames, MapEntry, MAP_KIND, REG_KIND,
};
use crate::model::normalize_id;
use crate::state::Change;
use crate::syntax::Operand;

fn error(kind: CommandErrorKind, msg: impl Into<String>) -> CommandError {
    CommandError::new(kind, msg)
}

fn text_of(args: &[Operand]) -> Option<String> {
    match args {
        [Operand::Word { text, .. }] => Some(text.clone()),
        _ => None,
    }
}

fn label_of(args: &[Operand]) -> Option<String> {
    match args {
        [Operand::Keyword { name, args }] if name == "LABEL" => text_of(args),
        _ => None,
    }
}

/// Whether the operands only list the issuer's own certificates or
/// mappings (`LIST`/`LISTMAP` without `ID`, or with the issuer's own).
pub(super) fn lists_own(ops: &[Operand], issuer: &str) -> bool {
    let mut listing = false;
    let mut own = true;
    for op in ops {
        match op {
            Operand::Word { text, .. }
                if matches!(text.to_ascii_uppercase().as_str(), "LIST" | "LISTMAP") =>
            {
                listing = true
            }
            Operand::Keyword { name, .. } if name == "LISTMAP" => listing = true,
            Operand::Keyword { name, args } if name == "ID" => {
                own = text_of(args).is_some_and(|u| u.eq_ignore_ascii_case(issuer))
            }
            Operand::Word { text, .. } if text.eq_ignore_ascii_case("TRUST") => {}
            _ => return false,
        }
    }
    listing && own
}

/// The mapping functions: SPECIAL, or listing one's own mappings.
fn may_map(state: &crate::state::State, issuer: &Issuer, ops: &[Operand]) -> bool {
    let Issuer::User(id) = issuer else {
        return true;
    };
    let id = id.to_ascii_uppercase();
    match state.users.get(&id).filter(|u| !u.revoked) {
        Some(u) => u.special || lists_own(ops, &id),
        None => false,
    }
}

impl Exec<'_> {
    pub(super) fn racdcert(&mut self, ops: &[Operand]) -> Result<(), CommandError> {
        // The certificate and ring functions have their own executor
        // and authority rules; the mapping functions stay here.
        let function = ops.iter().find_map(|op| {
            match op {
                Operand::Word {
                    text,
                    quoted: false,
                } => Some(text.to_ascii_uppercase()),
                Operand::Keyword { name, .. } => Some(name.clone()),
                _ => None,
            }
            .filter(|f| super::key_rings::FUNCTIONS.contains(&f.as_str()))
        });
        if function.is_some() {
            return self.racdcert_rings(ops);
        }
        if !may_map(self.state, self.env.issuer, ops) {
            let id = match self.env.issuer {
                Issuer::User(u) => u.to_ascii_uppercase(),
                Issuer::Operator => String::new(),
            };
            return Err(error(
                CommandErrorKind::NotAuthorized,
                format!("ICH00007I {id} NOT AUTHORIZED TO ISSUE RACDCERT: SPECIAL IS REQUIRED"),
            ));
        }
        let issuer = self.env.issuer;
        let mut id = None;
        let mut action = None::<&str>;
        let (mut sdn, mut idn, mut label, mut add, mut del) = (None, None, None, None, None);
        for op in ops {
            match op {
                Operand::Word { text, .. } => match text.to_ascii_uppercase().as_str() {
                    "MAP" => action = Some("MAP"),
                    "LISTMAP" => action = Some("LISTMAP"),
                    "LIST" => action = Some("LIST"),
                    "TRUST" => {}
                    other => {
                        return Err(error(
                            CommandErrorKind::Syntax,
                            format!("IKJ56712I INVALID KEYWORD, {other}"),
                        ))
                    }
                },
                Operand::Keyword { name, args } => match name.as_str() {
                    "ID" => id = text_of(args),
                    "SDNFILTER" => sdn = text_of(args),
                    "IDNFILTER" => idn = text_of(args),
                    "WITHLABEL" => label = text_of(args),
                    "ADD" => {
                        action = Some("ADD");
                        add = text_of(args);
                    }
                    "DELMAP" => {
                        action = Some("DELMAP");
                        del = label_of(args);
                    }
                    "DELETE" => {
                        action = Some("DELETE");
                        del = label_of(args);
                    }
                    "LISTMAP" => action = Some("LISTMAP"),
                    other => {
                        return Err(error(
                            CommandErrorKind::Syntax,
                            format!("IKJ56712I INVALID KEYWORD, {other}"),
                        ))
                    }
                },
                Operand::List(_) => {
                    return Err(error(CommandErrorKind::Syntax, "IKJ56712I INVALID OPERAND"))
                }
            }
        }
        let id = match id {
            Some(u) => Some(
                normalize_id(&u)
                    .map_err(|e| error(CommandErrorKind::Invalid, format!("IRRD102I {e}")))?,
            ),
            None => match issuer {
                Issuer::User(u) => Some(u.to_ascii_uppercase()),
                Issuer::Operator => None,
            },
        };
        let action = action.ok_or_else(|| {
            error(
                CommandErrorKind::Syntax,
                "IKJ56701I MISSING FUNCTION: MAP, ADD, LISTMAP, LIST, DELMAP OR DELETE",
            )
        })?;
        // Parse inputs before the transaction: bad input writes nothing.
        let filters = if action == "MAP" {
            let s = sdn.as_deref().map(parse_filter).transpose();
            let i = idn.as_deref().map(parse_filter).transpose();
            let (s, i) = match (s, i) {
                (Ok(s), Ok(i)) => (s, i),
                (Err(e), _) | (_, Err(e)) => {
                    return Err(error(CommandErrorKind::Invalid, format!("IRRD112I {e}")))
                }
            };
            if s.is_none() && i.is_none() {
                return Err(error(
                    CommandErrorKind::Syntax,
                    "IRRD113I MAP NEEDS SDNFILTER OR IDNFILTER",
                ));
            }
            Some((
                s.unwrap_or_default().join("."),
                i.unwrap_or_default().join("."),
            ))
        } else {
            None
        };
        let cert =
            if action == "ADD" {
                let path = add.ok_or_else(|| {
                    error(CommandErrorKind::Syntax, "IKJ56701I MISSING ADD FILE NAME")
                })?;
                // Read under the ESM's lock: only a regular file of a
                // certificate's size, so a FIFO or a device cannot stall
                // the logons that wait for the lock.
                let regular = std::fs::metadata(&path)
                    .map(|m| m.is_file() && m.len() <= 1024 * 1024)
                    .unwrap_or(true);
                if !regular {
                    return Err(error(
                        CommandErrorKind::Invalid,
                        format!(
                        "IRRD109I {path} IS NOT A CERTIFICATE FILE (A REGULAR FILE UP TO 1 MIB)"
                    ),
                    ));
                }
                let bytes = std::fs::read(&path).map_err(|e| {
                    error(
                        CommandErrorKind::NotFound,
                        format!("IRRD109I CANNOT READ {path}: {e}"),
                    )
                })?;
                Some(CertNames::from_pem_or_der(&bytes).map_err(|e| {
                    error(CommandErrorKind::Invalid, format!("IRRD110I {path}: {e}"))
                })?)
            } else {
                None
            };
        let state = self.state;
        let records = &state.records;
        {
            let mut lines = Vec::new();
            if let Some(u) = &id {
                if !state.users.contains_key(u) {
                    return Err(error(
                        CommandErrorKind::NotFound,
                        format!("IRRD103I USER({u}) NOT DEFINED TO RACF"),
                    ));
                }
            }
            let need_id = || {
                id.clone()
                    .ok_or_else(|| error(CommandErrorKind::Syntax, "IKJ56701I MISSING ID(userid)"))
            };
            let need_label = |l: &Option<String>| {
                l.clone()
                    .filter(|l| !l.trim().is_empty() && l.len() <= 32)
                    .ok_or_else(|| {
                        error(
                            CommandErrorKind::Syntax,
                            "IKJ56701I MISSING OR INVALID LABEL (1-32 CHARACTERS)",
                        )
                    })
            };
            let mut ops = Vec::new();
            match action {
                "MAP" => {
                    let user = need_id()?;
                    // Without WITHLABEL, RACF names the map LABELnnnnnnnn.
                    let label = match &label {
                        Some(_) => need_label(&label)?,
                        None => (1..)
                            .map(|n| format!("LABEL{n:08}"))
                            .find(|l| records.get(MAP_KIND, l).is_none())
                            .unwrap_or_default(),
                    };
                    let (s, i) = filters.clone().unwrap_or_default();
                    if records.get(MAP_KIND, &label).is_some() {
                        return Err(error(
                            CommandErrorKind::Duplicate,
                            format!("IRRD107I LABEL '{label}' IS ALREADY IN USE"),
                        ));
                    }
                    if records
                        .iter(MAP_KIND)
                        .filter_map(|(_, v)| decode_map(v))
                        .any(|m| m.sdn == s && m.idn == i)
                    {
                        return Err(error(
                            CommandErrorKind::Duplicate,
                            "IRRD108I A MAPPING WITH THESE FILTERS ALREADY EXISTS",
                        ));
                    }
                    ops.push(Change::put_record(
                        MAP_KIND,
                        &label,
                        encode_map(&user, &s, &i),
                    ));
                }
                "ADD" => {
                    let user = need_id()?;
                    let label = need_label(&label)?;
                    let Some(c) = &cert else {
                        return Err(error(CommandErrorKind::Syntax, "IKJ56701I MISSING ADD"));
                    };
                    let key = format!("{}|{}", c.issuer.join("."), c.serial);
                    if records.get(REG_KIND, &key).is_some() {
                        return Err(error(
                            CommandErrorKind::Duplicate,
                            "IRRD111I THE CERTIFICATE IS ALREADY DEFINED",
                        ));
                    }
                    if records
                        .iter(REG_KIND)
                        .any(|(_, v)| v.split('\t').nth(1) == Some(label.as_str()))
                    {
                        return Err(error(
                            CommandErrorKind::Duplicate,
                            format!("IRRD107I LABEL '{label}' IS ALREADY IN USE"),
                        ));
                    }
                    ops.push(Change::put_record(
                        REG_KIND,
                        &key,
                        format!("{user}\t{label}\t{}", c.subject.join(".")),
                    ));
                    lines.push(format!("Certificate '{label}' registered to {user}"));
                }
                "DELMAP" => {
                    let label = need_label(&del)?;
                    match records.get(MAP_KIND, &label).and_then(decode_map) {
                        Some(m) if id.as_ref().is_none_or(|u| *u == m.user) => {
                            ops.push(Change::delete_record(MAP_KIND, &label))
                        }
                        _ => {
                            return Err(error(
                                CommandErrorKind::NotFound,
                                format!("IRRD104I MAPPING '{label}' NOT FOUND"),
                            ))
                        }
                    }
                }
                "DELETE" => {
                    let label = need_label(&del)?;
                    let found = records.iter(REG_KIND).find(|(_, v)| {
                        let mut p = v.split('\t');
                        let user = p.next();
                        p.next() == Some(label.as_str())
                            && id.as_deref().is_none_or(|u| Some(u) == user)
                    });
                    match found {
                        Some((key, _)) => ops.push(Change::delete_record(REG_KIND, key)),
                        None => {
                            return Err(error(
                                CommandErrorKind::NotFound,
                                format!("IRRD104I CERTIFICATE '{label}' NOT FOUND"),
                            ))
                        }
                    }
                }
                "LISTMAP" => {
                    let mut maps: Vec<(&str, MapEntry)> = records
                        .iter(MAP_KIND)
                        .filter_map(|(l, v)| Some((l, decode_map(v)?)))
                        .filter(|(_, m)| id.as_ref().is_none_or(|u| *u == m.user))
                        .collect();
                    maps.sort_by(|a, b| (&a.1.user, a.0).cmp(&(&b.1.user, b.0)));
                    for (l, m) in maps {
                        lines.push(format!("Mapping information for user {}:", m.user));
                        lines.push(format!("  Label: {l}"));
                        lines.push("  Status: TRUST".into());
                        lines.push(format!("  Subject's DN filter: {}", m.sdn));
                        lines.push(format!("  Issuer's DN filter: {}", m.idn));
                    }
                    if lines.is_empty() {
                        lines.push("No mapping information was found.".into());
                    }
                }
                _ => {
                    let mut certs: Vec<(String, String, String, String)> = records
                        .iter(REG_KIND)
                        .filter_map(|(k, v)| {
                            let mut p = v.split('\t');
                            let (user, label, subject) = (p.next()?, p.next()?, p.next()?);
                            let (issuer, serial) = k.rsplit_once('|')?;
                            Some((
                                user.into(),
                                label.into(),
                                subject.to_string(),
                                format!("{issuer} serial {serial}"),
                            ))
                        })
                        .filter(|c| id.as_ref().is_none_or(|u| *u == c.0))
                        .collect();
                    certs.sort();
                    for (user, label, subject, iss) in certs {
                        lines.push(format!("Digital certificate information for user {user}:"));
                        lines.push(format!("  Label: {label}"));
                        lines.push(format!("  Subject's Name: {subject}"));
                        lines.push(format!("  Issuer's Name: {iss}"));
                    }
                    if lines.is_empty() {
                        lines.push("No certificate information was found.".into());
                    }
                }
            }
            self.out.changes.extend(ops);
            self.out.lines.extend(lines);
            Ok(())
        }
    }
}
