//! A comparison as CSV and XLSX, and an edition's publication as PDF. Pure: values in,
//! bytes out.
//!
//! A missing translation is written as its marker in the comparison's language
//! (`[missing translation: available in fr, de]`), never as another language's text; a
//! country without an entry gets an empty cell (CSV, XLSX) or "no entry" (PDF).
//! In CSV, a field that a spreadsheet would take for a formula (it starts with `=`, `+`,
//! `-`, `@`, a tab or a carriage return; list items start with `- `) gets a leading `'`,
//! so that opening the file never runs what a correspondent wrote. XLSX cells are written
//! as strings and need no such guard.

use std::borrow::Cow;

use rust_xlsxwriter::{Color, Format, FormatAlign, FormatBorder, Workbook, XlsxError};

use super::labels::{colon, country_name, edition_date, missing_marker, ui};
use super::model::{Cell, Comparison, ComparisonRow, EntryText, Language, Publication};
use sedgate_base::pdf::{text_width, Ink, PageWriter, PdfError, Style, MARGIN, PAGE_W};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("XLSX: {0}")]
    Xlsx(#[from] XlsxError),
    #[error(transparent)]
    Pdf(#[from] PdfError),
}

/// What a spreadsheet cell holds for `cell`: the entry's text followed by its legal
/// references, the missing-translation marker, or nothing.
pub fn cell_text(cell: &Cell, language: Language) -> String {
    match cell {
        Cell::Text { content, .. } => {
            let mut text = content.text.clone();
            if !content.legal_refs.is_empty() {
                text.push_str(&format!(
                    "\n\n{}{} {}",
                    ui(language).legal_references,
                    colon(language),
                    content.legal_refs.join("; ")
                ));
            }
            text
        }
        Cell::MissingTranslation { available_in } => missing_marker(language, available_in),
        Cell::NoEntry => String::new(),
    }
}

/// A row's title, or the marker when the category lacks a title in `language`.
pub fn row_title(row: &ComparisonRow, language: Language) -> Cow<'_, str> {
    match &row.title {
        Some(t) => Cow::Borrowed(t),
        None => Cow::Owned(missing_marker(language, &[])),
    }
}

/// The header row: category code, title, one column per country (its code).
fn header(c: &Comparison) -> Vec<String> {
    let ui = ui(c.language);
    [ui.category.to_owned(), ui.title.to_owned()]
        .into_iter()
        .chain(c.countries.iter().map(|cc| cc.to_string()))
        .collect()
}

/// The data rows, in the comparison's order.
fn body(c: &Comparison) -> impl Iterator<Item = Vec<String>> + '_ {
    c.rows.iter().map(|row| {
        [
            row.category.to_string(),
            row_title(row, c.language).into_owned(),
        ]
        .into_iter()
        .chain(row.cells.iter().map(|cell| cell_text(cell, c.language)))
        .collect()
    })
}

/// Neutralises a field a spreadsheet would evaluate as a formula.
fn formula_safe(field: &str) -> Cow<'_, str> {
    if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{field}"))
    } else {
        Cow::Borrowed(field)
    }
}

/// The comparison as CSV (RFC 4180, UTF-8, a header row).
pub fn comparison_csv(c: &Comparison) -> Result<Vec<u8>, ExportError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header(c))?;
    for record in body(c) {
        w.write_record(record.iter().map(|f| formula_safe(f).into_owned()))?;
    }
    w.into_inner()
        .map_err(|e| ExportError::Csv(e.into_error().into()))
}

