"""Swarm health over a real server: seeder and fetch reports in (auth, validation, bounds), the
JSON, /metrics parsed by prometheus_client, and the tracker preferring the reporting seeder."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from distributor.api.app import create_app
from distributor.keys import init_keys
from distributor.settings import DistributorSettings
from image_format.content_paths import (
    blob_path,
    fetch_report_path,
    seeder_report_path,
    swarm_health_path,
)
from image_format.manifest import TorrentRef
from tests.fixtures.distributor_server import RunningDistributor, running_distributor
from tests.tracker_helpers import announce, published_torrent, tracker_hash

FAST = {"DISTRIBUTOR_TRACKER_INTERVAL_SECONDS": "2"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningDistributor]:
    with running_distributor(tmp_path / "distributor", extra_env=FAST) as running:
        yield running


def seeder_body(ref: TorrentRef, seeder_id: str = "seeder-1", **stats: object) -> dict[str, Any]:
    return {
        "seeder_id": seeder_id,
        "listen_address": "10.5.0.9:7000",
        "torrents": [
            {
                "name": "img",
                "version": "1",
                "info_hash_v1": ref.info_hash_v1,
                "info_hash_v2": ref.info_hash_v2,
                "state": "seeding",
                **stats,
            }
        ],
    }


def post_fetch(url: str, **fields: object) -> httpx.Response:
    body = {"name": "img", "version": "1", "method": "swarm", "outcome": "ok", **fields}
    return httpx.post(url + fetch_report_path(), json=body, timeout=10)


def version_health(url: str, name: str = "img", version: str = "1") -> dict[str, Any]:
    health = httpx.get(url + swarm_health_path(), timeout=10).json()
    (found,) = [v for v in health["versions"] if (v["name"], v["version"]) == (name, version)]
    return dict(found)


def test_reports_are_validated_and_bounded(server: RunningDistributor, tmp_path: Path) -> None:
    ref = published_torrent(server, tmp_path, "img", "1")
    path = server.url + seeder_report_path("seeder-1")
    assert httpx.post(path, json=seeder_body(ref), timeout=10).status_code == 401
    wrong = httpx.post(path, json=seeder_body(ref, "other"), headers=server.auth, timeout=10)
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_report")
    broken = httpx.post(path, content=b"{not json", headers=server.auth, timeout=10)
    assert broken.status_code == 400
    ok = httpx.post(path, json=seeder_body(ref), headers=server.auth, timeout=10)
    assert ok.status_code == 200 and ok.json()["endpoint"] == "10.5.0.9:7000"

    assert post_fetch(server.url).status_code == 202
    assert post_fetch(server.url, method="telepathy").status_code == 400
    assert post_fetch(server.url, version="404").status_code == 404
    big = httpx.post(server.url + fetch_report_path(), content=b" " * 20_000, timeout=10)
    assert big.status_code == 413
    assert (
        httpx.post(server.url + fetch_report_path(), content=b"[]", timeout=10).status_code == 400
    )


def test_health_json_and_metrics_show_what_happened(
    server: RunningDistributor, tmp_path: Path
) -> None:
    ref = published_torrent(server, tmp_path, "img", "1")
    info_hash = tracker_hash(ref)
    announce(server.url, info_hash, 1, left=0, ip="10.5.0.1", uploaded=300)
    announce(server.url, info_hash, 2, ip="10.5.0.2", event="started")
    announce(server.url, info_hash, 3, ip="10.5.0.3", event="started", downloaded=40)
    announce(server.url, info_hash, 3, left=0, ip="10.5.0.3", event="completed", downloaded=100)
    httpx.post(
        server.url + seeder_report_path("seeder-1"),
        json=seeder_body(ref, uploaded_bytes=4096, num_peers=2, hash_failures=1),
        headers=server.auth,
        timeout=10,
    ).raise_for_status()
    post_fetch(server.url, bytes_from_peers=1000, bytes_from_origin=24, hash_failures=2)
    post_fetch(server.url, method="http", outcome="failed", exit_code=5)
    health = version_health(server.url)
    digest = health["sha256"]
    assert httpx.get(server.url + blob_path(digest), timeout=10).status_code == 200

    health = version_health(server.url)
    assert health["tracker"] == {
        "seeders": 2,
        "leechers": 1,
        "completed": 1,
        "uploaded_bytes": 300,
        "downloaded_bytes": 100,
    }
    assert health["origin_bytes_sent"] == health["size"]
    assert health["bytes_from_peers"] == 1000
    assert health["hash_failures"] == 3
    assert health["fetches"]["by_method"] == {
        "http": {"ok": 0, "failed": 1},
        "swarm": {"ok": 1, "failed": 0},
    }
    assert health["seeders"][0]["uploaded_bytes"] == 4096

    text = httpx.get(server.url + "/metrics", timeout=10).text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    img = (("name", "img"), ("version", "1"))
    assert samples[("distributor_swarm_seeders", img)] == 2
    assert samples[("distributor_swarm_leechers", img)] == 1
    assert samples[("distributor_swarm_completed_total", img)] == 1
    assert samples[("distributor_origin_bytes_sent_total", (("digest", digest),))] == health["size"]
    swarm_ok = tuple(sorted((*img, ("method", "swarm"), ("outcome", "ok"))))
    assert samples[("distributor_fetch_reports_total", swarm_ok)] == 1
    by_host = tuple(sorted((*img, ("reporter", "host"))))
    by_seeder = tuple(sorted((*img, ("reporter", "seeder"))))
    assert samples[("distributor_hash_failures_total", by_host)] == 2
    assert samples[("distributor_hash_failures_total", by_seeder)] == 1
    assert samples[("distributor_seeder_up", (("seeder", "seeder-1"),))] == 1


def test_the_reporting_seeder_is_handed_out_first(
    server: RunningDistributor, tmp_path: Path
) -> None:
    ref = published_torrent(server, tmp_path, "img", "1")
    info_hash = tracker_hash(ref)
    for n in range(1, 9):
        announce(server.url, info_hash, n, left=0, ip=f"10.6.0.{n}")  # ordinary complete peers
    announce(server.url, info_hash, 20, left=0, ip="10.5.0.9", port=7000)  # the project seeder
    httpx.post(
        server.url + seeder_report_path("seeder-1"),
        json=seeder_body(ref),
        headers=server.auth,
        timeout=10,
    ).raise_for_status()
    for n in range(5):
        peers = announce(server.url, info_hash, 31 + n, ip=f"10.7.0.{2 + n}", numwant=3)[b"peers"]
        assert peers[:6] == bytes([10, 5, 0, 9]) + (7000).to_bytes(2, "big")


def _post_in_process(
    settings: DistributorSettings, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, int]:
    """POST straight into the ASGI app in 64 KiB messages: (status, body bytes the app read)."""
    app = create_app(settings)
    pieces = [body[i : i + (64 << 10)] for i in range(0, len(body), 64 << 10)]
    read, status = 0, 0

    async def receive() -> dict[str, Any]:
        nonlocal read
        if not pieces:
            return {"type": "http.disconnect"}
        piece = pieces.pop(0)
        read += len(piece)
        return {"type": "http.request", "body": piece, "more_body": bool(pieces)}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw_headers.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": raw_headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
    }
    try:
        asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    finally:
        app.state.services.close()
    return status, read


@pytest.mark.parametrize("size", [3 << 20, 5 << 20])
def test_an_unauthenticated_seeder_report_is_401_before_its_body_is_read(
    tmp_path: Path, size: int
) -> None:
    init_keys(tmp_path)
    settings = DistributorSettings(
        data_dir=tmp_path,
        admin_token="a-strong-token-0123456789",
        torrent_enabled=False,
        chunks_enabled=False,
        delta_from_versions=0,
    )
    path = seeder_report_path("seeder-1")
    assert _post_in_process(settings, path, b"x" * size, {}) == (401, 0)
    wrong = {"Authorization": "Bearer wrong-token-0123456789"}
    assert _post_in_process(settings, path, b"x" * size, wrong) == (401, 0)
    right = {"Authorization": "Bearer a-strong-token-0123456789"}
    status, read = _post_in_process(settings, path, b"{}" + b" " * (size - 2), right)
    assert (status, read) == ((400, size) if size <= 4 << 20 else (413, 0))
