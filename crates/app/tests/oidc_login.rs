//! zgate as the client of a real OpenID provider (panva's certified
//! `oidc-provider`, `ZGATE_TEST_NODE_MODULES`): a browser's login by the
//! authorization-code flow, played with curl, against the app in this
//! process on the system clock.
//!
//! - a login ends with zgate's own session for the user the login name maps
//!   to (RACMAP), which `auth/query` knows, logout revokes, and which ends
//!   no later than the provider's token; the code cannot be used twice;
//! - the pending login is the browser's only if its state and its sealed
//!   cookie are both intact; the provider's refusal ends nowhere else;
//! - a login name that maps to no user, or to a revoked one, gets no
//!   session;
//! - a login returns only to the gateway's paths or to an allow-listed
//!   origin, never to one that merely starts like it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

#[path = "../../auth/tests/support/oidc_provider.rs"]
mod oidc_provider;

use oidc_provider::{
    form_encode, query_params, OidcProvider, ProviderOptions, AUDIENCE, RS256_RESOURCE,
};
use support::Zgate;

const REGISTRATION: &str = "zgate";
const REGISTRY: &str = "zgate.test";
const ALLOWED_ORIGIN: &str = "https://app.example.com";

/// A provider, and zgate as its client `zgate-web` with ALICE mapped from
/// the login name `alice`.
struct Setup {
    // Dropped in this order: the app before its home.
    server: Zgate,
    provider: OidcProvider,
    home: tempfile::TempDir,
    overrides: Vec<String>,
}

/// A login started at zgate: where it sends the browser, and the cookie.
struct Started {
    location: String,
    cookie: String,
}

impl Setup {
    fn new() -> Setup {
        let provider = OidcProvider::start(&ProviderOptions::default());
        let home = tempfile::tempdir().unwrap();
        let overrides = [
            "components.gateway.apiml.security.oidc.enabled=true".to_owned(),
            format!("components.gateway.apiml.security.oidc.registry={REGISTRY}"),
            format!(
                "components.gateway.apiml.security.oidc.jwks.uri={}",
                provider.jwks_uri()
            ),
            format!("zgate.oidc.issuers={}", provider.issuer),
            format!("zgate.oidc.audiences={AUDIENCE}"),
            format!("zgate.oidc.client.registrationId={REGISTRATION}"),
            "zgate.oidc.client.clientId=zgate-web".to_owned(),
            "zgate.oidc.client.clientSecret=zgate-web-secret".to_owned(),
            format!(
                "zgate.oidc.client.authorizationUri={}",
                provider.authorization_endpoint()
            ),
            format!("zgate.oidc.client.tokenUri={}", provider.token_endpoint()),
            format!("zgate.oidc.client.resource={RS256_RESOURCE}"),
            format!("zgate.oidc.client.returnUrls={ALLOWED_ORIGIN}"),
        ];
        let server = Zgate::start(
            home.path(),
            &overrides.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        server.esm("ADDUSER ALICE PASSWORD(ALICEPW1) NOEXPIRED");
        server.esm("SETROPTS CLASSACT(IDIDMAP) RACLIST(IDIDMAP)");
        server.esm(&format!(
            "RACMAP ID(ALICE) MAP USERDIDFILTER(NAME('alice')) REGISTRY(NAME('{REGISTRY}')) WITHLABEL('alice')"
        ));
        server.esm("SETROPTS RACLIST(IDIDMAP) REFRESH");
        Setup {
            server,
            provider,
            home,
            overrides: overrides.to_vec(),
        }
    }

    /// `GET /gateway/oauth2/authorization/{id}<query>` with `args`.
    fn authorize(&self, query: &str, args: &[&str]) -> (u16, String) {
        self.server.curl(
            args,
            &format!("/gateway/oauth2/authorization/{REGISTRATION}{query}"),
        )
    }

    /// A login started with `query`, which zgate must accept.
    fn start(&self, query: &str) -> Started {
        let (status, text) = self.authorize(query, &[]);
        assert_eq!(status, 302, "{text}");
        let location = only_header(&text, "location");
        let set = only_header(&text, "set-cookie");
        let cookie = set
            .split(';')
            .next()
            .unwrap()
            .strip_prefix("oidc_state=")
            .unwrap_or_else(|| panic!("not the login's cookie: {set}"))
            .to_owned();
        Started { location, cookie }
    }

    /// The provider's answer for `user`: the callback's path and query on
    /// zgate (which must be where the provider sends the browser).
    fn provider_answer(&self, started: &Started, user: &str) -> String {
        let callback = self.provider.login(&started.location, user, "x");
        let prefix = self.server.url("/gateway/login/oauth2/code/");
        assert!(callback.starts_with(&prefix), "sent to {callback}");
        callback[self.server.url("").len()..].to_owned()
    }

    /// `GET` of the callback `path` with the pending login's `cookie`.
    fn callback(&self, path: &str, cookie: Option<&str>) -> (u16, String) {
        let header = cookie.map(|c| format!("Cookie: oidc_state={c}"));
        let args: Vec<&str> = match &header {
            Some(h) => vec!["-H", h],
            None => vec![],
        };
        self.server.curl(&args, path)
    }

    /// `GET /gateway/api/v1/auth/query` with the session `token`.
    fn query(&self, token: &str) -> (u16, String) {
        self.server.curl(
            &["-H", &format!("Cookie: apimlAuthenticationToken={token}")],
            "/gateway/api/v1/auth/query",
        )
    }
}

/// The values of the response head's `name` headers (`curl -i` text).
fn headers(text: &str, name: &str) -> Vec<String> {
    text.split("\r\n\r\n")
        .next()
        .unwrap()
        .lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_owned())
        .collect()
}

