//! Multi-factor authentication: a TOTP factor per user (RFC 6238, through
//! `zgate_auth::totp`), administered as IBM Z MFA is, with `ALTUSER`:
//!
//! - `ALTUSER U MFA(FACTOR(TOTP) ACTIVE [ALGORITHM(SHA1|SHA256|SHA512)] [DIGITS(6|8)])`
//!   makes a new random secret and prints it once, as an `otpauth://` URI
//!   on a line of its own (the only place it is ever shown). Enrolling again
//!   replaces the secret.
//! - `ALTUSER U MFA(FACTOR(TOTP) INACTIVE)`, `ALTUSER U MFA(DELFACTOR(TOTP))`
//!   and `ALTUSER U DELFACTOR(TOTP)` remove it.
//!
//! These operands cannot be combined with other `ALTUSER` operands in one
//! command (zgate runs them apart from the model's commands).
//!
//! Logon ([`Esm::verify_with_factor`]): an MFA user gives the code either
//! separately or in the password field as `password<sep>code` (IBM Z MFA's
//! compound in-band form). Passwords and phrases may contain the separator,
//! so for an MFA user the code is the text after the LAST separator, and for
//! a user without MFA the field is never split. The password alone never
//! logs an MFA user on. A code is accepted once: its time step must be
//! greater than the last accepted one, which is stored (every process
//! sharing the store sees it). A wrong code counts as a failed logon.
//!
//! The secret is stored in the ESM database (0600), never listed:
//! `LISTUSER` shows only `MFA FACTOR=TOTP ACTIVE ...`.

use zgate_auth::totp::{self, Algorithm, Secret, TotpParams};

use crate::command::parse::{tokenize, Operand};
use crate::command::{command_name, CommandError, CommandErrorKind, CommandOutput, Issuer};
use crate::model::normalize_id;
use crate::records::RecordOp;
use crate::store::State;
use crate::{Esm, EsmError};

const FACTOR_KIND: &str = "mfa.totp";
const STEP_KIND: &str = "mfa.step";

fn cmd_error(kind: CommandErrorKind, msg: impl Into<String>) -> CommandError {
    CommandError {
        kind,
        lines: vec![msg.into()],
    }
}

fn store_error(e: EsmError) -> CommandError {
    cmd_error(
        CommandErrorKind::Store,
        format!("ICH00099I COMMAND NOT PROCESSED: {e}"),
    )
}

/// A user's enrolled TOTP factor. No `Debug`: it holds the secret.
pub(crate) struct TotpFactor {
    pub(crate) params: TotpParams,
    pub(crate) secret: Secret,
}

impl TotpFactor {
    fn encode(&self) -> String {
        format!(
            "{} {} {} {}",
            self.params.algorithm.as_str(),
            self.params.digits.count(),
            self.params.period,
            self.secret.to_base32()
        )
    }

    fn decode(value: &str) -> Option<TotpFactor> {
        let mut parts = value.split(' ');
        let algorithm: Algorithm = parts.next()?.parse().ok()?;
        let digits: u32 = parts.next()?.parse().ok()?;
        let period: u32 = parts.next()?.parse().ok()?;
        let secret = Secret::from_base32(parts.next()?).ok()?;
        Some(TotpFactor {
            params: TotpParams::new(algorithm, digits, period).ok()?,
            secret,
        })
    }
}

/// What `ALTUSER ... MFA(...)` asks.
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
            cmd_error(
                CommandErrorKind::Syntax,
                format!("IKJ56702I INVALID {what}"),
            )
        }),
        _ => Err(cmd_error(
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
        Err(cmd_error(
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
                        cmd_error(
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
                            return Err(cmd_error(
                                CommandErrorKind::Invalid,
                                "ICH21052I DIGITS MUST BE 6 OR 8",
                            ))
                        }
                    };
                }
                other => {
                    return Err(cmd_error(
                        CommandErrorKind::Syntax,
                        format!("IKJ56712I INVALID KEYWORD, {other} IN MFA"),
                    ))
                }
            },
            Operand::Word { text, .. } => match text.to_ascii_uppercase().as_str() {
                "ACTIVE" => active = Some(true),
                "INACTIVE" => active = Some(false),
                other => {
                    return Err(cmd_error(
                        CommandErrorKind::Syntax,
                        format!("IKJ56712I INVALID KEYWORD, {other} IN MFA"),
                    ))
                }
            },
            Operand::List(_) => {
                return Err(cmd_error(
                    CommandErrorKind::Syntax,
                    "IKJ56712I INVALID KEYWORD IN MFA",
                ))
            }
        }
    }
    let Some(factor) = factor else {
        return Err(cmd_error(
            CommandErrorKind::Syntax,
            "IKJ56701I MISSING FACTOR IN MFA",
        ));
    };
    check_factor_name(&factor)?;
    match active {
        Some(true) => Ok(MfaAction::Enrol { algorithm, digits }),
        Some(false) => Ok(MfaAction::Remove),
        None => Err(cmd_error(
            CommandErrorKind::Syntax,
            "IKJ56701I MISSING ACTIVE OR INACTIVE IN MFA",
        )),
    }
}

