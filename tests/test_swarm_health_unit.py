"""Swarm health pieces without a server: report schemas, seeder registry, fetch totals, summary,
the dashboard's patch rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from distributor.catalog.sqlite import SqliteCatalog
from distributor.content.origin_stats import OriginStats
from distributor.health.dashboard import render_dashboard
from distributor.health.fetch_reports import FetchReportLog
from distributor.health.models import PatchHealth, SwarmHealth, TrackerCounts, VersionHealth
from distributor.health.seeders import SeederRegistry
from distributor.health.state import build_swarm_state
from distributor.health.summary import swarm_health
from distributor.settings import DistributorSettings
from image_format.swarm_reports import FetchReport, SeederReport
from tests.test_swarm_health_dashboard import MetricCells
from tests.test_tracker_index import record, ref


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def seeder_report(
    seeder_id: str = "s1", listen: str = "10.0.0.9:7000", **torrent: object
) -> SeederReport:
    torrents = [{"name": "img", "version": "1", **torrent}] if torrent else []
    return SeederReport.model_validate(
        {"seeder_id": seeder_id, "listen_address": listen, "torrents": torrents}
    )


def fetch(**fields: object) -> FetchReport:
    return FetchReport.model_validate({"name": "img", "version": "1", **fields})


@pytest.mark.parametrize(
    "body",
    [
        {"seeder_id": "../x", "listen_address": "10.0.0.1:1"},
        {"seeder_id": "s", "listen_address": "10.0.0.1"},
        {"seeder_id": "s", "listen_address": "host.example:80"},
        {"seeder_id": "s", "listen_address": "10.0.0.1:0"},
        {"seeder_id": "s", "listen_address": "1.2.3.4:5", "torrents": [{"name": "a"}]},
        {
            "seeder_id": "s",
            "listen_address": "1.2.3.4:5",
            "torrents": [{"name": "a", "version": "1", "info_hash_v1": "zz"}],
        },
    ],
)
def test_bad_seeder_reports_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SeederReport.model_validate(body)


@pytest.mark.parametrize(
    "fields",
    [
        {"method": "carrier-pigeon", "outcome": "ok"},
        {"method": "http", "outcome": "maybe"},
        {"method": "http", "outcome": "ok", "bytes_from_peers": -1},
        {"method": "http", "outcome": "ok", "exit_code": 256},
        {"method": "http", "outcome": "ok", "bytes_from_origin": 1 << 61},
        {"method": "http", "outcome": "ok", "version": "a/b"},
    ],
)
def test_bad_fetch_reports_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        fetch(**fields)


def test_listen_address_forms() -> None:
    assert seeder_report(listen="[2001:db8::1]:6881").listen_endpoint == ("2001:db8::1", 6881)
    assert seeder_report(listen="0.0.0.0:6881").listen_endpoint == ("0.0.0.0", 6881)


def test_seeders_go_stale_and_unspecified_hosts_take_the_remote_address() -> None:
    clock = Clock()
    registry = SeederRegistry(stale_after_seconds=10, clock=clock)
    registry.record(seeder_report("a", "0.0.0.0:7000"), "192.0.2.5")
    registry.record(seeder_report("b", "[::]:7001"), "::ffff:192.0.2.6")
    assert registry.endpoints() == {("192.0.2.5", 7000), ("192.0.2.6", 7001)}
    clock.now += 6
    registry.record(seeder_report("a", "0.0.0.0:7000"), "192.0.2.5")
    clock.now += 6
    assert registry.endpoints() == {("192.0.2.5", 7000)}
    assert [(s.report.seeder_id, s.stale) for s in registry.seeders()] == [
        ("a", False),
        ("b", True),
    ]


def test_the_seeder_table_is_bounded() -> None:
    clock = Clock()
    registry = SeederRegistry(stale_after_seconds=10, max_seeders=2, clock=clock)
    for n, name in enumerate(("a", "b", "c")):
        clock.now += 1
        registry.record(seeder_report(name, f"10.0.0.{n + 1}:7000"), "10.0.0.1")
    assert [s.report.seeder_id for s in registry.seeders()] == ["b", "c"]


def test_fetch_totals_add_up_per_version() -> None:
    log = FetchReportLog()
    log.record(fetch(method="swarm", outcome="ok", bytes_from_peers=90, bytes_from_origin=10))
    log.record(fetch(method="swarm", outcome="ok", bytes_from_peers=100, hash_failures=2))
    log.record(fetch(method="http", outcome="failed", exit_code=5, seconds=1.5))
    totals = log.totals("img", "1")
    assert totals.reports == 3
    assert totals.outcomes == {("swarm", "ok"): 2, ("http", "failed"): 1}
    assert (totals.bytes_from_peers, totals.bytes_from_origin, totals.hash_failures) == (190, 10, 2)
    assert totals.count(outcome="ok") == 2 and totals.count(outcome="failed", method="swarm") == 0
    assert log.totals("img", "2").reports == 0


def test_summary_joins_tracker_origin_seeders_and_hosts(tmp_path: Path) -> None:
    catalog = SqliteCatalog(tmp_path / "catalog.sqlite")
    rec = record("1", ref("aa" * 20, "bb" * 32))
    catalog.add_version(rec)
    state = build_swarm_state(DistributorSettings(data_dir=tmp_path), catalog)
    q = b"info_hash=" + b"%aa" * 20 + b"&peer_id=" + b"p" * 20 + b"&port=1&left=0&event=completed"
    state.tracker.announce(q, "10.0.0.1")
    state.seeders.record(
        seeder_report(uploaded_bytes=500, hash_failures=1, num_peers=3), "10.0.0.9"
    )
    state.fetch_reports.record(
        fetch(method="swarm", outcome="ok", bytes_from_peers=7, hash_failures=2)
    )
    origin = OriginStats()
    origin.record_request(rec.sha256)
    origin.record_bytes(rec.sha256, 4096)
    health = swarm_health(catalog, state, origin)
    (version,) = health.versions
    assert (version.tracker.seeders, version.tracker.completed) == (1, 1)
    assert (version.origin_bytes_sent, version.origin_requests) == (4096, 1)
    assert (version.bytes_from_peers, version.hash_failures) == (7, 3)
    assert version.info_hash_v1 == "aa" * 20
    assert [(s.seeder_id, s.uploaded_bytes, s.num_peers) for s in version.seeders] == [
        ("s1", 500, 3)
    ]
    assert version.fetches.by_method == {"swarm": {"ok": 1, "failed": 0}}
    assert [s.endpoint for s in health.seeders] == ["10.0.0.9:7000"]


def test_the_dashboard_shows_each_patch_swarm_in_its_version() -> None:
    patch = PatchHealth(
        from_version="1",
        sha256="d" * 64,
        size=4096,
        tracker=TrackerCounts(seeders=2, leechers=3, completed=4),
        origin_bytes_sent=512,
    )
    version = VersionHealth(
        name="img", version="2", sha256="e" * 64, size=1 << 20, tracker=TrackerCounts(seeders=7)
    )
    health = SwarmHealth(
        generated="2026-01-01T00:00:00Z",
        tracker_interval_seconds=60,
        seeder_stale_after_seconds=60,
        versions=[version.model_copy(update={"patches": [patch]})],
        seeders=[],
    )
    page = render_dashboard(health)
    cells = MetricCells()
    cells.feed(page)
    shown = {metric: value for (ref, metric), value in cells.values.items() if ref == "img@2"}
    assert shown["seeders"] == "7"
    assert (shown["patch-seeders"], shown["patch-leechers"], shown["patch-completed"]) == (
        "2",
        "3",
        "4",
    )
    assert (shown["patch-size"], shown["patch-bytes-from-origin"]) == ("4096", "512")
    assert 'data-patch-from="1"' in page
