"""The staff console's pages (issue 20): each page for each role, the handoff forms, retries,
staff accounts and the audit log, with residents' numbers only where agents answer them."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot import queue
from bot.db import session_scope
from bot.intake import conversation_for
from bot.models import (
    Contact,
    Conversation,
    Direction,
    Message,
    MessageStatus,
    Report,
    ReportState,
    StaffUser,
)
from bot.personal_data import address_key
from bot.report_history import record
from bot.settings import get_settings
from tests.conftest import run_jobs
from tests.console_support import PASSWORD, actions, client, post, sign_in, signed_in
from webhooks.console.style import CSS

pytestmark = pytest.mark.sqlite_only

NUMBER = "tel:+13125550142"
STOPPED = "tel:+13125550199"
PAGES = [
    "/console/",
    "/console/reports",
    "/console/failures",
    "/console/stopped",
    "/console/figures",
    "/console/figures?day=2026-01-02",
]
ADMIN_PAGES = ["/console/staff", "/console/audit"]


@pytest.fixture
def city(env):
    """A conversation waiting for a person (with a transcript and a failed report), and a
    resident who stopped: their ids."""
    with session_scope() as session:
        conversation = conversation_for(session, "sms", NUMBER)
        conversation.state = {"name": "location", "draft": {"service_name": "Pothole"}}
        conversation.handoff, conversation.handoff_reason = "waiting", "asked"
        ids = {"conversation_id": conversation.id, "contact_id": conversation.contact_id}
        session.add(
            Message(
                channel="sms",
                direction=Direction.IN,
                text="a pothole by the school",
                status=MessageStatus.PROCESSED,
                **ids,
            )
        )
        report = Report(
            service_code="001",
            service_name="Pothole",
            address="1 Main St",
            state=ReportState.FAILED,
            last_error="the city refused our key",
            **ids,
        )
        session.add(report)
        session.flush()
        record(session, report.id, "failed", "failed", "the city refused our key")
        stopped = conversation_for(session, "sms", STOPPED)
        session.get(Contact, stopped.contact_id).opted_out = True
        return {"conversation": conversation.id, "report": report.id}


def text(answer) -> str:
    return answer.get_data(as_text=True)


@pytest.mark.parametrize("role", ["viewer", "agent", "admin"])
def test_every_page_renders_for_every_role(city, role):
    browser = signed_in("sam", role)
    paths = [*PAGES, f"/console/conversations/{city['conversation']}"]
    paths.append(f"/console/reports/{city['report']}")
    for path in paths:
        answer = browser.get(path)
        assert answer.status_code == 200, path
        page = text(answer)
        assert re.search(r"<h1>[^<]+</h1>", page), path
        assert 'id="signout"' in page and "sam" in page and role in page
    for path in ADMIN_PAGES:
        assert browser.get(path).status_code == (200 if role == "admin" else 403), path


def test_numbers_only_on_the_conversation_page_for_agents(city):
    viewer = signed_in("vic", "viewer")
    agent = signed_in("ana", "agent")
    digits = NUMBER.removeprefix("tel:")
    for browser in (viewer, agent):
        for path in PAGES:
            assert digits not in text(browser.get(path)), path
    page = f"/console/conversations/{city['conversation']}"
    assert digits not in text(viewer.get(page))
    assert digits in text(agent.get(page))
    assert "c-" in text(viewer.get("/console/"))  # pseudonyms instead


def test_live_list_puts_the_waiting_first_and_refreshes(city):
    with session_scope() as session:
        conversation_for(session, "sms", "tel:+13125550111")  # newer, the bot answers it
    page = text(signed_in("vic", "viewer").get("/console/"))
    rows = re.findall(r'id="conversation-(\d+)"', page)
    assert rows[0] == str(city["conversation"])
    assert "waiting" in page and "asked where" in page
    assert '<meta http-equiv="refresh"' in page


def test_the_transcript_state_and_draft(city):
    page = text(signed_in("vic", "viewer").get(f"/console/conversations/{city['conversation']}"))
    assert "a pothole by the school" in page and "Pothole" in page
    # The state in staff's words, the stored name beside it for tools.
    assert 'data-state="location">asked where<' in page
    assert 'id="take"' not in page  # a viewer has no handoff forms


def test_take_over_reply_and_hand_back(city, twilio_api):
    agent = signed_in("ana", "agent")
    cid = city["conversation"]
    page = f"/console/conversations/{cid}"
    assert post(agent, f"{page}/take").status_code == 302
    with session_scope() as session:
        taken = session.get(Conversation, cid)
        assert (taken.handoff, taken.handoff_by) == ("agent", "ana")
    assert 'id="reply"' in text(agent.get(page))
    assert post(agent, f"{page}/reply", text="A person here: we are on it.").status_code == 302
    run_jobs()
    sent = [s["form"]["Body"] for s in twilio_api.config["SENT"]]
    assert ["A person here: we are on it."] in sent
    assert post(agent, f"{page}/handback").status_code == 302
    with session_scope() as session:
        assert session.get(Conversation, cid).handoff is None
    done = [(a.actor, a.action, a.target) for a in actions()]
    target = f"conversation:{cid}"
    for action in ("handoff.take", "handoff.reply", "handoff.back"):
        assert ("ana", action, target) in done


def test_a_handoff_error_is_said_not_a_500(city):
    agent = signed_in("ana", "agent")
    page = f"/console/conversations/{city['conversation']}"
    answer = post(agent, f"{page}/reply", text="hello")  # not taken over first
    assert answer.status_code == 302
    assert "take it over first" in text(agent.get(page))


def test_a_viewer_cannot_act(city):
    viewer = signed_in("vic", "viewer")
    cid = city["conversation"]
    assert post(viewer, f"/console/conversations/{cid}/take").status_code == 403
    assert post(viewer, f"/console/conversations/{cid}/reply", text="x").status_code == 403
    assert (
        post(viewer, "/console/failures/retry", name=f"report:{city['report']}").status_code == 403
    )
    assert post(viewer, "/console/failures/retry", **{"all": "1"}).status_code == 403
    assert post(viewer, "/console/staff/add", username="eve", password=PASSWORD).status_code == 403
    with session_scope() as session:
        assert session.get(Conversation, cid).handoff == "waiting"
        assert session.get(Report, city["report"]).state == ReportState.FAILED
        assert session.exec(select(StaffUser).where(StaffUser.username == "eve")).first() is None


def test_an_agent_cannot_manage_staff(city):
    agent = signed_in("ana", "agent")
    assert post(agent, "/console/staff/add", username="eve", password=PASSWORD).status_code == 403


def test_retry_from_the_page_puts_the_report_back_in_line(city):
    agent = signed_in("ana", "agent")
    name = f"report:{city['report']}"
    failures = text(agent.get("/console/failures"))
    assert name in failures and f'id="retry-report-{city["report"]}"' in failures
    answer = agent.post(
        "/console/failures/retry",
        data={"name": name, "csrf_token": _token(agent)},
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
    )
    assert answer.status_code == 302
    with session_scope() as session:
        assert session.get(Report, city["report"]).state == ReportState.PENDING
    jobs = queue.get_queue(queue.kind_for("bot.jobs.submit")).jobs
    assert [(j.func_name, j.args) for j in jobs] == [("bot.jobs.submit", (city["report"],))]
    [retried] = [a for a in actions() if a.action == "retry"]
    assert (retried.actor, retried.target, retried.remote_addr) == ("ana", name, "203.0.113.7")
    assert f"{name} sent back in line" in text(agent.get("/console/failures"))
    assert "Nothing waits for staff" in text(agent.get("/console/failures"))


def test_retry_all_and_a_name_not_failed(city):
    agent = signed_in("ana", "agent")
    assert post(agent, "/console/failures/retry", name="report:999999").status_code == 302
    assert "is not waiting for staff" in text(agent.get("/console/failures"))
    assert post(agent, "/console/failures/retry", name="nonsense").status_code == 302
    assert "not a failure&#39;s name" in text(agent.get("/console/failures"))
    assert post(agent, "/console/failures/retry", **{"all": "1"}).status_code == 302
    with session_scope() as session:
        assert session.get(Report, city["report"]).state == ReportState.PENDING


def test_the_report_page_shows_its_history(city):
    page = text(signed_in("vic", "viewer").get(f"/console/reports/{city['report']}"))
    assert "1 Main St" in page and "the city refused our key" in page and 'id="history"' in page
    reports = text(signed_in("ana", "agent").get("/console/reports?state=failed"))
    assert f'id="report-{city["report"]}"' in reports
    submitted = text(signed_in("bob", "viewer").get("/console/reports?state=submitted"))
    assert f'id="report-{city["report"]}"' not in submitted


def test_the_stopped_page_is_pseudonymous(city):
    page = text(signed_in("vic", "viewer").get("/console/stopped"))
    assert "sms: 1" in page and STOPPED.removeprefix("tel:") not in page
    from bot.personal_data import pseudonym

    assert pseudonym(STOPPED) in page
    # When they stopped: stamped as the opt-out was set (bot.models' listener).
    with session_scope() as session:
        contact = session.exec(
            select(Contact).where(Contact.address_key == address_key(STOPPED))
        ).one()
        stopped_at = contact.opted_out_at
        assert stopped_at is not None
        contact.opted_out = False
        assert contact.opted_out_at is None
    assert stopped_at.strftime("%Y-%m-%d %H:%M") in page


def test_the_figures_page_has_its_chart(city):
    browser = signed_in("vic", "viewer")
    today = datetime.now(ZoneInfo(get_settings().city_timezone)).date()
    page = text(browser.get(f"/console/figures?day={today}"))
    assert "<svg" in page and f"Reports by hour on {today}" in page
    assert re.search(r'id="figure-reports">1<', page)
    assert "Pothole" in page
    assert "YYYY-MM-DD" in text(browser.get("/console/figures?day=yesterday"))
    assert date(2026, 1, 2).isoformat() in text(browser.get("/console/figures?day=2026-01-02"))


def test_an_admin_manages_staff_and_sees_the_audit_log(city):
    admin = signed_in("ada", "admin")
    assert post(admin, "/console/staff/add", username="eve", password=PASSWORD, role="viewer")
    assert sign_in(client(), "eve").status_code == 302
    with session_scope() as session:
        eve = session.exec(select(StaffUser).where(StaffUser.username == "eve")).one()
    post(admin, f"/console/staff/{eve.id}/role", role="agent")
    post(admin, f"/console/staff/{eve.id}/password", password="a brand new password")
    assert sign_in(client(), "eve", "a brand new password").status_code == 302
    post(admin, f"/console/staff/{eve.id}/disable")
    assert sign_in(client(), "eve", "a brand new password").status_code == 401
    post(admin, "/console/staff/add", username="tiny", password="short")
    assert "at least 12" in text(admin.get("/console/staff"))
    ada = [a for a in actions() if a.actor == "ada"]
    assert [a.action for a in ada] == [
        "signin",
        "staff-add",
        "staff-role",
        "staff-password",
        "staff-disable",
    ]
    log = text(admin.get("/console/audit"))
    assert "staff-disable" in log and "staff eve" in log


def test_an_admin_cannot_lock_themselves_out(city):
    admin = signed_in("ada", "admin")
    with session_scope() as session:
        ada = session.exec(select(StaffUser).where(StaffUser.username == "ada")).one()
    post(admin, f"/console/staff/{ada.id}/disable")
    post(admin, f"/console/staff/{ada.id}/role", role="viewer")
    assert admin.get("/console/staff").status_code == 200


def test_the_console_style_is_allowed_by_the_csp(city):
    answer = signed_in("vic", "viewer").get("/console/")
    digest = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
    assert f"<style>{CSS}</style>" in text(answer)
    assert f"'sha256-{digest}'" in answer.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in answer.headers["Content-Security-Policy"]


def test_a_missing_conversation_or_report_is_a_404_page(city):
    browser = signed_in("vic", "viewer")
    for path in ("/console/conversations/999999", "/console/reports/999999"):
        answer = browser.get(path)
        assert answer.status_code == 404 and "<h1>Not found</h1>" in text(answer)


def _token(browser) -> str:
    from tests.console_support import csrf_token

    return csrf_token(browser, "/console/")


def test_huge_ids_and_pages_are_not_a_500(city):
    huge = 2**63
    agent = signed_in("ana", "admin")
    for path in (f"/console/conversations/{huge}", f"/console/reports/{huge}"):
        assert agent.get(path).status_code == 404
    for action in ("take", "reply", "handback"):
        assert post(agent, f"/console/conversations/{huge}/{action}", text="x").status_code == 404
    assert agent.get(f"/console/conversations/{2**63 - 1}").status_code == 404  # the largest
    for path in ("/console/audit", "/console/reports"):
        answer = agent.get(f"{path}?page={10**30}")
        assert answer.status_code == 200, path


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1999-12-31"])
def test_a_day_out_of_range_shows_today(city, day):
    answer = signed_in("vic", "viewer").get(f"/console/figures?day={day}")
    today = datetime.now(ZoneInfo(get_settings().city_timezone)).date()
    page = text(answer)
    assert answer.status_code == 200 and f"on {today}" in page
    assert "from 2000-01-01 to tomorrow" in page


def test_another_agents_conversation_is_theirs_to_answer(city):
    cid = city["conversation"]
    page = f"/console/conversations/{cid}"
    ana = signed_in("ana", "agent")
    assert post(ana, f"{page}/take").status_code == 302
    ben = signed_in("ben", "agent")
    assert 'id="handback"' not in text(ben.get(page))
    post(ben, f"{page}/reply", text="ben here")
    assert "held by ana" in text(ben.get(page))
    post(ben, f"{page}/handback")
    assert "held by ana" in text(ben.get(page))
    with session_scope() as session:
        assert session.get(Conversation, cid).handoff_by == "ana"
        assert session.exec(select(Message).where(Message.text == "ben here")).all() == []
    root = signed_in("root", "admin")
    assert 'id="handback"' in text(root.get(page))
    assert post(root, f"{page}/handback").status_code == 302
    with session_scope() as session:
        assert session.get(Conversation, cid).handoff is None
    [back] = [a for a in actions() if a.action == "handoff.back"]
    assert (back.actor, back.detail) == ("root", "root; held by ana")


def test_times_are_the_citys_and_say_so(city, monkeypatch):
    monkeypatch.setenv("CITY_TIMEZONE", "America/Chicago")
    get_settings.cache_clear()
    made = datetime(2026, 7, 1, 3, 30, tzinfo=ZoneInfo("UTC"))  # 22:30 the evening before
    with session_scope() as session:
        session.get(Report, city["report"]).created_at = made
    page = text(signed_in("vic", "viewer").get(f"/console/reports/{city['report']}"))
    assert "2026-06-30 22:30 (America/Chicago)" in page
    assert "(UTC)" not in page


def test_a_conversation_someone_else_holds_offers_no_take_over(city):
    ana, ben = signed_in("ana", "agent"), signed_in("ben", "agent")
    page = f"/console/conversations/{city['conversation']}"
    assert 'id="take"' in text(ben.get(page))  # waiting: anyone may take it
    assert post(ana, f"{page}/take").status_code == 302
    held = text(ben.get(page))
    assert 'id="take"' not in held and 'id="reply"' not in held
    assert "ana has this conversation" in held


def test_a_report_waiting_for_the_city_shows_its_tries(city):
    due = datetime(2026, 7, 1, 12, 0, tzinfo=ZoneInfo("UTC"))
    with session_scope() as session:
        report = session.get(Report, city["report"])
        report.state, report.attempts, report.next_attempt_at = ReportState.PENDING, 4, due
    page = text(signed_in("vic", "viewer").get(f"/console/reports/{city['report']}"))
    assert "4, the next at 2026-07-01 12:00" in page


def test_an_unknown_console_address_is_a_console_page(city):
    browser = signed_in("vic", "viewer")
    for path in ("/console/nothing", "/console/conversations/abc"):
        answer = browser.get(path)
        assert answer.status_code == 404 and "<h1>Not found</h1>" in text(answer), path
    assert client().get("/nothing").get_json() is not None  # elsewhere: JSON, as before
