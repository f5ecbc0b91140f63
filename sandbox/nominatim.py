"""A Nominatim-compatible geocoder (/search, /reverse) over the bundled demo town."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, json, request

from sandbox.gazetteer import Gazetteer, Place, default_gazetteer

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


def _gazetteer() -> Gazetteer:
    return current_app.extensions.get("sandbox_gazetteer") or default_gazetteer()


def _flag(name: str) -> bool:
    return request.args.get(name, "0").strip().lower() in ("1", "true", "yes")


def _f(value: float) -> str:
    return f"{value:.7f}"


def place_json(place: Place, fmt: str, addressdetails: bool) -> dict:
    """A place shaped exactly like one element of Nominatim's json/jsonv2 output."""
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
    places = _gazetteer().search(query)
    if countries:
        places = [p for p in places if p.address.get("country_code") in countries]
    box = _viewbox()
    if box and _flag("bounded"):
        places = [p for p in places if box[0] <= p.lon <= box[2] and box[1] <= p.lat <= box[3]]
    try:
        limit = max(1, min(40, int(request.args.get("limit", "10"))))
    except ValueError:
        limit = 10
    details = _flag("addressdetails")
    return _answer([place_json(p, fmt, details) for p in places[:limit]])


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
    place = _gazetteer().reverse(lat, lon)
    if place is None:
        return _answer({"error": "Unable to geocode"})
    return _answer(place_json(place, fmt, request.args.get("addressdetails", "1") != "0"))
