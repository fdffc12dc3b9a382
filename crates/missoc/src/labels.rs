//! The words around MISSOC content in English, French and German: the publication's
//! title and headings, page labels, country names, edition dates and the marker of a
//! missing translation. Pure values.

use sedgate_base::domain::CountryCode;

use super::model::{EditionId, Language};

/// Labels of the publication, the exports and the pages, in one language.
#[derive(Debug)]
pub struct Ui {
    pub language_name: &'static str,
    pub publication_title: &'static str,
    pub comparative_tables: &'static str,
    pub organisation: &'static str,
    pub contents: &'static str,
    pub edition: &'static str,
    pub language: &'static str,
    pub table: &'static str,
    pub category: &'static str,
    pub title: &'static str,
    pub country: &'static str,
    pub countries: &'static str,
    pub categories: &'static str,
    pub tables: &'static str,
    pub no_entry: &'static str,
    pub missing_translation: &'static str,
    pub available_in: &'static str,
    pub legal_references: &'static str,
    pub last_changed: &'static str,
    pub compare: &'static str,
    pub show: &'static str,
    pub diff: &'static str,
    pub glossary: &'static str,
    pub editions: &'static str,
    pub log_out: &'static str,
    pub download: &'static str,
    pub institutions: &'static str,
    pub no_institutions: &'static str,
    pub from_edition: &'static str,
    pub to_edition: &'static str,
    pub before: &'static str,
    pub after: &'static str,
    pub added: &'static str,
    pub removed: &'static str,
    pub changed: &'static str,
    pub no_changes: &'static str,
    pub search: &'static str,
    pub term: &'static str,
    pub definition: &'static str,
    pub no_results: &'static str,
    pub state: &'static str,
    pub all_countries: &'static str,
    pub choose: &'static str,
    pub log_in: &'static str,
    pub token: &'static str,
    pub login_failed: &'static str,
    pub sample_data: &'static str,
}

const EN: Ui = Ui {
    language_name: "English",
    publication_title:
        "Social protection in the Member States of the EU, of the EEA and in Switzerland",
    comparative_tables: "MISSOC comparative tables",
    organisation: "Organisation of social protection",
    contents: "Contents",
    edition: "Edition",
    language: "Language",
    table: "Table",
    category: "Category",
    title: "Title",
    country: "Country",
    countries: "Countries",
    categories: "Categories",
    tables: "Tables",
    no_entry: "no entry",
    missing_translation: "missing translation",
    available_in: "available in",
    legal_references: "Legal references",
    last_changed: "changed in",
    compare: "Compare",
    show: "Show",
    diff: "Changes between editions",
    glossary: "Glossary",
    editions: "Editions",
    log_out: "Log out",
    download: "Download",
    institutions: "Competent institutions",
    no_institutions:
        "No institution of these countries in the institution repository for this sector.",
    from_edition: "From edition",
    to_edition: "To edition",
    before: "Before",
    after: "After",
    added: "added",
    removed: "removed",
    changed: "changed",
    no_changes: "No change between these editions for this choice.",
    search: "Search",
    term: "Term",
    definition: "Definition",
    no_results: "No term found.",
    state: "State",
    all_countries: "all countries",
    choose: "Choose countries and categories or tables, then press Show.",
    log_in: "Log in",
    token: "Access token",
    login_failed: "This token is not valid.",
    sample_data: "sample data",
};

