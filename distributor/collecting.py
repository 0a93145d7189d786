"""Collecting the stored content no version needs any more (`distributor gc`).

Kept: what a version needs while it is listed, or retired less than `grace` ago (hosts may be
mid-download; seeders drop it at their next poll): its blob, its torrent, its chunk index and the
packs that index names (a format-1 index: the packs holding its chunks), its patches and their
torrents. Removed: every other blob, torrent and pack whose file is older than `grace` (a
retired version's content, a patch or pack only such versions named, a blob whose publish lost
a race). Before packs go, the chunk-location rows naming them move to a kept copy of the chunk
or go too, so no later publish reuses a removed pack. Left alone: staging files (each store
sweeps its own), the per-chunk files of an earlier release (`DATA/chunks/`), keys, the catalog.

It runs under the storage lock held exclusively (`distributor.storage.storage_lock`): publishes
wait for it, and it waits for running publishes. A manifest whose fields it does not know
(a newer schema) stops it before anything is removed: it cannot tell what that version needs.
A chunk index it cannot read keeps every pack this run (and says so).

Not responsible for retiring versions (`distributor.retiring`). Error contract:
`CollectionRefused` (carrying the version) for an unknown manifest schema, `StorageBusy`,
`StorageError`, `CatalogError`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distributor.catalog.base import Catalog, VersionRecord
from distributor.chunks.pack_store import PackStore
from distributor.errors import DistributorError, StorageError
from distributor.storage.blob_store import LocalBlobStore
from distributor.storage.storage_lock import StorageLock
from distributor.torrents.store import TorrentStore
from image_format.chunks import ChunkIndex, ChunkLocation
from image_format.chunks.errors import ChunkIndexError
from image_format.manifest import MANIFEST_SCHEMA_VERSION, Manifest
from image_format.timestamps import parse_utc_timestamp

DEFAULT_GRACE_SECONDS = 24 * 3600
LOCK_WAIT_SECONDS = 60.0


class CollectionRefused(DistributorError):
    """A version's manifest has fields this release does not know; nothing was removed."""

    code = "collection_refused"

    def __init__(self, name: str, version: str, reason: str) -> None:
        super().__init__(f"gc: cannot tell what {name}@{version} needs ({reason}); removed nothing")
        self.name = name
        self.version = version


@dataclass(frozen=True)
class ContentStores:
    """The stores a collection reads and removes from, and the lock it holds."""

    blobs: LocalBlobStore
    torrents: TorrentStore
    packs: PackStore
    lock: StorageLock


@dataclass(frozen=True)
class Removal:
    kind: str
    """"blob", "torrent" or "pack"."""
    digest: str
    size: int


@dataclass
class _Needed:
    blobs: set[str] = field(default_factory=set)
    torrents: set[str] = field(default_factory=set)
    packs: set[str] = field(default_factory=set)
    chunk_copies: dict[str, ChunkLocation] = field(default_factory=dict)
    unread_indexes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CollectionReport:
    """What a collection kept and removed (or, with `dry_run`, would remove)."""

    dry_run: bool
    needed_versions: int
    expired_versions: int
    removed: tuple[Removal, ...]
    location_rows_dropped: int
    packs_kept_unchecked: tuple[str, ...]
    """Versions whose chunk index could not be read: every pack was kept this run."""

    @property
    def removed_bytes(self) -> int:
        return sum(removal.size for removal in self.removed)

    def to_json(self) -> dict[str, Any]:
        counts = {kind: 0 for kind in ("blob", "torrent", "pack")}
        for removal in self.removed:
            counts[removal.kind] += 1
        return {
            "dry_run": self.dry_run,
            "needed_versions": self.needed_versions,
            "expired_versions": self.expired_versions,
            "removed": {f"{kind}s": count for kind, count in counts.items()},
            "removed_bytes": self.removed_bytes,
            "location_rows_dropped": self.location_rows_dropped,
            "packs_kept_unchecked": list(self.packs_kept_unchecked),
        }


