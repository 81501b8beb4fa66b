//! RACDCERT's certificate and key ring functions: GENCERT, ADD, ADDRING,
//! CONNECT, REMOVE, LISTRING, DELRING, LIST, DELETE, ALTER, EXPORT,
//! CHECKCERT (the records and layouts are [`crate::digtcert`]'s).
//!
//! Authority (keyrings spec §2.1): SPECIAL bypasses; otherwise FACILITY
//! `IRR.DIGTCERT.<function>`, READ for one's own objects, UPDATE for
//! another user's, CONTROL for CERTAUTH and SITE ones, decided on the
//! state the command runs against (the class's in-storage copy when it is
//! RACLISTed, as every check). Refusals are `IRRD101I`.
//!
//! Message ids: the IRRD ids RACF documents (101, 114, 115, 116, 120,
//! 121, 128, 133, 156); zgate-specific ones, with no RACF counterpart
//! found: `IRRD104I` certificate not found, `IRRD107I` label already in
//! use, `IRRD111I` certificate already defined (same serial and issuer),
//! `IRRD190I` ring already exists, `IRRD191I` not supported (ICSF, PKDS,
//! tokens, request data sets, other algorithms), `IRRD192I` no
//! key-encryption key, `IRRD193I` data set problems, `IRRD194I` invalid
//! values, `IRRD195I` a package's CA certificates not added (no CONTROL).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;
use zgate_pki::issue::{AltName, KeyUsageBit, NewKeySpec, SignerRef, SubjectAttr};

use super::context::{CommandError, CommandErrorKind, FileExport, Issuer};
use super::exec::Exec;
use crate::certmap::{CertNames, REG_KIND};
use crate::digtcert::{
    self as dc, cert_key, label_problem, ring_key, ring_problem, CertOwner, Connection, StoredCert,
    StoredRing, Trust, Usage, CERT_KIND, RING_KIND,
};
use crate::index::Index;
use crate::model::{normalize_id, AccessLevel};
use crate::state::Change;
use crate::syntax::{texts, Operand};

/// The functions this file runs.
pub(super) const FUNCTIONS: &[&str] = &[
    "GENCERT",
    "ADD",
    "ADDRING",
    "CONNECT",
    "REMOVE",
    "LISTRING",
    "DELRING",
    "LIST",
    "DELETE",
    "ALTER",
    "EXPORT",
    "CHECKCERT",
];

/// Keywords of zgate's unsupported key stores.
const UNSUPPORTED: &[&str] = &[
    "ICSF", "PCICC", "PKDS", "TOKEN", "FROMICSF", "BPECC", "DSA", "REQUEST", "GENREQ",
];

fn err(kind: CommandErrorKind, msg: impl Into<String>) -> CommandError {
    CommandError::new(kind, msg)
}

fn not_authorized() -> CommandError {
    err(
        CommandErrorKind::NotAuthorized,
        "IRRD101I You are not authorized to issue the RACDCERT command.",
    )
}

fn invalid(msg: impl Into<String>) -> CommandError {
    err(
        CommandErrorKind::Invalid,
        format!("IRRD194I {}", msg.into()),
    )
}

fn unsupported(what: &str) -> CommandError {
    err(
        CommandErrorKind::NotSupported,
        format!("IRRD191I {what} is not supported: zgate keeps certificates and private keys in its own store (no ICSF, PKDS, PCICC, tokens or request data sets; RSA and NISTECC keys only)"),
    )
}

fn not_found(owner: &CertOwner, label: &str) -> CommandError {
    err(
        CommandErrorKind::NotFound,
        format!(
            "IRRD104I Certificate with label '{label}' not found for {}.",
            owner.tag()
        ),
    )
}

/// The operands of one RACDCERT function, read once.
#[derive(Default)]
struct Parsed {
    function: Option<(String, Vec<Operand>)>,
    /// Top-level `ID(x)`, `CERTAUTH`, `SITE`.
    owner_id: Option<String>,
    certauth: bool,
    site: bool,
    trust: Option<Trust>,
    /// Other keywords and words, by name.
    keywords: Vec<(String, Vec<Operand>)>,
    words: Vec<String>,
}

impl Parsed {
    fn kw(&self, name: &str) -> Option<&[Operand]> {
        self.keywords
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, a)| a.as_slice())
    }
}

fn one_text(args: &[Operand], what: &str) -> Result<String, CommandError> {
    match texts(args).as_slice() {
        [(t, _)] => Ok(t.clone()),
        _ => Err(err(
            CommandErrorKind::Syntax,
            format!("IKJ56702I INVALID {what}: EXACTLY ONE VALUE IS REQUIRED"),
        )),
    }
}

fn trust_word(w: &str) -> Option<Trust> {
    match w {
        "TRUST" => Some(Trust::Trust),
        "NOTRUST" => Some(Trust::NoTrust),
        "HIGHTRUST" => Some(Trust::HighTrust),
        _ => None,
    }
}

fn parse(ops: &[Operand]) -> Result<Parsed, CommandError> {
    let mut p = Parsed::default();
    let set_function = |p: &mut Parsed, name: &str, args: Vec<Operand>| {
        if p.function.is_some() {
            return Err(err(
                CommandErrorKind::Syntax,
                "IKJ56702I ONLY ONE RACDCERT FUNCTION MAY BE GIVEN",
            ));
        }
        p.function = Some((name.to_owned(), args));
        Ok(())
    };
    for op in ops {
        match op {
            Operand::Word { text, quoted } => {
                let w = text.to_ascii_uppercase();
                if *quoted {
                    return Err(err(
                        CommandErrorKind::Syntax,
                        format!("IKJ56712I INVALID KEYWORD, '{text}'"),
                    ));
                }
                if UNSUPPORTED.contains(&w.as_str()) {
                    return Err(unsupported(&w));
                }
                if FUNCTIONS.contains(&w.as_str()) {
                    set_function(&mut p, &w, Vec::new())?;
                } else if w == "CERTAUTH" {
                    p.certauth = true;
                } else if w == "SITE" {
                    p.site = true;
                } else if let Some(t) = trust_word(&w) {
                    p.trust = Some(t);
                } else if matches!(w.as_str(), "RSA" | "NISTECC" | "DEFAULT") {
                    p.words.push(w);
                } else {
                    return Err(err(
                        CommandErrorKind::Syntax,
                        format!("IKJ56712I INVALID KEYWORD, {w}"),
                    ));
                }
            }
            Operand::Keyword { name, args } => {
                if UNSUPPORTED.contains(&name.as_str()) {
                    return Err(unsupported(name));
                }
                if FUNCTIONS.contains(&name.as_str()) {
                    set_function(&mut p, name, args.clone())?;
                } else if name == "ID" {
                    p.owner_id = Some(one_text(args, "ID")?);
                } else if matches!(
                    name.as_str(),
                    "SUBJECTSDN"
                        | "SIZE"
                        | "NOTBEFORE"
                        | "NOTAFTER"
                        | "WITHLABEL"
                        | "SIGNWITH"
                        | "KEYUSAGE"
                        | "ALTNAME"
                        | "PASSWORD"
                        | "NEWLABEL"
                        | "DSN"
                        | "FORMAT"
                ) {
                    if p.kw(name).is_some() {
                        return Err(err(
                            CommandErrorKind::Syntax,
                            format!("IKJ56702I {name} IS GIVEN TWICE"),
                        ));
                    }
                    p.keywords.push((name.clone(), args.clone()));
                } else {
                    return Err(err(
                        CommandErrorKind::Syntax,
                        format!("IKJ56712I INVALID KEYWORD, {name}"),
                    ));
                }
            }
            Operand::List(_) => {
                return Err(err(CommandErrorKind::Syntax, "IKJ56712I INVALID OPERAND"))
            }
        }
    }
    Ok(p)
}

