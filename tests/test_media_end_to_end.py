"""A resident's photo, from their phone to the city's media_url, over each channel.

Everything is real: signed webhooks through the Flask test client, rq jobs in-process, the
Twilio stand-in serving a MediaUrl behind basic auth with a redirect to its "CDN" (as Twilio
does with HTTP auth on media), the Telegram stand-in's getFile and file host, the media
pipeline fetching, cleaning and keeping the photo, the Open311 sandbox filing it, and the
public /media route the city opens it at, without credentials.
"""

from __future__ import annotations

import io
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image
from sqlmodel import select

from bot import jobs
from bot.db import session_scope
from bot.failures import list_failures, retry
from bot.models import Photo, PhotoState, Report
from tests.conftest import PUBLIC_BASE_URL, TELEGRAM_SECRET, run_jobs
from tests.fakes.telegram_api import add_file, message_update, post_update, sent
from tests.fakes.twilio_api import add_media
from tests.test_end_to_end import POTHOLE, Phone, city_request, returning_resident
from tests.twilio_webhooks import post_signed, sms_form
from webhooks import create_app

NEAR = r"Thanks, I have the location: near \d+ [A-Z][a-z]+ (Street|Avenue)"  # a pin read back

pytestmark = pytest.mark.sqlite_only

GPS_IFD, MAKE = 0x8825, 0x010F
# 120 Main Street in the sandbox's Springfield (Main runs along 39.8 N from 89.665 W).
LAT, LON = 39.8, -89.6627


def phone_jpeg(gps: tuple[float, float] | None = (LAT, LON)) -> bytes:
    """A JPEG as a phone writes it: its maker, and where it was taken when `gps` is given."""
    exif = Image.Exif()
    exif[MAKE] = "PhoneMaker"
    if gps is not None:
        lat, lon = gps

        def dms(value: float) -> tuple[float, float, float]:
            minutes, seconds = divmod(round(abs(value) * 3600, 2), 60)
            degrees, minutes = divmod(minutes, 60)
            return float(degrees), float(minutes), float(seconds)

        exif.get_ifd(GPS_IFD).update(
            {1: "N" if lat >= 0 else "S", 2: dms(lat), 3: "E" if lon >= 0 else "W", 4: dms(lon)}
        )
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 90, 90)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def opened_by_the_city(client, url: str) -> Image.Image:
    """What the city gets at the report's media_url: no credentials, a JPEG with no EXIF."""
    assert url.startswith(f"{PUBLIC_BASE_URL}/media/")
    response = client.get(url.removeprefix(PUBLIC_BASE_URL))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    image = Image.open(io.BytesIO(response.data))
    image.load()
    assert len(image.getexif()) == 0 and "exif" not in image.info
    assert b"PhoneMaker" not in response.data
    return image


def the_report() -> Report:
    with session_scope() as session:
        [report] = session.exec(select(Report)).all()
        return report


def photos() -> list[Photo]:
    with session_scope() as session:
        return list(session.exec(select(Photo).order_by(Photo.id)).all())


class MmsPhone(Phone):
    """A phone that can send a photo with a text (MMS)."""

    def mms(self, body: str, *media_urls: str) -> list[str]:
        if self.returning:
            returning_resident(f"tel:{self.number}", "sms")
            self.returning = False
        form = sms_form(body, self.number)
        form["NumMedia"] = str(len(media_urls))
        for index, url in enumerate(media_urls):
            form[f"MediaUrl{index}"] = url
            form[f"MediaContentType{index}"] = "image/jpeg"
        response = post_signed(self.client, "/webhooks/twilio", form)
        assert response.status_code == 200
        run_jobs()
        return self.inbox()


@pytest.fixture
def app_client(env):
    return create_app({"TESTING": True}).test_client()


@pytest.fixture
def phone(app_client, twilio_api):
    return MmsPhone(app_client, twilio_api)


