//! The published step vectors of `shared/spec/passtickets.md`, known-answer
//! checks of the primitives, input validation and the evaluation window's
//! exact edges.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use zgate_esm::passticket::internals::{
    des_encrypt_block, ebcdic_name, enhanced_translate, legacy_pad, legacy_permute,
    legacy_time_coder, legacy_time_decoder, legacy_translate, legacy_untranslate,
    window_closest_first,
};
use zgate_esm::passticket::{
    evaluate_enhanced, evaluate_legacy, generate_enhanced, generate_legacy, parse_des_key_hex,
    parse_enhanced_key_hex, PassTicketError, TicketType, VALIDITY_WINDOW_SECS,
};

const DES_KEY: [u8; 8] = [0xE0, 0x01, 0xD6, 0xF5, 0x91, 0x3C, 0x4A, 0x7B];
const HMAC_KEY: &[u8] = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
/// 2026-01-01T00:00:00Z.
const T0: u64 = 1_767_225_600;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

// ---- published vectors (IBM's worked example of the time-coder) ----

#[test]
fn spec_vector_translate_07247f79_is_qhoah1tv() {
    assert_eq!(&legacy_translate([0x07, 0x24, 0x7F, 0x79]), b"QHOAH1TV");
}

#[test]
fn spec_vector_pad_for_tom() {
    assert_eq!(hex(&legacy_pad("TOM").unwrap()), "E3D6D4555555555555555555");
}

#[test]
fn spec_vector_pad_for_ibmuser() {
    assert_eq!(
        hex(&legacy_pad("IBMUSER").unwrap()),
        "C9C2D4E4E2C5D95555555555"
    );
}

#[test]
fn spec_vector_permute_1_of_017b_is_a32a() {
    assert_eq!(legacy_permute(1, 0x017B), Some(0xA32A));
}

// ---- the steps' other properties ----

#[test]
fn each_permutation_is_a_bijection_on_16_bits() {
    for round in 1..=6 {
        let mut seen = vec![false; 1 << 16];
        for x in 0..=u16::MAX {
            let y = legacy_permute(round, x).unwrap();
            assert!(
                !seen[usize::from(y)],
                "round {round} maps two inputs to {y:#06x}"
            );
            seen[usize::from(y)] = true;
        }
    }
    assert_eq!(legacy_permute(0, 1), None);
    assert_eq!(legacy_permute(7, 1), None);
}

#[test]
fn permute_6_keeps_bit_1_and_reverses_the_rest() {
    // T6 = 1,16,15,...,2
    assert_eq!(legacy_permute(6, 0x8000), Some(0x8000));
    assert_eq!(legacy_permute(6, 0x0001), Some(0x4000));
    assert_eq!(legacy_permute(6, 0x4000), Some(0x0001));
}

#[test]
fn legacy_time_coder_is_a_bijection_so_distinct_seconds_never_collide_before_translation() {
    // A Feistel network: over a sample of inputs, no two outputs coincide.
    let mut outputs: Vec<[u8; 4]> = (0u32..4096)
        .map(|i| {
            legacy_time_coder(
                &DES_KEY,
                "IBMUSER",
                i.wrapping_mul(0x9E37_79B9).to_be_bytes(),
            )
            .unwrap()
        })
        .collect();
    outputs.sort_unstable();
    outputs.dedup();
    assert_eq!(outputs.len(), 4096);
}

#[test]
fn legacy_time_decoder_inverts_the_time_coder() {
    for i in 0u32..2048 {
        let r4 = i.wrapping_mul(0x9E37_79B9).to_be_bytes();
        let r5 = legacy_time_coder(&DES_KEY, "TOM", r4).unwrap();
        assert_eq!(legacy_time_decoder(&DES_KEY, "TOM", r5).unwrap(), r4);
    }
}

#[test]
fn untranslate_finds_exactly_the_values_that_translate_to_a_ticket() {
    // The published vector: 07247F79 is among the preimages of QHOAH1TV.
    let preimages = legacy_untranslate(b"QHOAH1TV");
    assert!(preimages.contains(&[0x07, 0x24, 0x7F, 0x79]));
    for r5 in &preimages {
        assert_eq!(&legacy_translate(*r5), b"QHOAH1TV");
    }
    for i in 0u32..4096 {
        let r5 = i.wrapping_mul(0x9E37_79B9).to_be_bytes();
        let ticket = legacy_translate(r5);
        let preimages = legacy_untranslate(&ticket);
        assert!(preimages.contains(&r5), "{r5:02X?}");
        assert!(preimages.iter().all(|p| legacy_translate(*p) == ticket));
    }
}

