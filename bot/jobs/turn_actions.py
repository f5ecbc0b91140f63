"""The engine's actions, carried out for a turn: addresses looked up, requests' statuses asked of
the city, open requests nearby looked up, the resident's reports listed, confirmed reports stored
for filing, requests followed; and the follow-up, the actions answered outside the turn's
transaction, kept on the conversation until they are answered."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from rq.timeouts import JobTimeoutException
from sqlalchemy import text
from sqlmodel import Session, select

from bot import duplicates, geocoding
from bot.db import session_scope
from bot.jobs.common import expected_at
from bot.models import Conversation, Report
from bot.open311.client import Open311Client, Open311Error
from bot.settings import Settings, get_settings
from bot.timeutil import utcnow
from conversations import FileReport, Geocode, Geocoded, LookupStatus, StatusFound
from conversations.types import (
    FindNearby,
    FollowRequest,
    ListReports,
    Nearby,
    ReportLine,
    ReportsListed,
)

log = logging.getLogger(__name__)

MY_REPORTS_SHOWN = 3
# How long the nearby look-up may keep the database busy (PostgreSQL) before the report goes
# on without it.
NEARBY_TIMEOUT_MS = 2000

# The actions the engine expects an event in answer to: ListReports is answered from the
# database, in the turn; Geocode and LookupStatus between turns, with no transaction open, and
# FindNearby there too, in a short transaction of its own (no network, but never inside a turn).
Answerable = Geocode | LookupStatus | ListReports | FindNearby
ANSWERABLE = (Geocode, LookupStatus, ListReports, FindNearby)


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
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"unreadable follow-up: {exc!r}") from exc


def _action_dict(action: Answerable) -> dict:
    if isinstance(action, Geocode):
        return {"kind": "geocode", "query": action.query}
    if isinstance(action, LookupStatus):
        return {"kind": "status", "number": action.number}
    if isinstance(action, ListReports):
        return {"kind": "reports"}
    if isinstance(action, FindNearby):
        return {
            "kind": "nearby",
            "service_code": action.service_code,
            "lat": action.lat,
            "lon": action.lon,
        }
    raise ValueError(f"not an action a follow-up keeps: {type(action).__name__}")


def _action_of(entry: dict) -> Answerable:
    kind = entry.get("kind")
    if kind == "geocode":
        return Geocode(str(entry["query"]))
    if kind == "status":
        return LookupStatus(str(entry["number"]))
    if kind == "reports":
        return ListReports()
    if kind == "nearby":
        return FindNearby(str(entry["service_code"]), float(entry["lat"]), float(entry["lon"]))
    raise ValueError(f"unknown follow-up action: {kind!r}")


def perform(
    followup: Followup, client: Callable[[], Open311Client], settings: Settings
) -> tuple[Geocoded | StatusFound | Nearby | None, ...]:
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
    if isinstance(action, FindNearby):
        return find_nearby(action, settings)
    return None


def find_nearby(action: FindNearby, settings: Settings) -> Nearby:
    """The open requests near the action's point, read in a short transaction of its own; none
    when the database fails or is slow (the report goes on without the check)."""
    answer = Nearby(action.service_code, action.lat, action.lon)
    if "*" in settings.duplicates_off() or action.service_code in settings.duplicates_off():
        return answer
    try:
        with session_scope() as session:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text(f"SET LOCAL statement_timeout = {NEARBY_TIMEOUT_MS}"))
            found = duplicates.find_nearby(
                session, action.service_code, action.lat, action.lon, settings, utcnow()
            )
    except JobTimeoutException:
        raise
    except Exception as exc:  # noqa: BLE001 - a report is never held up by the check
        # The point is the resident's: only the failure's kind is logged.
        log.warning("the nearby look-up failed (%s); none offered", type(exc).__name__)
        return answer
    return replace(answer, requests=found)


def record_follows(session: Session, contact_id: int, actions: list) -> None:
    """The turn's FollowRequest actions recorded for the contact, in the turn's transaction."""
    for action in actions:
        if isinstance(action, FollowRequest):
            duplicates.follow(session, contact_id, action)


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
