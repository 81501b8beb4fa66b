//! The RACF command language (spec section 7): one table of commands
//! ([`COMMANDS`]: name, abbreviations, operands, authority rule, executor),
//! and one pipeline ([`execute`]) that every command goes through, alone, in
//! a batch or in an import.
//!
//! Execution is a pure function of the current [`State`]: it validates
//! everything first and only returns [`Change`]s; the caller commits them in
//! one store transaction and then applies them in memory. A command that
//! fails therefore changes nothing.

mod certificates;
mod context;
mod exec;
mod groups;
mod identity_maps;
mod key_rings;
pub mod masking;
mod operands;
mod resources;
mod setropts;
mod users;

pub use context::{
    CommandError, CommandErrorKind, CommandOutput, Effect, Env, FileExport, Issuer, Refresh,
};

use crate::state::State;
use crate::syntax::{kw, parse_operands, tokenize, CommandOperands, KeywordSpec, Operand};

use context::syntax;
use exec::Exec;

const USER_KWS: &[KeywordSpec] = &[
    kw!("NAME", true),
    kw!("OWNER", true),
    kw!("DFLTGRP", Some(true), ["DFLTGROUP"]),
    kw!("PASSWORD", Some(true), ["PW", "PASS"]),
    kw!("PHRASE", Some(true), ["PHR"]),
    kw!("NOPASSWORD", None, ["NOPW"]),
    kw!("NOPHRASE"),
    kw!("SPECIAL", None, ["SPEC"]),
    kw!("NOSPECIAL", None, ["NOSPEC"]),
    kw!("AUDITOR", None, ["AUD"]),
    kw!("NOAUDITOR", None, ["NOAUD"]),
    kw!("OPERATIONS", None, ["OPER"]),
    kw!("NOOPERATIONS", None, ["NOOPER"]),
    kw!("RESTRICTED", None, ["REST"]),
    kw!("NORESTRICTED", None, ["NOREST"]),
    kw!("REVOKE", None, ["REV"]),
    kw!("RESUME", None, ["RES"]),
    kw!("EXPIRED", None, ["EXP"]),
    kw!("NOEXPIRED", None, ["NOEXP"]),
    kw!("MFA", true),
    kw!("DELFACTOR", true),
    kw!("UAUDIT", None, ["UAUD"]),
    kw!("NOUAUDIT", None, ["NOUAUD"]),
];
const NO_KWS: &[KeywordSpec] = &[];
const LIST_KWS: &[KeywordSpec] = &[kw!("ALL")];
const GROUP_KWS: &[KeywordSpec] = &[kw!("SUPGROUP", Some(true), ["SUPGRP"]), kw!("OWNER", true)];
const CONNECT_KWS: &[KeywordSpec] = &[kw!("GROUP", true), kw!("OWNER", true)];
const REMOVE_KWS: &[KeywordSpec] = &[kw!("GROUP", true), kw!("OWNER", true)];
const RDEF_KWS: &[KeywordSpec] = &[
    kw!("UACC", true),
    kw!("OWNER", true),
    kw!("WARNING", None, ["WARN"]),
    kw!("NOWARNING", None, ["NOWARN"]),
    kw!("APPLDATA", Some(true), ["APPL"]),
    kw!("DATA", true),
    kw!("ADDMEM", Some(true), ["ADDMEMBER"]),
    kw!("DELMEM", Some(true), ["DELMEMBER"]),
    kw!("SSIGNON", true),
    kw!("GENERIC", None, ["GEN"]),
    kw!("AUDIT", true),
    kw!("GLOBALAUDIT", Some(true), ["GLOBALAUD"]),
];
const RLIST_KWS: &[KeywordSpec] = &[kw!("AUTHUSER"), kw!("ALL"), kw!("GENERIC", None, ["GEN"])];
const PERMIT_KWS: &[KeywordSpec] = &[
    kw!("CLASS", true),
    kw!("ID", true),
    kw!("ACCESS", Some(true), ["ACC", "AC"]),
    kw!("DELETE", None, ["DEL"]),
    kw!("RESET", false),
    kw!("WHEN", true),
    kw!("GENERIC", None, ["GEN"]),
    kw!("FROM", true),
    kw!("FCLASS", true),
];
const SETR_KWS: &[KeywordSpec] = &[
    kw!("CLASSACT", true),
    kw!("NOCLASSACT", true),
    kw!("RACLIST", true),
    kw!("NORACLIST", true),
    kw!("REFRESH"),
    kw!("GENERIC", true),
    kw!("NOGENERIC", true),
    kw!("GRPLIST"),
    kw!("NOGRPLIST"),
    kw!("GLOBAL", true),
    kw!("NOGLOBAL", true),
    kw!("PASSWORD", true),
    kw!("LIST"),
    kw!("AUDIT", true),
    kw!("NOAUDIT", true),
    kw!("LOGOPTIONS", true),
    kw!("SAUDIT"),
    kw!("NOSAUDIT"),
    kw!("CMDVIOL"),
    kw!("NOCMDVIOL"),
    kw!("OPERAUDIT"),
    kw!("NOOPERAUDIT"),
];

