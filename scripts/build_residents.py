"""Build tests/evaluation/residents.jsonl from raw public 311 (SeeClickFix) dumps.

Usage:
    python scripts/build_residents.py RAW_DIR [--out tests/evaluation/residents.jsonl]
        [--catalog tests/evaluation/catalog.json] [--mapping-report]

RAW_DIR holds the raw files named in SOURCES (see tests/evaluation/SOURCES.md for the
repository, commit and path of each). The output is deterministic: the same raw files
always give the same lines in the same order.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import sys
from collections import Counter
from pathlib import Path

# Raw file name -> (source key in SOURCES.md, id prefix, format).
SOURCES: list[tuple[str, str, str, str]] = [
    ("vb-issues.json", "scf-virginia-beach", "vb", "scf-json"),
    ("scf-pipeline-issues.json", "scf-pipeline", "scfp", "scf-json"),
    ("scf-pipeline-issues-398e8eb.json", "scf-pipeline", "scfp", "scf-json"),
    ("topeka-all_issues.csv", "scf-topeka", "tpk", "scf-csv"),
    ("topeka-all_issues-6810672.csv", "scf-topeka", "tpk", "scf-csv"),
    ("topeka-all_issues-a93c8a2.csv", "scf-topeka", "tpk", "scf-csv"),
]

# Sources whose category can be a reporter's own free-text summary (no request_type
# field): only categories seen at least this often in that source count as real types.
MIN_CATEGORY_COUNT = {"scf-virginia-beach": 2, "scf-topeka": 2}

TUNING_PERCENT = 35
MAX_SHARE = 0.25
MIN_WORDS = 3

# Categories that fit no single catalogue service (or mix several), checked first.
EXCLUDE = [
    r"use only",
    r"code (violation|compliance|enforcement)|codes compliance|property maintenance",
    r"blight|nuisance|zoning|housing|building|rental",
    r"homeless|encampment|camp\b|transient|living on public",
    r"\btrees?\b|\blimbs?\b|forestry|stump|brush|vegetation|shrub|landscap",
    r"\bother\b|question|suggestion|general|misc|inquir|request a service",
    r"noise|leaf blower|barking|\brats?\b|rodent|mosquito|needle|syringe",
    r"electric|utility (work|problem)|construction|ballot|bus stop|irrigation$",
    r"cart request|missing cart|container|garbage can|roll out|bulk metal|construction debris",
    r"storm debris|canal|water/wastewater|water/sewer|parking violation|illegally parked",
    r"ryland: debris|yard (waste|clippings)|compost",
    r"police|speeding|parking|post to neighbors|snow|ice hazard",
    r"obstruction|sight|crosswalk|request new sign|new location|^alley$",
    r"private property \(not|trash on private property|environmental",
    r"overgrowth.*dump|dump.*overgrowth|weed.*litter|litter.*weed",
    r"(garbage|trash|rubbish).*recycl|recycl.*(garbage|trash|rubbish)",
    r"shopping cart|furniture/tv|abandoned (building|property)",
]

# (pattern, service_code), first match wins.
RULES = [
    (r"abandon\w*.*(vehicle|auto)|inoperable vehicle|junked or inoperable", "52"),
    (r"graffiti", "37"),
    (r"street ?light|streetlight", "69"),
    (r"signal|stoplight", "70"),
    (r"\bsigns?\b|signage|traffic (safety|evaluation|issue)", "12"),
    (r"sidewalk", "34"),
    (r"dead animal|roadkill|animal carcass|animal (complaint|service|issue)", "32"),
    (r"pot ?hole|road surface|asphalt|pavement|street repair|street condition", "25"),
    (r"street maintenance|road maintenance|sinkhole|cave in|public works: streets", "25"),
    (r"gravel road", "25"),
    (r"\bcurbs?\b(?!side)|curb/|curb and", "34"),
    (r"recycl", "36"),
    (r"dump|trash|garbage|litter|rubbish|refuse|debris|large item|bulk|junk", "5"),
    (r"\btires\b|couch|mattress|sanitation|solid waste", "5"),
    (r"grass|weed|mowing|overgrow", "2"),
    (r"\bparks?\b|playground|trail|bench", "33"),
    (r"storm ?drain|catch basin|blocked basin|storm ?water|ditch|canal", "57"),
    (r"flood|drainage|runoff|erosion", "74"),
    (r"sewer|wastewater", "14"),
    (r"leak|hydrant|water line|water pressure|no water|running water|b-box|meter", "13"),
    (r"water/sewer|water/wastewater|water - other", "13"),
]

STAFF_TEXT = re.compile(
    r"^(case (closed|resolved|noted)|duplicate|closed\b|work order|wo ?#|created by|"
    r"internal|dpw use|per (the )?(inspector|crew|supervisor))",
    re.IGNORECASE,
)
# Intake written by staff on a caller's behalf, in the third person.
STAFF_INTAKE = re.compile(
    r"contacted the city|called (in )?to report|caller (states|reports|said)|"
    r"^neighbor informed|\b\d+[a-z]\d+ advised|"
    r"(resident|customer|citizen|constituent|caller|cx) "
    r"(states|stated|reports|reported|called|said|"
    r"is requesting|requests|would like)|per (the )?caller",
    re.IGNORECASE,
)
STAFF_ROLES = {"verified official", "staff", "admin", "administrator"}

EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(\.[\w-]+)+\b")
PHONE = re.compile(r"(?<!\w)(\+?1[\s.-]?)?(\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?!\w)")
PHONE7 = re.compile(r"(?<![\w-])\d{3}-\d{4}(?![\w-])")
PLATE = re.compile(
    r"\b((?:licen[sc]e\s+)?(?:plate|tags?)(?:\s+(?:number|no\.?|#))?\s*(?:is|:|#|of|reads)?\s*)"
    r"([A-Z0-9]{1,4}[ -]?[A-Z0-9]{2,5})\b",
    re.IGNORECASE,
)
# A bare licence plate: 5 to 8 capitals and digits with at least two of each.
BARE_PLATE = re.compile(r"\b(?=(?:[A-Z]*\d){2})(?=(?:\d*[A-Z]){2})[A-Z0-9]{5,8}\b")
MY_NAME = re.compile(r"\b(my name is|this is|i am|i'm)\s+([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)\b")
SIGN_OFF = re.compile(
    r"((?i:thanks|thank you|regards|sincerely|best|cheers)[,!.]?\s*-?\s*)"
    r"([A-Z][a-z]+(?:\s+[A-Z][a-z]*\.?)?)\s*\.?\s*$"
)
THANK_NAME = re.compile(
    r"\b((?i:thanks|thank you),?\s+)([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)(?=\s*(?:[,.!]|for\b|$))"
)
DASH_NAME = re.compile(r"(\s[-~]\s?)([A-Z][a-z]+(?:\s+[A-Z][a-z]*\.?)?)\s*$")
NOT_NAMES = {
    "You",
    "The",
    "Please",
    "Thanks",
    "Thank",
    "Again",
    "So",
    "Very",
    "Much",
    "In",
    "For",
    "Advance",
}

SPANISH = {
    "el",
    "la",
    "los",
    "las",
    "de",
    "del",
    "que",
    "en",
    "por",
    "favor",
    "calle",
    "hay",
    "una",
    "esta",
    "está",
    "basura",
    "luz",
    "para",
    "con",
    "muy",
}


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def key(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", norm(text).lower())


def map_category(category: str) -> str | None:
    low = norm(category).lower()
    ambiguous = re.search(r"private property only|parking violation|illegally parked", low)
    if re.search(RULES[0][0], low) and not ambiguous:
        return RULES[0][1]
    if any(re.search(p, low) for p in EXCLUDE):
        return None
    for pattern, code in RULES:
        if re.search(pattern, low):
            return code
    return None


def _plate(match: re.Match) -> str:
    token = match.group(2)
    if re.search(r"\d", token) and re.search(r"[A-Za-z]", token):
        return match.group(1) + "[plate]"
    return match.group(0)


def _my_name(match: re.Match) -> str:
    first = match.group(2).split()[0]
    if match.group(1).lower() != "my name is" and first in NOT_NAMES:
        return match.group(0)
    if match.group(1).lower() in ("i am", "i'm", "this is"):
        return match.group(0)  # too often "I am concerned", "This is Main St"
    return f"{match.group(1)} [name]"


def _sign_off(match: re.Match) -> str:
    if match.group(2).split()[0] in NOT_NAMES:
        return match.group(0)
    return match.group(1) + "[name]"


def scrub(text: str) -> str:
    text = EMAIL.sub("[email]", text)
    text = PHONE.sub("[phone]", text)
    text = PHONE7.sub("[phone]", text)
    text = PLATE.sub(_plate, text)
    text = BARE_PLATE.sub("[plate]", text)
    text = MY_NAME.sub(_my_name, text)
    text = SIGN_OFF.sub(_sign_off, text)
    text = THANK_NAME.sub(
        lambda m: m.group(0) if m.group(2).split()[0] in NOT_NAMES else m.group(1) + "[name]", text
    )
    text = DASH_NAME.sub(
        lambda m: m.group(0) if m.group(2).split()[0] in NOT_NAMES else m.group(1) + "[name]",
        text,
    )
    return text


def language(text: str) -> str:
    words = re.findall(r"[a-záéíóúñü]+", text.lower())
    if len(words) >= 3 and sum(w in SPANISH for w in words) / len(words) >= 0.3:
        return "es"
    return "en"


def split_of(record_id: str) -> str:
    bucket = int(hashlib.sha256(record_id.encode()).hexdigest(), 16) % 100
    return "tuning" if bucket < TUNING_PERCENT else "heldout"


def read_raw(path: Path, fmt: str) -> list[dict]:
    """Records as dicts with id, category, text, role, has_type."""
    out = []
    if fmt == "scf-json":
        raw = path.read_text(encoding="utf-8").strip()
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            data = [json.loads(line) for line in raw.splitlines() if line.strip()]
        if isinstance(data, dict):
            data = data.get("issues", [])
        for item in data:
            out.append(
                {
                    "id": str(item["id"]),
                    "category": item.get("summary") or "",
                    "text": item.get("description") or "",
                    "role": ((item.get("reporter") or {}).get("role") or "").lower(),
                    "has_type": "request_type" not in item or bool(item.get("request_type")),
                }
            )
    else:
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                out.append(
                    {
                        "id": str(row["id"]),
                        "category": row.get("summary") or "",
                        "text": row.get("description") or "",
                        "role": "",
                        "has_type": True,
                    }
                )
    return out


def build(raw_dir: Path, codes: set[str]) -> tuple[list[dict], dict]:
    stats: dict = {"dropped": Counter(), "mapping": Counter(), "taken": Counter()}
    by_source: dict[str, dict[str, dict]] = {}
    prefixes: dict[str, str] = {}
    for name, source, prefix, fmt in SOURCES:
        path = raw_dir / name
        if not path.exists():
            sys.exit(f"missing raw file: {path}")
        prefixes[source] = prefix
        seen = by_source.setdefault(source, {})
        for rec in read_raw(path, fmt):
            seen.setdefault(rec["id"], rec)  # first file wins for a repeated issue id
    candidates = []
    for source in sorted(by_source):
        records = [by_source[source][i] for i in sorted(by_source[source], key=int)]
        counts = Counter(norm(r["category"]) for r in records)
        for rec in records:
            category = norm(rec["category"])
            code = map_category(category)
            if MIN_CATEGORY_COUNT.get(source) and counts[category] < MIN_CATEGORY_COUNT[source]:
                code = None
            if not rec["has_type"]:
                code = None
            stats["mapping"][(source, category, code or "-")] += 1
            if code is None:
                stats["dropped"][(source, "category fits no catalogue service")] += 1
                continue
            if code not in codes:
                sys.exit(f"rule maps to unknown service_code {code}")
            if rec["role"] in STAFF_ROLES:
                stats["dropped"][(source, "written by city staff (reporter role)")] += 1
                continue
            text = norm(rec["text"])
            if STAFF_TEXT.search(text) or STAFF_INTAKE.search(text):
                stats["dropped"][(source, "staff note")] += 1
                continue
            if len(text.split()) < MIN_WORDS:
                stats["dropped"][(source, f"fewer than {MIN_WORDS} words")] += 1
                continue
            if set(key(text).split()) <= set(key(category).split()):
                stats["dropped"][(source, "names only the category")] += 1
                continue
            text = scrub(text)
            candidates.append(
                {
                    "id": f"{prefixes[source]}-{rec['id']}",
                    "text": text,
                    "language": language(text),
                    "service_code": code,
                    "source": source,
                    "original_category": category,
                }
            )
    # Exact duplicates (after normalising case and punctuation): keep the first.
    unique, seen_text = [], set()
    for rec in candidates:
        k = key(rec["text"])
        if k in seen_text:
            stats["dropped"][(rec["source"], "exact duplicate text")] += 1
            continue
        seen_text.add(k)
        unique.append(rec)
    # Cap any one service at MAX_SHARE of the set, keeping the lowest-hash records.
    per_code = Counter(r["service_code"] for r in unique)
    total = len(unique)
    cap = None
    while True:
        over = {c for c, n in per_code.items() if n > MAX_SHARE * total}
        if not over:
            break
        cap = int(
            MAX_SHARE * (total - sum(per_code[c] for c in over)) / (1 - MAX_SHARE * len(over))
        )
        for c in over:
            total -= per_code[c] - cap
            per_code[c] = cap
    kept = []
    rank = sorted(unique, key=lambda r: hashlib.sha256(r["id"].encode()).hexdigest())
    used: Counter = Counter()
    keep_ids = set()
    for rec in rank:
        if used[rec["service_code"]] < per_code[rec["service_code"]]:
            used[rec["service_code"]] += 1
            keep_ids.add(rec["id"])
    for rec in unique:
        if rec["id"] in keep_ids:
            rec["split"] = split_of(rec["id"])
            kept.append(rec)
            stats["taken"][rec["source"]] += 1
        else:
            stats["dropped"][(rec["source"], f"over the {int(MAX_SHARE * 100)}% cap")] += 1
    return kept, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw_dir", type=Path)
    parser.add_argument("--out", type=Path, default=Path("tests/evaluation/residents.jsonl"))
    parser.add_argument("--catalog", type=Path, default=Path("tests/evaluation/catalog.json"))
    parser.add_argument("--mapping-report", action="store_true", help="print the mappings")
    args = parser.parse_args()
    catalog = json.loads(args.catalog.read_text(encoding="utf-8"))
    codes = {str(s["service_code"]) for s in catalog["services"]}
    records, stats = build(args.raw_dir, codes)
    with args.out.open("w", encoding="utf-8") as handle:
        for rec in records:
            handle.write(json.dumps(rec, ensure_ascii=False) + "\n")
    print(f"wrote {len(records)} records to {args.out}")
    for name, counter in (
        ("split", Counter(r["split"] for r in records)),
        ("language", Counter(r["language"] for r in records)),
        ("service_code", Counter(r["service_code"] for r in records)),
        ("source", stats["taken"]),
    ):
        print(name, dict(sorted(counter.items())))
    print("dropped:")
    for (source, reason), n in sorted(stats["dropped"].items()):
        print(f"  {source}: {reason}: {n}")
    if args.mapping_report:
        print("mapping (source | original category | service_code | records):")
        for (source, category, code), n in sorted(stats["mapping"].items()):
            print(f"  {source} | {category} | {code} | {n}")


if __name__ == "__main__":
    main()
