"""The console channel's front end: a person texting the bot from a terminal."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable

from sqlmodel import select

from bot.channels import console
from bot.channels.base import Inbound
from bot.db import session_scope
from bot.intake import receive
from bot.models import (
    Contact,
    Conversation,
    Direction,
    Message,
    MessageStatus,
    Report,
    ReportState,
)
from bot.personal_data import address_key

BUSY_REPORT_STATES = (ReportState.PENDING, ReportState.SUBMITTING, ReportState.AWAITING_NUMBER)


class ConsoleChat:
    """Sends typed lines as console messages and prints the bot's sent replies."""

    def __init__(self, name: str, write: Callable[[str], None], one_line: bool):
        self.address = console.address_for(name)
        self.write = write
        self.one_line = one_line
        self.last_seen = self._newest_outbound_id()
        self._printing = threading.Lock()

    def send(self, text: str) -> None:
        """Send one line as the resident."""
        receive(
            Inbound(
                channel=console.NAME,
                address=self.address,
                external_id=uuid.uuid4().hex,
                text=text,
            )
        )

    def print_new(self) -> int:
        """Print replies sent since the last call; return how many."""
        with self._printing:
            return self._print_new()

    def _print_new(self) -> int:
        with session_scope() as session:
            rows = session.exec(
                select(Message.id, Message.text)
                .join(Contact, Contact.id == Message.contact_id)
                .where(
                    Contact.address_key == address_key(self.address),
                    Message.direction == Direction.OUT,
                    Message.status.in_((MessageStatus.SENT, MessageStatus.DELIVERED)),
                    Message.id > self.last_seen,
                )
                .order_by(Message.id)
            ).all()
        for message_id, text in rows:
            self.last_seen = message_id
            self.write(" / ".join(text.splitlines()) if self.one_line else text)
        return len(rows)

    def busy(self) -> bool:
        """True while the bot still has work for this resident (a turn, a send, a filing)."""
        with session_scope() as session:
            contact = session.exec(
                select(Contact).where(Contact.address_key == address_key(self.address))
            ).first()
            if contact is None:
                return False
            waiting = session.exec(
                select(Message.id).where(
                    Message.contact_id == contact.id,
                    Message.status.in_((MessageStatus.PENDING, MessageStatus.SENDING)),
                )
            ).first()
            filing = session.exec(
                select(Report.id).where(
                    Report.contact_id == contact.id, Report.state.in_(BUSY_REPORT_STATES)
                )
            ).first()
            # A turn that asked the network (an address looked up) has processed its message
            # and answers in its follow-up: the bot is busy until that is answered too.
            following = session.exec(
                select(Conversation.id).where(
                    Conversation.contact_id == contact.id, Conversation.followup.is_not(None)
                )
            ).first()
            return waiting is not None or filing is not None or following is not None

    def settle(self, timeout: float) -> bool:
        """Print replies until the bot has nothing left to do; False if `timeout` ran out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = self.busy()
            self.print_new()
            if not busy:
                return True
            time.sleep(0.1)
        self.print_new()
        return False

    def _newest_outbound_id(self) -> int:
        with session_scope() as session:
            newest = session.exec(
                select(Message.id)
                .join(Contact, Contact.id == Message.contact_id)
                .where(
                    Contact.address_key == address_key(self.address),
                    Message.direction == Direction.OUT,
                )
                .order_by(Message.id.desc())
            ).first()
        return newest or 0


def run_script(chat: ConsoleChat, lines: Iterable[str], timeout: float) -> bool:
    """Send each line once the bot has settled; True if it always settled in time."""
    settled = True
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            continue
        chat.send(line)
        settled = chat.settle(timeout) and settled
    return settled


def terminal_line(text: str) -> None:
    """Print a reply at the start of a cleared terminal line (the prompt may be showing)."""
    sys.stdout.write("\r\033[K" + text + "\n")
    sys.stdout.flush()


def run_interactive(chat: ConsoleChat, prompt: str = "you> ") -> None:
    """Read lines from the terminal; print replies, including late status updates, as they come."""
    stop = threading.Event()

    def printer() -> None:
        # Late texts (a request number, a status update) arrive while the prompt waits:
        # print them above it, then show the prompt again.
        while not stop.is_set():
            if chat.print_new():
                sys.stdout.write(prompt)
                sys.stdout.flush()
            stop.wait(0.3)

    thread = threading.Thread(target=printer, daemon=True)
    thread.start()
    try:
        while True:
            try:
                line = input(prompt)
            except EOFError:
                break
            if line.strip().lower() in {"/quit", "/exit"}:
                break
            if line.strip():
                chat.send(line)
                chat.settle(30)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        thread.join(timeout=1)
        sys.stdout.write("\n")