const FR: Ui = Ui {
    language_name: "Français",
    publication_title:
        "La protection sociale dans les États membres de l'UE, de l'EEE et en Suisse",
    comparative_tables: "Tableaux comparatifs MISSOC",
    organisation: "Organisation de la protection sociale",
    contents: "Sommaire",
    edition: "Édition",
    language: "Langue",
    table: "Tableau",
    category: "Catégorie",
    title: "Intitulé",
    country: "Pays",
    countries: "Pays",
    categories: "Catégories",
    tables: "Tableaux",
    no_entry: "pas d'entrée",
    missing_translation: "traduction manquante",
    available_in: "disponible en",
    legal_references: "Références juridiques",
    last_changed: "modifié en",
    compare: "Comparer",
    show: "Afficher",
    diff: "Modifications entre éditions",
    glossary: "Glossaire",
    editions: "Éditions",
    log_out: "Se déconnecter",
    download: "Télécharger",
    institutions: "Institutions compétentes",
    no_institutions:
        "Aucune institution de ces pays dans le répertoire des institutions pour ce secteur.",
    from_edition: "De l'édition",
    to_edition: "À l'édition",
    before: "Avant",
    after: "Après",
    added: "ajouté",
    removed: "supprimé",
    changed: "modifié",
    no_changes: "Aucune modification entre ces éditions pour ce choix.",
    search: "Rechercher",
    term: "Terme",
    definition: "Définition",
    no_results: "Aucun terme trouvé.",
    state: "État",
    all_countries: "tous les pays",
    choose: "Choisissez des pays et des catégories ou des tableaux, puis appuyez sur Afficher.",
    log_in: "Se connecter",
    token: "Jeton d'accès",
    login_failed: "Ce jeton n'est pas valide.",
    sample_data: "données d'exemple",
};

const DE: Ui = Ui {
    language_name: "Deutsch",
    publication_title: "Sozialer Schutz in den Mitgliedstaaten der EU, des EWR und in der Schweiz",
    comparative_tables: "MISSOC-Vergleichstabellen",
    organisation: "Organisation des sozialen Schutzes",
    contents: "Inhalt",
    edition: "Ausgabe",
    language: "Sprache",
    table: "Tabelle",
    category: "Kategorie",
    title: "Titel",
    country: "Land",
    countries: "Länder",
    categories: "Kategorien",
    tables: "Tabellen",
    no_entry: "kein Eintrag",
    missing_translation: "Übersetzung fehlt",
    available_in: "vorhanden in",
    legal_references: "Rechtsgrundlagen",
    last_changed: "geändert in",
    compare: "Vergleichen",
    show: "Anzeigen",
    diff: "Änderungen zwischen Ausgaben",
    glossary: "Glossar",
    editions: "Ausgaben",
    log_out: "Abmelden",
    download: "Herunterladen",
    institutions: "Zuständige Träger",
    no_institutions: "Kein Träger dieser Länder im Institutionenverzeichnis für diesen Bereich.",
    from_edition: "Von Ausgabe",
    to_edition: "Bis Ausgabe",
    before: "Vorher",
    after: "Nachher",
    added: "hinzugefügt",
    removed: "entfernt",
    changed: "geändert",
    no_changes: "Keine Änderung zwischen diesen Ausgaben für diese Auswahl.",
    search: "Suchen",
    term: "Begriff",
    definition: "Definition",
    no_results: "Kein Begriff gefunden.",
    state: "Status",
    all_countries: "alle Länder",
    choose: "Wählen Sie Länder und Kategorien oder Tabellen und drücken Sie Anzeigen.",
    log_in: "Anmelden",
    token: "Zugangstoken",
    login_failed: "Dieses Token ist nicht gültig.",
    sample_data: "Beispieldaten",
};

pub fn ui(language: Language) -> &'static Ui {
    match language {
        Language::En => &EN,
        Language::Fr => &FR,
        Language::De => &DE,
    }
}

/// Country names in English, French and German, by EESSI code.
const COUNTRY_NAMES: [(&str, &str, &str, &str); 31] = [
    ("AT", "Austria", "Autriche", "Österreich"),
    ("BE", "Belgium", "Belgique", "Belgien"),
    ("BG", "Bulgaria", "Bulgarie", "Bulgarien"),
    ("CH", "Switzerland", "Suisse", "Schweiz"),
    ("CY", "Cyprus", "Chypre", "Zypern"),
    ("CZ", "Czechia", "Tchéquie", "Tschechien"),
    ("DE", "Germany", "Allemagne", "Deutschland"),
    ("DK", "Denmark", "Danemark", "Dänemark"),
    ("EE", "Estonia", "Estonie", "Estland"),
    ("EL", "Greece", "Grèce", "Griechenland"),
    ("ES", "Spain", "Espagne", "Spanien"),
    ("FI", "Finland", "Finlande", "Finnland"),
    ("FR", "France", "France", "Frankreich"),
    ("HR", "Croatia", "Croatie", "Kroatien"),
    ("HU", "Hungary", "Hongrie", "Ungarn"),
    ("IE", "Ireland", "Irlande", "Irland"),
    ("IS", "Iceland", "Islande", "Island"),
    ("IT", "Italy", "Italie", "Italien"),
    ("LI", "Liechtenstein", "Liechtenstein", "Liechtenstein"),
    ("LT", "Lithuania", "Lituanie", "Litauen"),
    ("LU", "Luxembourg", "Luxembourg", "Luxemburg"),
    ("LV", "Latvia", "Lettonie", "Lettland"),
    ("MT", "Malta", "Malte", "Malta"),
    ("NL", "Netherlands", "Pays-Bas", "Niederlande"),
    ("NO", "Norway", "Norvège", "Norwegen"),
    ("PL", "Poland", "Pologne", "Polen"),
    ("PT", "Portugal", "Portugal", "Portugal"),
    ("RO", "Romania", "Roumanie", "Rumänien"),
    ("SE", "Sweden", "Suède", "Schweden"),
    ("SI", "Slovenia", "Slovénie", "Slowenien"),
    ("SK", "Slovakia", "Slovaquie", "Slowakei"),
];

