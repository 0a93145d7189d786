"""`image_format.timestamps`: the manifest's UTC timestamps, written and read back exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from image_format.timestamps import parse_utc_timestamp, utc_timestamp


def test_round_trip_at_second_precision() -> None:
    moment = datetime(2026, 11, 25, 21, 6, 46, 999_000, tzinfo=UTC)
    text = utc_timestamp(moment)
    assert text == "2026-11-25T21:06:46Z"
    assert parse_utc_timestamp(text) == moment.replace(microsecond=0)
    assert parse_utc_timestamp(text).tzinfo is UTC


def test_a_moment_in_another_zone_is_written_in_utc() -> None:
    moment = datetime(2026, 11, 25, 23, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    assert utc_timestamp(moment) == "2026-11-25T21:00:00Z"


@pytest.mark.parametrize(
    "text",
    [
        "2026-1-5T01:02:03Z",  # not zero-padded
        "2026-11-25T21:06:46",  # no zone
        "2026-11-25T21:06:46+00:00",
        "2026-11-25T21:06:46.5Z",
        "2026-11-25 21:06:46Z",
        "2026-13-01T00:00:00Z",  # no 13th month
        "2026-02-30T00:00:00Z",
        "2026-11-25T24:00:00Z",
        "2026-11-25T21:06:60Z",
        "\uff12\uff10\uff12\uff16-11-25T21:06:46Z",  # digits, but not ASCII ones
        " 2026-11-25T21:06:46Z",
        "",
    ],
)
def test_anything_else_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_utc_timestamp(text)