/// The comparison as an XLSX workbook of one sheet: a bold, frozen header row, wrapped
/// text aligned to the top, wide country columns, missing translations in dark red.
pub fn comparison_xlsx(c: &Comparison) -> Result<Vec<u8>, ExportError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    // Sheet names are at most 31 characters and cannot hold ':'.
    sheet.set_name(format!("MISSOC {} {}", c.edition, c.language))?;
    let top = Format::new()
        .set_text_wrap()
        .set_align(FormatAlign::Top)
        .set_border(FormatBorder::Thin)
        .set_border_color(Color::RGB(0xDDE2E8));
    let head = top
        .clone()
        .set_bold()
        .set_background_color(Color::RGB(0xEEF1F5));
    let missing = top
        .clone()
        .set_italic()
        .set_font_color(Color::RGB(0xA40000));
    for (col, title) in header(c).iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, title, &head)?;
    }
    for (i, (row, record)) in c.rows.iter().zip(body(c)).enumerate() {
        let r = i as u32 + 1;
        for (col, field) in record.iter().enumerate() {
            let is_missing = match col {
                0 => false,
                1 => row.title.is_none(),
                n => matches!(row.cells.get(n - 2), Some(Cell::MissingTranslation { .. })),
            };
            let format = if is_missing { &missing } else { &top };
            sheet.write_string_with_format(r, col as u16, field, format)?;
        }
    }
    sheet.set_column_width(0, 10)?;
    sheet.set_column_width(1, 32)?;
    for col in 0..c.countries.len() {
        sheet.set_column_width(col as u16 + 2, 48)?;
    }
    sheet.set_freeze_panes(1, 2)?;
    sheet.set_landscape();
    sheet.set_repeat_rows(0, 0)?;
    Ok(book.save_to_buffer()?)
}

// ---- the PDF publication ----

/// Where entry texts start, right of the country column.
const TEXT_X: f32 = MARGIN + 14.0;
const TEXT_W: f32 = PAGE_W - MARGIN - TEXT_X;
const FULL_W: f32 = PAGE_W - 2.0 * MARGIN;
const BODY: Style = Style::regular(9.5);

/// An entry's text as blocks: paragraphs (separated by blank lines) and list items
/// (lines starting with `- `).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Paragraph(String),
    Item(String),
    /// A blank line between paragraphs.
    Gap,
}

/// Splits rich text into blocks; lines of one paragraph are joined with a space.
pub fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut para: Vec<&str> = Vec::new();
    let flush = |para: &mut Vec<&str>, out: &mut Vec<Block>| {
        if !para.is_empty() {
            out.push(Block::Paragraph(para.join(" ")));
            para.clear();
        }
    };
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            flush(&mut para, &mut out);
            if !matches!(out.last(), None | Some(Block::Gap)) {
                out.push(Block::Gap);
            }
        } else if let Some(item) = line.strip_prefix("- ") {
            flush(&mut para, &mut out);
            out.push(Block::Item(item.trim().to_owned()));
        } else {
            para.push(line);
        }
    }
    flush(&mut para, &mut out);
    if matches!(out.last(), Some(Block::Gap)) {
        out.pop();
    }
    out
}

fn write_entry(w: &mut PageWriter, content: &EntryText, language: Language, x: f32, width: f32) {
    for block in blocks(&content.text) {
        match block {
            Block::Paragraph(p) => w.paragraph(&p, BODY, x, width),
            Block::Item(item) => {
                w.ensure_space(BODY.line_height());
                w.text("•", BODY, x + 1.0);
                w.paragraph(&item, BODY, x + 4.0, width - 4.0);
            }
            Block::Gap => w.advance(BODY.line_height() / 2.0),
        }
    }
    if !content.legal_refs.is_empty() {
        let style = Style::regular(8.0).ink(Ink::Muted);
        let refs = format!(
            "{}{} {}",
            ui(language).legal_references,
            colon(language),
            content.legal_refs.join("; ")
        );
        w.advance(1.0);
        w.paragraph(&refs, style, x, width);
    }
}

fn write_cell(w: &mut PageWriter, cell: &Cell, language: Language, x: f32, width: f32) {
    match cell {
        Cell::Text { content, .. } => write_entry(w, content, language, x, width),
        Cell::MissingTranslation { available_in } => w.paragraph(
            &missing_marker(language, available_in),
            BODY.ink(Ink::Missing),
            x,
            width,
        ),
        Cell::NoEntry => w.paragraph(ui(language).no_entry, BODY.ink(Ink::Muted), x, width),
    }
}

