//! The in-memory IR index: lookups by id and country, and paged search, built once from a
//! snapshot of the store and swapped whole when the IR changes.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::ir::model::{AccessPoint, Institution, IrSnapshot};
use sedgate_base::domain::{BucRole, BucType, CountryCode, InstitutionId};

/// An immutable index over one IR snapshot.
#[derive(Debug, Clone, Default)]
pub struct IrIndex {
    /// Sorted by id, so every list of positions below is in id order too.
    institutions: Vec<Institution>,
    /// Lower-cased texts that `SearchQuery::q` matches, one per institution.
    search_texts: Vec<SearchText>,
    by_id: HashMap<InstitutionId, usize>,
    by_country: HashMap<CountryCode, Vec<usize>>,
    by_buc: HashMap<BucType, Vec<usize>>,
    access_points: HashMap<CountryCode, AccessPoint>,
}

#[derive(Debug, Clone)]
struct SearchText {
    id: String,
    local: String,
    acronym: String,
    names: Vec<String>,
}

impl SearchText {
    fn new(inst: &Institution) -> Self {
        let id = inst.id.as_str().to_lowercase();
        let local = id.split_once(':').map_or("", |(_, l)| l).to_owned();
        Self {
            id,
            local,
            acronym: inst.acronym.as_deref().unwrap_or_default().to_lowercase(),
            names: inst.names.values().map(|n| n.to_lowercase()).collect(),
        }
    }

    /// `q` (already lower-cased) is a prefix of the id, of its local part, of the acronym
    /// or of a name from the start of any of its words.
    fn matches(&self, q: &str) -> bool {
        self.id.starts_with(q)
            || self.local.starts_with(q)
            || self.acronym.starts_with(q)
            || self
                .names
                .iter()
                .any(|name| word_starts(name).any(|start| name[start..].starts_with(q)))
    }
}

/// Byte offsets where a word begins: an alphanumeric character at the start or after a
/// non-alphanumeric one.
fn word_starts(text: &str) -> impl Iterator<Item = usize> + '_ {
    let mut previous_alnum = false;
    text.char_indices().filter_map(move |(i, c)| {
        let starts = c.is_alphanumeric() && !previous_alnum;
        previous_alnum = c.is_alphanumeric();
        starts.then_some(i)
    })
}

/// A search over the IR. All given filters must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    pub country: Option<CountryCode>,
    /// Institutions holding a competence for this BUC.
    pub buc: Option<BucType>,
    /// With `buc`: a competence for that BUC in this role; alone: any competence in this role.
    pub role: Option<BucRole>,
    /// Case-insensitive prefix of the id, of the part after the colon, of the acronym, or of
    /// a name from the start of any word.
    pub q: Option<String>,
    /// Only institutions active on this date (EESSI-ready, valid), and with `buc`/`role` only
    /// competences usable on it. Without it, competences match whatever their dates.
    pub on: Option<DateTime<Utc>>,
    pub offset: usize,
    pub limit: usize,
}

/// One page of results, sorted by id; `total` counts all matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPage<'a> {
    pub total: usize,
    pub items: Vec<&'a Institution>,
}

impl IrIndex {
    /// Builds the index. Ids are unique in the store; should a snapshot hold one twice, the
    /// first occurrence is kept. For each country the last access point wins.
    pub fn build(snapshot: IrSnapshot) -> IrIndex {
        let IrSnapshot {
            mut institutions,
            access_points,
        } = snapshot;
        institutions.sort_by(|a, b| a.id.cmp(&b.id));
        institutions.dedup_by(|later, first| later.id == first.id);

        let mut by_id = HashMap::with_capacity(institutions.len());
        let mut by_country: HashMap<CountryCode, Vec<usize>> = HashMap::new();
        let mut by_buc: HashMap<BucType, Vec<usize>> = HashMap::new();
        for (pos, inst) in institutions.iter().enumerate() {
            by_id.insert(inst.id.clone(), pos);
            by_country
                .entry(inst.country.clone())
                .or_default()
                .push(pos);
            for competence in &inst.competences {
                let list = by_buc.entry(competence.buc.clone()).or_default();
                // Competences of one institution come together: one entry per BUC.
                if list.last() != Some(&pos) {
                    list.push(pos);
                }
            }
        }
        let search_texts = institutions.iter().map(SearchText::new).collect();
        let access_points = access_points
            .into_iter()
            .map(|ap| (ap.country.clone(), ap))
            .collect();
        IrIndex {
            institutions,
            search_texts,
            by_id,
            by_country,
            by_buc,
            access_points,
        }
    }

