//! Every input of this crate's committed fuzz corpora goes through the
//! fuzz targets' entry points (see `fuzz/replay.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../fuzz/replay.rs"]
mod corpus;

use corpus::replay;
#[test]
fn every_token_in_the_corpus_verifies_without_panic() {
    replay("jwt", zgate_auth::fuzzing::jwt);
}
