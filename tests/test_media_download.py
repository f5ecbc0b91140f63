"""Fetching a resident's photo from the channel that received it (bot/media/download.py,
bot/channels/twilio_media.py, Telegram.media_request): real httpx against the Twilio stand-in's
media and CDN over loopback, real python-telegram-bot against the Bot API stand-in, and a
recording server standing in for any host that must never be asked."""

from __future__ import annotations

import contextlib
import logging
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bot.channels.sms import CHANNEL as SMS
from bot.channels.telegram import CHANNEL as TELEGRAM
from bot.channels.telegram import MEDIA_PREFIX
from bot.channels.twilio_media import twilio_media_request
from bot.media.download import download
from bot.media.types import MediaRefused, MediaRequest, MediaUnavailable
from bot.settings import Settings
from tests.conftest import TELEGRAM_TOKEN, TWILIO_SID, TWILIO_TOKEN
from tests.fakes.telegram_api import add_file
from tests.fakes.twilio_api import add_media

PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + secrets.token_bytes(3000) + b"\xff\xd9"
OTHER_ACCOUNT = "AC" + "9" * 32
MEDIA_PATH = "/2010-04-01/Accounts/{sid}/Messages/MM{m}/Media/ME{m}"


def media_path(sid: str = TWILIO_SID) -> str:
    """A Media resource's path of a message of account `sid`."""
    return MEDIA_PATH.format(sid=sid, m=secrets.token_hex(16))


# --- what this process asks the network for ---------------------------------------------------


class Blocked(Exception):
    """Raised by the audit hook to stop a connection before it is made."""


_watched: dict[int, dict] = {}


def _audit(event: str, args: tuple) -> None:
    watch = _watched.get(threading.get_ident())
    if watch is None or event != "socket.getaddrinfo":
        return
    watch["hosts"].append(str(args[0]).lower() if args[0] is not None else "")
    if watch["block"]:
        raise Blocked(str(args[0]))


sys.addaudithook(_audit)


class Watching:
    """Record the hosts this thread looks up (every connection starts with one); with `block`,
    stop each connection there."""

    def __init__(self, block: bool = False):
        self.state = {"hosts": [], "block": block}

    @property
    def hosts(self) -> list[str]:
        """The hosts looked up, lower-case."""
        return self.state["hosts"]

    def __enter__(self) -> Watching:
        _watched[threading.get_ident()] = self.state
        return self

    def __exit__(self, *exc) -> None:
        _watched.pop(threading.get_ident(), None)


class RecordingServer:
    """An HTTP server on loopback that answers 200 and records every request it gets."""

    def __init__(self):
        requests: list[dict] = []
        self.redirect: str | None = None  # set: answer 302 there, with a cookie
        recording = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                requests.append({"path": self.path, "headers": dict(self.headers)})
                if recording.redirect:
                    self.send_response(302)
                    self.send_header("Location", recording.redirect)
                    self.send_header("Set-Cookie", "session=kept; Path=/")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.requests = requests
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def recorder():
    server = RecordingServer()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _recorder_empty(recorder):
    recorder.requests.clear()
    recorder.redirect = None


def make_settings(twilio_server=None, telegram_server=None, **overrides) -> Settings:
    """Settings pointing at the stand-ins; the Twilio one may redirect to its other loopback
    name (TWILIO_MEDIA_HOSTS)."""
    values: dict = {
        "twilio_account_sid": TWILIO_SID,
        "twilio_auth_token": TWILIO_TOKEN,
        "twilio_api_base": "",
        "twilio_media_hosts": "",
        "telegram_bot_token": TELEGRAM_TOKEN,
        "media_max_bytes": 1024 * 1024,
        "media_fetch_timeout": 5.0,
    }
    if twilio_server is not None:
        values["twilio_api_base"] = twilio_server.url
        values["twilio_media_hosts"] = f"localhost:{twilio_server.port}"
    if telegram_server is not None:
        values["telegram_api_base"] = telegram_server.url
    return Settings(**(values | overrides))


