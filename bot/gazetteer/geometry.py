"""Plane geometry on a city's scale: metres from degrees, points along lines, crossings."""

from __future__ import annotations

import math
from collections.abc import Sequence

LatLon = tuple[float, float]
METRES_PER_DEGREE = 111_320.0


def metres(a: LatLon, b: LatLon) -> float:
    """Distance between two points in metres (equirectangular: exact enough in a city)."""
    kx = METRES_PER_DEGREE * math.cos(math.radians((a[0] + b[0]) / 2))
    return math.hypot((a[0] - b[0]) * METRES_PER_DEGREE, (a[1] - b[1]) * kx)


def length(line: Sequence[LatLon]) -> float:
    """A line's length in metres."""
    return sum(metres(line[i], line[i + 1]) for i in range(len(line) - 1))


def along(line: Sequence[LatLon], fraction: float, offset: float = 0.0) -> LatLon:
    """The point `fraction` of the way along the line, moved `offset` metres to its left
    (negative: right) of the direction of travel."""
    fraction = min(1.0, max(0.0, fraction))
    total = length(line)
    goal, walked = fraction * total, 0.0
    for i in range(len(line) - 1):
        a, b = line[i], line[i + 1]
        step = metres(a, b)
        if walked + step >= goal or i == len(line) - 2:
            t = 0.0 if step == 0 else min(1.0, (goal - walked) / step)
            lat, lon = a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])
            if offset and step:
                kx = METRES_PER_DEGREE * math.cos(math.radians(lat))
                dx, dy = (b[1] - a[1]) * kx / step, (b[0] - a[0]) * METRES_PER_DEGREE / step
                lat += dx * offset / METRES_PER_DEGREE  # left of (dx, dy) is (-dy, dx)
                lon += -dy * offset / kx
            return lat, lon
        walked += step
    return line[-1]


def nearest_on(line: Sequence[LatLon], at: LatLon) -> tuple[float, float, int]:
    """(metres from `at` to the line, fraction of the line's length there, side: 1 left of
    the direction of travel, -1 right)."""
    kx = METRES_PER_DEGREE * math.cos(math.radians(at[0]))
    px, py = at[1] * kx, at[0] * METRES_PER_DEGREE
    best = (math.inf, 0.0, 1)
    walked, total = 0.0, length(line) or 1.0
    for i in range(len(line) - 1):
        ax, ay = line[i][1] * kx, line[i][0] * METRES_PER_DEGREE
        bx, by = line[i + 1][1] * kx, line[i + 1][0] * METRES_PER_DEGREE
        dx, dy = bx - ax, by - ay
        step = math.hypot(dx, dy)
        t = 0.0 if step == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / step**2))
        distance = math.hypot(ax + t * dx - px, ay + t * dy - py)
        if distance < best[0]:
            side = 1 if dx * (py - ay) - dy * (px - ax) >= 0 else -1
            best = (distance, (walked + t * step) / total, side)
        walked += step
    return best


def crossing(a: LatLon, b: LatLon, c: LatLon, d: LatLon) -> LatLon | None:
    """Where segment a-b crosses segment c-d, or None."""
    r = (b[0] - a[0], b[1] - a[1])
    s = (d[0] - c[0], d[1] - c[1])
    denominator = r[0] * s[1] - r[1] * s[0]
    if denominator == 0:
        return None
    qp = (c[0] - a[0], c[1] - a[1])
    t = (qp[0] * s[1] - qp[1] * s[0]) / denominator
    u = (qp[0] * r[1] - qp[1] * r[0]) / denominator
    if 0 <= t <= 1 and 0 <= u <= 1:
        return a[0] + t * r[0], a[1] + t * r[1]
    return None


def midpoint(a: LatLon, b: LatLon) -> LatLon:
    """Halfway between two points."""
    return (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
