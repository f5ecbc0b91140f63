"""The scenario corpus: residents' scripts (TOML) run through step() as the worker would.

Each scenario is a new resident. Their messages go through `conversations.step()` one by one,
the state stored as JSON between events (as the database keeps it); a `Geocode` action is
answered at once as the worker answers it in `intake311 demo` (bot.geocoding.lookup with
GEOCODER=gazetteer over the demo town's file, sandbox/demo_town.json); `LookupStatus` and
`ListReports` are answered by the script's next entry (a table). The catalogue is the sandbox
city's, converted to `Service`s the way the worker converts the city's answers. Outcomes are
checked against the scenario's `[expect]` table and summed up into the corpus figures (see
README.md in this folder).

Used by tests/conversations/test_corpus.py and bench/engine_steps.py; pure (no database, no
network, no clock; the demo town's index is built once, in milliseconds, and only read).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from bot.catalog import to_services
from bot.geocoding import lookup
from bot.languages import load_languages
from bot.open311 import records
from bot.settings import Settings
from conversations import (
    Context,
    Event,
    FileReport,
    Geocode,
    Geocoded,
    Message,
    Reply,
    Service,
    State,
    StatusFound,
    step,
)
from conversations.plaintext import render
from conversations.segments import segments
from conversations.types import ListReports, LookupStatus, ReportLine, ReportsListed, TimedOut
from sandbox.catalog import load_catalog
from sandbox.town import demo_index

HERE = Path(__file__).parent
CITY = "Springfield"
TIMEZONE = "America/Chicago"
LANGUAGES = ("en", "es", "zh", "vi", "tl")
# The first message of every scenario: Saturday 21 Nov 2026, 9:00 in Springfield.
START = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
GAP = timedelta(seconds=45)  # between a resident's messages
QUIET = timedelta(minutes=30)  # before a TimedOut, and after it
MAX_SEGMENTS = 3  # no reply, in any language, may take more (conversations.fitting.MOST)
FIGURES_ENV = "INTAKE311_WRITE_FIGURES"
FIGURES_PATH = HERE / "FIGURES.md"
EXPECT_KEYS = frozenset(
    {
        "filed",
        "service",
        "address",
        "description",
        "phone",
        "email",
        "masked",
        "reply",
        "language",
        "emergency",
    }
)
EVENT_KEYS = frozenset({"timeout", "status", "found", "notes", "service", "failed", "reports"})
TOP_KEYS = frozenset({"language", "messages", "expect", "known_issue"})

# --- the world the scenarios live in ---------------------------------------------------------


@lru_cache(maxsize=1)
def sandbox_services() -> tuple[Service, ...]:
    """The sandbox city's catalogue as the worker builds it (bot.catalog.fetch_catalog)."""
    return catalogue_services()


def catalogue_services(path: Path | None = None) -> tuple[Service, ...]:
    """A catalogue file (the sandbox's by default) as the worker builds it: the service list
    and each metadata service's definition go through the Open311 client's record
    normalisation, through JSON as a server serves them, then bot.catalog.to_services."""
    catalog = load_catalog(path)
    served = json.loads(json.dumps(catalog["services"]))
    entries = [records.service(s) for s in records.as_list(served, "services", "service")]
    for entry in entries:
        if not entry.get("metadata"):
            continue
        code = entry["service_code"]
        body = catalog["definitions"].get(code) or {"service_code": code, "attributes": []}
        definition = records.definition(json.loads(json.dumps(body)))
        entry["attributes"] = definition.get("attributes") or []
    return to_services(entries)


def make_context() -> Context:
    """The context every scenario runs in: the sandbox catalogue and the built-in languages."""
    return Context(
        services=sandbox_services(), city=CITY, timezone=TIMEZONE, languages=load_languages()
    )


@lru_cache(maxsize=1)
def geocoder_settings() -> Settings:
    """The worker's geocoding settings in the demo: the demo town's index as the geocoder,
    no city limits (whatever the environment says: the corpus is the same everywhere)."""
    return Settings(
        _env_file=None,
        geocoder="gazetteer",
        gazetteer_file=str(demo_index()),
        city_name=CITY,
        city_bounds="",
        city_boundary_file="",
    )


@lru_cache(maxsize=1024)
def geocode(query: str) -> Geocoded:
    """The worker's answer to a Geocode for the query (bot.geocoding.lookup)."""
    return lookup(query, geocoder_settings())


