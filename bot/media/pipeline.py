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

from rq.timeouts import JobTimeoutException
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
    this worker's to try, or it was erased or given up meanwhile). A failure that may pass is
    tried again later by a queued job."""
    claimed = _claim(photo_id, settings)
    if claimed is None:
        return None
    channel, reference, attempts = claimed
    try:
        request = channel_for(channel).media_request(reference, settings)
        kept = clean(download(request, settings), settings)
        token = new_token()
        media_store(settings).put(token, kept.data, kept.content_type)
    except JobTimeoutException:
        raise  # the job's time is up: rq (or the turn's overrun) handles it, not a try
    except MediaRefused as exc:
        return _failed(photo_id, attempts, PhotoState.REFUSED, str(exc))
    except MediaUnavailable as exc:
        return _try_later(photo_id, attempts, str(exc), settings)
    except Exception as exc:  # noqa: BLE001 - a store or library failure: tried again later
        log.warning("photo %s: %s while fetching it", photo_id, type(exc).__name__)
        return _try_later(photo_id, attempts, type(exc).__name__, settings)
    now = utcnow()
    kept_it = _settle(
        photo_id,
        attempts,
        state=PhotoState.STORED,
        token=token,
        content_type=kept.content_type,
        size=len(kept.data),
        lat=kept.gps[0] if kept.gps else None,
        lon=kept.gps[1] if kept.gps else None,
        next_attempt_at=None,
        last_error=None,
        stored_at=now,
        updated_at=now,
    )
    if not kept_it:
        # Erased, or given up at filing, while it was fetched: the copy must not outlive it.
        _delete_copy(token, settings)
        return None
    log.info("photo %s kept (%s bytes, %sx%s)", photo_id, len(kept.data), kept.width, kept.height)
    return PhotoState.STORED


def _settle(photo_id: int, attempts: int, **values) -> bool:
    """Write a try's outcome only if the photo is still this try's (fetching, with the
    attempts it claimed): not erased, not given up at filing, not claimed again since."""
    with session_scope() as session:
        return bool(
            session.execute(
                update(Photo)
                .where(
                    Photo.id == photo_id,
                    Photo.state == PhotoState.FETCHING,
                    Photo.attempts == attempts,
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            ).rowcount
        )


def _claim(photo_id: int, settings: Settings) -> tuple[str, str, int] | None:
    """pending (or abandoned while fetching) -> fetching, one try counted: (channel,
    reference, attempts), or None when the photo is not there to try. A photo whose worker
    died fetching it as many times as it may be tried (one that kills its worker: memory, a
    decoder) is given up instead of claimed again."""
    now = utcnow()
    stale = (Photo.state == PhotoState.FETCHING) & (Photo.updated_at < now - FETCH_IN_FLIGHT)
    spent = Photo.attempts >= settings.media_fetch_attempts
    with session_scope() as session:
        claimed = session.execute(
            update(Photo)
            .where(Photo.id == photo_id, or_(Photo.state == PhotoState.PENDING, stale & ~spent))
            .values(state=PhotoState.FETCHING, attempts=Photo.attempts + 1, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not claimed:
            session.execute(
                update(Photo)
                .where(Photo.id == photo_id, stale & spent)
                .values(
                    state=PhotoState.FAILED,
                    next_attempt_at=None,
                    last_error="its fetch never finished (the worker died each time)",
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            return None
        photo = session.get(Photo, photo_id)
        if photo is None or not photo.reference:
            return None
        return photo.channel, photo.reference, photo.attempts


def _failed(photo_id: int, attempts: int, state: PhotoState, reason: str) -> PhotoState | None:
    """A photo given up: refused (never fetchable) or failed (tries spent), kept for staff."""
    text = scrub(reason)[:MAX_ERROR]
    if not _settle(
        photo_id, attempts, state=state, next_attempt_at=None, last_error=text, updated_at=utcnow()
    ):
        return None
    log.warning("photo %s %s: %s", photo_id, state, text)
    return state


def _try_later(photo_id: int, attempts: int, reason: str, settings: Settings) -> PhotoState | None:
    """Back to pending with its next try due, and that try queued; or failed when spent."""
    if attempts >= settings.media_fetch_attempts:
        reason = f"gave up after {attempts} tries: {reason}"
        return _failed(photo_id, attempts, PhotoState.FAILED, reason)
    delay = min(FETCH_BACKOFF_CAP, FETCH_BACKOFF_BASE * 2 ** max(0, attempts - 1))
    now = utcnow()
    if not _settle(
        photo_id,
        attempts,
        state=PhotoState.PENDING,
        next_attempt_at=now + timedelta(seconds=delay),
        last_error=scrub(reason)[:MAX_ERROR],
        updated_at=now,
    ):
        return None
    queue.enqueue("bot.jobs.fetch_photo", photo_id, delay=delay, kind="city")
    return PhotoState.PENDING


def _delete_copy(token: str, settings: Settings) -> bool:
    """Delete one kept copy; False (logged) when the store cannot now."""
    try:
        media_store(settings).delete(token)
    except Exception as exc:  # noqa: BLE001 - the store's trouble: a tombstone keeps the token
        log.warning("a photo's copy could not be deleted yet: %s", type(exc).__name__)
        return False
    return True


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
    """Erase the photos matching `conditions` (e.g. `Photo.contact_id == 3`), in the caller's
    transaction: each kept copy deleted, then its row; returns how many. Never raises for the
    store: a copy it cannot delete now leaves a tombstone (erased, nothing of the resident but
    the token) that the purge tries again, so an erasure or a purge is never held up."""
    photos = session.exec(select(Photo).where(*conditions)).all()
    for photo in photos:
        if not photo.token or _delete_copy(photo.token, settings):
            session.delete(photo)
            continue
        photo.state, photo.reference = PhotoState.ERASED, None
        photo.message_id = photo.report_id = None
        photo.lat = photo.lon = None
        photo.next_attempt_at = None
        photo.last_error = "its copy is deleted at the next purge"
        photo.updated_at = utcnow()
    session.flush()
    return len(photos)
