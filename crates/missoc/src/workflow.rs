//! The MISSOC workflow as pure rules: who may read and write what, the edition and
//! change-set state machines, when an edition may be opened or published. The store
//! loads the current states, asks these functions, and saves what they allow.

use serde::Serialize;

use super::model::{
    missoc_country, CategoryCode, ChangeSetState, EditionId, EditionState, Language, ModelError,
    Role,
};
use crate::store::StoreError;
use sedgate_base::domain::CountryCode;

/// An authenticated MISSOC user (from a bearer token or a page session).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissocUser {
    pub id: String,
    pub name: String,
    #[serde(flatten)]
    pub role: Role,
}

/// Names one entry: (edition, country, category, language).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryKey {
    pub edition: EditionId,
    pub country: CountryCode,
    pub category: CategoryCode,
    pub language: Language,
}

impl std::fmt::Display for EntryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.edition, self.country, self.category, self.language
        )
    }
}

/// A role from its stored parts (`role` text, `country` for correspondents).
pub fn role_from_parts(role: &str, country: Option<&str>) -> Result<Role, ModelError> {
    match (role, country) {
        ("secretariat", None) => Ok(Role::Secretariat),
        ("reader", None) => Ok(Role::Reader),
        ("correspondent", Some(c)) => Ok(Role::Correspondent {
            country: missoc_country(c)?,
        }),
        ("correspondent", None) => Err(ModelError::Role(
            "correspondent without a country".to_owned(),
        )),
        (other, Some(_)) if other != "correspondent" => Err(ModelError::Role(format!(
            "{other} with a country (only correspondents have one)"
        ))),
        (other, _) => Err(ModelError::Role(other.to_owned())),
    }
}

/// The country stored with a role (correspondents only).
pub fn role_country(role: &Role) -> Option<&CountryCode> {
    match role {
        Role::Correspondent { country } => Some(country),
        _ => None,
    }
}

/// A step of a country's change set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeSetAction {
    /// The correspondent hands its set in.
    Submit,
    /// The secretariat accepts it.
    Accept,
    /// The secretariat returns it with a comment.
    SendBack,
    /// The secretariat restores the previous edition's entries for the country.
    CarryOver,
}

impl ChangeSetAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeSetAction::Submit => "submit",
            ChangeSetAction::Accept => "accept",
            ChangeSetAction::SendBack => "send_back",
            ChangeSetAction::CarryOver => "carry_over",
        }
    }
}

