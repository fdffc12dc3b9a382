//! Human-readable views of SEDs in the reader's language: HTML and PDF.
//!
//! The SED is walked as an element tree (`sedgate_base::xml`); each element gets its label from the
//! language's label table (by path, then by name), and each leaf value is shown as text, or,
//! when its schema says it is a code or a country, with the code's label. Titles of the BUC
//! and the SED type come from the catalogue. Whatever a language lacks is shown marked as
//! missing (with its key) and listed by [`Renderer::review`]; nothing is filled in from
//! another language. Pure: bytes and tables in, a page out.

pub mod html;
pub mod labels;
pub mod model;
pub mod pdf;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use labels::{LabelSet, Labels, LabelsError, UI_KEYS};
pub use model::{FieldKind, FieldSpec, ModelError, SedModel};

use crate::sed::Catalogue;
use sedgate_base::domain::{BucType, CdmVersion, SedType, EESSI_COUNTRIES};
use sedgate_base::xml::{self as xml, Element, XmlError, XmlLimits};

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("no labels for language {lang:?}; available: {}", available.join(", "))]
    UnknownLanguage {
        lang: String,
        available: Vec<String>,
    },
    #[error("the SED is not readable XML: {0}")]
    Xml(#[from] XmlError),
    #[error("HTML template: {0}")]
    Template(#[from] askama::Error),
    #[error("PDF: {0}")]
    Pdf(String),
}

#[derive(Debug, thiserror::Error)]
pub enum RendererLoadError {
    #[error("label tables: {0}")]
    Labels(#[from] LabelsError),
    #[error("SED schemas: {0}")]
    Model(#[from] ModelError),
}

/// A label or a value as shown: found in the language's table, or missing (then `text`
/// is the key that has no label).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shown {
    pub text: String,
    pub missing: bool,
}

impl Shown {
    fn found(text: &str) -> Self {
        Shown {
            text: text.to_owned(),
            missing: false,
        }
    }

    fn lookup(found: Option<&str>, key: &str) -> Self {
        match found {
            Some(text) => Shown::found(text),
            None => Shown {
                text: key.to_owned(),
                missing: true,
            },
        }
    }
}

/// One element of the SED: a heading (group) or a field with its value.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub depth: usize,
    pub path: String,
    pub label: Shown,
    pub value: Option<Shown>,
    /// The raw code, when the value is a code or country shown by its label.
    pub code: Option<String>,
}

/// What is known of the message around the SED.
#[derive(Debug, Clone)]
pub struct SedContext {
    pub message_id: String,
    pub case_id: String,
    pub buc: BucType,
    pub sed: SedType,
    pub cdm: CdmVersion,
    pub sender: String,
    pub receiver: String,
    pub date: DateTime<Utc>,
}

/// A SED ready to be written as HTML or PDF.
#[derive(Debug, Clone, Serialize)]
pub struct Rendered {
    pub lang: String,
    pub language_name: String,
    pub sed_type: String,
    pub sed_title: Shown,
    pub buc: String,
    pub buc_title: Shown,
    /// Message facts: (label, value).
    pub facts: Vec<(Shown, String)>,
    pub rows: Vec<Row>,
    pub missing_label: Shown,
    pub missing_legend: Shown,
    /// How many labels were missing on this page.
    pub missing_count: usize,
}

/// Missing labels of one SED type in one language.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SedReview {
    pub cdm_version: String,
    pub sed_type: String,
    pub title_missing: bool,
    /// Element paths with no label (neither by path nor by name).
    pub fields: Vec<String>,
    /// `table=code` pairs with no label.
    pub codes: Vec<String>,
    /// Country codes (of country fields) with no name.
    pub countries: Vec<String>,
}

/// Everything a language lacks, per SED type.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Review {
    pub lang: String,
    pub language_name: String,
    pub missing_total: usize,
    /// Words of the page itself.
    pub ui: Vec<String>,
    /// BUC types (of every CDM version with SED schemas) without a title.
    pub buc_titles: Vec<String>,
    pub seds: Vec<SedReview>,
}

/// Label tables and SED models, loaded once at start.
#[derive(Debug, Clone)]
pub struct Renderer {
    labels: Labels,
    models: BTreeMap<(CdmVersion, SedType), SedModel>,
}

impl Renderer {
    /// Labels from `labels_dir/<lang>.toml`, models from `schema_dir/<cdm>/<SED>.xsd`.
    pub fn load(
        labels_dir: impl Into<crate::data::SubDir>,
        schema_dir: &Path,
    ) -> Result<Renderer, RendererLoadError> {
        Ok(Renderer {
            labels: Labels::load(labels_dir)?,
            models: model::load_models(schema_dir)?,
        })
    }

    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    pub fn model(&self, cdm: CdmVersion, sed: &SedType) -> Option<&SedModel> {
        self.models.get(&(cdm, sed.clone()))
    }

    fn language(&self, lang: &str) -> Result<&LabelSet, RenderError> {
        self.labels
            .get(lang)
            .ok_or_else(|| RenderError::UnknownLanguage {
                lang: lang.to_owned(),
                available: self
                    .labels
                    .languages()
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            })
    }

