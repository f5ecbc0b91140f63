"""Notices sent outside a turn, and the plain-text rendering of replies."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from conversations import Reply
from conversations.notices import (
    report_delayed,
    report_filed,
    report_rejected,
    report_saved,
    status_changed,
)
from conversations.plaintext import render
from conversations.segments import is_gsm7, segments


def test_report_filed():
    assert report_filed("2026-000123", "Pothole") == (
        "Your Pothole report was received by the city. Request number: 2026-000123. "
        "Text STATUS 2026-000123 any time."
    )


def test_report_delayed_says_saved_and_number_to_come():
    text = report_delayed()
    assert "saved" in text and "request number" in text
    assert segments(text) == 1 and is_gsm7(text)


def test_report_saved_says_saved_without_blaming_the_city():
    text = report_saved()
    assert text == (
        "Your report is saved and will be sent to the city shortly; we'll text you the request "
        "number."
    )
    assert segments(text) == 1 and is_gsm7(text)
    from bot.languages import load_languages

    assert report_saved(load_languages()["es"]) == (
        "Su reporte está guardado y se enviará a la ciudad en breve; le mandaremos el número de "
        "solicitud."
    )


def test_report_rejected_cuts_a_long_reason_to_one_segment():
    assert report_rejected("Outside the city limits") == (
        "Sorry, the city could not accept your report: Outside the city limits. "
        "Text us to start a new one."
    )
    long = report_rejected("Invalid attribute value " * 20)
    assert segments(long) == 1 and "..." in long and long.endswith("start a new one.")


def test_status_changed_with_and_without_service_and_notes():
    assert status_changed("123", "Closed", "Repaired today", "Pothole") == (
        "Update on request 123 (Pothole): Closed. Repaired today."
    )
    assert status_changed("123", "open", "") == "Update on request 123: open."
    long = status_changed("123", "In progress", "A very long note. " * 30, "Pothole")
    assert segments(long) == 1 and long.endswith("...")


def test_render_numbers_the_options_one_per_line():
    reply = Reply("Pick one.", ("Pothole", "Streetlight Out"), "choice")
    assert render(reply) == "Pick one.\n1 Pothole\n2 Streetlight Out"
    assert render(Reply("Just text.")) == "Just text."


def test_status_change_tells_the_expected_date_in_the_citys_offset():
    from datetime import datetime, timedelta, timezone

    expected = datetime(2026, 11, 25, 23, 30, tzinfo=timezone(timedelta(hours=-6)))
    text = status_changed("2026-000001", "open", "Crew assigned", "Pothole", expected)
    assert text.endswith("open. Crew assigned. Expected by Nov 25.")
    assert segments(text) == 1


def test_status_change_days_are_in_the_residents_language():
    from bot.languages import load_languages

    languages = load_languages()
    expected = datetime(2026, 12, 5, 15, tzinfo=UTC)
    assert status_changed("nnxoxfvi", "open", "", "Pothole", expected) == (
        "Update on request nnxoxfvi (Pothole): open. Expected by Dec 5."
    )
    assert status_changed("nnxoxfvi", "open", "", "Pothole", expected, languages["es"]) == (
        "Novedad en la solicitud nnxoxfvi (Bache): open. Fecha prevista: 5 dic."
    )
    chinese = status_changed("nnxoxfvi", "open", "", "", expected, languages["zh"])
    assert chinese.endswith("12月5日。")


def test_a_closed_request_is_never_expected():
    expected = datetime(2026, 12, 5, 15, tzinfo=UTC)
    assert status_changed("123", "closed", "Filled", "Pothole", expected) == (
        "Update on request 123 (Pothole): closed. Filled."
    )


def test_a_day_is_on_the_given_zones_calendar():
    from bot.languages import load_languages
    from conversations.dates import day

    spanish = load_languages()["es"]
    moment = datetime(2026, 12, 5, 3, tzinfo=UTC)  # Dec 4, 9 PM in Chicago
    assert day(moment, spanish) == "5 dic"
    assert day(moment, spanish, "America/Chicago") == "4 dic"
    assert day(datetime(2026, 12, 5, 3), spanish, "America/Chicago") == "4 dic"  # naive: UTC
    assert day(moment, replace(spanish, code="xx")) == "Dec 5"  # Babel has no such locale
