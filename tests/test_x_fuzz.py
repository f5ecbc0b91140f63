"""Fuzzing X's webhook (issue #15's properties, for the X channel): its parser on recorded
Account Activity calls made hostile, any JSON and any bytes; then the same calls signed as X
signs them, through the real Flask app on SQLite and PostgreSQL, every queued turn run and its
replies sent through tweepy to the X stand-in.

Properties: the parser raises nothing but MalformedInbound and its events pass `bounded`; no
call is answered 500; no job fails and no turn crashes; every contact stored, every DM and every
public reply goes to (or answers a post of) a sender of an accepted call.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.channels import x
from bot.channels.base import Inbound, MalformedInbound, Membership
from bot.channels.fields import bounded
from tests.conftest import X_CONSUMER
from tests.fakes.x_api import fixture, sends, signed_post
from tests.fuzzing import figures, fuzz_settings, json_values, mutated, said
from tests.test_channel_parsers import call
from tests.test_fuzz_webhooks import ANSWERS, _run_turns_and_check, database  # noqa: F401
from webhooks import create_app

FIXTURES = [
    "dm_text",
    "dm_text",
    "mention",
    "mention",
    "dm_photo",
    "mention_extended_photo",
    "block",
    "retweet",
    "favorite",
]
RESIDENTS = ["1700000000000000001", "1700000000000000002", "42"]  # no other module's
_ids = itertools.count(1870000000000000001)


def _fresh(body: dict, draw) -> dict:
    """A recorded call made new (its own ids), from one of a few residents, saying something."""
    sender = draw(st.sampled_from(RESIDENTS))
    for event in body.get("direct_message_events", []):
        event["id"] = str(next(_ids))
        event["message_create"]["sender_id"] = sender
        event["message_create"]["message_data"]["text"] = draw(said())
    for post in body.get("tweet_create_events", []):
        post["id_str"] = str(next(_ids))
        post["user"]["id_str"] = sender
        post["text"] = "@Springfield311 " + draw(said())
    for event in body.get("block_events", []):
        event["source"]["id"] = sender
    return body


@pytest.fixture
def client(env, x_api, monkeypatch):
    """The app with X's settings, the abuse limits off (every message takes its turn)."""
    from bot.settings import get_settings

    for limit in ("INBOUND_LIMIT_PER_SENDER", "INBOUND_LIMIT_GLOBAL", "REPLY_LIMIT_PER_SENDER"):
        monkeypatch.setenv(limit, "")
    get_settings.cache_clear()
    return create_app({"TESTING": True}).test_client()


@st.composite
def x_bodies(draw) -> tuple[Any, bytes]:
    """An X webhook body: a recorded call with hostile parts, any JSON, or any bytes."""
    kind = draw(st.sampled_from(["mutated"] * 6 + ["json", "bytes"]))
    if kind == "mutated":
        body = mutated(_fresh(fixture(draw(st.sampled_from(FIXTURES))), draw), draw)
        return body, json.dumps(body).encode()
    if kind == "json":
        value = draw(json_values())
        return value, json.dumps(value).encode()
    return None, draw(st.binary(max_size=200))


def x_senders(raw: bytes) -> set[str]:
    """The addresses a call names as its residents (read by the parser itself)."""
    try:
        events = x.CHANNEL.parse(call(body=raw))
    except MalformedInbound:
        return set()
    return {e.address for e in events if isinstance(e, (Inbound, Membership))}


def test_fuzz_x_parser():
    with figures("parser: X") as kept:

        @fuzz_settings(600)
        @given(body=x_bodies())
        def one(body):
            _value, raw = body
            with kept.trying():
                try:
                    events = [bounded(event) for event in x.CHANNEL.parse(call(body=raw))]
                except MalformedInbound:
                    kept.outcome("malformed")
                    return
                kept.outcome("read")
                for event in events:
                    if isinstance(event, Inbound):
                        assert event.address.startswith("x:") and event.external_id.startswith(
                            ("in:dm:", "in:tweet:")
                        )
                        post = event.payload.public_post
                        assert post is None or event.external_id == f"in:tweet:{post}"

        one()


def test_fuzz_x_webhooks(client, x_api, database):  # noqa: F811  (database: a fixture)
    senders: set[str] = set()
    posts: set[str] = set()
    with figures(f"webhooks: X, signed ({database})") as kept:

        @fuzz_settings(80)
        @given(body=x_bodies())
        def one(body):
            _value, raw = body
            with kept.trying():
                response = signed_post(client, raw, X_CONSUMER[1])
                kept.outcome(response.status_code)
                assert response.status_code in ANSWERS, response.get_data(as_text=True)
                if response.status_code == 200:
                    senders.update(x_senders(raw))
                    for event in x.CHANNEL.parse(call(body=raw)):
                        if isinstance(event, Inbound) and event.payload.public_post:
                            posts.add(event.payload.public_post)

        one()
        _run_turns_and_check(senders, kept)
    for sent in sends(x_api):
        if sent["path"] == "/2/tweets":
            assert sent["reply"]["in_reply_to_tweet_id"] in posts
        else:
            assert "x:" + sent["path"].split("/")[4] in senders