#[test]
fn untranslate_is_exhaustive_on_a_brute_forced_sample() {
    // Over all R5 with the low 20 bits fixed, the tickets seen and the
    // preimages untranslate reports (restricted to that slice) coincide.
    use std::collections::HashMap;
    let low = 0x000A_5C3Fu32 & 0x000F_FFFF;
    let mut by_ticket: HashMap<[u8; 8], Vec<u32>> = HashMap::new();
    for high in 0u32..(1 << 12) {
        let r5 = high << 20 | low;
        by_ticket
            .entry(legacy_translate(r5.to_be_bytes()))
            .or_default()
            .push(r5);
    }
    for (ticket, mut expected) in by_ticket {
        let mut found: Vec<u32> = legacy_untranslate(&ticket)
            .into_iter()
            .map(u32::from_be_bytes)
            .filter(|r5| r5 & 0x000F_FFFF == low)
            .collect();
        found.sort_unstable();
        expected.sort_unstable();
        assert_eq!(found, expected);
    }
}

#[test]
fn translation_uses_the_spec_start_bits() {
    // All bits set: every field is 63, 63 mod 36 = 27 -> '1'.
    assert_eq!(&legacy_translate([0xFF; 4]), b"11111111");
    // All clear: 'A'.
    assert_eq!(&legacy_translate([0; 4]), b"AAAAAAAA");
    // Only bit 1 set: only field 1 (bits 31,32,1,2,3,4) covers it, as its 3rd
    // bit: value 8 -> 'I'.
    assert_eq!(&legacy_translate([0x80, 0, 0, 0]), b"IAAAAAAA");
    // Only bit 32 set: bit 2 of field 1 (value 16 -> 'Q') and bit 6 of field 8
    // (bits 27..32, value 1 -> 'B').
    assert_eq!(&legacy_translate([0, 0, 0, 1]), b"QAAAAAAB");
}

#[test]
fn enhanced_translation_is_positional_base_64_and_36() {
    assert_eq!(&enhanced_translate([0; 6], TicketType::Mixed), b"00000000");
    assert_eq!(
        &enhanced_translate([0xFF; 6], TicketType::Mixed),
        b"________"
    );
    assert_eq!(
        &enhanced_translate([0, 0, 0, 0, 0, 65], TicketType::Mixed),
        b"00000011"
    );
    assert_eq!(
        &enhanced_translate([0, 0, 0, 0, 0, 37], TicketType::Upper),
        b"00000011"
    );
    // 2^41 - 1, the largest UPPER value after masking: 36^8 > 2^41 so no wrap.
    assert_eq!(
        &enhanced_translate([0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], TicketType::Upper),
        b"S27TO3CV"
    );
}

#[test]
fn des_primitive_matches_the_classic_known_answer() {
    // The worked DES example (key 133457799BBCDFF1, plaintext 0123456789ABCDEF).
    let key = parse_des_key_hex("133457799BBCDFF1").unwrap();
    let ct = des_encrypt_block(&key, [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]);
    assert_eq!(hex(&ct), "85E813540F0AB405");
}

#[test]
fn ebcdic_1047_encoding_and_blank_padding() {
    assert_eq!(hex(&ebcdic_name("A").unwrap()), "C140404040404040");
    assert_eq!(hex(&ebcdic_name("IJRSZ09").unwrap()), "C9D1D9E2E9F0F940");
    assert_eq!(hex(&ebcdic_name("@#$").unwrap()), "7C7B5B4040404040");
}

// ---- input validation ----

#[test]
fn names_must_be_1_to_8_of_a_z_0_9_national() {
    for bad in ["", "NINECHARS", "lower", "A B", "A-B", "É", "A\u{0}"] {
        assert_eq!(
            generate_legacy(&DES_KEY, bad, "CICSAPPL", T0).unwrap_err(),
            PassTicketError::InvalidUserId,
            "user {bad:?}"
        );
        assert_eq!(
            generate_enhanced(HMAC_KEY, "IBMUSER", bad, T0, TicketType::Mixed).unwrap_err(),
            PassTicketError::InvalidApplName,
            "appl {bad:?}"
        );
        assert_eq!(
            evaluate_legacy(&DES_KEY, bad, "CICSAPPL", "AAAAAAAA", T0).unwrap_err(),
            PassTicketError::InvalidUserId
        );
    }
    assert!(generate_legacy(&DES_KEY, "EIGHTCHR", "@#$09AZ", T0).is_ok());
}

