"""`intake311 sandbox`: run the local Open311 + Nominatim sandbox, or poke a running one."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import httpx

from sandbox.answers import ERROR_SHAPES
from sandbox.app import NOMINATIM_PREFIX, OPEN311_PREFIX, create_sandbox_app, switches_on
from sandbox.faults import DEFAULT_DELAY, MODES
from sandbox.open311 import PAGE_PAST_END
from sandbox.store import ID_STYLES

DEFAULT_URL = "http://127.0.0.1:8311"


@click.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8311, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--db",
    "db_path",
    default="./var/sandbox.sqlite3",
    show_default=True,
    help="SQLite file for the sandbox's requests (its folder is created).",
)
@click.option("--api-key", default="", help="Require this api_key on POST requests.")
@click.option(
    "--catalog",
    "catalog_path",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="A services catalogue JSON file instead of the bundled one.",
)
@click.option("--token-mode", is_flag=True, help="Answer POSTs with a token, the id comes later.")
@click.option(
    "--token-delay",
    default=3.0,
    show_default=True,
    type=float,
    help="Seconds before a token resolves to an id (with --token-mode).",
)
@click.option(
    "--definitions",
    "definitions_path",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="Service definitions JSON (a mapping by service_code, or a list) for --catalog.",
)
@click.option(
    "--page-size",
    default=0,
    type=int,
    help="Page GET requests (page, page_size) with this many per page.",
)
@click.option(
    "--errors-with-200",
    is_flag=True,
    help="Answer errors with HTTP 200 and the error list as the body.",
)
@click.option(
    "--formats",
    default="json,xml",
    show_default=True,
    help='Formats served: "json,xml", or "xml" for an XML-only server.',
)
@click.option("--slow", default=0.0, type=float, help="Seconds to wait before every answer.")
@click.option(
    "--require-jurisdiction",
    default="",
    metavar="ID",
    help="Refuse calls without jurisdiction_id=ID (400 missing, 404 wrong).",
)
@click.option("--drop-empty", is_flag=True, help="Leave null and empty fields out of answers.")
@click.option(
    "--updates",
    is_flag=True,
    help="Serve servicerequestupdates (mySociety) from admin status changes.",
)
@click.option(
    "--accept-only",
    default="",
    metavar="TYPE",
    help="Answer that format with this media type and 406 (DRF) when Accept does not allow it.",
)
@click.option("--list-root", default="", metavar="NAME", help="Root of XML request lists.")
@click.option(
    "--json-wrap", default="", metavar="KEY", help='JSON request lists as {"KEY": [...]}.'
)
@click.option(
    "--error-shape",
    default="spec",
    show_default=True,
    type=click.Choice(ERROR_SHAPES),
    help="Body of errors: the spec's list, DRF's, field errors, message, text or HTML.",
)
@click.option(
    "--page-past-end",
    default="empty",
    show_default=True,
    type=click.Choice(PAGE_PAST_END),
    help='A page past the last (with --page-size): empty, or 404 {"detail": "Invalid page."}.',
)
@click.option(
    "--id-style",
    default="dashed",
    show_default=True,
    type=click.Choice(ID_STYLES),
    help="New ids: 2026-000123, 8 lowercase letters or plain digits.",
)
@click.option(
    "--expected-on-create",
    default=0.0,
    type=click.FloatRange(min=0.0),
    metavar="HOURS",
    help="Set expected_datetime to creation + HOURS on every new request.",
)
@click.option("--moderated", is_flag=True, help="Hide new requests until moderated (admin).")
@click.option(
    "--moderate-after",
    default=0.0,
    type=click.FloatRange(min=0.0),
    metavar="SECONDS",
    help="Hide new requests for SECONDS, then publish them by themselves.",
)
@click.option(
    "--store-delay",
    default=0.0,
    type=click.FloatRange(min=0.0),
    metavar="SECONDS",
    help="Store a POST's request only after SECONDS, then answer it.",
)
@click.option(
    "--ignore-address",
    is_flag=True,
    help="Do not read address_string: a POST without lat/long is an HTTP 500.",
)
@click.option(
    "--address-field",
    default="address_string",
    show_default=True,
    metavar="NAME",
    help="The form field the typed address is read from.",
)
@click.pass_context
def sandbox(ctx, host, port, db_path, api_key, catalog_path, token_mode, token_delay, **quirks):
    """Run a local GeoReport v2 server and Nominatim geocoder (no internet needed)."""
    if ctx.invoked_subcommand is not None:
        return
    from sandbox.server import ServerThread

    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    app = create_sandbox_app(
        db_path,
        api_key=api_key,
        catalog_path=catalog_path,
        token_mode=token_mode,
        token_delay=token_delay,
        **quirks,
    )
    server = ServerThread(app, host, port)
    base = server.url
    click.echo(f"Open311 endpoint:  {base}{OPEN311_PREFIX}/")
    click.echo(f"Geocoder domain:   {server.host}:{server.port}{NOMINATIM_PREFIX}  (scheme http)")
    click.echo(f"Admin:             POST {base}/admin/requests/<id>/status")
    click.echo(f"                   POST {base}/admin/requests/<id>/moderate")
    click.echo(f"POSTs received:    GET {base}/admin/posts")
    click.echo(f"Faults:            POST {base}/admin/faults  (intake311 sandbox faults)")
    click.echo(f"Database:          {db_path}" + ("  (token mode)" if token_mode else ""))
    switches = switches_on(app.extensions["sandbox"])
    if switches:
        click.echo(f"Quirks:            {', '.join(switches)}")
    click.echo("Press Ctrl+C to stop.")
    server.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        click.echo("Stopping.")
    finally:
        server.stop()


@sandbox.command("set-status")
@click.argument("service_request_id")
@click.argument("status", type=click.Choice(["open", "closed"], case_sensitive=False))
@click.option("--notes", default=None, help="status_notes to show the resident.")
@click.option("--url", default=DEFAULT_URL, show_default=True, help="The running sandbox.")
def set_status(service_request_id, status, notes, url):
    """Change a sandbox request's status (as a city worker would)."""
    data = {"status": status.lower()}
    if notes is not None:
        data["status_notes"] = notes
    body = _post_admin(url, f"admin/requests/{service_request_id}/status", list, data=data)
    click.echo(json.dumps(body[0], indent=2))


