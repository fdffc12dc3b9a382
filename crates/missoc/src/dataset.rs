//! The edition file (`sedgate-missoc-edition/1`): UTF-8 JSON Lines, a header first, then
//! categories, glossary terms and entries. Parsing reports every bad line with its number
//! (and column for JSON syntax); a file with any bad line is refused whole. Writing gives
//! the same format in a stable order, so export → import → export is byte-identical.

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::model::{
    missoc_country, Category, CategoryCode, EditionId, EditionState, Entry, EntryText,
    GlossaryTerm, Language, Localized,
};

pub const FORMAT: &str = "sedgate-missoc-edition/1";

/// Stop collecting after this many bad lines.
const MAX_ERRORS: usize = 50;

/// The first line of an edition file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditionHeader {
    pub edition: EditionId,
    pub state: EditionState,
    /// The file holds sample data, not real MISSOC content.
    pub sample_data: bool,
    pub notice: Option<String>,
}

/// A whole edition as moved between installations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditionFile {
    pub header: EditionHeader,
    pub categories: Vec<Category>,
    pub glossary: Vec<GlossaryTerm>,
    pub entries: Vec<Entry>,
}

/// One bad line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, for JSON syntax errors.
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for DatasetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(c) => write!(f, "line {}, column {c}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// Every bad line of a file (at most the first 50).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DatasetErrors(pub Vec<DatasetError>);

impl fmt::Display for DatasetErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        write!(
            f,
            "{} bad line(s), nothing imported:\n  {}",
            self.0.len(),
            lines.join("\n  ")
        )
    }
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct HeaderLine {
    #[serde(rename = "type")]
    kind: String,
    format: String,
    edition: String,
    state: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    sample_data: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    notice: Option<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CategoryLine {
    #[serde(rename = "type")]
    kind: String,
    code: String,
    #[serde(default)]
    title: Localized,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct GlossaryLine {
    #[serde(rename = "type")]
    kind: String,
    key: String,
    #[serde(default)]
    term: Localized,
    #[serde(default)]
    definition: Localized,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct EntryLine {
    #[serde(rename = "type")]
    kind: String,
    country: String,
    category: String,
    language: String,
    text: String,
    #[serde(default)]
    legal_refs: Vec<String>,
    changed_in: String,
}

/// A glossary key: lower-case ASCII letters, digits and `-`, 1 to 64 characters.
pub fn valid_glossary_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

struct Parser {
    header: Option<EditionHeader>,
    categories: Vec<(usize, Category)>,
    glossary: Vec<GlossaryTerm>,
    entries: Vec<(usize, Entry)>,
    seen_categories: HashSet<CategoryCode>,
    seen_keys: HashSet<String>,
    seen_entries: HashSet<(String, CategoryCode, Language)>,
}

/// Parses an edition file. `known_categories` are the categories already stored: an
/// entry's category must be one of them or declared in the file.
pub fn parse(
    text: &str,
    known_categories: &BTreeSet<CategoryCode>,
) -> Result<EditionFile, DatasetErrors> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parser = Parser {
        header: None,
        categories: Vec::new(),
        glossary: Vec::new(),
        entries: Vec::new(),
        seen_categories: HashSet::new(),
        seen_keys: HashSet::new(),
        seen_entries: HashSet::new(),
    };
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        if let Err(e) = parser.line(n, line) {
            errors.push(e);
            if errors.len() >= MAX_ERRORS {
                break;
            }
        }
    }
    if parser.header.is_none() && errors.is_empty() {
        errors.push(DatasetError {
            line: 1,
            column: None,
            message: format!("empty file: the first line must be the header of a {FORMAT} file"),
        });
    }
    // Entries may name a category declared further down the file.
    for (n, entry) in &parser.entries {
        if errors.len() >= MAX_ERRORS {
            break;
        }
        if !parser.seen_categories.contains(&entry.category)
            && !known_categories.contains(&entry.category)
        {
            errors.push(DatasetError {
                line: *n,
                column: None,
                message: format!("unknown category {:?}", entry.category.as_str()),
            });
        }
    }
    errors.sort_by_key(|e| e.line);
    let Some(header) = parser.header.filter(|_| errors.is_empty()) else {
        return Err(DatasetErrors(errors));
    };
    Ok(EditionFile {
        header,
        categories: parser.categories.into_iter().map(|(_, c)| c).collect(),
        glossary: parser.glossary,
        entries: parser.entries.into_iter().map(|(_, e)| e).collect(),
    })
}

impl Parser {
    fn line(&mut self, n: usize, line: &str) -> Result<(), DatasetError> {
        let err = |message: String| DatasetError {
            line: n,
            column: None,
            message,
        };
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| DatasetError {
            line: n,
            column: Some(e.column()),
            message: e
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or("")
                .to_owned(),
        })?;
        let kind = value
            .get("type")
            .and_then(|t| t.as_str())
            .ok_or_else(|| err("no \"type\" (edition, category, glossary or entry)".into()))?
            .to_owned();
        let typed = |e: serde_json::Error| err(format!("{kind}: {e}"));
        if self.header.is_none() && kind != "edition" {
            return Err(err(format!(
                "the first line must be the header {{\"type\":\"edition\",\"format\":\"{FORMAT}\",…}}, not a {kind:?}"
            )));
        }
        match kind.as_str() {
            "edition" => {
                if self.header.is_some() {
                    return Err(err("a second header; a file holds one edition".into()));
                }
                let h: HeaderLine = serde_json::from_value(value).map_err(typed)?;
                if h.format != FORMAT {
                    return Err(err(format!(
                        "format {:?} is not supported (expected {FORMAT:?})",
                        h.format
                    )));
                }
                self.header = Some(EditionHeader {
                    edition: h.edition.parse().map_err(|e| err(format!("{e}")))?,
                    state: h.state.parse().map_err(|e| err(format!("{e}")))?,
                    sample_data: h.sample_data,
                    notice: h.notice,
                });
            }
            "category" => {
                let c: CategoryLine = serde_json::from_value(value).map_err(typed)?;
                let code: CategoryCode = c.code.parse().map_err(|e| err(format!("{e}")))?;
                if !self.seen_categories.insert(code.clone()) {
                    return Err(err(format!("category {:?} declared twice", c.code)));
                }
                self.categories.push((
                    n,
                    Category {
                        code,
                        title: c.title,
                    },
                ));
            }
            "glossary" => {
                let g: GlossaryLine = serde_json::from_value(value).map_err(typed)?;
                if !valid_glossary_key(&g.key) {
                    return Err(err(format!(
                        "glossary key {:?}: use lower-case letters, digits and '-' (at most 64)",
                        g.key
                    )));
                }
                if !self.seen_keys.insert(g.key.clone()) {
                    return Err(err(format!("glossary key {:?} appears twice", g.key)));
                }
                self.glossary.push(GlossaryTerm {
                    key: g.key,
                    term: g.term,
                    definition: g.definition,
                });
            }
            "entry" => {
                let e: EntryLine = serde_json::from_value(value).map_err(typed)?;
                let country = missoc_country(&e.country).map_err(|x| err(format!("{x}")))?;
                let category: CategoryCode = e
                    .category
                    .parse()
                    .map_err(|_| err(format!("unknown category {:?}", e.category)))?;
                let language: Language = e.language.parse().map_err(|x| err(format!("{x}")))?;
                let changed_in: EditionId =
                    e.changed_in.parse().map_err(|x| err(format!("{x}")))?;
                if let Some(h) = &self.header {
                    if changed_in > h.edition {
                        return Err(err(format!(
                            "changed_in {changed_in} is after the file's edition {}",
                            h.edition
                        )));
                    }
                }
                if e.text.trim().is_empty() {
                    return Err(err(
                        "empty text; leave a missing translation out instead".into()
                    ));
                }
                let key = (country.to_string(), category.clone(), language);
                if !self.seen_entries.insert(key) {
                    return Err(err(format!(
                        "a second {country} {category} entry in {language}"
                    )));
                }
                self.entries.push((
                    n,
                    Entry {
                        country,
                        category,
                        language,
                        content: EntryText {
                            text: e.text,
                            legal_refs: e.legal_refs,
                        },
                        changed_in,
                    },
                ));
            }
            other => {
                return Err(err(format!(
                    "unknown type {other:?} (edition, category, glossary or entry)"
                )))
            }
        }
        Ok(())
    }
}

