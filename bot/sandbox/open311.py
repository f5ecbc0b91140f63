"""The sandbox's GeoReport v2 server: a Flask blueprint over SandboxStore, plus sandbox admin."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from flask import Blueprint, Response, current_app, g, request

from bot.sandbox.answers import answer, error_answer
from bot.sandbox.attributes import attribute_problems, read_attributes
from bot.sandbox.faults import FaultError, Faults
from bot.sandbox.gazetteer import default_gazetteer
from bot.sandbox.store import SandboxStore, parse_iso

__all__ = ["SandboxConfig", "SandboxStore", "admin_bp", "bp"]

SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
MAX_RESULTS = 1000
MAX_PAGE_SIZE = 500
DEFAULT_DAYS = 90
FORMATS = ("json", "xml")

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
    page_size: int | None = None
    errors_with_200: bool = False
    formats: tuple[str, ...] = FORMATS
    slow: float = 0.0
    require_jurisdiction: str = ""
    drop_empty: bool = False
    updates: bool = False
    faults: Faults = field(default_factory=Faults)
    services: dict = field(init=False)

    def __post_init__(self) -> None:
        self.services = {str(s["service_code"]): s for s in self.catalog["services"]}
        if isinstance(self.formats, str):
            self.formats = tuple(f.strip() for f in self.formats.split(",") if f.strip())
        if not self.formats or any(f not in FORMATS for f in self.formats):
            raise ValueError(f"formats must be a choice of {', '.join(FORMATS)}")


def _config() -> SandboxConfig:
    return current_app.extensions["sandbox"]


def _fmt() -> str:
    """The format this answer is written in: the one asked for, or the server's first."""
    return getattr(g, "open311_format", None) or _config().formats[0]


def _answer(body, root: str) -> Response:
    config = _config()
    return answer(body, _fmt(), root, empty=not config.drop_empty)


def _error(status: int, descriptions: str | list[str]) -> Response:
    """The spec's error answer in the asked format (HTTP 200 with --errors-with-200)."""
    return error_answer(status, descriptions, _fmt(), with_200=_config().errors_with_200)


def _split(name: str) -> tuple[str, str]:
    """("2026-000001", "json") from "2026-000001.json"; the format is "" when missing."""
    base, dot, fmt = name.rpartition(".")
    return (base, fmt.lower()) if dot else (name, "")


def _check_format(fmt: str) -> Response | None:
    config = _config()
    if fmt in config.formats:
        g.open311_format = fmt
        return None
    if fmt in FORMATS:
        return _error(400, f"format {fmt} is not supported: use .{config.formats[0]}")
    return _error(404, f"unknown response format: {fmt or '(none)'}")


@bp.before_request
def _quirks_before() -> Response | None:
    """Slow answers and a required jurisdiction_id, when the sandbox is started with them."""
    config = _config()
    _, fmt = _split(request.path.rsplit("/", 1)[-1])
    if fmt in config.formats:
        g.open311_format = fmt
    fault = config.faults.draw(request.method)
    if fault is not None:
        if fault.mode == "500":
            return error_answer(500, "Internal server error (sandbox fault)", _fmt())
        if fault.mode == "errors200":
            return error_answer(500, "Internal server error (sandbox fault)", _fmt(), with_200=True)
        if fault.mode == "timeout":
            if request.method == "POST":
                g.fault_delay = fault.delay  # stored as normal, then answered late
            else:
                time.sleep(fault.delay)
    if config.slow:
        time.sleep(config.slow)
    if config.require_jurisdiction:
        given = request.values.get("jurisdiction_id", "").strip()
        if not given:
            return _error(400, "jurisdiction_id was not provided")
        if given != config.require_jurisdiction:
            return _error(404, f"jurisdiction_id {given} not found")
    return None


@bp.after_request
def _fault_after(response: Response) -> Response:
    """A timeout fault on a POST: the request is stored, the answer comes `delay` s late."""
    delay = g.pop("fault_delay", None)
    if delay:
        time.sleep(delay)
    return response


@bp.get("/discovery.<fmt>")
def discovery(fmt: str) -> Response:
    """GET discovery: where this GeoReport v2 endpoint lives and what it speaks."""
    if (bad := _check_format(fmt)) is not None:
        return bad
    config = _config()
    url = request.url_root.rstrip("/") + request.script_root + (bp.url_prefix or "/open311/v2")
    changeset = "2026-01-01T00:00:00-06:00"
    mimetypes = {"json": "application/json", "xml": "text/xml"}
    return _answer(
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
                    "formats": [mimetypes[f] for f in config.formats],
                }
            ],
        },
        "discovery",
    )


@bp.get("/services.<fmt>")
def services(fmt: str) -> Response:
    """GET services: the catalogue."""
    if (bad := _check_format(fmt)) is not None:
        return bad
    return _answer(list(_config().services.values()), "services")


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
    return _answer(definition or {"service_code": code, "attributes": []}, "service_definition")


