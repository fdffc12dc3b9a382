//! Readable SEDs over HTTP: `GET /api/v1/messages/{id}/render`, `/inbox/{id}/render` and
//! `/render/review`, in each shipped language, with the JSON views' visibility.
//! The gateway is AT; AT:9900 sends a P2000 to NO:NAVAT07; NO:NAVAT07 sent AT:9900 an A001.

use chrono::Utc;
use sedgate_gateway::config::Engine;
use sedgate_gateway::store::{InboundMessage, NewPart, PartType, StoredPayload};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::both_engines;
use crate::common::{repo_path, spawn_app_with, SpawnOptions, TestApp};
use crate::console::submit_p2000;

const AT: &str = "AT:9900";
const NO: &str = "NO:NAVAT07";
const INBOUND_ID: &str = "a001-1@no.sedgate.test";

fn fixture(sed: &str) -> String {
    std::fs::read_to_string(repo_path(&format!(
        "tests/fixtures/sed/4.2/{sed}/valid.xml"
    )))
    .unwrap()
}

async fn spawn(engine: Engine, extra: &str) -> TestApp {
    spawn_app_with(
        engine,
        SpawnOptions {
            extra_toml: format!("[outbox]\nenabled = false\n{extra}"),
            ..SpawnOptions::default()
        },
    )
    .await
}

/// NO:NAVAT07 sent AT:9900 an A001 (LA_BUC_01), as the AS4 inbound path stores it.
async fn receive_a001(app: &TestApp) {
    let xml = fixture("A001");
    app.state
        .store
        .store_inbound(InboundMessage {
            id: INBOUND_ID.parse().unwrap(),
            case_id: "CASE-LA1".parse().unwrap(),
            buc: "LA_BUC_01".parse().unwrap(),
            sed_type: "A001".parse().unwrap(),
            cdm: "4.2".parse().unwrap(),
            sender: NO.parse().unwrap(),
            receiver: AT.parse().unwrap(),
            peer_country: "NO".parse().unwrap(),
            parts: vec![NewPart {
                part_type: PartType::Sed,
                content_id: format!("sed.{INBOUND_ID}"),
                mime_type: "application/xml".into(),
                filename: None,
                hash: hex::encode(Sha256::digest(xml.as_bytes())),
                size: xml.len() as u64,
                stored: StoredPayload::Inline(xml.into_bytes().into()),
            }],
            receipt: b"receipt".to_vec(),
            evidence: None,
            now: Utc::now(),
        })
        .await
        .unwrap();
}

async fn get(app: &TestApp, token: &str, path: &str) -> (u16, String, String) {
    let res = app
        .http
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, res.text().await.unwrap())
}

fn assert_has(html: &str, lang: &str, expected: &[&str]) {
    for e in expected {
        assert!(html.contains(e), "{lang}: {e:?} not in\n{html}");
    }
    assert!(
        !html.contains("class=\"missing\""),
        "{lang}: a label is missing\n{html}"
    );
}