fn only_header(text: &str, name: &str) -> String {
    let values = headers(text, name);
    assert_eq!(values.len(), 1, "one {name} in {text}");
    values.into_iter().next().unwrap()
}

fn body_json(text: &str) -> serde_json::Value {
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The session token a successful callback sets, and checks that the
/// pending login's cookie is cleared beside it.
fn session_of(text: &str) -> String {
    let cookies = headers(text, "set-cookie");
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("oidc_state=;") && c.contains("Max-Age=0")),
        "the pending login is cleared: {text}"
    );
    let session = cookies
        .iter()
        .find_map(|c| c.strip_prefix("apimlAuthenticationToken="))
        .unwrap_or_else(|| panic!("no session cookie: {text}"));
    assert!(
        session.ends_with("; Path=/; SameSite=Strict; HttpOnly; Secure"),
        "the login endpoint's attributes: {session}"
    );
    session.split(';').next().unwrap().to_owned()
}

/// A failed callback: 401, the message number, the auth failure header, the
/// pending login cleared, no session and no redirect.
fn assert_refused(status: u16, text: &str, number: &str, failure: &str) {
    assert_eq!(status, 401, "{text}");
    assert_eq!(
        body_json(text)["messages"][0]["messageNumber"],
        number,
        "{text}"
    );
    assert_eq!(headers(text, "x-zowe-auth-failure"), [failure], "{text}");
    let cookies = headers(text, "set-cookie");
    assert_eq!(cookies.len(), 1, "{text}");
    assert!(
        cookies[0].starts_with("oidc_state=;") && cookies[0].contains("Max-Age=0"),
        "{text}"
    );
    assert!(headers(text, "location").is_empty(), "{text}");
}

const LOGIN_FAILED: &str = "ZGATE401E The OIDC login failed";

