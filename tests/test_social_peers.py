"""The social channels' client libraries against their providers' own API descriptions (Prism).

Opt-in: serve the specs with scripts/mastodon_peer.py, scripts/x_peer.py and
scripts/graph_peer.py (docs/social-peers.md says how) and name each peer's base URL:
INTAKE311_MASTODON_PEER, INTAKE311_X_PEER, INTAKE311_GRAPH_PEER (the spec as published, Prism
with `--errors`) and INTAKE311_MASTODON_PEER_FIXED, INTAKE311_X_PEER_FIXED,
INTAKE311_GRAPH_PEER_FIXED (`up --fixed`). A test whose peer is not named is skipped, as in CI.
The requests are made by the real libraries the channels use (Mastodon.py, tweepy, httpx), as
the channels make them; Prism checks each against the spec and refuses an invalid one (422;
400 with Graph's error for the Send API; 401 without credentials of a scheme the spec names).
What they found is in docs/social-peers.md.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import pytest
import requests
import tweepy
from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonInternalServerError,
    MastodonUnauthorizedError,
)

from bot.channels.base import Outgoing
from bot.payloads import OutboundPayload, ReplyIntent

TOKEN = "peer-test-token"  # Prism checks that credentials are sent, never their value
RESIDENT_PSID = "6000000000000002"
X_RESIDENT = "1460323737035677698"
X_POST = "1460323737035677699"
MASTODON_STATUS = "109372843234678000"
X_ID = re.compile(r"^[0-9]{1,19}$")
ANSWERED_MID = "m_peer-example-message-id"  # scripts/graph_peer.py's example answer


def peer(name: str) -> str:
    """The base URL of the peer named by INTAKE311_<name>, or skip."""
    address = os.environ.get(f"INTAKE311_{name}", "")
    if not address:
        pytest.skip(f"the peer is not named (INTAKE311_{name})")
    return address.rstrip("/") if "://" in address else f"http://{address.rstrip('/')}"


class Recording(requests.Session):
    """A requests session that keeps its last response (and so its request), and may send
    every request to `base` instead of the host the library wrote (tweepy's is fixed)."""

    def __init__(self, base: str | None = None) -> None:
        super().__init__()
        self.base = base
        self.last: requests.Response | None = None

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        """Send to the peer; remember the answer."""
        if self.base:
            parts, peer_parts = urlsplit(url), urlsplit(self.base)
            url = urlunsplit(
                (peer_parts.scheme, peer_parts.netloc, parts.path, parts.query, parts.fragment)
            )
        self.last = super().request(method, url, *args, **kwargs)
        return self.last

    def violations(self) -> list[str]:
        """Prism's violations of the last exchange (its `sl-violations` header)."""
        assert self.last is not None
        found = json.loads(self.last.headers.get("sl-violations", "[]"))
        return [f"{'.'.join(map(str, v['location']))}: {v['message']}" for v in found]

    def refusals(self) -> list[str]:
        """Prism's violations of the last request (not of its own answer)."""
        return [v for v in self.violations() if v.startswith("request")]

    def form(self) -> dict[str, list[str]]:
        """The last request's form body."""
        assert self.last is not None
        body = self.last.request.body or ""
        return parse_qs(body if isinstance(body, str) else body.decode())

    def query(self) -> dict[str, list[str]]:
        """The last request's query."""
        assert self.last is not None
        return parse_qs(urlsplit(self.last.request.url or "").query)


# ---------------------------------------------------------------- Mastodon (Mastodon.py 2.3.3)


def mastodon(base: str, token: str | None = TOKEN) -> tuple[Mastodon, Recording]:
    """A Mastodon client as the channel builds it, on a recording session."""
    session = Recording()
    client = Mastodon(
        api_base_url=base, access_token=token, version_check_mode="none", session=session
    )
    return client, session


@pytest.fixture
def masto_published() -> tuple[Mastodon, Recording]:
    return mastodon(peer("MASTODON_PEER"))


@pytest.fixture
def masto_fixed() -> tuple[Mastodon, Recording]:
    return mastodon(peer("MASTODON_PEER_FIXED"))


def test_mastodon_mentions_are_fetched_as_the_spec_says(masto_fixed):
    client, session = masto_fixed
    mentions = client.notifications(types=["mention"], since_id="1")
    assert session.last is not None and session.last.status_code == 200
    assert mentions and all(n.id and n.type for n in mentions)
    assert mentions[0].type == "mention" and mentions[0].status.id
    query = session.query()
    assert query["since_id"] == ["1"] and query["types[]"] == ["mention"]
    assert session.last.request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_mastodon_a_direct_reply_is_valid(masto_fixed):
    client, session = masto_fixed
    status = client.status_post(
        "@resident Your report 1234 was received.",
        visibility="direct",
        in_reply_to_id=MASTODON_STATUS,
        idempotency_key="intake311-out-1",
    )
    assert session.last is not None and session.last.status_code == 200
    assert status.id and not session.refusals()
    form = session.form()
    assert form["visibility"] == ["direct"] and form["in_reply_to_id"] == [MASTODON_STATUS]
    assert session.last.request.headers["Idempotency-Key"] == "intake311-out-1"


def test_mastodon_the_bots_own_account_is_read(masto_fixed):
    client, session = masto_fixed
    account = client.account_verify_credentials()
    assert session.last is not None and session.last.status_code == 200
    assert account.id and account.acct


def test_mastodon_a_status_without_text_is_refused(masto_fixed):
    client, session = masto_fixed
    with pytest.raises(MastodonAPIError) as caught:
        client.status_post(None, visibility="direct", idempotency_key="intake311-out-2")
    assert caught.value.args[1] == 422
    assert any("required property 'status'" in v for v in session.violations())


def test_mastodon_a_limit_not_a_number_is_refused(masto_fixed):
    client, session = masto_fixed
    with pytest.raises(MastodonAPIError) as caught:
        client.notifications(types=["mention"], limit="many")
    assert caught.value.args[1] == 422
    assert any("limit must be integer" in v for v in session.violations())


def test_mastodon_without_a_token_is_refused():
    client, _ = mastodon(peer("MASTODON_PEER_FIXED"), token=None)
    with pytest.raises(MastodonUnauthorizedError):
        client.notifications(types=["mention"])


def test_mastodon_rails_style_arrays_go_unchecked(masto_fixed):
    """Mastodon.py writes `types[]=` (as Mastodon's Rails reads it); the spec names `types`,
    so Prism checks nothing of it: an unknown type passes."""
    client, session = masto_fixed
    client.notifications(types=["no-such-type"])
    assert session.last is not None and session.last.status_code == 200
    assert session.query()["types[]"] == ["no-such-type"]


def test_mastodon_published_refuses_mastodon_py_forms(masto_published):
    """As published the spec takes statuses as JSON only; Mastodon.py sends a form."""
    client, session = masto_published
    with pytest.raises(MastodonAPIError) as caught:
        client.status_post("hi", visibility="direct", idempotency_key="intake311-out-3")
    assert caught.value.args[1] == 422
    assert any("Supported content types: application/json" in v for v in session.violations())


def test_mastodon_published_examples_fail_their_own_schemas(masto_published):
    """With --errors, the spec's notification and account examples are refused as answers."""
    client, session = masto_published
    with pytest.raises(MastodonInternalServerError):
        client.notifications(types=["mention"], since_id="1")
    with pytest.raises(MastodonInternalServerError):
        client.account_verify_credentials()
    assert session.last is not None and "required property 'id'" in session.last.text


# ---------------------------------------------------------------- X (tweepy 4.17)


def x_client(base: str) -> tuple[tweepy.Client, Recording]:
    """A tweepy client as the channel builds it (OAuth 1.0a user context), sent to the peer."""
    client = tweepy.Client(
        consumer_key="peer-consumer-key",
        consumer_secret="peer-consumer-secret",
        access_token="peer-access-token",
        access_token_secret="peer-access-secret",
    )
    session = Recording(base)
    client.session = session
    return client, session


@pytest.fixture
def x_published() -> tuple[tweepy.Client, Recording]:
    return x_client(peer("X_PEER"))


@pytest.fixture
def x_fixed() -> tuple[tweepy.Client, Recording]:
    return x_client(peer("X_PEER_FIXED"))


def test_x_a_direct_message_is_valid(x_fixed):
    client, session = x_fixed
    answer = client.create_direct_message(participant_id=X_RESIDENT, text="Report 1234 received.")
    assert session.last is not None and session.last.status_code == 201
    assert answer.data["dm_event_id"] and answer.data["dm_conversation_id"]
    sent = session.last.request
    assert urlsplit(sent.url).path == f"/2/dm_conversations/with/{X_RESIDENT}/messages"
    assert json.loads(sent.body) == {"text": "Report 1234 received."}
    assert str(sent.headers["Authorization"]).startswith(("OAuth ", "b'OAuth "))


def test_x_a_public_reply_is_valid(x_fixed):
    client, session = x_fixed
    answer = client.create_tweet(text="Thanks, we are on it.", in_reply_to_tweet_id=X_POST)
    assert session.last is not None and session.last.status_code == 201
    assert X_ID.match(answer.data["id"]) and "text" in answer.data
    body = json.loads(session.last.request.body)
    assert body == {"text": "Thanks, we are on it.", "reply": {"in_reply_to_tweet_id": X_POST}}


def test_x_a_participant_not_a_number_is_refused(x_fixed):
    client, session = x_fixed
    with pytest.raises(tweepy.HTTPException) as caught:
        client.create_direct_message(participant_id="@resident", text="hi")
    assert caught.value.response.status_code == 422
    assert any("participant_id" in v for v in session.refusals())


def test_x_a_reply_to_a_post_id_not_a_number_is_refused(x_fixed):
    client, session = x_fixed
    with pytest.raises(tweepy.HTTPException) as caught:
        client.create_tweet(text="hi", in_reply_to_tweet_id="post-1")
    assert caught.value.response.status_code == 422
    assert any("in_reply_to_tweet_id" in v for v in session.refusals())


def test_x_an_empty_direct_message_is_refused(x_fixed):
    client, session = x_fixed
    with pytest.raises(tweepy.HTTPException) as caught:
        client.create_direct_message(participant_id=X_RESIDENT, text="")
    assert caught.value.response.status_code == 422
    assert session.refusals()


def x_app(base: str) -> tuple[tweepy.Client, Recording]:
    """A tweepy client with an app-only bearer token and the account's OAuth 1.0a keys, as
    `intake311 x` builds it (the token itself comes from POST /oauth2/token, which the
    spec does not describe)."""
    client, session = x_client(base)
    client.bearer_token = "peer-app-only-bearer"
    return client, session


WEBHOOK_URL = "https://intake.example.org/webhooks/x"
SUBSCRIPTION = f"/2/account_activity/webhooks/{X_RESIDENT}/subscriptions/all"


def test_x_the_webhook_is_registered_as_the_spec_says(x_fixed):
    client, session = x_app(peer("X_PEER_FIXED"))
    listed = client.request("GET", "/2/webhooks", user_auth=False)
    assert listed.status_code == 200
    assert session.last is not None
    assert session.last.request.headers["Authorization"] == "Bearer peer-app-only-bearer"
    created = client.request("POST", "/2/webhooks", json={"url": WEBHOOK_URL}, user_auth=False)
    assert created.status_code == 200 and "data" in created.json()
    checked = client.request("PUT", f"/2/webhooks/{X_RESIDENT}", user_auth=False)
    assert checked.status_code == 200 and not session.refusals()


def test_x_the_account_subscribes_with_an_empty_body(x_fixed):
    client, session = x_app(peer("X_PEER_FIXED"))
    answer = client.request("POST", SUBSCRIPTION, json={}, user_auth=True)
    assert answer.status_code == 200 and "subscribed" in answer.json()["data"]
    with pytest.raises(tweepy.HTTPException) as caught:
        client.request("POST", SUBSCRIPTION, user_auth=True)  # no body at all
    assert caught.value.response.status_code == 422
    assert "request: Body parameter is required" in session.refusals()


def test_x_a_webhook_url_over_200_characters_is_refused(x_fixed):
    client, session = x_app(peer("X_PEER_FIXED"))
    url = "https://intake.example.org/" + "x" * 180
    with pytest.raises(tweepy.HTTPException) as caught:
        client.request("POST", "/2/webhooks", json={"url": url}, user_auth=False)
    assert caught.value.response.status_code == 422
    assert any("more than 200 characters" in v for v in session.refusals())


def test_x_published_refuses_oauth1(x_published):
    """As published the spec's OAuth 1.0a scheme is an HTTP scheme `OAuth`, unknown to Prism."""
    client, session = x_published
    with pytest.raises(tweepy.Unauthorized):
        client.create_direct_message(participant_id=X_RESIDENT, text="hi")
    assert session.refusals() == ["request: Invalid security scheme used"]


# ---------------------------------------------------------------- Messenger (httpx, Send API)

VERSION = "v23.0"


def send(base: str, body: dict, token: str | None = TOKEN) -> httpx.Response:
    """POST a Send API request as the Messenger channel does."""
    params = {"access_token": token} if token else {}
    return httpx.post(f"{base}/{VERSION}/me/messages", params=params, json=body, timeout=30)


def reply(text: str, quick_replies: list[dict] | None = None) -> dict:
    """A RESPONSE to a resident who wrote within 24 hours."""
    message: dict = {"text": text}
    if quick_replies is not None:
        message["quick_replies"] = quick_replies
    return {"recipient": {"id": RESIDENT_PSID}, "messaging_type": "RESPONSE", "message": message}


def choices(n: int, title: str = "Pothole") -> list[dict]:
    return [{"content_type": "text", "title": title, "payload": f"CHOICE_{i}"} for i in range(n)]


NOTICE = {
    "recipient": {"id": RESIDENT_PSID},
    "messaging_type": "MESSAGE_TAG",
    "tag": "ACCOUNT_UPDATE",
    "message": {"text": "Update on report 1234: closed."},
}


@pytest.fixture(params=["GRAPH_PEER", "GRAPH_PEER_FIXED"])
def graph(request) -> str:
    return peer(request.param)


@pytest.fixture
def graph_published() -> str:
    return peer("GRAPH_PEER")


@pytest.fixture
def graph_fixed() -> str:
    return peer("GRAPH_PEER_FIXED")


def test_graph_a_reply_with_quick_replies_is_valid(graph):
    answer = send(graph, reply("What is the problem?", choices(3)))
    assert answer.status_code == 200, answer.text
    assert set(answer.json()) == {"recipient_id", "message_id"}


def test_graph_a_tagged_notice_is_valid(graph):
    answer = send(graph, NOTICE)
    assert answer.status_code == 200 and answer.json()["message_id"]


def test_graph_an_unknown_messaging_type_is_refused(graph):
    answer = send(graph, {**NOTICE, "messaging_type": "PROMOTION"})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == 100


def test_graph_a_send_without_recipient_is_refused(graph):
    answer = send(graph, {"messaging_type": "RESPONSE", "message": {"text": "hi"}})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == 100


def test_graph_a_send_without_token_is_refused(graph):
    assert send(graph, NOTICE, token=None).status_code == 401


def test_graph_published_checks_nothing_inside_message(graph_published):
    """Meta's spec types `message` and `tag` as `Object`: their rules are not in it."""
    assert send(graph_published, reply("hi", choices(14))).status_code == 200
    assert send(graph_published, {**NOTICE, "tag": "NO_SUCH_TAG"}).status_code == 200


def test_graph_the_page_is_read_with_fields_meta_lists(graph):
    params = {"fields": "id,name", "access_token": TOKEN}
    answer = httpx.get(f"{graph}/{VERSION}/me", params=params, timeout=30)
    assert answer.status_code == 200 and answer.json()["id"].isdigit()
    params["fields"] = "id,no_such_field"
    refused = httpx.get(f"{graph}/{VERSION}/me", params=params, timeout=30)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == 100


def test_graph_a_page_subscribes_only_to_fields_meta_lists(graph):
    route = f"{graph}/{VERSION}/6000000000000100/subscribed_apps"
    fields = "messages,messaging_postbacks,message_deliveries"
    answer = httpx.post(route, params={"subscribed_fields": fields, "access_token": TOKEN})
    assert answer.status_code == 200 and answer.json() == {"success": True}
    refused = httpx.post(
        route, params={"subscribed_fields": "messages,no_such_field", "access_token": TOKEN}
    )
    assert refused.status_code == 400
    assert httpx.post(route, params={"access_token": TOKEN}).status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        reply("hi", choices(14)),  # at most 13 quick replies
        reply("hi", choices(1, title="A title of 21 letters")),  # titles of at most 20
        reply("x" * 2001),  # texts of at most 2000
        {**NOTICE, "tag": "NO_SUCH_TAG"},
        {**NOTICE, "recipient": {"id": "resident"}},
    ],
    ids=["14-quick-replies", "long-title", "long-text", "unknown-tag", "recipient-not-a-psid"],
)
def test_graph_fixed_refuses_what_the_send_api_reference_forbids(graph_fixed, body):
    answer = send(graph_fixed, body)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == 100