/// The country's name in `language`; its code for a country MISSOC does not cover.
pub fn country_name(country: &CountryCode, language: Language) -> String {
    let code = country.to_string();
    COUNTRY_NAMES
        .iter()
        .find(|(c, ..)| *c == code)
        .map(|(_, en, fr, de)| match language {
            Language::En => (*en).to_owned(),
            Language::Fr => (*fr).to_owned(),
            Language::De => (*de).to_owned(),
        })
        .unwrap_or(code)
}

/// An edition's date as the publication writes it: "1 July 2026", "1er juillet 2026",
/// "1. Juli 2026".
pub fn edition_date(edition: EditionId, language: Language) -> String {
    use chrono::Datelike;
    let d = edition.date();
    let january = d.month() == 1;
    match language {
        Language::En => format!(
            "1 {} {}",
            if january { "January" } else { "July" },
            d.year()
        ),
        Language::Fr => format!(
            "1er {} {}",
            if january { "janvier" } else { "juillet" },
            d.year()
        ),
        Language::De => format!(
            "1. {} {}",
            if january { "Januar" } else { "Juli" },
            d.year()
        ),
    }
}

/// A colon as the language writes it before a value (French puts a space before it).
pub fn colon(language: Language) -> &'static str {
    if language == Language::Fr {
        " :"
    } else {
        ":"
    }
}

/// What stands in place of a text that lacks a translation into `language`:
/// `[missing translation: available in fr, de]` (never the text of another language).
pub fn missing_marker(language: Language, available_in: &[Language]) -> String {
    let ui = ui(language);
    if available_in.is_empty() {
        return format!("[{}]", ui.missing_translation);
    }
    let codes: Vec<&str> = available_in.iter().map(|l| l.code()).collect();
    format!(
        "[{}{} {} {}]",
        ui.missing_translation,
        colon(language),
        ui.available_in,
        codes.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_missing_translations_in_each_language() {
        let avail = [Language::Fr, Language::De];
        assert_eq!(
            missing_marker(Language::En, &avail),
            "[missing translation: available in fr, de]"
        );
        assert_eq!(
            missing_marker(Language::Fr, &[Language::En]),
            "[traduction manquante : disponible en en]"
        );
        assert_eq!(
            missing_marker(Language::De, &[Language::En, Language::Fr]),
            "[Übersetzung fehlt: vorhanden in en, fr]"
        );
        assert_eq!(missing_marker(Language::En, &[]), "[missing translation]");
    }

    #[test]
    fn names_every_missoc_country_and_dates_editions() {
        for code in crate::model::MISSOC_COUNTRIES {
            let cc: CountryCode = code.parse().unwrap();
            assert_ne!(country_name(&cc, Language::De), *code, "{code}");
        }
        let at: CountryCode = "AT".parse().unwrap();
        assert_eq!(country_name(&at, Language::De), "Österreich");
        let e: EditionId = "2026-07-01".parse().unwrap();
        assert_eq!(edition_date(e, Language::En), "1 July 2026");
        assert_eq!(edition_date(e, Language::Fr), "1er juillet 2026");
        assert_eq!(edition_date(e.next(), Language::De), "1. Januar 2027");
    }
}
