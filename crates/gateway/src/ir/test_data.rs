//! Real IR data for the tests of this module: the seed files shipped in `seed/institutions/`
//! and the hand-written fixtures in `tests/fixtures/ir/`.

use std::collections::BTreeMap;
use std::path::Path;

use once_cell::sync::Lazy;

use crate::ir::import::{parse, ImportFormat};
use crate::ir::index::IrIndex;
use crate::ir::model::{Institution, InstitutionUpsert, IrSnapshot};
use sedgate_base::domain::InstitutionId;

pub fn seed(name: &str) -> Vec<u8> {
    read(&Path::new("seed/institutions").join(name))
}

pub fn fixture(name: &str) -> Vec<u8> {
    read(&Path::new("tests/fixtures/ir").join(name))
}

fn read(relative: &Path) -> Vec<u8> {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Applies upserts in order, as the store does.
pub fn merge<'a>(
    into: &mut BTreeMap<InstitutionId, Institution>,
    upserts: impl IntoIterator<Item = &'a InstitutionUpsert>,
) {
    for upsert in upserts {
        let merged = upsert.apply(into.get(&upsert.id));
        into.insert(upsert.id.clone(), merged);
    }
}

/// `Organisations.csv`, then `deltakere_p_buc_01_all.json`, plus the access points of
/// `tests/fixtures/ir/access-points.json` (SE, AT, PL, BE).
pub static REAL_SNAPSHOT: Lazy<IrSnapshot> = Lazy::new(|| {
    let mut institutions = BTreeMap::new();
    for (file, format) in [
        ("Organisations.csv", ImportFormat::OrganisationsCsv),
        ("deltakere_p_buc_01_all.json", ImportFormat::IrJson),
    ] {
        let parsed = parse(&seed(file), format).unwrap();
        assert_eq!(parsed.rejected, vec![], "{file}");
        merge(
            &mut institutions,
            parsed.institutions.iter().map(|(_, u)| u),
        );
    }
    let access_points = parse(
        &fixture("access-points.json"),
        ImportFormat::AccessPointsJson,
    )
    .unwrap()
    .access_points
    .into_iter()
    .map(|(_, ap)| ap)
    .collect();
    IrSnapshot {
        institutions: institutions.into_values().collect(),
        access_points,
    }
});

pub static REAL_INDEX: Lazy<IrIndex> = Lazy::new(|| IrIndex::build(REAL_SNAPSHOT.clone()));

pub fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

pub fn id(raw: &str) -> InstitutionId {
    raw.parse().unwrap()
}