# ---------------------------------------------------------------- the channels' own sends
# Each channel's `send`, as the delivery job calls it, with its settings pointed at the fixed
# peer (skipped until the channel is on this branch).

MINUTE_AGO = timedelta(minutes=1)


def channel(name: str):
    """The channel module bot.channels.<name>, or skip."""
    return pytest.importorskip(f"bot.channels.{name}").CHANNEL


def settings_for(monkeypatch, **values: str):
    """The process settings with `values` set (names as environment variables)."""
    from bot.settings import get_settings

    for key, value in values.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def masto_settings(sqlite_env, monkeypatch):
    base = peer("MASTODON_PEER_FIXED")
    return settings_for(
        monkeypatch, MASTODON_BASE_URL=base, MASTODON_ACCESS_TOKEN=TOKEN, MASTODON_MEDIA_HOSTS=""
    )


@pytest.fixture
def x_settings(sqlite_env, monkeypatch):
    return settings_for(
        monkeypatch,
        X_API_BASE=peer("X_PEER_FIXED"),
        X_CONSUMER_KEY="peer-consumer-key",
        X_CONSUMER_SECRET="peer-consumer-secret",
        X_ACCESS_TOKEN="peer-access-token",
        X_ACCESS_TOKEN_SECRET="peer-access-secret",
    )


