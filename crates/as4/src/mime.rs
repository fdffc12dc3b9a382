//! MIME multipart/related (SOAP with attachments), sans I/O.
//! `MimeParser` turns chunks into events so a large attachment never sits in memory;
//! `MimeWriter` produces the framing around parts the caller streams itself.

use base64::Engine as _;
use bytes::Bytes;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MimeError {
    #[error("invalid Content-Type {0:?}")]
    InvalidContentType(String),
    #[error("Content-Type {found:?} is not multipart/related")]
    NotMultipartRelated { found: String },
    #[error("multipart Content-Type has no boundary")]
    MissingBoundary,
    #[error("boundary {0:?} is not a valid MIME boundary")]
    InvalidBoundary(String),
    #[error("preamble longer than {limit} bytes")]
    PreambleTooLarge { limit: usize },
    #[error("part header block longer than {limit} bytes")]
    HeaderTooLarge { limit: usize },
    #[error("more than {limit} header fields in a part")]
    TooManyHeaders { limit: usize },
    #[error("malformed part header line {line:?}")]
    MalformedHeader { line: String },
    #[error("part header is not UTF-8")]
    HeaderNotUtf8,
    #[error("more than {limit} parts")]
    TooManyParts { limit: usize },
    #[error("root part larger than {limit} bytes")]
    RootPartTooLarge { limit: u64 },
    #[error("boundary delimiter line has unexpected content")]
    MalformedDelimiter,
    #[error("unsupported Content-Transfer-Encoding {0:?}")]
    UnsupportedTransferEncoding(String),
    #[error("part body is not valid base64")]
    Base64,
    #[error("message ends before the closing boundary")]
    Truncated,
}

/// A parsed Content-Type value: lower-cased `type/subtype` and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    pub mime_type: String,
    pub params: Vec<(String, String)>,
}

impl ContentType {
    pub fn parse(value: &str) -> Result<Self, MimeError> {
        let bad = || MimeError::InvalidContentType(value.to_owned());
        let (mime, mut rest) = match value.find(';') {
            Some(i) => (&value[..i], &value[i..]),
            None => (value, ""),
        };
        let mime_type = mime.trim().to_ascii_lowercase();
        match mime_type.split_once('/') {
            Some((t, s)) if is_token(t) && is_token(s) => {}
            _ => return Err(bad()),
        }
        let mut params = Vec::new();
        loop {
            rest = rest.trim_start_matches(|c: char| c == ';' || c.is_ascii_whitespace());
            if rest.is_empty() {
                break;
            }
            let eq = rest.find('=').ok_or_else(bad)?;
            let name = rest[..eq].trim().to_ascii_lowercase();
            if !is_token(&name) {
                return Err(bad());
            }
            rest = rest[eq + 1..].trim_start();
            let value = if let Some(quoted) = rest.strip_prefix('"') {
                let mut out = String::new();
                let mut chars = quoted.char_indices();
                let mut end = None;
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => out.push(chars.next().ok_or_else(bad)?.1),
                        '"' => {
                            end = Some(i);
                            break;
                        }
                        c => out.push(c),
                    }
                }
                let end = end.ok_or_else(bad)?;
                rest = &quoted[end + 1..];
                let after = rest.trim_start();
                if !(after.is_empty() || after.starts_with(';')) {
                    return Err(bad());
                }
                out
            } else {
                let end = rest.find(';').unwrap_or(rest.len());
                let v = rest[..end].trim().to_owned();
                rest = &rest[end..];
                v
            };
            params.push((name, value));
        }
        Ok(Self { mime_type, params })
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
}

