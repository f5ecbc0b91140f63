"""The built-in languages (Spanish, Chinese, Vietnamese, Tagalog) and a city's own catalogues.

Each built-in catalogue translates every text with the same placeholders; every reply of the
dialogue and every notice, in every language, fits three SMS segments; the words the texts tell
residents to type are the words the engine accepts; and detection, matching and emergencies
work on what residents of each language really write. Pure: no database, no network.
"""

from __future__ import annotations

import string
from dataclasses import replace
from datetime import datetime
from functools import cache

import pytest
from babel.messages.pofile import read_po

from bot.languages import BUILT_IN, english_texts, load_languages, placeholders, template
from conversations import (
    Context,
    Draft,
    FileReport,
    Geocoded,
    Message,
    Place,
    Reply,
    Service,
    State,
    StatusFound,
    engine,
    texts,
)
from conversations.answers import is_skip, yes_or_no
from conversations.commands import normal, parse_command
from conversations.detect import detect
from conversations.emergency import is_emergency
from conversations.language import WORD_GROUPS
from conversations.notices import (
    report_delayed,
    report_filed,
    report_rejected,
    report_saved,
    status_changed,
)
from conversations.plaintext import render
from conversations.segments import segments
from conversations.types import Nearby, NearbyRequest, ReportLine, ReportsListed, TimedOut
from sandbox.catalog import load_catalog
from tests.test_conversations_catalogue import (
    ASKING_AT,
    ASKING_CONTEXT,
    AT,
    CATALOGUE,
    Chat,
)

LANGUAGES = load_languages()
CODES = ("es", "zh", "vi", "tl")
NAMES = {"es": "Español", "zh": "中文", "vi": "Tiếng Việt", "tl": "Tagalog"}
MOST = 3  # segments no reply may take, in any language (conversations.fitting.MOST)

