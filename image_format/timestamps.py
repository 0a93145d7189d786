"""UTC timestamps as manifests write them: RFC 3339, second precision, `Z`.

Standard library only and no `_strptime` (which loads `locale` and `calendar`): the fetcher's
cache-hit fast path and every fetch parse a manifest's expiry, and their start-up is paid by
every task on a host.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_TIMESTAMP = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")


def utc_timestamp(moment: datetime | None = None) -> str:
    """An RFC 3339 UTC timestamp with second precision, e.g. 2026-11-25T00:54:28Z."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc_timestamp(text: str) -> datetime:
    """Parse a timestamp written by `utc_timestamp` (exactly that form: zero-padded fields, `Z`);
    raises ValueError for anything else, including impossible dates and times."""
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise ValueError(f"not a UTC timestamp like 2026-11-25T00:54:28Z: {text!r}")
    year, month, day, hour, minute, second = (int(field) for field in match.groups())
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
