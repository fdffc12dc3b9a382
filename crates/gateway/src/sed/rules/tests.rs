use super::*;
use once_cell::sync::Lazy;
use std::path::PathBuf;

static CATALOGUE: Lazy<Catalogue> = Lazy::new(|| {
    Catalogue::load(&PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("seed"))
        .unwrap()
});

fn facts(buc: &str, sed: &str, case_exists: bool, role: BucRole) -> SubmissionFacts {
    SubmissionFacts {
        cdm: CdmVersion::V4_2,
        buc: buc.parse().unwrap(),
        sed: sed.parse().unwrap(),
        case_exists,
        sender_role: role,
        has_schema: true,
    }
}

fn code(f: &SubmissionFacts) -> &'static str {
    match check(&CATALOGUE, f) {
        Ok(()) => "ok",
        Err(v) => v.code(),
    }
}

use BucRole::{CaseOwner, CounterParty};

#[test]
fn accepts_starters_and_allowed_follow_ups() {
    assert_eq!(code(&facts("P_BUC_01", "P2000", false, CaseOwner)), "ok");
    assert_eq!(code(&facts("P_BUC_01", "P8000", true, CaseOwner)), "ok");
    assert_eq!(code(&facts("P_BUC_01", "P5000", true, CounterParty)), "ok");
    assert_eq!(code(&facts("P_BUC_01", "P9000", true, CounterParty)), "ok");
    assert_eq!(code(&facts("LA_BUC_04", "A009", false, CaseOwner)), "ok");
    assert_eq!(code(&facts("LA_BUC_04", "X007", true, CounterParty)), "ok");
}

#[test]
fn refuses_each_violation_with_its_code() {
    let mut unknown = facts("P_BUC_01", "P2000", false, CaseOwner);
    unknown.buc = "P_BUC_42".parse().unwrap();
    assert_eq!(code(&unknown), "unknown_buc");
    let mut old_cdm = facts("P_BUC_01", "P2000", false, CaseOwner);
    old_cdm.cdm = CdmVersion::V4_4;
    assert_eq!(code(&old_cdm), "unknown_buc");

    let mut no_schema = facts("P_BUC_01", "P3000", true, CaseOwner);
    no_schema.has_schema = false;
    assert_eq!(code(&no_schema), "unknown_sed_type");

    assert_eq!(
        code(&facts("P_BUC_01", "A001", false, CaseOwner)),
        "sed_not_in_buc"
    );
    assert_eq!(
        code(&facts("P_BUC_01", "P2000", true, CaseOwner)),
        "starter_on_existing_case"
    );
    assert_eq!(
        code(&facts("P_BUC_01", "P5000", false, CaseOwner)),
        "follow_up_without_case"
    );
    // Only the case owner sends P3000 and P7000 in P_BUC_01.
    assert_eq!(
        code(&facts("P_BUC_01", "P7000", true, CounterParty)),
        "sed_not_allowed_for_role"
    );
    // A counterparty cannot open a case.
    assert_eq!(
        code(&facts("LA_BUC_04", "A009", false, CounterParty)),
        "sed_not_allowed_for_role"
    );
    // In LA_BUC_04 the counterparty may not close the case (X001).
    assert_eq!(
        code(&facts("LA_BUC_04", "X001", true, CounterParty)),
        "sed_not_allowed_for_role"
    );
}

#[test]
fn violations_explain_themselves() {
    let err = check(&CATALOGUE, &facts("P_BUC_01", "P5000", false, CaseOwner)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "SED P5000 is a follow-up in P_BUC_01, but there is no case yet (starters: P2000)"
    );
    let err = check(&CATALOGUE, &facts("P_BUC_01", "P7000", true, CounterParty)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the CounterParty of a P_BUC_01 case may not send P7000"
    );
}

fn header_of(xml: &str) -> Result<SedHeader, HeaderError> {
    let doc =
        sedgate_base::xml::parse(xml.as_bytes(), &sedgate_base::xml::XmlLimits::default()).unwrap();
    extract_header(&doc)
}

fn fixture(path: &str) -> String {
    std::fs::read_to_string(
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("tests/fixtures/sed")
            .join(path),
    )
    .unwrap()
}

#[test]
fn extracts_header_ids_from_a_real_example() {
    let header = header_of(&fixture("4.2/P2000/valid.xml")).unwrap();
    assert_eq!(header.case_id.as_str(), "1000123456");
    assert_eq!(header.sender.as_str(), "NO:NAVAT07");
    assert_eq!(header.receivers.len(), 1);
    assert_eq!(header.receivers[0].as_str(), "DE:DRV001");
}

#[test]
fn refuses_headers_with_bad_or_missing_ids() {
    let bad = fixture("4.2/P2000/invalid-bad-institution-id.xml");
    assert_eq!(
        header_of(&bad),
        Err(HeaderError::BadId {
            path: "Header/Sender/InstitutionID",
            value: "NO-NAVAT07".into()
        })
    );
    let no_receivers = fixture("4.1/X009/valid.xml")
        .replace("<Receiver>", "<Other>")
        .replace("</Receiver>", "</Other>");
    assert_eq!(
        header_of(&no_receivers),
        Err(HeaderError::Missing("Header/Receivers/Receiver"))
    );
    let no_header = r#"<P2000 xmlns="http://ec.europa.eu/eessi/ns/4_2/P2000"/>"#;
    assert_eq!(header_of(no_header), Err(HeaderError::Missing("Header")));
}

#[test]
fn refuses_ids_that_disagree_with_the_request() {
    let header = header_of(&fixture("4.2/P2000/valid.xml")).unwrap();
    let request = RequestIds {
        case_id: Some("1000123456".parse().unwrap()),
        sender: "NO:NAVAT07".parse().unwrap(),
        receivers: vec!["DE:DRV001".parse().unwrap()],
    };
    assert_eq!(check_ids(&header, &request), Ok(()));
    assert_eq!(
        check_ids(
            &header,
            &RequestIds {
                case_id: None,
                ..request.clone()
            }
        ),
        Ok(())
    );

    let other_sender = RequestIds {
        sender: "NO:NAVAT08".parse().unwrap(),
        ..request.clone()
    };
    let err = check_ids(&header, &other_sender).unwrap_err();
    assert_eq!(err.code(), "ids_disagree");
    assert_eq!(
        err.to_string(),
        "the SED says sender is \"NO:NAVAT07\", the request says \"NO:NAVAT08\""
    );

    let other_case = RequestIds {
        case_id: Some("999".parse().unwrap()),
        ..request.clone()
    };
    assert!(matches!(
        check_ids(&header, &other_case),
        Err(RuleViolation::IdsDisagree {
            field: "case id",
            ..
        })
    ));

    let more_receivers = RequestIds {
        receivers: vec!["DE:DRV001".parse().unwrap(), "SE:FK001".parse().unwrap()],
        ..request
    };
    assert!(matches!(
        check_ids(&header, &more_receivers),
        Err(RuleViolation::IdsDisagree {
            field: "receivers",
            ..
        })
    ));
}