/// A section heading at the top of a new page, named in the outline.
fn section(w: &mut PageWriter, heading: &str) {
    w.new_page();
    w.bookmark(heading);
    let style = Style::bold(15.0).ink(Ink::Accent);
    w.paragraph(heading, style, MARGIN, FULL_W);
    w.advance(3.0);
}

/// The heading of table `n`: "Table VI – Old age".
fn table_heading(table: super::model::TableNo, language: Language) -> String {
    format!(
        "{} {} – {}",
        ui(language).table,
        table.roman(),
        table.title(language)
    )
}

/// Writes the whole publication; `contents` holds the first page of each section
/// (organisation overview, then each table) from an earlier pass, for the contents list.
/// Returns the writer and the first page of each section of this pass.
fn write_publication(
    p: &Publication,
    notice: Option<&str>,
    contents: Option<&[usize]>,
) -> Result<(PageWriter, Vec<usize>), ExportError> {
    let lang = p.language;
    let ui = ui(lang);
    let date = edition_date(p.edition, lang);
    let colon = colon(lang);
    let mut w = PageWriter::new(&format!("{} – {date}", ui.publication_title))?;

    // Title page.
    w.advance(30.0);
    w.text("MISSOC", Style::bold(12.0).ink(Ink::Accent), MARGIN);
    w.advance(12.0);
    w.paragraph(ui.publication_title, Style::bold(22.0), MARGIN, FULL_W);
    w.advance(4.0);
    w.paragraph(ui.comparative_tables, Style::regular(14.0), MARGIN, FULL_W);
    w.advance(6.0);
    let facts = Style::regular(11.0);
    w.paragraph(
        &format!("{}{colon} {date}", ui.edition),
        facts,
        MARGIN,
        FULL_W,
    );
    w.paragraph(
        &format!("{}{colon} {}", ui.language, ui.language_name),
        facts,
        MARGIN,
        FULL_W,
    );
    if let Some(notice) = notice {
        w.advance(4.0);
        w.paragraph(notice, Style::bold(11.0).ink(Ink::Missing), MARGIN, FULL_W);
    }
    w.advance(12.0);
    w.text(ui.contents, Style::bold(12.0), MARGIN);
    w.advance(7.0);
    let mut headings = vec![ui.organisation.to_owned()];
    headings.extend(p.tables.iter().map(|(t, _)| table_heading(*t, lang)));
    let entry = Style::regular(10.0);
    for (i, heading) in headings.iter().enumerate() {
        w.text(heading, entry, MARGIN + 4.0);
        if let Some(page) = contents.and_then(|c| c.get(i)) {
            let n = page.to_string();
            w.text(&n, entry, PAGE_W - MARGIN - text_width(&n, entry));
        }
        w.advance(entry.line_height() + 0.5);
    }
    w.set_footer(format!(
        "MISSOC – {date} – {}",
        lang.code().to_ascii_uppercase()
    ));
    let mut starts = Vec::new();

    // Organisation of social protection, country by country.
    section(&mut w, ui.organisation);
    starts.push(w.pages());
    for (country, cell) in &p.overviews {
        w.ensure_space(8.0 + 3.0 * BODY.line_height());
        let heading = format!("{} ({country})", country_name(country, lang));
        w.text(&heading, Style::bold(12.0), MARGIN);
        w.advance(6.5);
        write_cell(&mut w, cell, lang, MARGIN, FULL_W);
        w.advance(5.0);
    }

    // The comparative tables: each category across the countries.
    for (table, comparison) in &p.tables {
        section(&mut w, &table_heading(*table, lang));
        starts.push(w.pages());
        if comparison.rows.is_empty() {
            w.paragraph(ui.no_entry, BODY.ink(Ink::Muted), MARGIN, FULL_W);
        }
        for row in &comparison.rows {
            w.ensure_space(7.0 + 3.0 * BODY.line_height());
            let heading_style = Style::bold(11.0).ink(Ink::Accent);
            w.text(row.category.as_str(), heading_style, MARGIN);
            let title_style = Style::bold(11.0).missing_if(row.title.is_none());
            let title = row_title(row, lang);
            w.paragraph(&title, title_style, TEXT_X, TEXT_W);
            w.advance(1.5);
            for (i, (country, cell)) in comparison.countries.iter().zip(&row.cells).enumerate() {
                w.ensure_space(2.0 * BODY.line_height());
                if i > 0 {
                    w.rule(MARGIN, PAGE_W - MARGIN);
                }
                w.text(country.as_ref(), Style::bold(9.5), MARGIN);
                write_cell(&mut w, cell, lang, TEXT_X, TEXT_W);
                w.advance(1.5);
            }
            w.advance(5.0);
        }
    }
    Ok((w, starts))
}

