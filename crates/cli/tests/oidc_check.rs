//! `zgate oidc check` end to end: the real binary on a temporary home,
//! against a real OpenID provider (panva's `oidc-provider`, through the
//! shared driver; `ZGATE_TEST_NODE_MODULES` names its `node_modules`).
//!
//! A good token that maps is accepted and names the user; without a RACMAP
//! filter (or with IDIDMAP inactive) the commands that map it are printed,
//! and running them makes the check pass; a revoked user is named; a
//! trailing `/` on the issuer, another audience, a tampered or expired
//! token, an unsigned (`alg: none`) or HS256 one, an unknown `kid` are each
//! named in a sentence; a provider that is down is called unreachable; the
//! userinfo mode asks the provider. The token is never echoed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../auth/tests/support/oidc_provider.rs"]
mod oidc_provider;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use oidc_provider::{
    jwt_header, jwt_payload, OidcProvider, ProviderOptions, AUDIENCE, DEFAULT_SUBJECT,
    ES256_RESOURCE, RS256_RESOURCE,
};
use serde_json::{json, Value};
use zgate_esm::{Esm, Issuer};

const REGISTRY: &str = "zowe.test";

/// The code-flow client's redirect URI: nobody serves it.
const REDIRECT: &str = "https://localhost:10010/gateway/login/oauth2/code/oidc";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `zgate --home HOME args...`, with `stdin` piped in when given.
fn zgate(home: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zgate"))
        .arg("--home")
        .arg(home)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

/// `zgate oidc check` with `token` in a file (or none), its exit code and
/// stdout; the token appears in neither stdout nor stderr.
fn check(home: &Path, token: Option<&str>) -> (i32, String) {
    let file = home.join("token.jwt");
    let out = match token {
        Some(token) => {
            std::fs::write(&file, format!("{token}\n")).unwrap();
            zgate(
                home,
                &["oidc", "check", "--token-file", file.to_str().unwrap()],
                None,
            )
        }
        None => zgate(home, &["oidc", "check"], None),
    };
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    if let Some(token) = token {
        let signature = token.rsplit('.').next().unwrap();
        for (name, output) in [("stdout", &stdout), ("stderr", &stderr)] {
            assert!(!output.contains(token), "the token is in {name}: {output}");
            if signature.len() > 8 {
                assert!(
                    !output.contains(signature),
                    "the signature is in {name}: {output}"
                );
            }
        }
    }
    (out.status.code().unwrap(), stdout)
}

/// `<home>/zgate.yaml` for the provider, JWK mode.
fn configure(home: &Path, issuer: &str, jwks_uri: &str, audience: &str) {
    std::fs::create_dir_all(home).unwrap();
    std::fs::write(
        home.join("zgate.yaml"),
        format!(
            "components:
  gateway:
    apiml:
      security:
        oidc:
          enabled: true
          registry: {REGISTRY}
          jwks:
            uri: \"{jwks_uri}\"
zgate:
  oidc:
    issuers: [\"{issuer}\"]
    audiences: [\"{audience}\"]
"
        ),
    )
    .unwrap();
}

/// Runs RACF commands on the home's ESM as the operator.
fn esm(home: &Path, commands: &[&str]) {
    let esm = Esm::open(home).unwrap();
    for command in commands {
        esm.run_command(&Issuer::Operator, command)
            .unwrap_or_else(|e| panic!("{command}: {e}"));
    }
}

/// A home for `provider` where `sub` maps to `user`.
fn mapped_home(provider: &OidcProvider, sub: &str, user: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    configure(dir.path(), &provider.issuer, &provider.jwks_uri(), AUDIENCE);
    esm(
        dir.path(),
        &[
            &format!("ADDUSER {user}"),
            "SETROPTS CLASSACT(IDIDMAP) RACLIST(IDIDMAP)",
            &format!(
                "RACMAP ID({user}) MAP USERDIDFILTER(NAME('{}')) REGISTRY(NAME('{REGISTRY}')) WITHLABEL('oidc')",
                sub.replace('\'', "''")
            ),
            "SETROPTS RACLIST(IDIDMAP) REFRESH",
        ],
    );
    dir
}

fn has(stdout: &str, line: &str) {
    assert!(
        stdout.lines().any(|l| l.contains(line)),
        "no line with {line:?} in:\n{stdout}"
    );
}

fn lacks(stdout: &str, part: &str) {
    assert!(
        !stdout.contains(part),
        "{part:?} should not be in:\n{stdout}"
    );
}

/// `token` with its claims changed (`edit`) and its signature kept.
fn tampered(token: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut claims = jwt_payload(token);
    edit(&mut claims);
    let parts: Vec<&str> = token.split('.').collect();
    format!(
        "{}.{}.{}",
        parts[0],
        B64URL.encode(claims.to_string()),
        parts[2]
    )
}

/// A JWT of `header` over `token`'s claims, with `signature`.
fn forged(header: Value, token: &str, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        B64URL.encode(header.to_string()),
        token.split('.').nth(1).unwrap()
    )
}

#[test]
fn a_good_token_that_maps_is_accepted_and_names_the_user() {
    let provider = OidcProvider::start(&ProviderOptions::default());
    let home = mapped_home(&provider, DEFAULT_SUBJECT, "ALICE");
    let h = home.path();

    // Without a token: the provider and its keys.
    let (code, out) = check(h, None);
    assert_eq!(code, 0, "{out}");
    has(&out, "ok      oidc: OIDC is enabled");
    has(&out, &format!("info    oidc.issuers: {}", provider.issuer));
    has(&out, &format!("info    oidc.audiences: {AUDIENCE}"));
    has(&out, "info    oidc.algorithms: RS256, PS256, ES256");
    has(&out, &format!("info    oidc.registry: {REGISTRY}"));
    has(&out, "info    oidc.validation: JWK: ");
    has(
        &out,
        &format!(
            "ok      discovery.issuer: the provider's issuer is {}, as configured",
            provider.issuer
        ),
    );
    has(&out, "ok      discovery.jwks_uri: ");
    let kids = provider.published_kids();
    has(
        &out,
        &format!(
            "ok      jwks: {}: {} keys the gateway uses: {}",
            provider.jwks_uri(),
            kids.len(),
            kids.join(", ")
        ),
    );
    has(&out, "info    token: none given");
    has(&out, "0 problems");

    // An RS256 token from a file.
    let token = provider.client_credentials_token(RS256_RESOURCE);
    let (code, out) = check(h, Some(&token));
    assert_eq!(code, 0, "{out}");
    let kid = jwt_header(&token)["kid"].as_str().unwrap().to_owned();
    has(
        &out,
        &format!("ok      token.signature: verifies with the provider's key {kid} (RS256)"),
    );
    has(
        &out,
        &format!(
            "info    token.claims: sub {DEFAULT_SUBJECT}; iss {}; aud {AUDIENCE}",
            provider.issuer
        ),
    );
    lacks(&out, "unverified");
    has(&out, "ok      token: the gateway would accept this token");
    has(
        &out,
        &format!("ok      mapping: {DEFAULT_SUBJECT} in registry {REGISTRY} maps to mainframe user ALICE"),
    );
    has(&out, "0 problems");

    // An ES256 token on standard input, and one in the argument.
    let token = provider.client_credentials_token(ES256_RESOURCE);
    let out = zgate(h, &["oidc", "check", "-"], Some(&format!("{token}\n")));
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    has(&stdout, "(ES256)");
    has(&stdout, "maps to mainframe user ALICE");
    lacks(&stdout, &token);
    let out = zgate(h, &["oidc", "check", "--token", &token], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    lacks(&text(&out.stdout), &token);
}

#[test]
fn without_a_racmap_filter_the_commands_that_map_the_subject_are_printed() {
    // A quote in the subject, doubled in the commands.
    let sub = "o'neil@example.com";
    let provider = OidcProvider::start(&ProviderOptions {
        subject: Some(sub.into()),
        ..ProviderOptions::default()
    });
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    configure(h, &provider.issuer, &provider.jwks_uri(), AUDIENCE);
    esm(
        h,
        &[
            "ADDUSER ONEIL",
            "SETROPTS CLASSACT(IDIDMAP) RACLIST(IDIDMAP)",
        ],
    );
    let token = provider.client_credentials_token(RS256_RESOURCE);
    let (code, out) = check(h, Some(&token));
    assert_eq!(code, 1, "{out}");
    has(&out, "ok      token: the gateway would accept this token");
    has(
        &out,
        &format!("problem mapping: no distributed identity filter maps {sub} in registry {REGISTRY} (R_usermap 8/8/48)"),
    );
    let racmap = format!(
        "RACMAP ID(userid) MAP USERDIDFILTER(NAME('o''neil@example.com')) REGISTRY(NAME('{REGISTRY}')) WITHLABEL('o''neil@example.com')"
    );
    has(&out, &format!("        run: {racmap}"));
    has(&out, "        run: SETROPTS RACLIST(IDIDMAP) REFRESH");
    lacks(&out, "CLASSACT");
    has(&out, "1 problem, 0 warnings");

    // The printed commands, run as printed (for the user ONEIL), map it.
    for command in [
        racmap.replace("ID(userid)", "ID(ONEIL)"),
        "SETROPTS RACLIST(IDIDMAP) REFRESH".into(),
    ] {
        let out = zgate(h, &["esm", &command], None);
        assert!(out.status.success(), "{command}: {}", text(&out.stderr));
    }
    let (code, out) = check(h, Some(&token));
    assert_eq!(code, 0, "{out}");
    has(
        &out,
        &format!("ok      mapping: {sub} in registry {REGISTRY} maps to mainframe user ONEIL"),
    );

    // A revoked user is named as such.
    esm(h, &["ALTUSER ONEIL REVOKE"]);
    let (code, out) = check(h, Some(&token));
    assert_eq!(code, 1, "{out}");
    has(
        &out,
        &format!("problem mapping: {sub} in registry {REGISTRY} maps to mainframe user ONEIL, who is revoked"),
    );
    has(&out, "fix: if ONEIL may log on again: ALTUSER ONEIL RESUME");
}

#[test]
fn with_ididmap_inactive_the_class_is_activated_first() {
    let provider = OidcProvider::start(&ProviderOptions::default());
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    configure(h, &provider.issuer, &provider.jwks_uri(), AUDIENCE);
    esm(h, &["ADDUSER ALICE"]);
    let token = provider.client_credentials_token(RS256_RESOURCE);
    let (code, out) = check(h, Some(&token));
    assert_eq!(code, 1, "{out}");
    has(
        &out,
        "problem mapping: class IDIDMAP is not active and RACLISTed",
    );
    let runs: Vec<&str> = out
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("run: "))
        .collect();
    assert_eq!(
        runs,
        [
            "SETROPTS CLASSACT(IDIDMAP) RACLIST(IDIDMAP)",
            &format!("RACMAP ID(userid) MAP USERDIDFILTER(NAME('{DEFAULT_SUBJECT}')) REGISTRY(NAME('{REGISTRY}')) WITHLABEL('{DEFAULT_SUBJECT}')"),
            "SETROPTS RACLIST(IDIDMAP) REFRESH",
        ]
    );
    for command in &runs {
        let command = command.replace("ID(userid)", "ID(ALICE)");
        let out = zgate(h, &["esm", &command], None);
        assert!(out.status.success(), "{command}: {}", text(&out.stderr));
    }
    let (code, out) = check(h, Some(&token));
    assert_eq!(code, 0, "{out}");
    has(&out, "maps to mainframe user ALICE");

    // Without an ESM at all, nothing maps.
    let empty = tempfile::tempdir().unwrap();
    configure(
        empty.path(),
        &provider.issuer,
        &provider.jwks_uri(),
        AUDIENCE,
    );
    let (code, out) = check(empty.path(), Some(&token));
    assert_eq!(code, 1, "{out}");
    has(&out, "problem mapping: no security manager in");
    assert!(!empty.path().join("esm.db").exists());
}

#[test]
fn an_issuer_with_a_trailing_slash_is_named() {
    let provider = OidcProvider::start(&ProviderOptions::default());
    let home = mapped_home(&provider, DEFAULT_SUBJECT, "ALICE");
    let h = home.path();
    let issuer = &provider.issuer;
    configure(h, &format!("{issuer}/"), &provider.jwks_uri(), AUDIENCE);
    let token = provider.client_credentials_token(RS256_RESOURCE);
    let (code, out) = check(h, Some(&token));
    assert_eq!(code, 1, "{out}");
    has(
        &out,
        &format!("problem discovery.issuer: the provider's issuer is `{issuer}`, but zgate.oidc.issuers has `{issuer}/`: they differ by a trailing `/` (the classic Entra ID / Keycloak mistake)"),
    );
    has(
        &out,
        &format!("fix: set zgate.oidc.issuers to `{issuer}` exactly"),
    );
    // The signature verified: the issuer is the provider's, not a guess.
    has(&out, "ok      token.signature: ");
    has(
        &out,
        &format!("problem token.issuer: issuer `{issuer}` is not the configured `{issuer}/`: they differ by a trailing `/`"),
    );
    lacks(&out, "unverified");
    has(
        &out,
        "problem token: the gateway would refuse this token: the token's issuer is not this provider",
    );
    // The subject is the provider's: its mapping is still told.
    has(&out, "ok      mapping: ");
}

#[test]
fn another_audience_is_named() {
    let provider = OidcProvider::start(&ProviderOptions::default());
    let home = mapped_home(&provider, DEFAULT_SUBJECT, "ALICE");
    let h = home.path();
    configure(h, &provider.issuer, &provider.jwks_uri(), "other-gateway");
    let token = provider.client_credentials_token(RS256_RESOURCE);
    let (code, out) = check(h, Some(&token));
    assert_eq!(code, 1, "{out}");
    has(&out, "ok      discovery.issuer: ");
    has(&out, "ok      token.signature: ");
    has(
        &out,
        &format!("problem token.audience: audience lacks `other-gateway`: the token is for `{AUDIENCE}` (zgate.oidc.audiences)"),
    );
    lacks(&out, "unverified");
    has(
        &out,
        "problem token: the gateway would refuse this token: the token is not for this audience",
    );
}

#[test]
fn a_tampered_token_is_refused_and_its_claims_are_marked_unverified() {
    let provider = OidcProvider::start(&ProviderOptions::default());
    let home = mapped_home(&provider, DEFAULT_SUBJECT, "ALICE");
    let h = home.path();
    let token = provider.client_credentials_token(RS256_RESOURCE);
    let kid = jwt_header(&token)["kid"].as_str().unwrap().to_owned();

    // Another audience and an expiry long past, the signature kept.
    let token = tampered(&token, |claims| {
        claims["aud"] = json!("someone-else");
        claims["exp"] = json!(1_000_000_000);
    });
    let (code, out) = check(h, Some(&token));
    assert_eq!(code, 1, "{out}");
    has(
        &out,
        &format!("problem token.signature: the signature does not verify with the provider's key {kid}: the token was altered, or not signed by this provider"),
    );
    has(
        &out,
        &format!("info    token.claims: unverified (the signature did not verify): sub {DEFAULT_SUBJECT}; iss {}; aud someone-else; ", provider.issuer),
    );
    has(&out, "; exp 2001-09-09T01:46:40Z; iat ");
    has(
        &out,
        "problem token.audience: audience lacks `zowe-gateway`: the token is for `someone-else` (zgate.oidc.audiences) (unverified claim)",
    );
    has(
        &out,
        "problem token.expiry: expired at 2001-09-09T01:46:40Z (",
    );
    has(&out, "s of clock skew allowed) (unverified claim)");
    has(
        &out,
        "problem token: the gateway would refuse this token: the signature does not verify",
    );
    lacks(&out, "token.signature: verifies");
    // An unverified subject is not mapped.
    lacks(&out, "mapping:");

    // A key the provider does not have.
    let good = provider.client_credentials_token(RS256_RESOURCE);
    let header = jwt_header(&good);
    let mut other = header.clone();
    other["kid"] = json!("no-such-key");
    let token = forged(other, &good, good.rsplit('.').next().unwrap());
    let (code, out) = check(h, Some(&token));
    assert_eq!(code, 1, "{out}");
    has(
        &out,
        "problem token.key: kid no-such-key is not in the provider's keys (they are: ",
    );
    has(
        &out,
        "problem token: the gateway would refuse this token: the provider has no key no-such-key",
    );
    lacks(&out, "mapping:");
}

#[test]
fn unsigned_and_hs256_tokens_are_refused_by_their_algorithm() {
    let provider = OidcProvider::start(&ProviderOptions::default());
    let home = mapped_home(&provider, DEFAULT_SUBJECT, "ALICE");
    let h = home.path();
    let good = provider.client_credentials_token(RS256_RESOURCE);
    let kid = jwt_header(&good)["kid"].clone();

    let unsigned = forged(json!({"alg": "none", "typ": "JWT"}), &good, "");
    let (code, out) = check(h, Some(&unsigned));
    assert_eq!(code, 1, "{out}");
    has(
        &out,
        "problem token.algorithm: alg none is not allowed: the token is unsigned, and the gateway never accepts an unsigned token",
    );
    has(&out, "problem token.key: the token names no key (kid)");
    has(&out, "info    token.claims: unverified");
    has(
        &out,
        "problem token: the gateway would refuse this token: algorithm none is not allowed for this provider",
    );
    lacks(&out, "mapping:");

    let hs256 = forged(json!({"alg": "HS256", "kid": kid}), &good, "c2lnbmF0dXJl");
    let (code, out) = check(h, Some(&hs256));
    assert_eq!(code, 1, "{out}");
    has(
        &out,
        "problem token.algorithm: alg HS256 is not allowed: a shared-secret MAC proves nothing about the provider; the gateway accepts RS256, PS256, ES256 (zgate.oidc.algorithms)",
    );
    lacks(&out, "token.key:");
    has(
        &out,
        "problem token: the gateway would refuse this token: algorithm HS256 is not allowed for this provider",
    );

    let opaque = "not-a-jwt";
    let (code, out) = check(h, Some(opaque));
    assert_eq!(code, 1, "{out}");
    has(&out, "problem token.format: the token is not a signed JWT");
}

#[test]
fn a_provider_that_is_down_is_called_unreachable() {
    let mut provider = OidcProvider::start(&ProviderOptions::default());
    let home = mapped_home(&provider, DEFAULT_SUBJECT, "ALICE");
    let h = home.path();
    let token = provider.client_credentials_token(RS256_RESOURCE);
    let (issuer, jwks_uri) = (provider.issuer.clone(), provider.jwks_uri());
    provider.stop();
    let (code, out) = check(h, Some(&token));
    assert_eq!(code, 1, "{out}");
    has(
        &out,
        &format!("problem discovery: the provider is unreachable: GET {issuer}/.well-known/openid-configuration: "),
    );
    has(
        &out,
        &format!("problem jwks: the provider's keys cannot be fetched: the provider is unreachable: GET {jwks_uri}: "),
    );
    has(
        &out,
        "problem token: cannot be checked: the provider's keys could not be fetched",
    );
    has(&out, "info    token.claims: unverified");
    lacks(&out, "mapping:");
}

#[test]
fn in_endpoint_mode_the_userinfo_endpoint_judges_the_token() {
    let provider = OidcProvider::start(&ProviderOptions::default());
    let home = mapped_home(&provider, "bob", "BOB");
    let h = home.path();
    let userinfo = provider.userinfo_endpoint();
    std::fs::write(
        h.join("zgate.yaml"),
        format!(
            "components:
  gateway:
    apiml:
      security:
        oidc:
          enabled: true
          registry: {REGISTRY}
          validationType: endpoint
          userInfo:
            uri: \"{userinfo}\"
zgate:
  oidc:
    issuers: [\"{}\"]
    audiences: [\"{AUDIENCE}\"]
",
            provider.issuer
        ),
    )
    .unwrap();
    let token = provider.authorization_code_token("bob", None, REDIRECT);
    let (code, out) = check(h, Some(&token));
    assert_eq!(code, 0, "{out}");
    has(
        &out,
        &format!("ok      discovery.userinfo_endpoint: the provider's userinfo_endpoint is {userinfo}, as configured"),
    );
    lacks(&out, "jwks");
    has(
        &out,
        "ok      token: the gateway would accept this token: the provider's userinfo endpoint names sub bob",
    );
    has(
        &out,
        &format!("ok      mapping: bob in registry {REGISTRY} maps to mainframe user BOB"),
    );

    let (code, out) = check(h, Some("opaque-token-the-provider-never-issued"));
    assert_eq!(code, 1, "{out}");
    has(
        &out,
        "problem token: the gateway would refuse this token: the provider's userinfo endpoint refused the token",
    );
}

#[test]
fn bad_usage_and_configuration_exit_64_and_a_disabled_provider_is_a_problem() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let file = h.join("t");
    std::fs::write(&file, "x").unwrap();
    for args in [
        &[
            "oidc",
            "check",
            "--token",
            "a",
            "--token-file",
            file.to_str().unwrap(),
        ][..],
        &["oidc", "check", "--token", "a", "-"],
        &["oidc", "check", "token-as-a-word"],
        &["oidc", "check", "--token-file", "/nonexistent/token"],
    ] {
        let out = zgate(h, args, None);
        assert_eq!(
            out.status.code(),
            Some(64),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).starts_with("zgate oidc check: "),
            "{args:?}"
        );
    }
    let out = zgate(h, &["oidc", "check", "-"], Some("  \n"));
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).contains("the token is empty"));

    // OIDC off (the default): a problem, with the keys to set.
    let (code, out) = check(h, None);
    assert_eq!(code, 1, "{out}");
    has(
        &out,
        "problem oidc: OIDC is disabled (components.gateway.apiml.security.oidc.enabled is false)",
    );

    // On, without an issuer: the configuration's own error.
    std::fs::write(
        h.join("zgate.yaml"),
        "components:\n  gateway:\n    apiml:\n      security:\n        oidc:\n          enabled: true\n          registry: r\n          jwks:\n            uri: http://127.0.0.1:9/jwks\nzgate:\n  oidc:\n    audiences: [a]\n",
    )
    .unwrap();
    let out = zgate(h, &["oidc", "check"], None);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("zgate.oidc.issuers"),
        "{}",
        text(&out.stderr)
    );
}