/// Keywords only the AUDITOR attribute allows (RACF System Programmer's
/// Guide, "Operands requiring the AUDITOR attribute"). A SPECIAL user
/// without AUDITOR who gives them has them ignored (command qualifier 2);
/// an AUDITOR without SPECIAL may give them alone.
const AUDITOR_KEYWORDS: &[(&str, &[&str])] = &[
    ("ALTUSER", &["UAUDIT", "NOUAUDIT"]),
    ("RALTER", &["GLOBALAUDIT"]),
    (
        "SETROPTS",
        &[
            "AUDIT",
            "NOAUDIT",
            "LOGOPTIONS",
            "SAUDIT",
            "NOSAUDIT",
            "CMDVIOL",
            "NOCMDVIOL",
            "OPERAUDIT",
            "NOOPERAUDIT",
        ],
    ),
];

/// Keywords an AUDITOR may give without SPECIAL besides those: listing.
const AUDITOR_LISTING: &[(&str, &[&str])] = &[("SETROPTS", &["LIST"])];

/// Commands that only list: an AUDITOR may issue them for anything.
const LISTINGS: &[&str] = &["LISTUSER", "LISTGRP", "RLIST", "SEARCH"];
const SEARCH_KWS: &[KeywordSpec] = &[kw!("CLASS", true), kw!("MASK", true), kw!("NOMASK")];
/// Who may issue a command. zgate models RACF's system-wide SPECIAL
/// attribute only (no group-SPECIAL, no CLAUTH, no profile ownership); the
/// rows below name the exceptions RACF documents for each command in the
/// Security Server RACF Command Language Reference, "Authorization
/// required". A revoked user has no authority at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Authority {
    /// SPECIAL.
    Special,
    /// SPECIAL, or listing one's own user profile ("LISTUSER: you can
    /// always list your own user profile").
    SpecialOrOwnUser,
    /// Decided by the executor from the operands (RACDCERT: SPECIAL for
    /// the mapping functions but listing one's own, FACILITY
    /// `IRR.DIGTCERT.<function>` for the certificate and ring functions).
    /// A revoked or undefined user has none.
    ByExecutor,
}

type KeywordExecutor = fn(&mut Exec<'_>, &CommandOperands) -> Result<(), CommandError>;
type OperandExecutor = fn(&mut Exec<'_>, &[Operand]) -> Result<(), CommandError>;

/// How a command's operands are read and who runs it.
enum Run {
    /// Up to `positionals` leading operands, then the `keywords`.
    Keywords {
        positionals: usize,
        keywords: &'static [KeywordSpec],
        executor: KeywordExecutor,
    },
    /// Operands read by the executor itself (RACDCERT's and RACMAP's
    /// functions are words and keywords in any order).
    Operands(OperandExecutor),
}

/// One row of the command table.
struct Command {
    name: &'static str,
    aliases: &'static [&'static str],
    authority: Authority,
    run: Run,
}

const fn keywords(
    name: &'static str,
    aliases: &'static [&'static str],
    authority: Authority,
    positionals: usize,
    keywords: &'static [KeywordSpec],
    executor: KeywordExecutor,
) -> Command {
    Command {
        name,
        aliases,
        authority,
        run: Run::Keywords {
            positionals,
            keywords,
            executor,
        },
    }
}

