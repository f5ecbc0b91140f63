"""The index, opened read-only: streets by name (fuzzily too), houses, ranges, corners, places
and what is near a point."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, process

from bot.gazetteer.build import SCHEMA_VERSION, cell, place_key
from bot.gazetteer.geometry import LatLon, metres
from bot.gazetteer.names import STREET_TYPES, Street, street, words

FUZZY_CUTOFF = 80  # rapidfuzz ratio a misspelt street or place name must reach (70 if short)


@dataclass(frozen=True)
class StreetRow:
    """A street of the index."""

    id: int
    street: Street
    display: str
    lat: float | None
    lon: float | None


@dataclass(frozen=True)
class Segment:
    """A centreline piece and its house-number ranges (left and right of its direction)."""

    id: int
    street: int
    left: tuple[int, int] | None
    right: tuple[int, int] | None
    line: tuple[LatLon, ...]


@dataclass(frozen=True)
class PlaceRow:
    """A named place of the index."""

    name: str
    kind: str
    lat: float
    lon: float
    street: int | None
    number: int | None


class Store:
    """The index file, read-only; one connection per process, shared by its threads."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no gazetteer index at {self.path.name}")
        self._lock = threading.Lock()
        self._pid = -1
        self._db: sqlite3.Connection | None = None
        db = self._connection()
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("schema") != SCHEMA_VERSION:
            raise ValueError("the gazetteer index is of another version: load it again")
        self.city = meta.get("city", "")
        self.streets: dict[int, StreetRow] = {}
        self.by_name: dict[str, list[StreetRow]] = defaultdict(list)
        for sid, name, predir, kind, postdir, display, lat, lon in db.execute(
            "SELECT id, name, predir, type, postdir, display, lat, lon FROM streets"
        ):
            row = StreetRow(sid, Street(predir, name, kind, postdir), display, lat, lon)
            self.streets[sid] = row
            self.by_name[name].append(row)
        self._names = [n for n in self.by_name if not any(c.isdigit() for c in n)]
        self._place_keys = sorted({k for (k,) in db.execute("SELECT DISTINCT key FROM places")})
        self._place_keys_set = set(self._place_keys)

    def _connection(self) -> sqlite3.Connection:
        """This process's connection (a forked worker opens its own)."""
        if self._db is None or self._pid != os.getpid():
            self._db = sqlite3.connect(
                f"file:{self.path.resolve()}?mode=ro", uri=True, check_same_thread=False
            )
            self._pid = os.getpid()
        return self._db

    def _rows(self, sql: str, args: tuple = ()) -> list[tuple]:
        """The rows of one query, under the lock."""
        with self._lock:
            return self._connection().execute(sql, args).fetchall()

    # --- streets ---------------------------------------------------------------------------

    def resolve(self, text: str, loose: bool = True) -> tuple[list[StreetRow], bool]:
        """The streets `text` names, best first, and whether they were found only loosely:
        fuzzily, or of another type or direction than the one typed (only when no street of
        that name has it). Without `loose`, the whole text's name only, never fuzzily."""
        typed = street(text)
        if typed is None:
            return [], False
        found = list(self.by_name.get(typed.name, ()))
        fuzzy = False
        said = words(text)
        for cut in range(len(said) - 1, 1, -1):  # "Main St by the bus stop": Main St
            if found or not loose:
                break
            if said[cut - 1] not in STREET_TYPES:  # cut only after a street's type
                continue
            shorter = street(" ".join(said[:cut]))
            if shorter is not None and shorter.name in self.by_name:
                typed, found = shorter, list(self.by_name[shorter.name])
        if loose and not found and not any(c.isdigit() for c in typed.name):
            cutoff = 70 if len(typed.name) <= 5 else FUZZY_CUTOFF
            for name, _score, _ in process.extract(
                typed.name, self._names, scorer=fuzz.ratio, score_cutoff=cutoff, limit=3
            ):
                found.extend(self.by_name[name])
            fuzzy = bool(found)
        # "5th Ave" is never 5th Street while a 5th Avenue exists; only when none does.
        matching = [row for row in found if _matches(row.street, typed)]
        if matching:
            found = matching
        elif found and (typed.type or typed.predir or typed.postdir):
            fuzzy = True

        def rank(row: StreetRow) -> tuple[int, int, int]:
            s = row.street
            return (
                -(s.key == typed.key),
                -((not typed.type or s.type == typed.type) + (s.predir == typed.predir)),
                -(s.postdir == typed.postdir),
            )

        return sorted(found, key=rank), fuzzy

    # --- houses ----------------------------------------------------------------------------

    def house(self, sid: int, number: int, suffix: str) -> tuple[float, float, str] | None:
        """The address point of a house (lat, lon, its suffix), the typed suffix first."""
        rows = self._rows(
            "SELECT lat, lon, suffix FROM points WHERE street = ? AND number = ? "
            "ORDER BY suffix != ?, suffix LIMIT 1",
            (sid, number, suffix),
        )
        return rows[0] if rows else None

    def segments(self, sid: int, number: int | None = None) -> list[Segment]:
        """The street's centreline pieces (those whose ranges hold `number`, when given)."""
        if number is None:
            rows = self._rows(
                "SELECT id, street, lfrom, lto, rfrom, rto, line FROM segments WHERE street = ?",
                (sid,),
            )
        else:
            rows = self._rows(
                "SELECT id, street, lfrom, lto, rfrom, rto, line FROM segments "
                "WHERE street = ? AND lo <= ? AND hi >= ?",
                (sid, number, number),
            )
        return [_segment(row) for row in rows]

    def neighbours(
        self, sid: int, number: int, gap: int
    ) -> tuple[tuple[int, float, float], tuple[int, float, float]] | None:
        """The nearest houses below and above `number` on its side of the street (same
        parity), each (number, lat, lon), at most `gap` numbers apart; None unless both."""
        sql = (
            "SELECT number, lat, lon FROM points WHERE street = ? AND number BETWEEN ? AND ? "
            "AND number % 2 = ? ORDER BY number "
        )
        below = self._rows(sql + "DESC LIMIT 1", (sid, number - gap, number - 1, number % 2))
        above = self._rows(sql + "LIMIT 1", (sid, number + 1, number + gap, number % 2))
        return (below[0], above[0]) if below and above else None

    # --- corners and places -----------------------------------------------------------------

    def corners(self, a: int, b: int) -> list[LatLon]:
        """Where two streets meet."""
        return [
            (lat, lon)
            for lat, lon in self._rows(
                "SELECT lat, lon FROM intersections WHERE a = ? AND b = ?", (min(a, b), max(a, b))
            )
        ]

    def places(self, text: str, limit: int = 3) -> tuple[list[PlaceRow], bool]:
        """Places named `text` (by their whole name, then by all its words, then fuzzily), and
        whether it was their whole name."""
        key = place_key(text)
        if not key:
            return [], False
        keys = [key] if key in self._place_keys_set else []
        whole = bool(keys)
        if not keys:
            wanted = set(key.split())
            keys = [k for k in self._place_keys if wanted <= set(k.split())]
        if not keys:
            keys = [
                k
                for k, _score, _ in process.extract(
                    key, self._place_keys, scorer=fuzz.ratio, score_cutoff=85, limit=limit
                )
            ]
        found: list[PlaceRow] = []
        for k in keys:
            rows = self._rows(
                "SELECT name, kind, lat, lon, street, number FROM places WHERE key = ?", (k,)
            )
            # A place found by two of its names is one place.
            found.extend(p for p in (PlaceRow(*row) for row in rows) if p not in found)
            if len(found) >= limit:
                break
        return found[:limit], whole

    # --- near a point -----------------------------------------------------------------------

    def nearest_house(
        self, at: LatLon, radius: float
    ) -> tuple[float, int, int, str, float, float] | None:
        """(metres, street, number, suffix, lat, lon) of the nearest address point within
        `radius` metres: looked for close by first, where a pin on a house finds it."""
        for reach in (min(radius, 15.0), radius):
            rows = self._near(
                "SELECT street, number, suffix, lat, lon FROM points "
                "WHERE cy BETWEEN ? AND ? AND cx BETWEEN ? AND ? "
                "AND lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?",
                at,
                reach,
                box=True,
            )
            best = min(((metres(at, (r[3], r[4])), *r) for r in rows), default=None)
            if best is not None and best[0] <= reach:
                return best
        return None

    def near_segments(self, at: LatLon, radius: float) -> list[Segment]:
        """Centreline pieces passing through the grid cells within `radius` metres."""
        ids = {
            sid
            for (sid,) in self._near(
                "SELECT DISTINCT segment FROM segment_cells "
                "WHERE cy BETWEEN ? AND ? AND cx BETWEEN ? AND ?",
                at,
                radius,
            )
        }
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._rows(
            f"SELECT id, street, lfrom, lto, rfrom, rto, line FROM segments WHERE id IN ({marks})",
            tuple(ids),
        )
        return [_segment(row) for row in rows]

    def _near(self, sql: str, at: LatLon, radius: float, box: bool = False) -> list[tuple]:
        """Rows of a cell query over the cells within `radius` metres of `at` (and, with
        `box`, the bounding box of that radius as four more parameters)."""
        dlat = radius / 111_320.0
        dlon = radius / (111_320.0 * max(0.1, math.cos(math.radians(at[0]))))
        (y0, x0), (y1, x1) = cell(at[0] - dlat, at[1] - dlon), cell(at[0] + dlat, at[1] + dlon)
        args: tuple = (y0, y1, x0, x1)
        if box:
            args += (at[0] - dlat, at[0] + dlat, at[1] - dlon, at[1] + dlon)
        return self._rows(sql, args)


def _matches(row: Street, typed: Street) -> bool:
    """Whether a street has the type and directions typed (those typed at all)."""
    return (
        (not typed.type or row.type == typed.type)
        and (not typed.predir or row.predir == typed.predir)
        and (not typed.postdir or row.postdir == typed.postdir)
    )


def _segment(row: tuple) -> Segment:
    """A segments row as a Segment."""
    sid, street_id, lfrom, lto, rfrom, rto, line = row
    left = (lfrom, lto) if lfrom is not None and lto is not None else None
    right = (rfrom, rto) if rfrom is not None and rto is not None else None
    return Segment(sid, street_id, left, right, tuple(tuple(p) for p in json.loads(line)))
