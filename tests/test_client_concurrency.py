"""Crash and concurrency behaviour of `client-fetch get` with real processes and servers."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx

from tests.fakes.fault_proxy import Faults, fault_proxy
from tests.fixtures.distributor_server import RunningDistributor, publish
from tests.support import cache_state, make_image, run_client, start_client

SIZE = 8 * 1024 * 1024


def _wait_for(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


def test_kill_9_mid_download_then_rerun_resumes(distributor: RunningDistributor, tmp_path):
    image = tmp_path / "big.img"
    digest = make_image(image, SIZE, seed=3)
    publish(distributor, "big", "1", image)
    cache = tmp_path / "cache"
    partial = cache / "downloads" / f"{digest}.partial"
    with fault_proxy(distributor.url, Faults(rate_bytes_per_second=4 * 1024 * 1024)) as (slow, _):
        process = start_client(
            "get",
            "big@1",
            "--server",
            slow,
            "--key",
            distributor.public_key,
            "--cache",
            str(cache),
            "--json",
        )
        _wait_for(lambda: partial.exists() and partial.stat().st_size > SIZE // 4, timeout=30)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    kept = partial.stat().st_size
    assert 0 < kept < SIZE
    assert cache_state(cache)["images"] == []

    run = run_client(
        "get",
        "big@1",
        "--server",
        distributor.url,
        "--key",
        distributor.public_key,
        "--cache",
        str(cache),
        "--json",
    )
    assert run.returncode == 0, run.stderr
    result = run.json()
    assert result["bytes_downloaded"] == SIZE - kept < SIZE
    assert Path(result["path"]).read_bytes() == image.read_bytes()
    assert cache_state(cache) == {"images": [digest], "downloads": []}


def test_eight_concurrent_gets_download_once(distributor: RunningDistributor, tmp_path):
    image = tmp_path / "shared.img"
    digest = make_image(image, SIZE, seed=4)
    publish(distributor, "shared", "1", image)
    cache = tmp_path / "cache"
    # Throttled so that every process starts while the first is still downloading.
    with fault_proxy(distributor.url, Faults(rate_bytes_per_second=3 * 1024 * 1024)) as (
        slow,
        faults,
    ):
        processes = [
            start_client(
                "get",
                "shared@1",
                "--server",
                slow,
                "--key",
                distributor.public_key,
                "--cache",
                str(cache),
                "--json",
            )
            for _ in range(8)
        ]
        outputs = [process.communicate(timeout=120) for process in processes]
    import json

    results = [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in outputs]
    assert [p.returncode for p in processes] == [0] * 8, [err for _, err in outputs]
    assert sorted(r["method"] for r in results) == ["cache"] * 7 + ["http"]
    assert {r["path"] for r in results} == {str(cache / "images" / digest)}
    assert faults.blob_requests == 1
    assert faults.blob_bytes_sent == SIZE
    stats = httpx.get(f"{distributor.url}/v1/stats/origin").json()["blobs"][digest]
    assert stats["full_transfers"] == 1 and stats["bytes_sent"] == SIZE
    assert Path(results[0]["path"]).read_bytes() == image.read_bytes()


def test_eviction_under_quota_keeps_pinned_images(distributor: RunningDistributor, tmp_path):
    mib = 1024 * 1024
    digests = {}
    for name in ("a", "b", "c"):
        image = tmp_path / f"{name}.img"
        digests[name] = make_image(image, mib, seed=ord(name))
        publish(distributor, name, "1", image)
    cache = tmp_path / "cache"
    base = ["--server", distributor.url, "--key", distributor.public_key, "--cache", str(cache)]
    assert run_client("get", "a@1", *base, "--pin", "task-a", "--json").returncode == 0
    time.sleep(0.05)
    assert run_client("get", "b@1", *base, "--json").returncode == 0
    time.sleep(0.05)
    # a is the least recently used, but pinned: b must go instead.
    run = run_client("get", "c@1", *base, "--quota", str(int(2.5 * mib)), "--json")
    assert run.returncode == 0, run.stderr
    assert sorted(cache_state(cache)["images"]) == sorted([digests["a"], digests["c"]])

    # Once unpinned, a is evictable like any other.
    assert run_client("unpin", "task-a", "a@1", "--cache", str(cache)).returncode == 0
    assert run_client("get", "b@1", *base, "--quota", str(int(2.5 * mib))).returncode == 0
    assert sorted(cache_state(cache)["images"]) == sorted([digests["b"], digests["c"]])


def test_cache_commands_ls_verify_gc_and_refetch_after_quarantine(distributor, tmp_path):
    image = tmp_path / "v.img"
    digest = make_image(image, 512 * 1024, seed=7)
    publish(distributor, "v", "1", image)
    cache = tmp_path / "cache"
    base = ["--server", distributor.url, "--key", distributor.public_key, "--cache", str(cache)]
    assert run_client("get", "v@1", *base).returncode == 0
    assert run_client("pin", "t1", "v@1", "--cache", str(cache)).returncode == 0

    listing = run_client("cache", "ls", "--cache", str(cache), "--json")
    assert listing.returncode == 0, listing.stderr
    [entry] = listing.json()["images"]
    assert entry["digest"] == digest and entry["refs"] == ["v@1"] and entry["pinned_by"] == ["t1"]
    assert run_client("cache", "verify", "--cache", str(cache)).returncode == 0

    cached = cache / "images" / digest
    os.chmod(cached, 0o644)
    with cached.open("r+b") as handle:
        handle.write(b"\xff\xfe")
    verify = run_client("cache", "verify", "--cache", str(cache), "--json")
    assert verify.returncode == 4
    assert verify.json()["results"][0]["status"] == "corrupt"
    assert not cached.exists() and any((cache / "quarantine").iterdir())

    run = run_client("get", "v@1", *base, "--json")
    assert run.returncode == 0 and run.json()["method"] == "http"
    assert cached.read_bytes() == image.read_bytes()
    assert run_client("cache", "gc", "--cache", str(cache), "--json").returncode == 0
    assert run_client("pin", "t2", "nosuch@1", "--cache", str(cache)).returncode == 3