use Authority::{ByExecutor, Special, SpecialOrOwnUser};

/// Every command zgate knows.
const COMMANDS: &[Command] = &[
    keywords("ADDUSER", &["AU"], Special, 1, USER_KWS, |x, p| {
        x.adduser(p)
    }),
    keywords("ALTUSER", &["ALU"], Special, 1, USER_KWS, |x, p| {
        x.altuser(p)
    }),
    keywords("DELUSER", &["DU"], Special, 1, NO_KWS, |x, p| x.deluser(p)),
    keywords(
        "LISTUSER",
        &["LU"],
        SpecialOrOwnUser,
        1,
        LIST_KWS,
        |x, p| x.listuser(p),
    ),
    keywords("ADDGROUP", &["AG"], Special, 1, GROUP_KWS, |x, p| {
        x.addgroup(p)
    }),
    keywords("ALTGROUP", &["ALG"], Special, 1, GROUP_KWS, |x, p| {
        x.altgroup(p)
    }),
    keywords("DELGROUP", &["DG"], Special, 1, NO_KWS, |x, p| {
        x.delgroup(p)
    }),
    keywords("LISTGRP", &["LG"], Special, 1, LIST_KWS, |x, p| {
        x.listgrp(p)
    }),
    keywords("CONNECT", &["CO"], Special, 1, CONNECT_KWS, |x, p| {
        x.connect(p)
    }),
    keywords("REMOVE", &["RE"], Special, 1, REMOVE_KWS, |x, p| {
        x.remove(p)
    }),
    keywords("RDEFINE", &["RDEF"], Special, 2, RDEF_KWS, |x, p| {
        x.rdefine(p)
    }),
    keywords("RALTER", &["RALT"], Special, 2, RDEF_KWS, |x, p| {
        x.ralter(p)
    }),
    keywords("RDELETE", &["RDEL"], Special, 2, NO_KWS, |x, p| {
        x.rdelete(p)
    }),
    keywords("RLIST", &["RL"], Special, 2, RLIST_KWS, |x, p| x.rlist(p)),
    keywords("PERMIT", &["PE"], Special, 1, PERMIT_KWS, |x, p| {
        x.permit(p)
    }),
    keywords("SETROPTS", &["SETR"], Special, 0, SETR_KWS, |x, p| {
        x.setropts(p)
    }),
    keywords("SEARCH", &["SR"], Special, 0, SEARCH_KWS, |x, p| {
        x.search(p)
    }),
    Command {
        name: "RACDCERT",
        aliases: &[],
        authority: ByExecutor,
        run: Run::Operands(|x, p| x.racdcert(p)),
    },
    Command {
        name: "RACMAP",
        aliases: &[],
        authority: Special,
        run: Run::Operands(|x, p| x.racmap(p)),
    },
];

fn find(written: &str) -> Option<&'static Command> {
    let w = written.to_ascii_uppercase();
    COMMANDS
        .iter()
        .find(|c| c.name == w || c.aliases.contains(&w.as_str()))
}

/// The canonical command name for a written one.
pub fn command_name(written: &str) -> Option<&'static str> {
    find(written).map(|c| c.name)
}

