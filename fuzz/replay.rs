//! Replays a fuzz target's committed corpus (`fuzz/corpus/<target>/`)
//! through the same `fuzzing` entry point the fuzz target calls, so an
//! input that once found a defect keeps guarding against it in the ordinary
//! test run, without libFuzzer. Included by each crate's
//! `tests/fuzz_corpus_replay.rs`.

use std::path::{Path, PathBuf};

fn corpus_files(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus directory {} is missing: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "corpus directory {} is empty",
        dir.display()
    );
    files
}

/// Runs every input of `target`'s corpus through `run`; fails on a
/// missing or empty corpus and names the input that panicked.
pub fn replay(target: &str, run: fn(&[u8])) {
    for path in corpus_files(target) {
        let bytes = std::fs::read(&path).unwrap();
        if std::panic::catch_unwind(|| run(&bytes)).is_err() {
            panic!("corpus input {} panicked", path.display());
        }
    }
}
