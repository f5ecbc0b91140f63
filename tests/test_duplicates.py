"""Duplicates, the worker's side (bot.duplicates, bot.jobs.open_requests, bot.jobs.following):
the nearby look-up, our filings and the city's listing stored as open requests (at once too),
follows and their notices, retention and forgetting; on SQLite and PostgreSQL, against the
sandbox city."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from click.testing import CliRunner
from pydantic import ValidationError
from sqlalchemy import update
from sqlmodel import select

from bot import duplicates, jobs
from bot.cli import main
from bot.db import dispose_engines, session_scope
from bot.forget import erase_contact
from bot.intake import conversation_for
from bot.jobs import following, turn_actions
from bot.jobs.turn_actions import Followup, record_follows
from bot.jobs.turn_state import engine_context
from bot.models import (
    Contact,
    Conversation,
    Direction,
    Follow,
    Message,
    OpenRequest,
    Report,
    ReportState,
)
from bot.retention import purge
from bot.settings import Settings, get_settings
from bot.timeutil import utcnow
from conversations import FindNearby, FollowRequest, Geocode, Nearby
from sandbox.app import create_sandbox_app
from sandbox.server import serve
from tests.sandbox_city import Counted, own_city


@pytest.fixture(autouse=True)
def duplicates_on(monkeypatch):
    """The check for duplicates on (tests/conftest.py turns it off for the other tests); first,
    so the settings `env` gives have it."""
    monkeypatch.setenv("DUPLICATE_SERVICES_OFF", "")
    get_settings.cache_clear()


HERE = (39.7817, -89.6501)  # a point in the sandbox's Springfield
# About 11 metres north per 0.0001 degree of latitude.
NORTH_M = 1 / 111_320


def north(metres: float) -> tuple[float, float]:
    return HERE[0] + metres * NORTH_M, HERE[1]


def open_request(
    number: str,
    metres: float = 0.0,
    code: str = "POTHOLE",
    age: timedelta = timedelta(days=1),
    status: str = "open",
    ours: bool = False,
) -> None:
    lat, lon = north(metres)
    with session_scope() as session:
        session.add(
            OpenRequest(
                service_request_id=number,
                service_code=code,
                service_name="Pothole in Street",
                address=f"{number} Elm Street",
                lat=lat,
                lon=lon,
                status=status,
                requested_at=utcnow() - age,
                ours=ours,
            )
        )


def nearby(code: str = "POTHOLE", settings: Settings | None = None) -> list[str]:
    with session_scope() as session:
        found = duplicates.find_nearby(session, code, *HERE, settings or get_settings(), utcnow())
    return [request.number for request in found]


def set_env(monkeypatch, **values: str) -> Settings:
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    return get_settings()


# --- the look-up ---------------------------------------------------------------------------------


def test_nearest_first_at_most_three_within_the_radius(env):
    for number, metres in (("far", 80), ("d30", 30), ("d5", 5), ("d20", 20), ("d45", 45)):
        open_request(number, metres)
    open_request("closed", 2, status="closed")
    open_request("other-service", 1, code="GRAFFITI")
    assert nearby() == ["d5", "d20", "d30"]
    with session_scope() as session:
        first = duplicates.find_nearby(session, "POTHOLE", *HERE, env, utcnow())[0]
    assert first.address == "d5 Elm Street" and first.service_name == "Pothole in Street"
    assert first.opened is not None and first.status == "open"


def test_each_service_has_its_own_radius(env, monkeypatch):
    open_request("p25", 25)
    open_request("g25", 25, code="GRAFFITI")
    open_request("g15", 15, code="GRAFFITI")
    settings = set_env(monkeypatch, DUPLICATE_RADIUS_BY_SERVICE="POTHOLE=30, GRAFFITI=20")
    assert nearby("POTHOLE", settings) == ["p25"]
    assert nearby("GRAFFITI", settings) == ["g15"]
    settings = set_env(monkeypatch, DUPLICATE_RADIUS_BY_SERVICE="", DUPLICATE_RADIUS_METRES="10")
    assert nearby("POTHOLE", settings) == [] and nearby("GRAFFITI", settings) == []


def test_only_requests_of_the_window_are_offered(env, monkeypatch):
    open_request("recent", 5, age=timedelta(days=3))
    open_request("old", 1, age=timedelta(days=40))
    assert nearby() == ["recent"]
    settings = set_env(monkeypatch, DUPLICATE_WINDOW_DAYS="2")
    assert nearby(settings=settings) == []


@pytest.mark.parametrize("off", ["POTHOLE", "*", "GRAFFITI,POTHOLE"])
def test_a_service_whose_check_is_off_is_answered_with_none(env, monkeypatch, off):
    open_request("p1", 5)
    settings = set_env(monkeypatch, DUPLICATE_SERVICES_OFF=off)
    answer = turn_actions.find_nearby(FindNearby("POTHOLE", *HERE), settings)
    assert answer == Nearby("POTHOLE", *HERE, requests=())
    assert engine_context((), settings).nearby_off == frozenset(off.split(","))


def test_the_followups_nearby_look_up_is_answered_outside_the_turn(env):
    open_request("p1", 5)
    followup = Followup(7, (Geocode("5 Elm"), FindNearby("POTHOLE", *HERE)), steps=2)
    stored = Followup.from_dict(followup.to_dict())
    assert stored == followup
    answer = turn_actions.find_nearby(stored.actions[1], env)
    assert [r.number for r in answer.requests] == ["p1"]
    assert (answer.service_code, answer.lat, answer.lon) == ("POTHOLE", *HERE)


def test_a_followup_with_an_unreadable_point_is_refused():
    stored = Followup(7, (FindNearby("POTHOLE", *HERE),)).to_dict()
    stored["actions"][0]["lat"] = "north"
    with pytest.raises(ValueError):
        Followup.from_dict(stored)


def test_a_database_that_fails_gives_no_nearby_requests(sqlite_env, monkeypatch):
    settings = set_env(monkeypatch, DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none")
    dispose_engines()
    answer = turn_actions.find_nearby(FindNearby("POTHOLE", *HERE), settings)
    assert answer == Nearby("POTHOLE", *HERE, requests=())


def test_a_bad_radius_entry_is_refused_at_start(monkeypatch):
    for bad in ("POTHOLE", "POTHOLE=wide", "=30", "POTHOLE=0", "POTHOLE=nan", "POTHOLE=9000"):
        monkeypatch.setenv("DUPLICATE_RADIUS_BY_SERVICE", bad)
        with pytest.raises(ValidationError, match="DUPLICATE_RADIUS_BY_SERVICE"):
            Settings()
    monkeypatch.setenv("DUPLICATE_RADIUS_BY_SERVICE", "POTHOLE=30,graffiti=20.5")
    settings = Settings()
    assert settings.duplicate_radius("graffiti") == 20.5
    assert settings.duplicate_radius("STREETLIGHT") == 50


# --- our filings and the listing, at once ------------------------------------------------------


def resident(number: str) -> tuple[int, int]:
    """A contact and its conversation; their ids."""
    with session_scope() as session:
        conversation = conversation_for(session, "sms", f"tel:{number}")
        return conversation.contact_id, conversation.id


def filed_report(ids: tuple[int, int], number: str, **fields) -> int:
    contact_id, conversation_id = ids
    values = dict(
        service_code="POTHOLE",
        service_name="Pothole in Street",
        address="12 Elm Street",
        lat=HERE[0],
        lon=HERE[1],
        state=ReportState.SUBMITTED,
        service_request_id=number,
        city_status="open",
        submitted_at=utcnow() - timedelta(days=2),
        last_checked_at=utcnow() - timedelta(days=2),
    )
    values.update(fields)
    with session_scope() as session:
        report = Report(conversation_id=conversation_id, contact_id=contact_id, **values)
        session.add(report)
        session.flush()
        return report.id


def open_rows() -> dict[str, OpenRequest]:
    with session_scope() as session:
        return {row.service_request_id: row for row in session.exec(select(OpenRequest))}


@pytest.mark.parametrize("first", ["filing", "listing"])
def test_a_filing_and_a_listing_storing_the_same_request_at_once_both_succeed(env, first):
    report_id = filed_report(resident("+13125550101"), "REQ-1")
    listed = duplicates.open_row(
        {
            "service_request_id": "REQ-1",
            "service_code": "POTHOLE",
            "service_name": "Pothole in Street",
            "status": "open",
            "lat": str(HERE[0]),
            "long": str(HERE[1]),
            "address": "12 Elm St",
            "requested_datetime": utcnow().isoformat(),
        },
        utcnow(),
    )

    def filing(session):
        duplicates.record_filed(session, session.get(Report, report_id))

    def listing(session):
        duplicates.upsert_open_requests(session, [dict(listed)])

    one, other = (filing, listing) if first == "filing" else (listing, filing)
    failed: list[BaseException] = []

    def second():
        try:
            with session_scope() as session:
                other(session)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failed.append(exc)

    with session_scope() as session:
        one(session)  # inserted, not committed: the other waits on the row (or the file)
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
    thread.join(timeout=30)
    assert not thread.is_alive() and failed == []
    rows = open_rows()
    assert list(rows) == ["REQ-1"]
    assert rows["REQ-1"].ours is True  # a listing never makes our filing someone else's
    assert rows["REQ-1"].lat == pytest.approx(HERE[0])


def test_filing_a_report_records_it_as_an_open_request(env):
    from tests.conftest import run_jobs

    contact_id, conversation_id = resident("+13125550102")
    with session_scope() as session:
        report = Report(
            conversation_id=conversation_id,
            contact_id=contact_id,
            service_code="001",
            service_name="Pothole in Street",
            description="Deep hole",
            address="5 Elm Street",
            lat=HERE[0],
            lon=HERE[1],
        )
        session.add(report)
        session.flush()
        report_id = report.id
    assert jobs.submit(report_id) == ReportState.SUBMITTED
    run_jobs()
    with session_scope() as session:
        number = session.get(Report, report_id).service_request_id
    row = open_rows()[number]
    assert row.ours and row.service_code == "001" and row.status == "open"
    assert row.address == "5 Elm Street" and row.lat == pytest.approx(HERE[0])
    with session_scope() as session:
        found = duplicates.find_nearby(session, "001", *north(10), env, utcnow())
    assert [r.number for r in found] == [number]


def test_long_city_values_are_cut_to_their_columns(env):
    row = duplicates.open_row(
        {
            "service_request_id": "REQ-LONG",
            "service_code": "P" * 300,
            "service_name": "N" * 1000,
            "address": "A" * 1000,
            "status": "S" * 100,
            "lat": "91",  # off the globe: no point
            "long": "10",
        },
        utcnow(),
    )
    assert row is not None and row["lat"] is None and row["lon"] is None
    with session_scope() as session:
        duplicates.upsert_open_requests(session, [row])
    stored = open_rows()["REQ-LONG"]
    assert (len(stored.service_code), len(stored.service_name)) == (128, 255)
    assert (len(stored.address), len(stored.status)) == (255, 32)
    too_long = {"service_request_id": "X" * 129, "service_code": "P"}
    assert duplicates.open_row(too_long, utcnow()) is None


# --- the refresh against the sandbox city ------------------------------------------------------


@pytest.fixture
def city(env, tmp_path, monkeypatch):
    """A sandbox city of the test's own, its calls counted."""
    with own_city(tmp_path, monkeypatch) as counted:
        yield counted


