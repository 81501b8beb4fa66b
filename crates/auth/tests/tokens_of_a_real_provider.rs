//! Access tokens of a real, certified OpenID provider (panva's
//! `oidc-provider`, installed by scripts/test.sh into `.tools/node`, its
//! `node_modules` in `ZGATE_TEST_NODE_MODULES`), checked by zgate's strict
//! validator, through the shared driver `support/oidc_provider.rs`:
//!
//! - its RS256 and ES256 JWT access tokens from the client_credentials grant
//!   verify with the key set its `jwks_uri` serves, are refused for another
//!   issuer, audience or a changed signature, and stay verifiable with the
//!   cached keys once the provider is gone;
//! - its keys rotate: a new generation signs while the old stays published,
//!   until retired;
//! - served over HTTPS with the gateway's own certificate, it works the same;
//! - its authorization-code flow (PKCE required) gives a JWT access token for
//!   the gateway's resource, whose `sub` is the login name, or an opaque one
//!   that its userinfo endpoint answers for.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/oidc_provider.rs"]
mod oidc_provider;

use std::path::PathBuf;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use oidc_provider::{
    curl_get, jwt_header, query_params, sha256, OidcProvider, ProviderOptions, AUDIENCE,
    DEFAULT_SUBJECT, ES256_RESOURCE, RS256_RESOURCE, WEB_CLIENT_ID,
};
use zgate_auth::oidc::{
    verify, Algorithm, JwksSource, KeySet, OidcError, ProviderKeys, ProviderPolicy,
};

/// Redirect URIs of the code-flow client: nobody serves them, the driver
/// reads the code from the provider's `Location`.
const REDIRECT_LOCALHOST: &str = "https://localhost:10010/gateway/login/oauth2/code/oidc";
const REDIRECT_LOOPBACK: &str = "https://127.0.0.1:7554/gateway/login/oauth2/code/oidc";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

fn start() -> OidcProvider {
    OidcProvider::start(&ProviderOptions::default())
}

/// The provider's key set, fetched now.
fn key_set(provider: &OidcProvider) -> KeySet {
    KeySet::from_jwks(&provider.http_get(&provider.jwks_uri()).unwrap()).unwrap()
}

/// The provider's `jwks_uri`, fetched as a gateway would (with curl here).
struct CurlJwks {
    url: String,
    ca_file: Option<PathBuf>,
}

impl CurlJwks {
    fn of(provider: &OidcProvider) -> Box<CurlJwks> {
        Box::new(CurlJwks {
            url: provider.jwks_uri(),
            ca_file: provider.ca_file().map(PathBuf::from),
        })
    }
}

impl JwksSource for CurlJwks {
    fn fetch(&self) -> Result<Vec<u8>, String> {
        curl_get(&self.url, self.ca_file.as_deref())
    }
}

fn kid(token: &str) -> String {
    jwt_header(token)["kid"].as_str().unwrap().to_owned()
}

/// The token with one byte of its signature changed.
fn with_flipped_signature(token: &str) -> String {
    let (signed, sig) = token.rsplit_once('.').unwrap();
    let mut sig = B64URL.decode(sig).unwrap();
    sig[7] ^= 0x01;
    format!("{signed}.{}", B64URL.encode(sig))
}

#[test]
fn its_rs256_and_es256_tokens_verify_with_its_published_keys() {
    let provider = start();
    let keys = key_set(&provider);
    assert_eq!(keys.len(), 2, "both keys taken: {:?}", keys.skipped);
    assert!(keys.skipped.is_empty(), "{:?}", keys.skipped);
    let policy = ProviderPolicy::new(&provider.issuer, &[AUDIENCE]);

    for (resource, alg) in [(RS256_RESOURCE, "RS256"), (ES256_RESOURCE, "ES256")] {
        let token = provider.client_credentials_token(resource);
        let h = jwt_header(&token);
        assert_eq!(h["alg"], alg);
        assert_eq!(h["typ"], "at+jwt");
        assert!(keys.has(h["kid"].as_str().unwrap()));

        let ok = verify(&token, &policy, &keys, now()).unwrap();
        assert_eq!(ok.sub, DEFAULT_SUBJECT);
        assert_eq!(ok.claims["iss"], provider.issuer.as_str());
        assert_eq!(ok.claims["aud"], AUDIENCE);
        assert_eq!(ok.claims["client_id"], "zgate-test");
        assert!(ok.exp > now(), "an unexpired token");
    }
}

