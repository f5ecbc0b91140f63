"""A requests session whose calls end in time: each within its budget, all before a deadline.

requests' read timeout is the longest wait between two bytes: a server that trickles its answer
a byte at a time keeps a call going for as long as it likes. Here every call, its answer read to
the last byte, is given the least of its budget and the time left to the deadline; when that
runs out, a timer shuts the call's socket, and the call fails as a lost connection does
(requests.exceptions.Timeout when it had not already). Nothing is left running after a call.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

# The sockets the current thread's call uses (set by DeadlineSession.send, filled by the
# connections below as they connect or are reused).
_CALL = threading.local()


class Deadline:
    """A time (on the monotonic clock) by which a piece of work must be done."""

    def __init__(self, seconds: float):
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds left (negative once past)."""
        return self.at - time.monotonic()

    def passed(self) -> bool:
        """Whether the deadline has come."""
        return self.left() <= 0


def _watch(sock: socket.socket | None) -> None:
    sockets = getattr(_CALL, "sockets", None)
    if sockets is not None and sock is not None:
        sockets.append(sock)


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _watch(self.sock)

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _watch(self.sock)  # a kept-alive connection is not connected again
        return super().getresponse(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _watch(self.sock)

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _watch(self.sock)
        return super().getresponse(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _WatchedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


def _shut(sockets: list[socket.socket], fired: threading.Event) -> None:
    fired.set()
    for sock in list(sockets):
        # the plain socket's shutdown (an SSL socket's own would drop its TLS state under the
        # reading thread): the blocked read returns at once
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


class DeadlineSession(requests.Session):
    """A session whose every call ends within `budget` seconds and before `deadline`."""

    def __init__(self, deadline: Deadline, budget: float):
        super().__init__()
        self.deadline = deadline
        self.budget = budget
        self.mount("http://", _WatchedAdapter())
        self.mount("https://", _WatchedAdapter())

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """The call, cut off when its time is up (requests.exceptions.Timeout)."""
        left = min(self.budget, self.deadline.left())
        if left <= 0:
            raise requests.exceptions.Timeout("no time left for another call")
        sockets: list[socket.socket] = []
        fired = threading.Event()
        timer = threading.Timer(left, _shut, args=(sockets, fired))
        timer.daemon = True
        _CALL.sockets = sockets
        timer.start()
        try:
            response = super().send(request, **kwargs)
        except Exception:
            if fired.is_set():
                raise requests.exceptions.Timeout(f"no answer within {left:.1f} s") from None
            raise
        finally:
            timer.cancel()
            _CALL.sockets = None
        if fired.is_set():
            response.close()
            raise requests.exceptions.Timeout(f"no answer within {left:.1f} s")
        return response