def city_request(city, code: str = "001", metres: float = 0.0, **fields) -> str:
    """A request filed at the city two days ago, `metres` north of HERE; its number."""
    from sandbox.store import iso

    lat, lon = north(metres)
    record = {"service_code": code, "description": "Hole", "lat": lat, "long": lon, **fields}
    store = city.app.extensions["sandbox"].store
    number = store.create(record)["service_request_id"]
    when = time.time() - 2 * 86400
    store._run(
        lambda db: db.execute(
            "UPDATE requests SET requested_ts = ?, requested_datetime = ? "
            "WHERE service_request_id = ?",
            (when, iso(when), number),
        )
    )
    return number


def test_the_refresh_stores_the_citys_open_requests_and_closes_the_ones_gone(city):
    near = city_request(city, metres=5, address_string="1 Elm Street")
    other = city_request(city, code="002", metres=5)
    assert jobs.refresh_open_requests() == 2
    rows = open_rows()
    assert set(rows) == {near, other}
    assert rows[near].status == "open" and not rows[near].ours
    assert rows[near].lat == pytest.approx(north(5)[0]) and rows[near].requested_at is not None
    assert nearby("001") == [near]

    # Listed again: the same rows, no copies; closed at the city: gone from the picture.
    city.app.extensions["sandbox"].store.set_status(near, "closed", "Filled")
    assert jobs.refresh_open_requests() == 1
    assert set(open_rows()) == {other}
    assert nearby("001") == []


