"""Which column or property of an open-data file holds what: common names, or the city's own."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

# Each field and the names cities publish it under, compared without case, spaces or
# punctuation ("LF_FADD" = "lffadd"). Sources: San Francisco's EAS and street centrelines
# (base_address_num, street_type, lf_fadd...), NYC's Address Points and LION (h_no, st_name,
# l_low_hn...), Philadelphia's centreline (l_f_add...), Toronto's (lonuml...), the Census
# Bureau's TIGER (lfromhn...), NENA's address point standard (add_number, st_postyp...),
# county address points as OpenAddresses' source files name them (anumber, st_name...).
ALIASES: dict[str, list[str]] = {
    "number": [
        "base_address_num",
        "address_number",
        "addressnumber",
        "addr_num",
        "addrnum",
        "add_number",
        "addnumber",
        "add_num",
        "addnum",
        "house_number",
        "housenumber",
        "house_num",
        "housenum",
        "hse_num",
        "hsenum",
        "h_no",
        "hno",
        "st_num",
        "stnum",
        "street_number",
        "streetnumber",
        "civic_number",
        "anumber",
        "civicnumber",
        "number",
        "num",
    ],
    "suffix": [
        "base_address_suffix",
        "address_number_suffix",
        "addnum_suf",
        "addnumsuffix",
        "house_number_suffix",
        "hn_suffix",
        "hnsuffix",
        "number_suffix",
        "numbersuffix",
    ],
    "street": [
        "street_name",
        "streetname",
        "st_name",
        "stname",
        "st_nm",
        "street",
        "stn_name",
        "str_name",
        "full_street_name",
        "fullstreetname",
        "street_full_street_name",
        "fullname",
        "full_name",
        "road",
        "road_name",
        "roadname",
    ],
    "type": [
        "street_type",
        "streettype",
        "st_type",
        "sttype",
        "st_typ",
        "st_posttyp",
        "st_postyp",
        "streetposttype",
        "stn_postyp",
        "post_type",
        "posttype",
        "street_suffix",
        "st_sufx",
        "st_suffix",
        "suffix_type",
    ],
    "predir": [
        "predir",
        "streetprefixdirectional",
        "pre_dir",
        "street_predirection",
        "st_predir",
        "st_premod",
        "stn_predir",
        "prefix_direction",
        "pre_direction",
        "predirectional",
        "street_prefix",
        "dir_prefix",
        "prefix",
    ],
    "postdir": [
        "postdir",
        "streetpostdirectional",
        "post_dir",
        "street_post_direction",
        "st_posdir",
        "stn_posdir",
        "suf_dir",
        "sufdir",
        "post_direction",
        "postdirectional",
        "street_postdirection",
        "dir_suffix",
    ],
    "unit": [
        "unit_address",
        "unit",
        "unit_number",
        "unitnumber",
        "unit_num",
        "unitnum",
        "apt",
        "apartment",
        "suite",
        "sub_address",
        "subaddress",
    ],
    "lat": ["latitude", "lat", "point_y", "y"],
    "lon": ["longitude", "lon", "lng", "long", "point_x", "x"],
    "geometry": ["location", "the_geom", "geometry", "geom", "shape", "point", "line", "wkt"],
    "name": [
        "place_name",
        "placename",
        "landmark",
        "landmark_name",
        "landmarkname",
        "site_name",
        "sitename",
        "common_name",
        "commonname",
        "poi_name",
        "name",
    ],
    "kind": ["place_type", "kind", "category", "class", "type_of_place", "feature_type"],
    # Other names of a place, as OpenStreetMap's alt_name ("a;b") or a GeoJSON list.
    "aliases": ["alt_name", "alt_names", "aliases", "also_known_as", "other_names"],
    "left_from": [
        "lf_fadd",
        "lffadd",
        "l_f_add",
        "lfadd",
        "lf_addr",
        "lfaddr",
        "l_add_from",
        "laddfrom",
        "lfromadd",
        "lfromhn",
        "l_low_hn",
        "llowhn",
        "lonuml",
        "fromleft",
        "left_from",
        "leftfrom",
    ],
    "left_to": [
        "lf_toadd",
        "lftoadd",
        "lf_tadd",
        "l_t_add",
        "ltadd",
        "lt_addr",
        "ltaddr",
        "l_add_to",
        "laddto",
        "ltoadd",
        "ltohn",
        "l_high_hn",
        "lhighhn",
        "hinuml",
        "toleft",
        "left_to",
        "leftto",
    ],
    "right_from": [
        "rt_fadd",
        "rtfadd",
        "r_f_add",
        "rfadd",
        "rf_addr",
        "rfaddr",
        "r_add_from",
        "raddfrom",
        "rfromadd",
        "rfromhn",
        "r_low_hn",
        "rlowhn",
        "lonumr",
        "fromright",
        "right_from",
        "rightfrom",
    ],
    "right_to": [
        "rt_toadd",
        "rttoadd",
        "rt_tadd",
        "r_t_add",
        "rtadd",
        "rt_addr",
        "rtaddr",
        "r_add_to",
        "raddto",
        "rtoadd",
        "rtohn",
        "r_high_hn",
        "rhighhn",
        "hinumr",
        "toright",
        "right_to",
        "rightto",
    ],
    "from": [
        "fromaddr",
        "fromadd",
        "from_addr",
        "from_address",
        "addr_from",
        "low_addr",
        "lowaddr",
    ],
    "to": ["toaddr", "toadd", "to_addr", "to_address", "addr_to", "high_addr", "highaddr"],
}


def squeeze(name: str) -> str:
    """A column's name compared without case, spaces or punctuation."""
    return re.sub(r"[^a-z0-9]", "", name.casefold())