/// Executes a command against the state, returning changes and messages.
pub fn execute(state: &State, env: &Env<'_>, text: &str) -> Result<Effect, CommandError> {
    let ops = tokenize(text).map_err(syntax)?;
    let Some((
        Operand::Word {
            text: word,
            quoted: false,
        },
        rest,
    )) = ops.split_first()
    else {
        return Err(CommandError::new(
            CommandErrorKind::Syntax,
            "IKJ56621I INVALID COMMAND NAME SYNTAX",
        ));
    };
    let Some(command) = find(word) else {
        return Err(CommandError::new(
            CommandErrorKind::Syntax,
            format!("IKJ56500I COMMAND {} NOT FOUND", word.to_ascii_uppercase()),
        ));
    };
    let authority = authorize(state, env, command, rest)?;
    let mut x = Exec {
        state,
        env,
        out: Effect::default(),
    };
    match &command.run {
        Run::Keywords {
            positionals,
            keywords,
            executor,
        } => {
            let mut operands = parse_operands(rest, *positionals, keywords).map_err(syntax)?;
            authorize_keywords(env, command, authority, &mut operands, &mut x.out)?;
            executor(&mut x, &operands)?
        }
        Run::Operands(executor) => executor(&mut x, rest)?,
    }
    // One entry per printed line.
    let mut out = x.out;
    if out.lines.iter().any(|l| l.contains('\n')) {
        out.lines = out
            .lines
            .iter()
            .flat_map(|l| l.split('\n').map(str::to_owned))
            .collect();
    }
    Ok(out)
}

/// Whether a command only lists, which RACF does not record: RACMAP's
/// LISTMAP and QUERY, RACDCERT's LIST functions. Read from the tokens, so text inside a value decides
/// nothing.
pub fn lists_only(name: &str, text: &str) -> bool {
    let Ok(ops) = tokenize(text) else {
        return false;
    };
    match name {
        "RACMAP" => identity_maps::lists_only(ops.get(1..).unwrap_or_default()),
        // RACDCERT's function is a top-level word or keyword; a value
        // inside another keyword (`WITHLABEL('LIST')`) is none.
        "RACDCERT" => ops.get(1..).unwrap_or_default().iter().any(|op| {
            let function = match op {
                Operand::Word {
                    text,
                    quoted: false,
                } => text,
                Operand::Keyword { name, .. } => name,
                _ => return false,
            };
            matches!(
                function.to_ascii_uppercase().as_str(),
                "LIST" | "LISTRING" | "LISTMAP" | "LISTCHAIN" | "LISTTOKEN" | "CHECKCERT"
            )
        }),
        _ => false,
    }
}

/// The classes whose `SETROPTS AUDIT(class)` logs a command: USER for
/// user commands, GROUP for group commands, both for CONNECT and REMOVE,
/// the profile's class for general-resource commands.
pub fn audit_classes(name: &str, text: &str) -> Vec<String> {
    match name {
        "ADDUSER" | "ALTUSER" | "DELUSER" | "PASSWORD" | "PHRASE" => vec!["USER".into()],
        "ADDGROUP" | "ALTGROUP" | "DELGROUP" => vec!["GROUP".into()],
        "CONNECT" | "REMOVE" => vec!["USER".into(), "GROUP".into()],
        "RDEFINE" | "RALTER" | "RDELETE" | "PERMIT" => {
            let Ok(ops) = tokenize(text) else {
                return Vec::new();
            };
            let word = |op: &Operand| match op {
                Operand::Word { text, .. } => Some(text.to_ascii_uppercase()),
                _ => None,
            };
            let class = if name == "PERMIT" {
                ops.iter().find_map(|op| match op {
                    Operand::Keyword { name, args } if name.eq_ignore_ascii_case("CLASS") => {
                        args.first().and_then(word)
                    }
                    _ => None,
                })
            } else {
                ops.get(1).and_then(word)
            };
            class.into_iter().collect()
        }
        _ => Vec::new(),
    }
}

/// Reads a condition as `WHEN(...)` takes it, e.g. `SERVAUTH(INTRANET)`
/// (for a check's context given on a command line).
pub fn parse_condition(text: &str) -> Result<crate::model::Condition, CommandError> {
    let ops = tokenize(text).map_err(syntax)?;
    operands::parse_when(&ops)
}

/// The authority an issuer holds for a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Held {
    /// All of it: the local operator.
    operator: bool,
    special: bool,
    auditor: bool,
    /// Allowed by an own-profile rule only.
    own: bool,
}

