"""The tracker over a fixed torrent index: bencoded answers, hybrid swarms, hand-out preference."""

from __future__ import annotations

import ipaddress
import random
from typing import Any
from urllib.parse import quote_from_bytes

import pytest

from distributor.tracker.config import TrackerConfig
from distributor.tracker.service import Tracker
from distributor.tracker.torrent_index import TorrentIndex
from image_format.bencode import bdecode
from image_format.manifest import TorrentRef

V1 = "11" * 20
V2 = "22" * 32
V1_HASH = bytes.fromhex(V1)
V2_HASH = bytes.fromhex(V2)[:20]
OTHER_V1 = "33" * 20
HYBRID = TorrentRef(sha256="a" * 64, size=10, info_hash_v1=V1, info_hash_v2=V2)
PLAIN = TorrentRef(sha256="b" * 64, size=10, info_hash_v1=OTHER_V1)


class Seeders:
    def __init__(self, *endpoints: tuple[str, int]) -> None:
        self.set = frozenset(endpoints)

    def endpoints(self) -> frozenset[tuple[str, int]]:
        return self.set


def make_tracker(**config: Any) -> Tracker:
    index = TorrentIndex([("img", "1", HYBRID), ("img", "2", PLAIN)])
    return Tracker(
        index,
        TrackerConfig(interval_seconds=5, **config),
        seeders=Seeders(("10.9.9.9", 7000)),
        rng=random.Random(3),
    )


def query(info_hash: bytes = V1_HASH, n: int = 1, **fields: object) -> bytes:
    values: dict[str, object] = {
        "info_hash": info_hash,
        "peer_id": b"-TT0001-%012d" % n,
        "port": 6000 + n,
        "uploaded": 0,
        "downloaded": 0,
        "left": 1,
        "compact": 1,
    }
    values.update(fields)
    return "&".join(
        f"{k}={quote_from_bytes(v if isinstance(v, bytes) else str(v).encode(), safe='')}"
        for k, v in values.items()
        if v is not None
    ).encode()


def answer(tracker: Tracker, raw: bytes, remote: str = "10.0.0.1") -> dict[bytes, Any]:
    decoded = bdecode(tracker.announce(raw, remote))
    assert isinstance(decoded, dict)
    return decoded


def compact_peers(blob: bytes, size: int) -> list[tuple[str, int]]:
    return [
        (
            str(ipaddress.ip_address(blob[i : i + size - 2])),
            int.from_bytes(blob[i + size - 2 : i + size]),
        )
        for i in range(0, len(blob), size)
    ]


def test_compact_answer_has_intervals_counts_and_peers() -> None:
    tracker = make_tracker()
    answer(tracker, query(n=1, left=0), "10.0.0.1")
    body = answer(tracker, query(n=2), "10.0.0.2")
    assert body[b"interval"] == 5
    assert body[b"min interval"] == 5
    assert (body[b"complete"], body[b"incomplete"]) == (1, 1)
    assert compact_peers(body[b"peers"], 6) == [("10.0.0.1", 6001)]
    assert body[b"peers6"] == b""


def test_ipv6_peers_go_to_peers6_and_mapped_addresses_become_ipv4() -> None:
    tracker = make_tracker()
    answer(tracker, query(n=1), "2001:db8::7")
    answer(tracker, query(n=2), "::ffff:10.0.0.2")
    body = answer(tracker, query(n=3), "10.0.0.3")
    assert compact_peers(body[b"peers6"], 18) == [("2001:db8::7", 6001)]
    assert compact_peers(body[b"peers"], 6) == [("10.0.0.2", 6002)]


def test_non_compact_lists_dictionaries() -> None:
    tracker = make_tracker()
    answer(tracker, query(n=1), "10.0.0.1")
    body = answer(tracker, query(n=2, compact=0), "10.0.0.2")
    assert body[b"peers"] == [
        {b"ip": b"10.0.0.1", b"peer id": b"-TT0001-000000000001", b"port": 6001}
    ]
    bare = answer(tracker, query(n=2, compact=0, no_peer_id=1), "10.0.0.2")
    assert bare[b"peers"] == [{b"ip": b"10.0.0.1", b"port": 6001}]


def test_both_hashes_of_a_hybrid_are_one_swarm() -> None:
    tracker = make_tracker()
    answer(tracker, query(V1_HASH, n=1, left=0), "10.0.0.1")
    body = answer(tracker, query(V2_HASH, n=2), "10.0.0.2")
    assert (body[b"complete"], body[b"incomplete"]) == (1, 1)
    assert compact_peers(body[b"peers"], 6) == [("10.0.0.1", 6001)]
    other = answer(tracker, query(bytes.fromhex(OTHER_V1), n=3), "10.0.0.3")
    assert (other[b"complete"], other[b"incomplete"], other[b"peers"]) == (0, 1, b"")


