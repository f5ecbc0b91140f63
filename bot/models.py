"""What intake311 remembers: contacts, conversations, messages, reports, the catalogue, and the
city's open requests with the residents who follow them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Index, String, Text, UniqueConstraint, event
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from bot.encrypted import EncryptedText
from bot.timeutil import UTCDateTime, utcnow


class Direction(StrEnum):
    """Which way a message goes: from the resident (in) or to them (out)."""

    IN = "in"
    OUT = "out"


class MessageStatus(StrEnum):
    """Where a message stands.

    in: pending -> processed | failed;
    out: pending -> sending -> sent -> delivered | read | undelivered | failed, or suppressed
    (an opted-out contact).
    """

    PENDING = "pending"
    PROCESSED = "processed"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


class ReportState(StrEnum):
    """Our pipeline's state of a report (the city's own status is `Report.city_status`).

    pending -> submitting -> submitted, or awaiting_number (a token) -> submitted; rejected (the
    city refused it; the resident was told); failed (given up: our setup or a long outage) and
    unconfirmed (maybe filed, the city cannot be searched) wait for staff (bot/failures.py).
    """

    PENDING = "pending"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    AWAITING_NUMBER = "awaiting_number"
    REJECTED = "rejected"
    FAILED = "failed"
    UNCONFIRMED = "unconfirmed"


class PhotoState(StrEnum):
    """Where a resident's photo stands in the media pipeline (bot/media/pipeline.py).

    pending (attempts, next_attempt_at: like a send's) -> fetching -> stored (kept under
    `token`, served at /media/<token>); failed (given up after MEDIA_FETCH_ATTEMPTS, or not
    fetched by the time its report was filed) and refused (never fetchable: not the provider's,
    not an image, too large) wait for staff; erased: a tombstone whose copy the store could not
    delete yet (the purge tries again), with nothing of the resident left.
    """

    PENDING = "pending"
    FETCHING = "fetching"
    STORED = "stored"
    FAILED = "failed"
    REFUSED = "refused"
    ERASED = "erased"


class StoredEnum(TypeDecorator):
    """A StrEnum in a string column, stored as its value (the strings stored before the enum).

    Only the enum's values are written; a value read back is the enum's member, or the string
    as stored where this version does not know it.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int) -> None:
        super().__init__(length)
        self.enum = enum
        self.length = length

    def process_bind_param(self, value, dialect):
        return None if value is None else self.enum(value).value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        try:
            return self.enum(value)
        except ValueError:
            return value


def _when(**kwargs):
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kwargs)


def _maybe_when(**kwargs):
    return Field(default=None, sa_type=UTCDateTime, **kwargs)


class Contact(SQLModel, table=True):
    """A resident on one channel, known by a URN-like address such as 'tel:+15551234567'.

    The address is kept encrypted (sent to, never searched); `address_key`, its keyed hash
    (bot.personal_data.address_key), is what finds the contact. After STOP only the key and
    the opt-out are kept (address None); a forgotten contact keeps neither (both None), only
    the rows its reports at the city hang on.
    """

    id: int | None = Field(default=None, primary_key=True)
    address: str | None = Field(default=None, sa_type=EncryptedText)
    address_key: str | None = Field(default=None, unique=True, index=True, max_length=64)
    channel: str = Field(max_length=32)
    opted_out: bool = False
    # When they last opted out (STOP, a block, the carrier's word): set and cleared with
    # `opted_out` by the listener below, wherever that is changed.
    opted_out_at: datetime | None = _maybe_when()
    # The language the resident writes in (an engine language code), used for every later text.
    language: str | None = Field(default=None, max_length=16)
    # Whether the city may contact them (phone/email sent with reports); None: not asked yet.
    contact_consent: bool | None = None
    created_at: datetime = _when()


@event.listens_for(Contact.opted_out, "set")
def _stamp_opt_out(contact: Contact, value: bool, old: object, _initiator: object) -> None:
    """Opting out stamps when; opting back in clears it."""
    if value and old is not True:
        contact.opted_out_at = utcnow()
    elif not value:
        contact.opted_out_at = None


