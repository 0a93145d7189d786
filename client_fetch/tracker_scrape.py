"""Asking the distributor's tracker how big a version's swarm is (BEP 48 scrape).

Not responsible for deciding anything with the answer (the planner does). Errors: none escape;
an unreachable tracker or an answer that does not decode gives None ("unknown").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote_from_bytes

import httpx

from image_format.bencode import BencodeError, bdecode
from image_format.content_paths import scrape_path
from image_format.manifest import TorrentRef


@dataclass(frozen=True)
class SwarmCounts:
    """Seeders (complete), leechers (incomplete) and completed downloads of one swarm."""

    complete: int
    incomplete: int
    downloaded: int


def tracker_info_hash(torrent: TorrentRef) -> bytes | None:
    """The 20 bytes trackers know a torrent by: v1, else v2 truncated (BEP 52)."""
    if torrent.info_hash_v1:
        return bytes.fromhex(torrent.info_hash_v1)
    if torrent.info_hash_v2:
        return bytes.fromhex(torrent.info_hash_v2)[:20]
    return None


def scrape(client: httpx.Client, servers: Sequence[str], torrent: TorrentRef) -> SwarmCounts | None:
    info_hash = tracker_info_hash(torrent)
    if info_hash is None:
        return None
    query = "info_hash=" + quote_from_bytes(info_hash, safe="")
    for server in servers:
        try:
            response = client.get(f"{server}{scrape_path()}?{query}", timeout=5.0)
            decoded = bdecode(response.content)
        except (httpx.HTTPError, BencodeError):
            continue
        if not isinstance(decoded, dict):
            continue
        files = decoded.get(b"files")
        entry = files.get(info_hash) if isinstance(files, dict) else None
        if isinstance(entry, dict):
            counts = [entry.get(key, 0) for key in (b"complete", b"incomplete", b"downloaded")]
            complete, incomplete, downloaded = (c if isinstance(c, int) else 0 for c in counts)
            return SwarmCounts(complete, incomplete, downloaded)
    return None
