"""`intake311 gazetteer`: build the city's own geocoder index from its address files, and
look things up in it."""

from __future__ import annotations

import time
from pathlib import Path

import click

from bot.settings import get_settings


@click.group("gazetteer")
def gazetteer_group() -> None:
    """The city's own address data as the geocoder (GEOCODER=gazetteer, GAZETTEER_FILE)."""


def _columns(pairs: tuple[str, ...]) -> dict[str, str]:
    """--column FIELD=COLUMN options as a mapping."""
    found = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise click.BadParameter(f"{pair!r} is not FIELD=COLUMN", param_hint="--column")
        found[field.strip()] = column.strip()
    return found


@gazetteer_group.command("load")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The index to write (default GAZETTEER_FILE).",
)
@click.option("--city", default=None, help="The city's name in results (default CITY_NAME).")
@click.option(
    "--column",
    "columns",
    multiple=True,
    metavar="FIELD=COLUMN",
    help="A column the common names miss: number, suffix, street, type, predir, postdir, unit, "
    "lat, lon, geometry, name, kind, left_from, left_to, right_from, right_to, from, to.",
)
def load(
    files: tuple[Path, ...], out: Path | None, city: str | None, columns: tuple[str, ...]
) -> None:
    """Build the index from address points, centrelines and places (CSV or GeoJSON)."""
    from bot.gazetteer.build import build

    settings = get_settings()
    target = out or Path(settings.gazetteer_file)
    try:
        built = build(
            files, target, city if city is not None else settings.city_name, _columns(columns)
        )
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    except RecursionError as exc:  # a geometry nested thousands deep, a file gone wrong
        raise click.ClickException(
            "a file is nested too deeply to read: a malformed geometry? (nothing was loaded)"
        ) from exc
    click.echo(
        f"{built.points:,} address points ({built.units_folded:,} unit rows folded), "
        f"{built.streets:,} streets, {built.segments:,} segments, "
        f"{built.intersections:,} intersections, {built.places:,} places"
    )
    tally = built.tally
    click.echo(f"{tally.read:,} rows read, {tally.skipped_total:,} skipped")
    for reason, count in tally.skipped.most_common():
        click.echo(f"  {count:,} skipped: {reason}")
    click.echo(f"index {target} ({built.bytes / 1e6:.1f} MB) built in {built.seconds:.1f} s")


@gazetteer_group.command("lookup")
@click.argument("text", nargs=-1, required=True)
@click.option("--reverse", is_flag=True, help="TEXT is 'lat,lon': the address there.")
@click.option(
    "--index",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The index (default GAZETTEER_FILE).",
)
def lookup(text: tuple[str, ...], reverse: bool, index: Path | None) -> None:
    """Print what the index finds for a typed location (or, with --reverse, a point)."""
    from geopy.exc import GeopyError

    from bot.gazetteer.geocoder import Gazetteer

    settings = get_settings()
    geocoder = Gazetteer(index or settings.gazetteer_file, settings.city_name)
    query = " ".join(text)
    started = time.perf_counter()
    try:
        if reverse:
            found = geocoder.reverse(query, exactly_one=False) or []
        else:
            found = geocoder.geocode(query, exactly_one=False, limit=5) or []
    except (GeopyError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    took = (time.perf_counter() - started) * 1000
    for location in found:
        how = location.raw.get("gazetteer", "")
        click.echo(
            f"{location.address}  ({location.latitude:.6f}, {location.longitude:.6f}; {how})"
        )
    click.echo(f"{len(found)} found in {took:.1f} ms")
