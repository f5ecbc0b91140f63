"""A resident's photos from the channel's reference to the copy the city opens.

Each reference a resident sends becomes a `Photo` row (one per contact and reference). A photo
is fetched by a worker, never in a webhook: first before the turn of the message it came with
(so the place its EXIF names can be offered as the location), then, if that try failed, by
`bot.jobs.fetch_photo` with backoff, and once more when its report is filed. Each try asks the
photo's channel how to fetch it (`Channel.media_request`: its URL, hosts and credentials),
downloads it within the limits (`bot.media.download`), cleans it (`bot.media.photos`: an
image, sniffed; GPS read, then every piece of metadata stripped and the image re-encoded) and
keeps it under an unguessable token in the media store, from which `/media/<token>` serves it.

A photo never holds a report back: the report is filed with the photos kept by then, and the
others are given up (failed, for staff to see). Tries and backoff are a send's: MEDIA_FETCH_ATTEMPTS
tries, doubling from FETCH_BACKOFF_BASE; a photo that can never be fetched (not the provider's,
not an image, too large) is refused at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot import queue
from bot.channels.registry import channel_for
from bot.db import session_scope
from bot.logs import scrub
from bot.media.download import download
from bot.media.photos import clean
from bot.media.store import media_store, new_token, public_url
from bot.media.types import MediaRefused, MediaUnavailable
from bot.models import Photo, PhotoState
from bot.settings import Settings
from bot.timeutil import utcnow

log = logging.getLogger(__name__)

FETCH_BACKOFF_BASE = 10  # seconds before the second try; doubled each try after
FETCH_BACKOFF_CAP = 600
# A photo "fetching" for longer than this belongs to a worker that died: tried again.
FETCH_IN_FLIGHT = timedelta(minutes=5)
MAX_ERROR = 300  # characters of a failure's reason kept for staff


def ensure_photos(
    session: Session,
    contact_id: int,
    channel: str,
    references: Iterable[str],
    *,
    message_id: int | None = None,
    report_id: int | None = None,
) -> list[Photo]:
    """The contact's Photo rows for `references`, in their order, made where missing (in the
    caller's transaction); with `report_id`, each is marked as that report's."""
    wanted = list(dict.fromkeys(ref for ref in references if ref))
    if not wanted:
        return []
    rows = _rows(session, contact_id, wanted)
    for reference in wanted:
        if reference in rows:
            continue
        photo = Photo(
            contact_id=contact_id, channel=channel, reference=reference, message_id=message_id
        )
        try:
            with session.begin_nested():  # another worker may make the same row meanwhile
                session.add(photo)
        except IntegrityError:
            rows.update(_rows(session, contact_id, [reference]))
        else:
            rows[reference] = photo
    found = [rows[ref] for ref in wanted if ref in rows]
    if report_id is not None:
        for photo in found:
            if photo.report_id is None:
                photo.report_id = report_id
    session.flush()
    return found


def _rows(session: Session, contact_id: int, references: Sequence[str]) -> dict[str, Photo]:
    return {
        photo.reference: photo
        for photo in session.exec(
            select(Photo).where(Photo.contact_id == contact_id, Photo.reference.in_(references))
        ).all()
        if photo.reference
    }


def fetch_photo(photo_id: int, settings: Settings) -> PhotoState | None:
    """Try once to fetch, clean and keep one photo; its state after the try (None: it was not
    this worker's to try). A failure that may pass is tried again later by a queued job."""
    claimed = _claim(photo_id)
    if claimed is None:
        return None
    channel, reference, attempts = claimed
    try:
        request = channel_for(channel).media_request(reference, settings)
        kept = clean(download(request, settings), settings)
        token = new_token()
        media_store(settings).put(token, kept.data, kept.content_type)
    except MediaRefused as exc:
        return _failed(photo_id, PhotoState.REFUSED, str(exc))
    except MediaUnavailable as exc:
        return _try_later(photo_id, attempts, str(exc), settings)
    except Exception as exc:  # noqa: BLE001 - a store or library failure: tried again later
        log.warning("photo %s: %s while fetching it", photo_id, type(exc).__name__)
        return _try_later(photo_id, attempts, type(exc).__name__, settings)
    with session_scope() as session:
        photo = session.get(Photo, photo_id)
        if photo is None:  # erased while it was being fetched: its copy goes too
            media_store(settings).delete(token)
            return None
        photo.state, photo.token = PhotoState.STORED, token
        photo.content_type, photo.size = kept.content_type, len(kept.data)
        photo.lat, photo.lon = kept.gps if kept.gps else (None, None)
        photo.next_attempt_at, photo.last_error = None, None
        photo.stored_at = photo.updated_at = utcnow()
    log.info("photo %s kept (%s bytes, %sx%s)", photo_id, len(kept.data), kept.width, kept.height)
    return PhotoState.STORED


def _claim(photo_id: int) -> tuple[str, str, int] | None:
    """pending (or abandoned while fetching) -> fetching, one try counted: (channel,
    reference, attempts), or None when the photo is not there to try."""
    now = utcnow()
    with session_scope() as session:
        claimed = session.execute(
            update(Photo)
            .where(
                Photo.id == photo_id,
                or_(
                    Photo.state == PhotoState.PENDING,
                    (Photo.state == PhotoState.FETCHING)
                    & (Photo.updated_at < now - FETCH_IN_FLIGHT),
                ),
            )
            .values(state=PhotoState.FETCHING, attempts=Photo.attempts + 1, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not claimed:
            return None
        photo = session.get(Photo, photo_id)
        if photo is None or not photo.reference:
            return None
        return photo.channel, photo.reference, photo.attempts


def _failed(photo_id: int, state: PhotoState, reason: str) -> PhotoState:
    """A photo given up: refused (never fetchable) or failed (tries spent), kept for staff."""
    with session_scope() as session:
        photo = session.get(Photo, photo_id)
        if photo is None:
            return state
        photo.state, photo.next_attempt_at = state, None
        photo.last_error = scrub(reason)[:MAX_ERROR]
        photo.updated_at = utcnow()
    log.warning("photo %s %s: %s", photo_id, state, scrub(reason)[:MAX_ERROR])
    return state


def _try_later(photo_id: int, attempts: int, reason: str, settings: Settings) -> PhotoState:
    """Back to pending with its next try due, and that try queued; or failed when spent."""
    if attempts >= settings.media_fetch_attempts:
        return _failed(photo_id, PhotoState.FAILED, f"gave up after {attempts} tries: {reason}")
    delay = min(FETCH_BACKOFF_CAP, FETCH_BACKOFF_BASE * 2 ** max(0, attempts - 1))
    with session_scope() as session:
        photo = session.get(Photo, photo_id)
        if photo is None:
            return PhotoState.ERASED
        photo.state = PhotoState.PENDING
        photo.next_attempt_at = utcnow() + timedelta(seconds=delay)
        photo.last_error = scrub(reason)[:MAX_ERROR]
        photo.updated_at = utcnow()
    queue.enqueue("bot.jobs.fetch_photo", photo_id, delay=delay, kind="city")
    return PhotoState.PENDING


def prepare_message(
    contact_id: int,
    channel: str,
    message_id: int,
    references: Sequence[str],
    settings: Settings,
) -> tuple[float, float] | None:
    """Before a message's turn: its photos' rows made and each not yet kept tried once (within
    one MEDIA_FETCH_TIMEOUT in all; the rest are queued); where the first kept photo that says
    so was taken."""
    if not references:
        return None
    with session_scope() as session:
        rows = ensure_photos(session, contact_id, channel, references, message_id=message_id)
        ids = [photo.id for photo in rows]
        due = [photo.id for photo in rows if _due(photo)]
    _try_within(due, settings.media_fetch_timeout, settings)
    with session_scope() as session:
        for photo_id in ids:
            photo = session.get(Photo, photo_id)
            if photo.state == PhotoState.STORED and photo.lat is not None and photo.lon is not None:
                return photo.lat, photo.lon
    return None


def _due(photo: Photo) -> bool:
    return photo.state == PhotoState.PENDING and (
        photo.next_attempt_at is None or photo.next_attempt_at <= utcnow()
    )


def _try_within(photo_ids: Sequence[int], seconds: float, settings: Settings) -> None:
    """Try each photo once, until `seconds` have passed; the rest go to the queue."""
    deadline = time.monotonic() + seconds
    for index, photo_id in enumerate(photo_ids):
        if time.monotonic() >= deadline:
            for later in photo_ids[index:]:
                queue.enqueue("bot.jobs.fetch_photo", later, kind="city")
            return
        fetch_photo(photo_id, settings)


def report_photo_urls(
    report_id: int, contact_id: int, channel: str, references: Sequence[str], settings: Settings
) -> list[str]:
    """At filing: the addresses of the report's kept photos, in the order they were sent.
    Photos not kept yet are tried once more now (within one MEDIA_FETCH_TIMEOUT); the report
    does not wait for any longer than that."""
    if not references:
        return []
    with session_scope() as session:
        rows = ensure_photos(session, contact_id, channel, references, report_id=report_id)
        ids = [photo.id for photo in rows]
        pending = [photo.id for photo in rows if photo.state == PhotoState.PENDING]
    _try_within(pending, settings.media_fetch_timeout, settings)
    with session_scope() as session:
        photos = [session.get(Photo, photo_id) for photo_id in ids]
        return [
            public_url(photo.token, settings)
            for photo in photos
            if photo is not None and photo.state == PhotoState.STORED and photo.token
        ]


def give_up_unfiled(session: Session, report_id: int) -> int:
    """Once the report is filed, its photos not kept by then are failed (the city has the
    report without them), in the caller's transaction; returns how many."""
    photos = session.exec(
        select(Photo).where(
            Photo.report_id == report_id,
            Photo.state.in_((PhotoState.PENDING, PhotoState.FETCHING)),
        )
    ).all()
    for photo in photos:
        photo.state, photo.next_attempt_at = PhotoState.FAILED, None
        reason = photo.last_error or "not fetched yet"
        photo.last_error = f"the report was filed without it: {reason}"[:MAX_ERROR]
        photo.updated_at = utcnow()
    return len(photos)


def erase_photos(session: Session, *conditions, settings: Settings) -> int:
    """Delete the photos matching `conditions` (e.g. `Photo.contact_id == 3`): their kept
    copies first, then their rows, in the caller's transaction; returns how many."""
    photos = session.exec(select(Photo).where(*conditions)).all()
    store = media_store(settings) if any(photo.token for photo in photos) else None
    for photo in photos:
        if photo.token and store is not None:
            store.delete(photo.token)
        session.delete(photo)
    session.flush()
    return len(photos)
