"""Real residents' texts (tests/evaluation, TUNING split only) played through the engine.

A regression guard on how well the bot understands real residents: every resident completes
(or was told to call 911), a filed report takes the text and a YES at least, the median stays
short, and "right at the first suggestion" stays above a floor a little under today's figure.
Run with the model from bot.understanding when it gives one, and with fuzzy matching only.
The heldout split is never run here: see tests/evaluation/README.md.
"""

from __future__ import annotations

import statistics

import pytest

from tests.evaluation.simulate import (
    MAX_TEXTS,
    Played,
    evaluation_services,
    figures,
    load_residents,
    load_similar,
    make_context,
    play_all,
)

# Measured on the tuning split (141 residents), right at the first suggestion / in the first
# reply's options / filed under the right service: fuzzy matching alone 46.8% / 68.8% / 66.7%
# (a resident who gets the whole menu picks the right service from it); with the model
# 58.2% / 78.0% / 58.2% (it always has a first suggestion, which the resident takes); with the
# model and the other tuning residents as the city's past reports (leave-one-out) 63.1% /
# 78.7% / 63.1%. The floors sit a little under, so a change that makes the bot understand
# residents worse fails here; raise them when it gets better.
FLOORS = {
    "fuzzy": {"right_first": 0.42, "in_shortlist": 0.62, "filed_right": 0.60},
    "model": {"right_first": 0.54, "in_shortlist": 0.74, "filed_right": 0.54},
    "examples": {"right_first": 0.59, "in_shortlist": 0.74, "filed_right": 0.59},
}
MEDIAN_TEXTS_CEILING = 4
MEAN_TEXTS_CEILING = 4.2
MOST_TOLD_TO_CALL_911 = 2


@pytest.fixture(scope="module", params=list(FLOORS))
def matcher(request) -> str:
    """Fuzzy matching alone, the model, or the model with the city's past reports."""
    return request.param


@pytest.fixture(scope="module")
def played(matcher) -> list[Played]:
    similar = None
    residents = load_residents("tuning")
    if matcher != "fuzzy":
        examples = residents if matcher == "examples" else None
        similar, why = load_similar(evaluation_services(), examples)
        if similar is None:
            pytest.skip(f"no model: {why}")
    return play_all(residents, make_context(similar))


def test_the_tuning_split_is_there():
    residents = load_residents("tuning")
    assert len(residents) > 100
    assert {r.split for r in residents} == {"tuning"}
    codes = {s.code for s in evaluation_services()}
    assert {r.service_code for r in residents} <= codes


def test_every_resident_completes_or_is_counted(played):
    table = figures(played)["all"]
    done = [p for p in played if p.completed]
    assert len(done) + table["not_completed"] == table["residents"] == len(played)
    left = [p for p in played if not p.completed]
    # Nobody gives up or gets stuck: the only ones not filed were told to call 911.
    assert [p.stuck for p in left if not p.emergency] == []
    assert all(p.stuck for p in left)
    assert len(left) <= MOST_TOLD_TO_CALL_911
    assert all(len(p.texts) <= MAX_TEXTS for p in played)


def test_completion_is_total_apart_from_emergencies(played):
    meant = [p for p in played if not p.emergency]
    assert all(p.completed for p in meant), [p.resident.id for p in meant if not p.completed]


def test_a_filed_report_takes_few_texts(played):
    texts = [len(p.texts) for p in played if p.completed]
    assert min(texts) >= 2  # the text, then YES at the summary
    assert statistics.median(texts) <= MEDIAN_TEXTS_CEILING
    assert statistics.fmean(texts) <= MEAN_TEXTS_CEILING


def test_one_shot_residents_file_in_two_or_three(played):
    one_shot = [len(p.texts) for p in played if p.completed and p.one_shot]
    assert one_shot, "the tuning split has residents whose first text holds an address"
    assert min(one_shot) == 2  # text with the address, then YES
    assert statistics.median(one_shot) <= 3


def test_understanding_does_not_regress(played, matcher):
    table = figures(played)["all"]
    for figure, floor in FLOORS[matcher].items():
        assert table[figure] >= floor, (figure, table)
    assert table["in_shortlist"] >= table["right_first"]


def test_the_heldout_split_is_refused_for_failures(capsys):
    from tests.evaluation.simulate import main

    with pytest.raises(SystemExit):
        main(["--split", "heldout", "--failures"])
    assert "tuning split only" in capsys.readouterr().err
