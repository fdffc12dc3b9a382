//! The command line as an operator uses it: config errors, IR import and search.

use std::path::{Path, PathBuf};
use std::process::Command;

use sedgate::config::Engine;

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
