#!/usr/bin/env python3
"""Checks the MISSOC sample editions in seed/missoc/ (SAMPLE DATA, see seed/missoc/README.md).

Usage: python3 scripts/check-missoc-sample.py [seed/missoc]

Checks, for each edition file: every line is a JSON object (UTF-8), the header comes first,
category codes, editions, countries and languages follow the rules of src/missoc/model.rs,
the lines are in the documented order, every entry's category is declared, no
(country, category, language) appears twice, and the translations and entries that are
missing are exactly the documented gaps. Across the two editions: categories and glossary
are the same, and the differences are exactly the changes listed in the README.
Exits 1 with one line per problem.
"""
import json
import re
import sys
from pathlib import Path

JAN, JUL = "2026-01-01", "2026-07-01"
ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"]
LANGS = ["en", "fr", "de"]
COUNTRIES = ["AT", "DE", "FR", "NO"]
MISSOC_COUNTRIES = set(
    "AT BE BG CH CY CZ DE DK EE EL ES FI FR HR HU IE IS IT LI LT LU LV MT NL NO PL PT RO SE SI SK".split()
)
NOTICE = "SAMPLE DATA written for sedgate's tests and demo; simplified and not MISSOC's published content"

# The documented gaps (README "Deliberate gaps"): what is missing, per edition.
MISSING_TITLES = {("XI-3", "de")}
MISSING_ENTRIES = {
    JAN: {("NO", "II-4", "de"), ("NO", "IX-3", "de")}
    | {("FR", "XII-4", lang) for lang in LANGS},
    JUL: {("NO", "II-4", "de"), ("NO", "IX-3", "de")}
    | {("NO", "IV-5", lang) for lang in LANGS},
}
# The documented changes (README "Changes from 2026-01-01 to 2026-07-01").
CHANGES = {
    **{("AT", "VI-8", l): "changed" for l in LANGS},
    **{("AT", "X-4", l): "changed" for l in LANGS},
    **{("DE", "VI-12", l): "changed" for l in LANGS},
    **{("DE", "X-1", l): "changed" for l in LANGS},
    **{("FR", "XII-4", l): "added" for l in LANGS},
    **{("NO", "IV-5", l): "removed" for l in LANGS},
}

CODE = re.compile(r"^(ORG|(I|II|III|IV|V|VI|VII|VIII|IX|X|XI|XII)-([1-9][0-9]{0,2}))$")
EDITION = re.compile(r"^[0-9]{4}-(01|07)-01$")
KEY = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

problems = []


def bad(where, msg):
    problems.append(f"{where}: {msg}")


def sort_key(code):
    m = CODE.match(code)
    if not m or m.group(1) == "ORG":
        return (0, 0)
    return (ROMAN.index(m.group(2)) + 1, int(m.group(3)))


def check_localized(where, value, missing_ok=()):
    if not isinstance(value, dict) or not set(value) <= set(LANGS):
        bad(where, f"not an object of en/fr/de: {value!r}")
        return set()
    for lang, text in value.items():
        if not isinstance(text, str) or not text.strip() or text != text.strip():
            bad(where, f"{lang} is empty or has surrounding blanks")
    return set(LANGS) - set(value)


def check_rich_text(where, text):
    if "\n\n\n" in text or text != text.strip():
        bad(where, "extra blank lines or surrounding whitespace")
    for i, ch in enumerate(text):
        if ch == "\n":
            after, before = text[i + 1 : i + 2], text[i - 1 : i]
            # a single line break only starts a list item; otherwise paragraphs are split by "\n\n"
            if after != "\n" and before != "\n" and not text.startswith("- ", i + 1):
                bad(where, f"line break not followed by a list item at offset {i}")
    for line in text.split("\n"):
        if line != line.rstrip():
            bad(where, "trailing whitespace")