@pytest.fixture
def graph_settings(sqlite_env, monkeypatch):
    return settings_for(
        monkeypatch,
        META_GRAPH_BASE=peer("GRAPH_PEER_FIXED"),
        META_PAGE_TOKEN=TOKEN,
        META_MESSAGE_TAG="ACCOUNT_UPDATE",
    )


def test_channel_mastodon_sends_a_direct_post_the_spec_accepts(masto_settings):
    mastodon_channel = channel("mastodon")
    out = Outgoing(1, "mastodon:resident@social.example", "Report 1234 received.")
    sent = mastodon_channel.send(out, masto_settings)
    assert sent.endswith(":103254962155278888")  # the spec's example status


def test_channel_mastodon_sends_a_public_reply_the_spec_accepts(masto_settings):
    mastodon_channel = channel("mastodon")
    payload = OutboundPayload(public_reply_to=MASTODON_STATUS)
    out = Outgoing(1, "mastodon:resident@social.example", "Thanks, we wrote to you.", payload)
    assert mastodon_channel.send(out, masto_settings).endswith(":103254962155278888")


def test_channel_mastodon_polls_mentions_the_spec_describes(masto_settings):
    mastodon_channel = channel("mastodon")
    polled = mastodon_channel.poll(masto_settings, "1")
    # The spec's example list: a mention (34975861) and a favourite, newest first; the cursor
    # names the account and instance it counts ("<account id>@<host>:<notification id>").
    assert polled.cursor.rpartition(":")[2] == "34975861" and len(polled.events) == 2


