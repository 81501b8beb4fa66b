//! System options: SETROPTS.

use std::collections::BTreeSet;

use super::context::*;
use super::exec::Exec;
use super::operands::*;
use crate::model::*;
use crate::raclist;
use crate::state::Change;
use crate::syntax::{kw, KeywordSpec};
use crate::syntax::{parse_operands, texts, CommandOperands, Operand};

const PASSWORD_KWS: &[KeywordSpec] = &[
    kw!("INTERVAL", true),
    kw!("REVOKE", true),
    kw!("NOREVOKE"),
    kw!("HISTORY", true),
    kw!("NOHISTORY"),
    kw!("MIXEDCASE"),
    kw!("NOMIXEDCASE"),
    kw!("RULE1", true),
    kw!("RULE2", true),
    kw!("RULE3", true),
    kw!("RULE4", true),
    kw!("RULE5", true),
    kw!("RULE6", true),
    kw!("RULE7", true),
    kw!("RULE8", true),
    kw!("NORULE1"),
    kw!("NORULE2"),
    kw!("NORULE3"),
    kw!("NORULE4"),
    kw!("NORULE5"),
    kw!("NORULE6"),
    kw!("NORULE7"),
    kw!("NORULE8"),
    kw!("NORULES"),
];

impl Exec<'_> {
    pub(super) fn setropts(&mut self, p: &CommandOperands) -> Result<(), CommandError> {
        // Keywords all ignored for want of AUDITOR still make a command.
        if p.keywords.is_empty() && self.out.ignored.is_empty() {
            return Err(CommandError::new(
                CommandErrorKind::Syntax,
                "IKJ56701I MISSING SETROPTS OPERAND",
            ));
        }
        let mut classes: std::collections::BTreeMap<String, ClassSettings> = Default::default();
        let all_classes = || -> Vec<String> {
            let mut s: BTreeSet<String> = self.state.classes.keys().cloned().collect();
            s.extend(
                self.state
                    .profiles
                    .keys()
                    .filter(|c| *c != GLOBAL_CLASS)
                    .cloned(),
            );
            s.into_iter().collect()
        };
        let refresh = p.has("REFRESH");
        let mut touch = |kw: &str,
                         f: &dyn Fn(&mut ClassSettings),
                         this: &Self|
         -> Result<Vec<String>, CommandError> {
            let mut list = classes_of(p, kw)?;
            if list.iter().any(|c| c == "*") {
                list = all_classes();
            }
            for c in &list {
                if c == GLOBAL_CLASS {
                    return Err(invalid(format!(
                        "ICH14010I CLASS {GLOBAL_CLASS} IS NOT VALID FOR {kw}"
                    )));
                }
                let entry = classes
                    .entry(c.clone())
                    .or_insert_with(|| this.state.class(c));
                f(entry);
            }
            Ok(list)
        };
        let mut refreshes = Vec::new();
        if p.has("CLASSACT") {
            touch("CLASSACT", &|c| c.active = true, self)?;
        }
        if p.has("NOCLASSACT") {
            touch("NOCLASSACT", &|c| c.active = false, self)?;
        }
        if p.has("GENERIC") {
            touch("GENERIC", &|c| c.generic = true, self)?;
        }
        if p.has("NOGENERIC") {
            touch("NOGENERIC", &|c| c.generic = false, self)?;
        }
        // RACLIST and GLOBAL (with or without REFRESH) make the in-storage
        // copy that checks read; NORACLIST and NOGLOBAL drop it.
        let mut copies = Vec::new();
        if p.has("RACLIST") {
            let list = if refresh {
                touch("RACLIST", &|_| {}, self)?
            } else {
                touch("RACLIST", &|c| c.raclist = true, self)?
            };
            // RACLIST(*) REFRESH refreshes the classes that are RACLISTed.
            let list: Vec<String> = list
                .into_iter()
                .filter(|c| !refresh || self.state.class(c).raclist)
                .collect();
            copies.extend(list.iter().flat_map(|c| raclist::copy_class(self.state, c)));
            refreshes.extend(list.into_iter().map(Refresh::Class));
        }
        if p.has("NORACLIST") {
            let list = touch("NORACLIST", &|c| c.raclist = false, self)?;
            copies.extend(list.iter().flat_map(|c| raclist::drop_class(c)));
            refreshes.extend(list.into_iter().map(Refresh::Class));
        }
        if p.has("GLOBAL") {
            let list = touch("GLOBAL", &|c| c.global = true, self)?;
            copies.extend(list.iter().map(|c| raclist::copy_global(self.state, c)));
            refreshes.extend(list.into_iter().map(Refresh::Global));
        }
        // AUDIT(class) and LOGOPTIONS: RACF accepts USER, GROUP and DATASET
        // besides general-resource classes for AUDIT.
        if p.has("AUDIT") {
            touch("AUDIT", &|c| c.audit = true, self)?;
        }
        if p.has("NOAUDIT") {
            touch("NOAUDIT", &|c| c.audit = false, self)?;
        }
        if p.has("NOGLOBAL") {
            let list = touch("NOGLOBAL", &|c| c.global = false, self)?;
            copies.extend(
                list.iter()
                    .map(|c| Change::delete_record(raclist::GLOBAL_KIND, c)),
            );
        }
        if let Some(args) = p.args("LOGOPTIONS") {
            for op in args {
                let Operand::Keyword { name, args } = op else {
                    return Err(invalid(
                        "ICH14002I LOGOPTIONS NEEDS level(class ...): ALWAYS, NEVER, SUCCESSES, FAILURES OR DEFAULT",
                    ));
                };
                let level = parse_log_options(name)
                    .ok_or_else(|| invalid(format!("ICH14002I INVALID LOGOPTIONS LEVEL {name}")))?;
                let mut list: Vec<String> = Vec::new();
                for (c, _) in texts(args) {
                    list.push(normalize_class(&c).map_err(|e| invalid(format!("ICH14002I {e}")))?);
                }
                if list.iter().any(|c| c == "*") || list.is_empty() {
                    return Err(invalid(format!(
                        "ICH14002I LOGOPTIONS({name}) NEEDS CLASS NAMES"
                    )));
                }
                for c in list {
                    let entry = classes
                        .entry(c.clone())
                        .or_insert_with(|| self.state.class(&c));
                    entry.log_options = level;
                }
            }
        }
        if refresh && !p.has("RACLIST") && !p.has("GLOBAL") {
            return Err(CommandError::new(
                CommandErrorKind::Syntax,
                "IKJ56701I REFRESH NEEDS RACLIST(class) OR GLOBAL(class)",
            ));
        }
        if refresh {
            for (c, s) in &classes {
                if p.args("RACLIST")
                    .is_some_and(|a| texts(a).iter().any(|(t, _)| t.eq_ignore_ascii_case(c)))
                    && !s.raclist
                    // Certificates and rings take effect at once; Zowe's
                    // jobs still refresh their classes (keyrings spec §0,
                    // "Activation"): accepted as a no-op.
                    && !matches!(c.as_str(), "DIGTCERT" | "DIGTRING")
                {
                    return Err(invalid(format!(
                        "ICH14070I SETROPTS REFRESH NOT PROCESSED: CLASS {c} IS NOT RACLISTED"
                    )));
                }
            }
        }
        let mut opts: Options = self.state.options.clone();
        for (flag, on, off) in [
            (&mut opts.saudit, "SAUDIT", "NOSAUDIT"),
            (&mut opts.cmdviol, "CMDVIOL", "NOCMDVIOL"),
            (&mut opts.operaudit, "OPERAUDIT", "NOOPERAUDIT"),
        ] {
            if p.has(on) {
                *flag = true;
            }
            if p.has(off) {
                *flag = false;
            }
        }
        if p.has("GRPLIST") {
            opts.grplist = true;
        }
        if p.has("NOGRPLIST") {
            opts.grplist = false;
        }
        if let Some(args) = p.args("PASSWORD") {
            let pp = parse_operands(args, 0, PASSWORD_KWS).map_err(syntax)?;
            let num = |kw: &str, max: u32| -> Result<Option<u32>, CommandError> {
                match one_value(&pp, kw)? {
                    Some((v, _)) => match v.parse::<u32>() {
                        Ok(n) if n <= max => Ok(Some(n)),
                        _ => Err(invalid(format!(
                            "ICH14002I INVALID {kw} VALUE {v} (0-{max})"
                        ))),
                    },
                    None => Ok(None),
                }
            };
            if let Some(n) = num("INTERVAL", 254)? {
                if n == 0 {
                    return Err(invalid("ICH14002I INVALID INTERVAL VALUE 0 (1-254)"));
                }
                opts.password_interval_days = n;
            }
            if let Some(n) = num("REVOKE", 255)? {
                opts.revoke_after = if n == 0 { None } else { Some(n) };
            }
            if pp.has("NOREVOKE") {
                opts.revoke_after = None;
            }
            if let Some(n) = num("HISTORY", 32)? {
                opts.history = n;
            }
            if pp.has("NOHISTORY") {
                opts.history = 0;
            }
            if pp.has("MIXEDCASE") {
                opts.mixed_case = true;
            }
            if pp.has("NOMIXEDCASE") {
                opts.mixed_case = false;
            }
            if pp.has("NORULES") {
                opts.rules.clear();
            }
            for n in 1..=8u8 {
                if pp.has(&format!("NORULE{n}")) {
                    opts.rules.remove(&n);
                }
                if let Some(args) = pp.args(&format!("RULE{n}")) {
                    let text: Vec<String> = args.iter().map(operand_text).collect();
                    let rule = crate::password::PasswordRule::parse(&text.join(" "))
                        .map_err(|why| invalid(format!("ICH14002I INVALID RULE{n}: {why}")))?;
                    opts.rules.insert(n, rule);
                }
            }
        }
        for (_, s) in classes {
            self.out.changes.push(Change::PutClass(s));
        }
        self.out.changes.extend(copies);
        if opts != self.state.options {
            self.out.changes.push(Change::PutOptions(opts.clone()));
        }
        self.out.refresh.extend(refreshes);
        if p.has("LIST") {
            self.setropts_list(&opts);
        }
        self.say("ICH14063I SETROPTS command complete.");
        Ok(())
    }

    pub(super) fn setropts_list(&mut self, opts: &Options) {
        let mut cls: BTreeSet<String> = self.state.classes.keys().cloned().collect();
        for c in &self.out.changes {
            if let Change::PutClass(s) = c {
                cls.insert(s.name.clone());
            }
        }
        let setting = |c: &String| -> ClassSettings {
            self.out
                .changes
                .iter()
                .rev()
                .find_map(|ch| match ch {
                    Change::PutClass(s) if &s.name == c => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| self.state.class(c))
        };
        let pick = |f: &dyn Fn(&ClassSettings) -> bool| -> String {
            let v: Vec<String> = cls
                .iter()
                .map(&setting)
                .filter(|s| f(s))
                .map(|s| s.name)
                .collect();
            if v.is_empty() {
                "NONE".into()
            } else {
                v.join(" ")
            }
        };
        let on = |b: bool, word: &'static str| if b { Some(word) } else { None };
        let attributes: Vec<&str> = [
            on(opts.saudit, "SAUDIT"),
            on(opts.cmdviol, "CMDVIOL"),
            on(opts.operaudit, "OPERAUDIT"),
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut lines = vec![
            format!(
                "ATTRIBUTES = {}",
                if attributes.is_empty() {
                    "NONE".to_owned()
                } else {
                    attributes.join(" ")
                }
            ),
            format!("AUDIT CLASSES = {}", pick(&|s| s.audit)),
            format!("ACTIVE CLASSES = {}", pick(&|s| s.active)),
            format!("GENERIC PROFILE CLASSES = {}", pick(&|s| s.generic)),
            format!("GLOBAL CHECKING CLASSES = {}", pick(&|s| s.global)),
            format!("SETR RACLIST CLASSES = {}", pick(&|s| s.raclist)),
            format!("LIST OF GROUPS ACCESS CHECKING IS {}", if opts.grplist { "ACTIVE." } else { "INACTIVE." }),
            format!(
                "PASSWORD PROCESSING OPTIONS:\n  PASSWORD CHANGE INTERVAL IS {}\n  MIXED CASE PASSWORD SUPPORT IS {}\n  {}\n  {}",
                match opts.password_interval_days { 0 => "NOT IN EFFECT".to_owned(), n => format!("{n} DAYS.") },
                if opts.mixed_case { "IN EFFECT" } else { "NOT IN EFFECT" },
                match opts.revoke_after { None => "AFTER ANY NUMBER OF UNSUCCESSFUL PASSWORD ATTEMPTS, THE USERID WILL NOT BE REVOKED".to_owned(), Some(n) => format!("AFTER {} CONSECUTIVE UNSUCCESSFUL PASSWORD ATTEMPTS, A USERID WILL BE REVOKED.", n + 1) },
                match opts.history { 0 => "NO PASSWORD HISTORY BEING MAINTAINED.".to_owned(), n => format!("{n} GENERATIONS OF PREVIOUS PASSWORDS BEING MAINTAINED.") },
            ),
        ];
        for level in [
            LogOptions::Always,
            LogOptions::Never,
            LogOptions::Successes,
            LogOptions::Failures,
        ] {
            lines.push(format!(
                "LOGOPTIONS \"{}\" CLASSES = {}",
                log_options_text(level),
                pick(&|s| s.log_options == level)
            ));
        }
        lines.push(format!("LOGOPTIONS \"DEFAULT\" CLASSES = {}", "ALL OTHERS"));
        self.out.lines.extend(lines);
        if opts.rules.is_empty() {
            self.say("  NO INSTALLATION PASSWORD SYNTAX RULES.");
        } else {
            self.say("  INSTALLATION PASSWORD SYNTAX RULES:");
            for (n, r) in &opts.rules {
                self.say(format!("    RULE {n} {}", r.to_text()));
            }
        }
    }
}