/// Reads `[ID(u)|CERTAUTH|SITE] LABEL('l') RING(r) USAGE(u) DEFAULT`
/// inside CONNECT/REMOVE/DELETE/ALTER/EXPORT/LIST.
#[derive(Default)]
struct Inner {
    owner_id: Option<String>,
    certauth: bool,
    site: bool,
    label: Option<String>,
    ring: Option<String>,
    usage: Option<Usage>,
    default: bool,
}

fn parse_inner(args: &[Operand]) -> Result<Inner, CommandError> {
    let mut i = Inner::default();
    for op in args {
        match op {
            Operand::Word {
                text,
                quoted: false,
            } => match text.to_ascii_uppercase().as_str() {
                "CERTAUTH" => i.certauth = true,
                "SITE" => i.site = true,
                "DEFAULT" => i.default = true,
                other => {
                    return Err(err(
                        CommandErrorKind::Syntax,
                        format!("IKJ56712I INVALID KEYWORD, {other}"),
                    ))
                }
            },
            Operand::Keyword { name, args } => match name.as_str() {
                "ID" => i.owner_id = Some(one_text(args, "ID")?),
                "LABEL" => i.label = Some(one_text(args, "LABEL")?),
                "RING" => i.ring = Some(one_text(args, "RING")?),
                "USAGE" => {
                    i.usage = Some(
                        match one_text(args, "USAGE")?.to_ascii_uppercase().as_str() {
                            "PERSONAL" => Usage::Personal,
                            "CERTAUTH" => Usage::CertAuth,
                            "SITE" => Usage::Site,
                            other => {
                                return Err(err(
                                    CommandErrorKind::Syntax,
                                    format!("IKJ56702I INVALID USAGE, {other}"),
                                ))
                            }
                        },
                    )
                }
                other => {
                    return Err(err(
                        CommandErrorKind::Syntax,
                        format!("IKJ56712I INVALID KEYWORD, {other}"),
                    ))
                }
            },
            _ => return Err(err(CommandErrorKind::Syntax, "IKJ56712I INVALID OPERAND")),
        }
    }
    Ok(i)
}

fn check_label(label: &str) -> Result<(), CommandError> {
    match label_problem(label) {
        Some(why) => Err(invalid(format!("Label is not valid: {why}."))),
        None => Ok(()),
    }
}

fn check_ring(ring: &str) -> Result<(), CommandError> {
    match ring_problem(ring) {
        Some(why) => Err(invalid(format!("Ring name is not valid: {why}."))),
        None => Ok(()),
    }
}

/// Reads a host file named as a data set: a regular file up to 1 MiB, so
/// a FIFO or a device cannot stall commands waiting for the ESM's lock.
fn read_dataset(path: &str) -> Result<Vec<u8>, CommandError> {
    let bad = |why: String| err(CommandErrorKind::NotFound, format!("IRRD193I {why}"));
    if path.is_empty() || path.chars().any(char::is_control) {
        return Err(invalid("The data set name is not valid."));
    }
    let meta = std::fs::metadata(path).map_err(|e| bad(format!("Cannot read {path}: {e}")))?;
    if !meta.is_file() || meta.len() > 1024 * 1024 {
        return Err(bad(format!(
            "{path} is not a certificate file (a regular file up to 1 MiB)"
        )));
    }
    std::fs::read(path).map_err(|e| bad(format!("Cannot read {path}: {e}")))
}

/// What a data set holds.
struct Package {
    /// The first certificate (the end entity) first.
    certs: Vec<Vec<u8>>,
    key: Option<zgate_pki::PrivateKey>,
}

fn read_package(bytes: &[u8], password: Option<&str>) -> Result<Package, CommandError> {
    let bad = |why: String| invalid(format!("The data set does not hold a certificate: {why}"));
    if let Ok(certs) = zgate_pki::store::parse_certs(bytes, std::path::Path::new("data set")) {
        return Ok(Package {
            certs: certs.into_iter().map(|c| c.to_vec()).collect(),
            key: None,
        });
    }
    if let Ok(certs) = zgate_pki::issue::pkcs7_certificates(bytes) {
        return Ok(Package { certs, key: None });
    }
    let Some(password) = password else {
        return Err(bad(
            "not PEM, DER or PKCS#7; a PKCS#12 package needs PASSWORD".into(),
        ));
    };
    let store = zgate_pki::Keystore::from_pkcs12(
        bytes,
        &zgate_pki::Secret::new(password.to_owned()),
        std::path::Path::new("data set"),
    )
    .map_err(|e| bad(e.to_string()))?;
    let Some(entry) = store.keys.first() else {
        let certs: Vec<Vec<u8>> = store.trusted.iter().map(|t| t.cert.to_vec()).collect();
        if certs.is_empty() {
            return Err(bad("the PKCS#12 package is empty".into()));
        }
        return Ok(Package { certs, key: None });
    };
    let mut certs: Vec<Vec<u8>> = entry.chain.iter().map(|c| c.to_vec()).collect();
    certs.extend(store.trusted.iter().map(|t| t.cert.to_vec()));
    Ok(Package {
        certs,
        key: Some(entry.key.clone()),
    })
}

fn parse_date_time(args: &[Operand], end: bool) -> Result<SystemTime, CommandError> {
    let mut date = None;
    let mut time = None;
    for op in args {
        match op {
            Operand::Keyword { name, args } if name == "DATE" => {
                date = Some(one_text(args, "DATE")?)
            }
            Operand::Keyword { name, args } if name == "TIME" => {
                time = Some(one_text(args, "TIME")?)
            }
            _ => return Err(invalid("Write DATE(yyyy-mm-dd) TIME(hh:mm:ss).")),
        }
    }
    let date = date.ok_or_else(|| invalid("DATE(yyyy-mm-dd) is required."))?;
    let nums = |s: &str, sep: char, n: usize| -> Option<Vec<i64>> {
        let parts: Vec<&str> = s.split(sep).collect();
        if parts.len() != n
            || parts
                .iter()
                .any(|p| p.is_empty() || p.len() > 4 || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        parts.iter().map(|p| p.parse().ok()).collect()
    };
    let d = nums(&date, '-', 3)
        .filter(|d| {
            // Up to 9998: a default NOTAFTER a year later stays within
            // the year 9999 that X.509 times and the time library end at.
            (1970..=9998).contains(&d[0]) && (1..=12).contains(&d[1]) && (1..=31).contains(&d[2])
        })
        .ok_or_else(|| invalid(format!("DATE({date}) is not a date yyyy-mm-dd.")))?;
    let t = match &time {
        Some(t) => nums(t, ':', 3)
            .filter(|t| t[0] < 24 && t[1] < 60 && t[2] < 60)
            .ok_or_else(|| invalid(format!("TIME({t}) is not a time hh:mm:ss.")))?,
        None if end => vec![23, 59, 59],
        None => vec![0, 0, 0],
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m, day) = (d[0], d[1], d[2]);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    // 2030-02-31 is no date: it would roll over into March.
    let (cy, cm, cd) = zgate_base::civil_date(days);
    if (cy, i64::from(cm), i64::from(cd)) != (d[0], d[1], d[2]) {
        return Err(invalid(format!("DATE({date}) is not a date yyyy-mm-dd.")));
    }
    let secs = days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2];
    let secs = u64::try_from(secs).map_err(|_| invalid("Dates before 1970 are not accepted."))?;
    Ok(UNIX_EPOCH + Duration::from_secs(secs))
}

