"""Run a WSGI app on loopback in a background thread (the demo and the tests use it)."""

from __future__ import annotations

import threading

from werkzeug.serving import make_server


class ServerThread:
    """A WSGI app served from a daemon thread; port 0 picks a free port."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        self._server = make_server(host, port, app, threaded=True)
        self.host = host
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        """Start serving and return self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(app, host: str = "127.0.0.1", port: int = 0) -> ServerThread:
    """Start serving `app` in a background thread and return the running server."""
    return ServerThread(app, host, port).start()