def _location(form) -> tuple[float | None, float | None, str, str] | Response:
    """lat, long, address_string and address_id of a POST, or the error answer."""
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
    return lat_f, lon_f, address, address_id


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
    located = _location(form)
    if isinstance(located, Response):
        return located
    lat_f, lon_f, address, address_id = located
    attributes = read_attributes(form)
    definition = config.catalog.get("definitions", {}).get(code)
    if service.get("metadata") and (problems := attribute_problems(definition, attributes)):
        return _error(400, problems)
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
        **{
            k: form.get(k) or None
            for k in (
                "email",
                "phone",
                "first_name",
                "last_name",
                "device_id",
                "account_id",
                "jurisdiction_id",
            )
        },
    }
    delay = config.token_delay if config.token_mode else 0.0
    filed = config.store.create(record, delay=delay, token=config.token_mode)
    if config.token_mode:
        return _answer([{"token": filed["token"]}], "service_requests")
    return _answer(
        [
            {
                "service_request_id": filed["service_request_id"],
                "service_notice": record["service_notice"],
                "account_id": record["account_id"],
            }
        ],
        "service_requests",
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
        return _answer([{"token": value}], "service_requests")
    return _answer(
        [{"service_request_id": found["service_request_id"], "token": value}], "service_requests"
    )


def _csv(name: str) -> list[str]:
    return [v.strip() for v in request.args.get(name, "").split(",") if v.strip()]


def _page(found: list[dict]) -> list[dict] | Response:
    """One page of `found` when the sandbox pages (page, page_size), else all of it."""
    size = _config().page_size
    if not size:
        return found
    try:
        page = int(request.args.get("page") or 1)
        size = min(int(request.args.get("page_size") or size), MAX_PAGE_SIZE)
    except ValueError:
        return _error(400, "page and page_size must be whole numbers")
    if page < 1 or size < 1:
        return _error(400, "page and page_size start at 1")
    return found[(page - 1) * size : page * size]


def _dates() -> tuple[float | None, float | None] | Response:
    try:
        start = parse_iso(request.args["start_date"]) if request.args.get("start_date") else None
        end = parse_iso(request.args["end_date"]) if request.args.get("end_date") else None
    except ValueError:
        return _error(400, "start_date and end_date must be ISO 8601 (w3 format)")
    return start, end


@bp.get("/requests.<fmt>")
def list_requests(fmt: str) -> Response:
    """GET requests: by ids, or filtered by service_code, status and dates (90 days default)."""
    if (bad := _check_format(fmt)) is not None:
        return bad
    store = _config().store
    ids = _csv("service_request_id")
    if ids:
        found = _page(store.find(ids=ids, limit=MAX_RESULTS))
        return found if isinstance(found, Response) else _answer(found, "service_requests")
    statuses = [s.lower() for s in _csv("status")]
    if any(s not in ("open", "closed") for s in statuses):
        return _error(400, "status must be open or closed")
    dates = _dates()
    if isinstance(dates, Response):
        return dates
    start, end = dates
    if start is None and end is None:
        start = time.time() - DEFAULT_DAYS * 86400
    elif start is None:
        start = end - DEFAULT_DAYS * 86400
    elif end is None:
        end = start + DEFAULT_DAYS * 86400
    found = _page(
        store.find(
            service_codes=_csv("service_code"),
            statuses=statuses,
            start=start,
            end=end,
            limit=MAX_RESULTS,
        )
    )
    return found if isinstance(found, Response) else _answer(found, "service_requests")


@bp.get("/requests/<name>")
def get_request(name: str) -> Response:
    """GET requests/{id}: one request as a one-element list."""
    rid, fmt = _split(name)
    if (bad := _check_format(fmt)) is not None:
        return bad
    found = _config().store.get(rid)
    if found is None:
        return _error(404, f"service_request_id {rid} not found")
    return _answer([found], "service_requests")


@bp.get("/servicerequestupdates.<fmt>")
def service_request_updates(fmt: str) -> Response:
    """GET servicerequestupdates (mySociety's extension, with --updates): status changes."""
    if (bad := _check_format(fmt)) is not None:
        return bad
    config = _config()
    if not config.updates:
        return _error(404, "servicerequestupdates is not offered by this server")
    if config.api_key and request.args.get("api_key") != config.api_key:
        return _error(403, "Invalid api_key")
    dates = _dates()
    if isinstance(dates, Response):
        return dates
    start, end = dates
    if start is None:
        return _error(400, "start_date is required")
    return _answer(config.store.updates(start, end), "service_request_updates")


@admin_bp.post("/admin/requests/<rid>/status")
def set_status(rid: str) -> Response:
    """Sandbox only: change a request's status (form or JSON: status, status_notes)."""
    g.open311_format = "json"
    data = request.get_json(silent=True) if request.is_json else request.form
    data = data or {}
    status = str(data.get("status", "")).strip().lower()
    if status not in ("open", "closed"):
        return error_answer(400, "status must be open or closed", "json")
    notes = data.get("status_notes")
    updated = _config().store.set_status(rid, status, str(notes) if notes is not None else None)
    if updated is None:
        return error_answer(404, f"service_request_id {rid} not found", "json")
    return answer([updated], "json", "service_requests")


@admin_bp.get("/admin/faults")
def get_faults() -> Response:
    """Sandbox only: the current fault (mode, rate, delay, seconds_left, hits by mode)."""
    return answer(_config().faults.state(), "json", "faults")


@admin_bp.post("/admin/faults")
def set_faults() -> Response:
    """Sandbox only: switch a fault on or off (JSON or form: mode, rate, seconds, delay)."""
    g.open311_format = "json"
    data = request.get_json(silent=True) if request.is_json else request.form
    data = data or {}
    faults = _config().faults
    try:
        state = faults.set(
            data.get("mode", ""),
            rate=data.get("rate", 1.0) if data.get("rate") not in (None, "") else 1.0,
            seconds=data.get("seconds"),
            delay=data.get("delay") if data.get("delay") not in (None, "") else 30.0,
        )
    except FaultError as exc:
        return error_answer(400, str(exc), "json")
    return answer(state, "json", "faults")
