"""`distributor publish`: publish a local file into a data directory's catalog and blob store.

Works while a server runs on the same data directory (SQLite WAL): the server sees the version at
once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

from distributor.catalog import open_catalog
from distributor.chunks.publish_step import with_chunk_step
from distributor.deltas.publish_step import with_delta_step
from distributor.keys import load_signing_key
from distributor.publishing import Publisher
from distributor.settings import DistributorSettings
from distributor.storage.blob_store import LocalBlobStore
from distributor.storage.storage_lock import StorageLock
from distributor.torrents.publish_step import TorrentFormat, publish_steps
from image_format.manifest import ContentKind
from image_format.names import validate_name, validate_version


def publish(
    settings: DistributorSettings,
    name: str,
    version: str,
    file: Path,
    kind: ContentKind,
    *,
    as_json: bool,
    out: TextIO,
    torrent_format: TorrentFormat | None = None,
) -> int:
    validate_name(name)
    validate_version(version)
    key = load_signing_key(settings.data_dir)
    catalog = open_catalog(settings.effective_catalog_url)
    try:
        blobs = LocalBlobStore(settings.blob_root)
        steps = publish_steps(settings, torrent_format=torrent_format)
        steps = with_delta_step(settings, catalog, blobs, steps)
        steps = with_chunk_step(settings, blobs, steps)
        publisher = Publisher(blobs, catalog, key, steps, lock=StorageLock(settings.data_dir))
        result = publisher.publish_file(file, name, version, kind)
    finally:
        catalog.close()
    record = result.record
    if as_json:
        summary = {
            "name": record.name,
            "version": record.version,
            "kind": record.kind,
            "sha256": record.sha256,
            "size": record.size,
            "created": record.created,
            "new": result.created,
            "torrent": json.loads(record.envelope).get("signed", {}).get("torrent"),
            "deltas": json.loads(record.envelope).get("signed", {}).get("deltas", []),
        }
        print(json.dumps(summary), file=out)
    else:
        state = "published" if result.created else "already published (same content)"
        print(
            f"{state}: {record.name}@{record.version} {record.kind} sha256:{record.sha256} "
            f"{record.size} bytes",
            file=out,
        )
    return 0
