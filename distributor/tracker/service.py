"""The tracker: raw query in, bencoded answer out (announce BEP 3/23/7, scrape BEP 48).

Only swarms of torrents the catalog knows are served (`KnownTorrents`); both hashes of a hybrid
torrent reach the same swarm. The hand-out prefers, in order: the project's own seeders, other
complete peers, then the rest; random among equals; never the asking peer itself. A complete
asker (a seeder) gets only incomplete peers. A project seeder is a peer whose (ip, port) equals
the listen endpoint of a seeder that reported recently (`ProjectSeeders`, fed by swarm health).

Not responsible for HTTP (the route passes the raw query and the peer's address) nor for keeping
peers (`SwarmRegistry`). Error contract: `announce` and `scrape` never raise for anything a client
sends: refusals (and a catalog that cannot answer) come back as a bencoded `failure reason`.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import time
import uuid
from collections.abc import Callable
from typing import Protocol

from distributor.errors import CatalogError
from distributor.tracker import errors, responses
from distributor.tracker.config import TrackerConfig
from distributor.tracker.errors import TrackerFailure
from distributor.tracker.query import AnnounceRequest, parse_announce, parse_scrape
from distributor.tracker.registry import (
    PREFER_COMPLETE,
    Peer,
    PeerAddress,
    SwarmRegistry,
    SwarmStats,
)
from distributor.tracker.torrent_index import KnownTorrents, TorrentEntry

log = logging.getLogger(__name__)
UNAVAILABLE = "tracker temporarily unavailable"


class ProjectSeeders(Protocol):
    """The listen endpoints (ip, port) of the project's seeders that reported recently."""

    def endpoints(self) -> frozenset[tuple[str, int]]: ...


class NoProjectSeeders:
    def endpoints(self) -> frozenset[tuple[str, int]]:
        return frozenset()


def normalize_ip(text: str) -> str:
    """The canonical text of an IP address (IPv4-mapped IPv6 → IPv4); raises ValueError."""
    address = ipaddress.ip_address(text.strip("[]"))
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


class Tracker:
    """Announce and scrape over a `KnownTorrents` index and an in-memory `SwarmRegistry`.

    `instance_id` is new with every tracker: its peers live in memory, so a restarted distributor
    knows none until each announces again, which libtorrent does only every 300 s. Seeders read
    it from their report answers and announce at once when it changes.
    """

    def __init__(
        self,
        torrents: KnownTorrents,
        config: TrackerConfig | None = None,
        *,
        seeders: ProjectSeeders | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config or TrackerConfig()
        self.instance_id = uuid.uuid4().hex
        self.torrents = torrents
        self.seeders: ProjectSeeders = seeders or NoProjectSeeders()
        self.registry = SwarmRegistry(
            peer_ttl_seconds=self.config.peer_ttl_seconds,
            max_peers_per_swarm=self.config.max_peers_per_swarm,
            max_peers_per_address=self.config.max_peers_per_address,
            clock=clock,
            rng=rng,
        )
        self._override_networks = [
            ipaddress.ip_network(net, strict=False) for net in self.config.ip_override_networks
        ]

    def announce(self, raw_query: bytes, remote_ip: str) -> bytes:
        try:
            request = parse_announce(raw_query)
            entry = self._known(request.info_hash)
            return self._announce(entry, request, self._peer_ip(request, remote_ip))
        except TrackerFailure as exc:
            return responses.failure(exc.reason, retry_seconds=self._retry_seconds)
        except CatalogError as exc:
            log.error("tracker: announce while the catalog cannot answer: %s", exc)
            return responses.failure(UNAVAILABLE, retry_seconds=self._retry_seconds)

    @property
    def _retry_seconds(self) -> int:
        """When a refused announcer should try again (see `responses.failure`): the usual
        interval, so clients that obey it do not come back sooner than announces do."""
        return self.config.interval_seconds

    def scrape(self, raw_query: bytes) -> bytes:
        try:
            wanted = parse_scrape(raw_query)
            if len(wanted) > self.config.scrape_max_swarms:
                raise TrackerFailure(errors.TOO_MANY_INFO_HASHES)
            files: dict[bytes, SwarmStats] = {}
            if wanted:
                for info_hash in wanted:
                    entry = self.torrents.lookup(info_hash)
                    if entry is not None:
                        files[info_hash] = self.registry.stats(entry.swarm)
            else:
                for entry in self.torrents.entries()[: self.config.scrape_max_swarms]:
                    files[entry.swarm] = self.registry.stats(entry.swarm)
            return responses.scrape(files)
        except TrackerFailure as exc:
            return responses.failure(exc.reason)
        except CatalogError as exc:
            log.error("tracker: scrape while the catalog cannot answer: %s", exc)
            return responses.failure(UNAVAILABLE)

    def stats(self, entry: TorrentEntry) -> SwarmStats:
        return self.registry.stats(entry.swarm)

    def _known(self, info_hash: bytes) -> TorrentEntry:
        entry = self.torrents.lookup(info_hash)
        if entry is None:
            raise TrackerFailure(errors.UNKNOWN_INFO_HASH)
        return entry

    def _peer_ip(self, request: AnnounceRequest, remote_ip: str) -> str:
        try:
            remote = normalize_ip(remote_ip)
        except ValueError:
            raise TrackerFailure(errors.BAD_IP) from None
        if request.ip is None:
            return remote
        trusted = any(ipaddress.ip_address(remote) in net for net in self._override_networks)
        if not trusted:
            return remote
        try:
            return normalize_ip(request.ip)
        except ValueError:
            raise TrackerFailure(errors.BAD_IP) from None

    def _announce(self, entry: TorrentEntry, request: AnnounceRequest, ip: str) -> bytes:
        config = self.config
        numwant = config.numwant_default if request.numwant is None else request.numwant
        numwant = min(numwant, config.numwant_max)
        project = self.seeders.endpoints()
        asker_complete = request.left == 0

        def rank(peer: Peer) -> int | None:
            if asker_complete:
                return None if peer.complete else 0
            if (peer.address.ip, peer.address.port) in project:
                return 0
            return 1 if peer.complete else 2

        announced = self.registry.announce(
            entry.swarm,
            PeerAddress(request.peer_id, ip, request.port),
            left=request.left,
            uploaded=request.uploaded,
            downloaded=request.downloaded,
            event=request.event,
            numwant=numwant,
            rank=rank,
            preferred=project,
            pools=(False,) if asker_complete else PREFER_COMPLETE,
        )
        return responses.announce(
            announced.stats,
            announced.peers,
            interval_seconds=config.interval_seconds,
            min_interval_seconds=config.effective_min_interval_seconds,
            compact=request.compact,
            no_peer_id=request.no_peer_id,
        )
