"""Builds the seed corpus of each fuzz target from tests/fixtures (see scripts/fuzz.sh)."""
import gzip
import hashlib
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
fixtures = root / "tests" / "fixtures"
out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root / "fuzz" / "corpus"
if not out.is_absolute():
    out = root / out


def put(target: str, data: bytes) -> None:
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def files(*patterns):
    for p in patterns:
        for f in sorted(fixtures.glob(p)):
            if f.is_file() and f.stat().st_size < 512 * 1024:
                yield f


for f in files("sed/**/*.xml", "as4/**/*.xml", "wssec/**/*.xml"):
    data = f.read_bytes()
    put("xml", data)
    put("as4_header", data)
    put("signature", data)
    put("gzip", gzip.compress(data))

for f in files("as4/**/*.as4", "as4/**/*.mime", "wssec/**/*.as4", "wssec/**/*.txt"):
    data = f.read_bytes()
    m = re.search(rb"^--([^\r\n]{1,70}?)\s*$", data, re.M)
    if not m:
        continue
    ct = b'multipart/related; boundary="' + m.group(1) + b'"; type="application/soap+xml"'
    put("mime", ct + b"\n" + data)
    # The root part alone, for the envelope parsers.
    parts = data.split(b"--" + m.group(1))
    if len(parts) > 1:
        head, _, body = parts[1].partition(b"\r\n\r\n")
        if not body:
            head, _, body = parts[1].partition(b"\n\n")
        put("as4_header", body.strip())
        put("signature", body.strip())

formats = {"organisations-csv": 0, "ir-json": 1, "access-points-json": 2, "access-points-csv": 3}
for f in files("ir/*"):
    data = f.read_bytes()
    guess = 2 if b"endpoint_url" in data and f.suffix == ".json" else (
        3 if f.suffix == ".csv" and b"endpoint_url" in data else (1 if f.suffix == ".json" else 0))
    put("ir_import", bytes([guess]) + data)

for target in ("xml", "mime", "as4_header", "signature", "ir_import", "gzip"):
    (out / target).mkdir(parents=True, exist_ok=True)
print("seeds:", {t.name: len(list(t.iterdir())) for t in sorted(out.iterdir())})
