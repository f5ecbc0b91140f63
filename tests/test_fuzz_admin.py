"""Fuzzing the staff pages (issue #15): GET /admin/failures and POST /admin/failures/retry with
any method, credentials, query, Accept header and body, on SQLite and PostgreSQL, with work
given up on waiting to be retried before every input.

Properties: never a 500; nothing but a 401 (or 404, 405) without the token, and never a retry;
with the token a retry is a 200 or a clear 400, and retries only the failures it names; each
input is handled within tests.fuzzing.SLOWEST_ALLOWED.
"""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import select

from bot.db import session_scope
from bot.intake import conversation_for
from bot.models import Direction, Message, MessageStatus, Report, ReportState
from bot.settings import get_settings
from tests.fuzzing import figures, fuzz_settings, header_text, hostile_text, json_values
from webhooks import create_app

TOKEN = "admin-fuzz-token-0123456789abcdef"
ROUTES = {("GET", "/admin/failures"), ("POST", "/admin/failures/retry")}
OTHER_CALLS = [
    ("POST", "/admin/failures"),
    ("GET", "/admin/failures/retry"),
    ("PUT", "/admin/failures/retry"),
    ("GET", "/admin/x"),
]


@pytest.fixture
def client(env, monkeypatch):
    monkeypatch.setenv("ADMIN_TOKEN", TOKEN)
    get_settings.cache_clear()
    return create_app({"TESTING": True}).test_client()


@pytest.fixture
def failures(client) -> list[str]:
    """A failed report, a failed send and a crashed turn: their names."""
    with session_scope() as session:
        conversation = conversation_for(session, "sms", "tel:+13125550142")
        ids = {"conversation_id": conversation.id, "contact_id": conversation.contact_id}
        report = Report(service_code="001", state=ReportState.FAILED, **ids)
        sent = Message(channel="sms", direction=Direction.OUT, status=MessageStatus.FAILED, **ids)
        turn = Message(channel="sms", direction=Direction.IN, status=MessageStatus.FAILED, **ids)
        session.add_all([report, sent, turn])
        session.flush()
        return [f"report:{report.id}", f"send:{sent.id}", f"turn:{turn.id}"]


def _fail_again() -> None:
    """Every retried failure failed again: each input finds work to retry."""
    with session_scope() as session:
        for report in session.exec(select(Report)):
            report.state = ReportState.FAILED
        for message in session.exec(select(Message)):
            message.status = MessageStatus.FAILED


@st.composite
def admin_calls(draw, names: list[str]):
    """A call to the staff pages: credentials right or not, any body, query and Accept."""
    auth = draw(
        st.sampled_from(["bearer", "bearer", "bearer", "basic", "wrong", "garbage", "none"])
    )
    headers = {
        "bearer": {"Authorization": f"Bearer {TOKEN}"},
        "basic": {"Authorization": "Basic " + base64.b64encode(f"x:{TOKEN}".encode()).decode()},
        "wrong": {"Authorization": f"Bearer {TOKEN}x"},
        "garbage": {"Authorization": draw(header_text())},
        "none": {},
    }[auth]
    if draw(st.booleans()):
        headers["Accept"] = draw(st.sampled_from(["application/json", "text/html", "*/*", "x"]))
    method, path = draw(st.sampled_from(sorted(ROUTES) * 4 + OTHER_CALLS))
    names_drawn = st.lists(st.one_of(st.sampled_from(names), hostile_text(max_size=20)), max_size=6)
    body_value = draw(
        st.one_of(
            st.fixed_dictionaries({"names": names_drawn}),
            st.fixed_dictionaries({"all": st.one_of(st.just(True), json_values(max_leaves=2))}),
            json_values(),
        )
    )
    body = (
        json.dumps(body_value).encode() if draw(st.integers(0, 6)) else draw(st.binary(max_size=60))
    )
    query = (
        {"format": draw(st.sampled_from(["json", "html", "\x00"]))} if draw(st.booleans()) else {}
    )
    return auth, method, path, headers, body, query


def test_fuzz_admin_endpoints(client, failures, env, request):
    database = request.node.callspec.params["env"]
    with figures(f"admin endpoints ({database})") as kept:

        @fuzz_settings(120)
        @given(call=admin_calls(failures))
        def one(call):
            auth, method, path, headers, body, query = call
            _fail_again()
            with kept.trying():
                response = client.open(
                    path,
                    method=method,
                    data=body,
                    query_string=query,
                    headers={**headers, "Content-Type": "application/json"},
                )
                status = response.status_code
                kept.outcome(status)
                assert status != 500 and status in {200, 400, 401, 404, 405, 413, 415}
                signed_in = auth == "bearer" or (auth == "basic" and method == "GET")
                route = (method, path) in ROUTES
                if not signed_in and route:
                    assert status == 401, (auth, method, path, status)
                if not route:
                    assert status in (404, 405)
                if path == "/admin/failures/retry" and method == "POST" and status == 200:
                    assert auth == "bearer"
                    answer = response.get_json()
                    assert set(answer["retried"]) <= set(failures)

        one()
