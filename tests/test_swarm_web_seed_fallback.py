"""When a download started without its web seeds adds them (`WebSeedFallback`).

Driven by a fake clock and a fake torrent that records the call: no peer at all for
`web_seed_no_peer_seconds` after the current join, or no progress for `web_seed_fallback_seconds`.
A rejoin (the torrent re-added after a hash failure or libtorrent's inconsistent-hashes error)
starts with no peer connected; that must not count as a swarm without peers.
"""

from __future__ import annotations

from dataclasses import replace

from swarm.config import SwarmConfig
from swarm.download_watch import WebSeedFallback
from tests.swarm_helpers import downloading_status

CONFIG = SwarmConfig(
    listen_interfaces="127.0.0.1:0", web_seed_fallback_seconds=5.0, web_seed_no_peer_seconds=2.0
)
WANTED = 1 << 20


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class RecordingTorrent:
    """The one thing `WebSeedFallback` asks of a `SwarmTorrent`."""

    def __init__(self) -> None:
        self.web_seeds_added = 0

    def add_web_seeds(self) -> None:
        self.web_seeds_added += 1


def _check(
    fallback: WebSeedFallback, torrent: RecordingTorrent, *, peers: int, last_growth: float
) -> bool:
    status = downloading_status(total_wanted=WANTED, total_done=WANTED // 2, num_peers=peers)
    return fallback.check(torrent, status, last_growth)  # type: ignore[arg-type]


def test_no_peer_for_the_no_peer_time_adds_the_web_seeds_once() -> None:
    clock, torrent = FakeClock(), RecordingTorrent()
    fallback = WebSeedFallback(CONFIG, clock=clock)
    clock.now += 1.9
    assert not _check(fallback, torrent, peers=0, last_growth=clock.now)
    clock.now += 0.2
    assert _check(fallback, torrent, peers=0, last_growth=clock.now)
    assert fallback.web_seeds_on
    clock.now += 10
    assert not _check(fallback, torrent, peers=0, last_growth=clock.now - 10)
    assert torrent.web_seeds_added == 1


def test_a_connected_peer_keeps_them_out_until_progress_stops() -> None:
    clock, torrent = FakeClock(), RecordingTorrent()
    fallback = WebSeedFallback(CONFIG, clock=clock)
    growth = clock.now + 3
    clock.now += 7.9
    assert not _check(fallback, torrent, peers=3, last_growth=growth)
    clock.now += 0.2  # 5 s without progress
    assert _check(fallback, torrent, peers=3, last_growth=growth)
    assert torrent.web_seeds_added == 1


def test_a_rejoin_starts_the_no_peer_clock_again() -> None:
    clock, torrent = FakeClock(), RecordingTorrent()
    fallback = WebSeedFallback(CONFIG, clock=clock)
    clock.now += 30  # a long healthy run, then the torrent is re-added: no peer connected yet
    fallback.joined()
    clock.now += 0.05
    assert not _check(fallback, torrent, peers=0, last_growth=clock.now)
    clock.now += 1.9
    assert not _check(fallback, torrent, peers=0, last_growth=clock.now)
    assert torrent.web_seeds_added == 0
    clock.now += 0.1  # and still none 2 s after the rejoin: now it is a swarm without peers
    assert _check(fallback, torrent, peers=0, last_growth=clock.now)
    assert torrent.web_seeds_added == 1


def test_turned_off_it_never_adds_them() -> None:
    clock, torrent = FakeClock(), RecordingTorrent()
    config = replace(CONFIG, web_seed_fallback_seconds=None)
    fallback = WebSeedFallback(config, clock=clock)
    assert fallback.web_seeds_on  # None: the web seeds are in from the start
    clock.now += 60
    assert not _check(fallback, torrent, peers=0, last_growth=clock.now - 60)
    assert torrent.web_seeds_added == 0