def test_an_mms_photo_reaches_the_city_and_its_gps_is_offered_as_the_location(
    phone, app_client, twilio_server, twilio_api
):
    url = add_media(twilio_api, twilio_server.url, phone_jpeg())

    [menu] = phone.mms("", url)
    assert menu.startswith("Thanks for the photo.") and "1 Pothole in Street" in menu
    # Fetched before the turn, with the account's credentials at the API host only.
    requests = twilio_api.config["MEDIA_REQUESTS"]
    assert [(r["path"].startswith("/2010-04-01/"), r["authorized"]) for r in requests] == [
        (True, True),
        (False, False),
    ]
    assert requests[1]["host"].startswith("localhost:")  # the CDN: another host, no token

    [offer] = phone.text("1")
    assert offer.startswith("Got it: Pothole in Street.")
    assert re.search(r"Your photo was taken near 1[12][0-9] Main Street", offer)
    assert offer.endswith("Is that where the problem is? Reply YES or NO.")

    [taken] = phone.text("YES")
    assert re.search(NEAR, taken)
    phone.text("Deep hole in the right lane")
    [summary] = phone.text("1")  # where: the crosswalk
    assert summary.startswith("Ready to send:")
    filed = phone.text("YES")
    assert filed[0].startswith("Thanks! Sending your report")

    report = the_report()
    assert report.state == "submitted"
    assert (report.lat, report.lon) == pytest.approx((LAT, LON), abs=1e-4)
    at_city = city_request(report.service_request_id)
    assert at_city["service_code"] == POTHOLE
    [photo] = photos()
    assert photo.state == PhotoState.STORED and photo.report_id == report.id
    assert at_city["media_url"] == f"{PUBLIC_BASE_URL}/media/{photo.token}"
    image = opened_by_the_city(app_client, at_city["media_url"])
    assert image.size == (640, 480)
    # Fetched once: the filing used the kept copy.
    assert len(twilio_api.config["MEDIA_REQUESTS"]) == 2


def test_a_forged_media_url_gets_no_request_and_the_report_goes_without_it(phone, twilio_api):
    seen: list[str] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            seen.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(phone_jpeg())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        forged = (
            f"http://127.0.0.1:{server.server_port}/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
        )
        phone.mms("", forged)
        phone.text("1")
        [where] = phone.inbox() or ["Where is it?"]
        assert "photo" not in where.lower()
        phone.text("120 main st")
        phone.text("Deep hole")
        phone.text("1")
        phone.text("YES")
    finally:
        server.shutdown()
    assert seen == []  # not the provider's: never fetched, no credentials anywhere
    report = the_report()
    assert report.state == "submitted"
    assert not city_request(report.service_request_id).get("media_url")
    [photo] = photos()
    assert photo.state == PhotoState.REFUSED and photo.token is None
    [failure] = [f for f in list_failures() if f.name == f"photo:{photo.id}"]
    assert "refused photo" in failure.what and "report:" in failure.what
    with pytest.raises(ValueError, match="at the city already"):
        retry(failure.name)


def test_a_photo_that_cannot_be_fetched_never_holds_the_report_back(
    phone, twilio_server, twilio_api
):
    url = add_media(twilio_api, twilio_server.url, phone_jpeg(gps=None))
    twilio_api.config["MEDIA_FAIL"] = 503  # the provider's media host is down
    phone.mms("", url)
    [where] = phone.text("1")
    assert "Where is it?" in where
    twilio_api.config["MEDIA_FAIL"] = None
    twilio_api.config["MEDIA"].clear()  # and the photo is gone by the time the report files
    phone.text("120 main st")
    phone.text("Deep hole")
    phone.text("1")
    phone.text("YES")
    report = the_report()
    assert report.state == "submitted"
    assert not city_request(report.service_request_id).get("media_url")
    [photo] = photos()
    assert photo.state in (PhotoState.FAILED, PhotoState.REFUSED)
    assert photo.report_id == report.id
    assert any(f.name == f"photo:{photo.id}" for f in list_failures())


def test_a_retry_keeps_the_photo_once_the_provider_is_back(phone, twilio_server, twilio_api):
    url = add_media(twilio_api, twilio_server.url, phone_jpeg(gps=None))
    twilio_api.config["MEDIA_FAIL"] = 503
    phone.mms("", url)
    twilio_api.config["MEDIA_FAIL"] = None
    [photo] = photos()
    assert photo.state == PhotoState.PENDING and photo.attempts == 1 and photo.next_attempt_at
    run_jobs(include_delayed=True)  # its next try, queued with backoff
    [photo] = photos()
    assert photo.state == PhotoState.STORED and photo.attempts == 2


