//! The MISSOC pages (compare, diff, glossary, editions, login, competent institutions) as
//! HTML: view values built from the model, compiled askama templates in
//! `templates/missoc/`, every interpolated value HTML-escaped, no script. Page labels are
//! in the language the reader chose; a missing translation shows its marker.
//! Pure: the routes in `web` fetch the data and send the pages.

use askama::Template;

use super::labels::{colon, country_name, edition_date, missing_marker, ui, Ui};
use super::model::{
    CategoryCode, Cell, Comparison, DiffItem, EditionDiff, EditionId, EditionState, EntryChange,
    EntryText, GlossaryTerm, Language, TableNo, MISSOC_COUNTRIES,
};
use sedgate_base::domain::CountryCode;

/// Percent-encodes a query-string value.
pub fn query_value(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b',') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The frame every page after login shows: who is logged in, the logout form, the
/// language of the labels.
pub struct Frame {
    pub lang: Language,
    pub ui: &'static Ui,
    pub user: String,
    pub role: String,
    pub csrf: String,
    /// ":" or " :" (French).
    pub colon: &'static str,
}

impl Frame {
    pub fn new(lang: Language, user: &str, role: &str, csrf: &str) -> Frame {
        Frame {
            lang,
            ui: ui(lang),
            user: user.to_owned(),
            role: role.to_owned(),
            csrf: csrf.to_owned(),
            colon: colon(lang),
        }
    }

    /// The same page in each language: (code, name, href with `lang` replaced).
    fn languages(&self, path: &str, query: &str) -> Vec<(&'static str, &'static str, String)> {
        Language::ALL
            .iter()
            .map(|l| {
                let mut q = format!("lang={l}");
                if !query.is_empty() {
                    q.push('&');
                    q.push_str(query);
                }
                (l.code(), ui(*l).language_name, format!("{path}?{q}"))
            })
            .collect()
    }
}

/// An option of a select, or a checkbox.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A text shown as is, or a missing translation's marker.
pub struct Shown {
    pub text: String,
    pub missing: bool,
}

impl Shown {
    fn of(text: Option<&str>, language: Language, available: &[Language]) -> Shown {
        match text {
            Some(t) => Shown {
                text: t.to_owned(),
                missing: false,
            },
            None => Shown {
                text: missing_marker(language, available),
                missing: true,
            },
        }
    }
}

/// Rich text as HTML blocks: paragraphs and lists.
pub enum HtmlBlock {
    Para(String),
    List(Vec<String>),
}

fn html_blocks(text: &str) -> Vec<HtmlBlock> {
    use super::export::Block;
    let mut out: Vec<HtmlBlock> = Vec::new();
    for block in super::export::blocks(text) {
        match block {
            Block::Paragraph(p) => out.push(HtmlBlock::Para(p)),
            Block::Item(item) => match out.last_mut() {
                Some(HtmlBlock::List(items)) => items.push(item),
                _ => out.push(HtmlBlock::List(vec![item])),
            },
            Block::Gap => {}
        }
    }
    out
}

/// An entry's text on a page.
pub struct EntryView {
    pub blocks: Vec<HtmlBlock>,
    pub legal_refs: Vec<String>,
}

impl From<&EntryText> for EntryView {
    fn from(e: &EntryText) -> Self {
        EntryView {
            blocks: html_blocks(&e.text),
            legal_refs: e.legal_refs.clone(),
        }
    }
}

/// One cell of the comparison table.
pub struct CellView {
    pub id: String,
    /// `text`, `missing` or `none` (a CSS class too).
    pub kind: &'static str,
    pub entry: Option<EntryView>,
    /// The marker, "no entry", or the edition the text last changed in.
    pub note: String,
}

pub struct RowView {
    pub code: String,
    pub title: Shown,
    pub cells: Vec<CellView>,
}

/// The rows of one table, under a heading that links to the institutions competent for
/// the table's EESSI sector.
pub struct TableGroup {
    pub id: String,
    pub heading: String,
    pub sector: Option<&'static str>,
    pub institutions_href: Option<String>,
    pub rows: Vec<RowView>,
}

