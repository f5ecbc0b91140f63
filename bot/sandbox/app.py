"""The sandbox WSGI app: a GeoReport v2 server and a Nominatim geocoder on one port."""

from __future__ import annotations

from flask import Flask, Response

from bot.sandbox import nominatim, open311
from bot.sandbox.catalog import CATALOG_PATH, load_catalog
from bot.sandbox.store import SandboxStore

__all__ = ["CATALOG_PATH", "create_sandbox_app", "load_catalog"]

OPEN311_PREFIX = "/open311/v2"
NOMINATIM_PREFIX = "/nominatim"

_INDEX = """intake311 sandbox: a local GeoReport v2 server and geocoder (not a real city).

Open311 (GeoReport v2; every path also as .xml):
  GET  {o}/discovery.json
  GET  {o}/services.json
  GET  {o}/services/<service_code>.json
  POST {o}/requests.json
  GET  {o}/requests.json?service_request_id=a,b,c
  GET  {o}/requests/<service_request_id>.json
  GET  {o}/tokens/<token>.json
  GET  {o}/servicerequestupdates.json?start_date=...   (with --updates)
Nominatim-compatible geocoder:
  GET  {n}/search?q=120+Main+St&format=json
  GET  {n}/reverse?lat=39.8&lon=-89.64&format=json
Sandbox only (not part of the spec):
  POST /admin/requests/<service_request_id>/status   status=open|closed, status_notes=...
  POST /admin/faults   JSON {{"mode": "none|500|timeout|errors200", "rate": 1.0,
                             "seconds": N, "delay": 30}}   (Open311 routes fail on purpose)
  GET  /admin/faults   the current fault
"""


def create_sandbox_app(
    db_path: str,
    *,
    api_key: str = "",
    catalog_path: str | None = None,
    token_mode: bool = False,
    token_delay: float = 3.0,
    definitions_path: str | None = None,
    page_size: int | None = None,
    errors_with_200: bool = False,
    formats: str | tuple[str, ...] = ("json", "xml"),
    slow: float = 0.0,
    require_jurisdiction: str = "",
    drop_empty: bool = False,
    updates: bool = False,
) -> Flask:
    """A Flask app serving Open311 at /open311/v2, Nominatim at /nominatim, admin at /admin.

    The keywords after `token_delay` reproduce real servers' quirks (see the README).
    """
    app = Flask(__name__)
    app.json.sort_keys = False
    app.extensions["sandbox"] = open311.SandboxConfig(
        store=SandboxStore(db_path),
        catalog=load_catalog(catalog_path, definitions_path),
        api_key=api_key,
        token_mode=token_mode,
        token_delay=token_delay,
        page_size=page_size or None,
        errors_with_200=errors_with_200,
        formats=formats,
        slow=slow,
        require_jurisdiction=require_jurisdiction,
        drop_empty=drop_empty,
        updates=updates,
    )
    app.register_blueprint(open311.bp, url_prefix=OPEN311_PREFIX)
    app.register_blueprint(open311.admin_bp)
    app.register_blueprint(nominatim.bp, url_prefix=NOMINATIM_PREFIX)

    @app.get("/")
    def index() -> Response:
        text = _INDEX.format(o=OPEN311_PREFIX, n=NOMINATIM_PREFIX)
        return Response(text, mimetype="text/plain")

    return app