def test_the_refresh_asks_nothing_when_the_check_is_off(city, monkeypatch):
    city_request(city)
    set_env(monkeypatch, DUPLICATE_SERVICES_OFF="*")
    assert jobs.refresh_open_requests() == 0
    assert city.calls == 0 and open_rows() == {}


def test_the_refresh_skips_the_services_that_are_off(city, monkeypatch):
    city_request(city, code="001")
    kept = city_request(city, code="002")
    set_env(monkeypatch, DUPLICATE_SERVICES_OFF="001")
    assert jobs.refresh_open_requests() == 1
    assert set(open_rows()) == {kept}


def test_the_refresh_closes_nothing_older_than_the_window_nor_ours(city):
    open_request("OLD-1", 5, code="001", age=timedelta(days=40))  # past the window of 30 days
    open_request("OURS-1", 5, code="001", age=timedelta(days=3), ours=True)  # tracking's
    open_request("UNKNOWN-1", 5, code="001", age=timedelta(days=3))
    open_request("ANCIENT", 5, code="001", age=timedelta(days=61))
    jobs.refresh_open_requests()
    rows = open_rows()
    assert rows["OLD-1"].status == "open" and rows["OURS-1"].status == "open"
    # Left out of the listing, and the city says nothing of it when asked (it may hide it):
    # kept as it was until it ages out, never closed on a guess.
    assert rows["UNKNOWN-1"].status == "open"
    assert "ANCIENT" not in rows  # older than twice the window


