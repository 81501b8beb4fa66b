//! Reading operand values: one value of a keyword, ids, levels, classes,
//! `WHEN(...)` conditions, dates.

use super::context::{invalid, CommandError, CommandErrorKind};
use crate::model::{normalize_class, normalize_id, AccessLevel, Condition, CONDITION_KINDS};
use crate::syntax::{texts, CommandOperands, Operand};

/// The single text value of a keyword, e.g. `OWNER(x)`.
pub(super) fn one_value(
    p: &CommandOperands,
    kw: &str,
) -> Result<Option<(String, bool)>, CommandError> {
    let Some(args) = p.args(kw) else {
        return Ok(None);
    };
    let mut t = texts(args);
    if t.len() != 1 {
        return Err(CommandError::new(
            CommandErrorKind::Syntax,
            format!("IKJ56702I INVALID {kw}: EXACTLY ONE VALUE IS REQUIRED"),
        ));
    }
    Ok(t.pop())
}

pub(super) fn id_value(p: &CommandOperands, kw: &str) -> Result<Option<String>, CommandError> {
    match one_value(p, kw)? {
        Some((v, _)) => normalize_id(&v)
            .map(Some)
            .map_err(|e| invalid(format!("IKJ56702I INVALID {kw}, {e}"))),
        None => Ok(None),
    }
}

pub(super) fn ids(op: Option<&Operand>, what: &str) -> Result<Vec<String>, CommandError> {
    let Some(op) = op else {
        return Err(CommandError::new(
            CommandErrorKind::Syntax,
            format!("IKJ56701I MISSING {what}"),
        ));
    };
    let mut out: Vec<String> = Vec::new();
    for (t, _) in texts(std::slice::from_ref(op)) {
        let id = normalize_id(&t).map_err(|e| invalid(format!("IKJ56702I INVALID {what}, {e}")))?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

pub(super) fn level_value(
    p: &CommandOperands,
    kw: &str,
) -> Result<Option<AccessLevel>, CommandError> {
    match one_value(p, kw)? {
        Some((v, _)) => v
            .parse()
            .map(Some)
            .map_err(|e| invalid(format!("IKJ56702I INVALID {kw}, {e}"))),
        None => Ok(None),
    }
}

pub(super) fn class_value(raw: &str) -> Result<String, CommandError> {
    normalize_class(raw).map_err(|e| invalid(format!("IKJ56702I INVALID CLASS NAME, {e}")))
}

pub(super) fn classes_of(p: &CommandOperands, kw: &str) -> Result<Vec<String>, CommandError> {
    let mut out = Vec::new();
    for (t, _) in texts(p.args(kw).unwrap_or(&[])) {
        if t == "*" {
            out.push("*".to_owned());
        } else {
            out.push(class_value(&t)?);
        }
    }
    if out.is_empty() {
        return Err(CommandError::new(
            CommandErrorKind::Syntax,
            format!("IKJ56701I MISSING CLASS NAME FOR {kw}"),
        ));
    }
    Ok(out)
}

pub(super) fn date(ms: i64) -> String {
    zgate_base::iso_date(ms.div_euclid(86_400_000))
}

/// An operand written back as text (for re-parsing a nested value).
pub(super) fn operand_text(op: &Operand) -> String {
    match op {
        Operand::Word { text, .. } => text.clone(),
        Operand::Keyword { name, args } => {
            let inner: Vec<String> = args.iter().map(operand_text).collect();
            format!("{name}({})", inner.join(" "))
        }
        Operand::List(items) => {
            let inner: Vec<String> = items.iter().map(operand_text).collect();
            format!("({})", inner.join(" "))
        }
    }
}

pub(super) fn parse_when(args: &[Operand]) -> Result<Condition, CommandError> {
    match args {
        [Operand::Keyword { name, args }] => {
            let kind = CONDITION_KINDS
                .iter()
                .find(|k| **k == name.as_str() || k.starts_with(name.as_str()) && name.len() >= 4)
                .ok_or_else(|| {
                    invalid(format!(
                        "IKJ56712I INVALID KEYWORD, WHEN({name}(...)): USE {}",
                        CONDITION_KINDS.join(", ")
                    ))
                })?;
            let vals = texts(args);
            let [(value, _)] = vals.as_slice() else {
                return Err(invalid(format!(
                    "IKJ56702I INVALID WHEN({kind}): ONE VALUE IS REQUIRED"
                )));
            };
            if value.is_empty() || value.len() > 246 || value.contains(char::is_whitespace) {
                return Err(invalid(format!("IKJ56702I INVALID WHEN({kind}) VALUE")));
            }
            Ok(Condition {
                kind: (*kind).to_owned(),
                value: value.to_ascii_uppercase(),
            })
        }
        _ => Err(invalid(
            "IKJ56702I INVALID WHEN: WRITE WHEN(KIND(value)), e.g. WHEN(TERMINAL(T1))",
        )),
    }
}
