"""Answers made regular: ids and codes as strings, flags as bools, numbers as numbers."""

from __future__ import annotations

from typing import Any

from bot.open311.errors import Open311Error

# Fields that are identifiers: always strings, whatever the server sent ("001" stays "001").
ID_FIELDS = (
    "service_request_id",
    "service_code",
    "token",
    "address_id",
    "account_id",
    "zipcode",
    "update_id",
)
_FLOAT_FIELDS = ("lat", "long")


def as_str(value: Any) -> Any:
    """An identifier as a string; None stays None."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def as_bool(value: Any, default: bool = False) -> bool:
    """A spec flag as a bool ("true"/"false" strings included); None gives `default`."""
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _as_float(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None if not value.strip() else value
    return value


def normalize_ids(record: dict) -> dict:
    """A copy of `record` with identifiers as strings and lat/long as floats; others kept."""
    out = dict(record)
    for field in ID_FIELDS:
        if field in out:
            out[field] = as_str(out[field])
    for field in _FLOAT_FIELDS:
        if field in out:
            out[field] = _as_float(out[field])
    return out


# Keys under which servers wrap a JSON list in an object (Django REST framework pages,
# {"requests": [...]}, ...).
WRAPPERS = ("results", "data", "items", "records")
_RECORD_KEYS = ("service_request_id", "token", "service_code", "update_id")


def as_list(body: Any, outer: str, inner: str) -> list[dict]:
    """The records in `body`: a bare list, or wrapped as {outer: [...]}/{outer: {inner: ...}},
    or as {"requests": [...]}, {"results": [...]} and the like."""
    if isinstance(body, dict) and outer not in body and not any(k in body for k in _RECORD_KEYS):
        for key in (inner, f"{inner}s", *WRAPPERS):
            # A wrapper holds a list, one record, or nothing at all (an empty XML element).
            if key in body and (body[key] is None or isinstance(body[key], (list, dict))):
                body = body[key]
                break
    if isinstance(body, dict) and outer in body:
        body = body[outer]
        if isinstance(body, dict) and inner in body:
            body = body[inner]
    if body is None:
        return []
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list):
        raise Open311Error(f"expected a list of {outer}, got {type(body).__name__}", retryable=True)
    return [item for item in body if isinstance(item, dict)]


def service(record: dict) -> dict:
    """One service of the service list."""
    out = normalize_ids(record)
    out["metadata"] = as_bool(record.get("metadata"))
    return out


def _order(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("inf")


def attribute(record: dict) -> dict:
    """One attribute of a service definition: flags as bools, order as int, keys as strings."""
    out = dict(record)
    out["code"] = as_str(record.get("code"))
    out["variable"] = as_bool(record.get("variable"), default=True)
    out["required"] = as_bool(record.get("required"))
    order = _order(record.get("order"))
    out["order"] = int(order) if order != float("inf") and order.is_integer() else None
    values = record.get("values") or []
    if isinstance(values, dict):
        values = as_list(values, "values", "value")
    out["values"] = [{**v, "key": as_str(v.get("key"))} for v in values if isinstance(v, dict)]
    return out


def definition(body: Any) -> dict:
    """A service definition with its attributes sorted by `order`."""
    if isinstance(body, dict) and "service_definition" in body:
        body = body["service_definition"]
    if isinstance(body, list):
        body = body[0] if body else {}
    if not isinstance(body, dict):
        raise Open311Error("service definition is not an object", retryable=False)
    out = normalize_ids(body)
    raw = body.get("attributes") or []
    if isinstance(raw, dict):
        raw = as_list(raw, "attributes", "attribute")
    attributes = [attribute(a) for a in raw if isinstance(a, dict)]
    out["attributes"] = sorted(attributes, key=lambda a: _order(a.get("order")))
    return out
