"""A real BitTorrent swarm across network namespaces: an origin host runs `distributor serve` and a
co-located `seeder run`; client hosts run `client-fetch get --via swarm` at the same time.

What is checked: every client exits 0 with the signed digest and byte-identical files; the hosts
really traded pieces (bytes from peers > 0) and the origin uploaded less than one copy per client
(measured on the origin's `eth0` tx counter, which counts everything: web-seed HTTP, tracker,
seeder, TCP/IP headers); the tracker counted each client's completion once and, once the clients
are gone, still lists the seeder. And a client killed with SIGKILL mid-download continues from
what it had and verifies.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from distributor.keys import init_keys
from image_format.content_paths import swarm_health_path
from tests.fixtures.distributor_server import DEFAULT_TOKEN, run_cli
from tests.netns import Host, HostSpec, Shaping, Topology
from tests.netns.fixtures import TopologyFactory
from tests.support import make_image

MiB = 1 << 20
PORT = 8080
SWARM_PORT = 6881
ORIGIN_MBIT = 50
CLIENT_MBIT = 50
SIZE = 48 * MiB
NAME, VERSION = "netns-swarm", "1.0"


def _env() -> dict[str, str]:
    """This environment without our tools' settings or proxies (only the flags configure them)."""
    drop = ("DISTRIBUTOR_", "CLIENT_FETCH_", "SEEDER_")
    proxies = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    return {
        key: value
        for key, value in os.environ.items()
        if not key.upper().startswith(drop) and key.lower() not in proxies
    }


def _wait_for(check: Callable[[], bool], what: str, timeout_seconds: float = 30) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


@dataclass
class Origin:
    """The origin host: its distributor's URL and data dir, the project key, the image."""

    host: Host
    url: str
    data: Path
    public_key: str
    image: Path
    digest: str

    def health(self) -> dict[str, Any]:
        versions = httpx.get(self.url + swarm_health_path(), timeout=5, trust_env=False).json()
        (found,) = [v for v in versions["versions"] if v["name"] == NAME]
        return dict(found)

    def tracker(self) -> dict[str, int]:
        return dict(self.health()["tracker"])


def start_origin(topo: Topology, tmp_path: Path, size: int) -> Origin:
    """`distributor serve` + co-located `seeder run` on host 0, the image published; returns once
    the tracker lists the seeder."""
    host = topo.hosts[0]
    data = tmp_path / "origin"
    public_key = str(init_keys(data).public_key)
    url = f"http://{host.ip}:{PORT}"
    image = tmp_path / "image.bin"
    digest = make_image(image, size, seed=7)
    publish_on_origin(data, url, NAME, VERSION, image)
    origin = Origin(host, url, data, public_key, image, digest)
    seeder = serve_origin(host, data, public_key, tmp_path)

    def seeded() -> bool:
        assert seeder.poll() is None, (tmp_path / "seeder.log").read_text()
        return origin.tracker()["seeders"] >= 1

    _wait_for(seeded, "the tracker to list the seeder")
    return origin


def publish_on_origin(data: Path, url: str, name: str, version: str, image: Path) -> None:
    published = run_cli(
        *("publish", "--data", str(data), "--public-url", url, "--json", name, version, str(image))
    )
    assert published.returncode == 0, published.stderr


