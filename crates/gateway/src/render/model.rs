//! What each element of a SED is, read from its XSD: a group of fields, free text, a date,
//! a country, or a value of an enumeration. The renderer uses it to pick the code table of a
//! value; the review report uses it to list every label a language must have.
//!
//! Only the XSD features our schemas use are understood (global and local elements,
//! named and anonymous complex and simple types, sequences, choices, includes); anything
//! else is read as free text, so an official schema dropped in still renders.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use sedgate_base::domain::{CdmVersion, SedType};
use sedgate_base::xml::{self as xml, Element, XmlError, XmlLimits};

const XS: &str = "http://www.w3.org/2001/XMLSchema";
/// Deeper type nesting than this is taken as a recursive type and cut.
const MAX_DEPTH: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not readable XML: {source}")]
    Xml { path: PathBuf, source: XmlError },
    #[error("{path}: no global element {root}")]
    NoRoot { path: PathBuf, root: String },
}

/// How the value of a leaf element is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    /// Has child elements.
    Group,
    Text,
    Date,
    /// A country code: shown with the country's name.
    Country,
    /// One of a closed list of codes: shown with the code's label (table named after
    /// the element).
    Code(Vec<String>),
}

/// One element declaration reachable from the SED's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    /// Path below the root, e.g. `Person/FamilyName`.
    pub path: String,
    /// The element's local name, e.g. `FamilyName`.
    pub name: String,
    pub kind: FieldKind,
}

/// The fields of one SED type, in schema order.
#[derive(Debug, Clone)]
pub struct SedModel {
    pub cdm: CdmVersion,
    pub sed: SedType,
    pub fields: Vec<FieldSpec>,
    by_path: HashMap<String, usize>,
}

impl SedModel {
    pub fn field(&self, path: &str) -> Option<&FieldSpec> {
        self.by_path.get(path).map(|&i| &self.fields[i])
    }
}

/// The global declarations of one schema and its includes.
#[derive(Default)]
struct Declarations {
    elements: HashMap<String, Element>,
    complex_types: HashMap<String, Element>,
    simple_types: HashMap<String, Element>,
}

/// Loads `<dir>/<cdm>/<SED>.xsd` for every CDM version folder and SED schema found.
pub fn load_models(dir: &Path) -> Result<BTreeMap<(CdmVersion, SedType), SedModel>, ModelError> {
    let mut models = BTreeMap::new();
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ModelError::Io { path, source }
    };
    for cdm in CdmVersion::ALL {
        let cdm_dir = dir.join(cdm.as_str());
        if !cdm_dir.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&cdm_dir).map_err(io(&cdm_dir))? {
            let path = entry.map_err(io(&cdm_dir))?.path();
            let Some(stem) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".xsd"))
            else {
                continue;
            };
            let Ok(sed) = stem.parse::<SedType>() else {
                continue;
            };
            models.insert((cdm, sed.clone()), load_model(&path, cdm, sed)?);
        }
    }
    Ok(models)
}

/// Reads one SED schema (with its includes) and lists its fields.
pub fn load_model(path: &Path, cdm: CdmVersion, sed: SedType) -> Result<SedModel, ModelError> {
    let mut decls = Declarations::default();
    let mut seen = Vec::new();
    read_schema(path, &mut decls, &mut seen)?;
    let root = decls
        .elements
        .get(sed.as_str())
        .ok_or_else(|| ModelError::NoRoot {
            path: path.to_owned(),
            root: sed.to_string(),
        })?;
    let mut fields = Vec::new();
    walk_children(&decls, root, "", 0, &mut fields);
    let by_path = fields
        .iter()
        .enumerate()
        .map(|(i, f): (usize, &FieldSpec)| (f.path.clone(), i))
        .collect();
    Ok(SedModel {
        cdm,
        sed,
        fields,
        by_path,
    })
}

fn read_schema(
    path: &Path,
    decls: &mut Declarations,
    seen: &mut Vec<PathBuf>,
) -> Result<(), ModelError> {
    if seen.iter().any(|p| p == path) {
        return Ok(());
    }
    seen.push(path.to_owned());
    let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
        path: path.to_owned(),
        source,
    })?;
    let doc = xml::parse(&bytes, &XmlLimits::default()).map_err(|source| ModelError::Xml {
        path: path.to_owned(),
        source,
    })?;
    for child in doc.root.elements() {
        let name = child.attr("name").map(str::to_owned);
        match (child.local.as_str(), name) {
            ("include", _) => {
                if let Some(location) = child.attr("schemaLocation") {
                    let base = path.parent().unwrap_or(Path::new("."));
                    read_schema(&base.join(location), decls, seen)?;
                }
            }
            ("element", Some(name)) => {
                decls.elements.insert(name, child.clone());
            }
            ("complexType", Some(name)) => {
                decls.complex_types.insert(name, child.clone());
            }
            ("simpleType", Some(name)) => {
                decls.simple_types.insert(name, child.clone());
            }
            _ => {}
        }
    }
    Ok(())
}

/// The local part of a QName; `xs:` names are XSD built-ins.
fn type_name(qname: &str) -> (bool, &str) {
    match qname.split_once(':') {
        Some((prefix, local)) => (prefix == "xs" || prefix == "xsd", local),
        None => (false, qname),
    }
}

