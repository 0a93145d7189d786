"""Patches through a real swarm across network namespaces (issue 4, point 5): hosts holding v1
all update to v2 at once, and the origin uploads far less than one patch per host.

The origin runs `distributor serve` and a co-located `seeder run` (which seeds v2's patch); four
client hosts already hold v1 (fetched before over loopback from a second server on the same data
dir, then copied), and run `client-fetch get NAME@2` (plan: auto) at the same time.
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path
from typing import Any

import httpx

from distributor.keys import init_keys
from distributor.local_server import start_local_server
from image_format.content_paths import swarm_health_path
from tests.fixtures.distributor_server import DEFAULT_TOKEN
from tests.netns import HostSpec, Shaping
from tests.netns.fixtures import TopologyFactory
from tests.support import run_client
from tests.test_netns_swarm import (
    PORT,
    _env,
    _wait_for,
    finish,
    publish_on_origin,
    serve_origin,
    start_get,
)

MiB = 1 << 20
NAME = "netns-patch"
CHANGED = 6 * MiB  # new bytes in v2: the patch is about this large


def versions(folder: Path) -> tuple[Path, Path]:
    """v1: 16 MiB of random data; v2: the same with 6 MiB in the middle rewritten."""
    rng = random.Random(41)
    old = bytearray(rng.randbytes(16 * MiB))
    new = bytearray(old)
    new[5 * MiB : 5 * MiB + CHANGED] = rng.randbytes(CHANGED)
    v1, v2 = folder / "v1.img", folder / "v2.img"
    v1.write_bytes(old)
    v2.write_bytes(new)
    return v1, v2


def patch_health(url: str) -> dict[str, Any]:
    found = httpx.get(url + swarm_health_path(), timeout=5, trust_env=False).json()["versions"]
    (v2,) = [v for v in found if (v["name"], v["version"]) == (NAME, "2")]
    (patch,) = v2["patches"]
    return dict(patch)


def host_with_v1(data: Path, public_key: str, cache: Path, tmp_path: Path) -> None:
    """Fill `cache` with v1 over loopback from a second server on the origin's data dir."""
    env = {**_env(), "DISTRIBUTOR_ADMIN_TOKEN": DEFAULT_TOKEN}
    log = tmp_path / "loopback-server.log"
    with start_local_server(data, host="127.0.0.62", env=env, log_path=log) as server:
        run = run_client(
            "get", f"{NAME}@1", "--server", server.url, "--key", public_key,
            "--cache", str(cache), "--json", "--via", "http", env=_env(),
        )  # fmt: skip
    assert run.returncode == 0, run.stderr


def test_hosts_update_through_the_patch_swarm_and_the_origin_uploads_less(
    netns_topology: TopologyFactory, tmp_path: Path
) -> None:
    topo = netns_topology(
        [HostSpec(upload=Shaping(20))] + [HostSpec(upload=Shaping(50))] * 4,
        driver_address=True,
    )
    origin, clients = topo.hosts[0], topo.hosts[1:]
    data = tmp_path / "origin"
    public_key = str(init_keys(data).public_key)
    url = f"http://{origin.ip}:{PORT}"
    v1, v2 = versions(tmp_path)
    publish_on_origin(data, url, NAME, "1", v1)
    publish_on_origin(data, url, NAME, "2", v2)
    first_cache = tmp_path / "cache-1"
    host_with_v1(data, public_key, first_cache, tmp_path)
    for host in clients[1:]:
        shutil.copytree(first_cache, tmp_path / f"cache-{host.index}", symlinks=True)
    seeder = serve_origin(origin, data, public_key, tmp_path)

    def seeded() -> bool:
        assert seeder.poll() is None, (tmp_path / "seeder.log").read_text()
        return int(patch_health(url)["tracker"]["seeders"]) >= 1

    _wait_for(seeded, "the tracker to list the seeder in the patch's swarm")
    patch_size = int(patch_health(url)["size"])
    assert CHANGED <= patch_size < 2 * CHANGED

    sent_before = origin.tx_bytes()
    started = time.monotonic()
    updates = [
        start_get(h, url, public_key, tmp_path / f"cache-{h.index}", f"{NAME}@2") for h in clients
    ]
    results = [finish(h, u, timeout=90) for h, u in zip(clients, updates, strict=True)]
    seconds = time.monotonic() - started
    origin_sent = origin.tx_bytes() - sent_before

    expected = v2.read_bytes()
    for result in results:
        assert result["method"] == "delta", result
        assert Path(result["cache_path"]).read_bytes() == expected
    from_peers = sum(r["bytes_by_source"].get("swarm:peers", 0) for r in results)
    summary = (
        f"{seconds:.1f} s; patch {patch_size} bytes; origin sent {origin_sent / patch_size:.2f} "
        f"patches; results {[r['bytes_by_source'] for r in results]}"
    )
    # Every host took the patch through the swarm, and the origin sent far less than one patch
    # per host (its tx counter counts everything: seeder, web seeds, tracker, TCP/IP headers).
    assert all(set(r["bytes_by_source"]) <= {"swarm:peers", "swarm:web-seeds"} for r in results)
    assert from_peers >= len(clients) * patch_size, summary
    assert origin_sent < 0.6 * len(clients) * patch_size, summary
    _wait_for(lambda: patch_health(url)["tracker"]["completed"] == len(clients), "completions")
