//! Every input of this crate's committed fuzz corpora goes through the
//! fuzz targets' entry points (see `fuzz/replay.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../fuzz/replay.rs"]
mod corpus;

use corpus::replay;
#[test]
fn every_pkcs12_file_in_the_corpus_reads_without_panic() {
    replay("pkcs12", zgate_pki::fuzzing::pkcs12);
}

#[test]
fn every_pem_file_in_the_corpus_reads_without_panic() {
    replay("pem", zgate_pki::fuzzing::pem);
}