# The word the texts tell residents to type for each command (HELP is never shown in a text).
COMMANDS = {
    "es": {
        "yes": "SÍ",
        "no": "NO",
        "private": "PRIVADO",
        "skip": "OMITIR",
        "status": "ESTADO",
        "help": "AYUDA",
        "restart": "REINICIAR",
        "back": "ATRÁS",
        "my reports": "MIS REPORTES",
        "language": "IDIOMA",
        "more": "MÁS",
        "other": "OTRO",
    },
    "zh": {
        "yes": "是",
        "no": "否",
        "private": "匿名",
        "skip": "跳过",
        "status": "查询",
        "help": "帮助",
        "restart": "重新开始",
        "back": "返回",
        "my reports": "我的报告",
        "language": "语言",
        "more": "更多",
        "other": "其他",
    },
    "vi": {
        "yes": "CÓ",
        "no": "KHÔNG",
        "private": "RIÊNG TƯ",
        "skip": "BỎ QUA",
        "status": "TRẠNG THÁI",
        "help": "GIÚP",
        "restart": "LÀM LẠI",
        "back": "QUAY LẠI",
        "my reports": "BÁO CÁO CỦA TÔI",
        "language": "NGÔN NGỮ",
        "more": "THÊM",
        "other": "KHÁC",
    },
    "tl": {
        "yes": "OO",
        "no": "HINDI",
        "private": "PRIBADO",
        "skip": "LAKTAW",
        "status": "STATUS",
        "help": "TULONG",
        "restart": "ULITIN",
        "back": "BALIK",
        "my reports": "MGA ULAT KO",
        "language": "WIKA",
        "more": "SUSUNOD",
        "other": "IBA",
    },
}
# The same commands as typed on a phone: unaccented, lower case, the way people say them.
VARIANTS = {
    "es": {
        "yes": ("si", "claro", "está bien"),
        "no": ("no", "negativo"),
        "private": ("privado", "anonimo", "no me contacten"),
        "skip": ("omitir", "no sé", "saltar"),
        "back": ("atras", "regresar"),
        "more": ("mas",),
        "other": ("otra", "ninguno"),
        "help": ("ayuda",),
        "restart": ("empezar de nuevo",),
        "my reports": ("mis reportes",),
        "language": ("idioma",),
    },
    "zh": {
        "yes": ("是的", "对", "好的"),
        "no": ("不是", "不对"),
        "private": ("不要联系我", "私密"),
        "skip": ("跳過", "不知道"),
        "back": ("上一步",),
        "more": ("下一页",),
        "other": ("其它",),
        "help": ("幫助",),
        "restart": ("重来",),
        "my reports": ("我的報告",),
        "language": ("語言",),
    },
    "vi": {
        "yes": ("co", "dạ", "đúng", "dung roi"),
        "no": ("khong", "ko", "sai"),
        "private": ("rieng tu", "an danh", "đừng liên lạc"),
        "skip": ("bo qua",),
        "back": ("quay lai",),
        "more": ("them",),
        "other": ("khac",),
        "help": ("giup", "trợ giúp"),
        "restart": ("lam lai",),
        "my reports": ("bao cao cua toi",),
        "language": ("ngon ngu",),
    },
    "tl": {
        "yes": ("opo", "oo po", "sige"),
        "no": ("hindi po", "hinde"),
        "private": ("pribado", "huwag akong kontakin"),
        "skip": ("laktawan", "hindi ko alam"),
        "back": ("bumalik",),
        "more": ("susunod po",),
        "other": ("iba po", "wala rito"),
        "help": ("tulong po",),
        "restart": ("ulitin",),
        "my reports": ("ulat ko",),
        "language": ("wika",),
    },
}
# What residents write: a long description, and an emergency, in each language.
DESCRIPTIONS = {
    "es": "El bache es muy profundo y cada día está más grande, los carros lo esquivan. ",
    "zh": "这个坑很深，而且一天比一天大，汽车都要绕开它走，晚上特别危险。",
    "vi": "Ổ gà rất sâu và mỗi ngày một lớn hơn, xe cộ phải chạy vòng qua nó. ",
    "tl": "Malalim ang lubak at palaki nang palaki araw-araw, umiiwas dito ang mga kotse. ",
}
EMERGENCIES = {
    "es": (
        "hay un incendio en el edificio de al lado",
        "huele a gas en la cocina",
        "hay un señor inconsciente en la banqueta",
        "están disparando en la esquina",
        "me están robando ahora mismo",
        "atropellaron a un niño",
    ),
    "zh": ("隔壁着火了！", "厨房有煤气味", "有人受伤了，一直在流血", "外面有人开枪", "有人在抢劫"),
    "vi": (
        "cháy nhà bên cạnh!",
        "có mùi ga trong bếp",
        "có người bị thương chảy máu nhiều",
        "nghe tiếng súng ngoài đường",
        "chay nha ben canh",
        "co nguoi bat tinh",
    ),
    "tl": (
        "may sunog sa kapitbahay",
        "amoy gas sa kusina",
        "may sugatan sa kanto",
        "may binaril sa tapat namin",
        "hinoholdap ang tindahan",
    ),
}
NOT_EMERGENCIES = (
    "boca de incendios rota",
    "la boca de incendio en la esquina tiene fuga de agua",
    "se quemó el foco del poste",
    "fire hydrant leaking",
    "消防栓漏水",
    "路灯坏了",
    "vòi chữa cháy bị rò rỉ nước",
    "bóng đèn đường bị cháy",
    "pundido ang ilaw sa poste",
    "may tagas ang fire hydrant",
    "hay un bache enorme",
)
LONG_ADDRESS = (
    "1200, West Martin Luther King Junior Boulevard, Near North Side, Springfield, "
    "Sangamon County, Illinois, 62701, United States"
)
LONG_NOTES = "The crew inspected the site and scheduled the repair for next week. " * 6
FOUND = Geocoded("120 Main St", (Place(LONG_ADDRESS, 39.8, -89.6),))
SURE = Geocoded("120 Main St", (Place(LONG_ADDRESS, 39.8, -89.6, exact=True),))
UNCHECKED = Geocoded("120 Main St", failed=True)
CONTEXT = Context(services=CATALOGUE, city="Springfield", languages=LANGUAGES)
ASKING = replace(ASKING_CONTEXT, languages=LANGUAGES)
# The default: required questions asked, optional ones offered in the summary (4).
SHORT = replace(ASKING, ask_optional=frozenset())


def sandbox_services() -> tuple[Service, ...]:
    """The bundled sandbox city's services (their names and groups are in every catalogue)."""
    return tuple(
        Service(
            s["service_code"],
            s["service_name"],
            s.get("description", ""),
            (s.get("keywords", ""),),
            s.get("group", ""),
        )
        for s in load_catalog()["services"]
    )


SANDBOX = Context(services=sandbox_services(), city="Springfield", languages=LANGUAGES)


def chat(code: str, context: Context = CONTEXT, consent: bool | None = False, at=AT) -> Chat:
    """A resident who chose the language with LANGUAGE (detection never switches it)."""
    return Chat(context, State(language=code, language_chosen=True, consent=consent), at=at)


