"""Gazetteer benchmark: the city's own address data as the geocoder, on a whole city.

    .venv/bin/python bench/gazetteer.py [--quick] [--rounds 3] [--queries 2000] [--json PATH]

scripts/make_city_addresses.py writes a grid city of about 300,000 address points (327,000
rows with units) in San Francisco's EAS column names, its 6,129 centreline blocks with ranges
and a few landmarks; `bot.gazetteer.build` loads them into the SQLite index, timed (and the
index's size). Then typed look-ups through `Gazetteer.geocode` with its cache off, each kind
timed apart: houses standing in the data, houses found by interpolation along the block's range,
corners (typed three ways), blocks between two cross streets, landmarks, and pins read back by
`reverse` (a house's spot moved about 3 m). Each look-up's answer is checked against where the
generator put the house, corner or block (share within 50 m). The cached look-up is timed too.

Baselines, measured in the same run, alternating with the subject: for the load, the same CSV
rows copied into SQLite as they are (csv.reader and executemany, no parsing, no index); for the
look-ups, the one indexed SQL query an address point needs (street id and number already known).

Runs on one CPU (sched_setaffinity). Prints the figures; exits 0 even when a goal is missed, 1
only when it could not measure.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.engine_steps import pin_to_one_core  # noqa: E402
from bot.gazetteer.build import build  # noqa: E402
from bot.gazetteer.geocoder import Gazetteer  # noqa: E402
from bot.gazetteer.geometry import metres  # noqa: E402

GOAL_MS = 10.0  # a look-up's p99, cache off ("look-up in milliseconds", issue #19)
WITHIN = 50.0  # metres: a look-up is right when this close to the truth


def city_script():
    """scripts/make_city_addresses.py as a module."""
    spec = importlib.util.spec_from_file_location(
        "make_city_addresses", ROOT / "scripts" / "make_city_addresses.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_city_addresses"] = module
    spec.loader.exec_module(module)
    return module


def load() -> str:
    """The load averages (1, 5, 15 minutes)."""
    return " ".join(f"{n:.2f}" for n in os.getloadavg())


def percentile(ordered: list[float], share: float) -> float:
    """The value below which `share` of the sorted values lie."""
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def raw_copy(csv_path: Path, out: Path) -> float:
    """Seconds to copy the CSV's rows into SQLite as they are: the load's floor."""
    started = time.perf_counter()
    out.unlink(missing_ok=True)
    db = sqlite3.connect(out)
    db.execute("PRAGMA journal_mode = OFF")
    with csv_path.open(newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle)
        header = next(rows)
        db.execute(f"CREATE TABLE raw ({', '.join(f'c{i}' for i in range(len(header)))})")
        db.executemany(f"INSERT INTO raw VALUES ({', '.join('?' * len(header))})", rows)
    db.commit()
    db.close()
    return time.perf_counter() - started


def queries(
    grid, named: int, numbered: int, per_side: int, count: int, rng: random.Random
) -> dict[str, list]:
    """(typed text or point, true lat/lon) for each kind of look-up."""

    def street(kind: str, index: int) -> str:
        if kind == "named":
            name, code = grid.named_street(index)
            return f"{name.title()} {'Ave' if code == 'AVE' else 'St'}"
        return f"{grid.ordinal(index).lstrip('0').lower()} St"

    def a_house(on_grid: bool) -> tuple[str, int, int]:
        kind = rng.choice(["named", "numbered"])
        if kind == "named":
            index, block = rng.randrange(named), rng.randrange(1, numbered)
        else:
            index, block = rng.randrange(1, numbered + 1), rng.randrange(1, named)
        houses = grid.numbers(block, per_side)
        number = rng.choice(houses) if on_grid else 100 * block + rng.choice([2, 3, 42, 43, 86, 87])
        return kind, index, number

    kinds: dict[str, list] = {
        k: [] for k in ("house", "interpolated", "corner", "block", "place", "reverse")
    }
    for _ in range(count):
        kind, index, number = a_house(True)
        kinds["house"].append(
            (f"{number} {street(kind, index)}", grid.house_position(kind, index, number))
        )
        kind, index, number = a_house(False)
        kinds["interpolated"].append(
            (f"{number} {street(kind, index)}", grid.house_position(kind, index, number))
        )
        j, k = rng.randrange(named), rng.randrange(1, numbered + 1)
        a, b = street("named", j), street("numbered", k)
        form = rng.choice(
            [f"{b.split()[0]} & {a.split()[0]}", f"corner of {a} and {b}", f"{a} / {b}"]
        )
        kinds["corner"].append((form, (grid.lat_of(j), grid.lon_of(k))))
        j, k = rng.randrange(named), rng.randrange(1, numbered)
        first, second = (grid.ordinal(n).lstrip("0").lower() for n in (k, k + 1))
        typed = f"{street('named', j).split()[0]} between {first} and {second}"
        kinds["block"].append((typed, (grid.lat_of(j), (grid.lon_of(k) + grid.lon_of(k + 1)) / 2)))
        kind, index, number = a_house(True)
        lat, lon = grid.house_position(kind, index, number)
        pin = (lat + rng.uniform(-1e-5, 1e-5), lon + rng.uniform(-1e-5, 1e-5))
        kinds["reverse"].append((pin, (lat, lon), street(kind, index)))
    places = [
        (p["properties"]["name"], tuple(reversed(p["geometry"]["coordinates"])))
        for p in grid.landmarks(named, numbered)
    ]
    kinds["place"] = [rng.choice(places) for _ in range(count)]
    return kinds


def time_kind(geocoder: Gazetteer, kind: str, items: list) -> tuple[list[float], int]:
    """Milliseconds per look-up, and how many were within WITHIN metres of the truth."""
    times, right = [], 0
    clock = time.perf_counter
    for item in items:
        if kind == "reverse":
            pin, truth, road = item
            started = clock()
            found = geocoder.reverse(pin)
            times.append((clock() - started) * 1000)
            on_road = (
                found
                and found.raw["address"].get("road", "").split()[0].lower()
                == road.split()[0].lower()
            )
            right += bool(on_road and metres((found.latitude, found.longitude), truth) <= WITHIN)
        else:
            typed, truth = item
            started = clock()
            found = geocoder.geocode(typed)
            times.append((clock() - started) * 1000)
            right += bool(found and metres((found.latitude, found.longitude), truth) <= WITHIN)
    return times, right


def time_baseline(index: Path, items: list) -> list[float]:
    """Milliseconds per bare indexed query of an address point (ids and numbers known)."""
    db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    ids = dict(db.execute("SELECT key, id FROM streets").fetchall())
    keyed = []
    for typed, _ in items:
        number, rest = typed.split(" ", 1)
        name, kind = rest.rsplit(" ", 1)
        keyed.append(
            (ids.get(f"{name.lower()} {'avenue' if kind == 'Ave' else 'street'}", 0), int(number))
        )
    times = []
    clock = time.perf_counter
    for sid, number in keyed:
        started = clock()
        db.execute(
            "SELECT lat, lon, suffix FROM points WHERE street = ? AND number = ? LIMIT 1",
            (sid, number),
        ).fetchall()
        times.append((clock() - started) * 1000)
    db.close()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="a smaller city's worth of look-ups, one round"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--queries", type=int, default=2000, help="look-ups of each kind per round")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    rounds, count = (1, 300) if args.quick else (max(1, args.rounds), args.queries)
    load_before = load()
    pinned = pin_to_one_core()
    grid = city_script()
    named, numbered, per_side = 52, 60, 25
    with tempfile.TemporaryDirectory(prefix="gazetteer-bench-") as folder:
        work = Path(folder)
        started = time.perf_counter()
        city = grid.make_city(work, named, numbered, per_side)
        made = time.perf_counter() - started
        files = [work / "addresses.csv", work / "streets.geojson", work / "places.geojson"]
        index = work / "gazetteer.sqlite3"
        loads, copies = [], []
        built = None
        for _ in range(1 if args.quick else 2):
            copies.append(raw_copy(files[0], work / "raw.sqlite3"))
            built = build(files, index, grid.CITY)
            loads.append(built.seconds)
        assert built is not None
        if built.points < 250_000 or built.tally.skipped_total:
            print(f"the city did not load whole: {built}", file=sys.stderr)
            return 1
        rng = random.Random(19)
        kinds = queries(grid, named, numbered, per_side, count, rng)
        times: dict[str, list[float]] = {k: [] for k in kinds}
        right: dict[str, int] = {k: 0 for k in kinds}
        baseline: list[float] = []
        cold = Gazetteer(index, cache_size=0)
        cold.geocode("warm up 1st & Mission")
        for _ in range(rounds):
            baseline.extend(time_baseline(index, kinds["house"]))
            for kind, items in kinds.items():
                spent, correct = time_kind(cold, kind, items)
                times[kind].extend(spent)
                right[kind] += correct
        warm = Gazetteer(index)
        for typed, _ in kinds["house"]:
            warm.geocode(typed)
        cached, _ = time_kind(warm, "house", kinds["house"])
        input_bytes = sum(f.stat().st_size for f in files)
    load_after = load()
    every = sorted(t for spent in times.values() for t in spent)
    base = sorted(baseline)
    print(
        f"gazetteer: a grid city of {city.addresses:,} addresses ({city.unit_rows:,} unit "
        f"rows), {city.segments:,} centreline segments, {city.places} places; "
        f"made in {made:.1f} s"
    )
    print(
        f"  load: {statistics.median(loads):.1f} s (median of {len(loads)}; raw CSV copy "
        f"{statistics.median(copies):.1f} s); index {built.bytes / 1e6:.1f} MB from "
        f"{input_bytes / 1e6:.1f} MB of files"
    )
    print(
        f"  counts: {built.points:,} points, {built.streets:,} streets, "
        f"{built.segments:,} segments, {built.intersections:,} intersections, "
        f"{built.places} places"
    )
    rows = [
        row(
            "load (build the index)",
            f"{statistics.median(loads):.1f} s",
            f"{statistics.median(copies):.1f} s raw CSV copy",
            statistics.median(loads) / statistics.median(copies),
            None,
            f"{built.points:,} points, {built.intersections:,} intersections",
        ),
        row(
            "index size",
            f"{built.bytes / 1e6:.1f} MB",
            f"{input_bytes / 1e6:.1f} MB of files",
            built.bytes / input_bytes,
            None,
            "",
        ),
    ]
    for kind, spent in times.items():
        ordered = sorted(spent)
        p50, p99 = percentile(ordered, 0.5), percentile(ordered, 0.99)
        share = right[kind] / (len(spent) or 1)
        print(
            f"  {kind:<13} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  max {ordered[-1]:6.1f} ms  "
            f"within {WITHIN:.0f} m: {share:.1%}  ({len(spent):,} look-ups)"
        )
        rows.append(
            row(
                f"{kind} look-up p50 / p99",
                f"{p50:.2f} / {p99:.2f} ms",
                None,
                None,
                p99,
                f"{share:.1%} within {WITHIN:.0f} m of the truth",
            )
        )
    p50, p99 = percentile(every, 0.5), percentile(every, 0.99)
    b50, b99 = percentile(base, 0.5), percentile(base, 0.99)
    c = sorted(cached)
    print(
        f"  every look-up p50 {p50:.2f} ms  p99 {p99:.2f} ms; the bare indexed point query "
        f"p50 {b50:.3f} ms  p99 {b99:.3f} ms; cached p50 {percentile(c, 0.5) * 1000:.0f} us"
    )
    print(f"  goal: p99 under {GOAL_MS:.0f} ms: {'met' if p99 < GOAL_MS else 'missed'}")
    print(f"  load average before {load_before}, after {load_after}; {pinned}")
    rows.append(
        row(
            "every look-up p50 / p99",
            f"{p50:.2f} / {p99:.2f} ms",
            f"{b50:.3f} / {b99:.3f} ms bare point query",
            p50 / b50,
            p99,
            "cache off",
        )
    )
    rows.append(
        row(
            "cached look-up p50",
            f"{percentile(c, 0.5) * 1000:.0f} us",
            None,
            None,
            None,
            "the LRU cache",
        )
    )
    if args.json:
        command = "bench/gazetteer.py" + (" --quick" if args.quick else "")
        report = {
            "section": "Gazetteer",
            "rows": rows,
            "commands": [command],
            "load": f"before {load_before}; after {load_after}",
        }
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


def row(figure, value, baseline, ratio, p99, note) -> dict:
    """One row of the bench table (the contract's keys)."""
    return {
        "figure": figure,
        "value": value,
        "baseline": baseline,
        "ratio": f"{ratio:.2f}x" if ratio is not None else None,
        "goal": f"p99 < {GOAL_MS:.0f} ms" if p99 is not None else None,
        "met": p99 < GOAL_MS if p99 is not None else None,
        "note": note,
    }


if __name__ == "__main__":
    sys.exit(main())