def load(path, edition):
    where0 = path.name
    if not path.is_file():
        bad(where0, f"file not found: {path}")
        return None
    raw = path.read_bytes()
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        bad(where0, f"not UTF-8: {e}")
        return None
    if not content.endswith("\n") or content.endswith("\n\n"):
        bad(where0, "must end with exactly one newline")
    categories, glossary, entries = {}, {}, {}
    cat_order, gloss_order, entry_order = [], [], []
    section = 0  # 0 header, 1 categories, 2 glossary, 3 entries
    rank = {"category": 1, "glossary": 2, "entry": 3}
    for n, line in enumerate(content.rstrip("\n").split("\n"), start=1):
        where = f"{where0}:{n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            bad(where, f"not JSON: {e}")
            continue
        if not isinstance(obj, dict):
            bad(where, "not a JSON object")
            continue
        kind = obj.get("type")
        if n == 1:
            expected = {"type": "edition", "format": "sedgate-missoc-edition/1", "edition": edition,
                        "state": "published", "sample_data": True, "notice": NOTICE}
            if obj != expected:
                bad(where, f"header must be {json.dumps(expected, ensure_ascii=False)}")
            section = 0
            continue
        if kind not in rank:
            bad(where, f"unexpected type {kind!r} (the header comes first, once)")
            continue
        if rank[kind] < section:
            bad(where, f"{kind} line after a later section (order: header, categories, glossary, entries)")
        section = max(section, rank[kind])
        if kind == "category":
            if set(obj) != {"type", "code", "title"}:
                bad(where, f"category keys {sorted(obj)}")
            code = obj.get("code", "")
            if not isinstance(code, str) or not CODE.match(code):
                bad(where, f"category code {code!r} does not match the model (ORG or <I..XII>-<n>)")
                continue
            if code in categories:
                bad(where, f"category {code} declared twice")
            missing = check_localized(where, obj.get("title"))
            for lang in missing:
                if (code, lang) not in MISSING_TITLES:
                    bad(where, f"title of {code} lacks {lang} (not a documented gap)")
            for (c, lang) in MISSING_TITLES:
                if c == code and lang not in missing:
                    bad(where, f"documented gap: title of {code} should lack {lang}")
            categories[code] = obj.get("title")
            cat_order.append(code)
        elif kind == "glossary":
            if set(obj) != {"type", "key", "term", "definition"}:
                bad(where, f"glossary keys {sorted(obj)}")
            key = obj.get("key", "")
            if not isinstance(key, str) or not KEY.match(key):
                bad(where, f"glossary key {key!r} is not lower-case words joined by '-'")
            if key in glossary:
                bad(where, f"glossary key {key} twice")
            for field in ("term", "definition"):
                if check_localized(where, obj.get(field)):
                    bad(where, f"glossary {key} {field} lacks a language")
            glossary[key] = (obj.get("term"), obj.get("definition"))
            gloss_order.append(key)
        else:
            if set(obj) != {"type", "country", "category", "language", "text", "legal_refs", "changed_in"}:
                bad(where, f"entry keys {sorted(obj)}")
                continue
            country, code, lang = obj["country"], obj["category"], obj["language"]
            if country not in MISSOC_COUNTRIES:
                bad(where, f"{country!r} is not a MISSOC country")
            if country not in COUNTRIES:
                bad(where, f"{country!r} is not one of the sample's countries {COUNTRIES}")
            if code not in categories:
                bad(where, f"entry's category {code!r} is not declared")
            if lang not in LANGS:
                bad(where, f"{lang!r} is not en, fr or de")
                continue
            ident = (country, code, lang)
            if ident in entries:
                bad(where, f"duplicate entry {ident}")
            text = obj["text"]
            if not isinstance(text, str) or not text.strip():
                bad(where, "empty text")
                continue
            check_rich_text(where, text)
            refs = obj["legal_refs"]
            if not isinstance(refs, list) or not 1 <= len(refs) <= 2 or not all(isinstance(r, str) and r.strip() for r in refs):
                bad(where, "legal_refs must be 1 or 2 non-empty strings")
            ch = obj["changed_in"]
            if not isinstance(ch, str) or not EDITION.match(ch) or ch > edition:
                bad(where, f"changed_in {ch!r} is not an edition up to {edition}")
            entries[ident] = (text, refs, ch)
            entry_order.append(ident)
    if cat_order != sorted(cat_order, key=sort_key):
        bad(where0, "categories are not in table order, then number")
    if gloss_order != sorted(gloss_order):
        bad(where0, "glossary is not sorted by key")
    want = sorted(entry_order, key=lambda e: (COUNTRIES.index(e[0]) if e[0] in COUNTRIES else 99,
                                              sort_key(e[1]), LANGS.index(e[2])))
    if entry_order != want:
        bad(where0, "entries are not sorted by country, category order, language (en, fr, de)")
    # exactly the documented gaps are missing
    every = {(c, k, l) for c in COUNTRIES for k in categories for l in LANGS}
    missing = every - set(entries)
    if missing != MISSING_ENTRIES[edition]:
        for m in sorted(missing - MISSING_ENTRIES[edition]):
            bad(where0, f"missing entry {m} is not a documented gap")
        for m in sorted(MISSING_ENTRIES[edition] - missing):
            bad(where0, f"documented gap {m} is present")
    return categories, glossary, entries


def main():
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "seed/missoc")
    jan = load(folder / f"sample-{JAN}.jsonl", JAN)
    jul = load(folder / f"sample-{JUL}.jsonl", JUL)
    if jan and jul:
        (cats1, gl1, e1), (cats2, gl2, e2) = jan, jul
        if cats1 != cats2:
            bad("editions", "categories differ between the editions")
        if gl1 != gl2:
            bad("editions", "glossary differs between the editions")
        for ident, (_, _, ch) in e1.items():
            if ch != JAN:
                bad(f"{JAN} {ident}", f"changed_in {ch}, expected {JAN}")
        diff = {}
        for ident in set(e1) | set(e2):
            if ident not in e2:
                diff[ident] = "removed"
            elif ident not in e1:
                diff[ident] = "added"
            elif e1[ident][:2] != e2[ident][:2]:
                diff[ident] = "changed"
        if diff != CHANGES:
            for ident in sorted(set(diff) | set(CHANGES)):
                if diff.get(ident) != CHANGES.get(ident):
                    bad("diff", f"{ident}: found {diff.get(ident)}, documented {CHANGES.get(ident)}")
        for ident, (_, _, ch) in e2.items():
            expected = JUL if ident in CHANGES else e1[ident][2]
            if ch != expected:
                bad(f"{JUL} {ident}", f"changed_in {ch}, expected {expected}")
        # at least one (country, category) without any entry, and one entry only in en+fr
        for name, entries in ((JAN, e1), (JUL, e2)):
            pairs = {(c, k) for (c, k, _) in entries}
            if len(pairs) == len(COUNTRIES) * len(cats1):
                bad(name, "no (country, category) without an entry")
            if not any({l for (c2, k2, l) in entries if (c2, k2) == p} == {"en", "fr"} for p in pairs):
                bad(name, "no entry present only in en and fr")
        n = {name: len(e) for name, e in ((JAN, e1), (JUL, e2))}
        print(f"categories {len(cats1)} (incl. ORG), glossary terms {len(gl1)}, "
              f"entries {JAN}: {n[JAN]}, {JUL}: {n[JUL]}, differences: {len(diff)}")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