def test_channel_x_sends_a_direct_message_the_spec_accepts(x_settings):
    x_channel = channel("x")
    sent = x_channel.send(Outgoing(1, f"x:{X_RESIDENT}", "Report 1234 received."), x_settings)
    assert sent.startswith("dm:")


def test_channel_x_sends_a_public_reply_the_spec_accepts(x_settings):
    x_channel = channel("x")
    payload = OutboundPayload(public_reply_to=X_POST)
    out = Outgoing(1, f"x:{X_RESIDENT}", "Thanks, please write to us by DM.", payload)
    sent = x_channel.send(out, x_settings)
    assert sent.startswith("tweet:") and X_ID.match(sent.removeprefix("tweet:"))


def test_channel_messenger_sends_a_question_with_quick_replies_the_spec_accepts(graph_settings):
    messenger = channel("messenger")
    options = ("Pothole", "Streetlight out", "Graffiti")
    reply = ReplyIntent("What is the problem?", options, expects="choice", language="en")
    out = Outgoing(
        1,
        f"messenger:{RESIDENT_PSID}",
        "What is the problem?",
        OutboundPayload(reply=reply),
        last_inbound_at=datetime.now(UTC) - MINUTE_AGO,
    )
    assert messenger.send(out, graph_settings) == ANSWERED_MID


