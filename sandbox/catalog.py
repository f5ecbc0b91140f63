"""The sandbox's catalogue: the bundled one, or a city's own services.json and definitions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CATALOG_PATH = Path(__file__).with_name("catalog.json")


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _definition(code: str, raw: dict) -> dict:
    """A service definition with string codes and keys and boolean flags."""
    attributes = []
    for attr in raw.get("attributes") or []:
        attributes.append(
            {
                **attr,
                "code": str(attr["code"]),
                "variable": _flag(attr.get("variable"), True),
                "required": _flag(attr.get("required"), False),
                "values": [{**v, "key": str(v["key"])} for v in (attr.get("values") or [])],
            }
        )
    return {**raw, "service_code": code, "attributes": attributes}


def _definitions(raw: Any) -> dict[str, dict]:
    """A mapping code -> definition, from a mapping or from a list of definitions."""
    if isinstance(raw, list):
        raw = {str(d["service_code"]): d for d in raw}
    return {str(code): _definition(str(code), d) for code, d in (raw or {}).items()}


def load_catalog(
    path: str | Path | None = None, definitions_path: str | Path | None = None
) -> dict:
    """A catalogue: {"services": [...], "definitions": {code: definition}, ...}.

    `path` holds that shape or a bare services list (a city's services.json);
    `definitions_path` (optional) holds definitions as a mapping by code or as a list.
    """
    data = json.loads(Path(path or CATALOG_PATH).read_text(encoding="utf-8"))
    if isinstance(data, list):
        data = {"services": data}
    for service in data["services"]:
        service["service_code"] = str(service["service_code"])
        service["metadata"] = _flag(service.get("metadata"), False)
    definitions = _definitions(data.get("definitions"))
    if definitions_path is not None:
        extra = json.loads(Path(definitions_path).read_text(encoding="utf-8"))
        definitions.update(_definitions(extra))
    data["definitions"] = definitions
    return data
