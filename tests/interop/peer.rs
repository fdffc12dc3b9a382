//! Running the interop peer (tests/interop/cli.py, PyPI `as4` in its own virtualenv): shared by
//! tests/wssec_interop.rs (bytes only) and tests/it/interop_live.rs (running gateways).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The peer's Python, installing it once per test run if needed (tests/interop/setup.sh, or
/// SEDGATE_INTEROP_PYTHON). Fails, never skips, when it cannot be installed.
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            if let Some(p) = std::env::var_os("SEDGATE_INTEROP_PYTHON") {
                return PathBuf::from(p);
            }
            let status = Command::new("bash")
                .arg(root().join("tests/interop/setup.sh"))
                .status()
                .expect("cannot run tests/interop/setup.sh");
            assert!(status.success(), "tests/interop/setup.sh failed: {status}");
            root().join(".venv-interop/bin/python")
        })
        .clone()
}

/// Runs cli.py; returns (success, stdout, stderr).
pub fn peer(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(python())
        .arg(root().join("tests/interop/cli.py"))
        .args(args)
        .output()
        .expect("cannot run the interop peer");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}
