"""The geocoding service GEOCODER names, and one reader per provider family that turns its
results' `raw` into Nominatim's shape (address{house_number, road, city}, name,
display_name), so `bot.geocoding` reads every provider the same way.

GEOCODER: nominatim | photon | pelias | arcgis | gazetteer | none | any other service name
geopy knows (`geopy.geocoders.get_geocoder_for_service`; read by its address only).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from geopy.adapters import RequestsAdapter
from geopy.geocoders import SERVICE_TO_GEOCODER, get_geocoder_for_service
from geopy.geocoders.base import Geocoder
from geopy.location import Location

from bot.settings import Settings

# Services whose results have a reader of their own; any other geopy service is read by its
# address line alone (never `exact`).
FAMILIES = ("nominatim", "photon", "pelias", "arcgis", "gazetteer")
# Services that take an API key, and the name of their constructor's argument for it.
_KEY_ARGUMENT = ("api_key", "apikey", "key")
# ArcGIS's candidate fields read below (its World service returns none unless asked).
ARCGIS_FIELDS = "AddNum,StPreDir,StName,StType,StDir,StAddr,City,PlaceName,Addr_type"


def known(service: str) -> bool:
    """Whether GEOCODER names a service this version can use."""
    return service in ("none", "gazetteer") or service in SERVICE_TO_GEOCODER


def build(settings: Settings) -> Geocoder:
    """The geopy geocoder for GEOCODER (not the gazetteer, nor none), with one bounded try
    per call: geopy's requests adapter retries nothing, and GEOCODER_TIMEOUT bounds it."""
    service = settings.geocoder
    cls = get_geocoder_for_service(service)
    adapter = functools.partial(RequestsAdapter, max_retries=0)
    wanted: dict[str, Any] = {
        "domain": settings.geocoder_domain,
        "scheme": settings.geocoder_scheme,
        "user_agent": settings.geocoder_user_agent,
        "timeout": settings.geocoder_timeout,
        "adapter_factory": adapter,
    }
    if family(service) == "photon" and settings.geocoder_domain == "nominatim.openstreetmap.org":
        wanted["domain"] = "photon.komoot.io"  # the default domain is Nominatim's
    accepted = inspect.signature(cls.__init__).parameters
    for name in _KEY_ARGUMENT:
        if name in accepted and settings.geocoder_api_key:
            wanted[name] = settings.geocoder_api_key
    if service == "arcgis" and settings.geocoder_domain == "nominatim.openstreetmap.org":
        del wanted["domain"]  # ArcGIS's World service is its own default
    return cls(**{k: v for k, v in wanted.items() if k in accepted})


def family(service: str) -> str:
    """The family whose API (and results) a service shares: geocode.earth is Pelias,
    OpenMapQuest Nominatim; "" for a service read by its address alone."""
    if service in ("gazetteer", "none"):
        return service
    try:
        cls = get_geocoder_for_service(service)
    except Exception:  # noqa: BLE001  geopy's GeocoderNotFound
        return ""
    for base in cls.__mro__:
        name = base.__name__.casefold()
        if name in FAMILIES:
            return name
    return ""


def search_options(service: str, bounds: Any, limit: int) -> dict[str, Any]:
    """The provider's own keywords for `geocode`: several results, in the city's box where
    the provider can be told it."""
    service = family(service)
    if service == "gazetteer":  # the city's own data: the bounds split it inside and outside
        return {"limit": limit}
    if service == "nominatim":
        return {
            "limit": limit,
            "addressdetails": True,
            "viewbox": bounds,
            "bounded": bounds is not None,
        }
    if service == "photon":
        return {"limit": limit, "bbox": bounds} if bounds else {"limit": limit}
    if service == "pelias":
        return {"boundary_rect": bounds} if bounds else {}
    if service == "arcgis":
        return {"out_fields": ARCGIS_FIELDS}
    return {}


def nominatim_shaped(service: str, location: Location) -> dict[str, Any]:
    """A result of `service` in Nominatim's shape, its point from the Location."""
    raw = location.raw if isinstance(location.raw, dict) else {}
    reader = READERS.get(family(service), _generic)
    shaped = reader(raw, location)
    shaped["lat"], shaped["lon"] = location.latitude, location.longitude
    return shaped


def _shape(house: Any, road: Any, city: Any, name: Any, label: Any) -> dict[str, Any]:
    address = {
        key: str(value).strip()
        for key, value in (("house_number", house), ("road", road), ("city", city))
        if value is not None and str(value).strip()
    }
    return {"address": address, "name": str(name or ""), "display_name": str(label or "")}


def _nominatim(raw: dict[str, Any], location: Location) -> dict[str, Any]:
    """Nominatim's and the gazetteer's results are already in that shape."""
    return dict(raw)


def _photon(raw: dict[str, Any], location: Location) -> dict[str, Any]:
    """Photon: a GeoJSON Feature whose properties hold housenumber, street, city (or town,
    village), name."""
    p = raw.get("properties") or {}
    city = p.get("city") or p.get("town") or p.get("village")
    house, name = p.get("housenumber"), p.get("name")
    street = p.get("street") if house else None  # a place's street alone would hide its name
    if not house and p.get("osm_key") == "highway":
        street, name = name, ""  # a street itself: its name is the road
    return _shape(house, street, city, name, location.address)


def _pelias(raw: dict[str, Any], location: Location) -> dict[str, Any]:
    """Pelias: a GeoJSON Feature whose properties hold housenumber, street, locality, name,
    label."""
    p = raw.get("properties") or {}
    city = p.get("locality") or p.get("localadmin")
    house, layer = p.get("housenumber"), p.get("layer")
    name = "" if layer in ("address", "street") else p.get("name")
    street = p.get("street") if house else (p.get("name") if layer == "street" else None)
    return _shape(house, street, city, name, p.get("label") or location.address)


def _arcgis(raw: dict[str, Any], location: Location) -> dict[str, Any]:
    """ArcGIS: a candidate (geocode) with the asked `attributes`, or a reverse geocode's
    `address` object (AddNum, Address, City)."""
    found = raw.get("attributes")
    a: dict[str, Any] = found if isinstance(found, dict) else raw
    street = " ".join(
        str(a[k]) for k in ("StPreDir", "StName", "StType", "StDir") if a.get(k)
    ) or _street_of(a.get("Address"), a.get("AddNum"))
    kind = str(a.get("Addr_type") or "")
    if kind == "POI":  # a place: its name, not the street it is on
        return _shape(None, None, a.get("City"), a.get("PlaceName"), location.address)
    house = a.get("AddNum") if kind in ("", "PointAddress", "StreetAddress", "Subaddress") else ""
    return _shape(house, street, a.get("City"), "", location.address)


def _street_of(address: Any, number: Any) -> str:
    """The street of an ArcGIS address line ("380 New York St" less its number)."""
    text = str(address or "").strip()
    if number and text.startswith(f"{number} "):
        return text[len(str(number)) + 1 :]
    return ""


def _generic(raw: dict[str, Any], location: Location) -> dict[str, Any]:
    """Any other service: its address line; never the very house typed."""
    return _shape(None, None, None, "", location.address)


READERS: dict[str, Callable[[dict[str, Any], Location], dict[str, Any]]] = {
    "nominatim": _nominatim,
    "gazetteer": _nominatim,
    "photon": _photon,
    "pelias": _pelias,
    "arcgis": _arcgis,
}
