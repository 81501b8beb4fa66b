use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;

use super::*;

const RSA_A: &[u8] = include_bytes!("../testdata/rsa-a.pk8.der");
const RSA_B: &[u8] = include_bytes!("../testdata/rsa-b.pk8.der");
const EC: &[u8] = include_bytes!("../testdata/ec-p256.pk8.der");
const RSA_1024: &[u8] = include_bytes!("../testdata/rsa-1024.pk8.der");

const T0: i64 = 1_700_000_000_000;

fn key(der: &[u8]) -> SigningKey {
    let probe = SigningKey::from_pkcs8(der, "probe").unwrap();
    let kid = thumbprint_kid(probe.public());
    SigningKey::from_pkcs8(der, kid).unwrap()
}

fn service_with(
    der: &[u8],
    clock: Arc<ManualClock>,
    store: Arc<MemoryRevocationStore>,
) -> TokenService {
    TokenService::new(
        KeyRing::new(key(der)),
        clock,
        TokenSettings {
            lifetime_seconds: 28800,
            domain: "security-domain".into(),
        },
        store,
    )
    .unwrap()
}

fn service(der: &[u8]) -> (TokenService, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
    (service_with(der, clock.clone(), Arc::default()), clock)
}

fn parts(token: &str) -> (serde_json::Value, serde_json::Value, String) {
    let mut it = token.split('.');
    let header = serde_json::from_slice(&B64URL.decode(it.next().unwrap()).unwrap()).unwrap();
    let payload = serde_json::from_slice(&B64URL.decode(it.next().unwrap()).unwrap()).unwrap();
    (header, payload, it.next().unwrap().to_string())
}

fn forge(
    header: serde_json::Value,
    payload: serde_json::Value,
    sign: impl Fn(&[u8]) -> Vec<u8>,
) -> String {
    let input = format!(
        "{}.{}",
        B64URL.encode(header.to_string()),
        B64URL.encode(payload.to_string())
    );
    let signature = sign(input.as_bytes());
    format!("{input}.{}", B64URL.encode(signature))
}

#[test]
fn issued_token_has_spec_claims_and_kid() {
    let (svc, _) = service(RSA_A);
    let issued = svc.issue("USER1").unwrap();
    let (header, payload, _) = parts(&issued.token);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["kid"], svc.current_key().kid.as_str());
    assert_eq!(payload["sub"], "USER1");
    assert_eq!(payload["iss"], "APIML");
    assert_eq!(payload["dom"], "security-domain");
    assert_eq!(payload["iat"], T0 / 1000);
    assert_eq!(payload["exp"], T0 / 1000 + 28800);
    let jti = payload["jti"].as_str().unwrap();
    assert_eq!(jti.len(), 36);
    assert_ne!(
        jti,
        parts(&svc.issue("USER1").unwrap().token).1["jti"]
            .as_str()
            .unwrap()
    );
    let verified = svc.verify(&issued.token).unwrap();
    assert_eq!(verified.claims.sub, "USER1");
}

#[test]
fn es256_when_the_key_is_ec() {
    let (svc, _) = service(EC);
    let issued = svc.issue("U").unwrap();
    assert_eq!(parts(&issued.token).0["alg"], "ES256");
    assert!(svc.verify(&issued.token).is_ok());
    let jwk = svc.current_key().jwk();
    assert_eq!(jwk["kty"], "EC");
    assert_eq!(jwk["crv"], "P-256");
    assert_eq!(PublicKey::from_jwk(&jwk).unwrap(), *svc.current_key());
}

#[test]
fn small_rsa_keys_are_refused() {
    assert!(matches!(
        SigningKey::from_pkcs8(RSA_1024, "k"),
        Err(KeyError::UnsupportedKey)
    ));
    assert!(SigningKey::from_pkcs8(b"not a key", "k").is_err());
}