/// The PDF publication of an edition in one language: a title page with the contents
/// (and `notice`, e.g. that the edition is sample data), the organisation of social
/// protection per country, then tables I–XII with each category across the countries.
/// Long texts wrap and continue on the next page.
pub fn publication_pdf(p: &Publication, notice: Option<&str>) -> Result<Vec<u8>, ExportError> {
    // The first pass finds where each section starts, the second prints the contents.
    let (_, starts) = write_publication(p, notice, None)?;
    let (w, _) = write_publication(p, notice, Some(&starts))?;
    Ok(w.finish()?)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::Cursor;

    use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};

    use super::*;
    use crate::model::{ComparisonRow, EditionState, TableNo};

    fn text(t: &str, refs: &[&str]) -> Cell {
        Cell::Text {
            content: EntryText {
                text: t.to_owned(),
                legal_refs: refs.iter().map(|r| (*r).to_owned()).collect(),
            },
            changed_in: "2026-01-01".parse().unwrap(),
        }
    }

    /// AT, DE, FR × VI-8, VI-9 in French: AT's VI-9 lacks French, DE has no VI-9.
    fn comparison() -> Comparison {
        Comparison {
            edition: "2026-07-01".parse().unwrap(),
            edition_state: EditionState::Published,
            language: Language::Fr,
            countries: ["AT", "DE", "FR"]
                .iter()
                .map(|c| c.parse().unwrap())
                .collect(),
            rows: vec![
                ComparisonRow {
                    category: "VI-8".parse().unwrap(),
                    title: Some("Âge de la retraite".into()),
                    cells: vec![
                        text("65 ans «âge légal».", &["ASVG, §253"]),
                        text("67 ans; Übergangsregelung für Jahrgänge vor 1964.", &[]),
                        text("- 64 ans\n- 62 ans pour carrières longues", &[]),
                    ],
                },
                ComparisonRow {
                    category: "VI-9".parse().unwrap(),
                    title: None,
                    cells: vec![
                        Cell::MissingTranslation {
                            available_in: vec![Language::En, Language::De],
                        },
                        Cell::NoEntry,
                        text("=HYPERLINK(\"http://example.invalid\")", &[]),
                    ],
                },
            ],
        }
    }

    #[test]
    fn csv_reads_back_with_markers_and_guards() {
        let bytes = comparison_csv(&comparison()).unwrap();
        let mut r = csv::Reader::from_reader(bytes.as_slice());
        let head: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(head, ["Catégorie", "Intitulé", "AT", "DE", "FR"]);
        let rows: Vec<Vec<String>> = r
            .records()
            .map(|rec| rec.unwrap().iter().map(String::from).collect())
            .collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][0], "VI-8");
        assert_eq!(rows[0][1], "Âge de la retraite");
        assert_eq!(
            rows[0][2],
            "65 ans «âge légal».\n\nRéférences juridiques : ASVG, §253"
        );
        assert_eq!(
            rows[0][3],
            "67 ans; Übergangsregelung für Jahrgänge vor 1964."
        );
        // A list item would start a formula in a spreadsheet.
        assert_eq!(rows[0][4], "'- 64 ans\n- 62 ans pour carrières longues");
        assert_eq!(rows[1][1], "[traduction manquante]");
        assert_eq!(rows[1][2], "[traduction manquante : disponible en en, de]");
        assert_eq!(rows[1][3], "");
        assert!(rows[1][4].starts_with("'=HYPERLINK"));
        // Never another language's text in place of the missing one.
        assert!(!String::from_utf8(bytes).unwrap().contains("Pensionable"));
    }

    #[test]
    fn xlsx_opens_back_with_the_same_cells() {
        let c = comparison();
        let bytes = comparison_xlsx(&c).unwrap();
        let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.clone())).unwrap();
        assert_eq!(book.sheet_names(), ["MISSOC 2026-07-01 fr"]);
        let range = book.worksheet_range("MISSOC 2026-07-01 fr").unwrap();
        assert_eq!(range.get_size(), (3, 5));
        let s = |r: u32, col: u32| match range.get_value((r, col)) {
            Some(Data::String(s)) => s.clone(),
            Some(Data::Empty) | None => String::new(),
            Some(other) => panic!("({r},{col}) is {other:?}"),
        };
        assert_eq!(s(0, 0), "Catégorie");
        assert_eq!(s(0, 4), "FR");
        assert_eq!(s(1, 3), "67 ans; Übergangsregelung für Jahrgänge vor 1964.");
        // Written as a string, not a formula, without the CSV guard.
        assert_eq!(s(1, 4), "- 64 ans\n- 62 ans pour carrières longues");
        assert_eq!(s(2, 4), "=HYPERLINK(\"http://example.invalid\")");
        assert_eq!(s(2, 2), "[traduction manquante : disponible en en, de]");
        assert_eq!(s(2, 3), "");
        // Frozen header row (and code/title columns), bold header, wrapped text.
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let part = |zip: &mut zip::ZipArchive<Cursor<Vec<u8>>>, name: &str| {
            let mut xml = String::new();
            std::io::Read::read_to_string(&mut zip.by_name(name).unwrap(), &mut xml).unwrap();
            xml
        };
        let sheet = part(&mut zip, "xl/worksheets/sheet1.xml");
        assert!(sheet.contains(r#"state="frozen""#), "{sheet}");
        assert!(sheet.contains(r#"ySplit="1""#), "{sheet}");
        assert!(
            sheet.contains(r#"<col min="3" max="5" width="48"#),
            "{sheet}"
        );
        let styles = part(&mut zip, "xl/styles.xml");
        assert!(styles.contains("<b/>") && styles.contains(r#"wrapText="1""#));
    }

    #[test]
    fn splits_rich_text_into_paragraphs_and_items() {
        let b = blocks("First line\ncontinued.\n\n- one\n- two\n\n\nLast.");
        assert_eq!(
            b,
            [
                Block::Paragraph("First line continued.".into()),
                Block::Gap,
                Block::Item("one".into()),
                Block::Item("two".into()),
                Block::Gap,
                Block::Paragraph("Last.".into()),
            ]
        );
    }

    #[test]
    fn publication_is_a_pdf_with_a_page_per_section_and_more_for_long_texts() {
        let c = comparison();
        let long = "Die Regelaltersgrenze wird schrittweise angehoben. ".repeat(400);
        let mut overviews = BTreeMap::new();
        overviews.insert("AT".parse().unwrap(), text(&long, &[]));
        overviews.insert("DE".parse().unwrap(), Cell::NoEntry);
        let p = Publication {
            edition: c.edition,
            language: Language::De,
            overviews,
            tables: vec![(TableNo::all().nth(5).unwrap(), c)],
        };
        let pdf = publication_pdf(&p, None).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        // Title page, then the overview, long enough to break across pages.
        let (w, starts) = write_publication(&p, None, None).unwrap();
        assert_eq!(starts[0], 2, "the overview starts on page 2");
        assert!(
            starts[1] >= 4,
            "a long overview breaks across pages: {starts:?}"
        );
        assert_eq!(w.pages(), starts[1], "table VI fits on its page");
    }
}
