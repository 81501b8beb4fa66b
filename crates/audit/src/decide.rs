//! Whether an event is recorded, as RACF's controls decide it (IBM, z/OS
//! Security Server RACF Auditor's Guide, "Logging", "Owner-controlled
//! logging", "Setting and listing audit controls"): one pure function,
//! [`decide`], in RACF's order. It says why a record is written
//! ([`LogReason`], SMF80REA's reasons), or that none is.
//!
//! Decisions where IBM's text was not confirmed, made here:
//! - `LOGOPTIONS(NEVER)` silences only what the profile and GLOBALAUDIT
//!   would log for resource access; UAUDIT, WARNING and the always-logged
//!   events still log.
//! - `LOGOPTIONS(SUCCESSES)` and `(FAILURES)` add to the profile's setting:
//!   the other outcome still follows the profile.
//! - A WARNING grant is always logged.
//! - Listing commands (LISTUSER, LISTGRP, RLIST, SEARCH) are never logged,
//!   even for UAUDIT users; a violation of them is, under CMDVIOL.

/// RACF's access levels, lowest first (only their order matters here).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Level {
    /// READ.
    Read,
    /// UPDATE.
    Update,
    /// CONTROL.
    Control,
    /// ALTER.
    Alter,
}

/// `AUDIT(...)`/`GLOBALAUDIT(...)` for one outcome: off, or from a level up.
pub type FromLevel = Option<Level>;

/// A profile's owner (`AUDIT`) or auditor (`GLOBALAUDIT`) setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct AuditSetting {
    /// Successes logged from this requested level up.
    pub successes: FromLevel,
    /// Failures logged from this requested level up.
    pub failures: FromLevel,
}

impl AuditSetting {
    /// RACF's default for a new profile: `AUDIT(FAILURES(READ))`.
    pub const DEFAULT: AuditSetting = AuditSetting {
        successes: None,
        failures: Some(Level::Read),
    };

    fn logs(&self, granted: bool, requested: Level) -> bool {
        let from = if granted {
            self.successes
        } else {
            self.failures
        };
        from.is_some_and(|l| requested >= l)
    }
}

/// `SETROPTS LOGOPTIONS(...)` for a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum LogOptions {
    /// The profile decides (the initial setting).
    #[default]
    Default,
    /// Every access.
    Always,
    /// No access (see the module's decisions).
    Never,
    /// Every success, failures as the profile says.
    Successes,
    /// Every failure, successes as the profile says.
    Failures,
}

/// Why a record is written (SMF80REA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogReason {
    /// `SETROPTS AUDIT(class)`.
    Class,
    /// The user has UAUDIT.
    User,
    /// SAUDIT: a SPECIAL user's command.
    Special,
    /// The profile's `AUDIT(...)`.
    Access,
    /// A failed logon (RACINIT/VERIFY).
    Racinit,
    /// Always logged.
    Always,
    /// CMDVIOL: a command violation.
    CmdViol,
    /// The profile's `GLOBALAUDIT(...)`.
    Global,
    /// `SETROPTS LOGOPTIONS`.
    LogOpt,
}

impl LogReason {
    /// IRRADU00's name (`_LOG_...`).
    pub fn as_str(self) -> &'static str {
        match self {
            LogReason::Class => "CLASS",
            LogReason::User => "USER",
            LogReason::Special => "SPECIAL",
            LogReason::Access => "ACCESS",
            LogReason::Racinit => "RACINIT",
            LogReason::Always => "ALWAYS",
            LogReason::CmdViol => "CMDVIOL",
            LogReason::Global => "GLOBAL",
            LogReason::LogOpt => "LOGOPT",
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A logon (event 1).
    Logon {
        /// It succeeded.
        success: bool,
        /// By PassTicket.
        passticket: bool,
        /// The password or phrase was changed with it.
        changed_secret: bool,
    },
    /// A resource check (event 2).
    Access {
        /// Access was granted.
        granted: bool,
        /// Granted only because of WARNING.
        warning: bool,
        /// The level asked for.
        requested: Level,
        /// The protecting profile's settings; `None` when no profile
        /// protects the resource.
        profile: Option<ProfileAudit>,
    },
    /// A RACF command (events 8-25).
    Command {
        /// SETROPTS or RVARY.
        always: bool,
        /// A listing (LISTUSER, LISTGRP, RLIST, SEARCH).
        listing: bool,
        /// The `SETROPTS AUDIT` class it changes a profile of, if any.
        audit_class: Option<String>,
        /// Refused for insufficient authority, or keywords ignored.
        violation: bool,
        /// Allowed by OPERATIONS.
        by_operations: bool,
    },
}

/// A profile's two audit settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileAudit {
    /// The owner's `AUDIT(...)`.
    pub audit: AuditSetting,
    /// The auditor's `GLOBALAUDIT(...)`.
    pub global: AuditSetting,
}

