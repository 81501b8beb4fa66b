//! Properties of generation and evaluation over random users, applications,
//! keys and times.
//!
//! Rejections are asserted on the matched second, not on absence: a wrong
//! user, key or time can still, with probability about 1201/36^8 (4e-10),
//! collide with some ticket in the window, but it can never report the second
//! the ticket was generated for unless evaluation is wrong.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use zgate_esm::passticket::internals::{
    evaluate_enhanced_by_regeneration, evaluate_legacy_by_regeneration,
};
use zgate_esm::passticket::{
    evaluate_enhanced, evaluate_legacy, generate_enhanced, generate_legacy, TicketType,
    VALIDITY_WINDOW_SECS,
};

fn name() -> impl Strategy<Value = String> {
    "[A-Z0-9@#$]{1,8}"
}

/// Times from the epoch's first window to the end of the 32-bit field.
fn time() -> impl Strategy<Value = u64> {
    0u64..=u64::from(u32::MAX)
}

fn ticket_type() -> impl Strategy<Value = TicketType> {
    prop_oneof![Just(TicketType::Upper), Just(TicketType::Mixed)]
}

fn offset_inside() -> impl Strategy<Value = i64> {
    let w = VALIDITY_WINDOW_SECS as i64;
    -w..=w
}

fn offset_outside() -> impl Strategy<Value = i64> {
    let w = VALIDITY_WINDOW_SECS as i64;
    prop_oneof![-10 * w..-w, w + 1..=10 * w]
}