@pytest.mark.parametrize("past_end", ["empty", "404"])
def test_a_paged_listing_is_read_to_its_end_and_what_it_left_out_asked_by_number(
    env, tmp_path, monkeypatch, past_end
):
    from bot.open311 import client

    paged = Counted(
        create_sandbox_app(str(tmp_path / "paged.sqlite3"), page_size=2, page_past_end=past_end)
    )
    server = serve(paged)
    try:
        profile = tmp_path / "paged.toml"
        profile.write_text('name = "paged"\nformat = "json"\npage_size = 2\n')
        set_env(
            monkeypatch,
            OPEN311_ENDPOINT=f"{server.url}/open311/v2/",
            OPEN311_PROFILE=str(profile),
        )
        for _ in range(4):
            city_request(paged)
        gone = _closed_at_the_city_but_listed_open_before(paged)
        monkeypatch.setattr(client, "MAX_PAGES", 2)  # pages full to the last one read
        assert jobs.refresh_open_requests() == 4
        assert gone not in open_rows()  # asked by its number: closed at the city
        assert paged.calls == 2 + 1
        monkeypatch.setattr(client, "MAX_PAGES", 200)
        assert jobs.refresh_open_requests() == 4
        assert paged.calls == 3 + 3  # the third page: empty, or past the end; nothing to ask
    finally:
        server.stop()


