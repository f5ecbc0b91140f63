"""Common 311 problems in residents' words (problems.toml), and the city service each belongs to.

A city's catalogue names its services tersely ("Sidewalk & Curb Complaints": "Report hazardous
sidewalks and curbs"); residents write "trip hazard where the slab tilted up". Each kind of
problem here has a line saying what it is and a few phrases residents use. A kind belongs to the
city's service closest in meaning to it (the mean of its line and phrases against the service's
embedding), when that service is close enough (FITS) and clearly closer than the next (CLEAR);
otherwise to none, so a catalogue without a noise service does not get noise reports. The
phrases are embedded once per process (shared through Redis with the work-horses forked later).
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

BANK = Path(__file__).with_name("problems.toml")
# Tuned on the evaluation set's tuning split (a real city's catalogue) and checked on the
# sandbox city's: a kind and a service whose texts mean the same measured 0.92 or more apart
# from the runner-up by 0.01 or more; a kind the city has no service for stayed under.
FITS = 0.92
CLEAR = 0.01


@dataclass(frozen=True)
class Problem:
    """One kind of problem: what it is, and phrases residents use for it."""

    name: str
    about: str
    phrases: tuple[str, ...]


@lru_cache(maxsize=1)
def problems() -> tuple[Problem, ...]:
    """The bank of problems (problems.toml beside this module)."""
    with BANK.open("rb") as file:
        table = tomllib.load(file)
    return tuple(
        Problem(name, str(entry["about"]), tuple(str(p) for p in entry["say"]))
        for name, entry in table.items()
    )


def bank_key() -> str:
    """A digest of every phrase, naming their embeddings wherever they are kept."""
    digest = hashlib.sha256()
    for problem in problems():
        digest.update(
            f"{problem.name}\x00{problem.about}\x00{chr(1).join(problem.phrases)}\x02".encode()
        )
    return digest.hexdigest()


def texts() -> tuple[list[str], list[int]]:
    """Every text to embed (each problem's line, then its phrases) and the problem of each."""
    said: list[str] = []
    owners: list[int] = []
    for index, problem in enumerate(problems()):
        for text in (problem.about, *problem.phrases):
            said.append(text)
            owners.append(index)
    return said, owners


def owners_of(bank_vectors: Any, service_vectors: Any) -> Any:
    """For each row of the bank, the index of the service its problem belongs to, or -1."""
    import numpy as np

    _, owners = texts()
    rows = np.asarray(owners)
    count = len(problems())
    # A kind is its line and its phrases' mean, in equal parts (one line says more than one
    # phrase; the phrases together say it best).
    kinds = np.stack(
        [
            bank_vectors[rows == index][0] + bank_vectors[rows == index][1:].mean(axis=0)
            for index in range(count)
        ]
    )
    kinds /= np.linalg.norm(kinds, axis=1, keepdims=True)
    services = service_vectors / np.linalg.norm(service_vectors, axis=1, keepdims=True)
    closeness = kinds @ services.T  # problems x services
    belongs = np.full(count, -1)
    for index, row in enumerate(closeness):
        order = np.argsort(-row)
        best = row[order[0]]
        runner_up = row[order[1]] if len(order) > 1 else -1.0
        if best >= FITS and best - runner_up >= CLEAR:
            belongs[index] = order[0]
    return belongs[rows]


def closest(bank_cosines: Any, row_owner: Any, services: int) -> Any:
    """Per service, the closest of its problems' texts to the resident's (-1 when it has none)."""
    import numpy as np

    best = np.full(services, -1.0)
    mine = row_owner >= 0
    np.maximum.at(best, row_owner[mine], bank_cosines[mine])
    return best