def test_a_telegram_photo_reaches_the_city(env, app_client, telegram_api):
    chat = 412345678
    returning_resident(f"telegram:{chat}", "telegram")
    file_id = add_file(telegram_api, phone_jpeg(gps=None))
    photo_update = message_update(
        chat,
        caption="Pothole, deep hole in the right lane",
        photo=[{"file_id": file_id, "file_unique_id": "u1", "width": 640, "height": 480}],
    )

    def post(update: dict) -> list[dict]:
        assert post_update(app_client, update, TELEGRAM_SECRET).status_code == 200
        run_jobs()
        return sent(telegram_api, chat)

    post(photo_update)
    post(message_update(chat, "120 main st"))
    post(message_update(chat, "1"))
    post(message_update(chat, "YES"))
    report = the_report()
    assert report.state == "submitted", [m["text"] for m in sent(telegram_api, chat)]
    [photo] = photos()
    assert photo.channel == "telegram" and photo.state == PhotoState.STORED
    media_url = city_request(report.service_request_id)["media_url"]
    assert media_url == f"{PUBLIC_BASE_URL}/media/{photo.token}"
    opened_by_the_city(app_client, media_url)
    # The bot token went only into the file host's URL, never into what we keep.
    assert all("bot" not in (p.reference or "")[:20] for p in photos())


def test_deleting_my_data_deletes_the_kept_photo(phone, app_client, twilio_server, twilio_api):
    url = add_media(twilio_api, twilio_server.url, phone_jpeg())
    phone.mms("", url)
    [photo] = photos()
    address = f"/media/{photo.token}"
    assert app_client.get(address).status_code == 200
    phone.text("DELETE MY DATA")
    phone.text("YES")
    assert photos() == []
    assert app_client.get(address).status_code == 404


def test_the_purge_deletes_photos_of_reports_never_made(
    phone, app_client, twilio_server, twilio_api
):
    from datetime import timedelta

    from bot.retention import purge
    from bot.timeutil import utcnow

    url = add_media(twilio_api, twilio_server.url, phone_jpeg())
    phone.mms("", url)
    [photo] = photos()
    address = f"/media/{photo.token}"
    purge(utcnow() + timedelta(days=1))
    assert app_client.get(address).status_code == 200  # still within RETENTION_DAYS
    purge(utcnow() + timedelta(days=env_days() + 1))
    assert photos() == [] and app_client.get(address).status_code == 404


def env_days() -> int:
    from bot.settings import get_settings

    return get_settings().retention_days


def test_tracked_reports_are_unaffected_by_photos(phone):
    """A report without photos files exactly as before (no media_url)."""
    phone.text("hi")
    phone.text("1")
    phone.text("120 main st")
    phone.text("Deep hole")
    phone.text("1")
    phone.text("YES")
    report = the_report()
    assert report.state == "submitted" and photos() == []
    assert not city_request(report.service_request_id).get("media_url")
    assert jobs.track() == 0


def test_every_photo_goes_where_the_profile_takes_several(
    phone, twilio_server, twilio_api, tmp_path, monkeypatch
):
    from bot.jobs.submission import request_fields
    from bot.open311.encode import request_form
    from bot.open311.profile import load_profile
    from bot.settings import get_settings

    first = add_media(twilio_api, twilio_server.url, phone_jpeg(gps=None))
    second = add_media(twilio_api, twilio_server.url, phone_jpeg(gps=None))
    phone.mms("", first, second)
    phone.text("1")
    phone.text("120 main st")
    phone.text("Deep hole")
    phone.text("1")
    phone.text("YES")
    report = the_report()
    kept = [f"{PUBLIC_BASE_URL}/media/{photo.token}" for photo in photos()]
    assert len(kept) == 2
    # The spec's one media_url: the first photo.
    assert city_request(report.service_request_id)["media_url"] == kept[0]

    several = tmp_path / "several.toml"
    several.write_text(
        'name = "several"\nformat = "json"\nmedia_urls = "all"\n'
        '[fields]\nmedia_url = "media_url[]"\n'
    )
    monkeypatch.setenv("OPEN311_PROFILE", str(several))
    get_settings.cache_clear()
    fields = request_fields(report, get_settings())
    assert fields["media_url"] == kept
    form = request_form(fields, {}, load_profile(str(several)))
    assert [value for key, value in form if key == "media_url[]"] == kept


def test_a_photo_taken_outside_the_city_is_not_offered(
    phone, twilio_server, twilio_api, monkeypatch
):
    from bot.settings import get_settings

    monkeypatch.setenv("CITY_BOUNDS", "39.7,-89.8,39.9,-89.5")
    get_settings.cache_clear()
    url = add_media(twilio_api, twilio_server.url, phone_jpeg(gps=(41.88, -87.63)))  # Chicago
    phone.mms("", url)
    [where] = phone.text("1")
    assert "Where is it?" in where and "photo" not in where
    [photo] = photos()
    assert photo.state == PhotoState.STORED and photo.lat == pytest.approx(41.88)
