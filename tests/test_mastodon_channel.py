"""bot.channels.mastodon: mentions read with Mastodon.py from a loopback instance (the exact
calls, pagination, the cursor), notifications parsed, statuses posted (direct or an unlisted
public reply, once per Idempotency-Key), errors mapped, the token kept secret."""

from __future__ import annotations

import logging
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from bot.channels import fields, mastodon
from bot.channels.base import Ignored, Inbound, Outgoing, PollError, SendError
from bot.channels.registry import channel_for
from bot.logs import secret_values
from bot.media.download import allowed
from bot.media.types import MediaRefused
from bot.payloads import OutboundPayload, ReplyIntent
from bot.settings import get_settings
from tests import mastodon_support
from tests.fakes.mastodon_api import add_notification, fixture, mention, posted
from tests.mastodon_support import (
    MASTODON_TOKEN,
    configure_mastodon,
    cursor_at,
    note_id_of,
    recipients,
)

# The stand-in instance's fixtures (tests/mastodon_support.py).
mastodon_server = mastodon_support.mastodon_server
mastodon_api = mastodon_support.mastodon_api
mastodon_settings = mastodon_support.mastodon_settings

CHANNEL = mastodon.CHANNEL
OUR_ID = fixture("account_credentials")["id"]


def host(settings) -> str:
    return mastodon.instance_host(settings)


def notifications_calls(app) -> list[dict]:
    return [c for c in app.config["CALLS"] if c["path"] == "/api/v1/notifications"]


# --- the channel's declarations ----------------------------------------------------------------


def test_the_registry_knows_the_channel_and_it_has_no_webhook():
    assert channel_for("mastodon") is CHANNEL
    assert CHANNEL.webhook_path is None
    assert CHANNEL.abilities.public_posts is True
    assert (CHANNEL.abilities.budget_unit, CHANNEL.abilities.text_budget) == ("characters", 468)


def test_it_polls_only_with_a_base_url_and_a_token(mastodon_settings, monkeypatch):
    assert CHANNEL.poll_every(mastodon_settings) == 15.0
    monkeypatch.setenv("MASTODON_POLL_SECONDS", "30")
    get_settings.cache_clear()
    assert CHANNEL.poll_every(get_settings()) == 30.0
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "")
    get_settings.cache_clear()
    assert CHANNEL.poll_every(get_settings()) is None


def test_the_token_is_secret(mastodon_settings):
    assert MASTODON_TOKEN not in repr(mastodon_settings)
    assert MASTODON_TOKEN in secret_values(mastodon_settings)


def test_a_base_url_that_is_not_an_instance_is_refused(monkeypatch):
    monkeypatch.setenv("MASTODON_BASE_URL", "mastodon.example/@city")
    get_settings.cache_clear()
    with pytest.raises(ValueError, match="not a Mastodon instance"):
        get_settings()
    get_settings.cache_clear()


# --- parsing -----------------------------------------------------------------------------------


def test_the_recorded_mention_becomes_a_public_post_from_a_qualified_address(mastodon_settings):
    note = fixture("notification_mention")
    [event] = [mastodon.parse_notification(note, mastodon_settings, OUR_ID)]
    assert isinstance(event, Inbound)
    assert event.channel == "mastodon"
    assert event.address == f"mastodon:zsc@{host(mastodon_settings)}"
    assert event.external_id == "in:103186126728896492"
    assert event.text == "sup!"
    assert event.payload.public_post == "103186126728896492"
    assert event.payload.media == ()
    # ids and counts only: never the resident's account, its name or the words
    assert event.payload.raw == {
        "notification_id": "34975861",
        "to": mastodon.account_key(OUR_ID, mastodon_settings),  # the city's: whose cursor
        "status_id": "103186126728896492",
        "visibility": "public",
        "media": 0,
    }


def test_a_remote_account_keeps_its_domain_and_a_direct_mention_is_private(mastodon_settings):
    note = mention("Haskal@Cybre.Space", "<p>@springfield311 hi</p>", visibility="direct")
    event = mastodon.parse_notification(note, mastodon_settings, OUR_ID)
    assert event.address == "mastodon:Haskal@cybre.space"
    assert event.payload.public_post is None
    private = mention("bob", "<p>hi</p>", visibility="private")
    assert (
        mastodon.parse_notification(private, mastodon_settings, OUR_ID).payload.public_post is None
    )
    unlisted = mention("bob", "<p>hi</p>", visibility="unlisted")
    event = mastodon.parse_notification(unlisted, mastodon_settings, OUR_ID)
    assert event.payload.public_post == unlisted["status"]["id"]


