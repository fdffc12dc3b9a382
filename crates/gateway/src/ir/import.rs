//! Parsers for IR import files: bytes in, institution upserts and access points out.
//!
//! A file either parses as a whole (possibly with some rows rejected, each with its 1-based
//! line and a precise reason) or fails with an [`ImportError`] when the file itself is unusable
//! (not UTF-8, empty, malformed JSON, no row of the expected shape). Nothing here does I/O.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::ir::model::{AccessPoint, Competence, InstitutionUpsert};
use sedgate_base::domain::{BucRole, BucType, CountryCode, InstitutionId, EESSI_COUNTRIES};

/// The import formats sedgate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportFormat {
    /// The EESSI `Organisations.csv`: no header, `id;country;acronym;activationDate`.
    OrganisationsCsv,
    /// An IR JSON extract as NAV's services keep it: `[{id, navn, akronym, landkode,
    /// tilegnetBucs[{bucType, institusjonsrolle, gyldigStartDato, eessiklar}]}]`.
    IrJson,
    /// sedgate's access points as JSON: `[{country, endpoint_url, cert_fingerprints[]}]`.
    AccessPointsJson,
    /// sedgate's access points as CSV: header `country;endpoint_url;cert_fingerprints`,
    /// fingerprints separated by `|`.
    AccessPointsCsv,
}

impl ImportFormat {
    pub const ALL: [ImportFormat; 4] = [
        Self::OrganisationsCsv,
        Self::IrJson,
        Self::AccessPointsJson,
        Self::AccessPointsCsv,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrganisationsCsv => "organisations-csv",
            Self::IrJson => "ir-json",
            Self::AccessPointsJson => "access-points-json",
            Self::AccessPointsCsv => "access-points-csv",
        }
    }

    /// Guesses the format from the file name and the first bytes (a few KiB are enough).
    /// Content decides where it can; the name only breaks ties (e.g. an empty JSON array).
    pub fn detect(path_name: &str, first_bytes: &[u8]) -> Option<Self> {
        let head = strip_bom(first_bytes);
        let head = String::from_utf8_lossy(&head[..head.len().min(8192)]);
        let name = path_name.to_ascii_lowercase();
        let name_says_access_points = name.contains("access");
        let trimmed = head.trim_start();
        if trimmed.starts_with('[') {
            if head.contains("\"endpoint_url\"") {
                return Some(Self::AccessPointsJson);
            }
            if ["\"tilegnetBucs\"", "\"landkode\"", "\"navn\""]
                .iter()
                .any(|key| head.contains(key))
            {
                return Some(Self::IrJson);
            }
            if name_says_access_points {
                return Some(Self::AccessPointsJson);
            }
            return name.ends_with(".json").then_some(Self::IrJson);
        }
        let first_line = trimmed.lines().next().unwrap_or_default().trim();
        if first_line
            .to_ascii_lowercase()
            .starts_with(ACCESS_POINTS_CSV_HEADER)
        {
            return Some(Self::AccessPointsCsv);
        }
        let fields: Vec<&str> = first_line.split(';').collect();
        if fields.len() == ORGANISATIONS_COLUMNS && fields[0].contains(':') {
            return Some(Self::OrganisationsCsv);
        }
        None
    }
}

impl fmt::Display for ImportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ImportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|format| format.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|f| f.as_str()).collect();
                format!("unknown import format {s:?} (one of {})", known.join(", "))
            })
    }
}

/// What one file yields. Lines are 1-based; for JSON they are the line on which the array
/// element starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedImport {
    pub institutions: Vec<(u64, InstitutionUpsert)>,
    pub access_points: Vec<(u64, AccessPoint)>,
    pub rejected: Vec<RowError>,
}

/// A rejected row: the rest of the file still imports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// The file as a whole cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is not UTF-8 (first invalid byte at line {line}, column {column})")]
    NotUtf8 { line: u64, column: u64 },
    #[error("malformed JSON at line {line}, column {column}: {message}")]
    MalformedJson {
        line: u64,
        column: u64,
        message: String,
    },
    #[error("expected a JSON array at the top level (line {line}, column {column})")]
    NotAnArray { line: u64, column: u64 },
    #[error("malformed CSV at line {line}: {message}")]
    MalformedCsv { line: u64, message: String },
    #[error("line 1: the header must be `{expected}`, found `{found}`")]
    BadHeader {
        expected: &'static str,
        found: String,
    },
    #[error("no row has the {expected} `;`-separated fields of {format} (line {line} has {found}); is this the right format?")]
    WrongColumnCount {
        format: ImportFormat,
        expected: usize,
        found: usize,
        line: u64,
    },
}

/// Parses a whole file in the given format.
pub fn parse(bytes: &[u8], format: ImportFormat) -> Result<ParsedImport, ImportError> {
    let text = decode(bytes)?;
    match format {
        ImportFormat::OrganisationsCsv => parse_organisations_csv(text),
        ImportFormat::IrJson => parse_json_array(text, parse_ir_json_element),
        ImportFormat::AccessPointsJson => parse_json_array(text, parse_access_point_json_element),
        ImportFormat::AccessPointsCsv => parse_access_points_csv(text),
    }
}