fn system_time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// The level of `IRR.DIGTCERT.<fn>` a non-SPECIAL issuer needs for a
/// certificate of `owner`: READ own, UPDATE another user's, CONTROL
/// CERTAUTH or SITE.
fn level_for(owner: &CertOwner, issuer: &str) -> AccessLevel {
    match owner {
        CertOwner::User(u) if u == issuer => AccessLevel::Read,
        CertOwner::User(_) => AccessLevel::Update,
        CertOwner::CertAuth | CertOwner::Site => AccessLevel::Control,
    }
}

/// Who issues: the operator and SPECIAL users pass every check.
enum Authority {
    All,
    User(String),
}

impl Exec<'_> {
    fn authority(&self) -> Result<Authority, CommandError> {
        match self.env.issuer {
            Issuer::Operator => Ok(Authority::All),
            Issuer::User(u) => {
                let id = u.to_ascii_uppercase();
                match self.state.users.get(&id) {
                    Some(user) if !user.revoked && user.special => Ok(Authority::All),
                    Some(user) if !user.revoked => Ok(Authority::User(id)),
                    _ => Err(not_authorized()),
                }
            }
        }
    }

    /// Whether the issuer holds `level` on `IRR.DIGTCERT.<function>`.
    fn facility(&self, user: &str, function: &str, level: AccessLevel) -> bool {
        let resource = format!("IRR.DIGTCERT.{function}");
        Index::for_class(self.state, "FACILITY", user)
            .decide(user, "FACILITY", &resource, level, &Default::default())
            .authorized()
    }

    fn require(
        &self,
        auth: &Authority,
        function: &str,
        level: AccessLevel,
    ) -> Result<(), CommandError> {
        match auth {
            Authority::All => Ok(()),
            Authority::User(u) if self.facility(u, function, level) => Ok(()),
            Authority::User(_) => Err(not_authorized()),
        }
    }

    fn issuer_id(&self) -> Option<String> {
        match self.env.issuer {
            Issuer::Operator => None,
            Issuer::User(u) => Some(u.to_ascii_uppercase()),
        }
    }

    fn user_defined(&self, raw: &str) -> Result<String, CommandError> {
        let id = normalize_id(raw).map_err(|e| invalid(format!("ID({raw}): {e}")))?;
        if !self.state.users.contains_key(&id) {
            return Err(err(
                CommandErrorKind::NotFound,
                format!("IRRD103I USER({id}) NOT DEFINED TO RACF"),
            ));
        }
        Ok(id)
    }

    /// The owner named by `ID(u)`/`CERTAUTH`/`SITE`, else the issuer.
    /// The label of a new certificate of `owner`: `WITHLABEL`, checked and
    /// not in use, or the next generated one (GENCERT, ADD).
    fn new_label(&self, p: &Parsed, owner: &CertOwner) -> Result<String, CommandError> {
        let label = match p.kw("WITHLABEL") {
            Some(a) => {
                let l = one_text(a, "WITHLABEL")?;
                check_label(&l)?;
                l
            }
            None => self.next_label(owner, &[]),
        };
        if dc::cert(&self.state.records, owner, &label).is_some() {
            return Err(label_in_use(owner, &label));
        }
        Ok(label)
    }

    /// The `LABEL('...')` of a function's operand and the owner of the
    /// certificate it names (ALTER, DELETE, EXPORT).
    fn labelled_certificate(
        &self,
        args: &[Operand],
        p: &Parsed,
    ) -> Result<(String, CertOwner), CommandError> {
        let label = parse_inner(args)?
            .label
            .ok_or_else(|| err(CommandErrorKind::Syntax, "IKJ56701I MISSING LABEL"))?;
        check_label(&label)?;
        Ok((label, self.owner_of(&p.owner_id, p.certauth, p.site)?))
    }

    fn owner_of(
        &self,
        id: &Option<String>,
        certauth: bool,
        site: bool,
    ) -> Result<CertOwner, CommandError> {
        match (id, certauth, site) {
            (None, false, false) => self.issuer_id().map(CertOwner::User).ok_or_else(|| {
                err(
                    CommandErrorKind::Syntax,
                    "IKJ56701I MISSING ID(userid), CERTAUTH OR SITE",
                )
            }),
            (Some(u), false, false) => Ok(CertOwner::User(self.user_defined(u)?)),
            (None, true, false) => Ok(CertOwner::CertAuth),
            (None, false, true) => Ok(CertOwner::Site),
            _ => Err(err(
                CommandErrorKind::Syntax,
                "IKJ56702I GIVE ONE OF ID(userid), CERTAUTH, SITE",
            )),
        }
    }

    /// The ring owner: `ID(u)` (never CERTAUTH or SITE: IRRD120I), else
    /// the issuer.
    fn ring_owner(&self, p: &Parsed) -> Result<String, CommandError> {
        if p.certauth {
            return Err(invalid_owner("CERTAUTH"));
        }
        if p.site {
            return Err(invalid_owner("SITE"));
        }
        match &p.owner_id {
            Some(u) => self.user_defined(u),
            None => self
                .issuer_id()
                .ok_or_else(|| err(CommandErrorKind::Syntax, "IKJ56701I MISSING ID(userid)")),
        }
    }

    fn next_label(&self, owner: &CertOwner, taken: &[String]) -> String {
        let records = &self.state.records;
        (1..)
            .map(|n| format!("LABEL{n:08}"))
            .find(|l| records.get(CERT_KIND, &cert_key(owner, l)).is_none() && !taken.contains(l))
            .unwrap_or_default()
    }

    fn defined_elsewhere(&self, cert: &StoredCert) -> Option<(CertOwner, String)> {
        dc::all_certs(&self.state.records)
            .into_iter()
            .find(|(_, _, c)| c.serial == cert.serial && c.issuer == cert.issuer)
            .map(|(o, l, _)| (o, l))
    }

    fn seal(
        &self,
        owner: &CertOwner,
        label: &str,
        pkcs8: &[u8],
    ) -> Result<crate::keywrap::WrappedKey, CommandError> {
        let kek = self.env.key_encryption.ok_or_else(|| {
            err(
                CommandErrorKind::Invalid,
                "IRRD192I No key-encryption key is configured: private keys are stored only encrypted (state/esm-key-encryption.key). The request is not processed.",
            )
        })?;
        kek.wrap(&cert_key(owner, label), pkcs8, self.env.random)
            .map_err(|e| invalid(e.to_string()))
    }

    fn open_key(
        &self,
        owner: &CertOwner,
        label: &str,
        cert: &StoredCert,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, CommandError> {
        let Some(wrapped) = &cert.key else {
            return Ok(None);
        };
        let kek = self.env.key_encryption.ok_or_else(|| {
            invalid("No key-encryption key is configured; the private key cannot be opened.")
        })?;
        kek.unwrap_key(&cert_key(owner, label), wrapped)
            .map(Some)
            .map_err(|e| invalid(e.to_string()))
    }

    /// Puts a certificate (and the registration that maps a user's
    /// certificate to the user at logon).
    fn put_cert(&mut self, owner: &CertOwner, label: &str, cert: &StoredCert, der: &[u8]) {
        self.out.changes.push(Change::put_record(
            CERT_KIND,
            &cert_key(owner, label),
            cert.encode(),
        ));
        if let (CertOwner::User(u), Ok(names)) = (owner, CertNames::from_der(der)) {
            // A NOTRUST certificate stays registered (LIST shows it) and
            // logs nobody on: the registration says so.
            let notrust = if cert.trust == Trust::NoTrust {
                "\tNOTRUST"
            } else {
                ""
            };
            self.out.changes.push(Change::put_record(
                REG_KIND,
                &format!("{}|{}", names.issuer.join("."), names.serial),
                format!("{u}\t{label}\t{}{notrust}", names.subject.join(".")),
            ));
        }
    }

    fn delete_cert(&mut self, owner: &CertOwner, label: &str, cert: &StoredCert) {
        self.out
            .changes
            .push(Change::delete_record(CERT_KIND, &cert_key(owner, label)));
        if matches!(owner, CertOwner::User(_)) {
            self.out.changes.push(Change::delete_record(
                REG_KIND,
                &format!("{}|{}", cert.issuer, cert.serial),
            ));
        }
    }

    pub(super) fn racdcert_rings(&mut self, ops: &[Operand]) -> Result<(), CommandError> {
        let p = parse(ops)?;
        let auth = self.authority()?;
        let Some((function, args)) = p.function.clone() else {
            return Err(err(
                CommandErrorKind::Syntax,
                "IKJ56701I MISSING RACDCERT FUNCTION",
            ));
        };
        match function.as_str() {
            "ADDRING" | "DELRING" | "LISTRING" => self.ring_function(&function, &args, &p, &auth),
            "CONNECT" | "REMOVE" => self.connection(&function, &args, &p, &auth),
            "GENCERT" => self.gencert(&args, &p, &auth),
            "ADD" => self.add(&args, &p, &auth),
            "LIST" => self.list(&args, &p, &auth),
            "DELETE" | "ALTER" => self.alter_or_delete(&function, &args, &p, &auth),
            "EXPORT" => self.export(&args, &p, &auth),
            _ => self.checkcert(&args, &p, &auth),
        }
    }

    fn ring_function(
        &mut self,
        function: &str,
        args: &[Operand],
        p: &Parsed,
        auth: &Authority,
    ) -> Result<(), CommandError> {
        let owner = self.ring_owner(p)?;
        let own = matches!(auth, Authority::User(u) if *u == owner);
        self.require(
            auth,
            function,
            if own {
                AccessLevel::Read
            } else {
                AccessLevel::Update
            },
        )?;
        let name = match args {
            [] if function == "LISTRING" => "*".to_owned(),
            _ => one_text(args, function)?,
        };
        let records = &self.state.records;
        match function {
            "LISTRING" => {
                let rings: Vec<(String, StoredRing)> = if name == "*" {
                    dc::rings_of(records, &owner).into_iter().collect()
                } else {
                    check_ring(&name)?;
                    let ring = dc::ring(records, &owner, &name).ok_or_else(|| no_ring(&name))?;
                    vec![(name.clone(), ring)]
                };
                if rings.is_empty() {
                    return Err(err(
                        CommandErrorKind::NotFound,
                        format!("IRRD115I User {owner} has no rings."),
                    ));
                }
                self.out.lines.extend(dc::listring_lines(&owner, &rings));
            }
            "ADDRING" => {
                check_ring(&name)?;
                if records.get(RING_KIND, &ring_key(&owner, &name)).is_some() {
                    return Err(err(
                        CommandErrorKind::Duplicate,
                        format!("IRRD190I Ring {name} already exists for user {owner}."),
                    ));
                }
                self.out.changes.push(Change::put_record(
                    RING_KIND,
                    &ring_key(&owner, &name),
                    StoredRing::default().encode(),
                ));
            }
            _ => {
                check_ring(&name)?;
                if records.get(RING_KIND, &ring_key(&owner, &name)).is_none() {
                    return Err(no_ring(&name));
                }
                self.out
                    .changes
                    .push(Change::delete_record(RING_KIND, &ring_key(&owner, &name)));
            }
        }
        Ok(())
    }

    fn connection(
        &mut self,
        function: &str,
        args: &[Operand],
        p: &Parsed,
        auth: &Authority,
    ) -> Result<(), CommandError> {
        let inner = parse_inner(args)?;
        let (Some(label), Some(ring_name)) = (inner.label.clone(), inner.ring.clone()) else {
            return Err(err(
                CommandErrorKind::Syntax,
                "IRRD121I A ring name and label name must be specified.",
            ));
        };
        check_label(&label)?;
        check_ring(&ring_name)?;
        let ring_owner = self.ring_owner(p)?;
        // The certificate's owner defaults to the issuer; the operator,
        // who has no user ID, means the ring owner's own certificate.
        let owner = match (
            &self.env.issuer,
            &inner.owner_id,
            inner.certauth,
            inner.site,
        ) {
            (Issuer::Operator, None, false, false) => CertOwner::User(ring_owner.clone()),
            _ => self.owner_of(&inner.owner_id, inner.certauth, inner.site)?,
        };
        let usage = inner.usage.unwrap_or_else(|| owner.default_usage());
        if let Authority::User(u) = auth {
            let cert_level = level_for(&owner, u);
            if function == "CONNECT" {
                // keyrings spec §2.1, CONNECT: another user's ring needs
                // CONTROL; a CERTAUTH/SITE certificate UPDATE; a usage
                // other than the owner's own also CONTROL on ADD. Decision
                // (unverified row): another user's certificate into one's
                // own ring is as a CERTAUTH/SITE one, UPDATE.
                let connect_level = if ring_owner != *u {
                    AccessLevel::Control
                } else if cert_level == AccessLevel::Read {
                    AccessLevel::Read
                } else {
                    AccessLevel::Update
                };
                self.require(auth, "CONNECT", connect_level)?;
                if usage != owner.default_usage() {
                    self.require(auth, "ADD", AccessLevel::Control)?;
                }
            } else {
                let level = if ring_owner != *u {
                    AccessLevel::Control
                } else if matches!(owner, CertOwner::User(ref o) if o == u) {
                    AccessLevel::Read
                } else {
                    AccessLevel::Update
                };
                self.require(auth, "REMOVE", level)?;
            }
        }
        let records = &self.state.records;
        let mut ring =
            dc::ring(records, &ring_owner, &ring_name).ok_or_else(|| no_ring(&ring_name))?;
        let tag = owner.tag();
        if function == "REMOVE" {
            let before = ring.connections.len();
            ring.connections
                .retain(|c| !(c.owner == tag && c.label == label));
            if ring.connections.len() == before {
                return Err(err(
                    CommandErrorKind::NotFound,
                    format!("IRRD116I Label {label} does not exist in ring {ring_name} for user {ring_owner}"),
                ));
            }
        } else {
            if dc::cert(records, &owner, &label).is_none() {
                return Err(not_found(&owner, &label));
            }
            if inner.default {
                ring.connections.iter_mut().for_each(|c| c.default = false);
            }
            match ring
                .connections
                .iter_mut()
                .find(|c| c.owner == tag && c.label == label)
            {
                // Connecting again updates the usage and the default.
                Some(c) => {
                    c.usage = usage;
                    c.default = inner.default || c.default;
                }
                None => ring.connections.push(Connection {
                    owner: tag,
                    label,
                    usage,
                    default: inner.default,
                }),
            }
        }
        self.out.changes.push(Change::put_record(
            RING_KIND,
            &ring_key(&ring_owner, &ring_name),
            ring.encode(),
        ));
        Ok(())
    }

    fn gencert(
        &mut self,
        args: &[Operand],
        p: &Parsed,
        auth: &Authority,
    ) -> Result<(), CommandError> {
        if !args.is_empty() {
            return Err(unsupported("GENCERT from a request data set"));
        }
        let owner = self.owner_of(&p.owner_id, p.certauth, p.site)?;
        // SIGNWITH: CERTAUTH LABEL(), SITE LABEL() or LABEL() of the
        // issuer's own certificate.
        let signer = match p.kw("SIGNWITH") {
            None => None,
            Some(sargs) => {
                let inner = parse_inner(sargs)?;
                let label = inner.label.clone().ok_or_else(|| {
                    err(CommandErrorKind::Syntax, "IKJ56701I MISSING SIGNWITH LABEL")
                })?;
                check_label(&label)?;
                let signer_owner =
                    match (inner.certauth, inner.site, &inner.owner_id) {
                        (true, false, None) => CertOwner::CertAuth,
                        (false, true, None) => CertOwner::Site,
                        // Unverified: SIGNWITH(LABEL()) alone names a
                        // certificate of the issuer's own ID, and of the new
                        // certificate's owner when the operator issues it.
                        (false, false, None) => match self.issuer_id() {
                            Some(u) => CertOwner::User(u),
                            None => owner.clone(),
                        },
                        _ => return Err(err(
                            CommandErrorKind::Syntax,
                            "IKJ56702I SIGNWITH TAKES CERTAUTH LABEL(), SITE LABEL() OR LABEL()",
                        )),
                    };
                Some((signer_owner, label))
            }
        };
        if let Authority::User(u) = auth {
            let mut level = level_for(&owner, u);
            if matches!(signer, Some((CertOwner::CertAuth | CertOwner::Site, _))) {
                level = AccessLevel::Control;
            }
            self.require(auth, "GENCERT", level)?;
        }
        let label = self.new_label(p, &owner)?;
        let ecc = p.words.iter().any(|w| w == "NISTECC");
        let size = match p.kw("SIZE") {
            Some(a) => {
                let s = one_text(a, "SIZE")?;
                Some(
                    s.parse::<usize>()
                        .map_err(|_| invalid(format!("SIZE({s}) is not a number.")))?,
                )
            }
            None => None,
        };
        let key = if ecc {
            match size.unwrap_or(256) {
                256 => NewKeySpec::EcP256,
                384 => NewKeySpec::EcP384,
                other => return Err(unsupported(&format!("NISTECC SIZE({other})"))),
            }
        } else {
            let bits = size.unwrap_or(2048);
            if !(1024..=4096).contains(&bits) {
                return Err(invalid(format!(
                    "SIZE({bits}): an RSA key has 1024 to 4096 bits."
                )));
            }
            NewKeySpec::Rsa { bits }
        };
        let mut key_usage = Vec::new();
        if let Some(a) = p.kw("KEYUSAGE") {
            for (w, _) in texts(a) {
                let w = w.to_ascii_uppercase();
                let allowed = match w.as_str() {
                    "HANDSHAKE" | "DOCSIGN" | "CERTSIGN" => true,
                    "DATAENCRYPT" => !ecc,
                    "KEYAGREE" => ecc,
                    _ => {
                        return Err(err(
                            CommandErrorKind::Syntax,
                            format!("IKJ56702I INVALID KEYUSAGE, {w}"),
                        ))
                    }
                };
                if !allowed {
                    return Err(invalid_code(
                        "IRRD156I Keyusage is incompatible with Key algorithm.",
                    ));
                }
                key_usage.extend(match w.as_str() {
                    "HANDSHAKE" if ecc => vec![KeyUsageBit::DigitalSignature],
                    "HANDSHAKE" => {
                        vec![KeyUsageBit::DigitalSignature, KeyUsageBit::KeyEncipherment]
                    }
                    "DATAENCRYPT" => vec![KeyUsageBit::DataEncipherment],
                    "DOCSIGN" => vec![KeyUsageBit::NonRepudiation],
                    "CERTSIGN" => vec![KeyUsageBit::KeyCertSign, KeyUsageBit::CrlSign],
                    _ => vec![KeyUsageBit::KeyAgreement],
                });
            }
        } else if owner == CertOwner::CertAuth {
            key_usage = vec![KeyUsageBit::KeyCertSign, KeyUsageBit::CrlSign];
        }
        let not_before = match p.kw("NOTBEFORE") {
            Some(a) => parse_date_time(a, false)?,
            None => system_time(self.env.now_ms),
        };
        let not_after = match p.kw("NOTAFTER") {
            Some(a) => parse_date_time(a, true)?,
            None => not_before + Duration::from_secs(365 * 86_400),
        };
        if not_before >= not_after {
            return Err(invalid_code(
                "IRRD133I The NOTBEFORE value must be earlier than the NOTAFTER value.",
            ));
        }
        let subject = self.subject(p, &owner, &label)?;
        let alt_names = alt_names(p)?;
        let signer_material = match &signer {
            None => None,
            Some((so, sl)) => {
                let c = dc::cert(&self.state.records, so, sl).ok_or_else(|| not_found(so, sl))?;
                if c.key.is_none() {
                    return Err(invalid_code("IRRD128I GENCERT requires a certificate with an associated private key. The request is not processed."));
                }
                let k = self
                    .open_key(so, sl, &c)?
                    .ok_or_else(|| invalid("The signer's private key cannot be opened."))?;
                Some((
                    c.der_bytes(),
                    zgate_pki::PrivateKey::from_pkcs8_der(k.to_vec()),
                ))
            }
        };
        // Fail before generating when the key could not be stored.
        if self.env.key_encryption.is_none() {
            return Err(err(
                CommandErrorKind::Invalid,
                "IRRD192I No key-encryption key is configured: private keys are stored only encrypted (state/esm-key-encryption.key). The request is not processed.",
            ));
        }
        let issued = zgate_pki::issue::issue(&zgate_pki::issue::IssueParams {
            subject,
            not_before,
            not_after,
            key,
            key_usage,
            alt_names,
            is_ca: owner == CertOwner::CertAuth,
            signer: signer_material
                .as_ref()
                .map(|(der, key)| SignerRef { cert_der: der, key }),
        })
        .map_err(|e| invalid(e.to_string()))?;
        let pkcs8 = Zeroizing::new(issued.key.pkcs8_der().to_vec());
        let wrapped = self.seal(&owner, &label, &pkcs8)?;
        let stored = StoredCert::new(&issued.cert_der, Trust::Trust, Some(wrapped))
            .ok_or_else(|| invalid("The new certificate cannot be read."))?;
        self.put_cert(&owner, &label, &stored, &issued.cert_der);
        Ok(())
    }

    fn subject(
        &self,
        p: &Parsed,
        owner: &CertOwner,
        label: &str,
    ) -> Result<Vec<(SubjectAttr, String)>, CommandError> {
        let Some(args) = p.kw("SUBJECTSDN") else {
            // Unverified: without SUBJECTSDN the CN is the owner's id (a
            // CERTAUTH or SITE certificate: its label).
            let cn = match owner {
                CertOwner::User(u) => u.clone(),
                _ => label.to_owned(),
            };
            return Ok(vec![(SubjectAttr::CommonName, cn)]);
        };
        let mut parts: Vec<(usize, SubjectAttr, String)> = Vec::new();
        for op in args {
            let Operand::Keyword { name, args } = op else {
                return Err(invalid("SUBJECTSDN takes CN() T() OU() O() L() SP() C()."));
            };
            let (rank, attr) = match name.as_str() {
                "C" => (0, SubjectAttr::Country),
                "SP" => (1, SubjectAttr::State),
                "L" => (2, SubjectAttr::Locality),
                "O" => (3, SubjectAttr::Org),
                "OU" => (4, SubjectAttr::OrgUnit),
                "T" => (5, SubjectAttr::Title),
                "CN" => (6, SubjectAttr::CommonName),
                other => return Err(invalid(format!("SUBJECTSDN({other}) is not known."))),
            };
            let values = texts(args);
            if values.is_empty() || (attr != SubjectAttr::OrgUnit && values.len() > 1) {
                return Err(invalid(format!("SUBJECTSDN {name}() takes one value.")));
            }
            for (v, _) in values {
                if v.is_empty() || v.len() > 64 || v.chars().any(char::is_control) {
                    return Err(invalid(format!(
                        "SUBJECTSDN {name}(): 1 to 64 printable characters."
                    )));
                }
                if attr == SubjectAttr::Country
                    && !(v.len() == 2 && v.bytes().all(|b| b.is_ascii_alphabetic()))
                {
                    return Err(invalid("C() is a 2-letter country code."));
                }
                parts.push((rank, attr, v));
            }
        }
        if parts.is_empty() {
            return Err(invalid("SUBJECTSDN needs at least one name part."));
        }
        parts.sort_by_key(|(rank, _, _)| *rank);
        Ok(parts.into_iter().map(|(_, a, v)| (a, v)).collect())
    }

    fn add(&mut self, args: &[Operand], p: &Parsed, auth: &Authority) -> Result<(), CommandError> {
        let path = one_text(args, "ADD")?;
        let owner = self.owner_of(&p.owner_id, p.certauth, p.site)?;
        if let Authority::User(u) = auth {
            self.require(auth, "ADD", level_for(&owner, u))?;
        }
        let password = match p.kw("PASSWORD") {
            Some(a) => Some(Zeroizing::new(one_text(a, "PASSWORD")?)),
            None => None,
        };
        let bytes = read_dataset(&path)?;
        let package = read_package(&bytes, password.as_deref().map(String::as_str))?;
        let Some((leaf, cas)) = package.certs.split_first() else {
            return Err(invalid("The data set holds no certificate."));
        };
        let label = self.new_label(p, &owner)?;
        let expired = dc::facts(leaf).is_some_and(|f| f.not_after * 1000 < self.env.now_ms);
        let trust = p.trust.unwrap_or(if expired {
            Trust::NoTrust
        } else {
            Trust::Trust
        });
        let wrapped = match &package.key {
            Some(k) => {
                let matches = zgate_pki::x509::key_matches_cert(k.pkcs8_der(), &rustls_der(leaf))
                    .unwrap_or(false);
                if !matches {
                    return Err(invalid(
                        "The private key does not belong to the certificate.",
                    ));
                }
                Some(self.seal(&owner, &label, k.pkcs8_der())?)
            }
            None => None,
        };
        let stored = StoredCert::new(leaf, trust, wrapped)
            .ok_or_else(|| invalid("The certificate cannot be read."))?;
        if let Some((o, l)) = self.defined_elsewhere(&stored) {
            return Err(err(
                CommandErrorKind::Duplicate,
                format!(
                    "IRRD111I The certificate is already defined to RACF with label '{l}' for {}.",
                    o.tag()
                ),
            ));
        }
        if self
            .state
            .records
            .get(REG_KIND, &format!("{}|{}", stored.issuer, stored.serial))
            .is_some()
        {
            return Err(err(
                CommandErrorKind::Duplicate,
                "IRRD111I The certificate is already defined to RACF.",
            ));
        }
        self.put_cert(&owner, &label, &stored, leaf);
        // The package's CA certificates go under CERTAUTH, generated
        // labels, not connected; one defined already is left as it is.
        // Adding a CERTAUTH certificate takes CONTROL (section 2.1), so an
        // issuer with less adds the certificate alone: a package must not
        // plant trust anchors its adder could not add one by one.
        if !cas.is_empty() {
            if let Authority::User(u) = auth {
                if !self.facility(u, "ADD", AccessLevel::Control) {
                    self.out.lines.push(format!(
                        "IRRD195I {} certificate authority certificate(s) of the data set were not added: adding a CERTAUTH certificate needs CONTROL access to IRR.DIGTCERT.ADD.",
                        cas.len()
                    ));
                    return Ok(());
                }
            }
        }
        let mut taken = Vec::new();
        for ca in cas {
            let ca_expired = dc::facts(ca).is_some_and(|f| f.not_after * 1000 < self.env.now_ms);
            let ca_trust = if ca_expired {
                Trust::NoTrust
            } else {
                Trust::Trust
            };
            let Some(c) = StoredCert::new(ca, ca_trust, None) else {
                continue;
            };
            if self.defined_elsewhere(&c).is_some()
                || c.serial == stored.serial && c.issuer == stored.issuer
            {
                continue;
            }
            let l = self.next_label(&CertOwner::CertAuth, &taken);
            taken.push(l.clone());
            self.put_cert(&CertOwner::CertAuth, &l, &c, ca);
            self.out.lines.push(format!(
                "Certificate Authority certificate added with label '{l}'."
            ));
        }
        Ok(())
    }

    fn list(&mut self, args: &[Operand], p: &Parsed, auth: &Authority) -> Result<(), CommandError> {
        let inner = parse_inner(args)?;
        let owner = self.owner_of(&p.owner_id, p.certauth, p.site)?;
        if let Authority::User(u) = auth {
            self.require(auth, "LIST", level_for(&owner, u))?;
        }
        let records = &self.state.records;
        let certs: Vec<(String, StoredCert)> = match &inner.label {
            Some(l) => {
                check_label(l)?;
                vec![(
                    l.clone(),
                    dc::cert(records, &owner, l).ok_or_else(|| not_found(&owner, l))?,
                )]
            }
            None => dc::certs_of(records, &owner).into_iter().collect(),
        };
        let mut lines = Vec::new();
        for (label, c) in &certs {
            if !lines.is_empty() {
                lines.push(String::new());
            }
            lines.extend(dc::list_lines(
                &owner,
                label,
                c,
                &dc::rings_holding(records, &owner, label),
            ));
        }
        // Registrations from before certificates were kept whole.
        if inner.label.is_none() {
            if let CertOwner::User(u) = &owner {
                let mut legacy: Vec<(String, String, String)> = records
                    .iter(REG_KIND)
                    .filter_map(|(k, v)| {
                        let mut parts = v.split('\t');
                        let (user, label, subject) = (parts.next()?, parts.next()?, parts.next()?);
                        if user != u || dc::cert(records, &owner, label).is_some() {
                            return None;
                        }
                        let (issuer, serial) = k.rsplit_once('|')?;
                        Some((
                            label.to_owned(),
                            subject.to_owned(),
                            format!("{issuer} serial {serial}"),
                        ))
                    })
                    .collect();
                legacy.sort();
                for (label, subject, iss) in legacy {
                    lines.push(format!("Digital certificate information for user {u}:"));
                    lines.push(format!("  Label: {label}"));
                    lines.push(format!("  Subject's Name: {subject}"));
                    lines.push(format!("  Issuer's Name: {iss}"));
                }
            }
        }
        if lines.is_empty() {
            lines.push("No certificate information was found.".into());
        }
        self.out.lines.extend(lines);
        Ok(())
    }

    fn alter_or_delete(
        &mut self,
        function: &str,
        args: &[Operand],
        p: &Parsed,
        auth: &Authority,
    ) -> Result<(), CommandError> {
        let (label, owner) = self.labelled_certificate(args, p)?;
        if let Authority::User(u) = auth {
            self.require(auth, function, level_for(&owner, u))?;
        }
        let records = &self.state.records;
        let Some(cert) = dc::cert(records, &owner, &label) else {
            if function == "DELETE" {
                return self.delete_registration(&owner, &label);
            }
            return Err(not_found(&owner, &label));
        };
        let rings = dc::rings_holding(records, &owner, &label);
        let tag = owner.tag();
        if function == "DELETE" {
            self.delete_cert(&owner, &label, &cert);
            for (ro, rn) in rings {
                if let Some(mut ring) = dc::ring(&self.state.records, &ro, &rn) {
                    ring.connections
                        .retain(|c| !(c.owner == tag && c.label == label));
                    self.out.changes.push(Change::put_record(
                        RING_KIND,
                        &ring_key(&ro, &rn),
                        ring.encode(),
                    ));
                }
            }
            return Ok(());
        }
        let mut cert = cert;
        if let Some(t) = p.trust {
            cert.trust = t;
        }
        let new_label = match p.kw("NEWLABEL") {
            Some(a) => {
                let l = one_text(a, "NEWLABEL")?;
                check_label(&l)?;
                if l != label && dc::cert(records, &owner, &l).is_some() {
                    return Err(label_in_use(&owner, &l));
                }
                l
            }
            None => label.clone(),
        };
        if p.trust.is_none() && new_label == label {
            return Err(err(
                CommandErrorKind::Syntax,
                "IKJ56701I ALTER NEEDS TRUST, NOTRUST, HIGHTRUST OR NEWLABEL",
            ));
        }
        let der = cert.der_bytes();
        if new_label != label {
            // The key is sealed to its record: re-seal it under the new one.
            if let Some(k) = self.open_key(&owner, &label, &cert)? {
                cert.key = Some(self.seal(&owner, &new_label, &k)?);
            }
            self.delete_cert(&owner, &label, &cert);
            for (ro, rn) in rings {
                if let Some(mut ring) = dc::ring(&self.state.records, &ro, &rn) {
                    for c in &mut ring.connections {
                        if c.owner == tag && c.label == label {
                            c.label = new_label.clone();
                        }
                    }
                    self.out.changes.push(Change::put_record(
                        RING_KIND,
                        &ring_key(&ro, &rn),
                        ring.encode(),
                    ));
                }
            }
        }
        self.put_cert(&owner, &new_label, &cert, &der);
        Ok(())
    }

    /// DELETE of a registration kept from before certificates were kept
    /// whole.
    fn delete_registration(&mut self, owner: &CertOwner, label: &str) -> Result<(), CommandError> {
        let CertOwner::User(u) = owner else {
            return Err(not_found(owner, label));
        };
        let found = self.state.records.iter(REG_KIND).find(|(_, v)| {
            let mut parts = v.split('\t');
            parts.next() == Some(u.as_str()) && parts.next() == Some(label)
        });
        match found {
            Some((key, _)) => {
                self.out.changes.push(Change::delete_record(REG_KIND, key));
                Ok(())
            }
            None => Err(not_found(owner, label)),
        }
    }

    fn export(
        &mut self,
        args: &[Operand],
        p: &Parsed,
        auth: &Authority,
    ) -> Result<(), CommandError> {
        let (label, owner) = self.labelled_certificate(args, p)?;
        let format = match p.kw("FORMAT") {
            Some(a) => one_text(a, "FORMAT")?.to_ascii_uppercase(),
            None => "CERTB64".into(),
        };
        let with_key = matches!(format.as_str(), "PKCS12B64" | "PKCS12DER");
        if !matches!(
            format.as_str(),
            "CERTB64" | "CERTDER" | "PKCS7B64" | "PKCS7DER" | "PKCS12B64" | "PKCS12DER"
        ) {
            return Err(invalid(format!("FORMAT({format}) is not known.")));
        }
        if let Authority::User(u) = auth {
            // keyrings spec §2.1: a package with the private key is
            // checked against EXPORTKEY instead of EXPORT (levels
            // unverified: the owner pattern).
            self.require(
                auth,
                if with_key { "EXPORTKEY" } else { "EXPORT" },
                level_for(&owner, u),
            )?;
        }
        let dsn = p
            .kw("DSN")
            .map(|a| one_text(a, "DSN"))
            .transpose()?
            .ok_or_else(|| err(CommandErrorKind::Syntax, "IKJ56701I MISSING DSN"))?;
        if dsn.is_empty() || dsn.chars().any(char::is_control) {
            return Err(invalid("The data set name is not valid."));
        }
        let cert = dc::cert(&self.state.records, &owner, &label)
            .ok_or_else(|| not_found(&owner, &label))?;
        let der = cert.der_bytes();
        let chain = self.chain_of(&der);
        let data: Zeroizing<Vec<u8>> = match format.as_str() {
            "CERTDER" => Zeroizing::new(der.clone()),
            "CERTB64" => {
                Zeroizing::new(pem::encode(&pem::Pem::new("CERTIFICATE", der.clone())).into_bytes())
            }
            "PKCS7DER" | "PKCS7B64" => {
                let mut all = vec![der.clone()];
                all.extend(chain);
                let p7 = zgate_pki::issue::pkcs7_of(&all).map_err(|e| invalid(e.to_string()))?;
                if format == "PKCS7DER" {
                    Zeroizing::new(p7)
                } else {
                    Zeroizing::new(pem::encode(&pem::Pem::new("PKCS7", p7)).into_bytes())
                }
            }
            _ => {
                let password = p
                    .kw("PASSWORD")
                    .map(|a| one_text(a, "PASSWORD"))
                    .transpose()?
                    .map(Zeroizing::new)
                    .ok_or_else(|| {
                        err(
                            CommandErrorKind::Syntax,
                            "IKJ56701I MISSING PASSWORD: A PKCS#12 PACKAGE NEEDS ONE",
                        )
                    })?;
                if password.is_empty() {
                    return Err(invalid("PASSWORD must not be empty."));
                }
                let key = self.open_key(&owner, &label, &cert)?.ok_or_else(|| {
                    invalid_code("IRRD128I EXPORT requires a certificate with an associated private key. The request is not processed.")
                })?;
                let mut certs = vec![rustls_der(&der)];
                certs.extend(chain.iter().map(|c| rustls_der(c)));
                let store = zgate_pki::Keystore {
                    keys: vec![zgate_pki::KeyEntry {
                        alias: label.clone(),
                        key: zgate_pki::PrivateKey::from_pkcs8_der(key.to_vec()),
                        chain: certs,
                    }],
                    trusted: Vec::new(),
                };
                let p12 = store
                    .to_pkcs12(
                        &zgate_pki::Secret::new(password.to_string()),
                        zgate_pki::Pkcs12Encoding::Modern,
                    )
                    .map_err(|e| invalid(e.to_string()))?;
                if format == "PKCS12DER" {
                    Zeroizing::new(p12)
                } else {
                    Zeroizing::new(pem::encode(&pem::Pem::new("PKCS12", p12)).into_bytes())
                }
            }
        };
        self.out.exports.push(FileExport {
            path: PathBuf::from(&dsn),
            data,
            private: with_key,
        });
        self.out.lines.push(format!(
            "Certificate '{label}' exported to {dsn} as {format}."
        ));
        Ok(())
    }

    /// The issuers of a certificate found in the store (up to 8 levels),
    /// nearest first.
    fn chain_of(&self, der: &[u8]) -> Vec<Vec<u8>> {
        let all: Vec<Vec<u8>> = dc::all_certs(&self.state.records)
            .into_iter()
            .map(|(_, _, c)| c.der_bytes())
            .collect();
        let mut chain = Vec::new();
        let mut current = der.to_vec();
        for _ in 0..8 {
            let Ok(names) = CertNames::from_der(&current) else {
                break;
            };
            if names.issuer == names.subject {
                break;
            }
            let Some(next) = all.iter().find(|c| {
                CertNames::from_der(c).is_ok_and(|n| n.subject == names.issuer)
                    && zgate_pki::x509::CertInfo::signed_by(&rustls_der(&current), &rustls_der(c))
            }) else {
                break;
            };
            chain.push(next.clone());
            current = next.clone();
        }
        chain
    }

    fn checkcert(
        &mut self,
        args: &[Operand],
        p: &Parsed,
        auth: &Authority,
    ) -> Result<(), CommandError> {
        let path = one_text(args, "CHECKCERT")?;
        let password = match p.kw("PASSWORD") {
            Some(a) => Some(Zeroizing::new(one_text(a, "PASSWORD")?)),
            None => None,
        };
        let bytes = read_dataset(&path)?;
        let package = read_package(&bytes, password.as_deref().map(String::as_str))?;
        for (i, der) in package.certs.iter().enumerate() {
            let Some(f) = dc::facts(der) else { continue };
            if i > 0 {
                self.out.lines.push(String::new());
            }
            self.out.lines.push(format!("Certificate {}:", i + 1));
            self.out
                .lines
                .push(format!("  Serial Number: >{}<", f.serial));
            self.out
                .lines
                .push(format!("  Issuer's Name: >{}<", f.issuer));
            self.out
                .lines
                .push(format!("  Subject's Name: >{}<", f.subject));
            self.out.lines.push(format!(
                "  Key Type: {} Key Size: {}",
                f.key_type, f.key_size
            ));
            let Some(stored) = StoredCert::new(der, Trust::Trust, None) else {
                continue;
            };
            // keyrings spec §1 (CTLRACD): without LIST authority for the
            // certificate's owner, the file's contents only.
            let defined = self.defined_elsewhere(&stored);
            match defined {
                Some((owner, label)) => {
                    let may = match auth {
                        Authority::All => true,
                        Authority::User(u) => self.facility(u, "LIST", level_for(&owner, u)),
                    };
                    if may {
                        let c = dc::cert(&self.state.records, &owner, &label);
                        self.out.lines.push(format!(
                            "  Defined to RACF: label '{label}' for {}, status {}",
                            owner.tag(),
                            c.map(|c| c.trust.name()).unwrap_or("TRUST")
                        ));
                    }
                }
                None => self
                    .out
                    .lines
                    .push("  This certificate is not defined to RACF.".into()),
            }
        }
        if package.key.is_some() {
            self.out
                .lines
                .push("  The package holds a private key.".into());
        }
        Ok(())
    }
}

