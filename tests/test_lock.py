"""requirements.lock agrees with pyproject.toml: `make install` gets what the suite passed with."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\]+)", re.M)


def locked() -> dict[str, str]:
    """Every package pinned in requirements.lock, by its canonical name."""
    text = (ROOT / "requirements.lock").read_text()
    return {canonicalize_name(name): version for name, version in PIN.findall(text)}


def declared() -> list[Requirement]:
    """The runtime and dev requirements and the build backend of pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found = [*project["project"]["dependencies"], *project["build-system"]["requires"]]
    found += project["project"]["optional-dependencies"]["dev"]
    return [Requirement(text) for text in found]


def test_every_declared_requirement_is_pinned_within_its_range():
    pins = locked()
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} in requirements.lock is outside {requirement}: run `make lock`"
        )


@pytest.mark.parametrize("name", ["requirements.lock", "requirements-uv.lock"])
def test_every_pin_carries_hashes(name):
    text = (ROOT / name).read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text)
    pinned = [block for block in blocks if PIN.match(block)]
    assert len(pinned) == len(PIN.findall(text)) >= 1
    for block in pinned:
        assert "--hash=sha256:" in block, block.splitlines()[0]


def test_uv_comes_alone_and_pinned():
    pins = PIN.findall((ROOT / "requirements-uv.lock").read_text())
    assert [name for name, _ in pins] == ["uv"]


def test_every_runtime_requirement_has_an_upper_bound():
    """A major release nobody here has run must not reach a fresh install."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for text in project["project"]["dependencies"]:
        requirement = Requirement(text)
        bounded = any(spec.operator in ("<", "<=", "==", "~=") for spec in requirement.specifier)
        assert bounded, f"{requirement} has no upper bound"


@pytest.mark.parametrize("name", ["requirements.lock", "requirements-uv.lock"])
def test_the_lock_names_no_local_paths_or_indexes(name):
    lines = (ROOT / name).read_text().splitlines()
    options = [line for line in lines if line.startswith("-")]
    assert options == []  # an index or a folder of this machine would bind the lock to it
    assert not [line for line in lines if "file:/" in line or "/work/" in line or "/tmp/" in line]
