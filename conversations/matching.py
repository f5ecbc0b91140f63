"""Matching free text to catalogue services with rapidfuzz, helped by a synonym table.

Each service gets a vocabulary of terms (its name, keywords, group and description words);
the message is cut into windows of one to three content words. A service scores
0.7 x (its best weighted term similarity) + 30 x (the share of the message's meaningful words,
those matched by any service, that its own terms matched), so "street light out" prefers
Streetlight Out (every word matched) over Pothole (only "street"). Words are compared
lightly stemmed ("potholes", "dumped") and without spaces ("pot hole", "street light").

With a sentence-embedding model (`similar`: text -> {service code: cosine similarity}, from
bot.understanding) the two are combined. A winner by words stands when the model ranks it first
too, or, for a sure one (SURE: a name or keyword matched), unless the model puts it more than
VETO behind its own best. A shortlist by words whose first the model also puts first, by PROMOTE
or more (and matched by more than where it is), becomes the winner. Otherwise the resident
gets a shortlist: the words' own and the services the model finds close, ordered by fuzzy score
plus MEANING points per unit of cosine behind the model's best (the first is the bot's best
guess, which most residents take). The model alone (no words matched) only ever offers a
shortlist, and only for a text with a meaningful word (it cannot tell a greeting from a report).
The model's similarity also holds the city's past reports and the common problems of
bot/problems.py (see bot/understanding.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process
from rapidfuzz.utils import default_process

from .synonyms import expand
from .types import Service

WIN = 90.0  # a service taken without asking scores at least this...
MARGIN = 8.0  # ...and at least this much more than the runner-up
FLOOR = 75.0  # a service scoring less is never suggested
SPREAD = 15.0  # the shortlist holds services within this of the best
SHORTLIST_SIZE = 4
TERM_FLOOR = 85.0  # a window and a term this similar count as a match
SHORT = 4  # terms or windows shorter than this must match exactly
BEST_SHARE = 0.7  # the rest of a score is the share of meaningful words the service matched

NAME, KEYWORD_PHRASE, KEYWORD_WORD, GROUP, DESCRIPTION = 1.0, 1.0, 0.9, 0.8, 0.8

_STOPWORDS_TEXT = """
a an the is are was were be been being it its this that these those there here i im me my we our
us you your he she they them their on in at of to for from by with near outside next front behind
across corner block and or but so has have had just very really big huge large small little some
someone somebody something anything please hi hello hey thanks thank want wanted need needs like
would could can will report reporting problem issue t s not no yes still again today yesterday
since day days week weeks now get got problems issues problema problemas
hola buenas buenos dias tardes noches tengo tiene hay quiero quisiera reportar reporte un una
unos unas el la los las de del en con mi mis por favor que es esta gracias ayuda
kumusta po may ako ko gusto mag report salamat ang ng sa
xin chao toi co mot van de muon bao cao cam on chào tôi có một vấn đề muốn báo cáo cảm ơn
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
# Words that say where, not what: never evidence for a service on their own (they still count
# inside a phrase: "street light", "water main").
_GENERIC_TEXT = """
main street st road rd avenue ave boulevard blvd lane way drive city hall park lot house home
building front side corner block area neighborhood
"""
GENERIC = frozenset(_GENERIC_TEXT.split())
# "on my street", "in front of our house": where the problem is, not what it is.
_PLACE = re.compile(
    r"\b(?:on|in|at|near|along|down|up|across|by|outside|in front of|behind)\s+"
    r"(?:my|our|the|this|that|their|his|her|your|a)\s+"
    r"(?:street|road|block|corner|sidewalk|curb|alley|lawn|yard|house|building|driveway|"
    r"neighborhood|area|home|apartment|parking lot)\b"
)
# With the model (tuned on tests/evaluation's tuning split and the scenario corpus; see
# bench/README.md): its cosines for a catalogue sit within a few hundredths of each other.
SURE = 95.0  # a winner by words scoring this (a name or keyword, nearly) is taken unless...
VETO = 0.03  # ...the model has it this far behind its best; one scoring less, if the model agrees
PROMOTE = 0.02  # a shortlist's first is taken when the model also puts it first by this much
NEAR = 0.03  # the model suggests the services within this of its best
MEANING = 300.0  # shortlist order: fuzzy score + this x (cosine - the model's best cosine)
FIRST = 5.0  # residents lead with the problem: a service matching the first meaningful word
WEAK = 80.0  # the most a service matched only by GENERIC words scores


@dataclass(frozen=True)
class Pick:
    """What a message chose: a clear winner, or a shortlist to offer (both may be empty)."""

    winner: Service | None
    shortlist: tuple[Service, ...] = ()


def stem(word: str) -> str:
    """A light English stem so plurals and past tenses compare equal ("dumped" -> "dump")."""
    if len(word) > 5 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def meaningful_words(text: str) -> list[str]:
    """The words of a message that can say what the problem is (no stopwords, no places)."""
    processed = _PLACE.sub(" ", default_process(text))
    return [w for w in _content(processed) if w and w not in GENERIC]


