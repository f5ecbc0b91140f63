"""conversations/ stays pure: stdlib, rapidfuzz and Babel only, no other project package."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import conversations

PACKAGE = Path(conversations.__file__).parent
FORBIDDEN = {
    "bot",
    "webhooks",
    "flask",
    "sqlalchemy",
    "sqlmodel",
    "redis",
    "rq",
    "httpx",
    "requests",
    "geopy",
    "twilio",
}
ALLOWED_THIRD_PARTY = {"rapidfuzz", "babel"}
CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}


def imported_modules(path: Path) -> set[str]:
    """Top-level names of the absolute imports in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_package_has_files_to_check():
    assert len(list(PACKAGE.glob("*.py"))) >= 10


def test_imports_only_stdlib_rapidfuzz_and_babel():
    for path in PACKAGE.glob("*.py"):
        names = imported_modules(path)
        assert not names & FORBIDDEN, f"{path.name} imports {names & FORBIDDEN}"
        outside = {n for n in names if n not in sys.stdlib_module_names} - ALLOWED_THIRD_PARTY
        assert not outside - {"conversations"}, f"{path.name} imports {outside}"


def test_no_clock_reads_or_io():
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                assert node.func.attr not in CLOCK_CALLS, f"{path.name} reads a clock"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in {"open", "print", "input"}, f"{path.name} does I/O"


def test_the_check_catches_a_forbidden_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import flask\nfrom bot.settings import x\n", encoding="utf-8")
    assert imported_modules(bad) & FORBIDDEN == {"flask", "bot"}