def literal_parts(text: str) -> list[str]:
    """The fixed pieces of a text around its {placeholders}."""
    return [part for part, _, _, _ in string.Formatter().parse(text) if part]


# --- the catalogues ---------------------------------------------------------------------------


def test_built_in_languages_come_in_order_with_their_own_names():
    assert list(LANGUAGES)[:5] == ["en", "es", "zh", "vi", "tl"]
    assert {code: LANGUAGES[code].name for code in CODES} == NAMES


@pytest.mark.parametrize("code", CODES)
def test_catalogue_translates_every_text_of_the_template(code):
    text = (BUILT_IN / f"{code}.po").read_text(encoding="utf-8")
    assert f'"Language: {code}\\n"' in text
    with (BUILT_IN / f"{code}.po").open("rb") as file:
        catalog = read_po(file)
    assert not [m.id for m in catalog if m.id and m.fuzzy]
    wanted = [m.id for m in template() if m.id and m.context is None]
    assert set(wanted) == set(english_texts().values())
    language = LANGUAGES[code]
    for msgid in wanted:
        message = catalog.get(msgid)
        assert message is not None and message.string, f"{code}: {msgid!r} is not translated"
        assert placeholders(message.string) == placeholders(msgid), (code, msgid)
        assert language.messages[msgid] == message.string  # nothing fell back to English


@pytest.mark.parametrize("code", CODES)
def test_summary_keeps_its_numbered_lines(code):
    lines = LANGUAGES[code](texts.CONFIRM).split("\n")
    assert len(lines) == len(texts.CONFIRM.split("\n")) == 4
    assert [line[:2] for line in lines[1:]] == ["1 ", "2 ", "3 "]
    assert "{service}" in lines[1] and "{address}" in lines[2] and "{description}" in lines[3]


@pytest.mark.parametrize("code", CODES)
def test_every_word_group_and_service_name_is_there(code):
    language = LANGUAGES[code]
    assert set(language.words) == set(WORD_GROUPS)
    assert all(language.words[group] for group in WORD_GROUPS)
    assert 40 <= len(language.words["detect"]) <= 90
    assert NAMES[code].casefold() in language.words["names"]
    shown = {service.name for service in CATALOGUE + SANDBOX.services}
    shown |= {service.group for service in CATALOGUE + SANDBOX.services}
    for name in shown:
        assert language.service(name) != name, f"{code}: {name!r} is not translated"
        assert len(language.service(name)) <= 40


@pytest.mark.parametrize("code", CODES)
def test_words_the_texts_show_are_the_words_the_engine_takes(code):
    language = LANGUAGES[code]
    everything = "\n".join(language.messages.values())
    for group, word in COMMANDS[code].items():
        if group != "help":
            assert word in everything, f"{code}: the texts never tell residents to type {word}"
    for group, words in VARIANTS[code].items():
        for typed in (COMMANDS[code][group], COMMANDS[code][group].lower(), *words):
            if group == "yes":
                assert yes_or_no(typed, language) is True, typed
            elif group == "no":
                assert yes_or_no(typed, language) is False, typed
            elif group == "skip":
                assert is_skip(typed, language), typed
            elif group in ("more", "other", "private"):
                assert language.has(group, normal(typed)), typed
            else:
                command = parse_command(typed, language)
                assert command is not None and command.name == group, typed
    status = parse_command(f"{COMMANDS[code]['status']} 12345", language)
    assert (status.name, status.argument) == ("status", "12345")
    assert (
        parse_command(f"{COMMANDS[code]['status'].lower()} #2026-000123", language).argument
        == "2026-000123"
    )


# --- a city's own catalogues --------------------------------------------------------------------

FRENCH = r"""msgid ""
msgstr ""
"Language: fr\n"
"Content-Type: text/plain; charset=utf-8\n"

msgctxt "language"
msgid "name"
msgstr "Français"

msgid "Hi! What would you like to report?"
msgstr "Bonjour ! Que voulez-vous signaler ?"

msgid "OK, I will write in {language}."
msgstr "D'accord, je vous écris en {language}."

msgid "Please reply with a number from 1 to {count}."
msgstr "Répondez par un numéro de 1 à {total}."

msgctxt "words"
msgid "yes"
msgstr "oui|ouais"

msgctxt "words"
msgid "names"
msgstr "français|francais|french"

msgctxt "service"
msgid "Pothole"
msgstr "Nid-de-poule"

msgctxt "synonyms"
msgid "pothole"
msgstr "nid-de-poule|nid de poule|trou dans la chaussée"
"""

