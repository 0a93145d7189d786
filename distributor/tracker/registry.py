"""The swarms' peers and counters, in memory in the server process.

A restart forgets every peer. The project's seeders announce again within one report interval (the
report answer's `tracker_instance` changed); other peers at their next announce, within 300 s
(libtorrent's min_announce_interval). Counters (completed, uploaded/downloaded totals) count from
the server's start. Peers are keyed by `peer_id` AND the address the announce came from: peer ids
are public (non-compact answers carry them), so another host announcing a known id, even `stopped`,
gets an entry of its own and never moves or removes the first. One address holds at most
`max_peers_per_address` peers per swarm, so one host cannot fill a swarm with made-up ids; a new
peer from a full address replaces that address's peer heard from least recently (hosts behind one
NAT come and go, and one killed without `stopped` stays listed for the whole expiry, 10.5 minutes by
default: refusing newcomers would lock them out). A peer that misses announces for
`peer_ttl_seconds` is dropped (checked lazily on each announce to its swarm and on every `stats`
read). Uploaded/downloaded totals add each peer's *increase* since its previous announce, so
re-announces never double count. A `started` whose counters are lower than the peer's last ones
is a restarted client and counts from zero; lower counters without `started` (a hybrid
torrent's two announces arriving out of order) count nothing. A peer dropped without `stopped`
(expired, or replaced at a full address) is remembered for one TTL (`DepartedPeers`): if its
client announces again, even `stopped`, it continues from its last report. A `stopped` from a
peer the swarm neither holds nor remembers (the second hash of a hybrid torrent, which libtorrent
announces separately) counts nothing.

Not responsible for which hashes exist (`torrent_index`), for parsing, or for what a hand-out
prefers: callers pass `rank`. Thread-safe (one lock). Error contract: `TrackerFailure(SWARM_FULL)`
when a new peer would exceed `max_peers_per_swarm`; nothing else.
"""

from __future__ import annotations

import ipaddress
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from distributor.tracker import errors
from distributor.tracker.departed import DepartedPeers
from distributor.tracker.errors import TrackerFailure
from distributor.tracker.query import Event


@dataclass(frozen=True)
class PeerAddress:
    """What a hand-out tells a client about another peer. `compact` is its BEP 23 / BEP 7 entry
    (packed address, then the port), made once here: packing every handed-out peer's address
    again on each announce was half of an announce's cost. Raises ValueError for an `ip` that is
    not an address and OverflowError for a port outside 0-65535."""

    peer_id: bytes
    ip: str
    port: int
    compact: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        packed = ipaddress.ip_address(self.ip).packed + self.port.to_bytes(2, "big")
        object.__setattr__(self, "compact", packed)


@dataclass
class Peer:
    """One peer's latest announce."""

    address: PeerAddress
    left: int
    uploaded: int
    downloaded: int
    last_seen: float
    completed_counted: bool = False

    @property
    def complete(self) -> bool:
        return self.left == 0


@dataclass(frozen=True)
class SwarmStats:
    """One swarm's numbers: peers now, and totals since the server started."""

    seeders: int = 0
    leechers: int = 0
    completed: int = 0
    uploaded_bytes: int = 0
    downloaded_bytes: int = 0


PeerKey = tuple[bytes, str]
"""(peer_id, ip): who a peer is within a swarm."""

EXPIRY_PERIOD_SECONDS = 1.0
"""How often a swarm is scanned for silent peers (at most; less for a TTL under 10 s)."""


class _KeyPool:
    """A set of peer keys that draws a uniform random sample in time of the sample's size (a
    list plus each key's index; removal swaps the last key into the hole)."""

    def __init__(self) -> None:
        self._keys: list[PeerKey] = []
        self._index: dict[PeerKey, int] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: PeerKey) -> None:
        if key not in self._index:
            self._index[key] = len(self._keys)
            self._keys.append(key)

    def discard(self, key: PeerKey) -> None:
        index = self._index.pop(key, None)
        if index is None:
            return
        last = self._keys.pop()
        if index < len(self._keys):
            self._keys[index] = last
            self._index[last] = index

    def sample(self, rng: random.Random, count: int) -> list[PeerKey]:
        return rng.sample(self._keys, min(count, len(self._keys)))