class Conversation(SQLModel, table=True):
    """The dialogue with one contact: the engine's state, stored between messages."""

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", unique=True, index=True)
    state: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The network actions the engine asked for and has not had answered yet (an address to look
    # up, a request's status to ask the city), as bot.jobs.turn_actions.Followup.to_dict();
    # None (SQL NULL) when there are none. Performed with no transaction open, then answered
    # in a turn of their own before the conversation's next message.
    followup: dict | None = Field(
        default=None, sa_column=Column(JSON(none_as_null=True), nullable=True)
    )
    # When the resident asked to DELETE MY DATA and was asked to confirm (None: not asked).
    forget_asked_at: datetime | None = _maybe_when()
    # Human handoff (bot/handoff.py): None, the bot answers; "waiting", the resident asked for
    # a person (AGENT) or was not understood twice running and staff have not taken it yet;
    # "agent", a staff member (`handoff_by`) has it and the bot stays quiet until handed back.
    handoff: str | None = Field(default=None, max_length=16, index=True)
    handoff_reason: str | None = Field(default=None, max_length=32)
    handoff_at: datetime | None = _maybe_when()
    handoff_by: str | None = Field(default=None, max_length=64)
    # Whether staff were in (HANDOFF_HOURS) when it was flagged "waiting": only such a wait
    # keeps the bot quiet and ends after HANDOFF_WAIT_MINUTES (decided once, by the turn).
    handoff_staff_in: bool | None = None
    created_at: datetime = _when()
    updated_at: datetime = _when()


class Message(SQLModel, table=True):
    """One message in or out; provider ids are unique per channel, which stops redeliveries."""

    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_message_external"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    channel: str = Field(max_length=32)
    direction: Direction = Field(sa_type=StoredEnum(Direction, 3))
    external_id: str | None = Field(default=None, max_length=128)
    text: str = Field(default="", sa_type=Text)
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: MessageStatus = Field(
        default=MessageStatus.PENDING, sa_type=StoredEnum(MessageStatus, 16), index=True
    )
    error_code: str | None = Field(default=None, max_length=32)
    attempts: int = 0
    next_attempt_at: datetime | None = _maybe_when()
    created_at: datetime = _when(index=True)  # the day's figures (bot.figures)
    updated_at: datetime = _when()


class Report(SQLModel, table=True):
    """A report for the city, from the resident's confirmation to the city's last status."""

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    service_code: str = Field(max_length=128)
    service_name: str = Field(default="", sa_type=Text)
    description: str = Field(default="", sa_type=Text)
    address: str = Field(default="", sa_type=Text)
    lat: float | None = None
    lon: float | None = None
    # Our pipeline's state (ReportState); next_attempt_at says when a pending or
    # awaiting_number report is due again.
    state: ReportState = Field(
        default=ReportState.PENDING, sa_type=StoredEnum(ReportState, 16), index=True
    )
    attempts: int = 0
    next_attempt_at: datetime | None = _maybe_when()
    last_error: str | None = Field(default=None, sa_type=Text)
    delay_notice_sent: bool = False
    # Our reference, sent with the report (device_id, description suffix) so that after a POST
    # whose answer was lost the city's requests can be searched before filing again.
    marker: str | None = Field(default=None, max_length=32, index=True)
    first_posted_at: datetime | None = _maybe_when()
    # When the latest POST was sent: no second POST until a search made long enough after it
    # (a slow city may still be storing the first) has not found the report.
    last_posted_at: datetime | None = _maybe_when()
    # What staff must look at although the report is filed (e.g. the city holds it twice).
    staff_note: str | None = Field(default=None, sa_type=Text)
    # A POST may have reached the city without our hearing back: search before posting again.
    check_before_post: bool = False
    # When staff last sent a given-up report back in line (the give-up clock restarts there).
    retried_at: datetime | None = _maybe_when()
    service_request_id: str | None = Field(default=None, max_length=128, index=True)
    token: str | None = Field(default=None, max_length=128)
    attributes: dict = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}")
    )
    # The resident's photos as channel references (e.g. "telegram-file:<file_id>"), in the
    # order sent; each is a Photo row, whose kept copy's address reaches the city as media_url.
    media: list = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    # Contact details for the city, kept only when the resident agreed (contact_ok), encrypted.
    contact_ok: bool = False
    phone: str | None = Field(default=None, sa_type=EncryptedText)
    email: str | None = Field(default=None, sa_type=EncryptedText)
    # When the resident's data in it was erased (DELETE MY DATA, STOP, RETENTION_DAYS): what
    # is left is the city's request number, service and status (bot.retention).
    erased_at: datetime | None = _maybe_when()
    # The city's status of the request ("open", "closed", ...): theirs, not our `state`.
    city_status: str | None = Field(default=None, max_length=32)
    status_notes: str | None = Field(default=None, sa_type=Text)
    expected_datetime: str | None = Field(default=None, max_length=64)
    created_at: datetime = _when(index=True)  # the day's figures (bot.figures)
    submitted_at: datetime | None = _maybe_when()
    status_changed_at: datetime | None = _maybe_when()
    # When the city was last asked about the report: its first answer is the baseline, news only
    # if the status differs from the one filed.
    last_checked_at: datetime | None = _maybe_when()
    updated_at: datetime = _when()


