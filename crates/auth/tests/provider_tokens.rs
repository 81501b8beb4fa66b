//! An OpenID provider's access tokens, signed with real keys (RSA from
//! `openssl genpkey`, EC from ring), checked as zgate checks them: each
//! way a token can be wrong is refused for its reason, and the key set
//! follows the provider's rotations without believing anything unverified.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use serde_json::{json, Value};
use zgate_auth::oidc::{
    key_id, verify, Algorithm, JwksSource, KeySet, OidcError, ProviderKeys, ProviderPolicy,
};

const ISSUER: &str = "https://idp.example.com/realms/zowe";
const NOW: i64 = 1_796_500_000;

enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair, &'static str),
}

struct Key {
    kid: String,
    signer: Signer,
}

fn rsa(kid: &str) -> Key {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.der");
    let status = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .args(["-outform", "DER", "-out"])
        .arg(&path)
        .status()
        .expect("openssl is installed");
    assert!(status.success());
    let der = std::fs::read(&path).unwrap();
    Key {
        kid: kid.into(),
        signer: Signer::Rsa(
            RsaKeyPair::from_pkcs8(&der)
                .or_else(|_| RsaKeyPair::from_der(&der))
                .unwrap(),
        ),
    }
}

fn ec(kid: &str, p384: bool) -> Key {
    let rng = SystemRandom::new();
    let (alg, crv) = if p384 {
        (&signature::ECDSA_P384_SHA384_FIXED_SIGNING, "P-384")
    } else {
        (&signature::ECDSA_P256_SHA256_FIXED_SIGNING, "P-256")
    };
    let doc = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
    Key {
        kid: kid.into(),
        signer: Signer::Ec(
            EcdsaKeyPair::from_pkcs8(alg, doc.as_ref(), &rng).unwrap(),
            crv,
        ),
    }
}

impl Key {
    fn jwk(&self) -> Value {
        match &self.signer {
            Signer::Rsa(k) => {
                let c: signature::RsaPublicKeyComponents<Vec<u8>> = k.public().into();
                json!({
                    "kty": "RSA", "use": "sig", "kid": self.kid,
                    "n": B64URL.encode(&c.n), "e": B64URL.encode(&c.e),
                })
            }
            Signer::Ec(k, crv) => {
                let point = k.public_key().as_ref();
                let size = (point.len() - 1) / 2;
                json!({
                    "kty": "EC", "crv": crv, "kid": self.kid,
                    "x": B64URL.encode(&point[1..1 + size]),
                    "y": B64URL.encode(&point[1 + size..]),
                })
            }
        }
    }

    fn sign(&self, alg: &str, header_extra: Value, claims: &Value) -> String {
        let mut header = json!({"alg": alg, "kid": self.kid, "typ": "at+jwt"});
        if let (Some(h), Value::Object(extra)) = (header.as_object_mut(), header_extra) {
            h.extend(extra);
        }
        let text = format!(
            "{}.{}",
            B64URL.encode(header.to_string()),
            B64URL.encode(claims.to_string())
        );
        let rng = SystemRandom::new();
        let sig = match (&self.signer, alg) {
            (Signer::Rsa(k), "PS256") => {
                let mut out = vec![0; k.public().modulus_len()];
                k.sign(&signature::RSA_PSS_SHA256, &rng, text.as_bytes(), &mut out)
                    .unwrap();
                out
            }
            (Signer::Rsa(k), _) => {
                let mut out = vec![0; k.public().modulus_len()];
                k.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &rng,
                    text.as_bytes(),
                    &mut out,
                )
                .unwrap();
                out
            }
            (Signer::Ec(k, _), _) => k.sign(&rng, text.as_bytes()).unwrap().as_ref().to_vec(),
        };
        format!("{text}.{}", B64URL.encode(sig))
    }
}

fn jwks(keys: &[&Key]) -> Vec<u8> {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()})
        .to_string()
        .into_bytes()
}

fn claims() -> Value {
    json!({
        "iss": ISSUER, "aud": ["zowe-gateway", "other"], "sub": "alice@example.com",
        "exp": NOW + 300, "iat": NOW - 10, "nbf": NOW - 10,
    })
}

fn with(change: &[(&str, Value)]) -> Value {
    let mut c = claims();
    for (k, v) in change {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(*k);
        } else {
            c[*k] = v.clone();
        }
    }
    c
}

fn policy() -> ProviderPolicy {
    let mut p = ProviderPolicy::new(ISSUER, &["zowe-gateway"]);
    p.algorithms.push(Algorithm::Es384);
    p
}

