"""Where streets meet: shared vertices of their centrelines, and pieces that cross."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

from bot.gazetteer.geometry import LatLon, crossing, metres

CELL = 0.002  # degrees: the grid that keeps crossing tests to nearby pieces
SAME_CORNER = 15.0  # metres: two meeting points of the same streets closer than this are one
MAX_PIECE = 5_000.0  # metres between consecutive vertices: no street's centreline has more
MAX_SPAN = 0.1  # degrees: the widest box of one centreline piece (about 11 km)


def _vertex(point: LatLon) -> tuple[float, float]:
    """A vertex's key: centrelines meeting within about 10 cm share it."""
    return round(point[0], 6), round(point[1], 6)


def intersections(
    lines: Iterable[tuple[int, tuple[LatLon, ...]]],
) -> list[tuple[int, int, float, float]]:
    """(street a, street b, lat, lon) with a < b for every place two streets' centrelines
    meet, from (street id, line) pairs."""
    at_vertex: dict[tuple[float, float], set[int]] = defaultdict(set)
    pieces: list[tuple[int, LatLon, LatLon]] = []
    for street_id, line in lines:
        if too_long(line):  # never in the index; a caller's stray row spans no grid
            continue
        for point in line:
            at_vertex[_vertex(point)].add(street_id)
        pieces.extend((street_id, line[i], line[i + 1]) for i in range(len(line) - 1))
    found: dict[tuple[int, int], list[LatLon]] = defaultdict(list)
    for key, streets in at_vertex.items():
        if len(streets) > 1:
            ordered = sorted(streets)
            for i, a in enumerate(ordered):
                for b in ordered[i + 1 :]:
                    _add(found, a, b, key)
    cells: dict[tuple[int, int], list[int]] = defaultdict(list)
    for index, (_, p, q) in enumerate(pieces):
        for cy in range(math.floor(min(p[0], q[0]) / CELL), math.floor(max(p[0], q[0]) / CELL) + 1):
            for cx in range(
                math.floor(min(p[1], q[1]) / CELL), math.floor(max(p[1], q[1]) / CELL) + 1
            ):
                cells[cy, cx].append(index)
    tested: set[tuple[int, int]] = set()
    for members in cells.values():
        for i, first in enumerate(members):
            sa, a1, a2 = pieces[first]
            ends = {_vertex(a1), _vertex(a2)}
            for second in members[i + 1 :]:
                sb, b1, b2 = pieces[second]
                if sa == sb or (first, second) in tested:
                    continue
                tested.add((first, second))
                if _vertex(b1) in ends or _vertex(b2) in ends:
                    continue  # met at a shared vertex, found above
                met = crossing(a1, a2, b1, b2)
                if met is not None:
                    _add(found, min(sa, sb), max(sa, sb), met)
    return [(a, b, lat, lon) for (a, b), points in found.items() for lat, lon in points]


def too_long(line: Sequence[tuple[float, float]]) -> bool:
    """Whether a centreline has a piece no street has: longer than MAX_PIECE metres between
    consecutive vertices, or a box wider than MAX_SPAN degrees (a row gone wrong, which would
    keep the loader busy for hours over the grid cells it spans)."""
    lats, lons = [p[0] for p in line], [p[1] for p in line]
    if max(lats) - min(lats) > MAX_SPAN or max(lons) - min(lons) > MAX_SPAN:
        return True
    return any(metres(a, b) > MAX_PIECE for a, b in zip(line, line[1:], strict=False))


def _add(found: dict[tuple[int, int], list[LatLon]], a: int, b: int, point: LatLon) -> None:
    """Note that streets a and b meet at `point`, unless already noted at that corner."""
    corners = found[a, b]
    if all(metres(corner, point) > SAME_CORNER for corner in corners):
        corners.append((point[0], point[1]))
