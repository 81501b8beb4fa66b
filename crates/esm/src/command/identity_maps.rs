//! Distributed identity filters: RACMAP (see [`crate::idmap`] for the
//! filters, the limits and the search order).
//!
//! ```text
//! RACMAP ID(u) MAP USERDIDFILTER(NAME('n')) REGISTRY(NAME('r')) [WITHLABEL('l')]
//! RACMAP ID(u) DELMAP[(LABEL('l'))]
//! RACMAP ID(u) LISTMAP[(LABEL('l'))]
//! RACMAP QUERY USERDIDFILTER(NAME('n')) REGISTRY(NAME('r'))
//! ```
//!
//! Without `ID`, the issuer's own id, as RACF defaults it. Messages: RACF's
//! IRRW204I where the spec names it; the other IRRW numbers and their
//! wording are zgate's (RACF's RACMAP texts are not in the spec).

use super::context::{duplicate, invalid, not_found, CommandError, CommandErrorKind, Issuer};
use super::exec::Exec;
use crate::idmap::{self, FilterError, IdidFilter, IdidFilters};
use crate::model::normalize_id;
use crate::syntax::Operand;

fn syntax(msg: impl Into<String>) -> CommandError {
    CommandError::new(CommandErrorKind::Syntax, msg)
}

fn bad_value(e: &FilterError) -> CommandError {
    // zgate's message: RACF's text for a refused RACMAP value is not known.
    invalid(format!("IRRW203I RACMAP NOT PROCESSED: {e}"))
}

/// The text of `KW(NAME('x'))`.
fn name_of(keyword: &str, args: &[Operand]) -> Result<String, CommandError> {
    match args {
        [Operand::Keyword { name, args }] if name == "NAME" => match args.as_slice() {
            [Operand::Word { text, .. }] => Ok(text.clone()),
            _ => Err(syntax(format!(
                "IKJ56702I INVALID {keyword}: WRITE {keyword}(NAME('value'))"
            ))),
        },
        _ => Err(syntax(format!(
            "IKJ56702I INVALID {keyword}: WRITE {keyword}(NAME('value'))"
        ))),
    }
}

/// The text of `LABEL('x')`, for DELMAP and LISTMAP.
fn label_of(keyword: &str, args: &[Operand]) -> Result<String, CommandError> {
    match args {
        [Operand::Keyword { name, args }] if name == "LABEL" => match args.as_slice() {
            [Operand::Word { text, .. }] => idmap::label(text).map_err(|e| bad_value(&e)),
            _ => Err(syntax(format!(
                "IKJ56702I INVALID {keyword}: WRITE {keyword}(LABEL('label'))"
            ))),
        },
        _ => Err(syntax(format!(
            "IKJ56702I INVALID {keyword}: WRITE {keyword}(LABEL('label'))"
        ))),
    }
}

fn one_text(keyword: &str, args: &[Operand]) -> Result<String, CommandError> {
    match args {
        [Operand::Word { text, .. }] => Ok(text.clone()),
        _ => Err(syntax(format!(
            "IKJ56702I INVALID {keyword}: EXACTLY ONE VALUE IS REQUIRED"
        ))),
    }
}

/// What the operands ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Function {
    Map,
    /// `None`: every filter of the user.
    DelMap(Option<String>),
    ListMap(Option<String>),
    Query,
}

#[derive(Default)]
struct Operands {
    id: Option<String>,
    function: Option<Function>,
    user_name: Option<String>,
    registry: Option<String>,
    label: Option<String>,
}

fn set_function(ops: &mut Operands, f: Function) -> Result<(), CommandError> {
    if ops.function.is_some() {
        return Err(syntax(
            "IKJ56710I ONLY ONE OF MAP, DELMAP, LISTMAP OR QUERY MAY BE SPECIFIED",
        ));
    }
    ops.function = Some(f);
    Ok(())
}

