"""The demo town, "Springfield": one GeoJSON file (demo_town.json) that the city's own geocoder
(bot.gazetteer) indexes on first use, and what its features say beyond the index (suburbs,
postcodes, OpenStreetMap-style ids) for answers shaped like Nominatim's."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from bot.gazetteer.build import SCHEMA_VERSION, build
from bot.gazetteer.geocoder import Gazetteer

DEMO_TOWN = Path(__file__).with_name("demo_town.json")


@dataclass(frozen=True)
class Town:
    """The town's own details, and its streets' and places' properties by lower-case name."""

    details: dict[str, str]
    streets: dict[str, dict[str, Any]]
    places: dict[str, dict[str, Any]]

    @property
    def city(self) -> str:
        """The town's name."""
        return self.details["city"]


def read_town(source: Path = DEMO_TOWN) -> Town:
    """The town's details (the file's `town` member) and its features' properties."""
    data = json.loads(source.read_text(encoding="utf-8"))
    streets, places = {}, {}
    for feature in data["features"]:
        props, geometry = feature["properties"], feature["geometry"]
        if geometry["type"] == "LineString":
            streets[props["street_name"].casefold()] = {**props, "line": geometry["coordinates"]}
        else:
            places[props["name"].casefold()] = props
    return Town(data["town"], streets, places)


def index_path(source: Path = DEMO_TOWN) -> Path:
    """Where the index of `source` is kept: one file per content and index schema, in a
    folder of this user's under the system's temporary folder."""
    digest = hashlib.sha256(source.read_bytes() + SCHEMA_VERSION.encode()).hexdigest()[:16]
    return _cache_folder() / f"demo-town-{digest}.sqlite3"


def demo_index(source: Path = DEMO_TOWN) -> Path:
    """The index of the demo town, built on first use (in milliseconds: 15 streets)."""
    path = index_path(source)
    if not path.is_file():
        # Built under a name of its own, then moved in whole: processes starting together
        # (test workers, the demo's children) never see one another's half-written index.
        mine = path.with_name(f"{path.stem}.{os.getpid()}.{secrets.token_hex(4)}.sqlite3")
        build([source], mine, read_town(source).city)
        os.replace(mine, path)
    return path


@lru_cache(maxsize=1)
def demo_town() -> Town:
    """The bundled demo town's details, read once."""
    return read_town()


@lru_cache(maxsize=1)
def demo_gazetteer() -> Gazetteer:
    """The bundled demo town as the city's own geocoder, over its index."""
    return Gazetteer(demo_index(), demo_town().city)


def _cache_folder() -> Path:
    """This user's folder for built indexes (another user's folder of that name is not used)."""
    folder = Path(tempfile.gettempdir()) / f"intake311-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    found = os.lstat(folder)
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid():
        return Path(tempfile.mkdtemp(prefix="intake311-"))
    return folder
