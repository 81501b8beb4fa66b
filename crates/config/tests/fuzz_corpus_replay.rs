//! Every input of this crate's committed fuzz corpora goes through the
//! fuzz targets' entry points (see `fuzz/replay.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../fuzz/replay.rs"]
mod corpus;

use corpus::replay;
#[test]
fn every_zgate_yaml_in_the_corpus_loads_without_panic() {
    replay("zgate_yaml", zgate_config::fuzzing::zgate_yaml);
}