fn read(ops: &[Operand]) -> Result<Operands, CommandError> {
    let mut out = Operands::default();
    for op in ops {
        match op {
            Operand::Word {
                text,
                quoted: false,
            } => match text.to_ascii_uppercase().as_str() {
                "MAP" => set_function(&mut out, Function::Map)?,
                "DELMAP" => set_function(&mut out, Function::DelMap(None))?,
                "LISTMAP" => set_function(&mut out, Function::ListMap(None))?,
                "QUERY" => set_function(&mut out, Function::Query)?,
                other => return Err(syntax(format!("IKJ56712I INVALID KEYWORD, {other}"))),
            },
            Operand::Keyword { name, args } => match name.as_str() {
                "ID" => {
                    let id = one_text("ID", args)?;
                    out.id = Some(
                        normalize_id(&id)
                            .map_err(|e| invalid(format!("IKJ56702I INVALID ID, {e}")))?,
                    );
                }
                "USERDIDFILTER" => out.user_name = Some(name_of(name, args)?),
                "REGISTRY" => out.registry = Some(name_of(name, args)?),
                "WITHLABEL" => out.label = Some(one_text(name, args)?),
                "DELMAP" => {
                    let label = label_of(name, args)?;
                    set_function(&mut out, Function::DelMap(Some(label)))?
                }
                "LISTMAP" => {
                    let label = label_of(name, args)?;
                    set_function(&mut out, Function::ListMap(Some(label)))?
                }
                other => return Err(syntax(format!("IKJ56712I INVALID KEYWORD, {other}"))),
            },
            _ => return Err(syntax("IKJ56712I INVALID OPERAND")),
        }
    }
    Ok(out)
}

/// Whether a RACMAP command only lists (LISTMAP, QUERY): RACF does not
/// record listings. Read from the top-level operands, so a value that
/// happens to spell `LISTMAP` does not hide a MAP from the trail.
pub(super) fn lists_only(ops: &[Operand]) -> bool {
    read(ops).is_ok_and(|o| {
        matches!(
            o.function,
            Some(Function::ListMap(_)) | Some(Function::Query)
        )
    })
}

/// RACF's LISTMAP layout, with the `>` `<` markers that show where a value
/// begins and ends.
fn listing(f: &IdidFilter) -> Vec<String> {
    vec![
        format!("Mapping information for user {}:", f.user),
        format!("  Label: {}", f.label),
        "  Distributed Identity User Name Filter:".into(),
        format!("    >{}<", f.user_name),
        "  Registry Name:".into(),
        format!("    >{}<", f.registry),
    ]
}

