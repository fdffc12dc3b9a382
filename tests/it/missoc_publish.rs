//! Reading and publishing MISSOC: the PDF publication read back by a PDF renderer
//! (`pdftotext` finds the title in the publication's language, table headings, German and
//! French text with their accents and the missing-translation marker; `pdftoppm` renders
//! the first page to docs/screenshots/missoc-publication-p1.png), CSV and XLSX downloads
//! against the JSON compare, the pages' sessions, and the compare and diff pages in
//! headless Chromium (docs/screenshots/missoc-compare.png). Over HTTP on both engines, on
//! the sample editions of seed/missoc. Needs the Debian packages poppler-utils, chromium
//! and chromium-driver (scripts/setup.sh installs them); without them these tests fail.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;
use std::process::Command;

use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use sedgate_gateway::config::Engine;
use sedgate_missoc::export::publication_pdf;
use sedgate_missoc::model::{
    Cell, Comparison, ComparisonRow, EditionState, EntryText, Language, Publication, Role, TableNo,
};
use serde_json::{json, Value};

use crate::both_engines;
use crate::browser::Driver;
use crate::common::{repo_path, spawn_app, TestApp};
use crate::missoc::add_user;

const PDFTOTEXT: &str = "/usr/bin/pdftotext";
const PDFTOPPM: &str = "/usr/bin/pdftoppm";

fn require(tool: &str) {
    assert!(
        Path::new(tool).exists(),
        "{tool} is missing: install the Debian package poppler-utils (scripts/setup.sh)"
    );
}

