"""The sandbox's GeoReport v2 server: a Flask blueprint over SandboxStore, plus sandbox admin."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from flask import Blueprint, Response, current_app, json, request

from bot.sandbox.gazetteer import default_gazetteer
from bot.sandbox.store import SandboxStore, parse_iso

__all__ = ["SandboxConfig", "SandboxStore", "admin_bp", "bp"]

SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
MAX_RESULTS = 1000
DEFAULT_DAYS = 90
_ATTRIBUTE = re.compile(r"^attribute\[([^\]]+)\](\[\])?$")

bp = Blueprint("open311", __name__)
admin_bp = Blueprint("sandbox_admin", __name__)


@dataclass
class SandboxConfig:
    """What one sandbox serves: its store, catalogue and behaviour switches."""

    store: SandboxStore
    catalog: dict
    api_key: str = ""
    token_mode: bool = False
    token_delay: float = 3.0
    services: dict = field(init=False)

    def __post_init__(self) -> None:
        self.services = {str(s["service_code"]): s for s in self.catalog["services"]}


def _config() -> SandboxConfig:
    return current_app.extensions["sandbox"]


def _json(body, status: int = 200) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False), status=status,
        mimetype="application/json", content_type="application/json; charset=utf-8",
    )


def _error(status: int, description: str) -> Response:
    """The spec's error answer: [{"code": status, "description": ...}] with that HTTP status."""
    return _json([{"code": status, "description": description}], status)


def _split(name: str) -> tuple[str, str]:
    """("2026-000001", "json") from "2026-000001.json"; the format is "" when missing."""
    base, dot, fmt = name.rpartition(".")
    return (base, fmt.lower()) if dot else (name, "")


def _check_format(fmt: str) -> Response | None:
    if fmt == "json":
        return None
    if fmt == "xml":
        return _error(400, "format not supported by this sandbox yet: use .json")
    return _error(404, f"unknown response format: {fmt or '(none)'}")


@bp.get("/discovery.<fmt>")
def discovery(fmt: str) -> Response:
    """GET discovery: where this GeoReport v2 endpoint lives and what it speaks."""
    if (bad := _check_format(fmt)) is not None:
        return bad
    url = request.url_root.rstrip("/") + request.script_root + (bp.url_prefix or "/open311/v2")
    changeset = "2026-01-01T00:00:00-06:00"
    return _json(
        {
            "changeset": changeset,
            "contact": "intake311 sandbox (local, not a real city)",
            "key_service": "Start the sandbox with --api-key to require a key.",
            "endpoints": [
                {
                    "specification": SPEC_URL,
                    "url": url,
                    "changeset": changeset,
                    "type": "test",
                    "formats": ["application/json"],
                }
            ],
        }
    )


@bp.get("/services.<fmt>")
def services(fmt: str) -> Response:
    """GET services: the catalogue."""
    if (bad := _check_format(fmt)) is not None:
        return bad
    return _json(list(_config().services.values()))


@bp.get("/services/<name>")
def service_definition(name: str) -> Response:
    """GET services/{code}: the attribute definitions of a metadata=true service."""
    code, fmt = _split(name)
    if (bad := _check_format(fmt)) is not None:
        return bad
    config = _config()
    if code not in config.services:
        return _error(404, f"service_code {code} not found")
    definition = config.catalog.get("definitions", {}).get(code)
    return _json(definition or {"service_code": code, "attributes": []})


def _attributes(form) -> dict[str, str | list[str]]:
    out: dict[str, str | list[str]] = {}
    for key in form:
        match = _ATTRIBUTE.match(key)
        if match:
            values = [v for v in form.getlist(key) if v != ""]
            if values:
                out[match.group(1)] = values if match.group(2) else values[0]
    return out


def _validate_attributes(definition: dict | None, given: dict) -> str | None:
    """A description of what is wrong with `given`, or None when it is acceptable."""
    for attr in (definition or {}).get("attributes", []):
        code, value = attr["code"], given.get(attr["code"])
        if value is None:
            if attr.get("required") and attr.get("variable", True):
                return f"attribute[{code}] is required: {attr['description']}"
            continue
        values = value if isinstance(value, list) else [value]
        kind = attr.get("datatype")
        if kind in ("singlevaluelist", "multivaluelist"):
            keys = {str(v["key"]) for v in attr.get("values", [])}
            wrong = [v for v in values if v not in keys]
            if wrong:
                return f"attribute[{code}] must be one of {', '.join(sorted(keys))}"
        elif kind == "number":
            try:
                float(values[0])
            except ValueError:
                return f"attribute[{code}] must be a number"
        elif kind == "datetime":
            try:
                parse_iso(values[0])
            except ValueError:
                return f"attribute[{code}] must be an ISO 8601 date and time"
    return None


