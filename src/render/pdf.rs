//! The PDF of a rendered SED: A4 pages of label/value lines in the PDF standard font
//! Helvetica (no font files to ship). Standard fonts use WinAnsiEncoding, which covers the
//! Latin-1 languages (English, French, German, Norwegian); characters outside it print as
//! `?`. Languages beyond Latin-1 need an embedded font (`printpdf` can embed a TTF).

use printpdf::{BuiltinFont, Color, IndirectFontRef, Mm, PdfDocument, PdfLayerReference, Rgb};

use super::{RenderError, Rendered, Shown};

const PAGE_W: f32 = 210.0;
const PAGE_H: f32 = 297.0;
const MARGIN: f32 = 15.0;
const LINE: f32 = 5.0;
const VALUE_X: f32 = 95.0;
/// Characters per line at 10 pt Helvetica, by column width (a conservative average).
const CHARS_PER_MM: f32 = 0.5;

struct Writer {
    doc: printpdf::PdfDocumentReference,
    layer: PdfLayerReference,
    regular: IndirectFontRef,
    bold: IndirectFontRef,
    y: f32,
    title: String,
}

impl Writer {
    fn next_line(&mut self) {
        self.y -= LINE;
        if self.y < MARGIN {
            let (page, layer) = self.doc.add_page(Mm(PAGE_W), Mm(PAGE_H), &self.title);
            self.layer = self.doc.get_page(page).get_layer(layer);
            self.y = PAGE_H - MARGIN;
        }
    }

    fn text(&self, text: &str, size: f32, x: f32, bold: bool, missing: bool) {
        let color = if missing {
            Rgb::new(0.7, 0.0, 0.0, None)
        } else {
            Rgb::new(0.1, 0.1, 0.1, None)
        };
        self.layer.set_fill_color(Color::Rgb(color));
        let font = if bold { &self.bold } else { &self.regular };
        self.layer.use_text(text, size, Mm(x), Mm(self.y), font);
    }
}

/// Splits `text` into lines of at most `width` characters, at spaces where possible.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word = word.to_owned();
        while word.chars().count() > width {
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            lines.push(head);
        }
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// How a label or value reads on paper: missing ones carry a visible marker.
fn shown(s: &Shown, missing_label: &str) -> String {
    if s.missing {
        format!("[{missing_label}: {}]", s.text)
    } else {
        s.text.clone()
    }
}

pub fn to_pdf(r: &Rendered) -> Result<Vec<u8>, RenderError> {
    let title = format!("{} {}", r.sed_type, r.sed_title.text);
    let (doc, page, layer) = PdfDocument::new(&title, Mm(PAGE_W), Mm(PAGE_H), "SED");
    let font_error = |e: printpdf::Error| RenderError::Pdf(e.to_string());
    let regular = doc
        .add_builtin_font(BuiltinFont::Helvetica)
        .map_err(font_error)?;
    let bold = doc
        .add_builtin_font(BuiltinFont::HelveticaBold)
        .map_err(font_error)?;
    let layer = doc.get_page(page).get_layer(layer);
    let mut w = Writer {
        doc,
        layer,
        regular,
        bold,
        y: PAGE_H - MARGIN,
        title: title.clone(),
    };
    let missing = r.missing_label.text.as_str();
    w.text(
        &format!("{} - {}", r.sed_type, shown(&r.sed_title, missing)),
        16.0,
        MARGIN,
        true,
        r.sed_title.missing,
    );
    w.next_line();
    w.next_line();
    w.text(
        &format!("{} - {}", r.buc, shown(&r.buc_title, missing)),
        11.0,
        MARGIN,
        false,
        r.buc_title.missing,
    );
    w.next_line();
    w.next_line();
    for (label, value) in &r.facts {
        w.text(&shown(label, missing), 9.0, MARGIN, true, label.missing);
        w.text(value, 9.0, VALUE_X - 40.0, false, false);
        w.next_line();
    }
    w.next_line();
    let value_width = ((PAGE_W - MARGIN - VALUE_X) * CHARS_PER_MM) as usize;
    for row in &r.rows {
        let x = MARGIN + 4.0 * row.depth as f32;
        let label_width = ((VALUE_X - x - 2.0) * CHARS_PER_MM) as usize;
        let label_lines = wrap(&shown(&row.label, missing), label_width);
        let value_lines = match &row.value {
            Some(v) => {
                let mut text = shown(v, missing);
                if let (Some(code), false) = (&row.code, v.missing) {
                    text.push_str(&format!(" ({code})"));
                }
                wrap(&text, value_width)
            }
            None => Vec::new(),
        };
        let value_missing = row.value.as_ref().is_some_and(|v| v.missing);
        for i in 0..label_lines.len().max(value_lines.len()) {
            if let Some(l) = label_lines.get(i) {
                w.text(l, 10.0, x, row.value.is_none(), row.label.missing);
            }
            if let Some(v) = value_lines.get(i) {
                w.text(v, 10.0, VALUE_X, false, value_missing);
            }
            w.next_line();
        }
    }
    if r.missing_count > 0 {
        w.next_line();
        w.text(
            &format!(
                "[{missing}] {} ({})",
                r.missing_legend.text, r.missing_count
            ),
            8.0,
            MARGIN,
            false,
            true,
        );
    }
    w.doc
        .save_to_bytes()
        .map_err(|e| RenderError::Pdf(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("one two three", 8), ["one two", "three"]);
        assert_eq!(wrap("abcdefghijkl", 8), ["abcdefgh", "ijkl"]);
        assert_eq!(wrap("", 8), [""]);
    }
}