/// The text of `pdf` as pdftotext reads it, whitespace collapsed to single spaces.
pub fn pdf_text(pdf: &[u8]) -> String {
    require(PDFTOTEXT);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("doc.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out = Command::new(PDFTOTEXT)
        .args(["-enc", "UTF-8"])
        .arg(&file)
        .arg("-")
        .output()
        .expect("run pdftotext");
    assert!(
        out.status.success(),
        "pdftotext: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("pdftotext writes UTF-8")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The number of pages pdftotext sees (pages end with a form feed).
pub fn pdf_pages(pdf: &[u8]) -> usize {
    require(PDFTOTEXT);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("doc.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out = Command::new(PDFTOTEXT)
        .arg(&file)
        .arg("-")
        .output()
        .expect("run pdftotext");
    String::from_utf8_lossy(&out.stdout)
        .matches('\u{c}')
        .count()
}

/// Renders page 1 of `pdf` at 50 dpi to `png` with pdftoppm.
pub fn first_page_png(pdf: &[u8], png: &Path) {
    require(PDFTOPPM);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("doc.pdf");
    std::fs::write(&file, pdf).unwrap();
    let prefix = dir.path().join("page");
    let out = Command::new(PDFTOPPM)
        .args(["-png", "-r", "50", "-f", "1", "-l", "1", "-singlefile"])
        .arg(&file)
        .arg(&prefix)
        .output()
        .expect("run pdftoppm");
    assert!(
        out.status.success(),
        "pdftoppm: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered = std::fs::read(prefix.with_extension("png")).unwrap();
    assert!(rendered.starts_with(b"\x89PNG"));
    std::fs::create_dir_all(png.parent().unwrap()).unwrap();
    std::fs::write(png, rendered).unwrap();
}

fn text(t: &str, refs: &[&str]) -> Cell {
    Cell::Text {
        content: EntryText {
            text: t.to_owned(),
            legal_refs: refs.iter().map(|r| (*r).to_owned()).collect(),
        },
        changed_in: "2026-01-01".parse().unwrap(),
    }
}

/// A publication built from values: AT, DE, FR; table VI with a German entry that has
/// umlauts and ß, a French one with « » and accents, one missing translation, and an
/// organisation overview long enough to take several pages.
fn publication(language: Language) -> Publication {
    let countries: Vec<_> = ["AT", "DE", "FR"]
        .iter()
        .map(|c| c.parse().unwrap())
        .collect();
    let title = match language {
        Language::En => "Pensionable age",
        Language::Fr => "Âge de la retraite",
        Language::De => "Regelaltersgrenze",
    };
    let comparison = Comparison {
        edition: "2026-07-01".parse().unwrap(),
        edition_state: EditionState::Published,
        language,
        countries: countries.clone(),
        rows: vec![ComparisonRow {
            category: "VI-8".parse().unwrap(),
            title: Some(title.into()),
            cells: vec![
                Cell::MissingTranslation {
                    available_in: vec![Language::De],
                },
                text(
                    "Regelaltersgrenze: 67 Jahre für Versicherte ab Jahrgang 1964; \
                     Übergangsregelung für ältere Jahrgänge (Größe der Stufen: 1 bis 2 Monate).",
                    &["§ 235 SGB VI"],
                ),
                text(
                    "Âge légal : 64 ans.\n\n- « carrières longues » : départ anticipé possible\n- décote \
                     si la durée d'assurance est incomplète",
                    &["Code de la sécurité sociale, art. L161-17-2"],
                ),
            ],
        }],
    };
    let long =
        "Die gesetzliche Rentenversicherung ist Teil des Sozialversicherungssystems. ".repeat(150);
    let mut overviews = BTreeMap::new();
    overviews.insert(countries[0].clone(), text(&long, &[]));
    overviews.insert(
        countries[1].clone(),
        Cell::MissingTranslation {
            available_in: vec![Language::En],
        },
    );
    overviews.insert(countries[2].clone(), Cell::NoEntry);
    Publication {
        edition: comparison.edition,
        language,
        overviews,
        tables: vec![(TableNo::all().nth(5).unwrap(), comparison)],
    }
}

#[test]
fn publication_reads_back_in_each_language() {
    let expected = [
        (
            Language::En,
            "Social protection in the Member States of the EU, of the EEA and in Switzerland",
            "Edition: 1 July 2026",
            "Table VI – Old age",
            "[missing translation: available in de]",
        ),
        (
            Language::Fr,
            "La protection sociale dans les États membres de l'UE, de l'EEE et en Suisse",
            "Édition : 1er juillet 2026",
            "Tableau VI – Vieillesse",
            "[traduction manquante : disponible en de]",
        ),
        (
            Language::De,
            "Sozialer Schutz in den Mitgliedstaaten der EU, des EWR und in der Schweiz",
            "Ausgabe: 1. Juli 2026",
            "Tabelle VI – Alter",
            "[Übersetzung fehlt: vorhanden in de]",
        ),
    ];
    for (language, title, edition, heading, marker) in expected {
        let pdf = publication_pdf(&publication(language), None).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        let text = pdf_text(&pdf);
        for wanted in [
            title,
            edition,
            heading,
            marker,
            "67 Jahre für Versicherte ab Jahrgang 1964; Übergangsregelung für ältere Jahrgänge (Größe",
            "« carrières longues » : départ anticipé possible",
            "Âge légal : 64 ans.",
        ] {
            assert!(text.contains(wanted), "{language}: {wanted:?} not in {text}");
        }
        // The contents list on the title page names the section pages.
        assert!(text.contains(&format!("{heading} 5")), "{language}: {text}");
        // Title page, three pages of organisation overview, table VI.
        assert_eq!(pdf_pages(&pdf), 5, "{language}");
    }
}

#[test]
fn first_page_of_the_publication_renders() {
    let pdf = publication_pdf(&publication(Language::Fr), Some("SAMPLE DATA «test»")).unwrap();
    let png = repo_path("target/screenshots/missoc-publication-values-p1.png");
    first_page_png(&pdf, &png);
    std::fs::write(png.with_extension("pdf"), &pdf).unwrap();
    assert!(pdf_text(&pdf).contains("Langue : Français SAMPLE DATA «test» Sommaire"));
    assert!(std::fs::metadata(&png).unwrap().len() > 1000);
}

// ---- over HTTP, on the sample editions ----

/// The two sample editions (seed/missoc), less two translations, so that each language
/// has a missing one: NO's French `VI-8` and FR's English `II-1` (the sample itself lacks
/// NO's German `II-4` and `IX-3`).
fn sample_edition(file: &str) -> String {
    let text = std::fs::read_to_string(repo_path(&format!("seed/missoc/{file}"))).unwrap();
    let dropped = [("NO", "VI-8", "fr"), ("FR", "II-1", "en")];
    text.lines()
        .filter(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            !dropped.iter().any(|(c, cat, l)| {
                v["type"] == "entry"
                    && v["country"] == *c
                    && v["category"] == *cat
                    && v["language"] == *l
            })
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// A gateway with both sample editions imported and a reader; returns the reader's token.
async fn app_with_samples(engine: Engine) -> (TestApp, String) {
    let app = spawn_app(engine).await;
    let now = chrono::Utc::now();
    for file in ["sample-2026-01-01.jsonl", "sample-2026-07-01.jsonl"] {
        app.missoc
            .import_missoc_edition("test", &sample_edition(file), now, &|_, _| {})
            .await
            .expect("import sample edition");
    }
    let reader = add_user(&app.missoc, "reader-1", Role::Reader).await;
    (app, reader)
}

/// A client that shows redirects instead of following them.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    http()
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// Opens `edition` through the API as the secretariat.
async fn open_edition(app: &TestApp, secretariat: &str, edition: &str) {
    let res = http()
        .post(app.url("/api/v1/missoc/editions"))
        .bearer_auth(secretariat)
        .json(&json!({ "edition": edition }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
}

async fn publication_per_language(engine: Engine) {
    let (app, reader) = app_with_samples(engine).await;
    let cases = [
        (
            Language::En,
            "Social protection in the Member States of the EU, of the EEA and in Switzerland",
            [
                "Edition: 1 July 2026",
                "Table VI – Old age",
                "Table XII – Long-term care",
            ],
            "[missing translation: available in fr, de]",
            "The statutory pensionable age is 65 for men.",
        ),
        (
            Language::Fr,
            "La protection sociale dans les États membres de l'UE, de l'EEE et en Suisse",
            [
                "Édition : 1er juillet 2026",
                "Tableau VI – Vieillesse",
                "Tableau VIII – Accidents du travail et maladies professionnelles",
            ],
            "[traduction manquante : disponible en en, de]",
            "L'âge légal de la retraite est de 65 ans pour les hommes.",
        ),
        (
            Language::De,
            "Sozialer Schutz in den Mitgliedstaaten der EU, des EWR und in der Schweiz",
            [
                "Ausgabe: 1. Juli 2026",
                "Tabelle VI – Alter",
                "Tabelle VIII – Arbeitsunfälle und Berufskrankheiten",
            ],
            "[Übersetzung fehlt: vorhanden in en, fr]",
            "Die Regelaltersgrenze steigt für die Jahrgänge 1947 bis 1964 von 65 auf 67 Jahre",
        ),
    ];
    for (language, title, headings, marker, entry) in cases {
        let res = get(
            &app,
            &reader,
            &format!("/api/v1/missoc/editions/2026-07-01/publication.pdf?lang={language}"),
        )
        .await;
        assert_eq!(res.status(), 200, "{language}");
        assert_eq!(header(&res, "content-type"), "application/pdf");
        assert_eq!(
            header(&res, "content-disposition"),
            format!("attachment; filename=\"missoc-2026-07-01-{language}.pdf\"")
        );
        let pdf = res.bytes().await.unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        let text = pdf_text(&pdf);
        let notice = "SAMPLE DATA written for sedgate's tests and demo; simplified and not MISSOC's published content";
        for wanted in [title, marker, entry, notice].into_iter().chain(headings) {
            assert!(
                text.contains(wanted),
                "{language}: {wanted:?} not in the PDF: {text}"
            );
        }
        // Never another language's text in place of a missing translation.
        if language == Language::Fr {
            assert!(!text.contains("The statutory pensionable age"));
        }
        if language == Language::En && engine == Engine::Sqlite {
            // The title page, as a reader sees it; written whole, then moved into place.
            let png = repo_path("docs/screenshots/missoc-publication-p1.png");
            let tmp = png.with_extension("png.tmp");
            first_page_png(&pdf, &tmp);
            std::fs::rename(&tmp, &png).unwrap();
            // The whole PDF, to look at, beside the other test output.
            let out = repo_path("target/screenshots/missoc-publication-en.pdf");
            std::fs::create_dir_all(out.parent().unwrap()).unwrap();
            std::fs::write(out, &pdf).unwrap();
        }
    }
    // Readers see published editions only; an open one does not exist for them.
    let secretariat = add_user(&app.missoc, "sec-1", Role::Secretariat).await;
    open_edition(&app, &secretariat, "2027-01-01").await;
    let path = "/api/v1/missoc/editions/2027-01-01/publication.pdf?lang=de";
    let res = get(&app, &reader, path).await;
    assert_eq!(res.status(), 404);
    assert_eq!(header(&res, "content-type"), "application/problem+json");
    assert_eq!(get(&app, &secretariat, path).await.status(), 200);
    // No token, a bad language: problems, not PDFs.
    let res = http().get(app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let res = get(
        &app,
        &reader,
        "/api/v1/missoc/editions/2026-07-01/publication.pdf?lang=it",
    )
    .await;
    assert_eq!(res.status(), 400);
    assert_eq!(header(&res, "content-type"), "application/problem+json");
}
both_engines!(missoc_publication_pdf, publication_per_language);

/// What a CSV/XLSX cell must hold for a JSON compare cell (French labels).
fn expected_cell(cell: &Value) -> String {
    match cell["kind"].as_str().unwrap() {
        "text" => {
            let mut text = cell["text"].as_str().unwrap().to_owned();
            let refs: Vec<&str> = cell["legal_refs"]
                .as_array()
                .map(|a| a.iter().map(|r| r.as_str().unwrap()).collect())
                .unwrap_or_default();
            if !refs.is_empty() {
                text.push_str(&format!("\n\nRéférences juridiques : {}", refs.join("; ")));
            }
            text
        }
        "missing_translation" => {
            let langs: Vec<&str> = cell["available_in"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap())
                .collect();
            format!(
                "[traduction manquante : disponible en {}]",
                langs.join(", ")
            )
        }
        "no_entry" => String::new(),
        other => panic!("cell kind {other}"),
    }
}

/// A CSV field as written: a leading `'` keeps a spreadsheet from taking it for a formula.
fn csv_field(expected: &str) -> String {
    if expected.starts_with(['=', '+', '-', '@']) {
        format!("'{expected}")
    } else {
        expected.to_owned()
    }
}

async fn downloads_match_the_json_compare(engine: Engine) {
    let (app, reader) = app_with_samples(engine).await;
    let query = "edition=2026-07-01&lang=fr&countries=AT,DE,NO,FR&categories=VI-8,II-1,IX-3,XII-4";
    let res = get(&app, &reader, &format!("/api/v1/missoc/compare?{query}")).await;
    assert_eq!(res.status(), 200);
    let json: Value = res.json().await.unwrap();
    let countries: Vec<&str> = json["countries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(countries, ["AT", "DE", "NO", "FR"]);
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let kinds: Vec<&str> = rows
        .iter()
        .flat_map(|r| r["cells"].as_array().unwrap())
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"missing_translation") && kinds.contains(&"text"));

    // CSV with a bearer token.
    let res = get(
        &app,
        &reader,
        &format!("/api/v1/missoc/compare.csv?{query}"),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-type"), "text/csv; charset=utf-8");
    assert_eq!(
        header(&res, "content-disposition"),
        "attachment; filename=\"missoc-compare-2026-07-01-fr.csv\""
    );
    let csv_bytes = res.bytes().await.unwrap();
    let mut csv = csv::Reader::from_reader(csv_bytes.as_ref());
    let head: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(head, ["Catégorie", "Intitulé", "AT", "DE", "NO", "FR"]);
    let records: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), rows.len());
    for (record, row) in records.iter().zip(rows) {
        assert_eq!(&record[0], row["category"].as_str().unwrap());
        assert_eq!(&record[1], row["title"].as_str().unwrap());
        for (i, cell) in row["cells"].as_array().unwrap().iter().enumerate() {
            assert_eq!(
                record[i + 2],
                csv_field(&expected_cell(cell)),
                "{} {}",
                &record[0],
                countries[i]
            );
        }
    }

    // XLSX with a bearer token: the same cells, without the CSV formula guard.
    let res = get(
        &app,
        &reader,
        &format!("/api/v1/missoc/compare.xlsx?{query}"),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(&res, "content-type"),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert_eq!(
        header(&res, "content-disposition"),
        "attachment; filename=\"missoc-compare-2026-07-01-fr.xlsx\""
    );
    let xlsx = res.bytes().await.unwrap().to_vec();
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(xlsx)).unwrap();
    let sheet = book.worksheet_range_at(0).unwrap().unwrap();
    let cell = |r: usize, c: usize| match sheet.get_value((r as u32, c as u32)) {
        Some(Data::String(s)) => s.clone(),
        Some(Data::Empty) | None => String::new(),
        Some(other) => panic!("({r},{c}) is {other:?}"),
    };
    assert_eq!(cell(0, 0), "Catégorie");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(cell(i + 1, 0), row["category"].as_str().unwrap());
        for (j, c) in row["cells"].as_array().unwrap().iter().enumerate() {
            assert_eq!(cell(i + 1, j + 2), expected_cell(c));
        }
    }

    // The same CSV from the compare page's link, with the page session's cookie.
    let session = page_login(&app, &reader).await;
    let res = http()
        .get(app.url(&format!("/missoc/compare.csv?{query}")))
        .header("cookie", format!("sedgate_missoc={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap(), csv_bytes);

    // The same query errors as the JSON compare.
    let res = get(
        &app,
        &reader,
        "/api/v1/missoc/compare.csv?edition=2026-07-01&countries=UK",
    )
    .await;
    assert_eq!(res.status(), 400);
    assert_eq!(header(&res, "content-type"), "application/problem+json");
    let res = http()
        .get(app.url(&format!("/api/v1/missoc/compare.xlsx?{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}
both_engines!(missoc_downloads, downloads_match_the_json_compare);

#[tokio::test]
async fn openapi_lists_the_downloads() {
    let app = spawn_app(Engine::Sqlite).await;
    let doc = app.openapi().await;
    for path in [
        "/api/v1/missoc/compare.csv",
        "/api/v1/missoc/compare.xlsx",
        "/api/v1/missoc/editions/{edition}/publication.pdf",
    ] {
        assert!(
            doc["paths"][path]["get"].is_object(),
            "{path} missing from OpenAPI"
        );
    }
}

/// Logs in on the login page with `token`; returns the session cookie's value.
async fn page_login(app: &TestApp, token: &str) -> String {
    let res = http().get(app.url("/missoc/login")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let login_cookie = header(&res, "set-cookie").to_owned();
    assert!(login_cookie.contains("HttpOnly") && login_cookie.contains("SameSite=Strict"));
    let csrf = login_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(html.contains(&format!(r#"name="csrf" value="{csrf}""#)));
    let res = http()
        .post(app.url("/missoc/login"))
        .header("cookie", format!("sedgate_missoc_login={csrf}"))
        .form(&[("token", token), ("csrf", &csrf), ("lang", "fr")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(header(&res, "location"), "/missoc/editions?lang=fr");
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("sedgate_missoc="))
        .unwrap()
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("Path=/missoc"), "{cookie}");
    cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap()
}

async fn pages_need_a_session_and_show_published_editions(engine: Engine) {
    let (app, reader) = app_with_samples(engine).await;
    let secretariat = add_user(&app.missoc, "sec-1", Role::Secretariat).await;
    open_edition(&app, &secretariat, "2027-01-01").await;
    // Without a session: to the login page.
    let res = http().get(app.url("/missoc/compare")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(header(&res, "location"), "/missoc/login");
    // A wrong token is refused on the page, and so is a login form without its CSRF cookie.
    let res = http()
        .get(app.url("/missoc/login?lang=de"))
        .send()
        .await
        .unwrap();
    let csrf = header(&res, "set-cookie")
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    let res = http()
        .post(app.url("/missoc/login"))
        .header("cookie", format!("sedgate_missoc_login={csrf}"))
        .form(&[
            ("token", "not-a-token"),
            ("csrf", csrf.as_str()),
            ("lang", "de"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Dieses Token ist nicht gültig."));
    let res = http()
        .post(app.url("/missoc/login"))
        .form(&[("token", reader.as_str()), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    let session = page_login(&app, &reader).await;
    let page = |path: &'static str, cookie: String| {
        let req = http().get(app.url(path)).header("cookie", cookie);
        async move {
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 200, "{path}");
            res.text().await.unwrap()
        }
    };
    let cookie = format!("sedgate_missoc={session}");
    // The reader sees the two published editions, not the open one.
    let editions = page("/missoc/editions?lang=fr", cookie.clone()).await;
    assert!(
        editions.contains(r#"id="edition-2026-07-01""#)
            && editions.contains(r#"id="edition-2026-01-01""#)
    );
    assert!(!editions.contains("2027-01-01"));
    assert!(
        editions.contains("données d&#39;exemple"),
        "sample data is labelled as such"
    );
    // The diff page lists exactly the changed entries for a country.
    let diff = page(
        "/missoc/diff?lang=de&from=2026-01-01&to=2026-07-01&country=DE",
        cookie.clone(),
    )
    .await;
    for id in [
        "diff-DE-VI-12-de",
        "diff-DE-VI-12-en",
        "diff-DE-VI-12-fr",
        "diff-DE-X-1-de",
    ] {
        assert!(diff.contains(&format!(r#"id="{id}""#)), "{id}");
    }
    assert_eq!(diff.matches(r#"<section class="change"#).count(), 6);
    assert!(diff.contains("30 Monate") && diff.contains("36 Monate"));
    // The glossary in German.
    let glossary = page("/missoc/glossary?lang=de&q=altersgrenze", cookie.clone()).await;
    assert!(
        glossary.contains(r#"id="term-pensionable-age""#),
        "{glossary}"
    );
    assert!(glossary.contains("<strong>Regelaltersgrenze</strong>"));
    assert!(glossary.contains("fr: Âge de la retraite"));
    // Institutions competent for table VI (pensions: P_BUC_*) in Norway, from the IR.
    let institutions = page(
        "/missoc/tables/VI/institutions?lang=en&countries=NO",
        cookie.clone(),
    )
    .await;
    assert!(institutions.contains("P_BUC_01"), "{institutions}");
    // Logging out needs the session's CSRF token; then the cookie is worth nothing.
    let res = http()
        .post(app.url("/missoc/logout"))
        .header("cookie", cookie.clone())
        .form(&[("csrf", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let compare = page("/missoc/compare", cookie.clone()).await;
    let csrf = compare
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let res = http()
        .post(app.url("/missoc/logout"))
        .header("cookie", cookie.clone())
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let res = http()
        .get(app.url("/missoc/editions"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
}
both_engines!(
    missoc_pages,
    pages_need_a_session_and_show_published_editions
);

/// A reader in headless Chromium: logs in with the token, compares AT, DE and NO in
/// French, sees the cells and NO's missing French text marked as missing, follows a table
/// heading to the competent institutions, and sees what changed for AT between the two
/// editions. The compare page is saved as docs/screenshots/missoc-compare.png.
#[tokio::test]
async fn reader_compares_and_diffs_in_chromium() {
    let (app, reader) = app_with_samples(Engine::Sqlite).await;
    let driver = Driver::start().await;

    driver.goto(&app.url("/missoc/compare?lang=fr")).await;
    assert!(driver.current_url().await.ends_with("/missoc/login"));
    driver.type_into("#token", "not a token").await;
    driver.click("#login").await;
    assert_eq!(
        driver.text("#login-error").await,
        "This token is not valid."
    );
    driver.type_into("#token", &reader).await;
    driver.click("#login").await;
    driver
        .wait_for_url(
            |u| u.contains("/missoc/editions"),
            "the editions after logging in",
        )
        .await;
    assert!(driver
        .text("#edition-2026-07-01")
        .await
        .contains("1 July 2026"));

    // The compare form, in French: three countries, VI-8 and table IX (IX-1, IX-3).
    driver.goto(&app.url("/missoc/compare?lang=fr")).await;
    for country in ["AT", "DE", "NO"] {
        driver
            .click(&format!("input[name=countries][value={country}]"))
            .await;
    }
    driver.click("input[name=tables][value=IX]").await;
    driver.type_into("#categories", "VI-8").await;
    driver.click("#show").await;
    assert_eq!(
        driver.text("#result-heading").await,
        "Édition 1er juillet 2026 – Français"
    );
    assert!(driver
        .text("#table-VI")
        .await
        .starts_with("Tableau VI – Vieillesse"));
    let at = driver.text("#cell-VI-8-AT").await;
    assert!(
        at.contains("L'âge légal de la retraite est de 65 ans pour les hommes."),
        "{at}"
    );
    assert!(
        at.contains("62 ans et 6 mois au troisième trimestre 2026"),
        "{at}"
    );
    let de = driver.text("#cell-IX-3-DE").await;
    assert!(
        !de.is_empty() && !de.contains("traduction manquante"),
        "{de}"
    );
    // NO's French VI-8 is missing: marked, never replaced by the English or German text.
    let no = driver.text("#cell-VI-8-NO").await;
    assert_eq!(no, "[traduction manquante : disponible en en, de]");
    assert_eq!(
        driver.attribute("#cell-VI-8-NO", "class").await,
        "cell missing"
    );
    assert_eq!(
        driver.attribute("#cell-VI-8-AT", "class").await,
        "cell text"
    );
    let downloads = driver.text("#downloads").await;
    assert!(
        downloads.contains("CSV") && downloads.contains("XLSX") && downloads.contains("PDF (fr)")
    );
    assert_eq!(driver.text("#notice").await, "DONNÉES D'EXEMPLE");
    // The screenshot shows table VI, with NO's missing translation.
    let url = driver.current_url().await;
    driver.goto(&format!("{url}#result-heading")).await;
    let screenshots = repo_path("docs/screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();
    driver.screenshot(&screenshots, "missoc-compare.png").await;

    // Table VI (pensions) leads to the IR's institutions competent for P_BUC_* here.
    driver.click("#table-VI a.institutions").await;
    assert!(driver.text("#heading").await.contains("P_BUC_"));
    assert!(driver.text("#institutions").await.contains("P_BUC_01"));

    // What changed for AT from January to July.
    driver
        .goto(
            &app.url("/missoc/diff?lang=fr&from=2026-01-01&to=2026-07-01&country=AT&category=VI-8"),
        )
        .await;
    let change = driver.text("#diff-AT-VI-8-fr").await;
    assert!(change.contains("modifié"), "{change}");
    assert!(
        change.contains("62 ans et 2 mois au premier trimestre 2026"),
        "{change}"
    );
    assert!(
        change.contains("62 ans et 6 mois au troisième trimestre 2026"),
        "{change}"
    );
    driver.quit().await;
}
