"""Live conversations, one conversation's transcript, and its handoff to a person."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import case
from sqlmodel import col, func, select

from bot import handoff
from bot.db import session_scope
from bot.models import Contact, Conversation, Message, Report
from webhooks.console import auth, bp
from webhooks.console.params import ID

LIVE_LIMIT = 100
TRANSCRIPT_LIMIT = 300
REFRESH_SECONDS = 10
# Draft fields shown to staff: what the report will say (never the contact details).
DRAFT_FIELDS = ("service_name", "service_code", "address", "description", "media")


def pseudonym(contact: Contact | None) -> str:
    """The contact's pseudonym (bot.personal_data.pseudonym, from the stored keyed hash)."""
    if contact is None or not contact.address_key:
        return "forgotten"
    return "c-" + contact.address_key[:10]


def state_name(conversation: Conversation) -> str:
    """The engine state the conversation is in."""
    return str((conversation.state or {}).get("name") or "idle")


@bp.get("/")
@auth.require("viewer")
def live():
    """Conversations waiting for a person, then those an agent has, then the latest."""
    order = case(
        (Conversation.handoff == "waiting", 0), (Conversation.handoff == "agent", 1), else_=2
    )
    with session_scope() as session:
        found = session.exec(
            select(Conversation, Contact)
            .join(Contact, Contact.id == Conversation.contact_id)
            .order_by(order, col(Conversation.updated_at).desc(), col(Conversation.id).desc())
            .limit(LIVE_LIMIT)
        ).all()
        ids = [c.id for c, _ in found]
        last = (
            dict(
                session.exec(
                    select(Message.conversation_id, func.max(Message.created_at))
                    .where(col(Message.conversation_id).in_(ids))
                    .group_by(Message.conversation_id)
                ).all()
            )
            if ids
            else {}
        )
    rows = [
        {
            "id": conversation.id,
            "channel": contact.channel,
            "who": pseudonym(contact),
            "state": state_name(conversation),
            "handoff": conversation.handoff,
            "handoff_by": conversation.handoff_by,
            "last": last.get(conversation.id) or conversation.updated_at,
        }
        for conversation, contact in found
    ]
    return render_template("console/live.html", rows=rows, refresh=REFRESH_SECONDS)


@bp.get(f"/conversations/<{ID}:conversation_id>")
@auth.require("viewer")
def conversation(conversation_id: int):
    """One conversation: its transcript, state, draft and handoff."""
    with session_scope() as session:
        found = session.get(Conversation, conversation_id)
        if found is None:
            abort(404)
        contact = session.get(Contact, found.contact_id)
        messages = list(
            session.exec(
                select(Message)
                .where(Message.conversation_id == conversation_id)
                .order_by(col(Message.created_at).desc(), col(Message.id).desc())
                .limit(TRANSCRIPT_LIMIT)
            ).all()
        )[::-1]
        reports = list(
            session.exec(
                select(Report)
                .where(Report.conversation_id == conversation_id)
                .order_by(col(Report.id).desc())
            ).all()
        )
    draft = (found.state or {}).get("draft") or {}
    summary = [(key, draft[key]) for key in DRAFT_FIELDS if draft.get(key)]
    return render_template(
        "console/conversation.html",
        conversation=found,
        contact=contact,
        who=pseudonym(contact),
        # A resident's address only here, and only to those who may answer them.
        address=(contact.address if contact and auth.may("agent") else None),
        state=state_name(found),
        summary=summary,
        messages=messages,
        reports=reports,
    )


def _handoff_step(conversation_id: int, step, *args, done: str):
    try:
        step(conversation_id, *args)
    except handoff.HandoffError as exc:
        flash(str(exc), "error")
    else:
        flash(done, "ok")
    return redirect(url_for("console.conversation", conversation_id=conversation_id))


@bp.post(f"/conversations/<{ID}:conversation_id>/take")
@auth.require("agent")
def take(conversation_id: int):
    """Take the conversation over: the bot stays quiet until it is handed back."""
    return _handoff_step(
        conversation_id,
        handoff.take_over,
        auth.current().username,
        done="You have this conversation; the bot stays quiet until you hand it back.",
    )


@bp.post(f"/conversations/<{ID}:conversation_id>/reply")
@auth.require("agent")
def reply(conversation_id: int):
    """Send the resident a reply through their channel."""
    text = request.form.get("text", "")
    return _handoff_step(
        conversation_id,
        lambda cid, staff_name: handoff.agent_reply(cid, text, staff_name),
        auth.current().username,
        done="Reply queued.",
    )


@bp.post(f"/conversations/<{ID}:conversation_id>/handback")
@auth.require("agent")
def handback(conversation_id: int):
    """Give the conversation back to the bot (the agent who has it, or an admin)."""
    return _handoff_step(
        conversation_id,
        handoff.hand_back,
        auth.current().username,
        auth.may("admin"),
        done="Handed back to the bot.",
    )