def test_the_cron_lists_open_requests_on_the_city_queue_unless_off(monkeypatch):
    from bot import worker

    registered = []

    class Cron:
        def __init__(self, connection):
            pass

        def register(self, func, queue, interval, job_timeout):
            registered.append((func, queue, interval))

        def start(self):
            pass

    monkeypatch.setattr(worker, "CronScheduler", Cron)
    monkeypatch.setattr(worker, "get_redis", lambda: None)
    monkeypatch.setenv("QUEUE_NAME", "q")
    set_env(monkeypatch, DUPLICATE_REFRESH_SECONDS="120")
    worker.run_cron()
    assert (jobs.refresh_open_requests, "q-city", 120) in registered
    registered.clear()
    set_env(monkeypatch, DUPLICATE_SERVICES_OFF="*")
    worker.run_cron()
    assert all(func is not jobs.refresh_open_requests for func, _, _ in registered)
    get_settings.cache_clear()


# --- follows -------------------------------------------------------------------------------------


def follows() -> list[Follow]:
    with session_scope() as session:
        return list(session.exec(select(Follow).order_by(Follow.id)))


def notices_to(contact_id: int) -> list[str]:
    with session_scope() as session:
        return [
            m.text
            for m in session.exec(
                select(Message)
                .where(Message.contact_id == contact_id, Message.direction == Direction.OUT)
                .order_by(Message.id)
            )
        ]


def follow(contact_id: int, number: str, code: str = "001") -> None:
    with session_scope() as session:
        record_follows(
            session,
            contact_id,
            [FollowRequest(number, code, "Pothole in Street", "en"), Geocode("ignored")],
        )


def test_a_follower_is_told_each_change_once(city):
    number = city_request(city)
    jobs.refresh_open_requests()
    follower, _ = resident("+13125550103")
    follow(follower, number)
    assert [(f.last_status, f.active) for f in follows()] == [("open", True)]

    jobs.track()
    assert notices_to(follower) == []  # no change yet
    city.app.extensions["sandbox"].store.set_status(number, "closed", "Filled by the crew")
    jobs.track()
    jobs.track()  # the next cycle: nothing new
    told = notices_to(follower)
    assert len(told) == 1 and number in told[0] and "closed" in told[0].lower()
    assert "Filled by the crew" not in told[0]  # the city's notes are the reporter's
    assert follows()[0].last_status == "closed"
    assert open_rows()[number].status == "closed"

    # The same answer taken in again (a retry of the cycle): no second notice.
    answer = [{"service_request_id": number, "status": "closed"}]
    assert following._receive({number}, answer) == 0
    assert len(notices_to(follower)) == 1

    city.app.extensions["sandbox"].store.set_status(number, "open", None)
    jobs.track()
    assert len(notices_to(follower)) == 2


def test_a_follower_of_our_own_report_is_told_with_its_reporter(city):
    from bot.jobs import tracking

    number = city_request(city)
    reporter = resident("+13125550104")
    report_id = filed_report(reporter, number)
    with session_scope() as session:
        duplicates.record_filed(session, session.get(Report, report_id))
    follower, _ = resident("+13125550105")
    follow(follower, number)
    follow(reporter[0], number)  # following one's own report adds nothing

    city.app.extensions["sandbox"].store.set_status(number, "closed", "Filled")
    assert jobs.track() == 1
    again = {"status": "closed", "status_notes": "Filled"}
    assert tracking.receive_status(report_id, again) is False  # a retry tells nobody twice
    assert len(notices_to(reporter[0])) == 1 and "Filled" in notices_to(reporter[0])[0]
    told = notices_to(follower)
    assert len(told) == 1 and number in told[0] and "Filled" not in told[0]
    assert open_rows()[number].status == "closed"