pub(crate) fn authorized(state: &State, issuer: &Issuer) -> bool {
    match issuer {
        Issuer::Operator => true,
        Issuer::User(id) => state
            .users
            .get(&id.to_ascii_uppercase())
            .is_some_and(|u| u.special),
    }
}

impl Esm {
    /// Runs the commands that live beside the model (`ALTUSER`
    /// with `MFA`/`DELFACTOR`, `RACDCERT`); `None` for every other command.
    pub(crate) fn run_extension_command(
        &self,
        issuer: &Issuer,
        text: &str,
    ) -> Option<Result<CommandOutput, CommandError>> {
        let ops = tokenize(text).ok()?;
        let (first, rest) = ops.split_first()?;
        let name = command_name(&word(first)?)?;
        match name {
            "ALTUSER" => {
                let is_mfa = |op: &Operand| matches!(op, Operand::Keyword { name, .. } if name == "MFA" || name == "DELFACTOR");
                if !rest.iter().any(is_mfa) {
                    return None;
                }
                Some(self.altuser_mfa(issuer, rest))
            }
            "RACDCERT" => Some(self.racdcert(issuer, rest)),
            _ => None,
        }
    }

    fn altuser_mfa(&self, issuer: &Issuer, ops: &[Operand]) -> Result<CommandOutput, CommandError> {
        let mut user = None;
        let mut action = None;
        for op in ops {
            match op {
                Operand::Word { text, .. } if user.is_none() => user = Some(text.clone()),
                Operand::Keyword { name, args } if name == "MFA" => action = Some(parse_mfa(args)?),
                Operand::Keyword { name, args } if name == "DELFACTOR" => {
                    check_factor_name(&single_arg(args, "DELFACTOR")?)?;
                    action = Some(MfaAction::Remove);
                }
                _ => return Err(cmd_error(
                    CommandErrorKind::Syntax,
                    "IKJ56712I MFA AND DELFACTOR CANNOT BE COMBINED WITH OTHER ALTUSER OPERANDS",
                )),
            }
        }
        let user =
            user.ok_or_else(|| cmd_error(CommandErrorKind::Syntax, "IKJ56701I MISSING USERID"))?;
        let id = normalize_id(&user)
            .map_err(|e| cmd_error(CommandErrorKind::Invalid, format!("ICH21001I {e}")))?;
        let Some(action) = action else {
            return Err(cmd_error(CommandErrorKind::Syntax, "IKJ56701I MISSING MFA"));
        };
        // Generated outside the retry loop so a redo prints the same secret.
        let fresh = match &action {
            MfaAction::Enrol { algorithm, digits } => {
                let mut bytes = vec![0u8; algorithm.secret_len()];
                getrandom::getrandom(&mut bytes).map_err(|e| {
                    cmd_error(
                        CommandErrorKind::Store,
                        format!("ICH00099I NO RANDOMNESS: {e}"),
                    )
                })?;
                let secret = Secret::from_bytes(&bytes)
                    .map_err(|_| cmd_error(CommandErrorKind::Store, "ICH00099I SECRET REJECTED"))?;
                let params = TotpParams::new(*algorithm, *digits, 30).map_err(|_| {
                    cmd_error(CommandErrorKind::Invalid, "ICH21052I DIGITS MUST BE 6 OR 8")
                })?;
                Some(TotpFactor { params, secret })
            }
            MfaAction::Remove => None,
        };
        self.commit_records(|records, state| {
            if !authorized(state, issuer) {
                let who = match issuer {
                    Issuer::User(u) => u.to_ascii_uppercase(),
                    Issuer::Operator => String::new(),
                };
                return Err(MfaCommandError(cmd_error(
                    CommandErrorKind::NotAuthorized,
                    format!("ICH00007I {who} NOT AUTHORIZED TO ISSUE ALTUSER: SPECIAL IS REQUIRED"),
                )));
            }
            if !state.users.contains_key(&id) {
                return Err(MfaCommandError(cmd_error(
                    CommandErrorKind::NotFound,
                    format!("ICH21001I USER({id}) NOT DEFINED TO RACF"),
                )));
            }
            match &fresh {
                Some(factor) => {
                    let uri = totp::otpauth_uri(totp::ISSUER, &id, &factor.secret, &factor.params);
                    Ok((
                        vec![
                            RecordOp::put(FACTOR_KIND, &id, factor.encode()),
                            RecordOp::delete(STEP_KIND, &id),
                        ],
                        CommandOutput { lines: vec![uri] },
                    ))
                }
                None => {
                    if records.get(FACTOR_KIND, &id).is_none() {
                        return Err(MfaCommandError(cmd_error(
                            CommandErrorKind::NotFound,
                            format!("ICH21053I USER({id}) HAS NO TOTP FACTOR"),
                        )));
                    }
                    Ok((
                        vec![
                            RecordOp::delete(FACTOR_KIND, &id),
                            RecordOp::delete(STEP_KIND, &id),
                        ],
                        CommandOutput::default(),
                    ))
                }
            }
        })
        .map_err(|e: MfaCommandError| e.0)
    }

