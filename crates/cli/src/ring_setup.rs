//! The RACF commands that set up Zowe's key ring, as `zwe init certificate`
//! generates them (spec keyrings.md section 3.3: ZWEIKRR1/2/3 and the
//! ZWENOKRR clean-up), and the configuration they lead to. Pure: no ESM,
//! no file, no clock (today's date is a parameter); `cert_cmd` runs the
//! commands and writes the configuration.
//!
//! Every value that goes into a command is checked here, whatever the
//! configuration crate checked before: a label or a distinguished-name part
//! is quoted with its quotes doubled, and anything that could end an
//! operand or start a comment outside quotes (ring names, user ids, host
//! names, IP addresses) is refused.
use std::fmt;
use std::net::IpAddr;

use zgate_config::{
    CertificateOwner, KeyringSetup, RingCertificate, RingName, SetupCertificateConfig,
};

/// Which of Zowe's three key ring scenarios (spec section 3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Option 1: a local CA and a server certificate it signs (ZWEIKRR1).
    LocalCa,
    /// Option 2: connect an existing certificate (ZWEIKRR2).
    Connect,
    /// Option 3: import a PKCS#12 package (ZWEIKRR3).
    Import,
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scenario::LocalCa => "option 1: a local CA and a server certificate signed by it",
            Scenario::Connect => "option 2: connect an existing certificate",
            Scenario::Import => "option 3: import a PKCS#12 package",
        })
    }
}

/// Zowe's choice: `connect.label` set → option 2 (it wins), else
/// `import.dsName` set → option 3, else option 1.
pub fn scenario(keyring: &KeyringSetup) -> Scenario {
    if keyring.connect.is_some() {
        Scenario::Connect
    } else if keyring.import.is_some() {
        Scenario::Import
    } else {
        Scenario::LocalCa
    }
}

/// When a step runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    /// Always; a failure stops the set-up.
    Always,
    /// Only where the profile exists: ZWEIKRR's FACILITY PERMITs, which
    /// "will fail if the IRR.DIGTCERT profiles do not already exist" and
    /// are not needed then (the RDATALIB profile decides).
    ProfileExists {
        /// The class.
        class: &'static str,
        /// The profile.
        profile: &'static str,
    },
    /// A `SETROPTS RACLIST(...) REFRESH`: only for the classes that are
    /// RACLISTed (there is no in-storage copy of the others to refresh).
    Refresh(Vec<&'static str>),
    /// A clean-up step (ZWENOKRR): what is not there to remove is skipped.
    BestEffort,
}

/// A part of a command: an operand, or the command words before them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Segment {
    text: String,
    /// The text holds a password: masked unless shown on purpose.
    secret: Option<String>,
}

/// One command of the set-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    segments: Vec<Segment>,
    /// When it runs.
    pub guard: Guard,
    /// Why it is there, for the dry run.
    pub comment: Option<&'static str>,
}

/// The value of a quoted operand: `'text'` with quotes doubled.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

impl Step {
    fn new(words: &str, guard: Guard) -> Step {
        Step {
            segments: vec![Segment {
                text: words.to_owned(),
                secret: None,
            }],
            guard,
            comment: None,
        }
    }

    fn op(mut self, text: impl Into<String>) -> Step {
        self.segments.push(Segment {
            text: text.into(),
            secret: None,
        });
        self
    }

    /// `KEYWORD('secret')`: shown masked unless asked for.
    fn secret_op(mut self, keyword: &str, secret: &str) -> Step {
        self.segments.push(Segment {
            text: format!("{keyword}({})", quoted(secret)),
            secret: Some(format!("{keyword}('********')")),
        });
        self
    }

    fn note(mut self, comment: &'static str) -> Step {
        self.comment = Some(comment);
        self
    }

    fn parts(&self, show_secrets: bool) -> impl Iterator<Item = &str> {
        self.segments
            .iter()
            .map(move |segment| match (&segment.secret, show_secrets) {
                (Some(masked), false) => masked.as_str(),
                _ => segment.text.as_str(),
            })
    }

    /// The command on one line, as it is run.
    pub fn text(&self) -> String {
        self.parts(true).collect::<Vec<_>>().join(" ")
    }

    /// The command on one line with its password masked, for any echo.
    pub fn masked(&self) -> String {
        self.parts(false).collect::<Vec<_>>().join(" ")
    }