def test_following_a_reopened_request_again_makes_it_active(env):
    open_request("REQ-9", 5, code="001", status="open")
    follower, _ = resident("+13125550106")
    follow(follower, "REQ-9")
    with session_scope() as session:  # closed long ago, then let go
        row = session.exec(select(Follow)).one()
        row.last_status, row.updated_at = "closed", utcnow() - timedelta(days=40)
    assert following._let_go() == 1
    assert follows()[0].active is False
    follow(follower, "REQ-9")  # it reopened: the resident follows it again
    again = follows()
    assert len(again) == 1 and again[0].active is True and again[0].last_status == "open"


def test_retention_keeps_a_follower_of_an_open_request(env):
    open_request("REQ-7", 5, code="001")
    follower, conversation_id = resident("+13125550107")
    with session_scope() as session:
        old = utcnow() - timedelta(days=100)
        contact = session.get(Contact, follower)
        contact.created_at = old
        from bot.models import Conversation

        conversation = session.get(Conversation, conversation_id)
        conversation.created_at = conversation.updated_at = old
    follow(follower, "REQ-7")
    assert purge().contacts == 0
    with session_scope() as session:  # the request closed: nothing open is left to tell them
        session.exec(select(Follow)).one().last_status = "closed"
    assert purge().contacts == 1
    assert follows() == []


def test_forgetting_a_resident_deletes_their_follows(env):
    open_request("REQ-8", 5, code="001")
    follower, conversation_id = resident("+13125550108")
    other, _ = resident("+13125550109")
    follow(follower, "REQ-8")
    follow(other, "REQ-8")
    report_id = filed_report((follower, conversation_id), "REQ-OWN")
    with session_scope() as session:
        duplicates.record_filed(session, session.get(Report, report_id))
    assert open_rows()["REQ-OWN"].address == "12 Elm Street"
    with session_scope() as session:
        erase_contact(session, session.get(Contact, follower))
    assert [f.contact_id for f in follows()] == [other]
    assert open_rows()["REQ-OWN"].address == ""  # the words they typed for the place
    assert open_rows()["REQ-8"].address == "REQ-8 Elm Street"  # the city's own, untouched


def test_the_purge_takes_a_blanked_reports_address_from_the_open_requests(env):
    ids = resident("+13125550111")
    report_id = filed_report(ids, "REQ-OLD", created_at=utcnow() - timedelta(days=100))
    with session_scope() as session:
        duplicates.record_filed(session, session.get(Report, report_id))
    purge()
    with session_scope() as session:
        assert session.get(Report, report_id).erased_at is not None
    assert open_rows()["REQ-OLD"].address == ""


def test_the_duplicates_command_counts_requests_and_follows(env):
    open_request("REQ-1", 5, code="001")
    open_request("REQ-2", 9, code="001")
    open_request("REQ-3", 9, code="002", status="closed")
    follower, _ = resident("+13125550110")
    follow(follower, "REQ-1")
    done = CliRunner().invoke(main, ["duplicates"])
    assert done.exit_code == 0, done.output
    assert "2  001" in done.output and "002" not in done.output
    assert "2 open request(s) known" in done.output
    assert "1 follow(s) active, 1 recorded" in done.output


# --- found in review: closing only on the city's word, follows that move ------------------------


def _closed_at_the_city_but_listed_open_before(city, code: str = "001", **row) -> str:
    """A request the city closed since our last listing (which had it open)."""
    number = city_request(city, code=code)
    open_request(number, 5, code=code, age=timedelta(days=2), **row)
    city.app.extensions["sandbox"].store.set_status(number, "closed", "Filled")
    return number


def test_a_request_the_listing_left_out_is_closed_when_the_city_says_so(city):
    number = _closed_at_the_city_but_listed_open_before(city)
    jobs.refresh_open_requests()
    assert number not in open_rows() and nearby("001") == []


