"""Local servers speaking Photon's, Pelias's and ArcGIS's geocoding APIs, for driving geopy's
real `Photon`, `Pelias` and `ArcGIS` classes (see tests/fixtures/geocoders/SOURCES.md).

Each answers from recorded-shaped results kept by query (case and spacing ignored), as the
service would answer that query; a query not kept finds nothing. Knobs in ``app.config``:

- ``CALLS``: every request, in order, as ``{"path", "params"}`` (query strings, lists kept).
- ``FAIL_NEXT``: ``[502, ...]``: the next requests answer those statuses (one each).
- ``DELAY``: seconds each answer waits (for timeouts).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from flask import Flask, Response, request

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "geocoders"


def _load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _key(text: str) -> str:
    return " ".join(text.casefold().replace(",", " ").split())


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _app(name: str) -> Flask:
    app = Flask(name)
    app.config.update(CALLS=[], FAIL_NEXT=[], DELAY=0.0)

    @app.before_request
    def _record() -> Response | None:
        app.config["CALLS"].append(
            {"path": request.path, "params": request.args.to_dict(flat=False)}
        )
        if app.config["DELAY"]:
            time.sleep(app.config["DELAY"])
        if app.config["FAIL_NEXT"]:
            status = app.config["FAIL_NEXT"].pop(0)
            return _json({"message": "upstream failure"}, status)
        return None

    return app


def reset(app: Flask) -> None:
    """Empty a served fake's calls and knobs, so one server can be shared across tests."""
    app.config.update(CALLS=[], FAIL_NEXT=[], DELAY=0.0)


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Metres between two (lat, lon) points (equirectangular; fine within a town)."""
    ky = 111_320.0
    kx = ky * math.cos(math.radians((a[0] + b[0]) / 2))
    return math.hypot((a[0] - b[0]) * ky, (a[1] - b[1]) * kx)


def create_photon_app() -> Flask:
    """Photon (komoot/photon): GET /api?q=&limit=&bbox=&lang= and GET /reverse?lat=&lon=,
    both answering a GeoJSON FeatureCollection of features with `properties`."""
    app = _app("photon")
    kept = _load("photon_search.json")

    @app.get("/api")
    @app.get("/api/")
    def search() -> Response:
        query = request.args.get("q", "")
        if not query.strip():
            return _json({"message": "missing search term 'q': /?q=berlin"}, 400)
        features = list(kept.get(_key(query), {}).get("features", []))
        box = request.args.get("bbox")
        if box:
            try:
                west, south, east, north = (float(v) for v in box.split(","))
            except ValueError:
                return _json({"message": "invalid number of supplied coordinates"}, 400)
            features = [
                f
                for f in features
                if west <= f["geometry"]["coordinates"][0] <= east
                and south <= f["geometry"]["coordinates"][1] <= north
            ]
        limit = int(request.args.get("limit") or 15)
        return _json({"features": features[:limit], "type": "FeatureCollection"})

    @app.get("/reverse")
    @app.get("/reverse/")
    def reverse() -> Response:
        try:
            at = (float(request.args["lat"]), float(request.args["lon"]))
        except (KeyError, ValueError):
            return _json({"message": "missing search term 'lat' and/or 'lon'"}, 400)
        radius = float(request.args.get("radius") or 1.0) * 1000  # km, as Photon takes it
        near = [
            (_metres(at, (f["geometry"]["coordinates"][1], f["geometry"]["coordinates"][0])), f)
            for c in kept.values()
            for f in c["features"]
        ]
        near = sorted((n for n in near if n[0] <= radius), key=lambda n: n[0])
        limit = int(request.args.get("limit") or 1)
        return _json({"features": [f for _, f in near[:limit]], "type": "FeatureCollection"})

    return app


def create_pelias_app() -> Flask:
    """Pelias: GET /v1/search?text=&api_key=&boundary.rect.*= answering a FeatureCollection
    (with Pelias's `geocoding` block); 401 without the key when one is set in API_KEY."""
    app = _app("pelias")
    app.config["API_KEY"] = ""
    kept = _load("pelias_search.json")

    @app.get("/v1/search")
    def search() -> Response:
        wanted = app.config["API_KEY"]
        if wanted and request.args.get("api_key") != wanted:
            return _json({"geocoding": {"errors": ["invalid api_key"]}}, 401)
        text = request.args.get("text", "")
        if not text.strip():
            return _json(
                {"geocoding": {"errors": ["invalid param 'text': text length, must be >0"]}}, 400
            )
        found = kept.get(_key(text)) or {"type": "FeatureCollection", "features": []}
        return _json(found)

    return app


ARCGIS = "/arcgis/rest/services/World/GeocodeServer"


def create_arcgis_app() -> Flask:
    """ArcGIS's geocode service: findAddressCandidates?singleLine=&outFields=&f=json and
    reverseGeocode?location=x,y&f=json."""
    app = _app("arcgis")
    kept = _load("arcgis_candidates.json")
    reversed_ = _load("arcgis_reverse.json")

    @app.get(f"{ARCGIS}/findAddressCandidates")
    def candidates() -> Response:
        line = request.args.get("singleLine", "")
        empty = {"spatialReference": {"wkid": 4326, "latestWkid": 4326}, "candidates": []}
        found = json.loads(json.dumps(kept.get(_key(line)) or empty))
        fields = {f for f in request.args.get("outFields", "").split(",") if f}
        for candidate in found["candidates"]:  # only the fields asked, as ArcGIS answers
            attributes = candidate.pop("attributes", {})
            if fields:
                candidate["attributes"] = {
                    k: v for k, v in attributes.items() if "*" in fields or k in fields
                }
            else:
                candidate["attributes"] = {}
        return _json(found)

    @app.get(f"{ARCGIS}/reverseGeocode")
    def reverse() -> Response:
        try:
            x, y = (float(v) for v in request.args["location"].split(","))
        except (KeyError, ValueError):
            return _json(
                {
                    "error": {
                        "code": 400,
                        "message": "Unable to complete operation.",
                        "details": ["Location is invalid."],
                    }
                }
            )
        spot = reversed_["location"]
        if _metres((y, x), (spot["y"], spot["x"])) > 100:
            return _json(
                {
                    "error": {
                        "code": 400,
                        "extendedCode": -2147467259,
                        "message": "Unable to complete operation.",
                        "details": ["Unable to find address for the specified location."],
                    }
                }
            )
        return _json(reversed_)

    return app