#[test]
fn jwk_and_pem_of_rsa_key() {
    let (svc, _) = service(RSA_A);
    let jwk = svc.current_key().jwk();
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["use"], "sig");
    assert_eq!(jwk["alg"], "RS256");
    assert_eq!(jwk["e"], "AQAB");
    assert_eq!(PublicKey::from_jwk(&jwk).unwrap(), *svc.current_key());
    let pem = svc.current_key().pem();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    // openssl agrees it is the public half of the private key.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("k.der"), RSA_A).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["pkey", "-inform", "DER", "-pubout", "-in"])
        .arg(dir.path().join("k.der"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), pem);
}

#[test]
fn ec_pem_matches_openssl() {
    let (svc, _) = service(EC);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("k.der"), EC).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["pkey", "-inform", "DER", "-pubout", "-in"])
        .arg(dir.path().join("k.der"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        svc.current_key().pem()
    );
}

#[test]
fn expiry_is_exact() {
    let (svc, clock) = service(RSA_A);
    let token = svc.issue("U").unwrap().token;
    clock.advance_ms(28800 * 1000 - 1);
    assert!(svc.verify(&token).is_ok());
    clock.advance_ms(1);
    assert_eq!(svc.verify(&token).unwrap_err(), TokenError::Expired);
}

#[test]
fn cache_checks_each_signature_once() {
    let (svc, _) = service(RSA_A);
    let token = svc.issue("U").unwrap().token;
    for _ in 0..10 {
        svc.verify(&token).unwrap();
    }
    assert_eq!(svc.signature_checks(), 1);
    let other = svc.issue("V").unwrap().token;
    svc.verify(&other).unwrap();
    assert_eq!(svc.signature_checks(), 2);
}

#[test]
fn revocation_is_checked_even_on_cache_hits_and_persists() {
    let clock = Arc::new(ManualClock::new(T0));
    let store = Arc::new(MemoryRevocationStore::default());
    let svc = service_with(RSA_A, clock.clone(), store.clone());
    let token = svc.issue("U").unwrap().token;
    svc.verify(&token).unwrap();
    svc.revoke(&token).unwrap();
    assert_eq!(svc.verify(&token).unwrap_err(), TokenError::Revoked);
    assert_eq!(svc.revoke(&token).unwrap_err(), TokenError::Revoked);
    // The store holds the hash, not the token.
    let hashes = store.revoked();
    assert_eq!(hashes, vec![TokenHash::of(&token)]);
    // A new service over the same store (a restart) still rejects it.
    let restarted = service_with(RSA_A, clock, store);
    assert_eq!(restarted.verify(&token).unwrap_err(), TokenError::Revoked);
}

#[test]
fn refresh_revokes_the_old_token() {
    let (svc, clock) = service(RSA_A);
    let old = svc.issue("U").unwrap().token;
    clock.advance_ms(5000);
    let new = svc.refresh(&old).unwrap();
    assert_eq!(new.claims.sub, "U");
    assert_eq!(svc.verify(&old).unwrap_err(), TokenError::Revoked);
    assert!(svc.verify(&new.token).is_ok());
}

#[test]
fn tampered_tokens_are_rejected() {
    let (svc, _) = service(RSA_A);
    let token = svc.issue("USER1").unwrap().token;
    let (header, mut payload, signature) = parts(&token);
    payload["sub"] = "ADMIN".into();
    let tampered = format!(
        "{}.{}.{}",
        B64URL.encode(header.to_string()),
        B64URL.encode(payload.to_string()),
        signature
    );
    assert_eq!(svc.verify(&tampered).unwrap_err(), TokenError::BadSignature);
    // A flipped signature byte.
    let mut bytes = token.into_bytes();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(bytes).unwrap();
    assert!(svc.verify(&flipped).is_err());
}