def detect(columns: Iterable[str], given: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each field's column among `columns`: the city's own names (`given`, field -> column)
    first, then the first common name found. Fields with no column are left out."""
    by_squeezed = {squeeze(c): c for c in columns}
    found: dict[str, str] = {}
    for field_name, column in (given or {}).items():
        if field_name not in ALIASES:
            raise ValueError(f"unknown field {field_name!r}: one of {', '.join(ALIASES)}")
        if squeeze(column) not in by_squeezed:
            raise ValueError(f"no column {column!r} for {field_name}")
        found[field_name] = by_squeezed[squeeze(column)]
    taken = set(found.values())
    for field_name, aliases in ALIASES.items():
        if field_name in found:
            continue
        for alias in aliases:
            match = by_squeezed.get(squeeze(alias))
            if match is not None and match not in taken:
                found[field_name] = match
                taken.add(match)
                break
    return found


def names(value: object) -> tuple[str, ...]:
    """A place's other names: a list, or one text with its names split by ";" or "|"."""
    items = value if isinstance(value, list) else re.split(r"[;|]", str(value or ""))
    return tuple(dict.fromkeys(n for n in (str(i).strip()[:200] for i in items) if n))


def integer(value: object) -> int | None:
    """A house number as an integer ('120', '120.0', 120), or None ('', 'A', '0', NaN)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    if not math.isfinite(number) or number <= 0 or number != int(number) or number > 10**7:
        return None
    return int(number)


_LETTERED = re.compile(r"\s*([0-9]{1,7})\s*([A-Za-z])\s*")


def house_number(value: object) -> tuple[int, str] | None:
    """A house number and the letter written after it ('120', '120A', '120 B'), or None."""
    number = integer(value)
    if number is not None:
        return number, ""
    lettered = _LETTERED.fullmatch(str(value or ""))
    if lettered is None or int(lettered.group(1)) == 0:
        return None
    return int(lettered.group(1)), lettered.group(2).upper()


def coordinate(value: object) -> float | None:
    """A finite float, or None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def lat_lon(lat: object, lon: object) -> tuple[float, float] | None:
    """A point on the globe from its two coordinates, or None (projected or missing)."""
    y, x = coordinate(lat), coordinate(lon)
    if y is None or x is None or not (-90 <= y <= 90 and -180 <= x <= 180):
        return None
    if y == 0 and x == 0:  # an unset location written as zeros
        return None
    return y, x


_NUMBER = r"(-?[0-9]+(?:\.[0-9]+)?)"
_PAIR = re.compile(_NUMBER + r"\s+" + _NUMBER)
_LATLON_PAREN = re.compile(r"\(\s*" + _NUMBER + r"\s*,\s*" + _NUMBER + r"\s*\)")


def wkt_point(text: str) -> tuple[float, float] | None:
    """(lat, lon) of a WKT 'POINT (lon lat)' or Socrata's '(lat, lon)', or None."""
    text = text.strip()
    if text.upper().startswith("POINT"):
        pair = _PAIR.search(text)
        return lat_lon(pair.group(2), pair.group(1)) if pair else None
    found = _LATLON_PAREN.fullmatch(text)
    return lat_lon(found.group(1), found.group(2)) if found else None


def wkt_lines(text: str) -> list[list[tuple[float, float]]]:
    """The (lat, lon) lines of a WKT LINESTRING or MULTILINESTRING; [] when not one."""
    head = text.strip().upper()
    if not (head.startswith("LINESTRING") or head.startswith("MULTILINESTRING")):
        return []
    lines = []
    for part in re.findall(r"\(([^()]*)\)", text):
        line = []
        for pair in part.split(","):
            numbers = pair.split()
            point = lat_lon(numbers[1], numbers[0]) if len(numbers) >= 2 else None
            if point is None:
                return []
            line.append(point)
        if len(line) >= 2:
            lines.append(line)
    return lines
