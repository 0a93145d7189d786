"""Interop: aria2c (Debian `aria2`) downloads a published v1 torrent from our seeder, found through
our tracker, and gets a byte-identical image."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx

from tests.fixtures.distributor_server import RunningDistributor, run_cli
from tests.seeder_helpers import running_seeder, without_web_seeds
from tests.support import make_image
from tests.swarm_helpers import sha256_file
from tests.tools import require_binary

SIZE = 8 * (1 << 20) + 5


def test_aria2_downloads_a_v1_torrent_from_our_seeder(
    tmp_path: Path, distributor: RunningDistributor
) -> None:
    aria2c = require_binary("aria2c", "aria2")
    image = tmp_path / "img"
    digest = make_image(image, SIZE, seed=21)
    done = run_cli(
        "publish", "--data", str(distributor.data_dir), "--public-url", distributor.url,
        "--torrent-format", "v1", "--json", "debian", "4", str(image),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    sha = json.loads(done.stdout)["torrent"]["sha256"]
    torrent = httpx.get(f"{distributor.url}/v1/torrents/sha256/{sha}").content
    # Same info-hash, no web seeds: aria2 can only get the bytes from a peer the tracker names.
    torrent_file = tmp_path / "debian-4.torrent"
    torrent_file.write_bytes(without_web_seeds(torrent))
    out = tmp_path / "aria2"
    log = tmp_path / "seeder.log"
    with running_seeder(distributor, distributor.data_dir, "127.0.0.26", log):
        fetched = subprocess.run(
            [aria2c, "--dir", str(out), "--seed-time=0", "--enable-dht=false",
             "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
             "--bt-stop-timeout=60", "--summary-interval=0", "--console-log-level=warn",
             "--file-allocation=none", "--listen-port=6991-6999", str(torrent_file)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert fetched.returncode == 0, fetched.stdout[-2000:] + fetched.stderr[-2000:]
    assert sha256_file(out / "debian-4") == digest