@pytest.mark.parametrize(
    ("note", "reason"),
    [
        (fixture("notification_favourite"), "notification of type favourite"),
        (
            {**mention("bob", "<p>x</p>"), "type": "follow", "status": None},
            "notification of type follow",
        ),
        (mention("bob", "<p>x</p>", account_id=OUR_ID), "our own post"),
        (mention("newsbot", "<p>@springfield311 x</p>", bot=True), "a post from a bot account"),
    ],
)
def test_what_is_not_a_residents_mention_is_ignored(mastodon_settings, note, reason):
    assert mastodon.parse_notification(note, mastodon_settings, OUR_ID) == Ignored(reason)


def test_a_boost_is_ignored(mastodon_settings):
    note = mention("bob", "")
    note["status"]["reblog"] = fixture("notification_mention")["status"]
    assert mastodon.parse_notification(note, mastodon_settings, OUR_ID) == Ignored("a boost")


def test_image_attachments_are_photos_and_other_media_are_not(mastodon_settings):
    image = fixture("media_attachment_image")
    video = image | {"id": "1", "type": "video", "url": "https://files.mastodon.social/v.mp4"}
    note = mention("bob", "<p>@springfield311 pothole</p>", media=[image, video])
    event = mastodon.parse_notification(note, mastodon_settings, OUR_ID)
    assert event.payload.media == (image["url"],)
    assert event.text == "pothole"


def test_a_content_warning_comes_before_the_words(mastodon_settings):
    note = mention("bob", "<p>@springfield311 big hole</p>", spoiler_text="pothole")
    assert mastodon.parse_notification(note, mastodon_settings, OUR_ID).text == "pothole\nbig hole"


def test_the_recorded_link_content_reads_as_its_whole_address():
    content = fixture("status_link_content")["content"]
    assert mastodon.plain_text(content) == (
        '"I lost my inheritance with one wrong digit on my sort code"\n\n'
        "https://www.theguardian.com/money/2019/dec/07/"
        "i-lost-my-193000-inheritance-with-one-wrong-digit-on-my-sort-code"
    )


def test_line_breaks_and_paragraphs_are_kept_and_leading_mentions_dropped():
    html = (
        '<p><span class="h-card"><a href="https://x.example/@city" class="u-url mention">'
        '@<span>city</span></a></span> <span class="h-card"><a href="https://y.example/@bob">'
        "@<span>bob</span></a></span> Pothole on Main&nbsp;St<br />near &amp; past the "
        "school</p><p>ask @alice too</p>"
    )
    words = mastodon.without_leading_mentions(mastodon.plain_text(html))
    assert words == "Pothole on Main St\nnear & past the school\n\nask @alice too"


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("@springfield311, stop", "stop"),
        ("@springfield311: STOP", "STOP"),
        ("@springfield311:STOP", "STOP"),
        ("@springfield311 @bob@other.example, stop", "stop"),
        ("@springfield311. Pothole on Main St", "Pothole on Main St"),
        ("@alice's pothole", "@alice's pothole"),  # not a mention alone: kept
    ],
)
def test_punctuation_after_a_leading_mention_is_dropped_with_it(mastodon_settings, typed, words):
    """Residents write "@city, stop": read as STOP, the opt-out word it is."""
    mention_html = (
        '<span class="h-card"><a href="https://x.example/@springfield311" class="u-url mention">'
        "@<span>springfield311</span></a></span>"
    )
    html = "<p>" + typed.replace("@springfield311", mention_html, 1) + "</p>"
    event = mastodon.parse_notification(mention("zsc", html), mastodon_settings, OUR_ID)
    assert event.text == words
    if words.lower() == "stop":
        assert event.text.upper() in CHANNEL.abilities.opt_out_words


@pytest.mark.parametrize(
    "html",
    [
        "<p>hi<script>alert(1)</script></p>",
        "<p>hi</p><style>p{}</style>",
        "<p>hi<a href='x'",
        "<p>hi <<b>>x</b>>",
        "<p>&lt;script&gt;alert(1)&lt;/script&gt;hi</p>",
        "<" * 500 + "p>hi",
        "<div>" * 10000 + "hi",
        "<p>hi</p><!-- <p>comment</p> --><![CDATA[x]]><?php echo 1 ?>",
        "<p>hi\x00\ud800</p>",
        "<p>hi &#0; &#xD800; &#99999999; &bogus;</p>",
        "<svg><foreignObject><p>hi</p></foreignObject></svg>",
    ],
)
def test_hostile_html_leaves_no_tag_and_never_raises(html):
    text = mastodon.plain_text(html)
    assert "hi" in text
    assert "<script" not in text.lower() and "<p" not in text and "<a" not in text
    assert "alert(1)" not in text or "&lt;" in html  # a script's body is never words
    assert fields.text(text) == text  # clean as stored


def test_a_huge_content_is_cut_to_what_a_message_keeps():
    assert len(mastodon.plain_text("<p>" + "a " * 100_000 + "</p>")) <= fields.MAX_TEXT


