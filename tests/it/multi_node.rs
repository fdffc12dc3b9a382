//! Two AT nodes on one PostgreSQL database (`sedgate bench e2e --nodes 2`, short): the
//! back-office clients are spread over both, one node is killed with SIGKILL mid-run and
//! restarted. Every SED answered 202 arrives at NO exactly once, the killed node's claims
//! come back without waiting for a lease, and every audit chain verifies.

use std::process::Command;

use serde_json::Value;

use crate::common::repo_path;

#[test]
fn two_nodes_one_killed_lose_and_duplicate_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("multi-node.json");
    let out = Command::new(env!("CARGO_BIN_EXE_sedgate"))
        .args([
            "bench",
            "e2e",
            "--short",
            "--engines",
            "postgres",
            "--nodes",
            "2",
            "--clients",
            "8",
            "--seconds",
            "6",
            "--outbox-workers",
            "4",
        ])
        .arg("--repo")
        .arg(repo_path(""))
        .arg("--json")
        .arg(&json)
        .arg("--dir")
        .arg(dir.path().join("run"))
        .current_dir(dir.path())
        .output()
        .expect("run sedgate bench e2e --nodes 2");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let m = &report["multi_node"];
    assert_eq!(m["nodes"], 2, "{m}");
    assert_eq!(m["killed"], 1, "{m}");
    let accepted = m["accepted"].as_u64().expect("accepted");
    assert!(accepted >= 20, "too few SEDs to tell anything: {m}");
    assert_eq!(m["lost"], 0, "{m}");
    assert_eq!(m["duplicated"], 0, "{m}");
    assert_eq!(m["delivered"].as_u64(), Some(accepted), "{m}");
    assert_eq!(m["audit_ok"], true, "{m}");
    // The killed node's claims came back when it restarted (or when its heartbeat went
    // stale), not after a lease of minutes.
    let redelivery = m["max_redelivery_seconds"]
        .as_f64()
        .unwrap_or_else(|| panic!("no SED accepted before the kill was delivered after it: {m}"));
    assert!(redelivery < 60.0, "{m}");
}
