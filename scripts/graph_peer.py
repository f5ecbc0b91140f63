#!/usr/bin/env python3
"""Serve Meta's own machine-readable description of the Send API with Prism, a peer for Messenger.

Meta publishes no OpenAPI description of the Graph API. What it does publish is the spec its
Business SDKs are generated from: https://github.com/facebook/facebook-business-sdk-codegen,
folder `api_specs/specs/` (fetch it yourself at the commit docs/social-peers.md names; nothing
of it is kept here). `Page.json` lists the Page's edges with their parameters, and
`POST /{page}/messages` is the Send API; `enum_types.json` lists each enum parameter's values.
This script translates that one edge, parameter by parameter, into a small OpenAPI 3.0
document and serves it with Prism (scripts/prism_peer.py), which checks each request against it
(422 when one is not valid, 401 without a token) and answers with the Send API's documented
answer.

    graph_peer.py install DIR                                # npm install of the pinned Prism
    graph_peer.py up SPECS_DIR --prism DIR --port 4040       # as Meta's spec says, --errors
    graph_peer.py up SPECS_DIR --prism DIR --port 4041 --fixed
    graph_peer.py status
    graph_peer.py down --port 4040

SPECS_DIR (the `api_specs/specs` folder) may instead be named by $GRAPH_PEER_SPEC. The
translation: a parameter typed `string` is a string, `bool` a boolean, `int` an integer,
`list<...>` an array, an `*_enum_param` a string of that enum's values, and `Object` anything
(Meta's spec says no more); `required` as the spec says. What Meta's spec does not give is
written from Meta's Send API reference and says so: the path (`/{version}/{page-id or me}/
messages`), the page token (`access_token` in the query, or a bearer header), JSON or form
bodies, and the answer (`recipient_id`, `message_id`; Meta's spec says it returns a `Page`).
`--fixed` adds the Send API reference's rules for the three `Object` parameters we send
(`recipient`, `message` with its `quick_replies`, and `tag`), and nothing else.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import prism_peer  # noqa: E402

EDGE = "messages"
PATH = "/{version}/{page_id}/messages"
NODE = "/{version}/{page_id}"
SUBSCRIBE = "/{version}/{page_id}/subscribed_apps"
PAGE = {"id": "6000000000000100", "name": "City 311 (peer example)"}
# Graph's answer to a parameter it refuses: error code 100, "Invalid parameter" (Graph API
# reference, "Handling errors"), with a made-up trace ID.
REFUSAL = {
    "error": {
        "message": "(#100) Invalid parameter",
        "type": "OAuthException",
        "code": 100,
        "fbtrace_id": "PeerTraceId",
    }
}
ANSWER = {  # the Send API reference's answer, with made-up IDs
    "recipient_id": "6000000000000001",
    "message_id": "m_peer-example-message-id",
}
# From the Send API reference (developers.facebook.com/docs/messenger-platform/reference/
# send-api/, .../send-messages/quick-replies, .../send-messages/message-tags).
DOCUMENTED = {
    "recipient": {
        "type": "object",
        "minProperties": 1,
        "properties": {
            "id": {"type": "string", "pattern": "^[0-9]+$"},
            "user_ref": {"type": "string"},
            "comment_id": {"type": "string"},
            "post_id": {"type": "string"},
            "notification_messages_token": {"type": "string"},
        },
    },
    "message": {
        "type": "object",
        "properties": {
            "text": {"type": "string", "minLength": 1, "maxLength": 2000},
            "attachment": {"type": "object"},
            "metadata": {"type": "string", "maxLength": 1000},
            "quick_replies": {
                "type": "array",
                "minItems": 1,
                "maxItems": 13,
                "items": {
                    "type": "object",
                    "required": ["content_type"],
                    "properties": {
                        "content_type": {
                            "type": "string",
                            "enum": ["text", "user_phone_number", "user_email"],
                        },
                        "title": {"type": "string", "maxLength": 20},
                        "payload": {"type": "string", "maxLength": 1000},
                        "image_url": {"type": "string"},
                    },
                },
            },
        },
    },
    "tag": {
        "type": "string",
        "enum": [
            "ACCOUNT_UPDATE",
            "CONFIRMED_EVENT_UPDATE",
            "CUSTOMER_FEEDBACK",
            "HUMAN_AGENT",
            "POST_PURCHASE_UPDATE",
        ],
    },
}


def schema_of(kind: str, enums: dict[str, list[str]]) -> dict:
    """The JSON schema of one of Meta's parameter types."""
    if kind.startswith("list<") and kind.endswith(">"):
        return {"type": "array", "items": schema_of(kind[5:-1], enums)}
    if kind in enums:
        return {"type": "string", "enum": enums[kind]}
    return {
        "string": {"type": "string"},
        "bool": {"type": "boolean"},
        "int": {"type": "integer"},
        "unsigned int": {"type": "integer", "minimum": 0},
        "float": {"type": "number"},
    }.get(kind, {})  # `Object`, `map` and the node types: anything