pub struct CompareView {
    pub heading: String,
    pub countries: Vec<(String, String)>,
    pub groups: Vec<TableGroup>,
    /// (label, href)
    pub downloads: Vec<(String, String)>,
}

/// What the compare form asked for, as valid values (the routes parse the query; tables
/// ticked in the form are expanded into their categories).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompareChoice {
    pub edition: Option<EditionId>,
    pub countries: Vec<CountryCode>,
    pub tables: Vec<TableNo>,
    pub categories: Vec<CategoryCode>,
}

impl CompareChoice {
    /// The query string of this choice (without `lang`) as the JSON, CSV and XLSX compare
    /// endpoints read it: `edition`, comma-separated `countries` and `categories`.
    pub fn query(&self) -> String {
        let mut parts = Vec::new();
        if let Some(e) = self.edition {
            parts.push(format!("edition={e}"));
        }
        let list = |items: Vec<String>| query_value(&items.join(","));
        if !self.countries.is_empty() {
            let c = self.countries.iter().map(|c| c.to_string()).collect();
            parts.push(format!("countries={}", list(c)));
        }
        if !self.categories.is_empty() {
            let c = self.categories.iter().map(|c| c.to_string()).collect();
            parts.push(format!("categories={}", list(c)));
        }
        parts.join("&")
    }

    /// The categories as the form's text field shows them.
    fn categories_text(&self) -> String {
        self.categories
            .iter()
            .filter(|c| !c.table().is_some_and(|t| self.tables.contains(&t)))
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Template)]
#[template(path = "missoc/compare.html")]
pub struct ComparePage {
    pub frame: Frame,
    pub languages: Vec<(&'static str, &'static str, String)>,
    pub editions: Vec<Choice>,
    pub countries: Vec<Choice>,
    pub tables: Vec<Choice>,
    pub categories: String,
    pub errors: Vec<String>,
    pub result: Option<CompareView>,
    /// Shown above the result, e.g. that the edition is sample data.
    pub notice: Option<String>,
}

/// An edition a user may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditionRef {
    pub id: EditionId,
    pub state: EditionState,
    pub sample_data: bool,
}

/// The editions a reader may choose, newest first, marked when chosen.
fn edition_choices(
    editions: &[EditionRef],
    chosen: Option<EditionId>,
    lang: Language,
) -> Vec<Choice> {
    editions
        .iter()
        .map(|e| Choice {
            value: e.id.to_string(),
            label: edition_date(e.id, lang),
            selected: Some(e.id) == chosen,
        })
        .collect()
}

fn cell_view(country: &CountryCode, code: &str, cell: &Cell, lang: Language) -> CellView {
    let id = format!("cell-{code}-{country}");
    match cell {
        Cell::Text {
            content,
            changed_in,
        } => CellView {
            id,
            kind: "text",
            entry: Some(EntryView::from(content)),
            note: format!(
                "{} {}",
                ui(lang).last_changed,
                edition_date(*changed_in, lang)
            ),
        },
        Cell::MissingTranslation { available_in } => CellView {
            id,
            kind: "missing",
            entry: None,
            note: missing_marker(lang, available_in),
        },
        Cell::NoEntry => CellView {
            id,
            kind: "none",
            entry: None,
            note: ui(lang).no_entry.to_owned(),
        },
    }
}