async fn renders_p2000_and_a001_in_each_language(engine: Engine) {
    let app = spawn(engine, "").await;
    let token = app.token_for("pva", &[AT]).await;
    let p2000 = submit_p2000(&app, &token, "CASE-R1").await;
    receive_a001(&app).await;

    // (lang, P2000 expectations, A001 expectations): field labels, codes, countries, titles.
    let cases: [(&str, &[&str], &[&str]); 4] = [
        (
            "en",
            &[
                "Claim for old-age pension",
                "Old age pension claim",
                "Family name",
                "Female",
                "Norway",
                "Old-age pension",
                "Date of birth",
            ],
            &[
                "Request for exception (Art. 16)",
                "Legal basis",
                "Art. 16(1)",
                "Registration number",
                "Current Member State",
            ],
        ),
        (
            "fr",
            &[
                "Demande de pension de vieillesse",
                "Nom de famille",
                "Féminin",
                "Norvège",
                "Pension de vieillesse",
                "Date de naissance",
            ],
            &[
                "Demande de dérogation (art. 16)",
                "Base juridique",
                "Art. 16, par. 1",
                "Numéro d&#39;immatriculation",
                "État membre actuel",
            ],
        ),
        (
            "de",
            &[
                "Antrag auf Altersrente",
                "Familienname",
                "Weiblich",
                "Norwegen",
                "Altersrente",
                "Geburtsdatum",
            ],
            &[
                "Antrag auf Ausnahmevereinbarung (Art. 16)",
                "Rechtsgrundlage",
                "Art. 16 Abs. 1",
                "Registernummer",
                "Derzeitiger Mitgliedstaat",
            ],
        ),
        (
            "nb",
            &[
                "Krav om alderspensjon",
                "Etternavn",
                "Kvinne",
                "Norge",
                "Alderspensjon",
                "Fødselsdato",
            ],
            &[
                "Anmodning om unntak (art. 16)",
                "Rettslig grunnlag",
                "Art. 16 nr. 1",
                "Registreringsnummer",
                "Nåværende medlemsstat",
            ],
        ),
    ];
    for (lang, p2000_expected, a001_expected) in cases {
        let (status, ct, html) = get(
            &app,
            &token,
            &format!("/api/v1/messages/{p2000}/render?lang={lang}"),
        )
        .await;
        assert_eq!(status, 200, "{html}");
        assert_eq!(ct, "text/html; charset=utf-8");
        assert!(html.contains(&format!("<html lang=\"{lang}\">")));
        assert_has(&html, lang, p2000_expected);
        // Values from the SED itself, escaped and unchanged.
        assert!(html.contains("Nordmann") && html.contains("1958-02-01"));

        let (status, _, html) = get(
            &app,
            &token,
            &format!("/api/v1/inbox/{INBOUND_ID}/render?lang={lang}"),
        )
        .await;
        assert_eq!(status, 200, "{html}");
        assert_has(&html, lang, a001_expected);
    }

    let (status, ct, pdf) = {
        let res = app
            .http
            .get(app.url(&format!(
                "/api/v1/messages/{p2000}/render?lang=de&format=pdf"
            )))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
        (status, ct, res.bytes().await.unwrap())
    };
    assert_eq!((status, ct.as_str()), (200, "application/pdf"));
    assert!(
        pdf.starts_with(b"%PDF-") && pdf.len() > 1000,
        "{} bytes",
        pdf.len()
    );

    // Languages without a label file are refused, not replaced.
    let (status, _, body) = get(
        &app,
        &token,
        &format!("/api/v1/messages/{p2000}/render?lang=sv"),
    )
    .await;
    assert_eq!(status, 404);
    assert!(
        body.contains("unknown_language") && body.contains("de, en, fr, nb"),
        "{body}"
    );
    let (status, _, _) = get(
        &app,
        &token,
        &format!("/api/v1/messages/{p2000}/render?lang=en&format=doc"),
    )
    .await;
    assert_eq!(status, 400);

    // Same visibility as the JSON views.
    let other = app.token_for("other", &["SE:ACC2001"]).await;
    let (status, _, _) = get(
        &app,
        &other,
        &format!("/api/v1/messages/{p2000}/render?lang=en"),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _, _) = get(
        &app,
        &other,
        &format!("/api/v1/inbox/{INBOUND_ID}/render?lang=en"),
    )
    .await;
    assert_eq!(status, 404);
    let res = app
        .http
        .get(app.url(&format!("/api/v1/messages/{p2000}/render?lang=en")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    for lang in ["en", "fr", "de", "nb"] {
        let (status, _, body) =
            get(&app, &token, &format!("/api/v1/render/review?lang={lang}")).await;
        assert_eq!(status, 200);
        let review: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(review["missing_total"], 0, "{lang}: {review:#}");
        assert_eq!(review["seds"].as_array().unwrap().len(), 36);
    }
}
both_engines!(render_languages, renders_p2000_and_a001_in_each_language);

/// A seed folder with the shipped BUCs and titles and a Polish label file that lacks some
/// labels (and has no titles file).
fn seed_with_partial_polish() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(repo_path("seed/bucs"), dir.path().join("bucs")).unwrap();
    std::os::unix::fs::symlink(repo_path("seed/catalogue"), dir.path().join("catalogue")).unwrap();
    std::fs::create_dir(dir.path().join("labels")).unwrap();
    std::fs::copy(
        repo_path("seed/labels/en.toml"),
        dir.path().join("labels/en.toml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("labels/pl.toml"),
        "language = \"Polski\"\n\
         [ui]\nmessage = \"Wiadomość\"\ncase = \"Sprawa\"\n\
         [fields]\nPerson = \"Osoba\"\nFamilyName = \"Nazwisko\"\nForename = \"Imię\"\n\
         [codes.Sex]\nM = \"Mężczyzna\"\n\
         [countries]\nNO = \"Norwegia\"\n",
    )
    .unwrap();
    dir
}

async fn marks_missing_labels_and_reports_them(engine: Engine) {
    let seed = seed_with_partial_polish();
    let app = spawn(
        engine,
        &format!("[sed]\ncatalogue_dir = \"{}\"\n", seed.path().display()),
    )
    .await;
    let token = app.token_for("pva", &[AT]).await;
    let p2000 = submit_p2000(&app, &token, "CASE-R1").await;
    let (status, _, html) = get(
        &app,
        &token,
        &format!("/api/v1/messages/{p2000}/render?lang=pl"),
    )
    .await;
    assert_eq!(status, 200, "{html}");
    // Present labels are Polish; the rest is marked as missing with its key, never English.
    assert!(html.contains("Nazwisko") && html.contains("Norwegia"));
    assert!(
        html.contains("<span class=\"missing\" title=\"missing_label: Person/Sex\">Sex</span>"),
        "{html}"
    );
    assert!(
        html.contains("<span class=\"missing\" title=\"missing_label\">F</span>"),
        "{html}"
    );
    assert!(
        html.contains("<span class=\"missing\" title=\"missing_label\">P2000</span>"),
        "{html}"
    );
    assert!(
        !html.contains("Female")
            && !html.contains("Family name")
            && !html.contains("Claim for old-age pension")
    );

    let (status, _, body) = get(&app, &token, "/api/v1/render/review?lang=pl").await;
    assert_eq!(status, 200);
    let review: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(review["language_name"], "Polski");
    let p2000_review = review["seds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["sed_type"] == "P2000" && s["cdm_version"] == "4.2")
        .unwrap();
    assert_eq!(p2000_review["title_missing"], true);
    let fields: Vec<&str> = p2000_review["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(fields.contains(&"Person/Sex") && fields.contains(&"PensionType"));
    assert!(!fields.contains(&"Person/FamilyName"));
    let codes = p2000_review["codes"].as_array().unwrap();
    assert!(codes.contains(&json!("Sex=F")) && !codes.contains(&json!("Sex=M")));
    assert!(codes.contains(&json!("PensionType=old_age")));
    assert!(review["ui"].as_array().unwrap().contains(&json!("sender")));
    assert!(review["buc_titles"]
        .as_array()
        .unwrap()
        .contains(&json!("P_BUC_01")));
    assert!(review["missing_total"].as_u64().unwrap() > 100);
}
both_engines!(render_missing, marks_missing_labels_and_reports_them);
