//! Every input of this crate's committed fuzz corpora goes through the
//! fuzz targets' entry points (see `fuzz/replay.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../fuzz/replay.rs"]
mod corpus;

use corpus::replay;
#[test]
fn every_racf_command_batch_in_the_corpus_runs_without_panic() {
    replay("racf_command", zgate_esm::fuzzing::racf_command);
}

#[test]
fn every_generic_name_in_the_corpus_matches_without_panic() {
    replay("generic_name", zgate_esm::fuzzing::generic_name);
}

#[test]
fn every_certificate_filter_in_the_corpus_maps_without_panic() {
    replay("cert_filter", zgate_esm::fuzzing::cert_filter);
}