def _content(processed: str) -> list[str]:
    """The processed words, with stopwords and bare numbers replaced by ""."""
    return ["" if word in STOPWORDS or word.isdigit() else word for word in processed.split()]


def _key(words: list[str]) -> str:
    """The comparison key of some words: stemmed and joined without spaces."""
    return "".join(stem(word) for word in words)


def _keywords(service: Service) -> list[str]:
    """The service's keywords, a comma-separated string split into phrases."""
    raw = (service.keywords,) if isinstance(service.keywords, str) else service.keywords
    return [phrase for entry in raw for phrase in entry.split(",") if phrase.strip()]


def _terms(service: Service) -> list[tuple[str, float]]:
    """The service's vocabulary as (key, weight) pairs."""
    terms: list[tuple[str, float]] = []

    def add(text: str, whole: float, each: float, min_len: int = 1) -> None:
        words = [word for word in _content(default_process(text)) if len(word) >= min_len]
        if whole and 0 < len(words) <= 3:
            terms.append((_key(words), whole))
        if len(words) > 1:  # a single word alone says nothing when it only tells where
            words = [word for word in words if word not in GENERIC]
        terms.extend((_key([word]), each) for word in words)

    add(service.name, NAME, NAME)
    for phrase in _keywords(service):
        add(phrase, KEYWORD_PHRASE, KEYWORD_WORD)
    add(service.group, 0, GROUP)
    add(service.description, 0, DESCRIPTION, min_len=SHORT)
    return terms


@dataclass(frozen=True)
class _Index:
    """A catalogue's terms, each with the services (by position) it belongs to, and for each
    length of window the terms long enough and short enough to reach TERM_FLOOR with it."""

    keys: list[str]
    owners: list[dict[int, float]]
    by_length: dict[int, tuple[list[str], list[int]]]
    positions: dict[str, int]  # each key's position in `keys`

    def candidates(self, length: int) -> tuple[list[str], list[int]]:
        """The terms a window of this length may match, and their positions in `keys`."""
        found = self.by_length.get(length)
        if found is None:  # a window longer than any kept: worked out, not kept
            found = _reachable(self.keys, length)
        return found


def _reachable(keys: list[str], length: int) -> tuple[list[str], list[int]]:
    """The keys whose length lets fuzz.ratio with a text of `length` reach TERM_FLOOR.

    fuzz.ratio is at most 200 x min(a, b) / (a + b); half a point of margin keeps every key
    on the boundary (the cutoff itself is still applied by rapidfuzz).
    """
    kept = [
        (key, i)
        for i, key in enumerate(keys)
        if 200 * min(length, len(key)) >= (TERM_FLOOR - 0.5) * (length + len(key))
    ]
    return [key for key, _ in kept], [i for _, i in kept]


_LONGEST_KEPT = 64  # candidates kept for windows up to this long (longer ones are rare)


@lru_cache(maxsize=16)
def _index_of(services: tuple[Service, ...]) -> _Index:
    """All terms of a catalogue, built once per catalogue."""
    owners: dict[str, dict[int, float]] = {}
    for position, service in enumerate(services):
        for key, weight in _terms(service):
            if key:
                best = owners.setdefault(key, {})
                best[position] = max(weight, best.get(position, 0.0))
    keys = list(owners)
    by_length = {n: _reachable(keys, n) for n in range(1, _LONGEST_KEPT + 1)}
    positions = {key: i for i, key in enumerate(keys)}
    return _Index(keys, [owners[key] for key in keys], by_length, positions)


_BY_CATALOGUE: dict[int, tuple[tuple[Service, ...], _Index]] = {}


def _index(services: tuple[Service, ...]) -> _Index:
    """The catalogue's index, found again by the catalogue's identity (hashing every service
    costs more than scoring a short message), else by its content."""
    kept = _BY_CATALOGUE.get(id(services))
    if kept is not None and kept[0] is services:
        return kept[1]
    index = _index_of(services)
    if len(_BY_CATALOGUE) > 16:
        _BY_CATALOGUE.clear()
    _BY_CATALOGUE[id(services)] = (services, index)  # keeps the object: its id stays unique
    return index


def _windows(words: list[str]) -> list[tuple[str, range]]:
    """Runs of one to three consecutive content words, as (key, positions covered)."""
    stems = [stem(word) if word else "" for word in words]
    windows = []
    for start in range(len(words)):
        key = ""
        for end in range(start, min(start + 3, len(words))):
            if not words[end]:
                break
            key += stems[end]
            windows.append((key, range(start, end + 1)))
    return windows


