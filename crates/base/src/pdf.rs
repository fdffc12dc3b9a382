//! A4 pages of text over `printpdf` in the PDF standard fonts Helvetica and
//! Helvetica-Bold (no font files to ship), shared by the SED PDF and the MISSOC
//! publication: a cursor that moves down the page and starts a new page when the next
//! line does not fit, text widths from the fonts' metrics, and word wrapping.
//!
//! Standard fonts use WinAnsiEncoding, which covers the Latin-1 languages (English, French,
//! German, Norwegian, with « », ß, œ, €); characters outside it print as `?`. Languages
//! beyond Latin-1 need an embedded font (`printpdf` can embed a TTF).

use printpdf::{
    BuiltinFont, Color, IndirectFontRef, Line, Mm, PdfDocument, PdfDocumentReference,
    PdfLayerReference, PdfPageIndex, Point, Rgb,
};

pub const PAGE_W: f32 = 210.0;
pub const PAGE_H: f32 = 297.0;
pub const MARGIN: f32 = 15.0;
/// Height of a line of 10 pt text.
pub const LINE: f32 = 5.0;

const MM_PER_PT: f32 = 25.4 / 72.0;

/// How a piece of text is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    pub size: f32,
    pub bold: bool,
    pub color: Ink,
}

/// The few colours the documents use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ink {
    Text,
    /// Headings.
    Accent,
    /// Secondary information (legal references, page footers).
    Muted,
    /// Something missing (a label or a translation): dark red.
    Missing,
}

impl Ink {
    fn rgb(self) -> Rgb {
        match self {
            Ink::Text => Rgb::new(0.1, 0.1, 0.1, None),
            Ink::Accent => Rgb::new(0.11, 0.31, 0.54, None),
            Ink::Muted => Rgb::new(0.36, 0.4, 0.45, None),
            Ink::Missing => Rgb::new(0.7, 0.0, 0.0, None),
        }
    }
}

impl Style {
    pub const fn regular(size: f32) -> Style {
        Style {
            size,
            bold: false,
            color: Ink::Text,
        }
    }

    pub const fn bold(size: f32) -> Style {
        Style {
            size,
            bold: true,
            color: Ink::Text,
        }
    }

    pub const fn ink(self, color: Ink) -> Style {
        Style { color, ..self }
    }

    /// Ink::Missing when `missing`, else unchanged.
    pub const fn missing_if(self, missing: bool) -> Style {
        if missing {
            self.ink(Ink::Missing)
        } else {
            self
        }
    }

    /// A comfortable line height for this size (5 mm at 10 pt).
    pub fn line_height(self) -> f32 {
        self.size * 0.5
    }
}

/// Advance widths of Helvetica and Helvetica-Bold for the printable ASCII characters
/// (32..=126), in 1/1000 em, from the fonts' AFM files.
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // ' '../
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0..?
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @..O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P.._
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // `..o
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p..~
];
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, //
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, //
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, //
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, //
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, //
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
];

/// The advance width of one character in 1/1000 em. Accented letters are as wide as
/// their base letter in these fonts; other characters get a wide letter's width, so
/// that an estimate errs on the safe side.
fn char_width(c: char, bold: bool) -> u16 {
    let table = if bold { &HELVETICA_BOLD } else { &HELVETICA };
    let base = match c {
        'à'..='å' => 'a',
        'À'..='Å' => 'A',
        'ç' => 'c',
        'Ç' => 'C',
        'è'..='ë' => 'e',
        'È'..='Ë' => 'E',
        'ì'..='ï' => 'i',
        'Ì'..='Ï' => 'I',
        'ñ' => 'n',
        'Ñ' => 'N',
        'ò'..='ö' | 'ø' => 'o',
        'Ò'..='Ö' | 'Ø' => 'O',
        'ù'..='ü' => 'u',
        'Ù'..='Ü' => 'U',
        'ý' | 'ÿ' => 'y',
        'Ý' => 'Y',
        '\u{a0}' => ' ',
        '–' | '«' | '»' | '€' | '•' | '‘' | '’' | '“' | '”' | '„' => '0',
        '—' | 'Æ' | 'Œ' | 'œ' | 'æ' => 'W',
        'ß' => 'b',
        other => other,
    };
    match u32::from(base) {
        code @ 32..=126 => table[(code - 32) as usize],
        _ => 944,
    }
}

