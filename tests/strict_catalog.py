"""The sandbox's seeded catalogue with its list attributes required, as many cities have them."""

from __future__ import annotations

import json
from pathlib import Path

from bot.sandbox.app import load_catalog


def write_strict_catalog(folder: Path) -> str:
    """Write the strict catalogue into `folder`; return its path for --catalog."""
    catalog = load_catalog()
    for definition in catalog["definitions"].values():
        for attribute in definition["attributes"]:
            attribute["required"] = attribute["datatype"] == "singlevaluelist"
    path = folder / "strict-catalog.json"
    path.write_text(json.dumps(catalog))
    return str(path)
