//! Routed service definitions in API ML's static-definition YAML format
//! (`<home>/services/*.yml`, or `zgate.services.directory`).
//!
//! Every key API ML's static definitions carry is accepted (unknown ones
//! too: a real file loads unchanged); zgate uses `serviceId`,
//! `instanceBaseUrls`, `routes`, `authentication` and
//! `healthCheckRelativeUrl`. Validation reports each problem with the file
//! and the line of the service entry (or of the YAML error): missing
//! fields, duplicate service ids (across files), bad URLs, unknown schemes.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The authentication schemes (spec §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Scheme {
    /// Credentials passed through.
    Bypass,
    /// `Cookie: apimlAuthenticationToken=<jwt>`.
    ZoweJwt,
    /// `Authorization: Basic USER:PASSTICKET`.
    HttpBasicPassTicket,
    /// `X-SAF-Token: <idt>`.
    SafIdt,
    /// `Cookie: jwtToken=<jwt>`.
    Zosmf,
    /// `X-Certificate-*` headers, the gateway's client certificate.
    X509,
}

impl Scheme {
    fn parse(text: &str) -> Option<Scheme> {
        Some(match text {
            "bypass" => Scheme::Bypass,
            "zoweJwt" => Scheme::ZoweJwt,
            "httpBasicPassTicket" => Scheme::HttpBasicPassTicket,
            "safIdt" => Scheme::SafIdt,
            "zosmf" => Scheme::Zosmf,
            "x509" => Scheme::X509,
            _ => return None,
        })
    }

    /// The name as written in definitions.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Bypass => "bypass",
            Scheme::ZoweJwt => "zoweJwt",
            Scheme::HttpBasicPassTicket => "httpBasicPassTicket",
            Scheme::SafIdt => "safIdt",
            Scheme::Zosmf => "zosmf",
            Scheme::X509 => "x509",
        }
    }
}

/// One route: `gatewayUrl` (`api/v1`, `ui/v1`, `ws/v1`, or just `api`)
/// → `serviceRelativeUrl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    /// `api|ui|ws` with an optional `/vN`.
    pub gateway_url: String,
    /// The path prefix on the instance.
    pub service_relative_url: String,
}

/// A validated service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    /// Lower-case id (the first path segment).
    pub service_id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Instance base URLs (`http(s)://host:port/contextPath`, no trailing `/`).
    pub instance_base_urls: Vec<String>,
    /// Routes.
    pub routes: Vec<Route>,
    /// Scheme (default `bypass`, as API ML).
    pub scheme: Scheme,
    /// Application id for PassTickets and SAF IDTs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applid: Option<String>,
    /// x509: which certificate headers the service wants (empty = all).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<String>,
    /// Health path appended to each instance URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_relative_url: Option<String>,
    /// Encoded `/`, `\` and `%` in paths reach the service (API ML's
    /// `customMetadata.apiml.enableUrlEncodedCharacters`); refused otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub url_encoded_characters: bool,
    /// Where it was defined (`file:line`).
    pub defined_at: String,
}

/// One problem in the definitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// Every problem found (the set is refused as a whole).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DefinitionErrors(pub Vec<DefinitionError>);

impl fmt::Display for DefinitionErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