CITY_SPANISH = r"""msgid ""
msgstr ""
"Language: es\n"
"Content-Type: text/plain; charset=utf-8\n"

msgid "Hi! What would you like to report?"
msgstr "¡Buenas! Bienvenido a la línea 311 de Springfield. ¿Qué desea reportar?"

msgid "Please reply with a number from 1 to {count}."
msgstr "Responda con un número del 1 al {cuantos}."

msgctxt "service"
msgid "Pothole"
msgstr "Hoyo en la calle"
"""


@pytest.fixture
def city_languages(tmp_path):
    (tmp_path / "fr.po").write_text(FRENCH, encoding="utf-8")
    (tmp_path / "es.po").write_text(CITY_SPANISH, encoding="utf-8")
    return load_languages(str(tmp_path))


def test_a_city_adds_a_language_without_code(city_languages):
    assert list(city_languages) == ["en", "es", "zh", "vi", "tl", "fr"]
    french = city_languages["fr"]
    assert french.name == "Français"
    assert french(texts.GREETING) == "Bonjour ! Que voulez-vous signaler ?"
    assert french(texts.ASK_LOCATION) == texts.ASK_LOCATION  # untranslated: English
    assert french.has("yes", "oui") and french.service("Pothole") == "Nid-de-poule"
    context = Context(services=CATALOGUE, city="Springfield", languages=city_languages)
    resident = Chat(context, State(consent=False))
    assert resident.send("Français").replies[0].text.startswith("D'accord, je vous écris")
    assert resident.state.language == "fr"
    resident.send("il y a un nid de poule")
    assert resident.state.name == "location"
    assert resident.state.draft.service_code == "PTH-001"


def test_a_city_entry_overrides_the_built_in_wording(city_languages):
    spanish = city_languages["es"]
    assert spanish(texts.GREETING).startswith("¡Buenas! Bienvenido a la línea 311")
    assert spanish.service("Pothole") == "Hoyo en la calle"
    assert spanish(texts.ASK_LOCATION) == LANGUAGES["es"](texts.ASK_LOCATION)  # the rest stays
    assert spanish.has("yes", "sí")


def test_an_entry_with_other_placeholders_is_not_used(city_languages):
    # A new language falls back to English; a built-in one keeps its own wording.
    assert city_languages["fr"](texts.NUMBER_RANGE) == texts.NUMBER_RANGE
    assert city_languages["es"](texts.NUMBER_RANGE) == LANGUAGES["es"](texts.NUMBER_RANGE)
    assert "{count}" in city_languages["es"](texts.NUMBER_RANGE)


# --- the dialogue in each language ---------------------------------------------------------------


