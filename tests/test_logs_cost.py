"""A log record nothing prints costs no formatting; one a handler takes is still scrubbed."""

from __future__ import annotations

import logging

import pytest

from bot import logs


class Counted:
    """An argument that counts how often it is formatted."""

    def __init__(self) -> None:
        self.times = 0

    def __str__(self) -> str:
        self.times += 1
        return "+13125550142"


@pytest.fixture
def logger():
    logs.install()
    logger = logging.getLogger("intake311.test.cost")
    saved = logger.handlers[:]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger
    logger.handlers[:] = saved
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


class Keep(logging.Handler):
    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_record_below_every_handlers_level_is_not_formatted(logger):
    logger.handlers[:] = [Keep(logging.WARNING)]  # pytest's capturing handlers set aside
    argument = Counted()
    logger.debug("texted by %s", argument)
    assert argument.times == 0


def test_a_record_without_a_handler_on_its_way_is_not_formatted(logger):
    logger.handlers[:] = []
    argument = Counted()
    logger.info("texted by %s", argument)  # below logging's last resort (WARNING)
    assert argument.times == 0


def test_a_record_a_handler_takes_is_scrubbed_once(logger):
    kept = Keep(logging.DEBUG)
    logger.handlers[:] = [kept]
    argument = Counted()
    logger.debug("texted by %s", argument)
    assert argument.times == 1
    assert [r.getMessage() for r in kept.records] == [f"texted by {logs.MASK}"]


def test_a_record_for_a_parents_handler_is_scrubbed(logger):
    kept = Keep(logging.INFO)
    logger.propagate = True
    parent = logging.getLogger("intake311.test")
    parent.addHandler(kept)
    try:
        logging.getLogger("intake311.test.cost.child").warning("from %s", "+13125550142")
    finally:
        parent.removeHandler(kept)
    assert [r.getMessage() for r in kept.records] == [f"from {logs.MASK}"]
