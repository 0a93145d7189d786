"""The long-lived objects one server process shares between requests, built from settings.

Not responsible for HTTP (routers use these through `distributor.api.deps`). Error contract:
`build_services` raises `CatalogError`/`UnsupportedCatalogUrl` when the catalog cannot be opened;
a missing or unreadable signing key is not raised but recorded (`key_problem`), so the server can
still serve content while `/readiness` reports 503 and publishing answers 503.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from distributor.catalog import Catalog, open_catalog
from distributor.chunks.publish_step import pack_store, with_chunk_step
from distributor.content.origin_stats import OriginStats
from distributor.deltas.publish_step import with_delta_step
from distributor.errors import DistributorError
from distributor.health.state import SwarmState, build_swarm_state
from distributor.keys import load_signing_key
from distributor.publishing import Publisher
from distributor.settings import DistributorSettings
from distributor.storage.blob_store import LocalBlobStore
from distributor.storage.storage_lock import StorageLock
from distributor.torrents.publish_step import publish_steps, torrent_store
from image_format.errors import KeyFormatError


@dataclass
class Services:
    """What routers share: settings, catalog, blob store, origin counters, the publisher, and
    the swarm side (tracker, seeder and fetch reports; built from the settings and catalog).

    `publisher` is None when no signing key could be loaded (`key_problem` says why).
    """

    settings: DistributorSettings
    catalog: Catalog
    blob_store: LocalBlobStore
    origin_stats: OriginStats
    publisher: Publisher | None
    key_problem: str | None = None
    swarm: SwarmState = field(init=False)

    def __post_init__(self) -> None:
        self.swarm = build_swarm_state(self.settings, self.catalog)

    def close(self) -> None:
        self.catalog.close()

    def sweep_staging(self) -> list[Path]:
        """Remove the staging files of blobs, packs and torrents whose writer died (a crash or
        kill -9 mid-upload or mid-publish); files a live process is writing are never touched
        (`distributor.storage.staging`). Run at server start. Never raises."""
        removed = self.blob_store.sweep_staging()
        removed += pack_store(self.settings).sweep_staging()
        removed += torrent_store(self.settings).sweep_staging()
        return removed


def build_services(settings: DistributorSettings) -> Services:
    catalog = open_catalog(settings.effective_catalog_url)
    blob_store = LocalBlobStore(settings.blob_root)
    publisher: Publisher | None = None
    key_problem: str | None = None
    try:
        steps = with_delta_step(settings, catalog, blob_store, publish_steps(settings))
        steps = with_chunk_step(settings, blob_store, steps)
        publisher = Publisher(
            blob_store,
            catalog,
            load_signing_key(settings.data_dir),
            steps,
            lock=StorageLock(settings.data_dir),
        )
    except (DistributorError, KeyFormatError) as exc:
        key_problem = str(exc)
    return Services(settings, catalog, blob_store, OriginStats(), publisher, key_problem)
