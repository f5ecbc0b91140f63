"""fetch_photo: one more try at a resident's photo whose earlier try failed (bot.media.pipeline)."""

from __future__ import annotations

from bot.media.pipeline import fetch_photo as try_photo
from bot.settings import get_settings


def fetch_photo(photo_id: int) -> str | None:
    """Try once to fetch, clean and keep the photo; its state after (None: not this job's)."""
    state = try_photo(photo_id, get_settings())
    return str(state) if state is not None else None