/// Writes an edition file: header, categories in table order, glossary by key, entries by
/// country, category and language. One JSON object per line, `\n` after each.
pub fn write(file: &EditionFile) -> String {
    let mut out = String::new();
    let mut push = |line: Result<String, serde_json::Error>| {
        // Serialising these plain structs cannot fail; an empty line would be refused
        // on import rather than lost silently.
        out.push_str(&line.unwrap_or_default());
        out.push('\n');
    };
    let h = &file.header;
    push(serde_json::to_string(&HeaderLine {
        kind: "edition".into(),
        format: FORMAT.into(),
        edition: h.edition.to_string(),
        state: h.state.to_string(),
        sample_data: h.sample_data,
        notice: h.notice.clone(),
    }));
    let mut categories: Vec<&Category> = file.categories.iter().collect();
    categories.sort_by(|a, b| {
        (a.code.sort_key(), a.code.as_str()).cmp(&(b.code.sort_key(), b.code.as_str()))
    });
    for c in categories {
        push(serde_json::to_string(&CategoryLine {
            kind: "category".into(),
            code: c.code.to_string(),
            title: c.title.clone(),
        }));
    }
    let mut glossary: Vec<&GlossaryTerm> = file.glossary.iter().collect();
    glossary.sort_by(|a, b| a.key.cmp(&b.key));
    for g in glossary {
        push(serde_json::to_string(&GlossaryLine {
            kind: "glossary".into(),
            key: g.key.clone(),
            term: g.term.clone(),
            definition: g.definition.clone(),
        }));
    }
    let mut entries: Vec<&Entry> = file.entries.iter().collect();
    entries.sort_by(|a, b| entry_order(a).cmp(&entry_order(b)));
    for e in entries {
        push(serde_json::to_string(&EntryLine {
            kind: "entry".into(),
            country: e.country.to_string(),
            category: e.category.to_string(),
            language: e.language.to_string(),
            text: e.content.text.clone(),
            legal_refs: e.content.legal_refs.clone(),
            changed_in: e.changed_in.to_string(),
        }));
    }
    out
}