    /// Lays out one SED in `lang`.
    pub fn render(
        &self,
        catalogue: &Catalogue,
        lang: &str,
        ctx: &SedContext,
        sed_xml: &[u8],
    ) -> Result<Rendered, RenderError> {
        let labels = self.language(lang)?;
        let doc = xml::parse(sed_xml, &XmlLimits::default())?;
        let model = self.model(ctx.cdm, &ctx.sed);
        let mut rows = Vec::new();
        walk(&doc.root, "", 0, model, labels, &mut rows);
        let ui = |key: &str| Shown::lookup(labels.ui(key), key);
        let facts = vec![
            (ui("message"), ctx.message_id.clone()),
            (ui("case"), ctx.case_id.clone()),
            (ui("cdm_version"), ctx.cdm.as_str().to_owned()),
            (ui("sender"), ctx.sender.clone()),
            (ui("receiver"), ctx.receiver.clone()),
            (
                ui("date"),
                ctx.date.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
        ];
        let sed_title = Shown::lookup(catalogue.title(lang, ctx.sed.as_str()), ctx.sed.as_str());
        let buc_title = Shown::lookup(catalogue.title(lang, ctx.buc.as_str()), ctx.buc.as_str());
        let missing_label = ui("missing_label");
        let missing_legend = ui("missing_legend");
        let missing_count = rows
            .iter()
            .map(|r| {
                usize::from(r.label.missing)
                    + usize::from(r.value.as_ref().is_some_and(|v| v.missing))
            })
            .sum::<usize>()
            + facts.iter().filter(|(l, _)| l.missing).count()
            + usize::from(sed_title.missing)
            + usize::from(buc_title.missing)
            + usize::from(missing_label.missing)
            + usize::from(missing_legend.missing);
        Ok(Rendered {
            lang: labels.lang.clone(),
            language_name: labels.language_name.clone(),
            sed_type: ctx.sed.to_string(),
            sed_title,
            buc: ctx.buc.to_string(),
            buc_title,
            facts,
            rows,
            missing_label,
            missing_legend,
            missing_count,
        })
    }

    /// Every label `lang` lacks for the SED types with a schema, their BUCs, and the page.
    pub fn review(&self, catalogue: &Catalogue, lang: &str) -> Result<Review, RenderError> {
        let labels = self.language(lang)?;
        let ui: Vec<String> = UI_KEYS
            .iter()
            .filter(|k| labels.ui(k).is_none())
            .map(|k| (*k).to_owned())
            .collect();
        let cdms: BTreeSet<CdmVersion> = self.models.keys().map(|(cdm, _)| *cdm).collect();
        let buc_titles: BTreeSet<String> = cdms
            .iter()
            .flat_map(|cdm| catalogue.bucs(*cdm))
            .map(|b| b.buc.to_string())
            .filter(|b| catalogue.title(lang, b).is_none())
            .collect();
        let seds: Vec<SedReview> = self
            .models
            .values()
            .map(|m| review_model(catalogue, labels, m))
            .collect();
        let missing_total = ui.len()
            + buc_titles.len()
            + seds
                .iter()
                .map(|s| {
                    usize::from(s.title_missing)
                        + s.fields.len()
                        + s.codes.len()
                        + s.countries.len()
                })
                .sum::<usize>();
        Ok(Review {
            lang: labels.lang.clone(),
            language_name: labels.language_name.clone(),
            missing_total,
            ui,
            buc_titles: buc_titles.into_iter().collect(),
            seds,
        })
    }
}

fn review_model(catalogue: &Catalogue, labels: &LabelSet, m: &SedModel) -> SedReview {
    let mut review = SedReview {
        cdm_version: m.cdm.as_str().to_owned(),
        sed_type: m.sed.to_string(),
        title_missing: catalogue.title(&labels.lang, m.sed.as_str()).is_none(),
        fields: Vec::new(),
        codes: Vec::new(),
        countries: Vec::new(),
    };
    let mut countries = BTreeSet::new();
    for f in &m.fields {
        if labels.field(&f.path, &f.name).is_none() {
            review.fields.push(f.path.clone());
        }
        match &f.kind {
            FieldKind::Code(codes) => {
                for code in codes {
                    let key = format!("{}={code}", f.name);
                    if labels.code(&f.name, code).is_none() && !review.codes.contains(&key) {
                        review.codes.push(key);
                    }
                }
            }
            FieldKind::Country => {
                countries.extend(
                    EESSI_COUNTRIES
                        .iter()
                        .filter(|c| labels.country(c).is_none())
                        .map(|c| (*c).to_owned()),
                );
            }
            FieldKind::Group | FieldKind::Text | FieldKind::Date => {}
        }
    }
    review.countries = countries.into_iter().collect();
    review
}

fn walk(
    el: &Element,
    prefix: &str,
    depth: usize,
    model: Option<&SedModel>,
    labels: &LabelSet,
    rows: &mut Vec<Row>,
) {
    for child in el.elements() {
        let path = if prefix.is_empty() {
            child.local.clone()
        } else {
            format!("{prefix}/{}", child.local)
        };
        let label = Shown::lookup(labels.field(&path, &child.local), &child.local);
        if child.elements().next().is_some() {
            rows.push(Row {
                depth,
                path: path.clone(),
                label,
                value: None,
                code: None,
            });
            walk(child, &path, depth + 1, model, labels, rows);
            continue;
        }
        let raw = child.trimmed_text();
        let kind = model.and_then(|m| m.field(&path)).map(|f| &f.kind);
        let (value, code) = match kind {
            Some(FieldKind::Code(_)) => (
                Shown::lookup(labels.code(&child.local, &raw), &raw),
                Some(raw),
            ),
            Some(FieldKind::Country) => (Shown::lookup(labels.country(&raw), &raw), Some(raw)),
            _ => (Shown::found(&raw), None),
        };
        rows.push(Row {
            depth,
            path,
            label,
            value: Some(value),
            code,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn repo(rel: &str) -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join(rel)
    }

    fn setup() -> (Renderer, Catalogue) {
        (
            Renderer::load(&repo("seed/labels"), &repo("schemas")).unwrap(),
            Catalogue::load(&repo("seed")).unwrap(),
        )
    }

    fn ctx(sed: &str, buc: &str) -> SedContext {
        SedContext {
            message_id: "m1@at.sedgate.test".into(),
            case_id: "case-1".into(),
            buc: buc.parse().unwrap(),
            sed: sed.parse().unwrap(),
            cdm: CdmVersion::V4_2,
            sender: "AT:1".into(),
            receiver: "NO:2".into(),
            date: Utc::now(),
        }
    }

    fn fixture(sed: &str) -> Vec<u8> {
        std::fs::read(repo(&format!("tests/fixtures/sed/4.2/{sed}/valid.xml"))).unwrap()
    }

    fn row<'a>(r: &'a Rendered, path: &str) -> &'a Row {
        r.rows
            .iter()
            .find(|row| row.path == path)
            .unwrap_or_else(|| panic!("no row {path}"))
    }

    #[test]
    fn shipped_languages_have_no_missing_label() {
        let (renderer, catalogue) = setup();
        for lang in ["en", "fr", "de", "nb"] {
            let review = renderer.review(&catalogue, lang).unwrap();
            let seds: Vec<&SedReview> = review
                .seds
                .iter()
                .filter(|s| {
                    s.title_missing
                        || !s.fields.is_empty()
                        || !s.codes.is_empty()
                        || !s.countries.is_empty()
                })
                .collect();
            assert!(review.ui.is_empty(), "{lang}: {:?}", review.ui);
            assert!(seds.is_empty(), "{lang}: {seds:#?}");
        }
    }

    #[test]
    fn renders_p2000_in_german_with_codes_and_countries() {
        let (renderer, catalogue) = setup();
        let r = renderer
            .render(
                &catalogue,
                "de",
                &ctx("P2000", "P_BUC_01"),
                &fixture("P2000"),
            )
            .unwrap();
        assert_eq!(r.sed_title.text, "Antrag auf Altersrente");
        assert_eq!(row(&r, "Person/FamilyName").label.text, "Familienname");
        let sex = row(&r, "Person/Sex");
        assert_eq!(sex.label.text, "Geschlecht");
        assert!(!sex.value.as_ref().unwrap().missing);
        assert_eq!(r.missing_count, 0, "{r:#?}");
    }

    #[test]
    fn marks_a_missing_label_and_never_borrows_another_language() {
        let dir = tempfile::tempdir().unwrap();
        let en = std::fs::read_to_string(repo("seed/labels/en.toml")).unwrap();
        // A language that lacks the label of FamilyName and the code F.
        let partial = en
            .replace("language = \"English\"", "language = \"Partial\"")
            .replace("FamilyName = \"Family name\"\n", "")
            .replace("F = \"Female\"\n", "");
        assert_ne!(partial, en);
        std::fs::write(dir.path().join("en.toml"), partial).unwrap();
        let renderer = Renderer::load(dir.path(), &repo("schemas")).unwrap();
        let catalogue = Catalogue::load(&repo("seed")).unwrap();
        let r = renderer
            .render(
                &catalogue,
                "en",
                &ctx("P2000", "P_BUC_01"),
                &fixture("P2000"),
            )
            .unwrap();
        let family = row(&r, "Person/FamilyName");
        assert_eq!(
            family.label,
            Shown {
                text: "FamilyName".into(),
                missing: true
            }
        );
        let review = renderer.review(&catalogue, "en").unwrap();
        let p2000 = review
            .seds
            .iter()
            .find(|s| s.sed_type == "P2000" && s.cdm_version == "4.2")
            .unwrap();
        assert!(p2000.fields.contains(&"Person/FamilyName".to_owned()));
        assert!(p2000.codes.contains(&"Sex=F".to_owned()));
    }

    #[test]
    fn refuses_an_unknown_language() {
        let (renderer, catalogue) = setup();
        let err = renderer
            .render(
                &catalogue,
                "xx",
                &ctx("P2000", "P_BUC_01"),
                &fixture("P2000"),
            )
            .unwrap_err();
        assert!(matches!(err, RenderError::UnknownLanguage { .. }));
    }
}