#[test]
fn alg_none_is_rejected() {
    let (svc, _) = service(RSA_A);
    let claims = parts(&svc.issue("U").unwrap().token).1;
    for header in [
        serde_json::json!({"alg":"none","typ":"JWT"}),
        serde_json::json!({"alg":"none","typ":"JWT","kid":svc.current_key().kid}),
        serde_json::json!({"alg":"None"}),
    ] {
        let token = forge(header, claims.clone(), |_| Vec::new());
        let token = token.trim_end_matches('.').to_string() + ".";
        assert_eq!(
            svc.verify(&token).unwrap_err(),
            TokenError::UnsupportedAlgorithm
        );
    }
}

#[test]
fn hs256_with_the_public_key_as_secret_is_rejected() {
    let (svc, _) = service(RSA_A);
    let claims = parts(&svc.issue("ADMIN").unwrap().token).1;
    let pem = svc.current_key().pem();
    let der = svc.current_key().spki_der();
    for secret in [pem.as_bytes().to_vec(), der] {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
        for header in [
            serde_json::json!({"alg":"HS256","typ":"JWT","kid":svc.current_key().kid}),
            serde_json::json!({"alg":"HS256","typ":"JWT"}),
        ] {
            let token = forge(header, claims.clone(), |input| {
                ring::hmac::sign(&key, input).as_ref().to_vec()
            });
            assert_eq!(
                svc.verify(&token).unwrap_err(),
                TokenError::UnsupportedAlgorithm
            );
        }
    }
}

#[test]
fn foreign_keys_are_rejected() {
    let (svc, _) = service(RSA_A);
    let (foreign, _) = service(RSA_B);
    let token = foreign.issue("U").unwrap().token;
    assert_eq!(svc.verify(&token).unwrap_err(), TokenError::UnknownKey);
    // A foreign key that claims our kid fails on the signature.
    let claims = parts(&token).1;
    let signer = key(RSA_B);
    let forged = forge(
        serde_json::json!({"alg":"RS256","kid":svc.current_key().kid}),
        claims,
        |input| signer.sign(input).unwrap(),
    );
    assert_eq!(svc.verify(&forged).unwrap_err(), TokenError::BadSignature);
}

#[test]
fn wrong_issuer_is_rejected() {
    let (svc, _) = service(RSA_A);
    let mut claims = parts(&svc.issue("U").unwrap().token).1;
    claims["iss"] = "APIML_PAT".into();
    let signer = key(RSA_A);
    let token = forge(
        serde_json::json!({"alg":"RS256","kid":svc.current_key().kid}),
        claims,
        |input| signer.sign(input).unwrap(),
    );
    assert_eq!(svc.verify(&token).unwrap_err(), TokenError::WrongIssuer);
}

#[test]
fn malformed_tokens_are_rejected() {
    let (svc, _) = service(RSA_A);
    let long = "a".repeat(tokens::MAX_TOKEN_LEN + 1);
    for token in [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "!!.!!.!!",
        "e30.e30.",
        long.as_str(),
    ] {
        assert_eq!(
            svc.verify(token).unwrap_err(),
            TokenError::Malformed,
            "{token:.20}"
        );
    }
}

#[test]
fn rotated_keys_keep_verifying_until_their_tokens_expire() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/jwt-keys.json");
    let clock = Arc::new(ManualClock::new(T0));
    let settings = TokenSettings {
        lifetime_seconds: 100,
        domain: "d".into(),
    };
    let store: Arc<MemoryRevocationStore> = Arc::default();
    let ring_a = KeyRing::open(&path, key(RSA_A), T0, 100_000).unwrap();
    let svc_a = TokenService::new(ring_a, clock.clone(), settings.clone(), store.clone()).unwrap();
    let old_token = svc_a.issue("U").unwrap().token;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    // Restart with a new server key: key A is retired but still verifies.
    clock.advance_ms(10_000);
    let ring_b = KeyRing::open(&path, key(RSA_B), clock.now_ms(), 100_000).unwrap();
    assert_eq!(ring_b.retired().len(), 1);
    let svc_b = TokenService::new(ring_b, clock.clone(), settings.clone(), store.clone()).unwrap();
    assert!(svc_b.verify(&old_token).is_ok());
    assert_eq!(svc_b.public_keys().len(), 2);
    let new_token = svc_b.issue("U").unwrap().token;
    assert_eq!(parts(&new_token).0["kid"], svc_b.current_key().kid.as_str());

    // Once the retirement window passes, key A is gone.
    clock.advance_ms(100_001);
    let ring_b2 = KeyRing::open(&path, key(RSA_B), clock.now_ms(), 100_000).unwrap();
    assert!(ring_b2.retired().is_empty());
    let svc_b2 = TokenService::new(ring_b2, clock, settings, store).unwrap();
    assert_eq!(
        svc_b2.verify(&old_token).unwrap_err(),
        TokenError::UnknownKey
    );
    assert_eq!(svc_b2.public_keys().len(), 1);
}

