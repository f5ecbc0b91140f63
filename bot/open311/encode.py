"""The POST requests form, shaped by the city's profile: attributes, description, location."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.open311.errors import Open311Error
from bot.open311.profile import Profile

ELLIPSIS = "…"
Form = list[tuple[str, str]]
_NEEDS = {
    "any": "lat/long, address_string or address_id",
    "both": "lat/long and address_string",
    "latlong": "lat/long",
    "address": "address_string or address_id",
}


def form_value(value: Any) -> str:
    """One form value as text (booleans as the spec's true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def marker_suffix(marker: str) -> str:
    """What ends a report's description so the report can be found again: " [ref 311-…]"."""
    return f" [ref {marker}]"


def cut_description(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, on a word boundary, ending with "…"."""
    if len(text) <= limit:
        return text
    room = text[: max(0, limit - len(ELLIPSIS))]
    if not text[len(room)].isspace():
        head, space, _ = room.rpartition(" ")
        if space and len(head) >= len(room) // 2:
            room = head
    return room.rstrip(" \n\t,.;:") + ELLIPSIS


def encode_attributes(
    attributes: Mapping[str, str | list[str] | tuple[str, ...]], style: str
) -> Form:
    """attribute[CODE]=v pairs; several values as attribute[CODE][]=v ("brackets") or as
    attribute[CODE]=v repeated ("repeat")."""
    pairs: Form = []
    for code, value in attributes.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            key = f"attribute[{code}][]" if style == "brackets" else f"attribute[{code}]"
            pairs.extend((key, form_value(v)) for v in value)
        else:
            pairs.append((f"attribute[{code}]", form_value(value)))
    return pairs


def _present(fields: Mapping[str, Any], key: str) -> bool:
    value = fields.get(key)
    return value is not None and str(value).strip() != ""


def apply_location(fields: dict[str, Any], profile: Profile) -> dict[str, Any]:
    """`fields` with the location fields the profile wants; Open311Error if one is missing."""
    out = dict(fields)
    has_point = _present(out, "lat") and _present(out, "long")
    has_address = _present(out, "address_string")
    has_id = _present(out, "address_id")
    wanted = profile.location
    missing = []
    if wanted in ("both", "latlong") and not has_point:
        missing.append("lat/long")
    if wanted == "both" and not has_address:
        missing.append("address_string")
    if wanted == "address" and not (has_address or has_id):
        missing.append("address_string")
    if wanted == "any" and not (has_point or has_address or has_id):
        missing.append("a location")
    if missing:
        raise Open311Error(
            f"the {profile.name} server needs {_NEEDS[wanted]} in every report; "
            f"this one has no {' and no '.join(missing)}",
            retryable=False,
        )
    if wanted == "latlong" and not profile.fields.get("address_string"):
        out.pop("address_string", None)  # kept where the server reads it under its own name
    elif wanted == "address":
        out.pop("lat", None)
        out.pop("long", None)
    return out


def renamed(fields: dict[str, Any], profile: Profile) -> dict[str, Any]:
    """`fields` under the names the server uses, with the profile's static fields added."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        name = profile.fields.get(key, key)
        if name:
            out[name] = value
    for key, value in profile.extra_fields.items():
        out.setdefault(key, value)
    return out


def request_form(
    fields: Mapping[str, Any],
    attributes: Mapping[str, Any] | None,
    profile: Profile,
) -> Form:
    """The POST requests form (without api_key and jurisdiction_id) as ordered pairs."""
    shaped = {k: v for k, v in fields.items() if v is not None}
    shaped = apply_location(shaped, profile)
    marker = shaped.pop("marker", None)
    suffix = marker_suffix(marker) if marker and profile.marker_in == "description" else ""
    if isinstance(shaped.get("description"), str) or suffix:
        text = cut_description(
            shaped.get("description") or "", profile.description_limit - len(suffix)
        )
        shaped["description"] = (text + suffix).strip()
    if marker:
        shaped["device_id"] = marker
    shaped = renamed(shaped, profile)
    form: Form = []
    for key, value in shaped.items():
        if isinstance(value, (list, tuple)):
            form.extend((key, form_value(v)) for v in value)
        else:
            form.append((key, form_value(value)))
    form.extend(encode_attributes(attributes or {}, profile.multi_value_style))
    return form
