"""Parsing announces and scrapes from the raw query string: bytes survive, refusals are exact."""

from __future__ import annotations

from urllib.parse import quote_from_bytes

import pytest

from distributor.tracker import errors
from distributor.tracker.errors import TrackerFailure
from distributor.tracker.query import parse_announce, parse_query, parse_scrape

HASH = bytes(range(236, 256))  # not UTF-8, has bytes a framework would mangle
PEER = b"-XX0001-" + bytes([0, 0xFF, 0x80, 0x25, 0x26, 0x3D, 0x2B, 0x20, 1, 2, 3, 4])


def q(value: bytes) -> str:
    return quote_from_bytes(value, safe="")


def announce_query(**fields: object) -> bytes:
    base: dict[str, object] = {
        "info_hash": HASH,
        "peer_id": PEER,
        "port": 6881,
        "uploaded": 0,
        "downloaded": 0,
        "left": 100,
    }
    base.update(fields)
    parts = []
    for key, value in base.items():
        if value is None:
            continue
        text = q(value) if isinstance(value, bytes) else q(str(value).encode())
        parts.append(f"{key}={text}")
    return "&".join(parts).encode()


def test_raw_bytes_survive_percent_decoding() -> None:
    request = parse_announce(announce_query(event="started", key=b"k\x00y", numwant=10))
    assert request.info_hash == HASH
    assert request.peer_id == PEER
    assert (request.port, request.left, request.event, request.numwant) == (
        6881,
        100,
        "started",
        10,
    )
    assert request.key == b"k\x00y"
    assert request.compact is True


def test_plus_is_a_space_and_literal_bytes_pass() -> None:
    assert parse_query(b"a=x+y&b=%2B&c") == {"a": [b"x y"], "b": [b"+"], "c": [b""]}


def test_defaults_and_flags() -> None:
    request = parse_announce(announce_query(compact=0, no_peer_id=1, uploaded=None))
    assert request.compact is False
    assert request.no_peer_id is True
    assert request.uploaded == 0
    assert request.numwant is None


def test_huge_numwant_is_kept_for_the_tracker_to_clamp() -> None:
    assert parse_announce(announce_query(numwant="9" * 40)).numwant == (1 << 63) - 1


def test_paused_is_a_regular_announce() -> None:
    assert parse_announce(announce_query(event="paused")).event == ""


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        (announce_query(info_hash=None), errors.MISSING_INFO_HASH),
        (announce_query(info_hash=HASH[:19]), errors.BAD_INFO_HASH),
        (announce_query(info_hash=HASH + b"x"), errors.BAD_INFO_HASH),
        (announce_query() + b"&info_hash=" + q(HASH).encode(), errors.SEVERAL_INFO_HASHES),
        (announce_query(peer_id=None), errors.MISSING_PEER_ID),
        (announce_query(peer_id=b"short"), errors.BAD_PEER_ID),
        (announce_query(port=None), errors.MISSING_PORT),
        (announce_query(port=0), errors.BAD_PORT),
        (announce_query(port=65536), errors.BAD_PORT),
        (announce_query(port="http"), errors.BAD_PORT),
        (announce_query(port=-1), errors.BAD_PORT),
        (announce_query(left=None), "missing left"),
        (announce_query(left="x"), "invalid left"),
        (announce_query(left=-5), "invalid left"),
        (announce_query(uploaded="1e9"), "invalid uploaded"),
        (announce_query(downloaded=str(1 << 64)), "invalid downloaded"),
        (announce_query(numwant="lots"), "invalid numwant"),
        (announce_query(numwant=-1), "invalid numwant"),
        (announce_query(compact=2), "invalid compact"),
        (announce_query(event="finished"), errors.BAD_EVENT),
        (b"info_hash=%zz", errors.MALFORMED_QUERY),
        (b"info_hash=%4", errors.MALFORMED_QUERY),
        (b"%ff=1", errors.MALFORMED_QUERY),
        (b"&".join([b"a=1"] * 1100), errors.MALFORMED_QUERY),
    ],
)
def test_refusals_carry_exact_reasons(query: bytes, reason: str) -> None:
    with pytest.raises(TrackerFailure) as caught:
        parse_announce(query)
    assert caught.value.reason == reason


def test_scrape_hashes_in_order_without_duplicates() -> None:
    other = b"\x01" * 20
    raw = f"info_hash={q(HASH)}&info_hash={q(other)}&info_hash={q(HASH)}".encode()
    assert parse_scrape(raw) == [HASH, other]
    assert parse_scrape(b"") == []
    with pytest.raises(TrackerFailure) as caught:
        parse_scrape(b"info_hash=abc")
    assert caught.value.reason == errors.BAD_INFO_HASH
