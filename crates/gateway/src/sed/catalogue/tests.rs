use super::*;
use once_cell::sync::Lazy;

fn seed() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("seed")
}

static CATALOGUE: Lazy<Catalogue> = Lazy::new(|| Catalogue::load(&seed()).expect("seed loads"));

fn v(s: &str) -> CdmVersion {
    s.parse().unwrap()
}

fn buc(cdm: &str, name: &str) -> &'static BucDefinition {
    CATALOGUE.buc(v(cdm), &name.parse().unwrap()).unwrap()
}

fn names(set: &BTreeSet<SedType>) -> Vec<&str> {
    set.iter().map(SedType::as_str).collect()
}

#[test]
fn loads_all_99_buc_types_for_both_versions() {
    assert_eq!(CATALOGUE.bucs(v("4.1")).len(), 99);
    assert_eq!(CATALOGUE.bucs(v("4.2")).len(), 99);
    assert!(CATALOGUE.bucs(v("4.3")).is_empty());
    // Exactly the 99 names of the EESSI BUC whitelist (BuC_Type_Per_Sektor.json).
    assert!(CATALOGUE
        .buc(v("4.2"), &"UB_BUC_04".parse().unwrap())
        .is_some());
    assert!(CATALOGUE
        .buc(v("4.2"), &"AD_BUC_01".parse().unwrap())
        .is_none());
}

#[test]
fn p_buc_01_starts_with_p2000_and_lists_who_may_send_what() {
    let p1 = buc("4.2", "P_BUC_01");
    assert_eq!(names(p1.starters()), ["P2000"]);
    assert!(p1.multilateral);
    assert_eq!(
        names(p1.follow_ups(BucRole::CounterParty)),
        [
            "H020", "H021", "H070", "H120", "H121", "P10000", "P5000", "P6000", "P8000", "P9000",
            "X005", "X006", "X007", "X009", "X010"
        ]
    );
    let owner = p1.may_send(BucRole::CaseOwner);
    for sed in ["P2000", "P3000", "P4000", "P7000", "P9000", "X009"] {
        assert!(owner.contains(&sed.parse().unwrap()), "PO may send {sed}");
    }
    // Only the case owner sends P3000, P4000, P7000 and the starter.
    for sed in ["P2000", "P3000", "P4000", "P7000"] {
        assert!(
            !p1.may_send(BucRole::CounterParty)
                .contains(&sed.parse().unwrap()),
            "{sed}"
        );
    }
    assert!(p1.contains(&"P6000".parse().unwrap()));
    assert!(!p1.contains(&"A001".parse().unwrap()));
    assert_eq!(buc("4.1", "P_BUC_01").starters(), p1.starters());
}

#[test]
fn la_buc_04_is_a_bilateral_a009_notification() {
    let la4 = buc("4.2", "LA_BUC_04");
    assert_eq!(names(la4.sed_types()), ["A009", "X001", "X002", "X007"]);
    assert_eq!(names(la4.starters()), ["A009"]);
    assert!(!la4.multilateral);
    assert_eq!(
        names(&la4.may_send(BucRole::CaseOwner)),
        ["A009", "X001", "X002", "X007"]
    );
    assert_eq!(
        names(la4.follow_ups(BucRole::CounterParty)),
        ["X002", "X007"]
    );
}

#[test]
fn keeps_document_variants_with_letter_suffixes_as_sed_types() {
    let aw = buc("4.2", "AW_BUC_01a");
    assert!(aw.contains(&"DA003A".parse().unwrap()));
    assert!(!aw.other_document_types().contains("DA003A"));
    assert_eq!(names(aw.starters()), ["DA001"]);
    let ub = buc("4.2", "UB_BUC_01");
    assert!(ub.contains(&"U001CB".parse().unwrap()));
    assert_eq!(names(ub.starters()), ["U001", "U001CB", "U003", "U005"]);
}