def serve_origin(
    host: Host, data: Path, public_key: str, tmp_path: Path
) -> subprocess.Popen[bytes]:
    """Start `distributor serve` and a co-located `seeder run` on `host`; returns the seeder's
    process once the distributor answers (logs in tmp_path). The topology stops both."""
    url = f"http://{host.ip}:{PORT}"
    env = {
        **_env(),
        "DISTRIBUTOR_ADMIN_TOKEN": DEFAULT_TOKEN,
        "DISTRIBUTOR_TRACKER_INTERVAL_SECONDS": "5",
    }
    server_log = (tmp_path / "server.log").open("wb")
    server = host.popen(
        host.python_argv(
            *("distributor", "serve", "--data", str(data), "--host", host.ip, "--port", str(PORT)),
            *("--public-url", url),
        ),
        stdout=server_log,
        stderr=subprocess.STDOUT,
        env=env,
    )

    def ready() -> bool:
        assert server.poll() is None, (tmp_path / "server.log").read_text()
        try:
            return httpx.get(url + "/readiness", timeout=1, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    _wait_for(ready, "the distributor to be ready")
    seeder_log = (tmp_path / "seeder.log").open("wb")
    seeder = host.popen(
        host.python_argv(
            *("seeder", "run", "--distributor", url, "--data", str(data), "--key", public_key),
            *("--listen", f"{host.ip}:{SWARM_PORT}", "--seeder-id", "origin-seeder"),
            *("--token", DEFAULT_TOKEN, "--poll-seconds", "0.5", "--report-seconds", "1"),
        ),
        stdout=seeder_log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    return seeder


def start_client(
    host: Host, origin: Origin, cache: Path, *extra: str, **env: str
) -> subprocess.Popen[str]:
    return start_get(
        host, origin.url, origin.public_key, cache, f"{NAME}@{VERSION}", "--via", "swarm", *extra
    )


def start_get(
    host: Host, url: str, public_key: str, cache: Path, ref: str, *args: str, **env: str
) -> subprocess.Popen[str]:
    """`client-fetch get REF --json ARGS` on `host`, its swarm on the host's address."""
    settings = {
        "CLIENT_FETCH_SWARM_LISTEN_INTERFACES": f"{host.ip}:{SWARM_PORT}",
        "CLIENT_FETCH_SWARM_STALL_TIMEOUT_SECONDS": "30",
        **env,
    }
    return host.popen(
        host.python_argv(
            *("client_fetch", "get", ref, "--server", url),
            *("--key", public_key, "--cache", str(cache), "--json", *args),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**_env(), **settings},
    )


def finish(host: Host, process: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"{host.name}: exit {process.returncode}: {out}\n{err[-3000:]}"
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def test_clients_fetch_through_the_swarm_and_the_origin_uploads_less(
    netns_topology: TopologyFactory, tmp_path: Path
) -> None:
    topo = netns_topology(
        [HostSpec(upload=Shaping(ORIGIN_MBIT))] + [HostSpec(upload=Shaping(CLIENT_MBIT))] * 4,
        driver_address=True,
    )
    origin = start_origin(topo, tmp_path, SIZE)
    clients = topo.hosts[1:]
    sent_before = origin.host.tx_bytes()
    started = time.monotonic()
    fetches = [start_client(h, origin, tmp_path / f"cache-{h.index}") for h in clients]
    results = [finish(h, f, timeout=90) for h, f in zip(clients, fetches, strict=True)]
    seconds = time.monotonic() - started
    origin_sent = origin.host.tx_bytes() - sent_before

    expected = origin.image.read_bytes()
    for result in results:
        assert result["digest"].removeprefix("sha256:") == origin.digest, result
        assert result["method"] == "swarm", result
        assert result["hash_failures"] == 0, result
        assert Path(result["cache_path"]).read_bytes() == expected
    from_peers = sum(r["bytes_by_source"].get("swarm:peers", 0) for r in results)
    summary = (
        f"{seconds:.1f} s; origin sent {origin_sent / SIZE:.2f}·S; from peers "
        f"{from_peers / SIZE:.2f}·S; results {[r['bytes_by_source'] for r in results]}"
    )
    assert from_peers > SIZE // 2, summary
    assert origin_sent < 0.75 * len(clients) * SIZE, summary

    # Each client completed once (a hybrid torrent announces on both hashes: still once), and
    # after they stopped the seeder is the one seeder left.
    _wait_for(lambda: origin.tracker()["completed"] == len(clients), "4 completions")
    _wait_for(lambda: origin.tracker()["leechers"] == 0, "the clients' stopped announces")
    time.sleep(1.0)  # the second hash's `stopped` arrives too
    tracker = origin.tracker()
    assert tracker["completed"] == len(clients), tracker
    assert tracker["seeders"] == 1 and tracker["leechers"] == 0, tracker


def test_a_client_killed_mid_swarm_download_resumes_and_verifies(
    netns_topology: TopologyFactory, tmp_path: Path
) -> None:
    topo = netns_topology([HostSpec(upload=Shaping(20)), HostSpec()], driver_address=True)
    size = 32 * MiB  # ~13.5 s at 20 Mbit: plenty of time to kill it half-way
    origin = start_origin(topo, tmp_path, size)
    (client,) = topo.hosts[1:]
    cache = tmp_path / "cache"
    progress = tmp_path / "progress"
    first = start_client(client, origin, cache, "--progress-file", str(progress))

    def halfway() -> bool:
        assert first.poll() is None, first.communicate()
        try:
            return float(progress.read_text() or 0) >= 0.4
        except (OSError, ValueError):
            return False

    _wait_for(halfway, "40 % of the first download", timeout_seconds=60)
    time.sleep(5.5)  # past one periodic resume-data save
    os.killpg(first.pid, signal.SIGKILL)
    first.communicate(timeout=10)
    partials = list((cache / "downloads").glob("*.partial"))
    assert partials, sorted(str(p) for p in cache.rglob("*"))

    result = finish(client, start_client(client, origin, cache), timeout=60)
    assert result["digest"].removeprefix("sha256:") == origin.digest, result
    assert Path(result["cache_path"]).read_bytes() == origin.image.read_bytes()
    assert 0 < result["bytes_downloaded"] < 0.7 * size, result
