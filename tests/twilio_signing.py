"""Sign webhook posts the way Twilio does, so tests can call our endpoints as Twilio would."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict


def sign(url: str, params: Mapping[str, str | Sequence[str]], auth_token: str) -> str:
    """Return the X-Twilio-Signature Twilio would send for a form POST of `params` to `url`."""
    form = MultiDict()
    for name, value in params.items():
        for item in [value] if isinstance(value, str) else value:
            form.add(name, item)
    return RequestValidator(auth_token).compute_signature(url, form)
