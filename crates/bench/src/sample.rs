//! Sample SEDs for benchmarks and tests: a fixture with the header ids of a scenario.

/// `xml` with `Header/CaseID`, `Header/Sender/InstitutionID` and the `Header/Receivers`
/// replaced. Works on the unprefixed header layout of the fixtures in
/// `tests/fixtures/sed`; `None` when `xml` does not have it.
pub fn sed_with_header(
    xml: &str,
    case_id: &str,
    sender: &str,
    receivers: &[&str],
) -> Option<String> {
    let xml = replace_between(xml, "<CaseID>", "</CaseID>", case_id)?;
    let sender_at = xml.find("<Sender>")?;
    let (head, tail) = xml.split_at(sender_at);
    let tail = replace_between(tail, "<InstitutionID>", "</InstitutionID>", sender)?;
    let xml = format!("{head}{tail}");
    let receivers: String = receivers
        .iter()
        .map(|r| format!("<Receiver><InstitutionID>{r}</InstitutionID></Receiver>"))
        .collect();
    replace_between(&xml, "<Receivers>", "</Receivers>", &receivers)
}

/// Replaces the text between the first `open` and the next `close`.
fn replace_between(text: &str, open: &str, close: &str, with: &str) -> Option<String> {
    let start = text.find(open)? + open.len();
    let end = start + text[start..].find(close)?;
    Some(format!("{}{with}{}", &text[..start], &text[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_the_header_of_a_fixture() {
        let xml = std::fs::read_to_string(concat!(
            concat!(env!("CARGO_MANIFEST_DIR"), "/../.."),
            "/tests/fixtures/sed/4.2/P2000/valid.xml"
        ))
        .unwrap();
        let out =
            sed_with_header(&xml, "CASE-1", "AT:9900", &["NO:NAVAT07", "SE:ACC2001"]).unwrap();
        assert!(out.contains("<CaseID>CASE-1</CaseID>"));
        assert!(out.contains("<Sender>\n      <InstitutionID>AT:9900</InstitutionID>"));
        assert!(out.contains(
            "<Receivers><Receiver><InstitutionID>NO:NAVAT07</InstitutionID></Receiver>\
             <Receiver><InstitutionID>SE:ACC2001</InstitutionID></Receiver></Receivers>"
        ));
        assert!(!out.contains("NO:NAVAT07</InstitutionID>\n      <Name>"));
        assert_eq!(sed_with_header("<A/>", "C", "AT:1", &[]), None);
    }
}