#[test]
fn its_tokens_are_refused_for_another_issuer_audience_algorithm_or_signature() {
    let provider = start();
    let keys = key_set(&provider);
    let policy = ProviderPolicy::new(&provider.issuer, &[AUDIENCE]);
    let other_issuer = ProviderPolicy::new(&format!("{}/", provider.issuer), &[AUDIENCE]);
    let other_audience = ProviderPolicy::new(&provider.issuer, &["another-api"]);
    let mut rsa_only = policy.clone();
    rsa_only.algorithms = vec![Algorithm::Rs256];

    for resource in [RS256_RESOURCE, ES256_RESOURCE] {
        let token = provider.client_credentials_token(resource);
        assert!(verify(&token, &policy, &keys, now()).is_ok());
        assert_eq!(
            verify(&token, &other_issuer, &keys, now()),
            Err(OidcError::WrongIssuer)
        );
        assert_eq!(
            verify(&token, &other_audience, &keys, now()),
            Err(OidcError::WrongAudience)
        );
        assert_eq!(
            verify(&with_flipped_signature(&token), &policy, &keys, now()),
            Err(OidcError::BadSignature)
        );
        // Long after its expiry (600 s, plus the skew).
        assert_eq!(
            verify(&token, &policy, &keys, now() + 3600),
            Err(OidcError::Expired)
        );
    }
    let es256 = provider.client_credentials_token(ES256_RESOURCE);
    assert_eq!(
        verify(&es256, &rsa_only, &keys, now()),
        Err(OidcError::Algorithm("ES256".into()))
    );
}

#[test]
fn keys_fetched_from_its_jwks_uri_verify_and_outlive_it() {
    let mut provider = start();
    let policy = ProviderPolicy::new(&provider.issuer, &[AUDIENCE]);
    let keys = ProviderKeys::new(CurlJwks::of(&provider));
    assert!(keys.current().is_empty());
    assert_eq!(keys.refresh(), Ok(2));

    let rs256 = provider.client_credentials_token(RS256_RESOURCE);
    let es256 = provider.client_credentials_token(ES256_RESOURCE);
    for token in [&rs256, &es256] {
        assert_eq!(
            keys.verify(token, &policy, now()).unwrap().sub,
            DEFAULT_SUBJECT
        );
    }

    provider.stop();
    // The provider is down: fetching fails, the last good keys stay.
    let err = keys.refresh().expect_err("nothing answers at the jwks_uri");
    assert!(!err.is_empty());
    assert_eq!(keys.current().len(), 2);
    for token in [&rs256, &es256] {
        assert_eq!(
            keys.verify(token, &policy, now()).unwrap().sub,
            DEFAULT_SUBJECT
        );
        assert_eq!(
            keys.verify(&with_flipped_signature(token), &policy, now()),
            Err(OidcError::BadSignature)
        );
    }
}

#[test]
fn rotated_keys_sign_while_the_old_stay_published_until_retired() {
    use std::os::unix::fs::PermissionsExt as _;

    let dir = tempfile::tempdir().unwrap();
    let keys_file = dir.path().join("provider-keys.json");
    let mut provider = OidcProvider::start(&ProviderOptions {
        keys_file: Some(keys_file.clone()),
        ..ProviderOptions::default()
    });
    let mode = std::fs::metadata(&keys_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the private keys are the owner's only");
    let in_file = || -> Vec<String> {
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&keys_file).unwrap()).unwrap();
        let keys = doc["keys"].as_array().unwrap();
        assert!(keys.iter().all(|k| k["d"].is_string()), "private keys");
        keys.iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(in_file(), ["rsa-1", "ec-1"]);
    assert_eq!(provider.published_kids(), ["rsa-1", "ec-1"]);

    let policy = ProviderPolicy::new(&provider.issuer, &[AUDIENCE]);
    let keys = ProviderKeys::new(CurlJwks::of(&provider));
    assert_eq!(keys.refresh(), Ok(2));
    let old_rs = provider.client_credentials_token(RS256_RESOURCE);
    let old_es = provider.client_credentials_token(ES256_RESOURCE);
    assert_eq!(
        (kid(&old_rs), kid(&old_es)),
        ("rsa-1".into(), "ec-1".into())
    );

    // A restart on the same port and keys file, with a new generation.
    let issuer = provider.issuer.clone();
    provider.restart(true, false);
    assert_eq!(provider.issuer, issuer);
    assert_eq!(in_file(), ["rsa-2", "ec-2", "rsa-1", "ec-1"]);
    assert_eq!(
        provider.published_kids(),
        ["rsa-2", "ec-2", "rsa-1", "ec-1"]
    );
    let new_rs = provider.client_credentials_token(RS256_RESOURCE);
    let new_es = provider.client_credentials_token(ES256_RESOURCE);
    assert_eq!(
        (kid(&new_rs), kid(&new_es)),
        ("rsa-2".into(), "ec-2".into())
    );
    // The cached set lacks the new kids: verifying fetches it again.
    assert!(!keys.current().has("rsa-2"));
    for token in [&new_rs, &new_es, &old_rs, &old_es] {
        assert_eq!(
            keys.verify(token, &policy, now()).unwrap().sub,
            DEFAULT_SUBJECT
        );
    }
    assert_eq!(keys.current().len(), 4);
    // ID tokens are signed with the new generation too.
    let tokens = provider.authorization_code_tokens("erin", None, REDIRECT_LOCALHOST);
    assert_eq!(kid(tokens["id_token"].as_str().unwrap()), "rsa-2");

    // Retired: only the newest generation is left.
    provider.restart(true, true);
    assert_eq!(in_file(), ["rsa-3", "ec-3"]);
    assert_eq!(provider.published_kids(), ["rsa-3", "ec-3"]);
    assert_eq!(keys.refresh(), Ok(2));
    let newest = provider.client_credentials_token(RS256_RESOURCE);
    assert_eq!(kid(&newest), "rsa-3");
    assert_eq!(
        keys.verify(&newest, &policy, now()).unwrap().sub,
        DEFAULT_SUBJECT
    );
    for (token, kid) in [(&old_rs, "rsa-1"), (&new_es, "ec-2")] {
        assert_eq!(
            keys.verify(token, &policy, now()),
            Err(OidcError::UnknownKid(kid.into()))
        );
    }
}