/// The comparison as table groups, one per MISSOC table (the organisation overview,
/// `ORG`, is a group of its own).
pub fn compare_view(c: &Comparison, choice: &CompareChoice) -> CompareView {
    let lang = c.language;
    let ui = ui(lang);
    let country_list = c
        .countries
        .iter()
        .map(|cc| cc.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let mut groups: Vec<TableGroup> = Vec::new();
    for row in &c.rows {
        let table = row.category.table();
        let id = match table {
            Some(t) => format!("table-{}", t.roman()),
            None => "table-ORG".to_owned(),
        };
        if groups.last().is_none_or(|g| g.id != id) {
            let sector = table.and_then(TableNo::sector);
            groups.push(TableGroup {
                heading: match table {
                    Some(t) => format!("{} {} – {}", ui.table, t.roman(), t.title(lang)),
                    None => ui.organisation.to_owned(),
                },
                sector: sector.map(|s| s.buc_prefix().trim_end_matches("_BUC_")),
                institutions_href: table.filter(|t| t.sector().is_some()).map(|t| {
                    format!(
                        "/missoc/tables/{}/institutions?lang={lang}&countries={}",
                        t.roman(),
                        query_value(&country_list)
                    )
                }),
                id,
                rows: Vec::new(),
            });
        }
        let code = row.category.as_str();
        let view = RowView {
            code: code.to_owned(),
            title: Shown::of(row.title.as_deref(), lang, &[]),
            cells: c
                .countries
                .iter()
                .zip(&row.cells)
                .map(|(cc, cell)| cell_view(cc, code, cell, lang))
                .collect(),
        };
        if let Some(g) = groups.last_mut() {
            g.rows.push(view);
        }
    }
    let query = format!("{}&lang={lang}", choice.query());
    CompareView {
        heading: format!(
            "{} {} – {}",
            ui.edition,
            edition_date(c.edition, lang),
            ui.language_name
        ),
        countries: c
            .countries
            .iter()
            .map(|cc| (cc.to_string(), country_name(cc, lang)))
            .collect(),
        groups,
        downloads: vec![
            ("CSV".to_owned(), format!("/missoc/compare.csv?{query}")),
            ("XLSX".to_owned(), format!("/missoc/compare.xlsx?{query}")),
            (
                format!("PDF ({})", lang.code()),
                format!("/missoc/editions/{}/publication.pdf?lang={lang}", c.edition),
            ),
        ],
    }
}

/// The compare page: the form with `choice` filled in, and the comparison when there
/// is one.
pub fn compare_page(
    frame: Frame,
    editions: &[EditionRef],
    choice: &CompareChoice,
    errors: Vec<String>,
    comparison: Option<&Comparison>,
    notice: Option<String>,
) -> Result<String, askama::Error> {
    let lang = frame.lang;
    let page = ComparePage {
        notice,
        languages: frame.languages("/missoc/compare", &choice.query()),
        editions: edition_choices(editions, choice.edition, lang),
        countries: MISSOC_COUNTRIES
            .iter()
            .filter_map(|c| c.parse::<CountryCode>().ok())
            .map(|cc| Choice {
                value: cc.to_string(),
                label: country_name(&cc, lang),
                selected: choice.countries.contains(&cc),
            })
            .collect(),
        tables: TableNo::all()
            .map(|t| Choice {
                value: t.roman().to_owned(),
                label: format!("{} – {}", t.roman(), t.title(lang)),
                selected: choice.tables.contains(&t),
            })
            .collect(),
        categories: choice.categories_text(),
        errors,
        result: comparison.map(|c| compare_view(c, choice)),
        frame,
    };
    page.render()
}

// ---- diff ----

pub struct DiffItemView {
    pub id: String,
    pub country: String,
    pub country_name: String,
    pub category: String,
    pub language: &'static str,
    /// `added`, `removed` or `changed` (a CSS class too).
    pub kind: &'static str,
    pub label: &'static str,
    pub before: Option<EntryView>,
    pub after: Option<EntryView>,
}

fn diff_item_view(item: &DiffItem, lang: Language) -> DiffItemView {
    let ui = ui(lang);
    let (kind, label, before, after) = match &item.change {
        EntryChange::Added { after } => ("added", ui.added, None, Some(after.into())),
        EntryChange::Removed { before } => ("removed", ui.removed, Some(before.into()), None),
        EntryChange::Changed { before, after } => (
            "changed",
            ui.changed,
            Some(before.into()),
            Some(after.into()),
        ),
    };
    DiffItemView {
        id: format!("diff-{}-{}-{}", item.country, item.category, item.language),
        country: item.country.to_string(),
        country_name: country_name(&item.country, lang),
        category: item.category.to_string(),
        language: item.language.code(),
        kind,
        label,
        before,
        after,
    }
}

#[derive(Template)]
#[template(path = "missoc/diff.html")]
pub struct DiffPage {
    pub frame: Frame,
    pub languages: Vec<(&'static str, &'static str, String)>,
    pub from: Vec<Choice>,
    pub to: Vec<Choice>,
    pub country: String,
    pub category: String,
    pub errors: Vec<String>,
    /// (heading, items) once two editions were compared.
    pub result: Option<(String, Vec<DiffItemView>)>,
}

/// What the diff form asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffChoice {
    pub from: Option<EditionId>,
    pub to: Option<EditionId>,
    pub country: String,
    pub category: String,
}

