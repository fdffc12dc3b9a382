use super::*;
use once_cell::sync::Lazy;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

static POOL: Lazy<XsdPool> =
    Lazy::new(|| XsdPool::start(&root().join("schemas"), 2).expect("schemas compile"));

fn cdm(s: &str) -> CdmVersion {
    s.parse().unwrap()
}

fn sed(s: &str) -> SedType {
    s.parse().unwrap()
}

fn fixture(cdm: &str, sed: &str, name: &str) -> Vec<u8> {
    std::fs::read(
        root()
            .join("tests/fixtures/sed")
            .join(cdm)
            .join(sed)
            .join(name),
    )
    .unwrap()
}

fn validate(c: &str, s: &str, bytes: &[u8]) -> Result<Vec<Finding>, XsdError> {
    POOL.validate_blocking(cdm(c), &sed(s), Arc::from(bytes))
}

/// Every (cdm, sed, file name) under tests/fixtures/sed.
fn all_fixtures() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let base = root().join("tests/fixtures/sed");
    for c in ["4.1", "4.2"] {
        for sed_dir in std::fs::read_dir(base.join(c)).unwrap() {
            let sed_dir = sed_dir.unwrap();
            let s = sed_dir.file_name().to_str().unwrap().to_owned();
            for f in std::fs::read_dir(sed_dir.path()).unwrap() {
                let name = f.unwrap().file_name().to_str().unwrap().to_owned();
                out.push((c.to_owned(), s.clone(), name));
            }
        }
    }
    out.sort();
    out
}

/// 1-based line of the first line of `bytes` containing `needle`.
fn line_of(bytes: &[u8], needle: &str) -> u32 {
    let text = std::str::from_utf8(bytes).unwrap();
    text.lines().position(|l| l.contains(needle)).unwrap() as u32 + 1
}

#[test]
fn knows_every_schema_in_both_cdm_versions() {
    let pairs: Vec<_> = POOL.schemas().collect();
    assert_eq!(pairs.len(), 36, "18 SED types x 2 CDM versions");
    for s in [
        "DA010", "F001", "H001", "A001", "A003", "A008", "A009", "M030", "P2000", "P2100", "P5000",
        "P8000", "R005", "S040", "U001", "X001", "X005", "X009",
    ] {
        assert!(POOL.known(cdm("4.1"), &sed(s)), "4.1 {s}");
        assert!(POOL.known(cdm("4.2"), &sed(s)), "4.2 {s}");
    }
    assert!(!POOL.known(cdm("4.3"), &sed("P2000")));
    assert!(!POOL.known(cdm("4.2"), &sed("P3000")));
}

#[test]
fn accepts_every_valid_example() {
    let mut count = 0;
    for (c, s, name) in all_fixtures()
        .into_iter()
        .filter(|f| f.2.starts_with("valid"))
    {
        let findings = validate(&c, &s, &fixture(&c, &s, &name)).unwrap();
        assert!(findings.is_empty(), "{c}/{s}/{name}: {findings:#?}");
        count += 1;
    }
    assert_eq!(count, 37);
}

#[test]
fn refuses_every_invalid_example_with_located_findings() {
    let mut count = 0;
    for (c, s, name) in all_fixtures()
        .into_iter()
        .filter(|f| f.2.starts_with("invalid"))
    {
        let bytes = fixture(&c, &s, &name);
        let findings = validate(&c, &s, &bytes).unwrap();
        assert!(!findings.is_empty(), "{c}/{s}/{name} passed");
        let first = &findings[0];
        let root_tag = format!("<{s} ");
        let (needle, path) = match name.as_str() {
            "invalid-bad-institution-id.xml" => {
                ("NO-NAVAT07", format!("/{s}/Header/Sender/InstitutionID"))
            }
            "invalid-bad-date.xml" => ("1958-02-30", format!("/{s}/Person/DateOfBirth")),
            "invalid-bad-enumeration.xml" => ("<Sex>X</Sex>", format!("/{s}/Person/Sex")),
            "invalid-wrong-namespace.xml" => (root_tag.as_str(), format!("/{s}")),
            "invalid-missing-element.xml" if c == "4.2" => {
                ("<PlaceOfBirth>", format!("/{s}/Person/PlaceOfBirth"))
            }
            "invalid-missing-element.xml" => ("<Nationality>", format!("/{s}/Person/Nationality")),
            other => panic!("unexpected fixture {other}"),
        };
        assert_eq!(
            first.line,
            line_of(&bytes, needle),
            "{c}/{s}/{name}: {first:?}"
        );
        assert_eq!(first.path, path, "{c}/{s}/{name}: {first:?}");
        count += 1;
    }
    assert_eq!(count, 36 * 5);
}

