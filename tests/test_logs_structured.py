"""Structured logs (issue 20): JSON lines or readable text, scrubbed alike, and one trace id from
a webhook through the turn, the submission and the send it leads to (bot.logs, bot.trace)."""

from __future__ import annotations

import json
import logging

import pytest
from rq import Queue

from bot import logs, queue, trace
from bot.personal_data import pseudonym
from bot.settings import Settings
from tests.conftest import PUBLIC_BASE_URL, TWILIO_TOKEN, run_jobs
from tests.test_end_to_end import only_report, returning_resident
from tests.twilio_signing import sign
from tests.twilio_webhooks import sms_form
from webhooks import create_app

RESIDENT = "+13125550142"
SECRET = "a-configured-secret-for-the-json-test-0123456789"


class Lines(logging.Handler):
    """Every record at INFO and above, formatted as a process would print it."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def parsed(self) -> list[dict]:
        return [json.loads(line) for line in self.lines]

    def events(self, event: str) -> list[dict]:
        return [line for line in self.parsed() if line.get("event") == event]


@pytest.fixture
def json_lines():
    handler = Lines(logs.JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def logger():
    logs.install(Settings(admin_token=SECRET))
    logger = logging.getLogger("intake311.test.structured")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger
    logger.handlers.clear()
    logger.propagate = True
    logger.setLevel(logging.NOTSET)
    logs.install(Settings())


def _one(logger: logging.Logger, formatter: logging.Formatter) -> Lines:
    handler = Lines(formatter)
    logger.addHandler(handler)
    return handler


# --- the formats --------------------------------------------------------------------------


def test_a_json_line_has_the_records_fields_and_its_trace(logger):
    lines = _one(logger, logs.JsonFormatter())
    with trace.bound("ab12cd34ef"):
        logger.info("send of message %s: %s", 42, "sent", extra=logs.fields(event="send", ms=3.5))
    logger.warning("no trace here")
    [first, second] = lines.lines
    line = json.loads(first)
    assert line["ts"].endswith("Z") and line["ts"][:2] == "20"
    assert (line["level"], line["logger"]) == ("INFO", "intake311.test.structured")
    assert line["msg"] == "send of message 42: sent"
    assert line["trace"] == "ab12cd34ef"
    assert (line["event"], line["ms"]) == ("send", 3.5)
    assert "trace" not in json.loads(second)
    assert trace.current() is None  # cleared after the block


def test_json_lines_mask_secrets_and_phone_numbers_everywhere(logger):
    lines = _one(logger, logs.JsonFormatter())
    logger.info("texting %s with %s", RESIDENT, SECRET, extra=logs.fields(error=f"to {RESIDENT}"))
    logger.info(f"raw {RESIDENT} and {SECRET}\nforged line")
    try:
        raise ValueError(f"Twilio refused {RESIDENT} using {SECRET}")
    except ValueError:
        logger.exception("send failed\nagain")
    assert len(lines.lines) == 3
    for raw in lines.lines:
        assert "\n" not in raw  # one record, one line
        assert RESIDENT not in raw and RESIDENT[2:] not in raw and SECRET not in raw
        json.loads(raw)
    first, second, third = (json.loads(raw) for raw in lines.lines)
    assert first["msg"] == f"texting {logs.MASK} with {logs.SECRET_MASK}"
    assert first["error"] == f"to {logs.MASK}"
    assert "\\n" in second["msg"]  # escaped, not a second line
    assert "ValueError" in third["exc"] and logs.MASK in third["exc"]
    assert logs.SECRET_MASK in third["exc"]


def test_the_text_format_appends_the_fields_and_the_trace(logger):
    lines = _one(logger, logs.TextFormatter())
    with trace.bound("tr4ce01"):
        logger.info(
            "turn of conversation %s",
            7,
            extra=logs.fields(event="turn", message=9, outcome="answered", error=f"to {RESIDENT}"),
        )
    [line] = lines.lines
    assert " INFO intake311.test.structured: turn of conversation 7 " in line
    assert line.endswith(
        f'event=turn message=9 outcome=answered error="to {logs.MASK}" trace=tr4ce01'
    )
    logger.info("plain")
    assert lines.lines[-1].endswith("intake311.test.structured: plain")  # as before


def test_log_format_follows_env_unless_given():
    assert Settings(env="production").log_format == "json"
    assert Settings(env="development").log_format == "text"
    assert Settings(env="production", log_format="TEXT").log_format == "text"
    assert Settings(log_level="debug").log_level == "DEBUG"
    assert isinstance(logs.formatter_for(Settings(log_format="json")), logs.JsonFormatter)
    assert isinstance(logs.formatter_for(Settings()), logs.TextFormatter)
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        Settings(log_format="yaml")
    with pytest.raises(ValueError, match="LOG_LEVEL"):
        Settings(log_level="loud")


# --- the id -------------------------------------------------------------------------------


def test_a_providers_request_id_is_taken_only_when_sane():
    assert trace.from_headers({"x-request-id": "5f2b0c1e-aa41-4c6e-9d0f-3b8f3c2d1e0a"}) == (
        "5f2b0c1e-aa41-4c6e-9d0f-3b8f3c2d1e0a"
    )
    assert trace.from_headers({"i-twilio-idempotency-token": "abc-123-def"}) == "abc-123-def"
    phone_like = ["1-555-123-4567", "555.123.4567", "+1-312-555-0142"]
    for bad in ["has space", "line\nbreak", "x" * 200, "13125550142", "", "ab", *phone_like]:
        made = trace.from_headers({"x-request-id": bad})
        assert made != bad and trace.sane(made) == made
    assert trace.new_id() != trace.new_id()


noted: list[str | None] = []


def note_trace() -> None:
    """A job that notes the trace id it runs under."""
    noted.append(trace.current())


def note_and_queue() -> None:
    """A job that notes its trace id and queues `note_trace`."""
    noted.append(trace.current())
    queue.enqueue("tests.test_logs_structured.note_trace")


def test_jobs_carry_the_trace_id_they_were_queued_under(env):
    noted.clear()
    with trace.bound("from-webhook-1"):
        queue.enqueue("tests.test_logs_structured.note_and_queue")
    # Queued without one (as cron queues its jobs): the job starts its own.
    Queue(queue.queue_name(), connection=queue.get_redis()).enqueue(
        "tests.test_logs_structured.note_trace"
    )
    run_jobs()
    assert noted[0] == "from-webhook-1"
    assert "from-webhook-1" in noted[1:]  # queued by the job: the same id
    [own] = [value for value in noted if value != "from-webhook-1"]
    assert own and trace.sane(own) == own
    assert trace.current() is None  # the worker cleared it after each job


# --- a message's way, end to end ----------------------------------------------------------


def _text(client, body: str, request_id: str | None = None):
    form = sms_form(body, RESIDENT)
    headers = {"X-Twilio-Signature": sign(PUBLIC_BASE_URL + "/webhooks/twilio", form, TWILIO_TOKEN)}
    if request_id:
        headers["X-Request-Id"] = request_id
    response = client.post("/webhooks/twilio", data=form, headers=headers)
    run_jobs()
    return response


def test_one_trace_from_the_webhook_to_the_turn_the_submission_and_the_send(
    env, twilio_api, json_lines
):
    client = create_app({"TESTING": True}).test_client()
    returning_resident(f"tel:{RESIDENT}", "sms")
    response = _text(client, "hi", request_id="router-req-0001")
    assert response.status_code == 200
    assert response.headers["X-Request-Id"] == "router-req-0001"

    [webhook] = json_lines.events("webhook")
    assert webhook["trace"] == "router-req-0001"
    assert (webhook["channel"], webhook["outcome"], webhook["status"]) == ("sms", "accepted", 200)
    assert webhook["ms"] >= 0 and webhook["level"] == "INFO"
    [turn] = json_lines.events("turn")
    assert turn["trace"] == "router-req-0001"
    assert turn["outcome"] == "answered" and turn["kind"] == "message"
    assert isinstance(turn["conversation"], int) and isinstance(turn["message"], int)
    sends = json_lines.events("send")
    assert sends and all(line["trace"] == "router-req-0001" for line in sends)
    assert {(line["channel"], line["outcome"]) for line in sends} == {("sms", "sent")}
    assert all(isinstance(line["message"], int) for line in sends)

    # Through to the city: the submission carries the trace of the webhook that confirmed it.
    for body in ["1", "120 main st", "Crater beside the bakery", "crosswalk"]:
        _text(client, body)
    json_lines.lines.clear()
    confirmed = _text(client, "YES")
    assert only_report().service_request_id
    [submission] = json_lines.events("submission")
    assert submission["trace"] == confirmed.headers["X-Request-Id"]  # a new id: no header sent
    assert submission["outcome"] == "submitted" and submission["report"] == only_report().id
    assert {line["trace"] for line in json_lines.events("send")} == {submission["trace"]}

    everything = "\n".join(json_lines.lines)
    assert RESIDENT not in everything and RESIDENT[2:] not in everything
    assert "Crater beside the bakery" not in everything


def test_a_forged_webhook_is_one_warning_line_with_its_trace(env, json_lines):
    client = create_app({"TESTING": True}).test_client()
    response = client.post(
        "/webhooks/twilio",
        data=sms_form("hi", RESIDENT),
        headers={"X-Twilio-Signature": "forged", "X-Request-Id": "forged-0001"},
    )
    assert response.status_code == 403
    assert response.headers["X-Request-Id"] == "forged-0001"
    [line] = json_lines.events("webhook")
    assert (line["outcome"], line["status"], line["level"]) == ("forged", 403, "WARNING")
    assert line["trace"] == "forged-0001" and "signature" in line["reason"]
    assert pseudonym(f"tel:{RESIDENT}") not in line["msg"]  # nobody named: not stored


def test_a_failed_turn_logs_the_type_and_where_never_the_message(env, twilio_api, json_lines):
    from bot.jobs import turns

    def broken(*_args, **_kwargs):
        raise ValueError("no such place as 742 Evergreen Terrace")  # the resident's words

    client = create_app({"TESTING": True}).test_client()
    returning_resident(f"tel:{RESIDENT}", "sms")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(turns, "_run_engine", broken)
        _text(client, "hi")
    [turn] = json_lines.events("turn")
    assert turn["outcome"] == "failed" and turn["level"] == "ERROR"
    assert turn["exc"].startswith("ValueError at ") and "test_logs_structured.py:" in turn["exc"]
    assert "bot/jobs/turns.py:" in turn["exc"]
    assert "Evergreen" not in "\n".join(json_lines.lines)


def test_a_citys_refusal_is_logged_by_status_and_codes_not_its_words():
    from bot.jobs.submission import _described
    from bot.open311.errors import Open311Error

    refused = Open311Error(
        "400: 742 Evergreen Terrace is not in the city",
        retryable=False,
        status_code=400,
        errors=[{"code": 400, "description": "742 Evergreen Terrace is not in the city"}],
    )
    assert _described(refused) == "Open311Error: status 400; codes 400"


def test_an_int_field_of_seven_digits_or_more_is_masked(logger):
    lines = _one(logger, logs.JsonFormatter())
    logger.info("sent", extra=logs.fields(message=42, ms=3, caller=3125550142, big=1234567))
    line = json.loads(lines.lines[0])
    assert (line["message"], line["ms"]) == (42, 3)
    assert line["caller"] == logs.MASK and line["big"] == logs.MASK


def test_our_row_ids_stay_whole_past_a_million(logger):
    lines = _one(logger, logs.JsonFormatter())
    logger.info("sent", extra=logs.fields(message=12_345_678, report=2_000_001, chat=3125550142))
    line = json.loads(lines.lines[0])
    assert (line["message"], line["report"]) == (12_345_678, 2_000_001)
    assert line["chat"] == logs.MASK  # not one of ours: may be a phone number or a chat id
