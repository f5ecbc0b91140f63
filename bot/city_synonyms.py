"""The city's own synonyms for its services (SYNONYMS_FILE), read once per process; they
extend the engine's built-in ones (conversations/synonyms.py).

A TOML file mapping catalogue words to what residents say, e.g.::

    pothole = ["hole in the road", "bache"]
    "street light out" = ["lamp is dark"]
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=4)
def load_synonyms(path: str) -> dict[str, str]:
    """Phrase -> catalogue words from the city's file ({} without one)."""
    if not path:
        return {}
    table = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    phrases: dict[str, str] = {}
    for words, said in table.items():
        for phrase in [said] if isinstance(said, str) else said:
            phrases[str(phrase)] = str(words)
    return phrases