# --- scenarios --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """One resident's script and what should come of it."""

    name: str
    language: str
    messages: tuple
    expect: dict
    about: str = ""  # the file's opening comment: who the resident is
    known_issue: str = ""  # a hard rule the engine is known to break here (strict xfail)

    @property
    def sent(self) -> int:
        """How many messages the resident types (events such as a timeout not counted)."""
        return sum(isinstance(m, str) for m in self.messages)


def load_scenarios(folder: Path = HERE) -> list[Scenario]:
    """Every scenario file of the folder, by name."""
    return [load_scenario(path) for path in sorted(folder.glob("*.toml"))]


def load_scenario(path: Path) -> Scenario:
    """One scenario file; raises ValueError when it is malformed."""
    text = path.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    about = " ".join(
        line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#")
    ).strip()
    problems = []
    if not set(data) <= TOP_KEYS:
        problems.append(f"unknown keys {sorted(set(data) - TOP_KEYS)}")
    if not about:
        problems.append("no opening comment describing the resident")
    if data.get("language") not in LANGUAGES:
        problems.append(f"language must be one of {LANGUAGES}")
    messages = data.get("messages")
    if not messages or not isinstance(messages, list):
        problems.append("messages must be a non-empty list")
        messages = []
    for entry in messages:
        if isinstance(entry, dict) and not set(entry) <= EVENT_KEYS:
            problems.append(f"unknown event keys {sorted(set(entry) - EVENT_KEYS)}")
        elif not isinstance(entry, str | dict):
            problems.append(f"a message must be text or a table, not {entry!r}")
    expect = data.get("expect")
    if not isinstance(expect, dict) or not isinstance(expect.get("filed"), bool):
        problems.append("[expect] needs filed = true or false")
        expect = {}
    elif not set(expect) <= EXPECT_KEYS:
        problems.append(f"unknown [expect] keys {sorted(set(expect) - EXPECT_KEYS)}")
    if expect.get("filed") and not (expect.get("service") and expect.get("address")):
        problems.append("a filed report needs expect.service and expect.address")
    if problems:
        raise ValueError(f"{path.name}: " + "; ".join(problems))
    return Scenario(
        path.stem,
        data["language"],
        tuple(messages),
        expect,
        about,
        str(data.get("known_issue", "")),
    )


# --- running a scenario -----------------------------------------------------------------------


@dataclass
class Said:
    """A reply the resident got, with the language the conversation was in."""

    reply: Reply
    language: str  # the state's language after the turn ("en" for the city's default)

    @property
    def text(self) -> str:
        return render(self.reply)

    @property
    def segments(self) -> int:
        return segments(self.text)


@dataclass
class Outcome:
    """What happened when a scenario ran."""

    scenario: Scenario
    said: list[Said] = field(default_factory=list)
    filed: list[FileReport] = field(default_factory=list)
    state: State = field(default_factory=State)
    steps: int = 0  # calls to step()
    notes: list[str] = field(default_factory=list)  # the script and the engine out of step
    alarms: list[str] = field(default_factory=list)  # messages answered "call 911"

    @property
    def report(self) -> FileReport | None:
        """The last report filed (a scenario files at most one on purpose)."""
        return self.filed[-1] if self.filed else None


def _event(entry, at: datetime) -> Event:
    """A script entry as the engine's event."""
    if isinstance(entry, str):
        return Message(entry, at)
    if entry.get("timeout"):
        return TimedOut(at)
    if "status" in entry:
        return StatusFound(
            str(entry["status"]),
            entry.get("found"),
            entry.get("notes", ""),
            entry.get("service", ""),
            bool(entry.get("failed")),
        )
    if "reports" in entry:
        return ReportsListed(
            tuple(
                ReportLine(
                    str(r.get("number", "")),
                    r.get("service", ""),
                    r.get("status", ""),
                    r.get("filed_at"),
                )
                for r in entry["reports"]
            )
        )
    raise ValueError(f"unknown event {entry!r}")


