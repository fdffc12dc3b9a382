//! MISSOC over HTTP against a spawned gateway, on both engines: the editorial workflow
//! (carry-forward, own country only, send back, carry over, publish, immutability), what
//! readers see, diffs, comparisons with missing translations, import/export round trips,
//! and the command line.

use reqwest::{Method, StatusCode};
use sedgate_gateway::config::Engine;
use sedgate_missoc::model::Role;
use sedgate_missoc::store::NewMissocUser;
use sedgate_missoc::MissocStore;
use serde_json::{json, Value};

use crate::both_engines;
use crate::cli::{sedgate, write_config};
use crate::common::{fresh_missoc_store, spawn_app, TestApp};

const E1: &str = "2026-01-01";
const E2: &str = "2026-07-01";

/// A small published edition: three countries, the organisation overview and two
/// categories, some translations missing on purpose.
fn fixture() -> String {
    let lines = [
        json!({"type":"edition","format":"sedgate-missoc-edition/1","edition":E1,"state":"published","sample_data":true,"notice":"Test fixture, not MISSOC data"}),
        json!({"type":"category","code":"ORG","title":{"en":"Organisation","fr":"Organisation","de":"Organisation"}}),
        json!({"type":"category","code":"II-1","title":{"en":"Coverage","fr":"Champ d'application"}}),
        json!({"type":"category","code":"VI-8","title":{"en":"Pensionable age","fr":"Âge de la retraite","de":"Regelaltersgrenze"}}),
        json!({"type":"glossary","key":"pensionable-age","term":{"en":"Pensionable age","fr":"Âge de la retraite","de":"Regelaltersgrenze"},"definition":{"en":"The age at which an old-age pension can be drawn."}}),
        json!({"type":"entry","country":"AT","category":"ORG","language":"en","text":"Social insurance is organised by branch.","changed_in":"2025-07-01"}),
        json!({"type":"entry","country":"AT","category":"ORG","language":"de","text":"Die Sozialversicherung ist nach Zweigen gegliedert.","changed_in":"2025-07-01"}),
        json!({"type":"entry","country":"AT","category":"VI-8","language":"en","text":"65 years.","legal_refs":["ASVG §253"],"changed_in":E1}),
        json!({"type":"entry","country":"AT","category":"VI-8","language":"fr","text":"65 ans.","legal_refs":["ASVG §253"],"changed_in":E1}),
        json!({"type":"entry","country":"AT","category":"VI-8","language":"de","text":"65 Jahre.","legal_refs":["ASVG §253"],"changed_in":E1}),
        json!({"type":"entry","country":"AT","category":"II-1","language":"en","text":"All residents.","changed_in":E1}),
        json!({"type":"entry","country":"DE","category":"VI-8","language":"en","text":"67 years.","changed_in":E1}),
        json!({"type":"entry","country":"DE","category":"VI-8","language":"de","text":"67 Jahre.","changed_in":E1}),
        json!({"type":"entry","country":"FR","category":"VI-8","language":"fr","text":"62 ans.","changed_in":E1}),
        json!({"type":"entry","country":"FR","category":"VI-8","language":"en","text":"62 years.","changed_in":E1}),
    ];
    lines.iter().map(|l| format!("{l}\n")).collect()
}

const FIXTURE_ENTRIES: u64 = 10;

pub async fn add_user(store: &MissocStore, name: &str, role: Role) -> String {
    let token = sedgate_base::secret::generate_token();
    store
        .add_missoc_user(
            &NewMissocUser {
                id: uuid::Uuid::new_v4().to_string(),
                name: name.into(),
                role,
                token_hash: sedgate_base::secret::hash_token(&token),
            },
            "test",
            chrono::Utc::now(),
        )
        .await
        .expect("add MISSOC user");
    token
}

fn correspondent(country: &str) -> Role {
    Role::Correspondent {
        country: country.parse().unwrap(),
    }
}

