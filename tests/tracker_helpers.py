"""Helpers for tracker and swarm health tests: real HTTP announces and scrapes with raw bytes,
and the info-hashes of a published version (from its signed manifest, or a hand-built catalog
record when publishing does not make torrents)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

import httpx

from distributor.catalog.base import VersionRecord
from distributor.catalog.sqlite import SqliteCatalog
from distributor.keys import load_signing_key
from image_format.bencode import bdecode
from image_format.content_paths import announce_path, manifest_path, scrape_path
from image_format.manifest import Manifest, TorrentRef, utc_timestamp
from image_format.signing import sign_manifest
from tests.fixtures.distributor_server import RunningDistributor, publish
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


def _hand_built_torrent(
    dist: RunningDistributor, name: str, version: str, sha256: str, size: int
) -> TorrentRef:
    """Record NAME@VERSION (content `sha256`) with a made-up hybrid torrent, signed, in the
    server's catalog; the running server sees it at once (SQLite WAL)."""
    seed = hashlib.sha256(f"{name}@{version}".encode()).digest()
    torrent = TorrentRef(
        sha256=hashlib.sha256(seed + b"t").hexdigest(),
        size=1000,
        info_hash_v1=hashlib.sha1(seed).hexdigest(),
        info_hash_v2=hashlib.sha256(seed + b"v2").hexdigest(),
    )
    manifest = Manifest(
        name=name,
        version=version,
        size=size,
        sha256=sha256,
        created=utc_timestamp(),
        torrent=torrent,
    )
    envelope = sign_manifest(manifest, load_signing_key(dist.data_dir))
    catalog = SqliteCatalog(dist.data_dir / "catalog.sqlite")
    try:
        record = VersionRecord(name, version, "image", sha256, size, manifest.created, envelope)
        catalog.add_version(record)
    finally:
        catalog.close()
    return torrent


def _manifest_torrent(dist: RunningDistributor, name: str, version: str) -> TorrentRef | None:
    answer = httpx.get(dist.url + manifest_path(name, version), timeout=10)
    answer.raise_for_status()
    torrent = answer.json()["signed"].get("torrent")
    return None if torrent is None else TorrentRef.model_validate(torrent)


def published_torrent(
    dist: RunningDistributor, tmp: Path, name: str, version: str, size: int = 256 * 1024
) -> TorrentRef:
    """Publish NAME@VERSION and return its manifest's torrent.

    While publishing makes no torrents, the content is published under a scratch name (so the
    blob is stored) and NAME@VERSION is recorded with a hand-built torrent for the same blob.
    """
    image = tmp / f"{name}-{version}.img"
    digest = make_image(image, size, seed=size)
    publish(dist, f"{name}-probe", version, image)
    if _manifest_torrent(dist, f"{name}-probe", version) is None:
        return _hand_built_torrent(dist, name, version, digest, size)
    publish(dist, name, version, image)
    torrent = _manifest_torrent(dist, name, version)
    assert torrent is not None
    return torrent


def tracker_hash(ref: TorrentRef) -> bytes:
    """The hash a v1-speaking client announces (v1, else the v2 hash truncated)."""
    if ref.info_hash_v1:
        return bytes.fromhex(ref.info_hash_v1)
    assert ref.info_hash_v2
    return bytes.fromhex(ref.info_hash_v2)[:20]
