"""The city's limits: the CITY_BOUNDS box and, when set, the CITY_BOUNDARY_FILE polygon
(GeoJSON: a Polygon or MultiPolygon geometry, a Feature or a FeatureCollection of them)."""

from __future__ import annotations

import json
import logging
import os
from functools import lru_cache
from typing import Any

from shapely import prepared
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from bot.settings import Settings

log = logging.getLogger(__name__)
_AREAS = ("Polygon", "MultiPolygon")


class BoundaryError(ValueError):
    """The boundary file cannot be read as a GeoJSON polygon."""


def read_boundary(text: str | bytes) -> BaseGeometry:
    """The area a GeoJSON text describes: its polygons, united; BoundaryError for anything
    else (not JSON, not UTF-8, coordinates shapely refuses)."""
    try:
        return _read(text)
    except BoundaryError:
        raise
    except Exception as exc:  # json's, shapely's, a decoder's: a bad file, whichever it is
        raise BoundaryError(f"not a GeoJSON polygon ({type(exc).__name__})") from exc


def _read(text: str | bytes) -> BaseGeometry:
    """The area a GeoJSON text describes, the errors as they come."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BoundaryError(f"not JSON: {exc}") from exc
    shapes = [shape(g) for g in _geometries(data)]
    if not shapes:
        raise BoundaryError("no Polygon or MultiPolygon in it")
    area = unary_union(shapes)
    if area.is_empty or not area.is_valid:
        area = area.buffer(0)  # a ring drawn crossing itself, mended
    if area.is_empty:
        raise BoundaryError("its polygons enclose nothing")
    return area


def _geometries(data: Any) -> list[dict[str, Any]]:
    """The polygon geometries of a GeoJSON object, whatever wraps them."""
    if not isinstance(data, dict):
        return []
    kind = data.get("type")
    if kind == "FeatureCollection":
        return [g for f in data.get("features") or [] for g in _geometries(f)]
    if kind == "Feature":
        return _geometries(data.get("geometry"))
    if kind == "GeometryCollection":
        return [g for part in data.get("geometries") or [] for g in _geometries(part)]
    if kind in _AREAS and data.get("coordinates"):
        return [data]
    return []


@lru_cache(maxsize=4)
def _loaded(path: str, changed: tuple[int, int, int]) -> Any:
    """The prepared polygon of the file at `path` as it was at `changed` (its inode, mtime
    and size: a file replaced within the same mtime tick is read again)."""
    with open(path, "rb") as handle:
        return prepared.prep(read_boundary(handle.read()))


def area(settings: Settings) -> Any | None:
    """CITY_BOUNDARY_FILE's prepared polygon, or None when unset; BoundaryError (an OSError
    when the file is missing) when it cannot be read."""
    path = settings.city_boundary_file
    if not path:
        return None
    found = os.stat(path)
    return _loaded(path, (found.st_ino, found.st_mtime_ns, found.st_size))


def contains(lat: float | None, lon: float | None, settings: Settings) -> bool:
    """Whether a point is in the city: inside CITY_BOUNDS and the boundary polygon, each when
    set (a boundary that cannot be read bounds nothing, and is logged)."""
    if lat is None or lon is None:
        return True
    bounds = settings.bounds()
    if bounds is not None:
        (south, west), (north, east) = bounds
        if not (south <= lat <= north and west <= lon <= east):
            return False
    try:
        polygon = area(settings)
        return polygon is None or bool(polygon.covers(Point(lon, lat)))
    except Exception as exc:  # noqa: BLE001  a file gone bad after start never breaks a turn
        log.warning("CITY_BOUNDARY_FILE unreadable: %s", type(exc).__name__)
        return True
