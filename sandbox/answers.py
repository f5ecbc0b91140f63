"""The sandbox's answers in JSON or XML, with its quirks (errors with 200, empty fields dropped,
error bodies shaped like other servers', lists wrapped or renamed)."""

from __future__ import annotations

from html import escape
from http import HTTPStatus
from typing import Any

from flask import Response, json

from sandbox.xml_render import DRF_ITEM, render_xml

MIMETYPES = {"json": "application/json", "xml": "text/xml"}
ERROR_SHAPES = ("spec", "drf", "drf-code", "fields", "message", "text", "html")


def drop_empty(body: Any) -> Any:
    """`body` without null or empty fields, as servers that omit them answer."""
    if isinstance(body, list):
        return [drop_empty(item) for item in body]
    if isinstance(body, dict):
        return {k: drop_empty(v) for k, v in body.items() if v is not None and v != "" and v != []}
    return body


def answer(
    body: Any,
    fmt: str,
    root: str,
    *,
    status: int = 200,
    empty: bool = True,
    item: str | None = None,
    wrap: str = "",
) -> Response:
    """`body` as the spec's JSON, or as XML under `root` (list items named `item`);
    `empty=False` drops empty fields; `wrap` puts a JSON list under that key of an object."""
    if not empty:
        body = drop_empty(body)
    if fmt == "xml":
        data = render_xml(root, body, item)
    else:
        if wrap and isinstance(body, list):
            body = {wrap: body}
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    return Response(data, status=status, content_type=f"{MIMETYPES[fmt]}; charset=utf-8")


def _joined(descriptions: list[str]) -> str:
    return "; ".join(descriptions)


def _drf_body(shape: str, status: int, descriptions: list[str], fields: dict | None) -> dict:
    """The error as a JSON object: DRF's detail, detail with a code, field errors, message."""
    if shape == "drf-code":
        return {"code": status, "detail": descriptions}
    if shape == "fields" and fields:
        return fields
    if shape == "message":
        return {"message": _joined(descriptions)}
    return {"detail": _joined(descriptions)}


def _html_page(status: int, descriptions: list[str]) -> str:
    """A web framework's HTML error page (Django's look) for `status`."""
    title = f"{status} {HTTPStatus(status).phrase}"
    text = "".join(f"<p>{escape(d)}</p>" for d in descriptions)
    return (
        f'<!doctype html>\n<html lang="en">\n<head>\n  <title>{title}</title>\n</head>\n'
        f"<body>\n  <h1>{title}</h1>{text}\n</body>\n</html>\n"
    )


def error_answer(
    status: int,
    descriptions: str | list[str],
    fmt: str,
    *,
    with_200: bool = False,
    shape: str = "spec",
    fields: dict[str, list[str]] | None = None,
) -> Response:
    """An error with HTTP `status` (200 with `with_200`) in `shape`: the spec's list
    ([{"code", "description"}] or <errors>), a DRF-like object (XML as DRF's <root>), plain
    text or an HTML page; `fields` are the field errors the "fields" shape shows."""
    if isinstance(descriptions, str):
        descriptions = [descriptions]
    code = 200 if with_200 else status
    if shape == "text":
        text = "\n".join(descriptions) + "\n"
        return Response(text, status=code, content_type="text/plain; charset=utf-8")
    if shape == "html":
        page = _html_page(status, descriptions)
        return Response(page, status=code, content_type="text/html; charset=utf-8")
    if shape == "spec":
        body = [{"code": status, "description": d} for d in descriptions]
        return answer(body, fmt, "errors", status=code)
    body = _drf_body(shape, status, descriptions, fields)
    return answer(body, fmt, "root", status=code, item=DRF_ITEM)
