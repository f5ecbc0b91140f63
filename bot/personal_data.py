"""Residents' addresses at rest: a keyed hash to find a contact, Fernet to send to it again, and
a short pseudonym for log lines (SECURITY.md)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.settings import get_settings

# Development only: the keys used when none is set (bot.production refuses them in production).
DEVELOPMENT_LOOKUP_KEY = "intake311-development-lookup-key"
DEVELOPMENT_ENCRYPTION_KEY = base64.urlsafe_b64encode(
    hashlib.sha256(b"intake311-development-encryption-key").digest()
).decode()


class UnreadableSecret(ValueError):
    """A stored value none of the configured keys decrypts (a key was removed too early)."""


@lru_cache(maxsize=8)
def _fernet(keys: str) -> MultiFernet:
    return MultiFernet([Fernet(k.strip().encode()) for k in keys.split(",") if k.strip()])


def _keys() -> str:
    return get_settings().encryption_keys or DEVELOPMENT_ENCRYPTION_KEY


def _lookup_key() -> bytes:
    return (get_settings().lookup_key or DEVELOPMENT_LOOKUP_KEY).encode()


def address_key(address: str) -> str:
    """The keyed hash (hex) that finds the contact at `address` without storing it in clear."""
    return hmac.new(_lookup_key(), address.encode(), hashlib.sha256).hexdigest()


def pseudonym(address: str) -> str:
    """A short stable name for `address` in log lines ("c-" and 10 hex digits)."""
    return "c-" + address_key(address)[:10]


def encrypt(value: str) -> str:
    """`value` encrypted with the newest key."""
    return _fernet(_keys()).encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    """A value `encrypt` wrote, under any configured key."""
    try:
        return _fernet(_keys()).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise UnreadableSecret("no configured ENCRYPTION_KEYS key decrypts this value") from exc


def rotate(token: str) -> str:
    """`token` re-encrypted under the newest key (MultiFernet.rotate)."""
    return _fernet(_keys()).rotate(token.encode()).decode()


def new_encryption_key() -> str:
    """A fresh Fernet key for ENCRYPTION_KEYS."""
    return Fernet.generate_key().decode()
