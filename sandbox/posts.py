"""The POST forms the sandbox received (GET /admin/posts), so tests can count and read them."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from sandbox.store import iso

MASK = "***"


def masked_form(form) -> dict:
    """A request form as JSON: one value as a string, repeated values as a list; api_key masked."""
    out: dict = {}
    for key in form:
        values = form.getlist(key)
        if key == "api_key":
            values = [MASK for _ in values]
        out[key] = values[0] if len(values) == 1 else values
    return out


@dataclass
class PostLog:
    """Every POST to the Open311 routes, oldest first, safe to use from any thread."""

    _entries: list = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def received(self, path: str, form) -> dict:
        """Log a POST as it arrives; return its entry (its answer is filled in by answered())."""
        entry = {
            "received": iso(time.time()),
            "path": path,
            "form": masked_form(form),
            "status": None,
            "service_request_id": None,
        }
        with self._lock:
            self._entries.append(entry)
        return entry

    def answered(self, entry: dict, status: int, service_request_id: str | None) -> None:
        """Record the HTTP status (and the id filed, if any) a logged POST was answered."""
        with self._lock:
            entry.update(status=status, service_request_id=service_request_id)

    def entries(self) -> list[dict]:
        """Copies of the entries, oldest first."""
        with self._lock:
            return [{**e, "form": dict(e["form"])} for e in self._entries]

    def clear(self) -> int:
        """Forget every entry; return how many there were."""
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            return count
