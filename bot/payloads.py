"""The typed payloads of stored messages: what an inbound message carries beside its text, and
what an outbound one carries for its channel (the engine's reply intent, a photo, a flag).

Stored as JSON in `Message.payload`; `from_dict` reads what `to_dict` wrote, and older rows
that lack a key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class InboundPayload:
    """What a resident's message carries beside its words.

    `media` are references the channel can fetch later (never a URL carrying a secret);
    `location` a shared pin and `place_name` its name if it has one; `reply_to` the provider
    id of our message whose button was tapped; `raw` what the channel keeps of the
    provider's payload for tracing (ids and counts: never the sender's number, name or
    username, nor the words, which are the message's text; see each channel's `kept_raw`).
    `public_post` is the provider's id of the public post the message came as (a mention of
    the city on X or Mastodon): the worker answers it in public with nothing of the resident
    (`OutboundPayload.public_reply_to`); the conversation itself goes on privately.
    """

    media: tuple[str, ...] = ()
    location: tuple[float, float] | None = None
    place_name: str = ""
    reply_to: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    public_post: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in `Message.payload`."""
        return {
            "media": list(self.media),
            "location": list(self.location) if self.location else None,
            "place_name": self.place_name,
            "reply_to": self.reply_to,
            "raw": self.raw,
            **({"public_post": self.public_post} if self.public_post else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> InboundPayload:
        """Read a stored payload (None or missing keys: the defaults)."""
        data = data or {}
        location = data.get("location")
        return cls(
            media=tuple(data.get("media") or ()),
            location=(float(location[0]), float(location[1])) if location else None,
            place_name=str(data.get("place_name") or ""),
            reply_to=data.get("reply_to"),
            raw=dict(data.get("raw") or {}),
            public_post=str(data["public_post"]) if data.get("public_post") else None,
        )


@dataclass(frozen=True)
class ReplyIntent:
    """The engine's reply, channel-neutral: its words, the options it offers, what answer it
    expects ("text", "choice", "choices", "yes_no", "yes_no_private", "location") and the
    resident's language (for a channel's own words, such as button labels)."""

    text: str
    options: tuple[str, ...] = ()
    expects: str = "text"
    language: str = ""

    @property
    def is_question(self) -> bool:
        """True when the reply asks something a button or a number answers."""
        return self.expects in QUESTION_KINDS


QUESTION_KINDS = frozenset({"choice", "choices", "yes_no", "yes_no_private", "location"})

# The kinds of notices about a report (`OutboundPayload.notice`): the city's request number
# ("filed"), a change of its status ("status"), the city not answering ("delayed"), the report
# kept for staff ("saved"), the city's refusal ("rejected").
NOTICE_KINDS = ("filed", "status", "delayed", "saved", "rejected")


@dataclass(frozen=True)
class OutboundPayload:
    """What an outbound message carries for its channel.

    `reply` is the engine's intent (None for a message with words only); `media_url` a photo
    the city published with a status update; `opt_out_notice` marks the one confirmation an
    opted-out contact still gets; `status_notice` a status check's notice, which is sent on the
    notices lane, after residents' replies (bot.pacing).

    `notice` is the kind of a notice about a report, sent outside a turn (NOTICE_KINDS; "" for
    a reply), and `values` what it says by name ("number", "service", "status", "notes",
    "reason", "text"): a channel that may only send an approved template to a resident who has
    been quiet for long (WhatsApp after 24 hours) fills the kind's template with them.

    `public_reply_to` marks a public reply to a resident's public post (`InboundPayload.
    public_post`): the channel posts it in public, in reply to that post, where every other
    message goes privately. Only the worker makes them (`bot.jobs.public_replies`), from fixed
    words with nothing of the resident: an invitation to go on privately, a request number.
    """

    reply: ReplyIntent | None = None
    media_url: str | None = None
    opt_out_notice: bool = False
    status_notice: bool = False
    notice: str = ""
    values: dict[str, str] = field(default_factory=dict)
    public_reply_to: str | None = None
    # Written by a member of staff (bot.handoff.agent_reply), not by the bot.
    agent: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in `Message.payload`."""
        data: dict[str, Any] = {}
        if self.reply is not None:
            data["reply"] = {
                "text": self.reply.text,
                "options": list(self.reply.options),
                "expects": self.reply.expects,
                "language": self.reply.language,
            }
        if self.media_url:
            data["media_url"] = self.media_url
        if self.opt_out_notice:
            data["opt_out_notice"] = True
        if self.status_notice:
            data["status_notice"] = True
        if self.notice:
            data["notice"] = self.notice
        if self.values:
            data["values"] = dict(self.values)
        if self.public_reply_to:
            data["public_reply_to"] = self.public_reply_to
        if self.agent:
            data["agent"] = True
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> OutboundPayload:
        """Read a stored payload (None or missing keys: the defaults)."""
        data = data or {}
        reply = data.get("reply")
        return cls(
            reply=ReplyIntent(
                text=str(reply.get("text") or ""),
                options=tuple(str(option) for option in reply.get("options") or ()),
                expects=str(reply.get("expects") or "text"),
                language=str(reply.get("language") or ""),
            )
            if isinstance(reply, dict)
            else None,
            media_url=data.get("media_url") or None,
            opt_out_notice=bool(data.get("opt_out_notice")),
            status_notice=bool(data.get("status_notice")),
            notice=str(data.get("notice") or ""),
            values=_strings(data.get("values")),
            public_reply_to=str(data["public_reply_to"]) if data.get("public_reply_to") else None,
            agent=bool(data.get("agent")),
        )


def _strings(value: Any) -> dict[str, str]:
    """A stored mapping of names to words (None or anything else: empty)."""
    if not isinstance(value, dict):
        return {}
    return {str(key): str(item) for key, item in value.items()}
