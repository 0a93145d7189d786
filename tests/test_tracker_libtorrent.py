"""The tracker with real libtorrent clients: their announces (both hashes of a hybrid torrent)
make one swarm, a completed download counts once, and the hand-out names their real endpoints."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from image_format.content_paths import blob_relpath, swarm_health_path, torrent_path
from swarm.download import download_file
from tests.fixtures.distributor_server import running_distributor
from tests.swarm_helpers import sessions, sha256_file
from tests.tracker_helpers import announce, published_torrent, tracker_hash

SIZE = 4 << 20


def tracker_counts(url: str, name: str) -> dict[str, Any]:
    versions = httpx.get(url + swarm_health_path(), timeout=10).json()["versions"]
    (found,) = [v for v in versions if v["name"] == name]
    return dict(found["tracker"])


def wait_for(check: Any, timeout_seconds: float = 20) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def endpoints(blob: bytes) -> set[tuple[str, int]]:
    return {
        (".".join(str(b) for b in blob[i : i + 4]), int.from_bytes(blob[i + 4 : i + 6]))
        for i in range(0, len(blob), 6)
    }


def test_libtorrent_peers_in_one_swarm(tmp_path: Path) -> None:
    env = {"DISTRIBUTOR_TRACKER_INTERVAL_SECONDS": "2"}
    with running_distributor(tmp_path / "distributor", extra_env=env) as server:
        ref = published_torrent(server, tmp_path, "lt", "1", size=SIZE)
        assert ref.info_hash_v1 and ref.info_hash_v2  # hybrid: libtorrent announces both
        torrent = httpx.get(server.url + torrent_path(ref.sha256), timeout=10).content
        versions = httpx.get(server.url + swarm_health_path(), timeout=10).json()["versions"]
        digest = next(v["sha256"] for v in versions if v["name"] == "lt")
        blob = server.data_dir / "blobs" / blob_relpath(digest)
        with sessions(2, 3) as (seeder, leecher):
            seeder.add_seed(torrent, blob)
            wait_for(lambda: tracker_counts(server.url, "lt")["seeders"] == 1)
            target = tmp_path / "out.partial"
            download_file(leecher, torrent, target, stall_timeout_seconds=30)
            assert sha256_file(target) == digest
            wait_for(lambda: tracker_counts(server.url, "lt")["completed"] == 1)
            wait_for(lambda: tracker_counts(server.url, "lt")["seeders"] == 1)  # leecher stopped
            time.sleep(1.0)  # and its second `stopped` (the other hash) has arrived
            counts = tracker_counts(server.url, "lt")
            assert counts["downloaded_bytes"] == SIZE  # two hashes, stopped twice: counted once
            view = announce(server.url, tracker_hash(ref), 99, ip="10.9.0.1")
            assert ("127.0.0.2", seeder.listen_port) in endpoints(view[b"peers"])
            assert view[b"complete"] >= 1