#[test]
fn over_https_with_the_gateway_certificate_it_works_the_same() {
    let provider = OidcProvider::start(&ProviderOptions {
        subject: Some("zoe".into()),
        ..ProviderOptions::default().zowe_localhost_tls()
    });
    assert_eq!(
        provider.issuer,
        format!("https://localhost:{}", provider.port)
    );
    let discovery = provider.discovery();
    assert_eq!(
        discovery["jwks_uri"],
        format!("{}/jwks", provider.issuer).as_str()
    );
    // Without the CA, curl refuses the provider's certificate.
    let untrusted = curl_get(&provider.jwks_uri(), None).expect_err("an unknown CA");
    assert!(untrusted.contains("certificate"), "{untrusted}");

    let policy = ProviderPolicy::new(&provider.issuer, &[AUDIENCE]);
    let keys = ProviderKeys::new(CurlJwks::of(&provider));
    assert_eq!(keys.refresh(), Ok(2));
    for resource in [RS256_RESOURCE, ES256_RESOURCE] {
        let token = provider.client_credentials_token(resource);
        assert_eq!(keys.verify(&token, &policy, now()).unwrap().sub, "zoe");
    }
    let token = provider.authorization_code_token("frank", Some(RS256_RESOURCE), REDIRECT_LOOPBACK);
    assert_eq!(keys.verify(&token, &policy, now()).unwrap().sub, "frank");
}

#[test]
fn a_code_flow_jwt_access_token_verifies_and_names_the_login() {
    let provider = start();
    let keys = key_set(&provider);
    let policy = ProviderPolicy::new(&provider.issuer, &[AUDIENCE]);

    let token =
        provider.authorization_code_token("carol", Some(RS256_RESOURCE), REDIRECT_LOCALHOST);
    let h = jwt_header(&token);
    assert_eq!(
        (h["alg"].as_str(), h["typ"].as_str()),
        (Some("RS256"), Some("at+jwt"))
    );
    let ok = verify(&token, &policy, &keys, now()).unwrap();
    assert_eq!(ok.sub, "carol");
    assert_eq!(ok.claims["client_id"], WEB_CLIENT_ID);
    assert_eq!(ok.claims["aud"], AUDIENCE);
    // A token for the gateway is not one for the provider's userinfo.
    let refused = provider
        .userinfo(&token)
        .expect_err("not the userinfo's audience");
    assert!(refused.contains("invalid_token"), "{refused}");

    // Another login is another subject.
    let other = provider.authorization_code_token("dave", Some(RS256_RESOURCE), REDIRECT_LOOPBACK);
    assert_eq!(verify(&other, &policy, &keys, now()).unwrap().sub, "dave");
}

