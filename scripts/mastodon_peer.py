#!/usr/bin/env python3
"""Serve abraham/mastodon-openapi's description of Mastodon's API with Prism, a peer for Mastodon.

Nobody here wrote either part: the spec is `dist/schema.json` of
https://github.com/abraham/mastodon-openapi (OpenAPI 3.1, generated from Mastodon's own
documentation; fetch it yourself at the commit docs/social-peers.md names) and Prism comes from
npm at a pinned version (scripts/prism_peer.py). Prism checks each request against the spec
(422 when one is not valid) and answers with the spec's examples.

    mastodon_peer.py install DIR                          # npm install of the pinned Prism
    mastodon_peer.py up SPEC --prism DIR --port 4020      # as published, `prism mock --errors`
    mastodon_peer.py up SPEC --prism DIR --port 4021 --fixed
    mastodon_peer.py status
    mastodon_peer.py down --port 4020

SPEC may instead be named by $MASTODON_PEER_SPEC. `--fixed` works around the three gaps
docs/social-peers.md describes, and nothing else: header parameters the spec types as objects
(`Idempotency-Key`) are strings; every JSON request body may also come as a form (Mastodon
takes both, Mastodon.py sends forms; a form's booleans and numbers may be strings); and an answer
example that is not of its schema (the account read's) is replaced by the spec's own example of
an account. Prism then runs without `--errors`; requests are still checked.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import prism_peer  # noqa: E402

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
# Answer examples whose body is not of the operation's schema (found by Prism's answer checks),
# each with the spec's own example that is: verify_credentials's is the update_credentials
# request; an account is the first of Account200Example's (itself, wrongly, a list).
WRONG_EXAMPLES = {("/api/v1/accounts/verify_credentials", "get", "200"): "Account200Example"}


def load(path: Path) -> dict:
    """The spec as published."""
    return json.loads(path.read_text(encoding="utf-8"))


def operations(spec: dict):
    """Each (path, method, operation) of the spec."""
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and "responses" in op:
                yield path, method, op


def as_form(schema: object, spec: dict, depth: int = 0) -> object:
    """A copy of a request schema as a form carries it: its $refs inlined, and its booleans
    and numbers also taken as strings (a form has no other type; Mastodon reads "0", "1",
    "true"; Prism does not convert a form's values to the schema's types)."""
    if isinstance(schema, list):
        return [as_form(item, spec, depth) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema and depth < 8:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return as_form(spec["components"]["schemas"][name], spec, depth + 1)
    copy = {key: as_form(value, spec, depth) for key, value in schema.items()}
    kind = copy.get("type")
    if kind in ("boolean", "integer", "number"):
        copy["type"] = [kind, "string"]
        copy.pop("enum", None)
    return copy


def fix(spec: dict) -> list[str]:
    """Change the spec in place as `--fixed` serves it; say what changed."""
    headers = forms = replaced = 0
    for path, method, op in operations(spec):
        for param in op.get("parameters", []):
            if param.get("in") == "header" and param.get("schema", {}).get("type") == "object":
                param["schema"] = {
                    "type": "string",
                    "description": param["schema"].get("description", ""),
                }
                headers += 1
        content = op.get("requestBody", {}).get("content", {})
        if JSON in content and FORM not in content:
            content[FORM] = {"schema": as_form(content[JSON]["schema"], spec)}
            forms += 1
        for code, answer in op["responses"].items():
            instead = WRONG_EXAMPLES.get((path, method, code))
            if instead:
                value = spec["components"]["examples"][instead]["value"]
                value = value[0] if isinstance(value, list) else value
                for media in answer.get("content", {}).values():
                    if media.pop("examples", None) is not None:
                        media["example"] = value
                        replaced += 1
    return [
        f"{headers} object-typed header parameters made strings",
        f"{forms} JSON request bodies also taken as forms",
        f"{replaced} answer examples not of their schema replaced by the spec's own",
    ]


if __name__ == "__main__":
    prism_peer.main(
        "mastodon",
        __doc__ or "",
        "MASTODON_PEER_SPEC",
        "dist/schema.json of abraham/mastodon-openapi",
        load,
        fix,
        4020,
    )
