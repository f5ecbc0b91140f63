"""`intake311 demo`: the whole bot on one machine, with the sandbox city and a console chat."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import click
import httpx
import redis


def demo_env(sandbox_port: int) -> dict[str, str]:
    """Settings that point the bot at the sandbox city; the caller's environment wins."""
    from sandbox.town import demo_index

    return {
        "OPEN311_ENDPOINT": f"http://127.0.0.1:{sandbox_port}/open311/v2/",
        # The demo town's file as the city's own address data: addresses, corners and
        # landmarks found with no outside service (its index is built on first use).
        "GEOCODER": "gazetteer",
        "GAZETTEER_FILE": str(demo_index()),
        # With GEOCODER=nominatim, the sandbox's Nominatim over the same town.
        "GEOCODER_DOMAIN": f"127.0.0.1:{sandbox_port}/nominatim",
        "GEOCODER_SCHEME": "http",
        "CITY_NAME": "Springfield",
        # The sandbox town keeps Central time: "today 8am" is 8am there, not in UTC.
        "CITY_TIMEZONE": "America/Chicago",
        "TRACK_INTERVAL": "5",
        "CATALOG_TTL": "60",
        # The web chat channel's page, for trying the bot in a browser (a new secret per demo).
        "WEBCHAT_SECRET": secrets.token_urlsafe(24),
        # Human handoff on, staff always in: AGENT passes the resident to the console.
        "HANDOFF_HOURS": "",
    }


def ensure_redis(url: str) -> None:
    """Start a local redis-server (nothing kept on disk) when none answers at `url`."""
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        return
    except redis.RedisError:
        pass
    server = shutil.which("redis-server")
    if server is None:
        raise click.ClickException(f"no Redis at {url} and redis-server is not installed")
    port = redis.connection.parse_url(url).get("port", 6379)
    subprocess.run(
        [
            server,
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        check=True,
    )
    for _ in range(50):
        try:
            redis.Redis.from_url(url, socket_connect_timeout=1).ping()
            return
        except redis.RedisError:
            time.sleep(0.1)
    raise click.ClickException(f"redis-server did not start at {url}")


def _wait_for(url: str, what: str, process: subprocess.Popen) -> None:
    for _ in range(100):
        if process.poll() is not None:
            raise click.ClickException(f"the {what} exited (code {process.returncode})")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise click.ClickException(f"the {what} did not start at {url}")


def _close_filed_requests(sandbox_url: str, address: str) -> int:
    """Play the city: close the requests this resident filed, so a status update is sent."""
    from sqlmodel import select

    from bot.db import session_scope
    from bot.models import Contact, Report, ReportState
    from bot.personal_data import address_key

    with session_scope() as session:
        numbers = session.exec(
            select(Report.service_request_id)
            .join(Contact, Contact.id == Report.contact_id)
            .where(
                Contact.address_key == address_key(address),
                Report.state == ReportState.SUBMITTED,
                Report.city_status != "closed",
            )
        ).all()
    for number in numbers:
        httpx.post(
            f"{sandbox_url}/admin/requests/{number}/status",
            data={"status": "closed", "status_notes": "Crew repaired it today. Thank you!"},
            timeout=5,
        ).raise_for_status()
    return len(numbers)


@click.command()
@click.option("--name", default="demo-resident", show_default=True, help="The console resident.")
@click.option("--sandbox-port", default=8311, show_default=True)
@click.option("--web-port", default=8000, show_default=True)
@click.option(
    "--script",
    type=click.File("r"),
    default=None,
    help="Send these lines instead of reading the terminal, then close the filed "
    "requests in the sandbox and show the status update.",
)
def demo(name: str, sandbox_port: int, web_port: int, script) -> None:
    """Run sandbox, web, worker and scheduler locally and chat with the bot in this terminal."""
    from bot.cli.chat import ConsoleChat, run_interactive, run_script, terminal_line
    from bot.migrate import upgrade
    from bot.settings import get_settings

    # A plain `kill` ends the demo as /quit does: the finally below stops its processes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    for key, value in demo_env(sandbox_port).items():
        os.environ.setdefault(key, value)
    get_settings.cache_clear()
    settings = get_settings()
    ensure_redis(settings.redis_url)
    upgrade()
    Path("var").mkdir(exist_ok=True)
    me = [sys.executable, "-m", "bot.cli"]
    logs = open("var/demo.log", "a")  # noqa: SIM115  (kept open for the children)
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    children = [
        subprocess.Popen(me + ["sandbox", "--port", str(sandbox_port)], stdout=logs, stderr=logs)
    ]
    try:
        _wait_for(sandbox_url + "/", "sandbox", children[0])
        children.append(subprocess.Popen(me + ["worker"], stdout=logs, stderr=logs))
        children.append(subprocess.Popen(me + ["cron"], stdout=logs, stderr=logs))
        children.append(
            subprocess.Popen(
                me + ["web", "--host", "127.0.0.1", "--port", str(web_port), "--workers", "1"],
                stdout=logs,
                stderr=logs,
            )
        )
        _wait_for(f"http://127.0.0.1:{web_port}/healthz", "web app", children[-1])
        click.echo(
            "intake311 demo: sandbox city 'Springfield' at "
            f"{sandbox_url}, webhooks at http://127.0.0.1:{web_port}, logs in var/demo.log\n"
            f"The web chat page: http://127.0.0.1:{web_port}/webhooks/webchat/\n"
            f"The staff console: http://127.0.0.1:{web_port}/console/ (first make yourself a "
            "staff account in another terminal: .venv/bin/intake311 staff add NAME --role admin;"
            " then type AGENT here and take the conversation over there)\n"
        )
        if script is None:
            where = "" if sandbox_port == 8311 else f" --url {sandbox_url}"
            click.echo(
                "Text the bot as a resident would, e.g. 'pothole at 120 Main St'.\n"
                "When you have a request number, play the city in another terminal:\n"
                f"  .venv/bin/intake311 sandbox set-status NUMBER closed --notes 'Fixed'{where}\n"
                "and the status update arrives here. /quit to leave.\n"
            )
            run_interactive(ConsoleChat(name, terminal_line, one_line=False))
            return
        # A fresh resident per scripted run, so an earlier run's half-finished report is not met.
        resident = f"{name}-{uuid.uuid4().hex[:8]}"
        chat = ConsoleChat(resident, lambda text: click.echo(f"bot> {text}"), one_line=True)
        lines = [line for line in script if line.strip()]
        for line in lines:
            click.echo(f"you> {line.rstrip()}")
            run_script(chat, [line], timeout=30)
        chat.settle(30)
        closed = _close_filed_requests(sandbox_url, chat.address)
        click.echo(f"(the city closes {closed} request(s) in the sandbox)")
        deadline = time.monotonic() + 10 + 3 * settings.track_interval
        while time.monotonic() < deadline and not chat.print_new():
            time.sleep(0.2)
        chat.settle(10)
    finally:
        for child in reversed(children):
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
