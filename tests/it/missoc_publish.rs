//! The MISSOC publication read back by a PDF renderer: `pdftotext` finds the title in the
//! publication's language, table headings, German and French text with their accents and
//! the missing-translation marker; `pdftoppm` renders the first page to
//! docs/screenshots/missoc-publication-p1.png. Needs the Debian package poppler-utils
//! (scripts/setup.sh installs it); without it these tests fail.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use sedgate::missoc::export::publication_pdf;
use sedgate::missoc::model::{
    Cell, Comparison, ComparisonRow, EditionState, EntryText, Language, Publication, TableNo,
};

use crate::common::repo_path;

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
        let pdf = publication_pdf(&publication(language)).unwrap();
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
    let pdf = publication_pdf(&publication(Language::Fr)).unwrap();
    let png = repo_path("target/screenshots/missoc-publication-values-p1.png");
    first_page_png(&pdf, &png);
    std::fs::write(png.with_extension("pdf"), &pdf).unwrap();
    assert!(std::fs::metadata(&png).unwrap().len() > 1000);
}
