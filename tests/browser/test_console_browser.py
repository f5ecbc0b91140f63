"""The staff console driven in chromium (issue 20): a staff member signs in, watches a
conversation, takes it over and replies while the resident (on the web chat page, in a browser
context of their own) sees the bot stay quiet, hands it back, retries a report that really
failed while the city was down, and sees the day's figures.

SQLite only: the console's queries run on PostgreSQL in tests/test_console_pages.py; here a
second database would double the time and prove nothing more of the browser's side.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from playwright.sync_api import Page, expect
from sqlmodel import select

from bot import staff
from bot.cli import main
from bot.db import session_scope
from bot.models import Report
from conversations import texts
from tests.browser.conftest import TIMEOUT_MS, WEBCHAT_SECRET

pytestmark = pytest.mark.sqlite_only

PASSWORD = "correct horse battery staple"
PASSED = texts.HANDOFF_OPEN.format(city="Springfield")
TAKEN = texts.HANDOFF_TAKEN.format(city="Springfield")
PHONE_WIDTH = 390  # the harness's page (tests/browser/conftest.py)
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture
def live_server_env() -> dict[str, str]:
    """Staff always in (HANDOFF_HOURS empty), and a report the city fails is given up on at
    once (REPORT_GIVE_UP_HOURS=0): a failure for staff without waiting 72 hours."""
    return {"WEBCHAT_SECRET": WEBCHAT_SECRET, "HANDOFF_HOURS": "", "REPORT_GIVE_UP_HOURS": "0"}


@pytest.fixture
def resident(browser, screenshot_path: Path, live_server):
    """The resident's own browser context (a phone), on the web chat page; saved as
    `<test name>_resident.png` beside the agent's screenshot when the test ends."""
    context = browser.new_context(viewport={"width": PHONE_WIDTH, "height": 844})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    tab.goto(f"{live_server.url}/webhooks/webchat/")
    yield tab
    try:
        tab.screenshot(
            path=str(screenshot_path.with_name(f"{screenshot_path.stem}_resident.png")),
            full_page=True,
        )
    except Exception as exc:
        warnings.warn(f"no screenshot of the resident's page: {exc}", stacklevel=1)
    finally:
        context.close()


@pytest.fixture
def city_faults(sandbox):
    """Set the loopback city's fault (sandbox/faults.py); healthy again after the test."""

    def set_fault(mode: str) -> None:
        httpx.post(f"{sandbox.url}/admin/faults", json={"mode": mode}, timeout=5).raise_for_status()

    yield set_fault
    set_fault("none")


def say(resident: Page, live_server, text: str) -> None:
    """The resident sends `text` from the web chat page; the page's POST is answered (the
    message is stored) and the jobs it queued (the turn, the replies' delivery) run."""
    with resident.expect_response(
        lambda r: r.request.method == "POST" and r.url.rstrip("/").endswith("/webhooks/webchat")
    ) as posted:
        resident.get_by_label("Your message").fill(text)
        resident.get_by_role("button", name="Send").click()
    assert posted.value.ok, posted.value.status
    expect(resident.locator(".msg.me").last).to_have_text(text)
    live_server.run_jobs()


def bot_says(resident: Page, words: str) -> None:
    """The page (polling every 1.5 s) shows a message from our side containing `words`."""
    expect(resident.locator(".msg.bot").filter(has_text=words).last).to_be_visible()