def test_unknown_hash_is_a_bencoded_failure() -> None:
    body = answer(make_tracker(), query(b"\x99" * 20))
    # with when to try again: without, libtorrent waits 1800 s (test_tracker_expiry.py)
    assert body == {b"failure reason": b"unknown info_hash", b"interval": 5}


def test_numwant_is_clamped_not_refused() -> None:
    tracker = make_tracker(numwant_max=3, numwant_default=2)
    for n in range(1, 8):
        answer(tracker, query(n=n), f"10.0.0.{n}")
    assert len(answer(tracker, query(n=9, numwant=10**30), "10.0.0.9")[b"peers"]) == 3 * 6
    assert len(answer(tracker, query(n=9), "10.0.0.9")[b"peers"]) == 2 * 6


def test_project_seeders_first_then_complete_peers_and_seeders_get_only_leechers() -> None:
    tracker = make_tracker()
    for n in range(1, 6):
        answer(tracker, query(n=n, left=0), f"10.0.0.{n}")  # ordinary complete peers
    for n in range(6, 12):
        answer(tracker, query(n=n), f"10.0.0.{n}")  # leechers
    answer(tracker, query(n=20, left=0, port=7000), "10.9.9.9")  # the project's seeder
    for _ in range(10):
        peers = compact_peers(answer(tracker, query(n=30, numwant=3), "10.0.1.1")[b"peers"], 6)
        assert peers[0] == ("10.9.9.9", 7000)
        assert all(ip.startswith("10.0.0.") and int(ip.rsplit(".")[-1]) <= 5 for ip, _ in peers[1:])
    seeder_view = compact_peers(answer(tracker, query(n=1, left=0), "10.0.0.1")[b"peers"], 6)
    leechers = {f"10.0.0.{n}" for n in range(6, 12)} | {"10.0.1.1"}
    assert {ip for ip, _ in seeder_view} == leechers
    assert len(seeder_view) == len(leechers)


def test_in_a_large_swarm_the_project_seeder_still_comes_first_and_hand_outs_vary() -> None:
    """Hand-outs rank a random sample of the swarm, not every peer (a 10,000-peer swarm cost
    3.6 ms an announce): the project's seeders are looked up directly, so they are never left
    out, and different askers get different peers."""
    tracker = make_tracker()
    for n in range(1, 1001):  # 1000 complete hosts seeding, 1000 leechers
        answer(tracker, query(n=n, left=0), f"10.1.{n // 256}.{n % 256}")
        answer(tracker, query(n=5000 + n), f"10.2.{n // 256}.{n % 256}")
    answer(tracker, query(n=20, left=0, port=7000), "10.9.9.9")  # the project's seeder
    seen: set[tuple[str, int]] = set()
    for asker in range(30):
        body = answer(tracker, query(n=9000 + asker, numwant=10), f"10.3.0.{asker}")
        peers = compact_peers(body[b"peers"], 6)
        assert peers[0] == ("10.9.9.9", 7000) and len(peers) == 10
        assert all(ip.startswith("10.1.") for ip, _ in peers[1:])  # complete hosts next
        seen.update(peers[1:])
    assert len(seen) > 150  # 30 x 9 drawn from 1000: not the same few every time
    assert body[b"complete"] == 1001 and body[b"incomplete"] == 1000 + 30
    seeder_view = compact_peers(answer(tracker, query(n=1, left=0), "10.1.0.1")[b"peers"], 6)
    assert len(seeder_view) == 50  # numwant's default, all of them leechers
    assert all(ip.startswith(("10.2.", "10.3.")) for ip, _ in seeder_view)


def test_ip_parameter_only_from_trusted_networks() -> None:
    tracker = make_tracker()
    answer(tracker, query(n=1, ip="2001:db8::1"), "127.0.0.1")  # loopback: honoured
    answer(tracker, query(n=2, ip="192.0.2.66"), "10.0.0.2")  # elsewhere: ignored
    body = answer(tracker, query(n=3), "10.0.0.3")
    assert compact_peers(body[b"peers6"], 18) == [("2001:db8::1", 6001)]
    assert compact_peers(body[b"peers"], 6) == [("10.0.0.2", 6002)]
    bad = answer(tracker, query(n=4, ip="not-an-ip"), "127.0.0.1")
    assert bad[b"failure reason"] == b"invalid ip"