/// Who acted, and the system's controls.
#[derive(Debug, Clone, Default)]
pub struct Controls {
    /// The user has UAUDIT.
    pub uaudit: bool,
    /// The user has SPECIAL.
    pub special: bool,
    /// `SETROPTS LOGOPTIONS` of the access's class.
    pub log_options: LogOptions,
    /// `SETROPTS AUDIT(...)` classes.
    pub audit_classes: Vec<String>,
    /// `SETROPTS SAUDIT` (initially on).
    pub saudit: bool,
    /// `SETROPTS CMDVIOL` (initially on).
    pub cmdviol: bool,
    /// `SETROPTS OPERAUDIT` (initially off).
    pub operaudit: bool,
}

impl Controls {
    /// RACF's initial settings for a user without attributes.
    pub fn initial() -> Controls {
        Controls {
            saudit: true,
            cmdviol: true,
            ..Controls::default()
        }
    }
}

/// Why `event` is logged under `controls`, in RACF's order; empty when it
/// is not.
pub fn decide(event: &Event, controls: &Controls) -> Vec<LogReason> {
    let mut why = Vec::new();
    match event {
        Event::Logon {
            success,
            passticket,
            changed_secret,
        } => {
            if !success {
                why.push(LogReason::Racinit);
            } else if *passticket || *changed_secret {
                why.push(LogReason::Always);
            }
            if controls.uaudit {
                why.push(LogReason::User);
            }
        }
        Event::Access {
            granted,
            warning,
            requested,
            profile,
        } => {
            match controls.log_options {
                LogOptions::Always => why.push(LogReason::LogOpt),
                LogOptions::Successes if *granted => why.push(LogReason::LogOpt),
                LogOptions::Failures if !*granted => why.push(LogReason::LogOpt),
                _ => {}
            }
            if controls.log_options != LogOptions::Never {
                if let Some(p) = profile {
                    if p.audit.logs(*granted, *requested) {
                        why.push(LogReason::Access);
                    }
                    if p.global.logs(*granted, *requested) {
                        why.push(LogReason::Global);
                    }
                }
            }
            if *warning {
                why.push(LogReason::Always);
            }
            if controls.uaudit {
                why.push(LogReason::User);
            }
        }
        Event::Command {
            always,
            listing,
            audit_class,
            violation,
            by_operations,
        } => {
            if *always {
                why.push(LogReason::Always);
            }
            if *violation && controls.cmdviol {
                why.push(LogReason::CmdViol);
            }
            if !*listing {
                if audit_class.as_ref().is_some_and(|c| {
                    controls
                        .audit_classes
                        .iter()
                        .any(|a| a.eq_ignore_ascii_case(c))
                }) {
                    why.push(LogReason::Class);
                }
                if controls.special && controls.saudit && !*violation {
                    why.push(LogReason::Special);
                }
                if *by_operations && controls.operaudit {
                    why.push(LogReason::Special);
                }
                if controls.uaudit {
                    why.push(LogReason::User);
                }
            }
        }
    }
    why.sort();
    why.dedup();
    why
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(granted: bool, warning: bool, requested: Level, audit: AuditSetting) -> Event {
        Event::Access {
            granted,
            warning,
            requested,
            profile: Some(ProfileAudit {
                audit,
                global: AuditSetting::default(),
            }),
        }
    }

    fn command(violation: bool) -> Event {
        command_by(violation, false, false)
    }

    fn command_by(violation: bool, by_operations: bool, listing: bool) -> Event {
        Event::Command {
            always: false,
            listing,
            audit_class: Some("USER".into()),
            violation,
            by_operations,
        }
    }

    #[test]
    fn failed_logons_are_always_logged_and_successes_only_when_they_say_more() {
        let c = Controls::initial();
        let logon = |success, passticket, changed_secret| Event::Logon {
            success,
            passticket,
            changed_secret,
        };
        assert_eq!(
            decide(&logon(false, false, false), &c),
            [LogReason::Racinit]
        );
        assert!(decide(&logon(true, false, false), &c).is_empty());
        assert_eq!(decide(&logon(true, true, false), &c), [LogReason::Always]);
        assert_eq!(decide(&logon(true, false, true), &c), [LogReason::Always]);
        let u = Controls {
            uaudit: true,
            ..Controls::initial()
        };
        assert_eq!(decide(&logon(true, false, false), &u), [LogReason::User]);
    }

    #[test]
    fn the_default_profile_setting_logs_failures_from_read() {
        let c = Controls::initial();
        let d = AuditSetting::DEFAULT;
        assert_eq!(
            decide(&access(false, false, Level::Read, d), &c),
            [LogReason::Access]
        );
        assert!(decide(&access(true, false, Level::Alter, d), &c).is_empty());
    }

    #[test]
    fn a_level_logs_that_level_and_above() {
        let c = Controls::initial();
        let update = AuditSetting {
            successes: Some(Level::Update),
            failures: None,
        };
        assert!(decide(&access(true, false, Level::Read, update), &c).is_empty());
        assert_eq!(
            decide(&access(true, false, Level::Update, update), &c),
            [LogReason::Access]
        );
        assert_eq!(
            decide(&access(true, false, Level::Alter, update), &c),
            [LogReason::Access]
        );
        assert!(decide(&access(false, false, Level::Alter, update), &c).is_empty());
    }

    #[test]
    fn globalaudit_adds_to_the_owners_setting() {
        let c = Controls::initial();
        let event = Event::Access {
            granted: true,
            warning: false,
            requested: Level::Read,
            profile: Some(ProfileAudit {
                audit: AuditSetting::default(),
                global: AuditSetting {
                    successes: Some(Level::Read),
                    failures: None,
                },
            }),
        };
        assert_eq!(decide(&event, &c), [LogReason::Global]);
    }

    #[test]
    fn logoptions_override_the_profile_as_the_module_decides() {
        let none = AuditSetting::default();
        let with = |log_options| Controls {
            log_options,
            ..Controls::initial()
        };
        assert_eq!(
            decide(
                &access(true, false, Level::Read, none),
                &with(LogOptions::Always)
            ),
            [LogReason::LogOpt]
        );
        assert_eq!(
            decide(
                &access(true, false, Level::Read, none),
                &with(LogOptions::Successes)
            ),
            [LogReason::LogOpt]
        );
        assert!(decide(
            &access(false, false, Level::Read, none),
            &with(LogOptions::Successes)
        )
        .is_empty());
        // FAILURES adds failures; successes still follow the profile.
        let successes = AuditSetting {
            successes: Some(Level::Read),
            failures: None,
        };
        assert_eq!(
            decide(
                &access(true, false, Level::Read, successes),
                &with(LogOptions::Failures)
            ),
            [LogReason::Access]
        );
        // NEVER silences the profile, not UAUDIT or WARNING.
        let d = AuditSetting::DEFAULT;
        assert!(decide(
            &access(false, false, Level::Read, d),
            &with(LogOptions::Never)
        )
        .is_empty());
        let never_uaudit = Controls {
            uaudit: true,
            ..with(LogOptions::Never)
        };
        assert_eq!(
            decide(&access(false, false, Level::Read, d), &never_uaudit),
            [LogReason::User]
        );
        assert_eq!(
            decide(
                &access(true, true, Level::Read, none),
                &with(LogOptions::Never)
            ),
            [LogReason::Always]
        );
    }

    #[test]
    fn warning_grants_are_always_logged_and_unprotected_resources_only_by_options() {
        let c = Controls::initial();
        assert_eq!(
            decide(
                &access(true, true, Level::Read, AuditSetting::default()),
                &c
            ),
            [LogReason::Always]
        );
        let unprotected = Event::Access {
            granted: false,
            warning: false,
            requested: Level::Read,
            profile: None,
        };
        assert!(decide(&unprotected, &c).is_empty());
    }

    #[test]
    fn commands_follow_audit_saudit_cmdviol_operaudit_and_uaudit() {
        let c = Controls::initial();
        assert!(decide(&command(false), &c).is_empty());
        let audited = Controls {
            audit_classes: vec!["USER".into()],
            ..Controls::initial()
        };
        assert_eq!(decide(&command(false), &audited), [LogReason::Class]);
        let special = Controls {
            special: true,
            ..Controls::initial()
        };
        assert_eq!(decide(&command(false), &special), [LogReason::Special]);
        let no_saudit = Controls {
            saudit: false,
            ..special.clone()
        };
        assert!(decide(&command(false), &no_saudit).is_empty());
        assert_eq!(decide(&command(true), &c), [LogReason::CmdViol]);
        let no_cmdviol = Controls {
            cmdviol: false,
            ..Controls::initial()
        };
        assert!(decide(&command(true), &no_cmdviol).is_empty());
        let setropts = Event::Command {
            always: true,
            listing: false,
            audit_class: None,
            violation: false,
            by_operations: false,
        };
        assert_eq!(decide(&setropts, &c), [LogReason::Always]);
        let oper = command_by(false, true, false);
        assert!(decide(&oper, &c).is_empty());
        let operaudit = Controls {
            operaudit: true,
            ..Controls::initial()
        };
        assert_eq!(decide(&oper, &operaudit), [LogReason::Special]);
        let listing = command_by(false, false, true);
        let uaudit = Controls {
            uaudit: true,
            special: true,
            audit_classes: vec!["USER".into()],
            ..Controls::initial()
        };
        assert!(decide(&listing, &uaudit).is_empty());
        assert_eq!(
            decide(&command(false), &uaudit),
            [LogReason::Class, LogReason::User, LogReason::Special]
        );
    }
}
