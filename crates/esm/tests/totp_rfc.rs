//! TOTP against the published vectors (RFC 6238 Appendix B, RFC 4226
//! Appendix D), plus the skew window, code syntax, secrets in base32 and the
//! enrolment URI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use zgate_base::SeededRandom;
use zgate_esm::totp::{
    code_at, hotp, otpauth_uri, verify, Algorithm, Digits, SharedSecret, TotpError, TotpParams,
    ISSUER,
};

const SEED_SHA1: &[u8] = b"12345678901234567890";
const SEED_SHA256: &[u8] = b"12345678901234567890123456789012";
const SEED_SHA512: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

fn params(algorithm: Algorithm, digits: Digits) -> TotpParams {
    TotpParams {
        algorithm,
        digits,
        ..TotpParams::default()
    }
}

#[test]
fn rfc6238_appendix_b_all_vectors() {
    #[rustfmt::skip]
    let table: [(u64, &str, &str, &str); 6] = [
        (59,          "94287082", "46119246", "90693936"),
        (1111111109,  "07081804", "68084774", "25091201"),
        (1111111111,  "14050471", "67062674", "99943326"),
        (1234567890,  "89005924", "91819424", "93441116"),
        (2000000000,  "69279037", "90698825", "38618901"),
        (20000000000, "65353130", "77737706", "47863826"),
    ];
    let sha1 = SharedSecret::from_bytes(SEED_SHA1).unwrap();
    let sha256 = SharedSecret::from_bytes(SEED_SHA256).unwrap();
    let sha512 = SharedSecret::from_bytes(SEED_SHA512).unwrap();
    for (time, want1, want256, want512) in table {
        assert_eq!(
            code_at(&sha1, &params(Algorithm::Sha1, Digits::Eight), time),
            want1,
            "SHA1 at {time}"
        );
        assert_eq!(
            code_at(&sha256, &params(Algorithm::Sha256, Digits::Eight), time),
            want256,
            "SHA256 at {time}"
        );
        assert_eq!(
            code_at(&sha512, &params(Algorithm::Sha512, Digits::Eight), time),
            want512,
            "SHA512 at {time}"
        );
    }
}

#[test]
fn rfc4226_appendix_d_hotp_vectors() {
    let secret = SharedSecret::from_bytes(SEED_SHA1).unwrap();
    let want = [
        "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
        "520489",
    ];
    for (counter, want) in want.iter().enumerate() {
        assert_eq!(
            hotp(&secret, Algorithm::Sha1, Digits::Six, counter as u64),
            *want,
            "counter {counter}"
        );
    }
}

#[test]
fn six_digit_codes_are_the_low_digits_of_eight_digit_ones() {
    let secret = SharedSecret::from_bytes(SEED_SHA1).unwrap();
    // RFC 6238 at 59 s, 8 digits: 94287082.
    assert_eq!(code_at(&secret, &TotpParams::default(), 59), "287082");
}

#[test]
fn period_changes_the_step() {
    let secret = SharedSecret::from_bytes(SEED_SHA1).unwrap();
    let sixty = TotpParams::new(Algorithm::Sha1, 6, 60).unwrap();
    // Step 1 of a 60 s period is the same counter as step 1 of 30 s.
    assert_eq!(
        code_at(&secret, &sixty, 60),
        code_at(&secret, &TotpParams::default(), 30)
    );
    assert_eq!(sixty.time_step(119), 1);
}

// ---- verification and the skew window ----

#[test]
fn verify_returns_the_matched_step_within_the_skew_and_nothing_beyond() {
    let secret = SharedSecret::from_bytes(SEED_SHA256).unwrap();
    let p = params(Algorithm::Sha256, Digits::Six);
    let now: u64 = 1_767_225_615; // inside step 58_907_520
    let step = now / 30;
    for skew in 0u32..=3 {
        for offset in -5i64..=5 {
            let code_step = step.checked_add_signed(offset).unwrap();
            let code = code_at(&secret, &p, code_step * 30);
            let result = verify(&secret, &p, &code, now, skew);
            if offset.unsigned_abs() <= u64::from(skew) {
                assert_eq!(result, Some(code_step), "skew {skew}, offset {offset}");
            } else {
                // Fixed inputs: exact, not probabilistic.
                assert_eq!(result, None, "skew {skew}, offset {offset}");
            }
        }
    }
}

