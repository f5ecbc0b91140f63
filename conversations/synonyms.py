"""Everyday phrases mapped to the words a city's catalogue uses, to help fuzzy matching."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from rapidfuzz.utils import default_process

_CJK = re.compile(r"[\u3400-\u9fff]")
# Phrase (as processed by rapidfuzz.utils.default_process: lowercase, no punctuation) -> words
# likely to be in a catalogue. Longer phrases are replaced first.
SYNONYMS: dict[str, str] = {
    "hole in the road": "pothole",
    "hole in the street": "pothole",
    "hole in road": "pothole",
    "road hole": "pothole",
    "crater": "pothole",
    "flat tire": "pothole",
    "lost a tire": "pothole",
    "blew a tire": "pothole",
    "blew out my tire": "pothole",
    "popped my tire": "pothole",
    "damaged my tire": "pothole",
    "bent my rim": "pothole",
    "light out": "streetlight",
    "lights out": "streetlight",
    "light is out": "streetlight",
    "light not working": "streetlight",
    "lamp out": "streetlight",
    "street lamp": "streetlight",
    "lamppost": "streetlight",
    "garbage": "trash",
    "rubbish": "trash",
    "refuse": "trash",
    "not picked up": "missed trash pickup",
    "wasn t picked up": "missed trash pickup",
    "didn t pick up": "missed trash pickup",
    "not collected": "missed trash pickup",
    "tagging": "graffiti",
    "spray paint": "graffiti",
    "spray painted": "graffiti",
    "dumped": "dumping",
    "couch": "dumping furniture",
    "tv": "appliances",
    "television": "appliances",
    "fridge": "appliances",
    "refrigerator": "appliances",
    "washer": "appliances",
    "dryer": "appliances",
    "microwave": "appliances",
    "sofa": "dumping furniture",
    "mattress": "dumping furniture",
    "abandoned car": "abandoned vehicle",
    "car": "vehicle",
    "truck": "vehicle",
    "stop sign": "sign",
    "tree down": "fallen tree",
    "branch down": "fallen tree",
    "tree fell": "fallen tree",
    "fell": "fallen",
    "fell down": "fallen",
    "loud music": "noise",
    "too loud": "noise",
    "leaking": "water leak",
    "burst pipe": "water leak",
    "broken pipe": "water leak",
    "flooding": "water leak",
    "cracked sidewalk": "sidewalk",
    "broken sidewalk": "sidewalk",
}


@lru_cache(maxsize=32)
def _compiled(extra: tuple[tuple[str, str], ...]) -> tuple[re.Pattern, dict[str, str]]:
    """One pattern over the built-in phrases and the extra ones (extra ones win)."""
    table = dict(SYNONYMS)
    table.update((default_process(phrase), words) for phrase, words in extra)
    table.pop("", None)
    alternatives = [
        re.escape(phrase) if _CJK.search(phrase) else rf"\b{re.escape(phrase)}\b"
        for phrase in sorted(table, key=len, reverse=True)
    ]
    return re.compile("|".join(alternatives)), table


def expand(processed: str, extra: Mapping[str, str] | None = None) -> str:
    """The processed text with each known phrase replaced by its catalogue words.

    `extra` adds phrases (a language's, a city's file); Chinese phrases match inside words,
    since Chinese is written without spaces.
    """
    pattern, table = _for(extra or _NONE)
    return " ".join(pattern.sub(lambda found: f" {table[found[0]]} ", processed).split())


_NONE: Mapping[str, str] = {}
_BY_MAPPING: dict[int, tuple[Mapping[str, str], tuple[re.Pattern, dict[str, str]]]] = {}


def _for(extra: Mapping[str, str]) -> tuple[re.Pattern, dict[str, str]]:
    """The pattern for these extra phrases, found again by the mapping's identity (a
    language's, the same every turn), else by its content (sorting it costs a short match)."""
    kept = _BY_MAPPING.get(id(extra))
    if kept is not None and kept[0] is extra:
        return kept[1]
    compiled = _compiled(tuple(sorted(extra.items())))
    if len(_BY_MAPPING) > 32:
        _BY_MAPPING.clear()
    _BY_MAPPING[id(extra)] = (extra, compiled)  # keeps the object: its id stays unique
    return compiled
