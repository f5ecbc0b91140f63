"""Property-based fuzzing (hypothesis) for issue #15: the hostile values, the settings every
fuzzer runs with, and its figures (inputs tried, failures found), printed at the end of the run.

Each fuzzer runs a bounded number of inputs inside the normal `pytest` run (all of them
together add well under a minute on two cores); INTAKE311_FUZZ_EXAMPLES=N runs every fuzzer
for N inputs instead, e.g. `INTAKE311_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz_*.py`.

Figures are written by each process (an xdist worker, or the only one) to a file of its own
in a folder the main process made, and summed up by `pytest_terminal_summary` (imported into
tests/conftest.py), so they show in `make test` even with `-q -n auto`.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES_ENV = "INTAKE311_FUZZ_EXAMPLES"
FIGURES_ENV = "INTAKE311_FUZZ_FIGURES"
SLOWEST_ALLOWED = 5.0  # seconds for one input, whatever it is (a loaded CI machine included)


def fuzz_settings(examples: int) -> settings:
    """Settings for a fuzzer that tries `examples` inputs (INTAKE311_FUZZ_EXAMPLES overrides).

    No deadline (hypothesis would call a slow input on a loaded machine a failure and retry
    it): `Figures.trying` times every input and fails beyond SLOWEST_ALLOWED. No example
    database (nothing is written in the work tree); a failure prints the blob that replays it.
    """
    override = os.environ.get(EXAMPLES_ENV, "").strip()
    return settings(
        max_examples=int(override) if override.isdigit() and int(override) > 0 else examples,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.function_scoped_fixture,
            HealthCheck.large_base_example,
        ],
    )


# --- hostile values ---------------------------------------------------------------------------

SPECIAL_STRINGS = [
    "",
    " ",
    "\x00",
    "pot\x00hole",
    "\ud800",
    "\udfffx",
    "\ud800x",
    "\x1b[2J\x07",
    "\r\n",
    "\u202eevil",
    "\ufeff",
    "\u0663",
    "9" * 400,
    "-1",
    "0",
    "10000000",
    "1e400",
    "NaN",
    "Infinity",
    "null",
    "true",
    "a" * 300,
    "x" * 5000,
    "+13125550142",
    "tel:+13125550142",
    "report:1",
    "STOP",
    "START",
    "HELP",
    "STATUS 1",
    "yes",
    "1",
    "120 Main St",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%ED%A0%80",
    "\U0001f600" * 50,
    "\u706b\u707e",  # 火灾
]
# What residents say, so that fuzzed conversations go somewhere (menus, addresses, summaries).
WORDS = [
    "hi",
    "1",
    "2",
    "3",
    "4",
    "yes",
    "no",
    "120 Main St",
    "pothole",
    "streetlight out on Elm",
    "deep hole in the right lane",
    "HELP",
    "STATUS 1",
    "STATUS PTH-001",
    "MY REPORTS",
    "BACK",
    "RESTART",
    "STOP",
    "START",
    "LANGUAGE",
    "espa\u00f1ol",
    "MORE",
    "OTHER",
    "PRIVATE",
    "gas leak",
    "/start",
    "/help@springfield311_bot",
]
SPECIAL_INTS = [0, -1, 1, 2**31, 2**63, -(2**63) - 1, 10**20, 10**400, 512345678]
SPECIAL_FLOATS = [0.0, -0.0, 1.5, 999.0, -999.0, 91.0, 1e308, -1e308, 39.78, -89.65]

# Any character, lone surrogates and control characters included.
_ANY_CHARACTER = st.characters(exclude_categories=())
_FORM_CHARACTER = st.characters(exclude_categories=("Cs",))  # an HTTP form carries no surrogates


@functools.cache
def hostile_text(form: bool = False, max_size: int = 60) -> st.SearchStrategy[str]:
    """Strings a hostile caller may send: special ones, arbitrary Unicode, long runs."""
    alphabet = _FORM_CHARACTER if form else _ANY_CHARACTER
    specials = [s for s in SPECIAL_STRINGS if not form or s.encode("utf-8", "ignore").decode() == s]
    return st.one_of(
        st.sampled_from(specials),
        st.text(alphabet, max_size=max_size),
        st.text(st.sampled_from("0123456789+-. :abcXYZ"), max_size=max_size),
        st.builds(
            lambda s, n: s * n, st.sampled_from(["a", "9", "\x00 ", "fire "]), st.integers(1, 3000)
        ),
    )


@functools.cache
def header_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """A header's value: Latin-1 (what HTTP headers carry), no line breaks."""
    return st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=max_size)


@functools.cache
def said(form: bool = False) -> st.SearchStrategy[str]:
    """What a resident says: mostly words that move a conversation on, some hostile text."""
    return st.one_of(st.sampled_from(WORDS), st.sampled_from(WORDS), hostile_text(form=form))


@functools.cache
def hostile_numbers() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(SPECIAL_INTS),
        st.sampled_from(SPECIAL_FLOATS),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
    )