fn shifted(t: u64, by: i64) -> Option<u64> {
    t.checked_add_signed(by)
        .filter(|&n| n <= u64::from(u32::MAX))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn legacy_generation_and_evaluation_agree(
        key in any::<[u8; 8]>(), user in name(), appl in name(), t in time(), d in offset_inside(),
    ) {
        let now = shifted(t, d);
        prop_assume!(now.is_some());
        let now = now.unwrap();
        let ticket = generate_legacy(&key, &user, &appl, t).unwrap();
        let matched = evaluate_legacy(&key, &user, &appl, ticket.as_str(), now).unwrap();
        // The closest match to `now`: the generation second, unless a genuine
        // collision sits at least as close.
        let matched = matched.expect("a ticket is valid inside its window");
        if matched != t {
            prop_assert!(matched.abs_diff(now) <= t.abs_diff(now));
            prop_assert_eq!(generate_legacy(&key, &user, &appl, matched).unwrap(), ticket);
        }
        // Deterministic: the same second gives the same ticket.
        prop_assert_eq!(generate_legacy(&key, &user, &appl, t).unwrap(), ticket);
    }

    #[test]
    fn legacy_rejects_other_user_appl_key_and_time(
        key in any::<[u8; 8]>(), other_key in any::<[u8; 8]>(),
        user in name(), other_user in name(), appl in name(), other_appl in name(),
        t in time(), d in offset_outside(),
    ) {
        let ticket = generate_legacy(&key, &user, &appl, t).unwrap();
        let presented = ticket.as_str();
        if other_user != user {
            prop_assert_ne!(evaluate_legacy(&key, &other_user, &appl, presented, t).unwrap(), Some(t));
        }
        if other_appl != appl {
            prop_assert_ne!(evaluate_legacy(&key, &user, &other_appl, presented, t).unwrap(), Some(t));
        }
        // DES ignores each byte's lowest (parity) bit: keys equal but for
        // parity are the same key.
        if other_key.map(|b| b & 0xFE) != key.map(|b| b & 0xFE) {
            prop_assert_ne!(evaluate_legacy(&other_key, &user, &appl, presented, t).unwrap(), Some(t));
        }
        if let Some(now) = shifted(t, d) {
            prop_assert_ne!(evaluate_legacy(&key, &user, &appl, presented, now).unwrap(), Some(t));
        }
    }

    #[test]
    fn enhanced_generation_and_evaluation_agree(
        key in prop::collection::vec(any::<u8>(), 1..=64), user in name(), appl in name(),
        t in time(), d in offset_inside(), ticket_type in ticket_type(),
    ) {
        let now = shifted(t, d);
        prop_assume!(now.is_some());
        let now = now.unwrap();
        let ticket = generate_enhanced(&key, &user, &appl, t, ticket_type).unwrap();
        let matched = evaluate_enhanced(&key, &user, &appl, ticket.as_str(), now, ticket_type).unwrap();
        let matched = matched.expect("a ticket is valid inside its window");
        if matched != t {
            prop_assert!(matched.abs_diff(now) <= t.abs_diff(now));
            prop_assert_eq!(generate_enhanced(&key, &user, &appl, matched, ticket_type).unwrap(), ticket);
        }
        prop_assert_eq!(generate_enhanced(&key, &user, &appl, t, ticket_type).unwrap(), ticket);
    }

    #[test]
    fn enhanced_rejects_other_user_appl_key_and_time(
        key in prop::collection::vec(any::<u8>(), 64), other_key in prop::collection::vec(any::<u8>(), 64),
        user in name(), other_user in name(), appl in name(), other_appl in name(),
        t in time(), d in offset_outside(), ticket_type in ticket_type(),
    ) {
        let ticket = generate_enhanced(&key, &user, &appl, t, ticket_type).unwrap();
        let presented = ticket.as_str();
        if other_user != user {
            prop_assert_ne!(evaluate_enhanced(&key, &other_user, &appl, presented, t, ticket_type).unwrap(), Some(t));
        }
        if other_appl != appl {
            prop_assert_ne!(evaluate_enhanced(&key, &user, &other_appl, presented, t, ticket_type).unwrap(), Some(t));
        }
        if other_key != key {
            prop_assert_ne!(evaluate_enhanced(&other_key, &user, &appl, presented, t, ticket_type).unwrap(), Some(t));
        }
        if let Some(now) = shifted(t, d) {
            prop_assert_ne!(evaluate_enhanced(&key, &user, &appl, presented, now, ticket_type).unwrap(), Some(t));
        }
    }

    /// The inverse (legacy, MIXED) and regeneration agree, inside and outside
    /// the window, for genuine tickets and for near misses (one character
    /// changed) alike.
    #[test]
    fn legacy_inverse_agrees_with_regeneration(
        key in any::<[u8; 8]>(), user in name(), appl in name(), t in time(),
        d in -1300i64..=1300, flip in 0usize..8, to in 0u8..36,
    ) {
        let now = shifted(t, d);
        prop_assume!(now.is_some());
        let now = now.unwrap();
        let ticket = generate_legacy(&key, &user, &appl, t).unwrap().to_string();
        let mut near_miss = ticket.clone().into_bytes();
        near_miss[flip] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[usize::from(to)];
        let near_miss = String::from_utf8(near_miss).unwrap();
        for presented in [&ticket, &near_miss] {
            prop_assert_eq!(
                evaluate_legacy(&key, &user, &appl, presented, now).unwrap(),
                evaluate_legacy_by_regeneration(&key, &user, &appl, presented, now).unwrap()
            );
        }
    }

    #[test]
    fn enhanced_inverse_agrees_with_regeneration(
        key in prop::collection::vec(any::<u8>(), 1..=64), user in name(), appl in name(), t in time(),
        d in -1300i64..=1300, ticket_type in ticket_type(), flip in 0usize..8, to in 0u8..36,
    ) {
        let now = shifted(t, d);
        prop_assume!(now.is_some());
        let now = now.unwrap();
        let ticket = generate_enhanced(&key, &user, &appl, t, ticket_type).unwrap().to_string();
        let mut near_miss = ticket.clone().into_bytes();
        near_miss[flip] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[usize::from(to)];
        let near_miss = String::from_utf8(near_miss).unwrap();
        for presented in [&ticket, &near_miss] {
            prop_assert_eq!(
                evaluate_enhanced(&key, &user, &appl, presented, now, ticket_type).unwrap(),
                evaluate_enhanced_by_regeneration(&key, &user, &appl, presented, now, ticket_type).unwrap()
            );
        }
    }
}