def test_a_request_listed_without_a_date_is_closed_on_the_citys_word(city):
    number = _closed_at_the_city_but_listed_open_before(city)
    with session_scope() as session:  # a city that gave no requested_datetime
        row = session.exec(select(OpenRequest).where(OpenRequest.service_request_id == number))
        row.one().requested_at = None
    jobs.refresh_open_requests()
    assert nearby("001") == []


@pytest.mark.parametrize("page_size", [None, 2])
def test_a_city_capping_its_answer_closes_only_what_it_closed(
    env, tmp_path, monkeypatch, page_size
):
    """A server that answers fewer than it has (a cap, paged or not) never closes the requests
    it left out: each is asked about by number."""
    capped = Counted(create_sandbox_app(str(tmp_path / "capped.sqlite3"), page_size=2))
    server = serve(capped)
    try:
        profile = tmp_path / "plain.toml"
        paging = f"page_size = {page_size}\n" if page_size else ""
        profile.write_text(f'name = "plain"\nformat = "json"\n{paging}')
        set_env(
            monkeypatch, OPEN311_ENDPOINT=f"{server.url}/open311/v2/", OPEN311_PROFILE=str(profile)
        )
        still_open = [city_request(capped, metres=5) for _ in range(4)]
        for number in still_open:  # listed before, when the city had fewer open
            open_request(number, 5, code="001", age=timedelta(days=2))
        _closed_at_the_city_but_listed_open_before(capped)
        jobs.refresh_open_requests()
        assert set(open_rows()) == set(still_open)  # all 4 still open at the city
    finally:
        server.stop()


def test_a_reporter_following_their_own_report_is_forgotten_once_it_closed(city):
    number = city_request(city)
    reporter = resident("+13125550201")
    report_id = filed_report(reporter, number)
    with session_scope() as session:
        duplicates.record_filed(session, session.get(Report, report_id))
    follow(reporter[0], number)  # offered their own earlier report, they follow it
    city.app.extensions["sandbox"].store.set_status(number, "closed", "Filled")
    jobs.track()
    jobs.refresh_open_requests()
    assert [f.last_status for f in follows()] == ["closed"]
    assert len(notices_to(reporter[0])) == 1  # their report's own notice, not a second one
    aged(reporter[0])
    assert purge().contacts == 1


def test_a_follower_of_our_report_that_closed_before_they_followed_knows_it_closed(city):
    number = city_request(city)
    reporter = resident("+13125550202")
    report_id = filed_report(reporter, number)
    with session_scope() as session:
        duplicates.record_filed(session, session.get(Report, report_id))
    city.app.extensions["sandbox"].store.set_status(number, "closed", "Filled")
    jobs.track()
    jobs.refresh_open_requests()  # the closed row is dropped from the picture
    follower, _ = resident("+13125550203")
    record_follows_shown(follower, number, "open")  # the offer made while it was open
    jobs.track()
    told = notices_to(follower)
    assert len(told) == 1 and "closed" in told[0].lower()
    jobs.track()
    assert len(notices_to(follower)) == 1  # once


def record_follows_shown(contact_id: int, number: str, shown: str) -> None:
    with session_scope() as session:
        action = FollowRequest(number, "001", "Pothole in Street", "en", status=shown)
        record_follows(session, contact_id, [action])


def aged(contact_id: int, days: int = 100) -> None:
    """The contact, their messages and conversation made `days` old (for the purge)."""
    old = utcnow() - timedelta(days=days)
    with session_scope() as session:
        session.get(Contact, contact_id).created_at = old
        session.execute(
            update(Message).where(Message.contact_id == contact_id).values(created_at=old)
        )
        session.execute(
            update(Conversation)
            .where(Conversation.contact_id == contact_id)
            .values(created_at=old, updated_at=old)
        )
