"""bot.channels.x's send through tweepy's real Client: the exact calls to the X stand-in (path,
OAuth 1.0a signature, JSON), public replies only when marked, X's errors, photos' requests."""

from __future__ import annotations

import json
import logging
import time

import pytest
import requests
import tweepy  # type: ignore[import-untyped]

from bot.channels import x, x_api
from bot.channels.base import Outgoing, SendError
from bot.channels.registry import channel_for
from bot.media.download import download
from bot.media.types import MediaRefused
from bot.payloads import OutboundPayload, ReplyIntent
from tests.conftest import X_CONSUMER, X_TOKEN
from tests.fakes.x_api import sends

RESIDENT = "1204567890123456789"
ADDRESS = f"x:{RESIDENT}"
POST = "1864872345678901234"
INVITE = "Thanks for telling us. We have sent you a direct message to take your report."


def outgoing(text: str, options=(), expects: str = "text", **extra) -> Outgoing:
    """An outbound message as the worker stores it: the engine's reply under "reply"."""
    payload = OutboundPayload(ReplyIntent(text, tuple(options), expects), **extra)
    lines = "".join(f"\n{n} {label}" for n, label in enumerate(options, start=1))
    return Outgoing(7, ADDRESS, text + lines, payload)


def public(text: str = INVITE, post: str = POST) -> Outgoing:
    """A public reply as the worker makes it: fixed words, marked public_reply_to."""
    return Outgoing(8, ADDRESS, text, OutboundPayload(public_reply_to=post))


@pytest.fixture
def settings(sqlite_env, x_api):
    from bot.settings import get_settings

    return get_settings()


def test_the_registry_knows_the_channel():
    assert channel_for("x") is x.CHANNEL
    assert x.CHANNEL.abilities.public_posts and not x.CHANNEL.abilities.buttons


def test_a_reply_is_a_direct_message_with_numbered_options(settings, x_api):
    provider_id = x.CHANNEL.send(
        outgoing("What would you like to report?", ["Pothole in Street", "Graffiti"], "choice"),
        settings,
    )
    [call] = x_api.config["CALLS"]
    assert call["method"] == "POST" and call["auth"] == "oauth1" and call["ok"], call
    assert call["path"] == f"/2/dm_conversations/with/{RESIDENT}/messages"
    assert call["json"] == {
        "text": "What would you like to report?\n1 Pothole in Street\n2 Graffiti"
    }
    assert provider_id == f"dm:{call['result']}"


def test_a_public_reply_answers_the_post_and_nothing_else(settings, x_api):
    provider_id = x.CHANNEL.send(public(), settings)
    [call] = x_api.config["CALLS"]
    assert call["path"] == "/2/tweets" and call["auth"] == "oauth1" and call["ok"], call
    # Each public reply is its own words (X refuses a duplicate post): our message's number.
    expected = f"{INVITE} (ref. 8)"
    assert call["json"] == {"text": expected, "reply": {"in_reply_to_tweet_id": POST}}
    assert provider_id == f"tweet:{call['result']}"
    assert provider_id != f"in:tweet:{POST}"  # ours never meet X's inbound ids


@pytest.mark.parametrize(
    "message",
    [
        # a resident's words in an engine reply are never posted, however marked
        Outgoing(
            9,
            ADDRESS,
            "You said: pothole at 120 Main St. Is that right?\n1 Yes\n2 No",
            OutboundPayload(
                ReplyIntent("You said: pothole at 120 Main St", ("Yes", "No"), "choice"),
                public_reply_to=POST,
            ),
        ),
        Outgoing(
            9,
            ADDRESS,
            "Your photo",
            OutboundPayload(media_url="https://e.org/p.jpg", public_reply_to=POST),
        ),
        Outgoing(9, ADDRESS, "x" * 281, OutboundPayload(public_reply_to=POST)),
        Outgoing(9, ADDRESS, INVITE, OutboundPayload(public_reply_to="not-a-post")),
        Outgoing(9, ADDRESS, INVITE, OutboundPayload(public_reply_to="")),
    ],
)
def test_nothing_but_the_fixed_public_words_is_posted(settings, x_api, message):
    with pytest.raises(SendError) as refused:
        x.CHANNEL.send(message, settings)
    assert not refused.value.retryable and refused.value.code == x.NOT_PUBLIC
    assert x_api.config["CALLS"] == []  # nothing reached X


def test_an_unmarked_message_is_never_a_post(settings, x_api):
    x.CHANNEL.send(outgoing("Your report 311-123 about 120 Main St"), settings)
    assert [call["path"] for call in x_api.config["CALLS"]] == [
        f"/2/dm_conversations/with/{RESIDENT}/messages"
    ]


