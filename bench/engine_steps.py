"""Engine benchmark: every scenario of the corpus replayed through step() on one core.

    .venv/bin/python bench/engine_steps.py [--rounds 30] [--target 5000] [--languages en,es]

The scenarios (tests/conversations/*.toml) are played once as the tests play them, recording
each conversation's events (the resident's messages and the geocoder's answers); then the
recorded events are replayed round after round, each conversation from a fresh State, timing
every step() call. Prints steps per second, p50/p99 per step and the slowest scenarios; exits
1 when the rate is under the target. Only the engine is timed: no JSON, no geocoder.
--languages keeps only those languages' catalogues and scenarios (to see what each costs).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 5000  # steps per second, on one core


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


def replay(step, State, context, recorded, rounds: int) -> tuple[list[int], dict[str, int], float]:
    """Per-step times (ns), total ns per scenario, and the wall time of the timed rounds."""
    clock = time.perf_counter_ns
    times: list[int] = []
    by_scenario = {name: 0 for name, _, _ in recorded}
    started = time.perf_counter()
    for _ in range(rounds):
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
    return times, by_scenario, time.perf_counter() - started


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="timed rounds over the corpus")
    parser.add_argument("--target", type=float, default=TARGET, help="steps/s to reach")
    parser.add_argument("--languages", default="", help="e.g. en,es: only these (default all)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from conversations import State, step
    from tests.conversations import corpus

    where = pin_to_one_core()
    context = corpus.make_context()
    only = {code.strip() for code in args.languages.split(",") if code.strip()}
    if only:
        kept = {code: language for code, language in context.languages.items() if code in only}
        context = dataclasses.replace(context, languages=kept)
    recorded = record(corpus, context, only)
    check_replay(step, State, context, recorded)
    replay(step, State, context, recorded, 1)  # warm caches (matching index, regexes)
    gc.collect()
    times, by_scenario, wall = replay(step, State, context, recorded, args.rounds)

    ordered = sorted(times)
    rate = len(times) / wall
    per_round = len(times) // args.rounds
    print(
        f"engine steps: {len(recorded)} scenarios, {per_round} steps a round, "
        f"{args.rounds} rounds, {where}, Python {platform.python_version()}"
    )
    print(f"  languages loaded: {', '.join(context.languages)}")
    print(f"  {rate:,.0f} steps/s (target {args.target:,.0f})")
    print(
        f"  per step: mean {statistics.fmean(times) / 1000:.1f} us, "
        f"p50 {percentile(ordered, 0.50) / 1000:.1f} us, "
        f"p99 {percentile(ordered, 0.99) / 1000:.1f} us, max {ordered[-1] / 1000:.1f} us"
    )
    slowest = sorted(by_scenario.items(), key=lambda item: -item[1])[:3]
    steps_of = {name: len(events) for name, events, _ in recorded}
    print(
        "  slowest scenarios (us per step): "
        + ", ".join(
            f"{name} {spent / args.rounds / steps_of[name] / 1000:.0f}" for name, spent in slowest
        )
    )
    if rate < args.target:
        print(f"FAIL: {rate:,.0f} steps/s is under the target of {args.target:,.0f}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
