"""The dashboard in headless Chromium: after real announces and a fetch report, the page the
browser renders shows the tracker's seeders/leechers/completed and the reported bytes."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from image_format.content_paths import fetch_report_path
from tests.fixtures.distributor_server import RunningDistributor, running_distributor
from tests.tools import require_binary
from tests.tracker_helpers import announce, published_torrent, tracker_hash


class MetricCells(HTMLParser):
    """Collects `{(version, metric): text}` from `data-version` tables and `data-metric` cells."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[tuple[str, str], str] = {}
        self._version = ""
        self._metric: str | None = None
        self._refresh: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table" and found.get("data-version"):
            self._version = found["data-version"] or ""
        if found.get("data-metric") and not found.get("data-seeder"):
            self._metric = found["data-metric"]
        if tag == "meta" and found.get("http-equiv") == "refresh":
            self._refresh = found.get("content")

    def handle_data(self, data: str) -> None:
        if self._metric is not None and data.strip():
            self.values[(self._version, self._metric)] = data.strip()
            self._metric = None

    @property
    def refresh(self) -> str | None:
        return self._refresh


def dump_dom(url: str, profile: Path) -> str:
    chromium = require_binary("chromium", apt_package="chromium")
    done = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningDistributor]:
    with running_distributor(tmp_path / "distributor") as running:
        yield running


def test_dashboard_in_chromium_shows_the_swarm(server: RunningDistributor, tmp_path: Path) -> None:
    info_hash = tracker_hash(published_torrent(server, tmp_path, "web", "3"))
    announce(server.url, info_hash, 1, left=0, ip="10.8.0.1")
    announce(server.url, info_hash, 2, left=0, ip="10.8.0.2")
    announce(server.url, info_hash, 3, ip="10.8.0.3", event="started")
    announce(server.url, info_hash, 4, ip="10.8.0.4", event="started")
    announce(server.url, info_hash, 5, ip="10.8.0.5", event="started")
    announce(server.url, info_hash, 5, left=0, ip="10.8.0.5", event="completed")
    report = {
        "name": "web",
        "version": "3",
        "method": "swarm",
        "outcome": "ok",
        "bytes_from_peers": 250_000,
        "bytes_from_origin": 12_144,
        "hash_failures": 1,
    }
    httpx.post(server.url + fetch_report_path(), json=report, timeout=10).raise_for_status()

    dom = dump_dom(server.url + "/dashboard", tmp_path / "chromium-profile")
    cells = MetricCells()
    cells.feed(dom)
    assert cells.refresh == "5"
    shown = {
        metric: value for (version, metric), value in cells.values.items() if version == "web@3"
    }
    assert shown["seeders"] == "3"
    assert shown["leechers"] == "2"
    assert shown["completed"] == "1"
    assert shown["bytes-from-peers"] == "250000"
    assert shown["hash-failures"] == "1"
    assert shown["fetch-ok"] == "1"
    assert shown["fetch-swarm-ok"] == "1"
    assert shown["fetch-failed"] == "0"
