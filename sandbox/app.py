"""The sandbox WSGI app: a GeoReport v2 server and a Nominatim geocoder on one port."""

from __future__ import annotations

from flask import Flask, Response

from sandbox import nominatim, open311
from sandbox.catalog import CATALOG_PATH, load_catalog
from sandbox.store import SandboxStore

__all__ = ["CATALOG_PATH", "create_sandbox_app", "load_catalog"]

OPEN311_PREFIX = "/open311/v2"
SWITCHES = (
    "token_mode",
    "formats",
    "page_size",
    "errors_with_200",
    "slow",
    "require_jurisdiction",
    "drop_empty",
    "updates",
    "accept_only",
    "list_root",
    "json_wrap",
    "error_shape",
    "page_past_end",
    "id_style",
    "expected_on_create",
    "moderated",
    "moderate_after",
    "store_delay",
    "ignore_address",
    "address_field",
)
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
  POST /admin/requests/<service_request_id>/moderate   publish a request (with --moderated)
  GET  /admin/posts    every POST received: form (api_key masked), status, service_request_id
  DELETE /admin/posts  forget them
  POST /admin/faults   JSON {{"mode": "none|500|timeout|errors200", "rate": 1.0,
                             "seconds": N, "delay": 30}}   (Open311 routes fail on purpose)
  GET  /admin/faults   the current fault
Switches like real servers' (intake311 sandbox --help; README.md):
  --accept-only application/xml   DRF content negotiation: 406 when Accept does not allow it
  --list-root requests            XML service request lists as <requests><request>
  --json-wrap results             JSON service request lists as {{"results": [...]}}
  --error-shape spec|drf|drf-code|fields|message|text|html   the body of every error
  --page-past-end 404             with --page-size, a page past the last: 404 "Invalid page."
  --id-style letters|digits|dashed   new ids like nnxoxfvi, 123 or 2026-000123
  --expected-on-create HOURS      expected_datetime = creation + HOURS
  --moderated, --moderate-after S   new requests hidden from GET until moderated (or S s)
  --store-delay S                 a POST is stored and answered only after S seconds
  --ignore-address                address_string unused: a POST without lat/long is a 500
  --address-field address         the typed address read from this field, not address_string
On here: {on}
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
    accept_only: str = "",
    list_root: str = "",
    json_wrap: str = "",
    error_shape: str = "spec",
    page_past_end: str = "empty",
    id_style: str = "dashed",
    expected_on_create: float = 0.0,
    moderated: bool = False,
    moderate_after: float = 0.0,
    store_delay: float = 0.0,
    ignore_address: bool = False,
    address_field: str = "address_string",
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
        accept_only=accept_only,
        list_root=list_root,
        json_wrap=json_wrap,
        error_shape=error_shape,
        page_past_end=page_past_end,
        id_style=id_style,
        expected_on_create=expected_on_create,
        moderated=moderated,
        moderate_after=moderate_after,
        store_delay=store_delay,
        ignore_address=ignore_address,
        address_field=address_field,
    )
    app.register_blueprint(open311.bp, url_prefix=OPEN311_PREFIX)
    app.register_blueprint(open311.admin_bp)
    app.register_blueprint(nominatim.bp, url_prefix=NOMINATIM_PREFIX)

    @app.get("/")
    def index() -> Response:
        on = ", ".join(switches_on(app.extensions["sandbox"])) or "no switch"
        text = _INDEX.format(o=OPEN311_PREFIX, n=NOMINATIM_PREFIX, on=on)
        return Response(text, mimetype="text/plain")

    return app


def switches_on(config: open311.SandboxConfig) -> list[str]:
    """The switches set away from their defaults, as CLI options ("--id-style letters")."""
    defaults = open311.SandboxConfig(store=config.store, catalog=config.catalog)
    out = []
    for name in SWITCHES:
        value = getattr(config, name)
        if value != getattr(defaults, name):
            flag = "--" + name.replace("_", "-")
            value = ",".join(value) if isinstance(value, tuple) else value
            out.append(flag if value is True else f"{flag} {value}")
    return out