    /// The command in TSO's batch layout: lines of at most [`TSO_WIDTH`]
    /// columns, continued with ` +`, continuation lines indented.
    pub fn tso(&self, show_secrets: bool) -> String {
        let mut lines: Vec<String> = Vec::new();
        let mut line = String::new();
        for part in self.parts(show_secrets) {
            if line.is_empty() {
                line = part.to_owned();
            } else if line.len() + 1 + part.len() + 2 <= TSO_WIDTH {
                line.push(' ');
                line.push_str(part);
            } else {
                lines.push(format!("{line} +"));
                line = format!("{TSO_INDENT}{part}");
            }
        }
        lines.push(line);
        lines
            .into_iter()
            .flat_map(split_long_line)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The widest line of the TSO layout (SYSTSIN data columns 1-72).
pub const TSO_WIDTH: usize = 72;
const TSO_INDENT: &str = "         ";

/// A line longer than [`TSO_WIDTH`] cut with `+` (TSO drops the next
/// line's leading blanks, so no piece may start with one).
fn split_long_line(line: String) -> Vec<String> {
    let (body, continued) = match line.strip_suffix(" +") {
        Some(body) => (body.to_owned(), true),
        None => (line.clone(), false),
    };
    if line.len() <= TSO_WIDTH {
        return vec![line];
    }
    let mut out = Vec::new();
    let mut rest = body.as_str();
    let mut first = true;
    loop {
        let room = TSO_WIDTH - 1 - if first { 0 } else { TSO_INDENT.len() };
        let prefix = if first { "" } else { TSO_INDENT };
        if rest.len() + if continued { 2 } else { 0 } <= room + 1 {
            out.push(format!(
                "{prefix}{rest}{}",
                if continued { " +" } else { "" }
            ));
            return out;
        }
        // Step back from a blank, and to a character boundary: a
        // password shown with --show-secrets may hold any character.
        let mut cut = room.min(rest.len());
        while cut > 1 && rest.as_bytes().get(cut) == Some(&b' ') {
            cut -= 1;
        }
        while cut > 0 && !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        if cut == 0 {
            cut = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        out.push(format!("{prefix}{}+", &rest[..cut]));
        rest = &rest[cut..];
        first = false;
    }
}

/// Why the commands cannot be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A distinguished-name part is unusable.
    #[error("zowe.setup.certificate.dname.{field}: {why}")]
    Dname {
        /// The key's last part.
        field: &'static str,
        /// What is wrong.
        why: String,
    },
    /// A subject alternative name is unusable.
    #[error("subject alternative name `{value}`: {why}")]
    San {
        /// The value (control characters escaped).
        value: String,
        /// What is wrong.
        why: &'static str,
    },
    /// The RDATALIB profile name would be longer than RACF allows.
    #[error("the RDATALIB profile {0} is longer than 246 characters: use a shorter ring name")]
    ProfileTooLong(String),
    /// The data set (file) to import is unusable.
    #[error("zowe.setup.certificate.keyring.import.dsName: {0}")]
    DataSet(&'static str),
}

/// The server certificate's subject alternative names: RACF's GENCERT
/// takes one domain and one IP address (the first of each of `san`, or of
/// `zowe.externalDomains`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AltName {
    /// The host name.
    pub domain: Option<String>,
    /// The IP address.
    pub ip: Option<IpAddr>,
}

impl AltName {
    /// The first domain and the first IP address of `names`.
    pub fn first_of(names: &[String]) -> Result<AltName, PlanError> {
        let mut alt = AltName::default();
        for name in names {
            let bare = name.trim_start_matches('[').trim_end_matches(']');
            match bare.parse::<IpAddr>() {
                Ok(ip) => {
                    alt.ip.get_or_insert(ip);
                }
                Err(_) => {
                    check_domain(name)?;
                    alt.domain.get_or_insert_with(|| name.clone());
                }
            }
        }
        Ok(alt)
    }
}

fn check_domain(name: &str) -> Result<(), PlanError> {
    let bad = |why| PlanError::San {
        value: name.escape_debug().collect(),
        why,
    };
    if name.is_empty() || name.len() > 253 {
        return Err(bad("a host name is 1-253 characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return Err(bad("a host name is made of A-Z a-z 0-9 . -"));
    }
    Ok(())
}

/// What a generation needs beside the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choices {
    /// `NOTAFTER`: today + validity, `yyyy-mm-dd`.
    pub not_after: String,
    /// The server certificate's alternative names.
    pub alt_name: AltName,
    /// Connect z/OSMF's CA (`verifyCertificates` STRICT or NONSTRICT).
    pub trust_zosmf: bool,
    /// Remove what a former set-up made first (`--force`).
    pub overwrite: bool,
    /// The file to import (option 3), as the commands name it.
    pub import_file: Option<String>,
}

/// The whole set-up: the commands, and what the configuration says after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The scenario.
    pub scenario: Scenario,
    /// The clean-up steps (empty without `--force`), then the set-up's.
    pub steps: Vec<Step>,
    /// How many of `steps` are the clean-up.
    pub cleanup_steps: usize,
    /// The runtime configuration the set-up leads to.
    pub runtime: RingRuntime,
}

/// The `zowe.certificate` values `zwe init certificate --update-config`
/// writes for a key ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingRuntime {
    /// `keystore.type` and `truststore.type`: the setup type.
    pub store_type: String,
    /// `keystore.file` and `truststore.file`: the ring.
    pub ring: RingName,
    /// `keystore.alias`: the server certificate's label.
    pub alias: String,
    /// `pem.certificateAuthorities`: the local CA (option 1) and the
    /// imported CAs, in the ring.
    pub certificate_authorities: Vec<RingCertificate>,
}

/// DN parts: (key name, value, the longest RACF takes).
fn dname_parts<'a>(
    setup: &'a SetupCertificateConfig,
    common_name: (&'static str, &'a str),
) -> Result<Vec<(&'static str, &'a str)>, PlanError> {
    let parts = [
        ("CN", common_name.0, common_name.1, 64),
        ("OU", "orgUnit", setup.org_unit.as_str(), 64),
        ("O", "org", setup.org.as_str(), 64),
        ("L", "locality", setup.locality.as_str(), 128),
        ("SP", "state", setup.state.as_str(), 128),
        ("C", "country", setup.country.as_str(), 2),
    ];
    let mut out = Vec::new();
    for (tag, field, value, max) in parts {
        let bad = |why: String| PlanError::Dname { field, why };
        if value.is_empty() {
            return Err(bad("empty".into()));
        }
        if value.len() > max {
            return Err(bad(format!("longer than {max} characters")));
        }
        if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(bad(
                "printable ASCII only (no control or non-ASCII character)".into(),
            ));
        }
        if tag == "C" && !value.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(bad("a two-letter country code".into()));
        }
        out.push((tag, value));
    }
    Ok(out)
}