@functools.cache
def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any JSON value, hostile strings and numbers among its leaves."""
    leaves = st.one_of(st.none(), st.booleans(), hostile_numbers(), hostile_text(max_size=20))
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(hostile_text(max_size=10), inner, max_size=4),
        ),
        max_leaves=max_leaves,
    )


def _paths(data: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """The path (keys and indices) of every part of a JSON value, its root first."""
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _paths(value, prefix + (index,))


_ACTIONS = st.sampled_from(["replace", "replace", "replace", "remove", "add"])
_upto = functools.cache(lambda most: st.integers(0, most))


def mutated(data: Any, draw: Callable[[st.SearchStrategy[Any]], Any], changes: int = 4) -> Any:
    """A copy of a recorded payload with up to `changes` of its parts replaced by hostile
    values, removed, or given a hostile key: mostly well formed, hostile where it counts."""
    data = copy.deepcopy(data)
    paths = list(_paths(data))
    for _ in range(draw(_upto(changes))):
        path = paths[draw(_upto(len(paths) - 1))]
        parent, last = data, None
        try:
            for step in path[:-1]:
                parent = parent[step]
            last = path[-1] if path else None
            if last is None:
                return draw(json_values())
            action = draw(_ACTIONS)
            if action == "replace":
                parent[last] = draw(json_values())
            elif action == "remove":
                del parent[last]
            elif isinstance(parent[last], dict):
                parent[last][draw(hostile_text(max_size=10))] = draw(json_values())
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed or replaced this part
    return data


# --- figures ----------------------------------------------------------------------------------


class Figures:
    """One fuzzer's figures: inputs tried, the distinct failures hypothesis found (each shrunk
    to its simplest input), the inputs that failed on the way, the slowest input."""

    def __init__(self, name: str):
        self.name = name
        self.tried = 0
        self.found = 0
        self.failed = 0
        self.slowest = 0.0
        self.outcomes: dict[str, int] = {}

    def outcome(self, what: object, times: int = 1) -> None:
        """Count an outcome (an input's HTTP status, the jobs its turns took), shown in the
        figures."""
        self.outcomes[str(what)] = self.outcomes.get(str(what), 0) + times

    @contextmanager
    def trying(self) -> Iterator[None]:
        """Count one input; a failure of its properties is counted, then raised. An input
        still running after SLOWEST_ALLOWED is stopped (TimeoutError), not waited for."""
        started = time.perf_counter()
        self.tried += 1
        try:
            with watchdog(SLOWEST_ALLOWED):
                yield
        except BaseException:
            self.failed += 1
            raise
        finally:
            took = time.perf_counter() - started
            self.slowest = max(self.slowest, took)
        assert took < SLOWEST_ALLOWED, f"one input took {took:.1f} s"

    def save(self) -> None:
        """Add these figures to the run's (see `pytest_terminal_summary`)."""
        folder = os.environ.get(FIGURES_ENV)
        if not folder or not Path(folder).is_dir():
            return
        record = {
            "name": self.name,
            "tried": self.tried,
            "found": self.found,
            "failed": self.failed,
            "slowest": self.slowest,
            "outcomes": self.outcomes,
        }
        with open(Path(folder) / f"{os.getpid()}.jsonl", "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")


@contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """Raise TimeoutError in the block once it has run `seconds` (main thread only, where
    pytest and its xdist workers run tests; elsewhere the block is only timed)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum, frame):
        raise TimeoutError(f"one input still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def figures(name: str) -> Iterator[Figures]:
    """A fuzzer's figures, saved when it ends (passed or failed)."""
    kept = Figures(name)
    try:
        yield kept
    except BaseExceptionGroup as failures:  # hypothesis found several distinct failures
        kept.found = len(failures.exceptions)
        raise
    except BaseException:
        kept.found = 1
        raise
    finally:
        kept.save()


# --- pytest hooks (imported into tests/conftest.py) -------------------------------------------


def pytest_configure(config) -> None:
    """The main process makes the folder every process writes its figures to."""
    if hasattr(config, "workerinput") or os.environ.get(FIGURES_ENV):
        return
    folder = tempfile.mkdtemp(prefix="intake311-fuzz-")
    os.environ[FIGURES_ENV] = folder
    config._intake311_fuzz_figures = folder


def pytest_unconfigure(config) -> None:
    folder = getattr(config, "_intake311_fuzz_figures", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop(FIGURES_ENV, None)


def _outcomes(counts: dict[str, int]) -> str:
    return ", ".join(f"{what}: {n}" for what, n in sorted(counts.items()))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Print each fuzzer's figures, summed over the processes that ran it."""
    folder = getattr(config, "_intake311_fuzz_figures", None)
    if not folder:
        return
    totals: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(folder).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            kept = totals.setdefault(
                record["name"],
                {"tried": 0, "found": 0, "failed": 0, "slowest": 0.0, "outcomes": {}},
            )
            for what, n in record.get("outcomes", {}).items():
                kept["outcomes"][what] = kept["outcomes"].get(what, 0) + n
            kept["tried"] += record["tried"]
            kept["found"] += record["found"]
            kept["failed"] += record["failed"]
            kept["slowest"] = max(kept["slowest"], record["slowest"])
    if not totals:
        return
    terminalreporter.write_sep("-", "fuzzing (hypothesis): inputs tried, failures found")
    width = max(len(name) for name in totals)
    for name, kept in sorted(totals.items()):
        terminalreporter.write_line(
            f"{name:<{width}}  {kept['tried']:>6} inputs  {kept['found']:>2} failures "
            f"({kept['failed']} failing inputs)  slowest {kept['slowest'] * 1000:.0f} ms"
            + (f"  ({outcomes})" if (outcomes := _outcomes(kept["outcomes"])) else "")
        )
    tried = sum(k["tried"] for k in totals.values())
    found = sum(k["found"] for k in totals.values())
    terminalreporter.write_line(
        f"{'all fuzzers':<{width}}  {tried:>6} inputs  {found:>2} failures"
        f"  ({EXAMPLES_ENV}=N for more inputs)"
    )
