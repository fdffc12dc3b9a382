//! docker-compose.yml cannot run here (no Docker engine); check that it is well formed and
//! that every config file, port and seed file it names exists and agrees.

use std::collections::BTreeSet;

use sedgate_gateway::config::SeedFile;

use crate::common::repo_path;

#[test]
fn compose_file_names_existing_configs_and_consistent_ports() {
    let text =
        std::fs::read_to_string(repo_path("docker-compose.yml")).expect("docker-compose.yml");
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("valid YAML");
    let services = doc["services"].as_mapping().expect("services");
    let names: BTreeSet<String> = services
        .keys()
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect();
    assert!(
        names.contains("postgres") && names.contains("gateway-at") && names.contains("gateway-no"),
        "{names:?}"
    );

    for gw in ["gateway-at", "gateway-no"] {
        let svc = &services[&serde_yaml::Value::from(gw)];
        let command: Vec<&str> = svc["command"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let cfg_path = command[command.iter().position(|a| *a == "--config").unwrap() + 1];
        let config = sedgate_gateway::config::Config::load(&repo_path(cfg_path))
            .unwrap_or_else(|e| panic!("{cfg_path}: {e}"));
        // The published port maps to the API listener's port.
        let ports: Vec<&str> = svc["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let container_port: u16 = ports[0].rsplit(':').next().unwrap().parse().unwrap();
        assert_eq!(container_port, config.api.listen.port(), "{gw}");
        // The database host is the compose postgres service, the databases are created by the init script.
        assert!(
            config.database.url.contains("@postgres:5432/"),
            "{gw}: {}",
            config.database.url
        );
        let db = config.database.url.rsplit('/').next().unwrap().to_owned();
        let init = std::fs::read_to_string(repo_path("config/docker-init.sql")).unwrap();
        assert!(
            init.contains(&format!("CREATE DATABASE {db}")),
            "{db} not created by config/docker-init.sql"
        );
        for seed in &config.ir_seed {
            match seed {
                SeedFile::Builtin(_) => assert!(
                    sedgate_gateway::data::builtin_seed_file(&seed.to_string()).is_some(),
                    "{gw}: no built-in seed {seed}"
                ),
                SeedFile::File(path) => assert!(
                    path.is_absolute(),
                    "{gw}: seed {seed} is relative to a working directory the image does not have"
                ),
            }
        }
        // The binary carries the schemas and catalogue: the image copies no data folder.
        assert_eq!(config.sed.schema_dir, None, "{gw}");
        assert_eq!(config.sed.catalogue_dir, None, "{gw}");
        for dep in svc["depends_on"].as_mapping().unwrap().keys() {
            assert!(
                names.contains(dep.as_str().unwrap()),
                "{gw} depends on unknown {dep:?}"
            );
        }
    }
    // The other gateway's AS4 URL in the pki init command names a service that exists.
    let pki_cmd: Vec<&str> = services[&serde_yaml::Value::from("pki")]["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for arg in pki_cmd.iter().filter(|a| a.contains("=https://")) {
        let host = arg.split("://").nth(1).unwrap().split(':').next().unwrap();
        assert!(names.contains(host), "pki names unknown host {host}");
    }
    let init = repo_path("config/docker-init.sql");
    assert!(init.is_file());
    assert!(repo_path("Dockerfile").is_file());
}

#[test]
fn example_configs_load() {
    for name in ["gateway-at", "gateway-no", "docker-at", "docker-no"] {
        let path = repo_path(&format!("config/{name}.toml"));
        let config =
            sedgate_gateway::config::Config::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            config.country.as_str(),
            name[name.len() - 2..].to_uppercase()
        );
    }
}
