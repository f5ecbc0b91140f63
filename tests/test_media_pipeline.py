"""The media pipeline's states under races and failures: a photo erased or given up while it is
fetched, a store that cannot delete, a photo that kills its worker, long references.

Real parts throughout: the Twilio stand-in (and a slow media host of our own on loopback),
SQLite and PostgreSQL, the local media store and moto's S3 server over HTTP.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlmodel import select

from bot.db import session_scope
from bot.forget import erase_contact
from bot.media import pipeline
from bot.media.store import S3MediaStore
from bot.models import Contact, Photo, PhotoState
from bot.personal_data import address_key
from bot.retention import purge
from bot.settings import get_settings
from bot.timeutil import utcnow
from tests.fakes.twilio_api import add_media
from tests.processes import s3_server as moto_s3
from tests.test_media_end_to_end import phone_jpeg

ADDRESS = "tel:+13125550199"


def a_contact() -> int:
    with session_scope() as session:
        contact = Contact(address=ADDRESS, address_key=address_key(ADDRESS), channel="sms")
        session.add(contact)
        session.flush()
        return contact.id


def a_photo(contact_id: int, reference: str) -> int:
    with session_scope() as session:
        [photo] = pipeline.ensure_photos(session, contact_id, "sms", [reference])
        return photo.id


def rows() -> list[Photo]:
    with session_scope() as session:
        return list(session.exec(select(Photo)).all())


def kept_files() -> list[Path]:
    folder = Path(get_settings().media_dir)
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.fixture
def slow_media_host(monkeypatch, twilio_api):
    """A media host that answers a photo after 1.5 s, where the Twilio stand-in redirects."""

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            time.sleep(1.5)
            body = phone_jpeg()
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{server.server_port}"
    allowed = get_settings().twilio_media_hosts
    monkeypatch.setenv("TWILIO_MEDIA_HOSTS", f"{allowed},{host}")
    get_settings.cache_clear()
    twilio_api.config["MEDIA_REDIRECT"] = f"http://{host}"
    yield
    server.shutdown()


def fetch_in_background(photo_id: int) -> tuple[threading.Thread, list]:
    result: list = []
    thread = threading.Thread(
        target=lambda: result.append(pipeline.fetch_photo(photo_id, get_settings()))
    )
    thread.start()
    time.sleep(0.5)  # it has claimed the photo and waits for the slow host
    return thread, result


def test_a_photo_erased_while_it_is_fetched_leaves_no_copy(
    env, twilio_server, twilio_api, slow_media_host
):
    contact_id = a_contact()
    photo_id = a_photo(contact_id, add_media(twilio_api, twilio_server.url, phone_jpeg()))
    thread, result = fetch_in_background(photo_id)
    assert [p.state for p in rows()] == [PhotoState.FETCHING]
    with session_scope() as session:
        erase_contact(session, session.get(Contact, contact_id))  # DELETE MY DATA, meanwhile
    thread.join(10)
    assert result == [None]
    assert rows() == [] and kept_files() == []  # the fetched copy did not outlive the erasure


def test_a_photo_given_up_at_filing_while_it_is_fetched_stays_given_up(
    env, twilio_server, twilio_api, slow_media_host
):
    contact_id = a_contact()
    photo_id = a_photo(contact_id, add_media(twilio_api, twilio_server.url, phone_jpeg()))
    with session_scope() as session:
        session.get(Photo, photo_id).report_id = 77
    thread, result = fetch_in_background(photo_id)
    with session_scope() as session:
        assert pipeline.give_up_unfiled(session, 77) == 1  # the report was filed meanwhile
    thread.join(10)
    assert result == [None]
    [photo] = rows()
    assert photo.state == PhotoState.FAILED and photo.token is None
    assert photo.last_error.startswith("the report was filed without it")
    assert kept_files() == []


def test_a_photo_that_kills_its_worker_is_given_up_not_claimed_for_ever(env):
    contact_id = a_contact()
    photo_id = a_photo(
        contact_id, "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/M/Media/M"
    )
    settings = get_settings()
    with session_scope() as session:
        photo = session.get(Photo, photo_id)
        photo.state, photo.attempts = PhotoState.FETCHING, settings.media_fetch_attempts
        photo.updated_at = utcnow() - pipeline.FETCH_IN_FLIGHT - timedelta(seconds=1)
    assert pipeline.fetch_photo(photo_id, settings) is None
    [photo] = rows()
    assert photo.state == PhotoState.FAILED and photo.attempts == settings.media_fetch_attempts
    assert "never finished" in photo.last_error


def test_a_photo_left_fetching_by_a_dead_worker_is_tried_again(env, twilio_server, twilio_api):
    contact_id = a_contact()
    photo_id = a_photo(contact_id, add_media(twilio_api, twilio_server.url, phone_jpeg()))
    with session_scope() as session:
        photo = session.get(Photo, photo_id)
        photo.state, photo.attempts = PhotoState.FETCHING, 1
        photo.updated_at = utcnow() - pipeline.FETCH_IN_FLIGHT - timedelta(seconds=1)
    assert pipeline.fetch_photo(photo_id, get_settings()) == PhotoState.STORED
    [photo] = rows()
    assert photo.attempts == 2 and len(kept_files()) == 2  # the copy and its type


def test_the_longest_reference_a_webhook_may_carry_is_kept(env):
    contact_id = a_contact()
    long_url = "https://api.twilio.com/" + "a" * (2048 - len("https://api.twilio.com/"))
    photo_id = a_photo(contact_id, long_url)
    with session_scope() as session:
        assert session.get(Photo, photo_id).reference == long_url


@pytest.fixture
def s3(monkeypatch):
    with moto_s3() as (server, endpoint):
        for key, value in {
            "MEDIA_STORE": "s3",
            "MEDIA_S3_BUCKET": "photos",
            "MEDIA_S3_ENDPOINT_URL": endpoint,
            "MEDIA_S3_REGION": "us-east-1",
            "MEDIA_S3_ACCESS_KEY_ID": "testing",
            "MEDIA_S3_SECRET_ACCESS_KEY": "testing",
        }.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        S3MediaStore(get_settings()).client.create_bucket(Bucket="photos")
        yield server, int(endpoint.rsplit(":", 1)[1])


def test_an_erasure_never_waits_on_a_store_that_is_down(env, twilio_server, twilio_api, s3):
    server, port = s3
    contact_id = a_contact()
    photo_id = a_photo(contact_id, add_media(twilio_api, twilio_server.url, phone_jpeg()))
    assert pipeline.fetch_photo(photo_id, get_settings()) == PhotoState.STORED
    [photo] = rows()
    token = photo.token
    store = S3MediaStore(get_settings())
    assert store.get(token) is not None

    server.stop()  # the store is down when the resident asks to be forgotten
    with session_scope() as session:
        erase_contact(session, session.get(Contact, contact_id))
    [tombstone] = rows()
    assert tombstone.state == PhotoState.ERASED and tombstone.token == token
    assert tombstone.reference is None and tombstone.lat is None and tombstone.report_id is None

    # Back (moto keeps nothing: the bucket is made again with the copy in it).
    with moto_s3(port):
        store = S3MediaStore(get_settings())
        store.client.create_bucket(Bucket="photos")
        store.put(token, b"the copy", "image/jpeg")
        purge()
        assert rows() == [] and store.get(token) is None
