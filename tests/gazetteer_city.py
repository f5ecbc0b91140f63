"""A small city made by scripts/make_city_addresses.py and indexed, for the gazetteer tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from bot.gazetteer.build import Built, build

ROOT = Path(__file__).resolve().parent.parent
CITY = "Gridley"
NAMED, NUMBERED, PER_SIDE = 8, 10, 5  # Mission, Main, Elm, Oak Ave... x 1st..10th; 5 a side


def city_script() -> ModuleType:
    """scripts/make_city_addresses.py as a module."""
    name = "make_city_addresses"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def make_index(folder: Path, drop: float = 0.0) -> tuple[Path, Built]:
    """The small city's files written in `folder` and built into its index there."""
    city_script().make_city(folder, NAMED, NUMBERED, PER_SIDE, drop=drop)
    files = [folder / "addresses.csv", folder / "streets.geojson", folder / "places.geojson"]
    index = folder / "gazetteer.sqlite3"
    return index, build(files, index, CITY)