const ORGANISATIONS_COLUMNS: usize = 4;
const ACCESS_POINTS_CSV_HEADER: &str = "country;endpoint_url;cert_fingerprints";
/// `Organisations.csv` writes activation dates as `dd/MM/yyyy HH:mm:ss`.
const ORGANISATIONS_DATE_FORMAT: &str = "%d/%m/%Y %H:%M:%S";
/// The names in IR JSON extracts (`navn`) are the English names the EESSI IR publishes,
/// so they are stored under `en`.
const IR_JSON_NAME_LANGUAGE: &str = "en";

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

fn decode(bytes: &[u8]) -> Result<&str, ImportError> {
    let bytes = strip_bom(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_and_column(bytes, e.valid_up_to());
        ImportError::NotUtf8 { line, column }
    })?;
    if text.trim().is_empty() {
        return Err(ImportError::Empty);
    }
    Ok(text)
}

/// 1-based line and column (in bytes) of `offset`.
fn line_and_column(bytes: &[u8], offset: usize) -> (u64, u64) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    (line as u64, (offset - line_start + 1) as u64)
}

/// One parsed row of any format.
enum Row {
    Institution(InstitutionUpsert),
    AccessPoint(AccessPoint),
}

/// Gathers rows in file order and rejects a second row for the same institution id (or the
/// same access-point country), naming the line of the first.
#[derive(Default)]
struct Collector {
    parsed: ParsedImport,
    ids: HashMap<InstitutionId, u64>,
    countries: HashMap<CountryCode, u64>,
}

impl Collector {
    fn accept(&mut self, line: u64, row: Result<Row, String>) {
        let duplicate_of = match &row {
            Ok(Row::Institution(upsert)) => self
                .ids
                .get(&upsert.id)
                .map(|first| format!("duplicate id {}, first at line {first}", upsert.id)),
            Ok(Row::AccessPoint(ap)) => self
                .countries
                .get(&ap.country)
                .map(|first| format!("duplicate country {}, first at line {first}", ap.country)),
            Err(_) => None,
        };
        match (row, duplicate_of) {
            (Err(reason), _) | (Ok(_), Some(reason)) => {
                self.parsed.rejected.push(RowError { line, reason })
            }
            (Ok(Row::Institution(upsert)), None) => {
                self.ids.insert(upsert.id.clone(), line);
                self.parsed.institutions.push((line, upsert));
            }
            (Ok(Row::AccessPoint(ap)), None) => {
                self.countries.insert(ap.country.clone(), line);
                self.parsed.access_points.push((line, ap));
            }
        }
    }
}

fn parse_institution_id(raw: &str) -> Result<InstitutionId, String> {
    if let Some((country, _)) = raw.split_once(':') {
        let looks_like_country =
            country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase());
        if looks_like_country && !EESSI_COUNTRIES.contains(&country) {
            return Err(format!(
                "institution id {raw:?}: {country} is not an EESSI country code"
            ));
        }
    }
    raw.parse()
        .map_err(|e: sedgate_base::domain::IdError| e.to_string())
}

/// A country column must agree with the id prefix; the id is the key everything else uses.
fn check_country(id: &InstitutionId, raw_country: &str) -> Result<(), String> {
    let country: CountryCode = raw_country.parse().map_err(|e| format!("{e}"))?;
    if country != id.country() {
        return Err(format!(
            "country {country} disagrees with the prefix of institution id {id}"
        ));
    }
    Ok(())
}

fn csv_reader(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes())
}

/// Reads all records with their starting line; the file is known to be UTF-8.
fn csv_records(text: &str) -> Result<Vec<(u64, csv::StringRecord)>, ImportError> {
    let mut reader = csv_reader(text);
    let mut records = Vec::new();
    // A record's position is where the reader resumed after the previous record, before
    // the rest of a CRLF and any blank lines (and the reader's own line count misses CRs),
    // so the line is counted from the first byte after those.
    let mut lines = LineCounter::new(text);
    let mut line_at = |position: Option<&csv::Position>| {
        let resumed = usize::try_from(position.map_or(0, |p| p.byte())).unwrap_or(usize::MAX);
        let rest = text.as_bytes().get(resumed..).unwrap_or_default();
        let skipped = rest
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        lines.line_of(resumed.saturating_add(skipped))
    };
    for record in reader.records() {
        let record = record.map_err(|e| ImportError::MalformedCsv {
            line: line_at(e.position()),
            message: e.to_string(),
        })?;
        let line = line_at(record.position());
        records.push((line, record));
    }
    Ok(records)
}

/// Refuses a file in which no record has the expected number of fields: that is the wrong
/// format or separator, not a few bad rows.
fn check_some_row_fits(
    records: &[(u64, csv::StringRecord)],
    expected: usize,
    format: ImportFormat,
) -> Result<(), ImportError> {
    match records.first() {
        Some((line, first)) if !records.iter().any(|(_, r)| r.len() == expected) => {
            Err(ImportError::WrongColumnCount {
                format,
                expected,
                found: first.len(),
                line: *line,
            })
        }
        _ => Ok(()),
    }
}