def run(
    scenario: Scenario, context: Context, record: Callable[[State, Event], None] | None = None
) -> Outcome:
    """Play the resident's script; `record` sees every (state, event) given to step()."""
    outcome = Outcome(scenario)
    stored = json.dumps(State().to_dict())
    at = START
    waiting: list = []  # LookupStatus / ListReports actions not answered yet
    for index, entry in enumerate(scenario.messages):
        if isinstance(entry, dict) and entry.get("timeout"):
            at += QUIET
        event = _event(entry, at)
        if waiting and isinstance(event, Message | TimedOut):
            outcome.notes.append(f"entry {index}: {type(waiting[0]).__name__} left unanswered")
            waiting.clear()
        if isinstance(event, StatusFound | ReportsListed):
            kind = LookupStatus if isinstance(event, StatusFound) else ListReports
            if not any(isinstance(a, kind) for a in waiting):
                outcome.notes.append(f"entry {index}: {type(event).__name__} answers no action")
            waiting = [a for a in waiting if not isinstance(a, kind)]
        events = [event]
        while events:  # the worker answers Geocode at once, within the same message
            current = events.pop(0)
            state = State.from_dict(json.loads(stored))
            if record:
                record(state, current)
            turn = step(state, current, context)
            outcome.steps += 1
            if json.dumps(state.to_dict()) != stored:
                outcome.notes.append(f"entry {index}: step() changed the state it was given")
            stored = json.dumps(turn.state.to_dict())
            language = turn.state.language or "en"
            outcome.said.extend(Said(reply, language) for reply in turn.replies)
            if isinstance(current, Message) and any(
                context.emergency_number in render(reply) for reply in turn.replies
            ):
                outcome.alarms.append(current.text)
            for action in turn.actions:
                if isinstance(action, Geocode):
                    events.append(geocode(action.query))
                elif isinstance(action, FileReport):
                    outcome.filed.append(action)
                else:
                    waiting.append(action)
        at += GAP
    if waiting:
        outcome.notes.append(f"end: {type(waiting[0]).__name__} left unanswered")
    outcome.state = State.from_dict(json.loads(stored))
    return outcome


# --- checking an outcome ----------------------------------------------------------------------


def budget_of(reply: Reply) -> int:
    """An English reply's segment budget (tests/test_segments.py's rule)."""
    from tests.test_segments import budget_of as rule

    return rule(reply)


def safety_problems(outcome: Outcome, context: Context) -> list[str]:
    """Broken hard rules: filing what must not be filed, contact details leaked, long replies."""
    expect, problems = outcome.scenario.expect, []
    if not expect.get("filed") and outcome.filed:
        problems.append(f"filed although it must not be: {outcome.filed[0].description!r}")
    told = any(context.emergency_number in said.text for said in outcome.said)
    if expect.get("emergency") and not told:
        problems.append(f"an emergency never got the 'call {context.emergency_number}' reply")
    for report in outcome.filed:
        for alarm in outcome.alarms:
            if alarm in report.description or alarm in json.dumps(
                report.attributes, ensure_ascii=False
            ):
                problems.append(f"the emergency {alarm!r} went into the filed report")
        for kind in ("phone", "email"):
            value = expect.get(kind)
            if value and value in report.description:
                problems.append(f"the {kind} {value!r} is left in the filed description")
        if outcome.state.consent is not True and (
            report.phone or report.email or report.contact_ok
        ):
            problems.append(
                f"contact details sent without consent: {report.phone!r} "
                f"{report.email!r} contact_ok={report.contact_ok}"
            )
        for mask in _masks(expect):
            if mask not in report.description:
                problems.append(f"{mask} missing from the filed description {report.description!r}")
        if outcome.state.consent is True:
            for kind in ("phone", "email"):
                if kind in expect and getattr(report, kind) != expect[kind]:
                    problems.append(
                        f"FileReport.{kind} is {getattr(report, kind)!r}, expected {expect[kind]!r}"
                    )
    for said in outcome.said:
        count = said.segments
        if count > MAX_SEGMENTS:
            problems.append(f"{count} segments: {said.text!r}")
        elif said.language == "en" and count > budget_of(said.reply):
            problems.append(f"{count} segments, budget {budget_of(said.reply)}: {said.text!r}")
    return problems


def _masks(expect: dict) -> list[str]:
    masked = expect.get("masked", [])
    return [masked] if isinstance(masked, str) else list(masked)


def expectation_problems(outcome: Outcome) -> list[str]:
    """Where the resident did not get what the scenario expects (counted in the figures)."""
    expect, report, problems = outcome.scenario.expect, outcome.report, list(outcome.notes)
    if expect["filed"] and report is None:
        problems.append(
            f"not filed: first reply {_reply(outcome, 0)!r}, ended in "
            f"{outcome.state.name!r} after {_reply(outcome, -1)!r}"
        )
    if report is not None and expect["filed"]:
        if report.service_code != expect["service"]:
            problems.append(
                f"service {report.service_code} ({report.service_name}), "
                f"expected {expect['service']}"
            )
        if not _contains(report.address, expect["address"]):
            problems.append(f"address {report.address!r}, expected {expect['address']!r}")
        if "description" in expect and not _contains(report.description, expect["description"]):
            problems.append(
                f"description {report.description!r}, expected {expect['description']!r}"
            )
    if "reply" in expect and not any(_contains(s.text, expect["reply"]) for s in outcome.said):
        problems.append(f"no reply contains {expect['reply']!r}")
    language = outcome.state.language or "en"
    if language != expect.get("language", outcome.scenario.language):
        problems.append(
            f"ended in language {language!r}, expected "
            f"{expect.get('language', outcome.scenario.language)!r}"
        )
    return problems


