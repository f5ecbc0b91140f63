"""Which language a message is written in: by script, then by the language's own words.

Short texts defeat statistical detectors, so this counts words each language lists (its
"detect" words) against common English words, and trusts scripts where they decide (Chinese
characters, Vietnamese letters). It answers only when one language clearly wins.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from functools import lru_cache

from .language import Language

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_VIETNAMESE = re.compile(
    "[\u0103\u01b0\u01a1\u0111\u1ea0-\u1ef9]",
    re.IGNORECASE,  # ă ư ơ đ and the toned letters
)
_SPANISH = re.compile("[\u00f1\u00bf\u00a1]")  # ñ ¿ ¡
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_ENGLISH_TEXT = """
the a an is are was there its it's in on at of to and my our this that there's here street st
road ave avenue near front outside by corner hole light out broken not hi hello hey please
thanks thank you yes no help report problem trash pickup missed big huge large small someone
people car left house home since week weeks day days been has have with for from i i'm we me
"""
ENGLISH_WORDS = frozenset(_ENGLISH_TEXT.split())


def detect(text: str, languages: Mapping[str, Language]) -> str | None:
    """The code of the language the text is clearly in (among `languages`), else None."""
    if _CJK.search(text):
        return "zh" if "zh" in languages else None
    if _VIETNAMESE.search(text) and "vi" in languages:
        return "vi"
    words = _WORD.findall(text.casefold())
    if not words:
        return None
    folded = " ".join(words)
    english = sum(map(ENGLISH_WORDS.__contains__, words))
    scores: dict[str, float] = {}
    for code, language in languages.items():
        if code == "en":
            continue
        listed = language.words.get("detect", ())
        score = sum(map(listed.__contains__, words))
        score += sum(map(folded.__contains__, _phrases(listed)))
        if code == "es" and _SPANISH.search(text):
            score += 1
        if score:
            scores[code] = score
    if not scores:
        return "en" if english >= 2 and "en" in languages else None
    best = max(scores, key=lambda code: scores[code])
    ranked = sorted(scores.values(), reverse=True)
    if scores[best] > english and (len(ranked) == 1 or ranked[0] > ranked[1]):
        return best
    if english > scores[best] and english >= 2 and "en" in languages:
        return "en"
    return None


@lru_cache(maxsize=32)
def _phrases(listed: Collection[str]) -> tuple[str, ...]:
    """The words of a language's list that are phrases of several words (a frozenset's hash is
    kept: finding them again costs nothing)."""
    return tuple(phrase for phrase in listed if " " in phrase)
