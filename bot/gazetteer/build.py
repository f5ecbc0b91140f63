"""The index: one SQLite file of streets, address points, centreline ranges, intersections and
places, built from a city's files and swapped into place whole."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.gazetteer.crossings import intersections, too_long
from bot.gazetteer.geometry import along, length
from bot.gazetteer.names import Street, words
from bot.gazetteer.read import read
from bot.gazetteer.records import AddressPoint, Centreline, NamedPlace, Tally

CELL = 0.001  # degrees: the grid cell of the reverse look-up's spatial index
SCHEMA_VERSION = "1"

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE streets (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, name TEXT NOT NULL, predir TEXT NOT NULL,
    type TEXT NOT NULL, postdir TEXT NOT NULL, display TEXT NOT NULL, lat REAL, lon REAL
);
CREATE INDEX streets_name ON streets (name);
CREATE TABLE points (
    street INTEGER NOT NULL, number INTEGER NOT NULL, suffix TEXT NOT NULL,
    lat REAL NOT NULL, lon REAL NOT NULL, cy INTEGER NOT NULL, cx INTEGER NOT NULL
);
CREATE TABLE segments (
    id INTEGER PRIMARY KEY, street INTEGER NOT NULL, lfrom INTEGER, lto INTEGER,
    rfrom INTEGER, rto INTEGER, lo INTEGER, hi INTEGER, line TEXT NOT NULL
);
CREATE TABLE segment_cells (cy INTEGER NOT NULL, cx INTEGER NOT NULL, segment INTEGER NOT NULL);
CREATE TABLE intersections (a INTEGER NOT NULL, b INTEGER NOT NULL, lat REAL, lon REAL);
CREATE TABLE places (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
    lat REAL NOT NULL, lon REAL NOT NULL, street INTEGER, number INTEGER
);
"""
INDEXES = """
CREATE INDEX points_number ON points (street, number);
CREATE INDEX points_cell ON points (cy, cx);
CREATE INDEX segments_street ON segments (street, lo, hi);
CREATE INDEX segment_cells_cell ON segment_cells (cy, cx);
CREATE INDEX intersections_pair ON intersections (a, b);
CREATE INDEX places_key ON places (key);
"""


@dataclass
class Built:
    """What a load put in the index, and what it skipped."""

    points: int = 0
    units_folded: int = 0
    streets: int = 0
    segments: int = 0
    intersections: int = 0
    places: int = 0
    seconds: float = 0.0
    bytes: int = 0
    tally: Tally = field(default_factory=Tally)


def place_key(name: str) -> str:
    """A place's name as looked up: its words, spelled out, without a leading 'the'."""
    found = words(name)
    if found and found[0] == "the":
        found = found[1:]
    return " ".join(found)


def cell(lat: float, lon: float) -> tuple[int, int]:
    """The spatial index's cell of a point."""
    return math.floor(lat / CELL), math.floor(lon / CELL)


def build(
    files: Iterable[str | Path],
    out: str | Path,
    city: str = "",
    columns: Mapping[str, str] | None = None,
) -> Built:
    """Read the files and write the index to `out` (built beside it, then moved in place)."""
    started = time.perf_counter()
    files = list(files)
    built = Built()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    db = sqlite3.connect(partial)
    try:
        db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;" + SCHEMA)
        _fill(db, files, built, columns)
        db.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [
                ("schema", SCHEMA_VERSION),
                ("city", city),
                ("built_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())),
                ("files", json.dumps([Path(f).name for f in files])),
            ],
        )
        db.executescript(INDEXES)
        db.commit()
        db.execute("ANALYZE")
        db.commit()
    finally:
        db.close()
    os.replace(partial, out)
    built.bytes = out.stat().st_size
    built.seconds = time.perf_counter() - started
    return built


