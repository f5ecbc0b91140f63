"""One TLS context per process for every HTTP client the bot makes.

Building one reads the whole CA bundle (about 50 ms); httpx builds a new one for every client,
even one that only ever speaks plain HTTP, and the bot makes a client per turn and per send.
"""

from __future__ import annotations

import ssl
from functools import lru_cache

import certifi


@lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """The process's TLS context: certifi's CA bundle, certificates and host names checked."""
    return ssl.create_default_context(cafile=certifi.where())
