"""A Nominatim-compatible geocoder (/search, /reverse) over the bundled demo town: the city's
own geocoder (bot.gazetteer) finds the places, shaped here as Nominatim answers them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from flask import Blueprint, Response, json, request
from geopy.location import Location

from bot.gazetteer.geometry import crossing, metres
from sandbox.town import demo_gazetteer, demo_town

LICENCE = "Data © OpenStreetMap contributors, ODbL 1.0. http://osm.org/copyright"
# Address parts shown in display_name, in Nominatim's order (most specific first).
_DISPLAY_ORDER = (
    "amenity",
    "leisure",
    "railway",
    "house_number",
    "road",
    "suburb",
    "city",
    "county",
    "state",
    "postcode",
    "country",
)

bp = Blueprint("nominatim", __name__)


@dataclass
class Place:
    """One geocoding result, before it is shaped as Nominatim JSON."""

    lat: float
    lon: float
    osm_type: str
    osm_id: int
    category: str
    type: str
    place_rank: int
    addresstype: str
    name: str
    address: dict
    bbox: tuple[float, float, float, float]
    importance: float
    # Its shape as GeoJSON (a street's centreline; a point for anything else), answered
    # with polygon_geojson=1.
    geometry: dict | None = None


def search_places(query: str, limit: int = 40) -> list[Place]:
    """The demo town's places for a free-text query, best first."""
    found = demo_gazetteer().geocode(query, exactly_one=False, limit=limit) or []
    return [p for p in (nominatim_place(f.raw) for f in found) if p is not None]


def street_ways(place: Place) -> list[Place]:
    """A street as OpenStreetMap holds it: one way from each cross street to the next, each a
    result of its own (what Nominatim answers with dedupe=0); anything else as it is."""
    geometry = place.geometry or {}
    if place.category != "highway" or geometry.get("type") != "LineString":
        return [place]
    line = [(lat, lon) for lon, lat in geometry["coordinates"]]
    cuts = sorted(
        {
            (round(met[0], 7), round(met[1], 7))
            for other in demo_town().streets.values()
            if other["osm_id"] != place.osm_id
            for a, b in zip(line, line[1:], strict=False)
            for c, d in _pairs(other["line"])
            if (met := crossing(a, b, c, d)) is not None
            and metres(met, line[-1]) > 0.01
            and metres(met, line[0]) > 0.01
        },
        key=lambda point: metres(line[0], point),
    )
    ends = [line[0], *cuts, line[-1]]  # each demo street is straight: its two ends and cuts
    return [
        replace(
            place,
            lat=(a[0] + b[0]) / 2,
            lon=(a[1] + b[1]) / 2,
            osm_id=place.osm_id + 1_000_000 * k,
            bbox=(min(a[0], b[0]), max(a[0], b[0]), min(a[1], b[1]), max(a[1], b[1])),
            geometry={"type": "LineString", "coordinates": [[a[1], a[0]], [b[1], b[0]]]},
        )
        for k, (a, b) in enumerate(zip(ends, ends[1:], strict=False))
    ]


def deduplicated(place: Place) -> Place:
    """A street answered once (Nominatim's default, dedupe=1): the way at its middle point,
    so its geometry is that way's alone."""
    ways = street_ways(place)
    if len(ways) == 1:
        return place
    nearest = min(ways, key=lambda way: metres((way.lat, way.lon), (place.lat, place.lon)))
    return replace(place, geometry=nearest.geometry)


def _pairs(coordinates: list[list[float]]) -> list[tuple[tuple[float, float], ...]]:
    """The segments of a (lon, lat) line as ((lat, lon), (lat, lon)) pairs."""
    points = [(lat, lon) for lon, lat in coordinates]
    return list(zip(points, points[1:], strict=False))


def reverse_place(lat: float, lon: float) -> Place | None:
    """The demo town's address at a point, or None when nothing is near."""
    found = demo_gazetteer().reverse((lat, lon), exactly_one=True)
    return nominatim_place(found.raw) if isinstance(found, Location) else None


def nominatim_place(raw: dict[str, Any]) -> Place | None:
    """A gazetteer result as Nominatim has it: a house, a street or a landmark (a corner or a
    block, which Nominatim does not find, is None)."""
    town = demo_town()
    lat, lon = float(raw["lat"]), float(raw["lon"])
    if raw["gazetteer"] == "place":
        item = town.places.get(raw["name"].casefold())
        return _landmark(item, lat, lon) if item else None
    street = town.streets.get(str(raw["address"].get("road", "")).casefold())
    if street is None:
        return None
    address = _address(street, {})
    if raw["gazetteer"] == "street":
        lons, lats = zip(*street["line"], strict=True)
        box = (min(lats), max(lats), min(lons), max(lons))
        name = street["street_name"]
        return Place(
            lat,
            lon,
            "way",
            street["osm_id"],
            "highway",
            "residential",
            26,
            "road",
            name,
            address,
            box,
            0.0533,
            {"type": "LineString", "coordinates": [list(p) for p in street["line"]]},
        )
    address = _address(street, {"house_number": raw["address"]["house_number"]})
    box = (lat - 0.00005, lat + 0.00005, lon - 0.00005, lon + 0.00005)
    # Nominatim answers an interpolated house as a way of class place, type house.
    return Place(
        lat,
        lon,
        "way",
        street["osm_id"] + 900_000_000,
        "place",
        "house",
        30,
        "place",
        "",
        address,
        box,
        0.00001,
    )