fn subjectsdn(parts: &[(&str, &str)]) -> Vec<String> {
    let last = parts.len().saturating_sub(1);
    parts
        .iter()
        .enumerate()
        .map(|(i, (tag, value))| {
            let head = if i == 0 { "SUBJECTSDN(" } else { "" };
            let tail = if i == last { ")" } else { "" };
            format!("{head}{tag}({}){tail}", quoted(value))
        })
        .collect()
}

fn refresh(classes: &[&'static str]) -> Step {
    Step::new(
        &format!("SETROPTS RACLIST({}) REFRESH", classes.join(",")),
        Guard::Refresh(classes.to_vec()),
    )
}

fn connect_ca(label: &str, ring: &RingName) -> Step {
    Step::new("RACDCERT CONNECT(CERTAUTH", Guard::Always)
        .op(format!("LABEL({})", quoted(label)))
        .op(format!("RING({})", ring.ring))
        .op("USAGE(CERTAUTH))")
        .op(format!("ID({})", ring.owner))
}

/// The RDATALIB profile that lets a user read the ring: `OWNER.RING.LST`.
fn ring_profile(ring: &RingName) -> Result<String, PlanError> {
    let profile = format!("{}.{}.LST", ring.owner, ring.ring);
    if profile.len() > 246 {
        return Err(PlanError::ProfileTooLong(profile));
    }
    Ok(profile)
}

/// ZWENOKRR: what a former set-up made, removed; anything missing skipped.
fn cleanup(keyring: &KeyringSetup, scenario: Scenario, profile: &str) -> Vec<Step> {
    let ring = &keyring.ring;
    let user = &keyring.server_user;
    let mut steps = vec![
        Step::new("PERMIT IRR.DIGTCERT.GENCERT", Guard::BestEffort)
            .op("CLASS(FACILITY)")
            .op("DELETE")
            .op(format!("ID({user})"))
            .note("Clean-up first (--force, Zowe's ZWENOKRR): what is not there is skipped"),
        Step::new("PERMIT IRR.DIGTCERT.LISTRING", Guard::BestEffort)
            .op("CLASS(FACILITY)")
            .op("DELETE")
            .op(format!("ID({user})")),
        Step::new("SETROPTS RACLIST(FACILITY) REFRESH", Guard::BestEffort),
        Step::new(&format!("PERMIT {profile}"), Guard::BestEffort)
            .op("CLASS(RDATALIB)")
            .op("DELETE")
            .op(format!("ID({user})")),
        Step::new(&format!("RDELETE RDATALIB {profile}"), Guard::BestEffort),
        Step::new("SETROPTS RACLIST(RDATALIB) REFRESH", Guard::BestEffort),
    ];
    // The certificate option 2 connects is someone else's and was there
    // before: only what options 1 and 3 made is deleted.
    if scenario != Scenario::Connect {
        steps.push(
            Step::new(
                &format!("RACDCERT DELETE(LABEL({}))", quoted(&keyring.label)),
                Guard::BestEffort,
            )
            .op(format!("ID({})", ring.owner)),
        );
    }
    if scenario == Scenario::LocalCa {
        steps.push(
            Step::new(
                &format!("RACDCERT DELETE(LABEL({}))", quoted(&keyring.ca_label)),
                Guard::BestEffort,
            )
            .op("CERTAUTH"),
        );
    }
    steps.push(
        Step::new(
            &format!("RACDCERT DELRING({})", ring.ring),
            Guard::BestEffort,
        )
        .op(format!("ID({})", ring.owner)),
    );
    steps.push(Step::new(
        "SETROPTS RACLIST(DIGTCERT,DIGTRING) REFRESH",
        Guard::BestEffort,
    ));
    steps
}

/// The commands of the set-up, in ZWEIKRR's order, and the configuration
/// it leads to.
pub fn plan(
    setup: &SetupCertificateConfig,
    keyring: &KeyringSetup,
    choices: &Choices,
) -> Result<Plan, PlanError> {
    let scenario = scenario(keyring);
    let ring = &keyring.ring;
    let owner = &ring.owner;
    let user = &keyring.server_user;
    let profile = ring_profile(ring)?;
    let mut steps = if choices.overwrite {
        cleanup(keyring, scenario, &profile)
    } else {
        Vec::new()
    };
    let cleanup_steps = steps.len();

    steps.push(
        Step::new(&format!("RACDCERT ADDRING({})", ring.ring), Guard::Always)
            .op(format!("ID({owner})"))
            .note("Create the key ring"),
    );
    steps.push(refresh(&["DIGTRING"]));
    let personal_connect = |label: &str| {
        Step::new(&format!("RACDCERT CONNECT(ID({owner})"), Guard::Always)
            .op(format!("LABEL({})", quoted(label)))
            .op(format!("RING({})", ring.ring))
            .op("USAGE(PERSONAL)")
            .op("DEFAULT)")
            .op(format!("ID({owner})"))
    };
    let mut certificate_authorities = Vec::new();
    let alias = match (scenario, &keyring.connect, &keyring.import) {
        (Scenario::Connect, Some(connect), _) => {
            let owner_operand = match &connect.owner {
                CertificateOwner::Site => "SITE".to_owned(),
                CertificateOwner::User(id) => format!("ID({id})"),
            };
            steps.push(
                Step::new(&format!("RACDCERT CONNECT({owner_operand}"), Guard::Always)
                    .op(format!("LABEL({})", quoted(&connect.label)))
                    .op(format!("RING({})", ring.ring))
                    .op("USAGE(PERSONAL)")
                    .op("DEFAULT)")
                    .op(format!("ID({owner})"))
                    .note("Option 2: connect the existing certificate as the server's"),
            );
            connect.label.clone()
        }
        (Scenario::Import, _, Some(import)) => {
            let file = choices
                .import_file
                .clone()
                .unwrap_or_else(|| import.ds_name.clone());
            if file.is_empty() || !file.bytes().all(|b| (0x20..0x7f).contains(&b)) {
                return Err(PlanError::DataSet(
                    "printable ASCII only, not empty (no control or non-ASCII character)",
                ));
            }
            steps.push(
                Step::new(&format!("RACDCERT ADD({})", quoted(&file)), Guard::Always)
                    .op(format!("ID({owner})"))
                    .op(format!("WITHLABEL({})", quoted(&keyring.label)))
                    .secret_op("PASSWORD", import.password.expose())
                    .op("TRUST")
                    .note("Option 3: import the server certificate and its key"),
            );
            steps.push(personal_connect(&keyring.label));
            keyring.label.clone()
        }
        _ => {
            let ca_dn = dname_parts(setup, ("caCommonName", &setup.ca_common_name))?;
            let dn = dname_parts(setup, ("commonName", &setup.common_name))?;
            let mut gencert_ca = Step::new("RACDCERT GENCERT CERTAUTH", Guard::Always)
                .note("Option 1: Zowe's local CA, and a server certificate it signs");
            for part in subjectsdn(&ca_dn) {
                gencert_ca = gencert_ca.op(part);
            }
            steps.push(
                gencert_ca
                    .op("SIZE(2048)")
                    .op(format!("NOTAFTER(DATE({}))", choices.not_after))
                    .op(format!("WITHLABEL({})", quoted(&keyring.ca_label)))
                    .op("KEYUSAGE(CERTSIGN)"),
            );
            steps.push(
                Step::new("RACDCERT CONNECT(CERTAUTH", Guard::Always)
                    .op(format!("LABEL({})", quoted(&keyring.ca_label)))
                    .op(format!("RING({}))", ring.ring))
                    .op(format!("ID({owner})")),
            );
            let mut gencert = Step::new(&format!("RACDCERT GENCERT ID({owner})"), Guard::Always);
            for part in subjectsdn(&dn) {
                gencert = gencert.op(part);
            }
            gencert = gencert
                .op("SIZE(2048)")
                .op(format!("NOTAFTER(DATE({}))", choices.not_after))
                .op(format!("WITHLABEL({})", quoted(&keyring.label)))
                .op("KEYUSAGE(HANDSHAKE)");
            let alt = &choices.alt_name;
            if let Some(domain) = &alt.domain {
                check_domain(domain)?;
            }
            match (&alt.ip, &alt.domain) {
                (Some(ip), Some(domain)) => {
                    gencert = gencert
                        .op(format!("ALTNAME(IP({ip})"))
                        .op(format!("DOMAIN({}))", quoted(domain)));
                }
                (Some(ip), None) => gencert = gencert.op(format!("ALTNAME(IP({ip}))")),
                (None, Some(domain)) => {
                    gencert = gencert.op(format!("ALTNAME(DOMAIN({}))", quoted(domain)));
                }
                (None, None) => {}
            }
            steps.push(
                gencert
                    .op("SIGNWITH(CERTAUTH")
                    .op(format!("LABEL({}))", quoted(&keyring.ca_label))),
            );
            steps.push(personal_connect(&keyring.label));
            certificate_authorities.push(RingCertificate {
                ring: ring.clone(),
                label: keyring.ca_label.clone(),
            });
            keyring.label.clone()
        }
    };
    steps.push(refresh(&["DIGTCERT", "DIGTRING"]));

    if !keyring.certificate_authorities.is_empty() {
        for (i, label) in keyring.certificate_authorities.iter().enumerate() {
            let step = connect_ca(label, ring);
            steps.push(if i == 0 {
                step.note("Connect the CAs of the server certificate's chain")
            } else {
                step
            });
            certificate_authorities.push(RingCertificate {
                ring: ring.clone(),
                label: label.clone(),
            });
        }
        steps.push(refresh(&["DIGTCERT", "DIGTRING"]));
    }
    if let (true, Some(label)) = (choices.trust_zosmf, &keyring.zosmf_ca) {
        steps.push(connect_ca(label, ring).note("Connect z/OSMF's CA (verifyCertificates)"));
        steps.push(refresh(&["DIGTCERT", "DIGTRING"]));
    }

    steps.push(
        Step::new(
            "SETROPTS CLASSACT(RDATALIB) RACLIST(RDATALIB)",
            Guard::Always,
        )
        .note("Let the server's user read the ring and its private keys (RDATALIB)"),
    );
    steps.push(Step::new(&format!("RDEFINE RDATALIB {profile}"), Guard::Always).op("UACC(NONE)"));
    steps.push(
        Step::new(&format!("PERMIT {profile}"), Guard::Always)
            .op("CLASS(RDATALIB)")
            .op(format!("ID({user})"))
            .op("ACCESS(CONTROL)"),
    );
    steps.push(refresh(&["RDATALIB"]));
    steps.push(
        Step::new("PERMIT IRR.DIGTCERT.LISTRING", facility("IRR.DIGTCERT.LISTRING"))
            .op("CLASS(FACILITY)")
            .op(format!("ID({user})"))
            .op("ACCESS(READ)")
            .note("Where there is no RDATALIB profile (these fail where the FACILITY profiles do not exist)"),
    );
    steps.push(
        Step::new("PERMIT IRR.DIGTCERT.LIST", facility("IRR.DIGTCERT.LIST"))
            .op("CLASS(FACILITY)")
            .op(format!("ID({user})"))
            .op("ACCESS(READ)"),
    );
    if matches!(
        &keyring.connect,
        Some(connect) if scenario == Scenario::Connect && connect.owner == CertificateOwner::Site
    ) {
        steps.push(
            Step::new(
                "PERMIT IRR.DIGTCERT.GENCERT",
                facility("IRR.DIGTCERT.GENCERT"),
            )
            .op("CLASS(FACILITY)")
            .op(format!("ID({user})"))
            .op("ACCESS(CONTROL)")
            .note("SITE owns the server certificate: its key needs CONTROL on GENCERT"),
        );
    }
    steps.push(refresh(&["FACILITY"]));
    steps.push(
        Step::new(&format!("RACDCERT LISTRING({})", ring.ring), Guard::Always)
            .op(format!("ID({owner})"))
            .note("Show the ring"),
    );

    Ok(Plan {
        scenario,
        steps,
        cleanup_steps,
        runtime: RingRuntime {
            store_type: setup.store_type.clone(),
            ring: ring.clone(),
            alias,
            certificate_authorities,
        },
    })
}

fn facility(profile: &'static str) -> Guard {
    Guard::ProfileExists {
        class: "FACILITY",
        profile,
    }
}

impl Plan {
    /// The commands for a real RACF: TSO's layout, `/* */` comments, every
    /// step (guards are explained, not evaluated). Passwords masked unless
    /// `show_secrets`.
    pub fn dry_run(&self, show_secrets: bool) -> String {
        let mut out = comment(&format!(
            "zgate cert init, {}: key ring {}",
            self.scenario, self.runtime.ring
        ));
        for step in &self.steps {
            if let Some(note) = step.comment {
                out.push('\n');
                out.push_str(&comment(note));
            }
            out.push_str(&step.tso(show_secrets));
            out.push('\n');
        }
        out
    }
}

/// `/* text */` lines of at most [`TSO_WIDTH`] columns (a word too long
/// for a line is cut: it is a comment).
fn comment(text: &str) -> String {
    const ROOM: usize = TSO_WIDTH - 6;
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word = word;
        loop {
            let needed = word.len() + usize::from(!line.is_empty());
            if line.len() + needed <= ROOM {
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(word);
                break;
            }
            if line.is_empty() {
                // Comments hold ASCII only: any index is a boundary.
                line.push_str(&word[..ROOM]);
                word = &word[ROOM..];
            }
            lines.push(std::mem::take(&mut line));
        }
    }
    lines.push(line);
    lines
        .into_iter()
        .map(|line| format!("/* {line:<ROOM$} */\n"))
        .collect()
}