def test_a_status_photo_goes_as_its_link(settings, x_api):
    message = outgoing("Fixed!", media_url="https://city.example/p/1.jpg")
    x.CHANNEL.send(message, settings)
    [sent] = sends(x_api)
    assert sent["text"] == "Fixed!\nhttps://city.example/p/1.jpg"


def test_the_signature_is_checked_by_the_stand_in(settings, x_api, monkeypatch):
    """The stand-in refuses a wrong secret: the signature it accepts is really checked."""
    monkeypatch.setattr(settings, "x_access_token_secret", "not-the-secret-0123456789")
    with pytest.raises(SendError) as refused:
        x.CHANNEL.send(outgoing("hello"), settings)
    assert refused.value.code == "401" and not refused.value.retryable
    assert x_api.config["CALLS"][0]["problem"] == "signature does not match"
    assert "X_CONSUMER_KEY" in x.CHANNEL.failure_hint("401", "", settings)


def test_a_resident_who_takes_no_dms_is_a_permanent_failure_with_a_hint(settings, x_api):
    x_api.config["CLOSED_DMS"].add(RESIDENT)
    with pytest.raises(SendError) as refused:
        x.CHANNEL.send(outgoing("hello"), settings)
    assert not refused.value.retryable and refused.value.code == x.DM_CLOSED
    assert "follow the account" in x.CHANNEL.failure_hint(x.DM_CLOSED, "", settings)


def test_rate_limited_waits_until_xs_reset(settings, x_api):
    x_api.config.update(RATE_LIMITED=1, RESET_IN=120)
    with pytest.raises(SendError) as limited:
        x.CHANNEL.send(outgoing("hello"), settings)
    assert limited.value.retryable and limited.value.code == "429"
    assert 100 <= limited.value.retry_after <= 121
    assert x.CHANNEL.send(outgoing("hello"), settings).startswith("dm:")  # then it goes


def too_many(headers: dict[str, str]) -> tweepy.TooManyRequests:
    """X's 429 as tweepy raises it, with these headers (its body as X words it)."""
    response = requests.Response()
    response.status_code = 429
    response.reason = "Too Many Requests"
    response.headers.update(headers)
    response._content = json.dumps(
        {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank"}
    ).encode()
    return tweepy.TooManyRequests(response)


def test_a_spent_daily_cap_waits_for_its_reset_not_the_windows():
    now = int(time.time())
    # The account's 24-hour cap is spent (20 h to go); the 15-minute window resets in 5 minutes.
    error = x.send_error(
        too_many(
            {
                "x-rate-limit-reset": str(now + 300),
                "x-rate-limit-remaining": "99",
                "x-user-limit-24hour-reset": str(now + 20 * 3600),
                "x-user-limit-24hour-remaining": "0",
            }
        ),
        direct=False,
    )
    assert error.retryable and error.code == "429"
    assert 20 * 3600 - 5 <= error.retry_after <= 20 * 3600 + 5


def test_the_latest_spent_reset_wins_and_unspent_ones_are_not_counted():
    now = int(time.time())
    headers = {
        "x-rate-limit-reset": str(now + 600),
        "x-rate-limit-remaining": "0",
        "x-app-limit-24hour-reset": str(now + 3 * 3600),
        "x-app-limit-24hour-remaining": "0",
        "x-user-limit-24hour-reset": str(now + 20 * 3600),
        "x-user-limit-24hour-remaining": "12",  # not spent: its reset is not ours to wait
    }
    error = x.send_error(too_many(headers), direct=True)
    assert 3 * 3600 - 5 <= error.retry_after <= 3 * 3600 + 5


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-rate-limit-reset": "soon"},
        {"x-rate-limit-reset": str(int(time.time()) - 30), "x-rate-limit-remaining": "0"},
        # a window not spent, alongside a daily cap not spent either: nothing says when
        {
            "x-rate-limit-reset": str(int(time.time()) + 5),
            "x-rate-limit-remaining": "3",
            "x-user-limit-24hour-reset": str(int(time.time()) + 3600),
            "x-user-limit-24hour-remaining": "7",
        },
    ],
)
def test_a_429_with_no_usable_reset_waits_a_minute_and_is_a_rate_limit(headers):
    from bot.jobs.delivery import NOTHING_SENT, RATE_LIMITED, _rate_limited

    error = x.send_error(too_many(headers), direct=True)
    assert error.retry_after == x.MIN_RATE_WAIT == 60.0
    # bot.jobs.delivery: nothing was sent, no attempt is counted, the account's bucket is held
    assert _rate_limited(error) and error.code in RATE_LIMITED and error.code in NOTHING_SENT