fn not_authorized(id: &str, command: &str, needed: &str) -> CommandError {
    CommandError::new(
        CommandErrorKind::NotAuthorized,
        format!("ICH00007I {id} NOT AUTHORIZED TO ISSUE {command}: {needed} IS REQUIRED"),
    )
}

fn in_table(table: &[(&str, &[&str])], command: &str, keyword: &str) -> bool {
    table
        .iter()
        .any(|(c, kws)| *c == command && kws.contains(&keyword))
}

/// Applies the command's [`Authority`] rule to the issuer: SPECIAL, or an
/// own-profile rule, or AUDITOR for the commands an AUDITOR may issue
/// (listings, and the ones with AUDITOR keywords; which keywords it may
/// give is [`authorize_keywords`]'s to say).
fn authorize(
    state: &State,
    env: &Env<'_>,
    command: &Command,
    operands: &[Operand],
) -> Result<Held, CommandError> {
    let Issuer::User(id) = env.issuer else {
        return Ok(Held {
            operator: true,
            special: true,
            auditor: true,
            own: false,
        });
    };
    let id = &id.to_ascii_uppercase();
    let user = state.users.get(id).filter(|u| !u.revoked);
    let held = Held {
        operator: false,
        special: user.is_some_and(|u| u.special),
        auditor: user.is_some_and(|u| u.auditor),
        own: false,
    };
    if held.special {
        return Ok(held);
    }
    let auditor_may = LISTINGS.contains(&command.name)
        || AUDITOR_KEYWORDS.iter().any(|(c, _)| *c == command.name);
    if held.auditor && auditor_may {
        return Ok(held);
    }
    let own = match command.authority {
        Special => false,
        SpecialOrOwnUser => {
            user.is_some()
                && matches!(
                    operands.first(),
                    Some(Operand::Word { text, .. }) if text.eq_ignore_ascii_case(id)
                )
        }
        // The executor refuses a revoked or undefined issuer itself.
        ByExecutor => true,
    };
    if own {
        return Ok(Held { own: true, ..held });
    }
    Err(not_authorized(id, command.name, "SPECIAL"))
}

/// The keyword-level rule: AUDITOR keywords need AUDITOR (a SPECIAL
/// issuer's are ignored and named in the output, as RACF does); every
/// other keyword of a changing command needs SPECIAL.
fn authorize_keywords(
    env: &Env<'_>,
    command: &Command,
    held: Held,
    operands: &mut CommandOperands,
    out: &mut Effect,
) -> Result<(), CommandError> {
    let name = command.name;
    let auditor_kws: Vec<&'static str> = operands
        .keywords
        .iter()
        .map(|(k, _, _)| *k)
        .filter(|k| in_table(AUDITOR_KEYWORDS, name, k))
        .collect();
    if held.operator {
        out.used_auditor = !auditor_kws.is_empty();
        return Ok(());
    }
    if held.own || LISTINGS.contains(&name) {
        return Ok(());
    }
    if !auditor_kws.is_empty() {
        if held.auditor {
            out.used_auditor = true;
        } else {
            operands
                .keywords
                .retain(|(k, _, _)| !auditor_kws.contains(k));
            for k in &auditor_kws {
                out.lines.push(format!(
                    "ICH00005I NOT AUTHORIZED TO SPECIFY {k}: AUDITOR IS REQUIRED. {k} IGNORED."
                ));
                out.ignored.push((*k).to_owned());
            }
        }
    }
    let needs_special = operands.keywords.iter().any(|(k, _, _)| {
        !in_table(AUDITOR_KEYWORDS, name, k) && !in_table(AUDITOR_LISTING, name, k)
    }) || (operands.keywords.is_empty() && auditor_kws.is_empty());
    if needs_special && !held.special {
        let id = match env.issuer {
            Issuer::User(id) => id.to_ascii_uppercase(),
            Issuer::Operator => String::new(),
        };
        return Err(not_authorized(&id, name, "SPECIAL"));
    }
    Ok(())
}