impl DiffChoice {
    pub fn query(&self) -> String {
        let mut parts = Vec::new();
        if let Some(e) = self.from {
            parts.push(format!("from={e}"));
        }
        if let Some(e) = self.to {
            parts.push(format!("to={e}"));
        }
        if !self.country.is_empty() {
            parts.push(format!("country={}", query_value(&self.country)));
        }
        if !self.category.is_empty() {
            parts.push(format!("category={}", query_value(&self.category)));
        }
        parts.join("&")
    }
}

pub fn diff_page(
    frame: Frame,
    editions: &[EditionRef],
    choice: &DiffChoice,
    errors: Vec<String>,
    diff: Option<&EditionDiff>,
) -> Result<String, askama::Error> {
    let lang = frame.lang;
    let page = DiffPage {
        languages: frame.languages("/missoc/diff", &choice.query()),
        from: edition_choices(editions, choice.from, lang),
        to: edition_choices(editions, choice.to, lang),
        country: choice.country.clone(),
        category: choice.category.clone(),
        errors,
        result: diff.map(|d| {
            (
                format!(
                    "{} → {}",
                    edition_date(d.from, lang),
                    edition_date(d.to, lang)
                ),
                d.items.iter().map(|i| diff_item_view(i, lang)).collect(),
            )
        }),
        frame,
    };
    page.render()
}

// ---- glossary ----

pub struct TermView {
    pub key: String,
    pub term: Shown,
    /// The term in the other two languages: (code, text).
    pub others: Vec<(&'static str, Shown)>,
    pub definition: Shown,
}

#[derive(Template)]
#[template(path = "missoc/glossary.html")]
pub struct GlossaryPage {
    pub frame: Frame,
    pub languages: Vec<(&'static str, &'static str, String)>,
    pub q: String,
    pub searched: bool,
    pub terms: Vec<TermView>,
}

pub fn glossary_page(
    frame: Frame,
    q: &str,
    terms: Option<&[GlossaryTerm]>,
) -> Result<String, askama::Error> {
    let lang = frame.lang;
    let view = |t: &GlossaryTerm| TermView {
        key: t.key.clone(),
        term: Shown::of(t.term.get(lang), lang, &available(&t.term)),
        others: Language::ALL
            .into_iter()
            .filter(|l| *l != lang)
            .map(|l| (l.code(), Shown::of(t.term.get(l), lang, &[])))
            .collect(),
        definition: Shown::of(t.definition.get(lang), lang, &available(&t.definition)),
    };
    let page = GlossaryPage {
        languages: frame.languages("/missoc/glossary", &format!("q={}", query_value(q))),
        q: q.to_owned(),
        searched: terms.is_some(),
        terms: terms.unwrap_or_default().iter().map(view).collect(),
        frame,
    };
    page.render()
}

fn available(text: &super::model::Localized) -> Vec<Language> {
    Language::ALL
        .into_iter()
        .filter(|l| text.get(*l).is_some())
        .collect()
}

// ---- editions ----

pub struct EditionView {
    pub id: String,
    pub date: String,
    pub state: &'static str,
    pub sample_data: bool,
    pub compare_href: String,
    /// (language code, href)
    pub pdfs: Vec<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "missoc/editions.html")]
pub struct EditionsPage {
    pub frame: Frame,
    pub languages: Vec<(&'static str, &'static str, String)>,
    pub editions: Vec<EditionView>,
}