@cache
def walk(code: str) -> tuple[Reply, ...]:
    """Every kind of reply, the resident writing in their language where it matters."""
    say, word = LANGUAGES[code], COMMANDS[code]
    long_description = DESCRIPTIONS[code] * 15
    replies: list[Reply] = []

    def run(resident: Chat, *events, ends_in: str | None = None) -> Chat:
        for event in events:
            turn = resident.send(event) if isinstance(event, str) else resident.feed(event)
            replies.extend(turn.replies)
        if ends_in:
            assert resident.state.name == ends_in, (code, events, resident.state.name)
        return resident

    # The menu, its pages and groups, a shortlist, the location read back, the summary.
    resident = run(chat(code), "hello", ends_in="service")
    assert replies[0].text.startswith(say(texts.GREETING))
    assert replies[0].options[0] == say.service(CATALOGUE[0].name)
    run(resident, word["more"], word["other"], "1", "zzzz", "99", ends_in="service")
    shortlisted = State(
        name="service",
        offered=["PTH-001", "SLT-002", "SWK-008"],
        draft=Draft(said="broken"),
        language=code,
        language_chosen=True,
        consent=False,
    )
    resident = run(Chat(CONTEXT, shortlisted), word["help"], ends_in="service")
    assert replies[-1].text == say(texts.SHORTLIST)
    run(
        resident,
        "1",
        "120 Main St",
        FOUND,
        "maybe",
        word["no"],
        "120 Main St",
        FOUND,
        word["yes"],
        "",
        ends_in="description",
    )
    run(resident, long_description, ends_in="confirm")
    assert replies[-1].text.startswith(say(texts.CONFIRM).split("\n")[0])
    run(
        resident,
        "what",
        "9",
        word["help"],
        word["status"],
        f"{word['status']} 2026-000123",
        StatusFound("2026-000123", "In progress", LONG_NOTES, "Pothole"),
        f"{word['status']} 1",
        StatusFound("1", None),
        f"{word['status']} 2",
        StatusFound("2", failed=True),
        f"{word['status']} 2026-000124",
        StatusFound("2026-000124", own=True),
        word["my reports"],
        ReportsListed(
            tuple(
                ReportLine(f"2026-00012{n}", service.name, "Open", AT)
                for n, service in enumerate(CATALOGUE[:8])
            )
        ),
        word["my reports"],
        ReportsListed(()),
        ends_in="confirm",
    )
    run(resident, word["language"], "9", str(list(LANGUAGES).index(code) + 1), ends_in="confirm")
    run(resident, word["back"], ends_in="description")
    run(resident, TimedOut(AT), "hola", ends_in="resume")
    run(resident, word["yes"], ends_in="description")
    run(resident, word["restart"], word["back"], ends_in="idle")
    run(chat(code), "hello", TimedOut(AT), ends_in="idle")
    run(chat(code), EMERGENCIES[code][0], ends_in="idle")
    # Pins, photos, addresses not found or not checked, the catalogue down.
    run(chat(code), Message("", AT, location=Place("", 39.8, -89.6)), ends_in="service")
    run(chat(code), Message("", AT, media=("photo-1",)), "pothole", ends_in="location")
    run(
        chat(code),
        "pothole",
        Message("", AT, location=Place("", 39.8, -89.6)),
        ends_in="description",
    )
    wide = replace(CONTEXT, city="Springfield-on-the-Long-River-Name")
    run(
        chat(code, wide),
        "pothole",
        "120 Main St",
        Geocoded("120 Main St", ()),
        "",
        ends_in="location",
    )
    run(chat(code), "pothole", "120 Main St", UNCHECKED, ends_in="description")
    # Where a photo was taken, offered as the location (its name long, or none).
    taken = Place(LONG_ADDRESS, 39.8, -89.6)
    run(
        chat(code),
        Message("", AT, media=("photo-1",), photo_location=taken),
        "pothole",
        "maybe",
        word["yes"],
        ends_in="description",
    )
    untitled = Message("", AT, media=("photo-1",), photo_location=replace(taken, address=""))
    run(chat(code), "pothole", untitled, word["no"], ends_in="location")
    run(chat(code, replace(CONTEXT, services=())), "hello", ends_in="idle")
    # A pin read back by a long address; open requests nearby offered (long addresses, none,
    # no date), asked again, followed.
    named_pin = Message("", AT, location=Place(LONG_ADDRESS, 39.8, -89.6))
    run(chat(code), "pothole", named_pin, ends_in="description")
    checking = replace(CONTEXT, nearby_off=frozenset())
    nearby = (
        NearbyRequest("2026-000120", "Pothole", LONG_ADDRESS, "In progress - crew", AT),
        NearbyRequest("2026-000121", "", "", "open", None, metres=12),
        NearbyRequest("2026-000122", "Pothole", "1 Elm St", "acknowledged", AT),
    )
    run(
        chat(code, checking),
        "pothole",
        "120 Main St",
        FOUND,
        word["yes"],
        long_description,
        Nearby("PTH-001", 39.8, -89.6, nearby),
        "9",
        word["help"],
        "1",
        ends_in="idle",
    )
    # The service's questions (every one asked, as a city may want), the first summary asking
    # whether the city may contact them (once), the report sent PRIVATE.
    run(
        chat(code, ASKING, consent=None, at=ASKING_AT),
        "pothole",
        "120 Main St",
        FOUND,
        word["yes"],
        long_description,
        word["skip"],
        "9",
        "2",
        "wide",
        "12",
        "whenever",
        "11/20 3pm",
        ends_in="confirm",
    )
    assert replies[-1].text.endswith(say(texts.CONFIRM_CONSENT))
    resident = run(
        chat(code, ASKING, consent=None, at=ASKING_AT),
        "pothole",
        "120 Main St",
        FOUND,
        word["yes"],
        "deep",
        "1",
        word["skip"],
        word["skip"],
        "maybe",
        ends_in="confirm",
    )
    sent = resident.send(word["private"])
    replies.extend(sent.replies)
    assert isinstance(sent.actions[0], FileReport) and sent.actions[0].language == code
    assert not sent.actions[0].contact_ok and resident.state.consent is False
    # The default, shorter flow: a sure address only led in, the optional questions offered
    # in the summary (4), consent in the first summary, the report sent with YES.
    resident = run(
        chat(code, SHORT, consent=None, at=ASKING_AT),
        "pothole",
        "120 Main St",
        SURE,
        ends_in="description",
    )
    lead = literal_parts(say(texts.ADDRESS_TAKEN))[0]  # "Found: ", in their language
    assert replies[-2].text.startswith(lead) or replies[-1].text.startswith(lead)
    assert replies[-1].text.endswith(say(texts.ASK_DESCRIPTION))
    run(resident, long_description, ends_in="questions")
    run(resident, "1", ends_in="confirm")
    assert replies[-1].text.endswith(say(texts.CONFIRM_CONSENT))
    run(resident, "4", ends_in="questions")
    assert replies[-1].text.startswith("About how wide is it?")
    run(resident, word["skip"], word["skip"], ends_in="confirm")
    sent = resident.send(word["yes"])
    replies.extend(sent.replies)
    assert isinstance(sent.actions[0], FileReport) and sent.actions[0].contact_ok
    run(
        chat(code, ASKING, at=ASKING_AT),
        "trash",
        "120 Main St",
        UNCHECKED,
        "desc",
        "x",
        "1 3",
        "soon",
        "today",
        ends_in="questions",
    )
    run(
        chat(code, ASKING, at=ASKING_AT),
        "fallen tree at 120 Main St",
        UNCHECKED,
        "8",
        "1",
        word["help"],
        ends_in="questions",
    )
    run(
        chat(code, ASKING, at=ASKING_AT),
        "abandoned car",
        "120 Main St",
        UNCHECKED,
        "desc",
        word["skip"],
        "blue ford",
        word["skip"],
        "ages",
        ends_in="questions",
    )
    # Human handoff: a person asked for (staff in, out, no handoff), not understood twice
    # with staff in, and what the resident is told when staff take over and hand back.
    agent = AGENT_WORDS[code]
    run(chat(code, replace(CONTEXT, handoff="open")), "hello", agent, ends_in="service")
    run(chat(code, replace(CONTEXT, handoff="closed", handoff_hours="Mon-Fri 08:00-17:00")), agent)
    run(chat(code, CONTEXT), agent)
    run(chat(code, replace(CONTEXT, handoff="open")), "hello", "zzzz", "qqqq", ends_in="service")
    located = chat(code)
    run(located, "hello", "1", ends_in="location")
    replies.append(engine.taken_over(located.state, CONTEXT))
    replies.extend(engine.handed_back(located.state, CONTEXT).replies)
    replies.extend(engine.handed_back(State(language=code, language_chosen=True), CONTEXT).replies)
    replies.extend(engine.no_answer(located.state, CONTEXT).replies)
    return tuple(replies)


