"""GeoReport v2 XML read into the same shapes as its JSON (the spec's "Spark convention")."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import defusedxml.ElementTree as defused
from defusedxml import DefusedXmlException

# Container element -> its item element: these are always lists, even with one item or none.
LISTS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "service_request_updates": "request_update",
}
# Records that only ever come in lists: an element holding nothing but these is a list whatever
# it is called (<requests>, <root>); "list-item" is Django REST framework's XML list item.
# (open311-api names its items <service_request>.)
ITEMS = frozenset({"request", "service_request", "service", "error", "request_update", "list-item"})


class XMLBodyError(ValueError):
    """A body that is not well-formed XML (or uses a DOCTYPE, which we refuse)."""


def _tag(element: ET.Element) -> str:
    """The element's name without a namespace."""
    return element.tag.rsplit("}", 1)[-1]


def _convert(element: ET.Element) -> Any:
    children = list(element)
    name = _tag(element)
    item = LISTS.get(name)
    # Inside a record (<request>, ...) a child is a field, even one named like a record.
    if children and _tag(children[0]) in ITEMS and name not in ITEMS:
        item = _tag(children[0])
    is_list = item is not None and all(_tag(c) == item for c in children)
    if is_list and (children or not (element.text or "").strip()):
        return [_convert(c) for c in children]
    if not children:
        text = (element.text or "").strip()
        return text or None
    grouped: dict[str, list] = {}
    for child in children:
        grouped.setdefault(_tag(child), []).append(_convert(child))
    return {key: values[0] if len(values) == 1 else values for key, values in grouped.items()}


def loads(text: str | bytes) -> Any:
    """A GeoReport v2 XML document as lists and dicts: list containers become lists, empty
    elements None, every value a string (the client turns them into booleans and numbers)."""
    try:
        root = defused.fromstring(text, forbid_dtd=True, forbid_entities=True)
    except DefusedXmlException as exc:
        raise XMLBodyError("XML with a DOCTYPE or entities is refused") from exc
    except ET.ParseError as exc:
        raise XMLBodyError(f"not well-formed XML: {exc}") from exc
    return _convert(root)
