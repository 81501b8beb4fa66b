//! Groups and connections: ADDGROUP, ALTGROUP, DELGROUP, LISTGRP, CONNECT,
//! REMOVE.

use super::context::*;
use super::exec::{Definition, Exec};
use super::operands::*;
use crate::model::*;
use crate::state::Change;
use crate::syntax::{CommandOperands, Operand};

impl Exec<'_> {
    pub(super) fn addgroup(&mut self, p: &CommandOperands) -> Result<(), CommandError> {
        self.define_group(p, Definition::New)
    }

    pub(super) fn altgroup(&mut self, p: &CommandOperands) -> Result<(), CommandError> {
        self.define_group(p, Definition::Alter)
    }

    fn define_group(
        &mut self,
        p: &CommandOperands,
        definition: Definition,
    ) -> Result<(), CommandError> {
        let altering = definition == Definition::Alter;
        let groups = ids(p.positionals.first(), "GROUP NAME")?;
        let sup = id_value(p, "SUPGROUP")?;
        if let Some(s) = &sup {
            if !self.state.groups.contains_key(s) {
                return Err(not_found(format!(
                    "ICH00006I SUPGROUP {s} IS NOT DEFINED TO RACF"
                )));
            }
        }
        for id in groups {
            if !altering {
                crate::model::normalize_group(&id)
                    .map_err(|e| invalid(format!("IKJ56702I INVALID GROUP NAME, {e}")))?;
            }
            let group = match (self.state.groups.get(&id), altering) {
                (Some(_), false) => {
                    return Err(duplicate(format!(
                        "ICH02004I GROUP {id} IS ALREADY DEFINED TO RACF"
                    )))
                }
                (None, true) => {
                    return Err(not_found(format!(
                        "ICH22001I GROUP {id} NOT DEFINED TO RACF"
                    )))
                }
                (None, false) => {
                    if self.state.users.contains_key(&id) {
                        return Err(duplicate(format!(
                            "ICH02005I {id} IS ALREADY DEFINED TO RACF AS A USER"
                        )));
                    }
                    Group {
                        id: id.clone(),
                        superior: Some(sup.clone().unwrap_or_else(|| "SYS1".into())),
                        owner: self.owner_value(p)?,
                        created_ms: self.env.now_ms,
                    }
                }
                (Some(g), true) => {
                    let mut g = g.clone();
                    if sup.is_some() {
                        if sup.as_deref() == Some(id.as_str()) {
                            return Err(invalid(format!(
                                "ICH22005I GROUP {id} CANNOT BE ITS OWN SUPERIOR"
                            )));
                        }
                        g.superior = sup.clone();
                    }
                    if p.has("OWNER") {
                        g.owner = self.owner_value(p)?;
                    }
                    g
                }
            };
            self.out.changes.push(Change::PutGroup(group));
        }
        Ok(())
    }

    pub(super) fn delgroup(&mut self, p: &CommandOperands) -> Result<(), CommandError> {
        for id in ids(p.positionals.first(), "GROUP NAME")? {
            if !self.state.groups.contains_key(&id) {
                return Err(not_found(format!(
                    "ICH03003I GROUP {id} NOT DEFINED TO RACF"
                )));
            }
            if id == "SYS1" {
                return Err(invalid("ICH03007I GROUP SYS1 CANNOT BE DELETED"));
            }
            if self.state.connects.values().any(|g| g.contains(&id)) {
                return Err(invalid(format!(
                    "ICH03008I GROUP {id} HAS USERS CONNECTED AND CANNOT BE DELETED"
                )));
            }
            if self
                .state
                .groups
                .values()
                .any(|g| g.superior.as_deref() == Some(id.as_str()))
            {
                return Err(invalid(format!(
                    "ICH03009I GROUP {id} HAS SUBGROUPS AND CANNOT BE DELETED"
                )));
            }
            self.out.changes.push(Change::DeleteGroup(id));
        }
        Ok(())
    }

    pub(super) fn listgrp(&mut self, p: &CommandOperands) -> Result<(), CommandError> {
        let targets: Vec<String> = match p.positionals.first() {
            Some(Operand::Word { text, .. }) if text == "*" => {
                self.state.groups.keys().cloned().collect()
            }
            Some(op) => ids(Some(op), "GROUP NAME")?,
            None => self.state.groups.keys().cloned().collect(),
        };
        for id in targets {
            let Some(g) = self.state.groups.get(&id) else {
                return Err(not_found(format!(
                    "ICH51003I NAME {id} NOT FOUND IN RACF DATA SET"
                )));
            };
            self.say(format!(
                "INFORMATION FOR GROUP {}\n    SUPERIOR GROUP={}  OWNER={}  CREATED={}",
                g.id,
                g.superior.as_deref().unwrap_or("NONE"),
                g.owner,
                date(g.created_ms)
            ));
            let subs: Vec<&str> = self
                .state
                .groups
                .values()
                .filter(|s| s.superior.as_deref() == Some(id.as_str()))
                .map(|s| s.id.as_str())
                .collect();
            self.say(format!(
                "    SUBGROUP(S)= {}",
                if subs.is_empty() {
                    "NONE".to_owned()
                } else {
                    subs.join(" ")
                }
            ));
            let members: Vec<&String> = self
                .state
                .connects
                .iter()
                .filter(|(_, gs)| gs.contains(&id))
                .map(|(u, _)| u)
                .collect();
            if members.is_empty() {
                self.say("    NO USERS");
            } else {
                self.say("    USER(S)=      ACCESS=");
                for m in members {
                    self.say(format!("      {m:<8}      USE"));
                }
            }
            self.say("");
        }
        Ok(())
    }

    pub(super) fn connect(&mut self, p: &CommandOperands) -> Result<(), CommandError> {
        self.change_membership(p, Membership::Connect)
    }

    pub(super) fn remove(&mut self, p: &CommandOperands) -> Result<(), CommandError> {
        self.change_membership(p, Membership::Remove)
    }

    fn change_membership(
        &mut self,
        p: &CommandOperands,
        membership: Membership,
    ) -> Result<(), CommandError> {
        let adding = membership == Membership::Connect;
        let users = ids(p.positionals.first(), "USERID")?;
        let Some(group) = id_value(p, "GROUP")? else {
            return Err(CommandError::new(
                CommandErrorKind::Syntax,
                "IKJ56701I MISSING GROUP NAME",
            ));
        };
        if !self.state.groups.contains_key(&group) {
            return Err(not_found(format!(
                "ICH02004I GROUP {group} NOT DEFINED TO RACF"
            )));
        }
        for id in users {
            let Some(u) = self.state.users.get(&id) else {
                return Err(not_found(format!(
                    "ICH02003I USER {id} NOT DEFINED TO RACF"
                )));
            };
            let connected = self
                .state
                .connects
                .get(&id)
                .is_some_and(|s| s.contains(&group));
            if adding {
                if connected {
                    return Err(duplicate(format!(
                        "ICH02006I USER {id} IS ALREADY CONNECTED TO GROUP {group}"
                    )));
                }
                self.out.changes.push(Change::Connect {
                    user: id,
                    group: group.clone(),
                });
            } else {
                if !connected {
                    return Err(not_found(format!(
                        "ICH03002I USER {id} IS NOT CONNECTED TO GROUP {group}"
                    )));
                }
                if u.default_group == group {
                    return Err(invalid(format!(
                        "ICH03004I GROUP {group} IS THE DEFAULT GROUP OF {id}; CHANGE DFLTGRP FIRST"
                    )));
                }
                self.out.changes.push(Change::Disconnect {
                    user: id,
                    group: group.clone(),
                });
            }
        }
        Ok(())
    }
}

/// Whether CONNECT or REMOVE runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Membership {
    Connect,
    Remove,
}