fn parse_organisations_csv(text: &str) -> Result<ParsedImport, ImportError> {
    let records = csv_records(text)?;
    check_some_row_fits(
        &records,
        ORGANISATIONS_COLUMNS,
        ImportFormat::OrganisationsCsv,
    )?;
    let mut rows = Collector::default();
    for (line, record) in records {
        rows.accept(line, parse_organisations_row(&record).map(Row::Institution));
    }
    Ok(rows.parsed)
}

fn parse_organisations_row(record: &csv::StringRecord) -> Result<InstitutionUpsert, String> {
    let [id, country, acronym, activation] = [0, 1, 2, 3].map(|i| record.get(i));
    let (Some(id), Some(country), Some(acronym), Some(activation), ORGANISATIONS_COLUMNS) =
        (id, country, acronym, activation, record.len())
    else {
        return Err(format!(
            "expected 4 fields (id;country;acronym;activationDate), found {}",
            record.len()
        ));
    };
    let id = parse_institution_id(id)?;
    check_country(&id, country)?;
    let activated = if activation == "NULL" {
        None
    } else {
        let at =
            NaiveDateTime::parse_from_str(activation, ORGANISATIONS_DATE_FORMAT).map_err(|e| {
                format!("activation date {activation:?} is not dd/MM/yyyy HH:mm:ss or NULL ({e})")
            })?;
        Some(at.and_utc())
    };
    Ok(InstitutionUpsert {
        id,
        acronym: (!acronym.is_empty()).then(|| acronym.to_owned()),
        names: BTreeMap::new(),
        valid_from: Some(activated),
        valid_to: None,
        eessi_ready: Some(activated.is_some()),
        competences: None,
    })
}

fn parse_access_points_csv(text: &str) -> Result<ParsedImport, ImportError> {
    let records = csv_records(text)?;
    let Some(((_, header), rows)) = records.split_first() else {
        return Err(ImportError::Empty);
    };
    let found: Vec<&str> = header.iter().collect();
    let found = found.join(";");
    if !found.eq_ignore_ascii_case(ACCESS_POINTS_CSV_HEADER) {
        return Err(ImportError::BadHeader {
            expected: ACCESS_POINTS_CSV_HEADER,
            found,
        });
    }
    let mut collector = Collector::default();
    for (line, record) in rows {
        let row = match (record.get(0), record.get(1), record.get(2), record.len()) {
            (Some(country), Some(url), Some(fingerprints), 3) => {
                let fingerprints: Vec<&str> = fingerprints
                    .split('|')
                    .map(str::trim)
                    .filter(|f| !f.is_empty())
                    .collect();
                access_point(country, url, &fingerprints)
            }
            (.., n) => Err(format!(
                "expected 3 fields (country;endpoint_url;cert_fingerprints), found {n}"
            )),
        };
        collector.accept(*line, row.map(Row::AccessPoint));
    }
    Ok(collector.parsed)
}

fn access_point(country: &str, url: &str, fingerprints: &[&str]) -> Result<AccessPoint, String> {
    let country: CountryCode = country.parse().map_err(|e| format!("{e}"))?;
    let endpoint_url = check_endpoint_url(url)?;
    if fingerprints.is_empty() {
        return Err("at least one certificate fingerprint is required".to_owned());
    }
    let mut cert_fingerprints = fingerprints
        .iter()
        .map(|f| normalise_fingerprint(f))
        .collect::<Result<Vec<_>, _>>()?;
    cert_fingerprints.sort();
    cert_fingerprints.dedup();
    Ok(AccessPoint {
        country,
        endpoint_url,
        cert_fingerprints,
    })
}

/// Peers are only ever reached over TLS, so the endpoint must be an absolute `https` URL with
/// a host and no credentials in it.
fn check_endpoint_url(raw: &str) -> Result<String, String> {
    let uri: http::Uri = raw
        .parse()
        .map_err(|e| format!("endpoint URL {raw:?} is not a URL ({e})"))?;
    if uri.scheme_str() != Some("https") {
        return Err(format!("endpoint URL {raw:?} must use https"));
    }
    let authority = uri
        .authority()
        .ok_or_else(|| format!("endpoint URL {raw:?} has no host"))?;
    if authority.as_str().contains('@') {
        return Err(format!("endpoint URL {raw:?} must not carry credentials"));
    }
    if authority.host().is_empty() {
        return Err(format!("endpoint URL {raw:?} has no host"));
    }
    Ok(raw.to_owned())
}

/// Accepts `AB:CD:...` and upper-case hex (as `openssl x509 -fingerprint` prints them) and
/// returns the stored form: 64 lower-case hex digits.
pub fn normalise_fingerprint(raw: &str) -> Result<String, String> {
    let hex: String = raw
        .chars()
        .filter(|&c| c != ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex)
    } else {
        Err(format!(
            "certificate fingerprint {raw:?} is not a SHA-256 fingerprint (64 hex digits, optionally `:`-separated)"
        ))
    }
}