def test_a_malformed_notification_is_refused_not_crashed(mastodon_settings):
    broken = mention("bob", "<p>x</p>")
    broken["status"]["id"] = "12; DROP TABLE"
    with pytest.raises(mastodon.MalformedInbound):
        mastodon.parse_notification(broken, mastodon_settings, OUR_ID)
    bad_acct = mention("bob\nx", "<p>x</p>")
    with pytest.raises(mastodon.MalformedInbound):
        mastodon.parse_notification(bad_acct, mastodon_settings, OUR_ID)


# --- polling -----------------------------------------------------------------------------------


def test_the_first_poll_reads_the_newest_page_and_keeps_its_newest_id(
    mastodon_settings, mastodon_api
):
    first = add_notification(mastodon_api, mention("alice", "<p>@springfield311 one</p>"))
    second = add_notification(mastodon_api, mention("bob", "<p>@springfield311 two</p>"))
    polled = CHANNEL.poll(mastodon_settings, None)
    assert [e.text for e in polled.events] == ["one", "two"]  # oldest first
    assert note_id_of(polled.cursor) == second["id"] > first["id"]
    calls = mastodon_api.config["CALLS"]
    assert [(c["method"], c["path"], c["query"]) for c in calls] == [
        ("GET", "/api/v1/accounts/verify_credentials", {}),
        (
            "GET",
            "/api/v1/notifications",
            {"types[]": ["mention"], "limit": ["80"], "include_filtered": ["true"]},
        ),
    ]


FILTERED_TOO = {"include_filtered": ["true"]}


def test_a_poll_reads_after_its_cursor_and_keeps_it_when_nothing_came(
    mastodon_settings, mastodon_api
):
    old = add_notification(mastodon_api, mention("alice", "<p>old</p>"))
    new = add_notification(mastodon_api, mention("bob", "<p>new</p>"))
    polled = CHANNEL.poll(mastodon_settings, cursor_at(mastodon_settings, old["id"]))
    assert [e.external_id for e in polled.events] == [f"in:{new['status']['id']}"]
    assert polled.cursor == cursor_at(mastodon_settings, new["id"])
    again = CHANNEL.poll(mastodon_settings, polled.cursor)
    assert (again.events, again.cursor) == ([], polled.cursor)
    queries = [c["query"] for c in notifications_calls(mastodon_api)]
    assert queries == [
        {"types[]": ["mention"], "min_id": [old["id"]], "limit": ["80"], **FILTERED_TOO},
        {"types[]": ["mention"], "min_id": [new["id"]], "limit": ["80"], **FILTERED_TOO},
    ]
    # verify_credentials once per process, not once per poll
    assert [c["path"] for c in mastodon_api.config["CALLS"]].count(
        "/api/v1/accounts/verify_credentials"
    ) == 1


@pytest.mark.parametrize(
    "foreign",
    [
        "999999999999999999999",  # a bare id (an older cursor: whose, no one knows)
        "42@{host}:999999999999999999999",  # another account on this instance
        "{account}@mastodon.example:999999999999999999999",  # our account id, another instance
    ],
)
def test_a_cursor_of_another_account_or_instance_is_read_as_lost(
    mastodon_settings, mastodon_api, foreign
):
    from tests.mastodon_support import ACCOUNT_ID

    note = add_notification(mastodon_api, mention("bob", "<p>@springfield311 pothole</p>"))
    foreign = foreign.format(host=host(mastodon_settings), account=ACCOUNT_ID)
    polled = CHANNEL.poll(mastodon_settings, foreign)
    assert [e.text for e in polled.events] == ["pothole"]
    assert polled.cursor == cursor_at(mastodon_settings, note["id"])
    assert polled.cursor.startswith(f"{ACCOUNT_ID}@{host(mastodon_settings)}:")
    [call] = notifications_calls(mastodon_api)
    assert "min_id" not in call["query"]  # the newest page, as with no cursor


def test_the_account_is_asked_for_once_a_process_not_once_a_poll(mastodon_settings, mastodon_api):
    """A supervised worker keeps the account's id for its life; a new process asks again."""
    for _ in range(3):
        CHANNEL.poll(mastodon_settings, None)
    mastodon._OWN_ACCOUNTS.clear()  # a new process
    CHANNEL.poll(mastodon_settings, None)
    paths = [c["path"] for c in mastodon_api.config["CALLS"]]
    assert paths.count("/api/v1/accounts/verify_credentials") == 2
    assert all(MASTODON_TOKEN not in str(key) for key in mastodon._OWN_ACCOUNTS)


def test_a_backlog_is_read_page_by_page_oldest_first(mastodon_settings, mastodon_api):
    seen = add_notification(mastodon_api, mention("alice", "<p>seen</p>"))
    cursor = cursor_at(mastodon_settings, seen["id"])
    made = [add_notification(mastodon_api, mention("bob", f"<p>n{i}</p>")) for i in range(170)]
    polled = CHANNEL.poll(mastodon_settings, cursor)
    assert [e.text for e in polled.events] == [f"n{i}" for i in range(170)]
    assert note_id_of(polled.cursor) == made[-1]["id"]
    assert len(notifications_calls(mastodon_api)) == 3  # 80 + 80 + 10


