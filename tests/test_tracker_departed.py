"""What a swarm remembers of peers dropped without `stopped`, and how long (`DepartedPeers`)."""

from __future__ import annotations

from distributor.tracker.departed import DepartedPeers
from distributor.tracker.registry import SwarmRegistry
from tests.test_tracker_registry import SWARM, Clock, announce, peer


def test_one_address_cannot_push_the_others_out() -> None:
    departed: DepartedPeers[str] = DepartedPeers(per_address=2, limit=3)
    departed.remember((b"honest", "10.0.0.1"), "kept", 1.0)
    for n in range(100):  # one host making up peer ids
        departed.remember((b"made-up-%d" % n, "10.0.0.9"), "spam", 2.0)
    assert len(departed) == 3 and departed.take((b"honest", "10.0.0.1")) == "kept"
    assert departed.take((b"honest", "10.0.0.1")) is None  # taken once
    departed.remember((b"a", "10.0.0.2"), "a", 3.0)
    departed.remember((b"b", "10.0.0.3"), "b", 4.0)  # over the limit: the oldest goes
    assert len(departed) == 3 and departed.take((b"made-up-0", "10.0.0.9")) is None


def test_forgotten_after_the_time_given() -> None:
    departed: DepartedPeers[str] = DepartedPeers(per_address=5)
    departed.remember((b"old", "10.0.0.1"), "old", 1.0)
    departed.remember((b"new", "10.0.0.1"), "new", 5.0)
    departed.forget_before(3.0)
    assert departed.take((b"old", "10.0.0.1")) is None
    assert departed.take((b"new", "10.0.0.1")) == "new"
    departed.remember((b"again", "10.0.0.1"), "again", 6.0)  # the address's count was given back
    departed.remember((b"more", "10.0.0.1"), "more", 6.0)
    assert len(departed) == 2


def test_an_idle_swarm_forgets_its_dropped_peers_too() -> None:
    clock = Clock()
    registry = SwarmRegistry(peer_ttl_seconds=30, clock=clock)
    announce(registry, peer(1), uploaded=100)
    clock.now += 31
    registry.stats(SWARM)  # peer 1 expires and is remembered
    clock.now += 31
    registry.announce(  # another swarm's announce sweeps every swarm
        b"T" * 20,
        peer(2, "10.0.0.2"),
        left=1,
        uploaded=0,
        downloaded=0,
        event="",
        numwant=5,
        rank=lambda _: 0,
    )
    announce(registry, peer(1), uploaded=100)  # forgotten: counted as a new client
    assert registry.stats(SWARM).uploaded_bytes == 200


def test_a_returning_peer_does_not_count_its_completion_twice() -> None:
    clock = Clock()
    registry = SwarmRegistry(peer_ttl_seconds=30, clock=clock)
    announce(registry, peer(1), left=0, event="completed")
    clock.now += 31
    registry.stats(SWARM)  # expired
    announce(registry, peer(1), left=0, event="completed")  # a retried announce
    assert registry.stats(SWARM).completed == 1
