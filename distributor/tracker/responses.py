"""Bencoded tracker answers: failure (BEP 3), announce with compact IPv4/IPv6 peers (BEP 23,
BEP 7) or the dictionary list, and scrape (BEP 48). Pure functions; raise nothing."""

from __future__ import annotations

from collections.abc import Iterable

from distributor.tracker.registry import PeerAddress, SwarmStats
from image_format.bencode import Encodable, bencode

CONTENT_TYPE = "text/plain"
IPV4_ENTRY_BYTES = 6


def failure(reason: str, *, retry_seconds: int | None = None) -> bytes:
    """A refusal. For an announce, `retry_seconds` goes out as `interval`: a
    failure without an interval makes libtorrent wait 1800 s before announcing again (measured,
    libtorrent 2.1.1; BEP 31's `retry in` changes nothing), so a peer refused once, say while the
    catalog could not answer, was missing from the swarm for half an hour. With one it waits
    max(interval, its `min_announce_interval`), 300 s."""
    body: dict[str, Encodable] = {"failure reason": reason}
    if retry_seconds is not None:
        body["interval"] = retry_seconds
    return bencode(body)


def _compact(peers: Iterable[PeerAddress]) -> tuple[bytes, bytes]:
    """(`peers`: 6-byte IPv4 entries, `peers6`: 18-byte IPv6 entries)."""
    v4, v6 = bytearray(), bytearray()
    for peer in peers:
        entry = peer.compact
        (v4 if len(entry) == IPV4_ENTRY_BYTES else v6).extend(entry)
    return bytes(v4), bytes(v6)


def announce(
    stats: SwarmStats,
    peers: list[PeerAddress],
    *,
    interval_seconds: int,
    min_interval_seconds: int,
    compact: bool,
    no_peer_id: bool,
) -> bytes:
    body: dict[str, Encodable] = {
        "interval": interval_seconds,
        "min interval": min_interval_seconds,
        "complete": stats.seeders,
        "incomplete": stats.leechers,
        "downloaded": stats.completed,
    }
    if compact:
        body["peers"], body["peers6"] = _compact(peers)
    else:
        listed: list[Encodable] = []
        for peer in peers:
            entry: dict[str, Encodable] = {"ip": peer.ip, "port": peer.port}
            if not no_peer_id:
                entry["peer id"] = peer.peer_id
            listed.append(entry)
        body["peers"] = listed
    return bencode(body)


def scrape(files: dict[bytes, SwarmStats]) -> bytes:
    return bencode(
        {
            "files": {
                info_hash: {
                    "complete": stats.seeders,
                    "incomplete": stats.leechers,
                    "downloaded": stats.completed,
                }
                for info_hash, stats in files.items()
            }
        }
    )