    pub fn get(&self, id: &InstitutionId) -> Option<&Institution> {
        self.by_id.get(id).map(|&pos| &self.institutions[pos])
    }

    pub fn access_point(&self, country: &CountryCode) -> Option<&AccessPoint> {
        self.access_points.get(country)
    }

    pub fn len(&self) -> usize {
        self.institutions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.institutions.is_empty()
    }

    /// All institutions, sorted by id.
    pub fn institutions(&self) -> &[Institution] {
        &self.institutions
    }

    /// All access points, sorted by country.
    pub fn access_points(&self) -> Vec<&AccessPoint> {
        let mut all: Vec<&AccessPoint> = self.access_points.values().collect();
        all.sort_by(|a, b| a.country.cmp(&b.country));
        all
    }

    /// Institutions (of `country`, if given) holding a competence for any BUC whose name
    /// starts with `prefix` (e.g. `P_BUC_`), sorted by id.
    pub fn competent_for_buc_prefix(
        &self,
        prefix: &str,
        country: Option<&CountryCode>,
    ) -> Vec<&Institution> {
        let mut positions: Vec<usize> = self
            .by_buc
            .iter()
            .filter(|(buc, _)| buc.as_str().starts_with(prefix))
            .flat_map(|(_, list)| list.iter().copied())
            .collect();
        positions.sort_unstable();
        positions.dedup();
        positions
            .into_iter()
            .map(|pos| &self.institutions[pos])
            .filter(|inst| country.is_none_or(|c| c == &inst.country))
            .collect()
    }

    pub fn search(&self, query: &SearchQuery) -> SearchPage<'_> {
        let q = query
            .q
            .as_deref()
            .map(|q| q.trim().to_lowercase())
            .filter(|q| !q.is_empty());
        // Start from the smallest indexed list the filters allow.
        let mut lists: Vec<&[usize]> = Vec::new();
        if let Some(country) = &query.country {
            lists.push(self.by_country.get(country).map_or(&[], Vec::as_slice));
        }
        if let Some(buc) = &query.buc {
            lists.push(self.by_buc.get(buc).map_or(&[], Vec::as_slice));
        }
        let candidates: Box<dyn Iterator<Item = usize> + '_> =
            match lists.into_iter().min_by_key(|list| list.len()) {
                Some(list) => Box::new(list.iter().copied()),
                None => Box::new(0..self.institutions.len()),
            };

