//! The test backend (`zgate-test-backend`), a real process the routing
//! tests route to. Shared by the in-process tests of zgate-app and the
//! binary's tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The test backend binary, next to the test executable's directory
/// (target/debug), built or brought up to date once per test process.
pub fn backend_exe() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().unwrap();
            let path = exe
                .parent()
                .unwrap()
                .parent()
                .unwrap()
                .join("zgate-test-backend");
            let cargo = option_env!("CARGO").unwrap_or("cargo");
            let mut build = Command::new(cargo);
            build
                .args(["build", "-q", "-p", "zgate-testbackend"])
                .current_dir(env!("CARGO_MANIFEST_DIR"));
            // The variables cargo sets for a test process: build scripts that
            // watch one (ring's watches CARGO_MANIFEST_DIR) would otherwise
            // see it change, and this build and the next `cargo test` would
            // each rebuild half the dependency tree.
            for (name, _) in std::env::vars_os() {
                let name = name.to_string_lossy().into_owned();
                if name == "CARGO_MANIFEST_DIR"
                    || name == "CARGO_MANIFEST_PATH"
                    || name == "CARGO_CRATE_NAME"
                    || name == "CARGO_PRIMARY_PACKAGE"
                    || name == "CARGO_TARGET_TMPDIR"
                    || name.starts_with("CARGO_PKG_")
                    || name.starts_with("CARGO_BIN_")
                {
                    build.env_remove(name);
                }
            }
            let st = build.status().unwrap();
            assert!(
                st.success() && path.exists(),
                "cannot build zgate-test-backend"
            );
            path
        })
        .clone()
}

/// A `zgate-test-backend` that echoes what it receives; killed on drop.
pub struct Backend {
    pub child: Child,
    pub port: u16,
}

impl Backend {
    /// Starts the backend with `args` and waits for its port.
    pub fn start(args: &[&str]) -> Backend {
        let mut child = Command::new(backend_exe())
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap()
            .parse()
            .unwrap();
        Backend { child, port }
    }

    /// The instance base URL (with a context path of its own).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/base", self.port)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
