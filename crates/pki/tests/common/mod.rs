//! Helpers shared by the integration tests: real tools, fresh directories.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

use zgate_pki as pki;

/// The Zowe sample files kept in the repository (`testdata/zowe/`).
pub fn zowe_testdata() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/zowe"))
}

/// Run a tool; panic with a clear message when it is not installed (these
/// tests must fail, not skip, without keytool/openssl).
pub fn run(tool: &str, args: &[&str]) -> Output {
    Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("`{tool}` is required by this test and could not be run: {e}"))
}

/// Run a tool and require success; returns stdout+stderr as text.
pub fn run_ok(tool: &str, args: &[&str]) -> String {
    let out = run(tool, args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "`{tool} {}` failed:\n{text}",
        args.join(" ")
    );
    text
}

pub fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `cert init` with Zowe's defaults into `dir`.
pub fn init_in(dir: &Path) -> pki::InitReport {
    init_with(dir, |_| {})
}

pub fn init_with(dir: &Path, tweak: impl FnOnce(&mut pki::InitParams)) -> pki::InitReport {
    let mut params = pki::InitParams::with_defaults(dir.to_path_buf(), SystemTime::now());
    tweak(&mut params);
    pki::init(&params).expect("cert init")
}

pub fn keystore_params(report: &pki::InitReport) -> pki::KeystoreParams {
    pki::KeystoreParams::Pkcs12 {
        file: report.keystore.clone(),
        password: pki::Secret::new("password"),
        alias: Some("localhost".into()),
    }
}

pub fn truststore_params(report: &pki::InitReport) -> pki::TruststoreParams {
    pki::TruststoreParams::Pkcs12 {
        file: report.truststore.clone(),
        password: pki::Secret::new("password"),
    }
}

/// All files under `dir`, relative, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                out.push(path.strip_prefix(base).unwrap().display().to_string());
                if path.is_dir() {
                    walk(base, &path, out);
                }
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}
