"""The city's past reports as the model's examples (bot.understanding's vote, `intake311
understanding learn|show`), with the real model and the real sandbox city."""

from __future__ import annotations

import json
import logging
import socket
import time

import httpx
import pytest
from click.testing import CliRunner

from bot import past_reports, problems, understanding
from bot.cli import main
from bot.settings import Settings, get_settings
from conversations.matching import pick_service
from conversations.types import Service
from sandbox.app import create_sandbox_app
from sandbox.server import serve

MODEL = Settings(understanding="model", redis_url="")  # no Redis: each test process embeds
# A catalogue in a clerk's words: nothing in it says "lawn" or "grass".
SERVICES = (
    Service(
        code="CE-1",
        name="Property Standards",
        description="Violations of the property maintenance code.",
    ),
    Service(code="SW-2", name="Solid Waste", description="Collection services."),
    Service(
        code="PW-3", name="Right-of-Way", description="Obstructions in the public right-of-way."
    ),
    Service(code="AN-4", name="Animal Services", description="Animal related concerns."),
)
# Past reports in residents' words.
EXAMPLES = (
    ("CE-1", "the yard next door is overgrown, weeds as tall as me"),
    ("CE-1", "grass at the empty house hasn't been mowed all summer"),
    ("CE-1", "tall weeds and brush all over the vacant lot"),
    ("SW-2", "my garbage was not picked up this week"),
    ("SW-2", "recycling cart skipped again on our street"),
    ("SW-2", "trash truck missed our bins on Tuesday"),
    ("PW-3", "a car is parked across the sidewalk every night"),
    ("PW-3", "construction signs left blocking the bike lane"),
    ("AN-4", "a loose dog keeps chasing kids at the bus stop"),
    ("AN-4", "dead raccoon lying in the gutter"),
)
LAWN = "the lawn across the street is knee high, nobody has cut it in months"
TEXTS = (LAWN, "nobody came for our bins today", "stray cat living under my porch")


def first(text: str, similar) -> str | None:
    """The engine's first suggestion: the service taken, or the shortlist's first."""
    pick = pick_service(text, SERVICES, None, similar)
    if pick.winner:
        return pick.winner.code
    return pick.shortlist[0].code if pick.shortlist else None


def plain_cosines(text: str) -> dict[str, float]:
    """The similarities as bot.understanding computes them without examples: each service's
    row the mean of its name's and its description's embeddings, against the text's, or the
    closest text of the common problems (bot/problems.py) that belong to it when closer."""
    import numpy as np

    e5 = understanding.model()
    names = e5.query([s.name for s in SERVICES])
    rows = (names + e5.query([understanding.describe(s) for s in SERVICES])) / 2
    vector = e5.query(text)
    bank = e5.query(problems.texts()[0])
    owners = problems.owners_of(bank, rows)
    scores = np.maximum(rows @ vector, problems.closest(bank @ vector, owners, len(SERVICES)))
    return {s.code: float(score) for s, score in zip(SERVICES, scores, strict=True)}


def test_past_reports_put_the_right_service_first_where_the_catalogue_alone_does_not():
    alone = understanding.similarity_for(SERVICES, MODEL)
    taught = understanding.similarity_for(SERVICES, MODEL, examples=EXAMPLES)
    assert first(LAWN, alone) != "CE-1"
    assert first(LAWN, taught) == "CE-1"
    scores = taught(LAWN)
    assert max(scores, key=scores.__getitem__) == "CE-1"
    # The vote only adds: at most WEIGHT over the cosine, never below it.
    for code, cosine in alone(LAWN).items():
        assert cosine <= scores[code] <= cosine + understanding.WEIGHT + 1e-6


@pytest.mark.parametrize("text", TEXTS)
def test_without_examples_the_numbers_are_the_cosines_as_before(text):
    expected = plain_cosines(text)
    for similar in (
        understanding.similarity_for(SERVICES, MODEL),
        understanding.similarity_for(SERVICES, MODEL, examples=()),
        understanding.similarity_for(SERVICES, Settings(understanding="model", examples_file="")),
    ):
        assert similar is not None
        got = similar(text)
        assert got.keys() == expected.keys()
        for code in expected:
            assert got[code] == pytest.approx(expected[code], abs=1e-6)


def test_examples_of_services_not_in_the_catalogue_are_ignored():
    # The very text, filed under a service this city no longer has: no vote at all.
    unknown = [("GONE-9", LAWN), ("GONE-9", "the lawn is knee high"), ("", LAWN)]
    alone = understanding.similarity_for(SERVICES, MODEL)(LAWN)
    with_unknown = understanding.similarity_for(SERVICES, MODEL, examples=unknown)(LAWN)
    assert with_unknown == pytest.approx(alone, abs=1e-6)
    assert "GONE-9" not in with_unknown
    mixed = understanding.similarity_for(SERVICES, MODEL, examples=[*unknown, *EXAMPLES])
    taught = understanding.similarity_for(SERVICES, MODEL, examples=EXAMPLES)
    assert mixed(LAWN) == pytest.approx(taught(LAWN), abs=1e-6)


