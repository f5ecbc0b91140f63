"""A city's own synonyms (SYNONYMS_FILE) reach the engine's matching."""

from __future__ import annotations

from dataclasses import replace

from bot.city_synonyms import load_synonyms
from tests.test_conversations_catalogue import CONTEXT, Chat


def test_a_citys_phrases_file_maps_its_residents_words_to_services(tmp_path):
    path = tmp_path / "phrases.toml"
    path.write_text('pothole = ["road crater thing", "bump hole"]\ngraffiti = "wall art"\n')
    phrases = load_synonyms(str(path))
    assert phrases == {
        "road crater thing": "pothole",
        "bump hole": "pothole",
        "wall art": "graffiti",
    }
    without, with_city = Chat(), Chat(replace(CONTEXT, synonyms=phrases))
    without.send("unwanted wall art")
    with_city.send("unwanted wall art")
    assert with_city.state.draft.service_code == "GRF-003"
    assert without.state.draft.service_code != "GRF-003"


def test_no_file_means_no_extra_phrases():
    assert load_synonyms("") == {}