def _score_variant(
    processed: str, services: tuple[Service, ...], seen: dict[str, list[tuple[int, float]]]
) -> dict[int, float]:
    """Scores by service position for one processed form of the message; `seen` holds the
    terms each window matched (the message's other form shares most of its windows)."""
    words = _content(processed)[:60]
    index = _index(services)
    best: dict[int, float] = {}
    covered: dict[int, set[int]] = {}
    for window, positions in _windows(words):
        matched = seen.get(window)
        if matched is None:
            matched = seen[window] = _matched(window, index)
        for term, similarity in matched:
            for position, weight in index.owners[term].items():
                best[position] = max(best.get(position, 0.0), similarity * weight)
                covered.setdefault(position, set()).update(positions)
    meaningful = len(set().union(*covered.values())) if covered else 0
    first = min(set().union(*covered.values())) if covered else None
    share = 100.0 * (1 - BEST_SHARE)
    scores = {}
    for position, score in best.items():
        score = BEST_SHARE * score + share * len(covered[position]) / meaningful
        score += FIRST if first in covered[position] else 0.0
        if all(words[i] in GENERIC for i in covered[position]):
            score = min(score, WEAK)  # matched only on where: offered, never taken
        scores[position] = min(score, 100.0)
    return scores


def _matched(window: str, index: _Index) -> list[tuple[int, float]]:
    """The terms (by position in the index) a window matches, with their similarity."""
    if len(window) < SHORT:  # only the very same term counts (fuzz.ratio 100 is equality)
        found = index.positions.get(window)
        return [] if found is None else [(found, 100.0)]
    keys, places = index.candidates(len(window))
    return [
        (places[found], similarity)
        for key, similarity, found in process.extract(
            window, keys, scorer=fuzz.ratio, score_cutoff=TERM_FLOOR, limit=None
        )
        if similarity == 100 or min(len(key), len(window)) >= SHORT
    ]


def match_services(
    text: str,
    services: tuple[Service, ...] | list[Service],
    synonyms: Mapping[str, str] | None = None,
) -> list[tuple[Service, float]]:
    """Services the text may mean, best first, with scores from 0 to 100.

    `synonyms` adds phrases to the built-in table (the resident's language's, the city's).
    """
    services = tuple(services)
    processed = default_process(text)
    scores: dict[int, float] = {}
    seen: dict[str, list[tuple[int, float]]] = {}
    for variant in {processed, expand(processed, synonyms)}:
        variant = _PLACE.sub(" ", variant)
        for position, score in _score_variant(variant, services, seen).items():
            scores[position] = max(score, scores.get(position, 0.0))
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return [(services[position], round(score, 1)) for position, score in ranked]


def pick_service(
    text: str,
    services: tuple[Service, ...] | list[Service],
    synonyms: Mapping[str, str] | None = None,
    similar: Callable[[str], Mapping[str, float]] | None = None,
) -> Pick:
    """A clear winner for the text, or else a shortlist of close candidates (max 4)."""
    matches = match_services(text, services, synonyms)
    matches = [(service, score) for service, score in matches if score >= FLOOR]
    by_words = _by_words(matches)
    if similar is None or (not matches and not meaningful_words(text)):
        return by_words
    known: dict[str, Service] = {}
    for service in services:  # a code listed twice is offered once (as first listed)
        known.setdefault(service.code, service)
    sims = {code: cosine for code, cosine in similar(text).items() if code in known}
    if not sims:
        return by_words
    ranked = sorted(sims, key=lambda code: -sims[code])
    best = sims[ranked[0]]
    runner_up = sims[ranked[1]] if len(ranked) > 1 else best - PROMOTE
    if by_words.winner:
        behind = best - sims.get(by_words.winner.code, best)
        if behind <= (VETO if matches[0][1] >= SURE else 0.0):
            return by_words
    first = by_words.shortlist[0].code if by_words.shortlist else None
    # Never one matched only by where it is ("the road near my house": WEAK at most).
    if first == ranked[0] and best - runner_up >= PROMOTE and matches[0][1] > WEAK:
        return Pick(known[first])
    fuzzy = {service.code: score for service, score in matches}

    def combined(code: str) -> float:
        return fuzzy.get(code, 0.0) + MEANING * (sims.get(code, best - NEAR) - best)

    head = list(dict.fromkeys(service.code for service in by_words.shortlist))
    near = (code for code in ranked if sims[code] >= best - NEAR)
    every = sorted({*head, *fuzzy, *near}, key=lambda code: (-combined(code), code))
    return Pick(None, tuple(known[code] for code in every[:SHORTLIST_SIZE]))


def _by_words(matches: list[tuple[Service, float]]) -> Pick:
    """The pick by fuzzy scores alone (those at FLOOR or above, best first)."""
    if not matches:
        return Pick(None)
    top = matches[0][1]
    runner_up = matches[1][1] if len(matches) > 1 else 0.0
    if top >= WIN and top - runner_up >= MARGIN:
        return Pick(matches[0][0])
    close = tuple(service for service, score in matches if score >= top - SPREAD)
    return Pick(None, close[:SHORTLIST_SIZE])