def test_examples_from_the_file_are_read_and_their_embeddings_kept(tmp_path):
    path = tmp_path / "examples.jsonl"
    lines = [json.dumps({"service_code": c, "text": t}) for c, t in EXAMPLES]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = Settings(understanding="model", examples_file=str(path))
    similar = understanding.similarity_for(SERVICES, settings)
    assert first(LAWN, similar) == "CE-1"
    assert past_reports.vectors_path(path).exists()
    # A changed file is read again: without the lawn examples the lawn is no longer theirs.
    time.sleep(0.01)
    path.write_text("\n".join(lines[3:]) + "\n", encoding="utf-8")
    assert first(LAWN, understanding.similarity_for(SERVICES, settings)) != "CE-1"


@pytest.mark.parametrize(
    "content", [None, "not json at all\n", '{"service_code": "CE-1"}\n', '{"text": 3}\n']
)
def test_a_missing_or_broken_examples_file_warns_and_falls_back(tmp_path, caplog, content):
    path = tmp_path / "examples.jsonl"
    if content is not None:
        path.write_text(json.dumps({"service_code": "CE-1", "text": LAWN}) + "\n" + content)
    settings = Settings(understanding="model", examples_file=str(path))
    with caplog.at_level(logging.WARNING, logger="bot.understanding"):
        similar = understanding.similarity_for(SERVICES, settings)
    assert [r.getMessage() for r in caplog.records if "EXAMPLES_FILE" in r.getMessage()]
    assert similar(LAWN) == pytest.approx(plain_cosines(LAWN), abs=1e-6)


# --- intake311 understanding learn | show, against the sandbox city ------------------------

TRASH, SIGN, WATER = "001", "003", "WTR-301"  # sandbox services with no required questions
KEY = "learn-key-not-to-be-printed"


@pytest.fixture
def city(tmp_path, servers, monkeypatch):
    """A fresh sandbox city with past requests, and the settings pointing at it."""
    server = serve(create_sandbox_app(str(tmp_path / "city.sqlite3"), api_key=KEY))
    servers.append(server)
    for code, description in [
        (TRASH, "Trash was not picked up, call me at 555-123-4567 or mail a.b@example.org"),
        (TRASH, "Trash   was not picked up, call me at (555) 123-4567 or mail a.b@example.org"),
        (SIGN, "The stop sign at the corner is bent flat"),
        (SIGN, "bent sign"),  # too short to say more than the catalogue
        (WATER, "Water bubbling up from the street " + "and flooding the gutter " * 40),
        (SIGN, "the stop  sign at the corner is bent flat"),  # the same text again
    ]:
        httpx.post(
            f"{server.url}/open311/v2/requests.json",
            data={
                "api_key": KEY,
                "service_code": code,
                "lat": "39.8",
                "long": "-89.645",
                "description": description,
            },
            timeout=5,
        ).raise_for_status()
    monkeypatch.setenv("OPEN311_ENDPOINT", f"{server.url}/open311/v2/")
    monkeypatch.setenv("OPEN311_API_KEY", KEY)
    monkeypatch.setenv("OPEN311_PROFILE", "sandbox")
    monkeypatch.setenv("EXAMPLES_FILE", str(tmp_path / "examples.jsonl"))
    get_settings.cache_clear()
    yield server
    get_settings.cache_clear()


def test_learn_writes_masked_deduplicated_examples_from_the_citys_requests(city, tmp_path):
    done = CliRunner().invoke(main, ["understanding", "learn"])
    assert done.exit_code == 0, done.output
    path = tmp_path / "examples.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert sorted(row["service_code"] for row in rows) == [TRASH, SIGN, WATER], done.output
    by_code = {row["service_code"]: row["text"] for row in rows}
    trash = by_code[TRASH]
    assert "555" not in trash and "example.org" not in trash
    assert trash.startswith("Trash was not picked up, call me at ")
    assert by_code[SIGN].casefold() == "the stop sign at the corner is bent flat"
    assert len(by_code[WATER]) <= 500 and "  " not in by_code[WATER]
    assert "3  in all, 3 service(s)" in done.output
    assert KEY not in done.output
    assert past_reports.vectors_path(path).exists()
    assert path.stat().st_mode & 0o777 == 0o600  # residents' words: this user's only

    shown = CliRunner().invoke(main, ["understanding", "show"])
    assert shown.exit_code == 0, shown.output
    assert "3  in all, 3 service(s)" in shown.output
    assert f"     1  {TRASH}" in shown.output


def test_learn_with_the_server_down_is_one_line_and_a_failure(city, tmp_path, monkeypatch):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    monkeypatch.setenv("OPEN311_ENDPOINT", f"http://127.0.0.1:{port}/open311/v2/")
    get_settings.cache_clear()
    done = CliRunner().invoke(main, ["understanding", "learn"])
    assert done.exit_code == 1
    lines = done.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.output
    assert "Traceback" not in done.output and KEY not in done.output
    assert not (tmp_path / "examples.jsonl").exists()


def test_show_without_a_file_is_one_line_and_a_failure(tmp_path):
    done = CliRunner().invoke(main, ["understanding", "show", "--file", str(tmp_path / "no")])
    assert done.exit_code == 1
    assert done.output.strip().startswith("error: cannot read")
    assert len(done.output.strip().splitlines()) == 1
