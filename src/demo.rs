//! `sedgate demo`: two gateways (Austria and Norway) in this process, each with its own
//! embedded SQLite, a development PKI, and the IR seed and demo SED built into the binary
//! (so it runs from any directory). A back office in
//! Austria posts a real SED with an attachment; it travels over AS4 with mutual TLS to
//! Norway, where the back office collects and acknowledges it. Every step is printed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;
use sha2::{Digest, Sha256};

use sedgate_base::domain::CountryCode;
use sedgate_base::secret::{generate_token, hash_token};
use sedgate_gateway::app::{AppState, Application};
use sedgate_gateway::config::Config;
use sedgate_gateway::ir::importer::import_file;
use sedgate_gateway::store::NewApiClient;
use sedgate_gateway::transport::DevPki;

const SENDER: &str = "AT:0100";
const RECEIVER: &str = "NO:NAVAT07";

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DemoError(String);

fn fail(step: &str) -> impl Fn(&dyn std::fmt::Display) -> DemoError + '_ {
    move |e| DemoError(format!("{step}: {e}"))
}

struct Gateway {
    country: &'static str,
    api: String,
    as4: String,
    state: AppState,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

fn gateway_config(dir: &Path, country: &str) -> Result<Config, DemoError> {
    let lower = country.to_lowercase();
    let data = dir.join(&lower);
    let pki = dir.join("pki");
    let toml = format!(
        r#"
[gateway]
country = "{country}"
party_domain = "{lower}.sedgate.example"
data_dir = "{data}"
[database]
url = "sqlite://{data}/sedgate.db"
[api]
listen = "127.0.0.1:0"
[as4]
listen = "127.0.0.1:0"
[tls]
cert = "{pki}/{lower}/cert.pem"
key = "{pki}/{lower}/key.pem"
trust_anchors = "{pki}/ca.pem"
crls = ["{pki}/crl.pem"]
[outbox]
base_backoff = "200ms"
poll_interval = "200ms"
[ir]
seed = ["builtin:deltakere_p_buc_01_all.json"]
[log]
level = "warn"
"#,
        data = data.display(),
        pki = pki.display(),
    );
    Config::from_toml_str(&toml, &format!("demo gateway {country}")).map_err(|e| fail("config")(&e))
}

async fn start(dir: &Path, country: &'static str) -> Result<Gateway, DemoError> {
    let config = gateway_config(dir, country)?;
    let app = Application::build(config)
        .await
        .map_err(|e| DemoError(format!("starting gateway {country}: {e}")))?;
    let api = format!("http://{}", app.api_addr());
    let as4 = format!("https://{}/as4", app.as4_addr());
    let state = app.state().clone();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        if let Err(e) = app
            .run_until(async move {
                let _ = rx.await;
            })
            .await
        {
            eprintln!("gateway stopped with an error: {e}");
        }
    });
    Ok(Gateway {
        country,
        api,
        as4,
        state,
        stop,
        task,
    })
}

async fn add_client(gw: &Gateway, name: &str, institution: &str) -> Result<String, DemoError> {
    let token = generate_token();
    gw.state
        .store
        .add_api_client(
            &NewApiClient {
                id: uuid::Uuid::new_v4().to_string(),
                name: name.to_owned(),
                token_hash: hash_token(&token),
                institutions: vec![institution.parse().map_err(|e| fail("client")(&e))?],
                expires_at: None,
            },
            Utc::now(),
        )
        .await
        .map_err(|e| fail("creating the back-office client")(&e))?;
    Ok(token)
}

