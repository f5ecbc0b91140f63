"""The city's past reports as examples: the EXAMPLES_FILE (JSONL of service code and text, from
`intake311 understanding learn`), its embeddings kept beside it, and their vote for a service.

The K past texts closest to a resident's, each weighted exp((cos - 1) / TEMP), give each service
a share (chosen by leave-one-out on tests/evaluation's tuning split, the engine's first
suggestion through pick_service; see README.md).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

K = 7
TEMP = 0.03

Example = tuple[str, str]  # (service code, a resident's text)

_lock = threading.Lock()
_files: dict[str, tuple[tuple[float, int], tuple[Example, ...]]] = {}


def read_examples(path: str | Path) -> tuple[Example, ...]:
    """The (service code, text) pairs of a JSONL examples file; raises OSError or ValueError."""
    found: list[Example] = []
    text = Path(path).read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            code, said = str(row["service_code"]), row["text"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"line {number} is not {{service_code, text}}: {exc}") from exc
        if not isinstance(said, str):
            raise ValueError(f"line {number}: text is not a string")
        found.append((code, said))
    return tuple(found)


def file_examples(path: str) -> tuple[Example, ...]:
    """The examples of EXAMPLES_FILE, read again when the file changes; none (and a warning)
    when it is missing or broken."""
    try:
        stat = os.stat(path)
        stamp = (stat.st_mtime, stat.st_size)
    except OSError as exc:
        stamp = (-1.0, -1)
        problem: Exception | None = exc
    else:
        problem = None
    with _lock:
        cached = _files.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    examples: tuple[Example, ...] = ()
    if problem is None:
        try:
            examples = read_examples(path)
        except (OSError, ValueError) as exc:
            problem = exc
    if problem is not None:
        reason = problem.strerror if isinstance(problem, OSError) else problem
        log.warning("no examples from EXAMPLES_FILE %s (%s): services by their texts", path, reason)
    with _lock:
        _files[path] = (stamp, examples)
    return examples


def vectors_path(examples_file: str | Path) -> Path:
    """Where the embeddings of an examples file are kept: beside it (a forked work-horse
    reads them instead of embedding thousands of texts again)."""
    path = Path(examples_file)
    return path.with_name(path.name + ".vectors.npz")


def load_vectors(store: Path, digest: str) -> Any:
    """The stored embeddings when they are of these very texts, else None."""
    import numpy as np

    try:
        with np.load(store) as saved:
            if str(saved["digest"]) == digest:
                return saved["vectors"]
    except FileNotFoundError:
        pass
    except Exception as exc:  # a partial or foreign file: embedded again, and written anew
        log.warning("examples' embeddings %s unreadable (%s): embedding them again", store, exc)
    return None


def save_vectors(store: Path, digest: str, vectors: Any) -> bool:
    """Write the embeddings beside the examples (atomically); False (no error) where the place
    is read-only."""
    import numpy as np

    partial = store.with_name(f".{store.name}.{os.getpid()}.tmp")
    try:
        with open(partial, "wb") as out:
            np.savez(out, digest=np.array(digest), vectors=vectors)
        os.replace(partial, store)
    except OSError as exc:
        log.info("examples' embeddings not kept in %s: %s", store, exc)
        partial.unlink(missing_ok=True)
        return False
    return True


def vote(sims: Any, codes: Sequence[str], k: int = K, temp: float = TEMP) -> dict[str, float]:
    """Each service's share of the k examples closest (cosines `sims`, the examples' `codes`),
    each weighted exp((cos - 1) / temp)."""
    import numpy as np

    k = min(k, len(codes))
    if k <= 0:
        return {}
    nearest = np.argpartition(-sims, k - 1)[:k]
    weights = np.exp((sims[nearest] - 1.0) / temp)
    total = float(weights.sum())
    shares: dict[str, float] = {}
    for index, weight in zip(nearest, weights, strict=True):
        code = codes[int(index)]
        shares[code] = shares.get(code, 0.0) + float(weight) / total
    return shares