@pytest.fixture
def twilio_settings(twilio_server, twilio_api):
    return make_settings(twilio_server)


# --- Twilio's MediaUrl --------------------------------------------------------------------------


def test_an_mms_photo_is_fetched_with_credentials_at_the_api_host_and_none_at_the_cdn(
    twilio_server, twilio_api, twilio_settings
):
    url = add_media(twilio_api, twilio_server.url, PHOTO)
    request = SMS.media_request(url, twilio_settings)
    assert download(request, twilio_settings) == PHOTO
    hops = twilio_api.config["MEDIA_REQUESTS"]
    port = twilio_server.port
    assert [(hop["host"], hop["authorized"]) for hop in hops] == [
        (f"127.0.0.1:{port}", True),
        (f"localhost:{port}", False),
    ]
    assert hops[1]["path"].startswith("/cdn/")


def test_the_stand_in_answers_401_without_credentials(twilio_server, twilio_api, twilio_settings):
    url = add_media(twilio_api, twilio_server.url, PHOTO)
    request = SMS.media_request(url, twilio_settings)
    no_auth = MediaRequest(url, request.hosts, schemes=request.schemes)
    with pytest.raises(MediaRefused, match="401"):
        download(no_auth, twilio_settings)
    assert [hop["authorized"] for hop in twilio_api.config["MEDIA_REQUESTS"]] == [False]


def test_a_forged_media_url_on_another_server_gets_no_request(
    twilio_server, twilio_api, twilio_settings, recorder
):
    forged = [
        recorder.url + media_path(),
        f"http://localhost:{twilio_server.port}" + media_path(),  # a redirect host, not the API
        f"http://127.0.0.1:{twilio_server.port}@127.0.0.1:{recorder.port}" + media_path(),
        "https://api.twilio.com.evil.example" + media_path(),
    ]
    with Watching(block=True) as watch:
        for url in forged:
            with pytest.raises(MediaRefused):
                SMS.media_request(url, twilio_settings)
    assert watch.hosts == []
    assert recorder.requests == []
    assert twilio_api.config["MEDIA_REQUESTS"] == []


@pytest.mark.parametrize(
    "path",
    [
        media_path(OTHER_ACCOUNT),
        f"/2010-04-01/Accounts/{TWILIO_SID}/Messages/MMx/Media/MEx/../../../../{OTHER_ACCOUNT}",
        f"/2010-04-01/Accounts/{TWILIO_SID}/Messages/MM1/Media/ME1?redirect=elsewhere",
        f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json",
        f"/2010-04-01/Accounts/{TWILIO_SID}/Messages/MM1/Media/%2e%2e",
    ],
)
def test_a_media_url_outside_our_accounts_messages_is_refused_unasked(
    path, twilio_server, twilio_api, twilio_settings
):
    with pytest.raises(MediaRefused):
        SMS.media_request(twilio_server.url + path, twilio_settings)
    assert twilio_api.config["MEDIA_REQUESTS"] == []
    assert twilio_api.config["REQUESTS"] == []


def test_a_redirect_to_a_host_not_allowed_is_not_followed(
    twilio_server, twilio_api, twilio_settings, recorder
):
    twilio_api.config["MEDIA_REDIRECT"] = recorder.url
    url = add_media(twilio_api, twilio_server.url, PHOTO)
    with pytest.raises(MediaRefused, match="redirect refused"):
        download(SMS.media_request(url, twilio_settings), twilio_settings)
    assert recorder.requests == []
    assert [hop["authorized"] for hop in twilio_api.config["MEDIA_REQUESTS"]] == [True]


def test_twilio_itself_is_asked_over_https_only(twilio_server, twilio_settings):
    path = media_path()
    with Watching(block=True) as watch:
        with pytest.raises(MediaRefused, match="https"):
            SMS.media_request("http://api.twilio.com" + path, twilio_settings)
        request = SMS.media_request("https://api.twilio.com" + path, twilio_settings)
        regional = SMS.media_request("https://api.dublin.ie1.twilio.com" + path, twilio_settings)
    assert watch.hosts == []
    assert request.credential_hosts == {"api.twilio.com"}
    assert request.auth == (TWILIO_SID, TWILIO_TOKEN)
    assert request.schemes == {"https"}
    assert {"mms.twiliocdn.com", "s3-external-1.amazonaws.com"} <= request.hosts
    assert regional.credential_hosts == {"api.dublin.ie1.twilio.com"}