pub fn editions_page(frame: Frame, editions: &[EditionRef]) -> Result<String, askama::Error> {
    let lang = frame.lang;
    let page = EditionsPage {
        languages: frame.languages("/missoc/editions", ""),
        editions: editions
            .iter()
            .map(|r| (r.id, r))
            .map(|(e, r)| EditionView {
                id: e.to_string(),
                date: edition_date(e, lang),
                state: r.state.as_str(),
                sample_data: r.sample_data,
                compare_href: format!("/missoc/compare?lang={lang}&edition={e}"),
                pdfs: Language::ALL
                    .iter()
                    .map(|l| {
                        (
                            l.code(),
                            format!("/missoc/editions/{e}/publication.pdf?lang={l}"),
                        )
                    })
                    .collect(),
            })
            .collect(),
        frame,
    };
    page.render()
}

// ---- competent institutions ----

pub struct InstitutionView {
    pub id: String,
    pub country: String,
    pub name: String,
    pub bucs: String,
}

#[derive(Template)]
#[template(path = "missoc/institutions.html")]
pub struct InstitutionsPage {
    pub frame: Frame,
    pub languages: Vec<(&'static str, &'static str, String)>,
    pub heading: String,
    pub items: Vec<InstitutionView>,
}

/// The IR institutions competent for `table`'s EESSI sector in `countries` (all when
/// empty).
pub fn institutions_page(
    frame: Frame,
    table: TableNo,
    countries: &[CountryCode],
    items: Vec<InstitutionView>,
) -> Result<String, askama::Error> {
    let lang = frame.lang;
    let list = countries.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    let sector = table
        .sector()
        .map(|s| format!("EESSI {}*", s.buc_prefix()))
        .unwrap_or_default();
    let heading = format!(
        "{} {} – {} – {}: {sector} – {}",
        frame.ui.table,
        table.roman(),
        table.title(lang),
        frame.ui.institutions,
        if list.is_empty() {
            frame.ui.all_countries.to_owned()
        } else {
            list.join(", ")
        }
    );
    let path = format!("/missoc/tables/{}/institutions", table.roman());
    let query = format!("countries={}", query_value(&list.join(",")));
    let page = InstitutionsPage {
        languages: frame.languages(&path, &query),
        heading,
        items,
        frame,
    };
    page.render()
}

// ---- login ----

#[derive(Template)]
#[template(path = "missoc/login.html")]
pub struct LoginPage {
    pub ui: &'static Ui,
    pub lang: Language,
    pub csrf: String,
    pub error: Option<String>,
}