/// A small, valid PDF (a one-page medical report stand-in).
fn demo_pdf() -> Vec<u8> {
    let content = "BT /F1 18 Tf 72 720 Td (sedgate demo: medical report, synthetic) Tj ET";
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, obj) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{obj}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        pdf.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Runs the demo under `dir` (wiped first).
pub async fn run(dir: &Path) -> Result<(), DemoError> {
    let started = Instant::now();
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| fail("cleaning the demo directory")(&e))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| fail("creating the demo directory")(&e))?;
    println!(
        "sedgate demo: two gateways (AT, NO), embedded SQLite, development PKI, in {}",
        dir.display()
    );

    let countries: Vec<CountryCode> = ["AT", "NO"].iter().filter_map(|c| c.parse().ok()).collect();
    let pki = DevPki::generate(&dir.join("pki"), &countries, &[]).map_err(|e| fail("PKI")(&e))?;
    println!(
        "[1/7] development PKI: CA {} and a TLS certificate per gateway (client and server)",
        pki.ca_cert.display()
    );

    let at = start(dir, "AT").await?;
    let no = start(dir, "NO").await?;
    println!(
        "[2/7] gateways up: AT api {} as4 {}; NO api {} as4 {}",
        at.api, at.as4, no.api, no.as4
    );

    // The access points, with the fingerprints of the certificates just made.
    let mut endpoints = Vec::new();
    for gw in [&at, &no] {
        let cc: CountryCode = gw.country.parse().map_err(|e| fail("country")(&e))?;
        endpoints.push((cc, gw.as4.clone()));
    }
    let ap_file = pki
        .write_access_points(&endpoints)
        .map_err(|e| fail("writing access points")(&e))?;
    for gw in [&at, &no] {
        import_file(&gw.state.store, &ap_file, None, false, &|_, _| {})
            .await
            .map_err(|e| fail("importing access points")(&e))?;
        gw.state
            .reload_ir()
            .await
            .map_err(|e| fail("loading the IR")(&e))?;
    }
    println!(
        "[3/7] IR on each gateway: {} institutions, access points of AT and NO with their certificate fingerprints",
        at.state.ir().len()
    );

    let result = exchange(&at, &no).await;
    for gw in [at, no] {
        let _ = gw.stop.send(());
        let _ = gw.task.await;
    }
    result?;
    println!(
        "demo finished in {:.1} s: one SED from AT to NO, delivered once, byte-identical, acknowledged",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn exchange(at: &Gateway, no: &Gateway) -> Result<(), DemoError> {
    let http = reqwest::Client::new();
    let at_token = add_client(at, "pva-backoffice", SENDER).await?;
    let no_token = add_client(no, "nav-backoffice", RECEIVER).await?;

    let case_id = format!("AT-0100-{}", Utc::now().format("%Y%m%d%H%M%S"));
    let template = std::str::from_utf8(sedgate_gateway::data::demo_sed_template())
        .map_err(|e| fail("reading the demo SED")(&e))?;
    let sed = template.replace("{{CASE_ID}}", &case_id);
    let pdf = demo_pdf();
    let metadata = serde_json::json!({
        "case_id": case_id,
        "buc": "P_BUC_01",
        "sed_type": "P2000",
        "cdm_version": "4.2",
        "sender": SENDER,
        "receivers": [RECEIVER],
    });
    let form = reqwest::multipart::Form::new()
        .part(
            "metadata",
            reqwest::multipart::Part::text(metadata.to_string())
                .mime_str("application/json")
                .map_err(|e| fail("form")(&e))?,
        )
        .part(
            "sed",
            reqwest::multipart::Part::bytes(sed.clone().into_bytes())
                .file_name("P2000.xml")
                .mime_str("application/xml")
                .map_err(|e| fail("form")(&e))?,
        )
        .part(
            "attachment",
            reqwest::multipart::Part::bytes(pdf.clone())
                .file_name("medical-report.pdf")
                .mime_str("application/pdf")
                .map_err(|e| fail("form")(&e))?,
        );
    let posted = Instant::now();
    let res = http
        .post(format!("{}/api/v1/messages", at.api))
        .bearer_auth(&at_token)
        .header("Idempotency-Key", format!("demo-{case_id}"))
        .multipart(form)
        .send()
        .await
        .map_err(|e| fail("posting the SED")(&e))?;
    let status = res.status();
    let body: Value = res
        .json()
        .await
        .map_err(|e| fail("reading the answer")(&e))?;
    if status.as_u16() != 202 {
        return Err(DemoError(format!("AT refused the SED: {status} {body}")));
    }
    let id = body["messages"][0]["id"]
        .as_str()
        .ok_or_else(|| DemoError(format!("no message id in {body}")))?
        .to_owned();
    println!(
        "[4/7] AT back office ({SENDER}) posted P2000 (case {case_id}) + medical-report.pdf to {RECEIVER}: 202 accepted, message {id}"
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    let message = loop {
        let m: Value = http
            .get(format!("{}/api/v1/messages/{id}", at.api))
            .bearer_auth(&at_token)
            .send()
            .await
            .map_err(|e| fail("reading the message state")(&e))?
            .json()
            .await
            .map_err(|e| fail("reading the message state")(&e))?;
        match m["state"].as_str() {
            Some("delivered") => break m,
            Some("failed") | Some("dead_lettered") => {
                return Err(DemoError(format!("delivery failed: {m}")))
            }
            _ if Instant::now() > deadline => {
                return Err(DemoError(format!("not delivered within 30 s: {m}")))
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let history: Vec<String> = message["history"]
        .as_array()
        .map(|h| {
            h.iter()
                .filter_map(|e| e["state"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    println!(
        "[5/7] sent over AS4 (mTLS, gzip, MIME) and the receipt stored at AT after {} ms: state delivered (history: {})",
        posted.elapsed().as_millis(),
        history.join(" -> ")
    );

    let inbox: Value = http
        .get(format!("{}/api/v1/inbox", no.api))
        .bearer_auth(&no_token)
        .send()
        .await
        .map_err(|e| fail("reading NO's inbox")(&e))?
        .json()
        .await
        .map_err(|e| fail("reading NO's inbox")(&e))?;
    let items = inbox["items"].as_array().cloned().unwrap_or_default();
    if items.len() != 1 || items[0]["id"] != id.as_str() {
        return Err(DemoError(format!(
            "NO's inbox should hold exactly message {id}: {inbox}"
        )));
    }
    let detail: Value = http
        .get(format!("{}/api/v1/inbox/{id}", no.api))
        .bearer_auth(&no_token)
        .send()
        .await
        .map_err(|e| fail("reading the inbox item")(&e))?
        .json()
        .await
        .map_err(|e| fail("reading the inbox item")(&e))?;
    if detail["sed"].as_str() != Some(sed.as_str()) {
        return Err(DemoError(
            "the SED in NO's inbox differs from the one AT sent".into(),
        ));
    }
    let href = detail["parts"][1]["href"]
        .as_str()
        .ok_or_else(|| DemoError(format!("no attachment in {detail}")))?;
    let received_pdf = http
        .get(format!("{}{href}", no.api))
        .bearer_auth(&no_token)
        .send()
        .await
        .map_err(|e| fail("downloading the attachment")(&e))?
        .bytes()
        .await
        .map_err(|e| fail("downloading the attachment")(&e))?;
    if received_pdf.as_ref() != pdf.as_slice() {
        return Err(DemoError(
            "the attachment in NO's inbox differs from the one AT sent".into(),
        ));
    }
    println!(
        "[6/7] in NO's inbox for {RECEIVER}: P2000 identical to what AT sent (sha256 {}), attachment {} bytes identical (sha256 {})",
        &sha256(sed.as_bytes())[..16],
        pdf.len(),
        &sha256(&pdf)[..16]
    );

    let ack: Value = http
        .post(format!("{}/api/v1/inbox/{id}/ack", no.api))
        .bearer_auth(&no_token)
        .send()
        .await
        .map_err(|e| fail("acknowledging")(&e))?
        .json()
        .await
        .map_err(|e| fail("acknowledging")(&e))?;
    if ack["newly_acknowledged"] != true {
        return Err(DemoError(format!("acknowledgement not recorded: {ack}")));
    }
    let audit_at = at
        .state
        .store
        .audit_verify()
        .await
        .map_err(|e| fail("audit")(&e))?;
    let audit_no = no
        .state
        .store
        .audit_verify()
        .await
        .map_err(|e| fail("audit")(&e))?;
    println!(
        "[7/7] NO back office acknowledged it; audit chains intact (AT {} entries, NO {} entries)",
        audit_at.entries, audit_no.entries
    );
    Ok(())
}

/// The default demo directory.
pub fn default_dir() -> PathBuf {
    PathBuf::from("data/demo")
}
