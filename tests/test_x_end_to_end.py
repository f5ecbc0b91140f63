"""A resident mentions the city on X, is invited in public to go on privately, reports by direct
message, and hears the request number (in private, and alone in public) and a status update.

Everything is real: the Flask test client posting Account Activity calls signed as X signs
them, Redis, SQLite, rq jobs in-process, the Open311 sandbox and its geocoder, and tweepy's
Client sending to the X stand-in (OAuth 1.0a signatures checked).
"""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot import jobs
from bot.db import session_scope
from bot.models import Message, Report
from conversations import notices
from tests.conftest import X_CONSUMER, run_jobs
from tests.fakes.x_api import dm_event, mention, sends, signed_post
from tests.test_end_to_end import POTHOLE, city_request, returning_resident, set_city_status
from webhooks import create_app

pytestmark = pytest.mark.sqlite_only

RESIDENT = "1204567890123456789"
ADDRESS = f"x:{RESIDENT}"
WORDS = "there is a big pothole outside 120 Main St, two feet wide"
DM_PATH = f"/2/dm_conversations/with/{RESIDENT}/messages"


class XAccount:
    """The resident's X account: mentions and DMs go in as signed webhooks; the bot's DMs and
    public replies come out of the stand-in."""

    def __init__(self, client, x_api):
        self.client = client
        self.x_api = x_api
        self.read = 0
        returning_resident(ADDRESS, "x")

    def post(self, body: dict) -> list[dict]:
        assert signed_post(self.client, body, X_CONSUMER[1]).status_code == 200
        run_jobs()
        return self.inbox()

    def mention(self, text: str) -> tuple[str, list[dict]]:
        body = mention(RESIDENT, text)
        return body["tweet_create_events"][0]["id_str"], self.post(body)

    def dm(self, text: str) -> list[dict]:
        return self.post(dm_event(RESIDENT, text))

    def inbox(self) -> list[dict]:
        """What the bot sent since the last look (DMs and posts, in order)."""
        mine = sends(self.x_api)
        new, self.read = mine[self.read :], len(mine)
        return new


def dms(sent: list[dict]) -> list[str]:
    return [item["text"] for item in sent if item["path"] == DM_PATH]


def posts(sent: list[dict]) -> list[dict]:
    return [item for item in sent if item["path"] == "/2/tweets"]


@pytest.fixture
def account(env, x_api):
    return XAccount(create_app({"TESTING": True}).test_client(), x_api)


def test_a_mention_becomes_a_private_report_with_its_number_in_public(account, x_api):
    post, sent = account.mention(WORDS)
    [invite] = posts(sent)
    # The public reply answers the post, in the bot's fixed words, with nothing of the resident.
    assert invite["reply"] == {"in_reply_to_tweet_id": post}
    words, ref = invite["text"].rsplit(" (ref. ", 1)
    assert words == notices.public_invite() and ref.rstrip(")").isdigit()
    for private in ("Main", "pothole", "120", "two feet"):
        assert private.lower() not in words.lower()
    # The conversation itself goes on by direct message.
    [question] = dms(sent)
    assert question.startswith("Found: 120 Main Street, Springfield. Where is the pothole?")
    assert "\n1 " in question  # options as numbered lines: X's DMs have no buttons

    [summary] = dms(account.dm("1"))
    assert summary.startswith("Ready to send:\n1 Pothole in Street")
    sent = account.dm("YES")
    with session_scope() as session:
        [report] = session.exec(select(Report)).all()
    number = report.service_request_id
    assert report.state == "submitted" and number
    filed = city_request(number)
    assert filed["service_code"] == POTHOLE and filed["address"] == "120 Main Street, Springfield"

    told = [text for text in dms(sent) if number in text]
    assert len(told) == 1 and "Pothole in Street" in told[0]
    [in_public] = posts(sent)
    assert in_public["reply"] == {"in_reply_to_tweet_id": post}
    assert in_public["text"].startswith(notices.public_filed(number) + " (ref. ")
    assert "Pothole" not in in_public["text"] and "Main" not in in_public["text"]

    set_city_status(number, "closed", "Filled the pothole.")
    assert jobs.track() == 1
    run_jobs()
    sent = account.inbox()
    assert posts(sent) == []  # a status update never goes in public
    [update] = dms(sent)
    assert update == f"Update on request {number} (Pothole in Street): closed. Filled the pothole."

    # Every call the bot made was signed as the account; no call to X was refused.
    calls = x_api.config["CALLS"]
    assert calls and all(call["ok"] and call["auth"] == "oauth1" for call in calls)
    assert len(posts(sends(x_api))) == 2  # the invitation and the number: nothing else public
    with session_scope() as session:
        ids = [m.external_id for m in session.exec(select(Message)).all()]
    assert f"in:tweet:{post}" in ids and all(":" in i for i in ids)
    assert len(ids) == len(set(ids))


