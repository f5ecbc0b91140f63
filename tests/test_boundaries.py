"""Package boundaries: conversations imports no other package of ours; nothing imports webhooks."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"bot", "conversations", "webhooks"}
ALLOWED = {
    "conversations": {"conversations"},
    "bot": {"bot", "conversations"},
    "webhooks": {"webhooks", "bot", "conversations"},
}


def imported_packages(path: Path) -> set[str]:
    """Our top-level packages that a source file imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {name.split(".")[0] for name in names} & OURS
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_it_may(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    for path in files:
        wrong = imported_packages(path) - ALLOWED[package]
        assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}"


def test_the_check_sees_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import bot.jobs\nfrom webhooks import create_app\nimport os\n")
    assert imported_packages(sample) == {"bot", "webhooks"}
