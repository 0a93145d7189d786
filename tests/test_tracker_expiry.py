"""Peers expire only after missing two of the announces their client will really make, and a
refused announce says when to try again.

libtorrent (our hosts and seeders, qBittorrent, Deluge) re-announces at most every 300 s, its
`min_announce_interval`, whatever shorter interval a tracker hands out. The tracker used to expire
peers after 2 x 60 s + 30 s: every libtorrent peer, the project's seeder too, was missing for half
of each period, and a host arriving then found no seeder. A fake clock drives the tracker here; a
real libtorrent session shows the 300 s it waits between announces.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import libtorrent as lt
import pytest

from distributor.tracker.config import TrackerConfig
from distributor.tracker.responses import failure
from distributor.tracker.service import Tracker
from distributor.tracker.torrent_index import TorrentIndex
from swarm.torrent_maker import make_torrent
from tests.fakes.tracker_stub import stub_tracker
from tests.swarm_helpers import loopback_session
from tests.test_swarm_leave import SlowStopTracker
from tests.test_tracker_service import HYBRID, V1_HASH, answer, compact_peers, query

LIBTORRENT_ANNOUNCE_SECONDS = 300


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    "config",
    [
        TrackerConfig(),
        TrackerConfig(interval_seconds=60),  # the old default interval
        TrackerConfig(interval_seconds=2, peer_grace_seconds=0),
    ],
    ids=["defaults", "interval-60", "interval-2"],
)
def test_a_seeder_announcing_every_300_s_is_always_handed_out(config: TrackerConfig) -> None:
    clock = Clock()
    tracker = Tracker(
        TorrentIndex([("img", "1", HYBRID)]), config, clock=clock, rng=random.Random(1)
    )
    seeder = ("10.0.0.9", 6009)
    for second in range(0, 1800, 10):
        clock.now = 1000.0 + second
        if second % LIBTORRENT_ANNOUNCE_SECONDS == 0:
            answer(tracker, query(V1_HASH, n=9, left=0), seeder[0])
        host = answer(tracker, query(V1_HASH, n=100 + second, numwant=50), "10.0.1.1")
        assert seeder in compact_peers(host[b"peers"], 6), f"no seeder at {second} s"
        answer(tracker, query(V1_HASH, n=100 + second, event="stopped"), "10.0.1.1")


def test_a_silent_peer_still_expires() -> None:
    clock = Clock()
    config = TrackerConfig()
    tracker = Tracker(TorrentIndex([("img", "1", HYBRID)]), config, clock=clock)
    answer(tracker, query(V1_HASH, n=1, left=0), "10.0.0.9")
    clock.now += config.peer_ttl_seconds + 1
    counts = answer(tracker, query(V1_HASH, n=2), "10.0.1.1")
    assert counts[b"complete"] == 0
    assert config.peer_ttl_seconds == 2 * 300 + 30


def test_libtorrent_waits_300_s_between_announces_whatever_the_interval(tmp_path: Path) -> None:
    """The edge the expiry above rests on: a session of ours, told `interval 60`, schedules its
    next announce about 300 s later."""
    assert lt.default_settings()["min_announce_interval"] == LIBTORRENT_ANNOUNCE_SECONDS
    image = tmp_path / "image"
    image.write_bytes(random.Random(3).randbytes(256 << 10))
    with SlowStopTracker("127.0.0.75", 0.0).running() as tracker, loopback_session(76) as session:
        made = make_torrent(image, name="img", announce_url=tracker.url, piece_length=64 << 10)
        torrent = session.add_seed(made.data, image)
        deadline = time.monotonic() + 10
        while len(tracker.events("other")) < 2 or torrent.announcing():
            assert time.monotonic() < deadline, "the tracker was never answered"
            time.sleep(0.02)
        states = [
            state
            for entry in torrent.handle.trackers()
            for endpoint in entry["endpoints"]
            for state in endpoint["info_hashes"]
        ]
        waits = [state["next_announce"] - time.time() for state in states]
        assert waits and all(wait > 250 for wait in waits), waits
    assert TrackerConfig().peer_ttl_seconds > 2 * max(waits)


def _next_announce_after(body: bytes, tmp_path: Path, host_octet: int) -> list[float]:
    """Seconds until a real session's next announce after the tracker answered `body`."""
    tmp_path.mkdir()
    image = tmp_path / "image"
    image.write_bytes(random.Random(4).randbytes(256 << 10))
    with (
        stub_tracker(f"127.0.0.{host_octet}", body) as tracker,
        loopback_session(host_octet + 1) as session,
    ):
        made = make_torrent(image, name="img", announce_url=tracker.url, piece_length=64 << 10)
        torrent = session.add_seed(made.data, image)
        deadline = time.monotonic() + 10
        while len(tracker.asked) < 2 or torrent.announcing():
            assert time.monotonic() < deadline, "the tracker was never asked"
            time.sleep(0.02)
        return [
            state["next_announce"] - time.time()
            for entry in torrent.handle.trackers()
            for endpoint in entry["endpoints"]
            for state in endpoint["info_hashes"]
        ]


def test_a_refused_announce_is_retried_in_minutes_not_half_an_hour(tmp_path: Path) -> None:
    bare = _next_announce_after(failure("swarm is full"), tmp_path / "bare", 77)
    assert bare and all(wait > 1500 for wait in bare), bare  # libtorrent's own 1800 s
    ours = _next_announce_after(failure("swarm is full", retry_seconds=300), tmp_path / "ours", 79)
    assert ours and all(wait < 400 for wait in ours), ours  # its 300 s floor
