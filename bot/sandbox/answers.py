"""The sandbox's answers in JSON or XML, with its quirks (errors with 200, empty fields dropped)."""

from __future__ import annotations

from typing import Any

from flask import Response, json

from bot.sandbox.xml_render import render_xml

MIMETYPES = {"json": "application/json", "xml": "text/xml"}


def drop_empty(body: Any) -> Any:
    """`body` without null or empty fields, as servers that omit them answer."""
    if isinstance(body, list):
        return [drop_empty(item) for item in body]
    if isinstance(body, dict):
        return {k: drop_empty(v) for k, v in body.items() if v is not None and v != "" and v != []}
    return body


def answer(body: Any, fmt: str, root: str, *, status: int = 200, empty: bool = True) -> Response:
    """`body` as the spec's JSON, or as XML under `root`; `empty=False` drops empty fields."""
    if not empty:
        body = drop_empty(body)
    if fmt == "xml":
        data = render_xml(root, body)
    else:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    return Response(data, status=status, content_type=f"{MIMETYPES[fmt]}; charset=utf-8")


def error_answer(
    status: int, descriptions: str | list[str], fmt: str, *, with_200: bool = False
) -> Response:
    """The spec's error list ([{"code", "description"}] or <errors>) with HTTP `status`, or
    with HTTP 200 when the server answers errors that way."""
    if isinstance(descriptions, str):
        descriptions = [descriptions]
    body = [{"code": status, "description": d} for d in descriptions]
    return answer(body, fmt, "errors", status=200 if with_200 else status)