struct Client<'a> {
    app: &'a TestApp,
    token: String,
}

impl Client<'_> {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self
            .app
            .http
            .request(method, self.app.url(&format!("/api/v1/missoc{path}")))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let problem = resp
            .headers()
            .get("content-type")
            .is_some_and(|v| v == "application/problem+json");
        let text = resp.text().await.expect("body");
        if status.is_client_error() || status.is_server_error() {
            assert!(problem, "{status} without problem+json: {text}");
        }
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
    async fn put_text(&self, path: &str, text: &str) -> (StatusCode, Value) {
        self.call(
            Method::PUT,
            path,
            Some(json!({"text": text, "legal_refs": ["Act §1"]})),
        )
        .await
    }
    async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }
    async fn import(&self, text: &str) -> (StatusCode, Value) {
        let resp = self
            .app
            .http
            .post(self.app.url("/api/v1/missoc/editions/import"))
            .bearer_auth(&self.token)
            .header("content-type", "application/x-ndjson")
            .body(text.to_owned())
            .send()
            .await
            .expect("import");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
    async fn export(&self, edition: &str) -> String {
        let resp = self
            .app
            .http
            .get(
                self.app
                    .url(&format!("/api/v1/missoc/editions/{edition}/export")),
            )
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("export");
        assert_eq!(resp.status(), StatusCode::OK);
        resp.text().await.expect("export body")
    }
}

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("")
}

