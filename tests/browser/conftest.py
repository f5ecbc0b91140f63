"""The browser tests' harness: the real app served on loopback, Debian's chromium driven by
Playwright, a screenshot of every test kept.

- `live_server`: `webhooks.create_app()` with the test settings and database of
  tests/conftest.py (`env`: SQLite, then PostgreSQL; mark a module `sqlite_only` for SQLite
  alone), served by werkzeug in a thread on a free loopback port. Jobs do not run by themselves:
  `live_server.run_jobs()` runs what is queued (a burst worker in this process), as
  tests/conftest.py's `run_jobs` does. A module adds settings by overriding `live_server_env`.
- `page`: a fresh browser context and page for each test, in one chromium per test module
  (pytest-xdist workers each have theirs). After the test, passed or failed, the page is saved
  as `<test name>.png` under INTAKE311_BROWSER_ARTIFACTS (default: test-artifacts/browser/).
- Every test here is marked `browser` (`-m "not browser"` leaves them out); they skip, saying
  why, where /usr/bin/chromium (INTAKE311_CHROMIUM) or Playwright is missing. The browser is
  never downloaded: `make browser` installs Debian's.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import db as bot_db
from bot.settings import get_settings
from sandbox.server import ServerThread, serve
from tests.conftest import run_jobs
from tests.processes import ROOT

HERE = Path(__file__).resolve().parent
CHROMIUM = Path(os.environ.get("INTAKE311_CHROMIUM", "/usr/bin/chromium"))
# Headless, and nothing of its own on the network: the machine's closed network refuses the
# connections chromium's background services would make (and each would cost a timeout).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# How long Playwright waits for an element or a navigation before failing the test.
TIMEOUT_MS = 15_000
WEBCHAT_SECRET = "browser-test-webchat-secret-0123456789abcdef"


def artifacts_dir() -> Path:
    """Where screenshots go: INTAKE311_BROWSER_ARTIFACTS (relative to the checkout) or
    test-artifacts/browser/."""
    folder = Path(os.environ.get("INTAKE311_BROWSER_ARTIFACTS", "test-artifacts/browser"))
    return folder if folder.is_absolute() else ROOT / folder


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: drives a real headless chromium (tests/browser; Playwright)"
    )


def pytest_collection_modifyitems(config, items):
    """Mark every test under tests/browser `browser`."""
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)


def _why_no_browser() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: `make browser` installs Debian's chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (it comes with `make install`)"
    return None


@pytest.fixture(scope="module")
def browser():
    """One headless chromium for a module's tests (Debian's, driven by Playwright). Not for the
    session: Playwright's sync API keeps an event loop running in this thread until it stops,
    and every later test in the process that calls asyncio.run (Telegram's sends) would fail."""
    reason = _why_no_browser()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
    except Exception as exc:
        playwright.stop()
        pytest.skip(f"{CHROMIUM} did not start under Playwright: {exc}")
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture
def screenshot_path(request) -> Path:
    """Where this test's screenshot goes (any older one removed first)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")
    path = artifacts_dir() / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    return path


@pytest.fixture
def page(browser, screenshot_path):
    """A page in a fresh browser context (no cookies or storage from another test); saved as a
    screenshot when the test ends, passed or failed."""
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone's screen
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    try:
        tab.screenshot(path=str(screenshot_path), full_page=True)
    except Exception as exc:  # a crashed page: the test's own failure says more
        warnings.warn(f"no screenshot for this test: {exc}", stacklevel=1)
    finally:
        context.close()


@dataclass
class LiveServer:
    """The running app: its base URL, the Flask app, and a way to run the queued jobs."""

    url: str
    app: object
    thread: ServerThread

    def run_jobs(self, include_delayed: bool = False) -> int:
        """Run every queued job now (a burst worker in this process); how many ran."""
        return run_jobs(include_delayed=include_delayed)


@pytest.fixture
def live_server_env() -> dict[str, str]:
    """Settings the live app gets on top of the test settings (override in a module)."""
    return {"WEBCHAT_SECRET": WEBCHAT_SECRET}


@pytest.fixture
def live_server(env, live_server_env, monkeypatch) -> Iterator[LiveServer]:
    """webhooks.create_app() on the test settings and database, served on loopback."""
    for key, value in live_server_env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    from webhooks import create_app

    app = create_app()
    server = serve(app)
    try:
        yield LiveServer(url=server.url, app=app, thread=server)
    finally:
        with contextlib.suppress(Exception):
            server.stop()
        bot_db.dispose_engines()
