"""The seeder daemon as a real process against a real distributor, with real libtorrent peers."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import httpx

from tests.fixtures.distributor_server import RunningDistributor, run_cli
from tests.seeder_helpers import download_from_seeder, running_seeder, without_web_seeds
from tests.support import make_image
from tests.swarm_helpers import sha256_file

SIZE = 8 * (1 << 20) + 7
NOWHERE = "http://127.0.0.1:9"  # nothing listens: web seeds that can never deliver


def publish(dist: RunningDistributor, name: str, version: str, path: Path, public_url: str) -> str:
    done = run_cli(
        "publish", "--data", str(dist.data_dir), "--public-url", public_url, "--json",
        name, version, str(path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    sha: str = json.loads(done.stdout)["torrent"]["sha256"]
    return sha


def torrent_bytes(dist: RunningDistributor, sha: str) -> bytes:
    return httpx.get(f"{dist.url}/v1/torrents/sha256/{sha}").content


def test_colocated_seeder_picks_up_a_new_version_and_serves_it(
    tmp_path: Path, distributor: RunningDistributor
) -> None:
    log = tmp_path / "seeder.log"
    with running_seeder(distributor, distributor.data_dir, "127.0.0.21", log) as (child, port):
        time.sleep(1.5)
        image = tmp_path / "img"
        digest = make_image(image, SIZE, seed=11)
        published = time.monotonic()
        sha = publish(distributor, "debian", "1", image, NOWHERE)
        target = tmp_path / "out.partial"
        report = download_from_seeder(
            torrent_bytes(distributor, sha), target, "127.0.0.21", port, 22, deadline_seconds=15
        )
        assert time.monotonic() - published < 12
        assert sha256_file(target) == digest
        assert report.bytes_from_peers - report.redundant_bytes == SIZE
        assert report.bytes_from_web_seeds == 0
        # Seeding in place: the seeder made no copy of the blob.
        assert not (distributor.data_dir / "seeder").exists()
        time.sleep(2)
        health = httpx.get(f"{distributor.url}/v1/swarm/health").text
        assert f"seeder-{port}" in health
        # Retired: the seeder stops seeding it at its next poll.
        retired = run_cli("retire", "--data", str(distributor.data_dir), "debian", "1")
        assert retired.returncode == 0, retired.stderr
        deadline = time.monotonic() + 10
        while "stopped seeding debian@1" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "stopped seeding debian@1 (no longer listed)" in log.read_text()
        stopping = time.monotonic()
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=10) == 0
        assert time.monotonic() - stopping < 5
    assert "seeding debian@1" in log.read_text()


def test_remote_seeder_downloads_verifies_then_seeds(
    tmp_path: Path, distributor: RunningDistributor
) -> None:
    image = tmp_path / "img"
    digest = make_image(image, SIZE, seed=12)
    sha = publish(distributor, "debian", "2", image, distributor.url)
    own = tmp_path / "seeder-data"
    log = tmp_path / "seeder.log"
    with running_seeder(distributor, own, "127.0.0.23", log) as (_child, port):
        torrent = without_web_seeds(torrent_bytes(distributor, sha))
        target = tmp_path / "out.partial"
        report = download_from_seeder(torrent, target, "127.0.0.23", port, 24, deadline_seconds=30)
        assert sha256_file(target) == digest
        # Not `==`: the seeder is still downloading when the host joins it. Its replies can come
        # out of request order (libtorrent then asks again), and a rejoin fetches partial pieces
        # again. Neither counts as new bytes; all of them came from the seeder.
        assert report.bytes_from_peers >= SIZE and report.bytes_from_web_seeds == 0
    copy = own / "blobs" / "sha256" / digest[:2] / digest
    assert sha256_file(copy) == digest
    assert "downloading debian@2 through the swarm" in log.read_text()


def test_seeder_refuses_manifests_signed_by_another_key(
    tmp_path: Path, distributor: RunningDistributor
) -> None:
    from distributor.keys import init_keys

    other = str(init_keys(tmp_path / "other").public_key)
    image = tmp_path / "img"
    make_image(image, 1 << 20)
    publish(distributor, "debian", "3", image, distributor.url)
    log = tmp_path / "seeder.log"
    own = tmp_path / "seeder-data"
    with running_seeder(distributor, own, "127.0.0.25", log, "--key", other):
        time.sleep(3)
    text = log.read_text()
    assert "refused" in text and "seeding debian@3" not in text
    assert not (own / "blobs" / "sha256").exists()
