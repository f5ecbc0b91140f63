"""`intake311 understanding learn|show`: the city's past reports as examples for the model.

`learn` reads the city's past requests (GET requests, with the project's Open311 client) and
keeps, as EXAMPLES_FILE's JSONL lines {"service_code", "text"}, those of a service in today's
catalogue whose description says something (3 words or more), with phones and emails masked;
bot.understanding then lets the closest past texts vote for their services.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import timedelta
from pathlib import Path

import click

DEFAULT_OUT = "var/examples.jsonl"
MIN_WORDS = 3  # "pothole" alone says no more than the catalogue does
MAX_CHARS = 500  # a past report's first characters say what it was about
WINDOW = timedelta(days=90)  # GeoReport v2 servers may answer at most 90 days per query


@click.group("understanding")
def understanding_group() -> None:
    """The model's examples: the city's own past reports."""


def _settings():
    from bot.settings import get_settings

    try:
        return get_settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        from bot.cli.open311 import _settings_error

        _fail(f"the settings cannot be read: {_settings_error(exc)}")


def _fail(line: str, secret: str = "") -> None:
    """One line on stderr (the key, if it appears, masked), and exit 1."""
    if secret:
        line = line.replace(secret, "***")
    click.echo(f"error: {' '.join(line.split())}", err=True)
    raise SystemExit(1)


def clean(description: object) -> str | None:
    """A past description as an example: contacts masked, whitespace collapsed, cut to
    MAX_CHARS; None when it has fewer than MIN_WORDS words."""
    from conversations.privacy import mask_contacts

    if not isinstance(description, str):
        return None
    text = " ".join(mask_contacts(description)[0].split())[:MAX_CHARS].strip()
    return text if len(text.split()) >= MIN_WORDS else None


def examples_from(records: list[dict], known: set[str], limit: int) -> list[dict]:
    """The records as examples: a known service, a description that says something, each
    text once (the first seen), at most `limit`."""
    found: list[dict] = []
    seen: set[str] = set()
    for record in records:
        code = str(record.get("service_code") or "")
        text = clean(record.get("description"))
        if code not in known or text is None or text.casefold() in seen:
            continue
        seen.add(text.casefold())
        found.append({"service_code": code, "text": text})
        if len(found) >= limit:
            break
    return found


def write_jsonl(path: Path, rows: list[dict]) -> None:
    """Write the rows as JSONL, atomically (a reader sees the old file or the new one), readable
    by this user only: residents' words, even masked, are personal data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(descriptor, "w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _counts(rows: list[tuple[str, str]], names: dict[str, str]) -> None:
    """How many examples each service has, most first."""
    counts = Counter(code for code, _ in rows)
    for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        name = names.get(code)
        click.echo(f"{count:6d}  {code}" + (f"  {name}" if name else ""))
    click.echo(f"{len(rows):6d}  in all, {len(counts)} service(s)")


@understanding_group.command("learn")
@click.option("--days", default=365, show_default=True, type=click.IntRange(min=1))
@click.option("--limit", default=5000, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--out",
    default=None,
    type=click.Path(dir_okay=False),
    help=f"The JSONL to write (default EXAMPLES_FILE, else {DEFAULT_OUT}).",
)
def learn(days: int, limit: int, out: str | None) -> None:
    """Read the city's past requests (the last DAYS) and keep them as the model's examples."""
    from bot.jobs.common import open311_client
    from bot.open311.client import Open311Error
    from bot.timeutil import utcnow

    settings = _settings()
    path = Path(out or settings.examples_file or DEFAULT_OUT)
    secret = settings.open311_api_key
    client = open311_client(settings)
    records: list[dict] = []
    try:
        catalogue = client.services()
        names = {str(s.get("service_code")): str(s.get("service_name") or "") for s in catalogue}
        # A little past now: dates are sent to the second, and the city's clock may be ahead.
        end = utcnow() + timedelta(hours=1)
        start = utcnow() - timedelta(days=days)
        while end > start and len(examples_from(records, set(names), limit)) < limit:
            since = max(start, end - WINDOW)
            records.extend(client.requests_query(start_date=since, end_date=end))
            end = since
    except Open311Error as exc:
        _fail(f"the city's server ({settings.open311_endpoint}): {exc}", secret)
    finally:
        client.close()
    rows = examples_from(records, set(names), limit)
    try:
        write_jsonl(path, rows)
    except OSError as exc:
        _fail(f"cannot write {path}: {exc.strerror or exc}")
    click.echo(f"{len(records)} past requests read, {len(rows)} kept as examples in {path}")
    _counts([(row["service_code"], row["text"]) for row in rows], names)
    _embed(path, settings)


def _embed(path: Path, settings) -> None:
    """Embed the examples now (kept beside the file), so the bot's first turn need not."""
    from bot import past_reports, understanding

    if settings.understanding != "model" or understanding.model() is None:
        return
    examples = past_reports.read_examples(path)
    texts = [understanding._clean(text) for _, text in examples]
    if texts:
        understanding._example_vectors(
            texts, understanding.model(), past_reports.vectors_path(path)
        )
        click.echo(f"embedded into {past_reports.vectors_path(path)}")


@understanding_group.command("show")
@click.option(
    "--file",
    "file_",
    default=None,
    type=click.Path(dir_okay=False),
    help=f"The JSONL to read (default EXAMPLES_FILE, else {DEFAULT_OUT}).",
)
def show(file_: str | None) -> None:
    """How many examples each service has."""
    from bot.past_reports import read_examples

    path = Path(file_ or _settings().examples_file or DEFAULT_OUT)
    try:
        rows = read_examples(path)
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror or exc}")
    except ValueError as exc:
        _fail(f"{path}: {exc}")
    click.echo(f"{path}:")
    _counts(list(rows), {})
