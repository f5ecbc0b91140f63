"""GeoReport v2 answers written as the spec's XML (the server side of what the bot reads)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

# The spec's list elements and the item each holds (written from the spec, not the bot's
# reader: the sandbox stands in for a city and shares no code with the client it tests).
ITEMS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "service_request_updates": "request_update",
}

DRF_ITEM = "list-item"  # Django REST framework's XML renderer names list items so


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(value)
    return str(value)


def _fill(element: ET.Element, value: Any, item: str | None = None) -> None:
    nested = item if item == DRF_ITEM else None  # DRF names every list's items alike
    if isinstance(value, list):
        name = item or ITEMS.get(element.tag, "item")
        for entry in value:
            _fill(ET.SubElement(element, name), entry, nested)
    elif isinstance(value, dict):
        for key, entry in value.items():
            _fill(ET.SubElement(element, str(key)), entry, nested)
    else:
        element.text = _text(value)


def render_xml(root: str, body: Any, item: str | None = None) -> bytes:
    """`body` (lists and dicts) as a UTF-8 XML document whose root element is `root`; a list
    right under it holds `item` elements (the spec's name by default; DRF_ITEM: every list)."""
    element = ET.Element(root)
    _fill(element, body, item)
    ET.indent(element)
    return ET.tostring(element, encoding="utf-8", xml_declaration=True)
