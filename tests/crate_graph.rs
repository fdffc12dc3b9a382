//! The seams of the workspace, read from `cargo tree`: the protocol crates and the shared
//! base reach no I/O stack, MISSOC and the gateway do not reach each other, and the load
//! harness is not part of the gateway's library. A dependency added against these rules
//! fails here before review.

use std::collections::BTreeSet;
use std::process::Command;

/// Every package `krate` reaches through normal (not dev, not build) dependencies on this
/// machine's platform, by name.
fn reach(krate: &str) -> BTreeSet<String> {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "--locked",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["-p", krate])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree -p {krate}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    assert_eq!(names.first().map(String::as_str), Some(krate), "{names:?}");
    names.remove(0);
    names.into_iter().collect()
}

const IO_STACKS: [&str; 5] = ["tokio", "sqlx", "axum", "hyper", "reqwest"];

#[test]
fn the_protocol_crates_and_the_base_reach_no_io_stack() {
    for krate in ["sedgate-base", "sedgate-as4", "sedgate-wssec"] {
        let reached = reach(krate);
        for io in IO_STACKS {
            assert!(!reached.contains(io), "{krate} reaches {io}");
        }
    }
}

#[test]
fn missoc_and_the_gateway_do_not_reach_each_other() {
    assert!(!reach("sedgate-missoc").contains("sedgate-gateway"));
    assert!(!reach("sedgate-gateway").contains("sedgate-missoc"));
    // Both build on the shared crates.
    for product in ["sedgate-missoc", "sedgate-gateway"] {
        let reached = reach(product);
        assert!(reached.contains("sedgate-base") && reached.contains("sedgate-web"));
    }
}

#[test]
fn the_load_harness_is_not_in_the_gateway_library() {
    assert!(!reach("sedgate-gateway").contains("sedgate-bench"));
    assert!(reach("sedgate").contains("sedgate-bench"));
}

/// Every package `krate` depends on directly (normal dependencies), by name.
fn direct(krate: &str) -> BTreeSet<String> {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "--locked",
            "-e",
            "normal",
            "--depth",
            "1",
        ])
        .args(["--prefix", "none", "-p", krate])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "cargo tree -p {krate}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

#[test]
fn sql_lives_in_the_engine_crates() {
    // The gateway talks to its store through `sedgate-store`'s `Backend`; only the engine
    // crates write SQL for it (checked at compile time there).
    assert!(!direct("sedgate-gateway").contains("sqlx"));
    for engine in ["sedgate-store-sqlite", "sedgate-store-postgres"] {
        assert!(direct(engine).contains("sqlx"), "{engine}");
        assert!(!reach(engine).contains("sedgate-gateway"), "{engine}");
    }
    // The engine-neutral crate knows no engine.
    let store = reach("sedgate-store");
    assert!(!store.contains("sedgate-store-sqlite") && !store.contains("sedgate-store-postgres"));
}