#[test]
fn a_code_flow_opaque_token_gets_its_subject_from_userinfo() {
    let provider = start();
    let keys = key_set(&provider);
    let policy = ProviderPolicy::new(&provider.issuer, &[AUDIENCE]);

    let token = provider.authorization_code_token("grace", None, REDIRECT_LOOPBACK);
    assert_eq!(token.split('.').count(), 1, "opaque: {token}");
    assert_eq!(
        verify(&token, &policy, &keys, now()),
        Err(OidcError::Malformed)
    );

    // As the gateway asks the provider (curl plays the gateway here).
    let out = Command::new("curl")
        .args(["-sS", "--fail-with-body", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .arg(provider.userinfo_endpoint())
        .output()
        .unwrap();
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{body}");
    let info: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(info["sub"], "grace");
    assert_eq!(provider.userinfo(&token).unwrap(), info);

    let refused = provider
        .userinfo(&format!("{token}x"))
        .expect_err("an unknown token");
    assert!(refused.contains("invalid_token"), "{refused}");
}

/// The provider's answer to an authorization request, before any login:
/// its status and `Location`.
fn authorize(provider: &OidcProvider, params: &[(&str, &str)]) -> (String, String) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
        ])
        .arg(provider.authorization_request(params))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (status, location) = text.split_once(' ').unwrap();
    (status.to_owned(), location.to_owned())
}

#[test]
fn its_code_flow_requires_pkce_and_a_loopback_https_redirect_uri() {
    let provider = start();
    let challenge = B64URL.encode(sha256(b"a verifier of forty-three characters or more"));
    let request = |redirect_uri, challenge: Option<&str>| {
        let mut params = vec![
            ("client_id", WEB_CLIENT_ID),
            ("response_type", "code"),
            ("scope", "openid"),
            ("redirect_uri", redirect_uri),
            ("state", "s-1"),
        ];
        if let Some(challenge) = challenge {
            params.extend([
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
            ]);
        }
        authorize(&provider, &params)
    };

    // With PKCE: on to the login.
    for redirect_uri in [REDIRECT_LOCALHOST, REDIRECT_LOOPBACK] {
        let (status, location) = request(redirect_uri, Some(&challenge));
        assert_eq!(status, "303", "{location}");
        assert!(
            location.starts_with(&format!("{}/interaction/", provider.issuer)),
            "{location}"
        );
    }

    // Without: refused, back to the client.
    let (status, location) = request(REDIRECT_LOCALHOST, None);
    assert_eq!(status, "303");
    assert!(location.starts_with(REDIRECT_LOCALHOST), "{location}");
    let answer = query_params(&location);
    let get = |name: &str| {
        answer
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("error"), Some("invalid_request"), "{location}");
    assert!(
        get("error_description").unwrap().contains("PKCE"),
        "{location}"
    );
    assert_eq!(get("code"), None);
    // The same through the driver's login: no form, the refusal at once.
    let params = [
        ("client_id", WEB_CLIENT_ID),
        ("response_type", "code"),
        ("scope", "openid"),
        ("redirect_uri", REDIRECT_LOOPBACK),
        ("state", "s-2"),
    ];
    let refused = provider.login(&provider.authorization_request(&params), "heidi", "pw");
    assert!(refused.contains("error=invalid_request"), "{refused}");

    // Other redirect URIs are not the client's: an error page, no redirect.
    for redirect_uri in [
        "http://localhost:10010/gateway/login/oauth2/code/oidc",
        "https://gateway.example.com/gateway/login/oauth2/code/oidc",
        "https://localhost.example.com:10010/cb",
    ] {
        let (status, location) = request(redirect_uri, Some(&challenge));
        assert_eq!(
            (status.as_str(), location.as_str()),
            ("400", ""),
            "{redirect_uri}"
        );
    }
}

#[test]
fn a_provider_that_cannot_start_says_why() {
    let first = start();
    let taken = std::panic::catch_unwind(|| {
        OidcProvider::start(&ProviderOptions {
            port: first.port,
            ..ProviderOptions::default()
        })
    });
    let message = *taken
        .err()
        .expect("a second provider on the same port")
        .downcast::<String>()
        .unwrap();
    assert!(message.contains("did not start"), "{message}");
    assert!(message.contains("EADDRINUSE"), "{message}");
}

#[test]
fn the_drivers_sha256_is_sha256() {
    let hex = |d: [u8; 32]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    // FIPS 180-4 examples, one and two blocks, and the empty message.
    assert_eq!(
        hex(sha256(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        hex(sha256(
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
        )),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    );
    assert_eq!(
        hex(sha256(b"")),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}