/// `yyyy-mm-dd` of the day `days` after the Unix epoch day `epoch_day`
/// (proleptic Gregorian, UTC).
pub fn date_after(epoch_day: i64, days: u32) -> String {
    zgate_base::iso_date(epoch_day + i64::from(days))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use zgate_config::{KeyringConnect, KeyringImport, Secret};

    fn setup() -> SetupCertificateConfig {
        let home = std::path::Path::new("/h");
        let (effective, _) = zgate_config::merge(
            home,
            None,
            false,
            &[
                "zowe.setup.certificate.type=JCERACFKS".into(),
                "zowe.setup.certificate.keyring.name=ZoweKeyring".into(),
            ],
        )
        .unwrap();
        zgate_config::Config::from_effective(&effective)
            .unwrap()
            .setup_certificate
    }

    fn keyring(setup: &SetupCertificateConfig) -> KeyringSetup {
        setup.keyring.clone().unwrap()
    }

    fn choices() -> Choices {
        Choices {
            not_after: "2036-12-04".into(),
            alt_name: AltName::first_of(&[
                "zowe.example.com".into(),
                "10.1.2.3".into(),
                "other.example.com".into(),
                "10.9.9.9".into(),
            ])
            .unwrap(),
            trust_zosmf: false,
            overwrite: false,
            import_file: None,
        }
    }

    fn texts(plan: &Plan) -> Vec<String> {
        plan.steps.iter().map(Step::text).collect()
    }

    /// Spec keyrings.md section 3.3, option 1, with Zowe's defaults for
    /// the placeholders.
    const OPTION_1: &str = "\
RACDCERT ADDRING(ZoweKeyring) ID(ZWESVUSR)
SETROPTS RACLIST(DIGTRING) REFRESH
RACDCERT GENCERT CERTAUTH SUBJECTSDN(CN('Zowe Development Instances Certificate Authority') OU('API Mediation Layer') O('Zowe Sample') L('Prague') SP('Prague') C('CZ')) SIZE(2048) NOTAFTER(DATE(2036-12-04)) WITHLABEL('localca') KEYUSAGE(CERTSIGN)
RACDCERT CONNECT(CERTAUTH LABEL('localca') RING(ZoweKeyring)) ID(ZWESVUSR)
RACDCERT GENCERT ID(ZWESVUSR) SUBJECTSDN(CN('Zowe Service') OU('API Mediation Layer') O('Zowe Sample') L('Prague') SP('Prague') C('CZ')) SIZE(2048) NOTAFTER(DATE(2036-12-04)) WITHLABEL('localhost') KEYUSAGE(HANDSHAKE) ALTNAME(IP(10.1.2.3) DOMAIN('zowe.example.com')) SIGNWITH(CERTAUTH LABEL('localca'))
RACDCERT CONNECT(ID(ZWESVUSR) LABEL('localhost') RING(ZoweKeyring) USAGE(PERSONAL) DEFAULT) ID(ZWESVUSR)
SETROPTS RACLIST(DIGTCERT,DIGTRING) REFRESH
SETROPTS CLASSACT(RDATALIB) RACLIST(RDATALIB)
RDEFINE RDATALIB ZWESVUSR.ZoweKeyring.LST UACC(NONE)
PERMIT ZWESVUSR.ZoweKeyring.LST CLASS(RDATALIB) ID(ZWESVUSR) ACCESS(CONTROL)
SETROPTS RACLIST(RDATALIB) REFRESH
PERMIT IRR.DIGTCERT.LISTRING CLASS(FACILITY) ID(ZWESVUSR) ACCESS(READ)
PERMIT IRR.DIGTCERT.LIST CLASS(FACILITY) ID(ZWESVUSR) ACCESS(READ)
SETROPTS RACLIST(FACILITY) REFRESH
RACDCERT LISTRING(ZoweKeyring) ID(ZWESVUSR)";

    #[test]
    fn option_1_is_zowes_command_sequence() {
        let setup = setup();
        let plan = self::plan(&setup, &keyring(&setup), &choices()).unwrap();
        assert_eq!(plan.scenario, Scenario::LocalCa);
        assert_eq!(texts(&plan).join("\n"), OPTION_1);
        assert_eq!(plan.cleanup_steps, 0);
        assert_eq!(plan.runtime.alias, "localhost");
        assert_eq!(plan.runtime.store_type, "JCERACFKS");
        assert_eq!(plan.runtime.ring.url(), "safkeyring://ZWESVUSR/ZoweKeyring");
        let cas: Vec<String> = plan
            .runtime
            .certificate_authorities
            .iter()
            .map(RingCertificate::url)
            .collect();
        assert_eq!(cas, ["safkeyring://ZWESVUSR/ZoweKeyring&localca"]);
        // Guards: FACILITY PERMITs only where the profiles exist; refreshes
        // of RACLISTed classes only.
        let guard_of = |text: &str| {
            plan.steps
                .iter()
                .find(|s| s.text().starts_with(text))
                .unwrap()
                .guard
                .clone()
        };
        assert_eq!(
            guard_of("PERMIT IRR.DIGTCERT.LIST "),
            Guard::ProfileExists {
                class: "FACILITY",
                profile: "IRR.DIGTCERT.LIST"
            }
        );
        assert_eq!(
            guard_of("SETROPTS RACLIST(FACILITY)"),
            Guard::Refresh(vec!["FACILITY"])
        );
        assert_eq!(guard_of("RACDCERT ADDRING"), Guard::Always);
    }

    #[test]
    fn scenario_follows_zowes_order() {
        let setup = setup();
        let mut keyring = keyring(&setup);
        assert_eq!(scenario(&keyring), Scenario::LocalCa);
        keyring.import = Some(KeyringImport {
            ds_name: "zowe.p12".into(),
            password: Secret::new("pw"),
        });
        assert_eq!(scenario(&keyring), Scenario::Import);
        keyring.connect = Some(KeyringConnect {
            owner: CertificateOwner::Site,
            label: "Site Cert".into(),
        });
        assert_eq!(scenario(&keyring), Scenario::Connect, "connect wins");
        keyring.import = None;
        assert_eq!(scenario(&keyring), Scenario::Connect);
    }

    #[test]
    fn option_2_connects_the_existing_certificate() {
        let setup = setup();
        let mut keyring = keyring(&setup);
        keyring.connect = Some(KeyringConnect {
            owner: CertificateOwner::User("CERTUSR".into()),
            label: "Zowe Cert".into(),
        });
        let plan = self::plan(&setup, &keyring, &choices()).unwrap();
        let texts = texts(&plan);
        assert_eq!(texts[0], "RACDCERT ADDRING(ZoweKeyring) ID(ZWESVUSR)");
        assert_eq!(
            texts[2],
            "RACDCERT CONNECT(ID(CERTUSR) LABEL('Zowe Cert') RING(ZoweKeyring) USAGE(PERSONAL) DEFAULT) ID(ZWESVUSR)"
        );
        assert_eq!(texts[3], "SETROPTS RACLIST(DIGTCERT,DIGTRING) REFRESH");
        assert!(!texts.iter().any(|t| t.contains("GENCERT")));
        assert_eq!(&texts[4..], &OPTION_1.lines().collect::<Vec<_>>()[7..]);
        assert_eq!(plan.runtime.alias, "Zowe Cert");
        assert!(plan.runtime.certificate_authorities.is_empty());

        keyring.connect = Some(KeyringConnect {
            owner: CertificateOwner::Site,
            label: "Site Cert".into(),
        });
        let plan = self::plan(&setup, &keyring, &choices()).unwrap();
        let texts = self::texts(&plan);
        assert!(texts[2].starts_with("RACDCERT CONNECT(SITE LABEL('Site Cert')"));
        assert!(texts.contains(
            &"PERMIT IRR.DIGTCERT.GENCERT CLASS(FACILITY) ID(ZWESVUSR) ACCESS(CONTROL)".to_owned()
        ));
    }

    #[test]
    fn a_long_password_of_any_characters_is_folded_on_character_boundaries() {
        let setup = setup();
        let mut keyring = keyring(&setup);
        let password = "pässwörd-ünïcödé-".repeat(12);
        keyring.import = Some(KeyringImport {
            ds_name: "ZOWE.CERT.P12".into(),
            password: Secret::new(password.clone()),
        });
        let mut choices = choices();
        choices.import_file = Some("/h/certs/zowe.p12".into());
        let plan = self::plan(&setup, &keyring, &choices).unwrap();
        let text = plan.dry_run(true);
        assert!(text.lines().all(|l| l.chars().count() <= 72), "{text}");
        // Continuation lines are indented: the password is whole once they
        // are joined without it.
        let joined: String = text
            .lines()
            .map(|l| l.trim_start().trim_end_matches('+'))
            .collect();
        assert!(joined.contains(&password), "{text}");
    }

    #[test]
    fn option_3_imports_the_package_with_its_password_masked_in_echoes() {
        let setup = setup();
        let mut keyring = keyring(&setup);
        keyring.import = Some(KeyringImport {
            ds_name: "ZOWE.CERT.P12".into(),
            password: Secret::new("it's secret"),
        });
        let mut choices = choices();
        choices.import_file = Some("/h/certs/zowe.p12".into());
        let plan = self::plan(&setup, &keyring, &choices).unwrap();
        assert_eq!(plan.scenario, Scenario::Import);
        let add = &plan.steps[2];
        assert_eq!(
            add.text(),
            "RACDCERT ADD('/h/certs/zowe.p12') ID(ZWESVUSR) WITHLABEL('localhost') PASSWORD('it''s secret') TRUST"
        );
        assert_eq!(
            add.masked(),
            "RACDCERT ADD('/h/certs/zowe.p12') ID(ZWESVUSR) WITHLABEL('localhost') PASSWORD('********') TRUST"
        );
        assert_eq!(
            plan.steps[3].text(),
            "RACDCERT CONNECT(ID(ZWESVUSR) LABEL('localhost') RING(ZoweKeyring) USAGE(PERSONAL) DEFAULT) ID(ZWESVUSR)"
        );
        assert!(!plan.dry_run(false).contains("secret"));
        assert!(plan.dry_run(true).contains("PASSWORD('it''s secret')"));
        assert!(plan.runtime.certificate_authorities.is_empty());
        // Without a resolved file, the data set name as configured.
        choices.import_file = None;
        let plan = self::plan(&setup, &keyring, &choices).unwrap();
        assert!(plan.steps[2]
            .text()
            .starts_with("RACDCERT ADD('ZOWE.CERT.P12')"));
    }

    #[test]
    fn force_cleans_up_first_as_zwenokrr_does() {
        let setup = setup();
        let mut choices = choices();
        choices.overwrite = true;
        let plan = self::plan(&setup, &keyring(&setup), &choices).unwrap();
        let texts = texts(&plan);
        assert_eq!(
            texts[..plan.cleanup_steps].join("\n"),
            "\
PERMIT IRR.DIGTCERT.GENCERT CLASS(FACILITY) DELETE ID(ZWESVUSR)
PERMIT IRR.DIGTCERT.LISTRING CLASS(FACILITY) DELETE ID(ZWESVUSR)
SETROPTS RACLIST(FACILITY) REFRESH
PERMIT ZWESVUSR.ZoweKeyring.LST CLASS(RDATALIB) DELETE ID(ZWESVUSR)
RDELETE RDATALIB ZWESVUSR.ZoweKeyring.LST
SETROPTS RACLIST(RDATALIB) REFRESH
RACDCERT DELETE(LABEL('localhost')) ID(ZWESVUSR)
RACDCERT DELETE(LABEL('localca')) CERTAUTH
RACDCERT DELRING(ZoweKeyring) ID(ZWESVUSR)
SETROPTS RACLIST(DIGTCERT,DIGTRING) REFRESH"
        );
        assert!(plan.steps[..plan.cleanup_steps]
            .iter()
            .all(|s| s.guard == Guard::BestEffort));
        assert_eq!(texts[plan.cleanup_steps..].join("\n"), OPTION_1);

        // Option 2 never deletes the certificate it connected.
        let mut keyring = keyring(&setup);
        keyring.connect = Some(KeyringConnect {
            owner: CertificateOwner::Site,
            label: "Site Cert".into(),
        });
        let plan = self::plan(&setup, &keyring, &choices).unwrap();
        assert!(!self::texts(&plan)[..plan.cleanup_steps]
            .iter()
            .any(|t| t.starts_with("RACDCERT DELETE")));
    }

    #[test]
    fn imported_cas_and_zosmf_are_connected_as_certauth() {
        let setup = setup();
        let mut keyring = keyring(&setup);
        keyring.certificate_authorities = vec!["Intermediate CA".into(), "Root CA".into()];
        keyring.zosmf_ca = Some("zOSMFCA".into());
        let mut choices = choices();
        let plan = self::plan(&setup, &keyring, &choices).unwrap();
        let texts = texts(&plan);
        let at = texts
            .iter()
            .position(|t| t.contains("'Intermediate CA'"))
            .unwrap();
        assert_eq!(
            texts[at..at + 3],
            [
                "RACDCERT CONNECT(CERTAUTH LABEL('Intermediate CA') RING(ZoweKeyring) USAGE(CERTAUTH)) ID(ZWESVUSR)",
                "RACDCERT CONNECT(CERTAUTH LABEL('Root CA') RING(ZoweKeyring) USAGE(CERTAUTH)) ID(ZWESVUSR)",
                "SETROPTS RACLIST(DIGTCERT,DIGTRING) REFRESH",
            ]
        );
        assert!(
            !texts.iter().any(|t| t.contains("zOSMFCA")),
            "not without verifyCertificates"
        );
        let cas: Vec<String> = plan
            .runtime
            .certificate_authorities
            .iter()
            .map(RingCertificate::url)
            .collect();
        assert_eq!(
            cas,
            [
                "safkeyring://ZWESVUSR/ZoweKeyring&localca",
                "safkeyring://ZWESVUSR/ZoweKeyring&Intermediate CA",
                "safkeyring://ZWESVUSR/ZoweKeyring&Root CA",
            ]
        );
        choices.trust_zosmf = true;
        let plan = self::plan(&setup, &keyring, &choices).unwrap();
        assert!(self::texts(&plan).contains(
            &"RACDCERT CONNECT(CERTAUTH LABEL('zOSMFCA') RING(ZoweKeyring) USAGE(CERTAUTH)) ID(ZWESVUSR)"
                .to_owned()
        ));
    }

    #[test]
    fn the_ring_owner_and_the_server_user_may_differ() {
        let setup = setup();
        let mut keyring = keyring(&setup);
        keyring.ring.owner = "RINGOWN".into();
        let plan = self::plan(&setup, &keyring, &choices()).unwrap();
        let texts = texts(&plan);
        assert_eq!(texts[0], "RACDCERT ADDRING(ZoweKeyring) ID(RINGOWN)");
        assert!(texts.contains(
            &"PERMIT RINGOWN.ZoweKeyring.LST CLASS(RDATALIB) ID(ZWESVUSR) ACCESS(CONTROL)"
                .to_owned()
        ));
        assert!(texts.contains(&"RACDCERT LISTRING(ZoweKeyring) ID(RINGOWN)".to_owned()));
    }

    #[test]
    fn hostile_values_never_reach_a_command() {
        let mut setup = setup();
        let keyring = keyring(&setup);
        setup.org = "Acme') ID(IBMUSER".into();
        let plan = self::plan(&setup, &keyring, &choices()).unwrap();
        assert!(texts(&plan)[2].contains("O('Acme'') ID(IBMUSER')"));
        for (field, value) in [
            ("org", "Ev\u{1b}il"),
            ("org", ""),
            ("country", "CZE"),
            ("country", "1Z"),
            ("org", "Zówe"),
        ] {
            let mut bad = setup.clone();
            match field {
                "org" => bad.org = value.into(),
                _ => bad.country = value.into(),
            }
            assert!(
                matches!(
                    self::plan(&bad, &keyring, &choices()),
                    Err(PlanError::Dname { .. })
                ),
                "{field}={value:?}"
            );
        }
        for san in ["evil') ID(X", "host name", "h\u{0}st"] {
            assert!(AltName::first_of(&[san.into()]).is_err(), "{san:?}");
        }
        let mut long = keyring.clone();
        long.ring.ring = "R".repeat(237);
        assert!(matches!(
            self::plan(&setup, &long, &choices()),
            Err(PlanError::ProfileTooLong(_))
        ));
        let mut import = keyring.clone();
        import.import = Some(KeyringImport {
            ds_name: "a\u{7}b".into(),
            password: Secret::new("pw"),
        });
        assert!(matches!(
            self::plan(&setup, &import, &choices()),
            Err(PlanError::DataSet(_))
        ));
    }

    #[test]
    fn altname_takes_the_first_domain_and_the_first_ip() {
        let alt =
            AltName::first_of(&["[::1]".into(), "a.example".into(), "10.0.0.1".into()]).unwrap();
        assert_eq!(alt.domain.as_deref(), Some("a.example"));
        assert_eq!(alt.ip, Some("::1".parse().unwrap()));
        let setup = setup();
        let mut choices = choices();
        choices.alt_name = AltName {
            domain: Some("only.example".into()),
            ip: None,
        };
        let plan = self::plan(&setup, &keyring(&setup), &choices).unwrap();
        assert!(texts(&plan)[4].contains(" ALTNAME(DOMAIN('only.example')) SIGNWITH"));
        choices.alt_name = AltName::default();
        let plan = self::plan(&setup, &keyring(&setup), &choices).unwrap();
        assert!(!texts(&plan)[4].contains("ALTNAME"));
    }

    #[test]
    fn the_dry_run_is_tso_batch_text_that_reads_back_as_the_same_commands() {
        let mut setup = setup();
        setup.ca_common_name = "A CA name long enough to push the line far past column 72".into();
        let mut keyring = keyring(&setup);
        keyring.ring.ring = format!("Ring{}", "x".repeat(100));
        keyring.certificate_authorities = vec!["Root CA".into()];
        let mut choices = choices();
        choices.overwrite = true;
        let plan = self::plan(&setup, &keyring, &choices).unwrap();
        let text = plan.dry_run(true);
        for line in text.lines() {
            assert!(line.len() <= TSO_WIDTH, "{line}");
        }
        assert!(text.contains(" +\n"));
        let read: Vec<String> = zgate_esm::split_batch(&text)
            .unwrap()
            .into_iter()
            .map(|c| c.text)
            .collect();
        assert_eq!(read, texts(&plan));
        assert!(
            text.starts_with("/* zgate cert init, option 1: a local CA"),
            "{text}"
        );
    }

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(date_after(0, 0), "1970-01-01");
        assert_eq!(date_after(0, 365), "1971-01-01");
        // 2024-02-28 is day 19781.
        assert_eq!(date_after(19781, 1), "2024-02-29");
        assert_eq!(date_after(19781, 2), "2024-03-01");
        assert_eq!(date_after(19781, 3650), "2034-02-25");
        assert_eq!(date_after(10956, 0), "1999-12-31");
        assert_eq!(date_after(10956, 1), "2000-01-01");
    }
}