fn rustls_der(der: &[u8]) -> rustls_pki_types::CertificateDer<'static> {
    rustls_pki_types::CertificateDer::from(der.to_vec())
}

fn no_ring(name: &str) -> CommandError {
    err(
        CommandErrorKind::NotFound,
        format!("IRRD114I Ring {name} does not exist."),
    )
}

fn invalid_owner(which: &str) -> CommandError {
    let what = if which == "CERTAUTH" {
        "Certificate Authority"
    } else {
        "Site Certificate"
    };
    err(
        CommandErrorKind::Invalid,
        format!("IRRD120I Incorrect use of {which}. A {what} cannot own a key ring."),
    )
}

fn invalid_code(msg: &str) -> CommandError {
    err(CommandErrorKind::Invalid, msg)
}

fn label_in_use(owner: &CertOwner, label: &str) -> CommandError {
    err(
        CommandErrorKind::Duplicate,
        format!(
            "IRRD107I Label '{label}' is already in use for {}.",
            owner.tag()
        ),
    )
}

fn alt_names(p: &Parsed) -> Result<Vec<AltName>, CommandError> {
    let Some(args) = p.kw("ALTNAME") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for op in args {
        let Operand::Keyword { name, args } = op else {
            return Err(invalid("ALTNAME takes IP() DOMAIN() EMAIL() URI()."));
        };
        if seen.contains(name) {
            return Err(invalid(format!("ALTNAME takes one {name}() value.")));
        }
        seen.push(name.clone());
        let value = one_text(args, name)?;
        if value.is_empty()
            || value.len() > 255
            || value.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(invalid(format!("ALTNAME {name}({value}) is not valid.")));
        }
        out.push(match name.as_str() {
            "IP" => AltName::Ip(
                value
                    .parse::<IpAddr>()
                    .map_err(|_| invalid(format!("IP({value}) is not an IP address.")))?,
            ),
            "DOMAIN" => AltName::Dns(value),
            "EMAIL" => AltName::Email(value),
            "URI" => AltName::Uri(value),
            other => return Err(invalid(format!("ALTNAME {other}() is not known."))),
        });
    }
    Ok(out)
}
