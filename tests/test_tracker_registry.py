"""The swarm registry: counts, deltas, completion, expiry on an injected clock, hand-out order."""

from __future__ import annotations

import random

import pytest

from distributor.tracker.errors import TrackerFailure
from distributor.tracker.query import Event
from distributor.tracker.registry import Announced, Peer, PeerAddress, SwarmRegistry

SWARM = b"S" * 20


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def peer(n: int, ip: str = "10.0.0.1") -> PeerAddress:
    return PeerAddress(b"peer-%015d" % n, ip, 6000 + n)


def everyone(_: Peer) -> int:
    return 0


def announce(
    registry: SwarmRegistry,
    address: PeerAddress,
    *,
    left: int = 10,
    uploaded: int = 0,
    downloaded: int = 0,
    event: Event = "",
    numwant: int = 50,
) -> Announced:
    return registry.announce(
        SWARM,
        address,
        left=left,
        uploaded=uploaded,
        downloaded=downloaded,
        event=event,
        numwant=numwant,
        rank=everyone,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry(clock: Clock) -> SwarmRegistry:
    return SwarmRegistry(peer_ttl_seconds=30, clock=clock, rng=random.Random(1))


def test_seeders_leechers_and_completed(registry: SwarmRegistry) -> None:
    announce(registry, peer(1), left=0, event="started")
    announce(registry, peer(2), event="started")
    announce(registry, peer(3), event="started")
    done = announce(registry, peer(2), left=0, event="completed")
    assert (done.stats.seeders, done.stats.leechers, done.stats.completed) == (2, 1, 1)
    again = announce(registry, peer(2), left=0, event="completed")  # a resent event counts once
    assert again.stats.completed == 1


def test_totals_add_increases_only(registry: SwarmRegistry) -> None:
    announce(registry, peer(1), uploaded=100, downloaded=10)
    announce(registry, peer(1), uploaded=150, downloaded=10)
    announce(registry, peer(1), uploaded=150, downloaded=10)
    announce(registry, peer(2), uploaded=0, downloaded=500)
    announce(registry, peer(1), uploaded=140, downloaded=0)  # stale: a hybrid's other hash
    announce(registry, peer(1), uploaded=150, downloaded=10)  # caught up: nothing new
    announce(registry, peer(1), uploaded=20, event="started")  # restarted client: from zero
    stats = registry.stats(SWARM)
    assert (stats.uploaded_bytes, stats.downloaded_bytes) == (170, 510)


def test_stopped_removes_the_peer_and_counts_its_last_delta(registry: SwarmRegistry) -> None:
    announce(registry, peer(1), uploaded=5)
    stopped = announce(registry, peer(1), uploaded=9, event="stopped")
    assert stopped.peers == []
    assert (stopped.stats.leechers, stopped.stats.uploaded_bytes) == (0, 9)


def test_a_second_stopped_counts_nothing(registry: SwarmRegistry) -> None:
    """libtorrent announces a hybrid torrent once per hash: both reach one swarm."""
    for _ in range(2):
        announce(registry, peer(1), downloaded=0, event="started")
    for _ in range(2):
        announce(registry, peer(1), left=0, downloaded=4096, event="completed")
    for _ in range(2):
        announce(registry, peer(1), left=0, downloaded=4096, event="stopped")
    stats = registry.stats(SWARM)
    assert (stats.downloaded_bytes, stats.completed, stats.seeders) == (4096, 1, 0)


def test_peers_expire_after_the_ttl(registry: SwarmRegistry, clock: Clock) -> None:
    announce(registry, peer(1))
    clock.now += 20
    announce(registry, peer(2))
    clock.now += 15  # peer 1 silent for 35 s > 30 s; peer 2 for 15 s
    assert registry.stats(SWARM).leechers == 1
    assert [p.address for p in registry.peers(SWARM)] == [peer(2)]
    clock.now += 31
    assert registry.stats(SWARM).leechers == 0


def test_hand_out_never_includes_the_asker_and_is_bounded(registry: SwarmRegistry) -> None:
    for n in range(10):
        announce(registry, peer(n))
    answer = announce(registry, peer(0), numwant=4)
    assert len(answer.peers) == 4
    assert peer(0) not in answer.peers
    everyone_else = announce(registry, peer(0), numwant=100).peers
    assert sorted(p.port for p in everyone_else) == [6000 + n for n in range(1, 10)]
    same_endpoint = PeerAddress(b"x" * 20, peer(3).ip, peer(3).port)
    assert peer(3) not in announce(registry, same_endpoint).peers


def test_hand_out_takes_better_ranks_first_random_among_equals(registry: SwarmRegistry) -> None:
    for n in range(1, 11):
        announce(registry, peer(n), left=0 if n <= 3 else 10)
    seen: set[PeerAddress] = set()
    for _ in range(30):
        answer = registry.announce(
            SWARM,
            peer(99),
            left=10,
            uploaded=0,
            downloaded=0,
            event="",
            numwant=5,
            rank=lambda p: 0 if p.complete else 1,
        )
        assert set(answer.peers[:3]) == {peer(1), peer(2), peer(3)}
        seen.update(answer.peers[3:])
    assert len(seen) > 2  # the two leecher slots are not always the same peers


def test_a_full_swarm_refuses_new_peers(clock: Clock) -> None:
    registry = SwarmRegistry(peer_ttl_seconds=30, max_peers_per_swarm=2, clock=clock)
    announce(registry, peer(1))
    announce(registry, peer(2))
    announce(registry, peer(1))  # known peers still re-announce
    with pytest.raises(TrackerFailure, match="swarm is full"):
        announce(registry, peer(3))


def test_a_known_peer_id_from_another_address_neither_moves_nor_removes_the_peer(
    registry: SwarmRegistry,
) -> None:
    victim = PeerAddress(b"-LT2010-victimvictim", "10.0.0.1", 6881)
    forged = PeerAddress(victim.peer_id, "198.51.100.66", 6666)
    announce(registry, victim)
    announce(registry, forged)
    announce(registry, forged, event="stopped")
    watcher = announce(registry, peer(9, "10.0.0.9"))
    assert watcher.peers == [victim]
    assert watcher.stats.leechers == 2
    announce(registry, victim, event="stopped")  # its own address still can
    assert announce(registry, peer(9, "10.0.0.9")).peers == []


def test_one_address_holds_a_bounded_number_of_peers_per_swarm(clock: Clock) -> None:
    """A new peer from a full address replaces that address's peer heard from least recently:
    the bound holds, and hosts behind one NAT are not locked out by peers killed without
    `stopped`, which stay listed until they expire."""
    registry = SwarmRegistry(peer_ttl_seconds=600, max_peers_per_address=3, clock=clock)
    for n in range(3):
        announce(registry, peer(n, "10.0.0.7"))
        clock.now += 1
    announce(registry, peer(0, "10.0.0.7"))  # known peers re-announce: 0 is now the freshest
    joined = announce(registry, peer(3, "10.0.0.7"))  # full: 1, heard from least recently, goes
    assert joined.stats.leechers == 3
    listed = {p.port for p in announce(registry, peer(9, "10.0.0.9")).peers}
    assert listed == {6000, 6002, 6003}
    assert announce(registry, peer(4, "10.0.0.8")).stats.leechers == 5  # other addresses join
    announce(registry, peer(2, "10.0.0.7"), event="stopped")
    announce(registry, peer(5, "10.0.0.7"))  # a freed place is taken, nobody replaced
    listed = {p.port for p in announce(registry, peer(9, "10.0.0.9")).peers}
    assert {6000, 6003, 6005} <= listed


def test_counts_follow_a_peer_from_leecher_to_seeder_and_out(clock: Clock) -> None:
    registry = SwarmRegistry(peer_ttl_seconds=30, clock=clock)
    assert announce(registry, peer(1), left=5).stats.leechers == 1
    done = announce(registry, peer(1), left=0, event="completed").stats
    assert (done.seeders, done.leechers, done.completed) == (1, 0, 1)
    assert announce(registry, peer(1), left=7).stats.leechers == 1  # a re-check found damage
    gone = announce(registry, peer(1), event="stopped").stats
    assert (gone.seeders, gone.leechers) == (0, 0)
    announce(registry, peer(2), left=0)
    clock.now += 31
    assert registry.stats(SWARM).seeders == 0  # expired on the next read


def test_a_peer_address_carries_its_compact_entry() -> None:
    """BEP 23 / BEP 7 entries, made once per announce rather than in every hand-out."""
    assert PeerAddress(b"a" * 20, "10.1.2.3", 6881).compact == bytes([10, 1, 2, 3, 0x1A, 0xE1])
    v6 = PeerAddress(b"b" * 20, "2001:db8::1", 443).compact
    assert len(v6) == 18 and v6[:2] == b"\x20\x01" and v6[-2:] == (443).to_bytes(2, "big")
    with pytest.raises(ValueError):
        PeerAddress(b"c" * 20, "not-an-address", 1)


def test_a_dropped_peer_that_announces_again_counts_only_what_it_added(clock: Clock) -> None:
    """Expired (silent past the TTL) or replaced at a full address, a peer whose client still
    runs announces again with the same session's totals: only the increase counts, also when
    its next word is `stopped`. A restarted client (`started`, totals from zero) counts in full."""
    registry = SwarmRegistry(peer_ttl_seconds=30, max_peers_per_address=1, clock=clock)
    announce(registry, peer(1), uploaded=1000, downloaded=50)
    clock.now += 31
    assert registry.stats(SWARM).leechers == 0  # expired
    announce(registry, peer(1), uploaded=1500, downloaded=50)
    announce(registry, peer(2), uploaded=10)  # the address is full: peer 1 is replaced
    announce(registry, peer(1), uploaded=1700, downloaded=80, event="stopped")
    stats = registry.stats(SWARM)
    assert (stats.uploaded_bytes, stats.downloaded_bytes) == (1710, 80)
    announce(registry, peer(2), uploaded=10)
    clock.now += 31
    announce(registry, peer(3, "10.0.0.3"))  # peer 2 expires on this read
    announce(registry, peer(2), uploaded=4, event="started")  # restarted meanwhile: from zero
    assert registry.stats(SWARM).uploaded_bytes == 1714


def test_a_dropped_peers_totals_are_kept_for_one_ttl(clock: Clock) -> None:
    registry = SwarmRegistry(peer_ttl_seconds=30, clock=clock)
    announce(registry, peer(1), uploaded=100)
    clock.now += 31
    announce(registry, peer(2, "10.0.0.2"))  # peer 1 expires on this read
    clock.now += 31
    announce(registry, peer(2, "10.0.0.2"))  # and its totals are forgotten a TTL later
    announce(registry, peer(1), uploaded=120)  # so it counts as a new client would
    assert registry.stats(SWARM).uploaded_bytes == 220
