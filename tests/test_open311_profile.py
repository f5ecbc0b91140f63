"""Per-city profiles: the bundled ones load with their documented quirks; bad ones say why."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.open311.profile import (
    Profile,
    ProfileError,
    available_profiles,
    load_profile,
    profile_from_dict,
)


def test_bundled_profiles_are_all_loadable():
    names = available_profiles()
    assert {"sandbox", "generic", "chicago", "sanfrancisco", "toronto"} <= set(names)
    for name in names:
        assert load_profile(name).name == name


def test_generic_is_the_spec():
    generic = load_profile("generic")
    assert generic.format == "xml" and generic.jurisdiction_id == ""
    assert generic.batch_size == 50 and generic.page_size is None
    assert generic.multi_value_style == "brackets" and generic.location == "any"
    assert generic.description_limit == 4000 and not generic.updates
    assert generic.path("request", service_request_id="7") == "requests/7.xml"


def test_city_profiles_carry_their_documented_quirks():
    chicago = load_profile("chicago")
    assert chicago.location == "both" and chicago.page_size == 50
    assert chicago.jurisdiction_id == "cityofchicago.org" and chicago.updated_after
    assert chicago.params == {"extensions": "true"}
    assert load_profile("sanfrancisco").jurisdiction_id == "sfgov.org"
    assert load_profile("toronto").jurisdiction_id == "toronto.ca"
    assert load_profile("sandbox_xml").format == "xml"


def test_profile_by_path_and_overrides(tmp_path):
    path = tmp_path / "springfield.toml"
    path.write_text(
        'format = "xml"\nmulti_value_style = "repeat"\npage_size = 0\n'
        '[paths]\nupdates = "updates.{format}"\n'
    )
    profile = load_profile(str(path))
    assert profile.name == "springfield" and profile.format == "xml"
    assert profile.page_size is None and profile.multi_value_style == "repeat"
    assert profile.path("updates") == "updates.xml"
    assert profile.path("services") == "services.xml"
    assert replace(profile, batch_size=10).batch_size == 10


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('formt = "xml"\n', "unknown key(s) formt"),
        ('format = "yaml"\n', "choose one of json, xml"),
        ('location = "everywhere"\n', "location"),
        ("batch_size = 0\n", "batch_size must be a positive integer"),
        ('batch_size = "50"\n', "batch_size must be a int"),
        ("updates = 1\n", "updates must be a bool"),
        ('[paths]\nservice = "x"\n', "unknown path(s) service"),
        ("format = \n", "not valid TOML"),
    ],
)
def test_bad_profile_files_are_clear_errors(tmp_path, text, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ProfileError) as info:
        load_profile(str(path))
    assert words in str(info.value)


def test_unknown_names_and_missing_files():
    with pytest.raises(ProfileError, match="unknown Open311 profile 'atlantis'.*chicago"):
        load_profile("atlantis")
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile("nowhere/city.toml")
    with pytest.raises(ProfileError, match="no Open311 profile"):
        load_profile(" ")


def test_profile_from_dict_and_direct_construction():
    assert profile_from_dict({"format": "xml"}, name="x").format == "xml"
    with pytest.raises(ProfileError, match="date_style"):
        Profile(date_style="unix")
