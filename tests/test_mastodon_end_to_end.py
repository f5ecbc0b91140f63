"""Mastodon end to end: a resident mentions the city in a public post, the cron's poll reads it
from the loopback instance (Mastodon.py's real client), the bot answers the post in public with
nothing of the resident's (unlisted), the report goes on in direct posts and is filed with the
sandbox city; the number goes to the resident (direct) and to the post (public, the number
alone), the city's update to the resident alone. Replayed notifications are stored once."""

from __future__ import annotations

from sqlmodel import select

from bot.channels import mastodon
from bot.db import session_scope
from bot.jobs import track
from bot.jobs.polling import cursor_key, poll_channels
from bot.models import Message, Report
from bot.queue import get_redis
from bot.settings import get_settings
from conversations import notices
from tests import mastodon_support
from tests.conftest import run_jobs
from tests.fakes.mastodon_api import add_notification, mention, posted
from tests.mastodon_support import configure_mastodon, cursor_at, note_id_of, recipients
from tests.test_end_to_end import returning_resident, set_city_status

WORDS = "there is a big pothole outside 120 Main St, two feet wide"

mastodon_server = mastodon_support.mastodon_server
mastodon_api = mastodon_support.mastodon_api


def poll() -> int:
    """One tick of the cron's poll job (the interval waived), then the jobs it queued."""
    get_redis().delete("intake311:poll:mastodon:due")
    found = poll_channels()
    run_jobs()
    return found


def write(app, content: str, visibility: str = "direct") -> dict:
    """The resident mentions the city (a direct post unless said otherwise)."""
    return add_notification(
        app, mention("zsc", f"<p>@springfield311 {content}</p>", visibility=visibility)
    )


def test_a_public_mention_becomes_a_report_carried_on_in_direct_posts(
    env, monkeypatch, mastodon_server, mastodon_api
):
    configure_mastodon(monkeypatch, mastodon_server)
    address = f"mastodon:zsc@{mastodon.instance_host(get_settings())}"
    returning_resident(address, "mastodon")

    post = write(mastodon_api, WORDS, visibility="public")["status"]["id"]
    assert poll() == 1
    invite, question = posted(mastodon_api)
    assert (invite["visibility"], invite["in_reply_to_id"]) == ("unlisted", post)
    assert invite["status"] == f"@zsc {notices.public_invite()}"
    assert "Main" not in invite["status"] and "pothole" not in invite["status"].lower()
    assert question["visibility"] == "direct" and question["in_reply_to_id"] is None
    assert question["status"].startswith("@zsc Found: 120 Main Street, Springfield.")

    write(mastodon_api, "1")
    poll()
    write(mastodon_api, "YES")
    poll()
    with session_scope() as session:
        [report] = session.exec(select(Report)).all()
    number = report.service_request_id
    assert report.state == "submitted" and number

    public = [p for p in posted(mastodon_api) if p["visibility"] != "direct"]
    assert [p["in_reply_to_id"] for p in public] == [post, post]
    assert public[1]["status"] == f"@zsc {notices.public_filed(number)}"
    assert "Pothole" not in public[1]["status"] and "Main" not in public[1]["status"]
    direct = [p["status"] for p in posted(mastodon_api) if p["visibility"] == "direct"]
    assert sum(number in status for status in direct) == 1

    set_city_status(number, "closed", "Filled the pothole.")
    track()
    run_jobs()
    last = posted(mastodon_api)[-1]
    assert last["visibility"] == "direct" and "Filled the pothole." in last["status"]
    assert len([p for p in posted(mastodon_api) if p["visibility"] != "direct"]) == 2

    # Every post went once, each with its own Idempotency-Key.
    keys = [p["idempotency_key"] for p in posted(mastodon_api)]
    assert all(keys) and len(set(keys)) == len(keys)


def test_replayed_notifications_are_stored_once(env, monkeypatch, mastodon_server, mastodon_api):
    configure_mastodon(monkeypatch, mastodon_server)
    address = f"mastodon:zsc@{mastodon.instance_host(get_settings())}"
    returning_resident(address, "mastodon")
    write(mastodon_api, "hello")
    assert poll() == 1
    sent = len(posted(mastodon_api))
    # the cursor set back (a poll that overlaps the last one): the mention is read again
    get_redis().set(cursor_key("mastodon"), cursor_at(get_settings(), "1"))
    assert poll() == 1
    with session_scope() as session:
        inbound = session.exec(select(Message).where(Message.direction == "in")).all()
    assert len(inbound) == 1
    assert len(posted(mastodon_api)) == sent  # nothing answered twice


def test_an_instance_that_is_down_keeps_the_cursor_until_it_is_back(
    env, monkeypatch, mastodon_server, mastodon_api
):
    configure_mastodon(monkeypatch, mastodon_server)
    returning_resident(f"mastodon:zsc@{mastodon.instance_host(get_settings())}", "mastodon")
    first = write(mastodon_api, "hello")
    poll()
    assert note_id_of(get_redis().get(cursor_key("mastodon"))) == first["id"]
    second = write(mastodon_api, "anyone there?")
    mastodon_api.config["FAIL_NEXT"] = [503]
    assert poll() == 0
    assert note_id_of(get_redis().get(cursor_key("mastodon"))) == first["id"]
    assert poll() == 1
    assert note_id_of(get_redis().get(cursor_key("mastodon"))) == second["id"]