@dataclass
class _Swarm:
    departed: DepartedPeers[Peer]
    """Peers dropped without `stopped`, as they last announced (bounded by the registry)."""
    peers: dict[PeerKey, Peer] = field(default_factory=dict)
    by_address: dict[str, OrderedDict[PeerKey, None]] = field(default_factory=dict)
    """Each address's peers, the one announced least recently first."""
    complete: _KeyPool = field(default_factory=_KeyPool)
    incomplete: _KeyPool = field(default_factory=_KeyPool)
    expiry_checked_at: float | None = None
    completed: int = 0
    uploaded: int = 0
    downloaded: int = 0

    def add(self, key: PeerKey, peer: Peer) -> None:
        """Add or refresh `key` (it becomes its address's most recently heard peer)."""
        keys = self.by_address.setdefault(key[1], OrderedDict())
        keys[key] = None
        keys.move_to_end(key)
        self.peers[key] = peer
        (self.complete if peer.complete else self.incomplete).add(key)
        (self.incomplete if peer.complete else self.complete).discard(key)

    def remove(self, key: PeerKey) -> None:
        if self.peers.pop(key, None) is not None:
            keys = self.by_address[key[1]]
            del keys[key]
            if not keys:
                del self.by_address[key[1]]
            self.complete.discard(key)
            self.incomplete.discard(key)

    def depart(self, key: PeerKey, now: float) -> None:
        """Remove `key`, which did not say `stopped` (it expired, or a new peer of its address
        took its place), and remember how it last announced."""
        peer = self.peers.get(key)
        if peer is not None:
            self.remove(key)
            self.departed.remember(key, peer, now)

    def count_at(self, ip: str) -> int:
        return len(self.by_address.get(ip, ()))

    def stalest_at(self, ip: str) -> PeerKey:
        """The peer of address `ip` announced least recently (the address holds one)."""
        return next(iter(self.by_address[ip]))

    def at_endpoint(self, ip: str, port: int) -> list[PeerKey]:
        """The peers announced from `ip` with listen port `port`."""
        return [key for key in self.by_address.get(ip, ()) if self.peers[key].address.port == port]

    def stats(self) -> SwarmStats:
        return SwarmStats(
            len(self.complete), len(self.incomplete), self.completed, self.uploaded, self.downloaded
        )


# rank(candidate) -> a preference class (lower first) or None to leave the candidate out.
Rank = Callable[[Peer], int | None]

PREFER_COMPLETE: tuple[bool, ...] = (True, False)
"""Which peers a hand-out samples, best first: True the complete, False the incomplete. A pool
not named is never handed out; a later pool is sampled only when the earlier ones are short."""


@dataclass(frozen=True)
class Announced:
    """The tracker's answer material: the swarm's numbers after the announce, and peers."""

    stats: SwarmStats
    peers: list[PeerAddress]


def _delta(new: int, old: int, *, restarted: bool) -> tuple[int, int]:
    """(what to add to a swarm's total, the peer's counter to keep) for a reported `new` after
    `old`: the increase; all of `new` for a restarted client; nothing for a stale report."""
    if new >= old:
        return new - old, new
    return (new, new) if restarted else (0, old)