#[test]
fn good_tokens_of_each_algorithm_verify_and_give_their_subject() {
    let (r, e256, e384) = (rsa("r1"), ec("e1", false), ec("e2", true));
    let set = KeySet::from_jwks(&jwks(&[&r, &e256, &e384])).unwrap();
    assert_eq!(set.len(), 3, "{:?}", set.skipped);
    for token in [
        r.sign("RS256", json!({}), &claims()),
        r.sign("PS256", json!({}), &claims()),
        e256.sign("ES256", json!({}), &claims()),
        e384.sign("ES384", json!({}), &claims()),
    ] {
        let v = verify(&token, &policy(), &set, NOW).unwrap();
        assert_eq!(v.sub, "alice@example.com");
        assert_eq!(v.exp, NOW + 300);
    }
    // A single audience as a string is one audience.
    let t = r.sign("RS256", json!({}), &with(&[("aud", json!("zowe-gateway"))]));
    assert!(verify(&t, &policy(), &set, NOW).is_ok());
}

#[test]
fn each_wrong_token_is_refused_for_its_reason() {
    let (r, e) = (rsa("r1"), ec("e1", false));
    let other_provider = rsa("r1");
    let set = KeySet::from_jwks(&jwks(&[&r, &e])).unwrap();
    let p = policy();
    let good = r.sign("RS256", json!({}), &claims());
    let refused = |t: &str| verify(t, &p, &set, NOW).unwrap_err();
    // Claims.
    assert_eq!(
        refused(&r.sign("RS256", json!({}), &with(&[("exp", json!(NOW - 31))]))),
        OidcError::Expired
    );
    assert!(verify(
        &r.sign("RS256", json!({}), &with(&[("exp", json!(NOW - 29))])),
        &p,
        &set,
        NOW
    )
    .is_ok());
    assert_eq!(
        refused(&r.sign("RS256", json!({}), &with(&[("exp", Value::Null)]))),
        OidcError::NoExpiry
    );
    assert_eq!(
        refused(&r.sign("RS256", json!({}), &with(&[("nbf", json!(NOW + 60))]))),
        OidcError::NotYetValid
    );
    assert_eq!(
        refused(&r.sign("RS256", json!({}), &with(&[("iat", json!(NOW + 60))]))),
        OidcError::IssueTime
    );
    for iss in [
        json!("https://idp.example.com/realms/other"),
        json!("https://IDP.example.com/realms/zowe"),
        json!(format!("{ISSUER}/")),
        Value::Null,
    ] {
        assert_eq!(
            refused(&r.sign("RS256", json!({}), &with(&[("iss", iss)]))),
            OidcError::WrongIssuer
        );
    }
    for aud in [
        json!("someone-else"),
        json!(["a", "b"]),
        Value::Null,
        json!(7),
    ] {
        assert_eq!(
            refused(&r.sign("RS256", json!({}), &with(&[("aud", aud)]))),
            OidcError::WrongAudience
        );
    }
    for sub in [
        json!(""),
        json!("   "),
        json!("x".repeat(247)),
        Value::Null,
        json!(5),
    ] {
        assert_eq!(
            refused(&r.sign("RS256", json!({}), &with(&[("sub", sub)]))),
            OidcError::BadSubject
        );
    }
    assert!(verify(
        &r.sign(
            "RS256",
            json!({}),
            &with(&[("sub", json!("x".repeat(246)))])
        ),
        &p,
        &set,
        NOW
    )
    .is_ok());
    // Algorithms: none, HS256 keyed with the public key, one off the list.
    let (h, c, _) = split(&good);
    let none = format!(
        "{}.{c}.",
        B64URL.encode(json!({"alg": "none", "kid": "r1"}).to_string())
    );
    assert_eq!(refused(&none), OidcError::Algorithm("none".into()));
    let public = serde_json::to_vec(&r.jwk()).unwrap();
    let hs_text = format!(
        "{}.{c}",
        B64URL.encode(json!({"alg": "HS256", "kid": "r1"}).to_string())
    );
    let mac = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &public),
        hs_text.as_bytes(),
    );
    let hs = format!("{hs_text}.{}", B64URL.encode(mac.as_ref()));
    assert_eq!(refused(&hs), OidcError::Algorithm("HS256".into()));
    let mut only_rs = p.clone();
    only_rs.algorithms = vec![Algorithm::Rs256];
    assert!(matches!(
        verify(&r.sign("PS256", json!({}), &claims()), &only_rs, &set, NOW),
        Err(OidcError::Algorithm(_))
    ));
    // The algorithm must fit the key: RS256 naming the EC key, ES256 naming
    // the RSA key.
    assert!(matches!(
        refused(&r.sign("RS256", json!({"kid": "e1"}), &claims())),
        OidcError::KeyMismatch { .. }
    ));
    assert!(matches!(
        refused(&e.sign("ES256", json!({"kid": "r1"}), &claims())),
        OidcError::KeyMismatch { .. }
    ));
    // Keys: none named, one unknown, another provider's key of the same id.
    let no_kid = {
        let text = format!("{}.{c}", B64URL.encode(json!({"alg": "RS256"}).to_string()));
        let (_, _, s) = split(&good);
        format!("{text}.{s}")
    };
    assert_eq!(refused(&no_kid), OidcError::NoKid);
    assert_eq!(
        refused(&r.sign("RS256", json!({"kid": "r9"}), &claims())),
        OidcError::UnknownKid("r9".into())
    );
    assert_eq!(
        refused(&other_provider.sign("RS256", json!({}), &claims())),
        OidcError::BadSignature
    );
    // A tampered payload or signature; malformed tokens; a huge one.
    let forged = format!(
        "{h}.{}.{}",
        B64URL.encode(with(&[("sub", json!("ibmuser"))]).to_string()),
        split(&good).2
    );
    assert_eq!(refused(&forged), OidcError::BadSignature);
    let mut sig = B64URL.decode(split(&good).2).unwrap();
    sig[10] ^= 1;
    assert_eq!(
        refused(&format!("{h}.{c}.{}", B64URL.encode(sig))),
        OidcError::BadSignature
    );
    for bad in ["", "a.b", "a.b.c.d", "!!.!!.!!", &format!("{h}.{c}")] {
        assert_eq!(refused(bad), OidcError::Malformed, "{bad}");
    }
    assert_eq!(refused(&"a".repeat(9000)), OidcError::TooLarge);
}

