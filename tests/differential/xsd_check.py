#!/usr/bin/env python3
"""Differential XSD check: validates every SED example with the independent Python
`xmlschema` package and prints one verdict per file, for tests/sed_differential.rs to
compare with sedgate's libxml2-based validator.

Requires: pip install xmlschema   (the Rust test fails, never skips, when it is missing)
Usage:    python3 tests/differential/xsd_check.py SCHEMA_DIR FIXTURE_DIR
Output:   one line per file: `<valid|invalid>\t<path relative to FIXTURE_DIR>`
"""
import os
import sys

try:
    import xmlschema
except ImportError:
    sys.stderr.write("xmlschema is not installed: run `pip install xmlschema`\n")
    sys.exit(3)


def main():
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        sys.exit(2)
    schema_dir, fixture_dir = sys.argv[1], sys.argv[2]
    schemas = {}
    for cdm in sorted(os.listdir(fixture_dir)):
        cdm_dir = os.path.join(fixture_dir, cdm)
        if not os.path.isdir(cdm_dir):
            continue
        for sed in sorted(os.listdir(cdm_dir)):
            sed_dir = os.path.join(cdm_dir, sed)
            if not os.path.isdir(sed_dir):
                continue
            key = (cdm, sed)
            if key not in schemas:
                schemas[key] = xmlschema.XMLSchema10(os.path.join(schema_dir, cdm, f"{sed}.xsd"))
            for name in sorted(os.listdir(sed_dir)):
                if not name.endswith(".xml"):
                    continue
                path = os.path.join(sed_dir, name)
                verdict = "valid" if schemas[key].is_valid(path) else "invalid"
                print(f"{verdict}\t{cdm}/{sed}/{name}")


if __name__ == "__main__":
    main()
