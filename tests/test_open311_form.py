"""The POST form under each server's own names: marker place, renamed and static fields."""

from __future__ import annotations

import pytest

from bot.open311.encode import request_form
from bot.open311.profile import Profile, ProfileError, profile_from_dict

REPORT = {
    "service_code": "pothole",
    "description": "Deep hole",
    "lat": "60.169900",
    "long": "24.938400",
    "address_string": "120 Main Street",
    "phone": "+13125550142",
    "email": "r@example.org",
    "marker": "311-ABCDEFGH",
}


def form_of(profile: Profile, report: dict = REPORT) -> dict[str, str]:
    return dict(request_form(report, None, profile))


def test_by_default_the_marker_ends_the_description_and_is_the_device_id():
    form = form_of(Profile())
    assert form["description"] == "Deep hole [ref 311-ABCDEFGH]"
    assert form["device_id"] == "311-ABCDEFGH"


def test_a_server_that_keeps_device_id_gets_the_marker_there_alone():
    form = form_of(Profile(marker_in="device_id"))
    assert form["description"] == "Deep hole"
    assert form["device_id"] == "311-ABCDEFGH"


def test_fields_are_sent_under_the_servers_names_and_static_fields_added():
    profile = profile_from_dict(
        {
            "fields": {"address_string": "address", "phone": "phone_number", "email": ""},
            "extra_fields": {"source": "sms", "service_code": "ignored"},
        },
        name="city",
    )
    form = form_of(profile)
    assert form["address"] == "120 Main Street" and "address_string" not in form
    assert form["phone_number"] == "+13125550142" and "phone" not in form
    assert "email" not in form
    assert form["source"] == "sms"
    assert form["service_code"] == "pothole"  # a static field never overrides the report's


def test_a_city_needing_coordinates_keeps_the_address_it_reads_under_its_own_name():
    renamed = Profile(location="latlong", fields={"address_string": "address"})
    assert form_of(renamed)["address"] == "120 Main Street"
    assert "address_string" not in form_of(Profile(location="latlong"))


@pytest.mark.parametrize(
    "data, words",
    [
        ({"fields": {"adress_string": "address"}}, "unknown field(s) adress_string"),
        ({"marker_in": "title"}, "marker_in is 'title'"),
        ({"marker_in": "device_id", "fields": {"device_id": ""}}, "which is left out"),
        ({"fields": "address"}, "fields must be a dict"),
    ],
)
def test_bad_field_settings_are_clear_errors(data, words):
    with pytest.raises(ProfileError) as info:
        profile_from_dict(data, name="city")
    assert words in str(info.value)