def _landmark(item: dict[str, Any], lat: float, lon: float) -> Place:
    """A landmark, as Nominatim names it: its class, then its name, in the address."""
    named = {item["osm_class"]: item["name"]}
    if item.get("address_number"):
        named["house_number"] = item["address_number"]
    e = item["extent"]
    return Place(
        lat,
        lon,
        item["osm_type"],
        item["osm_id"],
        item["osm_class"],
        item["category"],
        30,
        item["osm_class"],
        item["name"],
        _address(item, named),
        (lat - e, lat + e, lon - e, lon + e),
        0.2501,
    )


def _address(props: dict[str, Any], named: dict[str, str]) -> dict[str, str]:
    """Nominatim's address parts: the named object first, then road to country."""
    town = demo_town().details
    return {
        **named,
        "road": props["street_name"],
        "suburb": props["suburb"],
        **{k: town[k] for k in ("city", "county", "state", "ISO3166-2-lvl4")},
        "postcode": props["zip_code"],
        "country": town["country"],
        "country_code": town["country_code"],
    }


def _flag(name: str) -> bool:
    return request.args.get(name, "0").strip().lower() in ("1", "true", "yes")


def _f(value: float) -> str:
    return f"{value:.7f}"


def place_json(place: Place, fmt: str, addressdetails: bool, geojson: bool = False) -> dict:
    """A place shaped exactly like one element of Nominatim's json/jsonv2 output (its
    `geojson` geometry last, when asked, as Nominatim puts it)."""
    house = place.address.get("house_number") if place.type == "house" else None
    out: dict = {
        "place_id": 100_000 + (place.osm_id * 7919 + int(house or 0)) % 90_000_000,
        "licence": LICENCE,
        "osm_type": place.osm_type,
        "osm_id": place.osm_id,
        "lat": _f(place.lat),
        "lon": _f(place.lon),
    }
    out["category" if fmt == "jsonv2" else "class"] = place.category
    out.update(
        {
            "type": place.type,
            "place_rank": place.place_rank,
            "importance": place.importance,
            "addresstype": place.addresstype,
            "name": place.name,
            "display_name": ", ".join(
                str(place.address[k]) for k in _DISPLAY_ORDER if place.address.get(k)
            ),
        }
    )
    if addressdetails:
        out["address"] = dict(place.address)
    out["boundingbox"] = [_f(v) for v in place.bbox]
    if geojson:
        out["geojson"] = place.geometry or {
            "type": "Point",
            "coordinates": [round(place.lon, 7), round(place.lat, 7)],
        }
    return out


def _viewbox() -> tuple[float, float, float, float] | None:
    """(min lon, min lat, max lon, max lat) from viewbox=x1,y1,x2,y2, or None."""
    raw = request.args.get("viewbox", "")
    try:
        x1, y1, x2, y2 = (float(v) for v in raw.split(","))
    except ValueError:
        return None
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def _answer(body, status: int = 200) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False),
        status=status,
        mimetype="application/json",
        headers={"Access-Control-Allow-Origin": "*"},
    )


def _format() -> str | None:
    fmt = request.args.get("format", "json").lower()
    return fmt if fmt in ("json", "jsonv2") else None


@bp.get("/search")
@bp.get("/search.php")
def search() -> Response:
    """GET /search?q=...: matching places as a JSON list ([] when none)."""
    fmt = _format()
    if fmt is None:
        return _answer(
            {
                "error": {
                    "code": 400,
                    "message": "Parameter 'format' must be json or jsonv2 in this sandbox.",
                }
            },
            400,
        )  # noqa: E501
    query = request.args.get("q", "").strip()
    if not query:
        parts = [request.args.get(k, "") for k in ("street", "city", "state", "postalcode")]
        query = ", ".join(p for p in parts if p)
    if not query:
        return _answer({"error": {"code": 400, "message": "Nothing to search for."}}, 400)
    countries = {c.strip().lower() for c in request.args.get("countrycodes", "").split(",") if c}
    places = search_places(query)
    if countries:
        places = [p for p in places if p.address.get("country_code") in countries]
    box = _viewbox()
    if box and _flag("bounded"):
        places = [p for p in places if box[0] <= p.lon <= box[2] and box[1] <= p.lat <= box[3]]
    try:
        limit = max(1, min(40, int(request.args.get("limit", "10"))))
    except ValueError:
        limit = 10
    if request.args.get("dedupe", "1").strip() == "0":
        places = [way for p in places for way in street_ways(p)]
    else:
        places = [deduplicated(p) for p in places]
    details, geojson = _flag("addressdetails"), _flag("polygon_geojson")
    return _answer([place_json(p, fmt, details, geojson) for p in places[:limit]])


@bp.get("/reverse")
@bp.get("/reverse.php")
def reverse() -> Response:
    """GET /reverse?lat=..&lon=..: the nearest address, or {"error": "Unable to geocode"}."""
    fmt = _format()
    if fmt is None:
        return _answer(
            {
                "error": {
                    "code": 400,
                    "message": "Parameter 'format' must be json or jsonv2 in this sandbox.",
                }
            },
            400,
        )  # noqa: E501
    try:
        lat, lon = float(request.args["lat"]), float(request.args["lon"])
    except (KeyError, ValueError):
        return _answer(
            {"error": {"code": 400, "message": "Need coordinates or OSM object to lookup."}}, 400
        )  # noqa: E501
    place = reverse_place(lat, lon)
    if place is None:
        return _answer({"error": "Unable to geocode"})
    return _answer(place_json(place, fmt, request.args.get("addressdetails", "1") != "0"))
