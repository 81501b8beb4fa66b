//! Entry points for the fuzz targets in `fuzz/` and the corpus replay test:
//! each takes arbitrary bytes, must never panic, and returns nothing.

use std::path::Path;

use crate::{merge, raw, Config};

/// A `zgate.yaml` (or a real zowe.yaml): the raw YAML phase, the merge with
/// defaults strictly and leniently, and the typed configuration. Each line
/// is also tried as a `--set key=value` override, the other way text
/// reaches the same validation.
pub fn zgate_yaml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = raw::parse(&text);
    let home = Path::new("/zgate-home");
    let file = Path::new("/zgate-home/zgate.yaml");
    for lenient in [false, true] {
        if let Ok((effective, warnings)) = merge(home, Some((file, &text)), lenient, &[]) {
            for warning in &warnings {
                let _ = warning.to_string();
            }
            for entry in &effective.entries {
                let _ = entry.display_value();
            }
            if let Err(e) = Config::from_effective(&effective) {
                let _ = e.to_string();
            }
        }
    }
    let overrides: Vec<String> = text.lines().map(str::to_owned).collect();
    if let Ok((effective, _)) = merge(home, None, false, &overrides) {
        let _ = Config::from_effective(&effective);
    }
}