@sandbox.command("moderate")
@click.argument("service_request_id")
@click.option("--url", default=DEFAULT_URL, show_default=True, help="The running sandbox.")
def moderate(service_request_id, url):
    """Publish a request hidden by --moderated (as a city moderator would)."""
    body = _post_admin(url, f"admin/requests/{service_request_id}/moderate", list)
    click.echo(json.dumps(body[0], indent=2))


@sandbox.command("faults")
@click.argument("mode", type=click.Choice(list(MODES), case_sensitive=False))
@click.option(
    "--rate",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="Probability that a request is hit.",
)
@click.option(
    "--seconds",
    default=None,
    type=click.FloatRange(min=0.0, min_open=True),
    help="Turn the fault off by itself after this many seconds.",
)
@click.option(
    "--delay",
    default=DEFAULT_DELAY,
    show_default=True,
    type=float,
    help="Seconds a timeout fault holds the answer.",
)
@click.option("--url", default=DEFAULT_URL, show_default=True, help="The running sandbox.")
def faults(mode, rate, seconds, delay, url):
    """Make a running sandbox's Open311 answers fail: 500, timeout, errors200, or none."""
    payload = {"mode": mode.lower(), "rate": rate, "delay": delay}
    if seconds is not None:
        payload["seconds"] = seconds
    click.echo(json.dumps(_post_admin(url, "admin/faults", dict, json=payload), indent=2))


def _post_admin(url: str, path: str, shape: type, **send):
    """POST to a running sandbox's admin route; its JSON answer (a non-empty `shape`), or exit
    with the sandbox's own words (2: unreachable, 1: refused)."""
    try:
        response = httpx.post(f"{url.rstrip('/')}/{path}", timeout=5.0, **send)
    except httpx.HTTPError as exc:
        click.echo(
            f"Cannot reach the sandbox at {url} ({type(exc).__name__}): is it running?", err=True
        )
        sys.exit(2)
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, shape) or not body:
        detail = body[0].get("description") if isinstance(body, list) and body else response.text
        click.echo(f"Failed (HTTP {response.status_code}): {detail}", err=True)
        sys.exit(1)
    return body
