#!/usr/bin/env python3
"""Serve X's own OpenAPI description of its API v2 with Prism, a peer for our X sends.

Nobody here wrote either part: the spec is `specs/openapi.json` of
https://github.com/xdevplatform/xdk (X's SDK generator; the production spec it pins, the same
document https://api.x.com/2/openapi.json serves; fetch it yourself at the commit
docs/social-peers.md names) and Prism comes from npm at a pinned version (scripts/prism_peer.py).
Prism checks each request against the spec (422 when one is not valid, 401 when its
credentials are not of a scheme the operation names) and answers with the spec's examples.

    x_peer.py install DIR                          # npm install of the pinned Prism
    x_peer.py up SPEC --prism DIR --port 4030      # as published, `prism mock --errors`
    x_peer.py up SPEC --prism DIR --port 4031 --fixed
    x_peer.py status
    x_peer.py down --port 4030

SPEC may instead be named by $X_PEER_SPEC. `--fixed` works around the one gap
docs/social-peers.md describes: the spec names OAuth 1.0a user context (`UserToken`) an HTTP
scheme `OAuth`, which Prism does not know, so every OAuth 1.0a request is refused 401 ("Invalid
security scheme used"); the fixed copy declares it an `Authorization` header (Prism then checks
that one is sent, not its signature). Prism then runs without `--errors` and with `--dynamic`:
the spec has no examples, and Prism's static answers fill every ID with "string", which fails
the spec's own `^[0-9]{1,19}$`; dynamic answers are generated to fit the schemas. Requests are
still checked.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import prism_peer  # noqa: E402


def load(path: Path) -> dict:
    """The spec as published."""
    return json.loads(path.read_text(encoding="utf-8"))


def fix(spec: dict) -> list[str]:
    """Change the spec in place as `--fixed` serves it; say what changed."""
    schemes = spec["components"]["securitySchemes"]
    changed = []
    for name, scheme in schemes.items():
        if scheme.get("type") == "http" and scheme.get("scheme", "").lower() == "oauth":
            schemes[name] = {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "OAuth 1.0a user context (its signature is not checked)",
            }
            changed.append(name)
    return [f"HTTP scheme OAuth ({', '.join(changed) or 'none'}) declared an Authorization header"]


if __name__ == "__main__":
    prism_peer.main(
        "x",
        __doc__ or "",
        "X_PEER_SPEC",
        "specs/openapi.json of xdevplatform/xdk",
        load,
        fix,
        4030,
        True,
    )
