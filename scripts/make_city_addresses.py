"""Generate a real-shaped city address file set: a grid city's address points, street
centrelines with house-number ranges, and a few landmarks.

    .venv/bin/python scripts/make_city_addresses.py OUT_DIR [--named 52] [--numbered 60]
                                                    [--per-side 25] [--drop 0.02] [--seed 311]

Writes, in the column names of San Francisco's open data (DataSF):
- addresses.csv: address points as in the Enterprise Addressing System's flat export
  ("Addresses with Units - EAS": eas_address_base_id, base_address_num, base_address_suffix,
  street_name, street_type, street_post_direction, street_cnn, street_full_street_name,
  eas_unit_address_id, unit_address, longitude, latitude), house numbers as SF writes them and
  numbered streets zero-padded ("05TH" ST), some addresses with unit rows;
- streets.geojson: centrelines as in "Streets - Active and Retired" (cnn, street, st_type,
  streetname, lf_fadd, lf_toadd, rt_fadd, rt_toadd, classcode), one LineString per block;
- places.geojson: named points (name, category, address_number, street_name), the shape of any
  points-of-interest export (SF's address and street data name no places).

The city: numbered streets "1st".."60th" run north-south, named streets east-west; every block
is about 100 m; block k of a named street (between kth and k+1th) holds numbers 100k..100k+99,
odd on the north (left of the line, drawn west to east), even on the south; a numbered street's
block between named streets j and j+1 holds 100(j+1).., odd on the west. Broadway runs
diagonally across the south-west, crossing the grid where no vertex is shared. A share of the
address points (--drop) is left out, so some houses are found only by interpolation; every
house's true position is `house_position()` (for tests and the benchmark).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from dataclasses import dataclass
from pathlib import Path

LAT0, LON0 = 40.70, -89.62  # the city's south-west corner (a fictional town)
DLAT, DLON = 0.0009, 0.0012  # one block: about 100 m each way at this latitude
SIDE = 10.0  # metres from the centreline to the houses
METRES_PER_DEGREE = 111_320.0
NAMED = [
    "Mission",
    "Main",
    "Elm",
    "Oak",
    "Pine",
    "Maple",
    "Cedar",
    "Walnut",
    "Spruce",
    "Birch",
    "Ash",
    "Willow",
    "Chestnut",
    "Hickory",
    "Laurel",
    "Magnolia",
    "Poplar",
    "Sycamore",
    "Cherry",
    "Juniper",
    "Lincoln",
    "Washington",
    "Jefferson",
    "Madison",
    "Monroe",
    "Jackson",
    "Adams",
    "Franklin",
    "Grant",
    "Harrison",
    "Hayes",
    "Howard",
    "Folsom",
    "Bryant",
    "Brannan",
    "Townsend",
    "Market",
    "Church",
    "Valencia",
    "Guerrero",
    "Dolores",
    "Sanchez",
    "Noe",
    "Castro",
    "Diamond",
    "Douglass",
    "Hoffman",
    "Corbett",
    "Clayton",
    "Stanyan",
    "Shrader",
    "Cole",
    "Carl",
    "Frederick",
    "Belvedere",
    "Ashbury",
    "Masonic",
    "Lyon",
    "Baker",
    "Broderick",
]
AVENUES = {"Oak", "Maple", "Lincoln", "Grant", "Church", "Castro", "Masonic"}
CITY = "Gridley"


def ordinal(number: int) -> str:
    """5 -> '05TH', as SF's data writes numbered streets."""
    suffix = (
        "TH" if 10 <= number % 100 <= 20 else {1: "ST", 2: "ND", 3: "RD"}.get(number % 10, "TH")
    )
    return f"{number:02d}{suffix}"


@dataclass(frozen=True)
class City:
    """The grid's size and what was written."""

    named: int
    numbered: int
    per_side: int
    addresses: int = 0
    unit_rows: int = 0
    segments: int = 0
    places: int = 0


