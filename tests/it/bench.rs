//! `sedgate bench e2e --short`: the harness runs end to end on both engines and writes a
//! complete report. Speed is not asserted (CI machines vary); presence and sanity are.

use std::process::Command;

use serde_json::Value;

use crate::common::repo_path;

fn positive(v: &Value, what: &str) -> f64 {
    let x = v
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"));
    assert!(x > 0.0, "{what} is {x}");
    x
}

#[test]
fn short_e2e_bench_reports_every_figure_on_both_engines() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("e2e.json");
    let out = Command::new(env!("CARGO_BIN_EXE_sedgate"))
        .args([
            "bench",
            "e2e",
            "--short",
            "--seconds",
            "1",
            "--clients",
            "4",
        ])
        .arg("--repo")
        .arg(repo_path(""))
        .arg("--json")
        .arg(&json)
        .current_dir(dir.path())
        .output()
        .expect("run sedgate bench e2e");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("e2e SED/s"),
        "no table on stdout:\n{stdout}"
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();

    assert_eq!(report["benchmark"], "e2e");
    assert_eq!(report["mode"], "short");
    positive(&report["machine"]["cores"], "cores");
    positive(&report["machine"]["memory_bytes"], "memory");
    assert!(report["signed"]["available"].is_boolean(), "{report}");

    let engines = report["engines"].as_array().expect("engines");
    let names: Vec<&str> = engines
        .iter()
        .filter_map(|e| e["engine"].as_str())
        .collect();
    assert_eq!(names, ["sqlite", "postgres"]);
    for e in engines {
        let engine = e["engine"].as_str().unwrap();
        assert!(
            e["startup"]["institutions"].as_u64().unwrap() >= 10_000,
            "{engine}: {}",
            e["startup"]
        );
        positive(&e["startup"]["restart_ready_ms"], "restart ms");
        positive(&e["startup"]["first_start_ms"]["at"], "first start AT");
        positive(&e["idle_rss_bytes"]["at"], "idle RSS AT");
        positive(&e["idle_rss_bytes"]["no"], "idle RSS NO");
        positive(&e["peak_rss_under_load_bytes"]["no"], "peak RSS NO");
        let phases = e["phases"].as_array().unwrap();
        let loads: Vec<(&str, &str)> = phases
            .iter()
            .map(|p| (p["size"].as_str().unwrap(), p["load"].as_str().unwrap()))
            .collect();
        assert_eq!(
            loads,
            [("10KB SED", "full"), ("10KB SED", "half")],
            "{engine}"
        );
        for p in phases {
            let what = format!("{engine} {}", p["load"]);
            assert_eq!(p["security"], "unsigned");
            assert_eq!(p["failed_posts"], 0, "{what}");
            let accepted = p["accepted"].as_u64().unwrap();
            assert!(accepted > 0, "{what}");
            positive(&p["end_to_end_per_second"], &what);
            let (p50, p99) = (
                positive(&p["latency_ms"]["p50"], &what),
                positive(&p["latency_ms"]["p99"], &what),
            );
            assert!(p50 <= p99, "{what}: p50 {p50} > p99 {p99}");
            assert!(
                p["latency_ms"]["samples"].as_u64().unwrap() <= accepted,
                "{what}"
            );
            positive(&p["gateway_cpu_seconds_per_message"], &what);
            // The statement budget of one SED, both gateways together.
            let statements = positive(&p["db_statements_per_message"], &what);
            assert!(
                statements <= 12.0,
                "{what}: {statements} statements per SED"
            );
        }
        let half = &phases[1];
        let offered = positive(&half["offered_per_second"], "offered rate");
        let full_rate = phases[0]["end_to_end_per_second"].as_f64().unwrap();
        assert!((offered - full_rate / 2.0).abs() < 1e-6 * full_rate.max(1.0));
    }

    let b = &report["baselines"];
    positive(&b["mtls_echo"]["requests_per_second"], "echo req/s");
    positive(&b["rsa"]["signs_per_second"], "RSA signs");
    positive(&b["rsa"]["verifies_per_second"], "RSA verifies");
    positive(&b["rsa"]["bound_messages_per_second"], "RSA bound");
    positive(
        &b["db_insert_commit"]["sqlite"]["commits_per_second"],
        "sqlite commits",
    );
    positive(
        &b["db_insert_commit"]["postgres"]["commits_per_second"],
        "postgres commits",
    );
    assert_eq!(b["db_insert_commit"]["sqlite"]["connections"], 1);

    let ratios = report["ratios"].as_array().unwrap();
    assert_eq!(ratios.len(), 4);
    for r in ratios {
        positive(&r["of_mtls_echo"], "fraction of echo");
        positive(&r["of_db_insert_commit"], "fraction of inserts");
    }
    let targets = report["targets"].as_array().unwrap();
    assert!(targets
        .iter()
        .any(|t| t["target"].as_str().unwrap().contains(">= 1500 SED/s")));
}
