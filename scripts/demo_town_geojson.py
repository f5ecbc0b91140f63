"""The sandbox's demo town (sandbox/gazetteer.json) as one GeoJSON file for the city's own
geocoder, so the demo can run on `GEOCODER=gazetteer` instead of the sandbox's Nominatim:

    .venv/bin/python scripts/demo_town_geojson.py var/demo-town.geojson
    .venv/bin/intake311 gazetteer load var/demo-town.geojson --city Springfield

Each street becomes a centreline whose house numbers run evenly from its first to its last
(odd on the left, even on the right); each landmark a named point, once under its name and once
under each alias.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sandbox.gazetteer import GAZETTEER_PATH


def _side(first: int, last: int, odd: bool) -> tuple[int, int]:
    """The first and last house numbers of one parity within first..last."""
    start = first if (first % 2 == 1) == odd else first + 1
    end = last if (last % 2 == 1) == odd else last - 1
    return start, end


def demo_town(data: dict) -> dict:
    """The demo town's streets and landmarks as a GeoJSON FeatureCollection."""
    features = []
    for street in data["streets"]:
        left, right = (
            _side(street["first"], street["last"], True),
            _side(street["first"], street["last"], False),
        )
        (lat0, lon0), (lat1, lon1) = street["from"], street["to"]
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[lon0, lat0], [lon1, lat1]]},
                "properties": {
                    "street_name": street["name"],
                    "l_f_add": left[0],
                    "l_t_add": left[1],
                    "r_f_add": right[0],
                    "r_t_add": right[1],
                    "zip_code": street["postcode"],
                },
            }
        )
    for landmark in data.get("landmarks", []):
        for name in (landmark["name"], *landmark.get("aliases", [])):
            features.append(
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "Point",
                        "coordinates": [landmark["lon"], landmark["lat"]],
                    },
                    "properties": {
                        "name": name,
                        "category": landmark.get("type", ""),
                        "address_number": landmark.get("house_number", ""),
                        "street_name": landmark.get("road", ""),
                    },
                }
            )
    return {"type": "FeatureCollection", "features": features}


def main() -> None:
    """Write the demo town's GeoJSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--source", type=Path, default=GAZETTEER_PATH)
    args = parser.parse_args()
    data = json.loads(args.source.read_text(encoding="utf-8"))
    args.out.write_text(json.dumps(demo_town(data), indent=1), encoding="utf-8")
    print(
        f"{len(data['streets'])} streets, {len(data.get('landmarks', []))} landmarks -> {args.out}"
    )


if __name__ == "__main__":
    main()