def test_no_credentials_no_fetch(twilio_server):
    settings = make_settings(twilio_server, twilio_auth_token="")
    with pytest.raises(MediaRefused, match="not set"):
        SMS.media_request(twilio_server.url + media_path(), settings)


@pytest.mark.parametrize("mode", ["length", "stream"])
def test_an_oversized_file_is_refused(mode, twilio_server, twilio_api):
    settings = make_settings(twilio_server, media_max_bytes=2048)
    twilio_api.config["CDN_MODE"] = mode
    url = add_media(twilio_api, twilio_server.url, PHOTO)  # over 3 kB
    with pytest.raises(MediaRefused, match="2048"):
        download(SMS.media_request(url, settings), settings)
    assert len(twilio_api.config["MEDIA_REQUESTS"]) == 2


def test_a_file_streamed_without_a_length_within_the_cap_is_read_whole(
    twilio_server, twilio_api, twilio_settings
):
    twilio_api.config["CDN_MODE"] = "stream"
    photo = PHOTO * 20  # several chunks
    url = add_media(twilio_api, twilio_server.url, photo)
    assert download(SMS.media_request(url, twilio_settings), twilio_settings) == photo


def test_a_slow_drip_is_stopped_at_the_deadline(twilio_server, twilio_api):
    settings = make_settings(twilio_server, media_fetch_timeout=1.0)
    twilio_api.config.update(CDN_MODE="drip", CDN_DRIP=0.05)
    url = add_media(twilio_api, twilio_server.url, PHOTO)  # 3000 bytes: minutes at this pace
    started = time.monotonic()
    with pytest.raises(MediaUnavailable, match="out of time"):
        download(SMS.media_request(url, settings), settings)
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("status", [500, 503, 429])
def test_the_providers_trouble_is_worth_another_try(status, twilio_server, twilio_api):
    settings = make_settings(twilio_server)
    url = add_media(twilio_api, twilio_server.url, PHOTO)
    twilio_api.config["FAIL_NEXT"] = [status]
    with pytest.raises(MediaUnavailable, match=str(status)):
        download(SMS.media_request(url, settings), settings)
    assert download(SMS.media_request(url, settings), settings) == PHOTO


def test_a_media_twilio_does_not_have_is_gone(twilio_server, twilio_api, twilio_settings):
    url = twilio_server.url + media_path()
    with pytest.raises(MediaRefused, match="404: gone"):
        download(SMS.media_request(url, twilio_settings), twilio_settings)


def test_an_unreachable_host_is_worth_another_try(twilio_settings):
    gone = RecordingServer()
    gone.stop()  # nothing listens on its port now
    hosts = frozenset({f"127.0.0.1:{gone.port}"})
    request = MediaRequest(gone.url + "/x", hosts, schemes=frozenset({"http"}))
    with pytest.raises(MediaUnavailable, match="unreachable"):
        download(request, twilio_settings)


def test_redirects_are_followed_three_times_at_most_and_keep_no_cookie(twilio_settings, recorder):
    recorder.redirect = "/again"  # relative: the same host
    hosts = frozenset({f"127.0.0.1:{recorder.port}"})
    request = MediaRequest(recorder.url + "/first", hosts, schemes=frozenset({"http"}))
    with pytest.raises(MediaRefused, match="more than 3 redirects"):
        download(request, twilio_settings)
    assert [hop["path"] for hop in recorder.requests] == ["/first"] + ["/again"] * 3
    assert not [hop for hop in recorder.requests if "Cookie" in hop["headers"]]


