"""The tracker over a real `distributor serve`: announces and scrapes with raw bytes, refusals
as bencoded failures with HTTP 200, a version published while running, and peer expiry."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from distributor.tracker import errors
from image_format.bencode import bdecode
from tests.fixtures.distributor_server import RunningDistributor, running_distributor
from tests.tracker_helpers import (
    announce,
    announce_raw,
    peer_id,
    published_torrent,
    scrape,
    tracker_hash,
)

FAST = {
    "DISTRIBUTOR_TRACKER_INTERVAL_SECONDS": "1",
    "DISTRIBUTOR_TRACKER_PEER_GRACE_SECONDS": "0.5",
    "DISTRIBUTOR_TRACKER_CLIENT_MIN_ANNOUNCE_SECONDS": "0",
    "DISTRIBUTOR_TRACKER_CATALOG_REFRESH_MIN_SECONDS": "0",
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningDistributor]:
    with running_distributor(tmp_path / "distributor", extra_env=FAST) as running:
        yield running


def compact(blob: bytes) -> list[tuple[str, int]]:
    return [
        (".".join(str(b) for b in blob[i : i + 4]), int.from_bytes(blob[i + 4 : i + 6]))
        for i in range(0, len(blob), 6)
    ]


def test_announce_and_scrape_over_http(server: RunningDistributor, tmp_path: Path) -> None:
    ref = published_torrent(server, tmp_path, "tracked", "1")
    info_hash = tracker_hash(ref)
    first = announce(server.url, info_hash, 1, left=0, ip="10.1.0.1", event="started")
    assert (first[b"complete"], first[b"incomplete"], first[b"interval"]) == (1, 0, 1)
    second = announce(server.url, info_hash, 2, ip="10.1.0.2", event="started")
    assert compact(second[b"peers"]) == [("10.1.0.1", 6001)]
    done = announce(server.url, info_hash, 2, left=0, ip="10.1.0.2", event="completed")
    assert (done[b"complete"], done[b"incomplete"]) == (2, 0)
    files = scrape(server.url, info_hash)[b"files"]
    assert files == {info_hash: {b"complete": 2, b"incomplete": 0, b"downloaded": 1}}
    if ref.info_hash_v1 and ref.info_hash_v2:  # a hybrid: the v2 hash reaches the same swarm
        v2 = bytes.fromhex(ref.info_hash_v2)[:20]
        via_v2 = announce(server.url, v2, 3, ip="10.1.0.3")
        assert (via_v2[b"complete"], via_v2[b"incomplete"]) == (2, 1)
        assert scrape(server.url, v2)[b"files"][v2][b"incomplete"] == 1


def test_malformed_announces_get_bencoded_failures(
    server: RunningDistributor, tmp_path: Path
) -> None:
    info_hash = tracker_hash(published_torrent(server, tmp_path, "strict", "1"))
    good = {"info_hash": info_hash, "peer_id": peer_id(1), "port": 6881, "left": 5}
    cases = [
        ({**good, "info_hash": None}, errors.MISSING_INFO_HASH),
        ({**good, "info_hash": info_hash[:10]}, errors.BAD_INFO_HASH),
        ({**good, "info_hash": b"\x00" * 20}, errors.UNKNOWN_INFO_HASH),
        ({**good, "port": 0}, errors.BAD_PORT),
        ({**good, "port": "http"}, errors.BAD_PORT),
        ({**good, "port": None}, errors.MISSING_PORT),
        ({**good, "peer_id": b"x"}, errors.BAD_PEER_ID),
        ({**good, "event": "exploded"}, errors.BAD_EVENT),
        ({**good, "left": "lots"}, "invalid left"),
    ]
    for fields, reason in cases:
        answer = announce_raw(server.url, **fields)
        assert answer.status_code == 200, (fields, answer.text)
        assert answer.headers["content-type"].startswith("text/plain")
        # when to try again: FAST's 1 s interval
        retry = {b"interval": 1}
        assert bdecode(answer.content) == {b"failure reason": reason.encode(), **retry}, fields
    huge = announce_raw(server.url, **good, numwant="9" * 30)  # clamped, not refused
    body = bdecode(huge.content)
    assert isinstance(body, dict) and b"failure reason" not in body
    assert body[b"incomplete"] == 1


def test_a_version_published_while_running_is_tracked(
    server: RunningDistributor, tmp_path: Path
) -> None:
    announce(server.url, b"\x01" * 20, 1)  # the server has read its catalog already
    info_hash = tracker_hash(published_torrent(server, tmp_path, "late", "7"))
    assert b"failure reason" not in announce(server.url, info_hash, 1)


def test_silent_peers_expire(server: RunningDistributor, tmp_path: Path) -> None:
    info_hash = tracker_hash(published_torrent(server, tmp_path, "expiring", "1"))
    announce(server.url, info_hash, 1, ip="10.2.0.1")
    announce(server.url, info_hash, 2, ip="10.2.0.2", left=0)
    assert scrape(server.url, info_hash)[b"files"][info_hash][b"incomplete"] == 1
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # ttl = 2 x 1 s + 0.5 s
        time.sleep(0.5)
        announce(server.url, info_hash, 2, ip="10.2.0.2", left=0)  # the seeder stays
        counts = scrape(server.url, info_hash)[b"files"][info_hash]
        if counts[b"incomplete"] == 0:
            break
    assert (counts[b"complete"], counts[b"incomplete"]) == (1, 0)