#[test]
fn des_key_hex_is_exactly_16_digits() {
    assert_eq!(parse_des_key_hex("e001d6f5913c4a7b").unwrap(), DES_KEY);
    assert_eq!(parse_des_key_hex("E001D6F5913C4A7B").unwrap(), DES_KEY);
    for bad in [
        "",
        "E001D6F5913C4A7",
        "E001D6F5913C4A7B0",
        "E001D6F5913C4A7G",
        " E001D6F5913C4A7B",
        "+001D6F5913C4A7B",
    ] {
        assert_eq!(
            parse_des_key_hex(bad).unwrap_err(),
            PassTicketError::InvalidDesKey,
            "{bad:?}"
        );
    }
}

#[test]
fn enhanced_key_hex_is_exactly_128_digits() {
    let hex_key = "0F".repeat(64);
    assert_eq!(parse_enhanced_key_hex(&hex_key).unwrap(), [0x0F; 64]);
    assert_eq!(
        parse_enhanced_key_hex(&hex_key[1..]).unwrap_err(),
        PassTicketError::InvalidHmacKeyHex
    );
    assert_eq!(
        parse_enhanced_key_hex("0F").unwrap_err(),
        PassTicketError::InvalidHmacKeyHex
    );
}

#[test]
fn empty_hmac_key_is_rejected() {
    assert_eq!(
        generate_enhanced(&[], "IBMUSER", "CICSAPPL", T0, TicketType::Upper).unwrap_err(),
        PassTicketError::EmptyHmacKey
    );
}

#[test]
fn times_beyond_the_time_field_are_rejected() {
    let too_late = u64::from(u32::MAX) + 1;
    assert!(generate_legacy(&DES_KEY, "IBMUSER", "CICSAPPL", u64::from(u32::MAX)).is_ok());
    assert!(matches!(
        generate_legacy(&DES_KEY, "IBMUSER", "CICSAPPL", too_late),
        Err(PassTicketError::TimeOutOfRange {
            algorithm: "legacy",
            ..
        })
    ));
    assert!(matches!(
        evaluate_legacy(&DES_KEY, "IBMUSER", "CICSAPPL", "AAAAAAAA", too_late),
        Err(PassTicketError::TimeOutOfRange { .. })
    ));
    assert!(generate_enhanced(
        HMAC_KEY,
        "IBMUSER",
        "CICSAPPL",
        (1 << 48) - 1,
        TicketType::Mixed
    )
    .is_ok());
    assert!(matches!(
        generate_enhanced(HMAC_KEY, "IBMUSER", "CICSAPPL", 1 << 48, TicketType::Mixed),
        Err(PassTicketError::TimeOutOfRange {
            algorithm: "enhanced",
            ..
        })
    ));
}

#[test]
fn errors_do_not_echo_the_rejected_input() {
    let message = generate_legacy(&DES_KEY, "secret", "CICSAPPL", T0)
        .unwrap_err()
        .to_string();
    assert!(!message.contains("secret"), "{message}");
}

// ---- determinism and shape ----

#[test]
fn same_inputs_same_second_give_the_same_ticket() {
    let a = generate_legacy(&DES_KEY, "IBMUSER", "CICSAPPL", T0).unwrap();
    let b = generate_legacy(&DES_KEY, "IBMUSER", "CICSAPPL", T0).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.to_string(), b.to_string());
    for ticket_type in [TicketType::Upper, TicketType::Mixed] {
        let a = generate_enhanced(HMAC_KEY, "IBMUSER", "CICSAPPL", T0, ticket_type).unwrap();
        let b = generate_enhanced(HMAC_KEY, "IBMUSER", "CICSAPPL", T0, ticket_type).unwrap();
        assert_eq!(a, b);
    }
}

