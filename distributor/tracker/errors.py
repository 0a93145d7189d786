"""The tracker's one error: a request it refuses, with the exact `failure reason` it answers.

Trackers answer refusals in the body (HTTP 200, `d14:failure reason...e`), because BitTorrent
clients read the body and show the reason; the route turns `TrackerFailure` into that body.
The reason strings below are the whole vocabulary, so clients and tests can rely on them.
"""

from __future__ import annotations

from distributor.errors import DistributorError

MALFORMED_QUERY = "malformed query string"
MISSING_INFO_HASH = "missing info_hash"
BAD_INFO_HASH = "info_hash must be 20 bytes"
SEVERAL_INFO_HASHES = "announce takes exactly one info_hash"
UNKNOWN_INFO_HASH = "unknown info_hash"
MISSING_PEER_ID = "missing peer_id"
BAD_PEER_ID = "peer_id must be 20 bytes"
MISSING_PORT = "missing port"
BAD_PORT = "invalid port"
BAD_EVENT = "invalid event"
BAD_IP = "invalid ip"
SWARM_FULL = "swarm is full"
TOO_MANY_INFO_HASHES = "too many info_hash parameters"


def missing(field: str) -> str:
    """The reason for a required parameter that is absent (`left`)."""
    return f"missing {field}"


def bad_number(field: str) -> str:
    """The reason for a missing-digits, negative or oversized `uploaded`/`left`/`numwant`/..."""
    return f"invalid {field}"


class TrackerFailure(DistributorError):
    """A tracker request refused with `reason`, one of the strings above."""

    code = "tracker_failure"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