#[derive(Deserialize)]
struct RawFile {
    #[serde(default)]
    services: Option<Vec<RawService>>,
    // `catalogUiTiles` and anything else: accepted, unused.
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawService {
    service_id: Option<String>,
    title: Option<String>,
    description: Option<String>,
    instance_base_urls: Option<Vec<String>>,
    routes: Option<Vec<RawRoute>>,
    authentication: Option<RawAuth>,
    health_check_relative_url: Option<String>,
    /// Only `apiml.enableUrlEncodedCharacters` is read.
    custom_metadata: Option<serde_yaml_ng::Value>,
    // catalogUiTileId, homePageRelativeUrl, statusPageRelativeUrl, apiInfo:
    // accepted, unused.
}

/// `apiml.enableUrlEncodedCharacters` of a service's `customMetadata`,
/// nested (`apiml: {enableUrlEncodedCharacters: true}`) or as one dotted
/// key, a boolean or the text `true`.
fn url_encoded_characters(metadata: Option<&serde_yaml_ng::Value>) -> bool {
    let Some(metadata) = metadata else {
        return false;
    };
    let value = metadata
        .get("apiml")
        .and_then(|apiml| apiml.get("enableUrlEncodedCharacters"))
        .or_else(|| metadata.get("apiml.enableUrlEncodedCharacters"));
    match value {
        Some(serde_yaml_ng::Value::Bool(on)) => *on,
        Some(serde_yaml_ng::Value::String(text)) => text.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawRoute {
    gateway_url: Option<String>,
    service_relative_url: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawAuth {
    scheme: Option<String>,
    applid: Option<String>,
    headers: Option<serde_yaml_ng::Value>,
}

/// The lines where each item of the top-level `services:` list starts.
fn item_lines(text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut in_services = false;
    let mut indent: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let ind = line.len() - trimmed.len();
        if ind == 0 {
            in_services = trimmed.starts_with("services:");
            indent = None;
            continue;
        }
        if in_services && trimmed.starts_with('-') {
            let want = *indent.get_or_insert(ind);
            if ind == want {
                out.push(i + 1);
            }
        }
    }
    out
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn check_url(url: &str) -> Result<String, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("bad URL {url:?}: {e}"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return Err(format!("bad URL {url:?}: the scheme must be http or https")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("bad URL {url:?}: no host"));
    }
    if uri.query().is_some() {
        return Err(format!("bad URL {url:?}: a base URL has no query"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn check_gateway_url(g: &str) -> Result<String, String> {
    let g = g.trim_matches('/');
    let mut parts = g.split('/');
    let kind = parts.next().unwrap_or_default();
    if !matches!(kind, "api" | "ui" | "ws") {
        return Err(format!("gatewayUrl {g:?} must start with api, ui or ws"));
    }
    match (parts.next(), parts.next()) {
        (None, _) => {}
        (Some(v), None) if v.len() > 1 && v.starts_with('v') => {}
        _ => return Err(format!("gatewayUrl {g:?} must be api|ui|ws[/vN]")),
    }
    Ok(g.to_owned())
}

/// Parses and validates one file's text; `seen` collects ids across files.
pub fn parse_file(
    file: &Path,
    text: &str,
    seen: &mut BTreeMap<String, String>,
) -> Result<Vec<Service>, Vec<DefinitionError>> {
    let err = |line: usize, message: String| DefinitionError {
        file: file.to_path_buf(),
        line,
        message,
    };
    let raw: RawFile = match serde_yaml_ng::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let line = e.location().map_or(1, |l| l.line());
            return Err(vec![err(line, format!("not a static definition: {e}"))]);
        }
    };
    let lines = item_lines(text);
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for (i, s) in raw.services.unwrap_or_default().into_iter().enumerate() {
        let line = lines.get(i).copied().unwrap_or(1);
        let before = errors.len();
        let id = match s.service_id.as_deref().map(str::trim) {
            None | Some("") => {
                errors.push(err(line, "serviceId is missing".into()));
                String::new()
            }
            Some(id) if !valid_id(id) => {
                errors.push(err(
                    line,
                    format!("serviceId {id:?} must be lower-case letters, digits, - or _"),
                ));
                String::new()
            }
            Some(id) => {
                let at = format!("{}:{line}", file.display());
                if let Some(prev) = seen.insert(id.to_owned(), at) {
                    errors.push(err(
                        line,
                        format!("duplicate serviceId {id:?} (first defined at {prev})"),
                    ));
                }
                id.to_owned()
            }
        };
        let mut urls = Vec::new();
        match &s.instance_base_urls {
            None => errors.push(err(line, format!("{id}: instanceBaseUrls is missing"))),
            Some(list) if list.is_empty() => {
                errors.push(err(line, format!("{id}: instanceBaseUrls is empty")))
            }
            Some(list) => {
                for u in list {
                    match check_url(u.trim()) {
                        Ok(u) => urls.push(u),
                        Err(m) => errors.push(err(line, format!("{id}: {m}"))),
                    }
                }
            }
        }
        let mut routes = Vec::new();
        match &s.routes {
            None => errors.push(err(line, format!("{id}: routes is missing"))),
            Some(list) => {
                for r in list {
                    let Some(g) = r.gateway_url.as_deref() else {
                        errors.push(err(line, format!("{id}: a route has no gatewayUrl")));
                        continue;
                    };
                    match check_gateway_url(g) {
                        Ok(g) => {
                            let rel = r.service_relative_url.clone().unwrap_or_default();
                            let rel = rel.trim().trim_end_matches('/');
                            let rel = if rel.is_empty() || rel.starts_with('/') {
                                rel.to_owned()
                            } else {
                                format!("/{rel}")
                            };
                            routes.push(Route {
                                gateway_url: g,
                                service_relative_url: rel,
                            });
                        }
                        Err(m) => errors.push(err(line, format!("{id}: {m}"))),
                    }
                }
            }
        }
        let auth = s.authentication.unwrap_or_default();
        let scheme = match auth.scheme.as_deref() {
            None => Scheme::Bypass,
            Some(text) => match Scheme::parse(text.trim()) {
                Some(s) => s,
                None => {
                    errors.push(err(
                        line,
                        format!("{id}: unknown authentication scheme {text:?}"),
                    ));
                    Scheme::Bypass
                }
            },
        };
        let applid = auth
            .applid
            .map(|a| a.trim().to_ascii_uppercase())
            .filter(|a| !a.is_empty());
        // A PassTicket or SAF IDT service without an applid loads (Zowe's
        // own samples have one); its requests then carry X-Zowe-Auth-Failure.
        let headers = match auth.headers {
            Some(serde_yaml_ng::Value::String(s)) => s
                .split(',')
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .collect(),
            Some(serde_yaml_ng::Value::Sequence(seq)) => seq
                .iter()
                .filter_map(|v| v.as_str().map(|s| s.trim().to_owned()))
                .collect(),
            _ => Vec::new(),
        };
        if errors.len() == before {
            out.push(Service {
                service_id: id,
                title: s.title.unwrap_or_default(),
                description: s.description.unwrap_or_default(),
                instance_base_urls: urls,
                routes,
                scheme,
                applid,
                headers,
                health_check_relative_url: s
                    .health_check_relative_url
                    .map(|h| h.trim().to_owned())
                    .filter(|h| !h.is_empty()),
                url_encoded_characters: url_encoded_characters(s.custom_metadata.as_ref()),
                defined_at: format!("{}:{line}", file.display()),
            });
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Loads every `*.yml`/`*.yaml` in `dir` (sorted by name). A missing
/// directory is an empty set.
pub fn load_dir(dir: &Path) -> Result<Vec<Service>, DefinitionErrors> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(DefinitionErrors(vec![DefinitionError {
                file: dir.to_path_buf(),
                line: 0,
                message: format!("cannot read the directory: {e}"),
            }]))
        }
    };
    files.sort();
    let mut seen = BTreeMap::new();
    let mut all = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                errors.push(DefinitionError {
                    file: file.clone(),
                    line: 0,
                    message: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        match parse_file(&file, &text, &mut seen) {
            Ok(s) => all.extend(s),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(all)
    } else {
        Err(DefinitionErrors(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> PathBuf {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/zowe/static-definitions"
        ))
    }

    #[test]
    fn zowe_samples_load_unchanged() {
        // mock-services.yml defines `zss` twice: a duplicate in one set.
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            shared().join("staticclient.yml"),
            dir.path().join("staticclient.yml"),
        )
        .unwrap();
        let services = load_dir(dir.path()).unwrap();
        let ids: Vec<_> = services.iter().map(|s| s.service_id.as_str()).collect();
        assert!(ids.contains(&"staticclient"), "{ids:?}");
        let pt = services
            .iter()
            .find(|s| s.service_id == "staticclient2")
            .unwrap();
        assert_eq!(pt.scheme, Scheme::HttpBasicPassTicket);
        assert_eq!(pt.applid.as_deref(), Some("TSTAPPL"));
        assert_eq!(pt.routes.len(), 3);
        assert_eq!(
            pt.health_check_relative_url.as_deref(),
            Some("/application/health")
        );
        let jwt = services.iter().find(|s| s.service_id == "zowejwt").unwrap();
        assert_eq!(jwt.scheme, Scheme::ZoweJwt);
    }

    #[test]
    fn zowe_mock_services_parse_and_report_its_duplicate_by_line() {
        let path = shared().join("mock-services.yml");
        let text = std::fs::read_to_string(&path).unwrap();
        let errors = parse_file(&path, &text, &mut BTreeMap::new()).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].message.contains("duplicate serviceId \"zss\""));
        let second = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.contains("serviceId: zss"))
            .nth(1)
            .unwrap()
            .0
            + 1;
        assert_eq!(errors[0].line, second);
        // Without the duplicate it loads, scheme zosmf included.
        let fixed = text.replacen("serviceId: zss ", "serviceId: zss2 ", 1);
        let s = parse_file(&path, &fixed, &mut BTreeMap::new()).unwrap();
        assert_eq!(s[0].scheme, Scheme::Zosmf);
    }

    #[test]
    fn bad_definitions_are_reported_by_file_and_line() {
        let text = "\
services:
    - serviceId: good
      instanceBaseUrls: [http://localhost:1/]
      routes: [{gatewayUrl: api/v1, serviceRelativeUrl: /api}]
    - title: no id
      instanceBaseUrls: [http://localhost:1/]
      routes: []
    - serviceId: badurl
      instanceBaseUrls: [ftp://x/]
      routes: []
    - serviceId: good
      instanceBaseUrls: [http://localhost:1/]
      routes: []
    - serviceId: weird
      instanceBaseUrls: [http://localhost:1/]
      routes: []
      authentication: {scheme: kerberos}
    - serviceId: noroutes
      instanceBaseUrls: [http://localhost:1/]
    - serviceId: nourls
      routes: []
";
        let f = Path::new("/x/bad.yml");
        let errors = parse_file(f, text, &mut BTreeMap::new()).unwrap_err();
        let got: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let expect = [
            ("/x/bad.yml:5:", "serviceId is missing"),
            ("/x/bad.yml:8:", "scheme must be http or https"),
            ("/x/bad.yml:11:", "duplicate serviceId \"good\""),
            (
                "/x/bad.yml:14:",
                "unknown authentication scheme \"kerberos\"",
            ),
            ("/x/bad.yml:18:", "routes is missing"),
            ("/x/bad.yml:20:", "instanceBaseUrls is missing"),
        ];
        assert_eq!(got.len(), expect.len(), "{got:#?}");
        for ((prefix, needle), line) in expect.iter().zip(&got) {
            assert!(line.starts_with(prefix) && line.contains(needle), "{line}");
        }
        let e = parse_file(f, "services: [\n  - {", &mut BTreeMap::new()).unwrap_err();
        assert_eq!(e[0].line, 2, "{e:?}");
    }
}
