"""A small least-recently-used cache of answers, safe to share between threads."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")
_MISSING = object()


class LRU(Generic[V]):
    """At most `size` answers; the least recently used goes first."""

    def __init__(self, size: int = 1024):
        self.size = size
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> V | None:
        """The cached answer, or None."""
        with self._lock:
            found = self._items.get(key, _MISSING)
            if found is _MISSING:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return found  # type: ignore[return-value]

    def put(self, key: Hashable, value: V) -> None:
        """Keep an answer."""
        if self.size <= 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget every answer."""
        with self._lock:
            self._items.clear()