# A word for AGENT in each language (every language also takes the English ones).
AGENT_WORDS = {"es": "hablar con una persona", "zh": "转人工", "vi": "gặp nhân viên", "tl": "tao"}


@pytest.mark.parametrize("code", CODES)
def test_every_reply_fits_three_segments(code):
    for reply in walk(code):
        text = render(reply)
        assert segments(text) <= MOST, (code, segments(text), text)


SHOWN = (
    texts.GREETING,
    texts.MENU_HOW,
    texts.MENU_MORE,
    texts.MENU_OTHER,
    texts.GROUPS_ASK,
    texts.MENU_AGAIN,
    texts.SHORTLIST,
    texts.NUMBER_RANGE,
    texts.SERVICE_TAKEN,
    texts.ASK_LOCATION,
    texts.ADDRESS_FOUND,
    texts.PHOTO_PLACE,
    texts.PHOTO_PLACE_PLAIN,
    texts.ASK_YES_NO,
    texts.ASK_DESCRIPTION,
    texts.CONFIRM_HOW,
    texts.EDIT_WHICH,
    texts.HELP,
    texts.STATUS_WHICH,
    texts.STATUS_FOUND,
    texts.STATUS_NOT_FOUND,
    texts.STATUS_UNAVAILABLE,
    texts.MY_REPORTS,
    texts.MY_REPORTS_NONE,
    texts.LANGUAGE_ASK,
    texts.LANGUAGE_SET,
    texts.PAUSED,
    texts.ASK_RESUME,
    texts.CANCELLED,
    texts.BACK_NONE,
    texts.CLOSED,
    texts.EMERGENCY,
    texts.PIN_FIRST,
    texts.PHOTO_FIRST,
    texts.PIN_TAKEN,
    texts.ADDRESS_NOT_FOUND,
    texts.ASK_LOCATION_EMPTY,
    texts.ADDRESS_UNCHECKED,
    texts.CATALOGUE_DOWN,
    texts.ANSWER_NEEDED,
    texts.HINT_CHOICE,
    texts.HINT_CHOICES,
    texts.HINT_DATETIME,
    texts.OR_SKIP,
    texts.SKIP_ONLY,
    texts.BAD_CHOICE,
    texts.BAD_CHOICES,
    texts.BAD_NUMBER,
    texts.BAD_DATETIME,
    texts.ADDRESS_TAKEN,
    texts.CONFIRM_HOW_DETAILS,
    texts.CONFIRM_CONSENT,
    texts.SENDING,
    texts.PIN_NEAR,
    texts.NEARBY_OFFER,
    texts.NEARBY_LINE,
    texts.NEARBY_LINE_UNDATED,
    texts.NEARBY_AWAY,
    texts.NEARBY_NONE,
    texts.NEARBY_FOLLOWING,
    texts.HANDOFF_OPEN,
    texts.HANDOFF_UNCLEAR,
    texts.HANDOFF_CLOSED,
    texts.HANDOFF_OFF,
    texts.HANDOFF_TAKEN,
    texts.HANDOFF_BACK,
    texts.HANDOFF_BACK_IDLE,
    texts.HANDOFF_NO_ANSWER,
)


