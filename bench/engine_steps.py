"""Engine benchmark: every scenario of the corpus replayed through step() on one core.

    .venv/bin/python bench/engine_steps.py [--rounds 30] [--target 20000] [--languages en,es]
                                           [--json PATH]

The scenarios (tests/conversations/*.toml) are played once as the tests play them, recording
each conversation's events (the resident's messages and the geocoder's answers) and checking
that replaying them files the same reports; then the recorded events are replayed round after
round, each conversation from a fresh State, timing every step() call. Only the engine is
timed: no geocoder.

Baseline: there is no other engine to compare with, so the in-run baseline is the trivial work
the worker does around every step: the JSON round trip of the state (to_dict, json.dumps,
json.loads, from_dict), over the same states the replay passes through. Baseline and engine
rounds alternate; the figures are medians over the rounds (steps per second by the wall clock,
and by the CPU time of this thread, which the other processes of a shared machine do not
inflate), with p50/p99 per step over every step timed. Also timed: is_emergency over a megabyte
of text, and a step on a megabyte message (which reads only its first READ_LIMIT characters).

Prints the figures; exits 0 even when the target is missed (figures, not pass/fail), 1 only when
it could not measure (the replay filed other reports than the scenarios).
--languages keeps only those languages' catalogues and scenarios (to see what each costs).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 20_000  # steps per second, on one core (issue #16)
MEGABYTE = 1_000_000


def pin_to_one_core() -> str:
    """Run on a single CPU where the platform allows it; says which."""
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"cpu {cpu}"
    return "not pinned (no sched_setaffinity)"


def record(corpus, context, languages: set[str] | None = None) -> list[tuple[str, list, list]]:
    """Each scenario's events as the tests feed them, with the reports it filed."""
    recorded = []
    for scenario in corpus.load_scenarios():
        if languages and scenario.language not in languages:
            continue
        events: list = []
        outcome = corpus.run(scenario, context, lambda _state, event, e=events: e.append(event))
        recorded.append((scenario.name, events, outcome.filed))
    return recorded


def replay(step, State, context, recorded, times: list[int], by_scenario: dict[str, int]):
    """One round: every scenario from a fresh State, each step's ns appended to `times` and
    added to its scenario's total; returns the round's wall and CPU seconds."""
    clock = time.perf_counter_ns
    wall, cpu = time.perf_counter(), time.thread_time()
    for name, events, _ in recorded:
        state = State()
        spent = 0
        for event in events:
            before = clock()
            state = step(state, event, context).state
            took = clock() - before
            times.append(took)
            spent += took
        by_scenario[name] += spent
    return time.perf_counter() - wall, time.thread_time() - cpu


def states_given(step, State, context, recorded) -> list:
    """Every state a round gives step(), in order: what the baseline round-trips."""
    given = []
    for _, events, _ in recorded:
        state = State()
        for event in events:
            given.append(state)
            state = step(state, event, context).state
    return given


def round_trips(State, states: list) -> tuple[float, float]:
    """One baseline round: each state through the worker's JSON round trip; wall and CPU s."""
    wall, cpu = time.perf_counter(), time.thread_time()
    for state in states:
        State.from_dict(json.loads(json.dumps(state.to_dict())))
    return time.perf_counter() - wall, time.thread_time() - cpu


def check_replay(step, State, context, recorded) -> None:
    """The replay must file exactly what the scenarios filed (the engine is deterministic)."""
    for name, events, filed in recorded:
        state, reports = State(), []
        for event in events:
            turn = step(state, event, context)
            state = turn.state
            reports += [a for a in turn.actions if type(a).__name__ == "FileReport"]
        if reports != filed:
            raise SystemExit(f"{name}: the replay filed {reports}, the scenario {filed}")


