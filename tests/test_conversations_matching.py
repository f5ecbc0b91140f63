"""Free text to services: rapidfuzz plus synonyms, tuned on what residents actually type."""

from __future__ import annotations

import pytest

from conversations.matching import match_services, pick_service, stem
from conversations.synonyms import expand
from conversations.types import Service
from tests.test_conversations_catalogue import CATALOGUE


def name_of(code: str) -> str:
    return next(service.name for service in CATALOGUE if service.code == code)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("pothole", "Pothole"),
        ("pot hole", "Pothole"),
        ("potholes", "Pothole"),
        ("Pot hole!!", "Pothole"),
        ("POTHOLE", "Pothole"),
        ("hole in the road", "Pothole"),
        ("big pothole outside", "Pothole"),
        ("there is a huge pothole on my street near the school", "Pothole"),
        ("street light out", "Streetlight Out"),
        ("streetlight", "Streetlight Out"),
        ("light out", "Streetlight Out"),
        ("the lights are out on my block", "Streetlight Out"),
        ("grafiti", "Graffiti Removal"),
        ("graffitti", "Graffiti Removal"),
        ("graffiti on wall", "Graffiti Removal"),
        ("trash wasn't picked up", "Missed Trash Pickup"),
        ("missed garbage", "Missed Trash Pickup"),
        ("garbage", "Missed Trash Pickup"),
        ("someone dumped a couch", "Illegal Dumping"),
        ("mattress left in the alley", "Illegal Dumping"),
        ("abandoned car", "Abandoned Vehicle"),
        ("stop sign knocked down", "Damaged Sign"),
        ("broken sidewalk", "Sidewalk Repair"),
        ("tree branch fell on the road", "Fallen Tree"),
        ("loud music all night", "Noise Complaint"),
        ("water main burst", "Water Leak"),
    ],
)
def test_clear_winner(text, name):
    pick = pick_service(text, CATALOGUE)
    assert pick.winner is not None, match_services(text, CATALOGUE)[:3]
    assert pick.winner.name == name


@pytest.mark.parametrize(
    "text", ["hi", "hello", "Hey there", "I want to report a problem", "asdf", "1", "yes", "?", ""]
)
def test_greetings_and_noise_match_nothing(text):
    assert pick_service(text, CATALOGUE).winner is None
    assert pick_service(text, CATALOGUE).shortlist == ()


def test_ambiguous_word_gives_a_short_shortlist():
    pick = pick_service("street", CATALOGUE)
    assert pick.winner is None
    assert 2 <= len(pick.shortlist) <= 4
    assert {"Pothole", "Streetlight Out"} <= {service.name for service in pick.shortlist}


def test_scores_are_sorted_and_bounded():
    matches = match_services("street light out", CATALOGUE)
    scores = [score for _, score in matches]
    assert scores == sorted(scores, reverse=True)
    assert matches[0][0].name == "Streetlight Out" and matches[0][1] == 100.0
    assert all(0 <= score <= 100 for score in scores)


def test_keywords_as_one_comma_separated_string_or_as_a_tuple_match_alike():
    as_string = Service("A", "Alpha", keywords=("crater, asphalt",))
    as_tuple = Service("B", "Beta", keywords=("crater", "asphalt"))
    for service in (as_string, as_tuple):
        assert pick_service("asphalt", (service,)).winner == service


def test_group_and_description_are_searched():
    service = Service("X", "Request X", "Bees swarming near a playground", (), "Wildlife")
    assert match_services("bees", (service,))[0][0] == service
    assert match_services("wildlife", (service,))[0][0] == service


def test_empty_catalogue_matches_nothing():
    assert match_services("pothole", ()) == []
    assert pick_service("pothole", ()).winner is None


@pytest.mark.parametrize(
    ("word", "stemmed"),
    [
        ("potholes", "pothole"),
        ("dumped", "dump"),
        ("dumping", "dump"),
        ("lights", "light"),
        ("bus", "bus"),
        ("glass", "glass"),
        ("bushes", "bush"),
        ("ring", "ring"),
    ],
)
def test_stem(word, stemmed):
    assert stem(word) == stemmed


@pytest.mark.parametrize(
    ("processed", "expanded"),
    [
        ("hole in the road", "pothole"),
        ("light out on elm", "streetlight on elm"),
        ("missed garbage", "missed trash"),
        ("garbagetruck", "garbagetruck"),  # only whole words
    ],
)
def test_synonyms_expand_whole_phrases(processed, expanded):
    assert expand(processed) == expanded
