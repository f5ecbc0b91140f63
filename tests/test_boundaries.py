"""Package boundaries, and the rules inside them.

Between packages: `conversations` imports no other package of ours; nothing imports `webhooks`;
the sandbox (a stand-in city) imports nothing of ours but the city's own geocoder
(`bot.gazetteer`, which imports nothing else of ours), and only the command line (`bot/cli/`)
and the tests import it. Inside `bot` and `webhooks`: channels own a wire format and touch no
storage or jobs; webhooks store what a channel parsed through `bot.intake` and never call a job.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"bot", "conversations", "webhooks", "sandbox"}
ALLOWED = {
    "conversations": {"conversations"},
    "bot": {"bot", "conversations"},
    "webhooks": {"webhooks", "bot", "conversations"},
    "sandbox": {"sandbox", "bot"},  # of bot, bot.gazetteer alone (tested below)
}
# Folders whose files may import one more of our packages than the rest of theirs.
ALSO_ALLOWED = {"bot/cli/": {"sandbox"}}  # `intake311 sandbox` and `intake311 demo`
# (files, modules they must not import, why)
INNER_RULES = [
    (
        "bot/channels/*.py",
        {"bot.db", "bot.models", "bot.inbound", "bot.intake", "bot.jobs", "bot.queue"},
        "a channel speaks its wire format; storing and queueing are bot.intake's",
    ),
    ("webhooks/*.py", {"bot.jobs"}, "a webhook stores and queues; it never runs a job"),
    ("bot/**/*.py", {"sandbox"}, "only the command line (bot/cli/) and tests use the sandbox"),
]
# Where an inner rule does not apply.
EXCEPT = {"bot/**/*.py": "bot/cli/"}


def imported_modules(path: Path) -> set[str]:
    """Every module a source file imports, by its full dotted name (and each parent)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            found |= {".".join(parts[: i + 1]) for i in range(len(parts))}
    return found


def imported_packages(path: Path) -> set[str]:
    """Our top-level packages that a source file imports."""
    return {name for name in imported_modules(path) if "." not in name} & OURS


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_it_may(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    for path in files:
        relative = path.relative_to(ROOT).as_posix()
        extra = {
            p for folder, more in ALSO_ALLOWED.items() if relative.startswith(folder) for p in more
        }
        wrong = imported_packages(path) - ALLOWED[package] - extra
        assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}"


@pytest.mark.parametrize(("pattern", "forbidden", "why"), INNER_RULES)
def test_inner_rules(pattern, forbidden, why):
    files = sorted(ROOT.glob(pattern))
    assert files
    skip = EXCEPT.get(pattern)
    for path in files:
        relative = path.relative_to(ROOT).as_posix()
        if skip and relative.startswith(skip):
            continue
        wrong = imported_modules(path) & forbidden
        assert not wrong, f"{relative} imports {sorted(wrong)}: {why}"


def test_the_check_sees_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import bot.jobs\nfrom webhooks import create_app\nimport os\n")
    assert imported_packages(sample) == {"bot", "webhooks"}
    sample.write_text("from bot import jobs\nfrom bot.db import session_scope\n")
    assert {"bot.jobs", "bot.db", "bot.db.session_scope"} <= imported_modules(sample)


def test_the_sandbox_geocodes_with_the_gazetteer_alone():
    """The demo town is a data file for bot.gazetteer; the rest of the bot stays out of the
    stand-in city, and the gazetteer brings none of it in."""
    for package, allowed in (("sandbox", "bot.gazetteer"), ("bot/gazetteer", "bot.gazetteer")):
        for path in sorted((ROOT / package).rglob("*.py")):
            ours = {m for m in imported_modules(path) if m.split(".")[0] == "bot"}
            wrong = {m for m in ours if m not in ("bot", allowed)}
            wrong = {m for m in wrong if not m.startswith(allowed + ".")}
            assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}"