def test_a_poll_stops_after_its_pages_and_the_next_goes_on(
    mastodon_settings, mastodon_api, monkeypatch
):
    monkeypatch.setattr(mastodon, "MAX_PAGES", 2)
    seen = add_notification(mastodon_api, mention("alice", "<p>seen</p>"))
    cursor = cursor_at(mastodon_settings, seen["id"])
    for i in range(200):
        add_notification(mastodon_api, mention("bob", f"<p>n{i}</p>"))
    first = CHANNEL.poll(mastodon_settings, cursor)
    second = CHANNEL.poll(mastodon_settings, first.cursor)
    texts = [e.text for e in first.events + second.events]
    assert texts == [f"n{i}" for i in range(200)]  # nothing skipped, nothing twice
    assert len(first.events) == 160


def test_a_poll_that_fails_on_a_later_page_keeps_what_it_read(mastodon_settings, mastodon_api):
    """Pages 1 and 2 read, page 3 refused (a 429 once the budget is spent, a 5xx): their 160
    mentions are returned and the cursor moved past them, not read again and again."""
    seen = add_notification(mastodon_api, mention("alice", "<p>seen</p>"))
    made = [add_notification(mastodon_api, mention("bob", f"<p>n{i}</p>")) for i in range(200)]
    mastodon_api.config["FAIL_NEXT"] = [0, 0, 0, 503]  # verify, page 1, page 2, then page 3
    polled = CHANNEL.poll(mastodon_settings, cursor_at(mastodon_settings, seen["id"]))
    assert [e.text for e in polled.events] == [f"n{i}" for i in range(160)]
    assert polled.cursor == cursor_at(mastodon_settings, made[159]["id"])
    mastodon_api.config["FAIL_NEXT"] = [503]  # the first page: nothing read, an error
    with pytest.raises(PollError):
        CHANNEL.poll(mastodon_settings, polled.cursor)


def test_a_new_residents_first_direct_post_is_read_though_the_policy_filters_it(
    mastodon_settings, mastodon_api
):
    """Mastodon 4.3's NotificationPolicy filters private mentions from accounts the city's does
    not follow out of GET /api/v1/notifications unless include_filtered=true."""
    note = add_notification(
        mastodon_api,
        mention("bob", "<p>@springfield311 pothole</p>", visibility="direct", account_id="5"),
    )
    polled = CHANNEL.poll(mastodon_settings, cursor_at(mastodon_settings, "1"))
    [event] = polled.events
    assert isinstance(event, Inbound) and event.text == "pothole"
    assert note_id_of(polled.cursor) == note["id"]
    calls = [c for c in mastodon_api.config["CALLS"] if c["path"] == "/api/v1/notifications"]
    assert calls and all(c["query"]["include_filtered"] == ["true"] for c in calls)


def test_the_stand_in_filters_a_strangers_direct_mention_as_mastodon_does(
    mastodon_settings, mastodon_api
):
    import requests

    add_notification(mastodon_api, mention("bob", "<p>hi</p>", visibility="direct"))
    url = f"{mastodon_settings.mastodon_base_url}/api/v1/notifications"
    auth = {"Authorization": f"Bearer {MASTODON_TOKEN}"}
    assert requests.get(url, headers=auth, timeout=5).json() == []
    assert len(requests.get(url + "?include_filtered=true", headers=auth, timeout=5).json()) == 1


def test_other_notifications_are_not_asked_for(mastodon_settings, mastodon_api):
    add_notification(mastodon_api, fixture("notification_favourite"))
    mention_note = add_notification(mastodon_api, mention("bob", "<p>hello</p>"))
    polled = CHANNEL.poll(mastodon_settings, None)
    assert [e.external_id for e in polled.events] == [f"in:{mention_note['status']['id']}"]


def test_with_no_cursor_old_mentions_are_not_answered(mastodon_settings, mastodon_api):
    old = mention("alice", "<p>last week</p>", created_at=datetime.now(UTC) - timedelta(days=7))
    add_notification(mastodon_api, old)
    add_notification(mastodon_api, mention("bob", "<p>just now</p>"))
    polled = CHANNEL.poll(mastodon_settings, None)
    assert [type(e).__name__ for e in polled.events] == ["Ignored", "Inbound"]
    with_cursor = CHANNEL.poll(mastodon_settings, cursor_at(mastodon_settings, "1"))
    assert [e.text for e in with_cursor.events] == ["last week", "just now"]


def test_a_hostile_notification_among_good_ones_costs_only_itself(mastodon_settings, mastodon_api):
    bad = mention("bob", "<p>x</p>")
    bad["status"]["account"] = "not an account"
    add_notification(mastodon_api, bad)
    add_notification(mastodon_api, mention("carol", "<p>ok</p>"))
    polled = CHANNEL.poll(mastodon_settings, None)
    assert isinstance(polled.events[0], Ignored)
    assert polled.events[1].text == "ok"