@pytest.mark.parametrize("code", CODES)
def test_replies_are_in_the_language(code):
    say = LANGUAGES[code]
    everything = "\n".join(render(reply) for reply in walk(code))
    for text in SHOWN:
        for part in literal_parts(say(text)):
            assert part.strip(" .") in everything, (code, text, part)
    for text in english_texts().values():  # no English sentence of ours is left
        for part in literal_parts(text):
            if len(part.strip()) >= 12 and part not in say(text):
                assert part.strip() not in everything, (code, part)


@pytest.mark.parametrize("code", CODES)
def test_menus_of_the_sandbox_city_fit_with_every_lead(code):
    say = LANGUAGES[code]
    for lead in (
        "hello",
        "zzzz",
        Message("", AT, location=Place("", 39.8, -89.6)),
        Message("", AT, media=("photo-1",)),
    ):
        resident = chat(code, SANDBOX)
        first = resident.send(lead) if isinstance(lead, str) else resident.feed(lead)
        more = resident.send(COMMANDS[code]["more"])
        groups = resident.send(COMMANDS[code]["other"])
        group = resident.send("1")
        for reply in first.replies + more.replies + groups.replies + group.replies:
            assert segments(render(reply)) <= MOST, (code, render(reply))
        assert say.service(SANDBOX.services[0].name) in first.replies[-1].options


@pytest.mark.parametrize("code", CODES)
def test_notices_fit_three_segments(code):
    say = LANGUAGES[code]
    notices = (
        report_filed("2026-000123", "Tree Trimming / Fallen Tree", say=say),
        report_filed("2026-000124", "", say=say),
        report_delayed(say=say),
        report_rejected("The location is outside the service area of this city. " * 4, say=say),
        status_changed(
            "2026-000123",
            "In progress",
            LONG_NOTES,
            "Missed Trash Pickup",
            datetime(2026, 11, 25),
            say=say,
        ),
        status_changed("2026-000123", "In progress", "", "", None, say=say),
        report_saved(say=say),
    )
    for text in notices:
        assert segments(text) <= MOST, (code, segments(text), text)
    assert say.service("Tree Trimming / Fallen Tree") in notices[0]
    assert literal_parts(say(texts.REPORT_DELAYED))[0] == notices[2]
    assert literal_parts(say(texts.REPORT_SAVED))[0] == notices[-1] != notices[2]
    assert {"es": "25 nov", "zh": "11月25日", "vi": "25 thg 11", "tl": "Nob 25"}[code] in notices[4]