#[test]
fn reports_libxml2_messages_with_line_and_path() {
    let bytes = fixture("4.2", "P2000", "invalid-bad-institution-id.xml");
    let findings = validate("4.2", "P2000", &bytes).unwrap();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].line, 6);
    assert_eq!(
        findings[0].column, 7,
        "column of the start tag, libxml2 gives none"
    );
    assert_eq!(findings[0].path, "/P2000/Header/Sender/InstitutionID");
    assert!(
        findings[0].message.contains("'NO-NAVAT07'"),
        "{}",
        findings[0].message
    );
    assert!(
        findings[0].message.contains("pattern"),
        "{}",
        findings[0].message
    );

    let bytes = fixture("4.2", "P2000", "invalid-bad-enumeration.xml");
    let findings = validate("4.2", "P2000", &bytes).unwrap();
    assert_eq!(findings[0].line, 18);
    assert_eq!(findings[0].path, "/P2000/Person/Sex");
    assert!(
        findings[0].message.contains("enumeration"),
        "{}",
        findings[0].message
    );

    let bytes = fixture("4.1", "A009", "invalid-missing-element.xml");
    let findings = validate("4.1", "A009", &bytes).unwrap();
    assert_eq!(findings[0].path, "/A009/Person/Nationality");
    assert!(
        findings[0].message.contains("DateOfBirth"),
        "{}",
        findings[0].message
    );
}

#[test]
fn refuses_wrong_namespace_and_wrong_root_as_findings() {
    let bytes = fixture("4.2", "P2000", "invalid-wrong-namespace.xml");
    let findings = validate("4.2", "P2000", &bytes).unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!((findings[0].line, findings[0].path.as_str()), (2, "/P2000"));
    assert!(findings[0]
        .message
        .contains("http://ec.europa.eu/eessi/ns/4_1/P2000"));
    assert!(findings[0]
        .message
        .contains("http://ec.europa.eu/eessi/ns/4_2/P2000"));

    // A valid P2000 submitted as P2100: wrong root element and wrong namespace.
    let bytes = fixture("4.2", "P2000", "valid.xml");
    let findings = validate("4.2", "P2100", &bytes).unwrap();
    assert_eq!(findings.len(), 2, "{findings:#?}");
    assert!(findings[0].message.contains("expected \"P2100\""));

    // A 4.2 document against the 4.1 schema of the same SED.
    let findings = validate("4.1", "P2000", &bytes).unwrap();
    assert!(findings[0].message.contains("root namespace"));
}

#[test]
fn cdm_4_2_accepts_place_of_birth_and_4_1_does_not() {
    let v42 = String::from_utf8(fixture("4.2", "X005", "valid.xml")).unwrap();
    assert!(v42.contains("<PlaceOfBirth>"));
    let as41 = v42.replace("/ns/4_2/", "/ns/4_1/");
    let findings = validate("4.1", "X005", as41.as_bytes()).unwrap();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].path, "/X005/Person/PlaceOfBirth");
}