    /// `MFA FACTOR=TOTP ACTIVE ALGORITHM=.. DIGITS=..` for a user with a
    /// factor (what `LISTUSER` adds; never the secret).
    pub fn mfa_listing(&self, user: &str) -> Option<String> {
        let id = normalize_id(user).ok()?;
        self.with_records(|r| {
            let f = TotpFactor::decode(r.get(FACTOR_KIND, &id)?)?;
            Some(format!(
                "MFA FACTOR=TOTP ACTIVE ALGORITHM={} DIGITS={} PERIOD={}",
                f.params.algorithm.as_str(),
                f.params.digits.count(),
                f.params.period
            ))
        })
    }

    /// Adds ` MFA FACTOR=TOTP ACTIVE ...` after each listed user that has a
    /// factor (LISTUSER), never the secret.
    pub(crate) fn annotate_listuser(&self, text: &str, out: CommandOutput) -> CommandOutput {
        let is_listuser = tokenize(text)
            .ok()
            .and_then(|ops| ops.first().and_then(word))
            .and_then(|w| command_name(&w))
            == Some("LISTUSER");
        if !is_listuser {
            return out;
        }
        let mut lines = Vec::with_capacity(out.lines.len());
        let mut user = None;
        for line in out.lines {
            if let Some(rest) = line.strip_prefix("USER=") {
                user = rest.split_whitespace().next().map(str::to_string);
            }
            let last = line.starts_with(" LAST-ACCESS=");
            lines.push(line);
            if last {
                if let Some(mfa) = user.as_deref().and_then(|u| self.mfa_listing(u)) {
                    lines.push(format!(" {mfa}"));
                }
            }
        }
        CommandOutput { lines }
    }

    /// Whether a user has an active TOTP factor.
    pub fn mfa_active(&self, user: &str) -> bool {
        self.mfa_listing(user).is_some()
    }

    /// The user's factor: `None` without one; `Some(None)` when the stored
    /// record does not decode (hand-edited or corrupt): the logon then fails
    /// closed, never falling back to the password alone.
    pub(crate) fn totp_factor(&self, id: &str) -> Option<Option<TotpFactor>> {
        self.with_records(|r| r.get(FACTOR_KIND, id).map(TotpFactor::decode))
    }

    /// Checks a code for `id` at `now_ms` and, when it matches a step later
    /// than the last accepted one, records that step (one transaction, so
    /// two processes cannot both accept it).
    pub(crate) fn accept_totp(
        &self,
        id: &str,
        factor: &TotpFactor,
        code: &str,
        now_ms: i64,
    ) -> bool {
        let skew = self.mfa_settings().skew_steps;
        let now_s = u64::try_from(now_ms.div_euclid(1000)).unwrap_or(0);
        let Some(step) = totp::verify(&factor.secret, &factor.params, code, now_s, skew) else {
            return false;
        };
        self.commit_records(|records, _| {
            let last: Option<u64> = records.get(STEP_KIND, id).and_then(|v| v.parse().ok());
            if last.is_some_and(|last| step <= last) {
                return Ok::<_, EsmError>((Vec::new(), false));
            }
            Ok((vec![RecordOp::put(STEP_KIND, id, step.to_string())], true))
        })
        .unwrap_or(false)
    }
}

/// A command error that can come out of `commit_records`.
pub(crate) struct MfaCommandError(pub(crate) CommandError);

impl From<EsmError> for MfaCommandError {
    fn from(e: EsmError) -> Self {
        MfaCommandError(store_error(e))
    }
}

impl From<CommandError> for MfaCommandError {
    fn from(e: CommandError) -> Self {
        MfaCommandError(e)
    }
}

pub(crate) use MfaCommandError as ExtCommandError;