/// `<id>` → `id` (Content-ID header values and the `start` parameter).
pub fn strip_angle(id: &str) -> &str {
    let id = id.trim();
    id.strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(id)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferEncoding {
    /// binary, 8bit, 7bit or absent: the bytes are the content.
    Identity,
    Base64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartHeaders {
    /// Without angle brackets.
    pub content_id: Option<String>,
    pub content_type: Option<String>,
    pub transfer_encoding: TransferEncoding,
    /// All header fields in order, names as written, folded lines joined.
    pub fields: Vec<(String, String)>,
}

impl PartHeaders {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parse an RFC 5322 header block (no trailing blank line needed): unfolds continuation lines,
/// accepts CRLF and bare LF. Used for part headers and for captures that carry HTTP headers.
pub fn parse_header_block(
    block: &[u8],
    max_fields: usize,
) -> Result<Vec<(String, String)>, MimeError> {
    let text = std::str::from_utf8(block).map_err(|_| MimeError::HeaderNotUtf8)?;
    let mut fields: Vec<(String, String)> = Vec::new();
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            let last = fields
                .last_mut()
                .ok_or_else(|| MimeError::MalformedHeader {
                    line: line.chars().take(80).collect(),
                })?;
            last.1.push(' ');
            last.1.push_str(line.trim());
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| MimeError::MalformedHeader {
                line: line.chars().take(80).collect(),
            })?;
        if !is_token(name) {
            return Err(MimeError::MalformedHeader {
                line: line.chars().take(80).collect(),
            });
        }
        if fields.len() >= max_fields {
            return Err(MimeError::TooManyHeaders { limit: max_fields });
        }
        fields.push((name.to_owned(), value.trim().to_owned()));
    }
    Ok(fields)
}

fn part_headers(fields: Vec<(String, String)>) -> Result<PartHeaders, MimeError> {
    let find = |n: &str| {
        fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    let transfer_encoding = match find("Content-Transfer-Encoding") {
        None => TransferEncoding::Identity,
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "binary" | "8bit" | "7bit" => TransferEncoding::Identity,
            "base64" => TransferEncoding::Base64,
            _ => return Err(MimeError::UnsupportedTransferEncoding(v)),
        },
    };
    Ok(PartHeaders {
        content_id: find("Content-ID").map(|v| strip_angle(&v).to_owned()),
        content_type: find("Content-Type"),
        transfer_encoding,
        fields,
    })
}

#[derive(Debug, Clone)]
pub struct MimeLimits {
    pub max_preamble_bytes: usize,
    pub max_header_bytes: usize,
    pub max_headers: usize,
    pub max_parts: usize,
    /// The root part (the SOAP envelope) is held in memory by the caller, so it is capped.
    pub max_root_part_bytes: u64,
}

impl Default for MimeLimits {
    fn default() -> Self {
        Self {
            max_preamble_bytes: 64 * 1024,
            max_header_bytes: 16 * 1024,
            max_headers: 32,
            max_parts: 64,
            // The same cap as `XmlLimits::default().max_bytes`.
            max_root_part_bytes: 5 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MimeEvent {
    PartStart {
        headers: PartHeaders,
        /// The part named by `start`, or the first part when there is no `start`.
        is_root: bool,
    },
    /// Transfer-decoded content bytes of the current part.
    PartData(Vec<u8>),
    PartEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Preamble,
    AfterDelimiter,
    Headers,
    Body,
    Done,
}

/// Base64 decoding across chunk borders.
#[derive(Debug, Default)]
struct Base64Stream {
    pending: Vec<u8>,
}

impl Base64Stream {
    fn push(&mut self, data: &[u8], out: &mut Vec<MimeEvent>) -> Result<(), MimeError> {
        self.pending
            .extend(data.iter().copied().filter(|b| !b.is_ascii_whitespace()));
        let whole = self.pending.len() / 4 * 4;
        if whole > 0 {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(&self.pending[..whole])
                .map_err(|_| MimeError::Base64)?;
            self.pending.drain(..whole);
            if !decoded.is_empty() {
                out.push(MimeEvent::PartData(decoded));
            }
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<(), MimeError> {
        if self.pending.is_empty() {
            Ok(())
        } else {
            Err(MimeError::Base64)
        }
    }
}

enum Scan {
    /// A delimiter line starts; content ends at `data_end`, the delimiter's `--boundary` ends
    /// at `after`.
    Found { data_end: usize, after: usize },
    /// No delimiter yet; bytes before `safe` are certainly content.
    NeedMore { safe: usize },
}

/// Where the delimiter `--boundary` next starts at a line start in `buf`.
fn scan(buf: &[u8], delim: &[u8], at_line_start: bool) -> Scan {
    let dl = delim.len();
    let line_end = |p: usize| -> usize {
        if p == 0 {
            0
        } else if p >= 2 && buf[p - 2] == b'\r' {
            p - 2
        } else {
            p - 1
        }
    };
    let first = if at_line_start { Some(0) } else { None };
    let later = buf
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1);
    for p in first.into_iter().chain(later) {
        let rest = &buf[p..];
        if rest.len() < dl + 2 {
            let head = &rest[..rest.len().min(dl)];
            let could_be = delim.starts_with(head)
                && (rest.len() <= dl || is_delimiter_suffix_start(rest[dl]));
            if could_be {
                return Scan::NeedMore { safe: line_end(p) };
            }
            continue;
        }
        if &rest[..dl] == delim {
            let (c1, c2) = (rest[dl], rest[dl + 1]);
            if (c1 == b'-' && c2 == b'-') || matches!(c1, b' ' | b'\t' | b'\r' | b'\n') {
                return Scan::Found {
                    data_end: line_end(p),
                    after: p + dl,
                };
            }
        }
    }
    // A trailing CR/LF may be the start of the next delimiter line: keep it back.
    let mut safe = buf.len();
    while safe > 0 && matches!(buf[safe - 1], b'\r' | b'\n') && buf.len() - safe < 2 {
        safe -= 1;
    }
    Scan::NeedMore { safe }
}

fn is_delimiter_suffix_start(b: u8) -> bool {
    matches!(b, b'-' | b' ' | b'\t' | b'\r' | b'\n')
}

/// A streaming multipart/related parser. Feed it chunks; it appends events to `out`.
pub struct MimeParser {
    delimiter: Vec<u8>,
    start: Option<String>,
    limits: MimeLimits,
    state: State,
    buf: Vec<u8>,
    at_line_start: bool,
    bom_checked: bool,
    preamble_bytes: usize,
    parts: usize,
    current_is_root: bool,
    current_bytes: u64,
    base64: Option<Base64Stream>,
}

impl MimeParser {
    /// `content_type` is the HTTP Content-Type (multipart/related with a boundary).
    pub fn new(content_type: &str, limits: MimeLimits) -> Result<Self, MimeError> {
        let ct = ContentType::parse(content_type)?;
        if ct.mime_type != "multipart/related" {
            return Err(MimeError::NotMultipartRelated {
                found: ct.mime_type,
            });
        }
        let boundary = ct.param("boundary").ok_or(MimeError::MissingBoundary)?;
        if boundary.is_empty()
            || boundary.len() > 70
            || boundary.bytes().any(|b| !(b' '..=b'~').contains(&b))
        {
            return Err(MimeError::InvalidBoundary(boundary.to_owned()));
        }
        let delimiter = [b"--".as_slice(), boundary.as_bytes()].concat();
        Ok(Self {
            delimiter,
            start: ct.param("start").map(|s| strip_angle(s).to_owned()),
            limits,
            state: State::Preamble,
            buf: Vec::new(),
            at_line_start: true,
            bom_checked: false,
            preamble_bytes: 0,
            parts: 0,
            current_is_root: false,
            current_bytes: 0,
            base64: None,
        })
    }

    /// The `start` parameter (root Content-ID without angle brackets), if given.
    pub fn start(&self) -> Option<&str> {
        self.start.as_deref()
    }

    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<MimeEvent>) -> Result<(), MimeError> {
        if self.state == State::Done {
            return Ok(()); // epilogue: ignored
        }
        self.buf.extend_from_slice(chunk);
        if !self.bom_checked {
            if self.buf.len() < 3 && b"\xEF\xBB\xBF".starts_with(&self.buf) {
                return Ok(());
            }
            if self.buf.starts_with(b"\xEF\xBB\xBF") {
                self.buf.drain(..3);
            }
            self.bom_checked = true;
        }
        loop {
            let progressed = match self.state {
                State::Preamble => self.step_preamble()?,
                State::AfterDelimiter => self.step_after_delimiter()?,
                State::Headers => self.step_headers(out)?,
                State::Body => self.step_body(out)?,
                State::Done => {
                    self.buf.clear();
                    false
                }
            };
            if !progressed {
                return Ok(());
            }
        }
    }

    /// The input has ended: anything short of the closing delimiter is `Truncated`.
    pub fn finish(&mut self) -> Result<(), MimeError> {
        if self.state == State::Done {
            Ok(())
        } else {
            Err(MimeError::Truncated)
        }
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    fn step_preamble(&mut self) -> Result<bool, MimeError> {
        match scan(&self.buf, &self.delimiter, self.at_line_start) {
            Scan::Found { data_end, after } => {
                self.count_preamble(data_end)?;
                self.buf.drain(..after);
                self.state = State::AfterDelimiter;
                Ok(true)
            }
            Scan::NeedMore { safe } => {
                self.count_preamble(safe)?;
                if safe > 0 {
                    self.buf.drain(..safe);
                    self.at_line_start = false;
                }
                if self.buf.len() > self.limits.max_preamble_bytes {
                    return Err(MimeError::PreambleTooLarge {
                        limit: self.limits.max_preamble_bytes,
                    });
                }
                Ok(false)
            }
        }
    }

    fn count_preamble(&mut self, n: usize) -> Result<(), MimeError> {
        self.preamble_bytes += n;
        if self.preamble_bytes > self.limits.max_preamble_bytes {
            return Err(MimeError::PreambleTooLarge {
                limit: self.limits.max_preamble_bytes,
            });
        }
        Ok(())
    }

    fn step_after_delimiter(&mut self) -> Result<bool, MimeError> {
        if self.buf.len() < 2 {
            return Ok(false);
        }
        if self.buf.starts_with(b"--") {
            self.state = State::Done;
            self.buf.clear();
            return Ok(false);
        }
        // Transport padding (spaces/tabs), then the line break.
        let pad = self
            .buf
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
        if pad > 256 {
            return Err(MimeError::MalformedDelimiter);
        }
        let rest = &self.buf[pad..];
        let eol = if rest.starts_with(b"\r\n") {
            2
        } else if rest.starts_with(b"\n") {
            1
        } else if rest.is_empty() || rest == b"\r" {
            return Ok(false);
        } else {
            return Err(MimeError::MalformedDelimiter);
        };
        self.buf.drain(..pad + eol);
        self.state = State::Headers;
        Ok(true)
    }

    fn step_headers(&mut self, out: &mut Vec<MimeEvent>) -> Result<bool, MimeError> {
        // The header block ends at the first empty line (CRLF or bare LF).
        let mut pos = 0;
        let end = loop {
            let Some(nl) = self.buf[pos..].iter().position(|b| *b == b'\n') else {
                break None;
            };
            let line = &self.buf[pos..pos + nl];
            if line.is_empty() || line == b"\r" {
                break Some((pos, pos + nl + 1));
            }
            pos += nl + 1;
        };
        let Some((block_end, body_start)) = end else {
            if self.buf.len() > self.limits.max_header_bytes {
                return Err(MimeError::HeaderTooLarge {
                    limit: self.limits.max_header_bytes,
                });
            }
            return Ok(false);
        };
        if block_end > self.limits.max_header_bytes {
            return Err(MimeError::HeaderTooLarge {
                limit: self.limits.max_header_bytes,
            });
        }
        let fields = parse_header_block(&self.buf[..block_end], self.limits.max_headers)?;
        let headers = part_headers(fields)?;
        self.parts += 1;
        if self.parts > self.limits.max_parts {
            return Err(MimeError::TooManyParts {
                limit: self.limits.max_parts,
            });
        }
        let is_root = match &self.start {
            Some(start) => headers.content_id.as_deref() == Some(start.as_str()),
            None => self.parts == 1,
        };
        self.current_is_root = is_root;
        self.current_bytes = 0;
        self.base64 =
            (headers.transfer_encoding == TransferEncoding::Base64).then(Base64Stream::default);
        out.push(MimeEvent::PartStart { headers, is_root });
        self.buf.drain(..body_start);
        self.state = State::Body;
        self.at_line_start = true;
        Ok(true)
    }

    fn step_body(&mut self, out: &mut Vec<MimeEvent>) -> Result<bool, MimeError> {
        match scan(&self.buf, &self.delimiter, self.at_line_start) {
            Scan::Found { data_end, after } => {
                let data: Vec<u8> = self.buf.drain(..after).take(data_end).collect();
                self.emit(&data, out)?;
                if let Some(mut b64) = self.base64.take() {
                    b64.finish()?;
                }
                out.push(MimeEvent::PartEnd);
                self.state = State::AfterDelimiter;
                Ok(true)
            }
            Scan::NeedMore { safe } => {
                if safe > 0 {
                    let data: Vec<u8> = self.buf.drain(..safe).collect();
                    self.emit(&data, out)?;
                    self.at_line_start = false;
                }
                Ok(false)
            }
        }
    }

    fn emit(&mut self, data: &[u8], out: &mut Vec<MimeEvent>) -> Result<(), MimeError> {
        self.current_bytes += data.len() as u64;
        if self.current_is_root && self.current_bytes > self.limits.max_root_part_bytes {
            return Err(MimeError::RootPartTooLarge {
                limit: self.limits.max_root_part_bytes,
            });
        }
        match &mut self.base64 {
            Some(b64) => b64.push(data, out),
            None => {
                if !data.is_empty() {
                    out.push(MimeEvent::PartData(data.to_vec()));
                }
                Ok(())
            }
        }
    }
}

/// A whole part, for small messages and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MimePart {
    pub headers: PartHeaders,
    pub is_root: bool,
    /// Transfer-decoded content.
    pub body: Vec<u8>,
}

/// Parse a complete multipart/related body held in memory.
pub fn parse_all(content_type: &str, body: &[u8]) -> Result<Vec<MimePart>, MimeError> {
    parse_all_with(content_type, body, MimeLimits::default())
}

pub fn parse_all_with(
    content_type: &str,
    body: &[u8],
    limits: MimeLimits,
) -> Result<Vec<MimePart>, MimeError> {
    let mut parser = MimeParser::new(content_type, limits)?;
    let mut events = Vec::new();
    parser.feed(body, &mut events)?;
    parser.finish()?;
    let mut parts: Vec<MimePart> = Vec::new();
    for event in events {
        match event {
            MimeEvent::PartStart { headers, is_root } => parts.push(MimePart {
                headers,
                is_root,
                body: Vec::new(),
            }),
            MimeEvent::PartData(data) => {
                if let Some(p) = parts.last_mut() {
                    p.body.extend_from_slice(&data);
                }
            }
            MimeEvent::PartEnd => {}
        }
    }
    Ok(parts)
}

/// An attachment to send. `body` is reference-counted, so building does not copy it.
#[derive(Debug, Clone)]
pub struct OutgoingPart {
    /// Without angle brackets; the PartInfo href is `cid:` + this.
    pub content_id: String,
    pub content_type: String,
    pub body: Bytes,
}

/// Writes the framing of a multipart/related AS4 message: the caller sends
/// `root_head()`, the SOAP envelope, then for each attachment `part_head(..)` and its bytes
/// (streamed from wherever they are), then `close()`. All parts are `binary`.
#[derive(Debug, Clone)]
pub struct MimeWriter {
    boundary: String,
    root_content_id: String,
}

impl MimeWriter {
    /// A writer with a fresh random boundary and root Content-ID.
    pub fn new() -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self::with_boundary(&format!("MIMEBoundary_{id}"), &format!("root.{id}@sedgate"))
    }

    pub fn with_boundary(boundary: &str, root_content_id: &str) -> Self {
        Self {
            boundary: boundary.to_owned(),
            root_content_id: root_content_id.to_owned(),
        }
    }

    /// The HTTP Content-Type header value.
    pub fn content_type(&self) -> String {
        format!(
            "multipart/related; boundary=\"{}\"; type=\"application/soap+xml\"; start=\"<{}>\"",
            self.boundary, self.root_content_id
        )
    }

    pub fn root_head(&self) -> Vec<u8> {
        format!(
            "--{}\r\nContent-Type: application/soap+xml; charset=UTF-8\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <{}>\r\n\r\n",
            self.boundary, self.root_content_id
        )
        .into_bytes()
    }

    pub fn part_head(&self, content_id: &str, content_type: &str) -> Vec<u8> {
        format!(
            "\r\n--{}\r\nContent-Type: {}\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <{}>\r\n\r\n",
            self.boundary, content_type, content_id
        )
        .into_bytes()
    }

    pub fn close(&self) -> Vec<u8> {
        format!("\r\n--{}--\r\n", self.boundary).into_bytes()
    }
}

impl Default for MimeWriter {
    fn default() -> Self {
        Self::new()
    }
}

/// Frame an envelope and attachments; the body is the concatenation of the returned chunks.
/// Attachment bytes are not copied (each is one chunk).
pub fn build_multipart(root_soap: &[u8], parts: &[OutgoingPart]) -> (String, Vec<Bytes>) {
    build_multipart_with(&MimeWriter::new(), root_soap, parts)
}

pub fn build_multipart_with(
    writer: &MimeWriter,
    root_soap: &[u8],
    parts: &[OutgoingPart],
) -> (String, Vec<Bytes>) {
    let mut chunks = vec![
        Bytes::from(writer.root_head()),
        Bytes::copy_from_slice(root_soap),
    ];
    for part in parts {
        chunks.push(Bytes::from(
            writer.part_head(&part.content_id, &part.content_type),
        ));
        chunks.push(part.body.clone());
    }
    chunks.push(Bytes::from(writer.close()));
    (writer.content_type(), chunks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_quoted_and_tabbed_content_type_params() {
        let ct = ContentType::parse(
            "multipart/related; boundary=\"=-M/sMGEhQK8RBNg/21Nf7Ig==\";\ttype=\"application/soap+xml\"",
        )
        .unwrap();
        assert_eq!(ct.mime_type, "multipart/related");
        assert_eq!(ct.param("boundary"), Some("=-M/sMGEhQK8RBNg/21Nf7Ig=="));
        assert_eq!(ct.param("TYPE"), Some("application/soap+xml"));
        let ct = ContentType::parse("application/soap+xml; charset=UTF-8").unwrap();
        assert_eq!(ct.param("charset"), Some("UTF-8"));
    }

    #[test]
    fn refuses_broken_content_types() {
        for bad in [
            "",
            "multipart",
            "multipart/related; boundary=\"open",
            "a/b; novalue",
        ] {
            assert!(ContentType::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            MimeParser::new("multipart/related; type=x", MimeLimits::default()).err(),
            Some(MimeError::MissingBoundary)
        );
    }

    fn sample() -> (String, Vec<u8>) {
        let writer = MimeWriter::with_boundary("b-1", "root@x");
        let parts = [
            OutgoingPart {
                content_id: "sed@x".into(),
                content_type: "application/gzip".into(),
                body: Bytes::from_static(b"\x1f\x8b binary\r\n--b-\r\n"),
            },
            OutgoingPart {
                content_id: "att@x".into(),
                content_type: "application/pdf".into(),
                body: Bytes::from_static(b""),
            },
        ];
        let (ct, chunks) = build_multipart_with(&writer, b"<soap/>", &parts);
        (ct, chunks.concat())
    }

    #[test]
    fn accepts_what_the_writer_builds_fed_byte_by_byte() {
        let (ct, body) = sample();
        let whole = parse_all(&ct, &body).unwrap();
        assert_eq!(whole.len(), 3);
        assert!(whole[0].is_root);
        assert_eq!(whole[0].body, b"<soap/>");
        assert_eq!(whole[1].headers.content_id.as_deref(), Some("sed@x"));
        assert_eq!(whole[1].body, b"\x1f\x8b binary\r\n--b-\r\n");
        assert_eq!(whole[2].body, b"");
        // The same result whatever the chunking.
        for size in [1, 2, 3, 7, 64] {
            let mut p = MimeParser::new(&ct, MimeLimits::default()).unwrap();
            let mut events = Vec::new();
            for chunk in body.chunks(size) {
                p.feed(chunk, &mut events).unwrap();
            }
            p.finish().unwrap();
            let mut bodies: Vec<Vec<u8>> = Vec::new();
            for e in events {
                match e {
                    MimeEvent::PartStart { .. } => bodies.push(Vec::new()),
                    MimeEvent::PartData(d) => bodies.last_mut().unwrap().extend(d),
                    MimeEvent::PartEnd => {}
                }
            }
            let expected: Vec<Vec<u8>> = whole.iter().map(|p| p.body.clone()).collect();
            assert_eq!(bodies, expected, "chunk size {size}");
        }
    }

    #[test]
    fn accepts_bare_lf_bom_and_base64() {
        let body = b"\xEF\xBB\xBF\n--x\nContent-ID: <a>\nContent-Transfer-Encoding: base64\n\naGVs\nbG8=\n--x--\n";
        let parts = parse_all("multipart/related; boundary=x", body).unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].body, b"hello");
        assert_eq!(parts[0].headers.content_id.as_deref(), Some("a"));
    }

    #[test]
    fn refuses_truncation_and_limits() {
        let (ct, body) = sample();
        for cut in 0..body.len() - 2 {
            // Until "--b-1--" is complete the message is incomplete, never accepted.
            let r = parse_all(&ct, &body[..cut]);
            assert!(r.is_err(), "prefix {cut} accepted");
        }
        let limits = MimeLimits {
            max_parts: 2,
            ..MimeLimits::default()
        };
        assert_eq!(
            parse_all_with(&ct, &body, limits).err(),
            Some(MimeError::TooManyParts { limit: 2 })
        );
        let limits = MimeLimits {
            max_root_part_bytes: 3,
            ..MimeLimits::default()
        };
        assert_eq!(
            parse_all_with(&ct, &body, limits).err(),
            Some(MimeError::RootPartTooLarge { limit: 3 })
        );
        let huge_header = format!("--b\r\nX-A: {}\r\n\r\n", "a".repeat(20_000));
        assert_eq!(
            parse_all("multipart/related; boundary=b", huge_header.as_bytes()).err(),
            Some(MimeError::HeaderTooLarge { limit: 16 * 1024 })
        );
    }
}
