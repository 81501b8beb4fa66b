//! Where zgate keeps its state.
use std::path::PathBuf;

/// `--home`, else `ZGATE_HOME` (handled by clap), else `~/.zgate`.
pub fn resolve(explicit: Option<PathBuf>) -> PathBuf {
    if let Some(dir) = explicit {
        return dir;
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".zgate"),
        None => PathBuf::from(".zgate"),
    }
}
