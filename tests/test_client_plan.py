"""`client-fetch plan`: estimates and the choice, without moving image bytes."""

from __future__ import annotations

import httpx

from tests.fixtures.distributor_server import RunningDistributor, publish
from tests.support import make_image, run_client

SIZE = 2 * 1024 * 1024


def _origin_bytes(dist: RunningDistributor, digest: str) -> int:
    blobs = httpx.get(f"{dist.url}/v1/stats/origin").json()["blobs"]
    return int(blobs.get(digest, {}).get("bytes_sent", 0))


def test_plan_for_a_cold_host_without_seeders_is_plain_http_and_moves_nothing(
    distributor: RunningDistributor, tmp_path
) -> None:
    image = tmp_path / "img"
    digest = make_image(image, SIZE, seed=21)
    publish(distributor, "img", "1", image)
    base = ["--server", distributor.url, "--key", distributor.public_key]
    cache = tmp_path / "cache"

    run = run_client("plan", "img@1", *base, "--cache", str(cache), "--json")
    assert run.returncode == 0, run.stderr
    plan = run.json()
    assert plan["cached"] is False and plan["digest"] == digest
    assert [row["method"] for row in plan["order"]] == ["http"]
    assert plan["choice"] == distributor.url
    assert plan["order"][0]["bytes_to_move"] == SIZE
    assert plan["order"][0]["expected_seconds"] > 0
    assert "no seeder" in plan["reason"]
    not_tried = {row["method"]: row["reason"] for row in plan["not_tried"]}
    assert not_tried["swarm"] == plan["reason"]  # the tracker's scrape left it out
    assert _origin_bytes(distributor, digest) == 0

    text = run_client("plan", "img@1", *base, "--cache", str(cache))
    assert text.returncode == 0
    assert "choice: " + distributor.url in text.stdout

    forced = run_client("plan", "img@1", *base, "--cache", str(cache), "--via", "swarm", "--json")
    assert [row["method"] for row in forced.json()["order"]] == ["swarm"]


def test_plan_for_a_cached_image_is_the_cache(distributor: RunningDistributor, tmp_path) -> None:
    image = tmp_path / "img"
    make_image(image, SIZE, seed=22)
    publish(distributor, "img", "1", image)
    base = ["--server", distributor.url, "--key", distributor.public_key]
    cache = tmp_path / "cache"
    assert run_client("get", "img@1", *base, "--cache", str(cache)).returncode == 0
    run = run_client("plan", "img@1", *base, "--cache", str(cache), "--json")
    assert run.returncode == 0, run.stderr
    assert run.json()["cached"] is True and run.json()["choice"] == "cache"
    # The measured HTTP rate is remembered for later estimates.
    assert (cache / "rates.json").is_file()


def test_plan_errors_use_the_documented_exit_codes(distributor: RunningDistributor, tmp_path):
    base = ["--server", distributor.url, "--key", distributor.public_key]
    missing = run_client("plan", "nosuch@1", *base, "--cache", str(tmp_path), "--json")
    assert missing.returncode == 3
    bad = run_client("plan", "../x", *base, "--cache", str(tmp_path))
    assert bad.returncode == 2