#[test]
fn a_browser_logs_in_at_the_provider_and_gets_a_session_of_its_mapped_user() {
    let setup = Setup::new();

    // The start: to the provider, with PKCE S256, state, nonce, resource.
    let (status, text) = setup.authorize("", &[]);
    assert_eq!(status, 302, "{text}");
    let location = only_header(&text, "location");
    let endpoint = setup.provider.authorization_endpoint();
    assert!(location.starts_with(&format!("{endpoint}?")), "{location}");
    let params = query_params(&location);
    let param = |name: &str| {
        let values: Vec<&str> = params
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(values.len(), 1, "one {name} in {location}");
        values[0].to_owned()
    };
    assert_eq!(param("response_type"), "code");
    assert_eq!(param("client_id"), "zgate-web");
    assert_eq!(param("scope"), "openid profile email");
    assert_eq!(param("resource"), RS256_RESOURCE);
    assert_eq!(param("code_challenge_method"), "S256");
    assert_eq!(
        param("redirect_uri"),
        setup.server.url("/gateway/login/oauth2/code/zgate")
    );
    for random in ["state", "nonce", "code_challenge"] {
        let value = param(random);
        assert_eq!(value.len(), 43, "{random}: 32 bytes base64url: {value}");
    }
    assert_ne!(param("state"), param("nonce"));
    let cookie = only_header(&text, "set-cookie");
    assert!(cookie.starts_with("oidc_state="), "{cookie}");
    for attribute in [
        "; Path=/",
        "; HttpOnly",
        "; Secure",
        "; SameSite=Lax",
        "; Max-Age=300",
    ] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    // The cookie is sealed: none of what the provider was sent shows in it.
    assert!(!cookie.contains(&param("state")), "{cookie}");

    // The login at the provider, and back: zgate's session for ALICE, on a
    // small page (no return URL was given).
    let started = setup.start("");
    let callback = setup.provider_answer(&started, "alice");
    let (status, text) = setup.callback(&callback, Some(&started.cookie));
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("You are logged in."), "{text}");
    assert_eq!(only_header(&text, "cache-control"), "no-store");
    let token = session_of(&text);

    let (status, text) = setup.query(&token);
    assert_eq!(status, 200, "{text}");
    let claims = body_json(&text);
    assert_eq!(claims["userId"], "ALICE", "{text}");
    // Never longer than the provider's token (600 s here; zgate's own
    // tokens last 8 hours).
    let lifetime_ms = claims["expiration"].as_i64().unwrap() - claims["creation"].as_i64().unwrap();
    assert!(lifetime_ms <= 600_000, "{text}");

    // Recorded as any token issued.
    let records = setup.server.audit_records();
    assert!(
        records.iter().any(|r| r["event"] == 200
            && r["event_qual"] == 0
            && r["evt_user_id"] == "ALICE"
            && r["token"]["kind"] == "jwt"),
        "{records:#?}"
    );

    // The code was used: the same answer again gets nothing.
    let (status, text) = setup.callback(&callback, Some(&started.cookie));
    assert_refused(status, &text, "ZGATE401E", LOGIN_FAILED);

    // Logout revokes the session like any other.
    let (status, text) = setup.server.curl(
        &[
            "-X",
            "POST",
            "-H",
            &format!("Cookie: apimlAuthenticationToken={token}"),
        ],
        "/gateway/api/v1/auth/logout",
    );
    assert_eq!(status, 204, "{text}");
    let (status, text) = setup.query(&token);
    assert_eq!(status, 401, "{text}");
}