def collect(
    stores: ContentStores,
    catalog: Catalog,
    *,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    dry_run: bool = False,
    lock_wait_seconds: float = LOCK_WAIT_SECONDS,
) -> CollectionReport:
    """Remove (or with `dry_run` only list) what no needed version uses; see the module."""
    with stores.lock.exclusive(lock_wait_seconds):
        now = time.time()
        records = catalog.every_version()
        needed_records = [r for r in records if _needed(r, now, grace_seconds)]
        needed = _Needed()
        for record in needed_records:
            _add_needs(record, stores, needed)
        removals = [
            *_unneeded("blob", stores.blobs.root, needed.blobs, now - grace_seconds),
            *_unneeded("torrent", stores.torrents.root, needed.torrents, now - grace_seconds),
        ]
        if not needed.unread_indexes:
            removals += _unneeded("pack", stores.packs.root, needed.packs, now - grace_seconds)
        dropped = 0
        if not dry_run:
            doomed_packs = {r.digest for r in removals if r.kind == "pack"}
            if doomed_packs:
                dropped = stores.packs.forget_packs(doomed_packs, needed.chunk_copies)
            for removal in sorted(
                removals, key=lambda r: ("pack", "torrent", "blob").index(r.kind)
            ):
                _remove(_path_of(removal, stores))
        return CollectionReport(
            dry_run=dry_run,
            needed_versions=len(needed_records),
            expired_versions=len(records) - len(needed_records),
            removed=tuple(removals),
            location_rows_dropped=dropped,
            packs_kept_unchecked=tuple(needed.unread_indexes),
        )


def _needed(record: VersionRecord, now: float, grace_seconds: float) -> bool:
    if record.retired is None:
        return True
    try:
        retired = parse_utc_timestamp(record.retired).timestamp()
    except ValueError:
        return True  # an unreadable date never makes content collectable
    return now - retired < grace_seconds


def _add_needs(record: VersionRecord, stores: ContentStores, needed: _Needed) -> None:
    label = f"{record.name}@{record.version}"
    try:
        signed = json.loads(record.envelope)["signed"]
        unknown = sorted(set(signed) - set(Manifest.model_fields))
        if unknown or signed.get("schema_version", 1) > MANIFEST_SCHEMA_VERSION:
            raise CollectionRefused(record.name, record.version, f"unknown fields {unknown}")
        manifest = Manifest.model_validate(signed)
    except CollectionRefused:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise CollectionRefused(record.name, record.version, f"manifest: {exc}") from exc
    needed.blobs.add(manifest.sha256)
    if manifest.torrent is not None:
        needed.torrents.add(manifest.torrent.sha256)
    for delta in manifest.deltas:
        needed.blobs.add(delta.sha256)
        if delta.torrent is not None:
            needed.torrents.add(delta.torrent.sha256)
    if manifest.chunk_index is not None:
        needed.blobs.add(manifest.chunk_index.sha256)
        try:
            data = stores.blobs.path(manifest.chunk_index.sha256).read_bytes()
            index = ChunkIndex.from_bytes(data)
        except (OSError, ChunkIndexError):
            needed.unread_indexes.append(label)
            return
        if index.packed:
            for span, location in index.located_spans():
                needed.packs.add(location.pack)
                needed.chunk_copies[span.chunk_id] = location
        else:
            ids = [span.chunk_id for span in index.spans if not span.is_zero]
            needed.packs.update(loc.pack for loc in stores.packs.locate_many(ids).values())


def _unneeded(kind: str, root: Path, needed: set[str], older_than: float) -> Iterator[Removal]:
    """Files `sha256/ab/<digest>` below `root` not in `needed` and last changed before
    `older_than` (staging files, whose names start with a dot, are never candidates)."""
    for path in sorted(root.glob("sha256/*/*")):
        digest = path.name
        if digest.startswith(".") or len(digest) != 64 or digest in needed:
            continue
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise StorageError(str(path), f"cannot inspect: {exc}") from exc
        if stat.st_mtime < older_than:
            yield Removal(kind, digest, stat.st_size)


def _path_of(removal: Removal, stores: ContentStores) -> Path:
    if removal.kind == "blob":
        return stores.blobs.path(removal.digest)
    if removal.kind == "torrent":
        return stores.torrents.path(removal.digest)
    return stores.packs.path(removal.digest)


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise StorageError(str(path), f"cannot remove: {exc}") from exc