def test_scrape_by_either_hash_and_all_swarms() -> None:
    tracker = make_tracker()
    answer(tracker, query(V1_HASH, n=1, left=0, event="completed"), "10.0.0.1")
    answer(tracker, query(V2_HASH, n=2), "10.0.0.2")
    raw = f"info_hash={quote_from_bytes(V2_HASH, safe='')}&info_hash={'%99' * 20}".encode()
    files = bdecode(tracker.scrape(raw))
    assert files == {b"files": {V2_HASH: {b"complete": 1, b"incomplete": 1, b"downloaded": 1}}}
    everything = bdecode(tracker.scrape(b""))
    assert isinstance(everything, dict)
    assert everything[b"files"] == {
        V1_HASH: {b"complete": 1, b"incomplete": 1, b"downloaded": 1},
        bytes.fromhex(OTHER_V1): {b"complete": 0, b"incomplete": 0, b"downloaded": 0},
    }
    assert bdecode(tracker.scrape(b"info_hash=short")) == {
        b"failure reason": b"info_hash must be 20 bytes"
    }


def test_scrape_of_too_many_hashes_is_refused() -> None:
    tracker = make_tracker(scrape_max_swarms=2)
    raw = "&".join(f"info_hash=%0{n}{'A' * 19}" for n in range(3)).encode()
    assert bdecode(tracker.scrape(raw)) == {b"failure reason": b"too many info_hash parameters"}


@pytest.mark.parametrize("event", ["started", "", "completed"])
def test_announces_never_raise_on_garbage(event: str) -> None:
    tracker = make_tracker()
    for raw in (b"", b"&&&", b"info_hash", b"=&=", b"event=" + event.encode(), bytes(range(256))):
        body = bdecode(tracker.announce(raw, "10.0.0.1"))
        assert isinstance(body, dict) and b"failure reason" in body


def test_hosts_behind_one_nat_still_get_a_full_hand_out() -> None:
    """Peers at the asker's own address and port are never handed to it; the sample is large
    enough that they do not crowd out the peers it can use (a review found 14-27 of 40)."""
    tracker = make_tracker()
    for n in range(1, 61):  # 60 hosts behind one NAT, all on the default port
        answer(tracker, query(n=n, port=6881), "203.0.113.7")
    for n in range(100, 140):  # 40 leechers elsewhere
        answer(tracker, query(n=n), f"10.4.0.{n - 99}")
    for n in range(200, 400):  # and 200 complete hosts
        answer(tracker, query(n=n, left=0), f"10.5.{n // 256}.{n % 256}")
    for _ in range(20):
        body = answer(tracker, query(n=1, port=6881, numwant=50, left=0), "203.0.113.7")
        peers = compact_peers(body[b"peers"], 6)
        assert len(peers) == 40  # a seeder now: every leecher but its NAT siblings
        assert all(ip.startswith("10.4.") for ip, _ in peers)


def test_when_complete_peers_are_too_few_leechers_fill_the_hand_out() -> None:
    """A hand-out samples the incomplete peers only when the complete ones cannot fill it."""
    tracker = make_tracker()
    for n in range(1, 4):
        answer(tracker, query(n=n, left=0), f"10.0.0.{n}")
    for n in range(100, 200):
        answer(tracker, query(n=n), f"10.0.1.{n - 100}")
    peers = compact_peers(answer(tracker, query(n=500, numwant=20), "10.0.2.1")[b"peers"], 6)
    assert len(peers) == 20
    assert {ip for ip, _ in peers[:3]} == {"10.0.0.1", "10.0.0.2", "10.0.0.3"}
    assert all(ip.startswith("10.0.1.") for ip, _ in peers[3:])


def test_peers_sharing_the_askers_peer_id_do_not_shorten_its_hand_out() -> None:
    """Clients with a fixed peer id at other addresses are never handed to one another; when
    more of them than the sample's slack sit among the complete peers, the incomplete fill in."""
    tracker = make_tracker()
    for n in range(1, 51):
        answer(tracker, query(n=n, left=0), f"10.0.0.{n}")
    for host in range(1, 13):  # the asker's own id, complete, at twelve other addresses
        answer(tracker, query(n=999, left=0), f"10.0.3.{host}")
    for n in range(100, 200):
        answer(tracker, query(n=n), f"10.0.1.{n - 100}")
    for _ in range(20):
        peers = compact_peers(answer(tracker, query(n=999, numwant=50), "10.0.2.1")[b"peers"], 6)
        assert len(peers) == 50
        assert not any(ip.startswith("10.0.3.") for ip, _ in peers)