#[test]
fn token_hash_hex_round_trips() {
    let hash = TokenHash::of("x");
    assert_eq!(TokenHash::from_hex(&hash.to_hex()), Some(hash));
    assert_eq!(TokenHash::from_hex("zz"), None);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Arbitrary input never panics and never verifies.
        #[test]
        fn arbitrary_text_is_rejected(text in ".{0,400}") {
            let (svc, _) = service(RSA_A);
            prop_assert!(svc.verify(&text).is_err());
        }

        /// Changing any one character of a valid token makes it invalid
        /// (base64url has no two encodings of the same bytes here, except in
        /// the unused low bits of the last character, which we skip).
        #[test]
        fn any_single_change_is_rejected(position in 0usize..10_000, replacement in "[A-Za-z0-9_.-]") {
            let (svc, _) = service(RSA_A);
            let token = svc.issue("USER1").unwrap().token;
            let position = position % token.len();
            let segment_end = token[position..].find('.').map_or(token.len(), |i| position + i);
            prop_assume!(position + 1 != segment_end);
            let original = &token[position..=position];
            prop_assume!(original != replacement);
            let mut changed = token.clone();
            changed.replace_range(position..=position, &replacement);
            prop_assert!(svc.verify(&changed).is_err());
            prop_assert!(svc.verify(&token).is_ok());
        }
    }
}

// SAF identity tokens.
#[test]
fn saf_idt_round_trip_expiry_and_separation_from_jwt() {
    let (svc, clock) = service(RSA_A);
    let idt = svc.issue_saf_idt("alice", "tstappl", 300).unwrap();
    let (header, payload, _) = parts(&idt);
    assert_eq!(header["kid"], svc.current_key().kid.as_str());
    assert_eq!(payload["sub"], "ALICE");
    assert_eq!(payload["aud"], "TSTAPPL");
    assert_eq!(payload["iss"], SAF_IDT_ISSUER);
    assert_eq!(
        payload["exp"].as_i64().unwrap() - payload["iat"].as_i64().unwrap(),
        300
    );
    let claims = svc.verify_saf_idt(&idt, Some("TSTAPPL")).unwrap();
    assert_eq!(claims.sub, "ALICE");
    assert!(svc.verify_saf_idt(&idt, Some("OTHER")).is_err());
    // Not a gateway JWT, and a gateway JWT is not a SAF IDT.
    assert!(svc.verify(&idt).is_err());
    let jwt = svc.issue("ALICE").unwrap().token;
    assert!(svc.verify_saf_idt(&jwt, None).is_err());
    // Verifiable with the published key (what a backend does with the JWKS).
    let jwk = svc.current_key().jwk();
    let public = PublicKey::from_jwk(&jwk).unwrap();
    let (input, sig) = idt.rsplit_once('.').unwrap();
    assert!(public.verify(input.as_bytes(), &B64URL.decode(sig).unwrap()));
    // Tampering and expiry.
    let (_, payload, _) = parts(&idt);
    let mut forged_payload = payload.clone();
    forged_payload["sub"] = "BOB".into();
    let forged = forge(header.clone(), forged_payload, |_| vec![0; 256]);
    assert!(svc.verify_saf_idt(&forged, None).is_err());
    clock.advance_ms(300_000);
    assert!(matches!(
        svc.verify_saf_idt(&idt, None),
        Err(TokenError::Expired)
    ));
}

