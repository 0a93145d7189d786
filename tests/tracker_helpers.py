"""Helpers for tracker and swarm health tests: real HTTP announces and scrapes with raw bytes,
and the info-hashes of a published version (from its signed manifest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

import httpx

from image_format.bencode import bdecode
from image_format.content_paths import announce_path, manifest_path, scrape_path
from image_format.manifest import TorrentRef
from tests.fixtures.distributor_server import RunningDistributor, run_cli
from tests.support import make_image


def _q(value: object) -> str:
    raw = value if isinstance(value, bytes) else str(value).encode()
    return quote_from_bytes(raw, safe="")


def peer_id(n: int) -> bytes:
    return b"-TS0001-" + n.to_bytes(12, "big")


def announce_raw(url: str, **fields: object) -> httpx.Response:
    query = "&".join(f"{key}={_q(value)}" for key, value in fields.items() if value is not None)
    return httpx.get(f"{url}{announce_path()}?{query}", timeout=10)


def announce(
    url: str, info_hash: bytes, n: int, *, left: int = 1, ip: str | None = None, **fields: object
) -> dict[bytes, Any]:
    """Announce as peer `n` (port 6000+n, address `ip` via the loopback-trusted `ip` parameter)."""
    values: dict[str, object] = {
        "info_hash": info_hash,
        "peer_id": peer_id(n),
        "port": 6000 + n,
        "uploaded": 0,
        "downloaded": 0,
        "left": left,
        "compact": 1,
        "ip": ip,
    }
    values.update(fields)
    answer = announce_raw(url, **values)
    assert answer.status_code == 200, answer.text
    body = bdecode(answer.content)
    assert isinstance(body, dict)
    return body


def scrape(url: str, *hashes: bytes) -> dict[bytes, Any]:
    query = "&".join(f"info_hash={_q(h)}" for h in hashes)
    answer = httpx.get(f"{url}{scrape_path()}?{query}", timeout=10)
    assert answer.status_code == 200, answer.text
    body = bdecode(answer.content)
    assert isinstance(body, dict)
    return body


def _manifest_torrent(dist: RunningDistributor, name: str, version: str) -> TorrentRef | None:
    answer = httpx.get(dist.url + manifest_path(name, version), timeout=10)
    answer.raise_for_status()
    torrent = answer.json()["signed"].get("torrent")
    return None if torrent is None else TorrentRef.model_validate(torrent)


def published_torrent(
    dist: RunningDistributor, tmp: Path, name: str, version: str, size: int = 256 * 1024
) -> TorrentRef:
    """Publish NAME@VERSION with the real CLI (the torrent's tracker and web seed are this
    server's) and return the torrent its signed manifest names."""
    image = tmp / f"{name}-{version}.img"
    make_image(image, size, seed=size)
    done = run_cli(
        *("publish", "--data", str(dist.data_dir), "--public-url", dist.url),
        *(name, version, str(image)),
    )
    assert done.returncode == 0, f"publish {name}@{version} failed: {done.stderr}"
    torrent = _manifest_torrent(dist, name, version)
    assert torrent is not None, f"publishing {name}@{version} made no torrent"
    return torrent


def tracker_hash(ref: TorrentRef) -> bytes:
    """The hash a v1-speaking client announces (v1, else the v2 hash truncated)."""
    if ref.info_hash_v1:
        return bytes.fromhex(ref.info_hash_v1)
    assert ref.info_hash_v2
    return bytes.fromhex(ref.info_hash_v2)[:20]