def load(folder: Path) -> dict:
    """The Send API edge of Meta's spec (and the two of add_page_edges), as OpenAPI 3.0."""
    page = json.loads((folder / "Page.json").read_text(encoding="utf-8"))
    enum_list = json.loads((folder / "enum_types.json").read_text(encoding="utf-8"))
    enums = {e["name"]: e["values"] for e in enum_list}
    [edge] = [a for a in page["apis"] if a["method"] == "POST" and a.get("endpoint") == EDGE]
    body = {
        "type": "object",
        "properties": {p["name"]: schema_of(p["type"], enums) for p in edge["params"]},
        "required": [p["name"] for p in edge["params"] if p.get("required")],
        "x-meta-return": edge.get("return"),
    }
    graph_error = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type", "code"],
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "code": {"type": "integer"},
                    "error_subcode": {"type": "integer"},
                    "fbtrace_id": {"type": "string"},
                },
            }
        },
    }
    path_params = [
        {
            "name": "version",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": "^v[0-9]+\\.[0-9]+$"},
        },
        {
            "name": "page_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": "^(me|[0-9]+)$"},
        },
    ]
    document = {
        "openapi": "3.0.3",
        "info": {
            "title": "Graph API Send API (from facebook-business-sdk-codegen Page.json)",
            "version": "1",
        },
        "servers": [{"url": "https://graph.facebook.com"}],
        "components": {
            "securitySchemes": {
                "PageToken": {"type": "apiKey", "in": "query", "name": "access_token"},
                "Bearer": {"type": "http", "scheme": "bearer"},
            },
            "schemas": {"SendRequest": body, "GraphError": graph_error},
        },
        "paths": {
            PATH: {
                "post": {
                    "operationId": "sendMessage",
                    "security": [{"PageToken": []}, {"Bearer": []}],
                    "parameters": path_params,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/SendRequest"}
                            },
                            "application/x-www-form-urlencoded": {
                                "schema": {"$ref": "#/components/schemas/SendRequest"}
                            },
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Sent",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["recipient_id", "message_id"],
                                        "properties": {
                                            "recipient_id": {"type": "string"},
                                            "message_id": {"type": "string"},
                                        },
                                    },
                                    "example": ANSWER,
                                }
                            },
                        },
                        "400": {
                            "description": "A Graph API error",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/GraphError"},
                                    "example": REFUSAL,
                                }
                            },
                        },
                    },
                }
            }
        },
    }
    add_page_edges(document, page, enums)
    return document


def add_page_edges(spec: dict, page: dict, enums: dict[str, list[str]]) -> None:
    """Two more of the Page's operations, for `intake311 messenger`: reading the page
    (`GET /{page}?fields=…`, the fields Page.json lists) and subscribing it to the app
    (`POST /{page}/subscribed_apps?subscribed_fields=…`, the enum Meta lists), their
    parameters in the query, lists comma-separated, as Graph's references show them."""
    operation = spec["paths"][PATH]["post"]
    common = {
        "security": operation["security"],
        "responses": {"400": operation["responses"]["400"]},
    }
    path_params = operation["parameters"]
    field_names = sorted(f["name"] for f in page["fields"])
    spec["paths"][NODE] = {
        "get": {
            **common,
            "operationId": "readPage",
            "parameters": path_params
            + [
                {
                    "name": "fields",
                    "in": "query",
                    "style": "form",
                    "explode": False,
                    "schema": {"type": "array", "items": {"type": "string", "enum": field_names}},
                }
            ],
            "responses": {
                **common["responses"],
                "200": {
                    "description": "The page's fields asked for (Graph: a node's `id` always)",
                    "content": {"application/json": {"example": PAGE}},
                },
            },
        }
    }
    [edge] = [
        a for a in page["apis"] if a["method"] == "POST" and a.get("endpoint") == "subscribed_apps"
    ]
    query = [
        {
            "name": p["name"],
            "in": "query",
            "required": bool(p.get("required")),
            "style": "form",
            "explode": False,
            "schema": schema_of(p["type"], enums),
        }
        for p in edge["params"]
    ]
    spec["paths"][SUBSCRIBE] = {
        "post": {
            **common,
            "operationId": "subscribePage",
            "parameters": path_params + query,
            "x-meta-return": edge.get("return"),
            "responses": {
                **common["responses"],
                "200": {
                    "description": "Subscribed (Graph answers `success`)",
                    "content": {"application/json": {"example": {"success": True}}},
                },
            },
        }
    }


def fix(spec: dict) -> list[str]:
    """Change the document in place as `--fixed` serves it; say what changed."""
    properties = spec["components"]["schemas"]["SendRequest"]["properties"]
    for name, schema in DOCUMENTED.items():
        properties[name] = schema
    return [f"the Send API reference's rules for {', '.join(DOCUMENTED)}"]


if __name__ == "__main__":
    prism_peer.main(
        "graph",
        __doc__ or "",
        "GRAPH_PEER_SPEC",
        "api_specs/specs of facebook/facebook-business-sdk-codegen",
        load,
        fix,
        4040,
    )