def sign_in(page: Page, live_server, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{live_server.url}/console/signin")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.locator("#signin-button").click()


def agent(page: Page, live_server, username: str = "ana", role: str = "agent") -> None:
    """A staff account `username`, signed in on `page`."""
    staff.create_user(username, PASSWORD, role)
    sign_in(page, live_server, username)
    expect(page.locator("#signed-in")).to_contain_text(username)


def draft_a_pothole(resident: Page, live_server) -> None:
    """The resident reports a pothole at a sure address, up to the summary to confirm."""
    say(resident, live_server, "pothole at 120 Main St, deep and wide")
    bot_says(resident, "Where is the pothole?")
    say(resident, live_server, "1")
    bot_says(resident, "Ready to send")


def only_report() -> Report:
    with session_scope() as session:
        return session.exec(select(Report)).one()


def test_sign_in_refuses_a_wrong_password_and_signs_out(page, live_server, screenshot_path):
    added = CliRunner().invoke(
        main, ["staff", "add", "ada", "--role", "admin"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert added.exit_code == 0, added.output

    sign_in(page, live_server, "ada", "not the password at all")
    expect(page.locator("#signin-error")).to_have_text(staff.REFUSAL)
    assert page.url.endswith("/console/signin")
    expect(page.locator("#signed-in")).to_have_count(0)
    page.screenshot(path=str(screenshot_path.with_name(f"{screenshot_path.stem}_refused.png")))

    sign_in(page, live_server, "ada")
    expect(page.get_by_role("heading", name="Conversations")).to_be_visible()
    assert page.url == f"{live_server.url}/console/"
    expect(page.locator("#signed-in")).to_have_text(re.compile(r"^\s*ada\s+admin\s*$"))

    page.locator("#signout-button").click()
    expect(page.get_by_role("heading", name="Staff sign in")).to_be_visible()
    page.goto(f"{live_server.url}/console/figures")
    expect(page.get_by_role("heading", name="Staff sign in")).to_be_visible()
    assert page.url.startswith(f"{live_server.url}/console/signin")
    expect(page.locator("#signed-in")).to_have_count(0)


def test_an_agent_takes_over_replies_and_hands_back(page, resident, live_server):
    agent(page, live_server)
    say(resident, live_server, "AGENT")
    bot_says(resident, PASSED)

    page.goto(f"{live_server.url}/console/")
    first = page.locator("#conversations tr[id^=conversation-]").first
    expect(first.locator(".badge.waiting")).to_have_text("waiting")
    expect(first).to_contain_text("webchat")
    first.locator("td.nowrap").get_by_role("link").click()  # the resident, by pseudonym
    expect(page.locator("#handoff")).to_contain_text("waiting")
    expect(page.locator("#transcript")).to_contain_text("AGENT")
    expect(page.locator("#transcript")).to_contain_text(PASSED)

    page.locator("#take-button").click()
    expect(page.locator(".flash.ok")).to_contain_text("You have this conversation")
    expect(page.locator("#handoff")).to_contain_text("agent (ana)")
    live_server.run_jobs()
    bot_says(resident, TAKEN)

    before = resident.locator(".msg.bot").count()
    say(resident, live_server, "the hole is huge, by the school")
    page.reload()  # the agent sees it: the turn ran, and anything the bot said was delivered
    words = page.locator("#transcript tr.in td.words").last
    expect(words).to_have_text("the hole is huge, by the school")
    box = words.bounding_box()  # read on a phone without scrolling sideways
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WIDTH, box
    with resident.expect_request(lambda r: "/webhooks/webchat/messages" in r.url) as poll:
        pass  # the page's next poll, sent after the turn ran: a bot reply would come with it
    assert poll.value.response().ok
    expect(resident.locator(".msg.bot")).to_have_count(before)

    page.get_by_label("Reply to the resident").fill("Thanks, a crew is on its way today.")
    page.locator("#reply-button").click()
    expect(page.locator(".flash.ok")).to_have_text("Reply queued.")
    live_server.run_jobs()
    bot_says(resident, "Thanks, a crew is on its way today.")
    expect(page.locator("#transcript tr.out").last).to_contain_text("a crew is on its way")

    page.locator("#handback-button").click()
    expect(page.locator(".flash.ok")).to_have_text("Handed back to the bot.")
    expect(page.locator("#handoff")).to_have_text("the bot answers")
    live_server.run_jobs()
    bot_says(resident, texts.HANDOFF_BACK)

    answered = resident.locator(".msg.bot").count()
    say(resident, live_server, "pothole at 120 Main St")
    bot_says(resident, "Found: 120 Main Street, Springfield.")  # the bot answers again
    assert resident.locator(".msg.bot").count() > answered


def test_a_report_failed_while_the_city_was_down_is_retried(
    page, resident, live_server, city_faults
):
    draft_a_pothole(resident, live_server)
    city_faults("500")  # the city is down, and REPORT_GIVE_UP_HOURS=0: given up at once
    say(resident, live_server, "yes")
    bot_says(resident, texts.REPORT_SAVED)
    report = only_report()
    assert report.state == "failed" and report.service_request_id is None

    agent(page, live_server)
    page.goto(f"{live_server.url}/console/failures")
    row = page.locator(f"#failure-report-{report.id}")
    expect(row).to_contain_text("HTTP 500")  # the city's error, for staff
    expect(page.get_by_role("heading", name="Failures (1)")).to_be_visible()

    city_faults("none")  # the city is back
    row.get_by_role("button", name="Retry").click()
    expect(page.locator(".flash.ok")).to_have_text(f"report:{report.id} sent back in line.")
    live_server.run_jobs()
    page.reload()
    expect(page.locator(f"#failure-report-{report.id}")).to_have_count(0)
    expect(page.get_by_text("Nothing waits for staff.")).to_be_visible()

    number = only_report().service_request_id
    assert number
    page.goto(f"{live_server.url}/console/reports/{report.id}")
    expect(page.locator("#report-state")).to_have_attribute("data-state", "submitted")
    expect(page.locator("#report-state")).to_have_text("filed")
    expect(page.locator("#service-request-id")).to_have_text(number)
    expect(page.locator("#facts")).not_to_contain_text("last error")  # filed: in its history
    kinds = [k.strip() for k in page.locator("#history tr td:nth-child(2)").all_inner_texts()]
    assert "retried" in kinds and "submitted" in kinds
    assert kinds.index("retried") < kinds.index("submitted"), kinds
    bot_says(resident, f"Request number: {number}")


def test_the_days_figures_count_a_web_chat_report(page, resident, live_server):
    draft_a_pothole(resident, live_server)
    say(resident, live_server, "yes")
    bot_says(resident, "Request number:")

    agent(page, live_server, "vic", "viewer")
    page.get_by_role("link", name="Figures").click()
    expect(page.locator("#figure-reports")).to_have_text("1")
    expect(page.locator("#by-channel tr td")).to_have_text(["webchat", "1"])
    expect(page.locator("#by-service tr td")).to_have_text(["Pothole in Street", "1"])
    chart = page.locator("svg[role=img]")
    expect(chart).to_be_visible()
    bars = chart.locator("rect.bar")
    assert bars.count() == 24  # one an hour, city time
    heights = [float(bars.nth(i).get_attribute("height") or 0) for i in range(24)]
    tall = [i for i, h in enumerate(heights) if h > 0]
    assert len(tall) == 1, heights  # the one report, in its hour
    expect(bars.nth(tall[0])).to_be_visible()
    assert (bars.nth(tall[0]).locator("title").text_content() or "").endswith(": 1")