def named_street(j: int) -> tuple[str, str]:
    """The jth east-west street's name and type, as SF writes them ('MISSION', 'ST')."""
    name = NAMED[j % len(NAMED)] + ("" if j < len(NAMED) else f" {j // len(NAMED) + 1}")
    return name.upper(), "AVE" if name in AVENUES else "ST"


def lat_of(j: int) -> float:
    """Latitude of the jth named street (0 = southmost)."""
    return LAT0 + j * DLAT


def lon_of(k: int) -> float:
    """Longitude of the kth numbered street (1 = westmost)."""
    return LON0 + (k - 1) * DLON


def house_position(kind: str, index: int, number: int) -> tuple[float, float]:
    """Where house `number` stands on the `index`th named street (kind 'named') or numbered
    street ('numbered'): along its block by number, SIDE metres off the centreline."""
    block, within = divmod(number, 100)
    fraction = within / 100
    kx = METRES_PER_DEGREE * __import__("math").cos(__import__("math").radians(LAT0))
    if kind == "named":  # block k runs from kth to k+1th street, west to east; odd north
        lat = lat_of(index) + (SIDE if number % 2 else -SIDE) / METRES_PER_DEGREE
        return lat, lon_of(block) + fraction * DLON
    # numbered street: block j+1 runs from named street j to j+1, south to north; odd west
    lon = lon_of(index) + (-SIDE if number % 2 else SIDE) / kx
    return lat_of(block - 1) + fraction * DLAT, lon