#[test]
fn refuses_hostile_xml_before_libxml2() {
    let xxe = br#"<?xml version="1.0"?>
<!DOCTYPE P2000 [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<P2000 xmlns="http://ec.europa.eu/eessi/ns/4_2/P2000">&xxe;</P2000>"#;
    assert!(matches!(
        validate("4.2", "P2000", xxe),
        Err(XsdError::Xml(XmlError::Doctype))
    ));

    let laughs = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<P2000 xmlns="http://ec.europa.eu/eessi/ns/4_2/P2000">&lol3;</P2000>"#;
    assert!(matches!(
        validate("4.2", "P2000", laughs),
        Err(XsdError::Xml(XmlError::Doctype))
    ));

    // An entity reference without a DOCTYPE is refused too.
    let undeclared = br#"<P2000 xmlns="http://ec.europa.eu/eessi/ns/4_2/P2000">&lol;</P2000>"#;
    assert!(matches!(
        validate("4.2", "P2000", undeclared),
        Err(XsdError::Xml(_))
    ));

    let mut deep = String::from(r#"<P2000 xmlns="http://ec.europa.eu/eessi/ns/4_2/P2000">"#);
    deep.push_str(&"<a>".repeat(10_000));
    deep.push_str(&"</a>".repeat(10_000));
    deep.push_str("</P2000>");
    assert!(matches!(
        validate("4.2", "P2000", deep.as_bytes()),
        Err(XsdError::Xml(XmlError::TooDeep { .. }))
    ));

    assert!(matches!(
        validate("4.2", "P2000", b"\xff\xfe<P2000/>"),
        Err(XsdError::Xml(_))
    ));
    assert!(matches!(
        validate("4.2", "P2000", b"<P2000>"),
        Err(XsdError::Xml(_))
    ));
}

#[test]
fn refuses_unknown_schema() {
    let bytes = fixture("4.2", "P2000", "valid.xml");
    let err = validate("4.3", "P2000", &bytes).unwrap_err();
    assert!(matches!(err, XsdError::UnknownSchema { .. }), "{err}");
    assert_eq!(err.to_string(), "no schema for SED type P2000 in CDM 4.3");
}

#[test]
fn validates_from_async_callers() {
    let bytes: Arc<[u8]> = Arc::from(fixture("4.1", "A001", "valid.xml"));
    let findings =
        futures::executor::block_on(POOL.validate(cdm("4.1"), &sed("A001"), bytes)).unwrap();
    assert!(findings.is_empty());
}

#[test]
fn reports_a_broken_schema_on_first_use_naming_the_file_and_keeps_the_others() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("4.2")).unwrap();
    std::fs::write(
        dir.path().join("4.2/P2000.xsd"),
        r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="P2000" type="NoSuchType"/></xs:schema>"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("4.2/P2001.xsd"),
        r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="http://ec.europa.eu/eessi/ns/4_2/P2001" elementFormDefault="qualified"><xs:element name="P2001" type="xs:string"/></xs:schema>"#,
    )
    .unwrap();
    let pool = XsdPool::start(dir.path(), 1).unwrap();
    // Each use of the broken type reports it again; the good type in the same directory
    // still validates on the same thread.
    for _ in 0..2 {
        let err = pool
            .validate_blocking(cdm("4.2"), &sed("P2000"), Arc::from(&b"<P2000/>"[..]))
            .expect_err("must fail");
        assert!(matches!(err, XsdError::Uncompilable { .. }), "{err}");
        assert!(err.to_string().contains("4.2/P2000.xsd"), "{err}");
        assert!(err.to_string().contains("NoSuchType"), "{err}");
    }
    let good = br#"<P2001 xmlns="http://ec.europa.eu/eessi/ns/4_2/P2001">text</P2001>"#;
    assert_eq!(
        pool.validate_blocking(cdm("4.2"), &sed("P2001"), Arc::from(&good[..]))
            .unwrap(),
        Vec::<Finding>::new()
    );
    let bad = br#"<P2001 xmlns="http://ec.europa.eu/eessi/ns/4_2/P2001"><x/></P2001>"#;
    assert_eq!(
        pool.validate_blocking(cdm("4.2"), &sed("P2001"), Arc::from(&bad[..]))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn refuses_to_start_on_an_unreadable_schema_or_an_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("4.2")).unwrap();
    // A dangling link: listed as a schema, but it cannot be opened.
    std::os::unix::fs::symlink(
        dir.path().join("missing.xsd"),
        dir.path().join("4.2/P2000.xsd"),
    )
    .unwrap();
    let err = XsdPool::start(dir.path(), 1).err().expect("must fail");
    assert!(matches!(err, XsdError::Unreadable { .. }), "{err}");
    assert!(err.to_string().contains("4.2/P2000.xsd"), "{err}");

    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        XsdPool::start(empty.path(), 1),
        Err(XsdError::NoSchemas(_))
    ));
    assert!(matches!(
        XsdPool::start(&empty.path().join("missing"), 1),
        Err(XsdError::SchemaDir { .. })
    ));
    assert!(matches!(
        XsdPool::start(&root().join("schemas"), 0),
        Err(XsdError::NoThreads)
    ));
}

#[test]
fn bench_validations_validates_and_reports_a_rate() {
    // Speed belongs to `sedgate bench validate`; this checks the measuring works.
    let pool = XsdPool::start(&root().join("schemas"), 2).unwrap();
    let xml: Arc<[u8]> = Arc::from(fixture("4.2", "P2000", "valid-10k.xml"));
    let rate = bench_validations(&pool, cdm("4.2"), &sed("P2000"), xml, 0.2).unwrap();
    eprintln!(
        "startup {:?}, {rate:.0} validations/s of the 10 KB P2000",
        pool.startup_time()
    );
    assert!(rate.is_finite() && rate > 0.0, "{rate}");
}
