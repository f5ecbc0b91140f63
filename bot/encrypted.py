"""EncryptedText: a text column stored as a Fernet token (bot.personal_data), read back clear."""

from __future__ import annotations

from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

from bot import personal_data


class EncryptedText(TypeDecorator):
    """A str column encrypted at rest with the newest ENCRYPTION_KEYS key; None stays NULL.

    Only equality on the clear value is impossible (each token differs): look rows up by a
    keyed hash beside it (Contact.address_key).
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else personal_data.encrypt(str(value))

    def process_result_value(self, value, dialect):
        return None if value is None else personal_data.decrypt(value)
