"""SMS segment counting (GSM-7 with its extension table, or UCS-2), and what a text costs on
the resident's channel: the engine's budgets ("one message", "two", at most three) count SMS
segments on SMS, and whole messages on a channel that declares a length in characters.
"""

from __future__ import annotations

from contextvars import ContextVar

# GSM 03.38 basic character set (the escape code 0x1B is not a character of its own).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Characters of the extension table: each costs two septets (escape + code).
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


_GSM7 = GSM7_BASIC | GSM7_EXTENSION


def is_gsm7(text: str) -> bool:
    """True when every character can be sent in the GSM-7 alphabet."""
    return _GSM7.issuperset(text)


def _doubled(text: str, gsm: bool) -> int:
    """How many characters cost two units: escapes in GSM-7, surrogate pairs in UCS-2."""
    if gsm:
        if GSM7_EXTENSION.isdisjoint(text):
            return 0
        return sum(text.count(c) for c in GSM7_EXTENSION)
    return 0 if text.isascii() else len(text.encode("utf-16-le", "surrogatepass")) // 2 - len(text)


# Characters per message on the channel of the step under way; None: SMS segments. Set by
# `engine.step` from `Context.message_chars` for the step's duration (one value per thread).
_MESSAGE_CHARS: ContextVar[int | None] = ContextVar("message_chars", default=None)


class measured_in:  # noqa: N801 (used as a function: `with measured_in(chars):`)
    """Count `cost` in messages of `message_chars` characters (None: SMS segments) within.

    A class rather than a @contextmanager generator: every step enters one, and the
    generator's machinery cost more than the rest of a short step's bookkeeping.
    """

    __slots__ = ("message_chars", "_token")

    def __init__(self, message_chars: int | None) -> None:
        self.message_chars = message_chars

    def __enter__(self) -> None:
        self._token = _MESSAGE_CHARS.set(self.message_chars)

    def __exit__(self, *_: object) -> None:
        _MESSAGE_CHARS.reset(self._token)


def cost(text: str) -> int:
    """What the text costs against a reply's budget: its SMS segments, or the messages it
    takes on a channel with a length in characters (where any text within it costs one)."""
    chars = _MESSAGE_CHARS.get()
    if chars is None:
        return segments(text)
    return max(1, -(-len(text) // chars))


def segments(text: str) -> int:
    """How many SMS segments the text takes (an empty text still takes one)."""
    gsm = is_gsm7(text)
    doubled = _doubled(text, gsm)
    single, part = (GSM7_SINGLE, GSM7_PART) if gsm else (UCS2_SINGLE, UCS2_PART)
    if len(text) + doubled <= single:
        return 1
    if not doubled:
        return -(-len(text) // part)
    # Fill parts greedily: an escape pair or a surrogate pair is never split across parts.
    count, used = 1, 0
    for c in text:
        unit = (2 if c in GSM7_EXTENSION else 1) if gsm else (2 if ord(c) > 0xFFFF else 1)
        if used + unit > part:
            count, used = count + 1, 0
        used += unit
    return count