class Photo(SQLModel, table=True):
    """A resident's photo: the channel's reference to it, then the cleaned copy we keep.

    One per contact and reference (a redelivered or re-sent photo is the same row). `token` is
    the unguessable name it is kept and served under; `lat`/`lon` where its EXIF said it was
    taken (read before the EXIF was stripped).
    """

    __table_args__ = (UniqueConstraint("contact_id", "reference", name="uq_photo_reference"),)

    id: int | None = Field(default=None, primary_key=True)
    # No foreign keys: a photo whose copy the store could not delete yet outlives its contact,
    # message and report as a tombstone (erased, nothing but its token) until the purge.
    contact_id: int = Field(index=True)
    message_id: int | None = Field(default=None, index=True)  # the message it came with
    report_id: int | None = Field(default=None, index=True)  # the report it was filed with
    channel: str = Field(max_length=32)
    # The channel's reference (a Twilio MediaUrl, "telegram-file:<id>"); None once erased.
    reference: str | None = Field(default=None, max_length=2048)  # fields.MAX_URL
    state: PhotoState = Field(
        default=PhotoState.PENDING, sa_type=StoredEnum(PhotoState, 16), index=True
    )
    token: str | None = Field(default=None, max_length=64, unique=True)
    content_type: str | None = Field(default=None, max_length=64)
    size: int | None = None
    lat: float | None = None
    lon: float | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = _maybe_when()
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _when()
    stored_at: datetime | None = _maybe_when()
    updated_at: datetime = _when()


class CatalogCache(SQLModel, table=True):
    """The city's service catalogue as last fetched, so a slow city does not slow a turn."""

    id: int | None = Field(default=None, primary_key=True)
    endpoint: str = Field(unique=True, max_length=500)
    services: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    fetched_at: datetime = _when()


class Cursor(SQLModel, table=True):
    """How far a periodic job has read a feed (e.g. the city's service request updates)."""

    name: str = Field(primary_key=True, max_length=64)
    at: datetime = _when()


class AppliedUpdate(SQLModel, table=True):
    """An update from the city's feed already applied, so a replay of the feed is no news."""

    __table_args__ = (UniqueConstraint("key", name="uq_applied_update_key"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=255)
    applied_at: datetime = _when()


class StaffAction(SQLModel, table=True):
    """One thing staff did (a retry, a forgotten resident): who, what, from where, when."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when(index=True)
    # Who: the signed-in staff member, or "admin-token" / "cli:<os user>" until staff accounts.
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64)
    # What it acted on ("report:12", "contact c-3f2a9b0c1d"): never a resident's address.
    target: str = Field(default="", max_length=255)
    detail: str = Field(default="", sa_type=Text)
    remote_addr: str | None = Field(default=None, max_length=64)


class StaffUser(SQLModel, table=True):
    """A staff member of the console: a name, an Argon2id password hash and a role."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    password_hash: str = Field(sa_type=Text)
    # "viewer" (reads), "agent" (also takes over conversations and retries), "admin" (also
    # manages staff accounts).
    role: str = Field(default="viewer", max_length=16)
    active: bool = True
    # Sign-in failures and locks are counted in Redis (bot/signin_locks.py), not here.
    # Bumped on sign-out everywhere, a new password or a disabled account: every session
    # signed in under an older epoch is refused.
    session_epoch: int = 0
    last_signin_at: datetime | None = _maybe_when()
    created_at: datetime = _when()
    updated_at: datetime = _when()


class ReportEvent(SQLModel, table=True):
    """One step of a report's history, for staff: filed, a city status, failed, retried."""

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    at: datetime = _when()
    # What happened: "created", "submitted", "status", "rejected", "failed", "retried", ...
    kind: str = Field(max_length=32)
    # Our state or the city's status after it ("submitted", "open", "closed").
    status: str | None = Field(default=None, max_length=32)
    # The city's notes or our error, cut to a few hundred characters; never the resident's words.
    detail: str = Field(default="", sa_type=Text)


class OpenRequest(SQLModel, table=True):
    """One of the city's open requests as we last saw it: listed by the city (GET requests,
    bot.jobs.open_requests) or filed by us (`ours`); what the nearby look-up offers residents
    before they file the same problem again (bot.duplicates).

    Strings are cut to their columns before they are stored (bot.duplicates.open_row).
    """

    __table_args__ = (Index("ix_openrequest_service_lat", "service_code", "lat"),)

    id: int | None = Field(default=None, primary_key=True)
    service_request_id: str = Field(max_length=128, unique=True)
    service_code: str = Field(max_length=128)
    service_name: str = Field(default="", max_length=255)
    address: str = Field(default="", max_length=255)
    lat: float | None = None
    lon: float | None = None
    status: str = Field(default="open", max_length=32)
    requested_at: datetime | None = _maybe_when()  # the city's requested_datetime
    updated_at: datetime | None = _maybe_when()  # the city's updated_datetime
    seen_at: datetime = _when()  # when a listing (or our filing) last had it
    ours: bool = False  # filed by us: tracking keeps its status, a listing never closes it


class Follow(SQLModel, table=True):
    """A resident following a city request instead of filing it again: each change of its
    status is sent to them (bot.jobs.following), in their language."""

    __table_args__ = (
        UniqueConstraint("contact_id", "service_request_id", name="uq_follow_request"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    service_request_id: str = Field(max_length=128, index=True)
    service_code: str = Field(max_length=128)
    service_name: str = Field(default="", max_length=255)
    # The status the follower was last told of (or that the request had when they followed).
    last_status: str | None = Field(default=None, max_length=32)
    # False once the request has been closed for long (no more checks); following it again
    # makes it active.
    active: bool = True
    created_at: datetime = _when()
    updated_at: datetime = _when()  # when it was followed or its status last changed
