//! The executor's working set: the state a command reads, its environment,
//! and the outcome it builds.

use super::context::{not_found, CommandError, Effect, Env};
use super::operands::id_value;
use crate::state::State;
use crate::syntax::CommandOperands;

pub(super) struct Exec<'a> {
    pub(super) state: &'a State,
    pub(super) env: &'a Env<'a>,
    pub(super) out: Effect,
}

impl Exec<'_> {
    pub(super) fn say(&mut self, line: impl Into<String>) {
        self.out.lines.push(line.into());
    }

    pub(super) fn owner_value(&self, p: &CommandOperands) -> Result<String, CommandError> {
        match id_value(p, "OWNER")? {
            Some(o) => {
                if !self.state.users.contains_key(&o) && !self.state.groups.contains_key(&o) {
                    return Err(not_found(format!(
                        "ICH00006I OWNER {o} IS NOT DEFINED TO RACF"
                    )));
                }
                Ok(o)
            }
            None => Ok(self.env.owner()),
        }
    }
}

/// Whether a command defines something new (ADD..., RDEFINE) or alters
/// what exists (ALT..., RALTER): the same operands, different rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Definition {
    New,
    Alter,
}