class SwarmRegistry:
    """Peers and counters per swarm (keyed by the swarm's primary 20-byte hash)."""

    def __init__(
        self,
        *,
        peer_ttl_seconds: float,
        max_peers_per_swarm: int = 100_000,
        max_peers_per_address: int = 64,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._ttl = peer_ttl_seconds
        self._period = min(EXPIRY_PERIOD_SECONDS, peer_ttl_seconds / 10)
        self._max_peers = max_peers_per_swarm
        self._max_per_address = max_peers_per_address
        self._clock = clock
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._swarms: dict[bytes, _Swarm] = {}
        self._departed_checked_at: float | None = None

    def _swarm(self, swarm_key: bytes) -> _Swarm:
        swarm = self._swarms.get(swarm_key)
        if swarm is None:
            swarm = self._swarms[swarm_key] = _Swarm(DepartedPeers(self._max_per_address))
        return swarm

    def _forget_departed(self, now: float) -> None:
        """Forget, in every swarm (idle ones too), peers dropped more than a TTL ago; at most
        once per `_period`."""
        if self._departed_checked_at is not None and now - self._departed_checked_at < self._period:
            return
        self._departed_checked_at = now
        for swarm in self._swarms.values():
            swarm.departed.forget_before(now - self._ttl)

    def _expire(self, swarm: _Swarm, now: float) -> None:
        """Drop peers silent for the TTL. A scan of the whole swarm, so at most once per
        `_period` (a peer may outlive its TTL by that much)."""
        if swarm.expiry_checked_at is not None and now - swarm.expiry_checked_at < self._period:
            return
        swarm.expiry_checked_at = now
        stale = [key for key, peer in swarm.peers.items() if now - peer.last_seen > self._ttl]
        for key in stale:
            swarm.depart(key, now)
        self._forget_departed(now)

    def announce(
        self,
        swarm_key: bytes,
        address: PeerAddress,
        *,
        left: int,
        uploaded: int,
        downloaded: int,
        event: Event,
        numwant: int,
        rank: Rank,
        preferred: Collection[tuple[str, int]] = (),
        pools: Sequence[bool] = PREFER_COMPLETE,
    ) -> Announced:
        with self._lock:
            now = self._clock()
            swarm = self._swarm(swarm_key)
            self._expire(swarm, now)
            key = (address.peer_id, address.ip)
            peer = swarm.peers.get(key)
            if peer is None and event == "stopped":
                # Gone already: a dropped peer counts what it added since; a hybrid's second
                # hash, or a peer never heard from, counts nothing.
                departed = swarm.departed.take(key)
                if departed is not None:
                    self._count(swarm, departed, uploaded, downloaded, restarted=False)
                return Announced(swarm.stats(), [])
            if peer is None:
                if swarm.count_at(address.ip) >= self._max_per_address:
                    swarm.depart(swarm.stalest_at(address.ip), now)
                if len(swarm.peers) >= self._max_peers:
                    raise TrackerFailure(errors.SWARM_FULL)
                peer = swarm.departed.take(key) or Peer(address, left, 0, 0, now)
            self._count(swarm, peer, uploaded, downloaded, restarted=event == "started")
            peer.address, peer.left, peer.last_seen = address, left, now
            if event == "completed" and not peer.completed_counted:
                swarm.completed += 1
                peer.completed_counted = True
            if event == "stopped":
                swarm.remove(key)
                return Announced(swarm.stats(), [])
            swarm.add(key, peer)
            candidates, skipped = self._candidates(swarm, peer, numwant, preferred, pools)
            chosen = self._ranked(candidates, peer, numwant, rank)
            if len(chosen) < numwant and skipped:
                # Short although a pool filled its sample: more of it than the slack allows
                # shared the asker's peer id (a client with a fixed id). Sample every pool.
                candidates, _ = self._candidates(swarm, peer, numwant, preferred, pools, every=True)
                chosen = self._ranked(candidates, peer, numwant, rank)
            return Announced(swarm.stats(), chosen)

    @staticmethod
    def _count(
        swarm: _Swarm, peer: Peer, uploaded: int, downloaded: int, *, restarted: bool
    ) -> None:
        """Add what `peer` reports beyond its last announce to the swarm's totals."""
        added, peer.uploaded = _delta(uploaded, peer.uploaded, restarted=restarted)
        swarm.uploaded += added
        added, peer.downloaded = _delta(downloaded, peer.downloaded, restarted=restarted)
        swarm.downloaded += added

    def _candidates(
        self,
        swarm: _Swarm,
        asking: Peer,
        numwant: int,
        preferred: Collection[tuple[str, int]],
        pools: Sequence[bool],
        *,
        every: bool = False,
    ) -> tuple[list[Peer], bool]:
        """The peers at `preferred` endpoints, and uniform random samples of the `pools`, in
        order, each large enough for numwant once the asker, a preferred peer and every peer at
        the asker's address (hosts behind one NAT may share its port too, and are not handed to
        it) are set aside; a pool that filled its sample makes the later ones unneeded (`_ranked`
        would never reach them), unless `every`. Returns them and whether a pool was left out.
        Ranking every peer of a large swarm on each announce cost 3.6 ms at 10,000 peers, and
        announces come from every host every 300 s."""
        keys = [key for ip, port in preferred for key in swarm.at_endpoint(ip, port)]
        size = numwant + 2 + swarm.count_at(asking.address.ip)
        taken = 0
        for complete in pools:
            drawn = (swarm.complete if complete else swarm.incomplete).sample(self._rng, size)
            keys.extend(drawn)
            taken += 1
            if len(drawn) >= size and not every:
                break
        return [swarm.peers[key] for key in dict.fromkeys(keys)], taken < len(pools)

    def _ranked(
        self, candidates: list[Peer], asking: Peer, numwant: int, rank: Rank
    ) -> list[PeerAddress]:
        """Up to `numwant` of `candidates` other than the asker, best rank first, in random
        order among equals."""
        classes: dict[int, list[PeerAddress]] = {}
        me = asking.address
        for peer in candidates:
            other = peer.address
            if other.peer_id == me.peer_id or (other.ip, other.port) == (me.ip, me.port):
                continue
            preference = rank(peer)
            if preference is not None:
                classes.setdefault(preference, []).append(other)
        chosen: list[PeerAddress] = []
        for preference in sorted(classes):
            wanted = numwant - len(chosen)
            if wanted <= 0:
                break
            group = classes[preference]
            chosen.extend(self._rng.sample(group, min(wanted, len(group))))
        return chosen

    def stats(self, swarm_key: bytes) -> SwarmStats:
        with self._lock:
            swarm = self._swarms.get(swarm_key)
            if swarm is None:
                return SwarmStats()
            self._expire(swarm, self._clock())
            return swarm.stats()

    def peers(self, swarm_key: bytes) -> list[Peer]:
        """Copies of the swarm's live peers (for health pages and tests)."""
        with self._lock:
            swarm = self._swarms.get(swarm_key)
            if swarm is None:
                return []
            self._expire(swarm, self._clock())
            return [Peer(**vars(peer)) for peer in swarm.peers.values()]