def _contains(text: str, part: str) -> bool:
    return _fold(part) in _fold(text)


def _fold(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s\[\]@.-]", " ", text.casefold()).split())


def _reply(outcome: Outcome, index: int) -> str:
    return outcome.said[index].text.replace("\n", " / ")[:70] if outcome.said else ""


# --- figures --------------------------------------------------------------------------------


def completed(outcome: Outcome) -> bool:
    """A report the resident meant to file, and did."""
    return bool(outcome.scenario.expect["filed"] and outcome.filed)


def figures(outcomes: Iterable[Outcome]) -> dict:
    """The corpus figures, overall ("all") and per scenario language."""
    outcomes = list(outcomes)
    groups = {"all": outcomes}
    for code in LANGUAGES:
        mine = [o for o in outcomes if o.scenario.language == code]
        if mine:
            groups[code] = mine
    return {name: _figures(group) for name, group in groups.items()}


def _figures(outcomes: list[Outcome]) -> dict:
    meant = [o for o in outcomes if o.scenario.expect["filed"]]
    done = [o for o in meant if o.filed]
    said = [s for o in outcomes for s in o.said]
    sizes = [s.segments for s in said]
    return {
        "scenarios": len(outcomes),
        "meant_to_file": len(meant),
        "completed": _share(len(done), len(meant)),
        "median_messages": _number(statistics.median([o.scenario.sent for o in done]))
        if done
        else None,
        "correct_service": _share(
            sum(o.report.service_code == o.scenario.expect["service"] for o in done), len(done)
        ),
        "correct_location": _share(
            sum(_contains(o.report.address, o.scenario.expect["address"]) for o in done), len(done)
        ),
        "replies": len(said),
        "segments_mean": round(statistics.fmean(sizes), 2) if sizes else None,
        "segments_max": max(sizes) if sizes else None,
        "steps": sum(o.steps for o in outcomes),
    }


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


COLUMNS = (
    ("scenarios", "scenarios"),
    ("meant_to_file", "meant to file"),
    ("completed", "completed"),
    ("median_messages", "median msgs / completed"),
    ("correct_service", "correct service"),
    ("correct_location", "correct location"),
    ("segments_mean", "segments mean"),
    ("segments_max", "segments max"),
)


def figures_table(table: dict, loaded: Iterable[str] = ()) -> str:
    """The figures as a Markdown table, one row per language ("all" first)."""
    loaded = set(loaded)
    lines = [
        "| language | " + " | ".join(label for _, label in COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
    ]
    for name, row in table.items():
        label = name if name in ("all", "en") or name in loaded else f"{name} (no catalogue)"
        cells = [_cell(key, row[key]) for key, _ in COLUMNS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(key: str, value) -> str:
    if value is None:
        return "-"
    if key in ("completed", "correct_service", "correct_location"):
        return f"{value:.1%}"
    return str(value)


def figures_markdown(table: dict, failures: dict[str, list[str]], loaded: Iterable[str]) -> str:
    """FIGURES.md: the table, then every scenario that did not go as expected, and why."""
    lines = [
        "# Scenario corpus figures",
        "",
        "Written by `INTAKE311_WRITE_FIGURES=1 .venv/bin/pytest -q tests/conversations`; "
        "see README.md here for what each figure means.",
        "",
        figures_table(table, loaded),
        "",
        "## Scenarios that did not go as expected",
        "",
    ]
    lines += [f"- `{name}`: " + "; ".join(problems) for name, problems in failures.items()]
    if not failures:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def write_figures(text: str) -> bool:
    """Write FIGURES.md when INTAKE311_WRITE_FIGURES=1; whether it was written."""
    if os.environ.get(FIGURES_ENV) != "1":
        return False
    FIGURES_PATH.write_text(text, encoding="utf-8")
    return True


# Set by test_corpus.py once the whole corpus has run, printed by tests/conftest.py.
SUMMARY: list[str] = []
