"""Per-city server profiles: how one city's GeoReport v2 server wants to be spoken to."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

PROFILES_DIR = Path(__file__).with_name("profiles")

FORMATS = ("json", "xml")
DATE_STYLES = ("iso", "no_z")
MULTI_VALUE_STYLES = ("brackets", "repeat")
LOCATIONS = ("any", "both", "latlong", "address")
MARKER_PLACES = ("description", "device_id")
MEDIA_URLS = ("one", "all")
# The POST fields the bot fills, which a profile's `fields` may rename (or leave out with "").
POST_FIELDS = (
    "service_code",
    "description",
    "lat",
    "long",
    "address_string",
    "address_id",
    "device_id",
    "phone",
    "email",
    "first_name",
    "last_name",
    "media_url",
)

# The spec's resource paths; "{format}" is the profile's format, the others are path segments.
DEFAULT_PATHS = {
    "discovery": "discovery.{format}",
    "services": "services.{format}",
    "service_definition": "services/{service_code}.{format}",
    "requests": "requests.{format}",
    "request": "requests/{service_request_id}.{format}",
    "token": "tokens/{token}.{format}",
    "updates": "servicerequestupdates.{format}",
}


class ProfileError(ValueError):
    """A profile file that cannot be used, with a message that says why."""


@dataclass(frozen=True)
class Profile:
    """What one city's server expects; every field has the GeoReport v2 spec's default."""

    name: str = "generic"
    format: str = "json"
    jurisdiction_id: str = ""
    date_style: str = "iso"
    batch_size: int = 50
    page_size: int | None = None
    multi_value_style: str = "brackets"
    location: str = "any"  # any: send what we know | both | latlong | address
    description_limit: int = 4000
    updates: bool = False
    updated_after: bool = False
    # GET requests by service_code and start_date lists new requests with their description, so
    # a POST whose answer was lost can be looked for (by our marker) before filing again.
    marker_search: bool = True
    # Where our marker goes: "description" (ends the description, and device_id) or "device_id"
    # alone, for servers known to keep device_id and list it (the description stays clean).
    marker_in: str = "description"
    # The resident's photos: "one" sends the first as media_url (the spec has one URL a
    # request); "all" sends every one, media_url repeated (rename it in `fields`, e.g.
    # "media_url[]", for a server that reads an array).
    media_urls: str = "one"
    params: dict[str, str] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    # POST field names the server uses instead of the spec's (address_string = "address"; ""
    # leaves a field out), and fields sent with every report (static values).
    fields: dict[str, str] = field(default_factory=dict)
    extra_fields: dict[str, str] = field(default_factory=dict)

    @property
    def needs_coordinates(self) -> bool:
        """Whether every report must carry lat/long."""
        return self.location in ("both", "latlong")

    def __post_init__(self) -> None:
        _check_choice(self, "format", FORMATS)
        _check_choice(self, "date_style", DATE_STYLES)
        _check_choice(self, "multi_value_style", MULTI_VALUE_STYLES)
        _check_choice(self, "location", LOCATIONS)
        _check_choice(self, "marker_in", MARKER_PLACES)
        _check_choice(self, "media_urls", MEDIA_URLS)
        unknown_fields = sorted(set(self.fields) - set(POST_FIELDS))
        if unknown_fields:
            raise ProfileError(
                f"profile {self.name!r}: fields renames unknown field(s) "
                f"{', '.join(unknown_fields)}; known: {', '.join(POST_FIELDS)}"
            )
        if self.marker_in == "device_id" and self.fields.get("device_id") == "":
            raise ProfileError(f"profile {self.name!r}: marker_in is device_id, which is left out")
        for key in ("batch_size", "description_limit"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ProfileError(f"profile {self.name!r}: {key} must be a positive integer")
        if self.page_size is not None and (
            not isinstance(self.page_size, int)
            or isinstance(self.page_size, bool)
            or self.page_size < 1
        ):
            raise ProfileError(f"profile {self.name!r}: page_size must be a positive integer")
        unknown = sorted(set(self.paths) - set(DEFAULT_PATHS))
        if unknown:
            raise ProfileError(
                f"profile {self.name!r}: unknown path(s) {', '.join(unknown)}; "
                f"known: {', '.join(DEFAULT_PATHS)}"
            )

    def path(self, name: str, fmt: str | None = None, **segments: str) -> str:
        """The relative URL of resource `name` (e.g. "request") with its segments filled in,
        in the profile's format or `fmt`."""
        template = self.paths.get(name, DEFAULT_PATHS[name])
        return template.format(format=fmt or self.format, **segments)


def _check_choice(profile: Profile, key: str, choices: tuple[str, ...]) -> None:
    value = getattr(profile, key)
    if value not in choices:
        raise ProfileError(
            f"profile {profile.name!r}: {key} is {value!r}; choose one of {', '.join(choices)}"
        )


_KEYS = {f.name for f in fields(Profile)}
_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "format": (str,),
    "jurisdiction_id": (str,),
    "date_style": (str,),
    "batch_size": (int,),
    "page_size": (int,),
    "multi_value_style": (str,),
    "location": (str,),
    "description_limit": (int,),
    "updates": (bool,),
    "updated_after": (bool,),
    "marker_search": (bool,),
    "marker_in": (str,),
    "media_urls": (str,),
    "params": (dict,),
    "paths": (dict,),
    "fields": (dict,),
    "extra_fields": (dict,),
}


def available_profiles() -> list[str]:
    """The names of the bundled profiles."""
    return sorted(p.stem for p in PROFILES_DIR.glob("*.toml"))


def profile_from_dict(data: dict[str, Any], *, name: str = "generic") -> Profile:
    """A Profile from a mapping such as a parsed TOML file; unknown keys are an error."""
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ProfileError(
            f"profile {data.get('name', name)!r}: unknown key(s) {', '.join(unknown)}; "
            f"known keys: {', '.join(sorted(_KEYS))}"
        )
    values = {"name": name, **data}
    for key, value in values.items():
        if not isinstance(value, _TYPES[key]) or (
            isinstance(value, bool) and bool not in _TYPES[key]
        ):
            wanted = _TYPES[key][0].__name__
            raise ProfileError(
                f"profile {values['name']!r}: {key} must be a {wanted}, not {value!r}"
            )
    if values.get("page_size") == 0:
        values["page_size"] = None
    for key in ("params", "paths", "fields", "extra_fields"):
        values[key] = {str(k): str(v) for k, v in values.get(key, {}).items()}
    return Profile(**values)


@lru_cache(maxsize=32)
def load_profile(name_or_path: str) -> Profile:
    """A bundled profile by name ("chicago") or a TOML file by path, read once per process."""
    text = str(name_or_path).strip()
    if not text:
        raise ProfileError("no Open311 profile given")
    looks_like_path = text.endswith(".toml") or "/" in text or "\\" in text
    path = Path(text) if looks_like_path else PROFILES_DIR / f"{text}.toml"
    if not path.is_file():
        if looks_like_path:
            raise ProfileError(f"Open311 profile file {text!r} does not exist")
        raise ProfileError(
            f"unknown Open311 profile {text!r}; bundled: {', '.join(available_profiles())}, "
            "or give the path of a .toml file"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"Open311 profile {path.name}: not valid TOML: {exc}") from exc
    return profile_from_dict(data, name=path.stem)