def test_channel_messenger_sends_a_tagged_notice_the_spec_accepts(graph_settings):
    messenger = channel("messenger")
    payload = OutboundPayload(notice="status", status_notice=True)
    out = Outgoing(
        1,
        f"messenger:{RESIDENT_PSID}",
        "Update on report 1234: closed.",
        payload,
        last_inbound_at=datetime.now(UTC) - timedelta(days=3),
    )
    assert messenger.send(out, graph_settings) == ANSWERED_MID


def test_channel_messenger_cuts_long_labels_to_what_the_reference_allows(graph_settings):
    messenger = channel("messenger")
    options = tuple(f"A long category name number {n} of the city" for n in range(1, 14))
    reply = ReplyIntent("Which one?", options, expects="choice", language="en")
    out = Outgoing(
        1,
        f"messenger:{RESIDENT_PSID}",
        "Which one?",
        OutboundPayload(reply=reply),
        last_inbound_at=datetime.now(UTC) - MINUTE_AGO,
    )
    assert messenger.send(out, graph_settings) == ANSWERED_MID


def test_channel_messenger_sends_a_status_photo_the_spec_accepts(graph_settings):
    messenger = channel("messenger")
    payload = OutboundPayload(
        media_url="https://intake.example.org/media/3q2-7Zb_photo",
        status_notice=True,
        notice="status",
    )
    out = Outgoing(
        1,
        f"messenger:{RESIDENT_PSID}",
        "Update on report 1234: closed.",
        payload,
        last_inbound_at=datetime.now(UTC) - MINUTE_AGO,
    )
    assert messenger.send(out, graph_settings) == ANSWERED_MID


def test_channel_messenger_subscribes_the_page_as_meta_lists(graph_settings, monkeypatch):
    pytest.importorskip("bot.channels.messenger")
    from bot.channels import messenger

    settings = settings_for(monkeypatch, META_APP_SECRET="peer-app-secret")
    found = messenger.subscribe(settings)
    assert found["id"] == "6000000000000100"
