//! The code's own map holds: no file of a crate imports a file that
//! imports it back (directly or around a circle), and ARCHITECTURE.md names
//! every source file. Imports are read from the text: `crate::a::b` and
//! `super::a` paths, a child naming its parent's items (`super::Item`), and
//! a `mod.rs`/`lib.rs` importing from its children (`use child::...`).
//! Comments and `#[cfg(test)] mod tests` blocks do not count.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `a::b` for `src/a/b.rs` or `src/a/b/mod.rs`; `` for `lib.rs`/`main.rs`.
fn module_path(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts.join("::")
}

/// The text that counts: no test module, no comments, and one level of
/// `prefix::{a, b::C}` written out as `prefix::a prefix::b::C`.
fn code(text: &str) -> String {
    let text = text
        .split("#[cfg(test)]\nmod tests {")
        .next()
        .unwrap_or_default();
    let text = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("::{") {
        let start = rest[..i]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .map_or(0, |p| p + 1);
        let Some(close) = rest[i..].find('}') else {
            break;
        };
        let prefix = &rest[start..i];
        out.push_str(&rest[..start]);
        for item in rest[i + 3..i + close].split(',') {
            let item = item.trim();
            if !item.is_empty() {
                out.push_str(&format!(" {prefix}::{item} "));
            }
        }
        rest = &rest[i + close + 1..];
    }
    out.push_str(rest);
    out
}

fn parent(module: &str) -> String {
    module.rsplit_once("::").map_or("", |(p, _)| p).to_owned()
}

/// Every `word::word::...` path starting at `start` in `text`, as segments.
fn paths_after<'a>(text: &'a str, start: &str) -> Vec<Vec<&'a str>> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices(start) {
        let before = text[..i].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &text[i + start.len()..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        out.push(rest[..end].split("::").filter(|s| !s.is_empty()).collect());
    }
    out
}

fn edges(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeMap<String, String> = files
        .iter()
        .map(|f| {
            (
                module_path(src, f),
                code(&std::fs::read_to_string(f).unwrap()),
            )
        })
        .collect();
    let is_module = |m: &str| modules.contains_key(m);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in &modules {
        let mut to = BTreeSet::new();
        for segments in paths_after(text, "crate::") {
            // The longest prefix that is a module.
            for k in (1..=segments.len()).rev() {
                let candidate = segments[..k].join("::");
                if is_module(&candidate) {
                    to.insert(candidate);
                    break;
                }
            }
        }
        // `super` is the parent module, whichever file holds the module.
        let up = parent(module);
        for segments in paths_after(text, "super::") {
            let Some(first) = segments.first() else {
                continue;
            };
            let candidate = if up.is_empty() {
                (*first).to_owned()
            } else {
                format!("{up}::{first}")
            };
            if is_module(&candidate) {
                to.insert(candidate);
            } else {
                // An item of the parent itself.
                to.insert(up.clone());
            }
        }
        // A parent importing from a child.
        let declares_modules = text.lines().any(|l| {
            let l = l.trim_start();
            l.starts_with("mod ") || l.starts_with("pub mod ") || l.starts_with("pub(crate) mod ")
        });
        if declares_modules {
            for line in text.lines() {
                let line = line.trim_start();
                let Some(rest) = line
                    .strip_prefix("use ")
                    .or_else(|| line.strip_prefix("pub use "))
                    .or_else(|| line.strip_prefix("pub(crate) use "))
                else {
                    continue;
                };
                let first = rest
                    .trim_start_matches("self::")
                    .split("::")
                    .next()
                    .unwrap();
                let child = if module.is_empty() {
                    first.to_owned()
                } else {
                    format!("{module}::{first}")
                };
                if is_module(&child) {
                    to.insert(child);
                }
            }
        }
        to.remove(module);
        edges.insert(module.clone(), to);
    }
    edges
}

/// A circle through `start`, if any (depth-first).
fn circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|n| n == node) {
            let mut c = stack[i..].to_vec();
            c.push(node.to_owned());
            return Some(c);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        if let Some(c) = visit(node, edges, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

fn crates() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path().join("src"))
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

#[test]
fn no_file_imports_its_importer() {
    for src in crates() {
        let edges = edges(&src);
        assert!(
            circle(&edges).is_none(),
            "{}: an import circle: {}",
            src.display(),
            circle(&edges).unwrap().join(" -> ")
        );
    }
}

#[test]
fn the_checker_sees_a_circle() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("engine")).unwrap();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\nmod engine;\n").unwrap();
    std::fs::write(src.join("a.rs"), "use crate::b::B;\n").unwrap();
    std::fs::write(
        src.join("b.rs"),
        "// crate::a in a comment\npub struct B;\n",
    )
    .unwrap();
    std::fs::write(src.join("engine/mod.rs"), "mod part;\npub use part::X;\n").unwrap();
    std::fs::write(src.join("engine/part.rs"), "use super::Esm;\n").unwrap();
    let found = circle(&edges(&src)).map(|c| c.join(" -> "));
    assert_eq!(found.as_deref(), Some("engine -> engine::part -> engine"));
    std::fs::write(src.join("b.rs"), "use crate::a;\n").unwrap();
    std::fs::write(src.join("engine/mod.rs"), "mod part;\n").unwrap();
    let found = circle(&edges(&src)).map(|c| c.join(" -> "));
    assert_eq!(found.as_deref(), Some("a -> b -> a"));
}

#[test]
fn the_code_map_names_every_source_file() {
    let map = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let mut missing = Vec::new();
    for src in crates() {
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        for f in files {
            let stem = f.file_stem().unwrap().to_string_lossy().into_owned();
            // A crate's root file is the crate, mapped by its heading.
            if f.parent() == Some(src.as_path()) && matches!(stem.as_str(), "lib" | "main") {
                continue;
            }
            let name = match stem.as_str() {
                "mod" => f
                    .parent()
                    .and_then(Path::file_name)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                _ => stem,
            };
            let named = [
                format!("`{name}`"),
                format!("`{name}.rs"),
                format!("/{name}`"),
                format!("/{name}.rs"),
                format!("::{name}`"),
                format!("`{name} ("),
                format!("{name}/mod.rs"),
            ]
            .iter()
            .any(|form| map.contains(form.as_str()));
            if !named {
                missing.push(f.strip_prefix(root()).unwrap_or(&f).display().to_string());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md does not name: {missing:?}"
    );
}
