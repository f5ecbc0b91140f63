"""The harness itself: chromium loads the running app's web chat page, a resident's message
goes through the real app and a burst worker, and the bot's reply shows on the page."""

from __future__ import annotations

import re
import time

import pytest

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def saved_screenshot(screenshot_path):
    """After the page is closed (this is set up before it, so torn down after): the test's
    screenshot is there, a PNG written just now."""
    started = time.time()
    yield screenshot_path
    assert screenshot_path.is_file(), f"no screenshot at {screenshot_path}"
    assert screenshot_path.read_bytes()[:8] == PNG
    assert screenshot_path.stat().st_mtime >= started - 1


def test_the_web_chat_page_talks_to_the_running_app(saved_screenshot, page, live_server):
    page.goto(f"{live_server.url}/webhooks/webchat/")
    assert page.title() == "Report a problem to the city"
    page.get_by_label("Your message").fill("hi")
    page.get_by_role("button", name="Send").click()
    mine = page.locator(".msg.me")
    mine.first.wait_for()
    assert mine.first.inner_text() == "hi"

    # The page posted it (the status line stays empty when a post is kept); the turn and the
    # reply's delivery to the page's mailbox are jobs: a burst worker runs them.
    deadline = time.monotonic() + 15
    while live_server.run_jobs() == 0 and time.monotonic() < deadline:
        time.sleep(0.1)  # the page's POST may still be on its way
    bot = page.locator(".msg.bot")
    bot.first.wait_for()  # the page polls every 1.5 s
    assert re.search(r"\w", bot.first.inner_text())
    assert page.locator(".buttons button").count() > 0  # the services offered, as buttons
    assert page.locator("#status").inner_text() == ""


def test_a_reload_shows_the_conversation_again(page, live_server):
    page.goto(f"{live_server.url}/webhooks/webchat/")
    page.get_by_label("Your message").fill("hi")
    page.get_by_role("button", name="Send").click()
    page.locator(".msg.me").first.wait_for()
    deadline = time.monotonic() + 15
    while live_server.run_jobs() == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    page.locator(".msg.bot").first.wait_for()
    before = page.locator(".msg").all_inner_texts()

    page.reload()
    page.locator(".msg.bot").first.wait_for()
    assert page.locator(".msg").all_inner_texts() == before  # in order, each once
    # The tab's session goes on: the next message is answered in the same conversation.
    bot_before = page.locator(".msg.bot").count()
    page.get_by_label("Your message").fill("pothole")
    page.get_by_role("button", name="Send").click()
    deadline = time.monotonic() + 15
    while live_server.run_jobs() == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    page.locator(".msg.bot").nth(bot_before).wait_for()  # answered after the reload
    assert page.locator(".msg.me").all_inner_texts() == ["hi", "pothole"]