@pytest.mark.parametrize(
    "location",
    [
        "http://[",
        "//evil.example/x",
        "http://127.0.0.1:{port}@evil.example/x",
        "http://127.0.0.1:{port}\\@evil.example/x",
        "https://127.0.0.1:{port}/x",  # the right host, a scheme not allowed
        "http://127.0.0.1:1/x",  # the right host, another port
        "http://LOCALHOST.:{port}/x",
        "http://evil.example#@127.0.0.1:{port}/x",
    ],
)
def test_a_hostile_redirect_is_refused_unfollowed(location, twilio_settings, recorder):
    recorder.redirect = location.format(port=recorder.port)
    hosts = frozenset({f"127.0.0.1:{recorder.port}", f"localhost:{recorder.port}"})
    request = MediaRequest(recorder.url + "/media", hosts, schemes=frozenset({"http"}))
    with Watching() as watch, pytest.raises(MediaRefused, match="redirect refused"):
        download(request, twilio_settings)
    assert watch.hosts == ["127.0.0.1"]
    assert len(recorder.requests) == 1


def test_credentials_go_to_the_credential_hosts_alone(twilio_settings, recorder):
    recorder.redirect = f"http://localhost:{recorder.port}/cdn"
    hosts = frozenset({f"127.0.0.1:{recorder.port}", f"localhost:{recorder.port}"})
    request = MediaRequest(
        recorder.url + "/media",
        hosts,
        auth=("AC1", "token"),
        credential_hosts=frozenset({f"127.0.0.1:{recorder.port}"}),
        schemes=frozenset({"http"}),
    )
    with pytest.raises(MediaRefused, match="redirects"):
        download(request, twilio_settings)
    authorized = [("Authorization" in hop["headers"]) for hop in recorder.requests]
    assert authorized == [True, False, False, False]


def test_a_size_the_provider_gives_over_the_cap_is_refused_unread(twilio_settings, recorder):
    request = MediaRequest(
        recorder.url + "/x",
        frozenset({f"127.0.0.1:{recorder.port}"}),
        schemes=frozenset({"http"}),
        size=twilio_settings.media_max_bytes + 1,
    )
    with pytest.raises(MediaRefused, match="bytes"):
        download(request, twilio_settings)
    assert recorder.requests == []


# --- Telegram's files ---------------------------------------------------------------------------


@pytest.fixture
def telegram_settings(telegram_server, telegram_api):
    return make_settings(telegram_server=telegram_server)


def _no_token_anywhere(
    exc: BaseException | None, records: list[logging.LogRecord], asked: bool = True
) -> None:
    """Neither the token nor its secret half is in a log record of ours, nor in the exception
    or any exception a traceback of it would show."""
    # The stand-in's own access log (werkzeug) is Telegram's side, not ours.
    texts = [r.getMessage() for r in records if not r.name.startswith("werkzeug")]
    assert any(r.name.startswith("werkzeug") for r in records) == asked
    while exc is not None:
        texts += [str(exc), repr(exc), *map(str, exc.args)]
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    secret = TELEGRAM_TOKEN.split(":", 1)[1]
    assert not [text for text in texts if secret in text]


def test_a_telegram_photo_is_fetched_through_get_file(
    telegram_api, telegram_settings, telegram_server, caplog
):
    caplog.set_level(logging.DEBUG)
    file_id = add_file(telegram_api, PHOTO)
    request = TELEGRAM.media_request(MEDIA_PREFIX + file_id, telegram_settings)
    # httpx's request lines on (telegram_api quiets them at each call): the fetch drops them.
    caplog.set_level(logging.DEBUG, logger="httpx")
    assert request.secret_url
    assert request.size == len(PHOTO)
    assert request.hosts == {f"127.0.0.1:{telegram_server.port}"}
    assert request.auth is None
    assert download(request, telegram_settings) == PHOTO
    calls = [call["method"] for call in telegram_api.config["CALLS"]]
    assert calls == ["getFile"]
    assert telegram_api.config["FILE_REQUESTS"] == [telegram_api.config["FILES"][file_id][1]]
    _no_token_anywhere(None, caplog.records)