/// The header comments (`STARTERS=[..] POCREATED=[..] CPCREATED=[..]`), read here as raw
/// text, must agree with what the catalogue derives from the XML where they exist.
#[test]
fn derivation_agrees_with_the_buc_header_comments() {
    let list = |text: &str, key: &str| -> Option<BTreeSet<String>> {
        let start = text.find(&format!("{key}=["))? + key.len() + 2;
        let end = start + text[start..].find(']')?;
        Some(
            text[start..end]
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        )
    };
    // In 4.1 the CP definitions of AW_BUC_01b and AW_BUC_02 lack the trigger that lets the
    // counterparty create DA003A, which their comments list (fixed in 4.2).
    let known_gaps = [("4.1", "AW_BUC_01b"), ("4.1", "AW_BUC_02")];
    let mut checked = 0;
    for cdm in ["4.1", "4.2"] {
        for def in CATALOGUE.bucs(v(cdm)) {
            let file = seed()
                .join("bucs")
                .join(cdm)
                .join(format!("po_{}.xml", def.buc.as_str().to_lowercase()));
            let text = std::fs::read_to_string(&file).unwrap();
            let Some(starters) = list(&text, "STARTERS") else {
                continue;
            };
            let all_known = |set: BTreeSet<String>| -> BTreeSet<String> {
                set.into_iter()
                    .filter(|s| s.parse::<SedType>().is_ok())
                    .collect()
            };
            let derived = |s: &BTreeSet<SedType>| -> BTreeSet<String> {
                s.iter().map(|x| x.to_string()).collect()
            };
            assert_eq!(
                all_known(starters),
                derived(def.starters()),
                "{cdm} {}",
                def.buc
            );
            let po = all_known(list(&text, "POCREATED").unwrap());
            assert!(
                po.is_subset(&derived(&def.may_send(BucRole::CaseOwner))),
                "{cdm} {} PO",
                def.buc
            );
            let cp = list(&text, "CPCREATED").unwrap();
            let cp_ok = cp.iter().all(|s| {
                def.follow_ups(BucRole::CounterParty)
                    .iter()
                    .any(|x| x.as_str() == s)
                    || def.other_document_types().contains(s)
            });
            let gap = known_gaps.contains(&(cdm, def.buc.as_str()));
            assert!(cp_ok || gap, "{cdm} {} CP {cp:?}", def.buc);
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * 68, "BUCs whose PO file has a header comment");
}

#[test]
fn titles_in_english_french_and_german() {
    let t = |lang, key| CATALOGUE.title(lang, key);
    assert_eq!(t("en", "P_BUC_01"), Some("Old age pension claim"));
    assert_eq!(
        t("fr", "P_BUC_01"),
        Some("Demande de pension de vieillesse")
    );
    assert_eq!(t("de", "P_BUC_01"), Some("Antrag auf Altersrente"));
    assert_eq!(t("en", "P2000"), Some("Claim for old-age pension"));
    assert_eq!(t("fr", "P2000"), Some("Demande de pension de vieillesse"));
    assert_eq!(t("de", "P2000"), Some("Antrag auf Altersrente"));
    assert_eq!(t("en", "A001"), Some("Request for exception (Art. 16)"));
    assert_eq!(
        CATALOGUE.languages().collect::<Vec<_>>(),
        ["de", "en", "fr", "nb"]
    );
    // Missing is missing: no fallback to English.
    assert_eq!(t("nl", "P_BUC_01"), None);
    assert_eq!(t("en", "P3000"), None);
    for lang in ["en", "fr", "de", "nb"] {
        for def in CATALOGUE.bucs(v("4.2")) {
            assert!(t(lang, def.buc.as_str()).is_some(), "{lang} {}", def.buc);
        }
    }
}

#[test]
fn a_missing_title_stays_missing_in_a_new_language() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("titles.nl.toml"),
        "[buc]\nP_BUC_01 = \"Aanvraag ouderdomspensioen\"\n",
    )
    .unwrap();
    let cat = Catalogue::load_from(&seed().join("bucs"), dir.path()).unwrap();
    assert_eq!(
        cat.title("nl", "P_BUC_01"),
        Some("Aanvraag ouderdomspensioen")
    );
    assert_eq!(cat.title("nl", "P2000"), None);
    assert_eq!(cat.title("en", "P_BUC_01"), None);
}

#[test]
fn refuses_bad_title_files_and_bad_buc_folders() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("titles.en.toml"),
        "[buc]\nP_BUC_99 = \"x\"\n",
    )
    .unwrap();
    let err = Catalogue::load_from(&seed().join("bucs"), dir.path()).unwrap_err();
    assert!(
        matches!(err, CatalogueError::UnknownTitleKey { ref key, .. } if key == "P_BUC_99"),
        "{err}"
    );

    std::fs::write(dir.path().join("titles.en.toml"), "[bucs]\n").unwrap();
    let err = Catalogue::load_from(&seed().join("bucs"), dir.path()).unwrap_err();
    assert!(matches!(err, CatalogueError::Titles { .. }), "{err}");

    let bucs = tempfile::tempdir().unwrap();
    std::fs::create_dir(bucs.path().join("4.2")).unwrap();
    std::fs::copy(
        seed().join("bucs/4.2/po_la_buc_04.xml"),
        bucs.path().join("4.2/po_la_buc_04.xml"),
    )
    .unwrap();
    let err = Catalogue::load_from(bucs.path(), dir.path()).unwrap_err();
    assert!(
        matches!(err, CatalogueError::MissingRole { role: "CP", .. }),
        "{err}"
    );

    std::fs::create_dir(bucs.path().join("4.1")).unwrap();
    std::fs::copy(
        seed().join("bucs/4.2/cp_la_buc_04.xml"),
        bucs.path().join("4.1/cp_la_buc_04.xml"),
    )
    .unwrap();
    let err = Catalogue::load_from(bucs.path(), dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            CatalogueError::VersionMismatch { .. } | CatalogueError::MissingRole { .. }
        ),
        "{err}"
    );

    // Folders load in name order: without the mismatched 4.1, the bad 4.2 file is next.
    std::fs::remove_dir_all(bucs.path().join("4.1")).unwrap();
    std::fs::write(bucs.path().join("4.2/cp_la_buc_04.xml"), "<case/>").unwrap();
    let err = Catalogue::load_from(bucs.path(), dir.path()).unwrap_err();
    assert!(matches!(err, CatalogueError::NotABuc { .. }), "{err}");
}