#[test]
fn a_callback_counts_only_with_the_state_and_the_sealed_cookie_of_its_login() {
    let setup = Setup::new();
    let started = setup.start("");
    let callback = setup.provider_answer(&started, "alice");
    let state = query_params(&callback)
        .into_iter()
        .find(|(n, _)| n == "state")
        .unwrap()
        .1;

    // No cookie: no login is pending in this browser.
    let (status, text) = setup.callback(&callback, None);
    assert_refused(status, &text, "ZGATE401E", LOGIN_FAILED);
    assert!(
        text.contains("no login of this gateway is pending"),
        "{text}"
    );

    // A changed cookie does not open.
    let mut tampered: Vec<char> = started.cookie.chars().collect();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    let (status, text) = setup.callback(&callback, Some(&tampered));
    assert_refused(status, &text, "ZGATE401E", LOGIN_FAILED);

    // Another state (as a forged answer would carry) is not the login's,
    // nor is none.
    let forged = callback.replace(&format!("state={state}"), "state=forged");
    assert_ne!(forged, callback);
    let (status, text) = setup.callback(&forged, Some(&started.cookie));
    assert_refused(status, &text, "ZGATE401E", LOGIN_FAILED);
    assert!(text.contains("the state is not the login"), "{text}");
    let stateless = callback.replace(&format!("state={state}"), "x=y");
    let (status, text) = setup.callback(&stateless, Some(&started.cookie));
    assert_refused(status, &text, "ZGATE401E", LOGIN_FAILED);

    // Another login's cookie with this answer's state is not its either.
    let other = setup.start("");
    let (status, text) = setup.callback(&callback, Some(&other.cookie));
    assert_refused(status, &text, "ZGATE401E", LOGIN_FAILED);

    // The provider's refusal, with the right state, ends in an error too.
    let refused =
        format!("/gateway/login/oauth2/code/{REGISTRATION}?error=access_denied&state={state}");
    let (status, text) = setup.callback(&refused, Some(&started.cookie));
    assert_refused(status, &text, "ZGATE401E", LOGIN_FAILED);
    assert!(text.contains("the provider refused the login"), "{text}");

    // None of that used the code: the untouched answer still logs in.
    let (status, text) = setup.callback(&callback, Some(&started.cookie));
    assert_eq!(status, 200, "{text}");
    let token = session_of(&text);
    assert_eq!(setup.query(&token).0, 200);

    // An unknown registration is no endpoint.
    for path in [
        "/gateway/oauth2/authorization/other",
        "/gateway/login/oauth2/code/other?code=x&state=y",
    ] {
        let (status, text) = setup.server.curl(&[], path);
        assert_eq!(status, 404, "{path}: {text}");
        assert_eq!(
            body_json(&text)["messages"][0]["messageNumber"],
            "ZWEAM104E"
        );
    }
}

#[test]
fn a_login_name_without_a_mapped_user_or_of_a_revoked_user_gets_no_session() {
    let setup = Setup::new();

    let started = setup.start("");
    let callback = setup.provider_answer(&started, "mallory");
    let (status, text) = setup.callback(&callback, Some(&started.cookie));
    assert_refused(status, &text, "ZWEAG161E", "No mainframe identity found.");

    setup.server.esm("ADDUSER BOB PASSWORD(BOBPW123) NOEXPIRED");
    setup.server.esm(&format!(
        "RACMAP ID(BOB) MAP USERDIDFILTER(NAME('bob')) REGISTRY(NAME('{REGISTRY}')) WITHLABEL('bob')"
    ));
    setup.server.esm("SETROPTS RACLIST(IDIDMAP) REFRESH");
    setup.server.esm("ALTUSER BOB REVOKE");
    let started = setup.start("");
    let callback = setup.provider_answer(&started, "bob");
    let (status, text) = setup.callback(&callback, Some(&started.cookie));
    assert_eq!(status, 401, "{text}");
    assert_eq!(
        body_json(&text)["messages"][0]["messageNumber"],
        "ZWEAT414E"
    );
    assert!(
        !text.contains("apimlAuthenticationToken="),
        "no session: {text}"
    );

    // The same flow for a mapped user works: the refusals were the
    // mapping's.
    setup.server.esm("ALTUSER BOB RESUME");
    let started = setup.start("");
    let callback = setup.provider_answer(&started, "bob");
    let (status, text) = setup.callback(&callback, Some(&started.cookie));
    assert_eq!(status, 200, "{text}");
    let (_, text) = setup.query(&session_of(&text));
    assert_eq!(body_json(&text)["userId"], "BOB");
}