def test_a_notification_the_parser_trips_on_never_stops_the_reads(
    mastodon_settings, mastodon_api, monkeypatch
):
    parse = mastodon.parse_notification

    def tripping(note, settings, own):
        if "boom" in note["status"]["content"]:
            raise RuntimeError("a shape nobody foresaw")
        return parse(note, settings, own)

    monkeypatch.setattr(mastodon, "parse_notification", tripping)
    odd = mention("bob", "<p>x</p>", visibility="public")
    odd["status"]["visibility"] = ["public"]  # not a word: read as not public
    add_notification(mastodon_api, odd)
    add_notification(mastodon_api, mention("bob", "<p>boom</p>"))
    last = add_notification(mastodon_api, mention("carol", "<p>ok</p>"))
    polled = CHANNEL.poll(mastodon_settings, None)
    assert polled.events[0].payload.public_post is None
    assert polled.events[1] == Ignored("unreadable notification: RuntimeError")
    assert polled.events[2].text == "ok" and note_id_of(polled.cursor) == last["id"]


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_an_instance_down_or_busy_is_a_retryable_poll_error(
    mastodon_settings, mastodon_api, status
):
    mastodon_api.config["FAIL_NEXT"] = [status]
    with pytest.raises(PollError) as raised:
        CHANNEL.poll(mastodon_settings, None)
    assert raised.value.retryable is True


def test_an_unreachable_instance_is_a_retryable_poll_error(
    sqlite_env, monkeypatch, mastodon_server
):
    from tests.processes import free_port

    configure_mastodon(monkeypatch, mastodon_server)
    monkeypatch.setenv("MASTODON_BASE_URL", f"http://127.0.0.1:{free_port()}")
    get_settings.cache_clear()
    mastodon._OWN_ACCOUNTS.clear()
    with pytest.raises(PollError) as raised:
        CHANNEL.poll(get_settings(), None)
    assert raised.value.retryable is True