/// The width of `text` in millimetres at `style`.
pub fn text_width(text: &str, style: Style) -> f32 {
    let units: u32 = text
        .chars()
        .map(|c| u32::from(char_width(c, style.bold)))
        .sum();
    units as f32 / 1000.0 * style.size * MM_PER_PT
}

/// Splits `text` into lines for which `fits` holds, at spaces where possible; a word
/// that does not fit on a line of its own is cut.
pub fn wrap_by(text: &str, fits: impl Fn(&str) -> bool) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if fits(&candidate) {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        // The word alone, cut where it stops fitting (always at least one character).
        let mut rest: Vec<char> = word.chars().collect();
        while !rest.is_empty() {
            let mut n = rest.len();
            while n > 1 && !fits(&rest[..n].iter().collect::<String>()) {
                n -= 1;
            }
            let piece: String = rest.drain(..n).collect();
            if rest.is_empty() {
                line = piece;
            } else {
                lines.push(piece);
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Splits `text` into lines of at most `width` characters (at least 8).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    wrap_by(text, |s| s.chars().count() <= width)
}

/// Splits `text` into lines no wider than `width` millimetres at `style`.
pub fn wrap_mm(text: &str, width: f32, style: Style) -> Vec<String> {
    wrap_by(text, |s| text_width(s, style) <= width)
}

#[derive(Debug, thiserror::Error)]
#[error("PDF: {0}")]
pub struct PdfError(String);

impl From<printpdf::Error> for PdfError {
    fn from(e: printpdf::Error) -> Self {
        PdfError(e.to_string())
    }
}

/// A document being written top to bottom, one A4 page after the other.
pub struct PageWriter {
    doc: PdfDocumentReference,
    layer: PdfLayerReference,
    page: PdfPageIndex,
    pages: usize,
    regular: IndirectFontRef,
    bold: IndirectFontRef,
    /// The baseline of the next line, in mm from the bottom of the page.
    y: f32,
    /// Printed at the foot of every page, followed by the page number.
    footer: Option<String>,
}

impl PageWriter {
    pub fn new(title: &str) -> Result<PageWriter, PdfError> {
        let (doc, page, layer) = PdfDocument::new(title, Mm(PAGE_W), Mm(PAGE_H), "text");
        let regular = doc.add_builtin_font(BuiltinFont::Helvetica)?;
        let bold = doc.add_builtin_font(BuiltinFont::HelveticaBold)?;
        let layer = doc.get_page(page).get_layer(layer);
        Ok(PageWriter {
            doc,
            layer,
            page,
            pages: 1,
            regular,
            bold,
            y: PAGE_H - MARGIN,
            footer: None,
        })
    }

    /// From the next page on, every page ends with `footer` and its number.
    pub fn set_footer(&mut self, footer: String) {
        self.footer = Some(footer);
    }

    /// The number of pages so far.
    pub fn pages(&self) -> usize {
        self.pages
    }

    /// Millimetres left above the bottom margin.
    pub fn space_left(&self) -> f32 {
        self.y - MARGIN
    }

    /// Starts a new page; the cursor goes to its top.
    pub fn new_page(&mut self) {
        let (page, layer) = self.doc.add_page(Mm(PAGE_W), Mm(PAGE_H), "text");
        self.layer = self.doc.get_page(page).get_layer(layer);
        self.page = page;
        self.pages += 1;
        self.y = PAGE_H - MARGIN;
        if let Some(footer) = &self.footer {
            let text = format!("{footer} · {}", self.pages);
            let style = Style::regular(8.0).ink(Ink::Muted);
            self.draw(&text, style, MARGIN, MARGIN - 7.0);
        }
    }

    /// Starts a new page unless `height` millimetres still fit on this one.
    pub fn ensure_space(&mut self, height: f32) {
        if self.space_left() < height {
            self.new_page();
        }
    }

    /// Moves the cursor down by `height`, to a new page when it would leave the page.
    pub fn advance(&mut self, height: f32) {
        self.y -= height;
        if self.y < MARGIN {
            self.new_page();
        }
    }

    /// Moves down one 10 pt line.
    pub fn next_line(&mut self) {
        self.advance(LINE);
    }

    /// Names the current page in the document outline.
    pub fn bookmark(&self, name: &str) {
        self.doc.add_bookmark(name, self.page);
    }

    fn draw(&self, text: &str, style: Style, x: f32, y: f32) {
        self.layer.set_fill_color(Color::Rgb(style.color.rgb()));
        let font = if style.bold {
            &self.bold
        } else {
            &self.regular
        };
        self.layer.use_text(text, style.size, Mm(x), Mm(y), font);
    }

    /// Writes `text` on the current line at `x` (the cursor does not move).
    pub fn text(&self, text: &str, style: Style, x: f32) {
        self.draw(text, style, x, self.y);
    }

    /// A horizontal rule from `x1` to `x2`, a little above the current line.
    pub fn rule(&self, x1: f32, x2: f32) {
        let y = self.y + LINE * 0.75;
        self.layer
            .set_outline_color(Color::Rgb(Rgb::new(0.8, 0.83, 0.87, None)));
        self.layer.set_outline_thickness(0.5);
        self.layer.add_line(Line {
            points: vec![
                (Point::new(Mm(x1), Mm(y)), false),
                (Point::new(Mm(x2), Mm(y)), false),
            ],
            is_closed: false,
        });
    }

    /// Writes `text` wrapped to `width` mm from `x`, one line after the other, breaking
    /// across pages; the cursor ends below the last line.
    pub fn paragraph(&mut self, text: &str, style: Style, x: f32, width: f32) {
        for line in wrap_mm(text, width, style) {
            self.ensure_space(style.line_height());
            self.text(&line, style, x);
            self.advance(style.line_height());
        }
    }

    pub fn finish(self) -> Result<Vec<u8>, PdfError> {
        Ok(self.doc.save_to_bytes()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("one two three", 8), ["one two", "three"]);
        assert_eq!(wrap("abcdefghijkl", 8), ["abcdefgh", "ijkl"]);
        assert_eq!(wrap("ab abcdefghijkl", 8), ["ab", "abcdefgh", "ijkl"]);
        assert_eq!(wrap("", 8), [""]);
    }

    #[test]
    fn measures_helvetica() {
        // "Hello" in Helvetica: 722 + 556 + 222 + 222 + 556 = 2278 units.
        let w = text_width("Hello", Style::regular(10.0));
        assert!((w - 2.278 * 10.0 * MM_PER_PT).abs() < 0.001, "{w}");
        assert!(text_width("Hello", Style::bold(10.0)) > w);
        assert_eq!(
            text_width("Übersetzung", Style::regular(10.0)),
            text_width("Ubersetzung", Style::regular(10.0))
        );
    }

    #[test]
    fn wrapped_lines_fit_their_width() {
        let style = Style::regular(9.0);
        let text = "Die Regelaltersgrenze liegt bei 65 Jahren für Männer und Frauen; \
                    l'âge légal de départ à la retraite est fixé à 64 ans.";
        let lines = wrap_mm(text, 40.0, style);
        assert!(lines.len() > 2);
        for line in &lines {
            assert!(text_width(line, style) <= 40.0, "{line}");
        }
        assert_eq!(lines.join(" "), text);
    }
}