fn split(token: &str) -> (String, String, String) {
    let mut p = token.split('.').map(str::to_owned);
    (p.next().unwrap(), p.next().unwrap(), p.next().unwrap())
}

#[test]
fn the_key_set_keeps_only_signature_keys_zgate_can_trust() {
    let r = rsa("good");
    let mut weak = r.jwk();
    weak["kid"] = json!("weak");
    weak["n"] = json!(B64URL.encode([0xC5u8; 128])); // 1024 bits
    let mut enc = r.jwk();
    enc["kid"] = json!("enc");
    enc["use"] = json!("enc");
    let mut pinned = r.jwk();
    pinned["kid"] = json!("pinned");
    pinned["alg"] = json!("PS256");
    let doc = json!({"keys": [r.jwk(), weak, enc, pinned,
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
        {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "AA"}]});
    let set = KeySet::from_jwks(doc.to_string().as_bytes()).unwrap();
    assert!(set.has("good") && set.has("pinned"));
    for gone in ["weak", "enc", "hmac", "ed"] {
        assert!(!set.has(gone), "{gone}: {:?}", set.skipped);
    }
    assert_eq!(set.skipped.len(), 4, "{:?}", set.skipped);
    // A JWK's own alg binds the key.
    let t = r.sign("RS256", json!({"kid": "pinned"}), &claims());
    assert!(matches!(
        verify(&t, &policy(), &set, NOW),
        Err(OidcError::KeyMismatch { .. })
    ));
    let t = r.sign("PS256", json!({"kid": "pinned"}), &claims());
    assert!(verify(&t, &policy(), &set, NOW).is_ok());
    for bad in [&b"[]"[..], b"{}", b"{\"keys\": 1}", b"not json"] {
        assert!(KeySet::from_jwks(bad).is_err());
    }
}

/// A provider's JWKS endpoint: serves what the test puts there, or fails.
#[derive(Clone, Default)]
struct Endpoint {
    doc: Arc<Mutex<Option<Vec<u8>>>>,
    fetches: Arc<AtomicUsize>,
}

impl JwksSource for Endpoint {
    fn fetch(&self) -> Result<Vec<u8>, String> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        self.doc
            .lock()
            .unwrap()
            .clone()
            .ok_or_else(|| "down".into())
    }
}