#[test]
fn tickets_use_their_alphabets_and_debug_hides_them() {
    for s in 0..200 {
        let legacy = generate_legacy(&DES_KEY, "IBMUSER", "CICSAPPL", T0 + s).unwrap();
        assert!(legacy
            .as_bytes()
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        assert_eq!(legacy.as_str().len(), 8);
        let upper =
            generate_enhanced(HMAC_KEY, "IBMUSER", "CICSAPPL", T0 + s, TicketType::Upper).unwrap();
        assert!(upper
            .as_bytes()
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        let mixed =
            generate_enhanced(HMAC_KEY, "IBMUSER", "CICSAPPL", T0 + s, TicketType::Mixed).unwrap();
        assert!(mixed
            .as_bytes()
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_'));
        assert!(!format!("{legacy:?}").contains(legacy.as_str()));
    }
}

#[test]
fn consecutive_seconds_give_different_tickets() {
    let tickets: std::collections::HashSet<String> = (0..600)
        .map(|s| {
            generate_legacy(&DES_KEY, "IBMUSER", "CICSAPPL", T0 + s)
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(tickets.len(), 600);
}

// ---- the evaluation window, exactly ----

#[test]
fn window_is_closest_first_and_exactly_1201_seconds() {
    let seconds: Vec<u64> = window_closest_first(T0).collect();
    assert_eq!(seconds.len(), 1201);
    assert_eq!(&seconds[..5], &[T0, T0 - 1, T0 + 1, T0 - 2, T0 + 2]);
    assert_eq!(seconds.iter().min(), Some(&(T0 - VALIDITY_WINDOW_SECS)));
    assert_eq!(seconds.iter().max(), Some(&(T0 + VALIDITY_WINDOW_SECS)));
    // Near the epoch the window is cut, not wrapped.
    assert_eq!(window_closest_first(5).count(), 606);
}

#[test]
fn legacy_ticket_is_valid_exactly_600_seconds_either_side() {
    let ticket = generate_legacy(&DES_KEY, "IBMUSER", "CICSAPPL", T0)
        .unwrap()
        .to_string();
    let eval = |now| evaluate_legacy(&DES_KEY, "IBMUSER", "CICSAPPL", &ticket, now).unwrap();
    assert_eq!(eval(T0), Some(T0));
    assert_eq!(eval(T0 + 600), Some(T0));
    assert_eq!(eval(T0 - 600), Some(T0));
    // Fixed inputs, so these are exact, not probabilistic.
    assert_eq!(eval(T0 + 601), None);
    assert_eq!(eval(T0 - 601), None);
}

#[test]
fn enhanced_ticket_is_valid_exactly_600_seconds_either_side() {
    for ticket_type in [TicketType::Upper, TicketType::Mixed] {
        let ticket = generate_enhanced(HMAC_KEY, "IBMUSER", "CICSAPPL", T0, ticket_type)
            .unwrap()
            .to_string();
        let eval = |now| {
            evaluate_enhanced(HMAC_KEY, "IBMUSER", "CICSAPPL", &ticket, now, ticket_type).unwrap()
        };
        assert_eq!(eval(T0), Some(T0));
        assert_eq!(eval(T0 + 600), Some(T0));
        assert_eq!(eval(T0 - 600), Some(T0));
        assert_eq!(eval(T0 + 601), None);
        assert_eq!(eval(T0 - 601), None);
    }
}

#[test]
fn malformed_presented_tickets_are_simply_invalid() {
    for bad in [
        "",
        "QHOAH1T",
        "QHOAH1TVX",
        "qhoah1tv",
        "QHOAH-TV",
        "QHOAH1T\u{e9}",
    ] {
        assert_eq!(
            evaluate_legacy(&DES_KEY, "IBMUSER", "CICSAPPL", bad, T0).unwrap(),
            None,
            "{bad:?}"
        );
        assert_eq!(
            evaluate_enhanced(HMAC_KEY, "IBMUSER", "CICSAPPL", bad, T0, TicketType::Upper).unwrap(),
            None,
            "{bad:?}"
        );
    }
}

#[test]
fn a_mixed_ticket_is_not_an_upper_ticket() {
    let mixed = generate_enhanced(HMAC_KEY, "IBMUSER", "CICSAPPL", T0, TicketType::Mixed)
        .unwrap()
        .to_string();
    assert_eq!(
        evaluate_enhanced(
            HMAC_KEY,
            "IBMUSER",
            "CICSAPPL",
            &mixed,
            T0,
            TicketType::Upper
        )
        .unwrap(),
        None
    );
}
