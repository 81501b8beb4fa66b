//! Every input of this crate's committed fuzz corpora goes through the
//! fuzz targets' entry points (see `fuzz/replay.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../fuzz/replay.rs"]
mod corpus;

use corpus::replay;
#[test]
fn every_http_request_in_the_corpus_is_served_without_panic() {
    replay("h1_request_head", zgate_gateway::fuzzing::h1_request_head);
}

#[test]
fn every_upstream_response_in_the_corpus_is_read_without_panic() {
    replay(
        "upstream_response",
        zgate_gateway::fuzzing::upstream_response,
    );
}

#[test]
fn every_static_definition_in_the_corpus_parses_without_panic() {
    replay(
        "static_definitions",
        zgate_gateway::fuzzing::static_definitions,
    );
}

#[test]
fn every_request_target_in_the_corpus_is_normalized_or_refused_without_panic() {
    replay("request_target", zgate_gateway::fuzzing::request_target);
}