/// A token service over `clock` (shared with the PAT tests).
pub(crate) fn token_service_with_clock(clock: Arc<ManualClock>) -> TokenService {
    service_with(RSA_A, clock, Arc::default())
}

#[test]
fn a_revoked_user_loses_every_token_and_resume_does_not_revive_them() {
    let clock = Arc::new(ManualClock::new(T0 + 200));
    let store: Arc<MemoryRevocationStore> = Arc::default();
    let svc = service_with(RSA_A, clock.clone(), store.clone());
    let old = svc.issue("ALICE").unwrap().token;
    let other = svc.issue("BOB").unwrap().token;
    assert!(svc.verify(&old).is_ok(), "cached from here on");
    // Revoked: refused, from the cache too; nobody else is touched.
    store.set_user("ALICE", None);
    assert_eq!(svc.verify(&old).unwrap_err(), TokenError::UserNotActive);
    assert_eq!(svc.issue("ALICE").err(), Some(TokenError::UserNotActive));
    assert!(svc.verify(&other).is_ok());
    // Resumed in the same second: the old token stays refused, a new one
    // is accepted; a second revocation in that same second ends it again.
    clock.advance_ms(300);
    store.set_user("ALICE", Some(T0 + 400));
    assert_eq!(svc.verify(&old).unwrap_err(), TokenError::UserNotActive);
    let new = svc.issue("ALICE").unwrap();
    assert_eq!(new.claims.iat, T0 / 1000);
    assert_eq!(new.claims.iat_ms, Some(T0 + 500));
    assert!(svc.verify(&new.token).is_ok());
    clock.advance_ms(100);
    store.set_user("ALICE", Some(T0 + 601));
    assert_eq!(
        svc.verify(&new.token).unwrap_err(),
        TokenError::UserNotActive
    );
    // A token of an older zgate, without iat_ms, counts from its whole second.
    let older = svc
        .sign_claims(&Claims {
            iat_ms: None,
            ..new.claims.clone()
        })
        .unwrap();
    assert_eq!(svc.verify(&older).unwrap_err(), TokenError::UserNotActive);
    store.set_user("ALICE", Some(T0 - 800));
    assert!(svc.verify(&older).is_ok());
}

#[test]
fn pats_and_saf_identity_tokens_follow_their_users_standing() {
    let clock = Arc::new(ManualClock::new(T0));
    let store: Arc<MemoryRevocationStore> = Arc::default();
    let tokens = Arc::new(service_with(RSA_A, clock.clone(), store.clone()));
    let rules: Arc<dyn PatRuleStore> = Arc::new(crate::pat::MemoryPatStore::default());
    let pats = PatService::new(tokens.clone(), rules);
    let (pat, _) = pats.generate("ALICE", 30, &["zosmf".to_string()]).unwrap();
    let idt = tokens.issue_saf_idt("ALICE", "ZOWEAPPL", 300).unwrap();
    assert!(pats.verify(&pat).is_ok());
    assert!(tokens.verify_saf_idt(&idt, Some("ZOWEAPPL")).is_ok());
    clock.advance_ms(5_000);
    store.set_user("ALICE", Some(T0 + 1_000));
    assert_eq!(pats.verify(&pat).unwrap_err(), TokenError::UserNotActive);
    assert_eq!(
        tokens.verify_saf_idt(&idt, Some("ZOWEAPPL")).unwrap_err(),
        TokenError::UserNotActive
    );
    store.set_user("ALICE", None);
    assert!(pats.generate("ALICE", 30, &["zosmf".to_string()]).is_err());
    assert_eq!(
        tokens.issue_saf_idt("ALICE", "ZOWEAPPL", 300).unwrap_err(),
        TokenError::UserNotActive
    );
}
