//! The PDF of a rendered SED: A4 pages of label/value lines, written with the shared page
//! writer (`super::page`: Helvetica, Latin-1).

use super::{RenderError, Rendered, Shown};
use sedgate_base::pdf::{wrap, PageWriter, Style, MARGIN, PAGE_W};

const VALUE_X: f32 = 95.0;
/// Characters per line at 10 pt Helvetica, by column width (a conservative average).
const CHARS_PER_MM: f32 = 0.5;

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
    let mut w = PageWriter::new(&title).map_err(|e| RenderError::Pdf(e.to_string()))?;
    let missing = r.missing_label.text.as_str();
    w.text(
        &format!("{} - {}", r.sed_type, shown(&r.sed_title, missing)),
        Style::bold(16.0).missing_if(r.sed_title.missing),
        MARGIN,
    );
    w.next_line();
    w.next_line();
    w.text(
        &format!("{} - {}", r.buc, shown(&r.buc_title, missing)),
        Style::regular(11.0).missing_if(r.buc_title.missing),
        MARGIN,
    );
    w.next_line();
    w.next_line();
    for (label, value) in &r.facts {
        w.text(
            &shown(label, missing),
            Style::bold(9.0).missing_if(label.missing),
            MARGIN,
        );
        w.text(value, Style::regular(9.0), VALUE_X - 40.0);
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
                let style = if row.value.is_none() {
                    Style::bold(10.0)
                } else {
                    Style::regular(10.0)
                };
                w.text(l, style.missing_if(row.label.missing), x);
            }
            if let Some(v) = value_lines.get(i) {
                w.text(v, Style::regular(10.0).missing_if(value_missing), VALUE_X);
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
            Style::regular(8.0).missing_if(true),
            MARGIN,
        );
    }
    w.finish().map_err(|e| RenderError::Pdf(e.to_string()))
}
