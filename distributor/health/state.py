"""The swarm side of one server process: tracker, seeder registry and fetch report log.

Not responsible for HTTP. `build_swarm_state` reads settings once; nothing here reads the
environment. Error contract: none raised (the catalog is only read on the first lookup).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from distributor.catalog import Catalog
from distributor.health.fetch_reports import FetchReportLog
from distributor.health.seeders import SeederRegistry
from distributor.settings import DistributorSettings
from distributor.tracker.config import TrackerConfig
from distributor.tracker.service import Tracker
from distributor.tracker.torrent_index import CatalogTorrentIndex


@dataclass
class SwarmState:
    """What the tracker and swarm health routes share."""

    tracker: Tracker
    seeders: SeederRegistry
    fetch_reports: FetchReportLog


def tracker_config(settings: DistributorSettings) -> TrackerConfig:
    return TrackerConfig(
        interval_seconds=settings.tracker_interval_seconds,
        min_interval_seconds=settings.tracker_min_interval_seconds,
        client_min_announce_seconds=settings.tracker_client_min_announce_seconds,
        peer_grace_seconds=settings.tracker_peer_grace_seconds,
        numwant_default=settings.tracker_numwant_default,
        numwant_max=settings.tracker_numwant_max,
        max_peers_per_swarm=settings.tracker_max_peers_per_swarm,
        max_peers_per_address=settings.tracker_max_peers_per_address,
        ip_override_networks=tuple(settings.tracker_ip_override_networks),
        catalog_refresh_min_seconds=settings.tracker_catalog_refresh_min_seconds,
    )


def build_swarm_state(
    settings: DistributorSettings,
    catalog: Catalog,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> SwarmState:
    config = tracker_config(settings)
    seeders = SeederRegistry(stale_after_seconds=settings.seeder_report_stale_seconds, clock=clock)
    index = CatalogTorrentIndex(
        catalog, refresh_min_seconds=config.catalog_refresh_min_seconds, clock=clock
    )
    tracker = Tracker(index, config, seeders=seeders, clock=clock)
    return SwarmState(tracker, seeders, FetchReportLog())