#[test]
fn a_login_returns_only_to_the_gateway_or_an_allowed_origin() {
    let setup = Setup::new();

    for bad in [
        "https://evil.example",
        "//evil.example",
        "/\\evil",
        "https://app.example.com.evil.com",
        "https://app.example.com@evil.example/",
        "https://app.example.com:8443/",
        "javascript:alert(1)",
    ] {
        let query = format!("?{}", form_encode(&[("returnUrl", bad)]));
        let (status, text) = setup.authorize(&query, &[]);
        assert_eq!(status, 400, "{bad}: {text}");
        assert_eq!(
            body_json(&text)["messages"][0]["messageNumber"],
            "ZGATE411E",
            "{bad}"
        );
        assert!(headers(&text, "location").is_empty(), "{bad}: {text}");
        assert!(headers(&text, "set-cookie").is_empty(), "{bad}: {text}");
    }
    // API ML's fallback, the Origin header, is held to the same list.
    let (status, text) = setup.authorize("", &["-H", "Origin: https://evil.example"]);
    assert_eq!(status, 400, "{text}");
    // Two return URLs: which one would count?
    let (status, text) = setup.authorize("?returnUrl=/a&returnUrl=/b", &[]);
    assert_eq!(status, 400, "{text}");

    // An allowed origin is where the login ends.
    let allowed = format!("{ALLOWED_ORIGIN}/after/login?tab=2");
    let query = format!("?{}", form_encode(&[("returnUrl", &allowed)]));
    let started = setup.start(&query);
    let callback = setup.provider_answer(&started, "alice");
    let (status, text) = setup.callback(&callback, Some(&started.cookie));
    assert_eq!(status, 302, "{text}");
    assert_eq!(only_header(&text, "location"), allowed);
    let token = session_of(&text);
    assert_eq!(setup.query(&token).0, 200);

    // So is a path of the gateway, and an allowed Origin.
    let started = setup.start("?returnUrl=%2Fgateway%2Fapi%2Fv1%2Fauth%2Fquery");
    let callback = setup.provider_answer(&started, "alice");
    let (status, text) = setup.callback(&callback, Some(&started.cookie));
    assert_eq!(status, 302, "{text}");
    assert_eq!(only_header(&text, "location"), "/gateway/api/v1/auth/query");

    let (status, text) = setup.authorize("", &["-H", &format!("Origin: {ALLOWED_ORIGIN}")]);
    assert_eq!(status, 302, "{text}");
    let started = Started {
        location: only_header(&text, "location"),
        cookie: only_header(&text, "set-cookie")
            .split(';')
            .next()
            .unwrap()
            .trim_start_matches("oidc_state=")
            .to_owned(),
    };
    let callback = setup.provider_answer(&started, "alice");
    let (status, text) = setup.callback(&callback, Some(&started.cookie));
    assert_eq!(status, 302, "{text}");
    assert_eq!(only_header(&text, "location"), ALLOWED_ORIGIN);
}

#[test]
fn a_login_started_on_one_node_ends_on_another_sharing_the_home() {
    let setup = Setup::new();
    // A second node: a copy of the home (keystore, state/ with the JWT and
    // login keys, the ESM), as README's cluster layout makes one.
    let copy = tempfile::tempdir().unwrap();
    let node = copy.path().join("home");
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(setup.home.path())
        .arg(&node)
        .status()
        .unwrap();
    assert!(status.success());
    let _ = std::fs::remove_dir_all(node.join("audit"));
    let key = node.join("state/oidc-login.key");
    assert_eq!(std::fs::read(&key).unwrap().len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let other = Zgate::start(
        &node,
        &setup
            .overrides
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );

    let started = setup.start("");
    let callback = setup.provider_answer(&started, "alice");
    let (status, text) = other.curl(
        &["-H", &format!("Cookie: oidc_state={}", started.cookie)],
        &callback,
    );
    assert_eq!(status, 200, "{text}");
    let token = session_of(&text);
    assert_eq!(setup.query(&token).0, 200);
}