def test_the_windows_reset_alone_counts_even_without_its_remaining():
    reset = int(time.time()) + 300
    error = x.send_error(too_many({"x-rate-limit-reset": str(reset)}), direct=True)
    assert 295 <= error.retry_after <= 305


@pytest.mark.parametrize("status", [500, 503])
def test_xs_server_errors_are_retried(settings, x_api, status):
    x_api.config["FAIL_NEXT"].append(status)
    with pytest.raises(SendError) as failed:
        x.CHANNEL.send(outgoing("hello"), settings)
    assert failed.value.retryable and failed.value.code == str(status)


def test_x_unreachable_is_retried(settings, x_api, monkeypatch):
    monkeypatch.setattr(settings, "x_api_base", "http://127.0.0.1:9")  # nothing listens
    with pytest.raises(SendError) as failed:
        x.CHANNEL.send(outgoing("hello"), settings)
    assert failed.value.retryable


def test_a_public_reply_whose_answer_was_lost_is_sent_once_not_failed(
    settings, x_api, monkeypatch, caplog
):
    monkeypatch.setattr("bot.channels.x_api.READ_TIMEOUT", 0.3)
    x_api.config.update(LOSE_NEXT=1, LOSE_FOR=1.0)
    with pytest.raises(SendError) as lost:  # posted, but X's answer never came
        x.CHANNEL.send(public(), settings)
    assert lost.value.retryable
    # The retry: the same words, which X refuses as a duplicate of the post already made.
    with caplog.at_level(logging.INFO, logger="bot.channels.x"):
        provider_id = x.CHANNEL.send(public(), settings)
    assert provider_id == "tweet:dup:8"
    posted = [call for call in x_api.config["CALLS"] if call["path"] == "/2/tweets"]
    assert [call["ok"] for call in posted] == [True, False]  # one post, the retry refused
    assert posted[0]["lost"] and len(sends(x_api)) == 1
    assert "posted by an earlier attempt" in caplog.text and INVITE not in caplog.text


def test_a_duplicate_dm_refusal_is_not_taken_for_a_send():
    # X has no duplicate rule for direct messages: a 403 there is a refusal.
    response = requests.Response()
    response.status_code = 403
    response._content = json.dumps(
        {"title": "Forbidden", "detail": "duplicate content", "type": "about:blank"}
    ).encode()
    error = x.send_error(tweepy.Forbidden(response), direct=True)
    assert error.code == "403" and not error.retryable


@pytest.mark.parametrize("message", [outgoing("hello"), public()], ids=["dm", "public"])
def test_a_2xx_answer_that_is_not_json_is_sent_not_retried(settings, x_api, caplog, message):
    x_api.config["GARBLE_NEXT"] = 1
    with caplog.at_level(logging.WARNING, logger="bot.channels.x"):
        provider_id = x.CHANNEL.send(message, settings)
    kind = "dm" if message.payload.public_reply_to is None else "tweet"
    assert provider_id == f"{kind}:unnamed:{message.message_id}"
    [call] = x_api.config["CALLS"]
    assert call["ok"] and call["garbled"]
    assert "not JSON" in caplog.text and message.text not in caplog.text


def test_not_an_x_address_or_no_credentials(settings, x_api, monkeypatch):
    with pytest.raises(SendError):
        x.CHANNEL.send(Outgoing(1, "x:@ana_lima_spfd", "hi"), settings)
    monkeypatch.setattr(settings, "x_access_token", "")
    with pytest.raises(SendError) as refused:
        x.CHANNEL.send(outgoing("hi"), settings)
    assert "X_ACCESS_TOKEN" in str(refused.value) and not refused.value.retryable
    assert x_api.config["CALLS"] == []


def test_tweepys_host_is_rewritten_to_the_base():
    session = x_api.RedirectingSession("http://127.0.0.1:8080/prefix")
    assert (
        session.rewrite_url("https://api.twitter.com/2/tweets?x=1")
        == "http://127.0.0.1:8080/prefix/2/tweets?x=1"
    )
    with pytest.raises(ValueError):
        x_api.RedirectingSession("api.twitter.com")


def test_no_token_words_or_signature_in_the_logs(settings, x_api, caplog):
    caplog.set_level(logging.DEBUG)
    x.CHANNEL.send(outgoing("pothole at 120 Main St"), settings)
    logged = caplog.text
    for secret in (*X_CONSUMER, *X_TOKEN, "120 Main St", "oauth_signature"):
        assert secret not in logged


def test_send_rates_pace_the_account(settings):
    [rate] = x.CHANNEL.send_rates(ADDRESS, settings)
    assert rate.key == "x:account"
    from bot.settings import Settings

    # X's 200 DMs per 15 minutes (0.22 a second), a little under
    assert Settings.model_fields["x_sends_per_second"].default == 0.2


# --- photos ------------------------------------------------------------------------------------


