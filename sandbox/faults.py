"""Switchable faults for the sandbox's Open311 routes, set while it serves (POST /admin/faults).

Modes:

- ``none``: answer normally.
- ``500``: HTTP 500 with the spec's error list; nothing is stored.
- ``errors200``: HTTP 200 whose body is the spec's error list with code 500; nothing is stored.
- ``timeout``: a POST is stored as normal, then the answer waits ``delay`` seconds (the city
  filed it, the client gave up waiting); a GET just waits.

Each request is hit with probability ``rate``; with ``seconds`` the fault turns itself off after
that long.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

MODES = ("none", "500", "timeout", "errors200")
DEFAULT_DELAY = 30.0


class FaultError(ValueError):
    """A fault setting that makes no sense (unknown mode, rate out of 0..1, ...)."""


@dataclass
class FaultSetting:
    """One fault setting; `until` is a time.monotonic() deadline or None (no expiry)."""

    mode: str = "none"
    rate: float = 1.0
    delay: float = DEFAULT_DELAY
    until: float | None = None


@dataclass
class Faults:
    """The sandbox's current fault, safe to read and change from any thread."""

    _setting: FaultSetting = field(default_factory=FaultSetting)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    hits: dict = field(default_factory=dict)

    def set(
        self,
        mode: str,
        rate: float = 1.0,
        seconds: float | None = None,
        delay: float = DEFAULT_DELAY,
    ) -> dict:
        """Switch to `mode` (raises FaultError when a value is wrong); return the new state."""
        mode = str(mode).strip().lower()
        if mode not in MODES:
            raise FaultError(f"mode must be one of {', '.join(MODES)}")
        try:
            rate = float(rate)
            delay = float(delay)
            seconds = None if seconds in (None, "") else float(seconds)
        except (TypeError, ValueError) as exc:
            raise FaultError("rate, seconds and delay must be numbers") from exc
        if not 0.0 <= rate <= 1.0:
            raise FaultError("rate must be between 0.0 and 1.0")
        if delay < 0:
            raise FaultError("delay must be 0 or more seconds")
        if seconds is not None and seconds <= 0:
            raise FaultError("seconds must be more than 0")
        until = time.monotonic() + seconds if seconds is not None else None
        with self._lock:
            self._setting = FaultSetting(mode, rate, delay, until)
        return self.state()

    def clear(self) -> dict:
        """Back to no fault."""
        return self.set("none")

    def _current(self) -> FaultSetting:
        with self._lock:
            setting = self._setting
            if setting.until is not None and time.monotonic() >= setting.until:
                setting = self._setting = FaultSetting()
            return setting

    def state(self) -> dict:
        """The current setting as JSON: mode, rate, delay, seconds_left (None: no expiry)."""
        setting = self._current()
        left = None
        if setting.until is not None:
            left = round(max(0.0, setting.until - time.monotonic()), 3)
        with self._lock:
            hits = dict(self.hits)
        return {
            "mode": setting.mode,
            "rate": setting.rate,
            "delay": setting.delay,
            "seconds_left": left,
            "hits": hits,
        }

    def draw(self, method: str = "GET") -> FaultSetting | None:
        """The fault hitting this request, or None (drawn with probability `rate`). Hits are
        counted by mode (`hits["500"]`) and by mode and method (`hits["500 POST"]`)."""
        setting = self._current()
        if setting.mode == "none" or setting.rate <= 0.0:
            return None
        if setting.rate < 1.0 and random.random() >= setting.rate:
            return None
        with self._lock:
            for key in (setting.mode, f"{setting.mode} {method.upper()}"):
                self.hits[key] = self.hits.get(key, 0) + 1
        return setting