def _fill(
    db: sqlite3.Connection,
    files: Iterable[str | Path],
    built: Built,
    columns: Mapping[str, str] | None,
) -> None:
    """Stream every file's records into the tables, then the intersections and streets."""
    streets: dict[str, int] = {}
    names: dict[int, Street] = {}
    spots: dict[int, list[tuple[float, float]]] = defaultdict(list)
    seen: set[tuple[int, int, str]] = set()
    lines: list[tuple[int, tuple[tuple[float, float], ...]]] = []
    points: list[tuple] = []

    def street_id(on: Street) -> int:
        if on.key not in streets:
            streets[on.key] = len(streets) + 1
            names[streets[on.key]] = on
        return streets[on.key]

    for path in files:
        for record in read(path, built.tally, columns):
            if isinstance(record, AddressPoint):
                sid = street_id(record.street)
                if (sid, record.number, record.suffix) in seen:
                    built.units_folded += 1
                    continue
                seen.add((sid, record.number, record.suffix))
                cy, cx = cell(record.lat, record.lon)
                points.append((sid, record.number, record.suffix, record.lat, record.lon, cy, cx))
                spots[sid].append((record.lat, record.lon))
                if len(points) >= 50_000:
                    _flush(db, points)
            elif isinstance(record, Centreline):
                if too_long(record.points):  # a swapped coordinate, a stray vertex
                    built.tally.skip("a segment too long to be a street's")
                    continue
                sid = street_id(record.street)
                _segment(db, sid, record)
                lines.append((sid, record.points))
                spots[sid].extend(record.points)
                built.segments += 1
            elif isinstance(record, NamedPlace):
                on_street = street_id(record.street) if record.street else None
                # One row per name it is found by, each answering with its own name.
                keys = dict.fromkeys(place_key(n) for n in (record.name, *record.aliases))
                db.executemany(
                    "INSERT INTO places (key, name, kind, lat, lon, street, number) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (key, record.name, record.kind, record.lat, record.lon)
                        + (on_street, record.number)
                        for key in keys
                        if key
                    ],
                )
                built.places += 1
    _flush(db, points)
    built.points = len(seen)
    corners = intersections(lines)
    ways: dict[int, list[tuple[tuple[float, float], ...]]] = defaultdict(list)
    for sid, way in lines:
        ways[sid].append(way)
    db.executemany("INSERT INTO intersections VALUES (?, ?, ?, ?)", corners)
    built.intersections = len(corners)
    rows = []
    for key, sid in streets.items():
        on = names[sid]
        lat, lon = _middle(spots.get(sid, []), ways.get(sid, []))
        rows.append((sid, key, on.name, on.predir, on.type, on.postdir, on.display, lat, lon))
    db.executemany("INSERT INTO streets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    built.streets = len(rows)


def _flush(db: sqlite3.Connection, points: list[tuple]) -> None:
    """Write the buffered address points."""
    db.executemany("INSERT INTO points VALUES (?, ?, ?, ?, ?, ?, ?)", points)
    points.clear()


def _segment(db: sqlite3.Connection, sid: int, line: Centreline) -> None:
    """One centreline piece, and the grid cells it passes through."""
    numbers = [n for side in (line.left, line.right) if side for n in side]
    low, high = (min(numbers), max(numbers)) if numbers else (None, None)
    left, right = line.left or (None, None), line.right or (None, None)
    cursor = db.execute(
        "INSERT INTO segments (street, lfrom, lto, rfrom, rto, lo, hi, line) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (sid, *left, *right, low, high, json.dumps(line.points)),
    )
    lats = [p[0] for p in line.points]
    lons = [p[1] for p in line.points]
    (y0, x0), (y1, x1) = cell(min(lats), min(lons)), cell(max(lats), max(lons))
    db.executemany(
        "INSERT INTO segment_cells VALUES (?, ?, ?)",
        [(cy, cx, cursor.lastrowid) for cy in range(y0, y1 + 1) for cx in range(x0, x1 + 1)],
    )


def _middle(
    spots: list[tuple[float, float]], lines: Sequence[Sequence[tuple[float, float]]] = ()
) -> tuple[float | None, float | None]:
    """Where a street-only answer goes: the point halfway along its centrelines (taken in
    order along the street), else its known point nearest the centroid of its points."""
    if lines:
        lats = [p[0] for line in lines for p in line]
        lons = [p[1] for line in lines for p in line]
        axis = 0 if max(lats) - min(lats) >= max(lons) - min(lons) else 1
        ordered = sorted(lines, key=lambda line: min(p[axis] for p in line))
        remaining = sum(length(line) for line in ordered) / 2
        for line in ordered:
            size = length(line)
            if size >= remaining and size > 0:
                return along(line, remaining / size)
            remaining -= size
        return ordered[-1][-1]
    if not spots:
        return None, None
    lat = sum(p[0] for p in spots) / len(spots)
    lon = sum(p[1] for p in spots) / len(spots)
    return min(spots, key=lambda p: (p[0] - lat) ** 2 + (p[1] - lon) ** 2)