        let mut total = 0;
        let mut items = Vec::new();
        for pos in candidates {
            if !self.matches(pos, query, q.as_deref()) {
                continue;
            }
            if total >= query.offset && items.len() < query.limit {
                items.push(&self.institutions[pos]);
            }
            total += 1;
        }
        SearchPage { total, items }
    }

    fn matches(&self, pos: usize, query: &SearchQuery, q: Option<&str>) -> bool {
        let inst = &self.institutions[pos];
        if query.country.as_ref().is_some_and(|c| c != &inst.country) {
            return false;
        }
        if let Some(on) = query.on {
            if !(inst.eessi_ready && inst.is_valid_on(on)) {
                return false;
            }
        }
        if query.buc.is_some() || query.role.is_some() {
            let competent = inst.competences.iter().any(|c| {
                query.buc.as_ref().is_none_or(|b| b == &c.buc)
                    && query.role.is_none_or(|r| r == c.role)
                    && query.on.is_none_or(|on| c.is_usable_on(on))
            });
            if !competent {
                return false;
            }
        }
        q.is_none_or(|q| self.search_texts[pos].matches(q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::model::Competence;
    use crate::ir::test_data::{id, utc, REAL_INDEX, REAL_SNAPSHOT};

    fn ids<'a>(page: &SearchPage<'a>) -> Vec<&'a str> {
        page.items.iter().map(|i| i.id.as_str()).collect()
    }

    fn query() -> SearchQuery {
        SearchQuery {
            limit: 50,
            ..SearchQuery::default()
        }
    }

    #[test]
    fn looks_up_institutions_and_access_points() {
        let index = &*REAL_INDEX;
        assert_eq!(index.len(), 7455 + 49);
        let dvsv = index.get(&id("AT:9900")).unwrap();
        assert_eq!(dvsv.acronym.as_deref(), Some("Dachverband"));
        assert!(index.get(&id("AT:9999")).is_none());
        let at = index.access_point(&"AT".parse().unwrap()).unwrap();
        assert_eq!(at.endpoint_url, "https://as4.at.example/as4");
        assert!(index.access_point(&"IS".parse().unwrap()).is_none());
        let countries: Vec<&str> = index
            .access_points()
            .iter()
            .map(|a| a.country.as_str())
            .collect();
        assert_eq!(countries, ["AT", "BE", "PL", "SE"]);
    }

    #[test]
    fn searches_by_country() {
        let page = REAL_INDEX.search(&SearchQuery {
            country: Some("IS".parse().unwrap()),
            ..query()
        });
        assert_eq!(page.total, 4);
        assert_eq!(
            ids(&page),
            [
                "IS:4804080550",
                "IS:5402696029",
                "IS:6602692669",
                "IS:7005942039"
            ]
        );
        let norway = REAL_INDEX.search(&SearchQuery {
            country: Some("NO".parse().unwrap()),
            offset: 530,
            limit: 10,
            ..query()
        });
        assert_eq!(
            norway.total,
            535 + 4,
            "CSV ids plus NO:NAVAT05-08 from the extract"
        );
        assert_eq!(norway.items.len(), 9);
        assert_eq!(
            ids(&norway)[5..],
            ["NO:NAVAT05", "NO:NAVAT06", "NO:NAVAT07", "NO:NAVAT08"]
        );
    }

    #[test]
    fn finds_institutions_competent_for_a_sector() {
        let no: CountryCode = "NO".parse().unwrap();
        let pensions = REAL_INDEX.competent_for_buc_prefix("P_BUC_", Some(&no));
        let by_buc = REAL_INDEX.search(&SearchQuery {
            country: Some(no.clone()),
            buc: Some("P_BUC_01".parse().unwrap()),
            limit: 10_000,
            ..query()
        });
        assert!(!pensions.is_empty());
        assert_eq!(
            pensions.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
            ids(&by_buc),
            "the extract holds P_BUC_01 only, so the sector is that BUC"
        );
        assert!(pensions.iter().all(|i| i.country == no));
        let unemployment = REAL_INDEX.competent_for_buc_prefix("UB_BUC_", None);
        assert!(unemployment.iter().all(|i| i
            .competences
            .iter()
            .any(|c| c.buc.as_str().starts_with("UB_BUC_"))));
        assert!(REAL_INDEX
            .competent_for_buc_prefix("ZZ_BUC_", None)
            .is_empty());
        let everywhere = REAL_INDEX.competent_for_buc_prefix("P_BUC_", None);
        assert!(everywhere.len() > pensions.len());
        assert!(
            everywhere.windows(2).all(|w| w[0].id < w[1].id),
            "sorted by id"
        );
    }

    #[test]
    fn searches_by_buc_and_role() {
        let page = REAL_INDEX.search(&SearchQuery {
            country: Some("NO".parse().unwrap()),
            buc: Some("P_BUC_01".parse().unwrap()),
            role: Some(BucRole::CaseOwner),
            ..query()
        });
        assert_eq!(
            ids(&page),
            [
                "NO:974652382",
                "NO:974760967",
                "NO:NAVAT05",
                "NO:NAVAT06",
                "NO:NAVAT07",
                "NO:NAVAT08"
            ]
        );
        let s_buc_21 = REAL_INDEX.search(&SearchQuery {
            buc: Some("S_BUC_21".parse().unwrap()),
            limit: 3,
            ..query()
        });
        assert_eq!(s_buc_21.total, 28);
        assert_eq!(ids(&s_buc_21), ["BE:rina1", "BE:rina2", "BE:rinadef1"]);
        let finland = REAL_INDEX.search(&SearchQuery {
            country: Some("FI".parse().unwrap()),
            buc: Some("S_BUC_21".parse().unwrap()),
            ..query()
        });
        assert_eq!(
            ids(&finland),
            [
                "FI:0100222222",
                "FI:0199000011",
                "FI:9999999901",
                "FI:9999999902"
            ]
        );
        // Only PL:PL390050ER holds P_BUC_03 as CounterParty without being EESSI-ready.
        let on = utc(2022, 1, 1, 0, 0, 0);
        let ready = REAL_INDEX.search(&SearchQuery {
            country: Some("PL".parse().unwrap()),
            buc: Some("P_BUC_03".parse().unwrap()),
            role: Some(BucRole::CounterParty),
            on: Some(on),
            ..query()
        });
        let any_date = REAL_INDEX.search(&SearchQuery {
            on: None,
            ..SearchQuery {
                country: Some("PL".parse().unwrap()),
                buc: Some("P_BUC_03".parse().unwrap()),
                role: Some(BucRole::CounterParty),
                ..query()
            }
        });
        assert!(ids(&any_date).contains(&"PL:PL390050ER"));
        assert!(!ids(&ready).contains(&"PL:PL390050ER"));
        assert_eq!(ready.total + 1, any_date.total);
        let unknown = REAL_INDEX.search(&SearchQuery {
            buc: Some("P_BUC_99".parse().unwrap()),
            ..query()
        });
        assert_eq!((unknown.total, unknown.items.len()), (0, 0));
    }

    #[test]
    fn searches_text_in_ids_acronyms_and_names() {
        let search = |q: &str, country: Option<&str>| {
            let page = REAL_INDEX.search(&SearchQuery {
                q: Some(q.to_owned()),
                country: country.map(|c| c.parse().unwrap()),
                ..query()
            });
            ids(&page)
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(search("dachverband", None), ["AT:9900"]);
        assert_eq!(search("at:99", None), ["AT:9900"]);
        assert_eq!(
            search("navat0", None),
            ["NO:NAVAT05", "NO:NAVAT06", "NO:NAVAT07", "NO:NAVAT08"]
        );
        assert_eq!(search("Social Insurance", Some("EE")), ["EE:70001975"]);
        // "ACC_Social Insurance Agency": a word starts after the underscore.
        assert_eq!(search("social insurance agency", Some("LV")), ["LV:0002"]);
        assert_eq!(search("ÖGK-W", None), ["AT:1100"]);
        assert!(search("ocial", Some("EE")).is_empty(), "not a word start");
    }

    #[test]
    fn searches_only_active_institutions_on_a_date() {
        let at_99 = |on| {
            REAL_INDEX
                .search(&SearchQuery {
                    q: Some("AT:99".to_owned()),
                    on: Some(on),
                    ..query()
                })
                .total
        };
        // AT:9900 was activated on 31 January 2021.
        assert_eq!(at_99(utc(2021, 1, 30, 23, 59, 59)), 0);
        assert_eq!(at_99(utc(2021, 1, 31, 0, 0, 0)), 1);
        let not_activated = REAL_INDEX.search(&SearchQuery {
            q: Some("BE:0206737385".to_owned()),
            on: Some(utc(2024, 1, 1, 0, 0, 0)),
            ..query()
        });
        assert_eq!(not_activated.total, 0);
    }

    #[test]
    fn indexes_ten_thousand_institutions() {
        let template = REAL_INDEX.get(&id("AT:9900")).unwrap().clone();
        let institutions: Vec<Institution> = (0..10_000)
            .map(|n| Institution {
                id: id(&format!("DE:X{n:05}")),
                country: "DE".parse().unwrap(),
                competences: template
                    .competences
                    .iter()
                    .take(20)
                    .cloned()
                    .collect::<Vec<Competence>>(),
                ..template.clone()
            })
            .collect();
        let snapshot = IrSnapshot {
            institutions,
            access_points: REAL_SNAPSHOT.access_points.clone(),
        };
        // How fast is `sedgate bench ir`'s business, not a test's.
        let index = IrIndex::build(snapshot);
        assert_eq!(index.len(), 10_000);
        let page = index.search(&SearchQuery {
            q: Some("de:x0999".to_owned()),
            ..query()
        });
        assert_eq!(page.total, 10);
    }
}
