"""The scenario corpus: every resident's script through step(), safety rules, and the figures.

Hard rules (an emergency is never filed and always told to call 911, contact details masked
and sent only with consent, nothing filed that the resident did not want, every reply within
its segments) are asserted scenario by scenario. How well residents finish their reports is
measured over the whole corpus and must not drop below the floors below.
"""

from __future__ import annotations

from functools import lru_cache

import pytest

from tests.conversations import corpus

# Set just under what the corpus measured (see FIGURES.md): one more scenario going wrong in
# a language breaks its floor. Raise them as the engine improves. A language's floors apply
# once its catalogue (conversations/locales/<code>.po) is there, "all" once every one is.
FLOORS = {
    "all": {"completed": 0.98, "correct_service": 0.98, "correct_location": 0.98},
    "en": {"completed": 0.98, "correct_service": 0.98, "correct_location": 0.98},
    "es": {"completed": 0.90, "correct_service": 0.90, "correct_location": 0.90},
    "zh": {"completed": 0.88, "correct_service": 0.88, "correct_location": 0.88},
    "vi": {"completed": 0.88, "correct_service": 0.88, "correct_location": 0.88},
    "tl": {"completed": 0.88, "correct_service": 0.88, "correct_location": 0.88},
}
MIN_SCENARIOS, MIN_PER_LANGUAGE = 80, 8
SCENARIOS = corpus.load_scenarios()
CONTEXT = corpus.make_context()


@lru_cache(maxsize=1)
def outcomes() -> dict[str, corpus.Outcome]:
    """Every scenario, run once per session."""
    return {s.name: corpus.run(s, CONTEXT) for s in SCENARIOS}


def loaded(language: str) -> bool:
    """Whether the bot speaks the language (its catalogue is there); "all": every one."""
    if language == "all":
        return all(code in CONTEXT.languages for code in corpus.LANGUAGES)
    return language in CONTEXT.languages


def test_corpus_is_large_and_varied():
    assert len(SCENARIOS) >= MIN_SCENARIOS
    by_language = {code: [s for s in SCENARIOS if s.language == code] for code in corpus.LANGUAGES}
    assert all(len(found) >= MIN_PER_LANGUAGE for found in by_language.values()), {
        code: len(found) for code, found in by_language.items()
    }
    services = {s.expect.get("service") for s in SCENARIOS if s.expect["filed"]}
    assert services >= {service.code for service in CONTEXT.services}
    assert any(s.expect.get("emergency") for s in SCENARIOS)
    assert any(not s.expect["filed"] for s in SCENARIOS)


def test_sandbox_catalogue_is_the_workers():
    by_code = {service.code: service for service in CONTEXT.services}
    assert len(by_code) == 11
    pothole = by_code["4fd3b656e750846c53000004"]
    assert [a.code for a in pothole.attributes] == ["WHEREIS", "HOWDEEP", "NOTICED"]
    assert pothole.attributes[0].required and pothole.attributes[0].values[0].key == "TRAFFIC"
    assert by_code["001"].attributes == ()  # metadata false: no definition fetched
    assert "crater" in pothole.keywords


def test_geocoder_answers_like_the_worker():
    found = corpus.geocode(" 120 main st ")
    assert found.query == "120 main st"
    assert found.places[0].address == "120 Main Street, Springfield"
    assert found.places[0].lat is not None
    assert corpus.geocode("behind the walmart").places == ()
    # A landmark is read back by its name, as the city's own geocoder names it.
    assert corpus.geocode("City Hall").places[0].address == "City Hall, Springfield"
    corner = corpus.geocode("corner of Main and Cedar").places
    assert [p.address for p in corner] == ["Main Street & Cedar Drive, Springfield"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_scenario_is_safe(scenario):
    """Hard rules; a language without its catalogue yet is skipped rather than failed."""
    outcome = outcomes()[scenario.name]
    assert outcome.steps >= scenario.sent
    problems = corpus.safety_problems(outcome, CONTEXT)
    if problems and not loaded(scenario.language):
        pytest.skip(f"no {scenario.language} catalogue yet: " + "; ".join(problems))
    if scenario.known_issue:
        assert problems, f"{scenario.name} passes now: drop its known_issue"
        pytest.xfail(f"known engine issue: {scenario.known_issue}")
    assert not problems, f"{scenario.name} ({scenario.about}):\n" + "\n".join(problems)


def test_figures_stay_above_their_floors():
    results = list(outcomes().values())
    table = corpus.figures(results)
    failures = {o.scenario.name: corpus.expectation_problems(o) for o in results}
    failures = {name: problems for name, problems in failures.items() if problems}
    languages = [code for code in corpus.LANGUAGES if loaded(code)]
    corpus.SUMMARY[:] = [corpus.figures_table(table, languages)]
    if failures:
        corpus.SUMMARY.append(
            f"{len(failures)} scenario(s) not as expected: " + ", ".join(sorted(failures))
        )
    corpus.write_figures(corpus.figures_markdown(table, failures, languages))
    low = [
        f"{code} {key}: {table[code][key]} < floor {floor}"
        for code, floors in FLOORS.items()
        if loaded(code) and code in table
        for key, floor in floors.items()
        if table[code][key] is None or table[code][key] < floor
    ]
    detail = "\n".join(
        f"  {name}: " + "; ".join(problems) for name, problems in sorted(failures.items())
    )
    assert not low, "figures below their floors:\n" + "\n".join(low) + "\n" + detail


def test_safety_rules_catch_what_they_guard():
    scenario = corpus.Scenario(
        "made-up",
        "en",
        ("x",),
        {"filed": False, "emergency": True, "phone": "312-555-0142", "masked": ["[phone]"]},
    )
    leaked = corpus.FileReport(
        "001", "Missed Trash Pickup", "call 312-555-0142", "1 Main St", phone="312-555-0142"
    )
    outcome = corpus.Outcome(
        scenario,
        said=[
            corpus.Said(corpus.Reply("x" * 161), "en"),  # two segments, budget one
            corpus.Said(corpus.Reply("\u00e1" * 300), "es"),  # five segments
        ],
        filed=[leaked],
        state=corpus.State(consent=False),
    )
    problems = "\n".join(corpus.safety_problems(outcome, CONTEXT))
    for expected in (
        "filed although",
        "call 911",
        "left in the filed description",
        "without consent",
        "[phone] missing",
        "budget 1",
        "5 segments",
    ):
        assert expected in problems, expected


def test_figures_count_what_they_say():
    done = corpus.Scenario(
        "a",
        "en",
        ("hi", "yes", {"timeout": True}),
        {"filed": True, "service": "001", "address": "Main"},
    )
    missed = corpus.Scenario(
        "b", "es", ("hola",), {"filed": True, "service": "001", "address": "Main"}
    )
    report = corpus.FileReport("002", "Illegal Dumping", "", "12 Main Street")
    table = corpus.figures([corpus.Outcome(done, filed=[report]), corpus.Outcome(missed)])
    assert table["all"]["completed"] == 0.5 and table["all"]["median_messages"] == 2
    assert table["all"]["correct_service"] == 0.0 and table["all"]["correct_location"] == 1.0
    assert table["es"]["completed"] == 0.0 and "zh" not in table