@bp.post("/requests.<fmt>")
def create_request(fmt: str) -> Response:
    """POST requests: validate like a real server, store, answer an id (or a token)."""
    if (bad := _check_format(fmt)) is not None:
        return bad
    config, form = _config(), request.form
    if config.api_key and form.get("api_key") != config.api_key:
        return _error(403, "Invalid api_key")
    code = form.get("service_code", "").strip()
    if not code:
        return _error(400, "service_code is required")
    service = config.services.get(code)
    if service is None:
        return _error(400, f"Service Code {code} is not a valid service code")
    lat, lon = form.get("lat", "").strip(), form.get("long", "").strip()
    address, address_id = form.get("address_string", "").strip(), form.get("address_id", "").strip()
    if not ((lat and lon) or address or address_id):
        return _error(400, "A location is required: lat and long, address_string or address_id")
    try:
        lat_f, lon_f = (float(lat), float(lon)) if lat and lon else (None, None)
    except ValueError:
        return _error(400, "lat and long must be decimal degrees (WGS84)")
    if lat_f is not None and not (-90 <= lat_f <= 90 and -180 <= lon_f <= 180):
        return _error(400, "lat and long are out of range")
    attributes = _attributes(form)
    definition = config.catalog.get("definitions", {}).get(code)
    if service.get("metadata") and (problem := _validate_attributes(definition, attributes)):
        return _error(400, problem)
    zipcode = None
    if lat_f is None and address:
        # Like many city back ends, place a typed address on the map when the town knows it.
        places = default_gazetteer().search(address)
        if places:
            lat_f, lon_f = round(places[0].lat, 7), round(places[0].lon, 7)
            zipcode = places[0].address.get("postcode")
    elif lat_f is not None:
        place = default_gazetteer().reverse(lat_f, lon_f)
        if place is not None:
            zipcode = place.address.get("postcode")
            if not address:
                road = place.address["road"]
                address = f"{place.address.get('house_number', '')} {road}".strip()
    group = service.get("group", "")
    record = {
        "service_code": code,
        "service_name": service["service_name"],
        "description": form.get("description") or None,
        "agency_responsible": config.catalog.get("agencies", {}).get(group),
        "service_notice": config.catalog.get("notices", {}).get(code),
        "address": address or None,
        "address_id": address_id or None,
        "zipcode": zipcode,
        "lat": lat_f,
        "long": lon_f,
        "media_url": form.get("media_url") or None,
        "attributes": attributes,
        **{k: form.get(k) or None for k in (
            "email", "phone", "first_name", "last_name", "device_id", "account_id",
            "jurisdiction_id",
        )},
    }
    delay = config.token_delay if config.token_mode else 0.0
    filed = config.store.create(record, delay=delay, token=config.token_mode)
    if config.token_mode:
        return _json([{"token": filed["token"]}])
    return _json(
        [
            {
                "service_request_id": filed["service_request_id"],
                "service_notice": record["service_notice"],
                "account_id": record["account_id"],
            }
        ]
    )


@bp.get("/tokens/<name>")
def token(name: str) -> Response:
    """GET tokens/{token}: the service_request_id once the request exists."""
    value, fmt = _split(name)
    if (bad := _check_format(fmt)) is not None:
        return bad
    found = _config().store.token(value)
    if found is None:
        return _error(404, f"token {value} not found")
    if found["service_request_id"] is None:
        return _json([{"token": value}])
    return _json([{"service_request_id": found["service_request_id"], "token": value}])


def _csv(name: str) -> list[str]:
    return [v.strip() for v in request.args.get(name, "").split(",") if v.strip()]


@bp.get("/requests.<fmt>")
def list_requests(fmt: str) -> Response:
    """GET requests: by ids, or filtered by service_code, status and dates (90 days default)."""
    if (bad := _check_format(fmt)) is not None:
        return bad
    store = _config().store
    ids = _csv("service_request_id")
    if ids:
        return _json(store.find(ids=ids, limit=MAX_RESULTS))
    statuses = [s.lower() for s in _csv("status")]
    if any(s not in ("open", "closed") for s in statuses):
        return _error(400, "status must be open or closed")
    try:
        start = parse_iso(request.args["start_date"]) if request.args.get("start_date") else None
        end = parse_iso(request.args["end_date"]) if request.args.get("end_date") else None
    except ValueError:
        return _error(400, "start_date and end_date must be ISO 8601 (w3 format)")
    if start is None and end is None:
        start = time.time() - DEFAULT_DAYS * 86400
    elif start is None:
        start = end - DEFAULT_DAYS * 86400
    elif end is None:
        end = start + DEFAULT_DAYS * 86400
    found = store.find(
        service_codes=_csv("service_code"), statuses=statuses, start=start, end=end,
        limit=MAX_RESULTS,
    )
    return _json(found)


@bp.get("/requests/<name>")
def get_request(name: str) -> Response:
    """GET requests/{id}: one request as a one-element list."""
    rid, fmt = _split(name)
    if (bad := _check_format(fmt)) is not None:
        return bad
    found = _config().store.get(rid)
    if found is None:
        return _error(404, f"service_request_id {rid} not found")
    return _json([found])


@admin_bp.post("/admin/requests/<rid>/status")
def set_status(rid: str) -> Response:
    """Sandbox only: change a request's status (form or JSON: status, status_notes)."""
    data = request.get_json(silent=True) if request.is_json else request.form
    data = data or {}
    status = str(data.get("status", "")).strip().lower()
    if status not in ("open", "closed"):
        return _error(400, "status must be open or closed")
    notes = data.get("status_notes")
    updated = _config().store.set_status(rid, status, str(notes) if notes is not None else None)
    if updated is None:
        return _error(404, f"service_request_id {rid} not found")
    return _json([updated])
