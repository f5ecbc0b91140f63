"""A language the bot speaks: texts.py translated (keyed by the English text) and its words."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Word groups a language lists (in its catalogue, context "words"); English ones live in code.
WORD_GROUPS = (
    "yes",
    "no",
    "skip",
    "more",
    "other",
    "help",
    "restart",
    "back",
    "status",
    "my reports",
    "language",
    "resume",
    "edit",
    "edit service",
    "edit location",
    "edit description",
    "details",
    "private",
    "emergency",
    "detect",
    "names",
    "forget",
    "agent",
)


# Moments a language says its own way, for answers to "when?" questions.
DATE_PHRASES = (
    "now",
    "today",
    "yesterday",
    "the day before yesterday",
    "this morning",
    "this afternoon",
    "this evening",
    "tonight",
    "last night",
    "last week",
    "an hour ago",
    "2 hours ago",
    "2 days ago",
    "3 days ago",
)


@dataclass(frozen=True, eq=False)
class Language:
    """Translations of the English texts, service names, word lists and phrases for matching.

    `messages` maps an English text of texts.py to its translation; `services` a catalogue
    service name to the name shown; `words` a group of WORD_GROUPS to the words (casefolded)
    that mean it; `synonyms` a phrase residents use to the catalogue words it stands for.
    """

    code: str = "en"
    name: str = "English"
    messages: Mapping[str, str] = field(default_factory=dict)
    services: Mapping[str, str] = field(default_factory=dict)
    words: Mapping[str, frozenset[str] | tuple[str, ...]] = field(default_factory=dict)
    synonyms: Mapping[str, str] = field(default_factory=dict)
    dates: Mapping[str, str] = field(default_factory=dict)  # "ayer" -> "yesterday"

    def __call__(self, text: str) -> str:
        """The text in this language (the English text when it has no translation)."""
        return self.messages.get(text) or text

    def service(self, name: str) -> str:
        """A catalogue service name as shown in this language."""
        return self.services.get(name) or name

    def has(self, group: str, word: str) -> bool:
        """Whether the (normalised) word is one of the group's words in this language."""
        return word in self.words.get(group, ())

    @property
    def english(self) -> bool:
        """Whether this is English (the catalogue's and the city's language)."""
        return self.code == "en"


ENGLISH = Language()