async fn walks_the_editorial_workflow(engine: Engine) {
    let app = spawn_app(engine).await;
    let store = &app.missoc;
    let c = |token: String| Client { app: &app, token };
    let sec = c(add_user(store, "secretariat-1", Role::Secretariat).await);
    let at = c(add_user(store, "corr-at", correspondent("AT")).await);
    let fr = c(add_user(store, "corr-fr", correspondent("FR")).await);
    let reader = c(add_user(store, "reader-1", Role::Reader).await);
    let nobody = c("sgt_not-a-token".into());

    let (status, body) = nobody.get("/editions").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(code(&body), "invalid_token");

    // The secretariat imports the published edition; a reader may not.
    let (status, body) = reader.import(&fixture()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = sec.import(&fixture()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["entries"], FIXTURE_ENTRIES);
    assert_eq!(body["state"], "published");

    // Opening: only the next edition.
    let (status, body) = sec
        .post("/editions", json!({"edition": "2027-01-01"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(code(&body), "not_next_edition");
    let (status, body) = at.post("/editions", json!({"edition": E2})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = sec.post("/editions", json!({"edition": E2})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["state"], "open");
    assert_eq!(
        body["entries"], FIXTURE_ENTRIES,
        "every entry carried forward"
    );
    assert_eq!(body["change_sets"]["draft"], 3, "{body}");
    let (status, body) = sec
        .post("/editions", json!({"edition": "2027-01-01"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(code(&body), "unpublished_edition_exists");

    // Carry-forward keeps the text and the edition it last changed in.
    let (status, entry) = reader
        .get(&format!("/editions/{E2}/entries/AT/ORG/en"))
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "readers do not see the open edition"
    );
    assert_eq!(code(&entry), "unknown_edition");
    let (status, entry) = sec.get(&format!("/editions/{E2}/entries/AT/ORG/en")).await;
    assert_eq!(status, StatusCode::OK, "{entry}");
    assert_eq!(entry["text"], "Social insurance is organised by branch.");
    assert_eq!(entry["changed_in"], "2025-07-01");
    let old = sec.export(E1).await;
    let new = sec.export(E2).await;
    let entries_of = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.contains("\"type\":\"entry\""))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(entries_of(&old), entries_of(&new));

    // Readers see published editions only.
    let (_, list) = reader.get("/editions").await;
    let editions: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["edition"].as_str().unwrap())
        .collect();
    assert_eq!(editions, [E1]);
    let (status, _) = reader.get(&format!("/editions/{E2}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = reader.get(&format!("/compare?edition={E2}&lang=en")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = reader.get(&format!("/diff?from={E1}&to={E2}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = sec.get(&format!("/editions/{E2}")).await;
    assert_eq!(status, StatusCode::OK);

    // A correspondent edits its own country, in any language, and nothing else.
    let at_vi8 = format!("/editions/{E2}/entries/AT/VI-8/en");
    let (status, entry) = at.put_text(&at_vi8, "65 years (men and women).").await;
    assert_eq!(status, StatusCode::OK, "{entry}");
    assert_eq!(entry["changed_in"], E2);
    let (status, body) = at
        .put_text(&format!("/editions/{E2}/entries/DE/VI-8/en"), "hacked")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(code(&body), "country_not_permitted");
    let (status, body) = sec.put_text(&at_vi8, "by the secretariat").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(code(&body), "role_not_permitted");
    let (status, body) = at
        .put_text(&format!("/editions/{E2}/entries/AT/VI-99/en"), "x")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code(&body), "unknown_category");
    let (_, de_entry) = sec.get(&format!("/editions/{E2}/entries/DE/VI-8/en")).await;
    assert_eq!(de_entry["text"], "67 years.", "DE untouched");
    // FR edits too; the secretariat will carry FR over, undoing it.
    let (status, _) = fr
        .put_text(&format!("/editions/{E2}/entries/FR/VI-8/fr"), "64 ans.")
        .await;
    assert_eq!(status, StatusCode::OK);

    // Submit, send back with a comment, edit again, submit, accept.
    let (status, set) = at
        .post(&format!("/editions/{E2}/change-sets/AT/submit"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(set["state"], "submitted");
    let (status, body) = at.put_text(&at_vi8, "after submitting").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(code(&body), "change_set_not_editable");
    let (status, body) = at
        .post(&format!("/editions/{E2}/change-sets/AT/accept"), json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = sec
        .post(
            &format!("/editions/{E2}/change-sets/AT/send-back"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code(&body), "comment_required");
    let (status, set) = sec
        .post(
            &format!("/editions/{E2}/change-sets/AT/send-back"),
            json!({"comment": "Please add the French text of II-1 and drop the German overview."}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(set["state"], "sent_back");
    let (_, review) = at.get(&format!("/editions/{E2}/review")).await;
    let at_set = review["change_sets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["country"] == "AT")
        .unwrap()
        .clone();
    assert_eq!(at_set["state"], "sent_back");
    assert!(at_set["comments"]
        .as_str()
        .unwrap()
        .contains("French text of II-1"));
    let (status, _) = at
        .put_text(
            &format!("/editions/{E2}/entries/AT/II-1/fr"),
            "Tous les résidents.",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = at
        .delete(&format!("/editions/{E2}/entries/AT/ORG/de"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = at
        .post(&format!("/editions/{E2}/change-sets/AT/submit"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, set) = sec
        .post(&format!("/editions/{E2}/change-sets/AT/accept"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(set["state"], "accepted");

    // Publishing needs review, then every set final.
    let (status, body) = sec
        .post(&format!("/editions/{E2}/publish"), json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = sec
        .post(
            &format!("/editions/{E2}/transition"),
            json!({"state": "in_review"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = fr
        .put_text(&format!("/editions/{E2}/entries/FR/VI-8/fr"), "in review")
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(code(&body), "edition_not_editable");
    let (status, body) = sec
        .post(&format!("/editions/{E2}/publish"), json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(code(&body), "publish_blocked");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("DE (draft)") && detail.contains("FR (draft)"),
        "{detail}"
    );
    assert!(!detail.contains("AT"), "{detail}");

    // The review lists the missing translations (AT II-1 lacks de; DE VI-8 lacks fr; …).
    let (status, review) = sec.get(&format!("/editions/{E2}/review")).await;
    assert_eq!(status, StatusCode::OK);
    let missing: Vec<String> = review["missing_translations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| format!("{} {} {}", m["country"], m["category"], m["missing"]))
        .collect();
    assert_eq!(
        missing,
        [
            r#""AT" "ORG" ["fr","de"]"#,
            r#""AT" "II-1" ["de"]"#,
            r#""DE" "VI-8" ["fr"]"#,
            r#""FR" "VI-8" ["de"]"#,
        ]
    );
    assert_eq!(review["missing_titles"][0]["category"], "II-1");
    assert_eq!(review["missing_titles"][0]["missing"], json!(["de"]));
    let (status, _) = reader.get(&format!("/editions/{E1}/review")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Carry over DE and FR: FR's edit is undone.
    for country in ["DE", "FR"] {
        let (status, set) = sec
            .post(
                &format!("/editions/{E2}/change-sets/{country}/carry-over"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{set}");
        assert_eq!(set["state"], "carried_over");
    }
    let (_, fr_entry) = sec.get(&format!("/editions/{E2}/entries/FR/VI-8/fr")).await;
    assert_eq!(fr_entry["text"], "62 ans.");
    assert_eq!(fr_entry["changed_in"], E1);
    let (status, body) = sec
        .post(&format!("/editions/{E2}/publish"), json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    // A published edition cannot change, whoever asks and however.
    let before = sec.export(E2).await;
    let writes = [
        at.put_text(&at_vi8, "after publishing").await,
        at.delete(&at_vi8).await,
        at.post(&format!("/editions/{E2}/change-sets/AT/submit"), json!({}))
            .await,
        sec.post(&format!("/editions/{E2}/change-sets/DE/accept"), json!({}))
            .await,
        sec.post(
            &format!("/editions/{E2}/change-sets/AT/carry-over"),
            json!({}),
        )
        .await,
        sec.post(
            &format!("/editions/{E2}/transition"),
            json!({"state": "open"}),
        )
        .await,
        sec.post(&format!("/editions/{E2}/publish"), json!({}))
            .await,
        sec.import(&before.replace("65 years (men and women).", "changed by import"))
            .await,
    ];
    for (i, (status, body)) in writes.iter().enumerate() {
        assert_eq!(*status, StatusCode::CONFLICT, "write {i}: {body}");
        assert_eq!(code(body), "edition_published", "write {i}: {body}");
    }
    assert_eq!(sec.export(E2).await, before, "nothing changed");

    // Now readers see it.
    let (status, _) = reader.get(&format!("/editions/{E2}")).await;
    assert_eq!(status, StatusCode::OK);

    // The diff shows exactly what AT changed; FR's undone edit and everything else is absent.
    let (status, diff) = reader.get(&format!("/diff?from={E1}&to={E2}")).await;
    assert_eq!(status, StatusCode::OK, "{diff}");
    let items: Vec<String> = diff["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "{} {} {} {}",
                i["country"], i["category"], i["language"], i["change"]
            )
        })
        .collect();
    assert_eq!(
        items,
        [
            r#""AT" "ORG" "de" "removed""#,
            r#""AT" "II-1" "fr" "added""#,
            r#""AT" "VI-8" "en" "changed""#,
        ]
    );
    assert_eq!(diff["items"][2]["before"]["text"], "65 years.");
    assert_eq!(
        diff["items"][2]["after"]["text"],
        "65 years (men and women)."
    );
    let (_, by_category) = reader
        .get(&format!("/diff?from={E1}&to={E2}&category=II-1"))
        .await;
    assert_eq!(by_category["items"].as_array().unwrap().len(), 1);
    let (_, by_country) = reader
        .get(&format!("/diff?from={E1}&to={E2}&country=FR"))
        .await;
    assert_eq!(by_country["items"], json!([]));

    // A comparison shows a missing translation as missing, never another language's text.
    let (status, cmp) = reader
        .get(&format!(
            "/compare?edition={E2}&lang=de&countries=AT,DE,FR&categories=VI-8,II-1"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{cmp}");
    assert_eq!(cmp["countries"], json!(["AT", "DE", "FR"]));
    let vi8 = &cmp["rows"][0];
    assert_eq!(vi8["category"], "VI-8");
    assert_eq!(vi8["title"], "Regelaltersgrenze");
    assert_eq!(vi8["cells"][0]["kind"], "text");
    assert_eq!(vi8["cells"][0]["text"], "65 Jahre.");
    assert_eq!(vi8["cells"][1]["text"], "67 Jahre.");
    assert_eq!(
        vi8["cells"][2],
        json!({"kind": "missing_translation", "available_in": ["en", "fr"]})
    );
    let ii1 = &cmp["rows"][1];
    assert_eq!(
        ii1["title"],
        Value::Null,
        "no German title, and no other one instead"
    );
    assert_eq!(
        ii1["cells"][0],
        json!({"kind": "missing_translation", "available_in": ["en", "fr"]})
    );
    assert_eq!(ii1["cells"][1], json!({"kind": "no_entry"}));
    let (status, body) = reader.get(&format!("/compare?edition={E2}&lang=it")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, all) = reader.get(&format!("/compare?edition={E2}&lang=en")).await;
    let rows: Vec<&str> = all["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["category"].as_str().unwrap())
        .collect();
    assert_eq!(
        rows,
        ["II-1", "VI-8"],
        "every category of the tables, in table order"
    );

    // Glossary search.
    let (_, hits) = reader.get("/glossary?q=RETRAITE&lang=fr").await;
    assert_eq!(hits.as_array().unwrap().len(), 1, "{hits}");
    assert_eq!(hits[0]["key"], "pensionable-age");
    let (_, hits) = reader.get("/glossary?q=retraite&lang=en").await;
    assert_eq!(hits, json!([]));
    let (_, hits) = reader.get("/glossary?q=drawn").await;
    assert_eq!(hits.as_array().unwrap().len(), 1);

    // From a table to the institutions competent for its EESSI sector.
    let (status, inst) = reader.get("/tables/VI/institutions?country=NO").await;
    assert_eq!(status, StatusCode::OK, "{inst}");
    assert_eq!(inst["sector"], "P");
    assert!(inst["total"].as_u64().unwrap() > 0, "{inst}");
    for i in inst["items"].as_array().unwrap() {
        assert_eq!(i["country"], "NO");
        assert!(
            i["competences"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["buc"].as_str().unwrap().starts_with("P_BUC_")),
            "{i}"
        );
    }
    let (_, none) = reader.get("/tables/I/institutions").await;
    assert_eq!(
        (none["sector"].clone(), none["total"].clone()),
        (Value::Null, json!(0))
    );
    let (status, _) = reader.get("/tables/XIII/institutions").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Every step is in the audit log, by name, and the chain holds.
    let tail = store.audit_tail(200).await.unwrap();
    let has =
        |actor: &str, action: &str| tail.iter().any(|e| e.actor == actor && e.action == action);
    assert!(has("secretariat-1", "missoc.edition.open"));
    assert!(has("corr-at", "missoc.entry.put"));
    assert!(has("corr-at", "missoc.entry.delete"));
    assert!(has("corr-at", "missoc.change_set.submit"));
    assert!(has("secretariat-1", "missoc.change_set.send_back"));
    assert!(has("secretariat-1", "missoc.change_set.accept"));
    assert!(has("secretariat-1", "missoc.change_set.carry_over"));
    assert!(has("secretariat-1", "missoc.edition.transition"));
    assert!(has("secretariat-1", "missoc.edition.publish"));
    assert!(has("secretariat-1", "missoc.edition.import"));
    assert_eq!(store.audit_verify().await.unwrap().first_broken, None);

    // The OpenAPI document lists the routes.
    let doc = app.openapi().await;
    for path in [
        "/api/v1/missoc/compare",
        "/api/v1/missoc/diff",
        "/api/v1/missoc/editions/{edition}/publish",
        "/api/v1/missoc/editions/{edition}/entries/{country}/{category}/{lang}",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from OpenAPI"
        );
    }
}
both_engines!(missoc_workflow, walks_the_editorial_workflow);

async fn export_then_import_gives_the_identical_edition(engine: Engine) {
    let a = fresh_missoc_store(engine).await;
    let b = fresh_missoc_store(engine).await;
    let now = chrono::Utc::now();
    a.store
        .import_missoc_edition("test", &fixture(), now, &|_, _| {})
        .await
        .expect("import fixture");
    let exported = sedgate_missoc::dataset::write(
        &a.store
            .export_missoc_edition(&Role::Reader, E1.parse().unwrap())
            .await
            .expect("export"),
    );
    assert_eq!(
        exported
            .lines()
            .filter(|l| l.contains("\"type\":\"entry\""))
            .count() as u64,
        FIXTURE_ENTRIES
    );
    assert!(exported.contains("\"sample_data\":true"));
    let summary = b
        .store
        .import_missoc_edition("test", &exported, now, &|_, _| {})
        .await
        .expect("import export");
    assert_eq!(summary.entries, FIXTURE_ENTRIES);
    let again = b
        .store
        .export_missoc_edition(&Role::Reader, E1.parse().unwrap())
        .await
        .expect("export again");
    assert_eq!(sedgate_missoc::dataset::write(&again), exported);
    // Importing a published edition that exists is refused.
    let err = b
        .store
        .import_missoc_edition("test", &exported, now, &|_, _| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("published"), "{err}");
}
both_engines!(
    missoc_round_trip,
    export_then_import_gives_the_identical_edition
);

async fn cli_imports_exports_and_refuses_bad_files(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(engine, dir.path()).await;
    // Line 3 names a category nobody declared; line 5 is not JSON.
    let mut lines: Vec<String> = fixture().lines().map(str::to_owned).collect();
    lines[2] = lines[2].replace("\"II-1\"", "\"II-2\"");
    lines[4] = "{\"type\":\"entry\",".to_owned();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let (code, _, err) = sedgate(&cfg, &["missoc", "import", bad.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("line 5, column"), "{err}");
    assert!(err.contains(r#"line 11: unknown category "II-1""#), "{err}");
    assert!(err.contains("nothing imported"), "{err}");
    let out = dir.path().join("out.jsonl");
    let (code, _, err) = sedgate(
        &cfg,
        &["missoc", "export", E1, "--out", out.to_str().unwrap()],
    );
    assert_eq!(code, 1, "nothing was imported: {err}");
    assert!(err.contains("does not exist"), "{err}");

    let good = dir.path().join("good.jsonl");
    std::fs::write(&good, fixture()).unwrap();
    let (code, stdout, err) = sedgate(&cfg, &["missoc", "import", good.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("10 entries of 3 countries"), "{stdout}");
    let (code, _, err) = sedgate(
        &cfg,
        &["missoc", "export", E1, "--out", out.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(written.lines().count(), fixture().lines().count());

    let (code, token, err) = sedgate(
        &cfg,
        &[
            "missoc",
            "user",
            "add",
            "--name",
            "corr-at",
            "--role",
            "correspondent",
            "--country",
            "AT",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(token.trim().starts_with("sgt_"), "{token}");
    let (code, _, err) = sedgate(
        &cfg,
        &[
            "missoc",
            "user",
            "add",
            "--name",
            "x",
            "--role",
            "correspondent",
        ],
    );
    assert_eq!(code, 2, "a correspondent needs a country: {err}");
    let (code, _, _) = sedgate(&cfg, &["audit", "verify"]);
    assert_eq!(code, 0);
}
both_engines!(missoc_cli, cli_imports_exports_and_refuses_bad_files);

async fn users_and_page_sessions(engine: Engine) {
    let db = fresh_missoc_store(engine).await;
    let store = &db.store;
    let token = add_user(store, "corr-de", correspondent("DE")).await;
    let user = store
        .missoc_user_by_token_hash(&sedgate_base::secret::hash_token(&token))
        .await
        .unwrap()
        .expect("user by token");
    assert_eq!(user.name, "corr-de");
    assert_eq!(user.role, correspondent("DE"));
    assert!(store
        .missoc_user_by_token_hash(&sedgate_base::secret::hash_token("sgt_other"))
        .await
        .unwrap()
        .is_none());
    let again = store
        .add_missoc_user(
            &NewMissocUser {
                id: uuid::Uuid::new_v4().to_string(),
                name: "corr-de".into(),
                role: Role::Reader,
                token_hash: "00".repeat(32),
            },
            "test",
            chrono::Utc::now(),
        )
        .await;
    assert!(
        matches!(again, Err(sedgate_missoc::store::StoreError::Conflict(_))),
        "{again:?}"
    );

    let now = chrono::Utc::now();
    let hour = chrono::Duration::hours(1);
    store
        .create_missoc_session(&user.id, "cookie-hash", "csrf-1", now, now + hour)
        .await
        .unwrap();
    let session = store
        .missoc_session("cookie-hash", now)
        .await
        .unwrap()
        .expect("live session");
    assert_eq!(session.user, user);
    assert_eq!(session.csrf, "csrf-1");
    assert!(
        store
            .missoc_session("cookie-hash", now + hour + hour)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    store.delete_missoc_session("cookie-hash").await.unwrap();
    assert!(store
        .missoc_session("cookie-hash", now)
        .await
        .unwrap()
        .is_none());
}
both_engines!(missoc_users, users_and_page_sessions);

async fn imports_the_shipped_sample_editions(engine: Engine) {
    let db = fresh_missoc_store(engine).await;
    let store = &db.store;
    let mut files = Vec::new();
    for edition in [E1, E2] {
        let path = crate::common::repo_path(&format!("seed/missoc/sample-{edition}.jsonl"));
        let text = std::fs::read_to_string(&path).expect("seed/missoc sample edition");
        let summary = store
            .import_missoc_edition("test", &text, chrono::Utc::now(), &|_, _| {})
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!((summary.entries, summary.countries), (295, 4));
        assert!(summary.sample_data, "labelled as sample data");
        files.push(text);
    }
    // Exported again byte for byte.
    for (edition, text) in [E1, E2].iter().zip(&files) {
        let file = store
            .export_missoc_edition(&Role::Reader, edition.parse().unwrap())
            .await
            .unwrap();
        assert_eq!(&sedgate_missoc::dataset::write(&file), text, "{edition}");
    }
    // The documented changes, exactly: 18 entries (AT 6, DE 6, FR 3 added, NO 3 removed).
    let diff = store
        .missoc_diff(
            &Role::Reader,
            E1.parse().unwrap(),
            E2.parse().unwrap(),
            &Default::default(),
        )
        .await
        .unwrap();
    let mut per_country = std::collections::BTreeMap::new();
    for item in &diff.items {
        let kind = serde_json::to_value(&item.change).unwrap()["change"].clone();
        *per_country
            .entry(format!("{} {}", item.country, kind))
            .or_insert(0) += 1;
    }
    assert_eq!(
        per_country.into_iter().collect::<Vec<_>>(),
        [
            ("AT \"changed\"".to_owned(), 6),
            ("DE \"changed\"".to_owned(), 6),
            ("FR \"added\"".to_owned(), 3),
            ("NO \"removed\"".to_owned(), 3),
        ]
    );
    // The documented gaps show as gaps.
    let cmp = store
        .missoc_comparison(
            &Role::Reader,
            E1.parse().unwrap(),
            sedgate_missoc::model::Language::De,
            &["NO".parse().unwrap()],
            &["II-4".parse().unwrap(), "XI-3".parse().unwrap()],
        )
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&cmp.rows[0].cells[0]).unwrap(),
        json!({"kind": "missing_translation", "available_in": ["en", "fr"]})
    );
    assert_eq!(cmp.rows[1].title, None, "XI-3 has no German title");
}
both_engines!(missoc_sample, imports_the_shipped_sample_editions);

/// An edition of every MISSOC country, category and language (2,325 entries of ~1 KB,
/// ~2.5 MB): the sample's header, categories and glossary with generated entries.
fn large_edition(edition: &str) -> String {
    let sample = std::fs::read_to_string(crate::common::repo_path(
        "seed/missoc/sample-2026-01-01.jsonl",
    ))
    .unwrap();
    let mut lines = Vec::new();
    let mut categories = Vec::new();
    for line in sample.lines() {
        let mut v: Value = serde_json::from_str(line).unwrap();
        match v["type"].as_str().unwrap() {
            "edition" => {
                v["edition"] = json!(edition);
                lines.push(v.to_string());
            }
            "category" => {
                categories.push(v["code"].as_str().unwrap().to_owned());
                lines.push(line.to_owned());
            }
            "glossary" => lines.push(line.to_owned()),
            _ => {}
        }
    }
    let text = "Benefits are paid monthly. ".repeat(40);
    for country in sedgate_missoc::model::MISSOC_COUNTRIES {
        for category in &categories {
            for lang in ["en", "fr", "de"] {
                lines.push(
                    json!({"type": "entry", "country": country, "category": category,
                        "language": lang, "text": format!("{country} {category}: {text}"),
                        "changed_in": edition})
                    .to_string(),
                );
            }
        }
    }
    lines.join("\n") + "\n"
}

/// MISSOC has its own store: a large edition import running during SED intake does not
/// hold the gateway's writer, and every submission is answered and stored.
async fn import_during_sed_traffic(engine: Engine) {
    let app = crate::console::spawn_console_app(engine).await;
    let token = app.token_for("pva", &[crate::console::AT]).await;
    let secretariat = add_user(&app.missoc, "sec-1", Role::Secretariat).await;
    let edition = large_edition("2027-01-01");
    assert!(edition.len() > 2 << 20, "{}", edition.len());

    let import = {
        let http = app.http.clone();
        let url = app.url("/api/v1/missoc/editions/import");
        tokio::spawn(async move {
            http.post(url)
                .bearer_auth(secretariat)
                .header("content-type", "application/x-ndjson")
                .body(edition)
                .send()
                .await
                .unwrap()
        })
    };
    let submissions = futures::future::join_all((0..40).map(|n| {
        let (app, token) = (&app, &token);
        async move { crate::console::submit_p2000(app, token, &format!("AT-MISSOC-{n}")).await }
    }))
    .await;
    let answer = import.await.unwrap();
    let status = answer.status();
    let summary: Value = answer.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{summary}");
    assert_eq!(summary["entries"], 31 * 25 * 3, "{summary}");

    // Every submission was answered 202 (submit_p2000 asserts it) and is stored.
    assert_eq!(submissions.len(), 40);
    for id in &submissions {
        let id: sedgate_base::domain::MessageId = id.parse().unwrap();
        assert!(
            app.state.store.message(&id).await.unwrap().is_some(),
            "{id}"
        );
    }
    // The two products keep two audit chains, both intact.
    assert_eq!(app.missoc.audit_verify().await.unwrap().first_broken, None);
    assert_eq!(
        app.state.store.audit_verify().await.unwrap().first_broken,
        None
    );
    assert!(app
        .missoc
        .audit_tail(5)
        .await
        .unwrap()
        .iter()
        .any(|e| e.action == "missoc.edition.import"));
    assert!(!app
        .state
        .store
        .audit_tail(500)
        .await
        .unwrap()
        .iter()
        .any(|e| e.action.starts_with("missoc.")));
}
both_engines!(missoc_import_during_traffic, import_during_sed_traffic);
