"""Parsing tracker requests from the RAW query string (BEP 3 announce, BEP 48 scrape).

`info_hash` and `peer_id` are 20 arbitrary bytes, percent-encoded; a web framework would decode
them as UTF-8 and mangle them, so the route hands this module the undecoded query bytes.

Not responsible for deciding whether a hash is known, for the client's address, nor for bounding
`numwant` (the tracker does all three). Error contract: `TrackerFailure` with one of the reasons
in `distributor.tracker.errors`, nothing else.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote_to_bytes

from distributor.tracker import errors
from distributor.tracker.errors import TrackerFailure

Event = Literal["started", "completed", "stopped", ""]
HASH_BYTES = 20
MAX_PARAMETERS = 1024
MAX_COUNTER = (1 << 63) - 1
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_EVENTS: dict[bytes, Event] = {
    b"": "",
    b"started": "started",
    b"completed": "completed",
    b"stopped": "stopped",
    b"paused": "",  # BEP 21: a partial seed pausing is a regular announce here
}

Params = dict[str, list[bytes]]


@dataclass(frozen=True)
class AnnounceRequest:
    """One announce as the client sent it; `numwant` None means "the tracker's default"."""

    info_hash: bytes
    peer_id: bytes
    port: int
    uploaded: int = 0
    downloaded: int = 0
    left: int = 0
    event: Event = ""
    compact: bool = True
    no_peer_id: bool = False
    numwant: int | None = None
    ip: str | None = None
    key: bytes | None = None


def parse_query(raw: bytes) -> Params:
    """`a=1&b=%00` → `{"a": [b"1"], "b": [b"\\x00"]}`; keys are ASCII, values raw bytes."""
    params: Params = defaultdict(list)
    parts = [part for part in raw.split(b"&") if part]
    if len(parts) > MAX_PARAMETERS:
        raise TrackerFailure(errors.MALFORMED_QUERY)
    for part in parts:
        key, _, value = part.partition(b"=")
        if _BAD_ESCAPE.search(part):
            raise TrackerFailure(errors.MALFORMED_QUERY)
        name = unquote_to_bytes(key.replace(b"+", b" "))
        if not name.isascii():
            raise TrackerFailure(errors.MALFORMED_QUERY)
        params[name.decode("ascii")].append(unquote_to_bytes(value.replace(b"+", b" ")))
    return dict(params)


def _one(params: Params, field: str) -> bytes | None:
    values = params.get(field)
    return values[0] if values else None


def _number(params: Params, field: str, *, required: bool = False) -> int:
    value = _one(params, field)
    if value is None:
        if required:
            raise TrackerFailure(errors.missing(field))
        return 0
    if not value.isdigit() or len(value) > 19 or int(value) > MAX_COUNTER:
        raise TrackerFailure(errors.bad_number(field))
    return int(value)


def _numwant(params: Params) -> int | None:
    value = _one(params, "numwant")
    if value is None or value == b"":
        return None
    if not value.isdigit() or len(value) > 64:
        raise TrackerFailure(errors.bad_number("numwant"))
    return min(int(value), MAX_COUNTER)


def _hash(value: bytes | None, missing: str, bad: str) -> bytes:
    if value is None:
        raise TrackerFailure(missing)
    if len(value) != HASH_BYTES:
        raise TrackerFailure(bad)
    return value


def parse_announce(raw: bytes) -> AnnounceRequest:
    params = parse_query(raw)
    if len(params.get("info_hash", [])) > 1:
        raise TrackerFailure(errors.SEVERAL_INFO_HASHES)
    info_hash = _hash(_one(params, "info_hash"), errors.MISSING_INFO_HASH, errors.BAD_INFO_HASH)
    peer_id = _hash(_one(params, "peer_id"), errors.MISSING_PEER_ID, errors.BAD_PEER_ID)
    port_text = _one(params, "port")
    if port_text is None:
        raise TrackerFailure(errors.MISSING_PORT)
    if not port_text.isdigit() or len(port_text) > 5 or not 0 < int(port_text) < 65536:
        raise TrackerFailure(errors.BAD_PORT)
    event = _EVENTS.get(_one(params, "event") or b"")
    if event is None:
        raise TrackerFailure(errors.BAD_EVENT)
    compact = _one(params, "compact")
    if compact not in (None, b"0", b"1"):
        raise TrackerFailure(errors.bad_number("compact"))
    ip = _one(params, "ip")
    return AnnounceRequest(
        info_hash=info_hash,
        peer_id=peer_id,
        port=int(port_text),
        uploaded=_number(params, "uploaded"),
        downloaded=_number(params, "downloaded"),
        left=_number(params, "left", required=True),
        event=event,
        compact=compact != b"0",
        no_peer_id=_one(params, "no_peer_id") == b"1",
        numwant=_numwant(params),
        ip=ip.decode("latin-1") if ip else None,
        key=_one(params, "key"),
    )


def parse_scrape(raw: bytes) -> list[bytes]:
    """The info-hashes asked for, in order, duplicates dropped; empty means "every swarm"."""
    hashes: dict[bytes, None] = {}
    for value in parse_query(raw).get("info_hash", []):
        hashes[_hash(value, errors.MISSING_INFO_HASH, errors.BAD_INFO_HASH)] = None
    return list(hashes)
