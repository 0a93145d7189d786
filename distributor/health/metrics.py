"""Prometheus `/metrics`: a collector that reads the current swarm health on every scrape.

Metric names start with `distributor_`. Counters count since the server started. A fresh
`CollectorRegistry` per app, never the process-global one (tests run several apps). Not
responsible for HTTP. Raises what the health read raises (`CatalogError`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from distributor.content.origin_stats import OriginStats
from distributor.health.models import SwarmHealth

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_VERSION = ["name", "version"]


class SwarmHealthCollector(Collector):
    """Renders `SwarmHealth` and the origin counters as Prometheus metric families."""

    def __init__(self, health: Callable[[], SwarmHealth], origin: OriginStats) -> None:
        self._health = health
        self._origin = origin

    def collect(self) -> Iterator[Metric]:
        health = self._health()
        gauges = {
            key: GaugeMetricFamily(f"distributor_swarm_{key}", doc, labels=_VERSION)
            for key, doc in (("seeders", "complete peers"), ("leechers", "incomplete peers"))
        }
        completed = CounterMetricFamily(
            "distributor_swarm_completed", "completed events", labels=_VERSION
        )
        peer_bytes = CounterMetricFamily(
            "distributor_swarm_peer_bytes",
            "bytes peers announced, by direction",
            labels=[*_VERSION, "direction"],
        )
        fetches = CounterMetricFamily(
            "distributor_fetch_reports",
            "hosts' fetch reports",
            labels=[*_VERSION, "method", "outcome"],
        )
        fetch_bytes = CounterMetricFamily(
            "distributor_fetch_bytes",
            "bytes hosts reported, by source",
            labels=[*_VERSION, "source"],
        )
        failures = CounterMetricFamily(
            "distributor_hash_failures",
            "hash failures, by reporter",
            labels=[*_VERSION, "reporter"],
        )
        for v in health.versions:
            ids = [v.name, v.version]
            gauges["seeders"].add_metric(ids, v.tracker.seeders)
            gauges["leechers"].add_metric(ids, v.tracker.leechers)
            completed.add_metric(ids, v.tracker.completed)
            peer_bytes.add_metric([*ids, "uploaded"], v.tracker.uploaded_bytes)
            peer_bytes.add_metric([*ids, "downloaded"], v.tracker.downloaded_bytes)
            for method, outcomes in v.fetches.by_method.items():
                for outcome, count in outcomes.items():
                    fetches.add_metric([*ids, method, outcome], count)
            fetch_bytes.add_metric([*ids, "peers"], v.fetches.bytes_from_peers)
            fetch_bytes.add_metric([*ids, "origin"], v.fetches.bytes_from_origin)
            fetch_bytes.add_metric([*ids, "mirrors"], v.fetches.bytes_from_mirrors)
            failures.add_metric([*ids, "host"], v.fetches.hash_failures)
            failures.add_metric([*ids, "seeder"], sum(s.hash_failures for s in v.seeders))
        yield from gauges.values()
        yield from (completed, peer_bytes, fetches, fetch_bytes, failures)
        yield from self._patches(health)
        yield from self._seeders(health)
        yield from self._origin_metrics()

    def _patches(self, health: SwarmHealth) -> Iterator[Metric]:
        """Each patch's own swarm, labelled with the version it makes and its base."""
        labels = [*_VERSION, "from_version"]
        seeders = GaugeMetricFamily(
            "distributor_patch_swarm_seeders", "complete peers of a patch", labels=labels
        )
        leechers = GaugeMetricFamily(
            "distributor_patch_swarm_leechers", "incomplete peers of a patch", labels=labels
        )
        completed = CounterMetricFamily(
            "distributor_patch_swarm_completed", "completed events of a patch", labels=labels
        )
        for v in health.versions:
            for patch in v.patches:
                ids = [v.name, v.version, patch.from_version]
                seeders.add_metric(ids, patch.tracker.seeders)
                leechers.add_metric(ids, patch.tracker.leechers)
                completed.add_metric(ids, patch.tracker.completed)
        yield from (seeders, leechers, completed)

    def _seeders(self, health: SwarmHealth) -> Iterator[Metric]:
        up = GaugeMetricFamily("distributor_seeder_up", "1 if reported recently", labels=["seeder"])
        for seeder in health.seeders:
            up.add_metric([seeder.seeder_id], 0 if seeder.stale else 1)
        uploaded = GaugeMetricFamily(
            "distributor_seeder_uploaded_bytes",
            "bytes a seeder uploaded since it started",
            labels=["seeder", *_VERSION],
        )
        for v in health.versions:
            for row in v.seeders:
                uploaded.add_metric([row.seeder_id, v.name, v.version], row.uploaded_bytes)
        yield from (up, uploaded)

    def _origin_metrics(self) -> Iterator[Metric]:
        families = {
            key: CounterMetricFamily(f"distributor_origin_{key}", doc, labels=["digest"])
            for key, doc in (
                ("bytes_sent", "body bytes the origin sent (HTTP and web seeds)"),
                ("requests", "blob requests"),
                ("full_transfers", "whole-blob transfers"),
            )
        }
        for digest, counters in sorted(self._origin.snapshot().items()):
            for key, family in families.items():
                family.add_metric([digest], counters[key])
        yield from families.values()


def metrics_registry(health: Callable[[], SwarmHealth], origin: OriginStats) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SwarmHealthCollector(health, origin))
    return registry


def render_metrics(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
