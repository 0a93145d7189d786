"""Joining the catalog, the tracker, the origin counters and the reports into `SwarmHealth`.

Per version: the tracker's swarm (shared by every version of one torrent), the origin's bytes for
the version's image blob, hosts' fetch reports, and each seeder's numbers for that version.
`bytes_from_peers` is what hosts reported receiving from peers; `hash_failures` adds seeders' and
hosts' reports. Not responsible for rendering. Error contract: `CatalogError` passes through.
"""

from __future__ import annotations

from distributor.catalog import Catalog
from distributor.catalog.base import VersionRecord
from distributor.content.origin_stats import OriginStats
from distributor.health.fetch_reports import FetchTotals
from distributor.health.models import (
    FetchOutcomes,
    PatchHealth,
    SeederHealth,
    SeederTorrentHealth,
    SwarmHealth,
    TrackerCounts,
    VersionHealth,
)
from distributor.health.seeders import SeenSeeder
from distributor.health.state import SwarmState
from distributor.tracker.torrent_index import torrents_of
from image_format.timestamps import utc_timestamp


def endpoint_text(endpoint: tuple[str, int]) -> str:
    """`10.0.0.1:6881` or `[2001:db8::1]:6881`."""
    host, port = endpoint
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _outcomes(totals: FetchTotals) -> FetchOutcomes:
    by_method: dict[str, dict[str, int]] = {}
    for (method, outcome), count in sorted(totals.outcomes.items()):
        by_method.setdefault(method, {"ok": 0, "failed": 0})[outcome] = count
    return FetchOutcomes(
        reports=totals.reports,
        ok=totals.count(outcome="ok"),
        failed=totals.count(outcome="failed"),
        by_method=by_method,
        bytes_from_peers=totals.bytes_from_peers,
        bytes_from_origin=totals.bytes_from_origin,
        bytes_from_mirrors=totals.bytes_from_mirrors,
        hash_failures=totals.hash_failures,
        seconds_total=totals.seconds_total,
    )


def _seeder_rows(
    record: VersionRecord, seeders: list[SeenSeeder], patch_from: str | None = None
) -> list[SeederTorrentHealth]:
    """The seeders' rows for the version's image, or with `patch_from` for that patch."""
    rows = []
    wanted = (record.name, record.version, patch_from)
    for seen in seeders:
        for torrent in seen.report.torrents:
            if (torrent.name, torrent.version, torrent.patch_from) == wanted:
                rows.append(
                    SeederTorrentHealth(
                        seeder_id=seen.report.seeder_id,
                        stale=seen.stale,
                        state=torrent.state,
                        uploaded_bytes=torrent.uploaded_bytes,
                        num_peers=torrent.num_peers,
                        hash_failures=torrent.hash_failures,
                    )
                )
    return rows


def _patches(
    record: VersionRecord, swarm: SwarmState, origin: OriginStats, seeders: list[SeenSeeder]
) -> list[PatchHealth]:
    patches = []
    for delta in torrents_of(record).deltas:
        if delta.torrent is None:
            continue
        entry = swarm.tracker.torrents.for_patch(record.name, record.version, delta.from_version)
        counts = TrackerCounts(**vars(swarm.tracker.stats(entry))) if entry else TrackerCounts()
        blob = origin.get(delta.sha256)
        patches.append(
            PatchHealth(
                from_version=delta.from_version,
                sha256=delta.sha256,
                size=delta.size,
                info_hash_v1=delta.torrent.info_hash_v1,
                info_hash_v2=delta.torrent.info_hash_v2,
                tracker=counts,
                origin_bytes_sent=blob.bytes_sent,
                origin_requests=blob.requests,
                seeders=_seeder_rows(record, seeders, delta.from_version),
            )
        )
    return patches


def _version(
    record: VersionRecord, swarm: SwarmState, origin: OriginStats, seeders: list[SeenSeeder]
) -> VersionHealth:
    entry = swarm.tracker.torrents.for_version(record.name, record.version)
    counts = TrackerCounts()
    if entry is not None:
        stats = swarm.tracker.stats(entry)
        counts = TrackerCounts(**vars(stats))
    ref = torrents_of(record).image
    blob = origin.get(record.sha256)
    fetches = _outcomes(swarm.fetch_reports.totals(record.name, record.version))
    seeder_rows = _seeder_rows(record, seeders)
    return VersionHealth(
        name=record.name,
        version=record.version,
        sha256=record.sha256,
        size=record.size,
        info_hash_v1=ref.info_hash_v1 if ref else None,
        info_hash_v2=ref.info_hash_v2 if ref else None,
        tracker=counts,
        origin_bytes_sent=blob.bytes_sent,
        origin_requests=blob.requests,
        origin_full_transfers=blob.full_transfers,
        bytes_from_peers=fetches.bytes_from_peers,
        hash_failures=fetches.hash_failures + sum(row.hash_failures for row in seeder_rows),
        seeders=seeder_rows,
        fetches=fetches,
        patches=_patches(record, swarm, origin, seeders),
    )


def swarm_health(
    catalog: Catalog, swarm: SwarmState, origin: OriginStats, *, now: float | None = None
) -> SwarmHealth:
    seeders = swarm.seeders.seeders()
    versions = [
        _version(record, swarm, origin, seeders)
        for records in catalog.list_images().values()
        for record in records
    ]
    clock_now = swarm.seeders.clock() if now is None else now
    return SwarmHealth(
        generated=utc_timestamp(),
        tracker_interval_seconds=swarm.tracker.config.interval_seconds,
        seeder_stale_after_seconds=swarm.seeders.stale_after_seconds,
        versions=versions,
        seeders=[
            SeederHealth(
                seeder_id=seen.report.seeder_id,
                listen_address=seen.report.listen_address,
                endpoint=endpoint_text(seen.endpoint),
                stale=seen.stale,
                last_report=seen.received_utc,
                seconds_since_report=round(max(0.0, clock_now - seen.received_at), 3),
                torrents=len(seen.report.torrents),
            )
            for seen in seeders
        ],
    )
