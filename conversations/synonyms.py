"""Everyday phrases mapped to the words a city's catalogue uses, to help fuzzy matching."""

from __future__ import annotations

import re

# Phrase (as processed by rapidfuzz.utils.default_process: lowercase, no punctuation) -> words
# likely to be in a catalogue. Longer phrases are replaced first.
SYNONYMS: dict[str, str] = {
    "hole in the road": "pothole",
    "hole in the street": "pothole",
    "hole in road": "pothole",
    "road hole": "pothole",
    "crater": "pothole",
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

_PATTERN = re.compile(
    r"\b(" + "|".join(re.escape(p) for p in sorted(SYNONYMS, key=len, reverse=True)) + r")\b"
)


def expand(processed: str) -> str:
    """The processed text with each known phrase replaced by its catalogue words."""
    return _PATTERN.sub(lambda found: SYNONYMS[found[1]], processed)
