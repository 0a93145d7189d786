"""`client-fetch seed`: a volunteer's cached image serves another host through the swarm."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import quote_from_bytes

import httpx

from image_format.bencode import bdecode
from tests.fixtures.distributor_server import RunningDistributor, publish
from tests.support import CLIENT, make_image, run_client
from tests.swarm_helpers import zero_piece_bytes

SIZE = 6 * 1024 * 1024


def _swarm_env(address: str) -> dict[str, str]:
    return {
        **os.environ,
        "CLIENT_FETCH_SWARM_LISTEN_INTERFACES": f"{address}:0",
        "CLIENT_FETCH_SWARM_ALLOW_MULTIPLE_CONNECTIONS_PER_IP": "true",
        "CLIENT_FETCH_SWARM_STALL_TIMEOUT_SECONDS": "30",
    }


def _seeders(dist: RunningDistributor, info_hash_v1: str) -> int:
    raw = bytes.fromhex(info_hash_v1)
    url = f"{dist.url}/v1/tracker/scrape?info_hash={quote_from_bytes(raw, safe='')}"
    decoded = bdecode(httpx.get(url).content)
    assert isinstance(decoded, dict)
    files = decoded[b"files"]
    assert isinstance(files, dict)
    entry = files.get(raw, {})
    assert isinstance(entry, dict)
    complete = entry.get(b"complete", 0)
    return complete if isinstance(complete, int) else 0


def test_seeding_volunteer_serves_another_host_and_stops_cleanly(
    distributor: RunningDistributor, tmp_path: Path
) -> None:
    image = tmp_path / "img"
    make_image(image, SIZE, seed=11)
    published = publish(distributor, "img", "1", image)
    info_hash = published["torrent"]["info_hash_v1"]
    base = ["--server", distributor.url, "--key", distributor.public_key]
    cache_a, cache_b = tmp_path / "a", tmp_path / "b"
    first = run_client("get", "img@1", *base, "--cache", str(cache_a), "--via", "http")
    assert first.returncode == 0, first.stderr
    # The origin loses its copy: from now on only the seeding volunteer can deliver the bytes.
    blob = next((distributor.data_dir / "blobs").rglob(published["sha256"]))
    blob.rename(tmp_path / "origin-copy")

    seeder = subprocess.Popen(
        [*CLIENT, "seed", *base, "--cache", str(cache_a), "--max-seconds", "60", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_swarm_env("127.0.0.2"),
    )
    try:
        deadline = time.monotonic() + 20
        while _seeders(distributor, info_hash) < 1:
            assert time.monotonic() < deadline, "the seeding volunteer never announced"
            assert seeder.poll() is None, seeder.communicate()
            time.sleep(0.2)
        # While seeded, the image is pinned: eviction cannot take it.
        listing = run_client("cache", "ls", "--cache", str(cache_a), "--json").json()
        assert listing["images"][0]["pinned_by"] == [f"seed-{seeder.pid}"]

        run = run_client(
            "get",
            "img@1",
            *base,
            "--cache",
            str(cache_b),
            "--via",
            "swarm",
            "--json",
            env=_swarm_env("127.0.0.3"),
        )
        assert run.returncode == 0, run.stderr
        result = run.json()
        assert Path(result["path"]).read_bytes() == image.read_bytes()
        assert result["bytes_by_source"].get("swarm:peers", 0) == SIZE - zero_piece_bytes(image)
        assert result["bytes_by_source"].get("swarm:web-seeds", 0) == 0
    finally:
        seeder.send_signal(signal.SIGTERM)
        stdout, stderr = seeder.communicate(timeout=30)
    assert seeder.returncode == 0, stderr
    outcome = json.loads(stdout)
    assert outcome["stopped_by"] == "SIGTERM"
    assert outcome["images"][0]["uploaded_bytes"] > 0
    listing = run_client("cache", "ls", "--cache", str(cache_a), "--json").json()
    assert listing["images"][0]["pinned_by"] == []


def test_seeding_stops_at_the_time_limit_and_with_nothing_cached(
    distributor: RunningDistributor, tmp_path: Path
) -> None:
    base = ["--server", distributor.url, "--key", distributor.public_key]
    empty = run_client("seed", *base, "--cache", str(tmp_path / "none"), "--json")
    assert empty.returncode == 0, empty.stderr
    assert json.loads(empty.stdout)["stopped_by"] == "nothing to seed"

    image = tmp_path / "img"
    make_image(image, 1024 * 1024, seed=12)
    publish(distributor, "small", "1", image)
    cache = tmp_path / "c"
    assert run_client("get", "small@1", *base, "--cache", str(cache)).returncode == 0
    started = time.monotonic()
    run = run_client(
        "seed",
        *base,
        "--cache",
        str(cache),
        "--max-seconds",
        "2",
        "--json",
        env=_swarm_env("127.0.0.4"),
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["stopped_by"] == "time limit"
    assert 2 <= time.monotonic() - started < 20
