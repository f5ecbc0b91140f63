"""The engine's actions, carried out for a turn: addresses looked up, requests' statuses asked of
the city, the resident's reports listed, confirmed reports stored for filing; and the follow-up,
the actions that need the network, kept on the conversation until they are answered."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sqlmodel import Session, select

from bot import geocoding
from bot.jobs.common import expected_at
from bot.models import Conversation, Report
from bot.open311.client import Open311Client, Open311Error
from bot.settings import Settings, get_settings
from conversations import FileReport, Geocode, Geocoded, LookupStatus, StatusFound
from conversations.types import ListReports, ReportLine, ReportsListed

MY_REPORTS_SHOWN = 3

# The actions the engine expects an event in answer to: ListReports is answered from the
# database, in the turn; Geocode and LookupStatus between turns, with no transaction open.
Answerable = Geocode | LookupStatus | ListReports
ANSWERABLE = (Geocode, LookupStatus, ListReports)


@dataclass(frozen=True)
class Followup:
    """What a turn left to answer: the actions the engine asked for that need the network
    (and any asked after them), in the order asked, for one inbound message.

    Stored on the conversation (`Conversation.followup`) by the turn that met them, performed
    with no transaction open, and answered by a turn that first clears it, provided it still
    holds this `token`: a worker whose lock lapsed cannot apply its answer a second time.
    `steps` counts the engine steps already taken for the message (MAX_EVENTS_PER_MESSAGE).
    """

    message_id: int
    actions: tuple[Answerable, ...]
    steps: int = 0
    token: str = field(default_factory=lambda: secrets.token_hex(8))

    def to_dict(self) -> dict:
        """JSON-safe, for the conversation's followup column."""
        return {
            "token": self.token,
            "message_id": self.message_id,
            "steps": self.steps,
            "actions": [_action_dict(action) for action in self.actions],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Followup:
        """Rebuild one stored with to_dict; ValueError when it cannot be read."""
        try:
            return cls(
                message_id=int(data["message_id"]),
                actions=tuple(_action_of(entry) for entry in data["actions"]),
                steps=int(data.get("steps") or 0),
                token=str(data["token"]),
            )
        except (AttributeError, KeyError, TypeError) as exc:
            raise ValueError(f"unreadable follow-up: {exc!r}") from exc


def _action_dict(action: Answerable) -> dict:
    if isinstance(action, Geocode):
        return {"kind": "geocode", "query": action.query}
    if isinstance(action, LookupStatus):
        return {"kind": "status", "number": action.number}
    if isinstance(action, ListReports):
        return {"kind": "reports"}
    raise ValueError(f"not an action a follow-up keeps: {type(action).__name__}")


def _action_of(entry: dict) -> Answerable:
    kind = entry.get("kind")
    if kind == "geocode":
        return Geocode(str(entry["query"]))
    if kind == "status":
        return LookupStatus(str(entry["number"]))
    if kind == "reports":
        return ListReports()
    raise ValueError(f"unknown follow-up action: {kind!r}")


def perform(
    followup: Followup, client: Callable[[], Open311Client], settings: Settings
) -> tuple[Geocoded | StatusFound | None, ...]:
    """The answers to the follow-up's network actions, in order (None for the others, which
    the turn answers from the database); `client()` gives the city's client, asked for only
    when the city is. Call it with no transaction open: the city or the geocoder may take their
    full timeout."""
    return tuple(_perform(action, client, settings) for action in followup.actions)


def _perform(action: Answerable, client: Callable[[], Open311Client], settings: Settings):
    if isinstance(action, Geocode):
        return geocoding.lookup(action.query, settings)
    if isinstance(action, LookupStatus):
        return lookup_status(client(), action.number)
    return None


def new_report(conversation: Conversation, action: FileReport) -> Report:
    """A confirmed report as a pending Report of the conversation (the caller queues submit)."""
    return Report(
        conversation_id=conversation.id,
        contact_id=conversation.contact_id,
        service_code=action.service_code,
        service_name=action.service_name,
        description=action.description,
        address=action.address,
        lat=action.lat,
        lon=action.lon,
        attributes=dict(action.attributes),
        media=list(action.media),
        phone=action.phone or None,
        email=action.email or None,
        contact_ok=action.contact_ok,
    )


def list_reports(session: Session, contact_id: int) -> ReportsListed:
    """The resident's latest reports, newest first, for MY REPORTS (the engine shows the day
    each was filed on the city's calendar)."""
    reports = session.exec(
        select(Report)
        .where(Report.contact_id == contact_id)
        .order_by(Report.id.desc())
        .limit(MY_REPORTS_SHOWN)
    ).all()
    return ReportsListed(
        tuple(
            ReportLine(
                number=report.service_request_id or "",
                service_name=report.service_name,
                status=report.city_status or "",
                filed_at=report.created_at,
            )
            for report in reports
        )
    )


def lookup_status(client: Open311Client, number: str) -> StatusFound:
    """Ask the city about request `number` for a resident's STATUS command (network only: what
    the resident may be told of it is decided in the turn that answers it, `with_own`)."""
    try:
        found = client.request(number)
    except Open311Error:
        return StatusFound(number, failed=True)
    if not found:
        return StatusFound(number)
    return StatusFound(
        number,
        status=str(found.get("status") or "open"),
        notes=str(found.get("status_notes") or ""),
        service_name=str(found.get("service_name") or ""),
        expected=expected_at(found.get("expected_datetime"), get_settings()),
    )


def with_own(session: Session, contact_id: int, found: StatusFound) -> StatusFound:
    """What the contact may be told of the request the city answered about.

    Their own request (one of their reports the city numbered so) is told in full; a request
    the city says it does not have is marked `own` when it is theirs (a city may hide new
    requests until its staff moderate them).

    Anyone else's is told as its status word alone: "Request 123: closed". A resident asking
    about a request a neighbour or the city's call centre gave them still learns whether it is
    done, which the city publishes on its Open311 server anyway; the city's notes (free text by
    its staff, which can name people and places), the service and the expected date are kept
    for the resident who reported it. Request numbers are sequential, so the city's requests can
    be walked one STATUS at a time: each such answer costs a reply from the sender's reply
    limit (REPLY_LIMIT_PER_SENDER) and says no more than the city's own public list.
    """
    if found.failed:
        return found
    own = filed_by(session, contact_id, found.number)
    if found.status is None:
        return replace(found, own=own)
    if own:
        return replace(found, own=True)
    return StatusFound(found.number, status=found.status)


def filed_by(session: Session, contact_id: int | None, number: str) -> bool:
    """Whether the contact has a report the city numbered `number`."""
    return (
        session.exec(
            select(Report.id).where(
                Report.contact_id == contact_id, Report.service_request_id == number
            )
        ).first()
        is not None
    )
