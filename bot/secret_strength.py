"""Whether a secret we choose ourselves (a webhook's shared secret, the staff token) is strong."""

from __future__ import annotations

# Shared secrets we choose ourselves are at least this long (32 random characters).
MIN_SECRET_CHARS = 32
# ... and not a run of one character or a short word repeated ("aaaa...", 32 spaces).
MIN_DISTINCT_CHARS = 10


def weak_secret(name: str, value: str) -> list[str]:
    """Why the secret `name` is too easy to guess (never its value), or nothing."""
    if len(value) < MIN_SECRET_CHARS:
        return [f"{name} is shorter than {MIN_SECRET_CHARS} characters"]
    if value != value.strip() or len(set(value)) < MIN_DISTINCT_CHARS:
        return [
            f"{name} is not random enough (spaces at its ends, or fewer than "
            f"{MIN_DISTINCT_CHARS} different characters): make one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        ]
    return []
