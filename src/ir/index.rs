//! The in-memory IR index: lookups by id and country, and paged search, built once from a
//! snapshot of the store and swapped whole when the IR changes.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::domain::{BucRole, BucType, CountryCode, InstitutionId};
use crate::ir::model::{AccessPoint, Institution, IrSnapshot};

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
            || self.names.iter().any(|name| {
                word_starts(name).any(|start| name[start..].starts_with(q))
            })
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
            by_country.entry(inst.country.clone()).or_default().push(pos);
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