pub fn login_page(
    lang: Language,
    csrf: &str,
    error: Option<String>,
) -> Result<String, askama::Error> {
    LoginPage {
        ui: ui(lang),
        lang,
        csrf: csrf.to_owned(),
        error,
    }
    .render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ComparisonRow, EditionState};

    fn frame(lang: Language) -> Frame {
        Frame::new(lang, "reader <1>", "reader", "csrf-token")
    }

    fn comparison() -> Comparison {
        let text = |t: &str| Cell::Text {
            content: EntryText {
                text: t.to_owned(),
                legal_refs: vec!["Code <civil> & §1".into()],
            },
            changed_in: "2026-01-01".parse().unwrap(),
        };
        Comparison {
            edition: "2026-07-01".parse().unwrap(),
            edition_state: EditionState::Published,
            language: Language::Fr,
            countries: ["AT", "DE"].iter().map(|c| c.parse().unwrap()).collect(),
            rows: vec![
                ComparisonRow {
                    category: "VI-8".parse().unwrap(),
                    title: Some("Âge <légal>".into()),
                    cells: vec![
                        text("65 ans.\n\n- <script>alert(1)</script>\n- deux"),
                        Cell::MissingTranslation {
                            available_in: vec![Language::De],
                        },
                    ],
                },
                ComparisonRow {
                    category: "X-1".parse().unwrap(),
                    title: None,
                    cells: vec![Cell::NoEntry, text("Chômage")],
                },
            ],
        }
    }

    #[test]
    fn compare_page_groups_tables_marks_missing_and_escapes() {
        let c = comparison();
        let choice = CompareChoice {
            edition: Some(c.edition),
            countries: c.countries.clone(),
            tables: vec!["X".parse().unwrap()],
            categories: vec!["VI-8".parse().unwrap(), "X-1".parse().unwrap()],
        };
        let editions = [EditionRef {
            id: c.edition,
            state: EditionState::Published,
            sample_data: false,
        }];
        let html = compare_page(
            frame(Language::Fr),
            &editions,
            &choice,
            vec![],
            Some(&c),
            Some("DONNÉES D'EXEMPLE".into()),
        )
        .unwrap();
        assert!(html.contains("Tableau VI – Vieillesse"));
        assert!(html.contains(r#"<p class="error" id="notice">DONNÉES D&#39;EXEMPLE</p>"#));
        // With a result, the long lists of choices are folded away.
        assert!(html.contains(r#"<details id="choices">"#));
        assert!(html.contains("Tableau X – Chômage"));
        assert!(
            html.contains(r#"href="/missoc/tables/VI/institutions?lang=fr&#38;countries=AT,DE""#),
            "{html}"
        );
        assert!(html.contains("[traduction manquante : disponible en de]"));
        assert!(html.contains(r#"id="cell-VI-8-DE" class="cell missing""#));
        assert!(html.contains(r#"id="cell-X-1-AT" class="cell none">pas d&#39;entrée"#));
        // Everything a correspondent or a user wrote is escaped.
        assert!(!html.contains("<script>"));
        assert!(html.contains("<li>&#60;script&#62;alert(1)&#60;/script&#62;</li><li>deux</li>"));
        assert!(html.contains("Références juridiques : Code &#60;civil&#62; &#38; §1"));
        assert!(html.contains("Âge &#60;légal&#62;"));
        assert!(html.contains("reader &#60;1&#62;"));
        assert!(html.contains(
            r#"href="/missoc/compare.csv?edition=2026-07-01&#38;countries=AT,DE&#38;categories=VI-8,X-1&#38;lang=fr""#
        ), "{html}");
        assert!(html.contains(r#"<option value="2026-07-01" selected>1er juillet 2026</option>"#));
        // Table X is ticked; only VI-8 is left for the text field.
        assert!(html.contains(r#"value="VI-8""#), "{html}");
        assert!(html.contains(r#"<input type="checkbox" name="tables" value="X" checked>"#));
    }

    #[test]
    fn compare_form_without_result_invites_a_choice() {
        let html = compare_page(
            frame(Language::De),
            &[],
            &CompareChoice::default(),
            vec!["Land: \"UK\" <nein>".into()],
            None,
            None,
        )
        .unwrap();
        assert!(html.contains("Wählen Sie Länder"));
        assert!(html.contains(r#"<details id="choices" open>"#));
        assert!(html.contains("Österreich"));
        assert!(html.contains(r#"<p class="error">Land: &#34;UK&#34; &#60;nein&#62;</p>"#));
    }

    #[test]
    fn diff_page_shows_before_and_after() {
        let diff = EditionDiff {
            from: "2026-01-01".parse().unwrap(),
            to: "2026-07-01".parse().unwrap(),
            items: vec![DiffItem {
                country: "AT".parse().unwrap(),
                category: "VI-8".parse().unwrap(),
                language: Language::De,
                change: EntryChange::Changed {
                    before: EntryText {
                        text: "65 Jahre".into(),
                        legal_refs: vec![],
                    },
                    after: EntryText {
                        text: "66 Jahre für Männer".into(),
                        legal_refs: vec![],
                    },
                },
            }],
        };
        let html = diff_page(
            frame(Language::De),
            &[],
            &DiffChoice::default(),
            vec![],
            Some(&diff),
        )
        .unwrap();
        assert!(html.contains(r#"id="diff-AT-VI-8-de""#));
        assert!(html.contains("65 Jahre") && html.contains("66 Jahre für Männer"));
        assert!(html.contains("Vorher") && html.contains("Nachher") && html.contains("geändert"));
    }
}