/// Where each element of a JSON array starts, so rows can be reported by line.
fn parse_json_array(
    text: &str,
    parse_element: fn(&Map<String, Value>) -> Result<Row, String>,
) -> Result<ParsedImport, ImportError> {
    let start = text.len() - text.trim_start().len();
    if !text[start..].starts_with('[') {
        let (line, column) = line_and_column(text.as_bytes(), start);
        return Err(ImportError::NotAnArray { line, column });
    }
    let elements: Vec<&RawValue> = serde_json::from_str(text).map_err(malformed_json)?;
    let mut rows = Collector::default();
    let mut lines = LineCounter::new(text);
    for element in elements {
        // Borrowed raw values are slices of `text`, so the pointer difference is the offset.
        let offset = element.get().as_ptr() as usize - text.as_ptr() as usize;
        let line = lines.line_of(offset);
        let row = match serde_json::from_str::<Value>(element.get()) {
            Ok(Value::Object(object)) => parse_element(&object),
            Ok(other) => Err(format!("expected an object, found {}", json_kind(&other))),
            Err(e) => Err(e.to_string()),
        };
        rows.accept(line, row);
    }
    Ok(rows.parsed)
}

fn malformed_json(e: serde_json::Error) -> ImportError {
    let (line, column) = (e.line() as u64, e.column() as u64);
    // serde_json appends the position to its message; it is reported in fields instead.
    let message = e.to_string();
    let message = message
        .strip_suffix(&format!(" at line {line} column {column}"))
        .unwrap_or(&message)
        .to_owned();
    ImportError::MalformedJson {
        line,
        column,
        message,
    }
}

/// Counts lines incrementally: array elements come in increasing offset order.
struct LineCounter<'a> {
    text: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text: text.as_bytes(),
            offset: 0,
            line: 1,
        }
    }

    fn line_of(&mut self, offset: usize) -> u64 {
        let offset = offset.min(self.text.len());
        if offset < self.offset {
            self.offset = 0;
            self.line = 1;
        }
        let newlines = self.text[self.offset..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.line += newlines as u64;
        self.offset = offset;
        self.line
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string field; absent and `null` are both `None`.
fn opt_str<'a>(object: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim())),
        Some(other) => Err(format!(
            "`{key}` must be a string, found {}",
            json_kind(other)
        )),
    }
}

fn req_str<'a>(object: &'a Map<String, Value>, key: &str) -> Result<&'a str, String> {
    opt_str(object, key)?.ok_or_else(|| format!("missing `{key}`"))
}

fn refuse_unknown_fields(object: &Map<String, Value>, known: &[&str]) -> Result<(), String> {
    match object.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(format!(
            "unknown field `{unknown}` (expected {})",
            known.join(", ")
        )),
        None => Ok(()),
    }
}

/// IR extracts write dates as `2019-04-28T22:00:00.000+0000`; RFC 3339 is accepted too.
fn parse_ir_date(raw: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(raw))
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| format!("date {raw:?} is not of the form 2019-04-28T22:00:00.000+0000 ({e})"))
}