#[test]
fn keys_follow_a_rotation_once_per_interval_and_survive_an_outage() {
    let (old, new, later) = (ec("k1", false), ec("k2", false), ec("k3", false));
    let endpoint = Endpoint::default();
    *endpoint.doc.lock().unwrap() = Some(jwks(&[&old]));
    let keys = ProviderKeys::new(Box::new(endpoint.clone()));
    assert_eq!(keys.refresh(), Ok(1));
    let p = policy();
    let old_token = old.sign("ES256", json!({}), &claims());
    assert!(keys.verify(&old_token, &p, NOW).is_ok());
    // The provider rotates: a token of the new key works within one
    // request, by one fetch.
    *endpoint.doc.lock().unwrap() = Some(jwks(&[&new]));
    let new_token = new.sign("ES256", json!({}), &claims());
    assert_eq!(key_id(&new_token).as_deref(), Some("k2"));
    assert!(keys.verify(&new_token, &p, NOW).is_ok());
    assert_eq!(endpoint.fetches.load(Ordering::SeqCst), 2);
    // The old key left the provider's set: its tokens are refused now.
    assert_eq!(
        keys.verify(&old_token, &p, NOW + 120),
        Err(OidcError::UnknownKid("k1".into()))
    );
    // Another unknown kid within the interval fetches nothing.
    let fetches = endpoint.fetches.load(Ordering::SeqCst);
    *endpoint.doc.lock().unwrap() = Some(jwks(&[&new, &later]));
    let later_token = later.sign("ES256", json!({}), &claims());
    assert_eq!(
        keys.verify(&later_token, &p, NOW + 150),
        Err(OidcError::UnknownKid("k3".into()))
    );
    assert_eq!(endpoint.fetches.load(Ordering::SeqCst), fetches);
    // After the interval it does.
    assert!(keys.verify(&later_token, &p, NOW + 181).is_ok());
    // The provider goes down: the keys held keep verifying; a new kid is
    // refused, never accepted unverified.
    *endpoint.doc.lock().unwrap() = None;
    assert!(keys.refresh().is_err());
    assert!(keys.verify(&new_token, &p, NOW + 200).is_ok());
    let unknown = ec("k4", false).sign("ES256", json!({}), &claims());
    assert_eq!(
        keys.verify(&unknown, &p, NOW + 400),
        Err(OidcError::UnknownKid("k4".into()))
    );
    assert_eq!(keys.current().len(), 2);
    // A document that is no JWKS replaces nothing either.
    *endpoint.doc.lock().unwrap() = Some(b"<html>".to_vec());
    assert!(keys.refresh().is_err());
    assert_eq!(keys.current().len(), 2);
}

#[test]
fn issuers_parties_and_token_type_are_checked_when_configured() {
    let r = rsa("r1");
    let set = KeySet::from_jwks(&jwks(&[&r])).unwrap();
    // Two spellings of one provider's issuer (Entra's v1 and v2).
    let mut p = policy();
    p.issuers.push("https://sts.example.com/tenant/".into());
    let v2 = r.sign(
        "RS256",
        json!({}),
        &with(&[("iss", json!("https://sts.example.com/tenant/"))]),
    );
    assert!(verify(&v2, &p, &set, NOW).is_ok());

    p.authorized_parties = vec!["zowe-cli".into()];
    let by = |claims: &[(&str, Value)]| {
        verify(&r.sign("RS256", json!({}), &with(claims)), &p, &set, NOW)
    };
    assert!(by(&[("azp", json!("zowe-cli"))]).is_ok());
    assert!(by(&[("client_id", json!("zowe-cli"))]).is_ok());
    assert_eq!(
        by(&[("azp", json!("other-app"))]).unwrap_err(),
        OidcError::WrongParty
    );
    // `azp` wins over `client_id`: a token for another app stays refused.
    assert_eq!(
        by(&[
            ("azp", json!("other-app")),
            ("client_id", json!("zowe-cli"))
        ])
        .unwrap_err(),
        OidcError::WrongParty
    );
    assert_eq!(by(&[]).unwrap_err(), OidcError::WrongParty);

    let mut p = policy();
    p.require_access_token_type = true;
    let typed = |typ: Value| {
        verify(
            &r.sign("RS256", json!({ "typ": typ }), &claims()),
            &p,
            &set,
            NOW,
        )
    };
    assert!(typed(json!("at+jwt")).is_ok());
    assert!(typed(json!("application/at+JWT")).is_ok());
    for typ in [json!("JWT"), json!("id_token"), json!(1), json!("at+jwt ")] {
        assert_eq!(
            typed(typ.clone()).unwrap_err(),
            OidcError::WrongType,
            "{typ}"
        );
    }
}