def test_a_replayed_mention_is_answered_once(account, x_api):
    body = mention(RESIDENT, WORDS)
    account.post(body)
    account.post(body)  # X's retry, or the replay API: the same post id
    assert len(posts(sends(x_api))) == 1
    assert len(dms(sends(x_api))) == 1


def test_a_resident_who_takes_no_dms_gets_only_the_public_invitation(account, x_api):
    x_api.config["CLOSED_DMS"].add(RESIDENT)
    _post, sent = account.mention(WORDS)
    assert [item["path"] for item in sent] == ["/2/tweets"]
    with session_scope() as session:
        failed = session.exec(
            select(Message).where(Message.direction == "out", Message.status == "failed")
        ).all()
    assert [m.error_code for m in failed] == ["dm-closed"]


def test_a_dms_photo_is_fetched_with_a_signed_get_and_reaches_the_city(account, x_api, x_server):
    from tests.fakes.x_api import fixture
    from tests.test_media_end_to_end import opened_by_the_city, phone_jpeg, photos

    path = "/1.1/ton/data/dm/1869999999999999999/1869999999999999998/kQ3pX0aB.jpg"
    x_api.config["DM_PHOTOS"][path] = phone_jpeg()
    body = fixture("dm_photo")
    event = body["direct_message_events"][0]
    event["message_create"]["message_data"]["attachment"]["media"]["media_url_https"] = (
        x_server.url + path  # X's ton.twitter.com, here the stand-in (X_API_BASE)
    )
    event["message_create"]["message_data"]["text"] = f"{WORDS} https://t.co/Zx8Qm2LpVa"
    account.post(body)
    [photo] = photos()
    assert photo.state == "stored" and photo.reference == x_server.url + path
    fetches = [c for c in x_api.config["CALLS"] if c["path"] == path]
    assert fetches and all(c["ok"] and c["auth"] == "oauth1" for c in fetches)
    account.dm("1")
    account.dm("YES")
    with session_scope() as session:
        [report] = session.exec(select(Report)).all()
    filed = city_request(report.service_request_id)
    opened_by_the_city(account.client, filed["media_url"])


def test_a_public_invite_whose_answer_was_lost_is_posted_once_and_marked_sent(
    account, x_api, monkeypatch
):
    monkeypatch.setattr("bot.channels.x_api.READ_TIMEOUT", 0.3)
    x_api.config.update(LOSE_NEXT=1, LOSE_FOR=1.0)
    account.mention(WORDS)  # the invite is posted, but X's answer never comes
    run_jobs(include_delayed=True)  # the retry: X refuses the same words as a duplicate
    attempts = [call for call in x_api.config["CALLS"] if call["path"] == "/2/tweets"]
    assert [call["ok"] for call in attempts] == [True, False] and attempts[0]["lost"]
    with session_scope() as session:
        [invite] = session.exec(
            select(Message).where(Message.external_id.startswith("tweet:"))
        ).all()
        assert invite.status == "sent" and invite.external_id == f"tweet:dup:{invite.id}"