#[test]
fn verify_at_the_step_edges() {
    let secret = SharedSecret::from_bytes(SEED_SHA1).unwrap();
    let p = TotpParams::default();
    let code = code_at(&secret, &p, 60); // step 2 = [60, 90)
    assert_eq!(verify(&secret, &p, &code, 60, 0), Some(2));
    assert_eq!(verify(&secret, &p, &code, 89, 0), Some(2));
    assert_eq!(verify(&secret, &p, &code, 90, 0), None);
    assert_eq!(verify(&secret, &p, &code, 59, 0), None);
    assert_eq!(verify(&secret, &p, &code, 90, 1), Some(2));
    assert_eq!(verify(&secret, &p, &code, 119, 1), Some(2));
    assert_eq!(verify(&secret, &p, &code, 120, 1), None);
}

#[test]
fn verify_near_the_epoch_does_not_wrap() {
    let secret = SharedSecret::from_bytes(SEED_SHA1).unwrap();
    let p = TotpParams::default();
    let code = code_at(&secret, &p, 0);
    assert_eq!(verify(&secret, &p, &code, 10, 5), Some(0));
}

#[test]
fn verify_rejects_malformed_codes() {
    let secret = SharedSecret::from_bytes(SEED_SHA1).unwrap();
    let six = TotpParams::default();
    let eight = params(Algorithm::Sha1, Digits::Eight);
    let code8 = code_at(&secret, &eight, 59);
    assert_eq!(verify(&secret, &eight, &code8, 59, 0), Some(1));
    // The right digits but the wrong length for the parameters.
    assert_eq!(verify(&secret, &six, &code8, 59, 0), None);
    for bad in [
        "",
        "28708",
        "2870822",
        " 287082",
        "287082 ",
        "28708x",
        "+87082",
        "٢٨٧٠٨٢",
        "287,82",
    ] {
        assert_eq!(verify(&secret, &six, bad, 59, 1), None, "{bad:?}");
    }
    assert_eq!(verify(&secret, &six, "287082", 59, 0), Some(1));
}

#[test]
fn a_code_for_another_secret_is_rejected() {
    let mine = SharedSecret::from_bytes(SEED_SHA1).unwrap();
    let other = SharedSecret::from_bytes(b"09876543210987654321").unwrap();
    let p = TotpParams::default();
    assert_eq!(verify(&mine, &p, &code_at(&other, &p, 59), 59, 0), None);
}

// ---- parameters ----

#[test]
fn algorithm_digits_and_period_are_validated() {
    assert_eq!("sha256".parse::<Algorithm>().unwrap(), Algorithm::Sha256);
    assert_eq!("SHA512".parse::<Algorithm>().unwrap(), Algorithm::Sha512);
    assert_eq!(
        "MD5".parse::<Algorithm>().unwrap_err(),
        TotpError::UnknownAlgorithm
    );
    assert_eq!(
        TotpParams::new(Algorithm::Sha1, 7, 30).unwrap_err(),
        TotpError::UnsupportedDigits(7)
    );
    assert_eq!(
        TotpParams::new(Algorithm::Sha1, 6, 0).unwrap_err(),
        TotpError::ZeroPeriod
    );
    assert_eq!(
        TotpParams::new(Algorithm::Sha1, 6, 30).unwrap(),
        TotpParams::default()
    );
}

// ---- secrets ----

#[test]
fn generated_secrets_have_the_algorithms_lengths_and_come_from_the_rng() {
    let rng = SeededRandom::new(7);
    for (algorithm, len) in [
        (Algorithm::Sha1, 20),
        (Algorithm::Sha256, 32),
        (Algorithm::Sha512, 64),
    ] {
        let a = SharedSecret::generate(&rng, algorithm).unwrap();
        let b = SharedSecret::generate(&rng, algorithm).unwrap();
        assert_eq!(a.as_bytes().len(), len);
        assert_ne!(a.as_bytes(), b.as_bytes());
    }
    // Injected: the same seed gives the same secret.
    let again = SharedSecret::generate(&SeededRandom::new(7), Algorithm::Sha1).unwrap();
    let first = SharedSecret::generate(&SeededRandom::new(7), Algorithm::Sha1).unwrap();
    assert_eq!(again.as_bytes(), first.as_bytes());
}

