"""Real residents' texts played through the conversation engine by a simulated resident.

Each row of `residents.jsonl` is a new resident: its text is the first message of a new
conversation; then the resident answers whatever the bot asks, reading only the reply's
`expects` and the state's name (see README.md here for the rules), until a report is filed or
they have sent MAX_TEXTS texts. `Geocode` actions are answered at once with one exact place for
the query, so the figures measure understanding, not the geocoder.

    .venv/bin/python -m tests.evaluation.simulate --split tuning [--model|--fuzzy] [--failures]
    .venv/bin/python -m tests.evaluation.simulate --split heldout --write

The heldout split is run only to report aggregate figures: nothing here prints its rows.
Pure: no database, no network, no clock (the date in FIGURES.md aside).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

from bot.languages import load_languages
from bot.settings import Settings
from conversations import (
    Context,
    FileReport,
    Geocode,
    Geocoded,
    Message,
    Place,
    Reply,
    Service,
    State,
    prompts,
    step,
)
from conversations.plaintext import render
from conversations.states import StateName
from tests.conversations.corpus import GAP, START, catalogue_services

HERE = Path(__file__).parent
RESIDENTS_PATH = HERE / "residents.jsonl"
CATALOG_PATH = HERE / "catalog.json"
FIGURES_PATH = HERE / "FIGURES.md"
CITY = "Bloomington"
TIMEZONE = "America/Indiana/Indianapolis"
SPLITS = ("tuning", "heldout")
MAX_TEXTS = 15  # a resident gives up after this many texts
# The model as a measurement sees it: no environment, no shared Redis, no EXAMPLES_FILE.
MEASURING = Settings(_env_file=None, understanding="model", redis_url="", examples_file="")
ADDRESS = "120 Main St"  # the resident's answer to "where is it?" when their text had none
WHERE = (39.1653, -86.5264)  # every geocoded place (downtown Bloomington)
# The resident's answer to a service question, by datatype ("1": the first option).
ANSWERS = {
    "singlevaluelist": "1",
    "multivaluelist": "1",
    "number": "2",
    "datetime": "yesterday",
    "string": "about a week now",
    "text": "about a week now",
}
# A street address as a resident would spot one: a house number, a few words, a street type.
# The evaluator's own rule, on purpose not the engine's (conversations.addresses).
_HOUSE_ADDRESS = re.compile(
    r"\b\d{1,6}[a-z]?\s+(?:[nsew]\.?\s+)?(?:[a-z0-9'.]+\s+){0,3}?"
    r"(?:st|street|ave|avenue|rd|road|blvd|boulevard|dr|drive|ln|lane|way|ct|court|pl|place"
    r"|ter|terrace|pkwy|parkway|hwy|highway|cir|circle|trl|trail|pike)\b\.?",
    re.IGNORECASE,
)


# --- the world ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resident:
    """One row of residents.jsonl."""

    id: str
    text: str
    language: str
    service_code: str
    split: str


def load_residents(split: str | None = None) -> list[Resident]:
    """The rows of residents.jsonl, of one split or all."""
    rows = []
    for line in RESIDENTS_PATH.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        data = json.loads(line)
        row = Resident(
            data["id"],
            data["text"],
            data.get("language") or "en",
            str(data["service_code"]),
            data["split"],
        )
        if split is None or row.split == split:
            rows.append(row)
    return rows


@lru_cache(maxsize=1)
def evaluation_services() -> tuple[Service, ...]:
    """catalog.json as the worker builds a catalogue (as the scenario corpus builds the
    sandbox's)."""
    return catalogue_services(CATALOG_PATH)


Similar = Callable[[str], Mapping[str, float]]


class Counted:
    """A similarity function that counts how often the engine asked it."""

    def __init__(self, similar: Similar) -> None:
        self.similar = similar
        self.calls = 0

    def __call__(self, text: str) -> Mapping[str, float]:
        self.calls += 1
        return self.similar(text)


def load_similar(
    services: tuple[Service, ...], examples: list[Resident] | None = None
) -> tuple[Counted | None, str]:
    """The sentence-embedding similarity from bot.understanding (counting its calls), and
    the matcher's name; (None, why) when that module or its model is not there.

    With `examples` (rows standing for the city's past reports) the similarity votes with
    them; a resident among them is left out of the examples their own text is matched with
    (leave-one-out): bot.understanding embeds each example's text once, whatever the set."""
    try:
        from bot.understanding import similarity_for
    except ImportError:
        return None, "fuzzy (bot.understanding not importable)"
    similar = similarity_for(services, MEASURING, examples=())
    if similar is None:
        return None, "fuzzy (bot.understanding gives no model)"
    if examples is None:
        return Counted(similar), "model (bot.understanding.similarity_for)"
    return Counted(LeaveOneOut(services, examples)), "model with examples"


class LeaveOneOut:
    """A similarity whose examples are `examples` minus the row whose text is asked about.

    Rows are told apart by their text (the engine passes the resident's words, not an id):
    every row with that exact text is left out, so a duplicate cannot give its own answer."""

    def __init__(self, services: tuple[Service, ...], examples: list[Resident]) -> None:
        from bot.understanding import similarity_for

        self.make = lambda pairs: similarity_for(services, MEASURING, examples=pairs)
        self.examples = [(row.service_code, row.text) for row in examples]
        self.texts = {" ".join(row.text.split()) for row in examples}
        self.every = self.make(self.examples)
        self.cache: dict[str, Similar | None] = {}

    def __call__(self, text: str) -> Mapping[str, float]:
        said = " ".join(text.split())
        if said not in self.texts:
            similar = self.every
        else:
            if said not in self.cache:
                kept = [(c, t) for c, t in self.examples if " ".join(t.split()) != said]
                self.cache[said] = self.make(kept)
            similar = self.cache[said]
        return similar(text) if similar is not None else {}


def matcher_note(matcher: str, similar: Counted | None) -> str:
    """The matcher's name, with how often the engine consulted the model."""
    if similar is None:
        return matcher
    return f"{matcher}, consulted {similar.calls} times"


def make_context(similar: Similar | None = None) -> Context:
    """The Bloomington catalogue, the five built-in languages, and the optional model."""
    return Context(
        services=evaluation_services(),
        city=CITY,
        timezone=TIMEZONE,
        languages=load_languages(),
        similar=similar,
    )


def geocode(query: str) -> Geocoded:
    """One exact place for any query: the geocoder is not what is measured."""
    place = Place(address=query.strip().title(), lat=WHERE[0], lon=WHERE[1], exact=True)
    return Geocoded(query, (place,))


def house_address(text: str) -> str | None:
    """The street address a resident's text holds, by the evaluator's rule (None if none)."""
    found = _HOUSE_ADDRESS.search(text)
    return found[0].strip() if found else None


# --- playing one resident -------------------------------------------------------------------


@dataclass
class Played:
    """What happened to one resident."""

    resident: Resident
    texts: list[str] = field(default_factory=list)  # what the resident sent, in order
    first_taken: str | None = None  # the service the bot took at the first text
    first_offered: list[str] = field(default_factory=list)  # the options of its first reply
    first_menu: bool = False  # the first reply was the full menu
    first_reply: str = ""
    saw_menu: bool = False  # the full menu was shown at some point
    emergency: bool = False  # told to call the emergency number (nothing else to answer)
    language: str = "en"  # the language the bot spoke at the end
    menu_texts: int = 0  # MORE / OTHER / group numbers sent to find the service
    filed: FileReport | None = None
    end: str = ""  # the state when the resident stopped
    stuck: str = ""  # why the resident stopped without filing

    @property
    def completed(self) -> bool:
        return self.filed is not None

    @property
    def one_shot(self) -> bool:
        """The first text already said where."""
        return house_address(self.resident.text) is not None

    @property
    def first_suggestion(self) -> str | None:
        """The service the bot took, or the first it offered, at the first text."""
        if self.first_taken:
            return self.first_taken
        return self.first_offered[0] if self.first_offered else None

    @property
    def right_first(self) -> bool:
        return self.first_suggestion == self.resident.service_code

    @property
    def in_shortlist(self) -> bool:
        """Taken, or among the options of the bot's first reply."""
        true = self.resident.service_code
        return self.first_taken == true or (not self.first_taken and true in self.first_offered)

    @property
    def in_real_shortlist(self) -> bool:
        """Taken, or among the options of a first reply that was a shortlist (not the menu,
        whose first page is the catalogue's order, not a guess)."""
        return self.in_shortlist and not self.first_menu

    @property
    def filed_right(self) -> bool:
        return self.filed is not None and self.filed.service_code == self.resident.service_code


def _is_menu(state: State) -> bool:
    """The service state shows the full menu (a page, a group's page, or the groups), not a
    shortlist of the bot's suggestions."""
    draft = state.draft
    return state.name == StateName.SERVICE and (
        draft.page is not None or bool(draft.groups) or bool(draft.group)
    )


def play(resident: Resident, context: Context) -> Played:
    """The resident's text, then their answers to whatever the bot asks, until filed."""
    played = Played(resident)
    state = State()
    message: str | None = resident.text
    at = START
    while message is not None and len(played.texts) < MAX_TEXTS:
        played.texts.append(message)
        replies: list[Reply] = []
        events: list = [Message(message, at)]
        while events:  # Geocode is answered at once, within the same text
            turn = step(state, events.pop(0), context)
            state = turn.state
            replies.extend(turn.replies)
            for action in turn.actions:
                if isinstance(action, Geocode):
                    events.append(geocode(action.query))
                elif isinstance(action, FileReport):
                    played.filed = action
        at += GAP
        if _emergency(context, state) in replies:
            played.emergency = True
        if len(played.texts) == 1:
            _first(played, state, replies)
        if _is_menu(state):
            played.saw_menu = True
        if played.filed is not None:
            break
        message = _answer(played, state, replies, context)
    played.end = state.name
    played.language = state.language or "en"
    if played.filed is None and not played.stuck:
        played.stuck = f"gave up after {MAX_TEXTS} texts in {state.name}"
    return played


def _emergency(context: Context, state: State) -> Reply:
    """The engine's "call 911 now" reply, in the conversation's language."""
    say = context.language(state.language)
    return prompts.emergency(context.emergency_number, say)


def _first(played: Played, state: State, replies: list[Reply]) -> None:
    """What the bot made of the first text: a service taken, or the options it offered."""
    played.first_reply = " / ".join(render(r).replace("\n", " | ") for r in replies)
    if played.filed is not None:
        played.first_taken = played.filed.service_code
    elif state.draft.service_code:
        played.first_taken = state.draft.service_code
    elif state.name == StateName.SERVICE:
        played.first_offered = list(state.offered)
        played.first_menu = _is_menu(state)


def _answer(played: Played, state: State, replies: list[Reply], context: Context) -> str | None:
    """The resident's next text, by the state and the last reply's `expects`; None when
    the bot asks nothing a resident could answer."""
    expects = replies[-1].expects if replies else "text"
    name = state.name
    if played.emergency:  # the bot said to call 911: a resident does that, not text on
        played.stuck = f"told to call {context.emergency_number}"
        return None
    if name == StateName.SERVICE:
        return _pick_service(played, state, context)
    if name == StateName.LOCATION or expects == "location":
        return house_address(played.resident.text) or ADDRESS
    if name == StateName.DESCRIPTION:
        return played.resident.text
    if name == StateName.QUESTIONS:
        return _attribute_answer(state, context)
    if name in (StateName.LOCATION_CONFIRM, StateName.CONFIRM, StateName.CONSENT, StateName.RESUME):
        return "yes"
    if name == StateName.LANGUAGE:
        return "1"
    if expects == "yes_no":
        return "yes"
    if expects in ("choice", "choices"):
        return "1"
    played.stuck = f"nothing to answer in {name}: {render(replies[-1]) if replies else ''!r}"
    return None


def _pick_service(played: Played, state: State, context: Context) -> str:
    """A shortlist: its first option. The menu: the true service's number when shown, else
    MORE (another page), then OTHER and the true service's group."""
    if not _is_menu(state):
        return "1"
    true = played.resident.service_code
    if true in state.offered:
        return str(state.offered.index(true) + 1)
    played.menu_texts += 1
    groups = state.draft.groups
    if groups:
        group = next((s.group for s in context.services if s.code == true), "")
        return str(groups.index(group) + 1) if group in groups else "1"
    if played.menu_texts > 3 and not state.draft.group:
        return "OTHER"
    return "MORE"


def _attribute_answer(state: State, context: Context) -> str:
    """A valid answer to the service question being asked, by its datatype."""
    code, service = state.draft.question, state.draft.service_code
    for candidate in context.services:
        if candidate.code != service:
            continue
        for attribute in candidate.attributes:
            if attribute.code == code:
                datatype = attribute.datatype
                if datatype.endswith("valuelist") and not attribute.values:
                    datatype = "string"
                return ANSWERS.get(datatype, ANSWERS["string"])
    return ANSWERS["string"]


def play_all(residents: Iterable[Resident], context: Context) -> list[Played]:
    return [play(resident, context) for resident in residents]


# --- figures ---------------------------------------------------------------------------------


def figures(played: Iterable[Played]) -> dict[str, dict]:
    """The figures overall ("all") and per language of the residents."""
    played = list(played)
    groups = {"all": played}
    for code in sorted({p.resident.language for p in played}):
        groups[code] = [p for p in played if p.resident.language == code]
    return {name: _figures(group) for name, group in groups.items()}


def _figures(played: list[Played]) -> dict:
    done = [p for p in played if p.completed]
    texts = [len(p.texts) for p in done]
    one_shot = [len(p.texts) for p in done if p.one_shot]
    return {
        "residents": len(played),
        "completed": _share(len(done), len(played)),
        "right_first": _share(sum(p.right_first for p in played), len(played)),
        "in_shortlist": _share(sum(p.in_shortlist for p in played), len(played)),
        "in_real_shortlist": _share(sum(p.in_real_shortlist for p in played), len(played)),
        "filed_right": _share(sum(p.filed_right for p in played), len(played)),
        "median_texts": _number(statistics.median(texts)) if texts else None,
        "mean_texts": round(statistics.fmean(texts), 2) if texts else None,
        "one_shot": len(one_shot),
        "median_one_shot": _number(statistics.median(one_shot)) if one_shot else None,
        "saw_menu": sum(p.saw_menu for p in played),
        "menu_texts": sum(p.menu_texts for p in played),
        "emergency": sum(p.emergency and not p.completed for p in played),
        "not_completed": sum(not p.completed for p in played),
        "other_language": sum(p.language != p.resident.language for p in played),
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


COLUMNS = (
    ("residents", "residents"),
    ("completed", "completed"),
    ("right_first", "right at 1st suggestion"),
    ("in_shortlist", "right in 1st shortlist"),
    ("in_real_shortlist", "… menu not counted"),
    ("filed_right", "filed right"),
    ("median_texts", "median texts / filed"),
    ("mean_texts", "mean texts / filed"),
    ("one_shot", "one-shot residents"),
    ("median_one_shot", "median texts, one-shot"),
    ("saw_menu", "saw the full menu"),
    ("menu_texts", "MORE/OTHER texts"),
    ("emergency", "told to call 911"),
    ("other_language", "answered in another language"),
)
SHARES = ("completed", "right_first", "in_shortlist", "in_real_shortlist", "filed_right")


def figures_table(table: dict[str, dict]) -> str:
    """The figures as a Markdown table, one row per language ("all" first)."""
    lines = [
        "| language | " + " | ".join(label for _, label in COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
    ]
    for name, row in table.items():
        cells = [_cell(key, row[key]) for key, _ in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(key: str, value) -> str:
    if value is None:
        return "-"
    return f"{value:.1%}" if key in SHARES else str(value)


def failures(played: Iterable[Played], context: Context) -> list[str]:
    """Tuning rows not right at the first suggestion, with what the bot offered (never call
    this on the heldout split)."""
    by_code = {s.code: s.name for s in context.services}
    lines = []
    for p in played:
        if p.right_first:
            continue
        true = p.resident.service_code
        if p.first_taken:
            offered = f"took {p.first_taken} {by_code.get(p.first_taken, '?')}"
        elif p.first_offered:
            kind = "menu" if p.first_menu else "shortlist"
            offered = f"{kind} " + ", ".join(f"{c} {by_code.get(c, '?')}" for c in p.first_offered)
        else:
            offered = f"nothing: {p.first_reply[:80]!r}"
        filed = (
            f"filed {p.filed.service_code} in {len(p.texts)} texts"
            if p.filed
            else f"not filed: {p.stuck}"
        )
        text = " ".join(p.resident.text.split())
        text = text if len(text) <= 110 else text[:107] + "..."
        lines.append(
            f"- `{p.resident.id}` true {true} {by_code.get(true, '?')}; {offered}; "
            f"{filed}\n  > {text}"
        )
    return lines


def run_split(split: str, similar: Similar | None) -> dict[str, dict]:
    """The figures of one split (aggregates only)."""
    return figures(play_all(load_residents(split), make_context(similar)))


MATCHERS = ("fuzzy", "model", "model with the city's past reports")


def every_figure() -> tuple[dict[str, dict[str, dict]], dict[str, str]]:
    """Both splits' figures with each matcher (fuzzy, the model, the model with the tuning
    rows as the city's past reports), and how each matcher was found."""
    services = evaluation_services()
    tables: dict[str, dict[str, dict]] = {}
    notes: dict[str, str] = {}
    for name in MATCHERS:
        similar, found = None, "fuzzy"
        if name != "fuzzy":
            examples = load_residents("tuning") if "past" in name else None
            similar, found = load_similar(services, examples)
        tables[name] = {split: run_split(split, similar) for split in SPLITS}
        notes[name] = matcher_note(found, similar)  # counted over both splits
    return tables, notes


def figures_markdown(tables: dict[str, dict[str, dict]], notes: dict[str, str], day: date) -> str:
    """FIGURES.md: per matcher, each split's table."""
    lines = [
        "# Evaluation figures: real residents' texts through the engine",
        "",
        f"Written by `.venv/bin/python -m tests.evaluation.simulate --write` on {day.isoformat()}. "
        "See README.md here for how a resident is played and what each figure means. Shares "
        "are of all residents of the split. With the city's past reports, the tuning rows "
        "stand for them (a tuning resident's own row left out).",
        "",
    ]
    for name, by_split in tables.items():
        lines += [f"## {name}", "", f"Matcher: {notes[name]}.", ""]
        for split, table in by_split.items():
            lines += [f"### {split}", "", figures_table(table), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.evaluation.simulate", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--split", choices=SPLITS, default="tuning")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--model", action="store_true", help="use bot.understanding's model")
    which.add_argument("--fuzzy", action="store_true", help="fuzzy matching only (the default)")
    parser.add_argument(
        "--examples",
        choices=("tuning",),
        default=None,
        help="with --model: the tuning rows stand for the city's past reports (each tuning "
        "resident's own row left out)",
    )
    parser.add_argument(
        "--failures", action="store_true", help="list rows not right at the first suggestion"
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="write FIGURES.md: both splits with every matcher (whatever --split and --model)",
    )
    args = parser.parse_args(argv)
    if args.failures and args.split != "tuning":
        parser.error("--failures is for the tuning split only: heldout rows are not looked at")
    if args.examples and not args.model:
        parser.error("--examples needs --model")
    similar, matcher = (None, "fuzzy")
    examples = load_residents(args.examples) if args.examples else None
    if args.model:
        similar, matcher = load_similar(evaluation_services(), examples)
    context = make_context(similar)
    played = play_all(load_residents(args.split), context)
    table = figures(played)
    print(f"{args.split} split, matcher: {matcher_note(matcher, similar)}")
    if examples is not None:
        print(
            f"examples: the {args.examples} split's {len(examples)} rows as past reports"
            + (", each resident's own left out" if args.examples == args.split else "")
        )
    print()
    print(figures_table(table))
    if args.failures:
        lines = failures(played, context)
        print(f"\n{len(lines)} not right at the first suggestion:\n")
        print("\n".join(lines))
    if args.write:
        tables, notes = every_figure()
        FIGURES_PATH.write_text(figures_markdown(tables, notes, date.today()), "utf-8")
        print(f"\nwrote {FIGURES_PATH.relative_to(HERE.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