def percentile(ordered: list[int], share: float) -> int:
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def megabyte_checks(step, State, Message, is_emergency, context) -> tuple[float, float]:
    """Seconds for is_emergency over a megabyte of ordinary words, and for a step on a megabyte
    message (medians of 3)."""
    from datetime import UTC, datetime

    words = "the pothole on main street is deep and my car hit it badly "
    text = (words * (MEGABYTE // len(words) + 1))[:MEGABYTE]
    at = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
    checks, steps = [], []
    for _ in range(3):
        started = time.perf_counter()
        if is_emergency(text, context.languages):
            raise SystemExit("is_emergency took a megabyte of pothole words for an emergency")
        checks.append(time.perf_counter() - started)
        started = time.perf_counter()
        step(State(), Message(text, at), context)
        steps.append(time.perf_counter() - started)
    return statistics.median(checks), statistics.median(steps)


def load() -> str:
    """The load averages (1, 5, 15 minutes)."""
    return " ".join(f"{n:.2f}" for n in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="timed rounds over the corpus")
    parser.add_argument("--target", type=float, default=TARGET, help="steps/s to reach")
    parser.add_argument("--languages", default="", help="e.g. en,es: only these (default all)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    command = " ".join(["python bench/engine_steps.py", *(sys.argv[1:] if argv is None else argv)])
    load_before = load()

    sys.path.insert(0, str(ROOT))
    from conversations import Message, State, step
    from conversations.emergency import is_emergency
    from tests.conversations import corpus

    where = pin_to_one_core()
    context = corpus.make_context()
    only = {code.strip() for code in args.languages.split(",") if code.strip()}
    if only:
        kept = {code: language for code, language in context.languages.items() if code in only}
        context = dataclasses.replace(context, languages=kept)
    recorded = record(corpus, context, only)
    check_replay(step, State, context, recorded)
    given = states_given(step, State, context, recorded)
    by_scenario = {name: 0 for name, _, _ in recorded}
    replay(step, State, context, recorded, [], dict(by_scenario))  # warm the caches
    round_trips(State, given)

    times: list[int] = []
    rates: dict[str, list[float]] = {"wall": [], "cpu": [], "json wall": [], "json cpu": []}
    for _ in range(max(3, args.rounds)):  # baseline and engine rounds alternate
        gc.collect()
        wall, cpu = round_trips(State, given)
        rates["json wall"].append(len(given) / wall)
        rates["json cpu"].append(len(given) / cpu)
        gc.collect()
        wall, cpu = replay(step, State, context, recorded, times, by_scenario)
        rates["wall"].append(len(given) / wall)
        rates["cpu"].append(len(given) / max(cpu, 1e-9))
    rate, cpu_rate, json_rate, json_cpu = (
        statistics.median(rates[k]) for k in ("wall", "cpu", "json wall", "json cpu")
    )
    rounds = len(rates["wall"])
    emergency_s, big_step_s = megabyte_checks(step, State, Message, is_emergency, context)
    load_after = load()

    ordered = sorted(times)
    p50, p99 = percentile(ordered, 0.50) / 1000, percentile(ordered, 0.99) / 1000
    print(
        f"engine steps: {len(recorded)} scenarios, {len(given)} steps a round, "
        f"{rounds} rounds, {where}, Python {platform.python_version()}"
    )
    print(f"  languages loaded: {', '.join(context.languages)}")
    print(f"  load average before {load_before}, after {load_after}")
    print(
        f"  {rate:,.0f} steps/s by the wall clock, {cpu_rate:,.0f} by CPU time "
        f"(target {args.target:,.0f}; medians of {rounds} rounds)"
    )
    print(
        f"  baseline, the state's JSON round trip: {json_rate:,.0f}/s by the wall clock, "
        f"{json_cpu:,.0f}/s by CPU time (a step costs {json_rate / rate:.1f} round trips)"
    )
    print(
        f"  per step: mean {statistics.fmean(times) / 1000:.1f} us, "
        f"p50 {p50:.1f} us, p99 {p99:.1f} us, max {ordered[-1] / 1000:.1f} us"
    )
    slowest = sorted(by_scenario.items(), key=lambda item: -item[1])[:3]
    steps_of = {name: len(events) for name, events, _ in recorded}
    print(
        "  slowest scenarios (us per step): "
        + ", ".join(
            f"{name} {spent / rounds / steps_of[name] / 1000:.0f}" for name, spent in slowest
        )
    )
    print(
        f"  is_emergency over 1 MB of text: {emergency_s:.3f} s; "
        f"step() on a 1 MB message: {big_step_s * 1000:.1f} ms"
    )
    if rate < args.target:
        print(f"MISSED: {rate:,.0f} steps/s is under the target of {args.target:,.0f}")
    if args.json:
        rows = [
            row(
                "engine steps/s, wall clock, one pinned core",
                f"{rate:,.0f}",
                f"{json_rate:,.0f} JSON round trips of the state/s",
                rate / json_rate,
                args.target,
                rate,
                f"median of {rounds} rounds of {len(given)} steps ({len(recorded)} scenarios)",
            ),
            row(
                "engine steps/s, CPU time of the thread",
                f"{cpu_rate:,.0f}",
                f"{json_cpu:,.0f} JSON round trips of the state/s",
                cpu_rate / json_cpu,
                args.target,
                cpu_rate,
                "not inflated by other processes sharing the core",
            ),
            row(
                "step() p50 / p99",
                f"{p50:.1f} / {p99:.1f} us",
                None,
                None,
                None,
                None,
                f"over every step timed; max {ordered[-1] / 1000:.0f} us",
            ),
            row(
                "is_emergency over 1 MB of text",
                f"{emergency_s:.3f} s",
                None,
                None,
                None,
                None,
                "median of 3; the issue saw about 10 s per MB",
            ),
            row(
                "step() on a 1 MB message",
                f"{big_step_s * 1000:.1f} ms",
                None,
                None,
                None,
                None,
                "median of 3; reads the first READ_LIMIT characters",
            ),
        ]
        report = {
            "section": "Engine",
            "rows": rows,
            "commands": [command],
            "load": f"before {load_before}; after {load_after}",
        }
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


def row(figure, value, baseline, ratio, target, reached, note) -> dict:
    """One row of the bench table (the contract's keys)."""
    return {
        "figure": figure,
        "value": value,
        "baseline": baseline,
        "ratio": f"{ratio:.2f}x" if ratio is not None else None,
        "goal": f"> {target:,.0f} steps/s" if target is not None else None,
        "met": reached > target if target is not None else None,
        "note": note,
    }


if __name__ == "__main__":
    sys.exit(main())