# --- detection, matching, emergencies ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("hola, hay un bache enorme en mi calle", "es"),
        ("hay basura en la esquina", "es"),
        ("no recogieron la basura", "es"),
        ("路上有个大坑", "zh"),
        ("垃圾没人收", "zh"),
        ("có ổ gà trước nhà tôi", "vi"),
        ("co o ga truoc nha toi", "vi"),
        ("có rác", "vi"),
        ("may lubak sa kalsada namin", "tl"),
        ("Magandang umaga po, may basura sa kanto", "tl"),
        ("there is a pothole on my street", "en"),
        ("pothole on La Brea Ave", "en"),
        ("tree down on San Pablo Ave", "en"),
        ("120 Main St", None),
        ("ok", None),
        ("basura", None),  # Spanish and Tagalog alike
    ],
)
def test_first_messages_are_read_in_their_language(text, code):
    assert detect(text, LANGUAGES) == code


ONE_SHOT = {
    "es": (
        ("hay un bache enorme", "PTH-001"),
        ("no recogieron la basura", "TRS-004"),
        ("la luz de la calle no funciona", "SLT-002"),
        ("arbol caido en la banqueta", "TRE-009"),
        ("tiraron un colchón en la esquina", "DMP-005"),
    ),
    "zh": (
        ("路上有个大坑", "PTH-001"),
        ("垃圾没人收", "TRS-004"),
        ("路灯坏了", "SLT-002"),
        ("墙上有涂鸦", "GRF-003"),
        ("邻居太吵了", "NOI-010"),
    ),
    "vi": (
        ("có ổ gà trước nhà tôi", "PTH-001"),
        ("hôm nay không lấy rác", "TRS-004"),
        ("đèn đường bị hư", "SLT-002"),
        ("co o ga truoc nha toi", "PTH-001"),
        ("cay do nam giua duong", "TRE-009"),
    ),
    "tl": (
        ("may lubak sa kalsada namin", "PTH-001"),
        ("hindi kinuha ang basura namin", "TRS-004"),
        ("patay ang ilaw sa poste namin", "SLT-002"),
        ("maingay ang kapitbahay", "NOI-010"),
        ("may tagas ng tubig sa kalye", "WTR-011"),
    ),
}


@pytest.mark.parametrize(
    ("code", "text", "service"),
    [(code, text, service) for code, cases in ONE_SHOT.items() for text, service in cases],
)
def test_a_one_shot_message_picks_the_service(code, text, service):
    resident = chat(code)
    turn = resident.send(text)
    assert resident.state.name == "location", render(turn.replies[0])
    assert resident.state.draft.service_code == service
    assert turn.replies[0].text.startswith(LANGUAGES[code](texts.SERVICE_TAKEN).split("{")[0])


@pytest.mark.parametrize("code", CODES)
def test_a_service_name_typed_back_picks_that_service(code):
    for service in CATALOGUE:
        resident = chat(code)
        resident.send(LANGUAGES[code].service(service.name))
        assert resident.state.draft.service_code == service.code, (code, service.name)


@pytest.mark.parametrize(
    ("code", "text"), [(code, text) for code, said in EMERGENCIES.items() for text in said]
)
def test_emergencies_are_spotted_and_answered_in_the_language(code, text):
    assert is_emergency(text, LANGUAGES)
    resident = chat(code)
    turn = resident.send(text)
    assert [reply.text for reply in turn.replies] == [
        LANGUAGES[code](texts.EMERGENCY).format(number="911")
    ]
    assert resident.state.name == "idle" and not turn.actions


@pytest.mark.parametrize("text", NOT_EMERGENCIES)
def test_things_311_takes_are_not_emergencies(text):
    assert not is_emergency(text, LANGUAGES)


def test_a_language_without_its_own_switch_text_names_itself(tmp_path):
    (tmp_path / "fr.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgctxt "language"\nmsgid "name"\nmsgstr "Fran\u00e7ais"\n',
        encoding="utf-8",
    )
    languages = load_languages(str(tmp_path))
    resident = Chat(replace(CONTEXT, languages=languages))
    assert resident.send("Fran\u00e7ais").replies[0].text == "OK, I will write in Fran\u00e7ais."


def test_updating_the_catalogues_keeps_their_service_names_and_phrases(tmp_path):
    import shutil

    from click.testing import CliRunner

    from bot.cli.translations import translations

    shutil.copy(BUILT_IN / "es.po", tmp_path / "es.po")
    before = load_languages(str(tmp_path))["es"]
    result = CliRunner().invoke(translations, ["update", "--folder", str(tmp_path)])
    assert result.exit_code == 0, result.output
    load_languages.cache_clear()
    after = load_languages(str(tmp_path))["es"]
    assert after.services == before.services and after.synonyms == before.synonyms
    assert len(after.services) >= 20 and (tmp_path / "messages.pot").exists()