def test_a_telegram_file_over_the_cap_is_refused_unread(telegram_api, telegram_server, caplog):
    settings = make_settings(telegram_server=telegram_server, media_max_bytes=2048)
    file_id = add_file(telegram_api, PHOTO)  # over 3 kB, as getFile says
    request = TELEGRAM.media_request(MEDIA_PREFIX + file_id, settings)
    with pytest.raises(MediaRefused, match="2048"):
        download(request, settings)
    assert telegram_api.config["FILE_REQUESTS"] == []


def test_a_file_telegram_cannot_give_now_is_tried_again_later(
    telegram_api, telegram_settings, caplog
):
    # Telegram words a wrong id and a passing outage alike: worth the pipeline's few more tries.
    caplog.set_level(logging.DEBUG)
    with pytest.raises(MediaUnavailable, match="temporarily unavailable") as later:
        TELEGRAM.media_request(MEDIA_PREFIX + "AgACAgEAAxkBAAIwrong", telegram_settings)
    _no_token_anywhere(later.value, caplog.records)
    assert telegram_api.config["FILE_REQUESTS"] == []


@pytest.mark.parametrize("case", ["too big", "not ours"])
def test_a_telegram_file_it_will_not_give_is_refused(case, telegram_api, telegram_settings, caplog):
    caplog.set_level(logging.DEBUG)
    file_id = add_file(telegram_api, PHOTO)
    reference = MEDIA_PREFIX + file_id
    if case == "too big":
        telegram_api.config["TOO_BIG"].add(file_id)
    else:
        reference = "https://api.twilio.com" + media_path()
    with pytest.raises(MediaRefused) as refused:
        TELEGRAM.media_request(reference, telegram_settings)
    _no_token_anywhere(refused.value, caplog.records, asked=case != "not ours")
    assert telegram_api.config["FILE_REQUESTS"] == []


def test_the_bot_api_in_trouble_is_worth_another_try(telegram_api, telegram_settings, caplog):
    caplog.set_level(logging.DEBUG)
    file_id = add_file(telegram_api, PHOTO)
    telegram_api.config["FAIL_NEXT"] = [502]
    with pytest.raises(MediaUnavailable) as later:
        TELEGRAM.media_request(MEDIA_PREFIX + file_id, telegram_settings)
    _no_token_anywhere(later.value, caplog.records)


def test_a_file_url_refused_by_telegram_names_no_token(
    telegram_api, telegram_settings, telegram_server, caplog
):
    caplog.set_level(logging.DEBUG)
    file_id = add_file(telegram_api, PHOTO)
    request = TELEGRAM.media_request(MEDIA_PREFIX + file_id, telegram_settings)
    caplog.set_level(logging.DEBUG, logger="httpx")
    wrong = MediaRequest(
        request.url.replace("/photos/", "/videos/"),
        request.hosts,
        schemes=request.schemes,
        secret_url=True,
    )
    with pytest.raises(MediaRefused, match="404") as refused:
        download(wrong, telegram_settings)
    _no_token_anywhere(refused.value, caplog.records)


def test_a_telegram_file_path_off_its_host_is_refused(telegram_settings, telegram_server):
    """python-telegram-bot joins file_path to TELEGRAM_API_BASE; anything else is refused."""
    from bot.channels.telegram import _file_url

    base = f"{telegram_server.url}/file/bot{TELEGRAM_TOKEN}/"
    assert _file_url(base + "photos/file_1.jpg", telegram_settings) == base + "photos/file_1.jpg"
    assert _file_url("photos/file_1.jpg", telegram_settings) == base + "photos/file_1.jpg"
    for path in (
        "https://evil.example/file/bot1:x/photos/a.jpg",
        "/var/lib/telegram-bot-api/photos/a.jpg",
        base + "../../bot1:x/getMe",
        "",
        None,
    ):
        with pytest.raises(MediaRefused) as refused:
            _file_url(path, telegram_settings)
        assert TELEGRAM_TOKEN not in str(refused.value)


# --- hostile URLs -----------------------------------------------------------------------------