def _dripping_server() -> tuple[int, threading.Event]:
    """An HTTP server that answers every request one byte at a time, 0.1 s apart."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=drip, args=(conn,), daemon=True).start()

    def drip(conn):
        conn.recv(65536)
        body = b'{"id": "1", "acct": "springfield311"}' + b" " * 40
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        try:
            for byte in head % len(body) + body:
                if stop.is_set():
                    break
                conn.sendall(bytes([byte]))
                time.sleep(0.1)
        except OSError:
            pass
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    stop_all = threading.Event()

    def closer():
        stop_all.wait()
        stop.set()
        listener.close()

    threading.Thread(target=closer, daemon=True).start()
    return listener.getsockname()[1], stop_all


def test_a_poll_of_an_instance_that_trickles_its_answer_ends_in_time(
    sqlite_env, monkeypatch, mastodon_server
):
    """requests' read timeout is between two bytes: an answer trickled a byte every 0.1 s
    under a 0.5 s read timeout would take over ten seconds; a call may take (connect + read)
    in all, and a poll POLL_DEADLINE."""
    port, stop = _dripping_server()
    try:
        configure_mastodon(monkeypatch, mastodon_server)
        monkeypatch.setenv("MASTODON_BASE_URL", f"http://127.0.0.1:{port}")
        get_settings.cache_clear()
        mastodon._OWN_ACCOUNTS.clear()
        monkeypatch.setattr(mastodon, "TIMEOUT", (0.5, 0.5))
        started = time.monotonic()
        with pytest.raises(PollError) as raised:
            CHANNEL.poll(get_settings(), None)
        took = time.monotonic() - started
    finally:
        stop.set()
    assert raised.value.retryable is True
    assert took < 3, f"a poll with a (0.5 s, 0.5 s) timeout took {took:.0f} s"


def test_a_poll_asks_for_no_page_after_its_deadline(mastodon_settings, mastodon_api):
    from bot.channels.deadline_http import Deadline

    seen = add_notification(mastodon_api, mention("alice", "<p>seen</p>"))
    made = [add_notification(mastodon_api, mention("bob", f"<p>n{i}</p>")) for i in range(200)]

    class OnePage(Deadline):
        asked = 0

        def passed(self) -> bool:
            OnePage.asked += 1
            return OnePage.asked > 1

    api = mastodon.client(mastodon_settings)
    read, newest = mastodon.read_mentions(api, seen["id"], OnePage(30))
    assert len(read) == 80 and newest == made[79]["id"]  # the next poll goes on from there
    assert len(notifications_calls(mastodon_api)) == 1


def test_a_rate_limited_poll_says_when_to_come_back(mastodon_settings, mastodon_api):
    mastodon_api.config.update(FAIL_NEXT=[429], RESET_IN=300)
    with pytest.raises(PollError) as raised:
        CHANNEL.poll(mastodon_settings, None)
    assert raised.value.retryable is True
    assert raised.value.retry_after is not None and 250 < raised.value.retry_after < 302


def test_a_refused_token_is_permanent_and_named_without_the_token(
    mastodon_settings, mastodon_api, monkeypatch, caplog
):
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "a-revoked-token-0123456789abcdef")
    get_settings.cache_clear()
    with caplog.at_level(logging.INFO), pytest.raises(PollError) as raised:
        CHANNEL.poll(get_settings(), None)
    assert raised.value.retryable is False
    assert "MASTODON_ACCESS_TOKEN" in str(raised.value)
    assert "a-revoked-token" not in str(raised.value) + caplog.text


# --- sending -----------------------------------------------------------------------------------


def outgoing(address: str, text: str, message_id: int = 7, **payload) -> Outgoing:
    return Outgoing(message_id, address, text, OutboundPayload(**payload))


def test_a_reply_is_a_direct_post_mentioning_the_resident(mastodon_settings, mastodon_api):
    address = f"mastodon:zsc@{host(mastodon_settings)}"
    provider_id = CHANNEL.send(outgoing(address, "What is the problem?"), mastodon_settings)
    [post] = posted(mastodon_api)
    assert provider_id == f"out:{post['id']}"
    assert (post["status"], post["visibility"], post["in_reply_to_id"]) == (
        "@zsc What is the problem?",  # a local account by its username
        "direct",
        None,
    )
    [call] = mastodon_api.config["CALLS"]
    assert call["form"] == {
        "status": ["@zsc What is the problem?"],
        "visibility": ["direct"],
        "sensitive": ["0"],  # Mastodon.py sends its default
    }
    assert call["headers"]["Idempotency-Key"].startswith("intake311-7-")


def test_a_remote_resident_is_mentioned_with_their_domain(mastodon_settings, mastodon_api):
    CHANNEL.send(outgoing("mastodon:haskal@cybre.space", "Thanks!"), mastodon_settings)
    assert posted(mastodon_api)[0]["status"] == "@haskal@cybre.space Thanks!"


def test_a_public_reply_is_unlisted_and_answers_the_post(mastodon_settings, mastodon_api):
    note = add_notification(mastodon_api, mention("zsc", "<p>@springfield311 pothole</p>"))
    status_id = note["status"]["id"]
    out = outgoing(
        f"mastodon:zsc@{host(mastodon_settings)}",
        "Thanks, we will carry on in a private message.",
        public_reply_to=status_id,
    )
    CHANNEL.send(out, mastodon_settings)
    [post] = posted(mastodon_api)
    assert (post["visibility"], post["in_reply_to_id"]) == ("unlisted", status_id)
    assert post["status"] == "@zsc Thanks, we will carry on in a private message."


def test_a_direct_post_mentions_only_the_resident(mastodon_settings, mastodon_api):
    """Our words may quote a resident's ("cc @police"): a direct post reaches every account it
    mentions, so every other @name is made plain words; a link to a profile is left alone."""
    text = (
        "Pothole, 120 Main Street: 'huge hole, cc @police and @bob@other.example'. "
        "See https://other.example/@bob and mail a@b.example. Send it?"
    )
    CHANNEL.send(outgoing("mastodon:zsc@cybre.space", text), mastodon_settings)
    [post] = posted(mastodon_api)
    assert post["visibility"] == "direct"
    assert recipients(post["status"]) == {"@zsc@cybre.space"}, post["status"]
    assert "https://other.example/@bob " in post["status"]
    assert post["status"].replace("\u200b", "") == f"@zsc@cybre.space {text}"


def test_a_public_reply_mentions_only_the_resident(mastodon_settings, mastodon_api):
    note = add_notification(mastodon_api, mention("zsc", "<p>@springfield311 pothole</p>"))
    out = outgoing(
        f"mastodon:zsc@{host(mastodon_settings)}",
        "Thanks @zsc, @police will not see this.",
        public_reply_to=note["status"]["id"],
    )
    CHANNEL.send(out, mastodon_settings)
    [post] = posted(mastodon_api)
    assert recipients(post["status"]) == {"@zsc"}, post["status"]


@pytest.mark.parametrize(
    "payload",
    [
        {"media_url": "https://city.example/media/photo.jpg"},
        {"reply": ReplyIntent("Is it on the road?", expects="yes_no")},
        {"reply": ReplyIntent("Which?", options=("Pothole", "Graffiti"), expects="choice")},
        {},  # not a status id
    ],
)
def test_a_public_reply_with_more_than_fixed_words_is_refused(
    mastodon_settings, mastodon_api, payload
):
    note = add_notification(mastodon_api, mention("zsc", "<p>@springfield311 pothole</p>"))
    reply_to = note["status"]["id"] if payload else "not-an-id"
    out = outgoing(
        f"mastodon:zsc@{host(mastodon_settings)}", "Thanks!", public_reply_to=reply_to, **payload
    )
    with pytest.raises(SendError) as raised:
        CHANNEL.send(out, mastodon_settings)
    assert (raised.value.retryable, raised.value.code) == (False, mastodon.NOT_PUBLIC)
    assert posted(mastodon_api) == []
    assert "fixed public replies" in CHANNEL.failure_hint(raised.value.code, "", mastodon_settings)


def test_a_retried_send_is_posted_once(mastodon_settings, mastodon_api):
    out = outgoing("mastodon:bob@cybre.space", "Your request number is 2026-000001.")
    mastodon_api.config["DROP_NEXT_POST"] = True  # posted, but the answer is lost
    with pytest.raises(SendError) as lost:
        CHANNEL.send(out, mastodon_settings)
    assert lost.value.retryable is True
    provider_id = CHANNEL.send(out, mastodon_settings)
    [post] = posted(mastodon_api)
    assert provider_id == f"out:{post['id']}"
    keys = [c["headers"]["Idempotency-Key"] for c in mastodon_api.config["CALLS"]]
    assert len(keys) == 2 and keys[0] == keys[1]


def test_another_message_gets_another_key(mastodon_settings, mastodon_api):
    CHANNEL.send(outgoing("mastodon:bob@cybre.space", "one", message_id=1), mastodon_settings)
    CHANNEL.send(outgoing("mastodon:bob@cybre.space", "one", message_id=2), mastodon_settings)
    CHANNEL.send(outgoing("mastodon:bob@cybre.space", "two", message_id=1), mastodon_settings)
    assert len(posted(mastodon_api)) == 3


def test_a_long_text_is_cut_to_what_mastodon_counts_and_accepted(mastodon_settings, mastodon_api):
    out = outgoing("mastodon:someone_with_a_long_name@far.example", "word " * 200)
    CHANNEL.send(out, mastodon_settings)
    [post] = posted(mastodon_api)
    assert post["status"].endswith("…")
    counted = mastodon.countable_length(
        post["status"].replace("@someone_with_a_long_name@far.example", "@someone_with_a_long_name")
    )
    assert counted <= 500


def test_a_status_photo_goes_as_its_link(mastodon_settings, mastodon_api):
    url = "https://city.example.gov/media/after.jpg"
    CHANNEL.send(
        outgoing("mastodon:bob@cybre.space", "Update: closed.", media_url=url), mastodon_settings
    )
    assert posted(mastodon_api)[0]["status"] == f"@bob@cybre.space Update: closed.\n{url}"


def test_a_rate_limit_waits_as_long_as_mastodon_says(mastodon_settings, mastodon_api):
    mastodon_api.config.update(FAIL_NEXT=[429], RESET_IN=120)
    with pytest.raises(SendError) as raised:
        CHANNEL.send(outgoing("mastodon:bob@cybre.space", "hi"), mastodon_settings)
    error = raised.value
    assert (error.retryable, error.code) == (True, "429")
    assert 100 < error.retry_after <= 121


@pytest.mark.parametrize(
    ("retry_after", "low", "high"),
    [(None, 60, 60), ("90", 90, 90), ("5", 60, 60)],
)
def test_a_rate_limit_without_a_usable_reset_still_waits(
    mastodon_settings, mastodon_api, retry_after, low, high
):
    """A proxy's 429 (no X-RateLimit-Reset, or one already past) waits its Retry-After, and at
    least a minute: never a second at a time for as long as the 429s last."""
    mastodon_api.config.update(FAIL_NEXT=[429], RESET_IN=-5, RETRY_AFTER=retry_after)
    with pytest.raises(SendError) as raised:
        CHANNEL.send(outgoing("mastodon:bob@cybre.space", "hi"), mastodon_settings)
    assert raised.value.code == "429"
    assert low <= raised.value.retry_after <= high


def test_a_retry_after_may_be_a_date():
    assert mastodon.retry_after_seconds("Sun, 06 Dec 2026 03:02:00 GMT", now=1796526000.0) == 120
    assert mastodon.retry_after_seconds("soon") is None


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_is_retried(mastodon_settings, mastodon_api, status):
    mastodon_api.config["FAIL_NEXT"] = [status]
    with pytest.raises(SendError) as raised:
        CHANNEL.send(outgoing("mastodon:bob@cybre.space", "hi"), mastodon_settings)
    assert raised.value.retryable is True
    assert posted(mastodon_api) == []


def test_a_refused_token_is_permanent_with_a_hint(mastodon_settings, mastodon_api, monkeypatch):
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "a-revoked-token-0123456789abcdef")
    get_settings.cache_clear()
    with pytest.raises(SendError) as raised:
        CHANNEL.send(outgoing("mastodon:bob@cybre.space", "hi"), get_settings())
    assert (raised.value.retryable, raised.value.code) == (False, "401")
    assert "a-revoked-token" not in str(raised.value)
    assert "MASTODON_ACCESS_TOKEN" in CHANNEL.failure_hint("401", "", get_settings())


def test_a_reply_to_a_deleted_post_is_permanent(mastodon_settings, mastodon_api):
    out = outgoing("mastodon:bob@cybre.space", "Thanks", public_reply_to="999")
    with pytest.raises(SendError) as raised:
        CHANNEL.send(out, mastodon_settings)
    assert (raised.value.retryable, raised.value.code) == (False, "404")
    assert "deleted" in CHANNEL.failure_hint("404", "", mastodon_settings)


def test_an_address_that_is_not_mastodons_is_refused(mastodon_settings, mastodon_api):
    with pytest.raises(SendError) as raised:
        CHANNEL.send(outgoing("telegram:123", "hi"), mastodon_settings)
    assert raised.value.retryable is False
    assert mastodon_api.config["CALLS"] == []


def test_sends_are_paced_per_instance(mastodon_settings):
    [rate] = CHANNEL.send_rates("mastodon:bob@cybre.space", mastodon_settings)
    assert rate.key == f"mastodon:{host(mastodon_settings)}"


# --- photos ------------------------------------------------------------------------------------


def test_media_is_fetched_from_the_instance_or_its_media_hosts(mastodon_settings, monkeypatch):
    own = f"{mastodon_settings.mastodon_base_url}/system/media/1.jpg"
    request = CHANNEL.media_request(own, mastodon_settings)
    assert request.auth is None
    assert allowed(own, request)
    with pytest.raises(MediaRefused):
        allowed("https://elsewhere.example/1.jpg", request)
    monkeypatch.setenv("MASTODON_MEDIA_HOSTS", "files.mastodon.social")
    get_settings.cache_clear()
    image = fixture("media_attachment_image")["url"]
    assert allowed(image, CHANNEL.media_request(image, get_settings()))
    with pytest.raises(MediaRefused):
        CHANNEL.media_request("javascript:alert(1)", get_settings())


# --- intake311 mastodon info -------------------------------------------------------------------


def test_info_shows_the_account_the_instance_and_the_cursor(mastodon_settings, mastodon_api):
    from click.testing import CliRunner

    from bot.cli import main
    from bot.jobs.polling import cursor_key
    from bot.queue import get_redis

    get_redis().set(cursor_key("mastodon"), "34975861")
    result = CliRunner().invoke(main, ["mastodon", "info"])
    assert result.exit_code == 0, result.output
    assert f"account: @springfield311@{host(mastodon_settings)}" in result.output
    assert f"instance: {mastodon_settings.mastodon_base_url}" in result.output
    assert "last notification read (cursor): 34975861" in result.output
    assert "notifications policy: for_private_mentions=filter, for_new_accounts=accept" in (
        result.output
    )
    assert "warning" not in result.output
    assert MASTODON_TOKEN not in result.output
    assert [call["path"] for call in mastodon_api.config["CALLS"]] == [
        "/api/v1/accounts/verify_credentials",
        "/api/v2/notifications/policy",
    ]
    assert "no set-webhook" in CliRunner().invoke(main, ["mastodon", "--help"]).output


def test_info_warns_of_a_policy_that_drops_mentions_and_an_instance_without_one(
    mastodon_settings, mastodon_api
):
    from click.testing import CliRunner

    from bot.cli import main

    mastodon_api.config["POLICY"]["for_private_mentions"] = "drop"
    output = CliRunner().invoke(main, ["mastodon", "info"]).output
    assert "for_private_mentions=drop" in output and "warning: the policy drops" in output
    mastodon_api.config["POLICY"] = None  # before Mastodon 4.3
    result = CliRunner().invoke(main, ["mastodon", "info"])
    assert result.exit_code == 0, result.output
    assert "notifications policy: (none: the instance is older than Mastodon 4.3)" in result.output


def test_info_with_a_refused_token_says_so_without_it(mastodon_settings, monkeypatch):
    from click.testing import CliRunner

    from bot.cli import main

    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "a-revoked-token-0123456789abcdef")
    get_settings.cache_clear()
    result = CliRunner().invoke(main, ["mastodon", "info"])
    assert result.exit_code != 0
    assert "MASTODON_ACCESS_TOKEN" in result.output and "a-revoked-token" not in result.output


def test_production_refuses_a_token_sent_over_plain_http():
    from bot.production import problems
    from bot.settings import Settings

    def mastodon_problems(base_url: str) -> list[str]:
        settings = Settings(
            _env_file=None, mastodon_base_url=base_url, mastodon_access_token=MASTODON_TOKEN
        )
        return [p for p in problems(settings) if "MASTODON" in p]

    [problem] = mastodon_problems("http://mastodon.example")
    assert "not HTTPS" in problem and MASTODON_TOKEN not in problem
    assert mastodon_problems("https://mastodon.example") == []
