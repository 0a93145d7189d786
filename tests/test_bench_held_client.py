"""`bench.held_client`, the swarm benchmark's held `client-fetch`: it stops just before adding its
torrent (the tracker has not heard of it, the cache holds no image) until released, then
finishes the unchanged command's verified fetch. A real distributor on loopback (its web seed
completes the swarm download: no seeder needed)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench.held_client import READY_PREFIX, RELEASE_NAME
from tests.fixtures.distributor_server import RunningDistributor, publish
from tests.support import cache_state, make_image
from tests.test_client_swarm import client_env, get_args, health_of, wait_for

NAME, VERSION = "swarmimg", "1.0"


def test_a_held_client_adds_its_torrent_only_once_released(
    distributor: RunningDistributor, tmp_path: Path
) -> None:
    image = tmp_path / "image.img"
    digest = make_image(image, 3 * (1 << 20) + 17, seed=5)
    publish(distributor, NAME, VERSION, image)
    hold, cache = tmp_path / "hold", tmp_path / "cache"
    hold.mkdir()
    argv = [sys.executable, "-m", "bench.held_client", str(hold)]
    child = subprocess.Popen(
        [*argv, *get_args(distributor, cache, "swarm")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=client_env(61),
    )  # fmt: skip
    try:
        wait_for(lambda: any(hold.glob(f"{READY_PREFIX}*")), what="the held client")
        time.sleep(0.5)
        assert child.poll() is None
        assert cache_state(cache)["images"] == []
        tracker = health_of(distributor)["tracker"]
        assert tracker["leechers"] == 0 and tracker["completed"] == 0
        (hold / RELEASE_NAME).touch()
        stdout, stderr = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 0, stderr
    assert digest in stdout and '"method": "swarm"' in stdout
    assert len(cache_state(cache)["images"]) == 1
