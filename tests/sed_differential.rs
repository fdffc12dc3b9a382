//! Differential test: sedgate's libxml2 validator and the independent Python `xmlschema`
//! package must give the same verdict (valid or not) for every SED example.
//!
//! Needs a Python with `xmlschema`: `$SEDGATE_TEST_PYTHON`, else the `.venv-test` that
//! `scripts/setup.sh` makes, else `python3`; fails, never skips, without.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use sedgate_base::domain::{CdmVersion, SedType};
use sedgate_gateway::sed::XsdPool;

#[test]
fn libxml2_and_python_xmlschema_agree_on_every_example() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let schemas = root.join("schemas");
    let fixtures = root.join("tests/fixtures/sed");
    let venv = root.join(".venv-test/bin/python");
    let python = std::env::var_os("SEDGATE_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            if venv.exists() {
                venv
            } else {
                PathBuf::from("python3")
            }
        });
    let output = Command::new(&python)
        .arg(root.join("tests/differential/xsd_check.py"))
        .arg(&schemas)
        .arg(&fixtures)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} (run scripts/setup.sh): {e}",
                python.display()
            )
        });
    assert!(
        output.status.success(),
        "xsd_check.py failed with {} ({}); is xmlschema installed (scripts/setup.sh)?\n{}",
        python.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let pool = XsdPool::start(&schemas, 2).unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let mut compared = 0;
    let mut disagreements = Vec::new();
    for line in stdout.lines() {
        let (verdict, rel) = line.split_once('\t').expect("verdict<TAB>path");
        let mut parts = rel.split('/');
        let cdm: CdmVersion = parts.next().unwrap().parse().unwrap();
        let sed: SedType = parts.next().unwrap().parse().unwrap();
        let bytes: Arc<[u8]> = Arc::from(std::fs::read(fixtures.join(rel)).unwrap());
        let ours = match pool.validate_blocking(cdm, &sed, bytes) {
            Ok(findings) if findings.is_empty() => "valid",
            Ok(_) => "invalid",
            Err(e) => panic!("{rel}: refused before validation: {e}"),
        };
        if ours != verdict {
            disagreements.push(format!("{rel}: sedgate {ours}, xmlschema {verdict}"));
        }
        compared += 1;
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    // 18 SED types x 2 CDM versions x (1 valid + 5 invalid) + the 10 KB P2000.
    assert_eq!(compared, 18 * 2 * 6 + 1);
}