fn parse_ir_json_element(object: &Map<String, Value>) -> Result<Row, String> {
    let id = parse_institution_id(req_str(object, "id")?)?;
    if let Some(country) = opt_str(object, "landkode")? {
        check_country(&id, country)?;
    }
    let mut names = BTreeMap::new();
    if let Some(name) = opt_str(object, "navn")?.filter(|n| !n.is_empty()) {
        names.insert(IR_JSON_NAME_LANGUAGE.to_owned(), name.to_owned());
    }
    let acronym = opt_str(object, "akronym")?
        .filter(|a| !a.is_empty())
        .map(str::to_owned);
    // An absent or null `tilegnetBucs` says nothing about competences; `[]` says "none".
    let competences = match object.get("tilegnetBucs") {
        None | Some(Value::Null) => None,
        Some(Value::Array(entries)) => Some(
            entries
                .iter()
                .enumerate()
                .filter_map(|(i, entry)| {
                    parse_ir_competence(entry)
                        .map_err(|reason| format!("tilegnetBucs[{i}]: {reason}"))
                        .transpose()
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(other) => {
            return Err(format!(
                "`tilegnetBucs` must be an array, found {}",
                json_kind(other)
            ))
        }
    };
    let eessi_ready = competences
        .as_ref()
        .map(|list| list.iter().any(|c: &Competence| c.eessi_ready));
    Ok(Row::Institution(InstitutionUpsert {
        id,
        acronym,
        names,
        valid_from: None,
        valid_to: None,
        eessi_ready,
        competences,
    }))
}

/// `Ok(None)` for an `IntelligentRA` entry, which is not a BUC role sedgate routes on.
fn parse_ir_competence(entry: &Value) -> Result<Option<Competence>, String> {
    let Value::Object(entry) = entry else {
        return Err(format!("expected an object, found {}", json_kind(entry)));
    };
    let role = req_str(entry, "institusjonsrolle")?;
    if role == "IntelligentRA" {
        return Ok(None);
    }
    let role = match role {
        "CaseOwner" => BucRole::CaseOwner,
        "CounterParty" => BucRole::CounterParty,
        other => {
            return Err(format!(
                "unknown institusjonsrolle {other:?} (CaseOwner, CounterParty or IntelligentRA)"
            ))
        }
    };
    let buc: BucType = req_str(entry, "bucType")?
        .parse()
        .map_err(|e| format!("{e}"))?;
    let valid_from = opt_str(entry, "gyldigStartDato")?
        .map(parse_ir_date)
        .transpose()?;
    let eessi_ready = match entry.get("eessiklar") {
        Some(Value::Bool(ready)) => *ready,
        None | Some(Value::Null) => return Err("missing `eessiklar`".to_owned()),
        Some(other) => {
            return Err(format!(
                "`eessiklar` must be a boolean, found {}",
                json_kind(other)
            ))
        }
    };
    Ok(Some(Competence {
        buc,
        role,
        valid_from,
        valid_to: None,
        eessi_ready,
    }))
}

fn parse_access_point_json_element(object: &Map<String, Value>) -> Result<Row, String> {
    refuse_unknown_fields(object, &["country", "endpoint_url", "cert_fingerprints"])?;
    let fingerprints: Vec<&str> = match object.get("cert_fingerprints") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.trim()),
                other => Err(format!(
                    "`cert_fingerprints` must hold strings, found {}",
                    json_kind(other)
                )),
            })
            .collect::<Result<_, _>>()?,
        None | Some(Value::Null) => Vec::new(),
        Some(other) => {
            return Err(format!(
                "`cert_fingerprints` must be an array, found {}",
                json_kind(other)
            ))
        }
    };
    access_point(
        req_str(object, "country")?,
        req_str(object, "endpoint_url")?,
        &fingerprints,
    )
    .map(Row::AccessPoint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::test_data::{fixture, id, merge, seed, utc};

    fn upsert<'a>(parsed: &'a ParsedImport, raw_id: &str) -> &'a InstitutionUpsert {
        let wanted = id(raw_id);
        &parsed
            .institutions
            .iter()
            .find(|(_, u)| u.id == wanted)
            .unwrap_or_else(|| panic!("{raw_id} not parsed"))
            .1
    }

    fn rejected(parsed: &ParsedImport) -> Vec<(u64, &str)> {
        parsed
            .rejected
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect()
    }

    fn competence(buc: &str, role: BucRole, from: DateTime<Utc>, ready: bool) -> Competence {
        Competence {
            buc: buc.parse().unwrap(),
            role,
            valid_from: Some(from),
            valid_to: None,
            eessi_ready: ready,
        }
    }

    #[test]
    fn accepts_the_whole_organisations_csv() {
        let parsed = parse(&seed("Organisations.csv"), ImportFormat::OrganisationsCsv).unwrap();
        assert_eq!(parsed.institutions.len(), 7455);
        assert_eq!(parsed.rejected, vec![]);
        assert!(parsed.access_points.is_empty());

        let (line, first) = &parsed.institutions[0];
        assert_eq!((*line, first.id.as_str()), (1, "AT:0100"));
        assert_eq!(first.acronym.as_deref(), Some("PVA"));
        assert_eq!(first.valid_from, Some(Some(utc(2020, 6, 8, 19, 14, 49))));
        assert_eq!(first.eessi_ready, Some(true));
        assert!(first.names.is_empty());
        assert_eq!(first.competences, None);

        let dvsv = upsert(&parsed, "AT:9900");
        assert_eq!(dvsv.acronym.as_deref(), Some("DVSV"));
        assert_eq!(dvsv.valid_from, Some(Some(utc(2021, 1, 31, 0, 0, 0))));

        let ogk = upsert(&parsed, "AT:1100");
        assert_eq!(ogk.acronym.as_deref(), Some("ÖGK-W"));
        assert_eq!(ogk.valid_from, Some(Some(utc(2020, 1, 24, 13, 50, 33))));

        let (line, last) = parsed.institutions.last().unwrap();
        assert_eq!((*line, last.id.as_str()), (7455, "UK:UK034"));
        assert_eq!(last.acronym.as_deref(), Some("GIB"));
        assert_eq!(last.valid_from, Some(Some(utc(2019, 12, 17, 1, 5, 1))));
    }

    #[test]
    fn accepts_null_activation_as_not_activated() {
        let parsed = parse(&seed("Organisations.csv"), ImportFormat::OrganisationsCsv).unwrap();
        let nav = upsert(&parsed, "NO:0101");
        assert_eq!(nav.acronym.as_deref(), Some("Nav lokal"));
        assert_eq!(nav.valid_from, Some(None));
        assert_eq!(nav.eessi_ready, Some(false));
        let not_activated = parsed
            .institutions
            .iter()
            .filter(|(_, u)| u.valid_from == Some(None))
            .count();
        assert_eq!(not_activated, 1459);
    }

    #[test]
    fn accepts_the_p_buc_01_extract_with_competences() {
        let parsed = parse(&seed("deltakere_p_buc_01_all.json"), ImportFormat::IrJson).unwrap();
        assert_eq!(parsed.institutions.len(), 248);
        assert_eq!(parsed.rejected, vec![]);

        let navat07 = upsert(&parsed, "NO:NAVAT07");
        assert_eq!(navat07.acronym.as_deref(), Some("NAV ACCT 07"));
        assert_eq!(navat07.names["en"], "NAV ACCEPTANCE TEST 07");
        assert_eq!(
            navat07.valid_from, None,
            "JSON extracts leave activation alone"
        );
        assert_eq!(navat07.eessi_ready, Some(true));
        let competences = navat07.competences.as_ref().unwrap();
        assert_eq!(competences.len(), 133);
        let from = utc(2018, 8, 26, 22, 0, 0);
        for role in [BucRole::CaseOwner, BucRole::CounterParty] {
            assert!(competences.contains(&competence("P_BUC_01", role, from, true)));
        }

        let dvsv = upsert(&parsed, "AT:9900");
        let competences = dvsv.competences.as_ref().unwrap();
        assert_eq!(competences.len(), 155);
        assert!(competences.contains(&competence(
            "P_BUC_01",
            BucRole::CaseOwner,
            utc(2019, 6, 11, 22, 0, 0),
            true
        )));
        assert!(competences.contains(&competence(
            "LA_BUC_04",
            BucRole::CounterParty,
            utc(2018, 4, 19, 22, 0, 0),
            true
        )));

        // The one competence that is not EESSI-ready in the whole extract.
        let zus = upsert(&parsed, "PL:PL390050ER");
        assert!(zus.competences.as_ref().unwrap().contains(&competence(
            "P_BUC_03",
            BucRole::CounterParty,
            utc(1934, 10, 24, 23, 0, 0),
            false
        )));
        assert_eq!(zus.eessi_ready, Some(true));

        // AT:3100 has 83 entries of which 79 are IntelligentRA: skipped, not errors.
        let itsv = upsert(&parsed, "AT:3100");
        assert_eq!(itsv.competences.as_ref().unwrap().len(), 4);
    }

    #[test]
    fn accepts_the_melosys_extract() {
        let parsed = parse(&seed("melosys-institusjoner.json"), ImportFormat::IrJson).unwrap();
        let ids: Vec<&str> = parsed
            .institutions
            .iter()
            .map(|(_, u)| u.id.as_str())
            .collect();
        assert_eq!(
            ids,
            ["SE:6", "SE:5", "SE:4", "SE:3", "SE:2", "SE:1", "UK:1", "EL:1"]
        );
        let lines: Vec<u64> = parsed.institutions.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines[..3], [2, 34, 54]);
        let se2 = upsert(&parsed, "SE:2");
        let competences = se2.competences.as_ref().unwrap();
        assert_eq!(competences.len(), 5);
        let la_buc_09 = competences
            .iter()
            .find(|c| c.buc.as_str() == "LA_BUC_09")
            .unwrap();
        assert_eq!(la_buc_09.role, BucRole::CounterParty);
        assert!(!la_buc_09.eessi_ready);
    }

    #[test]
    fn refuses_bad_organisation_rows_with_line_and_reason() {
        let parsed = parse(
            &fixture("bad-organisations.csv"),
            ImportFormat::OrganisationsCsv,
        )
        .unwrap();
        let ids: Vec<(u64, &str)> = parsed
            .institutions
            .iter()
            .map(|(l, u)| (*l, u.id.as_str()))
            .collect();
        assert_eq!(ids, [(1, "AT:0100"), (8, "NO:0101")]);
        let rejected = rejected(&parsed);
        assert_eq!(rejected.len(), 6, "{rejected:#?}");
        assert_eq!(rejected[0].0, 2);
        assert!(
            rejected[0]
                .1
                .contains("\"AT9900\" is not of the form CC:ID"),
            "{}",
            rejected[0].1
        );
        assert_eq!(
            rejected[1],
            (
                3,
                "institution id \"XX:1\": XX is not an EESSI country code"
            )
        );
        assert_eq!(rejected[2], (4, "duplicate id AT:0100, first at line 1"));
        assert_eq!(
            rejected[3],
            (
                5,
                "country DE disagrees with the prefix of institution id AT:0200"
            )
        );
        assert_eq!(rejected[4].0, 6);
        assert!(rejected[4].1.starts_with(
            "activation date \"31/02/2020 00:00:00\" is not dd/MM/yyyy HH:mm:ss or NULL"
        ));
        assert_eq!(
            rejected[5],
            (
                7,
                "expected 4 fields (id;country;acronym;activationDate), found 3"
            )
        );
    }

    #[test]
    fn refuses_a_csv_with_the_wrong_separator() {
        let err = parse(
            &fixture("comma-separated.csv"),
            ImportFormat::OrganisationsCsv,
        )
        .unwrap_err();
        assert_eq!(
            err,
            ImportError::WrongColumnCount {
                format: ImportFormat::OrganisationsCsv,
                expected: 4,
                found: 1,
                line: 1
            }
        );
    }

    #[test]
    fn refuses_non_utf8_and_empty_files() {
        let err = parse(&fixture("not-utf8.csv"), ImportFormat::OrganisationsCsv).unwrap_err();
        assert_eq!(err, ImportError::NotUtf8 { line: 2, column: 6 });
        for empty in [&b""[..], b"\xEF\xBB\xBF", b" \n\r\n"] {
            for format in ImportFormat::ALL {
                assert_eq!(parse(empty, format), Err(ImportError::Empty), "{format}");
            }
        }
    }

    #[test]
    fn accepts_a_bom_crlf_and_blank_lines() {
        let bytes =
            b"\xEF\xBB\xBFAT:0100;AT;PVA;NULL\r\n\r\nAT:0101;AT;PVA;15/11/2018 13:26:36\r\n";
        let parsed = parse(bytes, ImportFormat::OrganisationsCsv).unwrap();
        let lines: Vec<u64> = parsed.institutions.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [1, 3]);
        assert_eq!(
            parsed.institutions[1].1.valid_from,
            Some(Some(utc(2018, 11, 15, 13, 26, 36)))
        );
    }

    #[test]
    fn refuses_malformed_json_with_its_position() {
        let err = parse(&fixture("malformed.json"), ImportFormat::IrJson).unwrap_err();
        let ImportError::MalformedJson {
            line,
            column,
            message,
        } = err
        else {
            panic!("{err:?}");
        };
        assert_eq!((line, column), (4, 1));
        assert_eq!(message, "expected `,` or `}`");
        assert_eq!(
            parse(b"{\"id\": \"SE:1\"}", ImportFormat::IrJson),
            Err(ImportError::NotAnArray { line: 1, column: 1 })
        );
    }

    #[test]
    fn refuses_bad_ir_json_elements_with_line_and_reason() {
        let parsed = parse(&fixture("bad-ir.json"), ImportFormat::IrJson).unwrap();
        let accepted: Vec<(u64, &str)> = parsed
            .institutions
            .iter()
            .map(|(l, u)| (*l, u.id.as_str()))
            .collect();
        assert_eq!(accepted, [(2, "SE:6"), (35, "SE:11")]);
        // IntelligentRA is skipped: one competence left.
        assert_eq!(
            upsert(&parsed, "SE:6").competences.as_ref().unwrap().len(),
            1
        );
        let se11 = upsert(&parsed, "SE:11");
        assert_eq!((se11.competences.as_ref(), se11.eessi_ready), (None, None));
        assert!(se11.names.is_empty() && se11.acronym.is_none());

        let rejected = rejected(&parsed);
        assert_eq!(rejected.len(), 8, "{rejected:#?}");
        assert_eq!(rejected[0].0, 12);
        assert!(rejected[0].1.contains("\"SE6\" is not of the form CC:ID"));
        assert_eq!(
            rejected[1],
            (
                13,
                "institution id \"XX:1\": XX is not an EESSI country code"
            )
        );
        assert_eq!(rejected[2], (14, "duplicate id SE:6, first at line 2"));
        assert_eq!(
            rejected[3],
            (
                15,
                "country NO disagrees with the prefix of institution id SE:7"
            )
        );
        assert_eq!(rejected[4].0, 16);
        assert!(rejected[4]
            .1
            .starts_with("tilegnetBucs[0]: date \"28/02/2018\" is not of the form"));
        assert_eq!(
            rejected[5],
            (
                22,
                "tilegnetBucs[1]: BUC type \"LA-BUC-04\" is not of the form SECTOR_BUC_NN (e.g. P_BUC_01)"
            )
        );
        assert_eq!(
            rejected[6],
            (
                29,
                "tilegnetBucs[0]: unknown institusjonsrolle \"Observer\" (CaseOwner, CounterParty or IntelligentRA)"
            )
        );
        assert_eq!(rejected[7], (36, "expected an object, found a string"));
    }

    #[test]
    fn accepts_access_points_in_json_and_normalises_fingerprints() {
        let parsed = parse(
            &fixture("access-points.json"),
            ImportFormat::AccessPointsJson,
        )
        .unwrap();
        assert_eq!(parsed.rejected, vec![]);
        let countries: Vec<(u64, &str)> = parsed
            .access_points
            .iter()
            .map(|(l, ap)| (*l, ap.country.as_str()))
            .collect();
        assert_eq!(countries, [(2, "SE"), (7, "AT"), (15, "PL"), (16, "BE")]);
        let se = &parsed.access_points[0].1;
        assert_eq!(se.endpoint_url, "https://as4.se.example:8443/as4");
        assert_eq!(
            se.cert_fingerprints,
            ["0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"]
        );
        assert_eq!(
            parsed.access_points[1].1.cert_fingerprints,
            [
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
            ]
        );
    }

    #[test]
    fn refuses_bad_access_points_in_json() {
        let parsed = parse(
            &fixture("bad-access-points.json"),
            ImportFormat::AccessPointsJson,
        )
        .unwrap();
        let countries: Vec<&str> = parsed
            .access_points
            .iter()
            .map(|(_, ap)| ap.country.as_str())
            .collect();
        assert_eq!(countries, ["SE"]);
        let rejected = rejected(&parsed);
        assert_eq!(
            rejected,
            [
                (3, "country code \"XX\" is not an EESSI country code"),
                (4, "endpoint URL \"http://as4.at.example/as4\" must use https"),
                (5, "certificate fingerprint \"abc\" is not a SHA-256 fingerprint (64 hex digits, optionally `:`-separated)"),
                (6, "duplicate country SE, first at line 2"),
                (7, "at least one certificate fingerprint is required"),
                (8, "unknown field `note` (expected country, endpoint_url, cert_fingerprints)"),
            ]
        );
    }

    #[test]
    fn accepts_and_refuses_access_points_in_csv() {
        let parsed = parse(&fixture("access-points.csv"), ImportFormat::AccessPointsCsv).unwrap();
        let accepted: Vec<(u64, &str, usize)> = parsed
            .access_points
            .iter()
            .map(|(l, ap)| (*l, ap.country.as_str(), ap.cert_fingerprints.len()))
            .collect();
        assert_eq!(accepted, [(2, "SE", 2), (4, "NO", 1)]);
        assert_eq!(
            rejected(&parsed),
            [
                (
                    3,
                    "endpoint URL \"https://user@as4.at.example/as4\" must not carry credentials"
                ),
                (
                    5,
                    "expected 3 fields (country;endpoint_url;cert_fingerprints), found 2"
                ),
            ]
        );
        assert_eq!(
            parse(
                b"land;url;fp\nSE;https://a/as4;x\n",
                ImportFormat::AccessPointsCsv
            ),
            Err(ImportError::BadHeader {
                expected: ACCESS_POINTS_CSV_HEADER,
                found: "land;url;fp".to_owned()
            })
        );
    }

    #[test]
    fn detects_formats_from_content_and_name() {
        let cases: [(&str, Vec<u8>, Option<ImportFormat>); 7] = [
            (
                "Organisations.csv",
                seed("Organisations.csv"),
                Some(ImportFormat::OrganisationsCsv),
            ),
            (
                "x.json",
                seed("melosys-institusjoner.json"),
                Some(ImportFormat::IrJson),
            ),
            (
                "x.json",
                fixture("access-points.json"),
                Some(ImportFormat::AccessPointsJson),
            ),
            (
                "x.csv",
                fixture("access-points.csv"),
                Some(ImportFormat::AccessPointsCsv),
            ),
            (
                "access-points.json",
                b"[]".to_vec(),
                Some(ImportFormat::AccessPointsJson),
            ),
            ("x.csv", fixture("comma-separated.csv"), None),
            ("x.txt", b"hello".to_vec(), None),
        ];
        for (name, bytes, expected) in cases {
            let head = &bytes[..bytes.len().min(4096)];
            assert_eq!(ImportFormat::detect(name, head), expected, "{name}");
        }
        for format in ImportFormat::ALL {
            assert_eq!(format.as_str().parse::<ImportFormat>(), Ok(format));
        }
        assert!("xml".parse::<ImportFormat>().is_err());
    }

    #[test]
    fn merges_csv_then_json_upserts() {
        let csv = parse(&seed("Organisations.csv"), ImportFormat::OrganisationsCsv).unwrap();
        let json = parse(&seed("deltakere_p_buc_01_all.json"), ImportFormat::IrJson).unwrap();
        let mut ir = std::collections::BTreeMap::new();
        merge(&mut ir, csv.institutions.iter().map(|(_, u)| u));
        merge(&mut ir, json.institutions.iter().map(|(_, u)| u));
        // 7455 from the CSV plus the 49 extract ids the CSV does not list.
        assert_eq!(ir.len(), 7455 + 49);

        let dvsv = &ir[&id("AT:9900")];
        assert_eq!(dvsv.country.as_str(), "AT");
        assert_eq!(
            dvsv.acronym.as_deref(),
            Some("Dachverband"),
            "the later source wins"
        );
        assert_eq!(
            dvsv.names["en"],
            "ACC_Main Association of Austrian Social Security Institutions"
        );
        assert_eq!(
            dvsv.valid_from,
            Some(utc(2021, 1, 31, 0, 0, 0)),
            "kept from the CSV"
        );
        assert!(dvsv.eessi_ready);
        assert_eq!(dvsv.competences.len(), 155);
        assert!(dvsv.competences.windows(2).all(|w| w[0] < w[1]), "sorted");

        let csv_only = &ir[&id("NO:0101")];
        assert_eq!((csv_only.eessi_ready, csv_only.valid_from), (false, None));
        assert!(csv_only.competences.is_empty());

        let json_only = &ir[&id("NO:NAVAT07")];
        assert_eq!((json_only.eessi_ready, json_only.valid_from), (true, None));
    }
}
