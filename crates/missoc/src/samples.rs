//! The sample editions built into the binary (`seed/missoc/`, labelled SAMPLE DATA), so
//! `sedgate missoc import builtin:sample-2026-01-01.jsonl` works anywhere.

use include_dir::{include_dir, Dir};

static SAMPLES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../seed/missoc");

/// How a built-in sample is named on the command line.
pub const BUILTIN_PREFIX: &str = "builtin:";

/// The text of built-in sample `spec` (`builtin:<file name>`), if there is one.
pub fn builtin(spec: &str) -> Option<&'static str> {
    let name = spec.strip_prefix(BUILTIN_PREFIX)?;
    SAMPLES
        .get_file(name)
        .filter(|_| name.ends_with(".jsonl"))
        .and_then(|f| f.contents_utf8())
}

/// The names of the built-in samples, sorted.
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<&str> = SAMPLES
        .files()
        .filter_map(|f| f.path().to_str())
        .filter(|n| n.ends_with(".jsonl"))
        .collect();
    names.sort_unstable();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_sample_editions_are_built_in() {
        assert_eq!(
            names(),
            ["sample-2026-01-01.jsonl", "sample-2026-07-01.jsonl"]
        );
        for name in names() {
            let text = builtin(&format!("builtin:{name}")).unwrap();
            let on_disk = std::fs::read_to_string(format!(
                "{}/../../seed/missoc/{name}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap();
            assert_eq!(text, on_disk);
        }
        assert!(builtin("builtin:README.md").is_none());
        assert!(builtin("sample-2026-01-01.jsonl").is_none());
    }
}
