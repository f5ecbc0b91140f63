"""Reading a city's files: CSV and GeoJSON rows as address points, centrelines and places.

A row that cannot be read is counted in the Tally by reason and skipped; nothing raises but a
file that cannot be opened or is not CSV/GeoJSON at all.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from bot.gazetteer import fields
from bot.gazetteer.geometry import length
from bot.gazetteer.names import Street, street
from bot.gazetteer.records import AddressPoint, Centreline, NamedPlace, Record, Tally

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # a centreline's WKT can be long


def read(
    path: str | Path, tally: Tally, columns: Mapping[str, str] | None = None
) -> Iterator[Record]:
    """Every record of one file, by its extension (.csv, .geojson or .json)."""
    path = Path(path)
    suffix = path.suffix.casefold()
    if suffix in (".geojson", ".json"):
        return read_geojson(path, tally, columns)
    if suffix in (".csv", ".txt", ".tsv"):
        return read_csv(path, tally, columns)
    raise ValueError(f"{path.name}: not a .csv, .geojson or .json file")


def read_csv(
    path: Path, tally: Tally, columns: Mapping[str, str] | None = None
) -> Iterator[Record]:
    """The records of a CSV file, its columns found by their common names (or `columns`)."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        sample = handle.read(64 * 1024)
        handle.seek(0)
        delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
        rows = csv.DictReader(handle, delimiter=delimiter)
        found = fields.detect(rows.fieldnames or (), columns)
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except csv.Error:
                tally.read += 1
                tally.skip("unreadable CSV line")
                continue
            tally.read += 1
            yield from _row(row, found, tally)


def _row(row: Mapping[str, Any], found: Mapping[str, str], tally: Tally) -> Iterator[Record]:
    """The records of one CSV row (a WKT line is a centreline; else a point)."""
    geometry = str(row.get(found.get("geometry", ""), None) or "")
    lines = fields.wkt_lines(geometry) if geometry else []
    if lines:
        yield from _centrelines(row, found, lines, tally)
        return
    at = fields.lat_lon(row.get(found.get("lat", "")), row.get(found.get("lon", "")))
    if at is None and geometry:
        at = fields.wkt_point(geometry)
    record = _point(row, found, at, tally)
    if record is not None:
        yield record


def _street_of(
    props: Mapping[str, Any], found: Mapping[str, str], key: str = "street"
) -> Street | None:
    """The street a row names, from its name, type and direction columns."""
    text = str(props.get(found.get(key, ""), None) or "").strip()
    if not text:
        return None
    return street(
        text,
        str(props.get(found.get("type", ""), None) or ""),
        str(props.get(found.get("predir", ""), None) or ""),
        str(props.get(found.get("postdir", ""), None) or ""),
    )


def _point(
    props: Mapping[str, Any],
    found: Mapping[str, str],
    at: tuple[float, float] | None,
    tally: Tally,
) -> Record | None:
    """An address point, else a named place, else None (counted as skipped)."""
    if at is None:
        tally.skip("no coordinates on the globe")
        return None
    name = str(props.get(found.get("name", ""), None) or "").strip()
    house = fields.house_number(props.get(found.get("number", "")))
    number, lettered = house if house is not None else (None, "")
    on = _street_of(props, found)
    if name:
        kind = str(props.get(found.get("kind", ""), None) or "").strip()
        aliases = fields.names(props.get(found.get("aliases", ""), None))
        return NamedPlace(name[:200], at[0], at[1], kind[:40], on, number, aliases)
    if on is None:
        tally.skip("no street name")
        return None
    if number is None:
        tally.skip("no house number")
        return None
    suffix = str(props.get(found.get("suffix", ""), None) or lettered).strip().upper()[:10]
    unit = str(props.get(found.get("unit", ""), None) or "").strip()[:20]
    return AddressPoint(on, number, at[0], at[1], suffix, unit)


def _range(
    props: Mapping[str, Any], found: Mapping[str, str], low: str, high: str
) -> tuple[int, int] | None:
    """A side's (from, to) house numbers, or None when the file has none."""
    first = fields.integer(props.get(found.get(low, "")))
    last = fields.integer(props.get(found.get(high, "")))
    return (first, last) if first is not None and last is not None else None