fn walk_children(
    decls: &Declarations,
    complex_or_element: &Element,
    prefix: &str,
    depth: usize,
    out: &mut Vec<FieldSpec>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    for child in complex_or_element.elements() {
        if child.ns.as_deref() != Some(XS) {
            continue;
        }
        match child.local.as_str() {
            "complexType" | "sequence" | "choice" | "all" | "complexContent" | "extension" => {
                if child.local == "extension" {
                    if let Some(base) = child.attr("base") {
                        if let Some(t) = decls.complex_types.get(type_name(base).1) {
                            walk_children(decls, t, prefix, depth + 1, out);
                        }
                    }
                }
                walk_children(decls, child, prefix, depth + 1, out);
            }
            "element" => element(decls, child, prefix, depth, out),
            _ => {}
        }
    }
}

fn element(
    decls: &Declarations,
    decl: &Element,
    prefix: &str,
    depth: usize,
    out: &mut Vec<FieldSpec>,
) {
    let referenced = decl
        .attr("ref")
        .and_then(|r| decls.elements.get(type_name(r).1));
    let decl = referenced.unwrap_or(decl);
    let Some(name) = decl.attr("name") else {
        return;
    };
    let path = if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}/{name}")
    };
    if out.iter().any(|f| f.path == path) {
        return;
    }
    let position = out.len();
    out.push(FieldSpec {
        path: path.clone(),
        name: name.to_owned(),
        kind: FieldKind::Text,
    });
    let kind = if let Some(t) = decl.attr("type") {
        match type_name(t) {
            (true, "date") => FieldKind::Date,
            (true, _) => FieldKind::Text,
            (false, local) => {
                if let Some(complex) = decls.complex_types.get(local) {
                    walk_children(decls, complex, &path, depth + 1, out);
                    FieldKind::Group
                } else if let Some(simple) = decls.simple_types.get(local) {
                    simple_kind(decls, Some(local), simple, 0)
                } else {
                    FieldKind::Text
                }
            }
        }
    } else if let Some(complex) = decl.child(XS, "complexType") {
        walk_children(decls, complex, &path, depth + 1, out);
        FieldKind::Group
    } else if let Some(simple) = decl.child(XS, "simpleType") {
        simple_kind(decls, None, simple, 0)
    } else {
        FieldKind::Text
    };
    out[position].kind = kind;
}

/// Countries by type name (`CountryCodeType`, `EessiCountryCodeType`), codes by
/// enumeration, dates by base type.
fn simple_kind(
    decls: &Declarations,
    name: Option<&str>,
    simple: &Element,
    depth: usize,
) -> FieldKind {
    if name.is_some_and(|n| n.ends_with("CountryCodeType")) {
        return FieldKind::Country;
    }
    let Some(restriction) = simple.child(XS, "restriction") else {
        return FieldKind::Text;
    };
    let codes: Vec<String> = restriction
        .children_named(XS, "enumeration")
        .filter_map(|e| e.attr("value").map(str::to_owned))
        .collect();
    if !codes.is_empty() {
        return FieldKind::Code(codes);
    }
    match restriction.attr("base").map(type_name) {
        Some((true, "date")) => FieldKind::Date,
        Some((false, base)) if depth < MAX_DEPTH => match decls.simple_types.get(base) {
            Some(t) => simple_kind(decls, Some(base), t, depth + 1),
            None => FieldKind::Text,
        },
        _ => FieldKind::Text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(sed: &str) -> SedModel {
        let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("schemas/4.2");
        load_model(
            &dir.join(format!("{sed}.xsd")),
            CdmVersion::V4_2,
            sed.parse().unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn reads_p2000_fields_with_their_kinds() {
        let m = model("P2000");
        assert_eq!(m.field("Person").unwrap().kind, FieldKind::Group);
        assert_eq!(m.field("Person/FamilyName").unwrap().kind, FieldKind::Text);
        assert_eq!(m.field("Person/DateOfBirth").unwrap().kind, FieldKind::Date);
        assert_eq!(
            m.field("Person/Nationality").unwrap().kind,
            FieldKind::Country
        );
        assert_eq!(
            m.field("Person/Sex").unwrap().kind,
            FieldKind::Code(vec!["M".into(), "F".into(), "U".into()])
        );
        assert_eq!(
            m.field("PensionType").unwrap().kind,
            FieldKind::Code(vec![
                "old_age".into(),
                "early_old_age".into(),
                "deferred_old_age".into()
            ])
        );
        assert_eq!(
            m.field("InsurancePeriods/Period/Country").unwrap().kind,
            FieldKind::Country
        );
        assert_eq!(m.fields[0].path, "Header");
        assert_eq!(m.fields[1].path, "Header/CaseID");
    }

    #[test]
    fn reads_a001_country_enumeration_as_countries() {
        let m = model("A001");
        assert_eq!(
            m.field("CurrentMemberState").unwrap().kind,
            FieldKind::Country
        );
        assert!(matches!(
            m.field("LegalBasis").unwrap().kind,
            FieldKind::Code(ref c) if c == &["16_1", "16_2"]
        ));
        assert!(matches!(
            m.field("Employer/Identifier/Type").unwrap().kind,
            FieldKind::Code(_)
        ));
    }

    #[test]
    fn loads_every_shipped_schema() {
        let models = load_models(
            &PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("schemas"),
        )
        .unwrap();
        assert_eq!(models.len(), 36);
        assert!(models.values().all(|m| m.fields.len() > 10));
    }
}