def test_a_posts_photo_is_fetched_from_pbs_without_credentials(settings):
    request = x.CHANNEL.media_request("https://pbs.twimg.com/media/GeA1bCdXkAAq9Zr.jpg", settings)
    assert request.hosts == frozenset({"pbs.twimg.com"})
    assert request.auth is None and request.headers == () and not request.credential_hosts


@pytest.mark.parametrize(
    "reference",
    [
        "https://evil.example/media/GeA1bCdXkAAq9Zr.jpg",
        "http://pbs.twimg.com/media/GeA1bCdXkAAq9Zr.jpg",
        "https://pbs.twimg.com/profile_images/1/ana_normal.jpg",
        "https://pbs.twimg.com/media/GeA1bCdXkAAq9Zr.jpg?name=orig",
        "https://ton.twitter.com/1.1/ton/data/dm/1/2/x.jpg/../../../../account/settings",
        "https://ton.twitter.com.evil.example/1.1/ton/data/dm/1/2/x.jpg",
        "telegram-file:abc",
    ],
)
def test_other_references_are_refused_unfetched(settings, reference):
    with pytest.raises(MediaRefused):
        x.CHANNEL.media_request(reference, settings)


def test_a_dms_photo_is_fetched_with_a_signed_get_to_xs_host_alone(settings, x_api, x_server):
    path = "/1.1/ton/data/dm/1867432259988776655/1867432250000000001/kQ3pX0aB.jpg"
    x_api.config["DM_PHOTOS"][path] = b"\xff\xd8\xff photo bytes"
    request = x.CHANNEL.media_request(x_server.url + path, settings)
    assert request.credential_hosts == request.hosts == frozenset({f"127.0.0.1:{x_server.port}"})
    assert "headers" not in repr(request) and "oauth_signature" not in repr(request)
    assert download(request, settings) == b"\xff\xd8\xff photo bytes"
    [call] = x_api.config["CALLS"]
    assert call["ok"] and call["auth"] == "oauth1"
    real = x.CHANNEL.media_request("https://ton.twitter.com" + path, settings)
    assert real.hosts == frozenset({"ton.twitter.com"})
    assert dict(real.headers)["Authorization"].startswith('OAuth oauth_nonce="')


def test_a_dms_photo_request_is_signed_once_per_use(settings, x_api, x_server):
    """A signature is good once (X refuses a nonce seen before): each try asks again."""
    path = "/1.1/ton/data/dm/1/2/a.jpg"
    x_api.config["DM_PHOTOS"][path] = b"bytes"
    request = x.CHANNEL.media_request(x_server.url + path, settings)
    assert download(request, settings) == b"bytes"
    with pytest.raises(MediaRefused):  # the same signed request again: 401
        download(request, settings)
    time.sleep(0.01)
    assert download(x.CHANNEL.media_request(x_server.url + path, settings), settings) == b"bytes"


# --- production, logs ---------------------------------------------------------------------


def test_production_refuses_x_without_the_secret_that_verifies_its_webhooks():
    from bot.production import problems
    from tests.test_production import settings as safe

    on = {"x_consumer_key": X_CONSUMER[0], "x_access_token": X_TOKEN[0]}
    [found] = problems(safe(**on))
    assert found.startswith("X is on (X_CONSUMER_KEY, X_ACCESS_TOKEN set) but X_CONSUMER_SECRET")
    assert problems(safe(**on, x_consumer_secret=X_CONSUMER[1])) == []


@pytest.mark.parametrize(
    "base", ["http://api.twitter.com", "HTTP://api.x.com", "api.twitter.com", "https://"]
)
def test_production_refuses_x_on_an_api_base_that_is_not_https(base):
    from bot.production import problems
    from tests.test_production import settings as safe

    on = {"x_consumer_key": X_CONSUMER[0], "x_consumer_secret": X_CONSUMER[1]}
    [found] = problems(safe(**on, x_api_base=base))
    assert found.startswith("X_API_BASE is not HTTPS while X is on")
    assert problems(safe(**on, x_api_base="https://api.x.com")) == []
    assert problems(safe(x_api_base=base)) == []  # X is off: its base is never called


def test_xs_secrets_are_masked_in_every_log_line():
    from bot.logs import secret_values
    from bot.settings import Settings

    values = secret_values(
        Settings(
            x_consumer_key=X_CONSUMER[0],
            x_consumer_secret=X_CONSUMER[1],
            x_access_token=X_TOKEN[0],
            x_access_token_secret=X_TOKEN[1],
        )
    )
    assert {X_CONSUMER[1], *X_TOKEN} <= set(values)
    assert X_CONSUMER[1] not in repr(Settings(x_consumer_secret=X_CONSUMER[1]))
