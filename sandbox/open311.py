"""The sandbox's GeoReport v2 server: a Flask blueprint over SandboxStore, plus sandbox admin."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from flask import Blueprint, Response, current_app, g, request

from sandbox.answers import ERROR_SHAPES, MIMETYPES, answer, error_answer
from sandbox.attributes import attribute_problems, read_attributes
from sandbox.faults import FaultError, Faults
from sandbox.nominatim import reverse_place, search_places
from sandbox.posts import PostLog
from sandbox.store import ID_STYLES, UNTIL_MODERATED, SandboxStore, iso, parse_iso

__all__ = ["SandboxConfig", "SandboxStore", "admin_bp", "bp"]

SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
MAX_RESULTS = 1000
MAX_PAGE_SIZE = 500
DEFAULT_DAYS = 90
FORMATS = ("json", "xml")
PAGE_PAST_END = ("empty", "404")
NOT_ACCEPTABLE = "Could not satisfy the request Accept header."  # Django REST framework's words
INVALID_PAGE = "Invalid page."  # Django REST framework's words
NULL_POINT = "Internal server error: the request has no point (lat and long are missing)"
REQUIRED = "This field is required."

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
    accept_only: str = ""
    list_root: str = ""
    json_wrap: str = ""
    error_shape: str = "spec"
    page_past_end: str = "empty"
    id_style: str = "dashed"
    expected_on_create: float = 0.0
    moderated: bool = False
    moderate_after: float = 0.0
    store_delay: float = 0.0
    ignore_address: bool = False
    address_field: str = "address_string"
    faults: Faults = field(default_factory=Faults)
    posts: PostLog = field(default_factory=PostLog)
    services: dict = field(init=False)

    def __post_init__(self) -> None:
        self.services = {str(s["service_code"]): s for s in self.catalog["services"]}
        if isinstance(self.formats, str):
            self.formats = tuple(f.strip() for f in self.formats.split(",") if f.strip())
        if not self.formats or any(f not in FORMATS for f in self.formats):
            raise ValueError(f"formats must be a choice of {', '.join(FORMATS)}")
        self.page_past_end = str(self.page_past_end)
        self.address_field = self.address_field or "address_string"
        self._check_choices()

    def _check_choices(self) -> None:
        """Raise ValueError for a switch set to something the sandbox cannot do."""
        for name, choices in (
            ("error_shape", ERROR_SHAPES),
            ("page_past_end", PAGE_PAST_END),
            ("id_style", ID_STYLES),
        ):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {', '.join(choices)}")
        for name in ("expected_on_create", "moderate_after", "store_delay"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more")
        if self.accept_only and "/" not in self.accept_only:
            raise ValueError("accept_only must be a media type such as application/xml")

    def hidden_for(self) -> float:
        """Seconds a new request stays out of GET answers (moderation); 0 when it does not."""
        if self.moderate_after:
            return self.moderate_after
        return UNTIL_MODERATED if self.moderated else 0.0

    def mimetype(self, fmt: str) -> str:
        """The media type answers in `fmt` carry (accept_only's, for its format)."""
        if self.accept_only and fmt == media_format(self.accept_only):
            return self.accept_only
        return MIMETYPES[fmt]


def media_format(media_type: str) -> str:
    """The sandbox format ("xml" or "json") a media type is written in."""
    return "xml" if "xml" in media_type.lower() else "json"


def _config() -> SandboxConfig:
    return current_app.extensions["sandbox"]


def _fmt() -> str:
    """The format this answer is written in: the one asked for, or the server's first."""
    return getattr(g, "open311_format", None) or _config().formats[0]


def _answer(body, root: str) -> Response:
    """`body` in the asked format; service request lists renamed or wrapped as configured."""
    config = _config()
    lists: dict = {}
    if root == "service_requests":
        lists = {"item": "request", "wrap": config.json_wrap}
        root = config.list_root or root
    return answer(body, _fmt(), root, empty=not config.drop_empty, **lists)


def _error(
    status: int,
    descriptions: str | list[str],
    fields: dict[str, list[str]] | None = None,
    *,
    with_200: bool | None = None,
) -> Response:
    """An error in the configured shape and the asked format (HTTP 200 with --errors-with-200
    unless `with_200` says otherwise); `fields` are shown by the "fields" shape."""
    config = _config()
    if with_200 is None:
        with_200 = config.errors_with_200
    return error_answer(
        status, descriptions, _fmt(), with_200=with_200, shape=config.error_shape, fields=fields
    )


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


def _negotiate(fmt: str) -> Response | None:
    """With accept_only, Django REST framework's content negotiation: a request in that type's
    format whose Accept header does not allow the type gets DRF's 406 (always JSON)."""
    wanted = _config().accept_only
    if not wanted or fmt != media_format(wanted):
        return None
    accept = request.accept_mimetypes
    if not accept.provided or accept.quality(wanted) > 0:
        return None
    return answer({"detail": NOT_ACCEPTABLE}, "json", "root", status=406)


def _fault() -> Response | None:
    """The answer of the switched-on fault hitting this request, if any (see faults.py)."""
    fault = _config().faults.draw(request.method)
    if fault is None:
        return None
    if fault.mode in ("500", "errors200"):
        with_200 = fault.mode == "errors200"
        return _error(500, "Internal server error (sandbox fault)", with_200=with_200)
    if fault.mode == "timeout":
        if request.method == "POST":
            g.fault_delay = fault.delay  # stored as normal, then answered late
        else:
            time.sleep(fault.delay)
    return None


@bp.before_request
def _quirks_before() -> Response | None:
    """Log POSTs, then content negotiation, faults, slow answers and a required
    jurisdiction_id, when the sandbox is started with them."""
    config = _config()
    _, fmt = _split(request.path.rsplit("/", 1)[-1])
    if fmt in config.formats:
        g.open311_format = fmt
    if request.method == "POST":
        g.post_entry = config.posts.received(request.path, request.form)
    if (refused := _negotiate(fmt)) is not None:
        return refused
    if (failed := _fault()) is not None:
        return failed
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
def _quirks_after(response: Response) -> Response:
    """The answer's media type (accept_only), the POST log's entry, and a timeout fault on a
    POST: the request is stored, the answer comes `delay` s late."""
    config = _config()
    for fmt in FORMATS:
        if response.mimetype == MIMETYPES[fmt] and config.mimetype(fmt) != MIMETYPES[fmt]:
            response.content_type = f"{config.mimetype(fmt)}; charset=utf-8"
    entry = g.pop("post_entry", None)
    if entry is not None:
        config.posts.answered(entry, response.status_code, g.pop("filed_id", None))
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
                    "formats": [config.mimetype(f) for f in config.formats],
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


def _typed_address(form) -> str:
    """The typed address the server reads: address_field's value ("" when it is ignored)."""
    config = _config()
    if config.ignore_address and config.address_field == "address_string":
        return ""
    return form.get(config.address_field, "").strip()


def _location(form) -> tuple[float | None, float | None, str, str] | Response:
    """lat, long, typed address and address_id of a POST, or the error answer (with
    ignore_address a missing point is left for create_request to crash on)."""
    config = _config()
    lat, lon = form.get("lat", "").strip(), form.get("long", "").strip()
    address = _typed_address(form)
    address_id = "" if config.ignore_address else form.get("address_id", "").strip()
    if not ((lat and lon) or address or address_id or config.ignore_address):
        where = f"lat and long, {config.address_field} or address_id"
        return _error(400, f"A location is required: {where}", {"non_field_errors": [where]})
    try:
        lat_f, lon_f = (float(lat), float(lon)) if lat and lon else (None, None)
    except ValueError:
        number = ["A valid number is required."]
        return _error(400, "lat and long must be decimal degrees (WGS84)", {"lat": number})
    if lat_f is not None and not (-90 <= lat_f <= 90 and -180 <= lon_f <= 180):
        return _error(400, "lat and long are out of range", {"lat": ["Out of range."]})
    return lat_f, lon_f, address, address_id


def _place(
    lat: float | None, lon: float | None, address: str
) -> tuple[float | None, float | None, str, str | None]:
    """lat, long, address and zipcode completed from the demo town, as city back ends do."""
    zipcode = None
    if lat is None and address:
        places = search_places(address)
        if places:
            lat, lon = round(places[0].lat, 7), round(places[0].lon, 7)
            zipcode = places[0].address.get("postcode")
    elif lat is not None:
        place = reverse_place(lat, lon)
        if place is not None:
            zipcode = place.address.get("postcode")
            if not address:
                road = place.address["road"]
                address = f"{place.address.get('house_number', '')} {road}".strip()
    return lat, lon, address, zipcode


def _service(form) -> dict | Response:
    """The catalogue entry of the POST's service_code, or the error answer."""
    code = form.get("service_code", "").strip()
    if not code:
        return _error(400, "service_code is required", {"service_code": [REQUIRED]})
    service = _config().services.get(code)
    if service is None:
        invalid = [f'"{code}" is not a valid choice.']
        return _error(
            400, f"Service Code {code} is not a valid service code", {"service_code": invalid}
        )
    return service


def _record(form, service: dict, point: tuple, address_id: str, attributes: dict) -> dict:
    """The request to store, from the form and the completed location."""
    catalog = _config().catalog
    code = str(service["service_code"])
    lat, lon, address, zipcode = point
    private = ("email", "phone", "first_name", "last_name", "device_id", "account_id")
    return {
        "service_code": code,
        "service_name": service["service_name"],
        "description": form.get("description") or None,
        "agency_responsible": catalog.get("agencies", {}).get(service.get("group", "")),
        "service_notice": catalog.get("notices", {}).get(code),
        "address": address or None,
        "address_id": address_id or None,
        "zipcode": zipcode,
        "lat": lat,
        "long": lon,
        "media_url": form.get("media_url") or None,
        "attributes": attributes,
        **{k: form.get(k) or None for k in (*private, "jurisdiction_id")},
    }


def _file(record: dict) -> Response:
    """Store the request (after store_delay: a slow back end) and answer its id or token."""
    config = _config()
    if config.store_delay:
        time.sleep(config.store_delay)  # stored only once the wait is over
    if config.expected_on_create:
        record["expected_datetime"] = iso(time.time() + config.expected_on_create * 3600)
    filed = config.store.create(
        record,
        delay=config.token_delay if config.token_mode else 0.0,
        token=config.token_mode,
        hidden_for=config.hidden_for(),
        id_style=config.id_style,
    )
    g.filed_id = filed["service_request_id"]
    if config.token_mode:
        return _answer([{"token": filed["token"]}], "service_requests")
    created = {
        "service_request_id": filed["service_request_id"],
        "service_notice": record["service_notice"],
        "account_id": record["account_id"],
    }
    if record.get("expected_datetime"):
        created["expected_datetime"] = record["expected_datetime"]
    return _answer([created], "service_requests")


@bp.post("/requests.<fmt>")
def create_request(fmt: str) -> Response:
    """POST requests: validate like a real server, store, answer an id (or a token)."""
    if (bad := _check_format(fmt)) is not None:
        return bad
    config, form = _config(), request.form
    if config.api_key and form.get("api_key") != config.api_key:
        return _error(403, "Invalid api_key")
    service = _service(form)
    if isinstance(service, Response):
        return service
    located = _location(form)
    if isinstance(located, Response):
        return located
    lat, lon, address, address_id = located
    attributes = read_attributes(form)
    definition = config.catalog.get("definitions", {}).get(str(service["service_code"]))
    if service.get("metadata") and (problems := attribute_problems(definition, attributes)):
        return _error(400, problems, {"attribute": problems})
    point = _place(lat, lon, address)
    if point[0] is None and config.ignore_address:
        return _error(500, NULL_POINT, with_200=False)  # a server crashing on a null point
    return _file(_record(form, service, point, address_id, attributes))


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
    if page > 1 and (page - 1) * size >= len(found) and _config().page_past_end == "404":
        return _invalid_page()
    return found[(page - 1) * size : page * size]


def _invalid_page() -> Response:
    """Django REST framework's 404 for a page past the last: {"detail": "Invalid page."}
    (in the configured error shape when that is not the spec's)."""
    config = _config()
    shape = "drf" if config.error_shape == "spec" else config.error_shape
    return error_answer(404, INVALID_PAGE, _fmt(), with_200=config.errors_with_200, shape=shape)


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


@admin_bp.post("/admin/requests/<rid>/moderate")
def moderate(rid: str) -> Response:
    """Sandbox only: publish a request hidden by --moderated (a moderator approves it)."""
    published = _config().store.moderate(rid)
    if published is None:
        return error_answer(404, f"service_request_id {rid} not found", "json")
    return answer([published], "json", "service_requests")


@admin_bp.get("/admin/posts")
def get_posts() -> Response:
    """Sandbox only: every POST the Open311 routes received, oldest first (api_key masked)."""
    return answer(_config().posts.entries(), "json", "posts")


@admin_bp.delete("/admin/posts")
def clear_posts() -> Response:
    """Sandbox only: forget the POSTs received so far; answers how many there were."""
    return answer({"cleared": _config().posts.clear()}, "json", "posts")


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