/// Country, then table order of the category, then language (en, fr, de).
pub fn entry_order(e: &Entry) -> (&str, (u8, u32), &str, Language) {
    (
        e.country.as_str(),
        e.category.sort_key(),
        e.category.as_str(),
        e.language,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"type":"edition","format":"sedgate-missoc-edition/1","edition":"2026-01-01","state":"published","sample_data":true,"notice":"Sample data"}
{"type":"category","code":"VI-8","title":{"en":"Pensionable age","fr":"Âge de la retraite"}}
{"type":"glossary","key":"pensionable-age","term":{"en":"pensionable age"},"definition":{"en":"The age at which an old-age pension can be drawn."}}
{"type":"entry","country":"AT","category":"VI-8","language":"en","text":"65 years.","legal_refs":["ASVG §253"],"changed_in":"2025-07-01"}
{"type":"entry","country":"AT","category":"VI-8","language":"de","text":"65 Jahre.","changed_in":"2026-01-01"}
"#;

    fn none() -> BTreeSet<CategoryCode> {
        BTreeSet::new()
    }

    #[test]
    fn accepts_a_good_file_and_writes_it_back_identically() {
        let file = parse(GOOD, &none()).expect("good file");
        assert_eq!(file.header.edition.to_string(), "2026-01-01");
        assert_eq!(file.header.state, EditionState::Published);
        assert!(file.header.sample_data);
        assert_eq!(file.categories.len(), 1);
        assert_eq!(file.categories[0].title.de, None);
        assert_eq!(file.entries.len(), 2);
        assert_eq!(file.entries[0].content.legal_refs, ["ASVG §253"]);
        assert_eq!(file.entries[0].changed_in.to_string(), "2025-07-01");
        let written = write(&file);
        let again = parse(&written, &none()).expect("written file parses");
        assert_eq!(again, file);
        assert_eq!(write(&again), written);
        // Entries come out in table order, en before de.
        assert!(written.find("\"language\":\"en\"") < written.find("\"language\":\"de\""));
    }

    #[test]
    fn refuses_an_unknown_category_with_its_line() {
        let bad = GOOD.replace(
            r#""category":"VI-8","language":"de""#,
            r#""category":"VI-99","language":"de""#,
        );
        let errors = parse(&bad, &none()).unwrap_err();
        assert_eq!(errors.0.len(), 1, "{errors}");
        assert_eq!(
            errors.0[0].to_string(),
            r#"line 5: unknown category "VI-99""#
        );
        // Known to the store: accepted.
        let known = BTreeSet::from(["VI-99".parse().unwrap()]);
        assert!(parse(&bad, &known).is_ok());
    }

    #[test]
    fn reports_json_syntax_with_line_and_column() {
        let bad = GOOD.replace(r#""text":"65 years.","#, r#""text":"65 years." "#);
        let errors = parse(&bad, &none()).unwrap_err();
        let first = &errors.0[0];
        assert_eq!(first.line, 4);
        assert!(first.column.is_some_and(|c| c > 60), "{first}");
        assert!(first.to_string().starts_with("line 4, column "), "{first}");
    }

    #[test]
    fn refuses_every_kind_of_bad_line_and_lists_them_all() {
        let bad = format!(
            "{}{}",
            GOOD,
            [
                r#"{"type":"entry","country":"UK","category":"VI-8","language":"en","text":"x","changed_in":"2026-01-01"}"#,
                r#"{"type":"entry","country":"DE","category":"VI-8","language":"it","text":"x","changed_in":"2026-01-01"}"#,
                r#"{"type":"entry","country":"DE","category":"VI-8","language":"en","text":"x","changed_in":"2026-07-01"}"#,
                r#"{"type":"entry","country":"AT","category":"VI-8","language":"en","text":"again","changed_in":"2026-01-01"}"#,
                r#"{"type":"entry","country":"DE","category":"VI-8","language":"en","text":"x","changed_in":"2026-01-01","extra":1}"#,
                r#"{"type":"category","code":"VI-8"}"#,
                r#"{"type":"thing"}"#,
                r#"{"type":"edition","format":"sedgate-missoc-edition/1","edition":"2026-01-01","state":"open"}"#,
            ]
            .join("\n")
        );
        let errors = parse(&bad, &none()).unwrap_err();
        let lines: Vec<usize> = errors.0.iter().map(|e| e.line).collect();
        assert_eq!(lines, [6, 7, 8, 9, 10, 11, 12, 13], "{errors}");
        let text = errors.to_string();
        for needle in [
            "\"UK\" is not a MISSOC country",
            "\"it\" is not a language",
            "after the file's edition",
            "a second AT VI-8 entry in en",
            "unknown field `extra`",
            "declared twice",
            "unknown type \"thing\"",
            "a second header",
        ] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
    }

    #[test]
    fn the_header_comes_first_and_has_the_right_format() {
        let errors = parse("", &none()).unwrap_err();
        assert!(errors.to_string().contains("empty file"), "{errors}");
        let no_header = GOOD.lines().skip(1).collect::<Vec<_>>().join("\n");
        let errors = parse(&no_header, &none()).unwrap_err();
        assert_eq!(errors.0[0].line, 1);
        assert!(errors.0[0].message.contains("first line"), "{errors}");
        let other = GOOD.replace("edition/1", "edition/2");
        let errors = parse(&other, &none()).unwrap_err();
        assert!(errors.0[0].message.contains("not supported"), "{errors}");
        let bad_date = GOOD.replacen("2026-01-01", "2026-02-01", 1);
        assert!(parse(&bad_date, &none()).is_err());
    }
}
