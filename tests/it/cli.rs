//! The command line as an operator uses it: config errors, IR import and search.

use std::path::{Path, PathBuf};
use std::process::Command;

use sedgate_gateway::config::Engine;

use crate::both_engines;
use crate::common::{fresh_database_url, repo_path};

pub(crate) fn sedgate(config: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sedgate"))
        .arg("--config")
        .arg(config)
        .args(args)
        .current_dir(repo_path(""))
        .output()
        .expect("run sedgate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub(crate) async fn write_config(engine: Engine, dir: &Path) -> PathBuf {
    let url = fresh_database_url(engine, dir).await;
    let toml = format!(
        r#"
[gateway]
country = "AT"
party_domain = "at.example"
data_dir = "{data}"
[database]
url = "{url}"
[api]
listen = "127.0.0.1:0"
[as4]
listen = "127.0.0.1:0"
[tls]
cert = "c.pem"
key = "k.pem"
trust_anchors = "ca.pem"
"#,
        data = dir.join("data").display()
    );
    let path = dir.join("at.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

#[test]
fn config_errors_name_key_and_file_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = sedgate(&dir.path().join("missing.toml"), &["migrate"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("missing.toml") && err.contains("does not exist"),
        "{err}"
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[gateway]\ncountry = \"XX\"\nparty_domain = \"x\"\ndata_dir = \"d\"\n[database]\nurl = \"sqlite://x.db\"\n[api]\nlisten = \"127.0.0.1:1\"\n[as4]\nlisten = \"127.0.0.1:2\"\n[tls]\ncert = \"c\"\nkey = \"k\"\ntrust_anchors = \"t\"\n").unwrap();
    let (code, _, err) = sedgate(&bad, &["migrate"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("gateway.country") && err.contains("bad.toml"),
        "{err}"
    );

    std::fs::write(&bad, "[gateway]\ncountry = \"AT\"\n").unwrap();
    let (code, _, err) = sedgate(&bad, &["migrate"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("gateway.party_domain") && err.contains("missing"),
        "{err}"
    );
}

async fn imports_public_ir_formats_idempotently(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(engine, dir.path()).await;
    let orgs = repo_path("seed/institutions/Organisations.csv");
    let (code, out, err) = sedgate(&cfg, &["ir", "import", orgs.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("7455 records") && out.contains("added 7455"),
        "{out}"
    );
    let (code, out, _) = sedgate(&cfg, &["ir", "import", orgs.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("added 0, updated 0, unchanged 7455"), "{out}");
    let json = repo_path("seed/institutions/deltakere_p_buc_01_all.json");
    let (code, out, err) = sedgate(&cfg, &["ir", "import", json.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("248 records"), "{out}");
    let (code, out, _) = sedgate(&cfg, &["ir", "import", json.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("unchanged 248"), "{out}");

    let (code, out, _) = sedgate(
        &cfg,
        &[
            "ir",
            "search",
            "--country",
            "NO",
            "--buc",
            "P_BUC_01",
            "--role",
            "CounterParty",
            "--limit",
            "100",
        ],
    );
    assert_eq!(code, 0);
    assert!(out.contains("NO:NAVAT07"), "{out}");
    assert!(!out.contains("AT:"), "{out}");
    let (code, out, _) = sedgate(&cfg, &["ir", "search", "--country", "AT", "-q", "PVA"]);
    assert_eq!(code, 0);
    assert!(out.contains("AT:0100"), "{out}");

    // A file with bad rows changes nothing, and says which lines and why.
    let bad = repo_path("tests/fixtures/ir/bad-organisations.csv");
    let (code, _, err) = sedgate(&cfg, &["ir", "import", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("line 2") && err.contains("AT9900") && err.contains("nothing imported"),
        "{err}"
    );
    assert!(err.contains("XX") && err.contains("duplicate"), "{err}");
    let (_, out, _) = sedgate(&cfg, &["ir", "search", "--country", "AT", "-q", "AT:0200"]);
    assert!(out.contains("0 of 0"), "{out}");
    let malformed = repo_path("tests/fixtures/ir/malformed.json");
    let (code, _, err) = sedgate(&cfg, &["ir", "import", malformed.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("line"), "{err}");
    // --skip-invalid imports the good rows only.
    let (code, out, err) = sedgate(
        &cfg,
        &["ir", "import", "--skip-invalid", bad.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("rejected 6"), "{out}");
    let (code, out, _) = sedgate(&cfg, &["audit", "verify"]);
    assert_eq!(code, 0);
    assert!(out.contains("audit chain intact"), "{out}");
}
both_engines!(ir_import, imports_public_ir_formats_idempotently);

/// The binary carries its data: the demo runs in an empty directory, with nothing of the
/// repository beside it.
#[test]
fn demo_runs_from_an_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sedgate"))
        .arg("demo")
        .current_dir(dir.path())
        .output()
        .expect("run sedgate demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("demo finished") && last.ends_with("acknowledged"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[7/7] NO back office acknowledged it"),
        "{stdout}"
    );
    // Everything it wrote is under its working directory's data/demo.
    let top: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(top, ["data"], "{top:?}");
}

/// `serve` with a configuration that names no data directory and no IR seed runs on the
/// built-in schemas, catalogue and institutions, from an empty working directory.
#[tokio::test]
async fn serve_runs_on_built_in_data_from_an_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    let ok = Command::new(env!("CARGO_BIN_EXE_sedgate"))
        .args([
            "pki",
            "init",
            "--dir",
            "pki",
            "--gateway",
            "AT=https://127.0.0.1:9/as4",
        ])
        .current_dir(dir.path())
        .output()
        .expect("pki init");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let [api, as4] = crate::gateways::free_ports::<2>();
    std::fs::write(
        dir.path().join("at.toml"),
        format!(
            "[gateway]\ncountry = \"AT\"\nparty_domain = \"at.example\"\ndata_dir = \"data\"\n\
             [database]\nurl = \"sqlite://data/sedgate.db\"\n\
             [api]\nlisten = \"127.0.0.1:{api}\"\n[as4]\nlisten = \"127.0.0.1:{as4}\"\n\
             [tls]\ncert = \"pki/at/cert.pem\"\nkey = \"pki/at/key.pem\"\ntrust_anchors = \"pki/ca.pem\"\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sedgate"))
        .args(["--config", "at.toml", "serve"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let ready = loop {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{api}/readyz"))
            .send()
            .await
        {
            if r.status() == 200 {
                break r.json::<serde_json::Value>().await.unwrap();
            }
        }
        if std::time::Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("not ready: {}", String::from_utf8_lossy(&out.stderr));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    // The built-in seed: the EESSI institution list and the P_BUC_01 participants.
    let detail = ready["ir"]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let openapi = http
        .get(format!("http://127.0.0.1:{api}/openapi.json"))
        .send()
        .await
        .unwrap()
        .status();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(ready["ready"], true, "{ready}");
    let institutions: u64 = detail
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or(0);
    assert!(institutions > 7000, "{ready}");
    assert_eq!(openapi, 200);
}
