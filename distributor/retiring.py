"""Retiring a version: it is no longer listed nor served, and NAME@VERSION is never published
again (hosts may still hold its manifest; a new version is the way to change content).

What retiring stops, through the catalog that everything else reads: its manifest answers 404,
`latest` falls back to the previous version, the tracker stops answering for its torrent (once it
re-reads the catalog), seeders drop it at their next poll, swarm health no longer shows it, and
later versions no longer get a delta from it. What it does not do: delete content. The blob, its
torrent, chunks and patches stay in storage (other versions may share them; hosts mid-download
finish), until `distributor gc` finds no version needing them (`distributor.collecting`).
Error contract: `VersionNotFound` when the catalog never had NAME@VERSION; `InvalidName` for a
bad name or version; `CatalogError`.
"""

from __future__ import annotations

from distributor.catalog.base import Catalog, VersionRecord
from distributor.errors import VersionNotFound
from image_format.names import validate_name, validate_version
from image_format.timestamps import utc_timestamp


def retire_version(catalog: Catalog, name: str, version: str) -> VersionRecord:
    """Retire NAME@VERSION (again: nothing changes) and return its record, `retired` set."""
    validate_name(name)
    validate_version(version)
    record = catalog.retire_version(name, version, utc_timestamp())
    if record is None:
        raise VersionNotFound(name, version)
    return record