impl Exec<'_> {
    pub(super) fn racmap(&mut self, ops: &[Operand]) -> Result<(), CommandError> {
        let ops = read(ops)?;
        let function = ops
            .function
            .clone()
            .ok_or_else(|| syntax("IKJ56701I MISSING FUNCTION: MAP, DELMAP, LISTMAP OR QUERY"))?;
        if function == Function::Query {
            return self.racmap_query(&ops);
        }
        let user = match (&ops.id, self.env.issuer) {
            (Some(u), _) => u.clone(),
            (None, Issuer::User(u)) => u.to_ascii_uppercase(),
            (None, Issuer::Operator) => return Err(syntax("IKJ56701I MISSING ID(userid)")),
        };
        if function != Function::Map
            && (ops.user_name.is_some() || ops.registry.is_some() || ops.label.is_some())
        {
            return Err(syntax(
                "IKJ56712I USERDIDFILTER, REGISTRY AND WITHLABEL GO WITH MAP ONLY",
            ));
        }
        if !self.state.users.contains_key(&user) {
            return Err(not_found(format!(
                "IRRW201I USER {user} IS NOT DEFINED TO RACF"
            )));
        }
        let mut mine: Vec<IdidFilter> = idmap::filters(&self.state.records)
            .filter(|f| f.user == user)
            .collect();
        mine.sort_by(|a, b| a.label.cmp(&b.label));
        match function {
            Function::Map => self.racmap_map(&ops, user, &mine),
            Function::DelMap(label) => {
                let gone: Vec<&IdidFilter> = mine
                    .iter()
                    .filter(|f| label.as_ref().is_none_or(|l| *l == f.label))
                    .collect();
                if gone.is_empty() {
                    return Err(not_found(
                        "IRRW204I No mapping information was found for the specified criteria.",
                    ));
                }
                for f in gone {
                    self.out.changes.push(crate::state::Change::delete_record(
                        idmap::MAP_KIND,
                        &idmap::key(&f.user, &f.label),
                    ));
                }
                Ok(())
            }
            Function::ListMap(label) => {
                let shown: Vec<&IdidFilter> = mine
                    .iter()
                    .filter(|f| label.as_ref().is_none_or(|l| *l == f.label))
                    .collect();
                if shown.is_empty() {
                    return Err(not_found(
                        "IRRW204I No mapping information was found for the specified criteria.",
                    ));
                }
                for (i, f) in shown.into_iter().enumerate() {
                    if i > 0 {
                        self.say("");
                    }
                    for line in listing(f) {
                        self.say(line);
                    }
                }
                Ok(())
            }
            Function::Query => Ok(()),
        }
    }

    fn racmap_map(
        &mut self,
        ops: &Operands,
        user: String,
        mine: &[IdidFilter],
    ) -> Result<(), CommandError> {
        let user_name = ops
            .user_name
            .as_deref()
            .ok_or_else(|| syntax("IKJ56701I MISSING USERDIDFILTER(NAME('name'))"))?;
        let registry = ops
            .registry
            .as_deref()
            .ok_or_else(|| syntax("IKJ56701I MISSING REGISTRY(NAME('name'))"))?;
        let user_name = idmap::user_name_filter(user_name).map_err(|e| bad_value(&e))?;
        let registry = idmap::registry_filter(registry).map_err(|e| bad_value(&e))?;
        // Without WITHLABEL, RACF names the filter LABELnnnnnnnn: the first
        // number free among the user's labels.
        let label = match &ops.label {
            Some(l) => idmap::label(l).map_err(|e| bad_value(&e))?,
            None => (1u32..)
                .map(|n| format!("LABEL{n:08}"))
                .find(|l| mine.iter().all(|f| f.label != *l))
                .unwrap_or_default(),
        };
        if mine.iter().any(|f| f.label == label) {
            return Err(duplicate(format!(
                "IRRW202I LABEL '{label}' IS ALREADY IN USE FOR USER {user}"
            )));
        }
        // One filter maps to one user: the same filter for another user
        // would make the answer depend on which was found first.
        if let Some(other) = idmap::filters(&self.state.records)
            .find(|f| f.user_name == user_name && f.registry == registry)
        {
            return Err(duplicate(format!(
                "IRRW205I THE FILTER ALREADY EXISTS, WITH LABEL '{}' FOR USER {}",
                other.label, other.user
            )));
        }
        let filter = IdidFilter {
            user,
            label,
            user_name,
            registry,
        };
        self.out.changes.push(idmap::put(&filter));
        // zgate's message, so the generated label is known.
        self.say(format!(
            "IRRW200I Distributed identity filter '{}' defined for user {}.",
            filter.label, filter.user
        ));
        Ok(())
    }

    /// `QUERY` answers what a lookup answers now: the in-storage copy and
    /// the class's state, the search order of [`crate::idmap`], and the
    /// user's standing. Decision: the syntax is the spec's (marked there as
    /// unverified) `RACMAP QUERY USERDIDFILTER(NAME('n')) REGISTRY(NAME('r'))`,
    /// without `ID`; the answer is the matching filter in LISTMAP's layout,
    /// or a line with R_usermap's codes. Either way the command succeeds:
    /// it is a listing, and changes nothing.
    fn racmap_query(&mut self, ops: &Operands) -> Result<(), CommandError> {
        if ops.id.is_some() || ops.label.is_some() {
            return Err(syntax(
                "IKJ56712I QUERY TAKES USERDIDFILTER AND REGISTRY ONLY",
            ));
        }
        let (Some(user_name), Some(registry)) = (&ops.user_name, &ops.registry) else {
            return Err(syntax(
                "IKJ56701I MISSING USERDIDFILTER(NAME('name')) OR REGISTRY(NAME('name'))",
            ));
        };
        let filters = IdidFilters::build(self.state);
        let answer =
            filters
                .find(user_name, registry)
                .and_then(|f| match self.state.users.get(&f.user) {
                    None => Err(idmap::UsermapError::UndefinedUser {
                        user: f.user.clone(),
                    }),
                    Some(u) if u.revoked => Err(idmap::UsermapError::Revoked {
                        user: f.user.clone(),
                    }),
                    Some(_) => Ok(f),
                });
        match answer {
            Ok(f) => {
                for line in listing(f) {
                    self.say(line);
                }
            }
            // zgate's message.
            Err(e) => self.say(format!("IRRW206I No RACF user ID is mapped: {e}.")),
        }
        Ok(())
    }
}
