"""`client-fetch plan` for updates: each situation of the planner's rules (client_fetch/planner.py),
through real `client-fetch plan --json` processes against a real distributor, moving no image bytes.

Four versions of one image are published with `DISTRIBUTOR_DELTA_FROM_VERSIONS=1`, so v2 has a
patch from v1 and v4 only one from v3. A host holding v1 then sees: v1 cached → the cache; v2 →
the delta first (its base is cached and it is the smallest transfer), chunks next, HTTP last;
v4 → chunks first (no delta starts from a cached version, donors cover part). A cold host sees
plain HTTP only (no seeder; the swarm-first case, a seeder and enough peers, is covered end to end
by tests/test_client_swarm.py::test_auto_takes_the_swarm_only_with_a_seeder_and_enough_peers and
rule by rule by tests/test_planner.py). `--via delta|chunks` keep one method.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.distributor_server import RunningDistributor, running_distributor
from tests.support import run_client
from tests.update_helpers import Published, chunk_cost, origin_stats, publish_versions


@dataclass(frozen=True)
class Setup:
    server: RunningDistributor
    published: Published
    host: Path  # a cache holding v1
    cold: Path  # an empty cache

    @property
    def image_digests(self) -> list[str]:
        """Every digest whose bytes a plan must not move: v2..v4 and every patch."""
        manifests = self.published.manifests[1:]
        return [m.sha256 for m in manifests] + [d.sha256 for m in manifests for d in m.deltas]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    folder = tmp_path_factory.mktemp("plan-updates")
    with (
        running_distributor(folder / "distributor") as server,
        pytest.MonkeyPatch.context() as env,
    ):
        env.setenv("DISTRIBUTOR_DELTA_FROM_VERSIONS", "1")
        published = publish_versions(server, folder / "images", "os", seed=41, count=4)
        host = folder / "host"
        got = run_client(
            "get", "os@1", "--server", server.url, "--key", server.public_key,
            "--cache", str(host), "--json",
        )  # fmt: skip
        assert got.returncode == 0 and got.json()["method"] == "http", got.stderr
        yield Setup(server, published, host, folder / "cold")


def plan(setup: Setup, cache: Path, ref: str, *extra: str, as_json: bool = True) -> Any:
    """Run `client-fetch plan`; check it moved no image or patch bytes and no chunks."""
    before = origin_stats(setup.server)
    run = run_client(
        "plan", ref, "--server", setup.server.url, "--key", setup.server.public_key,
        "--cache", str(cache), *(["--json"] if as_json else []), *extra,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    after = origin_stats(setup.server)
    for digest in [*setup.image_digests, "chunks"]:
        assert after.get(digest) == before.get(digest), f"plan moved bytes of {digest}"
    return run.json() if as_json else run.stdout


def methods(report: dict[str, Any]) -> list[str]:
    return [row["method"] for row in report["order"]]


def test_the_cached_version_is_the_cache(setup: Setup) -> None:
    report = plan(setup, setup.host, "os@1")
    assert report["cached"] is True and report["choice"] == "cache" and report["order"] == []


def test_a_delta_from_the_cached_version_goes_first_then_chunks_then_http(setup: Setup) -> None:
    v1, v2 = setup.published.manifest(1), setup.published.manifest(2)
    [delta] = v2.deltas
    cost = chunk_cost(setup.server, v2, [v1])
    report = plan(setup, setup.host, "os@2")
    assert report["cached"] is False and report["digest"] == v2.sha256
    assert methods(report) == ["delta", "chunks", "http"]
    assert report["choice"] == "delta from 1"
    assert report["reason"].startswith(f"delta from 1: {delta.size} of {v2.size} bytes to move")
    delta_row, chunks_row, http_row = report["order"]
    assert delta_row["bytes_to_move"] == delta.size
    assert delta_row["from_where"] == "patch from 1 (cached), http"
    assert chunks_row["bytes_to_move"] == cost.remote_max
    assert chunks_row["from_where"].startswith("donors cover ")
    assert http_row["source"] == setup.server.url and http_row["bytes_to_move"] == v2.size
    assert delta.size < cost.remote_max < v2.size
    assert report["unavailable"] == []

    text = plan(setup, setup.host, "os@2", as_json=False)
    lines = text.splitlines()
    assert next(line for line in lines if line.startswith("choice: ")).startswith(
        "choice: delta from 1 (delta from 1: "
    )
    rows = [line.split()[1] for line in lines if line[:2].strip().isdigit()]
    assert rows == ["delta", "chunks", setup.server.url]


def test_without_a_delta_from_a_cached_version_chunks_go_first(setup: Setup) -> None:
    v1, v4 = setup.published.manifest(1), setup.published.manifest(4)
    assert [d.from_version for d in v4.deltas] == ["3"]
    cost = chunk_cost(setup.server, v4, [v1])
    report = plan(setup, setup.host, "os@4")
    assert methods(report) == ["chunks", "http"]
    assert report["choice"] == "chunks"
    assert report["reason"].startswith(f"chunks: {cost.remote_max} of {v4.size} bytes")
    covered = int(report["order"][0]["from_where"].split()[2])
    assert 0 < covered < 100
    assert report["unavailable"] == [
        {"source": "delta", "reason": "no delta starts from a cached version"}
    ]


def test_a_cold_host_without_seeders_plans_plain_http(setup: Setup) -> None:
    report = plan(setup, setup.cold, "os@4")
    assert methods(report) == ["http"]
    assert report["choice"] == setup.server.url
    assert "no seeder" in report["reason"]
    assert {"source": "delta", "reason": "no delta starts from a cached version"} in report[
        "unavailable"
    ]
    # Chunks could serve a cold host (every data chunk over HTTP, zero runs free), but for these
    # images (70 % incompressible data) that is more than half the image: left out.
    v4 = setup.published.manifest(4)
    not_tried = {row["method"]: row for row in report["not_tried"]}
    assert not_tried["chunks"]["reason"] == (
        "uses nothing this host holds and would move more than 50% of the image"
    )
    assert v4.chunk_index is not None
    assert not_tried["chunks"]["bytes_to_move"] == v4.chunk_index.data_chunk_bytes
    assert v4.size // 2 < not_tried["chunks"]["bytes_to_move"] < v4.size
    text = plan(setup, setup.cold, "os@4", as_json=False)
    assert "   not tried: chunks (" in text and "): uses nothing this host holds and" in text


def test_via_delta_or_chunks_keeps_that_method_only(setup: Setup) -> None:
    v4 = setup.published.manifest(4)
    assert methods(plan(setup, setup.host, "os@2", "--via", "delta")) == ["delta"]
    only_chunks = plan(setup, setup.host, "os@2", "--via", "chunks")
    assert methods(only_chunks) == ["chunks"]
    assert {row["method"]: row["reason"] for row in only_chunks["not_tried"]} == {
        "delta": "--via chunks",
        "swarm": "--via chunks",
        "http": "--via chunks",
    }
    # No delta starts from v1: forcing one leaves nothing to try, and says why.
    forced = plan(setup, setup.host, "os@4", "--via", "delta")
    assert forced["order"] == [] and forced["choice"] is None
    assert forced["unavailable"][0]["source"] == "delta"
    # A cold host has no donors, but forced chunks still work: every data chunk over HTTP.
    cold = plan(setup, setup.cold, "os@4", "--via", "chunks")
    assert methods(cold) == ["chunks"]
    assert v4.chunk_index is not None
    assert cold["order"][0]["bytes_to_move"] == v4.chunk_index.data_chunk_bytes
    assert cold["order"][0]["from_where"] == (
        "no donors: every data chunk over HTTP, compressed; zero runs free"
    )


def test_get_does_what_the_plan_said(setup: Setup, tmp_path: Path) -> None:
    """The v1 host gets v4 by chunks, as planned, with donors supplying part of it."""
    host = tmp_path / "host"
    shutil.copytree(setup.host, host)
    run = run_client(
        "get", "os@4", "--server", setup.server.url, "--key", setup.server.public_key,
        "--cache", str(host), "--json",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = run.json()
    assert result["method"] == "chunks" and result["digest"] == setup.published.manifest(4).sha256
    assert result["bytes_by_source"]["local:donors"] > 0
    assert Path(result["path"]).read_bytes() == setup.published.path(4).read_bytes()