def test_a_photo_on_the_post_reaches_the_city(
    sqlite_env, monkeypatch, mastodon_server, mastodon_api
):
    from bot.models import Photo, PhotoState
    from tests.test_end_to_end import city_request
    from tests.test_media_end_to_end import phone_jpeg

    configure_mastodon(monkeypatch, mastodon_server)
    returning_resident(f"mastodon:zsc@{mastodon.instance_host(get_settings())}", "mastodon")
    path = "/system/media_attachments/files/110/000/001/original/57859aede991da25.jpeg"
    mastodon_api.config["MEDIA"][path] = phone_jpeg(gps=None)
    image = {
        "id": "22345792",
        "type": "image",
        "url": mastodon_server.url + path,
        "preview_url": mastodon_server.url + path.replace("original", "small"),
        "remote_url": None,
        "description": None,
    }
    note = mention("zsc", f"<p>@springfield311 {WORDS}</p>", media=[image])
    add_notification(mastodon_api, note)
    poll()
    write(mastodon_api, "1")
    poll()
    write(mastodon_api, "YES")
    poll()
    with session_scope() as session:
        [report] = session.exec(select(Report)).all()
        [photo] = session.exec(select(Photo)).all()
    assert report.state == "submitted"
    assert (photo.channel, photo.state) == ("mastodon", PhotoState.STORED)
    assert photo.reference == mastodon_server.url + path
    assert city_request(report.service_request_id)["media_url"].endswith(f"/media/{photo.token}")


def test_a_mention_in_a_residents_words_never_joins_the_private_conversation(
    env, monkeypatch, mastodon_server, mastodon_api
):
    """Mastodon renders a remote @bob@other.example as "@bob" in the HTML and the summary (a
    direct post) quotes the description: "@bob" must not receive the resident's report."""
    configure_mastodon(monkeypatch, mastodon_server)
    returning_resident(f"mastodon:zsc@{mastodon.instance_host(get_settings())}", "mastodon")
    bob = (
        '<span class="h-card"><a href="https://other.example/@bob" class="u-url mention">'
        "@<span>bob</span></a></span>"
    )
    write(mastodon_api, f"there is a big pothole outside 120 Main St, cc {bob} who saw it too")
    poll()
    write(mastodon_api, "1")
    poll()
    direct = [p["status"] for p in posted(mastodon_api) if p["visibility"] == "direct"]
    assert direct, "nothing was posted"
    assert any("bob" in status for status in direct), direct  # the words are quoted
    leaking = [status for status in direct if recipients(status) - {"@zsc"}]
    assert leaking == [], leaking


def test_a_cursor_from_another_instance_does_not_silence_the_new_one(
    env, monkeypatch, mastodon_server, mastodon_api
):
    """After a move to another instance (or account) the old one's larger notification id is
    kept in Redis: read after it, the new instance would answer nothing, every poll."""
    configure_mastodon(monkeypatch, mastodon_server)
    get_redis().set(cursor_key("mastodon"), "999999999999999999999")  # the old instance's
    add_notification(mastodon_api, mention("zsc", "<p>@springfield311 pothole</p>"))
    assert sum(poll() for _ in range(3)) == 1


def test_a_lost_cursor_after_an_outage_loses_no_unread_mention(
    env, monkeypatch, mastodon_server, mastodon_api
):
    """Redis comes back empty after a two-hour outage: the mention written at its start (never
    read) is older than the first read's hour, yet the database knows how far the reads had
    gone (payload.raw.notification_id), so it is read and answered."""
    from datetime import UTC, datetime, timedelta

    configure_mastodon(monkeypatch, mastodon_server)
    returning_resident(f"mastodon:zsc@{mastodon.instance_host(get_settings())}", "mastodon")
    write(mastodon_api, "hello")
    assert poll() == 1
    early = datetime.now(UTC) - timedelta(hours=2)
    add_notification(
        mastodon_api,
        mention("bob", "<p>@springfield311 pothole at 5 Elm St</p>", created_at=early),
    )
    get_redis().flushdb()  # Redis back, empty
    assert poll() == 1
    with session_scope() as session:
        texts = [m.text for m in session.exec(select(Message).where(Message.direction == "in"))]
    assert "pothole at 5 Elm St" in texts, texts
    queries = [
        c["query"] for c in mastodon_api.config["CALLS"] if c["path"] == "/api/v1/notifications"
    ]
    assert "min_id" in queries[-1]  # read on from the stored mention, not the newest page


def test_a_lost_cursor_of_a_new_account_reads_only_the_last_hour(
    env, monkeypatch, mastodon_server, mastodon_api
):
    """Nothing stored for this account (another account's mentions are not its own): only the
    newest page, and of it the last hour's mentions."""
    from datetime import UTC, datetime, timedelta

    configure_mastodon(monkeypatch, mastodon_server)
    returning_resident(f"mastodon:zsc@{mastodon.instance_host(get_settings())}", "mastodon")
    write(mastodon_api, "hello")
    assert poll() == 1
    with session_scope() as session:  # as if stored for another account
        for message in session.exec(select(Message).where(Message.channel == "mastodon")):
            message.payload = {**message.payload, "raw": {"notification_id": "1", "to": "x"}}
            session.add(message)
    add_notification(
        mastodon_api,
        mention(
            "bob",
            "<p>@springfield311 last week</p>",
            created_at=datetime.now(UTC) - timedelta(days=7),
        ),
    )
    get_redis().flushdb()
    poll()
    with session_scope() as session:
        texts = [m.text for m in session.exec(select(Message).where(Message.direction == "in"))]
    assert "last week" not in texts