def _centrelines(
    props: Mapping[str, Any],
    found: Mapping[str, str],
    lines: list[list[tuple[float, float]]],
    tally: Tally,
) -> Iterator[Centreline]:
    """The centreline pieces of one line feature, with its house-number ranges."""
    on = _street_of(props, found) or _street_of(props, found, "name")
    if on is None:
        tally.skip("no street name")
        return
    left = _range(props, found, "left_from", "left_to")
    right = _range(props, found, "right_from", "right_to")
    if left is None and right is None:
        left, right = _both_sides(_range(props, found, "from", "to"))
    lengths = [length(line) for line in lines]
    total, walked = sum(lengths) or 1.0, 0.0
    for line, size in zip(lines, lengths, strict=True):
        start, end = walked / total, (walked + size) / total
        walked += size
        yield Centreline(on, tuple(line), _part(left, start, end), _part(right, start, end))


def _both_sides(whole: tuple[int, int] | None) -> tuple[tuple[int, int] | None, ...]:
    """One range for both sides (FROMADDR/TOADDR) as the left's and the right's: 1-99 is
    1-99 odd and 2-98 even; 100-199 holds both parities already (the right left empty)."""
    if whole is None:
        return None, None
    first, last = whole
    if first % 2 != last % 2 or first == last:
        return whole, None
    step = 1 if last > first else -1
    return whole, (first + step, last - step)


def _part(side: tuple[int, int] | None, start: float, end: float) -> tuple[int, int] | None:
    """The share of a side's range on the piece from `start` to `end` (fractions of the
    feature's length), its parity kept."""
    if side is None or (start, end) == (0.0, 1.0):
        return side
    first, last = side
    same = first % 2 == last % 2

    def at(fraction: float) -> int:
        number = round(first + fraction * (last - first))
        if same and number % 2 != first % 2:
            number += 1 if last >= first else -1
        return number

    return at(start), at(end)


def read_geojson(
    path: Path, tally: Tally, columns: Mapping[str, str] | None = None
) -> Iterator[Record]:
    """The records of a GeoJSON file: Points (addresses, places), (Multi)LineStrings."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig", errors="replace"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path.name}: not JSON ({exc.msg}, line {exc.lineno})") from exc
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        features = data.get("features")
    elif isinstance(data, dict) and data.get("type") == "Feature":
        features = [data]
    else:
        features = data
    if not isinstance(features, list):
        raise ValueError(f"{path.name}: not a GeoJSON FeatureCollection")
    detected: dict[frozenset[str], dict[str, str]] = {}
    for feature in features:
        tally.read += 1
        try:
            yield from _feature(feature, detected, columns, tally)
        except (TypeError, ValueError, IndexError, KeyError, AttributeError):
            tally.skip("malformed feature")


def _feature(
    feature: Any,
    detected: dict[frozenset[str], dict[str, str]],
    columns: Mapping[str, str] | None,
    tally: Tally,
) -> Iterator[Record]:
    """The records of one GeoJSON feature."""
    geometry = feature.get("geometry") if isinstance(feature, dict) else None
    props = feature.get("properties") or {} if isinstance(feature, dict) else {}
    if not isinstance(geometry, dict) or not isinstance(props, dict):
        tally.skip("no geometry")
        return
    keys = frozenset(props)
    if keys not in detected:
        detected[keys] = fields.detect(props, columns)
    found = detected[keys]
    kind = geometry.get("type")
    coords: Any = geometry.get("coordinates")
    if kind == "Point":
        record = _point(props, found, fields.lat_lon(coords[1], coords[0]), tally)
        if record is not None:
            yield record
    elif kind in ("LineString", "MultiLineString"):
        parts = [coords] if kind == "LineString" else list(coords)
        lines = []
        for part in parts:
            line = [fields.lat_lon(xy[1], xy[0]) for xy in part]
            if len(line) < 2 or any(p is None for p in line):
                tally.skip("line off the globe or too short")
                return
            lines.append([p for p in line if p is not None])
        yield from _centrelines(props, found, lines, tally)
    else:
        tally.skip(f"{str(kind)[:20]} geometry")
