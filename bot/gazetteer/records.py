"""What a data file holds, once read: address points, centrelines and named places."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bot.gazetteer.names import Street

LatLon = tuple[float, float]


@dataclass(frozen=True)
class AddressPoint:
    """One address: house number (and suffix, unit) on a street, at a point."""

    street: Street
    number: int
    lat: float
    lon: float
    suffix: str = ""
    unit: str = ""


@dataclass(frozen=True)
class Centreline:
    """A piece of street centreline, with the house numbers on its left and right sides
    (from the line's first point to its last), when the file gives them."""

    street: Street
    points: tuple[LatLon, ...]
    left: tuple[int, int] | None = None
    right: tuple[int, int] | None = None


@dataclass(frozen=True)
class NamedPlace:
    """A landmark or place name at a point ('Central Library'), with its address if known
    and the other names it is found by ('the library')."""

    name: str
    lat: float
    lon: float
    kind: str = ""
    street: Street | None = None
    number: int | None = None
    aliases: tuple[str, ...] = ()


Record = AddressPoint | Centreline | NamedPlace


@dataclass
class Tally:
    """Rows read from the files, and rows skipped by reason (never a crash)."""

    read: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def skip(self, reason: str) -> None:
        """Count one row skipped for `reason`."""
        self.skipped[reason] += 1

    @property
    def skipped_total(self) -> int:
        """All rows skipped."""
        return sum(self.skipped.values())
