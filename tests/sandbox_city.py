"""A sandbox city of a test's own, on loopback, its calls counted: the processes the test
configures file with it and ask it (OPEN311_ENDPOINT) instead of the run's shared sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bot.settings import get_settings
from sandbox.app import create_sandbox_app
from sandbox.server import serve


class Counted:
    """WSGI middleware counting the GET requests.{format} calls (listings and batches) a
    sandbox answers."""

    def __init__(self, app):
        self.app, self.calls = app, 0

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] == "GET" and environ["PATH_INFO"].startswith(
            "/open311/v2/requests."
        ):
            self.calls += 1
        return self.app(environ, start_response)


@contextmanager
def own_city(tmp_path, monkeypatch, **env: str) -> Iterator[Counted]:
    """A new sandbox city served while the block runs, with `env` set beside its endpoint."""
    counted = Counted(create_sandbox_app(str(tmp_path / "city.sqlite3")))
    server = serve(counted)
    monkeypatch.setenv("OPEN311_ENDPOINT", f"{server.url}/open311/v2/")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        yield counted
    finally:
        server.stop()
