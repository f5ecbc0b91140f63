"""Phone numbers and emails typed into a description, masked before it goes to the city.

Open311 descriptions are often published, so contact details never stay in them; what was
found is kept apart and sent in the request's own phone/email fields only with consent.
"""

from __future__ import annotations

import re

PHONE_MASK = "[phone]"
EMAIL_MASK = "[email]"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"\+\d[\d\s().-]{7,}\d"  # international: +44 20 7946 0958
    r"|(?:1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}"  # North American: (312) 555-0100
    r"|\d{3}[.-]\d{4}"  # local: 555-0100
    r")(?![\w-])"
)


def mask_contacts(text: str) -> tuple[str, list[str], list[str]]:
    """The text with phones and emails masked, and the phones and emails found in it."""
    emails = _EMAIL.findall(text)
    text = _EMAIL.sub(EMAIL_MASK, text)
    phones = [" ".join(found.split()) for found in _PHONE.findall(text)]
    text = _PHONE.sub(PHONE_MASK, text)
    return text, phones, emails