#[test]
fn base32_round_trip_without_padding() {
    let secret = SharedSecret::from_bytes(SEED_SHA1).unwrap();
    assert_eq!(secret.to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    let odd = SharedSecret::from_bytes(&[0xA5; 17]).unwrap();
    let text = odd.to_base32();
    assert!(!text.contains('='));
    assert_eq!(
        SharedSecret::from_base32(&text).unwrap().as_bytes(),
        odd.as_bytes()
    );
}

#[test]
fn base32_input_is_case_insensitive_tolerates_spaces_and_complete_padding() {
    let want = SEED_SHA1;
    for text in [
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        "gezdgnbvgy3tqojqgezdgnbvgy3tqojq",
        "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ",
    ] {
        assert_eq!(
            SharedSecret::from_base32(text).unwrap().as_bytes(),
            want,
            "{text:?}"
        );
    }
    // 17 bytes: 28 characters unpadded, 32 padded.
    let odd = [0x5A; 17];
    let unpadded = SharedSecret::from_bytes(&odd).unwrap().to_base32();
    assert_eq!(
        SharedSecret::from_base32(&format!("{unpadded}===="))
            .unwrap()
            .as_bytes(),
        odd
    );
}

#[test]
fn base32_bad_encodings_are_errors() {
    for bad in [
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1",   // 1 is not base32
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ0",   // nor 0
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ=",  // padding without a multiple of 8
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQG",  // 33 characters: no byte string has this length
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGF", // unused trailing bits not zero
        "GEZDGNBVGY3TQOJQ-GEZDGNBVGY3TQOJQ",  // separators other than spaces
        "GEZDGNBVGY3TQOJQ\tGEZDGNBVGY3TQOJQ",
        "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=", // base64
        "é",
    ] {
        assert_eq!(
            SharedSecret::from_base32(bad).unwrap_err(),
            TotpError::InvalidBase32,
            "{bad:?}"
        );
    }
}

#[test]
fn secrets_must_be_16_to_64_bytes_and_are_never_shown() {
    assert!(matches!(
        SharedSecret::from_base32("").unwrap_err(),
        TotpError::SecretLength { len: 0, .. }
    ));
    // 10 bytes (80 bits) is below RFC 4226's 128-bit minimum.
    assert!(matches!(
        SharedSecret::from_base32("GEZDGNBVGY3TQOJQ").unwrap_err(),
        TotpError::SecretLength {
            len: 10,
            min: 16,
            max: 64
        }
    ));
    assert!(SharedSecret::from_bytes(&[1; 16]).is_ok());
    assert!(SharedSecret::from_bytes(&[1; 64]).is_ok());
    assert!(matches!(
        SharedSecret::from_bytes(&[1; 65]).unwrap_err(),
        TotpError::SecretLength { len: 65, .. }
    ));
    // Neither the error message nor Debug shows the secret.
    assert_eq!(
        format!("{:?}", SharedSecret::from_bytes(SEED_SHA1).unwrap()),
        "SharedSecret(<redacted>)"
    );
    let message = SharedSecret::from_base32("GEZDGNBVGY3TQOJQ")
        .unwrap_err()
        .to_string();
    assert!(!message.contains("GEZD"), "{message}");
}

// ---- the enrolment URI ----

#[test]
fn otpauth_uri_has_the_key_uri_format() {
    let secret = SharedSecret::from_bytes(SEED_SHA1).unwrap();
    assert_eq!(
        otpauth_uri(ISSUER, "IBMUSER", &secret, &TotpParams::default()),
        "otpauth://totp/zgate:IBMUSER?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=zgate&algorithm=SHA1&digits=6&period=30"
    );
    let p = TotpParams::new(Algorithm::Sha512, 8, 60).unwrap();
    let uri = otpauth_uri(ISSUER, "U", &secret, &p);
    assert!(
        uri.ends_with("&issuer=zgate&algorithm=SHA512&digits=8&period=60"),
        "{uri}"
    );
}

#[test]
fn otpauth_uri_percent_encodes_the_label_and_issuer() {
    let secret = SharedSecret::from_bytes(SEED_SHA1).unwrap();
    let uri = otpauth_uri(
        "My Corp:Z&Co",
        "jo.doe+x@example.com/é?#",
        &secret,
        &TotpParams::default(),
    );
    assert_eq!(
        uri,
        "otpauth://totp/My%20Corp%3AZ%26Co:jo.doe%2Bx%40example.com%2F%C3%A9%3F%23\
         ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=My%20Corp%3AZ%26Co&algorithm=SHA1&digits=6&period=30"
    );
}
