"""Torrents at publish, over a real distributor: the manifest names the torrent, the server serves
it content-addressed, and its web seed alone completes a libtorrent download."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from swarm.download import download_file
from swarm.torrent_file import parse_torrent
from tests.fixtures.distributor_server import RunningDistributor, run_cli
from tests.support import make_image
from tests.swarm_helpers import sessions, sha256_file

SIZE = 8 * (1 << 20) + 99


def publish_with_torrent(
    dist: RunningDistributor, name: str, version: str, path: Path, *extra: str
) -> dict[str, Any]:
    done = run_cli(
        "publish", "--data", str(dist.data_dir), "--public-url", dist.url, "--json",
        *extra, name, version, str(path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_published_version_names_a_served_hybrid_torrent(
    tmp_path: Path, distributor: RunningDistributor
) -> None:
    image = tmp_path / "img"
    digest = make_image(image, SIZE)
    publish_with_torrent(distributor, "debian", "1", image)
    with httpx.Client(base_url=distributor.url) as http:
        envelope = http.get("/v1/images/debian/versions/1/manifest").json()
        ref = envelope["signed"]["torrent"]
        answer = http.get(f"/v1/torrents/sha256/{ref['sha256']}")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/x-bittorrent"
        assert "immutable" in answer.headers["cache-control"]
        assert answer.headers["etag"] == f'"{ref["sha256"]}"'
        assert hashlib.sha256(answer.content).hexdigest() == ref["sha256"]
        assert len(answer.content) == ref["size"]
        etag = answer.headers["etag"]
        again = http.get(f"/v1/torrents/sha256/{ref['sha256']}", headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert http.head(f"/v1/torrents/sha256/{ref['sha256']}").status_code == 200
        assert http.get(f"/v1/torrents/sha256/{'0' * 64}").status_code == 404
        assert http.get("/v1/torrents/sha256/nothex").status_code == 400
    parsed = parse_torrent(answer.content)
    assert parsed.info_hash_v1 == ref["info_hash_v1"]
    assert parsed.info_hash_v2 == ref["info_hash_v2"]
    assert parsed.info.priv()
    assert parsed.total_size == SIZE
    assert parsed.web_seeds == (f"{distributor.url}/v1/blobs/sha256/{digest}",)
    assert b"/v1/tracker/announce" in answer.content
    assert f"{distributor.url}/v1/tracker/announce".encode() in answer.content


def test_web_seed_alone_completes_a_swarm_download(
    tmp_path: Path, distributor: RunningDistributor
) -> None:
    image = tmp_path / "img"
    digest = make_image(image, SIZE, seed=3)
    summary = publish_with_torrent(distributor, "debian", "2", image)
    torrent = httpx.get(f"{distributor.url}/v1/torrents/sha256/{summary['torrent']['sha256']}")
    target = tmp_path / "downloads" / f"{digest}.partial"
    target.parent.mkdir()
    with sessions(31) as (leecher,):
        report = download_file(leecher, torrent.content, target, stall_timeout_seconds=30)
    assert sha256_file(target) == digest
    assert report.bytes_from_web_seeds - report.redundant_bytes == SIZE
    assert report.bytes_from_peers == 0
    origin = httpx.get(f"{distributor.url}/v1/stats/origin").json()
    assert json.dumps(origin).find(digest) >= 0


def test_v1_option_and_mirrors(tmp_path: Path, distributor: RunningDistributor) -> None:
    image = tmp_path / "img"
    digest = make_image(image, 1 << 20)
    summary = publish_with_torrent(distributor, "data", "1", image, "--torrent-format", "v1")
    ref = summary["torrent"]
    assert ref["info_hash_v1"] and "info_hash_v2" not in ref
    data = distributor.data_dir / "torrents" / "sha256" / ref["sha256"][:2] / ref["sha256"]
    assert parse_torrent(data.read_bytes()).info_hash_v2 is None
    env = {**os.environ, "DISTRIBUTOR_MIRROR_URLS": '["http://mirror.example/base/"]'}
    mirrored = subprocess.run(
        [sys.executable, "-m", "distributor", "publish", "--data", str(distributor.data_dir),
         "--public-url", distributor.url, "--json", "data", "2", str(image)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert mirrored.returncode == 0, mirrored.stderr
    sha = json.loads(mirrored.stdout)["torrent"]["sha256"]
    served = httpx.get(f"{distributor.url}/v1/torrents/sha256/{sha}").content
    assert parse_torrent(served).web_seeds == (
        f"{distributor.url}/v1/blobs/sha256/{digest}",
        f"http://mirror.example/base/v1/blobs/sha256/{digest}",
    )


def test_torrents_can_be_disabled(tmp_path: Path, distributor: RunningDistributor) -> None:
    image = tmp_path / "img"
    make_image(image, 1 << 20)
    env = {**os.environ, "DISTRIBUTOR_TORRENT_ENABLED": "false"}
    done = subprocess.run(
        [sys.executable, "-m", "distributor", "publish", "--data", str(distributor.data_dir),
         "--json", "plain", "1", str(image)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["torrent"] is None