ALLOWED = frozenset({"api.twilio.com", "*.twiliocdn.com"})
HOSTILE_HOSTS = [
    "api.twilio.com",
    "API.TWILIO.COM",
    "Api.Twilio.Com",
    "api.twilio.com.",
    "api.twilio.com.evil.com",
    "api.twilio.com..",
    "127.0.0.1",
    "127.0.0.1.evil.com",
    "localhost",
    "2130706433",
    "0x7f.0.0.1",
    "0177.0.0.1",
    "127.1",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "\u0430pi.twilio.com",  # Cyrillic a
    "xn--pi-6kc.twilio.com",
    "api.twilio.com\u3002evil.com",
    "api%2etwilio.com",
    "api.twilio.com%2f@evil.com",
    "evil.com\\@api.twilio.com",
    "evil.com#@api.twilio.com",
    "evil.com?@api.twilio.com",
    "api.twilio.com:443@evil.com",
    "mms.twiliocdn.com",
    "twiliocdn.com",
    "MMS.TwilioCDN.com",
    "evil.twiliocdn.com.evil.com",
    "eviltwiliocdn.com",
    "api.twilio.com\x00.evil.com",
    "api.twilio.com\t",
    " api.twilio.com",
    "",
]
HOSTILE_URLS = st.builds(
    lambda scheme, userinfo, host, port, path, tail: (
        f"{scheme}://{userinfo}{host}{port}{path}{tail}"
    ),
    st.sampled_from(["https", "HTTPS", "http", "ftp", "file", "javascript", "hTTps", "https:"]),
    st.sampled_from(["", "user@", "user:pass@", "api.twilio.com@", ":@", "%40@", "a@b@"]),
    st.sampled_from(HOSTILE_HOSTS) | st.text(max_size=30),
    st.sampled_from(["", ":443", ":80", ":0443", ":", ":99999", ":8443", ":-1"]),
    st.sampled_from(["", "/", media_path(), "/..%2f..%2f", "/a/../../b"]),
    st.sampled_from(["", "?x=1", "#frag", "/..", " ", "\r\nHost: evil.com"]),
) | st.text(max_size=80)


def _allowed_host(host: str) -> bool:
    return host == "api.twilio.com" or (
        host.endswith(".twiliocdn.com") and host != ".twiliocdn.com"
    )


@hypothesis_settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(url=HOSTILE_URLS)
def test_no_hostile_url_reaches_a_host_not_allowed(url, twilio_settings):
    request = MediaRequest(
        url, ALLOWED, auth=("AC1", "secret"), credential_hosts=frozenset({"api.twilio.com"})
    )
    with Watching(block=True) as watch:
        with contextlib.suppress(MediaRefused, Blocked):
            download(request, twilio_settings)
        with contextlib.suppress(MediaRefused):
            twilio_media_request(url, make_settings())
    assert len(watch.hosts) <= 1
    for host in watch.hosts:
        assert _allowed_host(host), (url, host)
        assert "@" not in url and url.isascii()


def test_signed_headers_go_to_the_credential_hosts_alone(twilio_settings, recorder):
    """A signed request's headers (X's OAuth 1.0a signature of a DM photo's GET) are sent like
    `auth`: to the provider's host, never to a redirect's other host, and never shown by repr."""
    recorder.redirect = f"http://localhost:{recorder.port}/cdn"
    hosts = frozenset({f"127.0.0.1:{recorder.port}", f"localhost:{recorder.port}"})
    request = MediaRequest(
        recorder.url + "/media",
        hosts,
        credential_hosts=frozenset({f"127.0.0.1:{recorder.port}"}),
        schemes=frozenset({"http"}),
        headers=(("Authorization", 'OAuth oauth_signature="c2lnbmVk"'),),
    )
    assert "c2lnbmVk" not in repr(request)
    with pytest.raises(MediaRefused, match="redirects"):
        download(request, twilio_settings)
    signed = [hop["headers"].get("Authorization", "") for hop in recorder.requests]
    assert signed == ['OAuth oauth_signature="c2lnbmVk"', "", "", ""]
