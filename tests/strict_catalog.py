"""The sandbox's seeded catalogue, whose list attributes are now required as cities have them.

Kept only for tests/test_end_to_end.py: the bundled catalogue is already strict, so
`--catalog` with this file changes nothing. Delete once its last user passes no catalogue.
"""

from __future__ import annotations

import json
from pathlib import Path

from bot.sandbox.app import load_catalog


def write_strict_catalog(folder: Path) -> str:
    """Write the (already strict) seeded catalogue into `folder`; return its path."""
    path = folder / "strict-catalog.json"
    path.write_text(json.dumps(load_catalog()))
    return str(path)
