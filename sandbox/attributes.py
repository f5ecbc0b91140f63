"""A POST's attribute answers, read (attribute[X], attribute[X][], repeats) and validated."""

from __future__ import annotations

import math
import re

from sandbox.store import parse_iso

_ATTRIBUTE = re.compile(r"^attribute\[([^\]]+)\](\[\])?$")


def read_attributes(form) -> dict[str, str | list[str]]:
    """code -> value, or -> list of values when sent as attribute[X][] or repeated."""
    out: dict[str, str | list[str]] = {}
    for key in form:
        match = _ATTRIBUTE.match(key)
        if not match:
            continue
        values = [v for v in form.getlist(key) if v != ""]
        if not values:
            continue
        code = match.group(1)
        many = bool(match.group(2)) or len(values) > 1
        if code in out:
            earlier = out[code]
            values = (earlier if isinstance(earlier, list) else [earlier]) + values
            many = True
        out[code] = values if many else values[0]
    return out


def _problem(attr: dict, value: str | list[str]) -> str | None:
    code, kind = attr["code"], attr.get("datatype")
    values = value if isinstance(value, list) else [value]
    if kind != "multivaluelist" and len(values) > 1:
        return f"attribute[{code}] takes one value"
    if kind in ("singlevaluelist", "multivaluelist"):
        keys = [str(v["key"]) for v in attr.get("values", [])]
        if any(v not in keys for v in values):
            return f"attribute[{code}] must be one of {', '.join(keys)}"
    elif kind == "number":
        try:
            number = float(values[0])
        except ValueError:
            return f"attribute[{code}] must be a number"
        if not math.isfinite(number):
            return f"attribute[{code}] must be a number"
    elif kind == "datetime":
        try:
            parse_iso(values[0])
        except ValueError:
            return f"attribute[{code}] must be an ISO 8601 date and time"
    elif kind == "string" and ("\n" in values[0] or "\r" in values[0]):
        return f"attribute[{code}] must be a single line"
    return None


def attribute_problems(definition: dict | None, given: dict) -> list[str]:
    """What is wrong with `given` against the service's definition ([] when acceptable)."""
    problems = []
    for attr in (definition or {}).get("attributes", []):
        value = given.get(attr["code"])
        if value is None:
            if attr.get("required") and attr.get("variable", True):
                problems.append(f"attribute[{attr['code']}] is required: {attr['description']}")
            continue
        problem = _problem(attr, value)
        if problem:
            problems.append(problem)
    return problems
