"""Status records of a torrent, and the ledger that splits downloaded bytes by kind of source.

libtorrent's torrent status counts payload bytes but does not say which came from BitTorrent peers
and which from web seeds (BEP 19). The ledger counts each finished 16 KiB block by the endpoint
that delivered it (`block_finished_alert`) and classifies endpoints as web seeds when libtorrent
lists them as web/HTTP seed connections or when they are the address of one of the torrent's web
seed URLs. libtorrent does not post an alert for every block (measured: 473 of 489), so `split`
divides the torrent's payload total in the proportion of the blocks seen: exact when one kind of
source delivered everything, an estimate otherwise.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

Endpoint = tuple[str, int]


@dataclass(frozen=True)
class TorrentStatus:
    """A snapshot of one torrent. Byte counts are payload bytes in this session; rates bytes/s."""

    info_hash_v1: str | None
    info_hash_v2: str | None
    state: str
    progress: float
    total_wanted: int
    total_done: int
    bytes_from_peers: int
    bytes_from_web_seeds: int
    redundant_bytes: int
    """Of the bytes from peers and web seeds, those received more than once (libtorrent
    re-requests a block after a timeout, or one skipped by a reply out of request order)."""
    uploaded_bytes: int
    num_peers: int
    num_seeds: int
    download_rate: int
    upload_rate: int
    hash_failures: int
    is_seeding: bool
    is_finished: bool
    """Every wanted piece passed its hash check. `total_done` alone does not say so: libtorrent
    counts the blocks of a piece as done once written, before the piece's hash is checked."""
    error: str | None

    @property
    def complete(self) -> bool:
        """Every wanted byte is held and verified against the torrent's piece hashes."""
        return bool(self.total_wanted) and self.is_finished and self.total_done >= self.total_wanted


def web_seed_endpoints(urls: Iterable[str]) -> set[Endpoint]:
    """The addresses of the web seed URLs' hosts (unresolvable hosts are skipped)."""
    endpoints: set[Endpoint] = set()
    for url in urls:
        parts = urlsplit(url)
        if not parts.hostname:
            continue
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
        except OSError:
            continue
        for info in infos:
            endpoints.add((str(info[4][0]), port))
    return endpoints


class TransferLedger:
    """Bytes received per kind of source, from finished blocks.

    Not responsible for reading alerts (the session hands it blocks) nor for thread safety (the
    session calls it under its lock). Never raises.
    """

    def __init__(self, web_seeds: set[Endpoint], *, web_seeds_in_use: bool = True) -> None:
        self._web_seeds = set(web_seeds)
        self._web_seeds_in_use = web_seeds_in_use
        self._by_endpoint: dict[Endpoint, int] = {}
        self._web_seed_connected = False
        self._peer_connected = False

    def web_seeds_added(self) -> None:
        """The torrent's web seeds, left out when it was added, are in it now."""
        self._web_seeds_in_use = True

    def learn_web_seed(self, endpoint: Endpoint) -> None:
        self._web_seeds.add(endpoint)
        self._web_seed_connected = True

    def learn_request(self, endpoint: Endpoint) -> None:
        """A block was asked of `endpoint`: while no web seed is in the torrent, a BitTorrent peer
        was connected, even if the download ends between two looks at the peer list and without
        a single block_finished alert (libtorrent leaves some out). Once web seeds are in, a
        request says nothing (libtorrent asks web seeds the same way, at addresses that may not
        be the ones their URLs resolved to)."""
        if not self._web_seeds_in_use:
            self.learn_peer(endpoint)

    def learn_peer(self, endpoint: Endpoint) -> None:
        """A BitTorrent peer (not a web seed) was connected at some point."""
        if endpoint not in self._web_seeds:
            self._peer_connected = True

    def add_block(self, endpoint: Endpoint, size: int) -> None:
        self._by_endpoint[endpoint] = self._by_endpoint.get(endpoint, 0) + size

    def split(self, total_payload_bytes: int) -> tuple[int, int]:
        """(bytes from peers, bytes from web seeds), summing to `total_payload_bytes`."""
        web = sum(n for ep, n in self._by_endpoint.items() if ep in self._web_seeds)
        seen = sum(self._by_endpoint.values())
        if seen == 0:  # no block alert reached us (a loaded machine): go by who could send
            # libtorrent's peer list rarely shows web seed connections (measured: never during a
            # web-seed-only download), so a torrent with web seeds and no BitTorrent peer ever
            # seen got its bytes from the web seeds.
            could_send = self._web_seeds_in_use and bool(self._web_seeds)
            if not self._peer_connected and (self._web_seed_connected or could_send):
                return (0, total_payload_bytes)
            return (total_payload_bytes, 0)
        from_web = round(total_payload_bytes * web / seen)
        return (total_payload_bytes - from_web, from_web)
