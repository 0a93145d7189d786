"""`distributor gc`: remove the stored content no version needs any more (`distributor.collecting`).

Works while a server runs on the same data directory: publishes wait for it (and it for them).
"""

from __future__ import annotations

import json
from typing import TextIO

from distributor.catalog import open_catalog
from distributor.chunks.publish_step import pack_store
from distributor.collecting import collect
from distributor.collection_needs import ContentStores
from distributor.settings import DistributorSettings
from distributor.storage.blob_store import LocalBlobStore
from distributor.storage.storage_lock import StorageLock
from distributor.torrents.publish_step import torrent_store


def gc(
    settings: DistributorSettings,
    *,
    grace_hours: float,
    dry_run: bool,
    as_json: bool,
    out: TextIO,
) -> int:
    stores = ContentStores(
        blobs=LocalBlobStore(settings.blob_root),
        torrents=torrent_store(settings),
        packs=pack_store(settings),
        lock=StorageLock(settings.data_dir),
    )
    catalog = open_catalog(settings.effective_catalog_url, must_exist=True)
    try:
        report = collect(stores, catalog, grace_seconds=grace_hours * 3600, dry_run=dry_run)
    finally:
        catalog.close()
    if as_json:
        print(json.dumps(report.to_json()), file=out)
        return 0
    counts = report.counts()
    verb = "would remove" if dry_run else "removed"
    if dry_run:
        for removal in report.removed:
            print(f"would remove {removal.kind} {removal.digest} ({removal.size} bytes)", file=out)
    print(
        f"gc: {verb} {counts['blobs']} blobs, {counts['torrents']} torrents, {counts['packs']} "
        f"packs ({report.removed_bytes} bytes); kept what {report.needed_versions} versions "
        f"need ({report.expired_versions} retired more than {grace_hours:g} h ago need nothing)",
        file=out,
    )
    for version in report.packs_kept_unchecked:
        print(f"gc: kept every pack: the chunk index of {version} could not be read", file=out)
    return 0
