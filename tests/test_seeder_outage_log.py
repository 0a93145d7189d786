"""A failure that repeats every poll (the distributor down) is logged when it starts, as a
reminder while it lasts, and when it ends: not once per poll."""

from __future__ import annotations

import logging

import pytest

from seeder.outage_log import OutageLog


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_outage_is_logged_at_start_as_reminders_and_at_its_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    outage = OutageLog(logging.getLogger("t"), "the catalog", remind_seconds=60, clock=clock)
    with caplog.at_level(logging.WARNING, logger="t"):
        assert outage.succeeded() is False  # nothing was wrong: nothing to say
        for _ in range(130):  # a poll a second for 130 s
            outage.failed("connection refused")
            clock.now += 1
        assert outage.succeeded() is True  # the outage ended (the seeder announces again)
        assert outage.succeeded() is False
        outage.failed("timed out")  # a new outage starts its own count
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "cannot reach the catalog: connection refused",
        "still cannot reach the catalog after 60 s (61 failures): connection refused",
        "still cannot reach the catalog after 120 s (121 failures): connection refused",
        "the catalog is reachable again after 130 s (130 failures)",
        "cannot reach the catalog: timed out",
    ]