/// Everything the MISSOC workflow can refuse, and store failures underneath.
#[derive(Debug, thiserror::Error)]
pub enum MissocError {
    #[error("edition {0} does not exist")]
    UnknownEdition(EditionId),
    #[error("edition {0} is published and cannot change")]
    EditionPublished(EditionId),
    #[error("edition {edition} is {state}: {why}")]
    EditionNotEditable {
        edition: EditionId,
        state: EditionState,
        why: &'static str,
    },
    #[error("edition {0} exists already")]
    EditionExists(EditionId),
    #[error("edition {0} is not published yet; only one edition may be unpublished at a time")]
    UnpublishedEditionExists(EditionId),
    #[error("the next edition after {latest} is {expected}, not {given}")]
    NotNextEdition {
        latest: EditionId,
        expected: EditionId,
        given: EditionId,
    },
    #[error("edition {edition} has no earlier edition to carry over from")]
    NoPreviousEdition { edition: EditionId },
    #[error("an edition cannot go from {from} to {to}")]
    InvalidEditionTransition {
        from: EditionState,
        to: EditionState,
    },
    #[error("{} must be accepted or carried over before publishing: {}",
        if .blocking.len() == 1 { "one change set" } else { "change sets" },
        .blocking.iter().map(|(c, s)| format!("{c} ({s})")).collect::<Vec<_>>().join(", "))]
    PublishBlocked {
        blocking: Vec<(CountryCode, ChangeSetState)>,
    },
    #[error("a {role} may not {action}")]
    RoleNotPermitted {
        role: &'static str,
        action: &'static str,
    },
    #[error("this user may only edit {own}, not {country}")]
    CountryNotPermitted {
        own: CountryCode,
        country: CountryCode,
    },
    #[error("{country} has no change set in edition {edition}")]
    UnknownChangeSet {
        edition: EditionId,
        country: CountryCode,
    },
    #[error("the change set of {country} is {state} and cannot {action}")]
    InvalidChangeSetTransition {
        country: CountryCode,
        state: ChangeSetState,
        action: &'static str,
    },
    #[error(
        "the change set of {country} is {state}: only a draft or a sent-back set can be edited"
    )]
    ChangeSetNotEditable {
        country: CountryCode,
        state: ChangeSetState,
    },
    #[error("sending a change set back needs a comment")]
    CommentRequired,
    #[error("unknown category \"{0}\"")]
    UnknownCategory(CategoryCode),
    #[error("{country} has no {category} entry in {language} in edition {edition}{}",
        if .available_in.is_empty() { String::new() } else {
            format!(" (available in {})", .available_in.iter().map(|l| l.code()).collect::<Vec<_>>().join(", "))
        })]
    UnknownEntry {
        edition: EditionId,
        country: CountryCode,
        category: CategoryCode,
        language: Language,
        available_in: Vec<Language>,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Dataset(#[from] super::dataset::DatasetErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn not_permitted(role: &Role, action: &'static str) -> MissocError {
    MissocError::RoleNotPermitted {
        role: role.name(),
        action,
    }
}

/// Readers see published editions only; the others see every edition. An edition a user
/// may not see does not exist for them.
pub fn may_read(role: &Role, state: EditionState) -> bool {
    !matches!(role, Role::Reader) || state == EditionState::Published
}

/// The secretariat only.
pub fn require_secretariat(role: &Role, action: &'static str) -> Result<(), MissocError> {
    match role {
        Role::Secretariat => Ok(()),
        _ => Err(not_permitted(role, action)),
    }
}

/// The review (change-set states, comments, missing translations): secretariat and
/// correspondents.
pub fn may_review(role: &Role) -> Result<(), MissocError> {
    match role {
        Role::Reader => Err(not_permitted(role, "see the review of an edition")),
        _ => Ok(()),
    }
}

/// May `role` write `country`'s entries of `edition` (in `state`), whose change set is
/// `set` (`None`: the country has none yet)? Only correspondents write entries, their own
/// country only, while the edition is open — or in review for a set sent back to them.
pub fn check_edit(
    role: &Role,
    edition: EditionId,
    state: EditionState,
    country: &CountryCode,
    set: Option<ChangeSetState>,
) -> Result<(), MissocError> {
    let own = match role {
        Role::Correspondent { country } => country,
        _ => return Err(not_permitted(role, "edit entries")),
    };
    if own != country {
        return Err(MissocError::CountryNotPermitted {
            own: own.clone(),
            country: country.clone(),
        });
    }
    match state {
        EditionState::Published => return Err(MissocError::EditionPublished(edition)),
        EditionState::InReview if set != Some(ChangeSetState::SentBack) => {
            return Err(MissocError::EditionNotEditable {
                edition,
                state,
                why: "in review, only a change set sent back can be edited",
            })
        }
        _ => {}
    }
    match set {
        None | Some(ChangeSetState::Draft) | Some(ChangeSetState::SentBack) => Ok(()),
        Some(state) => Err(MissocError::ChangeSetNotEditable {
            country: country.clone(),
            state,
        }),
    }
}

/// The next state of a change set, if `role` may take `action` on it now.
pub fn next_change_set_state(
    role: &Role,
    edition: EditionId,
    edition_state: EditionState,
    country: &CountryCode,
    current: ChangeSetState,
    action: ChangeSetAction,
) -> Result<ChangeSetState, MissocError> {
    if edition_state == EditionState::Published {
        return Err(MissocError::EditionPublished(edition));
    }
    match action {
        ChangeSetAction::Submit => match role {
            Role::Correspondent { country: own } if own != country => {
                return Err(MissocError::CountryNotPermitted {
                    own: own.clone(),
                    country: country.clone(),
                })
            }
            Role::Correspondent { .. } => {}
            _ => return Err(not_permitted(role, "submit a change set")),
        },
        _ => require_secretariat(role, "review change sets")?,
    }
    use ChangeSetState as S;
    let next = match (action, current) {
        (ChangeSetAction::Submit, S::Draft | S::SentBack) => S::Submitted,
        (ChangeSetAction::Accept, S::Submitted) => S::Accepted,
        (ChangeSetAction::SendBack, S::Submitted) => S::SentBack,
        (ChangeSetAction::CarryOver, S::Draft | S::Submitted | S::SentBack) => S::CarriedOver,
        _ => {
            return Err(MissocError::InvalidChangeSetTransition {
                country: country.clone(),
                state: current,
                action: action.as_str(),
            })
        }
    };
    Ok(next)
}

/// May `new` be opened, given the latest edition (and its state) and the oldest unpublished
/// one? Only one edition may be unpublished at a time, and the new one follows the latest.
pub fn check_open(
    latest: Option<(EditionId, EditionState)>,
    unpublished: Option<EditionId>,
    new: EditionId,
) -> Result<(), MissocError> {
    let Some((latest, _)) = latest else {
        return Ok(());
    };
    if latest == new {
        return Err(MissocError::EditionExists(new));
    }
    if let Some(unpublished) = unpublished {
        return Err(MissocError::UnpublishedEditionExists(unpublished));
    }
    let expected = latest.next();
    if new != expected {
        return Err(MissocError::NotNextEdition {
            latest,
            expected,
            given: new,
        });
    }
    Ok(())
}

/// May an edition file for `edition` in `state` be imported, given the stored edition of
/// that date (its state) and the oldest unpublished edition? A published edition is never
/// replaced; an unpublished one may be. No import may leave two editions unpublished, nor
/// a published edition after an unpublished one.
pub fn check_import(
    edition: EditionId,
    state: EditionState,
    existing: Option<EditionState>,
    unpublished: Option<EditionId>,
) -> Result<(), MissocError> {
    if existing == Some(EditionState::Published) {
        return Err(MissocError::EditionPublished(edition));
    }
    match unpublished {
        Some(other)
            if other != edition && (state != EditionState::Published || edition > other) =>
        {
            Err(MissocError::UnpublishedEditionExists(other))
        }
        _ => Ok(()),
    }
}

/// Moves between open and in review (publishing has its own check).
pub fn check_edition_transition(
    edition: EditionId,
    from: EditionState,
    to: EditionState,
) -> Result<(), MissocError> {
    use EditionState as E;
    match (from, to) {
        (E::Published, _) => Err(MissocError::EditionPublished(edition)),
        (E::Open, E::InReview) | (E::InReview, E::Open) => Ok(()),
        _ => Err(MissocError::InvalidEditionTransition { from, to }),
    }
}

/// An edition is published only from review, and only when every country's change set is
/// accepted or carried over.
pub fn check_publish(
    edition: EditionId,
    state: EditionState,
    sets: &[(CountryCode, ChangeSetState)],
) -> Result<(), MissocError> {
    match state {
        EditionState::Published => return Err(MissocError::EditionPublished(edition)),
        EditionState::Open => {
            return Err(MissocError::InvalidEditionTransition {
                from: state,
                to: EditionState::Published,
            })
        }
        EditionState::InReview => {}
    }
    let blocking: Vec<_> = sets
        .iter()
        .filter(|(_, s)| !s.is_final())
        .cloned()
        .collect();
    if blocking.is_empty() {
        Ok(())
    } else {
        Err(MissocError::PublishBlocked { blocking })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc(c: &str) -> CountryCode {
        c.parse().unwrap()
    }
    fn ed(e: &str) -> EditionId {
        e.parse().unwrap()
    }
    fn at() -> Role {
        Role::Correspondent { country: cc("AT") }
    }

    #[test]
    fn a_correspondent_edits_its_own_country_only() {
        let e = ed("2026-07-01");
        assert!(check_edit(&at(), e, EditionState::Open, &cc("AT"), None).is_ok());
        assert!(matches!(
            check_edit(&at(), e, EditionState::Open, &cc("DE"), None),
            Err(MissocError::CountryNotPermitted { .. })
        ));
        assert!(matches!(
            check_edit(&Role::Secretariat, e, EditionState::Open, &cc("AT"), None),
            Err(MissocError::RoleNotPermitted { .. })
        ));
        assert!(matches!(
            check_edit(&Role::Reader, e, EditionState::Open, &cc("AT"), None),
            Err(MissocError::RoleNotPermitted { .. })
        ));
    }

    #[test]
    fn edits_need_an_open_edition_and_an_editable_set() {
        let e = ed("2026-07-01");
        let edit = |state, set| check_edit(&at(), e, state, &cc("AT"), set);
        assert!(edit(EditionState::Open, Some(ChangeSetState::Draft)).is_ok());
        assert!(edit(EditionState::Open, Some(ChangeSetState::SentBack)).is_ok());
        assert!(edit(EditionState::InReview, Some(ChangeSetState::SentBack)).is_ok());
        assert!(matches!(
            edit(EditionState::InReview, Some(ChangeSetState::Draft)),
            Err(MissocError::EditionNotEditable { .. })
        ));
        assert!(matches!(
            edit(EditionState::Open, Some(ChangeSetState::Submitted)),
            Err(MissocError::ChangeSetNotEditable { .. })
        ));
        assert!(matches!(
            edit(EditionState::Published, Some(ChangeSetState::Draft)),
            Err(MissocError::EditionPublished(_))
        ));
    }

    #[test]
    fn change_sets_follow_their_state_machine() {
        let e = ed("2026-07-01");
        let step = |role: &Role, from, action| {
            next_change_set_state(role, e, EditionState::Open, &cc("AT"), from, action)
        };
        use ChangeSetAction as A;
        use ChangeSetState as S;
        assert_eq!(step(&at(), S::Draft, A::Submit).unwrap(), S::Submitted);
        assert_eq!(
            step(&Role::Secretariat, S::Submitted, A::SendBack).unwrap(),
            S::SentBack
        );
        assert_eq!(step(&at(), S::SentBack, A::Submit).unwrap(), S::Submitted);
        assert_eq!(
            step(&Role::Secretariat, S::Submitted, A::Accept).unwrap(),
            S::Accepted
        );
        assert_eq!(
            step(&Role::Secretariat, S::Draft, A::CarryOver).unwrap(),
            S::CarriedOver
        );
        assert!(matches!(
            step(&Role::Secretariat, S::Draft, A::Accept),
            Err(MissocError::InvalidChangeSetTransition { .. })
        ));
        assert!(matches!(
            step(&Role::Secretariat, S::Accepted, A::CarryOver),
            Err(MissocError::InvalidChangeSetTransition { .. })
        ));
        assert!(matches!(
            step(&at(), S::Submitted, A::Accept),
            Err(MissocError::RoleNotPermitted { .. })
        ));
        let de = Role::Correspondent { country: cc("DE") };
        assert!(matches!(
            step(&de, S::Draft, A::Submit),
            Err(MissocError::CountryNotPermitted { .. })
        ));
        assert!(matches!(
            next_change_set_state(
                &Role::Secretariat,
                e,
                EditionState::Published,
                &cc("AT"),
                S::Submitted,
                A::Accept
            ),
            Err(MissocError::EditionPublished(_))
        ));
    }

    #[test]
    fn one_unpublished_edition_at_a_time_and_the_next_one_only() {
        assert!(check_open(None, None, ed("2026-01-01")).is_ok());
        let latest = Some((ed("2026-01-01"), EditionState::Published));
        assert!(check_open(latest, None, ed("2026-07-01")).is_ok());
        assert!(matches!(
            check_open(latest, Some(ed("2025-07-01")), ed("2026-07-01")),
            Err(MissocError::UnpublishedEditionExists(_))
        ));
        assert!(matches!(
            check_open(latest, None, ed("2027-01-01")),
            Err(MissocError::NotNextEdition { .. })
        ));
        assert!(matches!(
            check_open(latest, None, ed("2026-01-01")),
            Err(MissocError::EditionExists(_))
        ));
        assert!(matches!(
            check_open(
                Some((ed("2026-01-01"), EditionState::Open)),
                Some(ed("2026-01-01")),
                ed("2026-07-01")
            ),
            Err(MissocError::UnpublishedEditionExists(_))
        ));
    }

    #[test]
    fn imports_never_replace_a_published_edition_nor_make_two_unpublished() {
        use EditionState::{InReview, Open, Published};
        let (e1, e2, e3) = (ed("2026-01-01"), ed("2026-07-01"), ed("2027-01-01"));
        assert!(check_import(e1, Published, None, None).is_ok());
        assert!(check_import(e1, Open, None, None).is_ok());
        assert!(matches!(
            check_import(e1, Published, Some(Published), None),
            Err(MissocError::EditionPublished(_))
        ));
        // The open edition itself may be replaced, published or not.
        assert!(check_import(e2, Open, Some(Open), Some(e2)).is_ok());
        assert!(check_import(e2, Published, Some(InReview), Some(e2)).is_ok());
        // History before the open edition may come in published; nothing else.
        assert!(check_import(e1, Published, None, Some(e2)).is_ok());
        assert!(matches!(
            check_import(e3, Published, None, Some(e2)),
            Err(MissocError::UnpublishedEditionExists(_))
        ));
        assert!(matches!(
            check_import(e1, Open, None, Some(e2)),
            Err(MissocError::UnpublishedEditionExists(_))
        ));
    }

    #[test]
    fn publishing_needs_review_and_every_set_final() {
        let e = ed("2026-07-01");
        let sets = vec![
            (cc("AT"), ChangeSetState::Accepted),
            (cc("DE"), ChangeSetState::Draft),
            (cc("FR"), ChangeSetState::CarriedOver),
        ];
        match check_publish(e, EditionState::InReview, &sets) {
            Err(e @ MissocError::PublishBlocked { .. }) => {
                assert!(e.to_string().contains("DE (draft)"), "{e}");
                assert!(!e.to_string().contains("AT"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        assert!(check_publish(e, EditionState::InReview, &sets[..1]).is_ok());
        assert!(check_publish(e, EditionState::Open, &sets[..1]).is_err());
        assert!(matches!(
            check_publish(e, EditionState::Published, &[]),
            Err(MissocError::EditionPublished(_))
        ));
        assert!(check_edition_transition(e, EditionState::Open, EditionState::InReview).is_ok());
        assert!(check_edition_transition(e, EditionState::Published, EditionState::Open).is_err());
    }

    #[test]
    fn readers_see_published_editions_only() {
        assert!(may_read(&Role::Reader, EditionState::Published));
        assert!(!may_read(&Role::Reader, EditionState::Open));
        assert!(!may_read(&Role::Reader, EditionState::InReview));
        assert!(may_read(&at(), EditionState::Open));
        assert!(may_read(&Role::Secretariat, EditionState::InReview));
    }

    #[test]
    fn roles_round_trip_their_stored_parts() {
        assert_eq!(role_from_parts("correspondent", Some("AT")).unwrap(), at());
        assert_eq!(role_from_parts("reader", None).unwrap(), Role::Reader);
        assert!(role_from_parts("correspondent", None).is_err());
        assert!(role_from_parts("correspondent", Some("UK")).is_err());
        assert!(role_from_parts("reader", Some("AT")).is_err());
        assert!(role_from_parts("admin", None).is_err());
    }
}