def numbers(block: int, per_side: int) -> list[int]:
    """The house numbers standing on one block, both sides."""
    step = max(2, 2 * (50 // per_side))
    odd = [100 * block + 1 + step * i for i in range(per_side) if 1 + step * i < 100]
    even = [100 * block + step * i for i in range(per_side) if step * i < 100]
    return sorted(odd + even)


def make_city(
    out: Path,
    named: int = 52,
    numbered: int = 60,
    per_side: int = 25,
    drop: float = 0.02,
    seed: int = 311,
) -> City:
    """Write addresses.csv, streets.geojson and places.geojson into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    base_id = unit_id = 0
    addresses = unit_rows = 0
    features = []
    cnn = 100000
    header = [
        "eas_address_base_id",
        "base_address_num",
        "base_address_suffix",
        "street_name",
        "street_type",
        "street_post_direction",
        "street_cnn",
        "street_full_street_name",
        "eas_unit_address_id",
        "unit_address",
        "longitude",
        "latitude",
    ]
    with (out / "addresses.csv").open("w", newline="", encoding="utf-8") as handle:
        rows = csv.writer(handle)
        rows.writerow(header)

        def house(
            kind: str, index: int, name: str, kind_code: str, number: int, street_cnn: int
        ) -> None:
            nonlocal base_id, unit_id, addresses, unit_rows
            if rng.random() < drop:
                return
            lat, lon = house_position(kind, index, number)
            base_id += 1
            addresses += 1
            units = [""] + ([str(u) for u in range(1, 4)] if rng.random() < 0.03 else [])
            for unit in units:
                unit_id += 1
                unit_rows += bool(unit)
                rows.writerow(
                    [base_id, number, "", name, kind_code, "", street_cnn, f"{name} {kind_code}"]
                    + [unit_id, unit, f"{lon:.7f}", f"{lat:.7f}"]
                )

        def line(name: str, kind_code: str, points: list[tuple[float, float]], block: int) -> int:
            nonlocal cnn
            cnn += 1
            features.append(
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "LineString",
                        "coordinates": [[lon, lat] for lat, lon in points],
                    },
                    "properties": {
                        "cnn": str(cnn),
                        "street": name,
                        "st_type": kind_code,
                        "streetname": f"{name} {kind_code}",
                        "lf_fadd": str(100 * block + 1),
                        "lf_toadd": str(100 * block + 99),
                        "rt_fadd": str(100 * block),
                        "rt_toadd": str(100 * block + 98),
                        "classcode": "5",
                    },
                }
            )
            return cnn

        for j in range(named):
            name, kind_code = named_street(j)
            for k in range(1, numbered):
                street_cnn = line(
                    name, kind_code, [(lat_of(j), lon_of(k)), (lat_of(j), lon_of(k + 1))], k
                )
                for number in numbers(k, per_side):
                    house("named", j, name, kind_code, number, street_cnn)
        for k in range(1, numbered + 1):
            name = ordinal(k)
            for j in range(named - 1):
                street_cnn = line(
                    name, "ST", [(lat_of(j), lon_of(k)), (lat_of(j + 1), lon_of(k))], j + 1
                )
                for number in numbers(j + 1, per_side):
                    house("numbered", k, name, "ST", number, street_cnn)
    # Broadway: one diagonal line across the south-west blocks, crossing the grid off its
    # vertices; its numbers run 1-999 (odd north-west side) without address points.
    span = min(named - 1, numbered - 1, 9)
    diagonal = [(lat_of(0) + 0.3 * DLAT, lon_of(1) + 0.4 * DLON)]
    diagonal.append((lat_of(span) - 0.3 * DLAT, lon_of(span + 1) - 0.35 * DLON))
    features.append(
        {
            "type": "Feature",
            "geometry": {
                "type": "LineString",
                "coordinates": [[lon, lat] for lat, lon in diagonal],
            },
            "properties": {
                "cnn": str(cnn + 1),
                "street": "BROADWAY",
                "st_type": "",
                "streetname": "BROADWAY",
                "lf_fadd": "1",
                "lf_toadd": "999",
                "rt_fadd": "2",
                "rt_toadd": "998",
                "classcode": "3",
            },
        }
    )
    collection = {"type": "FeatureCollection", "features": features}
    (out / "streets.geojson").write_text(json.dumps(collection), encoding="utf-8")
    places = landmarks(named, numbered)
    (out / "places.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": places}), encoding="utf-8"
    )
    return City(named, numbered, per_side, addresses, unit_rows, len(features), len(places))


def landmarks(named: int, numbered: int) -> list[dict]:
    """A few named places: a park in a block's middle, a library and a city hall at addresses."""
    mid_j, mid_k = named // 2, numbered // 2

    def point(
        name: str, category: str, lat: float, lon: float, number: str = "", street: str = ""
    ) -> dict:
        props = {
            "name": name,
            "category": category,
            "address_number": number,
            "street_name": street,
        }
        return {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": props,
        }

    library_lat, library_lon = house_position("named", 2, 2 * 100 + 51)  # 251 on the third street
    hall_lat, hall_lon = house_position("named", 1, mid_k * 100 + 1)
    street_2, type_2 = named_street(2)
    street_1, type_1 = named_street(1)
    return [
        point(
            "Lincoln Park",
            "park",
            (lat_of(mid_j) + lat_of(mid_j + 1)) / 2,
            (lon_of(mid_k) + lon_of(mid_k + 1)) / 2,
        ),
        point(
            "Central Library", "library", library_lat, library_lon, "251", f"{street_2} {type_2}"
        ),
        point(
            "City Hall",
            "townhall",
            hall_lat,
            hall_lon,
            str(mid_k * 100 + 1),
            f"{street_1} {type_1}",
        ),
        point("Union Station", "station", lat_of(0) - 0.0004, lon_of(mid_k)),
        point(
            "Gridley General Hospital",
            "hospital",
            lat_of(named - 2) + DLAT / 2,
            lon_of(3) + DLON / 2,
        ),
    ]


def main() -> None:
    """Write the files and say what they hold."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--named", type=int, default=52, help="east-west named streets")
    parser.add_argument("--numbered", type=int, default=60, help="north-south numbered streets")
    parser.add_argument("--per-side", type=int, default=25, help="houses on each side of a block")
    parser.add_argument("--drop", type=float, default=0.02, help="share of houses left out")
    parser.add_argument("--seed", type=int, default=311)
    args = parser.parse_args()
    city = make_city(args.out, args.named, args.numbered, args.per_side, args.drop, args.seed)
    print(
        f"{city.addresses:,} addresses ({city.unit_rows:,} more unit rows), "
        f"{city.segments:,} centreline segments, {city.places} places in {args.out}"
    )


if __name__ == "__main__":
    main()
