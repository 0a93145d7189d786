"""A patch travels through the swarm like an image (issue 4, point 5): the tracker knows each
patch's torrent, the seeder seeds it, and a host holding v1 takes the patch from the swarm, so a
release to many hosts does not send every patch from the origin's HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from client_fetch.tracker_scrape import scrape
from image_format.content_paths import swarm_health_path
from tests.fixtures.distributor_server import RunningDistributor
from tests.seeder_helpers import running_seeder
from tests.support import run_client
from tests.test_client_swarm import client_env, wait_for
from tests.update_helpers import origin_bytes, publish_versions

PEERS = "swarm:peers"


def get(dist: RunningDistributor, cache: Path, ref: str, octet: int) -> dict[str, object]:
    run = run_client(
        "get", ref, "--server", dist.url, "--key", dist.public_key,
        "--cache", str(cache), "--json", env=client_env(octet), timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    result: dict[str, object] = run.json()
    return result


def version_health(dist: RunningDistributor, name: str, version: str) -> dict[str, Any]:
    versions = httpx.get(dist.url + swarm_health_path(), timeout=10).json()["versions"]
    (found,) = [v for v in versions if (v["name"], v["version"]) == (name, version)]
    return dict(found)


def test_a_seeded_patch_comes_from_the_swarm_not_the_origin(
    distributor: RunningDistributor, tmp_path: Path
) -> None:
    deb = publish_versions(distributor, tmp_path / "deb", "deb", seed=7)
    [delta] = deb.manifest(2).deltas
    torrent = delta.torrent
    assert torrent is not None
    cache = tmp_path / "cache"
    assert get(distributor, cache, deb.ref(1), 52)["method"] == "http"
    log = tmp_path / "seeder.log"
    with (
        running_seeder(distributor, distributor.data_dir, "127.0.0.50", log),
        httpx.Client() as http,
    ):
        wait_for(lambda: "seeding deb@2 (patch from 1)" in log.read_text(), what="patch seeding")

        def seeded() -> bool:
            counts = scrape(http, [distributor.url], torrent)
            return counts is not None and counts.complete >= 1

        wait_for(seeded, what="the tracker to count the seeder in the patch's swarm")
        patch_sent = origin_bytes(distributor, delta.sha256)
        result = get(distributor, cache, deb.ref(2), 51)
        assert result["method"] == "delta"
        assert Path(str(result["path"])).read_bytes() == deb.path(2).read_bytes()
        by_source = result["bytes_by_source"]
        assert isinstance(by_source, dict)
        assert by_source.get(PEERS, 0) > 0, by_source
        assert origin_bytes(distributor, delta.sha256) - patch_sent < delta.size

        # Swarm health shows the patch's swarm apart from the image's.
        def patch_health() -> dict[str, Any]:
            v2 = version_health(distributor, "deb", "2")
            assert len(v2["seeders"]) <= 1  # the image's row only; the patch has its own
            (patch,) = v2["patches"]
            return dict(patch)

        wait_for(lambda: patch_health()["tracker"]["completed"] >= 1, what="the host's completed")
        wait_for(lambda: len(patch_health()["seeders"]) == 1, what="the seeder's patch report")
        patch = patch_health()
        metrics = httpx.get(distributor.url + "/metrics", timeout=10).text
    completed = {
        (
            sample.labels["name"],
            sample.labels["version"],
            sample.labels["from_version"],
        ): sample.value
        for family in text_string_to_metric_families(metrics)
        if family.name == "distributor_patch_swarm_completed"
        for sample in family.samples
        if sample.name.endswith("_total")
    }
    assert completed[("deb", "2", "1")] >= 1
    assert (patch["from_version"], patch["sha256"]) == ("1", delta.sha256)
    assert patch["info_hash_v1"] == torrent.info_hash_v1
    assert patch["tracker"]["seeders"] >= 1
